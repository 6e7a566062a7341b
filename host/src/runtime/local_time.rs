//! The `time` import (WIT 0.1.3): an instant as read in an IANA time zone, from the time zone database
//! compiled into the host (jiff's bundled copy, through the Rust SDK's native conversion, so the answer
//! never depends on the machine's own files). It reads no clock: the same instant and zone give the same
//! answer whenever the event runs. Inputs over 64 characters are refused unread.

use super::bindings::gancho::plugin::time::{Host, LocalTime};
use super::sandbox::SandboxState;

impl Host for SandboxState {
    fn to_local(&mut self, instant: String, zone: String) -> Result<LocalTime, String> {
        to_local(&instant, &zone)
    }
}

/// `instant` (RFC 3339) in the IANA zone `zone`; the error names the value at fault. The Rust SDK's own
/// conversion, which its native tests use, serves here too, so the two can never differ; the JavaScript
/// and Python SDKs' test harnesses give the same answers (`js/src/time.js`, `python/gancho_sdk/time.py`).
pub(crate) fn to_local(instant: &str, zone: &str) -> Result<LocalTime, String> {
    let local = gancho_sdk::time::to_local(instant, zone).map_err(|error| error.message)?;
    Ok(LocalTime {
        year: local.year,
        month: local.month,
        day: local.day,
        hour: local.hour,
        minute: local.minute,
        second: local.second,
        nanosecond: local.nanosecond,
        offset_seconds: local.offset_seconds,
        abbreviation: local.abbreviation,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(instant: &str, zone: &str) -> (String, i32, String) {
        let t = to_local(instant, zone).unwrap();
        let text =
            format!("{}-{:02}-{:02}T{:02}:{:02}:{:02}", t.year, t.month, t.day, t.hour, t.minute, t.second);
        (text, t.offset_seconds, t.abbreviation)
    }

    #[test]
    fn madrid_across_the_spring_change() {
        assert_eq!(
            local("2026-03-29T00:59:59Z", "Europe/Madrid"),
            ("2026-03-29T01:59:59".into(), 3600, "CET".into())
        );
        assert_eq!(
            local("2026-03-29T01:00:00Z", "Europe/Madrid"),
            ("2026-03-29T03:00:00".into(), 7200, "CEST".into())
        );
    }

    #[test]
    fn santiago_and_buenos_aires() {
        assert_eq!(
            local("2026-09-06T03:59:00Z", "America/Santiago"),
            ("2026-09-05T23:59:00".into(), -14400, "-04".into())
        );
        assert_eq!(
            local("2026-09-06T04:00:00Z", "America/Santiago"),
            ("2026-09-06T01:00:00".into(), -10800, "-03".into())
        );
        assert_eq!(
            local("2026-11-21T14:03:07.5+00:00", "America/Argentina/Buenos_Aires"),
            ("2026-11-21T11:03:07".into(), -10800, "-03".into())
        );
        assert_eq!(to_local("2026-11-21T14:03:07.5Z", "UTC").unwrap().nanosecond, 500_000_000);
    }

    #[test]
    fn an_unknown_zone_or_instant_is_named() {
        let error = to_local("2026-03-29T01:00:00Z", "Europe/Madird").unwrap_err();
        assert!(error.starts_with("unknown time zone \"Europe/Madird\"; name an IANA"), "{error}");
        let error = to_local("yesterday", "UTC").unwrap_err();
        assert_eq!(error, "\"yesterday\" is not an RFC 3339 instant (such as \"2026-03-29T01:30:00Z\")");
        assert!(to_local("2026-03-29T01:00:00Z", &"A".repeat(10_000)).is_err());
    }
}
