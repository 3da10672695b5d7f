//! The predict path's side of the log: decide whether this prediction is logged (the project's
//! settings, cached per backend, and the statement's sampling), then append one record to the
//! database's ring. No SQL runs here except on a miss of the settings' cache, and nothing can
//! wait: a full ring drops the record (counted) and the prediction goes on.

use super::shared;
use crate::cache::{self, MainThread};
use crate::error::{Result, SqlError};
use crate::store::first_row;
use pgml_core::monitoring::record::MAX_KEY_BYTES;
use pgml_core::monitoring::request_id::now_micros;
use pgml_core::monitoring::sampling::Decision;
use pgml_core::monitoring::{LogRecord, RequestIds, Sampler, Settings, Source};
use pgrx::{pg_sys, PgSqlErrorCode, Uuid};
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// A project's id and logging settings; None when the registry has no monitoring table yet (a
/// schema older than 0.6.0) or no such project.
type Logging = Option<(i64, Settings)>;

struct State {
    settings: HashMap<String, Logging>,
    /// The previous lookup's project and settings.
    last: Option<(String, Logging)>,
    /// `cache::generation()` the settings were read under.
    seen: u64,
    sampler: Sampler,
    ids: RequestIds,
    buffer: Vec<u8>,
    ring: Option<(usize, u64)>,
}

static STATE: MainThread<std::cell::LazyCell<RefCell<State>>> = MainThread(std::cell::LazyCell::new(|| {
    let seed = unsafe { pg_sys::MyProcPid as u64 } ^ now_micros() as u64;
    RefCell::new(State {
        settings: HashMap::new(),
        last: None,
        seen: u64::MAX,
        sampler: Sampler::default(),
        ids: RequestIds::new(seed),
        buffer: Vec::with_capacity(256),
        ring: None,
    })
}));

fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> R {
    f(&mut STATE.0.borrow_mut())
}

/// An entity key fits a log record (predictions' and outcomes' alike).
pub fn check_key(key: Option<&str>) -> Result<()> {
    match key {
        Some(k) if k.len() > MAX_KEY_BYTES => Err(SqlError::new(
            PgSqlErrorCode::ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
            format!(
                "key is {} bytes long, longer than the {MAX_KEY_BYTES} a logged prediction keeps",
                k.len()
            ),
        )
        .hint("pass a shorter identifier of the entity (its primary key, or a hash of it)")),
        _ => Ok(()),
    }
}

/// What the caller passed for the log (`key`, `request_id`), checked before predicting.
pub struct Tags<'a> {
    pub key: Option<&'a str>,
    pub request_id: Option<Uuid>,
}

impl<'a> Tags<'a> {
    pub fn new(key: Option<&'a str>, request_id: Option<Uuid>) -> Result<Tags<'a>> {
        check_key(key)?;
        Ok(Tags { key, request_id })
    }

    pub const NONE: Tags<'static> = Tags { key: None, request_id: None };
}

/// A prediction being logged: what was decided before the model ran.
pub struct Pending {
    started: Instant,
    source: Source,
    project_id: i64,
    decision: Decision,
    key: Option<String>,
    /// The caller's, or drawn when the prediction was decided (a shadow record shares it).
    request_id: [u8; 16],
    /// How many predictions share the call's latency (the rows of a batch).
    share: u32,
}

/// Whether this prediction of `project` is logged, decided before anything else runs (so that
/// the many predictions of a scan that are not logged cost a counter's decrement, not a clock
/// read); None when not (logging unavailable or off, not sampled, or on a standby that forwards
/// nothing, counted). A standby's records are forwarded to the primary (source `standby`).
pub fn decide(source: Source, project: &str, tags: &Tags) -> Result<Option<Pending>> {
    if !shared::available() {
        return Ok(None);
    }
    let mut source = source;
    if unsafe { pg_sys::RecoveryInProgress() } {
        if !super::forward::forwarding() {
            if let Some(g) = shared::global() {
                g.dropped_standby.fetch_add(1, Ordering::Relaxed);
            }
            return Ok(None);
        }
        source = Source::Standby;
    }
    let Some((project_id, settings)) = settings(project)? else { return Ok(None) };
    let statement = (unsafe { pg_sys::GetCurrentStatementStartTimestamp() }, 0);
    let decision = with_state(|s| {
        let State { sampler, ids, .. } = s;
        let decision = sampler.decide(&settings, statement, ids)?;
        let request_id = match tags.request_id {
            Some(id) => *id.as_bytes(),
            None => ids.uuid_v7(now_micros()),
        };
        Some((decision, request_id))
    });
    let Some((decision, request_id)) = decision else { return Ok(None) };
    Ok(Some(Pending {
        started: Instant::now(),
        source,
        project_id,
        decision,
        key: tags.key.map(str::to_string),
        request_id,
        share: 1,
    }))
}

/// Which rows of a batch call of `rows` predictions are logged, decided as a scan's rows are
/// (the statement's first predictions in full, then sampled), each record's latency being its
/// share of the call's.
pub fn decide_rows(source: Source, project: &str, rows: usize) -> Result<Vec<(usize, Pending)>> {
    let mut out = vec![];
    for row in 0..rows {
        if let Some(mut p) = decide(source, project, &Tags::NONE)? {
            p.share = rows.clamp(1, u32::MAX as usize) as u32;
            out.push((row, p));
        }
    }
    Ok(out)
}

impl Pending {
    /// Whether this record keeps the prediction's features (the caller then keeps a copy).
    pub fn keeps_features(&self) -> bool {
        self.decision.keep_features
    }

