//! Read-only views of the registry: projects, what each stage serves, models, deployments.
//! They read PostgreSQL's views with the caller's role, so a role that may not read the
//! registry gets 403.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;
use tokio_postgres::types::Type;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectSummary {
    pub name: String,
    pub task: String,
    /// The model production serves, if any.
    pub production_model_id: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StageView {
    pub stage: String,
    pub model_id: Option<i64>,
    pub algorithm: Option<String>,
    pub strategy: Option<String>,
    pub deployed_by: Option<String>,
    pub deployed_at: Option<String>,
    /// The serving model's test metrics.
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<serde_json::Value>,
    /// The serving model's feature columns (name, type, kind, size, categorical levels).
    #[schema(value_type = Option<Vec<Object>>)]
    pub schema: Option<serde_json::Value>,
    pub approvals_required: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectView {
    pub name: String,
    pub task: String,
    pub stages: Vec<StageView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelView {
    pub id: i64,
    pub algorithm: String,
    pub status: String,
    pub created_at: String,
    #[schema(value_type = Object)]
    pub hyperparams: serde_json::Value,
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeploymentView {
    pub id: i64,
    pub stage: String,
    pub model_id: i64,
    pub algorithm: String,
    pub strategy: Option<String>,
    pub deployed_by: String,
    pub replaced_model_id: Option<i64>,
    pub deployed_at: String,
    /// When the next deployment of the stage replaced it (null: serving now).
    pub served_until: Option<String>,
}

fn json(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

async fn check_project(state: &AppState, role: &str, project: &str) -> ApiResult<String> {
    let rows = state
        .db
        .query(role, "SELECT task::text FROM pgml.projects WHERE name = $1", &[(&project, Type::TEXT)])
        .await?;
    rows.first()
        .map(|r| r.get(0))
        .ok_or_else(|| ApiError::not_found(format!("project \"{project}\" does not exist")))
}

/// Every project, with the model production serves.
#[utoipa::path(get, path = "/v1/projects", tag = "registry",
    responses((status = 200, description = "The projects", body = Vec<ProjectSummary>)),
    security(("bearer" = [])))]
pub async fn projects(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ProjectSummary>>> {
    let rows = state
        .db
        .query(
            &caller.role,
            "SELECT p.name, p.task::text, d.model_id FROM pgml.projects p
             LEFT JOIN pgml.current_deployments d ON d.project_id = p.id ORDER BY p.name",
            &[],
        )
        .await?;
    Ok(Json(
        rows.iter()
            .map(|r| ProjectSummary { name: r.get(0), task: r.get(1), production_model_id: r.get(2) })
            .collect(),
    ))
}

/// A project: each stage with the model it serves, its metrics and feature schema.
#[utoipa::path(get, path = "/v1/projects/{project}", tag = "registry",
    params(("project" = String, Path, description = "The project name")),
    responses((status = 200, description = "The project and its stages", body = ProjectView)),
    security(("bearer" = [])))]
pub async fn project(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<ProjectView>> {
    let Path(name) = path?;
    let task = check_project(&state, &caller.role, &name).await?;
    let rows = state
        .db
        .query(
            &caller.role,
            "SELECT o.stage, o.model_id, o.algorithm, o.strategy::text, o.deployed_by::text,
                    to_char(o.deployed_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), m.metrics::text, s.columns::text, o.approvals
             FROM pgml.stages_overview o
             LEFT JOIN pgml.models m ON m.id = o.model_id
             LEFT JOIN pgml.snapshots s ON s.id = m.snapshot_id
             WHERE o.project = $1 ORDER BY o.stage",
            &[(&name, Type::TEXT)],
        )
        .await?;
    let stages = rows
        .iter()
        .map(|r| StageView {
            stage: r.get(0),
            model_id: r.get(1),
            algorithm: r.get(2),
            strategy: r.get(3),
            deployed_by: r.get(4),
            deployed_at: r.get(5),
            metrics: json(r.get(6)),
            schema: json(r.get(7)),
            approvals_required: r.get(8),
        })
        .collect();
    Ok(Json(ProjectView { name, task, stages }))
}

/// A project's models, newest first.
#[utoipa::path(get, path = "/v1/projects/{project}/models", tag = "registry",
    params(("project" = String, Path, description = "The project name")),
    responses((status = 200, description = "The project's models", body = Vec<ModelView>)),
    security(("bearer" = [])))]
pub async fn models(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Vec<ModelView>>> {
    let Path(name) = path?;
    check_project(&state, &caller.role, &name).await?;
    let rows = state
        .db
        .query(
            &caller.role,
            "SELECT m.id, m.algorithm, m.status, to_char(m.created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'),
                    m.hyperparams::text, m.metrics::text
             FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id
             WHERE p.name = $1 ORDER BY m.id DESC",
            &[(&name, Type::TEXT)],
        )
        .await?;
    Ok(Json(
        rows.iter()
            .map(|r| ModelView {
                id: r.get(0),
                algorithm: r.get(1),
                status: r.get(2),
                created_at: r.get(3),
                hyperparams: json(r.get(4)).unwrap_or_default(),
                metrics: json(r.get(5)),
            })
            .collect(),
    ))
}

/// A project's deployment history, every stage, oldest first.
#[utoipa::path(get, path = "/v1/projects/{project}/deployments", tag = "registry",
    params(("project" = String, Path, description = "The project name")),
    responses((status = 200, description = "The deployment history", body = Vec<DeploymentView>)),
    security(("bearer" = [])))]
