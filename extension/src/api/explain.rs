//! `pgml.explain`: why a model predicts what it does for one row — each feature's attribution
//! (SHAP value), the baseline they start from and the margin they add up to
//! (`pgml_core::explain`): TreeSHAP for XGBoost and LightGBM models, weight × centred input
//! for linear ones. A read: it works in a READ ONLY transaction and on a standby.

use crate::api::predict::complete;
use crate::cache;
use crate::error::{OrRaise, Result};
use pgml_core::artifact::LoadedModel;
use pgml_core::data::schema;
use pgml_core::explain::Method;
use pgml_core::Task;
use pgrx::prelude::*;

type Rows = TableIterator<
    'static,
    (
        name!(explained_model_id, i64),
        name!(output, String),
        name!(feature, String),
        name!(value, f32),
        name!(attribution, f64),
        name!(baseline, f64),
        name!(prediction, f64),
        name!(output_space, String),
        name!(explanation_method, String),
        name!(approximation_error, f64),
    ),
>;

/// The attributions of the prediction of the model a project's stage serves for one row,
/// largest first (`top_k` of them; all when NULL).
#[allow(clippy::type_complexity)]
#[pg_extern(name = "explain", stable, parallel_safe)]
fn explain_project(
    project_name: Option<&str>,
    features: Option<Vec<Option<f32>>>,
    top_k: default!(Option<i32>, "NULL"),
    stage: default!(Option<&str>, "'production'"),
    method: default!(Option<&str>, "'exact'"),
) -> TableIterator<
    'static,
    (
        name!(explained_model_id, i64),
        name!(output, String),
        name!(feature, String),
        name!(value, f32),
        name!(attribution, f64),
        name!(baseline, f64),
        name!(prediction, f64),
        name!(output_space, String),
        name!(explanation_method, String),
        name!(approximation_error, f64),
    ),
> {
    // a NULL argument explains nothing, as a STRICT function would
    let (Some(project_name), Some(features), Some(stage), Some(method)) =
        (project_name, features, stage, method)
    else {
        return TableIterator::new(Vec::new());
    };
    let run = || -> Result<Rows> {
        let method = Method::parse(method)?;
        let (id, model) = cache::deployed_with_id(project_name, stage)?;
        let x = complete(features, Some(&model))?;
        explain(id, &model, x, top_k, method)
    };
    run().or_raise()
}

/// The attributions of the prediction for one row of a table (or any composite value), its
/// columns read by the training columns' names as `pgml.predict(project, row)` reads them;
/// `pgml.explain_relation` explains a sample of a relation through it.
#[allow(clippy::type_complexity)]
#[pg_extern(stable, parallel_safe)]
fn explain_row(
    project_name: Option<&str>,
    row: Option<pgrx::AnyElement>,
    top_k: default!(Option<i32>, "NULL"),
    stage: default!(Option<&str>, "'production'"),
    method: default!(Option<&str>, "'exact'"),
) -> TableIterator<
    'static,
    (
        name!(explained_model_id, i64),
        name!(output, String),
        name!(feature, String),
        name!(value, f32),
        name!(attribution, f64),
        name!(baseline, f64),
        name!(prediction, f64),
        name!(output_space, String),
        name!(explanation_method, String),
        name!(approximation_error, f64),
    ),
> {
    let (Some(project_name), Some(row), Some(stage), Some(method)) = (project_name, row, stage, method)
    else {
        return TableIterator::new(Vec::new());
    };
    let run = || -> Result<Rows> {
        let method = Method::parse(method)?;
        let (id, model) = cache::deployed_with_id(project_name, stage)?;
        let x = crate::row::features(&model, &row)?;
        explain(id, &model, x, top_k, method)
    };
    run().or_raise()
}

/// The attributions of one model's prediction for one row.
#[allow(clippy::type_complexity)]
#[pg_extern(name = "explain", stable, parallel_safe)]
fn explain_model(
    model_id: Option<i64>,
    features: Option<Vec<Option<f32>>>,
    top_k: default!(Option<i32>, "NULL"),
    method: default!(Option<&str>, "'exact'"),
) -> TableIterator<
    'static,
    (
        name!(explained_model_id, i64),
        name!(output, String),
        name!(feature, String),
        name!(value, f32),
        name!(attribution, f64),
        name!(baseline, f64),
        name!(prediction, f64),
        name!(output_space, String),
        name!(explanation_method, String),
        name!(approximation_error, f64),
    ),
