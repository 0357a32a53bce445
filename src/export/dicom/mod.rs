//! Export of a plan to standard DICOM objects, so it reaches PACS, navigation and RT systems:
//! a binary **Segmentation** (one segment per structure and per zone), an **RT Structure Set**
//! (the same regions as closed planar contours on the CT slices) and **Secondary Captures** of
//! the rendered board slide and views, all in the CT's study.
//!
//! - Identity: patient, study and frame of reference are copied from the CT's header
//!   (`VolumeMeta`); nothing is invented. New series and instances get UIDs under `2.25`
//!   (`uid.rs`). With `anonymise`, the patient's name, ID, birth date and sex, the accession
//!   number, referring physician, study ID and study date/time are replaced (name and ID by
//!   "ANONYMISED", the rest emptied) and PatientIdentityRemoved is YES; the UIDs are kept so
//!   the objects still fit their CT (this is not a full PS3.15 de-identification).
//! - Geometry: the CT grid itself (same orientation, positions, spacing); references to the CT
//!   images wherever the volume is the series' own planes (`VolumeMeta::slice_refs`).
//! - Pure data in, Part 10 bytes out (`elements::to_part10_bytes`); files are written with
//!   `fsio::write_atomic_bytes` by [`write_export`].

pub mod codes;
pub mod contour;
pub mod elements;
pub mod rtstruct;
pub mod sc;
pub mod seg;
pub mod uid;

use std::path::{Path, PathBuf};

use crate::anatomy::{Mask, Provenance, Structure, StructureKind};
use crate::geometry::VolumeGeometry;
use crate::physics::band::Surface;
use crate::physics::model::ModelResult;
use crate::render::RgbaImage;
use crate::safety::zone::{Zone, ZoneKind};
use crate::volume::{Volume, VolumeMeta};

pub use codes::{PropertyCodes, ZoneCode, structure_codes, zone_codes};

/// Series numbers of the exported series (the CT keeps its own).
pub const SEG_SERIES_NUMBER: i32 = 901;
pub const RTSTRUCT_SERIES_NUMBER: i32 = 902;
pub const SC_SERIES_NUMBER: i32 = 903;

