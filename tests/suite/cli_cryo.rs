//! `ablaplan compute` on cryo cases with structures (issues 6 and 7): the safety findings and
//! margins of the 0 °C iceball, the −20 °C and the lethal isotherm in the JSON and the text, the
//! cryo "stop" rule firing for a nerve in the iceball and clearing when the nerve is moved away,
//! and `--png` writing the cryo board slide.
//!
//! The cases are the shipped C3 IceSphere gel case (one probe along −S through the origin, active
//! part z = −12.5…12.5 mm, calibrated 0 °C iceball 37 × 32 mm) with a target sphere and a nerve
//! added, run at 2 mm so the tests stay quick (the model's accuracy is tested elsewhere).

use std::path::{Path, PathBuf};
use std::process::Command;

use ablaplan::cli::{ComputeOverrides, compute_cryo_case, format_cryo_compute};
use ablaplan::jobs::JobCtx;

fn shipped(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("assets/cases")
        .join(name)
}

/// The C3 case with a 3 mm target around the probe's active part (well inside the calibrated
/// 17G needle's −40 °C zone, ≈ 6–7 mm in radius, even at the 2 mm grid's margin error bound) and a
/// 3 mm nerve parallel to the probe at `nerve_x_mm` from its axis, written into `dir`.
fn case_with_nerve(dir: &Path, nerve_x_mm: f64) -> PathBuf {
    let text = std::fs::read_to_string(shipped("c3_icesphere_gel_10min.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["structures"] = serde_json::json!([
        {"shape": "sphere", "name": "Target node", "kind": "Target",
         "centre_lps": [0.0, 0.0, 0.0], "radius_mm": 3.0},
        {"shape": "cylinder", "name": "Nerve", "kind": "Nerve",
         "a_lps": [nerve_x_mm, 0.0, -30.0], "b_lps": [nerve_x_mm, 0.0, 30.0], "radius_mm": 1.5}
    ]);
    let path = dir.join(format!("cryo_nerve_{nerve_x_mm}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    path
}

fn coarse() -> ComputeOverrides {
    ComputeOverrides {
        spacing_mm: Some(2.0),
        ..ComputeOverrides::default()
    }
}

#[test]
fn cryo_json_lists_the_iceball_stop_finding_and_the_slide_is_written() {
    let dir = tempfile::tempdir().unwrap();
    // The nerve's surface 8.5 mm from the probe axis: well inside the 32 mm wide iceball.
    let case = case_with_nerve(dir.path(), 10.0);
    let png = dir.path().join("slide.png");
    let out = Command::new(env!("CARGO_BIN_EXE_ablaplan"))
        .args([
            "compute",
            case.to_str().unwrap(),
            "--json",
            "--spacing-mm",
            "2",
            "--png",
            png.to_str().unwrap(),
        ])
        .output()
        .expect("run ablaplan");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["modality"], "cryo");
    let findings = v["findings"].as_array().expect("findings");
    let stop = findings
        .iter()
        .find(|f| f["rule"] == "cryo.iceball_near_critical")
        .unwrap_or_else(|| panic!("no iceball stop finding in {findings:#?}"));
    assert_eq!(stop["structure"], "Nerve");
    assert_eq!(stop["kind"], "Nerve");
    // Distances are measured from the band's outer 0 °C iceball (issue 14).
    assert_eq!(stop["zone"], "Iceball 0 °C (outer)");
    assert_eq!(stop["severity"], "stop");
    // Inside the iceball: a negative distance, and what the rule compared is below its 2 mm.
    assert!(stop["distance_mm"].as_f64().unwrap() < 0.0, "{stop}");
    assert!(stop["distance_lower_mm"].as_f64().unwrap() < 2.0, "{stop}");
    // Worst first: the stop finding leads.
    assert_eq!(findings[0]["severity"], "stop", "{findings:#?}");
    assert_eq!(v["safety"]["status"], "red");
    assert_eq!(v["safety"]["rules"], "built-in");
    let names: Vec<&str> = v["safety"]["structures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Target node", "Nerve"]);
    // The target's margin is measured against the lethal zone (−40 °C for C3).
    let m = &v["margins"][0];
    assert_eq!(m["target"], "Target node");
    // … its inner surface (issue 14).
    assert_eq!(m["zone"], "Lethal -40 °C (inner)");
    let coverage = m["coverage"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&coverage), "{m}");
    // The slide was written next to the report.
    let img = image::open(&png).expect("the slide decodes").to_rgba8();
    assert_eq!(img.dimensions(), (1920, 1080));
    // The lethal zone's blue fill over the phantom's gray is in the views.
    let blue = img
        .pixels()
        .filter(|p| i32::from(p.0[2]) > i32::from(p.0[0]) + 50 && p.0[2] > p.0[1])
        .count();
    assert!(blue > 100, "{blue} blue pixels");
}

#[test]
fn moving_the_nerve_away_clears_the_stop_finding() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = JobCtx::default();
    let near = compute_cryo_case(&case_with_nerve(dir.path(), 10.0), &coarse(), &ctx).unwrap();
    assert!(
        near.findings
            .iter()
            .any(|f| f.rule == "cryo.iceball_near_critical"),
        "{:#?}",
        near.findings
    );
    let text = format_cryo_compute(&near);
    assert!(text.contains("Safety") && text.contains("[Stop]"), "{text}");
    assert!(text.contains("Margin of Target node"), "{text}");
    // 60 mm from the axis: the nerve's surface is ~40 mm outside the 16 mm iceball radius, beyond
    // the stop (2 mm) and the dissection (10 mm) limits.
    let far = compute_cryo_case(&case_with_nerve(dir.path(), 60.0), &coarse(), &ctx).unwrap();
    assert!(
        far.safety.structures.iter().any(|s| s.name == "Nerve"),
        "the nerve is still analysed"
    );
    assert!(
        far.findings
            .iter()
            .all(|f| f.structure.as_deref() != Some("Nerve")),
        "{:#?}",
        far.findings
    );
    // What stays red is the target's coverage, judged on the band's inner lethal surface at this
    // coarse grid (issue 14: conservative), never the nerve.
    assert!(
        far.findings
            .iter()
            .filter(|f| f.light == ablaplan::safety::Light::Red)
            .all(|f| f.kind == Some(ablaplan::anatomy::StructureKind::Target)),
        "{:#?}",
        far.findings
    );
    // The same iceball both times: only the nerve moved.
    assert_eq!(near.isotherms[0].volume_ml, far.isotherms[0].volume_ml);
}

#[test]
fn a_cryo_case_without_structures_has_no_findings() {
    let r = compute_cryo_case(
        &shipped("c3_icesphere_gel_10min.json"),
        &coarse(),
        &JobCtx::default(),
    )
    .unwrap();
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
    assert!(r.margins.is_empty());
    assert!(r.safety.structures.is_empty());
    assert_eq!(r.safety.status, ablaplan::safety::Light::Green);
}
