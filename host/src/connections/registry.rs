//! [`Registry`]: the connections as delivery uses them. It opens each connection's sealed credential (and
//! keeps it a few seconds, so a change made on any instance is seen by all), gives a request the
//! credentials of those of its subscription's connections that belong to the request's host, records what
//! using them did (refreshes, failures, a revoked grant, a rotated refresh token sealed anew), and never
//! lets a secret out: not to another host, not into an error message.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{ConnectionError, Credential, Sealed, Sealer, TokenService, hosts};
use crate::clock::now_millis;
use crate::store::{Connection, ConnectionUse, Millis, Store};

/// How long an opened connection is trusted before it is read again.
const CONNECTION_TTL: Duration = Duration::from_secs(2);
/// A connection's `last_used_at` is written at most this often (a write per delivery would cost more than
/// the delivery).
const USE_RECORD_INTERVAL_MS: Millis = 60_000;

/// One connection, opened.
struct Opened {
    name: String,
    hosts: Vec<String>,
    credential: Mutex<Credential>,
    broken_reason: Option<String>,
    /// Identifies its tokens: a change to the connection starts afresh.
    token_id: String,
    last_use_recorded: Mutex<Millis>,
}

/// A connection as last read: when, and what (`None`: there was none).
type Fetched = (Instant, Option<Arc<Opened>>);

/// What a request carries from its connections.
#[derive(Default)]
pub struct Credentials {
    /// Headers to add, for the request's host only.
    pub headers: Vec<(String, String)>,
    /// The token ids that a 401 should refresh.
    refreshable: Vec<String>,
}

impl Credentials {
    /// Whether a 401 is worth one refresh and one more try.
    pub fn refreshable(&self) -> bool {
        !self.refreshable.is_empty()
    }

    /// What is kept of a destination's answer to a request that carried these credentials: only the error
    /// message a JSON answer states (what a tenant needs to fix a refused row), and only when it holds
    /// nothing that could be an encoded secret. An endpoint may echo a header back encoded (base64, hex,
    /// percent- or JSON-escaped, cut short), which no search for the value finds, and the delivery log is
    /// read by whoever may use the connection, not only whoever set its secret. The status, latency and
    /// `Retry-After` are kept: they say whether the credential works; the destination's own log has the rest.
    pub fn answer_excerpt(&self, excerpt: &str) -> String {
        if self.headers.is_empty() || excerpt.is_empty() {
            return excerpt.to_owned();
        }
        match stated_message(excerpt) {
            Some(message) => format!("[only the destination's message is kept] {}", self.redact(&message)),
            None => {
                "[the answer is not kept: the request carried a connection's credential, which it could echo]"
                    .to_owned()
            }
        }
    }

    /// `text` with every credential value replaced by `[redacted]` (an endpoint may echo a header back).
    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for (_, value) in &self.headers {
            let secret = value.rsplit(' ').next().unwrap_or(value);
            for needle in [value.as_str(), secret] {
                if needle.len() >= 8 && text.contains(needle) {
                    text = text.replace(needle, "[redacted]");
                }
            }
        }
        text
    }
}

/// The connections of every tenant, as delivery uses them.
pub struct Registry {
    store: Arc<dyn Store>,
    sealer: Option<Arc<Sealer>>,
    tokens: TokenService,
    /// By `(tenant, name)`: when it was read, and the connection (`None`: there is none).
    opened: Mutex<HashMap<(String, String), Fetched>>,
}

/// The additional data a connection's secret is sealed with: a sealed secret only opens as the connection
/// it was made for.
pub fn associated_data(tenant_id: &str, name: &str) -> Vec<u8> {
    format!("gancho connection {tenant_id}/{name}").into_bytes()
}

impl Registry {
    pub fn new(store: Arc<dyn Store>, sealer: Option<Arc<Sealer>>, tokens: TokenService) -> Registry {
        Registry { store, sealer, tokens, opened: Mutex::default() }
    }

    /// The sealer, if keys are configured.
    pub fn sealer(&self) -> Option<&Sealer> {
        self.sealer.as_deref()
    }

