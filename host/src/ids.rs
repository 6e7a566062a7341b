//! Identifiers and secrets made by Gancho: random, URL-safe, with a prefix that says what they are.

use rand::RngCore;

/// `prefix_` and 16 random bytes in hex (`sub_3f9a…`), for subscription and delivery ids.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

/// 32 random bytes in hex, for tokens.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The SHA-256 (hex) of a key, which is what the store keeps.
pub fn key_digest(key: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(key.as_bytes()))
}
