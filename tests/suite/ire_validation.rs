//! Validation of the IRE plan model (`physics::ire::model`) against REFERENCE.md §2:
//! V1/V2 (two long parallel 19G electrodes, homogeneous σ, closed form), invariances, V3
//! (Ben-David porcine liver), the two-cylinder current, and the contract's helpers.
//!
//! Grids are reduced in these debug-profile tests to keep the suite fast; tolerances are written
//! next to each assertion with the reason.

use ablaplan::geometry::PatientPos;
use ablaplan::jobs::JobCtx;
use ablaplan::physics::ire::field::{RADIUS_19G_MM, two_cylinder_current_a, two_cylinder_mid_field_v_per_cm};
use ablaplan::physics::ire::model::{
    IreError, IreModelOptions, IreResult, TissueSource, ZoneCriterion, compute_ire, preview_ire,
};
use ablaplan::physics::ire::zone::peleg_fermi_threshold_v_per_cm;
use ablaplan::plan::ire::{ElectrodePair, IreSettings};
use ablaplan::plan::probe::Probe;
use ablaplan::plan::tissue_params::{TissueParams, builtin_tissue_params};
use ablaplan::render::reslice::sample_lattice_with;
use nalgebra::{Rotation3, Vector3};

fn params() -> TissueParams {
    builtin_tissue_params().unwrap()
}

/// Two parallel probes `d_mm` apart (centre to centre) along `u`, inserted along `axis`, the
/// exposed parts centred on `centre`.
fn pair_probes(
    centre: PatientPos,
    axis: Vector3<f64>,
    u: Vector3<f64>,
    d_mm: f64,
    exposure_mm: f64,
) -> Vec<Probe> {
    let axis = axis.normalize();
    let u = (u - axis * axis.dot(&u)).normalize();
    [-0.5, 0.5]
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let tip = centre + u * (s * d_mm) + axis * (exposure_mm / 2.0);
            Probe {
                model_id: "nanoknife_19g".into(),
                tip_lps: tip,
                entry_lps: tip - axis * (exposure_mm + 100.0),
                exposure_mm,
                label: (i + 1).to_string(),
            }
        })
        .collect()
}

/// The V3 pair (REFERENCE.md §2): 15 mm apart along x, 20 mm exposures along z, centred on the
/// origin.
fn v3_probes() -> Vec<Probe> {
    pair_probes(PatientPos::origin(), Vector3::z(), Vector3::x(), 15.0, 20.0)
}

/// A cube of liver `side_mm` wide centred on the origin.
fn liver(side_mm: f64) -> TissueSource<'static> {
    block("liver", PatientPos::origin(), [side_mm; 3])
}

fn settings_with(pairs: Vec<ElectrodePair>) -> IreSettings {
    IreSettings {
        pairs,
        ..IreSettings::default()
    }
}

fn one_pair(voltage_v: f64) -> IreSettings {
    IreSettings {
        // V2 at 25 mm (3750 V) is a numerical check above the generator's 3000 V, which the
        // settings otherwise refuse.
        above_generator_cap: (voltage_v > 3000.0).then(|| "REFERENCE.md §2 V2 numerical check".into()),
        ..settings_with(vec![ElectrodePair {
            a: 1,
            b: 0,
            voltage_v,
        }])
    }
}

fn block<'a>(class_id: &'a str, centre: PatientPos, size_mm: [f64; 3]) -> TissueSource<'a> {
    TissueSource::Phantom {
        class_id,
        centre_lps: centre,
        size_mm,
    }
}

fn run(
    probes: &[Probe],
    settings: &IreSettings,
    tissue: TissueSource<'_>,
    opts: &IreModelOptions,
) -> IreResult {
    compute_ire(probes, settings, tissue, &params(), opts, &JobCtx::default()).unwrap()
}

fn linear(spacing_mm: f64, margin_mm: f64) -> IreModelOptions {
    IreModelOptions {
        spacing_mm,
        margin_mm,
        nonlinear: false,
        linear_rel_tol: 1e-8,
        ..IreModelOptions::default()
    }
}

