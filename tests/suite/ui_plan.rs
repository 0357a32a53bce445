//! Planning flows driven through egui_kittest: placing IRE electrodes by dragging, array
//! templates, the pairs table, geometry checks, undo/redo shared with structures, numeric edits,
//! and the model's status. Expected values come from the geometry and the `plan` functions, not
//! from the UI under test.

use std::time::Duration;

use crate::common;

use ablaplan::app::plan::{ArrayCentre, ArrayOptions, array_direction, array_in_plane};
use ablaplan::app::settings::Settings;
use ablaplan::app::viewer::ViewTransform;
use ablaplan::app::{AblaApp, Command, RunStatus, StartupOptions, Tool};
use ablaplan::geometry::PatientPos;
use ablaplan::physics::ire::model::IreModelOptions;
use ablaplan::plan::catalog::{Modality, builtin_catalog};
use ablaplan::plan::ire::{default_pairs, pair_spacing_mm};
use ablaplan::plan::probe::{ArrayTemplate, parallel_array};
use ablaplan::volume::ViewKind;
use eframe::egui::{self, Event, Key, Modifiers, PointerButton, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// The demo case with a coarse model grid, so that the background IRE jobs the flows start stay
/// light (the model's accuracy is tested elsewhere).
pub(crate) fn demo() -> Harness<'static, AblaApp> {
    let mut h = Harness::builder().with_size(WINDOW).build_eframe(|cc| {
        AblaApp::with_settings(
            cc.egui_ctx.clone(),
            Settings::default(),
            StartupOptions::default(),
        )
    });
    common::settle(&mut h);
    let opts = IreModelOptions {
        spacing_mm: 1.0,
        ..IreModelOptions::default()
    };
    h.state_mut().push(Command::SetModelOptions(opts));
    h.run_steps(2);
    // The safety pass of the demo's structures ends a little later and changes the panels (and
    // so the views' rectangles): tests compute screen positions after it.
    common::settle_jobs(&mut h);
    h
}

/// Steps frames until the background IRE job (if any) is done.
fn settle_ire(h: &mut Harness<'static, AblaApp>, limit: Duration) {
    common::step_until(h, limit, "IRE job", |app| !app.model_running());
}

const WINDOW: egui::Vec2 = egui::Vec2::new(1400.0, 900.0);

/// Scrolls a panel widget into view (scrolling animates over several frames), waits until it
/// has stood still inside the window for a few frames, then clicks it.
/// A job finishing between finding the widget and the click changes the panel's layout (the
/// click would land on a neighbour), so the work started by earlier commands ends first.
pub(crate) fn click_label(h: &mut Harness<'static, AblaApp>, label: &str) {
    common::settle_jobs(h);
    click_label_now(h, label);
}

/// [`click_label`] without waiting for the running jobs (a control that exists only while one
/// runs).
fn click_label_now(h: &mut Harness<'static, AblaApp>, label: &str) {
    h.get_by_label(label).scroll_to_me();
    let (mut last, mut still) = (None, 0);
    for _ in 0..300 {
        h.step();
        let r = h.get_by_label(label).rect();
        let inside = r.min.y >= 0.0 && r.max.y <= WINDOW.y - 40.0;
        still = if last == Some(r) { still + 1 } else { 0 };
        last = Some(r);
        if inside && still >= 5 {
            break;
        }
    }
    h.get_by_label(label).click();
    h.run_steps(2);
}

/// A left drag in six pointer moves.
fn drag(h: &mut Harness<'static, AblaApp>, from: Pos2, to: Pos2) {
    common::drag(h, from, to, PointerButton::Primary, 6);
}

/// The transform of a view as the app builds it (rect from the accessibility tree).
pub(crate) fn transform(h: &Harness<'static, AblaApp>, view: ViewKind) -> ViewTransform {
    let rect = h.get_by_label(&format!("{} view", view.name())).rect();
    let app = h.state();
    let vol = app.volume().expect("volume");
    let m = vol.view_mapping(view);
    ViewTransform::new(
        [
            rect.min.x as f64,
            rect.min.y as f64,
            rect.width() as f64,
            rect.height() as f64,
        ],
        &m,
        app.viewer().expect("viewer").view(view),
    )
}

