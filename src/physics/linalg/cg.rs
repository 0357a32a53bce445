//! Passes of the outer conjugate-gradient iteration on the finest level (colour-split storage).
//!
//! The iterate `x` and the residual `r` are `f64`; the search direction `p` and the preconditioned
//! residual `z` are `f32`. `A p` is evaluated in `f64` from the stored (`f32`) coefficients, so
//! `r` stays the true residual of `x` to `f64` rounding however `p` was rounded: a rounded `p` only
//! perturbs the search direction, which the flexible (Polak–Ribière) update tolerates. Every pass
//! covers both colours of a plane at once so that each coefficient is read once per pass, and
//! every reduction is summed per row in fixed lanes, per plane in row order and over planes in
//! plane order (deterministic, independent of the thread count).

use super::layout::{Layout, Nb, RowCoefs};
use super::mg::{Hierarchy, Level};
use rayon::prelude::*;

/// Outer CG vectors.
pub(super) struct Work {
    x: [Vec<f64>; 2],
    r: [Vec<f64>; 2],
    p: [Vec<f32>; 2],
    /// Previous `z` (for the Polak–Ribière β).
    pub z_old: [Vec<f32>; 2],
    zeros64: Vec<f64>,
}

impl Work {
    pub fn new(lay: &Layout) -> Self {
        let len = lay.len();
        Self {
            x: [vec![0.0; len], vec![0.0; len]],
            r: [vec![0.0; len], vec![0.0; len]],
            p: [vec![0.0; len], vec![0.0; len]],
            z_old: [vec![0.0; len], vec![0.0; len]],
            zeros64: vec![0.0; lay.plane()],
        }
    }
}

