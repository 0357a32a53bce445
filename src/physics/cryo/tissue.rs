//! Cryo tissue parameters (`assets/tissues_cryo.json`): per tissue class the unfrozen/frozen
//! conductivity and heat capacity, density, latent heat, phase-change band, perfusion and
//! metabolism; the blood constants; the lethal isotherms with their sources
//! (`../shared/REFERENCE.md` §3). Also the enthalpy form of a class ([`Material`]) the solver uses,
//! and the tissue class of every compute-grid node, shared with the IRE model.

use crate::geometry::PatientPos;
use crate::physics::grid::ComputeGrid;
use crate::physics::ire::model::TissueSource;
use crate::plan::tissue_params::{REQUIRED_CLASSES, TissueParams};
use crate::plan::{AssetError, Sourced, read_asset};
use serde::{Deserialize, Serialize};
use std::path::Path;

pub use crate::plan::cryo::BUILTIN_CRYO_TISSUES_JSON;
const BUILTIN_NAME: &str = "built-in assets/tissues_cryo.json";
pub const CRYO_TISSUES_SCHEMA_VERSION: u32 = 1;

/// Class index of nodes with no tissue (beyond a phantom's faces).
pub const NO_TISSUE: u8 = u8::MAX;

/// One tissue class (SI units, °C).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CryoClass {
    pub id: String,
    pub name: String,
    /// Modelled as a perfect insulator (gas): no heat flows through it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insulator: bool,
    pub k_unfrozen_w_per_m_k: Sourced,
    pub k_frozen_w_per_m_k: Sourced,
    /// Ice-like frozen phases conduct better the colder they are (ice: 2.2 W/m·K at 0 °C, ≈ 6 at
    /// −185 °C): `k(T) = k_frozen + a (1/T − 1/T_solidus)`, T in kelvin, `a` in W/m. Absent =
    /// constant `k_frozen` (tissue classes: no published temperature law in REFERENCE.md §3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k_frozen_inverse_t_w_per_m: Option<Sourced>,
    pub c_unfrozen_j_per_kg_k: Sourced,
    pub c_frozen_j_per_kg_k: Sourced,
    pub density_kg_per_m3: Sourced,
    pub latent_heat_j_per_kg: Sourced,
    /// Fully frozen below this temperature.
    pub solidus_c: Sourced,
    /// Fully unfrozen above this temperature.
    pub liquidus_c: Sourced,
    pub perfusion_per_s: Sourced,
    /// The published spread of the perfusion (feeds the uncertainty band; absent = no spread).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub perfusion_range_per_s: Option<SourcedRange>,
    pub metabolism_w_per_m3: Sourced,
}

/// A range with its source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourcedRange {
    pub min: f64,
    pub max: f64,
    pub source: String,
    #[serde(default = "yes")]
    pub confirmed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn yes() -> bool {
    true
}

