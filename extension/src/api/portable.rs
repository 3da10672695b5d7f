//! `pgml.export` and `pgml.import`: a stored model as a file other tools read, and a model
//! trained elsewhere as an ordinary model version of a project (deployed by the same rules,
//! served, replicated and backed up like any other). The formats live in
//! `pgml_core::portable`; this file reads and writes the registry.

use crate::error::{OrRaise, Result, SqlError};
use crate::lifecycle;
use crate::privilege;
use crate::relation::{self, Column, Kind};
use crate::store::{self, Event, NewModel};
use pgml_core::artifact::Header;
use pgml_core::data::schema;
use pgml_core::data::Matrix;
use pgml_core::lifecycle::deploy::key_metric;
use pgml_core::portable::{self, Format, Imported, Manifest};
use pgml_core::training;
use pgml_core::Task;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{json, Value};

/// A stored model as a file: `bundle` (another pgml-rs database imports it), `xgboost` (UBJ),
/// `xgboost_json` or `lightgbm` (text).
#[pg_extern(name = "export", stable)]
fn export(model_id: i64, format: default!(&str, "'bundle'")) -> Vec<u8> {
    export_model(model_id, format).or_raise()
}

fn export_model(model_id: i64, format: &str) -> Result<Vec<u8>> {
    let format = Format::parse(format)?;
    let stored = store::model_bytes(model_id)?;
    let facts = if format == Format::Bundle { Some(manifest_facts(model_id)?) } else { None };
    let file = portable::export(&stored, format, |header: &Header| {
        let (project, metrics, hyperparams, created_at) = facts.unwrap_or_default();
        Manifest {
            pgml_rs: env!("CARGO_PKG_VERSION").into(),
            project,
            task: header.task,
            algorithm: header.algorithm.clone(),
            model_id,
            features: header.features.clone(),
            classes: header.classes.clone(),
            preprocess: header.preprocess.as_ref().and_then(|p| serde_json::to_value(p).ok()),
            hyperparams,
            metrics,
            created_at: Some(created_at),
        }
    })?;
    Ok(file)
}

/// The registry's facts of a model that its bundle's manifest carries.
fn manifest_facts(model_id: i64) -> Result<(String, Value, Value, String)> {
    let row = store::first_row(
        "SELECT p.name, m.metrics, m.hyperparams, to_char(m.created_at, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')
         FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE m.id = $1",
        &[model_id.into()],
        |r| {
            Ok((
                r.get::<String>(1)?.unwrap_or_default(),
                r.get::<JsonB>(2)?.map_or(Value::Null, |j| j.0),
                r.get::<JsonB>(3)?.map_or(Value::Null, |j| j.0),
                r.get::<String>(4)?.unwrap_or_default(),
            ))
        },
    )?;
    row.ok_or_else(|| store::unknown_model(model_id))
}

/// Imports a model file into a project (created if new) and returns the new model's id.
/// `format` NULL: sniffed from the bytes. `features`: the model's inputs by name, in order
/// (NULL: the names the file holds, else the holdout relation's columns). With
/// `relation_name` and `y_column_name`, the model is scored on that holdout with the task's
/// metrics, and deployed by `pgml.train`'s rule; without, it keeps a bundle's metrics or has
/// none, and is deployed only as the project's first model.
#[allow(clippy::too_many_arguments)]
#[pg_extern(name = "import")]
fn import(
    project_name: &str,
    task: Option<&str>,
    model: &[u8],
    format: default!(Option<&str>, "NULL"),
    features: default!(Option<Vec<String>>, "NULL"),
    relation_name: default!(Option<&str>, "NULL"),
    y_column_name: default!(Option<&str>, "NULL"),
    automatic_deploy: default!(Option<bool>, true),
) -> i64 {
    let args = Args { project_name, task, model, format, features, relation_name, y_column_name };
    import_model(args, automatic_deploy.unwrap_or(true)).or_raise()
}

struct Args<'a> {
    project_name: &'a str,
    task: Option<&'a str>,
    model: &'a [u8],
    format: Option<&'a str>,
    features: Option<Vec<String>>,
    relation_name: Option<&'a str>,
    y_column_name: Option<&'a str>,
}

