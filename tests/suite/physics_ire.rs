//! IRE field validation: V1 of REFERENCE.md §2 (two long parallel 19G electrodes, homogeneous σ),
//! polarity swap.

use ablaplan::geometry::PatientPos;
use ablaplan::physics::grid::ComputeGrid;
use ablaplan::physics::ire::field::{
    Electrode, RADIUS_19G_MM, build_problem, solve_pair, solve_problem, two_cylinder_mid_field_v_per_cm,
    two_cylinder_potential_v,
};
use ablaplan::physics::linalg::SolveOptions;

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
    assert!(errs[2] < errs[0], "error must decrease with refinement: {errs:?}");
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

/// Full 3-D version of V1: 60 mm exposures in a zero-flux box (40 mm lateral margin), E at the
/// midpoint of the mid-length plane. Expensive: `cargo test --release --test physics_ire -- --ignored`.
/// The zero-flux box and the finite length both bias E_mid upwards by roughly (D/2 / R)² (image
/// charges), so the tolerance here is 5 %; the 2 % criterion is checked on the exact 2-D problem above.
#[test]
#[ignore]
fn v1_three_d_long_electrodes_release() {
    let exact = two_cylinder_mid_field_v_per_cm(D_MM, RADIUS_19G_MM, U_V);
    for h in [1.0, 0.7] {
        let segs = [
            (
                PatientPos::new(D_MM / 2.0, 0.0, -30.0),
                PatientPos::new(D_MM / 2.0, 0.0, 30.0),
            ),
            (
                PatientPos::new(-D_MM / 2.0, 0.0, -30.0),
                PatientPos::new(-D_MM / 2.0, 0.0, 30.0),
            ),
        ];
        let grid = ComputeGrid::around_segments(&segs, 40.0, h);
        let el = |s: &(PatientPos, PatientPos)| Electrode {
            start_lps: s.0,
            end_lps: s.1,
            radius_mm: RADIUS_19G_MM,
        };
        let sigma = vec![0.2; grid.len()];
        let f = solve_pair(
            &grid,
            sigma,
            [&el(&segs[0]), &el(&segs[1])],
            U_V,
            None,
            &SolveOptions::default(),
            &|| false,
        )
        .expect("solve");
        // Midpoint is generally not a node: trilinear interpolation of |E|.
        let g = grid.to_grid(&PatientPos::new(0.0, 0.0, 0.0));
        let base = [g.x.floor() as usize, g.y.floor() as usize, g.z.floor() as usize];
        let fr = [g.x - base[0] as f64, g.y - base[1] as f64, g.z - base[2] as f64];
        let mut e = 0.0;
        for dk in 0..2 {
            for dj in 0..2 {
                for di in 0..2 {
                    let w = (if di == 1 { fr[0] } else { 1.0 - fr[0] })
                        * (if dj == 1 { fr[1] } else { 1.0 - fr[1] })
                        * (if dk == 1 { fr[2] } else { 1.0 - fr[2] });
                    e += w * f.e_v_per_cm[grid.index(base[0] + di, base[1] + dj, base[2] + dk)] as f64;
                }
            }
        }
        let err = (e - exact) / exact;
        println!(
            "V1 3-D h = {h} mm, dims {:?}: E_mid = {e:.1} V/cm, error {:+.2} %, {} iterations",
            grid.dims,
            100.0 * err,
            f.report.iterations
        );
        assert!(err.abs() < 0.05);
    }
}
