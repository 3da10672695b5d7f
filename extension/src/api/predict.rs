//! `pgml.predict`, `pgml.predict_proba`, `pgml.predict_batch`: by project (the model its
//! stage serves — `production` unless a stage is named — cached per backend) or by model id.
//! STABLE: the answer depends on the registry.

use crate::cache;
use crate::error::{OrRaise, Result, SqlError};
use crate::monitoring::log::{self, Tags};
use pgml_core::artifact::LoadedModel;
use pgml_core::monitoring::Source;
use pgml_core::rollout::{Arm, Route};
use pgrx::prelude::*;
use pgrx::{AnyNumeric, PgSqlErrorCode, Uuid};
use std::rc::Rc;

/// Features as f32; a NULL stays None until the model says whether it imputes it.
fn features<T: Copy>(values: Vec<Option<T>>, convert: impl Fn(T) -> f32) -> Vec<Option<f32>> {
    values.into_iter().map(|v| v.map(&convert)).collect()
}

/// The raw features for `model`: a NULL is a missing value (NaN) where the model imputes that
/// feature (its `preprocess`), an error anywhere else.
pub(crate) fn complete(values: Vec<Option<f32>>, model: Option<&LoadedModel>) -> Result<Vec<f32>> {
    let width = model.map_or(1, |m| m.header.num_features.max(1));
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| match v {
            Some(v) => Ok(v),
            None if model.is_some_and(|m| m.imputes(i % width)) => Ok(f32::NAN),
            None => Err(SqlError::new(
                PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
                format!("feature {} is NULL", i + 1),
            )
            .hint("replace missing values before predicting (COALESCE), or train with preprocess => impute")),
        })
        .collect()
}

fn by_project(project: &str, stage: &str, values: Result<Vec<Option<f32>>>, tags: Result<Tags>) -> f32 {
    tags.and_then(|tags| logged(project, stage, values?, &tags, |m, x| m.predict_one(&x), |_, y| (*y, &[])))
        .or_raise()
}

/// The model that answers a request of a stage: the deployed one, or the candidate of a
/// canary the request's key falls in; with whether a shadow score follows (a logged request
/// of a shadow rollout). A request without a key never goes to a canary.
fn route(project: &str, stage: &str, key: Option<&str>, pending: Option<&log::Pending>) -> Result<Routed> {
    let (id, model, route) = cache::deployed_routed(project, stage)?;
    let Some(r) = route else { return Ok(Routed { id, model, shadow: None, compared: false }) };
    Ok(match r.arm(key.map(str::as_bytes), || pending.map_or(1.0, |p| p.draw(r.salt))) {
        Arm::Candidate => {
            Routed { id: r.candidate_id, model: cache::model(r.candidate_id)?, shadow: None, compared: true }
        }
        // only a logged prediction is shadowed: its record is what the shadow's pairs with
        Arm::BaselineAndShadow if pending.is_some() => Routed { id, model, shadow: Some(r), compared: true },
        _ => Routed { id, model, shadow: None, compared: true },
    })
}

/// Where `route` sent a request.
struct Routed {
    id: i64,
    model: Rc<LoadedModel>,
    /// The rollout whose candidate scores the request after the answer (shadow).
    shadow: Option<Rc<Route>>,
    /// Whether a rollout runs on the stage: a model's failure is then logged (a NaN
    /// prediction), for the rollout's error-rate guard to compare the arms.
    compared: bool,
}

/// The candidate's score of a request the baseline answered, logged as a shadow record under
/// the same request id; a failure is logged as a NaN prediction (counted by the rollout's
/// guards), never raised.
fn shadow<T>(
    s: log::Pending,
    r: &Route,
    stage: &str,
    score: impl FnOnce(&LoadedModel) -> pgml_core::Result<T>,
    answer: for<'a> fn(&LoadedModel, &'a T) -> (f32, &'a [f32]),
) {
    let scored = cache::model(r.candidate_id).ok().and_then(|m| {
        let out = score(&m).ok()?;
        let (y, probabilities) = answer(&m, &out);
        Some((y, probabilities.to_vec()))
    });
    match scored {
        Some((y, probabilities)) => s.finish(r.candidate_id, stage, &[], y, &probabilities),
        None => s.finish(r.candidate_id, stage, &[], f32::NAN, &[]),
    }
}

