//! Creates sent with an `Idempotency-Key`: what the store knows of a key (see
//! [`super::Store::begin_idempotent`]).

/// What [`super::Store::begin_idempotent`] found for a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotent {
    /// First use of the key: the request runs, then [`super::Store::finish_idempotent`] keeps its answer.
    New,
    /// The key answered before: the same status and body again.
    Answered { status: u16, body: String },
    /// The first request with the key is still running.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}
