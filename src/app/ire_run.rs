//! Running the IRE model for the app: the instant preview while dragging and the full model as a
//! background job, keyed by the plan revision so that results of an older plan are dropped.

use std::sync::Arc;

use super::plan::{PlanState, extent_axes};
use crate::jobs::{Job, JobError, Progress};
use crate::physics::ire::model::{IreError, IreResult};

/// The longest a preview may take on the UI thread (one frame at 60 fps).
pub const PREVIEW_BUDGET_MS: f64 = 16.0;
/// Previews stop for the rest of a drag after this many in a row over the budget (one slow
/// call — a cold cache, the OS scheduling another thread — does not switch them off).
pub const SLOW_PREVIEWS_TOLERATED: u32 = 2;

/// What the IRE panel says about the model.
#[derive(Clone, Debug, PartialEq)]
pub enum IreStatus {
    /// Nothing requested yet.
    Idle,
    Computing,
    /// The shown result is the full model for the current plan.
    Done,
    /// The shown result is a preview for the current plan (dragging).
    Preview,
    /// The last run failed; the message says what to do.
    Error(String),
    Cancelled,
}

/// The model run state. `result_revision` is the plan revision the shown result was computed for.
pub struct IreRun {
    job: Option<Job<Result<IreResult, IreError>>>,
    pub result: Option<Arc<IreResult>>,
    pub result_revision: u64,
    /// Bumped for every new result (overlay cache key).
    pub result_id: u64,
    pub status: IreStatus,
    /// Time of the last preview on the UI thread.
    pub last_preview_ms: Option<f64>,
    /// Consecutive previews over the budget in the current drag.
    slow_previews: u32,
    /// Zone extents of the shown result, for (`result_id`, plan revision).
    extents: Option<CachedExtents>,
}

/// Zone extents measured for one result and plan revision.
#[derive(Clone, Copy)]
struct CachedExtents {
    key: (u64, u64),
    extents_mm: Option<[f64; 3]>,
}

impl Default for IreRun {
    fn default() -> Self {
        Self {
            job: None,
            result: None,
            result_revision: 0,
            result_id: 0,
            status: IreStatus::Idle,
            last_preview_ms: None,
            slow_previews: 0,
            extents: None,
        }
    }
}

/// Closing the app (or opening another CT) must not leave a solver running for a plan that is
/// gone.
impl Drop for IreRun {
    fn drop(&mut self) {
        self.cancel();
    }
}

/// What became of a finished job.
#[derive(Clone, Debug, PartialEq)]
pub enum Finished {
    /// Shown: the result belongs to the current plan.
    Accepted,
    /// Dropped: computed for an older plan revision (a newer job is running or due).
    Stale,
    Cancelled,
    Failed(String),
}

impl IreRun {
    /// A new drag: previews get another chance.
    pub fn begin_drag(&mut self) {
        self.slow_previews = 0;
    }

    /// Whether the preview may run on the UI thread (it has kept within the frame budget).
    pub fn preview_allowed(&self) -> bool {
        self.slow_previews < SLOW_PREVIEWS_TOLERATED
    }

    /// Records how long a preview took.
    pub fn record_preview_ms(&mut self, ms: f64) {
        self.last_preview_ms = Some(ms);
        if ms > PREVIEW_BUDGET_MS {
            self.slow_previews += 1;
        } else {
            self.slow_previews = 0;
        }
    }

    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    pub fn progress(&self) -> Option<&Progress> {
        self.job.as_ref().map(|j| j.progress())
    }

    /// Whether the shown result is for an older plan than `plan_revision`.
    pub fn outdated(&self, plan_revision: u64) -> bool {
        self.result.is_some() && self.result_revision != plan_revision
    }

