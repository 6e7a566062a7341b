//! The HTTP client deliveries go out through: one pooled HTTP/1.1 + HTTP/2 client whose connections can only
//! reach destinations the guard accepts, and whose every exchange is bounded in time and in bytes read.

use std::error::Error as _;
use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, RETRY_AFTER, USER_AGENT};
use http::{HeaderName, HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::guard::{DestinationGuard, GuardError, GuardedResolver};
use super::retry::parse_retry_after;

/// How much of a response body is kept for the delivery log; the rest is never read.
const EXCERPT_BYTES: usize = 1024;

/// How long an unused connection stays open for the next delivery to the same endpoint.
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);

pub(crate) const DEFAULT_USER_AGENT: &str = concat!("Gancho/", env!("CARGO_PKG_VERSION"));

pub(crate) type Connector = HttpsConnector<HttpConnector<GuardedResolver>>;

/// Sends deliveries. Clones share one connection pool, so one sender serves every worker.
#[derive(Clone)]
pub struct HttpSender {
    client: Client<Connector, Full<Bytes>>,
    /// Checks IP-literal hosts, which the connector dials without asking the resolver.
    guard: DestinationGuard,
    /// Bounds the whole exchange: connecting, sending, the response head and the body excerpt.
    timeout: Duration,
}

/// One HTTP request to an endpoint.
pub struct SendRequest<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// What happened when a request was sent.
#[derive(Debug, Clone)]
pub struct SendOutcome {
    /// The response status, if the endpoint answered.
    pub status: Option<u16>,
    /// From starting the request to the end of reading the excerpt (or the failure).
    pub latency: Duration,
    /// The first 1 KiB of the response body, lossy UTF-8, cut on a character boundary.
    pub response_excerpt: String,
    /// The endpoint's `Retry-After`, if it sent a valid one.
    pub retry_after: Option<Duration>,
    /// Why the exchange failed (invalid request, refused destination, connection error, timeout), for the
    /// delivery log. It can accompany a status when the body excerpt could not be read; the status decides.
    pub error: Option<String>,
}

impl SendOutcome {
    /// True when the endpoint answered with a 2xx status.
    pub fn is_success(&self) -> bool {
        self.status.is_some_and(|status| (200..300).contains(&status))
    }

    fn failed(latency: Duration, error: String) -> Self {
        Self { status: None, latency, response_excerpt: String::new(), retry_after: None, error: Some(error) }
    }
}

impl HttpSender {
    /// A sender whose connections only reach addresses `guard` accepts, and whose exchanges each last at
    /// most `timeout`. Up to `max_idle_per_host` connections to one host stay open between deliveries: as
    /// many as may be in flight to it, or every send beyond that opens (and closes) a connection of its own.
    pub fn new(guard: DestinationGuard, timeout: Duration, max_idle_per_host: usize) -> HttpSender {
        let client = guarded_client(&guard, timeout, max_idle_per_host);
        HttpSender { client, guard, timeout }
    }

    /// Sends `request` and reports what happened; never fails, since every failure is an outcome to record.
    pub async fn send(&self, request: SendRequest<'_>) -> SendOutcome {
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started + self.timeout);
        let timed_out = || format!("timed out after {}", human(self.timeout));

        let (request, host) = match self.build(&request) {
            Ok(built) => built,
            Err(error) => return SendOutcome::failed(started.elapsed(), error),
        };
        let response = match tokio::time::timeout_at(deadline, self.client.request(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(err)) => return SendOutcome::failed(started.elapsed(), describe(&err, &host)),
            Err(_) => return SendOutcome::failed(started.elapsed(), timed_out()),
        };

        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        let mut body = response.into_body();
        let mut excerpt = Vec::new();
        let error = match tokio::time::timeout_at(deadline, read_excerpt(&mut body, &mut excerpt)).await {
            Ok(Ok(())) => None,
            Ok(Err(err)) => Some(format!("reading the response body from {host} failed: {err}")),
            Err(_) => Some(format!("{} while reading the response body", timed_out())),
        };
        // Dropping the body unread closes the connection instead of downloading the rest of a large answer.
        drop(body);

