//! Exact solve of the coarsest level: banded Cholesky in natural order (band `nx·ny`), so the
//! multigrid cycle is a fixed linear map; CG for grids too flat to coarsen far enough.

use super::build::NatLevel;
use super::mg::Level;

/// Largest banded factor (entries) for the exact coarsest solve; beyond it, CG is used.
const MAX_BAND_ENTRIES: usize = 1 << 22;

/// Natural-order operator of the coarsest level (`diag` = 0 marks nodes that are not unknowns).
pub(super) struct NatOp {
    dims: [usize; 3],
    cx: Vec<f32>,
    cy: Vec<f32>,
    cz: Vec<f32>,
    diag: Vec<f64>,
}

impl NatOp {
    fn free(&self, idx: usize) -> bool {
        self.diag[idx] > 0.0
    }
}

/// Exact solver of the coarsest level.
pub(super) enum Coarsest {
    /// Banded Cholesky factor `L` (row `i` holds `L[i][i − b]` at `i·(bw + 1) + b`), natural order.
    Band {
        bw: usize,
        l: Vec<f64>,
        inert: Vec<bool>,
    },
    /// Grids too flat to coarsen far: conjugate gradients on the natural-order operator.
    Cg(NatOp),
}

impl Coarsest {
    pub fn new(level: &NatLevel) -> Self {
        let nat = NatOp {
            dims: level.dims,
            cx: level.cx.to_vec(),
            cy: level.cy.to_vec(),
            cz: level.cz.to_vec(),
            diag: level.diag::<f32>(),
        };
        let [nx, ny, _] = nat.dims;
        let n = nat.diag.len();
        let bw = nx * ny;
        if n * (bw + 1) > MAX_BAND_ENTRIES {
            return Self::Cg(nat);
        }
        let w = bw + 1;
        let mut l = vec![0.0f64; n * w];
        let mut inert = vec![false; n];
        // Off-diagonal entry A[i][i − b] of the reduced operator (both ends unknown).
        let a = |i: usize, b: usize| -> f64 {
            let jn = i - b;
            if !(nat.free(i) && nat.free(jn)) {
                0.0
            } else if b == bw {
                -f64::from(nat.cz[jn])
            } else if b == nx {
                -f64::from(nat.cy[jn])
            } else if b == 1 {
                -f64::from(nat.cx[jn])
            } else {
                0.0
            }
        };
        for i in 0..n {
            for b in (1..=bw.min(i)).rev() {
                let j = i - b;
                if inert[j] {
                    continue;
                }
                // Σ over m < j within both bands: L[i][m] L[j][m].
                let lo = i.saturating_sub(bw);
                let mut s = a(i, b);
                for m in lo..j {
                    s -= l[i * w + (i - m)] * l[j * w + (j - m)];
                }
                l[i * w + b] = s / l[j * w];
            }
            let d0 = nat.diag[i];
            let lo = i.saturating_sub(bw);
            let mut d = d0;
            for m in lo..i {
                d -= l[i * w + (i - m)].powi(2);
            }
            // Nodes without coupling (or a singular direction) get a zero correction.
            if d0 <= 0.0 || d <= 1e-12 * d0 {
                inert[i] = true;
                for b in 0..w {
                    l[i * w + b] = 0.0;
                }
            } else {
                l[i * w] = d.sqrt();
            }
        }
        Self::Band { bw, l, inert }
    }

    /// `lev.e = A⁻¹ lev.r` on the coarsest level.
    pub fn solve(&self, lev: &mut Level) {
        let lay = lev.lay;
        let [nx, ny, nz] = lay.dims;
        let n = nx * ny * nz;
        let mut x = vec![0.0f64; n];
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let (c, s) = lay.at(i, j, k);
                    x[i + nx * (j + ny * k)] = f64::from(lev.r[c][s]);
                }
            }
        }
        match self {
            Self::Band { bw, l, inert } => {
                let (bw, w) = (*bw, *bw + 1);
                for i in 0..n {
                    if inert[i] {
                        x[i] = 0.0;
                        continue;
                    }
                    let mut s = x[i];
                    for m in i.saturating_sub(bw)..i {
                        s -= l[i * w + (i - m)] * x[m];
                    }
                    x[i] = s / l[i * w];
                }
                for i in (0..n).rev() {
                    if inert[i] {
                        continue;
                    }
                    let xi = x[i] / l[i * w];
                    x[i] = xi;
                    for m in i.saturating_sub(bw)..i {
                        x[m] -= l[i * w + (i - m)] * xi;
                    }
                }
            }
            Self::Cg(nat) => x = nat_cg(nat, &x),
        }
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let (c, s) = lay.at(i, j, k);
                    lev.e[c][s] = if lev.invd[c][s] != 0.0 {
                        x[i + nx * (j + ny * k)] as f32
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

/// Sequential CG on a natural-order level (fallback coarsest solver), to 1e-8 relative residual.
fn nat_cg(nat: &NatOp, b: &[f64]) -> Vec<f64> {
    let [nx, ny, _] = nat.dims;
    let sxy = nx * ny;
    let n = nat.diag.len();
    let apply = |p: &[f64], q: &mut [f64]| {
        for idx in 0..n {
            if !nat.free(idx) {
                q[idx] = 0.0;
                continue;
            }
            let mut s = nat.diag[idx] * p[idx];
            let mut nb = |c: f32, m: usize| {
                if c != 0.0 && nat.free(m) {
                    s -= f64::from(c) * p[m];
                }
            };
            if idx + 1 < n {
                nb(nat.cx[idx], idx + 1);
            }
            if idx + nx < n {
                nb(nat.cy[idx], idx + nx);
            }
            if idx + sxy < n {
                nb(nat.cz[idx], idx + sxy);
            }
            if idx >= 1 {
                nb(nat.cx[idx - 1], idx - 1);
            }
            if idx >= nx {
                nb(nat.cy[idx - nx], idx - nx);
            }
            if idx >= sxy {
                nb(nat.cz[idx - sxy], idx - sxy);
            }
            q[idx] = s;
        }
    };
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut x = vec![0.0; n];
    let mut r: Vec<f64> = b
        .iter()
        .enumerate()
        .map(|(i, &v)| if nat.free(i) { v } else { 0.0 })
        .collect();
    let r0 = dot(&r, &r);
    if r0 == 0.0 {
        return x;
    }
    let mut p = r.clone();
    let mut q = vec![0.0; n];
    let mut rr = r0;
    for _ in 0..4 * n.max(50) {
        apply(&p, &mut q);
        let pq = dot(&p, &q);
        if pq <= 0.0 {
            break;
        }
        let a = rr / pq;
        x.iter_mut().zip(&p).for_each(|(x, pv)| *x += a * pv);
        r.iter_mut().zip(&q).for_each(|(x, qv)| *x -= a * qv);
        let rr_new = dot(&r, &r);
        if rr_new <= 1e-16 * r0 {
            break;
        }
        let beta = rr_new / rr;
        rr = rr_new;
        p.iter_mut().zip(&r).for_each(|(pv, rv)| *pv = rv + beta * *pv);
    }
    x
}
