//! The one model run of the app, for either modality: the instant preview on the UI thread while
//! the plan is being dragged (within the frame budget), the full model as a background job once
//! it stops changing, keyed by the plan revision (a new revision replaces, and so cancels, the
//! running job; results of an older plan are dropped), with the cryo snapshots streamed to the
//! views while the job runs. The schedule is derived from state — "the full model was started
//! for revision N" — so no command can forget to ask for it.
//!
//! What is shown is kept apart from what is judged: the safety pass, the exports and the case
//! summaries read only a full result for the plan as it is ([`ModelRun::current`]).

use std::sync::{Arc, Condvar, Mutex, mpsc};

use super::AblaApp;
use crate::jobs::{CancelToken, Job, JobError, Progress};
use crate::physics::cryo::model::{CryoResult, CryoStream, IsothermSize, iceball_axes};
use crate::physics::cryo::preview::CryoPreview;
use crate::physics::ire::model::{IreError, IreResult};
use crate::physics::model::{self, ModelAssets, ModelError, ModelPreview, ModelResult, Tissue};
use crate::plan::catalog::Modality;
use crate::plan::probe::Probe;

/// The longest a preview may take on the UI thread (one frame at 60 fps).
pub const PREVIEW_BUDGET_MS: f64 = 16.0;
/// Previews stop for the rest of a drag after this many in a row over the budget (one slow
/// call — a cold cache, the OS scheduling another thread — does not switch them off).
pub const SLOW_PREVIEWS_TOLERATED: u32 = 2;

/// What the plan panel says about the model.
#[derive(Clone, Debug, PartialEq)]
pub enum RunStatus {
    /// Nothing to compute yet (the message says what is missing), or nothing requested.
    Idle,
    Computing,
    /// The shown result is the full model for the current plan.
    Done,
    /// The shown result is a preview for the current plan (dragging).
    Preview,
    /// The model cannot run or failed; the message says what to do.
    Error(String),
    Cancelled,
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

/// What a cryo job streams to the UI while it runs (owned copies of [`CryoStream`]).
enum StreamMsg {
    Started(Box<CryoResult>),
    Snapshot(f64, Vec<i16>),
}

/// A test hook: the job waits after streaming snapshot `after` (0 = the start) until
/// [`SnapshotGate::release`] or a cancel, so that a test sees a partial result deterministically.
#[derive(Clone, Debug)]
pub struct SnapshotGate {
    after: usize,
    released: Arc<(Mutex<bool>, Condvar)>,
}

impl SnapshotGate {
    pub fn hold_after(after: usize) -> Self {
        Self {
            after,
            released: Arc::new((Mutex::new(false), Condvar::new())),
        }
    }

    pub fn release(&self) {
        let (m, c) = &*self.released;
        if let Ok(mut r) = m.lock() {
            *r = true;
        }
        c.notify_all();
    }

