//! Plugins: the operator's shared catalog (`/v1/plugins`) and each tenant's own plugins
//! (`/v1/tenants/{tenant}/plugins`, named `<tenant>/<name>` in subscriptions). Versions are immutable
//! and numbered; a version is validated (imports first, before any compile) and precompiled before it is
//! accepted, and a tenant's uploads are held to its quotas.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde::Serialize;

use super::{ApiError, ApiResult, AppState, Caller, now_millis, rfc3339};
use crate::plugins::PluginRef;
use crate::runtime::Plugin;
use crate::store::{NewPluginVersion, PluginQuota, PluginScope, PluginVersion, StoreError};
use crate::tenancy::{own_plugin_name, plugin_owner};

/// Largest shared plugin the operator may upload (a Python component is about 18 MB). A tenant's own
/// are held to its `quotas.max_plugin_bytes`.
const MAX_SHARED_PLUGIN_BYTES: u64 = 128 << 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/plugins", get(list_plugins))
        .route("/v1/plugins/{name}/versions", post(upload_shared).get(list_shared_versions))
        .route("/v1/tenants/{tenant}/plugins", get(list_own))
        .route("/v1/tenants/{tenant}/plugins/{name}/versions", post(upload_own).get(list_own_versions))
        .route("/v1/tenants/{tenant}/plugins/{name}/versions/{version}", delete(delete_own_version))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PluginVersionView {
    /// What a subscription names: `slack` for a shared plugin, `acme/crm` for tenant `acme`'s own.
    pub name: String,
    pub version: u32,
    /// The tenant that owns it; absent for a shared plugin.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    pub digest: String,
    pub size_bytes: u64,
    pub created_at: String,
}

impl From<PluginVersion> for PluginVersionView {
    fn from(v: PluginVersion) -> PluginVersionView {
        PluginVersionView {
            tenant: plugin_owner(&v.name).map(str::to_owned),
            name: v.name,
            version: v.version,
            digest: v.digest,
            size_bytes: v.size_bytes,
            created_at: rfc3339(v.created_at),
        }
    }
}

fn views(versions: Vec<PluginVersion>) -> Json<Vec<PluginVersionView>> {
    Json(versions.into_iter().map(Into::into).collect())
}

/// The 413 for a plugin of `size` bytes (or more than `max_bytes`, when unknown) over `quota`.
pub(super) fn plugin_too_large(size: Option<u64>, max_bytes: u64, quota: &str) -> ApiError {
    let size = size.map_or_else(|| format!("more than {max_bytes}"), |size| size.to_string());
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "quota_exceeded",
        format!(
            "the plugin is {size} bytes; {quota} is {max_bytes} bytes. Build it smaller (the release \
             profile with `opt-level`, `lto`, `strip`) or ask the operator to raise {quota}"
        ),
    )
}

/// Reads a plugin's bytes, refusing (413) more than `max_bytes`, named as `quota`.
pub(super) async fn read_plugin_body(
    headers: &HeaderMap,
    body: Body,
    max_bytes: u64,
    quota: &str,
) -> ApiResult<axum::body::Bytes> {
    read_limited(headers, body, max_bytes, |size| plugin_too_large(size, max_bytes, quota)).await
}

/// A body declared this much over its limit is read and thrown away before it is refused, so that the
/// client, still sending it, gets the answer rather than a closed connection; a larger one is refused at
/// once.
const DRAIN_BEYOND_LIMIT: u64 = 8 << 20;

/// Reads a body of at most `max_bytes`: a larger declared `Content-Length` is refused without keeping any
/// of it, and a body that grows past it is refused when it does, with `too_large(declared size)`.
pub(super) async fn read_limited(
    headers: &HeaderMap,
    body: Body,
    max_bytes: u64,
    too_large: impl Fn(Option<u64>) -> ApiError,
) -> ApiResult<axum::body::Bytes> {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if let Some(size) = declared.filter(|size| *size > max_bytes) {
        if size <= max_bytes.saturating_add(DRAIN_BEYOND_LIMIT) {
            let mut body = body;
            while let Some(Ok(_)) = body.frame().await {}
        }
        return Err(too_large(declared));
    }
    let limited = http_body_util::Limited::new(body, max_bytes as usize);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(too_large(None)),
        Err(error) => Err(ApiError::bad_request(format!("failed to read the request body: {error}"))),
    }
}