        SendOutcome {
            status: Some(status),
            latency: started.elapsed(),
            response_excerpt: excerpt_text(&excerpt),
            retry_after,
            error,
        }
    }

    /// Builds the request, refusing a URL or header that cannot be sent and an IP-literal destination the
    /// guard does not accept. Returns the URL's host too, for error messages: the full URL may hold tokens.
    fn build(&self, request: &SendRequest<'_>) -> Result<(Request<Full<Bytes>>, String), String> {
        let method = Method::from_bytes(request.method.as_bytes())
            .map_err(|_| format!("\"{}\" is not a valid HTTP method", request.method))?;
        let mut url =
            url::Url::parse(request.url).map_err(|err| format!("the endpoint URL is invalid: {err}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "the endpoint URL uses {}:, but only http and https are supported",
                url.scheme()
            ));
        }
        url.set_fragment(None);
        let uri = Uri::try_from(url.as_str()).map_err(|err| format!("the endpoint URL is invalid: {err}"))?;
        let host = uri.host().unwrap_or_default().to_string();
        check_ip_literal(&self.guard, &host).map_err(|err| err.to_string())?;

        let mut builder = Request::builder().method(method).uri(uri);
        let headers = builder.headers_mut().expect("the method and URI were already validated");
        for (name, value) in request.headers {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("\"{name}\" is not a valid HTTP header name"))?;
            // The body is sent whole, so its length is ours to state; the host is the URL's. Requests stored
            // before plugins' reserved headers were dropped at the runtime may still carry them.
            if crate::runtime::is_header_not_from_plugins(name.as_str()) {
                continue;
            }
            // The value is not quoted: it may be a credential.
            let value = HeaderValue::from_str(value)
                .map_err(|_| format!("the value of header {name} contains characters HTTP does not allow"))?;
            headers.append(name, value);
        }
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, HeaderValue::from_static(DEFAULT_USER_AGENT));
        }
        headers.insert(CONTENT_LENGTH, HeaderValue::from(request.body.len()));
        let request = builder
            .body(Full::new(Bytes::copy_from_slice(request.body)))
            .map_err(|err| format!("the request could not be built: {err}"))?;
        Ok((request, host))
    }
}

/// The pooled client behind [`HttpSender`], also used by the connections' token requests: its connector
/// only dials addresses `guard` accepts, and gives up connecting after `timeout`. It does not check
/// IP-literal hosts, which the connector dials without resolving: callers do, with [`check_ip_literal`].
pub(crate) fn guarded_client(
    guard: &DestinationGuard,
    timeout: Duration,
    max_idle_per_host: usize,
) -> Client<Connector, Full<Bytes>> {
    let mut http = HttpConnector::new_with_resolver(GuardedResolver::new(guard.clone()));
    // The TLS layer above decides between http and https; the TCP layer must accept both.
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(timeout));
    let https = HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE_TIMEOUT)
        .pool_max_idle_per_host(max_idle_per_host)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(https)
}

/// Checks `host` (a URI's host) with the guard if it is an IP literal: the same test the connector uses to
/// skip resolution, so every address it dials has been checked.
pub(crate) fn check_ip_literal(guard: &DestinationGuard, host: &str) -> Result<(), GuardError> {
    match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(ip) => guard.check(ip).inspect_err(GuardError::log),
        Err(_) => Ok(()),
    }
}

