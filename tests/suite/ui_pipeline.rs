//! One model, one pipeline (issue 12): the holes the two parallel IRE / cryo paths left in the
//! safety loop, tried as a new user would.
//!
//! 1. A new cryo plan next to the nerve shows the stop finding and a red light as soon as its
//!    model finishes, without touching any protocol setting (it showed "0 red, 0 amber").
//! 2. A new plan shows no zone, finding, caliper or light of the previous plan.
//! 3. "Not computed" is shown as such, never as green.
//! 4. The GUI's board slide and `ablaplan compute --png` of the case it saved are the same PNG
//!    bytes, with the same findings; `compute` runs a GUI-saved case.
//!
//! Expected positions come from the demo's own structures, not from the UI under test.

use std::collections::BTreeSet;

use ablaplan::anatomy::StructureKind;
use ablaplan::app::{AblaApp, Command, StartupOptions};
use ablaplan::geometry::PatientPos;
use ablaplan::jobs::JobCtx;
use ablaplan::pipeline::{CaseReport, ComputeError, RunOptions, run_case};
use ablaplan::plan::document::CaseDocument;
use ablaplan::safety::{Light, Severity};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use crate::common::{add_electrode_pair, app_with, coarse_ire_model, run};

/// The centre of mass (LPS mm) of the demo's first structure of `kind`.
fn centre_of(app: &AblaApp, kind: StructureKind) -> PatientPos {
    let vol = app.volume().expect("the demo CT");
    let s = app
        .structures()
        .items
        .iter()
        .find(|s| s.kind == kind)
        .expect("the demo has the structure");
    let c = ablaplan::app::structures::mask_centroid(s.mask()).expect("non-empty");
    vol.geometry.to_patient(&nalgebra::Vector3::new(c[0], c[1], c[2]))
}

fn light_label(h: &Harness<'static, AblaApp>) -> String {
    let report = h.state().safety().report().expect("a safety pass ran");
    match (report.has_zone(), report.status) {
        (false, _) => "not computed".into(),
        (true, l) => format!("{l:?}"),
    }
}

#[test]
fn a_new_cryo_plan_next_to_the_nerve_stops_as_soon_as_its_model_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app_with(StartupOptions::default());
    let nerve = centre_of(h.state(), StructureKind::Nerve);
    // Plans > New plan, the IceSeed on the probe tool, one probe 6 mm beside the nerve, inserted
    // from anterior; no protocol preset, no setting touched: the plan's defaults must be used.
    run(&mut h, Command::NewPlan { copy: false });
    run(&mut h, Command::SetProbeModel("iceseed".into()));
    assert!(h.state().is_cryo_plan());
    let tip = nerve + nalgebra::Vector3::new(6.0, 10.0, 0.0);
    run(
        &mut h,
        Command::AddProbe {
            tip_lps: tip,
            entry_lps: tip + nalgebra::Vector3::new(0.0, -120.0, 0.0),
        },
    );
    assert!(
        h.state().cryo_result().is_some(),
        "{:?}",
        h.state().model_status()
    );
    let report = h.state().safety().report().expect("the pass ran").clone();
    assert!(report.has_zone(), "the iceball was analysed");
    let stop = report
        .findings
        .iter()
        .find(|f| f.kind == Some(StructureKind::Nerve) && f.severity == Severity::Stop);
    assert!(
        stop.is_some(),
        "the nerve beside the probe must stop the freeze: {:?}",
        report.findings.iter().map(|f| &f.message).collect::<Vec<_>>()
    );
    assert_eq!(report.status, Light::Red);
    let light = format!(
        "Safety: {} red, {} amber",
        report.count(Light::Red),
        report.count(Light::Amber)
    );
    assert!(
        h.query_by_label(&light).is_some(),
        "the toolbar light says {light}"
    );
    assert!(
        !report.margins.is_empty(),
        "the demo has a Target: its margin is measured"
    );
    // The saved case holds the plan's cryo settings and the findings of its result.
    let path = dir.path().join("cryo.json");
    run(&mut h, Command::SaveCaseTo(path.clone()));
    let doc: CaseDocument = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let plan = &doc.plans[doc.active_plan];
    assert!(plan.cryo.is_some(), "a cryo plan saves its cryo section");
    let summary = doc
        .results
        .iter()
        .find(|r| r.plan == doc.active_plan)
        .expect("the result summary");
    assert_eq!(summary.modality, "cryo");
    assert!(
        summary
            .findings
            .iter()
            .any(|(sev, _)| sev == Severity::Stop.label()),
        "{:?}",
        summary.findings
    );
}

