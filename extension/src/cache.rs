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
use pgrx::{pg_guard, pg_sys};
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
    // How many times the mapping was forgotten: a lookup that saw it change while it read the
    // registry (a deploy's invalidation processed meanwhile) answers but caches nothing.
    static FORGOTTEN: Cell<u64> = const { Cell::new(0) };
}

#[pg_guard]
unsafe extern "C-unwind" fn on_relcache_invalidation(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    // A reset (InvalidOid) or a change of pgml.deployments: forget which model is deployed,
    // and the table's oid too (the extension may have been dropped and created again, by a
    // restore say); the next predict looks both up again.
    if relid == pg_sys::InvalidOid || relid == DEPLOYMENTS_OID.with(Cell::get) {
        forget_deployments();
        DEPLOYMENTS_OID.with(|c| c.set(pg_sys::InvalidOid));
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
    FORGOTTEN.with(|n| n.set(n.get() + 1));
}

/// The oid of pgml.deployments, looked up once per backend in the catalog caches: no query,
/// so it works where a predict runs — a parallel worker, a hot standby, a read-only
/// transaction (pgrx's `Spi::get_one` asks for a transaction id, which all three refuse).
fn deployments_oid() -> pg_sys::Oid {
    let known = DEPLOYMENTS_OID.with(Cell::get);
    if known != pg_sys::InvalidOid {
        return known;
    }
    // SAFETY: catalog cache lookups by name; missing_ok, so InvalidOid rather than an error
    let oid = unsafe {
        let schema = pg_sys::get_namespace_oid(c"pgml".as_ptr(), true);
        match schema == pg_sys::InvalidOid {
            true => pg_sys::InvalidOid,
            false => pg_sys::get_relname_relid(c"deployments".as_ptr(), schema),
        }
    };
    DEPLOYMENTS_OID.with(|c| c.set(oid));
    oid
}

/// Tells every backend, when this transaction commits, that deployments changed; this
/// backend forgets its own mapping now (and again if the transaction aborts).
pub fn deployments_changed() {
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(deployments_oid()) };
    forget_deployments();
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Abort, forget_deployments);
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
    // the table's oid first, so the callback recognises its invalidations from now on
    deployments_oid();
    let forgotten = FORGOTTEN.with(Cell::get);
    let id = store::deployed_model_id(project_name, stage)?;
    let entry = (id, model(id)?);
    // Reading the registry takes locks, and taking a lock processes pending invalidations: a
    // deploy committed after this statement's snapshot may have been seen meanwhile. The answer
    // stays right for this statement; caching it would serve it after that deploy.
    if FORGOTTEN.with(Cell::get) == forgotten {
        DEPLOYED.with(|d| {
            d.borrow_mut()
                .entry(project_name.to_string())
                .or_default()
                .insert(stage.to_string(), entry.clone())
        });
    }
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
