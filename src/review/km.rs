//! Kaplan–Meier (product-limit) estimator of a survival function from right-censored times, with
//! Greenwood's variance and the log(−log) ("exponential Greenwood") confidence interval that
//! Python `lifelines` reports by default, the median, numbers at risk, and grouped curves for the
//! cohort plot (local progression-free survival by modality or site, as the source studies report
//! it, REFERENCE.md §1).
//!
//! Conventions: at a time with both events and censorings the events come first (the censored
//! subjects are still at risk at that time), as in Kaplan & Meier (1958) and lifelines; `S(t)` is
//! right-continuous (it already includes the drop at `t`); the number at risk at `t` counts the
//! subjects whose time is ≥ `t`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::outcome::CaseOutcome;

/// Days per month for plotting in months (365.25 / 12).
pub const DAYS_PER_MONTH: f64 = 365.25 / 12.0;

pub use crate::plan::outcome::Observation;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KmError {
    #[error("no observations: a survival curve needs at least one case with follow-up")]
    Empty,
    #[error("observation {index}: time {time} must be a finite number ≥ 0")]
    BadTime { index: usize, time: f64 },
    #[error("confidence level {0} must lie strictly between 0 and 1 (e.g. 0.95)")]
    BadConfidence(f64),
}

/// The estimate at one distinct observed time.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct KmStep {
    pub time: f64,
    /// Subjects with time ≥ `time`.
    pub at_risk: usize,
    pub events: usize,
    pub censored: usize,
    /// S(time), including the drop at `time`.
    pub survival: f64,
    /// Greenwood's variance of S: `S² Σ dᵢ / (nᵢ (nᵢ − dᵢ))` (infinite once S = 0).
    pub variance: f64,
    /// Log(−log) confidence interval of S.
    pub ci_lower: f64,
    pub ci_upper: f64,
}

/// A fitted Kaplan–Meier curve.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KaplanMeier {
    /// One step per distinct observed time (events or censorings), ascending.
    pub steps: Vec<KmStep>,
    pub subjects: usize,
    pub events: usize,
    /// Confidence level of the interval (e.g. 0.95).
    pub confidence: f64,
}