> {
    let (Some(model_id), Some(features), Some(method)) = (model_id, features, method) else {
        return TableIterator::new(Vec::new());
    };
    let run = || -> Result<Rows> {
        let method = Method::parse(method)?;
        let model = cache::model(model_id)?;
        let x = complete(features, Some(&model))?;
        explain(model_id, &model, x, top_k, method)
    };
    run().or_raise()
}

fn explain(id: i64, model: &LoadedModel, x: Vec<f32>, top_k: Option<i32>, method: Method) -> Result<Rows> {
    if let Some(k) = top_k.filter(|&k| k < 1) {
        return Err(crate::error::SqlError::invalid(format!("top_k must be at least 1, got {k}")));
    }
    let row = model.one_row(x)?;
    let e = model.explain(&row.data, method)?;
    let names = schema::feature_names(&model.header.features, model.header.num_features);
    let (output, label) = model.explained_output(&e);
    let attributions = e.attributions_of(output);
    let order = e.ranked(output, top_k.map(|k| k as usize));
    let (baseline, margin, error) = (e.baseline[output], e.margin[output], e.approximation_error(output));
    let rows: Vec<_> = order
        .into_iter()
        .map(|j| {
            (
                id,
                label.clone(),
                names.get(j).cloned().unwrap_or_else(|| format!("f{}", j + 1)),
                row.data[j],
                attributions[j],
                baseline,
                margin,
                e.output_space.to_string(),
                e.method.name().to_string(),
                error,
            )
        })
        .collect();
    Ok(TableIterator::new(rows))
}

extension_sql!(
    r#"
-- pgml-rs 0.9.0: a repeatable sample of a relation explained, row by row
CREATE FUNCTION pgml.explain_relation(
    project_name TEXT,
    relation_name TEXT,
    sample_size INT DEFAULT 100,
    top_k INT DEFAULT NULL,
    stage TEXT DEFAULT 'production',
    method TEXT DEFAULT 'exact'
) RETURNS TABLE (
    row_number BIGINT, explained_model_id BIGINT, output TEXT, feature TEXT, value REAL,
    attribution DOUBLE PRECISION, baseline DOUBLE PRECISION, prediction DOUBLE PRECISION,
    output_space TEXT, explanation_method TEXT, approximation_error DOUBLE PRECISION
) LANGUAGE plpgsql STABLE AS $body$
BEGIN
    IF sample_size IS NULL OR sample_size < 1 THEN
        RAISE EXCEPTION 'sample_size must be at least 1, got %', coalesce(sample_size::text, 'NULL')
            USING ERRCODE = '22023', HINT = 'the number of rows to explain, for example 100';
    END IF;
    -- the sample: the rows ordered by a hash of their values, so a call explains the same rows
    -- again (as long as the relation holds them)
    RETURN QUERY EXECUTE format(
        'SELECT s.n, e.* FROM (SELECT row_number() OVER (ORDER BY hashtext(r::text), r::text) AS n, r
                               FROM %s r ORDER BY hashtext(r::text), r::text LIMIT $1) s,
                 LATERAL pgml.explain_row($2, s.r, $3, $4, $5) e
         ORDER BY s.n',
        relation_name::regclass)
    USING sample_size, project_name, top_k, stage, method;
END
$body$;
"#,
    name = "explain_relation",
    requires = [explain_row]
);

/// A training's global explanation as `pgml.models.explanation` stores it: each feature by
/// name with its mean |attribution|, the method, the rows averaged and the baseline.
pub(crate) fn global_json(g: &pgml_core::explain::Global, names: &[String]) -> serde_json::Value {
    let features: serde_json::Map<String, serde_json::Value> =
        names.iter().zip(&g.mean_abs_attribution).map(|(n, v)| (n.clone(), serde_json::json!(v))).collect();
    serde_json::json!({ "method": g.method, "rows": g.rows, "baseline": g.baseline, "mean_abs_attribution": features })
}

/// The global explanation of the model a project's stage serves: each feature's mean
/// |attribution| over the training's test rows, largest first.
#[pg_extern(name = "global_explain", stable, parallel_safe)]
fn global_explain_project(
    project_name: &str,
    stage: default!(&str, "'production'"),
) -> TableIterator<
    'static,
    (
        name!(explained_model_id, i64),
        name!(feature, String),
        name!(mean_abs_attribution, f64),
        name!(rank, i32),
        name!(rows, i32),
        name!(method, String),
    ),
