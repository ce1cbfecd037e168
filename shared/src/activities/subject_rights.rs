//! A contact's activities under data-subject requests (S1.2): their export, and their
//! erasure — an activity about the contact alone is removed for good (record, audit trail,
//! list entries, stored files); one shared with other contacts loses the contact's link and
//! addresses and keeps the rest.

use super::{Activities, Activity, ActivityKind, ActivityPatch};
use crate::audit::AUDIT_SK_PREFIX;
use crate::records::keys::record_pk;
use crate::records::{Kind, RecordQuery, RecordStore};
use crate::store::Item;
use crate::store::Query;
use crate::{Caller, CrmError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Map, json};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Every activity linked to `contact` that the caller may see, newest first, whole.
pub async fn of_contact(
    activities: &Activities,
    caller: &Caller,
    contact: Uuid,
) -> Result<Vec<Activity>, CrmError> {
    let params = BTreeMap::from([
        ("contact".to_string(), contact.to_string()),
        ("sort".to_string(), "-occurred_at".to_string()),
    ]);
    let query = RecordQuery::parse(ActivityKind::schema(), &params)?;
    activities.list_whole(caller, &query).await
}

/// Erases the contact from its activities (the caller may erase: owners and admins see all);
/// returns the activities removed for good, whose stored files and messages the caller
/// removes. Safe to repeat: what is done is not found again.
pub async fn erase_contact(
    activities: &Activities,
    caller: &Caller,
    contact: Uuid,
    addresses: &[String],
) -> Result<Vec<Activity>, CrmError> {
    let tenant = &caller.tenant_id;
    let table = &activities.ctx.table;
    let mut purged = Vec::new();
    for a in of_contact(activities, caller, contact).await? {
        let others: Vec<Uuid> = a
            .contact_ids()
            .iter()
            .copied()
            .filter(|c| *c != contact)
            .collect();
        let sent_by_them = a
            .fields
            .from
            .as_ref()
            .is_some_and(|f| addresses.contains(f));
        if others.is_empty() || sent_by_them {
            RecordStore::<ActivityKind>::new(table.clone())
                .purge(tenant, &a)
                .await?;
            purged.push(a);
        } else {
            let keep = |list: &Option<Vec<String>>| {
                list.as_ref().map(|l| {
                    l.iter()
                        .filter(|x| !addresses.contains(&x.to_lowercase()))
                        .cloned()
                        .collect::<Vec<_>>()
                })
            };
            let mut patch = Map::new();
            patch.insert("contact_ids".into(), json!(others));
            for (name, list) in [
                ("to", &a.fields.to),
                ("cc", &a.fields.cc),
                ("attendees", &a.fields.attendees),
            ] {
                if let Some(kept) = keep(list).filter(|k| Some(k) != list.as_ref()) {
                    patch.insert(name.into(), json!(kept));
                }
            }
            activities
                .patch(caller, a.id, ActivityPatch(patch), None, None)
                .await?;
            scrub_audit(activities, tenant, a.id, contact, addresses).await?;
        }
    }
    Ok(purged)
}

/// What the audit trail of an activity that stays says of the erased contact (its id, its
/// addresses) is replaced by `[erased]`.
async fn scrub_audit(
    activities: &Activities,
    tenant: &str,
    id: Uuid,
    contact: Uuid,
    addresses: &[String],
) -> Result<(), CrmError> {
    let table = &activities.ctx.table;
    let pk = record_pk(tenant, ActivityKind::schema(), id);
    let mut needles: Vec<String> = addresses.to_vec();
    needles.push(contact.to_string());
    for mut item in table
        .query_all(Query::partition(pk).prefix(AUDIT_SK_PREFIX))
        .await?
    {
        if scrub(&mut item, &needles) {
            table.put(item).await?;
        }
    }
    Ok(())
}

/// Replaces every needle in the item's strings; whether anything changed.
fn scrub(item: &mut Item, needles: &[String]) -> bool {
    fn walk(v: &mut AttributeValue, needles: &[String]) -> bool {
        match v {
            AttributeValue::S(s) => {
                let mut changed = false;
                for n in needles {
                    if s.contains(n.as_str()) {
                        *s = s.replace(n.as_str(), "[erased]");
                        changed = true;
                    }
                }
                changed
            }
            AttributeValue::L(l) => l.iter_mut().fold(false, |c, x| walk(x, needles) | c),
            AttributeValue::M(m) => m.values_mut().fold(false, |c, x| walk(x, needles) | c),
            _ => false,
        }
    }
    item.iter_mut()
        .filter(|(k, _)| k.as_str() != "PK" && k.as_str() != "SK")
        .fold(false, |c, (_, v)| walk(v, needles) | c)
}