/// `served`, and the prediction logged (when the project's settings and sampling say so).
/// `answer` gives what is logged of the result: the prediction and the class probabilities.
fn logged<T>(
    project: &str,
    stage: &str,
    values: Vec<Option<f32>>,
    tags: &Tags,
    predict: impl Fn(&LoadedModel, Vec<f32>) -> pgml_core::Result<T>,
    answer: for<'a> fn(&LoadedModel, &'a T) -> (f32, &'a [f32]),
) -> Result<T> {
    let pending = log::decide(Source::Sql, project, tags)?;
    let Routed { id, model, shadow: shadowed, compared } = route(project, stage, tags.key, pending.as_ref())?;
    let x = complete(values, Some(&model))?;
    let Some(p) = pending else { return Ok(predict(&model, x)?) };
    // the features are copied only for the sampled share of records that keeps them, and for
    // the candidate of a shadow rollout
    let kept = (p.keeps_features() || shadowed.is_some()).then(|| x.clone());
    let out = match predict(&model, x) {
        Ok(out) => out,
        Err(e) => {
            if compared {
                p.finish(id, stage, &[], f32::NAN, &[]);
            }
            return Err(e.into());
        }
    };
    let (y, probabilities) = answer(&model, &out);
    let twin = shadowed.as_ref().map(|_| p.shadow());
    let logged_features = if p.keeps_features() { kept.as_deref().unwrap_or(&[]) } else { &[] };
    p.finish(id, stage, logged_features, y, probabilities);
    if let (Some(s), Some(r), Some(x)) = (twin, shadowed, kept) {
        shadow(s, &r, stage, |m| predict(m, x), answer);
    }
    Ok(out)
}

/// Runs `predict` with the model a stage serves, on the features completed for it.
fn served<T>(
    project: &str,
    stage: &str,
    values: Vec<Option<f32>>,
    predict: impl FnOnce(&LoadedModel, Vec<f32>) -> pgml_core::Result<T>,
) -> Result<T> {
    let model = cache::deployed(project, stage)?;
    let x = complete(values, Some(&model))?;
    Ok(predict(&model, x)?)
}

fn by_id(model_id: i64, values: Result<Vec<Option<f32>>>) -> f32 {
    values.and_then(|v| by_model(model_id, v, |m, x| m.predict_one(&x))).or_raise()
}

/// `pgml.predict(project_name | model_id, features <type>[])` for every array type PostgresML
/// accepts; each converts its elements to f32 and shares one code path.
/// The form without `key` and `request_id` is 0.5.0's, kept (without SQL) for a database not
/// yet updated.
macro_rules! predict_arrays {
    ($($by_project:ident, $keyed:ident, $by_model:ident: $t:ty => $convert:expr;)*) => {$(
        #[pg_extern(name = "predict", stable, parallel_safe, sql = false)]
        fn $by_project(project_name: &str, features: Vec<Option<$t>>, stage: default!(&str, "'production'")) -> f32 {
            by_project(project_name, stage, Ok(self::features(features, $convert)), Ok(Tags::NONE))
        }

        #[pg_extern(name = "predict", stable, parallel_safe)]
        fn $keyed(
            project_name: Option<&str>,
            features: Option<Vec<Option<$t>>>,
            stage: default!(Option<&str>, "'production'"),
            key: default!(Option<&str>, "NULL"),
            request_id: default!(Option<Uuid>, "NULL"),
        ) -> Option<f32> {
            // NULL in, NULL out, as the STRICT form before the optional key and request id
            let (project_name, features, stage) = (project_name?, features?, stage?);
            Some(by_project(project_name, stage, Ok(self::features(features, $convert)), Tags::new(key, request_id)))
        }

        #[pg_extern(name = "predict", stable, parallel_safe)]
        fn $by_model(model_id: i64, features: Vec<Option<$t>>) -> f32 {
            by_id(model_id, Ok(self::features(features, $convert)))
        }
    )*};
}

