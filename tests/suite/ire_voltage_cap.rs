//! The generator's 3,000 V per pair (`assets/ire_generator.json`, REFERENCE.md §4) in the plan
//! model: case files, IRE settings, the model and `compute --voltage-v` refuse a voltage above it,
//! naming the pair and the value; exactly 3,000 V is accepted; only a non-clinical numerical
//! check with its reason may exceed it.

use std::path::PathBuf;
use std::process::Command;

use ablaplan::cli::{ComputeError, ComputeOverrides, compute_case};
use ablaplan::geometry::PatientPos;
use ablaplan::jobs::JobCtx;
use ablaplan::physics::ire::model::{IreError, IreModelOptions, TissueSource, compute_ire};
use ablaplan::plan::case::{CaseError, load_case};
use ablaplan::plan::ire::{
    CURRENT_LIMIT_A, ElectrodePair, IreSettings, IreSettingsError, VOLTAGE_CAP_V, builtin_generator_limits,
    generator_limits, load_generator_limits,
};
use ablaplan::plan::probe::Probe;
use ablaplan::plan::tissue_params::builtin_tissue_params;
use ablaplan::safety::rules::{Check, builtin_rules};

fn shipped(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("assets/cases")
        .join(name)
}

/// The V3 case (two probes labelled "1" and "2", one pair at 2250 V) with the pair at
/// `voltage_v`, written to a temp dir.
fn v3_at(voltage_v: &str) -> (tempfile::TempDir, PathBuf) {
    let text = std::fs::read_to_string(shipped("v3_ben_david_liver.json")).unwrap();
    let old = "\"voltage_v\": 2250.0";
    assert_eq!(text.matches(old).count(), 1, "the V3 case has one pair at 2250 V");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3_voltage.json");
    std::fs::write(&path, text.replace(old, &format!("\"voltage_v\": {voltage_v}"))).unwrap();
    (dir, path)
}

fn two_probes() -> Vec<Probe> {
    [-7.5, 7.5]
        .into_iter()
        .enumerate()
        .map(|(i, x)| Probe {
            model_id: "nanoknife_19g".into(),
            tip_lps: PatientPos::new(x, 0.0, -10.0),
            entry_lps: PatientPos::new(x, 0.0, 90.0),
            exposure_mm: 20.0,
            label: format!("{}", i + 1),
        })
        .collect()
}

fn pair_at(voltage_v: f64) -> IreSettings {
    IreSettings {
        pairs: vec![ElectrodePair {
            a: 0,
            b: 1,
            voltage_v,
        }],
        ..IreSettings::default()
    }
}

#[test]
fn the_cap_lives_in_the_assets_with_its_source_next_to_the_current_limit() {
    let g = builtin_generator_limits().expect("assets/ire_generator.json");
    assert_eq!(g.voltage_cap_v.value, 3000.0, "REFERENCE.md §4: cap 3,000 V");
    assert!(
        g.voltage_cap_v.source.contains("REFERENCE.md §4"),
        "{}",
        g.voltage_cap_v.source
    );
    assert!(
        g.voltage_cap_v.source.contains("Kos 2015"),
        "{}",
        g.voltage_cap_v.source
    );
    assert_eq!(g.current_limit_a.value, 48.0, "REFERENCE.md §1: 48 A");
    assert!(g.current_limit_a.confirmed && g.voltage_cap_v.confirmed);
    // The code constants (slider ranges, defaults) and the safety rule agree with the asset.
    assert_eq!(generator_limits(), &g);
    assert_eq!(VOLTAGE_CAP_V, g.voltage_cap_v.value);
    assert_eq!(CURRENT_LIMIT_A, g.current_limit_a.value);
    let rules = builtin_rules().expect("safety rules");
    let rule_a = rules
        .rules
        .iter()
        .find_map(|r| match &r.check {
            Check::CurrentAbove { above_a } => Some(above_a.value),
            _ => None,
        })
        .expect("a current rule");
    assert_eq!(rule_a, g.current_limit_a.value);
}

#[test]
fn an_edited_generator_file_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gen.json");
    let no_source = ablaplan::plan::ire::BUILTIN_GENERATOR_JSON.replacen(
        "\"source\": \"Narayanan et al., CVIR 2024;47",
        "\"source\": \"\", \"was\": \"",
        1,
    );
    std::fs::write(&path, &no_source).unwrap();
    assert!(
        load_generator_limits(&path).is_err(),
        "unknown key / empty source refused"
    );
    let negative = ablaplan::plan::ire::BUILTIN_GENERATOR_JSON.replacen("3000.0", "-3000.0", 1);
    std::fs::write(&path, &negative).unwrap();
    let e = load_generator_limits(&path)
        .expect_err("negative cap")
        .to_string();
    assert!(e.contains("voltage_cap_v"), "{e}");
}

#[test]
fn a_case_with_3200_v_on_one_pair_is_refused_naming_the_pair_and_the_value() {
    let (_dir, path) = v3_at("3200.0");
    let err = load_case(&path).expect_err("3200 V is above the generator's 3000 V");
    let text = err.to_string();
    assert!(matches!(err, CaseError::Invalid { .. }), "{err:?}");
    assert_eq!(err.field(), Some("ire.pairs[0].voltage_v"), "{text}");
    for part in [
        "3200 V",
        "\"1\" and \"2\"",
        "3000 V",
        "Narayanan",
        "v3_voltage.json",
    ] {
        assert!(text.contains(part), "{part:?} missing from: {text}");
    }
}

