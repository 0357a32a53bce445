//! The planning case the GUI saves and reopens (schema version 2): which series it was planned
//! on (UIDs, last known path and a geometry fingerprint), the structures (run-length masks on
//! that series' grid), one or more named plans (probes, IRE settings with the user's per-pair
//! overrides, model options) and notes. Experiment case files (schema version 1,
//! [`super::case`]) open as a document with one plan, so every earlier version migrates.
//!
//! Opening a case re-finds its series by UID and refuses it when the geometry differs: masks and
//! probe positions are only meaningful on the grid they were drawn on. Saves are atomic (temp
//! file, fsync, rename), never replace a file that is not a readable case of this or an older
//! version, and refuse non-finite numbers (JSON cannot hold them).
//!
//! The recovery store keeps an autosaved copy per running app (`recovery-<pid>.json` in the
//! settings folder). A copy left by a process that is no longer running is work the user did not
//! save: the next start offers it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::case::{CaseError, CaseFile, CaseSource, write_atomic};
use super::catalog::Catalog;
use super::ire::IreModelOptions;
use super::ire::IreSettings;
use super::probe::Probe;
use super::tissue_params::TissueParams;
use crate::anatomy::Structure;
use crate::geometry::VolumeGeometry;

/// The document schema this code writes; version 1 (experiment cases) is migrated on load.
pub const DOCUMENT_SCHEMA_VERSION: u32 = 2;

/// Positions closer than this (mm) and directions closer than this (cosine units) are the
/// same geometry: far below any voxel, far above the rounding of a JSON round trip.
const GEOMETRY_TOLERANCE: f64 = 1e-3;

/// A saved planning case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseDocument {
    pub schema_version: u32,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub source: DocumentSource,
    /// Masks on the source series' grid.
    #[serde(default)]
    pub structures: Vec<Structure>,
    /// At least one.
    pub plans: Vec<NamedPlan>,
    /// Index into `plans`.
    #[serde(default)]
    pub active_plan: usize,
    #[serde(default)]
    pub notes: String,
    /// What the models predicted when the case was saved, one entry per computed plan.
    #[serde(default)]
    pub results: Vec<ResultSummary>,
    /// Trainee review and outcome fields.
    #[serde(default)]
    pub review: CaseReview,
    /// The safety rules the plan was checked with; `None` = the built-in rules.
    #[serde(default)]
    pub rules: Option<super::rules::RuleSet>,
}

/// The prediction of one plan as it was when the case was saved (for the case library and the
/// plan comparison; the full fields are recomputed when the case opens).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResultSummary {
    /// Index into `plans`.
    pub plan: usize,
    /// "ire" or "cryo".
    pub modality: String,
    /// e.g. "IRE nonlinear σ(E), 0.5 mm, tissue thresholds".
    pub model: String,
    /// ablaplan version that computed it.
    pub model_version: String,
    /// FNV-1a hash of the plan and parameters the result was computed from: a changed hash
    /// means the summary is stale.
    pub parameter_hash: String,
    pub zone_volume_ml: f64,
    /// Along the probe axis, the first pair's axis and perpendicular (mm).
    pub extents_mm: [f64; 3],
    #[serde(default)]
    pub max_current_a: Option<f64>,
    #[serde(default)]
    pub min_margin_mm: Option<f64>,
    /// (severity, text) of each safety finding.
    #[serde(default)]
    pub findings: Vec<(String, String)>,
}

/// Review fields: what a trainee sees and what a cohort analysis counts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaseReview {
    /// Where the target is, e.g. "left para-aortic node" (listed and filtered in the library).
    pub target_site: String,
    /// Notes for trainees, shown while stepping through the plan.
    pub teaching_notes: String,
    /// The plan that is the reference (expert) plan, if any.
    pub reference_plan: Option<usize>,
    pub outcome: Option<super::outcome::CaseOutcome>,
}

