//! `pgml.train`: read the relation, train in the core, store the model, and deploy it if
//! its key metric beats the deployed model's.

use crate::error::{OrRaise, Result, SqlError};
use crate::lifecycle;
use crate::relation;
use crate::store::{self, Event, NewModel, Project};
use pgml_core::algorithms::Algorithm;
use pgml_core::data::preprocess::Spec;
use pgml_core::data::split::Sampling;
use pgml_core::lifecycle::deploy::key_metric;
use pgml_core::search::Search;
use pgml_core::training::{self, TrainRequest};
use pgml_core::Task;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::json;

type TrainRow = TableIterator<
    'static,
    (name!(project, String), name!(task, String), name!(algorithm, String), name!(deployed, bool)),
>;

/// Every model of every project splits its data with this seed, so models trained on the same
/// relation are scored on the same test rows and `best_score` compares like with like.
const SPLIT_SEED: u64 = 42;

#[allow(clippy::too_many_arguments)]
#[pg_extern(name = "train")]
fn train(
    project_name: &str,
    task: default!(Option<&str>, "NULL"),
    relation_name: default!(Option<&str>, "NULL"),
    y_column_name: default!(Option<&str>, "NULL"),
    algorithm: default!(&str, "'linear'"),
    hyperparams: default!(JsonB, "'{}'"),
    search: default!(Option<&str>, "NULL"),
    search_params: default!(JsonB, "'{}'"),
    search_args: default!(JsonB, "'{}'"),
    test_size: default!(f32, 0.25),
    test_sampling: default!(&str, "'stratified'"),
    runtime: default!(Option<&str>, "NULL"),
    automatic_deploy: default!(Option<bool>, true),
    materialize_snapshot: default!(bool, false),
    preprocess: default!(JsonB, "'{}'"),
) -> TableIterator<
    'static,
    (name!(project, String), name!(task, String), name!(algorithm, String), name!(deployed, bool)),
> {
    let args = Args {
        project_name,
        task,
        relation_name,
        y_columns: y_column_name.map(|y| vec![y.to_string()]),
        joint: false,
        algorithm,
        hyperparams: hyperparams.0,
        search,
        search_params: search_params.0,
        search_args: search_args.0,
        test_size,
        test_sampling,
        runtime,
        automatic_deploy: automatic_deploy.unwrap_or(true),
        materialize_snapshot,
        preprocess: preprocess.0,
    };
    run(args).or_raise()
}

/// Multi-target regression: one model per label column, predicted together by
/// `pgml.predict_joint`. The other arguments are `pgml.train`'s.
#[allow(clippy::too_many_arguments)]
#[pg_extern(name = "train_joint")]
fn train_joint(
    project_name: &str,
    task: default!(Option<&str>, "NULL"),
    relation_name: default!(Option<&str>, "NULL"),
    y_column_name: default!(Option<Vec<String>>, "NULL"),
    algorithm: default!(&str, "'linear'"),
    hyperparams: default!(JsonB, "'{}'"),
    search: default!(Option<&str>, "NULL"),
    search_params: default!(JsonB, "'{}'"),
    search_args: default!(JsonB, "'{}'"),
    test_size: default!(f32, 0.25),
    test_sampling: default!(&str, "'stratified'"),
    runtime: default!(Option<&str>, "NULL"),
    automatic_deploy: default!(Option<bool>, true),
    materialize_snapshot: default!(bool, false),
    preprocess: default!(JsonB, "'{}'"),
) -> TableIterator<
    'static,
    (name!(project, String), name!(task, String), name!(algorithm, String), name!(deployed, bool)),
> {
    let args = Args {
        project_name,
        task,
        relation_name,
        y_columns: y_column_name,
        joint: true,
        algorithm,
        hyperparams: hyperparams.0,
        search,
        search_params: search_params.0,
        search_args: search_args.0,
        test_size,
        test_sampling,
        runtime,
        automatic_deploy: automatic_deploy.unwrap_or(true),
        materialize_snapshot,
        preprocess: preprocess.0,
    };
    run(args).or_raise()
}

struct Args<'a> {
    project_name: &'a str,
    task: Option<&'a str>,
    relation_name: Option<&'a str>,
    /// The label column(s); None: the project's last ones.
    y_columns: Option<Vec<String>>,
    /// `train_joint`: every label column is a target.
    joint: bool,
    algorithm: &'a str,
    hyperparams: serde_json::Value,
    search: Option<&'a str>,
    search_params: serde_json::Value,
    search_args: serde_json::Value,
    test_size: f32,
    test_sampling: &'a str,
    runtime: Option<&'a str>,
    automatic_deploy: bool,
    materialize_snapshot: bool,
    preprocess: serde_json::Value,
}

