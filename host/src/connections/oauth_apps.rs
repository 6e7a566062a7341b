//! The operator's OAuth apps, one per provider (`connections.oauth.<provider>` in the config file): the
//! client a *Connect* button signs the customer in with. `hubspot`, `google`, `salesforce` and `slack` know
//! their providers' URLs and hosts; any other name gives its own. The client secret stays on the server.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::hosts;

/// One provider's app as configured; empty fields take the well-known provider's values.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthApp {
    /// The name on the button (`Connect HubSpot`).
    pub label: String,
    /// Where the customer's browser is sent to consent.
    pub authorize_url: String,
    /// Where the host exchanges the code, and later refreshes tokens.
    pub token_url: String,
    /// The app's client id at the provider.
    pub client_id: String,
    /// The app's client secret: sent only to `token_url`, never to a browser.
    pub client_secret: String,
    /// The scopes asked for, space-separated (as OAuth writes them).
    pub scopes: String,
    /// The hosts its tokens may be sent to (the connection's hosts), comma-separated.
    pub hosts: String,
}

/// Shows everything but the client secret.
impl fmt::Debug for OAuthApp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthApp")
            .field("label", &self.label)
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<secret>")
            .field("scopes", &self.scopes)
            .field("hosts", &self.hosts)
            .finish()
    }
}

/// A provider ready to use: the configured app over the well-known defaults, checked.
#[derive(Clone, PartialEq)]
pub struct Provider {
    /// Its key in `connections.oauth` (`hubspot`): in URLs, and the first connection's name.
    pub id: String,
    pub label: String,
    pub authorize_url: url::Url,
    pub token_url: String,
    pub client_id: String,
    pub client_secret: String,
    pub scopes: Vec<String>,
    pub hosts: Vec<String>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider").field("id", &self.id).field("client_id", &self.client_id).finish()
    }
}

/// (id, label, authorize URL, token URL, scopes, hosts) of a provider whose URLs need not be given.
type Known = (&'static str, &'static str, &'static str, &'static str, &'static str, &'static str);

/// Google only hands out a refresh token to an offline request, and again only when consent is asked.
const WELL_KNOWN: &[Known] = &[
    (
        "hubspot",
        "HubSpot",
        "https://app.hubspot.com/oauth/authorize",
        "https://api.hubapi.com/oauth/v1/token",
        "oauth crm.objects.contacts.read crm.objects.contacts.write",
        "api.hubapi.com",
    ),
    (
        "google",
        "Google",
        "https://accounts.google.com/o/oauth2/v2/auth?access_type=offline&prompt=consent",
        "https://oauth2.googleapis.com/token",
        "https://www.googleapis.com/auth/spreadsheets",
        "*.googleapis.com",
    ),
    (
        "salesforce",
        "Salesforce",
        "https://login.salesforce.com/services/oauth2/authorize",
        "https://login.salesforce.com/services/oauth2/token",
        "api refresh_token",
        "*.my.salesforce.com",
    ),
    (
        "slack",
        "Slack",
        "https://slack.com/oauth/v2/authorize",
        "https://slack.com/api/oauth.v2.access",
        "chat:write",
        "slack.com",
    ),
];

/// Every configured provider, checked, in name order; the error names the key (`connections.oauth.hubspot.
/// client_id`) and says what to put there.
pub fn providers(apps: &BTreeMap<String, OAuthApp>) -> Result<Vec<Provider>, String> {
    apps.iter().map(|(id, app)| provider(id, app)).collect()
}

