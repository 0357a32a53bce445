//! Calibration as code (issue 13, REFERENCE.md §7): the two IRE parameters the literature leaves
//! open — the liver's lethal threshold for the clinical protocol (published 269–637 V/cm) and the
//! electroporated / static conductivity ratio σ1/σ0 (published 2–4×) — fitted once, on the
//! calibration set only (V3, Ben-David 2012: 30 ± 4 × 17 ± 4 × 30 ± 6 mm), by least squares over
//! the three axes together, each residual in units of its SD.
//!
//! Method (deterministic, no optimiser tolerances):
//! - For each σ ratio on a grid over the published range, one nonlinear solve of the V3 set-up
//!   (`assets/cases/v3_ben_david_liver.json`, its grid and margin). The zone for any threshold is
//!   then `max|E| ≥ threshold` on that one field, and the extents for *every* threshold on a
//!   1 V/cm grid are measured on that one field, sub-voxel ([`extents_by_threshold`]).
//! - The fit is the (threshold, ratio) of least Σ((model − measured)/SD)². The extents are
//!   steps of one grid spacing in the threshold; the minimum is a threshold interval, whose
//!   middle is taken.
//! - What remains uncertain after the fit (the band's ranges): the ratios whose V3 zone at the
//!   fitted threshold stays within ±1 SD on every axis; then the thresholds for which the band's
//!   inner surface (per axis the smallest extent over the ratio ends at the upper threshold) stays
//!   ≥ measured − 1 SD, and the outer surface ≤ measured + 1 SD. So on V3 the band spans at most
//!   the published ±1 SD, and the ranges are never wider than the published ones.
//! - The other classes have no in vivo zone to fit: their cited thresholds (the 500 V/cm
//!   soft-tissue default) follow the same protocol shift (the factor fitted threshold / cited
//!   liver threshold) and are marked unconfirmed; their σ ratios stay the cited ones, and the
//!   band applies the liver's relative ratio range to them.

use super::model::{IreError, IreModelOptions, IreResult, TissueSource, ZoneCriterion, compute_ire};
use crate::jobs::JobCtx;
use crate::plan::case::{CaseFile, CaseSource};
use crate::plan::tissue_params::{CalibratedValue, IreCalibration, ParamRange, TissueParams};
use nalgebra::Vector3;

/// The V3 case the calibration runs (the same file `ablaplan compute` runs).
pub const V3_CASE_JSON: &str = include_str!("../../../assets/cases/v3_ben_david_liver.json");
pub const V3_CASE_NAME: &str = "assets/cases/v3_ben_david_liver.json";

/// Published ranges (REFERENCE.md §7) the calibrated values must stay in.
pub const THRESHOLD_RANGE_V_PER_CM: [f64; 2] = [269.0, 637.0];
pub const SIGMA_RATIO_RANGE: [f64; 2] = [2.0, 4.0];
const THRESHOLD_SOURCES: [&str; 3] = [
    "Peleg–Fermi Ec(90) ≈ 269 V/cm, Ec(70) ≈ 489 V/cm (REFERENCE.md §2)",
    "human liver best match to CT 500–600 V/cm (TCRT 2025)",
    "Miklavčič 2000: 637 ± 43 V/cm with 8 pulses",
];
const RATIO_SOURCES: [&str; 3] = [
    "Go-Smart 4× (REFERENCE.md §2)",
    "Sel 2005 and Čorović 2013 fit in vivo zones better with σ(E) than with constant σ",
    "REFERENCE.md §7: electroporated/static ratio 2–4×",
];

/// Threshold grid step (V/cm) and σ-ratio grid step of the scan.
const THRESHOLD_STEP_V_PER_CM: f64 = 1.0;
const RATIO_STEP: f64 = 0.125;

/// What to fit to: the measured extents (pair axis, perpendicular, along the electrodes) and SDs.
#[derive(Clone, Debug, PartialEq)]
pub struct CalibrationTarget {
    pub class_id: String,
    pub extents_mm: [f64; 3],
    pub sd_mm: [f64; 3],
    pub source: String,
    /// The class's threshold as cited before calibration (the protocol shift is relative to it).
    pub cited_threshold_v_per_cm: f64,
    /// The other classes' cited threshold (the soft-tissue default).
    pub other_cited_threshold_v_per_cm: f64,
}