/// Midpoint field (per volt, 1/mm) of the two-cylinder problem inside a square zero-flux box
/// `[−w, w]²` (2-D), by the method of images: each wall mirrors the equivalent line charges
/// (±λ at ±b, b = √((D/2)² − a²)) with the same sign; the voltage is measured between the
/// electrode surfaces facing each other. Sums images up to `n` boxes away (the alternating dipole
/// images converge fast).
fn boxed_two_cylinder_mid_field_per_v(d: f64, a: f64, w: f64, n: i32) -> f64 {
    let b = ((d / 2.0).powi(2) - a * a).sqrt();
    let mut charges = Vec::new();
    for m in -n..=n {
        for k in -n..=n {
            for (x, q) in [(b, 1.0), (-b, -1.0)] {
                let xm = if m % 2 == 0 { x } else { -x };
                charges.push((2.0 * f64::from(m) * w + xm, 2.0 * f64::from(k) * w, q));
            }
        }
    }
    let phi = |px: f64| -> f64 {
        charges
            .iter()
            .map(|(x, y, q)| -q * ((px - x).powi(2) + y * y).sqrt().ln())
            .sum()
    };
    let ex: f64 = charges
        .iter()
        .map(|(x, y, q)| q * (0.0 - x) / (x * x + y * y))
        .sum();
    ex.abs() / (phi(d / 2.0 - a) - phi(-d / 2.0 + a))
}

/// V1/V2 set-up through the full model: the electrodes run through a thin block whose faces
/// normal to them are zero-flux, which mirrors the electrodes into infinitely long ones (the
/// closed form's assumption) while the solve stays 3-D. The lateral faces (±`half_mm`) are
/// zero-flux too: their images raise E_mid slightly (+0.33 % for D = 15 mm in a 160 mm box),
/// accounted for exactly by [`boxed_two_cylinder_mid_field_per_v`]. Returns (E_mid V/cm, the
/// boxed reference V/cm, nodes).
fn v1_model_mid_field(d_mm: f64, u_v: f64, h: f64, half_mm: f64) -> (f64, f64, usize) {
    let probes = pair_probes(PatientPos::origin(), Vector3::z(), Vector3::x(), d_mm, 400.0);
    let tissue = block(
        "soft_tissue",
        PatientPos::origin(),
        [2.0 * half_mm, 2.0 * half_mm, 8.0 * h],
    );
    let r = run(&probes, &one_pair(u_v), tissue, &linear(h, 2.0 * half_mm));
    let boxed = boxed_two_cylinder_mid_field_per_v(d_mm, RADIUS_19G_MM, half_mm, 30) * u_v * 10.0;
    (
        f64::from(r.max_e_at(&PatientPos::origin()).unwrap()),
        boxed,
        r.grid.len(),
    )
}

#[test]
fn v1_model_midpoint_field_converges_to_closed_form() {
    let (d, u) = (15.0, 2250.0);
    let exact = two_cylinder_mid_field_v_per_cm(d, RADIUS_19G_MM, u);
    let mut errs = Vec::new();
    for h in [1.0, 0.5, 0.35, 0.25] {
        let (e, boxed, nodes) = v1_model_mid_field(d, u, h, 80.0);
        let err = (e - exact) / exact;
        let err_box = (e - boxed) / boxed;
        println!(
            "V1 model h = {h} mm ({nodes} nodes): E_mid = {e:.1} V/cm; closed form {exact:.1} (error {:+.3} %); \
             same in the 160 mm zero-flux box {boxed:.1} (error {:+.3} %)",
            100.0 * err,
            100.0 * err_box
        );
        errs.push((h, err, err_box));
    }
    // h = 1.0 mm is coarser than the electrode (1.07 mm across): there the error depends on where
    // the electrode falls between nodes (physics_ire.rs), so it is only printed. From 0.5 mm on,
    // the error against the boxed reference (the exact limit of this set-up) stays within 0.5 %
    // and halving h shrinks it (0.5 → 0.25 mm; 0.35 mm sits at another sub-voxel position and
    // changes sign); against the infinite-domain closed form the finest grid is within 2 %
    // (REFERENCE.md §2 V1).
    for &(h, err, err_box) in &errs[1..] {
        assert!(
            err_box.abs() < 0.005,
            "h = {h}: {:.3} % against the boxed reference",
            100.0 * err_box
        );
        assert!(
            err.abs() < 0.02,
            "h = {h}: {:.3} % against the closed form",
            100.0 * err
        );
    }
    let (e05, e025) = (errs[1].2.abs(), errs[3].2.abs());
    assert!(
        e025 < e05,
        "error must shrink from 0.5 to 0.25 mm: {e05} → {e025}"
    );
}

