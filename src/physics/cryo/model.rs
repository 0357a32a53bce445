//! The cryo plan model: probes + protocol + tissue → temperatures over time on a `ComputeGrid`,
//! kept as snapshots for a time slider, with isotherms, the lethal zone, iceball dimensions and
//! sensor curves. The contract shared by the GUI, the CLI and the tests.
//!
//! - Grid: the probes' active segments plus `margin_mm` (a phantom: the part inside the block),
//!   isotropic `spacing_mm` (1 mm default). Faces that are phantom faces are adiabatic; faces that
//!   crop a larger block or a body are held at the initial temperature (the far field).
//! - Tissue per node: the phantom's class, or the IRE model's HU / structure classification mapped
//!   to the cryo class of the same id ([`super::tissue::node_classes`]).
//! - Vessels: blood nodes that fit a ball of `vessel_min_diameter_mm` (morphological opening) are
//!   held at the arterial temperature: the "cold sink" (REFERENCE.md §3: vessels > ~3 mm).
//! - Probes: the active length (`Probe::exposure_mm` from the tip) with the catalog radius and the
//!   catalog boundary model ([`ProbeThermal`]); duty cycles switch a probe on for
//!   `duty × duty_period_s` at the start of every period.
//! - Solver: [`super::solver`].

use super::solver::{
    self, Face, NOT_MODELLED, ProbeBoundary, ProbeCoupling, SolverError, THETA_MIN, ThermalProblem,
    TimeScheme, TimelinePiece, WallCoupling, WallSample,
};
use super::tissue::{CryoTissueSource, CryoTissues, builtin_cryo_tissues, node_classes};
use crate::geometry::PatientPos;
use crate::jobs::JobCtx;
use crate::physics::grid::ComputeGrid;
use crate::physics::ire::field::{Electrode, electrode_mask};
use crate::physics::ire::model::TissueSource;
use crate::physics::ire::tissue::plan_grid;
use crate::physics::ire::zone;
use crate::plan::catalog::{Catalog, builtin_catalog};
use crate::plan::probe::Probe;
use crate::plan::protocol::{CryoProtocol, PhaseKind};
use crate::plan::tissue_params::{TissueParams, builtin_tissue_params};
use nalgebra::Vector3;
use rayon::prelude::*;
use serde::Serialize;
use std::time::Instant;

/// Default freeze surface temperature (°C) when the catalog has no boundary model: the warm end
/// of the −140 to −150 °C argon probes reach (REFERENCE.md §3).
pub const DEFAULT_FREEZE_SURFACE_C: f64 = -140.0;
/// Default active-thaw surface temperature (°C): ≈ +15–20 °C (REFERENCE.md §3).
pub const DEFAULT_ACTIVE_THAW_C: f64 = 20.0;
/// Largest grid accepted (nodes).
pub const MAX_CRYO_NODES: usize = 12_000_000;

// The plan's cryo settings (protocol, isotherms, model options) live in `plan`; they keep
// their path here for the model's callers.
pub use crate::plan::cryo::{CRYO_SPACING_RANGE_MM, CryoModelOptions, CryoSettings, REPORTED_ISOTHERMS_C};

/// The built-in assets the model reads.
#[derive(Clone, Debug)]
pub struct CryoAssets {
    pub tissues: CryoTissues,
    /// For the CT classification shared with the IRE model (HU bins, structure overrides).
    pub ire_params: TissueParams,
    pub catalog: Catalog,
}

