//! The cryo plan flows driven through egui_kittest (issue 5): choosing a cryoprobe for the probe
//! tool, the plan turning into a cryo plan (IRE UI hidden), the full cryo model as a background
//! job, the time slider scrubbing the iceball, protocol presets, the isotherm legend, sensor
//! curves, the instant preview while dragging, and saving / reopening a cryo plan. Expected
//! values come from the protocol presets and from physics (an iceball grows while freezing), not
//! from the UI under test.

use std::time::Duration;

use crate::common;

use ablaplan::app::settings::Settings;
use ablaplan::app::{AblaApp, Command, StartupOptions};
use ablaplan::geometry::PatientPos;
use ablaplan::physics::cryo::model::CryoSettings;
use ablaplan::plan::catalog::{Modality, builtin_catalog};
use ablaplan::plan::protocol::CryoProtocol;
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

const WINDOW: egui::Vec2 = egui::Vec2::new(1400.0, 900.0);

fn app() -> Harness<'static, AblaApp> {
    let mut h = Harness::builder().with_size(WINDOW).build_eframe(|cc| {
        AblaApp::with_settings(
            cc.egui_ctx.clone(),
            Settings::default(),
            StartupOptions::default(),
        )
    });
    common::settle(&mut h);
    h
}

/// The first cryoprobe of the catalog with an active length (the IceSeed).
fn cryoprobe() -> String {
    let cat = builtin_catalog().expect("catalog");
    let m = cat
        .of_modality(Modality::Cryo)
        .find(|m| m.default_active_mm().is_some())
        .expect("a cryoprobe");
    m.id.clone()
}

