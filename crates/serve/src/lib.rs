//! pgml-serve: stable HTTP endpoints over a pgml-rs database. The URL of an endpoint names a
//! project (and optionally a stage), never a model, so it does not change when the model
//! behind it does; every request runs as its token's PostgreSQL role, so the database decides
//! what it may do and the lifecycle's rules apply exactly as in SQL.

pub mod app;
pub mod auth;
pub mod db;
pub mod error;
pub mod metrics;
pub mod models;
pub mod routes;
pub mod rpc;

pub use app::app;
use std::sync::Arc;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: Arc<db::Db>,
    pub tokens: Arc<auth::TokenCache>,
    /// Which roles may predict which projects, as the database said lately.
    pub grants: Arc<auth::PredictGrants>,
    /// The models predictions run on in this process.
    pub models: Arc<models::Models>,
    /// Every prediction through the database (`--strict`), as a request's `strict` asks.
    pub strict: bool,
    pub metrics: Arc<metrics::Metrics>,
    /// The functions `/rpc` exposes (none unless `--rpc-schemas` names schemas).
    pub rpc: Arc<rpc::Catalog>,
}

impl AppState {
    /// Models held for a day of idleness within 1 GiB until `with_models` says otherwise;
    /// in-process predictions start once `models::follow` listens.
    pub fn new(db: db::Db) -> AppState {
        let db = Arc::new(db);
        let models = models::Models::new(db.clone(), std::time::Duration::from_secs(86_400), 1 << 30);
        AppState {
            db,
            tokens: Arc::default(),
            grants: Arc::default(),
            models: Arc::new(models),
            strict: false,
            metrics: Arc::default(),
            rpc: Arc::default(),
        }
    }

    /// Drops a stage's model after `idle` unused, and the least recently used while the models
    /// held exceed `budget` bytes.
    pub fn with_models(mut self, idle: std::time::Duration, budget: usize) -> AppState {
        self.models = Arc::new(models::Models::new(self.db.clone(), idle, budget));
        self
    }

    /// Every prediction through the database, as if each request asked for `strict`.
    pub fn strict(mut self, strict: bool) -> AppState {
        self.strict = strict;
        self
    }

    /// Exposes these schemas' functions under `/rpc` (the catalog is filled by `rpc::follow`
    /// or `rpc::Catalog::reload`).
    pub fn with_rpc_schemas(mut self, schemas: Vec<String>) -> AppState {
        self.rpc = Arc::new(rpc::Catalog::new(schemas));
        self
    }
}