impl CryoClass {
    fn quantities(&self) -> [(&'static str, &Sourced); 10] {
        [
            ("k_unfrozen_w_per_m_k", &self.k_unfrozen_w_per_m_k),
            ("k_frozen_w_per_m_k", &self.k_frozen_w_per_m_k),
            ("c_unfrozen_j_per_kg_k", &self.c_unfrozen_j_per_kg_k),
            ("c_frozen_j_per_kg_k", &self.c_frozen_j_per_kg_k),
            ("density_kg_per_m3", &self.density_kg_per_m3),
            ("latent_heat_j_per_kg", &self.latent_heat_j_per_kg),
            ("solidus_c", &self.solidus_c),
            ("liquidus_c", &self.liquidus_c),
            ("perfusion_per_s", &self.perfusion_per_s),
            ("metabolism_w_per_m3", &self.metabolism_w_per_m3),
        ]
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BloodParams {
    pub density_kg_per_m3: Sourced,
    pub specific_heat_j_per_kg_k: Sourced,
    /// Arterial (body core) temperature: perfusion brings tissue towards it; large vessels are
    /// held at it.
    pub arterial_temperature_c: Sourced,
}

/// A lethal isotherm the UI offers (default −40 °C; −30, −20 °C alternatives).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LethalIsotherm {
    pub id: String,
    pub temperature_c: Sourced,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub default: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CryoTissues {
    pub schema_version: u32,
    #[serde(default)]
    pub description: String,
    pub blood: BloodParams,
    pub lethal_isotherms: Vec<LethalIsotherm>,
    pub classes: Vec<CryoClass>,
}

/// Phantom media the file must define besides the IRE classes.
pub const PHANTOM_CLASSES: [&str; 2] = ["agar", "gel"];

impl CryoTissues {
    pub fn class(&self, id: &str) -> Option<&CryoClass> {
        self.classes.iter().find(|c| c.id == id)
    }

    pub fn class_index(&self, id: &str) -> Option<usize> {
        self.classes.iter().position(|c| c.id == id)
    }

    /// The default lethal isotherm (°C): the entry marked `default`, else −40 °C.
    pub fn default_lethal_c(&self) -> f64 {
        self.lethal_isotherms
            .iter()
            .find(|l| l.default)
            .map_or(-40.0, |l| l.temperature_c.value)
    }

    /// Every number with a name.
    pub fn quantities(&self) -> Vec<(String, &Sourced)> {
        let mut out = vec![
            (
                "blood.density_kg_per_m3".to_string(),
                &self.blood.density_kg_per_m3,
            ),
            (
                "blood.specific_heat_j_per_kg_k".to_string(),
                &self.blood.specific_heat_j_per_kg_k,
            ),
            (
                "blood.arterial_temperature_c".to_string(),
                &self.blood.arterial_temperature_c,
            ),
        ];
        for l in &self.lethal_isotherms {
            out.push((
                format!("lethal_isotherms.{}.temperature_c", l.id),
                &l.temperature_c,
            ));
        }
        for c in &self.classes {
            for (n, q) in c.quantities() {
                out.push((format!("{}.{n}", c.id), q));
            }
        }
        out
    }

    fn validate(&self, file: &str) -> Result<(), AssetError> {
        if self.schema_version != CRYO_TISSUES_SCHEMA_VERSION {
            return Err(AssetError::invalid(
                file,
                format!(
                    "schema_version {} is not supported (expected {CRYO_TISSUES_SCHEMA_VERSION})",
                    self.schema_version
                ),
            ));
        }
        for (name, q) in self.quantities() {
            q.check(file, &name)?;
            let may_be_zero_or_negative = name.ends_with("_c");
            let may_be_zero = name.ends_with("perfusion_per_s")
                || name.ends_with("metabolism_w_per_m3")
                || name.ends_with("latent_heat_j_per_kg");
            if !may_be_zero_or_negative && (q.value < 0.0 || (q.value == 0.0 && !may_be_zero)) {
                return Err(AssetError::invalid(
                    file,
                    format!("{name}: {} must be positive", q.value),
                ));
            }
        }
        for (i, c) in self.classes.iter().enumerate() {
            if let Some(r) = &c.perfusion_range_per_s {
                let v = c.perfusion_per_s.value;
                if !(r.min.is_finite() && r.max.is_finite() && 0.0 <= r.min && r.min <= v && v <= r.max)
                    || r.source.trim().is_empty()
                {
                    return Err(AssetError::invalid(
                        file,
                        format!(
                            "{}.perfusion_range_per_s: {}…{} must contain {v} (≥ 0) and give a source",
                            c.id, r.min, r.max
                        ),
                    ));
                }
            }
            if self.classes[..i].iter().any(|d| d.id == c.id) {
                return Err(AssetError::invalid(
                    file,
                    format!("class \"{}\" appears twice", c.id),
                ));
            }
            if let Some(a) = &c.k_frozen_inverse_t_w_per_m {
                let name = format!("{}.k_frozen_inverse_t_w_per_m", c.id);
                a.check(file, &name)?;
                if a.value < 0.0 {
                    return Err(AssetError::invalid(
                        file,
                        format!("{name}: {} must not be negative", a.value),
                    ));
                }
            }
            if c.solidus_c.value >= c.liquidus_c.value {
                return Err(AssetError::invalid(
                    file,
                    format!(
                        "{}: solidus_c {} must be below liquidus_c {}",
                        c.id, c.solidus_c.value, c.liquidus_c.value
                    ),
                ));
            }
        }
        for id in REQUIRED_CLASSES.iter().chain(PHANTOM_CLASSES.iter()) {
            if self.class(id).is_none() {
                return Err(AssetError::invalid(
                    file,
                    format!("tissue class \"{id}\" is missing"),
                ));
            }
        }
        if self.classes.len() >= usize::from(NO_TISSUE) {
            return Err(AssetError::invalid(file, "too many classes".into()));
        }
        if self.lethal_isotherms.iter().filter(|l| l.default).count() > 1 {
            return Err(AssetError::invalid(
                file,
                "more than one lethal isotherm is marked default".into(),
            ));
        }
        Ok(())
    }

    /// The solver's material of every class, in class order.
    pub fn materials(&self) -> Vec<Material> {
        self.classes
            .iter()
            .map(|c| Material::new(c, &self.blood))
            .collect()
    }
}

pub fn parse_cryo_tissues(text: &str, file: &str) -> Result<CryoTissues, AssetError> {
    let p: CryoTissues = serde_json::from_str(text).map_err(|e| AssetError::parse(file, &e))?;
    p.validate(file)?;
    Ok(p)
}

pub fn builtin_cryo_tissues() -> Result<CryoTissues, AssetError> {
    parse_cryo_tissues(BUILTIN_CRYO_TISSUES_JSON, BUILTIN_NAME)
}

pub fn load_cryo_tissues(path: &Path) -> Result<CryoTissues, AssetError> {
    let text = read_asset(path)?;
    parse_cryo_tissues(&text, &path.display().to_string())
}

/// 0 °C in kelvin.
pub const KELVIN: f64 = 273.15;

/// The coldest temperature any probe reaches (liquid nitrogen, −196 °C; argon boils at −186 °C):
/// where the stability bound takes the conductivity of a class whose frozen k rises as 1/T.
pub const COLDEST_C: f64 = -196.0;

/// A tissue class in the enthalpy form the solver integrates (SI, volumetric, °C).
///
/// Volumetric enthalpy `H` (J/m³) is 0 at the solidus; below it `H = Cs (T − Ts)`; in the band
/// `H = Cm (T − Ts)` with `Cm = L/(Tl − Ts) + (Cs + Cl)/2` (latent heat released uniformly over the
/// band, plus the mean sensible heat); above the liquidus `H = Hl + Cl (T − Tl)`. The liquid
/// fraction rises linearly over the band, and `k` with it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Material {
    /// ρ c frozen / unfrozen (J/m³·K).
    pub cs: f64,
    pub cl: f64,
    /// ρ L (J/m³).
    pub latent: f64,
    pub ts_c: f64,
    pub tl_c: f64,
    pub ks: f64,
    pub kl: f64,
    /// Frozen conductivity's 1/T term (W/m): `k_s(T) = ks + ka (1/T_K − 1/Ts_K)` below the
    /// solidus; 0 = constant `ks`.
    pub ka: f64,
    /// ω ρ_b c_b (W/m³·K), applied times the liquid fraction.
    pub perfusion_w_per_m3_k: f64,
    pub metabolism_w_per_m3: f64,
    pub insulator: bool,
}

impl Material {
    pub fn new(c: &CryoClass, blood: &BloodParams) -> Self {
        let rho = c.density_kg_per_m3.value;
        Self {
            cs: rho * c.c_frozen_j_per_kg_k.value,
            cl: rho * c.c_unfrozen_j_per_kg_k.value,
            latent: rho * c.latent_heat_j_per_kg.value,
            ts_c: c.solidus_c.value,
            tl_c: c.liquidus_c.value,
            ks: c.k_frozen_w_per_m_k.value,
            kl: c.k_unfrozen_w_per_m_k.value,
            ka: c.k_frozen_inverse_t_w_per_m.as_ref().map_or(0.0, |a| a.value),
            perfusion_w_per_m3_k: c.perfusion_per_s.value
                * blood.density_kg_per_m3.value
                * blood.specific_heat_j_per_kg_k.value,
            metabolism_w_per_m3: c.metabolism_w_per_m3.value,
            insulator: c.insulator,
        }
    }

    /// Mushy-band heat capacity (J/m³·K).
    pub fn cm(&self) -> f64 {
        self.latent / (self.tl_c - self.ts_c) + 0.5 * (self.cs + self.cl)
    }

    /// Enthalpy at the liquidus (J/m³).
    pub fn hl(&self) -> f64 {
        self.cm() * (self.tl_c - self.ts_c)
    }

    pub fn enthalpy(&self, t_c: f64) -> f64 {
        if t_c <= self.ts_c {
            self.cs * (t_c - self.ts_c)
        } else if t_c < self.tl_c {
            self.cm() * (t_c - self.ts_c)
        } else {
            self.hl() + self.cl * (t_c - self.tl_c)
        }
    }

    pub fn temperature(&self, h: f64) -> f64 {
        let hl = self.hl();
        if h <= 0.0 {
            self.ts_c + h / self.cs
        } else if h < hl {
            self.ts_c + h / self.cm()
        } else {
            self.tl_c + (h - hl) / self.cl
        }
    }

    pub fn liquid_fraction(&self, h: f64) -> f64 {
        (h / self.hl()).clamp(0.0, 1.0)
    }

    pub fn conductivity(&self, h: f64) -> f64 {
        let ks = self.frozen_conductivity(self.temperature(h));
        ks + (self.kl - ks) * self.liquid_fraction(h)
    }

    /// Conductivity of the frozen phase at `t_c` (the solidus value above the solidus; no
    /// colder than [`COLDEST_C`], where the 1/T law is bounded).
    pub fn frozen_conductivity(&self, t_c: f64) -> f64 {
        let t_k = t_c.min(self.ts_c).max(COLDEST_C) + KELVIN;
        self.ks + self.ka * (1.0 / t_k - 1.0 / (self.ts_c + KELVIN))
    }

    /// The largest conductivity the class reaches down to `coldest_c` (the stability bound).
    pub fn max_conductivity(&self, coldest_c: f64) -> f64 {
        self.kl.max(self.frozen_conductivity(coldest_c))
    }

    /// dH/dT at enthalpy `h` (J/m³·K).
    pub fn slope(&self, h: f64) -> f64 {
        if h <= 0.0 {
            self.cs
        } else if h < self.hl() {
            self.cm()
        } else {
            self.cl
        }
    }
}

/// Where a node's tissue comes from in a cryo plan.
#[derive(Clone, Copy, Debug)]
pub enum CryoTissueSource<'a> {
    /// A homogeneous block of one cryo class (`assets/tissues_cryo.json` id, e.g. "agar") at
    /// `temperature_c`, `size_mm` along L, P, S centred on `centre_lps`. Its faces are adiabatic.
    Phantom {
        class_id: &'a str,
        centre_lps: PatientPos,
        size_mm: [f64; 3],
        temperature_c: f64,
    },
    /// A CT: classes from HU bins and structure kinds, exactly as the IRE model
    /// (`physics::ire::tissue::node_classes` with the IRE class ids, which the cryo file shares).
    Ct {
        volume: &'a crate::volume::Volume,
        structures: &'a [crate::anatomy::structure::Structure],
    },
}

/// Cryo class index per node ([`NO_TISSUE`] beyond a phantom's faces). CT nodes are classified by
/// the IRE model's own function (HU bins, structure overrides with the same priorities), then
/// mapped to the cryo class of the same id.
pub fn node_classes(
    grid: &ComputeGrid,
    source: &CryoTissueSource<'_>,
    tissues: &CryoTissues,
    ire_params: &TissueParams,
) -> Result<Vec<u8>, String> {
    match source {
        CryoTissueSource::Phantom {
            class_id,
            centre_lps,
            size_mm,
            ..
        } => {
            let c = tissues.class_index(class_id).ok_or_else(|| {
                format!("unknown cryo tissue class \"{class_id}\" — see assets/tissues_cryo.json")
            })? as u8;
            let eps = 1e-6 * grid.spacing_mm;
            let half = nalgebra::Vector3::from(*size_mm) * 0.5;
            let (lo, hi) = (centre_lps.coords - half, centre_lps.coords + half);
            Ok((0..grid.len())
                .map(|idx| {
                    let [i, j, k] = grid.ijk(idx);
                    let p = grid.lps(i, j, k);
                    let inside = (0..3).all(|ax| p[ax] >= lo[ax] - eps && p[ax] <= hi[ax] + eps);
                    if inside { c } else { NO_TISSUE }
                })
                .collect())
        }
        CryoTissueSource::Ct { volume, structures } => {
            let ire_source = TissueSource::Ct { volume, structures };
            let ire = crate::physics::ire::tissue::node_classes(grid, &ire_source, ire_params)
                .map_err(|e| e.to_string())?;
            let map: Vec<u8> = ire_params
                .classes
                .iter()
                .map(|c| tissues.class_index(&c.id).map_or(NO_TISSUE, |i| i as u8))
                .collect();
            if let Some(c) = ire_params
                .classes
                .iter()
                .zip(&map)
                .find(|(_, m)| **m == NO_TISSUE)
                .map(|(c, _)| c)
            {
                return Err(format!(
                    "IRE tissue class \"{}\" has no cryo parameters — add it to assets/tissues_cryo.json",
                    c.id
                ));
            }
            Ok(ire
                .into_iter()
                .map(|c| map.get(usize::from(c)).copied().unwrap_or(NO_TISSUE))
                .collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_parses_and_enthalpy_inverts() {
        let t = builtin_cryo_tissues().unwrap();
        assert_eq!(t.default_lethal_c(), -40.0);
        for m in t.materials() {
            for temp in [-150.0, -40.0, -8.0, -5.0, -1.0, -0.5, 0.0, 20.0, 37.0] {
                let h = m.enthalpy(temp);
                assert!((m.temperature(h) - temp).abs() < 1e-9, "{m:?} {temp}");
            }
        }
        let soft = Material::new(t.class("soft_tissue").unwrap(), &t.blood);
        // 0.0036 1/s × 1000 × 3600 ≈ 13 kW/m³K (REFERENCE.md §3).
        assert!((soft.perfusion_w_per_m3_k - 12960.0).abs() < 1e-6);
        assert_eq!(soft.liquid_fraction(soft.enthalpy(-20.0)), 0.0);
        assert_eq!(soft.liquid_fraction(soft.enthalpy(10.0)), 1.0);
        assert!((soft.conductivity(soft.enthalpy(-4.5)) - 1.25).abs() < 1e-9);
    }

    /// Ice conducts better the colder it is: the water phantoms follow Fukusako's correlation
    /// 488.19/T + 0.4685 W/m·K (within 3 % from the solidus to −185 °C, where it is 6.0 — almost
    /// 3× the 0 °C value); tissue classes keep the constant frozen k of REFERENCE.md §3.
    #[test]
    fn phantom_ice_conductivity_rises_as_one_over_t_and_tissue_stays_constant() {
        let t = builtin_cryo_tissues().unwrap();
        let fukusako = |t_c: f64| 488.19 / (t_c + KELVIN) + 0.4685;
        for id in PHANTOM_CLASSES {
            let m = Material::new(t.class(id).unwrap(), &t.blood);
            for t_c in [-2.0, -20.0, -60.0, -100.0, -150.0, -185.0] {
                let k = m.conductivity(m.enthalpy(t_c));
                assert!(
                    (k / fukusako(t_c) - 1.0).abs() < 0.03,
                    "{id} at {t_c} °C: k {k:.3} vs {:.3}",
                    fukusako(t_c)
                );
            }
            assert!(m.conductivity(m.enthalpy(-185.0)) > 2.5 * m.ks);
        }
        for id in ["soft_tissue", "liver", "fat"] {
            let m = Material::new(t.class(id).unwrap(), &t.blood);
            assert_eq!(m.conductivity(m.enthalpy(-185.0)), m.ks, "{id}");
            assert_eq!(m.max_conductivity(-196.0), m.ks.max(m.kl), "{id}");
        }
    }

    #[test]
    fn rejects_inverted_band_naming_the_class() {
        let text = BUILTIN_CRYO_TISSUES_JSON.replacen("\"value\": -1.0,", "\"value\": -9.0,", 1);
        let e = parse_cryo_tissues(&text, "x.json").expect_err("band");
        assert!(e.to_string().contains("solidus_c"), "{e}");
    }
}
