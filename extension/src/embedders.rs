//! The embedding models this backend has loaded, by models directory and name. A model is
//! loaded on its first use (its weights are mapped, so backends share one copy in the page
//! cache) and kept until the backend exits; a model replaced on disk is seen by new sessions.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pgml_embed::{models, Embedder};

use crate::error::Result;

/// Loaded models by (models directory, name as called); the names of one model share it.
type Loaded = HashMap<(PathBuf, String), Arc<Embedder>>;

static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);

/// The model of this name under the current `pgml.models_dir`, loading it if needed.
pub fn get(name: &str) -> Result<Arc<Embedder>> {
    let key = (crate::settings::models_dir(), name.to_string());
    if let Some(found) = with_loaded(|l| l.get(&key).cloned()) {
        return Ok(found);
    }
    // Loading reads files and may fail or be cancelled: no lock is held meanwhile.
    let info = models::find(&key.0, name)?;
    // Another name of the same model (`all-MiniLM-L6-v2` and its full name) shares its load.
    let embedder = match with_loaded(|l| l.values().find(|e| e.info().dir == info.dir).cloned()) {
        Some(e) => e,
        None => Arc::new(Embedder::load(info)?),
    };
    with_loaded(|l| l.insert(key, embedder.clone()));
    Ok(embedder)
}

fn with_loaded<R>(f: impl FnOnce(&mut Loaded) -> R) -> R {
    f(LOADED.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_default())
}

/// The workers for one call, per `pgml.embed_threads`.
pub fn workers() -> pgml_embed::Workers {
    pgml_embed::Workers::new(crate::settings::EMBED_THREADS.get().max(1) as usize)
}