    /// On the job thread, after snapshot `index` was sent.
    fn pass(&self, index: usize, cancel: &CancelToken) {
        if index != self.after {
            return;
        }
        let (m, c) = &*self.released;
        let Ok(mut released) = m.lock() else { return };
        while !*released && !cancel.is_cancelled() {
            match c.wait_timeout(released, std::time::Duration::from_millis(20)) {
                Ok((g, _)) => released = g,
                Err(_) => return,
            }
        }
    }
}

/// Iceball sizes (label, size) at the shown time.
pub type SizeTable = Arc<Vec<(String, IsothermSize)>>;

/// Zone extents (mm) measured for (result id, plan revision).
type CachedExtents = ((u64, u64), Option<[f64; 3]>);
/// The lethal zone as a 0 / 100 field for (shown id, snapshot).
type CachedLethal = ((u64, usize), Arc<Vec<i16>>);

/// The model run state.
pub struct ModelRun {
    job: Option<Job<Result<ModelResult, ModelError>>>,
    stream: Option<mpsc::Receiver<StreamMsg>>,
    /// The full result of a finished job.
    pub result: Option<ModelResult>,
    /// The plan revision `result` was computed for.
    pub result_revision: u64,
    /// The preview shown while dragging (dropped when a full result or a streamed snapshot
    /// arrives), and the revision it was made for.
    pub preview: Option<ModelPreview>,
    preview_revision: u64,
    /// The snapshots the running cryo job has produced so far (drawn and scrubbed while it runs;
    /// never judged as a result).
    pub partial: Option<Arc<CryoResult>>,
    /// Bumped for every change of `partial`.
    partial_gen: u64,
    /// Test hook handed to the next job (see [`SnapshotGate`]).
    pub gate: Option<SnapshotGate>,
    /// Bumped for every new result or preview (overlay cache key).
    pub result_id: u64,
    pub status: RunStatus,
    /// Plan revision the full model was last started (or refused) for, and the preview made for.
    full_for: Option<u64>,
    preview_for: Option<u64>,
    /// Time of the last preview on the UI thread.
    pub last_preview_ms: Option<f64>,
    /// Consecutive previews over the budget in the current drag.
    slow_previews: u32,
    assets: Option<Result<ModelAssets, String>>,
    /// The cryo time slider (s); `None` = the end of the last freeze of each new result.
    pub time_s: Option<f64>,
    /// Caches of measurements that visit every node (keyed by what is shown).
    ire_extents: Option<CachedExtents>,
    sizes: Option<(u64, SizeTable)>,
    lethal: Option<CachedLethal>,
}

impl Default for ModelRun {
    fn default() -> Self {
        Self {
            job: None,
            stream: None,
            result: None,
            result_revision: 0,
            preview: None,
            preview_revision: 0,
            partial: None,
            partial_gen: 0,
            gate: None,
            result_id: 0,
            status: RunStatus::Idle,
            full_for: None,
            preview_for: None,
            last_preview_ms: None,
            slow_previews: 0,
            assets: None,
            time_s: None,
            ire_extents: None,
            sizes: None,
            lethal: None,
        }
    }
}

/// Closing the app (or opening another CT, or switching plans) must not leave a solver running
/// for a plan that is gone.
impl Drop for ModelRun {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl ModelRun {
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    pub fn progress(&self) -> Option<&Progress> {
        self.job.as_ref().map(|j| j.progress())
    }

    /// The built-in model assets, read once.
    pub fn assets(&mut self) -> Result<ModelAssets, String> {
        self.assets
            .get_or_insert_with(|| ModelAssets::builtin().map_err(|e| e.to_string()))
            .clone()
    }

    /// The full result for the plan at `plan_revision`, if the model has finished it: the only
    /// result the safety pass, the exports and the case summaries read.
    pub fn current(&self, plan_revision: u64) -> Option<&ModelResult> {
        self.result
            .as_ref()
            .filter(|_| self.result_revision == plan_revision)
    }

    /// The IRE zone shown: the drag preview, else the full result.
    pub fn ire_shown(&self) -> Option<&IreResult> {
        match &self.preview {
            Some(ModelPreview::Ire(p)) => Some(p),
            _ => self.result.as_ref().and_then(ModelResult::ire).map(|r| &**r),
        }
    }

    /// The plan revision of [`Self::ire_shown`].
    pub fn ire_shown_revision(&self) -> u64 {
        match &self.preview {
            Some(ModelPreview::Ire(_)) => self.preview_revision,
            _ => self.result_revision,
        }
    }

    /// The cryo preview shown while dragging.
    pub fn cryo_preview(&self) -> Option<&Arc<CryoPreview>> {
        match &self.preview {
            Some(ModelPreview::Cryo(p)) => Some(p),
            _ => None,
        }
    }

    /// The full cryo result.
    pub fn cryo_result(&self) -> Option<&Arc<CryoResult>> {
        self.result.as_ref().and_then(ModelResult::cryo)
    }

