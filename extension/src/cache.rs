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
use pgml_core::rollout::Route;
use pgrx::{pg_guard, pg_sys};
use std::cell::{Cell, LazyCell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

/// A stage's model and its id.
type Deployed = (i64, Rc<LoadedModel>);

/// A stage's model, its id, and the rollout running on the stage (read with the deployment and
/// invalidated with it: starting, changing and ending a rollout invalidate deployments).
pub type Routed = (i64, Rc<LoadedModel>, Option<Rc<Route>>);

/// What a lookup reads and fills. Borrowed only around plain map operations: invalidations are
/// processed wherever PostgreSQL takes a lock (a catalog-cache miss, SPI, a relation open, a
/// detoast), and the callback then runs, so nothing that could take a lock runs inside a
/// borrow. The callback itself never borrows it: it only bumps the counters below.
struct Cache {
    /// project → stage → model: two lookups by &str, no allocation per predict.
    deployed: HashMap<String, HashMap<String, Routed>>,
    /// The previous lookup's (project, stage, model), while it is still deployed.
    last: Option<(String, String, Routed)>,
    /// The value of `Invalidations::deployments` the mapping above was read under.
    deployed_seen: u64,
    models: HashMap<i64, Rc<LoadedModel>>,
    /// The value of `Invalidations::tables` the models above were loaded under.
    models_seen: u64,
}

/// What the invalidation callback may touch: plain counters, which can neither fail nor be
/// borrowed twice.
struct Invalidations {
    /// Bumped when the deployments may have changed (a change of pgml.deployments, a reset of
    /// the relcache, this backend's own deploy and its abort): the mapping is stale.
    deployments: Cell<u64>,
    /// pgml.deployments' oid, InvalidOid until looked up (and after its invalidation: the
    /// extension may have been dropped and created again, by a restore say).
    deployments_oid: Cell<pg_sys::Oid>,
    /// The last oid found for it, kept across invalidations.
    last_oid: Cell<pg_sys::Oid>,
    /// Bumped when pgml.deployments turned out to be another table: the registry was made anew,
    /// its model ids name other models, and the loaded models are stale too.
    tables: Cell<u64>,
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
        deployed_seen: 0,
        models: HashMap::new(),
        models_seen: 0,
    })
}));

static INVALIDATIONS: MainThread<Invalidations> = MainThread(Invalidations {
    deployments: Cell::new(0),
    deployments_oid: Cell::new(pg_sys::InvalidOid),
    last_oid: Cell::new(pg_sys::InvalidOid),
    tables: Cell::new(0),
});

pub(crate) struct MainThread<T>(pub(crate) T);

// SAFETY: only the backend's main thread calls the SQL functions and the invalidation
// callback that use `CACHE` and `INVALIDATIONS`.
unsafe impl<T> Sync for MainThread<T> {}

impl MainThread<LazyCell<RefCell<Cache>>> {
    /// The cache, borrowed for `f`, which must not call into PostgreSQL.
    fn with<R>(&self, f: impl FnOnce(&mut Cache) -> R) -> R {
        f(&mut self.0.borrow_mut())
    }
}

