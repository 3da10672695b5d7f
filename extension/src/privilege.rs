//! Who is calling, and the one way the registry is written.
//!
//! The database decides what a role may do: `EXECUTE` on each SQL function is granted to the
//! role that needs it (`sql/privileges.sql`), and ordinary roles may only read the registry.
//! The registry is written by our own functions only, as the extension's owner — the way a
//! `SECURITY DEFINER` function runs, but switched around the writes alone, so a training
//! relation is still read with the caller's own privileges, and the caller's role is still
//! known to record who did what.

use crate::error::Result;
use crate::store::first_row;
use pgrx::pg_sys;
use std::cell::Cell;
use std::ffi::CStr;

thread_local! {
    static OWNER: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
    /// The caller while `as_owner` runs (InvalidOid outside it).
    static OUTER: Cell<pg_sys::Oid> = const { Cell::new(pg_sys::InvalidOid) };
}

/// The role calling the SQL function (the `SET ROLE` in force, as `current_user`).
fn caller_oid() -> pg_sys::Oid {
    let outer = OUTER.with(Cell::get);
    if outer != pg_sys::InvalidOid {
        outer
    } else {
        unsafe { pg_sys::GetUserId() }
    }
}

/// The calling role's name, as recorded in `deployed_by`, `requested_by` and the audit trail.
pub fn caller() -> String {
    let name = unsafe { CStr::from_ptr(pg_sys::GetUserNameFromId(caller_oid(), false)) };
    name.to_string_lossy().into_owned()
}

/// Whether the caller has the privileges of `role` (superusers have every role's).
pub fn caller_has_role(role: &str) -> Result<bool> {
    let member =
        first_row("SELECT pg_has_role($1, $2, 'USAGE')", &[caller_oid().into(), role.into()], |r| {
            Ok(r.get::<bool>(1)?.unwrap_or(false))
        })?;
    Ok(member.unwrap_or(false))
}

fn owner() -> Result<pg_sys::Oid> {
    let known = OWNER.with(Cell::get);
    if known != pg_sys::InvalidOid {
        return Ok(known);
    }
    let oid = first_row("SELECT extowner FROM pg_extension WHERE extname = 'pgml'", &[], |r| {
        Ok(r.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::InvalidOid))
    })?;
    let oid = oid.unwrap_or(pg_sys::InvalidOid);
    OWNER.with(|c| c.set(oid));
    Ok(oid)
}

/// Restores the caller's identity and settings, also when an error unwinds through
/// `as_owner`.
struct Restore {
    user: pg_sys::Oid,
    context: i32,
    outer: pg_sys::Oid,
    guc_level: i32,
}

impl Drop for Restore {
    fn drop(&mut self) {
        // On an error, the (sub)transaction's abort pops the settings level itself.
        if !std::thread::panicking() {
            unsafe { pg_sys::AtEOXact_GUC(true, self.guc_level) };
        }
        unsafe { pg_sys::SetUserIdAndSecContext(self.user, self.context) };
        OUTER.with(|c| c.set(self.outer));
    }
}

/// Runs registry writes as the extension's owner. Only fixed, parameterised statements of
/// `store` run inside: never user SQL, never a user relation. As PostgreSQL does for a
/// `SECURITY DEFINER` function with `SET search_path`, the search_path is pinned to
/// pg_catalog meanwhile, so no function or operator a caller created can run as the owner.
pub fn as_owner<T>(write: impl FnOnce() -> Result<T>) -> Result<T> {
    run_as(owner()?, write)
}

/// Runs `read` with the privileges of the role `name` (which must exist), as pg_cron runs a
/// job as the role that scheduled it: a background job reads a user's relation with the
/// privileges of whoever registered it, never with the job's own.
pub fn as_role<T>(name: &str, read: impl FnOnce() -> Result<T>) -> Result<T> {
    let role = std::ffi::CString::new(name)
        .map_err(|_| crate::error::SqlError::invalid("a role name has a NUL byte"))?;
    let oid = unsafe { pg_sys::get_role_oid(role.as_ptr(), true) };
    if oid == pg_sys::InvalidOid {
        return Err(crate::error::SqlError::undefined(format!("role \"{name}\" does not exist")));
    }
    run_as(oid, read)
}

fn run_as<T>(role: pg_sys::Oid, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let owner = role;
    let (mut user, mut context) = (pg_sys::InvalidOid, 0);
    unsafe { pg_sys::GetUserIdAndSecContext(&mut user, &mut context) };
    let outer = OUTER.with(Cell::get);
    let guc_level = unsafe { pg_sys::NewGUCNestLevel() };
    let _restore = Restore { user, context, outer, guc_level };
    unsafe {
        pg_sys::set_config_option(
            c"search_path".as_ptr(),
            c"pg_catalog, pg_temp".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
    }
    if outer == pg_sys::InvalidOid {
        OUTER.with(|c| c.set(user));
    }
    unsafe { pg_sys::SetUserIdAndSecContext(owner, context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32) };
    f()
}
