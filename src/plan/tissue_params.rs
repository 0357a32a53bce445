//! IRE tissue parameters (`assets/tissues_ire.json`): conductivity σ(E) per tissue class, lethal
//! thresholds, HU → class bins, Peleg–Fermi survival constants. Every number carries its source
//! (`../shared/REFERENCE.md` §2).

use super::{AssetError, Sourced, read_asset};
use crate::anatomy::structure::StructureKind;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The built-in tissue file.
pub const BUILTIN_TISSUES_JSON: &str = include_str!("../../assets/tissues_ire.json");
const BUILTIN_NAME: &str = "built-in assets/tissues_ire.json";
pub const TISSUES_SCHEMA_VERSION: u32 = 1;

/// One tissue class. σ in S/m, fields in V/cm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TissueClass {
    pub id: String,
    pub name: String,
    pub sigma0_s_per_m: Sourced,
    pub sigma1_s_per_m: Sourced,
    pub e_rev_v_per_cm: Sourced,
    pub e_irr_v_per_cm: Sourced,
    pub lethal_threshold_v_per_cm: Sourced,
    /// The range of the lethal threshold that remains after calibration (REFERENCE.md §7): the
    /// inner surface of the zone's band uses `hi`, the outer `lo`. `None` = no band from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lethal_threshold_range_v_per_cm: Option<ParamRange>,
    /// The range of σ0 when the literature gives no value (lymph node): σ(E) is scaled as a whole
    /// (σ1/σ0 kept), and the band takes the least / most favourable field per node. `None` = σ0
    /// is not uncertain enough to widen the band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigma0_range_s_per_m: Option<ParamRange>,
}

/// A parameter's range `[lo, hi]` with where it comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamRange {
    pub lo: f64,
    pub hi: f64,
    pub source: String,
    #[serde(default = "super::default_true")]
    pub confirmed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ParamRange {
    fn check(&self, file: &str, what: &str, value: f64) -> Result<(), AssetError> {
        if !(self.lo.is_finite() && self.hi.is_finite() && self.lo > 0.0 && self.lo <= self.hi) {
            return Err(AssetError::invalid(
                file,
                format!(
                    "{what}: range [{}, {}] must be positive and ordered",
                    self.lo, self.hi
                ),
            ));
        }
        if !(self.lo..=self.hi).contains(&value) {
            return Err(AssetError::invalid(
                file,
                format!(
                    "{what}: value {value} lies outside its range [{}, {}]",
                    self.lo, self.hi
                ),
            ));
        }
        if self.source.trim().is_empty() {
            return Err(AssetError::invalid(
                file,
                format!("{what}: empty range \"source\""),
            ));
        }
        if !self.confirmed && self.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(AssetError::invalid(
                file,
                format!("{what}: unconfirmed range needs a \"note\" for the user"),
            ));
        }
        Ok(())
    }
}

/// One calibrated parameter: its value, the published range it was kept in, the range that
/// remains after calibration (the band's), and the sources of the published range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CalibratedValue {
    pub value: f64,
    pub published_range: [f64; 2],
    pub band_range: [f64; 2],
    pub sources: Vec<String>,
}

/// What the IRE calibration was fitted on and what it found (REFERENCE.md §7). Written by
/// `physics::ire::calibrate` (see `command`); the classes' numbers follow from it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IreCalibration {
    /// The calibration set, e.g. "V3 Ben-David et al., AJR 2012 (REFERENCE.md §7)".
    pub calibrated_on: String,
    /// The command that reproduces the numbers.
    pub command: String,
    /// The class the experiment measured (liver).
    pub class_id: String,
    /// Measured zone: along the pair axis, perpendicular to the electrode plane, along the
    /// electrodes (mm), and one SD of each.
    pub measured_extents_mm: [f64; 3],
    pub measured_sd_mm: [f64; 3],
    pub measurement_source: String,
    /// `class_id`'s threshold as cited before calibration (the protocol shift is relative to it)
    /// and the other classes' cited threshold (the soft-tissue default).
    pub cited_threshold_v_per_cm: f64,
    pub other_cited_threshold_v_per_cm: f64,
    /// Model grid the fit ran on.
    pub spacing_mm: f64,
    pub margin_mm: f64,
    /// Lethal threshold of `class_id` for the study's protocol (70–90 pulses of 70–100 µs).
    pub lethal_threshold_v_per_cm: CalibratedValue,
    /// Electroporated / static conductivity σ1/σ0 of `class_id`.
    pub sigma_ratio: CalibratedValue,
    /// Calibrated threshold / the class's cited threshold before calibration: the protocol
    /// shift that the other classes' thresholds follow.
    pub threshold_factor: f64,
    /// The model at the calibrated values, and (model − measured) / SD per axis.
    pub predicted_extents_mm: [f64; 3],
    pub residuals_sd: [f64; 3],
    /// The V3 band at the band ranges (inner, outer extents, mm).
    pub band_inner_extents_mm: [f64; 3],
    pub band_outer_extents_mm: [f64; 3],
    /// How the other classes follow.
    pub other_classes: String,
}