    /// The cryo result the slider, the views and the sensor curves show: the running job's
    /// partial result when it has one, else the last full result.
    pub fn cryo_shown(&self) -> Option<&Arc<CryoResult>> {
        self.partial
            .as_ref()
            .filter(|p| p.snapshot_count() > 0)
            .or_else(|| self.cryo_result())
    }

    /// (computed s, total s) of the partial result being shown.
    pub fn computing_progress_s(&self) -> Option<(f64, f64)> {
        let p = self.partial.as_ref().filter(|p| p.snapshot_count() > 0)?;
        Some((
            p.snapshot_times_s.last().copied().unwrap_or(0.0),
            p.protocol.total_s(),
        ))
    }

    /// Whether a streamed partial result is what the cryo views show.
    pub fn showing_partial(&self) -> bool {
        self.partial.as_ref().is_some_and(|p| p.snapshot_count() > 0)
    }

    /// The plan revision the running job computes (while it streams).
    pub fn running_for(&self) -> Option<u64> {
        self.full_for
    }

    /// Key of what is shown (overlay and size caches).
    pub fn shown_id(&self) -> u64 {
        self.result_id ^ self.partial_gen.rotate_left(40)
    }

    /// Cancels and forgets the running job, if any (and what it streamed).
    pub fn cancel(&mut self) -> bool {
        self.drop_partial();
        match self.job.take() {
            Some(j) => {
                j.cancel();
                true
            }
            None => false,
        }
    }

    /// Cancels the running job and says so.
    pub fn cancel_by_user(&mut self) {
        if self.cancel() {
            self.status = RunStatus::Cancelled;
        }
    }

    /// Asks for the full model again (after a cancel, or an error the user fixed elsewhere).
    pub fn rerun(&mut self) {
        self.full_for = None;
    }

    fn drop_partial(&mut self) {
        self.stream = None;
        if self.partial.take().is_some() {
            self.partial_gen += 1;
        }
    }

    /// Takes what the running job has streamed: the frame, then the snapshots as they come. The
    /// partial result replaces the preview once it has a snapshot after the start.
    fn drain_stream(&mut self) {
        let Some(rx) = &self.stream else { return };
        let mut changed = false;
        while let Ok(msg) = rx.try_recv() {
            match msg {
                StreamMsg::Started(frame) => self.partial = Some(Arc::from(frame)),
                StreamMsg::Snapshot(t, values) => {
                    if let Some(p) = self.partial.as_mut() {
                        Arc::make_mut(p).push_snapshot(t, values);
                    }
                }
            }
            changed = true;
        }
        if changed {
            self.partial_gen += 1;
            if self.partial.as_ref().is_some_and(|p| p.snapshot_count() > 1) && self.preview.take().is_some()
            {
                self.result_id += 1;
            }
        }
    }

    /// Nothing to compute: clears what is shown, with the reason in the status (`None` = idle).
    pub fn clear(&mut self, why: Option<String>) {
        self.cancel();
        if self.result.take().is_some() || self.preview.take().is_some() {
            self.result_id += 1;
        }
        self.status = why.map_or(RunStatus::Idle, RunStatus::Error);
    }

    /// The model cannot run or failed: nothing is shown, the message says why.
    pub fn fail(&mut self, message: String) {
        self.clear(Some(message));
    }

    /// Shows a full result computed for `revision`.
    pub fn show(&mut self, r: ModelResult, revision: u64) {
        self.drop_partial();
        self.result = Some(r);
        self.preview = None;
        self.result_revision = revision;
        self.result_id += 1;
        self.status = RunStatus::Done;
    }

    /// Shows a preview made for `revision`.
    pub fn show_preview(&mut self, p: ModelPreview, revision: u64) {
        self.preview = Some(p);
        self.preview_revision = revision;
        self.result_id += 1;
        self.status = RunStatus::Preview;
    }

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