    /// Exchanges the *Connect* flow's code for tokens at `provider`'s token endpoint, through the
    /// destination guard; the answer's refresh token is what the connection will hold.
    pub(crate) async fn redeem_code(
        &self,
        name: &str,
        provider: &super::oauth_apps::Provider,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<super::endpoint::Grant, ConnectionError> {
        let exchange = super::endpoint::CodeExchange {
            token_url: &provider.token_url,
            client_id: &provider.client_id,
            client_secret: &provider.client_secret,
            code,
            redirect_uri,
            code_verifier,
        };
        self.tokens.redeem_code(name, &exchange).await
    }

    /// Forgets what this instance opened of a connection (after the API changed or deleted it).
    pub fn forget(&self, tenant_id: &str, name: &str) {
        self.opened.lock().expect("connections lock").remove(&(tenant_id.to_owned(), name.to_owned()));
    }

    /// The credentials a request to `url` carries from the connections `names` of `tenant_id`: those whose
    /// hosts include the URL's host; the others add nothing. An error says which connection failed and
    /// what to do; it never holds a secret.
    pub async fn credentials(
        &self,
        tenant_id: &str,
        names: &[String],
        url: &str,
    ) -> Result<Credentials, String> {
        let mut credentials = Credentials::default();
        let Some(host) = hosts::host_of(url) else { return Ok(credentials) };
        for name in names {
            let opened = self.open(tenant_id, name).await?;
            if !opened.hosts.iter().any(|pattern| hosts::matches(pattern, &host)) {
                continue;
            }
            if let Some(reason) = &opened.broken_reason {
                return Err(format!(
                    "connection `{name}` is broken ({reason}); re-authorise it (PATCH the connection with a new \
                     credential)"
                ));
            }
            let credential = opened.credential.lock().expect("credential lock").clone();
            let now = now_millis();
            match self.tokens.authorize(&opened.token_id, name, &credential).await {
                Ok(authorized) => {
                    // A token from the provider can be refreshed after a 401; a static header cannot.
                    if matches!(
                        credential,
                        Credential::Oauth2RefreshToken { .. } | Credential::GoogleServiceAccount { .. }
                    ) {
                        credentials.refreshable.push(opened.token_id.clone());
                    }
                    let resealed = match authorized.rotated_refresh_token {
                        Some(rotated) => self.reseal(tenant_id, &opened, rotated),
                        None => None,
                    };
                    // Refreshes and new seals are always recorded; plain uses at most once a minute.
                    let forced = authorized.refreshed || resealed.is_some();
                    let record = {
                        let mut last = opened.last_use_recorded.lock().expect("use lock");
                        let due = forced || now - *last >= USE_RECORD_INTERVAL_MS;
                        if due {
                            *last = now;
                        }
                        due
                    };
                    if record {
                        let used = ConnectionUse {
                            at: now,
                            refreshed: authorized.refreshed,
                            resealed,
                            ..Default::default()
                        };
                        self.record(tenant_id, name, &used).await;
                    }
                    credentials.headers.push(authorized.header);
                }
                Err(ConnectionError::Revoked(message)) => {
                    let used = ConnectionUse {
                        at: now,
                        error: Some(message.clone()),
                        broken: Some(message.clone()),
                        ..Default::default()
                    };
                    self.record(tenant_id, name, &used).await;
                    self.forget(tenant_id, name);
                    return Err(message);
                }
                Err(ConnectionError::Failed(message)) => {
                    let used = ConnectionUse { at: now, error: Some(message.clone()), ..Default::default() };
                    self.record(tenant_id, name, &used).await;
                    return Err(message);
                }
            }
        }
        Ok(credentials)
    }

    /// After a 401: the tokens these credentials carried are refreshed on their next use.
    pub fn invalidate(&self, credentials: &Credentials) {
        for token_id in &credentials.refreshable {
            self.tokens.invalidate(token_id);
        }
    }

    /// The connection, opened (from this instance's recent memory, or read and unsealed now).
    async fn open(&self, tenant_id: &str, name: &str) -> Result<Arc<Opened>, String> {
        let key = (tenant_id.to_owned(), name.to_owned());
        if let Some((fetched, opened)) = self.opened.lock().expect("connections lock").get(&key)
            && fetched.elapsed() < CONNECTION_TTL
        {
            return opened.clone().ok_or_else(|| gone(name));
        }
        let row = self
            .store
            .get_connection(tenant_id, name)
            .await
            .map_err(|e| format!("connection `{name}` cannot be read: {e}"))?;
        let opened = match row {
            Some(row) => Some(Arc::new(self.unseal(row)?)),
            None => None,
        };
        let mut cache = self.opened.lock().expect("connections lock");
        // Keep the bookkeeping when the connection did not change, but take its secret as stored: another
        // instance may have saved a refresh token the provider rotated in since.
        let opened = match (cache.get(&key), opened) {
            (Some((_, Some(known))), Some(fresh)) if known.token_id == fresh.token_id => {
                let stored = fresh.credential.lock().expect("credential lock").clone();
                *known.credential.lock().expect("credential lock") = stored;
                Some(known.clone())
            }
            (_, fresh) => fresh,
        };
        cache.insert(key, (Instant::now(), opened.clone()));
        opened.ok_or_else(|| gone(name))
    }

    fn unseal(&self, row: Connection) -> Result<Opened, String> {
        let name = row.name.clone();
        let sealer = self.sealer.as_ref().ok_or_else(|| {
            format!(
                "connection `{name}` cannot be opened: no encryption key is configured (connections.keys)"
            )
        })?;
        let sealed = Sealed { key_id: row.key_id, nonce: row.nonce, ciphertext: row.sealed };
        let plain = sealer
            .open(&sealed, &associated_data(&row.tenant_id, &row.name))
            .map_err(|e| format!("connection `{name}` cannot be opened: {e}"))?;
        let credential: Credential = serde_json::from_slice(&plain)
            .map_err(|e| format!("connection `{name}` holds an unreadable credential: {e}"))?;
        Ok(Opened {
            token_id: format!("{}/{}/{}", row.tenant_id, row.name, row.updated_at),
            name: row.name,
            hosts: row.hosts,
            credential: Mutex::new(credential),
            broken_reason: row.broken_reason,
            last_use_recorded: Mutex::new(row.last_used_at.unwrap_or(0)),
        })
    }

    /// The credential with the provider's rotated refresh token, sealed for storing; the opened copy
    /// takes it at once.
    fn reseal(
        &self,
        tenant_id: &str,
        opened: &Opened,
        rotated: String,
    ) -> Option<(String, Vec<u8>, Vec<u8>)> {
        let sealer = self.sealer.as_ref()?;
        let mut credential = opened.credential.lock().expect("credential lock");
        if let Credential::Oauth2RefreshToken { refresh_token, .. } = &mut *credential {
            *refresh_token = rotated;
        }
        let plain = serde_json::to_vec(&*credential).ok()?;
        let sealed = sealer.seal(&plain, &associated_data(tenant_id, &opened.name));
        Some((sealed.key_id, sealed.nonce, sealed.ciphertext))
    }

    async fn record(&self, tenant_id: &str, name: &str, used: &ConnectionUse) {
        if let Err(error) = self.store.record_connection_use(tenant_id, name, used).await {
            tracing::warn!(%error, tenant = tenant_id, connection = name, "cannot record a connection's use");
        }
    }
}

/// The error message a JSON answer states (`error.message`, `message`, `error_description` or
/// `errors[0].message`), at most 300 characters, unless some run of 16 or more characters in it could be
/// an encoded value (letters, digits, `+/=_-.%`).
fn stated_message(excerpt: &str) -> Option<String> {
    let answer: serde_json::Value = serde_json::from_str(excerpt).ok()?;
    let message = [
        &answer["error"]["message"],
        &answer["message"],
        &answer["error_description"],
        &answer["errors"][0]["message"],
    ]
    .into_iter()
    .find_map(|value| value.as_str())?;
    let encoded_like = |c: char| c.is_ascii_alphanumeric() || "+/=_-.%".contains(c);
    let longest_run = message.split(|c: char| !encoded_like(c)).map(str::len).max().unwrap_or(0);
    (longest_run < 16).then(|| message.chars().take(300).collect())
}

fn gone(name: &str) -> String {
    format!("connection `{name}` no longer exists; create it again or remove it from the subscription")
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    #[test]
    fn no_answer_to_a_credentialed_request_is_kept_in_any_encoding_of_the_secret() {
        let credentials = Credentials {
            headers: vec![("authorization".into(), "Bearer tok-4f9a2c81".into())],
            ..Default::default()
        };
        let encoded = base64::engine::general_purpose::STANDARD.encode("tok-4f9a2c81");
        for echo in
            [format!("you sent {encoded}"), "you sent tok-4f9a2c81".to_owned(), hex::encode("tok-4f9a2c81")]
        {
            let kept = credentials.answer_excerpt(&echo);
            assert!(
                !kept.contains(&encoded) && !kept.contains("tok-4f9a") && !kept.contains("746f6b"),
                "{kept}"
            );
        }
        assert_eq!(credentials.answer_excerpt(""), "");
        // A JSON error's message is kept, unless it could hold an encoded value.
        let refused = r#"{"error": {"code": 400, "message": "Invalid value at 'data.values[3]'"}}"#;
        assert!(credentials.answer_excerpt(refused).ends_with("Invalid value at 'data.values[3]'"));
        let sneaky = format!(r#"{{"message": "bad token {encoded}"}}"#);
        assert!(!credentials.answer_excerpt(&sneaky).contains(&encoded));
        // Without credentials, the answer is kept as it came.
        assert_eq!(Credentials::default().answer_excerpt("{\"ok\": true}"), "{\"ok\": true}");
    }
}
