//! Sealing credentials at rest: XChaCha20-Poly1305 with a random nonce per seal, under keys named in the
//! configuration, so keys can be rotated (new seals use the active key; older ones open with theirs).

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;

use super::Credential;

/// XChaCha20's nonce: 24 random bytes make a collision negligible for any number of seals under one key.
const NONCE_BYTES: usize = 24;
const KEY_BYTES: usize = 32;
const MAKE_A_KEY: &str = "make one with `openssl rand -base64 32`";

/// A sealed blob, as stored: which key sealed it, its nonce, and the ciphertext with its tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub nonce: Vec<u8>,
    pub ciphertext: Vec<u8>,
}

/// Why a sealed blob could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error(
        "the connection was sealed with key `{key_id}`, which is not configured (configured: {configured}); add \
         `{key_id}` back to the connection keys, or re-create the connection"
    )]
    UnknownKey { key_id: String, configured: String },
    #[error(
        "the connection sealed with key `{key_id}` failed its integrity check: the stored data was changed, it \
         belongs to another connection, or key `{key_id}` is not the key it was sealed with; re-create the \
         connection"
    )]
    Tampered { key_id: String },
    /// The blob opened but does not hold a credential this version understands.
    #[error("the connection's credential could not be read ({0}); re-create the connection")]
    Unreadable(String),
}

/// Seals and opens connections' credentials with the configured keys.
pub struct Sealer {
    /// Every configured key, in configuration order: old ones stay to open what they sealed.
    keys: Vec<(String, XChaCha20Poly1305)>,
    /// Index in `keys` of the key new seals use.
    active: usize,
}

