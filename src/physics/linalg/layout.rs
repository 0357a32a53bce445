//! Red–black ("colour-split") storage of a grid and the per-row access helpers.
//!
//! Node `(i, j, k)` has colour `c = (i + j + k) mod 2` (0 = red, 1 = black) and lives in the array of
//! its colour at `row(j, k) + i / 2 + 1`. Each row has `w = ⌈nx / 2⌉ + 2` slots: slot 0 and slot
//! `w − 1` are padding zeros, and so is slot `w − 2` of a row with fewer nodes of that colour (a row
//! is self-contained, so a plane is too). In the row of
//! colour `c` the nodes sit at `i = 2(s − 1) + o` with `o = (j + k + c) mod 2`, so for the node in slot
//! `s` the other colour holds its `−x` neighbour in slot `s + o − 1`, its `+x` neighbour in slot
//! `s + o` and its `±y`, `±z` neighbours in slot `s` of the neighbouring rows. A relaxation pass of
//! one colour therefore reads only the other colour and writes only its own, in place and in
//! parallel over planes, and every row is a handful of equal-length contiguous slices (the loops
//! vectorise and need no per-node boundary tests: missing neighbours have zero coefficients and
//! are read from padding or from a zero row).

use rayon::prelude::*;

/// Indexing of one level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Layout {
    pub dims: [usize; 3],
    /// Slots per row.
    pub w: usize,
}

impl Layout {
    pub fn new(dims: [usize; 3]) -> Self {
        Self {
            dims,
            w: dims[0].div_ceil(2) + 2,
        }
    }

    /// Slots per plane.
    #[inline]
    pub fn plane(&self) -> usize {
        self.w * self.dims[1]
    }

    /// Length of each colour array.
    pub fn len(&self) -> usize {
        self.plane() * self.dims[2]
    }

    /// Slots per row that can hold a node (slots `1..w − 1`).
    #[inline]
    pub fn n(&self) -> usize {
        self.w - 2
    }

    /// Index of slot 0 of row `(j, k)`.
    #[inline]
    pub fn row(&self, j: usize, k: usize) -> usize {
        self.w * (j + self.dims[1] * k)
    }

    /// Parity of `i` for the nodes of colour `c` in row `(j, k)`.
    #[inline]
    pub fn off(j: usize, k: usize, c: usize) -> usize {
        (j + k + c) & 1
    }

    /// Colour and array index of node `(i, j, k)`.
    pub fn at(&self, i: usize, j: usize, k: usize) -> (usize, usize) {
        ((i + j + k) & 1, self.row(j, k) + i / 2 + 1)
    }

    /// Natural-order array → the two colour arrays (padding = `T::default()`).
    #[cfg(test)]
    pub fn split<T: Copy + Default + Send + Sync>(&self, nat: &[T]) -> [Vec<T>; 2] {
        self.split_map(nat, |v| v)
    }

    /// Natural-order array → the two colour arrays of `f(value)` (padding = `T::default()`).
    pub fn split_map<S: Copy + Sync, T: Copy + Default + Send + Sync>(
        &self,
        nat: &[S],
        f: impl Fn(S) -> T + Sync,
    ) -> [Vec<T>; 2] {
        self.build(|idx, _| f(nat[idx]))
    }

    /// The two colour arrays of `f(natural index, [i, j, k])` (padding = `T::default()`).
    pub fn build<T: Copy + Default + Send + Sync>(
        &self,
        f: impl Fn(usize, [usize; 3]) -> T + Sync,
    ) -> [Vec<T>; 2] {
        let [nx, ny, nz] = self.dims;
        let plane = self.plane();
        let mut out = [vec![T::default(); self.len()], vec![T::default(); self.len()]];
        let [a, b] = &mut out;
        a.par_chunks_mut(plane)
            .zip(b.par_chunks_mut(plane))
            .enumerate()
            .for_each(|(k, (pa, pb))| {
                for j in 0..ny {
                    let (ev, od) = if (j + k) & 1 == 0 {
                        (&mut *pa, &mut *pb)
                    } else {
                        (&mut *pb, &mut *pa)
                    };
                    let base = self.w * j + 1;
                    let idx0 = nx * (j + ny * k);
                    for i in 0..nx {
                        let v = f(idx0 + i, [i, j, k]);
                        if i & 1 == 0 {
                            ev[base + i / 2] = v;
                        } else {
                            od[base + i / 2] = v;
                        }
                    }
                }
            });
        debug_assert_eq!(nz * plane, self.len());
        out
    }

