//! The *Connect* flow's secrets: a PKCE verifier (S256) and a single-use `state` for each sign-in at a
//! provider, kept on this instance for ten minutes and bound to the portal session that started it. Only
//! the `state` and the challenge go to the browser; the verifier stays here until the code is exchanged.
//!
//! Kept in memory: a flow lasts a minute or two and is finished where it began, which holds for one
//! instance, or several behind a proxy with sticky sessions. Elsewhere, its callback is refused as unknown
//! and the customer clicks *Connect* again.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};

use super::oauth_apps::Provider;

/// How long the customer has to consent at the provider.
pub const FLOW_TTL: Duration = Duration::from_secs(600);
/// The most flows in progress on one instance; past it, new ones wait for old ones to expire.
const MAX_PENDING: usize = 10_000;

/// A flow begun and not yet finished.
pub struct Pending {
    /// A digest of the session's own secret: only that session may finish it.
    binding: [u8; 32],
    pub tenant: String,
    pub provider: String,
    /// The connection to repair (*Reconnect*); `None` makes a new one.
    pub connection: Option<String>,
    /// Sent again with the code: the provider checks they match.
    pub redirect_uri: String,
    /// The PKCE verifier, sent only to the token endpoint.
    pub code_verifier: String,
    expires: Instant,
}

/// What the browser is sent to the provider with.
pub struct Started {
    pub state: String,
    pub code_challenge: String,
}

/// Why a callback's `state` is refused; nothing is stored for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Never issued here, or already used (a replay).
    Unknown,
    /// Issued more than [`FLOW_TTL`] ago.
    Expired,
    /// Issued to another session (a link someone else started).
    OtherSession,
}

/// The flows in progress on this instance, by `state`.
#[derive(Default)]
pub struct PendingFlows {
    flows: Mutex<HashMap<String, Pending>>,
}

impl PendingFlows {
    /// Begins a flow for the session whose secret is `session_secret`: a fresh `state` and PKCE pair.
    pub fn begin(
        &self,
        session_secret: &str,
        tenant: &str,
        provider: &str,
        connection: Option<&str>,
        redirect_uri: &str,
    ) -> Result<Started, String> {
        let now = Instant::now();
        let mut flows = self.flows.lock().expect("flows lock");
        flows.retain(|_, flow| flow.expires > now);
        if flows.len() >= MAX_PENDING {
            return Err("too many sign-ins are in progress; try again in a few minutes".to_owned());
        }
        let (state, code_verifier) = (random_text(), random_text());
        let code_challenge = challenge(&code_verifier);
        flows.insert(
            state.clone(),
            Pending {
                binding: binding(session_secret),
                tenant: tenant.to_owned(),
                provider: provider.to_owned(),
                connection: connection.map(str::to_owned),
                redirect_uri: redirect_uri.to_owned(),
                code_verifier,
                expires: now + FLOW_TTL,
            },
        );
        Ok(Started { state, code_challenge })
    }

    /// Ends the flow of `state`, once: it is removed whatever the answer, so it can never be used again.
    pub fn finish(&self, state: &str, session_secret: &str) -> Result<Pending, Refusal> {
        let flow = self.flows.lock().expect("flows lock").remove(state).ok_or(Refusal::Unknown)?;
        if flow.expires <= Instant::now() {
            return Err(Refusal::Expired);
        }
        if flow.binding != binding(session_secret) {
            return Err(Refusal::OtherSession);
        }
        Ok(flow)
    }
}

/// The provider's authorize URL with the flow's parameters (RFC 6749 §4.1.1, RFC 7636 §4.3).
pub fn authorize_url(provider: &Provider, redirect_uri: &str, started: &Started) -> String {
    let mut url = provider.authorize_url.clone();
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &provider.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", &provider.scopes.join(" "))
        .append_pair("state", &started.state)
        .append_pair("code_challenge", &started.code_challenge)
        .append_pair("code_challenge_method", "S256");
    url.into()
}

/// The S256 challenge of a verifier: base64url(SHA-256(verifier)), unpadded.
pub fn challenge(code_verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(code_verifier.as_bytes()))
}

/// 32 bytes from the operating system's CSPRNG (through `rand`), base64url: 43 characters, as RFC 7636
/// asks of a verifier.
fn random_text() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn binding(session_secret: &str) -> [u8; 32] {
    let mut digest = Sha256::new();
    digest.update(b"gancho connect flow\0");
    digest.update(session_secret.as_bytes());
    digest.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> Provider {
        Provider {
            id: "hubspot".into(),
            label: "HubSpot".into(),
            authorize_url: url::Url::parse("https://provider.example/authorize?prompt=consent").unwrap(),
            token_url: "https://provider.example/token".into(),
            client_id: "app id".into(),
            client_secret: "never-in-a-url".into(),
            scopes: vec!["a".into(), "b".into()],
            hosts: vec!["api.example".into()],
        }
    }

    #[test]
    fn the_challenge_is_s256_of_the_verifier() {
        // RFC 7636, appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        let verifier = random_text();
        assert_eq!(verifier.len(), 43);
        assert!(verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(verifier, random_text());
    }

    #[test]
    fn a_state_is_finished_once_by_its_own_session() {
        let flows = PendingFlows::default();
        let started = flows.begin("csrf-1", "acme", "hubspot", None, "http://h/cb").unwrap();
        let pending = flows.finish(&started.state, "csrf-1").unwrap();
        assert_eq!((pending.tenant.as_str(), pending.connection), ("acme", None));
        assert_eq!(challenge(&pending.code_verifier), started.code_challenge);
        assert_eq!(flows.finish(&started.state, "csrf-1").err(), Some(Refusal::Unknown), "a replay");
        assert_eq!(flows.finish("made-up", "csrf-1").err(), Some(Refusal::Unknown));

        let foreign = flows.begin("csrf-2", "acme", "hubspot", Some("crm"), "http://h/cb").unwrap();
        assert_eq!(flows.finish(&foreign.state, "csrf-1").err(), Some(Refusal::OtherSession));
        assert_eq!(flows.finish(&foreign.state, "csrf-2").err(), Some(Refusal::Unknown), "spent by the try");
    }

    #[test]
    fn an_old_state_is_expired() {
        let flows = PendingFlows::default();
        let started = flows.begin("csrf-1", "acme", "hubspot", None, "http://h/cb").unwrap();
        flows.flows.lock().unwrap().get_mut(&started.state).unwrap().expires = Instant::now();
        assert_eq!(flows.finish(&started.state, "csrf-1").err(), Some(Refusal::Expired));
    }

    #[test]
    fn the_authorize_url_carries_the_flow_but_no_secret() {
        let started = Started { state: "st".into(), code_challenge: "ch".into() };
        let url = authorize_url(&provider(), "http://127.0.0.1:8080/console/connect/callback", &started);
        let parsed = url::Url::parse(&url).unwrap();
        let query: HashMap<_, _> = parsed.query_pairs().into_owned().collect();
        assert_eq!(query["prompt"], "consent", "the provider's own parameters stay");
        assert_eq!(query["response_type"], "code");
        assert_eq!(query["client_id"], "app id");
        assert_eq!(query["redirect_uri"], "http://127.0.0.1:8080/console/connect/callback");
        assert_eq!(query["scope"], "a b");
        assert_eq!((query["state"].as_str(), query["code_challenge"].as_str()), ("st", "ch"));
        assert_eq!(query["code_challenge_method"], "S256");
        assert!(!url.contains("never-in-a-url"));
    }
}
