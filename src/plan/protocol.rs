//! The cryoablation protocol: a timeline of freeze / passive thaw / active thaw phases with
//! durations, and per-probe duty cycles per phase (`../shared/REFERENCE.md` §1, §3).
//!
//! Default: the cryo study's double freeze, 10 min freeze, 9 min passive thaw, 1 min active thaw,
//! 10 min freeze (Autrusseau et al., JVIR 2021). Presets: a single 10-min freeze and the 10-5-10
//! double freeze (REFERENCE.md §3: "Double freeze (10-5-10) did not enlarge isotherms in gelatin").
//!
//! A probe runs at duty 1 (always on) unless the phase overrides it: duty 0 switches it off (its
//! surface carries no heat, like a passive thaw), 0 < duty < 1 cycles it on and off (the model's
//! `duty_period_s`). Passive thaw ignores duties: every probe is off.

use serde::{Deserialize, Serialize};

/// What the probes do during a phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseKind {
    /// Argon (Joule–Thomson) cooling: the active length is held at the freeze surface temperature.
    Freeze,
    /// Gas off: the probe surface is adiabatic (zero flux).
    PassiveThaw,
    /// Helium / electrical thaw: the active length is held at the active-thaw temperature.
    ActiveThaw,
}

impl PhaseKind {
    pub fn label(self) -> &'static str {
        match self {
            PhaseKind::Freeze => "freeze",
            PhaseKind::PassiveThaw => "passive thaw",
            PhaseKind::ActiveThaw => "active thaw",
        }
    }
}

/// A per-probe setting for one phase: `probe` indexes the plan's probe list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeDuty {
    pub probe: usize,
    /// Fraction of the time the probe is on, 0 (off) to 1.
    pub duty: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Phase {
    pub kind: PhaseKind,
    pub duration_s: f64,
    /// Probes not listed run at duty 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probe_duty: Vec<ProbeDuty>,
}

impl Phase {
    pub fn new(kind: PhaseKind, duration_s: f64) -> Self {
        Self {
            kind,
            duration_s,
            probe_duty: Vec::new(),
        }
    }

    /// Duty of `probe` in this phase (0 for every probe in a passive thaw).
    pub fn duty(&self, probe: usize) -> f64 {
        if self.kind == PhaseKind::PassiveThaw {
            return 0.0;
        }
        self.probe_duty
            .iter()
            .rev()
            .find(|d| d.probe == probe)
            .map_or(1.0, |d| d.duty)
    }
}

/// A protocol timeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CryoProtocol {
    pub phases: Vec<Phase>,
}

/// Longest protocol accepted (s): 2 h, far above any clinical protocol; guards against typos
/// (`600000` for `600`) that would run for hours.
pub const MAX_PROTOCOL_S: f64 = 7200.0;

impl Default for CryoProtocol {
    /// The cryo study's double freeze 10 / 9 + 1 / 10 min (REFERENCE.md §1).
    fn default() -> Self {
        Self::double_freeze()
    }
}

/// A protocol error naming the field (`phases[1].duration_s`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ProtocolError {
    pub field: String,
    pub message: String,
}

impl CryoProtocol {
    /// 10 min freeze, 9 min passive thaw, 1 min active thaw, 10 min freeze (Autrusseau et al.,
    /// JVIR 2021; REFERENCE.md §1).
    pub fn double_freeze() -> Self {
        Self {
            phases: vec![
                Phase::new(PhaseKind::Freeze, 600.0),
                Phase::new(PhaseKind::PassiveThaw, 540.0),
                Phase::new(PhaseKind::ActiveThaw, 60.0),
                Phase::new(PhaseKind::Freeze, 600.0),
            ],
        }
    }

    /// One 10-min freeze.
    pub fn single_freeze() -> Self {
        Self {
            phases: vec![Phase::new(PhaseKind::Freeze, 600.0)],
        }
    }

    /// 10 min freeze, 5 min passive thaw, 10 min freeze (REFERENCE.md §3).
    pub fn ten_five_ten() -> Self {
        Self {
            phases: vec![
                Phase::new(PhaseKind::Freeze, 600.0),
                Phase::new(PhaseKind::PassiveThaw, 300.0),
                Phase::new(PhaseKind::Freeze, 600.0),
            ],
        }
    }

    /// One freeze of `duration_s` (validation experiments, e.g. Littrup's 15 min).
    pub fn freeze_only(duration_s: f64) -> Self {
        Self {
            phases: vec![Phase::new(PhaseKind::Freeze, duration_s)],
        }
    }

    /// The named presets, for menus: (label, protocol).
    pub fn presets() -> Vec<(&'static str, CryoProtocol)> {
        vec![
            ("double freeze 10 / 9 + 1 / 10 min", Self::double_freeze()),
            ("single freeze 10 min", Self::single_freeze()),
            ("double freeze 10 / 5 / 10 min", Self::ten_five_ten()),
        ]
    }

    pub fn total_s(&self) -> f64 {
        self.phases.iter().map(|p| p.duration_s).sum()
    }

    /// Start time of every phase (s), plus the end as the last entry.
    pub fn boundaries_s(&self) -> Vec<f64> {
        let mut t = 0.0;
        let mut out = vec![0.0];
        for p in &self.phases {
            t += p.duration_s;
            out.push(t);
        }
        out
    }

    /// The phase running at `time_s` (index and phase); the last phase at or after the end.
    pub fn phase_at(&self, time_s: f64) -> Option<(usize, &Phase)> {
        let b = self.boundaries_s();
        let n = self.phases.len();
        (0..n)
            .find(|&i| time_s < b[i + 1])
            .or(n.checked_sub(1))
            .map(|i| (i, &self.phases[i]))
    }