predict_arrays! {
    predict_f32, predict_f32_keyed, predict_model_f32: f32 => |v| v;
    predict_f64, predict_f64_keyed, predict_model_f64: f64 => |v| v as f32;
    predict_i16, predict_i16_keyed, predict_model_i16: i16 => f32::from;
    predict_i32, predict_i32_keyed, predict_model_i32: i32 => |v| v as f32;
    predict_i64, predict_i64_keyed, predict_model_i64: i64 => |v| v as f32;
    predict_bool, predict_bool_keyed, predict_model_bool: bool => |v| if v { 1.0 } else { 0.0 };
}

/// Untyped literals (`ARRAY[5.1, 3.5]`) are numeric[]: an exact overload keeps the call
/// unambiguous among the real[] / float8[] / row overloads.
#[pg_extern(name = "predict", stable, parallel_safe, sql = false)]
fn predict_numeric(
    project_name: &str,
    features: Vec<Option<AnyNumeric>>,
    stage: default!(&str, "'production'"),
) -> f32 {
    by_project(project_name, stage, numeric_features(features), Ok(Tags::NONE))
}

#[pg_extern(name = "predict", stable, parallel_safe)]
fn predict_numeric_keyed(
    project_name: Option<&str>,
    features: Option<Vec<Option<AnyNumeric>>>,
    stage: default!(Option<&str>, "'production'"),
    key: default!(Option<&str>, "NULL"),
    request_id: default!(Option<Uuid>, "NULL"),
) -> Option<f32> {
    let (project_name, features, stage) = (project_name?, features?, stage?);
    Some(by_project(project_name, stage, numeric_features(features), Tags::new(key, request_id)))
}

#[pg_extern(name = "predict", stable, parallel_safe)]
fn predict_model_numeric(model_id: i64, features: Vec<Option<AnyNumeric>>) -> f32 {
    by_id(model_id, numeric_features(features))
}

fn numeric_features(values: Vec<Option<AnyNumeric>>) -> Result<Vec<Option<f32>>> {
    values.into_iter().map(|v| v.map(crate::row::numeric).transpose()).collect()
}

/// Prediction from a row value (a table row, `ROW(...)` or a composite): the model's
/// training columns are looked up by name.
#[pg_extern(name = "predict", stable, parallel_safe, sql = false)]
fn predict_row(project_name: &str, row: pgrx::AnyElement, stage: default!(&str, "'production'")) -> f32 {
    row_prediction(project_name, &row, stage, &Tags::NONE).or_raise()
}

#[pg_extern(name = "predict", stable, parallel_safe)]
fn predict_row_keyed(
    project_name: Option<&str>,
    row: Option<pgrx::AnyElement>,
    stage: default!(Option<&str>, "'production'"),
    key: default!(Option<&str>, "NULL"),
    request_id: default!(Option<Uuid>, "NULL"),
) -> Option<f32> {
    let (project_name, row, stage) = (project_name?, row?, stage?);
    Some(
        Tags::new(key, request_id)
            .and_then(|tags| row_prediction(project_name, &row, stage, &tags))
            .or_raise(),
    )
}

fn row_prediction(project_name: &str, row: &pgrx::AnyElement, stage: &str, tags: &Tags) -> Result<f32> {
    let pending = log::decide(Source::Sql, project_name, tags)?;
    let Routed { id, model, shadow: shadowed, .. } = route(project_name, stage, tags.key, pending.as_ref())?;
    let x = crate::row::features(&model, row)?;
    let y = model.predict_one(&x)?;
    if let Some(p) = pending {
        let twin = shadowed.as_ref().map(|_| p.shadow());
        p.finish(id, stage, &x, y, &[]);
        if let (Some(s), Some(r)) = (twin, shadowed) {
            // the candidate reads the row by its own training columns
            let score = |m: &LoadedModel| -> pgml_core::Result<f32> {
                let x = crate::row::features(m, row).map_err(|e| pgml_core::Error::invalid(e.message))?;
                m.predict_one(&x)
            };
            shadow(s, &r, stage, score, |_, y| (*y, &[]));
        }
    }
    Ok(y)
}

