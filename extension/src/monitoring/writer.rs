//! The writers of the prediction log. A launcher, started with the server (on a hot standby too:
//! its writers forward the standby's records to the primary, `forward.rs`), wakes every
//! `pgml.log_flush_interval` and, for each ring holding records, starts a writer connected to
//! the ring's database, which writes batches to `pgml.prediction_log` each interval while
//! records come, and exits after an interval with none: an idle database is not held open, so
//! `DROP DATABASE` is not blocked. The launcher releases a ring idle for a minute, and discards
//! (counting) the records of a database that was dropped.

use super::shared::{owner_database, rings, FLUSH_INTERVAL_MS};
use pgml_core::monitoring::request_id::now_micros;
use pgml_core::monitoring::{LogRecord, Ring};
use pgrx::bgworkers::{
    BackgroundWorker, BackgroundWorkerBuilder, BackgroundWorkerStatus, BgWorkerStartTime,
    DynamicBackgroundWorker, SignalWakeFlags,
};
use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::spi::Spi;
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
        .set_start_time(BgWorkerStartTime::ConsistentState)
        .set_restart_time(Some(Duration::from_secs(5)))
        .load();
}

fn interval() -> Duration {
    Duration::from_millis(FLUSH_INTERVAL_MS.get().max(10) as u64)
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
        let now = Instant::now();
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
            // a shorter interval applies from now, not after the longer one has run out
            next = next.min(now + interval());
        }
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
        h.reset_counters();
        let _ = h.owner.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Relaxed);
    }
}

fn start_writer(slot: usize, owner: u64) -> Option<DynamicBackgroundWorker> {
    BackgroundWorkerBuilder::new("pgml prediction log writer")
        .set_type("pgml log writer")
        .set_library("pgml")
        .set_function("pgml_log_writer_main")
        .enable_spi_access()
        .set_start_time(BgWorkerStartTime::ConsistentState)
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
    let name = BackgroundWorker::transaction(|| unsafe {
        let name = pg_sys::get_database_name(database);
        (!name.is_null()).then(|| std::ffi::CStr::from_ptr(name).to_owned())
    });
    let header = ring.header();
    let mut days = HashSet::new();
    let (mut unwarned, mut last_warning) = (0u64, None);
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
        // a standby (until it is promoted) sends its records to the primary
        let written = match (unsafe { pg_sys::RecoveryInProgress() }, &name) {
            (false, _) => write(&batch, unreported, &mut days),
            (true, Some(name)) => super::forward::send(&batch, name),
            (true, None) => Ok(false),
        };
        match written {
            Ok(true) => {
                header.reported_drops.fetch_add(unreported, Ordering::Relaxed);
                header.written.fetch_add(n, Ordering::Relaxed)
            }
            Ok(false) => header.dropped_unwritten.fetch_add(n, Ordering::Relaxed),
            Err(e) => {
                // once a minute at most (a standby whose primary refuses fails every batch)
                unwarned += n;
                if last_warning.is_none_or(|t: Instant| t.elapsed() >= Duration::from_secs(60)) {
                    pgrx::warning!("pgml: {unwarned} logged predictions could not be written: {e}");
                    (unwarned, last_warning) = (0, Some(Instant::now()));
                }
                header.dropped_unwritten.fetch_add(n, Ordering::Relaxed)
            }
        };
        // Caught up: what arrives meanwhile waits for the next flush, in full batches. A writer
        // whose database goes on logging stays for the next flush (starting a process and its
        // connection each second cost a few per cent of a core); one with nothing new after an
        // interval exits, so an idle database is never held open (DROP DATABASE waits for it).
        if last && (!BackgroundWorker::wait_latch(Some(interval())) || ring.used() == 0) {
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

/// Writes records in the caller's transaction (pgml-serve's, through `pgml._pgml_log_write`).
pub fn write_now(batch: &[LogRecord]) -> crate::error::Result<()> {
    insert(batch, 0, &mut HashSet::new())?;
    Ok(())
}

fn insert(batch: &[LogRecord], dropped: u64, days: &mut HashSet<i64>) -> Result<bool, pgrx::spi::Error> {
    let log = Spi::connect_mut(|client| {
        let log = client
            .select("SELECT to_regclass('pgml.prediction_log')::oid", None, &[])?
            .first()
            .get::<pg_sys::Oid>(1)?;
        if log.is_none() {
            return Ok(None);
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
        Ok::<_, pgrx::spi::Error>(log)
    })?;
    let Some(log) = log else { return Ok(false) };
    copy(log, pgml_core::monitoring::copy::binary(batch));
    Spi::connect_mut(|client| {
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

thread_local! {
    /// The COPY stream being read by `copy_source`, and how far.
    static STREAM: std::cell::RefCell<(Vec<u8>, usize)> = const { std::cell::RefCell::new((Vec::new(), 0)) };
}

/// Feeds COPY from `STREAM`: PostgreSQL's data source callback has no argument of its own.
#[pg_guard]
unsafe extern "C-unwind" fn copy_source(out: *mut std::ffi::c_void, _min: i32, max: i32) -> i32 {
    STREAM.with_borrow_mut(|(bytes, at)| {
        let n = (bytes.len() - *at).min(max.max(0) as usize);
        // SAFETY: COPY passes a buffer of at least `max` bytes
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr().add(*at), out as *mut u8, n) };
        *at += n;
        n as i32
    })
}

/// `COPY pgml.prediction_log FROM` the binary stream: the multi-row insert path, routed to
/// the day partitions.
fn copy(log: pg_sys::Oid, stream: Vec<u8>) {
    STREAM.with_borrow_mut(|s| *s = (stream, 0));
    unsafe {
        let rel = pg_sys::table_open(log, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE);
        let pstate = pg_sys::make_parsestate(std::ptr::null_mut());
        // COPY's range table (as DoCopy makes it): CopyFrom's executor state refers to entry 1
        pg_sys::addRangeTableEntryForRelation(
            pstate,
            rel,
            pg_sys::RowExclusiveLock as pg_sys::LOCKMODE,
            std::ptr::null_mut(),
            false,
            false,
        );
        let format = pg_sys::makeDefElem(
            pg_sys::pstrdup(c"format".as_ptr()),
            pg_sys::makeString(pg_sys::pstrdup(c"binary".as_ptr())) as *mut pg_sys::Node,
            -1,
        );
        let options = pg_sys::lappend(std::ptr::null_mut(), format as *mut std::ffi::c_void);
        let cstate = pg_sys::BeginCopyFrom(
            pstate,
            rel,
            std::ptr::null_mut(),
            std::ptr::null(),
            false,
            Some(copy_source),
            std::ptr::null_mut(),
            options,
        );
        pg_sys::CopyFrom(cstate);
        pg_sys::EndCopyFrom(cstate);
        pg_sys::table_close(rel, pg_sys::NoLock as pg_sys::LOCKMODE);
    }
    STREAM.with_borrow_mut(|s| *s = (Vec::new(), 0));
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