/// LPS of a screen point on the slice `view` shows, from the geometry.
pub(crate) fn lps_of_screen(h: &Harness<'static, AblaApp>, view: ViewKind, p: Pos2) -> PatientPos {
    let xf = transform(h, view);
    let app = h.state();
    let vol = app.volume().expect("volume");
    let m = vol.view_mapping(view);
    let slice = app.slice_index(view).expect("slice") as f64;
    let (u, v) = xf.to_image([p.x as f64, p.y as f64]);
    vol.geometry.to_patient(&m.voxel_of_pixel(u, v, slice))
}

/// Screen point of an LPS position in `view` (projected on the view plane).
pub(crate) fn screen_of_lps(h: &Harness<'static, AblaApp>, view: ViewKind, p: &PatientPos) -> Pos2 {
    let xf = transform(h, view);
    let vol = h.state().volume().expect("volume").clone();
    let m = vol.view_mapping(view);
    let (u, v, _) = m.pixel_of_voxel(&vol.geometry.to_voxel(p));
    let s = xf.to_screen(u, v);
    Pos2::new(s[0] as f32, s[1] as f32)
}

fn default_electrode() -> (String, f64) {
    let cat = builtin_catalog().expect("catalog");
    let m = cat.of_modality(Modality::Ire).next().expect("an IRE electrode");
    (m.id.clone(), m.default_active_mm().expect("default exposure"))
}

pub(crate) fn target_centroid(h: &Harness<'static, AblaApp>) -> PatientPos {
    let app = h.state();
    let vol = app.volume().expect("volume");
    let t = app
        .structures()
        .items
        .iter()
        .find(|s| s.kind == ablaplan::anatomy::StructureKind::Target)
        .expect("the demo has a target");
    let c = ablaplan::app::structures::mask_centroid(t.mask()).expect("non-empty");
    vol.geometry.to_patient(&nalgebra::Vector3::new(c[0], c[1], c[2]))
}

/// Asks for the array template with two electrodes (the frames that apply it are the caller's).
fn place_two_electrode_array(h: &mut Harness<'static, AblaApp>) {
    let o = ArrayOptions {
        n: 2,
        ..h.state().array_options()
    };
    h.state_mut().push(Command::SetArrayOptions(o));
    h.state_mut().push(Command::PlaceArray);
}

fn close(a: &PatientPos, b: &PatientPos, tol_mm: f64) -> bool {
    (a - b).norm() < tol_mm
}

#[test]
fn dragging_in_the_axial_view_places_an_electrode() {
    let mut h = demo();
    h.get_by_label("IRE electrode").click();
    h.run_steps(2);
    common::settle_jobs(&mut h);
    assert_eq!(h.state().tool(), Tool::Probe);
    let c = h.get_by_label("Axial view").rect().center();
    let (from, to) = (c + egui::vec2(-25.0, 30.0), c + egui::vec2(-35.0, -90.0));
    let (tip, entry) = (
        lps_of_screen(&h, ViewKind::Axial, from),
        lps_of_screen(&h, ViewKind::Axial, to),
    );
    drag(&mut h, from, to);
    let plan = h.state().plan();
    assert_eq!(plan.probes.len(), 1, "{:?}", h.state().notices());
    let p = &plan.probes[0];
    // Screen positions pass through f32 points: agree to far below a voxel.
    assert!(close(&p.tip_lps, &tip, 1e-3), "tip {:?} vs {tip:?}", p.tip_lps);
    assert!(
        close(&p.entry_lps, &entry, 1e-3),
        "entry {:?} vs {entry:?}",
        p.entry_lps
    );
    assert!(
        (p.tip_lps.z - p.entry_lps.z).abs() < 1e-9,
        "placed in the axial plane"
    );
    let (model, exposure) = default_electrode();
    assert_eq!((p.model_id.as_str(), p.exposure_mm), (model.as_str(), exposure));
    assert_eq!(p.label, "1");
    assert_eq!(plan.selected, Some(0));
    // One electrode: the model says what is missing, no panic.
    match h.state().model_status() {
        RunStatus::Error(m) => assert!(m.contains("two electrodes"), "{m}"),
        s => panic!("unexpected status {s:?}"),
    }
    assert!(
        h.query_by_label_contains("place at least two electrodes")
            .is_some()
    );
    // The inspector lists it.
    assert!(h.query_by_label_contains("Electrode 1 ·").is_some());
}

