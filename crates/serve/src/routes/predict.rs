//! `POST /v1/projects/{project}/predict` and `/predict_proba`: one instance or a batch, as
//! arrays in the model's feature order or as objects keyed by feature name.
//!
//! Two paths give the same answers, bit for bit (the same core crate's `LoadedModel::serve`
//! on the same bytes). In process, the default: the model the stage serves, held in memory and
//! reloaded when a deploy's notification arrives (`models`), answers when the database says the
//! caller's role may predict the project (`auth::PredictGrants`). Through the database
//! (`strict`, per request or `--strict`, and whenever the in-process path cannot vouch for its
//! answer or the database would refuse): `pgml._pgml_serve_predict`, which maps names to the
//! serving model's order and names the model that answered in one statement, and sees every
//! deploy committed before the request. Either way the model id comes with the predictions
//! from the same model, so a deploy between two requests never pairs one model's order with
//! another model. Every answer carries a request id per instance (the caller's, or a UUIDv7),
//! and is logged for the project's monitoring (`crate::log`).

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::models::{Held, Stage};
use crate::AppState;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::Json;
use pgml_core::rollout::{Arm, Phase};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio_postgres::types::Type;
use utoipa::ToSchema;

/// Features of one instance or of a batch.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Features {
    /// One instance, in the model's feature order.
    Row(Vec<f32>),
    /// A batch of instances, each in the model's feature order.
    Rows(Vec<Vec<f32>>),
    /// One instance by feature name (array elements as `name[1]`, `name[2]`, …).
    Named(BTreeMap<String, f32>),
    /// A batch of instances by feature name, each with the same names.
    NamedRows(Vec<BTreeMap<String, f32>>),
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PredictRequest {
    pub features: Features,
    /// The entity the prediction is about (one instance), for outcomes recorded later by key.
    #[serde(default)]
    pub key: Option<String>,
    /// One entity key per instance of a batch.
    #[serde(default)]
    pub keys: Option<Vec<String>>,
    /// The caller's id for the prediction (one instance; a UUID), instead of a new one; the
    /// `X-Request-Id` header does the same.
    #[serde(default)]
    pub request_id: Option<String>,
    /// One id per instance of a batch.
    #[serde(default)]
    pub request_ids: Option<Vec<String>>,
    /// The stage whose model answers (default `production`).
    #[serde(default)]
    pub stage: Option<String>,
    /// Answer through the database, which sees every deploy committed before this request
    /// (the in-process model follows a deploy within milliseconds of its commit).
    #[serde(default)]
    pub strict: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PredictResponse {
    pub project: String,
    pub stage: String,
    /// The model that answered (the baseline's, when a canary split a batch).
    pub model_id: i64,
    /// Per instance, the model that answered it: only when a keyed canary split the batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_ids: Option<Vec<i64>>,
    /// One prediction per instance (null where the model could not answer, e.g. NaN).
    pub predictions: Vec<Option<f32>>,
    /// The id each prediction is logged under (the first is also the `X-Request-Id` header).
    pub request_ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProbaResponse {
    pub project: String,
    pub stage: String,
    pub model_id: i64,
    /// Per instance, the model that answered it: only when a keyed canary split the batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_ids: Option<Vec<i64>>,
    /// Per instance, the class probabilities in ascending label order.
    pub probabilities: Vec<Vec<Option<f32>>>,
    /// The id each prediction is logged under (the first is also the `X-Request-Id` header).
    pub request_ids: Vec<String>,
}

/// The number of instances a request holds.
fn instances(features: &Features) -> usize {
    match features {
        Features::Row(_) | Features::Named(_) => 1,
        Features::Rows(rows) => rows.len(),
        Features::NamedRows(rows) => rows.len(),
    }
}

/// Per instance: the entity keys and the caller's request ids, when given.
type Tags = (Option<Vec<String>>, Option<Vec<[u8; 16]>>);

/// The request's keys and ids, one per instance, checked.
fn tags(req: &mut PredictRequest, n: usize, header: Option<&str>) -> ApiResult<Tags> {
    let one = |what: &str| {
        ApiError::bad_request(format!(
            "{what} is for a request of one instance, this one has {n}; pass {what}s"
        ))
    };
    let keys = match (req.key.take(), req.keys.take()) {
        (Some(_), Some(_)) => return Err(ApiError::bad_request("pass key or keys, not both")),
        (Some(k), None) if n == 1 => Some(vec![k]),
        (Some(_), None) => return Err(one("key")),
        (None, Some(k)) if k.len() == n => Some(k),
        (None, Some(k)) => {
            return Err(ApiError::bad_request(format!("keys has {} entries for {n} instance(s)", k.len())))
        }
        (None, None) => None,
    };
    if let Some(k) =
        keys.as_ref().and_then(|k| k.iter().find(|k| k.len() > pgml_core::monitoring::record::MAX_KEY_BYTES))
    {
        return Err(ApiError::bad_request(format!(
            "a key is {} bytes long, longer than the 1024 a logged prediction keeps",
            k.len()
        )));
    }
    let (body_id, ids) = (req.request_id.take(), req.request_ids.take());
    if body_id.is_some() && ids.is_some() {
        return Err(ApiError::bad_request("pass request_id or request_ids, not both"));
    }
    // a proxy's X-Request-Id names the request: it is the prediction's id only for one instance
    let single = body_id.or_else(|| header.filter(|_| n == 1).map(str::to_string));
    let given = match (single, ids) {
        (_, Some(ids)) if ids.len() == n => Some(ids),
        (_, Some(ids)) => {
            return Err(ApiError::bad_request(format!(
                "request_ids has {} entries for {n} instance(s)",
                ids.len()
            )))
        }
        (Some(id), None) if n == 1 => Some(vec![id]),
        (Some(_), None) => return Err(one("request_id")),
        (None, None) => None,
    };
    let ids = given
        .map(|ids| {
            ids.iter()
                .map(|id| {
                    pgml_core::monitoring::request_id::parse_uuid(id)
                        .ok_or_else(|| ApiError::bad_request(format!("request id \"{id}\" is not a UUID")))
                })
                .collect::<ApiResult<Vec<_>>>()
        })
        .transpose()?;
    Ok((keys, ids))
}

/// Flat values row after row, and the feature names when given by name.
fn flatten(features: Features) -> ApiResult<(Vec<f32>, Option<Vec<String>>)> {
    match features {
        Features::Row(row) => Ok((row, None)),
        Features::Rows(rows) => {
            let width = rows.first().map_or(0, Vec::len);
            if let Some((i, r)) = rows.iter().enumerate().find(|(_, r)| r.len() != width) {
                return Err(ApiError::bad_request(format!(
                    "instance {} has {} features, instance 1 has {width}",
                    i + 1,
                    r.len()
                )));
            }
            Ok((rows.into_iter().flatten().collect(), None))
        }
        Features::Named(row) => Ok((row.values().copied().collect(), Some(row.into_keys().collect()))),
        Features::NamedRows(rows) => {
            let names: Vec<String> = rows.first().map(|r| r.keys().cloned().collect()).unwrap_or_default();
            let mut values = Vec::with_capacity(rows.len() * names.len());
            for (i, row) in rows.iter().enumerate() {
                if !row.keys().eq(names.iter()) {
                    return Err(ApiError::bad_request(format!(
                        "instance {} names other features than instance 1",
                        i + 1
                    )));
                }
                values.extend(row.values().copied());
            }
            Ok((values, Some(names)))
        }
    }
}

/// What a request was answered with.
struct Served {
    stage: String,
    model_id: i64,
    /// Per instance, when a keyed canary split the batch between two models.
    model_ids: Option<Vec<i64>>,
    /// Values per instance (1, or the number of classes).
    width: usize,
    values: Vec<f32>,
    request_ids: Vec<[u8; 16]>,
}

/// An in-process answer: the model(s) that answered, the values, the class labels, and the
/// candidate to score a shadow with.
struct Answer {
    model_id: i64,
    model_ids: Option<Vec<i64>>,
    width: usize,
    values: Vec<f32>,
    classes: Vec<f32>,
    shadow: Option<(Arc<Held>, u64, f64)>,
}

fn run(
    held: &Held,
    values: Vec<f32>,
    names: Option<&[String]>,
    proba: bool,
) -> ApiResult<(usize, Vec<f32>, Vec<f32>)> {
    Ok(held.with(|m| m.serve(values, names, proba).map(|(w, p)| (w, p, m.header.classes.clone())))?)
}

/// Answers with the stage's model, or with a running rollout's candidate for the instances
/// whose key falls in its canary (the core's `Route::arm`, as SQL and a standby route a key);
/// an instance without a key goes to the baseline. In shadow, the baseline answers and the
/// candidate is returned to score the logged instances after the response.
fn answer(
    s: &Stage,
    values: Vec<f32>,
    names: Option<&[String]>,
    proba: bool,
    keys: Option<&[String]>,
    n: usize,
) -> ApiResult<Answer> {
    let baseline = |values| -> ApiResult<Answer> {
        let (width, values, classes) = run(&s.held, values, names, proba)?;
        Ok(Answer { model_id: s.held.model_id, model_ids: None, width, values, classes, shadow: None })
    };
    let Some(r) = &s.rollout else { return baseline(values) };
    if r.route.phase == Phase::Shadow {
        let mut a = baseline(values)?;
        a.shadow = Some((r.candidate.clone(), r.route.salt, r.route.shadow_sample));
        return Ok(a);
    }
    let arms: Vec<bool> = match keys {
        Some(keys) => {
            keys.iter().map(|k| r.route.arm(Some(k.as_bytes()), || 0.0) == Arm::Candidate).collect()
        }
        None => return baseline(values),
    };
    let on_candidate = arms.iter().filter(|c| **c).count();
    if on_candidate == 0 {
        return baseline(values);
    }
    if on_candidate == n {
        let (width, values, classes) = run(&r.candidate, values, names, proba)?;
        return Ok(Answer {
            model_id: r.candidate.model_id,
            model_ids: None,
            width,
            values,
            classes,
            shadow: None,
        });
    }
    // a batch split between the arms: each model answers its rows, put back in order
    let w = values.len() / n.max(1);
    let (mut to_baseline, mut to_candidate) = (Vec::new(), Vec::new());
    for (row, candidate) in values.chunks(w.max(1)).zip(&arms) {
        if *candidate { &mut to_candidate } else { &mut to_baseline }.extend_from_slice(row);
    }
    let (bw, b, classes) = run(&s.held, to_baseline, names, proba)?;
    let (cw, c, _) = run(&r.candidate, to_candidate, names, proba)?;
    if bw != cw {
        return Err(ApiError::internal(format!(
            "the canary's models answer {cw} and {bw} values per instance: their classes differ"
        )));
    }
    let (mut bi, mut ci) = (b.chunks(bw.max(1)), c.chunks(cw.max(1)));
    let mut merged = Vec::with_capacity(b.len() + c.len());
    for candidate in &arms {
        let next = if *candidate { ci.next() } else { bi.next() };
        merged.extend_from_slice(next.unwrap_or_default());
    }
    let model_ids = arms.iter().map(|c| if *c { r.candidate.model_id } else { s.held.model_id }).collect();
    Ok(Answer {
        model_id: s.held.model_id,
        model_ids: Some(model_ids),
        width: bw,
        values: merged,
        classes,
        shadow: None,
    })
}

/// Answers in process when it may, else from the database; then queues the log's records, and
/// a shadow's (scored after the response, on a blocking thread).
async fn serve(
    state: &AppState,
    role: &str,
    project: &str,
    mut req: PredictRequest,
    proba: bool,
    header_id: Option<&str>,
) -> ApiResult<Served> {
    let started = std::time::Instant::now();
    let n = instances(&req.features);
    let (keys, given) = tags(&mut req, n, header_id)?;
    let stage = req.stage.unwrap_or_else(|| "production".to_string());
    let (values, names) = flatten(req.features)?;
    let features = names.is_none().then(|| values.clone());
    let held = match req.strict || state.strict {
        true => None,
        false => in_process(state, role, project, &stage).await?,
    };
    let a = match held {
        Some(s) => {
            let shadow_values =
                s.rollout.as_ref().filter(|r| r.route.phase == Phase::Shadow).map(|_| values.clone());
            let a = answer(&s, values, names.as_deref(), proba, keys.as_deref(), n)?;
            (a, shadow_values)
        }
        None => {
            let (model_id, width, values) =
                through_the_database(state, role, project, &stage, values, names.clone(), proba).await?;
            (Answer { model_id, model_ids: None, width, values, classes: Vec::new(), shadow: None }, None)
        }
    };
    let (a, shadow_values) = a;
    let classes = (!a.classes.is_empty()).then_some(a.classes.as_slice());
    state.metrics.served(project, &stage, a.model_id);
    let request_ids = state.log.request_ids(n, given);
    let logged = state.log.record(crate::log::Answered {
        project,
        stage: &stage,
        model_id: a.model_id,
        started,
        width: a.width.max(1),
        answers: &a.values,
        classes,
        features: features.as_deref(),
        keys: keys.as_deref(),
        request_ids: &request_ids,
    });
    if let (Some((candidate, salt, share)), Some(values)) = (a.shadow, shadow_values) {
        let logged: Vec<(usize, f32)> = logged
            .into_iter()
            .filter(|(i, _)| {
                share >= 1.0
                    || (pgml_core::rollout::assign::key_hash(salt, &request_ids[*i]) as f64
                        / (u64::MAX as f64 + 1.0))
                        < share
            })
            .collect();
        if !logged.is_empty() {
            let shadow = Shadow {
                state: state.clone(),
                project: project.to_string(),
                stage: stage.clone(),
                candidate,
                values,
                names,
                proba,
                n,
                keys,
                request_ids: request_ids.clone(),
                logged,
            };
            tokio::task::spawn_blocking(move || shadow.score());
        }
    }
    Ok(Served {
        stage,
        model_id: a.model_id,
        model_ids: a.model_ids,
        width: a.width,
        values: a.values,
        request_ids,
    })
}

/// A shadow's work, done after the response: the candidate scores the logged instances, and its
/// records join the log under their request ids (a failure is logged as NaN, never returned).
struct Shadow {
    state: AppState,
    project: String,
    stage: String,
    candidate: Arc<Held>,
    values: Vec<f32>,
    names: Option<Vec<String>>,
    proba: bool,
    n: usize,
    keys: Option<Vec<String>>,
    request_ids: Vec<[u8; 16]>,
    logged: Vec<(usize, f32)>,
}

impl Shadow {
    fn score(self) {
        let started = std::time::Instant::now();
        let w = self.values.len() / self.n.max(1);
        let mut rows = Vec::with_capacity(self.logged.len() * w);
        for (i, _) in &self.logged {
            rows.extend_from_slice(self.values.get(i * w..(i + 1) * w).unwrap_or_default());
        }
        let scored = run(&self.candidate, rows, self.names.as_deref(), self.proba);
        let (width, answers, classes) = match scored {
            Ok(s) => s,
            Err(_) => (1, vec![f32::NAN; self.logged.len()], Vec::new()),
        };
        let pick = |i: usize| self.logged.get(i).map(|(j, _)| *j).unwrap_or_default();
        let request_ids: Vec<[u8; 16]> = (0..self.logged.len()).map(|i| self.request_ids[pick(i)]).collect();
        let keys: Option<Vec<String>> =
            self.keys.as_ref().map(|k| (0..self.logged.len()).map(|i| k[pick(i)].clone()).collect());
        let only: Vec<(usize, f32)> =
            self.logged.iter().enumerate().map(|(i, (_, weight))| (i, *weight)).collect();
        self.state.log.record_shadow(
            crate::log::Answered {
                project: &self.project,
                stage: &self.stage,
                model_id: self.candidate.model_id,
                started,
                width: width.max(1),
                answers: &answers,
                classes: (!classes.is_empty()).then_some(classes.as_slice()),
                features: None,
                keys: keys.as_deref(),
                request_ids: &request_ids,
            },
            &only,
        );
    }
}

/// The `X-Request-Id` header of a response: the first prediction's id.
fn request_id_header(ids: &[String]) -> [(axum::http::HeaderName, String); 1] {
    [(axum::http::HeaderName::from_static("x-request-id"), ids.first().cloned().unwrap_or_default())]
}

fn texts(ids: &[[u8; 16]]) -> Vec<String> {
    ids.iter().map(pgml_core::monitoring::request_id::format_uuid).collect()
}

/// The model held for the stage, when the in-process path may answer: deploys are being
/// followed, the database lets the role predict the project, and the stage serves a model.
pub(crate) async fn in_process(
    state: &AppState,
    role: &str,
    project: &str,
    stage: &str,
) -> ApiResult<Option<Arc<Stage>>> {
    if !state.models.following() || !state.grants.allows(&state.db, role, project).await {
        return Ok(None);
    }
    state.models.get(project, stage).await
}

async fn through_the_database(
    state: &AppState,
    role: &str,
    project: &str,
    stage: &str,
    values: Vec<f32>,
    names: Option<Vec<String>>,
    proba: bool,
) -> ApiResult<(i64, usize, Vec<f32>)> {
    let rows = state
        .db
        .read(
            role,
            "SELECT model_id, width, predictions FROM pgml._pgml_serve_predict($1, $2, $3, $4, $5)",
            &[
                (&project, Type::TEXT),
                (&stage, Type::TEXT),
                (&values, Type::FLOAT4_ARRAY),
                (&names, Type::TEXT_ARRAY),
                (&proba, Type::BOOL),
            ],
        )
        .await?;
    let row = rows.first().ok_or_else(|| ApiError::internal("_pgml_serve_predict returned no row"))?;
    let (model_id, width, predictions): (i64, i32, Vec<f32>) = (row.get(0), row.get(1), row.get(2));
    Ok((model_id, width.max(1) as usize, predictions))
}

fn number(v: f32) -> Option<f32> {
    v.is_finite().then_some(v)
}

/// Predictions of the model a project's stage serves.
#[utoipa::path(post, path = "/v1/projects/{project}/predict", tag = "predict",
    params(("project" = String, Path, description = "The project name")),
    request_body = PredictRequest,
    responses((status = 200, description = "One prediction per instance", body = PredictResponse)),
    security(("bearer" = [])))]
