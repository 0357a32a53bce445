//! The lethal zone from the running maximum |E|, its volume and extents, and trilinear
//! interpolation of node fields. (Display planes are sampled by `render::reslice`, through the
//! point queries of `IreResult`.)

use super::model::{IreError, ZoneCriterion};
use super::tissue::OUTSIDE;
use crate::geometry::PatientPos;
use crate::physics::grid::ComputeGrid;
use crate::plan::tissue_params::TissueParams;
use nalgebra::Vector3;
use rayon::prelude::*;

/// The uniform threshold (V/cm) equivalent to a Peleg–Fermi survival limit: the surviving fraction
/// `S = 1/(1+exp((E−Ec(n))/A(n)))` falls below `max_survival` where
/// `E > Ec(n) + A(n)·ln(1/max_survival − 1)`.
pub fn peleg_fermi_threshold_v_per_cm(params: &TissueParams, pulses: u32, max_survival: f64) -> f64 {
    let pf = &params.peleg_fermi;
    pf.ec_v_per_cm(pulses) + pf.a_v_per_cm(pulses) * (1.0 / max_survival - 1.0).ln()
}

/// Lethal threshold (V/cm) per node; +∞ outside the tissue.
pub fn node_thresholds(
    classes: &[u8],
    params: &TissueParams,
    criterion: &ZoneCriterion,
    pulses: u32,
) -> Result<Vec<f32>, IreError> {
    let per_class: Vec<f32> = match criterion {
        ZoneCriterion::TissueThreshold => params
            .classes
            .iter()
            .map(|c| c.lethal_threshold_v_per_cm.value as f32)
            .collect(),
        ZoneCriterion::Fixed { threshold_v_per_cm } => {
            if !(threshold_v_per_cm.is_finite() && *threshold_v_per_cm > 0.0) {
                return Err(IreError::Invalid(format!(
                    "zone threshold {threshold_v_per_cm} V/cm must be positive"
                )));
            }
            vec![*threshold_v_per_cm as f32; params.classes.len()]
        }
        ZoneCriterion::PelegFermi { max_survival } => {
            if !(*max_survival > 0.0 && *max_survival < 1.0) {
                return Err(IreError::Invalid(format!(
                    "Peleg–Fermi survival limit {max_survival} must lie strictly between 0 and 1 (e.g. 0.1)"
                )));
            }
            let t = peleg_fermi_threshold_v_per_cm(params, pulses, *max_survival);
            vec![t as f32; params.classes.len()]
        }
    };
    Ok(classes
        .par_iter()
        .map(|&c| per_class.get(usize::from(c)).copied().unwrap_or(f32::INFINITY))
        .collect())
}

/// Zone flags: tissue nodes whose max |E| reaches their threshold.
pub fn zone_mask(max_e_v_per_cm: &[f32], thresholds: &[f32], classes: &[u8]) -> Vec<bool> {
    max_e_v_per_cm
        .par_iter()
        .zip(thresholds.par_iter())
        .zip(classes.par_iter())
        .map(|((e, t), c)| *c != OUTSIDE && e >= t)
        .collect()
}

/// Zone volume (mL): one node = one voxel of h³.
pub fn zone_volume_ml(grid: &ComputeGrid, zone: &[bool]) -> f64 {
    let n = zone.par_iter().filter(|z| **z).count();
    n as f64 * grid.spacing_mm.powi(3) / 1000.0
}

/// Trilinear interpolation of a node field at an LPS point; `None` outside the grid.
pub fn trilinear(grid: &ComputeGrid, values: &[f32], p: &PatientPos) -> Option<f32> {
    let (base, frac) = grid.cell_at(p)?;
    let mut v = 0.0f64;
    for (dk, wk) in [(0, 1.0 - frac[2]), (1, frac[2])] {
        for (dj, wj) in [(0, 1.0 - frac[1]), (1, frac[1])] {
            for (di, wi) in [(0, 1.0 - frac[0]), (1, frac[0])] {
                let w = wi * wj * wk;
                if w > 0.0 {
                    let i = (base[0] + di).min(grid.dims[0] - 1);
                    let j = (base[1] + dj).min(grid.dims[1] - 1);
                    let k = (base[2] + dk).min(grid.dims[2] - 1);
                    v += w * f64::from(values[grid.index(i, j, k)]);
                }
            }
        }
    }
    Some(v as f32)
}

/// Extents (mm) of the zone along three unit directions: max − min of the projections of the
/// zone's node centres, plus one spacing (each node stands for a voxel); 0 for an empty zone.
pub fn extents_mm(grid: &ComputeGrid, zone: &[bool], axes: [Vector3<f64>; 3]) -> [f64; 3] {
    let axes = axes.map(|a| a.try_normalize(1e-12).unwrap_or(a));
    let init = || ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
    let (lo, hi) = zone
        .par_iter()
        .enumerate()
        .filter(|(_, z)| **z)
        .fold(init, |(mut lo, mut hi), (idx, _)| {
            let [i, j, k] = grid.ijk(idx);
            let p = grid.lps(i, j, k).coords;
            for ax in 0..3 {
                let t = p.dot(&axes[ax]);
                lo[ax] = lo[ax].min(t);
                hi[ax] = hi[ax].max(t);
            }
            (lo, hi)
        })
        .reduce(init, |(a_lo, a_hi), (b_lo, b_hi)| {
            (
                [0, 1, 2].map(|ax| a_lo[ax].min(b_lo[ax])),
                [0, 1, 2].map(|ax| a_hi[ax].max(b_hi[ax])),
            )
        });
    [0, 1, 2].map(|ax| {
        if hi[ax] >= lo[ax] {
            hi[ax] - lo[ax] + grid.spacing_mm
        } else {
            0.0
        }
    })
}