#[test]
fn a_short_twitch_places_nothing_and_a_click_selects() {
    let mut h = demo();
    h.get_by_label("IRE electrode").click();
    h.run_steps(2);
    let c = h.get_by_label("Axial view").rect().center();
    // Under 2 mm on screen at the fitted zoom: no probe.
    drag(&mut h, c, c + egui::vec2(1.0, 1.0));
    assert!(h.state().plan().probes.is_empty());
    // A probe in the axial plane, deselected; clicking its shaft selects it.
    let tip = lps_of_screen(&h, ViewKind::Axial, c);
    h.state_mut().push(Command::AddProbe {
        tip_lps: tip,
        entry_lps: tip + nalgebra::Vector3::new(0.0, -60.0, 0.0),
    });
    h.state_mut().push(Command::SelectProbe(None));
    h.run_steps(2);
    assert_eq!(h.state().plan().selected, None);
    let p = h.state().plan().probes[0].clone();
    let mid = screen_of_lps(&h, ViewKind::Axial, &nalgebra::center(&p.tip_lps, &p.entry_lps));
    common::click_at(&mut h, mid);
    assert_eq!(h.state().plan().selected, Some(0));
    assert_eq!(h.state().plan().probes.len(), 1, "a click places nothing");
}

#[test]
fn array_template_places_four_electrodes_with_default_pairs() {
    let mut h = demo();
    assert_eq!(h.state().array_options().n, 4);
    assert_eq!(h.state().array_options().centre, ArrayCentre::Target);
    click_label(&mut h, "Place array");
    h.run_steps(1);
    let (model, exposure) = default_electrode();
    let expected = {
        let app = h.state();
        let o = app.array_options();
        let g = &app.volume().expect("volume").geometry;
        let axis = array_direction(o.axis, ViewKind::Axial, g);
        parallel_array(&ArrayTemplate::centred(
            &model,
            4,
            o.spacing_mm,
            target_centroid(&h),
            axis,
            array_in_plane(&axis),
            exposure,
            o.length_mm,
        ))
        .expect("template")
    };
    let plan = h.state().plan();
    assert_eq!(plan.probes.len(), 4);
    for (p, e) in plan.probes.iter().zip(&expected) {
        assert!(close(&p.tip_lps, &e.tip_lps, 1e-9) && close(&p.entry_lps, &e.entry_lps, 1e-9));
        assert_eq!(p.label, e.label);
    }
    // The axial view's normal: probes run head to feet.
    assert!((plan.probes[0].tip_lps.z - plan.probes[0].entry_lps.z) < 0.0);
    // Pairs: what NanoKnife would pulse (every pair ≤ 25 mm: a 15 mm square's sides and diagonals).
    let pairs = default_pairs(&plan.probes, &plan.ire().expect("IRE plan").settings);
    assert_eq!(plan.ire().expect("IRE plan").settings.pairs, pairs);
    assert_eq!(pairs.len(), 6);
    for pr in &plan.ire().expect("IRE plan").settings.pairs {
        let d = pair_spacing_mm(&plan.probes[pr.a], &plan.probes[pr.b]).expect("valid");
        let v = ((d / 10.0 * 1500.0) / 10.0).round() * 10.0;
        assert_eq!(pr.voltage_v, v.min(3000.0), "pair {}–{}: {d} mm", pr.a, pr.b);
    }
    // The table lists the pairs; the checks are quiet for a regular array.
    for name in ["Pair 1–2", "Pair 1–3", "Pair 3–4"] {
        assert!(h.query_by_label(name).is_some(), "{name}");
    }
    assert!(h.query_by_label_contains("No placement problems").is_some());

    // One undo step brings back the empty plan, redo the array.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert!(h.state().plan().probes.is_empty());
    h.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    h.run_steps(2);
    assert_eq!(h.state().plan().probes, expected);
}

