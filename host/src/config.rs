//! Settings: the documented default file (`host/gancho.example.toml`), an optional config file, and
//! `GANCHO_*` environment variables over both. Invalid settings fail at start, naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::delivery::retry::RetrySchedule;
use crate::runtime::Limits;
use crate::tenancy::Quotas;

/// Every setting of the service. See `host/gancho.example.toml` for what each one means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Empty: SQLite at `<data_dir>/gancho.db`.
    pub database_url: String,
    pub operator_token: String,
    pub ingest_token: String,
    /// Bearer token Prometheus scrapes `/metrics` with (the operator token works too).
    pub metrics_token: String,
    /// CIDRs exempted from the refusal of private destinations, comma-separated.
    pub allowed_destinations: String,
    /// CIDRs of the reverse proxies in front of the service, whose `X-Forwarded-For` names the client.
    pub trusted_proxies: String,
    pub ingest: IngestConfig,
    pub limits: Limits,
    /// What a tenant may store of its own plugins, unless the operator set otherwise for it.
    pub quotas: Quotas,
    pub plugins: PluginsConfig,
    pub delivery: DeliveryConfig,
    pub workers: WorkerConfig,
    pub retention: RetentionConfig,
    pub connections: ConnectionsConfig,
    pub console: ConsoleConfig,
    /// Telling customers that a subscription is failing (e-mail through SMTP, or a webhook of theirs).
    pub notifications: crate::notifications::NotificationsConfig,
}

/// The web console and the tenants' portal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Origins (`https://panel.example`) whose pages may frame the portal, comma- or space-separated.
    pub frame_ancestors: String,
    /// How long a console session lasts.
    pub session_ttl_secs: u64,
    /// The longest lifetime a portal link may be given.
    pub link_max_ttl_secs: u64,
    /// Mark session cookies `Secure` (set it when the console is served over HTTPS).
    pub secure_cookies: bool,
    /// What sessions and portal links are signed with (with the operator token); empty: a random secret
    /// made once and kept in the database, which every instance sharing it uses.
    pub signing_secret: String,
    /// The console's address as browsers reach it (`https://hooks.example`), for the OAuth redirect URI;
    /// empty: the request's own `Host`.
    pub public_url: String,
}

impl Default for ConsoleConfig {
    fn default() -> ConsoleConfig {
        ConsoleConfig {
            frame_ancestors: String::new(),
            session_ttl_secs: 8 * 3600,
            link_max_ttl_secs: 900,
            secure_cookies: false,
            signing_secret: String::new(),
            public_url: String::new(),
        }
    }
}

impl ConsoleConfig {
    /// `public_url` without a trailing `/`, checked; `None` when not set.
    pub fn public_base(&self) -> Result<Option<String>, String> {
        if self.public_url.is_empty() {
            return Ok(None);
        }
        match url::Url::parse(&self.public_url) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                Ok(Some(self.public_url.trim_end_matches('/').to_owned()))
            }
            _ => Err(format!(
                "`{}` must be an http or https URL such as https://hooks.example",
                self.public_url
            )),
        }
    }

    /// The origins allowed to frame the portal, checked: `scheme://host[:port]`, http or https.
    pub fn frame_origins(&self) -> Result<Vec<String>, String> {
        self.frame_ancestors
            .split([',', ' '])
            .filter(|origin| !origin.is_empty())
            .map(|origin| {
                let parsed =
                    url::Url::parse(origin).map_err(|e| format!("`{origin}` is not an origin: {e}"))?;
                let serialized = parsed.origin().ascii_serialization();
                if matches!(parsed.scheme(), "http" | "https") && serialized == origin.trim_end_matches('/') {
                    Ok(serialized)
                } else {
                    Err(format!("`{origin}` must be an origin such as https://panel.example (no path)"))
                }
            })
            .collect()
    }
}