/// Standard normal quantile by P. J. Acklam's rational approximation (relative error < 1.2e-9,
/// far below what a confidence band shows). `p` in (0, 1).
fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    const P_LOW: f64 = 0.02425;
    if p < P_LOW {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - P_LOW {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The log(−log) interval of `s` given Greenwood's sum `g = Σ d/(n(n−d))`: with
/// `v = g / (ln s)²`, `c± = ln(−ln s) ± z √v`, the bounds are `exp(−exp(c+))`, `exp(−exp(c−))`.
/// At S = 1 (no event yet) the interval is [1, 1] and at S = 0 it is [0, 0], as in lifelines.
fn log_log_interval(s: f64, g: f64, z: f64) -> (f64, f64) {
    if s >= 1.0 {
        return (1.0, 1.0);
    }
    if s <= 0.0 || !g.is_finite() {
        return (0.0, 0.0);
    }
    let ln_s = s.ln();
    let half = z * (g / (ln_s * ln_s)).sqrt();
    let c = (-ln_s).ln();
    ((-(c + half).exp()).exp(), (-(c - half).exp()).exp())
}

impl KaplanMeier {
    /// Fits the product-limit estimate with a `confidence` (e.g. 0.95) log(−log) interval.
    pub fn fit(observations: &[Observation], confidence: f64) -> Result<Self, KmError> {
        if !(confidence > 0.0 && confidence < 1.0) {
            return Err(KmError::BadConfidence(confidence));
        }
        if observations.is_empty() {
            return Err(KmError::Empty);
        }
        if let Some((index, o)) = observations
            .iter()
            .enumerate()
            .find(|(_, o)| !(o.time.is_finite() && o.time >= 0.0))
        {
            return Err(KmError::BadTime { index, time: o.time });
        }
        let z = normal_quantile(0.5 + confidence / 2.0);
        let mut sorted: Vec<Observation> = observations.to_vec();
        sorted.sort_by(|a, b| a.time.total_cmp(&b.time));
        let mut steps = Vec::new();
        let mut at_risk = sorted.len();
        let (mut s, mut greenwood) = (1.0f64, 0.0f64);
        let mut i = 0;
        while i < sorted.len() {
            let t = sorted[i].time;
            let same = sorted[i..].iter().take_while(|o| o.time == t).count();
            let events = sorted[i..i + same].iter().filter(|o| o.event).count();
            // Events before censorings: everyone with time t is at risk for the events at t.
            if events > 0 {
                let (n, d) = (at_risk as f64, events as f64);
                s *= 1.0 - d / n;
                greenwood += if at_risk > events {
                    d / (n * (n - d))
                } else {
                    f64::INFINITY
                };
            }
            let (ci_lower, ci_upper) = log_log_interval(s, greenwood, z);
            steps.push(KmStep {
                time: t,
                at_risk,
                events,
                censored: same - events,
                survival: s,
                variance: if s > 0.0 { s * s * greenwood } else { 0.0 },
                ci_lower,
                ci_upper,
            });
            at_risk -= same;
            i += same;
        }
        Ok(Self {
            subjects: sorted.len(),
            events: sorted.iter().filter(|o| o.event).count(),
            steps,
            confidence,
        })
    }

    /// The last step at or before `t`.
    fn step_at(&self, t: f64) -> Option<&KmStep> {
        let n = self.steps.partition_point(|s| s.time <= t);
        n.checked_sub(1).and_then(|i| self.steps.get(i))
    }

    /// S(t) (1 before the first time; the last value after the last time, where the estimate is
    /// not defined beyond it if that time is censored).
    pub fn survival_at(&self, t: f64) -> f64 {
        self.step_at(t).map_or(1.0, |s| s.survival)
    }

    /// The confidence interval of S(t).
    pub fn ci_at(&self, t: f64) -> (f64, f64) {
        self.step_at(t).map_or((1.0, 1.0), |s| (s.ci_lower, s.ci_upper))
    }

    /// Subjects still at risk at `t` (time ≥ `t`).
    pub fn at_risk_at(&self, t: f64) -> usize {
        let first = self.steps.partition_point(|s| s.time < t);
        self.steps.get(first).map_or(0, |s| s.at_risk)
    }

    /// Numbers at risk at each of `times` (for the table under a plot).
    pub fn at_risk_table(&self, times: &[f64]) -> Vec<(f64, usize)> {
        times.iter().map(|&t| (t, self.at_risk_at(t))).collect()
    }

    /// The median: the first time at which S ≤ 0.5 (lifelines' `median_survival_time_`); `None`
    /// when the curve stays above one half.
    pub fn median(&self) -> Option<f64> {
        self.quantile_time(0.5)
    }

    /// The first time at which S ≤ `p`.
    pub fn quantile_time(&self, p: f64) -> Option<f64> {
        self.steps.iter().find(|s| s.survival <= p).map(|s| s.time)
    }

    /// The survival curve as a step polyline from (0, 1), with a vertical drop at each event
    /// time, to the last observed time; times multiplied by `time_scale` (e.g. 1 /
    /// [`DAYS_PER_MONTH`] to plot days in months).
    pub fn step_points(&self, time_scale: f64) -> Vec<[f64; 2]> {
        step_polyline(&self.steps, time_scale, |s| s.survival, 1.0)
    }

    /// The lower and upper confidence bounds as step polylines (as [`Self::step_points`]).
    pub fn ci_step_points(&self, time_scale: f64) -> (Vec<[f64; 2]>, Vec<[f64; 2]>) {
        (
            step_polyline(&self.steps, time_scale, |s| s.ci_lower, 1.0),
            step_polyline(&self.steps, time_scale, |s| s.ci_upper, 1.0),
        )
    }

    /// The confidence band as a step band for a filled area: equal-length x, lower and upper
    /// (each interval between event times held flat, as the curve is); starts at (0, 1, 1).
    pub fn ci_band(&self, time_scale: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (mut xs, mut lo, mut hi) = (vec![0.0], vec![1.0], vec![1.0]);
        let (mut l, mut h) = (1.0, 1.0);
        for s in &self.steps {
            let t = s.time * time_scale;
            // close the previous interval at t, then jump
            xs.push(t);
            lo.push(l);
            hi.push(h);
            l = s.ci_lower;
            h = s.ci_upper;
            xs.push(t);
            lo.push(l);
            hi.push(h);
        }
        (xs, lo, hi)
    }

    /// Tick marks of censored subjects: (time × `time_scale`, S at that time).
    pub fn censor_marks(&self, time_scale: f64) -> Vec<[f64; 2]> {
        self.steps
            .iter()
            .filter(|s| s.censored > 0)
            .map(|s| [s.time * time_scale, s.survival])
            .collect()
    }
}

fn step_polyline(steps: &[KmStep], scale: f64, value: impl Fn(&KmStep) -> f64, start: f64) -> Vec<[f64; 2]> {
    let mut out = vec![[0.0, start]];
    let mut last = start;
    for s in steps {
        let v = value(s);
        let t = s.time * scale;
        if v != last {
            out.push([t, last]);
            out.push([t, v]);
            last = v;
        }
    }
    if let Some(s) = steps.last() {
        out.push([s.time * scale, last]);
    }
    out
}

/// One group's curve for the cohort plot.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupCurve {
    pub label: String,
    pub km: KaplanMeier,
    /// Numbers at risk at the requested times.
    pub at_risk: Vec<(f64, usize)>,
}

/// Kaplan–Meier curves of labelled observations, one per label, in label order (deterministic).
pub fn group_curves(
    entries: &[(String, Observation)],
    at_risk_times: &[f64],
    confidence: f64,
) -> Result<Vec<GroupCurve>, KmError> {
    let mut groups: BTreeMap<&str, Vec<Observation>> = BTreeMap::new();
    for (label, o) in entries {
        groups.entry(label.as_str()).or_default().push(*o);
    }
    groups
        .into_iter()
        .map(|(label, obs)| {
            let km = KaplanMeier::fit(&obs, confidence)?;
            Ok(GroupCurve {
                label: label.to_string(),
                at_risk: km.at_risk_table(at_risk_times),
                km,
            })
        })
        .collect()
}

/// How to split a cohort into curves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GroupBy {
    /// One curve for the whole cohort.
    All,
    /// IRE, cryo, ...
    Modality,
    /// Target site (e.g. "pelvic", "retroperitoneal").
    Site,
}

