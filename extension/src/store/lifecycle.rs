//! Registry rows of the lifecycle beyond deployments: stages, their policies, promotion
//! requests and reviews, model retirement and the audit trail.

use super::{execute, first_row, first_row_mut, write_value, Project};
use crate::error::{Result, SqlError};
use crate::privilege::{as_owner, caller};
use pgml_core::lifecycle::gates::Policy;
use pgml_core::lifecycle::review::{Decision, Request};
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::Value;

/// An error unless the project has the stage.
pub fn check_stage(project: &Project, stage: &str) -> Result<()> {
    let exists = first_row(
        "SELECT 1 FROM pgml.stages WHERE project_id = $1 AND name = $2",
        &[project.id.into(), stage.into()],
        |_| Ok(()),
    )?;
    exists.ok_or_else(|| {
        SqlError::undefined(format!("project \"{}\" has no stage \"{stage}\"", project.name)).hint(format!(
            "see SELECT stage FROM pgml.stages_overview WHERE project = '{}', or add it with pgml.add_stage",
            project.name.replace('\'', "''")
        ))
    })
}

/// Adds a stage; false when the project already has it.
pub fn add_stage(project: &Project, stage: &str) -> Result<bool> {
    let who = caller();
    let added: Option<bool> = as_owner(|| {
        write_value(
            "WITH added AS (INSERT INTO pgml.stages (project_id, name, created_by) VALUES ($1, $2, $3)
                            ON CONFLICT DO NOTHING RETURNING 1)
             SELECT count(*) = 1 FROM added",
            &[project.id.into(), stage.into(), who.into()],
        )
    })?;
    Ok(added.unwrap_or(false))
}

/// The stage's policy; the empty policy (no gates) when none was set.
pub fn policy(project_id: i64, stage: &str) -> Result<Policy> {
    let row = first_row(
        "SELECT min_metrics, max_metrics, min_improvement, min_relative_improvement, approvals, drift_relation
         FROM pgml.stage_policies WHERE project_id = $1 AND stage = $2",
        &[project_id.into(), stage.into()],
        |r| {
            let metrics = |i| -> Result<pgml_core::metrics::Metrics> {
                let json = r.get::<JsonB>(i)?.map(|j| j.0).unwrap_or_default();
                serde_json::from_value(json).map_err(|e| {
                    SqlError::from(pgml_core::Error::Internal(format!("stored policy metrics: {e}")))
                })
            };
            Ok(Policy {
                min_metrics: metrics(1)?,
                max_metrics: metrics(2)?,
                min_improvement: r.get(3)?,
                min_relative_improvement: r.get(4)?,
                approvals: r.get::<i32>(5)?.unwrap_or(0).max(0) as u32,
                drift_relation: r.get(6)?,
            })
        },
    )?;
    Ok(row.unwrap_or_default())
}

pub fn set_policy(project_id: i64, stage: &str, p: &Policy) -> Result<()> {
    let json = |m: &pgml_core::metrics::Metrics| JsonB(serde_json::to_value(m).unwrap_or_default());
    let who = caller();
    as_owner(|| {
        execute(
            "INSERT INTO pgml.stage_policies AS p (project_id, stage, min_metrics, max_metrics, min_improvement,
                                                   min_relative_improvement, approvals, drift_relation, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (project_id, stage) DO UPDATE SET
               min_metrics = EXCLUDED.min_metrics, max_metrics = EXCLUDED.max_metrics,
               min_improvement = EXCLUDED.min_improvement,
               min_relative_improvement = EXCLUDED.min_relative_improvement,
               approvals = EXCLUDED.approvals, drift_relation = EXCLUDED.drift_relation,
               updated_by = EXCLUDED.updated_by, updated_at = clock_timestamp()",
            &[
                project_id.into(),
                stage.into(),
                json(&p.min_metrics).into(),
                json(&p.max_metrics).into(),
                p.min_improvement.into(),
                p.min_relative_improvement.into(),
                (p.approvals as i32).into(),
                p.drift_relation.clone().into(),
                who.into(),
            ],
        )?;
        Ok(())
    })
}

/// One audit event, recorded with the caller's role.
pub struct Event<'a> {
    pub event: &'a str,
    pub project: Option<&'a str>,
    pub model_id: Option<i64>,
    pub stage: Option<&'a str>,
    pub details: Value,
}

pub fn audit(mut e: Event) -> Result<()> {
    let who = caller();
    if let (Some(reason), Some(details)) = (crate::settings::audit_reason(), e.details.as_object_mut()) {
        details.insert("reason".into(), reason.into());
    }
    as_owner(|| {
        execute(
            "INSERT INTO pgml.audit_log (event, role, project, model_id, stage, details)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                e.event.into(),
                who.into(),
                e.project.into(),
                e.model_id.into(),
                e.stage.into(),
                JsonB(e.details).into(),
            ],
        )?;
        Ok(())
    })
}

/// The stages a model serves now.
pub fn stages_served(model_id: i64) -> Result<Vec<String>> {
    Spi::connect(|c| {
        let t = c.select(
            "SELECT stage FROM pgml.stage_deployments WHERE model_id = $1 ORDER BY stage",
            None,
            &[model_id.into()],
        )?;
        t.map(|r| Ok(r.get::<String>(1)?.unwrap_or_default())).collect()
    })
}

