//! Work that may fail without failing its caller's transaction, as PL/pgSQL's
//! `BEGIN … EXCEPTION WHEN OTHERS` block: an internal subtransaction, released when the work
//! succeeds and rolled back (with what it wrote, and its role and settings) when it fails. A
//! cancel is not caught: it ends the whole statement, as in PL/pgSQL.

use crate::error::{Result, SqlError};
use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::{PgSqlErrorCode, PgTryBuilder};

pub fn isolated<T>(work: impl FnOnce() -> Result<T>) -> Result<T> {
    let (context, owner) = unsafe { (pg_sys::CurrentMemoryContext, pg_sys::CurrentResourceOwner) };
    unsafe {
        pg_sys::BeginInternalSubTransaction(std::ptr::null());
        pg_sys::MemoryContextSwitchTo(context);
    }
    let mut work = Some(work);
    let result: std::result::Result<T, Failure> = PgTryBuilder::new(std::panic::AssertUnwindSafe(|| {
        (work.take().expect("runs once"))().map_err(Failure::Error)
    }))
    .catch_others(|caught| {
        let report = match &caught {
            CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => r,
            CaughtError::RustPanic { ereport, .. } => ereport,
        };
        if report.sql_error_code() == PgSqlErrorCode::ERRCODE_QUERY_CANCELED {
            return Err(Failure::Cancel(Box::new(caught)));
        }
        let mut error = SqlError::new(report.sql_error_code(), report.message());
        error.hint = report.hint().map(str::to_string);
        Err(Failure::Error(error))
    })
    .execute();
    unsafe {
        match &result {
            Ok(_) => pg_sys::ReleaseCurrentSubTransaction(),
            Err(_) => pg_sys::RollbackAndReleaseCurrentSubTransaction(),
        }
        pg_sys::MemoryContextSwitchTo(context);
        pg_sys::CurrentResourceOwner = owner;
    }
    match result {
        Ok(value) => Ok(value),
        Err(Failure::Error(error)) => Err(error),
        Err(Failure::Cancel(cancel)) => cancel.rethrow(),
    }
}

enum Failure {
    Error(SqlError),
    /// Rethrown once the subtransaction is rolled back, as PL/pgSQL does.
    Cancel(Box<CaughtError>),
}
