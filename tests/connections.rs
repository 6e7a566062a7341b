//! Connections end to end, with local stand-ins on loopback: an OAuth provider that issues access tokens of
//! two seconds and rotates refresh tokens, a "Google" token endpoint that verifies the service account's
//! RS256 JWT, and destinations that check the bearer token on every request. Every delivery carries a valid
//! token, the token endpoint is asked about once per lifetime, a credential never reaches another host, a
//! revoked grant breaks the connection, and no secret is ever stored or shown in clear.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};
use support::plugin_bytes;
use support::service::{INGEST, OPERATOR, Service, missed_call};

const WAIT: Duration = Duration::from_secs(30);
/// 32 bytes in base64: the sealing key the tests configure.
const KEY_1: &str = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const KEY_2: &str = "k2:ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
const CLIENT_SECRET: &str = "client-secret-4f9a2c";
const FIRST_REFRESH_TOKEN: &str = "refresh-token-0-8d3e1b";
const TOKEN_LIFETIME_SECS: u64 = 2;

/// A stand-in provider and destination: issues tokens, and checks them on the destination's requests.
#[derive(Default)]
struct Provider {
    /// The refresh token it accepts now (it rotates on every use).
    refresh_token: String,
    /// Access tokens issued, with when they stop being valid.
    access_tokens: HashMap<String, Instant>,
    token_requests: usize,
    /// Answer `invalid_grant` to every refresh from now on.
    revoked: bool,
    /// Requests the destination got: (path, authorization, x-sub header, valid).
    received: Vec<(String, Option<String>, Option<String>, bool)>,
    /// Google: the JWT claims seen, checked.
    jwt_subjects: Vec<String>,
}

type Shared = Arc<Mutex<Provider>>;

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn issue(provider: &mut Provider) -> Value {
    provider.token_requests += 1;
    let token = format!("access-token-{}-{:x}", provider.token_requests, rand_suffix());
    provider.access_tokens.insert(token.clone(), Instant::now() + Duration::from_secs(TOKEN_LIFETIME_SECS));
    json!({"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECS})
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

async fn oauth_token(State(shared): State<Shared>, body: String) -> (StatusCode, axum::Json<Value>) {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let mut provider = shared.lock().unwrap();
    let good = form.get("grant_type").map(String::as_str) == Some("refresh_token")
        && form.get("client_secret").map(String::as_str) == Some(CLIENT_SECRET)
        && form.get("refresh_token") == Some(&provider.refresh_token);
    if provider.revoked || !good {
        provider.token_requests += 1;
        let error = json!({"error": "invalid_grant", "error_description": "Token has been revoked"});
        return (StatusCode::BAD_REQUEST, axum::Json(error));
    }
    let mut answer = issue(&mut provider);
    provider.refresh_token = format!("refresh-token-{}-{:x}", provider.token_requests, rand_suffix());
    answer["refresh_token"] = json!(provider.refresh_token);
    (StatusCode::OK, axum::Json(answer))
}

async fn google_token(State(shared): State<Shared>, body: String) -> (StatusCode, axum::Json<Value>) {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    let public =
        std::fs::read(support::repo_root().join("tests/fixtures/test-service-account.pub.pem")).unwrap();
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(&public).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    // The audience is checked below with the other claims.
    validation.validate_aud = false;
    let assertion = form.get("assertion").cloned().unwrap_or_default();
    let grant =
        form.get("grant_type").map(String::as_str) == Some("urn:ietf:params:oauth:grant-type:jwt-bearer");
    let claims = jsonwebtoken::decode::<Value>(&assertion, &key, &validation).map(|data| data.claims);
    let mut provider = shared.lock().unwrap();
    match claims {
        Ok(claims)
            if grant
                && claims["iss"] == "gancho-test@example.iam.gserviceaccount.com"
                && claims["scope"] == "https://www.googleapis.com/auth/spreadsheets"
                && claims["aud"].as_str().is_some_and(|aud| aud.ends_with("/google/token")) =>
        {
            provider.jwt_subjects.push(claims["iss"].as_str().unwrap().to_owned());
            (StatusCode::OK, axum::Json(issue(&mut provider)))
        }
        other => {
            provider.token_requests += 1;
            let error =
                json!({"error": "invalid_grant", "error_description": format!("bad assertion: {other:?}")});
            (StatusCode::BAD_REQUEST, axum::Json(error))
        }
    }
}

/// The destination: the CRM and the Sheets API answer 200 with a valid, unexpired bearer token, else 401;
/// any other path (a host the plugin chose) answers 200 and only records what it got.
async fn destination(State(shared): State<Shared>, uri: axum::http::Uri, headers: HeaderMap) -> StatusCode {
    let mut provider = shared.lock().unwrap();
    let authorization = header(&headers, "authorization");
    let token = authorization.as_deref().and_then(|a| a.strip_prefix("Bearer "));
    let valid =
        token.and_then(|t| provider.access_tokens.get(t)).is_some_and(|until| *until > Instant::now());
    provider.received.push((uri.path().to_owned(), authorization, header(&headers, "x-sub"), valid));
    let checks_tokens = uri.path() == "/crm" || uri.path().ends_with(":append");
    if valid || !checks_tokens { StatusCode::OK } else { StatusCode::UNAUTHORIZED }
}

/// Starts the stand-ins on `ip`, on a runtime of their own; returns their address.
fn start_stand_ins(ip: &str, shared: Shared) -> SocketAddr {
    let (sender, receiver) = std::sync::mpsc::channel();
    let ip = ip.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind((ip.as_str(), 0)).await.unwrap();
            sender.send(listener.local_addr().unwrap()).unwrap();
            let app = axum::Router::new()
                .route("/oauth/token", post(oauth_token))
                .route("/google/token", post(google_token))
                .fallback(destination)
                .with_state(shared);
            axum::serve(listener, app).await.unwrap();
        });
    });
    receiver.recv().unwrap()
}

