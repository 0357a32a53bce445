//! Geometric multigrid hierarchy (vertex-centred, factor-2 coarsening) used as a CG preconditioner.

use super::{Operator, dot};
use rayon::prelude::*;

/// Coarsest grids at or below this many nodes are solved by plain CG.
const COARSEST_NODES: usize = 4096;

struct Work {
    e: Vec<f64>,
    r: Vec<f64>,
    tmp: Vec<f64>,
}

impl Work {
    fn new(n: usize) -> Self {
        Self {
            e: vec![0.0; n],
            r: vec![0.0; n],
            tmp: vec![0.0; n],
        }
    }
}

/// Operators on all levels plus reusable workspaces.
pub struct Hierarchy {
    ops: Vec<Operator>,
    work: Vec<Work>,
}

fn can_coarsen(dims: [usize; 3]) -> bool {
    dims.iter().all(|&n| n >= 3 && !n.is_multiple_of(2)) && dims.iter().product::<usize>() > COARSEST_NODES
}

/// 1-D full-weighting taps of coarse node `c` on a fine axis of length `n`: (fine index, weight).
fn taps(c: usize, n: usize) -> impl Iterator<Item = (usize, f64)> {
    let f = 2 * c;
    [(f.wrapping_sub(1), 0.5), (f, 1.0), (f + 1, 0.5)]
        .into_iter()
        .filter(move |&(i, _)| i < n)
}

impl Hierarchy {
    /// Build from the finest operator and the node conductivity it was made from.
    pub fn new(fine: Operator, sigma: &[f64]) -> Self {
        let mut ops = vec![fine];
        let mut sig = sigma.to_vec();
        let mut scale = 1.0;
        while can_coarsen(ops[ops.len() - 1].dims) {
            let f = &ops[ops.len() - 1];
            let [fx, fy, fz] = f.dims;
            let dims = [fx.div_ceil(2), fy.div_ceil(2), fz.div_ceil(2)];
            let [cx, cy, cz] = dims;
            let n = cx * cy * cz;
            let (csig, cfix): (Vec<f64>, Vec<bool>) = (0..n)
                .into_par_iter()
                .map(|idx| {
                    let (i, j, k) = (idx % cx, (idx / cx) % cy, idx / (cx * cy));
                    let (mut s, mut w, mut fixed) = (0.0, 0.0, false);
                    for (kk, wk) in taps(k, fz) {
                        for (jj, wj) in taps(j, fy) {
                            for (ii, wi) in taps(i, fx) {
                                let fidx = ii + fx * (jj + fy * kk);
                                let ww = wi * wj * wk;
                                s += ww * sig[fidx];
                                w += ww;
                                fixed |= f.fixed[fidx];
                            }
                        }
                    }
                    (s / w, fixed)
                })
                .unzip();
            scale *= 2.0;
            ops.push(Operator::from_sigma(dims, &csig, cfix, scale));
            sig = csig;
        }
        let work = ops.iter().map(|o| Work::new(o.len())).collect();
        Self { ops, work }
    }

    pub fn fine(&self) -> &Operator {
        &self.ops[0]
    }

    pub fn levels(&self) -> usize {
        self.ops.len()
    }

    /// Level dimensions, finest first.
    pub fn level_dims(&self) -> Vec<[usize; 3]> {
        self.ops.iter().map(|o| o.dims).collect()
    }

    /// `z ≈ A⁻¹ r` by one symmetric V-cycle from zero.
    pub fn precondition(&mut self, r: &[f64], z: &mut [f64], sweeps: usize) {
        self.work[0].r.copy_from_slice(r);
        vcycle(&self.ops, &mut self.work, sweeps);
        z.copy_from_slice(&self.work[0].e);
    }
}

fn smooth(op: &Operator, w: &mut Work, order: [usize; 2], sweeps: usize) {
    for _ in 0..sweeps {
        for c in order {
            op.gs_colour(&w.e, &w.r, c, &mut w.tmp);
            std::mem::swap(&mut w.e, &mut w.tmp);
        }
    }
}

