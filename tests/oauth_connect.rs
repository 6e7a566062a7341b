//! "Connect HubSpot" in the portal (issue 22), in a real browser in Spanish and in English, against the
//! stand-in OAuth provider of `gancho stand-in oauth` on loopback: the customer clicks *Connect HubSpot*,
//! consents at the provider, comes back to her connection, and her next event reaches her CRM with the
//! bearer token the provider issued. A replayed `state` and another session's are refused and store
//! nothing; when the provider revokes the grant the connection breaks, and *Reconnect* repairs that same
//! connection, its subscription delivering again. A Google service account is added by uploading its key
//! file; a file too large or without `private_key` is refused with a clear error.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::browser::{portal_link, story};
use support::oauth::StandInProvider;
use support::service::{INGEST, OPERATOR, Receiver, Service, missed_call};

/// 32 bytes in base64: the sealing key.
const KEY: &str = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const WAIT: Duration = Duration::from_secs(30);
/// Short enough that a revoked grant shows on the next event but one.
const TOKEN_SECS: u64 = 2;

fn connections(service: &Service, tenant: &str) -> Vec<Value> {
    let (status, body) = service.get(&format!("/v1/tenants/{tenant}/connections"), OPERATOR);
    assert_eq!(status, 200, "{body}");
    body.as_array().unwrap().clone()
}

/// The bearer token of the last request that reached `path`, once one more than `before` did.
fn next_bearer(service: &Service, receiver: &Receiver, path: &str, before: usize) -> (usize, String) {
    let started = Instant::now();
    loop {
        let received: Vec<_> = receiver.received().into_iter().filter(|r| r.uri.ends_with(path)).collect();
        if received.len() > before {
            let last = received.last().unwrap();
            let authorization = last.headers.get("authorization").cloned().unwrap_or_default();
            return (received.len(), authorization);
        }
        if started.elapsed() > WAIT {
            let tenant = path.rsplit('/').next().unwrap_or_default();
            let deliveries = service.get(&format!("/v1/tenants/{tenant}/deliveries"), OPERATOR).1;
            panic!("nothing more reached {path}: {:?}; deliveries: {deliveries:#}", receiver.received());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_customer_connects_hubspot_with_a_button_and_reconnects_it_when_it_breaks() {
    let stand_in = StandInProvider::start(TOKEN_SECS);
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let mut settings = stand_in.as_hubspot("127.0.0.1");
    // A second provider, for the page to offer two buttons.
    settings.extend([
        ("GANCHO_CONNECTIONS__OAUTH__GOOGLE__CLIENT_ID", support::oauth::CLIENT_ID.to_owned()),
        ("GANCHO_CONNECTIONS__OAUTH__GOOGLE__CLIENT_SECRET", support::oauth::CLIENT_SECRET.to_owned()),
        ("GANCHO_CONNECTIONS__OAUTH__GOOGLE__AUTHORIZE_URL", format!("{}/authorize", stand_in.url)),
        ("GANCHO_CONNECTIONS__OAUTH__GOOGLE__TOKEN_URL", format!("{}/token", stand_in.url)),
        ("GANCHO_CONNECTIONS__KEYS", KEY.to_owned()),
    ]);
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let service = Service::start(&dir.path().join("data"), &settings);
    let (status, body) = service.post_raw(
        "/v1/plugins/slack/versions",
        OPERATOR,
        "application/wasm",
        &support::plugin_bytes("slack"),
    );
    assert_eq!(status, 201, "{body}");
    let sa_key = support::repo_root().join("tests/fixtures/test-service-account.json");

    for (tenant, words, locale) in [("acme", "es", "es-AR"), ("initech", "en", "en-US")] {
        assert_eq!(service.post("/v1/tenants", OPERATOR, &json!({"id": tenant, "name": tenant})).0, 201);
        let env = || {
            vec![
                ("PORTAL_LINK", portal_link(&service, tenant)),
                ("OTHER_PORTAL_LINK", portal_link(&service, tenant)),
                ("TENANT", tenant.to_owned()),
                ("WORDS", words.to_owned()),
                ("BROWSER_LOCALE", locale.to_owned()),
                ("STAND_IN_URL", stand_in.url.clone()),
                ("SA_KEY", sa_key.display().to_string()),
            ]
        };

        // Connect: one connection, made by the sign-in; the refused states stored nothing.
        story("oauthConnect", &service, &env());
        let made = connections(&service, tenant);
        assert_eq!(made.len(), 1, "{made:#?}");
        assert_eq!((&made[0]["name"], &made[0]["status"]), (&json!("hubspot"), &json!("ok")));
        assert_eq!(
            (&made[0]["kind"], &made[0]["hosts"]),
            (&json!("oauth2_refresh_token"), &json!(["127.0.0.1"]))
        );

        // Her CRM gets her events with the token the provider issued.
        let path = format!("/crm/{tenant}");
        let (status, body) = service.post(
            &format!("/v1/tenants/{tenant}/subscriptions"),
            OPERATOR,
            &json!({"event_types": ["call.ended"], "plugin": "slack", "endpoint_url": format!("{}{path}", receiver.url),
                    "config": {}, "connections": ["hubspot"]}),
        );
        assert_eq!(status, 201, "{body}");
        assert_eq!(service.post("/v1/events", INGEST, &missed_call(tenant, &format!("{tenant}_1"))).0, 202);
        let (seen, bearer) = next_bearer(&service, &receiver, &path, 0);
        let token = bearer.strip_prefix("Bearer ").unwrap_or_else(|| panic!("no bearer token: {bearer:?}"));
        assert!(
            stand_in.provider.access_tokens().contains(&token.to_owned()),
            "{token} was issued by the stand-in"
        );

        // The provider revokes the grant: the next refresh fails and the connection is broken.
        stand_in.provider.revoke_all();
        std::thread::sleep(Duration::from_secs(TOKEN_SECS + 1));
        assert_eq!(service.post("/v1/events", INGEST, &missed_call(tenant, &format!("{tenant}_2"))).0, 202);
        let started = Instant::now();
        while connections(&service, tenant)[0]["status"] != "broken" {
            assert!(
                started.elapsed() < WAIT,
                "the connection did not break: {:#?}",
                connections(&service, tenant)
            );
            std::thread::sleep(Duration::from_millis(200));
        }

        // Reconnect repairs the same connection; the subscription delivers again, with a new token.
        let issued_before = stand_in.provider.access_tokens().len();
        story("oauthReconnect", &service, &env());
        let repaired = connections(&service, tenant);
        assert_eq!(repaired.len(), 1);
        assert_eq!((&repaired[0]["name"], &repaired[0]["status"]), (&json!("hubspot"), &json!("ok")));
        assert_eq!(service.post("/v1/events", INGEST, &missed_call(tenant, &format!("{tenant}_3"))).0, 202);
        let (_, bearer) = next_bearer(&service, &receiver, &path, seen);
        let token = bearer.strip_prefix("Bearer ").unwrap_or_default().to_owned();
        assert!(
            stand_in.provider.access_tokens()[issued_before..].contains(&token),
            "a token issued after reconnecting"
        );

        // A Google service account from its key file.
        story("serviceAccount", &service, &env());
        let names: Vec<Value> = connections(&service, tenant).iter().map(|c| c["name"].clone()).collect();
        assert_eq!(names, vec![json!("google-sheets"), json!("hubspot")]);
    }
}
