//! `pgml.deploy`: by strategy or by model id, to a stage (`production` when none is named,
//! PostgresML's only one). The strategies live in `pgml_core::lifecycle::deploy`, the gates
//! in `crate::lifecycle`; this file feeds them from the registry.

use crate::cache;
use crate::error::{OrRaise, Result, SqlError};
use crate::lifecycle::{self, Overrides};
use crate::store::{self, Project};
use pgml_core::lifecycle::deploy::{choose, Strategy};
use pgrx::prelude::*;

type DeployRow =
    TableIterator<'static, (name!(project, String), name!(strategy, String), name!(algorithm, String))>;

/// Called by the statement trigger on pgml.deployments (bootstrap.sql).
#[pg_extern]
fn _pgml_deployments_changed() {
    cache::deployments_changed()
}

/// Deploys the model a strategy picks: `most_recent`, `best_score` (numeric comparison of
/// the key metric) or `rollback`, optionally among one algorithm's models.
#[pg_extern(name = "deploy")]
fn deploy_strategy(
    project_name: &str,
    strategy: default!(&str, "'best_score'"),
    algorithm: default!(Option<&str>, "NULL"),
    stage: default!(&str, "'production'"),
) -> TableIterator<'static, (name!(project, String), name!(strategy, String), name!(algorithm, String))> {
    by_strategy(project_name, strategy, algorithm, stage).or_raise()
}

fn by_strategy(
    project_name: &str,
    strategy: &str,
    algorithm: Option<&str>,
    stage: &str,
) -> Result<DeployRow> {
    let strategy = Strategy::parse_requested(strategy)?;
    let project = store::project(project_name)?;
    store::check_stage(&project, stage)?;
    store::lock_project(project.id)?;
    let candidates = store::candidates(&project)?;
    let history = store::history(project.id, stage)?;
    let id = choose(strategy, project_name, &candidates, &history, algorithm)?;
    put(&project, stage, id, strategy)?;
    let algorithm = candidates.into_iter().find(|c| c.id == id).map(|c| c.algorithm).unwrap_or_default();
    Ok(TableIterator::once((project.name, strategy.name().to_string(), algorithm)))
}

/// Puts a model on a stage through the stage's gates. A rollback returns to a model that
/// served the stage before, so only its schema is checked: it is the emergency lever.
fn put(project: &Project, stage: &str, model_id: i64, strategy: Strategy) -> Result<()> {
    let assessment = lifecycle::assess(project, stage, model_id, strategy != Strategy::Rollback)?;
    lifecycle::admit(&assessment, project, stage, model_id, Overrides::default())?;
    if assessment.approvals > 0 {
        return Err(SqlError::from(pgml_core::Error::refused(format!(
            "stage \"{stage}\" of project \"{}\" needs {} approval(s) before model {model_id} serves it",
            project.name, assessment.approvals
        )))
        .hint(format!(
            "request them with SELECT * FROM pgml.promote('{}', {model_id}, '{stage}')",
            project.name.replace('\'', "''")
        )));
    }
    lifecycle::place(project, stage, model_id, strategy, &assessment, Overrides::default())
}

/// Deploys one model by id (strategy `specific`).
#[pg_extern(name = "deploy")]
fn deploy_model(
    model_id: i64,
    stage: default!(&str, "'production'"),
) -> TableIterator<'static, (name!(project, String), name!(strategy, String), name!(algorithm, String))> {
    by_id(model_id, stage).or_raise()
}

fn by_id(model_id: i64, stage: &str) -> Result<DeployRow> {
    let project = store::model_info(model_id)?.project;
    specific(&project, model_id, stage)
}

fn specific(project: &Project, model_id: i64, stage: &str) -> Result<DeployRow> {
    let info = lifecycle::check_model(project, model_id)?;
    store::check_stage(project, stage)?;
    store::lock_project(project.id)?;
    put(project, stage, model_id, Strategy::Specific)?;
    Ok(TableIterator::once((project.name.clone(), Strategy::Specific.name().to_string(), info.algorithm)))
}

/// Deploys one model by id, checking that it belongs to the named project (strategy
/// `specific`): a guard against deploying another project's model by a mistyped id.
#[pg_extern(name = "deploy")]
fn deploy_project_model(
    project_name: &str,
    model_id: i64,
    stage: default!(&str, "'production'"),
) -> TableIterator<'static, (name!(project, String), name!(strategy, String), name!(algorithm, String))> {
    specific(&store::project(project_name).or_raise(), model_id, stage).or_raise()
}

/// Returns a stage to the model it served before (an alert rule's `action => 'rollback'`), in
/// the caller's transaction; the model it now serves.
pub(crate) fn rollback(project_name: &str, stage: &str) -> Result<i64> {
    by_strategy(project_name, "rollback", None, stage)?;
    let project = store::project(project_name)?;
    Ok(store::deployed(&project, stage)?.map_or(0, |(id, _)| id))
}
