//! The writers of the prediction log. A launcher, started with the server (on a primary: a
//! standby cannot write), wakes every `pgml.log_flush_interval` and, for each ring holding
//! records, starts a short-lived writer connected to the ring's database, which writes batches
//! to `pgml.prediction_log` until the ring is empty and exits: a database is never held open
//! between flushes, so `DROP DATABASE` is not blocked. The launcher releases a ring idle for a
//! minute, and discards (counting) the records of a database that was dropped.

use super::shared::{self, owner_database, rings, FLUSH_INTERVAL_MS};
use pgml_core::monitoring::{LogRecord, Ring};
use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BackgroundWorkerStatus, BgWorkerStartTime,
    DynamicBackgroundWorker, SignalWakeFlags,
};
use pgrx::prelude::*;
use pgrx::spi::Spi;
use pgrx::{pg_sys, Uuid};
use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Records per INSERT: large enough that a statement's overhead is small against its rows.
const BATCH: usize = 5000;
/// A ring unused this long is given back.
const IDLE_MICROS: i64 = 60_000_000;

pub fn register_launcher() {
    BackgroundWorkerBuilder::new("pgml prediction log launcher")
        .set_type("pgml log launcher")
        .set_library("pgml")
        .set_function("pgml_log_launcher_main")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::RecoveryFinished)
        .set_restart_time(Some(Duration::from_secs(5)))
        .load();
}

fn interval() -> Duration {
    Duration::from_millis(FLUSH_INTERVAL_MS.get().max(10) as u64)
}

fn now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pgml_log_launcher_main(_arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    // no database: shared catalogs only (whether a ring's database still exists)
    BackgroundWorker::connect_worker_to_spi(None, None);
    let mut writers: Vec<Option<DynamicBackgroundWorker>> = rings().iter().map(|_| None).collect();
    let mut next = Instant::now();
    // The latch is also set when a writer exits: wait out the interval, so that each ring is
    // written once per interval, in full batches (a writer started at every wake-up wrote a few
    // hundred rows at a time and cost a third of the CPU under pgbench).
    while BackgroundWorker::wait_latch(Some(
        next.saturating_duration_since(Instant::now()).max(Duration::from_millis(1)),
    )) {
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        let now = Instant::now();
        let due = now >= next;
        if due {
            next = now + interval();
        }
        for (i, ring) in rings().iter().enumerate() {
            // a ring more than half full is written now rather than at the next interval
            if !due && ring.used() < ring.capacity() / 2 {
                continue;
            }
            let owner = ring.header().owner.load(Ordering::Acquire);
            if owner == 0 {
                continue;
            }
            let running = writers[i]
                .as_ref()
                .is_some_and(|w| matches!(w.pid(), Ok(_) | Err(BackgroundWorkerStatus::NotYetStarted)));
            if running {
                continue;
            }
            writers[i] = None;
            if !database_exists(owner_database(owner)) {
                // dropped: its records have nowhere to go, and its ring is free at once
                discard(ring);
                release(ring, owner);
            } else if ring.used() > 0 {
                writers[i] = start_writer(i, owner);
            } else if now_micros() - ring.header().last_append.load(Ordering::Relaxed) > IDLE_MICROS {
                release(ring, owner);
            }
        }
    }
}

fn database_exists(oid: pg_sys::Oid) -> bool {
    BackgroundWorker::transaction(|| unsafe {
        pg_sys::SearchSysCacheExists(
            pg_sys::SysCacheIdentifier::DATABASEOID as i32,
            pg_sys::Datum::from(oid),
            pg_sys::Datum::from(0),
            pg_sys::Datum::from(0),
            pg_sys::Datum::from(0),
        )
    })
}

/// Drops every record of the ring, counting them (their database is gone).
fn discard(ring: &Ring) {
    let n = ring.drain(usize::MAX, |_| {});
    ring.header().dropped_unwritten.fetch_add(n as u64, Ordering::Relaxed);
}

/// Gives the ring back, its counters zeroed for the next database (once empty: a prediction
/// appending meanwhile is counted by the next owner's writer as not its own).
fn release(ring: &Ring, owner: u64) {
    let h = ring.header();
    if ring.used() == 0 {
        for counter in [&h.appended, &h.written, &h.dropped_full, &h.dropped_unwritten, &h.reported_drops] {
            counter.store(0, Ordering::Relaxed);
        }
        let _ = h.owner.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
    }
}

