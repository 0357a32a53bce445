//! Construction of the multigrid levels in natural (x-fastest) order.
//!
//! Coarse operators are built from the finer level's links (series along the link, full-weighting
//! sum across: see [`NatLevel::coarse_links`]); in a homogeneous grid that is the rediscretised
//! operator, and unlike rediscretisation from an averaged conductivity it keeps the series
//! conductance of thin resistive layers (measured on the high-contrast test problems: 16–17
//! instead of 23–24 iterations to 1e-9). Dirichlet nodes exist only on the finest level; on coarse
//! levels the electrodes act through a "sink" on the diagonal, the restricted (`Pᵀ`) sum of the
//! finest level's links into Dirichlet nodes: a lumped Galerkin coarsening of the reduced
//! operator. It keeps the sub-voxel cut links and thin electrodes visible on every level, whereas
//! coarse Dirichlet masks (a coarse node is fixed if any fine neighbour is) fatten a 1 mm
//! electrode by a fine cell per level (measured with a V(2,2) cycle: 14 instead of 9 iterations on
//! the benchmark).

use super::Operator;
use super::layout::Coef;
use rayon::prelude::*;
use std::borrow::Cow;

/// A level in natural order.
pub(super) struct NatLevel<'a> {
    pub dims: [usize; 3],
    pub cx: Cow<'a, [f32]>,
    pub cy: Cow<'a, [f32]>,
    pub cz: Cow<'a, [f32]>,
    /// Coupling of each unknown to the electrodes: on the finest level the sum of its links into
    /// Dirichlet nodes (already part of its link sum), on coarse levels the restricted finest sink
    /// (a diagonal term of its own).
    sink: Vec<f64>,
    /// Dirichlet mask (finest level only).
    fixed: Option<&'a [bool]>,
}

/// Coarse grid of a fine axis of `n` nodes: coarse node `c` sits on fine node `2c` (the last one
/// lies one node beyond an even-length fine axis).
pub(super) fn coarse_len(n: usize) -> usize {
    n / 2 + 1
}

/// 1-D full-weighting taps of coarse node `c` on a fine axis of length `n`: (fine index, weight).
fn taps(c: usize, n: usize) -> impl Iterator<Item = (usize, f64)> {
    let f = 2 * c;
    [(f.wrapping_sub(1), 0.5), (f, 1.0), (f + 1, 0.5)]
        .into_iter()
        .filter(move |&(i, _)| i < n)
}

/// `[outer, n, inner]` view of a grid for an operation along `axis`.
fn split_axis(dims: [usize; 3], axis: usize) -> (usize, usize) {
    let outer: usize = dims[axis + 1..].iter().product();
    let inner: usize = dims[..axis].iter().product();
    (outer, inner)
}

/// Runs `f(o, cc, out)` for every output line `out = [o][cc][..]` of an `[outer][c][inner]` array,
/// in parallel over `o` (whole `[c][inner]` blocks) unless there are too few of those.
fn for_lines(
    out: &mut [f64],
    outer: usize,
    c: usize,
    inner: usize,
    f: impl Fn(usize, usize, &mut [f64]) + Sync,
) {
    if outer >= 8 {
        out.par_chunks_mut(c * inner).enumerate().for_each(|(o, blk)| {
            for (cc, line) in blk.chunks_mut(inner).enumerate() {
                f(o, cc, line);
            }
        });
    } else {
        out.par_chunks_mut(inner)
            .enumerate()
            .for_each(|(q, line)| f(q / c, q % c, line));
    }
}

/// One axis of `Pᵀ`: `out[o][c][i] = Σ_taps w · v[o][t][i]`, the axis shortened to its coarse length.
fn restrict_axis(dims: [usize; 3], axis: usize, v: &[f64]) -> ([usize; 3], Vec<f64>) {
    let (outer, inner) = split_axis(dims, axis);
    let (n, c) = (dims[axis], coarse_len(dims[axis]));
    let mut out = vec![0.0; outer * c * inner];
    if inner == 1 {
        // Along rows: one output row per input row.
        out.par_chunks_mut(c).zip(v.par_chunks(n)).for_each(|(o, row)| {
            for (cc, o) in o.iter_mut().enumerate() {
                let f = 2 * cc;
                let mut s = if f < n { row[f] } else { 0.0 };
                if f > 0 {
                    s += 0.5 * row[f - 1];
                }
                if f + 1 < n {
                    s += 0.5 * row[f + 1];
                }
                *o = s;
            }
        });
    } else {
        for_lines(&mut out, outer, c, inner, |ou, cc, o| {
            for (t, w) in taps(cc, n) {
                let src = &v[(ou * n + t) * inner..(ou * n + t + 1) * inner];
                for (o, &x) in o.iter_mut().zip(src) {
                    *o += w * x;
                }
            }
        });
    }
    let mut d = dims;
    d[axis] = c;
    (d, out)
}

