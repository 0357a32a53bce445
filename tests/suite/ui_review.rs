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
    h.get_by_label("Review alpha.json");
    h.get_by_label("Review bravo.json");
    h.get_by_label("At risk");
    assert!(
        h.query_by_label_contains("broken.json").is_some(),
        "unreadable files are listed"
    );

    // Open Alpha for review: read-only.
    h.get_by_label("Review alpha.json").click();
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

/// The centre of the demo's target structure (LPS).
fn target_centroid(h: &egui_kittest::Harness<'static, ablaplan::app::AblaApp>) -> PatientPos {
    let app = h.state();
    let t = app
        .structures()
        .items
        .iter()
        .find(|s| s.kind == ablaplan::anatomy::StructureKind::Target)
        .expect("the demo has a target");
    let c = ablaplan::app::structures::mask_centroid(t.mask()).expect("non-empty");
    app.volume()
        .unwrap()
        .geometry
        .to_patient(&nalgebra::Vector3::new(c[0], c[1], c[2]))
}

/// Moves the crosshair (and so every view's slice) to `p`.
fn centre_views_on(h: &mut egui_kittest::Harness<'static, ablaplan::app::AblaApp>, p: PatientPos) {
    use ablaplan::volume::ViewKind;
    let vol = h.state().volume().unwrap().clone();
    let vox = vol.geometry.to_voxel(&p);
    for view in [ViewKind::Axial, ViewKind::Coronal] {
        let (u, v, _) = vol.view_mapping(view).pixel_of_voxel(&vox);
        run(h, Command::SetCrosshair { view, u, v });
    }
}

#[test]
fn review_steps_show_only_what_they_reached_and_compare_overlays_the_other_plan() {
    use ablaplan::app::review::{DrawnLayers, LayerVisibility};
    let mut h = app_with(StartupOptions::default());
    coarse_ire_model(&mut h);
    // The pair around the demo's target, and every view through it.
    let centre = target_centroid(&h);
    add_electrode_pair(&mut h, centre);
    centre_views_on(&mut h, centre);
    h.run_steps(2);
    assert!(h.state().ire_result().is_some_and(|r| !r.preview));
    let everything = DrawnLayers {
        structures: true,
        probes: true,
        zone: true,
        findings: true,
        compared_zone: false,
    };
    assert_eq!(h.state().layers(), LayerVisibility::ALL);
    assert_eq!(
        h.state().drawn_layers(),
        everything,
        "outside review every layer is drawn"
    );

    // Each step draws what it has reached, and nothing of the later steps.
    run(&mut h, Command::ShowReview(true));
    let steps = [
        (ReviewStep::Structures, [true, false, false, false]),
        (ReviewStep::Probes, [true, true, false, false]),
        (ReviewStep::Zone, [true, true, true, false]),
        (ReviewStep::Findings, [true, true, true, true]),
    ];
    for (step, [structures, probes, zone, findings]) in steps {
        run(&mut h, Command::ReviewStep(step));
        h.run_steps(2);
        let want = LayerVisibility {
            structures,
            probes,
            zone,
            findings,
        };
        assert_eq!(h.state().layers(), want, "{step:?}");
        let drawn = h.state().drawn_layers();
        assert_eq!(
            [drawn.structures, drawn.probes, drawn.zone, drawn.findings],
            [structures, probes, zone, findings],
            "{step:?}: {drawn:?}"
        );
    }
    // Leaving review mode restores every layer: first with the checkbox, then by closing.
    run(&mut h, Command::ReviewStep(ReviewStep::Structures));
    h.get_by_label("Step through: show only what the step has reached")
        .click();
    h.run_steps(3);
    assert_eq!(h.state().layers(), LayerVisibility::ALL);
    assert_eq!(h.state().drawn_layers(), everything);
    run(&mut h, Command::ReviewStep(ReviewStep::Probes));
    assert!(!h.state().drawn_layers().zone);
    run(&mut h, Command::ShowReview(false));
    h.run_steps(2);
    assert_eq!(h.state().layers(), LayerVisibility::ALL);
    assert_eq!(h.state().drawn_layers(), everything);

    // Plan 2: the same pair 8 mm further posterior. Compare it with plan 1's zone overlaid.
    run(&mut h, Command::NewPlan { copy: true });
    for i in 0..2 {
        let mut p = h.state().plan().probes[i].clone();
        p.tip_lps.y += 8.0;
        p.entry_lps.y += 8.0;
        run(&mut h, Command::SetProbe { index: i, probe: p });
    }
    h.run_steps(2);
    assert!(h.state().ire_result().is_some_and(|r| !r.preview));
    run(&mut h, Command::ShowReview(true));
    h.get_by_label("Plans compared");
    // Findings per plan are listed (and the margin row, `None` on the demo's target here).
    h.get_by_label("Worst findings");
    assert!(h.state().compare_overlay().is_none(), "off until asked for");
    assert!(!h.state().drawn_layers().compared_zone);
    h.get_by_label("Overlay the compared plan's zone").click();
    h.run_steps(3);
    let overlay = h.state().compare_overlay().expect("plan 1's zone is overlaid");
    assert_eq!(overlay.plan_name, "Plan 1");
    assert_eq!(h.state().compared_plan(), Some(0));
    // It is plan 1's zone, not the one shown: the same volume, a different place.
    let shown = h.state().ire_result().unwrap();
    assert!(overlay.zone.inside != shown.zone, "the other plan's zone");
    assert!(h.state().drawn_layers().compared_zone);
    assert!(h.state().drawn_layers().zone, "over the current plan's zone");
    // A step before the zone hides the compared zone too; the checkbox turns it off.
    run(&mut h, Command::ReviewStep(ReviewStep::Probes));
    assert!(!h.state().drawn_layers().compared_zone);
    run(&mut h, Command::ReviewStep(ReviewStep::Findings));
    assert!(h.state().drawn_layers().compared_zone);
    h.get_by_label("Overlay the compared plan's zone").click();
    h.run_steps(3);
    assert!(!h.state().drawn_layers().compared_zone);
}
