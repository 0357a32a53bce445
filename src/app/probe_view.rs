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
use super::views::{BarPlace, scale_bar, shadow_text, wheel_notches};

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

/// How far beyond the tip the probe's-eye plane can go (mm): the zone reaches ~1 cm past the
/// tip, plus room to see what lies ahead.
const BEYOND_TIP_MM: f64 = 40.0;
/// Zoom 1 = [`DEFAULT_FIELD_OF_VIEW_MM`]; the range keeps 20–160 mm on screen.
const ZOOM_RANGE: (f64, f64) = (0.5, 4.0);
/// Depth step of one wheel notch (mm); Shift scrolls five times faster.
const DEPTH_PER_NOTCH_MM: f64 = 1.0;

const ZONE_COLOUR: [u8; 3] = [255, 140, 0];
const ZONE_FILL_ALPHA: f32 = 0.22;
/// Frame and reference-line colours of the two images: each image's cut is drawn in the other
/// in its colour (as the MPR views draw their reference lines).
const IN_PLANE_COLOUR: Color32 = Color32::from_rgb(110, 170, 255);
const EYE_COLOUR: Color32 = Color32::from_rgb(230, 110, 230);
const SHAFT_COLOUR: Color32 = Color32::from_rgb(225, 225, 225);
const EXPOSED_COLOUR: Color32 = Color32::from_rgb(255, 205, 50);
const TIP_COLOUR: Color32 = Color32::from_rgb(255, 80, 60);
const OTHER_SHAFT_COLOUR: Color32 = Color32::from_rgb(120, 200, 230);
const OTHER_EXPOSED_COLOUR: Color32 = Color32::from_rgb(80, 230, 200);
/// Size of the labels drawn on the images (points).
const LABEL_PT: f32 = 11.0;
/// Handles of the probes that can be dragged in the in-plane image.
const HANDLE_COLOUR: Color32 = Color32::from_rgb(90, 230, 255);
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

/// Everything one frame draws from.
struct Frame<'a> {
    volume: &'a Volume,
    volume_generation: u64,
    structures: &'a [Structure],
    probes: &'a [Probe],
    shown: usize,
    zone: Option<ZoneRef<'a>>,
    cryo: Option<&'a CryoView>,
    window: WindowLevel,
    in_plane: ObliquePlane,
    eye: ObliquePlane,
}

/// Image pixel coordinates ↔ screen points for one pane.
struct PixelMap {
    rect: Rect,
    plane: ObliquePlane,
}

impl PixelMap {
    fn pos(&self, px: [f64; 2]) -> Pos2 {
        Pos2::new(
            self.rect.min.x + (px[0] / self.plane.width as f64) as f32 * self.rect.width(),
            self.rect.min.y + (px[1] / self.plane.height as f64) as f32 * self.rect.height(),
        )
    }

    fn pos_f32(&self, px: [f32; 2]) -> Pos2 {
        self.pos([f64::from(px[0]), f64::from(px[1])])
    }

    fn px_of(&self, p: Pos2) -> [f64; 2] {
        [
            f64::from((p.x - self.rect.min.x) / self.rect.width()) * self.plane.width as f64,
            f64::from((p.y - self.rect.min.y) / self.rect.height()) * self.plane.height as f64,
        ]
    }

    fn points_per_mm(&self) -> f64 {
        f64::from(self.rect.width()) / self.plane.size_mm()[0]
    }
}

/// The other pane's plane as a line. Both images share the horizontal direction (across the
/// probe), so both cuts are horizontal: on the in-plane image the depth of the probe's-eye plane
/// (rows run along the probe), on the probe's-eye image the in-plane image's plane (the row
/// through the axis).
fn draw_reference_line(painter: &egui::Painter, map: &PixelMap, f: &Frame<'_>, pane: Pane) {
    let (w, h) = (map.plane.width as f64, map.plane.height as f64);
    let (other_centre, colour, label) = match pane {
        Pane::InPlane => (f.eye.centre_lps, EYE_COLOUR, "probe's-eye"),
        Pane::Eye => (f.in_plane.centre_lps, IN_PLANE_COLOUR, "in-plane"),
    };
    let v = map.plane.project(&other_centre).px[1];
    if !(0.0..=h).contains(&v) {
        return;
    }
    let (a, b) = (map.pos([0.0, v]), map.pos([w, v]));
    let stroke = Stroke::new(1.2, colour.gamma_multiply(0.85));
    painter.extend(egui::Shape::dashed_line(&[a, b], stroke, 6.0, 4.0));
    shadow_text(
        painter,
        b + Vec2::new(-4.0, -2.0),
        Align2::RIGHT_BOTTOM,
        label,
        LABEL_PT,
        colour,
    );
}

