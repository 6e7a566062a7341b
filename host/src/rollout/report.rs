//! A dry run's findings: each event's verdict (identical, changed, newly failing, newly succeeding, still
//! failing), the counts, the differing events with their changes, and the same as text for a terminal.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use super::diff::{Change, ChangeKind, RunOutcome, request_changes};

/// At most this many differing events are kept in a report; the rest are only counted.
pub const MAX_EVENTS_LISTED: usize = 500;

/// How the candidate's result for one event compares with the current version's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The same requests (or both skipped).
    Identical,
    /// Both ran, with different requests.
    Changed,
    /// The current version ran; the candidate fails.
    NewlyFailing,
    /// The current version fails; the candidate runs.
    NewlySucceeding,
    /// Both fail.
    StillFailing,
}

/// The counts of a dry run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Summary {
    /// Events compared.
    pub events: u64,
    pub identical: u64,
    pub changed: u64,
    pub newly_failing: u64,
    pub newly_succeeding: u64,
    pub still_failing: u64,
}

/// A plugin's error on one event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RunFailure {
    /// `trap`, `timeout`, `plugin_error_permanent`, …
    pub kind: String,
    pub message: String,
}

/// One event on which the versions differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EventDiff {
    pub event_id: String,
    pub event_type: String,
    pub verdict: Verdict,
    /// For `changed`: what differs, by path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
    /// Changes beyond those listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub changes_omitted: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_error: Option<RunFailure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_error: Option<RunFailure>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// A dry run's comparison of two versions over a set of events.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    pub summary: Summary,
    /// The events that differ, in the order they were compared (at most [`MAX_EVENTS_LISTED`]).
    pub events: Vec<EventDiff>,
    /// Differing events beyond those listed.
    #[serde(default)]
    pub events_omitted: u64,
}

impl Report {
    /// Compares what the two versions did with one event and counts it.
    pub fn add(
        &mut self,
        event_id: &str,
        event_type: &str,
        current: &RunOutcome,
        candidate: &RunOutcome,
    ) -> Verdict {
        let failure = |outcome: &RunOutcome| match outcome {
            RunOutcome::Failed { kind, message } => {
                Some(RunFailure { kind: kind.clone(), message: message.clone() })
            }
            RunOutcome::Requests(_) => None,
        };
        let (mut changes, mut changes_omitted) = (Vec::new(), 0);
        let verdict = match (current, candidate) {
            (RunOutcome::Requests(before), RunOutcome::Requests(after)) => {
                (changes, changes_omitted) = request_changes(before, after);
                if changes.is_empty() && changes_omitted == 0 { Verdict::Identical } else { Verdict::Changed }
            }
            (RunOutcome::Requests(_), RunOutcome::Failed { .. }) => Verdict::NewlyFailing,
            (RunOutcome::Failed { .. }, RunOutcome::Requests(_)) => Verdict::NewlySucceeding,
            (RunOutcome::Failed { .. }, RunOutcome::Failed { .. }) => Verdict::StillFailing,
        };
        let summary = &mut self.summary;
        summary.events += 1;
        *match verdict {
            Verdict::Identical => &mut summary.identical,
            Verdict::Changed => &mut summary.changed,
            Verdict::NewlyFailing => &mut summary.newly_failing,
            Verdict::NewlySucceeding => &mut summary.newly_succeeding,
            Verdict::StillFailing => &mut summary.still_failing,
        } += 1;
        if verdict != Verdict::Identical {
            if self.events.len() < MAX_EVENTS_LISTED {
                self.events.push(EventDiff {
                    event_id: event_id.to_owned(),
                    event_type: event_type.to_owned(),
                    verdict,
                    changes,
                    changes_omitted,
                    current_error: failure(current),
                    candidate_error: failure(candidate),
                });
            } else {
                self.events_omitted += 1;
            }
        }
        verdict
    }

