//! The MPR slice views: image (CPU-rendered with the W/L LUT), linked crosshair and reference
//! lines, corner annotations, orientation letters, scale bar, rulers, and mouse/keyboard input
//! turned into commands.

use eframe::egui::{
    self, Align2, Color32, FontId, Key, Modifiers, PointerButton, Pos2, Rect, Sense, Stroke, Vec2,
};

use super::command::{Command, Tool};
use super::settings::{Layout, MouseMap};
use super::viewer::{Ruler, ViewTransform, Viewer, Window};
use super::widgets::{shadow_text, wheel_notches};
use super::{AblaApp, Loaded};
use crate::geometry::{PatientPos, VolumeGeometry};
use crate::render::{WindowLevel, WlLut, render_slice};
use crate::volume::{SliceImage, SliceMapping, ViewKind, Volume};

mod annotations;
mod keys;
pub(crate) mod overlay_layout;
#[allow(unused_imports)]
pub use annotations::*;
pub use keys::*;

/// Textures and transient interaction state of the views.
#[derive(Default)]
pub struct ViewCache {
    slots: [Option<CachedTexture>; 3],
    lut: Option<(Window, WlLut)>,
    rgba: Vec<u8>,
    wheel_points: f32,
    ruler_start: Option<(ViewKind, PatientPos)>,
    pub hover: Option<Hover>,
    /// The overlay text rectangles drawn last frame per view: (stack index, rectangle).
    pub overlay_rects: Vec<(ViewKind, Vec<(usize, Rect)>)>,
    hovered_view: Option<ViewKind>,
    overlays: [Option<CachedOverlay>; 3],
    zones: [Option<super::plan_draw::ZoneLayer>; 3],
    cryo_layers: [Option<super::cryo_ui::CryoLayer>; 3],
    /// A probe part being dragged with the IRE electrode tool.
    probe_drag: Option<ProbeDrag>,
    /// A probe being placed: the view and the tip (where the button went down).
    probe_place: Option<(ViewKind, PatientPos)>,
    /// The layers drawn in the last frame (review steps hide some).
    pub drawn: super::review::DrawnLayers,
    /// Each view's rectangle (min x, min y, width, height in points) when last drawn: what the
    /// "as on screen" view export crops to.
    pub pane_rects: [Option<[f64; 4]>; 3],
}

/// A drag of a probe's tip, entry or shaft, from where it started.
struct ProbeDrag {
    view: ViewKind,
    index: usize,
    part: super::plan::ProbePart,
    start_pointer_lps: PatientPos,
    start: crate::plan::probe::Probe,
}

/// Structure fill texture and outlines of one view, valid for `key`.
struct CachedOverlay {
    key: u64,
    texture: Option<egui::TextureHandle>,
    outlines: Vec<(Color32, Vec<crate::render::overlay::Segment>)>,
}

struct CachedTexture {
    key: (u64, usize, u64, u64),
    texture: egui::TextureHandle,
}

/// What is under the mouse pointer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hover {
    pub view: ViewKind,
    pub lps: PatientPos,
    pub voxel: Option<[usize; 3]>,
    pub hu: Option<i16>,
}

/// Slicer's colours: axial red, coronal green, sagittal yellow.
pub fn view_colour(v: ViewKind) -> Color32 {
    match v {
        ViewKind::Axial => super::widgets::c32(crate::render::palette::AXIAL),
        ViewKind::Coronal => super::widgets::c32(crate::render::palette::CORONAL),
        ViewKind::Sagittal => super::widgets::c32(crate::render::palette::SAGITTAL),
    }
}

fn slot(v: ViewKind) -> usize {
    super::viewer::view_slot(v)
}

/// Index step that moves "forward" through the stack the way PACS stacks run: axial head to
/// feet, coronal front to back, sagittal right to left — whatever the voxel order on disk.
fn forward_step(g: &VolumeGeometry, m: &SliceMapping) -> i64 {
    let dir = g.axis_dir(m.normal_axis);
    let forward = match m.view {
        ViewKind::Axial => -dir.z,
        ViewKind::Coronal => dir.y,
        ViewKind::Sagittal => dir.x,
    };
    if forward >= 0.0 { 1 } else { -1 }
}

impl AblaApp {
    /// The overlay text rectangles each view drew in the last frame: (stack index, rectangle);
    /// stacks 0–3 are the orientation letters (the bottom one with the scale bar).
    pub fn overlay_rects(&self) -> &[(ViewKind, Vec<(usize, Rect)>)] {
        &self.views.overlay_rects
    }