#[test]
fn excluding_a_pair_and_editing_a_voltage() {
    let mut h = demo();
    h.state_mut().push(Command::PlaceArray);
    h.run_steps(3);
    let n_pairs = h.state().plan().ire().expect("IRE plan").settings.pairs.len();
    click_label(&mut h, "Pair 1–3");
    let plan = h.state().plan();
    assert_eq!(plan.ire().expect("IRE plan").settings.pairs.len(), n_pairs - 1);
    assert!(
        !plan
            .ire()
            .expect("IRE plan")
            .settings
            .pairs
            .iter()
            .any(|p| (p.a, p.b) == (0, 2))
    );
    h.state_mut().push(Command::SetPairVoltage {
        a: 0,
        b: 1,
        voltage_v: Some(1800.0),
        live: false,
    });
    h.run_steps(2);
    assert_eq!(
        h.state().plan().ire().expect("IRE plan").settings.pairs[0].voltage_v,
        1800.0
    );
    click_label(&mut h, "Reset pairs");
    let plan = h.state().plan();
    assert_eq!(
        plan.ire().expect("IRE plan").settings.pairs,
        default_pairs(&plan.probes, &plan.ire().expect("IRE plan").settings)
    );
}

#[test]
fn spacing_above_the_limit_is_a_warning() {
    let mut h = demo();
    let c = target_centroid(&h);
    let down = nalgebra::Vector3::new(0.0, 0.0, -60.0);
    for dx in [-15.0, 15.0] {
        let tip = c + nalgebra::Vector3::new(dx, 0.0, 10.0);
        h.state_mut().push(Command::AddProbe {
            tip_lps: tip,
            entry_lps: tip - down,
        });
    }
    h.run_steps(3);
    assert_eq!(h.state().plan().probes.len(), 2);
    let warnings = h.query_all_by_label_contains("above 25.0 mm").count();
    assert!(warnings >= 1, "a spacing warning is shown");
    assert!(h.query_all_by_label_contains("Warning: probe").count() >= 1);
    // 30 mm is too far for a default pair: the model says so instead of running.
    assert!(
        h.state()
            .plan()
            .ire()
            .expect("IRE plan")
            .settings
            .pairs
            .is_empty()
    );
    assert!(matches!(h.state().model_status(), RunStatus::Error(m) if m.contains("no pair to pulse")));
    assert!(h.query_by_label_contains("no pair to pulse").is_some());
}

#[test]
fn exposure_edit_delete_and_undo() {
    let mut h = demo();
    place_two_electrode_array(&mut h);
    h.run_steps(3);
    assert_eq!(h.state().plan().probes.len(), 2);
    h.get_by_label_contains("Electrode 2 ·").click();
    h.run_steps(2);
    assert_eq!(h.state().plan().selected, Some(1));
    click_label(&mut h, "Exposure");
    h.get_by_label("2.5 cm").click();
    h.run_steps(2);
    assert_eq!(h.state().plan().probes[1].exposure_mm, 25.0);
    assert_eq!(h.state().plan().probes[0].exposure_mm, 20.0);
    click_label(&mut h, "Undo (Ctrl+Z)");
    assert_eq!(h.state().plan().probes[1].exposure_mm, 20.0);
    click_label(&mut h, "Redo (Ctrl+Y)");
    assert_eq!(h.state().plan().probes[1].exposure_mm, 25.0);

    click_label(&mut h, "Delete electrode");
    assert_eq!(h.state().plan().probes.len(), 1);
    assert_eq!(h.state().plan().probes[0].label, "1");
    // The Delete key removes the selected one.
    h.state_mut().push(Command::SelectProbe(Some(0)));
    h.run_steps(2);
    h.event(Event::PointerMoved(h.get_by_label("Axial view").rect().center()));
    h.key_press(Key::Delete);
    h.run_steps(2);
    assert!(h.state().plan().probes.is_empty());
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().plan().probes.len(), 1);
}