/// Every probe: projected shaft and exposed part, where each crosses the plane, the tip, and
/// the label. The shown probe is drawn last, brightest.
fn draw_probes(painter: &egui::Painter, map: &PixelMap, probes: &[Probe], shown: usize) {
    let order = (0..probes.len())
        .filter(|i| *i != shown)
        .chain(std::iter::once(shown));
    for i in order {
        let Some(p) = probes.get(i) else { continue };
        let (Ok(exposed), Ok(shaft)) = (p.exposed_segment(), p.shaft_segment()) else {
            continue;
        };
        let main = i == shown;
        let (shaft_c, exposed_c) = if main {
            (SHAFT_COLOUR, EXPOSED_COLOUR)
        } else {
            (OTHER_SHAFT_COLOUR, OTHER_EXPOSED_COLOUR)
        };
        let plane = &map.plane;
        let tip = plane.project(&p.tip_lps);
        let seg_px = |a: &crate::geometry::PatientPos, b: &crate::geometry::PatientPos| {
            [map.pos(plane.project(a).px), map.pos(plane.project(b).px)]
        };
        // Projections: solid for the shown probe (it lies in the in-plane image), dashed for the
        // others (they are generally off the plane; their crossings are marked below).
        let line = |pts: [Pos2; 2], c: Color32, width: f32| {
            if (pts[1] - pts[0]).length() < 1.0 {
                return;
            }
            if main {
                painter.line_segment(pts, Stroke::new(width, c));
            } else {
                painter.extend(egui::Shape::dashed_line(&pts, Stroke::new(width, c), 5.0, 4.0));
            }
        };
        line(
            seg_px(&shaft.start, &shaft.end),
            shaft_c,
            if main { 2.0 } else { 1.2 },
        );
        line(
            seg_px(&exposed.start, &exposed.end),
            exposed_c,
            if main { 4.0 } else { 2.5 },
        );

        // Crossings with the plane (a probe in the plane has none: its projection is exact).
        for (seg, c) in [(&shaft, shaft_c), (&exposed, exposed_c)] {
            if let Some(x) = plane.segment_crossing(&seg.start, &seg.end) {
                let at = map.pos(x);
                painter.circle_filled(at, 4.0, c);
                painter.circle_stroke(at, 4.0, Stroke::new(1.0, Color32::BLACK));
            }
        }
        let tip_at = map.pos(tip.px);
        // The tip: filled when it lies on the image's plane (within a pixel), hollow otherwise.
        if tip.dist_mm.abs() <= plane.pixel_mm[0] {
            painter.circle_filled(tip_at, 3.5, TIP_COLOUR);
        } else {
            painter.circle_stroke(tip_at, 3.5, Stroke::new(1.5, TIP_COLOUR.gamma_multiply(0.8)));
        }
        if map.rect.contains(tip_at) {
            let name = probe_name(probes, i);
            shadow_text(
                painter,
                tip_at + Vec2::new(6.0, 2.0),
                Align2::LEFT_TOP,
                &name,
                LABEL_PT,
                exposed_c,
            );
        }
    }
}