    /// What hovering `lps` reads out from the shown model (|E| or °C and the verdict).
    pub fn hover_readout_at(&mut self, lps: &PatientPos) -> Vec<String> {
        let cryo = if self.is_cryo_plan() {
            let s = self.plan.cryo_settings();
            super::cryo_ui::cryo_view(&mut self.run, &s, self.plan.revision())
        } else {
            None
        };
        let zone = super::plan_draw::ZoneRef::of(&self.run, &self.plan);
        hover_readout(zone.as_ref(), cryo.as_ref(), lps)
    }
}

pub fn central(app: &mut AblaApp, ui: &mut egui::Ui) {
    let full = ui.max_rect();
    ui.painter().rect_filled(full, 0.0, Color32::BLACK);
    // What the review step shows (every layer outside review stepping).
    let layers = app.layers();
    let compare = app.compare_overlay();
    app.views.drawn = Default::default();
    // The cryo overlay (measured before the views borrow the app).
    let cryo = if app.is_cryo_plan() && layers.zone {
        let s = app.plan.cryo_settings();
        super::cryo_ui::cryo_view(&mut app.run, &s, app.plan.revision())
    } else {
        None
    };
    let (Some(loaded), Some(viewer)) = (app.loaded.as_ref(), app.viewer.as_ref()) else {
        empty_state(app, ui, full);
        drop_hint(ui, full);
        return;
    };
    let goal_mm = app.margin_goal_mm();
    let rects = layout_rects(full, app.settings.layout, viewer.active);
    app.views.hover = None;
    app.views.hovered_view = None;
    let mut cmds = Vec::new();
    for (view, rect) in rects {
        let mut ctx = ViewCtx {
            cryo: cryo.as_ref(),
            loaded,
            viewer,
            cache: &mut app.views,
            tool: app.tool,
            mouse_map: app.settings.mouse_map,
            annotations: app.settings.show_annotations,
            anonymise: app.settings.anonymise,
            structures: &app.structures,
            preview: app
                .click_tools
                .grow
                .preview
                .as_ref()
                .map(|p| (&p.mask, app.click_tools.grow.preview_revision)),
            markers: super::tools::markers(app.tool, &app.click_tools),
            plan: &app.plan,
            layers,
            compare: compare.as_ref(),
            zone: super::plan_draw::ZoneRef::of(&app.run, &app.plan).filter(|_| layers.zone),
            safety: super::safety_ui::SafetyOverlay {
                report: app.safety.report().filter(|_| layers.findings),
                caliper: app.safety.caliper.as_ref().filter(|_| layers.findings),
                probes: &app.plan.probes,
                goal_mm,
            },
            paths: &app.trajectory.marks,
            window: app.trajectory.window.as_ref(),
        };
        ctx.show(ui, view, rect, &mut cmds);
    }
    app.commands.extend(cmds);
    if let Some(rect) = scene_rect(full, app.settings.layout) {
        super::view3d::show(app, ui, rect);
    }
    drop_hint(ui, full);
}

/// While files are dragged over the window, say what dropping will do.
fn drop_hint(ui: &egui::Ui, rect: Rect) {
    let n = ui.ctx().input(|i| i.raw.hovered_files.len());
    if n == 0 {
        return;
    }
    let painter = ui.painter();
    painter.rect_filled(rect, 0.0, Color32::from_black_alpha(170));
    let text = format!("Drop to open {n} item(s) as DICOM (folders are scanned recursively)");
    painter.text(
        rect.center(),
        Align2::CENTER_CENTER,
        text,
        FontId::proportional(20.0),
        Color32::WHITE,
    );
}

fn empty_state(app: &AblaApp, ui: &mut egui::Ui, rect: Rect) {
    let text = if app.is_busy() {
        "Loading…"
    } else {
        "Drop a DICOM folder, file or DICOMDIR here, or use File > Open folder…"
    };
    ui.painter().text(
        rect.center(),
        Align2::CENTER_CENTER,
        text,
        FontId::proportional(18.0),
        Color32::GRAY,
    );
}

/// The quarters of a 2 × 2 layout: top left, top right, bottom left, bottom right.
fn quarters(full: Rect, gap: f32) -> [Rect; 4] {
    let (w, h) = ((full.width() - gap) / 2.0, (full.height() - gap) / 2.0);
    let at = |col: f32, row: f32| {
        Rect::from_min_size(
            Pos2::new(full.min.x + col * (w + gap), full.min.y + row * (h + gap)),
            Vec2::new(w, h),
        )
    };
    [at(0.0, 0.0), at(1.0, 0.0), at(0.0, 1.0), at(1.0, 1.0)]
}

/// The 3-D view's rectangle in a layout that has one.
pub fn scene_rect(full: Rect, layout: Layout) -> Option<Rect> {
    match layout {
        Layout::TwoByTwo3d => Some(quarters(full, 2.0)[1]),
        Layout::Only3d => Some(full),
        Layout::Single | Layout::OnePlusTwo | Layout::OneByThree => None,
    }
}