/// Written into every object (Manufacturer, model name, software version).
pub const MANUFACTURER: &str = "ablaplan";
pub const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Debug, thiserror::Error)]
pub enum DicomExportError {
    #[error("cannot export to DICOM: {0}")]
    Input(String),
    #[error("cannot encode the DICOM object: {0}")]
    Encode(String),
    #[error("cannot write {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// One region to export (a structure or a zone) as a mask on the CT grid.
#[derive(Clone, Debug)]
pub struct ExportRegion {
    pub label: String,
    pub codes: PropertyCodes,
    pub colour: [u8; 3],
    pub mask: Mask,
    /// SEG SegmentAlgorithmType and RTSTRUCT ROIGenerationAlgorithm: MANUAL, SEMIAUTOMATIC or
    /// AUTOMATIC.
    pub algorithm_type: &'static str,
    /// The algorithm's name (required for AUTOMATIC and SEMIAUTOMATIC).
    pub algorithm_name: String,
    /// RTSTRUCT RTROIInterpretedType (ORGAN, GTV, AVOIDANCE, TREATED_VOLUME …).
    pub rt_interpreted_type: &'static str,
    /// Where the region comes from, one line (SegmentDescription / ROIDescription).
    pub description: String,
}

/// An image to store as a Secondary Capture.
#[derive(Clone, Debug)]
pub struct CaptureImage {
    pub title: String,
    pub image: RgbaImage,
    /// Whether the pixels show text that identifies the patient (BurnedInAnnotation YES): a
    /// view rendered without anonymising shows the name and ID in its corner.
    pub identifying_text: bool,
}

/// Patient and study attributes written into every object, after the anonymise choice.
#[derive(Clone, Debug, PartialEq)]
pub struct PatientStudy {
    pub patient_name: String,
    pub patient_id: String,
    pub birth_date: String,
    pub sex: String,
    pub study_uid: String,
    pub study_date: String,
    pub study_time: String,
    pub study_id: String,
    pub accession_number: String,
    pub referring_physician: String,
    pub study_description: String,
    pub frame_of_reference_uid: String,
    pub anonymised: bool,
}

pub const ANONYMISED: &str = "ANONYMISED";

impl PatientStudy {
    /// From the CT's header; `anonymise` replaces the identifiers (see the module docs).
    pub fn from_meta(meta: &VolumeMeta, anonymise: bool) -> Result<Self, DicomExportError> {
        if !uid::is_valid_uid(meta.study_instance_uid.trim()) {
            return Err(DicomExportError::Input(format!(
                "the CT has no valid StudyInstanceUID ({:?}); the objects could not join its study",
                meta.study_instance_uid
            )));
        }
        if !uid::is_valid_uid(meta.frame_of_reference_uid.trim()) {
            return Err(DicomExportError::Input(format!(
                "the CT has no valid FrameOfReferenceUID ({:?}); the objects could not share its space",
                meta.frame_of_reference_uid
            )));
        }
        let name = if meta.patient_name_pn.is_empty() {
            meta.patient_name.clone()
        } else {
            meta.patient_name_pn.clone()
        };
        let keep = |s: &str| {
            if anonymise {
                String::new()
            } else {
                s.trim().to_string()
            }
        };
        Ok(PatientStudy {
            patient_name: if anonymise {
                ANONYMISED.into()
            } else {
                name.trim().into()
            },
            patient_id: if anonymise {
                ANONYMISED.into()
            } else {
                meta.patient_id.trim().into()
            },
            birth_date: keep(&meta.patient_birth_date),
            sex: keep(&meta.patient_sex),
            study_uid: meta.study_instance_uid.trim().into(),
            study_date: keep(&meta.study_date),
            study_time: keep(&meta.study_time),
            study_id: keep(&meta.study_id),
            accession_number: keep(&meta.accession_number),
            referring_physician: keep(&meta.referring_physician_pn),
            study_description: keep(&meta.study_description),
            frame_of_reference_uid: meta.frame_of_reference_uid.trim().into(),
            anonymised: anonymise,
        })
    }
}

/// Common attributes of every exported object.
pub struct ObjectContext<'a> {
    pub geometry: &'a VolumeGeometry,
    pub meta: &'a VolumeMeta,
    pub ids: &'a PatientStudy,
    /// ContentDate / ContentTime (DA, TM).
    pub date: String,
    pub time: String,
}

/// One encoded object.
#[derive(Clone, Debug)]
pub struct ExportedObject {
    /// "SEG", "RTSTRUCT" or "SC".
    pub modality: &'static str,
    pub file_name: String,
    pub sop_instance_uid: String,
    pub series_instance_uid: String,
    pub bytes: Vec<u8>,
}

/// What to export.
pub struct DicomExportRequest<'a> {
    pub volume: &'a Volume,
    pub structures: &'a [Structure],
    /// The plan's computed result, whose zones are exported too.
    pub result: Option<&'a ModelResult>,
    /// The cryo plan's lethal isotherm (°C; unused for IRE).
    pub lethal_c: f64,
    pub captures: Vec<CaptureImage>,
    pub anonymise: bool,
}

/// The regions of the structures (non-empty masks on the CT grid).
pub fn structure_regions(structures: &[Structure], g: &VolumeGeometry) -> Vec<ExportRegion> {
    structures
        .iter()
        .filter(|s| s.mask().dims() == g.dims && !s.mask().is_empty())
        .map(|s| {
            let (algorithm_type, algorithm_name) = match &s.provenance {
                Provenance::RegionGrown { .. } => ("SEMIAUTOMATIC", "ablaplan region growing".to_string()),
                Provenance::NervePath => ("SEMIAUTOMATIC", "ablaplan nerve path".to_string()),
                Provenance::BuiltInDemo => ("AUTOMATIC", "ablaplan demo anatomy (synthetic)".to_string()),
                Provenance::Imported { .. } | Provenance::Drawn => ("MANUAL", String::new()),
            };
            let description = match &s.provenance {
                Provenance::Imported { file, detail, .. } => format!(
                    "imported from {}: {detail}",
                    file.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default()
                ),
                Provenance::Drawn => "drawn in ablaplan".into(),
                Provenance::RegionGrown { min_hu, max_hu, .. } => {
                    format!("region grown in ablaplan ({min_hu} to {max_hu} HU)")
                }
                Provenance::NervePath => "nerve path drawn in ablaplan".into(),
                Provenance::BuiltInDemo => "ablaplan demo anatomy (synthetic)".into(),
            };
            ExportRegion {
                label: s.name.clone(),
                codes: structure_codes(&s.name, s.kind),
                colour: s.colour,
                mask: s.mask().clone(),
                algorithm_type,
                algorithm_name,
                rt_interpreted_type: match s.kind {
                    StructureKind::Target => "GTV",
                    StructureKind::Nerve | StructureKind::Bowel | StructureKind::Vessel => "AVOIDANCE",
                    StructureKind::Bone | StructureKind::Other => "ORGAN",
                },
                description,
            }
        })
        .collect()
}