fn vcycle(ops: &[Operator], work: &mut [Work], sweeps: usize) {
    // An empty hierarchy has nothing to smooth (callers always build at least one level).
    let (Some(op), Some((w, rest))) = (ops.first(), work.split_first_mut()) else {
        return;
    };
    if ops.len() == 1 {
        coarse_cg(op, w);
        return;
    }
    w.e.fill(0.0);
    smooth(op, w, [0, 1], sweeps);
    op.residual(&w.e, Some(&w.r), &mut w.tmp);
    let c = &ops[1];
    restrict(op.dims, &w.tmp, c, &mut rest[0].r);
    vcycle(&ops[1..], rest, sweeps);
    prolong_add(op, c.dims, &rest[0].e, &mut w.e);
    smooth(op, w, [1, 0], sweeps);
}

/// Coarse residual = Pᵀ (fine residual), zero on coarse fixed nodes.
fn restrict(fdims: [usize; 3], rf: &[f64], c: &Operator, rc: &mut [f64]) {
    let [fx, fy, fz] = fdims;
    let [cx, cy, _] = c.dims;
    rc.par_chunks_mut(cx * cy).enumerate().for_each(|(k, plane)| {
        for j in 0..cy {
            for i in 0..cx {
                let cidx = i + cx * (j + cy * k);
                let mut s = 0.0;
                if !c.fixed[cidx] {
                    for (kk, wk) in taps(k, fz) {
                        for (jj, wj) in taps(j, fy) {
                            for (ii, wi) in taps(i, fx) {
                                s += wi * wj * wk * rf[ii + fx * (jj + fy * kk)];
                            }
                        }
                    }
                }
                plane[i + cx * j] = s;
            }
        }
    });
}

/// e_fine += P e_coarse (trilinear), skipping fine fixed nodes.
fn prolong_add(f: &Operator, cdims: [usize; 3], ec: &[f64], ef: &mut [f64]) {
    let [fx, fy, _] = f.dims;
    let [cx, cy, _] = cdims;
    let parents = |i: usize| -> [(usize, f64); 2] {
        if i.is_multiple_of(2) {
            [(i / 2, 1.0), (i / 2, 0.0)]
        } else {
            [(i / 2, 0.5), (i / 2 + 1, 0.5)]
        }
    };
    ef.par_chunks_mut(fx * fy).enumerate().for_each(|(k, plane)| {
        for j in 0..fy {
            for i in 0..fx {
                let fidx = i + fx * (j + fy * k);
                if f.fixed[fidx] {
                    continue;
                }
                let mut s = 0.0;
                for (kk, wk) in parents(k) {
                    if wk == 0.0 {
                        continue;
                    }
                    for (jj, wj) in parents(j) {
                        if wj == 0.0 {
                            continue;
                        }
                        for (ii, wi) in parents(i) {
                            if wi == 0.0 {
                                continue;
                            }
                            s += wi * wj * wk * ec[ii + cx * (jj + cy * kk)];
                        }
                    }
                }
                plane[i + fx * j] += s;
            }
        }
    });
}

/// Coarsest level: CG on A e = r to a tight tolerance (small grid).
fn coarse_cg(op: &Operator, w: &mut Work) {
    let n = op.len();
    w.e.fill(0.0);
    let mut res = w.r.clone();
    for (v, &f) in res.iter_mut().zip(&op.fixed) {
        if f {
            *v = 0.0;
        }
    }
    let r0 = dot(&res, &res);
    if r0 == 0.0 {
        return;
    }
    let mut p = res.clone();
    let mut q = vec![0.0; n];
    let mut rr = r0;
    for _ in 0..4 * n.max(50) {
        op.residual(&p, None, &mut q);
        q.iter_mut().for_each(|v| *v = -*v);
        let pq = dot(&p, &q);
        if pq <= 0.0 {
            break;
        }
        let a = rr / pq;
        w.e.iter_mut().zip(&p).for_each(|(x, pv)| *x += a * pv);
        res.iter_mut().zip(&q).for_each(|(x, qv)| *x -= a * qv);
        let rr_new = dot(&res, &res);
        if rr_new <= 1e-20 * r0 {
            break;
        }
        let b = rr_new / rr;
        rr = rr_new;
        p.iter_mut().zip(&res).for_each(|(pv, rv)| *pv = rv + b * *pv);
    }
}