    /// The record of the rollout candidate's score of the same request, in shadow: it shares
    /// the request id, key and weight, and its latency is the candidate's own (from now).
    pub fn shadow(&self) -> Pending {
        Pending {
            started: Instant::now(),
            source: Source::Shadow,
            project_id: self.project_id,
            decision: Decision { keep_features: false, ..self.decision },
            key: self.key.clone(),
            request_id: self.request_id,
            share: 1,
        }
    }

    /// A number in [0, 1) drawn from the request id: whether a sampled shadow scores it.
    pub fn draw(&self, salt: u64) -> f64 {
        pgml_core::rollout::assign::key_hash(salt, &self.request_id) as f64 / (u64::MAX as f64 + 1.0)
    }

    /// Appends the record of the finished prediction (by `model_id` of `stage`, on features `x`)
    /// to the ring, or counts it dropped.
    pub fn finish(self, model_id: i64, stage: &str, x: &[f32], prediction: f32, probabilities: &[f32]) {
        let latency = self.started.elapsed().as_secs_f32() * 1e6 / self.share as f32;
        let at = now_micros();
        let database = unsafe { pg_sys::MyDatabaseId };
        with_state(|s| {
            let record = LogRecord {
                request_id: self.request_id,
                at_unix_micros: at,
                project_id: self.project_id,
                model_id,
                source: self.source,
                weight: self.decision.weight,
                latency_micros: latency,
                prediction,
                stage: stage.to_string(),
                key: self.key,
                probabilities: probabilities.to_vec(),
                features: if self.decision.keep_features { x.to_vec() } else { Vec::new() },
            };
            s.buffer.clear();
            s.buffer.extend_from_slice(&u32::from(database).to_le_bytes());
            record.encode(&mut s.buffer);
            if let Some(ring) = shared::ring_of(database, &mut s.ring) {
                if ring.push(&s.buffer) {
                    ring.header().last_append.store(at, Ordering::Relaxed);
                }
            }
        });
    }
}

/// The project's logging settings, cached until the registry's deployments or settings change
/// (`pgml.set_monitoring` invalidates them as a deploy does).
fn settings(project: &str) -> Result<Logging> {
    let generation = cache::generation();
    let hit = with_state(|s| {
        if s.seen != generation {
            s.settings.clear();
            s.last = None;
            s.seen = generation;
        }
        // a scan asks for the same project row after row: no hashing then
        if let Some((p, logging)) = &s.last {
            if p == project {
                return Some(*logging);
            }
        }
        let found = s.settings.get(project).copied();
        if let Some(logging) = found {
            s.last = Some((project.to_string(), logging));
        }
        found
    });
    if let Some(hit) = hit {
        return Ok(hit);
    }
    let loaded = load(project)?;
    with_state(|s| {
        if s.seen == generation {
            s.settings.insert(project.to_string(), loaded);
        }
    });
    Ok(loaded)
}

fn load(project: &str) -> Result<Logging> {
    let has_table = first_row("SELECT to_regclass('pgml.monitoring') IS NOT NULL", &[], |r| {
        Ok(r.get::<bool>(1)?.unwrap_or(false))
    })?;
    if has_table != Some(true) {
        return Ok(None);
    }
    let row = first_row(
        "SELECT p.id, m.enabled, m.sample, m.scan_after, m.scan_sample, m.features_sample
         FROM pgml.projects p LEFT JOIN pgml.monitoring m ON m.project_id = p.id WHERE p.name = $1",
        &[project.into()],
        |r| {
            let d = Settings::default();
            Ok((
                r.get::<i64>(1)?.unwrap_or(0),
                Settings {
                    enabled: r.get::<bool>(2)?.unwrap_or(d.enabled),
                    sample: r.get::<f32>(3)?.map_or(d.sample, f64::from),
                    scan_after: r.get::<i32>(4)?.map_or(d.scan_after, |v| v.max(0) as u32),
                    scan_sample: r.get::<f32>(5)?.map_or(d.scan_sample, f64::from),
                    features_sample: r.get::<f32>(6)?.map_or(d.features_sample, f64::from),
                },
            ))
        },
    )?;
    Ok(row)
}
