//! Scheduled retraining and drift checks with pg_cron. Each schedule is a row of
//! `pgml.schedules` and a pg_cron job running `pgml._pgml_run_schedule(id)`, which records
//! every run (and its error) in `pgml.scheduled_runs`. Retraining deploys through the usual
//! automatic-deploy rule, so a worse model never replaces a better one.

use crate::error::{OrRaise, Result, SqlError};
use crate::store::{self, execute, write_value};
use pgml_core::algorithms::Algorithm;
use pgml_core::data::split::{test_rows, Sampling};
use pgml_core::schedule::validate_cron;
use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode};

/// pg_cron's functions exist only in the database named by `cron.database_name`.
fn require_pg_cron() -> Result<()> {
    let installed =
        store::first_row("SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'", &[], |_| Ok(()))?;
    installed.ok_or_else(|| {
        SqlError::new(
            PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            "pg_cron is not installed in this database",
        )
        .hint(
            "add pg_cron to shared_preload_libraries, set cron.database_name to this database, \
             restart, and run CREATE EXTENSION pg_cron (make db does all of this)",
        )
    })
}

/// A schedule's row before it is stored.
struct NewSchedule<'a> {
    project_name: &'a str,
    kind: &'static str,
    schedule: &'a str,
    relation_name: Option<&'a str>,
    y_column_name: Option<&'a str>,
    algorithm: Option<&'a str>,
    hyperparams: Option<serde_json::Value>,
    test_size: Option<f32>,
    test_sampling: Option<&'a str>,
}

/// Stores the schedule (replacing the project's previous one of the same kind) and registers
/// its pg_cron job; returns the job name and pg_cron's job id.
fn register(s: NewSchedule) -> Result<(String, i64)> {
    store::check_writable()?;
    require_pg_cron()?;
    validate_cron(s.schedule)?;
    let job_name = format!("pgml {} {}", s.kind, s.project_name);
    let id: Option<i64> = write_value(
        "INSERT INTO pgml.schedules (project_name, kind, schedule, job_name, relation_name, y_column_name,
                                     algorithm, hyperparams, test_size, test_sampling)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (project_name, kind) DO UPDATE SET schedule = EXCLUDED.schedule,
             relation_name = EXCLUDED.relation_name, y_column_name = EXCLUDED.y_column_name,
             algorithm = EXCLUDED.algorithm, hyperparams = EXCLUDED.hyperparams, test_size = EXCLUDED.test_size,
             test_sampling = EXCLUDED.test_sampling, created_by = session_user, created_at = clock_timestamp()
         RETURNING id",
        &[
            s.project_name.into(),
            s.kind.into(),
            s.schedule.into(),
            job_name.as_str().into(),
            s.relation_name.into(),
            s.y_column_name.into(),
            s.algorithm.into(),
            s.hyperparams.map(JsonB).into(),
            s.test_size.into(),
            s.test_sampling.into(),
        ],
    )?;
    let command = format!("SELECT pgml._pgml_run_schedule({})", id.unwrap_or_default());
    let job: Option<i64> = write_value(
        "SELECT cron.schedule($1, $2, $3)",
        &[job_name.as_str().into(), s.schedule.into(), command.as_str().into()],
    )?;
    Ok((job_name, job.unwrap_or_default()))
}

/// Removes a project's schedule of one kind and its pg_cron job.
fn unregister(project_name: &str, kind: &str) -> Result<bool> {
    store::check_writable()?;
    require_pg_cron()?;
    let job = store::first_row(
        "SELECT job_name FROM pgml.schedules WHERE project_name = $1 AND kind = $2",
        &[project_name.into(), kind.into()],
        |r| Ok(r.get::<String>(1)?.unwrap_or_default()),
    )?;
    let job =
        job.ok_or_else(|| SqlError::undefined(format!("project \"{project_name}\" has no {kind} schedule")))?;
    execute(
        "DELETE FROM pgml.schedules WHERE project_name = $1 AND kind = $2",
        &[project_name.into(), kind.into()],
    )?;
    execute("SELECT cron.unschedule($1)", &[job.as_str().into()])?;
    Ok(true)
}

/// Retrains `project_name` on `schedule` (cron syntax) with automatic deployment. Arguments
/// left NULL take pgml.train's defaults; relation and label default to the last snapshot's.
#[allow(clippy::too_many_arguments)]
#[pg_extern]
fn schedule_training(
    project_name: &str,
    schedule: &str,
    relation_name: default!(Option<&str>, "NULL"),
    y_column_name: default!(Option<&str>, "NULL"),
    algorithm: default!(Option<&str>, "NULL"),
    hyperparams: default!(Option<JsonB>, "NULL"),
    test_size: default!(Option<f32>, "NULL"),
    test_sampling: default!(Option<&str>, "NULL"),
) -> TableIterator<'static, (name!(project, String), name!(job_name, String), name!(job_id, i64))> {
    let s = NewSchedule {
        project_name,
        kind: "training",
        schedule,
        relation_name,
        y_column_name,
        algorithm,
        hyperparams: hyperparams.map(|j| j.0),
        test_size,
        test_sampling,
    };
    check_training(&s)
        .and_then(|_| register(s))
        .map(|(job, id)| TableIterator::once((project_name.to_string(), job, id)))
        .or_raise()
}

/// The arguments must be valid now, not fail at 3 a.m.
fn check_training(s: &NewSchedule) -> Result<()> {
    let project = store::project(s.project_name)?;
    let algorithm = Algorithm::parse(s.algorithm.unwrap_or("linear"))?.for_task(project.task);
    algorithm.validate(project.task, s.hyperparams.as_ref().unwrap_or(&serde_json::json!({})))?;
    if let Some(t) = s.test_sampling {
        Sampling::parse(t)?;
    }
    if let Some(size) = s.test_size {
        test_rows(1000, size)?;
    }
    Ok(())
}

#[pg_extern]
fn unschedule_training(project_name: &str) -> bool {
    unregister(project_name, "training").or_raise()
}

/// Checks the drift of the project's deployed model on `relation_name` on `schedule`; each
/// run lands in pgml.scheduled_runs with the dataset-drift flag and per-feature details.
#[pg_extern]
fn schedule_drift_check(
    project_name: &str,
    relation_name: &str,
    schedule: &str,
) -> TableIterator<'static, (name!(project, String), name!(job_name, String), name!(job_id, i64))> {
    let s = NewSchedule {
        project_name,
        kind: "drift",
        schedule,
        relation_name: Some(relation_name),
        y_column_name: None,
        algorithm: None,
        hyperparams: None,
        test_size: None,
        test_sampling: None,
    };
    store::project(project_name)
        .and_then(|_| register(s))
        .map(|(job, id)| TableIterator::once((project_name.to_string(), job, id)))
        .or_raise()
}

#[pg_extern]
fn unschedule_drift_check(project_name: &str) -> bool {
    unregister(project_name, "drift").or_raise()
}