pub async fn deployments(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> ApiResult<Json<Vec<DeploymentView>>> {
    let Path(name) = path?;
    check_project(&state, &caller.role, &name).await?;
    let rows = state
        .db
        .query(
            &caller.role,
            "SELECT id, stage, model_id, algorithm, strategy::text, deployed_by::text, replaced_model_id,
                    to_char(deployed_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), to_char(served_until, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')
             FROM pgml.deployment_history WHERE project = $1 ORDER BY deployed_at, id",
            &[(&name, Type::TEXT)],
        )
        .await?;
    Ok(Json(
        rows.iter()
            .map(|r| DeploymentView {
                id: r.get(0),
                stage: r.get(1),
                model_id: r.get(2),
                algorithm: r.get(3),
                strategy: r.get(4),
                deployed_by: r.get(5),
                replaced_model_id: r.get(6),
                deployed_at: r.get(7),
                served_until: r.get(8),
            })
            .collect(),
    ))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct ExportQuery {
    /// `bundle` (the default), `xgboost` (UBJ), `xgboost_json` or `lightgbm` (text).
    pub format: Option<String>,
}

/// A model as a file (`pgml.export` with the caller's role): a bundle another pgml-rs database
/// imports, or XGBoost's or LightGBM's own file. Read from a replica when there are replicas.
#[utoipa::path(get, path = "/v1/models/{id}/export", tag = "registry",
    params(("id" = i64, Path, description = "The model id"), ExportQuery),
    responses((status = 200, description = "The model file", content_type = "application/octet-stream", body = Vec<u8>),
              (status = 400, description = "A format the model cannot be written in"),
              (status = 404, description = "No such model")),
    security(("bearer" = [])))]
pub async fn export(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<i64>, PathRejection>,
    axum::extract::Query(query): axum::extract::Query<ExportQuery>,
) -> ApiResult<impl axum::response::IntoResponse> {
    let Path(id) = path?;
    let format = query.format.unwrap_or_else(|| "bundle".into());
    let rows = state
        .db
        .read(&caller.role, "SELECT pgml.export($1, $2)", &[(&id, Type::INT8), (&format, Type::TEXT)])
        .await?;
    let bytes: Vec<u8> = rows.first().map(|r| r.get(0)).unwrap_or_default();
    let (kind, extension) = match format.as_str() {
        "xgboost_json" | "json" => ("application/json", "json"),
        "lightgbm" | "lightgbm_text" | "txt" => ("text/plain; charset=utf-8", "txt"),
        "xgboost" | "xgboost_ubj" | "ubj" => ("application/ubjson", "ubj"),
        _ => ("application/octet-stream", "pgml"),
    };
    let disposition = format!("attachment; filename=\"model-{id}.{extension}\"");
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, kind.to_string()),
            (axum::http::header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    ))
}
