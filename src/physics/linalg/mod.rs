//! Matrix-free solver for ∇·(σ∇φ) = 0 on an isotropic 7-point finite-volume grid.
//!
//! The operator is stored as face coefficients (`cx[idx]` couples `idx` and `idx + 1`, `cy` couples
//! `idx` and `idx + nx`, `cz` couples `idx` and `idx + nx·ny`; zero across the outer boundary, which
//! is therefore zero-flux). Fixed (Dirichlet) nodes keep their value. The solver is flexible
//! conjugate gradients preconditioned by one geometric multigrid V-cycle (red–black Gauss–Seidel,
//! rediscretised coarse operators, conservatively coarsened Dirichlet masks).

mod mg;

pub use mg::Hierarchy;

use rayon::prelude::*;

/// Chunk length for deterministic parallel reductions (fixed partition, sequential final sum).
const CHUNK: usize = 1 << 14;

/// Matrix-free operator on a grid.
#[derive(Clone, Debug)]
pub struct Operator {
    pub dims: [usize; 3],
    pub cx: Vec<f64>,
    pub cy: Vec<f64>,
    pub cz: Vec<f64>,
    /// Dirichlet mask.
    pub fixed: Vec<bool>,
}

fn harmonic(a: f64, b: f64) -> f64 {
    if a + b > 0.0 { 2.0 * a * b / (a + b) } else { 0.0 }
}