/// `Pᵀ v`: full weighting without normalisation (weights ½, 1, ½ per axis, taps outside the grid
/// dropped), one axis at a time.
fn restrict_sum(dims: [usize; 3], v: &[f64]) -> Vec<f64> {
    let (d, a) = restrict_axis(dims, 0, v);
    let (d, b) = restrict_axis(d, 1, &a);
    restrict_axis(d, 2, &b).1
}

impl<'a> NatLevel<'a> {
    pub fn len(&self) -> usize {
        self.sink.len()
    }

    /// The finest level: the operator's own links, its Dirichlet mask.
    pub fn finest(op: &'a Operator) -> Self {
        let [nx, ny, _] = op.dims;
        let sxy = nx * ny;
        let (cx, cy, cz, fixed) = (&op.cx, &op.cy, &op.cz, &op.fixed);
        // Links from free nodes into Dirichlet nodes, gathered from the (few) Dirichlet nodes.
        let mut sink = vec![0.0; op.len()];
        for (k, pl) in fixed.chunks(sxy).enumerate() {
            for (j, row) in pl.chunks(nx).enumerate() {
                for i in row.iter().enumerate().filter(|(_, f)| **f).map(|(i, _)| i) {
                    let idx = i + nx * j + sxy * k;
                    let mut add = |c: f32, nb: usize| {
                        if !fixed[nb] {
                            sink[nb] += f64::from(c);
                        }
                    };
                    if i + 1 < nx {
                        add(cx[idx], idx + 1);
                    }
                    if j + 1 < ny {
                        add(cy[idx], idx + nx);
                    }
                    if k + 1 < op.dims[2] {
                        add(cz[idx], idx + sxy);
                    }
                    if i > 0 {
                        add(cx[idx - 1], idx - 1);
                    }
                    if j > 0 {
                        add(cy[idx - nx], idx - nx);
                    }
                    if k > 0 {
                        add(cz[idx - sxy], idx - sxy);
                    }
                }
            }
        }
        Self {
            dims: op.dims,
            cx: Cow::Borrowed(cx),
            cy: Cow::Borrowed(cy),
            cz: Cow::Borrowed(cz),
            sink,
            fixed: Some(fixed),
        }
    }