/// Which progression the curve follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Endpoint {
    LocalProgression,
    DistantProgression,
}

/// A case of the library as the cohort view needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct CohortCase {
    pub modality: String,
    pub site: String,
    pub outcome: CaseOutcome,
}

/// Curves of a cohort, and how many cases were left out because they have no follow-up.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CohortCurves {
    pub curves: Vec<GroupCurve>,
    pub without_follow_up: usize,
}

/// Progression-free curves (times in days) of a cohort split by `by`; cases without any
/// follow-up or progression date add no information and are only counted.
pub fn cohort_curves(
    cases: &[CohortCase],
    by: GroupBy,
    endpoint: Endpoint,
    at_risk_days: &[f64],
    confidence: f64,
) -> Result<CohortCurves, KmError> {
    let mut entries = Vec::new();
    let mut without_follow_up = 0;
    for c in cases {
        let obs = match endpoint {
            Endpoint::LocalProgression => c.outcome.local_pfs(),
            Endpoint::DistantProgression => c.outcome.distant_pfs(),
        };
        let Some(obs) = obs else {
            without_follow_up += 1;
            continue;
        };
        let label = match by {
            GroupBy::All => "All".to_string(),
            GroupBy::Modality => non_empty(&c.modality),
            GroupBy::Site => non_empty(&c.site),
        };
        entries.push((label, obs));
    }
    if entries.is_empty() {
        return Err(KmError::Empty);
    }
    Ok(CohortCurves {
        curves: group_curves(&entries, at_risk_days, confidence)?,
        without_follow_up,
    })
}