    /// Extents (mm) of the shown zone along the plan's extent axes for its first pair (see
    /// [`extent_axes`]); `None` without a result or axes. Measured once per result and plan
    /// revision: measuring visits every node of the grid, too much to repeat every frame.
    pub fn zone_extents(&mut self, plan: &PlanState) -> Option<[f64; 3]> {
        let r = self.result.as_ref()?;
        let key = (self.result_id, plan.revision());
        if let Some(c) = self.extents
            && c.key == key
        {
            return c.extents_mm;
        }
        let extents_mm = r
            .pairs
            .first()
            .and_then(|first| extent_axes(&plan.probes, (first.a, first.b)))
            .map(|axes| r.zone_extents_mm(axes));
        self.extents = Some(CachedExtents { key, extents_mm });
        extents_mm
    }

    /// Cancels and forgets the running job, if any.
    pub fn cancel(&mut self) -> bool {
        match self.job.take() {
            Some(j) => {
                j.cancel();
                true
            }
            None => false,
        }
    }

    /// Replaces any running job with `job` (started for its own revision).
    pub fn start(&mut self, job: Job<Result<IreResult, IreError>>) {
        self.cancel();
        self.job = Some(job);
        self.status = IreStatus::Computing;
    }

    /// Shows a result computed for `revision` (preview or full).
    pub fn show(&mut self, result: IreResult, revision: u64) {
        self.status = if result.preview {
            IreStatus::Preview
        } else {
            IreStatus::Done
        };
        self.result = Some(Arc::new(result));
        self.result_revision = revision;
        self.result_id += 1;
    }

    /// The model cannot run for the current plan (too few electrodes, bad settings): nothing is
    /// shown, the message says why.
    pub fn fail(&mut self, message: String) {
        self.cancel();
        if self.result.take().is_some() {
            self.result_id += 1;
        }
        self.status = IreStatus::Error(message);
    }

    /// Polls the job; `Some` once it finished.
    pub fn poll(&mut self, plan_revision: u64) -> Option<Finished> {
        let job = self.job.as_mut()?;
        let outcome = job.poll()?;
        let revision = job.revision();
        self.job = None;
        Some(self.finish(revision, plan_revision, outcome))
    }

