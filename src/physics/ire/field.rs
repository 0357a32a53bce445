//! Field of one electrode pair: Dirichlet electrodes of the true radius (sub-voxel cut-link
//! treatment), linear solve, |E|.
//!
//! Electrode metal = nodes within `radius_mm` of the exposed segment (a capsule). Each link from a
//! free node to a metal node is shortened to the true surface crossing: its coefficient becomes
//! `σ_free / θ`, `θ ∈ [θ_min, 1]` the crossing fraction along the link (Shortley–Weller-type, keeps
//! the reduced operator symmetric positive definite) so that the effective radius is the true one
//! and the field converges with grid refinement instead of following the staircase. The tissue
//! between the free node and the surface is the free node's tissue, hence `σ_free` rather than a
//! mean with the metal node (whose σ has no physical meaning).
//!
//! The geometry (metal nodes, cut links and their θ) is computed once per plan
//! ([`electrode_mask`]); the operator of a pair is rebuilt cheaply from a new conductivity field
//! ([`pair_operator`]) at every nonlinear σ(E) iteration.

use crate::geometry::PatientPos;
use crate::physics::grid::ComputeGrid;
use crate::physics::linalg::{Hierarchy, Operator, SolveError, SolveOptions, SolveReport, solve};
use crate::plan::checks::closest_point_on_segment;
use rayon::prelude::*;

/// 19G NanoKnife-type electrode radius (outer diameter 1.07 mm / 2), mm.
pub const RADIUS_19G_MM: f64 = 0.5335;
/// Smallest crossing fraction (caps the link coefficient at 20× its value). A free node closer
/// than `θ_min·h` to the surface sees the surface at `θ_min·h`: an O(θ_min·h) shift of the
/// boundary on a few links, which vanishes with refinement.
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
        (p - closest_point_on_segment(p, &self.start_lps, &self.end_lps)).norm() - self.radius_mm
    }
}

/// A link between a metal node and a node outside this electrode's metal.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CutLink {
    /// 0 = x, 1 = y, 2 = z.
    pub axis: usize,
    /// Link index as in [`Operator::link`] (the lower of the two node indices).
    pub link: usize,
    pub metal: usize,
    pub outside: usize,
    /// Fraction of the link from the outside node to the metal surface, in `[θ_min, 1]`.
    pub theta: f64,
}

/// One electrode on a grid: its metal nodes and the links leaving them. Computed once per plan.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ElectrodeMask {
    /// Metal node indices, ascending.
    pub metal: Vec<usize>,
    /// Every link from a metal node to a node that is not metal of this electrode.
    pub cuts: Vec<CutLink>,
}

impl ElectrodeMask {
    pub fn is_metal(&self, idx: usize) -> bool {
        self.metal.binary_search(&idx).is_ok()
    }
}

/// Inclusive node box around an electrode's capsule (clamped to the grid), `None` when the capsule
/// misses the grid.
fn capsule_box(grid: &ComputeGrid, el: &Electrode) -> Option<([usize; 3], [usize; 3])> {
    let a = grid.to_grid(&el.start_lps);
    let b = grid.to_grid(&el.end_lps);
    let r = el.radius_mm / grid.spacing_mm + 1.0;
    let mut lo = [0usize; 3];
    let mut hi = [0usize; 3];
    for ax in 0..3 {
        let l = (a[ax].min(b[ax]) - r).floor();
        let h = (a[ax].max(b[ax]) + r).ceil();
        let top = grid.dims[ax] as f64 - 1.0;
        if !(l.is_finite() && h.is_finite()) || h < 0.0 || l > top {
            return None;
        }
        lo[ax] = l.max(0.0) as usize;
        hi[ax] = h.min(top) as usize;
    }
    Some((lo, hi))
}

/// Metal nodes and cut links of one electrode.
pub fn electrode_mask(grid: &ComputeGrid, el: &Electrode) -> ElectrodeMask {
    let Some((lo, hi)) = capsule_box(grid, el) else {
        return ElectrodeMask::default();
    };
    let mut metal = Vec::new();
    for k in lo[2]..=hi[2] {
        for j in lo[1]..=hi[1] {
            for i in lo[0]..=hi[0] {
                if el.signed_distance(&grid.lps(i, j, k)) <= 0.0 {
                    metal.push(grid.index(i, j, k));
                }
            }
        }
    }
    // Metal nodes were pushed in (k, j, i) order, i.e. ascending index.
    let mut mask = ElectrodeMask {
        metal,
        cuts: Vec::new(),
    };
    let [nx, ny, nz] = grid.dims;
    let sxy = nx * ny;
    let mut cuts = Vec::new();
    for &m in &mask.metal {
        let [i, j, k] = grid.ijk(m);
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
            if !ok || mask.is_metal(f) {
                continue;
            }
            let [fi, fj, fk] = grid.ijk(f);
            let pf = grid.lps(fi, fj, fk);
            // Bisection for the surface crossing from pf (outside) to pm (inside).
            let (mut t0, mut t1) = (0.0, 1.0);
            for _ in 0..40 {
                let t = 0.5 * (t0 + t1);
                let p = pf + (pm - pf) * t;
                if el.signed_distance(&p) > 0.0 {
                    t0 = t;
                } else {
                    t1 = t;
                }
            }
            cuts.push(CutLink {
                axis,
                link,
                metal: m,
                outside: f,
                theta: (0.5 * (t0 + t1)).clamp(THETA_MIN, 1.0),
            });
        }
    }
    mask.cuts = cuts;
    mask
}

