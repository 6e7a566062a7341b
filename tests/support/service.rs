//! A real `gancho serve` process on a free port with its own data directory, and a real HTTP receiver
//! that verifies every delivery's Standard Webhooks signature.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Long and varied enough for `gancho serve`, which refuses a weak operator token.
pub const OPERATOR: &str = "operator-token-for-tests-5f0c9e2a7b31d4c8";
pub const INGEST: &str = "ingest-token-for-tests";

/// A running `gancho serve`.
pub struct Service {
    child: Child,
    pub url: String,
    pub data_dir: PathBuf,
    env: Vec<(String, String)>,
}

impl Service {
    /// Starts the service in `data_dir` with test-friendly settings (local receivers allowed, short retry
    /// delays, fast polling), plus `extra` settings.
    pub fn start(data_dir: &Path, extra: &[(&str, &str)]) -> Service {
        let mut env: Vec<(String, String)> = [
            ("GANCHO_LISTEN", "127.0.0.1:0"),
            ("GANCHO_OPERATOR_TOKEN", OPERATOR),
            ("GANCHO_INGEST_TOKEN", INGEST),
            ("GANCHO_ALLOWED_DESTINATIONS", "127.0.0.0/8"),
            ("GANCHO_DELIVERY__RETRY__DELAYS_SECS", "[0, 1, 1, 1, 1, 1]"),
            ("GANCHO_DELIVERY__RETRY__JITTER", "0.0"),
            ("GANCHO_DELIVERY__TIMEOUT_SECS", "5"),
            ("GANCHO_WORKERS__LEASE_SECS", "8"),
            ("GANCHO_WORKERS__POLL_INTERVAL_MS", "50"),
            ("GANCHO_LOG", "gancho=info"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (key, value) in extra {
            env.retain(|(k, _)| k != key);
            env.push((key.to_string(), value.to_string()));
        }
        env.push(("GANCHO_DATA_DIR".into(), data_dir.display().to_string()));
        Service::spawn(data_dir, env)
    }

    fn spawn(data_dir: &Path, env: Vec<(String, String)>) -> Service {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gancho"));
        command
            .arg("serve")
            .current_dir(data_dir.parent().unwrap_or(data_dir))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (key, _) in std::env::vars() {
            // OpenTelemetry too: a test that wants traces says where they go.
            if key.starts_with("GANCHO_") || key.starts_with("OTEL_") {
                command.env_remove(key);
            }
        }
        command.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let mut child = command.spawn().expect("gancho serve starts");
        let stderr = child.stderr.take().expect("stderr is piped");
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let log_path = data_dir.with_extension("log");
        std::thread::spawn(move || {
            let mut log = std::fs::OpenOptions::new().create(true).append(true).open(log_path).ok();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("gancho: listening on ") {
                    let _ = address_tx.send(address.to_owned());
                }
                if let Some(log) = log.as_mut() {
                    use std::io::Write;
                    let _ = writeln!(log, "{line}");
                }
            }
        });
        let url = address_rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
            panic!("gancho serve did not start; see {}", data_dir.with_extension("log").display())
        });
        Service { child, url, data_dir: data_dir.to_owned(), env }
    }

    /// The most memory the process has had resident so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|line| line.starts_with("VmHWM:")).expect("Linux reports VmHWM");
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }

    /// Kills the process at once (SIGKILL): nothing gets to finish.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Asks the process to stop (SIGTERM) and waits for it; returns whether it exited successfully.
    pub fn terminate(&mut self) -> bool {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        self.child.wait().map(|status| status.success()).unwrap_or(false)
    }

    /// Starts the service again on the same data directory (and a new port).
    pub fn restart(&mut self) {
        self.kill();
        let env = self.env.clone();
        *self = Service::spawn(&self.data_dir, env);
    }

    pub fn post(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        self.send("POST", path, token, Some(body))
    }

    /// Creates `tenant` and returns a new API key of it.
    pub fn tenant_with_key(&self, tenant: &str) -> String {
        let (status, body) = self.post("/v1/tenants", OPERATOR, &json!({"id": tenant, "name": tenant}));
        assert_eq!(status, 201, "{body}");
        let (status, body) = self.post(&format!("/v1/tenants/{tenant}/keys"), OPERATOR, &json!({}));
        assert_eq!(status, 201, "{body}");
        body["key"].as_str().unwrap().to_owned()
    }

    /// Uploads the test plugin `plugin` (see `support::plugin_bytes`) to `path` (`/v1/plugins/{name}/versions`
    /// or a tenant's own).
    pub fn upload(&self, path: &str, token: &str, plugin: &str) -> (u16, Value) {
        self.post_raw(path, token, "application/wasm", &crate::support::plugin_bytes(plugin))
    }

    pub fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.send("GET", path, token, None)
    }

    pub fn patch(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        self.send("PATCH", path, token, Some(body))
    }

    pub fn delete(&self, path: &str, token: &str) -> (u16, Value) {
        self.send("DELETE", path, token, None)
    }

    fn send(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
        let request = ureq::request(method, &format!("{}{path}", self.url))
            .set("authorization", &format!("Bearer {token}"));
        let result = match body {
            Some(body) => request.send_json(body.clone()),
            None => request.call(),
        };
        answer(result)
    }

    /// Posts raw bytes with a content type.
    pub fn post_raw(&self, path: &str, token: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
        answer(
            ureq::post(&format!("{}{path}", self.url))
                .set("authorization", &format!("Bearer {token}"))
                .set("content-type", content_type)
                .send_bytes(body),
        )
    }

    /// Creates a tenant, uploads `plugin` and subscribes the tenant's `event_types` to `endpoint`;
    /// returns the subscription (with its secret).
    pub fn subscribe(
        &self,
        tenant: &str,
        plugin: &str,
        event_types: &[&str],
        endpoint: &str,
        config: Value,
    ) -> Value {
        let (status, _) = self.post("/v1/tenants", OPERATOR, &json!({"id": tenant, "name": tenant}));
        assert!(status == 201 || status == 409, "creating tenant {tenant}: {status}");
        let wasm = if crate::support::GUEST_PLUGINS.contains(&plugin) {
            crate::support::guest_plugin_bytes(plugin)
        } else {
            crate::support::plugin_bytes(plugin)
        };
        let (status, body) =
            self.post_raw(&format!("/v1/plugins/{plugin}/versions"), OPERATOR, "application/wasm", &wasm);
        assert!(status == 201 || status == 200, "uploading {plugin}: {body}");
        let (status, subscription) = self.post(
            &format!("/v1/tenants/{tenant}/subscriptions"),
            OPERATOR,
            &json!({"event_types": event_types, "plugin": plugin, "endpoint_url": endpoint, "config": config}),
        );
        assert_eq!(status, 201, "subscribing: {subscription}");
        subscription
    }

    /// Polls the deliveries of `tenant` until `done` holds for them, or panics after `timeout`.
    pub fn wait_for_deliveries(
        &self,
        tenant: &str,
        query: &str,
        timeout: Duration,
        done: impl Fn(&[Value]) -> bool,
    ) -> Vec<Value> {
        let started = Instant::now();
        loop {
            let (status, body) =
                self.get(&format!("/v1/tenants/{tenant}/deliveries?limit=1000{query}"), OPERATOR);
            assert_eq!(status, 200, "{body}");
            let deliveries = body.as_array().cloned().unwrap_or_default();
            if done(&deliveries) {
                return deliveries;
            }
            assert!(started.elapsed() < timeout, "deliveries did not settle in {timeout:?}: {deliveries:#?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn answer(result: Result<ureq::Response, ureq::Error>) -> (u16, Value) {
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("request failed: {error}"),
    };
    let status = response.status();
    let text = response.into_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// The path and query it was sent to (`/hook?numero=%2B54…`).
    pub uri: String,
    pub webhook_id: String,
    pub body: String,
    pub signature_valid: bool,
    pub headers: HashMap<String, String>,
    /// When the request arrived.
    pub at: Instant,
}

/// A local HTTP receiver that verifies signatures with `secret` and can be told to fail.
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    secret: Arc<Mutex<String>>,
    load: Arc<Load>,
    _runtime: tokio::runtime::Runtime,
}

