//! The IRE zone's uncertainty band (issue 13, REFERENCE.md §7): inner / nominal / outer zones
//! from the ranges that remain after calibration — the lethal threshold of each class
//! (`lethal_threshold_range_v_per_cm`), the electroporated / static conductivity ratio
//! (`calibration.sigma_ratio.band_range`) and the σ0 of classes with no published value
//! (`sigma0_range_s_per_m`, the lymph node).
//!
//! How, and why it costs ≤ 1.5× one plan:
//! - Threshold: the zone is `max|E| ≥ threshold`, so its bounds need no new field: the inner
//!   surface thresholds the field at each class's `hi`, the outer at its `lo`.
//! - Conductivity (σ ratio, node σ0): each end of a range changes the field, so it needs a solve —
//!   one nonlinear solve per pair and end. Those run on the 2h grid the nominal iteration already
//!   starts on (an eighth of the nodes), and only the *relative* change of the field is taken
//!   from them: `E_end = E_nominal(h) · E_end(2h) / E_nominal(2h)`, the ratio trilinearly
//!   prolonged. The 2h discretisation error is common to both 2h fields and cancels in the ratio
//!   to first order (the field at the zone's edge is smooth: several millimetres from the
//!   electrodes), so the band's surfaces sit on the plan grid's nominal zone instead of jumping by
//!   a coarse node.
//! - Combination: per node and parameter the less (inner) / more (outer) favourable end, the
//!   factors of independent parameters multiplied (first order); per node, so that a parameter
//!   whose effect changes sign across the zone (a higher σ ratio lengthens the zone between the
//!   electrodes and shortens it behind them) is conservative on both sides.

use super::model::ZoneCriterion;
use super::tissue::OUTSIDE;
use crate::physics::band::BandParameter;
use crate::plan::tissue_params::TissueParams;
use rayon::prelude::*;

/// One uncertain conductivity parameter and the tissue parameters at the ends of its range.
pub(crate) struct Group {
    pub parameter: BandParameter,
    pub ends: Vec<TissueParams>,
}

/// The conductivity parameters that widen the band of a plan whose grid holds the classes
/// flagged in `present` (by class index).
pub(crate) fn conductivity_groups(params: &TissueParams, present: &[bool], nonlinear: bool) -> Vec<Group> {
    let mut groups = Vec::new();
    // σ1/σ0: calibrated on the class of the calibration (liver); its relative range is applied
    // to every class that electroporates (σ1 > σ0), whose own ratios are Go-Smart's — the
    // calibration is the only in vivo evidence on the ratio here.
    if let Some(cal) = params.calibration.as_ref().filter(|_| nonlinear) {
        let r = &cal.sigma_ratio;
        let ends: Vec<TissueParams> = r
            .band_range
            .iter()
            .filter(|&&end| (end - r.value).abs() > 1e-9 * r.value)
            .map(|&end| {
                let f = end / r.value;
                let mut p = params.clone();
                for c in &mut p.classes {
                    let (s0, s1) = (c.sigma0_s_per_m.value, c.sigma1_s_per_m.value);
                    if s1 > s0 {
                        c.sigma1_s_per_m.value = s0 * (s1 / s0 * f).max(1.0);
                    }
                }
                p
            })
            .collect();
        let uses = params
            .classes
            .iter()
            .zip(present)
            .any(|(c, &p)| p && c.sigma1_s_per_m.value > c.sigma0_s_per_m.value);
        if !ends.is_empty() && uses {
            groups.push(Group {
                parameter: BandParameter {
                    name: format!("electroporated / static conductivity σ1/σ0 ({})", cal.class_id),
                    unit: "ratio".into(),
                    inner: r.band_range[0],
                    nominal: r.value,
                    outer: r.band_range[1],
                    source: format!(
                        "calibrated on {} within the published {}–{} ({}); other classes scaled by the same \
                         factor (unconfirmed). Per node the band takes whichever end gives the lower field \
                         (inner) or the higher (outer)",
                        cal.calibrated_on,
                        r.published_range[0],
                        r.published_range[1],
                        r.sources.join("; ")
                    ),
                },
                ends,
            });
        }
    }
    // σ0 of classes with no published value, when the class borders another one on this grid
    // (in a block of one class a common scale of σ does not change the field).
    let n_present = present.iter().filter(|&&p| p).count();
    for (ci, c) in params.classes.iter().enumerate() {
        let Some(range) = &c.sigma0_range_s_per_m else {
            continue;
        };
        if !present.get(ci).copied().unwrap_or(false) || n_present < 2 {
            continue;
        }
        let s0 = c.sigma0_s_per_m.value;
        let ends: Vec<TissueParams> = [range.lo, range.hi]
            .iter()
            .filter(|&&end| (end - s0).abs() > 1e-9 * s0)
            .map(|&end| {
                let mut p = params.clone();
                let cc = &mut p.classes[ci];
                let f = end / s0;
                cc.sigma0_s_per_m.value = end;
                cc.sigma1_s_per_m.value *= f;
                p
            })
            .collect();
        if ends.is_empty() {
            continue;
        }
        groups.push(Group {
            parameter: BandParameter {
                name: format!("static conductivity σ0 ({})", c.name),
                unit: "S/m".into(),
                inner: range.lo,
                nominal: s0,
                outer: range.hi,
                source: format!(
                    "{}{}. Per node the band takes whichever end gives the lower field \
                     (inner) or the higher (outer)",
                    range.source,
                    range
                        .note
                        .as_deref()
                        .map(|n| format!(" — {n}"))
                        .unwrap_or_default()
                ),
            },
            ends,
        });
    }
    groups
}

