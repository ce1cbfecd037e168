//! What a file's column can feed (S5.2): the targets, the header names each is known by (English
//! and German, and as HubSpot, Salesforce, Pipedrive and LinkedIn exports name them), custom
//! fields by key, `cf.{key}` or label, and the names an explicit mapping uses.

use super::ImportEntity;
use crate::custom_fields::FieldDefinition;
use serde::{Deserialize, Serialize};

/// Every standard target, in the order a mapping's documentation lists them.
pub(super) const STANDARD_TARGETS: [Target; 21] = [
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
    Target::Note,
];

/// Every target of a clients import.
pub(super) const CLIENT_TARGETS: [Target; 20] = [
    Target::ClientName,
    Target::LegalName,
    Target::Domain,
    Target::Industry,
    Target::Size,
    Target::Status,
    Target::Email,
    Target::Phone { mobile: false },
    Target::Website,
    Target::Street,
    Target::PostalCode,
    Target::City,
    Target::Region,
    Target::Country,
    Target::VatId,
    Target::Currency,
    Target::PaymentTerms,
    Target::Tags,
    Target::Owner,
    Target::Team,
];

/// The standard targets of an entity.
pub(super) fn targets_of(entity: ImportEntity) -> &'static [Target] {
    match entity {
        ImportEntity::Contacts => &STANDARD_TARGETS,
        ImportEntity::Clients => &CLIENT_TARGETS,
    }
}

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
    /// `birthday`, `tags`, `lead_source`, `status`, `owner`, `team`, `note` (logged as a note
    /// activity on the contact), `cf.{key}` (a custom field), or `ignore`.
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
    /// A note on the contact: logged as a note activity (origin `import`).
    Note,
    /// A custom field, by key.
    Custom(String),
    /// Clients: the company's name (its match key in modes update and upsert).
    ClientName,
    LegalName,
    Domain,
    Industry,
    /// Clients: a size band (`11-50`) or a head count.
    Size,
    VatId,
    Currency,
    /// Clients: days until an invoice is due.
    PaymentTerms,
}

impl Target {
    /// A standard field by its English or German name, else a custom field by key, `cf.{key}`
    /// or label (archived fields take no new values and are not mapped).
    pub(super) fn from_header(
        entity: ImportEntity,
        header: &str,
        defs: &[FieldDefinition],
    ) -> Option<Self> {
        if let Some(t) = Self::standard_of(entity, header) {
            return Some(t);
        }
        let h = header.trim();
        let key = h.strip_prefix("cf.").unwrap_or(h);
        defs.iter()
            .filter(|d| !d.archived)
            .find(|d| d.key == key || d.label.eq_ignore_ascii_case(h))
            .map(|d| Self::Custom(d.key.clone()))
    }

    /// A standard field of `entity` by its English or German name or an export's header.
    pub(super) fn standard_of(entity: ImportEntity, header: &str) -> Option<Self> {
        match entity {
            ImportEntity::Contacts => Self::standard(&squeezed(header)),
            ImportEntity::Clients => Self::standard_client(&squeezed(header)),
        }
    }

