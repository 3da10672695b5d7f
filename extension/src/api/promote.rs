//! Stages, their promotion policies, promotions and their approvals: `pgml.add_stage`,
//! `pgml.set_promotion_policy`, `pgml.promote`, `pgml.approve`, `pgml.reject`.

use crate::error::{OrRaise, Result, SqlError};
use crate::lifecycle::{self, Overrides};
use crate::relation;
use crate::store::{self, Event, NewRequest, Project};
use pgml_core::lifecycle::deploy::Strategy;
use pgml_core::lifecycle::gates::{check_stage_name, Policy};
use pgml_core::lifecycle::review::{review, Decision, Outcome};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::json;

type PromotionRow = TableIterator<
    'static,
    (
        name!(project, String),
        name!(model_id, i64),
        name!(stage, String),
        name!(status, String),
        name!(request_id, Option<i64>),
    ),
>;

/// Adds a stage to a project; false when it already had it.
#[pg_extern]
fn add_stage(project_name: &str, stage: &str) -> bool {
    add(project_name, stage).or_raise()
}

fn add(project_name: &str, stage: &str) -> Result<bool> {
    check_stage_name(stage)?;
    let project = store::project(project_name)?;
    let added = store::add_stage(&project, stage)?;
    if added {
        audit(&project, "add_stage", None, stage, json!({}))?;
    }
    Ok(added)
}

/// Sets the gates of a project's stage (replacing the previous policy); returns it.
#[allow(clippy::too_many_arguments)]
#[pg_extern]
fn set_promotion_policy(
    project_name: &str,
    stage: default!(&str, "'production'"),
    min_metrics: default!(JsonB, "'{}'"),
    max_metrics: default!(JsonB, "'{}'"),
    min_improvement: default!(Option<f64>, "NULL"),
    min_relative_improvement: default!(Option<f64>, "NULL"),
    approvals: default!(i32, 0),
    drift_relation: default!(Option<&str>, "NULL"),
) -> JsonB {
    let bounds = |j: JsonB, what: &str| {
        serde_json::from_value(j.0).map_err(|e| {
            SqlError::invalid(format!("{what} must be a JSON object of metric names and numbers: {e}"))
                .hint("for example '{\"accuracy\": 0.8, \"f1\": 0.8}'")
        })
    };
    let policy = || -> Result<Policy> {
        if approvals < 0 {
            return Err(SqlError::invalid(format!("approvals must be 0 or more, got {approvals}")));
        }
        Ok(Policy {
            min_metrics: bounds(min_metrics, "min_metrics")?,
            max_metrics: bounds(max_metrics, "max_metrics")?,
            min_improvement,
            min_relative_improvement,
            approvals: approvals as u32,
            drift_relation: drift_relation.map(relation::qualified_name).transpose()?,
        })
    };
    policy().and_then(|p| set_policy(project_name, stage, p)).or_raise()
}

fn set_policy(project_name: &str, stage: &str, policy: Policy) -> Result<JsonB> {
    let project = store::project(project_name)?;
    store::check_stage(&project, stage)?;
    policy.validate(project.task)?;
    store::set_policy(project.id, stage, &policy)?;
    let stored = serde_json::to_value(&policy).unwrap_or_default();
    audit(&project, "set_policy", None, stage, stored.clone())?;
    Ok(JsonB(stored))
}

/// Promotes the model serving `from_stage` to `to_stage`, through `to_stage`'s gates.
#[pg_extern(name = "promote")]
fn promote_stage(
    project_name: &str,
    from_stage: default!(&str, "'staging'"),
    to_stage: default!(&str, "'production'"),
    force: default!(bool, false),
    allow_schema_change: default!(bool, false),
) -> TableIterator<
    'static,
    (
        name!(project, String),
        name!(model_id, i64),
        name!(stage, String),
        name!(status, String),
        name!(request_id, Option<i64>),
    ),
> {
    let o = Overrides { force, allow_schema_change };
    from_stage_model(project_name, from_stage, to_stage)
        .and_then(|(project, id)| promote(&project, id, Some(from_stage), to_stage, o))
        .or_raise()
}

fn from_stage_model(project_name: &str, from_stage: &str, to_stage: &str) -> Result<(Project, i64)> {
    let project = store::project(project_name)?;
    if from_stage == to_stage {
        return Err(SqlError::invalid(format!("cannot promote stage \"{from_stage}\" to itself")));
    }
    let id = store::serving_model(&project, from_stage)?;
    Ok((project, id))
}

/// Promotes one model of the project to `to_stage`, through its gates.
#[pg_extern(name = "promote")]
fn promote_model(
    project_name: &str,
    model_id: i64,
    to_stage: default!(&str, "'production'"),
    force: default!(bool, false),
    allow_schema_change: default!(bool, false),
) -> TableIterator<
    'static,
    (
        name!(project, String),
        name!(model_id, i64),
        name!(stage, String),
        name!(status, String),
        name!(request_id, Option<i64>),
    ),
