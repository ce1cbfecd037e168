//! Which tenants a message is for, from its recipients. Each tenant has an address
//! `{tenant}@in.<domain>` and any number of BCC-dropbox addresses `{tenant}+{anything}@in.<domain>`
//! (for mail a user sends from their own mailbox: BCC the dropbox and it is logged). Only the
//! recipients at the inbound mail domain count; which of the tenants named exist is the
//! processor's to check.

use super::parse::ParsedMessage;
use crate::values::ids::is_valid_tenant_id;

/// Most tenants one message is delivered to (an address list naming more is cut there).
pub const MAX_TENANTS: usize = 5;

/// The domain inbound mail arrives at: `in.<INBOUND_DOMAIN>`, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailDomain(String);

impl MailDomain {
    /// From the stack's inbound domain (`example.com` → `in.example.com`).
    pub fn for_inbound_domain(domain: &str) -> Self {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        Self(format!("in.{domain}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `{tenant}@in.<domain>`: the tenant's address.
    pub fn tenant_address(&self, tenant: &str) -> String {
        format!("{tenant}@{}", self.0)
    }

    /// Whether `address` is at the inbound domain (an inbox, never a contact).
    pub fn holds(&self, address: &str) -> bool {
        address
            .trim()
            .rsplit_once('@')
            .is_some_and(|(_, d)| d.eq_ignore_ascii_case(&self.0))
    }

    /// The tenant an address names, and whether it is a dropbox address (`tenant+tag@…`).
    pub fn tenant_of(&self, address: &str) -> Option<(String, bool)> {
        let address = address.trim();
        let (local, domain) = address.rsplit_once('@')?;
        if !domain.eq_ignore_ascii_case(&self.0) {
            return None;
        }
        let (tenant, dropbox) = match local.split_once('+') {
            Some((tenant, _)) => (tenant, true),
            None => (local, false),
        };
        is_valid_tenant_id(tenant).then(|| (tenant.to_string(), dropbox))
    }
}

/// A tenant a message is addressed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressee {
    pub tenant: String,
    /// Whether the tenant's own address (not only a dropbox address) received it: only then
    /// may an unknown sender become a lead (a dropbox's sender is the tenant's own user).
    pub direct: bool,
}

/// The tenants `message` (and the receipt's recipients, when known) names, in the order first
/// named; the tenant id as written in the address.
pub fn addressees(
    message: &ParsedMessage,
    receipt: &[String],
    domain: &MailDomain,
) -> Vec<Addressee> {
    let mut out: Vec<Addressee> = Vec::new();
    for address in message
        .recipients()
        .chain(receipt.iter().map(String::as_str))
    {
        let Some((tenant, dropbox)) = domain.tenant_of(address) else {
            continue;
        };
        if let Some(a) = out.iter_mut().find(|a| a.tenant == tenant) {
            a.direct |= !dropbox;
        } else if out.len() < MAX_TENANTS {
            out.push(Addressee {
                tenant,
                direct: !dropbox,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inbox::parse::Mailbox;

    fn domain() -> MailDomain {
        MailDomain::for_inbound_domain("CRM.test.")
    }

    #[test]
    fn tenant_and_dropbox_addresses_name_their_tenant() {
        let d = domain();
        assert_eq!(d.as_str(), "in.crm.test");
        assert_eq!(
            d.tenant_of("acme@in.crm.test"),
            Some(("acme".into(), false))
        );
        assert_eq!(
            d.tenant_of("acme+deal-42@IN.CRM.TEST"),
            Some(("acme".into(), true))
        );
        assert_eq!(d.tenant_of("acme@crm.test"), None);
        assert_eq!(d.tenant_of("acme@in.crm.test.evil.com"), None);
        assert_eq!(d.tenant_of("a#b@in.crm.test"), None, "not a tenant id");
        assert_eq!(d.tenant_of("@in.crm.test"), None);
        assert!(d.holds("x+y@In.Crm.Test"));
        assert!(!d.holds("x@example.com"));
    }

    #[test]
    fn addressees_come_from_to_cc_envelope_and_receipt() {
        let d = domain();
        let m = ParsedMessage {
            to: vec![Mailbox {
                address: "bob@example.com".into(),
                name: None,
            }],
            cc: vec![Mailbox {
                address: "acme+bcc@in.crm.test".into(),
                name: None,
            }],
            envelope_to: vec!["beta@in.crm.test".into()],
            ..ParsedMessage::default()
        };
        let got = addressees(&m, &["acme@in.crm.test".into()], &d);
        assert_eq!(
            got,
            [
                Addressee {
                    tenant: "acme".into(),
                    direct: true
                },
                Addressee {
                    tenant: "beta".into(),
                    direct: true
                }
            ]
        );
        assert!(addressees(&ParsedMessage::default(), &[], &d).is_empty());
    }
}
