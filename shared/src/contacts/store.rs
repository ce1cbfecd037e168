//! Contact storage. The contact item, its email-uniqueness item (and, for imports, the row
//! outcome) change together in one transaction.

use super::audit::{AuditEntry, audit_sk};
use super::{Contact, index};
use crate::CrmError;
use crate::errors::sdk_error;
use crate::table::{Item, Table, cancellation_codes, from_item, key, s, to_item};
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use std::collections::BTreeSet;
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
    /// Fails with `Conflict` naming `email` when another contact has one of the addresses.
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
    /// The tenant's users and teams (S9.4), for checking assignments and shares.
    fn directory(&self) -> crate::directory::Directory;
    /// Custom field definitions and the value checks (S3).
    fn custom_values(&self) -> crate::custom_fields::values::CustomValues;
}

/// DynamoDB allows 100 items per transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;

pub struct DynamoContacts {
    table: Table,
}

impl DynamoContacts {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    /// The transaction items that replace `current` by `next`: the contact (conditional on
    /// `current`'s version), its email reservations and index entries, and the audit entry.
    /// Writes that change the contact together with other items (links) append theirs.
    pub fn replace_items(
        &self,
        tenant: &str,
        current: &Contact,
        next: &Contact,
        audit: &AuditEntry,
    ) -> Result<ContactWrite, CrmError> {
        let put = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(contact_item(tenant, next)?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", crate::table::n(current.version))
            .build()
            .map_err(CrmError::internal)?;
        let mut write = ContactWrite::default();
        write
            .items
            .push(TransactWriteItem::builder().put(put).build());
        self.add_dependents(&mut write, tenant, Some(current), next, audit)?;
        Ok(write)
    }

    /// Email reservations (added and released), index entries (removed and written) and the
    /// audit entry of a change from `current` to `next`.
    fn add_dependents(
        &self,
        write: &mut ContactWrite,
        tenant: &str,
        current: Option<&Contact>,
        next: &Contact,
        audit: &AuditEntry,
    ) -> Result<(), CrmError> {
        let old_emails: BTreeSet<&str> = current
            .map(|c| c.live_emails().into_iter().collect())
            .unwrap_or_default();
        let new_emails: BTreeSet<&str> = next.live_emails().into_iter().collect();
        for email in new_emails.difference(&old_emails) {
            write.email_puts.push(write.items.len());
            write.items.push(self.put_email(tenant, email, next.id)?);
        }
        for email in old_emails.difference(&new_emails) {
            write.items.push(self.delete_email(tenant, email, next.id)?);
        }
        let old_keys: BTreeSet<(String, String)> = current
            .map(|c| index::entry_keys(tenant, c).into_iter().collect())
            .unwrap_or_default();
        let new_keys: BTreeSet<(String, String)> =
            index::entry_keys(tenant, next).into_iter().collect();
        for (pk, sk) in old_keys.difference(&new_keys) {
            let delete = Delete::builder()
                .table_name(&self.table.name)
                .set_key(Some(key(pk.clone(), sk.clone())))
                .build()
                .map_err(CrmError::internal)?;
            write
                .items
                .push(TransactWriteItem::builder().delete(delete).build());
        }
        for (pk, sk) in &new_keys {
            let put = Put::builder()
                .table_name(&self.table.name)
                .set_item(Some(index::entry_item(next, pk, sk)?))
                .build()
                .map_err(CrmError::internal)?;
            write
                .items
                .push(TransactWriteItem::builder().put(put).build());
        }
        write.items.push(self.put_audit(tenant, next.id, audit)?);
        Ok(())
    }
}

/// The items of one contact write, and where its email reservations are (to tell a duplicate
/// address from a lost race on the contact).
#[derive(Default)]
pub struct ContactWrite {
    pub items: Vec<TransactWriteItem>,
    email_puts: Vec<usize>,
}

impl ContactWrite {
    /// Refuses a change that cannot be one transaction; the limits of `fields` keep ordinary
    /// contacts far below it.
    fn check_size(&self) -> Result<(), CrmError> {
        if self.items.len() > MAX_TRANSACTION_ITEMS {
            return Err(CrmError::Validation(vec![crate::FieldError::new(
                "tags",
                "change_too_large",
                format!(
                    "this change touches {} index entries at once (at most {MAX_TRANSACTION_ITEMS}); \
                     split it into smaller changes",
                    self.items.len()
                ),
            )]));
        }
        Ok(())
    }

