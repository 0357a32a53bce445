//! One-parameter calibration of a cryoprobe's boundary model: the effective freeze surface
//! temperature for which a single probe in a gel block at 37 °C reproduces the catalog isotherm
//! (REFERENCE.md §3: manufacturers chart 0 / −20 / −40 °C sizes in gel).
//!
//! The probe stands along +S in a large block (only the crop around it is computed; its faces are
//! held at the block temperature, the far field). The isotherm's width is measured continuously
//! (trilinear temperature along a line through the middle of the active length, perpendicular to
//! it), so that it is a smooth, monotone function of the surface temperature and bisection
//! converges; the length likewise along the probe axis.

use super::model::{CryoAssets, CryoError, CryoSettings, ProbeThermal, build_problem, probe_thermal};
use super::solver;
use super::tissue::CryoTissueSource;
use crate::geometry::PatientPos;
use crate::jobs::JobCtx;
use crate::physics::grid::ComputeGrid;
use crate::plan::probe::Probe;
use crate::plan::protocol::CryoProtocol;
use nalgebra::Vector3;
use serde::Serialize;

/// The experiment a calibration reproduces.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CalibrationSetup {
    pub model_id: String,
    /// Active length (mm); the catalog's when `None`.
    pub active_length_mm: Option<f64>,
    pub medium_class: String,
    pub initial_temperature_c: f64,
    pub freeze_s: f64,
    pub spacing_mm: f64,
    pub margin_mm: f64,
    pub isotherm_c: f64,
}

/// Length along the probe and width across it (mm) of one isotherm.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct IsothermDims {
    pub length_mm: f64,
    pub width_mm: f64,
}

/// Distance (mm) from `centre` along `dir` to where the temperature first rises above
/// `temperature_c` (trilinear, sub-step interpolation); 0 when `centre` itself is warmer; `None`
/// when the isotherm reaches the grid's edge.
pub fn isotherm_reach_mm(
    grid: &ComputeGrid,
    values: &[i16],
    temperature_c: f64,
    centre: &PatientPos,
    dir: &Vector3<f64>,
) -> Option<f64> {
    let step = grid.spacing_mm / 8.0;
    let at = |d: f64| super::model::trilinear_i16(grid, values, &(centre + dir * d)).map(f64::from);
    let mut prev = at(0.0)?;
    if prev > temperature_c {
        return Some(0.0);
    }
    let mut d = 0.0;
    loop {
        let next_d = d + step;
        let next = at(next_d)?;
        if next > temperature_c {
            let f = (temperature_c - prev) / (next - prev);
            return Some(d + f * step);
        }
        prev = next;
        d = next_d;
    }
}

/// The single probe of a calibration: along +S (entry above the tip), active part centred on the
/// origin.
pub fn calibration_probe(model_id: &str, active_length_mm: f64) -> Probe {
    Probe {
        model_id: model_id.to_string(),
        tip_lps: PatientPos::new(0.0, 0.0, -0.5 * active_length_mm),
        entry_lps: PatientPos::new(0.0, 0.0, 150.0),
        exposure_mm: active_length_mm,
        label: "calibration".into(),
    }
}

