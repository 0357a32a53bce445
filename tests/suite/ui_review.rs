//! Review mode through the GUI: case details and outcome typed into the form, the case library
//! listing a folder with its cohort curve, a case opened read-only from the library (edits
//! refused), the review steps, and the anonymised teaching export.

use ablaplan::app::review::ReviewStep;
use ablaplan::app::{Command, StartupOptions};
use ablaplan::geometry::PatientPos;
use ablaplan::plan::document::CaseReview;
use ablaplan::review::outcome::{CaseOutcome, CivilDate};
use egui_kittest::kittest::Queryable;

use crate::common::{add_electrode_pair, app_with, coarse_ire_model, run, settle_jobs as settle};

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
    let mut h = app_with(StartupOptions::default());
    coarse_ire_model(&mut h);
    add_electrode_pair(&mut h, PatientPos::new(30.0, 10.0, 0.0));

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