#[test]
fn undo_interleaves_structure_and_plan_edits() {
    let mut h = demo();
    let n_structures = h.state().structures().items.len();
    h.get_by_label("+ Nerve").click();
    h.run_steps(2);
    let c = target_centroid(&h);
    h.state_mut().push(Command::AddProbe {
        tip_lps: c,
        entry_lps: c + nalgebra::Vector3::new(0.0, -80.0, 0.0),
    });
    h.run_steps(2);
    assert_eq!(h.state().structures().items.len(), n_structures + 1);
    assert_eq!(h.state().plan().probes.len(), 1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert!(
        h.state().plan().probes.is_empty(),
        "the last edit (the probe) first"
    );
    assert_eq!(h.state().structures().items.len(), n_structures + 1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().structures().items.len(), n_structures);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    h.run_steps(2);
    assert_eq!(h.state().structures().items.len(), n_structures + 1);
    assert_eq!(h.state().plan().probes.len(), 1);
    // A new edit after an undo drops the redo steps of both.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    h.state_mut().push(Command::AddProbe {
        tip_lps: c,
        entry_lps: c + nalgebra::Vector3::new(0.0, -60.0, 0.0),
    });
    h.run_steps(2);
    assert!(!h.state().can_redo());
}

#[test]
fn dragging_the_tip_handle_moves_only_the_tip_and_is_one_undo_step() {
    let mut h = demo();
    h.get_by_label("IRE electrode").click();
    h.run_steps(2);
    let c = h.get_by_label("Axial view").rect().center();
    drag(&mut h, c + egui::vec2(0.0, 20.0), c + egui::vec2(0.0, -80.0));
    let before = h.state().plan().probes[0].clone();
    let tip_screen = screen_of_lps(&h, ViewKind::Axial, &before.tip_lps);
    let to = tip_screen + egui::vec2(30.0, 10.0);
    let expected_delta =
        lps_of_screen(&h, ViewKind::Axial, to) - lps_of_screen(&h, ViewKind::Axial, tip_screen);
    drag(&mut h, tip_screen, to);
    let after = h.state().plan().probes[0].clone();
    assert_eq!(h.state().plan().probes.len(), 1, "a handle drag places nothing");
    assert!(
        ((after.tip_lps - before.tip_lps) - expected_delta).norm() < 1e-3,
        "tip moved by {:?}, expected {expected_delta:?}",
        after.tip_lps - before.tip_lps
    );
    assert_eq!(after.entry_lps, before.entry_lps);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().plan().probes[0], before, "the whole drag is one step");

    // The shaft moves the whole probe.
    let mid = screen_of_lps(
        &h,
        ViewKind::Axial,
        &nalgebra::center(&before.tip_lps, &before.entry_lps),
    );
    drag(&mut h, mid, mid + egui::vec2(-20.0, 0.0));
    let moved = &h.state().plan().probes[0];
    let d_tip = moved.tip_lps - before.tip_lps;
    assert!(d_tip.norm() > 1.0);
    assert!((moved.entry_lps - before.entry_lps - d_tip).norm() < 1e-9);
}