impl TissueClass {
    /// σ(E) (S/m) for a field `e_v_per_cm` (use the running maximum of |E|): σ0 below E_rev,
    /// linear to σ1 at E_irr, σ1 above (REFERENCE.md §2).
    pub fn sigma(&self, e_v_per_cm: f64) -> f64 {
        let (s0, s1) = (self.sigma0_s_per_m.value, self.sigma1_s_per_m.value);
        let (e0, e1) = (self.e_rev_v_per_cm.value, self.e_irr_v_per_cm.value);
        if e_v_per_cm <= e0 {
            s0
        } else if e_v_per_cm >= e1 {
            s1
        } else {
            s0 + (s1 - s0) * (e_v_per_cm - e0) / (e1 - e0)
        }
    }

    fn quantities(&self) -> [(&'static str, &Sourced); 5] {
        [
            ("sigma0_s_per_m", &self.sigma0_s_per_m),
            ("sigma1_s_per_m", &self.sigma1_s_per_m),
            ("e_rev_v_per_cm", &self.e_rev_v_per_cm),
            ("e_irr_v_per_cm", &self.e_irr_v_per_cm),
            ("lethal_threshold_v_per_cm", &self.lethal_threshold_v_per_cm),
        ]
    }
}

/// One HU bin: voxels with HU below `below_hu` (and not in an earlier bin) get `class`; the last
/// bin has no upper limit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HuBin {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub below_hu: Option<f64>,
    pub class: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HuClasses {
    pub source: String,
    pub bins: Vec<HuBin>,
}

/// Peleg–Fermi survival constants: S = 1/(1+exp((E−Ec(n))/A(n))), Ec = Ec0·e^(−k1·n),
/// A = A0·e^(−k2·n).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PelegFermi {
    pub ec0_v_per_cm: Sourced,
    pub a0_v_per_cm: Sourced,
    pub k1: Sourced,
    pub k2: Sourced,
}

impl PelegFermi {
    /// Critical field Ec(n) (V/cm) after `pulses` pulses.
    pub fn ec_v_per_cm(&self, pulses: u32) -> f64 {
        self.ec0_v_per_cm.value * (-self.k1.value * f64::from(pulses)).exp()
    }

    /// Kinetic constant A(n) (V/cm) after `pulses` pulses.
    pub fn a_v_per_cm(&self, pulses: u32) -> f64 {
        self.a0_v_per_cm.value * (-self.k2.value * f64::from(pulses)).exp()
    }