fn upload_shared(service: &Service, plugin: &str) {
    let (status, body) = service.post_raw(
        &format!("/v1/plugins/{plugin}/versions"),
        OPERATOR,
        "application/wasm",
        &plugin_bytes(plugin),
    );
    assert_eq!(status, 201, "{body}");
}

/// Every byte the service stored or logged, as text, to look for secrets in.
fn everything_kept(service: &Service) -> String {
    let mut kept = String::new();
    for entry in std::fs::read_dir(&service.data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("gancho.db") {
            kept.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
    kept.push_str(&std::fs::read_to_string(service.data_dir.with_extension("log")).unwrap_or_default());
    kept
}

#[test]
fn oauth_tokens_are_refreshed_about_once_a_lifetime_and_go_only_to_their_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[("GANCHO_CONNECTIONS__KEYS", KEY_1)]);
    let shared = Shared::default();
    shared.lock().unwrap().refresh_token = FIRST_REFRESH_TOKEN.to_owned();
    let crm = start_stand_ins("127.0.0.1", shared.clone());
    let elsewhere = start_stand_ins("127.0.0.2", shared.clone());
    let key = service.tenant_with_key("acme");
    upload_shared(&service, "slack");
    upload_shared(&service, "template");

    let credential = json!({"kind": "oauth2_refresh_token", "token_url": format!("http://{crm}/oauth/token"),
        "client_id": "gancho", "client_secret": CLIENT_SECRET, "refresh_token": FIRST_REFRESH_TOKEN});
    let (status, connection) = service.post(
        "/v1/tenants/acme/connections",
        &key,
        &json!({"name": "crm", "hosts": ["127.0.0.1"], "credential": credential}),
    );
    assert_eq!(status, 201, "{connection}");
    assert_eq!((&connection["kind"], &connection["status"]), (&json!("oauth2_refresh_token"), &json!("ok")));
    let subscribe = |plugin: &str, config: Value| {
        let (status, body) = service.post(
            "/v1/tenants/acme/subscriptions",
            &key,
            &json!({"event_types": ["call.ended"], "plugin": plugin, "endpoint_url": format!("http://{crm}/crm"),
                    "config": config, "connections": ["crm"], "headers": {"x-sub": "subscription-header"}}),
        );
        assert_eq!(status, 201, "{body}");
        body
    };
    subscribe("slack", json!({}));
    // The plugin chooses a URL on another host: it gets neither the credential nor the subscription's header.
    subscribe(
        "template",
        json!({"format": "json", "method": "POST", "url": format!("http://{elsewhere}/elsewhere"),
        "template": "{\"id\": \"{{event.id}}\"}"}),
    );

    // Events for about four token lifetimes.
    let started = Instant::now();
    let mut posted = 0;
    while started.elapsed() < Duration::from_secs(4 * TOKEN_LIFETIME_SECS) {
        posted += 1;
        assert_eq!(service.post("/v1/events", INGEST, &missed_call("acme", &format!("evt_{posted}"))).0, 202);
        std::thread::sleep(Duration::from_millis(200));
    }
    service.wait_for_deliveries("acme", "&status=succeeded", WAIT, |d| d.len() == 2 * posted);
    {
        let provider = shared.lock().unwrap();
        let to_crm: Vec<_> = provider.received.iter().filter(|r| r.0 == "/crm").collect();
        assert_eq!(to_crm.len(), posted, "one request per event, no retry needed");
        assert!(to_crm.iter().all(|r| r.3 && r.2.as_deref() == Some("subscription-header")), "{to_crm:?}");
        let to_elsewhere: Vec<_> = provider.received.iter().filter(|r| r.0 == "/elsewhere").collect();
        assert_eq!(to_elsewhere.len(), posted);
        assert!(to_elsewhere.iter().all(|r| r.1.is_none() && r.2.is_none()), "{to_elsewhere:?}");
        // About one token per lifetime (refreshed a little early), not one per delivery.
        let lifetimes = started.elapsed().as_secs_f64() / TOKEN_LIFETIME_SECS as f64;
        assert!(
            provider.token_requests as f64 <= lifetimes * 1.5 + 2.0 && provider.token_requests >= 2,
            "{} token requests for {posted} deliveries over {lifetimes:.1} lifetimes",
            provider.token_requests
        );
    }

    // The provider drops its access tokens early: the delivery's 401 brings one refresh and one more try.
    shared.lock().unwrap().access_tokens.clear();
    assert_eq!(service.post("/v1/events", INGEST, &missed_call("acme", "evt_after_401")).0, 202);
    let retried =
        service
            .wait_for_deliveries("acme", "&event_id=evt_after_401&status=succeeded", WAIT, |d| d.len() == 2);
    assert!(retried.iter().all(|d| d["attempts"].as_array().unwrap().len() == 1), "{retried:#?}");

    // The grant is revoked: the connection breaks, deliveries fail saying why, and the provider is left alone.
    {
        let mut provider = shared.lock().unwrap();
        provider.revoked = true;
        provider.access_tokens.clear();
    }
    assert_eq!(service.post("/v1/events", INGEST, &missed_call("acme", "evt_revoked")).0, 202);
    let failed = service.wait_for_deliveries("acme", "&event_id=evt_revoked", WAIT, |d| {
        d.iter().any(|d| {
            d["attempts"].as_array().is_some_and(|a| !a.is_empty())
                && d["request"]["url"].as_str().unwrap().ends_with("/crm")
        })
    });
    let failed = failed.iter().find(|d| d["request"]["url"].as_str().unwrap().ends_with("/crm")).unwrap();
    let error = failed["attempts"][0]["error"].as_str().unwrap_or_default();
    assert!(error.contains("connection `crm`") && error.contains("invalid_grant"), "{failed:#}");
    let (_, connection) = service.get("/v1/tenants/acme/connections/crm", &key);
    assert_eq!(connection["status"], "broken", "{connection}");
    let asked = shared.lock().unwrap().token_requests;
    for n in 0..3 {
        service.post("/v1/events", INGEST, &missed_call("acme", &format!("evt_broken_{n}")));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(shared.lock().unwrap().token_requests, asked, "a broken connection does not ask again");

    // No secret anywhere: not in answers, not in the database, not in the log.
    let secrets: Vec<String> = {
        let provider = shared.lock().unwrap();
        let mut secrets =
            vec![CLIENT_SECRET.to_owned(), FIRST_REFRESH_TOKEN.to_owned(), provider.refresh_token.clone()];
        secrets.extend(provider.access_tokens.keys().cloned());
        secrets.extend(provider.received.iter().filter_map(|r| r.1.clone()));
        secrets
    };
    let answers = [
        service.get("/v1/tenants/acme/connections", &key).1,
        service.get("/v1/tenants/acme/subscriptions", &key).1,
        service.get("/v1/tenants/acme/deliveries?limit=1000", &key).1,
    ];
    let kept = everything_kept(&service);
    for secret in &secrets {
        let bare = secret.trim_start_matches("Bearer ");
        for answer in &answers {
            assert!(!answer.to_string().contains(bare), "an API answer holds a secret");
        }
        assert!(!kept.contains(bare), "the database or the log holds a secret");
    }
}

#[test]
fn a_google_service_account_keeps_appending_rows_past_the_tokens_lifetime() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[("GANCHO_CONNECTIONS__KEYS", KEY_1)]);
    let shared = Shared::default();
    let google = start_stand_ins("127.0.0.1", shared.clone());
    let key = service.tenant_with_key("acme");
    upload_shared(&service, "google-sheets");
    let private_key =
        std::fs::read_to_string(support::repo_root().join("tests/fixtures/test-service-account.key.pem"))
            .unwrap();
    let account = json!({"type": "service_account", "client_email": "gancho-test@example.iam.gserviceaccount.com",
        "private_key": private_key, "private_key_id": "test-key-1", "token_uri": format!("http://{google}/google/token")});
    let (status, body) = service.post(
        "/v1/tenants/acme/connections",
        &key,
        &json!({"name": "google-sheets", "hosts": ["127.0.0.1"], "credential": {"kind": "google_service_account",
            "key": account, "scopes": ["https://www.googleapis.com/auth/spreadsheets"]}}),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = service.post(
        "/v1/tenants/acme/subscriptions",
        &key,
        &json!({"event_types": ["call.ended"], "plugin": "google-sheets", "endpoint_url": format!("http://{google}/"),
                "config": {"spreadsheet_id": "sheet_1", "api_base": format!("http://{google}")},
                "connections": ["google-sheets"], "allowed_hosts": ["127.0.0.1"]}),
    );
    assert_eq!(status, 201, "{body}");

    let started = Instant::now();
    let mut posted = 0;
    while started.elapsed() < Duration::from_secs(3 * TOKEN_LIFETIME_SECS) {
        posted += 1;
        assert_eq!(service.post("/v1/events", INGEST, &missed_call("acme", &format!("evt_{posted}"))).0, 202);
        std::thread::sleep(Duration::from_millis(250));
    }
    service.wait_for_deliveries("acme", "&status=succeeded", WAIT, |d| d.len() == posted);
    let provider = shared.lock().unwrap();
    let appends: Vec<_> = provider.received.iter().filter(|r| r.0.ends_with(":append")).collect();
    assert_eq!(appends.len(), posted);
    assert!(appends.iter().all(|r| r.3), "every row went with a valid token: {appends:?}");
    assert!(provider.jwt_subjects.len() >= 2, "the token was renewed: {:?}", provider.jwt_subjects);
    assert!(provider.token_requests < posted, "{} token requests for {posted} rows", provider.token_requests);
    assert!(!everything_kept(&service).contains("BEGIN PRIVATE KEY"), "the key is sealed");
}

