//! What a record kind declares to the engine: its [`Schema`] (names, facets, sorts, search,
//! deletion), how its records are built and indexed ([`Kind`]), and the bookkeeping fields
//! every record carries ([`Record`], usually implemented with [`record_bookkeeping!`]).

use crate::Caller;
use crate::access::visibility::{Access, PortalView, Principal};
use crate::custom_fields::{Entity, FieldValue, entries::Terms};
use crate::errors::{CrmError, FieldError};
use crate::store::Item;
use crate::values::Timestamp;
use serde::{Serialize, de::DeserializeOwned};
use std::collections::BTreeMap;
use uuid::Uuid;

/// What happens to a deleted record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// It goes to the trash: out of every read and list, restorable for `days`, then removed
    /// by the table's TTL.
    Trash { days: i64 },
    /// It is removed; a tombstone (id, name, who, when) keeps its audit trail readable for
    /// owners and admins.
    Tombstone,
}

/// A filter dimension of a kind (`status`, `tag`, `client`, …): records are listed under each
/// of their values (a *facet*, `{dim}:{value}`).
#[derive(Debug, Clone, Copy)]
pub struct Facet {
    /// The dimension, as it prefixes its facets: `tag` → `tag:vip`.
    pub dim: &'static str,
    /// The list parameter that filters by it (`lead_source` for `source`).
    pub param: &'static str,
    /// Split into shards by record id: facets every import row lands in (a status, a source,
    /// a tag) would otherwise funnel a large import into one partition.
    pub sharded: bool,
    /// Narrow enough to drive a sorted list of a manager or member (their visibility checked
    /// on each entry) rather than their own scopes: tags, clients; not a status.
    pub selective: bool,
    /// Names one related record (a client): drives a list before any custom field filter.
    pub precise: bool,
    /// Normalises a filter value as the facet stores it (`VIP` → `vip`), or names the rule.
    pub parse: fn(&str) -> Result<String, FieldError>,
}

impl Facet {
    /// A facet dimension filtered by parameter `dim` (unsharded, not selective, not precise).
    pub const fn of(dim: &'static str, parse: fn(&str) -> Result<String, FieldError>) -> Self {
        Self {
            dim,
            param: dim,
            sharded: false,
            selective: false,
            precise: false,
            parse,
        }
    }

    /// Filtered by another parameter name.
    pub const fn param(self, param: &'static str) -> Self {
        Self { param, ..self }
    }

    pub const fn sharded(self) -> Self {
        Self {
            sharded: true,
            ..self
        }
    }

    pub const fn selective(self) -> Self {
        Self {
            selective: true,
            ..self
        }
    }

    pub const fn precise(self) -> Self {
        Self {
            precise: true,
            ..self
        }
    }
}

/// An order of a list besides creation: one of five sort slots (GSI3, GSI4, GSI5, GSI8, GSI9), each entry
/// keyed `{value}#{id}` there.
#[derive(Debug, Clone, Copy)]
pub struct SortOrder {
    /// The `sort` parameter: `name`, `updated_at`, …
    pub param: &'static str,
    /// 1 to 5.
    pub slot: u8,
}

impl SortOrder {
    pub const fn new(param: &'static str, slot: u8) -> Self {
        Self { param, slot }
    }
}

/// A range filter of a list: times, or values of a sort slot.
#[derive(Debug, Clone, Copy)]
pub enum RangeFilter {
    /// Parameters `{name}_from` and `{name}_to`, on the creation time (`slot: None`, the id) or
    /// on a sort slot holding time keys; records without a value there are not in the range.
    Between {
        name: &'static str,
        slot: Option<u8>,
    },
    /// Parameter `{param}`: a sort slot's time before it, or never (`never` is the slot's key
    /// for "no value", which sorts first).
    BeforeOrNever {
        param: &'static str,
        slot: u8,
        never: &'static str,
    },
    /// Parameters `{name}_min` and `{name}_max` (both included) on a sort slot whose keys
    /// `key` makes from a parameter (a deal's amount), or the rule it breaks.
    Values {
        name: &'static str,
        slot: u8,
        key: fn(&str) -> Result<String, crate::values::Invalid>,
    },
}

/// Everything the engine needs to know of a kind besides code.
#[derive(Debug)]
pub struct Schema {
    /// `contact`: errors, policy, audit entity names (`contact_audit`), custom field entity.
    pub name: &'static str,
    /// The record item: `T#{tenant}#{record}#{id}` / `{record}`.
    pub record: &'static str,
    /// The URL collection: `/contacts`.
    pub plural: &'static str,
    pub deletion: Deletion,
    /// Which record of this kind a portal user sees.
    pub portal: PortalView,
    /// Filter dimensions, most selective first: the planner drives a list by the first one a
    /// query filters on.
    pub facets: &'static [Facet],
    /// Up to two single-valued facet dimensions (`status`, `source`) that qualify every other
    /// facet's entries (through GSI6 and GSI7): a list filtered by a facet and one of these
    /// reads only the records having both.
    pub categories: [Option<&'static str>; 2],
    pub sorts: &'static [SortOrder],
    pub range_filters: &'static [RangeFilter],
    /// Whether records are searchable (`q`).
    pub search: bool,
    /// Top-level record fields that are not changes of their own in the audit trail (besides
    /// the bookkeeping every record has).
    pub audit_ignore: &'static [&'static str],
}