impl CalibrationTarget {
    /// The target recorded in the asset's `calibration` section.
    pub fn from_asset(params: &TissueParams) -> Option<Self> {
        let c = params.calibration.as_ref()?;
        Some(Self {
            class_id: c.class_id.clone(),
            extents_mm: c.measured_extents_mm,
            sd_mm: c.measured_sd_mm,
            source: c.measurement_source.clone(),
            cited_threshold_v_per_cm: c.cited_threshold_v_per_cm,
            other_cited_threshold_v_per_cm: c.other_cited_threshold_v_per_cm,
        })
    }

    /// Residuals (model − measured) / SD.
    pub fn residuals(&self, extents_mm: [f64; 3]) -> [f64; 3] {
        [0, 1, 2].map(|i| (extents_mm[i] - self.extents_mm[i]) / self.sd_mm[i])
    }

    fn cost(&self, extents_mm: [f64; 3]) -> f64 {
        self.residuals(extents_mm).iter().map(|r| r * r).sum()
    }

    fn within_one_sd(&self, extents_mm: [f64; 3]) -> bool {
        self.residuals(extents_mm).iter().all(|r| r.abs() <= 1.0)
    }
}

/// One σ ratio of the scan: extents for every threshold of the grid.
#[derive(Clone, Debug)]
pub struct RatioScan {
    pub ratio: f64,
    /// `(threshold V/cm, extents mm)` for thresholds from the published low end upward.
    pub extents: Vec<(f64, [f64; 3])>,
}

impl RatioScan {
    fn at(&self, threshold: f64) -> [f64; 3] {
        let i = ((threshold - THRESHOLD_RANGE_V_PER_CM[0]) / THRESHOLD_STEP_V_PER_CM).round();
        let i = (i.max(0.0) as usize).min(self.extents.len().saturating_sub(1));
        self.extents.get(i).map_or([0.0; 3], |e| e.1)
    }
}

/// The outcome: the values to store and what they predict.
#[derive(Clone, Debug)]
pub struct CalibrationReport {
    pub target: CalibrationTarget,
    pub threshold_v_per_cm: f64,
    pub threshold_band_v_per_cm: [f64; 2],
    pub sigma_ratio: f64,
    pub sigma_ratio_band: [f64; 2],
    pub predicted_extents_mm: [f64; 3],
    pub residuals_sd: [f64; 3],
    /// The band on V3 from the scan (per axis, inner = smallest over the ratio ends at the upper
    /// threshold, outer = largest at the lower).
    pub band_inner_extents_mm: [f64; 3],
    pub band_outer_extents_mm: [f64; 3],
    pub spacing_mm: f64,
    pub margin_mm: f64,
    pub scans: Vec<RatioScan>,
}

/// The V3 case, parsed.
pub fn v3_case() -> Result<CaseFile, IreError> {
    CaseFile::from_json(V3_CASE_JSON, V3_CASE_NAME).map_err(|e| IreError::Invalid(e.to_string()))
}

/// Axes of the V3 extents: the pair axis, the normal of the electrode plane, the electrodes.
pub fn v3_axes(case: &CaseFile) -> Result<[Vector3<f64>; 3], IreError> {
    let [a, b] = [0, 1].map(|i| case.probes.get(i));
    let (Some(a), Some(b)) = (a, b) else {
        return Err(IreError::Invalid(format!("{V3_CASE_NAME}: needs two probes")));
    };
    let along = (a.tip_lps - a.entry_lps).normalize();
    let pair = b.tip_lps - a.tip_lps;
    let pair = (pair - along * along.dot(&pair)).normalize();
    let normal = along.cross(&pair);
    Ok([pair, normal, along])
}

