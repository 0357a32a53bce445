//! The electro-thermal model of an IRE plan (issue 13, item 1): Joule heating over the real pulse
//! train, its effect on the current, and the thermal dose.
//!
//! Per pulsed pair, in the generator's order, the pulses (`IreSettings::pulses` of
//! `pulse_width_us`, one every `60 / pulse_rate_per_min` s) run in chunks of
//! `IreHeatingOptions::pulses_per_chunk`:
//!
//! 1. σ(E, T) = σ(E)·(1 + α_class (T − T0)) per node, σ(E) from the pair's converged running
//!    maximum |E| (the isothermal nonlinear solve of `compute_ire`) and T the current temperature;
//! 2. the Joule power density of one pulse at that σ (`super::heating`'s discrete dissipation,
//!    exactly U·I) and the current: between field solves at first order — the field held, each
//!    node's density scaled by σ(E, T)/σ(E, T_ref) and I = P/U (an upper bound of the re-solved
//!    current by Thomson's principle, second-order error; within 2 % of the re-solved one on the
//!    closed block of `tests/suite/ire_heating.rs`). The field is solved at σ(E, T) at the end of
//!    each train (the final current, warm-started with the pair's own multigrid hierarchy), and
//!    before every chunk with `IreHeatingOptions::resolve_every_chunk` (the reference);
//! 3. the heat solver shared with the cryo model (`physics::cryo::solver::run_heated`: Pennes
//!    with perfusion, vessels of ≥ 3 mm held at blood temperature as in the cryo model) runs over
//!    the chunk with the source time-averaged over it.
//!
//! Why time-averaging is fine: a pulse lasts 70–100 µs, a chunk of 10 pulses ≈ 6.7 s. Over one
//! pulse interval (0.67 s) heat diffuses √(κ t) ≈ 0.3 mm, so the pulsed and the averaged source
//! deposit the same energy in the same place to within a grid cell, and the temperature at the
//! end of the chunk is the same to first order. What averaging hides is the saw-tooth within an
//! interval: each pulse raises T by at most q τ/(ρc) before it diffuses; that spike is added to
//! the peak temperature (conservative), not to the temperature carried on.
//!
//! The final current (the one the 48 A limit stops) is the re-solved one. After the last pair the
//! tissue cools for `cooldown_s`, and the thermal dose keeps growing meanwhile.
//!
//! Thermal dose: CEM43 (Sapareto & Dewey 1984) integrated exactly for a temperature that varies
//! linearly between the solver's outputs ([`cem43_increment_min`]). The thermal damage zone is
//! CEM43 ≥ `heating.damage_cem43_min` of `assets/tissues_ire.json`.
//!
//! The heat grid is a crop of the field grid (same spacing and nodes, `margin_mm` around the
//! electrodes): the field needs the whole domain, the heat stays within a few mm of the
//! electrodes. Its faces inside the tissue are held at the start temperature; faces that are the
//! phantom's own faces are adiabatic, as for the field. Electrode metal keeps the tissue class
//! around it: steel's ρc (≈ 3.6 MJ/m³K) is that of tissue, and its better conduction along the
//! needle — a heat sink — is left out, which overestimates the peak next to it (conservative).
//! The zone itself stays the isothermal one (the calibration's).

use super::current::electrode_current_a;
use super::field::pair_operator;
use super::model::{IreError, Level, SigmaTable, hierarchy_for, map_solve_error};
use crate::jobs::JobCtx;
use crate::physics::cryo::solver::{
    Face, HeatInputs, SolverError, ThermalProblem, TimeScheme, TimelinePiece, run_heated,
};
use crate::physics::cryo::tissue::{CryoTissues, Material, NO_TISSUE, builtin_cryo_tissues};
use crate::physics::grid::ComputeGrid;
use crate::physics::linalg::{Hierarchy, SolveOptions, solve};
use crate::plan::ire::{ElectrodePair, IreHeatingOptions, IreModelOptions, IreSettings};
use crate::plan::tissue_params::{IreHeating, TissueParams};
use serde::Serialize;
use std::sync::OnceLock;
use std::time::Instant;

