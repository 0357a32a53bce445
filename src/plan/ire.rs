//! IRE pulse settings: which electrode pairs are pulsed, the voltage of each pair, the pulses.
//! Pure functions over probes; the field model lives in `physics/`.

use super::probe::Probe;
use serde::{Deserialize, Serialize};

/// Default voltage-to-spacing ratio (V/cm): the top of the IRE study's 1,000–1,500 V/cm
/// (Narayanan 2024, REFERENCE.md §1, §4).
pub const DEFAULT_RATIO_V_PER_CM: f64 = 1500.0;
/// The IRE study's ratio range (V/cm), REFERENCE.md §1.
pub const STUDY_RATIO_RANGE_V_PER_CM: (f64, f64) = (1000.0, 1500.0);
/// Liver practice goes up to 1,700 V/cm (Kos 2015, REFERENCE.md §4).
pub const LIVER_MAX_RATIO_V_PER_CM: f64 = 1700.0;
/// Generator maximum per pair (V): IRE study 1,500–3,000 V (REFERENCE.md §1, §4).
pub const VOLTAGE_CAP_V: f64 = 3000.0;
/// Voltages are rounded to this step (V).
pub const VOLTAGE_STEP_V: f64 = 10.0;
/// 70 pulses of 70 µs per pair (IRE study, REFERENCE.md §1).
pub const DEFAULT_PULSES: u32 = 70;
pub const DEFAULT_PULSE_WIDTH_US: f64 = 70.0;
/// Pairs farther apart than this are not pulsed by default: IRE spacing 1.0–2.5 cm
/// (REFERENCE.md §4).
pub const DEFAULT_MAX_PAIR_SPACING_MM: f64 = 25.0;
/// Generator current limit (A): it stops and recharges above (IRE study, REFERENCE.md §1).
pub const CURRENT_LIMIT_A: f64 = 48.0;

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
    pub pairs: Vec<ElectrodePair>,
}

impl Default for IreSettings {
    fn default() -> Self {
        IreSettings {
            ratio_v_per_cm: DEFAULT_RATIO_V_PER_CM,
            voltage_cap_v: VOLTAGE_CAP_V,
            max_pair_spacing_mm: DEFAULT_MAX_PAIR_SPACING_MM,
            pulses: DEFAULT_PULSES,
            pulse_width_us: DEFAULT_PULSE_WIDTH_US,
            pairs: Vec::new(),
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