/// A zone's flags sampled onto the CT grid: each CT voxel takes the zone's nearest node.
pub fn zone_mask_on_ct(zone: &Zone, g: &VolumeGeometry) -> Mask {
    let [nx, ny, nz] = g.dims;
    let mut mask = Mask::empty(g.dims);
    // The CT voxel box of the zone grid's corners (± 1 voxel).
    let zg = &zone.grid;
    let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    for c in 0..8 {
        let n = [(c & 1) as f64, ((c >> 1) & 1) as f64, ((c >> 2) & 1) as f64];
        let p = zg.origin_lps
            + nalgebra::Vector3::new(
                n[0] * (zg.dims[0].saturating_sub(1)) as f64,
                n[1] * (zg.dims[1].saturating_sub(1)) as f64,
                n[2] * (zg.dims[2].saturating_sub(1)) as f64,
            ) * zg.spacing_mm;
        let v = g.to_voxel(&p);
        for a in 0..3 {
            lo[a] = lo[a].min(v[a]);
            hi[a] = hi[a].max(v[a]);
        }
    }
    let dims = [nx, ny, nz];
    let range = |a: usize| -> Option<(usize, usize)> {
        let l = (lo[a].floor() - 1.0).max(0.0);
        let h = (hi[a].ceil() + 1.0).min(dims[a] as f64 - 1.0);
        (l.is_finite() && h.is_finite() && l <= h).then_some((l as usize, h as usize))
    };
    let (Some((i0, i1)), Some((j0, j1)), Some((k0, k1))) = (range(0), range(1), range(2)) else {
        return mask;
    };
    let mut slice = vec![false; nx * ny];
    for k in k0..=k1 {
        slice.iter_mut().for_each(|v| *v = false);
        let mut any = false;
        for j in j0..=j1 {
            for i in i0..=i1 {
                let p = g.to_patient(&nalgebra::Vector3::new(i as f64, j as f64, k as f64));
                if let Some([a, b, c]) = zg.nearest(&p)
                    && zone.inside.get(zg.index(a, b, c)).copied().unwrap_or(false)
                {
                    slice[j * nx + i] = true;
                    any = true;
                }
            }
        }
        if any {
            mask.set_slice_dense(k, &slice);
        }
    }
    mask
}

/// The zones of a result to export: the nominal IRE zone or cryo 0 °C, −20 °C and lethal
/// isotherms, and with an uncertainty band its inner and outer surfaces.
pub fn result_zones(result: &ModelResult, lethal_c: f64) -> Vec<Zone> {
    match result {
        ModelResult::Ire(r) => {
            let mut z = vec![Zone::from_ire(r, Zone::ire_label(r.preview))];
            if let Some(b) = &r.band {
                z.push(Zone::from_band(
                    b,
                    Surface::Inner,
                    "IRE zone (inner)",
                    ZoneKind::IreThreshold,
                ));
                z.push(Zone::from_band(
                    b,
                    Surface::Outer,
                    "IRE zone (outer)",
                    ZoneKind::IreThreshold,
                ));
            }
            z
        }
        ModelResult::Cryo(r) => {
            let mut z = Zone::cryo_zones(r, lethal_c);
            if let Some(b) = &r.band {
                let ice = ZoneKind::CryoIsotherm { temp_c: 0.0 };
                let lethal = ZoneKind::CryoLethal { temp_c: lethal_c };
                z.push(Zone::from_band(
                    &b.iceball,
                    Surface::Inner,
                    "Iceball 0 °C (inner)",
                    ice,
                ));
                z.push(Zone::from_band(
                    &b.iceball,
                    Surface::Outer,
                    "Iceball 0 °C (outer)",
                    ice,
                ));
                z.push(Zone::from_band(
                    &b.lethal,
                    Surface::Inner,
                    &format!("Lethal {lethal_c:.0} °C (inner)"),
                    lethal,
                ));
                z.push(Zone::from_band(
                    &b.lethal,
                    Surface::Outer,
                    &format!("Lethal {lethal_c:.0} °C (outer)"),
                    lethal,
                ));
            }
            z
        }
    }
}

