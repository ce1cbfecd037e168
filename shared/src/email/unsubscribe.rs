//! Unsubscribe tokens: `{payload}.{mac}`, both base64url without padding; the payload is
//! `tenant \n contact id \n address`, the MAC an HMAC-SHA256 over a version tag and the payload
//! with the stack's secret (the `UnsubscribeSecret` template parameter), checked in constant
//! time. A token names one address of one contact of one tenant and cannot be forged or
//! altered without the secret; it does not expire (a link in an old mail keeps working).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// The shortest secret accepted (the template parameter's `MinLength`).
pub const MIN_SECRET_LEN: usize = 32;
const DOMAIN: &[u8] = b"crm-unsubscribe-v1\n";

/// Who a token unsubscribes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscription {
    pub tenant_id: String,
    pub contact_id: Uuid,
    pub address: String,
}

/// Signs and checks tokens with one secret.
#[derive(Clone)]
pub struct TokenSigner {
    secret: Vec<u8>,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSigner(..)")
    }
}

impl TokenSigner {
    /// `None` for a secret shorter than [`MIN_SECRET_LEN`] bytes.
    pub fn new(secret: &str) -> Option<Self> {
        (secret.len() >= MIN_SECRET_LEN).then(|| Self {
            secret: secret.as_bytes().to_vec(),
        })
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.secret).expect("HMAC takes keys of any length");
        mac.update(DOMAIN);
        mac.update(payload);
        mac
    }

    pub fn sign(&self, u: &Unsubscription) -> String {
        let payload = format!("{}\n{}\n{}", u.tenant_id, u.contact_id, u.address);
        let tag = self.mac(payload.as_bytes()).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(tag)
        )
    }

    /// The unsubscription a token names; `None` for anything not signed with this secret.
    pub fn verify(&self, token: &str) -> Option<Unsubscription> {
        let (payload, tag) = token.split_once('.')?;
        let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        self.mac(&payload).verify_slice(&tag).ok()?;
        let text = String::from_utf8(payload).ok()?;
        let mut parts = text.splitn(3, '\n');
        let tenant_id = parts.next()?.to_string();
        let contact_id = Uuid::parse_str(parts.next()?).ok()?;
        let address = parts.next()?.to_string();
        crate::values::ids::is_valid_tenant_id(&tenant_id).then_some(Unsubscription {
            tenant_id,
            contact_id,
            address,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn signer() -> TokenSigner {
        TokenSigner::new("0123456789abcdef0123456789abcdef").unwrap()
    }

    fn who() -> Unsubscription {
        Unsubscription {
            tenant_id: "acme".into(),
            contact_id: Uuid::now_v7(),
            address: "ada@example.com".into(),
        }
    }

    #[test]
    fn s6_4_a_token_round_trips() {
        let u = who();
        let token = signer().sign(&u);
        assert!(!token.contains(['/', '+', '=']), "URL safe: {token}");
        assert_eq!(signer().verify(&token), Some(u));
    }

    #[test]
    fn s6_4_altered_and_foreign_tokens_are_refused() {
        let u = who();
        let token = signer().sign(&u);
        let other = TokenSigner::new("another secret of at least 32 bytes!").unwrap();
        assert_eq!(other.verify(&token), None);
        // The payload of another tenant with this token's MAC.
        let (_, tag) = token.split_once('.').unwrap();
        let forged = format!(
            "{}.{tag}",
            URL_SAFE_NO_PAD.encode(format!("evil\n{}\n{}", u.contact_id, u.address))
        );
        assert_eq!(signer().verify(&forged), None);
        assert_eq!(signer().verify("garbage"), None);
        assert_eq!(signer().verify(""), None);
        assert!(TokenSigner::new("short").is_none());
    }

    proptest! {
        // Changing any one character of a token makes it invalid.
        #[test]
        fn s6_4_any_changed_character_is_refused(i in 0usize..200, c in "[A-Za-z0-9_.-]") {
            let token = signer().sign(&who());
            let i = i % token.len();
            let mut chars: Vec<char> = token.chars().collect();
            let replacement = c.chars().next().unwrap();
            prop_assume!(chars[i] != replacement);
            chars[i] = replacement;
            let changed: String = chars.into_iter().collect();
            // base64url without padding may decode two spellings of the last char alike only
            // when its low bits are unused; the decoder refuses those (canonical), so any
            // change is refused.
            prop_assert_eq!(signer().verify(&changed), None);
        }
    }
}