    /// Decides what a finished job's outcome means for the display (pure: tested without threads).
    pub fn finish(
        &mut self,
        job_revision: u64,
        plan_revision: u64,
        outcome: Result<Result<IreResult, IreError>, JobError>,
    ) -> Finished {
        if job_revision != plan_revision {
            return Finished::Stale;
        }
        match outcome {
            Ok(Ok(r)) => {
                self.show(r, job_revision);
                Finished::Accepted
            }
            Ok(Err(IreError::Cancelled)) => {
                self.status = IreStatus::Cancelled;
                Finished::Cancelled
            }
            Ok(Err(e)) => {
                let msg = e.to_string();
                self.fail(msg.clone());
                Finished::Failed(msg)
            }
            Err(e) => {
                let msg = e.to_string();
                self.fail(msg.clone());
                Finished::Failed(msg)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::physics::grid::ComputeGrid;
    use nalgebra::Point3;

    fn result(volume_ml: f64, preview: bool) -> IreResult {
        IreResult {
            grid: ComputeGrid {
                origin_lps: Point3::origin(),
                spacing_mm: 1.0,
                dims: [1, 1, 1],
            },
            max_e_v_per_cm: vec![0.0],
            threshold_v_per_cm: vec![500.0],
            zone: vec![false],
            zone_volume_ml: volume_ml,
            pairs: Vec::new(),
            linear_iterations: 0,
            elapsed_s: 0.0,
            preview,
            description: String::new(),
            band: None,
        }
    }

    #[test]
    fn results_of_older_revisions_are_dropped() {
        let mut run = IreRun::default();
        run.show(result(1.0, false), 3);
        let id = run.result_id;
        // A job started for revision 3 finishes after the plan moved on to 5.
        assert_eq!(run.finish(3, 5, Ok(Ok(result(9.0, false)))), Finished::Stale);
        assert_eq!(run.result.as_ref().map(|r| r.zone_volume_ml), Some(1.0));
        assert_eq!(run.result_id, id, "nothing new to draw");
        assert!(run.outdated(5));
        // The job for the current revision is shown.
        assert_eq!(run.finish(5, 5, Ok(Ok(result(2.0, false)))), Finished::Accepted);
        assert_eq!(run.result.as_ref().map(|r| r.zone_volume_ml), Some(2.0));
        assert_eq!(run.status, IreStatus::Done);
        assert!(!run.outdated(5));
        assert!(run.result_id > id);
    }

    #[test]
    fn zone_extents_follow_the_result_and_the_plan() {
        use crate::physics::ire::model::PairResult;
        use crate::plan::probe::Probe;
        let probe = |x: f64, label: &str| Probe {
            model_id: "nanoknife_19g".into(),
            tip_lps: Point3::new(x, 0.0, 0.0),
            entry_lps: Point3::new(x, 0.0, 100.0),
            exposure_mm: 20.0,
            label: label.into(),
        };
        let mut plan = PlanState::default();
        plan.replace_probes(vec![probe(-5.0, "1"), probe(5.0, "2")]);
        // A 3 × 2 × 1 zone on a 2 mm grid: 3 nodes along x (the pair), 2 along y.
        let zone_result = |nx: usize| {
            let dims = [nx, 2, 1];
            let n = dims.iter().product();
            IreResult {
                grid: ComputeGrid {
                    origin_lps: Point3::origin(),
                    spacing_mm: 2.0,
                    dims,
                },
                zone: vec![true; n],
                pairs: vec![PairResult {
                    a: 0,
                    b: 1,
                    voltage_v: 1500.0,
                    spacing_mm: 10.0,
                    current_a: 20.0,
                    over_limit: false,
                    linear_iterations: 1,
                    nonlinear_iterations: 1,
                    converged: true,
                }],
                ..result(1.0, false)
            }
        };
        let mut run = IreRun::default();
        assert_eq!(run.zone_extents(&plan), None, "no result");
        run.show(zone_result(3), plan.revision());
        // Along the probes (z): one node = one spacing; along the pair: 3 nodes; across: 2.
        assert_eq!(run.zone_extents(&plan), Some([2.0, 6.0, 4.0]));
        run.show(zone_result(4), plan.revision());
        assert_eq!(
            run.zone_extents(&plan),
            Some([2.0, 8.0, 4.0]),
            "a new result is measured"
        );
        // One probe left: no pair to orient the axes.
        plan.delete_probe(1);
        assert_eq!(run.zone_extents(&plan), None);
    }

    #[test]
    fn previews_stop_after_repeated_overruns_until_the_next_drag() {
        let mut run = IreRun::default();
        assert!(run.preview_allowed());
        run.record_preview_ms(30.0);
        assert!(run.preview_allowed(), "one slow preview is tolerated");
        run.record_preview_ms(5.0);
        run.record_preview_ms(30.0);
        assert!(run.preview_allowed(), "only consecutive overruns count");
        run.record_preview_ms(17.0);
        assert!(!run.preview_allowed());
        assert_eq!(run.last_preview_ms, Some(17.0));
        run.begin_drag();
        assert!(run.preview_allowed());
    }

    #[test]
    fn errors_clear_the_result_and_say_why() {
        let mut run = IreRun::default();
        run.show(result(1.0, true), 1);
        assert_eq!(run.status, IreStatus::Preview);
        let f = run.finish(1, 1, Ok(Err(IreError::NoPairs)));
        assert!(
            matches!(&f, Finished::Failed(m) if m.contains("two electrodes")),
            "{f:?}"
        );
        assert!(run.result.is_none());
        assert!(matches!(run.status, IreStatus::Error(_)));
        // A worker panic is an error too, not a crash.
        let f = run.finish(
            1,
            1,
            Err(JobError::Panicked {
                name: "ire".into(),
                message: "boom".into(),
            }),
        );
        assert!(matches!(f, Finished::Failed(m) if m.contains("boom")));
        assert_eq!(
            run.finish(1, 1, Ok(Err(IreError::Cancelled))),
            Finished::Cancelled
        );
    }
}
