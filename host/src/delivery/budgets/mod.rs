//! Destination budgets: what Gancho promises a destination that rations its API.
//!
//! - **A destination** is the account requests go to: within one tenant, the host a request is sent to
//!   ([`destination_of`]; a connection's credential is bound to its hosts, so it names the same account).
//!   Every delivery to one destination draws on one budget, across subscriptions and instances.
//! - **Its budget** is `requests` per window: the one set with a connection for its hosts, or the
//!   service's default for well-known APIs ([`known`]). The claim gives a paced destination one send slot
//!   every `window / requests`, with no burst, so no window sees more than the budget (see
//!   `store::pacing`). A destination that is not waiting gets each request at once.
//! - **What it says** ([`pause`]): a 429, or a 503 with `Retry-After`, pauses the whole destination until
//!   then — or, with no header, for an adaptive backoff — and is *not* a failed attempt of the deliveries
//!   waiting on it: their retry schedule, attempt count and the subscription's health are untouched.
//! - **Merging** ([`batch`]): when deliveries wait on a destination's budget and the plugin that made them
//!   exports `merge`, one slot carries all of them (up to a batch's limit) as the fewer requests the
//!   plugin returns. Each delivery keeps its own record, shows the batch that carried it and gets the
//!   batch's attempts; a batch the destination refuses as a whole (400, 413, 422) is split in halves on
//!   the next slots until the bad one fails alone, with the destination's message.

pub mod batch;
pub mod known;
pub mod pause;

/// The destination of a request of `tenant` to `url`: `{tenant} {host}`; `None` for a URL without a host.
pub fn destination_of(tenant: &str, url: &str) -> Option<String> {
    crate::connections::hosts::host_of(url).map(|host| format!("{tenant} {host}"))
}

/// The host a destination names.
pub fn host_of_destination(destination: &str) -> &str {
    destination.split_once(' ').map_or(destination, |(_, host)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_destination_is_the_tenants_host() {
        let destination = destination_of("acme", "https://Sheets.GoogleAPIs.com/v4/spreadsheets/x:append");
        assert_eq!(destination.as_deref(), Some("acme sheets.googleapis.com"));
        assert_eq!(host_of_destination(destination.as_deref().unwrap()), "sheets.googleapis.com");
        assert_eq!(destination_of("acme", "not a url"), None);
    }
}
