//! IRE field validation: V1 of REFERENCE.md §2 (two long parallel 19G electrodes, homogeneous σ),
//! polarity swap, current conservation.

use ablaplan::geometry::PatientPos;
use ablaplan::physics::grid::ComputeGrid;
use ablaplan::physics::ire::current::electrode_current_a;
use ablaplan::physics::ire::field::{
    Electrode, RADIUS_19G_MM, build_problem, solve_pair, solve_problem, two_cylinder_mid_field_v_per_cm,
    two_cylinder_potential_v,
};
use ablaplan::physics::ire::field::{electrode_mask, pair_operator};
use ablaplan::physics::linalg::{Hierarchy, SolveOptions, solve};

const D_MM: f64 = 15.0;
const U_V: f64 = 2250.0;

/// Infinite electrodes: they pierce the whole grid along z, whose faces are zero-flux, so the 3-D
/// solve is exactly the 2-D (infinitely long) problem. The outer x/y boundary is Dirichlet with the
/// closed-form potential (`exact_outer`) or zero-flux. Returns (E_mid V/cm, iterations).
fn v1_mid_field(h: f64, half_width_mm: f64, exact_outer: bool) -> (f64, usize) {
    // Half width a multiple of 4h so that n − 1 is a multiple of 8 and x = 0 is a node.
    let w = (half_width_mm / (4.0 * h)).ceil() * 4.0 * h;
    let n = (2.0 * w / h).round() as usize + 1;
    let nz = 9;
    let grid = ComputeGrid {
        origin_lps: PatientPos::new(-w, -w, -4.0 * h),
        spacing_mm: h,
        dims: [n, n, nz],
    };
    let el = |x: f64| Electrode {
        start_lps: PatientPos::new(x, 0.0, -100.0),
        end_lps: PatientPos::new(x, 0.0, 100.0),
        radius_mm: RADIUS_19G_MM,
    };
    let sigma = vec![0.2; grid.len()];
    let mut p = build_problem(&grid, sigma, &[(el(D_MM / 2.0), U_V), (el(-D_MM / 2.0), 0.0)]);
    if exact_outer {
        for k in 0..nz {
            for j in 0..n {
                for i in 0..n {
                    if i == 0 || j == 0 || i == n - 1 || j == n - 1 {
                        let idx = grid.index(i, j, k);
                        let q = grid.lps(i, j, k);
                        p.op.fixed[idx] = true;
                        p.phi[idx] = two_cylinder_potential_v(D_MM, RADIUS_19G_MM, U_V, q.x, q.y);
                    }
                }
            }
        }
    }
    let f = solve_problem(p, None, &SolveOptions::default(), &|| false).expect("solve");
    assert!(f.report.converged, "{:?}", f.report);
    let c = grid.index(n / 2, n / 2, nz / 2);
    assert!(grid.lps(n / 2, n / 2, nz / 2).coords.norm() < 1e-9);
    (f.e_v_per_cm[c] as f64, f.report.iterations)
}

#[test]
fn v1_closed_form_value() {
    let e = two_cylinder_mid_field_v_per_cm(D_MM, RADIUS_19G_MM, U_V);
    assert!((e - 902.0).abs() < 1.0, "{e}");
}

/// Why an earlier 3-D check (60 mm exposures in a zero-flux box, h = 1.0 → 0.7 mm) moved from
/// −0.9 % to −2 % with refinement:
/// - finite length: a slender-body calculation (uniformly charged segments, surface collocation)
///   puts E_mid of 60 mm electrodes 0.94 % below infinitely long ones (−0.58 % at 120 mm,
///   −0.38 % at 240 mm; −7 % at 20 mm): the 3-D limit of that set-up is not the closed form;
/// - grid coarser than the electrode (1.07 mm across): the sub-voxel error then depends on where
///   the electrode falls between nodes, not on h monotonically (this problem: h = 1.0 → −0.58 %,
///   0.875 → −0.99 %, 0.75 → −3.87 %, 0.7 → −1.60 %, 0.625 → −2.93 %; from h = 0.5 on it stays
///   within ±0.55 % and shrinks: 0.5 → +0.27 %, 0.35 → −0.26 %, 0.25 → −0.01 %);
/// - θ_min played no part (θ ≥ 0.29 on those grids).
///
/// So V1 is checked where the closed form applies — electrodes through the zero-flux faces
/// (mirrored into infinite ones) — on grids that resolve the electrode: here with the exact
/// outer potential, and through the full model in a zero-flux box with the box's images
/// accounted for (`ire_validation::v1_model_midpoint_field_converges_to_closed_form`).
#[test]
fn v1_midpoint_field_converges_to_closed_form() {
    let exact = two_cylinder_mid_field_v_per_cm(D_MM, RADIUS_19G_MM, U_V);
    let mut errs = Vec::new();
    for h in [0.5, 0.35, 0.25] {
        let (e, it) = v1_mid_field(h, 20.0, true);
        let err = (e - exact).abs() / exact;
        println!(
            "V1 h = {h} mm: E_mid = {e:.1} V/cm (exact {exact:.1}), error {:.3} %, {it} CG iterations",
            100.0 * err
        );
        errs.push(err);
    }
    assert!(
        errs[2] < errs[1] && errs[1] < errs[0],
        "error must decrease with refinement: {errs:?}"
    );
    assert!(errs[2] < 0.02, "finest-grid error {:.3} % ≥ 2 %", 100.0 * errs[2]);
}

