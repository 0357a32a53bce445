//! Loading a case for the pipeline: an experiment case file (schema 1) or a planning document the
//! GUI saved (schema 2, any of its plans), its tissue (a phantom block, a DICOM series, or the
//! built-in demo CT regenerated), its structures on the CT grid, its rules, and the plan's model
//! settings with the command-line overrides applied — everything the model, the safety pass, the
//! report and the slide read, in one value ([`LoadedCase`]).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::anatomy::structure::Structure;
use crate::dicom::{self, SeriesIds};
use crate::geometry::{PatientPos, VolumeGeometry};
use crate::jobs::JobCtx;
use crate::physics::ire::model::{IreError, ZoneCriterion};
use crate::physics::ire::tissue::TissueRegion;
use crate::physics::model::{ModelAssets, ModelError, ModelSettings, Tissue};
use crate::plan::case::{self, CaseError, CaseFile, CaseSource};
use crate::plan::catalog::Modality;
use crate::plan::document::{CaseDocument, DocumentSource, GeometryFingerprint, load_document};
use crate::plan::probe::Probe;
use crate::safety::RuleSet;
use crate::volume::Volume;

/// Command-line overrides of a case, to vary one parameter at a time.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ComputeOverrides {
    /// Grid spacing (mm): `model.spacing_mm` (`cryo.model.spacing_mm`).
    pub spacing_mm: Option<f64>,
    /// Margin around the probes (mm): `model.margin_mm` (`cryo.model.margin_mm`).
    pub margin_mm: Option<f64>,
    /// Constant σ0 (`model.nonlinear = false`; IRE only).
    pub linear: bool,
    /// Voltage of every pulsed pair (V; IRE only).
    pub voltage_v: Option<f64>,
    /// One lethal threshold everywhere (V/cm): `model.zone = fixed` (IRE only).
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
        source: ModelError,
    },
}

impl ComputeError {
    /// 2 for bad input (the message names the file and field), 1 when the model failed.
    pub fn exit_code(&self) -> u8 {
        use crate::physics::cryo::model::CryoError;
        match self {
            ComputeError::Case(_) | ComputeError::Input { .. } => 2,
            // The models refuse input they cannot use (no pair or probe, a probe off the grid, a
            // grid too large) with these; anything else is the model failing.
            ComputeError::Model { source, .. } => match source {
                ModelError::Ire(IreError::NoPairs | IreError::Invalid(_)) => 2,
                ModelError::Cryo(CryoError::NoProbes | CryoError::Invalid(_)) => 2,
                _ => 1,
            },
            ComputeError::Export { .. } => 1,
        }
    }

