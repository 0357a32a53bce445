//! IRE pulse settings: which electrode pairs are pulsed, the voltage of each pair, the pulses.
//! Pure functions over probes; the field model lives in `physics/`.

use super::probe::Probe;
use super::{AssetError, Sourced, read_asset};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::OnceLock;

/// Default voltage-to-spacing ratio (V/cm): the top of the IRE study's 1,000–1,500 V/cm
/// (Narayanan 2024, REFERENCE.md §1, §4).
pub const DEFAULT_RATIO_V_PER_CM: f64 = 1500.0;
/// The IRE study's ratio range (V/cm), REFERENCE.md §1.
pub const STUDY_RATIO_RANGE_V_PER_CM: (f64, f64) = (1000.0, 1500.0);
/// Liver practice goes up to 1,700 V/cm (Kos 2015, REFERENCE.md §4).
pub const LIVER_MAX_RATIO_V_PER_CM: f64 = 1700.0;
/// Generator maximum per pair (V): IRE study 1,500–3,000 V (REFERENCE.md §1, §4). The sourced
/// value validation uses is [`generator_limits`] (`assets/ire_generator.json`); this constant
/// (slider ranges, defaults) is tested to agree with it.
pub const VOLTAGE_CAP_V: f64 = 3000.0;
/// Voltages are rounded to this step (V).
pub const VOLTAGE_STEP_V: f64 = 10.0;
/// 70 pulses of 70 µs per pair (IRE study, REFERENCE.md §1).
pub const DEFAULT_PULSES: u32 = 70;
pub const DEFAULT_PULSE_WIDTH_US: f64 = 70.0;
/// Pulse repetition rate (pulses per minute) of the generator when not ECG-synchronised:
/// NanoKnife offers 90 and 240 per minute; 90 is the usual setting. Source: the generator's
/// operator manual as cited in the IRE literature — *(unconfirmed: not in REFERENCE.md)*; editable
/// in the IRE settings. ECG-synchronised delivery (one pulse per R wave, 60–100 per minute) falls
/// in the same range.
pub const DEFAULT_PULSE_RATE_PER_MIN: f64 = 90.0;

fn default_pulse_rate_per_min() -> f64 {
    DEFAULT_PULSE_RATE_PER_MIN
}

/// Pairs farther apart than this are not pulsed by default: IRE spacing 1.0–2.5 cm
/// (REFERENCE.md §4).
pub const DEFAULT_MAX_PAIR_SPACING_MM: f64 = 25.0;
/// Generator current limit (A): it stops and recharges above (IRE study, REFERENCE.md §1).
/// Tested to agree with [`generator_limits`] and the `ire.current_limit` safety rule.
pub const CURRENT_LIMIT_A: f64 = 48.0;

/// The built-in generator limits file.
pub const BUILTIN_GENERATOR_JSON: &str = include_str!("../../assets/ire_generator.json");
const BUILTIN_GENERATOR_NAME: &str = "built-in assets/ire_generator.json";
pub const GENERATOR_SCHEMA_VERSION: u32 = 1;

/// Limits of the IRE generator a plan must respect (`assets/ire_generator.json`), each with its
/// source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GeneratorLimits {
    pub schema_version: u32,
    #[serde(default)]
    pub description: String,
    /// Maximum voltage of one pulsed pair (V).
    pub voltage_cap_v: Sourced,
    /// Current above which the generator stops and recharges (A).
    pub current_limit_a: Sourced,
    /// Most electrodes the generator drives (a whole number; edited files without it get
    /// [`MAX_ELECTRODES`]).
    #[serde(default = "default_max_electrodes")]
    pub max_electrodes: Sourced,
    /// Predicted current from which a pair is shown as near the limit (A, amber): the current
    /// rises over the pulse train, so a start current this close may stop the generator.
    #[serde(default = "default_current_caution_a")]
    pub current_caution_a: Sourced,
}

/// Amber from here (A) when a file has no `current_caution_a`.
pub const CURRENT_CAUTION_A: f64 = 40.0;

fn default_current_caution_a() -> Sourced {
    Sourced {
        value: CURRENT_CAUTION_A,
        uncertainty: None,
        source: "ablaplan's built-in constant: the 48 A limit minus the ≈ 9 A rise over a pulse train \
                 (Ruarus et al. 2018, REFERENCE.md §4)"
            .into(),
        confirmed: true,
        note: None,
    }
}

