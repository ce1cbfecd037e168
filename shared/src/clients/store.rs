//! Client items: `T#t#CLIENT#{id}` / `CLIENT`, listed through GSI1 (`T#t#CLIENTS`) and, when
//! they have a parent, through GSI2 (`T#t#CLIENT#{parent}#SUBS`) for the hierarchy.

use super::Client;
use crate::CrmError;
use crate::error::sdk_error;
use crate::table::{GSI1, GSI2, Item, Table, from_item, is_condition_failed, key, n, s, to_item};
use uuid::Uuid;

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

    pub async fn get(&self, tenant: &str, id: Uuid) -> Result<Option<Client>, CrmError> {
        self.table
            .get(client_pk(tenant, id), "CLIENT")
            .await?
            .map(client_of)
            .transpose()
    }

    pub async fn insert(&self, tenant: &str, client: &Client) -> Result<(), CrmError> {
        self.table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(client_item(tenant, client)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(|e| sdk_error("PutItem client", e))?;
        Ok(())
    }

    /// Replaces `current` by `next`; `PreconditionFailed` when `current` changed meanwhile.
    pub async fn replace(
        &self,
        tenant: &str,
        current: &Client,
        next: &Client,
    ) -> Result<(), CrmError> {
        let result = self
            .table
            .client
            .put_item()
            .table_name(&self.table.name)
            .set_item(Some(client_item(tenant, next)?))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(current.version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Err(CrmError::PreconditionFailed),
            Err(e) => Err(sdk_error("PutItem client", e)),
        }
    }

    pub async fn delete(&self, tenant: &str, current: &Client) -> Result<(), CrmError> {
        let result = self
            .table
            .client
            .delete_item()
            .table_name(&self.table.name)
            .set_key(Some(key(client_pk(tenant, current.id), "CLIENT")))
            .condition_expression("version = :v")
            .expression_attribute_values(":v", n(current.version))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Err(CrmError::PreconditionFailed),
            Err(e) => Err(sdk_error("DeleteItem client", e)),
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
