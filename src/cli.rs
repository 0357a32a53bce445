//! Headless commands (also the test and benchmark surface). `inspect` scans a path, loads every
//! image series and reports geometry, HU range, warnings and skipped files. The JSON keys are
//! stable and documented in the README.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::dicom::{self, OtherObject, SkippedFile};
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

/// Scan `path` and load every image series found.
pub fn inspect(path: &Path) -> Result<InspectReport, dicom::DicomError> {
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
            };
            match dicom::load_series(entry, &ctx) {
                Ok(l) => {
                    s.loaded = true;
                    s.geometry = Some((&l.volume.geometry).into());
                    s.hu_range = l.volume.hu_range().map(|(a, b)| [a, b]);
                    s.transfer_syntaxes = l.report.transfer_syntaxes;
                    s.warnings.extend(l.report.warnings);
                    s.skipped = l.report.skipped;
                }
                Err(e) => s.error = Some(e.to_string()),
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