/// How long the receiver takes to answer, and how many requests it has had open at once.
#[derive(Default)]
struct Load {
    delay: Mutex<Duration>,
    open: AtomicUsize,
    most_open: AtomicUsize,
}

/// How the receiver answers.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// 200 to everything.
    Accept,
    /// 503 to the next `n` requests, then 200.
    FailNext(u32),
    /// This status to everything.
    Always(u16),
}

impl Receiver {
    pub fn start() -> Receiver {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(Behaviour::Accept));
        let secret = Arc::new(Mutex::new(String::new()));
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let load = Arc::new(Load::default());
        let (r, b, s, l) = (received.clone(), behaviour.clone(), secret.clone(), load.clone());
        let app = axum::Router::new().fallback(
            move |method: axum::http::Method,
                  uri: axum::http::Uri,
                  headers: axum::http::HeaderMap,
                  body: axum::body::Bytes| {
                let (received, behaviour, secret, load) = (r.clone(), b.clone(), s.clone(), l.clone());
                async move {
                    let at = Instant::now();
                    let open = load.open.fetch_add(1, Ordering::SeqCst) + 1;
                    load.most_open.fetch_max(open, Ordering::SeqCst);
                    let delay = *load.delay.lock().unwrap();
                    tokio::time::sleep(delay).await;
                    load.open.fetch_sub(1, Ordering::SeqCst);
                    let header =
                        |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    let (id, timestamp) =
                        (header("webhook-id"), header("webhook-timestamp").parse::<i64>().unwrap_or(0));
                    let secret = secret.lock().unwrap().clone();
                    let signature_valid = gancho::delivery::signing::verify(
                        &secret,
                        &id,
                        timestamp,
                        &body,
                        &header("webhook-signature"),
                    );
                    let status = {
                        let mut behaviour = behaviour.lock().unwrap();
                        match *behaviour {
                            Behaviour::Accept => 200,
                            Behaviour::FailNext(0) => 200,
                            Behaviour::FailNext(n) => {
                                *behaviour = Behaviour::FailNext(n - 1);
                                503
                            }
                            Behaviour::Always(status) => status,
                        }
                    };
                    if status == 200 {
                        let headers = headers
                            .iter()
                            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                            .collect();
                        received.lock().unwrap().push(Received {
                            method: method.to_string(),
                            uri: uri.to_string(),
                            webhook_id: id,
                            body: String::from_utf8_lossy(&body).into_owned(),
                            signature_valid,
                            headers,
                            at,
                        });
                    }
                    (axum::http::StatusCode::from_u16(status).unwrap(), "ok")
                }
            },
        );
        runtime.spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url: format!("http://{address}/hook"),
            received,
            behaviour,
            secret,
            load,
            _runtime: runtime,
        }
    }

    /// Answer each request only after `delay`.
    pub fn set_delay(&self, delay: Duration) {
        *self.load.delay.lock().unwrap() = delay;
    }

    /// The most requests it has had open at once.
    pub fn most_open(&self) -> usize {
        self.load.most_open.load(Ordering::SeqCst)
    }

    pub fn set_secret(&self, secret: &str) {
        *self.secret.lock().unwrap() = secret.to_owned();
    }

    pub fn set_behaviour(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// What was accepted (2xx) so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests were accepted, or panics after `timeout`.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(started.elapsed() < timeout, "received {} of {count} in {timeout:?}", received.len());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A `call.ended` missed-call event for `tenant` with the given id.
pub fn missed_call(tenant: &str, id: &str) -> Value {
    let mut event: Value = serde_json::from_str(gancho_sdk::testing::samples::CALL_ENDED_MISSED).unwrap();
    event["tenant"] = json!(tenant);
    event["id"] = json!(id);
    event["data"]["call"]["caller_name"] = json!(format!("Caller {id}"));
    event
}