impl Sealer {
    /// Reads `keys` ("id1:BASE64KEY,id2:BASE64KEY", 32-byte keys) and `active`, the id new seals use (empty:
    /// the first). `Ok(None)` when `keys` is blank: connections are then unavailable.
    pub fn from_config(keys: &str, active: &str) -> Result<Option<Sealer>, String> {
        let mut parsed: Vec<(String, XChaCha20Poly1305)> = Vec::new();
        for entry in keys.split(',').map(str::trim).filter(|entry| !entry.is_empty()) {
            let Some((id, key)) = entry.split_once(':') else {
                return Err(format!(
                    "a connection key has no id: write each key as ID:BASE64KEY, e.g. k1:<key>; {MAKE_A_KEY}"
                ));
            };
            let id = id.trim();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)) {
                return Err(format!(
                    "connection key id `{id}` must be non-empty letters, digits, `-`, `_` or `.`"
                ));
            }
            if parsed.iter().any(|(other, _)| other == id) {
                return Err(format!("connection key `{id}` is listed twice; give each key its own id"));
            }
            let bytes = BASE64
                .decode(key.trim())
                .map_err(|_| format!("connection key `{id}` is not valid base64; {MAKE_A_KEY}"))?;
            if bytes.len() != KEY_BYTES {
                return Err(format!(
                    "connection key `{id}` is {} bytes, but keys are {KEY_BYTES} bytes; {MAKE_A_KEY}",
                    bytes.len()
                ));
            }
            let cipher = XChaCha20Poly1305::new_from_slice(&bytes).expect("the key length was checked");
            parsed.push((id.to_owned(), cipher));
        }
        if parsed.is_empty() {
            return Ok(None);
        }
        let active = match active.trim() {
            "" => 0,
            id => parsed.iter().position(|(other, _)| other == id).ok_or_else(|| {
                format!(
                    "the active connection key `{id}` is not among the connection keys ({})",
                    list(&parsed)
                )
            })?,
        };
        Ok(Some(Sealer { keys: parsed, active }))
    }

    /// Seals `plaintext` with the active key and a fresh random nonce. `aad` (e.g. the tenant and connection
    /// ids) is authenticated, not stored: opening needs the same bytes, so a blob cannot be moved to another
    /// connection.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Sealed {
        let (key_id, cipher) = &self.keys[self.active];
        let mut nonce = [0u8; NONCE_BYTES];
        // ThreadRng is a CSPRNG seeded from the operating system.
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = cipher
            .encrypt(&XNonce::from(nonce), Payload { msg: plaintext, aad })
            .expect("XChaCha20-Poly1305 seals any message that fits in memory");
        Sealed { key_id: key_id.clone(), nonce: nonce.to_vec(), ciphertext }
    }

    /// Opens what [`Sealer::seal`] sealed, with the key it names and the same `aad`.
    pub fn open(&self, sealed: &Sealed, aad: &[u8]) -> Result<Vec<u8>, SealError> {
        let Some((_, cipher)) = self.keys.iter().find(|(id, _)| *id == sealed.key_id) else {
            return Err(SealError::UnknownKey {
                key_id: sealed.key_id.clone(),
                configured: list(&self.keys),
            });
        };
        let tampered = || SealError::Tampered { key_id: sealed.key_id.clone() };
        let nonce = <[u8; NONCE_BYTES]>::try_from(sealed.nonce.as_slice()).map_err(|_| tampered())?;
        cipher.decrypt(&XNonce::from(nonce), Payload { msg: &sealed.ciphertext, aad }).map_err(|_| tampered())
    }

    /// Seals a credential as its JSON.
    pub fn seal_credential(&self, credential: &Credential, aad: &[u8]) -> Sealed {
        let json = serde_json::to_vec(credential).expect("a credential always serialises");
        self.seal(&json, aad)
    }

    /// Opens a credential sealed by [`Sealer::seal_credential`].
    pub fn open_credential(&self, sealed: &Sealed, aad: &[u8]) -> Result<Credential, SealError> {
        let json = self.open(sealed, aad)?;
        // serde's message can quote a value, which here is a secret: only the position is kept.
        serde_json::from_slice(&json).map_err(|err| {
            SealError::Unreadable(format!(
                "{:?} error at line {} column {}",
                err.classify(),
                err.line(),
                err.column()
            ))
        })
    }

    /// The id of the key new seals use.
    pub fn active_key_id(&self) -> &str {
        &self.keys[self.active].0
    }

    /// Whether `key_id` is configured, so what it sealed can be opened (and re-sealed with the active key).
    pub fn has_key(&self, key_id: &str) -> bool {
        self.keys.iter().any(|(id, _)| id == key_id)
    }
}

/// Names the keys, never showing one.
impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer")
            .field("keys", &list(&self.keys))
            .field("active", &self.active_key_id())
            .finish()
    }
}