/// FNV-1a (64 bit) of `bytes` as 16 hex digits: stable across runs and platforms, which
/// `std`'s hasher does not promise.
pub fn parameter_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Where the CT comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum DocumentSource {
    /// The built-in synthetic demo CT (regenerated identically on every start).
    Demo,
    /// A DICOM series: `path` is where it was last opened from (absolute, or relative to the
    /// case file's folder); `series` identifies it wherever it moves.
    Dicom { path: PathBuf, series: SeriesRef },
    /// A homogeneous block (experiment cases; computed by `ablaplan compute`, not shown in the
    /// viewer).
    Phantom {
        tissue: String,
        size_mm: [f64; 3],
        centre_lps: [f64; 3],
    },
}

/// Identity of a DICOM series, and the grid the structures and probes were placed on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesRef {
    #[serde(default)]
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    #[serde(default)]
    pub frame_of_reference_uid: String,
    /// `None` for cases migrated from experiment files (they never saw the series).
    #[serde(default)]
    pub geometry: Option<GeometryFingerprint>,
}

/// The voxel grid in patient space.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeometryFingerprint {
    pub dims: [usize; 3],
    pub spacing_mm: [f64; 3],
    pub origin_lps: [f64; 3],
    /// Columns of the direction matrix (unit i, j, k directions in LPS), column-major.
    pub direction: [f64; 9],
}

impl GeometryFingerprint {
    pub fn of(g: &VolumeGeometry) -> Self {
        let mut direction = [0.0; 9];
        direction.copy_from_slice(g.direction.as_slice());
        Self {
            dims: g.dims,
            spacing_mm: g.spacing_mm,
            origin_lps: [g.origin_lps.x, g.origin_lps.y, g.origin_lps.z],
            direction,
        }
    }

    /// What differs from `other` in words, `None` when it is the same grid.
    pub fn difference(&self, other: &GeometryFingerprint) -> Option<String> {
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() <= GEOMETRY_TOLERANCE);
        if self.dims != other.dims {
            Some(format!(
                "grid {:?} voxels, the case has {:?}",
                other.dims, self.dims
            ))
        } else if !close(&self.spacing_mm, &other.spacing_mm) {
            Some(format!(
                "spacing {:?} mm, the case has {:?} mm",
                other.spacing_mm, self.spacing_mm
            ))
        } else if !close(&self.origin_lps, &other.origin_lps) {
            Some(format!(
                "first voxel at LPS {:?} mm, the case has {:?} mm",
                other.origin_lps, self.origin_lps
            ))
        } else if !close(&self.direction, &other.direction) {
            Some("a different orientation".into())
        } else {
            None
        }
    }
}

/// One plan of a case.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedPlan {
    pub name: String,
    #[serde(default)]
    pub probes: Vec<Probe>,
    /// `pairs` are the pulsed pairs as shown in the pairs table.
    #[serde(default)]
    pub ire: IreSettings,
    /// The user's per-pair choices (include/exclude, voltage) on top of the defaults.
    #[serde(default)]
    pub pair_overrides: Vec<PairChoice>,
    #[serde(default)]
    pub model: IreModelOptions,
    /// Cryo settings and sensor points of a cryo plan; absent = IRE plan / the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cryo: Option<CryoPlanSettings>,
}

/// The cryo part of a plan: protocol, isotherms, model options, and the user's sensor points.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CryoPlanSettings {
    pub settings: super::cryo::CryoSettings,
    /// Thermocouple-like sensor points (LPS mm) whose temperature curves the plan panel plots.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sensors_lps: Vec<crate::geometry::PatientPos>,
}

/// A user's choice for the pair of probes `a`, `b` (0-based indices into `probes`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairChoice {
    pub a: usize,
    pub b: usize,
    #[serde(default)]
    pub included: Option<bool>,
    #[serde(default)]
    pub voltage_v: Option<f64>,
}

impl NamedPlan {
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            probes: Vec::new(),
            ire: IreSettings::default(),
            pair_overrides: Vec::new(),
            model: IreModelOptions::default(),
            cryo: None,
        }
    }
}

impl CaseDocument {
    /// The plan shown when the case opens.
    pub fn active(&self) -> Option<&NamedPlan> {
        self.plans.get(self.active_plan)
    }

