//! The shared memory of the prediction log: a few rings (`pgml_core::monitoring::Ring`), one per
//! database that logs, claimed by the first prediction of that database and released by the
//! launcher once idle. Sized at server start (`pgml.log_buffer` per ring, `pgml.log_databases`
//! rings), so a full ring drops records and counts them; nothing waits.

use pgml_core::monitoring::request_id::now_micros;
use pgml_core::monitoring::Ring;
use pgrx::{pg_guard, pg_sys, GucContext, GucFlags, GucRegistry, GucSetting};
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

/// kB of records each database's ring holds (8 MB: about 80,000 one-row predictions, 10 s of a
/// busy server between two flushes).
pub static LOG_BUFFER_KB: GucSetting<i32> = GucSetting::<i32>::new(8192);
/// How many databases can log at once.
pub static LOG_DATABASES: GucSetting<i32> = GucSetting::<i32>::new(4);
/// ms between two flushes of a ring.
pub static FLUSH_INTERVAL_MS: GucSetting<i32> = GucSetting::<i32>::new(1000);

/// How a standby's log writers reach the primary: a libpq connection string (the database is
/// the writer's own); empty: the standby's `primary_conninfo`; `off`: a standby's predictions
/// are counted as dropped, not forwarded.
pub static LOG_PRIMARY_CONNINFO: GucSetting<Option<std::ffi::CString>> =
    GucSetting::<Option<std::ffi::CString>>::new(None);

/// Counters of the whole cluster, before the rings.
#[repr(C)]
#[derive(Default)]
pub struct Global {
    /// Predictions not logged because every ring belonged to another database.
    pub dropped_no_ring: AtomicU64,
    /// Predictions made on a hot standby that forwards none (`pgml.log_primary_conninfo` off,
    /// or no primary to forward to).
    pub dropped_standby: AtomicU64,
    /// Owner values handed out so far (their generation part).
    pub generation: AtomicU64,
}

struct Area {
    global: *const Global,
    rings: Vec<Ring>,
}

/// Set in the postmaster by the shared-memory startup hook (again after a crash restart), and
/// inherited by every process it forks. Leaked: it lives as long as the process.
static AREA: AtomicPtr<Area> = AtomicPtr::new(std::ptr::null_mut());

fn ring_bytes() -> usize {
    Ring::size_for(LOG_BUFFER_KB.get().max(64) as usize * 1024)
}

fn total_bytes() -> usize {
    std::mem::size_of::<Global>().next_multiple_of(8) + ring_bytes() * LOG_DATABASES.get().max(1) as usize
}

static mut PREV_REQUEST: Option<unsafe extern "C-unwind" fn()> = None;
static mut PREV_STARTUP: Option<unsafe extern "C-unwind" fn()> = None;

