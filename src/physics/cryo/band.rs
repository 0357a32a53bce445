//! The cryo model's uncertainty band (REFERENCE.md §7: the range left after calibration is shown,
//! not hidden), as a [`ZoneBand`] for the lethal zone and one for the 0 °C iceball.
//!
//! - **Lethal zone**: inner = the coldest lethal isotherm of `assets/tissues_cryo.json` (−40 °C)
//!   with the least favourable parameters; nominal = the case's lethal isotherm with the
//!   calibrated parameters; outer = the warmest lethal isotherm (−20 °C) with the most favourable
//!   parameters.
//! - **0 °C iceball** (the visible ice, largest over the protocol): inner / nominal / outer with
//!   the same parameter sets. Safety measures distances to critical structures from the outer
//!   iceball (the "stop at 2 mm" rule watches the visible ice) and coverage from the inner lethal
//!   surface.
//! - Parameters: each probe model's gas-side h over its calibrated range
//!   (`cryo_boundary.gas_side.h_w_per_m2_k.band_min/max`: the values for which its calibration
//!   target stays within tolerance), the fitted active length over its calibrated range
//!   (`calibration.active_length_band_mm`; shortest = least favourable) and each tissue class's
//!   perfusion over its sourced range
//!   (`perfusion_range_per_s`; phantoms have none). Least favourable = lowest h, highest
//!   perfusion; most favourable = highest h, lowest perfusion (both move every isotherm the same
//!   way: a colder wall and less warming blood grow the ice).
//!
//! Cost: the two extreme parameter sets need their own runs. They run on a grid
//! [`BAND_COARSENING`] times coarser (8× fewer nodes, ~2× fewer RKL2 stages; at that size a stage
//! costs mostly its fixed overheads, so each run is ~1/10 of the nominal one, and the three run
//! side by side) together with the nominal parameters on the same coarse grid, and the band
//! keeps the fine nominal field and adds the coarse **difference** (extreme − nominal, trilinear):
//! `T_outer = T_fine + (T_coarse,outer − T_coarse,nominal)`. The grid's own error, which is
//! larger on the coarse grid than the band's spread near a thin probe, cancels in the difference
//! to first order; what is left is the change of that error with the parameters
//! (`tests/suite/cryo_band.rs` compares it with fine-grid extreme runs).

use super::model::{CryoAssets, CryoError, CryoResult, CryoSettings, compute_cryo, trilinear_i16};
use super::solver::NOT_MODELLED;
use super::tissue::CryoTissueSource;
use crate::jobs::JobCtx;
use crate::physics::band::{BandParameter, BandSummary, ZoneBand};
use crate::plan::probe::Probe;
use nalgebra::Vector3;
use rayon::prelude::*;
use serde::Serialize;

/// The band runs' grid is this many times coarser than the nominal one (at most the model's
/// coarsest spacing).
pub const BAND_COARSENING: f64 = 2.0;

/// The band of a cryo result.
#[derive(Clone, Debug, PartialEq)]
pub struct CryoBand {
    /// Lethal zone (lowest temperature reached at or below the isotherm).
    pub lethal: ZoneBand,
    /// 0 °C iceball, largest over the protocol (lowest temperature reached ≤ 0 °C).
    pub iceball: ZoneBand,
    /// Grid spacing of the band runs (mm).
    pub band_spacing_mm: f64,
    pub method: String,
}

/// The `compute --json` piece of the band (`zone.band`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CryoBandSummary {
    /// Lethal zone: inner (−40 °C, least favourable), nominal, outer (−20 °C, most favourable).
    pub lethal: BandSummary,
    /// 0 °C iceball, largest over the protocol.
    pub iceball_0c: BandSummary,
    pub band_spacing_mm: f64,
    pub method: String,
}

/// `compute --json`'s `zone` object of a cryo case.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CryoZoneSummary {
    pub band: CryoBandSummary,
}

impl CryoBand {
    /// Volumes and extents along `axes` (probe axis, pair axis, perpendicular).
    pub fn summary(&self, axes: [Vector3<f64>; 3]) -> CryoBandSummary {
        CryoBandSummary {
            lethal: self.lethal.summary(axes),
            iceball_0c: self.iceball.summary(axes),
            band_spacing_mm: self.band_spacing_mm,
            method: self.method.clone(),
        }
    }
}

/// Which end of the parameter ranges a run takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Least,
    Nominal,
    Most,
}

