//! The web console and the customer portal, in a real browser: headless Chromium (Debian's `chromium`
//! package, installed here if missing) driven by `playwright-core` (from npm, pinned by
//! `tests/browser/package-lock.json`, installed here with `npm ci`), against the real `gancho serve`, the
//! real template plugin and a real receiver. The stories are in `tests/browser/stories.mjs`; screenshots of
//! every main page land in `target/console-screenshots`.
//!
//! Also, without a browser: what the console's answers say about sessions, framing and portal links.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::browser::{portal_link, story};
use support::plugin_path;
use support::service::{Behaviour, INGEST, OPERATOR, Receiver, Service};

const PANEL: &str = "http://panel.test";
/// 32 bytes in base64: the connections' sealing key.
const SEALING_KEY: &str = "k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// A free port on loopback for the stand-in platform panel that frames the portal.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn call_ended(id: &str) -> Value {
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(support::sample_path("call.ended.json")).unwrap())
            .unwrap();
    event["id"] = json!(id);
    event["tenant"] = json!("acme");
    event
}

#[test]
fn operators_and_customers_use_the_console_in_a_browser() {
    let template = plugin_path("template");
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start();
    let panel_port = free_port();
    let panel = format!("http://localhost:{panel_port}");
    let service = Service::start(
        &dir.path().join("data"),
        &[("GANCHO_CONSOLE__FRAME_ANCESTORS", &panel), ("GANCHO_CONNECTIONS__KEYS", SEALING_KEY)],
    );
    let es = ("BROWSER_LOCALE", "es-AR".to_owned());

    // The operator: the template plugin, tenants acme and globex, a key for acme.
    let operator = story(
        "operator",
        &service,
        &[("OPERATOR_TOKEN", OPERATOR.to_owned()), ("TEMPLATE_WASM", template.display().to_string())],
    );
    let key = operator["key"].as_str().expect("the story read the key").to_owned();
    let (status, tenant) = service.get("/v1/tenants/acme", &key);
    assert_eq!(status, 200, "the key made in the console works: {tenant}");

    // A customer of acme, from a portal link: a template subscription built with the live preview. Each
    // story follows a link of its own: a link works once.
    let acme = || portal_link(&service, "acme");
    let portal = story(
        "portal",
        &service,
        &[("PORTAL_LINK", acme()), ("RECEIVER_URL", receiver.url.clone()), es.clone()],
    );
    let subscription = portal["subscription"].as_str().unwrap().to_owned();
    receiver.set_secret(portal["secret"].as_str().unwrap());

    // The platform posts an event; it is delivered as the preview showed, and listed with its attempt.
    let (status, _) = service.post("/v1/events", INGEST, &call_ended("evt_portal_1"));
    assert_eq!(status, 202);
    let received = receiver.wait_for(1, Duration::from_secs(30));
    assert!(received[0].signature_valid);
    assert_eq!(received[0].body, r#"{"from": "+5491155551234", "duration": 134}"#);
    service.wait_for_deliveries("acme", "", Duration::from_secs(30), |d| {
        d.iter().any(|d| d["status"] == "succeeded")
    });
    story("deliveries", &service, &[("PORTAL_LINK", acme()), es.clone()]);

    // A delivery that failed until it gave up is retried from its page, and succeeds.
    receiver.set_behaviour(Behaviour::Always(503));
    let (status, _) = service.post("/v1/events", INGEST, &call_ended("evt_portal_2"));
    assert_eq!(status, 202);
    let dead =
        service.wait_for_deliveries("acme", "&status=dead", Duration::from_secs(60), |d| !d.is_empty());
    receiver.set_behaviour(Behaviour::Accept);
    let delivery = dead[0]["id"].as_str().unwrap().to_owned();
    story(
        "retry",
        &service,
        &[
            ("PORTAL_LINK", acme()),
            ("DELIVERY", delivery),
            ("SUBSCRIPTION", subscription.clone()),
            es.clone(),
        ],
    );
    receiver.wait_for(2, Duration::from_secs(10));

    // Globex's portal reaches nothing of acme's.
    let globex = portal_link(&service, "globex");
    story("isolation", &service, &[("PORTAL_LINK", globex), ("SUBSCRIPTION", subscription.clone())]);
    let (_, still) = service.get(&format!("/v1/tenants/acme/subscriptions/{subscription}"), OPERATOR);
    assert_eq!(still["enabled"], true, "globex's attempt changed nothing");

    // Embedded in the platform's page (a listed origin), and refused elsewhere.
    story("embedding", &service, &[("PORTAL_LINK", acme()), ("PANEL_PORT", panel_port.to_string())]);

    // The tenant signs in with its key: its own plugin, a connection (secret write-only), sign-out.
    story("tenant", &service, &[("TENANT_KEY", key), ("TEMPLATE_WASM", template.display().to_string())]);

    // The operator's overview counts what happened, as /metrics does.
    story("overview", &service, &[("OPERATOR_TOKEN", OPERATOR.to_owned())]);

    // Another site's portal link asks before it replaces the operator's session (login CSRF).
    story("crossSiteLink", &service, &[("OPERATOR_TOKEN", OPERATOR.to_owned()), ("PORTAL_LINK", acme())]);

    // Signing in works on a plain-HTTP origin that is not localhost.
    story("plainHttpSignIn", &service, &[("OPERATOR_TOKEN", OPERATOR.to_owned())]);
}

/// A client that does not follow redirects, to read what the console answers.
fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new().redirects(0).build()
}

