//! `ablaplan inspect --structures`: structure sets listed per series and imported onto the CT.

use crate::common;

use ablaplan::cli::{format_inspect, inspect, inspect_with};

#[test]
fn inspect_lists_and_imports_structure_sets() {
    let Some(dir) = common::dicom_data("totalseg-abdomen-vessels-derived") else {
        return;
    };
    // Without --structures: listed, not imported (no import keys in the JSON).
    let r = inspect(&dir).expect("inspect");
    assert_eq!(r.series.len(), 1);
    let sets = &r.series[0].structure_sets;
    assert_eq!(sets.len(), 2);
    assert!(
        sets.iter()
            .all(|s| s.matches_frame_of_reference && s.references_series)
    );
    let json = serde_json::to_value(&r).expect("json");
    let s0 = &json["series"][0]["structure_sets"][0];
    assert_eq!(s0["modality"], "RTSTRUCT");
    assert!(s0.get("structures").is_none());

    let r = inspect_with(&dir, true).expect("inspect --structures");
    let json = serde_json::to_value(&r).expect("json");
    let rt = &json["series"][0]["structure_sets"][0];
    let aorta = rt["structures"]
        .as_array()
        .expect("structures")
        .iter()
        .find(|s| s["name"] == "aorta")
        .expect("aorta");
    assert_eq!(aorta["kind"], "Vessel");
    // The RTSTRUCT's contours run through the centres of its SEG twin's boundary voxels, which
    // count as inside: the same voxels as the SEG's aorta (see structures_seg.rs).
    let seg_aorta = json["series"][0]["structure_sets"][1]["structures"]
        .as_array()
        .expect("SEG structures")
        .iter()
        .find(|s| s["name"] == "aorta")
        .expect("SEG aorta");
    let n = aorta["voxel_count"].as_u64().expect("voxel count");
    assert_eq!(Some(n), seg_aorta["voxel_count"].as_u64());
    let ml = aorta["volume_ml"].as_f64().expect("ml");
    assert!(
        (ml - seg_aorta["volume_ml"].as_f64().expect("SEG ml")).abs() < 1e-9,
        "{ml}"
    );
    let bb = &aorta["bbox_lps_mm"];
    assert!((bb[0][2].as_f64().expect("zmin") + 804.5).abs() < 1e-6);
    assert!((bb[1][2].as_f64().expect("zmax") + 766.5).abs() < 1e-6);
    assert!(bb[0][0].as_f64() < bb[1][0].as_f64());
    assert!(
        aorta["source"]
            .as_str()
            .expect("source")
            .ends_with("rtstruct.dcm")
    );
    let seg = &json["series"][0]["structure_sets"][1];
    assert_eq!(seg["modality"], "SEG");
    assert_eq!(seg["structures"].as_array().map(Vec::len), Some(5));
    let text = format_inspect(&r);
    assert!(
        text.contains(&format!("aorta [Vessel]: {n} voxels, {ml:.2} mL")),
        "{text}"
    );
}

#[test]
fn inspect_reports_refused_structure_sets() {
    let Some(dir) = common::dicom_data("rtutils-small-edge-cases/mock_data") else {
        return;
    };
    let r = inspect_with(&dir, true).expect("inspect");
    let sets = &r.series[0].structure_sets;
    assert_eq!(sets.len(), 3);
    let rt = sets.iter().find(|s| s.path.ends_with("rt.dcm")).expect("rt.dcm");
    assert!(!rt.matches_frame_of_reference);
    assert!(
        rt.error.as_deref().unwrap_or("").contains("frame of reference"),
        "{:?}",
        rt.error
    );
    assert!(rt.structures.is_none());
    let ok = sets
        .iter()
        .find(|s| s.path.ends_with("invalid_reference_rt.dcm"))
        .expect("invalid ref");
    assert_eq!(ok.structures.as_ref().map(Vec::len), Some(4));
    assert!(
        ok.warnings
            .iter()
            .flatten()
            .any(|w| w.contains("not in the loaded series"))
    );
}
