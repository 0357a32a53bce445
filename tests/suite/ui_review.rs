//! Review mode through the GUI: case details and outcome typed into the form, the case library
//! listing a folder with its cohort curve, a case opened read-only from the library (edits
//! refused), the review steps, and the anonymised teaching export.

use std::time::{Duration, Instant};

use ablaplan::app::review::ReviewStep;
use ablaplan::app::settings::Settings;
use ablaplan::app::{AblaApp, Command, StartupOptions};
use ablaplan::geometry::PatientPos;
use ablaplan::plan::document::CaseReview;
use ablaplan::review::outcome::{CaseOutcome, CivilDate};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn app() -> Harness<'static, AblaApp> {
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|cc| {
            AblaApp::with_settings(
                cc.egui_ctx.clone(),
                Settings::default(),
                StartupOptions::default(),
            )
        });
    settle(&mut h);
    let opts = ablaplan::physics::ire::model::IreModelOptions {
        spacing_mm: 1.0,
        ..Default::default()
    };
    run(&mut h, Command::SetModelOptions(opts));
    h
}

fn settle(h: &mut Harness<'static, AblaApp>) {
    let start = Instant::now();
    loop {
        h.step();
        if !h.state().is_busy() && !h.state().ire_running() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(240), "jobs did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    h.run_steps(3);
}

fn run(h: &mut Harness<'static, AblaApp>, cmd: Command) {
    h.state_mut().push(cmd);
    h.run_steps(2);
    settle(h);
}

fn add_pair(h: &mut Harness<'static, AblaApp>) {
    for dx in [-7.5, 7.5] {
        let tip = PatientPos::new(30.0 + dx, 10.0, -10.0);
        run(
            h,
            Command::AddProbe {
                tip_lps: tip,
                entry_lps: tip + nalgebra::Vector3::new(0.0, 0.0, 120.0),
            },
        );
    }
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
fn details_form_library_read_only_review_and_teaching_export() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app();
    add_pair(&mut h);

    // The target site typed into the details form lands in the case.
    run(&mut h, Command::ShowCaseDetails(true));
    h.get_by_label("Target site").click();
    h.run_steps(1);
    h.get_by_label("Target site").type_text("left para-aortic node");
    h.run_steps(3);
    assert_eq!(h.state().case().review.target_site, "left para-aortic node");

    // Two cases in a library folder: one progressed at 4 months, one free at 12.
    let mut review = h.state().case().review.clone();
    review.outcome = Some(outcome("2024-01-10", &["2024-05-10"], Some("2024-05-10")));
    review.teaching_notes = "Nerve 4 mm from the zone: compare with the reference".into();
    review.reference_plan = Some(0);
    run(
        &mut h,
        Command::SetCaseDetails {
            name: "Alpha".into(),
            review,
        },
    );
    run(&mut h, Command::SaveCaseTo(dir.path().join("alpha.json")));
    let review = CaseReview {
        target_site: "pelvic side wall".into(),
        outcome: Some(outcome("2024-02-01", &["2024-08-01", "2025-02-01"], None)),
        ..CaseReview::default()
    };
    run(
        &mut h,
        Command::SetCaseDetails {
            name: "Bravo".into(),
            review,
        },
    );
    run(&mut h, Command::SaveCaseTo(dir.path().join("bravo.json")));
    std::fs::write(dir.path().join("broken.json"), "{\"schema_version\": 2").unwrap();

    run(&mut h, Command::OpenLibrary(dir.path().to_path_buf()));
    assert_eq!(h.state().review_ui().rows.len(), 2);
    assert_eq!(h.state().review_ui().unreadable.len(), 1);
    h.get_by_label("Review Alpha");
    h.get_by_label("Review Bravo");
    h.get_by_label("At risk");
    assert!(
        h.query_by_label_contains("broken.json").is_some(),
        "unreadable files are listed"
    );

    // Open Alpha for review: read-only.
    h.get_by_label("Review Alpha").click();
    h.run_steps(2);
    settle(&mut h);
    assert!(h.state().case().read_only);
    assert_eq!(h.state().case().name, "Alpha");
    let probes = h.state().plan().probes.len();
    run(
        &mut h,
        Command::AddProbe {
            tip_lps: PatientPos::new(30.0, 30.0, 0.0),
            entry_lps: PatientPos::new(30.0, 30.0, 100.0),
        },
    );
    assert_eq!(
        h.state().plan().probes.len(),
        probes,
        "read-only: the probe was not added"
    );
    assert!(h.state().notices().iter().any(|n| n.text.contains("read-only")));
    h.get_by_label_contains("Nerve 4 mm from the zone");
    run(&mut h, Command::ReviewStep(ReviewStep::Probes));
    h.get_by_label_contains("Probe 1:");
    h.get_by_label("Compared with the reference plan");

    // Teaching copy: no folder path, no UIDs (the demo has none; the source stays "demo").
    let export = dir.path().join("teaching.json");
    run(&mut h, Command::ExportAnonymisedTo(export.clone()));
    let text = std::fs::read_to_string(&export).unwrap();
    assert!(text.contains("\"Alpha\""));
    assert!(!text.contains(dir.path().to_str().unwrap()));
}