#[test]
fn v2_midpoint_fields_at_1500_v_per_cm() {
    // REFERENCE.md §2 V2: 1,500 V/cm applied, D = 10/20/25 mm → 1030/829/781 V/cm.
    for (d, published) in [(10.0, 1030.0), (20.0, 829.0), (25.0, 781.0)] {
        let u = 1500.0 * d / 10.0;
        let exact = two_cylinder_mid_field_v_per_cm(d, RADIUS_19G_MM, u);
        assert!(
            (exact - published).abs() / published < 0.005,
            "closed form {exact} vs {published}"
        );
        // The lateral faces 4 D away: their image bias stays ≈ 0.5 % for every D.
        let (e, boxed, _) = v1_model_mid_field(d, u, 0.5, 4.0 * d);
        let err = (e - exact) / exact;
        println!(
            "V2 D = {d} mm, U = {u} V: E_mid = {e:.1} V/cm, closed form {exact:.1} (error {:+.2} %), boxed {boxed:.1} \
             (error {:+.2} %)",
            100.0 * err,
            100.0 * (e - boxed) / boxed
        );
        assert!(err.abs() < 0.02, "D = {d}: error {:.2} %", 100.0 * err);
        assert!(
            (e - boxed).abs() / boxed < 0.01,
            "D = {d}: error vs boxed {:.2} %",
            100.0 * (e - boxed) / boxed
        );
    }
}

#[test]
fn current_matches_two_cylinder_closed_form() {
    // Homogeneous, linear, two electrodes 10 mm apart in a large block. The closed form is the
    // 2-D current per length × exposure. Real electrodes also draw current from their ends: the
    // field fringes past the tips and the start of the insulation, adding roughly a fixed
    // "length" (a fraction of the spacing) to the exposure, so the excess falls like 1/L. At the
    // longest exposure below the model is within 10 %.
    let (d, u, sigma) = (10.0, 1500.0, 0.2);
    let mut excess = Vec::new();
    for exposure in [20.0, 40.0, 60.0] {
        let probes = pair_probes(PatientPos::origin(), Vector3::z(), Vector3::x(), d, exposure);
        let tissue = block("soft_tissue", PatientPos::origin(), [300.0; 3]);
        let r = run(&probes, &one_pair(u), tissue, &linear(0.5, 20.0));
        let closed = two_cylinder_current_a(d, RADIUS_19G_MM, u, sigma, exposure);
        let got = r.pairs[0].current_a;
        println!(
            "current, exposure {exposure} mm: model {got:.2} A, two-cylinder closed form {closed:.2} A, ratio {:.3}",
            got / closed
        );
        assert!(!r.pairs[0].over_limit);
        excess.push((exposure, got / closed - 1.0));
    }
    // Above the 2-D value, and less so for longer electrodes (end effects ∝ 1/L).
    assert!(excess.iter().all(|(_, x)| *x > 0.0), "{excess:?}");
    assert!(excess.windows(2).all(|w| w[1].1 < w[0].1), "{excess:?}");
    let (l, x) = excess[2];
    assert!(
        x < 0.10,
        "exposure {l} mm: {:.1} % above the closed form",
        100.0 * x
    );
    // 1/L scaling of the excess within a third.
    let scaled: Vec<f64> = excess.iter().map(|(l, x)| l * x).collect();
    assert!(
        scaled.iter().all(|s| (s / scaled[2] - 1.0).abs() < 0.35),
        "{scaled:?}"
    );
}

#[test]
fn polarity_swap_gives_same_field() {
    let probes = pair_probes(
        PatientPos::new(0.2, -0.1, 0.3),
        Vector3::z(),
        Vector3::x(),
        15.0,
        20.0,
    );
    let tissue = liver(200.0);
    let opts = IreModelOptions {
        spacing_mm: 1.0,
        margin_mm: 10.0,
        linear_rel_tol: 1e-10,
        ..IreModelOptions::default()
    };
    let fwd = settings_with(vec![ElectrodePair {
        a: 0,
        b: 1,
        voltage_v: 2250.0,
    }]);
    let rev = settings_with(vec![ElectrodePair {
        a: 1,
        b: 0,
        voltage_v: 2250.0,
    }]);
    let (r1, r2) = (
        run(&probes, &fwd, tissue, &opts),
        run(&probes, &rev, tissue, &opts),
    );
    let emax = r1.max_e_v_per_cm.iter().copied().fold(0.0f32, f32::max);
    let worst = r1
        .max_e_v_per_cm
        .iter()
        .zip(&r2.max_e_v_per_cm)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!("polarity swap: max |ΔE| = {worst} V/cm of {emax}");
    assert!(worst <= 1e-4 * emax, "max |ΔE| {worst} V/cm");
    assert!((r1.pairs[0].current_a - r2.pairs[0].current_a).abs() < 1e-4 * r1.pairs[0].current_a);
    assert_eq!(r1.zone, r2.zone);
}