    /// Decides what a finished job's outcome means for the display (pure: tested without
    /// threads).
    pub fn finish(
        &mut self,
        job_revision: u64,
        plan_revision: u64,
        outcome: Result<Result<ModelResult, ModelError>, JobError>,
    ) -> Finished {
        if job_revision != plan_revision {
            return Finished::Stale;
        }
        match outcome {
            // A solve that did not converge is a failure, never a zone (issue 15).
            Ok(Ok(r)) => match r.failure() {
                Some(m) => {
                    self.fail(m.clone());
                    Finished::Failed(m)
                }
                None => {
                    self.show(r, job_revision);
                    Finished::Accepted
                }
            },
            Ok(Err(e)) if e.is_cancelled() => {
                self.drop_partial();
                self.status = RunStatus::Cancelled;
                Finished::Cancelled
            }
            Ok(Err(e)) => {
                let m = e.to_string();
                self.fail(m.clone());
                Finished::Failed(m)
            }
            Err(e) => {
                let m = e.to_string();
                self.fail(m.clone());
                Finished::Failed(m)
            }
        }
    }

    /// Polls the job; `Some` once it finished.
    fn poll(&mut self, plan_revision: u64) -> Option<Finished> {
        self.drain_stream();
        let job = self.job.as_mut()?;
        let outcome = job.poll()?;
        let revision = job.revision();
        self.job = None;
        let f = self.finish(revision, plan_revision, outcome);
        if f == Finished::Stale {
            // Computed for an older plan: the schedule starts the current one.
            self.full_for = None;
        }
        Some(f)
    }

    // ----- measurements of what is shown, cached -----

    /// Extents (mm) of the shown IRE zone along `axes`, measured once per result and plan
    /// revision: measuring visits every node of the grid, too much to repeat every frame.
    pub fn ire_extents(
        &mut self,
        plan_revision: u64,
        axes: Option<[nalgebra::Vector3<f64>; 3]>,
    ) -> Option<[f64; 3]> {
        let key = (self.result_id, plan_revision);
        if let Some((k, e)) = self.ire_extents
            && k == key
        {
            return e;
        }
        let e = self.ire_shown().zip(axes).map(|(r, a)| r.zone_extents_mm(a));
        self.ire_extents = Some((key, e));
        e
    }

    /// The slider's time (s) for the shown cryo result.
    pub fn shown_time_s(&self) -> Option<f64> {
        let r = self.cryo_shown()?;
        let last = r.snapshot_times_s.last().copied().unwrap_or(0.0);
        Some(match self.time_s {
            Some(t) => t.clamp(0.0, last),
            None => r.protocol.end_of_last_freeze_s().unwrap_or(last).min(last),
        })
    }

    /// The snapshot the slider shows.
    pub fn shown_snapshot(&self) -> Option<usize> {
        let r = self.cryo_shown()?;
        Some(r.snapshot_at(self.shown_time_s()?))
    }

    /// The lethal zone up to the shown snapshot as a 0 / 100 node field (for trilinear
    /// sampling), cached per result and snapshot: it visits every node of every earlier snapshot.
    pub fn lethal_field(&mut self) -> Option<Arc<Vec<i16>>> {
        let s = self.shown_snapshot()?;
        let key = (self.shown_id(), s);
        if let Some((k, f)) = &self.lethal
            && *k == key
        {
            return Some(f.clone());
        }
        let r = self.cryo_shown()?;
        let f: Arc<Vec<i16>> = Arc::new(
            r.lethal_mask(s)
                .into_iter()
                .map(|b| if b { 100 } else { 0 })
                .collect(),
        );
        self.lethal = Some((key, f.clone()));
        Some(f)
    }

