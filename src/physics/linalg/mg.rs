//! Geometric multigrid hierarchy (vertex-centred, factor-2 coarsening) used as the CG
//! preconditioner: levels (built in `build.rs`), the cycle, and its passes.
//!
//! Every level is stored red–black split (see `layout.rs`) with bfloat16 links and `f32` vectors.
//! A cycle on a level: red–black Gauss–Seidel pre-smoothing (red, black), restriction of the red
//! residuals (the black ones are exactly zero right after a black pass), the coarse level
//! (`gamma` visits below the first coarse level), trilinear prolongation into the red nodes (the
//! post-smoother starts with a black pass, which reads only red), post-smoothing (black, red). The
//! pre- and post-smoothers are mirror images and the coarsest level is solved exactly (`coarse.rs`),
//! so the cycle is a symmetric positive definite linear map (up to rounding).

use super::Operator;
use super::build::NatLevel;
use super::coarse::Coarsest;
use super::layout::{Bf16, Coef, Coefs, Layout, Nb, RowCoefs};
use rayon::prelude::*;

/// Coarsening stops at or below this many nodes.
const COARSEST_NODES: usize = 1000;
/// Levels with fewer nodes run sequentially (rayon's fork–join costs more than the work).
const PAR_NODES: usize = 1 << 15;

/// Coarsen while the level is above [`COARSEST_NODES`] and every axis has at least 3 nodes (the
/// coarse one then has at least 2). Thin slabs thus still coarsen down to a small exact solve
/// (measured on 321 × 321 × 9: 8 W-cycle iterations in 0.23 s instead of 0.77 s with a CG
/// coarsest level of 81 × 81 × 3).
fn can_coarsen(dims: [usize; 3]) -> bool {
    dims.iter().all(|&n| n >= 3) && dims.iter().product::<usize>() > COARSEST_NODES
}

/// One level: operator, work vectors and scratch, all colour-split.
pub(super) struct Level {
    pub lay: Layout,
    /// Smoother operator: bfloat16 links and the inverse of the diagonal of the rounded links
    /// (0 on Dirichlet nodes, padding and uncoupled nodes).
    pub co: Coefs<Bf16>,
    pub invd: [Vec<f32>; 2],
    /// Zeros standing in for planes outside the grid (one plane).
    pub zeros: Vec<f32>,
    /// Correction (on the finest level: the preconditioned residual `z`).
    pub e: [Vec<f32>; 2],
    /// Right-hand side (on the finest level: the CG residual rounded to `f32`).
    pub r: [Vec<f32>; 2],
    /// Residual of the red nodes after pre-smoothing (black residuals are zero then).
    res: Vec<f32>,
    /// Natural-order copy of `e` (rows of `nx + 1`, last entry 0) for prolongation.
    nat: Vec<f32>,
    pub par: bool,
}

impl Level {
    /// The level and its exact (`f32`) links.
    fn new(nat: &NatLevel, coarser: bool, finer: bool) -> (Self, Coefs<f32>) {
        let lay = Layout::new(nat.dims);
        let exact = Coefs::<f32>::new(&lay, &nat.cx, &nat.cy, &nat.cz);
        let co = exact.convert::<Bf16>();
        let invd = co.inverse_diagonal(&lay, &nat.diagonal_extra(&lay));
        let len = lay.len();
        let [nx, ny, nz] = nat.dims;
        let level = Self {
            lay,
            co,
            invd,
            zeros: vec![0.0; lay.plane()],
            e: [vec![0.0; len], vec![0.0; len]],
            r: [vec![0.0; len], vec![0.0; len]],
            res: if coarser { vec![0.0; len] } else { Vec::new() },
            nat: if finer {
                vec![0.0; (nx + 1) * ny * nz]
            } else {
                Vec::new()
            },
            par: nat.len() >= PAR_NODES,
        };
        (level, exact)
    }
}

