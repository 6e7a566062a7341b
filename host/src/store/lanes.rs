//! What both backends ask of ordered lanes (see `delivery::lanes`), in the SQL they share.

/// The deliveries that hold their lane's key while failing: only a head is ever attempted, so a lane's
/// `failed` delivery is its head; a plugin error that will run again holds its key too. Its first terms
/// repeat the `deliveries_lanes` index's condition, so that both databases read that index.
pub(crate) const HOLDING_KEY: &str = "ordering_key IS NOT NULL
     AND (status IN ('pending', 'failed') OR (status = 'plugin_error' AND next_attempt_at IS NOT NULL))
     AND status IN ('failed', 'plugin_error')";