/// Zone volume of a pair (10 mm apart, 10 mm exposures, 1,500 V, liver) centred on `centre`,
/// inserted along `axis`, the pair along `u`.
fn zone_volume(centre: PatientPos, axis: Vector3<f64>, u: Vector3<f64>, opts: &IreModelOptions) -> f64 {
    let probes = pair_probes(centre, axis, u, 10.0, 10.0);
    let tissue = block("liver", centre, [300.0; 3]);
    run(&probes, &one_pair(1500.0), tissue, opts).zone_volume_ml
}

#[test]
fn translation_and_rotation_keep_the_zone_volume() {
    // 0.5 mm resolves the electrode (1.07 mm across); on coarser grids the electrode's
    // representation depends on where it falls between nodes (see physics_ire.rs), which is a
    // discretisation error, not a loss of invariance. The margin is 2 D so that the zero-flux box
    // (larger for the oblique pair, whose bounding box is larger) moves the volume by < 1 %.
    let opts = IreModelOptions {
        spacing_mm: 0.5,
        margin_mm: 20.0,
        ..IreModelOptions::default()
    };
    let base = zone_volume(PatientPos::origin(), Vector3::z(), Vector3::x(), &opts);
    let rot = Rotation3::from_axis_angle(&Vector3::y_axis(), 35f64.to_radians())
        * Rotation3::from_axis_angle(&Vector3::z_axis(), 20f64.to_radians());
    // (what, centre, axis, pair direction, tolerance)
    let cases = [
        // The grid is built around the probes, so a translation moves it along: exact up to
        // round-off.
        (
            "translated by a non-grid offset",
            PatientPos::new(3.37, -12.21, 40.13),
            Vector3::z(),
            Vector3::x(),
            1e-3,
        ),
        // Maps the grid onto itself.
        (
            "rotated 90° (electrodes along x)",
            PatientPos::origin(),
            Vector3::x(),
            Vector3::y(),
            1e-3,
        ),
        // The electrodes cut the grid at new sub-voxel positions: grid tolerance (3.0 % at the
        // calibrated 415 V/cm, whose larger zone also feels the larger zero-flux box of the
        // oblique pair's grid more).
        (
            "oblique (35° and 20°)",
            PatientPos::new(0.21, 0.33, 0.1),
            rot * Vector3::z(),
            rot * Vector3::x(),
            0.035,
        ),
    ];
    println!("invariance: base zone {base:.3} mL at {} mm", opts.spacing_mm);
    for (what, c, axis, u, tol) in cases {
        let v = zone_volume(c, axis, u, &opts);
        let rel = (v - base) / base;
        println!("invariance: {what}: {v:.3} mL ({:+.2} %)", 100.0 * rel);
        assert!(rel.abs() < tol, "{what}: {v} vs {base} mL");
    }
}

#[test]
fn more_voltage_never_shrinks_the_zone() {
    let probes = v3_probes();
    let tissue = liver(300.0);
    let opts = IreModelOptions {
        spacing_mm: 1.0,
        margin_mm: 12.0,
        ..IreModelOptions::default()
    };
    let mut prev: Option<IreResult> = None;
    for u in [1500.0, 1900.0, 2250.0, 2700.0] {
        let r = run(&probes, &one_pair(u), tissue, &opts);
        println!(
            "voltage {u} V: zone {:.3} mL, current {:.1} A",
            r.zone_volume_ml, r.pairs[0].current_a
        );
        if let Some(p) = &prev {
            assert_eq!(p.grid, r.grid);
            assert!(r.zone_volume_ml >= p.zone_volume_ml);
            // Node by node: every node lethal at the lower voltage stays lethal.
            let lost = p.zone.iter().zip(&r.zone).filter(|(a, b)| **a && !**b).count();
            assert_eq!(lost, 0, "{lost} nodes left the zone at {u} V");
            assert!(r.pairs[0].current_a > p.pairs[0].current_a);
        }
        prev = Some(r);
    }
}

