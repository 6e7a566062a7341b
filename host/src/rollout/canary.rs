//! A canary: which events run the candidate (a share chosen by event id, so a replay goes the same way),
//! the rules a rollout is judged by, the figures of each version, and the verdict — wait, roll back, or
//! promote.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::{DeliveryStatus, VersionCount};

/// Whether the event runs the candidate of a canary at `percent`: the same answer for the same event id
/// every time, on every instance.
pub fn takes_candidate(event_id: &str, percent: u8) -> bool {
    let digest = Sha256::digest(event_id.as_bytes());
    let bucket = u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 has 8 bytes")) % 100;
    bucket < u64::from(percent)
}

/// What a rollout is judged by; every field has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// The candidate is judged only once it has run on this many events.
    pub min_events: u32,
    /// Roll back when the candidate's plugin-error rate is more than this above the current version's
    /// (0.05: five points).
    pub max_plugin_error_increase: f64,
    /// Roll back when the share of the candidate's deliveries that the destination refused or did not
    /// answer (non-2xx, timeouts) is more than this above the current version's.
    pub max_failure_increase: f64,
    /// Promote the candidate by itself after this many clean events (run, and delivered or skipped);
    /// absent: only by hand.
    pub promote_after: Option<u32>,
}

impl Default for Rules {
    fn default() -> Rules {
        Rules {
            min_events: 20,
            max_plugin_error_increase: 0.05,
            max_failure_increase: 0.10,
            promote_after: None,
        }
    }
}

impl Rules {
    /// The rule that is out of range, as `(field, what is wrong)`.
    pub fn invalid(&self) -> Option<(&'static str, String)> {
        let rate = |value: f64| (0.0..=1.0).contains(&value);
        if self.min_events == 0 {
            return Some(("rules.min_events", "must be at least 1".into()));
        }
        if !rate(self.max_plugin_error_increase) {
            return Some(("rules.max_plugin_error_increase", "must be between 0 and 1".into()));
        }
        if !rate(self.max_failure_increase) {
            return Some(("rules.max_failure_increase", "must be between 0 and 1".into()));
        }
        match self.promote_after {
            Some(n) if n < self.min_events => Some((
                "rules.promote_after",
                format!(
                    "must be at least rules.min_events ({}): a candidate is judged first",
                    self.min_events
                ),
            )),
            _ => None,
        }
    }
}

/// What one version did since the rollout started, in events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct VersionFigures {
    /// `acme/crm@3`.
    pub plugin: String,
    /// Events it ran on.
    pub events: u64,
    pub plugin_errors: u64,
    pub skipped: u64,
    pub delivered: u64,
    /// Events with a delivery the destination refused or did not answer (failed, or dead).
    pub destination_failures: u64,
    /// Events with a delivery not yet attempted.
    pub waiting: u64,
}

impl VersionFigures {
    /// The figures of `plugin` among a subscription's counts.
    pub fn of(plugin: &str, counts: &[VersionCount]) -> VersionFigures {
        let mut figures = VersionFigures { plugin: plugin.to_owned(), ..VersionFigures::default() };
        for count in counts.iter().filter(|count| count.plugin == plugin) {
            figures.events += count.events;
            *match count.status {
                DeliveryStatus::PluginError => &mut figures.plugin_errors,
                DeliveryStatus::Skipped => &mut figures.skipped,
                DeliveryStatus::Succeeded => &mut figures.delivered,
                DeliveryStatus::Failed | DeliveryStatus::Dead => &mut figures.destination_failures,
                DeliveryStatus::Pending => &mut figures.waiting,
                DeliveryStatus::Superseded => continue,
            } += count.events;
        }
        figures
    }

    fn plugin_error_rate(&self) -> f64 {
        ratio(self.plugin_errors, self.events)
    }

    /// Of the deliveries the destination answered (or failed to), the share that failed.
    fn failure_rate(&self) -> f64 {
        ratio(self.destination_failures, self.delivered + self.destination_failures)
    }

