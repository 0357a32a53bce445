//! Safety analysis against analytic geometry on anisotropic CT grids: distances between zones and
//! spheres, planes and cylinders at known distances, overlap volumes, margins of nested spheres
//! and of a target poking out, probe path collisions, the current rule, and a property test that
//! no violation is ever missed.
//!
//! Tolerances: every distance carries `error_bound_mm` = half the diagonal of a zone cell plus
//! half the diagonal of a CT voxel (the sampling error of each side, `src/safety/distance.rs`);
//! the tests check the best estimate against the analytic distance within that bound (plus
//! 1e-6 mm of float rounding) and the lower bound never above the analytic distance.

use ablaplan::anatomy::structure::{Provenance, Structure, StructureKind};
use ablaplan::geometry::{PatientPos, VolumeGeometry};
use ablaplan::plan::probe::Probe;
use ablaplan::safety::shapes::Shape;
use ablaplan::safety::{
    Light, PairCurrent, RuleSet, SafetyCache, SafetyInput, SafetyReport, Severity, Zone, ZoneKind,
    builtin_rules, run_safety,
};
use nalgebra::{Matrix3, Vector3};
use proptest::prelude::*;

/// Float rounding allowance (mm).
const EPS: f64 = 1e-6;

/// An anisotropic CT grid of `size_mm` centred on the origin (0.7 × 0.9 × 2.5 mm by default).
fn ct(spacing: [f64; 3], size_mm: f64) -> VolumeGeometry {
    let dims = spacing.map(|s| (size_mm / s).ceil() as usize + 1);
    let origin = PatientPos::new(
        -0.5 * (dims[0] - 1) as f64 * spacing[0],
        -0.5 * (dims[1] - 1) as f64 * spacing[1],
        -0.5 * (dims[2] - 1) as f64 * spacing[2],
    );
    VolumeGeometry::axis_aligned(dims, spacing, origin)
}

fn structure(name: &str, kind: StructureKind, shape: Shape, g: &VolumeGeometry) -> Structure {
    Structure::new(name, kind, Provenance::Drawn, shape.rasterise(g))
}

fn sphere(c: [f64; 3], r: f64) -> Shape {
    Shape::Sphere {
        centre_lps: PatientPos::from(c),
        radius_mm: r,
    }
}

fn pass(
    g: &VolumeGeometry,
    structures: &[Structure],
    zones: &[Zone],
    probes: &[Probe],
    rules: &RuleSet,
) -> SafetyReport {
    let input = SafetyInput {
        geometry: g,
        structures,
        zones,
        probes,
        currents: &[],
        rules,
    };
    run_safety(&input, &mut SafetyCache::default())
}

fn ire_zone(c: [f64; 3], r: f64, h: f64) -> Zone {
    Zone::sphere("IRE zone", ZoneKind::IreThreshold, PatientPos::from(c), r, h)
}

/// The reported distance of structure `name` to zone 0.
fn dist(r: &SafetyReport, name: &str) -> ablaplan::safety::Distance {
    r.distances
        .iter()
        .find(|d| d.structure == name && d.zone_index == 0)
        .and_then(|d| d.distance)
        .unwrap_or_else(|| panic!("no distance for {name}: {:?}", r.distances))
}

fn check_distance(d: &ablaplan::safety::Distance, truth: f64, what: &str) -> f64 {
    let err = d.distance_mm - truth;
    assert!(
        err.abs() <= d.error_bound_mm + EPS,
        "{what}: reported {:.3} mm, true {truth:.3} mm, error {err:.3} > bound {:.3}",
        d.distance_mm,
        d.error_bound_mm
    );
    assert!(
        d.lower_mm <= truth + EPS,
        "{what}: lower bound {:.3} above the true {truth:.3}",
        d.lower_mm
    );
    err
}