/// Orientation letters at the four edges (oblique directions get two or three letters).
fn draw_orientation(painter: &egui::Painter, map: &PixelMap) {
    let (u, v) = (map.plane.u_dir, map.plane.v_dir);
    let r = map.rect;
    let col = Color32::from_gray(230);
    let items = [
        (
            orientation_label(&-u),
            Pos2::new(r.min.x + 4.0, r.center().y),
            Align2::LEFT_CENTER,
        ),
        (
            orientation_label(&u),
            Pos2::new(r.max.x - 4.0, r.center().y),
            Align2::RIGHT_CENTER,
        ),
        (
            orientation_label(&-v),
            Pos2::new(r.center().x, r.min.y + 3.0),
            Align2::CENTER_TOP,
        ),
        (
            orientation_label(&v),
            Pos2::new(r.center().x, r.max.y - 3.0),
            Align2::CENTER_BOTTOM,
        ),
    ];
    for (text, at, anchor) in items {
        shadow_text(painter, at, anchor, &text, LABEL_PT, col);
    }
}

/// Whether `p` lies on the plane: within one pixel, as the tip marker is filled.
fn on_plane(plane: &ObliquePlane, p: &PatientPos) -> bool {
    plane.project(p).dist_mm.abs() <= plane.pixel_mm[0].max(plane.pixel_mm[1])
}

/// The probe part under `pos` (screen points) that may be dragged in the in-plane image: a tip or
/// an entry lying on the image's plane, or the shaft of a probe lying in it (both ends on it). The
/// shown probe wins, handles over shafts ([`hit_test`], as in the slice views).
fn draggable_part(probes: &[Probe], shown: usize, map: &PixelMap, pos: Pos2) -> Option<(usize, ProbePart)> {
    let plane = &map.plane;
    let screen = |p: &PatientPos| {
        let q = map.pos(plane.project(p).px);
        [f64::from(q.x), f64::from(q.y)]
    };
    let candidates: Vec<ProbeOnScreen> = probes
        .iter()
        .enumerate()
        .filter(|(_, p)| on_plane(plane, &p.tip_lps) || on_plane(plane, &p.entry_lps))
        .map(|(index, p)| ProbeOnScreen {
            index,
            tip: screen(&p.tip_lps),
            entry: screen(&p.entry_lps),
        })
        .collect();
    let (index, part) = hit_test(
        &candidates,
        Some(shown),
        [f64::from(pos.x), f64::from(pos.y)],
        HANDLE_RADIUS,
    )?;
    let p = probes.get(index)?;
    let allowed = match part {
        ProbePart::Tip => on_plane(plane, &p.tip_lps),
        ProbePart::Entry => on_plane(plane, &p.entry_lps),
        ProbePart::Whole => on_plane(plane, &p.tip_lps) && on_plane(plane, &p.entry_lps),
    };
    allowed.then_some((index, part))
}

/// The drag handles of the probes lying in the in-plane image: rings on the tips and entries on
/// its plane, a square on the middle of the shafts lying in it.
fn draw_handles(painter: &egui::Painter, map: &PixelMap, probes: &[Probe]) {
    let stroke = Stroke::new(1.5, HANDLE_COLOUR);
    for p in probes {
        let (tip, entry) = (
            on_plane(&map.plane, &p.tip_lps),
            on_plane(&map.plane, &p.entry_lps),
        );
        let at = |q: &PatientPos| map.pos(map.plane.project(q).px);
        if tip {
            painter.circle_stroke(at(&p.tip_lps), 6.0, stroke);
        }
        if entry {
            painter.circle_stroke(at(&p.entry_lps), 5.0, stroke);
        }
        if tip && entry {
            let mid = at(&nalgebra::center(&p.tip_lps, &p.entry_lps));
            painter.rect_stroke(
                Rect::from_center_size(mid, Vec2::splat(8.0)),
                0.0,
                stroke,
                egui::StrokeKind::Middle,
            );
        }
    }
}

/// The cryo isotherm outlines, each in its temperature's colour (fainter when outdated; the
/// preview dotted so that it is never taken for the model), as the slice views draw them.
fn draw_isotherm_lines(
    painter: &egui::Painter,
    lines: &[(f64, Vec<IsoSegment>)],
    v: &CryoView,
    to_screen: &dyn Fn(f64, f64) -> [f64; 2],
) {
    let dotted = v.preview.is_some();
    let alpha = if v.outdated { 0.5 } else { 1.0 };
    let to_pos = |x: f32, y: f32| {
        let p = to_screen(f64::from(x), f64::from(y));
        Pos2::new(p[0] as f32, p[1] as f32)
    };
    for (t, segs) in lines {
        let stroke = Stroke::new(
            if dotted { 1.0 } else { 1.5 },
            isotherm_colour(*t).gamma_multiply(alpha),
        );
        for (n, s) in segs.iter().enumerate() {
            if dotted && n % 2 == 1 {
                continue;
            }
            painter.line_segment([to_pos(s[0][0], s[0][1]), to_pos(s[1][0], s[1][1])], stroke);
        }
    }
}