pub async fn predict(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<PredictRequest>, JsonRejection>,
) -> ApiResult<impl axum::response::IntoResponse> {
    let Path(project) = path?;
    let Json(req) = body?;
    let header = headers.get("x-request-id").and_then(|v| v.to_str().ok());
    let s = serve(&state, &caller.role, &project, req, false, header).await?;
    let request_ids = texts(&s.request_ids);
    Ok((
        request_id_header(&request_ids),
        Json(PredictResponse {
            project,
            stage: s.stage,
            model_id: s.model_id,
            model_ids: s.model_ids,
            predictions: s.values.into_iter().map(number).collect(),
            request_ids,
        }),
    ))
}

/// Class probabilities from the model a project's stage serves.
#[utoipa::path(post, path = "/v1/projects/{project}/predict_proba", tag = "predict",
    params(("project" = String, Path, description = "The project name")),
    request_body = PredictRequest,
    responses((status = 200, description = "Class probabilities per instance", body = ProbaResponse)),
    security(("bearer" = [])))]
pub async fn predict_proba(
    State(state): State<AppState>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Result<Json<PredictRequest>, JsonRejection>,
) -> ApiResult<impl axum::response::IntoResponse> {
    let Path(project) = path?;
    let Json(req) = body?;
    let header = headers.get("x-request-id").and_then(|v| v.to_str().ok());
    let s = serve(&state, &caller.role, &project, req, true, header).await?;
    let probabilities =
        s.values.chunks(s.width.max(1)).map(|c| c.iter().copied().map(number).collect()).collect();
    let request_ids = texts(&s.request_ids);
    Ok((
        request_id_header(&request_ids),
        Json(ProbaResponse {
            project,
            stage: s.stage,
            model_id: s.model_id,
            model_ids: s.model_ids,
            probabilities,
            request_ids,
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Features {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn every_shape_of_features_flattens_row_after_row() {
        assert_eq!(flatten(parse("[1, 2]")).unwrap(), (vec![1.0, 2.0], None));
        assert_eq!(flatten(parse("[[1, 2], [3, 4]]")).unwrap(), (vec![1.0, 2.0, 3.0, 4.0], None));
        let (values, names) = flatten(parse(r#"{"b": 2, "a": 1}"#)).unwrap();
        assert_eq!((values, names.unwrap()), (vec![1.0, 2.0], vec!["a".to_string(), "b".to_string()]));
        let (values, names) = flatten(parse(r#"[{"b": 2, "a": 1}, {"a": 3, "b": 4}]"#)).unwrap();
        assert_eq!(
            (values, names.unwrap()),
            (vec![1.0, 2.0, 3.0, 4.0], vec!["a".to_string(), "b".to_string()])
        );
    }

    #[test]
    fn ragged_batches_are_refused_before_the_database() {
        let err = flatten(parse("[[1, 2, 3], [4, 5, 6, 7, 8]]")).unwrap_err();
        assert_eq!(err.message, "instance 2 has 5 features, instance 1 has 3");
        let err = flatten(parse(r#"[{"a": 1}, {"b": 1}]"#)).unwrap_err();
        assert_eq!(err.message, "instance 2 names other features than instance 1");
    }
}
