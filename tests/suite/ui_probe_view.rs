//! The along-probe view in the app: dragging probes in the in-plane image (tip, shaft; moves in
//! the image's plane, one undo step), the IRE |E| isolines on its planes (the pure
//! `plane_isolines` checked against the field it contours) and the cryo isotherms.

use std::time::Duration;

use crate::common;

use ablaplan::app::probe_view::{ProbeView, plane_isolines};
use ablaplan::app::{AblaApp, Command, StartupOptions};
use ablaplan::geometry::PatientPos;
use ablaplan::jobs::JobCtx;
use ablaplan::physics::ire::model::{IreModelOptions, TissueSource, compute_ire};
use ablaplan::plan::catalog::{Modality, builtin_catalog};
use ablaplan::plan::ire::{ElectrodePair, IreSettings};
use ablaplan::plan::probe::Probe;
use ablaplan::plan::tissue_params::builtin_tissue_params;
use ablaplan::render::reslice::{ObliquePlane, in_plane_for_probe};
use eframe::egui::{self, Pos2, Rect};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use nalgebra::Vector3;

/// The demo with two electrodes 15 mm apart along L through the middle of the CT, inserted along
/// S, probe 1 selected and the along-probe view open (coarse model grid: the jobs stay light).
pub(crate) fn demo_with_view() -> Harness<'static, AblaApp> {
    let mut h = common::app_with(StartupOptions::default());
    common::coarse_ire_model(&mut h);
    let centre = target_centroid(&h);
    common::add_electrode_pair(&mut h, centre);
    common::run(&mut h, Command::SelectProbe(Some(0)));
    common::run(&mut h, Command::ShowProbeView(true));
    h.run_steps(3);
    h
}

/// The centre of the demo's target (soft tissue, away from the vessels that would stop a freeze).
fn target_centroid(h: &Harness<'static, AblaApp>) -> PatientPos {
    let app = h.state();
    let vol = app.volume().expect("the demo");
    let t = app
        .structures()
        .items
        .iter()
        .find(|s| s.kind == ablaplan::anatomy::StructureKind::Target)
        .expect("the demo has a target");
    let c = ablaplan::app::structures::mask_centroid(t.mask()).expect("non-empty");
    vol.geometry.to_patient(&Vector3::new(c[0], c[1], c[2]))
}

/// The in-plane image's screen rectangle and plane, as the view builds them.
pub(crate) fn in_plane(h: &Harness<'static, AblaApp>, probe: &Probe) -> (Rect, ObliquePlane) {
    let rect = h.get_by_label("In-plane view").rect();
    let vol = h.state().volume().expect("volume");
    let opts = h.state().probe_view().options();
    let plane = in_plane_for_probe(probe, &vol.geometry, &opts).expect("plane");
    (rect, plane)
}

pub(crate) fn screen_of(rect: Rect, plane: &ObliquePlane, p: &PatientPos) -> Pos2 {
    let px = plane.project(p).px;
    Pos2::new(
        rect.min.x + (px[0] / plane.width as f64) as f32 * rect.width(),
        rect.min.y + (px[1] / plane.height as f64) as f32 * rect.height(),
    )
}

/// LPS mm per screen point along the image's columns and rows.
fn mm_per_point(rect: Rect, plane: &ObliquePlane) -> [f64; 2] {
    let s = plane.size_mm();
    [s[0] / f64::from(rect.width()), s[1] / f64::from(rect.height())]
}

#[test]
fn dragging_the_tip_in_the_along_probe_view_moves_it_in_the_plane_and_undo_restores_it() {
    let mut h = demo_with_view();
    let before = h.state().plan().probes.clone();
    let (rect, plane) = in_plane(&h, &before[0]);
    let tip = screen_of(rect, &plane, &before[0].tip_lps);
    assert!(
        rect.shrink(20.0).contains(tip),
        "the tip {tip:?} is on the image {rect:?}"
    );
    let step = egui::vec2(30.0, 12.0);
    common::drag(&mut h, tip, tip + step, egui::PointerButton::Primary, 6);
    common::settle_jobs(&mut h);

    let after = h.state().plan().probes.clone();
    let mm = mm_per_point(rect, &plane);
    let expected = plane.u_dir * f64::from(step.x) * mm[0] + plane.v_dir * f64::from(step.y) * mm[1];
    let moved = after[0].tip_lps - before[0].tip_lps;
    // Screen positions are f32 points: a few 1e-5 mm of rounding at most.
    assert!(
        (moved - expected).norm() < 1e-3,
        "tip moved by {moved:?}, expected {expected:?}"
    );
    assert!(moved.norm() > 5.0, "a real move: {moved:?}");
    assert!(
        moved.dot(&plane.normal()).abs() < 1e-9,
        "the move stays in the plane"
    );
    assert_eq!(after[0].entry_lps, before[0].entry_lps, "only the tip moved");
    assert_eq!(after[1], before[1], "the other probe did not move");
    assert!(!h.state().probe_view().dragging());

    common::run(&mut h, Command::Undo);
    assert_eq!(h.state().plan().probes, before, "the whole drag is one undo step");
}

