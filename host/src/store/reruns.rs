//! A re-run: a delivery made again from its stored event with the subscription's current plugin, config
//! and endpoint (see [`super::Store::rerun_delivery`]).

/// What [`super::Store::rerun_delivery`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rerun {
    /// The re-run is due now, for this event: a placeholder that the pipeline replaces with the new run's
    /// deliveries, which name the old one in `rerun_of`.
    Started {
        event_id: String,
    },
    NotFound,
    /// It was re-run before: re-run the newer delivery instead.
    AlreadyRerun,
    /// Its subscription was deleted: there is no current plugin to run.
    SubscriptionGone,
    /// It is being sent right now.
    InFlight,
}

/// The error a re-run's placeholder shows until the pipeline has run it.
pub fn rerun_placeholder_error() -> &'static str {
    "re-run requested: the subscription's current plugin, config and endpoint run on this event shortly"
}
