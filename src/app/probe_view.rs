//! The along-probe view: the CT resliced on the plane containing a probe (in-plane) and on the
//! plane perpendicular to it (probe's-eye, scrollable along the probe), with the probes,
//! structures, the IRE zone and its |E| isolines, the cryo isotherms and lethal zone, and the cut
//! of each plane in the other drawn on top. In the in-plane image the tip, the entry or the shaft
//! of a probe lying in the image's plane can be dragged (the same commands as the slice views:
//! moves stay in the plane, one undo step per drag).
//!
//! Sampling is done by `render::reslice` and the pure [`plane_isolines`] / [`plane_isotherms`]
//! (tested without a window); this file only caches textures and draws. Images are re-rendered
//! only when what they show changes: the CT texture on a new volume, plane or window; the overlay
//! on a new plane, structure revision, zone or cryo result.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use eframe::egui::{self, Align2, Color32, PointerButton, Pos2, Rect, Sense, Stroke, Vec2};
use nalgebra::Vector3;

use super::command::Command;
use super::cryo_ui::{CryoView, isotherm_colour};
use super::plan::{ProbeOnScreen, ProbePart, hit_test, moved};
use super::plan_draw::{HANDLE_RADIUS, ZoneRef, draw_isolines, isoline_segments};
use super::widgets::{BarPlace, scale_bar, shadow_text, wheel_notches};

use crate::anatomy::Structure;
use crate::geometry::{PatientPos, orientation_label};
use crate::physics::cryo::model::trilinear_i16;
use crate::physics::grid::ComputeGrid;
use crate::physics::ire::model::{IreModelOptions, IreResult};
use crate::plan::probe::Probe;
use crate::render::isolines::{IsoSegment, marching_squares, mask_outline};
use crate::render::overlay::{Segment, composite_masks, outline_segments};
use crate::render::reslice::{
    DEFAULT_FIELD_OF_VIEW_MM, ObliquePlane, ProbePlaneOptions, Reslice, in_plane_for_probe, plane_voxels,
    probes_eye_for_probe, render_reslice, reslice_volume, sample_lattice_with, sample_mask,
    sample_plane_with,
};
use crate::render::{WindowLevel, WlLut};
use crate::volume::Volume;

mod draw;
#[allow(unused_imports)]
pub use draw::*;

/// How far beyond the tip the probe's-eye plane can go (mm): the zone reaches ~1 cm past the
/// tip, plus room to see what lies ahead.
const BEYOND_TIP_MM: f64 = 40.0;
/// Zoom 1 = [`DEFAULT_FIELD_OF_VIEW_MM`]; the range keeps 20–160 mm on screen.
const ZOOM_RANGE: (f64, f64) = (0.5, 4.0);
/// Depth step of one wheel notch (mm); Shift scrolls five times faster.
const DEPTH_PER_NOTCH_MM: f64 = 1.0;

const ZONE_COLOUR: [u8; 3] = crate::render::palette::IRE_ZONE_RGB;
const ZONE_FILL_ALPHA: f32 = 0.22;
/// Frame and reference-line colours of the two images: each image's cut is drawn in the other
/// in its colour (as the MPR views draw their reference lines).
const IN_PLANE_COLOUR: Color32 = Color32::from_rgb(110, 170, 255);
const EYE_COLOUR: Color32 = Color32::from_rgb(230, 110, 230);
const SHAFT_COLOUR: Color32 = super::widgets::c32(crate::render::palette::PROBE_SHAFT);
const EXPOSED_COLOUR: Color32 = super::widgets::c32(crate::render::palette::PROBE_EXPOSED);
const TIP_COLOUR: Color32 = super::widgets::c32(crate::render::palette::PROBE_TIP);
const OTHER_SHAFT_COLOUR: Color32 = Color32::from_rgb(120, 200, 230);
const OTHER_EXPOSED_COLOUR: Color32 = Color32::from_rgb(80, 230, 200);
/// Size of the labels drawn on the images (points).
const LABEL_PT: f32 = 11.0;
/// Handles of the probes that can be dragged in the in-plane image.
const HANDLE_COLOUR: Color32 = super::widgets::c32(crate::render::palette::SELECTED_HANDLE);
/// Temperature used outside the cryo grid (°C): warm, so no isotherm crosses there (as the
/// slice views sample it).
const OUTSIDE_C: f32 = 37.0;
/// Opacity of the cryo lethal-zone fill, as in the slice views.
const LETHAL_FILL_ALPHA: f32 = 0.32;
/// Legends need this much width next to the image content (points), as in the slice views.
const LEGEND_MIN_WIDTH: f32 = 300.0;

