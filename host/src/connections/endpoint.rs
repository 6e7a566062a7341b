//! Token endpoint requests: the OAuth 2 refresh-token grant and Google's JWT-bearer grant, POSTed as forms
//! through the destination guard, bounded in time and bytes, and what their answers mean.

use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Method, Request, Uri};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use serde::{Deserialize, Serialize};

use super::ConnectionError;
use super::credential::service_account_key;
use crate::delivery::client::{Connector, check_ip_literal, describe};
use crate::delivery::guard::DestinationGuard;

/// The most of a token endpoint's answer that is read; a token answer is a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The lifetime assumed for an access token whose answer has no `expires_in`: short, since a 401 from the
/// destination is then the only other sign that it expired.
const LIFETIME_WITHOUT_EXPIRY: Duration = Duration::from_secs(600);

/// What Google's service-account assertions claim (RFC 7523).
const ASSERTION_LIFETIME_SECS: i64 = 3600;
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// What the *Connect* flow's callback exchanges at a provider's token endpoint.
#[derive(Clone, Copy)]
pub(crate) struct CodeExchange<'a> {
    pub token_url: &'a str,
    pub client_id: &'a str,
    pub client_secret: &'a str,
    /// The one-time code the customer's browser brought back.
    pub code: &'a str,
    /// The redirect URI the code was issued for (the provider checks it is the same).
    pub redirect_uri: &'a str,
    /// The PKCE verifier only this host knows.
    pub code_verifier: &'a str,
}

/// A token the endpoint issued.
pub(crate) struct Grant {
    pub access_token: String,
    /// From `expires_in`, if the answer had one.
    pub lifetime: Option<Duration>,
    /// A new refresh token, when the provider rotates them.
    pub refresh_token: Option<String>,
}

/// Shows everything but the tokens.
impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("lifetime", &self.lifetime)
            .field("rotated", &self.refresh_token.is_some())
            .finish_non_exhaustive()
    }
}

impl Grant {
    /// How long to use the token before refreshing: 60 s before it expires, or at 90% of its lifetime for
    /// a token shorter than 10 minutes, so a token of a few seconds is still used.
    pub fn use_for(&self) -> Duration {
        let lifetime = self.lifetime.unwrap_or(LIFETIME_WITHOUT_EXPIRY);
        lifetime - (lifetime / 10).min(Duration::from_secs(60))
    }
}

/// Makes token requests through the guarded client.
pub(crate) struct TokenEndpoint {
    client: Client<Connector, Full<Bytes>>,
    guard: DestinationGuard,
    /// Bounds one whole exchange: connecting, sending, and reading the answer.
    timeout: Duration,
}

/// Which grant is being made, for messages and remedies.
#[derive(Clone, Copy)]
enum Flow {
    RefreshToken,
    ServiceAccount,
    AuthorizationCode,
}

impl TokenEndpoint {
    pub fn new(guard: DestinationGuard, timeout: Duration) -> Self {
        // One idle connection per token endpoint is plenty: a refresh is rare.
        let client = crate::delivery::client::guarded_client(&guard, timeout, 1);
        TokenEndpoint { client, guard, timeout }
    }

