//! A clients import (S5.1–S5.3): cells as client fields, and its rows written by the mode.
//!
//! A row is matched by its name, case and accents folded (the clients' name index, GSI1), to
//! the clients the importer may see: none → a new client (modes create, upsert); one → that
//! client is updated with the row's non-blank cells (modes update, upsert) or the row is
//! skipped (mode create); several → the row is reported, never guessed. Two rows of one file
//! with the same name are imported once; across the file's batches the import keeps a claim
//! per name it created (`T#t#IMPORT#{id}` / `NAME#{folded}`), so a later row with that name
//! is reported as the duplicate it is, and a redelivered batch still finds its own clients.

use super::csv_rows::{ColumnMap, ParsedRow, split_tags};
use super::rows::{Plan, RowBatch, RowResult, imported_audit, update_outcome};
use super::targets::Target;
use super::{ImportMode, import_pk};
use crate::clients::{
    Address, ClientFields, ClientKind, ClientPatch, ClientStatus, Clients, CompanySize, ids_named,
};
use crate::records::Record;
use crate::records::bulk::BulkOutcome;
use crate::store::{Key, from_item, key, to_item};
use crate::values::search::fold;
use crate::{Caller, CrmError, FieldError};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// Clients looked up by name at once.
const LOOKUP_CONCURRENCY: usize = 16;
/// Clients of one name looked at: two already make a name ambiguous.
const NAMESAKES: i32 = 3;

impl ColumnMap {
    /// One record of a clients import's file as client input.
    pub(super) fn client_row(&self, line: u64, record: csv::StringRecord) -> ParsedRow {
        let mut client = ClientFields::default();
        let mut address = Address::default();
        let (mut custom, mut cells, mut problems) = (Map::new(), Vec::new(), Vec::new());
        let (mut owner_cell, mut team_cell) = (None, None);
        for (position, column) in self.columns.iter().enumerate() {
            let Some(raw) = record.get(column.index).filter(|v| !v.trim().is_empty()) else {
                continue;
            };
            let value = raw.trim().to_string();
            match &column.target {
                Target::ClientName => client.name = value,
                Target::LegalName => client.legal_name = Some(value),
                Target::Domain => client.domain = Some(domain_of(&value)),
                Target::Industry => client.industry = Some(value),
                Target::Size => match company_size(&value) {
                    Some(size) => client.size = Some(size),
                    None => problems.push(FieldError::new(
                        "size",
                        "one_of",
                        "a head count, or 1-10, 11-50, 51-200, 201-1000 or 1001+",
                    )),
                },
                Target::Status => match client_status(&value) {
                    Some(status) => client.status = Some(status),
                    None => problems.push(FieldError::new(
                        "status",
                        "one_of",
                        "lead, prospect, active, inactive or churned (or their German names)",
                    )),
                },
                Target::Email => client.email = Some(value),
                Target::Phone { .. } => client.phone = Some(value),
                Target::Website => client.website = Some(value),
                Target::Street => address.street = Some(value),
                Target::PostalCode => address.postal_code = Some(value),
                Target::City => address.city = Some(value),
                Target::Region => address.region = Some(value),
                Target::Country => address.country = Some(value.to_uppercase()),
                Target::VatId => client.vat_id = Some(value),
                Target::Currency => client.currency = Some(value.to_uppercase()),
                Target::PaymentTerms => match days(&value) {
                    Some(d) => client.payment_terms_days = Some(d),
                    None => problems.push(FieldError::new(
                        "payment_terms_days",
                        "integer",
                        "a number of days such as 30 (or \"30 Tage\", \"net 30\")",
                    )),
                },
                Target::Tags => client
                    .tags
                    .extend(split_tags(&value, column.separator.as_deref())),
                Target::Owner => owner_cell = Some(value),
                Target::Team => team_cell = Some(value),
                Target::Custom(key) => {
                    custom.insert(key.clone(), Value::String(raw.to_string()));
                }
                // A contact import's targets: never in a clients import's map.
                _ => continue,
            }
            cells.push(position);
        }
        if address != Address::default() {
            client.billing_address = Some(address);
        }
        ParsedRow {
            line,
            contact: Default::default(),
            client,
            custom,
            record,
            cells,
            problems,
            note: None,
            owner_cell,
            team_cell,
        }
    }
}