/// V3 geometry: two electrodes 15 mm apart along x, 20 mm exposure along z, 2,250 V.
/// Extents along the pair axis (x), perpendicular to the electrode plane (y), along the
/// electrodes (z).
fn v3(nonlinear: bool, spacing_mm: f64) -> ([f64; 3], IreResult) {
    let probes = v3_probes();
    let tissue = liver(300.0);
    // In vivo liver extends far beyond the zone; 30 mm of margin keeps the zero-flux box's effect
    // on the nonlinear zone below 1 % (15 mm: +6 %; 20 mm: +2.4 % in volume).
    let opts = IreModelOptions {
        spacing_mm,
        margin_mm: 30.0,
        nonlinear,
        ..IreModelOptions::default()
    };
    let r = run(&probes, &one_pair(2250.0), tissue, &opts);
    (r.zone_extents_mm([Vector3::x(), Vector3::y(), Vector3::z()]), r)
}

#[test]
fn v3_ben_david_porcine_liver() {
    // Liver class from assets/tissues_ire.json: Go-Smart σ0 0.08 S/m and 350/700 V/cm, with the
    // lethal threshold and σ1/σ0 calibrated on this experiment (ire_calibration.rs,
    // REFERENCE.md §7; V3 is the calibration set).
    let h = 0.5;
    let (ext, r) = v3(true, h);
    let (lin, rl) = v3(false, h);
    let axes = [Vector3::x(), Vector3::y(), Vector3::z()];
    let band = r.band.as_ref().expect("the full model carries a band");
    // Summary axes in the report's order; read back as (pair axis, perpendicular, along).
    let sum = band.summary([axes[2], axes[0], axes[1]]);
    let ext_of = |s: &ablaplan::physics::band::SurfaceSummary| {
        let e = s.extents_mm;
        [e.pair_axis, e.perpendicular, e.probe_axis]
    };
    let (inner, outer) = (ext_of(&sum.inner), ext_of(&sum.outer));
    println!(
        "V3 nonlinear ({h} mm): {:.1} × {:.1} × {:.1} mm (pair axis × perpendicular × along), {:.2} mL, \
         {:.1} A, {} nonlinear iterations, converged {}",
        ext[0],
        ext[1],
        ext[2],
        r.zone_volume_ml,
        r.pairs[0].current_a,
        r.pairs[0].nonlinear_iterations,
        r.pairs[0].converged
    );
    println!(
        "V3 band: inner {:.1} × {:.1} × {:.1} mm ({:.2} mL), outer {:.1} × {:.1} × {:.1} mm ({:.2} mL); {:?}",
        inner[0],
        inner[1],
        inner[2],
        sum.inner.volume_ml,
        outer[0],
        outer[1],
        outer[2],
        sum.outer.volume_ml,
        sum.parameters
            .iter()
            .map(|p| (&p.name, p.inner, p.nominal, p.outer))
            .collect::<Vec<_>>()
    );
    println!(
        "V3 linear σ0 ({h} mm): {:.1} × {:.1} × {:.1} mm, {:.2} mL, {:.1} A",
        lin[0], lin[1], lin[2], rl.zone_volume_ml, rl.pairs[0].current_a
    );
    println!("V3 published (Ben-David 2012): 30 ± 4 × 17 ± 4 × 30 ± 6 mm");
    assert!(r.pairs[0].converged);
    // Published: 30 ± 4 × 17 ± 4 × 30 ± 6 mm — the nominal zone within 1 SD on all three axes.
    // Before the calibration (550 V/cm, σ1/σ0 = 4) the pair axis was 22.5 mm: the zone was short
    // behind each electrode.
    let (measured, sd) = ([30.0, 17.0, 30.0], [4.0, 4.0, 6.0]);
    for ax in 0..3 {
        assert!(
            (ext[ax] - measured[ax]).abs() <= sd[ax],
            "axis {ax}: {:.1} mm against {} ± {}",
            ext[ax],
            measured[ax],
            sd[ax]
        );
        // The measured extents lie inside the band, and the band is no wider than ±1 SD.
        assert!(
            inner[ax] <= measured[ax] && measured[ax] <= outer[ax],
            "axis {ax}: measured {} outside the band {:.1}–{:.1} mm",
            measured[ax],
            inner[ax],
            outer[ax]
        );
        assert!(
            outer[ax] - inner[ax] <= 2.0 * sd[ax],
            "axis {ax}: band {:.1}–{:.1} mm wider than ±1 SD",
            inner[ax],
            outer[ax]
        );
        assert!(inner[ax] <= ext[ax] && ext[ax] <= outer[ax]);
    }
    // The band names its parameters with their ranges: the liver threshold and σ1/σ0.
    assert!(
        sum.parameters
            .iter()
            .any(|p| p.name.contains("threshold") && p.inner > p.outer)
    );
    assert!(
        sum.parameters
            .iter()
            .any(|p| p.name.contains("σ1/σ0") && p.inner < p.outer)
    );
    // The nonlinear σ grows the zone (REFERENCE.md §2: the constant-σ model under-predicts the
    // perpendicular extent).
    assert!(r.zone_volume_ml > rl.zone_volume_ml);
    assert!(
        ext[1] > lin[1],
        "perpendicular: nonlinear {} vs linear {}",
        ext[1],
        lin[1]
    );
    assert!(r.pairs[0].current_a > 1.5 * rl.pairs[0].current_a);
}

