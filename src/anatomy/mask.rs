//! A binary mask on the CT grid, stored compactly as sorted runs per row per slice.
//!
//! Structures are mostly small or thin relative to the volume, so runs cost a few bytes per
//! row crossing: a 512×512×600 grid with 30 structures fits in a few MB, where dense bitsets
//! would take 590 MB. Editing decodes one slice at a time.

use serde::{Deserialize, Serialize};

use crate::volume::SliceMapping;

/// A horizontal run of voxels `[i0, i1)` on row `j`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    pub j: u32,
    pub i0: u32,
    pub i1: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mask {
    dims: [usize; 3],
    /// Per slice `k`: runs sorted by (j, i0), non-overlapping, non-adjacent.
    slices: Vec<Vec<Run>>,
}

impl Mask {
    pub fn empty(dims: [usize; 3]) -> Self {
        Self {
            dims,
            slices: vec![Vec::new(); dims[2]],
        }
    }

    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    /// Build from a dense volume of flags (i fastest).
    pub fn from_dense(dims: [usize; 3], data: &[bool]) -> Self {
        let plane = dims[0] * dims[1];
        let mut m = Self::empty(dims);
        for (k, slice) in m.slices.iter_mut().enumerate() {
            let start = k * plane;
            if let Some(s) = data.get(start..start + plane) {
                *slice = encode_slice(dims[0], dims[1], s);
            }
        }
        m
    }

    /// Checks a mask read from a file: one run list per slice, runs inside the grid, sorted by
    /// (j, i0), non-empty and non-overlapping. Every other method relies on this shape.
    pub fn check(&self) -> Result<(), String> {
        let [nx, ny, nz] = self.dims;
        if self.slices.len() != nz {
            return Err(format!("{} run lists for {nz} slices", self.slices.len()));
        }
        for (k, runs) in self.slices.iter().enumerate() {
            let mut prev: Option<Run> = None;
            for r in runs {
                if r.i0 >= r.i1 || r.i1 as usize > nx || r.j as usize >= ny {
                    return Err(format!(
                        "slice {k}: run (row {}, columns {}..{}) outside the {nx} × {ny} grid or empty",
                        r.j, r.i0, r.i1
                    ));
                }
                if let Some(p) = prev
                    && (p.j, p.i1) >= (r.j, r.i0)
                {
                    return Err(format!(
                        "slice {k}: runs out of order or overlapping at row {}",
                        r.j
                    ));
                }
                prev = Some(*r);
            }
        }
        Ok(())
    }

    pub fn contains(&self, i: usize, j: usize, k: usize) -> bool {
        let Some(runs) = self.slices.get(k) else {
            return false;
        };
        let (i, j) = (i as u32, j as u32);
        // Runs are sorted by (j, i0): binary search the last run starting at or before (j, i).
        let idx = runs.partition_point(|r| (r.j, r.i0) <= (j, i));
        idx > 0 && {
            let r = runs[idx - 1];
            r.j == j && i < r.i1
        }
    }

