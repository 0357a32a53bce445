//! Field of one electrode pair: Dirichlet electrodes of the true radius (sub-voxel cut-link
//! treatment), linear solve, |E|.
//!
//! Electrode metal = nodes within `radius_mm` of the exposed segment (a capsule). Each link from a
//! free node to a metal node is shortened to the true surface crossing: its coefficient becomes
//! `c / θ`, `θ ∈ [θ_min, 1]` the crossing fraction along the link (Shortley–Weller-type, keeps the
//! reduced operator symmetric positive definite) so that the effective radius is the true one and
//! the field converges with grid refinement instead of following the staircase.

use crate::geometry::PatientPos;
use crate::physics::grid::ComputeGrid;
use crate::physics::linalg::{
    Hierarchy, Operator, SolveError, SolveOptions, SolveReport, gradient_magnitude_v_per_cm, solve,
};

/// 19G NanoKnife-type electrode radius (outer diameter 1.07 mm / 2), mm.
pub const RADIUS_19G_MM: f64 = 0.5335;
/// Smallest crossing fraction (caps the link coefficient at 20× its value).
const THETA_MIN: f64 = 0.05;

/// The exposed (conducting) part of an electrode.
#[derive(Clone, Debug, PartialEq)]
pub struct Electrode {
    pub start_lps: PatientPos,
    pub end_lps: PatientPos,
    pub radius_mm: f64,
}

