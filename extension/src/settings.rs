//! The extension's settings (`pgml.*`), registered when the library loads.

use std::ffi::CStr;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

/// `<sharedir>/pgml/models`, found by build.rs from the pg_config the extension is built for.
const DEFAULT_MODELS_DIR: &CStr =
    match CStr::from_bytes_with_nul(concat!(env!("PGML_DEFAULT_MODELS_DIR"), "\0").as_bytes()) {
        Ok(dir) => dir,
        Err(_) => panic!("the models directory's path has a NUL byte"),
    };

/// Where `pgml.embed` finds its models. Superuser-only: it chooses which files a backend
/// reads.
pub static MODELS_DIR: GucSetting<Option<std::ffi::CString>> =
    GucSetting::<Option<std::ffi::CString>>::new(Some(DEFAULT_MODELS_DIR));

/// Threads one `pgml.embed` call computes on (1: the backend's own thread only).
pub static EMBED_THREADS: GucSetting<i32> = GucSetting::<i32>::new(1);

/// Why the caller deploys, rolls back, promotes or reviews: recorded in the audit event of
/// every decision taken while it is set (`SET LOCAL pgml.audit_reason = '...'`; the
/// dashboard sets it from its forms).
pub static AUDIT_REASON: GucSetting<Option<std::ffi::CString>> =
    GucSetting::<Option<std::ffi::CString>>::new(None);

/// The reason in effect, if any (trimmed, at most 500 characters).
pub fn audit_reason() -> Option<String> {
    let reason = AUDIT_REASON.get()?.to_string_lossy().trim().to_string();
    (!reason.is_empty()).then(|| reason.chars().take(500).collect())
}

pub fn register() {
    GucRegistry::define_string_guc(
        c"pgml.audit_reason",
        c"Why: recorded in the audit events of the decisions taken while it is set.",
        c"SET LOCAL pgml.audit_reason = 'the new model failed in production' before pgml.deploy, pgml.promote or a review.",
        &AUDIT_REASON,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"pgml.models_dir",
        c"Directory of the embedding models pgml.embed can load.",
        c"Each model is a Hugging Face snapshot directory at <dir>/<organisation>/<name> or <dir>/<name>.",
        &MODELS_DIR,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"pgml.embed_threads",
        c"Threads one pgml.embed call computes on.",
        c"1 keeps the work on the backend's own thread; more threads start on the first call that uses them.",
        &EMBED_THREADS,
        1,
        64,
        GucContext::Userset,
        GucFlags::default(),
    );
}

/// The models directory now in effect.
pub fn models_dir() -> std::path::PathBuf {
    let dir = MODELS_DIR.get().map(|d| d.to_string_lossy().into_owned()).unwrap_or_default();
    std::path::PathBuf::from(dir)
}