#[test]
fn a_missing_key_fails_the_start_and_keys_rotate_reseals_every_connection() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut service = Service::start(&data, &[("GANCHO_CONNECTIONS__KEYS", KEY_1)]);
    let key = service.tenant_with_key("acme");
    let (status, body) = service.post(
        "/v1/tenants/acme/connections",
        &key,
        &json!({"name": "crm", "hosts": ["api.crm.example"], "credential": {"kind": "header", "name": "x-api-key", "value": "api-key-77a1"}}),
    );
    assert_eq!(status, 201, "{body}");
    service.kill();

    let serve = |keys: &str| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gancho"));
        command.arg("serve");
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("GANCHO_")) {
            command.env_remove(k);
        }
        command
            .env("GANCHO_DATA_DIR", &data)
            .env("GANCHO_LISTEN", "127.0.0.1:0")
            .env("GANCHO_OPERATOR_TOKEN", OPERATOR)
            .env("GANCHO_INGEST_TOKEN", INGEST)
            .env("GANCHO_CONNECTIONS__KEYS", keys);
        command
    };
    let refused = |keys: &str| {
        let output = serve(keys).output().unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let missing = refused("");
    assert!(missing.contains("k1") && missing.contains("GANCHO_CONNECTIONS__KEYS"), "{missing}");
    let wrong = refused(KEY_2);
    assert!(wrong.contains("k1"), "{wrong}");
    let malformed = refused("k1:not-base64!");
    assert!(malformed.contains("k1") && malformed.contains("openssl rand -base64 32"), "{malformed}");

    // Rotating: both keys listed, the new one active; then the old one can go.
    let both = format!("{KEY_1},{KEY_2}");
    let mut rotate = std::process::Command::new(env!("CARGO_BIN_EXE_gancho"));
    rotate
        .args(["keys", "rotate"])
        .env("GANCHO_DATA_DIR", &data)
        .env("GANCHO_CONNECTIONS__KEYS", &both)
        .env("GANCHO_CONNECTIONS__ACTIVE_KEY", "k2");
    let output = rotate.output().unwrap();
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{said}{}", String::from_utf8_lossy(&output.stderr));
    assert!(said.contains("re-sealed 1 connection(s) with key `k2`"), "{said}");
    service = Service::start(&data, &[("GANCHO_CONNECTIONS__KEYS", KEY_2)]);
    let (status, connection) = service.get("/v1/tenants/acme/connections/crm", &key);
    assert_eq!((status, &connection["status"]), (200, &json!("ok")), "{connection}");
    assert!(!connection.to_string().contains("api-key-77a1"));
}

