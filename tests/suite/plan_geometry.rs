//! Probes, parallel-array templates, live geometry checks and IRE pair settings.

use ablaplan::geometry::PatientPos;
use ablaplan::plan::checks::{FindingKind, PlacementLimits, Severity, check_probes, segment_distance};
use ablaplan::plan::ire::{IreSettings, default_pairs, voltage_for_spacing};
use ablaplan::plan::probe::{ArrayTemplate, Probe, ProbeError, parallel_array};
use nalgebra::{Point3, Rotation3, Vector3};

fn p(x: f64, y: f64, z: f64) -> PatientPos {
    Point3::new(x, y, z)
}

/// A probe inserted along −z (entry above the tip), tip at (x, y, z).
fn probe_at(x: f64, y: f64, z: f64, label: &str) -> Probe {
    Probe {
        model_id: "nanoknife_19g".into(),
        tip_lps: p(x, y, z),
        entry_lps: p(x, y, z + 100.0),
        exposure_mm: 20.0,
        label: label.into(),
    }
}

/// A probe at (x, 0) tilted by `deg` about the y axis, pivoting around the exposure midpoint.
fn tilted(x: f64, deg: f64, label: &str) -> Probe {
    let r = Rotation3::from_axis_angle(&Vector3::y_axis(), deg.to_radians());
    let mid = p(x, 0.0, 10.0);
    let tip = mid + r * Vector3::new(0.0, 0.0, -10.0);
    let entry = mid + r * Vector3::new(0.0, 0.0, 90.0);
    Probe {
        model_id: "nanoknife_19g".into(),
        tip_lps: tip,
        entry_lps: entry,
        exposure_mm: 20.0,
        label: label.into(),
    }
}

#[test]
fn probe_segments() -> Result<(), ProbeError> {
    let pr = probe_at(1.0, 2.0, 3.0, "1");
    let axis = pr.axis()?;
    assert!((axis - Vector3::new(0.0, 0.0, -1.0)).norm() < 1e-12);
    let e = pr.exposed_segment()?;
    assert_eq!(e.start, p(1.0, 2.0, 3.0));
    assert!((e.end - p(1.0, 2.0, 23.0)).norm() < 1e-12);
    let s = pr.shaft_segment()?;
    assert_eq!(s.start, e.end);
    assert_eq!(s.end, p(1.0, 2.0, 103.0));
    let mut zero = pr.clone();
    zero.entry_lps = zero.tip_lps;
    assert!(matches!(zero.axis(), Err(ProbeError::ZeroLength { .. })));
    let json = serde_json::to_string(&pr).map_err(|_| ProbeError::ZeroLength { label: "json".into() })?;
    let back: Probe =
        serde_json::from_str(&json).map_err(|_| ProbeError::ZeroLength { label: "json".into() })?;
    assert_eq!(back, pr);
    Ok(())
}

#[test]
fn segment_distance_matches_analytic() {
    // Parallel, offset by 7 along x, overlapping along z.
    let (d, _, _) = segment_distance(&p(0., 0., 0.), &p(0., 0., 10.), &p(7., 0., 5.), &p(7., 0., 20.));
    assert!((d - 7.0).abs() < 1e-12, "{d}");
    // Parallel, not overlapping: gap of 3 along z → √(7² + 3²).
    let (d, _, _) = segment_distance(&p(0., 0., 0.), &p(0., 0., 10.), &p(7., 0., 13.), &p(7., 0., 20.));
    assert!((d - 58f64.sqrt()).abs() < 1e-12, "{d}");
    // Skew: x-axis segment at z = 0, y-direction segment at z = 4 crossing above → 4.
    let (d, c1, c2) = segment_distance(&p(-5., 0., 0.), &p(5., 0., 0.), &p(2., -5., 4.), &p(2., 5., 4.));
    assert!((d - 4.0).abs() < 1e-12, "{d}");
    assert!((c1 - p(2., 0., 0.)).norm() < 1e-12 && (c2 - p(2., 0., 4.)).norm() < 1e-12);
    // Skew with the closest points at the ends: clamp → distance from endpoint.
    let (d, _, _) = segment_distance(&p(0., 0., 0.), &p(1., 0., 0.), &p(3., -1., 2.), &p(3., 1., 2.));
    assert!((d - 8f64.sqrt()).abs() < 1e-12, "{d}");
    // Intersecting.
    let (d, _, _) = segment_distance(&p(-1., -1., 0.), &p(1., 1., 0.), &p(-1., 1., 0.), &p(1., -1., 0.));
    assert!(d.abs() < 1e-12, "{d}");
    // Degenerate (points).
    let (d, _, _) = segment_distance(&p(0., 0., 0.), &p(0., 0., 0.), &p(3., 4., 0.), &p(3., 4., 0.));
    assert!((d - 5.0).abs() < 1e-12);
}