    /// Slice of the `n()` node slots of row `(j, k)` in a colour array.
    #[inline]
    pub fn own<'a, T>(&self, v: &'a [T], j: usize, k: usize) -> &'a [T] {
        let b = self.row(j, k) + 1;
        &v[b..b + self.n()]
    }

    /// The other colour's values at the six neighbours of the nodes of colour `c` in row `(j, k)`
    /// (`zeros` stands in for rows outside the grid; it must be at least `n()` long).
    #[inline]
    pub fn nb<'a, T>(&self, oth: &'a [T], zeros: &'a [T], c: usize, j: usize, k: usize) -> Nb<'a, T> {
        let p = self.plane();
        let plane = |q: usize| &oth[q * p..(q + 1) * p];
        let below = if k > 0 { Some(plane(k - 1)) } else { None };
        let above = if k + 1 < self.dims[2] {
            Some(plane(k + 1))
        } else {
            None
        };
        self.nb3([below, above], plane(k), zeros, c, j, k)
    }

    /// As [`Self::nb`], from the planes `k − 1`, `k + 1` (`None` outside the grid) and `k` of the
    /// other colour.
    #[inline]
    pub fn nb3<'a, T>(
        &self,
        [below, above]: [Option<&'a [T]>; 2],
        here: &'a [T],
        zeros: &'a [T],
        c: usize,
        j: usize,
        k: usize,
    ) -> Nb<'a, T> {
        let ny = self.dims[1];
        let n = self.n();
        let b = self.w * j;
        let o = Self::off(j, k, c);
        let at = |pl: Option<&'a [T]>, base: usize| match pl {
            Some(v) => &v[base + 1..base + 1 + n],
            None => &zeros[..n],
        };
        Nb {
            xm: &here[b + o..b + o + n],
            xp: &here[b + o + 1..b + o + 1 + n],
            ym: if j > 0 {
                at(Some(here), b - self.w)
            } else {
                &zeros[..n]
            },
            yp: if j + 1 < ny {
                at(Some(here), b + self.w)
            } else {
                &zeros[..n]
            },
            zm: at(below, b),
            zp: at(above, b),
        }
    }
}

/// Other-colour neighbour slices of one row (see [`Layout::nb`]).
#[derive(Clone, Copy)]
pub(super) struct Nb<'a, T> {
    pub xm: &'a [T],
    pub xp: &'a [T],
    pub ym: &'a [T],
    pub yp: &'a [T],
    pub zm: &'a [T],
    pub zp: &'a [T],
}

/// Storage type of link coefficients.
pub(super) trait Coef: Copy + Default + Send + Sync {
    fn get(self) -> f32;
    fn from_f32(v: f32) -> Self;
}

impl Coef for f32 {
    #[inline(always)]
    fn get(self) -> f32 {
        self
    }
    fn from_f32(v: f32) -> Self {
        v
    }
}

/// bfloat16 (the top half of an `f32`): the preconditioner's coefficients. 8 significant bits are
/// plenty for a smoother and halve the dominant memory traffic of the multigrid passes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(transparent)]
pub(super) struct Bf16(u16);

impl Coef for Bf16 {
    #[inline(always)]
    fn get(self) -> f32 {
        f32::from_bits(u32::from(self.0) << 16)
    }
    /// Round to nearest, ties to even (coefficients are finite and non-negative).
    fn from_f32(v: f32) -> Self {
        let b = v.to_bits();
        let rounded = b.wrapping_add(0x7FFF + ((b >> 16) & 1));
        Self((rounded >> 16) as u16)
    }
}

