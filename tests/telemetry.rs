//! OpenTelemetry as an operator meets it: `gancho serve` pointed at a collector (a real OTLP/HTTP endpoint
//! on loopback that decodes the protobuf export as a collector does) exports one trace per event — its
//! ingest, each plugin run, each delivery attempt — and a subscription that asks for trace context gets a
//! `traceparent` naming its attempt's span. Without the `OTEL_*` variables nothing is exported.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{Value, json};
use support::service::{INGEST, OPERATOR, Receiver, Service, missed_call};

const WAIT: Duration = Duration::from_secs(30);

/// A span as the collector got it, with its resource's `service.name`.
#[derive(Debug, Clone)]
struct Exported {
    service_name: String,
    span: Span,
}

impl Exported {
    fn attribute(&self, key: &str) -> Option<String> {
        attribute(&self.span.attributes, key)
    }
}

fn attribute(attributes: &[KeyValue], key: &str) -> Option<String> {
    let value = attributes.iter().find(|kv| kv.key == key)?.value.as_ref()?.value.as_ref()?;
    Some(match value {
        any_value::Value::StringValue(text) => text.clone(),
        any_value::Value::IntValue(number) => number.to_string(),
        any_value::Value::BoolValue(flag) => flag.to_string(),
        other => format!("{other:?}"),
    })
}

/// An OTLP/HTTP trace receiver: `POST /v1/traces` with an `ExportTraceServiceRequest` in protobuf.
struct Collector {
    endpoint: String,
    spans: Arc<Mutex<Vec<Exported>>>,
    _runtime: tokio::runtime::Runtime,
}