#[test]
fn spheres_at_known_distances_on_an_anisotropic_grid() {
    let g = ct([0.7, 0.9, 2.5], 80.0);
    let rules = builtin_rules().unwrap();
    let (c, r_zone) = ([0.3, -0.4, 0.7], 9.0);
    let zone = ire_zone(c, r_zone, 0.5);
    let mut worst: f64 = 0.0;
    // Directions along each axis (the slice axis is the worst case) and oblique.
    let dirs = [
        Vector3::new(1.0, 0.0, 0.0),
        Vector3::new(0.0, -1.0, 0.0),
        Vector3::new(0.0, 0.0, 1.0),
        Vector3::new(1.0, 1.0, 1.0).normalize(),
        Vector3::new(-2.0, 0.5, -1.0).normalize(),
    ];
    for (n, dir) in dirs.iter().enumerate() {
        for gap in [0.8, 2.7, 6.3] {
            let r_s = 4.0;
            let centre = Vector3::from(c) + dir * (r_zone + gap + r_s);
            let name = format!("sphere {n} {gap}");
            let s = structure(&name, StructureKind::Nerve, sphere(centre.into(), r_s), &g);
            let rep = pass(&g, &[s], std::slice::from_ref(&zone), &[], &rules);
            let d = dist(&rep, &name);
            worst = worst.max(check_distance(&d, gap, &name).abs());
            assert_eq!(d.overlap_ml, 0.0, "{name}");
            // The caliper spans the centre distance between the two sample points.
            assert!(((d.to_lps - d.from_lps).norm() - d.centre_distance_mm).abs() < 1e-9);
        }
    }
    eprintln!("spheres: worst |error| {worst:.3} mm");
}

#[test]
fn planes_at_known_distances_including_between_slices() {
    // A half-space below a plane whose normal points to the zone; the plane sits at fractional
    // slice positions, so the mask's last slice is up to one slice below it.
    let g = ct([0.8, 0.8, 2.0], 70.0);
    let rules = builtin_rules().unwrap();
    let (c, r_zone) = ([0.0, 0.0, 0.0], 8.0);
    let zone = ire_zone(c, r_zone, 0.5);
    let mut worst: f64 = 0.0;
    let mut estimate_alone_would_miss = 0;
    let mut centre_distance_would_miss = 0;
    for normal in [
        Vector3::new(0.0, 0.0, 1.0),
        Vector3::new(1.0, 0.0, 0.0),
        Vector3::new(0.0, 1.0, 1.0).normalize(),
    ] {
        for gap in [0.3, 1.1, 1.9, 3.5, 5.25] {
            // Points p with (p − q)·(−normal) ≤ 0 lie on the far side of the plane from the zone.
            let q = PatientPos::from(-normal * (r_zone + gap));
            let name = format!("plane {normal:?} {gap}");
            let shape = Shape::HalfSpace {
                point_lps: q,
                normal,
                min_lps: PatientPos::new(-30.0, -30.0, -30.0),
                max_lps: PatientPos::new(30.0, 30.0, 30.0),
            };
            let s = structure(&name, StructureKind::Nerve, shape, &g);
            let rep = pass(&g, &[s], std::slice::from_ref(&zone), &[], &rules);
            let d = dist(&rep, &name);
            worst = worst.max(check_distance(&d, gap, &name).abs());
            if gap < 2.0 {
                assert!(
                    rep.findings.iter().any(|f| f.rule == "ire.nerve_near_zone"),
                    "{name}"
                );
                if d.distance_mm >= 2.0 {
                    estimate_alone_would_miss += 1;
                }
                if d.centre_distance_mm >= 2.0 {
                    centre_distance_would_miss += 1;
                }
            }
        }
    }
    // Planes between slices are where the best estimate alone can read above the limit while
    // the truth is below it: the rules compare the lower bound, so these still fire.
    eprintln!(
        "planes: worst |error| {worst:.3} mm; violations a rule on the estimate / on the raw centre distance \
         would miss: {estimate_alone_would_miss} / {centre_distance_would_miss}"
    );
    // The test can fail: a rule comparing the raw voxel-centre distance (what a plain EDT gives)
    // would miss some of these violations; the lower bound catches them all (asserted above).
    assert!(centre_distance_would_miss > 0);
}

