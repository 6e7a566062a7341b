//! Standard Webhooks signatures: generating `whsec_` secrets, and signing and verifying a message with them.
//!
//! The signed content is `{msg_id}.{timestamp}.{body}`, the MAC is HMAC-SHA256 keyed with the base64-decoded
//! secret, and the `webhook-signature` header lists one `v1,<base64 MAC>` per secret so that a receiver keeps
//! verifying while an endpoint's secret is rotated.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The prefix Standard Webhooks puts in front of the base64 key so a secret is recognisable in config files.
const SECRET_PREFIX: &str = "whsec_";

/// Random bytes in a generated secret: 192 bits, as Svix and the Standard Webhooks libraries use.
const SECRET_BYTES: usize = 24;

/// A signing secret that cannot be used; the secret itself is never printed, only its position in the list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("no signing secret is configured for this endpoint; generate one (whsec_...) before sending")]
    NoSecrets,
    #[error(
        "signing secret {position} of {count} is empty; set it to a whsec_... value or remove it from the list"
    )]
    Empty { position: usize, count: usize },
    #[error(
        "signing secret {position} of {count} is not valid base64 after the whsec_ prefix; \
         replace it with a freshly generated secret"
    )]
    NotBase64 { position: usize, count: usize },
}

/// Returns a new random secret: `whsec_` followed by the standard base64 of 24 random bytes.
pub fn generate_secret() -> String {
    let bytes: [u8; SECRET_BYTES] = rand::random();
    format!("{SECRET_PREFIX}{}", BASE64.encode(bytes))
}

/// Returns the `webhook-signature` header value: one `v1,<signature>` per secret, separated by spaces.
pub fn sign(
    secrets: &[String],
    msg_id: &str,
    timestamp_secs: i64,
    body: &[u8],
) -> Result<String, SigningError> {
    if secrets.is_empty() {
        return Err(SigningError::NoSecrets);
    }
    let count = secrets.len();
    let mut signatures = Vec::with_capacity(count);
    for (index, secret) in secrets.iter().enumerate() {
        let position = index + 1;
        let key = decode_secret(secret).ok_or(SigningError::NotBase64 { position, count })?;
        if key.is_empty() {
            return Err(SigningError::Empty { position, count });
        }
        let tag = mac(&key, msg_id, timestamp_secs, body).finalize().into_bytes();
        signatures.push(format!("v1,{}", BASE64.encode(tag)));
    }
    Ok(signatures.join(" "))
}

/// True if any `v1,` signature in `signature_header` was made with `secret` over this message.
pub fn verify(secret: &str, msg_id: &str, timestamp_secs: i64, body: &[u8], signature_header: &str) -> bool {
    let Some(key) = decode_secret(secret).filter(|key| !key.is_empty()) else {
        return false;
    };
    let expected = mac(&key, msg_id, timestamp_secs, body);
    signature_header
        .split_whitespace()
        .filter_map(|entry| entry.strip_prefix("v1,"))
        .filter_map(|signature| BASE64.decode(signature).ok())
        // `verify_slice` compares in constant time, so a forger learns nothing from how long a check takes.
        .any(|signature| expected.clone().verify_slice(&signature).is_ok())
}

/// The HMAC key of a secret: the base64 after `whsec_`, or the whole string when the prefix is absent.
fn decode_secret(secret: &str) -> Option<Vec<u8>> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    BASE64.decode(encoded.trim()).ok()
}

fn mac(key: &[u8], msg_id: &str, timestamp_secs: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vector published with the Standard Webhooks specification.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_specification_vector() {
        assert_eq!(sign(&[SECRET.to_string()], MSG_ID, TIMESTAMP, BODY).unwrap(), SIGNATURE);
    }

    #[test]
    fn a_secret_without_prefix_is_the_same_key() {
        let bare = SECRET.strip_prefix("whsec_").unwrap().to_string();
        assert_eq!(sign(&[bare], MSG_ID, TIMESTAMP, BODY).unwrap(), SIGNATURE);
    }

    #[test]
    fn two_secrets_give_two_signatures_and_verify_accepts_either() {
        let other = generate_secret();
        let header = sign(&[other.clone(), SECRET.to_string()], MSG_ID, TIMESTAMP, BODY).unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts[0].starts_with("v1,"));
        assert_eq!(parts[1], SIGNATURE);
        assert!(verify(SECRET, MSG_ID, TIMESTAMP, BODY, &header));
        assert!(verify(&other, MSG_ID, TIMESTAMP, BODY, &header));
    }

    #[test]
    fn verify_rejects_tampering_and_wrong_secrets() {
        assert!(verify(SECRET, MSG_ID, TIMESTAMP, BODY, SIGNATURE));
        assert!(!verify(SECRET, MSG_ID, TIMESTAMP, br#"{"test": 1}"#, SIGNATURE));
        assert!(!verify(SECRET, MSG_ID, TIMESTAMP + 1, BODY, SIGNATURE));
        assert!(!verify(SECRET, "msg_other", TIMESTAMP, BODY, SIGNATURE));
        assert!(!verify(&generate_secret(), MSG_ID, TIMESTAMP, BODY, SIGNATURE));
        assert!(!verify(SECRET, MSG_ID, TIMESTAMP, BODY, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="));
        assert!(!verify(SECRET, MSG_ID, TIMESTAMP, BODY, "v1,not-base64!"));
        assert!(!verify(SECRET, MSG_ID, TIMESTAMP, BODY, ""));
    }

    #[test]
    fn generated_secrets_are_prefixed_random_24_bytes() {
        let secret = generate_secret();
        let key = BASE64.decode(secret.strip_prefix("whsec_").unwrap()).unwrap();
        assert_eq!(key.len(), 24);
        assert_ne!(secret, generate_secret());
    }

    #[test]
    fn bad_secrets_are_named_by_position_without_being_printed() {
        let bad = "whsec_@@not base64@@".to_string();
        let err = sign(&[SECRET.to_string(), bad.clone()], MSG_ID, TIMESTAMP, BODY).unwrap_err();
        assert_eq!(err, SigningError::NotBase64 { position: 2, count: 2 });
        assert!(!err.to_string().contains("not base64@@"));
        assert_eq!(
            sign(&["whsec_".to_string()], MSG_ID, TIMESTAMP, BODY).unwrap_err(),
            SigningError::Empty { position: 1, count: 1 }
        );
        assert_eq!(sign(&[], MSG_ID, TIMESTAMP, BODY).unwrap_err(), SigningError::NoSecrets);
    }
}