/// Runs the single-probe experiment with the freeze surface at `freeze_surface_c` and measures the
/// isotherm.
pub fn single_probe_dims(
    setup: &CalibrationSetup,
    freeze_surface_c: f64,
    assets: &CryoAssets,
    ctx: &JobCtx,
) -> Result<IsothermDims, CryoError> {
    let model = assets
        .catalog
        .get(&setup.model_id)
        .ok_or_else(|| CryoError::Invalid(format!("unknown probe model \"{}\"", setup.model_id)))?;
    let len = setup
        .active_length_mm
        .or_else(|| model.default_active_mm())
        .ok_or_else(|| CryoError::Invalid(format!("{}: no active length", setup.model_id)))?;
    let probe = calibration_probe(&setup.model_id, len);
    let thermal = ProbeThermal {
        freeze_surface_c,
        ..probe_thermal(&probe, &assets.catalog)?
    };
    let mut settings = CryoSettings {
        protocol: CryoProtocol::freeze_only(setup.freeze_s),
        ..CryoSettings::default()
    };
    settings.model.spacing_mm = setup.spacing_mm;
    settings.model.margin_mm = setup.margin_mm;
    settings.model.snapshot_interval_s = setup.freeze_s;
    let tissue = CryoTissueSource::Phantom {
        class_id: &setup.medium_class,
        centre_lps: PatientPos::origin(),
        size_mm: [1000.0; 3],
        temperature_c: setup.initial_temperature_c,
    };
    let problem = build_problem(std::slice::from_ref(&thermal), &settings, &tissue, assets)?;
    let cancel = || ctx.cancel.is_cancelled();
    let out = solver::run(&problem, &cancel, &|_| {})?;
    let last = out
        .snapshots
        .last()
        .ok_or_else(|| CryoError::Invalid("no snapshot".into()))?;
    let g = &problem.grid;
    let iso = setup.isotherm_c;
    let edge = || CryoError::Invalid("the isotherm reaches the grid's edge — enlarge the margin".into());
    let origin = PatientPos::origin();
    // Width: mean of the four in-plane directions (the grid is not exactly symmetric about the
    // probe when its axis is off the nodes).
    let mut radial = 0.0;
    for d in [Vector3::x(), -Vector3::x(), Vector3::y(), -Vector3::y()] {
        radial += isotherm_reach_mm(g, last, iso, &origin, &d).ok_or_else(edge)?;
    }
    let up = isotherm_reach_mm(g, last, iso, &origin, &Vector3::z()).ok_or_else(edge)?;
    let down = isotherm_reach_mm(g, last, iso, &origin, &-Vector3::z()).ok_or_else(edge)?;
    Ok(IsothermDims {
        length_mm: up + down,
        width_mm: 0.5 * radial,
    })
}

/// Coldest surface an argon Joule–Thomson probe can have (°C): argon boils at −185.8 °C at 1 atm.
pub const ARGON_FLOOR_C: f64 = -185.0;

/// The outcome of a calibration.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CalibrationFit {
    pub surface_c: f64,
    pub dims: IsothermDims,
    /// The target width was reached inside the bracket; `false` = the fit stopped at the
    /// bracket's end nearest to the target (the model cannot reproduce the target there).
    pub reached: bool,
}

/// Bisection on the freeze surface temperature in `[lo_c, hi_c]` (colder → larger) until the
/// isotherm width is within `tol_mm` of `target_width_mm` or the bracket is below 0.25 °C. When
/// the target lies outside what the bracket reaches, returns the nearer end with
/// `reached = false`.
pub fn calibrate_freeze_surface_c(
    setup: &CalibrationSetup,
    target_width_mm: f64,
    (lo_c, hi_c): (f64, f64),
    tol_mm: f64,
    assets: &CryoAssets,
    ctx: &JobCtx,
) -> Result<CalibrationFit, CryoError> {
    let (mut cold, mut warm) = (lo_c, hi_c);
    let at_cold = single_probe_dims(setup, cold, assets, ctx)?;
    if at_cold.width_mm <= target_width_mm {
        return Ok(CalibrationFit {
            surface_c: cold,
            dims: at_cold,
            reached: (at_cold.width_mm - target_width_mm).abs() <= tol_mm,
        });
    }
    let at_warm = single_probe_dims(setup, warm, assets, ctx)?;
    if at_warm.width_mm >= target_width_mm {
        return Ok(CalibrationFit {
            surface_c: warm,
            dims: at_warm,
            reached: (at_warm.width_mm - target_width_mm).abs() <= tol_mm,
        });
    }
    let mut best = CalibrationFit {
        surface_c: cold,
        dims: at_cold,
        reached: false,
    };
    while warm - cold > 0.25 {
        let mid = 0.5 * (cold + warm);
        let d = single_probe_dims(setup, mid, assets, ctx)?;
        let reached = (d.width_mm - target_width_mm).abs() <= tol_mm;
        best = CalibrationFit {
            surface_c: mid,
            dims: d,
            reached,
        };
        if reached {
            break;
        }
        if d.width_mm > target_width_mm {
            cold = mid;
        } else {
            warm = mid;
        }
    }
    best.reached = true;
    Ok(best)
}
