//! The needle paths in the app (issue 16): the CT's body outline as a background job, the path
//! check of every probe from the skin to its tip (`safety::path_check`) kept for the current
//! plan and structures, drawn on the path itself (`render::path_marks`) in the slice views and
//! the along-probe view, and the safe window on the skin of the selected probe in the active
//! view's plane (`safety::entry_window`, a job) from which the user picks an entry.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use eframe::egui::{self, Align2, Color32, FontId, Pos2, Rect, Stroke, Vec2};

use super::command::Command;
use super::widgets::{c32, shadow_text};
use super::{AblaApp, NoticeLevel};
use crate::anatomy::Structure;
use crate::anatomy::body::BodyMask;
use crate::geometry::PatientPos;
use crate::jobs::{Job, Progress};
use crate::plan::probe::Probe;
use crate::plan::trajectory::trajectory_limits;
use crate::render::path_marks::{PathMarks, PieceKind, merge_close, path_marks};
use crate::safety::path_check::{PathCheck, PathScene, WindowSample, check_path};
use crate::volume::{ViewKind, Volume};

/// Directions of the safe window: one every 5° in the view's plane.
const WINDOW_STEP_DEG: f64 = 5.0;
/// Stretches of one hazard closer than this are shown as one (mm).
const MERGE_GAP_MM: f64 = 2.0;
/// A phantom's path starts this far from the tip (no skin).
const PHANTOM_DEPTH_MM: f64 = 100.0;

/// The safe window of one probe in one view's plane.
#[derive(Clone, Debug)]
pub struct SafeWindow {
    pub probe: usize,
    pub view: ViewKind,
    pub tip_lps: PatientPos,
    pub samples: Vec<WindowSample>,
    key: u64,
}

impl SafeWindow {
    pub fn clear_count(&self) -> usize {
        self.samples.iter().filter(|s| s.clear).count()
    }
}

/// Body outline, path checks and the safe window.
#[derive(Default)]
pub(super) struct TrajectoryUi {
    body: Option<(u64, Arc<BodyMask>)>,
    body_job: Option<(u64, Job<BodyMask>)>,
    key: Option<u64>,
    checks: Vec<Option<PathCheck>>,
    pub(super) marks: Vec<Option<PathMarks>>,
    /// The probe and view the user asked the safe window for.
    window_wanted: Option<(usize, ViewKind)>,
    pub(super) window: Option<SafeWindow>,
    window_job: Option<WindowJob>,
}

/// The safe window being computed: for which key, probe, view and tip.
struct WindowJob {
    key: u64,
    probe: usize,
    view: ViewKind,
    tip_lps: PatientPos,
    job: Job<Vec<WindowSample>>,
}

/// What the path check of one probe reads, owned (for a job).
struct SceneParts {
    volume: Arc<Volume>,
    body: Arc<BodyMask>,
    others: Vec<Probe>,
    radius_mm: f64,
    lengths_mm: Vec<f64>,
}

fn scene<'a>(p: &'a SceneParts, structures: &'a [Structure]) -> PathScene<'a> {
    PathScene {
        volume: Some(&p.volume),
        body: Some(&p.body),
        structures,
        structure_geometry: &p.volume.geometry,
        other_probes: &p.others,
        probe_radius_mm: p.radius_mm,
        lengths_mm: &p.lengths_mm,
        limits: trajectory_limits(),
        phantom_depth_mm: PHANTOM_DEPTH_MM,
    }
}

fn hash_pos(h: &mut DefaultHasher, p: &PatientPos) {
    for c in p.iter() {
        c.to_bits().hash(h);
    }
}

impl AblaApp {
    /// The path check of each probe (`None` while the body outline is computed or when the tip
    /// lies outside the body).
    pub fn path_checks(&self) -> &[Option<PathCheck>] {
        &self.trajectory.checks
    }

    /// The safe window shown, if any.
    pub fn safe_window(&self) -> Option<&SafeWindow> {
        self.trajectory.window.as_ref()
    }

    /// Whether the body outline, the path checks and the safe window asked for are ready.
    pub fn trajectory_ready(&self) -> bool {
        let t = &self.trajectory;
        self.loaded.is_none()
            || (t.body_job.is_none()
                && t.body.is_some()
                && t.window_job.is_none()
                && (t.window_wanted.is_none() || t.window.is_some()))
    }

