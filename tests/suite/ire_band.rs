//! The IRE zone's uncertainty band, phantom tissue regions and the coverage explanation
//! (issue 13).
//!
//! - The band's conductivity ends are solved on the 2h grid and carried over as relative changes
//!   (`physics::ire::band`): checked here against direct plan-grid solves at the ends.
//! - A node of lymph-node tissue in fat: the structure sets the tissue, the band carries the
//!   node's unconfirmed σ0 range, and the explanation names the conductivity contrast.

use ablaplan::geometry::PatientPos;
use ablaplan::jobs::JobCtx;
use ablaplan::physics::band::Surface;
use ablaplan::physics::ire::calibrate::{v3_case, with_sigma_ratio};
use ablaplan::physics::ire::explain::{UncoveredCause, explain_coverage};
use ablaplan::physics::ire::model::{IreModelOptions, IreResult, TissueSource, ZoneCriterion, compute_ire};
use ablaplan::physics::ire::tissue::{node_classes, phantom_regions};
use ablaplan::plan::case::{CaseSource, load_case};
use ablaplan::plan::tissue_params::{TissueParams, builtin_tissue_params};
use ablaplan::safety::shapes::CaseStructure;
use std::path::PathBuf;

fn params() -> TissueParams {
    builtin_tissue_params().unwrap()
}

/// Nodes flagged in `a` but not in `b`, as a fraction of those in `b`.
fn excess(a: &[bool], b: &[bool]) -> f64 {
    let extra = a.iter().zip(b).filter(|(x, y)| **x && !**y).count();
    extra as f64 / b.iter().filter(|y| **y).count().max(1) as f64
}

/// The V3 case at 0.5 mm with `params` and `zone`.
fn v3_with(p: &TissueParams, zone: ZoneCriterion, band: bool) -> IreResult {
    let case = v3_case().unwrap();
    let CaseSource::Phantom {
        tissue,
        size_mm,
        centre_lps,
    } = &case.source
    else {
        panic!("V3 is a phantom");
    };
    let opts = IreModelOptions {
        zone,
        band,
        ..case.model.clone()
    };
    let tissue = TissueSource::Phantom {
        class_id: tissue,
        centre_lps: (*centre_lps).into(),
        size_mm: *size_mm,
    };
    compute_ire(
        &case.probes,
        &case.effective_ire(),
        tissue,
        p,
        &opts,
        &JobCtx::default(),
    )
    .unwrap()
}

#[test]
fn v3_band_surfaces_match_direct_solves_at_the_range_ends() {
    let p = params();
    let cal = p.calibration.clone().unwrap();
    let liver = p.class("liver").unwrap();
    let [t_lo, t_hi] = liver
        .lethal_threshold_range_v_per_cm
        .as_ref()
        .map(|r| [r.lo, r.hi])
        .unwrap();
    let [r_lo, r_hi] = cal.sigma_ratio.band_range;
    let r = v3_with(&p, ZoneCriterion::TissueThreshold, true);
    let band = r.band.as_ref().unwrap();
    assert_eq!(band.nominal, r.zone);
    // Outer: the most favourable threshold with each σ-ratio end, solved directly on the plan
    // grid — contained in the outer surface (up to the 2h approximation: < 1 % of its nodes).
    // Inner: contained in each, likewise.
    for ratio in [r_lo, r_hi] {
        let q = with_sigma_ratio(&p, "liver", ratio).unwrap();
        let outer_direct = v3_with(
            &q,
            ZoneCriterion::Fixed {
                threshold_v_per_cm: t_lo,
            },
            false,
        );
        let inner_direct = v3_with(
            &q,
            ZoneCriterion::Fixed {
                threshold_v_per_cm: t_hi,
            },
            false,
        );
        let out_miss = excess(&outer_direct.zone, &band.outer);
        let in_extra = excess(&band.inner, &inner_direct.zone);
        println!(
            "σ1/σ0 {ratio}: direct outer {:.2} mL vs band outer {:.2} mL (direct nodes outside the band {:.2} %); direct \
             inner {:.2} mL vs band inner {:.2} mL (band nodes outside the direct zone {:.2} %)",
            outer_direct.zone_volume_ml,
            band.volume_ml(Surface::Outer),
            100.0 * out_miss,
            inner_direct.zone_volume_ml,
            band.volume_ml(Surface::Inner),
            100.0 * in_extra
        );
        assert!(
            out_miss < 0.01,
            "σ1/σ0 {ratio}: {:.2} % of the direct outer zone outside the band",
            100.0 * out_miss
        );
        assert!(
            in_extra < 0.01,
            "σ1/σ0 {ratio}: {:.2} % of the inner band outside the direct zone",
            100.0 * in_extra
        );
    }
    assert!(band.volume_ml(Surface::Inner) < band.volume_ml(Surface::Nominal));
    assert!(band.volume_ml(Surface::Nominal) < band.volume_ml(Surface::Outer));
    assert_eq!(r.zone_surface(Surface::Outer), &band.outer[..]);
    assert_eq!(r.zone_surface(Surface::Nominal), &r.zone[..]);
    // Without a band every surface is the nominal zone.
    let nb = v3_with(&p, ZoneCriterion::TissueThreshold, false);
    assert!(nb.band.is_none());
    assert_eq!(nb.zone_surface(Surface::Inner), &nb.zone[..]);
    assert_eq!(nb.zone, r.zone, "the band does not change the nominal zone");
}

