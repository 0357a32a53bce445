//! A CT volume in Hounsfield units on a [`VolumeGeometry`], and the orthogonal MPR slices
//! the viewer shows (axial, coronal, sagittal) in the radiological display convention.

use crate::geometry::{PatientAxis, PatientPos, VolumeGeometry, VoxelPos, orientation_label};
use nalgebra::Vector3;
use serde::{Deserialize, Serialize};

/// Descriptive header data shown in the corner overlays and reports.
/// Patient-identifying fields are kept here only; settings and logs never store them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeMeta {
    pub patient_name: String,
    pub patient_id: String,
    pub patient_birth_date: String,
    pub study_date: String,
    pub study_time: String,
    pub study_description: String,
    pub series_description: String,
    pub series_number: Option<i32>,
    pub modality: String,
    pub institution: String,
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub frame_of_reference_uid: String,
    /// Reconstructed slice thickness (may differ from the slice spacing).
    pub slice_thickness_mm: Option<f64>,
    /// DICOM default window (centre, width) in HU, first value of the first slice.
    pub default_window: Option<(f64, f64)>,
    /// PatientName as written (`^` between the name's components); `patient_name` is for display.
    #[serde(default)]
    pub patient_name_pn: String,
    #[serde(default)]
    pub patient_sex: String,
    #[serde(default)]
    pub accession_number: String,
    #[serde(default)]
    pub referring_physician_pn: String,
    #[serde(default)]
    pub study_id: String,
    /// The CT image each slice `k` of the volume is, for the references of exported objects:
    /// one entry per slice when the volume is the series' own planes (not resampled), else
    /// empty (nothing is referenced that the volume does not show).
    #[serde(default)]
    pub slice_refs: Vec<SliceRef>,
}

/// One CT image plane: its SOP class and instance, and its frame number (1-based) in a
/// multi-frame instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SliceRef {
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub frame_number: Option<u32>,
}

/// A CT volume: HU as i16 in (i fastest, then j, then k) order.
#[derive(Clone, Debug)]
pub struct Volume {
    pub geometry: VolumeGeometry,
    pub hu: Vec<i16>,
    pub meta: VolumeMeta,
}

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("voxel buffer has {got} values but the geometry needs {expected}")]
    SizeMismatch { expected: usize, got: usize },
    #[error(transparent)]
    Geometry(#[from] crate::geometry::GeometryError),
}

impl Volume {
    pub fn new(geometry: VolumeGeometry, hu: Vec<i16>, meta: VolumeMeta) -> Result<Self, VolumeError> {
        geometry.validate()?;
        let expected = geometry.voxel_count();
        if hu.len() != expected {
            return Err(VolumeError::SizeMismatch {
                expected,
                got: hu.len(),
            });
        }
        Ok(Self { geometry, hu, meta })
    }

    pub fn get(&self, i: usize, j: usize, k: usize) -> Option<i16> {
        self.geometry
            .index(i as i64, j as i64, k as i64)
            .and_then(|n| self.hu.get(n).copied())
    }

    /// HU at the voxel nearest to a patient position, `None` outside the volume.
    pub fn hu_at(&self, p: &PatientPos) -> Option<i16> {
        let v = self.geometry.to_voxel(p);
        let [i, j, k] = self.geometry.nearest_voxel(&v)?;
        self.get(i, j, k)
    }

    /// Minimum and maximum HU (for reports).
    pub fn hu_range(&self) -> Option<(i16, i16)> {
        let min = self.hu.iter().copied().min()?;
        let max = self.hu.iter().copied().max()?;
        Some((min, max))
    }

    pub fn size_bytes(&self) -> usize {
        self.hu.len() * std::mem::size_of::<i16>()
    }

    /// How an MPR view maps to voxel axes for this volume.
    pub fn view_mapping(&self, view: ViewKind) -> SliceMapping {
        SliceMapping::new(&self.geometry, view)
    }

    /// Extract the slice of `view` through voxel index `index` along the view's normal axis.
    pub fn slice(&self, view: ViewKind, index: usize) -> SliceImage {
        let m = self.view_mapping(view);
        extract_slice(self, &m, index)
    }
}

/// The three orthogonal viewer planes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ViewKind {
    Axial,
    Coronal,
    Sagittal,
}

impl ViewKind {
    pub const ALL: [ViewKind; 3] = [ViewKind::Axial, ViewKind::Coronal, ViewKind::Sagittal];

