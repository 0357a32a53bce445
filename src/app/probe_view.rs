//! The along-probe view: the CT resliced on the plane containing a probe (in-plane) and on the
//! plane perpendicular to it (probe's-eye, scrollable along the probe), with the probes,
//! structures, the IRE zone and the cut of each plane in the other drawn on top.
//!
//! Sampling is done by `render::reslice` (pure, tested without a window); this file only caches
//! textures and draws. Images are re-rendered only when what they show changes: the CT texture
//! on a new volume, plane or window; the overlay on a new plane, structure revision or zone.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use eframe::egui::{self, Align2, Color32, Pos2, Rect, Sense, Stroke, Vec2};

use super::views::{BarPlace, scale_bar, shadow_text, wheel_notches};

use crate::anatomy::Structure;
use crate::geometry::orientation_label;
use crate::physics::ire::model::IreResult;
use crate::plan::probe::Probe;
use crate::render::overlay::{Segment, composite_masks, outline_segments};
use crate::render::reslice::{
    DEFAULT_FIELD_OF_VIEW_MM, ObliquePlane, ProbePlaneOptions, Reslice, in_plane_for_probe, plane_voxels,
    probes_eye_for_probe, render_reslice, reslice_volume, sample_mask, sample_plane_with,
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

    /// Draws the view: controls, then the in-plane and probe's-eye images side by side.
    /// `volume_generation` identifies the volume (the app bumps it on every load), so that cached
    /// images are never reused across volumes.
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
        let Some(idx) = self.shown_probe(probes.len(), selected) else {
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
        let planes = in_plane_for_probe(probe, &volume.geometry, &opts)
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
            window,
            in_plane,
            eye,
        };
        ui.horizontal_top(|ui| {
            for pane in [Pane::InPlane, Pane::Eye] {
                ui.vertical(|ui| {
                    ui.set_width(side);
                    self.pane(ui, &ctx, pane, side);
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

    fn pane(&mut self, ui: &mut egui::Ui, f: &Frame<'_>, pane: Pane, side: f32) {
        let plane = match pane {
            Pane::InPlane => f.in_plane,
            Pane::Eye => f.eye,
        };
        let (rect, response) = ui.allocate_exact_size(Vec2::splat(side), Sense::hover());
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
        draw_reference_line(&painter, &map, f, pane);
        draw_probes(&painter, &map, f.probes, f.shown);
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

    /// Structure fills and outlines and the zone, sampled again only when the plane, a visible
    /// structure or the zone changed.
    fn update_overlay(&mut self, ctx: &egui::Context, f: &Frame<'_>, pane: Pane, plane: &ObliquePlane) {
        let key = {
            let mut h = DefaultHasher::new();
            f.volume_generation.hash(&mut h);
            hash_plane(&mut h, plane);
            for s in f.structures {
                (s.uid(), s.revision(), s.visible, s.colour, s.opacity.to_bits()).hash(&mut h);
            }
            zone_key(f.zone).hash(&mut h);
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
        if let Some(z) = f.zone {
            masks.push((
                sample_plane_with(plane, |p| z.in_zone(&p)),
                ZONE_COLOUR,
                ZONE_FILL_ALPHA,
                2.5,
            ));
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
        if masks.is_empty() {
            cache.overlay = None;
            return;
        }
        let layers: Vec<(&[bool], [u8; 3], f32)> =
            masks.iter().map(|(m, c, a, _)| (m.as_slice(), *c, *a)).collect();
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
    zone: Option<&'a IreResult>,
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