/// One pulsed pair's heating.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairHeating {
    /// Probe indices (anode, cathode).
    pub a: usize,
    pub b: usize,
    pub voltage_v: f64,
    /// Current at the pair's first pulse (tissue already warmed by the pairs before) and at its
    /// last (A).
    pub initial_current_a: f64,
    pub final_current_a: f64,
    /// Hottest node during the pair's train, including one pulse's adiabatic spike (°C).
    pub peak_temperature_c: f64,
    /// Electrical energy delivered (J): Σ U·I·τ over the pulses.
    pub energy_j: f64,
    /// When the pair's train starts and ends (s from the first pulse of the plan).
    pub start_s: f64,
    pub end_s: f64,
}

impl PairHeating {
    /// The largest current of the pair's train (the generator's 48 A check).
    pub fn max_current_a(&self) -> f64 {
        self.initial_current_a.max(self.final_current_a)
    }
}

/// The electro-thermal model's outcome.
#[derive(Clone, Debug)]
pub struct IreHeatingResult {
    /// The heat grid: a crop of the IRE result's grid (same spacing; node (i, j, k) is the
    /// result grid's node `(i, j, k) + offset`).
    pub grid: ComputeGrid,
    pub offset: [usize; 3],
    /// Start (body) temperature (°C).
    pub initial_temperature_c: f64,
    /// Per heat-grid node: the highest temperature reached (°C, one pulse's spike included; NaN
    /// where no tissue is modelled), the temperature at the end of the cool-down and the thermal
    /// dose CEM43 (min).
    pub peak_temperature_c: Vec<f32>,
    pub final_temperature_c: Vec<f32>,
    pub cem43_min: Vec<f32>,
    /// CEM43 (min) at and above which a node counts as thermally damaged.
    pub damage_cem43_min: f64,
    /// The thermal damage zone on the IRE result's grid (`IreResult::grid`), like `zone`.
    pub damage_zone: Vec<bool>,
    pub damage_volume_ml: f64,
    /// Per pulsed pair, in the order they were pulsed.
    pub pairs: Vec<PairHeating>,
    /// Joule energy the heat solver received (J), the enthalpy change of the heat grid (J) and
    /// the electrical energy of all pulses (J). Equal on a closed block without perfusion.
    pub source_energy_j: f64,
    pub enthalpy_change_j: f64,
    pub electrical_energy_j: f64,
    /// Simulated time: the trains plus the cool-down (s).
    pub duration_s: f64,
    /// Field solves and heat-solver flux evaluations.
    pub field_solves: usize,
    pub heat_stages: usize,
    /// Wall time of the field solves (σ update, operator, solve, current, Joule source) and of
    /// the heat solver (s).
    pub field_s: f64,
    pub heat_s: f64,
    pub elapsed_s: f64,
}

impl IreHeatingResult {
    /// Trilinear peak temperature (°C) at an LPS point; `None` outside the heat grid (where the
    /// tissue stayed at `initial_temperature_c`).
    pub fn peak_temperature_at(&self, p: &crate::geometry::PatientPos) -> Option<f32> {
        super::zone::trilinear(&self.grid, &self.peak_temperature_c, p)
    }

    /// Trilinear CEM43 (min) at an LPS point.
    pub fn cem43_at(&self, p: &crate::geometry::PatientPos) -> Option<f32> {
        super::zone::trilinear(&self.grid, &self.cem43_min, p)
    }

    /// The highest current of any pair over its train (A).
    pub fn max_current_a(&self) -> f64 {
        self.pairs
            .iter()
            .map(PairHeating::max_current_a)
            .fold(0.0, f64::max)
    }

    /// The hottest node of the plan (°C).
    pub fn max_temperature_c(&self) -> f64 {
        self.pairs
            .iter()
            .map(|p| p.peak_temperature_c)
            .fold(self.initial_temperature_c, f64::max)
    }

    /// Largest CEM43 of any node (min).
    pub fn max_cem43_min(&self) -> f64 {
        self.cem43_min
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0f64, |m, &v| m.max(f64::from(v)))
    }

    /// Energy balance error: |heat in − enthalpy change| / heat in (meaningful on a closed block
    /// without perfusion or held nodes).
    pub fn energy_balance_error(&self) -> f64 {
        (self.source_energy_j - self.enthalpy_change_j).abs() / self.source_energy_j.max(1e-30)
    }
}

