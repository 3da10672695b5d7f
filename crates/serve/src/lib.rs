//! pgml-serve: stable HTTP endpoints over a pgml-rs database. The URL of an endpoint names a
//! project (and optionally a stage), never a model, so it does not change when the model
//! behind it does; every request runs as its token's PostgreSQL role, so the database decides
//! what it may do and the lifecycle's rules apply exactly as in SQL.

pub mod app;
pub mod auth;
pub mod db;
pub mod error;
pub mod log;
pub mod metrics;
pub mod models;
pub mod routes;
pub mod rpc;
pub mod ui;

pub use app::app;
use std::sync::Arc;

/// What every handler shares: one Arc, so a request clones one pointer, not each part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub db: Arc<db::Db>,
    pub tokens: auth::TokenCache,
    /// Which roles may predict which projects, as the database said lately.
    pub grants: auth::PredictGrants,
    /// The models predictions run on in this process.
    pub models: Arc<models::Models>,
    /// Every prediction through the database (`--strict`), as a request's `strict` asks.
    pub strict: bool,
    pub metrics: metrics::Metrics,
    /// The functions `/rpc` exposes (none unless `--rpc-schemas` names schemas).
    pub rpc: Arc<rpc::Catalog>,
    /// The dashboard's signed-in sessions.
    pub sessions: ui::session::Sessions,
    /// The predictions answered here, queued for the database's prediction log.
    pub log: Arc<log::PredictionLog>,
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// Models held for a day of idleness within 1 GiB until `with_models` says otherwise;
    /// in-process predictions start once `models::follow` listens.
    pub fn new(db: db::Db) -> AppState {
        let db = Arc::new(db);
        let models = models::Models::new(db.clone(), std::time::Duration::from_secs(86_400), 1 << 30);
        AppState(Arc::new(Shared {
            db,
            tokens: Default::default(),
            grants: Default::default(),
            models: Arc::new(models),
            strict: false,
            metrics: Default::default(),
            rpc: Arc::default(),
            sessions: Default::default(),
            log: Arc::default(),
        }))
    }

    /// The parts, while the state is being configured (before a router shares it).
    fn configure(&mut self) -> &mut Shared {
        Arc::get_mut(&mut self.0).expect("AppState is configured before it is shared")
    }

    /// Drops a stage's model after `idle` unused, and the least recently used while the models
    /// held exceed `budget` bytes.
    pub fn with_models(mut self, idle: std::time::Duration, budget: usize) -> AppState {
        let shared = self.configure();
        shared.models = Arc::new(models::Models::new(shared.db.clone(), idle, budget));
        self
    }

    /// Every prediction through the database, as if each request asked for `strict`.
    pub fn strict(mut self, strict: bool) -> AppState {
        self.configure().strict = strict;
        self
    }

    /// Exposes these schemas' functions under `/rpc` (the catalog is filled by `rpc::follow`
    /// or `rpc::Catalog::reload`).
    pub fn with_rpc_schemas(mut self, schemas: Vec<String>) -> AppState {
        self.configure().rpc = Arc::new(rpc::Catalog::new(schemas));
        self
    }
}