fn template(n: usize, s: f64) -> ArrayTemplate {
    ArrayTemplate::centred(
        "nanoknife_19g",
        n,
        s,
        p(10.0, -20.0, 30.0),
        Vector3::new(0.3, -0.2, -1.0),
        Vector3::new(1.0, 0.5, 0.0),
        20.0,
        120.0,
    )
}

#[test]
fn templates_have_the_requested_spacing_and_centre() -> Result<(), ProbeError> {
    for n in 2..=6 {
        for s in [10.0, 15.0, 17.5, 25.0] {
            let t = template(n, s);
            let probes = parallel_array(&t)?;
            assert_eq!(probes.len(), n);
            let axis = t.axis.normalize();
            let mut nearest = vec![f64::INFINITY; n];
            let mut centroid = Vector3::zeros();
            for (i, a) in probes.iter().enumerate() {
                assert!((a.axis()? - axis).norm() < 1e-12);
                assert!((a.length_mm() - 120.0).abs() < 1e-9);
                assert_eq!(a.label, (i + 1).to_string());
                centroid += a.exposed_segment()?.midpoint().coords / n as f64;
                for (j, b) in probes.iter().enumerate() {
                    if i != j {
                        let d = (a.tip_lps - b.tip_lps).norm();
                        assert!(d >= s - 1e-9, "n={n} s={s}: {d}");
                        nearest[i] = nearest[i].min(d);
                    }
                }
                // Tips lie in one plane perpendicular to the axis.
                assert!(((a.tip_lps - probes[0].tip_lps).dot(&axis)).abs() < 1e-9);
            }
            for d in nearest {
                assert!((d - s).abs() < 1e-9, "n={n} s={s}: nearest {d}");
            }
            assert!((centroid - t.centre_lps.coords).norm() < 1e-9, "n={n}");
        }
    }
    assert!(matches!(
        parallel_array(&template(7, 15.0)),
        Err(ProbeError::ArrayCount { n: 7 })
    ));
    assert!(matches!(
        parallel_array(&template(4, 9.0)),
        Err(ProbeError::ArraySpacing { .. })
    ));
    let mut bad = template(4, 15.0);
    bad.in_plane = bad.axis * 2.0;
    assert!(matches!(
        parallel_array(&bad),
        Err(ProbeError::ArrayDirection { .. })
    ));
    Ok(())
}

fn kinds(probes: &[Probe]) -> Vec<(FindingKind, Severity)> {
    check_probes(probes, &PlacementLimits::default())
        .findings
        .iter()
        .map(|f| (FindingKind::of(f).expect("a placement finding"), f.severity))
        .collect()
}

#[test]
fn spacing_checks_fire_at_the_limits() {
    let close = [probe_at(0.0, 0.0, 0.0, "1"), probe_at(9.9, 0.0, 0.0, "2")];
    assert_eq!(
        kinds(&close),
        vec![(FindingKind::SpacingTooSmall, Severity::Warning)]
    );
    let ok = [probe_at(0.0, 0.0, 0.0, "1"), probe_at(10.1, 0.0, 0.0, "2")];
    assert!(kinds(&ok).is_empty(), "{:?}", kinds(&ok));
    let ok = [probe_at(0.0, 0.0, 0.0, "1"), probe_at(24.9, 0.0, 0.0, "2")];
    assert!(kinds(&ok).is_empty());
    let far = [probe_at(0.0, 0.0, 0.0, "1"), probe_at(25.1, 0.0, 0.0, "2")];
    assert_eq!(
        kinds(&far),
        vec![
            (FindingKind::SpacingTooLarge, Severity::Warning),
            (FindingKind::SpacingTooLarge, Severity::Warning)
        ]
    );
    // A 2×3 array at 15 mm: far pairs (up to 33.5 mm) are normal, no finding.
    let Ok(six) = parallel_array(&template(6, 15.0)) else {
        panic!("template");
    };
    let r = check_probes(&six, &PlacementLimits::default());
    assert_eq!(r.pairs.len(), 15);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
}

#[test]
fn cryo_limits_are_tighter() {
    let pair = [probe_at(0.0, 0.0, 0.0, "1"), probe_at(22.0, 0.0, 0.0, "2")];
    assert!(
        check_probes(&pair, &PlacementLimits::default())
            .findings
            .is_empty()
    );
    let r = check_probes(&pair, &PlacementLimits::cryo());
    assert_eq!(r.findings.len(), 2);
    assert!(
        r.findings
            .iter()
            .all(|f| FindingKind::of(f) == Some(FindingKind::SpacingTooLarge))
    );
    assert!(r.findings.iter().all(|f| f.source.contains("Shah 2016")));
}