/// Runs `f(k, plane)` over the planes of a colour array, in parallel if `par`.
fn planes_mut<F>(par: bool, lay: &Layout, v: &mut [f32], f: F)
where
    F: Fn(usize, &mut [f32]) + Sync + Send,
{
    let p = lay.plane();
    let v = &mut v[..p * lay.dims[2]];
    if par {
        v.par_chunks_mut(p).enumerate().for_each(|(k, pl)| f(k, pl));
    } else {
        v.chunks_mut(p).enumerate().for_each(|(k, pl)| f(k, pl));
    }
}

/// Runs `f(k, plane_red, plane_black)` over the planes of two colour arrays, in parallel if `par`.
fn planes2_mut<F>(par: bool, lay: &Layout, a: &mut [f32], b: &mut [f32], f: F)
where
    F: Fn(usize, &mut [f32], &mut [f32]) + Sync + Send,
{
    let p = lay.plane();
    let nz = lay.dims[2];
    let (a, b) = (&mut a[..p * nz], &mut b[..p * nz]);
    if par {
        a.par_chunks_mut(p)
            .zip(b.par_chunks_mut(p))
            .enumerate()
            .for_each(|(k, (pa, pb))| f(k, pa, pb));
    } else {
        a.chunks_mut(p)
            .zip(b.chunks_mut(p))
            .enumerate()
            .for_each(|(k, (pa, pb))| f(k, pa, pb));
    }
}

/// `r + Σ c · e_nb` at slot `s` of a row (`a`, `e`: [`Nb::cut`] to the row's length).
#[inline(always)]
fn gather<C: Coef>(r: f32, a: &[&[C]; 6], e: &[&[f32]; 6], s: usize) -> f32 {
    r + a[0][s].get() * e[0][s]
        + a[1][s].get() * e[1][s]
        + a[2][s].get() * e[2][s]
        + a[3][s].get() * e[3][s]
        + a[4][s].get() * e[4][s]
        + a[5][s].get() * e[5][s]
}

/// `out = invd · (r + Σ c · e_nb)`: one Gauss–Seidel update of a row of one colour.
#[inline(never)]
fn relax_row<C: Coef>(out: &mut [f32], r: &[f32], a: &RowCoefs<C>, e: &Nb<f32>) {
    let n = out.len();
    let (r, invd) = (&r[..n], &a.invd[..n]);
    let (a, e) = (a.links.cut(n), e.cut(n));
    for s in 0..n {
        out[s] = invd[s] * gather(r[s], &a, &e, s);
    }
}

/// A vector on a level: one array per colour.
type Colours = [Vec<f32>; 2];

/// What a pass over a level reads besides its vectors: layout, smoother links, inverse diagonal
/// and the zero plane.
#[derive(Clone, Copy)]
struct Stencil<'a> {
    lay: &'a Layout,
    co: &'a Coefs<Bf16>,
    invd: &'a [Vec<f32>; 2],
    zeros: &'a [f32],
}

/// Relaxes colour `c` on plane `k` (`out`), from the other colour's planes `k ∓ 1` and `k`.
fn relax_plane(
    Stencil { lay, co, invd, zeros }: Stencil<'_>,
    r: &[f32],
    c: usize,
    k: usize,
    out: &mut [f32],
    outer: [Option<&[f32]>; 2],
    here: &[f32],
) {
    let p = k * lay.plane();
    for b in 0..2 {
        let bl = lay.block(c, b, k);
        let a = co.block(lay, invd, c, &bl, k);
        let nb = lay.nb_block(&bl, outer, here, zeros);
        let rg = bl.start..bl.start + bl.len;
        relax_row(
            &mut out[rg.clone()],
            &r[p + bl.start..p + bl.start + bl.len],
            &a,
            &nb,
        );
    }
}

/// Slabs `[k0, k1)` of at least three planes, about two per thread (one if the level is thin).
fn slab_bounds(nz: usize) -> Vec<(usize, usize)> {
    let count = (2 * rayon::current_num_threads()).min(nz / 3).max(1);
    (0..count)
        .map(|s| (s * nz / count, (s + 1) * nz / count))
        .collect()
}