    pub(crate) fn input(file: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        ComputeError::Input {
            file: file.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Where a loaded case's tissue comes from.
#[derive(Clone, Debug)]
pub enum Scene {
    /// A CT: a DICOM series, or the built-in demo CT.
    Ct(Box<Volume>),
    /// A homogeneous block (no CT; the slide draws a display volume of it).
    Phantom {
        tissue: String,
        size_mm: [f64; 3],
        centre_lps: [f64; 3],
        /// Starting temperature of a cryo phantom (°C).
        temperature_c: f64,
        /// Regions whose tissue the case's structures set (a node in fat, a vessel of blood).
        regions: Vec<TissueRegion>,
    },
}

impl Scene {
    pub fn volume(&self) -> Option<&Volume> {
        match self {
            Scene::Ct(v) => Some(v),
            Scene::Phantom { .. } => None,
        }
    }
}

/// A case ready for the model: one plan, its tissue, structures and rules.
#[derive(Clone, Debug)]
pub struct LoadedCase {
    pub path: PathBuf,
    /// `path` as shown in messages.
    pub file: String,
    /// The case's name (with the plan's name for a document).
    pub name: String,
    pub description: String,
    /// Of the file (1 = experiment case, 2 = planning document).
    pub schema_version: u32,
    /// The plan as an experiment case: probes, IRE settings and options, cryo section (the
    /// overrides applied); what the report describes.
    pub case: CaseFile,
    pub probes: Vec<Probe>,
    pub settings: ModelSettings,
    pub scene: Scene,
    /// Masks on `structure_geometry` (the CT grid, or a grid of the phantom block).
    pub structures: Vec<Structure>,
    pub structure_geometry: VolumeGeometry,
    pub rules: RuleSet,
    /// "case" or "built-in".
    pub rules_origin: &'static str,
    /// "phantom", "dicom" or "demo", and one line describing the source.
    pub source_kind: String,
    pub source_line: String,
    pub warnings: Vec<String>,
}

impl LoadedCase {
    /// The tissue the model reads.
    pub fn tissue(&self) -> Tissue<'_> {
        match &self.scene {
            Scene::Ct(volume) => Tissue::Ct {
                volume,
                structures: &self.structures,
            },
            Scene::Phantom {
                tissue,
                size_mm,
                centre_lps,
                temperature_c,
                regions,
            } => Tissue::Phantom {
                class_id: tissue,
                centre_lps: PatientPos::from(*centre_lps),
                size_mm: *size_mm,
                temperature_c: *temperature_c,
                regions,
            },
        }
    }

    pub fn modality(&self) -> Modality {
        self.settings.modality()
    }

    /// The temperature the cryo model starts from (°C): the phantom's own, or the arterial
    /// temperature of a CT.
    pub fn initial_temperature_c(&self, assets: &ModelAssets) -> f64 {
        match &self.scene {
            Scene::Phantom { temperature_c, .. } => *temperature_c,
            Scene::Ct(_) => assets.cryo.tissues.blood.arterial_temperature_c.value,
        }
    }
}

/// Reads a case file of either schema and prepares plan `plan` (by name; a document's active
/// plan when `None`) for the model, with `overrides` applied and everything validated.
pub fn load_case(
    path: &Path,
    plan: Option<&str>,
    overrides: &ComputeOverrides,
    assets: &ModelAssets,
    ctx: &JobCtx,
) -> Result<LoadedCase, ComputeError> {
    let file = path.display().to_string();
    ctx.progress.set_message("reading the case");
    let text = std::fs::read_to_string(path).map_err(|source| CaseError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let catalog = &assets.cryo.catalog;
    let tissues = &assets.ire;
    let version = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("schema_version").and_then(serde_json::Value::as_u64));
    let mut warnings = Vec::new();
    let (mut case, document, schema_version) = if version == Some(2) {
        let doc = load_document(path, tissues, catalog)?;
        let index = plan_index(&doc, plan, &file)?;
        let case = doc
            .plan_for_checks(index)
            .ok_or_else(|| ComputeError::input(&file, format!("plans[{index}]"), "no such plan"))?;
        (case, Some((doc, index)), 2)
    } else {
        if let Some(name) = plan {
            warnings.push(format!(
                "--plan {name}: an experiment case has one plan; the option is ignored"
            ));
        }
        let case = case::load_case_with(path, tissues, catalog)?;
        let v = case.schema_version;
        (case, None, v)
    };
    let modality = case.modality_with(catalog);
    apply_overrides(&mut case, modality, overrides, &file, &mut warnings)?;
    case.validate(&file, tissues, catalog)
        .map_err(|e| blame_override(e, overrides, &file))?;
    // The models refuse this too; caught here it is bad input (exit 2), not a model failure.
    let radius = |p: &crate::plan::probe::Probe| catalog.get(&p.model_id).map_or(0.0, |m| m.radius_mm());
    if let Some(o) = crate::plan::checks::first_overlap(&case.probes, radius) {
        return Err(ComputeError::input(
            &file,
            format!("probes[{}]", o.b),
            o.to_string(),
        ));
    }

    let case_dir = path.parent().unwrap_or_else(|| Path::new(""));
    let cryo = case.cryo_settings();
    let (scene, structures, structure_geometry, name, description, rules) = match &document {
        Some((doc, index)) => {
            let (scene, geometry) =
                document_scene(doc, path, &file, ctx, &mut warnings, cryo.phantom_temperature_c)?;
            if let Scene::Ct(v) = &scene {
                check_probes_in_volume(&case.probes, v, &file)?;
            }
            let name = doc
                .plans
                .get(*index)
                .map_or_else(|| doc.name.clone(), |p| format!("{} — {}", doc.name, p.name));
            (
                scene,
                doc.structures.clone(),
                geometry,
                name,
                doc.description.clone(),
                doc.rules.clone(),
            )
        }
        None => {
            let (scene, geometry, ids) = match &case.source {
                CaseSource::Phantom {
                    tissue,
                    size_mm,
                    centre_lps,
                } => {
                    // The phantom has no CT: its structures go on a grid of the block at the
                    // model's spacing; they do not change the phantom's tissue.
                    let spacing = match modality {
                        Modality::Ire => case.model.spacing_mm,
                        Modality::Cryo => cryo.model.spacing_mm,
                    };
                    let geometry = crate::safety::shapes::phantom_geometry(*centre_lps, *size_mm, spacing);
                    // Structures of a phantom set their tissue as on a CT (node → lymph node,
                    // vessel → blood; issue 13).
                    let scene = Scene::Phantom {
                        tissue: tissue.clone(),
                        size_mm: *size_mm,
                        centre_lps: *centre_lps,
                        temperature_c: cryo.phantom_temperature_c,
                        regions: crate::physics::ire::tissue::phantom_regions(&case.structures),
                    };
                    (scene, geometry, None)
                }
                CaseSource::Dicom {
                    path: dicom_path,
                    series_uid,
                } => {
                    let resolved = case::resolve_source_path(path, dicom_path);
                    let (ct, ids) =
                        load_dicom_source(&resolved, series_uid.as_deref(), &file, ctx, &mut warnings)?;
                    check_probes_in_volume(&case.probes, &ct, &file)?;
                    let geometry = ct.geometry.clone();
                    (Scene::Ct(Box::new(ct)), geometry, Some(ids))
                }
            };
            let structures = case_structures(&case, case_dir, &geometry, ids.as_ref(), &file, &mut warnings)?;
            (
                scene,
                structures,
                geometry,
                case.name.clone(),
                case.description.clone(),
                case.rules.clone(),
            )
        }
    };
    let (rules, rules_origin) = match rules {
        Some(r) => (r, "case"),
        None => (
            crate::safety::builtin_rules().map_err(CaseError::from)?,
            "built-in",
        ),
    };
    let (source_kind, source_line) = match document.as_ref().map(|(d, _)| &d.source) {
        Some(DocumentSource::Demo) => ("demo".to_string(), "the built-in synthetic demo CT".to_string()),
        _ => case_source_line(&case.source),
    };
    let settings = match modality {
        Modality::Ire => ModelSettings::Ire {
            settings: case.effective_ire(),
            model: case.model.clone(),
        },
        Modality::Cryo => ModelSettings::Cryo(cryo.settings()),
    };
    Ok(LoadedCase {
        path: path.to_path_buf(),
        file,
        name,
        description,
        schema_version,
        probes: case.probes.clone(),
        case,
        settings,
        scene,
        structures,
        structure_geometry,
        rules,
        rules_origin,
        source_kind,
        source_line,
        warnings,
    })
}

/// Largest side (voxels) of the grid a phantom case is shown and its structures drawn on.
const PHANTOM_GRID_MAX_SIDE: f64 = 256.0;

/// The grid a planning document of a phantom is shown on and its structures sit on (the GUI and
/// `compute` use the same): the block at 1 mm, coarser when a side would exceed 256 voxels.
pub fn phantom_grid(centre_lps: [f64; 3], size_mm: [f64; 3]) -> VolumeGeometry {
    let max_side = size_mm.iter().copied().fold(0.0, f64::max);
    crate::safety::shapes::phantom_geometry(centre_lps, size_mm, (max_side / PHANTOM_GRID_MAX_SIDE).max(1.0))
}

/// The plan to run: by name, or the document's active plan.
fn plan_index(doc: &CaseDocument, plan: Option<&str>, file: &str) -> Result<usize, ComputeError> {
    match plan {
        None => Ok(doc.active_plan.min(doc.plans.len().saturating_sub(1))),
        Some(name) => doc.plans.iter().position(|p| p.name == name).ok_or_else(|| {
            ComputeError::input(
                file,
                "--plan",
                format!(
                    "no plan \"{name}\" in the case — its plans: {}",
                    doc.plans
                        .iter()
                        .map(|p| format!("\"{}\"", p.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        }),
    }
}

/// The scene of a planning document and the grid its masks sit on: the demo CT regenerated, the
/// DICOM series found by UID (refused when its grid is not the one the case was planned on), or
/// the phantom block.
fn document_scene(
    doc: &CaseDocument,
    path: &Path,
    file: &str,
    ctx: &JobCtx,
    warnings: &mut Vec<String>,
    phantom_temperature_c: f64,
) -> Result<(Scene, VolumeGeometry), ComputeError> {
    match &doc.source {
        DocumentSource::Demo => {
            ctx.progress.set_message("generating the demo CT");
            let v = crate::demo::demo_volume();
            let g = v.geometry.clone();
            Ok((Scene::Ct(Box::new(v)), g))
        }
        DocumentSource::Dicom {
            path: dicom_path,
            series,
        } => {
            let resolved = case::resolve_source_path(path, dicom_path);
            let uid = Some(series.series_instance_uid.as_str()).filter(|u| !u.is_empty());
            let (ct, _) = load_dicom_source(&resolved, uid, file, ctx, warnings)?;
            if let Some(expected) = &series.geometry
                && let Some(diff) = expected.difference(&GeometryFingerprint::of(&ct.geometry))
            {
                return Err(ComputeError::input(
                    file,
                    "source.series.geometry",
                    format!(
                        "the series at {} has {diff}: the structures and probes were placed on another grid",
                        resolved.display()
                    ),
                ));
            }
            let g = ct.geometry.clone();
            Ok((Scene::Ct(Box::new(ct)), g))
        }
        DocumentSource::Phantom {
            tissue,
            size_mm,
            centre_lps,
        } => Ok((
            // A saved document keeps its structures as masks: the tissue regions analytic shapes
            // set are those of the experiment case it came from, not kept here.
            Scene::Phantom {
                tissue: tissue.clone(),
                size_mm: *size_mm,
                centre_lps: *centre_lps,
                temperature_c: phantom_temperature_c,
                regions: Vec::new(),
            },
            phantom_grid(*centre_lps, *size_mm),
        )),
    }
}

/// Applies the overrides to a loaded case (the caller validates again). The IRE-only flags are
/// ignored for a cryo case, with a warning.
pub fn apply_overrides(
    case: &mut CaseFile,
    modality: Modality,
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
    }
    if let Some(m) = o.margin_mm
        && (!m.is_finite() || m < 0.0)
    {
        return Err(ComputeError::input(
            file,
            "--margin-mm",
            format!("{m} — must be ≥ 0"),
        ));
    }
    if modality == Modality::Cryo {
        let mut cryo = case.cryo_settings();
        if let Some(s) = o.spacing_mm {
            cryo.model.spacing_mm = s;
        }
        if let Some(m) = o.margin_mm {
            cryo.model.margin_mm = m;
        }
        if o.linear || o.voltage_v.is_some() || o.threshold_v_per_cm.is_some() {
            warnings.push(
                "--linear, --voltage-v and --threshold-v-per-cm are IRE options: ignored for a cryo case"
                    .into(),
            );
        }
        case.cryo = Some(cryo);
        return Ok(());
    }
    if let Some(s) = o.spacing_mm {
        case.model.spacing_mm = s;
    }
    if let Some(m) = o.margin_mm {
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
        ("cryo.model.spacing_mm", o.spacing_mm.is_some(), "--spacing-mm"),
        ("cryo.model.margin_mm", o.margin_mm.is_some(), "--margin-mm"),
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

/// Loads a DICOM source: the series named by `series_uid`, or the only image series.
fn load_dicom_source(
    path: &Path,
    series_uid: Option<&str>,
    file: &str,
    ctx: &JobCtx,
    warnings: &mut Vec<String>,
) -> Result<(Volume, SeriesIds), ComputeError> {
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
                // Say why when it is only the build that lacks a codec (issue 18).
                let why = dicom::c_codecs::missing_codec_summary(&scan.skipped)
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default();
                return Err(ComputeError::input(
                    file,
                    "source.path",
                    format!("no image series in {}{why}", path.display()),
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
fn check_probes_in_volume(probes: &[Probe], volume: &Volume, file: &str) -> Result<(), ComputeError> {
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

/// The case's structures on `geometry` (shapes rasterised, files imported).
fn case_structures(
    case: &CaseFile,
    case_dir: &Path,
    geometry: &VolumeGeometry,
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

/// "phantom" or "dicom", and one line describing an experiment case's source.
fn case_source_line(source: &CaseSource) -> (String, String) {
    match source {
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
