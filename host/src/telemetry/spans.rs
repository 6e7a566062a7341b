//! The spans of an event's trace, each made when its stage ends, from what the stage already has:
//! - `ingest` (server): the event accepted and committed; the root, its id derived from the event.
//! - `plugin run` (internal): one subscription's plugin over the event; a child of `ingest`.
//! - `delivery attempt` (client): one send of one delivery; a child of the run that made the delivery.
//!
//! Each hook begins with [`super::enabled`]: off, it returns at once, having made and allocated nothing.
//! A stage's log lines carry the trace id through a `tracing` span ([`log_scope`]) while tracing is on.

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanContext, SpanKind, Status, TraceFlags, TraceState};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

use super::ids::{self, SpanId, TraceId};
use super::{enabled, export, sampled};
use crate::store::{
    AttemptRecord, ClaimedDelivery, ClaimedEvent, DeliveryStatus, Inserted, NewDelivery, NewEvent,
    Subscription,
};

/// An event's ingest, begun before its commit.
#[must_use]
pub struct IngestSpan(Option<IngestBegun>);

struct IngestBegun {
    start: SystemTime,
    tenant: String,
    event_id: String,
    event_type: String,
}

impl IngestSpan {
    #[inline]
    pub fn begin(event: &NewEvent) -> IngestSpan {
        if !enabled() {
            return IngestSpan(None);
        }
        IngestSpan(Some(IngestBegun {
            start: SystemTime::now(),
            tenant: event.tenant_id.clone(),
            event_id: event.id.clone(),
            event_type: event.event_type.clone(),
        }))
    }

    /// Ends it with what the commit said: only a new event starts a trace (a duplicate's is the first's).
    pub fn end(self, inserted: &Inserted) {
        let Some(begun) = self.0 else { return };
        if !matches!(inserted, Inserted::New { .. }) {
            return;
        }
        let trace = ids::trace_id(&begun.tenant, &begun.event_id);
        if !sampled(&trace) {
            return;
        }
        let attributes = vec![
            KeyValue::new("gancho.tenant", begun.tenant.clone()),
            KeyValue::new("gancho.event.id", begun.event_id.clone()),
            KeyValue::new("gancho.event.type", begun.event_type),
            KeyValue::new("gancho.outcome", "accepted"),
        ];
        let span = ids::ingest_span_id(&begun.tenant, &begun.event_id);
        finish(Ended {
            trace,
            span,
            parent: None,
            kind: SpanKind::Server,
            name: "ingest",
            start: begun.start,
            attributes,
            error: None,
        });
    }
}

/// One plugin run, begun on the plugin thread as it starts; its log lines carry the trace id meanwhile.
#[must_use]
pub struct PluginRunSpan(Option<RunBegun>);

struct RunBegun {
    start: SystemTime,
    trace: TraceId,
    _log_scope: tracing::span::EnteredSpan,
}

impl PluginRunSpan {
    #[inline]
    pub fn begin(event: &ClaimedEvent) -> PluginRunSpan {
        if !enabled() {
            return PluginRunSpan(None);
        }
        let trace = ids::trace_id(&event.tenant_id, &event.id);
        let log_scope = tracing::info_span!("event", trace_id = %hex::encode(trace)).entered();
        PluginRunSpan(Some(RunBegun { start: SystemTime::now(), trace, _log_scope: log_scope }))
    }

    /// Ends it with the run's deliveries (`plugin`: the `name@version` that ran). A run that made none was
    /// not one (its event was left for later).
    pub fn end(
        self,
        event: &ClaimedEvent,
        subscription: &Subscription,
        plugin: &str,
        deliveries: &[NewDelivery],
    ) {
        let Some(begun) = self.0 else { return };
        let Some(first) = deliveries.first() else { return };
        if !sampled(&begun.trace) {
            return;
        }
        let failed = deliveries.iter().find(|d| d.status == DeliveryStatus::PluginError);
        let outcome = match failed {
            Some(_) => "plugin_error",
            None if deliveries.iter().all(|d| d.status == DeliveryStatus::Skipped) => "skipped",
            None => "ok",
        };
        let mut attributes = vec![
            KeyValue::new("gancho.tenant", event.tenant_id.clone()),
            KeyValue::new("gancho.event.id", event.id.clone()),
            KeyValue::new("gancho.event.type", event.event_type.clone()),
            KeyValue::new("gancho.subscription.id", subscription.id.clone()),
            KeyValue::new("gancho.plugin", plugin.to_owned()),
            KeyValue::new("gancho.outcome", outcome),
            KeyValue::new("gancho.deliveries", deliveries.len() as i64),
        ];
        if let Some(kind) = failed.and_then(|d| d.error_kind.clone()) {
            attributes.push(KeyValue::new("gancho.plugin.error_kind", kind));
        }
        let span = ids::run_span_id(&event.tenant_id, &event.id, &subscription.id, first.created_at);
        finish(Ended {
            trace: begun.trace,
            span,
            parent: Some(ids::ingest_span_id(&event.tenant_id, &event.id)),
            kind: SpanKind::Internal,
            name: "plugin run",
            start: begun.start,
            attributes,
            error: failed.and_then(|d| d.error.clone()),
        });
    }
}

