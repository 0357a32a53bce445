//! The built-in probe catalog and IRE tissue parameters parse, are complete, and cite sources.

use ablaplan::anatomy::structure::StructureKind;
use ablaplan::plan::AssetError;
use ablaplan::plan::catalog::{Modality, builtin_catalog, load_catalog};
use ablaplan::plan::tissue_params::{
    REQUIRED_CLASSES, builtin_tissue_params, class_for_structure, load_tissue_params,
};

#[test]
fn builtin_catalog_has_the_five_models() -> Result<(), AssetError> {
    let cat = builtin_catalog()?;
    for id in ["nanoknife_19g", "iceseed", "icesphere", "icerod", "iceforce"] {
        assert!(cat.get(id).is_some(), "missing {id}");
    }
    // Plus the 2.4 mm probe of the Littrup 2009 phantom validation (issue 5, C2).
    assert_eq!(cat.probes.len(), 6);
    assert_eq!(cat.of_modality(Modality::Cryo).count(), 5);
    for m in cat
        .of_modality(Modality::Cryo)
        .filter(|m| m.id != "littrup2009_2p4mm")
    {
        assert!((m.outer_diameter_mm.value - 1.47).abs() < 1e-9, "{}", m.id);
        assert_eq!(m.gauge, "17G");
    }
    let ire = cat.get("nanoknife_19g").ok_or(AssetError::Invalid {
        file: "test".into(),
        message: "no electrode".into(),
    })?;
    assert_eq!(ire.modality, Modality::Ire);
    assert!((ire.outer_diameter_mm.value - 1.07).abs() < 1e-12);
    assert!((ire.radius_mm() - 0.535).abs() < 1e-12);
    let e = ire.exposure_mm.as_ref().ok_or(AssetError::Invalid {
        file: "test".into(),
        message: "no exposure".into(),
    })?;
    let steps = e.steps_mm();
    let expected: Vec<f64> = (1..=8).map(|i| f64::from(i) * 5.0).collect();
    assert_eq!(steps.len(), expected.len());
    for (s, x) in steps.iter().zip(&expected) {
        assert!((s - x).abs() < 1e-9, "{steps:?}");
    }
    assert_eq!(ire.default_active_mm(), Some(20.0));
    Ok(())
}

#[test]
fn every_catalog_number_has_a_source_and_unconfirmed_ones_say_so() -> Result<(), AssetError> {
    let cat = builtin_catalog()?;
    let qs = cat.quantities();
    assert!(qs.len() >= 12, "{}", qs.len());
    for (name, q) in &qs {
        assert!(!q.source.trim().is_empty(), "{name} has no source");
        if !q.confirmed {
            let note = q.note.as_deref().unwrap_or_default();
            assert!(
                note.contains("unconfirmed — verify against the instructions for use"),
                "{name}: {note}"
            );
        }
    }
    // The placeholders of REFERENCE.md §3 are flagged.
    for id in ["iceseed", "icesphere", "icerod"] {
        let m = cat.get(id).and_then(|m| m.active_length_mm.as_ref());
        assert!(m.is_some_and(|q| !q.confirmed), "{id}");
    }
    let c3 = cat
        .get("icesphere")
        .map(|m| m.isotherms.clone())
        .unwrap_or_default();
    assert_eq!(c3.len(), 1);
    assert_eq!(c3[0].length_mm.value, 37.0);
    assert_eq!(c3[0].width_mm.uncertainty, Some(3.0));
    Ok(())
}

#[test]
fn user_catalog_errors_name_the_file() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let missing = dir.path().join("none.json");
    let err = load_catalog(&missing).expect_err("missing file");
    assert!(matches!(err, AssetError::Io { .. }));
    assert!(err.to_string().contains("none.json"));

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{ \"schema_version\": 1, ")?;
    let err = load_catalog(&bad).expect_err("truncated");
    assert!(matches!(err, AssetError::Parse { .. }), "{err}");
    assert!(err.to_string().contains("bad.json"));

    let wrong = dir.path().join("wrong.json");
    let text =
        ablaplan::plan::catalog::BUILTIN_CATALOG_JSON.replacen("\"value\": 20.0", "\"value\": 17.0", 1);
    std::fs::write(&wrong, text)?;
    let err = load_catalog(&wrong).expect_err("default off the steps");
    assert!(err.to_string().contains("exposure_mm.default 17"), "{err}");

    let ok = dir.path().join("ok.json");
    std::fs::write(&ok, ablaplan::plan::catalog::BUILTIN_CATALOG_JSON)?;
    assert_eq!(load_catalog(&ok)?, builtin_catalog()?);
    Ok(())
}