fn provider(id: &str, app: &OAuthApp) -> Result<Provider, String> {
    let key = |field: &str| format!("key `connections.oauth.{id}.{field}`");
    let valid_id = !id.is_empty()
        && id.len() <= 32
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid_id {
        return Err(format!(
            "key `connections.oauth.{id}`: a provider's name is 1 to 32 lowercase letters, digits or `-` \
             (hubspot, google, salesforce, slack, or one of yours)"
        ));
    }
    let known = WELL_KNOWN.iter().find(|(known, ..)| *known == id);
    let or_known = |given: &str, pick: fn(&Known) -> &'static str| {
        if given.trim().is_empty() {
            known.map(pick).unwrap_or_default().to_owned()
        } else {
            given.trim().to_owned()
        }
    };
    let label = match or_known(&app.label, |k| k.1) {
        label if label.is_empty() => id.to_owned(),
        label => label,
    };
    let url_of = |field: &str, given: String| -> Result<url::Url, String> {
        if given.is_empty() {
            return Err(format!(
                "{} must be set: `{id}` is not a provider Gancho knows (hubspot, google, salesforce, slack), \
                 so give its URL",
                key(field)
            ));
        }
        match url::Url::parse(&given) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Ok(url),
            _ => Err(format!(
                "{} must be an http or https URL, e.g. https://provider.example/oauth",
                key(field)
            )),
        }
    };
    let authorize_url = url_of("authorize_url", or_known(&app.authorize_url, |k| k.2))?;
    let token_url = url_of("token_url", or_known(&app.token_url, |k| k.3))?.to_string();
    for (field, value) in [("client_id", &app.client_id), ("client_secret", &app.client_secret)] {
        if value.trim().is_empty() {
            return Err(format!(
                "{} must be set: the {} of your app at {label} (or GANCHO_CONNECTIONS__OAUTH__{}__{})",
                key(field),
                field.replace('_', " "),
                id.to_ascii_uppercase().replace('-', "_"),
                field.to_ascii_uppercase()
            ));
        }
    }
    let scopes: Vec<String> = or_known(&app.scopes, |k| k.4).split_whitespace().map(str::to_owned).collect();
    if scopes.iter().any(|scope| scope.chars().any(char::is_control)) {
        return Err(format!("{} must be scopes separated by spaces", key("scopes")));
    }
    let hosts = or_known(&app.hosts, |k| k.5)
        .split(',')
        .filter(|host| !host.trim().is_empty())
        .map(|host| hosts::normalize(host).map_err(|why| format!("{}: {why}", key("hosts"))))
        .collect::<Result<Vec<_>, _>>()?;
    if hosts.is_empty() {
        return Err(format!(
            "{} must name the hosts its tokens may be sent to, comma-separated (api.example.com)",
            key("hosts")
        ));
    }
    Ok(Provider {
        id: id.to_owned(),
        label,
        authorize_url,
        token_url,
        client_id: app.client_id.trim().to_owned(),
        client_secret: app.client_secret.clone(),
        scopes,
        hosts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(client_id: &str, client_secret: &str) -> OAuthApp {
        OAuthApp { client_id: client_id.into(), client_secret: client_secret.into(), ..OAuthApp::default() }
    }

    #[test]
    fn well_known_providers_need_only_their_client() {
        let apps = BTreeMap::from([("hubspot".to_owned(), app("id", "secret"))]);
        let hubspot = &providers(&apps).unwrap()[0];
        assert_eq!(hubspot.label, "HubSpot");
        assert_eq!(hubspot.token_url, "https://api.hubapi.com/oauth/v1/token");
        assert_eq!(hubspot.hosts, vec!["api.hubapi.com"]);
        assert!(hubspot.scopes.contains(&"crm.objects.contacts.write".to_owned()));
        assert!(!format!("{:?}", apps["hubspot"]).contains("secret\""), "Debug hides the secret");
    }

    #[test]
    fn errors_name_the_key() {
        let error = |id: &str, app: OAuthApp| providers(&BTreeMap::from([(id.to_owned(), app)])).unwrap_err();
        let missing = error("hubspot", app("", "s"));
        assert!(missing.contains("connections.oauth.hubspot.client_id"), "{missing}");
        assert!(error("slack", app("id", "")).contains("connections.oauth.slack.client_secret"));
        let custom = error("acme-crm", app("id", "s"));
        assert!(custom.contains("connections.oauth.acme-crm.authorize_url"), "{custom}");
        let bad_url = error("hubspot", OAuthApp { token_url: "ftp://x/token".into(), ..app("id", "s") });
        assert!(bad_url.contains("connections.oauth.hubspot.token_url"), "{bad_url}");
        let bad_host =
            error("hubspot", OAuthApp { hosts: "https://api.hubapi.com/".into(), ..app("id", "s") });
        assert!(bad_host.contains("connections.oauth.hubspot.hosts"), "{bad_host}");
        assert!(error("Bad Name", app("id", "s")).contains("connections.oauth.Bad Name"));
    }

    #[test]
    fn other_providers_give_their_urls() {
        let custom = OAuthApp {
            label: "Stand-in".into(),
            authorize_url: "http://127.0.0.1:9100/authorize".into(),
            token_url: "http://127.0.0.1:9100/token".into(),
            scopes: "contacts.write  contacts.read".into(),
            hosts: "127.0.0.1, api.example.com".into(),
            ..app("id", "s")
        };
        let provider = &providers(&BTreeMap::from([("stand-in".to_owned(), custom)])).unwrap()[0];
        assert_eq!(provider.scopes, vec!["contacts.write", "contacts.read"]);
        assert_eq!(provider.hosts, vec!["127.0.0.1", "api.example.com"]);
    }
}
