//! Planning from the skin to the tip in the app (issue 16), driven through egui_kittest on the
//! demo: Shift places a new electrode on an existing one, dragging the entry in a slice view and
//! in the along-probe view (the tip stays, the path check follows, one undo step), the path check
//! naming what the path crosses with its depth from the skin, the safe window on the skin and
//! picking an entry from it, and the array template's directions. Expected values come from the
//! geometry, not from the UI under test.

use std::time::Duration;

use crate::common;
use crate::ui_plan::{click_label, demo, lps_of_screen, screen_of_lps, target_centroid};

use ablaplan::anatomy::body::{angles_from_direction, direction_from_angles};
use ablaplan::app::plan::ArrayOptions;
use ablaplan::app::{AblaApp, Command};
use ablaplan::geometry::PatientPos;
use ablaplan::plan::probe::Probe;
use ablaplan::safety::path_check::HazardKind;
use ablaplan::volume::ViewKind;
use eframe::egui::{self, Event, Modifiers, PointerButton, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use nalgebra::Vector3;

/// Steps until the body outline, the path checks and the safe window are ready.
fn settle_paths(h: &mut Harness<'static, AblaApp>) {
    common::settle_jobs(h);
    common::step_until(h, Duration::from_secs(240), "path checks", |app| {
        app.trajectory_ready()
    });
    h.run_steps(2);
}

fn probe_tool(h: &mut Harness<'static, AblaApp>) {
    h.get_by_label("IRE electrode").click();
    h.run_steps(2);
    common::settle_jobs(h);
}

fn add(h: &mut Harness<'static, AblaApp>, tip_lps: PatientPos, entry_lps: PatientPos) {
    common::run(h, Command::AddProbe { tip_lps, entry_lps });
}

/// A left-button drag with Shift held from the press to the release.
fn shift_drag(h: &mut Harness<'static, AblaApp>, from: Pos2, to: Pos2) {
    h.event(Event::ModifiersChanged(Modifiers::SHIFT));
    h.event(Event::PointerMoved(from));
    h.event(Event::PointerButton {
        pos: from,
        button: PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::SHIFT,
    });
    h.step();
    for s in 1..=6 {
        h.event(Event::PointerMoved(from + (to - from) * (s as f32 / 6.0)));
        h.step();
    }
    h.event(Event::PointerButton {
        pos: to,
        button: PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::SHIFT,
    });
    h.event(Event::ModifiersChanged(Modifiers::NONE));
    h.run_steps(2);
}

fn close(a: &PatientPos, b: &PatientPos, tol_mm: f64) -> bool {
    (a - b).norm() < tol_mm
}

fn unit_close(a: &Vector3<f64>, b: &Vector3<f64>) -> bool {
    (a.normalize() - b.normalize()).norm() < 1e-6
}

#[test]
fn with_shift_a_drag_on_an_existing_electrode_places_a_new_one_and_one_undo_removes_it() {
    let mut h = demo();
    probe_tool(&mut h);
    let c = h.get_by_label("Axial view").rect().center();
    let tip = lps_of_screen(&h, ViewKind::Axial, c);
    add(&mut h, tip, tip + Vector3::new(0.0, -60.0, 0.0));
    let before = h.state().plan().probes.clone();
    assert_eq!(before.len(), 1);
    // Press on the first electrode's shaft: without Shift that grabs it (and moves it) ...
    let on_shaft = screen_of_lps(
        &h,
        ViewKind::Axial,
        &nalgebra::center(&before[0].tip_lps, &before[0].entry_lps),
    );
    let to = on_shaft + egui::vec2(60.0, 0.0);
    common::drag(&mut h, on_shaft, to, PointerButton::Primary, 6);
    common::settle_jobs(&mut h);
    assert_eq!(
        h.state().plan().probes.len(),
        1,
        "a plain drag moves the electrode"
    );
    assert_ne!(h.state().plan().probes[0], before[0]);
    common::run(&mut h, Command::Undo);
    assert_eq!(h.state().plan().probes, before);

    // ... with Shift it places a second electrode from there, and leaves the first alone.
    let (new_tip, new_entry) = (
        lps_of_screen(&h, ViewKind::Axial, on_shaft),
        lps_of_screen(&h, ViewKind::Axial, to),
    );
    shift_drag(&mut h, on_shaft, to);
    common::settle_jobs(&mut h);
    let after = h.state().plan().probes.clone();
    assert_eq!(after.len(), 2, "{:?}", h.state().notices());
    assert_eq!(after[0], before[0], "the first electrode did not move");
    assert!(close(&after[1].tip_lps, &new_tip, 1e-3) && close(&after[1].entry_lps, &new_entry, 1e-3));
    common::run(&mut h, Command::Undo);
    assert_eq!(h.state().plan().probes, before, "one undo step");
}

#[test]
fn dragging_the_entry_in_the_axial_view_keeps_the_tip_and_the_path_check_follows() {
    let mut h = demo();
    probe_tool(&mut h);
    let tip = target_centroid(&h);
    add(&mut h, tip, tip + Vector3::new(0.0, -60.0, 0.0));
    common::run(&mut h, Command::SelectProbe(Some(0)));
    settle_paths(&mut h);
    let before = h.state().plan().probes.clone();
    let check0 = h.state().path_checks()[0].clone().expect("a path from the skin");
    assert!(
        unit_close(&check0.skin.direction, &Vector3::y()),
        "an anterior path"
    );

    let entry = screen_of_lps(&h, ViewKind::Axial, &before[0].entry_lps);
    assert!(h.get_by_label("Axial view").rect().shrink(10.0).contains(entry));
    common::drag(
        &mut h,
        entry,
        entry + egui::vec2(45.0, 0.0),
        PointerButton::Primary,
        6,
    );
    settle_paths(&mut h);
    let after = h.state().plan().probes.clone();
    assert_eq!(after[0].tip_lps, before[0].tip_lps, "the tip stays");
    assert!(
        (after[0].entry_lps - before[0].entry_lps).norm() > 5.0,
        "the entry moved"
    );
    let check1 = h.state().path_checks()[0].clone().expect("a path");
    let axis = after[0].axis().expect("a valid probe");
    assert!(
        unit_close(&check1.skin.direction, &axis),
        "the path follows the probe"
    );
    let (ip0, _) = angles_from_direction(&(before[0].tip_lps - before[0].entry_lps)).expect("angles");
    let (ip1, _) = angles_from_direction(&axis).expect("angles");
    assert!(
        (ip1 - ip0).abs() > 5.0,
        "the in-plane angle follows: {ip0} to {ip1}"
    );

    common::run(&mut h, Command::Undo);
    settle_paths(&mut h);
    assert_eq!(h.state().plan().probes, before, "the whole drag is one undo step");
    assert_eq!(h.state().path_checks()[0].as_ref(), Some(&check0));
}

#[test]
fn dragging_the_entry_in_the_along_probe_view_keeps_the_tip() {
    let mut h = crate::ui_probe_view::demo_with_view();
    // A short probe, so that its entry lies on the in-plane image.
    let p = h.state().plan().probes[0].clone();
    let short = Probe {
        entry_lps: p.tip_lps + Vector3::new(0.0, 0.0, 30.0),
        ..p
    };
    common::run(
        &mut h,
        Command::SetProbe {
            index: 0,
            probe: short.clone(),
        },
    );
    settle_paths(&mut h);
    h.run_steps(3);
    let before = h.state().plan().probes.clone();
    let (rect, plane) = crate::ui_probe_view::in_plane(&h, &before[0]);
    let entry = crate::ui_probe_view::screen_of(rect, &plane, &before[0].entry_lps);
    assert!(rect.shrink(10.0).contains(entry), "{entry:?} on {rect:?}");
    common::drag(
        &mut h,
        entry,
        entry + egui::vec2(35.0, 0.0),
        PointerButton::Primary,
        6,
    );
    settle_paths(&mut h);
    let after = h.state().plan().probes.clone();
    assert_eq!(after[0].tip_lps, before[0].tip_lps, "the tip stays");
    let moved = after[0].entry_lps - before[0].entry_lps;
    assert!(moved.norm() > 3.0, "the entry moved: {moved:?}");
    assert!(moved.dot(&plane.normal()).abs() < 1e-6, "in the image's plane");
    assert_eq!(after[1], before[1]);
    let check = h.state().path_checks()[0].clone().expect("a path");
    assert!(unit_close(
        &check.skin.direction,
        &after[0].axis().expect("valid")
    ));
    common::run(&mut h, Command::Undo);
    assert_eq!(h.state().plan().probes, before, "one undo step");
}

#[test]
fn the_path_check_names_another_probe_on_the_path_with_its_depth_from_the_skin() {
    let mut h = demo();
    let c = target_centroid(&h);
    // Probe 1 along S through the target; probe 2 from the patient's right, its tip 20 mm to
    // the left of probe 1 and 10 mm above probe 1's tip: its path crosses probe 1's shaft.
    add(&mut h, c, c + Vector3::new(0.0, 0.0, 100.0));
    let tip2 = c + Vector3::new(20.0, 0.0, 10.0);
    add(&mut h, tip2, tip2 + Vector3::new(-60.0, 0.0, 0.0));
    common::run(&mut h, Command::SelectProbe(Some(1)));
    settle_paths(&mut h);
    let check = h.state().path_checks()[1].clone().expect("a path from the skin");
    assert!(check.skin.entry_lps.x < tip2.x - 20.0, "entered from the right");
    assert!(!check.is_clear());
    let hit = check
        .hazards
        .iter()
        .find(|z| z.kind == HazardKind::Probe)
        .unwrap_or_else(|| panic!("probe 1 on the path: {:?}", check.hazards));
    // Probe 1's axis lies 20 mm before the tip; the stretch starts a shaft's gap earlier.
    let axis_depth = check.skin.depth_mm - 20.0;
    assert!(
        hit.from_skin_mm[0] < axis_depth && hit.from_skin_mm[0] > axis_depth - 4.0,
        "{:?} vs {axis_depth}",
        hit.from_skin_mm
    );
    let text = format!("Crosses probe 1 at {:.0} mm from the skin", hit.from_skin_mm[0]);
    assert!(h.query_by_label(&text).is_some(), "the inspector says {text}");
    assert!(h.query_by_label_contains("Path from the skin,").is_some());
}

#[test]
fn the_safe_window_marks_clear_and_blocked_entries_and_a_click_on_a_clear_one_takes_it() {
    let mut h = demo();
    probe_tool(&mut h);
    common::run(&mut h, Command::SetActiveView(ViewKind::Axial));
    let c = target_centroid(&h);
    add(&mut h, c, c + Vector3::new(0.0, 0.0, 100.0));
    common::run(&mut h, Command::SelectProbe(Some(0)));
    common::run(&mut h, Command::ShowSafeWindow(true));
    settle_paths(&mut h);
    let w = h.state().safe_window().expect("the window").clone();
    assert_eq!(w.view, ViewKind::Axial);
    assert_eq!(w.probe, 0);
    let n = w.samples.len();
    let clear = w.clear_count();
    assert!(clear > 0 && clear < n, "{clear} of {n} clear");
    for s in &w.samples {
        let e = s.entry_lps.expect("an entry on the skin");
        assert!((e.z - c.z).abs() < 1e-6, "in the axial plane through the tip");
    }
    assert!(
        h.query_by_label(&format!("{clear} of {n} directions in the axial plane are clear"))
            .is_some()
    );

    // A clear direction between two clear ones, its mark on the screen: click it.
    let rect = h.get_by_label("Axial view").rect().shrink(12.0);
    let pick = (0..n)
        .find(|&i| {
            let ok = |j: usize| w.samples[j % n].clear;
            ok(i + n - 1)
                && ok(i)
                && ok(i + 1)
                && rect.contains(screen_of_lps(
                    &h,
                    ViewKind::Axial,
                    &w.samples[i].entry_lps.expect("entry"),
                ))
        })
        .expect("a clear run on the screen");
    let target_entry = w.samples[pick].entry_lps.expect("entry");
    let before = h.state().plan().probes.clone();
    let at = screen_of_lps(&h, ViewKind::Axial, &target_entry);
    common::click_at(&mut h, at);
    settle_paths(&mut h);
    let after = h.state().plan().probes.clone();
    assert_eq!(after[0].tip_lps, before[0].tip_lps);
    assert!(
        close(&after[0].entry_lps, &target_entry, 1e-9),
        "{:?} vs {target_entry:?}",
        after[0].entry_lps
    );
    let check = h.state().path_checks()[0].clone().expect("a path");
    assert!(check.is_clear(), "{:?}", check.first_problem());
    common::run(&mut h, Command::Undo);
    assert_eq!(h.state().plan().probes, before, "one undo step");
}

/// The first two electrodes of an array (its first row) and every electrode's direction.
fn array_axes(h: &Harness<'static, AblaApp>) -> Vec<Vector3<f64>> {
    h.state()
        .plan()
        .probes
        .iter()
        .map(|p| p.axis().expect("valid"))
        .collect()
}

fn assert_parallel_and_spaced(h: &Harness<'static, AblaApp>, dir: &Vector3<f64>, what: &str) {
    let probes = h.state().plan().probes.clone();
    assert_eq!(probes.len(), 4, "{what}");
    for a in array_axes(h) {
        assert!(unit_close(&a, dir), "{what}: {a:?} vs {dir:?}");
    }
    let spacing = h.state().array_options().spacing_mm;
    // The square's side: electrodes 1 and 2, measured across the direction.
    let d = probes[1].tip_lps - probes[0].tip_lps;
    assert!(
        (d.norm() - spacing).abs() < 1e-9 && d.dot(dir).abs() < 1e-9,
        "{what}: {d:?}"
    );
}

#[test]
fn the_array_template_keeps_its_geometry_along_posterior_lateral_oblique_and_in_view_directions() {
    let mut h = demo();
    for (label, dir) in [("P to A", -Vector3::y()), ("L to R", -Vector3::x())] {
        click_label(&mut h, label);
        click_label(&mut h, "Place array");
        common::settle_jobs(&mut h);
        assert_parallel_and_spaced(&h, &dir, label);
    }
    click_label(&mut h, "Oblique");
    assert!(h.query_by_label("Array in-plane angle").is_some());
    assert!(h.query_by_label("Array cranio-caudal angle").is_some());
    let o = ArrayOptions {
        oblique_deg: [135.0, 20.0],
        ..h.state().array_options()
    };
    common::run(&mut h, Command::SetArrayOptions(o));
    click_label(&mut h, "Place array");
    common::settle_jobs(&mut h);
    assert_parallel_and_spaced(&h, &direction_from_angles(135.0, 20.0), "oblique");

    common::run(&mut h, Command::SetActiveView(ViewKind::Coronal));
    click_label(&mut h, "In Coronal plane");
    assert!(h.query_by_label("Angle in view").is_some());
    click_label(&mut h, "Place array");
    common::settle_jobs(&mut h);
    // 0 deg in the coronal view: from the top of the view down, superior to inferior; the first
    // row lies in the coronal plane too (both electrodes seen along their length there).
    assert_parallel_and_spaced(&h, &-Vector3::z(), "in the coronal plane");
    let probes = h.state().plan().probes.clone();
    for p in &probes[..2] {
        assert!((p.tip_lps.y - probes[0].tip_lps.y).abs() < 1e-9);
        assert!((p.entry_lps.y - probes[0].tip_lps.y).abs() < 1e-9);
    }
}

/// The guide's picture of planning from the skin: one electrode from the patient's right through
/// the demo's vessels, its path check on the path, the safe window of its tip in the axial view,
/// and the along-probe view. Ignored like `ui_screens` (needs a Vulkan device; writes PNGs).
#[test]
#[ignore = "writes screenshots; needs a Vulkan device"]
fn ui_screens_skin_to_tip() {
    let Some(mut h) = crate::ui_screens::app() else {
        return;
    };
    common::coarse_ire_model(&mut h);
    let target = h
        .state()
        .structures()
        .items
        .iter()
        .position(|s| s.kind == ablaplan::anatomy::StructureKind::Target)
        .expect("the demo has a target");
    common::run(&mut h, Command::JumpToStructure(target));
    common::run(&mut h, Command::SetActiveView(ViewKind::Axial));
    let c = target_centroid(&h);
    let entry = c - direction_from_angles(285.0, 0.0) * 120.0;
    add(&mut h, c, entry);
    common::run(&mut h, Command::SelectProbe(Some(0)));
    common::run(&mut h, Command::ShowSafeWindow(true));
    settle_paths(&mut h);
    crate::ui_screens::shot(&mut h, "skin_to_tip");
    common::run(&mut h, Command::ShowProbeView(true));
    settle_paths(&mut h);
    crate::ui_screens::shot(&mut h, "skin_to_tip_along_probe");
}
