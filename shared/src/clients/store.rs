//! Client items: `T#t#CLIENT#{id}` / `CLIENT`, listed through GSI1 (`T#t#CLIENTS`) and, when
//! they have a parent, through GSI2 (`T#t#CLIENT#{parent}#SUBS`) for the hierarchy. The
//! client's audit entries (`AUDIT#{uuidv7}`) and, once it is deleted, its tombstone (`DELETED`)
//! live in the same partition; every write of the client carries its audit entry in the same
//! transaction.

use super::{Client, ClientTombstone};
use crate::CrmError;
use crate::audit::{self, AuditEntry};
use crate::errors::sdk_error;
use crate::table::{GSI1, GSI2, Item, Table, cancellation_codes, from_item, key, n, s, to_item};
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};
use uuid::Uuid;

const AUDIT_ENTITY: &str = "client_audit";
const TOMBSTONE_SK: &str = "DELETED";

pub fn client_pk(tenant: &str, id: Uuid) -> String {
    format!("T#{tenant}#CLIENT#{id}")
}

/// Attributes of the stored item that are not part of the record.
const KEY_ATTRIBUTES: &[&str] = &[
    "PK",
    "SK",
    "GSI1PK",
    "GSI1SK",
    "GSI2PK",
    "GSI2SK",
    "entity",
    "tenant_id",
];

fn client_item(tenant: &str, c: &Client) -> Result<Item, CrmError> {
    let mut keys = key(client_pk(tenant, c.id), "CLIENT");
    keys.insert("GSI1PK".into(), s(format!("T#{tenant}#CLIENTS")));
    keys.insert("GSI1SK".into(), s(c.id.to_string()));
    if let Some(parent) = c.fields.parent_id {
        keys.insert(
            "GSI2PK".into(),
            s(format!("T#{tenant}#CLIENT#{parent}#SUBS")),
        );
        keys.insert("GSI2SK".into(), s(c.id.to_string()));
    }
    keys.insert("entity".into(), s("client"));
    keys.insert("tenant_id".into(), s(tenant));
    to_item(c, keys)
}

fn client_of(mut item: Item) -> Result<Client, CrmError> {
    // The record's fields refuse unknown attributes, so the keys are taken off first.
    for k in KEY_ATTRIBUTES {
        item.remove(*k);
    }
    from_item(item)
}

pub struct DynamoClients {
    table: Table,
}

impl DynamoClients {
    pub fn new(table: Table) -> Self {
        Self { table }
    }

    pub fn table(&self) -> &Table {
        &self.table
    }

    pub async fn get(&self, tenant: &str, id: Uuid) -> Result<Option<Client>, CrmError> {
        self.table
            .get(client_pk(tenant, id), "CLIENT")
            .await?
            .map(client_of)
            .transpose()
    }