#[test]
fn a_case_with_exactly_3000_v_is_accepted() {
    let (_dir, path) = v3_at("3000.0");
    let case = load_case(&path).expect("3000 V is the cap itself");
    assert_eq!(case.ire.pairs[0].voltage_v, 3000.0);
    // Just above is not (the comparison is strict at the cap, not rounded).
    let (_dir, path) = v3_at("3000.5");
    assert!(load_case(&path).is_err());
}

#[test]
fn the_cli_refuses_the_case_and_the_override_with_exit_2() {
    let (_dir, path) = v3_at("3200.0");
    let out = Command::new(env!("CARGO_BIN_EXE_ablaplan"))
        .args(["compute", path.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("ire.pairs[0].voltage_v") && stderr.contains("3200 V"),
        "{stderr}"
    );

    let v3 = shipped("v3_ben_david_liver.json");
    let out = Command::new(env!("CARGO_BIN_EXE_ablaplan"))
        .args(["compute", v3.to_str().unwrap(), "--voltage-v", "3200"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--voltage-v") && stderr.contains("3200 V") && stderr.contains("3000 V"),
        "{stderr}"
    );
}

/// The override is refused before the model runs; at the cap the model starts (and, cancelled
/// beforehand, stops at once: a model error, not an input error).
#[test]
fn the_voltage_override_is_checked_against_the_cap() {
    let ctx = JobCtx::default();
    ctx.cancel.cancel();
    let run = |v: f64| {
        let o = ComputeOverrides {
            voltage_v: Some(v),
            spacing_mm: Some(1.0),
            ..Default::default()
        };
        compute_case(&shipped("four_electrode_square.json"), &o, &ctx).expect_err("refused or cancelled")
    };
    let above = run(3200.0);
    assert_eq!(above.exit_code(), 2, "{above}");
    let text = above.to_string();
    assert!(text.contains("--voltage-v") && text.contains("3200 V"), "{text}");
    let at = run(3000.0);
    assert!(matches!(at, ComputeError::Model { .. }), "{at:?}");
}

#[test]
fn settings_and_the_model_refuse_a_pair_above_the_cap() {
    let probes = two_probes();
    assert!(pair_at(3000.0).validate(2).is_ok());
    match pair_at(3200.0).validate(2) {
        Err(IreSettingsError::AboveGeneratorCap {
            what,
            voltage_v,
            cap_v,
            cap_source,
        }) => {
            assert_eq!(what, "pair of probes 1 and 2");
            assert_eq!((voltage_v, cap_v), (3200.0, 3000.0));
            assert!(cap_source.contains("REFERENCE.md"), "{cap_source}");
        }
        other => panic!("expected the cap error, got {other:?}"),
    }
    let raised_cap = IreSettings {
        voltage_cap_v: 3750.0,
        ..IreSettings::default()
    };
    let e = raised_cap
        .validate(2)
        .expect_err("a cap above the generator's")
        .to_string();
    assert!(e.contains("voltage_cap_v") && e.contains("3750"), "{e}");

    let params = builtin_tissue_params().unwrap();
    let tissue = TissueSource::Phantom {
        class_id: "soft_tissue",
        centre_lps: PatientPos::origin(),
        size_mm: [60.0; 3],
    };
    let opts = IreModelOptions {
        spacing_mm: 2.0,
        ..IreModelOptions::default()
    };
    let err = compute_ire(
        &probes,
        &pair_at(3200.0),
        tissue,
        &params,
        &opts,
        &JobCtx::default(),
    )
    .expect_err("the model validates the settings");
    match err {
        IreError::Invalid(m) => assert!(m.contains("3200 V"), "{m}"),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn only_a_numerical_check_with_its_reason_may_exceed_the_cap() {
    let check = IreSettings {
        above_generator_cap: Some("REFERENCE.md §2 V2 at 25 mm".into()),
        voltage_cap_v: 3750.0,
        ..pair_at(3750.0)
    };
    assert!(check.validate(2).is_ok());
    let empty = IreSettings {
        above_generator_cap: Some("  ".into()),
        ..check.clone()
    };
    assert_eq!(empty.validate(2), Err(IreSettingsError::EmptyCapReason));

    // The shipped V2 case at 25 mm (3750 V) says why; without the reason it is refused.
    let v2 = shipped("v2_spacing_25mm.json");
    let case = load_case(&v2).expect("the V2 numerical check");
    assert!(case.ire.above_generator_cap.is_some());
    let text = std::fs::read_to_string(&v2).unwrap();
    let without: String = text
        .lines()
        .filter(|l| !l.contains("\"above_generator_cap\""))
        .collect::<Vec<_>>()
        .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2_no_reason.json");
    std::fs::write(&path, without).unwrap();
    let err = load_case(&path).expect_err("3750 V without a reason");
    assert!(err.to_string().contains("3750 V"), "{err}");
}
