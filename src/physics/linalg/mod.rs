//! Matrix-free solver for ∇·(σ∇φ) = 0 on an isotropic 7-point finite-volume grid.
//!
//! The operator is stored as face coefficients (`cx[idx]` couples `idx` and `idx + 1`, `cy` couples
//! `idx` and `idx + nx`, `cz` couples `idx` and `idx + nx·ny`; zero across the outer boundary, which
//! is therefore zero-flux), in `f32`: that rounding (≈ 6·10⁻⁸ relative, far below any tissue
//! uncertainty) defines the discrete problem, which is then solved in `f64`. Fixed (Dirichlet)
//! nodes keep their value.
//!
//! Method:
//! - Conjugate gradients on the unknowns (`cg.rs`): iterate and residual in `f64`, `A p` evaluated
//!   in `f64` from the stored links, so the recursive residual stays the true one to `f64` rounding
//!   (tolerances down to 1e-11 are reachable); search direction and preconditioned residual in
//!   `f32`. Polak–Ribière (flexible) β, which tolerates the rounding of the single-precision
//!   preconditioner.
//! - Preconditioner: one multigrid cycle (`mg.rs`), W by default ([`Cycle`]), in `f32` with the
//!   links rounded to bfloat16 (halves the dominant memory traffic; the diagonal is taken from the
//!   rounded links so the smoothed operator is a consistent one).
//! - Storage (`layout.rs`): red–black split, so that a Gauss–Seidel pass updates its colour in
//!   place and in parallel over planes, on contiguous equal-length row slices that vectorise with no
//!   per-node boundary branch. A red and a following black pass are pipelined plane by plane.
//! - Smoother: red–black Gauss–Seidel, `smooth_sweeps` (finest) / `coarse_sweeps` sweeps before
//!   (red, black) and after (black, red) the coarse correction; the mirror order keeps the cycle
//!   symmetric. Restriction (full weighting) reads only the red residuals (black ones are zero right
//!   after a black pass); prolongation (trilinear) writes only the red nodes (the post-smoother's
//!   black pass reads nothing else).
//! - Levels (`build.rs`): coarsening `n → n/2 + 1` in every axis while all axes have ≥ 3 nodes and
//!   the level has > 1000 (any grid size, thin slabs included); coarse links built from the finer
//!   links (series along, full-weighting sum across: the rediscretised operator in homogeneous
//!   tissue, the right series conductance across resistive layers); the electrodes enter coarse
//!   levels as a restricted diagonal sink (lumped Galerkin) instead of fattened coarse Dirichlet
//!   masks; exact banded Cholesky on the coarsest level (`coarse.rs`).
//! - Every reduction sums fixed lanes per row, rows per plane and planes in order, and the
//!   pipelined smoother computes exactly what the separate passes do, so results are bitwise
//!   reproducible for any thread count. The iteration runs inside the rayon pool (one hand-over per
//!   iteration); `cancel` is polled on the caller's thread.
//!
//! Measured (`benches/ire_solve.rs`: 105³ nodes, two 19G electrodes, homogeneous σ, relative
//! residual 1e-6 from a cold start, 2 cores): 7 iterations on 5 levels, median 74–78 ms with the
//! machine otherwise idle (0.1–0.24 s while other jobs load it); the previous f64 flexible CG with
//! a V(2,2) cycle took 11 iterations on 4 levels, 0.64 s idle (1.7 s loaded). In 100×-contrast
//! layered tissue: 15 iterations, 0.15 s.

mod build;
mod cg;
mod coarse;
mod layout;
mod mg;

pub use mg::Hierarchy;

use rayon::prelude::*;

/// Chunk length for deterministic parallel reductions (fixed partition, sequential final sum).
const CHUNK: usize = 1 << 14;

/// Matrix-free operator on a grid.
#[derive(Clone, Debug)]
pub struct Operator {
    pub dims: [usize; 3],
    cx: Vec<f32>,
    cy: Vec<f32>,
    cz: Vec<f32>,
    /// Dirichlet mask.
    pub fixed: Vec<bool>,
}

fn harmonic(a: f64, b: f64) -> f64 {
    if a + b > 0.0 { 2.0 * a * b / (a + b) } else { 0.0 }
}