> {
    let run = || -> Result<_> {
        let id = crate::store::deployed_model_id(project_name, stage)?;
        global_rows(id)
    };
    run().or_raise()
}

/// The global explanation of one model.
#[pg_extern(name = "global_explain", stable, parallel_safe)]
fn global_explain_model(
    model_id: i64,
) -> TableIterator<
    'static,
    (
        name!(explained_model_id, i64),
        name!(feature, String),
        name!(mean_abs_attribution, f64),
        name!(rank, i32),
        name!(rows, i32),
        name!(method, String),
    ),
> {
    global_rows(model_id).or_raise()
}

#[allow(clippy::type_complexity)]
fn global_rows(model_id: i64) -> Result<TableIterator<'static, (i64, String, f64, i32, i32, String)>> {
    let stored = crate::store::first_row(
        "SELECT explanation, algorithm FROM pgml.models WHERE id = $1",
        &[model_id.into()],
        |r| Ok((r.get::<pgrx::JsonB>(1)?.map(|j| j.0), r.get::<String>(2)?.unwrap_or_default())),
    )?;
    let (explanation, algorithm) = stored.ok_or_else(|| crate::store::unknown_model(model_id))?;
    let Some(e) = explanation else {
        return Err(crate::error::SqlError::from(pgml_core::Error::unsupported(format!(
            "model {model_id} ({algorithm}) has no global explanation"
        )))
        .hint("trainings of XGBoost, LightGBM and linear models from pgml-rs 0.8.0 on store one; retrain the model, or explain rows with pgml.explain"));
    };
    let rows = e["rows"].as_i64().unwrap_or(0) as i32;
    let method = e["method"].as_str().unwrap_or("").to_string();
    let mut features: Vec<(String, f64)> = e["mean_abs_attribution"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap_or(0.0)))
        .collect();
    features.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(TableIterator::new(
        features
            .into_iter()
            .enumerate()
            .map(move |(i, (f, v))| (model_id, f, v, i as i32 + 1, rows, method.clone()))
            .collect::<Vec<_>>(),
    ))
}

/// How much a model relies on each feature: XGBoost's `weight`, `gain`, `cover`, `total_gain`
/// and `total_cover` for tree ensembles (LightGBM's `split` is `weight`, its `gain` is
/// `total_gain`), each output's `coefficient` for linear models (on the model's inputs, after
/// its preprocessing).
#[pg_extern(stable, parallel_safe)]
fn feature_importance(
    model_id: i64,
) -> TableIterator<
    'static,
    (
        name!(feature, String),
        name!(importance_type, String),
        name!(importance, f64),
        name!(output, Option<String>),
    ),
> {
    let run = || -> Result<_> {
        let model = cache::model(model_id)?;
        let importance = model.importance()?;
        let names = input_names(&model);
        let h = &model.header;
        let mut rows = Vec::new();
        for (measure, output, values) in importance.measures {
            let output = output.map(|o| match (h.task, h.classes.len()) {
                (Task::Classification, k) if k > 2 => {
                    h.classes.get(o).map_or(o.to_string(), |c| c.to_string())
                }
                (Task::Classification, _) => h.classes.get(1).map_or("1".into(), |c| c.to_string()),
                _ => "value".into(),
            });
            for (j, v) in values.into_iter().enumerate() {
                rows.push((
                    names.get(j).cloned().unwrap_or_else(|| format!("f{}", j + 1)),
                    measure.to_string(),
                    v,
                    output.clone(),
                ));
            }
        }
        Ok(TableIterator::new(rows))
    };
    run().or_raise()
}

/// The names of a model's inputs: its features', with a one-hot encoded column's indicators
/// named `column=level`.
fn input_names(model: &LoadedModel) -> Vec<String> {
    let h = &model.header;
    let names = schema::feature_names(&h.features, h.num_features);
    let Some(p) = h.preprocess.as_ref().filter(|p| p.width() != h.num_features) else { return names };
    let sources = p.sources();
    let mut out = Vec::with_capacity(sources.len());
    for (i, &s) in sources.iter().enumerate() {
        let k = sources[..i].iter().filter(|&&x| x == s).count();
        let name = names.get(s).cloned().unwrap_or_else(|| format!("f{}", s + 1));
        let column = h.features.iter().find(|c| c.name == name);
        out.push(match column.and_then(|c| c.levels.get(k)) {
            Some(level) => format!("{name}={level}"),
            None => format!("{name}#{}", k + 1),
        });
    }
    out
}
