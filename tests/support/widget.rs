//! A record kind that exists only in the tests: all a kind declares to get every use case and
//! route of the engine (served by `api_kit::records::RecordsApi`), and what the generic suites
//! ([`super::suites`]) check on every kind.

use crm_shared::access::visibility::{PortalView, Principal, Visibility};
use crm_shared::custom_fields::{FieldValue, entries::Terms};
use crm_shared::errors::FieldErrors;
use crm_shared::records::*;
use crm_shared::values::{Patch, Timestamp, search, time::time_key};
use crm_shared::{CrmError, FieldError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Widget {
    pub id: Uuid,
    pub name: String,
    pub status: String,
    pub tags: Vec<String>,
    pub owner: Option<String>,
    pub team: Option<Uuid>,
    pub visibility: Visibility,
    pub shared_with: Vec<Principal>,
    pub created_at: Timestamp,
    pub created_by: String,
    pub updated_at: Timestamp,
    pub updated_by: String,
    pub version: u64,
    pub custom_fields: BTreeMap<String, FieldValue>,
    pub custom_terms: Terms,
    pub deleted_at: Option<Timestamp>,
    pub deleted_by: Option<String>,
}
crm_shared::record_bookkeeping!(Widget, portal = PortalView::Nothing, trash = true);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWidget {
    name: String,
    status: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    owner: Option<String>,
    team: Option<Uuid>,
    visibility: Option<Visibility>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WidgetPatch {
    #[serde(default)]
    name: Patch<String>,
    #[serde(default)]
    status: Patch<String>,
    #[serde(default)]
    tags: Patch<Vec<String>>,
}

fn status(raw: &str) -> Result<String, FieldError> {
    let known = ["draft", "live", "retired"].contains(&raw);
    let rule = FieldError::new("status", "one_of", "must be draft, live or retired");
    known.then(|| raw.to_string()).ok_or(rule)
}

fn tag(raw: &str) -> Result<String, FieldError> {
    Ok(search::fold(raw))
}

static SCHEMA: Schema = Schema {
    facets: &[
        Facet::of("tag", tag).sharded().selective(),
        Facet::of("status", status).sharded(),
    ],
    categories: [Some("status"), None],
    sorts: &[SortOrder::new("name", 1), SortOrder::new("updated_at", 2)],
    range_filters: &[RangeFilter::CREATED],
    search: true,
    ..Schema::new("widget", "WIDGET", "widgets")
};

/// A widget with these fields, or every broken rule.
fn checked(w: Widget, name: &str, st: &str) -> Result<Widget, Vec<FieldError>> {
    let mut e = FieldErrors::new();
    let name = e.required_text("name", name, 100);
    let status = status(st).map_err(|f| e.extend([f])).unwrap_or_default();
    e.finish(Widget { name, status, ..w })
}

pub struct WidgetKind;

impl Kind for WidgetKind {
    type Record = Widget;
    type Summary = Widget;
    type New = NewWidget;
    type Patch = WidgetPatch;

    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn create(w: NewWidget, _: &Stamp) -> Result<Widget, Vec<FieldError>> {
        let visibility = w.visibility.unwrap_or_default();
        let (owner, team, tags) = (w.owner, w.team, w.tags);
        let new = Widget {
            owner,
            team,
            tags,
            visibility,
            ..Widget::default()
        };
        checked(new, &w.name, w.status.as_deref().unwrap_or("draft"))
    }

    fn patch(w: &Widget, p: WidgetPatch) -> Result<Widget, CrmError> {
        let name = p.name.apply(Some(w.name.clone())).unwrap_or_default();
        let st = p.status.apply(Some(w.status.clone())).unwrap_or_default();
        let tags = p.tags.apply(Some(w.tags.clone())).unwrap_or_default();
        checked(Widget { tags, ..w.clone() }, &name, &st).map_err(CrmError::Validation)
    }

    fn summary(w: &Widget) -> Widget {
        w.clone()
    }

    fn facets(w: &Widget) -> Vec<(&'static str, String)> {
        let tags = w.tags.iter().map(|t| ("tag", search::fold(t)));
        std::iter::once(("status", w.status.clone()))
            .chain(tags)
            .collect()
    }

    fn sort_keys(w: &Widget) -> [Option<String>; crm_shared::records::keys::SORT_SLOTS] {
        let (name, updated) = (search::fold(&w.name), time_key(w.updated_at));
        [Some(name), Some(updated), None, None, None]
    }

    fn search_text(w: &Widget) -> SearchText {
        SearchText {
            names: vec![w.name.clone()],
            ..Default::default()
        }
    }
}
