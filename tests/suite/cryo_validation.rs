//! Validation of the cryo bioheat model against analytic solutions and published cases
//! (`../shared/REFERENCE.md` §3): C1 Neumann's solution of the one-dimensional Stefan problem,
//! the energy balance on a closed block, C2 Littrup 2009 (1–4 probes), the vessel heat sink, and
//! convergence in space and time. Tolerances are written next to each assertion with why.

use ablaplan::geometry::PatientPos;
use ablaplan::jobs::JobCtx;
use ablaplan::physics::cryo::calibrate::{CaseSizes, isotherm_reach_mm};
use ablaplan::physics::cryo::model::{CryoAssets, CryoSettings, compute_cryo};
use ablaplan::physics::cryo::solver::{self, Face, ThermalProblem, TimeScheme, TimelinePiece};
use ablaplan::physics::cryo::tissue::{CryoTissueSource, Material};
use ablaplan::physics::grid::ComputeGrid;
use ablaplan::plan::probe::Probe;
use ablaplan::plan::protocol::CryoProtocol;
use nalgebra::Vector3;

// ---------------------------------------------------------------------------------------------
// C1: Neumann's two-phase solution
// ---------------------------------------------------------------------------------------------

/// erf with |error| < 1.2e-7 (Numerical Recipes' erfc Chebyshev fit), enough for a 2 % test.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let ans = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398
                                    + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    if x >= 0.0 { ans } else { 2.0 - ans }
}

fn erf(x: f64) -> f64 {
    1.0 - erfc(x)
}

/// Water / ice with a narrow 0.5 °C band centred on 0 °C (the sharp-front problem of Neumann's
/// solution; the band is handled by measuring the front at its middle).
fn water() -> Material {
    let rho = 1000.0;
    Material {
        cs: rho * 2050.0,
        cl: rho * 4180.0,
        latent: rho * 334_000.0,
        ts_c: -0.25,
        tl_c: 0.25,
        ks: 2.2,
        kl: 0.6,
        // Neumann's solution has a constant k: the analytic check keeps the ice's 1/T law off.
        ka: 0.0,
        perfusion_w_per_m3_k: 0.0,
        metabolism_w_per_m3: 0.0,
        insulator: false,
    }
}

const T_WALL_C: f64 = -50.0;
const T_INIT_C: f64 = 37.0;
const T_MELT_C: f64 = 0.0;
const C1_TIME_S: f64 = 600.0;

/// Neumann's front X(t) = 2 λ √(α_s t) (m). Stefan condition at the front:
/// k_s (T_m − T_w) e^{−λ²} / (erf λ √(π α_s)) − k_l (T_i − T_m) e^{−λ²ν²} / (erfc(λν) √(π α_l))
/// = ρ L λ √α_s, with ν = √(α_s/α_l) (solid T_w + (T_m − T_w) erf(x/2√(α_s t))/erf λ, liquid
/// T_i − (T_i − T_m) erfc(x/2√(α_l t))/erfc(λν); Carslaw & Jaeger §11.2). ρ is the same in both
/// phases, as in the model.
fn neumann_front_m(m: &Material, time_s: f64) -> f64 {
    let (as_, al) = (m.ks / m.cs, m.kl / m.cl);
    let nu = (as_ / al).sqrt();
    let pi = std::f64::consts::PI;
    let f = |l: f64| {
        m.ks * (T_MELT_C - T_WALL_C) * (-l * l).exp() / (erf(l) * (pi * as_).sqrt())
            - m.kl * (T_INIT_C - T_MELT_C) * (-l * l * nu * nu).exp() / (erfc(l * nu) * (pi * al).sqrt())
            - m.latent * l * as_.sqrt()
    };
    let (mut lo, mut hi) = (1e-6, 5.0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid) > 0.0 { lo = mid } else { hi = mid }
    }
    2.0 * 0.5 * (lo + hi) * (as_ * time_s).sqrt()
}