    /// Volume and extents of each isotherm and of the lethal zone at the shown time, cached per
    /// result, snapshot and isotherm list.
    pub fn sizes(&mut self, probes: &[Probe], isotherms_c: &[f64]) -> Option<SizeTable> {
        use std::hash::{Hash, Hasher};
        let s = self.shown_snapshot()?;
        let axes = iceball_axes(probes)?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.shown_id(), s).hash(&mut h);
        for t in isotherms_c {
            t.to_bits().hash(&mut h);
        }
        let key = h.finish();
        if let Some((k, v)) = &self.sizes
            && *k == key
        {
            return Some(v.clone());
        }
        let r = self.cryo_shown()?;
        // Before the first freeze step nothing has frozen: the nodes inside the probes are cold
        // from the start and would read as a small iceball (0.1 mL, 2 cm long), so t = 0 is empty.
        let started = r.snapshot_times_s.get(s).is_some_and(|t| *t > 0.0);
        let size = |temperature_c: f64, mask: &dyn Fn() -> Vec<bool>| {
            if started {
                let m = mask();
                IsothermSize {
                    temperature_c,
                    volume_ml: r.volume_ml(&m),
                    extents_mm: r.extents_mm(&m, axes),
                }
            } else {
                IsothermSize {
                    temperature_c,
                    volume_ml: 0.0,
                    extents_mm: [0.0; 3],
                }
            }
        };
        let mut out: Vec<(String, IsothermSize)> = isotherms_c
            .iter()
            .map(|&t| (format!("{t:.0} °C"), size(t, &|| r.isotherm_mask(s, t))))
            .collect();
        out.push((
            format!("lethal (reached at or below {:.0} °C)", r.lethal_isotherm_c),
            size(r.lethal_isotherm_c, &|| r.lethal_mask(s)),
        ));
        let v = Arc::new(out);
        self.sizes = Some((key, v.clone()));
        Some(v)
    }
}

// ----- the schedule -----

impl AblaApp {
    /// Why the model cannot run for the current plan, if it cannot: `Ok(None)` = it can,
    /// `Ok(Some(msg))` = nothing to compute yet (shown as a hint, not an error), `Err(msg)` = the
    /// plan or the app is in a state the model refuses.
    fn model_blocker(&self) -> Result<Option<String>, String> {
        if self.volume().is_none() {
            return Ok(Some("Open a CT to compute the zone".into()));
        }
        let modality = self.plan.modality();
        if let Some(cat) = self.catalog()
            && let Some(p) = self
                .plan
                .probes
                .iter()
                .find(|p| cat.get(&p.model_id).is_some_and(|m| m.modality != modality))
        {
            // A plan from elsewhere that mixes modalities: never pulse a cryoprobe, never freeze
            // with an electrode.
            return Err(format!(
                "Probe {} is {} in a plan of {}: delete it or move it to a plan of its own (Plans > New \
                 plan) to compute the zone",
                p.label,
                super::modality_phrase(match modality {
                    Modality::Ire => Modality::Cryo,
                    Modality::Cryo => Modality::Ire,
                }),
                super::modality_name(modality)
            ));
        }
        match (modality, self.plan.ire()) {
            (Modality::Ire, Some(ire)) => {
                if let Err(e) = &self.tissue {
                    return Err(format!("IRE tissue parameters could not be read: {e}"));
                }
                // An empty plan is waiting for its first electrode (the panel says what to do); one
                // electrode is a plan the model refuses, and says why.
                if self.plan.probes.is_empty() {
                    return Ok(Some("Place two or more electrodes to compute the zone".into()));
                }
                if self.plan.probes.len() < 2 {
                    return Err(IreError::NoPairs.to_string());
                }
                if ire.settings.pairs.is_empty() {
                    return Err(format!(
                        "IRE model: no pair to pulse — tick a pair in the pairs table (pairs more than {:.0} mm \
                         apart are off by default)",
                        ire.settings.max_pair_spacing_mm
                    ));
                }
            }
            _ => {
                if self.plan.probes.is_empty() {
                    return Ok(Some("Place a cryoprobe to compute the iceball".into()));
                }
                let s = self.plan.cryo_settings();
                if let Err((f, m)) = s.check(self.plan.probes.len()) {
                    return Err(format!("Cryo settings: {f}: {m}"));
                }
            }
        }
        Ok(None)
    }