    /// The report as a person reads it in a terminal: the counts, then each differing event.
    pub fn to_text(&self, current: &str, candidate: &str) -> String {
        let s = &self.summary;
        let mut text = format!(
            "{current} → {candidate}: {} events compared\n  {} identical, {} changed, {} newly failing, {} newly \
             succeeding, {} still failing\n",
            s.events, s.identical, s.changed, s.newly_failing, s.newly_succeeding, s.still_failing
        );
        for event in &self.events {
            let _ = write!(
                text,
                "\n{} ({}): {}\n",
                event.event_id,
                event.event_type,
                verdict_words(event.verdict)
            );
            for change in &event.changes {
                let _ = writeln!(text, "  {}", change_line(change));
            }
            if event.changes_omitted > 0 {
                let _ = writeln!(text, "  … and {} more changes", event.changes_omitted);
            }
            for (who, error) in [("current", &event.current_error), ("candidate", &event.candidate_error)] {
                if let Some(error) = error {
                    let _ = writeln!(text, "  {who} fails ({}): {}", error.kind, error.message);
                }
            }
        }
        if self.events_omitted > 0 {
            let _ = write!(text, "\n… and {} more differing events, not listed\n", self.events_omitted);
        }
        text
    }
}

fn verdict_words(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Identical => "identical",
        Verdict::Changed => "changed",
        Verdict::NewlyFailing => "newly failing",
        Verdict::NewlySucceeding => "newly succeeding",
        Verdict::StillFailing => "still failing",
    }
}

fn change_line(change: &Change) -> String {
    let show = |value: &Option<serde_json::Value>| value.as_ref().map(|v| v.to_string()).unwrap_or_default();
    match change.kind {
        ChangeKind::Changed => {
            format!("~ {}: {} → {}", change.path, show(&change.before), show(&change.after))
        }
        ChangeKind::Added => format!("+ {}: {}", change.path, show(&change.after)),
        ChangeKind::Removed => format!("- {}: {}", change.path, show(&change.before)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::{Body, OutgoingRequest};

    fn json(body: &str) -> RunOutcome {
        RunOutcome::Requests(vec![OutgoingRequest {
            method: "POST",
            url: "https://crm.example/calls".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: Body::Text(body.into()),
        }])
    }

    fn failed(message: &str) -> RunOutcome {
        RunOutcome::Failed { kind: "plugin_error_permanent".into(), message: message.into() }
    }

    #[test]
    fn each_verdict_is_counted_and_only_differing_events_are_listed() {
        let mut report = Report::default();
        assert_eq!(
            report.add("e1", "call.ended", &json(r#"{"a":1}"#), &json(r#"{"a":1}"#)),
            Verdict::Identical
        );
        assert_eq!(
            report.add("e2", "call.ended", &json(r#"{"a":1}"#), &json(r#"{"a":2}"#)),
            Verdict::Changed
        );
        assert_eq!(report.add("e3", "chat.closed", &json("{}"), &failed("no phone")), Verdict::NewlyFailing);
        assert_eq!(
            report.add("e4", "chat.closed", &failed("x"), &RunOutcome::Requests(vec![])),
            Verdict::NewlySucceeding
        );
        assert_eq!(report.add("e5", "chat.closed", &failed("x"), &failed("y")), Verdict::StillFailing);
        let expected = Summary {
            events: 5,
            identical: 1,
            changed: 1,
            newly_failing: 1,
            newly_succeeding: 1,
            still_failing: 1,
        };
        assert_eq!(report.summary, expected);
        assert_eq!(
            report.events.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(),
            ["e2", "e3", "e4", "e5"]
        );
        assert_eq!(report.events[1].candidate_error.as_ref().map(|e| e.message.as_str()), Some("no phone"));
    }

    #[test]
    fn the_text_names_each_change_and_error() {
        let mut report = Report::default();
        report.add("evt_1", "call.ended", &json(r#"{"phone":"+34"}"#), &json(r#"{"phone_number":"+34"}"#));
        report.add("evt_2", "chat.closed", &json("{}"), &failed("chats are not supported"));
        let text = report.to_text("crm@1", "crm@2");
        assert!(
            text.starts_with("crm@1 → crm@2: 2 events compared\n  0 identical, 1 changed, 1 newly failing"),
            "{text}"
        );
        assert!(text.contains("evt_1 (call.ended): changed\n  - requests[0].body.phone: \"+34\"\n  + requests[0].body.phone_number: \"+34\"\n"), "{text}");
        assert!(text.contains("evt_2 (chat.closed): newly failing\n  candidate fails (plugin_error_permanent): chats are not supported"), "{text}");
    }
}