/// The 1-D slab: nodes at x = (i + 1) h from the wall (the −x ghost layer is the wall, held at
/// T_w); the far end held at T_i; the other faces adiabatic. Returns the front position (m) where
/// the temperature crosses T_m, interpolated between nodes.
fn stefan_front_m(h_mm: f64, scheme: TimeScheme) -> f64 {
    let length_mm = 80.0;
    let n = (length_mm / h_mm).round() as usize;
    let grid = ComputeGrid {
        origin_lps: PatientPos::new(h_mm, 0.0, 0.0),
        spacing_mm: h_mm,
        dims: [n, 1, 1],
    };
    let problem = ThermalProblem {
        grid,
        materials: vec![water()],
        classes: vec![0; n],
        initial_temperature_c: T_INIT_C,
        held: Vec::new(),
        held_temperature_c: T_INIT_C,
        arterial_temperature_c: T_INIT_C,
        faces: [
            Face::Temperature(T_WALL_C),
            Face::Temperature(T_INIT_C),
            Face::Adiabatic,
            Face::Adiabatic,
            Face::Adiabatic,
            Face::Adiabatic,
        ],
        probes: Vec::new(),
        timeline: vec![TimelinePiece {
            start_s: 0.0,
            end_s: C1_TIME_S,
            boundary: Vec::new(),
        }],
        snapshot_times_s: vec![C1_TIME_S],
        scheme,
        warnings: Vec::new(),
    };
    let out = solver::run(&problem, &|| false, &|_| {}).expect("1-D run");
    // The front from the frozen amount (enthalpy methods: the temperature plateaus at the front
    // node while it takes up its latent heat, so a T = T_m crossing jumps cell by cell; the
    // frozen fraction moves smoothly). Node i stands for [(i + ½)h, (i + 3⁄2)h]; the ghost wall
    // cell [−½h, ½h] is solid.
    let m = water();
    let frozen: f64 = out
        .final_temperature_c
        .iter()
        .map(|&t| ((m.tl_c - f64::from(t)) / (m.tl_c - m.ts_c)).clamp(0.0, 1.0))
        .sum();
    (0.5 + frozen) * h_mm * 1e-3
}

/// The model's default time scheme (RKL2 super-steps of 10 s).
const DEFAULT: TimeScheme = TimeScheme::Rkl2 {
    super_step_s: solver::DEFAULT_SUPER_STEP_S,
};

#[test]
fn c1_stefan_front_matches_neumann_and_converges() {
    let exact = neumann_front_m(&water(), C1_TIME_S);
    // Sanity of the analytic root: a few cm in 10 min for ice at −50 °C.
    assert!((0.01..0.05).contains(&exact), "Neumann front {exact} m");
    let mut errors = Vec::new();
    for h_mm in [1.0, 0.5, 0.25] {
        let x = stefan_front_m(h_mm, DEFAULT);
        let rel = (x - exact).abs() / exact;
        eprintln!(
            "C1 h = {h_mm} mm: front {:.3} mm vs Neumann {:.3} mm, error {:.3} %",
            x * 1e3,
            exact * 1e3,
            100.0 * rel
        );
        errors.push(rel);
    }
    // Issue 5: within 2 % at the test resolution (0.5 mm, finer than the 1 mm plan grid).
    assert!(errors[1] < 0.02, "C1 error at 0.5 mm: {:.3} %", 100.0 * errors[1]);
    // The error decreases with refinement.
    assert!(
        errors[2] < errors[1] && errors[1] < errors[0],
        "C1 errors do not decrease: {errors:?}"
    );
}

