//! `pgml.drift`: a relation's features and the model's predictions on it, against the
//! references kept from the model's training rows and test predictions. The statistics and
//! decisions are `pgml_core::drift`'s; this file reads the data and shapes the rows.

use crate::cache;
use crate::error::{OrRaise, Result, SqlError};
use crate::relation::{self, CurrentData, CurrentFeature};
use crate::store::{self, Project};
use pgml_core::artifact::LoadedModel;
use pgml_core::data::schema::FeatureKind;
use pgml_core::drift::{compare, dataset_drift, Current, FeatureDrift, FeatureReference, Thresholds};
use pgml_core::lifecycle::gates::{DriftOutcome, PRODUCTION};
use pgml_core::Task;
use pgrx::prelude::*;
use pgrx::JsonB;

type DriftRow = (
    String,
    String,
    i64,
    i64,
    i64,
    f64,
    f64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    bool,
    f64,
    bool,
);

/// Per feature (and a last row for the predictions): PSI, KS statistic and p-value (numeric
/// features), Jensen–Shannon distance, missing rates, whether it drifted; and on every row the
/// share of drifted features and whether the dataset drifted.
#[allow(clippy::type_complexity)] // pgrx needs the named columns spelled out here
#[pg_extern]
fn drift(
    project_name: &str,
    relation_name: &str,
    model_id: default!(Option<i64>, "NULL"),
    thresholds: default!(Option<JsonB>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(feature, String),
        name!(kind, String),
        name!(model_id, i64),
        name!(reference_rows, i64),
        name!(current_rows, i64),
        name!(reference_missing_rate, f64),
        name!(current_missing_rate, f64),
        name!(psi, Option<f64>),
        name!(ks_statistic, Option<f64>),
        name!(ks_p_value, Option<f64>),
        name!(js_distance, Option<f64>),
        name!(drifted, bool),
        name!(drift_share, f64),
        name!(dataset_drifted, bool),
    ),
> {
    let thresholds = thresholds.map(|j| j.0).unwrap_or(serde_json::Value::Null);
    let rows = store::project(project_name).and_then(|p| measure(&p, relation_name, model_id, &thresholds));
    TableIterator::new(rows.or_raise())
}

/// Sets a project's drift thresholds (keys: psi, ks_p_value, js, share, numeric_method,
/// categorical_method); returns the thresholds now in force.
#[pg_extern]
fn set_drift_thresholds(project_name: &str, thresholds: JsonB) -> JsonB {
    set_thresholds(project_name, thresholds.0).or_raise()
}

fn set_thresholds(project_name: &str, thresholds: serde_json::Value) -> Result<JsonB> {
    let project = store::project(project_name)?;
    let effective = Thresholds::default().merged(&thresholds)?;
    store::set_drift_settings(project.id, thresholds)?;
    Ok(JsonB(serde_json::to_value(effective).unwrap_or_default()))
}

fn measure(
    project: &Project,
    relation_name: &str,
    model_id: Option<i64>,
    call_thresholds: &serde_json::Value,
) -> Result<Vec<DriftRow>> {
    let model_id = resolve_model(project, model_id)?;
    let (features, predictions) = store::drift_reference(model_id)?.ok_or_else(|| {
        SqlError::undefined(format!("model {model_id} has no drift reference"))
            .hint("retrain the project: references are stored by pgml.train")
    })?;
    let corrupt =
        |e: serde_json::Error| SqlError::from(pgml_core::Error::Internal(format!("drift reference: {e}")));
    let features: Vec<FeatureReference> = serde_json::from_value(features).map_err(corrupt)?;
    let predictions: FeatureReference = serde_json::from_value(predictions).map_err(corrupt)?;
    let thresholds =
        Thresholds::default().merged(&store::drift_settings(project.id)?)?.merged(call_thresholds)?;

    let model = cache::model(model_id)?;
    let current = relation::read_current(relation_name, &model.header.features)?;
    let mut drifts = Vec::with_capacity(features.len() + 1);
    for (reference, values) in features.iter().zip(&current.features) {
        // each comparison sorts the feature's values: a cancel is taken between features
        pgrx::check_for_interrupts!();
        drifts.push(compare(reference, as_current(values), &thresholds)?);
    }
    let (share, dataset_drifted) = dataset_drift(&drifts, &thresholds);
    let predicted = predict_complete_rows(&model, &current)?;
    let mut prediction = match &predicted {
        Predicted::Numbers(v) => compare(&predictions, Current::Numeric(v), &thresholds)?,
        Predicted::Labels(v) => compare(&predictions, Current::Categorical(v), &thresholds)?,
    };
    prediction.kind = "prediction";
    drifts.push(prediction);
    Ok(drifts.into_iter().map(|d| row(d, model_id, share, dataset_drifted)).collect())
}

/// The model asked for (which must belong to the project), or the one production serves.
fn resolve_model(project: &Project, model_id: Option<i64>) -> Result<i64> {
    match model_id {
        Some(id) => store::model_of(project, id).map(|_| id),
        None => store::serving_model(project, PRODUCTION),
    }
}

/// Whether a model sees dataset drift on a relation, with the project's thresholds: the
/// promotion gate of a policy with a drift relation.
pub(crate) fn outcome(project: &Project, relation_name: &str, model_id: i64) -> Result<DriftOutcome> {
    let rows = measure(project, relation_name, Some(model_id), &serde_json::Value::Null)?;
    let (share, dataset_drifted) = rows.first().map_or((0.0, false), |r| (r.12, r.13));
    Ok(DriftOutcome { dataset_drifted, share })
}

fn as_current(values: &CurrentFeature) -> Current<'_> {
    match values {
        CurrentFeature::Numeric(v) => Current::Numeric(v),
        CurrentFeature::Categorical(v) => Current::Categorical(v),
    }
}