    /// Runs what the plan needs: the preview on this thread while dragging (within the frame
    /// budget), the full model as a job once the plan stops changing.
    pub(super) fn update_model(&mut self) {
        let revision = self.plan.revision();
        let dragging = self.plan.dragging();
        let due = if dragging {
            self.run.preview_for != Some(revision)
        } else {
            self.run.full_for != Some(revision)
        };
        if !due {
            return;
        }
        if dragging {
            self.run.preview_for = Some(revision);
            // A running job computes a plan that no longer exists.
            self.run.cancel();
            self.run.full_for = None;
        } else {
            self.run.slow_previews = 0;
            self.run.full_for = Some(revision);
        }
        match self.model_blocker() {
            Ok(None) => {}
            Ok(Some(_)) => {
                self.run.clear(None);
                return;
            }
            Err(msg) => {
                self.run.fail(msg);
                return;
            }
        }
        let Some(vol) = self.volume().cloned() else { return };
        let phantom = self.loaded.as_ref().and_then(|l| l.phantom.clone());
        let assets = match self.run.assets() {
            Ok(a) => a,
            Err(e) => {
                self.run.fail(format!("Model assets could not be read: {e}"));
                return;
            }
        };
        let settings = self.plan.model_settings();
        if dragging {
            if !self.run.preview_allowed() {
                self.run.status = RunStatus::Computing;
                return;
            }
            let started = std::time::Instant::now();
            let tissue = scene_tissue(&vol, phantom.as_ref(), &self.structures.items);
            let p = model::preview(&self.plan.probes, &settings, tissue, &assets);
            // Too slow for this machine or plan, repeatedly: no more previews in this drag.
            self.run.record_preview_ms(started.elapsed().as_secs_f64() * 1e3);
            match p {
                Ok(p) => self.run.show_preview(p, revision),
                Err(e) => self.run.fail(e.to_string()),
            }
            return;
        }
        let probes = self.plan.probes.clone();
        let structures = self.structures.items.clone();
        let (tx, rx) = mpsc::channel();
        let gate = self.run.gate.clone();
        let name = match settings.modality() {
            Modality::Ire => "ire",
            Modality::Cryo => "cryo",
        };
        let spawned = Job::spawn(name, revision, self.progress(), move |ctx| {
            let tissue = scene_tissue(&vol, phantom.as_ref(), &structures);
            // Every snapshot goes to the UI as soon as it exists (the slider scrubs them while
            // the rest is computed); the UI may have dropped the receiver: ignore send errors.
            model::compute(&probes, &settings, tissue, &assets, ctx, &mut |e| match e {
                CryoStream::Started(frame) => {
                    let _ = tx.send(StreamMsg::Started(Box::new(frame.clone())));
                }
                CryoStream::Snapshot {
                    index,
                    time_s,
                    values,
                    ..
                } => {
                    let _ = tx.send(StreamMsg::Snapshot(time_s, values.to_vec()));
                    // Wake the UI (the progress waker repaints).
                    ctx.progress.set(ctx.progress.fraction());
                    if let Some(g) = &gate {
                        g.pass(index, &ctx.cancel);
                    }
                }
            })
        });
        match spawned {
            Ok(j) => {
                self.run.cancel();
                self.run.job = Some(j);
                self.run.stream = Some(rx);
                self.run.status = RunStatus::Computing;
            }
            Err(e) => self.run.fail(format!("Cannot start the model: {e}")),
        }
    }