/// The regions of a result's zones on the CT grid (empty zones left out).
pub fn zone_regions(result: &ModelResult, lethal_c: f64, g: &VolumeGeometry) -> Vec<ExportRegion> {
    let model = match result {
        ModelResult::Ire(_) => "ablaplan IRE model",
        ModelResult::Cryo(_) => "ablaplan cryo model",
    };
    result_zones(result, lethal_c)
        .iter()
        .filter_map(|z| {
            let mask = zone_mask_on_ct(z, g);
            if mask.is_empty() {
                return None;
            }
            let (code, colour) = match z.kind {
                ZoneKind::IreThreshold => (ZoneCode::IreZone, crate::render::palette::IRE_ZONE_RGB),
                ZoneKind::CryoLethal { .. } => {
                    (ZoneCode::LethalIsotherm, crate::render::palette::CRYO_LETHAL_RGB)
                }
                ZoneKind::CryoIsotherm { temp_c } if temp_c >= -10.0 => {
                    (ZoneCode::Iceball0C, crate::render::palette::isotherm(temp_c))
                }
                ZoneKind::CryoIsotherm { temp_c } => (
                    ZoneCode::IsothermMinus20C,
                    crate::render::palette::isotherm(temp_c),
                ),
            };
            Some(ExportRegion {
                label: z.label.replace('−', "-").replace("°C", "degC"),
                codes: zone_codes(code),
                colour,
                mask,
                algorithm_type: "AUTOMATIC",
                algorithm_name: model.into(),
                rt_interpreted_type: "TREATED_VOLUME",
                description: format!("predicted by the {model}: {}", z.label),
            })
        })
        .collect()
}

/// All objects of an export: SEG and RTSTRUCT of the structures and zones (when there is any
/// region), one Secondary Capture per image.
pub fn build_export(req: &DicomExportRequest<'_>) -> Result<Vec<ExportedObject>, DicomExportError> {
    let g = &req.volume.geometry;
    let ids = PatientStudy::from_meta(&req.volume.meta, req.anonymise)?;
    let (date, time) = uid::now_da_tm();
    let ctx = ObjectContext {
        geometry: g,
        meta: &req.volume.meta,
        ids: &ids,
        date,
        time,
    };
    let mut regions = structure_regions(req.structures, g);
    if let Some(r) = req.result {
        regions.extend(zone_regions(r, req.lethal_c, g));
    }
    let mut out = Vec::new();
    if !regions.is_empty() {
        out.push(seg::seg_object(&ctx, &regions)?);
        out.push(rtstruct::rtstruct_object(&ctx, &regions)?);
    }
    let sc_series = uid::new_uid();
    for (n, c) in req.captures.iter().enumerate() {
        out.push(sc::sc_object(&ctx, c, &sc_series, n + 1)?);
    }
    if out.is_empty() {
        return Err(DicomExportError::Input(
            "there is nothing to export: no structure, no computed zone and no image".into(),
        ));
    }
    Ok(out)
}