/// CEM43 (min) accumulated over `dt_s` while the temperature moves linearly from `t0_c` to
/// `t1_c`: ∫ R^(43 − T(t)) dt with R = `r_above` at or above 43 °C and `r_below` below (split at
/// 43 °C when the segment crosses it), exact for the linear segment.
pub fn cem43_increment_min(t0_c: f64, t1_c: f64, dt_s: f64, r_above: f64, r_below: f64) -> f64 {
    if !(dt_s > 0.0 && t0_c.is_finite() && t1_c.is_finite()) {
        return 0.0;
    }
    // One piece of constant R: d/(b − a) · (R^(43−a) − R^(43−b)) / ln R.
    let piece = |a: f64, b: f64, d: f64| -> f64 {
        if d <= 0.0 {
            return 0.0;
        }
        let r = if 0.5 * (a + b) >= 43.0 { r_above } else { r_below };
        let ln_r = r.ln();
        if (b - a).abs() < 1e-6 {
            return d * r.powf(43.0 - 0.5 * (a + b));
        }
        d / (b - a) * (r.powf(43.0 - a) - r.powf(43.0 - b)) / ln_r
    };
    let seconds = if (t0_c - 43.0) * (t1_c - 43.0) < 0.0 {
        let f = (43.0 - t0_c) / (t1_c - t0_c);
        piece(t0_c, 43.0, f * dt_s) + piece(43.0, t1_c, (1.0 - f) * dt_s)
    } else {
        piece(t0_c, t1_c, dt_s)
    };
    seconds / 60.0
}

/// The built-in cryo tissue file (thermal properties by class id), parsed once.
fn thermal_tissues() -> Result<&'static CryoTissues, IreError> {
    static TISSUES: OnceLock<Result<CryoTissues, String>> = OnceLock::new();
    TISSUES
        .get_or_init(|| builtin_cryo_tissues().map_err(|e| e.to_string()))
        .as_ref()
        .map_err(|e| IreError::Invalid(format!("thermal tissue parameters: {e}")))
}

/// The heat solver's material of an IRE class: the cryo file's class of the same id, with its
/// frozen properties set to the unfrozen ones — nothing freezes here, and the solver's stability
/// bound takes the stiffest phase present (frozen k is 4× larger: the step would be 4× smaller).
fn heating_material(tissues: &CryoTissues, id: &str) -> Result<Material, IreError> {
    let c = tissues.class(id).ok_or_else(|| {
        IreError::Invalid(format!(
            "tissue class \"{id}\" has no thermal parameters — add it to assets/tissues_cryo.json"
        ))
    })?;
    let mut m = Material::new(c, &tissues.blood);
    m.cs = m.cl;
    m.ks = m.kl;
    m.ka = 0.0;
    Ok(m)
}

fn solver_error(e: SolverError) -> IreError {
    match e {
        SolverError::Cancelled => IreError::Cancelled,
        SolverError::Invalid(m) => IreError::Invalid(format!("heat solver: {m}")),
    }
}

/// Where the heat grid sits in the field grid.
#[derive(Clone, Copy, Debug)]
struct Crop {
    offset: [usize; 3],
    dims: [usize; 3],
    /// Field grid dims.
    full: [usize; 3],
}

impl Crop {
    /// Field-grid index of heat node `idx`.
    #[inline]
    fn full_index(&self, idx: usize) -> usize {
        let [nx, ny, _] = self.dims;
        let (i, j, k) = (idx % nx, (idx / nx) % ny, idx / (nx * ny));
        let [fx, fy, _] = self.full;
        (i + self.offset[0]) + fx * ((j + self.offset[1]) + fy * (k + self.offset[2]))
    }
}

/// The heating state carried from pair to pair.
pub(super) struct Heater {
    problem: ThermalProblem,
    crop: Crop,
    /// α (1/°C) and ρc (J/m³K) per heat node.
    alpha: Vec<f32>,
    rho_c: Vec<f32>,
    t_ref_c: f64,
    temp: Vec<f32>,
    peak: Vec<f32>,
    cem43: Vec<f32>,
    r: (f64, f64),
    damage_cem43_min: f64,
    pulse_width_s: f64,
    interval_s: f64,
    pulses: u32,
    opts: IreHeatingOptions,
    time_s: f64,
    pairs: Vec<PairHeating>,
    source_energy_j: f64,
    enthalpy_change_j: f64,
    electrical_energy_j: f64,
    field_solves: usize,
    heat_stages: usize,
    field_s: f64,
    heat_s: f64,
    started: Instant,
}

