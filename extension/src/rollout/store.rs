//! `pgml.rollouts` over SPI: the route a predict follows, the running rollouts the job
//! evaluates, and the row's changes. Reads run as the caller; writes as the extension's owner.

use crate::error::{Result, SqlError};
use crate::privilege::as_owner;
use crate::store::{self, first_row, Event, Project};
use pgml_core::rollout::{Mode, Phase, Resolved, Route};
use pgrx::spi::SpiTupleTable;
use pgrx::JsonB;
use serde_json::{json, Value};

/// Whether this database's schema has rollouts (0.7.0 and later): the library serves older
/// schemas until `ALTER EXTENSION pgml UPDATE`.
pub fn available() -> Result<bool> {
    Ok(first_row("SELECT to_regclass('pgml.rollouts') IS NOT NULL", &[], |r| Ok(r.get::<bool>(1)?))?
        .flatten()
        .unwrap_or(false))
}

/// The route of the rollout running on a project's stage, for the predict path's cache.
pub fn route(project_name: &str, stage: &str) -> Result<Option<Route>> {
    if !available()? {
        return Ok(None);
    }
    first_row(
        "SELECT r.id, r.candidate_id, r.phase, r.percent, r.salt, (r.policy ->> 'shadow_sample')::float8
         FROM pgml.rollouts r JOIN pgml.projects p ON p.id = r.project_id
         WHERE p.name = $1 AND r.stage = $2 AND r.state = 'running'",
        &[project_name.into(), stage.into()],
        |r| {
            Ok(Route {
                rollout_id: r.get::<i64>(1)?.unwrap_or_default(),
                candidate_id: r.get::<i64>(2)?.unwrap_or_default(),
                phase: Phase::parse(&r.get::<String>(3)?.unwrap_or_default())?,
                percent: r.get::<f64>(4)?.unwrap_or_default(),
                salt: r.get::<i64>(5)?.unwrap_or_default() as u64,
                shadow_sample: r.get::<f64>(6)?.unwrap_or(1.0),
            })
        },
    )
}

/// The running rollout that tries or compares `model_id`, if any: (rollout id, stage).
pub fn running_with(model_id: i64) -> Result<Option<(i64, String)>> {
    if !available()? {
        return Ok(None);
    }
    first_row(
        "SELECT id, stage FROM pgml.rollouts
         WHERE state = 'running' AND $1 IN (candidate_id, baseline_id) ORDER BY id LIMIT 1",
        &[model_id.into()],
        |r| Ok((r.get::<i64>(1)?.unwrap_or_default(), r.get::<String>(2)?.unwrap_or_default())),
    )
}

/// A rollout as the job and the functions read it.
pub struct Rollout {
    pub id: i64,
    pub project: Project,
    pub stage: String,
    pub baseline_id: i64,
    pub candidate_id: i64,
    pub mode: Mode,
    pub phase: Phase,
    pub percent: f64,
    pub policy: Resolved,
    pub rho2: Option<f64>,
    /// Seconds since the phase started, and since the rollout started.
    pub phase_seconds: f64,
    pub total_seconds: f64,
    /// The phase's start, as text PostgreSQL reads back exactly.
    pub phase_started_at: String,
}

const COLUMNS: &str =
    "r.id, p.id, p.name, p.task::text, r.stage, r.baseline_id, r.candidate_id, r.mode, r.phase,
    r.percent, r.policy, r.rho2, extract(epoch FROM now() - r.phase_started_at)::float8,
    extract(epoch FROM now() - r.started_at)::float8, r.phase_started_at::text";

fn read(r: &SpiTupleTable) -> Result<Rollout> {
    let task = pgml_core::Task::parse(&r.get::<String>(4)?.unwrap_or_default())?;
    let policy: Value = r.get::<JsonB>(11)?.map(|j| j.0).unwrap_or_default();
    let policy: Resolved = serde_json::from_value(policy)
        .map_err(|e| SqlError::from(pgml_core::Error::Internal(format!("a rollout's stored policy: {e}"))))?;
    Ok(Rollout {
        id: r.get::<i64>(1)?.unwrap_or_default(),
        project: Project {
            id: r.get::<i64>(2)?.unwrap_or_default(),
            name: r.get::<String>(3)?.unwrap_or_default(),
            task,
        },
        stage: r.get::<String>(5)?.unwrap_or_default(),
        baseline_id: r.get::<i64>(6)?.unwrap_or_default(),
        candidate_id: r.get::<i64>(7)?.unwrap_or_default(),
        mode: Mode::parse(&r.get::<String>(8)?.unwrap_or_default())?,
        phase: Phase::parse(&r.get::<String>(9)?.unwrap_or_default())?,
        percent: r.get::<f64>(10)?.unwrap_or_default(),
        policy,
        rho2: r.get::<f64>(12)?,
        phase_seconds: r.get::<f64>(13)?.unwrap_or_default(),
        total_seconds: r.get::<f64>(14)?.unwrap_or_default(),
        phase_started_at: r.get::<String>(15)?.unwrap_or_default(),
    })
}

/// The rollout running on a project's stage, locked to the end of the transaction (a stop and
/// the job's decision never both happen).
pub fn lock_running(project: &Project, stage: &str) -> Result<Option<Rollout>> {
    as_owner(|| {
        store::first_row_mut(
            &format!(
                "SELECT {COLUMNS} FROM pgml.rollouts r JOIN pgml.projects p ON p.id = r.project_id
                 WHERE r.project_id = $1 AND r.stage = $2 AND r.state = 'running' FOR UPDATE OF r"
            ),
            &[project.id.into(), stage.into()],
            read,
        )
    })
}