fn start_writer(slot: usize, owner: u64) -> Option<DynamicBackgroundWorker> {
    BackgroundWorkerBuilder::new("pgml prediction log writer")
        .set_type("pgml log writer")
        .set_library("pgml")
        .set_function("pgml_log_writer_main")
        .enable_spi_access()
        .set_argument(Some(pg_sys::Datum::from(slot)))
        .set_extra(&owner.to_string())
        .set_restart_time(None)
        .set_notify_pid(unsafe { pg_sys::MyProcPid })
        .load_dynamic()
        .ok()
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn pgml_log_writer_main(arg: pg_sys::Datum) {
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let owner: u64 = BackgroundWorker::get_extra().parse().unwrap_or(0);
    let Some(ring) = rings().get(arg.value()) else { return };
    let database = owner_database(owner);
    BackgroundWorker::connect_worker_to_spi_by_oid(Some(database), None);
    // Asynchronous commits: the writer never waits for a flush of the WAL; a crash loses at
    // most the last moments of the log (wal_writer_delay), never the registry.
    unsafe {
        pg_sys::SetConfigOption(
            c"synchronous_commit".as_ptr(),
            c"off".as_ptr(),
            pg_sys::GucContext::PGC_SUSET,
            pg_sys::GucSource::PGC_S_OVERRIDE,
        );
        pg_sys::SetConfigOption(
            c"application_name".as_ptr(),
            c"pgml prediction log writer".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_OVERRIDE,
        );
    }
    let header = ring.header();
    let mut days = HashSet::new();
    // (the ring may be given to another database meanwhile: its records are not this writer's)
    while !BackgroundWorker::sigterm_received() && header.owner.load(Ordering::Acquire) == owner {
        let mut batch = Vec::new();
        let mut foreign = 0u64;
        ring.drain(BATCH, |bytes| {
            let ours = bytes.len() >= 4
                && u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) == u32::from(database);
            match ours.then(|| LogRecord::decode(&bytes[4..])) {
                Some(Ok(record)) => batch.push(record),
                _ => foreign += 1,
            }
        });
        header.dropped_unwritten.fetch_add(foreign, Ordering::Relaxed);
        if batch.is_empty() {
            break;
        }
        let n = batch.len() as u64;
        let last = batch.len() < BATCH;
        let dropped =
            header.dropped_full.load(Ordering::Relaxed) + header.dropped_unwritten.load(Ordering::Relaxed);
        let unreported = dropped.saturating_sub(header.reported_drops.load(Ordering::Relaxed));
        match write(&batch, unreported, &mut days) {
            Ok(true) => {
                header.reported_drops.fetch_add(unreported, Ordering::Relaxed);
                header.written.fetch_add(n, Ordering::Relaxed)
            }
            Ok(false) => header.dropped_unwritten.fetch_add(n, Ordering::Relaxed),
            Err(e) => {
                pgrx::warning!("pgml: {n} logged predictions could not be written: {e}");
                header.dropped_unwritten.fetch_add(n, Ordering::Relaxed)
            }
        };
        // Caught up: what arrives meanwhile waits for the next flush, in full batches.
        if last {
            break;
        }
    }
}

