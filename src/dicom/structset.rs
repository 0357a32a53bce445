//! What RTSTRUCT and SEG import share: the identity of the loaded CT ([`SeriesIds`]), import
//! options, the result type, typed errors, the frame-of-reference check, finding the structure
//! sets that belong to a CT in a scan, and small helpers (CIELab → sRGB, LPS bounding boxes).
//!
//! Decisions:
//! - The frame of reference decides whether coordinates can be combined at all: a different
//!   FrameOfReferenceUID is refused (naming both UIDs); a missing/empty one (in the structure
//!   set or in the CT) is refused unless [`ImportOptions::allow_missing_frame_of_reference`]
//!   (the GUI asks the user), and then warned about.
//! - The referenced series only produces warnings: a structure set drawn on another series of
//!   the same frame of reference (e.g. another reconstruction) is still positioned correctly.

use std::path::{Path, PathBuf};

use super::header::tags::{FOR_UID, MODALITY, REF_FOR_SEQ, SOP_CLASS};
use super::parse::{self, DataSet, Parsed};
use super::{LoadedSeries, OtherObject};
use crate::anatomy::{Mask, Structure};
use crate::geometry::{VolumeGeometry, VoxelPos};

/// SOP class of RT Structure Set Storage.
pub const RTSTRUCT_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.481.3";
/// SOP class of Segmentation Storage.
pub const SEG_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.66.4";
/// SOP class of Label Map Segmentation Storage (values are segment numbers).
pub const LABELMAP_SEG_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.66.7";

pub(crate) const TAG_REF_SERIES_SEQ: u32 = 0x0008_1115;
pub(crate) const TAG_REF_SOP_INSTANCE: u32 = 0x0008_1155;
pub(crate) const TAG_SERIES_UID: u32 = 0x0020_000E;
pub(crate) const TAG_RT_REF_STUDY_SEQ: u32 = 0x3006_0012;
pub(crate) const TAG_RT_REF_SERIES_SEQ: u32 = 0x3006_0014;
pub(crate) const TAG_CONTOUR_IMAGE_SEQ: u32 = 0x3006_0016;
pub(crate) const TAG_SS_ROI_SEQ: u32 = 0x3006_0020;
pub(crate) const TAG_REF_FOR_UID: u32 = 0x3006_0024;

/// Identity of the loaded CT, to check structure sets against.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SeriesIds {
    pub frame_of_reference_uid: String,
    pub series_instance_uid: String,
    /// SOPInstanceUIDs of the images used for the volume (may be empty when unknown).
    pub sop_instance_uids: Vec<String>,
}

impl SeriesIds {
    /// The ids of a loaded series (UIDs from the volume meta, SOP instances from the report).
    pub fn from_loaded(l: &LoadedSeries) -> Self {
        Self {
            frame_of_reference_uid: l.volume.meta.frame_of_reference_uid.clone(),
            series_instance_uid: l.volume.meta.series_instance_uid.clone(),
            sop_instance_uids: l.report.sop_instance_uids.clone(),
        }
    }
}

/// Options of RTSTRUCT / SEG import.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ImportOptions {
    /// FRACTIONAL SEG: a voxel is inside when value / MaximumFractionalValue ≥ this (0.5).
    pub seg_threshold: f64,
    /// Import even when the structure set or the CT has no FrameOfReferenceUID (the user
    /// confirmed that the file belongs to this CT). A different UID is always refused.
    pub allow_missing_frame_of_reference: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            seg_threshold: 0.5,
            allow_missing_frame_of_reference: false,
        }
    }
}

/// Result of importing one RTSTRUCT or SEG file.
#[derive(Clone, Debug, Default)]
pub struct ImportedStructures {
    /// One structure per ROI / segment that produced at least one voxel, in file order.
    pub structures: Vec<Structure>,
    /// Everything the user should know (file-level and per structure; per-structure ones
    /// start with the structure's name in quotes).
    pub warnings: Vec<String>,
    /// ROIs / segments not imported: (name, reason).
    pub skipped_rois: Vec<(String, String)>,
    /// Warnings per structure, index-aligned with `structures` (also contained in `warnings`).
    pub structure_warnings: Vec<Vec<String>>,
}

