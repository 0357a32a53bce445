//! NIfTI-1 label-map import (a single multi-label file such as TotalSegmentator `--ml` output,
//! or a folder of binary masks), resampled onto the CT grid.
//!
//! Orientation: NIfTI world coordinates are RAS+ (+x towards the patient's right, +y anterior,
//! +z superior); DICOM patient coordinates are LPS+ (+x left, +y posterior, +z superior), so
//! `lps = (−x_ras, −y_ras, z_ras)`. The NIfTI voxel → RAS affine is
//! 1. the sform (`srow_x/y/z`) when `sform_code > 0`, else
//! 2. the qform (quaternion `b, c, d`, `qfac = pixdim[0]`, offsets) when `qform_code > 0`, else
//! 3. plain `pixdim` scaling (NIfTI "method 1", meant for old ANALYZE files) with a warning.
//!
//! Resampling is nearest neighbour: for each CT voxel centre, LPS → RAS → NIfTI continuous
//! voxel index (inverse affine), rounded, looked up. CT slices run in parallel and only the CT
//! voxels inside the NIfTI volume's bounding box are visited.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nalgebra::{Matrix3, Matrix4, Point3, Vector3, Vector4};
use nifti::{NiftiObject, ReaderOptions};
use rayon::prelude::*;

use super::mask::{Mask, Run};
use super::structure::{Provenance, Structure, kind_from_name};
use crate::geometry::VolumeGeometry;

/// TotalSegmentator v2 label ids → class names for the `total` task.
///
/// Source: TotalSegmentator `totalsegmentator/map_to_binary.py`, `class_map["total"]`
/// ("classes of new TotalSegmentator v2"), github.com/wasserth/TotalSegmentator, copied
/// complete (ids 1–117). The v1 table (`total_v1`) numbers the classes differently.
pub const TOTALSEG_V2_TOTAL: [(u16, &str); 117] = [
    (1, "spleen"),
    (2, "kidney_right"),
    (3, "kidney_left"),
    (4, "gallbladder"),
    (5, "liver"),
    (6, "stomach"),
    (7, "pancreas"),
    (8, "adrenal_gland_right"),
    (9, "adrenal_gland_left"),
    (10, "lung_upper_lobe_left"),
    (11, "lung_lower_lobe_left"),
    (12, "lung_upper_lobe_right"),
    (13, "lung_middle_lobe_right"),
    (14, "lung_lower_lobe_right"),
    (15, "esophagus"),
    (16, "trachea"),
    (17, "thyroid_gland"),
    (18, "small_bowel"),
    (19, "duodenum"),
    (20, "colon"),
    (21, "urinary_bladder"),
    (22, "prostate"),
    (23, "kidney_cyst_left"),
    (24, "kidney_cyst_right"),
    (25, "sacrum"),
    (26, "vertebrae_S1"),
    (27, "vertebrae_L5"),
    (28, "vertebrae_L4"),
    (29, "vertebrae_L3"),
    (30, "vertebrae_L2"),
    (31, "vertebrae_L1"),
    (32, "vertebrae_T12"),
    (33, "vertebrae_T11"),
    (34, "vertebrae_T10"),
    (35, "vertebrae_T9"),
    (36, "vertebrae_T8"),
    (37, "vertebrae_T7"),
    (38, "vertebrae_T6"),
    (39, "vertebrae_T5"),
    (40, "vertebrae_T4"),
    (41, "vertebrae_T3"),
    (42, "vertebrae_T2"),
    (43, "vertebrae_T1"),
    (44, "vertebrae_C7"),
    (45, "vertebrae_C6"),
    (46, "vertebrae_C5"),
    (47, "vertebrae_C4"),
    (48, "vertebrae_C3"),
    (49, "vertebrae_C2"),
    (50, "vertebrae_C1"),
    (51, "heart"),
    (52, "aorta"),
    (53, "pulmonary_vein"),
    (54, "brachiocephalic_trunk"),
    (55, "subclavian_artery_right"),
    (56, "subclavian_artery_left"),
    (57, "common_carotid_artery_right"),
    (58, "common_carotid_artery_left"),
    (59, "brachiocephalic_vein_left"),
    (60, "brachiocephalic_vein_right"),
    (61, "atrial_appendage_left"),
    (62, "superior_vena_cava"),
    (63, "inferior_vena_cava"),
    (64, "portal_vein_and_splenic_vein"),
    (65, "iliac_artery_left"),
    (66, "iliac_artery_right"),
    (67, "iliac_vena_left"),
    (68, "iliac_vena_right"),
    (69, "humerus_left"),
    (70, "humerus_right"),
    (71, "scapula_left"),
    (72, "scapula_right"),
    (73, "clavicula_left"),
    (74, "clavicula_right"),
    (75, "femur_left"),
    (76, "femur_right"),
    (77, "hip_left"),
    (78, "hip_right"),
    (79, "spinal_cord"),
    (80, "gluteus_maximus_left"),
    (81, "gluteus_maximus_right"),
    (82, "gluteus_medius_left"),
    (83, "gluteus_medius_right"),
    (84, "gluteus_minimus_left"),
    (85, "gluteus_minimus_right"),
    (86, "autochthon_left"),
    (87, "autochthon_right"),
    (88, "iliopsoas_left"),
    (89, "iliopsoas_right"),
    (90, "brain"),
    (91, "skull"),
    (92, "rib_left_1"),
    (93, "rib_left_2"),
    (94, "rib_left_3"),
    (95, "rib_left_4"),
    (96, "rib_left_5"),
    (97, "rib_left_6"),
    (98, "rib_left_7"),
    (99, "rib_left_8"),
    (100, "rib_left_9"),
    (101, "rib_left_10"),
    (102, "rib_left_11"),
    (103, "rib_left_12"),
    (104, "rib_right_1"),
    (105, "rib_right_2"),
    (106, "rib_right_3"),
    (107, "rib_right_4"),
    (108, "rib_right_5"),
    (109, "rib_right_6"),
    (110, "rib_right_7"),
    (111, "rib_right_8"),
    (112, "rib_right_9"),
    (113, "rib_right_10"),
    (114, "rib_right_11"),
    (115, "rib_right_12"),
    (116, "sternum"),
    (117, "costal_cartilages"),
];

