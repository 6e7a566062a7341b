//! What a connection holds: the secret credential, as the JSON sealed at rest, its validation, and a
//! `Debug` that never shows a secret.

use std::fmt;

use http::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

/// Where Google's service accounts get their tokens when the key does not say.
pub const GOOGLE_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// Headers a credential may not set: the client states them itself, or they would redirect the request.
const RESERVED_HEADERS: &[&str] = &["host", "content-length", "transfer-encoding", "connection"];

/// The secret part of a connection, stored as JSON inside the sealed blob.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Credential {
    /// An API key or a long-lived bearer token, sent as the header `name: value`.
    Header { name: String, value: String },
    /// HTTP Basic authentication.
    Basic { username: String, password: String },
    /// An OAuth 2 refresh token, exchanged at `token_url` for short-lived access tokens.
    Oauth2RefreshToken {
        token_url: String,
        client_id: String,
        client_secret: String,
        refresh_token: String,
        #[serde(default)]
        scopes: Vec<String>,
    },
    /// A Google service account's JSON key (`client_email`, `private_key` in PEM, `token_uri`,
    /// `private_key_id`), exchanged for access tokens with a signed JWT.
    GoogleServiceAccount { key: serde_json::Value, scopes: Vec<String> },
}

/// The fields of a service-account key the host uses.
pub(crate) struct ServiceAccountKey<'a> {
    pub client_email: &'a str,
    pub private_key: &'a str,
    pub token_uri: &'a str,
    pub private_key_id: Option<&'a str>,
}

impl Credential {
    /// The `kind` tag, as in the JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::Header { .. } => "header",
            Credential::Basic { .. } => "basic",
            Credential::Oauth2RefreshToken { .. } => "oauth2_refresh_token",
            Credential::GoogleServiceAccount { .. } => "google_service_account",
        }
    }

    /// Checks what can be checked without calling anyone; the error names the field (`key.private_key`)
    /// and says what is wrong with it, never quoting a secret.
    pub fn validate(&self) -> Result<(), (String, String)> {
        let fail = |field: &str, message: String| Err((field.to_owned(), message));
        match self {
            Credential::Header { name, value } => {
                let Ok(parsed) = HeaderName::from_bytes(name.as_bytes()) else {
                    return fail("name", format!("\"{name}\" is not a valid HTTP header name"));
                };
                if RESERVED_HEADERS.contains(&parsed.as_str()) {
                    return fail("name", format!("the header {parsed} is set by Gancho; use another header"));
                }
                if value.is_empty() || HeaderValue::from_str(value).is_err() {
                    return fail(
                        "value",
                        "must be non-empty visible ASCII text (no line breaks or control characters)"
                            .to_owned(),
                    );
                }
            }
            Credential::Basic { username, password } => {
                if username.is_empty() {
                    return fail("username", "must not be empty".to_owned());
                }
                if username.contains(':') {
                    return fail(
                        "username",
                        "must not contain `:` (HTTP Basic separates it from the password with one)"
                            .to_owned(),
                    );
                }
                if username.chars().chain(password.chars()).any(char::is_control) {
                    return fail(
                        "password",
                        "the username and password must not contain control characters".to_owned(),
                    );
                }
            }
            Credential::Oauth2RefreshToken {
                token_url,
                client_id,
                client_secret: _,
                refresh_token,
                scopes,
            } => {
                check_url("token_url", token_url)?;
                if client_id.is_empty() {
                    return fail("client_id", "must not be empty".to_owned());
                }
                if refresh_token.is_empty() {
                    return fail("refresh_token", "must not be empty".to_owned());
                }
                check_scopes(scopes, false)?;
            }
            Credential::GoogleServiceAccount { key, scopes } => {
                let key = service_account_key(key)?;
                check_url("key.token_uri", key.token_uri)?;
                if jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes()).is_err() {
                    return fail(
                        "key.private_key",
                        "is not an RSA private key in PEM; paste the service account's JSON key as Google \
                         issued it"
                            .to_owned(),
                    );
                }
                check_scopes(scopes, true)?;
            }
        }
        Ok(())
    }
}