#[test]
fn dragging_the_shaft_of_the_other_probe_in_the_plane_moves_it_whole() {
    let mut h = demo_with_view();
    let before = h.state().plan().probes.clone();
    let (rect, plane) = in_plane(&h, &before[0]);
    // Probe 2 lies in probe 1's in-plane image (parallel, 15 mm to the side along L, which is
    // the image's horizontal at 0°): grab its shaft a little above its tip.
    let grab_lps = before[1].tip_lps + (before[1].entry_lps - before[1].tip_lps).normalize() * 25.0;
    let grab = screen_of(rect, &plane, &grab_lps);
    assert!(rect.shrink(10.0).contains(grab), "{grab:?} on {rect:?}");
    let step = egui::vec2(-15.0, 20.0);
    common::drag(&mut h, grab, grab + step, egui::PointerButton::Primary, 5);
    common::settle_jobs(&mut h);

    let after = h.state().plan().probes.clone();
    let mm = mm_per_point(rect, &plane);
    let expected = plane.u_dir * f64::from(step.x) * mm[0] + plane.v_dir * f64::from(step.y) * mm[1];
    let d_tip = after[1].tip_lps - before[1].tip_lps;
    let d_entry = after[1].entry_lps - before[1].entry_lps;
    assert!((d_tip - expected).norm() < 1e-3, "{d_tip:?} vs {expected:?}");
    assert!((d_entry - d_tip).norm() < 1e-9, "the whole probe moved");
    assert_eq!(after[0], before[0]);
    common::run(&mut h, Command::Undo);
    assert_eq!(h.state().plan().probes, before);
}

#[test]
fn a_press_away_from_the_probes_moves_nothing() {
    let mut h = demo_with_view();
    let before = h.state().plan().probes.clone();
    let (rect, _) = in_plane(&h, &before[0]);
    let corner = rect.min + egui::vec2(25.0, 25.0);
    common::drag(
        &mut h,
        corner,
        corner + egui::vec2(40.0, 30.0),
        egui::PointerButton::Primary,
        4,
    );
    common::settle_jobs(&mut h);
    assert_eq!(h.state().plan().probes, before);
    assert!(!h.state().plan().can_redo());
}

#[test]
fn the_view_draws_isolines_of_the_computed_zone() {
    let mut h = demo_with_view();
    common::step_until(&mut h, Duration::from_secs(240), "IRE model", |app| {
        app.ire_result().is_some_and(|r| !r.preview) && !app.model_running()
    });
    h.run_steps(3);
    let [in_plane, eye] = h.state().probe_view().isoline_segment_counts();
    assert!(in_plane > 0, "isolines in the in-plane image");
    assert!(
        eye > 0,
        "isolines in the probe's-eye image (its plane cuts the exposure)"
    );
}

/// Two 19G electrodes 15 mm apart along x, exposed 20 mm, inserted along +z.
fn pair() -> Vec<Probe> {
    [-7.5, 7.5]
        .into_iter()
        .enumerate()
        .map(|(i, x)| Probe {
            model_id: "nanoknife_19g".into(),
            tip_lps: PatientPos::new(x, 0.0, -10.0),
            entry_lps: PatientPos::new(x, 0.0, 90.0),
            exposure_mm: 20.0,
            label: format!("{}", i + 1),
        })
        .collect()
}