/// A domain cell as a bare domain: `https://www.Acme.example/about` → `acme.example`.
fn domain_of(raw: &str) -> String {
    let lower = raw.trim().to_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .unwrap_or(&lower);
    let rest = rest.strip_prefix("www.").unwrap_or(rest);
    rest.split(['/', '?', '#'])
        .next()
        .unwrap_or(rest)
        .to_string()
}

/// A size cell: a band as the API names it, or a head count (`250`, `1.200`, `1,200`).
fn company_size(raw: &str) -> Option<CompanySize> {
    let squeezed: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    if let Ok(band) = serde_json::from_value::<CompanySize>(Value::String(squeezed.clone())) {
        return Some(band);
    }
    let digits: String = squeezed
        .chars()
        .filter(|c| !matches!(c, '.' | ','))
        .collect();
    let count: u64 = digits.parse().ok()?;
    Some(match count {
        0..=10 => CompanySize::Micro,
        11..=50 => CompanySize::Small,
        51..=200 => CompanySize::Medium,
        201..=1000 => CompanySize::Large,
        _ => CompanySize::Enterprise,
    })
}

/// A client status cell in English or German.
fn client_status(raw: &str) -> Option<ClientStatus> {
    let folded: String = fold(raw).chars().filter(|c| c.is_alphanumeric()).collect();
    Some(match folded.as_str() {
        "lead" | "neu" | "new" => ClientStatus::Lead,
        "prospect" | "interessent" | "opportunity" | "potenziell" => ClientStatus::Prospect,
        "active" | "aktiv" | "customer" | "kunde" | "bestandskunde" => ClientStatus::Active,
        "inactive" | "inaktiv" | "ruhend" => ClientStatus::Inactive,
        "churned" | "verloren" | "ehemalig" | "ehemaligerkunde" | "former" | "lost" => {
            ClientStatus::Churned
        }
        _ => return None,
    })
}

/// Days in a payment terms cell: `30`, `30 Tage`, `net 30`.
fn days(raw: &str) -> Option<u16> {
    let digits: String = raw
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    let rest_has_digits = raw
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .skip_while(char::is_ascii_digit)
        .any(|c| c.is_ascii_digit());
    if rest_has_digits {
        return None;
    }
    digits.parse().ok()
}

/// The claim of a name a clients import created a client for.
#[derive(Debug, Serialize, Deserialize)]
struct NameClaim {
    row: u64,
    client_id: Uuid,
}

fn name_claim_sk(folded: &str) -> String {
    format!("NAME#{folded}")
}

/// What writes a clients import's rows.
pub struct ClientRowWriter<'a> {
    pub batch: RowBatch<'a>,
    pub clients: &'a Clients,
}