/// Where a pair's predicted current stands against the generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CurrentState {
    Ok,
    /// At or above [`GeneratorLimits::current_caution_a`]: the rise over the train may reach the limit.
    NearLimit,
    /// Above [`GeneratorLimits::current_limit_a`]: the generator stops.
    OverLimit,
}

/// Electrodes the NanoKnife generator drives (REFERENCE.md §1); the value validation uses is
/// [`GeneratorLimits::max_electrodes`].
pub const MAX_ELECTRODES: usize = 6;

fn default_max_electrodes() -> Sourced {
    Sourced {
        value: MAX_ELECTRODES as f64,
        uncertainty: None,
        source: "REFERENCE.md §1: the generator supports up to 6 electrodes (ablaplan's built-in constant)"
            .into(),
        confirmed: true,
        note: None,
    }
}

impl GeneratorLimits {
    /// Where `current_a` stands: over the limit, near it (amber) or fine.
    pub fn current_state(&self, current_a: f64) -> CurrentState {
        if current_a > self.current_limit_a.value {
            CurrentState::OverLimit
        } else if current_a >= self.current_caution_a.value {
            CurrentState::NearLimit
        } else {
            CurrentState::Ok
        }
    }

    /// The most electrodes one plan may hold.
    pub fn max_electrodes(&self) -> usize {
        // Checked whole and ≥ 2 on load.
        self.max_electrodes.value as usize
    }
}

impl GeneratorLimits {
    /// Parses and checks a generator file; `file` names it in errors.
    pub fn from_json(text: &str, file: &str) -> Result<Self, AssetError> {
        let limits: GeneratorLimits = serde_json::from_str(text).map_err(|e| AssetError::parse(file, &e))?;
        if limits.schema_version != GENERATOR_SCHEMA_VERSION {
            return Err(AssetError::invalid(
                file,
                format!(
                    "schema_version {} — this ablaplan reads version {GENERATOR_SCHEMA_VERSION}",
                    limits.schema_version
                ),
            ));
        }
        for (what, q) in [
            ("voltage_cap_v", &limits.voltage_cap_v),
            ("current_limit_a", &limits.current_limit_a),
            ("current_caution_a", &limits.current_caution_a),
        ] {
            q.check(file, what)?;
            if q.value <= 0.0 {
                return Err(AssetError::invalid(file, format!("{what}: must be positive")));
            }
        }
        if limits.current_caution_a.value > limits.current_limit_a.value {
            return Err(AssetError::invalid(
                file,
                format!(
                    "current_caution_a: {} A is above current_limit_a {} A",
                    limits.current_caution_a.value, limits.current_limit_a.value
                ),
            ));
        }
        let n = limits.max_electrodes.value;
        if !(n.fract() == 0.0 && (2.0..=64.0).contains(&n)) {
            return Err(AssetError::invalid(
                file,
                format!("max_electrodes: {n} — a whole number of electrodes, 2–64"),
            ));
        }
        Ok(limits)
    }

    /// The constants of this file, for the (tested never to happen) case that the built-in file
    /// does not load.
    fn fallback(why: &str) -> Self {
        let source = format!("ablaplan's built-in constant ({BUILTIN_GENERATOR_NAME} did not load: {why})");
        let sourced = |value| Sourced {
            value,
            uncertainty: None,
            source: source.clone(),
            confirmed: true,
            note: None,
        };
        GeneratorLimits {
            schema_version: GENERATOR_SCHEMA_VERSION,
            description: String::new(),
            voltage_cap_v: sourced(VOLTAGE_CAP_V),
            current_limit_a: sourced(CURRENT_LIMIT_A),
            max_electrodes: sourced(MAX_ELECTRODES as f64),
            current_caution_a: sourced(CURRENT_CAUTION_A),
        }
    }
}

/// The built-in generator limits.
pub fn builtin_generator_limits() -> Result<GeneratorLimits, AssetError> {
    GeneratorLimits::from_json(BUILTIN_GENERATOR_JSON, BUILTIN_GENERATOR_NAME)
}

/// A generator limits file from disk (an edited copy).
pub fn load_generator_limits(path: &Path) -> Result<GeneratorLimits, AssetError> {
    GeneratorLimits::from_json(&read_asset(path)?, &path.display().to_string())
}