impl CryoAssets {
    pub fn builtin() -> Result<Self, CryoError> {
        let e = |e: crate::plan::AssetError| CryoError::Invalid(e.to_string());
        Ok(Self {
            tissues: builtin_cryo_tissues().map_err(e)?,
            ire_params: builtin_tissue_params().map_err(e)?,
            catalog: builtin_catalog().map_err(e)?,
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CryoError {
    #[error("cryo model: no probe — place at least one cryoprobe")]
    NoProbes,
    #[error("cryo model: {0}")]
    Invalid(String),
    #[error("cryo model: cancelled")]
    Cancelled,
}

impl From<SolverError> for CryoError {
    fn from(e: SolverError) -> Self {
        match e {
            SolverError::Cancelled => CryoError::Cancelled,
            SolverError::Invalid(m) => CryoError::Invalid(m),
        }
    }
}

/// A probe's thermal model: active segment, radius, freeze boundary, active-thaw temperature.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeThermal {
    pub electrode: Electrode,
    /// The coldest the surface gets during a freeze (°C): the gas temperature behind the
    /// convective wall (`wall`), or the fixed surface temperature without one. With a wall, the
    /// surface itself is warmer under load: [`CryoResult::wall_temperature`].
    pub freeze_surface_c: f64,
    pub active_thaw_c: f64,
    /// The boundary was calibrated on the calibration set (REFERENCE.md §7), else defaults.
    pub calibrated: bool,
    /// The gas side of the wall (finite cooling power); `None` = the surface is held at
    /// `freeze_surface_c`.
    pub wall: Option<WallParams>,
}

/// The gas side of a probe's wall (from `assets/probes.json` `cryo_boundary.gas_side`).
#[derive(Clone, Debug, PartialEq)]
pub struct WallParams {
    pub gas_c: f64,
    /// h at profile factor 1 (W/m²·K).
    pub h_w_per_m2_k: f64,
    /// The band's range of h (the calibrated range, else the physical one).
    pub h_band_w_per_m2_k: (f64, f64),
    /// Where that range comes from.
    pub h_source: String,
    /// (fraction of the active length from the tip, factor).
    pub h_profile: Vec<[f64; 2]>,
    pub heat_exchange_length_mm: f64,
    pub heat_exchange_relative_h: f64,
}

impl WallParams {
    /// Relative h at `t_mm` from the tip along a probe of active length `active_mm`: the profile
    /// on the active length, then falling linearly from `heat_exchange_relative_h` to 0 over the
    /// heat-exchange region.
    pub fn relative_h(&self, t_mm: f64, active_mm: f64) -> f64 {
        if t_mm <= active_mm || self.heat_exchange_length_mm <= 0.0 {
            return crate::plan::catalog::profile_at(
                &self.h_profile,
                (t_mm / active_mm.max(1e-9)).clamp(0.0, 1.0),
            );
        }
        let f = ((t_mm - active_mm) / self.heat_exchange_length_mm).clamp(0.0, 1.0);
        self.heat_exchange_relative_h * (1.0 - f)
    }
}

/// The thermal model of `probe` from the catalog (defaults when the model or its boundary is
/// missing).
pub fn probe_thermal(probe: &Probe, catalog: &Catalog) -> Result<ProbeThermal, CryoError> {
    let seg = probe
        .exposed_segment()
        .map_err(|e| CryoError::Invalid(e.to_string()))?;
    let model = catalog.get(&probe.model_id);
    let radius_mm = model
        .map(|m| m.radius_mm())
        .filter(|r| r.is_finite() && *r > 0.0)
        .ok_or_else(|| {
            CryoError::Invalid(format!(
                "probe \"{}\": unknown probe model \"{}\" — see assets/probes.json",
                probe.label, probe.model_id
            ))
        })?;
    let b = model.and_then(|m| m.cryo_boundary.as_ref());
    let wall = b.and_then(|b| b.gas_side.as_ref()).map(|g| WallParams {
        gas_c: g.gas_temperature_c.value,
        h_w_per_m2_k: g.h_w_per_m2_k.value,
        h_band_w_per_m2_k: g.h_w_per_m2_k.band(),
        h_source: g.h_w_per_m2_k.range_source.clone(),
        h_profile: g.h_profile.points.clone(),
        heat_exchange_length_mm: g.heat_exchange_length_mm.value,
        heat_exchange_relative_h: g.heat_exchange_relative_h.value,
    });
    let freeze_surface_c = match (&wall, b.and_then(|b| b.freeze_surface_temperature_c.as_ref())) {
        (Some(w), _) => w.gas_c,
        (None, Some(f)) => f.value,
        (None, None) => DEFAULT_FREEZE_SURFACE_C,
    };
    Ok(ProbeThermal {
        electrode: Electrode {
            start_lps: seg.start,
            end_lps: seg.end,
            radius_mm,
        },
        freeze_surface_c,
        active_thaw_c: b.map_or(DEFAULT_ACTIVE_THAW_C, |b| b.active_thaw_temperature_c.value),
        calibrated: b.is_some_and(|b| b.calibration.is_some()),
        wall,
    })
}

/// The piecewise-constant probe boundaries of a protocol (duty cycles expanded).
pub fn timeline(protocol: &CryoProtocol, probes: &[ProbeThermal], duty_period_s: f64) -> Vec<TimelinePiece> {
    let bounds = protocol.boundaries_s();
    let mut out = Vec::new();
    for (pi, phase) in protocol.phases.iter().enumerate() {
        let (start, end) = (bounds[pi], bounds[pi + 1]);
        // Switch times inside the phase: every period start and every probe's off time.
        let mut cuts = vec![start, end];
        let cycling = (0..probes.len()).any(|i| {
            let d = phase.duty(i);
            d > 0.0 && d < 1.0
        });
        if cycling {
            let mut t = start;
            while t < end {
                cuts.push(t);
                for i in 0..probes.len() {
                    let d = phase.duty(i);
                    if d > 0.0 && d < 1.0 {
                        cuts.push((t + d * duty_period_s).min(end));
                    }
                }
                t += duty_period_s;
            }
        }
        cuts.sort_by(f64::total_cmp);
        cuts.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
        for w in cuts.windows(2) {
            let (a, b) = (w[0], w[1]);
            let mid = 0.5 * (a + b);
            let boundary = probes
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let d = phase.duty(i);
                    let on = d >= 1.0 || (d > 0.0 && ((mid - start) % duty_period_s) < d * duty_period_s);
                    match (phase.kind, on) {
                        (_, false) | (PhaseKind::PassiveThaw, _) => ProbeBoundary::Off,
                        (PhaseKind::Freeze, true) if p.wall.is_some() => {
                            ProbeBoundary::Convective(p.freeze_surface_c)
                        }
                        (PhaseKind::Freeze, true) => ProbeBoundary::Temperature(p.freeze_surface_c),
                        (PhaseKind::ActiveThaw, true) => ProbeBoundary::Temperature(p.active_thaw_c),
                    }
                })
                .collect();
            out.push(TimelinePiece {
                start_s: a,
                end_s: b,
                boundary,
            });
        }
    }
    out
}

/// Blood nodes of vessels at least `min_diameter_mm` wide: the morphological opening of the
/// blood mask by a ball of radius `min_diameter/2 − h/2` (a node stands for a voxel).
pub fn thick_vessel_nodes(grid: &ComputeGrid, blood: &[bool], min_diameter_mm: f64) -> Vec<bool> {
    let n = grid.len();
    if min_diameter_mm <= 0.0 || !blood.iter().any(|b| *b) {
        return vec![false; n];
    }
    let r_nodes = ((0.5 * min_diameter_mm - 0.5 * grid.spacing_mm) / grid.spacing_mm).max(0.0);
    let ri = r_nodes.floor() as i64;
    let mut ball = Vec::new();
    for dz in -ri..=ri {
        for dy in -ri..=ri {
            for dx in -ri..=ri {
                if ((dx * dx + dy * dy + dz * dz) as f64) <= r_nodes * r_nodes + 1e-9 {
                    ball.push([dx, dy, dz]);
                }
            }
        }
    }
    let dims = grid.dims.map(|d| d as i64);
    let at = |idx: usize, o: &[i64; 3]| -> Option<usize> {
        let [i, j, k] = grid.ijk(idx);
        let q = [i as i64 + o[0], j as i64 + o[1], k as i64 + o[2]];
        (0..3)
            .all(|a| q[a] >= 0 && q[a] < dims[a])
            .then(|| grid.index(q[0] as usize, q[1] as usize, q[2] as usize))
    };
    // Erosion: the ball fits in blood (outside the grid counts as blood: vessels leave the grid).
    let eroded: Vec<bool> = (0..n)
        .into_par_iter()
        .map(|idx| blood[idx] && ball.iter().all(|o| at(idx, o).is_none_or(|q| blood[q])))
        .collect();
    (0..n)
        .into_par_iter()
        .map(|idx| blood[idx] && ball.iter().any(|o| at(idx, o).is_some_and(|q| eroded[q])))
        .collect()
}

/// One isotherm's size.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IsothermSize {
    pub temperature_c: f64,
    pub volume_ml: f64,
    /// Along [`iceball_axes`]: probe axis, axis between the first two probes, perpendicular.
    pub extents_mm: [f64; 3],
}