#[test]
fn a_connections_secret_does_not_follow_a_change_of_its_hosts() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[("GANCHO_CONNECTIONS__KEYS", KEY_1)]);
    let key = service.tenant_with_key("acme");
    let credential = json!({"kind": "header", "name": "x-api-key", "value": "api-key-77a1"});
    let (status, body) = service.post(
        "/v1/tenants/acme/connections",
        &key,
        &json!({"name": "crm", "hosts": ["*.crm.example", "hooks.partner.example"], "credential": credential}),
    );
    assert_eq!(status, 201, "{body}");

    // Somewhere new, without the secret: refused, naming the field and the new host; nothing changes.
    let path = "/v1/tenants/acme/connections/crm";
    let (status, body) = service.patch(path, &key, &json!({"hosts": ["elsewhere.example"]}));
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("credential")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("`elsewhere.example`"), "{body}");
    assert_eq!(service.get(path, &key).1["hosts"], json!(["*.crm.example", "hooks.partner.example"]));
    let (status, body) = service.patch(path, &key, &json!({"hosts": ["*.example"]}));
    assert_eq!(status, 422, "a wider pattern is somewhere new: {body}");

    // Fewer hosts (or a host an old pattern covers) keep the secret; new ones come with it.
    let (status, body) = service.patch(path, &key, &json!({"hosts": ["api.crm.example"]}));
    assert_eq!((status, &body["hosts"]), (200, &json!(["api.crm.example"])), "{body}");
    let (status, body) =
        service.patch(path, &key, &json!({"hosts": ["elsewhere.example"], "credential": credential}));
    assert_eq!((status, &body["hosts"]), (200, &json!(["elsewhere.example"])), "{body}");
}