/// A running rollout by id, locked; None when it ended meanwhile.
pub fn lock_by_id(id: i64) -> Result<Option<Rollout>> {
    as_owner(|| {
        store::first_row_mut(
            &format!(
                "SELECT {COLUMNS} FROM pgml.rollouts r JOIN pgml.projects p ON p.id = r.project_id
                 WHERE r.id = $1 AND r.state = 'running' FOR UPDATE OF r"
            ),
            &[id.into()],
            read,
        )
    })
}

/// The ids of the running rollouts, optionally of one project.
pub fn running(project: Option<&str>) -> Result<Vec<i64>> {
    pgrx::spi::Spi::connect(|c| {
        let t = c.select(
            "SELECT r.id FROM pgml.rollouts r JOIN pgml.projects p ON p.id = r.project_id
             WHERE r.state = 'running' AND ($1::text IS NULL OR p.name = $1) ORDER BY r.id",
            None,
            &[project.into()],
        )?;
        let mut out = vec![];
        for r in t {
            out.push(r.get::<i64>(1)?.unwrap_or_default());
        }
        Ok(out)
    })
}

/// What a new rollout is.
pub struct NewRollout<'a> {
    pub project: &'a Project,
    pub stage: &'a str,
    pub baseline_id: i64,
    pub candidate_id: i64,
    pub mode: Mode,
    pub percent: f64,
    pub salt: u64,
    pub policy: &'a Resolved,
}

pub fn insert(n: NewRollout) -> Result<i64> {
    let policy = serde_json::to_value(n.policy).unwrap_or_default();
    let id = as_owner(|| {
        store::write_value::<i64>(
            "INSERT INTO pgml.rollouts (project_id, stage, baseline_id, candidate_id, mode, phase, percent, salt,
                                        policy, started_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            &[
                n.project.id.into(),
                n.stage.into(),
                n.baseline_id.into(),
                n.candidate_id.into(),
                n.mode.name().into(),
                n.mode.first_phase().name().into(),
                n.percent.into(),
                (n.salt as i64).into(),
                JsonB(policy).into(),
                crate::privilege::caller().into(),
            ],
        )
    })?;
    Ok(id.unwrap_or_default())
}

/// Records an evaluation that decided nothing terminal: its statistics, and ρ² once fixed.
pub fn evaluated(id: i64, rho2: Option<f64>, statistics: &Value) -> Result<()> {
    as_owner(|| {
        store::execute(
            "UPDATE pgml.rollouts SET rho2 = $2, statistics = $3, evaluated_at = clock_timestamp() WHERE id = $1",
            &[id.into(), rho2.into(), JsonB(statistics.clone()).into()],
        )
    })
}

/// Ends a rollout: its state, why, and the statistics behind the decision.
pub fn end(id: i64, state: &str, reason: &str, statistics: Option<&Value>) -> Result<()> {
    as_owner(|| {
        store::execute(
            "UPDATE pgml.rollouts SET state = $2, reason = $3, statistics = COALESCE($4, statistics),
                    evaluated_at = CASE WHEN $4 IS NULL THEN evaluated_at ELSE clock_timestamp() END,
                    ended_by = $5, ended_at = clock_timestamp()
             WHERE id = $1",
            &[
                id.into(),
                state.into(),
                reason.into(),
                statistics.cloned().map(JsonB).into(),
                crate::privilege::caller().into(),
            ],
        )
    })?;
    crate::cache::deployments_changed();
    Ok(())
}

/// Moves a rollout to another phase or percentage: the test starts again on the new traffic.
pub fn restart_phase(id: i64, phase: Phase, percent: f64) -> Result<()> {
    as_owner(|| {
        store::execute(
            "UPDATE pgml.rollouts SET phase = $2, percent = $3, rho2 = NULL, phase_started_at = clock_timestamp()
             WHERE id = $1",
            &[id.into(), phase.name().into(), percent.into()],
        )
    })?;
    crate::cache::deployments_changed();
    Ok(())
}

/// The audit event of a rollout's start, change or end (with the statistics behind it), and
/// its NOTIFY on `pgml_rollouts` (and on `pgml_deployments`, with the project's id, as a deploy
/// notifies), in the caller's transaction.
pub fn record(r: &Rollout, action: &str, mut details: Value) -> Result<()> {
    details["rollout_id"] = json!(r.id);
    details["action"] = json!(action);
    details["candidate_id"] = json!(r.candidate_id);
    details["baseline_id"] = json!(r.baseline_id);
    store::audit(Event {
        event: "rollout",
        project: Some(&r.project.name),
        model_id: Some(r.candidate_id),
        stage: Some(&r.stage),
        details: details.clone(),
    })?;
    details["project"] = json!(r.project.name);
    details["stage"] = json!(r.stage);
    store::execute("SELECT pg_notify('pgml_rollouts', $1)", &[details.to_string().into()])?;
    // what the stage's requests go to changed: pgml-serve follows it as it follows a deploy
    store::execute("SELECT pg_notify('pgml_deployments', $1)", &[r.project.id.to_string().into()])
}

/// Schedules pg_cron's job while a rollout runs in this database, and removes it when none does.
pub fn sync_job() -> Result<()> {
    let any = first_row("SELECT EXISTS (SELECT FROM pgml.rollouts WHERE state = 'running')", &[], |r| {
        Ok(r.get::<bool>(1)?)
    })?
    .flatten()
    .unwrap_or(false);
    // (the owner's: the job is pg_cron's row, scheduled as the extension's owner)
    as_owner(|| store::execute("SELECT pgml._pgml_rollout_job($1)", &[any.into()]))
}
