//! Connections to the database, kept per PostgreSQL role, to the primary and to its replicas.
//!
//! Every request runs with the privileges of its token's role, so the database decides what
//! it may do. Rather than `SET ROLE` inside a transaction per request (four round trips), each
//! role has its own few connections that ran `SET ROLE` once; a request is then one round trip.
//! A tokio-postgres client pipelines concurrent queries, so a handful of connections per role
//! serves many requests at once. The server's own login (role "") reads the token table.
//!
//! Predictions may go to hot-standby replicas (`read`), round robin, each falling back to the
//! next and finally to the primary while it cannot be reached; everything else (the lifecycle,
//! the registry, tokens) goes to the primary (`query`). A replica serves a deploy once it has
//! replayed it: its lag behind the primary.

use crate::error::{ApiError, ApiResult};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{AsyncMessage, Client, Config, NoTls, Row};

/// How long a replica that could not be reached is left out before it is tried again.
const REPLICA_RETRY: Duration = Duration::from_secs(5);

type Slot = tokio::sync::RwLock<Option<Arc<Client>>>;

/// The primary and its replicas.
pub struct Db {
    primary: Server,
    replicas: Vec<Server>,
    next_replica: AtomicUsize,
}

/// A query parameter with its PostgreSQL type, for one-round-trip typed queries.
pub type Param<'a> = (&'a (dyn ToSql + Sync), Type);

impl Db {
    /// The primary only.
    pub fn new(database_url: &str, per_role: usize, timeout: Duration) -> Result<Db, tokio_postgres::Error> {
        Ok(Db {
            primary: Server::new(database_url, per_role, timeout)?,
            replicas: Vec::new(),
            next_replica: 0.into(),
        })
    }

    /// Sends predictions (`read`) to these hot standbys of the primary.
    pub fn with_replicas(mut self, urls: &[String]) -> Result<Db, tokio_postgres::Error> {
        let (per_role, timeout) = (self.primary.per_role, self.primary.timeout);
        self.replicas = urls.iter().map(|u| Server::new(u, per_role, timeout)).collect::<Result<_, _>>()?;
        Ok(self)
    }

    pub fn replicas(&self) -> usize {
        self.replicas.len()
    }

    /// Runs one statement on the primary as `role` ("" = the server's login) in one round trip.
    pub async fn query(&self, role: &str, sql: &str, params: &[Param<'_>]) -> ApiResult<Vec<Row>> {
        self.primary.query(role, sql, params).await
    }

    /// Runs one read-only statement (a prediction) on a replica, round robin; a replica that
    /// cannot be reached is left out for `REPLICA_RETRY` and the next one asked, the primary
    /// last. Without replicas, on the primary.
    pub async fn read(&self, role: &str, sql: &str, params: &[Param<'_>]) -> ApiResult<Vec<Row>> {
        let n = self.replicas.len();
        let first = if n > 0 { self.next_replica.fetch_add(1, Ordering::Relaxed) } else { 0 };
        for k in 0..n {
            let replica = &self.replicas[(first + k) % n];
            if replica.left_out() {
                continue;
            }
            match replica.query(role, sql, params).await {
                Err(e) if e.code == "unavailable" => {
                    tracing::warn!(replica = %replica.describe(), "replica unreachable; left out for {REPLICA_RETRY:?}");
                    replica.leave_out();
                }
                answer => return answer,
            }
        }
        self.primary.query(role, sql, params).await
    }

    /// Whether every replica that can be reached has replayed the WAL up to `lsn`.
    pub async fn replicas_replayed(&self, lsn: &str) -> bool {
        for replica in &self.replicas {
            if replica.left_out() {
                continue;
            }
            let sql = "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, true)";
            match replica.query("", sql, &[(&lsn, Type::TEXT)]).await {
                Ok(rows) if !rows.first().is_some_and(|r| r.get::<_, bool>(0)) => return false,
                _ => {} // replayed, or unreachable (then predictions skip it too)
            }
        }
        true
    }
}

/// One server's connections, per role.
struct Server {
    config: Config,
    per_role: usize,
    timeout: Duration,
    roles: RwLock<HashMap<String, Arc<Vec<Slot>>>>,
    next: AtomicUsize,
    /// Until when an unreachable server is left out (replicas only).
    left_out_until: Mutex<Option<Instant>>,
}

impl Server {
    fn new(database_url: &str, per_role: usize, timeout: Duration) -> Result<Server, tokio_postgres::Error> {
        Ok(Server {
            config: database_url.parse()?,
            per_role: per_role.max(1),
            timeout,
            roles: RwLock::new(HashMap::new()),
            next: AtomicUsize::new(0),
            left_out_until: Mutex::new(None),
        })
    }

    fn left_out(&self) -> bool {
        let until = self.left_out_until.lock().unwrap_or_else(|e| e.into_inner());
        until.is_some_and(|t| Instant::now() < t)
    }

    fn leave_out(&self) {
        *self.left_out_until.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now() + REPLICA_RETRY);
    }

    /// host:port/dbname, for logs (never the password).
    fn describe(&self) -> String {
        let host = self.config.get_hosts().first().map_or("?".into(), |h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        });
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        format!("{host}:{port}/{}", self.config.get_dbname().unwrap_or(""))
    }

    /// Runs one statement as `role` ("" = the server's login) in one round trip.
    async fn query(&self, role: &str, sql: &str, params: &[Param<'_>]) -> ApiResult<Vec<Row>> {
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

/// A connection of the server's login that LISTENs on one channel, with the payloads of its
/// notifications as they arrive; `payloads` ends when the connection does. TCP keepalives make
/// a server that vanished without closing the connection noticed within about 11 s.
pub struct Listener {
    pub client: Client,
    pub payloads: tokio::sync::mpsc::UnboundedReceiver<String>,
    driver: tokio::task::JoinHandle<()>,
}

impl Listener {
    pub async fn start(config: &Config, channel: &str) -> Result<Listener, String> {
        let mut config = config.clone();
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(5))
            .keepalives_interval(Duration::from_secs(2))
            .keepalives_retries(3);
        let (client, mut connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
        let (tx, payloads) = tokio::sync::mpsc::unbounded_channel::<String>();
        let name = channel.to_string();
        let driver = tokio::spawn(async move {
            while let Some(message) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                match message {
                    Ok(AsyncMessage::Notification(n)) if n.channel() == name => {
                        let _ = tx.send(n.payload().to_string());
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        });
        client.batch_execute(&format!("LISTEN {}", quote_ident(channel))).await.map_err(|e| e.to_string())?;
        Ok(Listener { client, payloads, driver })
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.driver.abort();
    }
}