/// Defines the postmaster-time settings and asks for the shared memory.
pub fn register() {
    GucRegistry::define_int_guc(
        c"pgml.log_buffer",
        c"kB of shared memory each database's prediction log buffer holds.",
        c"When a buffer is full, predictions go on and their records are dropped and counted.",
        &LOG_BUFFER_KB,
        64,
        1024 * 1024,
        GucContext::Postmaster,
        GucFlags::UNIT_KB,
    );
    GucRegistry::define_int_guc(
        c"pgml.log_databases",
        c"How many databases can log predictions at once.",
        c"A database claims a buffer with its first logged prediction and releases it after a minute idle.",
        &LOG_DATABASES,
        1,
        64,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pgml.log_flush_interval",
        c"Milliseconds between two writes of the logged predictions.",
        c"",
        &FLUSH_INTERVAL_MS,
        10,
        60_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_string_guc(
        c"pgml.log_primary_conninfo",
        c"How a hot standby's prediction log writers connect to the primary.",
        c"A libpq connection string (the database is the writer's own). Empty: the standby's primary_conninfo. off: a standby's predictions are counted as dropped, not forwarded.",
        &LOG_PRIMARY_CONNINFO,
        GucContext::Sighup,
        GucFlags::SUPERUSER_ONLY,
    );
    unsafe {
        PREV_REQUEST = pg_sys::shmem_request_hook;
        pg_sys::shmem_request_hook = Some(on_request);
        PREV_STARTUP = pg_sys::shmem_startup_hook;
        pg_sys::shmem_startup_hook = Some(on_startup);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_request() {
    unsafe {
        if let Some(prev) = PREV_REQUEST {
            prev();
        }
        pg_sys::RequestAddinShmemSpace(total_bytes());
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_startup() {
    unsafe {
        if let Some(prev) = PREV_STARTUP {
            prev();
        }
        let mut found = false;
        // AddinShmemInitLock (lwlocknames.h: MainLWLockArray[21])
        let init_lock = &raw mut (*pg_sys::MainLWLockArray.add(21)).lock;
        pg_sys::LWLockAcquire(init_lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        let base =
            pg_sys::ShmemInitStruct(c"pgml prediction log".as_ptr(), total_bytes(), &mut found) as *mut u8;
        let global = base as *mut Global;
        let mut at = base.add(std::mem::size_of::<Global>().next_multiple_of(8));
        let capacity = LOG_BUFFER_KB.get().max(64) as usize * 1024;
        let mut rings = vec![];
        for _ in 0..LOG_DATABASES.get().max(1) {
            let ring = Ring::from_raw(at, capacity);
            if !found {
                ring.reset();
            }
            rings.push(ring);
            at = at.add(ring_bytes());
        }
        if !found {
            std::ptr::write(global, Global::default());
        }
        pg_sys::LWLockRelease(init_lock);
        AREA.store(Box::into_raw(Box::new(Area { global, rings })), Ordering::Release);
    }
}

fn area() -> Option<&'static Area> {
    // SAFETY: a leaked Area, never freed
    unsafe { AREA.load(Ordering::Acquire).as_ref() }
}

/// Whether this server has the log's shared memory (`pgml` preloaded).
pub fn available() -> bool {
    area().is_some()
}

pub fn global() -> Option<&'static Global> {
    area().map(|a| unsafe { &*a.global })
}

pub fn rings() -> &'static [Ring] {
    area().map_or(&[], |a| &a.rings)
}

/// The database an owner value names (its low 32 bits; the high ones are a generation, so a
/// ring released and claimed again is told apart).
pub fn owner_database(owner: u64) -> pg_sys::Oid {
    pg_sys::Oid::from(owner as u32)
}

/// The ring of `database`, claimed if no ring has it yet; None when every ring belongs to
/// another database (counted).
pub fn ring_of(database: pg_sys::Oid, hint: &mut Option<(usize, u64)>) -> Option<&'static Ring> {
    let rings = rings();
    if let Some((i, owner)) = *hint {
        if rings[i].header().owner.load(Ordering::Acquire) == owner {
            return Some(&rings[i]);
        }
    }
    let db = u32::from(database) as u64;
    for (i, ring) in rings.iter().enumerate() {
        let owner = ring.header().owner.load(Ordering::Acquire);
        if owner != 0 && owner as u32 as u64 == db {
            *hint = Some((i, owner));
            return Some(ring);
        }
    }
    let global = global()?;
    for (i, ring) in rings.iter().enumerate() {
        let owner = ((global.generation.fetch_add(1, Ordering::Relaxed) + 1) << 32) | db;
        if ring.header().owner.compare_exchange(0, owner, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            ring.header().last_append.store(now_micros(), Ordering::Relaxed);
            *hint = Some((i, owner));
            return Some(ring);
        }
    }
    // Every ring has an owner: take one that is empty and idle for a second (its database logs
    // nothing now; the launcher would give it back after a minute). A record its database
    // appends meanwhile is counted as dropped by this database's writer, never written here.
    let now = now_micros();
    for (i, ring) in rings.iter().enumerate() {
        let h = ring.header();
        let old = h.owner.load(Ordering::Acquire);
        if ring.used() == 0 && now - h.last_append.load(Ordering::Relaxed) > STEAL_AFTER_MICROS {
            let owner = ((global.generation.fetch_add(1, Ordering::Relaxed) + 1) << 32) | db;
            if h.owner.compare_exchange(old, owner, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                h.last_append.store(now, Ordering::Relaxed);
                // the counters monitoring_status shows are this database's from now on
                h.reset_counters();
                *hint = Some((i, owner));
                return Some(ring);
            }
        }
    }
    global.dropped_no_ring.fetch_add(1, Ordering::Relaxed);
    None
}

/// An idle ring of another database is taken after this long.
const STEAL_AFTER_MICROS: i64 = 1_000_000;