#[test]
fn plane_isolines_follow_the_field_of_a_computed_zone() {
    let probes = pair();
    let settings = IreSettings {
        pairs: vec![ElectrodePair {
            a: 0,
            b: 1,
            voltage_v: 2250.0,
        }],
        ..IreSettings::default()
    };
    let params = builtin_tissue_params().unwrap();
    let tissue = TissueSource::Phantom {
        class_id: "soft_tissue",
        centre_lps: PatientPos::origin(),
        size_mm: [120.0; 3],
    };
    let opts = IreModelOptions {
        spacing_mm: 1.0,
        margin_mm: 12.0,
        ..IreModelOptions::default()
    };
    let r = compute_ire(&probes, &settings, tissue, &params, &opts, &JobCtx::default()).unwrap();
    // The plane of both electrodes (x across, z down the image), 0.25 mm pixels.
    let plane = ObliquePlane::new(
        PatientPos::new(0.0, 0.0, 0.0),
        Vector3::x(),
        -Vector3::z(),
        [0.25, 0.25],
        240,
        240,
    )
    .unwrap();
    let levels = [300.0, 500.0, 700.0, 1000.0];
    let lines = plane_isolines(&r, &plane, &levels);
    assert_eq!(
        lines.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    let mut boxes = Vec::new();
    for (n, segs) in &lines {
        assert!(
            segs.len() > 20,
            "level {} V/cm: {} segments",
            levels[*n],
            segs.len()
        );
        // Every vertex lies where the field crosses the level. Marching squares interpolates
        // linearly between 0.25 mm pixels of a trilinear 1 mm field: near the electrodes |E|
        // curves strongly over one pixel, so allow 10 %.
        let mut worst = 0.0f64;
        let mut bbox = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
        for s in segs {
            for p in s {
                let lps = plane.lps_at([f64::from(p[0]), f64::from(p[1])]);
                let e = f64::from(r.max_e_at(&lps).expect("on the grid"));
                worst = worst.max((e - levels[*n]).abs() / levels[*n]);
                bbox = [
                    bbox[0].min(lps.x),
                    bbox[1].min(lps.z),
                    bbox[2].max(lps.x),
                    bbox[3].max(lps.z),
                ];
            }
        }
        println!(
            "{} V/cm: {} segments, worst |E| error {:.2} %, x {:.1}..{:.1} mm, z {:.1}..{:.1} mm",
            levels[*n],
            segs.len(),
            100.0 * worst,
            bbox[0],
            bbox[2],
            bbox[1],
            bbox[3]
        );
        assert!(
            worst < 0.10,
            "level {}: off by {:.1} %",
            levels[*n],
            100.0 * worst
        );
        boxes.push(bbox);
    }
    // A higher level is a smaller contour: nested around the electrodes.
    for w in boxes.windows(2) {
        assert!(w[1][0] >= w[0][0] && w[1][2] <= w[0][2], "{w:?}");
        assert!(w[1][1] >= w[0][1] && w[1][3] <= w[0][3], "{w:?}");
    }
    // The lowest contour encloses both electrodes (x = ±7.5 mm).
    assert!(boxes[0][0] < -7.5 && boxes[0][2] > 7.5, "{:?}", boxes[0]);

    // A plane far from the grid has none.
    let away = ObliquePlane::new(
        PatientPos::new(0.0, 200.0, 0.0),
        Vector3::x(),
        -Vector3::z(),
        [0.25, 0.25],
        240,
        240,
    )
    .unwrap();
    assert!(plane_isolines(&r, &away, &levels).is_empty());
}

#[test]
fn the_view_draws_cryo_isotherms_in_a_cryo_plan() {
    let mut h = common::app_with(StartupOptions::default());
    let cat = builtin_catalog().unwrap();
    let id = cat
        .of_modality(Modality::Cryo)
        .find(|m| m.default_active_mm().is_some())
        .expect("a cryoprobe")
        .id
        .clone();
    common::run(&mut h, Command::SetProbeModel(id));
    let mut s = ablaplan::physics::cryo::model::CryoSettings::default();
    // A coarse grid keeps the job light (the model's accuracy is tested elsewhere).
    s.model.spacing_mm = 2.0;
    common::run(
        &mut h,
        Command::SetCryoSettings {
            settings: s,
            live: false,
        },
    );
    let centre = target_centroid(&h);
    let tip = centre + Vector3::new(0.0, 0.0, -10.0);
    common::run(
        &mut h,
        Command::AddProbe {
            tip_lps: tip,
            entry_lps: tip + Vector3::new(0.0, 0.0, 110.0),
        },
    );
    assert!(h.state().is_cryo_plan());
    common::step_until(&mut h, Duration::from_secs(600), "cryo model", |app| {
        app.cryo_result().is_some() && !app.model_running()
    });
    common::run(&mut h, Command::ShowProbeView(true));
    h.run_steps(3);
    let [in_plane, eye] = h.state().probe_view().isotherm_segment_counts();
    assert!(in_plane > 0, "isotherms in the in-plane image");
    assert!(eye > 0, "isotherms in the probe's-eye image");
    assert_eq!(
        h.state().probe_view().isoline_segment_counts(),
        [0, 0],
        "no IRE zone in a cryo plan"
    );
}

#[test]
fn the_read_only_widget_still_draws_without_commands() {
    // `ProbeView::ui` (no commands) is what the reslice tests drive; a drag there changes nothing
    // and leaves no drag state behind.
    let vol = ablaplan::demo::demo_volume();
    let centre = {
        let d = vol.geometry.dims;
        vol.geometry.to_patient(&Vector3::new(
            d[0] as f64 / 2.0,
            d[1] as f64 / 2.0,
            d[2] as f64 / 2.0,
        ))
    };
    let probes: Vec<Probe> = pair()
        .into_iter()
        .map(|mut p| {
            p.tip_lps += centre.coords;
            p.entry_lps += centre.coords;
            p
        })
        .collect();
    let wl = ablaplan::render::WindowLevel::new(40.0, 400.0);
    let shown = probes.clone();
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1000.0, 600.0))
        .build_ui_state(
            move |ui, view: &mut ProbeView| {
                view.ui(ui, &vol, 1, &[], &shown, 0, None, wl);
            },
            ProbeView::default(),
        );
    h.run_steps(2);
    let rect = h.get_by_label("In-plane view").rect();
    let c = rect.center();
    h.event(egui::Event::PointerMoved(c));
    h.event(egui::Event::PointerButton {
        pos: c,
        button: egui::PointerButton::Primary,
        pressed: true,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(1);
    h.event(egui::Event::PointerMoved(c + egui::vec2(30.0, 0.0)));
    h.run_steps(1);
    assert!(!h.state().dragging());
}
