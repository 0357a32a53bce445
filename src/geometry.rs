//! Patient space (DICOM LPS, millimetres) and the voxel grid of a volume.
//!
//! Conventions (see `../shared/REFERENCE.md` §6):
//! - voxel index `(i, j, k)`: `i` = column (fastest in memory), `j` = row, `k` = slice;
//! - `direction` columns are the patient-space unit vectors of increasing `i`, `j`, `k`:
//!   `i` = first triplet of ImageOrientationPatient, `j` = second, `k` = slice step direction;
//! - `spacing_mm = [column spacing, row spacing, slice spacing]`, i.e. `[PixelSpacing[1],
//!   PixelSpacing[0], step]`;
//! - `origin_lps` is the centre of voxel (0, 0, 0) (ImagePositionPatient of the first slice).

use nalgebra::{Matrix3, Matrix4, Point3, Vector3};
use serde::{Deserialize, Serialize};

/// A point in DICOM patient coordinates (LPS, mm).
pub type PatientPos = Point3<f64>;
/// A continuous voxel index (`i`, `j`, `k`); integer values are voxel centres.
pub type VoxelPos = Vector3<f64>;

/// Patient axes as seen by a radiologist.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum PatientAxis {
    /// Left–right (LPS x).
    LeftRight,
    /// Posterior–anterior (LPS y).
    AnteriorPosterior,
    /// Superior–inferior (LPS z).
    SuperiorInferior,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VolumeGeometry {
    pub dims: [usize; 3],
    pub spacing_mm: [f64; 3],
    pub origin_lps: PatientPos,
    /// Columns: unit direction of increasing i, j, k in LPS.
    pub direction: Matrix3<f64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GeometryError {
    #[error("voxel spacing must be positive and finite, got {0:?} mm")]
    BadSpacing([f64; 3]),
    #[error("image orientation is degenerate (directions are parallel or zero)")]
    DegenerateDirection,
    #[error("volume dimensions must be non-zero, got {0:?}")]
    EmptyDims([usize; 3]),
}

impl VolumeGeometry {
    /// An axis-aligned geometry (identity direction: i → L, j → P, k → S).
    pub fn axis_aligned(dims: [usize; 3], spacing_mm: [f64; 3], origin_lps: PatientPos) -> Self {
        Self {
            dims,
            spacing_mm,
            origin_lps,
            direction: Matrix3::identity(),
        }
    }

    /// Checks the invariants every consumer relies on.
    pub fn validate(&self) -> Result<(), GeometryError> {
        if self.dims.contains(&0) {
            return Err(GeometryError::EmptyDims(self.dims));
        }
        if self.spacing_mm.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(GeometryError::BadSpacing(self.spacing_mm));
        }
        let det = self.direction.determinant();
        if !det.is_finite() || det.abs() < 1e-6 {
            return Err(GeometryError::DegenerateDirection);
        }
        Ok(())
    }

    pub fn voxel_count(&self) -> usize {
        self.dims[0] * self.dims[1] * self.dims[2]
    }

    /// Homogeneous transform from continuous voxel index to LPS mm.
    pub fn patient_from_voxel(&self) -> Matrix4<f64> {
        let scaled = self.direction * Matrix3::from_diagonal(&Vector3::from(self.spacing_mm));
        let mut m = scaled.to_homogeneous();
        m.fixed_view_mut::<3, 1>(0, 3).copy_from(&self.origin_lps.coords);
        m
    }

    /// Homogeneous transform from LPS mm to continuous voxel index.
    /// Falls back to the identity only for an invalid geometry (callers validate first).
    pub fn voxel_from_patient(&self) -> Matrix4<f64> {
        self.patient_from_voxel()
            .try_inverse()
            .unwrap_or_else(Matrix4::identity)
    }

    pub fn to_patient(&self, v: &VoxelPos) -> PatientPos {
        let d = self.direction;
        let s = self.spacing_mm;
        self.origin_lps + d.column(0) * (v.x * s[0]) + d.column(1) * (v.y * s[1]) + d.column(2) * (v.z * s[2])
    }

    pub fn to_voxel(&self, p: &PatientPos) -> VoxelPos {
        let m = self.voxel_from_patient();
        let h = m * p.to_homogeneous();
        Vector3::new(h.x, h.y, h.z)
    }

    /// Linear index of an integer voxel, `None` outside the grid.
    pub fn index(&self, i: i64, j: i64, k: i64) -> Option<usize> {
        let [nx, ny, nz] = self.dims;
        if i < 0 || j < 0 || k < 0 || i as usize >= nx || j as usize >= ny || k as usize >= nz {
            return None;
        }
        Some(i as usize + nx * (j as usize + ny * k as usize))
    }

    /// Nearest integer voxel containing a continuous voxel position, `None` outside.
    pub fn nearest_voxel(&self, v: &VoxelPos) -> Option<[usize; 3]> {
        let r = [v.x.round(), v.y.round(), v.z.round()];
        if r.iter().any(|x| !x.is_finite()) {
            return None;
        }
        self.index(r[0] as i64, r[1] as i64, r[2] as i64)
            .map(|_| [r[0] as usize, r[1] as usize, r[2] as usize])
    }

    /// Unit direction in LPS of a voxel axis (0 = i, 1 = j, 2 = k).
    pub fn axis_dir(&self, axis: usize) -> Vector3<f64> {
        let c = self.direction.column(axis).into_owned();
        let n = c.norm();
        if n > 0.0 { c / n } else { c }
    }

    /// The voxel axis (0, 1, 2) best aligned with a patient axis, and the sign of that
    /// alignment (+1 when increasing the index moves towards L, P or S respectively).
    pub fn voxel_axis_for(&self, patient: PatientAxis) -> (usize, f64) {
        let comp = match patient {
            PatientAxis::LeftRight => 0,
            PatientAxis::AnteriorPosterior => 1,
            PatientAxis::SuperiorInferior => 2,
        };
        // Greedy assignment that keeps the three views on three distinct axes even for
        // strongly oblique acquisitions: S/I picks first (slice normal), then L/R, then A/P.
        let order = [2usize, 0, 1];
        let mut used = [false; 3];
        let mut result = [(0usize, 1.0f64); 3];
        for &c in &order {
            let mut best = (0usize, -1.0f64, 1.0f64);
            for (ax, used_ax) in used.iter().enumerate() {
                if *used_ax {
                    continue;
                }
                let v = self.axis_dir(ax)[c];
                if v.abs() > best.1 {
                    best = (ax, v.abs(), v.signum());
                }
            }
            used[best.0] = true;
            result[c] = (best.0, if best.2 == 0.0 { 1.0 } else { best.2 });
        }
        result[comp]
    }
}