#[test]
fn cylinders_at_known_distances() {
    let g = ct([0.75, 0.75, 1.5], 80.0);
    let rules = builtin_rules().unwrap();
    let zone = ire_zone([0.0; 3], 10.0, 0.5);
    let mut worst: f64 = 0.0;
    for (axis, offset_dir) in [
        (Vector3::new(0.0, 0.0, 1.0), Vector3::new(0.0, 1.0, 0.0)),
        (Vector3::new(1.0, 0.0, 0.0), Vector3::new(0.0, 0.0, 1.0)),
        (
            Vector3::new(1.0, 1.0, 0.0).normalize(),
            Vector3::new(1.0, -1.0, 1.0).normalize(),
        ),
    ] {
        for gap in [0.5, 1.7, 4.2] {
            let r_c = 2.0;
            let offset = offset_dir - axis * axis.dot(&offset_dir);
            let mid = offset.normalize() * (10.0 + gap + r_c);
            let name = format!("cyl {axis:?} {gap}");
            let shape = Shape::Cylinder {
                a_lps: PatientPos::from(mid - axis * 30.0),
                b_lps: PatientPos::from(mid + axis * 30.0),
                radius_mm: r_c,
            };
            let s = structure(&name, StructureKind::Nerve, shape, &g);
            let rep = pass(&g, &[s], std::slice::from_ref(&zone), &[], &rules);
            let d = dist(&rep, &name);
            worst = worst.max(check_distance(&d, gap, &name).abs());
            // A nerve closer than 2 mm fires the IRE nerve rule.
            if gap < 2.0 {
                assert!(
                    rep.findings
                        .iter()
                        .any(|f| f.rule == "ire.nerve_near_zone"
                            && f.structure.as_deref() == Some(name.as_str())),
                    "{name}: {:?}",
                    rep.findings
                );
                assert_eq!(rep.status, Light::Red);
            }
        }
    }
    eprintln!("cylinders: worst |error| {worst:.3} mm");
}

#[test]
fn oblique_grid_with_flipped_axes() {
    // A CT with flipped i and k axes (feet-first, radiological flip): same distances.
    let mut g = ct([0.7, 0.7, 3.0], 70.0);
    g.direction = Matrix3::from_diagonal(&Vector3::new(-1.0, 1.0, -1.0));
    // Keep the grid centred on the origin: voxel (0, 0, 0) moves to the L and S corner.
    let half = Vector3::new(
        0.5 * (g.dims[0] - 1) as f64 * g.spacing_mm[0],
        0.5 * (g.dims[1] - 1) as f64 * g.spacing_mm[1],
        0.5 * (g.dims[2] - 1) as f64 * g.spacing_mm[2],
    );
    g.origin_lps = PatientPos::from(-(g.direction * half));
    let rules = builtin_rules().unwrap();
    let zone = ire_zone([1.0, 2.0, -3.0], 8.0, 0.5);
    for gap in [1.0, 3.0] {
        let centre = [1.0 + 8.0 + gap + 3.5, 2.0, -3.0];
        let s = structure("s", StructureKind::Vessel, sphere(centre, 3.5), &g);
        let rep = pass(&g, &[s], std::slice::from_ref(&zone), &[], &rules);
        check_distance(&dist(&rep, "s"), gap, "flipped");
    }
}

/// Volume (mm³) of the lens where two balls (radii a, b, centres d apart) overlap.
fn lens_volume_mm3(a: f64, b: f64, d: f64) -> f64 {
    std::f64::consts::PI * (a + b - d).powi(2) * (d * d + 2.0 * d * (a + b) - 3.0 * (a - b).powi(2))
        / (12.0 * d)
}

