//! The embedding models this backend has loaded, by models directory and name. A model is
//! loaded on its first use (its weights are mapped, so backends share one copy in the page
//! cache) and kept until the backend exits; a model replaced on disk is seen by new sessions.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use pgml_embed::{models, Embedder};

use crate::error::Result;

/// Loaded models by (models directory, name as called).
type Loaded = HashMap<(PathBuf, String), Arc<Embedder>>;

static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);

/// The model of this name under the current `pgml.models_dir`, loading it if needed.
pub fn get(name: &str) -> Result<Arc<Embedder>> {
    let dir = crate::settings::models_dir();
    let key = (dir, name.to_string());
    if let Some(found) = LOADED.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_default().get(&key) {
        return Ok(found.clone());
    }
    // Loading reads files and may fail or be cancelled: no lock is held meanwhile.
    let embedder = Arc::new(Embedder::load(models::find(&key.0, name)?)?);
    LOADED.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_default().insert(key, embedder.clone());
    Ok(embedder)
}

/// The workers for one call, per `pgml.embed_threads`.
pub fn workers() -> pgml_embed::Workers {
    pgml_embed::Workers::new(crate::settings::EMBED_THREADS.get().max(1) as usize)
}
