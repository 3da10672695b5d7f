//! Unauthenticated operational endpoints: liveness, readiness, metrics, the OpenAPI document.

use crate::error::ApiResult;
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// `ok`
    pub status: String,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Up", body = Status)))]
pub async fn healthz() -> Json<Status> {
    Json(Status { status: "ok".into() })
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, description = "The database answers", body = Status)))]
pub async fn readyz(State(state): State<AppState>) -> ApiResult<Json<Status>> {
    state.db.query("", "SELECT 1", &[]).await?;
    Ok(Json(Status { status: "ok".into() }))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let mut text = state.metrics.render();
    state.models.render(&mut text);
    state.log.render(&mut text);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document, generated from the code", body = Object)))]
pub async fn openapi(State(state): State<AppState>) -> impl IntoResponse {
    Json(crate::app::openapi_document(crate::rpc::openapi_paths(&state.rpc.all())))
}
