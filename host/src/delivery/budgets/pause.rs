//! What a destination's answer says about its budget: a 429, or a 503 with `Retry-After`, asks the whole
//! destination to slow down. With a `Retry-After` it is paused until then (at most a day); without one
//! (Google sends none) for an adaptive backoff: 10 s, doubled by each pause that follows the last within
//! five minutes, up to 5 minutes.

use std::time::Duration;

use crate::store::Millis;

const FIRST_BACKOFF_MS: i64 = 10_000;
const MAX_BACKOFF_MS: i64 = 300_000;
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
/// A pause this long after the last one ended starts the backoff over.
const CALM_MS: i64 = 300_000;

/// A pause the destination asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pause {
    pub until: Millis,
    /// The backoff it used, when no `Retry-After` was sent (to double next time).
    pub backoff_ms: Option<i64>,
    pub reason: String,
}

/// The pause an answer asks for at `now`, if it does: `status` and its `Retry-After`; `last` is the
/// destination's last adaptive backoff and when that pause ended.
pub fn asked(
    status: Option<u16>,
    retry_after: Option<Duration>,
    now: Millis,
    last: Option<(i64, Millis)>,
) -> Option<Pause> {
    match (status, retry_after) {
        (Some(429), Some(wait)) | (Some(503), Some(wait)) => {
            let wait = wait.min(MAX_RETRY_AFTER).as_millis() as i64;
            Some(Pause {
                until: now + wait.max(1),
                backoff_ms: None,
                reason: format!(
                    "the destination answered {} with Retry-After: {} s",
                    status.unwrap_or(0),
                    wait / 1000
                ),
            })
        }
        (Some(429), None) => {
            let backoff = match last {
                Some((previous, ended)) if now - ended < CALM_MS => (previous * 2).min(MAX_BACKOFF_MS),
                _ => FIRST_BACKOFF_MS,
            };
            Some(Pause {
                until: now + backoff,
                backoff_ms: Some(backoff),
                reason: format!(
                    "the destination answered 429 without Retry-After; backing off {} s",
                    backoff / 1000
                ),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_honoured_on_429_and_503() {
        let pause = asked(Some(503), Some(Duration::from_secs(30)), 1_000, None).unwrap();
        assert_eq!((pause.until, pause.backoff_ms), (31_000, None));
        assert!(asked(Some(503), None, 1_000, None).is_none(), "a 503 alone is a failed attempt");
        assert!(asked(Some(500), Some(Duration::from_secs(1)), 1_000, None).is_none());
    }

    #[test]
    fn without_retry_after_the_backoff_doubles_while_429s_keep_coming() {
        let first = asked(Some(429), None, 0, None).unwrap();
        assert_eq!(first.backoff_ms, Some(10_000));
        let second = asked(Some(429), None, 11_000, Some((10_000, first.until))).unwrap();
        assert_eq!(second.backoff_ms, Some(20_000));
        let calm = asked(Some(429), None, 1_000_000, Some((20_000, second.until))).unwrap();
        assert_eq!(calm.backoff_ms, Some(10_000), "after a calm spell it starts over");
        let capped = asked(Some(429), None, 0, Some((MAX_BACKOFF_MS, 0))).unwrap();
        assert_eq!(capped.backoff_ms, Some(MAX_BACKOFF_MS));
    }
}