    fn clean(&self) -> u64 {
        self.delivered + self.skipped
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// What to do with a running rollout.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Wait,
    RollBack(String),
    Promote(String),
}

/// Judges the candidate against the current version by `rules`.
pub fn judge(rules: &Rules, current: &VersionFigures, candidate: &VersionFigures) -> Decision {
    if candidate.events < u64::from(rules.min_events) {
        return Decision::Wait;
    }
    let percent = |rate: f64| format!("{:.0}%", rate * 100.0);
    let (candidate_errors, current_errors) = (candidate.plugin_error_rate(), current.plugin_error_rate());
    if candidate_errors - current_errors > rules.max_plugin_error_increase {
        return Decision::RollBack(format!(
            "the candidate {} failed on {} of {} events ({}) against {} of {} ({}) for {}; \
             rules.max_plugin_error_increase is {}",
            candidate.plugin,
            candidate.plugin_errors,
            candidate.events,
            percent(candidate_errors),
            current.plugin_errors,
            current.events,
            percent(current_errors),
            current.plugin,
            rules.max_plugin_error_increase
        ));
    }
    let answered = candidate.delivered + candidate.destination_failures;
    let (candidate_failures, current_failures) = (candidate.failure_rate(), current.failure_rate());
    if answered >= u64::from(rules.min_events)
        && candidate_failures - current_failures > rules.max_failure_increase
    {
        return Decision::RollBack(format!(
            "the destination refused or did not answer {} of {} events ({}) of the candidate {} against {} \
             for {}; rules.max_failure_increase is {}",
            candidate.destination_failures,
            answered,
            percent(candidate_failures),
            candidate.plugin,
            percent(current_failures),
            current.plugin,
            rules.max_failure_increase
        ));
    }
    match rules.promote_after {
        Some(after) if candidate.clean() >= u64::from(after) => Decision::Promote(format!(
            "the candidate {} ran cleanly on {} events (rules.promote_after is {after}) within the rules",
            candidate.plugin,
            candidate.clean()
        )),
        _ => Decision::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(plugin: &str, events: u64, plugin_errors: u64, failures: u64) -> VersionFigures {
        VersionFigures {
            plugin: plugin.into(),
            events,
            plugin_errors,
            delivered: events - plugin_errors - failures,
            destination_failures: failures,
            ..VersionFigures::default()
        }
    }

    #[test]
    fn the_share_of_events_follows_the_percent_and_is_stable() {
        let ids: Vec<String> = (0..10_000).map(|i| format!("evt_{i}")).collect();
        let taken = ids.iter().filter(|id| takes_candidate(id, 20)).count();
        assert!((1_800..=2_200).contains(&taken), "{taken} of 10000 at 20%");
        assert!(ids.iter().all(|id| takes_candidate(id, 20) == takes_candidate(id, 20)));
        assert!(ids.iter().filter(|id| takes_candidate(id, 20)).all(|id| takes_candidate(id, 50)));
        assert!(
            !ids.iter().any(|id| takes_candidate(id, 0)) && ids.iter().all(|id| takes_candidate(id, 100))
        );
    }

    #[test]
    fn a_candidate_is_judged_after_min_events_against_the_current_version() {
        let rules = Rules { min_events: 10, ..Rules::default() };
        let current = figures("crm@2", 100, 2, 0);
        assert_eq!(judge(&rules, &current, &figures("crm@3", 9, 9, 0)), Decision::Wait);
        let Decision::RollBack(reason) = judge(&rules, &current, &figures("crm@3", 10, 5, 0)) else {
            panic!()
        };
        assert!(
            reason.contains("failed on 5 of 10 events (50%) against 2 of 100 (2%) for crm@2"),
            "{reason}"
        );
        // As bad as the current version is no reason to roll back.
        assert_eq!(judge(&rules, &figures("crm@2", 100, 50, 0), &figures("crm@3", 10, 5, 0)), Decision::Wait);
        let Decision::RollBack(reason) = judge(&rules, &current, &figures("crm@3", 20, 0, 8)) else {
            panic!()
        };
        assert!(reason.contains("refused or did not answer 8 of 20 events (40%)"), "{reason}");
    }

    #[test]
    fn a_clean_candidate_is_promoted_after_promote_after_events() {
        let rules = Rules { min_events: 5, promote_after: Some(30), ..Rules::default() };
        let current = figures("crm@2", 100, 0, 0);
        assert_eq!(judge(&rules, &current, &figures("crm@3", 29, 0, 0)), Decision::Wait);
        assert!(matches!(judge(&rules, &current, &figures("crm@3", 30, 0, 0)), Decision::Promote(_)));
        assert_eq!(
            Rules { promote_after: Some(3), ..rules }.invalid().map(|(f, _)| f),
            Some("rules.promote_after")
        );
    }

    #[test]
    fn figures_add_up_a_versions_counts() {
        let count = |plugin: &str, status, events| VersionCount { plugin: plugin.into(), status, events };
        let counts = [
            count("crm@3", DeliveryStatus::Succeeded, 7),
            count("crm@3", DeliveryStatus::PluginError, 2),
            count("crm@3", DeliveryStatus::Dead, 1),
            count("crm@2", DeliveryStatus::Succeeded, 40),
        ];
        let expected = VersionFigures {
            plugin: "crm@3".into(),
            events: 10,
            plugin_errors: 2,
            delivered: 7,
            destination_failures: 1,
            ..VersionFigures::default()
        };
        assert_eq!(VersionFigures::of("crm@3", &counts), expected);
    }
}