/// The full model's result.
#[derive(Clone, Debug)]
pub struct CryoResult {
    pub grid: ComputeGrid,
    /// Cryo class per node (`tissue::NO_TISSUE` outside).
    pub classes: Vec<u8>,
    /// Nodes held at the arterial temperature (vessel heat sources).
    pub vessel_nodes: Vec<bool>,
    pub snapshot_times_s: Vec<f64>,
    /// Per snapshot, per node: centi-degrees (`solver::NOT_MODELLED` where no tissue is modelled).
    pub snapshots: Vec<Vec<i16>>,
    /// Running minimum temperature per node up to each snapshot is derived from `snapshots`;
    /// this is the minimum at the end (centi-degrees).
    pub min_final: Vec<i16>,
    pub probes: Vec<ProbeThermal>,
    pub protocol: CryoProtocol,
    pub lethal_isotherm_c: f64,
    /// Heat delivered by each probe (J, negative = extracted).
    pub probe_heat_j: Vec<f64>,
    /// Per probe: its wall temperature (area-weighted mean over the active length, coldest and
    /// warmest segment) and cooling power after every solver step — plot it with the sensors.
    pub wall_temperature: Vec<Vec<WallSample>>,
    /// The uncertainty band of the lethal zone and of the 0 °C iceball (`None` when switched off
    /// in the settings or not computed yet while streaming).
    pub band: Option<super::band::CryoBand>,
    pub initial_enthalpy_j: f64,
    pub final_enthalpy_j: f64,
    /// Flux evaluations (RKL2 stages or Euler steps) and the forward-Euler stable step (s).
    pub stages: usize,
    pub dt_euler_s: f64,
    pub elapsed_s: f64,
    pub description: String,
    /// Notes for the user (e.g. a probe widened to the grid).
    pub warnings: Vec<String>,
}

/// The three directions iceball extents are measured along: the first probe's axis, the
/// direction between the first two probes' active-segment midpoints made perpendicular to it (any
/// perpendicular with one probe), and their cross product.
pub fn iceball_axes(probes: &[Probe]) -> Option<[Vector3<f64>; 3]> {
    let axis = probes.first()?.axis().ok()?;
    let in_plane = probes.get(1).and_then(|b| {
        let d = b.exposed_segment().ok()?.midpoint() - probes[0].exposed_segment().ok()?.midpoint();
        (d - axis * axis.dot(&d)).try_normalize(1e-9)
    });
    let second = in_plane.unwrap_or_else(|| {
        let helper = [Vector3::x(), Vector3::y(), Vector3::z()]
            .into_iter()
            .min_by(|a, b| axis.dot(a).abs().total_cmp(&axis.dot(b).abs()))
            .unwrap_or_else(Vector3::x);
        (helper - axis * axis.dot(&helper)).normalize()
    });
    Some([axis, second, axis.cross(&second)])
}

/// The plane a cross-section of the iceball is measured in: through the mean of the probes'
/// active-segment midpoints, perpendicular to the first probe's axis — the plane of a
/// thermocouple jig set at the middle of parallel probes' active lengths (C2, Littrup 2009).
/// Returns its centre and unit normal.
pub fn active_mid_plane(probes: &[Probe]) -> Option<(PatientPos, Vector3<f64>)> {
    let normal = probes.first()?.axis().ok()?;
    let mids: Vec<Vector3<f64>> = probes
        .iter()
        .filter_map(|p| p.exposed_segment().ok().map(|s| s.midpoint().coords))
        .collect();
    if mids.is_empty() {
        return None;
    }
    let mean = mids.iter().fold(Vector3::zeros(), |a, m| a + m) / mids.len() as f64;
    Some((PatientPos::from(mean), normal))
}

/// Diameter (mm) of the circle of `area_mm2`: the "average diameter" of a cross-section of any
/// shape (two probes give a peanut, three a rounded triangle) without choosing axes.
pub fn equivalent_diameter_mm(area_mm2: f64) -> f64 {
    2.0 * (area_mm2.max(0.0) / std::f64::consts::PI).sqrt()
}

/// Sub-sampling of a cross-section: pixels of a quarter node, so that the area of a 12 mm
/// section is resolved to well under 1 % (its edge is interpolated, not stepped by nodes).
const SECTION_PIXELS_PER_NODE: f64 = 4.0;