fn case_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("assets/cases")
        .join(name)
}

#[test]
fn a_node_in_fat_is_lymph_node_tissue_and_its_low_field_is_explained() {
    let case = load_case(&case_path("node_in_fat_bracket.json")).unwrap();
    let p = params();
    let CaseSource::Phantom {
        tissue,
        size_mm,
        centre_lps,
    } = &case.source
    else {
        panic!("phantom case");
    };
    let regions = phantom_regions(&case.structures);
    assert_eq!(regions.len(), 2);
    // Priority as on a CT: the vessel after (over) the node.
    assert_eq!(regions[0].class_id, "lymph_node");
    assert_eq!(regions[1].class_id, "blood");
    let source = TissueSource::PhantomRegions {
        class_id: tissue,
        centre_lps: (*centre_lps).into(),
        size_mm: *size_mm,
        regions: &regions,
    };
    let r = compute_ire(
        &case.probes,
        &case.effective_ire(),
        source,
        &p,
        &case.model,
        &JobCtx::default(),
    )
    .unwrap();
    let classes = node_classes(&r.grid, &source, &p).unwrap();
    let class_at = |x: f64, y: f64, z: f64| {
        let [i, j, k] = r.grid.nearest(&PatientPos::new(x, y, z)).unwrap();
        p.classes[usize::from(classes[r.grid.index(i, j, k)])].id.clone()
    };
    assert_eq!(class_at(0.0, 0.0, 0.0), "lymph_node");
    assert_eq!(class_at(0.0, 14.0, 0.0), "blood");
    assert_eq!(class_at(20.0, -12.0, 0.0), "fat");
    // The band carries the node's σ0 range (it borders fat here).
    let band = r.band.as_ref().unwrap();
    let node_param = band
        .parameters
        .iter()
        .find(|q| q.name.contains("σ0") && q.name.contains("Lymph node"))
        .unwrap_or_else(|| panic!("{:#?}", band.parameters));
    assert!(node_param.inner < node_param.nominal && node_param.nominal < node_param.outer);
    assert!(band.volume_ml(Surface::Outer) > band.volume_ml(Surface::Nominal));
    // The explanation: a well-conducting node in fat sees a fraction of the field around it.
    let Some(CaseStructure::Sphere {
        centre_lps: c,
        radius_mm,
        ..
    }) = case.structures.first().cloned()
    else {
        panic!("node sphere first");
    };
    let c = PatientPos::from(c);
    let inside = move |q: &PatientPos| (q - c).norm() <= radius_mm;
    let x = explain_coverage(&r, &inside, source, &p)
        .unwrap()
        .expect("target on the grid");
    println!("{x:#?}");
    assert_eq!(x.class_inside, "lymph_node");
    assert_eq!(x.class_around, "fat");
    assert!((x.conductivity_contrast - 10.0).abs() < 1e-9);
    assert!((x.sphere_field_ratio - 0.25).abs() < 1e-9);
    assert!(x.inside_unconfirmed);
    assert_eq!(x.sigma0_inside_range_s_per_m, Some([0.08, 0.5]));
    assert!(x.covered_fraction < 0.9, "{}", x.covered_fraction);
    assert!(
        x.field_ratio_inside_to_around < 0.8,
        "{}",
        x.field_ratio_inside_to_around
    );
    assert!(
        x.causes.contains(&UncoveredCause::ConductivityContrast),
        "{:?}",
        x.causes
    );
    assert!(x.voltage_needed_v > 3000.0, "{}", x.voltage_needed_v);
    // The same node of soft-tissue conductivity (no contrast) is covered better, and the
    // contrast is no longer named.
    let mut same = p.clone();
    let fat = same.class_index("fat").unwrap();
    let node = same.class_index("lymph_node").unwrap();
    same.classes[fat] = ablaplan::plan::tissue_params::TissueClass {
        id: "fat".into(),
        ..same.classes[node].clone()
    };
    let r2 = compute_ire(
        &case.probes,
        &case.effective_ire(),
        source,
        &same,
        &case.model,
        &JobCtx::default(),
    )
    .unwrap();
    let x2 = explain_coverage(&r2, &inside, source, &same).unwrap().unwrap();
    assert!(
        x2.covered_fraction > x.covered_fraction,
        "{} vs {}",
        x2.covered_fraction,
        x.covered_fraction
    );
    assert!(!x2.causes.contains(&UncoveredCause::ConductivityContrast));
}

