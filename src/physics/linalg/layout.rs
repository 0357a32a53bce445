//! Red–black ("colour-split") storage of a grid and the access helpers of its passes.
//!
//! Node `(i, j, k)` has colour `c = (i + j + k) mod 2` (0 = red, 1 = black) and lives in the array of
//! its colour at `row(j, k) + i / 2 + 1`. Each row has `w = ⌈nx / 2⌉ + 2` slots: slot 0 and slot
//! `w − 1` are padding zeros, and so is slot `w − 2` of a row with fewer nodes of that colour. In
//! the row of colour `c` the nodes sit at `i = 2(s − 1) + o` with `o = (j + k + c) mod 2`, so for the
//! node in slot `s` the other colour holds its `−x` neighbour in slot `s + o − 1`, its `+x`
//! neighbour in slot `s + o` and its `±y`, `±z` neighbours in slot `s` of the neighbouring rows. A
//! relaxation pass of one colour therefore reads only the other colour and writes only its own, in
//! place and in parallel over planes.
//!
//! Within a plane the rows of even `j` come first, then those of odd `j`, each group ("block")
//! between two zero padding rows (`rb = ⌈ny / 2⌉ + 2` rows per block). Within a block `o` is the
//! same for every row, and the `−y` / `+y` neighbours of the rows of one block are the rows of the
//! other block at a fixed shift. So a whole block is a handful of equal-length contiguous slices:
//! the passes run one vectorised loop per half plane, with no per-node boundary test (missing
//! neighbours have zero coefficients and are read from padding or a zero plane) and no per-row
//! set-up.

use rayon::prelude::*;

/// Indexing of one level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Layout {
    pub dims: [usize; 3],
    /// Slots per row.
    pub w: usize,
    /// Rows per block (including the two padding rows).
    rb: usize,
}

/// A block of one colour in one plane: plane-local start of its first real row and length (whole
/// rows, padding slots included), and plane-local starts of the other colour's slices.
#[derive(Clone, Copy, Debug)]
pub(super) struct Block {
    pub start: usize,
    pub len: usize,
    /// `−x` / `+x` neighbours (same block).
    pub xm: usize,
    pub xp: usize,
    /// `−y` / `+y` neighbours (other block).
    pub ym: usize,
    pub yp: usize,
}

impl Layout {
    pub fn new(dims: [usize; 3]) -> Self {
        Self {
            dims,
            w: dims[0].div_ceil(2) + 2,
            rb: dims[1].div_ceil(2) + 2,
        }
    }

    /// Slots per plane.
    #[inline]
    pub fn plane(&self) -> usize {
        2 * self.rb * self.w
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

    /// Plane-local index of slot 0 of row `j`.
    #[inline]
    pub fn row_in_plane(&self, j: usize) -> usize {
        self.w * ((j & 1) * self.rb + j / 2 + 1)
    }

    /// Index of slot 0 of row `(j, k)`.
    #[inline]
    pub fn row(&self, j: usize, k: usize) -> usize {
        k * self.plane() + self.row_in_plane(j)
    }

    /// Colour and array index of node `(i, j, k)`.
    pub fn at(&self, i: usize, j: usize, k: usize) -> (usize, usize) {
        ((i + j + k) & 1, self.row(j, k) + i / 2 + 1)
    }

    /// Block `b` (rows with `j ≡ b mod 2`) of colour `c` in plane `k`.
    #[inline]
    pub fn block(&self, c: usize, b: usize, k: usize) -> Block {
        let (w, rb) = (self.w, self.rb);
        let start = b * rb * w + w;
        let o = (b + k + c) & 1;
        let other = (1 - b) * rb * w;
        Block {
            start,
            len: (rb - 2) * w,
            xm: start + o - 1,
            xp: start + o,
            // Row j = 2m + b sits at position m + 1 of its block; its −y row at position m + b of
            // the other block, its +y row at m + 1 + b.
            ym: other + b * w,
            yp: other + (1 + b) * w,
        }
    }

    /// The other colour's values at the six neighbours of block `bl` (from the planes `k − 1`,
    /// `k + 1` (`None` outside the grid: `zeros`, at least `bl.len` long) and `k` of it).
    #[inline]
    pub fn nb_block<'a, T>(
        &self,
        bl: &Block,
        [below, above]: [Option<&'a [T]>; 2],
        here: &'a [T],
        zeros: &'a [T],
    ) -> Nb<'a, T> {
        let n = bl.len;
        let z = |pl: Option<&'a [T]>| match pl {
            Some(v) => &v[bl.start..bl.start + n],
            None => &zeros[..n],
        };
        Nb {
            xm: &here[bl.xm..bl.xm + n],
            xp: &here[bl.xp..bl.xp + n],
            ym: &here[bl.ym..bl.ym + n],
            yp: &here[bl.yp..bl.yp + n],
            zm: z(below),
            zp: z(above),
        }
    }

    /// As [`Self::nb_block`], from a whole colour array.
    #[inline]
    pub fn nb_block_full<'a, T>(&self, bl: &Block, oth: &'a [T], zeros: &'a [T], k: usize) -> Nb<'a, T> {
        let p = self.plane();
        let plane = |q: usize| &oth[q * p..(q + 1) * p];
        let below = (k > 0).then(|| plane(k - 1));
        let above = (k + 1 < self.dims[2]).then(|| plane(k + 1));
        self.nb_block(bl, [below, above], plane(k), zeros)
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
        let [nx, ny, _] = self.dims;
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
                    let base = self.row_in_plane(j) + 1;
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
        out
    }

    /// Slice of the `n()` node slots of row `(j, k)` in a colour array.
    #[inline]
    pub fn own<'a, T>(&self, v: &'a [T], j: usize, k: usize) -> &'a [T] {
        let b = self.row(j, k) + 1;
        &v[b..b + self.n()]
    }
}