impl Electrode {
    /// Distance from `p` to the exposed axis segment minus the radius (< 0 inside the metal).
    pub fn signed_distance(&self, p: &PatientPos) -> f64 {
        let ab = self.end_lps - self.start_lps;
        let len2 = ab.norm_squared();
        let t = if len2 > 0.0 {
            ((p - self.start_lps).dot(&ab) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        (p - (self.start_lps + ab * t)).norm() - self.radius_mm
    }
}

/// A linear problem ready to solve: operator with cut links, Dirichlet values in `phi`.
pub struct PairProblem {
    pub grid: ComputeGrid,
    pub op: Operator,
    pub sigma: Vec<f64>,
    /// Dirichlet values on fixed nodes (the rest is the initial guess).
    pub phi: Vec<f64>,
}

/// Build the problem for electrodes held at `voltages_v` (same order), conductivity `sigma` (S/m).
pub fn build_problem(grid: &ComputeGrid, sigma: Vec<f64>, electrodes: &[(Electrode, f64)]) -> PairProblem {
    let n = grid.len();
    assert_eq!(sigma.len(), n, "sigma length");
    let [nx, ny, nz] = grid.dims;
    let h = grid.spacing_mm;
    let mut fixed = vec![false; n];
    let mut owner = vec![u8::MAX; n];
    let mut phi = vec![0.0; n];
    let mut boxes = Vec::new();
    for (e_i, (el, v)) in electrodes.iter().enumerate() {
        let a = grid.to_grid(&el.start_lps);
        let b = grid.to_grid(&el.end_lps);
        let r = el.radius_mm / h + 1.0;
        let lo: Vec<usize> = (0..3)
            .map(|ax| (a[ax].min(b[ax]) - r).floor().max(0.0) as usize)
            .collect();
        let hi: Vec<usize> = (0..3)
            .map(|ax| ((a[ax].max(b[ax]) + r).ceil().max(0.0) as usize).min(grid.dims[ax] - 1))
            .collect();
        for k in lo[2]..=hi[2] {
            for j in lo[1]..=hi[1] {
                for i in lo[0]..=hi[0] {
                    if el.signed_distance(&grid.lps(i, j, k)) <= 0.0 {
                        let idx = grid.index(i, j, k);
                        fixed[idx] = true;
                        owner[idx] = e_i as u8;
                        phi[idx] = *v;
                    }
                }
            }
        }
        boxes.push((lo, hi));
    }
    let mut op = Operator::from_sigma(grid.dims, &sigma, fixed, 1.0);
    // Cut links: free node → metal node of electrode `owner`.
    let sxy = nx * ny;
    for (e_i, (el, _)) in electrodes.iter().enumerate() {
        let (lo, hi) = &boxes[e_i];
        for k in lo[2]..=hi[2] {
            for j in lo[1]..=hi[1] {
                for i in lo[0]..=hi[0] {
                    let m = grid.index(i, j, k);
                    if owner[m] != e_i as u8 {
                        continue;
                    }
                    let pm = grid.lps(i, j, k);
                    // (neighbour exists, neighbour index, axis, link index)
                    let nb = [
                        (i > 0, m.wrapping_sub(1), 0, m.wrapping_sub(1)),
                        (i + 1 < nx, m + 1, 0, m),
                        (j > 0, m.wrapping_sub(nx), 1, m.wrapping_sub(nx)),
                        (j + 1 < ny, m + nx, 1, m),
                        (k > 0, m.wrapping_sub(sxy), 2, m.wrapping_sub(sxy)),
                        (k + 1 < nz, m + sxy, 2, m),
                    ];
                    for (ok, f, axis, link) in nb {
                        if !ok || op.fixed[f] {
                            continue;
                        }
                        let [fi, fj, fk] = grid.ijk(f);
                        let pf = grid.lps(fi, fj, fk);
                        // Bisection for the surface crossing from pf (outside) to pm (inside).
                        let (mut t0, mut t1) = (0.0, 1.0);
                        for _ in 0..30 {
                            let t = 0.5 * (t0 + t1);
                            let p = pf + (pm - pf) * t;
                            if el.signed_distance(&p) > 0.0 {
                                t0 = t;
                            } else {
                                t1 = t;
                            }
                        }
                        let theta = (0.5 * (t0 + t1)).max(THETA_MIN);
                        let c = match axis {
                            0 => &mut op.cx,
                            1 => &mut op.cy,
                            _ => &mut op.cz,
                        };
                        c[link] /= theta;
                    }
                }
            }
        }
    }
    PairProblem {
        grid: grid.clone(),
        op,
        sigma,
        phi,
    }
}

/// Result of one pair solve.
pub struct PairField {
    pub phi_v: Vec<f64>,
    pub e_v_per_cm: Vec<f32>,
    pub report: SolveReport,
}

/// Solve a built problem (warm start from `initial` on free nodes if given) and compute |E|.
pub fn solve_problem(
    problem: PairProblem,
    initial: Option<&[f64]>,
    opts: &SolveOptions,
    cancel: &dyn Fn() -> bool,
) -> Result<PairField, SolveError> {
    let PairProblem {
        grid,
        op,
        sigma,
        mut phi,
    } = problem;
    if let Some(init) = initial {
        for ((v, &f), &g) in phi.iter_mut().zip(&op.fixed).zip(init) {
            if !f {
                *v = g;
            }
        }
    }
    let mut h = Hierarchy::new(op, &sigma);
    let report = solve(&mut h, &mut phi, opts, cancel)?;
    let e = gradient_magnitude_v_per_cm(grid.dims, grid.spacing_mm, &phi);
    Ok(PairField {
        phi_v: phi,
        e_v_per_cm: e,
        report,
    })
}

/// Two electrodes `[anode, cathode]`, `voltage_v` on the anode and 0 on the cathode, conductivity
/// per node.
pub fn solve_pair(
    grid: &ComputeGrid,
    sigma: Vec<f64>,
    [anode, cathode]: [&Electrode; 2],
    voltage_v: f64,
    initial: Option<&[f64]>,
    opts: &SolveOptions,
    cancel: &dyn Fn() -> bool,
) -> Result<PairField, SolveError> {
    let p = build_problem(grid, sigma, &[(anode.clone(), voltage_v), (cathode.clone(), 0.0)]);
    solve_problem(p, initial, opts, cancel)
}

/// Closed form (REFERENCE.md §2, V1): midpoint field of two infinite parallel cylinders, V/cm.
pub fn two_cylinder_mid_field_v_per_cm(d_mm: f64, a_mm: f64, u_v: f64) -> f64 {
    let b = ((d_mm / 2.0).powi(2) - a_mm * a_mm).sqrt();
    let l = ((d_mm / 2.0 + b) / a_mm).ln();
    u_v / (b * l) * 10.0
}

/// Closed-form potential of the two infinite cylinders (anode centred at `+D/2` on x at `U`,
/// cathode at `−D/2` at 0), at in-plane position (x, y) mm relative to the midpoint.
pub fn two_cylinder_potential_v(d_mm: f64, a_mm: f64, u_v: f64, x: f64, y: f64) -> f64 {
    let b = ((d_mm / 2.0).powi(2) - a_mm * a_mm).sqrt();
    let l = ((d_mm / 2.0 + b) / a_mm).ln();
    let rp = ((x - b).powi(2) + y * y).sqrt();
    let rm = ((x + b).powi(2) + y * y).sqrt();
    u_v / 2.0 + u_v / 2.0 * (rm / rp).ln() / l
}
