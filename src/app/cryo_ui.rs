//! The cryo plan UI (issue 5): the probe model chooser shared with IRE placement, the cryo
//! settings sections of the plan panel (protocol timeline, lethal / user isotherm, grid, model
//! status with Cancel, time slider, iceball dimensions, sensor temperature plot), the cryo model
//! run (instant preview on the UI thread while dragging, the full model as a background job keyed
//! by the plan revision, stale results dropped) and the isotherm overlays of the slice views.
//!
//! A plan is a cryo plan when every probe is a cryoprobe of the catalog (or, with no probe yet,
//! when the probe tool places a cryoprobe); the IRE sections hide then.

use std::sync::{Arc, Condvar, Mutex, mpsc};

use eframe::egui::{self, Align2, Color32, Pos2, Rect, RichText, Stroke};

use super::AblaApp;
use super::command::Command;
use super::ire_run::{Finished, PREVIEW_BUDGET_MS, SLOW_PREVIEWS_TOLERATED};
use super::views::shadow_text;
use crate::geometry::{PatientPos, VolumeGeometry};
use crate::jobs::{CancelToken, Job, JobError, Progress};
use crate::physics::cryo::model::{
    CryoAssets, CryoError, CryoResult, CryoSettings, CryoStream, IsothermSize, compute_cryo_streaming,
    iceball_axes, trilinear_i16,
};
use crate::physics::cryo::preview::{CryoPreview, preview_cryo, warm_preview};
use crate::physics::cryo::tissue::CryoTissueSource;
use crate::plan::catalog::Modality;
use crate::plan::protocol::{CryoProtocol, Phase, PhaseKind, ProbeDuty};
use crate::render::isolines::{IsoSegment, marching_squares, mask_outline};
use crate::render::reslice::sample_lattice_with;
use crate::volume::SliceMapping;

/// Grid spacings offered (issue 5: 1 mm default, 0.5–2 mm adjustable).
pub const CRYO_SPACINGS_MM: [f64; 4] = [0.5, 1.0, 1.5, 2.0];
/// Array spacing of cryo templates (mm): the cryo study's 15 mm between seeds (REFERENCE.md §1).
pub const CRYO_ARRAY_SPACING_MM: f64 = 15.0;
/// Temperature used outside the model grid when sampling a view (°C): warm, so no isotherm
/// crosses there.
const OUTSIDE_C: f32 = 37.0;
const LETHAL_RGB: [u8; 3] = [40, 90, 255];
const LETHAL_ALPHA: f32 = 0.32;
const WARN: Color32 = Color32::from_rgb(240, 90, 80);
const CAUTION: Color32 = Color32::from_rgb(240, 180, 60);
const GOOD: Color32 = Color32::from_rgb(110, 200, 110);

/// Colour of a drawn isotherm (by temperature: 0 °C white-blue, −20 cyan, −40 blue, others
/// magenta).
pub fn isotherm_colour(t_c: f64) -> Color32 {
    match t_c {
        t if (t - 0.0).abs() < 1e-9 => Color32::from_rgb(210, 235, 255),
        t if (t + 20.0).abs() < 1e-9 => Color32::from_rgb(60, 220, 230),
        t if (t + 40.0).abs() < 1e-9 => Color32::from_rgb(80, 120, 255),
        _ => Color32::from_rgb(240, 90, 200),
    }
}

/// Iceball sizes at the shown time: (row name, size).
pub type SizeTable = Arc<Vec<(String, IsothermSize)>>;
/// (result id, snapshot) of a cached lethal field.
type LethalKey = (u64, usize);

/// What the cryo panel says about the model.
#[derive(Clone, Debug, PartialEq)]
pub enum CryoStatus {
    Idle,
    Computing,
    Done,
    Preview,
    Error(String),
    Cancelled,
}

/// What the cryo job streams to the UI while it runs (owned copies of [`CryoStream`]).
enum StreamMsg {
    Started(Box<CryoResult>),
    Snapshot(f64, Vec<i16>),
}

/// A test hook: the cryo job waits after streaming snapshot `after` (0 = the start) until
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

/// The cryo model run state (mirrors `ire_run::IreRun`).
pub struct CryoRun {
    job: Option<Job<Result<CryoResult, CryoError>>>,
    /// The full result of a finished job (what case summaries, exports and safety read).
    pub result: Option<Arc<CryoResult>>,
    /// The snapshots the running job has produced so far (drawn and scrubbed while it runs;
    /// never read as a finished result).
    pub partial: Option<Arc<CryoResult>>,
    stream: Option<mpsc::Receiver<StreamMsg>>,
    /// Bumped for every change of `partial` (with `result_id`: the overlay cache key).
    partial_gen: u64,
    /// Test hook handed to the next job (see [`SnapshotGate`]).
    pub gate: Option<SnapshotGate>,
    pub result_revision: u64,
    /// The preview shown while dragging (dropped when a full result arrives).
    pub preview: Option<Arc<CryoPreview>>,
    /// Bumped for every new result or preview (overlay cache key).
    pub result_id: u64,
    pub status: CryoStatus,
    /// Plan revision the full model was last started for / the preview last made for.
    full_for: Option<u64>,
    preview_for: Option<u64>,
    /// The time slider (s); `None` = the end of the last freeze of each new result.
    pub time_s: Option<f64>,
    pub last_preview_ms: Option<f64>,
    slow_previews: u32,
    assets: Option<Result<Arc<CryoAssets>, String>>,
    sizes: Option<(u64, SizeTable)>,
    lethal: Option<(LethalKey, Arc<Vec<i16>>)>,
}

impl Default for CryoRun {
    fn default() -> Self {
        Self {
            job: None,
            result: None,
            partial: None,
            stream: None,
            partial_gen: 0,
            gate: None,
            result_revision: 0,
            preview: None,
            result_id: 0,
            status: CryoStatus::Idle,
            full_for: None,
            preview_for: None,
            time_s: None,
            last_preview_ms: None,
            slow_previews: 0,
            assets: None,
            sizes: None,
            lethal: None,
        }
    }
}

impl Drop for CryoRun {
    fn drop(&mut self) {
        self.cancel();
    }
}

impl CryoRun {
    pub fn running(&self) -> bool {
        self.job.is_some()
    }

    pub fn progress(&self) -> Option<&Progress> {
        self.job.as_ref().map(|j| j.progress())
    }

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