/// Face coefficients of one level in colour-split storage. `cx[c][s]` is the `+x` link of the
/// node in slot `s` of colour `c` (likewise `cy`, `cz`); the `−x` link of a node is the `+x` link of
/// its `−x` neighbour, stored in the other colour.
pub(super) struct Coefs<C> {
    pub cx: [Vec<C>; 2],
    pub cy: [Vec<C>; 2],
    pub cz: [Vec<C>; 2],
    /// Zero coefficients standing in for rows outside the grid.
    zeros: Vec<C>,
}

/// The six link coefficients and the inverse diagonal of the nodes of one row of one colour.
#[derive(Clone, Copy)]
pub(super) struct RowCoefs<'a, C> {
    pub xm: &'a [C],
    pub xp: &'a [C],
    pub ym: &'a [C],
    pub yp: &'a [C],
    pub zm: &'a [C],
    pub zp: &'a [C],
    /// `1 / diagonal` on unknowns; 0 on Dirichlet nodes, padding and nodes without any link.
    pub invd: &'a [f32],
}

impl<C: Coef> Coefs<C> {
    /// From natural-order coefficient arrays (`f32`, converted to `C`).
    pub fn new(lay: &Layout, cx: &[f32], cy: &[f32], cz: &[f32]) -> Self {
        Self {
            cx: lay.split_map(cx, C::from_f32),
            cy: lay.split_map(cy, C::from_f32),
            cz: lay.split_map(cz, C::from_f32),
            zeros: vec![C::default(); lay.w + 1],
        }
    }

