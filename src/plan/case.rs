//! Experiment case files (issue 4; grows into the full case of issue 7): a versioned JSON file
//! naming where the tissue comes from (a homogeneous phantom block of a tissue class, or a DICOM
//! series), the probes, the IRE settings and the model options, so a published experiment can be
//! written down once and rerun with `ablaplan compute CASE`.
//!
//! Reading is strict because these files are written by hand: the schema version is checked first
//! (a newer file is refused, never guessed at), unknown keys are refused (a misspelt
//! `"nonlinaer": false` would otherwise silently run the default), and every error names the file
//! and the field (`probes[1].tip_lps[2]`) with serde_json's line and column.
//!
//! Saving is atomic (temp file in the same folder, fsync, rename) so a crash mid-save leaves the
//! old file intact.

use super::catalog::{Catalog, Modality};
use super::cryo::CryoSettings;
use super::ire::{ElectrodePair, IreSettings, IreSettingsError, default_pairs};
use super::ire::{IreModelOptions, SPACING_RANGE_MM, ZoneCriterion};
use super::probe::Probe;
use super::rules::RuleSet;
use super::shapes::CaseStructure;
use super::tissue_params::TissueParams;
use super::{AssetError, catalog, tissue_params};
use crate::geometry::PatientPos;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

pub use crate::fsio::write_atomic;

/// The case schema this code reads and writes. Older versions are migrated on load
/// ([`migrate`]); newer ones are refused.
pub const CASE_SCHEMA_VERSION: u32 = 1;

/// Points closer than this to a phantom face count as inside (mm): electrodes that run from face
/// to face (the 2-D two-cylinder setup) end exactly on the faces.
const INSIDE_TOLERANCE_MM: f64 = 1e-6;

/// A case file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseFile {
    pub schema_version: u32,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub source: CaseSource,
    /// Probe indices (0-based) are what `ire.pairs` refer to.
    pub probes: Vec<Probe>,
    /// Empty `pairs` = the default pairs ([`default_pairs`]).
    #[serde(default)]
    pub ire: IreSettings,
    #[serde(default)]
    pub model: IreModelOptions,
    #[serde(default)]
    pub notes: String,
    /// Structures for the safety analysis (issue 6): analytic shapes rasterised onto the CT (or
    /// the phantom's grid), or structure-set files to import. Empty = none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub structures: Vec<CaseStructure>,
    /// Safety rules for this case; `None` = the built-in `assets/safety_rules.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<RuleSet>,
    /// "ire" or "cryo" (issue 5); absent = inferred from the probes' catalog modality
    /// ([`CaseFile::modality`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modality: Option<Modality>,
    /// Cryo settings (protocol, lethal isotherm, phantom temperature, model options) of a cryo
    /// case; absent = the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cryo: Option<CryoCaseSettings>,
}

/// The `cryo` section of a case: the plan's cryo settings ([`CryoSettings`], same keys, not
/// flattened so that errors keep their line and field) plus the phantom's temperature.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CryoCaseSettings {
    pub protocol: crate::plan::protocol::CryoProtocol,
    /// Lethal isotherm (°C; −40 by default, −30 / −20 the cited alternatives).
    pub lethal_isotherm_c: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_isotherm_c: Option<f64>,
    /// Initial temperature of a phantom block (°C; 37 by default). A CT starts at the arterial
    /// temperature of `assets/tissues_cryo.json`.
    pub phantom_temperature_c: f64,
    pub model: super::cryo::CryoModelOptions,
}

impl CryoCaseSettings {
    /// The model's settings.
    pub fn settings(&self) -> CryoSettings {
        CryoSettings {
            protocol: self.protocol.clone(),
            lethal_isotherm_c: self.lethal_isotherm_c,
            user_isotherm_c: self.user_isotherm_c,
            model: self.model.clone(),
        }
    }

    /// A case section from the model's settings and a phantom temperature.
    pub fn from_settings(s: &CryoSettings, phantom_temperature_c: f64) -> Self {
        Self {
            protocol: s.protocol.clone(),
            lethal_isotherm_c: s.lethal_isotherm_c,
            user_isotherm_c: s.user_isotherm_c,
            phantom_temperature_c,
            model: s.model.clone(),
        }
    }
}

impl Default for CryoCaseSettings {
    fn default() -> Self {
        Self::from_settings(&CryoSettings::default(), 37.0)
    }
}

/// Where the tissue comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CaseSource {
    /// A homogeneous block of one tissue class (`assets/tissues_ire.json` id), `size_mm` along
    /// L, P, S, centred on `centre_lps`. Its faces are insulating (zero flux).
    Phantom {
        tissue: String,
        size_mm: [f64; 3],
        centre_lps: [f64; 3],
    },
    /// A DICOM folder or file: `path` relative to the case file's folder, or absolute.
    /// `series_uid` chooses the series when the path holds several.
    Dicom {
        path: PathBuf,
        #[serde(default)]
        series_uid: Option<String>,
    },
}