impl Operator {
    /// Face coefficients `scale · harmonic_mean(σ_a, σ_b)`.
    pub fn from_sigma(dims: [usize; 3], sigma: &[f64], fixed: Vec<bool>, scale: f64) -> Self {
        let [nx, ny, nz] = dims;
        let n = nx * ny * nz;
        assert_eq!(sigma.len(), n, "sigma length");
        assert_eq!(fixed.len(), n, "fixed length");
        let sxy = nx * ny;
        let coef = |stride: usize, axis_len: usize, axis: usize| -> Vec<f32> {
            (0..n)
                .into_par_iter()
                .map(|idx| {
                    let c = match axis {
                        0 => idx % nx,
                        1 => (idx / nx) % ny,
                        _ => idx / sxy,
                    };
                    if c + 1 < axis_len {
                        (scale * harmonic(sigma[idx], sigma[idx + stride])) as f32
                    } else {
                        0.0
                    }
                })
                .collect()
        };
        Self {
            dims,
            cx: coef(1, nx, 0),
            cy: coef(nx, ny, 1),
            cz: coef(sxy, nz, 2),
            fixed,
        }
    }

    pub fn len(&self) -> usize {
        self.fixed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fixed.is_empty()
    }

    /// Multiplies the coefficient of link `link` along `axis` (0 = x, 1 = y, 2 = z; the link
    /// joins `link` and its `+axis` neighbour) by `factor` (cut links at electrode surfaces).
    pub fn scale_link(&mut self, axis: usize, link: usize, factor: f64) {
        let c = match axis {
            0 => &mut self.cx,
            1 => &mut self.cy,
            _ => &mut self.cz,
        };
        c[link] = (f64::from(c[link]) * factor) as f32;
    }

    /// Coefficient of link `link` along `axis` (S/m on the finest level; flux across the face
    /// = coefficient · h · Δφ).
    pub fn link(&self, axis: usize, link: usize) -> f64 {
        f64::from(match axis {
            0 => self.cx[link],
            1 => self.cy[link],
            _ => self.cz[link],
        })
    }
}

/// Deterministic parallel dot product.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    let parts: Vec<f64> = a
        .par_chunks(CHUNK)
        .zip(b.par_chunks(CHUNK))
        .map(|(x, y)| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>())
        .collect();
    parts.iter().sum()
}

/// Solver settings.
#[derive(Clone, Debug)]
pub struct SolveOptions {
    /// Stop when ‖r‖ / ‖b‖ is below this.
    pub rel_tol: f64,
    pub max_iter: usize,
    /// Pre- and post-smoothing sweeps on the finest level (each a red and a black pass).
    pub smooth_sweeps: usize,
    /// Pre- and post-smoothing sweeps on the coarse levels.
    pub coarse_sweeps: usize,
    /// Multigrid cycle of the preconditioner.
    pub cycle: Cycle,
}

/// Multigrid cycle shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cycle {
    /// Each level once.
    V,
    /// Each level below the first coarse one twice per visit of the level above (the extra work
    /// is on grids of ≤ 1/64 of the nodes and buys a better coarse correction).
    W,
}

impl Default for SolveOptions {
    fn default() -> Self {
        Self {
            rel_tol: 1e-6,
            max_iter: 200,
            smooth_sweeps: 2,
            coarse_sweeps: 2,
            cycle: Cycle::W,
        }
    }
}