fn target_centroid(h: &Harness<'static, AblaApp>) -> PatientPos {
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

fn run(h: &mut Harness<'static, AblaApp>, cmd: Command) {
    h.state_mut().push(cmd);
    h.run_steps(2);
}

fn settle_cryo(h: &mut Harness<'static, AblaApp>) {
    common::step_until(h, Duration::from_secs(600), "cryo job", |app| {
        !app.model_running()
    });
}

/// Scrolls a panel widget into view, waits until it stands still, then clicks it.
fn click_label(h: &mut Harness<'static, AblaApp>, label: &str) {
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

/// The demo with the cryoprobe chosen, a coarse 2 mm cryo grid (the model's accuracy is tested
/// elsewhere; this keeps the jobs light) and two probes 15 mm apart through the target.
fn cryo_plan() -> (Harness<'static, AblaApp>, PatientPos) {
    let mut h = app();
    let id = cryoprobe();
    run(&mut h, Command::SetProbeModel(id.clone()));
    assert!(h.state().is_cryo_plan(), "no probe yet: the tool's model decides");
    assert_eq!(h.state().array_options().spacing_mm, 15.0, "cryo arrays: 15 mm");
    let mut s = CryoSettings::default();
    s.model.spacing_mm = 2.0;
    run(
        &mut h,
        Command::SetCryoSettings {
            settings: s,
            live: false,
        },
    );
    let c = target_centroid(&h);
    for dx in [-7.5, 7.5] {
        run(
            &mut h,
            Command::AddProbe {
                tip_lps: c + nalgebra::Vector3::new(dx, 0.0, -15.0),
                entry_lps: c + nalgebra::Vector3::new(dx, 0.0, 100.0),
            },
        );
    }
    let probes = &h.state().plan().probes;
    assert_eq!(probes.len(), 2);
    assert!(
        probes.iter().all(|p| p.model_id == id),
        "the tool places the chosen model"
    );
    (h, c)
}

fn volume_at(h: &mut Harness<'static, AblaApp>, time_s: f64, label_prefix: &str) -> f64 {
    run(h, Command::SetCryoTime(time_s));
    let sizes = h.state_mut().cryo_sizes().expect("sizes");
    sizes
        .iter()
        .find(|(n, _)| n.starts_with(label_prefix))
        .map(|(_, s)| s.volume_ml)
        .expect("isotherm row")
}

#[test]
fn two_cryoprobes_freeze_and_the_slider_scrubs_the_iceball() {
    let (mut h, centre) = cryo_plan();
    assert!(h.state().model_running(), "{:?}", h.state().model_status());
    settle_cryo(&mut h);
    assert_eq!(
        *h.state().model_status(),
        ablaplan::app::RunStatus::Done,
        "{:?}",
        h.state().model_status()
    );
    // IRE-only UI is hidden, the cryo UI shown.
    assert!(h.query_by_label("Voltage ratio").is_none());
    assert!(h.query_by_label("Lethal isotherm").is_some());
    assert!(h.query_by_label("Cryo grid spacing").is_some());
    assert!(h.query_by_label("Add sensor at crosshair").is_some());

    // Default slider: the end of the last freeze (30 min for the default double freeze).
    let end = CryoProtocol::default().end_of_last_freeze_s().unwrap();
    assert!((h.state().cryo_time_s().unwrap() - end).abs() < 1e-6);

    // The iceball grows during the first freeze: 0 °C volume at 2 min < at 9.5 min.
    let early = volume_at(&mut h, 120.0, "0 °C");
    assert!(
        (h.state().cryo_time_s().unwrap() - 120.0).abs() < 1e-6,
        "the slider moved"
    );
    let late = volume_at(&mut h, 570.0, "0 °C");
    eprintln!("0 °C iceball: {early:.2} mL at 2 min, {late:.2} mL at 9.5 min");
    assert!(late > early, "{late} > {early}");
    assert!(
        late > 1.0,
        "two probes 15 mm apart freeze more than 1 mL in 9.5 min: {late}"
    );
    let lethal = volume_at(&mut h, 570.0, "lethal");
    assert!(
        lethal > 0.0 && lethal < late,
        "lethal {lethal} inside the 0 °C iceball {late}"
    );

    // The legend (in the views and the panel).
    let legend = h.state_mut().cryo_legend();
    for t in [
        "0 °C isotherm",
        "-20 °C isotherm",
        "-40 °C isotherm",
        "lethal zone",
    ] {
        assert!(legend.iter().any(|l| l.contains(t)), "{t} in {legend:?}");
    }
    assert!(h.query_by_label("Isotherm legend").is_some());

    // Sensors: one between the probes freezes; the target margin curve exists (demo Target).
    run(&mut h, Command::AddCryoSensor(centre));
    let curves = h.state().cryo_sensor_curves();
    let (_, c) = curves.iter().find(|(n, _)| n == "Sensor 1").expect("sensor 1");
    assert!(
        c.first().is_some_and(|(_, t)| *t > 30.0),
        "starts at body temperature"
    );
    assert!(
        c.iter().any(|(_, t)| *t < 0.0),
        "between two probes 15 mm apart it freezes"
    );
    assert!(curves.iter().any(|(n, _)| n == "Target margin"));
    // Each probe's wall is plotted too (issue 14: finite cooling power, not a fixed temperature).
    let walls: Vec<_> = curves.iter().filter(|(n, _)| n.ends_with(" wall")).collect();
    assert_eq!(walls.len(), 2, "{:?}", curves.iter().map(|(n, _)| n).collect::<Vec<_>>());
    assert!(
        walls.iter().all(|(_, c)| c.iter().any(|(_, t)| *t < -40.0)),
        "the walls get cold while freezing"
    );

    // A preset changes the protocol and reruns the model.
    click_label(&mut h, "single freeze 10 min");
    assert_eq!(
        h.state().plan().cryo_settings().protocol,
        CryoProtocol::single_freeze()
    );
    assert!(h.state().model_running());
    settle_cryo(&mut h);
    let r = h.state().cryo_result().expect("result");
    assert_eq!(r.protocol, CryoProtocol::single_freeze());
}

#[test]
fn dragging_shows_the_preview_and_release_runs_the_model() {
    let (mut h, _) = cryo_plan();
    settle_cryo(&mut h);
    let p = h.state().plan().probes[0].clone();
    let d = nalgebra::Vector3::new(-2.0, 0.0, 0.0);
    run(
        &mut h,
        Command::MoveProbe {
            index: 0,
            tip_lps: p.tip_lps + d,
            entry_lps: p.entry_lps + d,
        },
    );
    assert_eq!(*h.state().model_status(), ablaplan::app::RunStatus::Preview);
    assert!(h.state().cryo_preview().is_some_and(|p| p.preview));
    assert!(h.state_mut().cryo_legend()[0].contains("preview"));
    run(&mut h, Command::EndDrag);
    assert!(h.state().model_running());
    settle_cryo(&mut h);
    assert_eq!(*h.state().model_status(), ablaplan::app::RunStatus::Done);
    assert!(h.state().cryo_preview().is_none());
}

#[test]
fn a_cryo_plan_saves_and_reopens_with_its_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cryo_case.json");
    let (mut h, centre) = cryo_plan();
    let mut s = h.state().plan().cryo_settings();
    s.protocol = CryoProtocol::ten_five_ten();
    s.lethal_isotherm_c = -30.0;
    run(
        &mut h,
        Command::SetCryoSettings {
            settings: s.clone(),
            live: false,
        },
    );
    run(&mut h, Command::AddCryoSensor(centre));
    run(&mut h, Command::CancelModel);
    run(&mut h, Command::SaveCaseTo(path.clone()));
    common::settle(&mut h);
    let probes = h.state().plan().probes.clone();

    let mut h2 = app();
    run(&mut h2, Command::OpenCase(path.clone()));
    common::settle(&mut h2);
    h2.run_steps(3);
    let plan = h2.state().plan();
    assert_eq!(plan.probes, probes);
    assert_eq!(plan.cryo_settings(), s);
    assert_eq!(plan.cryo_sensors_lps(), vec![centre]);
    assert!(h2.state().is_cryo_plan());
    run(&mut h2, Command::CancelModel);
}