/// The built-in generator limits, parsed once (validation runs on every drag of the GUI).
pub fn generator_limits() -> &'static GeneratorLimits {
    static LIMITS: OnceLock<GeneratorLimits> = OnceLock::new();
    LIMITS.get_or_init(|| {
        builtin_generator_limits().unwrap_or_else(|e| {
            log::error!("{e}");
            GeneratorLimits::fallback(&e.to_string())
        })
    })
}

/// One pulsed pair: indices into the plan's probe list; `a` is the anode.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElectrodePair {
    pub a: usize,
    pub b: usize,
    pub voltage_v: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IreSettings {
    pub ratio_v_per_cm: f64,
    pub voltage_cap_v: f64,
    pub max_pair_spacing_mm: f64,
    pub pulses: u32,
    pub pulse_width_us: f64,
    /// Pulses per minute (the generator's rate; the electro-thermal model spaces the pulses by
    /// it). Old cases without it load with [`DEFAULT_PULSE_RATE_PER_MIN`].
    #[serde(default = "default_pulse_rate_per_min")]
    pub pulse_rate_per_min: f64,
    pub pairs: Vec<ElectrodePair>,
    /// Why voltages above the generator's maximum ([`generator_limits`]) are accepted: for
    /// non-clinical numerical checks only (REFERENCE.md §2 V2 at 25 mm needs 3,750 V). `None`,
    /// the default, refuses them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub above_generator_cap: Option<String>,
}

impl Default for IreSettings {
    fn default() -> Self {
        IreSettings {
            ratio_v_per_cm: DEFAULT_RATIO_V_PER_CM,
            voltage_cap_v: VOLTAGE_CAP_V,
            max_pair_spacing_mm: DEFAULT_MAX_PAIR_SPACING_MM,
            pulses: DEFAULT_PULSES,
            pulse_width_us: DEFAULT_PULSE_WIDTH_US,
            pulse_rate_per_min: DEFAULT_PULSE_RATE_PER_MIN,
            pairs: Vec::new(),
            above_generator_cap: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IreSettingsError {
    #[error("IRE settings: {what} = {value} — {hint}")]
    Bad {
        what: &'static str,
        value: f64,
        hint: &'static str,
    },
    #[error("IRE settings: pair {a}–{b} refers to a probe that does not exist ({n} probes)")]
    PairIndex { a: usize, b: usize, n: usize },
    #[error("IRE settings: pair {a}–{b} pairs a probe with itself")]
    PairSelf { a: usize, b: usize },
    /// A voltage above the generator's maximum. `what` names it ("pair of probes 1 and 2",
    /// "voltage_cap_v").
    #[error(
        "IRE settings: {what}: {voltage_v} V is above the generator's maximum of {cap_v} V ({cap_source}) — \
         lower it (a non-clinical numerical check may set above_generator_cap to the reason)"
    )]
    AboveGeneratorCap {
        what: String,
        voltage_v: f64,
        cap_v: f64,
        /// Where the cap comes from (`assets/ire_generator.json`).
        cap_source: String,
    },
    #[error("IRE settings: above_generator_cap is empty — give the reason, or remove it")]
    EmptyCapReason,
}

impl IreSettings {
    /// Checks the settings against `n_probes` probes.
    pub fn validate(&self, n_probes: usize) -> Result<(), IreSettingsError> {
        let positive = |what, value: f64, hint| {
            if value.is_finite() && value > 0.0 {
                Ok(())
            } else {
                Err(IreSettingsError::Bad { what, value, hint })
            }
        };
        positive(
            "ratio_v_per_cm",
            self.ratio_v_per_cm,
            "use 1000–1500 V/cm (up to 1700 in liver)",
        )?;
        positive(
            "voltage_cap_v",
            self.voltage_cap_v,
            "the generator maximum is 3000 V",
        )?;
        positive(
            "max_pair_spacing_mm",
            self.max_pair_spacing_mm,
            "pairs up to 25 mm apart are pulsed",
        )?;
        positive("pulse_width_us", self.pulse_width_us, "the default is 70 µs")?;
        positive("pulses", f64::from(self.pulses), "the default is 70 pulses")?;
        positive(
            "pulse_rate_per_min",
            self.pulse_rate_per_min,
            "the generator pulses at 90 per minute (or 240, or with the ECG)",
        )?;
        if 60.0 / self.pulse_rate_per_min <= self.pulse_width_us * 1e-6 {
            return Err(IreSettingsError::Bad {
                what: "pulse_rate_per_min",
                value: self.pulse_rate_per_min,
                hint: "pulses would overlap: the interval must exceed the pulse width",
            });
        }
        for p in &self.pairs {
            if p.a >= n_probes || p.b >= n_probes {
                return Err(IreSettingsError::PairIndex {
                    a: p.a,
                    b: p.b,
                    n: n_probes,
                });
            }
            if p.a == p.b {
                return Err(IreSettingsError::PairSelf { a: p.a, b: p.b });
            }
            positive("pair voltage_v", p.voltage_v, "set a positive voltage")?;
            // Numbered from 1, as the probes are listed.
            self.check_cap(p.voltage_v, || {
                format!("pair of probes {} and {}", p.a + 1, p.b + 1)
            })?;
        }
        self.check_cap(self.voltage_cap_v, || "voltage_cap_v".to_string())
    }