/// With σ1 = σ0 the nonlinear iteration has nothing to do: it must reproduce the linear model.
#[test]
fn nonlinear_iteration_without_electroporation_is_linear() {
    let mut p = params();
    for c in &mut p.classes {
        c.sigma1_s_per_m.value = c.sigma0_s_per_m.value;
    }
    let probes = v3_probes();
    let tissue = liver(300.0);
    let nl = IreModelOptions {
        spacing_mm: 0.5,
        margin_mm: 8.0,
        linear_rel_tol: 1e-9,
        ..IreModelOptions::default()
    };
    let lin = IreModelOptions {
        nonlinear: false,
        ..nl.clone()
    };
    let ctx = JobCtx::default();
    let a = compute_ire(&probes, &one_pair(2250.0), tissue, &p, &nl, &ctx).unwrap();
    let b = compute_ire(&probes, &one_pair(2250.0), tissue, &p, &lin, &ctx).unwrap();
    assert_eq!(a.pairs[0].nonlinear_iterations, 1);
    assert!(a.pairs[0].converged);
    let emax = b.max_e_v_per_cm.iter().copied().fold(0.0f32, f32::max);
    for (x, y) in a.max_e_v_per_cm.iter().zip(&b.max_e_v_per_cm) {
        assert!((x - y).abs() <= 1e-5 * emax, "{x} vs {y}");
    }
    assert!((a.pairs[0].current_a - b.pairs[0].current_a).abs() < 1e-6 * b.pairs[0].current_a);
}

#[test]
fn preview_is_labelled_and_close_to_the_linear_model() {
    let probes = v3_probes();
    let tissue = liver(300.0);
    let opts = IreModelOptions {
        nonlinear: false,
        spacing_mm: 0.75,
        ..IreModelOptions::default()
    };
    let full = run(&probes, &one_pair(2250.0), tissue, &opts);
    let pv = preview_ire(&probes, &one_pair(2250.0), tissue, &params(), &opts).unwrap();
    assert!(pv.preview && !full.preview);
    assert!(pv.description.contains("preview"));
    let axes = [Vector3::x(), Vector3::y(), Vector3::z()];
    let (ef, ep) = (full.zone_extents_mm(axes), pv.zone_extents_mm(axes));
    println!(
        "preview {:.2} mL {:?} vs linear model {:.2} mL {:?}; current {:.1} vs {:.1} A",
        pv.zone_volume_ml, ep, full.zone_volume_ml, ef, pv.pairs[0].current_a, full.pairs[0].current_a
    );
    // Same physics (linear, homogeneous) without the end effects and the boundary, sampled at
    // 1.5 mm: the volume within 25 %, the extents within 3 mm (two preview spacings) across the
    // electrodes. Along them 4 mm: the line sources end abruptly at the tips, and at the
    // calibrated 415 V/cm the zone reaches further past the tips, where the finite electrodes'
    // fringe field adds ≈ 3.75 mm the preview lacks.
    assert!((pv.zone_volume_ml - full.zone_volume_ml).abs() < 0.25 * full.zone_volume_ml);
    for ax in 0..3 {
        assert!(
            (ep[ax] - ef[ax]).abs() <= if ax == 2 { 4.0 } else { 3.0 },
            "axis {ax}: {} vs {}",
            ep[ax],
            ef[ax]
        );
    }
    assert!((pv.pairs[0].current_a - full.pairs[0].current_a).abs() < 0.25 * full.pairs[0].current_a);
}