/// Sum in eight fixed lanes (vectorises; deterministic).
fn sum_lanes(v: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let mut it = v.chunks_exact(8);
    for c in &mut it {
        for l in 0..8 {
            acc[l] += c[l];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for v in it.remainder() {
        s += v;
    }
    s
}

/// `out = d · v − Σ c · v_nb` (d = Σ of the six links) for the nodes of one row, in `f64`.
#[inline(never)]
fn apply_row<T: Copy + Into<f64>>(out: &mut [f64], own: &[T], a: &RowCoefs<f32>, v: &Nb<T>) {
    let n = out.len();
    let own = &own[..n];
    let [axm, axp, aym, ayp, azm, azp] = a.links.cut(n);
    let [vxm, vxp, vym, vyp, vzm, vzp] = v.cut(n);
    for s in 0..n {
        let c = [axm[s], axp[s], aym[s], ayp[s], azm[s], azp[s]].map(f64::from);
        let d = (c[0] + c[1]) + (c[2] + c[3]) + (c[4] + c[5]);
        let nb = (c[0] * vxm[s].into() + c[1] * vxp[s].into())
            + (c[2] * vym[s].into() + c[3] * vyp[s].into())
            + (c[4] * vzm[s].into() + c[5] * vzp[s].into());
        out[s] = d * own[s].into() - nb;
    }
}

/// Loads `phi` (natural order) into `x`; returns (‖b‖², ‖r‖²) and sets `r = b − A x`, with `b` the
/// coupling of the unknowns to the Dirichlet values.
pub(super) fn start(h: &mut Hierarchy, phi: &[f64]) -> (f64, f64) {
    let Hierarchy {
        levels, cg, outer, ..
    } = h;
    let lev = &mut levels[0];
    let lay = lev.lay;
    let [nx, ny, nz] = lay.dims;
    let plane = lay.plane();
    {
        let [x0, x1] = &mut cg.x;
        x0[..plane * nz]
            .par_chunks_mut(plane)
            .zip(x1[..plane * nz].par_chunks_mut(plane))
            .enumerate()
            .for_each(|(k, (p0, p1))| {
                for j in 0..ny {
                    let b = lay.row_in_plane(j) + 1;
                    for i in 0..nx {
                        let v = phi[i + nx * (j + ny * k)];
                        if (i + j + k) & 1 == 0 {
                            p0[b + i / 2] = v;
                        } else {
                            p1[b + i / 2] = v;
                        }
                    }
                }
            });
    }
    let Level {
        r: r32, invd, zeros, ..
    } = lev;
    let (co, invd, zeros) = (&*outer, &*invd, &zeros[..]);
    let (x, zeros64) = (&cg.x, &cg.zeros64[..]);
    let [ra, rb] = &mut cg.r;
    let [sa, sb] = r32;
    let n = lay.block(0, 0, 0).len;
    let parts: Vec<(f64, f64)> = (
        ra.par_chunks_mut(plane),
        rb.par_chunks_mut(plane),
        sa.par_chunks_mut(plane),
        sb.par_chunks_mut(plane),
    )
        .into_par_iter()
        .enumerate()
        .map(|(k, (ra, rb, sa, sb))| {
            let mut ax = vec![0.0f64; n];
            let mut bq = vec![0.0f64; n];
            let mut rq = vec![0.0f64; n];
            let (mut bb, mut rr) = (0.0, 0.0);
            let mut outs = [(ra, sa), (rb, sb)];
            for (c, (r64, r32)) in outs.iter_mut().enumerate() {
                for b in 0..2 {
                    let bl = lay.block(c, b, k);
                    let a = co.block(&lay, invd, c, &bl, k);
                    let xn = lay.nb_block_full(&bl, &x[1 - c], zeros64, k);
                    let g = k * plane + bl.start;
                    let xo = &x[c][g..g + n];
                    let mn = lay.nb_block_full(&bl, &invd[1 - c], zeros, k);
                    apply_row(&mut ax, xo, &a, &xn);
                    dirichlet_row(&mut bq, &a, &xn, &mn);
                    let r64 = &mut r64[bl.start..bl.start + n];
                    let r32 = &mut r32[bl.start..bl.start + n];
                    for s in 0..n {
                        let free = a.invd[s] != 0.0;
                        let rv = if free { -ax[s] } else { 0.0 };
                        r64[s] = rv;
                        r32[s] = rv as f32;
                        rq[s] = rv * rv;
                        bq[s] = if free { bq[s] * bq[s] } else { 0.0 };
                    }
                    bb += sum_lanes(&bq);
                    rr += sum_lanes(&rq);
                }
            }
            (bb, rr)
        })
        .collect();
    parts.iter().fold((0.0, 0.0), |(b, r), (pb, pr)| (b + pb, r + pr))
}

/// `out = Σ c · v_nb` over neighbours whose inverse diagonal is 0 (Dirichlet nodes).
#[inline(never)]
fn dirichlet_row(out: &mut [f64], a: &RowCoefs<f32>, v: &Nb<f64>, m: &Nb<f32>) {
    let n = out.len();
    out.fill(0.0);
    for ((c, v), m) in a.links.cut(n).into_iter().zip(v.cut(n)).zip(m.cut(n)) {
        let (c, v, m) = (&c[..n], &v[..n], &m[..n]);
        for s in 0..n {
            if m[s] == 0.0 {
                out[s] += f64::from(c[s]) * v[s];
            }
        }
    }
}

/// `p · A p` (the reduced operator; `p` is zero on Dirichlet nodes) as the link energy
/// `Σ c (p_a − p_b)²`, each link once (from its `−` end): every term is positive, so single
/// precision per term is accurate (it only sets the step length α; `r` is updated in `f64`).
pub(super) fn p_ap(h: &Hierarchy) -> f64 {
    let lev = &h.levels[0];
    let (lay, co, invd, zeros, p) = (&lev.lay, &h.outer, &lev.invd, &lev.zeros[..], &h.cg.p);
    let (nz, plane) = (lay.dims[2], lay.plane());
    let n = lay.block(0, 0, 0).len;
    let parts: Vec<f64> = (0..nz)
        .into_par_iter()
        .map(|k| {
            let mut t = vec![0.0f64; n];
            let mut acc = 0.0;
            for c in 0..2 {
                for b in 0..2 {
                    let bl = lay.block(c, b, k);
                    let a = co.block(lay, invd, c, &bl, k);
                    let g = k * plane + bl.start;
                    let nb = lay.nb_block_full(&bl, &p[1 - c], zeros, k);
                    energy_row(&mut t, &p[c][g..g + n], &a, &nb);
                    acc += sum_lanes(&t);
                }
            }
            acc
        })
        .collect();
    parts.iter().sum()
}

/// `out = Σ over the +x, +y, +z links of c (p − p_nb)²` for the nodes of one row.
#[inline(never)]
fn energy_row(out: &mut [f64], own: &[f32], a: &RowCoefs<f32>, v: &Nb<f32>) {
    let n = out.len();
    let (own, ax, ay, az) = (&own[..n], &a.links.xp[..n], &a.links.yp[..n], &a.links.zp[..n]);
    let (vx, vy, vz) = (&v.xp[..n], &v.yp[..n], &v.zp[..n]);
    for s in 0..n {
        let (dx, dy, dz) = (own[s] - vx[s], own[s] - vy[s], own[s] - vz[s]);
        out[s] = f64::from(ax[s] * dx * dx + ay[s] * dy * dy + az[s] * dz * dz);
    }
}

/// `x += α p`, `r −= α A p` (recomputing `A p`), `r32 = r`; returns ‖r‖². Also starts the next
/// V-cycle: its first red pass from a zero correction is `e_red = r_red / d`, written here into the
/// buffer that [`Hierarchy::swap_z_old`] turns into the finest `e`.
pub(super) fn update(h: &mut Hierarchy, alpha: f64) -> f64 {
    let Hierarchy {
        levels, cg, outer, ..
    } = h;
    let Level {
        lay,
        invd,
        zeros,
        r: r32,
        ..
    } = &mut levels[0];
    let (lay, co, invd, zeros) = (*lay, &*outer, &*invd, &zeros[..]);
    let plane = lay.plane();
    let n = lay.block(0, 0, 0).len;
    let Work { x, r, p, z_old, .. } = cg;
    let p = &*p;
    let [xa, xb] = x;
    let [ra, rb] = r;
    let [sa, sb] = r32;
    let parts: Vec<f64> = (
        xa.par_chunks_mut(plane),
        xb.par_chunks_mut(plane),
        ra.par_chunks_mut(plane),
        rb.par_chunks_mut(plane),
        sa.par_chunks_mut(plane),
        sb.par_chunks_mut(plane),
        z_old[0].par_chunks_mut(plane),
    )
        .into_par_iter()
        .enumerate()
        .map(|(k, (xa, xb, ra, rb, sa, sb, ea))| {
            let mut ap = vec![0.0f64; n];
            let mut acc = 0.0;
            let mut ea = Some(ea);
            for (c, (x, r, r32)) in [(xa, ra, sa), (xb, rb, sb)].into_iter().enumerate() {
                for b in 0..2 {
                    let bl = lay.block(c, b, k);
                    let a = co.block(&lay, invd, c, &bl, k);
                    let g = k * plane + bl.start;
                    let own = &p[c][g..g + n];
                    apply_row(&mut ap, own, &a, &lay.nb_block_full(&bl, &p[1 - c], zeros, k));
                    let rg = bl.start..bl.start + n;
                    let (x, r, r32) = (&mut x[rg.clone()], &mut r[rg.clone()], &mut r32[rg.clone()]);
                    update_row(x, r, r32, own, &mut ap, a.invd, alpha);
                    if let Some(e) = ea.as_deref_mut() {
                        for ((e, &rv), &d) in e[rg].iter_mut().zip(&*r32).zip(a.invd) {
                            *e = d * rv;
                        }
                    }
                    acc += sum_lanes(&ap);
                }
                ea = None;
            }
            acc
        })
        .collect();
    parts.iter().sum()
}

/// One row of [`update`]; leaves `r²` in `ap`.
#[inline(never)]
fn update_row(
    x: &mut [f64],
    r: &mut [f64],
    r32: &mut [f32],
    p: &[f32],
    ap: &mut [f64],
    invd: &[f32],
    alpha: f64,
) {
    let n = x.len();
    let (r, r32, p, ap, invd) = (&mut r[..n], &mut r32[..n], &p[..n], &mut ap[..n], &invd[..n]);
    for s in 0..n {
        x[s] += alpha * f64::from(p[s]);
        let rv = if invd[s] != 0.0 { r[s] - alpha * ap[s] } else { 0.0 };
        r[s] = rv;
        r32[s] = rv as f32;
        ap[s] = rv * rv;
    }
}

/// (`r · z`, `r · z_old`) with `z` the preconditioner output.
pub(super) fn dots(h: &Hierarchy) -> (f64, f64) {
    let lev = &h.levels[0];
    let (r, z, zo) = (&lev.r, &lev.e, &h.cg.z_old);
    let plane = lev.lay.plane();
    let nz = lev.lay.dims[2];
    let parts: Vec<(f64, f64)> = (0..nz)
        .into_par_iter()
        .map(|k| {
            let rg = k * plane..(k + 1) * plane;
            (0..2).fold((0.0, 0.0), |(a, b), c| {
                let r = &r[c][rg.clone()];
                (
                    a + dot_lanes(r, &z[c][rg.clone()]),
                    b + dot_lanes(r, &zo[c][rg.clone()]),
                )
            })
        })
        .collect();
    parts.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y))
}

