//! Registry reads and writes over SPI. Every query is parameterised; identifiers never come
//! from user text except through `relation.rs`'s quoting. Reads run as the caller (the
//! registry is readable by every pgml role); every write runs as the extension's owner
//! (`privilege::as_owner`), so roles cannot write the registry except through these functions.

mod lifecycle;
pub mod monitoring;
pub use lifecycle::*;

use crate::error::{Result, SqlError};
use crate::privilege::{as_owner, caller};
use crate::scratch::Scratch;
use pgml_core::lifecycle::deploy::{Candidate, Strategy};
use pgml_core::lifecycle::gates::PRODUCTION;
use pgml_core::Task;
use pgrx::datum::DatumWithOid;
use pgrx::prelude::*;
use pgrx::spi::SpiTupleTable;
use pgrx::{FromDatum, IntoDatum, JsonB, PgSqlErrorCode};

/// Runs a read-only query and reads its first row with `read`; None when there is no row
/// (`Spi::get_one*` would return an error for that).
pub fn first_row<T>(
    query: &str,
    args: &[DatumWithOid],
    read: impl FnOnce(&SpiTupleTable) -> Result<T>,
) -> Result<Option<T>> {
    Spi::connect(|c| {
        let t = c.select(query, Some(1), args)?;
        if t.is_empty() {
            return Ok(None);
        }
        read(&t.first()).map(Some)
    })
}

/// `first_row` for a statement that locks or writes (`FOR UPDATE`, `RETURNING`): SPI runs
/// `first_row`'s queries read-only.
pub fn first_row_mut<T>(
    query: &str,
    args: &[DatumWithOid],
    read: impl FnOnce(&SpiTupleTable) -> Result<T>,
) -> Result<Option<T>> {
    check_writable()?;
    Spi::connect_mut(|c| {
        let t = c.update(query, Some(1), args)?;
        if t.is_empty() {
            return Ok(None);
        }
        read(&t.first()).map(Some)
    })
}

/// Runs a statement that writes or locks.
pub fn execute(query: &str, args: &[DatumWithOid]) -> Result<()> {
    check_writable()?;
    Spi::run_with_args(query, args)?;
    Ok(())
}

/// Runs a statement that writes and returns one value (`INSERT … RETURNING id`); None when it
/// returned no row.
pub fn write_value<T: FromDatum + IntoDatum>(query: &str, args: &[DatumWithOid]) -> Result<Option<T>> {
    Ok(first_row_mut(query, args, |r| Ok(r.get::<T>(1)?))?.flatten())
}

/// Refuses a write of the registry where PostgreSQL refuses writes: on a hot standby and in a
/// read-only transaction, with PostgreSQL's SQLSTATE for them (25006). pgrx's writing SPI asks
/// for a transaction id before the statement even runs, which fails there as an internal error
/// (XX000). Every write goes through `first_row_mut` or `execute`, which check this first; a
/// long call (a training) checks it before it starts.
pub fn check_writable() -> Result<()> {
    // SAFETY: reads of the server's recovery state and of the transaction's read-only flag
    let (standby, read_only) = unsafe { (pg_sys::RecoveryInProgress(), pg_sys::XactReadOnly) };
    let refuse = |message: &str, hint: &str| {
        Err(SqlError::new(PgSqlErrorCode::ERRCODE_READ_ONLY_SQL_TRANSACTION, message).hint(hint))
    };
    if standby {
        return refuse(
            "cannot write the pgml registry on a hot standby",
            "train, deploy, promote and load datasets on the primary; predictions, drift and the registry's views work on a standby",
        );
    }
    if read_only {
        return refuse(
            "cannot write the pgml registry in a read-only transaction",
            "run it in a read-write transaction; predictions, drift and the registry's views work in a read-only one",
        );
    }
    Ok(())
}

/// A project row.
pub struct Project {
    pub id: i64,
    pub name: String,
    pub task: Task,
}

