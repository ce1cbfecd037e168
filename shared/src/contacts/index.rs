//! The list and search index of contacts (S1.3, S1.4): items in the one table, written in the
//! same transaction as the contact, each carrying a summary of the contact so that a list page
//! reads one item per row and no contact item.
//!
//! Every live contact has one entry per *facet* it belongs to, in partition
//! `T#{t}#CX#{facet}` with sort key `{id}` (ids are UUIDv7, so that is creation order). The same
//! entry is also sorted by name (GSI3), last update (GSI4) and last contact (GSI5): one item,
//! four orders. Facets:
//!
//! | facet                         | who queries it                                   | shards |
//! |-------------------------------|--------------------------------------------------|--------|
//! | `all`                         | roles that see everything, no other filter       | 4      |
//! | `status:{s}`, `source:{s}`, `tag:{t}` | filters                                  | 4      |
//! | `client:{id}`                 | filter by client                                 | 1      |
//! | `o:` `t:` `tv:` `su:` `st:`   | visibility scopes of managers and members (see `visibility`), and the owner / team filters | 1 |
//!
//! Facets every import row lands in (`all`, the status and source of the import, a tag) are
//! split into 4 shards by id, so a large import spreads its writes over 4 partition keys; a
//! list merges the shards in order. Search entries live in `T#{t}#CX#q:{c}` (`c` the token's
//! first character) with sort key `{token}#{id}`: a prefix query is a `begins_with`.
//! Trashed contacts have no entries.

use super::Contact;
use crate::CrmError;
use crate::access::visibility::{Access, Principal, RecordKind, Visibility, record_scopes};
use crate::contacts::LifecycleStatus;
use crate::custom_fields::{Entity, entries};
use crate::table::{Item, n, s, to_item};
use crate::values::search as search_keys;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use uuid::Uuid;

pub const SHARDS: u8 = 4;
/// Name prefix kept in the name sort key.
const NAME_KEY_MAX: usize = 60;

/// What a list row shows, and what residual filters and visibility need, without reading the
/// contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContactSummary {
    pub id: Uuid,
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    pub lifecycle_status: LifecycleStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Uuid>,
    pub visibility: Visibility,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shared_with: Vec<Principal>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_ids: Vec<Uuid>,
    /// The import that created the contact, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_contacted_at: Option<DateTime<Utc>>,
    pub version: u64,
}

impl ContactSummary {
    pub fn of(c: &Contact) -> Self {
        let f = &c.fields;
        Self {
            id: c.id,
            display_name: c.display_name.clone(),
            first_name: f.first_name.clone(),
            last_name: f.last_name.clone(),
            email: c.email.clone(),
            phone: f
                .phones
                .first()
                .map(|p| p.e164.clone().unwrap_or_else(|| p.number.clone())),
            company: f.company.clone(),
            job_title: f.job_title.clone(),
            lifecycle_status: f.lifecycle_status,
            lead_source: f.lead_source.clone(),
            owner: f.owner.clone(),
            team: f.team,
            visibility: f.visibility,
            shared_with: c.shared_with.clone(),
            tags: f.tags.clone(),
            client_ids: c.client_ids.clone(),
            import_id: c.import_id,
            created_at: c.created_at,
            updated_at: c.updated_at,
            last_contacted_at: f.last_contacted_at,
            version: c.version,
        }
    }

    pub fn access(&self) -> Access<'_> {
        Access {
            kind: RecordKind::Contact,
            id: self.id,
            owner: self.owner.as_deref(),
            team: self.team,
            visibility: self.visibility,
            shared_with: &self.shared_with,
        }
    }
}