/// How tenants' connection secrets are sealed at rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionsConfig {
    /// `id:base64-key` pairs (32-byte keys), comma-separated; old keys stay listed until re-sealed.
    pub keys: String,
    /// The key new secrets are sealed with; empty: the first listed.
    pub active_key: String,
    /// The operator's OAuth apps by provider (`hubspot`), for the portal's *Connect* buttons.
    pub oauth: std::collections::BTreeMap<String, crate::connections::oauth_apps::OAuthApp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestConfig {
    pub max_body_bytes: usize,
    pub max_batch: usize,
    /// Most events in one batch post (a JSON array on `POST /v1/events`).
    pub batch_max_events: usize,
    /// Largest batch post, in bytes (each of its events is also held to `max_body_bytes`).
    pub batch_max_bytes: usize,
}

/// How plugin runs share the machine; a 0 is resolved from the number of cores by [`PluginsConfig::resolve`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginsConfig {
    pub threads: usize,
    pub threads_per_tenant: usize,
    pub slow_run_ms: u64,
    pub slow_lane_threads: usize,
    pub max_queued_ms_per_tenant: u64,
    pub max_in_flight: usize,
    pub max_in_flight_per_tenant: usize,
    pub pause_after_timeouts: u32,
    pub max_instances: u32,
    pub core_instances_per_instance: u32,
    pub memories_per_instance: u32,
    pub tables_per_instance: u32,
}

impl Default for PluginsConfig {
    fn default() -> PluginsConfig {
        PluginsConfig {
            threads: 0,
            threads_per_tenant: 0,
            slow_run_ms: 20,
            slow_lane_threads: 0,
            max_queued_ms_per_tenant: 2000,
            max_in_flight: 0,
            max_in_flight_per_tenant: 0,
            pause_after_timeouts: 20,
            max_instances: 0,
            core_instances_per_instance: 16,
            memories_per_instance: 4,
            tables_per_instance: 8,
        }
    }
}