    /// Whether `voltage_v` respects the generator's maximum (always, with a non-clinical
    /// `above_generator_cap` reason); `what` names the voltage in the error.
    pub fn check_cap(&self, voltage_v: f64, what: impl FnOnce() -> String) -> Result<(), IreSettingsError> {
        match self.above_generator_cap.as_deref() {
            Some(reason) if reason.trim().is_empty() => return Err(IreSettingsError::EmptyCapReason),
            Some(_) => return Ok(()),
            None => {}
        }
        let cap = &generator_limits().voltage_cap_v;
        if voltage_v > cap.value {
            return Err(IreSettingsError::AboveGeneratorCap {
                what: what(),
                voltage_v,
                cap_v: cap.value,
                cap_source: cap.source.clone(),
            });
        }
        Ok(())
    }
}

/// The spacing of a pair used for its voltage (mm): the distance between the midpoints of the
/// two exposed parts — tip-to-tip for parallel probes with equal exposures, and less sensitive
/// than the tips to a small tilt. `None` when either probe is invalid.
pub fn pair_spacing_mm(a: &Probe, b: &Probe) -> Option<f64> {
    let (ea, eb) = (a.exposed_segment().ok()?, b.exposed_segment().ok()?);
    Some((ea.midpoint() - eb.midpoint()).norm())
}

/// Voltage for a spacing: spacing (cm) × ratio, rounded to 10 V, capped.
pub fn voltage_for_spacing(spacing_mm: f64, ratio_v_per_cm: f64, cap_v: f64) -> f64 {
    let v = spacing_mm / 10.0 * ratio_v_per_cm;
    ((v / VOLTAGE_STEP_V).round() * VOLTAGE_STEP_V).min(cap_v)
}

/// The pairs pulsed by default: every pair of valid probes with spacing ≤
/// `settings.max_pair_spacing_mm`, diagonals included (a 4-electrode square of 15 mm gives all
/// 6 pairs, the 21.2 mm diagonals too: they fill the centre of the box, and the generator pulses
/// every enabled pair; issue 4 counts "4 electrodes (6 pairs)"). Ordered by probe index, the
/// lower index the anode; voltages from [`voltage_for_spacing`].
pub fn default_pairs(probes: &[Probe], settings: &IreSettings) -> Vec<ElectrodePair> {
    let mut out = Vec::new();
    for (i, a) in probes.iter().enumerate() {
        for (j, b) in probes.iter().enumerate().skip(i + 1) {
            if let Some(d) = pair_spacing_mm(a, b)
                && d <= settings.max_pair_spacing_mm + 1e-9
            {
                out.push(ElectrodePair {
                    a: i,
                    b: j,
                    voltage_v: voltage_for_spacing(d, settings.ratio_v_per_cm, settings.voltage_cap_v),
                });
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The IRE model's options (the model itself, and `validate`, are in `physics::ire`)
// ---------------------------------------------------------------------------------------------

/// How the lethal zone is decided from the running maximum |E|.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ZoneCriterion {
    /// Each node's tissue class lethal threshold (`lethal_threshold_v_per_cm`).
    #[default]
    TissueThreshold,
    /// One threshold everywhere.
    Fixed { threshold_v_per_cm: f64 },
    /// Peleg–Fermi: lethal where the surviving fraction after the plan's pulse count is below
    /// `max_survival` (e.g. 0.1).
    PelegFermi { max_survival: f64 },
}

impl ZoneCriterion {
    /// Short label for descriptions.
    pub fn label(&self) -> String {
        match self {
            ZoneCriterion::TissueThreshold => "tissue thresholds".into(),
            ZoneCriterion::Fixed { threshold_v_per_cm } => format!("{threshold_v_per_cm:.0} V/cm"),
            ZoneCriterion::PelegFermi { max_survival } => {
                format!("Peleg–Fermi survival < {:.0} %", 100.0 * max_survival)
            }
        }
    }
}

/// Model settings (saved with cases; defaults are the defaults).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IreModelOptions {
    /// Isotropic grid spacing, 0.25–1.0 mm.
    pub spacing_mm: f64,
    /// Margin around the exposed segments of all probes.
    pub margin_mm: f64,
    /// Conductivity rises with field (σ(E) of each class); `false` = constant σ0.
    pub nonlinear: bool,
    pub max_nonlinear_iterations: usize,
    /// Stop the per-pair iteration when max relative change of σ is below this.
    pub nonlinear_tol: f64,
    /// Relative residual of each linear solve.
    pub linear_rel_tol: f64,
    pub zone: ZoneCriterion,
    /// Isolines for display, V/cm.
    pub isolines_v_per_cm: Vec<f64>,
    /// Compute the uncertainty band (inner / nominal / outer zone) from the calibrated parameter
    /// ranges (`physics::ire::band`); about 1.3–1.5× the cost of the nominal zone.
    pub band: bool,
    /// Joule heating over the pulse train, thermal dose and the thermal damage zone
    /// (`physics::ire::thermal`). Old cases without it load with the default.
    pub heating: IreHeatingOptions,
}

/// Options of the electro-thermal model (`physics::ire::thermal`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IreHeatingOptions {
    /// Run it (the preview never does).
    pub enabled: bool,
    /// Pulses per chunk: σ(E, T) and the Joule source are updated between chunks (the source
    /// is time-averaged within one).
    pub pulses_per_chunk: u32,
    /// Re-solve the field at σ(E, T) before every chunk (the reference); `false`: between the
    /// train's first and last field the chunks scale the Joule source with σ(E, T) at a held
    /// field (first order, an upper bound of the current; `physics::ire::thermal`).
    pub resolve_every_chunk: bool,
    /// Simulated time after the last pulse (s): the tissue is still hot and its thermal dose
    /// keeps growing while it cools.
    pub cooldown_s: f64,
    /// Margin of the heat grid around the electrodes (mm): a crop of the field grid, its faces
    /// held at body temperature. The rise beyond ~6 mm of an electrode stays below ~1 °C
    /// (V3: < 1 °C at 10 mm, `tests/suite/ire_heating.rs`).
    pub margin_mm: f64,
}

impl IreHeatingOptions {
    /// Checks the numbers against what makes sense for a pulse train: a crafted cool-down of
    /// 10³⁰⁰ s would run forever, zero pulses per chunk divides by zero.
    pub fn check(&self) -> Result<(), SettingError> {
        if !(1..=1000).contains(&self.pulses_per_chunk) {
            return Err(SettingError {
                field: "heating.pulses_per_chunk",
                message: format!("{} — choose 1–1000 (35 by default)", self.pulses_per_chunk),
            });
        }
        if !(self.cooldown_s.is_finite() && (0.0..=600.0).contains(&self.cooldown_s)) {
            return Err(SettingError {
                field: "heating.cooldown_s",
                message: format!("{} — choose 0–600 s (60 by default)", self.cooldown_s),
            });
        }
        if !(self.margin_mm.is_finite() && (1.0..=super::limits::MAX_MARGIN_MM).contains(&self.margin_mm)) {
            return Err(SettingError {
                field: "heating.margin_mm",
                message: format!(
                    "{} — choose 1–{} mm (6 by default)",
                    self.margin_mm,
                    super::limits::MAX_MARGIN_MM
                ),
            });
        }
        Ok(())
    }
}

impl Default for IreHeatingOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            pulses_per_chunk: 35,
            resolve_every_chunk: false,
            cooldown_s: 60.0,
            margin_mm: 6.0,
        }
    }
}