/// Runs the V3 case with `params` (band off) and returns the result.
pub fn run_v3(
    case: &CaseFile,
    params: &TissueParams,
    band: bool,
    ctx: &JobCtx,
) -> Result<IreResult, IreError> {
    let CaseSource::Phantom {
        tissue,
        size_mm,
        centre_lps,
    } = &case.source
    else {
        return Err(IreError::Invalid(format!("{V3_CASE_NAME}: must be a phantom")));
    };
    let opts = IreModelOptions {
        band,
        zone: ZoneCriterion::TissueThreshold,
        ..case.model.clone()
    };
    let tissue = TissueSource::Phantom {
        class_id: tissue,
        centre_lps: (*centre_lps).into(),
        size_mm: *size_mm,
    };
    compute_ire(&case.probes, &case.effective_ire(), tissue, params, &opts, ctx)
}

/// `params` with σ1 of `class_id` set to `ratio` × σ0.
pub fn with_sigma_ratio(params: &TissueParams, class_id: &str, ratio: f64) -> Result<TissueParams, IreError> {
    let mut p = params.clone();
    let c = p
        .classes
        .iter_mut()
        .find(|c| c.id == class_id)
        .ok_or_else(|| IreError::Invalid(format!("unknown class \"{class_id}\"")))?;
    c.sigma1_s_per_m.value = ratio * c.sigma0_s_per_m.value;
    Ok(p)
}

/// Extents along `axes` (each must be a grid axis: the V3 set-up is grid-aligned) of
/// `max|E| ≥ t` for every threshold `t` of `thresholds`, **sub-voxel**: on every grid line along
/// the axis, the outermost crossings of `t` are interpolated linearly between the nodes, and the
/// extent is the distance between the lowest and the highest crossing. Node-count extents move in
/// steps of two spacings (both ends at once), which would make the fit's cost a staircase that
/// the σ ratio cannot be resolved on; the crossings are continuous in the threshold and in σ.
pub fn extents_by_threshold(
    r: &IreResult,
    axes: [Vector3<f64>; 3],
    thresholds: &[f64],
) -> Result<Vec<(f64, [f64; 3])>, IreError> {
    let g = &r.grid;
    let mut grid_axis = [0usize; 3];
    for (a, axis) in axes.iter().enumerate() {
        let n = axis.normalize();
        let k = (0..3)
            .max_by(|&i, &j| n[i].abs().total_cmp(&n[j].abs()))
            .unwrap_or(0);
        if n[k].abs() < 0.999 {
            return Err(IreError::Invalid(format!(
                "calibration: axis {a} ({n:?}) is not a grid axis — the V3 case must be grid-aligned"
            )));
        }
        grid_axis[a] = k;
    }
    // The box of nodes that can be in any zone of the scan.
    let lowest = thresholds.first().copied().unwrap_or(0.0) as f32;
    let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
    for (idx, &e) in r.max_e_v_per_cm.iter().enumerate() {
        if e >= lowest {
            let ijk = g.ijk(idx);
            for ax in 0..3 {
                lo[ax] = lo[ax].min(ijk[ax]);
                hi[ax] = hi[ax].max(ijk[ax]);
            }
        }
    }
    if lo[0] == usize::MAX {
        return Ok(thresholds.iter().map(|&t| (t, [0.0; 3])).collect());
    }
    for ax in 0..3 {
        lo[ax] = lo[ax].saturating_sub(1);
        hi[ax] = (hi[ax] + 1).min(g.dims[ax] - 1);
    }
    let e = &r.max_e_v_per_cm;
    let extent_along = |k: usize, t: f32| -> f64 {
        let (u, v) = ((k + 1) % 3, (k + 2) % 3);
        let mut first = f64::INFINITY;
        let mut last = f64::NEG_INFINITY;
        let at = |line: [usize; 3], s: usize| {
            let mut ijk = line;
            ijk[k] = s;
            e[g.index(ijk[0], ijk[1], ijk[2])]
        };
        for a in lo[u]..=hi[u] {
            for b in lo[v]..=hi[v] {
                let mut line = [0usize; 3];
                line[u] = a;
                line[v] = b;
                let Some(s0) = (lo[k]..=hi[k]).find(|&s| at(line, s) >= t) else {
                    continue;
                };
                let s1 = (lo[k]..=hi[k]).rev().find(|&s| at(line, s) >= t).unwrap_or(s0);
                // Interpolated crossings outside the outermost nodes at or above t.
                let down = if s0 > 0 {
                    let (e0, e1) = (at(line, s0 - 1), at(line, s0));
                    s0 as f64 - f64::from((e1 - t) / (e1 - e0).max(f32::MIN_POSITIVE))
                } else {
                    s0 as f64
                };
                let up = if s1 + 1 < g.dims[k] {
                    let (e0, e1) = (at(line, s1), at(line, s1 + 1));
                    s1 as f64 + f64::from((e0 - t) / (e0 - e1).max(f32::MIN_POSITIVE))
                } else {
                    s1 as f64
                };
                first = first.min(down);
                last = last.max(up);
            }
        }
        if last >= first {
            (last - first) * g.spacing_mm
        } else {
            0.0
        }
    };
    use rayon::prelude::*;
    Ok(thresholds
        .par_iter()
        .map(|&t| (t, grid_axis.map(|k| extent_along(k, t as f32))))
        .collect())
}

