//! Data-subject requests (S1.2, GDPR): everything the CRM holds about one contact.
//! The contact's partition holds the record and its audit trail (C11); its workflow runs are
//! found through GSI2. The cost is the size of that contact's data, never the tenant's.

use crate::access::{Action, Policy, Subject};
use crate::activities::{self, Activity};
use crate::audit::AuditEntry;
use crate::catalog::Catalog;
use crate::contacts::{Contact, ContactKind, email_pk};
use crate::deals::{self, Deal};
use crate::records::entries::entry_keys;
use crate::records::{Kind, keys::record_pk};
use crate::store::{Key, Query, from_item, key, s};
use crate::workflows::WorkflowRun;
use crate::workflows::{run_pk, workflow_pk};
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
    let mut history = Vec::new();
    let mut start = None;
    loop {
        let (page, last) = contacts.store.history(tenant, id, PAGE, start).await?;
        history.extend(page);
        match last {
            Some(k) => start = Some(k),
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
    Ok(ContactExport {
        exported_at: crate::values::now(),
        contact,
        history,
        workflow_runs,
        deals,
        activities,
    })
}

/// `POST /contacts/{id}/erase`: removes the contact and everything about them for good (GDPR
/// right to erasure): the record, its audit trail, its client links, its place on deals, its workflow runs with
/// their step records and enrollment markers, its email reservations, its list and search
/// entries, its activities (shared ones keep the others' part). What remains is one erasure marker without personal data (who erased, when).
/// Owners and admins only. The contact item goes last, so a retry after a failure finds it
/// and finishes the job.
pub async fn erase_contact(catalog: &Catalog, caller: &Caller, id: Uuid) -> Result<(), CrmError> {
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
    activities::subject_rights::erase_contact(&catalog.activities(), caller, id, &addresses)
        .await?;
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
        keys.push(Key::new(
            workflow_pk(tenant, run.workflow_id),
            format!("ENROLLED#{id}"),
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