    /// The tombstone of a deleted client, if it was deleted.
    pub async fn tombstone(
        &self,
        tenant: &str,
        id: Uuid,
    ) -> Result<Option<ClientTombstone>, CrmError> {
        self.table
            .get(client_pk(tenant, id), TOMBSTONE_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    pub async fn insert(
        &self,
        tenant: &str,
        client: &Client,
        audit: &AuditEntry,
    ) -> Result<(), CrmError> {
        let pk = client_pk(tenant, client.id);
        let mut items = vec![
            self.table.put_if_absent(client_item(tenant, client)?)?,
            audit.put_tx(&self.table, pk, AUDIT_ENTITY)?,
        ];
        items.extend(self.value_entries(tenant, None, Some(client))?);
        self.transact("client insert", items).await
    }

    /// Replaces `current` by `next`; `PreconditionFailed` when `current` changed meanwhile.
    pub async fn replace(
        &self,
        tenant: &str,
        current: &Client,
        next: &Client,
        audit: &AuditEntry,
    ) -> Result<(), CrmError> {
        let put = Put::builder()
            .table_name(&self.table.name)
            .set_item(Some(client_item(tenant, next)?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(current.version))
            .build()
            .map_err(CrmError::internal)?;
        let mut items = vec![
            TransactWriteItem::builder().put(put).build(),
            audit.put_tx(&self.table, client_pk(tenant, current.id), AUDIT_ENTITY)?,
        ];
        items.extend(self.value_entries(tenant, Some(current), Some(next))?);
        self.transact("client update", items).await
    }

    /// Deletes `current` and leaves its tombstone; `PreconditionFailed` when `current` changed
    /// meanwhile.
    pub async fn delete(
        &self,
        tenant: &str,
        current: &Client,
        tombstone: &ClientTombstone,
        audit: &AuditEntry,
    ) -> Result<(), CrmError> {
        let pk = client_pk(tenant, current.id);
        let delete = Delete::builder()
            .table_name(&self.table.name)
            .set_key(Some(key(pk.clone(), "CLIENT")))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(current.version))
            .build()
            .map_err(CrmError::internal)?;
        let mut tombstone_keys = key(pk.clone(), TOMBSTONE_SK);
        tombstone_keys.insert("entity".into(), s("client_tombstone"));
        let mut items = vec![
            TransactWriteItem::builder().delete(delete).build(),
            // A client id is never reused, so a tombstone is written once.
            self.table
                .put_if_absent(to_item(tombstone, tombstone_keys)?)?,
            audit.put_tx(&self.table, pk, AUDIT_ENTITY)?,
        ];
        items.extend(self.value_entries(tenant, Some(current), None)?);
        self.transact("client delete", items).await
    }

    /// The custom field value entries (S3.5) that change with a write of the client.
    fn value_entries(
        &self,
        tenant: &str,
        current: Option<&Client>,
        next: Option<&Client>,
    ) -> Result<Vec<TransactWriteItem>, CrmError> {
        let side = |c: Option<&Client>| c.map(|c| c.id);
        let id = side(next).or(side(current)).expect("a client on one side");
        let items = crate::custom_fields::entries::entry_writes(
            &self.table.name,
            tenant,
            crate::custom_fields::Entity::Client,
            id,
            current.map(|c| (&c.custom_fields, &c.custom_terms)),
            next.map(|c| (&c.custom_fields, &c.custom_terms)),
        )?;
        if items.len() + 3 > 100 {
            return Err(CrmError::validation(
                "custom_fields",
                "max_items",
                "the change touches more index entries than one write may hold; change fewer custom fields at once",
            ));
        }
        Ok(items)
    }

    /// The client's audit entries, newest first.
    pub async fn history(
        &self,
        tenant: &str,
        id: Uuid,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<AuditEntry>, Option<Item>), CrmError> {
        audit::history_page(&self.table, client_pk(tenant, id), limit, start).await
    }

    /// Runs a transaction whose first item is the client's conditional write: its failure is
    /// `PreconditionFailed`.
    async fn transact(&self, what: &str, items: Vec<TransactWriteItem>) -> Result<(), CrmError> {
        let result = self
            .table
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => match cancellation_codes(&e) {
                Some(codes)
                    if codes.first().and_then(|c| c.as_deref())
                        == Some("ConditionalCheckFailed") =>
                {
                    Err(CrmError::PreconditionFailed)
                }
                Some(codes) => Err(CrmError::Internal(format!("{what} cancelled: {codes:?}"))),
                None => Err(sdk_error(what, e)),
            },
        }
    }

    pub async fn list(
        &self,
        tenant: &str,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<Client>, Option<Item>), CrmError> {
        let page = self
            .table
            .query_page(
                Some(GSI1),
                format!("T#{tenant}#CLIENTS"),
                None,
                true,
                limit,
                start,
            )
            .await?;
        Ok((
            page.items
                .into_iter()
                .map(client_of)
                .collect::<Result<_, _>>()?,
            page.last_key,
        ))
    }

    /// The clients with these ids that exist (BatchGetItem, 100 keys a call).
    pub async fn get_many(
        &self,
        tenant: &str,
        ids: &[Uuid],
    ) -> Result<std::collections::HashMap<Uuid, Client>, CrmError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(100) {
            let keys: Vec<Item> = chunk
                .iter()
                .map(|id| key(client_pk(tenant, *id), "CLIENT"))
                .collect();
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .build()
                    .map_err(CrmError::internal)?,
            );
            for attempt in 0..8 {
                let Some(req) = request.take() else { break };
                let result = self
                    .table
                    .client
                    .batch_get_item()
                    .request_items(&self.table.name, req)
                    .send()
                    .await
                    .map_err(|e| sdk_error("BatchGetItem clients", e))?;
                for item in result
                    .responses
                    .and_then(|mut r| r.remove(&self.table.name))
                    .unwrap_or_default()
                {
                    let client = client_of(item)?;
                    out.insert(client.id, client);
                }
                request = result
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(&self.table.name))
                    .filter(|k| !k.keys().is_empty());
                if request.is_some() {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                }
            }
        }
        Ok(out)
    }

    /// Whether any contact is linked to the client (S1.5).
    pub async fn has_linked_contacts(&self, tenant: &str, client: Uuid) -> Result<bool, CrmError> {
        let page = self
            .table
            .query_page(
                Some(GSI2),
                format!("T#{tenant}#CLIENT#{client}#CONTACTS"),
                None,
                false,
                1,
                None,
            )
            .await?;
        Ok(!page.items.is_empty())
    }

    pub async fn subsidiaries(
        &self,
        tenant: &str,
        parent: Uuid,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<Client>, Option<Item>), CrmError> {
        let page = self
            .table
            .query_page(
                Some(GSI2),
                format!("T#{tenant}#CLIENT#{parent}#SUBS"),
                None,
                false,
                limit,
                start,
            )
            .await?;
        Ok((
            page.items
                .into_iter()
                .map(client_of)
                .collect::<Result<_, _>>()?,
            page.last_key,
        ))
    }
}