/// The anatomical letter (L/R, P/A, S/I) a patient-space direction points to, with up to two
/// secondary letters for oblique directions (as DICOM viewers label oblique edges, e.g. "LP").
pub fn orientation_label(dir: &Vector3<f64>) -> String {
    let letters = [('L', 'R'), ('P', 'A'), ('S', 'I')];
    let n = dir.norm();
    if n == 0.0 {
        return String::new();
    }
    let d = dir / n;
    let mut comps: Vec<(usize, f64)> = (0..3).map(|c| (c, d[c])).collect();
    comps.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    let mut s = String::new();
    for (idx, (c, v)) in comps.iter().enumerate() {
        // The dominant letter always; others only when clearly oblique (> ~10°).
        if idx > 0 && v.abs() < 0.17 {
            break;
        }
        let (pos, neg) = letters[*c];
        s.push(if *v >= 0.0 { pos } else { neg });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Rotation3;

    fn oblique() -> VolumeGeometry {
        let rot = Rotation3::from_euler_angles(0.3, -0.2, 0.7);
        VolumeGeometry {
            dims: [64, 48, 20],
            spacing_mm: [0.7, 0.9, 2.5],
            origin_lps: Point3::new(-120.0, 33.5, 401.0),
            direction: *rot.matrix(),
        }
    }

    #[test]
    fn round_trip_axis_aligned_anisotropic() {
        let g = VolumeGeometry::axis_aligned([10, 20, 30], [0.8, 0.8, 2.0], Point3::new(1.0, 2.0, 3.0));
        let v = Vector3::new(3.25, 7.5, 11.0);
        let p = g.to_patient(&v);
        assert!((p - Point3::new(1.0 + 2.6, 2.0 + 6.0, 3.0 + 22.0)).norm() < 1e-12);
        assert!((g.to_voxel(&p) - v).norm() < 1e-12);
    }

    #[test]
    fn round_trip_oblique() {
        let g = oblique();
        g.validate().unwrap();
        for v in [
            Vector3::new(0.0, 0.0, 0.0),
            Vector3::new(63.0, 47.0, 19.0),
            Vector3::new(-3.5, 12.25, 7.75),
        ] {
            let p = g.to_patient(&v);
            let back = g.to_voxel(&p);
            assert!((back - v).norm() < 1e-9, "{v:?} -> {p:?} -> {back:?}");
            let h = g.patient_from_voxel() * v.push(1.0);
            assert!((Point3::new(h.x, h.y, h.z) - p).norm() < 1e-9);
        }
    }

    #[test]
    fn voxel_step_has_spacing_length() {
        let g = oblique();
        let p0 = g.to_patient(&Vector3::zeros());
        for (ax, s) in g.spacing_mm.iter().enumerate() {
            let mut v = Vector3::zeros();
            v[ax] = 1.0;
            assert!(((g.to_patient(&v) - p0).norm() - s).abs() < 1e-12);
        }
    }

    #[test]
    fn labels_follow_direction() {
        assert_eq!(orientation_label(&Vector3::new(1.0, 0.0, 0.0)), "L");
        assert_eq!(orientation_label(&Vector3::new(-1.0, 0.0, 0.0)), "R");
        assert_eq!(orientation_label(&Vector3::new(0.0, -1.0, 0.0)), "A");
        assert_eq!(orientation_label(&Vector3::new(0.0, 0.0, -1.0)), "I");
        assert_eq!(orientation_label(&Vector3::new(0.8, 0.6, 0.0)), "LP");
    }

    #[test]
    fn view_axes_are_distinct_for_oblique() {
        let g = oblique();
        let a: Vec<usize> = [
            PatientAxis::LeftRight,
            PatientAxis::AnteriorPosterior,
            PatientAxis::SuperiorInferior,
        ]
        .iter()
        .map(|p| g.voxel_axis_for(*p).0)
        .collect();
        let mut s = a.clone();
        s.sort();
        s.dedup();
        assert_eq!(s.len(), 3, "{a:?}");
    }

    #[test]
    fn validate_rejects_bad_input() {
        let mut g = oblique();
        g.spacing_mm[2] = 0.0;
        assert!(matches!(g.validate(), Err(GeometryError::BadSpacing(_))));
        let mut g = oblique();
        g.direction = Matrix3::zeros();
        assert_eq!(g.validate(), Err(GeometryError::DegenerateDirection));
    }
}