enum Predicted {
    Numbers(Vec<f32>),
    Labels(Vec<Option<String>>),
}

/// The model's predictions for the rows whose features are all present (and whose text
/// values are levels seen in training).
fn predict_complete_rows(model: &LoadedModel, current: &CurrentData) -> Result<Predicted> {
    let schema = &model.header.features;
    let mut columns = Vec::with_capacity(current.features.len());
    for c in schema {
        for _ in 0..c.size {
            columns.push(c);
        }
    }
    let mut out = Vec::with_capacity(current.rows);
    let mut row = vec![0.0f32; current.features.len()];
    'rows: for i in 0..current.rows {
        if i % 65_536 == 0 {
            pgrx::check_for_interrupts!();
        }
        for (j, feature) in current.features.iter().enumerate() {
            let v = match feature {
                CurrentFeature::Numeric(v) => v[i],
                CurrentFeature::Categorical(v) => match (&v[i], columns.get(j)) {
                    (Some(text), Some(c)) if c.kind == FeatureKind::Categorical => c.level_code(text),
                    _ => f32::NAN,
                },
            };
            if v.is_nan() {
                continue 'rows;
            }
            row[j] = v;
        }
        out.push(model.predict_one(&row)?);
    }
    Ok(if matches!(model.header.task, Task::Regression | Task::Decomposition) {
        Predicted::Numbers(out)
    } else {
        Predicted::Labels(out.into_iter().map(|p| Some(p.to_string())).collect())
    })
}

fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

fn row(d: FeatureDrift, model_id: i64, share: f64, dataset_drifted: bool) -> DriftRow {
    (
        d.name,
        d.kind.to_string(),
        model_id,
        d.reference_rows as i64,
        d.current_rows as i64,
        d.reference_missing_rate,
        d.current_missing_rate,
        finite(d.psi),
        d.ks_statistic,
        d.ks_p_value,
        finite(d.js_distance),
        d.drifted,
        share,
        dataset_drifted,
    )
}
