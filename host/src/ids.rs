//! Identifiers and secrets made by Gancho: random (delivery ids time-ordered too), URL-safe, with a prefix
//! that says what they are.

use rand::RngCore;

/// `prefix_` and 16 random bytes in hex (`sub_3f9a…`), for subscription and delivery ids.
pub fn new_id(prefix: &str) -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}_{}", hex::encode(bytes))
}

/// `prefix_` and 16 bytes in hex like [`new_id`], the first 6 the time in ms and the rest random
/// (`dlv_0193a1f2c4e5…`, as UUIDv7): ids made later sort later, so an index on them grows at its end —
/// one page written per commit rather than one per row — while 80 random bits keep them unique. For
/// delivery ids, made and stored by the thousand.
pub fn new_time_ordered_id(prefix: &str) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let mut bytes = [0u8; 16];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    rand::rng().fill_bytes(&mut bytes[6..]);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ordered_ids_sort_by_when_they_were_made_and_stay_unique() {
        let first = new_time_ordered_id("dlv");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later: Vec<String> = (0..1000).map(|_| new_time_ordered_id("dlv")).collect();
        assert!(later.iter().all(|id| *id > first), "{first} should sort first");
        assert_eq!(later.iter().collect::<std::collections::HashSet<_>>().len(), 1000);
        assert_eq!(first.len(), new_id("dlv").len(), "the same shape as other ids");
        assert!(first.starts_with("dlv_") && first[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    }
}