/// Errors reading, checking or saving a case file. Each names the file and, where there is one,
/// the field (`probes[0].tip_lps[1]`, `(top level)` for the whole object).
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error("cannot read case file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: {field}: {message} (line {line}, column {column})")]
    Parse {
        file: String,
        field: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "{file}: schema_version {found} is newer than this ablaplan reads (schema_version \
         {supported}) — open it with a newer ablaplan; the file was not changed"
    )]
    NewerVersion {
        file: String,
        found: u64,
        supported: u32,
    },
    #[error("{file}: {field}: unknown field — the fields here are: {known}")]
    UnknownField {
        file: String,
        field: String,
        known: String,
    },
    #[error("{file}: {field}: {message}")]
    Invalid {
        file: String,
        field: String,
        message: String,
    },
    #[error("cannot save case file {path}: {source}")]
    Save {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("checking the case needs the built-in assets: {0}")]
    Asset(#[from] AssetError),
}

impl CaseError {
    fn invalid(file: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        CaseError::Invalid {
            file: file.to_string(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// What is wrong, without the file and field (the whole message for I/O and asset errors).
    pub fn message(&self) -> String {
        match self {
            CaseError::Parse { message, .. } | CaseError::Invalid { message, .. } => message.clone(),
            CaseError::UnknownField { known, .. } => format!("unknown field — the fields here are: {known}"),
            other => other.to_string(),
        }
    }

    /// The field the error is about (`None` for I/O and asset errors).
    pub fn field(&self) -> Option<&str> {
        match self {
            CaseError::Parse { field, .. }
            | CaseError::UnknownField { field, .. }
            | CaseError::Invalid { field, .. } => Some(field),
            CaseError::NewerVersion { .. } => Some("schema_version"),
            _ => None,
        }
    }
}

const TOP_LEVEL: &str = "(top level)";

impl CaseFile {
    /// Parses case text (`file` names it in errors): schema version, migration, unknown keys,
    /// types. Does not check the contents against the assets: see [`CaseFile::validate`].
    pub fn from_json(text: &str, file: &str) -> Result<CaseFile, CaseError> {
        let value: Value = serde_json::from_str(text).map_err(|e| parse_error(text, file, &e))?;
        let version = schema_version_of(&value, file)?;
        if version > u64::from(CASE_SCHEMA_VERSION) {
            return Err(CaseError::NewerVersion {
                file: file.to_string(),
                found: version,
                supported: CASE_SCHEMA_VERSION,
            });
        }
        if version == u64::from(CASE_SCHEMA_VERSION) {
            check_keys(&value, file)?;
            // From the text, not the Value: only the text carries line and column.
            serde_json::from_str(text).map_err(|e| parse_error(text, file, &e))
        } else {
            let migrated = migrate(value, version, file)?;
            check_keys(&migrated, file)?;
            serde_json::from_value(migrated).map_err(|e| parse_error(text, file, &e))
        }
    }

    /// The settings the model runs with: `ire` with empty `pairs` replaced by the default pairs.
    pub fn effective_ire(&self) -> IreSettings {
        let mut s = self.ire.clone();
        if s.pairs.is_empty() {
            s.pairs = default_pairs(&self.probes, &self.ire);
        }
        s
    }

    /// Checks the contents against the tissue classes and the probe catalog: finite numbers,
    /// tissue id, probe models and exposures, probes inside the phantom, pairs, settings, model
    /// options.
    pub fn validate(&self, file: &str, tissues: &TissueParams, catalog: &Catalog) -> Result<(), CaseError> {
        if self.schema_version != CASE_SCHEMA_VERSION {
            return Err(CaseError::invalid(
                file,
                "schema_version",
                format!(
                    "{} — this ablaplan writes schema_version {CASE_SCHEMA_VERSION}",
                    self.schema_version
                ),
            ));
        }
        self.check_numbers(file)?;
        if self.name.trim().is_empty() {
            return Err(CaseError::invalid(file, "name", "empty — give the case a name"));
        }
        let modality = self.modality_with(catalog);
        self.check_limits(modality)
            .map_err(|(field, message)| CaseError::invalid(file, field, message))?;
        self.check_source(file, tissues, modality)?;
        match modality {
            Modality::Ire => {
                self.check_probes(file, catalog)?;
                self.check_pairs(file)?;
            }
            Modality::Cryo => self.check_cryo(file, catalog)?,
        }
        Ok(())
    }

    /// The counts and sizes of [`super::limits`]: probes (the IRE generator's electrodes or the
    /// cryo console's needles), pairs, structures and the phantom block.
    fn check_limits(&self, modality: Modality) -> Result<(), (String, String)> {
        use super::limits::{MAX_PHANTOM_SIDE_MM, MAX_STRUCTURES, check_count, max_probes, probes_what};
        let max = max_probes(modality);
        check_count("probes", self.probes.len(), max, probes_what(modality))?;
        if modality == Modality::Ire {
            check_count(
                "ire.pairs",
                self.ire.pairs.len(),
                max * (max - 1) / 2,
                "pairs (every pair of the electrodes)",
            )?;
        }
        check_count("structures", self.structures.len(), MAX_STRUCTURES, "structures")?;
        if let CaseSource::Phantom { size_mm, .. } = &self.source
            && let Some(s) = size_mm.iter().find(|s| **s > MAX_PHANTOM_SIDE_MM)
        {
            return Err((
                "source.size_mm".into(),
                format!("{s} mm — a phantom block's side is at most {MAX_PHANTOM_SIDE_MM} mm"),
            ));
        }
        Ok(())
    }

    /// The case's modality: `modality` when given, else cryo when there are probes and every one
    /// is a cryoprobe of `catalog`, else IRE (a mixed set is then refused at its first cryoprobe).
    pub fn modality_with(&self, catalog: &Catalog) -> Modality {
        self.modality.unwrap_or_else(|| {
            let cryo = !self.probes.is_empty()
                && self.probes.iter().all(|p| {
                    catalog
                        .get(&p.model_id)
                        .is_some_and(|m| m.modality == Modality::Cryo)
                });
            if cryo { Modality::Cryo } else { Modality::Ire }
        })
    }

    /// [`Self::modality_with`] the built-in catalog.
    pub fn modality(&self) -> Modality {
        match catalog::builtin_catalog() {
            Ok(c) => self.modality_with(&c),
            Err(_) => self.modality.unwrap_or(Modality::Ire),
        }
    }

    /// The cryo section with its defaults.
    pub fn cryo_settings(&self) -> CryoCaseSettings {
        self.cryo.clone().unwrap_or_default()
    }

    /// Cryo cases: at least one probe, every probe a cryoprobe inside the phantom, the protocol,
    /// isotherms, phantom temperature and model options (errors name `cryo.…`).
    fn check_cryo(&self, file: &str, catalog: &Catalog) -> Result<(), CaseError> {
        if self.probes.is_empty() {
            return Err(CaseError::invalid(
                file,
                "probes",
                "no probe — a cryo case needs at least one cryoprobe",
            ));
        }
        for (i, p) in self.probes.iter().enumerate() {
            let field = format!("probes[{i}]");
            match catalog.get(&p.model_id) {
                Some(m) if m.modality == Modality::Cryo => {}
                other => {
                    let known: Vec<&str> = catalog
                        .of_modality(Modality::Cryo)
                        .map(|m| m.id.as_str())
                        .collect();
                    return Err(CaseError::invalid(
                        file,
                        format!("{field}.model_id"),
                        format!(
                            "\"{}\" is {} — a cryo case uses the cryoprobes {} (assets/probes.json)",
                            p.model_id,
                            if other.is_some() {
                                "an IRE electrode"
                            } else {
                                "not in the catalog"
                            },
                            known.join(", ")
                        ),
                    ));
                }
            }
            self.check_probe_in_phantom(file, &field, p, "end of the active length")?;
        }
        let cryo = self.cryo_settings();
        cryo.settings()
            .check(self.probes.len())
            .map_err(|(field, message)| CaseError::invalid(file, format!("cryo.{field}"), message))?;
        let t = cryo.phantom_temperature_c;
        if !(t.is_finite() && (-20.0..=60.0).contains(&t)) {
            return Err(CaseError::invalid(
                file,
                "cryo.phantom_temperature_c",
                format!("{t} — choose −20…60 °C (37 by default)"),
            ));
        }
        Ok(())
    }

    /// Checks that every number is finite (JSON cannot hold NaN or ∞: serde_json would write
    /// `null` and the file would no longer load) and every size positive. No assets needed.
    pub fn check_numbers(&self, file: &str) -> Result<(), CaseError> {
        let finite3 = |field: String, v: &[f64; 3]| {
            if v.iter().all(|c| c.is_finite()) {
                Ok(())
            } else {
                Err(CaseError::invalid(
                    file,
                    field,
                    format!("{v:?} is not a finite point — write three finite numbers (mm)"),
                ))
            }
        };
        if let CaseSource::Phantom {
            size_mm, centre_lps, ..
        } = &self.source
        {
            finite3("source.centre_lps".into(), centre_lps)?;
            finite3("source.size_mm".into(), size_mm)?;
            if size_mm.iter().any(|s| *s <= 0.0) {
                return Err(CaseError::invalid(
                    file,
                    "source.size_mm",
                    format!("{size_mm:?} — every side of the block must be positive (mm)"),
                ));
            }
        }
        for (i, p) in self.probes.iter().enumerate() {
            finite3(
                format!("probes[{i}].tip_lps"),
                &<[f64; 3]>::from(p.tip_lps.coords),
            )?;
            finite3(
                format!("probes[{i}].entry_lps"),
                &<[f64; 3]>::from(p.entry_lps.coords),
            )?;
            if !p.exposure_mm.is_finite() || p.exposure_mm <= 0.0 {
                return Err(CaseError::invalid(
                    file,
                    format!("probes[{i}].exposure_mm"),
                    format!(
                        "{} — the exposed length must be a positive number (mm)",
                        p.exposure_mm
                    ),
                ));
            }
        }
        for (i, pair) in self.ire.pairs.iter().enumerate() {
            if !pair.voltage_v.is_finite() || pair.voltage_v <= 0.0 {
                return Err(CaseError::invalid(
                    file,
                    format!("ire.pairs[{i}].voltage_v"),
                    format!("{} — set a positive voltage (V)", pair.voltage_v),
                ));
            }
            // The generator's maximum, by the probes' labels (the indices are checked later).
            let name = |idx: usize| match self.probes.get(idx) {
                Some(p) if !p.label.trim().is_empty() => format!("\"{}\"", p.label),
                _ => format!("{}", idx + 1),
            };
            let what = || format!("pair of probes {} and {}", name(pair.a), name(pair.b));
            match self.ire.check_cap(pair.voltage_v, what) {
                Ok(()) => {}
                Err(IreSettingsError::AboveGeneratorCap {
                    what,
                    voltage_v,
                    cap_v,
                    cap_source,
                }) => {
                    return Err(CaseError::invalid(
                        file,
                        format!("ire.pairs[{i}].voltage_v"),
                        format!(
                            "{voltage_v} V on the {what} is above the generator's maximum of {cap_v} V \
                             ({cap_source}) — lower it (only a non-clinical numerical check may exceed it, \
                             with the reason in ire.above_generator_cap)"
                        ),
                    ));
                }
                Err(e) => return Err(CaseError::invalid(file, "ire.above_generator_cap", e.to_string())),
            }
        }
        // Pairs are checked with their index in `check_pairs`; here only the scalar settings.
        IreSettings {
            pairs: Vec::new(),
            ..self.ire.clone()
        }
        .validate(self.probes.len())
        .map_err(|e| CaseError::invalid(file, "ire", e.to_string()))?;
        check_model_options(&self.model)
            .map_err(|(field, message)| CaseError::invalid(file, field, message))?;
        self.check_safety(file)
    }

    /// Checks `structures` (numbers, names; imports only onto DICOM) and `rules` (issue 6).
    fn check_safety(&self, file: &str) -> Result<(), CaseError> {
        for (i, s) in self.structures.iter().enumerate() {
            s.check().map_err(|(field, message)| {
                CaseError::invalid(file, format!("structures[{i}].{field}"), message)
            })?;
            if matches!(s, CaseStructure::Import { .. }) && matches!(self.source, CaseSource::Phantom { .. })
            {
                return Err(CaseError::invalid(
                    file,
                    format!("structures[{i}].path"),
                    "structure files are imported onto a DICOM series — draw a phantom's structures as shapes",
                ));
            }
        }
        if let Some(rules) = &self.rules {
            rules
                .validate("rules")
                .map_err(|e| CaseError::invalid(file, "rules", e.to_string()))?;
        }
        Ok(())
    }

    fn check_source(&self, file: &str, tissues: &TissueParams, modality: Modality) -> Result<(), CaseError> {
        match &self.source {
            CaseSource::Phantom { tissue, .. } if modality == Modality::Cryo => {
                let known = super::cryo::builtin_cryo_class_ids()?;
                if !known.iter().any(|id| id == tissue) {
                    return Err(CaseError::invalid(
                        file,
                        "source.tissue",
                        format!(
                            "unknown tissue class \"{tissue}\" — use one of {} (assets/tissues_cryo.json)",
                            known.join(", ")
                        ),
                    ));
                }
            }
            CaseSource::Phantom { tissue, .. } => {
                if tissues.class(tissue).is_none() {
                    let known: Vec<&str> = tissues.classes.iter().map(|c| c.id.as_str()).collect();
                    return Err(CaseError::invalid(
                        file,
                        "source.tissue",
                        format!(
                            "unknown tissue class \"{tissue}\" — use one of {} (assets/tissues_ire.json)",
                            known.join(", ")
                        ),
                    ));
                }
            }
            CaseSource::Dicom { path, series_uid } => {
                if path.as_os_str().is_empty() {
                    return Err(CaseError::invalid(
                        file,
                        "source.path",
                        "empty — give the DICOM folder or file",
                    ));
                }
                if series_uid.as_deref().is_some_and(|u| u.trim().is_empty()) {
                    return Err(CaseError::invalid(
                        file,
                        "source.series_uid",
                        "empty — give the SeriesInstanceUID or remove the field",
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_probes(&self, file: &str, catalog: &Catalog) -> Result<(), CaseError> {
        if self.probes.len() < 2 {
            return Err(CaseError::invalid(
                file,
                "probes",
                format!(
                    "{} probe(s) — an IRE case needs at least two electrodes",
                    self.probes.len()
                ),
            ));
        }
        for (i, p) in self.probes.iter().enumerate() {
            let field = format!("probes[{i}]");
            let Some(model) = catalog.get(&p.model_id) else {
                let known: Vec<&str> = catalog
                    .of_modality(Modality::Ire)
                    .map(|m| m.id.as_str())
                    .collect();
                return Err(CaseError::invalid(
                    file,
                    format!("{field}.model_id"),
                    format!(
                        "unknown probe model \"{}\" — use one of {} (assets/probes.json)",
                        p.model_id,
                        known.join(", ")
                    ),
                ));
            };
            if model.modality != Modality::Ire {
                return Err(CaseError::invalid(
                    file,
                    format!("{field}.model_id"),
                    format!(
                        "\"{}\" is a cryoprobe — schema_version {CASE_SCHEMA_VERSION} cases are IRE plans",
                        p.model_id
                    ),
                ));
            }
            if let Some(range) = &model.exposure_mm {
                let (lo, hi) = (range.min.value, range.max.value);
                if p.exposure_mm < lo - 1e-9 || p.exposure_mm > hi + 1e-9 {
                    return Err(CaseError::invalid(
                        file,
                        format!("{field}.exposure_mm"),
                        format!(
                            "{} mm is outside the {lo}–{hi} mm exposure of {}",
                            p.exposure_mm, p.model_id
                        ),
                    ));
                }
            }
            self.check_probe_in_phantom(file, &field, p, "end of the exposed part")?;
        }
        Ok(())
    }

    /// A probe's active (exposed) part must be usable and, in a phantom, lie inside the block
    /// (both modalities; `end` names the far end as the modality does).
    fn check_probe_in_phantom(&self, file: &str, field: &str, p: &Probe, end: &str) -> Result<(), CaseError> {
        let seg = p
            .exposed_segment()
            .map_err(|e| CaseError::invalid(file, field, e.to_string()))?;
        let CaseSource::Phantom {
            size_mm, centre_lps, ..
        } = &self.source
        else {
            return Ok(());
        };
        for (what, point) in [("tip", seg.start), (end, seg.end)] {
            if !inside_block(&point, centre_lps, size_mm) {
                return Err(CaseError::invalid(
                    file,
                    field,
                    format!(
                        "probe \"{}\": the {what} at ({:.2}, {:.2}, {:.2}) mm LPS lies outside the \
                         phantom ({:?} mm centred on {:?}) — move the probe or enlarge source.size_mm",
                        p.label, point.x, point.y, point.z, size_mm, centre_lps
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_pairs(&self, file: &str) -> Result<(), CaseError> {
        let n = self.probes.len();
        for (i, p) in self.ire.pairs.iter().enumerate() {
            let field = format!("ire.pairs[{i}]");
            for (which, idx) in [("a", p.a), ("b", p.b)] {
                if idx >= n {
                    return Err(CaseError::invalid(
                        file,
                        format!("{field}.{which}"),
                        format!(
                            "probe index {idx} does not exist — the case has {n} probes, indices 0–{}",
                            n.saturating_sub(1)
                        ),
                    ));
                }
            }
            if p.a == p.b {
                return Err(CaseError::invalid(
                    file,
                    field,
                    format!("pairs probe {} with itself", p.a),
                ));
            }
            let same = |q: &ElectrodePair| (q.a, q.b) == (p.a, p.b) || (q.a, q.b) == (p.b, p.a);
            if let Some(j) = self.ire.pairs[..i].iter().position(same) {
                return Err(CaseError::invalid(
                    file,
                    field,
                    format!("probes {} and {} are already paired in ire.pairs[{j}]", p.a, p.b),
                ));
            }
        }
        if self.ire.pairs.is_empty() && self.effective_ire().pairs.is_empty() {
            return Err(CaseError::invalid(
                file,
                "ire.pairs",
                format!(
                    "empty, and no two probes are within max_pair_spacing_mm = {} mm — list the pairs \
                     or move the probes closer",
                    self.ire.max_pair_spacing_mm
                ),
            ));
        }
        Ok(())
    }
}

/// Whether `p` lies in the axis-aligned block (with [`INSIDE_TOLERANCE_MM`]).
fn inside_block(p: &PatientPos, centre_lps: &[f64; 3], size_mm: &[f64; 3]) -> bool {
    (0..3).all(|ax| (p[ax] - centre_lps[ax]).abs() <= size_mm[ax] / 2.0 + INSIDE_TOLERANCE_MM)
}

/// Checks model options (the model's own ranges, [`IreModelOptions::validate`], plus the zone and
/// isolines) naming the field; the error is (field, message).
pub fn check_model_options(o: &IreModelOptions) -> Result<(), (String, String)> {
    let bad = |field: &str, message: String| Err((format!("model.{field}"), message));
    let (lo, hi) = SPACING_RANGE_MM;
    if !o.spacing_mm.is_finite() || o.spacing_mm < lo || o.spacing_mm > hi {
        return bad("spacing_mm", format!("{} — choose {lo}–{hi} mm", o.spacing_mm));
    }
    let max_margin = super::limits::MAX_MARGIN_MM;
    if !o.margin_mm.is_finite() || o.margin_mm < 0.0 || o.margin_mm > max_margin {
        return bad("margin_mm", format!("{} — choose 0–{max_margin} mm", o.margin_mm));
    }
    if let Err(e) = o.check_solver_settings() {
        return bad(e.field, e.message);
    }
    match &o.zone {
        ZoneCriterion::TissueThreshold => {}
        ZoneCriterion::Fixed { threshold_v_per_cm } => {
            if !threshold_v_per_cm.is_finite() || *threshold_v_per_cm <= 0.0 {
                return bad(
                    "zone.threshold_v_per_cm",
                    format!("{threshold_v_per_cm} — must be positive (V/cm)"),
                );
            }
        }
        ZoneCriterion::PelegFermi { max_survival } => {
            if !max_survival.is_finite() || *max_survival <= 0.0 || *max_survival >= 1.0 {
                return bad(
                    "zone.max_survival",
                    format!("{max_survival} — must be between 0 and 1 (e.g. 0.1)"),
                );
            }
        }
    }
    super::limits::check_count(
        "model.isolines_v_per_cm",
        o.isolines_v_per_cm.len(),
        super::limits::MAX_ISOLINES,
        "isolines",
    )?;
    if let Some((i, v)) = o
        .isolines_v_per_cm
        .iter()
        .enumerate()
        .find(|(_, v)| !v.is_finite() || **v <= 0.0)
    {
        return bad(
            &format!("isolines_v_per_cm[{i}]"),
            format!("{v} — must be positive (V/cm)"),
        );
    }
    Ok(())
}

/// The file's `schema_version`, checked to be a whole number ≥ 1.
fn schema_version_of(value: &Value, file: &str) -> Result<u64, CaseError> {
    let Some(obj) = value.as_object() else {
        return Err(CaseError::invalid(
            file,
            TOP_LEVEL,
            "a case file is one JSON object { \"schema_version\": 1, … }",
        ));
    };
    match obj.get("schema_version") {
        None => Err(CaseError::invalid(
            file,
            "schema_version",
            format!(
                "missing — is this an ablaplan case file? (add \"schema_version\": {CASE_SCHEMA_VERSION})"
            ),
        )),
        Some(v) => match v.as_u64() {
            Some(n) if n >= 1 => Ok(n),
            _ => Err(CaseError::invalid(
                file,
                "schema_version",
                format!("{v} — must be a whole number ≥ 1"),
            )),
        },
    }
}

/// Brings an older file's JSON to [`CASE_SCHEMA_VERSION`]. Every released version gets a step
/// here and a golden-file test; version 1 is the first, so nothing is older yet.
fn migrate(value: Value, version: u64, file: &str) -> Result<Value, CaseError> {
    match version {
        v if v == u64::from(CASE_SCHEMA_VERSION) => Ok(value),
        other => Err(CaseError::invalid(
            file,
            "schema_version",
            format!("{other} was never a case schema version (the first is 1)"),
        )),
    }
}

/// The keys a serialised value has (its fields), in order.
fn keys_of<T: Serialize>(t: &T) -> Vec<String> {
    match serde_json::to_value(t) {
        Ok(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Refuses a key of `obj` that is not in `known`. Non-objects are left to the typed parse.
fn refuse_unknown(obj: &Value, path: &str, known: &[String], file: &str) -> Result<(), CaseError> {
    let Some(map) = obj.as_object() else {
        return Ok(());
    };
    match map.keys().find(|k| !known.contains(k)) {
        None => Ok(()),
        Some(k) => Err(CaseError::UnknownField {
            file: file.to_string(),
            field: if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            },
            known: known.join(", "),
        }),
    }
}

/// The `kind` tag of an internally tagged object, if it is a string.
fn kind_of(v: &Value) -> Option<&str> {
    v.get("kind").and_then(Value::as_str)
}

/// Unknown keys anywhere in the case (the structs of other modules do not deny them, and a
/// misspelt optional key would silently fall back to its default). The known keys come from
/// serialising the types, so they follow the code.
fn check_keys(value: &Value, file: &str) -> Result<(), CaseError> {
    let example_probe = Probe {
        model_id: String::new(),
        tip_lps: PatientPos::origin(),
        entry_lps: PatientPos::origin(),
        exposure_mm: 0.0,
        label: String::new(),
    };
    let phantom = CaseSource::Phantom {
        tissue: String::new(),
        size_mm: [0.0; 3],
        centre_lps: [0.0; 3],
    };
    let dicom = CaseSource::Dicom {
        path: PathBuf::new(),
        series_uid: None,
    };
    let example = CaseFile {
        schema_version: CASE_SCHEMA_VERSION,
        name: String::new(),
        description: String::new(),
        source: phantom.clone(),
        probes: Vec::new(),
        ire: IreSettings::default(),
        model: IreModelOptions::default(),
        notes: String::new(),
        // Non-empty so that their keys (skipped when empty) are among the known ones.
        structures: vec![CaseStructure::Import { path: PathBuf::new() }],
        rules: Some(RuleSet::default()),
        modality: Some(Modality::Cryo),
        cryo: Some(CryoCaseSettings::default()),
    };
    refuse_unknown(value, "", &keys_of(&example), file)?;
    check_cryo_keys(value, file)?;
    if let Some(source) = value.get("source") {
        match kind_of(source) {
            Some("phantom") => refuse_unknown(source, "source", &keys_of(&phantom), file)?,
            Some("dicom") => refuse_unknown(source, "source", &keys_of(&dicom), file)?,
            _ => {}
        }
    }
    if let Some(probes) = value.get("probes").and_then(Value::as_array) {
        let known = keys_of(&example_probe);
        for (i, p) in probes.iter().enumerate() {
            refuse_unknown(p, &format!("probes[{i}]"), &known, file)?;
        }
    }
    if let Some(ire) = value.get("ire") {
        // With the optional reason set, so that its key (skipped when unset) is known.
        let full = IreSettings {
            above_generator_cap: Some(String::new()),
            ..IreSettings::default()
        };
        refuse_unknown(ire, "ire", &keys_of(&full), file)?;
        if let Some(pairs) = ire.get("pairs").and_then(Value::as_array) {
            let known = keys_of(&ElectrodePair {
                a: 0,
                b: 0,
                voltage_v: 0.0,
            });
            for (i, p) in pairs.iter().enumerate() {
                refuse_unknown(p, &format!("ire.pairs[{i}]"), &known, file)?;
            }
        }
    }
    if let Some(model) = value.get("model") {
        refuse_unknown(model, "model", &keys_of(&IreModelOptions::default()), file)?;
        if let Some(zone) = model.get("zone") {
            let variant = match kind_of(zone) {
                Some("tissue_threshold") => Some(ZoneCriterion::TissueThreshold),
                Some("fixed") => Some(ZoneCriterion::Fixed {
                    threshold_v_per_cm: 0.0,
                }),
                Some("peleg_fermi") => Some(ZoneCriterion::PelegFermi { max_survival: 0.0 }),
                _ => None,
            };
            if let Some(v) = variant {
                refuse_unknown(zone, "model.zone", &keys_of(&v), file)?;
            }
        }
    }
    Ok(())
}

/// Unknown keys in the `cryo` section (issue 5): the section, its model, protocol, phases and
/// per-probe duties.
fn check_cryo_keys(value: &Value, file: &str) -> Result<(), CaseError> {
    use crate::plan::protocol::{Phase, PhaseKind, ProbeDuty};
    let Some(cryo) = value.get("cryo") else {
        return Ok(());
    };
    let example = CryoCaseSettings {
        user_isotherm_c: Some(0.0),
        ..CryoCaseSettings::default()
    };
    refuse_unknown(cryo, "cryo", &keys_of(&example), file)?;
    if let Some(model) = cryo.get("model") {
        refuse_unknown(model, "cryo.model", &keys_of(&example.model), file)?;
    }
    if let Some(protocol) = cryo.get("protocol") {
        refuse_unknown(protocol, "cryo.protocol", &keys_of(&example.protocol), file)?;
        if let Some(phases) = protocol.get("phases").and_then(Value::as_array) {
            let phase = Phase {
                kind: PhaseKind::Freeze,
                duration_s: 1.0,
                probe_duty: vec![ProbeDuty { probe: 0, duty: 1.0 }],
            };
            let duty = ProbeDuty { probe: 0, duty: 1.0 };
            for (i, p) in phases.iter().enumerate() {
                let path = format!("cryo.protocol.phases[{i}]");
                refuse_unknown(p, &path, &keys_of(&phase), file)?;
                if let Some(duties) = p.get("probe_duty").and_then(Value::as_array) {
                    for (j, d) in duties.iter().enumerate() {
                        refuse_unknown(d, &format!("{path}.probe_duty[{j}]"), &keys_of(&duty), file)?;
                    }
                }
            }
        }
    }
    Ok(())
}

/// A serde_json error as [`CaseError::Parse`], with the field at the error position.
fn parse_error(text: &str, file: &str, e: &serde_json::Error) -> CaseError {
    let (line, column) = (e.line(), e.column());
    let full = e.to_string();
    let suffix = format!(" at line {line} column {column}");
    let mut message = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    let path = if line == 0 {
        String::new()
    } else {
        json_path_at(text, line, column)
    };
    // JSON has no NaN or infinity; say so instead of serde_json's bare "expected value".
    if let Some(rest) = byte_offset(text, line, column).and_then(|o| text.get(o..))
        && ["NaN", "Infinity", "-Infinity", "inf", "-inf", "nan"]
            .iter()
            .any(|w| rest.starts_with(w))
    {
        message = format!("{message}: NaN and infinity are not numbers in JSON — write a finite number");
    }
    CaseError::Parse {
        file: file.to_string(),
        field: if path.is_empty() {
            TOP_LEVEL.to_string()
        } else {
            path
        },
        line,
        column,
        message,
    }
}

/// Byte offset of serde_json's (1-based line, 1-based column of the offending byte).
fn byte_offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)?
    };
    Some((line_start + column.saturating_sub(1)).min(text.len()))
}

/// One open container while scanning JSON text.
enum Frame {
    Object {
        key: Option<String>,
        expecting_key: bool,
        value_done: bool,
    },
    Array {
        index: usize,
        value_done: bool,
    },
}

impl Frame {
    fn set_value_done(&mut self) {
        match self {
            Frame::Object { value_done, .. } | Frame::Array { value_done, .. } => *value_done = true,
        }
    }
}

/// The JSON path (`probes[1].tip_lps[2]`) of the value being read at serde_json's error position:
/// a small scanner over the text before the offending byte. Errors about a whole object
/// ("missing field") point at its closing brace and get the object's path.
fn json_path_at(text: &str, line: usize, column: usize) -> String {
    let Some(end) = byte_offset(text, line, column) else {
        return String::new();
    };
    let bytes = &text.as_bytes()[..end];
    let mut stack: Vec<Frame> = Vec::new();
    let mut in_string = false;
    let mut escaped = false;
    let mut string_buf: Vec<u8> = Vec::new();
    let mut string_is_key = false;
    let mut in_scalar = false;

    fn finish_value(stack: &mut [Frame]) {
        if let Some(top) = stack.last_mut() {
            top.set_value_done();
        }
    }

    for &b in bytes {
        if in_string {
            if escaped {
                escaped = false;
                string_buf.push(b);
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                if string_is_key {
                    if let Some(Frame::Object {
                        key, expecting_key, ..
                    }) = stack.last_mut()
                    {
                        *key = Some(String::from_utf8_lossy(&string_buf).into_owned());
                        *expecting_key = false;
                    }
                } else {
                    finish_value(&mut stack);
                }
            } else {
                string_buf.push(b);
            }
            continue;
        }
        let structural =
            matches!(b, b'{' | b'}' | b'[' | b']' | b',' | b':' | b'"') || b.is_ascii_whitespace();
        if in_scalar && structural {
            in_scalar = false;
            finish_value(&mut stack);
        }
        match b {
            b'{' => stack.push(Frame::Object {
                key: None,
                expecting_key: true,
                value_done: false,
            }),
            b'[' => stack.push(Frame::Array {
                index: 0,
                value_done: false,
            }),
            b'}' | b']' => {
                stack.pop();
                finish_value(&mut stack);
            }
            b',' => match stack.last_mut() {
                Some(Frame::Object {
                    expecting_key,
                    value_done,
                    ..
                }) => {
                    *expecting_key = true;
                    *value_done = false;
                }
                Some(Frame::Array { index, value_done }) => {
                    *index += 1;
                    *value_done = false;
                }
                None => {}
            },
            b':' => {
                if let Some(Frame::Object { value_done, .. }) = stack.last_mut() {
                    *value_done = false;
                }
            }
            b'"' => {
                in_string = true;
                string_buf.clear();
                string_is_key = matches!(
                    stack.last(),
                    Some(Frame::Object {
                        expecting_key: true,
                        ..
                    })
                );
            }
            _ if b.is_ascii_whitespace() => {}
            _ => in_scalar = true,
        }
    }

    let mut path = String::new();
    let n = stack.len();
    for (i, frame) in stack.iter().enumerate() {
        let last = i + 1 == n;
        match frame {
            Frame::Object {
                key: Some(k),
                expecting_key: false,
                value_done,
            } => {
                if last && *value_done {
                    break;
                }
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
            }
            Frame::Object { .. } => break,
            Frame::Array { index, value_done } => {
                if last && *value_done {
                    break;
                }
                path.push_str(&format!("[{index}]"));
            }
        }
    }
    path
}

/// Reads, parses and validates a case file against the built-in tissue classes and catalog.
pub fn load_case(path: &Path) -> Result<CaseFile, CaseError> {
    let tissues = tissue_params::builtin_tissue_params()?;
    let catalog = catalog::builtin_catalog()?;
    load_case_with(path, &tissues, &catalog)
}

/// [`load_case`] with given tissue classes and catalog.
pub fn load_case_with(path: &Path, tissues: &TissueParams, catalog: &Catalog) -> Result<CaseFile, CaseError> {
    let text = std::fs::read_to_string(path).map_err(|source| CaseError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = path.display().to_string();
    let case = CaseFile::from_json(&text, &file)?;
    case.validate(&file, tissues, catalog)?;
    Ok(case)
}

/// The DICOM path of a `Dicom` source resolved against the case file's folder.
pub fn resolve_source_path(case_path: &Path, source_path: &Path) -> PathBuf {
    if source_path.is_absolute() {
        source_path.to_path_buf()
    } else {
        case_path
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join(source_path)
    }
}

/// Saves a case atomically (pretty JSON). Refuses non-finite numbers (JSON cannot hold them) and
/// refuses to replace a file written by a newer ablaplan (its extra content would be lost).
pub fn save_case(path: &Path, case: &CaseFile) -> Result<(), CaseError> {
    let file = path.display().to_string();
    case.check_numbers(&file)?;
    if let Ok(old) = std::fs::read_to_string(path)
        && let Ok(value) = serde_json::from_str::<Value>(&old)
        && let Some(found) = value.get("schema_version").and_then(Value::as_u64)
        && found > u64::from(CASE_SCHEMA_VERSION)
    {
        return Err(CaseError::NewerVersion {
            file,
            found,
            supported: CASE_SCHEMA_VERSION,
        });
    }
    let save_err = |source| CaseError::Save {
        path: path.to_path_buf(),
        source,
    };
    let mut text = serde_json::to_string_pretty(case).map_err(|e| save_err(std::io::Error::other(e)))?;
    text.push('\n');
    write_atomic(path, |f| f.write_all(text.as_bytes())).map_err(save_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_path_points_at_the_field() {
        let text = "{\n  \"a\": {\"b\": [1, 2, NaN]},\n  \"c\": \"x\"\n}";
        // NaN is at line 2, column 22 (1-based).
        let col = text.lines().nth(1).and_then(|l| l.find("NaN")).unwrap() + 1;
        assert_eq!(json_path_at(text, 2, col), "a.b[2]");
    }

    #[test]
    fn json_path_of_missing_field_is_the_object() {
        let text = r#"{"source": {"kind": "phantom", "size_mm": [1, 2, 3]}, "x": 1}"#;
        let col = text.find('}').unwrap() + 1;
        assert_eq!(json_path_at(text, 1, col), "source");
    }

    #[test]
    fn json_path_handles_escapes_and_keys_with_structural_chars() {
        let text = r#"{"we\"ird,{[": {"k": tru"#;
        assert_eq!(json_path_at(text, 1, text.len()), "we\"ird,{[.k");
    }
}