/// The snapshot a project last trained from.
pub struct Snapshot {
    pub relation_name: String,
    /// The label columns (one, or several for a joint model).
    pub y_column_name: Vec<String>,
}

pub fn find_project(name: &str) -> Result<Option<Project>> {
    let row = first_row("SELECT id, task::text FROM pgml.projects WHERE name = $1", &[name.into()], |r| {
        Ok((r.get::<i64>(1)?.unwrap_or_default(), r.get::<String>(2)?.unwrap_or_default()))
    })?;
    row.map(|(id, task)| Ok(Project { id, name: name.to_string(), task: Task::parse(&task)? })).transpose()
}

pub fn project(name: &str) -> Result<Project> {
    find_project(name)?.ok_or_else(|| unknown_project(name))
}

pub fn unknown_project(name: &str) -> SqlError {
    SqlError::undefined(format!("project \"{name}\" does not exist"))
        .hint("train it first with pgml.train, or see SELECT name FROM pgml.projects")
}

/// Creates a project with its default stages, `staging` and `production`, created by the
/// caller. Release 0.1.0 made the stages in a trigger, which a restore's rows also fired; until
/// ALTER EXTENSION pgml UPDATE drops it from a database, the trigger makes them there.
pub fn create_project(name: &str, task: Task) -> Result<Project> {
    let who = caller();
    let id: Option<i64> = as_owner(|| {
        write_value(
            "WITH p AS (INSERT INTO pgml.projects (name, task) VALUES ($1, $2::pgml.task) RETURNING id),
                  s AS (INSERT INTO pgml.stages (project_id, name, created_by)
                        SELECT p.id, stage, $3 FROM p, unnest(ARRAY['staging', 'production']) stage
                        WHERE NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'pgml.projects'::regclass
                                                                   AND tgname = 'projects_default_stages'))
             SELECT id FROM p",
            &[name.into(), task.name().into(), who.into()],
        )
    })?;
    Ok(Project { id: id.unwrap_or_default(), name: name.to_string(), task })
}

/// Serialises deployments of one project: the row lock is held to the end of the transaction.
pub fn lock_project(id: i64) -> Result<()> {
    as_owner(|| {
        execute("SELECT 1 FROM pgml.projects WHERE id = $1 FOR UPDATE", &[id.into()])?;
        Ok(())
    })
}

pub fn last_snapshot(project_id: i64) -> Result<Option<Snapshot>> {
    first_row(
        "SELECT s.relation_name, s.y_column_name
         FROM pgml.snapshots s JOIN pgml.models m ON m.snapshot_id = s.id
         WHERE m.project_id = $1 ORDER BY m.id DESC LIMIT 1",
        &[project_id.into()],
        |r| {
            Ok(Snapshot {
                relation_name: r.get(1)?.unwrap_or_default(),
                y_column_name: r.get::<Vec<String>>(2)?.unwrap_or_default(),
            })
        },
    )
}

pub fn insert_snapshot(
    relation_name: &str,
    y_column_name: &[String],
    test_size: f32,
    test_sampling: &str,
    columns: serde_json::Value,
    analysis: serde_json::Value,
) -> Result<i64> {
    let y: Option<Vec<String>> = (!y_column_name.is_empty()).then(|| y_column_name.to_vec());
    let id: Option<i64> = as_owner(|| {
        write_value(
        "INSERT INTO pgml.snapshots (relation_name, y_column_name, test_size, test_sampling, status, columns, analysis)
         VALUES ($1, $2, $3, $4::pgml.sampling, 'snapshotted', $5, $6) RETURNING id",
        &[
            relation_name.into(),
            y.into(),
            test_size.into(),
            test_sampling.into(),
            JsonB(columns).into(),
            JsonB(analysis).into(),
        ],
    )
    })?;
    Ok(id.unwrap_or_default())
}

/// A model row before its training.
pub struct NewModel<'a> {
    pub project_id: i64,
    pub snapshot_id: Option<i64>,
    pub num_features: i32,
    pub algorithm: &'a str,
    pub hyperparams: &'a serde_json::Value,
    pub search: Option<&'a str>,
    pub search_params: &'a serde_json::Value,
    pub search_args: &'a serde_json::Value,
}