impl Heater {
    /// The heat problem of a plan on a crop of `fine` around the electrodes of `pairs`.
    /// `phantom`: the field grid's faces are a phantom's zero-flux faces (adiabatic here too);
    /// else they lie inside a body (held at the start temperature).
    pub(super) fn new(
        fine: &Level,
        electrodes: &[Option<super::field::Electrode>],
        params: &TissueParams,
        settings: &IreSettings,
        opts: &IreModelOptions,
        phantom: bool,
        hold_vessels: bool,
    ) -> Result<Self, IreError> {
        let heating = params.heating.clone().unwrap_or_else(default_heating);
        let tissues = thermal_tissues()?;
        let g = &fine.grid;
        // The crop: the electrodes' bounding box plus the margin, in whole nodes.
        let h = g.spacing_mm;
        let margin = opts.heating.margin_mm.max(0.0);
        let mut lo = [usize::MAX; 3];
        let mut hi = [0usize; 3];
        for e in electrodes.iter().flatten() {
            for p in [e.start_lps, e.end_lps] {
                for ax in 0..3 {
                    let rel = (p[ax] - g.origin_lps[ax]) / h;
                    let reach = (margin + e.radius_mm) / h;
                    let a = (rel - reach).floor().max(0.0) as usize;
                    let b = ((rel + reach).ceil().max(0.0) as usize).min(g.dims[ax] - 1);
                    lo[ax] = lo[ax].min(a.min(g.dims[ax] - 1));
                    hi[ax] = hi[ax].max(b);
                }
            }
        }
        if lo[0] == usize::MAX {
            return Err(IreError::NoPairs);
        }
        let dims = [0, 1, 2].map(|ax| hi[ax] - lo[ax] + 1);
        let crop = Crop {
            offset: lo,
            dims,
            full: g.dims,
        };
        let grid = ComputeGrid {
            origin_lps: g.lps(lo[0], lo[1], lo[2]),
            spacing_mm: h,
            dims,
        };
        let n = grid.len();
        // Materials in IRE class order (the thermal class of a node is its IRE class).
        let materials = params
            .classes
            .iter()
            .map(|c| heating_material(tissues, &c.id))
            .collect::<Result<Vec<_>, _>>()?;
        let classes: Vec<u8> = (0..n).map(|i| fine.classes[crop.full_index(i)]).collect();
        let alpha: Vec<f32> = classes
            .iter()
            .map(|&c| {
                params
                    .classes
                    .get(usize::from(c))
                    .map_or(0.0, |k| heating.alpha_per_c(&k.id) as f32)
            })
            .collect();
        let rho_c: Vec<f32> = classes
            .iter()
            .map(|&c| {
                materials
                    .get(usize::from(c))
                    .map_or(f32::INFINITY, |m| m.cl as f32)
            })
            .collect();
        let t_a = tissues.blood.arterial_temperature_c.value;
        let held = match params.class_index("blood") {
            Some(b) if hold_vessels => {
                let blood: Vec<bool> = classes.iter().map(|&c| usize::from(c) == b).collect();
                crate::physics::cryo::model::thick_vessel_nodes(
                    &grid,
                    &blood,
                    crate::plan::cryo::CryoModelOptions::default().vessel_min_diameter_mm,
                )
            }
            _ => vec![false; n],
        };
        let mut faces = [Face::Temperature(t_a); 6];
        if phantom {
            for ax in 0..3 {
                if lo[ax] == 0 {
                    faces[2 * ax] = Face::Adiabatic;
                }
                if hi[ax] == g.dims[ax] - 1 {
                    faces[2 * ax + 1] = Face::Adiabatic;
                }
            }
        }
        let problem = ThermalProblem {
            grid: grid.clone(),
            materials,
            classes: classes.clone(),
            initial_temperature_c: t_a,
            held,
            held_temperature_c: t_a,
            arterial_temperature_c: t_a,
            faces,
            probes: Vec::new(),
            timeline: Vec::new(),
            snapshot_times_s: Vec::new(),
            scheme: TimeScheme::Rkl2 {
                super_step_s: crate::physics::cryo::solver::DEFAULT_SUPER_STEP_S,
            },
            warnings: Vec::new(),
        };
        let temp: Vec<f32> = classes
            .iter()
            .map(|&c| if c == NO_TISSUE { f32::NAN } else { t_a as f32 })
            .collect();
        Ok(Self {
            problem,
            crop,
            alpha,
            rho_c,
            t_ref_c: heating.reference_temperature_c(),
            peak: temp.clone(),
            cem43: vec![0.0; n],
            temp,
            r: heating.cem43_r(),
            damage_cem43_min: heating.damage_cem43_min(),
            pulse_width_s: settings.pulse_width_us * 1e-6,
            interval_s: 60.0 / settings.pulse_rate_per_min,
            pulses: settings.pulses,
            opts: opts.heating.clone(),
            time_s: 0.0,
            pairs: Vec::new(),
            source_energy_j: 0.0,
            enthalpy_change_j: 0.0,
            electrical_energy_j: 0.0,
            field_solves: 0,
            heat_stages: 0,
            field_s: 0.0,
            heat_s: 0.0,
            started: Instant::now(),
        })
    }