/// The threshold grid over the published range.
fn threshold_grid() -> Vec<f64> {
    let [lo, hi] = THRESHOLD_RANGE_V_PER_CM;
    let n = ((hi - lo) / THRESHOLD_STEP_V_PER_CM).round() as usize;
    (0..=n).map(|i| lo + i as f64 * THRESHOLD_STEP_V_PER_CM).collect()
}

/// The σ-ratio grid over the published range.
fn ratio_grid() -> Vec<f64> {
    let [lo, hi] = SIGMA_RATIO_RANGE;
    let n = ((hi - lo) / RATIO_STEP).round() as usize;
    (0..=n).map(|i| lo + i as f64 * RATIO_STEP).collect()
}

/// Calibrates on V3. `progress` receives one line per solve.
pub fn calibrate_v3(
    params: &TissueParams,
    target: &CalibrationTarget,
    ctx: &JobCtx,
    progress: &dyn Fn(&str),
) -> Result<CalibrationReport, IreError> {
    let case = v3_case()?;
    let axes = v3_axes(&case)?;
    let thresholds = threshold_grid();
    let mut scans = Vec::new();
    for ratio in ratio_grid() {
        let p = with_sigma_ratio(params, &target.class_id, ratio)?;
        let r = run_v3(&case, &p, false, ctx)?;
        let extents = extents_by_threshold(&r, axes, &thresholds)?;
        progress(&format!(
            "σ1/σ0 = {ratio:.3}: {:.2} s, {} nonlinear iterations, converged {}",
            r.elapsed_s,
            r.pairs.first().map_or(0, |p| p.nonlinear_iterations),
            r.pairs.iter().all(|p| p.converged)
        ));
        scans.push(RatioScan { ratio, extents });
    }
    fit(target, scans, case.model.spacing_mm, case.model.margin_mm)
}