/// Inserts a model about to be trained: status 'in_progress' and no metrics, as PostgresML
/// does. The training writes its bytes (`ModelParts`), then `finish_model` records the
/// outcome; a failed training rolls the row back with the statement.
pub fn insert_model(m: NewModel) -> Result<i64> {
    as_owner(|| {
        let id: Option<i64> = write_value(
            "INSERT INTO pgml.models (project_id, snapshot_id, num_features, algorithm, runtime, hyperparams,
                                      status, search, search_params, search_args)
             VALUES ($1, $2, $3, $4, 'rust', $5, 'in_progress', $6, $7, $8) RETURNING id",
            &[
                m.project_id.into(),
                m.snapshot_id.into(),
                m.num_features.into(),
                m.algorithm.into(),
                JsonB(m.hyperparams.clone()).into(),
                m.search.into(),
                JsonB(m.search_params.clone()).into(),
                JsonB(m.search_args.clone()).into(),
            ],
        )?;
        Ok(id.unwrap_or_default())
    })
}

/// Records a trained model's metrics and the hyperparameters it was trained with (a search's
/// best), and marks it 'successful'.
pub fn finish_model(id: i64, hyperparams: serde_json::Value, metrics: serde_json::Value) -> Result<()> {
    as_owner(|| {
        execute(
            "UPDATE pgml.models SET hyperparams = $2, metrics = $3, status = 'successful',
                                    updated_at = clock_timestamp()
             WHERE id = $1",
            &[id.into(), JsonB(hyperparams).into(), JsonB(metrics).into()],
        )?;
        Ok(())
    })
}

/// Records where an imported model came from (`pgml.models.origin`; NULL for a model trained
/// here).
pub fn set_origin(id: i64, origin: serde_json::Value) -> Result<()> {
    as_owner(|| {
        execute("UPDATE pgml.models SET origin = $2 WHERE id = $1", &[id.into(), JsonB(origin).into()])
    })
}

/// Records a model's global explanation (`pgml.models.explanation`, 0.8.0 and later: a
/// database not yet updated trains without it).
pub fn set_explanation(id: i64, explanation: serde_json::Value) -> Result<()> {
    set_later_column(id, "explanation", explanation)
}

/// Records a model's evaluation (`pgml.models.evaluation`, 0.9.0 and later: the confusion
/// matrix and curves, or predicted and actual values, of its test rows).
pub fn set_evaluation(id: i64, evaluation: serde_json::Value) -> Result<()> {
    set_later_column(id, "evaluation", evaluation)
}

/// Sets a column of `pgml.models` that a later release added, when the database's schema
/// has it: a database not yet updated (`ALTER EXTENSION pgml UPDATE`) goes on without it.
fn set_later_column(id: i64, column: &'static str, value: serde_json::Value) -> Result<()> {
    let has_column = first_row(
        "SELECT EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'pgml.models'::regclass
                          AND attname = $1 AND NOT attisdropped)",
        &[column.into()],
        |r| Ok(r.get::<bool>(1)?),
    )?
    .flatten()
    .unwrap_or(false);
    if !has_column {
        return Ok(());
    }
    as_owner(|| {
        execute(
            &format!("UPDATE pgml.models SET {column} = $2 WHERE id = $1"),
            &[id.into(), JsonB(value).into()],
        )
    })
}

/// Model bytes are stored in parts of this size. A value is at most 1 GB in PostgreSQL, and
/// storing one copies it into the backend's memory, beside a compression buffer as large; a
/// fully grown forest is hundreds of megabytes.
const MODEL_PART: usize = 1 << 20;

/// A model's `model` file, written as parts 0, 1, … of `MODEL_PART` bytes while the training
/// makes them: a forest is written tree by tree and never held whole. Each part's copy lives
/// in its own memory context.
pub struct ModelParts {
    model_id: i64,
    next: i32,
    pending: Vec<u8>,
    scratch: Scratch,
}

