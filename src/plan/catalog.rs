//! The probe catalog (`assets/probes.json`): IRE electrodes and cryoprobes, every number with its
//! source. A built-in copy is compiled in; a user-edited file is read with [`load_catalog`].

use super::{AssetError, Sourced, read_asset};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The built-in catalog text (also the template for a user file).
pub const BUILTIN_CATALOG_JSON: &str = include_str!("../../assets/probes.json");
const BUILTIN_NAME: &str = "built-in assets/probes.json";
/// The catalog schema this code reads.
pub const CATALOG_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Modality {
    Ire,
    Cryo,
}

/// Adjustable exposure of an IRE electrode (mm).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExposureRange {
    pub min: Sourced,
    pub max: Sourced,
    pub step: Sourced,
    pub default: Sourced,
}

impl ExposureRange {
    /// Every settable exposure, min..=max in steps (mm).
    pub fn steps_mm(&self) -> Vec<f64> {
        let n = ((self.max.value - self.min.value) / self.step.value).round() as usize;
        (0..=n)
            .map(|i| self.min.value + i as f64 * self.step.value)
            .collect()
    }

    /// The nearest settable exposure to `mm`.
    pub fn snap_mm(&self, mm: f64) -> f64 {
        let clamped = mm.clamp(self.min.value, self.max.value);
        let i = ((clamped - self.min.value) / self.step.value).round();
        (self.min.value + i * self.step.value).min(self.max.value)
    }
}

/// A reference isotherm of a cryoprobe (size in gel from the manufacturer or a publication).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Isotherm {
    /// Temperature of the isotherm (°C); a label, not a measured quantity.
    pub temperature_c: f64,
    pub medium: String,
    /// Extent along the probe (mm).
    pub length_mm: Sourced,
    /// Extent perpendicular to the probe (mm).
    pub width_mm: Sourced,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeModel {
    pub id: String,
    pub name: String,
    pub modality: Modality,
    pub gauge: String,
    pub outer_diameter_mm: Sourced,
    /// IRE electrodes: the adjustable exposed length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure_mm: Option<ExposureRange>,
    /// Cryoprobes: the active (freezing) length, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_length_mm: Option<Sourced>,
    #[serde(default)]
    pub isotherms: Vec<Isotherm>,
    /// Cryoprobes: the thermal boundary model of the active length (issue 5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cryo_boundary: Option<CryoBoundary>,
    /// The catalog's shaft lengths (tip to hub, mm; e.g. 150 and 250 mm): a tip deeper than the
    /// longest is out of reach (issue 16). Empty = unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lengths_mm: Vec<Sourced>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The boundary model of a cryoprobe (REFERENCE.md §3, §7): during a freeze, argon gas at
/// `gas_side.gas_temperature_c` behind a convective wall (finite cooling power: the wall is
/// warmer under a high heat load) — or, for a model without a gas side, the surface held at
/// `freeze_surface_temperature_c`; adiabatic in a passive thaw; held at
/// `active_thaw_temperature_c` in an active thaw.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CryoBoundary {
    /// The gas side of the wall (issue 14). Preferred over `freeze_surface_temperature_c`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gas_side: Option<GasSide>,
    /// A fixed surface temperature (Dirichlet), used only without `gas_side`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub freeze_surface_temperature_c: Option<Sourced>,
    pub active_thaw_temperature_c: Sourced,
    /// How the gas side was fitted, on which case, with the residuals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CryoCalibration>,
}

/// A number with the range it may take (published or physical) and, after calibration, the range
/// that keeps the calibration case within its tolerance (the band's range).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RangedValue {
    pub value: f64,
    pub min: f64,
    pub max: f64,
    pub source: String,
    /// Where `min`..`max` comes from.
    pub range_source: String,
    /// The calibrated range (values for which the calibration case stays within its tolerance);
    /// it widens the uncertainty band. Absent: the band uses `min`..`max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band_min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band_max: Option<f64>,
    #[serde(default = "super::default_true")]
    pub confirmed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl RangedValue {
    /// The band's range: the calibrated one, else the published / physical one.
    pub fn band(&self) -> (f64, f64) {
        (
            self.band_min.unwrap_or(self.min),
            self.band_max.unwrap_or(self.max),
        )
    }

    fn check(&self, file: &str, what: &str) -> Result<(), AssetError> {
        let (lo, hi) = self.band();
        let finite = [self.value, self.min, self.max, lo, hi]
            .iter()
            .all(|v| v.is_finite());
        if !finite || self.source.trim().is_empty() || self.range_source.trim().is_empty() {
            return Err(AssetError::invalid(
                file,
                format!("{what}: value, range and their sources must be given"),
            ));
        }
        if !(self.min <= self.value && self.value <= self.max) {
            return Err(AssetError::invalid(
                file,
                format!(
                    "{what}: {} lies outside its range {}…{}",
                    self.value, self.min, self.max
                ),
            ));
        }
        if !(self.min <= lo && lo <= self.value && self.value <= hi && hi <= self.max) {
            return Err(AssetError::invalid(
                file,
                format!(
                    "{what}: the band {lo}…{hi} must contain {} and lie in {}…{}",
                    self.value, self.min, self.max
                ),
            ));
        }
        Ok(())
    }
}