#[test]
fn tissue_params_parse_and_cite_sources() -> Result<(), AssetError> {
    let t = builtin_tissue_params()?;
    for id in REQUIRED_CLASSES {
        assert!(t.class(id).is_some(), "{id}");
    }
    for (name, q) in t.quantities() {
        assert!(!q.source.trim().is_empty(), "{name}");
        if !q.confirmed {
            assert!(q.note.as_deref().is_some_and(|n| !n.is_empty()), "{name}");
        }
    }
    // Values of REFERENCE.md §2.
    let liver = t.class("liver").ok_or(AssetError::Invalid {
        file: "t".into(),
        message: "liver".into(),
    })?;
    assert_eq!(liver.sigma0_s_per_m.value, 0.08);
    // σ1/σ0 calibrated on V3 within the published 2–4× (REFERENCE.md §7; ire_calibration.rs).
    let s1 = liver.sigma1_s_per_m.value;
    assert!((2.0 * 0.08..=4.0 * 0.08).contains(&s1), "{s1}");
    assert_eq!(liver.sigma(0.0), 0.08);
    // Linear between E_rev = 350 and E_irr = 700 V/cm: halfway at 525 V/cm.
    assert!((liver.sigma(525.0) - 0.5 * (0.08 + s1)).abs() < 1e-12);
    assert_eq!(liver.sigma(5000.0), s1);
    let fat = t.class("fat").map(|c| c.sigma0_s_per_m.value);
    assert!(fat.is_some_and(|s| (0.012..=0.025).contains(&s)));
    assert_eq!(t.class("bone").map(|c| c.sigma0_s_per_m.value), Some(0.02));
    let node = t.class("lymph_node").and_then(|c| c.sigma0_s_per_m.note.clone());
    assert!(node.is_some_and(|n| n.contains("no published value")));
    assert!(t.hu_classes.source.contains("conventional"));
    Ok(())
}

#[test]
fn hu_classes_and_structure_overrides() -> Result<(), AssetError> {
    let t = builtin_tissue_params()?;
    assert_eq!(t.class_for_hu(-1000.0), "air");
    assert_eq!(t.class_for_hu(-100.0), "fat");
    assert_eq!(t.class_for_hu(-30.0), "soft_tissue");
    assert_eq!(t.class_for_hu(40.0), "soft_tissue");
    assert_eq!(t.class_for_hu(200.0), "blood");
    assert_eq!(t.class_for_hu(1000.0), "bone");
    assert_eq!(class_for_structure(StructureKind::Vessel), Some("blood"));
    // The targets of both source studies are lymph nodes (issue 13).
    assert_eq!(class_for_structure(StructureKind::Target), Some("lymph_node"));
    assert_eq!(class_for_structure(StructureKind::Bowel), Some("bowel_wall"));
    assert_eq!(class_for_structure(StructureKind::Nerve), None);
    Ok(())
}

#[test]
fn peleg_fermi_matches_reference() -> Result<(), AssetError> {
    let pf = builtin_tissue_params()?.peleg_fermi;
    // REFERENCE.md §2: Ec(70) ≈ 489 V/cm (a check of the formula, not tuning).
    let ec = pf.ec_v_per_cm(70);
    assert!((ec - 489.0).abs() < 1.0, "{ec}");
    assert!((pf.survival(ec, 70) - 0.5).abs() < 1e-12);
    assert!(pf.survival(ec + 100.0, 70) < 0.01);
    assert!(pf.survival(ec - 100.0, 70) > 0.99);
    Ok(())
}

#[test]
fn tissue_file_errors_name_the_problem() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let p = dir.path().join("t.json");
    let text = ablaplan::plan::tissue_params::BUILTIN_TISSUES_JSON.replacen(
        "\"value\": 350.0",
        "\"value\": 900.0",
        1,
    );
    std::fs::write(&p, text)?;
    let err = load_tissue_params(&p).expect_err("e_rev above e_irr");
    let msg = err.to_string();
    assert!(msg.contains("t.json") && msg.contains("liver"), "{msg}");
    Ok(())
}
