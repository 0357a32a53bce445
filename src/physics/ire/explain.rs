//! Why a target is not covered, from the model (issue 13): the field inside the target against
//! the field just around it, the conductivity contrast that explains the difference, and what
//! voltage the model says would reach the threshold. Plain data; the safety / report layer turns
//! it into the finding's text.
//!
//! The physics the numbers stand for: a conducting inclusion in a weaker conductor carries the
//! current with a lower field. For a sphere of σ_in in σ_out under a uniform field the field
//! inside is `3 σ_out / (σ_in + 2 σ_out)` of the field far away (quasi-static Laplace problem;
//! a node of 0.2 S/m in fat of 0.02 S/m: 0.25, a quarter). Electrodes around a node in fat
//! therefore ablate the fat around it long before the node itself.

use super::model::{IreError, IreResult, TissueSource};
use super::tissue::{OUTSIDE, node_classes};
use crate::geometry::PatientPos;
use crate::plan::tissue_params::TissueParams;
use serde::Serialize;

/// What the model says about a target's coverage.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CoverageExplanation {
    /// Target nodes on the model grid.
    pub target_nodes: usize,
    /// Fraction of the target inside the nominal zone and inside the band's inner surface
    /// (`None` without a band).
    pub covered_fraction: f64,
    pub covered_fraction_inner: Option<f64>,
    /// Median max |E| over the target's nodes and over a shell 1–3 mm outside it (V/cm).
    pub median_field_inside_v_per_cm: f64,
    pub median_field_around_v_per_cm: f64,
    /// inside / around.
    pub field_ratio_inside_to_around: f64,
    /// Median lethal threshold over the target's nodes (V/cm).
    pub threshold_inside_v_per_cm: f64,
    /// The most frequent tissue class inside the target and in the shell, with their σ0 (S/m).
    pub class_inside: String,
    pub class_around: String,
    pub sigma0_inside_s_per_m: f64,
    pub sigma0_around_s_per_m: f64,
    /// σ0 inside / σ0 around.
    pub conductivity_contrast: f64,
    /// Field ratio a sphere of this contrast would see: 3 σ_out / (σ_in + 2 σ_out).
    pub sphere_field_ratio: f64,
    /// The class inside is an unconfirmed placeholder (no published conductivity).
    pub inside_unconfirmed: bool,
    /// The σ0 range of the class inside when it has one (S/m).
    pub sigma0_inside_range_s_per_m: Option<[f64; 2]>,
    /// Factor on every pair's voltage that would bring the least-exposed target node to its
    /// threshold (the field scales with the voltage at fixed σ; with σ(E) it is an estimate), and
    /// the largest pair voltage it implies (V).
    pub voltage_factor_needed: f64,
    pub voltage_needed_v: f64,
    pub causes: Vec<UncoveredCause>,
}

/// Why a target is not covered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UncoveredCause {
    /// The target conducts better than its surroundings, so the field inside is lower than around
    /// it (contrast above 1.5 and field inside below 0.8 of around).
    ConductivityContrast,
    /// The field around the target is already below the threshold: the electrodes are too far
    /// apart or too far from it, or the voltage is too low.
    FieldTooLowAround,
    /// Only the band's inner surface misses part of the target: covered under the nominal values,
    /// not under the least favourable ones.
    UncertainParameters,
}

/// Contrast above which the target's conductivity is named as the cause.
const CONTRAST_CAUSE: f64 = 1.5;
/// Field ratio below which the lower field inside is named.
const FIELD_RATIO_CAUSE: f64 = 0.8;
/// The shell around the target (mm).
const SHELL_MM: (f64, f64) = (1.0, 3.0);

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

fn most_frequent(classes: impl Iterator<Item = u8>, n: usize) -> Option<usize> {
    let mut count = vec![0usize; n];
    for c in classes {
        if let Some(x) = count.get_mut(usize::from(c)) {
            *x += 1;
        }
    }
    count
        .iter()
        .enumerate()
        .filter(|(_, c)| **c > 0)
        .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
        .map(|(i, _)| i)
}

