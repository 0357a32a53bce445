//! Headless commands (also the test and benchmark surface). `inspect` scans a path, loads every
//! image series and reports geometry, HU range, warnings and skipped files, the structure sets
//! (RTSTRUCT / SEG) found for each series and, with `--structures`, imports them onto the CT grid.
//! `compute` runs the IRE or the cryo model on a case file (`plan::case`) and reports the zone
//! (or isotherms), the pairs (or probes), the solver, and the safety findings and margins; with
//! `--png` it also writes the tumour-board slide. The JSON keys are stable and documented in the README.

use std::path::{Path, PathBuf};

use serde::Serialize;

use nalgebra::Vector3;

use crate::anatomy::structure::{Structure, StructureKind};
use crate::dicom::structset::bbox_lps_mm;
use crate::dicom::{self, ImportOptions, OtherObject, SeriesIds, SkippedFile};
use crate::geometry::PatientPos;
use crate::jobs::JobCtx;
use crate::physics::ire::model::{IreError, IreResult, TissueSource, ZoneCriterion, compute_ire};
use crate::plan::case::{self, CaseError, CaseFile, CaseSource};
use crate::plan::ire::{CURRENT_LIMIT_A, ElectrodePair, IreSettings};
use crate::plan::probe::Probe;
use crate::safety::{
    Finding, Light, PairCurrent, RuleSet, SafetyCache, SafetyInput, SafetyReport, Zone, run_safety,
};

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
                                crate::anatomy::Provenance::Imported { file, detail } => {
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
                    s.warnings.extend(l.report.warnings);
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

// ---------------------------------------------------------------------------------------------
// compute: run the IRE model on a case file
// ---------------------------------------------------------------------------------------------

/// Version of the `compute --json` report (keys documented in the README).
pub const COMPUTE_SCHEMA_VERSION: u32 = 1;

/// Command-line overrides of a case, to vary one parameter at a time.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ComputeOverrides {
    /// Grid spacing (mm): `model.spacing_mm`.
    pub spacing_mm: Option<f64>,
    /// Margin around the electrodes (mm): `model.margin_mm`.
    pub margin_mm: Option<f64>,
    /// Constant σ0 (`model.nonlinear = false`).
    pub linear: bool,
    /// Voltage of every pulsed pair (V).
    pub voltage_v: Option<f64>,
    /// One lethal threshold everywhere (V/cm): `model.zone = fixed`.
    pub threshold_v_per_cm: Option<f64>,
}

