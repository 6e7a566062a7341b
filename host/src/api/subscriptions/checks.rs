//! The checks a subscription's fields pass on create and change: each refusal is a 422 (or a 404 for what
//! does not exist) naming the field and what to do.

use std::collections::BTreeMap;

use axum::http::StatusCode;

use super::super::{ApiError, ApiResult, AppState};
use crate::pipeline::valid_event_type_pattern;
use crate::plugins::PluginRef;

pub(super) fn invalid(field: &str, message: String) -> ApiError {
    ApiError::field(StatusCode::UNPROCESSABLE_ENTITY, field, message)
}

/// Checks that each named connection is one of the tenant's.
pub(super) async fn check_connections(
    state: &AppState,
    tenant: &str,
    names: &[String],
) -> ApiResult<Vec<String>> {
    for name in names {
        if state.store.get_connection(tenant, name).await?.is_none() {
            return Err(ApiError::field(
                StatusCode::NOT_FOUND,
                "connections",
                format!(
                    "connection `{name}` not found; create it with POST /v1/tenants/{tenant}/connections"
                ),
            ));
        }
    }
    Ok(names.to_vec())
}

pub(super) fn check_allowed_hosts(hosts: Option<Vec<String>>) -> ApiResult<Option<Vec<String>>> {
    let Some(hosts) = hosts else { return Ok(None) };
    hosts
        .into_iter()
        .map(|host| {
            crate::connections::hosts::normalize(&host).map_err(|message| invalid("allowed_hosts", message))
        })
        .collect::<ApiResult<Vec<_>>>()
        .map(Some)
}

pub(super) fn check_event_types(patterns: &[String]) -> ApiResult<()> {
    if patterns.is_empty() {
        return Err(invalid(
            "event_types",
            "`event_types` needs at least one pattern, such as `call.ended` or `*`".into(),
        ));
    }
    match patterns.iter().find(|p| !valid_event_type_pattern(p)) {
        Some(bad) => Err(invalid(
            "event_types",
            format!("`{bad}` is not an event type pattern: use `call.ended`, `chat.*` or `*`"),
        )),
        None => Ok(()),
    }
}

/// A name, if given, is 1 to 100 characters of text (no control characters).
pub(super) fn check_name(name: Option<String>) -> ApiResult<Option<String>> {
    let Some(name) = name.map(|name| name.trim().to_owned()) else { return Ok(None) };
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(invalid("name", "`name` must be 1 to 100 characters of text".into()));
    }
    Ok(Some(name))
}

pub(super) fn check_notify(
    notify: Option<crate::notifications::Notify>,
) -> ApiResult<Option<crate::notifications::Notify>> {
    match notify {
        None => Ok(None),
        Some(notify) => notify.check().map_err(|(field, message)| invalid(field, message)),
    }
}

pub(super) fn check_endpoint(url: &str) -> ApiResult<()> {
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => Ok(()),
        _ => Err(invalid("endpoint_url", format!("`{url}` is not an absolute http(s) URL"))),
    }
}

/// A limit, if set, must be within `range`.
pub(super) fn check_limit(
    field: &str,
    value: Option<u32>,
    range: std::ops::RangeInclusive<u32>,
) -> ApiResult<Option<u32>> {
    match value {
        Some(number) if !range.contains(&number) => Err(invalid(
            field,
            format!(
                "`{field}` must be from {} to {} (or absent for none), not {number}",
                range.start(),
                range.end()
            ),
        )),
        _ => Ok(value),
    }
}

pub(super) const MAX_IN_FLIGHT: std::ops::RangeInclusive<u32> = 1..=10_000;
pub(super) const RATE_LIMIT: std::ops::RangeInclusive<u32> = 1..=100_000;

pub(super) fn check_config(config: Option<serde_json::Value>) -> ApiResult<String> {
    match config {
        None => Ok("{}".to_owned()),
        Some(value @ serde_json::Value::Object(_)) => Ok(value.to_string()),
        Some(_) => Err(invalid("config", "`config` must be a JSON object".into())),
    }
}

pub(super) fn check_headers(headers: &BTreeMap<String, String>) -> ApiResult<Vec<(String, String)>> {
    for (name, value) in headers {
        if http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || http::HeaderValue::from_str(value).is_err()
        {
            return Err(invalid("headers", format!("header `{name}` is not a valid HTTP header")));
        }
    }
    Ok(headers.iter().map(|(n, v)| (n.clone(), v.clone())).collect())
}

/// Parses `plugin` and checks that the named version (or any version) exists and that `tenant` may use
/// it: a shared plugin, or one of its own. Another tenant's plugin is answered exactly as one that does
/// not exist.
pub(super) async fn check_plugin(state: &AppState, tenant: &str, text: &str) -> ApiResult<PluginRef> {
    let plugin: PluginRef = text.parse().map_err(|message| invalid("plugin", message))?;
    let owner = crate::tenancy::plugin_owner(&plugin.name);
    let versions = if crate::tenancy::may_use(tenant, &plugin.name) {
        state.store.list_plugin_versions(&plugin.name).await?
    } else {
        Vec::new()
    };
    let exists = match plugin.version {
        Some(version) => versions.iter().any(|v| v.version == version),
        None => !versions.is_empty(),
    };
    if !exists {
        let upload = match owner {
            Some(_) => format!(
                "upload it with POST /v1/tenants/{tenant}/plugins/{}/versions",
                plugin.name.split_once('/').map_or(plugin.name.as_str(), |(_, name)| name)
            ),
            None => format!(
                "name one of GET /v1/plugins, or your own as `{tenant}/<name>`; the operator uploads shared \
                 plugins with POST /v1/plugins/{}/versions",
                plugin.name
            ),
        };
        return Err(ApiError::field(
            StatusCode::NOT_FOUND,
            "plugin",
            format!("plugin `{plugin}` does not exist; {upload}"),
        ));
    }
    Ok(plugin)
}
