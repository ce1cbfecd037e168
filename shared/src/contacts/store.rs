//! Contact storage. The contact item, its email-uniqueness item (and, for imports, the row
//! outcome) change together in one transaction.

use super::Contact;
use super::audit::{AuditEntry, audit_sk};
use crate::CrmError;
use crate::error::sdk_error;
use crate::table::{GSI1, Item, Table, cancellation_codes, from_item, key, s, to_item};
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use uuid::Uuid;

/// What an import row write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportRowWrite {
    Created,
    /// Another contact of the tenant already has this email.
    DuplicateEmail,
    /// This row of this import was written before (a redelivered event).
    AlreadyWritten,
}

#[allow(async_fn_in_trait)]
pub trait ContactRepository {
    /// Fails with `Conflict` naming `email` when another contact has the email.
    async fn insert(
        &self,
        tenant: &str,
        contact: &Contact,
        audit: &AuditEntry,
    ) -> Result<(), CrmError>;
    /// Inserts a contact and the outcome item of row `row` of import `import`, once.
    async fn insert_import_row(
        &self,
        tenant: &str,
        contact: &Contact,
        import: Uuid,
        row: u64,
        outcome: Item,
        audit: &AuditEntry,
    ) -> Result<ImportRowWrite, CrmError>;
    async fn get(&self, tenant: &str, id: Uuid) -> Result<Option<Contact>, CrmError>;
    /// Replaces `current` by `next`; `PreconditionFailed` when `current` is no longer current.
    async fn replace(
        &self,
        tenant: &str,
        current: &Contact,
        next: &Contact,
        audit: &AuditEntry,
    ) -> Result<(), CrmError>;
    /// The contact's audit entries, newest first (C10).
    async fn history(
        &self,
        tenant: &str,
        id: Uuid,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<AuditEntry>, Option<Item>), CrmError>;
    async fn list(
        &self,
        tenant: &str,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<Contact>, Option<Item>), CrmError>;
}

pub struct DynamoContacts {
    table: Table,
}

impl DynamoContacts {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    /// A transaction item replacing `current` by `next` (same email), for writes that change
    /// the contact together with other items.
    pub fn replace_tx(
        &self,
        tenant: &str,
        current: &Contact,
        next: &Contact,
    ) -> Result<TransactWriteItem, CrmError> {
        let put = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(contact_item(tenant, next)?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", crate::table::n(current.version))
            .build()
            .map_err(CrmError::internal)?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

pub fn contact_pk(tenant: &str, id: Uuid) -> String {
    format!("T#{tenant}#CONTACT#{id}")
}

fn email_pk(tenant: &str, email: &str) -> String {
    format!("T#{tenant}#EMAIL#{email}")
}

fn contact_item(tenant: &str, c: &Contact) -> Result<Item, CrmError> {
    let mut keys = key(contact_pk(tenant, c.id), "CONTACT");
    match c.deleted_at {
        // Listed only while live.
        None => {
            keys.insert("GSI1PK".into(), s(format!("T#{tenant}#CONTACTS")));
            keys.insert("GSI1SK".into(), s(c.id.to_string()));
        }
        // In the trash: the table's TTL removes it after TRASH_DAYS.
        Some(at) => {
            let expires = at + chrono::Duration::days(super::TRASH_DAYS);
            keys.insert("expires_at".into(), crate::table::n(expires.timestamp()));
        }
    }
    keys.insert("entity".into(), s("contact"));
    keys.insert("tenant_id".into(), s(tenant));
    to_item(c, keys)
}

impl DynamoContacts {
    fn put_audit(
        &self,
        tenant: &str,
        contact: Uuid,
        entry: &AuditEntry,
    ) -> Result<TransactWriteItem, CrmError> {
        let mut keys = key(contact_pk(tenant, contact), audit_sk(entry.id));
        keys.insert("entity".into(), s("contact_audit"));
        self.table.put_if_absent(to_item(entry, keys)?)
    }

    fn put_new_contact(&self, tenant: &str, c: &Contact) -> Result<TransactWriteItem, CrmError> {
        self.table.put_if_absent(contact_item(tenant, c)?)
    }

    fn put_email(
        &self,
        tenant: &str,
        email: &str,
        id: Uuid,
    ) -> Result<TransactWriteItem, CrmError> {
        let mut item = key(email_pk(tenant, email), "EMAIL");
        item.insert("contact_id".into(), s(id.to_string()));
        item.insert("entity".into(), s("contact_email"));
        Ok(TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table.name)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(PK)")
                    .build()
                    .map_err(CrmError::internal)?,
            )
            .build())
    }

    fn delete_email(
        &self,
        tenant: &str,
        email: &str,
        id: Uuid,
    ) -> Result<TransactWriteItem, CrmError> {
        Ok(TransactWriteItem::builder()
            .delete(
                Delete::builder()
                    .table_name(&self.table.name)
                    .set_key(Some(key(email_pk(tenant, email), "EMAIL")))
                    .condition_expression("contact_id = :id")
                    .expression_attribute_values(":id", s(id.to_string()))
                    .build()
                    .map_err(CrmError::internal)?,
            )
            .build())
    }

    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), TransactFailure> {
        match self
            .table
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match cancellation_codes(&e) {
                Some(codes) => Err(TransactFailure::Cancelled(codes)),
                None => Err(TransactFailure::Other(sdk_error("TransactWriteItems", e))),
            },
        }
    }
}

