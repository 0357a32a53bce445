//! Cases through the GUI: save, reopen (demo and a real DICOM series found by its UID),
//! several plans, refusal of a case whose series geometry changed, Ctrl+S, and recovery of work
//! left unsaved by a session that did not end cleanly.

use std::path::Path;

use ablaplan::app::{AblaApp, Command, NoticeLevel, StartupOptions};
use ablaplan::geometry::PatientPos;
use ablaplan::plan::document::{CaseDocument, RecoveryStore, load_document};
use ablaplan::plan::{catalog::builtin_catalog, tissue_params::builtin_tissue_params};
use eframe::egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use crate::common::{
    add_electrode_pair as add_pair, app_with as app, coarse_ire_model as coarse_model, dicom_data, run,
    settle_jobs as settle,
};

fn errors(h: &Harness<'static, AblaApp>) -> Vec<String> {
    h.state()
        .notices()
        .iter()
        .filter(|n| n.level == NoticeLevel::Error)
        .map(|n| n.text.clone())
        .collect()
}

fn read(path: &Path) -> CaseDocument {
    let tissues = builtin_tissue_params().unwrap();
    let catalog = builtin_catalog().unwrap();
    load_document(path, &tissues, &catalog).unwrap()
}

#[test]
fn demo_case_saves_reopens_and_keeps_every_plan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("demo_case.json");
    let mut h = app(StartupOptions::default());
    assert!(
        !h.state().has_unsaved_changes(),
        "a fresh demo has nothing to save"
    );
    coarse_model(&mut h);
    let centre = PatientPos::new(30.0, 10.0, 0.0);
    add_pair(&mut h, centre);
    assert!(h.state().has_unsaved_changes());

    // A second plan through the Plans menu: a copy, then one more probe.
    h.get_by_label("Plans").click();
    h.run_steps(2);
    h.get_by_label("Duplicate this plan").click();
    h.run_steps(2);
    settle(&mut h);
    assert_eq!(h.state().case().plan_names(), ["Plan 1", "Plan 2"]);
    assert_eq!(h.state().case().active_plan(), 1);
    run(
        &mut h,
        Command::AddProbe {
            tip_lps: centre + nalgebra::Vector3::new(0.0, 13.0, -10.0),
            entry_lps: centre + nalgebra::Vector3::new(0.0, 13.0, 110.0),
        },
    );
    assert_eq!(h.state().plan().probes.len(), 3);
    run(&mut h, Command::SelectPlan(0));
    assert_eq!(
        h.state().plan().probes.len(),
        2,
        "plan 1 is unchanged by plan 2's edit"
    );

    run(&mut h, Command::SaveCaseTo(path.clone()));
    assert!(errors(&h).is_empty(), "{:?}", errors(&h));
    assert!(!h.state().has_unsaved_changes());
    let saved = read(&path);
    assert_eq!(saved.plans.len(), 2);
    assert_eq!(saved.plans[1].probes.len(), 3);
    assert_eq!(saved.structures.len(), h.state().structures().items.len());
    let probes_before = h.state().plan().probes.clone();
    let structures_before = h.state().structures().items.clone();

    // Reopen in a new window.
    let mut h2 = app(StartupOptions {
        open: None,
        ..StartupOptions::default()
    });
    run(&mut h2, Command::OpenCase(path.clone()));
    assert!(errors(&h2).is_empty(), "{:?}", errors(&h2));
    assert_eq!(h2.state().plan().probes, probes_before);
    assert_eq!(h2.state().structures().items, structures_before);
    assert_eq!(h2.state().case().plan_names(), ["Plan 1", "Plan 2"]);
    assert_eq!(h2.state().case().path.as_deref(), Some(path.as_path()));
    assert!(!h2.state().has_unsaved_changes());
    run(&mut h2, Command::SelectPlan(1));
    assert_eq!(h2.state().plan().probes.len(), 3);
    // Both plans side by side, each from its own saved result.
    run(&mut h2, Command::ShowReview(true));
    h2.get_by_label("Plans compared");
    assert!(h2.state().case().results_of(0).is_some() && h2.state().case().results_of(1).is_some());

    // Ctrl+S saves to the case's own file.
    run(&mut h2, Command::DeleteProbe(2));
    assert!(h2.state().has_unsaved_changes());
    h2.key_press_modifiers(Modifiers::COMMAND, Key::S);
    h2.run_steps(2);
    assert!(!h2.state().has_unsaved_changes());
    assert_eq!(read(&path).plans[1].probes.len(), 2);
}