#[test]
fn overlap_volume_and_depth() {
    let g = ct([0.6, 0.6, 1.2], 60.0);
    let rules = builtin_rules().unwrap();
    let (r_zone, r_s, d) = (10.0, 6.0, 12.0);
    let zone = ire_zone([0.0; 3], r_zone, 0.5);
    let s = structure("bowel", StructureKind::Bowel, sphere([d, 0.0, 0.0], r_s), &g);
    let rep = pass(&g, &[s], std::slice::from_ref(&zone), &[], &rules);
    let dd = dist(&rep, "bowel");
    let exact_ml = lens_volume_mm3(r_zone, r_s, d) / 1000.0;
    // Voxelised lens: the boundary layer of both shapes is uncertain by half a cell each; the
    // lens surface (≈ 2·π·r²·cap heights, about 300 mm²) times the two half cell diagonals
    // bounds the volume error.
    let area_mm2 = 2.0
        * std::f64::consts::PI
        * (r_zone * (r_zone - (d * d + r_zone * r_zone - r_s * r_s) / (2.0 * d))
            + r_s * (r_s - (d * d + r_s * r_s - r_zone * r_zone) / (2.0 * d)));
    let tol_ml = area_mm2 * dd.error_bound_mm / 1000.0;
    assert!(
        (dd.overlap_ml - exact_ml).abs() <= tol_ml,
        "overlap {:.4} mL vs exact {exact_ml:.4} (± {tol_ml:.4})",
        dd.overlap_ml
    );
    // Penetration depth: the structure reaches r_zone − (d − r_s) = 4 mm into the zone.
    let depth = r_zone - (d - r_s);
    check_distance(&dd, -depth, "overlap depth");
    // The IRE bowel rule fires (inside the zone).
    let f = rep
        .findings
        .iter()
        .find(|f| f.rule == "ire.bowel_inside_zone")
        .expect("bowel finding");
    assert_eq!(f.severity, Severity::Caution);
    assert!(
        f.overlap_ml.unwrap() > 0.0 && f.message.contains("inside"),
        "{}",
        f.message
    );
}

#[test]
fn margin_of_nested_spheres_and_of_a_target_poking_out() {
    let g = ct([0.7, 0.7, 2.0], 60.0);
    let rules = builtin_rules().unwrap();
    let r_zone = 12.0;
    let zone = ire_zone([0.0; 3], r_zone, 0.5);
    for (offset, r_t) in [(0.0, 6.0), (2.5, 5.0), (-1.7, 8.0), (5.0, 9.0), (8.0, 7.0)] {
        let name = format!("target {offset} {r_t}");
        let centre = Vector3::new(offset * 0.6, offset * 0.8, 0.0);
        let t = structure(&name, StructureKind::Target, sphere(centre.into(), r_t), &g);
        let rep = pass(&g, &[t], std::slice::from_ref(&zone), &[], &rules);
        let m = rep.margins.first().expect("margin report");
        let truth = r_zone - r_t - offset.abs();
        let got = m.min_margin_mm.expect("non-empty zone");
        assert!(
            (got - truth).abs() <= m.error_bound_mm + EPS,
            "{name}: margin {got:.3} vs {truth:.3} (bound {:.3})",
            m.error_bound_mm
        );
        assert!(m.min_margin_lower_mm.unwrap() <= truth + EPS, "{name}");
        // Distribution: every surface voxel's margin, the minimum equal to the reported one.
        let min = m
            .surface
            .iter()
            .map(|s| f64::from(s.margin_mm))
            .fold(f64::INFINITY, f64::min);
        assert!((min - got).abs() < 1e-5);
        let bins = m.histogram(1.0, -10.0, 20.0);
        assert_eq!(bins.iter().map(|b| b.count).sum::<usize>(), m.surface.len());
        let v = m.surface[m.surface.len() / 2].voxel;
        assert_eq!(
            m.margin_at_voxel([v[0] as usize, v[1] as usize, v[2] as usize]),
            Some(m.surface[m.surface.len() / 2].margin_mm)
        );
        if truth < 0.0 {
            assert!(got < 0.0, "{name}: the target sticks out, margin {got}");
            assert!(m.coverage < 1.0, "{name}");
            assert!(
                rep.findings.iter().any(|f| f.rule == "ire.zone_coverage"),
                "{name}"
            );
        } else {
            assert!(m.coverage > 0.999, "{name}: coverage {}", m.coverage);
        }
        if truth < 5.0 {
            assert!(rep.findings.iter().any(|f| f.rule == "ire.zone_margin"), "{name}");
        }
    }
}