/// `out = r + Σ c · e_nb − d · e` on unknowns, 0 elsewhere.
#[inline(never)]
fn residual_row<C: Coef>(out: &mut [f32], r: &[f32], own: &[f32], a: &RowCoefs<C>, e: &Nb<f32>) {
    let n = out.len();
    let (r, own, invd) = (&r[..n], &own[..n], &a.invd[..n]);
    let (a, e) = (a.links.cut(n), e.cut(n));
    for s in 0..n {
        let acc = gather(r[s], &a, &e, s);
        // Unconditional division (inf/NaN where invd = 0 is discarded by the select): keeps the
        // loop branch-free so that it vectorises.
        let res = acc - own[s] / invd[s];
        out[s] = if invd[s] != 0.0 { res } else { 0.0 };
    }
}

impl Level {
    /// The level's stencil, correction `e`, right-hand side `r` and red residual, borrowed apart.
    fn split(&mut self) -> (Stencil<'_>, &mut Colours, &Colours, &mut [f32]) {
        let Self {
            lay,
            co,
            invd,
            zeros,
            e,
            r,
            res,
            ..
        } = self;
        (Stencil { lay, co, invd, zeros }, e, r, res)
    }

    /// Red–black Gauss–Seidel pass over colour `c` (reads the other colour, updates `c` in place).
    fn relax(&mut self, c: usize) {
        let par = self.par;
        let (st, [e0, e1], r, _) = self.split();
        let (own, oth) = if c == 0 { (e0, &*e1) } else { (e1, &*e0) };
        let (lay, r) = (st.lay, &r[c][..]);
        let p = lay.plane();
        let nz = lay.dims[2];
        let plane = |q: usize| &oth[q * p..(q + 1) * p];
        planes_mut(par, lay, own, |k, pl| {
            let below = (k > 0).then(|| plane(k - 1));
            let above = (k + 1 < nz).then(|| plane(k + 1));
            relax_plane(st, r, c, k, pl, [below, above], plane(k));
        });
    }