/// The gas side of a cryoprobe's wall: gas temperature, heat-transfer coefficient h and how h
/// varies along the active length and into the shaft's heat-exchange region (REFERENCE.md §7:
/// Etheridge et al., J Biomech Eng 2013 — a convective wall with h varying along the probe).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GasSide {
    pub gas_temperature_c: Sourced,
    /// h at profile value 1 (W/m²·K).
    pub h_w_per_m2_k: RangedValue,
    /// Relative h along the active length: (fraction of the active length from the tip, factor)
    /// points, ascending, linear between them and constant beyond.
    pub h_profile: HProfile,
    /// Length of the shaft's heat-exchange region behind the active length (mm), where the
    /// returning gas still cools the wall; 0 = none.
    pub heat_exchange_length_mm: Sourced,
    /// Relative h at the start of that region (falls linearly to 0 at its end).
    pub heat_exchange_relative_h: Sourced,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HProfile {
    pub points: Vec<[f64; 2]>,
    pub source: String,
    #[serde(default = "super::default_true")]
    pub confirmed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl HProfile {
    /// The factor at `fraction` of the active length from the tip.
    pub fn at(&self, fraction: f64) -> f64 {
        profile_at(&self.points, fraction)
    }
}

/// A piecewise-linear profile's value at `fraction` (constant beyond its ends; 1 when empty).
pub fn profile_at(p: &[[f64; 2]], fraction: f64) -> f64 {
    {
        match (p.first(), p.last()) {
            (Some(a), _) if fraction <= a[0] => a[1],
            (_, Some(b)) if fraction >= b[0] => b[1],
            _ => p.windows(2).find(|w| fraction <= w[1][0]).map_or(1.0, |w| {
                let span = w[1][0] - w[0][0];
                if span <= 0.0 {
                    w[1][1]
                } else {
                    w[0][1] + (w[1][1] - w[0][1]) * (fraction - w[0][0]) / span
                }
            }),
        }
    }
}

/// The calibration of a probe model's gas side (and active length) on the calibration set of
/// REFERENCE.md §7 (`physics::cryo::calibrate`, `ablaplan calibrate cryo` reruns it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CryoCalibration {
    /// The calibration case, e.g. "C2 single probe (Littrup 2009)".
    pub calibrated_on: String,
    /// Its case file (`assets/cases/…`).
    pub case_file: String,
    /// The parameters fitted (names as in this file).
    pub fitted: Vec<String>,
    pub method: String,
    pub spacing_mm: f64,
    pub targets: Vec<CalibrationTarget>,
    /// When the active length was fitted: the lengths for which its target stays within
    /// tolerance (the band's range of the active length, mm).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_length_band_mm: Option<[f64; 2]>,
    /// Every target within its tolerance at the stored values.
    pub reached: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One measured size the calibration aimed at and what the model gives at the stored values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibrationTarget {
    /// e.g. "lethal (−30 °C) diameter" or "0 °C length".
    pub quantity: String,
    pub published_mm: f64,
    pub tolerance_mm: f64,
    pub model_mm: f64,
    /// model − published (mm).
    pub residual_mm: f64,
}

impl ProbeModel {
    pub fn radius_mm(&self) -> f64 {
        self.outer_diameter_mm.value / 2.0
    }

    /// The exposed/active length used by default: the IRE default exposure or the cryo active
    /// length.
    pub fn default_active_mm(&self) -> Option<f64> {
        self.exposure_mm
            .as_ref()
            .map(|e| e.default.value)
            .or(self.active_length_mm.as_ref().map(|a| a.value))
    }

    /// The catalog lengths (mm), shortest first.
    pub fn lengths(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self.lengths_mm.iter().map(|l| l.value).collect();
        v.sort_by(f64::total_cmp);
        v
    }

    /// Every number of the model with a name (for listing sources and checks).
    pub fn quantities(&self) -> Vec<(String, &Sourced)> {
        let mut out = vec![(format!("{}.outer_diameter_mm", self.id), &self.outer_diameter_mm)];
        if let Some(e) = &self.exposure_mm {
            for (n, q) in [
                ("min", &e.min),
                ("max", &e.max),
                ("step", &e.step),
                ("default", &e.default),
            ] {
                out.push((format!("{}.exposure_mm.{n}", self.id), q));
            }
        }
        if let Some(a) = &self.active_length_mm {
            out.push((format!("{}.active_length_mm", self.id), a));
        }
        for (i, l) in self.lengths_mm.iter().enumerate() {
            out.push((format!("{}.lengths_mm[{i}]", self.id), l));
        }
        for iso in &self.isotherms {
            let t = iso.temperature_c;
            out.push((format!("{}.isotherm[{t} °C].length_mm", self.id), &iso.length_mm));
            out.push((format!("{}.isotherm[{t} °C].width_mm", self.id), &iso.width_mm));
        }
        if let Some(b) = &self.cryo_boundary {
            if let Some(f) = &b.freeze_surface_temperature_c {
                out.push((
                    format!("{}.cryo_boundary.freeze_surface_temperature_c", self.id),
                    f,
                ));
            }
            if let Some(g) = &b.gas_side {
                out.push((
                    format!("{}.cryo_boundary.gas_side.gas_temperature_c", self.id),
                    &g.gas_temperature_c,
                ));
                out.push((
                    format!("{}.cryo_boundary.gas_side.heat_exchange_length_mm", self.id),
                    &g.heat_exchange_length_mm,
                ));
                out.push((
                    format!("{}.cryo_boundary.gas_side.heat_exchange_relative_h", self.id),
                    &g.heat_exchange_relative_h,
                ));
            }
            out.push((
                format!("{}.cryo_boundary.active_thaw_temperature_c", self.id),
                &b.active_thaw_temperature_c,
            ));
        }
        out
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    pub schema_version: u32,
    #[serde(default)]
    pub description: String,
    pub probes: Vec<ProbeModel>,
}

impl Catalog {
    pub fn get(&self, id: &str) -> Option<&ProbeModel> {
        self.probes.iter().find(|p| p.id == id)
    }

    pub fn of_modality(&self, m: Modality) -> impl Iterator<Item = &ProbeModel> {
        self.probes.iter().filter(move |p| p.modality == m)
    }

    /// Every number in the catalog with its name.
    pub fn quantities(&self) -> Vec<(String, &Sourced)> {
        self.probes.iter().flat_map(|p| p.quantities()).collect()
    }

    fn validate(&self, file: &str) -> Result<(), AssetError> {
        if self.schema_version != CATALOG_SCHEMA_VERSION {
            return Err(AssetError::invalid(
                file,
                format!(
                    "schema_version {} is not supported (expected {CATALOG_SCHEMA_VERSION})",
                    self.schema_version
                ),
            ));
        }
        if self.probes.is_empty() {
            return Err(AssetError::invalid(file, "no probes".into()));
        }
        for (i, p) in self.probes.iter().enumerate() {
            if p.id.trim().is_empty() {
                return Err(AssetError::invalid(file, format!("probe #{i}: empty id")));
            }
            if self.probes[..i].iter().any(|q| q.id == p.id) {
                return Err(AssetError::invalid(
                    file,
                    format!("probe id \"{}\" appears twice", p.id),
                ));
            }
            for (name, q) in p.quantities() {
                q.check(file, &name)?;
                // Temperatures may be negative (cryo boundary); every other number is a size.
                if !name.contains(".cryo_boundary.")
                    && (q.value < 0.0 || (q.value == 0.0 && !name.contains("isotherm")))
                {
                    return Err(AssetError::invalid(
                        file,
                        format!("{name}: {} must be positive", q.value),
                    ));
                }
            }
            if p.outer_diameter_mm.value <= 0.0 {
                return Err(AssetError::invalid(
                    file,
                    format!("{}.outer_diameter_mm must be positive", p.id),
                ));
            }
            match (p.modality, &p.exposure_mm) {
                (Modality::Ire, None) => {
                    return Err(AssetError::invalid(
                        file,
                        format!("{}: an IRE electrode needs \"exposure_mm\"", p.id),
                    ));
                }
                (_, Some(e)) => {
                    let (lo, hi, st, d) = (e.min.value, e.max.value, e.step.value, e.default.value);
                    let steps = (hi - lo) / st;
                    if lo > hi || st <= 0.0 || (steps - steps.round()).abs() > 1e-6 {
                        return Err(AssetError::invalid(
                            file,
                            format!(
                                "{}.exposure_mm: min {lo}, max {hi}, step {st} do not make whole steps",
                                p.id
                            ),
                        ));
                    }
                    if !(lo..=hi).contains(&d) || (e.snap_mm(d) - d).abs() > 1e-6 {
                        return Err(AssetError::invalid(
                            file,
                            format!("{}.exposure_mm.default {d} is not one of the steps", p.id),
                        ));
                    }
                }
                (Modality::Cryo, None) => {}
            }
            if let Some(b) = &p.cryo_boundary {
                let f = match (&b.gas_side, &b.freeze_surface_temperature_c) {
                    (Some(g), _) => g.gas_temperature_c.value,
                    (None, Some(f)) => f.value,
                    (None, None) => {
                        return Err(AssetError::invalid(
                            file,
                            format!(
                                "{}.cryo_boundary: needs \"gas_side\" or \"freeze_surface_temperature_c\"",
                                p.id
                            ),
                        ));
                    }
                };
                let t = b.active_thaw_temperature_c.value;
                if let Some(g) = &b.gas_side {
                    let what = format!("{}.cryo_boundary.gas_side", p.id);
                    g.h_w_per_m2_k.check(file, &format!("{what}.h_w_per_m2_k"))?;
                    if g.h_w_per_m2_k.min <= 0.0 {
                        return Err(AssetError::invalid(
                            file,
                            format!("{what}.h_w_per_m2_k: the range must be positive"),
                        ));
                    }
                    let pts = &g.h_profile.points;
                    let ascending = pts.windows(2).all(|w| w[0][0] < w[1][0]);
                    let valid = pts.iter().all(|q| {
                        q[0].is_finite() && q[1].is_finite() && (0.0..=1.0).contains(&q[0]) && q[1] >= 0.0
                    });
                    if pts.is_empty() || !ascending || !valid || g.h_profile.source.trim().is_empty() {
                        return Err(AssetError::invalid(
                            file,
                            format!(
                                "{what}.h_profile: give ascending [fraction 0…1, factor ≥ 0] points and a source"
                            ),
                        ));
                    }
                    if g.heat_exchange_length_mm.value < 0.0 || g.heat_exchange_relative_h.value < 0.0 {
                        return Err(AssetError::invalid(
                            file,
                            format!("{what}: the heat-exchange region's length and relative h must be ≥ 0"),
                        ));
                    }
                }
                if !(-273.0..0.0).contains(&f) || !(0.0..=100.0).contains(&t) {
                    return Err(AssetError::invalid(
                        file,
                        format!(
                            "{}.cryo_boundary: gas / freeze surface {f} °C must lie in −273…0 °C and active \
                             thaw {t} °C in 0…100 °C",
                            p.id
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Parses and validates catalog text; `file` names it in errors.
pub fn parse_catalog(text: &str, file: &str) -> Result<Catalog, AssetError> {
    let cat: Catalog = serde_json::from_str(text).map_err(|e| AssetError::parse(file, &e))?;
    cat.validate(file)?;
    Ok(cat)
}

/// The built-in catalog.
pub fn builtin_catalog() -> Result<Catalog, AssetError> {
    parse_catalog(BUILTIN_CATALOG_JSON, BUILTIN_NAME)
}

/// Loads a user-edited catalog file.
pub fn load_catalog(path: &Path) -> Result<Catalog, AssetError> {
    let text = read_asset(path)?;
    parse_catalog(&text, &path.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_missing_source_and_names_the_value() {
        let text = BUILTIN_CATALOG_JSON.replacen(
            "\"source\": \"19G outer diameter",
            "\"source\": \" \", \"x\": \"",
            1,
        );
        let err = parse_catalog(&text, "user.json").expect_err("empty source");
        let msg = err.to_string();
        assert!(msg.contains("user.json"), "{msg}");
        assert!(msg.contains("nanoknife_19g.outer_diameter_mm"), "{msg}");
    }

    #[test]
    fn snaps_exposure() -> Result<(), AssetError> {
        let cat = builtin_catalog()?;
        let e = cat
            .get("nanoknife_19g")
            .and_then(|m| m.exposure_mm.as_ref())
            .ok_or_else(|| AssetError::invalid("t", "no electrode".into()))?;
        assert_eq!(e.snap_mm(17.0), 15.0);
        assert_eq!(e.snap_mm(18.0), 20.0);
        assert_eq!(e.snap_mm(100.0), 40.0);
        assert_eq!(e.snap_mm(0.0), 5.0);
        Ok(())
    }
}