#[pg_extern(name = "predict", stable, parallel_safe)]
fn predict_model_row(model_id: i64, row: pgrx::AnyElement) -> f32 {
    cache::model(model_id)
        .and_then(|model| {
            let x = crate::row::features(&model, &row)?;
            Ok(model.predict_one(&x)?)
        })
        .or_raise()
}

/// The model-id forms of `predict_joint` and `predict_batch`, with PostgresML's shapes: the
/// batch form by id returns one array, where the form by project returns a set.
#[pg_extern(name = "predict_joint", stable, parallel_safe)]
fn predict_joint_model(model_id: i64, features: Vec<Option<f32>>) -> Vec<f32> {
    by_model(model_id, features, |m, x| m.predict_joint(&m.one_row(x)?)).or_raise()
}

#[pg_extern(name = "predict_batch", stable, parallel_safe)]
fn predict_batch_model(model_id: i64, features: Vec<Option<f32>>) -> Vec<f32> {
    by_model(model_id, features, |m, x| m.predict(&m.matrix(x)?)).or_raise()
}

/// Runs `predict` with a model by id, on the features completed for it.
fn by_model<T>(
    model_id: i64,
    values: Vec<Option<f32>>,
    predict: impl FnOnce(&LoadedModel, Vec<f32>) -> pgml_core::Result<T>,
) -> Result<T> {
    let model = cache::model(model_id)?;
    let x = complete(values, Some(&model))?;
    Ok(predict(&model, x)?)
}

/// Class probabilities of one row, in ascending label order (0.5.0's form, without SQL).
#[pg_extern(stable, parallel_safe, sql = false)]
fn predict_proba(
    project_name: &str,
    features: Vec<Option<f32>>,
    stage: default!(&str, "'production'"),
) -> Vec<f32> {
    proba(project_name, features, stage, Ok(Tags::NONE))
}

/// Class probabilities of one row, in ascending label order.
#[pg_extern(name = "predict_proba", stable, parallel_safe)]
fn predict_proba_keyed(
    project_name: Option<&str>,
    features: Option<Vec<Option<f32>>>,
    stage: default!(Option<&str>, "'production'"),
    key: default!(Option<&str>, "NULL"),
    request_id: default!(Option<Uuid>, "NULL"),
) -> Option<Vec<f32>> {
    let (project_name, features, stage) = (project_name?, features?, stage?);
    Some(proba(project_name, features, stage, Tags::new(key, request_id)))
}

fn proba(project_name: &str, features: Vec<Option<f32>>, stage: &str, tags: Result<Tags>) -> Vec<f32> {
    let predict = |m: &LoadedModel, x| m.predict_proba(&m.one_row(x)?);
    tags.and_then(|tags| {
        logged(project_name, stage, features, &tags, predict, |m, p| (top_class(m, p), p.as_slice()))
    })
    .or_raise()
}

/// The label of the most probable class (what `pgml.predict` answers), for the log.
fn top_class(model: &LoadedModel, probabilities: &[f32]) -> f32 {
    let best = probabilities.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map(|(i, _)| i);
    best.and_then(|i| model.header.classes.get(i).copied()).unwrap_or(f32::NAN)
}

#[pg_extern(name = "predict_proba", stable, parallel_safe)]
fn predict_proba_model(model_id: i64, features: Vec<Option<f32>>) -> Vec<f32> {
    by_model(model_id, features, |m, x| m.predict_proba(&m.one_row(x)?)).or_raise()
}