fn run(a: Args) -> Result<TrainRow> {
    // before the relation is read and the model trained: a training ends by writing the registry
    store::check_writable()?;
    check_options(&a)?;
    let sampling = Sampling::parse(a.test_sampling)?;
    let existing = store::find_project(a.project_name)?;
    let task = resolve_task(a.project_name, a.task, existing.as_ref())?;
    let algorithm = Algorithm::parse(a.algorithm)?.for_task(task);
    if !a.hyperparams.is_object() {
        return Err(SqlError::invalid(format!("hyperparams must be a JSON object, got {}", a.hyperparams)));
    }
    algorithm.validate(task, &a.hyperparams)?;
    let search = a
        .search
        .map(|kind| {
            Search::parse(kind, &a.search_params, &a.search_args, &a.hyperparams, algorithm, task, SPLIT_SEED)
        })
        .transpose()?;
    let preprocess = Spec::parse(&a.preprocess)?;
    let (relation_name, labels) = source(&a, task, existing.as_ref())?;

    let mut data = relation::read(&relation_name, &labels, task, &preprocess.imputed_columns())?;
    let project = match existing {
        Some(p) => p,
        None => store::create_project(a.project_name, task)?,
    };
    let model_id = begin_model(&a, &project, &data, &labels, sampling, algorithm)?;
    let req = TrainRequest {
        task,
        algorithm,
        hyperparams: &a.hyperparams,
        x: std::mem::take(&mut data.x),
        y: std::mem::take(&mut data.y),
        features: data.columns.clone(),
        test_size: a.test_size,
        sampling,
        seed: SPLIT_SEED,
        search,
        preprocess,
        targets: labels.len().max(1),
    };
    let outcome = train_stored(req, model_id)?;
    let key = key_metric(task, &outcome.metrics);
    record_outcome(&project, model_id, &data, algorithm, outcome)?;
    let deployed = lifecycle::auto_deploy(&project, model_id, key, a.automatic_deploy)?;
    Ok(TableIterator::once((project.name, task.name().to_string(), algorithm.name().to_string(), deployed)))
}

/// Stores the snapshot of the relation and the model row about to be trained
/// ('in_progress'); returns the model's id.
fn begin_model(
    a: &Args,
    project: &Project,
    data: &relation::Data,
    labels: &[String],
    sampling: Sampling,
    algorithm: Algorithm,
) -> Result<i64> {
    let snapshot_id = store::insert_snapshot(
        &data.qualified,
        labels,
        a.test_size,
        sampling.name(),
        serde_json::to_value(&data.columns).unwrap_or_default(),
        json!({ "rows": data.x.rows, "features": data.x.cols }),
    )?;
    store::insert_model(NewModel {
        project_id: project.id,
        snapshot_id: Some(snapshot_id),
        num_features: data.x.cols as i32,
        algorithm: algorithm.name(),
        hyperparams: &a.hyperparams,
        search: a.search,
        search_params: &a.search_params,
        search_args: &a.search_args,
    })
}

/// Trains, the model's bytes written to the registry as the training makes them: a forest
/// tree by tree, so it is never held whole.
fn train_stored(req: TrainRequest, model_id: i64) -> Result<training::TrainOutcome> {
    let mut parts = store::ModelParts::new(model_id);
    let mut failed = None;
    let outcome = {
        let mut sink = |bytes: &[u8]| {
            parts.write(bytes).map_err(|e| {
                failed = Some(e);
                pgml_core::Error::Internal("the model could not be stored".into())
            })
        };
        training::train_into(
            req,
            &|| {
                pgrx::check_for_interrupts!();
            },
            &mut |progress| notice!("{progress}"),
            &mut sink,
        )
    };
    let outcome = match (outcome, failed) {
        (Err(_), Some(storing)) => return Err(storing),
        (outcome, _) => outcome?,
    };
    parts.finish()?;
    Ok(outcome)
}