#[derive(Debug, thiserror::Error)]
pub enum StructureImportError {
    #[error("cannot read {file}: {reason}. Check that the file is a complete DICOM file.")]
    Read { file: PathBuf, reason: String },
    #[error(
        "{file} is not {expected} (Modality \"{modality}\", SOP Class UID \"{sop_class}\"); choose an {expected} file"
    )]
    WrongObject {
        file: PathBuf,
        expected: &'static str,
        modality: String,
        sop_class: String,
    },
    #[error(
        "{file} is in frame of reference {file_for}, but the loaded CT is in frame of reference {ct_for}: \
         its coordinates do not belong to this CT, so it was not imported. Load the CT series it was made on."
    )]
    FrameOfReferenceMismatch {
        file: PathBuf,
        file_for: String,
        ct_for: String,
    },
    #[error(
        "{file}: {what} has no FrameOfReferenceUID, so it cannot be checked that the structures belong to this CT. \
         Import only if you are sure they were drawn on this CT (confirm to import anyway)."
    )]
    MissingFrameOfReference { file: PathBuf, what: String },
    #[error("{file} cannot be imported: {reason}")]
    Malformed { file: PathBuf, reason: String },
    #[error("the CT geometry is invalid ({0}); reload the CT series")]
    BadGeometry(String),
}

/// Read and parse a whole structure-set file.
pub(crate) fn read_object(path: &Path) -> Result<Parsed, StructureImportError> {
    parse::read_full(path).map_err(|reason| StructureImportError::Read {
        file: path.to_path_buf(),
        reason,
    })
}

/// SOP class (data set, else file meta) and upper-case modality of a parsed file.
/// Validate the CT grid, read a structure-set file and check it is the expected kind of
/// object (`accepts(sop_class, modality)`); returns the parsed file and its SOP class.
pub(crate) fn open_structure_object(
    path: &Path,
    ct: &VolumeGeometry,
    expected: &'static str,
    accepts: impl Fn(&str, &str) -> bool,
) -> Result<(Parsed, String), StructureImportError> {
    ct.validate()
        .map_err(|e| StructureImportError::BadGeometry(e.to_string()))?;
    let p = read_object(path)?;
    let (sop, modality) = sop_class_and_modality(&p);
    if !accepts(&sop, &modality) {
        return Err(StructureImportError::WrongObject {
            file: path.to_path_buf(),
            expected,
            modality,
            sop_class: sop,
        });
    }
    Ok((p, sop))
}

pub(crate) fn sop_class_and_modality(p: &Parsed) -> (String, String) {
    let meta_sop = p.meta.string(&p.meta_buf, 0x0002_0002).unwrap_or_default();
    let sop = p
        .root
        .string(&p.buf, SOP_CLASS)
        .filter(|s| !s.is_empty())
        .unwrap_or(meta_sop);
    (sop, p.root.str_or_empty(&p.buf, MODALITY).to_ascii_uppercase())
}

/// Check the frame(s) of reference of a structure set against the CT. `file_fors` are the
/// non-empty FrameOfReferenceUIDs the file names. Returns `Ok` when a UID matches or when a UID
/// is missing and the options allow it (a warning is pushed then).
pub(crate) fn check_frame_of_reference(
    file: &Path,
    file_fors: &[String],
    ct: &SeriesIds,
    opts: &ImportOptions,
    warnings: &mut Vec<String>,
) -> Result<(), StructureImportError> {
    let ct_for = ct.frame_of_reference_uid.trim();
    if file_fors.is_empty() || ct_for.is_empty() {
        let what = if file_fors.is_empty() && ct_for.is_empty() {
            "neither the file nor the loaded CT".to_string()
        } else if file_fors.is_empty() {
            "the file".to_string()
        } else {
            "the loaded CT".to_string()
        };
        if !opts.allow_missing_frame_of_reference {
            return Err(StructureImportError::MissingFrameOfReference {
                file: file.to_path_buf(),
                what,
            });
        }
        warnings.push(format!(
            "{what} has no FrameOfReferenceUID; imported because you confirmed it belongs to this CT: check the \
             position of the structures on the images"
        ));
        return Ok(());
    }
    if file_fors.iter().any(|f| f == ct_for) {
        return Ok(());
    }
    Err(StructureImportError::FrameOfReferenceMismatch {
        file: file.to_path_buf(),
        file_for: file_fors.join(", "),
        ct_for: ct_for.to_string(),
    })
}

/// Warn when the referenced series / images differ from the loaded CT.
/// `ref_series` empty = the file names no series.
pub(crate) fn check_references(
    ref_series: &[String],
    ref_images: &[String],
    ct: &SeriesIds,
    kind: &str,
    warnings: &mut Vec<String>,
) {
    if ref_series.is_empty() {
        warnings.push(format!(
            "the {kind} does not name the CT series it was made on (referenced series missing); the frame of \
             reference matches, so it was imported"
        ));
    } else if !ct.series_instance_uid.is_empty() && !ref_series.contains(&ct.series_instance_uid) {
        warnings.push(format!(
            "the {kind} was made on series {} but the loaded CT is series {}; both are in the same frame of \
             reference, so positions agree, but check that the structures fit this series",
            ref_series.join(", "),
            ct.series_instance_uid
        ));
    }
    if !ref_images.is_empty() && !ct.sop_instance_uids.is_empty() {
        let missing = ref_images
            .iter()
            .filter(|u| !ct.sop_instance_uids.contains(u))
            .count();
        if missing > 0 {
            warnings.push(format!(
                "the {kind} references {} CT images, {missing} of which are not in the loaded series ({} images); \
                 structure parts on missing slices cannot be shown",
                ref_images.len(),
                ct.sop_instance_uids.len()
            ));
        }
    }
}