    /// The experiment view of plan `index` (what `ablaplan compute` runs); `None` for the demo,
    /// which has no file behind it.
    pub fn plan_as_case(&self, index: usize) -> Option<CaseFile> {
        let source = match &self.source {
            DocumentSource::Demo => return None,
            DocumentSource::Dicom { path, series } => CaseSource::Dicom {
                path: path.clone(),
                series_uid: Some(series.series_instance_uid.clone()).filter(|u| !u.is_empty()),
            },
            DocumentSource::Phantom {
                tissue,
                size_mm,
                centre_lps,
            } => CaseSource::Phantom {
                tissue: tissue.clone(),
                size_mm: *size_mm,
                centre_lps: *centre_lps,
            },
        };
        self.plan_with_source(index, source)
    }

    fn plan_with_source(&self, index: usize, source: CaseSource) -> Option<CaseFile> {
        let plan = self.plans.get(index)?;
        Some(CaseFile {
            schema_version: super::case::CASE_SCHEMA_VERSION,
            name: format!("{} — {}", self.name, plan.name),
            description: self.description.clone(),
            source,
            probes: plan.probes.clone(),
            ire: plan.ire.clone(),
            model: plan.model.clone(),
            notes: self.notes.clone(),
            structures: Vec::new(),
            rules: None,
            modality: None,
            cryo: plan
                .cryo
                .as_ref()
                .map(|c| super::case::CryoCaseSettings::from_settings(&c.settings, 37.0)),
        })
    }

    /// Plan `index` with a source that always validates when the document has none (the demo),
    /// so probes, pairs and model options are checked the same way for every case.
    pub fn plan_for_checks(&self, index: usize) -> Option<CaseFile> {
        self.plan_as_case(index).or_else(|| {
            let stand_in = CaseSource::Dicom {
                path: PathBuf::from("demo"),
                series_uid: None,
            };
            self.plan_with_source(index, stand_in)
        })
    }

    /// A version-1 experiment case as a document with one plan.
    pub fn from_experiment(case: CaseFile) -> Self {
        let source = match case.source {
            CaseSource::Phantom {
                tissue,
                size_mm,
                centre_lps,
            } => DocumentSource::Phantom {
                tissue,
                size_mm,
                centre_lps,
            },
            CaseSource::Dicom { path, series_uid } => DocumentSource::Dicom {
                path,
                series: SeriesRef {
                    study_instance_uid: String::new(),
                    series_instance_uid: series_uid.unwrap_or_default(),
                    frame_of_reference_uid: String::new(),
                    geometry: None,
                },
            },
        };
        let mut plan = NamedPlan::new("Plan 1");
        plan.probes = case.probes;
        plan.ire = case.ire;
        plan.model = case.model;
        plan.cryo = case.cryo.map(|c| CryoPlanSettings {
            settings: c.settings(),
            sensors_lps: Vec::new(),
        });
        Self {
            schema_version: DOCUMENT_SCHEMA_VERSION,
            name: case.name,
            description: case.description,
            source,
            structures: Vec::new(),
            plans: vec![plan],
            active_plan: 0,
            notes: case.notes,
            results: Vec::new(),
            review: CaseReview::default(),
            rules: None,
        }
    }

    /// Parses document text (`file` names it in errors): version 1 is read as an experiment
    /// case and migrated, version 2 directly, newer versions are refused.
    pub fn from_json(text: &str, file: &str) -> Result<CaseDocument, CaseError> {
        let value: Value = serde_json::from_str(text).map_err(|e| parse_error(file, "(top level)", &e))?;
        let version = value
            .get("schema_version")
            .and_then(Value::as_u64)
            .ok_or_else(|| invalid(file, "schema_version", "missing — not an ablaplan case file"))?;
        match version {
            1 => Ok(Self::from_experiment(CaseFile::from_json(text, file)?)),
            2 => serde_json::from_str(text).map_err(|e| parse_error(file, "(document)", &e)),
            found => Err(CaseError::NewerVersion {
                file: file.to_string(),
                found,
                supported: DOCUMENT_SCHEMA_VERSION,
            }),
        }
    }

