//! Batches: deliveries that waited on one destination's budget, sent as the fewer requests their plugin
//! merged them into. What a batch's answer means for each delivery it carries is decided here: a batch
//! refused as a whole (400, 413, 422: one bad row can do that) is not a failed attempt of its deliveries —
//! they go again at once, in batches half as large, until the bad one is sent alone and fails with the
//! destination's message while the others land.

/// Whether an answer to a batch of `size` refuses it as a whole, to be split.
pub fn refused_as_a_whole(status: Option<u16>, size: usize) -> bool {
    size > 1 && matches!(status, Some(400 | 413 | 422))
}

/// The most deliveries the next batches carrying a refused batch's deliveries may hold.
pub fn split_limit(size: usize) -> u32 {
    size.div_ceil(2).max(1).min(u32::MAX as usize) as u32
}

/// A new batch's id, shown on each delivery it carried and sent as its `webhook-id`.
pub fn new_batch_id() -> String {
    crate::ids::new_id("bat")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_batch_is_split_in_halves_until_one_is_alone() {
        assert!(refused_as_a_whole(Some(400), 7));
        assert_eq!(split_limit(7), 4);
        assert_eq!(split_limit(2), 1);
        assert!(!refused_as_a_whole(Some(400), 1), "alone, a 400 is its own failure");
        assert!(!refused_as_a_whole(Some(500), 7), "a server error is the batch's failed attempt");
    }
}