impl ClientRowWriter<'_> {
    /// The id a row's new client gets.
    fn client_id(&self, line: u64) -> Uuid {
        self.batch.row_id(line, b"client")
    }

    /// A row that failed with one error.
    fn reported(&self, row: &ParsedRow, field: &str, rule: &str, message: &str) -> RowResult {
        RowResult::Failed(vec![self.batch.reported(row, field, rule, message)])
    }

    /// Writes a batch of rows; results in row order.
    pub async fn write(&self, rows: &[ParsedRow]) -> Result<Vec<RowResult>, CrmError> {
        let names: Vec<String> = rows.iter().map(|r| fold(&r.client.name)).collect();
        let distinct: Vec<&String> = names
            .iter()
            .filter(|n| !n.is_empty())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let claimed = self.claimed(&distinct).await?;
        let holders = visible_namesakes(self.clients, self.batch.importer, &distinct).await?;
        let mut seen: HashMap<&str, u64> = HashMap::new();
        let mut plans = Vec::with_capacity(rows.len());
        for (row, name) in rows.iter().zip(&names) {
            if !row.problems.is_empty() {
                plans.push(Plan::Done(self.batch.failed(row, row.problems.clone())));
                continue;
            }
            if name.is_empty() {
                let rule = ("name", "required", "a client needs a name");
                plans.push(Plan::Done(self.reported(row, rule.0, rule.1, rule.2)));
                continue;
            }
            let first = seen.get(name.as_str()).copied().or_else(|| {
                claimed
                    .get(name)
                    .map(|c| c.row)
                    .filter(|line| *line != row.line)
            });
            if let Some(first) = first {
                plans.push(Plan::Done(self.reported(
                    row,
                    "name",
                    "duplicate",
                    &format!("row {first} of this file has the same name; imported once"),
                )));
                continue;
            }
            seen.insert(name, row.line);
            let own = self.client_id(row.line);
            let others: Vec<Uuid> = holders
                .get(name)
                .into_iter()
                .flatten()
                .copied()
                .filter(|id| *id != own)
                .collect();
            plans.push(match (others.as_slice(), self.batch.mode) {
                ([], ImportMode::Update) => Plan::Done(RowResult::Skipped(self.batch.reported(
                    row,
                    "name",
                    "no_match",
                    "no client has this name; skipped (mode update)",
                ))),
                ([], _) => Plan::Create,
                ([_], ImportMode::Create) => Plan::Done(RowResult::Skipped(self.batch.reported(
                    row,
                    "name",
                    "exists",
                    "a client with this name exists; skipped (mode create)",
                ))),
                ([id], _) => Plan::Update(*id),
                (several, _) => Plan::Done(self.reported(
                    row,
                    "name",
                    "ambiguous",
                    &format!(
                        "{} clients have this name; change them one by one",
                        several.len()
                    ),
                )),
            });
        }
        let mut new = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            if !matches!(plans[i], Plan::Create) {
                continue;
            }
            match self.prepare(row).await {
                Ok(client) => new.push((i, client)),
                Err(CrmError::Validation(errors)) => {
                    plans[i] = Plan::Done(self.batch.failed(row, errors))
                }
                Err(e) => return Err(e),
            }
        }
        let records = new
            .iter()
            .map(|(_, c)| {
                Ok((
                    c.clone(),
                    imported_audit::<ClientKind>(
                        c,
                        self.batch.importer,
                        self.batch.import,
                        self.batch.at,
                    )?,
                ))
            })
            .collect::<Result<Vec<_>, CrmError>>()?;
        let outcomes = self
            .clients
            .insert_many(self.batch.tenant(), &records)
            .await?;
        let mut claims = Vec::new();
        let pk = import_pk(self.batch.tenant(), self.batch.import);
        for ((i, client), outcome) in new.iter().zip(outcomes) {
            plans[*i] = Plan::Done(match outcome {
                BulkOutcome::Created => {
                    let claim = NameClaim {
                        row: rows[*i].line,
                        client_id: client.id,
                    };
                    claims.push(to_item(&claim, key(pk.clone(), name_claim_sk(&names[*i])))?);
                    RowResult::Created(client.id)
                }
                BulkOutcome::Taken { field, message } => {
                    self.reported(&rows[*i], field, "exists", message)
                }
            });
        }
        self.clients.ctx.table.put_many(claims).await?;
        let mut results = Vec::with_capacity(rows.len());
        for (row, plan) in rows.iter().zip(plans) {
            results.push(match plan {
                Plan::Done(result) => result,
                Plan::Update(id) => self.update(row, id).await?,
                Plan::Create => return Err(CrmError::Internal("a row left unwritten".into())),
            });
        }
        Ok(results)
    }

    /// A row as a new client, validated like every create; owned by the importer unless the
    /// row names an owner.
    async fn prepare(&self, row: &ParsedRow) -> Result<crate::clients::Client, CrmError> {
        let mut input = row.client.clone();
        input
            .owner
            .get_or_insert_with(|| self.batch.importer.user_id.clone());
        let prepared = self
            .clients
            .prepare(
                self.batch.importer,
                input,
                Some(&row.custom),
                Some(self.batch.defs),
            )
            .await?;
        Ok(crate::clients::Client {
            id: self.client_id(row.line),
            created_at: self.batch.at,
            updated_at: self.batch.at,
            ..prepared
        })
    }

    /// Updates client `id` with the row's non-blank cells.
    async fn update(&self, row: &ParsedRow, id: Uuid) -> Result<RowResult, CrmError> {
        let source = format!("import:{}", self.batch.import);
        let custom = (!row.custom.is_empty()).then_some(&row.custom);
        update_outcome(self.batch.columns, row, "name", id, || async {
            let patch = ClientPatch::filling(row.client.clone());
            self.clients
                .patch_from(self.batch.importer, id, patch, custom, None, &source)
                .await
                .map(|c| c.version())
        })
        .await
    }

    /// The names this import created clients for, with their rows.
    async fn claimed(&self, names: &[&String]) -> Result<HashMap<String, NameClaim>, CrmError> {
        if names.is_empty() {
            return Ok(HashMap::new());
        }
        let pk = import_pk(self.batch.tenant(), self.batch.import);
        let keys = names
            .iter()
            .map(|n| Key::new(pk.clone(), name_claim_sk(n)))
            .collect();
        let items = self.clients.ctx.table.batch_get(keys, None).await?;
        items
            .into_iter()
            .map(|item| {
                let name = crate::store::item::text(&item, "SK")
                    .and_then(|sk| sk.strip_prefix("NAME#"))
                    .unwrap_or_default()
                    .to_string();
                Ok((name, from_item(item)?))
            })
            .collect()
    }
}