/// Which of the two images.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pane {
    InPlane,
    Eye,
}

impl Pane {
    fn index(self) -> usize {
        match self {
            Pane::InPlane => 0,
            Pane::Eye => 1,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Pane::InPlane => "In-plane view",
            Pane::Eye => "Probe's-eye view",
        }
    }

    fn colour(self) -> Color32 {
        match self {
            Pane::InPlane => IN_PLANE_COLOUR,
            Pane::Eye => EYE_COLOUR,
        }
    }
}

/// Cached sampling and textures of one image.
#[derive(Default)]
struct PaneCache {
    hu_key: Option<u64>,
    reslice: Option<Reslice>,
    ct_key: Option<u64>,
    ct: Option<egui::TextureHandle>,
    overlay_key: Option<u64>,
    overlay: Option<egui::TextureHandle>,
    /// (colour, stroke width, pixel-edge segments) per outlined mask.
    outlines: Vec<(Color32, f32, Vec<Segment>)>,
    /// |E| isolines of the zone: (level index, segments in image pixels).
    isolines: Vec<(usize, Vec<IsoSegment>)>,
    /// Cryo isotherm outlines: (temperature, segments in image pixels).
    isotherms: Vec<(f64, Vec<IsoSegment>)>,
    /// Whether anything of the zone / the cryo overlay lies on this image (for the legends).
    zone_shown: bool,
    cryo_shown: bool,
}

/// A probe part being dragged in the in-plane image. The image's plane is frozen for the drag:
/// the plane follows the shown probe, and moving it under the pointer would feed back.
#[derive(Clone, Debug)]
struct Drag {
    index: usize,
    part: ProbePart,
    start_pointer_lps: PatientPos,
    start: Probe,
    plane: ObliquePlane,
}

/// What the view shows besides the CT: the plan's zone with its isolines and the cryo overlay.
pub(crate) struct ProbeViewInput<'a> {
    pub volume: &'a Volume,
    /// Identifies the volume (the app bumps it on every load), so that cached images are never
    /// reused across volumes.
    pub volume_generation: u64,
    pub structures: &'a [Structure],
    pub probes: &'a [Probe],
    pub selected: usize,
    pub zone: Option<ZoneRef<'a>>,
    pub cryo: Option<&'a CryoView>,
    pub window: WindowLevel,
    /// The path check of each probe, drawn on its path (issue 16; may be empty).
    pub paths: &'a [Option<crate::render::path_marks::PathMarks>],
}

/// State of the along-probe view: the user's angle, depth, zoom and probe choice, and the
/// texture cache.
pub struct ProbeView {
    /// Rotation of the in-plane image about the probe axis (degrees; 0 = closest to left–right).
    pub angle_deg: f64,
    /// Probe's-eye plane: mm from the tip towards the entry (negative = beyond the tip).
    pub depth_mm: f64,
    /// 1 = [`DEFAULT_FIELD_OF_VIEW_MM`] across each image.
    pub zoom: f64,
    /// The probe shown; `None` follows the selection passed to [`ProbeView::ui`].
    pub probe: Option<usize>,
    /// The probe the depth was last initialised for (a new probe starts at its exposure's middle).
    shown: Option<usize>,
    wheel_points: f32,
    lut: Option<(WindowLevel, WlLut)>,
    rgba: Vec<u8>,
    panes: [PaneCache; 2],
    reslice_count: u64,
    overlay_count: u64,
    drag: Option<Drag>,
}

impl Default for ProbeView {
    fn default() -> Self {
        Self {
            angle_deg: 0.0,
            depth_mm: ProbePlaneOptions::default().depth_mm,
            zoom: 1.0,
            probe: None,
            shown: None,
            wheel_points: 0.0,
            lut: None,
            rgba: Vec::new(),
            panes: Default::default(),
            reslice_count: 0,
            overlay_count: 0,
            drag: None,
        }
    }
}

impl ProbeView {
    /// The plane settings for the current angle, depth and zoom.
    pub fn options(&self) -> ProbePlaneOptions {
        ProbePlaneOptions {
            angle_deg: self.angle_deg,
            depth_mm: self.depth_mm,
            field_of_view_mm: DEFAULT_FIELD_OF_VIEW_MM / self.zoom.clamp(ZOOM_RANGE.0, ZOOM_RANGE.1),
        }
    }