/// Why `compute` failed; [`ComputeError::exit_code`] separates bad input (2) from model
/// failures (1).
#[derive(Debug, thiserror::Error)]
pub enum ComputeError {
    #[error(transparent)]
    Case(#[from] CaseError),
    /// Bad input found after reading the file (overrides, DICOM source, probes outside the CT).
    #[error("{file}: {field}: {message}")]
    Input {
        file: String,
        field: String,
        message: String,
    },
    #[error("{file}: cannot write the board slide: {source}")]
    Export {
        file: String,
        #[source]
        source: crate::export::ExportError,
    },
    #[error("{file}: {source}")]
    Model {
        file: String,
        #[source]
        source: IreError,
    },
    #[error("{file}: {source}")]
    CryoModel {
        file: String,
        #[source]
        source: crate::physics::cryo::model::CryoError,
    },
}

impl ComputeError {
    /// 2 for bad input (the message names the file and field), 1 when the model failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            ComputeError::Case(_) | ComputeError::Input { .. } => 2,
            // The model refuses input it cannot use (no pair, electrode off the grid, grid too
            // large) with these two; anything else is the model failing.
            ComputeError::Model { source, .. } => match source {
                IreError::NoPairs | IreError::Invalid(_) => 2,
                _ => 1,
            },
            ComputeError::Export { .. } => 1,
            ComputeError::CryoModel { source, .. } => match source {
                crate::physics::cryo::model::CryoError::Cancelled => 1,
                _ => 2,
            },
        }
    }

    fn input(file: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        ComputeError::Input {
            file: file.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ComputeReport {
    pub schema_version: u32,
    pub case: ComputeCaseInfo,
    /// The command-line overrides applied (`null` / `false` when not given).
    pub overrides: ComputeOverrides,
    pub model: ComputeModelInfo,
    pub zone: ComputeZone,
    pub pairs: Vec<ComputePair>,
    pub solver: ComputeSolver,
    /// Safety findings (`crate::safety`), worst first: severity, rule, structure, kind, zone,
    /// distance_mm (best estimate; negative = inside the zone), distance_lower_mm (what the rule
    /// compared), source, message, caliper points.
    pub findings: Vec<Finding>,
    /// Coverage and signed minimal ablative margin of every Target by the lethal zone.
    pub margins: Vec<ComputeMargin>,
    pub safety: ComputeSafety,
    pub warnings: Vec<String>,
}

/// Coverage and margin of one target (the full per-surface distribution stays in the library).
#[derive(Debug, Serialize)]
pub struct ComputeMargin {
    pub zone: String,
    pub target: String,
    /// Fraction of the target's voxels inside the zone.
    pub coverage: f64,
    /// Signed minimal ablative margin (mm), negative where the target sticks out; `null` for an
    /// empty zone.
    pub min_margin_mm: Option<f64>,
    /// `min_margin_mm − error_bound_mm` (what the margin rules compare).
    pub min_margin_lower_mm: Option<f64>,
    pub error_bound_mm: f64,
    /// Fraction of the target surface with a margin below 5 mm.
    pub surface_below_5mm: f64,
    pub surface_voxels: usize,
}

/// The safety pass as a whole.
#[derive(Debug, Serialize)]
pub struct ComputeSafety {
    /// "green", "amber" or "red": the worst finding.
    pub status: Light,
    /// "built-in" or "case".
    pub rules: String,
    /// The structures analysed: name and kind.
    pub structures: Vec<ComputeStructure>,
    /// Distances beyond this (mm) are not resolved.
    pub beyond_mm: f64,
}

#[derive(Debug, Serialize)]
pub struct ComputeStructure {
    pub name: String,
    pub kind: StructureKind,
    pub volume_ml: f64,
}

#[derive(Debug, Serialize)]
pub struct ComputeCaseInfo {
    pub path: PathBuf,
    pub name: String,
    pub description: String,
    pub schema_version: u32,
    /// "phantom" or "dicom".
    pub source_kind: String,
    /// One line: the phantom's tissue and size, or the DICOM path and series.
    pub source: String,
}

#[derive(Debug, Serialize)]
pub struct ComputeModelInfo {
    pub description: String,
    pub nonlinear: bool,
    pub zone_criterion: ZoneCriterion,
    pub preview: bool,
    pub grid: ComputeGridInfo,
}

#[derive(Debug, Serialize)]
pub struct ComputeGridInfo {
    /// Nodes along L, P, S.
    pub dims: [usize; 3],
    pub spacing_mm: f64,
    /// LPS position of node (0, 0, 0), mm.
    pub origin_lps: [f64; 3],
    pub nodes: usize,
}

#[derive(Debug, Serialize)]
pub struct ComputeZone {
    pub volume_ml: f64,
    pub extents_mm: ZoneExtents,
    /// The unit LPS directions the extents are measured along.
    pub axes_lps: ZoneAxes,
}

#[derive(Debug, Serialize, Clone, Copy, PartialEq)]
pub struct ZoneExtents {
    pub probe_axis: f64,
    pub pair_axis: f64,
    pub perpendicular: f64,
}

#[derive(Debug, Serialize, Clone, Copy, PartialEq)]
pub struct ZoneAxes {
    /// The first probe's insertion direction (entry → tip).
    pub probe_axis: [f64; 3],
    /// From the first pair's anode to its cathode (exposed-part midpoints), made perpendicular to
    /// the probe axis.
    pub pair_axis: [f64; 3],
    /// probe_axis × pair_axis.
    pub perpendicular: [f64; 3],
}

#[derive(Debug, Serialize)]
pub struct ComputePair {
    /// Probe indices (0-based, as in the case file); `a` is the anode.
    pub a: usize,
    pub b: usize,
    pub a_label: String,
    pub b_label: String,
    pub voltage_v: f64,
    pub spacing_mm: f64,
    pub current_a: f64,
    /// `current_a` above the generator's limit (`current_limit_a`).
    pub over_limit: bool,
    pub current_limit_a: f64,
    /// Running maximum |E| over all pairs at the midpoint between the two exposed-part midpoints
    /// (V/cm); `null` outside the grid. For two long parallel electrodes this is the closed
    /// form's E_mid.
    pub midpoint_max_e_v_per_cm: Option<f64>,
    pub linear_iterations: usize,
    pub nonlinear_iterations: usize,
    pub converged: bool,
}

#[derive(Debug, Serialize)]
pub struct ComputeSolver {
    pub linear_iterations: usize,
    /// Sum over the pairs.
    pub nonlinear_iterations: usize,
    /// Every pair converged.
    pub converged: bool,
    /// The model's own time (s).
    pub elapsed_s: f64,
    /// Loading the case (and the DICOM series) plus the model (s).
    pub total_s: f64,
}

/// Applies the overrides to a loaded case (the caller validates again).
pub fn apply_overrides(
    case: &mut CaseFile,
    o: &ComputeOverrides,
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<(), ComputeError> {
    let positive = |flag: &str, v: f64| {
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(ComputeError::input(
                file,
                flag,
                format!("{v} — must be a positive number"),
            ))
        }
    };
    if let Some(s) = o.spacing_mm {
        positive("--spacing-mm", s)?;
        case.model.spacing_mm = s;
    }
    if let Some(m) = o.margin_mm {
        if !m.is_finite() || m < 0.0 {
            return Err(ComputeError::input(
                file,
                "--margin-mm",
                format!("{m} — must be ≥ 0"),
            ));
        }
        case.model.margin_mm = m;
    }
    if o.linear {
        case.model.nonlinear = false;
    }
    if let Some(t) = o.threshold_v_per_cm {
        positive("--threshold-v-per-cm", t)?;
        case.model.zone = ZoneCriterion::Fixed {
            threshold_v_per_cm: t,
        };
    }
    if let Some(v) = o.voltage_v {
        positive("--voltage-v", v)?;
        // Default pairs are filled in first so that the override reaches every pulsed pair.
        case.ire = case.effective_ire();
        for p in &mut case.ire.pairs {
            p.voltage_v = v;
        }
        if v > case.ire.voltage_cap_v {
            warnings.push(format!(
                "--voltage-v {v} V is above the case's voltage cap {} V (the generator's maximum is {} V)",
                case.ire.voltage_cap_v,
                crate::plan::ire::VOLTAGE_CAP_V
            ));
        }
    }
    Ok(())
}

/// A case error found only after the overrides were applied, blamed on the flag that set the
/// field when there is one.
fn blame_override(e: CaseError, o: &ComputeOverrides, file: &str) -> ComputeError {
    let Some(field) = e.field().map(str::to_string) else {
        return ComputeError::Case(e);
    };
    let flag = [
        ("model.spacing_mm", o.spacing_mm.is_some(), "--spacing-mm"),
        ("model.margin_mm", o.margin_mm.is_some(), "--margin-mm"),
        (
            "model.zone",
            o.threshold_v_per_cm.is_some(),
            "--threshold-v-per-cm",
        ),
        ("ire.pairs", o.voltage_v.is_some(), "--voltage-v"),
    ]
    .into_iter()
    .find(|(prefix, given, _)| *given && field.starts_with(prefix))
    .map(|(_, _, flag)| flag);
    match flag {
        Some(flag) => ComputeError::input(file, format!("{flag} ({field})"), e.message()),
        None => ComputeError::Case(e),
    }
}

/// The three directions the zone extents are measured along: the first probe's axis, the first
/// pair's anode → cathode direction made perpendicular to it, and their cross product. When the
/// pair lies along the probe axis (no in-plane direction) any perpendicular is used, with a
/// warning.
pub fn zone_axes(probes: &[Probe], pair: &ElectrodePair) -> Option<(ZoneAxes, Option<String>)> {
    let probe_axis = probes.first()?.axis().ok()?;
    let (pa, pb) = (probes.get(pair.a)?, probes.get(pair.b)?);
    let d = pb.exposed_segment().ok()?.midpoint() - pa.exposed_segment().ok()?.midpoint();
    let in_plane = d - probe_axis * probe_axis.dot(&d);
    let (pair_axis, warning) = match in_plane.try_normalize(1e-9) {
        Some(u) => (u, None),
        None => {
            // Any direction perpendicular to the axis: the LPS axis least aligned with it.
            let helper = [Vector3::x(), Vector3::y(), Vector3::z()]
                .into_iter()
                .min_by(|a, b| probe_axis.dot(a).abs().total_cmp(&probe_axis.dot(b).abs()))
                .unwrap_or_else(Vector3::x);
            let u = (helper - probe_axis * probe_axis.dot(&helper)).normalize();
            (
                u,
                Some(format!(
                    "the first pair ({}–{}) lies along the probe axis: pair_axis is an arbitrary \
                     perpendicular",
                    pa.label, pb.label
                )),
            )
        }
    };
    let perpendicular = probe_axis.cross(&pair_axis);
    Some((
        ZoneAxes {
            probe_axis: probe_axis.into(),
            pair_axis: pair_axis.into(),
            perpendicular: perpendicular.into(),
        },
        warning,
    ))
}

/// Loads a DICOM source: the series named by `series_uid`, or the only image series.
fn load_dicom_source(
    path: &Path,
    series_uid: Option<&str>,
    file: &str,
    ctx: &JobCtx,
    warnings: &mut Vec<String>,
) -> Result<(crate::volume::Volume, SeriesIds), ComputeError> {
    ctx.progress.set_message(format!("scanning {}", path.display()));
    let scan = dicom::scan(&[path.to_path_buf()], ctx)
        .map_err(|e| ComputeError::input(file, "source.path", e.to_string()))?;
    let entry = match series_uid {
        Some(uid) => scan
            .series
            .iter()
            .find(|s| s.series_instance_uid == uid)
            .ok_or_else(|| {
                ComputeError::input(
                    file,
                    "source.series_uid",
                    format!(
                        "no series {uid} in {} — found: {}",
                        path.display(),
                        series_list(&scan.series)
                    ),
                )
            })?,
        None => match scan.series.as_slice() {
            [one] => one,
            [] => {
                return Err(ComputeError::input(
                    file,
                    "source.path",
                    format!("no image series in {}", path.display()),
                ));
            }
            several => {
                return Err(ComputeError::input(
                    file,
                    "source.series_uid",
                    format!(
                        "{} holds {} series — set source.series_uid to one of: {}",
                        path.display(),
                        several.len(),
                        series_list(several)
                    ),
                ));
            }
        },
    };
    ctx.progress.set_message("loading the series");
    let loaded = dicom::load_series(entry, ctx)
        .map_err(|e| ComputeError::input(file, "source.path", e.to_string()))?;
    let ids = SeriesIds::from_loaded(&loaded);
    warnings.extend(loaded.report.warnings);
    Ok((loaded.volume, ids))
}

fn series_list(series: &[dicom::SeriesEntry]) -> String {
    series
        .iter()
        .map(|s| {
            format!(
                "{} ({} \"{}\")",
                s.series_instance_uid, s.modality, s.series_description
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses probes whose exposed part leaves the CT volume.
fn check_probes_in_volume(
    probes: &[Probe],
    volume: &crate::volume::Volume,
    file: &str,
) -> Result<(), ComputeError> {
    let g = &volume.geometry;
    for (i, p) in probes.iter().enumerate() {
        let seg = p
            .exposed_segment()
            .map_err(|e| ComputeError::input(file, format!("probes[{i}]"), e.to_string()))?;
        for point in [seg.start, seg.end] {
            let v = g.to_voxel(&point);
            let inside = (0..3).all(|ax| v[ax] >= -0.5 && v[ax] <= g.dims[ax] as f64 - 0.5);
            if !inside {
                return Err(ComputeError::input(
                    file,
                    format!("probes[{i}]"),
                    format!(
                        "probe \"{}\": ({:.1}, {:.1}, {:.1}) mm LPS of the exposed part lies outside the CT volume",
                        p.label, point.x, point.y, point.z
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn source_line(case: &CaseFile) -> (String, String) {
    match &case.source {
        CaseSource::Phantom {
            tissue,
            size_mm,
            centre_lps,
        } => (
            "phantom".into(),
            format!(
                "phantom: {tissue}, {} × {} × {} mm centred on LPS ({}, {}, {}) mm",
                size_mm[0], size_mm[1], size_mm[2], centre_lps[0], centre_lps[1], centre_lps[2]
            ),
        ),
        CaseSource::Dicom { path, series_uid } => (
            "dicom".into(),
            format!(
                "DICOM {}{}",
                path.display(),
                series_uid
                    .as_deref()
                    .map(|u| format!(", series {u}"))
                    .unwrap_or_default()
            ),
        ),
    }
}

/// Loads a case file, applies the overrides and runs the IRE model (polls `ctx.cancel`, reports
/// `ctx.progress`).
pub fn compute_case(
    path: &Path,
    overrides: &ComputeOverrides,
    ctx: &JobCtx,
) -> Result<ComputeReport, ComputeError> {
    compute_case_png(path, overrides, None, ctx)
}

/// [`compute_case`]; with `png`, also writes the tumour-board slide of the result there
/// ([`write_board_png`]).
pub fn compute_case_png(
    path: &Path,
    overrides: &ComputeOverrides,
    png: Option<&Path>,
    ctx: &JobCtx,
) -> Result<ComputeReport, ComputeError> {
    let started = std::time::Instant::now();
    let file = path.display().to_string();
    let tissues = crate::plan::tissue_params::builtin_tissue_params().map_err(CaseError::from)?;
    let catalog = crate::plan::catalog::builtin_catalog().map_err(CaseError::from)?;
    ctx.progress.set_message("reading the case");
    let mut case = case::load_case_with(path, &tissues, &catalog)?;
    let mut warnings = Vec::new();
    apply_overrides(&mut case, overrides, &file, &mut warnings)?;
    case.validate(&file, &tissues, &catalog)
        .map_err(|e| blame_override(e, overrides, &file))?;
    let settings: IreSettings = case.effective_ire();
    let first_pair = settings
        .pairs
        .first()
        .ok_or_else(|| ComputeError::input(&file, "ire.pairs", "no pair to pulse"))?;
    let (axes, axes_warning) = zone_axes(&case.probes, first_pair)
        .ok_or_else(|| ComputeError::input(&file, "probes", "the first pair's probes are not valid"))?;
    warnings.extend(axes_warning);

    // The CT of a DICOM case, kept for the board slide (`--png`).
    let volume: Option<crate::volume::Volume>;
    let structures: Vec<Structure>;
    let structure_geometry;
    let case_dir = path.parent().unwrap_or_else(|| Path::new(""));
    let tissue = match &case.source {
        CaseSource::Phantom {
            tissue,
            size_mm,
            centre_lps,
        } => {
            // The phantom has no CT: its structures go on a grid of the block at the model's
            // spacing (the IRE model has no structure overrides for a phantom).
            structure_geometry =
                crate::safety::shapes::phantom_geometry(*centre_lps, *size_mm, case.model.spacing_mm);
            structures = case_structures(&case, case_dir, &structure_geometry, None, &file, &mut warnings)?;
            volume = None;
            TissueSource::Phantom {
                class_id: tissue,
                centre_lps: PatientPos::from(*centre_lps),
                size_mm: *size_mm,
            }
        }
        CaseSource::Dicom {
            path: dicom_path,
            series_uid,
        } => {
            let resolved = case::resolve_source_path(path, dicom_path);
            let (ct, ids) = load_dicom_source(&resolved, series_uid.as_deref(), &file, ctx, &mut warnings)?;
            check_probes_in_volume(&case.probes, &ct, &file)?;
            structure_geometry = ct.geometry.clone();
            structures = case_structures(
                &case,
                case_dir,
                &structure_geometry,
                Some(&ids),
                &file,
                &mut warnings,
            )?;
            volume = Some(ct);
            let Some(ct) = volume.as_ref() else {
                return Err(ComputeError::input(&file, "source", "the CT series was not kept"));
            };
            // Structure kinds override the HU tissue classes (Vessel → blood, …).
            TissueSource::Ct {
                volume: ct,
                structures: &structures,
            }
        }
    };
    ctx.progress.set_message("running the IRE model");
    let result =
        compute_ire(&case.probes, &settings, tissue, &tissues, &case.model, ctx).map_err(|source| {
            ComputeError::Model {
                file: file.clone(),
                source,
            }
        })?;
    ctx.progress.set_message("safety analysis");
    let (rules, rules_origin) = case_rules(&case)?;
    let safety = safety_pass(&case.probes, &result, &structures, &structure_geometry, &rules);
    let safety_info = safety_summary(&safety, rules_origin, &structures, &structure_geometry);
    let mut report = build_report(
        path,
        &case,
        overrides,
        &result,
        axes,
        warnings,
        started.elapsed().as_secs_f64(),
    );
    report.margins = compute_margins(&safety);
    report.findings = safety.findings;
    report.safety = safety_info;
    report.solver.total_s = started.elapsed().as_secs_f64();
    if let Some(png) = png {
        ctx.progress.set_message("rendering the board slide");
        let shown = BoardSource {
            case: &case,
            settings: &settings,
            tissues: &tissues,
            result: &result,
            volume: volume.as_ref(),
            structures: &structures,
            structure_geometry: &structure_geometry,
        };
        write_board_png(png, &shown, &report, &file)?;
    }
    Ok(report)
}

/// What the board slide of a computed case is drawn from.
pub struct BoardSource<'a> {
    pub case: &'a CaseFile,
    pub settings: &'a IreSettings,
    pub tissues: &'a crate::plan::tissue_params::TissueParams,
    pub result: &'a IreResult,
    /// The CT (`None` for a phantom: a display volume of the block is made).
    pub volume: Option<&'a crate::volume::Volume>,
    pub structures: &'a [Structure],
    pub structure_geometry: &'a crate::geometry::VolumeGeometry,
}

/// Largest structure grid of a phantom reused as its display volume (voxels, 64 MB of HU);
/// beyond it the display volume covers the compute grid only and structures are not drawn.
const PHANTOM_DISPLAY_MAX_VOXELS: usize = 32 << 20;

/// Renders the tumour-board slide of a computed IRE case (anonymised; findings, margins and
/// the closest points of red / amber findings from the report) and writes it as PNG.
pub fn write_board_png(
    png: &Path,
    src: &BoardSource<'_>,
    report: &ComputeReport,
    file: &str,
) -> Result<(), ComputeError> {
    use crate::export::{IreBoard, board};
    let export_err = |source| ComputeError::Export {
        file: file.to_string(),
        source,
    };
    let (volume, structures) = slide_display(
        src.case,
        src.volume,
        src.structures,
        src.structure_geometry,
        &src.result.grid,
    )
    .map_err(export_err)?;
    let shown = SlideSafety::of(&report.findings, &report.margins);
    let mut provenance = board::ire_provenance(
        src.result,
        &src.case.model,
        src.settings,
        src.tissues,
        &src.case.probes,
    );
    note_case_file(&mut provenance, file);
    let (c, w) = volume.meta.default_window.unwrap_or((40.0, 400.0));
    let slide = crate::export::ire_board_slide(&IreBoard {
        title: src.case.name.clone(),
        volume: &volume,
        probes: &src.case.probes,
        result: src.result,
        isolines_v_per_cm: &src.case.model.isolines_v_per_cm,
        structures,
        calipers: shown.calipers,
        findings: Some(shown.findings),
        margin: shown.margin,
        margin_ok: shown.margin_ok,
        provenance,
        window: crate::render::WindowLevel::new(c, w),
        anonymise: true,
    })
    .map_err(export_err)?;
    slide.save_png(png).map_err(export_err)
}

/// What a case's slide shows: its CT and structures, or for a phantom a display volume of the
/// block (see [`phantom_display`]) with the structures when they fit on it.
fn slide_display<'s>(
    case: &CaseFile,
    volume: Option<&'s crate::volume::Volume>,
    structures: &'s [Structure],
    structure_geometry: &crate::geometry::VolumeGeometry,
    model_grid: &crate::physics::grid::ComputeGrid,
) -> Result<(std::borrow::Cow<'s, crate::volume::Volume>, &'s [Structure]), crate::export::ExportError> {
    use std::borrow::Cow;
    match volume {
        Some(v) => Ok((Cow::Borrowed(v), structures)),
        None => {
            let (display, drawn) = phantom_display(&case.source, structures, structure_geometry, || {
                crate::export::board::phantom_display_geometry(model_grid)
            })?;
            Ok((Cow::Owned(display), if drawn { structures } else { &[][..] }))
        }
    }
}

/// Names the case file (not its folder: the path may name the patient) in the slide's provenance.
fn note_case_file(provenance: &mut crate::export::slide::Provenance, file: &str) {
    if let Some(name) = Path::new(file).file_name() {
        provenance
            .notes
            .push(format!("Case file: {}", name.to_string_lossy()));
    }
}

/// The display volume of a phantom case (it has no CT): the block on the structure grid when
/// there are structures and that grid is not too large (the structures are then drawn: `true`),
/// else on `fallback` (the model grid plus a border; structures not drawn).
fn phantom_display(
    source: &CaseSource,
    structures: &[Structure],
    structure_geometry: &crate::geometry::VolumeGeometry,
    fallback: impl FnOnce() -> Result<crate::geometry::VolumeGeometry, crate::export::ExportError>,
) -> Result<(crate::volume::Volume, bool), crate::export::ExportError> {
    let CaseSource::Phantom {
        tissue,
        size_mm,
        centre_lps,
    } = source
    else {
        return Err(crate::export::ExportError::BadView(
            "the CT series was not kept".into(),
        ));
    };
    let on_structure_grid =
        !structures.is_empty() && structure_geometry.voxel_count() <= PHANTOM_DISPLAY_MAX_VOXELS;
    let g = if on_structure_grid {
        structure_geometry.clone()
    } else {
        fallback()?
    };
    let v =
        crate::export::board::phantom_display_volume(&g, PatientPos::from(*centre_lps), *size_mm, tissue)?;
    Ok((v, on_structure_grid))
}

/// The safety part of a board slide from a compute report: findings as (slide severity, text),
/// the closest points of the worst few red / amber findings as calipers (as on screen), the
/// margin lines and whether every margin meets the technical-success goal.
struct SlideSafety {
    findings: Vec<(crate::export::Severity, String)>,
    calipers: Vec<crate::export::CaliperOverlay>,
    margin: Vec<String>,
    margin_ok: Option<bool>,
}

impl SlideSafety {
    fn of(findings: &[Finding], margins: &[ComputeMargin]) -> SlideSafety {
        use crate::export::{CaliperOverlay, Severity};
        let light = |l: Light| match l {
            Light::Red => Severity::HighRisk,
            Light::Amber => Severity::Caution,
            Light::Green => Severity::Info,
        };
        let calipers = findings
            .iter()
            .filter(|f| f.light != Light::Green)
            .filter_map(|f| f.caliper_lps)
            .take(3)
            .map(|[a, b]| CaliperOverlay {
                a_lps: a,
                b_lps: b,
                label: None,
            })
            .collect();
        let margin = margins
            .iter()
            .map(|m| match m.min_margin_mm {
                Some(mm) => format!(
                    "{} in {}: minimal margin {mm:.1} mm (lower bound {:.1} mm), coverage {:.0} %",
                    m.target,
                    m.zone,
                    m.min_margin_lower_mm.unwrap_or(mm),
                    100.0 * m.coverage
                ),
                None => format!("{} in {}: no zone", m.target, m.zone),
            })
            .collect();
        let margin_ok = (!margins.is_empty()).then(|| {
            margins.iter().all(|m| {
                m.min_margin_mm
                    .is_some_and(|mm| mm > crate::review::TECHNICAL_SUCCESS_MARGIN_MM)
            })
        });
        SlideSafety {
            findings: findings
                .iter()
                .map(|f| (light(f.light), format!("{}: {}", f.severity.label(), f.message)))
                .collect(),
            calipers,
            margin,
            margin_ok,
        }
    }
}

/// The case's own rules, or the built-in ones; with "case" / "built-in".
fn case_rules(case: &CaseFile) -> Result<(RuleSet, &'static str), ComputeError> {
    Ok(match &case.rules {
        Some(r) => (r.clone(), "case"),
        None => (
            crate::safety::builtin_rules().map_err(CaseError::from)?,
            "built-in",
        ),
    })
}

/// The `safety` block of a compute report.
fn safety_summary(
    safety: &SafetyReport,
    rules_origin: &str,
    structures: &[Structure],
    geometry: &crate::geometry::VolumeGeometry,
) -> ComputeSafety {
    ComputeSafety {
        status: safety.status,
        rules: rules_origin.to_string(),
        structures: structures
            .iter()
            .map(|s| ComputeStructure {
                name: s.name.clone(),
                kind: s.kind,
                volume_ml: s.volume_ml(geometry.spacing_mm),
            })
            .collect(),
        beyond_mm: safety.beyond_mm,
    }
}

/// Coverage and margin of every target, as reported.
fn compute_margins(safety: &SafetyReport) -> Vec<ComputeMargin> {
    safety
        .margins
        .iter()
        .map(|m| ComputeMargin {
            zone: m.zone.clone(),
            target: m.target.clone(),
            coverage: m.coverage,
            min_margin_mm: m.min_margin_mm,
            min_margin_lower_mm: m.min_margin_lower_mm,
            error_bound_mm: m.error_bound_mm,
            surface_below_5mm: m.surface_fraction_below(5.0),
            surface_voxels: m.surface.len(),
        })
        .collect()
}

/// The case's structures on `geometry` (shapes rasterised, files imported).
fn case_structures(
    case: &CaseFile,
    case_dir: &Path,
    geometry: &crate::geometry::VolumeGeometry,
    ids: Option<&SeriesIds>,
    file: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<Structure>, ComputeError> {
    if case.structures.is_empty() {
        return Ok(Vec::new());
    }
    let (structures, w) =
        crate::safety::shapes::build_case_structures(&case.structures, case_dir, geometry, ids)
            .map_err(|(field, message)| ComputeError::input(file, field, message))?;
    warnings.extend(w);
    Ok(structures)
}

/// The safety pass of an IRE result (modality-agnostic below: cryo zones enter the same way as
/// more [`Zone`]s).
pub fn safety_pass(
    probes: &[Probe],
    result: &IreResult,
    structures: &[Structure],
    geometry: &crate::geometry::VolumeGeometry,
    rules: &RuleSet,
) -> SafetyReport {
    let zones = [Zone::from_ire(result, "IRE zone")];
    let currents = PairCurrent::from_ire(result, probes);
    let input = SafetyInput {
        geometry,
        structures,
        zones: &zones,
        probes,
        currents: &currents,
        rules,
    };
    run_safety(&input, &mut SafetyCache::default())
}

fn build_report(
    path: &Path,
    case: &CaseFile,
    overrides: &ComputeOverrides,
    r: &IreResult,
    axes: ZoneAxes,
    mut warnings: Vec<String>,
    total_s: f64,
) -> ComputeReport {
    let [e0, e1, e2] = r.zone_extents_mm([
        Vector3::from(axes.probe_axis),
        Vector3::from(axes.pair_axis),
        Vector3::from(axes.perpendicular),
    ]);
    let label = |i: usize| case.probes.get(i).map(|p| p.label.clone()).unwrap_or_default();
    let midpoint = |a: usize, b: usize| -> Option<PatientPos> {
        let sa = case.probes.get(a)?.exposed_segment().ok()?.midpoint();
        let sb = case.probes.get(b)?.exposed_segment().ok()?.midpoint();
        Some(nalgebra::center(&sa, &sb))
    };
    let pairs: Vec<ComputePair> = r
        .pairs
        .iter()
        .map(|p| ComputePair {
            a: p.a,
            b: p.b,
            a_label: label(p.a),
            b_label: label(p.b),
            voltage_v: p.voltage_v,
            spacing_mm: p.spacing_mm,
            current_a: p.current_a,
            over_limit: p.over_limit,
            current_limit_a: CURRENT_LIMIT_A,
            midpoint_max_e_v_per_cm: midpoint(p.a, p.b).and_then(|m| r.max_e_at(&m)).map(f64::from),
            linear_iterations: p.linear_iterations,
            nonlinear_iterations: p.nonlinear_iterations,
            converged: p.converged,
        })
        .collect();
    for p in pairs.iter().filter(|p| p.over_limit) {
        warnings.push(format!(
            "pair {}–{}: predicted {:.1} A is above the {CURRENT_LIMIT_A} A limit — reduce the voltage, \
             reduce the exposure or widen the spacing",
            p.a_label, p.b_label, p.current_a
        ));
    }
    for p in pairs.iter().filter(|p| !p.converged) {
        warnings.push(format!(
            "pair {}–{}: the solver did not converge",
            p.a_label, p.b_label
        ));
    }
    let (source_kind, source) = source_line(case);
    let g = &r.grid;
    ComputeReport {
        schema_version: COMPUTE_SCHEMA_VERSION,
        case: ComputeCaseInfo {
            path: path.to_path_buf(),
            name: case.name.clone(),
            description: case.description.clone(),
            schema_version: case.schema_version,
            source_kind,
            source,
        },
        overrides: overrides.clone(),
        model: ComputeModelInfo {
            description: r.description.clone(),
            nonlinear: case.model.nonlinear,
            zone_criterion: case.model.zone.clone(),
            preview: r.preview,
            grid: ComputeGridInfo {
                dims: g.dims,
                spacing_mm: g.spacing_mm,
                origin_lps: [g.origin_lps.x, g.origin_lps.y, g.origin_lps.z],
                nodes: g.len(),
            },
        },
        zone: ComputeZone {
            volume_ml: r.zone_volume_ml,
            extents_mm: ZoneExtents {
                probe_axis: e0,
                pair_axis: e1,
                perpendicular: e2,
            },
            axes_lps: axes,
        },
        solver: ComputeSolver {
            linear_iterations: r.linear_iterations,
            nonlinear_iterations: pairs.iter().map(|p| p.nonlinear_iterations).sum(),
            converged: pairs.iter().all(|p| p.converged),
            elapsed_s: r.elapsed_s,
            total_s,
        },
        pairs,
        findings: Vec::new(),
        margins: Vec::new(),
        safety: ComputeSafety {
            status: Light::Green,
            rules: String::new(),
            structures: Vec::new(),
            beyond_mm: 0.0,
        },
        warnings,
    }
}

/// Human-readable form of a compute report.
pub fn format_compute(r: &ComputeReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", r.case.name, r.case.path.display());
    let _ = writeln!(out, "  {}", r.case.source);
    let _ = writeln!(out, "Model: {}", r.model.description);
    let g = &r.model.grid;
    let _ = writeln!(
        out,
        "  grid {} × {} × {} nodes at {} mm, origin LPS ({:.1}, {:.1}, {:.1}) mm",
        g.dims[0], g.dims[1], g.dims[2], g.spacing_mm, g.origin_lps[0], g.origin_lps[1], g.origin_lps[2]
    );
    let _ = writeln!(out, "Zone: {:.2} mL", r.zone.volume_ml);
    let e = &r.zone.extents_mm;
    let _ = writeln!(
        out,
        "  extents: {:.1} mm along the probe axis, {:.1} mm along the pair axis, {:.1} mm perpendicular",
        e.probe_axis, e.pair_axis, e.perpendicular
    );
    let _ = writeln!(out, "Pairs (current limit {CURRENT_LIMIT_A} A):");
    for p in &r.pairs {
        let e_mid = p
            .midpoint_max_e_v_per_cm
            .map(|e| format!(", |E| at the midpoint {e:.0} V/cm"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}–{}: {:.0} V, {:.1} mm, {:.1} A {}{e_mid}; {} linear / {} nonlinear iterations{}",
            p.a_label,
            p.b_label,
            p.voltage_v,
            p.spacing_mm,
            p.current_a,
            if p.over_limit { "OVER THE LIMIT" } else { "ok" },
            p.linear_iterations,
            p.nonlinear_iterations,
            if p.converged { "" } else { ", NOT CONVERGED" }
        );
    }
    let s = &r.solver;
    let _ = writeln!(
        out,
        "Solver: {} linear iterations, {} nonlinear iterations, {:.2} s (total {:.2} s)",
        s.linear_iterations, s.nonlinear_iterations, s.elapsed_s, s.total_s
    );
    format_safety(&mut out, &r.margins, &r.findings, &r.safety);
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

/// The margins, the safety status and the findings, one line each (both modalities).
fn format_safety(out: &mut String, margins: &[ComputeMargin], findings: &[Finding], safety: &ComputeSafety) {
    use std::fmt::Write;
    for m in margins {
        let margin = m.min_margin_mm.map_or_else(
            || "none (empty zone)".to_string(),
            |v| format!("{v:.1} mm (± {:.1})", m.error_bound_mm),
        );
        let _ = writeln!(
            out,
            "Margin of {} in the {}: {:.0} % covered, minimal margin {margin}, {:.0} % of the surface below 5 mm",
            m.target,
            m.zone,
            100.0 * m.coverage,
            100.0 * m.surface_below_5mm
        );
    }
    if !safety.structures.is_empty() || !findings.is_empty() {
        let _ = writeln!(
            out,
            "Safety ({} rules, {} structures): {:?}, {} finding(s)",
            safety.rules,
            safety.structures.len(),
            safety.status,
            findings.len()
        );
    }
    for f in findings {
        let _ = writeln!(out, "  [{}] {} ({})", f.severity.label(), f.message, f.rule);
    }
}

// ---------------------------------------------------------------------------------------------
// compute on a cryo case (issue 5)
// ---------------------------------------------------------------------------------------------

/// Version of the cryo `compute --json` report (keys documented in the README).
pub const CRYO_COMPUTE_SCHEMA_VERSION: u32 = 1;

/// The `compute` report of a cryo case.
#[derive(Debug, Serialize)]
pub struct CryoComputeReport {
    pub schema_version: u32,
    /// Always "cryo" (IRE reports have no `modality` key).
    pub modality: String,
    pub case: ComputeCaseInfo,
    pub overrides: ComputeOverrides,
    pub model: CryoComputeModel,
    /// The directions extents are measured along: the first probe's axis, the axis between the
    /// first two probes' active midpoints (made perpendicular; any perpendicular with one probe),
    /// and their cross product.
    pub axes_lps: ZoneAxes,
    /// When the isotherms are reported: the end of the last freeze (s).
    pub reported_at_s: f64,
    /// 0, −20, −40 °C, the lethal isotherm and the user's, at `reported_at_s`.
    pub isotherms: Vec<CryoComputeIsotherm>,
    /// Tissue whose lowest temperature over the whole protocol reached the lethal isotherm.
    pub lethal_zone: CryoComputeIsotherm,
    /// `zone.band`: the uncertainty band of the lethal zone and the 0 °C iceball
    /// (`physics::cryo::band::CryoBandSummary`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<crate::physics::cryo::band::CryoZoneSummary>,
    pub probes: Vec<CryoComputeProbe>,
    pub energy: CryoComputeEnergy,
    pub solver: CryoComputeSolver,
    /// Safety findings of the 0 °C iceball, the −20 °C and the lethal isotherm at their largest
    /// extent over the protocol, worst first (same keys as the IRE report's `findings`).
    pub findings: Vec<Finding>,
    /// Coverage and signed minimal ablative margin of every Target by the lethal zone.
    pub margins: Vec<ComputeMargin>,
    pub safety: ComputeSafety,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CryoComputeModel {
    pub description: String,
    pub protocol: String,
    pub protocol_total_s: f64,
    pub lethal_isotherm_c: f64,
    /// Initial temperature of a phantom (°C; a CT starts at the arterial temperature).
    pub initial_temperature_c: f64,
    pub grid: ComputeGridInfo,
}

#[derive(Debug, Serialize)]
pub struct CryoComputeIsotherm {
    pub temperature_c: f64,
    pub volume_ml: f64,
    pub extents_mm: ZoneExtents,
}

#[derive(Debug, Serialize)]
pub struct CryoComputeProbe {
    pub label: String,
    pub model_id: String,
    pub active_length_mm: f64,
    pub freeze_surface_temperature_c: f64,
    pub active_thaw_temperature_c: f64,
    /// The freeze temperature was fitted to the catalog's isotherms (else the default).
    pub calibrated: bool,
    /// Heat the probe removed from the tissue over the protocol (J).
    pub heat_extracted_j: f64,
    /// Its wall (mean over the active length, °C) and cooling power (W) at `reported_at_s`.
    pub wall_c: Option<f64>,
    pub cooling_power_w: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct CryoComputeEnergy {
    /// Σ over probes (J).
    pub heat_extracted_j: f64,
    /// Change of the tissue's enthalpy (J); equals −heat_extracted_j in a closed block without
    /// perfusion.
    pub enthalpy_change_j: f64,
}

#[derive(Debug, Serialize)]
pub struct CryoComputeSolver {
    /// Flux evaluations (RKL2 stages or Euler steps).
    pub stages: usize,
    pub dt_euler_s: f64,
    pub snapshots: usize,
    /// The model's own time (s).
    pub elapsed_s: f64,
    /// Loading the case plus the model (s).
    pub total_s: f64,
}

/// Whether `path` is a case the cryo model runs (a readable case whose modality is cryo); any
/// other file goes to the IRE path, which reports its errors.
pub fn is_cryo_case(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    CaseFile::from_json(&text, &path.display().to_string())
        .is_ok_and(|c| c.modality() == crate::plan::catalog::Modality::Cryo)
}

/// Loads a cryo case, applies the overrides (`--spacing-mm`, `--margin-mm`; the IRE ones are
/// ignored with a warning), runs the cryo model and the safety pass (polls `ctx.cancel`, reports
/// `ctx.progress`).
pub fn compute_cryo_case(
    path: &Path,
    overrides: &ComputeOverrides,
    ctx: &JobCtx,
) -> Result<CryoComputeReport, ComputeError> {
    compute_cryo_case_png(path, overrides, None, ctx)
}

/// [`compute_cryo_case`]; with `png`, also writes the cryo tumour-board slide there
/// ([`write_cryo_board_png`]).
pub fn compute_cryo_case_png(
    path: &Path,
    overrides: &ComputeOverrides,
    png: Option<&Path>,
    ctx: &JobCtx,
) -> Result<CryoComputeReport, ComputeError> {
    use crate::physics::cryo::model::{CryoAssets, compute_cryo, iceball_axes};
    use crate::physics::cryo::tissue::CryoTissueSource;
    let started = std::time::Instant::now();
    let file = path.display().to_string();
    let assets = CryoAssets::builtin().map_err(|e| ComputeError::input(&file, "(assets)", e.to_string()))?;
    ctx.progress.set_message("reading the case");
    let mut case = case::load_case_with(path, &assets.ire_params, &assets.catalog)?;
    if case.modality_with(&assets.catalog) != crate::plan::catalog::Modality::Cryo {
        return Err(ComputeError::input(
            &file,
            "modality",
            "not a cryo case — run it with `ablaplan compute` (IRE)",
        ));
    }
    let mut warnings = Vec::new();
    let mut cryo = case.cryo_settings();
    if let Some(s) = overrides.spacing_mm {
        cryo.model.spacing_mm = s;
    }
    if let Some(m) = overrides.margin_mm {
        cryo.model.margin_mm = m;
    }
    if overrides.linear || overrides.voltage_v.is_some() || overrides.threshold_v_per_cm.is_some() {
        warnings.push(
            "--linear, --voltage-v and --threshold-v-per-cm are IRE options: ignored for a cryo case".into(),
        );
    }
    case.cryo = Some(cryo.clone());
    case.validate(&file, &assets.ire_params, &assets.catalog)
        .map_err(|e| match e.field().map(str::to_string) {
            Some(f) if f == "cryo.model.spacing_mm" && overrides.spacing_mm.is_some() => {
                ComputeError::input(&file, format!("--spacing-mm ({f})"), e.message())
            }
            Some(f) if f == "cryo.model.margin_mm" && overrides.margin_mm.is_some() => {
                ComputeError::input(&file, format!("--margin-mm ({f})"), e.message())
            }
            _ => ComputeError::Case(e),
        })?;
    let axes = iceball_axes(&case.probes)
        .ok_or_else(|| ComputeError::input(&file, "probes", "the first probe is not valid"))?;
    // The CT of a DICOM case, kept for the safety pass and the board slide.
    let volume: Option<crate::volume::Volume>;
    let structures: Vec<Structure>;
    let structure_geometry;
    let case_dir = path.parent().unwrap_or_else(|| Path::new(""));
    let t_a = assets.tissues.blood.arterial_temperature_c.value;
    let (tissue, initial_c) = match &case.source {
        CaseSource::Phantom {
            tissue,
            size_mm,
            centre_lps,
            ..
        } => {
            // As for IRE: the phantom's structures go on a grid of the block at the model's
            // spacing; they do not change the phantom's tissue.
            structure_geometry =
                crate::safety::shapes::phantom_geometry(*centre_lps, *size_mm, cryo.model.spacing_mm);
            structures = case_structures(&case, case_dir, &structure_geometry, None, &file, &mut warnings)?;
            volume = None;
            (
                CryoTissueSource::Phantom {
                    class_id: tissue,
                    centre_lps: PatientPos::from(*centre_lps),
                    size_mm: *size_mm,
                    temperature_c: cryo.phantom_temperature_c,
                },
                cryo.phantom_temperature_c,
            )
        }
        CaseSource::Dicom {
            path: dicom_path,
            series_uid,
        } => {
            let resolved = case::resolve_source_path(path, dicom_path);
            let (ct, ids) = load_dicom_source(&resolved, series_uid.as_deref(), &file, ctx, &mut warnings)?;
            check_probes_in_volume(&case.probes, &ct, &file)?;
            structure_geometry = ct.geometry.clone();
            structures = case_structures(
                &case,
                case_dir,
                &structure_geometry,
                Some(&ids),
                &file,
                &mut warnings,
            )?;
            volume = Some(ct);
            let Some(ct) = volume.as_ref() else {
                return Err(ComputeError::input(&file, "source", "the CT series was not kept"));
            };
            // Structure kinds override the HU classes (Vessel → blood held at 37 °C), as for IRE.
            (
                CryoTissueSource::Ct {
                    volume: ct,
                    structures: &structures,
                },
                t_a,
            )
        }
    };
    ctx.progress.set_message("running the cryo model");
    let r = compute_cryo(&case.probes, &cryo.settings(), tissue, &assets, ctx).map_err(|source| {
        ComputeError::CryoModel {
            file: file.clone(),
            source,
        }
    })?;
    warnings.extend(r.warnings.iter().cloned());
    ctx.progress.set_message("safety analysis");
    let (rules, rules_origin) = case_rules(&case)?;
    let safety = cryo_safety_pass(
        &case.probes,
        &r,
        cryo.lethal_isotherm_c,
        &structures,
        &structure_geometry,
        &rules,
    );
    let safety_info = safety_summary(&safety, rules_origin, &structures, &structure_geometry);
    let s = r.end_of_last_freeze_snapshot();
    let extents = |e: [f64; 3]| ZoneExtents {
        probe_axis: e[0],
        pair_axis: e[1],
        perpendicular: e[2],
    };
    let isotherms = cryo
        .settings()
        .reported_isotherms_c()
        .into_iter()
        .map(|t| {
            let z = r.isotherm_size(s, t, axes);
            CryoComputeIsotherm {
                temperature_c: t,
                volume_ml: z.volume_ml,
                extents_mm: extents(z.extents_mm),
            }
        })
        .collect();
    let lethal = r.lethal_mask(r.last_snapshot());
    let lethal_zone = CryoComputeIsotherm {
        temperature_c: r.lethal_isotherm_c,
        volume_ml: r.volume_ml(&lethal),
        extents_mm: extents(r.extents_mm(&lethal, axes)),
    };
    let reported_s = r.snapshot_times_s.get(s).copied().unwrap_or(0.0);
    let probes = case
        .probes
        .iter()
        .zip(&r.probes)
        .zip(&r.probe_heat_j)
        .enumerate()
        .map(|(i, ((p, t), q))| CryoComputeProbe {
            wall_c: r.wall_at(i, reported_s).map(|w| w.wall_c),
            cooling_power_w: r.wall_at(i, reported_s).map(|w| w.cooling_power_w),
            label: p.label.clone(),
            model_id: p.model_id.clone(),
            active_length_mm: p.exposure_mm,
            freeze_surface_temperature_c: t.freeze_surface_c,
            active_thaw_temperature_c: t.active_thaw_c,
            calibrated: t.calibrated,
            heat_extracted_j: -q,
        })
        .collect::<Vec<_>>();
    for p in probes.iter().filter(|p| !p.calibrated) {
        warnings.push(format!(
            "probe {}: {} has no calibrated boundary — the default {:.0} °C surface is unconfirmed",
            p.label, p.model_id, p.freeze_surface_temperature_c
        ));
    }
    let (source_kind, source) = source_line(&case);
    let g = &r.grid;
    let mut report = CryoComputeReport {
        schema_version: CRYO_COMPUTE_SCHEMA_VERSION,
        modality: "cryo".into(),
        case: ComputeCaseInfo {
            path: path.to_path_buf(),
            name: case.name.clone(),
            description: case.description.clone(),
            schema_version: case.schema_version,
            source_kind,
            source,
        },
        overrides: overrides.clone(),
        model: CryoComputeModel {
            description: r.description.clone(),
            protocol: r.protocol.description(),
            protocol_total_s: r.protocol.total_s(),
            lethal_isotherm_c: r.lethal_isotherm_c,
            initial_temperature_c: initial_c,
            grid: ComputeGridInfo {
                dims: g.dims,
                spacing_mm: g.spacing_mm,
                origin_lps: [g.origin_lps.x, g.origin_lps.y, g.origin_lps.z],
                nodes: g.len(),
            },
        },
        axes_lps: ZoneAxes {
            probe_axis: axes[0].into(),
            pair_axis: axes[1].into(),
            perpendicular: axes[2].into(),
        },
        reported_at_s: r.snapshot_times_s.get(s).copied().unwrap_or(0.0),
        isotherms,
        lethal_zone,
        zone: r
            .band
            .as_ref()
            .map(|b| crate::physics::cryo::band::CryoZoneSummary {
                band: b.summary(axes),
            }),
        probes,
        energy: CryoComputeEnergy {
            heat_extracted_j: r.heat_extracted_j(),
            enthalpy_change_j: r.final_enthalpy_j - r.initial_enthalpy_j,
        },
        solver: CryoComputeSolver {
            stages: r.stages,
            dt_euler_s: r.dt_euler_s,
            snapshots: r.snapshot_count(),
            elapsed_s: r.elapsed_s,
            total_s: started.elapsed().as_secs_f64(),
        },
        margins: compute_margins(&safety),
        findings: safety.findings,
        safety: safety_info,
        warnings,
    };
    if let Some(png) = png {
        ctx.progress.set_message("rendering the board slide");
        let shown = CryoBoardSource {
            case: &case,
            settings: &cryo.settings(),
            tissues: &assets.tissues,
            result: &r,
            volume: volume.as_ref(),
            structures: &structures,
            structure_geometry: &structure_geometry,
        };
        write_cryo_board_png(png, &shown, &report, &file)?;
    }
    report.solver.total_s = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The safety pass of a cryo result: the 0 °C iceball, the −20 °C and the lethal isotherm at
/// their largest extent over the protocol ([`Zone::cryo_zones`], as in the GUI).
pub fn cryo_safety_pass(
    probes: &[Probe],
    result: &crate::physics::cryo::model::CryoResult,
    lethal_c: f64,
    structures: &[Structure],
    geometry: &crate::geometry::VolumeGeometry,
    rules: &RuleSet,
) -> SafetyReport {
    let zones = Zone::cryo_zones(result, lethal_c);
    let input = SafetyInput {
        geometry,
        structures,
        zones: &zones,
        probes,
        currents: &[],
        rules,
    };
    run_safety(&input, &mut SafetyCache::default())
}

/// What the cryo board slide of a computed case is drawn from.
pub struct CryoBoardSource<'a> {
    pub case: &'a CaseFile,
    pub settings: &'a crate::physics::cryo::model::CryoSettings,
    pub tissues: &'a crate::physics::cryo::tissue::CryoTissues,
    pub result: &'a crate::physics::cryo::model::CryoResult,
    /// The CT (`None` for a phantom: a display volume of the block is made).
    pub volume: Option<&'a crate::volume::Volume>,
    pub structures: &'a [Structure],
    pub structure_geometry: &'a crate::geometry::VolumeGeometry,
}

/// Renders the cryo tumour-board slide of a computed case (anonymised; findings, margins and
/// the closest points of red / amber findings from the report) and writes it as PNG.
pub fn write_cryo_board_png(
    png: &Path,
    src: &CryoBoardSource<'_>,
    report: &CryoComputeReport,
    file: &str,
) -> Result<(), ComputeError> {
    use crate::export::{CryoBoard, board};
    let export_err = |source| ComputeError::Export {
        file: file.to_string(),
        source,
    };
    let (volume, structures) = slide_display(
        src.case,
        src.volume,
        src.structures,
        src.structure_geometry,
        &src.result.grid,
    )
    .map_err(export_err)?;
    let shown = SlideSafety::of(&report.findings, &report.margins);
    let mut provenance = board::cryo_provenance(src.result, src.settings, src.tissues, &src.case.probes);
    note_case_file(&mut provenance, file);
    let (c, w) = volume.meta.default_window.unwrap_or((40.0, 400.0));
    let slide = crate::export::cryo_board_slide(&CryoBoard {
        title: src.case.name.clone(),
        volume: &volume,
        probes: &src.case.probes,
        result: src.result,
        lethal_c: src.settings.lethal_isotherm_c,
        structures,
        calipers: shown.calipers,
        findings: Some(shown.findings),
        margin: shown.margin,
        margin_ok: shown.margin_ok,
        provenance,
        window: crate::render::WindowLevel::new(c, w),
        anonymise: true,
    })
    .map_err(export_err)?;
    slide.save_png(png).map_err(export_err)
}

/// Human-readable form of a cryo compute report.
pub fn format_cryo_compute(r: &CryoComputeReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", r.case.name, r.case.path.display());
    let _ = writeln!(out, "  {}", r.case.source);
    let _ = writeln!(out, "Model: {}", r.model.description);
    let g = &r.model.grid;
    let _ = writeln!(
        out,
        "  grid {} × {} × {} nodes at {} mm; start {:.1} °C; lethal isotherm {:.0} °C",
        g.dims[0],
        g.dims[1],
        g.dims[2],
        g.spacing_mm,
        r.model.initial_temperature_c,
        r.model.lethal_isotherm_c
    );
    let _ = writeln!(
        out,
        "Isotherms at {:.1} min (end of the last freeze): volume, extents along the probe axis / between \
         the first two probes / perpendicular",
        r.reported_at_s / 60.0
    );
    let line = |out: &mut String, what: String, z: &CryoComputeIsotherm| {
        let e = &z.extents_mm;
        let _ = writeln!(
            out,
            "  {what}: {:.2} mL, {:.1} × {:.1} × {:.1} mm",
            z.volume_ml, e.probe_axis, e.pair_axis, e.perpendicular
        );
    };
    for z in &r.isotherms {
        line(&mut out, format!("{:>4.0} °C", z.temperature_c), z);
    }
    line(
        &mut out,
        format!(
            "lethal zone (≤ {:.0} °C at any time)",
            r.lethal_zone.temperature_c
        ),
        &r.lethal_zone,
    );
    let _ = writeln!(out, "Probes:");
    for p in &r.probes {
        let _ = writeln!(
            out,
            "  {} ({}, {:.0} mm active): freeze {:.0} °C{}, active thaw {:.0} °C, {:.0} J extracted",
            p.label,
            p.model_id,
            p.active_length_mm,
            p.freeze_surface_temperature_c,
            if p.calibrated {
                " (calibrated)"
            } else {
                " (uncalibrated)"
            },
            p.active_thaw_temperature_c,
            p.heat_extracted_j
        );
    }
    let s = &r.solver;
    let _ = writeln!(
        out,
        "Solver: {} stages (Euler step {:.3} s), {} snapshots, {:.2} s (total {:.2} s)",
        s.stages, s.dt_euler_s, s.snapshots, s.elapsed_s, s.total_s
    );
    if !r.safety.structures.is_empty() || !r.findings.is_empty() {
        let _ = writeln!(
            out,
            "Safety zones: 0 °C iceball, −20 °C and lethal {:.0} °C at their largest extent over the protocol",
            r.model.lethal_isotherm_c
        );
    }
    format_safety(&mut out, &r.margins, &r.findings, &r.safety);
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}