impl ModelParts {
    pub fn new(model_id: i64) -> ModelParts {
        ModelParts { model_id, next: 0, pending: Vec::new(), scratch: Scratch::new("pgml model part") }
    }

    /// Appends `bytes` to the file, storing each part as it fills.
    pub fn write(&mut self, mut bytes: &[u8]) -> Result<()> {
        while !bytes.is_empty() {
            if self.pending.is_empty() && bytes.len() >= MODEL_PART {
                let (part, rest) = bytes.split_at(MODEL_PART);
                self.insert(Some(part))?;
                bytes = rest;
                continue;
            }
            let (head, rest) = bytes.split_at(bytes.len().min(MODEL_PART - self.pending.len()));
            self.pending.extend_from_slice(head);
            bytes = rest;
            if self.pending.len() == MODEL_PART {
                self.insert(None)?;
            }
        }
        Ok(())
    }

    /// Stores the last part.
    pub fn finish(mut self) -> Result<()> {
        match self.pending.is_empty() && self.next > 0 {
            true => Ok(()),
            false => self.insert(None),
        }
    }

    /// Stores `part`, or else the pending bytes (and empties them), as the next part.
    fn insert(&mut self, part: Option<&[u8]>) -> Result<()> {
        let (id, number, scratch) = (self.model_id, self.next, &mut self.scratch);
        let data = part.unwrap_or(&self.pending);
        as_owner(|| {
            scratch.run(|| {
                execute(
                    "INSERT INTO pgml.files (model_id, path, part, data) VALUES ($1, 'model', $2, $3)",
                    &[id.into(), number.into(), data.into()],
                )
            })?;
            Ok(())
        })?;
        if part.is_none() {
            self.pending.clear();
        }
        self.next += 1;
        Ok(())
    }
}

/// The model serving a project's stage now, with its key metric.
pub fn deployed(project: &Project, stage: &str) -> Result<Option<(i64, Option<f64>)>> {
    first_row(
        "SELECT d.model_id, (m.metrics ->> $3)::float8
         FROM pgml.stage_deployments d JOIN pgml.models m ON m.id = d.model_id
         WHERE d.project_id = $1 AND d.stage = $2",
        &[project.id.into(), stage.into(), project.task.key_metric().into()],
        |r| Ok((r.get::<i64>(1)?.unwrap_or_default(), r.get::<f64>(2)?.filter(|v| v.is_finite()))),
    )
}

/// The project's models in creation order, with their key metric compared as a number;
/// archived models are not candidates.
pub fn candidates(project: &Project) -> Result<Vec<Candidate>> {
    Spi::connect(|c| {
        let t = c.select(
            "SELECT id, algorithm, (metrics ->> $2)::float8 FROM pgml.models
             WHERE project_id = $1 AND status <> 'archived' ORDER BY id",
            None,
            &[project.id.into(), project.task.key_metric().into()],
        )?;
        let mut out = Vec::new();
        for r in t {
            out.push(Candidate {
                id: r.get(1)?.unwrap_or_default(),
                algorithm: r.get(2)?.unwrap_or_default(),
                key_metric: r.get::<f64>(3)?.filter(|v| v.is_finite()),
            });
        }
        Ok(out)
    })
}

/// The model ids deployed to a stage, newest first.
pub fn history(project_id: i64, stage: &str) -> Result<Vec<i64>> {
    Spi::connect(|c| {
        let t = c.select(
            "SELECT model_id FROM pgml.deployments WHERE project_id = $1 AND stage = $2
             ORDER BY created_at DESC, id DESC",
            None,
            &[project_id.into(), stage.into()],
        )?;
        t.map(|r| Ok(r.get::<i64>(1)?.unwrap_or_default())).collect()
    })
}

/// A deployment row: `model_id` now serves `stage`, put there by the caller.
pub struct NewDeployment<'a> {
    pub project_id: i64,
    pub stage: &'a str,
    pub model_id: i64,
    pub strategy: Strategy,
    pub replaced: Option<i64>,
}