/// View rectangles for a layout; in 1×1 and 1+2 the active view is the large one.
pub fn layout_rects(full: Rect, layout: Layout, active: ViewKind) -> Vec<(ViewKind, Rect)> {
    let gap = 2.0;
    let others: Vec<ViewKind> = ViewKind::ALL.iter().copied().filter(|v| *v != active).collect();
    match layout {
        Layout::Single => vec![(active, full)],
        Layout::Only3d => Vec::new(),
        Layout::TwoByTwo3d => {
            let q = quarters(full, gap);
            vec![
                (ViewKind::Axial, q[0]),
                (ViewKind::Coronal, q[2]),
                (ViewKind::Sagittal, q[3]),
            ]
        }
        Layout::OneByThree => {
            let w = (full.width() - 2.0 * gap) / 3.0;
            ViewKind::ALL
                .iter()
                .enumerate()
                .map(|(n, v)| {
                    let x = full.min.x + n as f32 * (w + gap);
                    (
                        *v,
                        Rect::from_min_size(Pos2::new(x, full.min.y), Vec2::new(w, full.height())),
                    )
                })
                .collect()
        }
        Layout::OnePlusTwo => {
            let big_w = (full.width() * 0.64).round();
            let small_w = full.width() - big_w - gap;
            let small_h = (full.height() - gap) / 2.0;
            let big = Rect::from_min_size(full.min, Vec2::new(big_w, full.height()));
            let x = full.min.x + big_w + gap;
            vec![
                (active, big),
                (
                    others[0],
                    Rect::from_min_size(Pos2::new(x, full.min.y), Vec2::new(small_w, small_h)),
                ),
                (
                    others[1],
                    Rect::from_min_size(
                        Pos2::new(x, full.min.y + small_h + gap),
                        Vec2::new(small_w, small_h),
                    ),
                ),
            ]
        }
    }
}

struct ViewCtx<'a> {
    loaded: &'a Loaded,
    viewer: &'a Viewer,
    cache: &'a mut ViewCache,
    tool: Tool,
    mouse_map: MouseMap,
    annotations: bool,
    anonymise: bool,
    structures: &'a super::structures::StructureSet,
    /// Region-grow preview (mask, revision) drawn above the structures.
    preview: Option<(&'a crate::anatomy::Mask, u64)>,
    /// Clicked points of the active click tool.
    markers: &'a [PatientPos],
    plan: &'a super::plan::PlanState,
    /// The IRE result to draw, if any.
    zone: Option<super::plan_draw::ZoneRef<'a>>,
    /// The cryo iceball (or its preview) to draw, if any.
    cryo: Option<&'a super::cryo_ui::CryoView>,
    /// Caliper, margin colours and path findings of the safety analysis.
    safety: super::safety_ui::SafetyOverlay<'a>,
    /// The layers to draw (review steps hide the later ones).
    layers: super::review::LayerVisibility,
    /// Another plan's zone outline (plan comparison).
    compare: Option<&'a super::review::CompareOverlay>,
    /// Each probe's path check, drawn on its path (issue 16).
    paths: &'a [Option<crate::render::path_marks::PathMarks>],
    /// The safe window on the skin (drawn in its view; a click with the probe tool picks from it).
    window: Option<&'a super::trajectory_ui::SafeWindow>,
}

fn to_pos(p: [f64; 2]) -> Pos2 {
    Pos2::new(p[0] as f32, p[1] as f32)
}

/// One view as it is drawn this frame: which view, its slice mapping, the slice shown and the
/// image ↔ screen transform.
struct Pane {
    view: ViewKind,
    m: SliceMapping,
    slice: usize,
    xf: ViewTransform,
}