    /// σ(E, T) on the field grid: `sigma`'s heat-grid nodes set to σ(E) (`sigma_e_crop`, per
    /// heat node) times 1 + α (T − T0); the rest stays σ(E) (at the start temperature).
    fn apply_temperature(&self, sigma: &mut [f64], sigma_e_crop: &[f64]) {
        for (idx, ((&t, &a), &se)) in self.temp.iter().zip(&self.alpha).zip(sigma_e_crop).enumerate() {
            if t.is_finite() {
                sigma[self.crop.full_index(idx)] =
                    super::heating::sigma_at_temperature(se, f64::from(a), f64::from(t), self.t_ref_c);
            }
        }
    }

    /// The Joule power density of one pulse (W/m³) on the heat grid's nodes: the split of
    /// [`super::heating::joule_power`] (half of a link's dissipation to each end, all of it to
    /// the tissue end of a link into metal), evaluated on the crop only — the source beyond it is
    /// not used, and the whole grid's pass costs as much as a field solve.
    fn crop_joule_density(
        &self,
        grid: &ComputeGrid,
        op: &crate::physics::linalg::Operator,
        phi: &[f64],
    ) -> Vec<f32> {
        use rayon::prelude::*;
        let [nx, ny, nz] = grid.dims;
        let h_m = grid.spacing_mm * 1e-3;
        let inv_vol = 1.0 / h_m.powi(3);
        (0..self.temp.len())
            .into_par_iter()
            .with_min_len(4096)
            .map(|idx| {
                let f = self.crop.full_index(idx);
                if op.fixed[f] {
                    return 0.0;
                }
                let c = [f % nx, (f / nx) % ny, f / (nx * ny)];
                let mut q = 0.0f64;
                for (axis, stride, len) in [(0, 1, nx), (1, nx, ny), (2, nx * ny, nz)] {
                    // The link below (from f − stride) and above (from f).
                    for (from, other) in [
                        (c[axis] > 0).then(|| (f - stride, f - stride)),
                        (c[axis] + 1 < len).then_some((f, f + stride)),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        let g = op.link(axis, from);
                        if g == 0.0 {
                            continue;
                        }
                        let d = phi[f] - phi[other];
                        let share = if op.fixed[other] { 1.0 } else { 0.5 };
                        q += share * g * h_m * d * d;
                    }
                }
                (q * inv_vol) as f32
            })
            .collect()
    }

    /// Runs the heat solver over `duration_s` from the current temperature with a source (W/m³
    /// per heat node), updating temperature, peak (plus `spike`), dose and energies; returns the
    /// hottest node of the piece (°C, spike included).
    fn heat(
        &mut self,
        source: Option<&[f32]>,
        spike: Option<&[f32]>,
        duration_s: f64,
        ctx: &JobCtx,
    ) -> Result<f64, IreError> {
        let started = Instant::now();
        self.problem.timeline = vec![TimelinePiece {
            start_s: 0.0,
            end_s: duration_s,
            boundary: Vec::new(),
        }];
        let out = run_heated(
            &self.problem,
            &HeatInputs {
                initial_temperature_c: Some(&self.temp),
                source_w_per_m3: source,
                no_ramp: true,
            },
            &|| ctx.cancel.is_cancelled(),
            &|_| {},
        )
        .map_err(solver_error)?;
        self.source_energy_j += out.source_energy_j;
        self.enthalpy_change_j += out.final_enthalpy_j - out.initial_enthalpy_j;
        self.heat_stages += out.stages;
        let (ra, rb) = self.r;
        let mut hottest = f32::MIN;
        for (idx, t1) in out.final_temperature_c.iter().enumerate() {
            let t0 = self.temp[idx];
            if !(t0.is_finite() && t1.is_finite()) {
                continue;
            }
            self.cem43[idx] += cem43_increment_min(f64::from(t0), f64::from(*t1), duration_s, ra, rb) as f32;
            let s = spike.map_or(0.0, |s| s[idx]);
            let p = (*t1 + s).max(t0 + s);
            hottest = hottest.max(p);
            self.peak[idx] = self.peak[idx].max(p);
            self.temp[idx] = *t1;
        }
        self.time_s += duration_s;
        self.heat_s += started.elapsed().as_secs_f64();
        Ok(f64::from(hottest))
    }