impl RangeFilter {
    /// `created_from` / `created_to`.
    pub const CREATED: RangeFilter = RangeFilter::Between {
        name: "created",
        slot: None,
    };
}

impl Schema {
    /// A kind named `name` (records `T#{t}#{record}#{id}`, routes `/{plural}`): to the trash
    /// for 30 days on delete, nothing for portal users, no facets, sorts or search until
    /// declared.
    pub const fn new(name: &'static str, record: &'static str, plural: &'static str) -> Self {
        Self {
            name,
            record,
            plural,
            deletion: Deletion::Trash { days: 30 },
            portal: PortalView::Nothing,
            facets: &[],
            categories: [None, None],
            sorts: &[],
            range_filters: &[],
            search: false,
            audit_ignore: &[],
        }
    }

    pub fn entity(&self) -> Entity {
        Entity::register(self.name)
    }

    pub fn facet(&self, dim: &str) -> Option<&Facet> {
        self.facets.iter().find(|f| f.dim == dim)
    }

    pub fn has_trash(&self) -> bool {
        matches!(self.deletion, Deletion::Trash { .. })
    }
}

/// The text a record is found by (`q`): name words (first, last, display name) are also indexed
/// in pairs for several-word searches; other words and email addresses are not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchText {
    pub names: Vec<String>,
    pub others: Vec<String>,
    pub emails: Vec<String>,
}

/// A value unique in the tenant that a record holds (a contact's email address): an item of
/// its own, claimed and released in the record's transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub pk: String,
    pub sk: String,
    /// The attribute naming the record that holds it (`contact_id`), and its entity name.
    pub holder: &'static str,
    pub entity: &'static str,
    /// The field a conflict is reported on, and the message.
    pub field: &'static str,
    pub message: &'static str,
}

/// The bookkeeping a record's write changes, borrowed mutably.
pub struct Bookkeeping<'a> {
    pub id: &'a mut Uuid,
    pub created_at: &'a mut Timestamp,
    pub created_by: &'a mut String,
    pub updated_at: &'a mut Timestamp,
    pub updated_by: &'a mut String,
    pub version: &'a mut u64,
    pub owner: &'a mut Option<String>,
    pub team: &'a mut Option<Uuid>,
    pub shared_with: &'a mut Vec<Principal>,
    pub custom_fields: &'a mut BTreeMap<String, FieldValue>,
    pub custom_terms: &'a mut Terms,
    /// `None` for kinds without a trash.
    pub deleted: Option<(&'a mut Option<Timestamp>, &'a mut Option<String>)>,
}

/// A stored record: what every kind's record type offers the engine.
pub trait Record:
    Clone + PartialEq + Serialize + DeserializeOwned + Send + Sync + std::fmt::Debug + 'static
{
    fn id(&self) -> Uuid;
    fn version(&self) -> u64;
    fn access(&self) -> Access<'_>;
    fn custom_fields(&self) -> &BTreeMap<String, FieldValue>;
    fn custom_terms(&self) -> &Terms;
    /// When it went to the trash (kinds with a trash), and who put it there.
    fn deleted_at(&self) -> Option<Timestamp>;
    fn bookkeeping(&mut self) -> Bookkeeping<'_>;
}

/// Implements [`Record`] for a struct with the standard bookkeeping fields: `id`,
/// `updated_at`, `updated_by`, `version`, `shared_with`, `custom_fields`, `custom_terms`, the
/// assignment (`owner`, `team`, `visibility`) on the struct or on a field of it
/// (`assignment = fields`), and for kinds with a trash `deleted_at` and `deleted_by`.
#[macro_export]
macro_rules! record_bookkeeping {
    ($t:ty, portal = $portal:expr, assignment = $($a:ident).*, trash = $trash:tt) => {
        impl $crate::records::Record for $t {
            fn id(&self) -> uuid::Uuid {
                self.id
            }
            fn version(&self) -> u64 {
                self.version
            }
            fn access(&self) -> $crate::access::visibility::Access<'_> {
                $crate::access::visibility::Access {
                    portal: $portal,
                    id: self.id,
                    owner: self$(.$a)*.owner.as_deref(),
                    team: self$(.$a)*.team,
                    visibility: self$(.$a)*.visibility,
                    shared_with: &self.shared_with,
                }
            }
            fn custom_fields(
                &self,
            ) -> &std::collections::BTreeMap<String, $crate::custom_fields::FieldValue> {
                &self.custom_fields
            }
            fn custom_terms(&self) -> &$crate::custom_fields::entries::Terms {
                &self.custom_terms
            }
            fn deleted_at(&self) -> Option<$crate::values::Timestamp> {
                $crate::record_bookkeeping!(@deleted_at self, $trash)
            }
            fn bookkeeping(&mut self) -> $crate::records::Bookkeeping<'_> {
                $crate::records::Bookkeeping {
                    id: &mut self.id,
                    created_at: &mut self.created_at,
                    created_by: &mut self.created_by,
                    updated_at: &mut self.updated_at,
                    updated_by: &mut self.updated_by,
                    version: &mut self.version,
                    owner: &mut self$(.$a)*.owner,
                    team: &mut self$(.$a)*.team,
                    shared_with: &mut self.shared_with,
                    custom_fields: &mut self.custom_fields,
                    custom_terms: &mut self.custom_terms,
                    deleted: $crate::record_bookkeeping!(@deleted self, $trash),
                }
            }
        }
    };
    (@deleted_at $s:ident, true) => { $s.deleted_at };
    (@deleted_at $s:ident, false) => { None };
    (@deleted $s:ident, true) => { Some((&mut $s.deleted_at, &mut $s.deleted_by)) };
    (@deleted $s:ident, false) => { None };
    ($t:ty, portal = $portal:expr, trash = $trash:tt) => {
        $crate::record_bookkeeping!($t, portal = $portal, assignment = , trash = $trash);
    };
}