    pub(super) fn poll_model(&mut self) {
        if let Some(Finished::Failed(m)) = self.run.poll(self.plan.revision()) {
            log::warn!("{m}");
        }
    }
}

/// The tissue the models read: a phantom case's block itself (its volume is only a display), or
/// the CT with its structures.
pub(super) fn scene_tissue<'a>(
    volume: &'a crate::volume::Volume,
    phantom: Option<&'a super::PhantomScene>,
    structures: &'a [crate::anatomy::Structure],
) -> Tissue<'a> {
    match phantom {
        Some(p) => Tissue::Phantom {
            class_id: &p.tissue,
            centre_lps: crate::geometry::PatientPos::from(p.centre_lps),
            size_mm: p.size_mm,
            temperature_c: p.temperature_c,
            regions: &p.regions,
        },
        None => Tissue::Ct { volume, structures },
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
            heating: None,
        }
    }

    fn volume(run: &ModelRun) -> Option<f64> {
        run.ire_shown().map(|r| r.zone_volume_ml)
    }

    #[test]
    fn results_of_older_revisions_are_dropped() {
        let mut run = ModelRun::default();
        run.show(ModelResult::Ire(Arc::new(result(1.0, false))), 3);
        let id = run.result_id;
        // A job started for revision 3 finishes after the plan moved on to 5.
        let late = Ok(Ok(ModelResult::Ire(Arc::new(result(9.0, false)))));
        assert_eq!(run.finish(3, 5, late), Finished::Stale);
        assert_eq!(volume(&run), Some(1.0));
        assert_eq!(run.result_id, id, "nothing new to draw");
        assert!(run.current(5).is_none(), "an outdated result is never judged");
        // The job for the current revision is shown.
        let now = Ok(Ok(ModelResult::Ire(Arc::new(result(2.0, false)))));
        assert_eq!(run.finish(5, 5, now), Finished::Accepted);
        assert_eq!(volume(&run), Some(2.0));
        assert_eq!(run.status, RunStatus::Done);
        assert!(run.current(5).is_some());
        assert!(run.result_id > id);
    }

    #[test]
    fn a_preview_is_shown_but_never_current() {
        let mut run = ModelRun::default();
        run.show_preview(ModelPreview::Ire(Arc::new(result(4.0, true))), 7);
        assert_eq!(run.status, RunStatus::Preview);
        assert_eq!(volume(&run), Some(4.0), "the drag shows the preview");
        assert!(
            run.current(7).is_none(),
            "safety and exports wait for the full model"
        );
        run.show(ModelResult::Ire(Arc::new(result(5.0, false))), 7);
        assert!(run.preview.is_none(), "the full result replaces the preview");
        assert_eq!(volume(&run), Some(5.0));
    }

    #[test]
    fn previews_stop_after_repeated_overruns_until_the_next_drag() {
        let mut run = ModelRun::default();
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
        let mut run = ModelRun::default();
        run.show(ModelResult::Ire(Arc::new(result(1.0, false))), 1);
        let f = run.finish(1, 1, Ok(Err(ModelError::Ire(IreError::NoPairs))));
        assert!(
            matches!(&f, Finished::Failed(m) if m.contains("two electrodes")),
            "{f:?}"
        );
        assert!(run.result.is_none());
        assert!(matches!(run.status, RunStatus::Error(_)));
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
        let cancelled = Ok(Err(ModelError::Cryo(
            crate::physics::cryo::model::CryoError::Cancelled,
        )));
        assert_eq!(run.finish(1, 1, cancelled), Finished::Cancelled);
        assert_eq!(run.status, RunStatus::Cancelled);
    }

    #[test]
    fn a_solve_that_did_not_converge_is_a_failure_not_a_zone() {
        let mut run = ModelRun::default();
        run.show(ModelResult::Ire(Arc::new(result(1.0, false))), 1);
        let mut r = result(3.0, false);
        r.pairs.push(crate::physics::ire::model::PairResult {
            a: 0,
            b: 1,
            voltage_v: 2250.0,
            spacing_mm: 15.0,
            current_a: 1.4e19,
            over_limit: true,
            linear_iterations: 500,
            nonlinear_iterations: 12,
            converged: false,
        });
        let f = run.finish(2, 2, Ok(Ok(ModelResult::Ire(Arc::new(r)))));
        assert!(
            matches!(&f, Finished::Failed(m) if m.contains("did not converge") && m.contains("1–2")),
            "{f:?}"
        );
        assert!(
            run.result.is_none(),
            "no zone of the failed solve, nor the previous one"
        );
        assert!(matches!(&run.status, RunStatus::Error(m) if m.contains("not reliable")));
        assert!(run.current(2).is_none(), "safety sees no zone");
    }
}