    pub(super) fn show_safe_window(&mut self, on: bool) {
        self.trajectory.window_wanted = None;
        self.trajectory.window = None;
        if let Some(w) = self.trajectory.window_job.take() {
            w.job.cancel();
        }
        if !on {
            return;
        }
        match (self.plan.selected, self.viewer.as_ref()) {
            (Some(i), Some(v)) => self.trajectory.window_wanted = Some((i, v.active)),
            _ => self.notify(
                NoticeLevel::Warning,
                "Select a probe first: the safe window is computed around its tip",
            ),
        }
    }

    fn parts_for(&self, volume: &Arc<Volume>, body: &Arc<BodyMask>, i: usize) -> Option<SceneParts> {
        let p = self.plan.probes.get(i)?;
        let lengths_mm = self
            .catalog()
            .and_then(|c| c.get(&p.model_id))
            .map(|m| m.lengths())
            .unwrap_or_default();
        Some(SceneParts {
            volume: volume.clone(),
            body: body.clone(),
            others: self
                .plan
                .probes
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, q)| q.clone())
                .collect(),
            radius_mm: crate::physics::ire::model::electrode_radius_mm(&p.model_id),
            lengths_mm,
        })
    }

    fn structures_key(&self, h: &mut DefaultHasher) {
        for s in &self.structures.items {
            (s.uid(), s.revision()).hash(h);
        }
    }

    /// Every frame: the body outline of a new volume (a job), the path checks of a changed plan
    /// or structure set, the safe window of a moved tip (a job).
    pub(super) fn update_trajectory(&mut self) {
        let Some(loaded) = &self.loaded else {
            self.trajectory = TrajectoryUi::default();
            return;
        };
        let (generation, volume) = (loaded.generation, loaded.volume.clone());
        self.poll_body(generation, &volume);
        let Some(body) = self.trajectory.body.as_ref().map(|(_, b)| b.clone()) else {
            return;
        };
        let mut h = DefaultHasher::new();
        (generation, self.plan.revision(), self.plan.probes.len()).hash(&mut h);
        self.structures_key(&mut h);
        let key = h.finish();
        if self.trajectory.key != Some(key) {
            let checks: Vec<Option<PathCheck>> = (0..self.plan.probes.len())
                .map(|i| {
                    let parts = self.parts_for(&volume, &body, i)?;
                    let p = &self.plan.probes[i];
                    check_path(&scene(&parts, &self.structures.items), p.tip_lps, p.axis().ok()?).ok()
                })
                .collect();
            self.trajectory.marks = checks
                .iter()
                .zip(&self.plan.probes)
                .map(|(c, p)| {
                    c.as_ref()
                        .map(|c| path_marks(&merge_close(c, MERGE_GAP_MM), Some(p.entry_lps)))
                })
                .collect();
            self.trajectory.checks = checks;
            self.trajectory.key = Some(key);
        }
        self.update_window(generation, &volume, &body);
    }

    fn poll_body(&mut self, generation: u64, volume: &Arc<Volume>) {
        let t = &mut self.trajectory;
        if t.body.as_ref().is_some_and(|(g, _)| *g != generation) {
            t.body = None;
            t.key = None;
            t.checks.clear();
            t.marks.clear();
            t.window = None;
            t.window_wanted = None;
        }
        if let Some((g, job)) = t.body_job.as_mut() {
            if *g != generation {
                job.cancel();
                t.body_job = None;
            } else if let Some(out) = job.poll() {
                t.body_job = None;
                match out {
                    Ok(b) => t.body = Some((generation, Arc::new(b))),
                    Err(e) => log::warn!("body outline: {e}"),
                }
            }
        }
        if t.body.is_none() && t.body_job.is_none() {
            let v = volume.clone();
            let ctx = self.ctx.clone();
            match Job::spawn(
                "body outline",
                generation,
                Progress::with_waker(move || ctx.request_repaint()),
                move |_| BodyMask::from_volume(&v, trajectory_limits().body_threshold()),
            ) {
                Ok(job) => t.body_job = Some((generation, job)),
                Err(e) => log::warn!("cannot start the body outline: {e}"),
            }
        }
    }

    fn update_window(&mut self, generation: u64, volume: &Arc<Volume>, body: &Arc<BodyMask>) {
        let Some((i, view)) = self.trajectory.window_wanted else {
            return;
        };
        let Some(p) = self.plan.probes.get(i) else {
            self.trajectory.window_wanted = None;
            self.trajectory.window = None;
            return;
        };
        let tip = p.tip_lps;
        // The window depends on the tip, the other probes and the structures, not on this
        // probe's entry (dragging the entry keeps it).
        let mut h = DefaultHasher::new();
        (generation, i, view.name()).hash(&mut h);
        hash_pos(&mut h, &tip);
        for (j, q) in self.plan.probes.iter().enumerate().filter(|(j, _)| *j != i) {
            j.hash(&mut h);
            hash_pos(&mut h, &q.tip_lps);
            hash_pos(&mut h, &q.entry_lps);
        }
        self.structures_key(&mut h);
        let key = h.finish();
        if let Some(wj) = self.trajectory.window_job.as_mut() {
            if wj.key != key {
                wj.job.cancel();
                self.trajectory.window_job = None;
            } else if let Some(out) = wj.job.poll() {
                let (probe, view, tip_lps) = (wj.probe, wj.view, wj.tip_lps);
                self.trajectory.window_job = None;
                if let Ok(samples) = out {
                    self.trajectory.window = Some(SafeWindow {
                        probe,
                        view,
                        tip_lps,
                        samples,
                        key,
                    });
                }
            }
        }
        if self.trajectory.window.as_ref().is_some_and(|w| w.key == key)
            || self.trajectory.window_job.is_some()
        {
            return;
        }
        let Some(parts) = self.parts_for(volume, body, i) else {
            return;
        };
        let (right, down) = super::plan::view_screen_dirs(view, &volume.geometry);
        let structures = self.structures.items.clone();
        let ctx = self.ctx.clone();
        match Job::spawn(
            "safe window",
            key,
            Progress::with_waker(move || ctx.request_repaint()),
            move |_| {
                crate::safety::entry_window::window_in_plane(
                    &scene(&parts, &structures),
                    tip,
                    right,
                    down,
                    WINDOW_STEP_DEG,
                )
            },
        ) {
            Ok(job) => {
                self.trajectory.window_job = Some(WindowJob {
                    key,
                    probe: i,
                    view,
                    tip_lps: tip,
                    job,
                })
            }
            Err(e) => log::warn!("cannot start the safe window: {e}"),
        }
    }
}

