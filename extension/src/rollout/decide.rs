//! pg_cron's job (`pgml.evaluate_rollouts()`, every minute): each running rollout is evaluated
//! in its own subtransaction, and its decision — the rollout's row, the deployment (a
//! promotion), the audit event with the statistics, the NOTIFY on `pgml_rollouts` — is written
//! together or not at all. A rollout whose evaluation fails is reported and stays running;
//! the others go on. A crash or a cancel during a tick leaves every rollout as it was.

use super::evidence::{self, Evidence};
use super::store::{self as rollouts, Rollout};
use crate::error::Result;
use crate::lifecycle::Overrides;
use crate::privilege::as_owner;
use crate::store::{self, check_writable, lock_project};
use pgml_core::rollout::guards::{check, rolls_back, streak, Check};
use pgml_core::rollout::sequential::{evaluate, Evaluation};
use pgml_core::rollout::Verdict;
use serde_json::{json, Value};

/// One rollout's evaluation, as `pgml.evaluate_rollouts()` returns it.
pub struct Evaluated {
    pub rollout_id: i64,
    pub project: String,
    pub stage: String,
    pub phase: String,
    /// running, promoted, rolled_back, inconclusive, stopped, or error (the evaluation failed).
    pub state: String,
    pub rows: f64,
    pub estimate: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    pub reason: Option<String>,
}

/// Evaluates every running rollout (of one project, when named).
pub fn evaluate_all(project: Option<&str>) -> Result<Vec<Evaluated>> {
    check_writable()?;
    if !rollouts::available()? {
        return Ok(vec![]);
    }
    if let Some(name) = project {
        store::project(name)?;
    }
    let mut out = vec![];
    for id in rollouts::running(project)? {
        match crate::subtransaction::isolated(|| evaluate_one(id)) {
            Ok(Some(e)) => out.push(e),
            Ok(None) => {}
            Err(e) => {
                pgrx::warning!("pgml: rollout {id} could not be evaluated: {} ({})", e.message, e.sqlstate());
                out.push(Evaluated {
                    rollout_id: id,
                    project: String::new(),
                    stage: String::new(),
                    phase: String::new(),
                    state: "error".into(),
                    rows: 0.0,
                    estimate: None,
                    lower: None,
                    upper: None,
                    reason: Some(format!("{} ({})", e.message, e.sqlstate())),
                });
            }
        }
    }
    rollouts::sync_job()?;
    Ok(out)
}