#[test]
fn probe_path_through_a_vessel_reports_the_depth() {
    let g = ct([0.7, 0.7, 2.0], 100.0);
    let rules = builtin_rules().unwrap();
    // A vessel along L at P = 10, S = 0, radius 4; the probe descends along −P from P = 45.
    let vessel = Shape::Cylinder {
        a_lps: PatientPos::new(-40.0, 10.0, 0.0),
        b_lps: PatientPos::new(40.0, 10.0, 0.0),
        radius_mm: 4.0,
    };
    let v = structure("vessel", StructureKind::Vessel, vessel, &g);
    let through = Probe {
        model_id: "nanoknife_19g".into(),
        tip_lps: PatientPos::new(0.0, -10.0, 0.0),
        entry_lps: PatientPos::new(0.0, 45.0, 0.0),
        exposure_mm: 20.0,
        label: "1".into(),
    };
    let clear = Probe {
        tip_lps: PatientPos::new(0.0, -10.0, 20.0),
        entry_lps: PatientPos::new(0.0, 45.0, 20.0),
        label: "2".into(),
        ..through.clone()
    };
    let rep = pass(&g, &[v], &[], &[through, clear], &rules);
    let hits: Vec<_> = rep.paths.iter().filter(|p| p.probe == "1").collect();
    assert_eq!(hits.len(), 1, "{:?}", rep.paths);
    let h = hits[0];
    assert!(h.through);
    // The vessel spans P 6..14, i.e. 31..39 mm from the entry at P = 45; the stretch is widened
    // by the probe radius plus a voxel diagonal each side (the conservative reach).
    let reach = 0.535 + (0.7f64 * 0.7 + 0.7 * 0.7 + 4.0).sqrt();
    assert!(
        h.from_entry_mm[0] <= 31.0 + 1e-6 && h.from_entry_mm[0] >= 31.0 - reach - 0.5,
        "{h:?}"
    );
    assert!(
        h.from_entry_mm[1] >= 39.0 - 1e-6 && h.from_entry_mm[1] <= 39.0 + reach + 0.5,
        "{h:?}"
    );
    assert!(rep.paths.iter().all(|p| p.probe != "2"), "{:?}", rep.paths);
    let f = rep
        .findings
        .iter()
        .find(|f| f.rule == "path.through_structure")
        .expect("path finding");
    assert_eq!(f.probe.as_deref(), Some("1"));
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(rep.status, Light::Amber);
}

#[test]
fn current_rule_fires_above_48_a() {
    let g = ct([1.0; 3], 20.0);
    let rules = builtin_rules().unwrap();
    let zone = ire_zone([0.0; 3], 5.0, 1.0);
    let currents = [
        PairCurrent {
            label: "1–2".into(),
            current_a: 52.3,
            focus_lps: None,
        },
        PairCurrent {
            label: "1–3".into(),
            current_a: 40.0,
            focus_lps: None,
        },
    ];
    let input = SafetyInput {
        geometry: &g,
        structures: &[],
        zones: std::slice::from_ref(&zone),
        probes: &[],
        currents: &currents,
        rules: &rules,
    };
    let rep = run_safety(&input, &mut SafetyCache::default());
    let fired: Vec<_> = rep
        .findings
        .iter()
        .filter(|f| f.rule == "ire.current_limit")
        .collect();
    assert_eq!(fired.len(), 1);
    assert_eq!(fired[0].current_a, Some(52.3));
    assert_eq!(rep.status, Light::Red);
}