/// Relative residual a linear solve may be asked for: below 1e-12 double precision cannot
/// certify it (a request of 1e-30 once broke the solver down to 10¹⁹ A with exit 0); above
/// 1e-2 the field is visibly wrong.
pub const LINEAR_REL_TOL_RANGE: (f64, f64) = (1e-12, 1e-2);

/// Relative σ change at which the σ(E) iteration stops: finer than 1e-6 it never settles on a
/// 0.1 mm grid, coarser than 0.2 it has not started.
pub const NONLINEAR_TOL_RANGE: (f64, f64) = (1e-6, 0.2);

/// Most σ(E) iterations per pair (they converge in 4–8).
pub const MAX_NONLINEAR_ITERATIONS: usize = 100;

/// A model setting outside what the solver can do: the field (relative to the options) and why.
#[derive(Clone, Debug, PartialEq)]
pub struct SettingError {
    pub field: &'static str,
    pub message: String,
}

impl IreModelOptions {
    /// Checks the solver settings against what the solver can reach
    /// ([`LINEAR_REL_TOL_RANGE`], [`NONLINEAR_TOL_RANGE`], [`MAX_NONLINEAR_ITERATIONS`]).
    pub fn check_solver_settings(&self) -> Result<(), SettingError> {
        let in_range = |field, v: f64, (lo, hi): (f64, f64), hint: &str| {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(SettingError {
                    field,
                    message: format!("{v} — choose {lo:e}…{hi:e} ({hint})"),
                })
            }
        };
        in_range(
            "linear_rel_tol",
            self.linear_rel_tol,
            LINEAR_REL_TOL_RANGE,
            "1e-6 by default",
        )?;
        in_range(
            "nonlinear_tol",
            self.nonlinear_tol,
            NONLINEAR_TOL_RANGE,
            "1e-3 by default",
        )?;
        self.heating.check()?;
        if !(1..=MAX_NONLINEAR_ITERATIONS).contains(&self.max_nonlinear_iterations) {
            return Err(SettingError {
                field: "max_nonlinear_iterations",
                message: format!(
                    "{} — choose 1–{MAX_NONLINEAR_ITERATIONS} (12 by default)",
                    self.max_nonlinear_iterations
                ),
            });
        }
        Ok(())
    }
}