impl PluginsConfig {
    /// The settings with every 0 replaced by its value for a machine of `cores` cores and claims of
    /// `batch_size`.
    pub fn resolve(&self, cores: usize, batch_size: u32) -> PluginsConfig {
        let or = |value: usize, default: usize| if value == 0 { default } else { value };
        let threads = or(self.threads, 2 * cores.max(1));
        let slow_lane_threads = or(self.slow_lane_threads, (cores / 2).max(1));
        let max_in_flight = or(self.max_in_flight, 2 * batch_size as usize);
        PluginsConfig {
            threads,
            threads_per_tenant: or(self.threads_per_tenant, (threads / 2).max(1)),
            slow_lane_threads,
            max_in_flight,
            max_in_flight_per_tenant: or(self.max_in_flight_per_tenant, (max_in_flight * 3 / 4).max(1)),
            max_instances: if self.max_instances == 0 {
                (threads + slow_lane_threads) as u32
            } else {
                self.max_instances
            },
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    pub timeout_secs: u64,
    /// Sends in flight at once from one instance.
    pub max_in_flight: usize,
    /// Deliveries in flight at once to one subscription's endpoint, across all instances, unless the
    /// subscription sets its own `max_in_flight`.
    pub max_in_flight_per_endpoint: u32,
    pub disable_after_failing_secs: u64,
    pub secret_rotation_grace_secs: u64,
    /// How long one failing head of an ordered lane may hold its key, unless its subscription sets its own.
    pub ordering_max_hold_secs: u32,
    pub retry: RetrySchedule,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkerConfig {
    pub batch_size: u32,
    pub lease_secs: u64,
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    pub max_age_secs: u64,
    pub batch_size: u32,
    pub interval_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> RetentionConfig {
        RetentionConfig { max_age_secs: 7 * 24 * 3600, batch_size: 1000, interval_secs: 60 }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("gancho-data"),
            database_url: String::new(),
            operator_token: String::new(),
            ingest_token: String::new(),
            metrics_token: String::new(),
            allowed_destinations: String::new(),
            trusted_proxies: String::new(),
            ingest: IngestConfig::default(),
            limits: Limits::default(),
            quotas: Quotas::default(),
            plugins: PluginsConfig::default(),
            delivery: DeliveryConfig::default(),
            workers: WorkerConfig::default(),
            retention: RetentionConfig::default(),
            connections: ConnectionsConfig::default(),
            console: ConsoleConfig::default(),
            notifications: Default::default(),
        }
    }
}

impl Default for IngestConfig {
    fn default() -> IngestConfig {
        IngestConfig {
            max_body_bytes: 1 << 20,
            max_batch: 512,
            batch_max_events: 1000,
            batch_max_bytes: 8 << 20,
        }
    }
}

impl Default for DeliveryConfig {
    fn default() -> DeliveryConfig {
        DeliveryConfig {
            timeout_secs: 15,
            max_in_flight: 512,
            max_in_flight_per_endpoint: 256,
            disable_after_failing_secs: 5 * 24 * 3600,
            secret_rotation_grace_secs: 24 * 3600,
            ordering_max_hold_secs: 3600,
            retry: RetrySchedule::default(),
        }
    }
}

impl Default for WorkerConfig {
    fn default() -> WorkerConfig {
        WorkerConfig { batch_size: 256, lease_secs: 60, poll_interval_ms: 200 }
    }
}

/// Environment variables that start with `GANCHO_` but are not settings.
const NOT_SETTINGS: &[&str] = &["GANCHO_LOG", "GANCHO_CONFIG"];

impl Config {
    /// Loads the settings: defaults, then the file (`path`, or `./gancho.toml` if it exists), then the
    /// `GANCHO_*` variables of `env`. The error names the file or variable and the key.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, String> {
        let mut table = toml::Table::try_from(Config::default()).expect("defaults serialise");
        let default_file = Path::new("gancho.toml");
        let file = path.or_else(|| default_file.exists().then_some(default_file));
        if let Some(file) = file {
            let text =
                std::fs::read_to_string(file).map_err(|e| format!("{}: cannot read: {e}", file.display()))?;
            let overrides: toml::Table = text.parse().map_err(|e| format!("{}: {e}", file.display()))?;
            merge(&mut table, overrides);
            Config::from_table(table.clone()).map_err(|e| format!("{}: {e}", file.display()))?;
        }
        for (name, value) in env {
            let Some(key) = name.strip_prefix("GANCHO_") else { continue };
            if NOT_SETTINGS.contains(&name.as_str()) || name.starts_with("GANCHO_BENCH_") {
                continue;
            }
            let path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
            set_from_env(&mut table, &path, &value);
            Config::from_table(table.clone()).map_err(|e| format!("environment variable {name}: {e}"))?;
        }
        let config = Config::from_table(table)?;
        config.validate()?;
        Ok(config)
    }

    fn from_table(table: toml::Table) -> Result<Config, String> {
        serde_path_to_error::deserialize(table).map_err(|e| {
            let path = e.path().to_string();
            if path == "." { e.inner().to_string() } else { format!("key `{path}`: {}", e.inner()) }
        })
    }

    fn validate(&self) -> Result<(), String> {
        self.allowed_networks().map_err(|e| format!("key `allowed_destinations`: {e}"))?;
        self.trusted_proxy_networks().map_err(|e| format!("key `trusted_proxies`: {e}"))?;
        self.delivery.retry.validate().map_err(|e| format!("key `delivery.retry`: {e}"))?;
        self.console.frame_origins().map_err(|e| format!("key `console.frame_ancestors`: {e}"))?;
        self.console.public_base().map_err(|e| format!("key `console.public_url`: {e}"))?;
        crate::connections::oauth_apps::providers(&self.connections.oauth)?;
        if self.workers.lease_secs <= self.delivery.timeout_secs {
            return Err(format!(
                "key `workers.lease_secs` ({}) must be longer than `delivery.timeout_secs` ({}), or a slow \
                 delivery could be claimed and sent twice",
                self.workers.lease_secs, self.delivery.timeout_secs
            ));
        }
        let positive = [
            ("ingest.max_body_bytes", self.ingest.max_body_bytes as u64),
            ("ingest.max_batch", self.ingest.max_batch as u64),
            ("ingest.batch_max_events", self.ingest.batch_max_events as u64),
            ("ingest.batch_max_bytes", self.ingest.batch_max_bytes as u64),
            ("limits.memory_bytes", self.limits.memory_bytes as u64),
            ("limits.timeout_ms", self.limits.timeout_ms),
            ("delivery.timeout_secs", self.delivery.timeout_secs),
            ("delivery.max_in_flight", self.delivery.max_in_flight as u64),
            ("delivery.max_in_flight_per_endpoint", u64::from(self.delivery.max_in_flight_per_endpoint)),
            ("workers.batch_size", u64::from(self.workers.batch_size)),
            ("retention.batch_size", u64::from(self.retention.batch_size)),
            ("retention.interval_secs", self.retention.interval_secs),
            ("console.session_ttl_secs", self.console.session_ttl_secs),
            ("console.link_max_ttl_secs", self.console.link_max_ttl_secs),
        ];
        for (key, value) in positive {
            if value == 0 {
                return Err(format!("key `{key}` must be greater than 0"));
            }
        }
        let plugins = &self.plugins;
        let all_threads = plugins.threads + plugins.slow_lane_threads;
        if plugins.threads != 0
            && plugins.slow_lane_threads != 0
            && plugins.max_instances != 0
            && (plugins.max_instances as usize) < all_threads
        {
            return Err(format!(
                "key `plugins.max_instances` ({}) must be at least `plugins.threads` + `plugins.slow_lane_threads` \
                 ({all_threads}): each thread runs one plugin instance at a time",
                plugins.max_instances
            ));
        }
        let budget = [
            ("core_instances_per_instance", plugins.core_instances_per_instance),
            ("memories_per_instance", plugins.memories_per_instance),
            ("tables_per_instance", plugins.tables_per_instance),
        ];
        if let Some((key, _)) = budget.iter().find(|(_, value)| *value == 0) {
            return Err(format!("key `plugins.{key}` must be greater than 0"));
        }
        Ok(())
    }

    /// Refuses an operator token that could be guessed: it opens everything, and every console session is
    /// signed with it. A configured `console.signing_secret` is held to the same.
    pub fn check_secrets(&self) -> Result<(), String> {
        if !strong(&self.operator_token) {
            return Err(format!(
                "operator_token (GANCHO_OPERATOR_TOKEN) is too weak: it opens everything, so it must be at \
                 least {MIN_SECRET_CHARS} characters of a random token, e.g. `openssl rand -hex 32`; or leave it \
                 empty to have one generated into {}",
                self.data_dir.join("operator.token").display()
            ));
        }
        if !self.console.signing_secret.is_empty() && !strong(&self.console.signing_secret) {
            return Err(format!(
                "console.signing_secret (GANCHO_CONSOLE__SIGNING_SECRET) is too weak: it must be at least \
                 {MIN_SECRET_CHARS} characters of a random secret, e.g. `openssl rand -hex 32`; or leave it \
                 empty to have one made and kept in the database"
            ));
        }
        Ok(())
    }

    /// The parsed `trusted_proxies`.
    pub fn trusted_proxy_networks(&self) -> Result<Vec<IpNet>, String> {
        crate::delivery::guard::parse_allowed(&self.trusted_proxies)
            .map_err(|message| message.replace("allowed_destinations", "trusted_proxies"))
    }

    /// The parsed `allowed_destinations`.
    pub fn allowed_networks(&self) -> Result<Vec<IpNet>, String> {
        crate::delivery::guard::parse_allowed(&self.allowed_destinations)
    }

    /// The operator, ingest and metrics tokens: as configured, or read from (or generated into) files in the
    /// data directory, so that a restart keeps them.
    pub fn resolve_tokens(&mut self) -> std::io::Result<()> {
        for (token, file) in [
            (&mut self.operator_token, "operator.token"),
            (&mut self.ingest_token, "ingest.token"),
            (&mut self.metrics_token, "metrics.token"),
        ] {
            if !token.is_empty() {
                continue;
            }
            let path = self.data_dir.join(file);
            match std::fs::read_to_string(&path) {
                Ok(existing) if !existing.trim().is_empty() => *token = existing.trim().to_owned(),
                _ => {
                    std::fs::create_dir_all(&self.data_dir)?;
                    *token = crate::ids::random_token();
                    std::fs::write(&path, format!("{token}\n"))?;
                    tracing::warn!(path = %path.display(), "no {file} configured; generated one");
                }
            }
        }
        Ok(())
    }
}

/// The fewest characters of a secret the service accepts.
const MIN_SECRET_CHARS: usize = 32;

/// Whether a secret is long and varied enough not to be guessed: [`MIN_SECRET_CHARS`] characters, of which
/// at least 10 different (a generated hex token has 16; `aaaa…` or `12121212…` has not).
fn strong(secret: &str) -> bool {
    let distinct: std::collections::HashSet<char> = secret.chars().collect();
    secret.chars().count() >= MIN_SECRET_CHARS && distinct.len() >= 10
}

/// Overlays `overrides` onto `base`, section by section.
fn merge(base: &mut toml::Table, overrides: toml::Table) {
    for (key, value) in overrides {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base)), toml::Value::Table(value)) => merge(base, value),
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

