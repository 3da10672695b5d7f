//! `POST /rpc/{function}` (a JSON object of named arguments) and `GET /rpc/{function}?arg=…`
//! (STABLE and IMMUTABLE functions), PostgREST's shapes: a bare value for a scalar function,
//! an object for a composite, an array of values or of row objects for a set-returning or
//! table function. Each call runs as the token's role.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, Query, State};
use axum::Json;
use std::collections::HashMap;
use tokio_postgres::types::Type;

pub async fn post(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<serde_json::Value>, JsonRejection>,
) -> ApiResult<Json<serde_json::Value>> {
    let Path(name) = path?;
    let Json(body) = body?;
    let serde_json::Value::Object(args) = body else {
        return Err(ApiError::bad_request("the body must be a JSON object of named arguments"));
    };
    call(&state, &caller, &name, args, false).await
}

pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    query: Query<HashMap<String, String>>,
) -> ApiResult<Json<serde_json::Value>> {
    let Path(name) = path?;
    let args = query.0.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
    call(&state, &caller, &name, args, true).await
}

async fn call(
    state: &AppState,
    caller: &Caller,
    name: &str,
    args: serde_json::Map<String, serde_json::Value>,
    by_get: bool,
) -> ApiResult<Json<serde_json::Value>> {
    let keys: Vec<&str> = args.keys().map(String::as_str).collect();
    let function = state.rpc.resolve(name, &keys)?;
    if by_get && !function.read_only {
        return Err(ApiError::new(
            axum::http::StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!("function \"{name}\" is VOLATILE: call it with POST"),
        ));
    }
    let sql = function.statement(&keys);
    let body = serde_json::Value::Object(args).to_string();
    let params = [(&body as &(dyn tokio_postgres::types::ToSql + Sync), Type::TEXT)];
    // A read-only call may go to a replica; anything else runs on the primary.
    let rows = if function.read_only {
        state.db.read(&caller.role, &sql, &params).await?
    } else {
        state.db.query(&caller.role, &sql, &params).await?
    };
    let text: Option<String> = rows.first().and_then(|r| r.get(0));
    let value = match text {
        Some(t) => serde_json::from_str(&t).map_err(ApiError::internal)?,
        None => serde_json::Value::Null,
    };
    Ok(Json(value))
}