#[test]
fn a_new_plan_shows_nothing_of_the_previous_one_and_not_computed_is_never_green() {
    let mut h = app_with(StartupOptions::default());
    // Nothing placed yet: the light says so, it is not green.
    assert_eq!(light_label(&h), "not computed");
    assert!(h.query_by_label("Safety: zone not computed").is_some());
    coarse_ire_model(&mut h);
    let nerve = centre_of(h.state(), StructureKind::Nerve);
    for dx in [-6.0, 6.0] {
        let tip = nerve + nalgebra::Vector3::new(dx, 10.0, 0.0);
        run(
            &mut h,
            Command::AddProbe {
                tip_lps: tip,
                entry_lps: tip + nalgebra::Vector3::new(0.0, -130.0, 0.0),
            },
        );
    }
    assert_eq!(light_label(&h), "Red", "electrodes straddling the nerve");
    run(&mut h, Command::FocusFinding(0));
    assert!(h.state().safety().caliper.is_some());

    run(&mut h, Command::NewPlan { copy: false });
    let app = h.state();
    assert!(app.plan().probes.is_empty());
    assert!(app.ire_result().is_none(), "no zone of the other plan");
    assert!(app.safety().caliper.is_none(), "no caliper of the other plan");
    assert!(app.safety().selected.is_none());
    let report = app.safety().report().expect("a pass of the new plan");
    assert!(!report.has_zone());
    assert!(report.findings.is_empty(), "{:?}", report.findings);
    assert_eq!(light_label(&h), "not computed");
    assert!(h.query_by_label("Safety: zone not computed").is_some());
}

#[test]
fn the_gui_slide_and_compute_png_of_the_saved_case_are_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app_with(StartupOptions::default());
    coarse_ire_model(&mut h);
    let target = centre_of(h.state(), StructureKind::Target);
    add_electrode_pair(&mut h, target);
    let case = dir.path().join("case.json");
    let gui_png = dir.path().join("gui.png");
    run(&mut h, Command::SaveCaseTo(case.clone()));
    run(&mut h, Command::ExportSlideTo(gui_png.clone()));
    assert!(gui_png.exists(), "{:?}", h.state().notices());
    let gui_findings: Vec<String> = h
        .state()
        .safety()
        .report()
        .expect("the GUI's pass")
        .findings
        .iter()
        .map(|f| f.message.clone())
        .collect();

    // `ablaplan compute CASE --png` on the file the GUI saved (schema 2, the demo CT).
    let cli_png = dir.path().join("cli.png");
    let opts = RunOptions {
        png: Some(&cli_png),
        ..RunOptions::default()
    };
    let report = run_case(&case, &opts, &JobCtx::default()).expect("compute runs a GUI-saved case");
    let CaseReport::Ire(r) = &report else {
        panic!("an IRE plan gives the IRE report");
    };
    assert_eq!(r.case.schema_version, 2);
    assert_eq!(r.case.source_kind, "demo");
    let cli_findings: Vec<String> = report.findings().iter().map(|f| f.message.clone()).collect();
    assert_eq!(cli_findings, gui_findings, "the same findings");
    let (a, b) = (std::fs::read(&gui_png).unwrap(), std::fs::read(&cli_png).unwrap());
    assert!(
        a == b,
        "the GUI's slide and compute --png differ ({} vs {} bytes)",
        a.len(),
        b.len()
    );

    // A plan is chosen by name; an unknown name lists the plans.
    let named = RunOptions {
        plan: Some("Plan 1"),
        ..RunOptions::default()
    };
    assert!(run_case(&case, &named, &JobCtx::default()).is_ok());
    let wrong = RunOptions {
        plan: Some("Plan 9"),
        ..RunOptions::default()
    };
    match run_case(&case, &wrong, &JobCtx::default()) {
        Err(e @ ComputeError::Input { .. }) => {
            assert_eq!(e.exit_code(), 2);
            assert!(e.to_string().contains("\"Plan 1\""), "{e}");
        }
        other => panic!("expected a bad-input error, got {other:?}"),
    }
}

#[test]
fn the_gui_opens_an_experiment_case_and_finds_what_compute_finds() {
    let case =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/cases/safety_nerve_near_zone.json");
    let mut h = app_with(StartupOptions::default());
    run(&mut h, Command::OpenCase(case.clone()));
    let app = h.state();
    let vol = app.volume().expect("the phantom block is shown");
    assert_eq!(vol.meta.modality, "phantom");
    let kinds: Vec<StructureKind> = app.structures().items.iter().map(|s| s.kind).collect();
    assert!(
        kinds.contains(&StructureKind::Nerve) && kinds.contains(&StructureKind::Target),
        "the case's structures are drawn on the block: {kinds:?}"
    );
    assert_eq!(app.plan().probes.len(), 2);
    assert!(app.ire_result().is_some(), "{:?}", app.model_status());
    let gui: BTreeSet<(String, Option<String>)> = app
        .safety()
        .report()
        .expect("the GUI's pass")
        .findings
        .iter()
        .map(|f| (f.rule.clone(), f.structure.clone()))
        .collect();
    let cli = run_case(&case, &RunOptions::default(), &JobCtx::default()).expect("compute");
    let cli: BTreeSet<(String, Option<String>)> = cli
        .findings()
        .iter()
        .map(|f| (f.rule.clone(), f.structure.clone()))
        .collect();
    assert!(!gui.is_empty());
    assert_eq!(gui, cli, "the same rules fire on the same structures");
}