/// Reads the body into `excerpt` until it holds one byte more than the excerpt (so truncation is
/// detectable) or the body ends.
async fn read_excerpt(body: &mut Incoming, excerpt: &mut Vec<u8>) -> Result<(), hyper::Error> {
    while excerpt.len() <= EXCERPT_BYTES {
        let Some(frame) = body.frame().await else { break };
        if let Ok(data) = frame?.into_data() {
            let room = EXCERPT_BYTES + 1 - excerpt.len();
            excerpt.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
    Ok(())
}

/// The first [`EXCERPT_BYTES`] of `bytes` as text, without a character split in half at the cut.
fn excerpt_text(bytes: &[u8]) -> String {
    let mut end = bytes.len().min(EXCERPT_BYTES);
    if end < bytes.len() {
        // Back up over UTF-8 continuation bytes (at most three) to the start of the character that was cut.
        let start = end.saturating_sub(3);
        while end > start && bytes[end] & 0b1100_0000 == 0b1000_0000 {
            end -= 1;
        }
    }
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

/// A human-readable reason for a failed exchange: the guard's refusal as is, otherwise the chain of causes.
pub(crate) fn describe(err: &hyper_util::client::legacy::Error, host: &str) -> String {
    let mut causes = Vec::new();
    let mut source = err.source();
    while let Some(cause) = source {
        let guard_error = cause
            .downcast_ref::<GuardError>()
            .or_else(|| cause.downcast_ref::<io::Error>()?.get_ref()?.downcast_ref::<GuardError>());
        if let Some(guard_error) = guard_error {
            return guard_error.to_string();
        }
        let text = cause.to_string();
        // An io::Error wrapping another error repeats its message as its own.
        if causes.last() != Some(&text) {
            causes.push(text);
        }
        source = cause.source();
    }
    let what = if err.is_connect() { "connecting to" } else { "the request to" };
    if causes.is_empty() {
        format!("{what} {host} failed: {err}")
    } else {
        format!("{what} {host} failed: {}", causes.join(": "))
    }
}

fn human(duration: Duration) -> String {
    if duration.subsec_nanos() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{} ms", duration.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::response::IntoResponse;
    use axum::routing::any;
    use axum::serve::ListenerExt as _;

    use super::*;
    use crate::delivery::guard::parse_allowed;

    /// A receiver on a free local port, counting the connections and requests it sees.
    struct Receiver {
        addr: SocketAddr,
        connections: Arc<AtomicUsize>,
        requests: Arc<AtomicUsize>,
    }

    impl Receiver {
        async fn start(router: Router) -> Receiver {
            let connections = Arc::new(AtomicUsize::new(0));
            let requests = Arc::new(AtomicUsize::new(0));
            let counted = requests.clone();
            let router = router.layer(axum::middleware::from_fn(
                move |request: axum::extract::Request, next: axum::middleware::Next| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    next.run(request)
                },
            ));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let accepted = connections.clone();
            let listener = listener.tap_io(move |_| {
                accepted.fetch_add(1, Ordering::SeqCst);
            });
            tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
            Receiver { addr, connections, requests }
        }

        fn url(&self, path: &str) -> String {
            format!("http://{}{path}", self.addr)
        }
    }

    fn local_sender(timeout: Duration) -> HttpSender {
        HttpSender::new(DestinationGuard::new(parse_allowed("127.0.0.0/8, ::1").unwrap()), timeout, 8)
    }

    fn post<'a>(url: &'a str, headers: &'a [(String, String)]) -> SendRequest<'a> {
        SendRequest { method: "POST", url, headers, body: br#"{"hello":"world"}"# }
    }

    #[tokio::test]
    async fn a_2xx_answer_is_a_success_with_an_excerpt() {
        let router = Router::new().route(
            "/hook",
            any(|headers: http::HeaderMap, body: Bytes| async move {
                let agent = headers[USER_AGENT].to_str().unwrap().to_string();
                let signature = headers["webhook-signature"].to_str().unwrap().to_string();
                let length = headers[CONTENT_LENGTH].to_str().unwrap().to_string();
                format!("{agent} {signature} {length} {}", String::from_utf8_lossy(&body))
            }),
        );
        let receiver = Receiver::start(router).await;
        let headers = [("webhook-signature".to_string(), "v1,abc".to_string())];
        let outcome = local_sender(Duration::from_secs(5)).send(post(&receiver.url("/hook"), &headers)).await;
        assert!(outcome.is_success(), "{outcome:?}");
        assert_eq!(outcome.status, Some(200));
        assert_eq!(outcome.error, None);
        assert_eq!(
            outcome.response_excerpt,
            format!("Gancho/{} v1,abc 17 {{\"hello\":\"world\"}}", env!("CARGO_PKG_VERSION"))
        );
    }

    #[tokio::test]
    async fn a_503_with_retry_after_is_reported() {
        let router = Router::new().route(
            "/hook",
            any(|| async { (http::StatusCode::SERVICE_UNAVAILABLE, [(RETRY_AFTER, "7")], "busy") }),
        );
        let receiver = Receiver::start(router).await;
        let outcome = local_sender(Duration::from_secs(5)).send(post(&receiver.url("/hook"), &[])).await;
        assert!(!outcome.is_success());
        assert_eq!(outcome.status, Some(503));
        assert_eq!(outcome.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(outcome.response_excerpt, "busy");
    }

    #[tokio::test]
    async fn a_slow_endpoint_times_out() {
        let router = Router::new().route(
            "/hook",
            any(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "too late"
            }),
        );
        let receiver = Receiver::start(router).await;
        let outcome = local_sender(Duration::from_millis(200)).send(post(&receiver.url("/hook"), &[])).await;
        assert_eq!(outcome.status, None);
        assert_eq!(outcome.error.as_deref(), Some("timed out after 200 ms"));
        assert!(outcome.latency >= Duration::from_millis(200) && outcome.latency < Duration::from_secs(2));
        assert_eq!(human(Duration::from_secs(15)), "15 s");
    }

    #[tokio::test]
    async fn private_destinations_are_refused_before_any_request() {
        let receiver = Receiver::start(Router::new().route("/hook", any(|| async { "reached" }))).await;
        let sender = HttpSender::new(DestinationGuard::default(), Duration::from_secs(5), 8);
        let port = receiver.addr.port();
        for (url, destination) in [
            (format!("http://127.0.0.1:{port}/hook"), "destination 127.0.0.1 was refused"),
            (format!("http://localhost:{port}/hook"), "destination localhost was refused"),
            (format!("http://[::ffff:127.0.0.1]:{port}/hook"), "destination ::ffff:127.0.0.1 was refused"),
            (format!("http://0x7f.1:{port}/hook"), "destination 127.0.0.1 was refused"),
        ] {
            let outcome = sender.send(post(&url, &[])).await;
            assert_eq!(outcome.status, None, "{url}");
            let error = outcome.error.unwrap();
            assert!(error.starts_with(destination), "{url}: {error}");
            assert!(error.contains("allowed_destinations"), "{error}");
            // What a name resolves to, and which range it is in, stay in the operator's log.
            assert!(!error.contains("(127.0.0.1)") && !error.contains("range"), "{url}: {error}");
        }
        assert_eq!(receiver.requests.load(Ordering::SeqCst), 0);
        assert_eq!(receiver.connections.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn only_an_excerpt_of_a_large_body_is_read() {
        let router = Router::new().route(
            "/hook",
            // Two-byte characters, so the 1 KiB cut would split one if it were not moved back.
            any(|| async { format!("x{}", "é".repeat(1024 * 1024)).into_response() }),
        );
        let receiver = Receiver::start(router).await;
        let outcome = local_sender(Duration::from_secs(5)).send(post(&receiver.url("/hook"), &[])).await;
        assert!(outcome.is_success(), "{outcome:?}");
        assert_eq!(outcome.response_excerpt.len(), 1023);
        assert_eq!(outcome.response_excerpt, format!("x{}", "é".repeat(511)));
    }

    #[tokio::test]
    async fn connections_are_reused() {
        let receiver = Receiver::start(Router::new().route("/hook", any(|| async { "ok" }))).await;
        let sender = local_sender(Duration::from_secs(5));
        for _ in 0..3 {
            assert!(sender.send(post(&receiver.url("/hook"), &[])).await.is_success());
        }
        assert_eq!(receiver.requests.load(Ordering::SeqCst), 3);
        assert_eq!(receiver.connections.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn unusable_requests_and_dead_endpoints_are_described() {
        let sender = local_sender(Duration::from_secs(5));
        let bad_header = [("x-token".to_string(), "secret\nvalue".to_string())];
        let cases = [
            (post("ftp://example.com/hook", &[]), "only http and https"),
            (post("not a url", &[]), "the endpoint URL is invalid"),
            (SendRequest { method: "PO ST", ..post("http://127.0.0.1:9/", &[]) }, "not a valid HTTP method"),
            (post("http://127.0.0.1:9/", &bad_header), "the value of header x-token"),
        ];
        for (request, expected) in cases {
            let error = sender.send(request).await.error.unwrap();
            assert!(error.contains(expected), "{error}");
            assert!(!error.contains("secret"), "{error}");
        }
        // Nothing listens on a port just released.
        let port = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
        let error = sender.send(post(&format!("http://127.0.0.1:{port}/"), &[])).await.error.unwrap();
        assert!(error.starts_with("connecting to 127.0.0.1 failed: "), "{error}");
    }

    #[test]
    fn excerpts_are_cut_on_character_boundaries() {
        assert_eq!(excerpt_text(b"short"), "short");
        let exact = "a".repeat(EXCERPT_BYTES);
        assert_eq!(excerpt_text(exact.as_bytes()), exact);
        let cut = format!("{}€tail", "a".repeat(EXCERPT_BYTES - 1));
        assert_eq!(excerpt_text(cut.as_bytes()), "a".repeat(EXCERPT_BYTES - 1));
        assert_eq!(excerpt_text(&[0xff, b'a']), "\u{fffd}a");
    }
}