/// Inserts the deployment and its audit event, in one statement. Release 0.1.0 wrote the
/// event from a trigger, which a restore's rows fired too, doubling the trail; until ALTER
/// EXTENSION pgml UPDATE drops it from a database, the trigger writes it there.
pub fn insert_deployment(d: NewDeployment) -> Result<()> {
    let who = caller();
    as_owner(|| {
        execute(
            "WITH d AS (INSERT INTO pgml.deployments (project_id, stage, model_id, strategy, replaced_model_id, deployed_by)
                        VALUES ($1, $2, $3, $4::pgml.strategy, $5, $6)
                        RETURNING id, project_id, stage, model_id, strategy, replaced_model_id, deployed_by)
             INSERT INTO pgml.audit_log (event, role, project, model_id, stage, details)
             SELECT $7, d.deployed_by, p.name, d.model_id, d.stage,
                    jsonb_strip_nulls(jsonb_build_object('deployment_id', d.id, 'strategy', d.strategy,
                                       'replaced_model_id', d.replaced_model_id, 'reason', $8::text))
                    || jsonb_build_object('replaced_model_id', d.replaced_model_id)
             FROM d JOIN pgml.projects p ON p.id = d.project_id
             WHERE NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = 'pgml.deployments'::regclass
                                                        AND tgname = 'deployments_audit')",
            &[
                d.project_id.into(),
                d.stage.into(),
                d.model_id.into(),
                d.strategy.name().into(),
                d.replaced.into(),
                who.into(),
                d.strategy.audit_event().into(),
                crate::settings::audit_reason().into(),
            ],
        )
    })
}

/// A model's project, algorithm, status and metrics.
pub struct ModelInfo {
    pub project: Project,
    pub algorithm: String,
    pub archived: bool,
    pub metrics: pgml_core::metrics::Metrics,
}

pub fn model_info(model_id: i64) -> Result<ModelInfo> {
    let row = first_row(
        "SELECT p.name, m.algorithm, m.status = 'archived', m.metrics
         FROM pgml.models m JOIN pgml.projects p ON p.id = m.project_id WHERE m.id = $1",
        &[model_id.into()],
        |r| {
            Ok((
                r.get::<String>(1)?.unwrap_or_default(),
                r.get::<String>(2)?.unwrap_or_default(),
                r.get::<bool>(3)?.unwrap_or(false),
                r.get::<JsonB>(4)?.map(|j| j.0),
            ))
        },
    )?;
    let (name, algorithm, archived, metrics) = row.ok_or_else(|| unknown_model(model_id))?;
    Ok(ModelInfo { project: project(&name)?, algorithm, archived, metrics: numeric_metrics(metrics) })
}

/// The numbers of a metrics JSON object (NaN is stored as null and dropped here).
fn numeric_metrics(json: Option<serde_json::Value>) -> pgml_core::metrics::Metrics {
    let Some(serde_json::Value::Object(map)) = json else { return Default::default() };
    map.into_iter().filter_map(|(k, v)| v.as_f64().map(|v| (k, v))).collect()
}

pub fn unknown_model(model_id: i64) -> SqlError {
    SqlError::undefined(format!("model {model_id} does not exist"))
        .hint("see SELECT id, name, algorithm FROM pgml.trained_models")
}

/// A model's stored bytes, its parts joined in order.
pub fn model_bytes(model_id: i64) -> Result<Vec<u8>> {
    let bytes = Spi::connect(|c| -> Result<Option<Vec<u8>>> {
        let mut parts = c.select(
            "SELECT data, sum(octet_length(data)) OVER () FROM pgml.files
             WHERE model_id = $1 AND path = 'model' ORDER BY part",
            None,
            &[model_id.into()],
        )?;
        let mut bytes: Option<Vec<u8>> = None;
        // each part is detoasted into scratch memory and copied out (pgrx's getters detoast
        // into SPI's context, which would hold every part, the model a second time)
        let mut scratch = Scratch::new("pgml model part");
        while parts.next().is_some() {
            let (Some(part), Some(size)) = (parts.get_datum_by_ordinal(1)?, parts.get::<i64>(2)?) else {
                continue;
            };
            scratch.run(|| {
                // SAFETY: `part` is this row's bytea datum
                let part = unsafe { <&[u8]>::from_polymorphic_datum(part, false, pg_sys::BYTEAOID) };
                let joined = bytes.get_or_insert_with(|| Vec::with_capacity(size as usize));
                joined.extend_from_slice(part.unwrap_or_default());
            });
        }
        Ok(bytes)
    })?;
    bytes.ok_or_else(|| unknown_model(model_id))
}