    /// `relax(a)` then `relax(1 − a)`, pipelined plane by plane so that each plane's data is
    /// fetched from memory once for both colours. Slabs of planes run in parallel: first colour
    /// `a` on every plane with the other colour on the slab's inner planes one plane behind, then
    /// the other colour on each slab's first and last planes (they need colour `a` of the
    /// neighbouring slabs). Every node sees exactly the values of the two separate passes, so the
    /// result does not depend on the slab count.
    fn sweep2(&mut self, a: usize) {
        let b = 1 - a;
        let nz = self.lay.dims[2];
        let slabs = slab_bounds(nz);
        if !self.par || slabs.len() < 2 {
            self.relax(a);
            self.relax(b);
            return;
        }
        let (st, [e0, e1], r, _) = self.split();
        let lay = st.lay;
        let p = lay.plane();
        let (ea, eb) = if a == 0 { (e0, e1) } else { (e1, e0) };
        let (ra, rb) = (&r[a][..], &r[b][..]);
        // Colour b per slab: first plane, inner planes, last plane.
        let (mut heads, mut inners, mut tails) = (Vec::new(), Vec::new(), Vec::new());
        let mut rest: &mut [f32] = &mut eb[..];
        for &(k0, k1) in &slabs {
            let (head, r1) = rest.split_at_mut(p);
            let (inner, r2) = r1.split_at_mut((k1 - k0 - 2) * p);
            let (tail, r3) = r2.split_at_mut(p);
            heads.push(head);
            inners.push(inner);
            tails.push(tail);
            rest = r3;
        }
        let mut ea_slabs = Vec::new();
        let mut rest: &mut [f32] = &mut ea[..];
        for &(k0, k1) in &slabs {
            let (s, r1) = rest.split_at_mut((k1 - k0) * p);
            ea_slabs.push(s);
            rest = r1;
        }
        {
            let heads: Vec<&[f32]> = heads.iter().map(|h| &**h).collect();
            let tails: Vec<&[f32]> = tails.iter().map(|t| &**t).collect();
            let slabs = &slabs;
            ea_slabs
                .into_par_iter()
                .zip(inners.par_iter_mut())
                .enumerate()
                .for_each(|(si, (ea_s, inner))| {
                    let (k0, k1) = slabs[si];
                    // Colour-b plane q (neighbouring slabs' first/last planes are not written in
                    // this phase).
                    fn pick<'a>(
                        inner: &'a [f32],
                        ends: (&[&'a [f32]], &[&'a [f32]]),
                        si: usize,
                        k: (usize, usize),
                        p: usize,
                        q: usize,
                    ) -> &'a [f32] {
                        let ((heads, tails), (k0, k1)) = (ends, k);
                        if q == k0 {
                            heads[si]
                        } else if q + 1 == k1 {
                            tails[si]
                        } else if q + 1 == k0 {
                            tails[si - 1]
                        } else if q == k1 {
                            heads[si + 1]
                        } else {
                            &inner[(q - k0 - 1) * p..(q - k0) * p]
                        }
                    }
                    let ends = (&heads[..], &tails[..]);
                    for k in k0..k1 {
                        {
                            let inner: &[f32] = inner;
                            let pb = |q| pick(inner, ends, si, (k0, k1), p, q);
                            let below = (k > 0).then(|| pb(k - 1));
                            let above = (k + 1 < nz).then(|| pb(k + 1));
                            let out = &mut ea_s[(k - k0) * p..(k - k0 + 1) * p];
                            relax_plane(st, ra, a, k, out, [below, above], pb(k));
                        }
                        if k >= k0 + 2 {
                            let q = k - 1;
                            let ea_s: &[f32] = ea_s;
                            let pa = |t: usize| &ea_s[(t - k0) * p..(t - k0 + 1) * p];
                            let out = &mut inner[(q - k0 - 1) * p..(q - k0) * p];
                            relax_plane(st, rb, b, q, out, [Some(pa(q - 1)), Some(pa(k))], pa(q));
                        }
                    }
                });
        }
        let ea: &[f32] = ea;
        let pa = |t: usize| &ea[t * p..(t + 1) * p];
        heads
            .into_par_iter()
            .zip(tails.into_par_iter())
            .enumerate()
            .for_each(|(si, (head, tail))| {
                let (k0, k1) = slabs[si];
                for (q, out) in [(k0, head), (k1 - 1, tail)] {
                    let below = (q > 0).then(|| pa(q - 1));
                    let above = (q + 1 < nz).then(|| pa(q + 1));
                    relax_plane(st, rb, b, q, out, [below, above], pa(q));
                }
            });
    }

    /// First red pass from a zero correction: `e_red = invd · r_red`.
    fn relax_red_from_zero(&mut self) {
        let (e, r, invd) = (&mut self.e[0], &self.r[0], &self.invd[0]);
        let f = |(v, (&rv, &d)): (&mut f32, (&f32, &f32))| *v = d * rv;
        if self.par {
            e.par_iter_mut()
                .zip(r.par_iter().zip(invd.par_iter()))
                .for_each(f);
        } else {
            e.iter_mut().zip(r.iter().zip(invd.iter())).for_each(f);
        }
    }

    /// Residual of the red nodes into `res` (black residuals are zero right after a black pass).
    fn residual_red(&mut self) {
        let par = self.par;
        let (Stencil { lay, co, invd, zeros }, e, r, res) = self.split();
        let r = &r[0][..];
        let (own, oth) = (&e[0][..], &e[1][..]);
        planes_mut(par, lay, res, |k, pl| {
            let p = k * lay.plane();
            for b in 0..2 {
                let bl = lay.block(0, b, k);
                let a = co.block(lay, invd, 0, &bl, k);
                let nb = lay.nb_block_full(&bl, oth, zeros, k);
                let g = p + bl.start..p + bl.start + bl.len;
                residual_row(
                    &mut pl[bl.start..bl.start + bl.len],
                    &r[g.clone()],
                    &own[g],
                    &a,
                    &nb,
                );
            }
        });
    }

    /// `self.nat` = natural-order copy of `e`.
    fn unsplit_e(&mut self) {
        let [nx, ny, _] = self.lay.dims;
        let lay = self.lay;
        let (e0, e1) = (&self.e[0], &self.e[1]);
        let f = |(k, pl): (usize, &mut [f32])| {
            for j in 0..ny {
                let row = &mut pl[(nx + 1) * j..(nx + 1) * j + nx];
                let b = lay.row(j, k) + 1;
                let (ev, od) = if (j + k) & 1 == 0 { (e0, e1) } else { (e1, e0) };
                for (i, v) in row.iter_mut().enumerate() {
                    *v = if i & 1 == 0 { ev[b + i / 2] } else { od[b + i / 2] };
                }
            }
        };
        let plane = (nx + 1) * ny;
        if self.par {
            self.nat.par_chunks_mut(plane).enumerate().for_each(f);
        } else {
            self.nat.chunks_mut(plane).enumerate().for_each(f);
        }
    }
}