/// Per-node thresholds of the inner and outer surfaces (V/cm) and the threshold parameters of
/// the classes present. Only tissue thresholds carry a range; a fixed or Peleg–Fermi criterion
/// is the user's choice and is used as it is.
pub(crate) fn threshold_bounds(
    params: &TissueParams,
    classes: &[u8],
    present: &[bool],
    criterion: &ZoneCriterion,
    nominal: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<BandParameter>) {
    if !matches!(criterion, ZoneCriterion::TissueThreshold) {
        return (nominal.to_vec(), nominal.to_vec(), Vec::new());
    }
    let mut lo = Vec::with_capacity(params.classes.len());
    let mut hi = Vec::with_capacity(params.classes.len());
    let mut used = Vec::new();
    for (ci, c) in params.classes.iter().enumerate() {
        let t = c.lethal_threshold_v_per_cm.value;
        match &c.lethal_threshold_range_v_per_cm {
            Some(r) => {
                lo.push(r.lo as f32);
                hi.push(r.hi as f32);
                if present.get(ci).copied().unwrap_or(false) {
                    used.push(BandParameter {
                        name: format!("lethal threshold ({})", c.name),
                        unit: "V/cm".into(),
                        inner: r.hi,
                        nominal: t,
                        outer: r.lo,
                        source: format!(
                            "{}{}",
                            r.source,
                            r.note.as_deref().map(|n| format!(" — {n}")).unwrap_or_default()
                        ),
                    });
                }
            }
            None => {
                lo.push(t as f32);
                hi.push(t as f32);
            }
        }
    }
    let per_node = |table: &[f32]| -> Vec<f32> {
        classes
            .par_iter()
            .map(|&c| table.get(usize::from(c)).copied().unwrap_or(f32::INFINITY))
            .collect()
    };
    (per_node(&lo), per_node(&hi), used)
}

/// Which classes occur on the grid (by class index).
pub(crate) fn classes_present(classes: &[u8], n_classes: usize) -> Vec<bool> {
    let mut present = vec![false; n_classes];
    for &c in classes {
        if c != OUTSIDE
            && let Some(p) = present.get_mut(usize::from(c))
        {
            *p = true;
        }
    }
    present
}

/// Running maxima over the pairs of the field at each end of each group's range.
pub(crate) struct Accumulator {
    /// `[group][end][node]`, V/cm.
    pub max_e: Vec<Vec<Vec<f32>>>,
}