/// The fit and the band ranges from the scans (pure: unit-tested on synthetic scans).
pub fn fit(
    target: &CalibrationTarget,
    scans: Vec<RatioScan>,
    spacing_mm: f64,
    margin_mm: f64,
) -> Result<CalibrationReport, IreError> {
    // Least squares over (ratio, threshold); ties keep the first (lowest ratio, lowest threshold).
    let mut best: Option<(f64, usize, usize)> = None;
    for (si, s) in scans.iter().enumerate() {
        for (ti, (_, ext)) in s.extents.iter().enumerate() {
            let c = target.cost(*ext);
            if best.is_none_or(|(b, _, _)| c < b - 1e-12) {
                best = Some((c, si, ti));
            }
        }
    }
    let Some((cost, si, ti)) = best else {
        return Err(IreError::Invalid("calibration: empty scan".into()));
    };
    let scan = &scans[si];
    // The middle of the threshold interval of equal cost (the extents are steps).
    let same = |t: usize| (target.cost(scan.extents[t].1) - cost).abs() < 1e-12;
    let (mut a, mut b) = (ti, ti);
    while a > 0 && same(a - 1) {
        a -= 1;
    }
    while b + 1 < scan.extents.len() && same(b + 1) {
        b += 1;
    }
    let threshold = 0.5 * (scan.extents[a].0 + scan.extents[b].0);
    let threshold = threshold.round();
    let predicted = scan.at(threshold);
    // Ratio ends: contiguous ratios around the fit whose zone at the fitted threshold is within
    // ±1 SD on every axis.
    let ok = |k: usize| target.within_one_sd(scans[k].at(threshold));
    let (mut ra, mut rb) = (si, si);
    while ra > 0 && ok(ra - 1) {
        ra -= 1;
    }
    while rb + 1 < scans.len() && ok(rb + 1) {
        rb += 1;
    }
    let ends = [&scans[ra], scan, &scans[rb]];
    let inner_at = |t: f64| -> [f64; 3] {
        [0, 1, 2].map(|ax| ends.iter().map(|s| s.at(t)[ax]).fold(f64::INFINITY, f64::min))
    };
    let outer_at =
        |t: f64| -> [f64; 3] { [0, 1, 2].map(|ax| ends.iter().map(|s| s.at(t)[ax]).fold(0.0, f64::max)) };
    let (m, sd) = (target.extents_mm, target.sd_mm);
    let inner_ok = |t: f64| (0..3).all(|ax| inner_at(t)[ax] >= m[ax] - sd[ax]);
    let outer_ok = |t: f64| (0..3).all(|ax| outer_at(t)[ax] <= m[ax] + sd[ax]);
    let step = THRESHOLD_STEP_V_PER_CM;
    let [t_min, t_max] = THRESHOLD_RANGE_V_PER_CM;
    // Upper threshold: raised from the fit while the inner surface keeps within 1 SD of the
    // measurement; lower threshold: lowered while the outer one does.
    let mut t_hi = threshold;
    while t_hi + step <= t_max && inner_ok(t_hi + step) {
        t_hi += step;
    }
    let mut t_lo = threshold;
    while t_lo - step >= t_min && outer_ok(t_lo - step) {
        t_lo -= step;
    }
    // The measured zone must lie inside the band: where 1 SD is not enough for that on some axis
    // (the model's shape cannot match all three axes at once), the range widens until it is —
    // the band then shows that misfit instead of hiding it.
    // One grid spacing of headroom: the reported extents count nodes (centre span plus one
    // spacing), within one spacing of the interpolated crossings measured here.
    while t_hi + step <= t_max && (0..3).any(|ax| inner_at(t_hi)[ax] > m[ax] - spacing_mm) {
        t_hi += step;
    }
    while t_lo - step >= t_min && (0..3).any(|ax| outer_at(t_lo)[ax] < m[ax] + spacing_mm) {
        t_lo -= step;
    }
    Ok(CalibrationReport {
        target: target.clone(),
        threshold_v_per_cm: threshold,
        threshold_band_v_per_cm: [t_lo, t_hi],
        sigma_ratio: scan.ratio,
        sigma_ratio_band: [scans[ra].ratio, scans[rb].ratio],
        predicted_extents_mm: predicted,
        residuals_sd: target.residuals(predicted),
        band_inner_extents_mm: inner_at(t_hi),
        band_outer_extents_mm: outer_at(t_lo),
        spacing_mm,
        margin_mm,
        scans,
    })
}