impl ViewCtx<'_> {
    fn volume(&self) -> &Volume {
        &self.loaded.volume
    }

    fn show(&mut self, ui: &mut egui::Ui, view: ViewKind, rect: Rect, cmds: &mut Vec<Command>) {
        let vol = self.loaded.volume.clone();
        let m = vol.view_mapping(view);
        let slice = self.viewer.slice_index(&m);
        let state = *self.viewer.view(view);
        let xf = ViewTransform::new(
            [
                rect.min.x as f64,
                rect.min.y as f64,
                rect.width() as f64,
                rect.height() as f64,
            ],
            &m,
            &state,
        );

        self.cache.pane_rects[slot(view)] = Some([
            rect.min.x as f64,
            rect.min.y as f64,
            rect.width() as f64,
            rect.height() as f64,
        ]);
        let pane = Pane { view, m, slice, xf };
        let id = ui.scope_id().with(("slice-view", view.name()));
        let response = ui.interact(rect, id, Sense::click_and_drag());
        let label = format!("{} view", view.name());
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, &label));

        let texture = self.texture(ui.ctx(), &pane);
        let painter = ui.painter_at(rect);
        let img_rect = Rect::from_min_max(
            to_pos(xf.to_screen(0.0, 0.0)),
            to_pos(xf.to_screen(m.width as f64, m.height as f64)),
        );
        painter.image(
            texture,
            img_rect,
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );

        if self.layers.structures {
            self.draw_structures(ui.ctx(), &painter, &pane, img_rect);
            self.cache.drawn.structures |= !self.structures.items.is_empty();
        }
        let zone_shown = self.draw_zone(ui.ctx(), &painter, &pane);
        let cryo_shown = match self.cryo {
            Some(c) => super::cryo_ui::draw_cryo(
                ui.ctx(),
                &painter,
                &mut self.cache.cryo_layers[slot(view)],
                c,
                self.loaded.generation,
                &vol.geometry,
                &pane.m,
                pane.slice,
                &|u, v| pane.xf.to_screen(u, v),
                view.name(),
            ),
            None => {
                self.cache.cryo_layers[slot(view)] = None;
                false
            }
        };
        self.cache.drawn.zone |= zone_shown || cryo_shown;
        if let Some(c) = self.compare {
            self.cache.drawn.compared_zone |= super::review::draw_compare(
                &painter,
                c,
                &vol.geometry,
                &pane.m,
                pane.slice,
                &|u, v| pane.xf.to_screen(u, v),
                rect,
            );
        }
        self.handle_input(ui, &response, rect, &pane, cmds);
        self.draw_reference_lines(&painter, &pane, img_rect);
        self.draw_rulers(&painter, &response, &pane);
        if self.layers.probes {
            let project = |p: &PatientPos| self.lps_to_screen(&pane, p);
            super::trajectory_ui::draw_paths(&painter, self.paths, self.plan.selected, &project);
            if let Some(w) = self.window.filter(|w| w.view == view) {
                super::trajectory_ui::draw_window(&painter, w, &project);
            }
            self.draw_probes(&painter, &response, &pane);
            self.cache.drawn.probes |= !self.plan.probes.is_empty();
        }
        self.cache.drawn.findings |= self.safety.report.is_some() || self.safety.caliper.is_some();
        super::safety_ui::draw_in_view(
            &painter,
            &self.safety,
            &|p| self.lps_to_screen(&pane, p),
            pane.slice as f64,
            pane.xf.points_per_mm,
            pane.m.pixel_mm[0].min(pane.m.pixel_mm[1]),
        );
        self.draw_markers(&painter, &pane);
        // The legend joins the corner texts: laid out together, nothing is drawn over it.
        let mut legend = Vec::new();
        if let Some(z) = &self.zone
            && zone_shown
        {
            legend = super::plan_draw::legend_lines(z);
        }
        if let Some(c) = self.cryo
            && cryo_shown
        {
            legend = c.legend();
        }
        self.draw_annotations(&painter, rect, &pane, &legend);
        let border = if self.viewer.active == view {
            Stroke::new(2.0, view_colour(view))
        } else {
            Stroke::new(1.0, Color32::from_gray(60))
        };
        painter.rect_stroke(rect.shrink(1.0), 0.0, border, egui::StrokeKind::Inside);
    }

    /// The slice texture, re-rendered only when the volume, slice or window changed.
    fn texture(&mut self, ctx: &egui::Context, pane: &Pane) -> egui::TextureId {
        let Pane { view, m, slice, .. } = *pane;
        let w = self.viewer.window;
        let key = (
            self.loaded.generation,
            slice,
            w.center_hu.to_bits(),
            w.width_hu.to_bits(),
        );
        let s = slot(view);
        if let Some(c) = &self.cache.slots[s]
            && c.key == key
        {
            return c.texture.id();
        }
        let lut_ok = matches!(&self.cache.lut, Some((lw, _)) if *lw == w);
        if !lut_ok {
            self.cache.lut = Some((w, WlLut::new(w)));
        }
        let img = crate::volume::extract_slice(self.volume(), &m, slice);
        if let Some((_, lut)) = &self.cache.lut {
            render_slice(&img, lut, &mut self.cache.rgba);
        }
        let color = egui::ColorImage::from_rgba_unmultiplied([img.width, img.height], &self.cache.rgba);
        let opts = egui::TextureOptions::LINEAR;
        match &mut self.cache.slots[s] {
            Some(c) => {
                c.texture.set(color, opts);
                c.key = key;
                c.texture.id()
            }
            None => {
                let texture = ctx.load_texture(format!("slice-{}", view.name()), color, opts);
                let id = texture.id();
                self.cache.slots[s] = Some(CachedTexture { key, texture });
                id
            }
        }
    }

    /// Structure fills (one composited texture, nearest sampling so voxels stay crisp) and
    /// outlines (vector segments along voxel edges, sharp at any zoom), cached per slice and
    /// structure revision.
    fn draw_structures(&mut self, ctx: &egui::Context, painter: &egui::Painter, pane: &Pane, img_rect: Rect) {
        use std::hash::{Hash, Hasher};
        let (view, m, slice, xf) = (pane.view, &pane.m, pane.slice, &pane.xf);
        let items = &self.structures.items;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (self.loaded.generation, slice, view.name()).hash(&mut h);
        for s in items {
            (s.revision(), s.visible, s.colour, s.opacity.to_bits()).hash(&mut h);
        }
        self.preview.map(|(_, rev)| rev).hash(&mut h);
        let key = h.finish();
        let sl = slot(view);
        let stale = self.cache.overlays[sl].as_ref().is_none_or(|o| o.key != key);
        if stale {
            let preview_colour = [60, 230, 230];
            let masks: Vec<(Vec<bool>, [u8; 3], f32)> = items
                .iter()
                .filter(|s| s.visible)
                .map(|s| (s.mask().view_slice(m, slice), s.colour, s.opacity))
                .chain(
                    self.preview
                        .map(|(p, _)| (p.view_slice(m, slice), preview_colour, 0.45)),
                )
                .filter(|(mask, _, _)| mask.iter().any(|b| *b))
                .collect();
            let outlines = masks
                .iter()
                .map(|(mask, c, _)| {
                    (
                        Color32::from_rgb(c[0], c[1], c[2]),
                        crate::render::overlay::outline_segments(mask, m.width, m.height),
                    )
                })
                .collect();
            let texture = (!masks.is_empty()).then(|| {
                let layers: Vec<(&[bool], [u8; 3], f32)> = masks
                    .iter()
                    .map(|(mask, c, a)| (mask.as_slice(), *c, *a))
                    .collect();
                let rgba = crate::render::overlay::composite_masks(m.width, m.height, &layers);
                let img = egui::ColorImage::from_rgba_premultiplied([m.width, m.height], &rgba);
                let old = self.cache.overlays[sl].as_mut().and_then(|o| o.texture.take());
                match old {
                    Some(mut t) => {
                        t.set(img, egui::TextureOptions::NEAREST);
                        t
                    }
                    None => ctx.load_texture(
                        format!("overlay-{}", view.name()),
                        img,
                        egui::TextureOptions::NEAREST,
                    ),
                }
            });
            self.cache.overlays[sl] = Some(CachedOverlay {
                key,
                texture,
                outlines,
            });
        }
        let Some(o) = &self.cache.overlays[sl] else { return };
        if let Some(t) = &o.texture {
            painter.image(
                t.id(),
                img_rect,
                Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
                Color32::WHITE,
            );
        }
        for (colour, segs) in &o.outlines {
            let stroke = Stroke::new(1.5, *colour);
            for [a, b] in segs {
                painter.line_segment(
                    [
                        to_pos(xf.to_screen(a[0] as f64, a[1] as f64)),
                        to_pos(xf.to_screen(b[0] as f64, b[1] as f64)),
                    ],
                    stroke,
                );
            }
        }
    }

    /// The IRE zone of this view (cached per result and slice); whether any of it is visible.
    fn draw_zone(&mut self, ctx: &egui::Context, painter: &egui::Painter, pane: &Pane) -> bool {
        use std::hash::{Hash, Hasher};
        let (view, m, slice, xf) = (pane.view, &pane.m, pane.slice, &pane.xf);
        let Some(zone) = self.zone else {
            self.cache.zones[slot(view)] = None;
            return false;
        };
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (zone.id, zone.outdated, self.loaded.generation, slice, view.name()).hash(&mut h);
        for l in zone.isolines_v_per_cm {
            l.to_bits().hash(&mut h);
        }
        let key = h.finish();
        let vol = self.loaded.volume.clone();
        super::plan_draw::draw_zone(
            ctx,
            painter,
            &mut self.cache.zones[slot(view)],
            key,
            &zone,
            &vol.geometry,
            m,
            slice,
            &|u, v| xf.to_screen(u, v),
            view.name(),
        )
    }

    /// Probes, their crossing with this slice, labels, handles; the probe being placed.
    fn draw_probes(&self, painter: &egui::Painter, response: &egui::Response, pane: &Pane) {
        let project = |p: &PatientPos| self.lps_to_screen(pane, p);
        super::plan_draw::draw_probes(
            painter,
            &self.plan.probes,
            self.plan.selected,
            self.tool == Tool::Probe,
            &project,
            pane.slice as f64,
            pane.xf.points_per_mm,
            &|p| crate::physics::ire::model::electrode_radius_mm(&p.model_id),
        );
        if let (Some((pv, tip_lps)), Some(pos)) = (self.cache.probe_place, response.interact_pointer_pos())
            && pv == pane.view
            && response.dragged()
        {
            let (tip, _) = self.lps_to_screen(pane, &tip_lps);
            let len = (self.screen_to_lps(pane, pos) - tip_lps).norm();
            super::plan_draw::draw_placing(painter, tip, pos, len);
        }
    }

    /// Left button with the IRE electrode tool: press on empty image and drag from the tip to the
    /// entry to place a probe; press on a probe's tip / entry / shaft and drag to move it (with
    /// Shift held, the drag places a new probe there instead); click to select.
    fn probe_input(
        &mut self,
        ui: &egui::Ui,
        response: &egui::Response,
        pane: &Pane,
        cmds: &mut Vec<Command>,
    ) {
        use super::plan::{ProbeOnScreen, hit_test};
        let view = pane.view;
        let on_screen: Vec<ProbeOnScreen> = self
            .plan
            .probes
            .iter()
            .enumerate()
            .map(|(index, p)| {
                let (t, _) = self.lps_to_screen(pane, &p.tip_lps);
                let (e, _) = self.lps_to_screen(pane, &p.entry_lps);
                ProbeOnScreen {
                    index,
                    tip: [t.x as f64, t.y as f64],
                    entry: [e.x as f64, e.y as f64],
                }
            })
            .collect();
        let hit = |pos: Pos2| {
            hit_test(
                &on_screen,
                self.plan.selected,
                [pos.x as f64, pos.y as f64],
                super::plan_draw::HANDLE_RADIUS,
            )
        };
        let pointer = response.interact_pointer_pos();
        if response.clicked_by(PointerButton::Primary) {
            if let Some(pos) = pointer {
                match self.window_entry(pane, pos) {
                    Some(cmd) => cmds.push(cmd),
                    None => cmds.push(Command::SelectProbe(hit(pos).map(|h| h.0))),
                }
            }
        } else if response.drag_started_by(PointerButton::Primary) {
            // The drag starts where the button went down, not where the threshold was crossed.
            let Some(origin) = ui.input(|i| i.pointer.press_origin()).or(pointer) else {
                return;
            };
            let origin_lps = self.screen_to_lps(pane, origin);
            self.cache.probe_drag = None;
            self.cache.probe_place = None;
            // Shift places a new probe even on an existing one (a second electrode 15 mm from the
            // first would otherwise grab the first).
            let place_new = ui.input(|i| i.modifiers.shift);
            match hit(origin).filter(|_| !place_new) {
                Some((index, part)) => {
                    if let Some(start) = self.plan.probes.get(index) {
                        self.cache.probe_drag = Some(ProbeDrag {
                            view,
                            index,
                            part,
                            start_pointer_lps: origin_lps,
                            start: start.clone(),
                        });
                        cmds.push(Command::SelectProbe(Some(index)));
                    }
                }
                None => self.cache.probe_place = Some((view, origin_lps)),
            }
            self.probe_drag_to(pointer, pane, cmds);
        } else if response.dragged_by(PointerButton::Primary) {
            self.probe_drag_to(pointer, pane, cmds);
        } else if response.drag_stopped_by(PointerButton::Primary) {
            if self.cache.probe_drag.as_ref().is_some_and(|d| d.view == view) {
                self.probe_drag_to(pointer, pane, cmds);
                self.cache.probe_drag = None;
                cmds.push(Command::EndDrag);
            } else if let Some((pv, tip_lps)) = self.cache.probe_place.take()
                && pv == view
                && let Some(pos) = pointer
            {
                let entry_lps = self.screen_to_lps(pane, pos);
                // A twitch of the mouse is not a probe.
                if (entry_lps - tip_lps).norm() >= 2.0 {
                    cmds.push(Command::AddProbe { tip_lps, entry_lps });
                }
            }
        }
    }

    /// A click on a clear mark of the safe window shown in this view: the window's probe takes
    /// that skin entry (its tip stays).
    fn window_entry(&self, pane: &Pane, pos: Pos2) -> Option<Command> {
        let w = self.window.filter(|w| w.view == pane.view)?;
        let probe = self.plan.probes.get(w.probe)?;
        let (right, down) = super::plan::view_screen_dirs(pane.view, &self.volume().geometry);
        let radius_mm = super::plan_draw::HANDLE_RADIUS / pane.xf.points_per_mm.max(1e-9);
        let entry_lps = super::trajectory_ui::pick_from_window(
            w,
            &self.screen_to_lps(pane, pos),
            &right.cross(&down),
            radius_mm,
        )?;
        Some(Command::SetProbe {
            index: w.probe,
            probe: crate::plan::probe::Probe {
                entry_lps,
                ..probe.clone()
            },
        })
    }

    /// Moves the dragged probe part to follow the pointer (in the view's plane).
    fn probe_drag_to(&self, pointer: Option<Pos2>, pane: &Pane, cmds: &mut Vec<Command>) {
        let (Some(d), Some(pos)) = (&self.cache.probe_drag, pointer) else {
            return;
        };
        if d.view != pane.view {
            return;
        }
        let delta = self.screen_to_lps(pane, pos) - d.start_pointer_lps;
        let (tip_lps, entry_lps) = super::plan::moved(&d.start, d.part, delta);
        cmds.push(Command::MoveProbe {
            index: d.index,
            tip_lps,
            entry_lps,
        });
    }

    fn pixel_to_lps(&self, m: &SliceMapping, slice: usize, u: f64, v: f64) -> PatientPos {
        self.volume()
            .geometry
            .to_patient(&m.voxel_of_pixel(u, v, slice as f64))
    }

    /// LPS of a screen point on the pane's slice.
    fn screen_to_lps(&self, pane: &Pane, pos: Pos2) -> PatientPos {
        let (u, v) = pane.xf.to_image([pos.x as f64, pos.y as f64]);
        self.pixel_to_lps(&pane.m, pane.slice, u, v)
    }

    /// Screen position and slice coordinate of an LPS point in the pane.
    fn lps_to_screen(&self, pane: &Pane, p: &PatientPos) -> (Pos2, f64) {
        let vox = self.volume().geometry.to_voxel(p);
        let (u, v, s) = pane.m.pixel_of_voxel(&vox);
        (to_pos(pane.xf.to_screen(u, v)), s)
    }

    fn handle_input(
        &mut self,
        ui: &egui::Ui,
        response: &egui::Response,
        rect: Rect,
        pane: &Pane,
        cmds: &mut Vec<Command>,
    ) {
        let (view, m, slice, xf) = (pane.view, &pane.m, pane.slice, &pane.xf);
        let g = &self.loaded.volume.geometry;
        if let Some(pos) = response.hover_pos() {
            self.cache.hovered_view = Some(view);
            let (u, v) = xf.to_image([pos.x as f64, pos.y as f64]);
            let vox = m.voxel_of_pixel(u, v, slice as f64);
            let voxel = g.nearest_voxel(&vox);
            let hu = voxel.and_then(|[i, j, k]| self.volume().get(i, j, k));
            self.cache.hover = Some(Hover {
                view,
                lps: g.to_patient(&vox),
                voxel,
                hu,
            });
            // Wheel = slice scroll (Shift: ten slices a notch).
            let notches = wheel_notches(ui, &mut self.cache.wheel_points, 10, false);
            if notches != 0 {
                // Wheel towards the user (negative delta) = next image.
                cmds.push(Command::Scroll {
                    view,
                    delta: -notches * forward_step(g, m),
                });
            }
        }

        // Only a left click makes a view the active one: in 1+2 the active view is the large
        // pane, and a drag (zoom, pan, W/L) or a right click must never rearrange the layout.
        if response.clicked_by(PointerButton::Primary) {
            cmds.push(Command::SetActiveView(view));
        }
        if response.double_clicked() {
            cmds.push(Command::SetActiveView(view));
        }
        if self.tool == Tool::Navigate
            && response.clicked_by(PointerButton::Primary)
            && let Some(pos) = response.interact_pointer_pos()
        {
            let (u, v) = xf.to_image([pos.x as f64, pos.y as f64]);
            cmds.push(Command::SetCrosshair { view, u, v });
        }

        let (wl_button, pan_button, zoom_button) = match self.mouse_map {
            MouseMap::Ohif => (
                PointerButton::Primary,
                PointerButton::Middle,
                PointerButton::Secondary,
            ),
            MouseMap::Pacs => (
                PointerButton::Secondary,
                PointerButton::Primary,
                PointerButton::Middle,
            ),
        };
        let ruler_active = self.tool == Tool::Ruler;
        let brush_active = matches!(self.tool, Tool::Brush | Tool::Eraser);
        let click_tool = matches!(
            self.tool,
            Tool::RegionGrow | Tool::NervePath | Tool::TargetEllipsoid
        );
        let probe_tool = self.tool == Tool::Probe;
        // Placement tools take the left button only (REFERENCE §5); the rest of the map stays.
        let left_taken = ruler_active || brush_active || click_tool || probe_tool;
        let delta = response.drag_delta();
        let pointer_lps = |ctx: &Self| {
            response
                .interact_pointer_pos()
                .map(|pos| ctx.screen_to_lps(pane, pos))
        };
        let probe_event = response.clicked_by(PointerButton::Primary)
            || response.drag_started_by(PointerButton::Primary)
            || response.dragged_by(PointerButton::Primary)
            || response.drag_stopped_by(PointerButton::Primary);
        if probe_tool && probe_event {
            self.probe_input(ui, response, pane, cmds);
        } else if click_tool && response.clicked_by(PointerButton::Primary) {
            if let Some(lps) = pointer_lps(self) {
                cmds.push(Command::ToolClick { view, lps });
            }
        } else if brush_active
            && (response.dragged_by(PointerButton::Primary) || response.clicked_by(PointerButton::Primary))
        {
            if let Some(lps) = pointer_lps(self) {
                cmds.push(Command::Paint {
                    view,
                    slice,
                    lps,
                    erase: self.tool == Tool::Eraser,
                });
            }
            if response.clicked_by(PointerButton::Primary) {
                cmds.push(Command::EndStroke);
            }
        } else if brush_active && response.drag_stopped_by(PointerButton::Primary) {
            cmds.push(Command::EndStroke);
        } else if ruler_active && response.drag_started_by(PointerButton::Primary) {
            if let Some(lps) = pointer_lps(self) {
                self.cache.ruler_start = Some((view, lps));
            }
        } else if ruler_active && response.drag_stopped_by(PointerButton::Primary) {
            if let (Some((rv, a)), Some(b)) = (self.cache.ruler_start.take(), pointer_lps(self))
                && rv == view
                && (b - a).norm() > 0.5
            {
                cmds.push(Command::AddRuler(Ruler {
                    view,
                    slice,
                    a_lps: a,
                    b_lps: b,
                }));
            }
        } else if response.dragged_by(wl_button) && !(left_taken && wl_button == PointerButton::Primary) {
            if delta != Vec2::ZERO {
                cmds.push(Command::SetWindow(super::viewer::drag_window(
                    self.viewer.window,
                    delta.x as f64,
                    delta.y as f64,
                )));
            }
        } else if response.dragged_by(pan_button) && !(left_taken && pan_button == PointerButton::Primary) {
            if delta != Vec2::ZERO {
                cmds.push(Command::Pan {
                    view,
                    dx: delta.x as f64,
                    dy: delta.y as f64,
                });
            }
        } else if response.dragged_by(zoom_button) && delta.y != 0.0 {
            let anchor = ui.input(|i| i.pointer.press_origin()).unwrap_or(rect.center()) - rect.center();
            cmds.push(Command::Zoom {
                view,
                factor: (-(delta.y as f64) * 0.01).exp(),
                anchor: [anchor.x as f64, anchor.y as f64],
            });
        }
    }
}

