//! New leads (S8.4): the one contact creation use case of every path (API, web form, inbound
//! mail), with assignment when the lead has no owner; each new lead records a lead event and
//! notifies its owner, or its team's active members (email too for those who opted in); an
//! import notifies its importer once, when it ends.
//!
//! Items: lead event `T#{t}#CONTACT#{id}` / `LEADEVENT`.

use super::mail::{Mailer, one_line};
use super::notifications::{self, Notification, NotificationKind};
use crate::catalog::Catalog;
use crate::contacts::{Contact, EntryInput, LifecycleStatus, NewContact};
use crate::directory::{Directory, UserStatus};
use crate::store::{Condition, Table, WriteError, key, s, to_item};
use crate::{Caller, CrmError};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::sync::Arc;
use uuid::Uuid;

/// What is recorded of a new lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadEvent {
    pub contact_id: Uuid,
    pub entry: Option<crate::contacts::ContactEntry>,
    pub owner: Option<String>,
    pub team: Option<Uuid>,
    /// A web form's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub at: DateTime<Utc>,
    /// Who was notified.
    pub notified: Vec<String>,
}

/// Lead creation and its notifications.
#[derive(Clone)]
pub struct Leads {
    pub catalog: Catalog,
    pub mailer: Option<Arc<dyn Mailer>>,
}

impl Leads {
    pub fn new(catalog: Catalog, mailer: Option<Arc<dyn Mailer>>) -> Self {
        Self { catalog, mailer }
    }

    fn table(&self) -> &Table {
        self.catalog.table()
    }

    /// Creates a contact as the API does, through the engine's one create; a lead without an
    /// owner named gets one from the assignment rules; a new lead is announced.
    pub async fn create_contact(
        &self,
        caller: &Caller,
        mut input: NewContact,
        custom: Option<&Map<String, Value>>,
        entry: EntryInput,
        message: Option<String>,
    ) -> Result<Contact, CrmError> {
        let is_lead = input
            .lifecycle_status
            .is_none_or(|s| s == LifecycleStatus::Lead);
        if is_lead && input.owner.as_deref().is_none_or(|o| o.trim().is_empty()) {
            let source = input.lead_source.as_deref();
            let tenant = &caller.tenant_id;
            if let Some((owner, team)) =
                super::assignment::assign(self.table(), tenant, source, entry.path).await?
            {
                input.owner = Some(owner);
                input.team = input.team.or(Some(team));
            }
        }
        input.entry = Some(entry);
        let contact = self
            .catalog
            .contacts()
            .create(caller, input, custom)
            .await?;
        if contact.fields.lifecycle_status == LifecycleStatus::Lead {
            self.announce(&caller.tenant_id, &caller.user_id, &contact, message)
                .await?;
        }
        Ok(contact)
    }

    /// Records the lead event and notifies (once: a repeated call writes nothing new).
    pub async fn announce(
        &self,
        tenant: &str,
        actor: &str,
        contact: &Contact,
        message: Option<String>,
    ) -> Result<(), CrmError> {
        let (users, _) = Directory::new(self.table().clone())
            .everyone(tenant)
            .await?;
        let owner = contact.fields.owner.as_deref();
        let owned_by_a_user = owner.is_some_and(|o| users.iter().any(|u| u.user_id == o));
        let recipients: Vec<&crate::directory::User> = match (owner, contact.fields.team) {
            (Some(owner), _) if owned_by_a_user && owner != actor => {
                users.iter().filter(|u| u.user_id == owner).collect()
            }
            (_, Some(team)) => users
                .iter()
                .filter(|u| u.status == UserStatus::Active && u.teams.contains(&team))
                .filter(|u| u.user_id != actor)
                .collect(),
            // A lead the system made and nobody was assigned (inbound mail, no rule): the
            // tenant's owners and admins hear of it.
            (Some(_), None) if !owned_by_a_user => users
                .iter()
                .filter(|u| u.status == UserStatus::Active && u.role.is_admin())
                .collect(),
            _ => Vec::new(),
        };
        let title = format!("New lead: {}", one_line(&contact.display_name));
        let mut notified = Vec::new();
        for user in &recipients {
            let id = crate::values::derived_id(
                contact.created_at,
                &[contact.id.as_bytes(), user.user_id.as_bytes(), b"lead"],
            );
            let n = Notification {
                id,
                kind: NotificationKind::NewLead,
                title: title.clone(),
                contact_id: Some(contact.id),
                import_id: None,
                created: None,
                created_at: contact.created_at,
                read_at: None,
            };
            let new = notifications::deliver(self.table(), tenant, &user.user_id, &n).await?;
            notified.push(user.user_id.clone());
            if !new {
                continue;
            }
            let prefs = notifications::preferences(self.table(), tenant, &user.user_id).await?;
            if let (true, Some(to), Some(mailer)) =
                (prefs.email_new_leads, user.email.as_deref(), &self.mailer)
            {
                let body = format!(
                    "{title}\nSource: {}\nContact: /contacts/{}\n",
                    contact.fields.lead_source.as_deref().unwrap_or("-"),
                    contact.id
                );
                mailer.send(to, &title, &body).await?;
            }
        }
        let event = LeadEvent {
            contact_id: contact.id,
            entry: contact.entry.clone(),
            owner: contact.fields.owner.clone(),
            team: contact.fields.team,
            message,
            at: contact.created_at,
            notified,
        };
        let pk = format!("T#{tenant}#CONTACT#{}", contact.id);
        let mut keys = key(pk, "LEADEVENT");
        keys.insert("entity".into(), s("lead_event"));
        match self
            .table()
            .put_if(to_item(&event, keys)?, Condition::NotExists)
            .await
        {
            Ok(()) | Err(WriteError::ConditionFailed) => Ok(()),
            Err(WriteError::Other(e)) => Err(e),
        }
    }
}

/// The one notification of an ended contacts import, to its importer (S8.4): written once
/// whatever the redeliveries.
pub async fn import_summary(
    table: &Table,
    tenant: &str,
    importer: &str,
    import: Uuid,
    file_name: &str,
    created: u64,
    at: DateTime<Utc>,
) -> Result<(), CrmError> {
    let n = Notification {
        id: crate::values::derived_id(at, &[import.as_bytes(), b"import-summary"]),
        kind: NotificationKind::ImportSummary,
        title: format!(
            "Import of {} ended: {created} new contacts",
            one_line(file_name)
        ),
        contact_id: None,
        import_id: Some(import),
        created: Some(created),
        created_at: at,
        read_at: None,
    };
    notifications::deliver(table, tenant, importer, &n).await?;
    Ok(())
}
