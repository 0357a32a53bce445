//! The `compute --json` keys documented in the README stay as they are (issue 12: the IRE and
//! cryo paths now share one pipeline, and scripts read these reports). Every key path of the
//! report of a shipped IRE case with structures, and of a shipped cryo case, is compared with the
//! golden lists in `tests/golden/` (written from the reports before the merge of the two paths,
//! checked against that build, then extended by the documented additions of issues 13 and 14:
//! `zone.band`, the probes' wall temperature and cooling power;
//! `UPDATE_GOLDEN=1` rewrites them after a deliberate, documented change).

use std::collections::BTreeSet;
use std::path::PathBuf;

use ablaplan::jobs::JobCtx;
use ablaplan::pipeline::{ComputeOverrides, RunOptions, run_case};
use serde_json::Value;

fn shipped(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("assets/cases")
        .join(name)
}

/// Every key path of `v`: objects by key, arrays as `[]` (the union over their elements).
fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                key_paths(x, &p, out);
            }
        }
        Value::Array(a) => {
            for x in a {
                key_paths(x, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn check(case: &str, overrides: ComputeOverrides, golden: &str) {
    let opts = RunOptions {
        overrides,
        ..RunOptions::default()
    };
    let report = run_case(&shipped(case), &opts, &JobCtx::default()).expect("the case computes");
    let json = serde_json::to_value(&report).expect("serialisable");
    let mut keys = BTreeSet::new();
    key_paths(&json, "", &mut keys);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(golden);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        let text: String = keys.iter().map(|k| format!("{k}\n")).collect();
        std::fs::write(&path, text).expect("write the golden list");
    }
    let expected: BTreeSet<String> = std::fs::read_to_string(&path)
        .expect("the golden list")
        .lines()
        .map(str::to_string)
        .collect();
    let missing: Vec<_> = expected.difference(&keys).collect();
    let added: Vec<_> = keys.difference(&expected).collect();
    assert!(
        missing.is_empty() && added.is_empty(),
        "{case}: keys missing {missing:?}, keys added {added:?}"
    );
}

#[test]
fn ire_report_keys_are_the_documented_ones() {
    check(
        "safety_nerve_near_zone.json",
        ComputeOverrides::default(),
        "compute_keys_ire.txt",
    );
}

#[test]
fn cryo_report_keys_are_the_documented_ones() {
    let coarse = ComputeOverrides {
        spacing_mm: Some(2.0),
        ..ComputeOverrides::default()
    };
    check("c2_littrup_1_probes.json", coarse, "compute_keys_cryo.txt");
}