impl Default for IreModelOptions {
    fn default() -> Self {
        Self {
            spacing_mm: 0.5,
            margin_mm: 15.0,
            nonlinear: true,
            max_nonlinear_iterations: 12,
            nonlinear_tol: 1e-3,
            linear_rel_tol: 1e-6,
            zone: ZoneCriterion::TissueThreshold,
            isolines_v_per_cm: vec![300.0, 500.0, 700.0, 1000.0],
            band: true,
            heating: IreHeatingOptions::default(),
        }
    }
}

/// Accepted grid spacing (mm); the UI offers 0.25–1.0, tests and coarse studies go wider.
pub const SPACING_RANGE_MM: (f64, f64) = (0.1, 4.0);

#[cfg(test)]
mod current_state_tests {
    use super::*;

    #[test]
    fn a_pair_close_to_the_generator_limit_is_near_it_before_it_is_over() {
        let g = builtin_generator_limits().expect("the built-in generator file loads");
        let (caution, limit) = (g.current_caution_a.value, g.current_limit_a.value);
        assert!(caution < limit, "amber starts below the limit");
        assert!(
            !g.current_caution_a.source.is_empty(),
            "the threshold says where it comes from"
        );
        assert_eq!(g.current_state(caution - 0.5), CurrentState::Ok);
        assert_eq!(g.current_state(caution), CurrentState::NearLimit);
        assert_eq!(g.current_state(0.5 * (caution + limit)), CurrentState::NearLimit);
        assert_eq!(g.current_state(limit + 0.1), CurrentState::OverLimit);
    }

    #[test]
    fn a_caution_above_the_limit_is_refused() {
        let text = BUILTIN_GENERATOR_JSON.replace("\"value\": 40.0", "\"value\": 60.0");
        let e = GeneratorLimits::from_json(&text, "g.json").expect_err("refused");
        assert!(e.to_string().contains("current_caution_a"), "{e}");
    }
}