/// Who made a change, and when: the bookkeeping of a new record or version.
#[derive(Debug, Clone)]
pub struct Stamp {
    pub id: Uuid,
    pub actor: String,
    pub at: Timestamp,
}

impl Stamp {
    /// A new record's id and creation by `caller`.
    pub fn new(caller: &Caller) -> Self {
        Self {
            id: crate::values::new_id(),
            actor: caller.user_id.clone(),
            at: crate::values::now(),
        }
    }
}

/// A kind of record: its schema, how its records are made from requests, and what is indexed.
/// The engine ([`super::Records`]) does the rest: visibility, policy, audit, custom fields,
/// trash, index entries, lists, cursors.
pub trait Kind: Send + Sync + Sized + 'static {
    type Record: Record;
    /// A list row: what the index entries carry and a list returns.
    type Summary: Serialize + DeserializeOwned + Clone + Send + Sync + std::fmt::Debug + 'static;
    /// The body of a create (without `custom_fields`).
    type New: DeserializeOwned + Send;
    /// The body of a merge patch (without `custom_fields`).
    type Patch: DeserializeOwned + Send;

    fn schema() -> &'static Schema;

    /// A new record from a create body, or every broken rule. The engine then sets its id,
    /// creation and version from `stamp`, and defaults owner and team when the body left them
    /// empty.
    fn create(input: Self::New, stamp: &Stamp) -> Result<Self::Record, Vec<FieldError>>;

    /// The record with a merge patch applied and validated (bookkeeping not yet bumped).
    fn patch(current: &Self::Record, patch: Self::Patch) -> Result<Self::Record, CrmError>;

    fn summary(record: &Self::Record) -> Self::Summary;

    /// The record's values of the schema's facet dimensions (`("tag", "vip")`), normalised as
    /// [`Facet::parse`] normalises a filter.
    fn facets(record: &Self::Record) -> Vec<(&'static str, String)>;

    /// The record's value in each sort slot (without the `#{id}` the engine appends).
    fn sort_keys(record: &Self::Record) -> [Option<String>; super::keys::SORT_SLOTS];

    fn search_text(_record: &Self::Record) -> SearchText {
        SearchText::default()
    }

    /// Adjusts a record's response (values computed at the time of reading).
    fn presented(_record: &Self::Record, _json: &mut serde_json::Map<String, serde_json::Value>) {}

    /// Unique values the record holds while it is live (see [`Claim`]).
    fn claims(_tenant: &str, _record: &Self::Record) -> Vec<Claim> {
        Vec::new()
    }

    /// More attributes of the record item (indexes of its own, e.g. a client's parent).
    fn record_attributes(_tenant: &str, _record: &Self::Record) -> Item {
        Item::new()
    }

    /// The name a tombstone keeps (kinds deleted with [`Deletion::Tombstone`]).
    fn title(_record: &Self::Record) -> String {
        String::new()
    }

    /// Rules that need the table (a client's parent exists and closes no cycle), and what a
    /// record takes from other items (a deal's status from its stage's kind).
    fn check_write(
        _records: &super::Records<Self>,
        _caller: &Caller,
        _before: Option<&Self::Record>,
        _after: &mut Self::Record,
    ) -> impl Future<Output = Result<(), CrmError>> + Send {
        async { Ok(()) }
    }

    /// More writes of the change from `before` to `after`, in the record's own transaction: a
    /// deal's stage history entry (put once), its board aggregates (counters added to).
    fn companions(
        _tenant: &str,
        _before: Option<&Self::Record>,
        _after: Option<&Self::Record>,
    ) -> Result<Vec<crate::store::WriteOp>, CrmError> {
        Ok(Vec::new())
    }

    /// Rules a delete must pass (a client without subsidiaries or linked contacts).
    fn check_delete(
        _records: &super::Records<Self>,
        _caller: &Caller,
        _record: &Self::Record,
    ) -> impl Future<Output = Result<(), CrmError>> + Send {
        async { Ok(()) }
    }
}
