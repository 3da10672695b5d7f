//! The per-backend model cache and its invalidation.
//!
//! Two maps: (project name, stage) → deployed model, and model id → loaded model. Models never
//! change once trained, so the second map needs no invalidation. The first is cleared by a
//! relcache callback whenever `pgml.deployments` changes anywhere: the table's statement
//! trigger sends a relcache invalidation for it. PostgreSQL delivers it transactionally:
//! other backends receive it only after the deploying transaction commits (and never if it
//! aborts), and every predict first accepts pending invalidations, so a committed deploy is
//! seen by the next statement while an aborted one never serves. On a hot standby the
//! invalidation is replayed from the commit's WAL record, so a standby follows deploys too.
//!
//! The hot path runs no SQL: it accepts pending invalidations (a check of a shared counter),
//! then compares the project and stage with the previous call's, which a scan of a table
//! repeats row after row; only another project or stage costs a hash lookup.

use crate::error::Result;
use crate::store;
use pgml_core::artifact::LoadedModel;
use pgrx::{pg_guard, pg_sys};
use std::cell::{LazyCell, RefCell};
use std::collections::HashMap;
use std::ops::ControlFlow;
use std::rc::Rc;

/// A stage's model and its id.
type Deployed = (i64, Rc<LoadedModel>);

struct Cache {
    /// project → stage → model: two lookups by &str, no allocation per predict.
    deployed: HashMap<String, HashMap<String, Deployed>>,
    /// The previous lookup's (project, stage, model), while it is still deployed.
    last: Option<(String, String, Deployed)>,
    models: HashMap<i64, Rc<LoadedModel>>,
    deployments_oid: pg_sys::Oid,
    /// How many times the mapping was forgotten: a lookup that saw it change while it read the
    /// registry (a deploy's invalidation processed meanwhile) answers but caches nothing.
    forgotten: u64,
}

/// The backend's cache. PostgreSQL runs the extension's functions on the backend's one main
/// thread (threads of the core never reach this module), so a plain static serves: a
/// thread-local costs a call to `__tls_get_addr` in a library loaded at run time, on every
/// predict. A static is never dropped: at backend exit, libxgboost's own thread-local state is
/// torn down first and freeing the boosters then would segfault; the OS reclaims the memory.
static CACHE: MainThread<LazyCell<RefCell<Cache>>> = MainThread(LazyCell::new(|| {
    RefCell::new(Cache {
        deployed: HashMap::new(),
        last: None,
        models: HashMap::new(),
        deployments_oid: pg_sys::InvalidOid,
        forgotten: 0,
    })
}));

struct MainThread<T>(T);

// SAFETY: only the backend's main thread calls the SQL functions and the invalidation
// callback that use `CACHE`.
unsafe impl<T> Sync for MainThread<T> {}

impl MainThread<LazyCell<RefCell<Cache>>> {
    fn with<R>(&self, f: impl FnOnce(&RefCell<Cache>) -> R) -> R {
        f(&self.0)
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_relcache_invalidation(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    // A reset (InvalidOid) or a change of pgml.deployments: forget which model is deployed,
    // and the table's oid too (the extension may have been dropped and created again, by a
    // restore say); the next predict looks both up again.
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if relid == pg_sys::InvalidOid || relid == c.deployments_oid {
            c.forget();
            c.deployments_oid = pg_sys::InvalidOid;
        }
    });
}

/// Called once per backend when the library loads.
pub fn register_invalidation_callback() {
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache_invalidation), pg_sys::Datum::from(0));
    }
}

impl Cache {
    fn forget(&mut self) {
        self.deployed.clear();
        self.last = None;
        self.forgotten += 1;
    }

    /// The oid of pgml.deployments, looked up once in the catalog caches: no query, so it
    /// works where a predict runs — a parallel worker, a hot standby, a read-only transaction
    /// (pgrx's `Spi::get_one` asks for a transaction id, which all three refuse).
    fn deployments_oid(&mut self) -> pg_sys::Oid {
        if self.deployments_oid == pg_sys::InvalidOid {
            // SAFETY: catalog cache lookups by name; missing_ok, so InvalidOid rather than an error
            self.deployments_oid = unsafe {
                let schema = pg_sys::get_namespace_oid(c"pgml".as_ptr(), true);
                match schema == pg_sys::InvalidOid {
                    true => pg_sys::InvalidOid,
                    false => pg_sys::get_relname_relid(c"deployments".as_ptr(), schema),
                }
            };
        }
        self.deployments_oid
    }

    fn cached(&mut self, project: &str, stage: &str) -> Option<Deployed> {
        if let Some((p, s, d)) = &self.last {
            if p == project && s == stage {
                return Some(d.clone());
            }
        }
        let d = self.deployed.get(project).and_then(|s| s.get(stage))?.clone();
        self.last = Some((project.to_string(), stage.to_string(), d.clone()));
        Some(d)
    }
}

/// Forgets every project → model mapping of this backend.
pub fn forget_deployments() {
    CACHE.with(|c| c.borrow_mut().forget());
}

/// Tells every backend, when this transaction commits, that deployments changed; this
/// backend forgets its own mapping now (and again if the transaction aborts).
pub fn deployments_changed() {
    let oid = CACHE.with(|c| c.borrow_mut().deployments_oid());
    unsafe { pg_sys::CacheInvalidateRelcacheByRelid(oid) };
    forget_deployments();
    pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Abort, forget_deployments);
}

/// The model deployed to a project's stage.
pub fn deployed(project_name: &str, stage: &str) -> Result<Rc<LoadedModel>> {
    deployed_with_id(project_name, stage).map(|(_, m)| m)
}

/// The model deployed to a project's stage, with its id.
pub fn deployed_with_id(project_name: &str, stage: &str) -> Result<Deployed> {
    // Cheap when nothing is pending: a check of the shared invalidation queue. (Not inside a
    // borrow of the cache: the callback borrows it.)
    unsafe { pg_sys::AcceptInvalidationMessages() };
    let lookup = CACHE.with(|c| {
        let mut c = c.borrow_mut();
        match c.cached(project_name, stage) {
            Some(hit) => ControlFlow::Break(hit),
            None => {
                // the table's oid first, so the callback recognises its invalidations from now on
                c.deployments_oid();
                ControlFlow::Continue(c.forgotten)
            }
        }
    });
    let forgotten = match lookup {
        ControlFlow::Break(hit) => return Ok(hit),
        ControlFlow::Continue(forgotten) => forgotten,
    };
    let id = store::deployed_model_id(project_name, stage)?;
    let entry = (id, model(id)?);
    // Reading the registry takes locks, and taking a lock processes pending invalidations: a
    // deploy committed after this statement's snapshot may have been seen meanwhile. The answer
    // stays right for this statement; caching it would serve it after that deploy.
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.forgotten == forgotten {
            c.deployed.entry(project_name.to_string()).or_default().insert(stage.to_string(), entry.clone());
        }
    });
    Ok(entry)
}

/// A model by id, loaded once per backend.
pub fn model(id: i64) -> Result<Rc<LoadedModel>> {
    if let Some(m) = CACHE.with(|c| c.borrow().models.get(&id).cloned()) {
        return Ok(m);
    }
    let loaded = Rc::new(LoadedModel::from_vec(store::model_bytes(id)?)?);
    CACHE.with(|c| c.borrow_mut().models.insert(id, loaded.clone()));
    Ok(loaded)
}
