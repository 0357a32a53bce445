//! The cryo settings of a plan or case: protocol, lethal and user isotherms, and the bioheat
//! model's options (saved with a case; the model itself is in `physics::cryo`).

use serde::{Deserialize, Serialize};

use super::AssetError;
use super::protocol::CryoProtocol;

/// The built-in cryo tissue file (parsed into the model's form by `physics::cryo::tissue`).
pub const BUILTIN_CRYO_TISSUES_JSON: &str = include_str!("../../assets/tissues_cryo.json");

/// The class ids of the built-in cryo tissue file (what a cryo phantom may be made of).
pub fn builtin_cryo_class_ids() -> Result<Vec<String>, AssetError> {
    let bad = |message: String| {
        AssetError::invalid("built-in assets/tissues_cryo.json", format!("classes: {message}"))
    };
    let v: serde_json::Value =
        serde_json::from_str(BUILTIN_CRYO_TISSUES_JSON).map_err(|e| bad(e.to_string()))?;
    let classes = v
        .get("classes")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| bad("missing".into()))?;
    Ok(classes
        .iter()
        .filter_map(|c| {
            c.get("id")
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        })
        .collect())
}

/// Accepted grid spacing (mm); the UI offers 0.5–2 mm.
pub const CRYO_SPACING_RANGE_MM: (f64, f64) = (0.25, 4.0);
/// The isotherms reported by default (°C): the visible iceball edge and two lethal candidates
/// (REFERENCE.md §3).
pub const REPORTED_ISOTHERMS_C: [f64; 3] = [0.0, -20.0, -40.0];

/// Default RKL2 super-step (s): 2 per 30-s snapshot. C1's front stays within 0.3 % of forward
/// Euler, and a single probe's isotherm radii within 0.2 mm (`tests/suite/cryo_stream.rs`); 30 s
/// moved them by up to 0.2 mm on average and a point temperature by 8 K.
pub const DEFAULT_SUPER_STEP_S: f64 = 15.0;

/// Model settings (saved with cases; defaults are the issue's defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CryoModelOptions {
    /// Isotropic grid spacing (mm), 0.5–2 mm in the UI.
    pub spacing_mm: f64,
    /// Tissue kept around the active segments (mm). The iceball of a 10-min freeze reaches about
    /// 15–20 mm from a probe; the far field beyond is held at the initial temperature.
    pub margin_mm: f64,
    /// Interval between kept snapshots (s).
    pub snapshot_interval_s: f64,
    /// Period of the on/off cycle of a probe run at a duty below 1 (s).
    pub duty_period_s: f64,
    /// Hold blood nodes of vessels at least this wide at the arterial temperature; 0 = off.
    pub vessel_min_diameter_mm: f64,
    /// RKL2 super-step (s, see `solver`); 0 = forward Euler at the stable step.
    pub super_step_s: f64,
    /// Compute the uncertainty band (inner / nominal / outer lethal zone and 0 °C iceball,
    /// `physics::cryo::band`) after the nominal run.
    pub band: bool,
}

impl Default for CryoModelOptions {
    fn default() -> Self {
        Self {
            spacing_mm: 1.0,
            margin_mm: 25.0,
            snapshot_interval_s: 30.0,
            duty_period_s: 20.0,
            vessel_min_diameter_mm: 3.0,
            super_step_s: DEFAULT_SUPER_STEP_S,
            band: true,
        }
    }
}

