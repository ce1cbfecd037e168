//! What a file's column can feed (S5.2): the targets, the header names each is known by (English
//! and German, and as HubSpot, Salesforce, Pipedrive and LinkedIn exports name them), custom
//! fields by key, `cf.{key}` or label, and the names an explicit mapping uses.

use crate::custom_fields::FieldDefinition;
use serde::{Deserialize, Serialize};

/// Every standard target, in the order a mapping's documentation lists them.
pub(super) const STANDARD_TARGETS: [Target; 20] = [
    Target::FirstName,
    Target::LastName,
    Target::FullName,
    Target::Email,
    Target::Company,
    Target::Phone { mobile: false },
    Target::Phone { mobile: true },
    Target::JobTitle,
    Target::Website,
    Target::Street,
    Target::PostalCode,
    Target::City,
    Target::Region,
    Target::Country,
    Target::Birthday,
    Target::Tags,
    Target::LeadSource,
    Target::Status,
    Target::Owner,
    Target::Team,
];

/// An explicit column mapping (S5.2): the columns of the file to contact fields. Columns it
/// does not name are ignored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    pub columns: Vec<ColumnMapping>,
    /// How slashed dates are written (`01/02/1970` is January or February depending on who
    /// wrote it): `dmy` or `mdy`. Without, only ISO and `dd.mm.yyyy` dates are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_order: Option<DateOrder>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ColumnMapping {
    /// The column's header, as in the file.
    pub column: String,
    /// `first_name`, `last_name`, `name` (split at the first space), `email` (several columns
    /// fill the list, the first is primary), `company`, `phone`, `mobile` (several columns fill
    /// the list), `job_title`, `website`, `street`, `postal_code`, `city`, `region`, `country`,
    /// `birthday`, `tags`, `lead_source`, `status`, `cf.{key}` (a custom field), or `ignore`.
    pub target: String,
    /// `tags`: what separates tags in a cell (default: any of `,` `;` `|`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub separator: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DateOrder {
    /// Day first: `31/12/1970`.
    Dmy,
    /// Month first: `12/31/1970`.
    Mdy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Target {
    FirstName,
    LastName,
    /// "Name": split into first and last name at the first space.
    FullName,
    Email,
    Company,
    /// A phone number; `mobile`: a mobile column.
    Phone {
        mobile: bool,
    },
    JobTitle,
    Website,
    Street,
    PostalCode,
    City,
    Region,
    Country,
    Birthday,
    /// Several tags in one cell.
    Tags,
    LeadSource,
    Status,
    /// The owner, by user email (or user id).
    Owner,
    /// The team, by name (or id).
    Team,
    /// A custom field, by key.
    Custom(String),
}

impl Target {
    /// A standard field by its English or German name, else a custom field by key, `cf.{key}`
    /// or label (archived fields take no new values and are not mapped).
    pub(super) fn from_header(header: &str, defs: &[FieldDefinition]) -> Option<Self> {
        if let Some(t) = Self::standard(header) {
            return Some(t);
        }
        let h = header.trim();
        let key = h.strip_prefix("cf.").unwrap_or(h);
        defs.iter()
            .filter(|d| !d.archived)
            .find(|d| d.key == key || d.label.eq_ignore_ascii_case(h))
            .map(|d| Self::Custom(d.key.clone()))
    }

