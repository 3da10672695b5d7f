//! `pgml.deploy`: by strategy or by model id. The rules live in
//! `pgml_core::lifecycle::deploy`; this file feeds them from the registry.

use crate::cache;
use crate::error::{OrRaise, Result};
use crate::store::{self, Project};
use pgml_core::lifecycle::deploy::{choose, Strategy};
use pgrx::prelude::*;

type DeployRow =
    TableIterator<'static, (name!(project, String), name!(strategy, String), name!(algorithm, String))>;

/// Records a deployment of `model_id`; the table's trigger invalidates every backend's cache
/// at commit. The caller holds the project's lock (`store::lock_project`).
pub(crate) fn record(project: &Project, model_id: i64, strategy: Strategy) -> Result<()> {
    let replaced = store::deployed(project)?.map(|(id, _)| id);
    store::insert_deployment(project.id, model_id, strategy, replaced)
}

/// Called by the statement trigger on pgml.deployments (bootstrap.sql).
#[pg_extern]
fn _pgml_deployments_changed() {
    cache::deployments_changed().or_raise()
}

/// Deploys the model a strategy picks: `most_recent`, `best_score` (numeric comparison of
/// the key metric) or `rollback`, optionally among one algorithm's models.
#[pg_extern(name = "deploy")]
fn deploy_strategy(
    project_name: &str,
    strategy: default!(&str, "'best_score'"),
    algorithm: default!(Option<&str>, "NULL"),
) -> TableIterator<'static, (name!(project, String), name!(strategy, String), name!(algorithm, String))> {
    by_strategy(project_name, strategy, algorithm).or_raise()
}

fn by_strategy(project_name: &str, strategy: &str, algorithm: Option<&str>) -> Result<DeployRow> {
    let strategy = Strategy::parse_requested(strategy)?;
    let project = store::project(project_name)?;
    store::lock_project(project.id)?;
    let candidates = store::candidates(&project)?;
    let history = store::history(project.id)?;
    let id = choose(strategy, project_name, &candidates, &history, algorithm)?;
    record(&project, id, strategy)?;
    let algorithm = candidates.into_iter().find(|c| c.id == id).map(|c| c.algorithm).unwrap_or_default();
    Ok(TableIterator::once((project.name, strategy.name().to_string(), algorithm)))
}

/// Deploys one model by id (strategy `specific`).
#[pg_extern(name = "deploy")]
fn deploy_model(
    model_id: i64,
) -> TableIterator<'static, (name!(project, String), name!(strategy, String), name!(algorithm, String))> {
    by_id(model_id).or_raise()
}

fn by_id(model_id: i64) -> Result<DeployRow> {
    specific(model_id, store::model_info(model_id)?)
}

fn specific(model_id: i64, info: store::ModelInfo) -> Result<DeployRow> {
    store::lock_project(info.project.id)?;
    record(&info.project, model_id, Strategy::Specific)?;
    Ok(TableIterator::once((info.project.name, Strategy::Specific.name().to_string(), info.algorithm)))
}

/// Deploys one model by id, checking that it belongs to the named project (strategy
/// `specific`): a guard against deploying another project's model by a mistyped id.
#[pg_extern(name = "deploy")]
fn deploy_project_model(
    project_name: &str,
    model_id: i64,
) -> TableIterator<'static, (name!(project, String), name!(strategy, String), name!(algorithm, String))> {
    checked_by_id(project_name, model_id).or_raise()
}

fn checked_by_id(project_name: &str, model_id: i64) -> Result<DeployRow> {
    let project = store::project(project_name)?;
    specific(model_id, store::model_of(&project, model_id)?)
}