/// Every target of one row, from a project trained by `pgml.train_joint`.
#[pg_extern(stable, parallel_safe)]
fn predict_joint(
    project_name: &str,
    features: Vec<Option<f32>>,
    stage: default!(&str, "'production'"),
) -> Vec<f32> {
    served(project_name, stage, features, |m, x| m.predict_joint(&m.one_row(x)?)).or_raise()
}

/// The components of one row, from a decomposition project's model (`pca`).
#[pg_extern(stable, parallel_safe)]
fn decompose(
    project_name: &str,
    vector: Vec<Option<f32>>,
    stage: default!(&str, "'production'"),
) -> Vec<f32> {
    served(project_name, stage, vector, |m, x| m.decompose(&m.one_row(x)?)).or_raise()
}

/// Predictions for many rows passed as one flat array (row after row). Each row is a
/// prediction of the log, sampled as a scan's rows are.
#[pg_extern(stable, parallel_safe)]
fn predict_batch(
    project_name: &str,
    features: Vec<Option<f32>>,
    stage: default!(&str, "'production'"),
) -> SetOfIterator<'static, f32> {
    batch(project_name, stage, features).map(SetOfIterator::new).or_raise()
}

fn batch(project: &str, stage: &str, values: Vec<Option<f32>>) -> Result<Vec<f32>> {
    let (id, model) = cache::deployed_with_id(project, stage)?;
    let width = model.header.num_features.max(1);
    // a ragged array fails in `matrix` below, and logs nothing
    let rows = if values.len().is_multiple_of(width) { values.len() / width } else { 0 };
    let pending = log::decide_rows(Source::Sql, project, rows)?;
    let x = complete(values, Some(&model))?;
    let kept = pending.iter().any(|(_, p)| p.keeps_features()).then(|| x.clone());
    let y = model.predict(&model.matrix(x)?)?;
    for (row, p) in pending {
        let features = match (&kept, p.keeps_features()) {
            (Some(x), true) => x.get(row * width..(row + 1) * width).unwrap_or(&[]),
            _ => &[],
        };
        p.finish(id, stage, features, y.get(row).copied().unwrap_or(f32::NAN), &[]);
    }
    Ok(y)
}

/// What pgml-serve calls: predictions (or class probabilities) for rows given as one flat
/// array, in the model's order or by feature name (`names`, the same for every row), with the
/// id of the model that answered, read atomically with the predictions. `width` is the number
/// of values per row in `predictions` (1, or the number of classes).
#[pg_extern(stable, parallel_safe)]
fn _pgml_serve_predict(
    project_name: &str,
    stage: &str,
    features: Vec<Option<f32>>,
    names: Option<Vec<String>>,
    proba: bool,
) -> TableIterator<'static, (name!(model_id, i64), name!(width, i32), name!(predictions, Vec<f32>))> {
    serve(project_name, stage, features, names, proba).map(TableIterator::once).or_raise()
}

fn serve(
    project_name: &str,
    stage: &str,
    features: Vec<Option<f32>>,
    names: Option<Vec<String>>,
    proba: bool,
) -> Result<(i64, i32, Vec<f32>)> {
    let (id, model) = cache::deployed_with_id(project_name, stage)?;
    let x = complete(features, Some(&model))?;
    let (width, predictions) = model.serve(x, names.as_deref(), proba)?;
    Ok((id, width as i32, predictions))
}

/// The benchmark baseline (bench/predict.sh): takes predict's arguments, stage included,
/// converts them the same way, and predicts nothing. Not part of the PostgresML API.
#[pg_extern(name = "_pgml_noop_predict", stable, parallel_safe)]
fn noop_predict(
    project_name: &str,
    features: Vec<Option<f32>>,
    stage: default!(&str, "'production'"),
) -> f32 {
    let _ = (project_name, stage);
    noop(features)
}

/// What the no-op does with the features: predict's conversion, then nothing.
pub(super) fn noop(features: Vec<Option<f32>>) -> f32 {
    complete(features, None).map(|f| f.len() as f32 * 0.0).or_raise()
}
