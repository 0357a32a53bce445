//! The 3-D scene of the demo: meshes where the anatomy is, the CPU picture (exports, slides)
//! showing the target in the middle, and View > 3D in the GUI. Set `ABLAPLAN_SNAPSHOT_DIR` to
//! keep the rendered 3-D PNG for a visual check.

use ablaplan::anatomy::{StructureKind, demo_structures};
use ablaplan::demo::{demo_anatomy, demo_geometry};
use ablaplan::render::mesh::build::MeshOptions;
use ablaplan::render::save_png;
use ablaplan::render::scene3d::build::{plan_camera, plan_scene};
use ablaplan::render::scene3d::raster::render_scene;
use nalgebra::Vector3;

const BG: [u8; 4] = [12, 14, 20, 255];

#[test]
fn the_demo_scene_puts_the_target_in_the_middle_of_the_picture() {
    let g = demo_geometry();
    let anatomy = demo_anatomy();
    let structures = demo_structures(&anatomy, &g);
    let scene = plan_scene(&structures, &g, &[], &|_| 0.5, None, &MeshOptions::default());
    assert_eq!(scene.objects.len(), structures.len(), "one surface per structure");
    // Every mesh lies where its mask is: its bounds inside the mask's voxel box ± a voxel.
    for (o, s) in scene.objects.iter().zip(&structures) {
        let (lo, hi) = o.mesh.bounds().expect("non-empty");
        let (vlo, vhi) = s.mask().bounding_box().expect("non-empty mask");
        let a = g.to_patient(&Vector3::new(vlo[0] as f64, vlo[1] as f64, vlo[2] as f64));
        let b = g.to_patient(&Vector3::new(vhi[0] as f64, vhi[1] as f64, vhi[2] as f64));
        for ax in 0..3 {
            let tol = g.spacing_mm[ax] * 1.01;
            assert!(lo[ax] as f64 >= a[ax].min(b[ax]) - tol, "{}: axis {ax}", s.name);
            assert!(hi[ax] as f64 <= a[ax].max(b[ax]) + tol, "{}: axis {ax}", s.name);
        }
    }
    let camera = plan_camera(&scene);
    let target = structures
        .iter()
        .position(|s| s.kind == StructureKind::Target)
        .expect("the demo has a target");
    let (tlo, thi) = scene.objects[target].mesh.bounds().expect("target mesh");
    let centre = Vector3::new(
        (tlo[0] + thi[0]) as f64 / 2.0,
        (tlo[1] + thi[1]) as f64 / 2.0,
        (tlo[2] + thi[2]) as f64 / 2.0,
    );
    assert!(
        (camera.target_lps - centre).norm() < 1.0,
        "the camera aims at the target"
    );
    let (w, h) = (320, 240);
    let img = render_scene(&scene, &camera, w, h, BG, 2);
    if let Ok(dir) = std::env::var("ABLAPLAN_SNAPSHOT_DIR") {
        save_png(std::path::Path::new(&dir).join("demo_3d.png"), &img).unwrap();
    }
    let drawn = img.pixels.chunks(4).filter(|p| p[..3] != BG[..3]).count();
    assert!(
        drawn > w * h / 8,
        "the scene fills part of the picture: {drawn} pixels"
    );
    // The target (red, nothing opaque in front of it from the front) is at the centre.
    let c = img.get(w as i64 / 2, h as i64 / 2).unwrap();
    let tc = structures[target].colour;
    assert!(
        c[0] > 120 && (c[0] as i32 - c[2] as i32) > 60,
        "centre {c:?}, target colour {tc:?}"
    );
}

mod gui {
    use super::*;
    use crate::common::{app_with, click_at, step_until};
    use ablaplan::app::settings::Layout;
    use eframe::egui::{self, PointerButton};
    use egui_kittest::kittest::Queryable;
    use std::time::Duration;

