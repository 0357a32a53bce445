//! The 3-D view: structures, the target, the model's surfaces and the probes, rotated, panned and
//! zoomed with the mouse (left drag rotates; middle / right drag pan and zoom as in the slice
//! views' mouse map; the wheel zooms). A click on a structure selects it and moves the slice
//! views there; a click on a finding's marker focuses the finding. Drawn on the GPU through
//! egui's wgpu callback (`gpu.rs`); without wgpu (tests, other renderers) the CPU rasteriser of
//! the exports draws the same scene into a texture.

mod gpu;
mod meshes;

use std::sync::Arc;

use eframe::egui::{self, Align2, Color32, FontId, PointerButton, Pos2, Rect, Sense, Stroke};
use nalgebra::Vector3;

use super::AblaApp;
use super::command::Command;
use super::settings::MouseMap;
use super::widgets::c32;
use crate::geometry::PatientPos;
use crate::physics::model::{ModelPreview, ModelResult};
use crate::render::scene3d::build::{BONE_RGB, plan_camera, probe_objects, structure_object};
use crate::render::scene3d::pick::pick;
use crate::render::scene3d::raster::render_scene;
use crate::render::scene3d::{BACKGROUND, Camera, Part, Scene, SceneObject};
use meshes::{MeshCache, Wanted, ZoneData, ZoneKey};

/// What the 3-D view's input does (applied in `apply.rs` like every command).
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Rotate by a drag of (dx, dy) points.
    Orbit {
        dx: f64,
        dy: f64,
    },
    /// Pan by a drag of (dx, dy) points in a pane `height` points tall.
    Pan {
        dx: f64,
        dy: f64,
        height: f64,
    },
    /// Zoom in by this factor (> 1 closer).
    Zoom(f64),
    /// Back to the front view fitted to the plan.
    ResetCamera,
    ShowBone(bool),
    /// Move the slice views' crosshair to this point.
    CrosshairTo(PatientPos),
}

/// State of the 3-D view.
#[derive(Default)]
pub struct View3d {
    /// `None`: fitted to the plan when the scene next has something to show.
    camera: Option<Camera>,
    /// The mesh revision the camera was fitted for, while the user has not moved it: meshes
    /// arrive in batches (the target may come after the vessels), so the fit follows them.
    auto_fit: Option<u64>,
    meshes: MeshCache,
    pub show_bone: bool,
    render_state: Option<eframe::egui_wgpu::RenderState>,
    /// The CPU picture (no wgpu): key and texture.
    cpu_picture: Option<(u64, egui::TextureHandle)>,
    /// Frames drawn and when counting started (the fps figure of the pane's corner).
    frames: u32,
    since: Option<std::time::Instant>,
    pub fps: Option<f64>,
    /// Surfaces and triangles drawn in the last frame, time spent in `show` since the last
    /// fps figure (ms).
    drawn: usize,
    triangles: usize,
    cpu_ms: f64,
    cpu_at: Option<f64>,
    /// `ABLAPLAN_3D_SPIN`: turn the scene continuously (fps measurement).
    spin: bool,
    /// The camera of the previous frame: a software-drawn picture is coarser while it moves.
    last_camera: Option<Camera>,
}

impl View3d {
    pub fn new() -> Self {
        Self {
            spin: std::env::var_os("ABLAPLAN_3D_SPIN").is_some(),
            ..Self::default()
        }
    }

    /// Remembers the frame's wgpu state (once) and installs the pipelines.
    pub fn set_render_state(&mut self, frame: &eframe::Frame) {
        // `ABLAPLAN_3D_CPU`: draw with the exports' rasteriser (a comparison of the two paths).
        if self.render_state.is_none()
            && std::env::var_os("ABLAPLAN_3D_CPU").is_none()
            && let Some(rs) = frame.wgpu_render_state()
        {
            gpu::install(rs);
            self.render_state = Some(rs.clone());
        }
    }

    pub fn gpu(&self) -> bool {
        self.render_state.is_some()
    }

