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

pub use app::app;
use std::sync::Arc;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub db: Arc<db::Db>,
    pub tokens: Arc<auth::TokenCache>,
    pub metrics: Arc<metrics::Metrics>,
}

impl AppState {
    pub fn new(db: db::Db) -> AppState {
        AppState { db: Arc::new(db), tokens: Arc::default(), metrics: Arc::default() }
    }
}
