//! Data-subject requests (S1.2, GDPR): everything the CRM holds about one contact.
//! The contact's partition holds the record and its audit trail (C11); its workflow runs are
//! found through GSI2. The cost is the size of that contact's data, never the tenant's.

use crate::access::{Action, Policy, Subject};
use crate::activities::{self, Activity, ActivityType, Origin};
use crate::audit::AuditEntry;
use crate::catalog::Catalog;
use crate::contacts::{Contact, ContactKind, email_pk};
use crate::deals::{self, Deal};
use crate::inbox::{InboundMessage, InboundMessages, MailObjects, Threads};
use crate::leads::notifications::{self, Notification};
use crate::outreach::{Outreach, OutreachKind};
use crate::records::entries::entry_keys;
use crate::records::{Kind, keys::record_pk};
use crate::records::{RecordQuery, RecordStore, Records};
use crate::store::{Key, Query, from_item, key, s};
use crate::workflows::WorkflowRun;
use crate::workflows::run_pk;
use crate::{Caller, CrmError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

const PAGE: i32 = 200;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ContactExport {
    pub exported_at: DateTime<Utc>,
    pub contact: Contact,
    /// Every audit entry, oldest first.
    pub history: Vec<AuditEntry>,
    pub workflow_runs: Vec<WorkflowRun>,
    /// The deals the contact is on that the caller may see.
    pub deals: Vec<Deal>,
    /// The activities linked to the contact that the caller may see, newest first.
    pub activities: Vec<Activity>,
    /// The stored inbound messages logged on those activities (attachments by key).
    pub inbound_messages: Vec<InboundMessage>,
    /// The outreach to and from the contact that the caller may see.
    pub outreach: Vec<Outreach>,
    /// The notifications about the contact (a new lead), whoever they went to.
    pub notifications: Vec<Notification>,
}

/// Every live record of kind `K` linked to `contact` (facet `contact`) that the caller may
/// see, whole.
async fn linked<K: Kind>(
    records: &Records<K>,
    caller: &Caller,
    contact: Uuid,
) -> Result<Vec<K::Record>, CrmError> {
    let params = std::collections::BTreeMap::from([("contact".to_string(), contact.to_string())]);
    records
        .list_whole(caller, &RecordQuery::parse(K::schema(), &params)?)
        .await
}

/// The inbound messages stored for these activities.
async fn inbound_messages(
    catalog: &Catalog,
    tenant: &str,
    activities: &[Activity],
) -> Result<Vec<InboundMessage>, CrmError> {
    let messages = InboundMessages::new(catalog.table().clone());
    let mut out = Vec::new();
    for a in activities
        .iter()
        .filter(|a| a.origin == Origin::InboundEmail)
    {
        out.extend(messages.of_activity(tenant, a.id).await?);
    }
    Ok(out)
}

fn runs_pk(tenant: &str, contact: Uuid) -> String {
    format!("T#{tenant}#CONTACT#{contact}#RUNS")
}

/// `GET /contacts/{id}/export`.
pub async fn export_contact(
    catalog: &Catalog,
    caller: &Caller,
    id: Uuid,
) -> Result<ContactExport, CrmError> {
    let contacts = catalog.contacts();
    // Same visibility as reading the contact.
    let contact = contacts.get(caller, id).await?;
    let tenant = &caller.tenant_id;
    // The audit trail as the history route shows it to this caller: changes of custom fields
    // they may not see are left out (issue 14 item 3, API3).
    let mut history = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = contacts
            .history(caller, id, PAGE, cursor.as_deref())
            .await?;
        history.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    history.reverse();
    let workflow_runs = catalog
        .table()
        .query_all(Query::index("GSI2", runs_pk(tenant, id)))
        .await?
        .into_iter()
        .map(from_item)
        .collect::<Result<_, _>>()?;
    let deals = deals::deals_of_contact(&catalog.deals(), caller, id).await?;
    let activities =
        activities::subject_rights::of_contact(&catalog.activities(), caller, id).await?;
    let inbound_messages = inbound_messages(catalog, tenant, &activities).await?;
    let outreach = linked(&catalog.records::<OutreachKind>(), caller, id).await?;
    let notifications = notifications::about_contact(catalog.table(), tenant, id).await?;
    Ok(ContactExport {
        exported_at: crate::values::now(),
        contact,
        history,
        workflow_runs,
        deals,
        activities,
        inbound_messages,
        outreach,
        notifications,
    })
}

/// `POST /contacts/{id}/erase`: removes the contact and everything about them for good (GDPR
/// right to erasure): the record, its audit trail, its client links, its place on deals, its workflow runs with
/// their step records and enrollment markers, its email reservations, its list and search
/// entries, its activities (shared ones keep the others' part) with the stored messages and
/// attachments of those removed, its outreach, the notifications about it. What remains is one erasure marker without personal data (who erased, when).
/// Owners and admins only. The contact item goes last, so a retry after a failure finds it
/// and finishes the job.
pub async fn erase_contact(
    catalog: &Catalog,
    caller: &Caller,
    id: Uuid,
    mail: Option<&dyn MailObjects>,
) -> Result<(), CrmError> {
    Policy::check_exists(caller, Action::Erase, Subject::Record("contact"))?;
    // In the trash or not: erasure covers both; a contact the caller cannot see is 404.
    let contact = catalog
        .contacts()
        .find(caller, id)
        .await?
        .ok_or(CrmError::NotFound)?;
    Policy::check(caller, Action::Erase, Subject::Record("contact"))?;
    let tenant = &caller.tenant_id;
    // Off every deal first (an erasing owner or admin sees them all), and out of every
    // activity: those about the contact alone go.
    deals::unlink_contact(&catalog.deals(), caller, id).await?;
    let addresses: Vec<String> = contact
        .fields
        .emails
        .iter()
        .map(|e| e.address.clone())
        .collect();
    let purged =
        activities::subject_rights::erase_contact(&catalog.activities(), caller, id, &addresses)
            .await?;
    erase_messages(catalog, tenant, &purged, mail).await?;
    let outreach = catalog.records::<OutreachKind>();
    for o in linked(&outreach, caller, id).await? {
        RecordStore::<OutreachKind>::new(catalog.table().clone())
            .purge(tenant, &o)
            .await?;
    }
    notifications::forget_contact(catalog.table(), tenant, id).await?;
    let table = catalog.table();
    let mut keys = Vec::new();
    for run in table
        .query_all(Query::index("GSI2", runs_pk(tenant, id)))
        .await?
    {
        let run: WorkflowRun = from_item(run)?;
        keys.extend(
            table
                .query_all(Query::partition(run_pk(tenant, run.id)))
                .await?
                .iter()
                .filter_map(Key::of),
        );
        keys.push(crate::workflows::store::enrollment_key(
            tenant,
            run.workflow_id,
            id,
        ));
    }
    // Its email reservations (a contact in the trash holds none: another may have the
    // address by now).
    for email in contact.live_emails() {
        keys.push(Key::new(email_pk(tenant, email), "EMAIL"));
    }
    // The list and search entries: nothing about the contact stays findable.
    keys.extend(entry_keys::<ContactKind>(tenant, &contact)?);
    // The rest of the contact's partition: audit trail, client links, any earlier marker.
    let pk = record_pk(tenant, ContactKind::schema(), id);
    keys.extend(
        table
            .query_all(Query::partition(pk.clone()))
            .await?
            .iter()
            .filter_map(Key::of)
            .filter(|k| k.sk != "CONTACT"),
    );
    table.delete_many(keys).await?;

    let mut marker = key(pk.clone(), "ERASED");
    marker.insert("entity".into(), s("contact_erasure"));
    marker.insert(
        "erased_at".into(),
        s(crate::values::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    );
    marker.insert("erased_by".into(), s(caller.user_id.clone()));
    table.put(marker).await?;
    table.delete_many(vec![Key::new(pk, "CONTACT")]).await
}

/// The stored messages of erased email activities: their objects (the message, its
/// attachments) in the inbox bucket, their items, and the Message-ID index of every erased
/// email. Without the bucket (a stack without inbound mail) there are no objects.
async fn erase_messages(
    catalog: &Catalog,
    tenant: &str,
    purged: &[Activity],
    mail: Option<&dyn MailObjects>,
) -> Result<(), CrmError> {
    let messages = InboundMessages::new(catalog.table().clone());
    let threads = Threads::new(catalog.table().clone());
    for a in purged
        .iter()
        .filter(|a| a.activity_type() == ActivityType::Email)
    {
        for m in messages.of_activity(tenant, a.id).await? {
            let mut objects = vec![m.object_key.clone()];
            objects.extend(m.attachments.iter().map(|f| f.object_key.clone()));
            match mail {
                Some(mail) => mail.delete(&objects).await?,
                None => tracing::warn!(message = %m.id, "no inbox bucket: its objects stay"),
            }
            messages.forget(tenant, m.id).await?;
        }
        if let Some(message_id) = &a.fields.message_id {
            threads.forget(tenant, message_id).await?;
        }
    }
    Ok(())
}