    /// End of the last freeze phase (s), `None` without one: the time the iceball is largest in a
    /// single freeze, and the end of the second freeze in a double one.
    pub fn end_of_last_freeze_s(&self) -> Option<f64> {
        let b = self.boundaries_s();
        self.phases
            .iter()
            .enumerate()
            .rev()
            .find(|(_, p)| p.kind == PhaseKind::Freeze)
            .map(|(i, _)| b[i + 1])
    }

    /// Checks durations, duties and probe indices (`n_probes` probes); errors name the field.
    pub fn validate(&self, n_probes: usize) -> Result<(), ProtocolError> {
        let err = |field: String, message: String| Err(ProtocolError { field, message });
        if self.phases.is_empty() {
            return err("phases".into(), "empty — add at least one freeze phase".into());
        }
        if !self.phases.iter().any(|p| p.kind == PhaseKind::Freeze) {
            return err(
                "phases".into(),
                "no freeze phase — a cryoablation protocol needs at least one".into(),
            );
        }
        for (i, p) in self.phases.iter().enumerate() {
            if !p.duration_s.is_finite() || p.duration_s <= 0.0 {
                return err(
                    format!("phases[{i}].duration_s"),
                    format!("{} — must be a positive number of seconds", p.duration_s),
                );
            }
            for (j, d) in p.probe_duty.iter().enumerate() {
                if d.probe >= n_probes {
                    return err(
                        format!("phases[{i}].probe_duty[{j}].probe"),
                        format!(
                            "probe index {} does not exist — the plan has {n_probes} probes, indices 0–{}",
                            d.probe,
                            n_probes.saturating_sub(1)
                        ),
                    );
                }
                if !d.duty.is_finite() || !(0.0..=1.0).contains(&d.duty) {
                    return err(
                        format!("phases[{i}].probe_duty[{j}].duty"),
                        format!("{} — must lie between 0 (off) and 1 (always on)", d.duty),
                    );
                }
                if p.probe_duty[..j].iter().any(|e| e.probe == d.probe) {
                    return err(
                        format!("phases[{i}].probe_duty[{j}].probe"),
                        format!("probe {} is listed twice in this phase", d.probe),
                    );
                }
            }
        }
        let total = self.total_s();
        if total > MAX_PROTOCOL_S {
            return err(
                "phases".into(),
                format!(
                    "{:.0} s in total — at most {MAX_PROTOCOL_S:.0} s (durations are in seconds)",
                    total
                ),
            );
        }
        Ok(())
    }

    /// One line, e.g. "freeze 10 min, passive thaw 9 min, active thaw 1 min, freeze 10 min".
    pub fn description(&self) -> String {
        self.phases
            .iter()
            .map(|p| {
                let min = p.duration_s / 60.0;
                if (min - min.round()).abs() < 1e-9 {
                    format!("{} {} min", p.kind.label(), min.round())
                } else {
                    format!("{} {:.1} min", p.kind.label(), min)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_the_study_double_freeze() {
        let p = CryoProtocol::default();
        assert_eq!(p.total_s(), 1800.0);
        assert_eq!(
            p.description(),
            "freeze 10 min, passive thaw 9 min, active thaw 1 min, freeze 10 min"
        );
        assert_eq!(p.end_of_last_freeze_s(), Some(1800.0));
        assert_eq!(p.phase_at(0.0).map(|x| x.0), Some(0));
        assert_eq!(p.phase_at(600.0).map(|x| x.0), Some(1));
        assert_eq!(p.phase_at(1150.0).map(|x| x.0), Some(2));
        assert_eq!(p.phase_at(5000.0).map(|x| x.0), Some(3));
        assert!(p.validate(3).is_ok());
        assert_eq!(CryoProtocol::ten_five_ten().total_s(), 1500.0);
    }

    #[test]
    fn duties_and_errors_name_the_field() {
        let mut p = CryoProtocol::single_freeze();
        p.phases[0].probe_duty.push(ProbeDuty { probe: 1, duty: 0.5 });
        assert_eq!(p.phases[0].duty(1), 0.5);
        assert_eq!(p.phases[0].duty(0), 1.0);
        assert_eq!(Phase::new(PhaseKind::PassiveThaw, 1.0).duty(0), 0.0);
        let e = p.validate(1).expect_err("probe 1 of 1");
        assert_eq!(e.field, "phases[0].probe_duty[0].probe");
        p.phases[0].probe_duty[0].duty = 1.5;
        assert_eq!(
            p.validate(2).expect_err("duty").field,
            "phases[0].probe_duty[0].duty"
        );
        let mut q = CryoProtocol::double_freeze();
        q.phases[2].duration_s = -1.0;
        assert_eq!(q.validate(1).expect_err("duration").field, "phases[2].duration_s");
        let thaw_only = CryoProtocol {
            phases: vec![Phase::new(PhaseKind::PassiveThaw, 60.0)],
        };
        assert_eq!(thaw_only.validate(1).expect_err("no freeze").field, "phases");
    }

    #[test]
    fn serde_round_trip() {
        let mut p = CryoProtocol::ten_five_ten();
        p.phases[0].probe_duty.push(ProbeDuty { probe: 0, duty: 0.0 });
        let text = serde_json::to_string(&p).unwrap();
        assert!(text.contains("\"passive_thaw\""), "{text}");
        let back: CryoProtocol = serde_json::from_str(&text).unwrap();
        assert_eq!(back, p);
    }
}