fn evaluate_one(id: i64) -> Result<Option<Evaluated>> {
    // the project's lock first, as every deployment takes it, then the rollout's row
    let project_id =
        store::first_row("SELECT project_id FROM pgml.rollouts WHERE id = $1", &[id.into()], |r| {
            Ok(r.get::<i64>(1)?)
        })?
        .flatten();
    let Some(project_id) = project_id else { return Ok(None) };
    lock_project(project_id)?;
    let Some(r) = rollouts::lock_by_id(id)? else { return Ok(None) };
    let serving = store::deployed(&r.project, &r.stage)?.map(|(id, _)| id);
    if serving != Some(r.baseline_id) {
        let reason = format!("the stage serves model {} now, not the baseline", serving.unwrap_or_default());
        rollouts::end(r.id, "stopped", &reason, None)?;
        rollouts::record(&r, "stop", json!({ "reason": reason }))?;
        return Ok(Some(row(&r, "stopped", &Evidence::default(), None, Some(reason))));
    }
    let loss = r.policy.loss(r.project.task)?;
    let e = evidence::of(&r, loss)?;
    let guards = r.policy.guards();
    let minutes = evidence::guard_minutes(&r, guards.consecutive)?;
    let (mut run, mut failed) = (0u32, None);
    for (candidate, baseline) in &minutes {
        let c = check(candidate, baseline, &guards);
        if let Check::Fail(name) = c {
            failed = Some(name);
        }
        run = streak(run, c);
    }
    let policy = r.policy.policy();
    let mut ev = evaluate(&e.stream, e.per_arm, r.phase_seconds, r.rho2, &policy);
    let mut reason = None;
    if rolls_back(run, &guards) {
        ev.verdict = Verdict::RollBack;
        reason = Some(format!(
            "guard {}: the candidate failed {run} minutes in a row",
            failed.unwrap_or("latency_p99")
        ));
    } else if ev.verdict == Verdict::Continue && r.total_seconds >= policy.max_seconds {
        ev.verdict = Verdict::Inconclusive;
    }
    let stats = statistics(&r, &e, &ev, run);
    let reason = reason.unwrap_or_else(|| because(&ev, policy.margin));
    match ev.verdict {
        Verdict::Continue => {
            rollouts::evaluated(r.id, ev.rho2, &stats)?;
            return Ok(Some(row(&r, "running", &e, Some(&ev), None)));
        }
        Verdict::RollBack => {
            rollouts::end(r.id, "rolled_back", &reason, Some(&stats))?;
            rollouts::record(&r, "roll_back", json!({ "reason": reason, "statistics": stats }))?;
        }
        Verdict::Promote => {
            if let Some(next) = super::next_phase(&r) {
                rollouts::evaluated(r.id, ev.rho2, &stats)?;
                rollouts::restart_phase(r.id, next, r.percent)?;
                let reason = format!("shadow passed ({reason}): canary on {} % of the keys", r.percent);
                rollouts::record(&r, "canary", json!({ "reason": reason, "statistics": stats }))?;
                return Ok(Some(row(&r, "running", &e, Some(&ev), Some(reason))));
            }
            let (status, request) = promote_candidate(&r, &reason, Some(&stats))?;
            let details = json!({ "reason": reason, "statistics": stats, "status": status,
                                  "promotion_request_id": request });
            rollouts::record(&r, "promote", details)?;
        }
        Verdict::Inconclusive => {
            rollouts::end(r.id, "inconclusive", &reason, Some(&stats))?;
            rollouts::record(&r, "inconclusive", json!({ "reason": reason, "statistics": stats }))?;
            inconclusive_alert(&r, &e, &ev)?;
        }
    }
    Ok(Some(row(&r, ev.verdict.name(), &e, Some(&ev), Some(reason))))
}

/// Ends the rollout as promoted and promotes the candidate through the stage's gates: at once,
/// or by a promotion request when the stage needs approvals. A promotion the gates refuse now
/// ends the rollout inconclusive instead (the baseline stays). Returns the promotion's status
/// and request id.
pub fn promote_candidate(r: &Rollout, reason: &str, stats: Option<&Value>) -> Result<(String, Option<i64>)> {
    rollouts::end(r.id, "promoted", reason, stats)?;
    let promoted = crate::subtransaction::isolated(|| {
        crate::api::promote::promote_decided(&r.project, r.candidate_id, &r.stage, Overrides::default())
    });
    match promoted {
        Ok((status, Some(request))) => {
            let reason = format!("{reason}; promotion request {request} awaits approval");
            rollouts::end(r.id, "promoted", &reason, stats)?;
            Ok((status, Some(request)))
        }
        Ok((status, None)) => Ok((status, None)),
        Err(e) if e.sqlstate() == "57014" => Err(e),
        Err(e) => {
            rollouts::end(r.id, "inconclusive", &format!("promotion refused: {}", e.message), stats)?;
            Ok(("refused".into(), None))
        }
    }
}

fn because(ev: &Evaluation, margin: f64) -> String {
    let f = |b: Option<pgml_core::rollout::Bounds>, side: fn(&pgml_core::rollout::Bounds) -> f64| {
        b.map_or("n/a".to_string(), |b| format!("{:.5}", side(&b)))
    };
    match ev.verdict {
        Verdict::RollBack => {
            format!("the candidate's loss is higher: lower bound {} > 0", f(ev.harm, |b| b.lower))
        }
        Verdict::Promote => {
            format!("the candidate is no worse than {margin}: upper bound {}", f(ev.promote, |b| b.upper))
        }
        Verdict::Inconclusive => "the maximum duration passed without a decision".into(),
        Verdict::Continue => "running".into(),
    }
}

