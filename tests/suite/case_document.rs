//! Case documents (schema version 2): migration from every earlier version (the experiment
//! cases of version 1 shipped in `assets/cases/`), the golden version-2 file, and the save →
//! load round trip. The GUI flows (save, reopen, recovery) are in `ui_case.rs`; a failing writer
//! leaving the old file intact is tested on `write_atomic` in `plan::case`.

use std::path::PathBuf;

use ablaplan::physics::ire::model::IreModelOptions;
use ablaplan::plan::case::{CaseFile, load_case};
use ablaplan::plan::catalog::builtin_catalog;
use ablaplan::plan::document::{CaseDocument, DocumentSource, load_document, save_document};
use ablaplan::plan::tissue_params::builtin_tissue_params;

fn manifest(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn open(path: &std::path::Path) -> CaseDocument {
    let tissues = builtin_tissue_params().unwrap();
    let catalog = builtin_catalog().unwrap();
    load_document(path, &tissues, &catalog).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_shipped_version_1_case_migrates_to_one_plan() {
    let mut n = 0;
    for entry in std::fs::read_dir(manifest("assets/cases")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let version: serde_json::Value = serde_json::from_str(&text).unwrap();
        if version["schema_version"] != 1 {
            continue;
        }
        let v1: CaseFile = load_case(&path).unwrap();
        let doc = open(&path);
        assert_eq!(doc.schema_version, 2);
        assert_eq!(doc.name, v1.name);
        assert_eq!(doc.plans.len(), 1, "{}", path.display());
        assert_eq!(doc.plans[0].probes, v1.probes);
        assert_eq!(doc.plans[0].ire, v1.ire);
        assert_eq!(doc.plans[0].model, v1.model);
        // And back: the document's plan is the experiment the CLI runs.
        let back = doc.plan_as_case(0).unwrap();
        assert_eq!(back.source, v1.source, "{}", path.display());
        assert_eq!(back.probes, v1.probes);
        n += 1;
    }
    assert!(n >= 5, "only {n} version-1 cases found");
}

#[test]
fn golden_version_2_file_reads_as_written() {
    let doc = open(&manifest("tests/golden/case_v2_demo.json"));
    assert_eq!(doc.source, DocumentSource::Demo);
    assert_eq!(doc.structures.len(), 1);
    assert_eq!(doc.structures[0].mask().voxel_count(), 2);
    assert!(doc.structures[0].mask().contains(2, 1, 0));
    assert_eq!(doc.plans.len(), 2);
    assert_eq!(doc.active_plan, 1);
    assert_eq!(doc.plans[0].probes.len(), 2);
    assert_eq!(doc.plans[0].pair_overrides[0].voltage_v, Some(2000.0));
    assert_eq!(doc.plans[0].model.spacing_mm, 1.0);
    assert_eq!(
        doc.plans[0].model.margin_mm,
        IreModelOptions::default().margin_mm,
        "left-out options take their defaults"
    );
    assert!(doc.plans[1].probes.is_empty());
}

#[test]
fn save_then_load_gives_the_same_document() {
    let doc = open(&manifest("tests/golden/case_v2_demo.json"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("round_trip.json");
    save_document(&path, &doc).unwrap();
    assert_eq!(open(&path), doc);
    // Saving over its own earlier version is allowed.
    save_document(&path, &doc).unwrap();
}

#[test]
fn broken_documents_name_the_field() {
    let golden = std::fs::read_to_string(manifest("tests/golden/case_v2_demo.json")).unwrap();
    let tissues = builtin_tissue_params().unwrap();
    let catalog = builtin_catalog().unwrap();
    let check = |edit: &dyn Fn(&mut serde_json::Value), field: &str| {
        let mut v: serde_json::Value = serde_json::from_str(&golden).unwrap();
        edit(&mut v);
        let err = match CaseDocument::from_json(&v.to_string(), "t.json") {
            Ok(doc) => doc.validate("t.json", &tissues, &catalog, None).unwrap_err(),
            Err(e) => e,
        };
        assert!(err.to_string().contains(field), "{field}: {err}");
    };
    check(&|v| v["active_plan"] = 5.into(), "active_plan");
    check(&|v| v["plans"] = serde_json::json!([]), "plans");
    check(
        &|v| v["structures"][0]["mask"]["slices"][0][0]["i1"] = 40.into(),
        "structures[0].mask",
    );
    check(
        &|v| v["plans"][0]["probes"][1]["model_id"] = "nope".into(),
        "plans[0].probes[1]",
    );
    check(
        &|v| v["plans"][0]["pair_overrides"][0]["b"] = 7.into(),
        "plans[0].pair_overrides[0]",
    );
    check(&|v| v["surprise"] = 1.into(), "unknown field");
}
