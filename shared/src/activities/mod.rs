//! Activities (S6): every touch with a customer — emails, chats, tickets, calls, meetings,
//! notes, tasks — as a kind of the record engine (visibility, audit, custom fields, trash,
//! lists and cursors come from it). An activity has its own owner, team and visibility: being
//! linked to a contact the caller sees does not show it.
//!
//! Timelines are lists of the engine: an activity is listed under each contact, its deal, and
//! every client it reaches (its own and its contacts' clients when written), sorted by when it
//! happened — a page of a client's timeline reads that page, not the client's contacts.
//!
//! Use cases besides the engine's: [`log`] (a create that also keeps the contacts' last contact
//! and the deal's last activity), [`log_once`] for system paths redelivering the same event,
//! the timelines and a user's open tasks ([`timeline`]), and touches ([`touches`]).

mod model;
pub mod subject_rights;
pub mod timeline;
pub mod touches;

pub use model::{
    Activity, ActivityAttachment, ActivityFields, ActivityPatch, ActivitySummary, ActivityType,
    CallOutcome, Direction, NewActivity, Origin, TicketState, parse_fields,
};

use crate::Caller;
use crate::clients::ClientKind;
use crate::contacts::ContactKind;
use crate::custom_fields::Reference;
use crate::deals::DealKind;
use crate::errors::{FieldErrors, FieldPath};
use crate::records::query::{exact_facet, uuid_facet};
use crate::records::{
    Facet, Kind, RangeFilter, Record, RecordStore, Records, Schema, SortOrder, Stamp,
};
use crate::values::time::time_key;
use crate::{CrmError, FieldError};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The due-date key of a task without one: after every date.
const NO_DUE: &str = "9";

fn type_facet(raw: &str) -> Result<String, FieldError> {
    ActivityType::parse(raw)
        .map(|t| t.as_str().to_string())
        .ok_or_else(|| {
            FieldError::new(
                "type",
                "one_of",
                "must be email, chat, ticket, call, meeting, note or task",
            )
        })
}

/// A timeline filtered by type (`{id}.{type}`): the record and the type in one facet, so the
/// page reads only its rows (the type alone is a category, which qualifies creation order only).
fn subject_type(raw: &str) -> Result<String, FieldError> {
    let bad = || FieldError::new("type", "one_of", "a record id and an activity type");
    let (id, t) = raw.split_once('.').ok_or_else(bad)?;
    let id: Uuid = id.parse().map_err(|_| bad())?;
    let t = type_facet(t)?;
    Ok(format!("{id}.{t}"))
}

fn contact_facet(raw: &str) -> Result<String, FieldError> {
    uuid_facet("contact")(raw)
}

fn deal_facet(raw: &str) -> Result<String, FieldError> {
    uuid_facet("deal")(raw)
}

fn client_facet(raw: &str) -> Result<String, FieldError> {
    uuid_facet("client")(raw)
}

static SCHEMA: Schema = Schema {
    // Most selective first: the planner drives a list by the first one filtered on.
    facets: &[
        Facet::of("contact_type", subject_type)
            .selective()
            .precise(),
        Facet::of("deal_type", subject_type).selective().precise(),
        Facet::of("client_type", subject_type).selective().precise(),
        Facet::of("contact", contact_facet).selective().precise(),
        Facet::of("deal", deal_facet).selective().precise(),
        Facet::of("client", client_facet).selective().precise(),
        // Open tasks by assignee: a user's task list.
        Facet::of("open_task", exact_facet)
            .param("open_tasks_of")
            .selective(),
        Facet::of("type", type_facet).sharded(),
    ],
    categories: [Some("type"), None],
    sorts: &[
        SortOrder::new("occurred_at", 1),
        SortOrder::new("due_at", 2),
        SortOrder::new("updated_at", 3),
    ],
    range_filters: &[
        RangeFilter::CREATED,
        RangeFilter::Between {
            name: "occurred",
            slot: Some(1),
        },
        RangeFilter::Between {
            name: "due",
            slot: Some(2),
        },
    ],
    search: false,
    // Derived from the links; the links are the audited change.
    audit_ignore: &["timeline_client_ids", "done_at"],
    ..Schema::new("activity", "ACTIVITY", "activities")
};

/// Activities as a kind of the record engine.
pub struct ActivityKind;

/// The activities of a tenant: the engine's use cases for [`ActivityKind`].
pub type Activities = Records<ActivityKind>;

impl Kind for ActivityKind {
    type Record = Activity;
    type Summary = ActivitySummary;
    type New = NewActivity;
    type Patch = ActivityPatch;