/// One delivery attempt, begun before its send.
#[must_use]
pub struct AttemptSpan(Option<SystemTime>);

impl AttemptSpan {
    #[inline]
    pub fn begin() -> AttemptSpan {
        AttemptSpan(enabled().then(SystemTime::now))
    }

    /// Ends it with the attempt's record.
    pub fn end(self, delivery: &ClaimedDelivery, record: &AttemptRecord) {
        let Some(start) = self.0 else { return };
        let trace = ids::trace_id(&delivery.tenant_id, &delivery.event_id);
        if !sampled(&trace) {
            return;
        }
        let attempt = delivery.attempts + 1;
        let mut attributes = vec![
            KeyValue::new("gancho.tenant", delivery.tenant_id.clone()),
            KeyValue::new("gancho.event.id", delivery.event_id.clone()),
            KeyValue::new("gancho.subscription.id", delivery.subscription_id.clone()),
            KeyValue::new("gancho.plugin", delivery.plugin.clone()),
            KeyValue::new("gancho.delivery.id", delivery.id.clone()),
            KeyValue::new("gancho.delivery.attempt", i64::from(attempt)),
            KeyValue::new("gancho.outcome", record.new_status.as_str()),
            KeyValue::new("http.request.method", delivery.request.method.clone()),
        ];
        if let Some(code) = record.status_code {
            attributes.push(KeyValue::new("http.response.status_code", i64::from(code)));
        }
        if record.paced {
            attributes.push(KeyValue::new("gancho.paced", true));
        }
        let failed = !matches!(record.new_status, DeliveryStatus::Succeeded) || record.paced;
        let parent = ids::run_span_id(
            &delivery.tenant_id,
            &delivery.event_id,
            &delivery.subscription_id,
            delivery.created_at,
        );
        finish(Ended {
            trace,
            span: ids::attempt_span_id(&delivery.id, attempt),
            parent: Some(parent),
            kind: SpanKind::Client,
            name: "delivery attempt",
            start,
            attributes,
            error: failed
                .then(|| record.error.clone().unwrap_or_else(|| record.new_status.as_str().to_owned())),
        });
    }
}

/// The `traceparent` header for the delivery's next attempt, when its subscription asks for one
/// (`trace_context`): the attempt's span in the event's trace. Sent whether or not traces are exported —
/// the ids are derived, so a receiver that traces on its own gets a valid parent at no cost; the sampled
/// flag says whether Gancho records the trace.
pub fn trace_header(delivery: &ClaimedDelivery) -> Option<(String, String)> {
    if !delivery.trace_context {
        return None;
    }
    let trace = ids::trace_id(&delivery.tenant_id, &delivery.event_id);
    let span = ids::attempt_span_id(&delivery.id, delivery.attempts + 1);
    Some(("traceparent".to_owned(), ids::traceparent(&trace, &span, sampled(&trace))))
}

/// A `tracing` span whose field `trace_id` every log line within it carries, while tracing is on (else
/// none, at no cost).
#[inline]
pub fn log_scope(tenant: &str, event_id: &str) -> tracing::Span {
    if !enabled() {
        return tracing::Span::none();
    }
    tracing::info_span!("event", trace_id = %hex::encode(ids::trace_id(tenant, event_id)))
}

/// A span as it ended.
struct Ended {
    trace: TraceId,
    span: SpanId,
    parent: Option<SpanId>,
    kind: SpanKind,
    name: &'static str,
    start: SystemTime,
    attributes: Vec<KeyValue>,
    /// What went wrong, when the stage failed.
    error: Option<String>,
}

fn finish(ended: Ended) {
    let context = opentelemetry::trace::TraceId::from_bytes(ended.trace);
    let span_context = SpanContext::new(
        context,
        opentelemetry::trace::SpanId::from_bytes(ended.span),
        TraceFlags::SAMPLED,
        false,
        TraceState::default(),
    );
    let status = match ended.error {
        Some(description) => Status::Error { description: Cow::Owned(description) },
        None => Status::Unset,
    };
    export(SpanData {
        span_context,
        parent_span_id: ended
            .parent
            .map_or(opentelemetry::trace::SpanId::INVALID, opentelemetry::trace::SpanId::from_bytes),
        // The parent may have ended on another instance.
        parent_span_is_remote: ended.parent.is_some(),
        span_kind: ended.kind,
        name: Cow::Borrowed(ended.name),
        start_time: ended.start,
        end_time: SystemTime::now(),
        attributes: ended.attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: Default::default(),
    });
}