    /// The built-in cryo assets, read once.
    fn assets(&mut self) -> Result<Arc<CryoAssets>, String> {
        self.assets
            .get_or_insert_with(|| CryoAssets::builtin().map(Arc::new).map_err(|e| e.to_string()))
            .clone()
    }

    /// Forgets the running job's stream and partial result.
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

    /// The result the slider, the views and the sensor curves show: the running job's partial
    /// result when it has one, else the last full result.
    pub fn shown(&self) -> Option<&Arc<CryoResult>> {
        self.partial
            .as_ref()
            .filter(|p| p.snapshot_count() > 0)
            .or(self.result.as_ref())
    }

    /// (computed s, total s) of the partial result being shown.
    pub fn computing_progress_s(&self) -> Option<(f64, f64)> {
        let p = self.partial.as_ref().filter(|p| p.snapshot_count() > 0)?;
        Some((
            p.snapshot_times_s.last().copied().unwrap_or(0.0),
            p.protocol.total_s(),
        ))
    }

    /// Key of what is shown (overlay and size caches).
    fn shown_id(&self) -> u64 {
        self.result_id ^ self.partial_gen.rotate_left(40)
    }

    fn show(&mut self, r: CryoResult, revision: u64) {
        self.drop_partial();
        self.result = Some(Arc::new(r));
        self.preview = None;
        self.result_revision = revision;
        self.result_id += 1;
        self.status = CryoStatus::Done;
    }

    fn fail(&mut self, msg: String) {
        self.cancel();
        self.drop_partial();
        if self.result.take().is_some() || self.preview.take().is_some() {
            self.result_id += 1;
        }
        self.status = CryoStatus::Error(msg);
    }

