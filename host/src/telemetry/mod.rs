//! OpenTelemetry traces, exported over OTLP/HTTP (protobuf) when the standard `OTEL_*` variables name an
//! endpoint, and off otherwise. One trace per event: its ingest, each plugin run and each delivery attempt
//! (see [`spans`]), whose ids are derived from the event (see [`ids`]) so that every stage, on any
//! instance, joins the same trace with nothing stored. Spans are handed to the SDK's batch processor,
//! which exports from a thread of its own; [`shutdown`] flushes what it holds.
//!
//! Off, every hook is one atomic load ([`enabled`]) and nothing else: no span, no allocation.

pub mod ids;
pub mod spans;

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{BatchSpanProcessor, SpanData, SpanProcessor};

/// The exporter, once started; never set when tracing is off.
static EXPORTING: OnceLock<Exporting> = OnceLock::new();

struct Exporting {
    processor: BatchSpanProcessor,
    sampler: Sampler,
    scope: opentelemetry::InstrumentationScope,
}

/// Which events' traces are recorded, decided from the trace id alone, so that every stage on every
/// instance decides the same for one event (`OTEL_TRACES_SAMPLER`; the `parentbased_` variants are the
/// same here, since an event's trace has no parent).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampler {
    AlwaysOn,
    AlwaysOff,
    /// This share of traces (0.0–1.0), by trace id.
    Ratio(f64),
}

impl Sampler {
    /// Whether the trace is recorded.
    pub fn samples(&self, trace_id: &ids::TraceId) -> bool {
        match *self {
            Sampler::AlwaysOn => true,
            Sampler::AlwaysOff => false,
            Sampler::Ratio(ratio) => {
                // The low 63 bits of the id's last eight bytes against the ratio, as the SDK's own
                // `TraceIdRatioBased` does.
                let low = u64::from_be_bytes(trace_id[8..].try_into().expect("eight bytes")) >> 1;
                (low as f64) < ratio * (1u64 << 63) as f64
            }
        }
    }
}

/// What the `OTEL_*` variables ask for, when they turn tracing on.
#[derive(Debug, PartialEq)]
pub struct Settings {
    pub sampler: Sampler,
    /// `service.name` when `OTEL_SERVICE_NAME` does not set it.
    pub default_service_name: Option<&'static str>,
}