impl Accumulator {
    pub fn new(groups: &[Group], n: usize) -> Self {
        Self {
            max_e: groups
                .iter()
                .map(|g| vec![vec![0.0f32; n]; g.ends.len()])
                .collect(),
        }
    }

    /// Adds one pair's field at one end: the plan grid's nominal field times the relative change
    /// `factor` (per plan-grid node).
    pub fn add(&mut self, group: usize, end: usize, e_nominal: &[f32], factor: &[f64]) {
        if let Some(acc) = self.max_e.get_mut(group).and_then(|g| g.get_mut(end)) {
            acc.par_iter_mut()
                .zip(e_nominal.par_iter())
                .zip(factor.par_iter())
                .for_each(|((m, &e), &f)| *m = m.max((f64::from(e) * f) as f32));
        }
    }

    /// The inner and outer fields: the nominal running maximum times, per group, the smallest
    /// (inner) or largest (outer) relative change over its ends, never beyond the nominal.
    pub fn fields(&self, max_e: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let mut inner = max_e.to_vec();
        let mut outer = max_e.to_vec();
        for group in &self.max_e {
            inner
                .par_iter_mut()
                .zip(outer.par_iter_mut())
                .enumerate()
                .for_each(|(idx, (i, o))| {
                    let nom = max_e[idx];
                    if nom <= 0.0 {
                        return;
                    }
                    let (mut lo, mut hi) = (1.0f32, 1.0f32);
                    for end in group {
                        let f = end[idx] / nom;
                        lo = lo.min(f);
                        hi = hi.max(f);
                    }
                    *i *= lo;
                    *o *= hi;
                });
        }
        (inner, outer)
    }
}

/// Relative change of the field, `end / nominal` per node (1 where the nominal field is too small
/// for a ratio to mean anything: far outside any zone).
pub(crate) fn relative_change(end: &[f32], nominal: &[f32]) -> Vec<f64> {
    end.par_iter()
        .zip(nominal.par_iter())
        .map(|(&e, &n)| if n > 1.0 { f64::from(e) / f64::from(n) } else { 1.0 })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tissue_params::builtin_tissue_params;

    #[test]
    fn fields_take_the_least_and_most_favourable_end_per_node() {
        let groups = vec![Group {
            parameter: BandParameter {
                name: "x".into(),
                unit: "".into(),
                inner: 1.0,
                nominal: 2.0,
                outer: 3.0,
                source: "test".into(),
            },
            ends: vec![],
        }];
        let mut acc = Accumulator::new(&groups, 3);
        acc.max_e = vec![vec![vec![90.0, 120.0, 0.0], vec![110.0, 80.0, 0.0]]];
        let (inner, outer) = acc.fields(&[100.0, 100.0, 0.0]);
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-3);
        assert!(close(&inner, &[90.0, 80.0, 0.0]), "{inner:?}");
        assert!(close(&outer, &[110.0, 120.0, 0.0]), "{outer:?}");
    }

    #[test]
    fn the_node_range_counts_only_next_to_another_class() {
        let p = builtin_tissue_params().unwrap();
        let node = p.class_index("lymph_node").unwrap();
        let fat = p.class_index("fat").unwrap();
        let mut present = vec![false; p.classes.len()];
        present[node] = true;
        let alone = conductivity_groups(&p, &present, false);
        assert!(alone.is_empty(), "a homogeneous node block has no σ0 band");
        present[fat] = true;
        let mixed = conductivity_groups(&p, &present, false);
        assert_eq!(mixed.len(), 1);
        assert_eq!(mixed[0].ends.len(), 2);
        let c = &mixed[0].ends[0].classes[node];
        assert!(c.sigma0_s_per_m.value < p.classes[node].sigma0_s_per_m.value);
        // σ1/σ0 is kept.
        let r0 = p.classes[node].sigma1_s_per_m.value / p.classes[node].sigma0_s_per_m.value;
        assert!((c.sigma1_s_per_m.value / c.sigma0_s_per_m.value - r0).abs() < 1e-12);
    }
}
