//! The headers a delivery goes out with, in the order that decides who wins a name: the plugin's, the
//! subscription's (only to its own endpoint), the credentials of its connections, then the Standard
//! Webhooks headers, which nothing can forge.

use crate::store::ClaimedDelivery;

/// The headers a delivery goes out with: the plugin's; the subscription's, only when the request goes to the
/// subscription's own endpoint (scheme, host and port), never to a host the plugin chose; the credentials
/// of its connections for this host (`credentials`, already matched to it); and the Standard Webhooks
/// headers. Later ones win on a name clash, and the Standard Webhooks headers always do.
pub(super) fn request_headers(
    delivery: &ClaimedDelivery,
    credentials: &[(String, String)],
    timestamp: i64,
    signature: String,
) -> Vec<(String, String)> {
    const OURS: [&str; 3] = ["webhook-id", "webhook-timestamp", "webhook-signature"];
    let own_endpoint = !delivery.subscription_headers.is_empty()
        && crate::connections::hosts::same_origin(&delivery.request.url, &delivery.endpoint_url);
    let subscription_headers: &[(String, String)] =
        if own_endpoint { &delivery.subscription_headers } else { &[] };
    let layers = [delivery.request.headers.as_slice(), subscription_headers, credentials];
    let mut headers: Vec<(String, String)> = Vec::with_capacity(delivery.request.headers.len() + 3);
    for (index, layer) in layers.iter().enumerate() {
        let overridden = |name: &str| {
            OURS.iter().any(|ours| ours.eq_ignore_ascii_case(name))
                || layers[index + 1..]
                    .iter()
                    .any(|later| later.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)))
        };
        headers.extend(layer.iter().filter(|(name, _)| !overridden(name)).cloned());
    }
    if let Some(traceparent) = crate::telemetry::spans::trace_header(delivery) {
        headers.retain(|(name, _)| !name.eq_ignore_ascii_case(&traceparent.0));
        headers.push(traceparent);
    }
    headers.push(("webhook-id".to_owned(), delivery.id.clone()));
    headers.push(("webhook-timestamp".to_owned(), timestamp.to_string()));
    headers.push(("webhook-signature".to_owned(), signature));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredRequest;

    fn delivery(url: &str) -> ClaimedDelivery {
        ClaimedDelivery {
            id: "dlv_1".into(),
            tenant_id: "t".into(),
            event_id: "e".into(),
            subscription_id: "s".into(),
            request: StoredRequest {
                method: "POST".into(),
                url: url.into(),
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("Authorization".into(), "from-plugin".into()),
                    ("Webhook-Signature".into(), "v1,forged".into()),
                ],
                body: vec![],
            },
            attempts: 0,
            secrets: vec![],
            subscription_headers: vec![("authorization".into(), "Bearer operator-set".into())],
            endpoint_url: "https://x.example/hook".into(),
            connections: vec![],
            ordering_key: None,
            first_attempt_at: None,
            ordering_max_hold_secs: None,
            plugin: "slack@1".into(),
            destination: None,
            batch_leader: None,
            created_at: 0,
            trace_context: false,
        }
    }

    #[test]
    fn subscription_headers_win_and_signature_headers_cannot_be_forged() {
        let headers =
            request_headers(&delivery("https://x.example/other"), &[], 1_700_000_000, "v1,real".into());
        assert_eq!(
            headers,
            vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("authorization".to_owned(), "Bearer operator-set".to_owned()),
                ("webhook-id".to_owned(), "dlv_1".to_owned()),
                ("webhook-timestamp".to_owned(), "1700000000".to_owned()),
                ("webhook-signature".to_owned(), "v1,real".to_owned()),
            ]
        );
    }

    #[test]
    fn subscription_headers_go_only_to_the_subscriptions_own_endpoint() {
        for elsewhere in ["https://hooks.slack.com/x", "http://x.example/hook", "https://x.example:8443/hook"]
        {
            let headers = request_headers(&delivery(elsewhere), &[], 1, "v1,s".into());
            assert!(
                !headers.iter().any(|(_, value)| value == "Bearer operator-set"),
                "{elsewhere}: {headers:?}"
            );
            assert!(headers.contains(&("Authorization".to_owned(), "from-plugin".to_owned())));
        }
    }

    #[test]
    fn a_connections_credential_wins_over_the_plugins_and_the_subscriptions() {
        let credential = [("authorization".to_owned(), "Bearer from-connection".to_owned())];
        let headers = request_headers(&delivery("https://x.example/hook"), &credential, 1, "v1,s".into());
        let authorization: Vec<_> =
            headers.iter().filter(|(name, _)| name.eq_ignore_ascii_case("authorization")).collect();
        assert_eq!(authorization, [&credential[0]]);
    }
}