/// Writes one batch in its own transaction; Ok(false) when the database has no log table (pgml
/// not installed there, or older than 0.6.0).
fn write(batch: &[LogRecord], dropped: u64, days: &mut HashSet<i64>) -> Result<bool, String> {
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    let mut known = std::mem::take(days);
    let result = PgTryBuilder::new(std::panic::AssertUnwindSafe(|| {
        insert(batch, dropped, &mut known).map_err(|e| e.to_string())
    }))
    .catch_others(|e| Err(format!("{e:?}")))
    .execute();
    *days = known;
    unsafe {
        match result {
            Ok(_) => {
                pg_sys::PopActiveSnapshot();
                pg_sys::CommitTransactionCommand();
            }
            Err(_) => {
                days.clear();
                pg_sys::AbortCurrentTransaction();
            }
        }
    }
    result
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

fn insert(batch: &[LogRecord], dropped: u64, days: &mut HashSet<i64>) -> Result<bool, pgrx::spi::Error> {
    Spi::connect_mut(|client| {
        let exists = client
            .select("SELECT to_regclass('pgml.prediction_log') IS NOT NULL", None, &[])?
            .first()
            .get::<bool>(1)?
            .unwrap_or(false);
        if !exists {
            return Ok(false);
        }
        for day in batch.iter().map(|r| r.at_unix_micros.div_euclid(MICROS_PER_DAY)) {
            if days.insert(day) {
                client.update(
                    "SELECT pgml._pgml_log_partition(date '1970-01-01' + $1::int)",
                    None,
                    &[(day as i32).into()],
                )?;
            }
        }
        let text = |v: &[f32]| -> Option<String> {
            (!v.is_empty())
                .then(|| format!("{{{}}}", v.iter().map(f32::to_string).collect::<Vec<_>>().join(",")))
        };
        let ids: Vec<Uuid> = batch.iter().map(|r| Uuid::from_bytes(r.request_id)).collect();
        let at: Vec<i64> = batch.iter().map(|r| r.at_unix_micros).collect();
        let project: Vec<i64> = batch.iter().map(|r| r.project_id).collect();
        let stage: Vec<String> = batch.iter().map(|r| r.stage.clone()).collect();
        let model: Vec<i64> = batch.iter().map(|r| r.model_id).collect();
        let source: Vec<String> = batch.iter().map(|r| r.source.name().to_string()).collect();
        let key: Vec<Option<String>> = batch.iter().map(|r| r.key.clone()).collect();
        let prediction: Vec<f32> = batch.iter().map(|r| r.prediction).collect();
        let probabilities: Vec<Option<String>> = batch.iter().map(|r| text(&r.probabilities)).collect();
        let features: Vec<Option<String>> = batch.iter().map(|r| text(&r.features)).collect();
        let latency: Vec<f32> = batch.iter().map(|r| r.latency_micros).collect();
        let weight: Vec<f32> = batch.iter().map(|r| r.weight).collect();
        client.update(
            "INSERT INTO pgml.prediction_log (request_id, predicted_at, project_id, stage, model_id, source, key,
                                              prediction, probabilities, features, latency_us, weight)
             SELECT r, timestamptz 'epoch' + t * interval '1 microsecond', p, s, m, src, k,
                    NULLIF(y, 'NaN'::real), pr::real[], f::real[], l, w
             FROM unnest($1::uuid[], $2::int8[], $3::int8[], $4::text[], $5::int8[], $6::text[], $7::text[],
                         $8::real[], $9::text[], $10::text[], $11::real[], $12::real[])
                  AS u (r, t, p, s, m, src, k, y, pr, f, l, w)",
            None,
            &[
                ids.into(),
                at.into(),
                project.into(),
                stage.into(),
                model.into(),
                source.into(),
                key.into(),
                prediction.into(),
                probabilities.into(),
                features.into(),
                latency.into(),
                weight.into(),
            ],
        )?;
        super::live::fold_predictions(client, batch)?;
        if dropped > 0 {
            client.update(
                "INSERT INTO pgml.log_drops AS d (minute, dropped) VALUES (date_trunc('minute', now()), $1)
                 ON CONFLICT (minute) DO UPDATE SET dropped = d.dropped + EXCLUDED.dropped",
                None,
                &[(dropped as i64).into()],
            )?;
        }
        Ok(true)
    })
}

/// Counters for `pgml.monitoring_status`: the rings of this database, added up.
pub struct Counters {
    pub appended: u64,
    pub written: u64,
    pub dropped_full: u64,
    pub dropped_unwritten: u64,
    pub pending_bytes: u64,
}

pub fn counters(database: pg_sys::Oid) -> Counters {
    let mut c = Counters { appended: 0, written: 0, dropped_full: 0, dropped_unwritten: 0, pending_bytes: 0 };
    for ring in rings() {
        let h = ring.header();
        let owner = h.owner.load(Ordering::Acquire);
        if owner != 0 && owner_database(owner) == database {
            c.appended += h.appended.load(Ordering::Relaxed);
            c.written += h.written.load(Ordering::Relaxed);
            c.dropped_full += h.dropped_full.load(Ordering::Relaxed);
            c.dropped_unwritten += h.dropped_unwritten.load(Ordering::Relaxed);
            c.pending_bytes += ring.used() as u64;
        }
    }
    c
}

pub fn available() -> bool {
    shared::available()
}
