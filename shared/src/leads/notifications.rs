//! In-app notifications per user (S8.4): newest first, unread ones also in an index of their
//! own so an unread list reads only unread items; marked read one by one or all at once. A
//! user's preferences say whether a new lead also comes by email.
//!
//! Items: notification `T#{t}#NOTIFY#{user}` / `N#{uuidv7}` (GSI1 `T#{t}#NOTIFY#{user}#UNREAD` /
//! `N#{uuidv7}` while unread); preferences `T#{t}#NOTIFY#{user}` / `PREFS`.

use crate::pagination::Page;
use crate::store::cursor::ListQuery;
use crate::store::{Condition, Query, Table, WriteError, from_item, key, s, to_item};
use crate::{Caller, CrmError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const UNREAD_INDEX: &str = "GSI1";
const PREFS_SK: &str = "PREFS";

fn user_pk(tenant: &str, user: &str) -> String {
    format!("T#{tenant}#NOTIFY#{user}")
}

fn unread_pk(tenant: &str, user: &str) -> String {
    format!("{}#UNREAD", user_pk(tenant, user))
}

fn about_pk(tenant: &str, contact: Uuid) -> String {
    format!("T#{tenant}#NOTIFYABOUT#{contact}")
}

/// Every notification about `contact`, whoever it went to (for the contact's export).
pub async fn about_contact(
    table: &Table,
    tenant: &str,
    contact: Uuid,
) -> Result<Vec<Notification>, CrmError> {
    table
        .query_all(crate::store::Query::index(
            "GSI2",
            about_pk(tenant, contact),
        ))
        .await?
        .into_iter()
        .map(from_item)
        .collect()
}

/// Removes every notification about `contact` (its erasure).
pub async fn forget_contact(table: &Table, tenant: &str, contact: Uuid) -> Result<(), CrmError> {
    let keys = table
        .query_all(crate::store::Query::index(
            "GSI2",
            about_pk(tenant, contact),
        ))
        .await?
        .iter()
        .filter_map(crate::store::Key::of)
        .collect();
    table.delete_many(keys).await
}

fn sk(id: Uuid) -> String {
    format!("N#{id}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A new lead the user owns or their team got.
    NewLead,
    /// An import of the user's ended (one per import, whatever its rows).
    ImportSummary,
    /// A workflow's `notify` step.
    Workflow,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notification {
    pub id: Uuid,
    pub kind: NotificationKind,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_id: Option<Uuid>,
    /// Import summaries: the contacts it created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<u64>,
    pub created_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_at: Option<DateTime<Utc>>,
}

/// A user's notification preferences.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct NotificationPreferences {
    /// Also send an email for each new lead (to the user's address in the directory).
    #[serde(default)]
    pub email_new_leads: bool,
}

fn item(tenant: &str, user: &str, n: &Notification) -> Result<crate::store::Item, CrmError> {
    let mut keys = key(user_pk(tenant, user), sk(n.id));
    keys.insert("entity".into(), s("notification"));
    // Found from the contact it is about when the contact is erased or exported (S1.2).
    if let Some(contact) = n.contact_id {
        keys.insert("GSI2PK".into(), s(about_pk(tenant, contact)));
        keys.insert("GSI2SK".into(), s(sk(n.id)));
    }
    if n.read_at.is_none() {
        keys.insert(format!("{UNREAD_INDEX}PK"), s(unread_pk(tenant, user)));
        keys.insert(format!("{UNREAD_INDEX}SK"), s(sk(n.id)));
    }
    to_item(n, keys)
}

/// Stores `n` for `user` unless it is there already (ids derive from what they announce, so a
/// redelivered event notifies once): whether it is new.
pub async fn deliver(
    table: &Table,
    tenant: &str,
    user: &str,
    n: &Notification,
) -> Result<bool, CrmError> {
    match table
        .put_if(item(tenant, user, n)?, Condition::NotExists)
        .await
    {
        Ok(()) => Ok(true),
        Err(WriteError::ConditionFailed) => Ok(false),
        Err(WriteError::Other(e)) => Err(e),
    }
}

/// The caller's notifications, newest first (only unread ones with `unread_only`).
pub async fn list(
    table: &Table,
    caller: &Caller,
    unread_only: bool,
    limit: i32,
    cursor: Option<&str>,
) -> Result<Page<Notification>, CrmError> {
    let (t, u) = (&caller.tenant_id, &caller.user_id);
    let list = ListQuery::new(t, format!("notifications:{u}:{unread_only}"));
    let query = if unread_only {
        Query::index(UNREAD_INDEX, unread_pk(t, u))
    } else {
        Query::partition(user_pk(t, u))
    };
    let page = table
        .query(
            query
                .prefix("N#")
                .newest_first(true)
                .limit(limit)
                .start(list.start(cursor)?),
        )
        .await?;
    Ok(list.page(page.decode()?, page.last_key))
}

/// Marks one of the caller's notifications read (404 for anyone else's).
pub async fn mark_read(table: &Table, caller: &Caller, id: Uuid) -> Result<Notification, CrmError> {
    let (t, u) = (&caller.tenant_id, &caller.user_id);
    let Some(found) = table.get(user_pk(t, u), &sk(id)).await? else {
        return Err(CrmError::NotFound);
    };
    let mut n: Notification = from_item(found)?;
    if n.read_at.is_none() {
        n.read_at = Some(crate::values::now());
        table.put(item(t, u, &n)?).await?;
    }
    Ok(n)
}

/// Marks every unread notification of the caller read: how many were.
pub async fn mark_all_read(table: &Table, caller: &Caller) -> Result<usize, CrmError> {
    let (t, u) = (&caller.tenant_id, &caller.user_id);
    let unread: Vec<Notification> = table
        .query_all(Query::index(UNREAD_INDEX, unread_pk(t, u)))
        .await?
        .into_iter()
        .map(from_item)
        .collect::<Result<_, _>>()?;
    let now = crate::values::now();
    let items = unread
        .iter()
        .map(|n| {
            let read = Notification {
                read_at: Some(now),
                ..n.clone()
            };
            item(t, u, &read)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let count = items.len();
    table.put_many(items).await?;
    Ok(count)
}

pub async fn preferences(
    table: &Table,
    tenant: &str,
    user: &str,
) -> Result<NotificationPreferences, CrmError> {
    Ok(table
        .get(user_pk(tenant, user), PREFS_SK)
        .await?
        .map(from_item)
        .transpose()?
        .unwrap_or_default())
}

pub async fn put_preferences(
    table: &Table,
    caller: &Caller,
    prefs: NotificationPreferences,
) -> Result<NotificationPreferences, CrmError> {
    let keys = key(user_pk(&caller.tenant_id, &caller.user_id), PREFS_SK);
    table.put(to_item(&prefs, keys)?).await?;
    Ok(prefs)
}