fn list(keys: &[(String, XChaCha20Poly1305)]) -> String {
    keys.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> String {
        BASE64.encode([byte; KEY_BYTES])
    }

    fn sealer(keys: &str, active: &str) -> Sealer {
        Sealer::from_config(keys, active).unwrap().unwrap()
    }

    #[test]
    fn a_round_trip_returns_the_plaintext() {
        let sealer = sealer(&format!("k1:{}", key(1)), "");
        let sealed = sealer.seal(b"hello", b"tenant-a/hubspot");
        assert_eq!(sealed.key_id, "k1");
        assert_eq!(sealed.nonce.len(), NONCE_BYTES);
        assert_ne!(&sealed.ciphertext[..5], b"hello");
        assert_eq!(sealer.open(&sealed, b"tenant-a/hubspot").unwrap(), b"hello");
        // A fresh nonce each time: sealing the same text twice gives different blobs.
        assert_ne!(sealer.seal(b"hello", b"a").ciphertext, sealer.seal(b"hello", b"a").ciphertext);
    }

    #[test]
    fn credentials_round_trip_as_json() {
        let sealer = sealer(&format!("k1:{}", key(1)), "");
        let credential = Credential::Basic { username: "u".into(), password: "p".into() };
        let sealed = sealer.seal_credential(&credential, b"aad");
        assert_eq!(sealer.open_credential(&sealed, b"aad").unwrap(), credential);
        let not_json = sealer.seal(b"{\"kind\":\"basic\",\"password\":\"SECRET\"}", b"aad");
        let error = sealer.open_credential(&not_json, b"aad").unwrap_err().to_string();
        assert!(!error.contains("SECRET") && error.contains("re-create"), "{error}");
    }

    #[test]
    fn an_unknown_key_id_is_named() {
        let sealed = sealer(&format!("old:{}", key(1)), "").seal(b"x", b"");
        let error = sealer(&format!("k2:{}", key(2)), "").open(&sealed, b"").unwrap_err();
        assert_eq!(error, SealError::UnknownKey { key_id: "old".into(), configured: "k2".into() });
        assert!(error.to_string().contains("add `old` back"), "{error}");
    }

    #[test]
    fn tampering_or_another_aad_or_key_fails_the_integrity_check() {
        let sealer1 = sealer(&format!("k1:{}", key(1)), "");
        let sealed = sealer1.seal(b"secret", b"aad");
        let mut flipped = sealed.clone();
        flipped.ciphertext[0] ^= 1;
        let tampered = SealError::Tampered { key_id: "k1".into() };
        assert_eq!(sealer1.open(&flipped, b"aad").unwrap_err(), tampered);
        let mut short_nonce = sealed.clone();
        short_nonce.nonce.pop();
        assert_eq!(sealer1.open(&short_nonce, b"aad").unwrap_err(), tampered);
        assert_eq!(sealer1.open(&sealed, b"other").unwrap_err(), tampered);
        // Same id, another key (the configured key was replaced instead of rotated).
        let replaced = sealer(&format!("k1:{}", key(9)), "");
        assert_eq!(replaced.open(&sealed, b"aad").unwrap_err(), tampered);
    }

    #[test]
    fn rotation_opens_with_the_old_key_and_seals_with_the_new() {
        let before = sealer(&format!("k1:{}", key(1)), "");
        let old = before.seal(b"secret", b"aad");
        let after = sealer(&format!("k1:{}, k2:{}", key(1), key(2)), "k2");
        assert_eq!(after.active_key_id(), "k2");
        assert!(after.has_key("k1") && after.has_key("k2") && !after.has_key("k3"));
        assert_eq!(after.open(&old, b"aad").unwrap(), b"secret");
        let resealed = after.seal(&after.open(&old, b"aad").unwrap(), b"aad");
        assert_eq!(resealed.key_id, "k2");
        assert_eq!(after.open(&resealed, b"aad").unwrap(), b"secret");
        assert!(matches!(before.open(&resealed, b"aad"), Err(SealError::UnknownKey { .. })));
    }

    #[test]
    fn configuration_errors_name_the_key_and_say_how_to_make_one() {
        assert!(Sealer::from_config("", "").unwrap().is_none());
        assert!(Sealer::from_config(" , ", "").unwrap().is_none());
        let error = |keys: &str, active: &str| Sealer::from_config(keys, active).unwrap_err();
        let short = error(&format!("k1:{}", BASE64.encode([0u8; 16])), "");
        assert!(short.contains("`k1` is 16 bytes") && short.contains("openssl rand -base64 32"), "{short}");
        let garbled = error("k1:not*base64", "");
        assert!(
            garbled.contains("`k1` is not valid base64") && garbled.contains("openssl rand"),
            "{garbled}"
        );
        assert!(error(&key(1), "").contains("ID:BASE64KEY"));
        assert!(error(&format!("k1:{0},k1:{0}", key(1)), "").contains("`k1` is listed twice"));
        let unknown = error(&format!("k1:{}", key(1)), "k9");
        assert!(unknown.contains("`k9`") && unknown.contains("(k1)"), "{unknown}");
        let debug = format!("{:?}", sealer(&format!("k1:{}", key(7)), ""));
        assert!(!debug.contains(&key(7)), "{debug}");
    }
}