/// The model deployed to a project's stage, for the predict path's cache.
pub fn deployed_model_id(project_name: &str, stage: &str) -> Result<i64> {
    serving_model(&project(project_name)?, stage)
}

/// The model a project's stage serves now; an error when it has none.
pub fn serving_model(project: &Project, stage: &str) -> Result<i64> {
    if let Some((id, _)) = deployed(project, stage)? {
        return Ok(id);
    }
    check_stage(project, stage)?;
    Err(if stage == PRODUCTION {
        SqlError::undefined(format!("project \"{}\" has no deployed model", project.name))
            .hint("deploy one with pgml.deploy(project_name, strategy) or pgml.deploy(model_id)")
    } else {
        SqlError::undefined(format!("stage \"{stage}\" of project \"{}\" serves no model", project.name))
            .hint("deploy one with pgml.deploy(project_name, strategy, stage => ...) or promote one with pgml.promote")
    })
}

/// A model that must belong to `project`: a guard against another project's mistyped id.
pub fn model_of(project: &Project, model_id: i64) -> Result<ModelInfo> {
    let info = model_info(model_id)?;
    if info.project.id != project.id {
        return Err(SqlError::invalid(format!(
            "model {model_id} belongs to project \"{}\", not \"{}\"",
            info.project.name, project.name
        ))
        .hint(format!(
            "see SELECT id, algorithm FROM pgml.trained_models WHERE name = '{}'",
            project.name.replace('\'', "''")
        )));
    }
    Ok(info)
}

pub fn insert_drift_reference(
    model_id: i64,
    features: serde_json::Value,
    predictions: serde_json::Value,
) -> Result<()> {
    as_owner(|| {
        execute(
            "INSERT INTO pgml.drift_references (model_id, features, predictions) VALUES ($1, $2, $3)",
            &[model_id.into(), JsonB(features).into(), JsonB(predictions).into()],
        )?;
        Ok(())
    })
}

/// A model's drift references: (features, predictions).
pub fn drift_reference(model_id: i64) -> Result<Option<(serde_json::Value, serde_json::Value)>> {
    first_row(
        "SELECT features, predictions FROM pgml.drift_references WHERE model_id = $1",
        &[model_id.into()],
        |r| {
            let json =
                |i| -> Result<serde_json::Value> { Ok(r.get::<JsonB>(i)?.map(|j| j.0).unwrap_or_default()) };
            Ok((json(1)?, json(2)?))
        },
    )
}

pub fn drift_settings(project_id: i64) -> Result<serde_json::Value> {
    let v = first_row(
        "SELECT thresholds FROM pgml.drift_settings WHERE project_id = $1",
        &[project_id.into()],
        |r| Ok(r.get::<JsonB>(1)?.map(|j| j.0)),
    )?;
    Ok(v.flatten().unwrap_or(serde_json::Value::Null))
}

pub fn set_drift_settings(project_id: i64, thresholds: serde_json::Value) -> Result<()> {
    as_owner(|| {
        execute(
            "INSERT INTO pgml.drift_settings (project_id, thresholds) VALUES ($1, $2)
             ON CONFLICT (project_id) DO UPDATE SET thresholds = EXCLUDED.thresholds, updated_at = clock_timestamp()",
            &[project_id.into(), JsonB(thresholds).into()],
        )?;
        Ok(())
    })
}