/// What a solve did.
#[derive(Clone, Debug, Default)]
pub struct SolveReport {
    pub iterations: usize,
    /// ‖r_k‖ / ‖b‖ for k = 0..=iterations.
    pub residual_history: Vec<f64>,
    pub converged: bool,
    pub levels: usize,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SolveError {
    #[error("solve cancelled")]
    Cancelled,
    #[error("problem has no Dirichlet node (singular)")]
    NoDirichlet,
}

/// Solve `∇·(σ∇φ) = 0` with `φ = phi[idx]` on fixed nodes. `phi` is the warm start on free nodes
/// and receives the solution (left unchanged on cancellation). `cancel` is polled once per
/// iteration.
pub fn solve(
    h: &mut Hierarchy,
    phi: &mut [f64],
    opts: &SolveOptions,
    cancel: &dyn Fn() -> bool,
) -> Result<SolveReport, SolveError> {
    let n = h.fine().len();
    assert_eq!(phi.len(), n, "phi length");
    if !h.fine().fixed.iter().any(|&f| f) {
        return Err(SolveError::NoDirichlet);
    }
    let mut report = SolveReport {
        levels: h.levels(),
        ..Default::default()
    };
    let (bb, rr) = cg::start(h, phi);
    let bnorm = bb.sqrt();
    if bnorm == 0.0 {
        cg::zero_unknowns(h, phi);
        report.converged = true;
        report.residual_history.push(0.0);
        return Ok(report);
    }
    let rel = rr.sqrt() / bnorm;
    report.residual_history.push(rel);
    if rel < opts.rel_tol {
        report.converged = true;
        return Ok(report);
    }
    let sweeps = mg::Shape {
        fine: opts.smooth_sweeps,
        coarse: opts.coarse_sweeps,
        gamma: match opts.cycle {
            Cycle::V => 1,
            Cycle::W => 2,
        },
    };
    // Each iteration runs inside the thread pool (one hand-over instead of one per pass);
    // `cancel` is polled on the caller's thread.
    let mut rz = rayon::scope(|_| {
        h.precondition(&sweeps, false);
        cg::update_p(h, None);
        cg::dots(h).0
    });
    for it in 1..=opts.max_iter {
        if cancel() {
            return Err(SolveError::Cancelled);
        }
        let Some(rel) = rayon::scope(|_| step(h, &mut rz, bnorm, opts.rel_tol, &sweeps)) else {
            break;
        };
        report.iterations = it;
        report.residual_history.push(rel);
        if rel < opts.rel_tol {
            report.converged = true;
            break;
        }
    }
    cg::finish(h, phi);
    Ok(report)
}

/// One CG iteration from the search direction `p`: updates `x`, `r` and (unless converged) the
/// next `p`; returns the relative residual, or `None` when the direction degenerated.
fn step(h: &mut Hierarchy, rz: &mut f64, bnorm: f64, tol: f64, sweeps: &mg::Shape) -> Option<f64> {
    let pq = cg::p_ap(h);
    if pq <= 0.0 || *rz <= 0.0 {
        return None;
    }
    let rel = cg::update(h, *rz / pq).sqrt() / bnorm;
    if rel >= tol {
        h.swap_z_old();
        h.precondition(sweeps, true);
        let (rz_new, rz_mid) = cg::dots(h);
        // Flexible (Polak–Ribière) β: the f32 preconditioner is linear only up to rounding (and
        // not at all with the CG coarsest solve of grids too flat to coarsen).
        let beta = (rz_new - rz_mid) / *rz;
        *rz = rz_new;
        cg::update_p(h, Some(beta));
    }
    Some(rel)
}

/// |∇φ| by central differences (one-sided at the outer faces), in V/cm for φ in V and h in mm.
pub fn gradient_magnitude_v_per_cm(dims: [usize; 3], h_mm: f64, phi: &[f64]) -> Vec<f32> {
    let [nx, ny, nz] = dims;
    let sxy = nx * ny;
    let mut out = vec![0.0f32; phi.len()];
    let d = |c: usize, len: usize, idx: usize, stride: usize| -> f64 {
        if len < 2 {
            0.0
        } else if c == 0 {
            (phi[idx + stride] - phi[idx]) / h_mm
        } else if c + 1 == len {
            (phi[idx] - phi[idx - stride]) / h_mm
        } else {
            (phi[idx + stride] - phi[idx - stride]) / (2.0 * h_mm)
        }
    };
    out.par_chunks_mut(sxy).enumerate().for_each(|(k, plane)| {
        for j in 0..ny {
            for i in 0..nx {
                let idx = i + nx * j + sxy * k;
                let gx = d(i, nx, idx, 1);
                let gy = d(j, ny, idx, nx);
                let gz = d(k, nz, idx, sxy);
                plane[i + nx * j] = ((gx * gx + gy * gy + gz * gz).sqrt() * 10.0) as f32;
            }
        }
    });
    out
}