/// `assets` with every probe model's h and every class's perfusion at one end of their ranges.
fn assets_at(assets: &CryoAssets, end: End) -> CryoAssets {
    let mut a = assets.clone();
    if end == End::Nominal {
        return a;
    }
    for m in &mut a.catalog.probes {
        if let Some(g) = m.cryo_boundary.as_mut().and_then(|b| b.gas_side.as_mut()) {
            let (lo, hi) = g.h_w_per_m2_k.band();
            g.h_w_per_m2_k.value = if end == End::Least { lo } else { hi };
        }
    }
    for c in &mut a.tissues.classes {
        if let Some(r) = &c.perfusion_range_per_s {
            c.perfusion_per_s.value = if end == End::Least { r.max } else { r.min };
        }
    }
    a
}

/// The calibrated range of a model's active length (mm) and its nominal value, when it was fitted.
fn active_length_band(assets: &CryoAssets, model_id: &str) -> Option<(f64, f64, f64)> {
    let m = assets.catalog.get(model_id)?;
    let [a, b] = m
        .cryo_boundary
        .as_ref()?
        .calibration
        .as_ref()?
        .active_length_band_mm?;
    Some((a, m.active_length_mm.as_ref()?.value, b))
}

/// The probes with the active length of every model whose length was calibrated shifted to one
/// end of its calibrated range (the tip stays; least favourable = the shortest).
fn probes_at(probes: &[Probe], assets: &CryoAssets, end: End) -> Vec<Probe> {
    probes
        .iter()
        .map(|p| {
            let mut p = p.clone();
            if let Some((a, n, b)) = active_length_band(assets, &p.model_id) {
                let shift = match end {
                    End::Least => a - n,
                    End::Nominal => 0.0,
                    End::Most => b - n,
                };
                p.exposure_mm = (p.exposure_mm + shift).max(1.0);
            }
            p
        })
        .collect()
}

/// The band's parameters as shown to the user: the lethal isotherm range, h of every probe model
/// used, perfusion of every tissue class present with a range.
fn parameters(
    result: &CryoResult,
    probes: &[Probe],
    assets: &CryoAssets,
    coldest_c: f64,
    warmest_c: f64,
) -> Vec<BandParameter> {
    let iso = &assets.tissues.lethal_isotherms;
    let src = |t: f64| {
        iso.iter()
            .find(|l| (l.temperature_c.value - t).abs() < 1e-9)
            .map_or_else(String::new, |l| l.temperature_c.source.clone())
    };
    let mut out = vec![BandParameter {
        name: "lethal isotherm".into(),
        unit: "°C".into(),
        inner: coldest_c,
        nominal: result.lethal_isotherm_c,
        outer: warmest_c,
        source: format!(
            "inner {coldest_c} °C: {}; outer {warmest_c} °C: {} (assets/tissues_cryo.json lethal_isotherms)",
            src(coldest_c),
            src(warmest_c)
        ),
    }];
    let mut seen: Vec<&str> = Vec::new();
    for p in probes {
        if seen.contains(&p.model_id.as_str()) {
            continue;
        }
        seen.push(&p.model_id);
        let Some(m) = assets.catalog.get(&p.model_id) else {
            continue;
        };
        let Some(b) = m.cryo_boundary.as_ref() else {
            continue;
        };
        let Some(g) = b.gas_side.as_ref() else { continue };
        let (lo, hi) = g.h_w_per_m2_k.band();
        let cal = b.calibration.as_ref().map_or_else(
            || "not calibrated: the physical range".to_string(),
            |c| format!("calibrated on {}", c.calibrated_on),
        );
        if let Some((la, ln, lb)) = active_length_band(assets, &p.model_id) {
            out.push(BandParameter {
                name: format!("active length ({})", m.name),
                unit: "mm".into(),
                inner: la,
                nominal: ln,
                outer: lb,
                source: format!(
                    "calibrated on {}: the lengths for which its 0 °C length stays within tolerance (assets/probes.json)",
                    b.calibration.as_ref().map_or("—", |c| c.calibrated_on.as_str())
                ),
            });
        }
        out.push(BandParameter {
            name: format!("gas-side h ({})", m.name),
            unit: "W/m²·K".into(),
            inner: lo,
            nominal: g.h_w_per_m2_k.value,
            outer: hi,
            source: format!(
                "{cal}; range = the h for which the calibration case stays within its tolerance (assets/probes.json); physical range {}–{}: {}",
                g.h_w_per_m2_k.min, g.h_w_per_m2_k.max, g.h_w_per_m2_k.range_source
            ),
        });
    }
    let mut present = vec![false; assets.tissues.classes.len()];
    for &c in &result.classes {
        if let Some(p) = present.get_mut(usize::from(c)) {
            *p = true;
        }
    }
    for (c, _) in assets.tissues.classes.iter().zip(&present).filter(|(_, p)| **p) {
        if let Some(r) = &c.perfusion_range_per_s {
            out.push(BandParameter {
                name: format!("perfusion ({})", c.name),
                unit: "1/s".into(),
                inner: r.max,
                nominal: c.perfusion_per_s.value,
                outer: r.min,
                source: r.source.clone(),
            });
        }
    }
    out
}