#[test]
fn compute_json_shows_the_band() {
    let path = case_path("node_in_fat_bracket.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ablaplan"))
        .args(["compute", path.to_str().unwrap(), "--json"])
        .output()
        .expect("run ablaplan");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let b = &v["zone"]["band"];
    let vol = |s: &str| b[s]["volume_ml"].as_f64().unwrap();
    assert!(vol("inner") <= vol("nominal") && vol("nominal") <= vol("outer"));
    assert!((vol("nominal") - v["zone"]["volume_ml"].as_f64().unwrap()).abs() < 1e-3);
    for s in ["inner", "nominal", "outer"] {
        for ax in ["probe_axis", "pair_axis", "perpendicular"] {
            assert!(b[s]["extents_mm"][ax].as_f64().is_some(), "{s}.{ax}");
        }
    }
    let params = b["parameters"].as_array().unwrap();
    assert!(
        params
            .iter()
            .all(|p| p["source"].as_str().is_some_and(|s| !s.is_empty()))
    );
    assert!(params.iter().any(|p| p["unit"] == "S/m"), "{params:#?}");
}

/// Cost of the band on the benchmark plan (4 electrodes, 6 pairs, 0.5 mm, liver), printed:
/// `cargo test --test suite band_cost -- --ignored --nocapture` (the criterion bench
/// `ire_plan` gives the numbers that count).
#[test]
#[ignore]
fn band_cost_on_the_four_electrode_plan() {
    use ablaplan::plan::ire::IreSettings;
    use ablaplan::plan::probe::{ArrayTemplate, parallel_array};
    use nalgebra::Vector3;
    let t = ArrayTemplate::centred(
        "nanoknife_19g",
        4,
        15.0,
        PatientPos::new(0.3, -0.2, 0.1),
        Vector3::z(),
        Vector3::x(),
        20.0,
        150.0,
    );
    let probes = parallel_array(&t).unwrap();
    let tissue = TissueSource::Phantom {
        class_id: "liver",
        centre_lps: PatientPos::origin(),
        size_mm: [200.0; 3],
    };
    let p = params();
    let settings = IreSettings::default();
    for band in [false, true, false, true] {
        let opts = IreModelOptions {
            band,
            ..IreModelOptions::default()
        };
        let r = compute_ire(&probes, &settings, tissue, &p, &opts, &JobCtx::default()).unwrap();
        println!(
            "band {band}: {:.2} s, {} linear iterations, zone {:.2} mL, band {:?}",
            r.elapsed_s,
            r.linear_iterations,
            r.zone_volume_ml,
            r.band
                .as_ref()
                .map(|b| [Surface::Inner, Surface::Outer].map(|s| b.volume_ml(s)))
        );
    }
}