fn import_model(a: Args, automatic_deploy: bool) -> Result<i64> {
    store::check_writable()?;
    let format = a.format.map(Format::parse).transpose()?;
    if a.relation_name.is_some() != a.y_column_name.is_some() {
        return Err(SqlError::invalid("relation_name and y_column_name go together")
            .hint("name the holdout relation and its label column, or neither"));
    }
    let existing = store::find_project(a.project_name)?;
    let requested = a.task.map(Task::parse).transpose()?;
    // the file first (its checks need no database), then the holdout in the model's order
    let imported = portable::import(a.model, format, None)?;
    let task = imported.header.task;
    check_task(a.project_name, task, requested, existing.as_ref().map(|p| p.task))?;
    let (imported, holdout) = match (a.relation_name, a.y_column_name) {
        (Some(relation_name), Some(y)) => {
            let (imported, holdout) = read_holdout(imported, relation_name, y, a.features.as_deref())?;
            (imported.observe(&holdout.data.x)?, Some(holdout))
        }
        _ => match &a.features {
            Some(names) => (with_names(imported, names)?, None),
            None => (imported, None),
        },
    };
    let project = match existing {
        Some(p) => p,
        None => store::create_project(a.project_name, task)?,
    };
    let snapshot_id = match &holdout {
        Some(h) => Some(store::insert_snapshot(
            &h.data.qualified,
            &h.labels,
            1.0,
            "last",
            serde_json::to_value(&imported.header.features).unwrap_or_default(),
            json!({ "rows": h.data.x.rows, "features": h.data.x.cols, "holdout": true }),
        )?),
        None => None,
    };
    let algorithm = imported.header.algorithm.clone();
    let hyperparams = imported.manifest.as_ref().map_or(json!({}), |m| m.hyperparams.clone());
    let hyperparams = if hyperparams.is_object() { hyperparams } else { json!({}) };
    let model_id = store::insert_model(NewModel {
        project_id: project.id,
        snapshot_id,
        num_features: imported.header.num_features as i32,
        algorithm: &algorithm,
        hyperparams: &hyperparams,
        search: None,
        search_params: &json!({}),
        search_args: &json!({}),
    })?;
    let mut parts = store::ModelParts::new(model_id);
    parts.write(&imported.stored)?;
    parts.finish()?;
    let (metrics, assessed, explanation) = match &holdout {
        Some(h) => {
            let loaded = pgml_core::artifact::LoadedModel::from_bytes(&imported.stored)?;
            let a = training::assess(&loaded, &h.data.x, &h.data.y)?;
            // the global explanation over the holdout, as a training's over its test rows
            let explanation = loaded.global_explanation(&h.data.x, std::time::Duration::from_secs(2));
            (a.metrics.clone(), Some(a), explanation)
        }
        None => (manifest_metrics(imported.manifest.as_ref()), None, None),
    };
    let key = key_metric(task, &metrics);
    let metrics_json: serde_json::Map<String, Value> = metrics
        .iter()
        .map(|(k, v)| (k.clone(), if v.is_finite() { json!(v) } else { Value::Null }))
        .collect();
    store::finish_model(model_id, hyperparams, Value::Object(metrics_json))?;
    if let Some(g) = &explanation {
        let names = schema::feature_names(&imported.header.features, imported.header.num_features);
        store::set_explanation(model_id, crate::api::explain::global_json(g, &names))?;
    }
    let origin = origin(&imported, a.model.len());
    store::set_origin(model_id, origin.clone())?;
    if let Some(e) = assessed.as_ref().and_then(|a| a.evaluation.as_ref()) {
        store::set_evaluation(model_id, serde_json::to_value(e).unwrap_or_default())?;
    }
    if let Some(a) = assessed {
        store::insert_drift_reference(
            model_id,
            serde_json::to_value(&a.feature_references).unwrap_or_default(),
            serde_json::to_value(&a.prediction_reference).unwrap_or_default(),
        )?;
    }
    let key_name = task.key_metric();
    store::audit(Event {
        event: "import",
        project: Some(&project.name),
        model_id: Some(model_id),
        stage: None,
        details: json!({ "algorithm": algorithm, "origin": origin, key_name: key.filter(|v| v.is_finite()) }),
    })?;
    lifecycle::auto_deploy(&project, model_id, key, automatic_deploy)?;
    Ok(model_id)
}