#[test]
fn errors_cancel_progress_and_determinism() {
    let probes = v3_probes();
    let tissue = liver(200.0);
    let p = params();
    let opts = IreModelOptions {
        spacing_mm: 1.0,
        margin_mm: 8.0,
        ..IreModelOptions::default()
    };
    let ctx = JobCtx::default();
    // No pair: one probe.
    assert_eq!(
        compute_ire(&probes[..1], &IreSettings::default(), tissue, &p, &opts, &ctx).unwrap_err(),
        IreError::NoPairs
    );
    // Bad spacing, unknown class.
    let bad = IreModelOptions {
        spacing_mm: 0.0,
        ..opts.clone()
    };
    assert!(matches!(
        compute_ire(&probes, &IreSettings::default(), tissue, &p, &bad, &ctx),
        Err(IreError::Invalid(_))
    ));
    let unknown = block("marble", PatientPos::origin(), [200.0; 3]);
    assert!(matches!(
        compute_ire(&probes, &IreSettings::default(), unknown, &p, &opts, &ctx),
        Err(IreError::Invalid(_))
    ));
    // Cancelled before the first iteration.
    let cancelled = JobCtx::default();
    cancelled.cancel.cancel();
    assert_eq!(
        compute_ire(&probes, &IreSettings::default(), tissue, &p, &opts, &cancelled).unwrap_err(),
        IreError::Cancelled
    );
    // Default pairs (the one pair 15 mm apart at 1,500 V/cm → 2,250 V), progress, determinism.
    let a = compute_ire(&probes, &IreSettings::default(), tissue, &p, &opts, &ctx).unwrap();
    assert_eq!(a.pairs.len(), 1);
    assert_eq!(a.pairs[0].voltage_v, 2250.0);
    assert!((a.pairs[0].spacing_mm - 15.0).abs() < 1e-9);
    assert_eq!(ctx.progress.fraction(), 1.0);
    assert!(
        ctx.progress.message().starts_with("pair 1/1"),
        "{}",
        ctx.progress.message()
    );
    let b = compute_ire(
        &probes,
        &IreSettings::default(),
        tissue,
        &p,
        &opts,
        &JobCtx::default(),
    )
    .unwrap();
    assert_eq!(a.max_e_v_per_cm, b.max_e_v_per_cm);
    assert_eq!(a.pairs, b.pairs);
    assert!(a.description.contains("nonlinear"));
}

