//! The models pgml-serve predicts with in its own process, and how it follows the database.
//!
//! The database stays the source of truth. A stage's model is loaded lazily, on the first
//! request for it, from the registry (`pgml.stage_deployments`, `pgml.files`) with the
//! server's login, into the same core crate the extension predicts with: same bytes, same
//! preprocessing, same answers. Every change of `pgml.deployments` NOTIFYs `pgml_deployments`
//! with the project's id from the deploying transaction, so the follower (`follow`) hears of
//! a deploy, rollback or promotion when it commits and never of one that rolled back. It then
//! forgets that project's stages and loads them again at once; a request for the project that
//! arrives meanwhile waits for that load, so once the notification is in, the old model never
//! answers again. After each (re)connection of the listener everything is forgotten, since
//! notifications may have been missed; while it is not connected, requests take the database's
//! path (`strict`), so a model is never served from memory that the server cannot vouch for.
//!
//! With replicas, models load from them (as predictions do), and the follower waits until the
//! replicas have replayed the primary's WAL up to the notification before it forgets: a model
//! is reloaded once the replica it loads from can see it.
//!
//! Memory: a model stays loaded after a deploy replaces it (a rollback is then instant), until
//! it is unused for `idle`; while the models held exceed `budget` bytes (their stored size),
//! the least recently used go. `/metrics` shows them.

use crate::db::{Db, Param};
use crate::error::{ApiError, ApiResult};
use pgml_core::artifact::LoadedModel;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use tokio_postgres::types::Type;
use tokio_postgres::Config;

/// The channel the extension's `deployments_notify` trigger notifies.
pub const CHANNEL: &str = "pgml_deployments";

/// After how long the follower, waiting for the replicas to replay a deploy, says so.
const REPLAY_WARNING: Duration = Duration::from_secs(10);

/// A loaded model. The libraries' boosters may not be used from two threads at once, so one
/// prediction runs at a time per model; a prediction takes microseconds.
pub struct Held {
    pub model_id: i64,
    model: Mutex<LoadedModel>,
    /// The stored artifact's size, what the memory budget counts.
    pub bytes: usize,
    /// Milliseconds since the cache started, at the last request.
    last_used: AtomicU64,
}

