//! Alert rules evaluated on the live metrics: opening an alert (its row, the audit event, the
//! NOTIFY on pgml_alerts and, for `action => 'rollback'`, the rollback) is one transaction, the
//! caller's; so is resolving one.

use super::live;
use crate::error::{Result, SqlError};
use crate::privilege::as_owner;
use crate::store::{self, check_writable, Event};
use pgml_core::monitoring::alerts::{breached, Metric};
use pgml_core::Task;
use pgrx::datum::Interval;
use pgrx::spi::Spi;
use serde_json::json;

struct Rule {
    id: i64,
    project: String,
    task: Task,
    name: String,
    stage: String,
    metric: String,
    below: bool,
    threshold: f64,
    window: Interval,
    min_count: i64,
    rollback: bool,
}

/// What one evaluation found for one rule.
pub struct Evaluated {
    pub project: String,
    pub rule: String,
    pub model_id: Option<i64>,
    pub value: Option<f64>,
    pub count: f64,
    /// opened, resolved, open (still), ok, insufficient (too few predictions), or error (a
    /// WARNING says why)
    pub state: &'static str,
    pub action_taken: Option<String>,
}

pub fn evaluate(project: Option<&str>) -> Result<Vec<Evaluated>> {
    check_writable()?;
    let rules: Vec<Rule> = Spi::connect(|c| {
        let t = c.select(
            "SELECT r.id, p.name, p.task::text, r.name, r.stage, r.metric, r.comparison = 'below', r.threshold,
                    r.time_window, r.min_count, r.action = 'rollback'
             FROM pgml.alert_rules r JOIN pgml.projects p ON p.id = r.project_id
             WHERE r.enabled AND ($1::text IS NULL OR p.name = $1) ORDER BY p.name, r.id",
            None,
            &[project.into()],
        )?;
        let mut out = vec![];
        for r in t {
            out.push(Rule {
                id: r.get::<i64>(1)?.unwrap_or_default(),
                project: r.get::<String>(2)?.unwrap_or_default(),
                task: r.get::<String>(3)?.and_then(|t| Task::parse(&t).ok()).unwrap_or(Task::Regression),
                name: r.get::<String>(4)?.unwrap_or_default(),
                stage: r.get::<String>(5)?.unwrap_or_default(),
                metric: r.get::<String>(6)?.unwrap_or_default(),
                below: r.get::<bool>(7)?.unwrap_or(false),
                threshold: r.get::<f64>(8)?.unwrap_or_default(),
                window: r
                    .get::<Interval>(9)?
                    .unwrap_or_else(|| Interval::new(0, 0, 3_600_000_000).expect("1 hour")),
                min_count: r.get::<i64>(10)?.unwrap_or(100),
                rollback: r.get::<bool>(11)?.unwrap_or(false),
            });
        }
        Ok::<_, SqlError>(out)
    })?;
    if let (Some(name), true) = (project, rules.is_empty()) {
        store::project(name)?;
    }
    Ok(rules.iter().map(evaluate_isolated).collect())
}

/// Evaluates one rule in a subtransaction: a rule that fails is reported (a WARNING, and the
/// state 'error') and the other rules go on.
fn evaluate_isolated(rule: &Rule) -> Evaluated {
    crate::subtransaction::isolated(|| evaluate_rule(rule)).unwrap_or_else(|e| {
        pgrx::warning!(
            "pgml: alert rule \"{}\" of project \"{}\" was not evaluated: {} ({})",
            rule.name,
            rule.project,
            e.message,
            e.sqlstate()
        );
        Evaluated {
            project: rule.project.clone(),
            rule: rule.name.clone(),
            model_id: None,
            value: None,
            count: 0.0,
            state: "error",
            action_taken: None,
        }
    })
}

