//! Experiment case files (`assets/cases/*.json`, `plan::case`) and `ablaplan compute CASE`.
//!
//! The tests that run the IRE model are `compute_json_on_a_shipped_case`,
//! `compute_text_output_on_a_shipped_case`, `compute_on_the_dicom_example` (skips without
//! `../shared/data`) and `cancelled_compute_is_a_model_failure`; the others only read, check and
//! save case files.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ablaplan::cli::{ComputeError, ComputeOverrides, apply_overrides, compute_case, zone_axes};
use ablaplan::jobs::JobCtx;
use ablaplan::physics::ire::model::ZoneCriterion;
use ablaplan::plan::case::{CASE_SCHEMA_VERSION, CaseError, CaseFile, CaseSource, load_case, save_case};
use ablaplan::plan::ire::ElectrodePair;
use ablaplan::plan::probe::Probe;
use nalgebra::{Point3, Vector3};

/// The experiments the README documents; every one must be shipped.
const SHIPPED: [&str; 6] = [
    "v1_two_cylinders_2250v.json",
    "v2_spacing_10mm.json",
    "v2_spacing_20mm.json",
    "v2_spacing_25mm.json",
    "v3_ben_david_liver.json",
    "four_electrode_square.json",
];

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/cases")
}

fn shipped(name: &str) -> PathBuf {
    cases_dir().join(name)
}

fn shipped_text(name: &str) -> String {
    std::fs::read_to_string(shipped(name)).expect("shipped case")
}

/// Writes `text` as `name` in a fresh temp dir and loads it.
fn load_text(name: &str, text: &str) -> (tempfile::TempDir, PathBuf, Result<CaseFile, CaseError>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    let r = load_case(&path);
    (dir, path, r)
}

fn ablaplan(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ablaplan"))
        .args(args)
        .output()
        .expect("run ablaplan")
}

