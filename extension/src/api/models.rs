//! Retiring models: `pgml.archive_model` (kept for audit, hidden from strategies and
//! promotion) and `pgml.delete_model`. Neither touches a model that serves a stage.

use crate::error::{OrRaise, Result, SqlError};
use crate::store::{self, Event, ModelInfo};
use pgrx::prelude::*;
use serde_json::json;

/// Archives a model; false when it was archived already.
#[pg_extern]
fn archive_model(model_id: i64) -> bool {
    archive(model_id).or_raise()
}

fn archive(model_id: i64) -> Result<bool> {
    let info = retirable(model_id, "archive")?;
    if info.archived {
        return Ok(false);
    }
    store::archive_model(model_id)?;
    audit("archive", &info, model_id, json!({ "algorithm": info.algorithm }))?;
    Ok(true)
}

/// Deletes a model and its files; the audit trail keeps its history.
#[pg_extern]
fn delete_model(model_id: i64) -> bool {
    delete(model_id).or_raise()
}

fn delete(model_id: i64) -> Result<bool> {
    let info = retirable(model_id, "delete")?;
    store::delete_model(model_id)?;
    audit("delete", &info, model_id, json!({ "algorithm": info.algorithm, "metrics": info.metrics }))?;
    Ok(true)
}

/// The model, locked against concurrent deploys, if it serves no stage.
fn retirable(model_id: i64, action: &str) -> Result<ModelInfo> {
    let info = store::model_info(model_id)?;
    store::lock_project(info.project.id)?;
    let serving = store::stages_served(model_id)?;
    if !serving.is_empty() {
        return Err(SqlError::from(pgml_core::Error::refused(format!(
            "cannot {action} model {model_id}: it serves stage(s) {} of project \"{}\"",
            serving.join(", "),
            info.project.name
        )))
        .hint("deploy or promote another model to those stages first"));
    }
    if let Some((id, stage)) = crate::rollout::store::running_with(model_id)? {
        return Err(SqlError::from(pgml_core::Error::refused(format!(
            "cannot {action} model {model_id}: rollout {id} on stage \"{stage}\" of project \"{}\" tries it",
            info.project.name
        )))
        .hint("stop the rollout first with pgml.stop_rollout"));
    }
    Ok(info)
}

fn audit(event: &str, info: &ModelInfo, model_id: i64, details: serde_json::Value) -> Result<()> {
    store::audit(Event {
        event,
        project: Some(&info.project.name),
        model_id: Some(model_id),
        stage: None,
        details,
    })
}