impl Operator {
    /// Face coefficients `scale · harmonic_mean(σ_a, σ_b)` (scale = h / h_finest on coarse levels).
    pub fn from_sigma(dims: [usize; 3], sigma: &[f64], fixed: Vec<bool>, scale: f64) -> Self {
        let [nx, ny, nz] = dims;
        let n = nx * ny * nz;
        assert_eq!(sigma.len(), n, "sigma length");
        assert_eq!(fixed.len(), n, "fixed length");
        let sxy = nx * ny;
        let coef = |stride: usize, axis_len: usize, axis: usize| -> Vec<f64> {
            (0..n)
                .into_par_iter()
                .map(|idx| {
                    let c = match axis {
                        0 => idx % nx,
                        1 => (idx / nx) % ny,
                        _ => idx / sxy,
                    };
                    if c + 1 < axis_len {
                        scale * harmonic(sigma[idx], sigma[idx + stride])
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

    /// Multiplies the coefficient of link `link` along `axis` (0 = x, 1 = y, 2 = z; the link
    /// joins `link` and its `+axis` neighbour) by `factor` (cut links at electrode surfaces).
    pub fn scale_link(&mut self, axis: usize, link: usize, factor: f64) {
        let c = match axis {
            0 => &mut self.cx,
            1 => &mut self.cy,
            _ => &mut self.cz,
        };
        c[link] *= factor;
    }

    /// Coefficient of link `link` along `axis` (S/m on the finest level; flux across the face
    /// = coefficient · h · Δφ).
    pub fn link(&self, axis: usize, link: usize) -> f64 {
        match axis {
            0 => self.cx[link],
            1 => self.cy[link],
            _ => self.cz[link],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.fixed.is_empty()
    }

    /// Σ over the 6 neighbours of `c_f · x_n`, and the diagonal Σ c_f.
    #[inline]
    fn stencil(&self, x: &[f64], i: usize, j: usize, k: usize, idx: usize) -> (f64, f64) {
        let [nx, ny, nz] = self.dims;
        let sxy = nx * ny;
        let (mut s, mut d) = (0.0, 0.0);
        if i > 0 {
            let c = self.cx[idx - 1];
            s += c * x[idx - 1];
            d += c;
        }
        if i + 1 < nx {
            let c = self.cx[idx];
            s += c * x[idx + 1];
            d += c;
        }
        if j > 0 {
            let c = self.cy[idx - nx];
            s += c * x[idx - nx];
            d += c;
        }
        if j + 1 < ny {
            let c = self.cy[idx];
            s += c * x[idx + nx];
            d += c;
        }
        if k > 0 {
            let c = self.cz[idx - sxy];
            s += c * x[idx - sxy];
            d += c;
        }
        if k + 1 < nz {
            let c = self.cz[idx];
            s += c * x[idx + sxy];
            d += c;
        }
        (s, d)
    }

    /// `out = rhs − A x` on free nodes (rhs = 0 when `None`), 0 on fixed nodes.
    /// With `x` holding the Dirichlet values this is the residual of the full problem; with `x`
    /// zero on fixed nodes, `−out` is `A x` of the reduced (SPD) operator.
    pub fn residual(&self, x: &[f64], rhs: Option<&[f64]>, out: &mut [f64]) {
        let [nx, ny, nz] = self.dims;
        let sxy = nx * ny;
        out.par_chunks_mut(sxy).enumerate().for_each(|(k, plane)| {
            for j in 0..ny {
                for i in 0..nx {
                    let idx = i + nx * j + sxy * k;
                    let o = &mut plane[i + nx * j];
                    if self.fixed[idx] {
                        *o = 0.0;
                    } else {
                        let (s, d) = if i > 0 && i + 1 < nx && j > 0 && j + 1 < ny && k > 0 && k + 1 < nz {
                            self.stencil_interior(x, idx)
                        } else {
                            self.stencil(x, i, j, k, idx)
                        };
                        *o = rhs.map_or(0.0, |r| r[idx]) + s - d * x[idx];
                    }
                }
            }
        });
    }

    /// Stencil without bounds checks for interior nodes.
    #[inline]
    fn stencil_interior(&self, x: &[f64], idx: usize) -> (f64, f64) {
        let nx = self.dims[0];
        let sxy = nx * self.dims[1];
        let (c0, c1, c2, c3, c4, c5) = (
            self.cx[idx - 1],
            self.cx[idx],
            self.cy[idx - nx],
            self.cy[idx],
            self.cz[idx - sxy],
            self.cz[idx],
        );
        let s = c0 * x[idx - 1]
            + c1 * x[idx + 1]
            + c2 * x[idx - nx]
            + c3 * x[idx + nx]
            + c4 * x[idx - sxy]
            + c5 * x[idx + sxy];
        (s, c0 + c1 + c2 + c3 + c4 + c5)
    }

    /// One Gauss–Seidel pass over nodes of colour `colour` ((i+j+k) mod 2) for `A e = r`,
    /// writing the whole updated vector into `out` (parallel over planes; deterministic).
    pub fn gs_colour(&self, e: &[f64], r: &[f64], colour: usize, out: &mut [f64]) {
        let [nx, ny, nz] = self.dims;
        let sxy = nx * ny;
        out.par_chunks_mut(sxy).enumerate().for_each(|(k, plane)| {
            plane.copy_from_slice(&e[k * sxy..(k + 1) * sxy]);
            for j in 0..ny {
                let interior = j > 0 && j + 1 < ny && k > 0 && k + 1 < nz;
                let mut i = (colour + j + k) % 2;
                while i < nx {
                    let idx = i + nx * j + sxy * k;
                    if !self.fixed[idx] {
                        let (s, d) = if interior && i > 0 && i + 1 < nx {
                            self.stencil_interior(e, idx)
                        } else {
                            self.stencil(e, i, j, k, idx)
                        };
                        plane[i + nx * j] = if d > 0.0 { (r[idx] + s) / d } else { 0.0 };
                    }
                    i += 2;
                }
            }
        });
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
    pub rel_tol: f64,
    pub max_iter: usize,
    /// Pre- and post-smoothing sweeps (each a red and a black pass).
    pub smooth_sweeps: usize,
}

impl Default for SolveOptions {
    fn default() -> Self {
        Self {
            rel_tol: 1e-6,
            max_iter: 200,
            smooth_sweeps: 2,
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
/// and receives the solution. `cancel` is polled once per iteration.
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
    let mut r = vec![0.0; n];
    // ‖b‖: residual with free nodes set to zero.
    {
        let mut g = phi.to_vec();
        g.par_iter_mut()
            .zip(h.fine().fixed.par_iter())
            .for_each(|(v, &f)| {
                if !f {
                    *v = 0.0
                }
            });
        h.fine().residual(&g, None, &mut r);
    }
    let bnorm = dot(&r, &r).sqrt();
    let mut report = SolveReport {
        levels: h.levels(),
        ..Default::default()
    };
    if bnorm == 0.0 {
        phi.par_iter_mut()
            .zip(h.fine().fixed.par_iter())
            .for_each(|(v, &f)| {
                if !f {
                    *v = 0.0
                }
            });
        report.converged = true;
        report.residual_history.push(0.0);
        return Ok(report);
    }
    h.fine().residual(phi, None, &mut r);
    let mut rel = dot(&r, &r).sqrt() / bnorm;
    report.residual_history.push(rel);
    if rel < opts.rel_tol {
        report.converged = true;
        return Ok(report);
    }
    let mut z = vec![0.0; n];
    let mut z_old = vec![0.0; n];
    let mut q = vec![0.0; n];
    h.precondition(&r, &mut z, opts.smooth_sweeps);
    let mut p = z.clone();
    let mut rz = dot(&r, &z);
    for it in 1..=opts.max_iter {
        if cancel() {
            return Err(SolveError::Cancelled);
        }
        // q = A p (reduced operator; p is zero on fixed nodes).
        h.fine().residual(&p, None, &mut q);
        q.par_iter_mut().for_each(|v| *v = -*v);
        let pq = dot(&p, &q);
        if pq <= 0.0 {
            break;
        }
        let alpha = rz / pq;
        phi.par_iter_mut()
            .zip(p.par_iter())
            .for_each(|(x, pv)| *x += alpha * pv);
        r.par_iter_mut()
            .zip(q.par_iter())
            .for_each(|(rv, qv)| *rv -= alpha * qv);
        rel = dot(&r, &r).sqrt() / bnorm;
        report.iterations = it;
        report.residual_history.push(rel);
        if rel < opts.rel_tol {
            report.converged = true;
            break;
        }
        std::mem::swap(&mut z, &mut z_old);
        h.precondition(&r, &mut z, opts.smooth_sweeps);
        let rz_new = dot(&r, &z);
        // Flexible (Polak–Ribière) β: the coarsest solve makes the preconditioner slightly variable.
        let beta = (rz_new - dot(&r, &z_old)) / rz;
        rz = rz_new;
        p.par_iter_mut()
            .zip(z.par_iter())
            .for_each(|(pv, zv)| *pv = zv + beta * *pv);
    }
    Ok(report)
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