/// Screen position and slice coordinate of an LPS point in a view.
pub(super) type Project<'a> = dyn Fn(&PatientPos) -> (Pos2, f64) + 'a;

/// The path check drawn on each probe's path: green where clear, the hazard's colour where it
/// crosses one, the skin entry ringed (green when the whole path is clear, red otherwise); the
/// selected probe's hazards labelled with their depth from the skin.
pub(super) fn draw_paths(
    painter: &egui::Painter,
    marks: &[Option<PathMarks>],
    selected: Option<usize>,
    project: &Project<'_>,
) {
    for (i, m) in marks.iter().enumerate() {
        let Some(m) = m else { continue };
        let is_sel = selected == Some(i) || marks.len() == 1;
        for piece in &m.pieces {
            let (a, _) = project(&piece.from_lps);
            let (b, _) = project(&piece.to_lps);
            let (width, col) = match piece.kind {
                PieceKind::Outside => continue,
                PieceKind::Clear => (5.0, c32(crate::render::palette::PATH_CLEAR).gamma_multiply(0.45)),
                PieceKind::Hazard(_) => (8.0, c32(piece_colour(m, piece.kind)).gamma_multiply(0.9)),
            };
            painter.line_segment([a, b], Stroke::new(width, col));
        }
        let (skin, _) = project(&m.skin_entry_lps);
        painter.circle_stroke(skin, 6.0, Stroke::new(2.0, c32(m.skin_rgb)));
        if !is_sel {
            continue;
        }
        // Each label beside its point, towards the middle of the view, moved down past the labels
        // already placed (hazards close together would print over each other).
        let clip = painter.clip_rect();
        let mut placed: Vec<Rect> = Vec::new();
        for l in &m.labels {
            let (at, _) = project(&l.at_lps);
            let col = c32(l.rgb);
            let size = painter
                .layout_no_wrap(l.text.clone(), FontId::proportional(12.0), col)
                .size();
            let min = if at.x > clip.center().x {
                at + Vec2::new(-10.0 - size.x, -0.5 * size.y)
            } else {
                at + Vec2::new(10.0, -0.5 * size.y)
            };
            let mut r = Rect::from_min_size(min, size);
            for _ in 0..8 {
                if !placed.iter().any(|p| p.intersects(r)) {
                    break;
                }
                r = r.translate(Vec2::new(0.0, size.y + 1.0));
            }
            if placed.iter().any(|p| p.intersects(r)) {
                continue;
            }
            placed.push(r);
            shadow_text(painter, r.left_center(), Align2::LEFT_CENTER, &l.text, 12.0, col);
        }
    }
}