/// Coarse right-hand side = Pᵀ (fine residual), from the red residuals only (full weighting: the
/// red nodes around a coarse node are its centre, weight 1, and its 12 edge neighbours, ¼).
fn restrict(f: &Level, c: &mut Level) {
    let (flay, res, fz) = (&f.lay, &f.res[..], &f.zeros[..]);
    let [_, fy, fzn] = flay.dims;
    let clay = c.lay;
    let [ncx, ncy, _] = clay.dims;
    let invd = &c.invd;
    let [r0, r1] = &mut c.r;
    // (slot I, slot I + 1) views of fine red row (j, k), or zeros outside the grid.
    let rows = |j: usize, k: usize| -> (&[f32], &[f32]) {
        if j < fy && k < fzn {
            let b = flay.row(j, k);
            (&res[b..b + ncx], &res[b + 1..b + 1 + ncx])
        } else {
            (&fz[..ncx], &fz[..ncx])
        }
    };
    planes2_mut(c.par, &clay, r0, r1, |kc, p0, p1| {
        let mut t = vec![0.0f32; ncx];
        let k = 2 * kc;
        for jc in 0..ncy {
            let j = 2 * jc;
            let (_, c1) = rows(j, k);
            let (ym0, ym1) = if j > 0 {
                rows(j - 1, k)
            } else {
                (&fz[..ncx], &fz[..ncx])
            };
            let (yp0, yp1) = rows(j + 1, k);
            let (zm0, zm1) = if k > 0 {
                rows(j, k - 1)
            } else {
                (&fz[..ncx], &fz[..ncx])
            };
            let (zp0, zp1) = rows(j, k + 1);
            let dmm = if j > 0 && k > 0 {
                rows(j - 1, k - 1).1
            } else {
                &fz[..ncx]
            };
            let dmp = if j > 0 { rows(j - 1, k + 1).1 } else { &fz[..ncx] };
            let dpm = if k > 0 { rows(j + 1, k - 1).1 } else { &fz[..ncx] };
            let dpp = rows(j + 1, k + 1).1;
            for i in 0..ncx {
                let edges = (ym0[i] + ym1[i] + yp0[i] + yp1[i])
                    + (zm0[i] + zm1[i] + zp0[i] + zp1[i])
                    + (dmm[i] + dmp[i] + dpm[i] + dpp[i]);
                t[i] = c1[i] + 0.25 * edges;
            }
            let b = clay.row_in_plane(jc) + 1;
            let gb = clay.row(jc, kc) + 1;
            for (i, &v) in t.iter().enumerate() {
                let s = i / 2;
                if (i + jc + kc) & 1 == 0 {
                    p0[b + s] = if invd[0][gb + s] != 0.0 { v } else { 0.0 };
                } else {
                    p1[b + s] = if invd[1][gb + s] != 0.0 { v } else { 0.0 };
                }
            }
        }
    });
}