/// The fixed-width timestamp form used in sort keys (lexical order = time order).
pub fn time_key(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Sort key of the never-contacted: before every timestamp.
pub const NEVER: &str = "0";

pub fn name_key(c: &Contact) -> String {
    let folded: String = search_keys::fold(&c.display_name)
        .chars()
        .take(NAME_KEY_MAX)
        .collect();
    format!("{folded}#{}", c.id)
}

pub fn shard_of(id: Uuid) -> u8 {
    // The last byte of a UUIDv7 is random.
    id.as_bytes()[15] % SHARDS
}

pub fn facet_pk(tenant: &str, facet: &str) -> String {
    format!("T#{tenant}#CX#{facet}")
}

/// A sharded facet's partition for a contact.
fn sharded(facet: String, id: Uuid) -> String {
    format!("{facet}#{}", shard_of(id))
}

/// The partitions of a facet (one, or its shards).
pub fn facet_partitions(tenant: &str, facet: &str) -> Vec<String> {
    if is_sharded(facet) {
        (0..SHARDS)
            .map(|i| facet_pk(tenant, &format!("{facet}#{i}")))
            .collect()
    } else {
        vec![facet_pk(tenant, facet)]
    }
}

fn is_sharded(facet: &str) -> bool {
    facet == "all"
        || ["status:", "source:", "tag:"]
            .iter()
            .any(|p| facet.starts_with(p))
}

/// The facets of a contact (not yet sharded).
pub fn facets(c: &Contact) -> Vec<String> {
    let f = &c.fields;
    let mut out = vec![
        "all".to_string(),
        format!("status:{}", f.lifecycle_status.as_str()),
    ];
    if let Some(src) = &f.lead_source {
        out.push(format!("source:{src}"));
    }
    for tag in &f.tags {
        out.push(format!("tag:{}", super::tag_key(tag)));
    }
    for client in &c.client_ids {
        out.push(format!("client:{client}"));
    }
    out.extend(record_scopes(&c.access()));
    out
}

/// The search tokens of a contact: its names, email addresses, company and phone digits.
pub fn tokens(c: &Contact) -> Vec<String> {
    let f = &c.fields;
    let mut set = BTreeSet::new();
    for text in [
        Some(c.display_name.as_str()),
        f.first_name.as_deref(),
        f.last_name.as_deref(),
        f.company.as_deref(),
    ]
    .into_iter()
    .flatten()
    {
        set.extend(search_keys::tokens(text));
    }
    for e in &f.emails {
        set.extend(search_keys::email_tokens(&e.address));
    }
    set.into_iter()
        .filter(|t| !t.is_empty() && !t.contains('#'))
        .collect()
}

/// The primary keys (PK, SK) of every index entry of a contact; none while it is trashed.
pub fn entry_keys(tenant: &str, c: &Contact) -> Vec<(String, String)> {
    if c.deleted_at.is_some() {
        return Vec::new();
    }
    let mut keys: Vec<(String, String)> = facets(c)
        .into_iter()
        .map(|facet| {
            let facet = if is_sharded(&facet) {
                sharded(facet, c.id)
            } else {
                facet
            };
            (facet_pk(tenant, &facet), c.id.to_string())
        })
        .collect();
    for token in tokens(c) {
        let first: String = token.chars().take(1).collect();
        keys.push((
            facet_pk(tenant, &format!("q:{first}")),
            format!("{token}#{}", c.id),
        ));
    }
    // Custom field values (S3.5): one entry per indexed term, see `custom_fields::entries`.
    for k in entries::entry_keys(tenant, Entity::Contact, c.id, &c.custom_terms) {
        keys.push((k.pk, k.sk));
    }
    keys.sort();
    keys.dedup();
    keys
}

/// The field key of a custom field entry's partition (`…#CF#contact#{key}#{shard}`).
fn custom_field_of(pk: &str) -> Option<&str> {
    let (_, rest) = pk.rsplit_once("#CF#contact#")?;
    rest.rsplit_once('#').map(|(key, _)| key)
}

/// The stored entry for one of `entry_keys`.
pub fn entry_item(c: &Contact, pk: &str, sk: &str) -> Result<Item, CrmError> {
    let summary = ContactSummary::of(c);
    let mut attrs = crate::table::key(pk, sk);
    attrs.insert("entity".into(), s("contact_index"));
    if let Some(field) = custom_field_of(pk) {
        // A custom field value entry: the field's value and terms besides the summary.
        let value = c.custom_fields.get(field).ok_or_else(|| {
            CrmError::Internal(format!("no value of {field} for its index entry"))
        })?;
        let terms = c.custom_terms.get(field).cloned().unwrap_or_default();
        attrs.extend(entries::entry_attributes(c.id, field, value, &terms)?);
    } else if sk.contains('#') {
        // A search entry: its tokens let a reader skip the contact's other matching tokens.
        let toks: Vec<_> = tokens(c).into_iter().map(s).collect();
        attrs.insert(
            "tokens".into(),
            aws_sdk_dynamodb::types::AttributeValue::L(toks),
        );
    } else {
        attrs.insert("GSI3PK".into(), s(pk));
        attrs.insert("GSI3SK".into(), s(name_key(c)));
        attrs.insert("GSI4PK".into(), s(pk));
        attrs.insert(
            "GSI4SK".into(),
            s(format!("{}#{}", time_key(c.updated_at), c.id)),
        );
        attrs.insert("GSI5PK".into(), s(pk));
        let contacted = c
            .fields
            .last_contacted_at
            .map_or_else(|| NEVER.to_string(), time_key);
        attrs.insert("GSI5SK".into(), s(format!("{contacted}#{}", c.id)));
    }
    attrs.insert("v".into(), n(c.version));
    to_item(&summary, attrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::{ContactFields, NewContact};

    fn contact(tags: &[&str]) -> Contact {
        let fields = ContactFields::validate(NewContact {
            first_name: Some("Jürgen".into()),
            last_name: Some("Müller".into()),
            email: Some("jm@example.de".into()),
            tags: Some(tags.iter().map(|t| t.to_string()).collect()),
            owner: Some("u1".into()),
            ..Default::default()
        })
        .unwrap();
        Contact::new(fields, "u1", None)
    }

    #[test]
    fn s1_3_every_contact_is_in_all_and_its_facets() {
        let c = contact(&["VIP"]);
        let keys = entry_keys("t1", &c);
        let shard = shard_of(c.id);
        assert!(keys.contains(&(format!("T#t1#CX#all#{shard}"), c.id.to_string())));
        assert!(keys.contains(&(format!("T#t1#CX#tag:vip#{shard}"), c.id.to_string())));
        assert!(keys.contains(&(format!("T#t1#CX#status:lead#{shard}"), c.id.to_string())));
        assert!(keys.contains(&("T#t1#CX#o:u1".to_string(), c.id.to_string())));
        assert!(
            keys.iter()
                .any(|(pk, sk)| pk == "T#t1#CX#q:m" && sk.starts_with("muller#"))
        );
        let trashed = Contact {
            deleted_at: Some(crate::values::now()),
            ..c
        };
        assert!(entry_keys("t1", &trashed).is_empty());
    }
}