    /// Checks the contents: a name, at least one plan, the active index, finite numbers,
    /// every plan's probes, pairs and model options against the catalog and tissue classes,
    /// and every mask's shape (against `geometry` when given: masks must sit on the CT grid).
    pub fn validate(
        &self,
        file: &str,
        tissues: &TissueParams,
        catalog: &Catalog,
        geometry: Option<&GeometryFingerprint>,
    ) -> Result<(), CaseError> {
        if self.schema_version != DOCUMENT_SCHEMA_VERSION {
            return Err(invalid(
                file,
                "schema_version",
                format!(
                    "{} — documents are version {DOCUMENT_SCHEMA_VERSION}",
                    self.schema_version
                ),
            ));
        }
        if self.name.trim().is_empty() {
            return Err(invalid(file, "name", "empty — give the case a name"));
        }
        if self.plans.is_empty() {
            return Err(invalid(file, "plans", "empty — a case has at least one plan"));
        }
        {
            use super::limits::{MAX_PLANS, MAX_RESULTS, MAX_STRUCTURES, check_count};
            check_count("plans", self.plans.len(), MAX_PLANS, "plans")
                .and_then(|()| check_count("structures", self.structures.len(), MAX_STRUCTURES, "structures"))
                .and_then(|()| check_count("results", self.results.len(), MAX_RESULTS, "saved results"))
                .map_err(|(field, message)| invalid(file, field, message))?;
        }
        if self.active_plan >= self.plans.len() {
            return Err(invalid(
                file,
                "active_plan",
                format!("{} but there are {} plan(s)", self.active_plan, self.plans.len()),
            ));
        }
        if let Some(rules) = &self.rules {
            rules
                .validate("rules")
                .map_err(|e| invalid(file, "rules", e.to_string()))?;
        }
        if let Some(r) = self.review.reference_plan
            && r >= self.plans.len()
        {
            return Err(invalid(
                file,
                "review.reference_plan",
                format!("{r} but there are {} plan(s)", self.plans.len()),
            ));
        }
        if let Some(o) = &self.review.outcome {
            o.validate()
                .map_err(|e| invalid(file, format!("review.outcome.{}", e.field), e.message))?;
        }
        for (i, r) in self.results.iter().enumerate() {
            if r.plan >= self.plans.len() {
                return Err(invalid(
                    file,
                    format!("results[{i}].plan"),
                    "names no plan of the case",
                ));
            }
        }
        if let DocumentSource::Dicom { series, .. } = &self.source {
            if series.series_instance_uid.trim().is_empty() && series.geometry.is_none() {
                return Err(invalid(
                    file,
                    "source.series",
                    "neither a series UID nor a geometry — the series cannot be identified",
                ));
            }
            if let Some(g) = &series.geometry
                && !(g.spacing_mm.iter().chain(&g.origin_lps).chain(&g.direction)).all(|v| v.is_finite())
            {
                return Err(invalid(file, "source.series.geometry", "a number is not finite"));
            }
        }
        for (i, s) in self.structures.iter().enumerate() {
            let field = format!("structures[{i}]");
            let voxels: u128 = s.mask().dims().iter().map(|&n| n as u128).product();
            if voxels > super::limits::MAX_MASK_VOXELS {
                return Err(invalid(
                    file,
                    format!("{field}.mask"),
                    format!(
                        "a {:?} grid ({voxels} voxels) — at most {} voxels",
                        s.mask().dims(),
                        super::limits::MAX_MASK_VOXELS
                    ),
                ));
            }
            s.mask()
                .check()
                .map_err(|m| invalid(file, format!("{field}.mask"), m))?;
            if let Some(g) = geometry
                && s.mask().dims() != g.dims
            {
                return Err(invalid(
                    file,
                    format!("{field}.mask"),
                    format!(
                        "drawn on a {:?} grid, the series has {:?} voxels",
                        s.mask().dims(),
                        g.dims
                    ),
                ));
            }
            if !(s.opacity.is_finite() && (0.0..=1.0).contains(&s.opacity)) {
                return Err(invalid(file, format!("{field}.opacity"), "must be within 0–1"));
            }
        }
        for (i, plan) in self.plans.iter().enumerate() {
            let prefix = format!("plans[{i}]");
            if plan.name.trim().is_empty() {
                return Err(invalid(file, format!("{prefix}.name"), "empty — name the plan"));
            }
            for (n, c) in plan.pair_overrides.iter().enumerate() {
                let bad_index = c.a.max(c.b) >= plan.probes.len() || c.a == c.b;
                let bad_voltage = c.voltage_v.is_some_and(|v| !(v.is_finite() && v > 0.0));
                if bad_index || bad_voltage {
                    return Err(invalid(
                        file,
                        format!("{prefix}.pair_overrides[{n}]"),
                        "probe indices must name two different probes; voltage positive",
                    ));
                }
            }
            let Some(case) = self.plan_for_checks(i) else {
                continue;
            };
            if plan.probes.len() >= 2 {
                check_plan(&case, file, &prefix, tissues, catalog)?;
                continue;
            }
            // A plan still being placed (0 or 1 probe) is saved as it is; what it has must
            // still be readable.
            for (n, p) in plan.probes.iter().enumerate() {
                if catalog.get(&p.model_id).is_none() {
                    return Err(invalid(
                        file,
                        format!("{prefix}.probes[{n}].model_id"),
                        format!("unknown probe model \"{}\" (assets/probes.json)", p.model_id),
                    ));
                }
            }
            case.check_numbers(file).map_err(|e| with_prefix(e, &prefix))?;
        }
        Ok(())
    }
}