#[test]
fn c1_time_step_convergence() {
    // RKL2 super-steps of 20, 10 (default), 5, 2.5 s against forward Euler at the stable step: the
    // difference shrinks as the super-step does, and at the default it is far below the space
    // error (so the super-steps do not limit the accuracy).
    let h_mm = 0.5;
    let exact = neumann_front_m(&water(), C1_TIME_S);
    let euler = stefan_front_m(h_mm, TimeScheme::Euler { dt_s: None });
    let diffs: Vec<f64> = [20.0, 10.0, 5.0, 2.5]
        .iter()
        .map(|&tau| {
            let x = stefan_front_m(h_mm, TimeScheme::Rkl2 { super_step_s: tau });
            let d = (x - euler).abs() / exact;
            eprintln!(
                "C1 at 0.5 mm, RKL2 τ = {tau} s: front differs from Euler by {:.4} %",
                100.0 * d
            );
            d
        })
        .collect();
    // Halving the Euler step moves the front by less than 0.1 % (first order in time).
    let m = water();
    let dt = 0.9 * (h_mm * 1e-3f64).powi(2) * m.cs.min(m.cl) / (2.0 * m.ks.max(m.kl));
    let half = stefan_front_m(h_mm, TimeScheme::Euler { dt_s: Some(0.5 * dt) });
    let d_euler = (half - euler).abs() / exact;
    eprintln!("C1 at 0.5 mm, Euler dt → dt/2: {:.4} %", 100.0 * d_euler);
    assert!(d_euler < 0.001, "Euler halving: {d_euler}");
    // The default super-step is within 0.3 % of Euler, and the differences shrink (allowing
    // rounding-level noise of 0.02 % once they are tiny).
    assert!(diffs[1] < 0.003, "RKL2 10 s vs Euler: {diffs:?}");
    for w in diffs.windows(2) {
        assert!(w[1] <= w[0] + 2e-4, "RKL2 differences do not shrink: {diffs:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Plan-level helpers
// ---------------------------------------------------------------------------------------------

fn probe_along_s(model: &str, x: f64, y: f64, active_mm: f64) -> Probe {
    Probe {
        model_id: model.into(),
        tip_lps: PatientPos::new(x, y, -0.5 * active_mm),
        entry_lps: PatientPos::new(x, y, 150.0),
        exposure_mm: active_mm,
        label: "p".into(),
    }
}

fn freeze_settings(freeze_s: f64, spacing_mm: f64, margin_mm: f64) -> CryoSettings {
    let mut s = CryoSettings {
        protocol: CryoProtocol::freeze_only(freeze_s),
        ..CryoSettings::default()
    };
    s.model.spacing_mm = spacing_mm;
    s.model.margin_mm = margin_mm;
    s
}

fn gel(temperature_c: f64, size_mm: [f64; 3]) -> CryoTissueSource<'static> {
    CryoTissueSource::Phantom {
        class_id: "gel",
        centre_lps: PatientPos::origin(),
        size_mm,
        temperature_c,
    }
}

// ---------------------------------------------------------------------------------------------
// Energy balance
// ---------------------------------------------------------------------------------------------

#[test]
fn energy_balance_on_a_closed_block() {
    // A 36 × 36 × 46 mm gel block (no perfusion, no metabolism), every face adiabatic (the grid is
    // the block: the margin reaches past every face), one IceSeed freezing for 5 min: the heat the
    // probe removed equals the drop of the block's enthalpy.
    let assets = CryoAssets::builtin().expect("assets");
    let probes = [probe_along_s("iceseed", 0.3, -0.2, 20.0)];
    let settings = freeze_settings(300.0, 1.0, 40.0);
    let r = compute_cryo(
        &probes,
        &settings,
        gel(37.0, [36.0, 36.0, 46.0]),
        &assets,
        &JobCtx::default(),
    )
    .expect("closed block");
    let removed = r.heat_extracted_j();
    let d_h = r.final_enthalpy_j - r.initial_enthalpy_j;
    let rel = (removed + d_h).abs() / removed;
    eprintln!(
        "energy: probe removed {removed:.1} J, enthalpy change {d_h:.1} J, mismatch {:.2e}",
        rel
    );
    assert!(removed > 1000.0, "the probe must remove heat: {removed} J");
    // Issue 5: within 1 %. (The scheme is conservative: the mismatch is rounding, ~1e-6.)
    assert!(rel < 0.01, "energy mismatch {:.3} %", 100.0 * rel);
}

// ---------------------------------------------------------------------------------------------
// C2 Littrup 2009
// ---------------------------------------------------------------------------------------------

/// The C2 sizes of one case at the end of the 15-min freeze ([`CaseSizes`]): the nominal model
/// and the band's inner and outer surfaces.
///
/// **How "average lethal diameter" is measured** (Littrup et al., JVIR 2009, PMC2762356). What
/// the paper says: thermocouples 0.5, 1.0 and 1.5 cm from the probes, held by jigs for 1–4
/// probes at 2 cm spacing; temperatures correlated with the thermocouple positions seen on CT;
/// "diameters and surface areas of the −30 °C isotherm assessed … as percentages of the overall
/// iceball"; 1.2 / 3.3 / 4.1 / 4.9 cm comprising 13 / 46 / 51 / 56 % of the iceball's area; the
/// 1.7 mm probes give 71 % of the area and 84 % of the diameter of the 2.4 mm ones. What is not
/// recoverable here: the arrangement of 3 and 4 probes and the formula of the "average". Chosen:
/// the diameter of the circle of the lethal cross-section's area, in the plane across the probes
/// at the middle of their active lengths (the thermocouple plane of a jig holding parallel
/// probes). Why: the paper measured areas in that plane, and its own ratios obey diameter² ∝
/// area (0.84² = 0.71), which the equivalent-circle diameter does by construction; it needs no
/// axes for the peanut of two probes or the rounded triangle of three. It was chosen on that
/// evidence before the validation was run with it — with the former calibration it gave the
/// smaller multi-probe values of the measures at hand (2 probes 23.1 mm against 24.0 for the mean
/// of the two extents) — and the mean of the extents is printed beside it. The 3- and 4-probe
/// arrangements stay an equilateral triangle and a square of 20 mm sides: the only arrangements
/// in which every probe is 2 cm from its neighbours (the paper's "2 cm spacing").
/// The area fraction (lethal / iceball area in the same plane) needs no diameter formula at all
/// and is checked too.
struct C2Sizes {
    nominal: CaseSizes,
    inner: CaseSizes,
    outer: CaseSizes,
}

fn c2_sizes(n: usize) -> C2Sizes {
    use ablaplan::physics::band::Surface;
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("assets/cases/c2_littrup_{n}_probes.json"));
    let case = ablaplan::plan::case::load_case(&path).expect("C2 case");
    let assets = CryoAssets::builtin().expect("assets");
    let cryo = case.cryo_settings();
    let ablaplan::plan::case::CaseSource::Phantom {
        tissue,
        size_mm,
        centre_lps,
        ..
    } = &case.source
    else {
        panic!("C2 is a phantom")
    };
    let source = CryoTissueSource::Phantom {
        class_id: tissue,
        centre_lps: PatientPos::from(*centre_lps),
        size_mm: *size_mm,
        temperature_c: cryo.phantom_temperature_c,
    };
    let settings = cryo.settings();
    assert!(settings.model.band, "the band is on by default");
    let r = compute_cryo(&case.probes, &settings, source, &assets, &JobCtx::default()).expect("C2");
    let band = r.band.as_ref().expect("band");
    let of = |s: Surface| {
        CaseSizes::of_masks(&r, &case.probes, band.lethal.surface(s), band.iceball.surface(s)).expect("sizes")
    };
    C2Sizes {
        nominal: CaseSizes::of(&r, &case.probes).expect("sizes"),
        inner: of(Surface::Inner),
        outer: of(Surface::Outer),
    }
}

/// What the model gives for C2 (1 mm grid, the calibrated 2.4 mm probe): lethal diameters (mm,
/// equivalent circle of the mid-plane cross-section) and lethal / iceball area fractions,
/// recorded from this test's output so that a change of the model shows.
const C2_MODEL_MM: [f64; 4] = [15.8, 28.6, 37.9, 45.9];
const C2_MODEL_AREA_FRACTION: [f64; 4] = [0.24, 0.40, 0.50, 0.56];

#[test]
fn c2_littrup_lethal_diameters() {
    // Published lethal (< −30 °C) diameters for 1–4 probes (REFERENCE.md §3 C2), aim ±5 mm, and
    // the lethal share of the iceball's area (Littrup 2009 abstract). One probe calibrates the
    // 2.4 mm probe's gas side on its two figures (physics::cryo::calibrate); two to four probes
    // validate — nothing was chosen on them.
    let published = [12.0, 33.0, 41.0, 49.0];
    let published_fraction = [0.13, 0.46, 0.51, 0.56];
    let mut got = Vec::new();
    for n in 1..=4 {
        let C2Sizes {
            nominal,
            inner,
            outer,
        } = c2_sizes(n);
        let d = nominal.lethal_section_diameter_mm;
        eprintln!(
            "C2 {n} probe(s): lethal −30 °C diameter {d:.1} mm (band {:.1}–{:.1}) vs published {} mm{}; \
             lethal {:.0} % of the iceball's area (band {:.0}–{:.0} %) vs {:.0} %; iceball {:.1} mm; \
             node extents {:.0} × {:.0} mm (mean {:.1})",
            inner.lethal_section_diameter_mm,
            outer.lethal_section_diameter_mm,
            published[n - 1],
            if (d - published[n - 1]).abs() <= 5.0 {
                ""
            } else {
                " — outside ±5 mm"
            },
            100.0 * nominal.lethal_area_fraction,
            100.0 * inner.lethal_area_fraction,
            100.0 * outer.lethal_area_fraction,
            100.0 * published_fraction[n - 1],
            nominal.iceball_section_diameter_mm,
            nominal.lethal_extents_mm[1],
            nominal.lethal_extents_mm[2],
            nominal.lethal_diameter_mm,
        );
        assert!(
            inner.lethal_section_diameter_mm <= published[n - 1]
                && published[n - 1] <= outer.lethal_section_diameter_mm,
            "C2 {n} probes: the published {} mm lies outside the band {:.1}–{:.1} mm",
            published[n - 1],
            inner.lethal_section_diameter_mm,
            outer.lethal_section_diameter_mm
        );
        assert!(
            inner.lethal_section_diameter_mm < d && d < outer.lethal_section_diameter_mm,
            "C2 {n} probes: the band must surround the nominal diameter"
        );
        // What the model gives, recorded (± 1 mm: a node's worth of change in the model shows).
        assert!(
            (d - C2_MODEL_MM[n - 1]).abs() <= 1.0,
            "C2 {n} probes: {d:.1} mm moved from the recorded {} mm",
            C2_MODEL_MM[n - 1]
        );
        assert!(
            (nominal.lethal_area_fraction - C2_MODEL_AREA_FRACTION[n - 1]).abs() <= 0.02,
            "C2 {n} probes: area fraction {:.3} moved from the recorded {}",
            nominal.lethal_area_fraction,
            C2_MODEL_AREA_FRACTION[n - 1]
        );
        got.push((d, nominal.lethal_area_fraction));
    }
    // More probes always kill more, and a larger share of the iceball.
    for w in got.windows(2) {
        assert!(
            w[1].0 > w[0].0 && w[1].1 > w[0].1,
            "must grow with the probe count: {got:?}"
        );
    }
    // The aim of REFERENCE.md §3: every probe count within ±5 mm of the publication.
    for (n, (d, _)) in got.iter().enumerate() {
        assert!(
            (d - published[n]).abs() <= 5.0,
            "C2 {} probes: {d:.1} mm vs published {} mm",
            n + 1,
            published[n]
        );
    }
    // The validation's area fractions (2–4 probes; not used by the calibration) within 10
    // percentage points of the publication (the single probe's 13 % is a calibration figure:
    // the model cannot meet it together with 12 mm, see assets/cases/README.md).
    for n in 1..4 {
        assert!(
            (got[n].1 - published_fraction[n]).abs() <= 0.10,
            "C2 {} probes: area fraction {:.2} vs {}",
            n + 1,
            got[n].1,
            published_fraction[n]
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Vessel heat sink
// ---------------------------------------------------------------------------------------------

/// 80 mm cube of soft tissue (40 HU) at 1 mm, optionally with a Vessel structure of 6 mm diameter
/// along S at x = +7 mm.
fn ct_with_vessel(
    vessel: bool,
) -> (
    ablaplan::volume::Volume,
    Vec<ablaplan::anatomy::structure::Structure>,
) {
    use ablaplan::anatomy::mask::Mask;
    use ablaplan::anatomy::structure::{Provenance, Structure, StructureKind};
    use ablaplan::geometry::VolumeGeometry;
    use ablaplan::volume::{Volume, VolumeMeta};
    let dims = [80, 80, 80];
    let g = VolumeGeometry::axis_aligned(dims, [1.0, 1.0, 1.0], PatientPos::new(-39.5, -39.5, -39.5));
    let v = Volume::new(g, vec![40i16; 80 * 80 * 80], VolumeMeta::default()).expect("volume");
    let mut structures = Vec::new();
    if vessel {
        let data: Vec<bool> = (0..80 * 80 * 80)
            .map(|idx| {
                let (i, j) = (idx % 80, (idx / 80) % 80);
                let (x, y) = (-39.5 + i as f64, -39.5 + j as f64);
                (x - 7.0).powi(2) + y * y <= 9.0
            })
            .collect();
        structures.push(Structure::new(
            "vessel",
            StructureKind::Vessel,
            Provenance::Drawn,
            Mask::from_dense(dims, &data),
        ));
    }
    (v, structures)
}

#[test]
fn vessel_next_to_the_probe_shrinks_the_iceball_on_its_side() {
    let assets = CryoAssets::builtin().expect("assets");
    let probes = [probe_along_s("iceseed", 0.0, 0.0, 20.0)];
    let settings = freeze_settings(600.0, 1.0, 20.0);
    let reach = |vessel: bool| {
        let (v, s) = ct_with_vessel(vessel);
        let r = compute_cryo(
            &probes,
            &settings,
            CryoTissueSource::Ct {
                volume: &v,
                structures: &s,
            },
            &assets,
            &JobCtx::default(),
        )
        .expect("CT run");
        let last = r.last_snapshot();
        let held = r.vessel_nodes.iter().filter(|h| **h).count();
        let c = PatientPos::origin();
        let towards = isotherm_reach_mm(&r.grid, &r.snapshots[last], 0.0, &c, &Vector3::x()).expect("grid");
        let away = isotherm_reach_mm(&r.grid, &r.snapshots[last], 0.0, &c, &-Vector3::x()).expect("grid");
        (towards, away, held)
    };
    let (t0, a0, h0) = reach(false);
    let (t1, a1, h1) = reach(true);
    eprintln!(
        "vessel: 0 °C reach towards +x {t0:.2} → {t1:.2} mm, away {a0:.2} → {a1:.2} mm ({h1} held nodes)"
    );
    assert_eq!(h0, 0);
    assert!(h1 > 500, "the 6 mm vessel must be held: {h1} nodes");
    // Without a vessel the iceball is symmetric (within the sub-voxel position, 0.3 mm).
    assert!((t0 - a0).abs() < 0.3, "symmetric without a vessel: {t0} vs {a0}");
    // The vessel (surface 4 mm from the probe) stops the iceball on its side: the 0 °C front
    // stays short of the vessel wall (4 mm) and at least 3 mm shorter than on the other side.
    assert!(t1 < 4.0, "the iceball crosses the vessel: {t1} mm");
    assert!(a1 - t1 > 3.0, "vessel side {t1} mm vs other side {a1} mm");
    // The far side is barely affected (< 1 mm).
    assert!((a1 - a0).abs() < 1.0, "far side moved: {a0} → {a1}");
}

// ---------------------------------------------------------------------------------------------
// Convergence in space (3-D)
// ---------------------------------------------------------------------------------------------

#[test]
fn single_probe_isotherms_converge_in_space() {
    // One 2.4 mm probe (Littrup's; thick enough for a 2 mm grid) in 37 °C gel for 5 min at 2, 1
    // and 0.5 mm: the 0 and −40 °C radii at the middle of the active length agree with the
    // 0.5 mm value within half a node — 1 mm within 0.5 mm, 2 mm within 1 mm. No ordering of
    // the two errors is asserted: with the calibrated wall (h = 1,200 W/m²·K) all three radii lie
    // within 0.3 mm of each other (0 °C: 9.77 / 9.97 / 9.67 mm at 2 / 1 / 0.5 mm), below the
    // interpolation error of the sub-voxel probe surface, whose sign changes with the grid.
    let assets = CryoAssets::builtin().expect("assets");
    let probes = [probe_along_s("littrup2009_2p4mm", 0.0, 0.0, 20.0)];
    let mut radii = Vec::new();
    for h in [2.0, 1.0, 0.5] {
        let settings = freeze_settings(300.0, h, 16.0);
        let r = compute_cryo(
            &probes,
            &settings,
            gel(37.0, [200.0; 3]),
            &assets,
            &JobCtx::default(),
        )
        .expect("run");
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let last = r.last_snapshot();
        let c = PatientPos::origin();
        let mut row = Vec::new();
        for t in [0.0, -40.0] {
            let mut sum = 0.0;
            for d in [Vector3::x(), -Vector3::x(), Vector3::y(), -Vector3::y()] {
                sum += isotherm_reach_mm(&r.grid, &r.snapshots[last], t, &c, &d).expect("grid");
            }
            row.push(sum / 4.0);
        }
        eprintln!(
            "space convergence h = {h} mm: r(0 °C) {:.2} mm, r(−40 °C) {:.2} mm",
            row[0], row[1]
        );
        radii.push(row);
    }
    let [coarse, mid, fine] = [&radii[0], &radii[1], &radii[2]];
    for (iso, ((c, m), f)) in coarse.iter().zip(mid).zip(fine).enumerate() {
        let e2 = (c - f).abs();
        let e1 = (m - f).abs();
        assert!(
            e2 < 1.0,
            "isotherm {iso}: 2 mm is {e2:.2} mm off, 1 mm {e1:.2} mm (vs 0.5 mm)"
        );
        assert!(
            e1 < 0.5,
            "isotherm {iso}: 1 mm is {e1:.2} mm off the 0.5 mm radius"
        );
    }
}
