//! The budgets of well-known APIs, applied to a destination that has none set: what their providers
//! document for one account (see each plugin's README).

use crate::store::Budget;

/// Host, requests, window in ms.
const KNOWN: [(&str, u32, i64); 4] = [
    // Google Sheets: 60 write requests per minute per user.
    ("sheets.googleapis.com", 60, 60_000),
    // HubSpot private apps: 100 requests per 10 s (Free/Starter; Pro and Enterprise allow 190).
    ("api.hubapi.com", 100, 10_000),
    // Slack: about one message per second per channel (incoming webhooks and chat.postMessage).
    ("hooks.slack.com", 1, 1_000),
    ("slack.com", 1, 1_000),
];

/// The default budget of a destination (`{tenant} {host}`), by its host.
pub fn default_budget(destination: &str) -> Option<Budget> {
    let host = super::host_of_destination(destination);
    KNOWN
        .iter()
        .find(|(known, _, _)| *known == host)
        .map(|&(_, requests, window_ms)| Budget { requests, window_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_hosts_have_their_documented_budget() {
        assert_eq!(
            default_budget("acme sheets.googleapis.com"),
            Some(Budget { requests: 60, window_ms: 60_000 })
        );
        assert_eq!(default_budget("acme api.hubapi.com").map(|b| b.requests), Some(100));
        assert_eq!(default_budget("acme crm.example"), None);
    }
}