/// `e_red += P e_coarse` on the unknowns of the fine level (trilinear interpolation). Black values
/// are not needed: the post-smoother starts with a black pass, which reads only red.
fn prolong_red(f: &mut Level, c: &Level) {
    let [ncx, ncy, _] = c.lay.dims;
    let cw = ncx + 1;
    let nat = &c.nat[..];
    let crow = |j: usize, k: usize| &nat[cw * (j + ncy * k)..cw * (j + ncy * k) + cw];
    let flay = f.lay;
    let n = flay.n();
    let invd = &f.invd[0];
    planes_mut(f.par, &flay, &mut f.e[0], |k, pl| {
        let (kc, kodd) = (k / 2, k & 1 == 1);
        for j in 0..flay.dims[1] {
            let (jc, jodd) = (j / 2, j & 1 == 1);
            let b = flay.row_in_plane(j) + 1;
            let out = &mut pl[b..b + n];
            let m = flay.own(invd, j, k);
            let c00 = crow(jc, kc);
            match (jodd, kodd) {
                (false, false) => add_masked(out, m, |s| c00[s]),
                (true, true) => {
                    let (c10, c01, c11) = (crow(jc + 1, kc), crow(jc, kc + 1), crow(jc + 1, kc + 1));
                    add_masked(out, m, |s| 0.25 * ((c00[s] + c10[s]) + (c01[s] + c11[s])))
                }
                (true, false) => {
                    let c10 = crow(jc + 1, kc);
                    add_masked(out, m, |s| 0.25 * ((c00[s] + c00[s + 1]) + (c10[s] + c10[s + 1])))
                }
                (false, true) => {
                    let c01 = crow(jc, kc + 1);
                    add_masked(out, m, |s| 0.25 * ((c00[s] + c00[s + 1]) + (c01[s] + c01[s + 1])))
                }
            }
        }
    });
}

#[inline(always)]
fn add_masked(out: &mut [f32], m: &[f32], v: impl Fn(usize) -> f32) {
    let m = &m[..out.len()];
    for (s, o) in out.iter_mut().enumerate() {
        let add = v(s);
        *o += if m[s] != 0.0 { add } else { 0.0 };
    }
}

/// Operators on all levels plus reusable workspaces.
pub struct Hierarchy {
    op: Operator,
    pub(super) levels: Vec<Level>,
    coarsest: Coarsest,
    /// Outer CG vectors (colour-split, finest level).
    pub(super) cg: super::cg::Work,
    /// The finest operator as solved (`f32` links; the unknowns are the nodes where the finest
    /// smoother's `invd` is not 0).
    pub(super) outer: Coefs<f32>,
}

impl Hierarchy {
    /// Build from the finest operator and the node conductivity it was made from (only its length
    /// is checked: the coarse operators come from the operator's links, which include the cut
    /// links).
    pub fn new(fine: Operator, sigma: &[f64]) -> Self {
        assert_eq!(sigma.len(), fine.len(), "sigma length");
        let (levels, coarsest, outer) = {
            let mut nats = vec![NatLevel::finest(&fine)];
            while let Some(last) = nats.last().filter(|l| can_coarsen(l.dims)) {
                let next = last.coarsen();
                nats.push(next);
            }
            let count = nats.len();
            let mut outer = None;
            let mut levels = Vec::with_capacity(count);
            for (l, nat) in nats.iter().enumerate() {
                let (level, exact) = Level::new(nat, l + 1 < count, l > 0);
                levels.push(level);
                // The outer operator: the exact finest links; its unknowns are those of the finest
                // smoother (same zero pattern of the inverse diagonal).
                outer.get_or_insert(exact);
            }
            let outer = outer.unwrap_or_else(|| unreachable!("the finest level always exists"));
            let coarsest = Coarsest::new(&nats[count - 1]);
            (levels, coarsest, outer)
        };
        let cg = super::cg::Work::new(&levels[0].lay);
        Self {
            op: fine,
            levels,
            coarsest,
            cg,
            outer,
        }
    }