/// Writes a report into tissue parameters: the calibrated class's threshold and σ1, every class's
/// threshold shifted by the same protocol factor with its band range, and the `calibration`
/// record.
pub fn apply(params: &mut TissueParams, report: &CalibrationReport, command: &str) -> Result<(), IreError> {
    let t = &report.target;
    let factor = report.threshold_v_per_cm / t.cited_threshold_v_per_cm;
    let [f_lo, f_hi] = report
        .threshold_band_v_per_cm
        .map(|v| v / t.cited_threshold_v_per_cm);
    let clamp = |v: f64| v.clamp(THRESHOLD_RANGE_V_PER_CM[0], THRESHOLD_RANGE_V_PER_CM[1]);
    let round = |v: f64| (v * 10.0).round() / 10.0;
    let calibrated_on = format!(
        "V3 — Ben-David et al., AJR 2012, in vivo porcine liver, 1.5 cm, 2 cm exposure, 2,250 V, 70–90 \
         pulses of 70–100 µs ({V3_CASE_NAME}; REFERENCE.md §7)"
    );
    let mut found = false;
    for c in &mut params.classes {
        if c.id == t.class_id {
            found = true;
            c.sigma1_s_per_m.value = round(report.sigma_ratio * c.sigma0_s_per_m.value * 1000.0) / 1000.0;
            c.sigma1_s_per_m.source = format!(
                "σ0 × {} (σ1/σ0 calibrated on V3 within the published 2–4×; Go-Smart 4×, REFERENCE.md §2, §7)",
                report.sigma_ratio
            );
            c.lethal_threshold_v_per_cm.value = report.threshold_v_per_cm;
            c.lethal_threshold_v_per_cm.uncertainty = None;
            c.lethal_threshold_v_per_cm.source =
                "calibrated on V3 (least squares on all three axes in SD units) \
                 within the published 269–637 V/cm; for the clinical protocol (70–90 pulses of 70–100 µs); \
                 REFERENCE.md §7"
                    .into();
            c.lethal_threshold_v_per_cm.confirmed = true;
            c.lethal_threshold_v_per_cm.note = None;
            c.lethal_threshold_range_v_per_cm = Some(ParamRange {
                lo: report.threshold_band_v_per_cm[0],
                hi: report.threshold_band_v_per_cm[1],
                source: "the thresholds that keep the V3 band within the published ±1 SD (calibration)"
                    .into(),
                confirmed: true,
                note: None,
            });
        } else {
            let cited = t.other_cited_threshold_v_per_cm;
            c.lethal_threshold_v_per_cm.value = round(clamp(cited * factor));
            c.lethal_threshold_v_per_cm.uncertainty = None;
            c.lethal_threshold_v_per_cm.confirmed = false;
            c.lethal_threshold_v_per_cm.note = Some(format!(
                "no in vivo zone of this tissue to calibrate on: the cited {cited} V/cm soft-tissue default × the \
                 protocol factor {factor:.3} fitted on V3 (liver); unconfirmed"
            ));
            c.lethal_threshold_v_per_cm.source = format!(
                "soft-tissue default {cited} V/cm (human liver best match 500–600 V/cm, TCRT 2025; Peleg–Fermi \
                 Ec(70) ≈ 489 V/cm; REFERENCE.md §2) × the V3 protocol factor (REFERENCE.md §7)"
            );
            c.lethal_threshold_range_v_per_cm = Some(ParamRange {
                lo: round(clamp(cited * f_lo)).min(c.lethal_threshold_v_per_cm.value),
                hi: round(clamp(cited * f_hi)).max(c.lethal_threshold_v_per_cm.value),
                source: "the liver's calibrated threshold range, shifted by the same protocol factor".into(),
                confirmed: false,
                note: Some("follows the liver calibration; no data of this tissue".into()),
            });
        }
    }
    if !found {
        return Err(IreError::Invalid(format!("unknown class \"{}\"", t.class_id)));
    }
    params.calibration = Some(IreCalibration {
        calibrated_on,
        command: command.to_string(),
        class_id: t.class_id.clone(),
        measured_extents_mm: t.extents_mm,
        measured_sd_mm: t.sd_mm,
        measurement_source: t.source.clone(),
        cited_threshold_v_per_cm: t.cited_threshold_v_per_cm,
        other_cited_threshold_v_per_cm: t.other_cited_threshold_v_per_cm,
        spacing_mm: report.spacing_mm,
        margin_mm: report.margin_mm,
        lethal_threshold_v_per_cm: CalibratedValue {
            value: report.threshold_v_per_cm,
            published_range: THRESHOLD_RANGE_V_PER_CM,
            band_range: report.threshold_band_v_per_cm,
            sources: THRESHOLD_SOURCES.iter().map(|s| s.to_string()).collect(),
        },
        sigma_ratio: CalibratedValue {
            value: report.sigma_ratio,
            published_range: SIGMA_RATIO_RANGE,
            band_range: report.sigma_ratio_band,
            sources: RATIO_SOURCES.iter().map(|s| s.to_string()).collect(),
        },
        threshold_factor: (factor * 1e4).round() / 1e4,
        predicted_extents_mm: report.predicted_extents_mm,
        residuals_sd: report.residuals_sd.map(|r| (r * 1000.0).round() / 1000.0),
        band_inner_extents_mm: report.band_inner_extents_mm,
        band_outer_extents_mm: report.band_outer_extents_mm,
        other_classes: format!(
            "No other class has an in vivo zone in the calibration set. Their thresholds are the cited \
             {} V/cm soft-tissue default shifted by the same protocol factor (fitted / cited liver threshold \
             {}), and are unconfirmed; their σ ratios stay the cited Go-Smart ones, and the band applies the \
             liver's relative σ-ratio range to them.",
            t.other_cited_threshold_v_per_cm, t.cited_threshold_v_per_cm
        ),
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> CalibrationTarget {
        CalibrationTarget {
            class_id: "liver".into(),
            extents_mm: [30.0, 17.0, 30.0],
            sd_mm: [4.0, 4.0, 6.0],
            source: "test".into(),
            cited_threshold_v_per_cm: 550.0,
            other_cited_threshold_v_per_cm: 500.0,
        }
    }

    /// Synthetic scans: extents linear in the threshold, the ratio trading the pair axis against
    /// the perpendicular one.
    fn scans() -> Vec<RatioScan> {
        ratio_grid()
            .into_iter()
            .map(|ratio| RatioScan {
                ratio,
                extents: threshold_grid()
                    .into_iter()
                    .map(|t| {
                        let s = (400.0 - t) / 40.0;
                        (
                            t,
                            [
                                30.0 + 4.0 * s - 3.0 * (ratio - 2.5),
                                17.0 + 4.0 * s + 2.0 * (ratio - 2.5),
                                30.0 + 3.0 * s,
                            ],
                        )
                    })
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn the_fit_finds_the_synthetic_optimum_and_a_band_within_one_sd() {
        let r = fit(&target(), scans(), 0.5, 30.0).unwrap();
        assert_eq!(r.sigma_ratio, 2.5);
        assert!(
            (r.threshold_v_per_cm - 400.0).abs() <= 1.0,
            "{}",
            r.threshold_v_per_cm
        );
        assert!(
            r.residuals_sd.iter().all(|x| x.abs() < 0.05),
            "{:?}",
            r.residuals_sd
        );
        let [lo, hi] = r.threshold_band_v_per_cm;
        assert!(lo < r.threshold_v_per_cm && r.threshold_v_per_cm < hi);
        assert!(r.sigma_ratio_band[0] < 2.5 && r.sigma_ratio_band[1] > 2.5);
        // The measured zone inside the band with one spacing of headroom; the band within about
        // ±1 SD (the headroom and the ratio's trade-off between the axes may add a little).
        let (inner, outer) = (r.band_inner_extents_mm, r.band_outer_extents_mm);
        for ax in 0..3 {
            let (m, sd) = (target().extents_mm[ax], target().sd_mm[ax]);
            assert!(
                inner[ax] <= m - 0.5 + 1e-9 && outer[ax] >= m + 0.5 - 1e-9,
                "{ax}: {inner:?} {outer:?}"
            );
            assert!(
                inner[ax] >= m - sd - 1.0 && outer[ax] <= m + sd + 1.0,
                "{ax}: {inner:?} {outer:?}"
            );
        }
    }

    #[test]
    fn apply_keeps_every_value_in_its_published_range() {
        let mut p = crate::plan::tissue_params::builtin_tissue_params().unwrap();
        let r = fit(&target(), scans(), 0.5, 30.0).unwrap();
        apply(&mut p, &r, "test").unwrap();
        let liver = p.class("liver").unwrap();
        assert_eq!(liver.lethal_threshold_v_per_cm.value, r.threshold_v_per_cm);
        assert!((liver.sigma1_s_per_m.value / liver.sigma0_s_per_m.value - 2.5).abs() < 0.02);
        for c in &p.classes {
            let t = c.lethal_threshold_v_per_cm.value;
            assert!((269.0..=637.0).contains(&t), "{}: {t}", c.id);
        }
        // The written record validates.
        let text = serde_json::to_string(&p).unwrap();
        crate::plan::tissue_params::parse_tissue_params(&text, "test").unwrap();
    }
}