/// The TotalSegmentator v2 `total` class name of a label id, `None` when unknown.
pub fn totalseg_name(label: u16) -> Option<&'static str> {
    TOTALSEG_V2_TOTAL
        .binary_search_by_key(&label, |(id, _)| *id)
        .ok()
        .map(|n| TOTALSEG_V2_TOTAL[n].1)
}

/// The structure name of a label: the TotalSegmentator name, else "label N".
pub fn label_name(label: u16) -> String {
    totalseg_name(label).map_or_else(|| format!("label {label}"), str::to_owned)
}

/// LPS bounding box (min, max) in mm.
pub type LpsBox = ([f64; 3], [f64; 3]);

#[derive(Debug, thiserror::Error)]
pub enum NiftiImportError {
    #[error("cannot read {file}: {message}")]
    Io { file: PathBuf, message: String },
    #[error("{file} is not a readable NIfTI-1 file ({reason}); choose a .nii or .nii.gz label map")]
    NotNifti { file: PathBuf, reason: String },
    #[error(
        "{file} stores {datatype} voxels, which cannot be a label map; export the labels as integers (uint8/int16/…)"
    )]
    UnsupportedDatatype { file: PathBuf, datatype: String },
    #[error("{file} has dimensions {dims:?}; a 3-D label map is needed")]
    BadDimensions { file: PathBuf, dims: Vec<u16> },
    #[error("{file} holds label {value}, above the supported maximum 65535")]
    LabelTooLarge { file: PathBuf, value: f64 },
    #[error("{file} contains no labels (every voxel is 0)")]
    NoLabels { file: PathBuf },
    #[error(
        "{file}: the voxel-to-world transform (sform/qform) is singular or not finite; the file's header is broken"
    )]
    AffineSingular { file: PathBuf },
    #[error(
        "{file} does not intersect the CT volume: label map spans LPS {:?}–{:?} mm, the CT spans LPS {:?}–{:?} mm; was it made from this CT?",
        nifti_lps.0, nifti_lps.1, ct_lps.0, ct_lps.1
    )]
    NoOverlap {
        file: PathBuf,
        nifti_lps: LpsBox,
        ct_lps: LpsBox,
    },
    #[error("{dir} contains no .nii or .nii.gz files")]
    NoNiftiFiles { dir: PathBuf },
    #[error("the CT geometry is invalid: {0}")]
    BadCtGeometry(#[from] crate::geometry::GeometryError),
}