    pub fn fine(&self) -> &Operator {
        &self.op
    }

    /// Swaps in a finest operator on the same grid with the same Dirichlet nodes but new links
    /// (the next σ of a nonlinear iteration), keeping every smoother and coarse level: CG then
    /// solves the new operator exactly, preconditioned by the cycle built for the old one. That
    /// preconditioner is still SPD, and when the links only grew, by at most a factor `r`, since
    /// the build (`A_old ≤ A_new ≤ r A_old`), the condition number grows by at most `r` — far
    /// cheaper than re-coarsening when σ moved little. Gives the operator back when the grid or
    /// the Dirichlet set differ.
    pub fn set_outer(&mut self, fine: Operator) -> Result<(), Operator> {
        if fine.dims != self.op.dims || fine.fixed != self.op.fixed {
            return Err(fine);
        }
        self.outer = Coefs::<f32>::new(&self.levels[0].lay, &fine.cx, &fine.cy, &fine.cz);
        self.op = fine;
        Ok(())
    }

    pub fn levels(&self) -> usize {
        self.levels.len()
    }

    /// Level dimensions, finest first.
    pub fn level_dims(&self) -> Vec<[usize; 3]> {
        self.levels.iter().map(|l| l.lay.dims).collect()
    }

    /// Keeps the last preconditioner output in `cg.z_old` (the next cycle overwrites `e`).
    pub(super) fn swap_z_old(&mut self) {
        std::mem::swap(&mut self.levels[0].e, &mut self.cg.z_old);
    }

    /// `levels[0].e ≈ A⁻¹ levels[0].r` by one symmetric V-cycle from zero. `red_ready`: the first
    /// red pass (`e_red = r_red / d`) has already been done on the finest level.
    pub(super) fn precondition(&mut self, shape: &Shape, red_ready: bool) {
        let start = if red_ready { Start::RedReady } else { Start::Zero };
        cycle(&mut self.levels, &self.coarsest, shape, 0, start);
    }
}

/// How a cycle starts on a level.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Start {
    /// Zero correction.
    Zero,
    /// Zero correction, first red pass already done (finest level, see `cg::update`).
    RedReady,
    /// Continue from the current correction (second visit of a W-cycle).
    Current,
}

/// Multigrid cycle: pre-smoothing red, black (×sweeps); coarse correction (`gamma` visits below the
/// first coarse level); post-smoothing black, red (×sweeps). Symmetric, hence a valid SPD
/// preconditioner for CG.
fn cycle(levels: &mut [Level], coarsest: &Coarsest, shape: &Shape, depth: usize, start: Start) {
    let Some((lev, rest)) = levels.split_first_mut() else {
        return;
    };
    let Some(next) = rest.first_mut() else {
        coarsest.solve(lev);
        return;
    };
    let sweeps = if depth == 0 { shape.fine } else { shape.coarse }.max(1);
    match start {
        Start::Zero => lev.relax_red_from_zero(),
        Start::RedReady => {}
        Start::Current => lev.relax(0),
    }
    lev.relax(1);
    for _ in 1..sweeps {
        lev.sweep2(0);
    }
    lev.residual_red();
    restrict(lev, next);
    let visits = if depth == 0 || rest.len() == 1 {
        1
    } else {
        shape.gamma.max(1)
    };
    for v in 0..visits {
        let s = if v == 0 { Start::Zero } else { Start::Current };
        cycle(rest, coarsest, shape, depth + 1, s);
    }
    let next = &mut rest[0];
    next.unsplit_e();
    prolong_red(lev, next);
    for _ in 0..sweeps {
        lev.sweep2(1);
    }
}

/// Cycle shape.
#[derive(Clone, Copy, Debug)]
pub(super) struct Shape {
    /// Sweeps on the finest level.
    pub fine: usize,
    /// Sweeps on the coarse levels.
    pub coarse: usize,
    /// Visits of each coarse level per visit of the one above (1 = V, 2 = W).
    pub gamma: usize,
}