/// One slice per neighbour direction of a block: the other colour's values at the neighbours (see
/// [`Layout::nb_block`]) or the links to them ([`RowCoefs::links`]).
#[derive(Clone, Copy)]
pub(super) struct Nb<'a, T> {
    pub xm: &'a [T],
    pub xp: &'a [T],
    pub ym: &'a [T],
    pub yp: &'a [T],
    pub zm: &'a [T],
    pub zp: &'a [T],
}

impl<'a, T> Nb<'a, T> {
    /// The six slices (`−x, +x, −y, +y, −z, +z`) cut to `n`: a row loop over `0..n` then indexes
    /// them without bounds checks (and vectorises).
    #[inline(always)]
    pub fn cut(&self, n: usize) -> [&'a [T]; 6] {
        [
            &self.xm[..n],
            &self.xp[..n],
            &self.ym[..n],
            &self.yp[..n],
            &self.zm[..n],
            &self.zp[..n],
        ]
    }
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
    pub links: Nb<'a, C>,
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
            zeros: vec![C::default(); lay.plane()],
        }
    }

    /// Block `bl` of colour `c` in plane `k`, with the level's colour-split inverse diagonal.
    #[inline]
    pub fn block<'a>(
        &'a self,
        lay: &Layout,
        invd: &'a [Vec<f32>; 2],
        c: usize,
        bl: &Block,
        k: usize,
    ) -> RowCoefs<'a, C> {
        let [xm, xp, ym, yp, zm, zp] = self.links(lay, c, bl, k);
        let s = k * lay.plane() + bl.start;
        RowCoefs {
            links: Nb {
                xm,
                xp,
                ym,
                yp,
                zm,
                zp,
            },
            invd: &invd[c][s..s + bl.len],
        }
    }

    /// The `−x, +x, −y, +y, −z, +z` links of the nodes of block `bl` of colour `c` in plane `k`
    /// (each `−` link is the `+` link of the neighbour, in the other colour).
    #[inline]
    pub fn links<'a>(&'a self, lay: &Layout, c: usize, bl: &Block, k: usize) -> [&'a [C]; 6] {
        let (o, p, n) = (1 - c, k * lay.plane(), bl.len);
        let own = |v: &'a [Vec<C>; 2]| &v[c][p + bl.start..p + bl.start + n];
        [
            &self.cx[o][p + bl.xm..p + bl.xm + n],
            own(&self.cx),
            &self.cy[o][p + bl.ym..p + bl.ym + n],
            own(&self.cy),
            if k > 0 {
                let q = p - lay.plane() + bl.start;
                &self.cz[o][q..q + n]
            } else {
                &self.zeros[..n]
            },
            own(&self.cz),
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
        let mut out = [vec![0.0f32; lay.len()], vec![0.0f32; lay.len()]];
        for (c, out) in out.iter_mut().enumerate() {
            out.par_chunks_mut(lay.plane()).enumerate().for_each(|(k, pl)| {
                for b in 0..2 {
                    let bl = lay.block(c, b, k);
                    let n = bl.len;
                    let l = self.links(lay, c, &bl, k);
                    let s0 = k * lay.plane() + bl.start;
                    let ex = &extra[c][s0..s0 + n];
                    for (s, o) in pl[bl.start..bl.start + n].iter_mut().enumerate() {
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

    /// Every entry of a block's own, neighbour and link slices is the right node or link (or zero
    /// padding where there is none).
    #[test]
    fn block_slices_match_natural_neighbours_and_links() {
        for dims in [[7, 5, 4], [6, 3, 5], [1, 4, 3], [2, 2, 2], [5, 6, 1]] {
            let [nx, ny, nz] = dims;
            let len = nx * ny * nz;
            let lay = Layout::new(dims);
            let inside = |i: isize, j: isize, k: isize| {
                (0..nx as isize).contains(&i)
                    && (0..ny as isize).contains(&j)
                    && (0..nz as isize).contains(&k)
            };
            let nat_idx = |i: isize, j: isize, k: isize| i as usize + nx * (j as usize + ny * k as usize);
            // Value = 1 + natural index, so padding (0) is distinguishable.
            let nat: Vec<f64> = (0..len).map(|v| v as f64 + 1.0).collect();
            let val = |i: isize, j: isize, k: isize| {
                if inside(i, j, k) {
                    nat[nat_idx(i, j, k)]
                } else {
                    0.0
                }
            };
            // Links: +axis link of node idx = 1000·(axis + 1) + idx where it exists.
            let link_nat = |axis: usize| -> Vec<f32> {
                (0..len)
                    .map(|idx| {
                        let c = [idx % nx, (idx / nx) % ny, idx / (nx * ny)][axis];
                        if c + 1 < dims[axis] {
                            (1000 * (axis + 1) + idx) as f32
                        } else {
                            0.0
                        }
                    })
                    .collect()
            };
            let (lx, ly, lz) = (link_nat(0), link_nat(1), link_nat(2));
            let link = |axis: usize, i: isize, j: isize, k: isize| -> f32 {
                if inside(i, j, k) {
                    [&lx, &ly, &lz][axis][nat_idx(i, j, k)]
                } else {
                    0.0
                }
            };
            let co = Coefs::<f32>::new(&lay, &lx, &ly, &lz);
            let v = lay.split_map(&nat, |x| x);
            let zeros = vec![0.0; lay.plane()];
            let mut seen = 0;
            for c in 0..2 {
                for k in 0..nz {
                    for b in 0..2 {
                        let bl = lay.block(c, b, k);
                        let nb = lay.nb_block_full(&bl, &v[1 - c], &zeros, k);
                        let ls = co.links(&lay, c, &bl, k);
                        let own = &v[c][k * lay.plane() + bl.start..][..bl.len];
                        for (e, &x) in own.iter().enumerate() {
                            let (p, s) = (e / lay.w, e % lay.w);
                            let j = (2 * p + b) as isize;
                            let o = ((b + k + c) & 1) as isize;
                            let i = 2 * (s as isize - 1) + o;
                            let kk = k as isize;
                            let real = s >= 1 && s <= lay.n() && inside(i, j, kk);
                            assert_eq!(
                                x,
                                if real { val(i, j, kk) } else { 0.0 },
                                "{dims:?} c{c} b{b} k{k} e{e}"
                            );
                            if !real {
                                continue;
                            }
                            seen += 1;
                            assert_eq!(nb.xm[e], val(i - 1, j, kk));
                            assert_eq!(nb.xp[e], val(i + 1, j, kk));
                            assert_eq!(nb.ym[e], val(i, j - 1, kk));
                            assert_eq!(nb.yp[e], val(i, j + 1, kk));
                            assert_eq!(nb.zm[e], val(i, j, kk - 1));
                            assert_eq!(nb.zp[e], val(i, j, kk + 1));
                            assert_eq!(ls[0][e], link(0, i - 1, j, kk));
                            assert_eq!(ls[1][e], link(0, i, j, kk));
                            assert_eq!(ls[2][e], link(1, i, j - 1, kk));
                            assert_eq!(ls[3][e], link(1, i, j, kk));
                            assert_eq!(ls[4][e], link(2, i, j, kk - 1));
                            assert_eq!(ls[5][e], link(2, i, j, kk));
                        }
                    }
                }
            }
            assert_eq!(seen, len, "{dims:?}: every node once");
        }
    }
}