#[test]
fn the_model_runs_or_says_why_not() {
    let mut h = demo();
    place_two_electrode_array(&mut h);
    h.run_steps(2);
    settle_ire(&mut h, Duration::from_secs(600));
    eprintln!(
        "IRE status {:?}; zone {:?} mL",
        h.state().model_status(),
        h.state().ire_result().map(|r| r.zone_volume_ml)
    );
    match h.state().model_status().clone() {
        RunStatus::Done => {
            let r = h.state().ire_result().expect("a result");
            assert!(!r.preview);
            assert!(
                r.zone_volume_ml > 0.0,
                "two electrodes 15 mm apart at 2250 V ablate something"
            );
            assert_eq!(r.pairs.len(), 1);
            assert!(r.pairs[0].current_a > 0.0);
            assert!(h.query_by_label_contains("Zone volume").is_some());
            assert!(h.query_by_label_contains("along the probes").is_some());
            // The |E| profile plot's pair chooser.
            assert!(h.query_by_label("Profile pair").is_some());
        }
        RunStatus::Error(m) => {
            assert!(!m.is_empty());
            assert!(h.query_by_label(&m).is_some(), "the error is shown: {m}");
        }
        s => panic!("unexpected status {s:?}"),
    }
}

#[test]
fn a_running_model_can_be_cancelled() {
    let mut h = demo();
    // The default 0.5 mm grid with four electrodes runs for seconds at least.
    h.state_mut()
        .push(Command::SetModelOptions(IreModelOptions::default()));
    h.state_mut().push(Command::PlaceArray);
    h.run_steps(2);
    assert!(h.state().model_running(), "{:?}", h.state().model_status());
    assert_eq!(*h.state().model_status(), RunStatus::Computing);
    click_label_now(&mut h, "Cancel IRE computation");
    assert!(!h.state().model_running());
    assert_eq!(*h.state().model_status(), RunStatus::Cancelled);
    assert!(h.query_by_label("Computation cancelled.").is_some());
    // Recompute starts it again.
    click_label(&mut h, "Recompute zone");
    assert!(h.state().model_running());
}

#[test]
fn a_cryoprobe_cannot_join_a_plan_of_ire_electrodes() {
    let mut h = demo();
    place_two_electrode_array(&mut h);
    h.run_steps(2);
    assert_eq!(h.state().plan().probes.len(), 2);
    let cat = builtin_catalog().expect("catalog");
    let cryo = cat.of_modality(Modality::Cryo).next().expect("a cryoprobe");
    h.state_mut().push(Command::SetProbeModel(cryo.id.clone()));
    let c = target_centroid(&h);
    h.state_mut().push(Command::AddProbe {
        tip_lps: c,
        entry_lps: PatientPos::new(c.x, c.y - 80.0, c.z),
    });
    h.run_steps(2);
    assert_eq!(
        h.state().plan().probes.len(),
        2,
        "refused: one plan, one modality"
    );
    let said = h
        .state()
        .notices()
        .iter()
        .any(|n| n.text.contains("one plan holds one modality") && n.text.contains("Plans > New plan"));
    assert!(said, "{:?}", h.state().notices());
    // An IRE electrode still joins.
    let (ire, _) = default_electrode();
    h.state_mut().push(Command::SetProbeModel(ire));
    h.state_mut().push(Command::AddProbe {
        tip_lps: c,
        entry_lps: PatientPos::new(c.x, c.y - 80.0, c.z),
    });
    h.run_steps(2);
    assert_eq!(h.state().plan().probes.len(), 3);
}

#[test]
fn the_pulse_rate_is_an_ire_setting_with_its_label() {
    // The electro-thermal model's train lasts pulses / rate: the rate is edited where the
    // pulses are, and labelled so it can be found.
    let mut h = demo();
    h.state_mut().push(Command::PlaceArray);
    h.run_steps(3);
    let rate = h.get_by_label("Pulse rate");
    assert!(rate.rect().width() > 0.0);
    assert_eq!(
        h.state()
            .plan()
            .ire()
            .expect("IRE plan")
            .settings
            .pulse_rate_per_min,
        ablaplan::plan::ire::IreSettings::default().pulse_rate_per_min
    );
}
