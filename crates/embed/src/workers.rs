//! The threads a forward pass runs on. None exist until the first embedding with more than
//! one thread (so nothing starts before a PostgreSQL backend forks); they are rayon workers
//! spawned through the core's `threads::spawn`, so they block every signal and the backend's
//! thread keeps its cancels. One pool per process, rebuilt when the thread count changes.

use std::sync::{Arc, Mutex};

/// Where parallel work runs: inline on the calling thread, or on the pool.
#[derive(Clone)]
pub enum Workers {
    Inline,
    Pool(Arc<rayon::ThreadPool>),
}

static POOL: Mutex<Option<(usize, Arc<rayon::ThreadPool>)>> = Mutex::new(None);

impl Workers {
    /// Workers for `threads` threads (1 or less: the calling thread alone).
    pub fn new(threads: usize) -> Workers {
        if threads <= 1 {
            return Workers::Inline;
        }
        let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((n, p)) = pool.as_ref().filter(|(n, _)| *n == threads) {
            debug_assert_eq!(*n, threads);
            return Workers::Pool(p.clone());
        }
        let built = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("pgml-embed-{i}"))
            .spawn_handler(|thread| {
                pgml_core::threads::spawn(move || thread.run());
                Ok(())
            })
            .build();
        match built {
            Ok(p) => {
                let p = Arc::new(p);
                *pool = Some((threads, p.clone()));
                Workers::Pool(p)
            }
            // Threads could not be started (a process limit): run inline rather than fail.
            Err(_) => Workers::Inline,
        }
    }

    /// The number of parts worth splitting work into.
    pub fn width(&self) -> usize {
        match self {
            Workers::Inline => 1,
            Workers::Pool(p) => p.current_num_threads(),
        }
    }

    /// Runs `f(0) .. f(n-1)`, in parallel on the pool.
    pub fn each(&self, n: usize, f: impl Fn(usize) + Sync + Send) {
        match self {
            Workers::Pool(p) if n > 1 => {
                use rayon::prelude::*;
                p.install(|| (0..n).into_par_iter().for_each(&f));
            }
            _ => (0..n).for_each(f),
        }
    }

    /// Runs `f` on consecutive row blocks of `rows` (each `width` long), in parallel.
    pub fn rows(&self, rows: &mut [f32], width: usize, f: impl Fn(&mut [f32]) + Sync + Send) {
        let count = rows.len() / width.max(1);
        match self {
            Workers::Pool(p) if count > 1 => {
                use rayon::prelude::*;
                let per = count.div_ceil(p.current_num_threads() * 4).max(1);
                p.install(|| {
                    rows.par_chunks_mut(per * width).for_each(|block| block.chunks_mut(width).for_each(&f))
                });
            }
            _ => rows.chunks_mut(width.max(1)).for_each(f),
        }
    }
}

/// A raw pointer to a buffer that parallel tasks write disjoint parts of.
#[derive(Clone, Copy)]
pub struct SharedMut(pub *mut f32);

// SAFETY: each user writes only the part of the buffer its task owns.
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}