#[test]
fn cryo_rules_apply_to_cryo_zones_only() {
    let g = ct([0.8, 0.8, 2.0], 60.0);
    let rules = builtin_rules().unwrap();
    let nerve = structure(
        "nerve",
        StructureKind::Nerve,
        Shape::Cylinder {
            a_lps: PatientPos::new(0.0, 12.0, -20.0),
            b_lps: PatientPos::new(0.0, 12.0, 20.0),
            radius_mm: 1.5,
        },
        &g,
    );
    let target = structure("node", StructureKind::Target, sphere([0.0; 3], 5.0), &g);
    let iceball = Zone::sphere(
        "Iceball 0 °C",
        ZoneKind::CryoIsotherm { temp_c: 0.0 },
        PatientPos::origin(),
        10.0,
        0.5,
    );
    let lethal = Zone::sphere(
        "Lethal −40 °C",
        ZoneKind::CryoLethal { temp_c: -40.0 },
        PatientPos::origin(),
        7.0,
        0.5,
    );
    let rep = pass(&g, &[nerve, target], &[iceball, lethal], &[], &rules);
    let ids: Vec<&str> = rep.findings.iter().map(|f| f.rule.as_str()).collect();
    // Nerve 0.5 mm from the iceball: stop; within 10 mm of the target: dissection with a gain.
    assert!(ids.contains(&"cryo.iceball_near_critical"), "{ids:?}");
    let d = rep
        .findings
        .iter()
        .find(|f| f.rule == "cryo.protective_dissection")
        .expect("dissection");
    assert!(d.gain_mm.unwrap() >= 5.0 - 0.5 - 1e-6, "{d:?}");
    // Lethal isotherm 2 mm beyond the target: margin rule, not coverage.
    assert!(ids.contains(&"cryo.lethal_margin"), "{ids:?}");
    assert!(!ids.iter().any(|i| i.starts_with("ire.")), "{ids:?}");
    assert_eq!(rep.findings[0].severity, Severity::Stop, "sorted worst first");
}

#[test]
fn rules_asset_loads_and_every_rule_has_a_source() {
    let r = builtin_rules().unwrap();
    for id in [
        "cryo.iceball_near_critical",
        "cryo.protective_dissection",
        "cryo.lethal_margin",
        "ire.nerve_near_zone",
        "ire.bowel_inside_zone",
        "ire.vessel_inside_zone",
        "ire.zone_margin",
        "ire.current_limit",
        "path.through_structure",
    ] {
        let rule = r.get(id).unwrap_or_else(|| panic!("{id} missing"));
        assert!(
            rule.source.contains("REFERENCE.md") || rule.source.contains("issue 6"),
            "{id}"
        );
        for (_, q) in rule.check.limits() {
            assert!(!q.source.is_empty(), "{id}");
        }
    }
    // Serialisable: a rule set saved with a case loads back equal.
    let text = serde_json::to_string(&r).unwrap();
    assert_eq!(ablaplan::safety::rules::parse_rules(&text, "x").unwrap(), r);
}

/// The shapes of the property test.
#[derive(Clone, Debug)]
enum Placed {
    Sphere { r: f64 },
    Cylinder { r: f64, axis: Vector3<f64> },
    Plane,
}