/// Computes the band of `nominal` (the result of `probes`, `settings`, `tissue`, `assets`; see the
/// module doc).
pub fn compute_band(
    nominal: &CryoResult,
    probes: &[Probe],
    settings: &CryoSettings,
    tissue: &CryoTissueSource<'_>,
    assets: &CryoAssets,
    ctx: &JobCtx,
) -> Result<CryoBand, CryoError> {
    let (lo_sp, hi_sp) = super::model::CRYO_SPACING_RANGE_MM;
    let coarse_mm = (settings.model.spacing_mm * BAND_COARSENING).clamp(lo_sp, hi_sp);
    let mut s = settings.clone();
    s.model.band = false;
    s.model.spacing_mm = coarse_mm;
    // Only the lowest temperature reached matters here: one snapshot per phase boundary and
    // per minute is enough for the running minimum of a monotone freeze, and halves the stores.
    s.model.snapshot_interval_s = settings.model.snapshot_interval_s.max(60.0);
    // The band runs share the cancel flag but not the progress bar (which stays at the nominal
    // run's end, with the message "uncertainty band").
    let quiet = JobCtx {
        cancel: ctx.cancel.clone(),
        progress: Default::default(),
    };
    let run = |end: End| {
        compute_cryo(
            &probes_at(probes, assets, end),
            &s,
            *tissue,
            &assets_at(assets, end),
            &quiet,
        )
    };
    // The three coarse runs are small (their stages cost mostly fixed overheads, not nodes): run
    // them side by side. Each is deterministic on its own, so the band is too.
    let ((c_nom, c_least), c_most) = rayon::join(
        || rayon::join(|| run(End::Nominal), || run(End::Least)),
        || run(End::Most),
    );
    let (c_nom, c_least, c_most) = (c_nom?, c_least?, c_most?);
    let coldest_c = assets
        .tissues
        .lethal_isotherms
        .iter()
        .map(|l| l.temperature_c.value)
        .fold(nominal.lethal_isotherm_c, f64::min);
    let warmest_c = assets
        .tissues
        .lethal_isotherms
        .iter()
        .map(|l| l.temperature_c.value)
        .fold(nominal.lethal_isotherm_c, f64::max);
    let g = &nominal.grid;
    let fine = &nominal.min_final;
    // T_fine + (T_coarse,end − T_coarse,nominal) at every fine node (°C; NaN where not modelled).
    let shifted = |end: &CryoResult| -> Vec<f32> {
        (0..g.len())
            .into_par_iter()
            .map(|idx| {
                let c = fine.get(idx).copied().unwrap_or(NOT_MODELLED);
                if c == NOT_MODELLED {
                    return f32::NAN;
                }
                let [i, j, k] = g.ijk(idx);
                let p = g.lps(i, j, k);
                let d = match (
                    trilinear_i16(&end.grid, &end.min_final, &p),
                    trilinear_i16(&c_nom.grid, &c_nom.min_final, &p),
                ) {
                    (Some(a), Some(b)) => a - b,
                    _ => 0.0,
                };
                f32::from(c) / 100.0 + d
            })
            .collect()
    };
    let t_least = shifted(&c_least);
    let t_most = shifted(&c_most);
    let below = |t: &[f32], lim: f64| -> Vec<bool> {
        t.par_iter()
            .map(|&v| v.is_finite() && f64::from(v) <= lim)
            .collect()
    };
    let last = nominal.last_snapshot();
    let params = parameters(nominal, probes, assets, coldest_c, warmest_c);
    let lethal = ZoneBand::nested(
        g.clone(),
        below(&t_least, coldest_c),
        nominal.reached_mask(last, nominal.lethal_isotherm_c),
        below(&t_most, warmest_c),
        params.clone(),
    );
    let iceball = ZoneBand::nested(
        g.clone(),
        below(&t_least, 0.0),
        nominal.reached_mask(last, 0.0),
        below(&t_most, 0.0),
        params.into_iter().skip(1).collect(),
    );
    Ok(CryoBand {
        lethal,
        iceball,
        band_spacing_mm: coarse_mm,
        method: format!(
            "inner / outer: the least / most favourable parameters run on a {coarse_mm} mm grid, added to the {} mm nominal field as the difference to a nominal run on the same coarse grid (lowest temperature reached over the protocol)",
            g.spacing_mm
        ),
    })
}
