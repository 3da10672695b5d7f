//! Rollouts in SQL: start, change, stop, the job's evaluation and replay. The work is
//! `crate::rollout`'s; pgml.rollouts_overview (rollouts.sql) shows every rollout.

use crate::error::OrRaise;
use crate::rollout::{self, decide, replay, Start};
use crate::store;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::JsonB;

/// Starts a rollout of `model_id` on a project's stage: `shadow` (the candidate scores every
/// request beside the serving model, never answering), `canary` (it answers `percent` % of
/// the keys), or `shadow_then_canary`. Returns the rollout's id.
#[pg_extern]
fn start_rollout(
    project_name: &str,
    model_id: i64,
    mode: default!(&str, "'canary'"),
    percent: default!(f64, 10.0),
    stage: default!(&str, "'production'"),
    policy: default!(JsonB, "'{}'"),
) -> i64 {
    store::project(project_name)
        .and_then(|project| {
            rollout::start(Start {
                project: &project,
                candidate_id: model_id,
                mode,
                percent,
                stage,
                policy: &policy.0,
            })
        })
        .or_raise()
}

/// Ends the rollout running on a stage: the serving model stays, or with `promote` the
/// candidate is promoted now (through the stage's gates and approvals).
#[pg_extern]
fn stop_rollout(
    project_name: &str,
    stage: default!(&str, "'production'"),
    promote: default!(bool, false),
) -> TableIterator<'static, (name!(rollout_id, i64), name!(state, String))> {
    store::project(project_name)
        .and_then(|project| rollout::stop(&project, stage, promote))
        .map(TableIterator::once)
        .or_raise()
}

/// Changes a running canary's percentage (keys already in the candidate stay there when it
/// rises); its test starts again. Returns the rollout's id.
#[pg_extern]
fn set_rollout_percent(project_name: &str, percent: f64, stage: default!(&str, "'production'")) -> i64 {
    store::project(project_name).and_then(|project| rollout::set_percent(&project, stage, percent)).or_raise()
}

/// Evaluates every running rollout (run each minute by pg_cron's job pgml_rollouts).
#[allow(clippy::type_complexity)] // pgrx needs the named columns spelled out here
#[pg_extern]
fn evaluate_rollouts(
    project_name: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(rollout_id, i64),
        name!(project, String),
        name!(stage, String),
        name!(phase, String),
        name!(state, String),
        name!(labelled_rows, f64),
        name!(estimate, Option<f64>),
        name!(lower_bound, Option<f64>),
        name!(upper_bound, Option<f64>),
        name!(reason, Option<String>),
    ),
> {
    let rows = decide::evaluate_all(project_name).or_raise();
    TableIterator::new(rows.into_iter().map(|e| {
        (e.rollout_id, e.project, e.stage, e.phase, e.state, e.rows, e.estimate, e.lower, e.upper, e.reason)
    }))
}

/// Judges a model on the stage's logged traffic since `since` (predictions that kept their
/// features and whose outcomes are in): the paired test of a shadow rollout, before the model
/// serves a request.
#[allow(clippy::type_complexity)]
#[pg_extern(stable)]
fn replay(
    project_name: &str,
    model_id: i64,
    since: default!(TimestampWithTimeZone, "now() - interval '7 days'"),
    stage: default!(&str, "'production'"),
    policy: default!(JsonB, "'{}'"),
) -> TableIterator<
    'static,
    (
        name!(labelled_rows, f64),
        name!(loss, String),
        name!(served_loss, Option<f64>),
        name!(candidate_loss, Option<f64>),
        name!(estimate, Option<f64>),
        name!(lower_bound, Option<f64>),
        name!(upper_bound, Option<f64>),
        name!(verdict, String),
    ),
> {
    let since = since.to_string();
    store::project(project_name)
        .and_then(|project| replay::replay(&project, model_id, &since, stage, &policy.0))
        .map(|r| {
            TableIterator::once((
                r.rows,
                r.loss,
                r.served_loss,
                r.candidate_loss,
                r.estimate,
                r.lower,
                r.upper,
                r.verdict.to_string(),
            ))
        })
        .or_raise()
}