/// Where an imported model came from, as `pgml.models.origin` records it.
fn origin(imported: &Imported, bytes: usize) -> Value {
    let mut origin = json!({
        "format": imported.format.name(),
        "bytes": bytes,
        "imported_by": privilege::caller(),
        "features": schema::feature_names(&imported.header.features, imported.header.num_features),
    });
    if let Some(m) = &imported.manifest {
        origin["from"] = json!({ "project": m.project, "model_id": m.model_id, "pgml_rs": m.pgml_rs, "created_at": m.created_at });
    }
    origin
}

/// A bundle's metrics (measured on the test split of the database it came from).
fn manifest_metrics(manifest: Option<&Manifest>) -> pgml_core::metrics::Metrics {
    let Some(Value::Object(map)) = manifest.map(|m| &m.metrics) else { return Default::default() };
    map.iter().filter_map(|(k, v)| v.as_f64().map(|v| (k.clone(), v))).collect()
}

/// The task of the file must be the project's and the one asked for.
fn check_task(project: &str, file: Task, requested: Option<Task>, existing: Option<Task>) -> Result<()> {
    if let Some(t) = requested.filter(|t| *t != file) {
        return Err(SqlError::invalid(format!(
            "the model file holds a {} model, not a {} one",
            file.name(),
            t.name()
        )));
    }
    if let Some(t) = existing.filter(|t| *t != file) {
        return Err(SqlError::invalid(format!(
            "project \"{project}\" is a {} project; the model file holds a {} model",
            t.name(),
            file.name()
        ))
        .hint("import it into another project"));
    }
    Ok(())
}

/// The model's inputs named by the caller, as numeric columns.
fn with_names(imported: Imported, names: &[String]) -> Result<Imported> {
    let columns = names
        .iter()
        .map(|n| Column {
            name: n.clone(),
            pg_type: "real".into(),
            kind: Kind::Numeric,
            size: 1,
            levels: vec![],
        })
        .collect();
    Ok(imported.with_features(columns)?)
}

struct Holdout {
    data: relation::Data,
    labels: Vec<String>,
}

/// Reads the holdout relation: its label, and the model's features in the model's order —
/// the names given, else the model's own names when the relation has them all, else every
/// other column in the relation's order. The model takes those columns' names from then on.
fn read_holdout(
    imported: Imported,
    relation_name: &str,
    y: &str,
    names: Option<&[String]>,
) -> Result<(Imported, Holdout)> {
    let header = &imported.header;
    let own = schema::feature_names(&header.features, header.num_features);
    let labels = vec![y.to_string()];
    // NULL features are missing values (NaN), which the boosters route by their own rule
    let mut imputed: Vec<String> = own.clone();
    imputed.extend(names.into_iter().flatten().cloned());
    let mut data = relation::read(relation_name, &labels, header.task, &imputed)?;
    let available: Vec<String> = data.columns.iter().map(|c| c.name.clone()).collect();
    let wanted: Vec<String> = match names {
        Some(n) => n.to_vec(),
        None if !header.features.is_empty() && own.iter().all(|n| available.contains(n)) => {
            header.features.iter().map(|c| c.name.clone()).collect()
        }
        None => available.clone(),
    };
    if let Some(missing) = wanted.iter().find(|n| !available.contains(n)) {
        return Err(SqlError::undefined(format!("relation {} has no column \"{missing}\"", data.qualified))
            .hint(format!("its columns besides the label: {}", available.join(", "))));
    }
    let (columns, x) = select_columns(&data.columns, &data.x, &wanted);
    data.columns = columns.clone();
    data.x = x;
    Ok((imported.with_features(columns)?, Holdout { data, labels }))
}

/// The columns `names` of a matrix whose columns are `columns`, in that order.
fn select_columns(columns: &[Column], x: &Matrix, names: &[String]) -> (Vec<Column>, Matrix) {
    let mut offset = Vec::with_capacity(columns.len());
    let mut at = 0;
    for c in columns {
        offset.push(at);
        at += c.size;
    }
    let picked: Vec<usize> = names.iter().filter_map(|n| columns.iter().position(|c| &c.name == n)).collect();
    let chosen: Vec<Column> = picked.iter().map(|&i| columns[i].clone()).collect();
    let width: usize = chosen.iter().map(|c| c.size).sum();
    let mut data = Vec::with_capacity(x.rows * width);
    for r in 0..x.rows {
        let row = x.row(r);
        for &i in &picked {
            data.extend_from_slice(&row[offset[i]..offset[i] + columns[i].size]);
        }
    }
    (chosen, Matrix { data, rows: x.rows, cols: width })
}