/// Sets `path` in `table` from an environment variable's text: kept as text where the setting is text,
/// otherwise read as a TOML value (`30`, `true`, `[0, 5, 300]`).
fn set_from_env(table: &mut toml::Table, path: &[String], text: &str) {
    let (last, sections) = path.split_last().expect("split yields at least one part");
    let mut current = table;
    for section in sections {
        current =
            match current.entry(section.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new())) {
                toml::Value::Table(table) => table,
                other => {
                    *other = toml::Value::Table(toml::Table::new());
                    other.as_table_mut().expect("just set")
                }
            };
    }
    let value = match current.get(last) {
        Some(toml::Value::String(_)) | None => toml::Value::String(text.to_owned()),
        Some(_) => format!("v = {text}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut parsed| parsed.remove("v"))
            .unwrap_or_else(|| toml::Value::String(text.to_owned())),
    };
    current.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn the_documented_file_matches_the_defaults() {
        let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("gancho.example.toml");
        assert_eq!(Config::load(Some(&file), vec![]).unwrap(), Config::default());
    }

    #[test]
    fn environment_variables_override_any_key() {
        let config = Config::load(
            None,
            env(&[
                ("GANCHO_LISTEN", "0.0.0.0:9000"),
                ("GANCHO_OPERATOR_TOKEN", "12345"),
                ("GANCHO_DELIVERY__TIMEOUT_SECS", "30"),
                ("GANCHO_DELIVERY__RETRY__DELAYS_SECS", "[0, 1, 2]"),
                ("GANCHO_ALLOWED_DESTINATIONS", "127.0.0.0/8, ::1"),
                ("GANCHO_LOG", "debug"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(config.operator_token, "12345");
        assert_eq!(config.delivery.timeout_secs, 30);
        assert_eq!(config.delivery.retry.delays_secs, vec![0, 1, 2]);
        assert_eq!(config.allowed_networks().unwrap().len(), 2);
    }

    #[test]
    fn invalid_settings_name_the_key() {
        let error = Config::load(None, env(&[("GANCHO_DELIVERY__TIMEOUT_SECS", "soon")])).unwrap_err();
        assert!(
            error.contains("GANCHO_DELIVERY__TIMEOUT_SECS") && error.contains("delivery.timeout_secs"),
            "{error}"
        );
        let error = Config::load(None, env(&[("GANCHO_LISTN", "x")])).unwrap_err();
        assert!(error.contains("GANCHO_LISTN") && error.contains("listn"), "{error}");
        let error = Config::load(None, env(&[("GANCHO_ALLOWED_DESTINATIONS", "10.0.0.0/33")])).unwrap_err();
        assert!(error.contains("allowed_destinations"), "{error}");
        let error = Config::load(None, env(&[("GANCHO_WORKERS__LEASE_SECS", "10")])).unwrap_err();
        assert!(error.contains("workers.lease_secs"), "{error}");
        let error =
            Config::load(None, env(&[("GANCHO_CONNECTIONS__OAUTH__HUBSPOT__CLIENT_ID", "app")])).unwrap_err();
        assert!(error.contains("connections.oauth.hubspot.client_secret"), "{error}");
        let hubspot = env(&[
            ("GANCHO_CONNECTIONS__OAUTH__HUBSPOT__CLIENT_ID", "app"),
            ("GANCHO_CONNECTIONS__OAUTH__HUBSPOT__CLIENT_SECRET", "secret"),
        ]);
        assert_eq!(Config::load(None, hubspot).unwrap().connections.oauth["hubspot"].client_id, "app");
        let error = Config::load(None, env(&[("GANCHO_CONSOLE__PUBLIC_URL", "hooks.example")])).unwrap_err();
        assert!(error.contains("console.public_url"), "{error}");
    }

    #[test]
    fn plugin_threads_are_sized_from_the_cores() {
        let resolved = PluginsConfig::default().resolve(2, 256);
        assert_eq!(
            (
                resolved.threads,
                resolved.threads_per_tenant,
                resolved.slow_lane_threads,
                resolved.max_instances
            ),
            (4, 2, 1, 5)
        );
        assert_eq!((resolved.max_in_flight, resolved.max_in_flight_per_tenant), (512, 384));
        let resolved = PluginsConfig::default().resolve(16, 256);
        assert_eq!((resolved.threads, resolved.slow_lane_threads), (32, 8));
        let set = PluginsConfig { threads: 3, slow_lane_threads: 2, ..PluginsConfig::default() };
        assert_eq!(set.resolve(64, 256).slow_lane_threads, 2, "what is set stays");

        let error = Config::load(
            None,
            env(&[
                ("GANCHO_PLUGINS__THREADS", "4"),
                ("GANCHO_PLUGINS__SLOW_LANE_THREADS", "2"),
                ("GANCHO_PLUGINS__MAX_INSTANCES", "5"),
            ]),
        )
        .unwrap_err();
        assert!(error.contains("plugins.max_instances"), "{error}");
    }

    #[test]
    fn weak_operator_tokens_are_refused() {
        let with = |token: &str| Config { operator_token: token.to_owned(), ..Config::default() };
        for weak in ["op", "12345", "operator-token-for-tests", &"a".repeat(64), &"12".repeat(20)] {
            let error = with(weak).check_secrets().unwrap_err();
            assert!(error.contains("operator_token") && error.contains("openssl rand -hex 32"), "{error}");
        }
        with(&crate::ids::random_token()).check_secrets().unwrap();
        let weak_secret = Config {
            console: ConsoleConfig { signing_secret: "secret".into(), ..ConsoleConfig::default() },
            ..with(&crate::ids::random_token())
        };
        assert!(weak_secret.check_secrets().unwrap_err().contains("console.signing_secret"));
    }

    #[test]
    fn a_config_file_error_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gancho.toml");
        std::fs::write(&file, "[delivery]\nmax_in_flight = -3\n").unwrap();
        let error = Config::load(Some(&file), vec![]).unwrap_err();
        assert!(error.contains("gancho.toml") && error.contains("delivery.max_in_flight"), "{error}");
    }
}
