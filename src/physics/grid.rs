//! `ComputeGrid`: an isotropic, LPS-axis-aligned grid cropped around the probes.

use crate::geometry::PatientPos;
use nalgebra::Vector3;

/// Isotropic grid aligned with the LPS axes; node `(i, j, k)` sits at
/// `origin_lps + spacing_mm * (i, j, k)`; `i` is fastest in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct ComputeGrid {
    pub origin_lps: PatientPos,
    pub spacing_mm: f64,
    pub dims: [usize; 3],
}

/// Multigrid-friendly size: the smallest `n >= min_n` with `n - 1` a multiple of 8 (saturating:
/// an absurd size from crafted coordinates stays absurd, for the node limit to refuse, instead
/// of overflowing).
pub fn mg_friendly(min_n: usize) -> usize {
    let m = min_n.max(2) - 1;
    m.div_ceil(8).saturating_mul(8).saturating_add(1)
}

impl ComputeGrid {
    /// Grid covering the bounding box of `segments` plus `margin_mm` on every side, centred on it,
    /// with each dimension rounded up so that `n - 1` is a multiple of 8 (three multigrid levels).
    pub fn around_segments(segments: &[(PatientPos, PatientPos)], margin_mm: f64, spacing_mm: f64) -> Self {
        let mut lo = Vector3::repeat(f64::INFINITY);
        let mut hi = Vector3::repeat(f64::NEG_INFINITY);
        for (a, b) in segments {
            for p in [a, b] {
                lo = lo.inf(&p.coords);
                hi = hi.sup(&p.coords);
            }
        }
        if segments.is_empty() {
            lo = Vector3::zeros();
            hi = Vector3::zeros();
        }
        let centre = (lo + hi) * 0.5;
        let mut dims = [0usize; 3];
        let mut origin = Vector3::zeros();
        for ax in 0..3 {
            let extent = (hi[ax] - lo[ax]) + 2.0 * margin_mm.max(0.0);
            let n = mg_friendly(((extent / spacing_mm).ceil() as usize).saturating_add(1));
            dims[ax] = n;
            origin[ax] = centre[ax] - 0.5 * (n - 1) as f64 * spacing_mm;
        }
        Self {
            origin_lps: PatientPos::from(origin),
            spacing_mm,
            dims,
        }
    }

    /// The cell of `p` for trilinear interpolation: the base node and the fractions along each
    /// axis (round-off at the faces tolerated); `None` outside the grid. Shared by every field
    /// the models sample (|E|, temperatures).
    pub fn cell_at(&self, p: &PatientPos) -> Option<([usize; 3], [f64; 3])> {
        let g = self.to_grid(p);
        let mut base = [0usize; 3];
        let mut frac = [0.0f64; 3];
        for ax in 0..3 {
            let top = (self.dims[ax] as f64) - 1.0;
            let x = g[ax];
            if !x.is_finite() || x < -1e-9 || x > top + 1e-9 {
                return None;
            }
            let x = x.clamp(0.0, top);
            let f = x.floor().min((top - 1.0).max(0.0));
            base[ax] = f as usize;
            frac[ax] = if self.dims[ax] > 1 { x - f } else { 0.0 };
        }
        Some((base, frac))
    }

    /// Number of nodes, saturating at `usize::MAX` (the models' node limits then refuse the
    /// grid before anything is allocated).
    pub fn len(&self) -> usize {
        self.dims[0]
            .saturating_mul(self.dims[1])
            .saturating_mul(self.dims[2])
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Linear index of node `(i, j, k)` (no bounds check beyond debug).
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.dims[0] * (j + self.dims[1] * k)
    }

    /// Inverse of [`Self::index`].
    pub fn ijk(&self, idx: usize) -> [usize; 3] {
        let i = idx % self.dims[0];
        let j = (idx / self.dims[0]) % self.dims[1];
        let k = idx / (self.dims[0] * self.dims[1]);
        [i, j, k]
    }

    /// LPS position of node `(i, j, k)`.
    pub fn lps(&self, i: usize, j: usize, k: usize) -> PatientPos {
        self.origin_lps + Vector3::new(i as f64, j as f64, k as f64) * self.spacing_mm
    }

    /// LPS position of the last node (the corner opposite `origin_lps`): with the origin, the
    /// box the grid's nodes span.
    pub fn last_node_lps(&self) -> PatientPos {
        self.lps(
            self.dims[0].saturating_sub(1),
            self.dims[1].saturating_sub(1),
            self.dims[2].saturating_sub(1),
        )
    }

    /// Continuous node coordinates of an LPS point.
    pub fn to_grid(&self, p: &PatientPos) -> Vector3<f64> {
        (p - self.origin_lps) / self.spacing_mm
    }

    /// Nearest node to an LPS point, if inside the grid.
    pub fn nearest(&self, p: &PatientPos) -> Option<[usize; 3]> {
        let g = self.to_grid(p);
        let mut out = [0usize; 3];
        for ax in 0..3 {
            let r = g[ax].round();
            if !(0.0..=(self.dims[ax] as f64 - 1.0)).contains(&r) {
                return None;
            }
            out[ax] = r as usize;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn absurd_extents_saturate_instead_of_overflowing() {
        let far = PatientPos::new(1e300, -1e300, 0.0);
        let g = ComputeGrid::around_segments(&[(PatientPos::origin(), far)], 1e300, 0.1);
        assert_eq!(g.len(), usize::MAX, "{:?}", g.dims);
        assert!(mg_friendly(usize::MAX) >= usize::MAX - 8);
        assert_eq!(mg_friendly(10), 17);
    }

    use super::*;

    #[test]
    fn roundtrip_and_crop() {
        let segs = [(
            PatientPos::new(-7.5, 0.0, -10.0),
            PatientPos::new(-7.5, 0.0, 10.0),
        )];
        let g = ComputeGrid::around_segments(&segs, 10.0, 0.5);
        assert!(g.dims.iter().all(|&n| (n - 1) % 8 == 0));
        assert!((g.dims[2] - 1) as f64 * 0.5 >= 40.0);
        let idx = g.index(3, 4, 5);
        assert_eq!(g.ijk(idx), [3, 4, 5]);
        let p = g.lps(3, 4, 5);
        assert_eq!(g.nearest(&p), Some([3, 4, 5]));
    }
}