    fn count_frame(&mut self) {
        let now = std::time::Instant::now();
        let since = *self.since.get_or_insert(now);
        self.frames += 1;
        let dt = (now - since).as_secs_f64();
        if dt >= 2.0 {
            self.fps = Some(self.frames as f64 / dt);
            if self.spin {
                // Process CPU time per frame (all threads, llvmpipe's included): on a shared,
                // loaded machine the wall-clock fps understates what an idle one does.
                let cpu = process_cpu_s();
                let per_frame = match (cpu, self.cpu_at) {
                    (Some(now), Some(then)) => (now - then) / self.frames as f64 * 1e3,
                    _ => f64::NAN,
                };
                self.cpu_at = cpu;
                log::info!(
                    "3-D view: {:.1} fps, {} triangles, {:.1} ms CPU per frame (all threads), {:.1} ms in the pane's code",
                    self.frames as f64 / dt,
                    self.triangles,
                    per_frame,
                    self.cpu_ms / self.frames as f64
                );
                self.cpu_ms = 0.0;
            }
            self.frames = 0;
            self.since = Some(now);
        }
    }
}

/// The picture's resolution relative to the pane's pixels: at most `ABLAPLAN_3D_MAX_PIXELS`
/// pixels (default 400 000, a 730 × 550 picture) are drawn and the blit scales them up, so a
/// large pane on a software rasteriser stays interactive; a quarter of that while the camera
/// moves (half the resolution each way, the way 3D Slicer coarsens its volume rendering while
/// the user rotates).
fn render_scale(rect: Rect, ppp: f32, moving: bool) -> f32 {
    let still: f32 = std::env::var("ABLAPLAN_3D_MAX_PIXELS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400_000.0);
    let budget = if moving { still / 4.0 } else { still };
    let pixels = rect.width() * rect.height() * ppp * ppp;
    if pixels > budget && pixels > 0.0 {
        (budget / pixels).sqrt()
    } else {
        1.0
    }
}

/// CPU seconds of this process (user + system, Linux `/proc`; clock ticks of 1/100 s, the
/// kernel's USER_HZ on every mainstream architecture). `None` elsewhere.
fn process_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

/// The zone to show in 3-D and its key: the IRE zone (drag preview or result), or the cryo result
/// at the slider's snapshot with the slice views' isotherms.
fn zone_wanted(app: &AblaApp) -> Option<(ZoneKey, ZoneData)> {
    let run = &app.run;
    if app.is_cryo_plan() {
        let r = run.cryo_shown()?.clone();
        let s = run.shown_snapshot()?;
        let iso = super::cryo_ui::drawn_isotherms(&app.plan.cryo_settings());
        let key = ZoneKey::Cryo(
            run.shown_id(),
            s,
            iso.iter().map(|t| (t * 100.0).round() as i64).collect(),
        );
        return Some((key, ZoneData::Cryo(r, s, iso)));
    }
    let ire = match &run.preview {
        Some(ModelPreview::Ire(p)) => Some(p.clone()),
        _ => run.result.as_ref().and_then(ModelResult::ire).cloned(),
    }?;
    Some((ZoneKey::Ire(run.shown_id()), ZoneData::Ire(ire)))
}

impl AblaApp {
    /// The 3-D view's camera (`None` until the view has shown something).
    pub fn camera_3d(&self) -> Option<Camera> {
        self.view3d.camera
    }

    /// Surfaces drawn in the 3-D view's last frame and whether it drew on the GPU.
    pub fn scene_3d_drawn(&self) -> (usize, bool) {
        (self.view3d.drawn, self.view3d.gpu())
    }

    pub(super) fn apply_view3d(&mut self, a: Action) {
        let v = &mut self.view3d;
        if matches!(a, Action::Orbit { .. } | Action::Pan { .. } | Action::Zoom(_)) {
            // The user's view from now on: no more automatic fits.
            v.auto_fit = Some(u64::MAX);
        }
        match a {
            Action::Orbit { dx, dy } => {
                if let Some(c) = &mut v.camera {
                    c.orbit(dx, dy);
                }
            }
            Action::Pan { dx, dy, height } => {
                if let Some(c) = &mut v.camera {
                    c.pan(dx, dy, height);
                }
            }
            Action::Zoom(f) => {
                if let Some(c) = &mut v.camera {
                    c.zoom(f);
                }
            }
            Action::ResetCamera => {
                v.camera = None;
                v.auto_fit = None;
            }
            Action::ShowBone(b) => v.show_bone = b,
            Action::CrosshairTo(p) => {
                if let (Some(loaded), Some(vw)) = (&self.loaded, &mut self.viewer) {
                    let g = &loaded.volume.geometry;
                    let x = g.to_voxel(&p);
                    let d = g.dims;
                    let clamp = |x: f64, n: usize| x.round().clamp(0.0, n.saturating_sub(1) as f64);
                    vw.crosshair = Vector3::new(clamp(x.x, d[0]), clamp(x.y, d[1]), clamp(x.z, d[2]));
                }
            }
        }
    }

    /// Renders the 3-D view as it is on screen (camera, surfaces; the CPU rasteriser at 1600 ×
    /// 1200, 2 × 2 samples per pixel) into `path`, in the export job.
    pub(super) fn export_3d(&mut self, path: std::path::PathBuf) {
        let Some(scene) = self.scene_3d() else {
            self.notify(super::NoticeLevel::Warning, "Nothing to export: open a CT first");
            return;
        };
        let camera = self.view3d.camera.unwrap_or_else(|| plan_camera(&scene));
        self.start_export(path, move |_, path| {
            let img = render_scene(&scene, &camera, 1600, 1200, BACKGROUND, 2);
            crate::render::save_png(&path, &img).map_err(|e| e.to_string())?;
            Ok(path)
        });
    }

    /// Rebuilds what changed (in the background) and assembles this frame's scene.
    fn scene_3d(&mut self) -> Option<Scene> {
        let loaded = self.loaded.as_ref()?;
        let layers = self.layers();
        let wanted = Wanted {
            generation: loaded.generation,
            geometry: loaded.volume.geometry.clone(),
            structures: self
                .structures
                .items
                .iter()
                .filter(|s| s.visible && layers.structures)
                .map(|s| (s.uid(), s.revision(), s.mask().clone()))
                .collect(),
            zone: zone_wanted(self).filter(|_| layers.zone),
            bone: self.view3d.show_bone.then(|| loaded.volume.clone()),
        };
        let zone_key = wanted.zone.as_ref().map(|(k, _)| k.clone());
        let progress = self.progress();
        self.view3d.meshes.update(wanted, progress);
        let selected_finding_structure = self
            .safety
            .selected
            .and_then(|i| self.safety.report()?.findings.get(i)?.structure_index);
        let mut scene = Scene::default();
        for (i, s) in self.structures.items.iter().enumerate() {
            if !(s.visible && layers.structures) {
                continue;
            }
            if let Some(m) = self.view3d.meshes.structure(s.uid()).filter(|m| !m.is_empty()) {
                let hl = self.structures.selected == Some(i) || selected_finding_structure == Some(i);
                scene.objects.push(structure_object(i, s, m.clone(), hl));
            }
        }
        if let Some(b) = self.view3d.meshes.bone().filter(|_| self.view3d.show_bone) {
            scene.objects.push(SceneObject {
                part: Part::Bone,
                mesh: b.clone(),
                rgb: BONE_RGB,
                alpha: 1.0,
                highlighted: false,
            });
        }
        scene
            .objects
            .extend(self.view3d.meshes.zone(zone_key.as_ref()).iter().cloned());
        if layers.probes {
            let catalog = self.catalog.as_ref().ok().cloned();
            let radius = move |p: &crate::plan::probe::Probe| {
                catalog
                    .as_ref()
                    .and_then(|c| c.get(&p.model_id))
                    .map_or(0.6, |m| m.radius_mm())
            };
            scene.objects.extend(probe_objects(&self.plan.probes, &radius));
        }
        Some(scene)
    }
}

/// Draws the 3-D pane in `rect` and turns its input into commands.
pub fn show(app: &mut AblaApp, ui: &mut egui::Ui, rect: Rect) {
    let t0 = std::time::Instant::now();
    let id = ui.scope_id().with("view-3d");
    let response = ui.interact(rect, id, Sense::click_and_drag());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Image, true, "3D view"));
    let painter = ui.painter_at(rect);
    painter.rect_filled(rect, 0.0, c32(BACKGROUND));
    let Some(scene) = app.scene_3d() else {
        return;
    };
    let revision = app.view3d.meshes.revision;
    let refit = match app.view3d.auto_fit {
        None => true,
        Some(r) => r != u64::MAX && r != revision,
    };
    if (app.view3d.camera.is_none() || refit) && !scene.objects.is_empty() {
        let mut fitted = plan_camera(&scene);
        if let Some(old) = app.view3d.camera {
            // Keep the direction of view (a spinning view keeps spinning).
            fitted.yaw_rad = old.yaw_rad;
            fitted.pitch_rad = old.pitch_rad;
        }
        app.view3d.camera = Some(fitted);
        app.view3d.auto_fit = Some(revision);
    }
    let mut camera = app.view3d.camera.unwrap_or_default();
    if app.view3d.spin {
        camera.orbit(2.0, 0.0);
        app.view3d.camera = Some(camera);
        ui.ctx().request_repaint();
    }
    // On the software rasteriser a moving camera gets a coarser picture (the blit scales it
    // up); the frame after the motion stops redraws it at full resolution.
    let moving = !app.view3d.gpu() && app.view3d.last_camera.is_some_and(|c| c != camera);
    app.view3d.last_camera = Some(camera);
    let ppp = ui.ctx().pixels_per_point() * render_scale(rect, ui.ctx().pixels_per_point(), moving);
    let size_px = [
        (rect.width() * ppp).round().max(1.0) as u32,
        (rect.height() * ppp).round().max(1.0) as u32,
    ];
    let aspect = rect.width() as f64 / rect.height().max(1.0) as f64;
    if app.view3d.gpu() {
        paint_gpu(&painter, rect, &scene, &camera, aspect, size_px);
    } else {
        paint_cpu(app, &painter, rect, &scene, &camera, size_px);
    }
    app.view3d.count_frame();
    app.view3d.drawn = scene.objects.len();
    app.view3d.triangles = scene.triangle_count();
    let mut cmds = Vec::new();
    let markers = draw_findings(app, &painter, rect, &camera);
    caption(app, &painter, rect, &scene);
    input(app, ui, &response, rect, &scene, &camera, &markers, &mut cmds);
    if app.view3d.meshes.building() {
        ui.ctx()
            .request_repaint_after(std::time::Duration::from_millis(100));
    }
    app.commands.extend(cmds);
    app.view3d.cpu_ms += t0.elapsed().as_secs_f64() * 1e3;
}

