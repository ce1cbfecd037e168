//! Email out (S6.4): the one merge renderer ([`render`], shared with workflows), the raw MIME
//! message with header-injection refusal ([`mime`]), signed unsubscribe tokens
//! ([`unsubscribe`]), suppressed addresses ([`suppression`]) fed by SES bounce and complaint
//! notifications ([`events`]), email templates ([`templates`]) and the send use case
//! ([`send`]).

pub mod events;
pub mod mime;
pub mod render;
pub mod send;
pub mod suppression;
pub mod templates;
pub mod unsubscribe;

pub use send::{
    MailSettings, Mailer, NewMessage, OutboundMail, SentMessage, SesMailer, send_for_deal,
    send_to_contact,
};

use crate::access::Role;
use crate::catalog::Catalog;
use crate::contacts::ContactPatch;
use crate::store::Table;
use crate::values::Patch;
use crate::{Caller, CrmError};

/// What an unsubscribe link did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unsubscribed {
    /// The contact is opted out now (or was already).
    OptedOut,
}

/// The contact a token names, if the token is genuine and the contact still exists: for the
/// confirmation page. `NotFound` otherwise.
pub async fn unsubscribe_target(
    table: &Table,
    settings: &MailSettings,
    token: &str,
) -> Result<unsubscribe::Unsubscription, CrmError> {
    let u = settings
        .unsubscribe
        .as_ref()
        .and_then(|s| s.verify(token))
        .ok_or(CrmError::NotFound)?;
    let caller = system_caller(&u.tenant_id);
    Catalog::new(table.clone())
        .contacts()
        .get(&caller, u.contact_id)
        .await?;
    Ok(u)
}

fn system_caller(tenant: &str) -> Caller {
    Caller::new(tenant, "unsubscribe", Role::Owner)
}

/// `POST /unsubscribe/{token}` (RFC 8058 one-click, no login): sets the contact's
/// `email_opt_out`. Idempotent; a forged or altered token is `NotFound` and changes nothing.
pub async fn unsubscribe(
    table: &Table,
    settings: &MailSettings,
    token: &str,
) -> Result<Unsubscribed, CrmError> {
    let u = unsubscribe_target(table, settings, token).await?;
    let contacts = Catalog::new(table.clone()).contacts();
    let caller = system_caller(&u.tenant_id);
    let patch = ContactPatch {
        email_opt_out: Patch::Set(true),
        ..ContactPatch::default()
    };
    contacts
        .patch_from(&caller, u.contact_id, patch, None, None, "unsubscribe")
        .await?;
    Ok(Unsubscribed::OptedOut)
}
