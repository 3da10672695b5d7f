//! Bearer tokens mapped to PostgreSQL roles. Only a token's SHA-256 is stored (table
//! `pgml_serve.tokens`, readable by the server's login alone); the token itself is shown once,
//! when `pgml-serve token create` makes it. Lookups are cached for `CACHE_TTL`, so a revoked
//! token stops working within that time without a query per request.

use crate::db::{quote_ident, Db};
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio_postgres::types::Type;

/// How long a token lookup is trusted.
pub const CACHE_TTL: Duration = Duration::from_secs(2);

/// The table of tokens, created by `token create` when missing.
const SCHEMA: &str = "CREATE SCHEMA IF NOT EXISTS pgml_serve;
    REVOKE ALL ON SCHEMA pgml_serve FROM PUBLIC;
    CREATE TABLE IF NOT EXISTS pgml_serve.tokens (
        name TEXT PRIMARY KEY,
        role NAME NOT NULL,
        token_sha256 TEXT NOT NULL UNIQUE,
        created_by NAME NOT NULL DEFAULT current_user,
        created_at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
        revoked_at TIMESTAMPTZ
    );
    REVOKE ALL ON pgml_serve.tokens FROM PUBLIC;";

pub fn hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for &b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 15)] as char);
    }
    out
}

/// Token → role, remembered briefly.
#[derive(Default)]
pub struct TokenCache {
    entries: Mutex<HashMap<String, (Option<String>, Instant)>>,
}

impl TokenCache {
    /// The role of a token; None for an unknown or revoked one.
    pub async fn role(&self, db: &Db, token: &str) -> ApiResult<Option<String>> {
        self.lookup(db, hash(token)).await
    }

    /// The role of a token known by its SHA-256 (what a dashboard session keeps).
    pub async fn role_of_digest(&self, db: &Db, digest: &str) -> ApiResult<Option<String>> {
        self.lookup(db, digest.to_string()).await
    }

    async fn lookup(&self, db: &Db, digest: String) -> ApiResult<Option<String>> {
        if let Some((role, at)) = self.entries.lock().unwrap_or_else(|e| e.into_inner()).get(&digest) {
            if at.elapsed() < CACHE_TTL {
                return Ok(role.clone());
            }
        }
        let rows = db
            .query(
                "",
                "SELECT role::text FROM pgml_serve.tokens WHERE token_sha256 = $1 AND revoked_at IS NULL",
                &[(&digest, Type::TEXT)],
            )
            .await
            .map_err(|e| {
                if e.code == "42P01" {
                    ApiError::unauthorized("no tokens have been created")
                } else {
                    e
                }
            })?;
        let role: Option<String> = rows.first().map(|r| r.get(0));
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() > 10_000 {
            entries.clear(); // a flood of random tokens must not grow the cache without bound
        }
        entries.insert(digest, (role.clone(), Instant::now()));
        Ok(role)
    }
}

/// Whether a role may predict a project, as the database says: `EXECUTE` on the predict
/// function pgml-serve's database path calls, `SELECT` on what that function reads as its
/// caller (the stage's deployment, the model, its bytes), and the project visible to the role
/// (so a row-level security policy on `pgml.projects`, a per-project rule, applies as in SQL). Asked
/// as the role itself and remembered for `CACHE_TTL`, so a REVOKE takes effect within that
/// time. A refusal, or any error, sends the request down the database's path, where the
/// database refuses it with its own error.
#[derive(Default)]
pub struct PredictGrants {
    /// role → project → (allowed, when asked): lookups by &str, no allocation per request.
    entries: Mutex<HashMap<String, Answers>>,
}

/// A role's answers by project: allowed, and when asked.
type Answers = HashMap<String, (bool, Instant)>;

