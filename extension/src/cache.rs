//! The per-backend model cache and its invalidation.
//!
//! Two maps: (project name, stage) → deployed model, and model id → loaded model. Models never
//! change once trained, so the second map needs no invalidation. The first is cleared by a
//! relcache callback whenever `pgml.deployments` changes anywhere: the table's statement
//! trigger sends a relcache invalidation for it. PostgreSQL delivers it transactionally:
//! other backends receive it only after the deploying transaction commits (and never if it
//! aborts), and every predict first accepts pending
//! invalidations, so a committed deploy is seen by the next statement while an aborted one
//! never serves. The hot path costs a hash lookup and no SQL.

use crate::error::Result;
use crate::store;
use pgml_core::artifact::LoadedModel;
use pgrx::pg_sys;
use pgrx::prelude::*;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::mem::ManuallyDrop;
use std::rc::Rc;

/// A stage's model and its id.
type Deployed = (i64, Rc<LoadedModel>);

thread_local! {
    // project → stage → model: two lookups by &str, no allocation per predict
    static DEPLOYED: RefCell<HashMap<String, HashMap<String, Deployed>>> = RefCell::new(HashMap::new());
    // Never dropped: at backend exit, libxgboost's own thread-local state is torn down before
    // Rust's thread-local destructors would free the boosters, and freeing them then
    // segfaults. The process is exiting; the OS reclaims the memory.
    static MODELS: ManuallyDrop<RefCell<HashMap<i64, Rc<LoadedModel>>>> =
        ManuallyDrop::new(RefCell::new(HashMap::new()));
    static DEPLOYMENTS_OID: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
}

#[pg_guard]
unsafe extern "C-unwind" fn on_relcache_invalidation(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    // A reset (InvalidOid) or a change of pgml.deployments: forget which model is deployed.
    if relid == pg_sys::InvalidOid || relid == DEPLOYMENTS_OID.with(Cell::get) {
        forget_deployments();
    }
}

/// Called once per backend when the library loads.
pub fn register_invalidation_callback() {
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache_invalidation), pg_sys::Datum::from(0));
    }
}

/// Forgets every project → model mapping of this backend.
pub fn forget_deployments() {
    DEPLOYED.with(|d| d.borrow_mut().clear());
}

/// The oid of pgml.deployments, looked up once per backend.
fn deployments_oid() -> Result<pg_sys::Oid> {
    let known = DEPLOYMENTS_OID.with(Cell::get);
    if known != pg_sys::InvalidOid {
        return Ok(known);
    }
    let oid: Option<pg_sys::Oid> = Spi::get_one("SELECT 'pgml.deployments'::regclass::oid")?;
    let oid = oid.unwrap_or(pg_sys::InvalidOid);
    DEPLOYMENTS_OID.with(|c| c.set(oid));
    Ok(oid)
}

/// Tells every backend, when this transaction commits, that deployments changed; this
/// backend forgets its own mapping now (and again if the transaction aborts).
pub fn deployments_changed() -> Result<()> {
    let oid = deployments_oid()?;
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(oid) };
    forget_deployments();
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Abort, forget_deployments);
    Ok(())
}

/// The model deployed to a project's stage.
pub fn deployed(project_name: &str, stage: &str) -> Result<Rc<LoadedModel>> {
    deployed_with_id(project_name, stage).map(|(_, m)| m)
}

/// The model deployed to a project's stage, with its id.
pub fn deployed_with_id(project_name: &str, stage: &str) -> Result<Deployed> {
    // Cheap when nothing is pending: a check of the shared invalidation queue.
    unsafe { pg_sys::AcceptInvalidationMessages() };
    if let Some(m) = DEPLOYED.with(|d| d.borrow().get(project_name).and_then(|s| s.get(stage)).cloned()) {
        return Ok(m);
    }
    deployments_oid()?;
    let id = store::deployed_model_id(project_name, stage)?;
    let entry = (id, model(id)?);
    DEPLOYED.with(|d| {
        d.borrow_mut().entry(project_name.to_string()).or_default().insert(stage.to_string(), entry.clone())
    });
    Ok(entry)
}

/// A model by id, loaded once per backend.
pub fn model(id: i64) -> Result<Rc<LoadedModel>> {
    if let Some(m) = MODELS.with(|m| m.borrow().get(&id).cloned()) {
        return Ok(m);
    }
    let loaded = Rc::new(LoadedModel::from_vec(store::model_bytes(id)?)?);
    MODELS.with(|m| m.borrow_mut().insert(id, loaded.clone()));
    Ok(loaded)
}
