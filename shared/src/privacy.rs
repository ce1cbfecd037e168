//! Data-subject requests (S1.2, GDPR): everything the CRM holds about one contact.
//! The contact's partition holds the record and its audit trail (C11); its workflow runs are
//! found through GSI2. The cost is the size of that contact's data, never the tenant's.

use crate::contacts::audit::AuditEntry;
use crate::contacts::contact_pk;
use crate::contacts::{self, Contact, ContactRepository, DynamoContacts};
use crate::table::{GSI2, key, primary_key, s};
use crate::workflows::WorkflowRun;
use crate::workflows::{run_pk, workflow_pk};
use crate::{Caller, CrmError, Deps};
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
}

/// `GET /contacts/{id}/export`.
pub async fn export_contact(
    deps: &Deps,
    caller: &Caller,
    id: Uuid,
) -> Result<ContactExport, CrmError> {
    let table = deps.table();
    let repo = DynamoContacts::new(table.clone());
    // Same visibility as reading the contact.
    let contact = contacts::get(&repo, caller, id).await?;
    let tenant = &caller.tenant_id;

    let mut history = Vec::new();
    let mut start = None;
    loop {
        let (page, last) = repo.history(tenant, id, PAGE, start).await?;
        history.extend(page);
        match last {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    history.reverse();

    let mut workflow_runs = Vec::new();
    let mut start = None;
    loop {
        let page = table
            .query_page(
                Some(GSI2),
                format!("T#{tenant}#CONTACT#{id}#RUNS"),
                None,
                false,
                PAGE,
                start,
            )
            .await?;
        workflow_runs.extend(page.decode::<WorkflowRun>()?);
        match page.last_key {
            Some(k) => start = Some(k),
            None => break,
        }
    }
    Ok(ContactExport {
        exported_at: crate::values::now(),
        contact,
        history,
        workflow_runs,
    })
}

/// `POST /contacts/{id}/erase`: removes the contact and everything about them for good (GDPR
/// right to erasure): the record, its audit trail, its client links, its workflow runs with their step records
/// and enrollment markers, its email reservation. What remains is one erasure marker without
/// personal data (who erased, when). Owners and admins only. The contact item goes last, so a
/// retry after a failure finds it and finishes the job.
pub async fn erase_contact(deps: &Deps, caller: &Caller, id: Uuid) -> Result<(), CrmError> {
    let table = deps.table();
    let repo = DynamoContacts::new(table.clone());
    if caller.role == crate::Role::Portal {
        return Err(CrmError::NotFound);
    }
    // In the trash or not: erasure covers both; a contact the caller cannot see is 404.
    let contact = contacts::load_any(&repo, caller, id)
        .await?
        .ok_or(CrmError::NotFound)?;
    if !caller.role.is_admin() {
        return Err(CrmError::Forbidden(
            "only owners and admins can erase contacts".into(),
        ));
    }
    let tenant = &caller.tenant_id;

    let mut keys = Vec::new();
    for run in table
        .query_all(Some(GSI2), format!("T#{tenant}#CONTACT#{id}#RUNS"), None)
        .await?
    {
        let run: WorkflowRun = crate::table::from_item(run)?;
        keys.extend(
            table
                .query_all(None, run_pk(tenant, run.id), None)
                .await?
                .iter()
                .map(primary_key),
        );
        keys.push(key(
            workflow_pk(tenant, run.workflow_id),
            format!("ENROLLED#{id}"),
        ));
    }
    for email in contact.live_emails() {
        keys.push(key(format!("T#{tenant}#EMAIL#{email}"), "EMAIL"));
    }
    // The list and search entries: nothing about the contact stays findable.
    keys.extend(
        contacts::index::entry_keys(tenant, &contact)
            .into_iter()
            .map(|(pk, sk)| key(pk, sk)),
    );
    // The rest of the contact's partition: audit trail, client links, any earlier marker.
    keys.extend(
        table
            .query_all(None, contact_pk(tenant, id), None)
            .await?
            .iter()
            .map(primary_key)
            .filter(|k| !matches!(k.get("SK"), Some(aws_sdk_dynamodb::types::AttributeValue::S(sk)) if sk == "CONTACT")),
    );
    table.delete_all(keys).await?;

    let mut marker = key(contact_pk(tenant, id), "ERASED");
    marker.insert("entity".into(), s("contact_erasure"));
    marker.insert(
        "erased_at".into(),
        s(crate::values::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    );
    marker.insert("erased_by".into(), s(caller.user_id.clone()));
    table.put(marker, "PutItem erasure").await?;
    table
        .delete_all(vec![key(contact_pk(tenant, id), "CONTACT")])
        .await
}