    pub fn slice_runs(&self, k: usize) -> &[Run] {
        self.slices.get(k).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Dense flags of slice `k` (row-major, `nx * ny`).
    pub fn slice_dense(&self, k: usize) -> Vec<bool> {
        let mut out = vec![false; self.dims[0] * self.dims[1]];
        self.fill_slice_dense(k, &mut out);
        out
    }

    pub fn fill_slice_dense(&self, k: usize, out: &mut [bool]) {
        out.fill(false);
        let nx = self.dims[0];
        for r in self.slice_runs(k) {
            let row = r.j as usize * nx;
            if let Some(seg) = out.get_mut(row + r.i0 as usize..row + r.i1 as usize) {
                seg.fill(true);
            }
        }
    }

    /// Replace slice `k` from dense flags.
    pub fn set_slice_dense(&mut self, k: usize, data: &[bool]) {
        let (nx, ny) = (self.dims[0], self.dims[1]);
        if let Some(s) = self.slices.get_mut(k) {
            *s = encode_slice(nx, ny, data);
        }
    }

    /// Dense flags of the whole volume (for kernels such as the EDT).
    pub fn to_dense(&self) -> Vec<bool> {
        let plane = self.dims[0] * self.dims[1];
        let mut out = vec![false; plane * self.dims[2]];
        for (k, chunk) in out.chunks_exact_mut(plane.max(1)).enumerate().take(self.dims[2]) {
            self.fill_slice_dense(k, chunk);
        }
        out
    }

    pub fn voxel_count(&self) -> usize {
        self.slices
            .iter()
            .flat_map(|s| s.iter())
            .map(|r| (r.i1 - r.i0) as usize)
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.slices.iter().all(Vec::is_empty)
    }

    /// Inclusive voxel bounding box `[min, max]`, `None` when empty.
    pub fn bounding_box(&self) -> Option<([usize; 3], [usize; 3])> {
        let mut lo = [usize::MAX; 3];
        let mut hi = [0usize; 3];
        let mut any = false;
        for (k, runs) in self.slices.iter().enumerate() {
            for r in runs {
                any = true;
                lo[0] = lo[0].min(r.i0 as usize);
                hi[0] = hi[0].max(r.i1 as usize - 1);
                lo[1] = lo[1].min(r.j as usize);
                hi[1] = hi[1].max(r.j as usize);
                lo[2] = lo[2].min(k);
                hi[2] = hi[2].max(k);
            }
        }
        any.then_some((lo, hi))
    }

    /// Runs of row `j` in slice `k`.
    pub fn row_runs(&self, j: usize, k: usize) -> &[Run] {
        let runs = self.slice_runs(k);
        let j = j as u32;
        let a = runs.partition_point(|r| r.j < j);
        let b = runs.partition_point(|r| r.j <= j);
        &runs[a..b]
    }

    /// The mask as seen in an MPR view (same pixel order as `volume::extract_slice`).
    pub fn view_slice(&self, m: &SliceMapping, index: usize) -> Vec<bool> {
        let mut out = vec![false; m.width * m.height];
        if self.dims[m.normal_axis] == 0 || out.is_empty() {
            return out;
        }
        let index = index.min(self.dims[m.normal_axis] - 1);
        let mut ijk = [0usize; 3];
        ijk[m.normal_axis] = index;
        let put = |out: &mut [bool], ijk: &[usize; 3]| {
            let h = ijk[m.h_axis];
            let v = ijk[m.v_axis];
            let col = if m.h_flip { m.width - 1 - h } else { h };
            let row = if m.v_flip { m.height - 1 - v } else { v };
            if let Some(p) = out.get_mut(col + m.width * row) {
                *p = true;
            }
        };
        // Walk the runs of the rows that cross this view plane.
        let ks: Vec<usize> = if m.normal_axis == 2 {
            vec![index]
        } else {
            (0..self.dims[2]).collect()
        };
        for k in ks {
            ijk[2] = k;
            let runs: &[Run] = if m.normal_axis == 1 {
                self.row_runs(index, k)
            } else {
                self.slice_runs(k)
            };
            for r in runs {
                ijk[1] = r.j as usize;
                if m.normal_axis == 0 {
                    if (r.i0 as usize..r.i1 as usize).contains(&index) {
                        ijk[0] = index;
                        put(&mut out, &ijk);
                    }
                } else {
                    for i in r.i0 as usize..r.i1 as usize {
                        ijk[0] = i;
                        put(&mut out, &ijk);
                    }
                }
            }
        }
        out
    }

    /// Bytes used by the run storage (for memory budgets).
    pub fn heap_bytes(&self) -> usize {
        self.slices
            .iter()
            .map(|s| s.capacity() * std::mem::size_of::<Run>())
            .sum::<usize>()
            + self.slices.capacity() * std::mem::size_of::<Vec<Run>>()
    }
}

fn encode_slice(nx: usize, ny: usize, data: &[bool]) -> Vec<Run> {
    let mut runs = Vec::new();
    for j in 0..ny {
        let Some(row) = data.get(j * nx..(j + 1) * nx) else {
            break;
        };
        let mut i = 0;
        while i < nx {
            if row[i] {
                let start = i;
                while i < nx && row[i] {
                    i += 1;
                }
                runs.push(Run {
                    j: j as u32,
                    i0: start as u32,
                    i1: i as u32,
                });
            } else {
                i += 1;
            }
        }
    }
    runs.shrink_to_fit();
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_accepts_encoded_masks_and_rejects_broken_ones() {
        let dims = [4, 3, 2];
        let mut dense = vec![false; 24];
        dense[1] = true;
        dense[2] = true;
        dense[13] = true;
        let m = Mask::from_dense(dims, &dense);
        assert_eq!(m.check(), Ok(()));
        let mut outside = m.clone();
        outside.slices[0][0].i1 = 9;
        assert!(outside.check().unwrap_err().contains("outside"));
        let mut unsorted = m.clone();
        unsorted.slices[0].push(Run { j: 0, i0: 0, i1: 1 });
        assert!(unsorted.check().unwrap_err().contains("order"));
        let mut short = m;
        short.slices.pop();
        assert!(short.check().is_err());
    }
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn dense_round_trip(nx in 1usize..9, ny in 1usize..7, nz in 1usize..4, seed in any::<u64>()) {
            let n = nx * ny * nz;
            let mut s = seed;
            let data: Vec<bool> = (0..n).map(|_| { s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); (s >> 33) & 1 == 1 }).collect();
            let m = Mask::from_dense([nx, ny, nz], &data);
            prop_assert_eq!(m.to_dense(), data.clone());
            prop_assert_eq!(m.voxel_count(), data.iter().filter(|b| **b).count());
            for k in 0..nz { for j in 0..ny { for i in 0..nx {
                prop_assert_eq!(m.contains(i, j, k), data[i + nx * (j + ny * k)]);
            }}}
        }
    }

    #[test]
    fn thirty_large_structures_fit_easily() {
        // 30 spheres of 60 mm diameter on a 512×512×600 grid (1 mm): the runs stay small.
        let dims = [512, 512, 600];
        let mut total = 0;
        for _ in 0..30 {
            let mut m = Mask::empty(dims);
            for k in 270..330 {
                let mut slice = vec![false; 512 * 512];
                for j in 200..260usize {
                    for i in 200..260usize {
                        let d2 = (i as f64 - 230.0).powi(2)
                            + (j as f64 - 230.0).powi(2)
                            + (k as f64 - 300.0).powi(2);
                        slice[i + 512 * j] = d2 < 900.0;
                    }
                }
                m.set_slice_dense(k, &slice);
            }
            total += m.heap_bytes();
        }
        assert!(total < 64 << 20, "{total} bytes");
    }

    #[test]
    fn view_slices_match_the_volume_slices() {
        use crate::geometry::VolumeGeometry;
        use crate::volume::{ViewKind, Volume, VolumeMeta};
        use nalgebra::{Matrix3, Point3, Vector3};
        let dims = [7, 5, 4];
        let n = 7 * 5 * 4;
        let data: Vec<bool> = (0..n).map(|x| (x * 7919) % 5 < 2).collect();
        let mask = Mask::from_dense(dims, &data);
        // A volume whose HU is the mask, with flipped axes, must give the same view slices.
        let g = VolumeGeometry {
            dims,
            spacing_mm: [1.0, 1.0, 2.0],
            origin_lps: Point3::origin(),
            direction: Matrix3::from_diagonal(&Vector3::new(-1.0, 1.0, -1.0)),
        };
        let vol = Volume::new(g, data.iter().map(|b| *b as i16).collect(), VolumeMeta::default()).unwrap();
        for view in ViewKind::ALL {
            let m = vol.view_mapping(view);
            for idx in 0..m.slice_count {
                let expect: Vec<bool> = vol.slice(view, idx).hu.iter().map(|v| *v == 1).collect();
                assert_eq!(mask.view_slice(&m, idx), expect, "{view:?} {idx}");
            }
        }
    }

    #[test]
    fn bounding_box_and_empty() {
        let mut m = Mask::empty([10, 10, 5]);
        assert!(m.is_empty() && m.bounding_box().is_none());
        let mut s = vec![false; 100];
        s[3 + 10 * 4] = true;
        s[7 + 10 * 6] = true;
        m.set_slice_dense(2, &s);
        assert_eq!(m.bounding_box(), Some(([3, 4, 2], [7, 6, 2])));
        assert!(m.contains(7, 6, 2) && !m.contains(7, 6, 3) && !m.contains(99, 6, 2));
    }
}
