//! `POST /v1/projects/{project}/explain`: why the model a project's stage serves predicts what
//! it does for one instance (`pgml.explain` over HTTP). In process on the held model, as a
//! prediction is, when the database lets the role predict the project; otherwise through the
//! database with the caller's role (instances in the model's order only).

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::routes::predict::{in_process, Features};
use crate::AppState;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use pgml_core::explain::Method;
use serde::{Deserialize, Serialize};
use tokio_postgres::types::Type;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
pub struct ExplainRequest {
    /// One instance: an array in the model's feature order, or an object by feature name.
    pub features: Features,
    /// The largest attributions only (all when absent).
    #[serde(default)]
    pub top_k: Option<i32>,
    /// The stage whose model is explained (default `production`).
    #[serde(default)]
    pub stage: Option<String>,
    /// `exact` (TreeSHAP, the default) or `approximate` (one walk per tree).
    #[serde(default)]
    pub method: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Attribution {
    pub feature: String,
    pub value: f32,
    pub attribution: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ExplainResponse {
    pub project: String,
    pub stage: String,
    pub model_id: i64,
    /// What is explained: `value` (regression), or the class whose margin it is.
    pub output: String,
    /// The expected margin over the training data; baseline + Σ attributions = prediction.
    pub baseline: f64,
    /// The margin explained.
    pub prediction: f64,
    pub output_space: String,
    pub method: String,
    pub approximation_error: f64,
    /// Largest first.
    pub attributions: Vec<Attribution>,
}

/// Attributions of one instance's prediction to its features.
#[utoipa::path(post, path = "/v1/projects/{project}/explain", tag = "predict",
    params(("project" = String, Path, description = "The project name")),
    request_body = ExplainRequest,
    responses((status = 200, description = "The attributions", body = ExplainResponse),
              (status = 400, description = "A bad instance, method or top_k; a model that cannot be explained")),
    security(("bearer" = [])))]
pub async fn explain(
    State(state): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<ExplainRequest>, JsonRejection>,
) -> ApiResult<Json<ExplainResponse>> {
    let Path(project) = path?;
    let Json(req) = body?;
    let stage = req.stage.clone().unwrap_or_else(|| "production".into());
    let method = req.method.clone().unwrap_or_else(|| "exact".into());
    if let Some(k) = req.top_k.filter(|&k| k < 1) {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "22023",
            format!("top_k must be at least 1, got {k}"),
        ));
    }
    let (values, names) = match req.features {
        Features::Row(v) => (v, None),
        Features::Named(m) => {
            let (names, values): (Vec<String>, Vec<f32>) = m.into_iter().unzip();
            (values, Some(names))
        }
        _ => {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "22023",
                "explain takes one instance, not a batch",
            ))
        }
    };
    if let Some(held) = in_process(&state, &caller.role, &project, &stage).await? {
        let parsed = Method::parse(&method).map_err(ApiError::from)?;
        let answer = held.held.with(|model| -> Result<ExplainResponse, pgml_core::Error> {
            let row = match &names {
                Some(n) => model.header.order_named(n, &values)?,
                None => values.clone(),
            };
            let row = model.one_row(row)?;
            let e = model.explain(&row.data, parsed)?;
            let (output, label) = model.explained_output(&e);
            let names =
                pgml_core::data::schema::feature_names(&model.header.features, model.header.num_features);
            let a = e.attributions_of(output);
            let order = e.ranked(output, req.top_k.map(|k| k as usize));
            Ok(ExplainResponse {
                project: project.clone(),
                stage: stage.clone(),
                model_id: held.held.model_id,
                output: label,
                baseline: e.baseline[output],
                prediction: e.margin[output],
                output_space: e.output_space.into(),
                method: e.method.name().into(),
                approximation_error: e.approximation_error(output),
                attributions: order
                    .into_iter()
                    .map(|j| Attribution { feature: names[j].clone(), value: row.data[j], attribution: a[j] })
                    .collect(),
            })
        });
        return Ok(Json(answer.map_err(ApiError::from)?));
    }
    if names.is_some() {
        return Err(ApiError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "0A000",
            "features by name need the model held in process",
        )
        .hint("send the instance as an array in the model's feature order"));
    }
    let rows = state
        .db
        .read(
            &caller.role,
            "SELECT explained_model_id, output, feature, value, attribution, baseline, prediction, output_space,
                    explanation_method, approximation_error
             FROM pgml.explain($1, $2, $3, $4, $5)",
            &[
                (&project, Type::TEXT),
                (&values, Type::FLOAT4_ARRAY),
                (&req.top_k, Type::INT4),
                (&stage, Type::TEXT),
                (&method, Type::TEXT),
            ],
        )
        .await?;
    let first = rows.first().ok_or_else(|| ApiError::internal("pgml.explain returned no row"))?;
    Ok(Json(ExplainResponse {
        project,
        stage,
        model_id: first.get(0),
        output: first.get(1),
        baseline: first.get(5),
        prediction: first.get(6),
        output_space: first.get(7),
        method: first.get(8),
        approximation_error: first.get(9),
        attributions: rows
            .iter()
            .map(|r| Attribution { feature: r.get(2), value: r.get(3), attribution: r.get(4) })
            .collect(),
    }))
}
