//! A hot standby's side of the log. Its predictions are appended to its own rings as a
//! primary's are (source `standby`); its writers send them to the primary through a libpq
//! connection, where `pgml._pgml_log_write` stores them as the primary's writers store their
//! own (binary COPY and the live statistics, in one transaction). The connection is the
//! standby's `primary_conninfo`, or `pgml.log_primary_conninfo`, to the writer's database. A
//! batch that cannot be sent is counted as dropped (not written), with a WARNING in the
//! standby's log; the next batch connects again.

use super::shared::LOG_PRIMARY_CONNINFO;
use pgml_core::monitoring::LogRecord;
use pgrx::pg_sys;
use std::ffi::{c_char, c_int, c_void, CStr};

#[link(name = "pq")]
unsafe extern "C" {
    fn PQconnectdbParams(
        keywords: *const *const c_char,
        values: *const *const c_char,
        expand: c_int,
    ) -> *mut c_void;
    fn PQstatus(conn: *const c_void) -> c_int;
    fn PQerrorMessage(conn: *const c_void) -> *const c_char;
    fn PQfinish(conn: *mut c_void);
    fn PQexecParams(
        conn: *mut c_void,
        command: *const c_char,
        n_params: c_int,
        types: *const pg_sys::Oid,
        values: *const *const c_char,
        lengths: *const c_int,
        formats: *const c_int,
        result_format: c_int,
    ) -> *mut c_void;
    fn PQresultStatus(result: *const c_void) -> c_int;
    fn PQresultErrorMessage(result: *const c_void) -> *const c_char;
    fn PQclear(result: *mut c_void);
}

const CONNECTION_OK: c_int = 0;
const PGRES_TUPLES_OK: c_int = 2;

/// The connection string the writers use, None when a standby forwards nothing. Borrowed from
/// the settings (valid until the next reload): `forwarding` asks on every prediction of a
/// standby, and copies nothing.
fn conninfo() -> Option<&'static CStr> {
    // SAFETY: a string setting is NULL or a NUL-terminated string PostgreSQL owns
    let configured = unsafe { *LOG_PRIMARY_CONNINFO.as_ptr() };
    let given = (!configured.is_null()).then(|| unsafe { CStr::from_ptr(configured) });
    match given {
        Some(s) if s == c"off" => None,
        Some(s) if !s.is_empty() => Some(s),
        _ => {
            let primary = unsafe { pg_sys::GetConfigOption(c"primary_conninfo".as_ptr(), true, false) };
            (!primary.is_null()).then(|| unsafe { CStr::from_ptr(primary) }).filter(|s| !s.is_empty())
        }
    }
}

/// Whether this standby's predictions are logged (forwarded) rather than counted as dropped.
pub fn forwarding() -> bool {
    conninfo().is_some()
}

/// Whether this server counts its predictions as dropped instead of logging them: a standby
/// that forwards none.
pub fn standby_drops() -> bool {
    let standby = unsafe { pg_sys::RecoveryInProgress() };
    standby && !forwarding()
}

/// The writer's connection to the primary, kept between batches.
struct Connection(*mut c_void);

static mut CONNECTION: Connection = Connection(std::ptr::null_mut());

fn message(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    unsafe { CStr::from_ptr(p) }.to_string_lossy().trim().to_string()
}

fn connect(database: &CStr) -> Result<*mut c_void, String> {
    let base = conninfo().ok_or("pgml.log_primary_conninfo is off")?.to_owned();
    // The first dbname is expanded (a key=value string or a URI); the keywords after it
    // override what it says.
    let keywords = [
        c"dbname".as_ptr(),
        c"dbname".as_ptr(),
        c"application_name".as_ptr(),
        c"options".as_ptr(),
        c"connect_timeout".as_ptr(),
        std::ptr::null(),
    ];
    let values = [
        base.as_ptr(),
        database.as_ptr(),
        c"pgml prediction log forwarder".as_ptr(),
        c"-c synchronous_commit=off".as_ptr(),
        c"10".as_ptr(),
        std::ptr::null(),
    ];
    let conn = unsafe { PQconnectdbParams(keywords.as_ptr(), values.as_ptr(), 1) };
    if conn.is_null() {
        return Err("out of memory".into());
    }
    if unsafe { PQstatus(conn) } != CONNECTION_OK {
        let e = message(unsafe { PQerrorMessage(conn) });
        unsafe { PQfinish(conn) };
        return Err(format!("cannot connect to the primary: {e}"));
    }
    Ok(conn)
}

/// Sends a batch to the primary's log (in `database`); Ok(false) when the primary has no log
/// to write to (pgml older than 0.6.0 there).
pub fn send(batch: &[LogRecord], database: &CStr) -> Result<bool, String> {
    let mut payload = Vec::with_capacity(batch.len() * 128);
    let mut record = Vec::with_capacity(256);
    for r in batch {
        record.clear();
        r.encode(&mut record);
        payload.extend_from_slice(&(record.len() as u32).to_le_bytes());
        payload.extend_from_slice(&record);
    }
    // SAFETY: a background worker runs one thread; the connection is this process's own
    let slot = unsafe { &mut *std::ptr::addr_of_mut!(CONNECTION) };
    if slot.0.is_null() {
        slot.0 = connect(database)?;
    }
    let values = [payload.as_ptr() as *const c_char];
    let lengths = [payload.len() as c_int];
    let formats = [1 as c_int];
    let types = [pg_sys::BYTEAOID];
    let result = unsafe {
        PQexecParams(
            slot.0,
            c"SELECT pgml._pgml_log_write($1)".as_ptr(),
            1,
            types.as_ptr(),
            values.as_ptr(),
            lengths.as_ptr(),
            formats.as_ptr(),
            0,
        )
    };
    let ok = !result.is_null() && unsafe { PQresultStatus(result) } == PGRES_TUPLES_OK;
    let error = if ok {
        String::new()
    } else if result.is_null() {
        message(unsafe { PQerrorMessage(slot.0) })
    } else {
        message(unsafe { PQresultErrorMessage(result) })
    };
    unsafe {
        if !result.is_null() {
            PQclear(result);
        }
    }
    if ok {
        return Ok(true);
    }
    // a new connection for the next batch (the primary may have restarted)
    unsafe { PQfinish(slot.0) };
    slot.0 = std::ptr::null_mut();
    if error.contains("pgml._pgml_log_write") && error.contains("does not exist") {
        return Ok(false);
    }
    Err(format!("the primary refused them: {error}"))
}
