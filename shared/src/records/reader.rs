//! Lists (S1.3, S1.4, S3.5): a plan ([`super::plan`]) read through the storage port, with
//! no Scan. Each phase's streams are merged in position order; each entry is accepted or not
//! by what it carries (its record's facets, sort values, tokens, summary), and custom fields
//! the driver does not decide are checked on the records' stored values, one BatchGetItem
//! per page of candidates.
//!
//! Cost: a request reads what its page needs plus a little look-ahead per stream. Where
//! checks reject entries it stops after `read_budget(limit)` items and returns what it has
//! with a cursor (a short page, even an empty one, can have a next one), so no request reads
//! more than that, whatever the tenant's size. A cursor is bound to the tenant, the query and
//! the caller.

mod merge;

use super::entries::TOKENS;
use super::kind::{Kind, Record};
use super::plan::{CustomQuery, plan};
use super::query::{Order, RecordQuery};
use super::service::Records;
use crate::custom_fields::filter::{FieldSort, resolve, visible_definition};
use crate::store::cursor::{ListQuery, Page};
use crate::store::item::{string_list, text};
use crate::store::{Item, s};
use crate::values::search;
use crate::{Caller, CrmError, Role};
use merge::{Next, Run};

/// Most items one list request reads before it answers with what it has (and a cursor).
pub fn read_budget(limit: i32) -> usize {
    (limit as usize * 4).max(200)
}

/// Reads counted while answering one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadStats {
    pub requests: usize,
    pub items_read: usize,
}

impl<K: Kind> Records<K> {
    /// Resolves the `cf.*` parameters and `sort=cf.*` against the caller's visible
    /// definitions; every bad one is named.
    pub async fn resolve_custom(
        &self,
        caller: &Caller,
        q: &RecordQuery,
    ) -> Result<CustomQuery, CrmError> {
        let custom_sort = match &q.sort.order {
            Order::Field(key) => Some(key.clone()),
            _ => None,
        };
        if q.custom.is_empty() && custom_sort.is_none() {
            return Ok(CustomQuery::default());
        }
        let defs = self
            .ctx
            .custom
            .definitions(caller, K::schema().entity())
            .await?;
        let mut errors = Vec::new();
        let mut out = CustomQuery::default();
        for raw in &q.custom {
            match resolve(&defs, caller, raw) {
                Ok(f) => out.filters.push(f),
                Err(e) => errors.extend(e),
            }
        }
        if let Some(key) = custom_sort {
            match visible_definition(&defs, caller, &key, "sort") {
                Ok(def) => {
                    out.sort = Some(FieldSort {
                        def: def.clone(),
                        descending: q.sort.descending,
                    })
                }
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(CrmError::Validation(errors))
        }
    }

    /// `GET /{plural}`: the records the caller may see that match, as summaries.
    pub async fn list(
        &self,
        caller: &Caller,
        q: &RecordQuery,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<Page<K::Summary>, CrmError> {
        Ok(self.list_with_stats(caller, q, limit, cursor).await?.0)
    }

    pub async fn list_with_stats(
        &self,
        caller: &Caller,
        q: &RecordQuery,
        limit: i32,
        cursor: Option<&str>,
    ) -> Result<(Page<K::Summary>, ReadStats), CrmError> {
        let tenant = &caller.tenant_id;
        let list = ListQuery::new(tenant, q.fingerprint(K::schema().name, &caller.user_id));
        let start = list.start(cursor)?;
        let custom = self.resolve_custom(caller, q).await?;
        if caller.role == Role::Portal {
            // A portal user's list holds their own record at most.
            let own = match start {
                Some(_) => None,
                None => self.portal_record(caller, q, &custom).await?,
            };
            let stats = ReadStats {
                requests: 1,
                items_read: 1,
            };
            return Ok((list.page(own.into_iter().collect(), None), stats));
        }
        let plan = plan(tenant, K::schema(), caller, q, &custom);
        let (mut phase, mut after) = match &start {
            Some(k) => (
                text(k, "phase")
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0usize),
                text(k, "pos").map(str::to_string),
            ),
            None => (0, None),
        };
        let mut run = Run {
            records: self,
            caller,
            plan: &plan,
            stats: ReadStats::default(),
        };
        let limit = limit as usize;
        let budget = read_budget(limit as i32);
        let mut out = Vec::new();
        while phase < plan.phases.len() {
            let (items, next) = run
                .phase(
                    &plan.phases[phase],
                    after.as_deref(),
                    limit - out.len(),
                    budget,
                )
                .await?;
            out.extend(items);
            match next {
                // Full, or out of budget: continue here.
                Next::After(pos) => {
                    let key = Item::from([
                        ("phase".to_string(), s(phase.to_string())),
                        ("pos".to_string(), s(pos)),
                    ]);
                    return Ok((list.page(out, Some(key)), run.stats));
                }
                Next::Start => {
                    let key = Item::from([("phase".to_string(), s(phase.to_string()))]);
                    return Ok((list.page(out, Some(key)), run.stats));
                }
                Next::Done => {
                    phase += 1;
                    after = None;
                    if out.len() == limit || run.stats.items_read >= budget {
                        let more = phase < plan.phases.len();
                        let key =
                            more.then(|| Item::from([("phase".to_string(), s(phase.to_string()))]));
                        return Ok((list.page(out, key), run.stats));
                    }
                }
            }
        }
        Ok((list.page(out, None), run.stats))
    }

    async fn portal_record(
        &self,
        caller: &Caller,
        q: &RecordQuery,
        custom: &CustomQuery,
    ) -> Result<Option<K::Summary>, CrmError> {
        let own = match K::schema().portal {
            crate::access::visibility::PortalView::OwnContact => caller.portal_contact_id,
            crate::access::visibility::PortalView::OwnClient => caller.portal_client_id,
            crate::access::visibility::PortalView::Nothing => None,
        };
        let Some(id) = own else { return Ok(None) };
        let Some(record) = self
            .find(caller, id)
            .await?
            .filter(|r| r.deleted_at().is_none())
        else {
            return Ok(None);
        };
        if !custom
            .filters
            .iter()
            .all(|f| f.accepts(record.custom_fields().get(&f.def.key)))
        {
            return Ok(None);
        }
        // The record's own entry answers the other filters as a list would.
        let entries = super::entries::entries::<K>(&caller.tenant_id, &record)?;
        let Some(entry) = entries.first() else {
            return Ok(None);
        };
        let plan = plan(
            &caller.tenant_id,
            K::schema(),
            &Caller {
                role: Role::Admin,
                ..caller.clone()
            },
            q,
            custom,
        );
        let phase = &plan.phases[0];
        let run = Run {
            records: self,
            caller,
            plan: &plan,
            stats: ReadStats::default(),
        };
        if !run.entry_passes(phase, &entry.item)
            || !search::matches_all(
                &plan.words,
                &string_list(&entry.item, TOKENS).unwrap_or_default(),
            )
        {
            return Ok(None);
        }
        Ok(Some(K::summary(&record)))
    }
}