enum TransactFailure {
    /// Per item: the reason it was cancelled (`ConditionalCheckFailed`, …) or `None`.
    Cancelled(Vec<Option<String>>),
    Other(CrmError),
}

fn failed_at(codes: &[Option<String>], index: usize) -> bool {
    codes.get(index).and_then(|c| c.as_deref()) == Some("ConditionalCheckFailed")
}

fn duplicate_email() -> CrmError {
    CrmError::Conflict {
        detail: "another contact already has this email".into(),
        errors: vec![crate::FieldError::new(
            "email",
            "unique",
            "another contact already has this email",
        )],
    }
}

impl ContactRepository for DynamoContacts {
    async fn insert(
        &self,
        tenant: &str,
        contact: &Contact,
        audit: &AuditEntry,
    ) -> Result<(), CrmError> {
        let mut items = vec![self.put_new_contact(tenant, contact)?];
        if let Some(email) = &contact.email {
            items.push(self.put_email(tenant, email, contact.id)?);
        }
        items.push(self.put_audit(tenant, contact.id, audit)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Cancelled(codes)) if failed_at(&codes, 1) => {
                Err(duplicate_email())
            }
            Err(TransactFailure::Cancelled(codes)) => Err(CrmError::Internal(format!(
                "contact insert cancelled: {codes:?}"
            ))),
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }

    async fn insert_import_row(
        &self,
        tenant: &str,
        contact: &Contact,
        import: Uuid,
        row: u64,
        mut outcome: Item,
        audit: &AuditEntry,
    ) -> Result<ImportRowWrite, CrmError> {
        outcome.extend(key(
            crate::imports::import_pk(tenant, import),
            crate::imports::row_sk(row),
        ));
        let row_put = self.table.put_if_absent(outcome)?;
        let mut items = vec![row_put, self.put_new_contact(tenant, contact)?];
        if let Some(email) = &contact.email {
            items.push(self.put_email(tenant, email, contact.id)?);
        }
        items.push(self.put_audit(tenant, contact.id, audit)?);
        match self.transact(items).await {
            Ok(()) => Ok(ImportRowWrite::Created),
            Err(TransactFailure::Cancelled(codes)) if failed_at(&codes, 0) => {
                Ok(ImportRowWrite::AlreadyWritten)
            }
            Err(TransactFailure::Cancelled(codes)) if failed_at(&codes, 2) => {
                Ok(ImportRowWrite::DuplicateEmail)
            }
            Err(TransactFailure::Cancelled(codes)) => Err(CrmError::Internal(format!(
                "import row cancelled: {codes:?}"
            ))),
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }

    async fn get(&self, tenant: &str, id: Uuid) -> Result<Option<Contact>, CrmError> {
        self.table
            .get(contact_pk(tenant, id), "CONTACT")
            .await?
            .map(from_item)
            .transpose()
    }

    async fn replace(
        &self,
        tenant: &str,
        current: &Contact,
        next: &Contact,
        audit: &AuditEntry,
    ) -> Result<(), CrmError> {
        let put = TransactWriteItem::builder()
            .put(
                Put::builder()
                    .table_name(&self.table.name)
                    .set_item(Some(contact_item(tenant, next)?))
                    .condition_expression("version = :v")
                    .expression_attribute_values(":v", crate::table::n(current.version))
                    .build()
                    .map_err(CrmError::internal)?,
            )
            .build();
        let mut items = vec![put];
        // Deleting releases the email, restoring claims it again.
        let (old_email, new_email) = (current.live_email(), next.live_email());
        let email_changed = old_email != new_email;
        if email_changed {
            if let Some(new) = new_email {
                items.push(self.put_email(tenant, new, next.id)?);
            }
            if let Some(old) = old_email {
                items.push(self.delete_email(tenant, old, current.id)?);
            }
        }
        items.push(self.put_audit(tenant, current.id, audit)?);
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Cancelled(codes)) if failed_at(&codes, 0) => {
                Err(CrmError::PreconditionFailed)
            }
            Err(TransactFailure::Cancelled(codes))
                if email_changed && new_email.is_some() && failed_at(&codes, 1) =>
            {
                Err(duplicate_email())
            }
            Err(TransactFailure::Cancelled(codes)) => Err(CrmError::Internal(format!(
                "contact update cancelled: {codes:?}"
            ))),
            Err(TransactFailure::Other(e)) => Err(e),
        }
    }

    async fn history(
        &self,
        tenant: &str,
        id: Uuid,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<AuditEntry>, Option<Item>), CrmError> {
        let page = self
            .table
            .query_page(
                None,
                contact_pk(tenant, id),
                Some("AUDIT#"),
                true,
                limit,
                start,
            )
            .await?;
        Ok((page.decode()?, page.last_key))
    }

    async fn list(
        &self,
        tenant: &str,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<Contact>, Option<Item>), CrmError> {
        let page = self
            .table
            .query_page(
                Some(GSI1),
                format!("T#{tenant}#CONTACTS"),
                None,
                true,
                limit,
                start,
            )
            .await?;
        Ok((page.decode()?, page.last_key))
    }
}