impl PredictGrants {
    pub async fn allows(&self, db: &Db, role: &str, project: &str) -> bool {
        if let Some((allowed, at)) = self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(role)
            .and_then(|p| p.get(project))
            .copied()
        {
            if at.elapsed() < CACHE_TTL {
                return allowed;
            }
        }
        let allowed = db
            .read(
                role,
                "SELECT has_function_privilege('pgml._pgml_serve_predict(text, text, real[], text[], boolean)', 'EXECUTE')
                        AND has_table_privilege('pgml.stage_deployments', 'SELECT')
                        AND has_table_privilege('pgml.models', 'SELECT')
                        AND has_table_privilege('pgml.files', 'SELECT')
                        AND EXISTS (SELECT FROM pgml.projects WHERE name = $1)",
                &[(&project, Type::TEXT)],
            )
            .await
            .is_ok_and(|rows| rows.first().is_some_and(|r| r.get::<_, bool>(0)));
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.values().map(HashMap::len).sum::<usize>() > 10_000 {
            entries.clear(); // requests for made-up projects must not grow it without bound
        }
        entries.entry(role.to_string()).or_default().insert(project.to_string(), (allowed, Instant::now()));
        allowed
    }
}

/// The PostgreSQL role a request runs as, from its bearer token.
pub struct Caller {
    pub role: String,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .ok_or_else(|| ApiError::unauthorized("missing bearer token"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::unauthorized("the Authorization header is not a bearer token"))?;
        match state.tokens.role(&state.db, token).await? {
            Some(role) => Ok(Caller { role }),
            None => Err(ApiError::unauthorized("unknown or revoked token")),
        }
    }
}

/// `pgml-serve token …`: administration over the server's own connection.
pub mod admin {
    use super::*;
    use tokio_postgres::{Client, NoTls};

    async fn connect(database_url: &str) -> Result<Client, tokio_postgres::Error> {
        let (client, connection) = tokio_postgres::connect(database_url, NoTls).await?;
        tokio::spawn(connection);
        client.batch_execute(SCHEMA).await?;
        Ok(client)
    }

    /// Creates a token for `role` and returns it (shown once, stored hashed).
    pub async fn create(database_url: &str, name: &str, role: &str) -> Result<String, String> {
        let client = connect(database_url).await.map_err(|e| e.to_string())?;
        let usable: Option<bool> = client
            .query_opt(
                "SELECT pg_has_role(current_user, oid, 'MEMBER') FROM pg_roles WHERE rolname = $1",
                &[&role],
            )
            .await
            .map_err(|e| e.to_string())?
            .map(|r| r.get(0));
        match usable {
            None => return Err(format!("role {} does not exist", quote_ident(role))),
            Some(false) => {
                return Err(format!(
                    "the server's login cannot SET ROLE {0}; grant it: GRANT {0} TO <the server's login>",
                    quote_ident(role)
                ))
            }
            Some(true) => {}
        }
        let mut bytes = [0u8; 24];
        getrandom::getrandom(&mut bytes).map_err(|e| e.to_string())?;
        let token = format!("pgml_{}", hex(&bytes));
        client
            .execute(
                "INSERT INTO pgml_serve.tokens (name, role, token_sha256) VALUES ($1, $2, $3)",
                &[&name, &role, &hash(&token)],
            )
            .await
            .map_err(|e| match e.as_db_error() {
                Some(db) if db.code().code() == "23505" => {
                    format!("a token named \"{name}\" exists (names stay taken after a revoke); pick another name")
                }
                _ => e.to_string(),
            })?;
        Ok(token)
    }

    /// Revokes a token by name; false when no live token has that name.
    pub async fn revoke(database_url: &str, name: &str) -> Result<bool, String> {
        let client = connect(database_url).await.map_err(|e| e.to_string())?;
        let n = client
            .execute(
                "UPDATE pgml_serve.tokens SET revoked_at = clock_timestamp() WHERE name = $1 AND revoked_at IS NULL",
                &[&name],
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(n == 1)
    }

    /// (name, role, created_at, revoked) of every token.
    pub async fn list(database_url: &str) -> Result<Vec<(String, String, String, bool)>, String> {
        let client = connect(database_url).await.map_err(|e| e.to_string())?;
        let rows = client
            .query(
                "SELECT name, role::text, to_char(created_at, 'YYYY-MM-DD HH24:MI:SS'), revoked_at IS NOT NULL
                 FROM pgml_serve.tokens ORDER BY created_at",
                &[],
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect())
    }
}