impl Invalidations {
    fn bump(counter: &Cell<u64>) {
        counter.set(counter.get().wrapping_add(1));
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_relcache_invalidation(_arg: pg_sys::Datum, relid: pg_sys::Oid) {
    // A reset (InvalidOid) or a change of pgml.deployments: the mapping is stale, and so is the
    // table's oid; the next predict looks both up again. Only counters change here: this runs
    // in the middle of whatever took a lock, a lookup of this module's included.
    let inv = &INVALIDATIONS.0;
    if relid == pg_sys::InvalidOid || relid == inv.deployments_oid.get() {
        Invalidations::bump(&inv.deployments);
        inv.deployments_oid.set(pg_sys::InvalidOid);
    }
}

/// Called once per backend when the library loads.
pub fn register_invalidation_callback() {
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(Some(on_relcache_invalidation), pg_sys::Datum::from(0));
    }
}

/// The oid of pgml.deployments, looked up in the catalog caches when not known: no query, so
/// it works where a predict runs — a parallel worker, a hot standby, a read-only transaction
/// (pgrx's `Spi::get_one` asks for a transaction id, which all three refuse). Never called
/// inside a borrow of the cache: a catalog-cache miss takes a lock and so runs the callback.
fn deployments_oid() -> pg_sys::Oid {
    let inv = &INVALIDATIONS.0;
    let known = inv.deployments_oid.get();
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
    if oid != pg_sys::InvalidOid {
        let last = inv.last_oid.replace(oid);
        if last != pg_sys::InvalidOid && last != oid {
            Invalidations::bump(&inv.tables);
        }
    }
    inv.deployments_oid.set(oid);
    oid
}

impl Cache {
    /// Drops what the counters say is stale.
    fn refresh(&mut self) {
        let inv = &INVALIDATIONS.0;
        if self.models_seen != inv.tables.get() {
            self.models.clear();
            self.models_seen = inv.tables.get();
        }
        if self.deployed_seen != inv.deployments.get() {
            self.deployed.clear();
            self.last = None;
            self.deployed_seen = inv.deployments.get();
        }
    }

    fn cached(&mut self, project: &str, stage: &str) -> Option<Routed> {
        self.refresh();
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

/// A number that changes whenever what a stage serves may have changed, for the caches keyed
/// the same way (the prediction log's settings).
pub fn generation() -> u64 {
    let inv = &INVALIDATIONS.0;
    inv.deployments.get().wrapping_add(inv.tables.get() << 40)
}

/// Forgets every project → model mapping of this backend.
pub fn forget_deployments() {
    Invalidations::bump(&INVALIDATIONS.0.deployments);
}

/// Tells every backend, when this transaction commits, that deployments changed; this
/// backend forgets its own mapping now (and again if the transaction aborts).
pub fn deployments_changed() {
    let oid = deployments_oid();
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
    deployed_routed(project_name, stage).map(|(id, m, _)| (id, m))
}

/// The model deployed to a project's stage, with its id and the stage's running rollout.
pub fn deployed_routed(project_name: &str, stage: &str) -> Result<Routed> {
    // Cheap when nothing is pending: a check of the shared invalidation queue.
    unsafe { pg_sys::AcceptInvalidationMessages() };
    if let Some(hit) = CACHE.with(|c| c.cached(project_name, stage)) {
        return Ok(hit);
    }
    // The table's oid first, so that the callback recognises its invalidations from now on.
    deployments_oid();
    let before = INVALIDATIONS.0.deployments.get();
    let id = store::deployed_model_id(project_name, stage)?;
    let route = crate::rollout::store::route(project_name, stage)?.map(Rc::new);
    let entry = (id, model(id)?, route);
    // Reading the registry takes locks, and taking a lock processes pending invalidations: a
    // deploy committed after this statement's snapshot may have been seen meanwhile. The answer
    // stays right for this statement; caching it would serve it after that deploy.
    CACHE.with(|c| {
        c.refresh();
        if c.deployed_seen == before {
            c.deployed.entry(project_name.to_string()).or_default().insert(stage.to_string(), entry.clone());
        }
    });
    Ok(entry)
}

/// A model by id, loaded once per backend (and again after the registry was made anew).
pub fn model(id: i64) -> Result<Rc<LoadedModel>> {
    // Looked up first: it tells whether pgml.deployments is still the table the models came from.
    deployments_oid();
    if let Some(m) = CACHE.with(|c| {
        c.refresh();
        c.models.get(&id).cloned()
    }) {
        return Ok(m);
    }
    let tables = INVALIDATIONS.0.tables.get();
    let loaded = Rc::new(LoadedModel::from_vec(store::model_bytes(id)?)?);
    CACHE.with(|c| {
        c.refresh();
        if c.models_seen == tables {
            c.models.insert(id, loaded.clone());
        }
    });
    Ok(loaded)
}