/// The clients `caller` sees under each (folded) name; two or more make a name ambiguous.
pub(super) async fn visible_namesakes(
    clients: &Clients,
    caller: &Caller,
    names: &[&String],
) -> Result<HashMap<String, Vec<Uuid>>, CrmError> {
    let tenant = caller.tenant_id.as_str();
    // Owned names: a stream of futures borrowing them would not be `Send` for every lifetime.
    let owned: Vec<String> = names.iter().map(|n| (*n).clone()).collect();
    let found: Vec<(String, Vec<Uuid>)> = futures::stream::iter(owned)
        .map(|name| async move {
            ids_named(clients, tenant, &name, NAMESAKES)
                .await
                .map(|ids| (name, ids))
        })
        .buffer_unordered(LOOKUP_CONCURRENCY)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<_, _>>()?;
    let ids: Vec<Uuid> = found.iter().flat_map(|(_, ids)| ids.clone()).collect();
    let records = clients.store.get_many(tenant, &ids).await?;
    Ok(found
        .into_iter()
        .map(|(name, ids)| {
            let visible = ids
                .into_iter()
                .filter(|id| records.get(id).is_some_and(|c| caller.sees(&c.access())))
                .collect();
            (name, visible)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_bands_or_head_counts() {
        assert_eq!(company_size("11-50"), Some(CompanySize::Small));
        assert_eq!(company_size("1001+"), Some(CompanySize::Enterprise));
        assert_eq!(company_size("250"), Some(CompanySize::Large));
        assert_eq!(company_size("1.200"), Some(CompanySize::Enterprise));
        assert_eq!(company_size("7"), Some(CompanySize::Micro));
        assert_eq!(company_size("many"), None);
    }

    #[test]
    fn statuses_read_in_english_and_german() {
        assert_eq!(client_status("Aktiv"), Some(ClientStatus::Active));
        assert_eq!(client_status("Interessent"), Some(ClientStatus::Prospect));
        assert_eq!(
            client_status("Ehemaliger Kunde"),
            Some(ClientStatus::Churned)
        );
        assert_eq!(client_status("churned"), Some(ClientStatus::Churned));
        assert_eq!(client_status("maybe"), None);
    }

    #[test]
    fn payment_terms_take_one_number_of_days() {
        assert_eq!(days("30"), Some(30));
        assert_eq!(days("30 Tage"), Some(30));
        assert_eq!(days("net 14"), Some(14));
        assert_eq!(days("10/30"), None);
        assert_eq!(days("sofort"), None);
    }

    #[test]
    fn domains_lose_scheme_www_and_path() {
        assert_eq!(domain_of("https://www.Acme.example/about"), "acme.example");
        assert_eq!(domain_of("acme.example"), "acme.example");
        assert_eq!(
            domain_of("http://shop.acme.example?x=1"),
            "shop.acme.example"
        );
    }
}
