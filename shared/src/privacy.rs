//! Data-subject requests (S1.2, GDPR): everything the CRM holds about one contact.
//! The contact's partition holds the record and its audit trail (C11); its workflow runs are
//! found through GSI2. The cost is the size of that contact's data, never the tenant's.

use crate::contacts::audit::AuditEntry;
use crate::contacts::{self, Contact, ContactRepository, DynamoContacts};
use crate::table::GSI2;
use crate::workflows::WorkflowRun;
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
        exported_at: crate::now(),
        contact,
        history,
        workflow_runs,
    })
}