fn placed() -> impl Strategy<Value = Placed> {
    prop_oneof![
        (1.8f64..6.0).prop_map(|r| Placed::Sphere { r }),
        (1.8f64..4.0, -1.0f64..1.0, -1.0f64..1.0, -1.0f64..1.0).prop_map(|(r, x, y, z)| Placed::Cylinder {
            r,
            axis: Vector3::new(x, y, z + 1e-3),
        }),
        Just(Placed::Plane),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    /// Random placements of spheres, cylinders and planes (nerves) around an IRE zone on random
    /// anisotropic grids: whenever the true distance is below the nerve rule's 2 mm, the rule
    /// fires; the reported distance is within its bound; the lower bound is never above the truth.
    #[test]
    fn no_violation_is_ever_missed(
        sx in 0.5f64..1.0, sy in 0.5f64..1.0, sz in 0.8f64..3.0,
        h in prop_oneof![Just(0.5f64), Just(1.0), Just(1.5)],
        r_zone in 6.0f64..12.0,
        zc in (-2.0f64..2.0, -2.0f64..2.0, -2.0f64..2.0),
        dir in (-1.0f64..1.0, -1.0f64..1.0, -1.0f64..1.0),
        gap in -1.5f64..4.0,
        shape in placed(),
    ) {
        let g = ct([sx, sy, sz], 2.0 * (r_zone + 20.0));
        let rules = builtin_rules().unwrap();
        let c = Vector3::new(zc.0, zc.1, zc.2);
        let zone = ire_zone(c.into(), r_zone, h);
        let Some(u) = Vector3::new(dir.0, dir.1, dir.2).try_normalize(1e-3) else { return Ok(()); };
        // The structure's shape is at least one CT voxel diagonal thick (the stated condition).
        let thick = (sx * sx + sy * sy + sz * sz).sqrt();
        let (shape, truth) = match shape {
            Placed::Sphere { r } => {
                let r = r.max(thick);
                (sphere((c + u * (r_zone + gap + r)).into(), r), gap)
            }
            Placed::Cylinder { r, axis } => {
                let r = r.max(thick);
                let axis = axis.normalize();
                let off = u - axis * axis.dot(&u);
                let Some(off) = off.try_normalize(1e-3) else { return Ok(()); };
                let mid = c + off * (r_zone + gap + r);
                (Shape::Cylinder {
                    a_lps: (mid - axis * 40.0).into(),
                    b_lps: (mid + axis * 40.0).into(),
                    radius_mm: r,
                }, gap)
            }
            Placed::Plane => {
                let q = c + u * (r_zone + gap);
                let lo = c - Vector3::repeat(r_zone + 18.0);
                let hi = c + Vector3::repeat(r_zone + 18.0);
                // Half-space on the far side of the plane (normal towards the zone centre).
                (Shape::HalfSpace { point_lps: q.into(), normal: -u, min_lps: lo.into(), max_lps: hi.into() }, gap)
            }
        };
        let s = structure("nerve", StructureKind::Nerve, shape, &g);
        prop_assume!(!s.mask().is_empty());
        let rep = pass(&g, &[s], std::slice::from_ref(&zone), &[], &rules);
        let fired = rep.findings.iter().any(|f| f.rule == "ire.nerve_near_zone");
        if truth < 2.0 {
            prop_assert!(fired, "true distance {truth:.3} mm < 2 mm but no finding: {:?}", rep.distances);
        }
        if let Some(d) = rep.distances.first().and_then(|d| d.distance) {
            prop_assert!(d.lower_mm <= truth + EPS, "lower {:.3} > true {truth:.3}", d.lower_mm);
            // For overlaps the estimate is a depth; the analytic depth of a sphere/plane/cylinder
            // into a ball is min over the shape, equal to −gap only for gaps > −(thickness).
            prop_assert!((d.distance_mm - truth).abs() <= d.error_bound_mm + EPS,
                "reported {:.3} vs true {truth:.3} (bound {:.3})", d.distance_mm, d.error_bound_mm);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    /// Random targets (spheres) inside or poking out of a spherical zone on random anisotropic
    /// grids: the margin is within its bound of the analytic margin `R − r − |offset|`, its lower
    /// bound never above it, and the margin / coverage rules fire whenever they must.
    #[test]
    fn margin_violations_are_never_missed(
        sx in 0.5f64..1.0, sy in 0.5f64..1.0, sz in 0.8f64..3.0,
        h in prop_oneof![Just(0.5f64), Just(1.0), Just(1.5)],
        r_zone in 8.0f64..14.0,
        r_t in 3.0f64..8.0,
        off in (-1.0f64..1.0, -1.0f64..1.0, -1.0f64..1.0),
        off_len in 0.0f64..8.0,
    ) {
        let g = ct([sx, sy, sz], 2.0 * (r_zone + 12.0));
        let rules = builtin_rules().unwrap();
        let zone = ire_zone([0.3, -0.2, 0.1], r_zone, h);
        let dir = Vector3::new(off.0, off.1, off.2).try_normalize(1e-3).unwrap_or_else(Vector3::x);
        let centre = Vector3::new(0.3, -0.2, 0.1) + dir * off_len;
        let t = structure("t", StructureKind::Target, sphere(centre.into(), r_t), &g);
        prop_assume!(!t.mask().is_empty());
        let rep = pass(&g, &[t], std::slice::from_ref(&zone), &[], &rules);
        let m = rep.margins.first().expect("margin");
        let truth = r_zone - r_t - off_len;
        let got = m.min_margin_mm.expect("zone not empty");
        prop_assert!((got - truth).abs() <= m.error_bound_mm + EPS,
            "margin {got:.3} vs {truth:.3} (bound {:.3})", m.error_bound_mm);
        prop_assert!(m.min_margin_lower_mm.unwrap() <= truth + EPS);
        let ids: Vec<&str> = rep.findings.iter().map(|f| f.rule.as_str()).collect();
        if truth < 5.0 {
            prop_assert!(ids.contains(&"ire.zone_margin"), "{truth}: {ids:?}");
        }
        if truth < 0.0 {
            prop_assert!(ids.contains(&"ire.zone_coverage"), "{truth}: {ids:?}");
        }
    }
}

/// A zone with an uncertainty band (issues 13, 14): the nerve rule measures the outer surface,
/// the margin the inner one, so both errors are conservative; each finding names its surface.
#[test]
fn distances_use_the_outer_band_surface_and_margins_the_inner_one() {
    use ablaplan::physics::band::Surface;
    let g = ct([0.8, 0.8, 1.0], 80.0);
    let rules = builtin_rules().unwrap();
    let c = [0.0, 0.0, 0.0];
    let band = |label: &str, r: f64, surface: Surface| Zone {
        surface,
        ..Zone::sphere(label, ZoneKind::IreThreshold, PatientPos::from(c), r, 0.5)
    };
    // Inner 10 mm, outer 16 mm. A nerve 13 mm from the centre (3 mm outside the inner surface,
    // inside the outer one); a target of 6 mm radius: 4 mm margin on the inner surface (below the
    // 5 mm goal), 10 mm on the outer one.
    let zones = [
        band("IRE zone (outer)", 16.0, Surface::Outer),
        band("IRE zone (inner)", 10.0, Surface::Inner),
    ];
    let nerve = structure(
        "nerve",
        StructureKind::Nerve,
        sphere([13.0 + 1.5, 0.0, 0.0], 1.5),
        &g,
    );
    let target = structure("node", StructureKind::Target, sphere(c, 6.0), &g);
    let rep = pass(&g, &[nerve, target], &zones, &[], &rules);
    let nerve_findings: Vec<_> = rep
        .findings
        .iter()
        .filter(|f| f.kind == Some(StructureKind::Nerve))
        .collect();
    assert!(
        !nerve_findings.is_empty(),
        "the nerve inside the outer surface fires"
    );
    assert!(
        nerve_findings
            .iter()
            .all(|f| f.zone.as_deref() == Some("IRE zone (outer)")),
        "{nerve_findings:?}"
    );
    assert!(
        rep.margins.iter().all(|m| m.zone == "IRE zone (inner)"),
        "margins only on the inner surface: {:?}",
        rep.margins.iter().map(|m| &m.zone).collect::<Vec<_>>()
    );
    let margin = rep
        .findings
        .iter()
        .find(|f| f.rule == "ire.zone_margin")
        .expect("4 mm on the inner surface is below the 5 mm goal");
    assert_eq!(margin.zone.as_deref(), Some("IRE zone (inner)"));
}