/// Area (mm²) of the part of the plane through `centre` perpendicular to `normal` where `inside`
/// holds, sampled on square pixels over the whole grid.
fn section_area_mm2(
    grid: &ComputeGrid,
    centre: &PatientPos,
    normal: &Vector3<f64>,
    inside: &(dyn Fn(&PatientPos) -> bool + Sync),
) -> f64 {
    let Some(n) = normal.try_normalize(1e-12) else {
        return 0.0;
    };
    let helper = if n.x.abs() < 0.9 {
        Vector3::x()
    } else {
        Vector3::y()
    };
    let u = (helper - n * n.dot(&helper)).normalize();
    let v = n.cross(&u);
    let px = grid.spacing_mm / SECTION_PIXELS_PER_NODE;
    // Half the grid's diagonal: the plane's part inside the grid lies within it from any centre
    // inside the grid.
    let diag = (grid.last_node_lps() - grid.origin_lps).norm();
    let half =
        0.5 * diag + (centre - (grid.origin_lps + (grid.last_node_lps() - grid.origin_lps) * 0.5)).norm();
    let w = (2.0 * half / px).ceil() as usize + 1;
    let count: usize = (0..w * w)
        .into_par_iter()
        .filter(|idx| {
            let (x, y) = ((idx % w) as f64, (idx / w) as f64);
            let p = centre + u * (x * px - half) + v * (y * px - half);
            inside(&p)
        })
        .count();
    count as f64 * px * px
}

impl CryoResult {
    /// Area (mm²) of the cross-section at or below `temperature_c` of a node field (`values`:
    /// a snapshot or [`Self::min_final`]), trilinear, in the plane through `centre`
    /// perpendicular to `normal`.
    pub fn isotherm_section_mm2(
        &self,
        values: &[i16],
        temperature_c: f64,
        centre: &PatientPos,
        normal: &Vector3<f64>,
    ) -> f64 {
        let grid = &self.grid;
        section_area_mm2(grid, centre, normal, &|p| {
            trilinear_i16(grid, values, p).is_some_and(|t| f64::from(t) <= temperature_c)
        })
    }

    /// Area (mm²) of the cross-section of a node mask (a band surface) in the same plane: the
    /// mask interpolated trilinearly as 0 / 1 and cut at ½, so the edge falls between the last
    /// node inside and the first outside.
    pub fn mask_section_mm2(&self, mask: &[bool], centre: &PatientPos, normal: &Vector3<f64>) -> f64 {
        let grid = &self.grid;
        if mask.len() != grid.len() {
            return 0.0;
        }
        section_area_mm2(grid, centre, normal, &|p| {
            let Some((base, frac)) = grid.cell_at(p) else {
                return false;
            };
            let mut sum = 0.0;
            for (dk, wk) in [(0, 1.0 - frac[2]), (1, frac[2])] {
                for (dj, wj) in [(0, 1.0 - frac[1]), (1, frac[1])] {
                    for (di, wi) in [(0, 1.0 - frac[0]), (1, frac[0])] {
                        let (i, j, k) = (
                            (base[0] + di).min(grid.dims[0] - 1),
                            (base[1] + dj).min(grid.dims[1] - 1),
                            (base[2] + dk).min(grid.dims[2] - 1),
                        );
                        if mask[grid.index(i, j, k)] {
                            sum += wi * wj * wk;
                        }
                    }
                }
            }
            sum >= 0.5
        })
    }
}

/// What [`compute_cryo_streaming`] hands out while it runs: `Started` once (before the solver
/// starts), then one `Snapshot` per kept time, in time order.
#[derive(Clone, Copy, Debug)]
pub enum CryoStream<'a> {
    /// The run's frame: grid, classes, vessels, probes, protocol, description and warnings, with
    /// no snapshot yet (and no heat, enthalpy or timing figures: they come with the result).
    Started(&'a CryoResult),
    /// Snapshot `index` of `count` (centi-degrees per node, as in [`CryoResult::snapshots`]).
    Snapshot {
        index: usize,
        count: usize,
        time_s: f64,
        values: &'a [i16],
    },
}

/// Full model (background job: polls `ctx.cancel`, reports `ctx.progress` in simulated minutes).
/// Deterministic.
pub fn compute_cryo(
    probes: &[Probe],
    settings: &CryoSettings,
    tissue: CryoTissueSource<'_>,
    assets: &CryoAssets,
    ctx: &JobCtx,
) -> Result<CryoResult, CryoError> {
    compute_cryo_streaming(probes, settings, tissue, assets, ctx, &mut |_| {})
}