/// Which NIfTI transform was used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NiftiTransform {
    Sform,
    Qform,
    /// Neither sform nor qform: pixdim scaling only (orientation unknown).
    PixdimOnly,
}

/// A NIfTI label image in memory.
#[derive(Clone, Debug)]
pub struct LabelImage {
    pub dims: [usize; 3],
    /// Labels in NIfTI order (first index fastest).
    pub labels: Vec<u16>,
    /// NIfTI voxel index → RAS mm.
    pub ras_from_voxel: Matrix4<f64>,
    pub transform: NiftiTransform,
    pub warnings: Vec<String>,
}

/// Structures plus the warnings the user should see.
#[derive(Clone, Debug)]
pub struct NiftiImport {
    pub structures: Vec<Structure>,
    pub warnings: Vec<String>,
}

/// LPS from RAS (and back): negate x and y.
fn lps_from_ras() -> Matrix4<f64> {
    Matrix4::from_diagonal(&Vector4::new(-1.0, -1.0, 1.0, 1.0))
}

/// The NIfTI voxel → RAS affine from a header, with the transform used.
pub fn ras_from_voxel(h: &nifti::NiftiHeader) -> (Matrix4<f64>, NiftiTransform) {
    if h.sform_code > 0 {
        let mut m = Matrix4::identity();
        for (r, row) in [h.srow_x, h.srow_y, h.srow_z].iter().enumerate() {
            for c in 0..4 {
                m[(r, c)] = f64::from(row[c]);
            }
        }
        return (m, NiftiTransform::Sform);
    }
    let px = [
        f64::from(h.pixdim[1]),
        f64::from(h.pixdim[2]),
        f64::from(h.pixdim[3]),
    ];
    if h.qform_code > 0 {
        let (b, c, d) = (
            f64::from(h.quatern_b),
            f64::from(h.quatern_c),
            f64::from(h.quatern_d),
        );
        let a2 = 1.0 - (b * b + c * c + d * d);
        // NIfTI-1: a = sqrt(1 − b² − c² − d²); when rounding makes that negative, the
        // quaternion is (0, b, c, d) normalised (a 180° rotation).
        let (a, b, c, d) = if a2 > 1e-7 {
            (a2.sqrt(), b, c, d)
        } else {
            let n = (b * b + c * c + d * d).sqrt().max(1e-12);
            (0.0, b / n, c / n, d / n)
        };
        let r = Matrix3::new(
            a * a + b * b - c * c - d * d,
            2.0 * (b * c - a * d),
            2.0 * (b * d + a * c),
            2.0 * (b * c + a * d),
            a * a + c * c - b * b - d * d,
            2.0 * (c * d - a * b),
            2.0 * (b * d - a * c),
            2.0 * (c * d + a * b),
            a * a + d * d - c * c - b * b,
        );
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let s = Matrix3::from_diagonal(&Vector3::new(px[0], px[1], qfac * px[2]));
        let mut m = (r * s).to_homogeneous();
        m[(0, 3)] = f64::from(h.quatern_x);
        m[(1, 3)] = f64::from(h.quatern_y);
        m[(2, 3)] = f64::from(h.quatern_z);
        return (m, NiftiTransform::Qform);
    }
    (
        Matrix3::from_diagonal(&Vector3::from(px)).to_homogeneous(),
        NiftiTransform::PixdimOnly,
    )
}