/// Reads the `OTEL_*` variables through `var`: `None` when tracing is off (no endpoint, or
/// `OTEL_SDK_DISABLED=true`, or `OTEL_TRACES_EXPORTER=none`); an error names the variable and what to do.
pub fn settings_from(var: impl Fn(&str) -> Option<String>) -> Result<Option<Settings>, String> {
    let set = |name: &str| var(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    if set("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return Ok(None);
    }
    match set("OTEL_TRACES_EXPORTER").as_deref() {
        None | Some("otlp") => {}
        Some("none") => return Ok(None),
        Some(other) => {
            return Err(format!(
                "OTEL_TRACES_EXPORTER={other} is not supported: gancho exports traces over OTLP; set it to \
                 `otlp` (or unset it), or `none` to turn traces off"
            ));
        }
    }
    if set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_none() && set("OTEL_EXPORTER_OTLP_ENDPOINT").is_none() {
        return Ok(None);
    }
    for name in ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"] {
        if let Some(protocol) = set(name) {
            if protocol != "http/protobuf" {
                return Err(format!(
                    "{name}={protocol} is not supported: gancho exports over OTLP/HTTP with protobuf; set it \
                     to `http/protobuf` (or unset it) and point the endpoint at the collector's HTTP port \
                     (4318)"
                ));
            }
            break;
        }
    }
    let ratio = || -> Result<f64, String> {
        match set("OTEL_TRACES_SAMPLER_ARG") {
            None => Ok(1.0),
            Some(arg) => arg.parse::<f64>().ok().filter(|r| (0.0..=1.0).contains(r)).ok_or_else(|| {
                format!("OTEL_TRACES_SAMPLER_ARG={arg} is not a ratio; give a number from 0 to 1 (0.25: a quarter)")
            }),
        }
    };
    let sampler = match set("OTEL_TRACES_SAMPLER").as_deref() {
        None | Some("always_on" | "parentbased_always_on") => Sampler::AlwaysOn,
        Some("always_off" | "parentbased_always_off") => Sampler::AlwaysOff,
        Some("traceidratio" | "parentbased_traceidratio") => Sampler::Ratio(ratio()?),
        Some(other) => {
            return Err(format!(
                "OTEL_TRACES_SAMPLER={other} is not supported; use always_on, always_off, traceidratio or \
                 their parentbased_ forms"
            ));
        }
    };
    let named = set("OTEL_SERVICE_NAME").is_some()
        || set("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|attributes| attributes.contains("service.name="));
    Ok(Some(Settings { sampler, default_service_name: (!named).then_some("gancho") }))
}

/// Starts exporting if the environment's `OTEL_*` variables ask for it; says whether it did. Call once,
/// from within the Tokio runtime the exports are to be sent on.
pub fn start_from_env() -> Result<bool, String> {
    let Some(settings) = settings_from(|name| std::env::var(name).ok())? else {
        return Ok(false);
    };
    let client = OnTokio { client: https_client(), runtime: tokio::runtime::Handle::current() };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_http_client(client)
        .build()
        .map_err(|error| {
            format!("cannot export traces as the OTEL_EXPORTER_OTLP_* variables say: {error}")
        })?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if let Some(name) = settings.default_service_name {
        resource = resource.with_service_name(name);
    }
    let mut processor = BatchSpanProcessor::builder(exporter).build();
    processor.set_resource(&resource.build());
    let scope = opentelemetry::InstrumentationScope::builder("gancho")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let exporting = Exporting { processor, sampler: settings.sampler, scope };
    if EXPORTING.set(exporting).is_err() {
        return Err("traces are already being exported".to_owned());
    }
    Ok(true)
}

/// Exports what is still queued and stops. Blocks (up to a few seconds) while the exports go out on the
/// runtime: call it off the runtime's threads (`spawn_blocking`).
pub fn shutdown() {
    if let Some(exporting) = EXPORTING.get()
        && let Err(error) = exporting.processor.shutdown_with_timeout(Duration::from_secs(5))
    {
        tracing::warn!(%error, "exporting the last traces failed");
    }
}

/// Whether traces are exported: the one check every hook makes first.
#[inline]
pub fn enabled() -> bool {
    EXPORTING.get().is_some()
}

/// Whether the event's trace is recorded (always false while tracing is off).
pub fn sampled(trace_id: &ids::TraceId) -> bool {
    EXPORTING.get().is_some_and(|exporting| exporting.sampler.samples(trace_id))
}

/// Hands a finished span to the batch processor (queued; dropped if the queue is full).
fn export(mut span: SpanData) {
    if let Some(exporting) = EXPORTING.get() {
        span.instrumentation_scope = exporting.scope.clone();
        exporting.processor.on_end(span);
    }
}

/// An HTTP client for the collector: http or https (public roots), on the `hyper` the service already has.
fn https_client() -> opentelemetry_http::hyper::HyperClient<Connector> {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    opentelemetry_http::hyper::HyperClient::new(https, Duration::from_secs(10), None)
}

type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// The SDK's batch processor exports from a plain thread; `hyper` needs the Tokio runtime, so each export
/// is sent as a task on it.
#[derive(Debug)]
struct OnTokio {
    client: opentelemetry_http::hyper::HyperClient<Connector>,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OnTokio {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let client = self.client.clone();
        self.runtime.spawn(async move { client.send_bytes(request).await }).await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Result<Option<Settings>, String> {
        settings_from(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    #[test]
    fn off_without_an_endpoint_or_when_disabled() {
        assert_eq!(settings(&[]), Ok(None));
        assert_eq!(settings(&[("OTEL_SERVICE_NAME", "gancho-eu")]), Ok(None));
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        assert_eq!(settings(&[endpoint, ("OTEL_SDK_DISABLED", "TRUE")]), Ok(None));
        assert_eq!(settings(&[endpoint, ("OTEL_TRACES_EXPORTER", "none")]), Ok(None));
        let on = settings(&[endpoint]).unwrap().unwrap();
        assert_eq!(on, Settings { sampler: Sampler::AlwaysOn, default_service_name: Some("gancho") });
        let traces_only = settings(&[("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/v1/traces")]);
        assert!(traces_only.unwrap().is_some());
    }

    #[test]
    fn sampler_protocol_and_service_name_come_from_their_variables() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318");
        let ratio = settings(&[
            endpoint,
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
            ("OTEL_SERVICE_NAME", "gancho-eu"),
        ]);
        assert_eq!(ratio, Ok(Some(Settings { sampler: Sampler::Ratio(0.25), default_service_name: None })));
        let off = settings(&[endpoint, ("OTEL_TRACES_SAMPLER", "always_off")]).unwrap().unwrap();
        assert_eq!(off.sampler, Sampler::AlwaysOff);
        assert!(settings(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]).unwrap().is_some());
        let grpc = settings(&[endpoint, ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).unwrap_err();
        assert!(
            grpc.contains("OTEL_EXPORTER_OTLP_PROTOCOL=grpc") && grpc.contains("http/protobuf"),
            "{grpc}"
        );
        let bad =
            settings(&[endpoint, ("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", "2")]);
        assert!(bad.unwrap_err().contains("OTEL_TRACES_SAMPLER_ARG=2"));
        assert!(
            settings(&[endpoint, ("OTEL_TRACES_SAMPLER", "xray")])
                .unwrap_err()
                .contains("OTEL_TRACES_SAMPLER")
        );
    }

    #[test]
    fn a_ratio_sampler_keeps_about_its_share_and_decides_the_same_for_one_trace() {
        let sampler = Sampler::Ratio(0.25);
        let kept = (0..4000).filter(|i| sampler.samples(&ids::trace_id("acme", &format!("evt_{i}")))).count();
        assert!((800..1200).contains(&kept), "{kept} of 4000");
        let trace = ids::trace_id("acme", "evt_1");
        assert_eq!(sampler.samples(&trace), sampler.samples(&trace));
        assert!(!Sampler::Ratio(0.0).samples(&trace) && Sampler::Ratio(1.0).samples(&trace));
    }
}