    /// Decides what a finished job's outcome means (pure: tested without threads).
    pub fn finish(
        &mut self,
        job_revision: u64,
        plan_revision: u64,
        outcome: Result<Result<CryoResult, CryoError>, JobError>,
    ) -> Finished {
        if job_revision != plan_revision {
            return Finished::Stale;
        }
        match outcome {
            Ok(Ok(r)) => {
                self.show(r, job_revision);
                Finished::Accepted
            }
            Ok(Err(CryoError::Cancelled)) => {
                self.drop_partial();
                self.status = CryoStatus::Cancelled;
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

    /// The slider's time (s) for the shown result.
    pub fn shown_time_s(&self) -> Option<f64> {
        let r = self.shown()?;
        let last = r.snapshot_times_s.last().copied().unwrap_or(0.0);
        Some(match self.time_s {
            Some(t) => t.clamp(0.0, last),
            None => r.protocol.end_of_last_freeze_s().unwrap_or(last).min(last),
        })
    }

    /// The snapshot the slider shows.
    pub fn shown_snapshot(&self) -> Option<usize> {
        let r = self.shown()?;
        Some(r.snapshot_at(self.shown_time_s()?))
    }

    /// The lethal zone up to the shown snapshot as a 0 / 100 node field (for trilinear sampling),
    /// cached per result and snapshot: it visits every node of every earlier snapshot.
    fn lethal_field(&mut self) -> Option<Arc<Vec<i16>>> {
        let r = self.shown()?.clone();
        let s = self.shown_snapshot()?;
        let key = (self.shown_id(), s);
        if let Some((k, f)) = &self.lethal
            && *k == key
        {
            return Some(f.clone());
        }
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
    pub fn sizes(&mut self, probes: &[crate::plan::probe::Probe], isotherms_c: &[f64]) -> Option<SizeTable> {
        use std::hash::{Hash, Hasher};
        let r = self.shown()?.clone();
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
        let mut out: Vec<(String, IsothermSize)> = isotherms_c
            .iter()
            .map(|&t| (format!("{t:.0} °C"), r.isotherm_size(s, t, axes)))
            .collect();
        let lethal = r.lethal_mask(s);
        out.push((
            format!("lethal (reached ≤ {:.0} °C)", r.lethal_isotherm_c),
            IsothermSize {
                temperature_c: r.lethal_isotherm_c,
                volume_ml: r.volume_ml(&lethal),
                extents_mm: r.extents_mm(&lethal, axes),
            },
        ));
        let v = Arc::new(out);
        self.sizes = Some((key, v.clone()));
        Some(v)
    }

    /// What the slice views draw now.
    pub fn view(&mut self, settings: &CryoSettings, plan_revision: u64) -> Option<CryoView> {
        let isotherms_c = drawn_isotherms(settings);
        if let Some(p) = &self.preview {
            return Some(CryoView {
                result: None,
                preview: Some(p.clone()),
                snapshot: 0,
                lethal: None,
                isotherms_c,
                lethal_c: settings.lethal_isotherm_c,
                id: self.result_id,
                outdated: false,
                time_s: 0.0,
            });
        }
        let lethal = self.lethal_field();
        let partial = self.partial.as_ref().is_some_and(|p| p.snapshot_count() > 0);
        let r = self.shown()?.clone();
        let revision = if partial {
            self.full_for
        } else {
            Some(self.result_revision)
        };
        Some(CryoView {
            snapshot: self.shown_snapshot()?,
            time_s: self.shown_time_s()?,
            lethal,
            isotherms_c,
            lethal_c: r.lethal_isotherm_c,
            result: Some(r),
            preview: None,
            id: self.shown_id(),
            outdated: revision != Some(plan_revision),
        })
    }
}

/// The isotherm outlines drawn: 0, −20, −40 °C and the user's.
pub fn drawn_isotherms(s: &CryoSettings) -> Vec<f64> {
    let mut v = vec![0.0, -20.0, -40.0];
    if let Some(t) = s.user_isotherm_c
        && !v.iter().any(|x| (x - t).abs() < 1e-9)
    {
        v.push(t);
    }
    v
}

/// What the slice views draw: a full result at a snapshot or the preview.
pub struct CryoView {
    pub result: Option<Arc<CryoResult>>,
    pub preview: Option<Arc<CryoPreview>>,
    pub snapshot: usize,
    /// Lethal zone up to `snapshot` as a 0 / 100 node field.
    pub lethal: Option<Arc<Vec<i16>>>,
    pub isotherms_c: Vec<f64>,
    pub lethal_c: f64,
    pub id: u64,
    pub outdated: bool,
    pub time_s: f64,
}

impl CryoView {
    /// The legend lines (text, colour), the first saying what is shown.
    pub fn legend(&self) -> Vec<(String, Color32)> {
        let title = if self.preview.is_some() {
            "Cryo preview (catalog ellipsoids)".to_string()
        } else if self.outdated {
            format!("Iceball at {:.1} min (outdated)", self.time_s / 60.0)
        } else {
            format!("Iceball at {:.1} min", self.time_s / 60.0)
        };
        let mut v = vec![(title, Color32::WHITE)];
        for t in &self.isotherms_c {
            v.push((format!("— {t:.0} °C isotherm"), isotherm_colour(*t)));
        }
        v.push((
            format!("lethal zone (filled) ≤ {:.0} °C", self.lethal_c),
            Color32::from_rgb(LETHAL_RGB[0], LETHAL_RGB[1], LETHAL_RGB[2]),
        ));
        v
    }
}

/// The sampled cryo overlay of one view, valid for `key`.
pub struct CryoLayer {
    key: u64,
    texture: Option<egui::TextureHandle>,
    px: [f64; 4],
    lines: Vec<(f64, Vec<IsoSegment>)>,
}

#[allow(clippy::too_many_arguments)]
fn build_layer(
    ctx: &egui::Context,
    old: Option<CryoLayer>,
    key: u64,
    v: &CryoView,
    g: &VolumeGeometry,
    m: &SliceMapping,
    slice: usize,
    name: &str,
) -> CryoLayer {
    let empty = CryoLayer {
        key,
        texture: None,
        px: [0.0; 4],
        lines: Vec::new(),
    };
    let grid = match (&v.result, &v.preview) {
        (Some(r), _) => &r.grid,
        (None, Some(p)) => &p.grid,
        (None, None) => return empty,
    };
    let Some([u0, v0, u1, v1]) = super::plan_draw::covered_pixels(grid, g, m, slice) else {
        return empty;
    };
    let (w, h) = (u1 - u0, v1 - v0);
    let lps = |u: f64, vv: f64| g.to_patient(&m.voxel_of_pixel(u, vv, slice as f64));
    let origin = lps(u0 as f64 + 0.5, v0 as f64 + 0.5);
    let du = lps(u0 as f64 + 1.5, v0 as f64 + 0.5) - origin;
    let dv = lps(u0 as f64 + 0.5, v0 as f64 + 1.5) - origin;
    let to_image = |segs: Vec<IsoSegment>| -> Vec<IsoSegment> {
        segs.into_iter()
            .map(|s| s.map(|p| [p[0] + u0 as f32 + 0.5, p[1] + v0 as f32 + 0.5]))
            .collect()
    };
    let (lines, fill): (Vec<(f64, Vec<IsoSegment>)>, Vec<bool>) = match (&v.result, &v.preview) {
        (Some(r), _) => {
            let temps = sample_lattice_with(&origin, &du, &dv, [w, h], |p| {
                r.temperature_at(v.snapshot, &p).unwrap_or(OUTSIDE_C)
            });
            let lines = v
                .isotherms_c
                .iter()
                .map(|t| (*t, to_image(marching_squares(&temps, w, h, *t as f32))))
                .collect();
            let fill = match &v.lethal {
                Some(f) => sample_lattice_with(&origin, &du, &dv, [w, h], |p| {
                    trilinear_i16(&r.grid, f, &p).is_some_and(|x| x >= 50.0)
                }),
                None => vec![false; w * h],
            };
            (lines, fill)
        }
        (None, Some(pv)) => {
            let index = |t: f64| pv.isotherms_c.iter().position(|x| (x - t).abs() < 1e-9);
            let lines = v
                .isotherms_c
                .iter()
                .filter_map(|t| {
                    let i = index(*t)?;
                    let mask = sample_lattice_with(&origin, &du, &dv, [w, h], |p| pv.contains(i, &p));
                    Some((*t, to_image(mask_outline(&mask, w, h))))
                })
                .collect();
            let fill = match index(v.lethal_c) {
                Some(i) => sample_lattice_with(&origin, &du, &dv, [w, h], |p| pv.contains(i, &p)),
                None => vec![false; w * h],
            };
            (lines, fill)
        }
        (None, None) => return empty,
    };
    let texture = fill.iter().any(|f| *f).then(|| {
        let alpha = if v.outdated {
            LETHAL_ALPHA * 0.5
        } else {
            LETHAL_ALPHA
        };
        let premul = LETHAL_RGB.map(|c| (f32::from(c) * alpha).round() as u8);
        let a = (alpha * 255.0).round() as u8;
        let mut rgba = vec![0u8; w * h * 4];
        for (px, f) in rgba.chunks_exact_mut(4).zip(&fill) {
            if *f {
                px.copy_from_slice(&[premul[0], premul[1], premul[2], a]);
            }
        }
        let img = egui::ColorImage::from_rgba_premultiplied([w, h], &rgba);
        match old.and_then(|o| o.texture) {
            Some(mut t) => {
                t.set(img, egui::TextureOptions::LINEAR);
                t
            }
            None => ctx.load_texture(format!("cryo-lethal-{name}"), img, egui::TextureOptions::LINEAR),
        }
    });
    CryoLayer {
        key,
        texture,
        px: [u0 as f64, v0 as f64, u1 as f64, v1 as f64],
        lines,
    }
}

fn to_pos(p: [f64; 2]) -> Pos2 {
    Pos2::new(p[0] as f32, p[1] as f32)
}

/// Draws the cryo overlay of one view (cached per result, time, slice and volume generation).
/// Returns whether any of it is visible on this slice.
#[allow(clippy::too_many_arguments)]
pub fn draw_cryo(
    ctx: &egui::Context,
    painter: &egui::Painter,
    cache: &mut Option<CryoLayer>,
    v: &CryoView,
    generation: u64,
    g: &VolumeGeometry,
    m: &SliceMapping,
    slice: usize,
    to_screen: &dyn Fn(f64, f64) -> [f64; 2],
    name: &str,
) -> bool {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (v.id, v.snapshot, v.outdated, generation, slice, name).hash(&mut h);
    v.lethal_c.to_bits().hash(&mut h);
    for t in &v.isotherms_c {
        t.to_bits().hash(&mut h);
    }
    let key = h.finish();
    if cache.as_ref().is_none_or(|c| c.key != key) {
        let old = cache.take();
        *cache = Some(build_layer(ctx, old, key, v, g, m, slice, name));
    }
    let Some(layer) = cache.as_ref() else { return false };
    if layer.texture.is_none() && layer.lines.iter().all(|(_, s)| s.is_empty()) {
        return false;
    }
    if let Some(t) = &layer.texture {
        let [u0, v0, u1, v1] = layer.px;
        painter.image(
            t.id(),
            Rect::from_min_max(to_pos(to_screen(u0, v0)), to_pos(to_screen(u1, v1))),
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
    }
    let fade = |c: Color32| if v.outdated { c.gamma_multiply(0.5) } else { c };
    let dashed = v.preview.is_some();
    for (t, segs) in &layer.lines {
        let stroke = Stroke::new(if dashed { 1.0 } else { 1.5 }, fade(isotherm_colour(*t)));
        for (n, s) in segs.iter().enumerate() {
            // The preview is drawn dotted (every other segment) so it is never taken for the model.
            if dashed && n % 2 == 1 {
                continue;
            }
            let a = to_pos(to_screen(f64::from(s[0][0]), f64::from(s[0][1])));
            let b = to_pos(to_screen(f64::from(s[1][0]), f64::from(s[1][1])));
            painter.line_segment([a, b], stroke);
        }
    }
    true
}

/// The isotherm legend at the right edge of a view.
pub fn draw_legend(painter: &egui::Painter, rect: Rect, v: &CryoView) {
    let size = 12.0;
    let lines = v.legend();
    let x = rect.max.x - 8.0;
    // Vertically centred like the IRE legend, clear of the corner annotations.
    let y0 = rect.center().y - lines.len() as f32 * (size + 3.0) / 2.0;
    for (i, (text, col)) in lines.iter().enumerate() {
        let at = Pos2::new(x, y0 + i as f32 * (size + 3.0));
        shadow_text(painter, at, Align2::RIGHT_TOP, text, size, *col);
    }
}

// ----- the app side: modality, placement model, running the model, commands -----

impl AblaApp {
    /// The catalog id the probe tool and the array template place: the user's choice, else the
    /// catalog's first IRE electrode.
    pub fn probe_model_id(&self) -> Option<String> {
        self.probe_model.clone().or_else(|| {
            self.catalog()?
                .of_modality(Modality::Ire)
                .next()
                .map(|m| m.id.clone())
        })
    }

    /// The chosen placement model and its default active length / exposure.
    pub(super) fn placement_model(&self) -> Result<(String, f64), String> {
        let Some(id) = self.probe_model.clone() else {
            return self.default_ire_model();
        };
        let cat = self
            .catalog()
            .ok_or_else(|| "The probe catalog could not be read".to_string())?;
        let m = cat
            .get(&id)
            .ok_or_else(|| format!("\"{id}\" is not in the probe catalog (assets/probes.json)"))?;
        let mm = m
            .default_active_mm()
            .ok_or_else(|| format!("{} has no default active length in the catalog", m.name))?;
        Ok((id, mm))
    }

    /// Whether the plan is a cryo plan: every probe is a cryoprobe (with no probe: the tool
    /// places cryoprobes).
    pub fn is_cryo_plan(&self) -> bool {
        let Some(cat) = self.catalog() else { return false };
        let cryo = |id: &str| cat.get(id).is_some_and(|m| m.modality == Modality::Cryo);
        if self.plan.probes.is_empty() {
            return self.probe_model_id().is_some_and(|id| cryo(&id));
        }
        self.plan.probes.iter().all(|p| cryo(&p.model_id))
    }

    pub fn cryo_status(&self) -> &CryoStatus {
        &self.cryo.status
    }
    pub fn cryo_result(&self) -> Option<&CryoResult> {
        self.cryo.result.as_deref()
    }
    pub fn cryo_preview(&self) -> Option<&CryoPreview> {
        self.cryo.preview.as_deref()
    }
    pub fn cryo_running(&self) -> bool {
        self.cryo.running()
    }
    /// The running job's partial result (the snapshots streamed so far), if any.
    pub fn cryo_partial(&self) -> Option<&CryoResult> {
        self.cryo.partial.as_deref()
    }
    /// Test hook: the next cryo jobs hold after streaming snapshot `gate.after` (see
    /// [`SnapshotGate`]); `None` lets them run through.
    pub fn set_cryo_snapshot_gate(&mut self, gate: Option<SnapshotGate>) {
        self.cryo.gate = gate;
    }
    /// The time the slider shows (s).
    pub fn cryo_time_s(&self) -> Option<f64> {
        self.cryo.shown_time_s()
    }
    /// Iceball sizes at the slider's time: 0, −20, −40 °C (and the user's), then the lethal zone.
    pub fn cryo_sizes(&mut self) -> Option<SizeTable> {
        let iso = drawn_isotherms(&self.plan.cryo_settings());
        self.cryo.sizes(&self.plan.probes, &iso)
    }
    /// The legend the slice views draw (empty without a cryo result or preview).
    pub fn cryo_legend(&mut self) -> Vec<String> {
        let s = self.plan.cryo_settings();
        self.cryo
            .view(&s, self.plan.revision())
            .map(|v| v.legend().into_iter().map(|(t, _)| t).collect())
            .unwrap_or_default()
    }
    /// Sensor curves (name, (time s, °C)) of the shown result: the user's sensors, then a point
    /// on the target's margin when a Target structure exists.
    pub fn cryo_sensor_curves(&self) -> Vec<(String, Vec<(f64, f32)>)> {
        let Some(r) = self.cryo.shown() else {
            return Vec::new();
        };
        let mut out: Vec<(String, Vec<(f64, f32)>)> = self
            .plan
            .cryo_sensors_lps
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((format!("Sensor {}", i + 1), r.sensor_curve(p)?)))
            .collect();
        if let Some(p) = self.target_margin_point()
            && let Some(c) = r.sensor_curve(&p)
        {
            out.push(("Target margin".to_string(), c));
        }
        out
    }

    /// A point on the first Target's margin: from its centroid along the direction between the
    /// first two probes (else +L), the first voxel outside the target.
    fn target_margin_point(&self) -> Option<PatientPos> {
        let vol = self.volume()?;
        let s = self
            .structures
            .items
            .iter()
            .find(|s| s.kind == crate::anatomy::StructureKind::Target)?;
        let c = super::structures::mask_centroid(s.mask())?;
        let g = &vol.geometry;
        let centre = g.to_patient(&nalgebra::Vector3::new(c[0], c[1], c[2]));
        let dir = iceball_axes(&self.plan.probes).map_or(nalgebra::Vector3::x(), |a| a[1]);
        let step = g
            .spacing_mm
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .max(0.1);
        (1..2000).find_map(|n| {
            let p = centre + dir * (n as f64 * step);
            let v = g.nearest_voxel(&g.to_voxel(&p))?;
            (!s.mask().contains(v[0], v[1], v[2])).then_some(p)
        })
    }

    /// Cryo commands (see `Command`).
    pub(super) fn apply_cryo(&mut self, cmd: Command) {
        match cmd {
            Command::SetProbeModel(id) => {
                let was_cryo = self.model_is_cryo(self.probe_model_id().as_deref());
                let now_cryo = self.model_is_cryo(Some(&id));
                self.probe_model = Some(id);
                // Cryo arrays: the cryo study's 15 mm; the IRE default otherwise. The template's
                // exposure belongs to the previous model.
                if was_cryo != now_cryo {
                    self.array.spacing_mm = if now_cryo {
                        CRYO_ARRAY_SPACING_MM
                    } else {
                        super::plan::ArrayOptions::default().spacing_mm
                    };
                }
                self.array.exposure_mm = None;
            }
            Command::SetCryoSettings { settings, live } => {
                if live {
                    if !self.plan.dragging() {
                        self.plan.begin_drag();
                    }
                    self.plan.set_cryo_live(settings);
                } else {
                    self.plan.set_cryo(settings);
                }
            }
            Command::RunCryo => self.cryo.full_for = None,
            Command::CancelCryo if self.cryo.cancel() => self.cryo.status = CryoStatus::Cancelled,
            Command::SetCryoTime(t) if t.is_finite() => self.cryo.time_s = Some(t.max(0.0)),
            Command::AddCryoSensor(p) => {
                self.plan.edit_sensors(|v| v.push(p));
            }
            Command::AddCryoSensorAtCrosshair => {
                if let (Some(vol), Some(v)) = (self.volume(), self.viewer.as_ref()) {
                    let p = vol.geometry.to_patient(&v.crosshair);
                    self.plan.edit_sensors(|v| v.push(p));
                }
            }
            Command::RemoveCryoSensor(i) if i < self.plan.cryo_sensors_lps.len() => {
                self.plan.edit_sensors(|v| {
                    v.remove(i);
                });
            }
            _ => {}
        }
    }

    fn model_is_cryo(&self, id: Option<&str>) -> bool {
        id.and_then(|id| self.catalog()?.get(id))
            .is_some_and(|m| m.modality == Modality::Cryo)
    }

    /// Runs what the plan needs: the preview on this thread while dragging (within the frame
    /// budget), the full model as a job once the plan stops changing (a new plan revision
    /// replaces, and so cancels, the running job).
    pub(super) fn update_cryo(&mut self) {
        if !self.is_cryo_plan() || self.plan.probes.is_empty() {
            self.cryo.cancel();
            if self.cryo.result.take().is_some() || self.cryo.preview.take().is_some() {
                self.cryo.result_id += 1;
            }
            self.cryo.status = CryoStatus::Idle;
            self.cryo.full_for = None;
            self.cryo.preview_for = None;
            return;
        }
        let Some(vol) = self.volume().cloned() else { return };
        let revision = self.plan.revision();
        let assets = match self.cryo.assets() {
            Ok(a) => a,
            Err(e) => {
                if self.cryo.full_for != Some(revision) {
                    self.cryo.full_for = Some(revision);
                    self.cryo.fail(format!("Cryo assets could not be read: {e}"));
                }
                return;
            }
        };
        let settings = self.plan.cryo_settings();
        if self.plan.dragging() {
            if self.cryo.preview_for == Some(revision) {
                return;
            }
            self.cryo.preview_for = Some(revision);
            self.cryo.cancel();
            self.cryo.full_for = None;
            if self.cryo.slow_previews >= SLOW_PREVIEWS_TOLERATED {
                self.cryo.status = CryoStatus::Computing;
                return;
            }
            let started = std::time::Instant::now();
            let r = preview_cryo(
                &self.plan.probes,
                &settings,
                CryoTissueSource::Ct {
                    volume: &vol,
                    structures: &self.structures.items,
                },
                &assets,
            );
            let ms = started.elapsed().as_secs_f64() * 1e3;
            self.cryo.last_preview_ms = Some(ms);
            if ms > PREVIEW_BUDGET_MS {
                self.cryo.slow_previews += 1;
            } else {
                self.cryo.slow_previews = 0;
            }
            match r {
                Ok(p) => {
                    self.cryo.preview = Some(Arc::new(p));
                    self.cryo.result_id += 1;
                    self.cryo.status = CryoStatus::Preview;
                }
                Err(e) => self.cryo.fail(e.to_string()),
            }
            return;
        }
        self.cryo.slow_previews = 0;
        if self.cryo.full_for == Some(revision) {
            return;
        }
        self.cryo.full_for = Some(revision);
        if let Err((f, m)) = settings.check(self.plan.probes.len()) {
            self.cryo.fail(format!("Cryo settings: {f}: {m}"));
            return;
        }
        let probes = self.plan.probes.clone();
        let structures = self.structures.items.clone();
        let (tx, rx) = mpsc::channel();
        let gate = self.cryo.gate.clone();
        let spawned = Job::spawn("cryo", revision, self.progress(), move |ctx| {
            let tissue = || CryoTissueSource::Ct {
                volume: &vol,
                structures: &structures,
            };
            // The next drag's preview needs the single-probe models of these probes: run them
            // here, off the UI thread (cached by the core).
            let _ = warm_preview(&probes, &settings, tissue(), &assets);
            // Every snapshot goes to the UI as soon as it exists (the slider scrubs them while
            // the rest is computed); the UI may have dropped the receiver: ignore send errors.
            compute_cryo_streaming(&probes, &settings, tissue(), &assets, ctx, &mut |e| match e {
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
                self.cryo.cancel();
                self.cryo.job = Some(j);
                self.cryo.stream = Some(rx);
                self.cryo.status = CryoStatus::Computing;
            }
            Err(e) => self.cryo.fail(format!("Cannot start the cryo model: {e}")),
        }
    }

    pub(super) fn poll_cryo(&mut self) {
        self.cryo.drain_stream();
        let Some(job) = self.cryo.job.as_mut() else { return };
        let Some(outcome) = job.poll() else { return };
        let job_revision = job.revision();
        self.cryo.job = None;
        match self.cryo.finish(job_revision, self.plan.revision(), outcome) {
            // Computed for an older plan: `update_cryo` starts the current one.
            Finished::Stale => self.cryo.full_for = None,
            Finished::Failed(m) => log::warn!("{m}"),
            Finished::Accepted | Finished::Cancelled => {}
        }
    }
}

// ----- the plan panel -----

/// The probe model the probe tool and the array template place (IRE electrodes and cryoprobes).
pub fn probe_model_chooser(ui: &mut egui::Ui, app: &AblaApp, cmds: &mut Vec<Command>) {
    let Some(cat) = app.catalog() else { return };
    let current = app.probe_model_id();
    let name = |id: &str| cat.get(id).map_or(id.to_string(), |m| m.name.clone());
    ui.horizontal(|ui| {
        egui::ComboBox::from_label("Probe model")
            .selected_text(current.as_deref().map_or("—".to_string(), name))
            .show_ui(ui, |ui| {
                for m in &cat.probes {
                    let kind = match m.modality {
                        Modality::Ire => "IRE",
                        Modality::Cryo => "cryo",
                    };
                    let on = current.as_deref() == Some(m.id.as_str());
                    if ui.selectable_label(on, format!("{} ({kind})", m.name)).clicked() && !on {
                        cmds.push(Command::SetProbeModel(m.id.clone()));
                    }
                }
            })
            .response
            .on_hover_text("What the probe tool and \"Place array\" place");
    });
}

/// What the cryo sections show, measured (and cached) before the panel borrows the app.
pub struct PanelData {
    settings: CryoSettings,
    sizes: Option<SizeTable>,
    legend: Vec<String>,
    curves: Vec<(String, Vec<(f64, f32)>)>,
    lethal: Vec<crate::physics::cryo::tissue::LethalIsotherm>,
}

impl PanelData {
    pub fn new(app: &mut AblaApp) -> Self {
        Self {
            settings: app.plan.cryo_settings(),
            sizes: app.cryo_sizes(),
            legend: app.cryo_legend(),
            curves: app.cryo_sensor_curves(),
            lethal: app
                .cryo
                .assets()
                .map(|a| a.tissues.lethal_isotherms.clone())
                .unwrap_or_default(),
        }
    }
}

/// The cryo sections of the plan panel.
pub fn sections(ui: &mut egui::Ui, app: &AblaApp, d: &PanelData, cmds: &mut Vec<Command>) {
    egui::CollapsingHeader::new("Cryo protocol")
        .default_open(true)
        .show(ui, |ui| protocol_ui(ui, app, &d.settings, cmds));
    egui::CollapsingHeader::new("Cryo isotherms and grid")
        .default_open(true)
        .show(ui, |ui| isotherms_ui(ui, &d.lethal, &d.settings, cmds));
    egui::CollapsingHeader::new("Cryo model")
        .default_open(true)
        .show(ui, |ui| model_ui(ui, app, d.sizes.as_deref(), &d.legend, cmds));
    egui::CollapsingHeader::new("Sensor temperatures")
        .default_open(true)
        .show(ui, |ui| sensors_ui(ui, app, &d.curves, cmds));
}

fn phase_colour(k: PhaseKind) -> Color32 {
    match k {
        PhaseKind::Freeze => Color32::from_rgb(70, 130, 240),
        PhaseKind::PassiveThaw => Color32::from_rgb(120, 120, 130),
        PhaseKind::ActiveThaw => Color32::from_rgb(230, 120, 60),
    }
}

fn protocol_ui(ui: &mut egui::Ui, app: &AblaApp, s: &CryoSettings, cmds: &mut Vec<Command>) {
    let set = |cmds: &mut Vec<Command>, protocol: CryoProtocol, live: bool| {
        cmds.push(Command::SetCryoSettings {
            settings: CryoSettings {
                protocol,
                ..s.clone()
            },
            live,
        });
    };
    ui.horizontal_wrapped(|ui| {
        ui.label("Preset");
        for (name, p) in CryoProtocol::presets() {
            let on = p == s.protocol;
            if ui.selectable_label(on, name).clicked() && !on {
                set(cmds, p, false);
            }
        }
    });
    // The timeline: one bar per phase, its width proportional to the duration; the slider's
    // time is the white mark.
    let total = s.protocol.total_s().max(1.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(ui.available_width(), 22.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    let mut x = rect.min.x;
    for ph in &s.protocol.phases {
        let w = (ph.duration_s / total) as f32 * rect.width();
        let r = Rect::from_min_size(Pos2::new(x, rect.min.y), egui::vec2(w, rect.height()));
        painter.rect_filled(r.shrink(0.5), 2.0, phase_colour(ph.kind));
        if w > 28.0 {
            painter.text(
                r.center(),
                Align2::CENTER_CENTER,
                format!("{:.0}", ph.duration_s / 60.0),
                egui::FontId::proportional(11.0),
                Color32::WHITE,
            );
        }
        x += w;
    }
    if let Some(t) = app.cryo.shown_time_s() {
        let tx = rect.min.x + (t / total) as f32 * rect.width();
        painter.line_segment(
            [Pos2::new(tx, rect.min.y), Pos2::new(tx, rect.max.y)],
            Stroke::new(2.0, Color32::WHITE),
        );
    }
    ui.label(RichText::new(s.protocol.description()).small());
    let n_probes = app.plan.probes.len();
    let mut remove = None;
    egui::Grid::new("cryo-phases")
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            for (i, ph) in s.protocol.phases.iter().enumerate() {
                let l = ui.label(format!("Phase {}", i + 1));
                let mut kind = ph.kind;
                egui::ComboBox::from_id_salt(("cryo-phase-kind", i))
                    .selected_text(kind.label())
                    .show_ui(ui, |ui| {
                        for k in [PhaseKind::Freeze, PhaseKind::PassiveThaw, PhaseKind::ActiveThaw] {
                            ui.selectable_value(&mut kind, k, k.label());
                        }
                    })
                    .response
                    .labelled_by(l.id);
                if kind != ph.kind {
                    let mut p = s.protocol.clone();
                    p.phases[i].kind = kind;
                    set(cmds, p, false);
                }
                let mut min = ph.duration_s / 60.0;
                let r = ui
                    .add(
                        egui::DragValue::new(&mut min)
                            .range(0.5..=60.0)
                            .speed(0.1)
                            .fixed_decimals(1)
                            .suffix(" min"),
                    )
                    .labelled_by(l.id)
                    .on_hover_text(format!("Duration of phase {}", i + 1));
                if r.changed() && min.is_finite() {
                    let mut p = s.protocol.clone();
                    p.phases[i].duration_s = (min * 60.0).round();
                    set(cmds, p, r.dragged());
                }
                if r.drag_stopped() {
                    cmds.push(Command::EndDrag);
                }
                if ui
                    .add_enabled(s.protocol.phases.len() > 1, egui::Button::new("Remove"))
                    .on_hover_text(format!("Remove phase {}", i + 1))
                    .clicked()
                {
                    remove = Some(i);
                }
                ui.end_row();
            }
        });
    if let Some(i) = remove {
        let mut p = s.protocol.clone();
        p.phases.remove(i);
        // Duties name probes, not phases: nothing to renumber.
        set(cmds, p, false);
    }
    ui.horizontal(|ui| {
        for k in [PhaseKind::Freeze, PhaseKind::PassiveThaw, PhaseKind::ActiveThaw] {
            if ui.button(format!("+ {}", k.label())).clicked() {
                let mut p = s.protocol.clone();
                let d = if k == PhaseKind::ActiveThaw { 60.0 } else { 300.0 };
                p.phases.push(Phase::new(k, d));
                set(cmds, p, false);
            }
        }
    });
    if n_probes > 0 {
        egui::CollapsingHeader::new("Per-probe duty (%)").show(ui, |ui| {
            egui::Grid::new("cryo-duty")
                .num_columns(n_probes + 1)
                .show(ui, |ui| {
                    ui.label("");
                    for pi in 0..n_probes {
                        ui.label(format!("Probe {}", app.plan.label(pi)));
                    }
                    ui.end_row();
                    for (i, ph) in s.protocol.phases.iter().enumerate() {
                        let l = ui.label(format!("{} {}", i + 1, ph.kind.label()));
                        for pi in 0..n_probes {
                            let mut pct = ph.duty(pi) * 100.0;
                            let passive = ph.kind == PhaseKind::PassiveThaw;
                            let r = ui
                                .add_enabled(
                                    !passive,
                                    egui::DragValue::new(&mut pct)
                                        .range(0.0..=100.0)
                                        .speed(1.0)
                                        .suffix(" %"),
                                )
                                .labelled_by(l.id)
                                .on_hover_text(format!(
                                    "Duty of probe {} in phase {} (0 = off)",
                                    app.plan.label(pi),
                                    i + 1
                                ));
                            if (r.changed() && !r.dragged() || r.drag_stopped()) && pct.is_finite() {
                                let mut p = s.protocol.clone();
                                let d = &mut p.phases[i].probe_duty;
                                d.retain(|x| x.probe != pi);
                                if pct < 99.999 {
                                    d.push(ProbeDuty {
                                        probe: pi,
                                        duty: pct / 100.0,
                                    });
                                }
                                set(cmds, p, false);
                            }
                        }
                        ui.end_row();
                    }
                });
        });
    }
}

fn isotherms_ui(
    ui: &mut egui::Ui,
    lethal: &[crate::physics::cryo::tissue::LethalIsotherm],
    s: &CryoSettings,
    cmds: &mut Vec<Command>,
) {
    let set = |cmds: &mut Vec<Command>, settings: CryoSettings| {
        cmds.push(Command::SetCryoSettings {
            settings,
            live: false,
        });
    };
    egui::ComboBox::from_label("Lethal isotherm")
        .selected_text(format!("{:.0} °C", s.lethal_isotherm_c))
        .show_ui(ui, |ui| {
            for l in lethal {
                let t = l.temperature_c.value;
                let on = (t - s.lethal_isotherm_c).abs() < 1e-9;
                if ui
                    .selectable_label(on, format!("{t:.0} °C"))
                    .on_hover_text(&l.temperature_c.source)
                    .clicked()
                    && !on
                {
                    set(
                        cmds,
                        CryoSettings {
                            lethal_isotherm_c: t,
                            ..s.clone()
                        },
                    );
                }
            }
        });
    if let Some(l) = lethal
        .iter()
        .find(|l| (l.temperature_c.value - s.lethal_isotherm_c).abs() < 1e-9)
    {
        ui.label(
            RichText::new(format!("Source: {}", l.temperature_c.source))
                .small()
                .weak(),
        );
    }
    ui.horizontal(|ui| {
        let mut on = s.user_isotherm_c.is_some();
        if ui.checkbox(&mut on, "User isotherm").changed() {
            set(
                cmds,
                CryoSettings {
                    user_isotherm_c: on.then_some(-30.0),
                    ..s.clone()
                },
            );
        }
        if let Some(t) = s.user_isotherm_c {
            let mut v = t;
            let r = ui.add(
                egui::DragValue::new(&mut v)
                    .range(-150.0..=0.0)
                    .speed(1.0)
                    .suffix(" °C"),
            );
            let r = r.on_hover_text("User isotherm temperature");
            if (r.changed() && !r.dragged() || r.drag_stopped()) && v.is_finite() {
                set(
                    cmds,
                    CryoSettings {
                        user_isotherm_c: Some(v),
                        ..s.clone()
                    },
                );
            }
        }
    });
    egui::ComboBox::from_label("Cryo grid spacing")
        .selected_text(format!("{} mm", s.model.spacing_mm))
        .show_ui(ui, |ui| {
            for mm in CRYO_SPACINGS_MM {
                let on = (mm - s.model.spacing_mm).abs() < 1e-9;
                if ui.selectable_label(on, format!("{mm} mm")).clicked() && !on {
                    let mut n = s.clone();
                    n.model.spacing_mm = mm;
                    set(cmds, n);
                }
            }
        })
        .response
        .on_hover_text("1 mm by default; 2 mm is about 8× faster");
}

fn model_ui(
    ui: &mut egui::Ui,
    app: &AblaApp,
    sizes: Option<&Vec<(String, IsothermSize)>>,
    legend: &[String],
    cmds: &mut Vec<Command>,
) {
    match &app.cryo.status {
        CryoStatus::Idle => {
            ui.label("The iceball is computed as soon as a cryoprobe is placed.");
        }
        CryoStatus::Computing => match app.cryo.progress() {
            Some(p) => {
                let msg = p.message();
                ui.add(
                    egui::ProgressBar::new(p.fraction())
                        .text(if msg.is_empty() {
                            "Computing the iceball".to_string()
                        } else {
                            format!("Computing: {msg}")
                        })
                        .animate(true),
                );
                if ui.button("Cancel cryo computation").clicked() {
                    cmds.push(Command::CancelCryo);
                }
            }
            None => {
                ui.label("The full model runs when the drag ends.");
            }
        },
        CryoStatus::Done => {
            ui.label(RichText::new("Full model").color(GOOD));
        }
        CryoStatus::Preview => {
            ui.label(
                RichText::new("PREVIEW (catalog ellipsoids, probes do not interact) — the full model runs when the drag ends")
                    .color(CAUTION),
            );
        }
        CryoStatus::Error(m) => {
            ui.label(RichText::new(m).color(WARN));
        }
        CryoStatus::Cancelled => {
            ui.label("Computation cancelled.");
        }
    }
    if ui
        .add_enabled(
            !app.plan.probes.is_empty() && !app.cryo.running(),
            egui::Button::new("Recompute iceball"),
        )
        .clicked()
    {
        cmds.push(Command::RunCryo);
    }
    let Some(r) = app.cryo.shown().map(|r| r.as_ref()) else {
        return;
    };
    let computing = app.cryo.computing_progress_s();
    if let Some((done_s, total_s)) = computing {
        ui.label(
            RichText::new(format!(
                "computing — {:.1} of {:.0} min (the slider scrubs what is computed)",
                done_s / 60.0,
                total_s / 60.0
            ))
            .color(CAUTION),
        );
    } else if app.cryo.result_revision != app.plan.revision() {
        ui.label(RichText::new("The plan changed: the iceball shown is outdated").color(CAUTION));
    }
    ui.label(RichText::new(&r.description).small().weak());
    for w in &r.warnings {
        ui.label(RichText::new(w).small().color(CAUTION));
    }
    let last = r.snapshot_times_s.last().copied().unwrap_or(0.0);
    let mut min = app.cryo.shown_time_s().unwrap_or(0.0) / 60.0;
    let phase = r.protocol.phase_at(min * 60.0).map_or(String::new(), |(i, p)| {
        format!("phase {} {}", i + 1, p.kind.label())
    });
    let resp = ui.add(
        egui::Slider::new(&mut min, 0.0..=last / 60.0)
            .step_by(r.snapshot_times_s.get(1).map_or(0.5, |t| t / 60.0))
            .text("Time")
            .suffix(" min"),
    );
    if resp.changed() {
        cmds.push(Command::SetCryoTime(min * 60.0));
    }
    if computing.is_some() {
        ui.label(phase);
    } else {
        ui.label(format!("{phase} · computed in {:.1} s", r.elapsed_s));
    }
    if let Some(sizes) = sizes {
        egui::Grid::new("cryo-sizes")
            .striped(true)
            .num_columns(5)
            .show(ui, |ui| {
                for h in ["Isotherm", "Volume", "Along probe", "Between probes", "Across"] {
                    ui.label(RichText::new(h).strong());
                }
                ui.end_row();
                for (name, s) in sizes {
                    ui.label(name);
                    ui.label(format!("{:.1} mL", s.volume_ml));
                    for e in s.extents_mm {
                        ui.label(format!("{e:.0} mm"));
                    }
                    ui.end_row();
                }
            });
    }
    if !legend.is_empty() {
        ui.label(RichText::new("Isotherm legend").strong());
        for l in legend {
            ui.label(l);
        }
    }
}

fn sensors_ui(
    ui: &mut egui::Ui,
    app: &AblaApp,
    curves: &[(String, Vec<(f64, f32)>)],
    cmds: &mut Vec<Command>,
) {
    use egui_plot::{Legend, Line, Plot, PlotPoints, VLine};
    ui.horizontal(|ui| {
        if ui
            .button("Add sensor at crosshair")
            .on_hover_text("A thermocouple at the crosshair: its temperature over the protocol is plotted")
            .clicked()
        {
            cmds.push(Command::AddCryoSensorAtCrosshair);
        }
    });
    for (i, p) in app.plan.cryo_sensors_lps.iter().enumerate() {
        ui.horizontal(|ui| {
            ui.label(format!(
                "Sensor {}: L {:.1} P {:.1} S {:.1} mm",
                i + 1,
                p.x,
                p.y,
                p.z
            ));
            if ui
                .small_button("Remove")
                .on_hover_text(format!("Remove sensor {}", i + 1))
                .clicked()
            {
                cmds.push(Command::RemoveCryoSensor(i));
            }
        });
    }
    if curves.is_empty() {
        ui.label("Sensor curves appear with the full model (and at the target margin when a Target exists).");
        return;
    }
    let now = app.cryo.shown_time_s().map(|t| t / 60.0);
    let lines: Vec<(String, Vec<[f64; 2]>)> = curves
        .iter()
        .map(|(n, c)| {
            (
                n.clone(),
                c.iter().map(|(t, v)| [t / 60.0, f64::from(*v)]).collect(),
            )
        })
        .collect();
    Plot::new("cryo-sensors")
        .height(170.0)
        .allow_scroll(false)
        .x_axis_label("min")
        .y_axis_label("°C")
        .legend(Legend::default())
        .show(ui, move |p| {
            for (n, pts) in lines {
                p.line(Line::new(n, PlotPoints::from(pts)));
            }
            if let Some(t) = now {
                p.vline(VLine::new("shown time", t));
            }
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_isotherms_add_the_users_once() {
        let mut s = CryoSettings::default();
        assert_eq!(drawn_isotherms(&s), vec![0.0, -20.0, -40.0]);
        s.user_isotherm_c = Some(-20.0);
        assert_eq!(drawn_isotherms(&s).len(), 3, "no repeat");
        s.user_isotherm_c = Some(-30.0);
        assert_eq!(drawn_isotherms(&s), vec![0.0, -20.0, -40.0, -30.0]);
    }

    #[test]
    fn results_of_older_revisions_are_dropped() {
        let mut run = CryoRun::default();
        let f = run.finish(
            3,
            5,
            Err(JobError::Panicked {
                name: "cryo".into(),
                message: "x".into(),
            }),
        );
        assert_eq!(f, Finished::Stale);
        assert!(run.result.is_none());
        assert_eq!(
            run.finish(5, 5, Ok(Err(CryoError::Cancelled))),
            Finished::Cancelled
        );
        assert_eq!(run.status, CryoStatus::Cancelled);
        let f = run.finish(5, 5, Ok(Err(CryoError::NoProbes)));
        assert!(matches!(f, Finished::Failed(m) if m.contains("cryoprobe")));
    }
}