    /// The refresh-token grant (RFC 6749 §6), with the client's credentials in the form.
    pub async fn refresh(
        &self,
        name: &str,
        token_url: &str,
        client_id: &str,
        client_secret: &str,
        refresh_token: &str,
        scopes: &[String],
    ) -> Result<Grant, ConnectionError> {
        // The serializer is not `Send`: it is done with before the request is awaited.
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "refresh_token")
                .append_pair("refresh_token", refresh_token)
                .append_pair("client_id", client_id)
                .append_pair("client_secret", client_secret);
            if !scopes.is_empty() {
                form.append_pair("scope", &scopes.join(" "));
            }
            form.finish()
        };
        let secrets = [client_secret, refresh_token];
        self.exchange(name, Flow::RefreshToken, token_url, form, &secrets).await
    }

    /// The authorization-code grant with PKCE (RFC 6749 §4.1.3, RFC 7636 §4.5): the code the customer's
    /// browser brought back, exchanged with the verifier only this host knows and the client's credentials.
    pub async fn authorization_code(
        &self,
        name: &str,
        exchange: &CodeExchange<'_>,
    ) -> Result<Grant, ConnectionError> {
        let CodeExchange { token_url, client_id, client_secret, code, redirect_uri, code_verifier } =
            *exchange;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_verifier", code_verifier)
            .append_pair("client_id", client_id)
            .append_pair("client_secret", client_secret)
            .finish();
        let secrets = [client_secret, code, code_verifier];
        self.exchange(name, Flow::AuthorizationCode, token_url, form, &secrets).await
    }

    /// Google's service-account grant: an RS256 JWT signed with the key, exchanged at its `token_uri`.
    pub async fn service_account(
        &self,
        name: &str,
        key: &serde_json::Value,
        scopes: &[String],
    ) -> Result<Grant, ConnectionError> {
        let key = service_account_key(key).map_err(|(field, message)| {
            ConnectionError::Revoked(format!(
                "connection `{name}`: the service account key's {field} {message} (PATCH the connection)"
            ))
        })?;
        let assertion = sign_assertion(&key, scopes, crate::clock::now_millis() / 1000).map_err(|_| {
            ConnectionError::Revoked(format!(
                "connection `{name}`: the service account key's private_key is not an RSA private key in PEM — \
                 PATCH the connection with the JSON key Google issued"
            ))
        })?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", JWT_BEARER)
            .append_pair("assertion", &assertion)
            .finish();
        let secrets = [assertion.as_str(), key.private_key];
        self.exchange(name, Flow::ServiceAccount, key.token_uri, form, &secrets).await
    }

    /// POSTs `form` to `url` and reads the answer. `secrets` are what was sent that must not be echoed.
    async fn exchange(
        &self,
        name: &str,
        flow: Flow,
        url: &str,
        form: String,
        secrets: &[&str],
    ) -> Result<Grant, ConnectionError> {
        let failed = |why: String| {
            ConnectionError::Failed(format!(
                "connection `{name}`: the token request failed: {why} — it will be retried"
            ))
        };
        let (request, host) = self.build(url, form).map_err(failed)?;
        let deadline = tokio::time::Instant::now() + self.timeout;
        let timed_out = || failed(format!("{host} did not answer within {} ms", self.timeout.as_millis()));
        let response = match tokio::time::timeout_at(deadline, self.client.request(request)).await {
            Ok(Ok(response)) => response,
            Ok(Err(err)) => return Err(failed(describe(&err, &host))),
            Err(_) => return Err(timed_out()),
        };
        let status = response.status().as_u16();
        let body = match tokio::time::timeout_at(deadline, read_bounded(response.into_body())).await {
            Ok(Ok(body)) => body,
            Ok(Err(why)) => return Err(failed(format!("reading the answer from {host}: {why}"))),
            Err(_) => return Err(timed_out()),
        };
        interpret(name, flow, status, &body, secrets)
    }

    /// The request, or why it cannot be made. Also returns the URL's host, for messages: a URL may hold a
    /// token in its query.
    fn build(&self, url: &str, form: String) -> Result<(Request<Full<Bytes>>, String), String> {
        let parsed = url::Url::parse(url).map_err(|err| format!("the token URL is invalid ({err})"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "the token URL uses {}:, but only http and https are supported",
                parsed.scheme()
            ));
        }
        let uri =
            Uri::try_from(parsed.as_str()).map_err(|err| format!("the token URL is invalid ({err})"))?;
        let host = uri.host().unwrap_or_default().to_owned();
        check_ip_literal(&self.guard, &host).map_err(|err| err.to_string())?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(uri)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, crate::delivery::client::DEFAULT_USER_AGENT)
            .header(CONTENT_LENGTH, HeaderValue::from(form.len()))
            .body(Full::new(Bytes::from(form)))
            .map_err(|err| format!("the request could not be built ({err})"))?;
        Ok((request, host))
    }
}

/// The claims of a service-account assertion.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct AssertionClaims {
    pub iss: String,
    pub scope: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

fn sign_assertion(
    key: &super::credential::ServiceAccountKey<'_>,
    scopes: &[String],
    now_secs: i64,
) -> Result<String, jsonwebtoken::errors::Error> {
    let signing_key = jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes())?;
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key.private_key_id.map(str::to_owned);
    let claims = AssertionClaims {
        iss: key.client_email.to_owned(),
        scope: scopes.join(" "),
        aud: key.token_uri.to_owned(),
        iat: now_secs,
        exp: now_secs + ASSERTION_LIFETIME_SECS,
    };
    jsonwebtoken::encode(&header, &claims, &signing_key)
}

