//! Background jobs: a named worker thread with a cancel token, progress in [0, 1], a
//! revision (to drop stale results) and panic capture, so the UI never blocks and a bug in a
//! worker becomes a message, not a crash.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

/// Cooperative cancellation flag shared between the UI and a worker.
#[derive(Clone, Debug, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

type Waker = Arc<dyn Fn() + Send + Sync>;

/// Progress reported by a worker: a fraction and a short message. Setting it calls the
/// waker (the app's `request_repaint`) so the progress bar moves without polling.
#[derive(Clone, Default)]
pub struct Progress {
    fraction_bits: Arc<AtomicU32>,
    message: Arc<Mutex<String>>,
    waker: Option<Waker>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("fraction", &self.fraction())
            .finish()
    }
}

impl Progress {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_waker(waker: impl Fn() + Send + Sync + 'static) -> Self {
        Self {
            waker: Some(Arc::new(waker)),
            ..Self::default()
        }
    }

    pub fn set(&self, fraction: f32) {
        let f = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.fraction_bits.store(f.to_bits(), Ordering::Relaxed);
        if let Some(w) = &self.waker {
            w();
        }
    }

    pub fn set_message(&self, msg: impl Into<String>) {
        if let Ok(mut m) = self.message.lock() {
            *m = msg.into();
        }
        if let Some(w) = &self.waker {
            w();
        }
    }

    pub fn fraction(&self) -> f32 {
        f32::from_bits(self.fraction_bits.load(Ordering::Relaxed))
    }

    pub fn message(&self) -> String {
        self.message.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

/// What a worker sees: check `cancel` often, report `progress`.
#[derive(Clone, Debug, Default)]
pub struct JobCtx {
    pub cancel: CancelToken,
    pub progress: Progress,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum JobError {
    #[error("the {name} worker crashed: {message}")]
    Panicked { name: String, message: String },
    #[error("the {0} worker stopped without a result")]
    Lost(String),
}

/// A running background computation producing `T`.
pub struct Job<T> {
    name: String,
    revision: u64,
    ctx: JobCtx,
    rx: mpsc::Receiver<thread::Result<T>>,
    done: bool,
}

impl<T: Send + 'static> Job<T> {
    /// Start `work` on a named thread. `revision` identifies the input state the job was
    /// started for, so the caller can drop results that are stale by the time they arrive.
    pub fn spawn(
        name: &str,
        revision: u64,
        progress: Progress,
        work: impl FnOnce(&JobCtx) -> T + Send + 'static,
    ) -> Result<Self, std::io::Error> {
        let ctx = JobCtx {
            cancel: CancelToken::new(),
            progress,
        };
        let (tx, rx) = mpsc::channel();
        let worker_ctx = ctx.clone();
        thread::Builder::new()
            .name(format!("job-{name}"))
            .spawn(move || {
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&worker_ctx)));
                // The UI may have dropped the job (cancelled and forgotten): ignore send errors.
                let _ = tx.send(result);
                if let Some(w) = &worker_ctx.progress.waker {
                    w();
                }
            })?;
        Ok(Self {
            name: name.to_string(),
            revision,
            ctx,
            rx,
            done: false,
        })
    }
}

impl<T> Job<T> {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn revision(&self) -> u64 {
        self.revision
    }
    pub fn progress(&self) -> &Progress {
        &self.ctx.progress
    }
    pub fn cancel(&self) {
        self.ctx.cancel.cancel();
    }
    pub fn is_cancelled(&self) -> bool {
        self.ctx.cancel.is_cancelled()
    }

    /// Non-blocking: `Some` once the worker has finished (exactly once).
    pub fn poll(&mut self) -> Option<Result<T, JobError>> {
        if self.done {
            return None;
        }
        match self.rx.try_recv() {
            Ok(Ok(v)) => {
                self.done = true;
                Some(Ok(v))
            }
            Ok(Err(panic)) => {
                self.done = true;
                Some(Err(JobError::Panicked {
                    name: self.name.clone(),
                    message: panic_message(&panic),
                }))
            }
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => {
                self.done = true;
                Some(Err(JobError::Lost(self.name.clone())))
            }
        }
    }

    /// Blocking wait (CLI and tests only; the UI polls).
    pub fn wait(mut self) -> Result<T, JobError> {
        match self.rx.recv() {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(panic)) => Err(JobError::Panicked {
                name: self.name.clone(),
                message: panic_message(&panic),
            }),
            Err(_) => {
                self.done = true;
                Err(JobError::Lost(self.name.clone()))
            }
        }
    }
}

fn panic_message(p: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_and_progress_arrive() {
        let job = Job::spawn("t", 7, Progress::new(), |ctx| {
            ctx.progress.set(0.5);
            42
        })
        .unwrap();
        assert_eq!(job.revision(), 7);
        assert_eq!(job.wait(), Ok(42));
    }

    #[test]
    fn panic_becomes_error() {
        let job = Job::spawn("boom", 0, Progress::new(), |_| -> i32 { panic!("bad voxel") }).unwrap();
        match job.wait() {
            Err(JobError::Panicked { message, .. }) => assert!(message.contains("bad voxel")),
            other => panic!("expected panic error, got {other:?}"),
        }
    }

    #[test]
    fn cancel_is_seen_by_worker() {
        let (tx, rx) = mpsc::channel::<()>();
        let job = Job::spawn("c", 0, Progress::new(), move |ctx| {
            rx.recv().ok();
            ctx.cancel.is_cancelled()
        })
        .unwrap();
        job.cancel();
        tx.send(()).unwrap();
        assert_eq!(job.wait(), Ok(true));
    }
}