/// A structure set (RTSTRUCT / SEG) found in a scan, and how it relates to a CT.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StructureSetCandidate {
    pub path: PathBuf,
    pub modality: String,
    pub description: String,
    pub frame_of_reference_uid: String,
    /// Same non-empty FrameOfReferenceUID as the CT.
    pub matches_frame_of_reference: bool,
    /// The file names the CT's SeriesInstanceUID as the series it was made on.
    pub references_series: bool,
    /// SOP Instance UID of the object (empty when unreadable): an object already imported into
    /// the case is not offered again.
    pub sop_instance_uid: String,
}

fn is_structure_set(o: &OtherObject) -> bool {
    o.modality == "RTSTRUCT"
        || o.modality == "SEG"
        || o.sop_class_uid == RTSTRUCT_SOP_CLASS
        || o.sop_class_uid == SEG_SOP_CLASS
        || o.sop_class_uid == LABELMAP_SEG_SOP_CLASS
}

/// Series UIDs a structure set names (RTSTRUCT: RT Referenced Series; SEG: ReferencedSeriesSequence).
pub(crate) fn referenced_series(ds: &DataSet, buf: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for f in ds.items(REF_FOR_SEQ).unwrap_or(&[]) {
        for st in f.items(TAG_RT_REF_STUDY_SEQ).unwrap_or(&[]) {
            for se in st.items(TAG_RT_REF_SERIES_SEQ).unwrap_or(&[]) {
                let u = se.str_or_empty(buf, TAG_SERIES_UID);
                if !u.is_empty() && !out.contains(&u) {
                    out.push(u);
                }
            }
        }
    }
    for se in ds.items(TAG_REF_SERIES_SEQ).unwrap_or(&[]) {
        let u = se.str_or_empty(buf, TAG_SERIES_UID);
        if !u.is_empty() && !out.contains(&u) {
            out.push(u);
        }
    }
    out
}

/// The RTSTRUCT / SEG objects of a scan that belong to the CT `ct`: same frame of reference,
/// or naming the CT series, or without any FrameOfReferenceUID (the user may confirm those).
/// Objects of another frame of reference that do not name this series are left out.
/// Reads the header of each candidate again (cheap: header only) for the referenced series.
pub fn find_structure_sets(others: &[OtherObject], ct: &SeriesIds) -> Vec<StructureSetCandidate> {
    let mut out = Vec::new();
    for o in others.iter().filter(|o| is_structure_set(o)) {
        let mut fors: Vec<String> = Vec::new();
        if !o.frame_of_reference_uid.is_empty() {
            fors.push(o.frame_of_reference_uid.clone());
        }
        let mut series = Vec::new();
        let mut sop_instance_uid = String::new();
        if let Ok(p) = parse::read_header(&o.path) {
            series = referenced_series(&p.root, &p.buf);
            sop_instance_uid = p.root.str_or_empty(&p.buf, super::header::tags::SOP_INSTANCE);
            for f in p.root.items(REF_FOR_SEQ).unwrap_or(&[]) {
                let u = f.str_or_empty(&p.buf, FOR_UID);
                if !u.is_empty() && !fors.contains(&u) {
                    fors.push(u);
                }
            }
        }
        let matches_for = !ct.frame_of_reference_uid.is_empty() && fors.contains(&ct.frame_of_reference_uid);
        let references_series =
            !ct.series_instance_uid.is_empty() && series.contains(&ct.series_instance_uid);
        if matches_for || references_series || fors.is_empty() {
            out.push(StructureSetCandidate {
                path: o.path.clone(),
                modality: if o.modality.is_empty() {
                    if o.sop_class_uid == RTSTRUCT_SOP_CLASS {
                        "RTSTRUCT".into()
                    } else {
                        "SEG".into()
                    }
                } else {
                    o.modality.clone()
                },
                description: o.description.clone(),
                frame_of_reference_uid: fors.first().cloned().unwrap_or_default(),
                matches_frame_of_reference: matches_for,
                references_series,
                sop_instance_uid,
            });
        }
    }
    out
}

/// Import any structure-set file (RTSTRUCT or SEG, decided from its SOP class / modality).
pub fn import_structure_set(
    path: &Path,
    ct: &VolumeGeometry,
    ct_ids: &SeriesIds,
    opts: &ImportOptions,
) -> Result<ImportedStructures, StructureImportError> {
    let p = parse::read_header(path).map_err(|reason| StructureImportError::Read {
        file: path.to_path_buf(),
        reason,
    })?;
    let (sop, modality) = sop_class_and_modality(&p);
    if sop == RTSTRUCT_SOP_CLASS || modality == "RTSTRUCT" {
        super::rtstruct::import_rtstruct(path, ct, ct_ids, opts)
    } else {
        super::seg::import_seg(path, ct, ct_ids, opts)
    }
}