#[test]
fn angle_checks_fire_at_the_limits() {
    let pair = |deg: f64| [tilted(0.0, 0.0, "1"), tilted(15.0, deg, "2")];
    let r = check_probes(&pair(5.1), &PlacementLimits::default());
    assert!((r.pairs[0].angle_deg - 5.1).abs() < 1e-9);
    assert_eq!(kinds(&pair(4.9)), vec![]);
    assert_eq!(
        kinds(&pair(5.1)),
        vec![(FindingKind::NotParallel, Severity::Caution)]
    );
    assert_eq!(
        kinds(&pair(9.9)),
        vec![(FindingKind::NotParallel, Severity::Caution)]
    );
    assert_eq!(
        kinds(&pair(10.1)),
        vec![(FindingKind::NotParallel, Severity::Warning)]
    );
    assert_eq!(
        kinds(&pair(-10.1)),
        vec![(FindingKind::NotParallel, Severity::Warning)]
    );
}

#[test]
fn exposure_overlap() {
    // Second probe 15 mm deeper: exposures [0, 20] and [−15, 5] along z overlap by 5 mm.
    let a = probe_at(0.0, 0.0, 0.0, "1");
    let b = probe_at(15.0, 0.0, -15.0, "2");
    let r = check_probes(&[a.clone(), b], &PlacementLimits::default());
    assert!((r.pairs[0].exposure_overlap_mm - 5.0).abs() < 1e-9);
    assert!((r.pairs[0].tip_distance_mm - 450f64.sqrt()).abs() < 1e-9);
    assert!((r.pairs[0].shaft_distance_mm - 15.0).abs() < 1e-9);
    assert!(r.findings.is_empty());
    // 25 mm deeper: no overlap → warning.
    let c = probe_at(15.0, 0.0, -25.0, "2");
    assert_eq!(
        kinds(&[a, c]),
        vec![(FindingKind::ExposuresDoNotOverlap, Severity::Warning)]
    );
}

#[test]
fn invalid_probe_is_a_finding_not_a_panic() {
    let mut bad = probe_at(0.0, 0.0, 0.0, "2");
    bad.entry_lps = bad.tip_lps;
    let r = check_probes(&[probe_at(15.0, 0.0, 0.0, "1"), bad], &PlacementLimits::default());
    assert_eq!(r.pairs.len(), 0);
    assert_eq!(r.findings.len(), 1);
    assert_eq!(FindingKind::of(&r.findings[0]), Some(FindingKind::InvalidProbe));
    assert!(r.findings[0].message.contains("\"2\""));
}

#[test]
fn voltages() {
    assert_eq!(voltage_for_spacing(15.0, 1500.0, 3000.0), 2250.0);
    assert_eq!(voltage_for_spacing(25.0, 1500.0, 3000.0), 3000.0); // 3750 capped
    assert_eq!(voltage_for_spacing(10.0, 1500.0, 3000.0), 1500.0);
    assert_eq!(voltage_for_spacing(17.3, 1500.0, 3000.0), 2600.0); // 2595 → 2600
    assert_eq!(voltage_for_spacing(17.2, 1500.0, 3000.0), 2580.0);
    assert_eq!(voltage_for_spacing(15.0, 1000.0, 3000.0), 1500.0);
}

#[test]
fn default_pairs_of_a_square_include_the_diagonals() -> Result<(), ProbeError> {
    let probes = parallel_array(&template(4, 15.0))?;
    let s = IreSettings::default();
    assert_eq!((s.pulses, s.pulse_width_us, s.ratio_v_per_cm), (70, 70.0, 1500.0));
    let pairs = default_pairs(&probes, &s);
    assert_eq!(pairs.len(), 6);
    let sides: Vec<_> = pairs.iter().filter(|p| p.voltage_v == 2250.0).collect();
    assert_eq!(sides.len(), 4);
    // Diagonal 15√2 = 21.21 mm → 3181.98 V → capped at 3000 V.
    let diags: Vec<_> = pairs.iter().filter(|p| p.voltage_v == 3000.0).collect();
    assert_eq!(diags.len(), 2);
    assert!(diags.iter().all(|p| (p.a, p.b) == (0, 2) || (p.a, p.b) == (1, 3)));
    assert!(s.validate(probes.len()).is_ok());

    // A square of 20 mm: diagonals 28.3 mm are not pulsed.
    let pairs = default_pairs(&parallel_array(&template(4, 20.0))?, &s);
    assert_eq!(pairs.len(), 4);
    assert!(pairs.iter().all(|p| p.voltage_v == 3000.0));

    // Pairs with a bad index are rejected.
    let mut bad = s.clone();
    bad.pairs = vec![ablaplan::plan::ire::ElectrodePair {
        a: 0,
        b: 4,
        voltage_v: 2000.0,
    }];
    assert!(bad.validate(4).is_err());
    Ok(())
}
