//! Reads the value entries of one field ([`super::entries`]) in term order, merged across the
//! field's shards and the filter's ranges, resuming after a cursor position. Lists of records
//! whose entries carry no summary (clients) are driven by it; contact lists merge their own
//! richer entries in `contacts::search`.

use super::filter::{Resume, TermRange};
use crate::CrmError;
use crate::errors::sdk_error;
use crate::table::{Item, Table, s};
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::VecDeque;

struct Stream {
    partition: String,
    range: TermRange,
    buffer: VecDeque<(String, Item)>,
    resume: Option<Item>,
    done: bool,
}

pub struct EntryReader<'a> {
    table: &'a Table,
    streams: Vec<Stream>,
    descending: bool,
    /// Items read so far (what DynamoDB charges for) and requests made.
    pub items_read: usize,
    pub requests: usize,
}

impl<'a> EntryReader<'a> {
    /// Every partition × range is one stream; `after` is the sort key the previous page ended
    /// at.
    pub fn new(
        table: &'a Table,
        partitions: &[String],
        ranges: &[TermRange],
        descending: bool,
        after: Option<&str>,
    ) -> Self {
        let mut streams = Vec::new();
        for partition in partitions {
            for range in ranges {
                let (resume, done) = match after.map(|pos| (pos, range.resume(pos, descending))) {
                    None | Some((_, Resume::FromStart)) => (None, false),
                    Some((_, Resume::Done)) => (None, true),
                    Some((pos, Resume::After)) => (
                        Some(crate::table::key(partition.clone(), pos.to_string())),
                        false,
                    ),
                };
                streams.push(Stream {
                    partition: partition.clone(),
                    range: range.clone(),
                    buffer: VecDeque::new(),
                    resume,
                    done,
                });
            }
        }
        Self {
            table,
            streams,
            descending,
            items_read: 0,
            requests: 0,
        }
    }

    /// Whether entries remain (buffered or unread).
    pub fn has_more(&self) -> bool {
        self.streams.iter().any(|s| !s.buffer.is_empty() || !s.done)
    }

    /// The next entry in order (its sort key and item); streams that ran dry read `chunk`
    /// more items first, concurrently.
    pub async fn next(&mut self, chunk: i32) -> Result<Option<(String, Item)>, CrmError> {
        let dry: Vec<usize> = (0..self.streams.len())
            .filter(|i| self.streams[*i].buffer.is_empty() && !self.streams[*i].done)
            .collect();
        if !dry.is_empty() {
            let reads = dry.iter().map(|i| self.read(*i, chunk));
            let results = futures::future::join_all(reads).await;
            for (i, result) in dry.iter().zip(results) {
                let (items, next) = result?;
                self.requests += 1;
                self.items_read += items.len();
                let stream = &mut self.streams[*i];
                stream.buffer.extend(items);
                stream.done = next.is_none();
                stream.resume = next;
            }
        }
        let desc = self.descending;
        let best = (0..self.streams.len())
            .filter(|i| !self.streams[*i].buffer.is_empty())
            .reduce(|a, b| {
                let (pa, pb) = (&self.streams[a].buffer[0].0, &self.streams[b].buffer[0].0);
                if (pb < pa) != desc && pb != pa { b } else { a }
            });
        Ok(best.and_then(|i| self.streams[i].buffer.pop_front()))
    }

    async fn read(
        &self,
        i: usize,
        limit: i32,
    ) -> Result<(Vec<(String, Item)>, Option<Item>), CrmError> {
        let stream = &self.streams[i];
        let mut q = self
            .table
            .client
            .query()
            .table_name(&self.table.name)
            .expression_attribute_names("#pk", "PK")
            .expression_attribute_names("#sk", "SK")
            .expression_attribute_values(":pk", s(&stream.partition))
            .scan_index_forward(!self.descending)
            .limit(limit.max(1))
            .set_exclusive_start_key(stream.resume.clone());
        q = match &stream.range {
            TermRange::Prefix(p) => q
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :p)")
                .expression_attribute_values(":p", s(p)),
            TermRange::Between(lo, hi) => q
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :lo AND :hi")
                .expression_attribute_values(":lo", s(lo))
                .expression_attribute_values(":hi", s(hi)),
        };
        let out = q
            .send()
            .await
            .map_err(|e| sdk_error("Query custom field entries", e))?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|item| {
                let pos = match item.get("SK") {
                    Some(AttributeValue::S(v)) => v.clone(),
                    _ => String::new(),
                };
                (pos, item)
            })
            .collect();
        Ok((items, out.last_evaluated_key))
    }
}