    /// Row `(j, k)` of colour `c`, with the level's colour-split inverse diagonal `invd`.
    #[inline]
    pub fn row<'a>(
        &'a self,
        lay: &Layout,
        invd: &'a [Vec<f32>; 2],
        c: usize,
        j: usize,
        k: usize,
    ) -> RowCoefs<'a, C> {
        let [xm, xp, ym, yp, zm, zp] = self.links(lay, c, j, k);
        RowCoefs {
            xm,
            xp,
            ym,
            yp,
            zm,
            zp,
            invd: lay.own(&invd[c], j, k),
        }
    }

    /// The `−x, +x, −y, +y, −z, +z` links of the nodes of colour `c` in row `(j, k)`.
    #[inline]
    pub fn links<'a>(&'a self, lay: &Layout, c: usize, j: usize, k: usize) -> [&'a [C]; 6] {
        let n = lay.n();
        let o = 1 - c;
        let b = lay.row(j, k);
        let off = Layout::off(j, k, c);
        [
            &self.cx[o][b + off..b + off + n],
            lay.own(&self.cx[c], j, k),
            if j > 0 {
                lay.own(&self.cy[o], j - 1, k)
            } else {
                &self.zeros[..n]
            },
            lay.own(&self.cy[c], j, k),
            if k > 0 {
                lay.own(&self.cz[o], j, k - 1)
            } else {
                &self.zeros[..n]
            },
            lay.own(&self.cz[c], j, k),
        ]
    }

    /// The same links stored as `D`.
    pub fn convert<D: Coef>(&self) -> Coefs<D> {
        let conv = |v: &[Vec<C>; 2]| -> [Vec<D>; 2] {
            [0, 1].map(|c| v[c].par_iter().map(|&x| D::from_f32(x.get())).collect())
        };
        Coefs {
            cx: conv(&self.cx),
            cy: conv(&self.cy),
            cz: conv(&self.cz),
            zeros: vec![D::default(); self.zeros.len()],
        }
    }

    /// Inverse diagonal `1 / (Σ links + extra)` of every node, 0 where `extra < 0` (Dirichlet
    /// nodes), where the sum is 0 (uncoupled nodes) and on padding.
    pub fn inverse_diagonal(&self, lay: &Layout, extra: &[Vec<f32>; 2]) -> [Vec<f32>; 2] {
        let (w, n, ny) = (lay.w, lay.n(), lay.dims[1]);
        let mut out = [vec![0.0f32; lay.len()], vec![0.0f32; lay.len()]];
        for (c, out) in out.iter_mut().enumerate() {
            out.par_chunks_mut(lay.plane()).enumerate().for_each(|(k, pl)| {
                for j in 0..ny {
                    let l = self.links(lay, c, j, k).map(|v| &v[..n]);
                    let ex = &lay.own(&extra[c], j, k)[..n];
                    for (s, o) in pl[w * j + 1..w * j + 1 + n].iter_mut().enumerate() {
                        let links = (l[0][s].get() + l[1][s].get())
                            + (l[2][s].get() + l[3][s].get())
                            + (l[4][s].get() + l[5][s].get());
                        let d = links + ex[s].max(0.0);
                        *o = if ex[s] >= 0.0 && d > 0.0 { 1.0 / d } else { 0.0 };
                    }
                }
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every neighbour slice entry is the right node (or padding where the neighbour is missing).
    #[test]
    fn bf16_rounds_to_nearest() {
        for v in [
            0.0f32,
            1.0,
            0.2,
            3.7e-3,
            20.0 * 0.7,
            1.0 + 1.0 / 256.0,
            1.0 + 3.0 / 512.0,
        ] {
            let b = Bf16::from_f32(v).get();
            assert!((b - v).abs() <= v * (1.0 / 256.0), "{v} -> {b}");
        }
        // Ties to even: 1 + 1/256 is halfway between 1 and 1 + 1/128.
        assert_eq!(Bf16::from_f32(1.0 + 1.0 / 256.0).get(), 1.0);
        assert_eq!(Bf16::from_f32(1.0 + 3.0 / 256.0).get(), 1.0 + 2.0 / 128.0);
    }

    #[test]
    fn neighbour_slots_match_natural_neighbours() {
        for dims in [[7, 5, 4], [6, 3, 5], [1, 4, 3], [2, 2, 2]] {
            let [nx, ny, nz] = dims;
            let lay = Layout::new(dims);
            // Value = 1 + natural index, so padding (0) is distinguishable.
            let nat: Vec<f64> = (0..nx * ny * nz).map(|v| v as f64 + 1.0).collect();
            let v = lay.split(&nat);
            let zeros = vec![0.0; lay.w + 1];
            let val = |i: isize, j: isize, k: isize| -> f64 {
                if i < 0 || j < 0 || k < 0 || i >= nx as isize || j >= ny as isize || k >= nz as isize {
                    0.0
                } else {
                    nat[i as usize + nx * (j as usize + ny * k as usize)]
                }
            };
            for c in 0..2 {
                for k in 0..nz {
                    for j in 0..ny {
                        let nb = lay.nb(&v[1 - c], &zeros, c, j, k);
                        let own = lay.own(&v[c], j, k);
                        let o = Layout::off(j, k, c);
                        for (s, &v) in own.iter().enumerate() {
                            let i = (2 * s + o) as isize;
                            let (ii, jj, kk) = (i, j as isize, k as isize);
                            assert_eq!(v, val(ii, jj, kk), "{dims:?} own c{c} ({i},{j},{k})");
                            if v == 0.0 {
                                continue;
                            }
                            assert_eq!(nb.xm[s], val(ii - 1, jj, kk));
                            assert_eq!(nb.xp[s], val(ii + 1, jj, kk));
                            assert_eq!(nb.ym[s], val(ii, jj - 1, kk));
                            assert_eq!(nb.yp[s], val(ii, jj + 1, kk));
                            assert_eq!(nb.zm[s], val(ii, jj, kk - 1));
                            assert_eq!(nb.zp[s], val(ii, jj, kk + 1));
                        }
                    }
                }
            }
        }
    }
}