/// A small texture of a series thumbnail (soft-tissue window).
pub fn thumbnail_texture(ctx: &egui::Context, img: &SliceImage) -> egui::TextureHandle {
    let lut = WlLut::new(WindowLevel {
        center_hu: 40.0,
        width_hu: 400.0,
    });
    let mut rgba = Vec::new();
    render_slice(img, &lut, &mut rgba);
    let color = egui::ColorImage::from_rgba_unmultiplied([img.width, img.height], &rgba);
    ctx.load_texture("thumbnail", color, egui::TextureOptions::LINEAR)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::view::nice_length_mm;

    #[test]
    fn scale_bar_lengths_are_round() {
        assert_eq!(nice_length_mm(37.0), 20.0);
        assert_eq!(nice_length_mm(55.0), 50.0);
        assert_eq!(nice_length_mm(9.9), 5.0);
        assert_eq!(nice_length_mm(0.3), 1.0);
        assert_eq!(nice_length_mm(f64::NAN), 1.0);
    }

    #[test]
    fn dates_are_readable() {
        assert_eq!(dicom_date("20240131"), "2024-01-31");
        assert_eq!(dicom_date("2024"), "2024");
        assert_eq!(dicom_time("134501.123"), "13:45:01");
    }

    #[test]
    fn layouts_cover_the_area_without_overlap() {
        let full = Rect::from_min_size(Pos2::ZERO, Vec2::new(1200.0, 800.0));
        for layout in Layout::ALL {
            let mut rects = layout_rects(full, layout, ViewKind::Coronal);
            if let Some(first) = rects.first() {
                assert_eq!(
                    first.0,
                    if matches!(layout, Layout::OneByThree | Layout::TwoByTwo3d) {
                        ViewKind::Axial
                    } else {
                        ViewKind::Coronal
                    }
                );
            }
            // The 3-D pane takes its own place too.
            if let Some(r) = scene_rect(full, layout) {
                rects.push((ViewKind::Axial, r));
            }
            assert!(!rects.is_empty(), "{layout:?} shows something");
            for (i, (_, a)) in rects.iter().enumerate() {
                assert!(full.contains_rect(*a));
                for (_, b) in rects.iter().skip(i + 1) {
                    assert!(a.intersect(*b).area() <= 0.0 || !a.intersects(*b), "{layout:?}");
                }
            }
        }
    }
}
