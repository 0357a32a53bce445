//! Screenshots of the app driven headless (egui_kittest rendering through wgpu): the demo plan in
//! the 1+2 and 1×3 layouts, the findings panel with several findings, a cryo plan and the
//! Kaplan–Meier plot of a small library. Ignored: they need a Vulkan device (llvmpipe is enough)
//! and write PNGs into `$ABLAPLAN_SCREENS` (default `target/screens`). Run with
//! `cargo test --test suite ui_screens -- --ignored --test-threads 1`.

use std::path::PathBuf;
use std::time::Duration;

use ablaplan::anatomy::StructureKind;
use ablaplan::app::settings::{Layout, Settings};
use ablaplan::app::{AblaApp, Command, StartupOptions};
use ablaplan::geometry::PatientPos;
use ablaplan::physics::cryo::model::CryoSettings;
use ablaplan::plan::catalog::{Modality, builtin_catalog};
use ablaplan::plan::document::CaseReview;
use ablaplan::review::outcome::{CaseOutcome, CivilDate};
use eframe::egui;
use egui_kittest::Harness;

use crate::common::{self, add_electrode_pair, coarse_ire_model, run, settle_jobs};

const WINDOW: egui::Vec2 = egui::Vec2::new(1400.0, 900.0);

fn out_dir() -> PathBuf {
    let d = std::env::var_os("ABLAPLAN_SCREENS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screens"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The app in a wgpu-rendering harness, or `None` (skipped, reason printed) without a device.
pub(crate) fn app() -> Option<Harness<'static, AblaApp>> {
    let built = std::panic::catch_unwind(|| {
        Harness::builder().with_size(WINDOW).wgpu().build_eframe(|cc| {
            AblaApp::with_settings(
                cc.egui_ctx.clone(),
                Settings::default(),
                StartupOptions::default(),
            )
        })
    });
    match built {
        Ok(mut h) => {
            settle_jobs(&mut h);
            Some(h)
        }
        Err(_) => {
            eprintln!("SKIPPED: no wgpu device for rendering screenshots");
            None
        }
    }
}

pub(crate) fn shot(h: &mut Harness<'static, AblaApp>, name: &str) {
    h.run_steps(4);
    match h.render() {
        Ok(img) => {
            let p = out_dir().join(format!("{name}.png"));
            img.save(&p).unwrap();
            eprintln!("wrote {}", p.display());
        }
        Err(e) => eprintln!("SKIPPED {name}: render failed: {e}"),
    }
}

fn centre_of(app: &AblaApp, kind: StructureKind) -> PatientPos {
    let vol = app.volume().unwrap();
    let s = app
        .structures()
        .items
        .iter()
        .find(|s| s.kind == kind)
        .expect("the demo has it");
    let c = ablaplan::app::structures::mask_centroid(s.mask()).expect("non-empty");
    vol.geometry.to_patient(&nalgebra::Vector3::new(c[0], c[1], c[2]))
}

#[test]
#[ignore = "writes screenshots; needs a Vulkan device"]
fn ui_screens_demo_plan_layouts_and_findings() {
    let Some(mut h) = app() else { return };
    coarse_ire_model(&mut h);
    let target = centre_of(h.state(), StructureKind::Target);
    add_electrode_pair(&mut h, target);
    settle_jobs(&mut h);
    run(&mut h, Command::SetLayout(Layout::OnePlusTwo));
    shot(&mut h, "demo_1plus2");
    run(&mut h, Command::SetLayout(Layout::OneByThree));
    shot(&mut h, "demo_1x3");
    run(&mut h, Command::SetLayout(Layout::OnePlusTwo));

    // More findings: a second pair across the nerve, a third against the vessels.
    let nerve = centre_of(h.state(), StructureKind::Nerve);
    add_electrode_pair(&mut h, nerve);
    let vessel = centre_of(h.state(), StructureKind::Vessel);
    add_electrode_pair(&mut h, vessel + nalgebra::Vector3::new(0.0, 12.0, 0.0));
    settle_jobs(&mut h);
    let n = h.state().safety().report().map(|r| r.findings.len()).unwrap_or(0);
    eprintln!("findings: {n}");
    shot(&mut h, "findings");
}

#[test]
#[ignore = "writes screenshots; needs a Vulkan device"]
fn ui_screens_cryo_plan() {
    let Some(mut h) = app() else { return };
    let cat = builtin_catalog().unwrap();
    let id = cat
        .of_modality(Modality::Cryo)
        .find(|m| m.default_active_mm().is_some())
        .unwrap()
        .id
        .clone();
    run(&mut h, Command::SetProbeModel(id));
    shot(&mut h, "cryo_empty");
    let mut s = CryoSettings::default();
    s.model.spacing_mm = 2.0;
    run(
        &mut h,
        Command::SetCryoSettings {
            settings: s,
            live: false,
        },
    );
    let c = centre_of(h.state(), StructureKind::Target);
    for dx in [-7.5, 7.5] {
        h.state_mut().push(Command::AddProbe {
            tip_lps: c + nalgebra::Vector3::new(dx, 0.0, -15.0),
            entry_lps: c + nalgebra::Vector3::new(dx, 0.0, 100.0),
        });
        h.run_steps(2);
    }
    common::step_until(&mut h, Duration::from_secs(900), "cryo", |a| !a.model_running());
    settle_jobs(&mut h);
    run(&mut h, Command::SetCryoTime(0.0));
    shot(&mut h, "cryo_t0");
    run(&mut h, Command::SetCryoTime(600.0));
    shot(&mut h, "cryo_plan");
}

fn outcome(procedure: &str, follow_up: &[&str], progression: Option<&str>) -> CaseOutcome {
    let d = |s: &str| CivilDate::parse(s).unwrap();
    let mut o = CaseOutcome::new(d(procedure));
    o.follow_up_dates = follow_up.iter().map(|s| d(s)).collect();
    o.local_progression = progression.map(d);
    o.min_margin_mm = Some(6.0);
    o
}

#[test]
#[ignore = "writes screenshots; needs a Vulkan device"]
fn ui_screens_km_plot() {
    let Some(mut h) = app() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, &[&str], Option<&str>); 5] = [
        ("Alpha", "2024-01-10", &["2024-07-10"], Some("2024-07-10")),
        ("Bravo", "2024-02-01", &["2024-08-01", "2025-02-01"], None),
        ("Charlie", "2024-03-01", &["2024-06-01", "2025-03-01"], None),
        (
            "Delta",
            "2024-01-20",
            &["2024-04-20", "2024-10-20"],
            Some("2024-10-20"),
        ),
        ("Echo", "2024-04-01", &["2024-10-01"], None),
    ];
    for (name, proc_date, fu, prog) in cases {
        let review = CaseReview {
            target_site: "pancreas".into(),
            outcome: Some(outcome(proc_date, fu, prog)),
            ..CaseReview::default()
        };
        run(
            &mut h,
            Command::SetCaseDetails {
                name: name.into(),
                review,
            },
        );
        run(
            &mut h,
            Command::SaveCaseTo(dir.path().join(format!("{}.json", name.to_lowercase()))),
        );
    }
    run(&mut h, Command::OpenLibrary(dir.path().to_path_buf()));
    shot(&mut h, "km_library");
}