/// `a · b` of two `f32` vectors, products and sums in `f64`, eight fixed lanes.
fn dot_lanes(a: &[f32], b: &[f32]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            acc[l] += f64::from(x[l]) * f64::from(y[l]);
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += f64::from(*x) * f64::from(*y);
    }
    s
}

/// `p = z + β p` (`β = None`: `p = z`).
pub(super) fn update_p(h: &mut Hierarchy, beta: Option<f64>) {
    let z = &h.levels[0].e;
    for c in 0..2 {
        let (p, z) = (&mut h.cg.p[c], &z[c]);
        match beta {
            None => p.par_iter_mut().zip(z.par_iter()).for_each(|(p, &z)| *p = z),
            Some(b) => {
                let b = b as f32;
                p.par_iter_mut()
                    .zip(z.par_iter())
                    .for_each(|(p, &z)| *p = z + b * *p);
            }
        }
    }
}

/// `phi = x` (natural order).
pub(super) fn finish(h: &Hierarchy, phi: &mut [f64]) {
    let lay = h.levels[0].lay;
    let [nx, ny, _] = lay.dims;
    let x = &h.cg.x;
    phi.par_chunks_mut(nx * ny).enumerate().for_each(|(k, pl)| {
        for j in 0..ny {
            let b = lay.row(j, k) + 1;
            for (i, v) in pl[nx * j..nx * (j + 1)].iter_mut().enumerate() {
                *v = x[(i + j + k) & 1][b + i / 2];
            }
        }
    });
}

/// Sets the unknowns of `phi` to zero (problem with zero right-hand side).
pub(super) fn zero_unknowns(h: &Hierarchy, phi: &mut [f64]) {
    phi.par_iter_mut()
        .zip(h.fine().fixed.par_iter())
        .for_each(|(v, &f)| {
            if !f {
                *v = 0.0;
            }
        });
}