fn statistics(r: &Rollout, e: &Evidence, ev: &Evaluation, streak: u32) -> Value {
    json!({
        "phase": r.phase.name(),
        "loss": r.policy.loss,
        "rows": e.per_arm as u64,
        "unusable_rows": e.unusable as u64,
        "estimate": ev.harm.map(|b| b.estimate).or(ev.promote.map(|b| b.estimate)),
        "lower": ev.harm.map(|b| b.lower),
        "upper": ev.promote.map(|b| b.upper),
        "margin": r.policy.margin,
        "rho2": ev.rho2,
        "baseline": { "model_id": r.baseline_id, "rows": e.baseline.n as u64, "mean_loss": (e.baseline.n > 0.0).then(|| e.baseline.mean()) },
        "candidate": { "model_id": r.candidate_id, "rows": e.candidate.n as u64, "mean_loss": (e.candidate.n > 0.0).then(|| e.candidate.mean()) },
        "guard_failing_minutes": streak,
        "phase_seconds": r.phase_seconds,
    })
}

fn row(r: &Rollout, state: &str, e: &Evidence, ev: Option<&Evaluation>, reason: Option<String>) -> Evaluated {
    Evaluated {
        rollout_id: r.id,
        project: r.project.name.clone(),
        stage: r.stage.clone(),
        phase: r.phase.name().into(),
        state: state.into(),
        rows: e.per_arm,
        estimate: ev.and_then(|ev| ev.harm.or(ev.promote)).map(|b| b.estimate),
        lower: ev.and_then(|ev| ev.harm).map(|b| b.lower),
        upper: ev.and_then(|ev| ev.promote).map(|b| b.upper),
        reason,
    }
}

/// An inconclusive rollout opens an alert (no rule: named after the rollout) and notifies
/// `pgml_alerts`, as a rule's alert does; the next rollout of the stage resolves it.
fn inconclusive_alert(r: &Rollout, e: &Evidence, ev: &Evaluation) -> Result<()> {
    let estimate = ev.harm.or(ev.promote).map(|b| b.estimate);
    let name = format!("rollout {}", r.id);
    as_owner(|| {
        store::execute(
            "INSERT INTO pgml.alerts (rule_id, project_id, rule_name, stage, model_id, metric, value, comparison,
                                      threshold, count, action_taken)
             VALUES (NULL, $1, $2, $3, $4, $5, $6, 'above', $7, $8, 'the baseline stays')",
            &[
                r.project.id.into(),
                name.as_str().into(),
                r.stage.as_str().into(),
                r.candidate_id.into(),
                format!("rollout_{}", r.policy.loss).as_str().into(),
                estimate.into(),
                r.policy.margin.into(),
                e.per_arm.into(),
            ],
        )
    })?;
    let payload = json!({ "rule": name, "project": r.project.name, "stage": r.stage, "model_id": r.candidate_id,
                          "metric": format!("rollout_{}", r.policy.loss), "value": estimate,
                          "action_taken": "the baseline stays" });
    store::execute("SELECT pg_notify('pgml_alerts', $1)", &[payload.to_string().into()])
}

/// Resolves the alerts of ended rollouts of a stage (when a new rollout starts there).
pub fn resolve_alerts(project_id: i64, stage: &str) -> Result<()> {
    as_owner(|| {
        store::execute(
            "UPDATE pgml.alerts SET state = 'resolved', resolved_at = clock_timestamp()
             WHERE project_id = $1 AND stage = $2 AND rule_id IS NULL AND rule_name LIKE 'rollout %'
               AND state = 'open'",
            &[project_id.into(), stage.into()],
        )
    })
}