    fn schema() -> &'static Schema {
        &SCHEMA
    }

    fn create(input: NewActivity, stamp: &Stamp) -> Result<Activity, Vec<FieldError>> {
        let fields = model::validate(model::parse_fields(input.0)?)?;
        let mut a = Activity {
            id: stamp.id,
            fields,
            timeline_client_ids: Vec::new(),
            done_at: None,
            origin: Origin::User,
            shared_with: Vec::new(),
            created_at: stamp.at,
            created_by: stamp.actor.clone(),
            updated_at: stamp.at,
            updated_by: stamp.actor.clone(),
            version: 1,
            custom_fields: Default::default(),
            custom_terms: Default::default(),
            deleted_at: None,
            deleted_by: None,
        };
        a.fields.occurred_at.get_or_insert(stamp.at);
        if a.fields.done == Some(true) {
            a.done_at = Some(stamp.at);
        }
        Ok(a)
    }

    fn patch(current: &Activity, patch: ActivityPatch) -> Result<Activity, CrmError> {
        let fields = model::apply(&current.fields, patch.0)?;
        let mut next = current.clone();
        let was_done = current.fields.done == Some(true);
        next.fields = fields;
        next.fields.occurred_at.get_or_insert(current.occurred_at());
        match (was_done, next.fields.done == Some(true)) {
            (false, true) => next.done_at = Some(crate::values::now()),
            (true, false) => next.done_at = None,
            _ => {}
        }
        Ok(next)
    }

    fn summary(a: &Activity) -> ActivitySummary {
        ActivitySummary::of(a)
    }

    fn facets(a: &Activity) -> Vec<(&'static str, String)> {
        let t = a.activity_type().as_str();
        let mut out = vec![("type", t.to_string())];
        let subjects = (a
            .contact_ids()
            .iter()
            .map(|c| ("contact", "contact_type", c)))
        .chain(a.fields.deal_id.iter().map(|d| ("deal", "deal_type", d)))
        .chain(
            a.timeline_client_ids
                .iter()
                .map(|c| ("client", "client_type", c)),
        );
        for (dim, typed, id) in subjects {
            out.push((dim, id.to_string()));
            out.push((typed, format!("{id}.{t}")));
        }
        out.extend(a.open_task_assignee().map(|u| ("open_task", u.to_string())));
        out
    }

    /// When it happened (timelines), an open task's due date (task lists), updated.
    fn sort_keys(a: &Activity) -> [Option<String>; crate::records::keys::SORT_SLOTS] {
        let due = a
            .open_task_assignee()
            .map(|_| a.fields.due_at.map_or_else(|| NO_DUE.to_string(), time_key));
        [
            Some(time_key(a.occurred_at())),
            due,
            Some(time_key(a.updated_at)),
            None,
            None,
        ]
    }

    fn title(a: &Activity) -> String {
        a.fields
            .subject
            .clone()
            .unwrap_or_else(|| a.activity_type().as_str().to_string())
    }

    /// Links the writer adds must be to records they see; a task's assignee is an active user;
    /// the clients whose timeline shows the activity follow its links.
    async fn check_write(
        activities: &Activities,
        caller: &Caller,
        before: Option<&Activity>,
        after: &mut Activity,
    ) -> Result<(), CrmError> {
        let table = &activities.ctx.table;
        let references = &activities.ctx.custom.references;
        let mut e = FieldErrors::new();
        let known = |id: &Uuid| before.is_some_and(|b| b.contact_ids().contains(id));
        for (i, id) in after.contact_ids().iter().enumerate() {
            if !known(id) && !references.visible(caller, &Reference::Contact(*id)).await? {
                e.push(
                    FieldPath::new("contact_ids").index(i),
                    "exists",
                    "no such contact",
                );
            }
        }
        if let Some(c) = after.fields.client_id {
            let unchanged = before.is_some_and(|b| b.fields.client_id == Some(c));
            if !unchanged && !references.visible(caller, &Reference::Client(c)).await? {
                e.push("client_id", "exists", "no such client");
            }
        }
        if let Some(d) = after.fields.deal_id {
            let unchanged = before.is_some_and(|b| b.fields.deal_id == Some(d));
            let deal = RecordStore::<DealKind>::new(table.clone())
                .get(&caller.tenant_id, d)
                .await?;
            let seen = deal.is_some_and(|d| d.deleted_at.is_none() && caller.sees(&d.access()));
            if !unchanged && !seen {
                e.push("deal_id", "exists", "no such deal");
            }
        }
        if let Some(user) = after.fields.assignee.as_deref() {
            let unchanged = before.is_some_and(|b| b.fields.assignee.as_deref() == Some(user));
            let active = user == caller.user_id
                || activities
                    .ctx
                    .directory
                    .user(&caller.tenant_id, user)
                    .await?
                    .is_some_and(|u| u.status == crate::directory::UserStatus::Active);
            if !unchanged && !active {
                e.push(
                    "assignee",
                    "exists",
                    "no active user with this id in the tenant",
                );
            }
        }
        e.into_result()?;
        after.timeline_client_ids = timeline_clients(activities, caller, after).await?;
        Ok(())
    }
}