    pub fn name(self) -> &'static str {
        match self {
            ViewKind::Axial => "Axial",
            ViewKind::Coronal => "Coronal",
            ViewKind::Sagittal => "Sagittal",
        }
    }

    /// The patient axis normal to the plane.
    pub fn normal_axis(self) -> PatientAxis {
        match self {
            ViewKind::Axial => PatientAxis::SuperiorInferior,
            ViewKind::Coronal => PatientAxis::AnteriorPosterior,
            ViewKind::Sagittal => PatientAxis::LeftRight,
        }
    }

    /// Screen-right and screen-down patient axes with the sign (+1 = towards L / P / S)
    /// of the direction they should point, in the radiological convention:
    /// axial: right = patient left (L), down = posterior (P);
    /// coronal: right = L, down = inferior; sagittal: right = posterior, down = inferior.
    fn screen_axes(self) -> ((PatientAxis, f64), (PatientAxis, f64)) {
        use PatientAxis::*;
        match self {
            ViewKind::Axial => ((LeftRight, 1.0), (AnteriorPosterior, 1.0)),
            ViewKind::Coronal => ((LeftRight, 1.0), (SuperiorInferior, -1.0)),
            ViewKind::Sagittal => ((AnteriorPosterior, 1.0), (SuperiorInferior, -1.0)),
        }
    }
}

/// How a view's image pixels map to voxel indices.
/// Pixel `(u, v)` (u to the right, v down) shows voxel with
/// `axis[h_axis] = if h_flip { n_h - 1 - u } else { u }`, likewise for `v`, and
/// `axis[normal_axis] = slice index`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SliceMapping {
    pub view: ViewKind,
    pub normal_axis: usize,
    pub h_axis: usize,
    pub h_flip: bool,
    pub v_axis: usize,
    pub v_flip: bool,
    pub width: usize,
    pub height: usize,
    pub slice_count: usize,
    /// Physical size of one pixel on screen, (horizontal, vertical) in mm.
    pub pixel_mm: [f64; 2],
}

impl SliceMapping {
    pub fn new(g: &VolumeGeometry, view: ViewKind) -> Self {
        let (normal_axis, _) = g.voxel_axis_for(view.normal_axis());
        let ((h_pat, h_sign), (v_pat, v_sign)) = view.screen_axes();
        let (h_axis, h_align) = g.voxel_axis_for(h_pat);
        let (v_axis, v_align) = g.voxel_axis_for(v_pat);
        Self {
            view,
            normal_axis,
            h_axis,
            h_flip: h_align * h_sign < 0.0,
            v_axis,
            v_flip: v_align * v_sign < 0.0,
            width: g.dims[h_axis],
            height: g.dims[v_axis],
            slice_count: g.dims[normal_axis],
            pixel_mm: [g.spacing_mm[h_axis], g.spacing_mm[v_axis]],
        }
    }

    /// Continuous voxel position of a continuous pixel position on slice `slice` (pixel
    /// centres are at integer + 0.5 in `u`, `v`).
    pub fn voxel_of_pixel(&self, u: f64, v: f64, slice: f64) -> VoxelPos {
        let h = u - 0.5;
        let w = v - 0.5;
        let hi = if self.h_flip {
            (self.width as f64 - 1.0) - h
        } else {
            h
        };
        let vi = if self.v_flip {
            (self.height as f64 - 1.0) - w
        } else {
            w
        };
        let mut out = Vector3::zeros();
        out[self.h_axis] = hi;
        out[self.v_axis] = vi;
        out[self.normal_axis] = slice;
        out
    }

    /// Continuous pixel position (u, v) and slice coordinate of a voxel position.
    pub fn pixel_of_voxel(&self, vox: &VoxelPos) -> (f64, f64, f64) {
        let hi = vox[self.h_axis];
        let vi = vox[self.v_axis];
        let h = if self.h_flip {
            (self.width as f64 - 1.0) - hi
        } else {
            hi
        };
        let w = if self.v_flip {
            (self.height as f64 - 1.0) - vi
        } else {
            vi
        };
        (h + 0.5, w + 0.5, vox[self.normal_axis])
    }

    /// Orientation letters at the (left, right, top, bottom) edges of the view.
    pub fn edge_labels(&self, g: &VolumeGeometry) -> [String; 4] {
        let h = g.axis_dir(self.h_axis) * if self.h_flip { -1.0 } else { 1.0 };
        let v = g.axis_dir(self.v_axis) * if self.v_flip { -1.0 } else { 1.0 };
        [
            orientation_label(&-h),
            orientation_label(&h),
            orientation_label(&-v),
            orientation_label(&v),
        ]
    }
}

/// A 2-D slice of HU values ready for display.
#[derive(Clone, Debug, PartialEq)]
pub struct SliceImage {
    pub width: usize,
    pub height: usize,
    /// Row-major, `width * height` values.
    pub hu: Vec<i16>,
    /// Physical size of one pixel (horizontal, vertical) in mm.
    pub pixel_mm: [f64; 2],
}

