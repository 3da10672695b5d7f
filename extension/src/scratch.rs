//! Memory for work done one piece at a time: a detoasted value read and copied out, a
//! statement's copy of its argument. Each piece's allocations are freed before the next, so a
//! backend reading or writing a large relation or model holds one piece, not all of them.

use pgrx::PgMemoryContexts;

pub struct Scratch(PgMemoryContexts);

impl Scratch {
    pub fn new(name: &str) -> Scratch {
        Scratch(PgMemoryContexts::new(name))
    }

    /// Runs `f` in this context, then frees everything allocated in it. `f` copies out what
    /// it keeps: nothing it returns may point into the context.
    pub fn run<R>(&mut self, f: impl FnOnce() -> R) -> R {
        // SAFETY: the context is ours and current only during `f`; what `f` allocated there
        // is freed after `f` returns, and `f` keeps none of it. An error unwinds through `f`
        // and leaves the context to its parent's reset.
        unsafe {
            let out = self.0.switch_to(|_| f());
            self.0.reset();
            out
        }
    }
}