/// The clients whose timeline shows `a`: its own client, then its contacts' clients.
async fn timeline_clients(
    activities: &Activities,
    caller: &Caller,
    a: &Activity,
) -> Result<Vec<Uuid>, CrmError> {
    let mut out: Vec<Uuid> = a.fields.client_id.into_iter().collect();
    if !a.contact_ids().is_empty() {
        let contacts = RecordStore::<ContactKind>::new(activities.ctx.table.clone())
            .get_many(&caller.tenant_id, a.contact_ids())
            .await?;
        for id in a.contact_ids() {
            for c in contacts
                .get(id)
                .map(|c| c.client_ids.as_slice())
                .unwrap_or_default()
            {
                if !out.contains(c) {
                    out.push(*c);
                }
            }
        }
    }
    // A client in the trash or gone keeps no timeline entries.
    if out.is_empty() {
        return Ok(out);
    }
    let live = RecordStore::<ClientKind>::new(activities.ctx.table.clone())
        .get_many(&caller.tenant_id, &out)
        .await?;
    out.retain(|c| live.contains_key(c));
    Ok(out)
}

/// Creates an activity (`POST /activities`) and keeps what it touches: its contacts' last
/// contact and touch counts, its deal's last activity.
pub async fn log(
    activities: &Activities,
    caller: &Caller,
    input: NewActivity,
    custom: Option<&Map<String, Value>>,
) -> Result<Activity, CrmError> {
    let a = activities.create(caller, input, custom).await?;
    touches::record(activities, &caller.tenant_id, &a).await?;
    Ok(a)
}

/// An activity made by the system (an inbound email, a sent message, a workflow step) with an
/// id derived from what caused it, so a redelivered cause makes it once: a second call finds
/// it and only completes its touches. `caller` is who it is made for (its owner by default).
pub async fn log_once(
    activities: &Activities,
    caller: &Caller,
    id: Uuid,
    origin: Origin,
    input: NewActivity,
) -> Result<Activity, CrmError> {
    let store = RecordStore::<ActivityKind>::new(activities.ctx.table.clone());
    if let Some(existing) = store.get(&caller.tenant_id, id).await? {
        touches::record(activities, &caller.tenant_id, &existing).await?;
        return Ok(existing);
    }
    let mut a = activities.prepare(caller, input, None, None).await?;
    a.id = id;
    a.origin = origin;
    let audit = Activities::audit(
        crate::audit::AuditAction::Created,
        None,
        Some(&a),
        &caller.user_id,
    )?;
    match activities
        .insert(&caller.tenant_id, &a, &audit, Vec::new())
        .await
    {
        Ok(()) => {}
        // A concurrent delivery wrote it first.
        Err(_) if store.get(&caller.tenant_id, id).await?.is_some() => {}
        Err(e) => return Err(CrmError::from(e)),
    }
    touches::record(activities, &caller.tenant_id, &a).await?;
    Ok(a)
}

/// Changes an activity (`PATCH /activities/{id}`); a change of its time or links touches again.
pub async fn change(
    activities: &Activities,
    caller: &Caller,
    id: Uuid,
    patch: ActivityPatch,
    custom: Option<&Map<String, Value>>,
    if_match: Option<u64>,
) -> Result<Activity, CrmError> {
    let a = activities
        .patch(caller, id, patch, custom, if_match)
        .await?;
    touches::record(activities, &caller.tenant_id, &a).await?;
    Ok(a)
}

/// Every item a new activity is stored as (the record and its index entries; no audit entry),
/// and how many writes its creation is in all: for loading a tenant in benchmarks.
pub fn stored_items(
    tenant: &str,
    a: &Activity,
) -> Result<(Vec<crate::store::Item>, usize), CrmError> {
    crate::records::write::stored_items::<ActivityKind>(tenant, a)
}