    /// The next coarser level: links from this level's links (see [`Self::coarse_links`]), the
    /// restricted sink.
    pub fn coarsen(&self) -> NatLevel<'static> {
        NatLevel {
            dims: self.dims.map(coarse_len),
            cx: Cow::Owned(self.coarse_links(0)),
            cy: Cow::Owned(self.coarse_links(1)),
            cz: Cow::Owned(self.coarse_links(2)),
            sink: restrict_sum(self.dims, &self.sink),
            fixed: None,
        }
    }

    /// Coarse links along `axis` from this level's links: the two fine links along the coarse link
    /// in series, summed over the coarse face with the full-weighting weights across it (links
    /// touching Dirichlet nodes are left out: the electrodes are the sink's). For a homogeneous
    /// grid this is the rediscretised operator (twice the fine link); across layers it is the
    /// series (harmonic) conductance and along them the parallel one, which keeps high-contrast
    /// tissue and the electrodes' strengthened cut links in the coarse operators. At the end of an
    /// even-length axis the second fine link lies outside the grid; the Galerkin weight of the
    /// remaining one is ¼.
    fn coarse_links(&self, axis: usize) -> Vec<f32> {
        let f = self.dims;
        let (outer, inner) = split_axis(f, axis);
        let (n, c) = (f[axis], coarse_len(f[axis]));
        let stride = inner;
        let fl = [&self.cx, &self.cy, &self.cz][axis];
        let link = |idx: usize| -> f64 {
            match self.fixed {
                Some(fx) if fx[idx] || fx[idx + stride] => 0.0,
                _ => f64::from(fl[idx]),
            }
        };
        // Along the axis: the two fine links of each coarse link in series.
        let mut series = vec![0.0; outer * c * inner];
        for_lines(&mut series, outer, c, inner, |ou, cc, o| {
            if cc + 1 >= c {
                return;
            }
            let base = (ou * n + 2 * cc) * inner;
            for (i, o) in o.iter_mut().enumerate() {
                let a = link(base + i);
                *o = if 2 * cc + 2 < n {
                    let b = link(base + stride + i);
                    if a + b > 0.0 { a * b / (a + b) } else { 0.0 }
                } else {
                    a / 4.0
                };
            }
        });
        // Across: full weighting over the other two axes.
        let mut d = f;
        d[axis] = c;
        let mut v = series;
        for t in (0..3).filter(|&t| t != axis) {
            let (nd, nv) = restrict_axis(d, t, &v);
            (d, v) = (nd, nv);
        }
        v.iter().map(|&x| x as f32).collect()
    }

    /// Colour-split diagonal term besides the links: the sink on coarse levels, −1 on Dirichlet
    /// nodes of the finest level (see [`super::layout::Coefs::inverse_diagonal`]).
    pub fn diagonal_extra(&self, lay: &super::layout::Layout) -> [Vec<f32>; 2] {
        match self.fixed {
            Some(f) => lay.split_map(f, |f| if f { -1.0 } else { 0.0 }),
            None => lay.split_map(&self.sink, |s| s as f32),
        }
    }

    /// Diagonal of the reduced operator with the links rounded through `C`; 0 for nodes that are
    /// not unknowns (Dirichlet nodes, nodes without any coupling).
    pub fn diag<C: Coef>(&self) -> Vec<f64> {
        let [nx, ny, _] = self.dims;
        let sxy = nx * ny;
        let mut out = vec![0.0; self.len()];
        out.par_chunks_mut(sxy).enumerate().for_each(|(k, pl)| {
            for (j, row) in pl.chunks_mut(nx).enumerate() {
                for (i, d) in row.iter_mut().enumerate() {
                    *d = self.diag_at::<C>(i + nx * j + sxy * k, [i, j, k]);
                }
            }
        });
        out
    }

    /// [`Self::diag`] at node `idx` = `(i, j, k)`.
    #[inline]
    pub fn diag_at<C: Coef>(&self, idx: usize, [i, j, k]: [usize; 3]) -> f64 {
        if self.fixed.is_some_and(|f| f[idx]) {
            return 0.0;
        }
        let [nx, ny, _] = self.dims;
        let sxy = nx * ny;
        let (cx, cy, cz) = (&self.cx[..], &self.cy[..], &self.cz[..]);
        let r = |c: f32| f64::from(C::from_f32(c).get());
        let mut s = r(cx[idx]) + r(cy[idx]) + r(cz[idx]);
        if i > 0 {
            s += r(cx[idx - 1]);
        }
        if j > 0 {
            s += r(cy[idx - nx]);
        }
        if k > 0 {
            s += r(cz[idx - sxy]);
        }
        if self.fixed.is_none() {
            s += self.sink[idx];
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The separable restriction equals the 27-point full-weighting sum.
    #[test]
    fn restrict_sum_matches_direct_full_weighting() {
        for dims in [[7, 5, 6], [4, 9, 3]] {
            let [fx, fy, fz] = dims;
            let v: Vec<f64> = (0..fx * fy * fz).map(|i| ((i * 37) % 11) as f64 - 3.0).collect();
            let got = restrict_sum(dims, &v);
            let [cx, cy, cz] = dims.map(coarse_len);
            for k in 0..cz {
                for j in 0..cy {
                    for i in 0..cx {
                        let mut want = 0.0;
                        for (kk, wk) in taps(k, fz) {
                            for (jj, wj) in taps(j, fy) {
                                for (ii, wi) in taps(i, fx) {
                                    want += wi * wj * wk * v[ii + fx * (jj + fy * kk)];
                                }
                            }
                        }
                        let g = got[i + cx * (j + cy * k)];
                        assert!((g - want).abs() < 1e-12, "{dims:?} ({i},{j},{k}): {g} vs {want}");
                    }
                }
            }
        }
    }
}