    fn duplicate_email_in(&self, codes: &[Option<String>]) -> bool {
        self.email_puts.iter().any(|i| failed_at(codes, *i))
    }
}

/// Every item a new contact is stored as (the record, its email reservations and its index
/// entries; no audit entry): for bulk loading a tenant in benchmarks with the real layout.
pub fn stored_items(tenant: &str, c: &Contact) -> Result<Vec<Item>, CrmError> {
    let mut items = vec![contact_item(tenant, c)?];
    for email in c.live_emails() {
        let mut item = key(email_pk(tenant, email), "EMAIL");
        item.insert("contact_id".into(), s(c.id.to_string()));
        item.insert("entity".into(), s("contact_email"));
        items.push(item);
    }
    for (pk, sk) in index::entry_keys(tenant, c) {
        items.push(index::entry_item(c, &pk, &sk)?);
    }
    Ok(items)
}

pub fn contact_pk(tenant: &str, id: Uuid) -> String {
    format!("T#{tenant}#CONTACT#{id}")
}

fn email_pk(tenant: &str, email: &str) -> String {
    format!("T#{tenant}#EMAIL#{email}")
}

fn contact_item(tenant: &str, c: &Contact) -> Result<Item, CrmError> {
    let mut keys = key(contact_pk(tenant, c.id), "CONTACT");
    // Lists read the index entries (`index`); a contact in the trash has none, and the
    // table's TTL removes it after TRASH_DAYS.
    if let Some(at) = c.deleted_at {
        let expires = at + chrono::Duration::days(super::TRASH_DAYS);
        keys.insert("expires_at".into(), crate::table::n(expires.timestamp()));
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

impl DynamoContacts {
    /// Runs a contact write; maps a taken address to 409 and a lost race to 412.
    async fn run(&self, write: ContactWrite, first_is_contact: bool) -> Result<(), Cancelled> {
        write.check_size().map_err(Cancelled::Error)?;
        let duplicate = |codes: &[Option<String>]| write.duplicate_email_in(codes);
        match self.transact(write.items.clone()).await {
            Ok(()) => Ok(()),
            Err(TransactFailure::Cancelled(codes)) if duplicate(&codes) => {
                Err(Cancelled::Error(duplicate_email()))
            }
            Err(TransactFailure::Cancelled(codes)) if first_is_contact && failed_at(&codes, 0) => {
                Err(Cancelled::Error(CrmError::PreconditionFailed))
            }
            Err(TransactFailure::Cancelled(codes)) => Err(Cancelled::Codes(codes)),
            Err(TransactFailure::Other(e)) => Err(Cancelled::Error(e)),
        }
    }
}

enum Cancelled {
    Error(CrmError),
    Codes(Vec<Option<String>>),
}

impl ContactRepository for DynamoContacts {
    async fn insert(
        &self,
        tenant: &str,
        contact: &Contact,
        audit: &AuditEntry,
    ) -> Result<(), CrmError> {
        let mut write = ContactWrite::default();
        write.items.push(self.put_new_contact(tenant, contact)?);
        self.add_dependents(&mut write, tenant, None, contact, audit)?;
        match self.run(write, false).await {
            Ok(()) => Ok(()),
            Err(Cancelled::Error(e)) => Err(e),
            Err(Cancelled::Codes(codes)) => Err(CrmError::Internal(format!(
                "contact insert cancelled: {codes:?}"
            ))),
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
        let mut write = ContactWrite::default();
        write.items.push(self.table.put_if_absent(outcome)?);
        write.items.push(self.put_new_contact(tenant, contact)?);
        self.add_dependents(&mut write, tenant, None, contact, audit)?;
        let email_puts = write.email_puts.clone();
        write.check_size()?;
        match self.transact(write.items).await {
            Ok(()) => Ok(ImportRowWrite::Created),
            Err(TransactFailure::Cancelled(codes)) if failed_at(&codes, 0) => {
                Ok(ImportRowWrite::AlreadyWritten)
            }
            Err(TransactFailure::Cancelled(codes))
                if email_puts.iter().any(|i| failed_at(&codes, *i)) =>
            {
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
        let write = self.replace_items(tenant, current, next, audit)?;
        match self.run(write, true).await {
            Ok(()) => Ok(()),
            Err(Cancelled::Error(e)) => Err(e),
            Err(Cancelled::Codes(codes)) => Err(CrmError::Internal(format!(
                "contact update cancelled: {codes:?}"
            ))),
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

    fn directory(&self) -> crate::directory::Directory {
        crate::directory::Directory::new(self.table.store())
    }

    fn custom_values(&self) -> crate::custom_fields::values::CustomValues {
        crate::custom_fields::values::CustomValues::new(self.table.clone())
    }
}
