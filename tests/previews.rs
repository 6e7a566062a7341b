//! What a tenant tries is what the service would do, and an upload says who runs it: a preview (a plugin
//! run, a dry run's candidate) of a configuration the subscription would refuse is refused the same way,
//! naming the field; a preview through a subscription holds its `allowed_hosts` as the live run does; an
//! upload names the subscriptions that follow the plugin's latest version (they run it at once), and the
//! same bytes again are no new version.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::service::{INGEST, OPERATOR, Receiver, Service, missed_call};

const WAIT: Duration = Duration::from_secs(30);

/// The error's status, field and message.
fn refusal(answer: (u16, Value)) -> (u16, String, String) {
    let (status, body) = answer;
    let field = body["error"]["field"].as_str().unwrap_or_default().to_owned();
    (status, field, body["error"]["message"].as_str().unwrap_or_default().to_owned())
}

#[test]
fn a_preview_with_a_misspelt_config_key_is_refused_like_the_subscription() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let receiver = Receiver::start();
    let key = service.tenant_with_key("acme");
    assert_eq!(service.upload("/v1/plugins/slack/versions", OPERATOR, "slack").0, 201);
    let misspelt = json!({"chanel": "#ventas"});

    let subscribing = refusal(service.post(
        "/v1/tenants/acme/subscriptions",
        &key,
        &json!({"event_types": ["call.*"], "plugin": "slack", "endpoint_url": receiver.url, "config": misspelt}),
    ));
    assert_eq!((subscribing.0, subscribing.1.as_str()), (422, "config.chanel"), "{subscribing:?}");
    assert!(subscribing.2.contains("slack@1 refused the config"), "{subscribing:?}");

    // The plugin run: refused before it runs, with the subscription's very answer.
    let event = missed_call("acme", "evt_preview");
    let previewing = refusal(service.post(
        "/v1/tenants/acme/plugin-runs",
        &key,
        &json!({"plugin": "slack", "event": event, "config": misspelt, "endpoint_url": receiver.url}),
    ));
    assert_eq!(previewing, subscribing);
    // The same through a subscription (its config replaced by the misspelt one).
    let (status, subscription) = service.post(
        "/v1/tenants/acme/subscriptions",
        &key,
        &json!({"event_types": ["call.*"], "plugin": "slack@1", "endpoint_url": receiver.url, "config": {"channel": "#ventas"}}),
    );
    assert_eq!(status, 201, "{subscription}");
    let id = subscription["id"].as_str().unwrap();
    let through = refusal(service.post(
        "/v1/tenants/acme/plugin-runs",
        &key,
        &json!({"subscription_id": id, "event": event, "config": misspelt}),
    ));
    assert_eq!(through, subscribing);
    let (status, fine) =
        service.post("/v1/tenants/acme/plugin-runs", &key, &json!({"subscription_id": id, "event": event}));
    assert_eq!((status, &fine["outcome"]), (200, &json!("requests")), "{fine}");

    // The dry run of a candidate configuration: refused at once, before any event runs.
    let dry_running = refusal(service.post(
        &format!("/v1/tenants/acme/subscriptions/{id}/dry-runs"),
        &key,
        &json!({"candidate_version": 1, "config": misspelt}),
    ));
    assert_eq!(dry_running, subscribing);
    assert_eq!(receiver.received().len(), 0, "nothing sent");
}

#[test]
fn a_preview_through_a_subscription_holds_its_allowed_hosts_as_the_live_run_does() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let receiver = Receiver::start();
    let key = service.tenant_with_key("acme");
    assert_eq!(service.upload("/v1/plugins/slack/versions", OPERATOR, "slack").0, 201);
    // The endpoint is the receiver on 127.0.0.1, which the subscription's allowed_hosts leave out.
    let (status, subscription) = service.post(
        "/v1/tenants/acme/subscriptions",
        &key,
        &json!({"event_types": ["call.*"], "plugin": "slack@1", "endpoint_url": receiver.url,
                "allowed_hosts": ["hooks.slack.com"]}),
    );
    assert_eq!(status, 201, "{subscription}");
    let id = subscription["id"].as_str().unwrap();
    assert_eq!(service.post("/v1/events", INGEST, &missed_call("acme", "evt_live")).0, 202);
    let live = service.wait_for_deliveries("acme", "&event_id=evt_live", WAIT, |d| d.len() == 1);
    assert_eq!(live[0]["status"], "plugin_error", "{live:#?}");
    let live_error = live[0]["error"].as_str().unwrap();
    assert!(live_error.contains("not among the subscription's allowed_hosts"), "{live_error}");

    let (status, preview) = service.post(
        "/v1/tenants/acme/plugin-runs",
        &key,
        &json!({"subscription_id": id, "event_id": "evt_live"}),
    );
    assert_eq!(status, 200, "{preview}");
    assert_eq!(
        (&preview["outcome"], &preview["error"]["kind"], preview["error"]["message"].as_str()),
        (&json!("plugin_error"), &live[0]["error_kind"], Some(live_error)),
        "the preview answers what the live run did: {preview}"
    );
    assert_eq!(preview["requests"], json!([]), "{preview}");
    // Without the subscription there are no allowed_hosts to hold: the same plugin sends.
    let (status, free) = service.post(
        "/v1/tenants/acme/plugin-runs",
        &key,
        &json!({"plugin": "slack@1", "event_id": "evt_live", "endpoint_url": receiver.url}),
    );
    assert_eq!((status, &free["outcome"]), (200, &json!("requests")), "{free}");
    assert_eq!(receiver.received().len(), 0, "nothing sent");
}