/// Validates and precompiles a binary on a blocking thread: a 422 says why it is no plugin. Imports are
/// checked before anything is compiled, so a refusal is quick whatever the binary's size.
pub(super) async fn load_plugin(state: &AppState, name: &str, wasm: axum::body::Bytes) -> ApiResult<Plugin> {
    let runtime = state.runtime.clone();
    let loaded =
        tokio::task::spawn_blocking(move || runtime.load(&wasm)).await.map_err(ApiError::internal)?;
    loaded.map_err(|error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_plugin",
            format!("plugin `{name}` refused: {error}"),
        )
    })
}

/// Subscriptions named in an upload's answer, at most.
const MAX_FOLLOWING_SHOWN: usize = 100;

/// What an upload did: the version (new, or the latest already holding these bytes), and the
/// subscriptions that run it from now on.
#[derive(Serialize, utoipa::ToSchema)]
pub struct UploadedVersion {
    #[serde(flatten)]
    pub version: PluginVersionView,
    /// These bytes were the latest version already: nothing new was stored (answered 200, not 201).
    pub existing: bool,
    /// The subscriptions that follow the plugin's latest version (they name it without `@version`): they
    /// run this version at once, for every event from now on. The first 100, oldest first. To roll a
    /// version out gradually, pin subscriptions (`name@N`) and start a canary.
    pub subscriptions_following: Vec<FollowingSubscription>,
    /// How many subscriptions follow it in all.
    pub subscriptions_following_count: usize,
}

/// A subscription that runs a plugin's latest version.
#[derive(Serialize, utoipa::ToSchema)]
pub struct FollowingSubscription {
    pub id: String,
    pub tenant: String,
    /// Its name, if it was given one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub event_types: Vec<String>,
}

/// Stores a validated version and puts it in this instance's cache; answers 201 with a new version, 200
/// with the latest one when it has the same bytes.
async fn store_version(
    state: &AppState,
    name: &str,
    wasm: &[u8],
    plugin: Plugin,
    quota: Option<PluginQuota<'_>>,
) -> ApiResult<(StatusCode, Json<UploadedVersion>)> {
    let digest = plugin.info().digest.clone();
    let now = now_millis();
    let new = NewPluginVersion { name, digest: &digest, wasm, created_at: now, quota };
    let version = state.store.add_plugin_version(&new).await.map_err(|error| match error {
        StoreError::QuotaExceeded { quota, limit, used } => quota_exceeded(name, quota, limit, used),
        other => other.into(),
    })?;
    // The store answers the latest version instead of adding one when it holds the same bytes: one made
    // before this upload.
    let existing = version.created_at != now;
    state.plugins.insert(&version, plugin);
    let following = state.store.subscriptions_following(name).await?;
    let uploaded = UploadedVersion {
        version: version.into(),
        existing,
        subscriptions_following_count: following.len(),
        subscriptions_following: following
            .into_iter()
            .take(MAX_FOLLOWING_SHOWN)
            .map(|s| FollowingSubscription {
                id: s.id,
                tenant: s.tenant_id,
                name: s.name,
                event_types: s.event_types,
            })
            .collect(),
    };
    let status = if existing { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(uploaded)))
}

/// Whether a new version of the tenant's plugin `name` fits its quotas, as the store will judge it: the
/// latest version uploaded again is no new version and always fits.
async fn check_room(state: &AppState, name: &str, wasm: &[u8], quota: &PluginQuota<'_>) -> ApiResult<()> {
    use sha2::Digest;
    let versions = state.store.list_plugin_versions(name).await?;
    let digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(wasm)));
    if versions.iter().max_by_key(|v| v.version).is_some_and(|latest| latest.digest == digest) {
        return Ok(());
    }
    let count = versions.len() as u64;
    if count >= quota.max_versions_per_plugin {
        return Err(quota_exceeded(name, "max_versions_per_plugin", quota.max_versions_per_plugin, count));
    }
    let used = state.store.tenant_plugin_usage(quota.tenant_id).await?.bytes;
    if used + wasm.len() as u64 > quota.max_total_bytes {
        return Err(quota_exceeded(name, "max_plugin_bytes_total", quota.max_total_bytes, used));
    }
    Ok(())
}