    /// The pulse train of one pair: `phi_v`, `e_run` and `hierarchy` are the pair's converged
    /// isothermal solution (σ(E) from the running maximum `e_run`; constant σ0 when `nonlinear`
    /// is off) and the multigrid hierarchy it was solved with.
    ///
    /// Between field solves the chunks update σ(E, T) with the field held (first order): each
    /// node's Joule density scales with σ(E, T)/σ(E) and the current with the power, I = P/U. By
    /// Thomson's principle the conductance is a concave function of σ, so this first-order
    /// current is an upper bound of the re-solved one (conservative for the 48 A check); the
    /// error is second order in α ΔT. The field is re-solved at σ(E, T) at the end of the train
    /// (the final current) and, with `IreHeatingOptions::resolve_every_chunk`, before every chunk
    /// (the reference: `tests/suite/ire_heating.rs` compares both).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn pulse_pair(
        &mut self,
        fine: &Level,
        params: &TissueParams,
        opts: &IreModelOptions,
        pair: &ElectrodePair,
        phi_v: &[f64],
        e_run: &[f32],
        hierarchy: Option<Hierarchy>,
        ctx: &JobCtx,
        on_chunk: &dyn Fn(usize, usize),
    ) -> Result<(), IreError> {
        let table = SigmaTable::new(params);
        let mut sigma: Vec<f64> = if opts.nonlinear {
            fine.classes
                .iter()
                .zip(e_run)
                .map(|(&c, &e)| table.sigma(c, f64::from(e)))
                .collect()
        } else {
            fine.sigma(params, None)
        };
        let sigma_e_crop: Vec<f64> = (0..self.temp.len())
            .map(|idx| sigma[self.crop.full_index(idx)])
            .collect();
        let (anode, cathode) = (fine.mask(pair.a)?, fine.mask(pair.b)?);
        let mut phi = phi_v.to_vec();
        let cancel = || ctx.cancel.is_cancelled();
        // The solves only supply the current and the source: 1e-4 in the residual is 1e-4 in
        // the current, far below what the temperature changes.
        let solve_opts = SolveOptions {
            rel_tol: opts.linear_rel_tol.max(super::model::INTERMEDIATE_REL_TOL),
            ..SolveOptions::default()
        };
        let per_chunk = self.opts.pulses_per_chunk.max(1);
        let n_chunks = self.pulses.div_ceil(per_chunk) as usize;
        let mut kept: Option<Hierarchy> = hierarchy;
        let mut slow = false;
        let start_s = self.time_s;
        let h_m3 = (fine.grid.spacing_mm * 1e-3).powi(3);
        // The field the chunks scale: its crop density at σ(E, T_ref) (the σ it was solved with,
        // `ref_factor` per heat node) and its power (W).
        let mut reference: Option<(Vec<f32>, Vec<f32>, f64)> = None;
        let (mut initial, mut energy, mut pair_peak) = (None, 0.0, f64::NEG_INFINITY);
        let mut pulses_left = self.pulses;
        for c in 0..=n_chunks {
            if cancel() {
                return Err(IreError::Cancelled);
            }
            on_chunk(c, n_chunks);
            let t_field = Instant::now();
            let last = c == n_chunks;
            if reference.is_none() || last || self.opts.resolve_every_chunk {
                // The train starts from the pair's isothermal solution (σ(E) at T0: the factors of
                // the reference are 1), scaled to the tissue's temperature at first order like
                // every chunk — the earlier pairs warmed it. Later: σ(E, T) → the field.
                let isothermal = c == 0
                    && !self.opts.resolve_every_chunk
                    && kept.as_ref().is_some_and(|h| h.fine().dims == fine.grid.dims);
                if !isothermal {
                    self.apply_temperature(&mut sigma, &sigma_e_crop);
                    let mut op = pair_operator(&fine.grid, &sigma, &[anode, cathode]);
                    if let Some(inside) = &fine.inside {
                        op.fixed.iter_mut().zip(inside).for_each(|(f, &i)| *f |= !i);
                    }
                    let hier = hierarchy_for(&mut kept, op, &sigma, slow);
                    let report = solve(hier, &mut phi, &solve_opts, &cancel).map_err(map_solve_error)?;
                    slow = report.iterations > super::model::REBUILD_AFTER_ITERATIONS;
                    self.field_solves += 1;
                }
                let Some(hier) = kept.as_ref() else {
                    return Err(IreError::Invalid("heating: no field hierarchy".into()));
                };
                let current_a = electrode_current_a(&fine.grid, hier.fine(), &phi, anode);
                if last {
                    self.field_s += t_field.elapsed().as_secs_f64();
                    let peak = pair_peak.max(f64::from(self.max_temp()));
                    self.pairs.push(PairHeating {
                        a: pair.a,
                        b: pair.b,
                        voltage_v: pair.voltage_v,
                        initial_current_a: initial.unwrap_or(current_a),
                        final_current_a: current_a,
                        peak_temperature_c: peak,
                        energy_j: energy,
                        start_s,
                        end_s: self.time_s,
                    });
                    return Ok(());
                }
                let density = self.crop_joule_density(&fine.grid, hier.fine(), &phi);
                let factor = if isothermal {
                    vec![1.0; self.temp.len()]
                } else {
                    self.temperature_factors()
                };
                reference = Some((density, factor, pair.voltage_v * current_a));
            }
            let Some((density_ref, factor_ref, power_ref)) = reference.as_ref() else {
                return Err(IreError::Invalid("heating: no reference field".into()));
            };
            // First order with the field held: the density scales with σ(E, T)/σ(E, T_ref).
            let factor = self.temperature_factors();
            let mut dp = 0.0f64;
            let density: Vec<f32> = density_ref
                .iter()
                .zip(factor.iter().zip(factor_ref))
                .map(|(&q, (&f, &f0))| {
                    let q_new = if f0 > 0.0 { q * f / f0 } else { q };
                    dp += f64::from(q_new - q);
                    q_new
                })
                .collect();
            let power_w = power_ref + dp * h_m3;
            let current_a = power_w / pair.voltage_v;
            if initial.is_none() {
                initial = Some(current_a);
            }
            let n_p = pulses_left.min(per_chunk);
            pulses_left -= n_p;
            let on_s = f64::from(n_p) * self.pulse_width_s;
            let duration_s = f64::from(n_p) * self.interval_s;
            energy += power_w * on_s;
            self.electrical_energy_j += power_w * on_s;
            // Per heat node: the chunk's mean source and one pulse's adiabatic spike.
            let avg = (on_s / duration_s) as f32;
            let tau = self.pulse_width_s as f32;
            let (source, spike): (Vec<f32>, Vec<f32>) = density
                .iter()
                .zip(&self.rho_c)
                .map(|(&q, &rc)| (q * avg, q * tau / rc))
                .unzip();
            self.field_s += t_field.elapsed().as_secs_f64();
            pair_peak = pair_peak.max(self.heat(Some(&source), Some(&spike), duration_s, ctx)?);
        }
        Ok(())
    }

    /// σ(E, T)/σ(E) = 1 + α (T − T0) per heat node (1 where no tissue is modelled).
    fn temperature_factors(&self) -> Vec<f32> {
        self.temp
            .iter()
            .zip(&self.alpha)
            .map(|(&t, &a)| {
                if t.is_finite() {
                    super::heating::sigma_at_temperature(1.0, f64::from(a), f64::from(t), self.t_ref_c) as f32
                } else {
                    1.0
                }
            })
            .collect()
    }

    fn max_temp(&self) -> f32 {
        self.temp
            .iter()
            .filter(|t| t.is_finite())
            .fold(f32::MIN, |m, &t| m.max(t))
    }

    /// The cool-down after the last pulse, in pieces so that the dose follows the falling
    /// temperature (each piece integrates linearly between its ends).
    pub(super) fn cool_down(&mut self, ctx: &JobCtx) -> Result<(), IreError> {
        let mut left = self.opts.cooldown_s.max(0.0);
        // Pieces doubling from 5 s: the hottest nodes (next to the needle) cool fastest at
        // first. The cooling curve is convex, so the linear dose integral over a piece lies
        // above the true one (conservative).
        let mut piece: f64 = 5.0;
        while left > 1e-9 {
            let d = piece.min(left);
            self.heat(None, None, d, ctx)?;
            left -= d;
            piece *= 2.0;
        }
        Ok(())
    }

    /// The result, with the damage zone on the field grid `full`.
    pub(super) fn finish(self, full: &ComputeGrid) -> IreHeatingResult {
        let mut damage_zone = vec![false; full.len()];
        let mut damaged = 0usize;
        for (idx, &d) in self.cem43.iter().enumerate() {
            if f64::from(d) >= self.damage_cem43_min {
                damage_zone[self.crop.full_index(idx)] = true;
                damaged += 1;
            }
        }
        let damage_volume_ml = damaged as f64 * full.spacing_mm.powi(3) * 1e-3;
        IreHeatingResult {
            grid: self.problem.grid,
            offset: self.crop.offset,
            initial_temperature_c: self.problem.initial_temperature_c,
            peak_temperature_c: self.peak,
            final_temperature_c: self.temp,
            cem43_min: self.cem43,
            damage_cem43_min: self.damage_cem43_min,
            damage_zone,
            damage_volume_ml,
            pairs: self.pairs,
            source_energy_j: self.source_energy_j,
            enthalpy_change_j: self.enthalpy_change_j,
            electrical_energy_j: self.electrical_energy_j,
            duration_s: self.time_s,
            field_solves: self.field_solves,
            heat_stages: self.heat_stages,
            field_s: self.field_s,
            heat_s: self.heat_s,
            elapsed_s: self.started.elapsed().as_secs_f64(),
        }
    }
}