fn check_plan(
    case: &CaseFile,
    file: &str,
    prefix: &str,
    tissues: &TissueParams,
    catalog: &Catalog,
) -> Result<(), CaseError> {
    case.validate(file, tissues, catalog)
        .map_err(|e| with_prefix(e, prefix))
}

fn with_prefix(e: CaseError, prefix: &str) -> CaseError {
    match e {
        CaseError::Invalid { file, field, message } => CaseError::Invalid {
            file,
            field: prefixed(prefix, &field),
            message,
        },
        other => other,
    }
}

/// `probes[1].tip_lps` → `plans[0].probes[1].tip_lps`; the source lives at the top level.
fn prefixed(prefix: &str, field: &str) -> String {
    if field.starts_with("source") || field == "(top level)" || field == "name" {
        field.to_string()
    } else {
        format!("{prefix}.{field}")
    }
}

fn invalid(file: &str, field: impl Into<String>, message: impl Into<String>) -> CaseError {
    CaseError::Invalid {
        file: file.to_string(),
        field: field.into(),
        message: message.into(),
    }
}

fn parse_error(file: &str, field: &str, e: &serde_json::Error) -> CaseError {
    CaseError::Parse {
        file: file.to_string(),
        field: field.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

/// Reads and validates a document (either schema version). `geometry`: the grid the masks
/// must fit, when the series is already known.
pub fn load_document(
    path: &Path,
    tissues: &TissueParams,
    catalog: &Catalog,
) -> Result<CaseDocument, CaseError> {
    let text = std::fs::read_to_string(path).map_err(|source| CaseError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = path.display().to_string();
    let doc = CaseDocument::from_json(&text, &file)?;
    doc.validate(&file, tissues, catalog, None)?;
    Ok(doc)
}

/// Saves atomically. Refuses to replace a file that is not a readable ablaplan case of this or
/// an older version (a corrupt or newer file is never overwritten: its content would be lost)
/// and documents with non-finite numbers.
pub fn save_document(path: &Path, doc: &CaseDocument) -> Result<(), CaseError> {
    let file = path.display().to_string();
    check_replaceable(path)?;
    for i in 0..doc.plans.len() {
        if let Some(case) = doc.plan_for_checks(i) {
            case.check_numbers(&file)?;
        }
    }
    write_json(path, doc)
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), CaseError> {
    let save_err = |source| CaseError::Save {
        path: path.to_path_buf(),
        source,
    };
    let mut text = serde_json::to_string(value).map_err(|e| save_err(std::io::Error::other(e)))?;
    text.push('\n');
    write_atomic(path, |f| std::io::Write::write_all(f, text.as_bytes())).map_err(save_err)
}

/// `Ok` when `path` does not exist or holds a case this version may replace.
pub fn check_replaceable(path: &Path) -> Result<(), CaseError> {
    let file = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(CaseError::Save {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    let version = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("schema_version").and_then(Value::as_u64));
    match version {
        Some(v) if v <= u64::from(DOCUMENT_SCHEMA_VERSION) => Ok(()),
        Some(found) => Err(CaseError::NewerVersion {
            file,
            found,
            supported: DOCUMENT_SCHEMA_VERSION,
        }),
        None => Err(invalid(
            &file,
            "(top level)",
            "exists and is not a readable ablaplan case — it was not overwritten; save under another name",
        )),
    }
}

/// What the recovery store keeps: the document and where it was last saved.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecoveryFile {
    /// Seconds since the Unix epoch at the autosave.
    pub saved_unix_s: u64,
    /// The case file the work belongs to, `None` if it was never saved.
    pub case_path: Option<PathBuf>,
    pub document: CaseDocument,
}

/// Autosaved work left by an earlier run.
#[derive(Clone, Debug, PartialEq)]
pub struct RecoveryOffer {
    pub path: PathBuf,
    pub file: RecoveryFile,
}

/// Autosave files of running (and crashed) app instances in one folder.
#[derive(Clone, Debug)]
pub struct RecoveryStore {
    dir: PathBuf,
    pid: u32,
}

impl RecoveryStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self::for_process(dir, std::process::id())
    }

    /// A store writing as process `pid` (tests simulate other processes).
    pub fn for_process(dir: impl Into<PathBuf>, pid: u32) -> Self {
        Self { dir: dir.into(), pid }
    }

    /// This process's autosave file.
    pub fn own_path(&self) -> PathBuf {
        self.dir.join(format!("recovery-{}.json", self.pid))
    }

    /// Writes the autosave atomically.
    pub fn autosave(&self, doc: &CaseDocument, case_path: Option<&Path>) -> Result<(), CaseError> {
        std::fs::create_dir_all(&self.dir).map_err(|source| CaseError::Save {
            path: self.dir.clone(),
            source,
        })?;
        let saved_unix_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let file = RecoveryFile {
            saved_unix_s,
            case_path: case_path.map(Path::to_path_buf),
            document: doc.clone(),
        };
        write_json(&self.own_path(), &file)
    }

    /// Removes this process's autosave (the work was saved or deliberately discarded).
    pub fn clear(&self) {
        let _ = std::fs::remove_file(self.own_path());
    }

    /// Autosaves left by processes that are no longer running, newest first. Unreadable ones
    /// are skipped (and kept on disk for a human to look at); `is_running` decides about a pid.
    pub fn offers(&self, is_running: impl Fn(u32) -> bool) -> Vec<RecoveryOffer> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut offers: Vec<RecoveryOffer> = entries
            .flatten()
            .filter_map(|e| {
                let path = e.path();
                let name = path.file_name()?.to_str()?;
                let pid: u32 = name
                    .strip_prefix("recovery-")?
                    .strip_suffix(".json")?
                    .parse()
                    .ok()?;
                if pid == self.pid || is_running(pid) {
                    return None;
                }
                let text = std::fs::read_to_string(&path).ok()?;
                let file: RecoveryFile = serde_json::from_str(&text).ok()?;
                Some(RecoveryOffer { path, file })
            })
            .collect();
        offers.sort_by(|a, b| {
            b.file
                .saved_unix_s
                .cmp(&a.file.saved_unix_s)
                .then_with(|| a.path.cmp(&b.path))
        });
        offers
    }
}