fn paint_gpu(
    painter: &egui::Painter,
    rect: Rect,
    scene: &Scene,
    camera: &Camera,
    aspect: f64,
    size_px: [u32; 2],
) {
    let vp = camera.view_projection(aspect).cast::<f32>();
    let mut view_proj = [0.0f32; 16];
    view_proj.copy_from_slice(vp.as_slice());
    let (_, _, f) = camera.basis();
    let objects = scene
        .draw_order(camera)
        .into_iter()
        .map(|i| {
            let o = &scene.objects[i];
            gpu::GpuObject {
                mesh: o.mesh.clone(),
                rgba: o.colour(),
            }
        })
        .collect();
    let bg = BACKGROUND;
    let cb = gpu::SceneCallback {
        objects,
        view_proj,
        forward: [f.x as f32, f.y as f32, f.z as f32],
        background: [bg[0] as f32 / 255.0, bg[1] as f32 / 255.0, bg[2] as f32 / 255.0],
        size_px,
    };
    painter.add(eframe::egui_wgpu::Callback::new_paint_callback(rect, cb));
}

/// Without wgpu: the exports' rasteriser into a texture, redrawn only when the picture changes.
fn paint_cpu(
    app: &mut AblaApp,
    painter: &egui::Painter,
    rect: Rect,
    scene: &Scene,
    camera: &Camera,
    size_px: [u32; 2],
) {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    use std::hash::{Hash, Hasher};
    app.view3d.meshes.revision.hash(&mut h);
    size_px.hash(&mut h);
    for v in [
        camera.yaw_rad,
        camera.pitch_rad,
        camera.distance_mm,
        camera.target_lps.x,
        camera.target_lps.y,
        camera.target_lps.z,
    ] {
        v.to_bits().hash(&mut h);
    }
    for o in &scene.objects {
        (Arc::as_ptr(&o.mesh) as usize, o.highlighted, o.alpha.to_bits()).hash(&mut h);
    }
    let key = h.finish();
    if app.view3d.cpu_picture.as_ref().is_none_or(|(k, _)| *k != key) {
        let img = render_scene(
            scene,
            camera,
            size_px[0] as usize,
            size_px[1] as usize,
            BACKGROUND,
            1,
        );
        let image = egui::ColorImage::from_rgba_unmultiplied([img.width, img.height], &img.pixels);
        match app.view3d.cpu_picture.take() {
            // One texture, updated in place: no new allocation per frame while rotating.
            Some((_, mut tex)) => {
                tex.set(image, egui::TextureOptions::LINEAR);
                app.view3d.cpu_picture = Some((key, tex));
            }
            None => {
                let tex = painter
                    .ctx()
                    .load_texture("view-3d", image, egui::TextureOptions::LINEAR);
                app.view3d.cpu_picture = Some((key, tex));
            }
        }
    }
    if let Some((_, tex)) = &app.view3d.cpu_picture {
        painter.image(
            tex.id(),
            rect,
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
    }
}

/// The findings with a caliper: a dot at the structure's closest point (click to focus), and the
/// selected finding's caliper as a line. Returns (finding index, screen position) of the dots.
fn draw_findings(app: &AblaApp, painter: &egui::Painter, rect: Rect, camera: &Camera) -> Vec<(usize, Pos2)> {
    let Some(report) = app.safety.report().filter(|_| app.layers().findings) else {
        return Vec::new();
    };
    let (w, h) = (rect.width() as f64, rect.height() as f64);
    let to_screen = |p: &PatientPos| {
        camera
            .project(p.coords, w, h)
            .map(|(x, y, _)| Pos2::new(rect.min.x + x as f32, rect.min.y + y as f32))
    };
    let mut out = Vec::new();
    for (i, f) in report.findings.iter().enumerate() {
        let Some([a, b]) = f.caliper_lps else {
            continue;
        };
        let colour = c32(crate::render::palette::severity(f.severity));
        if let (Some(pa), Some(pb)) = (to_screen(&a), to_screen(&b)) {
            if app.safety.selected == Some(i) {
                painter.line_segment([pa, pb], Stroke::new(2.0, c32(crate::render::palette::CALIPER)));
                painter.circle_filled(pa, 3.0, c32(crate::render::palette::CALIPER));
            }
            painter.circle(pb, 5.0, colour, Stroke::new(1.5, Color32::BLACK));
            out.push((i, pb));
        }
    }
    out
}

fn caption(app: &AblaApp, painter: &egui::Painter, rect: Rect, scene: &Scene) {
    let mut text = format!("3D · {} surfaces", scene.objects.len());
    if app.view3d.meshes.building() {
        text.push_str(" · building meshes…");
    }
    if let Some(fps) = app.view3d.fps {
        text.push_str(&format!(" · {fps:.0} fps"));
    }
    if !app.view3d.gpu() {
        text.push_str(" · CPU");
    }
    painter.text(
        rect.left_top() + egui::vec2(6.0, 4.0),
        Align2::LEFT_TOP,
        text,
        FontId::proportional(12.0),
        c32(crate::render::palette::VIEW_TEXT),
    );
    painter.text(
        rect.left_bottom() + egui::vec2(6.0, -4.0),
        Align2::LEFT_BOTTOM,
        "drag: rotate · wheel: zoom · double-click: reset",
        FontId::proportional(11.0),
        Color32::GRAY,
    );
}

#[allow(clippy::too_many_arguments)]
fn input(
    app: &AblaApp,
    ui: &egui::Ui,
    response: &egui::Response,
    rect: Rect,
    scene: &Scene,
    camera: &Camera,
    markers: &[(usize, Pos2)],
    cmds: &mut Vec<Command>,
) {
    let push = |cmds: &mut Vec<Command>, a: Action| cmds.push(Command::View3d(a));
    let d = response.drag_delta();
    let (dx, dy) = (d.x as f64, d.y as f64);
    let height = rect.height() as f64;
    let (pan_button, zoom_button) = match app.settings.mouse_map {
        MouseMap::Ohif => (PointerButton::Middle, PointerButton::Secondary),
        MouseMap::Pacs => (PointerButton::Secondary, PointerButton::Middle),
    };
    if d != egui::Vec2::ZERO {
        if response.dragged_by(PointerButton::Primary) {
            push(cmds, Action::Orbit { dx, dy });
        } else if response.dragged_by(pan_button) {
            push(cmds, Action::Pan { dx, dy, height });
        } else if response.dragged_by(zoom_button) {
            push(cmds, Action::Zoom((-dy * 0.01).exp()));
        }
    }
    if response.hovered() {
        let scroll = ui.ctx().input(|i| i.smooth_scroll_delta.y) as f64;
        if scroll != 0.0 {
            push(cmds, Action::Zoom((scroll * 0.002).exp()));
        }
    }
    if response.double_clicked() {
        push(cmds, Action::ResetCamera);
        return;
    }
    if !response.clicked() {
        return;
    }
    let Some(pos) = response.interact_pointer_pos() else {
        return;
    };
    if let Some((i, _)) = markers.iter().find(|(_, p)| p.distance(pos) <= 8.0) {
        cmds.push(Command::FocusFinding(*i));
        return;
    }
    let (x, y) = ((pos.x - rect.min.x) as f64, (pos.y - rect.min.y) as f64);
    if let Some(hit) = pick(scene, camera, x, y, rect.width() as f64, height) {
        if let Part::Structure(i) = hit.part {
            cmds.push(Command::SelectStructure(Some(i)));
        }
        if let Part::ProbeShaft(i) | Part::ProbeExposed(i) = hit.part {
            cmds.push(Command::SelectProbe(Some(i)));
        }
        push(cmds, Action::CrosshairTo(PatientPos::from(hit.point_lps)));
    }
}

/// The View menu's 3-D items: "3D" shows the slice views with the 3-D view (2 × 2), and the 3-D
/// view's own options.
pub fn menu(app: &AblaApp, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    use super::settings::Layout;
    let has_3d = matches!(app.settings.layout, Layout::TwoByTwo3d | Layout::Only3d);
    if ui
        .selectable_label(has_3d, "3D")
        .on_hover_text("The slice views with the 3-D view (layout 2×2 with 3D)")
        .clicked()
    {
        cmds.push(Command::SetLayout(if has_3d {
            Layout::OnePlusTwo
        } else {
            Layout::TwoByTwo3d
        }));
        ui.close();
    }
    let mut bone = app.view3d.show_bone;
    if ui.checkbox(&mut bone, "Bone in 3D (CT above 250 HU)").clicked() {
        cmds.push(Command::View3d(Action::ShowBone(bone)));
    }
    if ui.button("Reset 3D camera").clicked() {
        cmds.push(Command::View3d(Action::ResetCamera));
        ui.close();
    }
}