#[test]
fn unsaved_work_of_a_dead_session_is_offered_and_recovered() {
    let dir = tempfile::tempdir().unwrap();
    // Build the work in one app, then leave it as a process that no longer runs would.
    let mut h = app(StartupOptions::default());
    coarse_model(&mut h);
    add_pair(&mut h, PatientPos::new(30.0, 10.0, 0.0));
    let doc = h.state().current_document().unwrap();
    let dead = RecoveryStore::for_process(dir.path(), 3_999_999_999);
    dead.autosave(&doc, None).unwrap();

    let mut h2 = app(StartupOptions {
        open: None,
        recovery_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    });
    h2.get_by_label("Recover").click();
    h2.run_steps(2);
    settle(&mut h2);
    assert!(errors(&h2).is_empty(), "{:?}", errors(&h2));
    assert_eq!(h2.state().plan().probes, doc.plans[0].probes);
    assert!(
        h2.state().has_unsaved_changes(),
        "recovered work was never saved to a case file"
    );
    assert!(!dead.own_path().exists(), "the offer is consumed");
    drop(h2);

    // Nothing left to offer in the next session.
    let h3 = app(StartupOptions {
        open: None,
        recovery_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    });
    assert!(h3.query_by_label("Recover").is_none());
}

#[test]
fn dicom_case_finds_its_series_by_uid_and_refuses_a_changed_geometry() {
    let Some(ct) = dicom_data("pancreas-ct-rtstruct/CT") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut h = app(StartupOptions {
        open: Some(ct.clone()),
        ..StartupOptions::default()
    });
    assert!(h.state().volume().is_some(), "{:?}", errors(&h));
    coarse_model(&mut h);
    let vol = h.state().volume().unwrap().clone();
    let centre = vol.geometry.to_patient(&nalgebra::Vector3::new(
        vol.geometry.dims[0] as f64 / 2.0,
        vol.geometry.dims[1] as f64 / 2.0,
        vol.geometry.dims[2] as f64 / 2.0,
    ));
    add_pair(&mut h, centre);
    let path = dir.path().join("ct_case.json");
    run(&mut h, Command::SaveCaseTo(path.clone()));
    assert!(errors(&h).is_empty(), "{:?}", errors(&h));

    let mut h2 = app(StartupOptions::default());
    run(&mut h2, Command::OpenCase(path.clone()));
    assert!(errors(&h2).is_empty(), "{:?}", errors(&h2));
    assert_eq!(
        h2.state().volume().unwrap().meta.series_instance_uid,
        vol.meta.series_instance_uid
    );
    assert_eq!(h2.state().plan().probes, h.state().plan().probes);

    // The same case with the series' origin moved by 5 mm: refused, nothing placed.
    let mut text: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let z = &mut text["source"]["series"]["geometry"]["origin_lps"][2];
    *z = serde_json::json!(z.as_f64().unwrap() + 5.0);
    let moved = dir.path().join("moved.json");
    std::fs::write(&moved, text.to_string()).unwrap();
    let mut h3 = app(StartupOptions::default());
    run(&mut h3, Command::OpenCase(moved));
    let errs = errors(&h3);
    assert!(
        errs.iter()
            .any(|e| e.contains("geometry differs") && e.contains("first voxel")),
        "{errs:?}"
    );
    assert!(h3.state().plan().probes.is_empty());
}
