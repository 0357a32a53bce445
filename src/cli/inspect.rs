//! `ablaplan inspect`: scans a path, loads every image series and reports geometry, HU range,
//! warnings and skipped files, the structure sets (RTSTRUCT / SEG) found for each series and,
//! with `--structures`, imports them onto the CT grid. The JSON keys are stable and documented
//! in the README.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::dicom::structset::bbox_lps_mm;
use crate::dicom::{self, ImportOptions, OtherObject, SeriesIds, SkippedFile};
use crate::jobs::JobCtx;

pub const INSPECT_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct InspectReport {
    pub schema_version: u32,
    pub path: PathBuf,
    pub files_examined: usize,
    pub series: Vec<InspectSeries>,
    pub other_objects: Vec<OtherObject>,
    pub skipped: Vec<SkippedFile>,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct InspectSeries {
    pub modality: String,
    pub patient_name: String,
    pub patient_id: String,
    pub study_description: String,
    pub series_description: String,
    pub series_number: Option<i32>,
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub frame_of_reference_uid: String,
    pub image_count: usize,
    pub file_count: usize,
    /// `false` when the series could not be turned into a volume; `error` says why.
    pub loaded: bool,
    pub error: Option<String>,
    pub geometry: Option<InspectGeometry>,
    /// [min, max] HU of the loaded volume.
    pub hu_range: Option<[i16; 2]>,
    pub transfer_syntaxes: Vec<String>,
    pub warnings: Vec<String>,
    pub skipped: Vec<SkippedFile>,
    /// RTSTRUCT / SEG objects of the scan that belong to this series (same frame of reference,
    /// naming this series, or without a frame of reference).
    pub structure_sets: Vec<InspectStructureSet>,
}

/// A structure set found for a series; the import keys are present only with `--structures`.
#[derive(Debug, Serialize)]
pub struct InspectStructureSet {
    pub path: PathBuf,
    pub modality: String,
    pub description: String,
    pub matches_frame_of_reference: bool,
    pub references_series: bool,
    /// Why the import was refused or failed (with `--structures`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<String>>,
    /// ROIs / segments not imported, with the reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped_rois: Option<Vec<InspectSkippedRoi>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structures: Option<Vec<InspectStructure>>,
}

#[derive(Debug, Serialize)]
pub struct InspectSkippedRoi {
    pub name: String,
    pub reason: String,
}

/// One imported structure on the CT grid.
#[derive(Debug, Serialize)]
pub struct InspectStructure {
    pub name: String,
    /// Target, Nerve, Bowel, Vessel, Bone or Other.
    pub kind: String,
    pub voxel_count: usize,
    pub volume_ml: f64,
    /// `[[xmin, ymin, zmin], [xmax, ymax, zmax]]` of the voxel centres, LPS mm.
    pub bbox_lps_mm: Option<[[f64; 3]; 2]>,
    /// `[r, g, b]` display colour.
    pub colour: [u8; 3],
    pub source: PathBuf,
    /// Where in the file it came from (ROI / segment number, contours, frames).
    pub detail: String,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct InspectGeometry {
    /// [columns, rows, slices] = voxel counts along i, j, k.
    pub dims: [usize; 3],
    /// [column spacing, row spacing, slice spacing] in mm.
    pub spacing_mm: [f64; 3],
    /// LPS position of the centre of voxel (0, 0, 0), mm.
    pub origin_lps: [f64; 3],
    /// Unit LPS directions of increasing i (row direction), j (column direction), k (slices).
    pub direction: [[f64; 3]; 3],
}

impl From<&crate::geometry::VolumeGeometry> for InspectGeometry {
    fn from(g: &crate::geometry::VolumeGeometry) -> Self {
        let col = |c: usize| [g.direction[(0, c)], g.direction[(1, c)], g.direction[(2, c)]];
        Self {
            dims: g.dims,
            spacing_mm: g.spacing_mm,
            origin_lps: [g.origin_lps.x, g.origin_lps.y, g.origin_lps.z],
            direction: [col(0), col(1), col(2)],
        }
    }
}

/// Scan `path` and load every image series found; list the structure sets of each series.
pub fn inspect(path: &Path) -> Result<InspectReport, dicom::DicomError> {
    inspect_with(path, false)
}

/// Import each structure set onto the loaded CT (refusals and failures become `error`).
fn import_sets(
    sets: &mut [InspectStructureSet],
    geometry: &crate::geometry::VolumeGeometry,
    ids: &SeriesIds,
) {
    for set in sets {
        match dicom::import_structure_set(&set.path, geometry, ids, &ImportOptions::default()) {
            Ok(r) => {
                set.structures = Some(
                    r.structures
                        .iter()
                        .zip(r.structure_warnings.iter().chain(std::iter::repeat(&Vec::new())))
                        .map(|(s, w)| {
                            let (source, detail) = match &s.provenance {
                                crate::anatomy::Provenance::Imported { file, detail, .. } => {
                                    (file.clone(), detail.clone())
                                }
                                _ => (set.path.clone(), String::new()),
                            };
                            InspectStructure {
                                name: s.name.clone(),
                                kind: s.kind.label().to_string(),
                                voxel_count: s.mask().voxel_count(),
                                volume_ml: s.volume_ml(geometry.spacing_mm),
                                bbox_lps_mm: bbox_lps_mm(s.mask(), geometry),
                                colour: s.colour,
                                source,
                                detail,
                                warnings: w.clone(),
                            }
                        })
                        .collect(),
                );
                set.warnings = Some(r.warnings);
                set.skipped_rois = Some(
                    r.skipped_rois
                        .into_iter()
                        .map(|(name, reason)| InspectSkippedRoi { name, reason })
                        .collect(),
                );
            }
            Err(e) => set.error = Some(e.to_string()),
        }
    }
}

/// [`inspect`]; with `structures`, also import every structure set found for a loaded series
/// onto its grid (a missing frame of reference is not confirmed here: such sets report an error).
pub fn inspect_with(path: &Path, structures: bool) -> Result<InspectReport, dicom::DicomError> {
    let ctx = JobCtx::default();
    let scan = dicom::scan(&[path.to_path_buf()], &ctx)?;
    let series = scan
        .series
        .iter()
        .map(|entry| {
            let mut s = InspectSeries {
                modality: entry.modality.clone(),
                patient_name: entry.patient_name.clone(),
                patient_id: entry.patient_id.clone(),
                study_description: entry.study_description.clone(),
                series_description: entry.series_description.clone(),
                series_number: entry.series_number,
                study_instance_uid: entry.study_instance_uid.clone(),
                series_instance_uid: entry.series_instance_uid.clone(),
                frame_of_reference_uid: entry.frame_of_reference_uid.clone(),
                image_count: entry.image_count,
                file_count: entry.files.len(),
                loaded: false,
                error: None,
                geometry: None,
                hu_range: None,
                transfer_syntaxes: Vec::new(),
                warnings: entry.warnings.clone(),
                skipped: Vec::new(),
                structure_sets: Vec::new(),
            };
            let entry_ids = SeriesIds {
                frame_of_reference_uid: entry.frame_of_reference_uid.clone(),
                series_instance_uid: entry.series_instance_uid.clone(),
                sop_instance_uids: Vec::new(),
            };
            let sets = |ids: &SeriesIds| -> Vec<InspectStructureSet> {
                dicom::find_structure_sets(&scan.others, ids)
                    .into_iter()
                    .map(|c| InspectStructureSet {
                        path: c.path,
                        modality: c.modality,
                        description: c.description,
                        matches_frame_of_reference: c.matches_frame_of_reference,
                        references_series: c.references_series,
                        error: None,
                        warnings: None,
                        skipped_rois: None,
                        structures: None,
                    })
                    .collect()
            };
            match dicom::load_series(entry, &ctx) {
                Ok(l) => {
                    let ids = SeriesIds::from_loaded(&l);
                    s.structure_sets = sets(&ids);
                    if structures {
                        import_sets(&mut s.structure_sets, &l.volume.geometry, &ids);
                    }
                    s.loaded = true;
                    s.geometry = Some((&l.volume.geometry).into());
                    s.hu_range = l.volume.hu_range().map(|(a, b)| [a, b]);
                    s.transfer_syntaxes = l.report.transfer_syntaxes;
                    // The load report already starts with the scan's warnings of this series
                    // (`load_series` copies them): replace, not extend, so none shows twice.
                    s.warnings = l.report.warnings;
                    s.skipped = l.report.skipped;
                }
                Err(e) => {
                    s.error = Some(e.to_string());
                    s.structure_sets = sets(&entry_ids);
                    if structures {
                        for set in &mut s.structure_sets {
                            set.error = Some("not imported: the CT series could not be loaded".into());
                        }
                    }
                }
            }
            s
        })
        .collect();
    Ok(InspectReport {
        schema_version: INSPECT_SCHEMA_VERSION,
        path: path.to_path_buf(),
        files_examined: scan.files_examined,
        series,
        other_objects: scan.others,
        skipped: scan.skipped,
        warnings: scan.warnings,
    })
}

/// Human-readable form of an inspect report.
pub fn format_inspect(r: &InspectReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} files examined, {} image series, {} other objects, {} skipped",
        r.path.display(),
        r.files_examined,
        r.series.len(),
        r.other_objects.len(),
        r.skipped.len()
    );
    for w in &r.warnings {
        let _ = writeln!(out, "  warning: {w}");
    }
    for (n, s) in r.series.iter().enumerate() {
        let _ = writeln!(
            out,
            "\nSeries {}: {} \"{}\" ({} images in {} files){}",
            n + 1,
            s.modality,
            s.series_description,
            s.image_count,
            s.file_count,
            s.series_number
                .map(|n| format!(", series number {n}"))
                .unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "  study \"{}\", series UID {}",
            s.study_description, s.series_instance_uid
        );
        if let Some(g) = &s.geometry {
            let _ = writeln!(out, "  dims {} × {} × {}", g.dims[0], g.dims[1], g.dims[2]);
            let _ = writeln!(
                out,
                "  spacing {:.4} × {:.4} × {:.4} mm",
                g.spacing_mm[0], g.spacing_mm[1], g.spacing_mm[2]
            );
            let _ = writeln!(
                out,
                "  origin LPS ({:.3}, {:.3}, {:.3}) mm",
                g.origin_lps[0], g.origin_lps[1], g.origin_lps[2]
            );
            for (name, d) in ["i (rows →)", "j (cols ↓)", "k (slices)"]
                .iter()
                .zip(g.direction.iter())
            {
                let _ = writeln!(out, "  direction {name}: ({:.5}, {:.5}, {:.5})", d[0], d[1], d[2]);
            }
        }
        if let Some([lo, hi]) = s.hu_range {
            let _ = writeln!(out, "  HU range {lo} … {hi}");
        }
        if !s.transfer_syntaxes.is_empty() {
            let _ = writeln!(out, "  transfer syntaxes: {}", s.transfer_syntaxes.join(", "));
        }
        if let Some(e) = &s.error {
            let _ = writeln!(out, "  NOT LOADED: {e}");
        }
        for w in &s.warnings {
            let _ = writeln!(out, "  warning: {w}");
        }
        for f in &s.skipped {
            let _ = writeln!(out, "  skipped {}: {}", f.path.display(), f.reason);
        }
        for set in &s.structure_sets {
            let _ = writeln!(
                out,
                "  structure set: {} \"{}\" {}{}{}",
                set.modality,
                set.description,
                set.path.display(),
                if set.matches_frame_of_reference {
                    ""
                } else {
                    " (frame of reference does not match)"
                },
                if set.references_series {
                    ""
                } else {
                    " (does not name this series)"
                }
            );
            if let Some(e) = &set.error {
                let _ = writeln!(out, "    NOT IMPORTED: {e}");
            }
            for w in set.warnings.iter().flatten() {
                let _ = writeln!(out, "    warning: {w}");
            }
            for st in set.structures.iter().flatten() {
                let bbox = st
                    .bbox_lps_mm
                    .map(|[a, b]| {
                        format!(
                            ", LPS ({:.1}, {:.1}, {:.1}) … ({:.1}, {:.1}, {:.1}) mm",
                            a[0], a[1], a[2], b[0], b[1], b[2]
                        )
                    })
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "    {} [{}]: {} voxels, {:.2} mL{bbox}",
                    st.name, st.kind, st.voxel_count, st.volume_ml
                );
            }
            for r in set.skipped_rois.iter().flatten() {
                let _ = writeln!(out, "    skipped \"{}\": {}", r.name, r.reason);
            }
        }
    }
    if !r.other_objects.is_empty() {
        let _ = writeln!(out, "\nOther objects:");
        for o in &r.other_objects {
            let _ = writeln!(out, "  {} \"{}\" {}", o.modality, o.description, o.path.display());
        }
    }
    if !r.skipped.is_empty() {
        let _ = writeln!(out, "\nSkipped files:");
        for f in &r.skipped {
            let _ = writeln!(out, "  {}: {}", f.path.display(), f.reason);
        }
    }
    out
}
