//! The editable fields of a contact (S1.1), their input shape and their validation. Every
//! broken rule is reported with the field's path (`emails[1].address`) and the rule's name.

use crate::FieldError;
use crate::access::visibility::Visibility;
use crate::errors::{FieldErrors, FieldPath};
use crate::values::country::Country;
use crate::values::phone::Phone;
use crate::values::url::is_web_url;
use crate::values::{Email, ids};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const NAME_MAX: usize = 100;
pub const COMPANY_MAX: usize = 200;
pub const MAX_EMAILS: usize = 10;
pub const MAX_PHONES: usize = 10;
pub const MAX_ADDRESSES: usize = 5;
pub const MAX_SOCIAL: usize = 10;
pub const MAX_TAGS: usize = 20;
pub const TAG_MAX: usize = 50;
const URL_MAX: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleStatus {
    #[default]
    Lead,
    Prospect,
    Customer,
    Inactive,
}

impl LifecycleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lead => "lead",
            Self::Prospect => "prospect",
            Self::Customer => "customer",
            Self::Inactive => "inactive",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContactLabel {
    Work,
    Home,
    Mobile,
    Fax,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmailAddress {
    /// Lower-cased; unique within the tenant across all contacts' addresses.
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<ContactLabel>,
    pub primary: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct PhoneNumber {
    /// As entered, whitespace collapsed.
    pub number: String,
    /// E.164 (`+4930123456`) when the country is known (an international prefix, the entry's
    /// `country`, or the contact's first address country).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e164: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<ContactLabel>,
    pub primary: bool,
    /// The country the number was read in, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<ContactLabel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2, upper-case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum SocialNetwork {
    Linkedin,
    Xing,
    X,
    Facebook,
    Instagram,
    Github,
    Youtube,
    Tiktok,
    Mastodon,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SocialProfile {
    pub network: SocialNetwork,
    /// A profile URL (`https://…`) or a handle (`@ada`).
    pub url: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailInput {
    pub address: String,
    #[serde(default)]
    pub label: Option<ContactLabel>,
    #[serde(default)]
    pub primary: bool,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneInput {
    pub number: String,
    #[serde(default)]
    pub label: Option<ContactLabel>,
    #[serde(default)]
    pub primary: bool,
    /// ISO 3166-1 alpha-2 country the number belongs to, for numbers without `+`.
    #[serde(default)]
    pub country: Option<String>,
}

/// The validated, normalised, editable fields of a contact.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ContactFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Set when the display name was given explicitly rather than derived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explicit_display_name: Option<String>,
    /// The primary address first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<EmailAddress>,
    /// The primary number first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<PhoneNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// Company as text; links to client records are `client_ids` (S1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<ContactAddress>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub social_profiles: Vec<SocialProfile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthday: Option<NaiveDate>,
    /// Case-insensitively unique, in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// The user who owns the contact (default: its creator).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// The team the contact belongs to (default: the creator's team when they have one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Uuid>,
    #[serde(default)]
    pub visibility: Visibility,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_source: Option<String>,
    #[serde(default)]
    pub lifecycle_status: LifecycleStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_contacted_at: Option<DateTime<Utc>>,
    /// The contact asked not to get email (set by them through an unsubscribe link, too).
    #[serde(default)]
    pub email_opt_out: bool,
    /// No outreach of any kind.
    #[serde(default)]
    pub do_not_contact: bool,
}

/// Body of `POST /contacts` (and the merged state of a PATCH): every editable field, all
/// optional. Anything else (id, tenant, version, timestamps, audit fields) is refused.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Overrides the derived display name.
    pub display_name: Option<String>,
    /// Shorthand for `emails` with one primary address.
    pub email: Option<String>,
    pub emails: Option<Vec<EmailInput>>,
    pub phones: Option<Vec<PhoneInput>>,
    pub job_title: Option<String>,
    pub company: Option<String>,
    pub website: Option<String>,
    pub addresses: Option<Vec<ContactAddress>>,
    pub social_profiles: Option<Vec<SocialProfile>>,
    pub birthday: Option<NaiveDate>,
    pub tags: Option<Vec<String>>,
    pub owner: Option<String>,
    pub team: Option<Uuid>,
    pub visibility: Option<Visibility>,
    pub lead_source: Option<String>,
    pub lifecycle_status: Option<LifecycleStatus>,
    pub last_contacted_at: Option<DateTime<Utc>>,
    /// No email (default false).
    pub email_opt_out: Option<bool>,
    /// No outreach of any kind (default false).
    pub do_not_contact: Option<bool>,
    /// Custom field values by key, in the plain JSON shape of each type (S3.3).
    #[schema(value_type = Option<Object>)]
    pub custom_fields: Option<serde_json::Map<String, serde_json::Value>>,
    /// How the contact enters: set by the creating path (import, web form, …), never by a body.
    #[serde(skip)]
    #[schema(ignore)]
    pub entry: Option<super::EntryInput>,
}

/// A lead source key (S8.2): lower-case letters, digits, `-` and `_`, 1–50 characters.
pub fn is_valid_key(s: &str) -> bool {
    ids::is_valid_key(s)
}

impl ContactFields {
    /// Normalises and validates; every violated rule is reported, not just the first.
    pub fn validate(raw: NewContact) -> Result<Self, Vec<FieldError>> {
        let mut e = FieldErrors::new();
        let first_name = e.text("first_name", raw.first_name, NAME_MAX);
        let last_name = e.text("last_name", raw.last_name, NAME_MAX);
        let explicit_display_name = e.text("display_name", raw.display_name, NAME_MAX * 2);
        let company = e.text("company", raw.company, COMPANY_MAX);
        let job_title = e.text("job_title", raw.job_title, NAME_MAX);

        let shorthand = raw.email.is_some() && raw.emails.is_none();
        let email_inputs = match (raw.email, raw.emails) {
            (Some(_), Some(_)) => {
                e.push("email", "one_of", "give `email` or `emails`, not both");
                Vec::new()
            }
            (Some(one), None) if one.trim().is_empty() => Vec::new(),
            (Some(one), None) => vec![EmailInput {
                address: one,
                label: None,
                primary: true,
            }],
            (None, many) => many.unwrap_or_default(),
        };
        let before = e.len();
        let emails = validate_emails(&mut e, email_inputs);
        if shorthand {
            // Errors about the `email` shorthand name the field the caller sent.
            e.rename_since(before, "email");
        }

        let addresses = raw.addresses.unwrap_or_default();
        if addresses.len() > MAX_ADDRESSES {
            e.push(
                "addresses",
                "max_items",
                format!("at most {MAX_ADDRESSES} addresses"),
            );
        }
        let addresses: Vec<ContactAddress> = addresses
            .into_iter()
            .enumerate()
            .map(|(i, a)| validate_address(&mut e, i, a))
            .collect();
        let default_country = addresses.iter().find_map(|a| a.country.clone());
        let phones = validate_phones(
            &mut e,
            raw.phones.unwrap_or_default(),
            default_country.as_deref(),
        );

        let website = e.url("website", raw.website, URL_MAX);
        let social = raw.social_profiles.unwrap_or_default();
        if social.len() > MAX_SOCIAL {
            e.push(
                "social_profiles",
                "max_items",
                format!("at most {MAX_SOCIAL} profiles"),
            );
        }
        let mut social_profiles = Vec::new();
        for (i, p) in social.into_iter().enumerate() {
            let field = FieldPath::new("social_profiles").index(i).field("url");
            match crate::values::text::text(&p.url, URL_MAX) {
                Ok(Some(url))
                    if is_web_url(&url)
                        || (url.starts_with('@') && url.len() > 1 && !url.contains(' ')) =>
                {
                    social_profiles.push(SocialProfile {
                        network: p.network,
                        url,
                    })
                }
                Ok(_) => e.push(field, "url", "must be an http(s) URL or an @handle"),
                Err(invalid) => e.invalid(field, invalid),
            }
        }

        let today = crate::values::now().date_naive();
        if let Some(b) = raw.birthday {
            if b > today || b < NaiveDate::from_ymd_opt(1900, 1, 1).expect("valid date") {
                e.push("birthday", "range", "must be between 1900-01-01 and today");
            }
        }
        if raw
            .last_contacted_at
            .is_some_and(|t| t > crate::values::now() + chrono::Duration::minutes(5))
        {
            e.push(
                "last_contacted_at",
                "not_future",
                "must not be in the future",
            );
        }

        let tags = validate_tags(&mut e, raw.tags.unwrap_or_default());
        let owner = raw
            .owner
            .filter(|o| !o.trim().is_empty())
            .and_then(|o| e.check("owner", ids::user_id(&o)));
        let lead_source = raw
            .lead_source
            .and_then(|s| e.check("lead_source", ids::key(&s)).flatten());

        let fields = Self {
            first_name,
            last_name,
            explicit_display_name,
            emails,
            phones,
            job_title,
            company,
            website,
            addresses,
            social_profiles,
            birthday: raw.birthday,
            tags,
            owner,
            team: raw.team,
            visibility: raw.visibility.unwrap_or_default(),
            lead_source,
            lifecycle_status: raw.lifecycle_status.unwrap_or_default(),
            last_contacted_at: raw.last_contacted_at,
            email_opt_out: raw.email_opt_out.unwrap_or(false),
            do_not_contact: raw.do_not_contact.unwrap_or(false),
        };
        if e.is_empty() && fields.display_name().is_none() {
            e.push(
                "first_name",
                "required_one_of",
                "give at least one of first_name, last_name, display_name, company or email",
            );
        }
        e.finish(fields)
    }

    /// The primary email address.
    pub fn email(&self) -> Option<&str> {
        self.emails.first().map(|e| e.address.as_str())
    }

    /// The same fields as an input, for merging a PATCH into them.
    pub fn to_input(&self) -> NewContact {
        NewContact {
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            display_name: self.explicit_display_name.clone(),
            email: None,
            emails: Some(
                self.emails
                    .iter()
                    .map(|e| EmailInput {
                        address: e.address.clone(),
                        label: e.label,
                        primary: e.primary,
                    })
                    .collect(),
            ),
            phones: Some(
                self.phones
                    .iter()
                    .map(|p| PhoneInput {
                        number: p.number.clone(),
                        label: p.label,
                        primary: p.primary,
                        country: p.country.clone(),
                    })
                    .collect(),
            ),
            job_title: self.job_title.clone(),
            company: self.company.clone(),
            website: self.website.clone(),
            addresses: Some(self.addresses.clone()),
            social_profiles: Some(self.social_profiles.clone()),
            birthday: self.birthday,
            tags: Some(self.tags.clone()),
            owner: self.owner.clone(),
            team: self.team,
            visibility: Some(self.visibility),
            lead_source: self.lead_source.clone(),
            lifecycle_status: Some(self.lifecycle_status),
            last_contacted_at: self.last_contacted_at,
            email_opt_out: Some(self.email_opt_out),
            do_not_contact: Some(self.do_not_contact),
            custom_fields: None,
            entry: None,
        }
    }

    pub fn display_name(&self) -> Option<String> {
        super::display_name(
            self.explicit_display_name.as_deref(),
            self.first_name.as_deref(),
            self.last_name.as_deref(),
            self.company.as_deref(),
            self.email(),
        )
    }
}

fn validate_emails(e: &mut FieldErrors, inputs: Vec<EmailInput>) -> Vec<EmailAddress> {
    if inputs.len() > MAX_EMAILS {
        e.push(
            "emails",
            "max_items",
            format!("at most {MAX_EMAILS} addresses"),
        );
    }
    let primaries = inputs.iter().filter(|i| i.primary).count();
    if primaries > 1 {
        e.push("emails", "one_primary", "at most one address is primary");
    }
    let mut out: Vec<EmailAddress> = Vec::new();
    for (i, input) in inputs.into_iter().enumerate() {
        let path = || FieldPath::new("emails").index(i).field("address");
        match e.check(crate::errors::LazyPath(path), Email::parse(&input.address)) {
            None => {}
            Some(address) if out.iter().any(|o| o.address == address.as_str()) => {
                e.push(path(), "unique", "the address is listed twice")
            }
            Some(address) => out.push(EmailAddress {
                address: address.into_string(),
                label: input.label,
                primary: input.primary,
            }),
        }
    }
    one_primary_first(out, |a| &mut a.primary)
}

fn validate_phones(
    e: &mut FieldErrors,
    inputs: Vec<PhoneInput>,
    default_country: Option<&str>,
) -> Vec<PhoneNumber> {
    if inputs.len() > MAX_PHONES {
        e.push(
            "phones",
            "max_items",
            format!("at most {MAX_PHONES} numbers"),
        );
    }
    if inputs.iter().filter(|i| i.primary).count() > 1 {
        e.push("phones", "one_primary", "at most one number is primary");
    }
    let mut out: Vec<PhoneNumber> = Vec::new();
    for (i, input) in inputs.into_iter().enumerate() {
        let path = |field: &'static str| {
            crate::errors::LazyPath(move || FieldPath::new("phones").index(i).field(field))
        };
        let country = match input.country.filter(|c| !c.trim().is_empty()) {
            None => default_country.map(str::to_string),
            Some(c) => match e.check(path("country"), Country::parse(&c)) {
                Some(c) => Some(c.to_string()),
                None => continue,
            },
        };
        match Phone::parse(&input.number, country.as_deref()).map(Phone::into_parts) {
            Err(invalid) => e.invalid(path("number"), invalid),
            Ok(p) => {
                let duplicate = out.iter().any(|o| match (&o.e164, &p.e164) {
                    (Some(a), Some(b)) => a == b,
                    _ => o.number == p.display,
                });
                if duplicate {
                    e.push(path("number"), "unique", "the number is listed twice");
                } else {
                    out.push(PhoneNumber {
                        number: p.display,
                        e164: p.e164,
                        label: input.label,
                        primary: input.primary,
                        country: p.country.or(country),
                    });
                }
            }
        }
    }
    one_primary_first(out, |p| &mut p.primary)
}

/// Exactly one primary, listed first: the first entry when none was marked.
fn one_primary_first<T>(mut list: Vec<T>, primary: impl Fn(&mut T) -> &mut bool) -> Vec<T> {
    if let Some(p) = list.iter_mut().position(|a| *primary(a)) {
        let first = list.remove(p);
        list.insert(0, first);
    }
    for (i, a) in list.iter_mut().enumerate() {
        *primary(a) = i == 0;
    }
    list
}

fn validate_address(e: &mut FieldErrors, i: usize, a: ContactAddress) -> ContactAddress {
    let path = |field: &'static str| {
        crate::errors::LazyPath(move || FieldPath::new("addresses").index(i).field(field))
    };
    ContactAddress {
        label: a.label,
        street: e.text(path("street"), a.street, 200),
        postal_code: e.text(path("postal_code"), a.postal_code, 20),
        city: e.text(path("city"), a.city, NAME_MAX),
        region: e.text(path("region"), a.region, NAME_MAX),
        country: e.country(path("country"), a.country),
    }
}

/// Tags as every kind keeps them: trimmed, case-insensitively unique, at most `MAX_TAGS`.
pub fn validate_tags(e: &mut FieldErrors, tags: Vec<String>) -> Vec<String> {
    if tags.len() > MAX_TAGS {
        e.push("tags", "max_items", format!("at most {MAX_TAGS} tags"));
    }
    let mut out: Vec<String> = Vec::new();
    // Each tag's key once (folding is the costly part of a tag).
    let mut keys: Vec<String> = Vec::new();
    for (i, t) in tags.into_iter().enumerate() {
        let path = || FieldPath::new("tags").index(i);
        match crate::values::text::text(&t, TAG_MAX) {
            Ok(None) => e.push(path(), "required", "a tag is not empty"),
            Ok(Some(t)) if t.contains('#') => e.push(path(), "no_hash", "a tag does not contain #"),
            // Tags compare case-insensitively: "VIP" and "vip" are one tag.
            Ok(Some(t)) => {
                let key = tag_key(&t);
                if !keys.contains(&key) {
                    keys.push(key);
                    out.push(t)
                }
            }
            Err(invalid) => e.invalid(path(), invalid),
        }
    }
    out
}

/// The key a tag is indexed and filtered by.
pub fn tag_key(tag: &str) -> String {
    crate::values::search::fold(tag)
}