#[test]
fn an_upload_names_the_subscriptions_following_the_latest_and_the_same_bytes_are_no_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let service = Service::start(&dir.path().join("data"), &[]);
    let receiver = Receiver::start();
    let key = service.tenant_with_key("acme");
    let own = "/v1/tenants/acme/plugins/crm/versions";

    let (status, first) = service.upload(own, &key, "crm-v1");
    assert_eq!(status, 201, "{first}");
    assert_eq!(
        (&first["version"], &first["existing"], &first["subscriptions_following"]),
        (&json!(1), &json!(false), &json!([]))
    );
    let subscribe = |plugin: &str, event_types: Value| {
        let (status, subscription) = service.post(
            "/v1/tenants/acme/subscriptions",
            &key,
            &json!({"event_types": event_types, "plugin": plugin, "endpoint_url": receiver.url, "name": "CRM"}),
        );
        assert_eq!(status, 201, "{subscription}");
        subscription["id"].as_str().unwrap().to_owned()
    };
    let following = subscribe("acme/crm", json!(["call.*", "chat.closed"]));
    let _pinned = subscribe("acme/crm@1", json!(["call.*"]));

    // The same bytes again: no new version, and said so.
    let (status, again) = service.upload(own, &key, "crm-v1");
    assert_eq!((status, &again["version"], &again["existing"]), (200, &json!(1), &json!(true)), "{again}");
    let (_, versions) = service.get(own, &key);
    assert_eq!(versions.as_array().unwrap().len(), 1, "{versions}");

    // A new version: the subscription that follows the latest runs it at once, and the answer says so.
    let (status, second) = service.upload(own, &key, "crm-v2");
    assert_eq!(
        (status, &second["version"], &second["existing"]),
        (201, &json!(2), &json!(false)),
        "{second}"
    );
    assert_eq!(
        second["subscriptions_following"],
        json!([{"id": following, "tenant": "acme", "name": "CRM", "event_types": ["call.*", "chat.closed"]}]),
        "the pinned one is not listed: {second}"
    );
    assert_eq!(second["subscriptions_following_count"], 1);
    assert_eq!(service.post("/v1/events", INGEST, &missed_call("acme", "evt_after")).0, 202);
    let delivered = service.wait_for_deliveries("acme", "&event_id=evt_after", WAIT, |d| d.len() == 2);
    let mut plugins: Vec<&str> = delivered.iter().map(|d| d["plugin"].as_str().unwrap()).collect();
    plugins.sort();
    assert_eq!(plugins, ["acme/crm@1", "acme/crm@2"], "the follower runs version 2 already");

    // A shared plugin: the operator's answer names every tenant's followers.
    assert_eq!(service.upload("/v1/plugins/slack/versions", OPERATOR, "slack").0, 201);
    let globex = service.tenant_with_key("globex");
    let (status, subscription) = service.post(
        "/v1/tenants/globex/subscriptions",
        &globex,
        &json!({"event_types": ["chat.*"], "plugin": "slack", "endpoint_url": receiver.url}),
    );
    assert_eq!(status, 201, "{subscription}");
    let (status, shared) = service.upload("/v1/plugins/slack/versions", OPERATOR, "slack");
    assert_eq!((status, &shared["existing"]), (200, &json!(true)), "{shared}");
    assert_eq!(
        shared["subscriptions_following"],
        json!([{"id": subscription["id"], "tenant": "globex", "event_types": ["chat.*"]}])
    );
}