    pub(super) fn standard(header: &str) -> Option<Self> {
        let h: String = header
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric())
            .collect();
        Some(match h.as_str() {
            "firstname" | "givenname" | "vorname" => Self::FirstName,
            "lastname" | "surname" | "familyname" | "nachname" => Self::LastName,
            "name" | "fullname" | "contactname" | "kontakt" => Self::FullName,
            "email" | "emailaddress" | "mail" | "emailadresse" | "primaryemail" | "email1" => {
                Self::Email
            }
            "company" | "companyname" | "organization" | "organisation" | "organizationname"
            | "account" | "accountname" | "firma" | "unternehmen" | "firmenname" => Self::Company,
            "phone"
            | "phonenumber"
            | "telephone"
            | "tel"
            | "workphone"
            | "businessphone"
            | "telefon"
            | "telefonnummer"
            | "telefongeschäftlich"
            | "phone1" => Self::Phone { mobile: false },
            "mobile" | "mobilephone" | "mobilephonenumber" | "cell" | "cellphone" | "mobil"
            | "handy" | "mobiltelefon" | "mobilnummer" => Self::Phone { mobile: true },
            "jobtitle" | "position" | "title" | "funktion" | "berufsbezeichnung" => Self::JobTitle,
            "website" | "websiteurl" | "web" | "homepage" | "url" | "webseite" => Self::Website,
            "street" | "streetaddress" | "address" | "addressline1" | "mailingstreet"
            | "strasse" | "straße" | "adresse" | "anschrift" => Self::Street,
            "zip"
            | "zipcode"
            | "postalcode"
            | "postcode"
            | "mailingzippostalcode"
            | "plz"
            | "postleitzahl" => Self::PostalCode,
            "city" | "town" | "mailingcity" | "ort" | "stadt" | "wohnort" => Self::City,
            "state"
            | "region"
            | "stateregion"
            | "province"
            | "mailingstateprovince"
            | "bundesland" => Self::Region,
            "country" | "countryregion" | "countrycode" | "mailingcountry" | "land" => {
                Self::Country
            }
            "birthday" | "birthdate" | "dateofbirth" | "geburtstag" | "geburtsdatum" => {
                Self::Birthday
            }
            "tags" | "tag" | "labels" | "schlagworte" | "schlagwörter" => Self::Tags,
            "leadsource" | "source" | "originalsource" | "quelle" | "leadquelle" => {
                Self::LeadSource
            }
            "status" | "lifecyclestatus" | "lifecyclestage" | "leadstatus" | "lebenszyklus" => {
                Self::Status
            }
            "owner" | "owneremail" | "contactowner" | "contactowneremail" | "recordowner"
            | "besitzer" | "verantwortlich" | "zuständig" | "kontaktinhaber" => Self::Owner,
            "team" | "teamname" | "contactteam" => Self::Team,
            _ => return None,
        })
    }

    /// The target's name in an explicit mapping (and in a preview's suggestion).
    pub(super) fn name(&self) -> String {
        match self {
            Self::FirstName => "first_name".into(),
            Self::LastName => "last_name".into(),
            Self::FullName => "name".into(),
            Self::Email => "email".into(),
            Self::Company => "company".into(),
            Self::Phone { mobile: false } => "phone".into(),
            Self::Phone { mobile: true } => "mobile".into(),
            Self::JobTitle => "job_title".into(),
            Self::Website => "website".into(),
            Self::Street => "street".into(),
            Self::PostalCode => "postal_code".into(),
            Self::City => "city".into(),
            Self::Region => "region".into(),
            Self::Country => "country".into(),
            Self::Birthday => "birthday".into(),
            Self::Tags => "tags".into(),
            Self::LeadSource => "lead_source".into(),
            Self::Status => "status".into(),
            Self::Owner => "owner".into(),
            Self::Team => "team".into(),
            Self::Custom(key) => format!("cf.{key}"),
        }
    }

    /// A target by its mapping name; `cf.{key}` names a custom field the importer may write.
    pub(super) fn from_name(name: &str, defs: &[FieldDefinition]) -> Option<Self> {
        if let Some(key) = name.strip_prefix("cf.") {
            return defs
                .iter()
                .find(|d| !d.archived && d.key == key)
                .map(|d| Self::Custom(d.key.clone()));
        }
        STANDARD_TARGETS.iter().find(|t| t.name() == name).cloned()
    }

    /// Whether several columns may feed it (the lists and the address parts may not repeat).
    pub(super) fn repeats(&self) -> bool {
        matches!(self, Self::Email | Self::Phone { .. } | Self::Tags)
    }

    /// The contact field a validation error names.
    pub(super) fn field(&self) -> String {
        match self {
            Self::FirstName | Self::FullName => "first_name".into(),
            Self::LastName => "last_name".into(),
            Self::Email => "email".into(),
            Self::Company => "company".into(),
            Self::Phone { .. } => "phones".into(),
            Self::JobTitle => "job_title".into(),
            Self::Website => "website".into(),
            Self::Street | Self::PostalCode | Self::City | Self::Region | Self::Country => {
                "addresses".into()
            }
            Self::Birthday => "birthday".into(),
            Self::Tags => "tags".into(),
            Self::LeadSource => "lead_source".into(),
            Self::Status => "lifecycle_status".into(),
            Self::Owner => "owner".into(),
            Self::Team => "team".into(),
            Self::Custom(key) => format!("custom_fields.{key}"),
        }
    }
}