    /// Surviving fraction (0..1) at field `e_v_per_cm` after `pulses` pulses.
    pub fn survival(&self, e_v_per_cm: f64, pulses: u32) -> f64 {
        let x = (e_v_per_cm - self.ec_v_per_cm(pulses)) / self.a_v_per_cm(pulses);
        1.0 / (1.0 + x.exp())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TissueParams {
    pub schema_version: u32,
    #[serde(default)]
    pub description: String,
    pub classes: Vec<TissueClass>,
    pub hu_classes: HuClasses,
    pub peleg_fermi: PelegFermi,
    /// The calibration the thresholds and the σ ratio come from (REFERENCE.md §7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<IreCalibration>,
    /// Joule heating parameters (issue 13).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heating: Option<IreHeating>,
}

/// Parameters of the electro-thermal coupling σ(E, T) = σ(E)·(1 + α (T − T0)) and of the
/// thermal dose (CEM43, Sapareto & Dewey 1984).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IreHeating {
    /// α (1/°C) of a class without its own entry.
    pub temperature_coefficient_per_c: Sourced,
    pub temperature_coefficient_range_per_c: ParamRange,
    /// α per tissue class (class id → value with its source).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_class: Vec<ClassCoefficient>,
    /// T0 (°C), at which σ(E) of the classes holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_temperature_c: Option<Sourced>,
    /// CEM43 (min) at and above which tissue counts as thermally damaged (the thermal damage
    /// zone; nerve and bowel have their own, lower limits in the safety rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub damage_cem43_min: Option<Sourced>,
    /// The CEM43 base R above and below 43 °C.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cem43_r_above_43: Option<Sourced>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cem43_r_below_43: Option<Sourced>,
}

/// One class's temperature coefficient of conductivity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassCoefficient {
    pub class: String,
    pub temperature_coefficient_per_c: Sourced,
}

/// Defaults when the file has no value: T0 37 °C, CEM43 240 min, R 0.5 / 0.25 (see the asset).
pub const DEFAULT_REFERENCE_TEMPERATURE_C: f64 = 37.0;
pub const DEFAULT_DAMAGE_CEM43_MIN: f64 = 240.0;

impl IreHeating {
    /// α (1/°C) of class `id`: its own entry, else the general value.
    pub fn alpha_per_c(&self, id: &str) -> f64 {
        self.per_class
            .iter()
            .find(|c| c.class == id)
            .map_or(self.temperature_coefficient_per_c.value, |c| {
                c.temperature_coefficient_per_c.value
            })
    }

    pub fn reference_temperature_c(&self) -> f64 {
        self.reference_temperature_c
            .as_ref()
            .map_or(DEFAULT_REFERENCE_TEMPERATURE_C, |q| q.value)
    }

    pub fn damage_cem43_min(&self) -> f64 {
        self.damage_cem43_min
            .as_ref()
            .map_or(DEFAULT_DAMAGE_CEM43_MIN, |q| q.value)
    }

    /// (R above 43 °C, R below).
    pub fn cem43_r(&self) -> (f64, f64) {
        (
            self.cem43_r_above_43.as_ref().map_or(0.5, |q| q.value),
            self.cem43_r_below_43.as_ref().map_or(0.25, |q| q.value),
        )
    }

    fn check(&self, file: &str, params: &TissueParams) -> Result<(), AssetError> {
        self.temperature_coefficient_per_c
            .check(file, "heating.temperature_coefficient_per_c")?;
        self.temperature_coefficient_range_per_c.check(
            file,
            "heating.temperature_coefficient_range_per_c",
            self.temperature_coefficient_per_c.value,
        )?;
        for c in &self.per_class {
            let what = format!("heating.per_class.{}", c.class);
            c.temperature_coefficient_per_c.check(file, &what)?;
            let a = c.temperature_coefficient_per_c.value;
            if !(a.is_finite() && (0.0..=0.1).contains(&a)) {
                return Err(AssetError::invalid(
                    file,
                    format!("{what}: {a} per °C lies outside 0–0.1 (tissues: 0.012–0.023)"),
                ));
            }
            if params.class(&c.class).is_none() {
                return Err(AssetError::invalid(
                    file,
                    format!("{what}: unknown class \"{}\"", c.class),
                ));
            }
        }
        for (what, q) in [
            ("heating.reference_temperature_c", &self.reference_temperature_c),
            ("heating.damage_cem43_min", &self.damage_cem43_min),
            ("heating.cem43_r_above_43", &self.cem43_r_above_43),
            ("heating.cem43_r_below_43", &self.cem43_r_below_43),
        ] {
            if let Some(q) = q {
                q.check(file, what)?;
            }
        }
        let (ra, rb) = self.cem43_r();
        if !(0.0 < rb && rb < 1.0 && 0.0 < ra && ra < 1.0) || self.damage_cem43_min() <= 0.0 {
            return Err(AssetError::invalid(
                file,
                "heating: CEM43 bases must lie in (0, 1) and the damage dose be positive".into(),
            ));
        }
        Ok(())
    }
}