fn get(url: &str, cookie: Option<&str>) -> ureq::Response {
    let mut request = agent().get(url);
    if let Some(cookie) = cookie {
        request = request.set("cookie", cookie);
    }
    match request.call() {
        Ok(response) | Err(ureq::Error::Status(_, response)) => response,
        Err(error) => panic!("GET {url}: {error}"),
    }
}

#[test]
fn portal_links_sessions_and_framing_are_guarded() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[("GANCHO_CONSOLE__FRAME_ANCESTORS", PANEL)]);
    for tenant in ["acme", "globex"] {
        assert_eq!(service.post("/v1/tenants", OPERATOR, &json!({"id": tenant, "name": tenant})).0, 201);
    }

    // Only the operator mints links, for a tenant that exists, for at most link_max_ttl_secs.
    let (_, key) = service.post("/v1/tenants/acme/keys", OPERATOR, &json!({}));
    let key = key["key"].as_str().unwrap();
    assert_eq!(service.post("/v1/tenants/acme/portal-links", key, &json!({})).0, 403);
    assert_eq!(service.post("/v1/tenants/nobody/portal-links", OPERATOR, &json!({})).0, 404);
    let (status, body) = service.post("/v1/tenants/acme/portal-links", OPERATOR, &json!({"ttl_secs": 3600}));
    assert_eq!((status, body["error"]["field"].as_str()), (422, Some("ttl_secs")), "{body}");
    let (status, link) = service.post("/v1/tenants/acme/portal-links", OPERATOR, &json!({}));
    assert_eq!(status, 201, "{link}");
    let path = link["path"].as_str().unwrap();

    // Following it: a session cookie (HttpOnly, SameSite) and a redirect that drops the token.
    let followed = get(&format!("{}{path}", service.url), None);
    assert_eq!(followed.status(), 303);
    assert_eq!(followed.header("location"), Some("/console/t/acme/subscriptions"));
    let cookie = followed.header("set-cookie").unwrap().to_owned();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert_eq!(followed.header("referrer-policy"), Some("no-referrer"));
    let session = cookie.split(';').next().unwrap().to_owned();

    // A link works once.
    assert_eq!(get(&format!("{}{path}", service.url), None).status(), 403, "followed twice");

    // Framed (as the browser says in Sec-Fetch-Dest), the cookie is one a framed site may use.
    let mint = || {
        let (status, link) = service.post("/v1/tenants/acme/portal-links", OPERATOR, &json!({}));
        assert_eq!(status, 201, "{link}");
        link["path"].as_str().unwrap().to_owned()
    };
    let framed = agent()
        .get(&format!("{}{}", service.url, mint()))
        .set("sec-fetch-dest", "iframe")
        .set("sec-fetch-site", "cross-site")
        .call()
        .unwrap();
    let framed_cookie = framed.header("set-cookie").unwrap();
    assert!(framed_cookie.contains("SameSite=None") && framed_cookie.contains("Secure"), "{framed_cookie}");

    // The portal may be framed by the listed origin only; the operator's pages by none.
    let portal = get(&format!("{}/console/t/acme/subscriptions", service.url), Some(&session));
    assert_eq!(portal.status(), 200);
    let policy = portal.header("content-security-policy").unwrap().to_owned();
    assert!(policy.contains(&format!("frame-ancestors 'self' {PANEL}")), "{policy}");
    let operator = get(&format!("{}/console/operator", service.url), Some(&session));
    assert_eq!(operator.status(), 403, "a tenant's session is no operator");
    assert!(operator.header("content-security-policy").unwrap().contains("frame-ancestors 'none'"));
    assert_eq!(operator.header("x-frame-options"), Some("DENY"));

    // The session reaches its tenant's API with the CSRF token only, and never another tenant's.
    let body =
        get(&format!("{}/console/t/acme/subscriptions", service.url), Some(&session)).into_string().unwrap();
    let csrf = body.split("data-csrf=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let api = |path: &str, csrf: Option<&str>| {
        let mut request = agent().get(&format!("{}{path}", service.url)).set("cookie", &session);
        if let Some(csrf) = csrf {
            request = request.set("x-gancho-csrf", csrf);
        }
        match request.call() {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response.status(),
            Err(error) => panic!("{error}"),
        }
    };
    assert_eq!(api("/v1/tenants/acme/subscriptions", Some(&csrf)), 200);
    assert_eq!(api("/v1/tenants/acme/subscriptions", None), 403);
    assert_eq!(api("/v1/tenants/acme/subscriptions", Some("forged")), 403);
    assert_eq!(api("/v1/tenants/globex/subscriptions", Some(&csrf)), 404);

    // Signing in: a form post from another site is refused; from the console's page it sets the cookie.
    let sign_in = |site: &str, token: &str| {
        let answer = agent()
            .post(&format!("{}/console/sign-in", service.url))
            .set("sec-fetch-site", site)
            .send_form(&[("token", token)]);
        match answer {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(error) => panic!("{error}"),
        }
    };
    let refused = sign_in("cross-site", OPERATOR);
    assert_eq!(refused.status(), 403);
    assert!(!refused.all("set-cookie").iter().any(|c| c.starts_with("gancho_session")), "no session");
    assert_eq!(sign_in("same-origin", "gk_not-a-key").status(), 401);
    let signed_in = sign_in("same-origin", key);
    assert_eq!((signed_in.status(), signed_in.header("location")), (303, Some("/console")));
    assert!(signed_in.header("set-cookie").unwrap().contains("HttpOnly"));

    // A tenant's portal seen with the operator's session is framed by no one: the framing page would act
    // with the operator's rights.
    let operator = sign_in("same-origin", OPERATOR);
    let operator_session = operator.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let operator_session = operator_session.as_str();
    let portal = get(&format!("{}/console/t/acme/subscriptions", service.url), Some(operator_session));
    assert_eq!(portal.status(), 200);
    let policy = portal.header("content-security-policy").unwrap().to_owned();
    assert!(policy.contains("frame-ancestors 'none'") && !policy.contains(PANEL), "{policy}");
    assert_eq!(portal.header("x-frame-options"), Some("DENY"));

    // A link from another site does not replace the operator's session unasked (login CSRF): it asks, and
    // only a form of this site continues.
    let follow = |path: &str, site: &str, cookie: &str| {
        agent()
            .get(&format!("{}{path}", service.url))
            .set("sec-fetch-site", site)
            .set("cookie", cookie)
            .call()
            .unwrap()
    };
    let link = mint();
    let asked = follow(&link, "cross-site", operator_session);
    assert_eq!(asked.status(), 200);
    let sets_session = |response: &ureq::Response| {
        response.all("set-cookie").iter().any(|c| c.starts_with("gancho_session"))
    };
    assert!(!sets_session(&asked), "the operator's session is kept");
    let page = asked.into_string().unwrap();
    assert!(page.contains("operator console") && page.contains("<strong>acme</strong>"), "{page}");
    let token = link.split("token=").nth(1).unwrap();
    let confirm = |site: &str| {
        let answer = agent()
            .post(&format!("{}/console/link", service.url))
            .set("sec-fetch-site", site)
            .set("cookie", operator_session)
            .send_form(&[("token", token)]);
        match answer {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(error) => panic!("{error}"),
        }
    };
    assert_eq!(confirm("cross-site").status(), 403);
    let switched = confirm("same-origin");
    assert_eq!(switched.status(), 303);
    let acme_session = switched.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    assert_eq!(confirm("same-origin").status(), 403, "the link was used up");
    // From the same tenant's session, a link from another site just renews it.
    assert_eq!(follow(&mint(), "cross-site", &acme_session).status(), 303);
    // From this site (the portal's own pages), or with no session, nothing is asked.
    assert_eq!(follow(&mint(), "same-origin", operator_session).status(), 303);

    // The tenant's sessions end when it (or the operator) says so; its keys keep working.
    let portal_page =
        |cookie: &str| get(&format!("{}/console/t/acme/subscriptions", service.url), Some(cookie));
    assert_eq!(portal_page(&acme_session).status(), 200);
    let key_session = signed_in.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    assert_eq!(portal_page(&key_session).status(), 200);
    assert_eq!(service.delete("/v1/tenants/acme/sessions", key).0, 204);
    assert_eq!(portal_page(&acme_session).status(), 303, "a link's session ended");
    assert_eq!(portal_page(&key_session).status(), 303, "a key's session ended");
    assert_eq!(portal_page(operator_session).status(), 200, "the operator's is not the tenant's");
    assert_eq!(service.get("/v1/tenants/acme", key).0, 200);
    assert_eq!(service.delete("/v1/tenants/globex/sessions", key).0, 404);

    // Keys are listed (never the key) and deleted: a deleted key and its sessions stop at once.
    let key_session =
        sign_in("same-origin", key).header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    let (status, keys) = service.get("/v1/tenants/acme/keys", key);
    assert_eq!(status, 200, "{keys}");
    let listed = keys.as_array().unwrap();
    assert_eq!(listed.len(), 1, "{keys}");
    assert!(key.starts_with(listed[0]["prefix"].as_str().unwrap()), "{keys}");
    assert!(listed[0]["last_used_at"].is_string() && !keys.to_string().contains(key), "{keys}");
    let id = listed[0]["id"].as_str().unwrap();
    assert_eq!(service.get("/v1/tenants/globex/keys", key).0, 404);
    assert_eq!(service.delete(&format!("/v1/tenants/acme/keys/{id}"), OPERATOR).0, 204);
    assert_eq!(service.get("/v1/tenants/acme", key).0, 401, "the key stopped working");
    assert_eq!(portal_page(&key_session).status(), 303, "and so did its session");
    assert_eq!(service.delete(&format!("/v1/tenants/acme/keys/{id}"), OPERATOR).0, 404);

    // A forged or tampered link or session is refused.
    let forged = get(&format!("{}/console/link?token=e30.AAAA", service.url), None);
    assert_eq!(forged.status(), 403);
    let tampered = format!("{}x", session);
    assert_eq!(get(&format!("{}/console/t/acme/subscriptions", service.url), Some(&tampered)).status(), 303);
}