/// Operator for conductivity `sigma` (S/m per node) with the `active` electrodes held fixed:
/// harmonic-mean links, then every cut link from an active electrode to a free node set to
/// `σ_free / θ`. Inactive electrodes are plain tissue (not in `active`).
pub fn pair_operator(grid: &ComputeGrid, sigma: &[f64], active: &[&ElectrodeMask]) -> Operator {
    let mut fixed = vec![false; grid.len()];
    for m in active {
        for &idx in &m.metal {
            fixed[idx] = true;
        }
    }
    let mut op = Operator::from_sigma(grid.dims, sigma, fixed, 1.0);
    for m in active {
        for c in &m.cuts {
            if op.fixed[c.outside] {
                continue;
            }
            let current = op.link(c.axis, c.link);
            let target = sigma[c.outside] / c.theta;
            if current > 0.0 {
                op.scale_link(c.axis, c.link, target / current);
            }
        }
    }
    op
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
    assert_eq!(sigma.len(), grid.len(), "sigma length");
    let masks: Vec<ElectrodeMask> = electrodes
        .iter()
        .map(|(el, _)| electrode_mask(grid, el))
        .collect();
    let refs: Vec<&ElectrodeMask> = masks.iter().collect();
    let op = pair_operator(grid, &sigma, &refs);
    let mut phi = vec![0.0; grid.len()];
    for (m, (_, v)) in masks.iter().zip(electrodes) {
        for &idx in &m.metal {
            phi[idx] = *v;
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
    let e = field_magnitude_v_per_cm(&grid, &phi, None);
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

/// |∇φ| (V/cm for φ in V, h in mm) by central differences, one-sided where a neighbour is missing
/// (grid face) or outside the tissue (`inside[n] == false`, e.g. beyond a phantom block's face,
/// whose potential carries no information); 0 at nodes outside.
pub fn field_magnitude_v_per_cm(grid: &ComputeGrid, phi: &[f64], inside: Option<&[bool]>) -> Vec<f32> {
    let [nx, ny, nz] = grid.dims;
    let sxy = nx * ny;
    let h = grid.spacing_mm;
    // V/mm → V/cm, and the 1/(2h) of the central difference.
    let c = 10.0 / (2.0 * h);
    let ins = |idx: usize| inside.is_none_or(|m| m[idx]);
    let general = |i: usize, j: usize, k: usize, idx: usize| -> f32 {
        if !ins(idx) {
            return 0.0;
        }
        let mut g2 = 0.0;
        for (c, len, stride) in [(i, nx, 1), (j, ny, nx), (k, nz, sxy)] {
            let lo = c > 0 && ins(idx - stride);
            let hi = c + 1 < len && ins(idx + stride);
            let d = match (lo, hi) {
                (true, true) => (phi[idx + stride] - phi[idx - stride]) / (2.0 * h),
                (false, true) => (phi[idx + stride] - phi[idx]) / h,
                (true, false) => (phi[idx] - phi[idx - stride]) / h,
                (false, false) => 0.0,
            };
            g2 += d * d;
        }
        (g2.sqrt() * 10.0) as f32
    };
    let mut out = vec![0.0f32; phi.len()];
    out.par_chunks_mut(sxy).enumerate().for_each(|(k, plane)| {
        for j in 0..ny {
            let row = &mut plane[nx * j..nx * (j + 1)];
            let base = sxy * k + nx * j;
            let interior_row = inside.is_none() && k > 0 && k + 1 < nz && j > 0 && j + 1 < ny;
            if interior_row && nx > 2 {
                row[0] = general(0, j, k, base);
                for (i, o) in row.iter_mut().enumerate().take(nx - 1).skip(1) {
                    let idx = base + i;
                    let gx = phi[idx + 1] - phi[idx - 1];
                    let gy = phi[idx + nx] - phi[idx - nx];
                    let gz = phi[idx + sxy] - phi[idx - sxy];
                    *o = ((gx * gx + gy * gy + gz * gz).sqrt() * c) as f32;
                }
                row[nx - 1] = general(nx - 1, j, k, base + nx - 1);
            } else {
                for (i, o) in row.iter_mut().enumerate() {
                    *o = general(i, j, k, base + i);
                }
            }
        }
    });
    out
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

/// Closed-form current (A) between two infinite parallel cylinders over a length `length_mm`
/// (REFERENCE.md §2): `I = π σ h U / arccosh(D / 2a)`.
pub fn two_cylinder_current_a(d_mm: f64, a_mm: f64, u_v: f64, sigma_s_per_m: f64, length_mm: f64) -> f64 {
    std::f64::consts::PI * sigma_s_per_m * (length_mm * 1e-3) * u_v / (d_mm / (2.0 * a_mm)).acosh()
}