pub fn archive_model(model_id: i64) -> Result<()> {
    as_owner(|| {
        execute(
            "UPDATE pgml.models SET status = 'archived', updated_at = clock_timestamp() WHERE id = $1",
            &[model_id.into()],
        )?;
        Ok(())
    })
}

/// Deletes a model, its files, drift references and past deployment rows (the audit trail
/// keeps its events).
pub fn delete_model(model_id: i64) -> Result<()> {
    as_owner(|| {
        execute("DELETE FROM pgml.models WHERE id = $1", &[model_id.into()])?;
        Ok(())
    })
}

/// A new pending promotion.
pub struct NewRequest<'a> {
    pub project_id: i64,
    pub model_id: i64,
    pub from_stage: Option<&'a str>,
    pub to_stage: &'a str,
    pub approvals_required: u32,
    pub allow_schema_change: bool,
}

pub fn insert_request(r: NewRequest) -> Result<i64> {
    let who = caller();
    let id = as_owner(|| {
        first_row_mut(
            "INSERT INTO pgml.promotion_requests (project_id, model_id, from_stage, to_stage, approvals_required,
                                                  allow_schema_change, requested_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (project_id, to_stage, model_id) WHERE status = 'pending' DO NOTHING
             RETURNING id",
            &[
                r.project_id.into(),
                r.model_id.into(),
                r.from_stage.into(),
                r.to_stage.into(),
                (r.approvals_required as i32).into(),
                r.allow_schema_change.into(),
                who.into(),
            ],
            |r| Ok(r.get::<i64>(1)?.unwrap_or_default()),
        )
    })?;
    id.ok_or_else(|| {
        SqlError::new(
            pgrx::PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
            format!(
                "model {} already has a pending promotion request to stage \"{}\"",
                r.model_id, r.to_stage
            ),
        )
        .hint("see SELECT * FROM pgml.promotion_requests WHERE status = 'pending'")
    })
}

/// A promotion request, locked until the end of the transaction, with its reviews so far.
pub struct StoredRequest {
    pub request: Request,
    pub model_id: i64,
    pub to_stage: String,
    pub allow_schema_change: bool,
}

pub fn lock_request(id: i64) -> Result<StoredRequest> {
    let row = as_owner(|| {
        first_row_mut(
            "SELECT r.status, r.requested_by::text, r.approvals_required, r.model_id, r.to_stage,
                    r.allow_schema_change,
                    ARRAY(SELECT reviewer::text FROM pgml.promotion_reviews v WHERE v.request_id = r.id),
                    (SELECT count(*) FROM pgml.promotion_reviews v WHERE v.request_id = r.id AND decision = 'approve')
             FROM pgml.promotion_requests r WHERE r.id = $1 FOR UPDATE",
            &[id.into()],
            |r| {
                Ok(StoredRequest {
                    request: Request {
                        id,
                        status: r.get(1)?.unwrap_or_default(),
                        requested_by: r.get(2)?.unwrap_or_default(),
                        approvals_required: r.get::<i32>(3)?.unwrap_or(0).max(0) as u32,
                        reviewers: r.get::<Vec<String>>(7)?.unwrap_or_default(),
                        approvals: r.get::<i64>(8)?.unwrap_or(0) as u32,
                    },
                    model_id: r.get(4)?.unwrap_or_default(),
                    to_stage: r.get(5)?.unwrap_or_default(),
                    allow_schema_change: r.get(6)?.unwrap_or(false),
                })
            },
        )
    })?;
    row.ok_or_else(|| {
        SqlError::undefined(format!("promotion request {id} does not exist"))
            .hint("see SELECT * FROM pgml.promotion_requests WHERE status = 'pending'")
    })
}

pub fn insert_review(request_id: i64, decision: Decision, comment: Option<&str>) -> Result<()> {
    let who = caller();
    as_owner(|| {
        execute(
            "INSERT INTO pgml.promotion_reviews (request_id, reviewer, decision, comment) VALUES ($1, $2, $3, $4)",
            &[request_id.into(), who.into(), decision.name().into(), comment.into()],
        )?;
        Ok(())
    })
}

/// Closes the pending requests to put `model_id` on `stage`: it got there another way.
pub fn supersede_requests(project_id: i64, stage: &str, model_id: i64) -> Result<()> {
    as_owner(|| {
        execute(
            "UPDATE pgml.promotion_requests SET status = 'superseded', decided_at = clock_timestamp()
             WHERE project_id = $1 AND to_stage = $2 AND model_id = $3 AND status = 'pending'",
            &[project_id.into(), stage.into(), model_id.into()],
        )?;
        Ok(())
    })
}

pub fn close_request(request_id: i64, status: &str) -> Result<()> {
    as_owner(|| {
        execute(
            "UPDATE pgml.promotion_requests SET status = $2, decided_at = clock_timestamp() WHERE id = $1",
            &[request_id.into(), status.into()],
        )?;
        Ok(())
    })
}
