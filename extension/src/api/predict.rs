//! `pgml.predict`, `pgml.predict_proba`, `pgml.predict_batch`: by project (the deployed
//! model, cached per backend) or by model id. STABLE: the answer depends on the registry.

use crate::cache;
use crate::error::{OrRaise, Result, SqlError};
use pgml_core::artifact::LoadedModel;
use pgrx::prelude::*;
use pgrx::PgSqlErrorCode;
use std::rc::Rc;

/// Features as f32, refusing NULL elements.
fn features<T: Copy>(values: Vec<Option<T>>, convert: impl Fn(T) -> f32) -> Result<Vec<f32>> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| {
            v.map(&convert).ok_or_else(|| {
                SqlError::new(
                    PgSqlErrorCode::ERRCODE_NULL_VALUE_NOT_ALLOWED,
                    format!("feature {} is NULL", i + 1),
                )
                .hint("replace missing values before predicting, for example with COALESCE")
            })
        })
        .collect()
}

fn one(model: &LoadedModel, x: Vec<f32>) -> Result<f32> {
    Ok(model.predict_one(&x)?)
}

fn by_project(project: &str, x: Result<Vec<f32>>) -> f32 {
    x.and_then(|x| one(&*cache::deployed(project)?, x))
        .or_raise()
}

fn by_id(model_id: i64, x: Result<Vec<f32>>) -> f32 {
    x.and_then(|x| one(&*cache::model(model_id)?, x)).or_raise()
}

#[pg_extern(name = "predict", stable, parallel_safe)]
fn predict_f32(project_name: &str, features: Vec<Option<f32>>) -> f32 {
    by_project(project_name, self::features(features, |v| v))
}

#[pg_extern(name = "predict", stable, parallel_safe)]
fn predict_f64(project_name: &str, features: Vec<Option<f64>>) -> f32 {
    by_project(project_name, self::features(features, |v| v as f32))
}

#[pg_extern(name = "predict", stable, parallel_safe)]
fn predict_i16(project_name: &str, features: Vec<Option<i16>>) -> f32 {
    by_project(project_name, self::features(features, |v| v as f32))
}

#[pg_extern(name = "predict", stable, parallel_safe)]
fn predict_i32(project_name: &str, features: Vec<Option<i32>>) -> f32 {
    by_project(project_name, self::features(features, |v| v as f32))
}

#[pg_extern(name = "predict", stable, parallel_safe)]
fn predict_i64(project_name: &str, features: Vec<Option<i64>>) -> f32 {
    by_project(project_name, self::features(features, |v| v as f32))
}

#[pg_extern(name = "predict", stable, parallel_safe)]
fn predict_bool(project_name: &str, features: Vec<Option<bool>>) -> f32 {
    by_project(
        project_name,
        self::features(features, |v| if v { 1.0 } else { 0.0 }),
    )
}

#[pg_extern(name = "predict", stable, parallel_safe)]
fn predict_model_f32(model_id: i64, features: Vec<Option<f32>>) -> f32 {
    by_id(model_id, self::features(features, |v| v))
}

#[pg_extern(name = "predict", stable, parallel_safe)]
fn predict_model_f64(model_id: i64, features: Vec<Option<f64>>) -> f32 {
    by_id(model_id, self::features(features, |v| v as f32))
}

#[pg_extern(name = "predict", stable, parallel_safe)]
fn predict_model_i32(model_id: i64, features: Vec<Option<i32>>) -> f32 {
    by_id(model_id, self::features(features, |v| v as f32))
}

/// Class probabilities of one row, in ascending label order.
#[pg_extern(stable, parallel_safe)]
fn predict_proba(project_name: &str, features: Vec<Option<f32>>) -> Vec<f32> {
    proba(cache::deployed(project_name), features).or_raise()
}

#[pg_extern(name = "predict_proba", stable, parallel_safe)]
fn predict_proba_model(model_id: i64, features: Vec<Option<f32>>) -> Vec<f32> {
    proba(cache::model(model_id), features).or_raise()
}

fn proba(model: Result<Rc<LoadedModel>>, features: Vec<Option<f32>>) -> Result<Vec<f32>> {
    let model = model?;
    let x = model.one_row(self::features(features, |v| v)?)?;
    Ok(model.predict_proba(&x)?)
}

/// Predictions for many rows passed as one flat array (row after row).
#[pg_extern(stable, parallel_safe)]
fn predict_batch(project_name: &str, features: Vec<Option<f32>>) -> SetOfIterator<'static, f32> {
    batch(project_name, features).or_raise()
}

fn batch(project_name: &str, features: Vec<Option<f32>>) -> Result<SetOfIterator<'static, f32>> {
    let model = cache::deployed(project_name)?;
    let x = model.matrix(self::features(features, |v| v)?)?;
    Ok(SetOfIterator::new(model.predict(&x)?))
}

/// The benchmark baseline (bench/predict.sh): takes predict's arguments, converts them the
/// same way, and predicts nothing. Not part of the PostgresML API.
#[pg_extern(stable, parallel_safe)]
fn _pgml_noop_predict(project_name: &str, features: Vec<Option<f32>>) -> f32 {
    let _ = project_name;
    self::features(features, |v| v)
        .map(|f| f.len() as f32 * 0.0)
        .or_raise()
}