/// The fields of a service-account key, or which one is missing.
pub(crate) fn service_account_key(
    key: &serde_json::Value,
) -> Result<ServiceAccountKey<'_>, (String, String)> {
    if !key.is_object() {
        return Err(("key".to_owned(), "must be the service account's JSON key (an object)".to_owned()));
    }
    let text = |field: &str| key.get(field).and_then(serde_json::Value::as_str).filter(|s| !s.is_empty());
    let required = |field: &str| {
        text(field).ok_or_else(|| {
            (
                format!("key.{field}"),
                "is missing; paste the service account's JSON key as Google issued it (IAM → Service \
                 accounts → Keys → Add key → JSON)"
                    .to_owned(),
            )
        })
    };
    Ok(ServiceAccountKey {
        client_email: required("client_email")?,
        private_key: required("private_key")?,
        token_uri: text("token_uri").unwrap_or(GOOGLE_TOKEN_URI),
        private_key_id: text("private_key_id"),
    })
}

/// An http or https URL; whether its address may be reached is the destination guard's call when used.
fn check_url(field: &str, url: &str) -> Result<(), (String, String)> {
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.host().is_some() => Ok(()),
        _ => Err((
            field.to_owned(),
            "must be an http or https URL, e.g. https://oauth2.example.com/token".to_owned(),
        )),
    }
}

fn check_scopes(scopes: &[String], required: bool) -> Result<(), (String, String)> {
    if required && scopes.is_empty() {
        return Err((
            "scopes".to_owned(),
            "must list at least one scope, e.g. https://www.googleapis.com/auth/spreadsheets".to_owned(),
        ));
    }
    if scopes.iter().any(|scope| scope.is_empty() || scope.contains(char::is_whitespace)) {
        return Err(("scopes".to_owned(), "each scope must be non-empty and without spaces".to_owned()));
    }
    Ok(())
}