/// Writes the objects into `dir` (created if missing), each atomically; returns the paths.
pub fn write_export(dir: &Path, objects: &[ExportedObject]) -> Result<Vec<PathBuf>, DicomExportError> {
    std::fs::create_dir_all(dir).map_err(|source| DicomExportError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths = Vec::new();
    for o in objects {
        let path = dir.join(&o.file_name);
        crate::fsio::write_atomic_bytes(&path, &o.bytes).map_err(|source| DicomExportError::Io {
            path: path.clone(),
            source,
        })?;
        paths.push(path);
    }
    Ok(paths)
}

/// A file name for an object: its modality and the last digits of its instance UID (unique
/// per export, so an export never replaces an earlier one).
pub fn file_name(modality: &str, sop_instance_uid: &str, n: Option<usize>) -> String {
    let tail: String = sop_instance_uid
        .chars()
        .rev()
        .take(12)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    match n {
        Some(n) => format!("{modality}_{n:02}_{tail}.dcm"),
        None => format!("{modality}_{tail}.dcm"),
    }
}

/// Writes the Patient, General Study, SOP Common and equipment attributes shared by every
/// object into `o`.
pub fn put_common(o: &mut elements::Obj, ctx: &ObjectContext<'_>, sop_class: &str, sop_instance: &str) {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    use elements::{fit, put_str};
    let ids = ctx.ids;
    put_str(o, tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 192");
    put_str(o, tags::SOP_CLASS_UID, VR::UI, sop_class);
    put_str(o, tags::SOP_INSTANCE_UID, VR::UI, sop_instance);
    put_str(o, tags::INSTANCE_CREATION_DATE, VR::DA, &ctx.date);
    put_str(o, tags::INSTANCE_CREATION_TIME, VR::TM, &ctx.time);
    put_str(o, tags::STUDY_DATE, VR::DA, &ids.study_date);
    put_str(o, tags::STUDY_TIME, VR::TM, &ids.study_time);
    put_str(o, tags::CONTENT_DATE, VR::DA, &ctx.date);
    put_str(o, tags::CONTENT_TIME, VR::TM, &ctx.time);
    put_str(o, tags::ACCESSION_NUMBER, VR::SH, &fit(&ids.accession_number, 16));
    put_str(o, tags::MANUFACTURER, VR::LO, MANUFACTURER);
    put_str(
        o,
        tags::REFERRING_PHYSICIAN_NAME,
        VR::PN,
        &ids.referring_physician,
    );
    put_str(
        o,
        tags::STUDY_DESCRIPTION,
        VR::LO,
        &fit(&ids.study_description, 64),
    );
    put_str(o, tags::MANUFACTURER_MODEL_NAME, VR::LO, MANUFACTURER);
    put_str(o, tags::PATIENT_NAME, VR::PN, &ids.patient_name);
    put_str(o, tags::PATIENT_ID, VR::LO, &fit(&ids.patient_id, 64));
    put_str(o, tags::PATIENT_BIRTH_DATE, VR::DA, &ids.birth_date);
    put_str(o, tags::PATIENT_SEX, VR::CS, &ids.sex);
    if ids.anonymised {
        put_str(o, tags::PATIENT_IDENTITY_REMOVED, VR::CS, "YES");
        put_str(
            o,
            tags::DEIDENTIFICATION_METHOD,
            VR::LO,
            "ablaplan: identifiers replaced or emptied; UIDs kept",
        );
    }
    put_str(o, tags::SOFTWARE_VERSIONS, VR::LO, SOFTWARE_VERSION);
    put_str(o, tags::STUDY_INSTANCE_UID, VR::UI, &ids.study_uid);
    put_str(o, tags::STUDY_ID, VR::SH, &fit(&ids.study_id, 16));
}

/// The reference to the CT image of slice `k` (SOP class, instance, frame), when the volume is
/// the series' own planes: RTSTRUCT contours and SEG frames both point at it.
pub(crate) fn ct_image_ref(ctx: &ObjectContext<'_>, k: usize) -> Option<elements::Obj> {
    use dicom_core::VR;
    use dicom_dictionary_std::tags;
    use elements::{put_str, put_strs};
    let r = ctx.meta.slice_refs.get(k)?;
    let mut it = elements::Obj::new_empty();
    put_str(&mut it, tags::REFERENCED_SOP_CLASS_UID, VR::UI, &r.sop_class_uid);
    put_str(
        &mut it,
        tags::REFERENCED_SOP_INSTANCE_UID,
        VR::UI,
        &r.sop_instance_uid,
    );
    if let Some(f) = r.frame_number {
        put_strs(&mut it, tags::REFERENCED_FRAME_NUMBER, VR::IS, &[f.to_string()]);
    }
    Some(it)
}
