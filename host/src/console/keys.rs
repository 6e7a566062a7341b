//! A tenant's API keys on the operator's side (`/console/operator/tenants/{tenant}/keys`): each one's
//! prefix, when it was made and last used, and revoking one after a confirmation; read through the API's
//! `GET …/keys`, revoked by the page's script through `DELETE …/keys/{id}` with the session's CSRF token.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use maud::html;
use serde_json::json;

use super::Ctx;
use super::layout::{Page, render, time};
use crate::api::{AppState, access};

pub fn router() -> Router<AppState> {
    Router::new().route("/console/operator/tenants/{tenant}/keys", get(keys_page))
}

/// The keys page of `tenant`.
pub fn path(tenant: &str) -> String {
    let tenant: String = url::form_urlencoded::byte_serialize(tenant.as_bytes()).collect();
    format!("/console/operator/tenants/{tenant}/keys")
}

async fn keys_page(ctx: Ctx, Path(tenant): Path<String>) -> Response {
    let result = async {
        ctx.caller().require_operator()?;
        let Json(keys) = access::list_keys(State(ctx.state.clone()), ctx.caller(), Path(tenant.clone())).await?;
        let t = |key| ctx.lang.t(key);
        let body = html! {
            p { a href="/console/operator/tenants" { "← " (t("op.tenants")) } }
            p.form-error #keys-error role="alert" {}
            p.status #keys-status role="status" {}
            @if keys.is_empty() {
                p.empty { (t("common.none")) }
            } @else {
                table.list #keys {
                    thead { tr {
                        th { (t("keys.prefix")) } th { (t("common.created")) } th { (t("keys.last_used")) } th {}
                    } }
                    tbody {
                        @for key in &keys {
                            tr data-key=(key.id) {
                                td { code { (key.prefix.as_deref().unwrap_or(&key.id)) "…" } }
                                td { (time(&key.created_at)) }
                                td { @if let Some(at) = &key.last_used_at { (time(at)) } @else { (t("keys.never")) } }
                                td.actions {
                                    button.link.danger type="button" data-revoke-key=(key.id) { (t("keys.revoke")) }
                                }
                            }
                        }
                    }
                }
            }
        };
        Ok(Page {
            title: format!("{} {tenant}", t("keys.title")),
            current: "tenants",
            body,
            data: json!({"page": "keys", "key_tenant": tenant}),
        })
    }
    .await;
    match result {
        Ok(page) => render(&ctx, None, &path(&tenant), page),
        Err(error) => ctx.error(error),
    }
}