fn quota_exceeded(name: &str, quota: &str, limit: u64, used: u64) -> ApiError {
    let message = match quota {
        "max_versions_per_plugin" => format!(
            "quota {quota} reached: plugin `{name}` has {used} versions and may keep {limit}; delete an unused \
             old version (DELETE …/plugins/<name>/versions/<version>) or ask the operator to raise it"
        ),
        _ => format!(
            "quota {quota} reached: your plugins use {used} bytes and this version would go past {limit}; \
             delete unused old versions or ask the operator to raise it"
        ),
    };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "quota_exceeded", message)
}

/// Upload a new version of a shared plugin (operator); the body is the `.wasm` component.
#[utoipa::path(post, path = "/v1/plugins/{name}/versions", tag = "plugins",
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 201, description = "A new version; `subscriptions_following` run it at once", body = UploadedVersion),
        (status = 200, description = "These bytes are the latest version already (`existing`: true); nothing new stored", body = UploadedVersion),
        (status = 403, description = "Not the operator", body = super::error::ErrorBody),
        (status = 413, description = "Larger than 128 MiB", body = super::error::ErrorBody),
        (status = 422, description = "Not a valid plugin (the message says why: an import the host does not provide, no `transform` export, …) or a bad name", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload_shared(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<UploadedVersion>)> {
    caller.require_operator()?;
    super::check_name("plugin", &name)?;
    let wasm =
        read_plugin_body(&headers, body, MAX_SHARED_PLUGIN_BYTES, "the shared plugin size limit").await?;
    let plugin = load_plugin(&state, &name, wasm.clone()).await?;
    store_version(&state, &name, &wasm, plugin, None).await
}

/// Upload a new version of one of the tenant's own plugins (the tenant's key, or the operator). Subscriptions
/// name it `<tenant>/<name>`. Held to the tenant's quotas.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/plugins/{name}/versions", tag = "plugins",
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 201, description = "A new version; `subscriptions_following` run it at once", body = UploadedVersion),
        (status = 200, description = "These bytes are the latest version already (`existing`: true); nothing new stored", body = UploadedVersion),
        (status = 404, description = "No such tenant (or not yours)", body = super::error::ErrorBody),
        (status = 413, description = "Over the tenant's quotas.max_plugin_bytes", body = super::error::ErrorBody),
        (status = 422, description = "Not a valid plugin, a bad name, or over quotas.max_versions_per_plugin or quotas.max_plugin_bytes_total (code `quota_exceeded`)", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload_own(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<UploadedVersion>)> {
    caller.require_tenant(&tenant)?;
    super::check_name("plugin", &name)?;
    if state.store.get_tenant(&tenant).await?.is_none() {
        return Err(ApiError::not_found(format!("tenant {tenant}")));
    }
    let policy = state.policies.get(&tenant).await;
    let quotas = policy.quotas;
    let wasm = read_plugin_body(&headers, body, quotas.max_plugin_bytes, "quotas.max_plugin_bytes").await?;
    let full_name = own_plugin_name(&tenant, &name);
    let quota = PluginQuota {
        tenant_id: &tenant,
        max_versions_per_plugin: quotas.max_versions_per_plugin,
        max_total_bytes: quotas.max_plugin_bytes_total,
    };
    // Refused before it is compiled (seconds of CPU) when it could not be kept; the store checks again.
    check_room(&state, &full_name, &wasm, &quota).await?;
    let plugin = load_plugin(&state, &full_name, wasm.clone()).await?;
    store_version(&state, &full_name, &wasm, plugin, Some(quota)).await
}

/// The latest version of every plugin the caller may use: the shared catalog and, for a tenant, its own;
/// for the operator, every tenant's too.
#[utoipa::path(get, path = "/v1/plugins", tag = "plugins",
    responses((status = 200, body = Vec<PluginVersionView>), (status = 403, description = "The ingest token", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_plugins(
    State(state): State<AppState>,
    caller: Caller,
) -> ApiResult<Json<Vec<PluginVersionView>>> {
    let mut plugins = match &caller {
        Caller::Operator => state.store.list_plugins(PluginScope::All).await?,
        Caller::Tenant(tenant) => {
            let mut plugins = state.store.list_plugins(PluginScope::Shared).await?;
            plugins.extend(state.store.list_plugins(PluginScope::Tenant(tenant)).await?);
            plugins
        }
        Caller::Ingest => return Err(ApiError::forbidden("the ingest token may only post events")),
    };
    plugins.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(views(plugins))
}

/// Every version of a shared plugin.
#[utoipa::path(get, path = "/v1/plugins/{name}/versions", tag = "plugins",
    responses((status = 200, body = Vec<PluginVersionView>), (status = 403, description = "The ingest token", body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_shared_versions(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<PluginVersionView>>> {
    if caller == Caller::Ingest {
        return Err(ApiError::forbidden("the ingest token may only post events"));
    }
    // A tenant's plugin is listed under its tenant only (`%2F` would otherwise reach it here).
    if plugin_owner(&name).is_some() {
        return Err(ApiError::not_found(format!("plugin {name}")));
    }
    versions_of(&state, &name).await
}

async fn versions_of(state: &AppState, name: &str) -> ApiResult<Json<Vec<PluginVersionView>>> {
    let versions = state.store.list_plugin_versions(name).await?;
    if versions.is_empty() {
        return Err(ApiError::not_found(format!("plugin {name}")));
    }
    Ok(views(versions))
}

/// The latest version of each of the tenant's own plugins.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/plugins", tag = "plugins",
    responses((status = 200, body = Vec<PluginVersionView>), (status = 404, description = "No such tenant (or not yours)", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_own(
    State(state): State<AppState>,
    caller: Caller,
    Path(tenant): Path<String>,
) -> ApiResult<Json<Vec<PluginVersionView>>> {
    caller.require_tenant(&tenant)?;
    Ok(views(state.store.list_plugins(PluginScope::Tenant(&tenant)).await?))
}

/// Every version of one of the tenant's own plugins.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/plugins/{name}/versions", tag = "plugins",
    responses((status = 200, body = Vec<PluginVersionView>), (status = 404, description = "No such plugin of this tenant", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn list_own_versions(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, name)): Path<(String, String)>,
) -> ApiResult<Json<Vec<PluginVersionView>>> {
    caller.require_tenant(&tenant)?;
    super::check_name("plugin", &name)?;
    versions_of(&state, &own_plugin_name(&tenant, &name)).await
}

/// Delete an old version of one of the tenant's own plugins, to make room under its quotas. The latest
/// version cannot be deleted (its number is never given again), nor one a subscription pins.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/plugins/{name}/versions/{version}", tag = "plugins",
    responses((status = 204, description = "Deleted"),
        (status = 404, description = "No such version of this tenant's plugin", body = super::error::ErrorBody),
        (status = 409, description = "The latest version, or pinned by a subscription (named)", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn delete_own_version(
    State(state): State<AppState>,
    caller: Caller,
    Path((tenant, name, version)): Path<(String, String, String)>,
) -> ApiResult<StatusCode> {
    caller.require_tenant(&tenant)?;
    let version: u32 = version.parse().map_err(|_| {
        ApiError::field(StatusCode::BAD_REQUEST, "version", format!("version `{version}` must be a number"))
    })?;
    let full_name = own_plugin_name(&tenant, &name);
    let reference = PluginRef { name: full_name.clone(), version: Some(version) };
    let versions = state.store.list_plugin_versions(&full_name).await?;
    let latest = versions.iter().map(|v| v.version).max();
    if !versions.iter().any(|v| v.version == version) {
        return Err(ApiError::not_found(format!("plugin {reference}")));
    }
    let conflict = |message: String| ApiError::new(StatusCode::CONFLICT, "in_use", message);
    if latest == Some(version) {
        return Err(conflict(format!(
            "{reference} is the latest version of `{full_name}`; only older versions can be deleted"
        )));
    }
    let subscriptions = state.store.list_subscriptions(&tenant).await?;
    let runs = |s: &&crate::store::Subscription| {
        s.plugin_name == full_name
            && (s.plugin_version == Some(version) || s.canary.as_ref().is_some_and(|c| c.version == version))
    };
    if let Some(pinned) = subscriptions.iter().find(runs) {
        return Err(conflict(format!(
            "subscription {} runs {reference} (pinned, or as its canary); move it to another version first",
            pinned.id
        )));
    }
    if !state.store.delete_plugin_version(&full_name, version).await? {
        return Err(ApiError::not_found(format!("plugin {reference}")));
    }
    Ok(StatusCode::NO_CONTENT)
}