fn text_of(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn every_shipped_case_parses_and_validates() {
    let mut found: Vec<String> = std::fs::read_dir(cases_dir())
        .expect("assets/cases")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    found.sort();
    for name in SHIPPED {
        assert!(
            found.iter().any(|f| f == name),
            "{name} is not shipped: {found:?}"
        );
    }
    let readme = std::fs::read_to_string(cases_dir().join("README.md")).expect("assets/cases/README.md");
    for name in &found {
        let path = cases_dir().join(name);
        let case = load_case(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(case.schema_version, CASE_SCHEMA_VERSION, "{name}");
        // Cryo cases (issue 5, tests/suite/cryo_model.rs) have probes, not pairs.
        if case.modality() == ablaplan::plan::catalog::Modality::Ire {
            assert!(!case.effective_ire().pairs.is_empty(), "{name}: no pair");
        }
        assert!(
            readme.contains(name.as_str()),
            "{name} is not documented in assets/cases/README.md"
        );
    }
}

#[test]
fn shipped_cases_describe_the_experiments() {
    let v1 = load_case(&shipped("v1_two_cylinders_2250v.json")).expect("v1");
    assert!(!v1.model.nonlinear);
    assert_eq!(v1.ire.pairs.len(), 1);
    assert_eq!(v1.ire.pairs[0].voltage_v, 2250.0);
    assert!(((v1.probes[1].tip_lps - v1.probes[0].tip_lps).norm() - 15.0).abs() < 1e-9);

    for (name, d_mm) in [
        ("v2_spacing_10mm.json", 10.0),
        ("v2_spacing_20mm.json", 20.0),
        ("v2_spacing_25mm.json", 25.0),
    ] {
        let c = load_case(&shipped(name)).expect(name);
        let d = (c.probes[1].tip_lps - c.probes[0].tip_lps).norm();
        assert!((d - d_mm).abs() < 1e-9, "{name}: {d}");
        // 1500 V/cm applied.
        assert!(
            (c.ire.pairs[0].voltage_v - 1500.0 * d_mm / 10.0).abs() < 1e-9,
            "{name}"
        );
        assert!(!c.model.nonlinear, "{name}");
    }

    let v3 = load_case(&shipped("v3_ben_david_liver.json")).expect("v3");
    assert!(v3.model.nonlinear);
    assert_eq!(v3.ire.pulses, 70);
    assert!(matches!(&v3.source, CaseSource::Phantom { tissue, .. } if tissue == "liver"));
    assert!(v3.probes.iter().all(|p| p.exposure_mm == 20.0));
    assert_eq!(v3.ire.pairs[0].voltage_v, 2250.0);

    let four = load_case(&shipped("four_electrode_square.json")).expect("four");
    assert!(four.ire.pairs.is_empty(), "uses the default pairs");
    let pairs = four.effective_ire().pairs;
    assert_eq!(pairs.len(), 6, "{pairs:?}");
    assert!(matches!(&four.source, CaseSource::Phantom { tissue, .. } if tissue == "soft_tissue"));
}

#[test]
fn newer_schema_version_is_refused_naming_file_and_versions() {
    // A newer file may have fields this version does not know: the version is what is reported.
    let text = shipped_text("v3_ben_david_liver.json").replacen(
        "\"schema_version\": 1",
        "\"schema_version\": 7, \"plans\": []",
        1,
    );
    let (_dir, path, r) = load_text("from_the_future.json", &text);
    let err = r.expect_err("newer version");
    assert!(
        matches!(
            err,
            CaseError::NewerVersion {
                found: 7,
                supported: 1,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(
        msg.contains("schema_version 7") && msg.contains("schema_version 1"),
        "{msg}"
    );
}

#[test]
fn missing_or_bad_schema_version_is_refused() {
    let text = shipped_text("v1_two_cylinders_2250v.json").replacen("\"schema_version\": 1,", "", 1);
    let (_dir, _path, r) = load_text("noversion.json", &text);
    let msg = r.expect_err("missing version").to_string();
    assert!(
        msg.contains("noversion.json") && msg.contains("schema_version"),
        "{msg}"
    );

    let text = shipped_text("v1_two_cylinders_2250v.json").replacen(
        "\"schema_version\": 1",
        "\"schema_version\": 0",
        1,
    );
    let (_dir, _path, r) = load_text("zero.json", &text);
    let msg = r.expect_err("version 0").to_string();
    assert!(
        msg.contains("zero.json") && msg.contains("schema_version"),
        "{msg}"
    );
}

#[test]
fn unknown_tissue_names_the_field() {
    let text =
        shipped_text("v3_ben_david_liver.json").replacen("\"tissue\": \"liver\"", "\"tissue\": \"livr\"", 1);
    let (_dir, _path, r) = load_text("tissue.json", &text);
    let err = r.expect_err("unknown tissue");
    assert_eq!(err.field(), Some("source.tissue"));
    let msg = err.to_string();
    assert!(msg.contains("tissue.json"), "{msg}");
    assert!(msg.contains("\"livr\""), "{msg}");
    assert!(
        msg.contains("liver") && msg.contains("soft_tissue"),
        "lists the classes: {msg}"
    );
}

#[test]
fn pair_index_out_of_range_names_the_pair() {
    let text = shipped_text("v3_ben_david_liver.json").replacen("\"b\": 1", "\"b\": 5", 1);
    assert_ne!(text, shipped_text("v3_ben_david_liver.json"));
    let (_dir, _path, r) = load_text("pair.json", &text);
    let err = r.expect_err("pair index");
    assert_eq!(err.field(), Some("ire.pairs[0].b"));
    let msg = err.to_string();
    assert!(
        msg.contains("pair.json") && msg.contains('5') && msg.contains("2 probes"),
        "{msg}"
    );
}

#[test]
fn self_and_repeated_pairs_are_refused() {
    let mut case = load_case(&shipped("four_electrode_square.json")).expect("four");
    case.ire.pairs = vec![
        ElectrodePair {
            a: 0,
            b: 1,
            voltage_v: 2250.0,
        },
        ElectrodePair {
            a: 1,
            b: 0,
            voltage_v: 2250.0,
        },
    ];
    let (t, c) = (
        ablaplan::plan::tissue_params::builtin_tissue_params().expect("t"),
        ablaplan::plan::catalog::builtin_catalog().expect("c"),
    );
    let err = case.validate("four.json", &t, &c).expect_err("repeated pair");
    assert_eq!(err.field(), Some("ire.pairs[1]"), "{err}");
    case.ire.pairs = vec![ElectrodePair {
        a: 2,
        b: 2,
        voltage_v: 2250.0,
    }];
    let err = case.validate("four.json", &t, &c).expect_err("self pair");
    assert_eq!(err.field(), Some("ire.pairs[0]"), "{err}");
}

#[test]
fn nan_coordinate_is_refused_naming_the_field() {
    // JSON has no NaN: written by hand it is a syntax error at the coordinate.
    let good = shipped_text("v3_ben_david_liver.json");
    let text = good.replacen(
        "\"tip_lps\": [7.5, 0.0, -10.0]",
        "\"tip_lps\": [NaN, 0.0, -10.0]",
        1,
    );
    assert_ne!(text, good);
    let (_dir, _path, r) = load_text("nan.json", &text);
    let err = r.expect_err("NaN");
    assert_eq!(err.field(), Some("probes[1].tip_lps[0]"), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("nan.json") && msg.contains("line") && msg.contains("finite"),
        "{msg}"
    );

    // `null` is what serde_json writes for NaN.
    let text = good.replacen(
        "\"tip_lps\": [7.5, 0.0, -10.0]",
        "\"tip_lps\": [7.5, null, -10.0]",
        1,
    );
    let (_dir, _path, r) = load_text("null.json", &text);
    let err = r.expect_err("null");
    assert_eq!(err.field(), Some("probes[1].tip_lps[1]"), "{err}");

    // Made in code (e.g. by the GUI): validation and saving refuse it.
    let mut case = load_case(&shipped("v3_ben_david_liver.json")).expect("v3");
    case.probes[1].entry_lps.z = f64::NAN;
    let t = ablaplan::plan::tissue_params::builtin_tissue_params().expect("t");
    let c = ablaplan::plan::catalog::builtin_catalog().expect("c");
    let err = case.validate("code.json", &t, &c).expect_err("NaN entry");
    assert_eq!(err.field(), Some("probes[1].entry_lps"), "{err}");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nan_saved.json");
    let err = save_case(&path, &case).expect_err("saving NaN");
    assert_eq!(err.field(), Some("probes[1].entry_lps"), "{err}");
    assert!(!path.exists());
}

#[test]
fn malformed_json_names_line_and_column() {
    let good = shipped_text("v1_two_cylinders_2250v.json");
    // Drop the comma after "name": the error is on the next line.
    let text = good.replacen("2250 V\",\n", "2250 V\"\n", 1);
    assert_ne!(text, good);
    let (_dir, _path, r) = load_text("broken.json", &text);
    let err = r.expect_err("malformed");
    match &err {
        CaseError::Parse {
            file, line, column, ..
        } => {
            assert!(file.ends_with("broken.json"));
            assert_eq!(*line, 4, "{err}");
            assert!(*column > 0);
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("broken.json") && msg.contains("line 4"), "{msg}");

    // Truncated file.
    let (_dir, _path, r) = load_text("truncated.json", &good[..good.len() / 2]);
    let msg = r.expect_err("truncated").to_string();
    assert!(msg.contains("truncated.json") && msg.contains("line"), "{msg}");
}

#[test]
fn wrong_type_and_missing_field_name_the_field() {
    let good = shipped_text("v3_ben_david_liver.json");
    let text = good.replacen("\"exposure_mm\": 20.0", "\"exposure_mm\": \"20\"", 1);
    let (_dir, _path, r) = load_text("type.json", &text);
    let err = r.expect_err("string exposure");
    assert_eq!(err.field(), Some("probes[0].exposure_mm"), "{err}");

    let text = good.replacen("\"tissue\": \"liver\",", "", 1);
    let (_dir, _path, r) = load_text("missing.json", &text);
    let err = r.expect_err("missing tissue");
    assert_eq!(err.field(), Some("source"), "{err}");
    assert!(err.to_string().contains("tissue"), "{err}");
}

#[test]
fn unknown_field_is_refused() {
    let good = shipped_text("v3_ben_david_liver.json");
    let text = good.replacen("\"nonlinear\": true", "\"nonlinaer\": false", 1);
    let (_dir, _path, r) = load_text("typo.json", &text);
    let err = r.expect_err("misspelt key");
    assert_eq!(err.field(), Some("model.nonlinaer"), "{err}");
    assert!(
        err.to_string().contains("nonlinear"),
        "lists the known keys: {err}"
    );

    let text = good.replacen("\"label\": \"2\"", "\"label\": \"2\", \"exposure\": 15", 1);
    let (_dir, _path, r) = load_text("typo2.json", &text);
    assert_eq!(r.expect_err("probe key").field(), Some("probes[1].exposure"));

    let text = good.replacen(
        "\"zone\": {\"kind\": \"tissue_threshold\"}",
        "\"zone\": {\"kind\": \"fixed\", \"threshold\": 500}",
        1,
    );
    assert_ne!(text, good);
    let (_dir, _path, r) = load_text("typo3.json", &text);
    let err = r.expect_err("zone key");
    assert_eq!(err.field(), Some("model.zone.threshold"), "{err}");
    assert!(err.to_string().contains("threshold_v_per_cm"), "{err}");

    let text = good.replacen("\"size_mm\"", "\"size\"", 1);
    let (_dir, _path, r) = load_text("typo4.json", &text);
    assert_eq!(r.expect_err("source key").field(), Some("source.size"));
}

#[test]
fn probe_outside_the_phantom_or_wrong_model_is_refused() {
    let good = shipped_text("v3_ben_david_liver.json");
    // The block is 120 mm: a tip at x = 70 mm is outside.
    let text = good.replacen(
        "\"tip_lps\": [7.5, 0.0, -10.0]",
        "\"tip_lps\": [70.0, 0.0, -10.0]",
        1,
    );
    let (_dir, _path, r) = load_text("outside.json", &text);
    let err = r.expect_err("outside");
    assert_eq!(err.field(), Some("probes[1]"), "{err}");
    assert!(err.to_string().contains("outside the phantom"), "{err}");

    let text = good.replacen("\"nanoknife_19g\"", "\"iceseed\"", 1);
    let (_dir, _path, r) = load_text("cryo.json", &text);
    assert_eq!(r.expect_err("cryoprobe").field(), Some("probes[0].model_id"));

    let text = good.replacen("\"exposure_mm\": 20.0", "\"exposure_mm\": 60.0", 1);
    let (_dir, _path, r) = load_text("exposure.json", &text);
    assert_eq!(r.expect_err("exposure").field(), Some("probes[0].exposure_mm"));
}

#[test]
fn atomic_save_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("saved.json");
    let mut case = load_case(&shipped("four_electrode_square.json")).expect("four");
    // Numbers that do not have short decimal forms must come back bit-identical.
    case.probes[2].tip_lps = Point3::new(1.0 / 3.0, -std::f64::consts::PI, 0.1 + 0.2);
    case.probes[2].entry_lps = case.probes[2].tip_lps + Vector3::new(1e-7, 2.0 / 7.0, 100.0);
    case.model.spacing_mm = 0.7;
    case.model.zone = ZoneCriterion::PelegFermi { max_survival: 0.1 };
    case.notes = "ünïcode, \"quotes\" and\nnewlines".into();
    save_case(&path, &case).expect("save");
    assert_eq!(load_case(&path).expect("reload"), case);

    // Overwrite, and every shipped case survives a save → load.
    for name in SHIPPED {
        let c = load_case(&shipped(name)).expect(name);
        save_case(&path, &c).expect("save shipped");
        assert_eq!(load_case(&path).expect("reload shipped"), c, "{name}");
    }
    // No temporary files left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("saved.json")]);
}

#[test]
fn save_refuses_to_replace_a_newer_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("newer.json");
    let newer = "{\"schema_version\": 2, \"plans\": []}\n";
    std::fs::write(&path, newer).expect("write");
    let case = load_case(&shipped("v1_two_cylinders_2250v.json")).expect("v1");
    let err = save_case(&path, &case).expect_err("newer on disk");
    assert!(matches!(err, CaseError::NewerVersion { found: 2, .. }), "{err:?}");
    assert_eq!(std::fs::read_to_string(&path).expect("read"), newer);
}

#[test]
fn zone_axes_follow_the_probe_and_the_first_pair() {
    let probe = |label: &str, tip: [f64; 3], entry: [f64; 3]| Probe {
        model_id: "nanoknife_19g".into(),
        tip_lps: Point3::from(tip),
        entry_lps: Point3::from(entry),
        exposure_mm: 20.0,
        label: label.into(),
    };
    let pair = ElectrodePair {
        a: 0,
        b: 1,
        voltage_v: 2250.0,
    };
    // Inserted from superior (entry z = 90) to inferior; cathode 15 mm towards +L and 5 mm
    // deeper: the depth offset is removed from the pair axis.
    let probes = vec![
        probe("1", [0.0, 0.0, -10.0], [0.0, 0.0, 90.0]),
        probe("2", [15.0, 0.0, -15.0], [15.0, 0.0, 85.0]),
    ];
    let (axes, warning) = zone_axes(&probes, &pair).expect("axes");
    assert!(warning.is_none());
    let close = |a: [f64; 3], b: [f64; 3]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
    assert!(close(axes.probe_axis, [0.0, 0.0, -1.0]), "{axes:?}");
    assert!(close(axes.pair_axis, [1.0, 0.0, 0.0]), "{axes:?}");
    assert!(close(axes.perpendicular, [0.0, -1.0, 0.0]), "{axes:?}");

    // Anode and cathode swapped: the pair axis turns round.
    let (axes, _) = zone_axes(
        &probes,
        &ElectrodePair {
            a: 1,
            b: 0,
            voltage_v: 2250.0,
        },
    )
    .expect("axes");
    assert!(close(axes.pair_axis, [-1.0, 0.0, 0.0]), "{axes:?}");

    // A pair in line with the probe axis has no in-plane direction: any perpendicular, warned.
    let inline = vec![
        probe("1", [0.0, 0.0, -10.0], [0.0, 0.0, 90.0]),
        probe("2", [0.0, 0.0, -40.0], [0.0, 0.0, 60.0]),
    ];
    let (axes, warning) = zone_axes(&inline, &pair).expect("axes");
    assert!(warning.is_some());
    let pa = Vector3::from(axes.pair_axis);
    assert!((pa.norm() - 1.0).abs() < 1e-12 && pa.dot(&Vector3::from(axes.probe_axis)).abs() < 1e-12);
}

#[test]
fn overrides_change_one_parameter() {
    let file = "four_electrode_square.json";
    let base = load_case(&shipped(file)).expect("four");
    let mut warnings = Vec::new();

    let mut c = base.clone();
    let o = ComputeOverrides {
        voltage_v: Some(1800.0),
        ..Default::default()
    };
    apply_overrides(
        &mut c,
        ablaplan::plan::catalog::Modality::Ire,
        &o,
        file,
        &mut warnings,
    )
    .expect("voltage");
    assert_eq!(
        c.ire.pairs.len(),
        6,
        "default pairs filled in before the override"
    );
    assert!(c.ire.pairs.iter().all(|p| p.voltage_v == 1800.0));
    assert_eq!(c.model, base.model);
    assert!(warnings.is_empty());

    let mut c = base.clone();
    let o = ComputeOverrides {
        spacing_mm: Some(1.0),
        linear: true,
        threshold_v_per_cm: Some(637.0),
        ..Default::default()
    };
    apply_overrides(
        &mut c,
        ablaplan::plan::catalog::Modality::Ire,
        &o,
        file,
        &mut warnings,
    )
    .expect("model");
    assert_eq!(c.model.spacing_mm, 1.0);
    assert!(!c.model.nonlinear);
    assert_eq!(
        c.model.zone,
        ZoneCriterion::Fixed {
            threshold_v_per_cm: 637.0
        }
    );
    assert_eq!(c.ire, base.ire);

    let mut c = base.clone();
    let o = ComputeOverrides {
        voltage_v: Some(3500.0),
        ..Default::default()
    };
    apply_overrides(
        &mut c,
        ablaplan::plan::catalog::Modality::Ire,
        &o,
        file,
        &mut warnings,
    )
    .expect("high voltage");
    assert!(warnings.iter().any(|w| w.contains("3500")), "{warnings:?}");

    for (o, flag) in [
        (
            ComputeOverrides {
                spacing_mm: Some(f64::NAN),
                ..Default::default()
            },
            "--spacing-mm",
        ),
        (
            ComputeOverrides {
                voltage_v: Some(-5.0),
                ..Default::default()
            },
            "--voltage-v",
        ),
        (
            ComputeOverrides {
                threshold_v_per_cm: Some(0.0),
                ..Default::default()
            },
            "--threshold-v-per-cm",
        ),
        (
            ComputeOverrides {
                margin_mm: Some(-1.0),
                ..Default::default()
            },
            "--margin-mm",
        ),
    ] {
        let mut c = base.clone();
        let err = apply_overrides(
            &mut c,
            ablaplan::plan::catalog::Modality::Ire,
            &o,
            file,
            &mut Vec::new(),
        )
        .expect_err(flag);
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains(flag), "{err}");
    }
}

#[test]
fn cli_compute_on_a_bad_file_exits_2_with_the_message() {
    let good = shipped_text("v3_ben_david_liver.json");
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text, expect) in [
        (
            "bad_tissue.json",
            good.replacen("\"liver\"", "\"livr\"", 1),
            "source.tissue",
        ),
        (
            "bad_json.json",
            good.replacen("\"probes\": [", "\"probes\" [", 1),
            "line",
        ),
        (
            "bad_pair.json",
            good.replacen("\"b\": 1", "\"b\": 9", 1),
            "ire.pairs[0].b",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        for json in [false, true] {
            let mut args = vec!["compute", path.to_str().expect("utf-8 path")];
            if json {
                args.push("--json");
            }
            let out = ablaplan(&args);
            let stderr = text_of(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
            assert!(
                stderr.contains(name) && stderr.contains(expect),
                "{name}: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
            assert!(out.stdout.is_empty(), "{name}: nothing on stdout");
        }
    }
    // A missing file and a bad override are bad input too.
    let out = ablaplan(&["compute", "/nonexistent/case.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out.stderr));
    assert!(text_of(&out.stderr).contains("/nonexistent/case.json"));
    let v3 = shipped("v3_ben_david_liver.json");
    let out = ablaplan(&["compute", v3.to_str().expect("path"), "--spacing-mm", "-1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out.stderr));
    assert!(text_of(&out.stderr).contains("--spacing-mm"));
}

/// Depends on the IRE model.
#[test]
fn cancelled_compute_is_a_model_failure() {
    let ctx = JobCtx::default();
    ctx.cancel.cancel();
    let o = ComputeOverrides {
        spacing_mm: Some(1.0),
        ..Default::default()
    };
    let err = compute_case(&shipped("v3_ben_david_liver.json"), &o, &ctx).expect_err("cancelled");
    assert!(matches!(err, ComputeError::Model { .. }), "{err:?}");
    assert_eq!(err.exit_code(), 1);
    assert!(err.to_string().contains("v3_ben_david_liver.json"), "{err}");
}

fn number(v: &serde_json::Value, path: &str) -> f64 {
    let mut cur = v;
    for key in path.split('.') {
        cur = &cur[key];
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number: {cur}"))
}

/// Depends on the IRE model.
#[test]
fn compute_json_on_a_shipped_case() {
    let case = shipped("v3_ben_david_liver.json");
    let out = ablaplan(&[
        "compute",
        case.to_str().expect("path"),
        "--json",
        "--spacing-mm",
        "1.0",
    ]);
    let (stdout, stderr) = (text_of(&out.stdout), text_of(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object on stdout");
    assert!(!stderr.contains('%'), "no progress with --json: {stderr}");

    assert_eq!(v["schema_version"], 1);
    assert_eq!(
        v["case"]["name"],
        "V3 Ben-David in vivo porcine liver, 1.5 cm, 2 cm exposure, 2250 V"
    );
    assert_eq!(v["case"]["source_kind"], "phantom");
    assert_eq!(number(&v, "overrides.spacing_mm"), 1.0);
    assert_eq!(number(&v, "model.grid.spacing_mm"), 1.0);
    assert!(v["model"]["description"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(v["model"]["nonlinear"], true);
    assert_eq!(v["model"]["grid"]["dims"].as_array().map(Vec::len), Some(3));

    let volume = number(&v, "zone.volume_ml");
    assert!(volume > 0.0, "zone volume {volume}");
    let (along_probe, along_pair, perp) = (
        number(&v, "zone.extents_mm.probe_axis"),
        number(&v, "zone.extents_mm.pair_axis"),
        number(&v, "zone.extents_mm.perpendicular"),
    );
    assert!(along_probe > 0.0 && along_pair > 0.0 && perp > 0.0);
    // Two electrodes: the zone spans the pair (15 mm centre to centre), is elongated along it and
    // along the probes, and is thinnest perpendicular to the electrode plane (REFERENCE.md V3:
    // 30 × 17 × 30 mm). Checks that the three extents are not mixed up.
    assert!(
        along_pair > 15.0 && along_pair > perp,
        "pair {along_pair}, perpendicular {perp}"
    );
    assert!(along_probe > perp, "probe {along_probe}, perpendicular {perp}");
    // The zone fits in a box of its extents.
    assert!(volume <= along_probe * along_pair * perp / 1000.0 + 1e-9);

    let pairs = v["pairs"].as_array().expect("pairs");
    assert_eq!(pairs.len(), 1);
    let p = &pairs[0];
    assert_eq!((p["a"].as_u64(), p["b"].as_u64()), (Some(0), Some(1)));
    assert_eq!(
        (p["a_label"].as_str(), p["b_label"].as_str()),
        (Some("1"), Some("2"))
    );
    assert_eq!(number(p, "voltage_v"), 2250.0);
    let spacing = number(p, "spacing_mm");
    assert!(spacing > 13.0 && spacing <= 15.0 + 1e-9, "{spacing}");
    assert!(number(p, "current_a") > 0.0);
    assert!(p["over_limit"].is_boolean() && p["converged"].is_boolean());
    assert_eq!(number(p, "current_limit_a"), 48.0);
    // The midpoint lies in the zone: above the liver threshold.
    assert!(number(p, "midpoint_max_e_v_per_cm") > 0.0);

    let s = &v["solver"];
    assert!(number(s, "linear_iterations") >= 1.0);
    assert!(number(s, "nonlinear_iterations") >= 1.0);
    assert!(number(s, "elapsed_s") >= 0.0 && number(s, "total_s") >= number(s, "elapsed_s"));
    assert!(s["converged"].is_boolean());
    assert_eq!(v["findings"], serde_json::json!([]));
    assert!(v["warnings"].is_array());
}

/// Depends on the IRE model.
#[test]
fn compute_text_output_on_a_shipped_case() {
    let case = shipped("v1_two_cylinders_2250v.json");
    let out = ablaplan(&["compute", case.to_str().expect("path"), "--spacing-mm", "1.0"]);
    let (stdout, stderr) = (text_of(&out.stdout), text_of(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    for needle in [
        "V1 two parallel cylinders",
        "Zone: ",
        "along the probe axis",
        "1–2: 2250 V",
        "Solver: ",
    ] {
        assert!(stdout.contains(needle), "{needle:?} missing in:\n{stdout}");
    }
    assert!(stderr.contains('%'), "progress on stderr: {stderr}");
}

#[test]
fn shipped_case_paths_resolve_relative_to_the_case_file() {
    let p = ablaplan::plan::case::resolve_source_path(Path::new("/a/b/case.json"), Path::new("../ct"));
    assert_eq!(p, PathBuf::from("/a/b/../ct"));
    let p = ablaplan::plan::case::resolve_source_path(Path::new("/a/b/case.json"), Path::new("/data/ct"));
    assert_eq!(p, PathBuf::from("/data/ct"));
}

/// Depends on the IRE model and on `../shared/data/dicom` (skips without it).
#[test]
fn compute_on_the_dicom_example() {
    if common::dicom_data("pancreas-ct-rtstruct/CT").is_none() {
        return;
    }
    let case = shipped("dicom_pancreas_ct_example.json");
    let o = ComputeOverrides {
        spacing_mm: Some(1.0),
        ..Default::default()
    };
    let r = compute_case(&case, &o, &JobCtx::default()).expect("compute on the CT");
    assert_eq!(r.case.source_kind, "dicom");
    assert!(r.zone.volume_ml > 0.0);
    assert_eq!(r.pairs.len(), 1, "default pairs");
    assert!(r.pairs[0].current_a > 0.0);
    // No structures in the case: only the current rule can fire, once per pair over the limit.
    assert!(
        r.findings.iter().all(|f| f.rule == "ire.current_limit"),
        "{:?}",
        r.findings
    );
    assert_eq!(r.findings.len(), r.pairs.iter().filter(|p| p.over_limit).count());

    // A series UID that is not in the folder: bad input naming the field and listing the series.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut c = load_case(&case).expect("dicom case");
    let CaseSource::Dicom { path, series_uid } = &mut c.source else {
        panic!("not a DICOM case");
    };
    *path = ablaplan::plan::case::resolve_source_path(&case, path);
    *series_uid = Some("1.2.3".into());
    let bad = dir.path().join("wrong_series.json");
    save_case(&bad, &c).expect("save");
    let err = compute_case(&bad, &o, &JobCtx::default()).expect_err("wrong series");
    assert_eq!(err.exit_code(), 2);
    let msg = err.to_string();
    assert!(
        msg.contains("source.series_uid") && msg.contains("1.3.6.1.4.1.14519"),
        "{msg}"
    );

    // A probe outside the CT.
    let CaseSource::Dicom { series_uid, .. } = &mut c.source else {
        panic!("not a DICOM case");
    };
    *series_uid = None;
    for p in &mut c.probes {
        p.tip_lps.z += 1000.0;
        p.entry_lps.z += 1000.0;
    }
    let bad = dir.path().join("outside_ct.json");
    save_case(&bad, &c).expect("save");
    let err = compute_case(&bad, &o, &JobCtx::default()).expect_err("outside the CT");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("outside the CT volume"), "{err}");
}