/// DICOM CIELab (PCS-scaled, 0..65535) → sRGB, D65 reference white.
pub fn cielab_to_srgb(lab: [u16; 3]) -> [u8; 3] {
    let l = lab[0] as f64 * 100.0 / 65535.0;
    let a = lab[1] as f64 * 255.0 / 65535.0 - 128.0;
    let b = lab[2] as f64 * 255.0 / 65535.0 - 128.0;
    let fy = (l + 16.0) / 116.0;
    let fx = fy + a / 500.0;
    let fz = fy - b / 200.0;
    let finv = |t: f64| {
        if t > 6.0 / 29.0 {
            t * t * t
        } else {
            3.0 * (6.0f64 / 29.0).powi(2) * (t - 4.0 / 29.0)
        }
    };
    let (xn, yn, zn) = (0.95047, 1.0, 1.08883);
    let (x, y, z) = (xn * finv(fx), yn * finv(fy), zn * finv(fz));
    let r = 3.2404542 * x - 1.5371385 * y - 0.4985314 * z;
    let g = -0.9692660 * x + 1.8760108 * y + 0.0415560 * z;
    let bl = 0.0556434 * x - 0.2040259 * y + 1.0572252 * z;
    let gamma = |c: f64| {
        let c = c.clamp(0.0, 1.0);
        let v = if c <= 0.0031308 {
            12.92 * c
        } else {
            1.055 * c.powf(1.0 / 2.4) - 0.055
        };
        (v * 255.0).round().clamp(0.0, 255.0) as u8
    };
    [gamma(r), gamma(g), gamma(bl)]
}

/// LPS bounding box of the voxel centres of a mask: `[[xmin, ymin, zmin], [xmax, ymax, zmax]]`.
pub fn bbox_lps_mm(mask: &Mask, g: &VolumeGeometry) -> Option<[[f64; 3]; 2]> {
    let (lo, hi) = mask.bounding_box()?;
    let mut min = [f64::INFINITY; 3];
    let mut max = [f64::NEG_INFINITY; 3];
    for c in 0..8 {
        let v = VoxelPos::new(
            if c & 1 == 0 { lo[0] } else { hi[0] } as f64,
            if c & 2 == 0 { lo[1] } else { hi[1] } as f64,
            if c & 4 == 0 { lo[2] } else { hi[2] } as f64,
        );
        let p = g.to_patient(&v);
        for a in 0..3 {
            min[a] = min[a].min(p[a]);
            max[a] = max[a].max(p[a]);
        }
    }
    Some([min, max])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cielab_white_black_and_red() {
        assert_eq!(cielab_to_srgb([65535, 32896, 32896]), [255, 255, 255]);
        assert_eq!(cielab_to_srgb([0, 32896, 32896]), [0, 0, 0]);
        // sRGB red is L 53.24, a 80.09, b 67.20.
        let s = |v: f64| (v * 65535.0 / 255.0).round() as u16;
        let red = cielab_to_srgb([(53.24 * 655.35) as u16, s(80.09 + 128.0), s(67.20 + 128.0)]);
        assert!(red[0] >= 253 && red[1] <= 3 && red[2] <= 3, "{red:?}");
    }

    #[test]
    fn frame_of_reference_rules() {
        let ct = SeriesIds {
            frame_of_reference_uid: "1.2.3".into(),
            ..Default::default()
        };
        let f = Path::new("x.dcm");
        let mut w = Vec::new();
        let o = ImportOptions::default();
        assert!(check_frame_of_reference(f, &["1.2.3".into()], &ct, &o, &mut w).is_ok());
        let e = check_frame_of_reference(f, &["9.9".into()], &ct, &o, &mut w).unwrap_err();
        assert!(
            e.to_string().contains("9.9") && e.to_string().contains("1.2.3"),
            "{e}"
        );
        let e = check_frame_of_reference(f, &[], &ct, &o, &mut w).unwrap_err();
        assert!(matches!(e, StructureImportError::MissingFrameOfReference { .. }));
        let allow = ImportOptions {
            allow_missing_frame_of_reference: true,
            ..o
        };
        assert!(check_frame_of_reference(f, &[], &ct, &allow, &mut w).is_ok());
        assert_eq!(w.len(), 1);
        // A different UID is refused even when missing UIDs are allowed.
        assert!(check_frame_of_reference(f, &["9.9".into()], &ct, &allow, &mut w).is_err());
    }
}