/// Explains the coverage of the target `inside` (a point test in LPS mm: an analytic shape or a
/// mask lookup) by the result `r` computed on `tissue` with `params`. `None` when the target
/// has no node on the model grid.
pub fn explain_coverage(
    r: &IreResult,
    inside: &dyn Fn(&PatientPos) -> bool,
    tissue: TissueSource<'_>,
    params: &TissueParams,
) -> Result<Option<CoverageExplanation>, IreError> {
    let g = &r.grid;
    let classes = node_classes(g, &tissue, params)?;
    let flags: Vec<bool> = (0..g.len())
        .map(|idx| {
            let [i, j, k] = g.ijk(idx);
            classes[idx] != OUTSIDE && inside(&g.lps(i, j, k))
        })
        .collect();
    let target: Vec<usize> = flags
        .iter()
        .enumerate()
        .filter(|(_, f)| **f)
        .map(|(i, _)| i)
        .collect();
    if target.is_empty() {
        return Ok(None);
    }
    // Shell: nodes outside the target with a target point 1–3 mm away along one of the 26
    // lattice directions (a dilation by probing, no distance transform needed for a report).
    let dirs: Vec<nalgebra::Vector3<f64>> = (-1i32..=1)
        .flat_map(|a| (-1i32..=1).flat_map(move |b| (-1i32..=1).map(move |c| (a, b, c))))
        .filter(|&(a, b, c)| (a, b, c) != (0, 0, 0))
        .map(|(a, b, c)| nalgebra::Vector3::new(f64::from(a), f64::from(b), f64::from(c)).normalize())
        .collect();
    let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
    for &idx in &target {
        let ijk = g.ijk(idx);
        for ax in 0..3 {
            lo[ax] = lo[ax].min(ijk[ax]);
            hi[ax] = hi[ax].max(ijk[ax]);
        }
    }
    let pad = (SHELL_MM.1 / g.spacing_mm).ceil() as usize + 1;
    let mut shell = Vec::new();
    for k in lo[2].saturating_sub(pad)..=(hi[2] + pad).min(g.dims[2] - 1) {
        for j in lo[1].saturating_sub(pad)..=(hi[1] + pad).min(g.dims[1] - 1) {
            for i in lo[0].saturating_sub(pad)..=(hi[0] + pad).min(g.dims[0] - 1) {
                let idx = g.index(i, j, k);
                if flags[idx] || classes[idx] == OUTSIDE {
                    continue;
                }
                let p = g.lps(i, j, k);
                let near = |d: f64| dirs.iter().any(|u| inside(&(p + u * d)));
                if !near(SHELL_MM.0) && near(SHELL_MM.1) {
                    shell.push(idx);
                }
            }
        }
    }
    let field = |v: &[usize]| median(v.iter().map(|&i| f64::from(r.max_e_v_per_cm[i])).collect());
    let e_in = field(&target);
    let e_around = field(&shell);
    let covered = target.iter().filter(|&&i| r.zone[i]).count() as f64 / target.len() as f64;
    let covered_inner = r.band.as_ref().map(|b| {
        target
            .iter()
            .filter(|&&i| b.inner.get(i).copied().unwrap_or(false))
            .count() as f64
            / target.len() as f64
    });
    let n_classes = params.classes.len();
    let c_in = most_frequent(target.iter().map(|&i| classes[i]), n_classes);
    let c_out = most_frequent(shell.iter().map(|&i| classes[i]), n_classes).or(c_in);
    let class = |c: Option<usize>| c.and_then(|c| params.classes.get(c));
    let (ci, co) = (class(c_in), class(c_out));
    let s_in = ci.map_or(0.0, |c| c.sigma0_s_per_m.value);
    let s_out = co.map_or(0.0, |c| c.sigma0_s_per_m.value);
    let contrast = if s_out > 0.0 { s_in / s_out } else { 1.0 };
    let sphere = if s_in + 2.0 * s_out > 0.0 {
        3.0 * s_out / (s_in + 2.0 * s_out)
    } else {
        1.0
    };
    // The voltage factor that brings the least-exposed target node to its threshold.
    let factor = target
        .iter()
        .map(|&i| {
            let (e, t) = (f64::from(r.max_e_v_per_cm[i]), f64::from(r.threshold_v_per_cm[i]));
            if e > 0.0 { t / e } else { f64::INFINITY }
        })
        .fold(0.0, f64::max)
        .max(1.0);
    let max_voltage = r.pairs.iter().map(|p| p.voltage_v).fold(0.0, f64::max);
    let ratio = if e_around > 0.0 { e_in / e_around } else { 1.0 };
    let threshold_in = median(
        target
            .iter()
            .map(|&i| f64::from(r.threshold_v_per_cm[i]))
            .collect(),
    );
    let mut causes = Vec::new();
    if covered < 1.0 {
        if contrast > CONTRAST_CAUSE && ratio < FIELD_RATIO_CAUSE {
            causes.push(UncoveredCause::ConductivityContrast);
        }
        if e_around < threshold_in {
            causes.push(UncoveredCause::FieldTooLowAround);
        }
    } else if covered_inner.is_some_and(|c| c < 1.0) {
        causes.push(UncoveredCause::UncertainParameters);
    }
    Ok(Some(CoverageExplanation {
        target_nodes: target.len(),
        covered_fraction: covered,
        covered_fraction_inner: covered_inner,
        median_field_inside_v_per_cm: e_in,
        median_field_around_v_per_cm: e_around,
        field_ratio_inside_to_around: ratio,
        threshold_inside_v_per_cm: threshold_in,
        class_inside: ci.map_or_else(String::new, |c| c.id.clone()),
        class_around: co.map_or_else(String::new, |c| c.id.clone()),
        sigma0_inside_s_per_m: s_in,
        sigma0_around_s_per_m: s_out,
        conductivity_contrast: contrast,
        sphere_field_ratio: sphere,
        inside_unconfirmed: ci.is_some_and(|c| !c.sigma0_s_per_m.confirmed),
        sigma0_inside_range_s_per_m: ci
            .and_then(|c| c.sigma0_range_s_per_m.as_ref())
            .map(|r| [r.lo, r.hi]),
        voltage_factor_needed: factor,
        voltage_needed_v: factor * max_voltage,
        causes,
    }))
}
