//! The retry schedule: how long to wait before each attempt, with jitter, honouring an endpoint's
//! `Retry-After`, and when to give up.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use rand::Rng as _;
use time::format_description::OwnedFormatItem;
use time::{OffsetDateTime, PrimitiveDateTime};

/// The longest an endpoint's `Retry-After` may hold a delivery back; a larger value is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The HTTP-date form every sender must produce (IMF-fixdate, RFC 9110 §5.6.7); always in GMT.
static IMF_FIXDATE: LazyLock<OwnedFormatItem> = LazyLock::new(|| {
    time::format_description::parse_owned::<2>(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT",
    )
    .expect("the IMF-fixdate format description is valid")
});

/// When each attempt of a delivery is made. In configuration, a field left out keeps its default.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetrySchedule {
    /// The wait before each attempt, in seconds; the first entry is the wait before the first attempt, and
    /// a delivery whose attempts have used every entry is given up (dead).
    pub delays_secs: Vec<u64>,
    /// Each wait is scaled by a random factor in `[1 - jitter, 1 + jitter]`, so that deliveries that failed
    /// together (an endpoint outage) do not all come back at the same instant.
    pub jitter: f64,
}

impl Default for RetrySchedule {
    /// Immediately, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h: eight attempts over about a day
    /// and a half, the schedule Svix uses.
    fn default() -> Self {
        Self { delays_secs: vec![0, 5, 300, 1800, 7200, 18000, 36000, 36000], jitter: 0.2 }
    }
}

impl RetrySchedule {
    /// The wait before the next attempt after `attempts_made` attempts, or `None` when the schedule is
    /// exhausted and the delivery should be given up. A `Retry-After` from the endpoint is honoured when
    /// it asks for longer than the schedule, up to [`MAX_RETRY_AFTER`].
    pub fn delay_after(&self, attempts_made: u32, retry_after: Option<Duration>) -> Option<Duration> {
        let scheduled = *self.delays_secs.get(usize::try_from(attempts_made).ok()?)?;
        let jittered = self.jittered(Duration::from_secs(scheduled));
        let requested = retry_after.map_or(Duration::ZERO, |wait| wait.min(MAX_RETRY_AFTER));
        Some(jittered.max(requested))
    }

    /// Checks the schedule can be used, naming what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.delays_secs.is_empty() {
            return Err("retry schedule has no delays; list at least one (the first is the wait before the \
                        first attempt, usually 0)"
                .to_string());
        }
        if !(0.0..1.0).contains(&self.jitter) {
            return Err(format!(
                "retry jitter {} is out of range; it must be at least 0 and below 1 (0.2 means ±20 %)",
                self.jitter
            ));
        }
        Ok(())
    }

    fn jittered(&self, delay: Duration) -> Duration {
        if delay.is_zero() || self.jitter <= 0.0 {
            return delay;
        }
        let factor = 1.0 + rand::rng().random_range(-self.jitter..=self.jitter);
        // A jitter below 1 keeps the factor positive; the clamp only guards a schedule that skipped validation.
        delay.mul_f64(factor.max(0.0))
    }
}

/// Parses a `Retry-After` header: delta-seconds (`120`) or an HTTP-date (`Wed, 21 Oct 2026 07:28:00 GMT`),
/// the latter measured from `now`; a date already past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // An absurdly long number still means "a long time"; the caller caps it.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = PrimitiveDateTime::parse(value, &*IMF_FIXDATE).ok()?.assume_utc();
    let wait = at - OffsetDateTime::from(now);
    Some(wait.try_into().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(delays_secs: &[u64]) -> RetrySchedule {
        RetrySchedule { delays_secs: delays_secs.to_vec(), jitter: 0.0 }
    }

    #[test]
    fn default_schedule_is_valid_and_starts_immediately() {
        let schedule = RetrySchedule::default();
        schedule.validate().unwrap();
        assert_eq!(schedule.delays_secs.len(), 8);
        for _ in 0..100 {
            assert_eq!(schedule.delay_after(0, None), Some(Duration::ZERO));
        }
    }

    #[test]
    fn follows_the_schedule_then_gives_up() {
        let schedule = fixed(&[0, 5, 300]);
        assert_eq!(schedule.delay_after(1, None), Some(Duration::from_secs(5)));
        assert_eq!(schedule.delay_after(2, None), Some(Duration::from_secs(300)));
        assert_eq!(schedule.delay_after(3, None), None);
        assert_eq!(schedule.delay_after(u32::MAX, Some(Duration::from_secs(1))), None);
    }

    #[test]
    fn jitter_stays_within_bounds() {
        let schedule = RetrySchedule::default();
        for _ in 0..1000 {
            let delay = schedule.delay_after(2, None).unwrap().as_secs_f64();
            assert!((240.0..=360.0).contains(&delay), "{delay}");
        }
    }

    #[test]
    fn retry_after_is_honoured_when_longer_and_capped_at_a_day() {
        let schedule = fixed(&[0, 5, 300]);
        let minute = Duration::from_secs(60);
        assert_eq!(schedule.delay_after(1, Some(minute)), Some(minute));
        assert_eq!(schedule.delay_after(2, Some(minute)), Some(Duration::from_secs(300)));
        let week = Duration::from_secs(7 * 24 * 3600);
        assert_eq!(schedule.delay_after(1, Some(week)), Some(MAX_RETRY_AFTER));
        // Retry-After never extends the schedule: once exhausted, the delivery is dead.
        assert_eq!(schedule.delay_after(3, Some(minute)), None);
    }

    #[test]
    fn validate_names_the_problem() {
        assert!(fixed(&[]).validate().unwrap_err().contains("no delays"));
        for jitter in [-0.1, 1.0, f64::NAN] {
            let schedule = RetrySchedule { jitter, ..RetrySchedule::default() };
            assert!(schedule.validate().unwrap_err().contains("jitter"), "{jitter}");
        }
    }

    #[test]
    fn parses_delta_seconds() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("99999999999999999999999", now), Some(Duration::from_secs(u64::MAX)));
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn parses_http_dates_relative_to_now() {
        let date = "Wed, 21 Oct 2026 07:28:00 GMT";
        let at = time::Date::from_calendar_date(2026, time::Month::October, 21).unwrap().with_hms(7, 28, 0);
        let at = SystemTime::from(at.unwrap().assume_utc());
        assert_eq!(parse_retry_after(date, at - Duration::from_secs(90)), Some(Duration::from_secs(90)));
        assert_eq!(parse_retry_after(date, at + Duration::from_secs(90)), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2026 07:28:00 PST", at), None);
        assert_eq!(parse_retry_after("2026-10-21T07:28:00Z", at), None);
    }
}
