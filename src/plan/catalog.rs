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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The boundary model of a cryoprobe's active length: held at `freeze_surface_temperature_c`
/// during a freeze, adiabatic in a passive thaw, held at `active_thaw_temperature_c` in an
/// active thaw (REFERENCE.md §3).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CryoBoundary {
    pub freeze_surface_temperature_c: Sourced,
    pub active_thaw_temperature_c: Sourced,
    /// How `freeze_surface_temperature_c` was fitted to the model's catalog isotherm, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<CryoCalibration>,
}

/// A one-parameter calibration: the effective freeze surface temperature for which a single probe
/// in a block of `medium_class` at `initial_temperature_c`, frozen for `freeze_s`, reproduces the
/// `fitted_extent` ("width_mm" or "length_mm") of the catalog isotherm at `isotherm_c`
/// (`physics::cryo::calibrate`; the test `cryo_model::calibration_reproduces_the_catalog`
/// recomputes it).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CryoCalibration {
    pub isotherm_c: f64,
    pub fitted_extent: String,
    pub medium_class: String,
    pub initial_temperature_c: f64,
    pub freeze_s: f64,
    pub spacing_mm: f64,
    pub method: String,
    /// The target was reached inside the physical bracket (`false`: the fit stopped at the
    /// bracket's end; `method` says why).
    pub reached: bool,
    /// What the model gives at the stored temperature (mm).
    pub model_width_mm: f64,
    pub model_length_mm: f64,
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
        for iso in &self.isotherms {
            let t = iso.temperature_c;
            out.push((format!("{}.isotherm[{t} °C].length_mm", self.id), &iso.length_mm));
            out.push((format!("{}.isotherm[{t} °C].width_mm", self.id), &iso.width_mm));
        }
        if let Some(b) = &self.cryo_boundary {
            out.push((
                format!("{}.cryo_boundary.freeze_surface_temperature_c", self.id),
                &b.freeze_surface_temperature_c,
            ));
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
                let (f, t) = (
                    b.freeze_surface_temperature_c.value,
                    b.active_thaw_temperature_c.value,
                );
                if !(-273.0..0.0).contains(&f) || !(0.0..=100.0).contains(&t) {
                    return Err(AssetError::invalid(
                        file,
                        format!(
                            "{}.cryo_boundary: freeze surface {f} °C must lie in −273…0 °C and active thaw \
                             {t} °C in 0…100 °C",
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