/// The lethal zone's fill colour: the last line of the cryo legend names it, in its colour.
fn lethal_rgb(v: &CryoView) -> [u8; 3] {
    v.legend()
        .last()
        .map_or([40, 90, 255], |(_, c)| [c.r(), c.g(), c.b()])
}

/// The part of a plane's image that a model grid can reach (the pixels covering the projection
/// of the grid's box, one more on each side), as a lattice of pixel centres: sampling a field
/// there instead of over the whole image keeps live drags cheap.
struct Lattice {
    origin: PatientPos,
    du: Vector3<f64>,
    dv: Vector3<f64>,
    u0: usize,
    v0: usize,
    w: usize,
    h: usize,
}

impl Lattice {
    /// `None` when the plane misses the grid's box.
    fn of(grid: &ComputeGrid, plane: &ObliquePlane) -> Option<Self> {
        let d = grid.dims;
        if d.contains(&0) {
            return None;
        }
        let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
        for corner in 0..8 {
            let ijk = [0, 1, 2].map(|a| if corner & (1 << a) != 0 { d[a] - 1 } else { 0 });
            let q = plane.project(&grid.lps(ijk[0], ijk[1], ijk[2]));
            for (n, x) in [q.px[0], q.px[1], q.dist_mm].into_iter().enumerate() {
                lo[n] = lo[n].min(x);
                hi[n] = hi[n].max(x);
            }
        }
        // Half a grid step of slack: fields are interpolated out to there.
        let slack = 0.5 * grid.spacing_mm;
        if !(lo.iter().chain(&hi).all(|x| x.is_finite()) && lo[2] <= slack && hi[2] >= -slack) {
            return None;
        }
        let clamp = |x: f64, n: usize| x.clamp(0.0, n as f64) as usize;
        let (u0, v0) = (
            clamp(lo[0].floor() - 1.0, plane.width),
            clamp(lo[1].floor() - 1.0, plane.height),
        );
        let (u1, v1) = (
            clamp(hi[0].ceil() + 1.0, plane.width),
            clamp(hi[1].ceil() + 1.0, plane.height),
        );
        (u1 > u0 && v1 > v0).then(|| Lattice {
            origin: plane.pixel_centre_lps(u0, v0),
            du: plane.u_dir * plane.pixel_mm[0],
            dv: plane.v_dir * plane.pixel_mm[1],
            u0,
            v0,
            w: u1 - u0,
            h: v1 - v0,
        })
    }

    fn sample<T: Send>(&self, f: impl Fn(PatientPos) -> T + Sync) -> Vec<T> {
        sample_lattice_with(&self.origin, &self.du, &self.dv, [self.w, self.h], f)
    }

    /// Segments in lattice coordinates (node = pixel centre) → image pixel coordinates.
    fn to_image(&self, segs: Vec<IsoSegment>) -> Vec<IsoSegment> {
        let (du, dv) = (self.u0 as f32 + 0.5, self.v0 as f32 + 0.5);
        segs.into_iter()
            .map(|s| s.map(|p| [p[0] + du, p[1] + dv]))
            .collect()
    }

    /// A lattice mask placed in a mask of the whole image.
    fn to_full(&self, mask: &[bool], plane: &ObliquePlane) -> Vec<bool> {
        let mut out = vec![false; plane.pixel_count()];
        for (y, row) in mask.chunks_exact(self.w).enumerate() {
            let start = (self.v0 + y) * plane.width + self.u0;
            out[start..start + self.w].copy_from_slice(row);
        }
        out
    }
}