fn non_empty(s: &str) -> String {
    let t = s.trim();
    if t.is_empty() {
        "(unspecified)".into()
    } else {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantiles() {
        // scipy.stats.norm.ppf values.
        assert!((normal_quantile(0.975) - 1.959_963_984_540_054).abs() < 1e-8);
        assert!((normal_quantile(0.95) - 1.644_853_626_951_472_2).abs() < 1e-8);
        assert!((normal_quantile(0.5)).abs() < 1e-12);
        assert!((normal_quantile(0.005) + 2.575_829_303_548_901).abs() < 1e-8);
    }

    #[test]
    fn refuses_bad_input() {
        assert_eq!(KaplanMeier::fit(&[], 0.95), Err(KmError::Empty));
        assert_eq!(
            KaplanMeier::fit(&[Observation::event(1.0), Observation::event(-1.0)], 0.95),
            Err(KmError::BadTime { index: 1, time: -1.0 })
        );
        assert!(KaplanMeier::fit(&[Observation::event(f64::NAN)], 0.95).is_err());
        assert_eq!(
            KaplanMeier::fit(&[Observation::event(1.0)], 1.0),
            Err(KmError::BadConfidence(1.0))
        );
    }

    #[test]
    fn step_polyline_shape() {
        let km = KaplanMeier::fit(
            &[
                Observation::event(1.0),
                Observation::censored(2.0),
                Observation::event(3.0),
            ],
            0.95,
        )
        .unwrap();
        // S: 1 → 2/3 at t = 1, 2/3 at the censoring (no drop), 0 at t = 3.
        let p = km.step_points(1.0);
        assert_eq!(p.len(), 6);
        assert_eq!(p[0], [0.0, 1.0]);
        assert_eq!(p[1], [1.0, 1.0]);
        assert!((p[2][1] - 2.0 / 3.0).abs() < 1e-15);
        assert_eq!(p[4], [3.0, 0.0]);
        let marks = km.censor_marks(0.5);
        assert_eq!(marks.len(), 1);
        assert!(marks[0][0] == 1.0 && (marks[0][1] - 2.0 / 3.0).abs() < 1e-15);
    }
}

#[cfg(test)]
mod band_tests {
    use super::*;

    #[test]
    fn the_confidence_band_is_a_step_band_around_the_curve() {
        // One event at 6 months among five subjects, the others censored later.
        let obs: Vec<Observation> = [
            (180.0, true),
            (270.0, true),
            (365.0, false),
            (400.0, false),
            (180.0, false),
        ]
        .iter()
        .map(|&(time, event)| Observation { time, event })
        .collect();
        let km = KaplanMeier::fit(&obs, 0.95).expect("fits");
        let (xs, lo, hi) = km.ci_band(1.0);
        assert_eq!((xs.len(), lo.len()), (hi.len(), xs.len()));
        assert!(xs.windows(2).all(|w| w[0] <= w[1]), "time never runs back");
        for (i, &x) in xs.iter().enumerate() {
            assert!(lo[i] <= hi[i], "band ordered at {x}");
            // Within an interval the band is flat: it only changes where x repeats (a step).
            if i > 0 && xs[i - 1] < x {
                assert_eq!(
                    (lo[i - 1], hi[i - 1]),
                    (lo[i], hi[i]),
                    "flat between steps at {x}"
                );
            }
            // After each jump (the second point of a repeated x) the curve lies inside the band.
            if i > 0 && xs[i - 1] == x {
                let s = km.survival_at(x);
                assert!(
                    lo[i] - 1e-9 <= s && s <= hi[i] + 1e-9,
                    "S({x}) = {s} in [{}, {}]",
                    lo[i],
                    hi[i]
                );
            }
        }
        assert!(!km.censor_marks(1.0).is_empty(), "censored subjects get ticks");
    }
}
