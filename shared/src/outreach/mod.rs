//! Outreach (S8.1): a touch made to a contact — a proposal on a platform, an email, a call, a
//! social message, a messenger chat — as a kind of the record engine (visibility, audit,
//! custom fields, trash, lists and cursors come from it). Listed per contact and per owner,
//! filtered by type, outcome, direction and the time it happened.

mod record;

pub use record::{
    Direction, MessengerApp, NewOutreach, Outcome, Outreach, OutreachPatch, OutreachType, Platform,
};

use crate::Caller;
use crate::custom_fields::Reference;
use crate::records::query::uuid_facet;
use crate::records::{Facet, Kind, RangeFilter, Records, Schema, SortOrder, Stamp};
use crate::values::time::time_key;
use crate::{CrmError, FieldError};

fn contact(raw: &str) -> Result<String, FieldError> {
    uuid_facet("contact")(raw)
}

fn one_of<T: serde::de::DeserializeOwned>(
    field: &'static str,
    raw: &str,
    message: &str,
) -> Result<String, FieldError> {
    serde_json::from_value::<T>(serde_json::Value::String(raw.into()))
        .map(|_| raw.to_string())
        .map_err(|_| FieldError::new(field, "one_of", message))
}

fn kind(raw: &str) -> Result<String, FieldError> {
    one_of::<OutreachType>(
        "type",
        raw,
        "must be platform, email, call, social or messenger",
    )
}

fn outcome(raw: &str) -> Result<String, FieldError> {
    one_of::<Outcome>(
        "outcome",
        raw,
        "must be pending, replied, no_answer, meeting_booked, interested, not_interested or bounced",
    )
}

fn direction(raw: &str) -> Result<String, FieldError> {
    one_of::<Direction>("direction", raw, "must be outbound or inbound")
}

static SCHEMA: Schema = Schema {
    // Most selective first: the planner drives a list by the first one filtered on.
    facets: &[
        Facet::of("contact", contact).selective().precise(),
        Facet::of("outcome", outcome).sharded(),
        Facet::of("type", kind).sharded(),
        Facet::of("direction", direction).sharded(),
    ],
    categories: [Some("type"), Some("outcome")],
    sorts: &[
        SortOrder::new("occurred_at", 1),
        SortOrder::new("updated_at", 2),
    ],
    range_filters: &[
        RangeFilter::CREATED,
        // The period the touches happened in: `occurred_from` / `occurred_to`.
        RangeFilter::Between {
            name: "occurred",
            slot: Some(1),
        },
    ],
    search: false,
    ..Schema::new("outreach", "OUTREACH", "outreach")
};

/// Outreach as a kind of the record engine.
pub struct OutreachKind;

/// The outreach of a tenant: the engine's use cases for [`OutreachKind`].
pub type OutreachRecords = Records<OutreachKind>;

impl Kind for OutreachKind {
    type Record = Outreach;
    type Summary = Outreach;
    type New = NewOutreach;
    type Patch = OutreachPatch;

    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn create(input: NewOutreach, _: &Stamp) -> Result<Outreach, Vec<FieldError>> {
        record::from_new(input)
    }

    fn patch(current: &Outreach, patch: OutreachPatch) -> Result<Outreach, CrmError> {
        record::apply(current, patch)
    }

    fn summary(o: &Outreach) -> Outreach {
        o.clone()
    }

    fn facets(o: &Outreach) -> Vec<(&'static str, String)> {
        let mut out = vec![
            ("contact", o.contact_id.to_string()),
            ("type", o.kind.as_str().to_string()),
            ("direction", o.direction.as_str().to_string()),
        ];
        out.extend(o.outcome.map(|x| ("outcome", x.as_str().to_string())));
        out
    }

    fn sort_keys(o: &Outreach) -> [Option<String>; crate::records::keys::SORT_SLOTS] {
        [
            Some(time_key(o.occurred_at)),
            Some(time_key(o.updated_at)),
            None,
            None,
            None,
        ]
    }

    /// The contact is visible to the writer when the record is created (it never changes).
    async fn check_write(
        records: &OutreachRecords,
        caller: &Caller,
        before: Option<&Outreach>,
        after: &mut Outreach,
    ) -> Result<(), CrmError> {
        if before.is_some_and(|b| b.contact_id == after.contact_id) {
            return Ok(());
        }
        let references = &records.ctx.custom.references;
        if !references
            .visible(caller, &Reference::Contact(after.contact_id))
            .await?
        {
            return Err(CrmError::validation(
                "contact_id",
                "exists",
                "no such contact",
            ));
        }
        Ok(())
    }
}

/// Records an outreach touch (`POST /outreach`): an outbound one is a touch of its contact,
/// which keeps the contact's last contact and 30 / 90-day touch counts (S8.5).
pub async fn create(
    records: &OutreachRecords,
    caller: &Caller,
    input: NewOutreach,
    custom: Option<&serde_json::Map<String, serde_json::Value>>,
) -> Result<Outreach, CrmError> {
    let o = records.create(caller, input, custom).await?;
    touch(records, &caller.tenant_id, &o).await?;
    Ok(o)
}

/// Changes an outreach record (`PATCH /outreach/{id}`); an outbound one moved in time or made
/// outbound touches its contact again (its touch moves with it).
pub async fn change(
    records: &OutreachRecords,
    caller: &Caller,
    id: uuid::Uuid,
    patch: <OutreachKind as crate::records::Kind>::Patch,
    custom: Option<&serde_json::Map<String, serde_json::Value>>,
    if_match: Option<u64>,
) -> Result<Outreach, CrmError> {
    let o = records.patch(caller, id, patch, custom, if_match).await?;
    touch(records, &caller.tenant_id, &o).await?;
    Ok(o)
}

/// Adds `o` to its contact's touches when it is outbound (once per outreach record).
pub async fn touch(records: &OutreachRecords, tenant: &str, o: &Outreach) -> Result<(), CrmError> {
    if o.direction != Direction::Outbound || o.deleted_at.is_some() {
        return Ok(());
    }
    let contacts: crate::contacts::Contacts = Records::new(records.ctx.clone());
    crate::activities::touches::touch_contact(&contacts, tenant, o.contact_id, o.occurred_at, o.id)
        .await
}

#[cfg(test)]
mod tests;