impl CryoModelOptions {
    /// Checks the numbers; the error is (field, message).
    pub fn check(&self) -> Result<(), (String, String)> {
        let (lo, hi) = CRYO_SPACING_RANGE_MM;
        let bad = |f: &str, m: String| Err((f.to_string(), m));
        if !(self.spacing_mm.is_finite() && (lo..=hi).contains(&self.spacing_mm)) {
            return bad(
                "spacing_mm",
                format!("{} — choose {lo}–{hi} mm (1 mm by default)", self.spacing_mm),
            );
        }
        if !(self.margin_mm.is_finite() && self.margin_mm >= 0.0) {
            return bad("margin_mm", format!("{} — must be ≥ 0 mm", self.margin_mm));
        }
        if !(self.snapshot_interval_s.is_finite() && self.snapshot_interval_s >= 1.0) {
            return bad(
                "snapshot_interval_s",
                format!("{} — must be at least 1 s", self.snapshot_interval_s),
            );
        }
        if !(self.duty_period_s.is_finite() && self.duty_period_s > 0.0) {
            return bad(
                "duty_period_s",
                format!("{} — must be positive (s)", self.duty_period_s),
            );
        }
        if !(self.vessel_min_diameter_mm.is_finite() && self.vessel_min_diameter_mm >= 0.0) {
            return bad(
                "vessel_min_diameter_mm",
                format!("{} — must be ≥ 0 mm (0 = off)", self.vessel_min_diameter_mm),
            );
        }
        if !(self.super_step_s.is_finite() && (0.0..=60.0).contains(&self.super_step_s)) {
            return bad(
                "super_step_s",
                format!(
                    "{} — choose 0 (forward Euler) to 60 s ({} s by default)",
                    self.super_step_s, DEFAULT_SUPER_STEP_S
                ),
            );
        }
        Ok(())
    }

    pub fn description(&self) -> String {
        format!(
            "cryo Pennes bioheat with phase change, {} mm, explicit enthalpy scheme",
            self.spacing_mm
        )
    }
}

/// The cryo settings of a plan or case: protocol, lethal isotherm, user isotherm, model options.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CryoSettings {
    pub protocol: CryoProtocol,
    /// Lethal isotherm (°C): −40 by default; −30 (Littrup) and −20 are the cited alternatives
    /// (`assets/tissues_cryo.json` `lethal_isotherms`).
    pub lethal_isotherm_c: f64,
    /// An extra isotherm to report and draw (°C).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_isotherm_c: Option<f64>,
    pub model: CryoModelOptions,
}

impl Default for CryoSettings {
    fn default() -> Self {
        Self {
            protocol: CryoProtocol::default(),
            lethal_isotherm_c: -40.0,
            user_isotherm_c: None,
            model: CryoModelOptions::default(),
        }
    }
}

impl CryoSettings {
    /// Checks protocol, isotherms and options for `n_probes` probes; the error is (field relative
    /// to the settings, e.g. `protocol.phases[1].duration_s`, message).
    pub fn check(&self, n_probes: usize) -> Result<(), (String, String)> {
        self.protocol
            .validate(n_probes)
            .map_err(|e| (format!("protocol.{}", e.field), e.message))?;
        let iso_ok = |t: f64| t.is_finite() && (-200.0..=30.0).contains(&t);
        if !iso_ok(self.lethal_isotherm_c) {
            return Err((
                "lethal_isotherm_c".into(),
                format!(
                    "{} — choose a temperature in −200…30 °C (−40 by default)",
                    self.lethal_isotherm_c
                ),
            ));
        }
        if let Some(t) = self.user_isotherm_c
            && !iso_ok(t)
        {
            return Err((
                "user_isotherm_c".into(),
                format!("{t} — choose a temperature in −200…30 °C"),
            ));
        }
        self.model.check().map_err(|(f, m)| (format!("model.{f}"), m))
    }

    /// The isotherms reported: 0, −20, −40 °C, the lethal one and the user's, without repeats.
    pub fn reported_isotherms_c(&self) -> Vec<f64> {
        let mut out: Vec<f64> = REPORTED_ISOTHERMS_C.to_vec();
        for t in [Some(self.lethal_isotherm_c), self.user_isotherm_c]
            .into_iter()
            .flatten()
        {
            if !out.iter().any(|o| (o - t).abs() < 1e-9) {
                out.push(t);
            }
        }
        out
    }
}
