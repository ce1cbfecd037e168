//! Saving the lead source catalogue (S8.2). The first save takes in every free-text
//! `lead_source` the tenant's contacts already have: they are read from the contacts' `all`
//! facet entries (the facets each entry lists, projected; no table scan and no record read)
//! and those the saved list lacks become entries of kind `other`, labelled with their key.

use crate::access::{Action, Policy, Subject};
use crate::contacts::ContactKind;
use crate::lead_sources::{self, LeadSource, LeadSources, LeadSourcesInput, SourceKind};
use crate::records::entries::FACETS;
use crate::records::{Kind, keys};
use crate::store::item::string_list;
use crate::store::{Query, Table};
use crate::{Caller, CrmError};
use std::collections::BTreeSet;

/// Every lead source value the tenant's live contacts have (from the `all` facet entries).
pub async fn sources_in_use(table: &Table, tenant: &str) -> Result<BTreeSet<String>, CrmError> {
    let base = keys::index_base(tenant, ContactKind::schema(), "all");
    let mut found = BTreeSet::new();
    for pk in keys::partitions(&base, true) {
        let mut start = None;
        loop {
            let page = table
                .query(Query::partition(pk.clone()).project(&[FACETS]).start(start))
                .await?;
            for item in &page.items {
                for facet in string_list(item, FACETS).unwrap_or_default() {
                    if let Some(source) = facet.strip_prefix("source:") {
                        found.insert(source.to_string());
                    }
                }
            }
            match page.last_key {
                Some(k) => start = Some(k),
                None => break,
            }
        }
    }
    Ok(found)
}

/// The sources imports and inbound mail give the leads they make.
const SYSTEM_SOURCES: [(&str, &str, SourceKind); 2] = [
    ("import", "Import", SourceKind::Import),
    ("inbound_email", "Inbound email", SourceKind::InboundEmail),
];

/// Replaces the catalogue (owners and admins; If-Match on its version). On the first save the
/// sources in use that the list lacks are added; the system's own sources always are.
pub async fn put(
    table: &Table,
    caller: &Caller,
    input: LeadSourcesInput,
    if_match: Option<u64>,
) -> Result<LeadSources, CrmError> {
    Policy::check(caller, Action::Write, Subject::Settings)?;
    let mut sources = lead_sources::validate(input)?;
    let current = lead_sources::load(table, &caller.tenant_id).await?;
    if if_match.is_some_and(|v| v != current.version) {
        return Err(CrmError::PreconditionFailed);
    }
    // The sources the system's own paths give a lead are always there (a catalogue without
    // them would fail every import row and every inbound lead).
    for (key, label, kind) in SYSTEM_SOURCES {
        if !sources.iter().any(|s| s.key == key) {
            sources.push(LeadSource {
                key: key.to_string(),
                label: label.to_string(),
                kind,
                utm_source: None,
                utm_medium: None,
                utm_campaign: None,
                active: true,
            });
        }
    }
    if !current.is_saved() {
        let listed: BTreeSet<String> = sources.iter().map(|s| s.key.clone()).collect();
        for key in sources_in_use(table, &caller.tenant_id).await? {
            if !listed.contains(&key) {
                sources.push(LeadSource {
                    label: key.clone(),
                    kind: if key == "import" {
                        SourceKind::Import
                    } else {
                        SourceKind::Other
                    },
                    key,
                    utm_source: None,
                    utm_medium: None,
                    utm_campaign: None,
                    active: true,
                });
            }
        }
    }
    lead_sources::save(table, &caller.tenant_id, &current, sources).await
}
