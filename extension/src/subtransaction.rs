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
    // Err(Err(cancel)): rethrown once the subtransaction is rolled back, as PL/pgSQL does
    let result: std::result::Result<T, std::result::Result<SqlError, CaughtError>> =
        PgTryBuilder::new(std::panic::AssertUnwindSafe(|| (work.take().expect("runs once"))().map_err(Ok)))
            .catch_others(|caught| {
                let report = match &caught {
                    CaughtError::PostgresError(r) | CaughtError::ErrorReport(r) => r,
                    CaughtError::RustPanic { ereport, .. } => ereport,
                };
                if report.sql_error_code() == PgSqlErrorCode::ERRCODE_QUERY_CANCELED {
                    return Err(Err(caught));
                }
                let mut error = SqlError::new(report.sql_error_code(), report.message());
                error.hint = report.hint().map(str::to_string);
                Err(Ok(error))
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
        Err(Ok(error)) => Err(error),
        Err(Err(cancel)) => cancel.rethrow(),
    }
}