/// The |E| isolines of an IRE result on a plane, as the slice views draw them: (index of the
/// level in `levels_v_per_cm`, which picks its colour, segments in the plane's pixel coordinates).
/// Empty when the plane misses the model grid.
pub fn plane_isolines(
    result: &IreResult,
    plane: &ObliquePlane,
    levels_v_per_cm: &[f64],
) -> Vec<(usize, Vec<IsoSegment>)> {
    let Some(l) = Lattice::of(&result.grid, plane) else {
        return Vec::new();
    };
    let values = l.sample(|p| result.max_e_at(&p).unwrap_or(0.0));
    isoline_segments(&values, l.w, l.h, levels_v_per_cm)
        .into_iter()
        .map(|(n, segs)| (n, l.to_image(segs)))
        .collect()
}

/// The cryo overlay of a plane.
pub(crate) struct PlaneIsotherms {
    /// (temperature, outline segments in the plane's pixel coordinates) per drawn isotherm.
    pub lines: Vec<(f64, Vec<IsoSegment>)>,
    /// The lethal zone over the whole image (row-major).
    pub lethal: Vec<bool>,
}

/// The isotherms and the lethal zone of what the slice views show (a full result at its
/// snapshot, or the preview's ellipsoids) on a plane, sampled as the slice views sample them.
pub(crate) fn plane_isotherms(v: &CryoView, plane: &ObliquePlane) -> PlaneIsotherms {
    let empty = || PlaneIsotherms {
        lines: Vec::new(),
        lethal: vec![false; plane.pixel_count()],
    };
    let grid = match (&v.result, &v.preview) {
        (Some(r), _) => &r.grid,
        (None, Some(p)) => &p.grid,
        (None, None) => return empty(),
    };
    let Some(l) = Lattice::of(grid, plane) else {
        return empty();
    };
    let none = || vec![false; l.w * l.h];
    let (lines, fill) = match (&v.result, &v.preview) {
        (Some(r), _) => {
            let temps = l.sample(|p| r.temperature_at(v.snapshot, &p).unwrap_or(OUTSIDE_C));
            let lines = v
                .isotherms_c
                .iter()
                .map(|t| (*t, l.to_image(marching_squares(&temps, l.w, l.h, *t as f32))))
                .collect();
            let fill = match &v.lethal {
                Some(f) => l.sample(|p| trilinear_i16(&r.grid, f, &p).is_some_and(|x| x >= 50.0)),
                None => none(),
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
                    let mask = l.sample(|p| pv.contains(i, &p));
                    Some((*t, l.to_image(mask_outline(&mask, l.w, l.h))))
                })
                .collect();
            let fill = match index(v.lethal_c) {
                Some(i) => l.sample(|p| pv.contains(i, &p)),
                None => none(),
            };
            (lines, fill)
        }
        (None, None) => return empty(),
    };
    PlaneIsotherms {
        lines,
        lethal: l.to_full(&fill, plane),
    }
}

/// The probe's label, or its number when it has none.
fn probe_name(probes: &[Probe], i: usize) -> String {
    match probes.get(i) {
        Some(p) if !p.label.trim().is_empty() => p.label.clone(),
        _ => format!("{}", i + 1),
    }
}

fn hash_plane(h: &mut DefaultHasher, p: &ObliquePlane) {
    for v in p
        .centre_lps
        .iter()
        .chain(p.u_dir.iter())
        .chain(p.v_dir.iter())
        .chain(p.pixel_mm.iter())
    {
        v.to_bits().hash(h);
    }
    (p.width, p.height).hash(h);
}

/// Identity of a zone result: its buffers and summary numbers (a new result is a new
/// allocation, and a recomputed one has a new elapsed time).
fn zone_key(z: Option<&IreResult>) -> u64 {
    let mut h = DefaultHasher::new();
    if let Some(z) = z {
        (
            z.zone.as_ptr() as usize,
            z.zone.len(),
            z.max_e_v_per_cm.as_ptr() as usize,
        )
            .hash(&mut h);
        (z.zone_volume_ml.to_bits(), z.elapsed_s.to_bits(), z.preview).hash(&mut h);
    }
    h.finish()
}
