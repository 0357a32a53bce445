//! Bytes in flight: the parallel scan and load take a lease on the bytes a file will hold in
//! memory (file buffer, inflated data set, decoded frame) before reading it, and wait while
//! other threads hold more than [`MAX_IN_FLIGHT`] together. The memory of a parallel load is
//! then bounded by this budget, not by the number of threads × the largest file (before: a
//! folder of deflated files took ≈ 2 GB per decoding thread).
//!
//! A lease larger than the budget still proceeds when nothing else is in flight (one large
//! multi-frame file must load). A thread that already holds a lease never waits for another
//! (rayon may run a second task on a thread that waits inside a decoder; waiting there for the
//! thread's own bytes would deadlock): its nested lease is only counted.

use std::cell::Cell;
use std::sync::{Condvar, Mutex};

/// Budget of bytes held at once by the parallel readers.
pub const MAX_IN_FLIGHT: usize = 1 << 30;

static IN_FLIGHT: Mutex<usize> = Mutex::new(0);
static FREED: Condvar = Condvar::new();

thread_local! {
    static HELD: Cell<u32> = const { Cell::new(0) };
}

/// Bytes reserved until dropped.
#[derive(Debug)]
pub struct Lease {
    bytes: usize,
}

/// Reserve `bytes`, waiting while others hold too much.
pub fn lease(bytes: usize) -> Lease {
    let nested = HELD.with(Cell::get) > 0;
    // A poisoned lock only means another thread panicked while counting: the count is
    // still a number, keep using it.
    let mut used = IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner());
    while !nested && *used > 0 && used.saturating_add(bytes) > MAX_IN_FLIGHT {
        used = FREED.wait(used).unwrap_or_else(|p| p.into_inner());
    }
    *used = used.saturating_add(bytes);
    HELD.with(|h| h.set(h.get() + 1));
    Lease { bytes }
}

/// Bytes currently leased (for tests and diagnostics).
pub fn in_flight() -> usize {
    *IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner())
}

impl Drop for Lease {
    fn drop(&mut self) {
        let mut used = IN_FLIGHT.lock().unwrap_or_else(|p| p.into_inner());
        *used = used.saturating_sub(self.bytes);
        HELD.with(|h| h.set(h.get().saturating_sub(1)));
        FREED.notify_all();
    }
}

/// What reading `path` in full will hold: the file, plus (for a deflated or encapsulated file)
/// up to `decoded` bytes of inflated / decoded pixels.
pub fn file_estimate(path: &std::path::Path, decoded: usize) -> usize {
    let file = std::fs::metadata(path).map(|m| m.len() as usize).unwrap_or(0);
    file.saturating_add(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_large_lease_waits_for_the_first() {
        let a = lease(MAX_IN_FLIGHT - 10);
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let _b = lease(100);
            tx.send(()).ok();
        });
        assert!(rx.recv_timeout(std::time::Duration::from_millis(200)).is_err());
        drop(a);
        assert!(rx.recv_timeout(std::time::Duration::from_secs(5)).is_ok());
        t.join().ok();
        // nested leases on one thread never wait
        let x = lease(MAX_IN_FLIGHT);
        let y = lease(MAX_IN_FLIGHT);
        drop((x, y));
    }
}