#[test]
fn zone_criteria_and_sampling_helpers() {
    let probes = v3_probes();
    let tissue = liver(200.0);
    let p = params();
    let base = IreModelOptions {
        spacing_mm: 1.0,
        margin_mm: 10.0,
        nonlinear: false,
        ..IreModelOptions::default()
    };
    let tissue_thr = run(&probes, &one_pair(2250.0), tissue, &base);
    // Liver threshold from the assets.
    let liver = p.class("liver").unwrap().lethal_threshold_v_per_cm.value as f32;
    let inside = tissue_thr.grid.len() / 2;
    assert_eq!(tissue_thr.threshold_v_per_cm[inside], liver);
    // Fixed threshold equal to the liver value gives the same zone.
    let fixed = IreModelOptions {
        zone: ZoneCriterion::Fixed {
            threshold_v_per_cm: f64::from(liver),
        },
        ..base.clone()
    };
    assert_eq!(
        run(&probes, &one_pair(2250.0), tissue, &fixed).zone,
        tissue_thr.zone
    );
    // Peleg–Fermi at 70 pulses: Ec(70) ≈ 489 V/cm (REFERENCE.md §2); S < 10 % adds A·ln 9.
    let t = peleg_fermi_threshold_v_per_cm(&p, 70, 0.5);
    assert!((t - 489.0).abs() < 1.0, "{t}");
    let pf = IreModelOptions {
        zone: ZoneCriterion::PelegFermi { max_survival: 0.1 },
        ..base.clone()
    };
    let rp = run(&probes, &one_pair(2250.0), tissue, &pf);
    let expect = peleg_fermi_threshold_v_per_cm(&p, 70, 0.1) as f32;
    assert!((rp.threshold_v_per_cm[inside] - expect).abs() < 1e-3);
    for (z, e) in rp.zone.iter().zip(&rp.max_e_v_per_cm) {
        assert_eq!(*z, *e >= expect);
    }
    // Sampling: a plane through grid nodes reproduces node values; profile endpoints; in_zone.
    let r = &tissue_thr;
    let g = &r.grid;
    let origin = g.lps(0, 0, g.dims[2] / 2);
    let (du, dv) = (Vector3::x() * g.spacing_mm, Vector3::y() * g.spacing_mm);
    let plane_px = [g.dims[0], g.dims[1]];
    let plane = sample_lattice_with(&origin, &du, &dv, plane_px, |p| r.max_e_at(&p).unwrap_or(0.0));
    for j in (0..g.dims[1]).step_by(7) {
        for i in (0..g.dims[0]).step_by(5) {
            let node = r.max_e_v_per_cm[g.index(i, j, g.dims[2] / 2)];
            assert!((plane[j * g.dims[0] + i] - node).abs() <= 1e-3 * node.max(1.0));
        }
    }
    let zp = sample_lattice_with(&origin, &du, &dv, plane_px, |p| r.in_zone(&p));
    assert_eq!(zp.iter().filter(|z| **z).count(), {
        let k = g.dims[2] / 2;
        (0..g.dims[1])
            .flat_map(|j| (0..g.dims[0]).map(move |i| (i, j)))
            .filter(|&(i, j)| r.zone[g.index(i, j, k)])
            .count()
    });
    let far = PatientPos::new(1000.0, 0.0, 0.0);
    assert_eq!(r.max_e_at(&far), None);
    assert!(!r.in_zone(&far));
    assert!(r.in_zone(&PatientPos::origin()));
    let prof = r.profile(
        &PatientPos::new(-7.5, 0.0, 0.0),
        &PatientPos::new(7.5, 0.0, 0.0),
        31,
    );
    assert_eq!(prof.len(), 31);
    assert!((prof[30].0 - 15.0).abs() < 1e-9);
    // Symmetric pair: the profile is symmetric about the midpoint (within interpolation).
    for i in 0..15 {
        let (a, b) = (prof[i].1, prof[30 - i].1);
        assert!((a - b).abs() <= 0.02 * a.max(b), "{i}: {a} vs {b}");
    }
}

/// V3 under grid refinement and the zone criteria, printed (heavy in the debug profile: run with
/// `cargo test --release --test suite v3_series -- --ignored --nocapture`).
#[test]
#[ignore]
fn v3_series_release() {
    for h in [1.0, 0.75, 0.5, 0.35, 0.25] {
        let (ext, r) = v3(true, h);
        let (lin, rl) = v3(false, h);
        println!(
            "V3 h = {h} mm: nonlinear {:.1} × {:.1} × {:.1} mm, {:.2} mL, {:.1} A, {:.2} s; linear {:.1} × {:.1} × {:.1} mm, \
             {:.2} mL, {:.1} A",
            ext[0],
            ext[1],
            ext[2],
            r.zone_volume_ml,
            r.pairs[0].current_a,
            r.elapsed_s,
            lin[0],
            lin[1],
            lin[2],
            rl.zone_volume_ml,
            rl.pairs[0].current_a
        );
    }
    let probes = v3_probes();
    let tissue = liver(300.0);
    for zone in [
        ZoneCriterion::Fixed {
            threshold_v_per_cm: 637.0,
        },
        ZoneCriterion::Fixed {
            threshold_v_per_cm: 500.0,
        },
        ZoneCriterion::PelegFermi { max_survival: 0.1 },
    ] {
        for nonlinear in [true, false] {
            let opts = IreModelOptions {
                spacing_mm: 0.5,
                nonlinear,
                zone: zone.clone(),
                ..IreModelOptions::default()
            };
            let r = run(&probes, &one_pair(2250.0), tissue, &opts);
            let e = r.zone_extents_mm([Vector3::x(), Vector3::y(), Vector3::z()]);
            println!(
                "V3 {}: {:.1} × {:.1} × {:.1} mm, {:.2} mL",
                r.description, e[0], e[1], e[2], r.zone_volume_ml
            );
        }
    }
}