/// Heating parameters when the tissue file has none: α 1.2 %/°C (the file's default value).
fn default_heating() -> IreHeating {
    let sourced = |value: f64, source: &str| crate::plan::Sourced {
        value,
        uncertainty: None,
        source: source.to_string(),
        confirmed: true,
        note: None,
    };
    IreHeating {
        temperature_coefficient_per_c: sourced(
            0.012,
            "porcine liver ≈ 1.2 %/°C (Beitel-White et al., IEEE TBME 2021;68:771; REFERENCE.md §7)",
        ),
        temperature_coefficient_range_per_c: crate::plan::tissue_params::ParamRange {
            lo: 0.012,
            hi: 0.02,
            source: "REFERENCE.md §7".into(),
            confirmed: true,
            note: None,
        },
        per_class: Vec::new(),
        reference_temperature_c: None,
        damage_cem43_min: None,
        cem43_r_above_43: None,
        cem43_r_below_43: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cem43_of_constant_and_linear_temperatures() {
        // 1 min at 43 °C = 1 min; at 44 °C = 2 min; at 42 °C = 0.25 min.
        assert!((cem43_increment_min(43.0, 43.0, 60.0, 0.5, 0.25) - 1.0).abs() < 1e-9);
        assert!((cem43_increment_min(44.0, 44.0, 60.0, 0.5, 0.25) - 2.0).abs() < 1e-9);
        assert!((cem43_increment_min(42.0, 42.0, 60.0, 0.5, 0.25) - 0.25).abs() < 1e-9);
        // A ramp 43 → 53 °C over 60 s against fine quadrature.
        let exact = cem43_increment_min(43.0, 53.0, 60.0, 0.5, 0.25);
        let n = 100_000;
        let quad: f64 = (0..n)
            .map(|i| {
                let t = 43.0 + 10.0 * (i as f64 + 0.5) / n as f64;
                0.5f64.powf(43.0 - t) * 60.0 / n as f64
            })
            .sum::<f64>()
            / 60.0;
        assert!((exact - quad).abs() < 1e-6 * quad, "{exact} vs {quad}");
        // Crossing 43 °C: split, and symmetric in time.
        let up = cem43_increment_min(40.0, 46.0, 30.0, 0.5, 0.25);
        let down = cem43_increment_min(46.0, 40.0, 30.0, 0.5, 0.25);
        assert!((up - down).abs() < 1e-12 && up > 0.0);
        assert_eq!(cem43_increment_min(f64::NAN, 40.0, 1.0, 0.5, 0.25), 0.0);
    }
}