fn evaluate_rule(rule: &Rule) -> Result<Evaluated> {
    let project = store::project(&rule.project)?;
    let metric = Metric::parse(&rule.metric, rule.task)?;
    let serving = store::deployed(&project, &rule.stage)?.map(|(id, _)| id);
    let mut out = Evaluated {
        project: rule.project.clone(),
        rule: rule.name.clone(),
        model_id: serving,
        value: None,
        count: 0.0,
        state: "insufficient",
        action_taken: None,
    };
    // alerts of models the stage no longer serves are over
    resolve_others(rule.id, serving)?;
    let Some(model_id) = serving else { return Ok(out) };
    let merged = live::read(project.id, rule.window, None, Some(&rule.stage), Some(model_id))?;
    let stats = merged.into_values().next().map(|(_, s)| s).unwrap_or_default();
    let metrics = match rule.task {
        Task::Classification => stats.labelled.classification(),
        _ => stats.labelled.regression(),
    };
    let drift = match metric {
        Metric::PredictionDrift => {
            Spi::connect(|c| live::reference(c, model_id))?.and_then(|r| live::drift_of(&r, &stats))
        }
        _ => None,
    };
    let dropped = if metric == Metric::Dropped { live::dropped(rule.window)? } else { 0.0 };
    out.value = metric.value(&stats, &metrics, drift, dropped);
    out.count = metric.count(&stats);
    let open = store::first_row(
        "SELECT id FROM pgml.alerts WHERE rule_id = $1 AND model_id = $2 AND state = 'open'",
        &[rule.id.into(), model_id.into()],
        |r| Ok(r.get::<i64>(1)?),
    )?
    .flatten();
    out.state =
        match (breached(out.value, out.count, rule.min_count as f64, rule.below, rule.threshold), open) {
            (Some(true), None) => {
                out.action_taken = open_alert(rule, &project, model_id, out.value, out.count)?;
                "opened"
            }
            (Some(true), Some(_)) => "open",
            (Some(false), Some(id)) => {
                resolve(id)?;
                "resolved"
            }
            (Some(false), None) => "ok",
            (None, Some(_)) => "open",
            (None, None) => "insufficient",
        };
    Ok(out)
}

fn open_alert(
    rule: &Rule,
    project: &store::Project,
    model_id: i64,
    value: Option<f64>,
    count: f64,
) -> Result<Option<String>> {
    let comparison = if rule.below { "below" } else { "above" };
    let id = as_owner(|| {
        store::write_value::<i64>(
            "INSERT INTO pgml.alerts (rule_id, project_id, rule_name, stage, model_id, metric, value, comparison,
                                      threshold, count)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
            &[
                rule.id.into(),
                project.id.into(),
                rule.name.as_str().into(),
                rule.stage.as_str().into(),
                model_id.into(),
                rule.metric.as_str().into(),
                value.into(),
                comparison.into(),
                rule.threshold.into(),
                count.into(),
            ],
        )
    })?
    .unwrap_or_default();
    // A rollback that cannot happen (no earlier model, or an approval rule that refuses it)
    // still leaves the alert open, with why in action_taken.
    let action = match rule.rollback {
        true => {
            match crate::subtransaction::isolated(|| crate::api::deploy::rollback(&project.name, &rule.stage))
            {
                Ok(now) => Some(format!("rolled back to model {now}")),
                Err(e) => Some(format!("rollback failed: {}", e.message)),
            }
        }
        false => None,
    };
    let details = json!({
        "alert_id": id, "rule": rule.name, "metric": rule.metric, "value": value, "comparison": comparison,
        "threshold": rule.threshold, "count": count, "action_taken": action,
    });
    as_owner(|| {
        store::execute(
            "UPDATE pgml.alerts SET action_taken = $2 WHERE id = $1",
            &[id.into(), action.clone().into()],
        )
    })?;
    store::audit(Event {
        event: "alert",
        project: Some(&project.name),
        model_id: Some(model_id),
        stage: Some(&rule.stage),
        details: details.clone(),
    })?;
    let mut payload = details;
    payload["project"] = json!(project.name);
    payload["stage"] = json!(rule.stage);
    payload["model_id"] = json!(model_id);
    store::execute("SELECT pg_notify('pgml_alerts', $1)", &[payload.to_string().into()])?;
    Ok(action)
}

fn resolve(id: i64) -> Result<()> {
    as_owner(|| {
        store::execute(
            "UPDATE pgml.alerts SET state = 'resolved', resolved_at = clock_timestamp() WHERE id = $1",
            &[id.into()],
        )
    })
}

fn resolve_others(rule_id: i64, serving: Option<i64>) -> Result<()> {
    as_owner(|| {
        store::execute(
            "UPDATE pgml.alerts SET state = 'resolved', resolved_at = clock_timestamp()
             WHERE rule_id = $1 AND state = 'open' AND model_id IS DISTINCT FROM $2",
            &[rule_id.into(), serving.into()],
        )
    })
}