/// Shows the kind and the non-secret fields only, so a credential can be logged by mistake safely.
impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const HIDDEN: &str = "<secret>";
        match self {
            Credential::Header { name, .. } => {
                f.debug_struct("Header").field("name", name).field("value", &HIDDEN).finish()
            }
            Credential::Basic { username, .. } => {
                f.debug_struct("Basic").field("username", username).field("password", &HIDDEN).finish()
            }
            Credential::Oauth2RefreshToken { token_url, client_id, scopes, .. } => f
                .debug_struct("Oauth2RefreshToken")
                .field("token_url", token_url)
                .field("client_id", client_id)
                .field("client_secret", &HIDDEN)
                .field("refresh_token", &HIDDEN)
                .field("scopes", scopes)
                .finish(),
            Credential::GoogleServiceAccount { key, scopes } => f
                .debug_struct("GoogleServiceAccount")
                .field("client_email", &key.get("client_email").and_then(serde_json::Value::as_str))
                .field("key", &HIDDEN)
                .field("scopes", scopes)
                .finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: serde_json::Value) -> Credential {
        serde_json::from_value(value).unwrap()
    }

    fn field_of(credential: &Credential) -> String {
        credential.validate().unwrap_err().0
    }

    fn test_private_key() -> &'static str {
        include_str!("../../../tests/fixtures/test-service-account.key.pem")
    }

    #[test]
    fn the_json_is_tagged_by_kind_and_refuses_unknown_fields() {
        let oauth = parse(json!({
            "kind": "oauth2_refresh_token", "token_url": "https://example.com/token", "client_id": "id",
            "client_secret": "s", "refresh_token": "r"
        }));
        assert_eq!(oauth.kind(), "oauth2_refresh_token");
        assert!(matches!(&oauth, Credential::Oauth2RefreshToken { scopes, .. } if scopes.is_empty()));
        assert_eq!(serde_json::to_value(&oauth).unwrap()["kind"], "oauth2_refresh_token");
        let unknown = json!({"kind": "basic", "username": "u", "password": "p", "extra": 1});
        assert!(serde_json::from_value::<Credential>(unknown).is_err());
    }

    #[test]
    fn debug_never_shows_a_secret() {
        let credentials = [
            parse(json!({"kind": "header", "name": "x-api-key", "value": "SECRET1"})),
            parse(json!({"kind": "basic", "username": "u", "password": "SECRET1"})),
            parse(json!({
                "kind": "oauth2_refresh_token", "token_url": "https://example.com/token", "client_id": "id",
                "client_secret": "SECRET1", "refresh_token": "SECRET2"
            })),
            parse(json!({"kind": "google_service_account", "scopes": ["s"],
                "key": {"client_email": "a@b.iam", "private_key": "SECRET1"}})),
        ];
        for credential in credentials {
            let shown = format!("{credential:?}");
            assert!(!shown.contains("SECRET"), "{shown}");
        }
    }

    #[test]
    fn validation_names_the_field() {
        let header = |name: &str, value: &str| Credential::Header { name: name.into(), value: value.into() };
        assert!(header("x-api-key", "abc").validate().is_ok());
        assert_eq!(field_of(&header("", "abc")), "name");
        assert_eq!(field_of(&header("bad name", "abc")), "name");
        assert_eq!(field_of(&header("Host", "abc")), "name");
        assert_eq!(field_of(&header("x-api-key", "a\nb")), "value");
        let (_, message) = header("x-api-key", "SECRET\r\n").validate().unwrap_err();
        assert!(!message.contains("SECRET"), "{message}");

        let basic = Credential::Basic { username: "a:b".into(), password: "p".into() };
        assert_eq!(field_of(&basic), "username");

        let oauth = |token_url: &str, scopes: &[&str]| Credential::Oauth2RefreshToken {
            token_url: token_url.into(),
            client_id: "id".into(),
            client_secret: "secret".into(),
            refresh_token: "refresh".into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        };
        assert!(oauth("https://api.hubapi.com/oauth/v1/token", &[]).validate().is_ok());
        // Plain http is the guard's call (a token endpoint on the operator's own network).
        assert!(oauth("http://10.0.0.5/token", &["a"]).validate().is_ok());
        assert_eq!(field_of(&oauth("ftp://example.com/token", &[])), "token_url");
        assert_eq!(field_of(&oauth("not a url", &[])), "token_url");
        assert_eq!(field_of(&oauth("https://example.com/token", &["a b"])), "scopes");
    }

    #[test]
    fn a_service_account_key_needs_its_email_and_an_rsa_private_key() {
        let google = |key: serde_json::Value| Credential::GoogleServiceAccount {
            key,
            scopes: vec!["https://www.googleapis.com/auth/spreadsheets".into()],
        };
        let good = json!({"client_email": "a@p.iam.gserviceaccount.com", "private_key": test_private_key(),
            "token_uri": "https://oauth2.googleapis.com/token", "private_key_id": "k1"});
        assert!(google(good.clone()).validate().is_ok());
        let mut missing = good.clone();
        missing.as_object_mut().unwrap().remove("private_key");
        let (field, message) = google(missing).validate().unwrap_err();
        assert_eq!(field, "key.private_key");
        assert!(message.contains("JSON key"), "{message}");
        let mut garbled = good.clone();
        garbled["private_key"] = json!("-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n");
        assert_eq!(field_of(&google(garbled)), "key.private_key");
        assert_eq!(field_of(&google(json!("a string"))), "key");
        let no_scopes = Credential::GoogleServiceAccount { key: good, scopes: vec![] };
        assert_eq!(field_of(&no_scopes), "scopes");
    }
}