    /// The index of the probe shown for `selected` among `n` probes (`None` when there is none).
    pub fn shown_probe(&self, n: usize, selected: usize) -> Option<usize> {
        if n == 0 {
            return None;
        }
        Some(self.probe.filter(|i| *i < n).unwrap_or(selected.min(n - 1)))
    }

    /// How many times the CT has been resliced (both images): lets tests check the cache.
    pub fn reslice_count(&self) -> u64 {
        self.reslice_count
    }

    /// How many times the overlays (structures, zone) have been sampled (both images).
    pub fn overlay_count(&self) -> u64 {
        self.overlay_count
    }

    /// Segments of the |E| isolines now drawn in the (in-plane, probe's-eye) images.
    pub fn isoline_segment_counts(&self) -> [usize; 2] {
        self.panes
            .each_ref()
            .map(|c| c.isolines.iter().map(|(_, s)| s.len()).sum())
    }

    /// Segments of the cryo isotherms now drawn in the (in-plane, probe's-eye) images.
    pub fn isotherm_segment_counts(&self) -> [usize; 2] {
        self.panes
            .each_ref()
            .map(|c| c.isotherms.iter().map(|(_, s)| s.len()).sum())
    }

    /// Whether a probe is being dragged in the in-plane image.
    pub fn dragging(&self) -> bool {
        self.drag.is_some()
    }