    /// A client field by a header's squeezed form (HubSpot's company export, Pipedrive's
    /// organisations, Salesforce's accounts, German names).
    fn standard_client(h: &str) -> Option<Self> {
        Some(match h {
            "name" | "company" | "companyname" | "organization" | "organisation"
            | "organizationname" | "organisationname" | "account" | "accountname" | "client"
            | "clientname" | "customer" | "customername" | "firma" | "firmenname"
            | "unternehmen" | "unternehmensname" | "kunde" | "kundenname" => Self::ClientName,
            "legalname"
            | "registeredname"
            | "rechtlichername"
            | "firmierung"
            | "vollständigerfirmenname" => Self::LegalName,
            "domain" | "companydomainname" | "domainname" | "webdomain" | "domäne" => Self::Domain,
            "industry" | "sector" | "branche" | "industrie" => Self::Industry,
            "size"
            | "companysize"
            | "employees"
            | "numberofemployees"
            | "headcount"
            | "mitarbeiter"
            | "mitarbeiterzahl"
            | "anzahlmitarbeiter"
            | "unternehmensgröße"
            | "größe" => Self::Size,
            "vatid"
            | "vat"
            | "vatnumber"
            | "taxid"
            | "ustid"
            | "ustidnr"
            | "umsatzsteuerid"
            | "umsatzsteueridentifikationsnummer" => Self::VatId,
            "currency" | "währung" => Self::Currency,
            "paymentterms" | "paymenttermsdays" | "zahlungsziel" | "zahlungszieltage" => {
                Self::PaymentTerms
            }
            "mobile" | "mobilephone" | "handy" | "mobil" => return None,
            "owner" | "owneremail" | "companyowner" | "accountowner" | "organizationowner"
            | "recordowner" | "besitzer" | "verantwortlich" | "zuständig" => Self::Owner,
            "status" | "clientstatus" | "companystatus" | "lifecyclestage" | "kundenstatus" => {
                Self::Status
            }
            _ => match Self::standard(h)? {
                t @ (Self::Email
                | Self::Phone { mobile: false }
                | Self::Website
                | Self::Street
                | Self::PostalCode
                | Self::City
                | Self::Region
                | Self::Country
                | Self::Tags
                | Self::Team) => t,
                _ => return None,
            },
        })
    }

    /// A contact field by a header's squeezed form.
    fn standard(h: &str) -> Option<Self> {
        Some(match h {
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
            "note" | "notes" | "notiz" | "notizen" | "bemerkung" | "bemerkungen" | "comment"
            | "comments" | "kommentar" => Self::Note,
            _ => return None,
        })
    }

    /// The target's name in an explicit mapping (and in a preview's suggestion).
    pub(super) fn name(&self) -> String {
        match self {
            Self::ClientName => "name".into(),
            Self::LegalName => "legal_name".into(),
            Self::Domain => "domain".into(),
            Self::Industry => "industry".into(),
            Self::Size => "size".into(),
            Self::VatId => "vat_id".into(),
            Self::Currency => "currency".into(),
            Self::PaymentTerms => "payment_terms_days".into(),
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
            Self::Note => "note".into(),
            Self::Custom(key) => format!("cf.{key}"),
        }
    }

    /// A target by its mapping name; `cf.{key}` names a custom field the importer may write.
    pub(super) fn from_name(
        entity: ImportEntity,
        name: &str,
        defs: &[FieldDefinition],
    ) -> Option<Self> {
        if let Some(key) = name.strip_prefix("cf.") {
            return defs
                .iter()
                .find(|d| !d.archived && d.key == key)
                .map(|d| Self::Custom(d.key.clone()));
        }
        targets_of(entity)
            .iter()
            .find(|t| t.name() == name)
            .cloned()
    }

    /// Whether several columns may feed it (a contact's lists; tags; no part of an address).
    pub(super) fn repeats(&self, entity: ImportEntity) -> bool {
        match entity {
            ImportEntity::Contacts => matches!(self, Self::Email | Self::Phone { .. } | Self::Tags),
            ImportEntity::Clients => *self == Self::Tags,
        }
    }

    /// The field a validation error names (a client's address is its billing address).
    pub(super) fn field_of(&self, entity: ImportEntity) -> String {
        match (entity, self) {
            (ImportEntity::Clients, Self::Phone { .. }) => "phone".into(),
            (ImportEntity::Clients, Self::Status) => "status".into(),
            (
                ImportEntity::Clients,
                Self::Street | Self::PostalCode | Self::City | Self::Region | Self::Country,
            ) => "billing_address".into(),
            _ => self.field(),
        }
    }

    fn field(&self) -> String {
        match self {
            // A client's fields are named as their targets.
            Self::ClientName
            | Self::LegalName
            | Self::Domain
            | Self::Industry
            | Self::Size
            | Self::VatId
            | Self::Currency
            | Self::PaymentTerms => self.name(),
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
            Self::Note => "note".into(),
            Self::Custom(key) => format!("custom_fields.{key}"),
        }
    }
}

/// A header lower-cased with only its letters and digits.
fn squeezed(header: &str) -> String {
    header
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect()
}
