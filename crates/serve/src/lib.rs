//! pgml-serve: stable HTTP endpoints over a pgml-rs database. The URL of an endpoint names a
//! project (and optionally a stage), never a model, so it does not change when the model
//! behind it does; every request runs as its token's PostgreSQL role, so the database decides
//! what it may do and the lifecycle's rules apply exactly as in SQL.

pub mod app;
pub mod auth;
pub mod db;
pub mod error;
pub mod metrics;
pub mod routes;
pub mod rpc;

pub use app::app;
use std::sync::Arc;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: Arc<db::Db>,
    pub tokens: Arc<auth::TokenCache>,
    pub metrics: Arc<metrics::Metrics>,
    /// The functions `/rpc` exposes (none unless `--rpc-schemas` names schemas).
    pub rpc: Arc<rpc::Catalog>,
}

impl AppState {
    pub fn new(db: db::Db) -> AppState {
        AppState { db: Arc::new(db), tokens: Arc::default(), metrics: Arc::default(), rpc: Arc::default() }
    }

    /// Exposes these schemas' functions under `/rpc` (the catalog is filled by `rpc::follow`
    /// or `rpc::Catalog::reload`).
    pub fn with_rpc_schemas(mut self, schemas: Vec<String>) -> AppState {
        self.rpc = Arc::new(rpc::Catalog::new(schemas));
        self
    }
}
