//! What an activity touches (S8.5, S4.5): an outbound conversation or a meeting sets its
//! contacts' last contact and adds to their touch counts; any activity on a deal is the deal's
//! last activity (it stops the deal from rotting). Kept by the system, whoever logged the
//! activity, and once per activity: a redelivered cause or a retried call changes nothing twice.

use super::{Activities, Activity, ActivityType, Direction};
use crate::CrmError;
use crate::audit::AuditAction;
use crate::contacts::touches::{self, Touch};
use crate::contacts::{ContactKind, Contacts};
use crate::deals::{DealKind, Deals};
use crate::records::{Kind, Record, RecordStore, Records, next_version};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// The actor of changes the system makes on its own account.
pub const SYSTEM_ACTOR: &str = "system";
/// Attempts at a change that concurrent writes keep overtaking.
const ATTEMPTS: usize = 5;

/// Records what `a` touches: its contacts' last contact (touches only), its deal's last
/// activity. Safe to repeat.
pub async fn record(activities: &Activities, tenant: &str, a: &Activity) -> Result<(), CrmError> {
    if a.deleted_at.is_some() {
        return Ok(());
    }
    let ctx = activities.ctx.clone();
    // Inbound mail is a touch when the tenant says so.
    let inbound_mail =
        a.activity_type() == ActivityType::Email && a.fields.direction == Some(Direction::Inbound);
    let touch = a.is_touch()
        || (inbound_mail
            && crate::settings::SettingsStore::new(ctx.table.clone())
                .get(tenant)
                .await?
                .inbound_email_touches);
    if touch {
        let contacts: Contacts = Records::new(ctx.clone());
        for contact in a.contact_ids() {
            touch_contact(&contacts, tenant, *contact, a.occurred_at(), a.id).await?;
        }
    }
    if let Some(deal) = a.fields.deal_id {
        let deals: Deals = Records::new(ctx);
        deal_activity(&deals, tenant, deal, a.occurred_at()).await?;
    }
    Ok(())
}

/// Adds a touch at `at` by `by` (an activity, an outreach record) to a contact: its touches of
/// the last 90 days and its last contact (the latest touch). A contact in the trash or gone is
/// left alone.
pub async fn touch_contact(
    contacts: &Contacts,
    tenant: &str,
    contact: Uuid,
    at: DateTime<Utc>,
    by: Uuid,
) -> Result<(), CrmError> {
    system_change::<ContactKind>(contacts, tenant, contact, "touch", |c| {
        let kept = touches::add(&c.touches, Touch { at, by }, crate::values::now())?;
        c.touches = kept;
        let last = c.fields.last_contacted_at.map_or(at, |l| l.max(at));
        c.fields.last_contacted_at = Some(last);
        Some(())
    })
    .await
}

/// A deal's last activity moves forward to `at` (never back).
async fn deal_activity(
    deals: &Deals,
    tenant: &str,
    deal: Uuid,
    at: DateTime<Utc>,
) -> Result<(), CrmError> {
    system_change::<DealKind>(deals, tenant, deal, "activity", |d| {
        if d.last_activity_at.is_some_and(|l| l >= at) {
            return None;
        }
        d.last_activity_at = Some(at);
        Some(())
    })
    .await
}

/// Changes a live record as the system (no caller's permissions; an audit entry naming
/// `source`), retried when a concurrent write got there first. `change` returns `None` when
/// there is nothing to change.
async fn system_change<K: Kind>(
    records: &Records<K>,
    tenant: &str,
    id: Uuid,
    source: &str,
    change: impl Fn(&mut K::Record) -> Option<()>,
) -> Result<(), CrmError> {
    let store = RecordStore::<K>::new(records.ctx.table.clone());
    for _ in 0..ATTEMPTS {
        let Some(current) = store.get(tenant, id).await? else {
            return Ok(());
        };
        if current.deleted_at().is_some() {
            return Ok(());
        }
        let mut next = current.clone();
        if change(&mut next).is_none() {
            return Ok(());
        }
        let next = next_version(&next, SYSTEM_ACTOR);
        let audit = Records::<K>::audit(
            AuditAction::Updated,
            Some(&current),
            Some(&next),
            SYSTEM_ACTOR,
        )?
        .with_source(source);
        match records
            .replace(tenant, &current, &next, &audit, Vec::new())
            .await
        {
            Err(CrmError::PreconditionFailed) => continue,
            other => return other,
        }
    }
    Err(CrmError::Internal(format!(
        "{} {id} kept changing while its {source} was recorded",
        K::schema().name
    )))
}
