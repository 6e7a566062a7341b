//! Plugins: uploading immutable, numbered versions (validated and precompiled before they are accepted)
//! and listing them.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;

use super::{ApiError, ApiResult, AppState, Caller, now_millis, rfc3339};
use crate::store::PluginVersion;

/// Largest plugin accepted (a Python component is about 18 MB).
const MAX_PLUGIN_BYTES: usize = 64 << 20;

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/plugins", get(list_plugins)).route(
        "/v1/plugins/{name}/versions",
        post(upload_version).get(list_versions).layer(DefaultBodyLimit::max(MAX_PLUGIN_BYTES)),
    )
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PluginVersionView {
    pub name: String,
    pub version: u32,
    pub digest: String,
    pub size_bytes: u64,
    pub created_at: String,
}

impl From<PluginVersion> for PluginVersionView {
    fn from(v: PluginVersion) -> PluginVersionView {
        PluginVersionView {
            name: v.name,
            version: v.version,
            digest: v.digest,
            size_bytes: v.size_bytes,
            created_at: rfc3339(v.created_at),
        }
    }
}

fn check_name(name: &str) -> ApiResult<()> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(ApiError::field(
            StatusCode::UNPROCESSABLE_ENTITY,
            "name",
            format!("plugin name `{name}` must be 1 to 64 lowercase letters, digits, `-` or `_`"),
        ))
    }
}

/// Upload a new version of a plugin (operator); the body is the `.wasm` component.
#[utoipa::path(post, path = "/v1/plugins/{name}/versions", tag = "plugins",
    request_body(content = Vec<u8>, content_type = "application/wasm"),
    responses((status = 201, body = PluginVersionView), (status = 422, description = "Not a valid plugin; the message says why", body = super::error::ErrorBody)),
    security(("bearer" = [])))]
pub async fn upload_version(
    State(state): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    wasm: Bytes,
) -> ApiResult<(StatusCode, Json<PluginVersionView>)> {
    caller.require_operator()?;
    check_name(&name)?;
    // Validate and precompile before accepting: a version that is stored can run.
    let runtime = state.runtime.clone();
    let bytes = wasm.clone();
    let loaded =
        tokio::task::spawn_blocking(move || runtime.load(&bytes)).await.map_err(ApiError::internal)?;
    let plugin = loaded.map_err(|error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_plugin",
            format!("plugin `{name}` refused: {error}"),
        )
    })?;
    let digest = plugin.info().digest.clone();
    let version = state.store.add_plugin_version(&name, &digest, &wasm, now_millis()).await?;
    state.plugins.insert(&version, plugin);
    Ok((StatusCode::CREATED, Json(version.into())))
}

/// The latest version of every plugin.
#[utoipa::path(get, path = "/v1/plugins", tag = "plugins", responses((status = 200, body = Vec<PluginVersionView>)), security(("bearer" = [])))]
pub async fn list_plugins(
    State(state): State<AppState>,
    _caller: Caller,
) -> ApiResult<Json<Vec<PluginVersionView>>> {
    Ok(Json(state.store.list_plugins().await?.into_iter().map(Into::into).collect()))
}

/// Every version of a plugin.
#[utoipa::path(get, path = "/v1/plugins/{name}/versions", tag = "plugins", responses((status = 200, body = Vec<PluginVersionView>), (status = 404, body = super::error::ErrorBody)), security(("bearer" = [])))]
pub async fn list_versions(
    State(state): State<AppState>,
    _caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<PluginVersionView>>> {
    let versions = state.store.list_plugin_versions(&name).await?;
    if versions.is_empty() {
        return Err(ApiError::not_found(format!("plugin {name}")));
    }
    Ok(Json(versions.into_iter().map(Into::into).collect()))
}