    #[test]
    fn view_3d_opens_on_the_demo_and_a_click_selects_the_target_and_moves_the_views() {
        let mut h = app_with(Default::default());
        h.get_by_label("View").click();
        h.run_steps(2);
        h.get_by_label("3D").click();
        h.run_steps(2);
        assert_eq!(h.state().settings().layout, Layout::TwoByTwo3d);
        let n = h.state().structures().items.len();
        step_until(&mut h, Duration::from_secs(180), "3-D meshes", |app| {
            app.scene_3d_drawn().0 >= n
        });
        let pane = h.get_by_label("3D view").rect();
        // The slice views stay beside it.
        h.get_by_label("Axial view");
        let (_, gpu) = h.state().scene_3d_drawn();
        if !gpu {
            println!("no wgpu in this harness: the 3-D view drew with the CPU rasteriser");
        }
        // Fitted on the target.
        let app = h.state();
        let target = app
            .structures()
            .items
            .iter()
            .position(|s| s.kind == StructureKind::Target)
            .expect("demo target");
        let cam = app.camera_3d().expect("camera fitted");
        let g = app.volume().expect("demo").geometry.clone();
        let (lo, hi) = app.structures().items[target]
            .mask()
            .bounding_box()
            .expect("target mask");
        let mid = g.to_patient(&Vector3::new(
            (lo[0] + hi[0]) as f64 / 2.0,
            (lo[1] + hi[1]) as f64 / 2.0,
            (lo[2] + hi[2]) as f64 / 2.0,
        ));
        assert!(
            (cam.target_lps - mid.coords).norm() < 3.0,
            "camera aims at the target"
        );
        // A click in the middle hits the target: selected, and the crosshair moves onto it.
        click_at(&mut h, pane.center());
        h.run_steps(2);
        let app = h.state();
        assert_eq!(app.structures().selected, Some(target));
        let cross = g.to_patient(&app.viewer().expect("viewer").crosshair);
        assert!(
            (cross - mid).norm() < 15.0,
            "crosshair {cross:?} near the target {mid:?}"
        );
        // A left drag rotates.
        let yaw = app.camera_3d().expect("camera").yaw_rad;
        let from = pane.center() + egui::vec2(-60.0, 40.0);
        h.event(egui::Event::PointerMoved(from));
        h.step();
        h.event(egui::Event::PointerButton {
            pos: from,
            button: PointerButton::Primary,
            pressed: true,
            modifiers: egui::Modifiers::NONE,
        });
        h.step();
        for k in 1..=5 {
            h.event(egui::Event::PointerMoved(from + egui::vec2(12.0 * k as f32, 0.0)));
            h.step();
        }
        h.event(egui::Event::PointerButton {
            pos: from + egui::vec2(60.0, 0.0),
            button: PointerButton::Primary,
            pressed: false,
            modifiers: egui::Modifiers::NONE,
        });
        h.run_steps(2);
        let after = h.state().camera_3d().expect("camera").yaw_rad;
        assert!((after - yaw).abs() > 0.1, "yaw {yaw} -> {after}");
    }
}

#[test]
fn the_board_slide_carries_the_3d_picture_of_the_plan() {
    // A phantom with a target, a nerve, bone and two IRE electrodes: the pipeline's slide (the
    // CLI's and the GUI's) draws the plan in 3-D at the right of the plan block.
    use ablaplan::export::slide::SCENE3D_SIZE;
    use ablaplan::pipeline::{ComputeOverrides, case_slide, load_case, run_model, safety};
    use ablaplan::render::palette;
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/cases/safety_nerve_near_zone.json");
    let assets = ablaplan::physics::model::ModelAssets::builtin().unwrap();
    let ctx = ablaplan::jobs::JobCtx::default();
    let loaded = load_case(&path, None, &ComputeOverrides::default(), &assets, &ctx).unwrap();
    let result = run_model(&loaded, &assets, &ctx, &mut |_| {}).unwrap();
    let s = safety(&loaded, &result, &assets);
    let slide = case_slide(&loaded, &result, &s, &assets).unwrap();
    if let Ok(dir) = std::env::var("ABLAPLAN_SNAPSHOT_DIR") {
        slide
            .save_png(&std::path::Path::new(&dir).join("slide_3d.png"))
            .unwrap();
    }
    assert!(slide.texts.iter().any(|t| t.text == "3D, anterior view"));
    // The picture's box: right-aligned in the plan block (x ≤ 930), under the views.
    let [w, h] = SCENE3D_SIZE;
    let (x0, y0) = (930 - w, 84 + 600 + 18 + 4);
    let mut drawn = 0;
    let mut shaft = 0;
    for y in y0 + 30..y0 + h {
        for x in x0..930 {
            let p = slide.image.get(x as i64, y as i64).unwrap();
            if p[..3] != BG[..3] {
                drawn += 1;
            }
            // The insulated shafts above the zone, shaded in their light grey.
            let s = palette::PROBE_SHAFT;
            let grey = |c: u8, t: u8| (c as i32 - (t as f32 * 0.6) as i32) >= 0;
            if grey(p[0], s[0]) && grey(p[1], s[1]) && grey(p[2], s[2]) && p[0].abs_diff(p[2]) < 30 {
                shaft += 1;
            }
        }
    }
    assert!(drawn > w * h / 20, "3-D picture drawn: {drawn} pixels");
    assert!(shaft > 100, "the electrodes' shafts show: {shaft} pixels");
}