fn piece_colour(m: &PathMarks, kind: PieceKind) -> crate::render::Rgba {
    match kind {
        // The hazard's label carries its colour (labels[0] is the skin).
        PieceKind::Hazard(h) => m.labels.get(h + 1).map_or(crate::render::palette::RED, |l| l.rgb),
        PieceKind::Clear => crate::render::palette::PATH_CLEAR,
        PieceKind::Outside => crate::render::palette::PROBE_SHAFT,
    }
}

/// The safe window in its view: a mark at each direction's skin entry, green when the path is
/// clear, red when not, joined along the outline.
pub(super) fn draw_window(painter: &egui::Painter, w: &SafeWindow, project: &Project<'_>) {
    let green = c32(crate::render::palette::PATH_CLEAR);
    let red = c32(crate::render::palette::RED);
    let pts: Vec<Option<(Pos2, bool)>> = w
        .samples
        .iter()
        .map(|s| s.entry_lps.map(|e| (project(&e).0, s.clear)))
        .collect();
    for (n, p) in pts.iter().enumerate() {
        let Some((a, clear_a)) = p else { continue };
        if let Some(Some((b, clear_b))) = pts.get((n + 1) % pts.len()) {
            let col = if *clear_a && *clear_b { green } else { red };
            painter.line_segment([*a, *b], Stroke::new(3.0, col.gamma_multiply(0.7)));
        }
        if *clear_a {
            painter.circle_filled(*a, 4.0, green);
        } else {
            painter.circle_stroke(*a, 3.0, Stroke::new(1.5, red));
        }
    }
    let (tip, _) = project(&w.tip_lps);
    painter.circle_stroke(tip, 4.0, Stroke::new(1.5, Color32::WHITE));
}

/// The skin entry picked from the window under a click: the nearest clear entry within
/// `radius_mm` of `pointer_lps` brought into the window's plane (the view's plane through the
/// tip).
pub(super) fn pick_from_window(
    w: &SafeWindow,
    pointer_lps: &PatientPos,
    normal: &nalgebra::Vector3<f64>,
    radius_mm: f64,
) -> Option<PatientPos> {
    let p = pointer_lps - normal * (pointer_lps - w.tip_lps).dot(normal);
    let i = crate::safety::entry_window::nearest_clear(&w.samples, &p, radius_mm)?;
    w.samples.get(i)?.entry_lps
}

/// The path of probe `i` in the inspector: depth from the skin and reach, what it crosses; the
/// safe-window switch.
pub(super) fn path_rows(ui: &mut egui::Ui, app: &AblaApp, i: usize, cmds: &mut Vec<Command>) {
    match app.path_checks().get(i) {
        Some(Some(c)) => {
            let c = &merge_close(c, MERGE_GAP_MM);
            let reach = crate::render::path_marks::skin_text(c);
            let verdict = if c.is_clear() { "clear" } else { "not clear" };
            ui.label(format!("Path from the {reach}: {verdict}"));
            for h in &c.hazards {
                ui.colored_label(
                    c32(crate::render::path_marks::hazard_rgb(&h.kind)),
                    format!("Crosses {} at {:.0} mm from the skin", h.name, h.from_skin_mm[0]),
                );
            }
            if c.skin.crosses_outside {
                ui.label("The path leaves the body and enters it again");
            }
        }
        Some(None) if app.trajectory.body.is_some() => {
            ui.label("Path: the tip lies outside the body outline");
        }
        _ => {
            ui.weak("Path: finding the body outline");
        }
    }
    let shown = app.trajectory.window_wanted.is_some_and(|(p, _)| p == i);
    let mut on = shown;
    if ui
        .checkbox(&mut on, "Safe window")
        .on_hover_text(
            "Shows on the active view where the skin can be entered for this tip: green marks are \
             paths clear of bone, gas, structures and other probes within the probe's reach. With \
             the probe tool, click a green mark to move the entry there.",
        )
        .changed()
    {
        cmds.push(Command::ShowSafeWindow(on));
    }
    if shown {
        match &app.trajectory.window {
            Some(w) if w.probe == i => {
                ui.label(format!(
                    "{} of {} directions in the {} plane are clear",
                    w.clear_count(),
                    w.samples.len(),
                    w.view.name().to_lowercase()
                ));
            }
            _ => {
                ui.weak("Safe window: computing");
            }
        }
    }
}
