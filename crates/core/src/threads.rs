//! Threads the core starts inside a host process that owns its signals. PostgreSQL's signal
//! handlers (a cancel, a statement timeout, a shutdown) expect to run on the backend's main
//! thread; a process-directed signal is delivered to any thread that does not block it. So
//! every thread the core spawns starts with every signal blocked: a new thread inherits the
//! mask of the thread that spawns it, and `SignalsBlocked` holds that mask only around the
//! spawn, never around work, so the calling thread still takes its signals while it waits.

/// Blocks every signal in the calling thread until dropped, which restores the mask before.
struct SignalsBlocked(libc::sigset_t);

impl SignalsBlocked {
    #[must_use]
    fn new() -> SignalsBlocked {
        // SAFETY: sigfillset and pthread_sigmask only write the sets passed to them.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut before: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_BLOCK, &all, &mut before);
            SignalsBlocked(before)
        }
    }
}

impl Drop for SignalsBlocked {
    fn drop(&mut self) {
        // SAFETY: restores the mask read in `new`.
        unsafe { libc::pthread_sigmask(libc::SIG_SETMASK, &self.0, std::ptr::null_mut()) };
    }
}

/// `scope.spawn(f)`, the new thread blocking every signal.
pub fn spawn_scoped<'scope, T: Send + 'scope>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    f: impl FnOnce() -> T + Send + 'scope,
) -> std::thread::ScopedJoinHandle<'scope, T> {
    let _blocked = SignalsBlocked::new();
    scope.spawn(f)
}

/// `std::thread::spawn(f)`, the new thread blocking every signal.
pub fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> std::thread::JoinHandle<T> {
    let _blocked = SignalsBlocked::new();
    std::thread::spawn(f)
}

/// Threads one prediction of a library (XGBoost, LightGBM) may use; 0, the default, leaves
/// the library's own choice (every core). A server that predicts for many requests at once
/// sets 1: its parallelism is the requests', and a library's thread pool spinning on busy
/// cores made a 100-row predict several hundred times slower there.
static PREDICTION_THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Sets the threads of each later prediction by a library (models loaded from then on).
pub fn set_prediction_threads(n: usize) {
    PREDICTION_THREADS.store(n, std::sync::atomic::Ordering::Relaxed);
}

/// The threads a library's prediction may use; 0 for the library's default.
pub fn prediction_threads() -> usize {
    PREDICTION_THREADS.load(std::sync::atomic::Ordering::Relaxed)
}

/// The next message from worker threads, the calling thread asking `interrupt` every 20 ms
/// while it waits (it may raise the caller's cancel); None once every sender is gone.
pub fn recv_interruptibly<T>(receiver: &std::sync::mpsc::Receiver<T>, interrupt: &dyn Fn()) -> Option<T> {
    use std::sync::mpsc::RecvTimeoutError;
    loop {
        match receiver.recv_timeout(std::time::Duration::from_millis(20)) {
            Ok(message) => return Some(message),
            Err(RecvTimeoutError::Timeout) => interrupt(),
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the calling thread blocks SIGINT.
    fn blocks_sigint() -> bool {
        // SAFETY: reads the calling thread's mask.
        unsafe {
            let mut mask: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask);
            libc::sigismember(&mask, libc::SIGINT) == 1
        }
    }

    #[test]
    fn spawned_threads_block_signals_and_the_caller_keeps_its_mask() {
        assert!(!blocks_sigint());
        assert!(spawn(blocks_sigint).join().unwrap());
        std::thread::scope(|s| assert!(spawn_scoped(s, blocks_sigint).join().unwrap()));
        assert!(!blocks_sigint(), "the caller's mask is restored");
    }
}