/// Reads at most [`MAX_ANSWER_BYTES`]; a longer answer is refused rather than cut.
async fn read_bounded(body: Incoming) -> Result<Vec<u8>, String> {
    match http_body_util::Limited::new(body, MAX_ANSWER_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            Err(format!("the answer is larger than {} KiB", MAX_ANSWER_BYTES / 1024))
        }
        Err(error) => Err(error.to_string()),
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: String,
    /// A number per RFC 6749; some providers send it as a string.
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
    #[serde(default)]
    refresh_token: Option<String>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// What a token endpoint's answer means.
fn interpret(
    name: &str,
    flow: Flow,
    status: u16,
    body: &[u8],
    secrets: &[&str],
) -> Result<Grant, ConnectionError> {
    // A sign-in is not retried: the customer starts it again.
    let next = match flow {
        Flow::AuthorizationCode => "connect again",
        Flow::RefreshToken | Flow::ServiceAccount => "it will be retried",
    };
    let failed = |what: String| {
        ConnectionError::Failed(format!("connection `{name}`: token endpoint answered {what} — {next}"))
    };
    if (200..300).contains(&status) {
        let answer: TokenAnswer = serde_json::from_slice(body)
            .map_err(|_| failed(format!("{status} with a body that is not an OAuth token answer (JSON)")))?;
        if answer.access_token.is_empty() {
            return Err(failed(format!("{status} without an access_token")));
        }
        let lifetime = match &answer.expires_in {
            None | Some(serde_json::Value::Null) => None,
            Some(value) => Some(
                value
                    .as_u64()
                    .or_else(|| value.as_str()?.trim().parse().ok())
                    .map(Duration::from_secs)
                    .ok_or_else(|| {
                        failed(format!("{status} with an expires_in that is not a number of seconds"))
                    })?,
            ),
        };
        let refresh_token = answer.refresh_token.filter(|token| !token.is_empty());
        return Ok(Grant { access_token: answer.access_token, lifetime, refresh_token });
    }
    let Ok(error) = serde_json::from_slice::<ErrorAnswer>(body) else {
        return Err(failed(status.to_string()));
    };
    let code = clean(&error.error, secrets);
    let what = match error.error_description.as_deref().map(|text| clean(text, secrets)) {
        Some(description) if !description.is_empty() => format!("{status} {code} ({description})"),
        _ => format!("{status} {code}"),
    };
    let remedy = match (error.error.as_str(), flow) {
        ("invalid_grant", Flow::RefreshToken) => {
            "re-authorise it (PATCH the connection with a new refresh_token)"
        }
        ("invalid_client" | "unauthorized_client", Flow::RefreshToken) => {
            "check its client_id and client_secret (PATCH the connection with the right ones)"
        }
        ("invalid_grant" | "invalid_client" | "unauthorized_client", Flow::ServiceAccount) => {
            "check that the service account and its key still exist (PATCH the connection with a new JSON key)"
        }
        ("invalid_grant", Flow::AuthorizationCode) => {
            "the provider refused the sign-in (used, expired, or for another redirect): connect again"
        }
        ("invalid_client" | "unauthorized_client", Flow::AuthorizationCode) => {
            "the operator's OAuth app is misconfigured (connections.oauth: client_id, client_secret)"
        }
        _ => return Err(failed(what)),
    };
    Err(ConnectionError::Revoked(format!("connection `{name}`: token endpoint answered {what} — {remedy}")))
}

/// Provider text for a message: one line, at most 200 characters, with anything we sent it blanked out.
fn clean(text: &str, secrets: &[&str]) -> String {
    let mut text: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect();
    for secret in secrets.iter().filter(|secret| secret.len() >= 4) {
        text = text.replace(secret, "***");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(lifetime: Option<u64>) -> Grant {
        Grant { access_token: "a".into(), lifetime: lifetime.map(Duration::from_secs), refresh_token: None }
    }

    #[test]
    fn tokens_are_used_until_shortly_before_they_expire() {
        assert_eq!(grant(Some(3600)).use_for(), Duration::from_secs(3540));
        assert_eq!(grant(Some(100)).use_for(), Duration::from_secs(90));
        assert_eq!(grant(Some(2)).use_for(), Duration::from_millis(1800));
        assert_eq!(grant(Some(0)).use_for(), Duration::ZERO);
        assert_eq!(grant(None).use_for(), Duration::from_secs(540));
    }

    #[test]
    fn answers_are_interpreted() {
        let ok = interpret("c", Flow::RefreshToken, 200, br#"{"access_token":"t","expires_in":"60"}"#, &[])
            .unwrap();
        assert_eq!((ok.access_token.as_str(), ok.lifetime), ("t", Some(Duration::from_secs(60))));
        let revoked = interpret(
            "hubspot-main",
            Flow::RefreshToken,
            400,
            br#"{"error":"invalid_grant","error_description":"Token has been revoked"}"#,
            &[],
        );
        assert_eq!(
            revoked.unwrap_err(),
            ConnectionError::Revoked(
                "connection `hubspot-main`: token endpoint answered 400 invalid_grant (Token has been revoked) — \
                 re-authorise it (PATCH the connection with a new refresh_token)"
                    .into()
            )
        );
        let scope =
            interpret("c", Flow::RefreshToken, 400, br#"{"error":"invalid_scope"}"#, &[]).unwrap_err();
        assert!(matches!(scope, ConnectionError::Failed(m) if m.contains("400 invalid_scope")));
        let html = interpret("c", Flow::RefreshToken, 502, b"<html>bad gateway</html>", &[]).unwrap_err();
        assert!(
            matches!(html, ConnectionError::Failed(m) if m.contains("answered 502 — it will be retried"))
        );
        let no_token =
            interpret("c", Flow::ServiceAccount, 200, br#"{"token_type":"Bearer"}"#, &[]).unwrap_err();
        assert!(matches!(no_token, ConnectionError::Failed(m) if m.contains("without an access_token")));
    }

    #[test]
    fn provider_text_never_echoes_what_was_sent() {
        let body =
            br#"{"error":"invalid_grant","error_description":"refresh token rt-SECRET-1 is\nrevoked"}"#;
        let error = interpret("c", Flow::RefreshToken, 400, body, &["rt-SECRET-1"]).unwrap_err().to_string();
        assert!(error.contains("(refresh token *** is revoked)"), "{error}");
    }
}