/// Whether process `pid` is alive (Linux: `/proc/<pid>`; elsewhere every other process counts
/// as gone, so its autosave is offered — better an extra offer than lost work).
pub fn process_is_running(pid: u32) -> bool {
    cfg!(target_os = "linux") && Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anatomy::{Mask, Provenance, StructureKind};
    use crate::geometry::PatientPos;
    use nalgebra::Matrix3;

    fn geometry() -> VolumeGeometry {
        VolumeGeometry {
            dims: [4, 3, 2],
            spacing_mm: [0.8, 0.8, 2.0],
            origin_lps: PatientPos::new(-10.0, 5.0, 100.0),
            direction: Matrix3::identity(),
        }
    }

    fn doc() -> CaseDocument {
        let mut dense = vec![false; 24];
        dense[5] = true;
        let s = Structure::new(
            "Node",
            StructureKind::Target,
            Provenance::Drawn,
            Mask::from_dense([4, 3, 2], &dense),
        );
        let mut plan = NamedPlan::new("IRE 2 electrodes");
        plan.pair_overrides.push(PairChoice {
            a: 0,
            b: 1,
            included: Some(false),
            voltage_v: None,
        });
        CaseDocument {
            schema_version: DOCUMENT_SCHEMA_VERSION,
            name: "Case".into(),
            description: String::new(),
            source: DocumentSource::Dicom {
                path: PathBuf::from("ct"),
                series: SeriesRef {
                    study_instance_uid: "1.2".into(),
                    series_instance_uid: "1.2.3".into(),
                    frame_of_reference_uid: "1.2.4".into(),
                    geometry: Some(GeometryFingerprint::of(&geometry())),
                },
            },
            structures: vec![s],
            plans: vec![plan],
            active_plan: 0,
            notes: "note".into(),
            results: Vec::new(),
            review: CaseReview::default(),
            rules: None,
        }
    }

    #[test]
    fn parameter_hash_is_fnv1a() {
        // Published FNV-1a 64 test vectors.
        assert_eq!(parameter_hash(b""), "cbf29ce484222325");
        assert_eq!(parameter_hash(b"a"), "af63dc4c8601ec8c");
        assert_eq!(parameter_hash(b"foobar"), "85944171f73967e8");
    }

    #[test]
    fn fingerprint_names_what_differs() {
        let a = GeometryFingerprint::of(&geometry());
        assert_eq!(a.difference(&a.clone()), None);
        let mut g = geometry();
        g.origin_lps.z += 2.0;
        let msg = a.difference(&GeometryFingerprint::of(&g)).unwrap();
        assert!(msg.contains("first voxel"), "{msg}");
        g = geometry();
        g.dims[2] = 3;
        assert!(
            a.difference(&GeometryFingerprint::of(&g))
                .unwrap()
                .contains("grid")
        );
    }

    #[test]
    fn newer_and_foreign_files_are_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let newer = dir.path().join("newer.json");
        std::fs::write(&newer, r#"{"schema_version": 99, "x": 1}"#).unwrap();
        assert!(matches!(
            save_document(&newer, &doc()),
            Err(CaseError::NewerVersion { found: 99, .. })
        ));
        assert!(std::fs::read_to_string(&newer).unwrap().contains("99"));
        let corrupt = dir.path().join("corrupt.json");
        std::fs::write(&corrupt, "{ not json").unwrap();
        let err = save_document(&corrupt, &doc()).unwrap_err().to_string();
        assert!(err.contains("not overwritten"), "{err}");
        assert_eq!(std::fs::read_to_string(&corrupt).unwrap(), "{ not json");
        let text = r#"{"schema_version": 3}"#;
        assert!(matches!(
            CaseDocument::from_json(text, "f.json"),
            Err(CaseError::NewerVersion { found: 3, .. })
        ));
    }

    #[test]
    fn recovery_offers_only_dead_processes_newest_first() {
        let dir = tempfile::tempdir().unwrap();
        let crashed = RecoveryStore::for_process(dir.path(), 4_000_001);
        let running = RecoveryStore::for_process(dir.path(), 4_000_002);
        crashed.autosave(&doc(), None).unwrap();
        running
            .autosave(&doc(), Some(Path::new("/cases/a.json")))
            .unwrap();
        std::fs::write(dir.path().join("recovery-4000003.json"), "garbage").unwrap();
        let me = RecoveryStore::for_process(dir.path(), 1);
        let offers = me.offers(|pid| pid == 4_000_002);
        assert_eq!(offers.len(), 1);
        assert_eq!(offers[0].path, crashed.own_path());
        assert_eq!(offers[0].file.document, doc());
        crashed.clear();
        assert!(me.offers(|pid| pid == 4_000_002).is_empty());
    }
}
