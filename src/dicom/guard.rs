//! Quiet panic guard for third-party decoders.
//!
//! A codec (openjp2, pure_jpegls, jpeg-decoder, GDCM's binding, the registry's RLE reader) that
//! panics on a damaged file is caught with `catch_unwind` and the file is skipped with a reason.
//! The default panic hook would still print "thread … panicked at …" and, with
//! `RUST_BACKTRACE` set, a full backtrace to stderr for every damaged file — noise that looks
//! like a crash to a user of `inspect`. The panic hook is process-wide, so it cannot simply be
//! swapped around the call (other threads may panic for real at the same moment). Instead one
//! hook is installed once: it stays silent only while the *current thread* is inside
//! [`catch_quiet`] (a thread-local depth counter) and remembers where the panic happened, and
//! delegates to the previous hook otherwise, so real bugs elsewhere still print as before.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Once;

thread_local! {
    /// > 0 while this thread runs code under [`catch_quiet`].
    static QUIET_DEPTH: Cell<u32> = const { Cell::new(0) };
    /// Location of the last panic swallowed on this thread ("file:line").
    static LAST_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static INSTALL: Once = Once::new();

fn install_hook() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET_DEPTH.with(Cell::get) > 0 {
                let loc = info.location().map(|l| format!("{}:{}", l.file(), l.line()));
                LAST_LOCATION.with(|c| *c.borrow_mut() = loc);
                return;
            }
            previous(info);
        }));
    });
}

/// Decrements the depth when dropped, also when the closure unwinds.
struct DepthGuard;

impl Drop for DepthGuard {
    fn drop(&mut self) {
        QUIET_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Run `f`; a panic inside it becomes `Err("message at file:line")` without printing anything.
pub fn catch_quiet<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    install_hook();
    QUIET_DEPTH.with(|d| d.set(d.get() + 1));
    let guard = DepthGuard;
    let r = catch_unwind(AssertUnwindSafe(f));
    drop(guard);
    r.map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        match LAST_LOCATION.with(|c| c.borrow_mut().take()) {
            Some(loc) => format!("{msg} at {loc}"),
            None => msg,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_becomes_an_error_with_its_location() {
        let r: Result<(), String> = catch_quiet(|| panic!("boom {}", 7));
        let e = r.unwrap_err();
        assert!(e.starts_with("boom 7 at ") && e.contains("guard.rs"), "{e}");
        assert_eq!(catch_quiet(|| 5).unwrap(), 5);
        assert_eq!(QUIET_DEPTH.with(Cell::get), 0);
    }
}
