//! Rollouts: a candidate model meets live traffic beside the model a stage serves, and the
//! database decides, on the outcomes joined to the logged predictions, whether it is promoted
//! or rolled back.
//!
//! - `start`, `stop`, `set_percent` (here): the functions' work, each one transaction with its
//!   audit event and NOTIFY; they invalidate every backend's deployments, so the next predict
//!   of any session (and a standby's, on replay) follows the new route.
//! - The predict path asks `cache::deployed_routed` for the running rollout's `Route` and
//!   `Route::arm` (the core's) for the model of a request.
//! - `evidence`: the labelled rows of a rollout (paired in shadow, by arm in canary) and the
//!   guards' minutes, read from the log and the outcomes.
//! - `decide`: pg_cron's job, each rollout in its own subtransaction.
//! - `replay`: a candidate judged on logged features whose outcomes are in.

pub mod decide;
pub mod evidence;
pub mod replay;
pub mod store;

use crate::error::{Result, SqlError};
use crate::lifecycle::{self, Overrides};
use crate::store::{check_stage, check_writable, lock_project, serving_model, Project};
use pgml_core::rollout::assign::key_hash;
use pgml_core::rollout::plan::check_percent;
use pgml_core::rollout::{Mode, Phase, Resolved};
use serde_json::json;

/// What `pgml.start_rollout` was asked.
pub struct Start<'a> {
    pub project: &'a Project,
    pub candidate_id: i64,
    pub mode: &'a str,
    pub percent: f64,
    pub stage: &'a str,
    pub policy: &'a serde_json::Value,
}

/// Starts a rollout: the candidate must belong to the project, pass the stage's gates and
/// take the serving model's features; approvals are asked for at promotion.
pub fn start(s: Start) -> Result<i64> {
    check_writable()?;
    require_schema()?;
    let mode = Mode::parse(s.mode)?;
    check_percent(s.percent)?;
    let policy = Resolved::from_json(s.policy, s.project.task)?;
    check_stage(s.project, s.stage)?;
    lifecycle::check_model(s.project, s.candidate_id)?;
    lock_project(s.project.id)?;
    let baseline = serving_model(s.project, s.stage)?;
    if baseline == s.candidate_id {
        return Err(SqlError::invalid(format!(
            "model {} already serves stage \"{}\": a rollout tries another model",
            s.candidate_id, s.stage
        )));
    }
    if let Some(r) = store::lock_running(s.project, s.stage)? {
        return Err(SqlError::from(pgml_core::Error::refused(format!(
            "rollout {} of model {} is already running on stage \"{}\" of project \"{}\"",
            r.id, r.candidate_id, s.stage, s.project.name
        )))
        .hint("stop it first with pgml.stop_rollout(project_name, stage => ...)"));
    }
    let a = lifecycle::assess(s.project, s.stage, s.candidate_id, true)?;
    // the candidate scores what the callers send: its schema must be the serving model's
    lifecycle::admit(&a, s.project, s.stage, s.candidate_id, Overrides::default())?;
    let salt = key_hash(
        pgml_core::monitoring::request_id::now_micros() as u64 ^ (unsafe { pgrx::pg_sys::MyProcPid } as u64),
        format!("{}/{}/{}", s.project.id, s.stage, s.candidate_id).as_bytes(),
    );
    let id = store::insert(store::NewRollout {
        project: s.project,
        stage: s.stage,
        baseline_id: baseline,
        candidate_id: s.candidate_id,
        mode,
        percent: s.percent,
        salt,
        policy: &policy,
    })?;
    decide::resolve_alerts(s.project.id, s.stage)?;
    let r = store::lock_by_id(id)?.ok_or_else(|| lost(id))?;
    store::record(&r, "start", json!({ "mode": mode.name(), "percent": s.percent, "policy": policy }))?;
    crate::cache::deployments_changed();
    store::sync_job()?;
    Ok(id)
}

fn lost(id: i64) -> SqlError {
    SqlError::from(pgml_core::Error::Internal(format!("rollout {id} vanished in its own transaction")))
}

/// The rollouts' table exists only from schema 0.7.0.
fn require_schema() -> Result<()> {
    if store::available()? {
        return Ok(());
    }
    Err(SqlError::from(pgml_core::Error::refused(
        "this database's pgml schema has no rollouts (before 0.7.0)",
    ))
    .hint("run ALTER EXTENSION pgml UPDATE"))
}

fn running(project: &Project, stage: &str) -> Result<store::Rollout> {
    check_writable()?;
    require_schema()?;
    check_stage(project, stage)?;
    lock_project(project.id)?;
    store::lock_running(project, stage)?.ok_or_else(|| {
        SqlError::undefined(format!(
            "no rollout is running on stage \"{stage}\" of project \"{}\"",
            project.name
        ))
        .hint("pgml.rollouts_overview lists the rollouts; start one with pgml.start_rollout")
    })
}

/// Ends the running rollout by hand: the baseline keeps serving (`stopped`), or with
/// `promote` the candidate is promoted now through the stage's gates and approvals.
/// Returns the rollout's id and its state.
pub fn stop(project: &Project, stage: &str, promote: bool) -> Result<(i64, String)> {
    let r = running(project, stage)?;
    let who = crate::privilege::caller();
    if !promote {
        store::end(r.id, "stopped", &format!("stopped by {who}"), None)?;
        store::record(&r, "stop", json!({}))?;
        store::sync_job()?;
        return Ok((r.id, "stopped".into()));
    }
    let (status, request) = decide::promote_candidate(&r, &format!("promoted by {who}"), None)?;
    store::record(&r, "promote", json!({ "status": status, "promotion_request_id": request }))?;
    store::sync_job()?;
    Ok((r.id, "promoted".into()))
}

/// Changes a canary's percentage. Raising it keeps every key already in the candidate there
/// (the same salt); the test starts again on the new traffic, whose arms have new sizes.
pub fn set_percent(project: &Project, stage: &str, percent: f64) -> Result<i64> {
    check_percent(percent)?;
    let r = running(project, stage)?;
    store::restart_phase(r.id, r.phase, percent)?;
    store::record(&r, "set_percent", json!({ "from": r.percent, "to": percent }))?;
    Ok(r.id)
}

/// A deployment of the stage by any other path (deploy, rollback, promote, approval) ends the
/// rollout running there, in the deployment's transaction: its baseline no longer serves.
pub fn end_on_deploy(project: &Project, stage: &str, model_id: i64) -> Result<()> {
    if !store::available()? {
        return Ok(());
    }
    let Some(r) = store::lock_running(project, stage)? else { return Ok(()) };
    let who = crate::privilege::caller();
    let (state, action) = match model_id == r.candidate_id {
        true => ("promoted", "promote"),
        false => ("stopped", "stop"),
    };
    store::end(r.id, state, &format!("model {model_id} was deployed to the stage by {who}"), None)?;
    store::record(&r, action, json!({ "deployed_model_id": model_id }))?;
    store::sync_job()
}

/// The phase a shadow_then_canary rollout moves to once its shadow test passes.
pub fn next_phase(r: &store::Rollout) -> Option<Phase> {
    (r.mode == Mode::ShadowThenCanary && r.phase == Phase::Shadow).then_some(Phase::Canary)
}
