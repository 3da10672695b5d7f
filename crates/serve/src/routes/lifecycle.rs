//! Changing what a stage serves over HTTP: deploy, rollback, promote, approve, reject. Each is
//! the SQL function of the same name run with the caller's role, so the stage's gates, the
//! approvals and the role's privileges apply exactly as in SQL.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use serde::{Deserialize, Serialize};
use tokio_postgres::types::Type;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct DeployRequest {
    /// `best_score` (default), `most_recent` or `rollback`; ignored when `model_id` is given.
    #[serde(default)]
    pub strategy: Option<String>,
    /// Deploy this model (strategy `specific`).
    #[serde(default)]
    pub model_id: Option<i64>,
    /// Only among this algorithm's models.
    #[serde(default)]
    pub algorithm: Option<String>,
    /// Default `production`.
    #[serde(default)]
    pub stage: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RollbackRequest {
    /// Default `production`.
    #[serde(default)]
    pub stage: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeployResponse {
    pub project: String,
    pub stage: String,
    pub strategy: String,
    /// The model the stage serves now.
    pub model_id: i64,
    pub algorithm: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PromoteRequest {
    /// Promote the model this stage serves (default `staging`) …
    #[serde(default)]
    pub from_stage: Option<String>,
    /// … or this model.
    #[serde(default)]
    pub model_id: Option<i64>,
    /// Default `production`.
    #[serde(default)]
    pub to_stage: Option<String>,
    /// Override the gates (members of pgml_admin only).
    #[serde(default)]
    pub force: bool,
    #[serde(default)]
    pub allow_schema_change: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PromoteResponse {
    pub project: String,
    pub model_id: i64,
    pub stage: String,
    /// `promoted`, or `pending` when the stage needs approvals.
    pub status: String,
    pub request_id: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ReviewRequest {
    #[serde(default)]
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewResponse {
    pub request_id: i64,
    /// `pending`, `promoted` or `rejected`.
    pub status: String,
    pub approvals: i32,
    pub approvals_required: i32,
    pub model_id: i64,
    pub stage: String,
}

/// Runs a `pgml.deploy` statement, then reads what the stage serves now (a statement's own
/// snapshot would not see the deployment its function just made).
async fn deployed(
    state: &AppState,
    role: &str,
    sql: &str,
    params: &[crate::db::Param<'_>],
    project: &str,
    stage: &str,
) -> ApiResult<DeployResponse> {
    let rows = state.db.query(role, sql, params).await?;
    let r = rows.first().ok_or_else(|| ApiError::internal("deploy returned no row"))?;
    let (strategy, algorithm): (String, String) = (r.get(1), r.get(2));
    let rows = state
        .db
        .query(
            role,
            "SELECT s.model_id FROM pgml.stage_deployments s JOIN pgml.projects p ON p.id = s.project_id
             WHERE p.name = $1 AND s.stage = $2",
            &[(&project, Type::TEXT), (&stage, Type::TEXT)],
        )
        .await?;
    let model_id =
        rows.first().map(|r| r.get(0)).ok_or_else(|| ApiError::internal("no deployment after deploy"))?;
    Ok(DeployResponse {
        project: project.to_string(),
        stage: stage.to_string(),
        strategy,
        model_id,
        algorithm,
    })
}

/// Deploys a model to a stage by strategy or by id, through the stage's gates.
#[utoipa::path(post, path = "/v1/projects/{project}/deploy", tag = "lifecycle",
    params(("project" = String, Path, description = "The project name")),
    request_body = DeployRequest,
    responses((status = 200, description = "What the stage serves now", body = DeployResponse)),
    security(("bearer" = [])))]
pub async fn deploy(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<DeployRequest>, JsonRejection>,
) -> ApiResult<Json<DeployResponse>> {
    let Path(project) = path?;
    let Json(req) = body?;
    let stage = req.stage.unwrap_or_else(|| "production".to_string());
    let response = match req.model_id {
        Some(id) => {
            let sql = "SELECT * FROM pgml.deploy($1::text, $2::bigint, $3::text)";
            deployed(
                &state,
                &caller.role,
                sql,
                &[(&project, Type::TEXT), (&id, Type::INT8), (&stage, Type::TEXT)],
                &project,
                &stage,
            )
            .await?
        }
        None => {
            let strategy = req.strategy.unwrap_or_else(|| "best_score".to_string());
            let sql = "SELECT * FROM pgml.deploy($1::text, $2::text, $3::text, $4::text)";
            let params = [
                (&project as _, Type::TEXT),
                (&strategy as _, Type::TEXT),
                (&req.algorithm as _, Type::TEXT),
                (&stage as _, Type::TEXT),
            ];
            deployed(&state, &caller.role, sql, &params, &project, &stage).await?
        }
    };
    Ok(Json(response))
}

/// Rolls a stage back to the model it served before.
#[utoipa::path(post, path = "/v1/projects/{project}/rollback", tag = "lifecycle",
    params(("project" = String, Path, description = "The project name")),
    request_body = RollbackRequest,
    responses((status = 200, description = "What the stage serves now", body = DeployResponse)),
    security(("bearer" = [])))]
pub async fn rollback(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<RollbackRequest>, JsonRejection>,
) -> ApiResult<Json<DeployResponse>> {
    let Path(project) = path?;
    let Json(req) = body?;
    let stage = req.stage.unwrap_or_else(|| "production".to_string());
    let sql = "SELECT * FROM pgml.deploy($1::text, 'rollback', NULL, $2::text)";
    Ok(Json(
        deployed(
            &state,
            &caller.role,
            sql,
            &[(&project, Type::TEXT), (&stage, Type::TEXT)],
            &project,
            &stage,
        )
        .await?,
    ))
}

/// Promotes a model to a stage through its gates; a stage that needs approvals opens a request.
#[utoipa::path(post, path = "/v1/projects/{project}/promote", tag = "lifecycle",
    params(("project" = String, Path, description = "The project name")),
    request_body = PromoteRequest,
    responses((status = 200, description = "Promoted, or pending approvals", body = PromoteResponse)),
    security(("bearer" = [])))]
pub async fn promote(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<PromoteRequest>, JsonRejection>,
) -> ApiResult<Json<PromoteResponse>> {
    let Path(project) = path?;
    let Json(req) = body?;
    let to = req.to_stage.unwrap_or_else(|| "production".to_string());
    let from = req.from_stage.unwrap_or_else(|| "staging".to_string());
    // pgml.promote(project, model_id, …) or pgml.promote(project, from_stage, …)
    let (sql, what): (_, crate::db::Param) = match &req.model_id {
        Some(id) => ("SELECT * FROM pgml.promote($1::text, $2::bigint, $3::text, $4, $5)", (id, Type::INT8)),
        None => ("SELECT * FROM pgml.promote($1::text, $2::text, $3::text, $4, $5)", (&from, Type::TEXT)),
    };
    let params = [
        (&project as _, Type::TEXT),
        what,
        (&to as _, Type::TEXT),
        (&req.force as _, Type::BOOL),
        (&req.allow_schema_change as _, Type::BOOL),
    ];
    let rows = state.db.query(&caller.role, sql, &params).await?;
    let r = rows.first().ok_or_else(|| ApiError::internal("promote returned no row"))?;
    Ok(Json(PromoteResponse {
        project: r.get(0),
        model_id: r.get(1),
        stage: r.get(2),
        status: r.get(3),
        request_id: r.get(4),
    }))
}

async fn review(
    state: &AppState,
    role: &str,
    decision: &str,
    id: i64,
    req: ReviewRequest,
) -> ApiResult<Json<ReviewResponse>> {
    let sql = format!("SELECT * FROM pgml.{decision}($1, $2)");
    let rows = state.db.query(role, &sql, &[(&id, Type::INT8), (&req.comment, Type::TEXT)]).await?;
    let r = rows.first().ok_or_else(|| ApiError::internal("review returned no row"))?;
    Ok(Json(ReviewResponse {
        request_id: r.get(0),
        status: r.get(1),
        approvals: r.get(2),
        approvals_required: r.get(3),
        model_id: r.get(4),
        stage: r.get(5),
    }))
}

/// Approves a pending promotion; the last required approval promotes the model.
#[utoipa::path(post, path = "/v1/promotion_requests/{id}/approve", tag = "lifecycle",
    params(("id" = i64, Path, description = "The promotion request id")),
    request_body = ReviewRequest,
    responses((status = 200, description = "The request after the review", body = ReviewResponse)),
    security(("bearer" = [])))]
pub async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<ReviewRequest>, JsonRejection>,
) -> ApiResult<Json<ReviewResponse>> {
    let Path(id) = path?;
    let Json(req) = body?;
    review(&state, &caller.role, "approve", id, req).await
}

/// Rejects a pending promotion, which closes it.
#[utoipa::path(post, path = "/v1/promotion_requests/{id}/reject", tag = "lifecycle",
    params(("id" = i64, Path, description = "The promotion request id")),
    request_body = ReviewRequest,
    responses((status = 200, description = "The request after the review", body = ReviewResponse)),
    security(("bearer" = [])))]
pub async fn reject(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
    body: Result<Json<ReviewRequest>, JsonRejection>,
) -> ApiResult<Json<ReviewResponse>> {
    let Path(id) = path?;
    let Json(req) = body?;
    review(&state, &caller.role, "reject", id, req).await
}