#[test]
fn polarity_swap_gives_same_field() {
    let segs = [
        (
            PatientPos::new(-5.0, 0.3, -10.0),
            PatientPos::new(-5.0, 0.3, 10.0),
        ),
        (
            PatientPos::new(5.0, -0.2, -10.0),
            PatientPos::new(5.0, -0.2, 10.0),
        ),
    ];
    let grid = ComputeGrid::around_segments(&segs, 6.0, 1.0);
    let el = |s: &(PatientPos, PatientPos)| Electrode {
        start_lps: s.0,
        end_lps: s.1,
        radius_mm: RADIUS_19G_MM,
    };
    let (a, b) = (el(&segs[0]), el(&segs[1]));
    let opts = SolveOptions {
        rel_tol: 1e-10,
        ..Default::default()
    };
    let sigma = vec![0.25; grid.len()];
    let f1 = solve_pair(&grid, sigma.clone(), [&a, &b], 1500.0, None, &opts, &|| false).expect("solve");
    let f2 = solve_pair(&grid, sigma, [&b, &a], 1500.0, None, &opts, &|| false).expect("solve");
    let emax = f1.e_v_per_cm.iter().cloned().fold(0.0f32, f32::max);
    for (x, y) in f1.e_v_per_cm.iter().zip(&f2.e_v_per_cm) {
        assert!((x - y).abs() <= 1e-5 * emax, "{x} vs {y}");
    }
}

/// Discrete conservation: the current leaving the anode equals the current entering the cathode.
#[test]
fn anode_and_cathode_currents_balance() {
    let segs = [
        (
            PatientPos::new(-7.5, 0.2, -10.0),
            PatientPos::new(-7.4, 0.1, 10.0),
        ),
        (PatientPos::new(7.5, -0.3, -10.0), PatientPos::new(7.6, 0.0, 10.0)),
    ];
    let grid = ComputeGrid::around_segments(&segs, 8.0, 0.75);
    let el = |s: &(PatientPos, PatientPos)| Electrode {
        start_lps: s.0,
        end_lps: s.1,
        radius_mm: RADIUS_19G_MM,
    };
    let (a, b) = (el(&segs[0]), el(&segs[1]));
    let (ma, mb) = (electrode_mask(&grid, &a), electrode_mask(&grid, &b));
    // Heterogeneous σ: a conductive slab on one side.
    let sigma: Vec<f64> = (0..grid.len())
        .map(|i| {
            if grid.ijk(i)[1] > grid.dims[1] / 2 + 3 {
                0.7
            } else {
                0.2
            }
        })
        .collect();
    let op = pair_operator(&grid, &sigma, &[&ma, &mb]);
    let mut phi = vec![0.0; grid.len()];
    for &m in &ma.metal {
        phi[m] = 1500.0;
    }
    let mut h = Hierarchy::new(op, &sigma);
    let opts = SolveOptions {
        rel_tol: 1e-10,
        ..Default::default()
    };
    solve(&mut h, &mut phi, &opts, &|| false).unwrap();
    let ia = electrode_current_a(&grid, h.fine(), &phi, &ma);
    let ib = electrode_current_a(&grid, h.fine(), &phi, &mb);
    println!("anode {ia:.4} A, cathode {ib:.4} A");
    assert!(ia > 0.0 && ib < 0.0);
    assert!((ia + ib).abs() < 1e-6 * ia, "{ia} vs {ib}");
}