    /// Draws the view, read-only: controls, then the in-plane and probe's-eye images side by side
    /// with the zone's isolines at the default levels. `volume_generation` identifies the volume
    /// (the app bumps it on every load), so that cached images are never reused across volumes.
    #[allow(clippy::too_many_arguments)]
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        volume: &Volume,
        volume_generation: u64,
        structures: &[Structure],
        probes: &[Probe],
        selected: usize,
        zone: Option<&IreResult>,
        window: WindowLevel,
    ) {
        let levels = IreModelOptions::default().isolines_v_per_cm;
        let input = ProbeViewInput {
            volume,
            volume_generation,
            structures,
            probes,
            selected,
            zone: zone.map(|result| ZoneRef {
                result,
                id: zone_key(Some(result)),
                outdated: false,
                isolines_v_per_cm: &levels,
            }),
            cryo: None,
            window,
            paths: &[],
        };
        self.show(ui, &input, None);
    }

    /// Draws the view; with `cmds`, probes lying in the in-plane image can be dragged there (the
    /// moves are pushed as [`Command::MoveProbe`] and [`Command::EndDrag`], as the slice views do).
    pub(crate) fn show(
        &mut self,
        ui: &mut egui::Ui,
        input: &ProbeViewInput<'_>,
        cmds: Option<&mut Vec<Command>>,
    ) {
        let ProbeViewInput {
            volume,
            volume_generation,
            structures,
            probes,
            selected,
            zone,
            cryo,
            window,
            paths,
        } = *input;
        let Some(idx) = self.shown_probe(probes.len(), selected) else {
            self.drag = None;
            ui.vertical_centered(|ui| {
                ui.add_space(16.0);
                ui.label("No probe placed: the along-probe view shows the CT along a probe.");
                ui.label("Place a probe (click the tip in a view, drag to the entry) or add an array.");
            });
            return;
        };
        if self.probe.is_some_and(|i| i >= probes.len()) {
            self.probe = None;
        }
        let probe = &probes[idx];
        let length_mm = probe.length_mm();
        if self.shown != Some(idx) {
            self.shown = Some(idx);
            self.depth_mm = probe.exposure_mm.min(length_mm) / 2.0;
        }
        let max_depth = if length_mm.is_finite() {
            length_mm.max(1.0)
        } else {
            1.0
        };

        self.controls(ui, probes, idx, selected, max_depth);

        let opts = self.options();
        // A dragged probe must still exist (an undo or a delete may have removed it).
        if self.drag.as_ref().is_some_and(|d| d.index >= probes.len()) {
            self.drag = None;
        }
        let frozen = self.drag.as_ref().map(|d| d.plane);
        let planes = match frozen {
            Some(p) => Ok(p),
            None => in_plane_for_probe(probe, &volume.geometry, &opts),
        }
        .and_then(|a| probes_eye_for_probe(probe, &volume.geometry, &opts).map(|b| (a, b)));
        let (in_plane, eye) = match planes {
            Ok(p) => p,
            Err(e) => {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("Cannot show probe {}: {e}", probe_name(probes, idx)),
                );
                return;
            }
        };

        let avail = ui.available_size();
        let gap = ui.spacing().item_spacing.x;
        let caption_h = 2.0 * ui.text_style_height(&egui::TextStyle::Body) + 8.0;
        let side = ((avail.x - gap) / 2.0).min(avail.y - caption_h).max(80.0);
        let ctx = Frame {
            volume,
            volume_generation,
            structures,
            probes,
            shown: idx,
            zone,
            cryo,
            window,
            in_plane,
            eye,
            paths,
        };
        let mut cmds = cmds;
        ui.horizontal_top(|ui| {
            for pane in [Pane::InPlane, Pane::Eye] {
                ui.vertical(|ui| {
                    ui.set_width(side);
                    self.pane(ui, &ctx, pane, side, cmds.as_deref_mut());
                });
            }
        });
        self.depth_mm = self.depth_mm.clamp(-BEYOND_TIP_MM, max_depth);
    }

    fn controls(&mut self, ui: &mut egui::Ui, probes: &[Probe], idx: usize, selected: usize, max_depth: f64) {
        ui.horizontal_wrapped(|ui| {
            egui::ComboBox::from_label("Probe")
                .selected_text(probe_name(probes, idx))
                .show_ui(ui, |ui| {
                    let follow = format!(
                        "Selected probe ({})",
                        probe_name(probes, selected.min(probes.len() - 1))
                    );
                    ui.selectable_value(&mut self.probe, None, follow);
                    for i in 0..probes.len() {
                        ui.selectable_value(&mut self.probe, Some(i), probe_name(probes, i));
                    }
                });
            ui.add(
                egui::Slider::new(&mut self.depth_mm, -BEYOND_TIP_MM..=max_depth)
                    .text("Depth (mm)")
                    .fixed_decimals(1),
            )
            .on_hover_text(
                "Where the probe's-eye image cuts the probe: mm from the tip towards the entry \
                 (negative = beyond the tip). The mouse wheel over the probe's-eye image scrolls it \
                 (Shift: 5 mm per notch).",
            );
            ui.add(
                egui::Slider::new(&mut self.angle_deg, -180.0..=180.0)
                    .text("Rotate (°)")
                    .fixed_decimals(0),
            )
            .on_hover_text(
                "Turns the in-plane image about the probe. 0° = the plane closest to the patient's \
                 left–right (anterior–posterior for a probe running left–right).",
            );
            ui.add(
                egui::Slider::new(&mut self.zoom, ZOOM_RANGE.0..=ZOOM_RANGE.1)
                    .text("Zoom")
                    .logarithmic(true)
                    .fixed_decimals(2),
            )
            .on_hover_text("Ctrl + wheel over an image zooms too.");
            if ui.button("Reset view").clicked() {
                self.angle_deg = 0.0;
                self.zoom = 1.0;
                self.shown = None;
            }
        });
    }

    fn pane(
        &mut self,
        ui: &mut egui::Ui,
        f: &Frame<'_>,
        pane: Pane,
        side: f32,
        cmds: Option<&mut Vec<Command>>,
    ) {
        let plane = match pane {
            Pane::InPlane => f.in_plane,
            Pane::Eye => f.eye,
        };
        // Only the in-plane image shows probes along their length, so only there can they be
        // dragged.
        let editable = pane == Pane::InPlane && cmds.is_some();
        let sense = if editable {
            Sense::click_and_drag()
        } else {
            Sense::hover()
        };
        let (rect, response) = ui.allocate_exact_size(Vec2::splat(side), sense);
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, pane.label()));

        let ct = self.ct_texture(ui.ctx(), f, pane, &plane);
        self.update_overlay(ui.ctx(), f, pane, &plane);

        let painter = ui.painter_at(rect);
        let map = PixelMap { rect, plane };
        let full_uv = Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0));
        painter.image(ct, rect, full_uv, Color32::WHITE);
        let cache = &self.panes[pane.index()];
        if let Some(t) = &cache.overlay {
            painter.image(t.id(), rect, full_uv, Color32::WHITE);
        }
        for (colour, width, segs) in &cache.outlines {
            let stroke = Stroke::new(*width, *colour);
            for [a, b] in segs {
                painter.line_segment([map.pos_f32(*a), map.pos_f32(*b)], stroke);
            }
        }
        let to_screen = |u: f64, v: f64| {
            let p = map.pos([u, v]);
            [f64::from(p.x), f64::from(p.y)]
        };
        if let Some(z) = &f.zone {
            draw_isolines(&painter, &cache.isolines, z.outdated, &to_screen);
        }
        if let Some(c) = f.cryo {
            draw_isotherm_lines(&painter, &cache.isotherms, c, &to_screen);
        }
        draw_reference_line(&painter, &map, f, pane);
        if pane == Pane::InPlane
            && let Some(marks) = f.paths.get(f.shown)
        {
            // The shown probe's path check along it (it lies in this image by construction).
            let project = |p: &PatientPos| (map.pos(plane.project(p).px), 0.0);
            super::trajectory_ui::draw_paths(&painter, std::slice::from_ref(marks), Some(0), &project);
        }
        draw_probes(&painter, &map, f.probes, f.shown);
        if editable {
            draw_handles(&painter, &map, f.probes);
        }
        let wide = rect.width() > LEGEND_MIN_WIDTH;
        if let Some(z) = &f.zone
            && cache.zone_shown
            && wide
        {
            super::plan_draw::draw_legend(&painter, rect, z);
        }
        if let Some(c) = f.cryo
            && cache.cryo_shown
            && wide
        {
            super::cryo_ui::draw_legend(&painter, rect, c);
        }
        if editable && let Some(cmds) = cmds {
            self.drag_input(ui, &response, &map, f, cmds);
        }
        draw_orientation(&painter, &map);
        scale_bar(&painter, rect, map.points_per_mm(), BarPlace::BottomLeft);
        painter.rect_stroke(
            rect,
            0.0,
            Stroke::new(1.5, pane.colour()),
            egui::StrokeKind::Inside,
        );

        let hover_hu = response.hover_pos().and_then(|p| {
            let px = map.px_of(p);
            let r = self.panes[pane.index()].reslice.as_ref()?;
            let (c, row) = (px[0].floor(), px[1].floor());
            if c < 0.0 || row < 0.0 || c >= plane.width as f64 || row >= plane.height as f64 {
                return None;
            }
            let n = row as usize * plane.width + c as usize;
            r.inside
                .get(n)
                .copied()
                .unwrap_or(false)
                .then(|| r.image.hu.get(n).copied())?
        });
        if response.hovered() {
            self.handle_wheel(ui, pane);
        }

        let title = match pane {
            Pane::InPlane => format!("In-plane · rotated {:.0}°", self.angle_deg),
            Pane::Eye if self.depth_mm >= 0.0 => {
                format!("Probe's-eye · {:.1} mm from the tip", self.depth_mm)
            }
            Pane::Eye => format!("Probe's-eye · {:.1} mm beyond the tip", -self.depth_mm),
        };
        ui.label(egui::RichText::new(title).color(pane.colour()));
        let detail = match hover_hu {
            Some(hu) => format!("{hu} HU under the pointer"),
            None => format!(
                "{:.0} mm field, {:.2} mm pixels",
                plane.size_mm()[0],
                plane.pixel_mm[0]
            ),
        };
        ui.label(egui::RichText::new(detail).small().weak());
    }

    /// Left-button drags in the in-plane image: press on the tip, the entry or the shaft of a probe
    /// lying in the image's plane and drag to move that part (the shaft moves the whole probe).
    fn drag_input(
        &mut self,
        ui: &egui::Ui,
        response: &egui::Response,
        map: &PixelMap,
        f: &Frame<'_>,
        cmds: &mut Vec<Command>,
    ) {
        let pointer = response.interact_pointer_pos();
        if response.drag_started_by(PointerButton::Primary) {
            // The drag starts where the button went down, not where the threshold was crossed.
            let Some(origin) = ui.input(|i| i.pointer.press_origin()).or(pointer) else {
                return;
            };
            self.drag = draggable_part(f.probes, f.shown, map, origin).and_then(|(index, part)| {
                Some(Drag {
                    index,
                    part,
                    start_pointer_lps: map.plane.lps_at(map.px_of(origin)),
                    start: f.probes.get(index)?.clone(),
                    plane: map.plane,
                })
            });
            self.drag_to(map, pointer, cmds);
        } else if response.dragged_by(PointerButton::Primary) {
            self.drag_to(map, pointer, cmds);
        } else if response.drag_stopped_by(PointerButton::Primary) && self.drag.is_some() {
            self.drag_to(map, pointer, cmds);
            self.drag = None;
            cmds.push(Command::EndDrag);
        } else if self.drag.is_none()
            && let Some(pos) = response.hover_pos()
            && draggable_part(f.probes, f.shown, map, pos).is_some()
        {
            ui.ctx().set_cursor_icon(egui::CursorIcon::Grab);
        }
    }

    /// Moves the dragged part to follow the pointer. The pointer is read on the plane the drag
    /// started on, so the move stays in that plane.
    fn drag_to(&self, map: &PixelMap, pointer: Option<Pos2>, cmds: &mut Vec<Command>) {
        let (Some(d), Some(pos)) = (&self.drag, pointer) else {
            return;
        };
        let frozen = PixelMap {
            rect: map.rect,
            plane: d.plane,
        };
        let delta = frozen.plane.lps_at(frozen.px_of(pos)) - d.start_pointer_lps;
        let (tip_lps, entry_lps) = moved(&d.start, d.part, delta);
        cmds.push(Command::MoveProbe {
            index: d.index,
            tip_lps,
            entry_lps,
        });
    }

    /// Wheel over the probe's-eye image scrolls the depth (forward = deeper, towards and past the
    /// tip); Ctrl + wheel (or a pinch) over either image zooms.
    fn handle_wheel(&mut self, ui: &mut egui::Ui, pane: Pane) {
        let zoom = ui.input(|i| i.zoom_delta());
        if (zoom - 1.0).abs() > 1e-4 {
            self.zoom = (self.zoom * f64::from(zoom)).clamp(ZOOM_RANGE.0, ZOOM_RANGE.1);
            return;
        }
        if pane != Pane::Eye {
            return;
        }
        let notches = wheel_notches(ui, &mut self.wheel_points, 5, true);
        if notches != 0 {
            // Wheel forward (positive delta) pushes the plane deeper: towards the tip.
            self.depth_mm -= notches as f64 * DEPTH_PER_NOTCH_MM;
            // The wheel was used here; keep an enclosing scroll area from scrolling too.
            ui.input_mut(|i| i.smooth_scroll_delta = Vec2::ZERO);
        }
    }

    /// The CT texture of a pane: resliced on a new volume or plane, re-coloured on a new window.
    fn ct_texture(
        &mut self,
        ctx: &egui::Context,
        f: &Frame<'_>,
        pane: Pane,
        plane: &ObliquePlane,
    ) -> egui::TextureId {
        let hu_key = {
            let mut h = DefaultHasher::new();
            f.volume_generation.hash(&mut h);
            hash_plane(&mut h, plane);
            h.finish()
        };
        let ct_key = {
            let mut h = DefaultHasher::new();
            hu_key.hash(&mut h);
            f.window.center_hu.to_bits().hash(&mut h);
            f.window.width_hu.to_bits().hash(&mut h);
            h.finish()
        };
        let cache = &mut self.panes[pane.index()];
        if cache.hu_key != Some(hu_key) || cache.reslice.is_none() {
            cache.reslice = Some(reslice_volume(f.volume, plane));
            cache.hu_key = Some(hu_key);
            self.reslice_count += 1;
        }
        if cache.ct_key == Some(ct_key)
            && let Some(t) = &cache.ct
        {
            return t.id();
        }
        if !matches!(&self.lut, Some((w, _)) if *w == f.window) {
            self.lut = Some((f.window, WlLut::new(f.window)));
        }
        if let (Some(r), Some((_, lut))) = (&cache.reslice, &self.lut) {
            render_reslice(r, lut, &mut self.rgba);
        }
        let image = egui::ColorImage::from_rgba_unmultiplied([plane.width, plane.height], &self.rgba);
        cache.ct_key = Some(ct_key);
        match &mut cache.ct {
            Some(t) => {
                t.set(image, egui::TextureOptions::LINEAR);
                t.id()
            }
            None => {
                let t = ctx.load_texture(
                    format!("probe-view-ct-{}", pane.index()),
                    image,
                    egui::TextureOptions::LINEAR,
                );
                let id = t.id();
                cache.ct = Some(t);
                id
            }
        }
    }

    /// Structure fills and outlines, the zone with its isolines and the cryo overlay, sampled
    /// again only when the plane, a visible structure, the zone or the cryo result changed.
    fn update_overlay(&mut self, ctx: &egui::Context, f: &Frame<'_>, pane: Pane, plane: &ObliquePlane) {
        let key = {
            let mut h = DefaultHasher::new();
            f.volume_generation.hash(&mut h);
            hash_plane(&mut h, plane);
            for s in f.structures {
                (s.uid(), s.revision(), s.visible, s.colour, s.opacity.to_bits()).hash(&mut h);
            }
            zone_key(f.zone.map(|z| z.result)).hash(&mut h);
            if let Some(z) = &f.zone {
                (z.id, z.outdated).hash(&mut h);
                for l in z.isolines_v_per_cm {
                    l.to_bits().hash(&mut h);
                }
            }
            if let Some(c) = f.cryo {
                (c.id, c.snapshot, c.outdated, c.preview.is_some()).hash(&mut h);
                c.lethal_c.to_bits().hash(&mut h);
                for t in &c.isotherms_c {
                    t.to_bits().hash(&mut h);
                }
            }
            h.finish()
        };
        let cache = &mut self.panes[pane.index()];
        if cache.overlay_key == Some(key) {
            return;
        }
        self.overlay_count += 1;
        cache.overlay_key = Some(key);

        let visible: Vec<&Structure> = f.structures.iter().filter(|s| s.visible).collect();
        let mut masks: Vec<(Vec<bool>, [u8; 3], f32, f32)> = Vec::new();
        if !visible.is_empty() {
            let pv = plane_voxels(&f.volume.geometry, plane);
            for s in visible {
                masks.push((sample_mask(s.mask(), &pv), s.colour, s.opacity, 1.5));
            }
        }
        cache.isolines = Vec::new();
        cache.isotherms = Vec::new();
        cache.zone_shown = false;
        cache.cryo_shown = false;
        if let Some(z) = &f.zone {
            let zone = sample_plane_with(plane, |p| z.result.in_zone(&p));
            cache.isolines = plane_isolines(z.result, plane, z.isolines_v_per_cm);
            cache.zone_shown =
                zone.iter().any(|b| *b) || cache.isolines.iter().any(|(_, segs)| !segs.is_empty());
            masks.push((zone, ZONE_COLOUR, ZONE_FILL_ALPHA, 2.5));
        }
        let mut lethal_fill = None;
        if let Some(c) = f.cryo {
            let iso = plane_isotherms(c, plane);
            cache.cryo_shown =
                iso.lethal.iter().any(|b| *b) || iso.lines.iter().any(|(_, segs)| !segs.is_empty());
            cache.isotherms = iso.lines;
            lethal_fill = Some(iso.lethal);
        }
        masks.retain(|(m, ..)| m.iter().any(|b| *b));

        cache.outlines = masks
            .iter()
            .map(|(m, c, _, w)| {
                (
                    Color32::from_rgb(c[0], c[1], c[2]),
                    *w,
                    outline_segments(m, plane.width, plane.height),
                )
            })
            .collect();
        // The lethal zone is filled without an outline (its isotherm is drawn), as in the slice views.
        let lethal_fill = lethal_fill.filter(|m| m.iter().any(|b| *b));
        if masks.is_empty() && lethal_fill.is_none() {
            cache.overlay = None;
            return;
        }
        let mut layers: Vec<(&[bool], [u8; 3], f32)> =
            masks.iter().map(|(m, c, a, _)| (m.as_slice(), *c, *a)).collect();
        if let (Some(m), Some(c)) = (&lethal_fill, f.cryo) {
            let alpha = if c.outdated {
                LETHAL_FILL_ALPHA * 0.5
            } else {
                LETHAL_FILL_ALPHA
            };
            layers.push((m.as_slice(), lethal_rgb(c), alpha));
        }
        let rgba = composite_masks(plane.width, plane.height, &layers);
        let image = egui::ColorImage::from_rgba_premultiplied([plane.width, plane.height], &rgba);
        // Nearest sampling keeps the voxel edges crisp, matching the outlines.
        match &mut cache.overlay {
            Some(t) => t.set(image, egui::TextureOptions::NEAREST),
            None => {
                cache.overlay = Some(ctx.load_texture(
                    format!("probe-view-overlay-{}", pane.index()),
                    image,
                    egui::TextureOptions::NEAREST,
                ));
            }
        }
    }
}
