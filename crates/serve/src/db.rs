//! Connections to the database, kept per PostgreSQL role.
//!
//! Every request runs with the privileges of its token's role, so the database decides what
//! it may do. Rather than `SET ROLE` inside a transaction per request (four round trips), each
//! role has its own few connections that ran `SET ROLE` once; a request is then one round trip.
//! A tokio-postgres client pipelines concurrent queries, so a handful of connections per role
//! serves many requests at once. The server's own login (role "") reads the token table.

use crate::error::{ApiError, ApiResult};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, NoTls, Row};

type Slot = tokio::sync::RwLock<Option<Arc<Client>>>;

pub struct Db {
    config: Config,
    per_role: usize,
    timeout: Duration,
    roles: RwLock<HashMap<String, Arc<Vec<Slot>>>>,
    next: AtomicUsize,
}

/// A query parameter with its PostgreSQL type, for one-round-trip typed queries.
pub type Param<'a> = (&'a (dyn ToSql + Sync), Type);

impl Db {
    pub fn new(database_url: &str, per_role: usize, timeout: Duration) -> Result<Db, tokio_postgres::Error> {
        Ok(Db {
            config: database_url.parse()?,
            per_role: per_role.max(1),
            timeout,
            roles: RwLock::new(HashMap::new()),
            next: AtomicUsize::new(0),
        })
    }

    /// Runs one statement as `role` ("" = the server's login) in one round trip.
    pub async fn query(&self, role: &str, sql: &str, params: &[Param<'_>]) -> ApiResult<Vec<Row>> {
        let work = async {
            let client = self.client(role).await?;
            Ok::<_, ApiError>(client.query_typed(sql, params).await?)
        };
        tokio::time::timeout(self.timeout, work).await.map_err(|_| ApiError::timeout())?
    }

    /// A connected client of `role`, round robin over its connections, reconnecting a closed one.
    async fn client(&self, role: &str) -> ApiResult<Arc<Client>> {
        let slots = self.slots(role);
        let slot = &slots[self.next.fetch_add(1, Ordering::Relaxed) % slots.len()];
        if let Some(c) = slot.read().await.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let mut guard = slot.write().await;
        if let Some(c) = guard.as_ref().filter(|c| !c.is_closed()) {
            return Ok(c.clone());
        }
        let client = Arc::new(self.connect(role).await?);
        *guard = Some(client.clone());
        Ok(client)
    }

    fn slots(&self, role: &str) -> Arc<Vec<Slot>> {
        if let Some(s) = self.roles.read().unwrap_or_else(|e| e.into_inner()).get(role) {
            return s.clone();
        }
        let mut roles = self.roles.write().unwrap_or_else(|e| e.into_inner());
        roles
            .entry(role.to_string())
            .or_insert_with(|| Arc::new((0..self.per_role).map(|_| tokio::sync::RwLock::new(None)).collect()))
            .clone()
    }

    async fn connect(&self, role: &str) -> ApiResult<Client> {
        let (client, connection) = self.config.connect(NoTls).await.map_err(ApiError::unavailable)?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "database connection closed");
            }
        });
        let statement_timeout = format!("SET statement_timeout = {}", self.timeout.as_millis());
        client.batch_execute(&statement_timeout).await?;
        if !role.is_empty() {
            client.batch_execute(&format!("SET ROLE {}", quote_ident(role))).await?;
        }
        Ok(client)
    }
}

/// A PostgreSQL identifier, quoted.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
