//! Putting a model on a stage: feeds `pgml_core::lifecycle`'s gates and schema comparison from
//! the registry, then records the deployment and its audit events. Every path that changes
//! what a stage serves — deploy, rollback, promote, approve, automatic deploy — comes here.

use crate::cache;
use crate::error::{Result, SqlError};
use crate::privilege;
use crate::store::{self, Event, NewDeployment, Project};
use pgml_core::lifecycle::compat::schema_diff;
use pgml_core::lifecycle::deploy::{should_auto_deploy, Strategy};
use pgml_core::lifecycle::gates::PRODUCTION;
use pgml_core::lifecycle::gates::{evaluate, refusal, Check, Evidence};
use serde_json::json;

/// The role whose members may override gates with `force => true`.
pub const OVERRIDE_ROLE: &str = "pgml_admin";

/// What stands between a model and a stage.
pub struct Assessment {
    /// The model the stage serves now.
    pub serving: Option<i64>,
    /// How the model's schema differs from the serving one's (empty: compatible).
    pub schema_diff: Vec<String>,
    /// The policy's gates; empty when `gates` was false or the stage has none.
    pub checks: Vec<Check>,
    pub approvals: u32,
}

/// Evaluates the stage's policy for `model_id` (and only the schema when `gates` is false:
/// a rollback returns to a model that already passed them).
pub fn assess(project: &Project, stage: &str, model_id: i64, gates: bool) -> Result<Assessment> {
    let serving = store::deployed(project, stage)?.map(|(id, _)| id);
    let diff = match serving {
        Some(s) if s != model_id => schema_diff(&cache::model(s)?.header, &cache::model(model_id)?.header),
        _ => Vec::new(),
    };
    let policy = store::policy(project.id, stage)?;
    if !gates {
        return Ok(Assessment { serving, schema_diff: diff, checks: Vec::new(), approvals: 0 });
    }
    let candidate = store::model_info(model_id)?.metrics;
    let serving_metrics = serving.map(|id| store::model_info(id).map(|m| (id, m.metrics))).transpose()?;
    let drift = match &policy.drift_relation {
        Some(relation) => Some(crate::api::drift::outcome(project, relation, model_id)?),
        None => None,
    };
    let evidence = Evidence {
        task: project.task,
        candidate_id: model_id,
        candidate: &candidate,
        serving: serving_metrics.as_ref().map(|(id, m)| (*id, m)),
        drift,
    };
    Ok(Assessment {
        serving,
        schema_diff: diff,
        checks: evaluate(&policy, &evidence),
        approvals: policy.approvals,
    })
}

impl Assessment {
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| !c.passed)
    }

    /// The refusal for an incompatible schema.
    pub fn schema_refusal(&self, model_id: i64, stage: &str) -> SqlError {
        let serving = self.serving.map_or(String::new(), |id| format!(" of model {id}"));
        SqlError::from(pgml_core::Error::refused(format!(
            "model {model_id} cannot replace the model serving stage \"{stage}\": its feature schema differs \
             from the one{serving} its callers send\n  {}",
            self.schema_diff.join("\n  ")
        )))
        .hint(
            "pass allow_schema_change => true to pgml.promote to replace it anyway (recorded); callers must \
             then send the new features",
        )
    }

    /// The refusal for failed gates.
    pub fn gate_refusal(&self, model_id: i64, project: &Project, stage: &str) -> SqlError {
        refusal(
            &format!("model {model_id} cannot serve stage \"{stage}\" of project \"{}\"", project.name),
            &self.checks,
        )
        .into()
    }
}

/// How a change of stage was asked for.
#[derive(Clone, Copy, Default)]
pub struct Overrides {
    pub force: bool,
    pub allow_schema_change: bool,
}

/// Refuses `force` to roles that may not override gates.
pub fn check_force(force: bool) -> Result<()> {
    if force && !privilege::caller_has_role(OVERRIDE_ROLE)? {
        return Err(SqlError::from(pgml_core::Error::forbidden(format!(
            "role \"{}\" may not override promotion gates",
            privilege::caller()
        )))
        .hint(format!("force => true needs membership in {OVERRIDE_ROLE}")));
    }
    Ok(())
}

/// Refuses what the assessment forbids, unless overridden: the schema (allow_schema_change),
/// the gates (force). Approvals are the caller's to handle.
pub fn admit(a: &Assessment, project: &Project, stage: &str, model_id: i64, o: Overrides) -> Result<()> {
    if !a.schema_diff.is_empty() && !o.allow_schema_change {
        return Err(a.schema_refusal(model_id, stage));
    }
    if a.failed() && !o.force {
        return Err(a.gate_refusal(model_id, project, stage));
    }
    Ok(())
}

/// Records `model_id` serving `stage`, with the override and schema-change events the
/// assessment calls for. The caller holds the project's lock and has admitted the model.
pub fn place(
    project: &Project,
    stage: &str,
    model_id: i64,
    strategy: Strategy,
    a: &Assessment,
    o: Overrides,
) -> Result<()> {
    let event = |event, details| {
        store::audit(Event {
            event,
            project: Some(&project.name),
            model_id: Some(model_id),
            stage: Some(stage),
            details,
        })
    };
    if o.force && (a.failed() || a.approvals > 0) {
        event("override", json!({ "checks": a.checks, "approvals_required": a.approvals }))?;
    }
    if !a.schema_diff.is_empty() {
        event("schema_change", json!({ "replaced_model_id": a.serving, "diff": a.schema_diff }))?;
    }
    // a rollout running on the stage ends: its baseline no longer serves
    crate::rollout::end_on_deploy(project, stage, model_id)?;
    store::insert_deployment(NewDeployment {
        project_id: project.id,
        stage,
        model_id,
        strategy,
        replaced: a.serving,
    })?;
    store::supersede_requests(project.id, stage, model_id)
}

/// A model that may be put on a stage: it belongs to the project and is not archived.
pub fn check_model(project: &Project, model_id: i64) -> Result<store::ModelInfo> {
    let info = store::model_of(project, model_id)?;
    if info.archived {
        return Err(SqlError::from(pgml_core::Error::refused(format!("model {model_id} is archived"))));
    }
    Ok(info)
}

/// Deploys the new model to production if its key metric strictly beats the serving
/// model's and it passes production's gates; says why not when the gates stop it.
pub fn auto_deploy(project: &Project, model_id: i64, key: Option<f64>, enabled: bool) -> Result<bool> {
    if !enabled {
        pgrx::notice!("automatic_deploy is false: model {model_id} was stored but not deployed");
        return Ok(false);
    }
    store::lock_project(project.id)?;
    let current = store::deployed(project, PRODUCTION)?.map(|(_, metric)| metric);
    if !should_auto_deploy(current, key) {
        return Ok(false);
    }
    let a = assess(project, PRODUCTION, model_id, true)?;
    if let Err(refusal) = admit(&a, project, PRODUCTION, model_id, Overrides::default()) {
        pgrx::notice!("model {model_id} was not deployed automatically: {}", refusal.message);
        return Ok(false);
    }
    if a.approvals > 0 {
        pgrx::notice!(
            "model {model_id} passes the gates of production but needs {} approval(s); request them with \
             pgml.promote('{}', {model_id})",
            a.approvals,
            project.name.replace('\'', "''")
        );
        return Ok(false);
    }
    place(project, PRODUCTION, model_id, Strategy::NewScore, &a, Overrides::default())?;
    Ok(true)
}