#[test]
fn signing_in_works_on_plain_http_without_weakening_csrf_and_failures_are_limited() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let url = format!("{}/console/sign-in", service.url);

    // What Chromium sends from a plain-HTTP origin that is not localhost, under the console's no-referrer
    // policy: no Sec-Fetch-Site, and `Origin: null`. The form page's cookie and signed field prove the post.
    let form = agent().get(&url).call().unwrap();
    let cookie = form.header("set-cookie").unwrap().split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("gancho_form="), "{cookie}");
    let page = form.into_string().unwrap();
    let proof =
        page.split("name=\"form_token\" value=\"").nth(1).unwrap().split('"').next().unwrap().to_owned();
    let post = |cookie: Option<&str>, fields: &[(&str, &str)]| {
        let mut request = agent().post(&url).set("origin", "null");
        if let Some(cookie) = cookie {
            request = request.set("cookie", cookie);
        }
        match request.send_form(fields) {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(error) => panic!("{error}"),
        }
    };
    let signed_in = post(Some(&cookie), &[("form_token", &proof), ("token", OPERATOR)]);
    assert_eq!((signed_in.status(), signed_in.header("location")), (303, Some("/console")));
    // Another site can neither read the page's field nor send the cookie (SameSite=Strict).
    assert_eq!(post(None, &[("form_token", &proof), ("token", OPERATOR)]).status(), 403);
    assert_eq!(post(Some(&cookie), &[("token", OPERATOR)]).status(), 403);
    assert_eq!(post(Some("gancho_form=abc"), &[("form_token", &proof), ("token", OPERATOR)]).status(), 403);

    // Guessing is slow: after a burst of failures, even the right token waits (429, with Retry-After),
    // at the sign-in form and with a bearer token alike.
    let mut refused = None;
    for attempt in 0..40 {
        let answer = post(Some(&cookie), &[("form_token", &proof), ("token", &format!("guess-{attempt}"))]);
        if answer.status() == 429 {
            refused = Some(answer);
            break;
        }
        assert_eq!(answer.status(), 401);
    }
    let refused = refused.expect("sign-in failures are limited");
    assert!(refused.header("retry-after").is_some());
    assert_eq!(post(Some(&cookie), &[("form_token", &proof), ("token", OPERATOR)]).status(), 429);
    let (status, body) = service.get("/v1/tenants", OPERATOR);
    assert_eq!((status, body["error"]["code"].as_str()), (429, Some("too_many_attempts")), "{body}");
}