/// The relation and labels to read: the arguments, else the project's last snapshot's. One
/// label for `train` of a supervised task, two or more for `train_joint`, none otherwise.
fn source(a: &Args, task: Task, existing: Option<&Project>) -> Result<(String, Vec<String>)> {
    let last = match existing {
        Some(p) => store::last_snapshot(p.id)?,
        None => None,
    };
    let relation_name =
        a.relation_name.map(str::to_string).or_else(|| last.as_ref().map(|s| s.relation_name.clone()));
    let relation_name = relation_name.ok_or_else(|| {
        SqlError::invalid(format!(
            "relation_name is required to train the new project \"{}\"",
            a.project_name
        ))
    })?;
    if !task.is_supervised() {
        return Ok((relation_name, Vec::new()));
    }
    let mut labels =
        a.y_columns.clone().or_else(|| last.map(|s| s.y_column_name)).filter(|l| !l.is_empty()).ok_or_else(
            || SqlError::invalid(format!("y_column_name is required for a {} project", task.name())),
        )?;
    if a.joint && labels.len() < 2 {
        return Err(SqlError::invalid(format!(
            "train_joint needs two or more y columns, got {}",
            labels.len()
        ))
        .hint("pass y_column_name => ARRAY['a', 'b'], or use pgml.train for one label"));
    }
    if !a.joint {
        labels.truncate(1);
    }
    Ok((relation_name, labels))
}

/// Records the trained model's metrics (NaN as JSON null) and hyperparameters, its drift
/// references, and the training in the audit log.
fn record_outcome(
    project: &Project,
    model_id: i64,
    data: &relation::Data,
    algorithm: Algorithm,
    outcome: training::TrainOutcome,
) -> Result<()> {
    let mut metrics: serde_json::Map<_, _> = outcome
        .metrics
        .iter()
        .map(|(k, v)| (k.clone(), if v.is_finite() { json!(v) } else { serde_json::Value::Null }))
        .collect();
    if let Some(results) = outcome.search_results {
        metrics.insert("search_results".into(), results);
    }
    store::finish_model(model_id, outcome.hyperparams, serde_json::Value::Object(metrics))?;
    if let Some(global) = &outcome.explanation {
        let names = pgml_core::data::schema::feature_names(
            &data.columns,
            pgml_core::data::schema::width(&data.columns),
        );
        store::set_explanation(model_id, crate::api::explain::global_json(global, &names))?;
    }
    if let Some(evaluation) = &outcome.evaluation {
        store::set_evaluation(model_id, serde_json::to_value(evaluation).unwrap_or_default())?;
    }
    store::insert_drift_reference(
        model_id,
        serde_json::to_value(&outcome.feature_references).unwrap_or_default(),
        serde_json::to_value(&outcome.prediction_reference).unwrap_or_default(),
    )?;
    let key = project.task.key_metric();
    store::audit(Event {
        event: "train",
        project: Some(&project.name),
        model_id: Some(model_id),
        stage: None,
        details: json!({
            "algorithm": algorithm.name(),
            "relation": data.qualified,
            key: outcome.metrics.get(key).filter(|v| v.is_finite()),
        }),
    })
}

/// Options accepted for compatibility that this build does not act on refuse or say so.
fn check_options(a: &Args) -> Result<()> {
    match a.runtime {
        None | Some("rust") => {}
        Some("python") => notice!(
            "pgml-rs runs every algorithm natively in Rust; runtime => 'python' is accepted and ignored"
        ),
        Some(other) => {
            return Err(
                SqlError::invalid(format!("unknown runtime \"{other}\"")).hint("use 'rust' or 'python'")
            )
        }
    }
    if a.materialize_snapshot {
        notice!(
            "materialize_snapshot is not supported yet; the snapshot records the relation name and columns"
        );
    }
    Ok(())
}

/// The project's task: the stored one for an existing project (a different one is refused),
/// the argument for a new project.
fn resolve_task(project_name: &str, task: Option<&str>, existing: Option<&Project>) -> Result<Task> {
    let requested = task.map(Task::parse).transpose()?;
    match (existing, requested) {
        (Some(p), Some(t)) if p.task != t => Err(SqlError::invalid(format!(
            "project \"{project_name}\" is a {} project; it cannot train a {} model",
            p.task.name(),
            t.name()
        ))
        .hint("use another project name for another task")),
        (Some(p), _) => Ok(p.task),
        (None, Some(t)) => Ok(t),
        (None, None) => {
            Err(SqlError::invalid(format!("task is required to train the new project \"{project_name}\""))
                .hint("pass task => 'regression', 'classification', 'clustering' or 'decomposition'"))
        }
    }
}