/// Class ids the model refers to (structure overrides, HU bins); the file must define them.
pub const REQUIRED_CLASSES: [&str; 9] = [
    "fat",
    "soft_tissue",
    "lymph_node",
    "tumour",
    "liver",
    "blood",
    "bowel_wall",
    "bone",
    "air",
];

impl TissueParams {
    pub fn class(&self, id: &str) -> Option<&TissueClass> {
        self.classes.iter().find(|c| c.id == id)
    }

    pub fn class_index(&self, id: &str) -> Option<usize> {
        self.classes.iter().position(|c| c.id == id)
    }

    /// The class id of a voxel from its HU (conventional CT ranges, see the file).
    pub fn class_for_hu(&self, hu: f64) -> &str {
        for bin in &self.hu_classes.bins {
            match bin.below_hu {
                Some(b) if hu >= b => continue,
                _ => return &bin.class,
            }
        }
        // validate() guarantees an open last bin; this is only reached for NaN-free data anyway.
        self.hu_classes
            .bins
            .last()
            .map_or("soft_tissue", |b| b.class.as_str())
    }

    /// Every number with a name.
    pub fn quantities(&self) -> Vec<(String, &Sourced)> {
        let mut out = Vec::new();
        for c in &self.classes {
            for (n, q) in c.quantities() {
                out.push((format!("{}.{n}", c.id), q));
            }
        }
        let pf = &self.peleg_fermi;
        out.push(("peleg_fermi.ec0_v_per_cm".into(), &pf.ec0_v_per_cm));
        out.push(("peleg_fermi.a0_v_per_cm".into(), &pf.a0_v_per_cm));
        out.push(("peleg_fermi.k1".into(), &pf.k1));
        out.push(("peleg_fermi.k2".into(), &pf.k2));
        out
    }

    fn validate(&self, file: &str) -> Result<(), AssetError> {
        if self.schema_version != TISSUES_SCHEMA_VERSION {
            return Err(AssetError::invalid(
                file,
                format!(
                    "schema_version {} is not supported (expected {TISSUES_SCHEMA_VERSION})",
                    self.schema_version
                ),
            ));
        }
        for (name, q) in self.quantities() {
            q.check(file, &name)?;
            if q.value < 0.0 || (q.value == 0.0 && !name.starts_with("peleg_fermi.k")) {
                return Err(AssetError::invalid(
                    file,
                    format!("{name}: {} must be positive", q.value),
                ));
            }
        }
        for (i, c) in self.classes.iter().enumerate() {
            if self.classes[..i].iter().any(|d| d.id == c.id) {
                return Err(AssetError::invalid(
                    file,
                    format!("class \"{}\" appears twice", c.id),
                ));
            }
            if c.e_rev_v_per_cm.value >= c.e_irr_v_per_cm.value {
                return Err(AssetError::invalid(
                    file,
                    format!(
                        "{}: e_rev_v_per_cm {} must be below e_irr_v_per_cm {}",
                        c.id, c.e_rev_v_per_cm.value, c.e_irr_v_per_cm.value
                    ),
                ));
            }
            if let Some(r) = &c.lethal_threshold_range_v_per_cm {
                r.check(
                    file,
                    &format!("{}.lethal_threshold_range_v_per_cm", c.id),
                    c.lethal_threshold_v_per_cm.value,
                )?;
            }
            if let Some(r) = &c.sigma0_range_s_per_m {
                r.check(
                    file,
                    &format!("{}.sigma0_range_s_per_m", c.id),
                    c.sigma0_s_per_m.value,
                )?;
            }
            if c.sigma1_s_per_m.value < c.sigma0_s_per_m.value {
                return Err(AssetError::invalid(
                    file,
                    format!(
                        "{}: sigma1_s_per_m {} is below sigma0_s_per_m {} (σ never decreases with E)",
                        c.id, c.sigma1_s_per_m.value, c.sigma0_s_per_m.value
                    ),
                ));
            }
        }
        if let Some(cal) = &self.calibration {
            cal.check(file, self)?;
        }
        if let Some(h) = &self.heating {
            h.check(file, self)?;
        }
        for id in REQUIRED_CLASSES {
            if self.class(id).is_none() {
                return Err(AssetError::invalid(
                    file,
                    format!("tissue class \"{id}\" is missing"),
                ));
            }
        }
        if self.hu_classes.source.trim().is_empty() {
            return Err(AssetError::invalid(file, "hu_classes: empty \"source\"".into()));
        }
        let bins = &self.hu_classes.bins;
        let Some(last) = bins.last() else {
            return Err(AssetError::invalid(file, "hu_classes: no bins".into()));
        };
        if last.below_hu.is_some() {
            return Err(AssetError::invalid(
                file,
                "hu_classes: the last bin must have no \"below_hu\" (it takes every higher HU)".into(),
            ));
        }
        let mut prev = f64::NEG_INFINITY;
        for b in bins {
            if self.class(&b.class).is_none() {
                return Err(AssetError::invalid(
                    file,
                    format!("hu_classes: unknown class \"{}\"", b.class),
                ));
            }
            if let Some(h) = b.below_hu {
                if !h.is_finite() || h <= prev {
                    return Err(AssetError::invalid(
                        file,
                        format!("hu_classes: below_hu {h} must be finite and increasing"),
                    ));
                }
                prev = h;
            }
        }
        Ok(())
    }
}