/// [`compute_cryo`], handing the run's frame and every snapshot to `on_stream` as soon as they
/// exist (on the calling thread), so that the GUI can scrub the iceball's growth while the rest
/// is computed. A streamed [`CryoResult`] is rebuilt with [`CryoResult::push_snapshot`].
pub fn compute_cryo_streaming(
    probes: &[Probe],
    settings: &CryoSettings,
    tissue: CryoTissueSource<'_>,
    assets: &CryoAssets,
    ctx: &JobCtx,
    on_stream: &mut dyn FnMut(CryoStream<'_>),
) -> Result<CryoResult, CryoError> {
    let started = Instant::now();
    if probes.is_empty() {
        return Err(CryoError::NoProbes);
    }
    settings
        .check(probes.len())
        .map_err(|(f, m)| CryoError::Invalid(format!("{f}: {m}")))?;
    let opts = &settings.model;
    let thermal: Vec<ProbeThermal> = probes
        .iter()
        .map(|p| probe_thermal(p, &assets.catalog))
        .collect::<Result<_, _>>()?;
    let problem = build_problem(&thermal, settings, &tissue, assets)?;
    let total_min = settings.protocol.total_s() / 60.0;
    ctx.progress.set(0.0);
    let cancel = || ctx.cancel.is_cancelled();
    let progress = |sim_s: f64| {
        ctx.progress.set((sim_s / 60.0 / total_min) as f32);
        ctx.progress
            .set_message(format!("{:.1} / {:.1} simulated min", sim_s / 60.0, total_min));
    };
    let mut result = CryoResult {
        grid: problem.grid.clone(),
        classes: problem.classes.clone(),
        vessel_nodes: problem.held.clone(),
        snapshot_times_s: Vec::new(),
        snapshots: Vec::new(),
        min_final: Vec::new(),
        probes: thermal,
        protocol: settings.protocol.clone(),
        lethal_isotherm_c: settings.lethal_isotherm_c,
        probe_heat_j: vec![0.0; probes.len()],
        wall_temperature: vec![Vec::new(); probes.len()],
        band: None,
        initial_enthalpy_j: 0.0,
        final_enthalpy_j: 0.0,
        stages: 0,
        dt_euler_s: solver::stable_time_step_s(&problem),
        elapsed_s: started.elapsed().as_secs_f64(),
        description: format!("{}; {}", opts.description(), settings.protocol.description()),
        warnings: problem.warnings.clone(),
    };
    on_stream(CryoStream::Started(&result));
    let out = solver::run_streaming(&problem, &cancel, &progress, &mut |e| {
        on_stream(CryoStream::Snapshot {
            index: e.index,
            count: e.count,
            time_s: e.time_s,
            values: e.values,
        })
    })?;
    result.min_final = running_min(&out.snapshots);
    result.snapshot_times_s = out.snapshot_times_s;
    result.snapshots = out.snapshots;
    result.probe_heat_j = out.probe_heat_j;
    result.wall_temperature = out.wall_samples;
    result.initial_enthalpy_j = out.initial_enthalpy_j;
    result.final_enthalpy_j = out.final_enthalpy_j;
    result.stages = out.stages;
    result.dt_euler_s = out.dt_euler_s;
    if settings.model.band {
        ctx.progress.set_message("uncertainty band".to_string());
        result.band = Some(super::band::compute_band(
            &result, probes, settings, &tissue, assets, ctx,
        )?);
    }
    result.elapsed_s = started.elapsed().as_secs_f64();
    Ok(result)
}

fn running_min(snapshots: &[Vec<i16>]) -> Vec<i16> {
    let Some(first) = snapshots.first() else {
        return Vec::new();
    };
    let mut m = first.clone();
    for s in &snapshots[1..] {
        m.par_iter_mut()
            .zip(s.par_iter())
            .for_each(|(a, &b)| *a = (*a).min(b));
    }
    m
}

/// The solver problem of a plan (grid, classes, vessels, probes, faces, timeline, snapshots).
pub fn build_problem(
    thermal: &[ProbeThermal],
    settings: &CryoSettings,
    tissue: &CryoTissueSource<'_>,
    assets: &CryoAssets,
) -> Result<ThermalProblem, CryoError> {
    let opts = &settings.model;
    let segments: Vec<(PatientPos, PatientPos)> = thermal
        .iter()
        .map(|p| (p.electrode.start_lps, cooled_electrode(p).end_lps))
        .collect();
    // The grid rule of the IRE model (crop, never past a phantom face), without multigrid sizes.
    let ire_source = match tissue {
        CryoTissueSource::Phantom {
            centre_lps, size_mm, ..
        } => TissueSource::Phantom {
            class_id: "",
            centre_lps: *centre_lps,
            size_mm: *size_mm,
        },
        CryoTissueSource::Ct { volume, structures } => TissueSource::Ct { volume, structures },
    };
    let grid = plan_grid(
        &segments,
        &ire_source,
        opts.margin_mm,
        opts.spacing_mm,
        false,
        None,
    )
    .map_err(|e| CryoError::Invalid(e.to_string().replace("IRE model: ", "")))?;
    if grid.len() > MAX_CRYO_NODES {
        return Err(CryoError::Invalid(format!(
            "the compute grid would have {} nodes, above the {MAX_CRYO_NODES} limit — use a coarser spacing \
             or a smaller margin",
            grid.len()
        )));
    }
    let classes =
        node_classes(&grid, tissue, &assets.tissues, &assets.ire_params).map_err(CryoError::Invalid)?;
    let t_a = assets.tissues.blood.arterial_temperature_c.value;
    let (initial_c, faces) = match tissue {
        CryoTissueSource::Phantom {
            centre_lps,
            size_mm,
            temperature_c,
            ..
        } => {
            let mut faces = [Face::Temperature(*temperature_c); 6];
            let top = |ax: usize| grid.origin_lps[ax] + (grid.dims[ax] - 1) as f64 * grid.spacing_mm;
            let tol = 1e-6 + grid.spacing_mm;
            for ax in 0..3 {
                let (blo, bhi) = (
                    centre_lps[ax] - 0.5 * size_mm[ax],
                    centre_lps[ax] + 0.5 * size_mm[ax],
                );
                // A face within one spacing of the block face is the block face (see plan_grid).
                if grid.origin_lps[ax] - blo < tol {
                    faces[2 * ax] = Face::Adiabatic;
                }
                if bhi - top(ax) < tol {
                    faces[2 * ax + 1] = Face::Adiabatic;
                }
            }
            (*temperature_c, faces)
        }
        CryoTissueSource::Ct { .. } => (t_a, [Face::Temperature(t_a); 6]),
    };
    let held = match assets.tissues.class_index("blood") {
        Some(b) if opts.vessel_min_diameter_mm > 0.0 && matches!(tissue, CryoTissueSource::Ct { .. }) => {
            let blood: Vec<bool> = classes.iter().map(|&c| usize::from(c) == b).collect();
            thick_vessel_nodes(&grid, &blood, opts.vessel_min_diameter_mm)
        }
        _ => vec![false; grid.len()],
    };
    let mut warnings = Vec::new();
    let probes: Vec<ProbeCoupling> = thermal
        .iter()
        .enumerate()
        .map(|(i, p)| probe_coupling(&grid, p, i, &mut warnings))
        .collect();
    if let Some(i) = probes.iter().position(|p| p.metal.is_empty()) {
        return Err(CryoError::Invalid(format!(
            "probe {} covers no grid node — use a finer grid",
            i + 1
        )));
    }
    let timeline = timeline(&settings.protocol, thermal, opts.duty_period_s);
    let total = settings.protocol.total_s();
    let mut snaps: Vec<f64> = Vec::new();
    let mut t = 0.0;
    while t <= total + 1e-9 {
        snaps.push(t);
        t += opts.snapshot_interval_s;
    }
    snaps.extend(settings.protocol.boundaries_s());
    Ok(ThermalProblem {
        grid,
        materials: assets.tissues.materials(),
        classes,
        initial_temperature_c: initial_c,
        held,
        held_temperature_c: t_a,
        arterial_temperature_c: t_a,
        faces,
        probes,
        timeline,
        snapshot_times_s: snaps,
        scheme: if opts.super_step_s > 0.0 {
            TimeScheme::Rkl2 {
                super_step_s: opts.super_step_s,
            }
        } else {
            TimeScheme::Euler { dt_s: None }
        },
        warnings,
    })
}

/// Wall segments are about this long (mm, at least two grid spacings so that every segment has
/// cut links): short enough to follow an h profile, long enough to be one temperature.
const WALL_SEGMENT_MM: f64 = 2.0;

/// The cooled part of a probe: the active length plus the shaft's heat-exchange region.
pub fn cooled_electrode(p: &ProbeThermal) -> Electrode {
    let hx = p
        .wall
        .as_ref()
        .map_or(0.0, |w| w.heat_exchange_length_mm.max(0.0));
    let d = p.electrode.end_lps - p.electrode.start_lps;
    let len = d.norm();
    if hx <= 0.0 || len <= 0.0 {
        return p.electrode.clone();
    }
    Electrode {
        end_lps: p.electrode.start_lps + d * ((len + hx) / len),
        ..p.electrode.clone()
    }
}

/// The coupling of one probe to the grid: metal nodes, cut links (Σ 1/θ per tissue node) and,
/// with a gas side, the wall segments (h·A per segment along the probe, the segment of every cut
/// and metal node by its position along the axis).
fn probe_coupling(
    grid: &ComputeGrid,
    p: &ProbeThermal,
    index: usize,
    warnings: &mut Vec<String>,
) -> ProbeCoupling {
    let cooled = cooled_electrode(p);
    let mut m = electrode_mask(grid, &cooled);
    if m.metal.is_empty() {
        // A probe thinner than the grid can pass between the nodes: widen it to reach the
        // nearest node line (half the cell diagonal), and say so.
        let widened = Electrode {
            radius_mm: 0.87 * grid.spacing_mm,
            ..cooled.clone()
        };
        m = electrode_mask(grid, &widened);
        warnings.push(format!(
            "probe {}: {:.2} mm radius is below the {} mm grid — widened to {:.2} mm; use a finer grid",
            index + 1,
            p.electrode.radius_mm,
            grid.spacing_mm,
            widened.radius_mm
        ));
    }
    let mut cuts: Vec<(usize, f64)> = m
        .cuts
        .iter()
        .map(|c| (c.outside, 1.0 / c.theta.max(THETA_MIN)))
        .collect();
    cuts.sort_by_key(|c| c.0);
    let mut merged: Vec<(usize, f64)> = Vec::with_capacity(cuts.len());
    for (i, s) in cuts {
        match merged.last_mut() {
            Some(l) if l.0 == i => l.1 += s,
            _ => merged.push((i, s)),
        }
    }
    let wall = p.wall.as_ref().map(|w| {
        let tip = p.electrode.start_lps;
        let axis_v = p.electrode.end_lps - tip;
        let active_mm = axis_v.norm();
        let dir = axis_v / active_mm.max(1e-12);
        let hx_mm = w.heat_exchange_length_mm.max(0.0);
        let seg_target = WALL_SEGMENT_MM.max(2.0 * grid.spacing_mm);
        let n_act = ((active_mm / seg_target).round() as usize).max(1);
        let n_hx = if hx_mm > 0.0 {
            ((hx_mm / seg_target).round() as usize).max(1)
        } else {
            0
        };
        // Segment bounds along the axis (mm from the tip).
        let mut bounds: Vec<f64> = (0..=n_act).map(|i| active_mm * i as f64 / n_act as f64).collect();
        bounds.extend((1..=n_hx).map(|i| active_mm + hx_mm * i as f64 / n_hx as f64));
        let circumference_m = 2.0 * std::f64::consts::PI * p.electrode.radius_mm * 1e-3;
        let (mut ha, mut area) = (Vec::new(), Vec::new());
        for s in bounds.windows(2) {
            let a = circumference_m * (s[1] - s[0]) * 1e-3;
            ha.push(w.h_w_per_m2_k * w.relative_h(0.5 * (s[0] + s[1]), active_mm) * a);
            area.push(a);
        }
        let n_seg = ha.len();
        let seg_of = |idx: usize| -> usize {
            let [i, j, k] = grid.ijk(idx);
            let t = (grid.lps(i, j, k) - tip).dot(&dir);
            bounds[1..].partition_point(|b| *b < t).min(n_seg - 1)
        };
        WallCoupling {
            ha_w_per_k: ha,
            cut_segment: merged.iter().map(|c| seg_of(c.0)).collect(),
            metal_segment: m.metal.iter().map(|&i| seg_of(i)).collect(),
            active_segments: n_act,
            area_m2: area,
        }
    });
    ProbeCoupling {
        metal: m.metal,
        cuts: merged,
        wall,
    }
}

impl CryoResult {
    pub fn snapshot_count(&self) -> usize {
        self.snapshots.len()
    }

    /// Appends a snapshot at `time_s` (a streamed result, see [`CryoStream`]), keeping
    /// `min_final` the running minimum.
    pub fn push_snapshot(&mut self, time_s: f64, values: Vec<i16>) {
        if self.min_final.len() == values.len() {
            self.min_final
                .par_iter_mut()
                .zip(values.par_iter())
                .for_each(|(a, &b)| *a = (*a).min(b));
        } else {
            self.min_final = values.clone();
        }
        self.snapshot_times_s.push(time_s);
        self.snapshots.push(values);
    }

    /// The snapshot at or just before `time_s` (the slider's position).
    pub fn snapshot_at(&self, time_s: f64) -> usize {
        self.snapshot_times_s
            .partition_point(|&t| t <= time_s + 1e-9)
            .saturating_sub(1)
    }

    /// The last snapshot (end of the protocol).
    pub fn last_snapshot(&self) -> usize {
        self.snapshots.len().saturating_sub(1)
    }

    /// The snapshot at the end of the last freeze (largest iceball of the final freeze).
    pub fn end_of_last_freeze_snapshot(&self) -> usize {
        self.protocol
            .end_of_last_freeze_s()
            .map_or(self.last_snapshot(), |t| self.snapshot_at(t))
    }

    /// Temperature (°C) of every node at snapshot `s` (NaN where not modelled).
    pub fn temperatures_c(&self, s: usize) -> Vec<f32> {
        self.snapshots
            .get(s)
            .map(|v| v.par_iter().map(|&c| decode(c)).collect())
            .unwrap_or_default()
    }

    /// Trilinear temperature (°C) at an LPS point at snapshot `s` (only modelled corners count);
    /// `None` outside the grid or where nothing is modelled.
    pub fn temperature_at(&self, s: usize, p: &PatientPos) -> Option<f32> {
        trilinear_i16(&self.grid, self.snapshots.get(s)?, p)
    }

    /// A sensor (thermocouple) at `p`: (time s, °C) at every snapshot; `None` outside the grid.
    pub fn sensor_curve(&self, p: &PatientPos) -> Option<Vec<(f64, f32)>> {
        self.snapshot_times_s
            .iter()
            .zip(&self.snapshots)
            .map(|(t, s)| trilinear_i16(&self.grid, s, p).map(|v| (*t, v)))
            .collect()
    }

    /// Nodes at or below `temperature_c` at snapshot `s`.
    pub fn isotherm_mask(&self, s: usize, temperature_c: f64) -> Vec<bool> {
        let lim = centi_limit(temperature_c);
        self.snapshots
            .get(s)
            .map(|v| v.par_iter().map(|&c| c != NOT_MODELLED && c <= lim).collect())
            .unwrap_or_else(|| vec![false; self.grid.len()])
    }

    /// Nodes whose lowest temperature up to snapshot `s` reached `temperature_c` (the lethal zone
    /// with the lethal isotherm: tissue that was that cold has died even after it thaws).
    pub fn reached_mask(&self, s: usize, temperature_c: f64) -> Vec<bool> {
        let lim = centi_limit(temperature_c);
        let last = s.min(self.last_snapshot());
        if last == self.last_snapshot() {
            return self
                .min_final
                .par_iter()
                .map(|&c| c != NOT_MODELLED && c <= lim)
                .collect();
        }
        let mut out = vec![false; self.grid.len()];
        for snap in &self.snapshots[..=last] {
            out.par_iter_mut()
                .zip(snap.par_iter())
                .for_each(|(o, &c)| *o |= c != NOT_MODELLED && c <= lim);
        }
        out
    }

    /// The lethal zone up to snapshot `s` (lowest temperature ≤ the lethal isotherm).
    pub fn lethal_mask(&self, s: usize) -> Vec<bool> {
        self.reached_mask(s, self.lethal_isotherm_c)
    }

    pub fn volume_ml(&self, mask: &[bool]) -> f64 {
        zone::zone_volume_ml(&self.grid, mask)
    }

    /// Extents (mm) of a mask along three directions (see `physics::ire::zone::extents_mm`).
    pub fn extents_mm(&self, mask: &[bool], axes: [Vector3<f64>; 3]) -> [f64; 3] {
        zone::extents_mm(&self.grid, mask, axes)
    }

    /// Volume and extents of the `temperature_c` isotherm at snapshot `s`.
    pub fn isotherm_size(&self, s: usize, temperature_c: f64, axes: [Vector3<f64>; 3]) -> IsothermSize {
        let m = self.isotherm_mask(s, temperature_c);
        IsothermSize {
            temperature_c,
            volume_ml: self.volume_ml(&m),
            extents_mm: self.extents_mm(&m, axes),
        }
    }

    /// Temperatures (°C) on a plane of `w × h` pixels (pixel (x, y) at `origin + u·x·s + v·y·s`,
    /// row-major); NaN outside the grid or where nothing is modelled.
    #[allow(clippy::too_many_arguments)]
    pub fn sample_plane(
        &self,
        s: usize,
        origin_lps: &PatientPos,
        u_dir: &Vector3<f64>,
        v_dir: &Vector3<f64>,
        spacing_mm: f64,
        w: usize,
        h: usize,
    ) -> Vec<f32> {
        let Some(snap) = self.snapshots.get(s) else {
            return vec![f32::NAN; w * h];
        };
        (0..w * h)
            .into_par_iter()
            .map(|idx| {
                let (x, y) = ((idx % w.max(1)) as f64, (idx / w.max(1)) as f64);
                let p = origin_lps + u_dir * (x * spacing_mm) + v_dir * (y * spacing_mm);
                trilinear_i16(&self.grid, snap, &p).unwrap_or(f32::NAN)
            })
            .collect()
    }

    /// An isotherm mask on the same plane as [`Self::sample_plane`] (trilinear temperature ≤
    /// `temperature_c`), for fills; draw outlines with marching squares on `sample_plane`.
    #[allow(clippy::too_many_arguments)]
    pub fn sample_isotherm_plane(
        &self,
        s: usize,
        temperature_c: f64,
        origin_lps: &PatientPos,
        u_dir: &Vector3<f64>,
        v_dir: &Vector3<f64>,
        spacing_mm: f64,
        w: usize,
        h: usize,
    ) -> Vec<bool> {
        self.sample_plane(s, origin_lps, u_dir, v_dir, spacing_mm, w, h)
            .into_iter()
            .map(|t| t.is_finite() && f64::from(t) <= temperature_c)
            .collect()
    }

    /// The wall sample of `probe` at or just before `time_s` (see [`Self::wall_temperature`]).
    pub fn wall_at(&self, probe: usize, time_s: f64) -> Option<WallSample> {
        let w = self.wall_temperature.get(probe)?;
        let i = w.partition_point(|s| s.time_s <= time_s + 1e-9);
        w.get(i.saturating_sub(1)).copied()
    }

    /// Heat removed by all probes (J, positive).
    pub fn heat_extracted_j(&self) -> f64 {
        -self.probe_heat_j.iter().sum::<f64>()
    }
}

fn decode(c: i16) -> f32 {
    if c == NOT_MODELLED {
        f32::NAN
    } else {
        f32::from(c) / 100.0
    }
}

/// The largest centi-degree value at or below `t_c`.
fn centi_limit(t_c: f64) -> i16 {
    (t_c * 100.0 + 1e-6).floor().clamp(-32767.0, 32767.0) as i16
}

/// Trilinear interpolation of a centi-degree node field; corners not modelled are left out (the
/// weights of the others renormalised).
pub fn trilinear_i16(grid: &ComputeGrid, values: &[i16], p: &PatientPos) -> Option<f32> {
    let (base, frac) = grid.cell_at(p)?;
    let (mut v, mut wsum) = (0.0f64, 0.0f64);
    for (dk, wk) in [(0, 1.0 - frac[2]), (1, frac[2])] {
        for (dj, wj) in [(0, 1.0 - frac[1]), (1, frac[1])] {
            for (di, wi) in [(0, 1.0 - frac[0]), (1, frac[0])] {
                let w = wi * wj * wk;
                if w <= 0.0 {
                    continue;
                }
                let i = (base[0] + di).min(grid.dims[0] - 1);
                let j = (base[1] + dj).min(grid.dims[1] - 1);
                let k = (base[2] + dk).min(grid.dims[2] - 1);
                let c = *values.get(grid.index(i, j, k))?;
                if c != NOT_MODELLED {
                    v += w * f64::from(c) / 100.0;
                    wsum += w;
                }
            }
        }
    }
    (wsum > 1e-12).then(|| (v / wsum) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duty_cycle_timeline_switches_probes() {
        let mut protocol = CryoProtocol::freeze_only(60.0);
        protocol.phases[0]
            .probe_duty
            .push(crate::plan::protocol::ProbeDuty { probe: 1, duty: 0.5 });
        protocol.phases[0]
            .probe_duty
            .push(crate::plan::protocol::ProbeDuty { probe: 2, duty: 0.0 });
        let p = ProbeThermal {
            electrode: Electrode {
                start_lps: PatientPos::origin(),
                end_lps: PatientPos::new(0.0, 0.0, 10.0),
                radius_mm: 0.7,
            },
            freeze_surface_c: -140.0,
            active_thaw_c: 20.0,
            calibrated: false,
            wall: None,
        };
        let tl = timeline(&protocol, &[p.clone(), p.clone(), p], 20.0);
        // Switches at 10, 20, 30, … s: six pieces of 10 s.
        assert_eq!(tl.len(), 6, "{tl:?}");
        let on: f64 = tl
            .iter()
            .filter(|x| x.boundary[1] != ProbeBoundary::Off)
            .map(|x| x.end_s - x.start_s)
            .sum();
        assert!((on - 30.0).abs() < 1e-9);
        assert!(
            tl.iter()
                .all(|x| x.boundary[0] == ProbeBoundary::Temperature(-140.0))
        );
        assert!(tl.iter().all(|x| x.boundary[2] == ProbeBoundary::Off));
    }

    #[test]
    fn opening_keeps_thick_vessels_only() {
        let grid = ComputeGrid {
            origin_lps: PatientPos::origin(),
            spacing_mm: 1.0,
            dims: [21, 21, 5],
        };
        // A 1-node-wide line (1 mm) and a 5-node-wide bar (5 mm), both along z.
        let blood: Vec<bool> = (0..grid.len())
            .map(|idx| {
                let [i, j, _] = grid.ijk(idx);
                (i == 3 && j == 3) || ((10..15).contains(&i) && (10..15).contains(&j))
            })
            .collect();
        let held = thick_vessel_nodes(&grid, &blood, 3.0);
        assert!(!held[grid.index(3, 3, 2)]);
        assert!(held[grid.index(12, 12, 2)]);
        assert!(held[grid.index(10, 12, 2)]);
    }
}