> {
    let o = Overrides { force, allow_schema_change };
    store::project(project_name).and_then(|p| promote(&p, model_id, None, to_stage, o)).or_raise()
}

/// Promotes at once, or opens a request when the stage needs approvals (and force is not
/// given).
fn promote(
    project: &Project,
    model_id: i64,
    from: Option<&str>,
    to: &str,
    o: Overrides,
) -> Result<PromotionRow> {
    let (status, request) = promote_from(project, model_id, from, to, o)?;
    Ok(TableIterator::once((project.name.clone(), model_id, to.to_string(), status, request)))
}

/// A rollout's promotion of its candidate: `promote`'s status ("promoted", or "pending" with
/// the request's id when the stage needs approvals).
pub(crate) fn promote_decided(
    project: &Project,
    model_id: i64,
    to: &str,
    o: Overrides,
) -> Result<(String, Option<i64>)> {
    promote_from(project, model_id, None, to, o)
}

fn promote_from(
    project: &Project,
    model_id: i64,
    from: Option<&str>,
    to: &str,
    o: Overrides,
) -> Result<(String, Option<i64>)> {
    lifecycle::check_force(o.force)?;
    lifecycle::check_model(project, model_id)?;
    store::check_stage(project, to)?;
    store::lock_project(project.id)?;
    let a = lifecycle::assess(project, to, model_id, true)?;
    lifecycle::admit(&a, project, to, model_id, o)?;
    let row = |status: &str, request| (status.to_string(), request);
    if a.approvals > 0 && !o.force {
        let request = store::insert_request(NewRequest {
            project_id: project.id,
            model_id,
            from_stage: from,
            to_stage: to,
            approvals_required: a.approvals,
            allow_schema_change: o.allow_schema_change,
        })?;
        let details = json!({ "request_id": request, "from_stage": from, "approvals_required": a.approvals });
        audit(project, "request", Some(model_id), to, details)?;
        return Ok(row("pending", Some(request)));
    }
    lifecycle::place(project, to, model_id, Strategy::Promote, &a, o)?;
    Ok(row("promoted", None))
}

type ReviewRow = TableIterator<
    'static,
    (
        name!(request_id, i64),
        name!(status, String),
        name!(approvals, i32),
        name!(approvals_required, i32),
        name!(model_id, i64),
        name!(stage, String),
    ),
>;

/// Approves a pending promotion; the last required approval promotes the model.
#[pg_extern]
fn approve(
    request_id: i64,
    comment: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(request_id, i64),
        name!(status, String),
        name!(approvals, i32),
        name!(approvals_required, i32),
        name!(model_id, i64),
        name!(stage, String),
    ),
> {
    decide(request_id, Decision::Approve, comment).or_raise()
}

/// Rejects a pending promotion, which closes it.
#[pg_extern]
fn reject(
    request_id: i64,
    comment: default!(Option<&str>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(request_id, i64),
        name!(status, String),
        name!(approvals, i32),
        name!(approvals_required, i32),
        name!(model_id, i64),
        name!(stage, String),
    ),
> {
    decide(request_id, Decision::Reject, comment).or_raise()
}

fn decide(request_id: i64, decision: Decision, comment: Option<&str>) -> Result<ReviewRow> {
    let stored = store::lock_request(request_id)?;
    let req = &stored.request;
    let outcome = review(req, &crate::privilege::caller(), decision)?;
    let project = store::model_info(stored.model_id)?.project;
    store::insert_review(request_id, decision, comment)?;
    let details = json!({ "request_id": request_id, "comment": comment });
    audit(&project, decision.name(), Some(stored.model_id), &stored.to_stage, details)?;
    let approvals = req.approvals + u32::from(decision == Decision::Approve);
    let status = match outcome {
        Outcome::Pending { .. } => "pending",
        Outcome::Rejected => "rejected",
        Outcome::Approved => {
            complete(&project, &stored)?;
            "promoted"
        }
    };
    if status != "pending" {
        store::close_request(request_id, status)?;
    }
    Ok(TableIterator::once((
        request_id,
        status.to_string(),
        approvals as i32,
        req.approvals_required as i32,
        stored.model_id,
        stored.to_stage.clone(),
    )))
}

/// The approved promotion: the gates are checked again against what the stage serves now.
fn complete(project: &Project, stored: &store::StoredRequest) -> Result<()> {
    let (model_id, stage) = (stored.model_id, stored.to_stage.as_str());
    lifecycle::check_model(project, model_id)?;
    store::lock_project(project.id)?;
    let a = lifecycle::assess(project, stage, model_id, true)?;
    let o = Overrides { force: false, allow_schema_change: stored.allow_schema_change };
    lifecycle::admit(&a, project, stage, model_id, o)?;
    lifecycle::place(project, stage, model_id, Strategy::Promote, &a, o)
}

fn audit(
    project: &Project,
    event: &str,
    model_id: Option<i64>,
    stage: &str,
    details: serde_json::Value,
) -> Result<()> {
    store::audit(Event { event, project: Some(&project.name), model_id, stage: Some(stage), details })
}