impl Held {
    /// Runs `f` with the model.
    pub fn with<T>(&self, f: impl FnOnce(&LoadedModel) -> T) -> T {
        f(&self.model.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// What a project's stage serves, as last loaded.
pub struct Stage {
    pub project_id: i64,
    pub held: Arc<Held>,
    /// The rollout running on the stage, with its candidate loaded.
    pub rollout: Option<Rollout>,
}

/// A running rollout: the route the extension's predict follows too (the core's), and the
/// candidate. A rollout's start, change and end notify `pgml_deployments` like a deploy.
pub struct Rollout {
    pub route: pgml_core::rollout::Route,
    pub candidate: Arc<Held>,
}

#[derive(Default)]
struct Inner {
    /// project → stage → what it serves: two lookups by &str, no allocation per request.
    stages: HashMap<String, HashMap<String, Arc<Stage>>>,
    /// Loaded models by id, shared by the stages that serve the same model, and kept after a
    /// deploy replaces them until evicted.
    by_id: HashMap<i64, Arc<Held>>,
    /// How many times anything was forgotten: a load that saw it change while it read the
    /// registry answers its request but is not kept (it may predate the deploy).
    forgotten: u64,
}

/// Held while a project's stage loads.
type LoadLock = Arc<tokio::sync::Mutex<()>>;

/// The in-process models, their loading and their eviction.
pub struct Models {
    db: Arc<Db>,
    inner: RwLock<Inner>,
    /// One load at a time per project and stage; requests that miss meanwhile wait for it.
    loading: Mutex<HashMap<(String, String), LoadLock>>,
    /// Whether the follower is listening (in-process answers only then).
    following: AtomicBool,
    idle: Duration,
    budget: usize,
    started: Instant,
    loads: AtomicU64,
    notifications: AtomicU64,
    evictions: AtomicU64,
}

impl Models {
    pub fn new(db: Arc<Db>, idle: Duration, budget: usize) -> Models {
        Models {
            db,
            inner: RwLock::default(),
            loading: Mutex::default(),
            following: AtomicBool::new(false),
            idle,
            budget,
            started: Instant::now(),
            loads: 0.into(),
            notifications: 0.into(),
            evictions: 0.into(),
        }
    }

    /// Whether in-process answers may be given: the follower is listening.
    pub fn following(&self) -> bool {
        self.following.load(Ordering::Acquire)
    }

    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn cached(&self, project: &str, stage: &str) -> Option<Arc<Stage>> {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let s = inner.stages.get(project)?.get(stage)?.clone();
        s.held.last_used.store(self.now_ms(), Ordering::Relaxed);
        Some(s)
    }

    /// What a project's stage serves, loading it on a miss; None when the registry has no
    /// model for it (an unknown project or stage, or nothing deployed): the database's own
    /// path then answers, with its own error.
    pub async fn get(&self, project: &str, stage: &str) -> ApiResult<Option<Arc<Stage>>> {
        if let Some(s) = self.cached(project, stage) {
            return Ok(Some(s));
        }
        let lock = {
            let mut loading = self.loading.lock().unwrap_or_else(|e| e.into_inner());
            if loading.len() > 10_000 {
                loading.clear(); // stage names are the caller's: they must not grow it without bound
            }
            loading.entry((project.to_string(), stage.to_string())).or_default().clone()
        };
        let _guard = lock.lock().await;
        if let Some(s) = self.cached(project, stage) {
            return Ok(Some(s));
        }
        let forgotten = self.inner.read().unwrap_or_else(|e| e.into_inner()).forgotten;
        let Some(stage_model) = self.load(project, stage).await? else { return Ok(None) };
        let stage_model = Arc::new(stage_model);
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        if inner.forgotten == forgotten {
            inner.by_id.insert(stage_model.held.model_id, stage_model.held.clone());
            if let Some(r) = &stage_model.rollout {
                inner.by_id.insert(r.candidate.model_id, r.candidate.clone());
            }
            inner
                .stages
                .entry(project.to_string())
                .or_default()
                .insert(stage.to_string(), stage_model.clone());
        }
        Ok(Some(stage_model))
    }

    async fn read(&self, sql: &str, params: &[Param<'_>]) -> ApiResult<Vec<tokio_postgres::Row>> {
        self.db.read("", sql, params).await.map_err(|e| match e.status.as_u16() {
            // the server's login could not read the registry: the operator's mistake, not the caller's
            401..=499 => ApiError::internal(format!(
                "pgml-serve's login cannot read the registry ({}: {}); GRANT pgml_predictor TO it",
                e.code, e.message
            )),
            _ => e,
        })
    }

    /// Reads what the stage serves, and its bytes unless that model is held already.
    async fn load(&self, project: &str, stage: &str) -> ApiResult<Option<Stage>> {
        let rows = self
            .read(
                "SELECT d.project_id, d.model_id FROM pgml.stage_deployments d
                 JOIN pgml.projects p ON p.id = d.project_id WHERE p.name = $1 AND d.stage = $2",
                &[(&project, Type::TEXT), (&stage, Type::TEXT)],
            )
            .await?;
        let Some(row) = rows.first() else { return Ok(None) };
        let (project_id, model_id): (i64, i64) = (row.get(0), row.get(1));
        let Some(held) = self.held(project, stage, model_id).await? else { return Ok(None) };
        let rollout = match self.route(project_id, stage).await {
            Some(route) => self
                .held(project, stage, route.candidate_id)
                .await?
                .map(|candidate| Rollout { route, candidate }),
            None => None,
        };
        Ok(Some(Stage { project_id, held, rollout }))
    }

    /// The route of the rollout running on a stage; None when none runs (or the schema is older
    /// than 0.7.0, without rollouts).
    async fn route(&self, project_id: i64, stage: &str) -> Option<pgml_core::rollout::Route> {
        let rows = self
            .db
            .read(
                "",
                "SELECT id, candidate_id, phase, percent, salt, COALESCE((policy ->> 'shadow_sample')::float8, 1)
                 FROM pgml.rollouts WHERE project_id = $1 AND stage = $2 AND state = 'running'",
                &[(&project_id, Type::INT8), (&stage, Type::TEXT)],
            )
            .await
            .ok()?;
        let row = rows.first()?;
        Some(pgml_core::rollout::Route {
            rollout_id: row.get(0),
            candidate_id: row.get(1),
            phase: pgml_core::rollout::Phase::parse(row.get(2)).ok()?,
            percent: row.get(3),
            salt: row.get::<_, i64>(4) as u64,
            shadow_sample: row.get(5),
        })
    }

    /// A model by id: the one held, or its bytes read and loaded; None when it is gone.
    async fn held(&self, project: &str, stage: &str, model_id: i64) -> ApiResult<Option<Arc<Held>>> {
        let held = self.inner.read().unwrap_or_else(|e| e.into_inner()).by_id.get(&model_id).cloned();
        let held = match held {
            Some(h) => h,
            None => {
                let rows = self
                    .read(
                        "SELECT data FROM pgml.files WHERE model_id = $1 AND path = 'model' ORDER BY part",
                        &[(&model_id, Type::INT8)],
                    )
                    .await?;
                if rows.is_empty() {
                    return Ok(None); // deleted meanwhile: the database's path answers
                }
                let mut bytes = Vec::new();
                rows.iter().for_each(|r| bytes.extend_from_slice(r.get::<_, &[u8]>(0)));
                let size = bytes.len();
                let model = tokio::task::spawn_blocking(move || LoadedModel::from_vec(bytes))
                    .await
                    .map_err(ApiError::internal)?
                    .map_err(|e| ApiError::internal(format!("model {model_id} does not load: {e}")))?;
                self.loads.fetch_add(1, Ordering::Relaxed);
                tracing::info!(project, stage, model_id, bytes = size, "model loaded");
                Arc::new(Held { model_id, model: Mutex::new(model), bytes: size, last_used: 0.into() })
            }
        };
        held.last_used.store(self.now_ms(), Ordering::Relaxed);
        Ok(Some(held))
    }

    /// Forgets the stages of these projects (all of them for None); returns what was forgotten.
    fn forget(&self, projects: Option<&[i64]>) -> Vec<(String, String)> {
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        inner.forgotten += 1;
        let mut gone = Vec::new();
        for (project, stages) in inner.stages.iter_mut() {
            stages.retain(|stage, s| {
                let keep = projects.is_some_and(|ids| !ids.contains(&s.project_id));
                if !keep {
                    gone.push((project.clone(), stage.clone()));
                }
                keep
            });
        }
        inner.stages.retain(|_, stages| !stages.is_empty());
        gone
    }

    /// Forgets, then loads again at once what was held, so that requests rarely wait.
    fn reload(self: &Arc<Self>, projects: Option<&[i64]>) {
        for (project, stage) in self.forget(projects) {
            let models = self.clone();
            tokio::spawn(async move {
                if let Err(e) = models.get(&project, &stage).await {
                    tracing::warn!(project, stage, error = %e.message, "reload after a deploy failed; the next request retries");
                }
            });
        }
    }

    /// Drops the models unused for `idle`, then the least recently used while the models held
    /// exceed `budget` bytes, with the stages they served (a later request loads them again).
    pub fn evict(&self) {
        let now = self.now_ms();
        let idle = self.idle.as_millis() as u64;
        let mut inner = self.inner.write().unwrap_or_else(|e| e.into_inner());
        let mut by_age: Vec<(u64, i64, usize)> = inner
            .by_id
            .values()
            .map(|h| (h.last_used.load(Ordering::Relaxed), h.model_id, h.bytes))
            .collect();
        by_age.sort();
        let mut total: usize = by_age.iter().map(|m| m.2).sum();
        let mut gone = Vec::new();
        for (used, model_id, bytes) in by_age {
            let reason = match () {
                _ if now.saturating_sub(used) >= idle => "idle",
                _ if total > self.budget => "over the memory budget",
                _ => continue,
            };
            total -= bytes;
            gone.push(model_id);
            tracing::info!(model_id, bytes, reason, "model evicted");
        }
        if gone.is_empty() {
            return;
        }
        inner.by_id.retain(|id, _| !gone.contains(id));
        for stages in inner.stages.values_mut() {
            stages.retain(|_, s| {
                !gone.contains(&s.held.model_id)
                    && s.rollout.as_ref().is_none_or(|r| !gone.contains(&r.candidate.model_id))
            });
        }
        inner.stages.retain(|_, stages| !stages.is_empty());
        self.evictions.fetch_add(gone.len() as u64, Ordering::Relaxed);
    }

    /// Prometheus lines: the models held, their bytes, loads, notifications and evictions.
    pub fn render(&self, out: &mut String) {
        let inner = self.inner.read().unwrap_or_else(|e| e.into_inner());
        let held: HashMap<i64, usize> = inner.by_id.iter().map(|(id, h)| (*id, h.bytes)).collect();
        let mut stages = Vec::new();
        let mut rollouts = Vec::new();
        for (project, by_stage) in &inner.stages {
            for (stage, s) in by_stage {
                stages.push((project.clone(), stage.clone(), s.held.model_id));
                if let Some(r) = &s.rollout {
                    rollouts.push((project.clone(), stage.clone(), s.held.model_id, r.route.clone()));
                }
            }
        }
        stages.sort();
        rollouts.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let gauge = crate::metrics::header;
        gauge(out, "pgml_serve_models_held", "Models held in memory for in-process predictions.", "gauge");
        let _ = writeln!(out, "pgml_serve_models_held {}", held.len());
        gauge(out, "pgml_serve_model_bytes", "Stored size of the models held in memory.", "gauge");
        let _ = writeln!(out, "pgml_serve_model_bytes {}", held.values().sum::<usize>());
        gauge(out, "pgml_serve_stage_model", "The model held for each project's stage.", "gauge");
        for (project, stage, model_id) in stages {
            let bytes = held.get(&model_id).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "pgml_serve_stage_model{{project=\"{}\",stage=\"{}\",model_id=\"{model_id}\"}} {bytes}",
                crate::metrics::escape(&project),
                crate::metrics::escape(&stage)
            );
        }
        gauge(
            out,
            "pgml_serve_rollout_percent",
            "Rollouts running on the stages held: the candidate's share of keys (canary) or 0 (shadow).",
            "gauge",
        );
        for (project, stage, baseline, r) in rollouts {
            let percent = match r.phase {
                pgml_core::rollout::Phase::Canary => r.percent,
                pgml_core::rollout::Phase::Shadow => 0.0,
            };
            let _ = writeln!(
                out,
                "pgml_serve_rollout_percent{{project=\"{}\",stage=\"{}\",rollout_id=\"{}\",phase=\"{}\",baseline_model_id=\"{baseline}\",candidate_model_id=\"{}\"}} {percent}",
                crate::metrics::escape(&project),
                crate::metrics::escape(&stage),
                r.rollout_id,
                r.phase.name(),
                r.candidate_id
            );
        }
        gauge(out, "pgml_serve_model_loads_total", "Models loaded from the registry.", "counter");
        let _ = writeln!(out, "pgml_serve_model_loads_total {}", self.loads.load(Ordering::Relaxed));
        gauge(out, "pgml_serve_model_evictions_total", "Models dropped from memory.", "counter");
        let _ = writeln!(out, "pgml_serve_model_evictions_total {}", self.evictions.load(Ordering::Relaxed));
        gauge(out, "pgml_serve_deploy_notifications_total", "Deploy notifications received.", "counter");
        let _ = writeln!(
            out,
            "pgml_serve_deploy_notifications_total {}",
            self.notifications.load(Ordering::Relaxed)
        );
        gauge(out, "pgml_serve_following", "1 while deploys are followed (in-process answers on).", "gauge");
        let _ = writeln!(out, "pgml_serve_following {}", u8::from(self.following()));
    }
}

/// Keeps the models current: LISTENs on `pgml_deployments` with the server's login on the
/// primary; forgets everything after each (re)connection and a project's stages on each of
/// its notifications; retries every second while the database cannot be reached. Also evicts
/// idle models once a second.
pub async fn follow(config: Config, models: Arc<Models>) {
    let evictor = models.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            evictor.evict();
        }
    });
    loop {
        let outcome = listen_once(&config, &models).await;
        models.following.store(false, Ordering::Release);
        match outcome {
            Ok(()) => tracing::warn!("models: the deploy listener's connection closed; reconnecting"),
            Err(e) => tracing::warn!(error = %e, "models: cannot listen on {CHANNEL}; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn listen_once(config: &Config, models: &Arc<Models>) -> Result<(), String> {
    let mut listener = crate::db::Listener::start(config, CHANNEL).await?;
    // notifications may have been missed while not listening
    models.reload(None);
    models.following.store(true, Ordering::Release);
    tracing::info!("models: following deploys on {CHANNEL}");
    while let Some(first) = listener.payloads.recv().await {
        // every notification already in, handled together
        let mut payloads = vec![first];
        while let Ok(more) = listener.payloads.try_recv() {
            payloads.push(more);
        }
        models.notifications.fetch_add(payloads.len() as u64, Ordering::Relaxed);
        if models.db.replicas() > 0 {
            wait_for_replicas(&listener.client, &models.db).await;
        }
        let ids: Option<Vec<i64>> = payloads.iter().map(|p| p.parse().ok()).collect();
        models.reload(ids.as_deref()); // '*' (a TRUNCATE) or anything unexpected: everything
    }
    Ok(())
}

/// Waits until every reachable replica has replayed the primary's WAL as of now (which holds
/// the notified commits): until then the replicas serve the models before the deploy, and so
/// does this server, as its strict path (on the replicas) would. A replica that cannot be
/// reached is skipped, as predictions skip it.
async fn wait_for_replicas(primary: &tokio_postgres::Client, db: &Db) {
    let lsn: String = match primary.query_one("SELECT pg_current_wal_lsn()::text", &[]).await {
        Ok(row) => row.get(0),
        Err(e) => {
            tracing::warn!(error = %e, "models: cannot read the primary's WAL position");
            return;
        }
    };
    let started = Instant::now();
    let mut warned = false;
    while !db.replicas_replayed(&lsn).await {
        if !warned && started.elapsed() > REPLAY_WARNING {
            tracing::warn!(
                lsn,
                "models: a replica has not replayed a deploy after {REPLAY_WARNING:?}; still waiting"
            );
            warned = true;
        }
        let pause = if started.elapsed() < Duration::from_secs(1) { 2 } else { 50 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
}
