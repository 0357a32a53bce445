//! `ablaplan compute CASE --json` on the shipped safety case lists the nerve finding and the
//! target's margin; case files with structures and rules are validated with named fields.

use ablaplan::cli::{ComputeOverrides, compute_case};
use ablaplan::jobs::JobCtx;
use ablaplan::plan::case::{CaseFile, load_case};
use std::path::PathBuf;

fn case_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("assets/cases")
        .join(name)
}

#[test]
fn compute_json_lists_the_nerve_finding() {
    let path = case_path("safety_nerve_near_zone.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ablaplan"))
        .args(["compute", path.to_str().unwrap(), "--json"])
        .output()
        .expect("run ablaplan");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let findings = v["findings"].as_array().expect("findings");
    let nerve = findings
        .iter()
        .find(|f| f["rule"] == "ire.nerve_near_zone")
        .unwrap_or_else(|| panic!("no nerve finding in {findings:#?}"));
    assert_eq!(nerve["structure"], "Nerve");
    assert_eq!(nerve["kind"], "Nerve");
    // Distances are measured from the band's outer surface (issue 13).
    assert_eq!(nerve["zone"], "IRE zone (outer)");
    assert_eq!(nerve["severity"], "high_risk");
    assert!(nerve["distance_mm"].as_f64().is_some());
    assert!(nerve["distance_lower_mm"].as_f64().unwrap() < 2.0);
    assert_eq!(v["safety"]["status"], "red");
    assert_eq!(v["safety"]["structures"].as_array().unwrap().len(), 3);
    // The bone block is far from the zone and off the probe paths: no finding for it.
    assert!(
        findings.iter().all(|f| f["structure"] != "Vertebra"),
        "{findings:#?}"
    );
    let m = &v["margins"][0];
    assert_eq!(m["target"], "Target node");
    assert!(m["coverage"].as_f64().unwrap() > 0.99, "{m}");
    assert!(m["min_margin_mm"].as_f64().is_some());
}

#[test]
fn library_report_matches_and_text_lists_findings() {
    let r = compute_case(
        &case_path("safety_nerve_near_zone.json"),
        &ComputeOverrides::default(),
        &JobCtx::default(),
    )
    .expect("compute");
    assert!(r.findings.iter().any(|f| f.rule == "ire.nerve_near_zone"));
    let text = ablaplan::cli::format_compute(&r);
    assert!(text.contains("Safety") && text.contains("High risk"), "{text}");
}

#[test]
fn structures_and_rules_are_validated_naming_the_field() {
    let text = std::fs::read_to_string(case_path("safety_nerve_near_zone.json")).unwrap();
    let ok = CaseFile::from_json(&text, "x").expect("parses");
    assert_eq!(ok.structures.len(), 3);
    assert!(ok.rules.is_none());
    let dir = tempfile::tempdir().unwrap();
    let bad = text.replacen("\"radius_mm\": 1.5", "\"radius_mm\": -1.5", 1);
    let p = dir.path().join("bad.json");
    std::fs::write(&p, bad).unwrap();
    let e = load_case(&p).unwrap_err().to_string();
    assert!(e.contains("structures[1].radius_mm"), "{e}");
    let bad = text.replacen("\"shape\": \"sphere\"", "\"shape\": \"sphere\", \"colour\": 3", 1);
    std::fs::write(&p, bad).unwrap();
    assert!(load_case(&p).is_err(), "unknown key in a structure is refused");
    // An import onto a phantom is refused.
    let bad = text.replacen(
        "\"structures\": [",
        "\"structures\": [{\"shape\": \"import\", \"path\": \"rt.dcm\"},",
        1,
    );
    std::fs::write(&p, bad).unwrap();
    let e = load_case(&p).unwrap_err().to_string();
    assert!(e.contains("structures[0].path"), "{e}");
    // A rule set saved with the case is validated too.
    let mut rules = ablaplan::safety::builtin_rules().unwrap();
    rules.rules[0].source.clear();
    let mut case = ok.clone();
    case.rules = Some(rules);
    let e = case
        .validate(
            "x",
            &ablaplan::plan::tissue_params::builtin_tissue_params().unwrap(),
            &ablaplan::plan::catalog::builtin_catalog().unwrap(),
        )
        .unwrap_err()
        .to_string();
    assert!(e.contains("rules") && e.contains("source"), "{e}");
    // Old case files without the new keys stay valid.
    load_case(&case_path("v2_spacing_20mm.json")).expect("old case");
}

/// Issue 13: an uncovered target's finding says why, from the model — the node in fat conducts
/// better than the fat, so the field inside it is lower — and what voltage would reach it.
#[test]
fn an_uncovered_node_in_fat_says_why() {
    let case = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/cases/node_in_fat_bracket.json");
    let r = compute_case(&case, &ComputeOverrides::default(), &JobCtx::default()).expect("compute");
    let coverage = r
        .findings
        .iter()
        .find(|f| f.rule == "ire.zone_coverage")
        .unwrap_or_else(|| panic!("the bracket does not cover the node: {:#?}", r.findings));
    let m = &coverage.message;
    assert!(m.contains("why:"), "{m}");
    assert!(m.contains("conducts") && m.contains("field inside"), "{m}");
    assert!(m.contains(" V"), "what voltage would reach it: {m}");
}