fn not_nifti(file: &Path, reason: impl Into<String>) -> NiftiImportError {
    NiftiImportError::NotNifti {
        file: file.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads a NIfTI-1 file (.nii or .nii.gz) as integer labels.
pub fn read_label_image(path: &Path) -> Result<LabelImage, NiftiImportError> {
    std::fs::metadata(path).map_err(|e| NiftiImportError::Io {
        file: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let obj = ReaderOptions::new()
        .read_file(path)
        .map_err(|e| not_nifti(path, e.to_string()))?;
    let h = obj.header().clone();
    let ndim = usize::from(h.dim[0]);
    if !(1..=7).contains(&ndim) {
        return Err(not_nifti(path, format!("dim[0] = {}", h.dim[0])));
    }
    let dims_all: Vec<u16> = h.dim[1..=ndim].to_vec();
    let dims: [usize; 3] = std::array::from_fn(|a| dims_all.get(a).map_or(1, |d| usize::from(*d)));
    if dims.contains(&0) {
        return Err(NiftiImportError::BadDimensions {
            file: path.to_path_buf(),
            dims: dims_all,
        });
    }
    let mut warnings = Vec::new();
    if dims_all.iter().skip(3).any(|d| *d > 1) {
        warnings.push(format!(
            "{}: dimensions {dims_all:?}; only the first 3-D volume is used",
            path.display()
        ));
    }
    let (ras, transform) = ras_from_voxel(&h);
    let det = ras.fixed_view::<3, 3>(0, 0).determinant();
    if !det.is_finite() || det.abs() < 1e-9 || ras.iter().any(|x| !x.is_finite()) {
        return Err(NiftiImportError::AffineSingular {
            file: path.to_path_buf(),
        });
    }
    if transform == NiftiTransform::PixdimOnly {
        warnings.push(format!(
            "{}: neither sform nor qform is set; using the voxel size only, so position and \
             orientation are guesses (check the overlay)",
            path.display()
        ));
    }
    let n = dims[0] * dims[1] * dims[2];
    let raw = obj.into_volume().into_raw_data();
    let labels = decode_labels(path, &h, &raw, n, &mut warnings)?;
    Ok(LabelImage {
        dims,
        labels,
        ras_from_voxel: ras,
        transform,
        warnings,
    })
}

/// Decodes the first `n` voxels into labels (scaled by scl_slope/scl_inter when set).
fn decode_labels(
    path: &Path,
    h: &nifti::NiftiHeader,
    raw: &[u8],
    n: usize,
    warnings: &mut Vec<String>,
) -> Result<Vec<u16>, NiftiImportError> {
    let big = h.endianness == nifti::Endianness::Big;
    // (bytes per voxel, reader) for the integer and real types NIfTI defines.
    let size = match h.datatype {
        2 | 256 => 1,
        4 | 512 => 2,
        8 | 16 | 768 => 4,
        64 | 1024 | 1280 => 8,
        other => {
            let name = match other {
                1 => "1-bit".to_owned(),
                32 | 1792 | 2048 => "complex".to_owned(),
                128 | 2304 => "RGB".to_owned(),
                1536 => "128-bit float".to_owned(),
                _ => format!("datatype code {other}"),
            };
            return Err(NiftiImportError::UnsupportedDatatype {
                file: path.to_path_buf(),
                datatype: name,
            });
        }
    };
    let Some(data) = raw.get(..n * size) else {
        return Err(not_nifti(path, "voxel data shorter than the dimensions say"));
    };
    let dt = h.datatype;
    let read = |c: &[u8]| -> f64 {
        macro_rules! num {
            ($t:ty, $n:expr) => {{
                let mut b = [0u8; $n];
                b.copy_from_slice(c);
                (if big {
                    <$t>::from_be_bytes(b)
                } else {
                    <$t>::from_le_bytes(b)
                }) as f64
            }};
        }
        match dt {
            2 => f64::from(c[0]),
            256 => f64::from(c[0] as i8),
            4 => num!(i16, 2),
            512 => num!(u16, 2),
            8 => num!(i32, 4),
            768 => num!(u32, 4),
            16 => num!(f32, 4),
            64 => num!(f64, 8),
            1024 => num!(i64, 8),
            _ => num!(u64, 8),
        }
    };
    let slope = f64::from(h.scl_slope);
    let inter = f64::from(h.scl_inter);
    let scaled = slope != 0.0 && slope.is_finite() && inter.is_finite() && (slope != 1.0 || inter != 0.0);
    const CHUNK: usize = 1 << 14;
    let mut labels = vec![0u16; n];
    // (some value was not an integer, largest value above the u16 range)
    let (rounded, too_large) = labels
        .par_chunks_mut(CHUNK)
        .zip(data.par_chunks(size * CHUNK))
        .map(|(out, chunk)| {
            let mut rounded = false;
            let mut too_large: Option<f64> = None;
            for (o, c) in out.iter_mut().zip(chunk.chunks_exact(size)) {
                let mut v = read(c);
                if scaled {
                    v = v * slope + inter;
                }
                if !v.is_finite() {
                    continue;
                }
                rounded |= v.fract() != 0.0;
                if v > 65535.5 {
                    too_large = Some(too_large.map_or(v, |t: f64| t.max(v)));
                } else if v >= 0.5 {
                    *o = v.round() as u16;
                }
            }
            (rounded, too_large)
        })
        .reduce(
            || (false, None),
            |a, b| {
                let t = match (a.1, b.1) {
                    (Some(x), Some(y)) => Some(x.max(y)),
                    (x, y) => x.or(y),
                };
                (a.0 || b.0, t)
            },
        );
    if let Some(v) = too_large {
        return Err(NiftiImportError::LabelTooLarge {
            file: path.to_path_buf(),
            value: v,
        });
    }
    if rounded {
        warnings.push(format!(
            "{}: non-integer voxel values were rounded to the nearest label",
            path.display()
        ));
    }
    Ok(labels)
}

/// LPS bounding box of the voxel centres of a grid given its voxel → LPS affine.
fn lps_box(lps_from_voxel: &Matrix4<f64>, dims: [usize; 3]) -> LpsBox {
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for c in 0..8 {
        let v = Vector4::new(
            if c & 1 == 0 { 0.0 } else { dims[0] as f64 - 1.0 },
            if c & 2 == 0 { 0.0 } else { dims[1] as f64 - 1.0 },
            if c & 4 == 0 { 0.0 } else { dims[2] as f64 - 1.0 },
            1.0,
        );
        let p = lps_from_voxel * v;
        for a in 0..3 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    (lo, hi)
}

/// The runs of one label, per CT slice `k` (ascending).
type LabelSlices = Vec<(usize, Vec<Run>)>;

/// Nearest-neighbour resampling of the labels onto the CT grid: one mask per non-zero label
/// that lands on the CT, in ascending label order.
pub fn resample_labels(img: &LabelImage, ct: &VolumeGeometry) -> Vec<(u16, Mask)> {
    let Some(voxel_from_ras) = img.ras_from_voxel.try_inverse() else {
        return Vec::new();
    };
    // CT voxel index → NIfTI continuous voxel index.
    let m = voxel_from_ras * lps_from_ras() * ct.patient_from_voxel();
    let Some(ct_from_nifti) = m.try_inverse() else {
        return Vec::new();
    };
    // CT voxels that can land inside the NIfTI volume: the NIfTI box (±0.5 voxel) in CT
    // voxel coordinates.
    let [dx, dy, dz] = img.dims;
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for c in 0..8 {
        let v = Vector4::new(
            if c & 1 == 0 { -0.5 } else { dx as f64 - 0.5 },
            if c & 2 == 0 { -0.5 } else { dy as f64 - 0.5 },
            if c & 4 == 0 { -0.5 } else { dz as f64 - 0.5 },
            1.0,
        );
        let p = ct_from_nifti * v;
        for a in 0..3 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    let [nx, ny, nz] = ct.dims;
    let range = |a: usize, n: usize| -> Option<(usize, usize)> {
        let a0 = lo[a].floor().max(0.0);
        let a1 = hi[a].ceil().min(n as f64 - 1.0);
        (a0.is_finite() && a1.is_finite() && a0 <= a1).then_some((a0 as usize, a1 as usize))
    };
    let (Some((i0, i1)), Some((j0, j1)), Some((k0, k1))) = (range(0, nx), range(1, ny), range(2, nz)) else {
        return Vec::new();
    };
    let step_i = Vector3::new(m[(0, 0)], m[(1, 0)], m[(2, 0)]);
    let lookup = |q: &Vector3<f64>| -> u16 {
        let (x, y, z) = (q.x.round(), q.y.round(), q.z.round());
        if x < 0.0 || y < 0.0 || z < 0.0 || x >= dx as f64 || y >= dy as f64 || z >= dz as f64 {
            return 0;
        }
        let idx = x as usize + dx * (y as usize + dy * z as usize);
        img.labels.get(idx).copied().unwrap_or(0)
    };
    // Per CT slice: (label, run) pairs.
    let per_slice: Vec<(usize, Vec<(u16, Run)>)> = (k0..=k1)
        .into_par_iter()
        .map(|k| {
            let mut runs: Vec<(u16, Run)> = Vec::new();
            for j in j0..=j1 {
                let h = m * Vector4::new(i0 as f64, j as f64, k as f64, 1.0);
                let base = Vector3::new(h.x, h.y, h.z);
                let mut cur: Option<(u16, u32)> = None;
                for (n, i) in (i0..=i1).enumerate() {
                    let l = lookup(&(base + step_i * n as f64));
                    match cur {
                        Some((cl, _)) if cl == l => {}
                        _ => {
                            if let Some((cl, start)) = cur.take()
                                && cl != 0
                            {
                                runs.push((
                                    cl,
                                    Run {
                                        j: j as u32,
                                        i0: start,
                                        i1: i as u32,
                                    },
                                ));
                            }
                            cur = Some((l, i as u32));
                        }
                    }
                }
                if let Some((cl, start)) = cur
                    && cl != 0
                {
                    runs.push((
                        cl,
                        Run {
                            j: j as u32,
                            i0: start,
                            i1: i1 as u32 + 1,
                        },
                    ));
                }
            }
            (k, runs)
        })
        .collect();
    let mut by_label: BTreeMap<u16, LabelSlices> = BTreeMap::new();
    for (k, runs) in per_slice {
        for (l, r) in runs {
            let slices = by_label.entry(l).or_default();
            match slices.last_mut() {
                Some((kk, v)) if *kk == k => v.push(r),
                _ => slices.push((k, vec![r])),
            }
        }
    }
    let labels: Vec<(u16, LabelSlices)> = by_label.into_iter().collect();
    labels
        .into_par_iter()
        .map(|(l, slices)| {
            let mut mask = Mask::empty(ct.dims);
            let mut dense = vec![false; nx * ny];
            for (k, runs) in slices {
                for r in &runs {
                    let row = r.j as usize * nx;
                    dense[row + r.i0 as usize..row + r.i1 as usize].fill(true);
                }
                mask.set_slice_dense(k, &dense);
                for r in &runs {
                    let row = r.j as usize * nx;
                    dense[row + r.i0 as usize..row + r.i1 as usize].fill(false);
                }
            }
            (l, mask)
        })
        .collect()
}

fn no_overlap(path: &Path, img: &LabelImage, ct: &VolumeGeometry) -> NiftiImportError {
    NiftiImportError::NoOverlap {
        file: path.to_path_buf(),
        nifti_lps: lps_box(&(lps_from_ras() * img.ras_from_voxel), img.dims),
        ct_lps: lps_box(&ct.patient_from_voxel(), ct.dims),
    }
}

fn transform_name(t: NiftiTransform) -> &'static str {
    match t {
        NiftiTransform::Sform => "sform",
        NiftiTransform::Qform => "qform",
        NiftiTransform::PixdimOnly => "pixdim only",
    }
}

/// Imports a multi-label NIfTI file onto the CT grid, with warnings.
pub fn import_label_map_report(path: &Path, ct: &VolumeGeometry) -> Result<NiftiImport, NiftiImportError> {
    ct.validate()?;
    let img = read_label_image(path)?;
    if img.labels.iter().all(|l| *l == 0) {
        return Err(NiftiImportError::NoLabels {
            file: path.to_path_buf(),
        });
    }
    let masks = resample_labels(&img, ct);
    if masks.is_empty() {
        return Err(no_overlap(path, &img, ct));
    }
    let structures = masks
        .into_iter()
        .map(|(l, mask)| {
            let name = label_name(l);
            let kind = kind_from_name(&name);
            let detail = format!("NIfTI label {l} ({})", transform_name(img.transform));
            Structure::new(
                name,
                kind,
                Provenance::Imported {
                    file: path.to_path_buf(),
                    detail,
                    source_uid: String::new(),
                    source_label: format!("NIfTI {}", file_label(path)),
                },
                mask,
            )
        })
        .collect();
    Ok(NiftiImport {
        structures,
        warnings: img.warnings,
    })
}

/// Imports a multi-label NIfTI file (e.g. TotalSegmentator `--ml` output, .nii or .nii.gz) onto
/// the CT grid: one structure per label present on the CT, named from the TotalSegmentator v2
/// table ("label N" when unknown), kind from the name. Warnings go to the log; use
/// [`import_label_map_report`] to show them.
pub fn import_label_map(path: &Path, ct: &VolumeGeometry) -> Result<Vec<Structure>, NiftiImportError> {
    let r = import_label_map_report(path, ct)?;
    for w in &r.warnings {
        log::warn!("{w}");
    }
    Ok(r.structures)
}

/// The structure name of a mask file: its file name without `.nii.gz` / `.nii`.
pub fn stem_name(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_lowercase();
    for ext in [".nii.gz", ".nii"] {
        if lower.ends_with(ext) {
            return name[..name.len() - ext.len()].to_owned();
        }
    }
    name
}

fn is_nifti_name(path: &Path) -> bool {
    let lower = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    lower.ends_with(".nii") || lower.ends_with(".nii.gz")
}

/// Imports a folder of binary masks (one structure per .nii / .nii.gz file, non-zero = inside,
/// name from the file stem, e.g. `aorta.nii.gz` → "aorta"), in file-name order, with warnings.
/// Empty masks (TotalSegmentator writes one per class, also for absent organs) and masks that
/// miss the CT are skipped with a warning.
pub fn import_mask_folder_report(dir: &Path, ct: &VolumeGeometry) -> Result<NiftiImport, NiftiImportError> {
    ct.validate()?;
    let entries = std::fs::read_dir(dir).map_err(|e| NiftiImportError::Io {
        file: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && is_nifti_name(p))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(NiftiImportError::NoNiftiFiles {
            dir: dir.to_path_buf(),
        });
    }
    let mut structures = Vec::new();
    let mut warnings = Vec::new();
    let mut first_miss: Option<NiftiImportError> = None;
    let mut empty = 0usize;
    for f in &files {
        let mut img = read_label_image(f)?;
        warnings.append(&mut img.warnings);
        if img.labels.iter().all(|l| *l == 0) {
            empty += 1;
            continue;
        }
        // Binary: every non-zero value is inside.
        img.labels.par_iter_mut().for_each(|l| *l = u16::from(*l != 0));
        let mut masks = resample_labels(&img, ct);
        let Some((_, mask)) = masks.pop() else {
            warnings.push(format!("{}: does not intersect the CT; skipped", f.display()));
            first_miss.get_or_insert_with(|| no_overlap(f, &img, ct));
            continue;
        };
        let name = stem_name(f);
        let kind = kind_from_name(&name);
        structures.push(Structure::new(
            name,
            kind,
            Provenance::Imported {
                file: f.clone(),
                detail: format!("NIfTI mask ({})", transform_name(img.transform)),
                source_uid: String::new(),
                source_label: format!("NIfTI {}", file_label(f)),
            },
            mask,
        ));
    }
    if empty > 0 {
        warnings.push(format!("{empty} empty mask file(s) skipped"));
    }
    if structures.is_empty() {
        return Err(match first_miss {
            Some(e) => e,
            None => NiftiImportError::NoLabels {
                file: dir.to_path_buf(),
            },
        });
    }
    Ok(NiftiImport { structures, warnings })
}

/// [`import_mask_folder_report`] with the warnings sent to the log.
pub fn import_mask_folder(dir: &Path, ct: &VolumeGeometry) -> Result<Vec<Structure>, NiftiImportError> {
    let r = import_mask_folder_report(dir, ct)?;
    for w in &r.warnings {
        log::warn!("{w}");
    }
    Ok(r.structures)
}

/// LPS position of a NIfTI voxel index (for tests and tools).
pub fn lps_of_nifti_voxel(img: &LabelImage, ijk: [f64; 3]) -> Point3<f64> {
    let h = lps_from_ras() * img.ras_from_voxel * Vector4::new(ijk[0], ijk[1], ijk[2], 1.0);
    Point3::new(h.x, h.y, h.z)
}

/// A file's name for the structure list (not its folder: the path may name the patient).
fn file_label(p: &Path) -> String {
    p.file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anatomy::StructureKind;

    #[test]
    fn name_table_is_sorted_complete_and_maps_to_kinds() {
        for (n, (id, _)) in TOTALSEG_V2_TOTAL.iter().enumerate() {
            assert_eq!(usize::from(*id), n + 1);
        }
        assert_eq!(totalseg_name(52), Some("aorta"));
        assert_eq!(totalseg_name(63), Some("inferior_vena_cava"));
        assert_eq!(totalseg_name(79), Some("spinal_cord"));
        assert_eq!(label_name(118), "label 118");
        let kinds = |ids: &[u16], kind: StructureKind| {
            for id in ids {
                let name = label_name(*id);
                assert_eq!(kind_from_name(&name), kind, "{id} {name}");
            }
        };
        kinds(
            &[52, 53, 54, 55, 56, 57, 58, 59, 60, 62, 63, 64, 65, 66, 67, 68],
            StructureKind::Vessel,
        );
        kinds(&[6, 15, 18, 19, 20], StructureKind::Bowel);
        kinds(&[79], StructureKind::Nerve);
        let bones: Vec<u16> = (25..=50).chain(69..=78).chain(91..=116).collect();
        kinds(&bones, StructureKind::Bone);
        kinds(
            &[
                1, 2, 3, 4, 5, 7, 8, 9, 10, 16, 17, 21, 22, 23, 51, 61, 80, 86, 88, 90, 117,
            ],
            StructureKind::Other,
        );
    }

    #[test]
    fn stems() {
        assert_eq!(stem_name(Path::new("/x/aorta.nii.gz")), "aorta");
        assert_eq!(stem_name(Path::new("colon.NII")), "colon");
        assert_eq!(stem_name(Path::new("a.b.nii")), "a.b");
    }
}
