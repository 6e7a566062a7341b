//! Local time in IANA time zones: an event's timestamp as the customer's clocks read it, right across
//! daylight-saving changes. Inside Gancho the host converts it (WIT 0.1.3's `time` import, from the time
//! zone database compiled into the host); in native tests, the same library with the same bundled
//! database does, so `cargo test` and the live service agree.
//!
//! ```
//! let local = gancho_sdk::time::to_local("2026-03-29T01:30:00Z", "Europe/Madrid").unwrap();
//! assert_eq!(local.format("%d/%m/%Y %H:%M %Z"), "29/03/2026 03:30 CEST");
//! assert_eq!(local.rfc3339(), "2026-03-29T03:30:00+02:00");
//! ```

use crate::PluginError;

/// An instant as the clocks of one time zone read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalTime {
    pub year: i32,
    /// 1 to 12.
    pub month: u8,
    /// 1 to 31.
    pub day: u8,
    /// 0 to 23.
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Within the second, 0 to 999 999 999.
    pub nanosecond: u32,
    /// Offset from UTC at that instant, in seconds east (`-10800` is UTC-3).
    pub offset_seconds: i32,
    /// The zone's abbreviation at that instant, as the time zone database writes it: `CET`, `CEST`, `-03`.
    pub abbreviation: String,
}

/// `instant`, an RFC 3339 date-time with an offset (an event's `timestamp`), in the IANA time zone `zone`
/// (`America/Argentina/Buenos_Aires`, `Europe/Madrid`, `UTC`). An unknown zone or an instant that is not
/// RFC 3339 is a permanent error naming it.
pub fn to_local(instant: &str, zone: &str) -> Result<LocalTime, PluginError> {
    convert(instant, zone).map_err(PluginError::permanent)
}

#[cfg(target_arch = "wasm32")]
fn convert(instant: &str, zone: &str) -> Result<LocalTime, String> {
    let local = crate::bindings::gancho::plugin::time::to_local(instant, zone)?;
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

/// As the host's `time` import does it (`host/src/runtime/local_time.rs`): the same answers and errors.
#[cfg(not(target_arch = "wasm32"))]
fn convert(instant: &str, zone: &str) -> Result<LocalTime, String> {
    const MAX_INPUT_CHARS: usize = 64;
    let instant = instant.trim();
    let timestamp: jiff::Timestamp =
        (instant.len() <= MAX_INPUT_CHARS).then(|| instant.parse().ok()).flatten().ok_or_else(|| {
            format!("{instant:?} is not an RFC 3339 instant (such as \"2026-03-29T01:30:00Z\")")
        })?;
    let zone = zone.trim();
    let time_zone =
        (zone.len() <= MAX_INPUT_CHARS).then(|| jiff::tz::TimeZone::get(zone).ok()).flatten().ok_or_else(|| {
            format!(
                "unknown time zone {zone:?}; name an IANA time zone such as \"America/Argentina/Buenos_Aires\" \
                 or \"Europe/Madrid\""
            )
        })?;
    let info = time_zone.to_offset_info(timestamp);
    let local = time_zone.to_datetime(timestamp);
    Ok(LocalTime {
        year: local.year().into(),
        month: local.month() as u8,
        day: local.day() as u8,
        hour: local.hour() as u8,
        minute: local.minute() as u8,
        second: local.second() as u8,
        nanosecond: local.subsec_nanosecond() as u32,
        offset_seconds: info.offset().seconds(),
        abbreviation: info.abbreviation().to_owned(),
    })
}

impl LocalTime {
    /// The offset as RFC 3339 writes it: `-03:00`, `+05:30`, `+00:00`.
    pub fn offset(&self) -> String {
        let sign = if self.offset_seconds < 0 { '-' } else { '+' };
        let minutes = self.offset_seconds.unsigned_abs() / 60;
        format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    }

    /// RFC 3339 with the zone's offset, to the second: `2026-03-29T03:30:00+02:00`.
    pub fn rfc3339(&self) -> String {
        self.format("%Y-%m-%dT%H:%M:%S%:z")
    }

    /// Writes the time by a `strftime`-style `pattern`: `%Y` year, `%m` month, `%d` day, `%H` hour (00–23),
    /// `%I` hour (01–12), `%p` AM/PM, `%M` minute, `%S` second, `%y` two-digit year, `%e` day without
    /// zero, `%Z` abbreviation, `%z` offset as `-0300`, `%:z` as `-03:00`, `%%` a percent sign. Anything
    /// else is copied as is.
    pub fn format(&self, pattern: &str) -> String {
        let mut out = String::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('Y') => out.push_str(&self.year.to_string()),
                Some('y') => out.push_str(&format!("{:02}", self.year.rem_euclid(100))),
                Some('m') => out.push_str(&format!("{:02}", self.month)),
                Some('d') => out.push_str(&format!("{:02}", self.day)),
                Some('e') => out.push_str(&self.day.to_string()),
                Some('H') => out.push_str(&format!("{:02}", self.hour)),
                Some('I') => out.push_str(&format!("{:02}", (self.hour + 11) % 12 + 1)),
                Some('p') => out.push_str(if self.hour < 12 { "AM" } else { "PM" }),
                Some('M') => out.push_str(&format!("{:02}", self.minute)),
                Some('S') => out.push_str(&format!("{:02}", self.second)),
                Some('Z') => out.push_str(&self.abbreviation),
                Some('z') => out.push_str(&self.offset().replace(':', "")),
                Some(':') if chars.clone().next() == Some('z') => {
                    chars.next();
                    out.push_str(&self.offset());
                }
                Some('%') => out.push('%'),
                Some(other) => {
                    out.push('%');
                    out.push(other);
                }
                None => out.push('%'),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn madrid_across_the_spring_change() {
        let before = to_local("2026-03-29T00:59:59Z", "Europe/Madrid").unwrap();
        assert_eq!(before.rfc3339(), "2026-03-29T01:59:59+01:00");
        assert_eq!(before.abbreviation, "CET");
        let after = to_local("2026-03-29T01:00:00Z", "Europe/Madrid").unwrap();
        assert_eq!(after.format("%d/%m/%Y %H:%M %Z (%z)"), "29/03/2026 03:00 CEST (+0200)");
    }

    #[test]
    fn santiago_and_buenos_aires() {
        let before = to_local("2026-09-06T03:59:00Z", "America/Santiago").unwrap();
        assert_eq!(before.format("%Y-%m-%d %H:%M %Z"), "2026-09-05 23:59 -04");
        let after = to_local("2026-09-06T04:00:00Z", "America/Santiago").unwrap();
        assert_eq!(after.format("%Y-%m-%d %H:%M %Z"), "2026-09-06 01:00 -03");
        let ba = to_local("2026-11-21T14:03:07Z", "America/Argentina/Buenos_Aires").unwrap();
        assert_eq!(ba.format("%e/%m/%y %I:%M %p %:z %%"), "21/11/26 11:03 AM -03:00 %");
    }

    #[test]
    fn an_unknown_zone_is_a_permanent_error_naming_it() {
        let error = to_local("2026-03-29T01:00:00Z", "Europe/Madird").unwrap_err();
        assert_eq!(error.kind, crate::ErrorKind::Permanent);
        assert!(error.message.starts_with("unknown time zone \"Europe/Madird\"; name an IANA"), "{error:?}");
        let error = to_local("29/03/2026", "UTC").unwrap_err();
        assert_eq!(
            error.message,
            "\"29/03/2026\" is not an RFC 3339 instant (such as \"2026-03-29T01:30:00Z\")"
        );
    }
}