impl Collector {
    fn start() -> Collector {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let kept = spans.clone();
        let app = axum::Router::new().route(
            "/v1/traces",
            axum::routing::post(move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    assert_eq!(headers["content-type"], "application/x-protobuf");
                    let request = ExportTraceServiceRequest::decode(body).expect("an OTLP trace export");
                    let mut kept = kept.lock().unwrap();
                    for resource_spans in request.resource_spans {
                        let resource = resource_spans.resource.unwrap_or_default();
                        let service_name =
                            attribute(&resource.attributes, "service.name").unwrap_or_default();
                        for scope_spans in resource_spans.scope_spans {
                            for span in scope_spans.spans {
                                kept.push(Exported { service_name: service_name.clone(), span });
                            }
                        }
                    }
                    ([("content-type", "application/x-protobuf")], Vec::<u8>::new())
                }
            }),
        );
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Collector { endpoint: format!("http://{address}"), spans, _runtime: runtime }
    }

    fn spans(&self) -> Vec<Exported> {
        self.spans.lock().unwrap().clone()
    }

    /// Waits until the spans of the event `event_id` include `count` named `name`.
    fn wait_for(&self, event_id: &str, counts: &[(&str, usize)]) -> Vec<Exported> {
        let started = Instant::now();
        loop {
            let spans: Vec<Exported> = self
                .spans()
                .into_iter()
                .filter(|s| s.attribute("gancho.event.id").as_deref() == Some(event_id))
                .collect();
            let named = |name: &str| spans.iter().filter(|s| s.span.name == name).count();
            if counts.iter().all(|(name, count)| named(name) >= *count) {
                return spans;
            }
            assert!(started.elapsed() < WAIT, "the collector did not get {counts:?} in {WAIT:?}: {spans:#?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The trace id, parent span id and sampled flag of a `traceparent` header, read as W3C Trace Context says.
fn parse_traceparent(value: &str) -> (String, String, String) {
    let fields: Vec<&str> = value.split('-').collect();
    assert_eq!(fields.len(), 4, "{value}");
    assert_eq!(fields[0], "00", "{value}");
    assert!(fields[1].len() == 32 && fields[2].len() == 16 && fields[3].len() == 2, "{value}");
    (fields[1].to_owned(), fields[2].to_owned(), fields[3].to_owned())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Subscribes `tenant` to `call.*` through slack to `receiver`, with trace context if `traced`.
fn subscribe(service: &Service, tenant: &str, receiver: &Receiver, traced: bool) -> Value {
    let subscription = service.subscribe(tenant, "slack", &["call.*"], &receiver.url, json!({}));
    receiver.set_secret(subscription["secret"].as_str().unwrap());
    assert_eq!(subscription["trace_context"], false, "off unless asked: {subscription}");
    if !traced {
        return subscription;
    }
    let path = format!("/v1/tenants/{tenant}/subscriptions/{}", subscription["id"].as_str().unwrap());
    let (status, changed) = service.patch(&path, OPERATOR, &json!({"trace_context": true}));
    assert_eq!((status, &changed["trace_context"]), (200, &json!(true)), "{changed}");
    subscription
}

#[test]
fn an_events_journey_is_one_trace_from_ingest_through_its_plugin_runs_to_each_delivery_attempt() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(
        &dir.path().join("data"),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint),
            ("OTEL_SERVICE_NAME", "gancho-story"),
            // Exported within a tenth of a second rather than the default five.
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    );
    let (traced_receiver, plain_receiver) = (Receiver::start(), Receiver::start());
    let traced = subscribe(&service, "acme", &traced_receiver, true);
    let plain = subscribe(&service, "acme", &plain_receiver, false);
    // A third subscription's plugin fails on the event: its run is in the trace, with why.
    let failing = service.subscribe(
        "acme",
        "misbehaving",
        &["call.*"],
        &plain_receiver.url,
        json!({"behaviour": "panic"}),
    );

    let (status, body) = service.post("/v1/events", INGEST, &missed_call("acme", "evt_traced_1"));
    assert_eq!(status, 202, "{body}");
    let got_traced = traced_receiver.wait_for(1, WAIT);
    let got_plain = plain_receiver.wait_for(1, WAIT);
    assert!(!got_plain[0].headers.contains_key("traceparent"), "not asked for: {:?}", got_plain[0].headers);

    let spans =
        collector.wait_for("evt_traced_1", &[("ingest", 1), ("plugin run", 3), ("delivery attempt", 2)]);
    assert_eq!(spans.len(), 6, "one ingest, a run per subscription, an attempt per delivery: {spans:#?}");
    assert!(spans.iter().all(|s| s.service_name == "gancho-story"), "{spans:#?}");
    let trace_id = &spans[0].span.trace_id;
    assert!(spans.iter().all(|s| &s.span.trace_id == trace_id), "one trace: {spans:#?}");
    let named = |name: &str| spans.iter().filter(|s| s.span.name == name).cloned().collect::<Vec<_>>();

    let ingest = &named("ingest")[0];
    assert!(ingest.span.parent_span_id.is_empty(), "the root: {ingest:#?}");
    assert_eq!(ingest.attribute("gancho.tenant").as_deref(), Some("acme"));
    assert_eq!(ingest.attribute("gancho.event.type").as_deref(), Some("call.ended"));
    assert_eq!(ingest.attribute("gancho.outcome").as_deref(), Some("accepted"));

    let runs = named("plugin run");
    let attempts = named("delivery attempt");
    let run_of =
        |id: &Value| runs.iter().find(|s| s.attribute("gancho.subscription.id").as_deref() == id.as_str());
    let failed = run_of(&failing["id"]).unwrap_or_else(|| panic!("no run of the failing plugin: {runs:#?}"));
    assert_eq!(failed.span.parent_span_id, ingest.span.span_id);
    assert_eq!(failed.attribute("gancho.plugin").as_deref(), Some("misbehaving@1"));
    assert_eq!(failed.attribute("gancho.outcome").as_deref(), Some("plugin_error"));
    assert_eq!(failed.attribute("gancho.plugin.error_kind").as_deref(), Some("trap"));
    // Its log line carries the trace id.
    let log = std::fs::read_to_string(dir.path().join("data.log")).unwrap();
    let line = log.lines().find(|line| line.contains("plugin failed")).unwrap_or_else(|| panic!("{log}"));
    // (`event{trace_id=…}: … plugin failed`, with colours when the terminal would show them)
    assert!(line.contains("trace_id") && line.contains(&hex(trace_id)), "{line}");
    for subscription in [&traced, &plain] {
        let id = subscription["id"].as_str().unwrap();
        let run = run_of(&subscription["id"]).unwrap_or_else(|| panic!("no plugin run of {id}: {runs:#?}"));
        assert_eq!(run.span.parent_span_id, ingest.span.span_id, "a child of the ingest: {run:#?}");
        assert_eq!(run.attribute("gancho.tenant").as_deref(), Some("acme"));
        assert_eq!(run.attribute("gancho.plugin").as_deref(), Some("slack@1"));
        assert_eq!(run.attribute("gancho.outcome").as_deref(), Some("ok"));

        let attempt = attempts.iter().find(|s| s.attribute("gancho.subscription.id").as_deref() == Some(id));
        let attempt = attempt.unwrap_or_else(|| panic!("no delivery attempt of {id}: {attempts:#?}"));
        assert_eq!(attempt.span.parent_span_id, run.span.span_id, "a child of its run: {attempt:#?}");
        assert_eq!(attempt.attribute("gancho.tenant").as_deref(), Some("acme"));
        assert_eq!(attempt.attribute("gancho.plugin").as_deref(), Some("slack@1"));
        assert_eq!(attempt.attribute("gancho.outcome").as_deref(), Some("succeeded"));
        assert_eq!(attempt.attribute("gancho.delivery.attempt").as_deref(), Some("1"));
        assert_eq!(attempt.attribute("http.response.status_code").as_deref(), Some("200"));
        let delivery_id =
            if id == traced["id"] { &got_traced[0].webhook_id } else { &got_plain[0].webhook_id };
        assert_eq!(attempt.attribute("gancho.delivery.id").as_ref(), Some(delivery_id));

        if id == traced["id"] {
            // The receiver's parent is this attempt, in this trace, recorded.
            let (trace, parent, flags) = parse_traceparent(&got_traced[0].headers["traceparent"]);
            assert_eq!((trace, parent, flags), (hex(trace_id), hex(&attempt.span.span_id), "01".to_owned()));
        }
    }
}

#[test]
fn without_the_otel_variables_nothing_is_exported_and_only_subscriptions_that_ask_get_a_traceparent() {
    let collector = Collector::start();
    for (case, extra) in [
        ("no OTEL variables", vec![]),
        (
            "OTEL_SDK_DISABLED",
            vec![
                ("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint.as_str()),
                ("OTEL_SDK_DISABLED", "true"),
                ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ],
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let service = Service::start(&dir.path().join("data"), &extra);
        let (traced_receiver, plain_receiver) = (Receiver::start(), Receiver::start());
        subscribe(&service, "acme", &traced_receiver, true);
        subscribe(&service, "acme", &plain_receiver, false);
        let event_id = format!("evt_quiet_{}", case.len());
        assert_eq!(service.post("/v1/events", INGEST, &missed_call("acme", &event_id)).0, 202);

        let got_traced = traced_receiver.wait_for(1, WAIT);
        let got_plain = plain_receiver.wait_for(1, WAIT);
        assert!(!got_plain[0].headers.contains_key("traceparent"), "{case}: {:?}", got_plain[0].headers);
        // Asked for, it is sent all the same: the event's own trace id, not sampled by Gancho.
        let (trace, _, flags) = parse_traceparent(&got_traced[0].headers["traceparent"]);
        assert_eq!(trace, hex(&gancho::telemetry::ids::trace_id("acme", &event_id)), "{case}");
        assert_eq!(flags, "00", "{case}");
        // Anything exported would have gone within the batch delay.
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(collector.spans().len(), 0, "{case}: nothing is exported: {:#?}", collector.spans());
    }
}

#[test]
fn a_clean_stop_exports_the_spans_still_waiting_for_their_batch() {
    let collector = Collector::start();
    let dir = tempfile::tempdir().unwrap();
    let mut service = Service::start(
        &dir.path().join("data"),
        // A batch would wait a minute: only the stop sends it.
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", &collector.endpoint), ("OTEL_BSP_SCHEDULE_DELAY", "60000")],
    );
    let receiver = Receiver::start();
    subscribe(&service, "acme", &receiver, false);
    assert_eq!(service.post("/v1/events", INGEST, &missed_call("acme", "evt_stop_1")).0, 202);
    receiver.wait_for(1, WAIT);
    service.wait_for_deliveries("acme", "&event_id=evt_stop_1", WAIT, |d| {
        d.iter().any(|d| d["status"] == "succeeded")
    });
    assert!(collector.spans().is_empty(), "not yet: {:#?}", collector.spans());

    assert!(service.terminate(), "gancho serve stops cleanly");
    let spans =
        collector.wait_for("evt_stop_1", &[("ingest", 1), ("plugin run", 1), ("delivery attempt", 1)]);
    assert!(spans.iter().all(|s| s.service_name == "gancho"), "the default service.name: {spans:#?}");
}