/// Fill a slice image from the volume (nearest voxel; views are voxel-axis aligned).
pub fn extract_slice(vol: &Volume, m: &SliceMapping, index: usize) -> SliceImage {
    let g = &vol.geometry;
    let [nx, ny, _] = g.dims;
    let strides = [1usize, nx, nx * ny];
    let index = index.min(m.slice_count.saturating_sub(1));
    let mut hu = vec![0i16; m.width * m.height];
    let base = index * strides[m.normal_axis];
    let hs = strides[m.h_axis];
    let vs = strides[m.v_axis];
    for (row, out_row) in hu.chunks_exact_mut(m.width.max(1)).enumerate() {
        let vi = if m.v_flip { m.height - 1 - row } else { row };
        let row_base = base + vi * vs;
        for (col, out) in out_row.iter_mut().enumerate() {
            let hi = if m.h_flip { m.width - 1 - col } else { col };
            // Index is within the grid by construction of the mapping.
            *out = vol.hu.get(row_base + hi * hs).copied().unwrap_or(i16::MIN);
        }
    }
    SliceImage {
        width: m.width,
        height: m.height,
        hu,
        pixel_mm: m.pixel_mm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Matrix3, Point3};

    fn ramp(dims: [usize; 3], direction: Matrix3<f64>) -> Volume {
        let g = VolumeGeometry {
            dims,
            spacing_mm: [0.5, 0.75, 2.0],
            origin_lps: Point3::new(0.0, 0.0, 0.0),
            direction,
        };
        let hu = (0..g.voxel_count()).map(|n| n as i16).collect();
        Volume::new(g, hu, VolumeMeta::default()).unwrap()
    }

    #[test]
    fn axial_of_standard_ct_is_radiological() {
        let v = ramp([4, 3, 2], Matrix3::identity());
        let m = v.view_mapping(ViewKind::Axial);
        assert_eq!((m.normal_axis, m.h_axis, m.v_axis), (2, 0, 1));
        assert!(!m.h_flip && !m.v_flip);
        assert_eq!(
            m.edge_labels(&v.geometry),
            ["R".to_string(), "L".into(), "A".into(), "P".into()]
        );
        let s = v.slice(ViewKind::Axial, 1);
        assert_eq!(s.hu[0], v.get(0, 0, 1).unwrap());
        assert_eq!(s.hu[5], v.get(1, 1, 1).unwrap());
    }

    #[test]
    fn coronal_has_superior_at_top() {
        let v = ramp([4, 3, 5], Matrix3::identity());
        let m = v.view_mapping(ViewKind::Coronal);
        assert_eq!((m.normal_axis, m.h_axis, m.v_axis), (1, 0, 2));
        assert!(m.v_flip, "k increases towards S, so rows must be flipped");
        assert_eq!(m.edge_labels(&v.geometry)[2], "S");
        assert_eq!(m.pixel_mm, [0.5, 2.0]);
        let s = v.slice(ViewKind::Coronal, 2);
        // top-left pixel: i = 0, k = last
        assert_eq!(s.hu[0], v.get(0, 2, 4).unwrap());
    }

    #[test]
    fn sagittal_anterior_left() {
        let v = ramp([4, 3, 5], Matrix3::identity());
        let m = v.view_mapping(ViewKind::Sagittal);
        assert_eq!(
            m.edge_labels(&v.geometry),
            ["A".to_string(), "P".into(), "S".into(), "I".into()]
        );
    }

    #[test]
    fn feet_first_prone_flips_to_convention() {
        // i → R, j → A (prone), k → I
        let d = Matrix3::from_diagonal(&Vector3::new(-1.0, -1.0, -1.0));
        let v = ramp([4, 3, 5], d);
        let m = v.view_mapping(ViewKind::Axial);
        assert!(m.h_flip && m.v_flip);
        assert_eq!(
            m.edge_labels(&v.geometry),
            ["R".to_string(), "L".into(), "A".into(), "P".into()]
        );
    }

    #[test]
    fn pixel_voxel_round_trip() {
        let v = ramp([7, 5, 3], Matrix3::from_diagonal(&Vector3::new(-1.0, 1.0, -1.0)));
        for view in ViewKind::ALL {
            let m = v.view_mapping(view);
            let vox = m.voxel_of_pixel(2.5, 1.25, 1.0);
            let (u, w, s) = m.pixel_of_voxel(&vox);
            assert!((u - 2.5).abs() < 1e-12 && (w - 1.25).abs() < 1e-12 && (s - 1.0).abs() < 1e-12);
        }
    }
}