impl IreCalibration {
    fn check(&self, file: &str, params: &TissueParams) -> Result<(), AssetError> {
        let bad = |m: String| Err(AssetError::invalid(file, format!("calibration: {m}")));
        if params.class(&self.class_id).is_none() {
            return bad(format!("unknown class \"{}\"", self.class_id));
        }
        for (name, v) in [
            ("lethal_threshold_v_per_cm", &self.lethal_threshold_v_per_cm),
            ("sigma_ratio", &self.sigma_ratio),
        ] {
            let [plo, phi] = v.published_range;
            let [blo, bhi] = v.band_range;
            let ordered = plo > 0.0 && plo <= blo && blo <= v.value && v.value <= bhi && bhi <= phi;
            if !(ordered && [plo, phi, blo, bhi, v.value].iter().all(|x| x.is_finite())) {
                return bad(format!(
                    "{name}: need published lo ≤ band lo ≤ value ≤ band hi ≤ published hi, got {:?} / {:?} / {}",
                    v.published_range, v.band_range, v.value
                ));
            }
            if v.sources.iter().all(|s| s.trim().is_empty()) {
                return bad(format!("{name}: no source for the published range"));
            }
        }
        if !(self.threshold_factor.is_finite() && self.threshold_factor > 0.0) {
            return bad(format!(
                "threshold_factor {} must be positive",
                self.threshold_factor
            ));
        }
        if self.measured_sd_mm.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return bad("measured_sd_mm must be positive".into());
        }
        if self.calibrated_on.trim().is_empty() || self.measurement_source.trim().is_empty() {
            return bad("calibrated_on and measurement_source must name the data".into());
        }
        Ok(())
    }
}

/// The class a structure kind overrides a voxel with (issue 4: Vessel → blood, Bowel → bowel
/// wall, Bone → bone; issue 13: Target → lymph node, the targets of both source studies, whose
/// unconfirmed conductivity range then widens the band); `None` keeps the HU class.
pub fn class_for_structure(kind: StructureKind) -> Option<&'static str> {
    match kind {
        StructureKind::Vessel => Some("blood"),
        StructureKind::Target => Some("lymph_node"),
        StructureKind::Bowel => Some("bowel_wall"),
        StructureKind::Bone => Some("bone"),
        StructureKind::Nerve | StructureKind::Other => None,
    }
}

pub fn parse_tissue_params(text: &str, file: &str) -> Result<TissueParams, AssetError> {
    let p: TissueParams = serde_json::from_str(text).map_err(|e| AssetError::parse(file, &e))?;
    p.validate(file)?;
    Ok(p)
}

pub fn builtin_tissue_params() -> Result<TissueParams, AssetError> {
    parse_tissue_params(BUILTIN_TISSUES_JSON, BUILTIN_NAME)
}

pub fn load_tissue_params(path: &Path) -> Result<TissueParams, AssetError> {
    let text = read_asset(path)?;
    parse_tissue_params(&text, &path.display().to_string())
}
