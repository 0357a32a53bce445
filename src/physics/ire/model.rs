//! The IRE plan model: tissue conductivity on a `ComputeGrid`, one nonlinear σ(E) solve per
//! electrode pair (warm-started), the running maximum |E| over all pairs, the lethal zone and the
//! predicted current per pair. This is the contract shared by the GUI, the CLI and the tests.
//!
//! Model (REFERENCE.md §2):
//! - Tissue class per node ([`super::tissue`]); σ per node from the class, σ(E) piecewise linear.
//! - Per pulsed pair: the anode's exposed part is held at the pair voltage, the cathode's at 0
//!   (Dirichlet capsules of the true radius with sub-voxel cut links, [`super::field`]); insulated
//!   shafts and the outer boundary carry no current.
//! - The electrodes that are not pulsed are plain tissue, not Dirichlet. The generator switches
//!   them off (their relays are open), so they float: an equipotential carrying no net current.
//!   Holding them at a fixed potential would be wrong (it would draw current); modelling the
//!   floating constraint needs a non-local unknown the solver does not have. A floating 19G needle
//!   only equalises the potential along its own ~1 mm-wide core, a local perturbation far smaller
//!   than the zone, so it is treated as tissue of the surrounding class.
//! - Nonlinear σ(E) per pair: σ_node = class.σ(E_run), E_run the node's running maximum |E| over
//!   the iterations of that pair (σ never decreases), iterated until the largest relative change
//!   of σ is below `nonlinear_tol`; each linear solve is warm-started from the previous φ. Each
//!   pair starts from σ0 again (the pairs are pulsed in sequence and each one's field is solved on
//!   its own, as in the open planning codes REFERENCE.md §2 cites). On plan grids of 0.5 mm or
//!   finer the first iterations run on the 2h grid (see [`compute_ire`]). The previous pair's
//!   potential is no use as a start for the next pair (other electrodes are fixed: the initial
//!   residual was 0.4–0.7 of the right-hand side, as from U/2), so each pair starts from U/2 or
//!   from its own coarse solution.
//! - Outer boundary: zero-flux, as specified. It confines the current, and the nonlinear model
//!   amplifies that: for V3 (two electrodes 15 mm apart in liver) the zone volume is 6 % larger
//!   with a 15 mm margin than with 30 mm (2.4 % at 20 mm; the linear model: 0.4 %). Studies that
//!   compare with in-vivo zones should use a margin of 25–30 mm.
//! - Zone: the running maximum |E| over all pairs against a threshold ([`ZoneCriterion`]).
//! - Current: the exact discrete flux out of the anode's metal ([`super::current`]).

use super::current::electrode_current_a;
use super::field::{
    Electrode, ElectrodeMask, RADIUS_19G_MM, electrode_mask, field_magnitude_v_per_cm, pair_operator,
};
use super::preview::{AnalyticPair, PREVIEW_MARGIN_MM, PREVIEW_SPACING_MM, max_field};
use super::tissue::{OUTSIDE, node_classes, plan_grid};
use super::{band, zone};
use crate::anatomy::structure::Structure;
use crate::geometry::PatientPos;
use crate::jobs::JobCtx;
use crate::physics::grid::ComputeGrid;
use crate::physics::linalg::{Hierarchy, Operator, SolveError, SolveOptions, solve};
use crate::plan::catalog::{Catalog, builtin_catalog};
use crate::plan::checks::segment_segment_distance;
use crate::plan::ire::{CURRENT_LIMIT_A, ElectrodePair, IreSettings, default_pairs};
use crate::plan::probe::Probe;
use crate::plan::tissue_params::TissueParams;
use crate::volume::Volume;
use nalgebra::Vector3;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;
use std::time::Instant;

/// Where the tissue classes come from.
#[derive(Clone, Copy, Debug)]
pub enum TissueSource<'a> {
    /// A homogeneous block of one tissue class (`assets/tissues_ire.json` id), centred on
    /// `centre_lps`, `size_mm` along L, P, S. The block's faces are the zero-flux outer boundary
    /// (the compute grid is the block, cropped around the probes when the block is larger).
    Phantom {
        class_id: &'a str,
        centre_lps: PatientPos,
        size_mm: [f64; 3],
    },
    /// A CT: classes from HU bins; structure kinds override (Vessel → blood, Target → lymph
    /// node, Bowel → bowel wall; `plan::tissue_params::class_for_structure`).
    Ct {
        volume: &'a Volume,
        structures: &'a [Structure],
    },
    /// A phantom block of `class_id` in which analytic regions set their own class (a node of
    /// lymph-node tissue in fat, a vessel of blood): heterogeneous experiments as cases. Later
    /// regions win where they overlap ([`super::tissue::phantom_regions`] orders them by the CT's
    /// override priority). Grid and faces as for [`TissueSource::Phantom`].
    PhantomRegions {
        class_id: &'a str,
        centre_lps: PatientPos,
        size_mm: [f64; 3],
        regions: &'a [super::tissue::TissueRegion],
    },
}

// The model's options are plan settings (saved with a case): they live in `plan`, and keep
// their path here for the model's callers.
pub use crate::plan::ire::{IreModelOptions, SPACING_RANGE_MM, ZoneCriterion};

impl IreModelOptions {
    /// Checks the numbers (the model reports the first bad one).
    pub fn validate(&self) -> Result<(), IreError> {
        let (lo, hi) = SPACING_RANGE_MM;
        if !(self.spacing_mm.is_finite() && (lo..=hi).contains(&self.spacing_mm)) {
            return Err(IreError::Invalid(format!(
                "grid spacing {} mm — choose {lo}–{hi} mm (0.5 mm by default)",
                self.spacing_mm
            )));
        }
        let max_margin = crate::plan::limits::MAX_MARGIN_MM;
        if !(self.margin_mm.is_finite() && (0.0..=max_margin).contains(&self.margin_mm)) {
            return Err(IreError::Invalid(format!(
                "margin {} mm — choose 0–{max_margin} mm",
                self.margin_mm
            )));
        }
        self.check_solver_settings()
            .map_err(|e| IreError::Invalid(format!("{}: {}", e.field, e.message)))
    }

    /// One line for the UI, e.g. "IRE nonlinear σ(E), 0.5 mm, tissue thresholds".
    pub fn description(&self) -> String {
        format!(
            "IRE {}, {} mm, {}",
            if self.nonlinear {
                "nonlinear σ(E)"
            } else {
                "linear constant σ0"
            },
            self.spacing_mm,
            self.zone.label()
        )
    }
}

/// One pulsed pair's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairResult {
    /// Probe indices (anode, cathode).
    pub a: usize,
    pub b: usize,
    pub voltage_v: f64,
    /// Shaft-to-shaft spacing of the exposed parts (mm).
    pub spacing_mm: f64,
    /// Current through a closed surface around the anode (A).
    pub current_a: f64,
    /// `current_a` > `plan::ire::CURRENT_LIMIT_A`.
    pub over_limit: bool,
    pub linear_iterations: usize,
    pub nonlinear_iterations: usize,
    pub converged: bool,
}

/// The model's result on its grid.
#[derive(Clone, Debug)]
pub struct IreResult {
    pub grid: ComputeGrid,
    /// Running maximum |E| over all pairs per node (V/cm).
    pub max_e_v_per_cm: Vec<f32>,
    /// Per-node lethal threshold used for the zone (V/cm).
    pub threshold_v_per_cm: Vec<f32>,
    /// Lethal zone per node.
    pub zone: Vec<bool>,
    pub zone_volume_ml: f64,
    pub pairs: Vec<PairResult>,
    pub linear_iterations: usize,
    pub elapsed_s: f64,
    /// A fast approximation shown while dragging ("preview"), not the full model.
    pub preview: bool,
    /// One line for the UI and exports, e.g. "IRE nonlinear σ(E), 0.5 mm, tissue thresholds".
    pub description: String,
    /// The zone's uncertainty band from the calibrated parameter ranges (`None` for the preview
    /// or with `IreModelOptions::band` off). Safety measures distances from its outer surface and
    /// coverage from its inner one.
    pub band: Option<crate::physics::band::ZoneBand>,
    /// The electro-thermal model over the pulse train (`super::thermal`): per-pair initial and
    /// final currents and peak temperatures, the temperature and CEM43 fields, the thermal damage
    /// zone. `None` for the preview or with `IreModelOptions::heating` off.
    pub heating: Option<super::thermal::IreHeatingResult>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IreError {
    #[error("IRE model: no pair to pulse — place at least two electrodes")]
    NoPairs,
    #[error("IRE model: {0}")]
    Invalid(String),
    #[error("IRE model: cancelled")]
    Cancelled,
}

/// The built-in probe catalog, parsed once (radii of the electrodes).
fn catalog() -> Option<&'static Catalog> {
    static CATALOG: OnceLock<Option<Catalog>> = OnceLock::new();
    CATALOG.get_or_init(|| builtin_catalog().ok()).as_ref()
}

/// Radius (mm) of a probe model from the built-in catalog; the 19G radius when the model is
/// unknown (the catalog's IRE electrode is 19G).
pub fn electrode_radius_mm(model_id: &str) -> f64 {
    catalog()
        .and_then(|c| c.get(model_id))
        .map(|m| m.radius_mm())
        .filter(|r| r.is_finite() && *r > 0.0)
        .unwrap_or(RADIUS_19G_MM)
}

/// The conducting part of a probe: its exposed segment with the catalog radius.
pub fn probe_electrode(probe: &Probe) -> Result<Electrode, IreError> {
    let seg = probe
        .exposed_segment()
        .map_err(|e| IreError::Invalid(e.to_string()))?;
    Ok(Electrode {
        start_lps: seg.start,
        end_lps: seg.end,
        radius_mm: electrode_radius_mm(&probe.model_id),
    })
}

/// A grid with its tissue classes and electrode masks: the plan grid, or its 2h coarsening used
/// for the early nonlinear iterations.
pub(super) struct Level {
    pub(super) grid: ComputeGrid,
    pub(super) classes: Vec<u8>,
    /// `Some` when some nodes lie outside the tissue (phantom faces inside the grid).
    pub(super) inside: Option<Vec<bool>>,
    /// Per probe; `None` for probes no pair uses (or before the masks are computed).
    masks: Vec<Option<ElectrodeMask>>,
}

impl Level {
    fn new(grid: ComputeGrid, classes: Vec<u8>, n_probes: usize) -> Self {
        let inside = classes
            .contains(&OUTSIDE)
            .then(|| classes.par_iter().map(|&c| c != OUTSIDE).collect());
        Self {
            grid,
            classes,
            inside,
            masks: vec![None; n_probes],
        }
    }

    /// Geometry of every electrode on the grid, once for all pairs and iterations.
    fn with_masks(mut self, electrodes: &[Option<Electrode>]) -> Self {
        self.masks = electrodes
            .iter()
            .map(|e| e.as_ref().map(|e| electrode_mask(&self.grid, e)))
            .collect();
        self
    }

    pub(super) fn mask(&self, i: usize) -> Result<&ElectrodeMask, IreError> {
        self.masks
            .get(i)
            .and_then(Option::as_ref)
            .ok_or_else(|| IreError::Invalid(format!("probe {i} is not part of a pair")))
    }

    /// σ per node (S/m) for a field per node (`None` = no field, σ0).
    pub(super) fn sigma(&self, params: &TissueParams, e: Option<&[f32]>) -> Vec<f64> {
        self.classes
            .par_iter()
            .enumerate()
            .map(|(idx, &c)| match params.classes.get(usize::from(c)) {
                Some(class) => class.sigma(e.map_or(0.0, |e| f64::from(e[idx]))),
                None => 0.0,
            })
            .collect()
    }

    /// `e_run ← max(e_run, e)`, then σ from `e_run`; returns σ and the largest relative change
    /// from `sigma` (one pass).
    fn update_sigma(
        &self,
        table: &SigmaTable,
        e_run: &mut [f32],
        e: &[f32],
        sigma: &[f64],
    ) -> (Vec<f64>, f64) {
        const CHUNK: usize = 1 << 14;
        let mut out = vec![0.0; sigma.len()];
        let change = out
            .par_chunks_mut(CHUNK)
            .zip(e_run.par_chunks_mut(CHUNK))
            .enumerate()
            .map(|(ci, (s_out, er))| {
                let base = ci * CHUNK;
                let mut worst = 0.0f64;
                for (t, (so, r)) in s_out.iter_mut().zip(er.iter_mut()).enumerate() {
                    let idx = base + t;
                    *r = r.max(e[idx]);
                    let s = table.sigma(self.classes[idx], f64::from(*r));
                    let old = sigma[idx];
                    if old > 0.0 {
                        worst = worst.max((s - old).abs() / old);
                    }
                    *so = s;
                }
                worst
            })
            .reduce(|| 0.0, f64::max);
        (out, change)
    }

    /// The 2h grid on every other node (same origin; with an even dimension the last fine layer
    /// lies beyond it and takes the values of the last coarse layer, see [`prolong`]). An electrode thinner than the coarse spacing may cover no coarse node:
    /// its mask is then empty and pairs using it skip the coarse start.
    fn coarsen(&self, electrodes: &[Option<Electrode>]) -> Option<Level> {
        let g = &self.grid;
        if g.dims.iter().any(|&n| n < 17) {
            return None;
        }
        let grid = ComputeGrid {
            origin_lps: g.origin_lps,
            spacing_mm: 2.0 * g.spacing_mm,
            dims: g.dims.map(|n| n.div_ceil(2)),
        };
        let classes = (0..grid.len())
            .into_par_iter()
            .map(|idx| {
                let [i, j, k] = grid.ijk(idx);
                self.classes[g.index(2 * i, 2 * j, 2 * k)]
            })
            .collect();
        Some(Level::new(grid, classes, electrodes.len()).with_masks(electrodes))
    }

    /// Whether both electrodes of `pair` cover nodes of this level.
    fn covers(&self, pair: &ElectrodePair) -> bool {
        [pair.a, pair.b]
            .iter()
            .all(|&i| self.mask(i).is_ok_and(|m| !m.metal.is_empty()))
    }
}

/// σ(E) of every class as plain numbers (the per-node update is the model's inner loop).
pub(super) struct SigmaTable {
    /// (σ0, σ1, E_rev, E_irr) per class index.
    classes: Vec<(f64, f64, f64, f64)>,
}

impl SigmaTable {
    pub(super) fn new(params: &TissueParams) -> Self {
        Self {
            classes: params
                .classes
                .iter()
                .map(|c| {
                    (
                        c.sigma0_s_per_m.value,
                        c.sigma1_s_per_m.value,
                        c.e_rev_v_per_cm.value,
                        c.e_irr_v_per_cm.value,
                    )
                })
                .collect(),
        }
    }

    /// Same law as `TissueClass::sigma`; 0 outside the tissue.
    #[inline]
    pub(super) fn sigma(&self, class: u8, e_v_per_cm: f64) -> f64 {
        match self.classes.get(usize::from(class)) {
            Some(&(s0, s1, e0, e1)) => {
                if e_v_per_cm <= e0 {
                    s0
                } else if e_v_per_cm >= e1 {
                    s1
                } else {
                    s0 + (s1 - s0) * (e_v_per_cm - e0) / (e1 - e0)
                }
            }
            None => 0.0,
        }
    }
}

/// Trilinear prolongation from a 2h level onto its fine level (coarse node (i, j, k) = fine node
/// (2i, 2j, 2k)); a fine layer beyond the last coarse layer (even fine dimension) copies it.
fn prolong(fine: &ComputeGrid, coarse: &ComputeGrid, values: &[f64]) -> Vec<f64> {
    let [fx, fy, _] = fine.dims;
    let [cx, cy, cz] = coarse.dims;
    let last = [cx - 1, cy - 1, cz - 1];
    let parents = |i: usize, ax: usize| -> [(usize, f64); 2] {
        if i.is_multiple_of(2) {
            [((i / 2).min(last[ax]), 1.0), (0, 0.0)]
        } else {
            [((i / 2).min(last[ax]), 0.5), ((i / 2 + 1).min(last[ax]), 0.5)]
        }
    };
    let mut out = vec![0.0; fine.len()];
    out.par_chunks_mut(fx * fy).enumerate().for_each(|(k, plane)| {
        for j in 0..fy {
            for i in 0..fx {
                let mut s = 0.0;
                for (kk, wk) in parents(k, 2) {
                    for (jj, wj) in parents(j, 1) {
                        for (ii, wi) in parents(i, 0) {
                            let w = wi * wj * wk;
                            if w > 0.0 {
                                s += w * values[ii + cx * (jj + cy * kk)];
                            }
                        }
                    }
                }
                plane[i + fx * j] = s;
            }
        }
    });
    out
}

/// What every computation of a plan shares: pairs, electrodes, the grid and its tissue classes.
struct Setup {
    pairs: Vec<ElectrodePair>,
    /// Per probe; `None` for probes no pair uses.
    electrodes: Vec<Option<Electrode>>,
    spacings_mm: Vec<f64>,
    fine: Level,
}

impl Setup {
    /// The full model's setup: options checked, the plan's grid at its spacing and margin.
    fn for_full_model(
        probes: &[Probe],
        settings: &IreSettings,
        tissue: &TissueSource<'_>,
        params: &TissueParams,
        opts: &IreModelOptions,
    ) -> Result<Self, IreError> {
        opts.validate()?;
        Setup::new(
            probes,
            settings,
            tissue,
            params,
            opts.spacing_mm,
            opts.margin_mm,
            true,
        )
    }

    fn new(
        probes: &[Probe],
        settings: &IreSettings,
        tissue: &TissueSource<'_>,
        params: &TissueParams,
        spacing_mm: f64,
        margin_mm: f64,
        full: bool,
    ) -> Result<Self, IreError> {
        settings
            .validate(probes.len())
            .map_err(|e| IreError::Invalid(e.to_string()))?;
        let pairs = if settings.pairs.is_empty() {
            default_pairs(probes, settings)
        } else {
            settings.pairs.clone()
        };
        if pairs.is_empty() {
            return Err(IreError::NoPairs);
        }
        let mut electrodes: Vec<Option<Electrode>> = vec![None; probes.len()];
        for p in &pairs {
            for i in [p.a, p.b] {
                if electrodes[i].is_none() {
                    electrodes[i] = Some(probe_electrode(&probes[i])?);
                }
            }
        }
        let spacings_mm = pairs
            .iter()
            .map(|p| {
                let seg = |i: usize| {
                    probes[i]
                        .exposed_segment()
                        .map_err(|e| IreError::Invalid(e.to_string()))
                };
                Ok(segment_segment_distance(&seg(p.a)?, &seg(p.b)?))
            })
            .collect::<Result<Vec<f64>, IreError>>()?;
        let segments: Vec<(PatientPos, PatientPos)> = electrodes
            .iter()
            .flatten()
            .map(|e| (e.start_lps, e.end_lps))
            .collect();
        // The full model's grid has multigrid-friendly dimensions and electrode masks; the
        // preview's needs neither.
        // The first electrode's mid-point on a node of the 2h grid too, so that the coarse start of
        // the nonlinear iteration sees it (see `Level::coarsen`).
        // (The first electrode in probe order, not the first anode: swapping a pair's polarity
        // keeps the grid.)
        let align = full
            .then(|| {
                electrodes
                    .iter()
                    .flatten()
                    .next()
                    .map(|e| nalgebra::center(&e.start_lps, &e.end_lps))
            })
            .flatten();
        let grid = plan_grid(&segments, tissue, margin_mm, spacing_mm, full, align)?;
        let classes = node_classes(&grid, tissue, params)?;
        let mut fine = Level::new(grid, classes, probes.len());
        if full {
            fine = fine.with_masks(&electrodes);
        }
        Ok(Self {
            pairs,
            electrodes,
            spacings_mm,
            fine,
        })
    }

    fn electrode(&self, i: usize) -> Result<&Electrode, IreError> {
        self.electrodes
            .get(i)
            .and_then(Option::as_ref)
            .ok_or_else(|| IreError::Invalid(format!("probe {i} is not part of a pair")))
    }

    /// Thresholds, zone and volume from the running maximum |E|.
    #[allow(clippy::too_many_arguments)]
    fn finish(
        self,
        params: &TissueParams,
        settings: &IreSettings,
        opts: &IreModelOptions,
        max_e: Vec<f32>,
        pairs: Vec<PairResult>,
        started: Instant,
        preview: bool,
        band_fields: Option<BandFields>,
        heater: Option<super::thermal::Heater>,
        description: String,
    ) -> Result<IreResult, IreError> {
        let Level { grid, classes, .. } = self.fine;
        let heating = heater.map(|h| h.finish(&grid));
        let mut pairs = pairs;
        if let Some(h) = &heating {
            // The generator checks the current of every pulse: the train's highest counts.
            for (p, hp) in pairs.iter_mut().zip(&h.pairs) {
                p.over_limit |= hp.max_current_a() > CURRENT_LIMIT_A;
            }
        }
        let threshold = zone::node_thresholds(&classes, params, &opts.zone, settings.pulses)?;
        let zone_flags = zone::zone_mask(&max_e, &threshold, &classes);
        let zone_volume_ml = zone::zone_volume_ml(&grid, &zone_flags);
        let band = band_fields.map(|b| {
            b.into_band(
                &grid,
                &classes,
                params,
                &opts.zone,
                &threshold,
                zone_flags.clone(),
            )
        });
        Ok(IreResult {
            band,
            zone_volume_ml,
            linear_iterations: pairs.iter().map(|p| p.linear_iterations).sum(),
            grid,
            max_e_v_per_cm: max_e,
            threshold_v_per_cm: threshold,
            zone: zone_flags,
            pairs,
            elapsed_s: started.elapsed().as_secs_f64(),
            preview,
            description,
            heating,
        })
    }
}

/// Coarsest 2h grid (mm) the nested iteration starts on. A 19G electrode (1.07 mm across) is
/// still represented on a 1 mm grid (zone volume within about 1 % of the plain fine iteration at
/// 0.5 and 0.35 mm); on a 1.5 mm grid it is not (a 35°-oblique pair's zone moved by 8 % at
/// 0.75 mm), so coarser plan grids iterate on the plan grid only (they are cheap anyway).
const NESTED_MAX_COARSE_SPACING_MM: f64 = 1.0;

/// Nonlinear tolerance (largest relative change of σ) of the band's solves at the ends of the
/// conductivity ranges. They only supply the relative change of the field (`super::band`): 1 %
/// in σ changes E by well under 1 %, which moves a zone edge 8 mm from an electrode (where E
/// falls like 1/r to 1/r²) by < 0.1 mm — far below the 2h grid the ends are solved on — and it
/// saves about half of their nonlinear iterations.
const BAND_NONLINEAR_TOL: f64 = 1e-2;

/// Relative residual of the intermediate linear solves of a nonlinear iteration: σ is about to
/// change anyway; the solve of the converged σ is then polished to `linear_rel_tol`. 1e-4 keeps
/// the error in E (≈ 1e-4 relative) an order below what moves σ by the default 1e-3 tolerance.
pub(super) const INTERMEDIATE_REL_TOL: f64 = 1e-4;

/// Outcome of the nonlinear iteration of one pair on one level.
struct LevelSolution {
    phi_v: Vec<f64>,
    e_v_per_cm: Vec<f32>,
    e_run: Vec<f32>,
    current_a: f64,
    linear_iterations: usize,
    nonlinear_iterations: usize,
    converged: bool,
    /// The multigrid hierarchy of the final σ (the electro-thermal model re-solves the pair with
    /// σ(E, T) preconditioned by it, see `super::thermal`).
    hierarchy: Option<Hierarchy>,
}

pub(super) fn map_solve_error(e: SolveError) -> IreError {
    match e {
        SolveError::Cancelled => IreError::Cancelled,
        SolveError::NoDirichlet => {
            IreError::Invalid("an electrode covers no grid node — use a finer grid".into())
        }
    }
}

/// One pair on one level: the nonlinear σ(E) iteration (or one linear solve), warm-started from
/// `phi_v` (free nodes) and continuing the running maximum `e_run`. `polish`: solve the final σ
/// to `opts.linear_rel_tol` (the intermediate solves stop at [`INTERMEDIATE_REL_TOL`]).
#[allow(clippy::too_many_arguments)]
fn solve_on_level(
    level: &Level,
    params: &TissueParams,
    opts: &IreModelOptions,
    pair: &ElectrodePair,
    mut phi_v: Vec<f64>,
    mut e_run: Vec<f32>,
    polish: bool,
    ctx: &JobCtx,
    on_iteration: &dyn Fn(usize),
) -> Result<LevelSolution, IreError> {
    let (anode, cathode) = (level.mask(pair.a)?, level.mask(pair.b)?);
    if anode.metal.is_empty() || cathode.metal.is_empty() {
        return Err(IreError::Invalid(
            "an electrode covers no grid node — use a finer grid".into(),
        ));
    }
    for &m in &anode.metal {
        phi_v[m] = pair.voltage_v;
    }
    for &m in &cathode.metal {
        phi_v[m] = 0.0;
    }
    let cancel = || ctx.cancel.is_cancelled();
    let final_opts = SolveOptions {
        rel_tol: opts.linear_rel_tol,
        ..SolveOptions::default()
    };
    let loose_opts = SolveOptions {
        rel_tol: opts.linear_rel_tol.max(INTERMEDIATE_REL_TOL),
        ..SolveOptions::default()
    };
    let table = SigmaTable::new(params);
    let mut sigma = level.sigma(params, opts.nonlinear.then_some(e_run.as_slice()));
    let mut linear_iterations = 0;
    let mut it = 0;
    // The multigrid hierarchy, kept across the σ updates while it stays fast.
    let mut kept: Option<Hierarchy> = None;
    let mut slow = false;
    loop {
        it += 1;
        if cancel() {
            return Err(IreError::Cancelled);
        }
        on_iteration(it);
        let mut op = pair_operator(&level.grid, &sigma, &[anode, cathode]);
        if let Some(inside) = &level.inside {
            // Nodes beyond a phantom face have σ = 0, i.e. no links: held fixed (at their initial
            // value) they are simply not unknowns, instead of empty rows the solver would have
            // to tolerate.
            op.fixed
                .par_iter_mut()
                .zip(inside.par_iter())
                .for_each(|(f, &i)| *f |= !i);
        }
        let hier = hierarchy_for(&mut kept, op, &sigma, slow);
        let first_opts = if opts.nonlinear { &loose_opts } else { &final_opts };
        let report = solve(hier, &mut phi_v, first_opts, &cancel).map_err(map_solve_error)?;
        linear_iterations += report.iterations;
        slow = report.iterations > REBUILD_AFTER_ITERATIONS;
        let mut e = field_magnitude_v_per_cm(&level.grid, &phi_v, level.inside.as_deref());
        let mut converged = report.converged;
        let stop = if opts.nonlinear {
            // σ from the running maximum of |E| (σ never decreases).
            let (new_sigma, change) = level.update_sigma(&table, &mut e_run, &e, &sigma);
            let done = change < opts.nonlinear_tol;
            converged &= done;
            if !done && it < opts.max_nonlinear_iterations {
                sigma = new_sigma;
                false
            } else {
                true
            }
        } else {
            true
        };
        if stop {
            if polish && opts.nonlinear && loose_opts.rel_tol > final_opts.rel_tol {
                let r = solve(hier, &mut phi_v, &final_opts, &cancel).map_err(map_solve_error)?;
                linear_iterations += r.iterations;
                converged &= r.converged;
                e = field_magnitude_v_per_cm(&level.grid, &phi_v, level.inside.as_deref());
            }
            let current_a = electrode_current_a(&level.grid, hier.fine(), &phi_v, anode);
            return Ok(LevelSolution {
                current_a,
                hierarchy: kept.take(),
                phi_v,
                e_v_per_cm: e,
                e_run,
                linear_iterations,
                nonlinear_iterations: it,
                converged,
            });
        }
    }
}

/// A kept hierarchy is rebuilt once a solve preconditioned by it needed more CG iterations than
/// this (a fresh one needs 1–7 on the plan grids; see [`hierarchy_for`]).
pub(super) const REBUILD_AFTER_ITERATIONS: usize = 8;

/// The hierarchy for `op`: the kept one with its outer operator swapped (see
/// [`Hierarchy::set_outer`]), else a new one; `slow`: the last solve with the kept one needed more
/// than [`REBUILD_AFTER_ITERATIONS`]. Reuse never changes what is solved — CG applies the exact
/// new operator to the same tolerance with an SPD preconditioner — only how fast: the cycle of
/// the previous σ (σ only grows, most of it in the first step, near the electrodes) costs about
/// as many iterations as a fresh one and saves re-coarsening (≈ 50 ms per iteration at 1 M
/// nodes).
pub(super) fn hierarchy_for<'h>(
    kept: &'h mut Option<Hierarchy>,
    op: Operator,
    sigma: &[f64],
    slow: bool,
) -> &'h mut Hierarchy {
    let op = match kept.take() {
        Some(mut h) if !slow => match h.set_outer(op) {
            Ok(()) => return kept.insert(h),
            Err(op) => op,
        },
        _ => op,
    };
    kept.insert(Hierarchy::new(op, sigma))
}

/// Full model (background job: polls `ctx.cancel`, reports `ctx.progress`). Deterministic.
///
/// Nested iteration: with nonlinear σ, each pair first iterates on the 2h grid (every other node,
/// an eighth of the work) from σ0; its potential and running maximum |E| are interpolated onto the
/// plan grid, where the iteration continues to `nonlinear_tol` — the same running-maximum
/// iteration, whose early steps ran on the coarse grid. `PairResult::nonlinear_iterations` counts
/// the fine-grid iterations.
pub fn compute_ire(
    probes: &[Probe],
    settings: &IreSettings,
    tissue: TissueSource<'_>,
    params: &TissueParams,
    opts: &IreModelOptions,
    ctx: &JobCtx,
) -> Result<IreResult, IreError> {
    let started = Instant::now();
    let setup = Setup::for_full_model(probes, settings, &tissue, params, opts)?;
    let fits_coarse = 2.0 * opts.spacing_mm <= NESTED_MAX_COARSE_SPACING_MM + 1e-9;
    // The 2h grid: the nested start of the nonlinear iteration, and where the band's conductivity
    // ends are solved (see `super::band`).
    let coarse = if (opts.nonlinear || opts.band) && fits_coarse {
        setup.fine.coarsen(&setup.electrodes)
    } else {
        None
    };
    let fine = &setup.fine;
    let n = fine.grid.len();
    let present = band::classes_present(&fine.classes, params.classes.len());
    let groups = if opts.band {
        band::conductivity_groups(params, &present, opts.nonlinear)
    } else {
        Vec::new()
    };
    let mut band_acc = opts.band.then(|| band::Accumulator::new(&groups, n));
    let band_opts = IreModelOptions {
        nonlinear_tol: opts.nonlinear_tol.max(BAND_NONLINEAR_TOL),
        ..opts.clone()
    };
    let n_pairs = setup.pairs.len();
    let per_pair_its = if opts.nonlinear {
        opts.max_nonlinear_iterations
    } else {
        1
    };
    let mut max_e = vec![0.0f32; n];
    let mut results = Vec::with_capacity(n_pairs);
    let mut heater = if opts.heating.enabled {
        let phantom = matches!(
            tissue,
            TissueSource::Phantom { .. } | TissueSource::PhantomRegions { .. }
        );
        let vessels = !matches!(tissue, TissueSource::Phantom { .. });
        Some(super::thermal::Heater::new(
            fine,
            &setup.electrodes,
            params,
            settings,
            opts,
            phantom,
            vessels,
        )?)
    } else {
        None
    };
    for (p_i, pair) in setup.pairs.iter().enumerate() {
        let on_coarse = coarse.as_ref().filter(|c| c.covers(pair));
        let nested = opts.nonlinear && on_coarse.is_some();
        // Fraction within the pair: the coarse start takes the first half when there is one.
        let report = |stage: &str, it: usize| {
            let within = (it - 1).min(per_pair_its) as f32 / per_pair_its as f32;
            let within = match (nested, stage.is_empty()) {
                (false, _) => within,
                (true, false) => 0.5 * within,
                (true, true) => 0.5 + 0.5 * within,
            };
            let f = (p_i as f32 + within) / n_pairs as f32;
            ctx.progress.set(f);
            ctx.progress.set_message(if opts.nonlinear {
                format!("pair {}/{n_pairs}, {stage}iteration {it}", p_i + 1)
            } else {
                format!("pair {}/{n_pairs}", p_i + 1)
            });
        };
        // Start: U/2 everywhere (the far-field potential of a symmetric pair), or the coarse
        // solution.
        // The nominal solution on the 2h grid: the nested start, and the reference of the band's
        // relative changes.
        let coarse_nominal = match on_coarse {
            Some(c) if nested || !groups.is_empty() => Some(solve_on_level(
                c,
                params,
                opts,
                pair,
                vec![0.5 * pair.voltage_v; c.grid.len()],
                vec![0.0; c.grid.len()],
                false,
                ctx,
                &|it| report("coarse ", it),
            )?),
            _ => None,
        };
        let (phi0, e_run0) = match (on_coarse, coarse_nominal.as_ref().filter(|_| nested)) {
            (Some(c), Some(cs)) => {
                let e_run: Vec<f64> = cs.e_run.iter().map(|&v| f64::from(v)).collect();
                (
                    prolong(&fine.grid, &c.grid, &cs.phi_v),
                    prolong(&fine.grid, &c.grid, &e_run)
                        .into_iter()
                        .map(|v| v as f32)
                        .collect(),
                )
            }
            _ => (vec![0.5 * pair.voltage_v; n], vec![0.0f32; n]),
        };
        let sol = solve_on_level(fine, params, opts, pair, phi0, e_run0, true, ctx, &|it| {
            report("", it)
        })?;
        let mut sol = sol;
        if let Some(h) = heater.as_mut() {
            let hierarchy = sol.hierarchy.take();
            h.pulse_pair(
                fine,
                params,
                opts,
                pair,
                &sol.phi_v,
                &sol.e_run,
                hierarchy,
                ctx,
                &|c, m| {
                    ctx.progress
                        .set_message(format!("pair {}/{n_pairs}, heating {c}/{m}", p_i + 1))
                },
            )?;
        }
        if let Some(acc) = band_acc.as_mut() {
            // Each end of each conductivity range: on the 2h grid when there is one (relative
            // change prolonged), else on the plan grid.
            let (level, nominal) = match (on_coarse, coarse_nominal.as_ref()) {
                (Some(c), Some(cs)) => (c, cs),
                _ => (fine, &sol),
            };
            for (g_i, group) in groups.iter().enumerate() {
                for (e_i, end) in group.ends.iter().enumerate() {
                    ctx.progress.set_message(format!(
                        "pair {}/{n_pairs}, band: {}",
                        p_i + 1,
                        group.parameter.name
                    ));
                    let alt = solve_on_level(
                        level,
                        end,
                        &band_opts,
                        pair,
                        nominal.phi_v.clone(),
                        vec![0.0; level.grid.len()],
                        false,
                        ctx,
                        &|_| {},
                    )?;
                    let change = band::relative_change(&alt.e_v_per_cm, &nominal.e_v_per_cm);
                    let change = if std::ptr::eq(level, fine) {
                        change
                    } else {
                        prolong(&fine.grid, &level.grid, &change)
                    };
                    acc.add(g_i, e_i, &sol.e_v_per_cm, &change);
                }
            }
        }
        max_e
            .par_iter_mut()
            .zip(sol.e_v_per_cm.par_iter())
            .for_each(|(m, &e)| *m = m.max(e));
        results.push(PairResult {
            a: pair.a,
            b: pair.b,
            voltage_v: pair.voltage_v,
            spacing_mm: setup.spacings_mm[p_i],
            current_a: sol.current_a,
            over_limit: sol.current_a > CURRENT_LIMIT_A,
            linear_iterations: sol.linear_iterations,
            nonlinear_iterations: sol.nonlinear_iterations,
            converged: sol.converged,
        });
    }
    if let Some(h) = heater.as_mut() {
        ctx.progress.set_message(format!(
            "pair {n_pairs}/{n_pairs}, cooling down after the last train"
        ));
        h.cool_down(ctx)?;
    }
    ctx.progress.set(1.0);
    let description = opts.description();
    let band_fields = band_acc.map(|acc| {
        let (inner, outer) = acc.fields(&max_e);
        let parameters = groups.into_iter().map(|g| g.parameter).collect();
        BandFields {
            inner,
            outer,
            parameters,
        }
    });
    setup.finish(
        params,
        settings,
        opts,
        max_e,
        results,
        started,
        false,
        band_fields,
        heater,
        description,
    )
}

/// The band's inner and outer fields before thresholding.
struct BandFields {
    inner: Vec<f32>,
    outer: Vec<f32>,
    parameters: Vec<crate::physics::band::BandParameter>,
}

impl BandFields {
    /// Thresholds the inner field at each class's upper threshold and the outer at its lower.
    fn into_band(
        self,
        grid: &ComputeGrid,
        classes: &[u8],
        params: &TissueParams,
        criterion: &ZoneCriterion,
        nominal_threshold: &[f32],
        nominal_zone: Vec<bool>,
    ) -> crate::physics::band::ZoneBand {
        let present = band::classes_present(classes, params.classes.len());
        let (t_lo, t_hi, mut parameters) =
            band::threshold_bounds(params, classes, &present, criterion, nominal_threshold);
        parameters.extend(self.parameters);
        let inner = zone::zone_mask(&self.inner, &t_hi, classes);
        let outer = zone::zone_mask(&self.outer, &t_lo, classes);
        crate::physics::band::ZoneBand::nested(grid.clone(), inner, nominal_zone, outer, parameters)
    }
}

/// One pulse of one pair, solved on the plan grid (nonlinear σ(E) to convergence), with its
/// Joule source (`super::heating`): the electrical input of the electro-thermal model.
#[derive(Clone, Debug)]
pub struct PulseJoule {
    pub grid: ComputeGrid,
    pub pair: PairResult,
    pub power: super::heating::JoulePower,
    /// σ per node at the end of the pulse (S/m) and the metal nodes of the anode.
    pub sigma_s_per_m: Vec<f64>,
    pub anode_metal: Vec<usize>,
    pub cathode_metal: Vec<usize>,
}

/// Solves pair `pair_index` of the plan alone and returns its Joule source.
pub fn pulse_joule(
    probes: &[Probe],
    settings: &IreSettings,
    tissue: TissueSource<'_>,
    params: &TissueParams,
    opts: &IreModelOptions,
    pair_index: usize,
    ctx: &JobCtx,
) -> Result<PulseJoule, IreError> {
    let setup = Setup::for_full_model(probes, settings, &tissue, params, opts)?;
    let pair = setup
        .pairs
        .get(pair_index)
        .ok_or_else(|| IreError::Invalid(format!("no pair {pair_index}")))?;
    let fine = &setup.fine;
    let n = fine.grid.len();
    let sol = solve_on_level(
        fine,
        params,
        opts,
        pair,
        vec![0.5 * pair.voltage_v; n],
        vec![0.0; n],
        true,
        ctx,
        &|_| {},
    )?;
    let sigma = if opts.nonlinear {
        fine.sigma(params, Some(&sol.e_run))
    } else {
        fine.sigma(params, None)
    };
    let (anode, cathode) = (fine.mask(pair.a)?, fine.mask(pair.b)?);
    let mut op = pair_operator(&fine.grid, &sigma, &[anode, cathode]);
    if let Some(inside) = &fine.inside {
        op.fixed.iter_mut().zip(inside).for_each(|(f, &i)| *f |= !i);
    }
    let power = super::heating::joule_power(&fine.grid, &op, &sol.phi_v);
    let current_a = electrode_current_a(&fine.grid, &op, &sol.phi_v, anode);
    Ok(PulseJoule {
        grid: fine.grid.clone(),
        pair: PairResult {
            a: pair.a,
            b: pair.b,
            voltage_v: pair.voltage_v,
            spacing_mm: setup.spacings_mm.get(pair_index).copied().unwrap_or(0.0),
            current_a,
            over_limit: current_a > CURRENT_LIMIT_A,
            linear_iterations: sol.linear_iterations,
            nonlinear_iterations: sol.nonlinear_iterations,
            converged: sol.converged,
        },
        power,
        sigma_s_per_m: sigma,
        anode_metal: anode.metal.clone(),
        cathode_metal: cathode.metal.clone(),
    })
}

/// Instant preview while dragging (< 16 ms): the analytic line-source field of every pair (linear,
/// homogeneous σ, no outer boundary; see [`super::preview`]) on a 1.5 mm grid, zone per
/// `opts.zone`; `preview = true`. The current per pair uses σ0 of the tissue at the anode's
/// mid-point (the linear model's current, below the nonlinear one).
pub fn preview_ire(
    probes: &[Probe],
    settings: &IreSettings,
    tissue: TissueSource<'_>,
    params: &TissueParams,
    opts: &IreModelOptions,
) -> Result<IreResult, IreError> {
    let started = Instant::now();
    opts.validate()?;
    let spacing = PREVIEW_SPACING_MM.max(opts.spacing_mm);
    let setup = Setup::new(
        probes,
        settings,
        &tissue,
        params,
        spacing,
        opts.margin_mm.min(PREVIEW_MARGIN_MM),
        false,
    )?;
    let mut analytic = Vec::with_capacity(setup.pairs.len());
    let mut results = Vec::with_capacity(setup.pairs.len());
    for (p_i, pair) in setup.pairs.iter().enumerate() {
        let (a, b) = (setup.electrode(pair.a)?, setup.electrode(pair.b)?);
        let ap = AnalyticPair::new(a, b, pair.voltage_v);
        let mid = nalgebra::center(&a.start_lps, &a.end_lps);
        let sigma0 = setup
            .fine
            .grid
            .nearest(&mid)
            .and_then(|[i, j, k]| {
                params
                    .classes
                    .get(usize::from(setup.fine.classes[setup.fine.grid.index(i, j, k)]))
            })
            .map_or(0.0, |c| c.sigma(0.0));
        let current_a = ap.current_a(sigma0);
        results.push(PairResult {
            a: pair.a,
            b: pair.b,
            voltage_v: pair.voltage_v,
            spacing_mm: setup.spacings_mm[p_i],
            current_a,
            over_limit: current_a > CURRENT_LIMIT_A,
            linear_iterations: 0,
            nonlinear_iterations: 0,
            converged: true,
        });
        analytic.push(ap);
    }
    let mut max_e = max_field(&setup.fine.grid, &analytic);
    if let Some(inside) = &setup.fine.inside {
        max_e.par_iter_mut().zip(inside.par_iter()).for_each(|(e, &i)| {
            if !i {
                *e = 0.0
            }
        });
    }
    let description = format!(
        "IRE preview: analytic line sources, linear homogeneous σ, {spacing} mm, {} — not the full model",
        opts.zone.label()
    );
    setup.finish(
        params,
        settings,
        opts,
        max_e,
        results,
        started,
        true,
        None,
        None,
        description,
    )
}

impl IreResult {
    /// Trilinear |E| (V/cm) at an LPS point; `None` outside the grid.
    pub fn max_e_at(&self, p: &PatientPos) -> Option<f32> {
        zone::trilinear(&self.grid, &self.max_e_v_per_cm, p)
    }

    /// Whether an LPS point lies in the zone (nearest node); `false` outside the grid.
    pub fn in_zone(&self, p: &PatientPos) -> bool {
        self.grid
            .nearest(p)
            .is_some_and(|[i, j, k]| self.zone[self.grid.index(i, j, k)])
    }

    /// Whether `p` lies in the thermal damage zone (nearest node; `false` without heating).
    pub fn in_thermal_damage(&self, p: &PatientPos) -> bool {
        let Some(damage) = self.thermal_damage_zone() else {
            return false;
        };
        self.grid
            .nearest(p)
            .and_then(|[i, j, k]| damage.get(self.grid.index(i, j, k)).copied())
            .unwrap_or(false)
    }

    /// Extents of the zone (mm) along three unit directions (max − min of the projections of the
    /// zone's node centres, plus one spacing).
    pub fn zone_extents_mm(&self, axes: [Vector3<f64>; 3]) -> [f64; 3] {
        zone::extents_mm(&self.grid, &self.zone, axes)
    }

    /// |E| sampled at `n` points from `a` to `b`: (distance from `a` in mm, V/cm).
    pub fn profile(&self, a: &PatientPos, b: &PatientPos, n: usize) -> Vec<(f64, f32)> {
        let len = (b - a).norm();
        (0..n)
            .map(|i| {
                let t = if n > 1 { i as f64 / (n - 1) as f64 } else { 0.0 };
                let p = a + (b - a) * t;
                (t * len, self.max_e_at(&p).unwrap_or(0.0))
            })
            .collect()
    }

    /// Whether an LPS point lies inside the compute grid.
    pub fn contains(&self, p: &PatientPos) -> bool {
        self.grid.nearest(p).is_some()
    }

    /// One surface of the zone: the band's when there is one, else the nominal zone for every
    /// surface (a preview, or a model run without the band). Safety measures distances to
    /// critical structures from `Surface::Outer` and coverage / margins from `Surface::Inner`.
    pub fn zone_surface(&self, s: crate::physics::band::Surface) -> &[bool] {
        match &self.band {
            Some(b) => b.surface(s),
            None => &self.zone,
        }
    }

    /// Largest predicted current over the pairs (A): with heating, the highest of any pulse of
    /// the train (the one the generator's limit stops).
    pub fn max_current_a(&self) -> f64 {
        let isothermal = self.pairs.iter().map(|p| p.current_a).fold(0.0, f64::max);
        self.heating
            .as_ref()
            .map_or(isothermal, |h| isothermal.max(h.max_current_a()))
    }

    /// The highest current of pair `i` (A): over the train with heating, else the model's.
    pub fn pair_max_current_a(&self, i: usize) -> Option<f64> {
        let p = self.pairs.get(i)?;
        let heated = self
            .heating
            .as_ref()
            .and_then(|h| h.pairs.get(i))
            .map_or(0.0, |h| h.max_current_a());
        Some(p.current_a.max(heated))
    }

    /// The thermal damage zone (on `grid`, like `zone`), when heating was computed.
    pub fn thermal_damage_zone(&self) -> Option<&[bool]> {
        self.heating.as_ref().map(|h| h.damage_zone.as_slice())
    }

    /// Whether any pair exceeds the generator's current limit.
    pub fn any_over_limit(&self) -> bool {
        self.pairs.iter().any(|p| p.over_limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::tissue_params::builtin_tissue_params;

    #[test]
    fn sigma_table_matches_the_tissue_law() {
        let params = builtin_tissue_params().unwrap();
        let table = SigmaTable::new(&params);
        for (i, class) in params.classes.iter().enumerate() {
            for e in [0.0, 99.0, 100.0, 350.0, 420.0, 525.0, 699.0, 700.0, 900.0, 5000.0] {
                assert_eq!(table.sigma(i as u8, e), class.sigma(e), "{} at {e}", class.id);
            }
        }
        assert_eq!(table.sigma(OUTSIDE, 1000.0), 0.0);
    }

    #[test]
    fn prolongation_is_exact_for_linear_fields() {
        let coarse = ComputeGrid {
            origin_lps: PatientPos::new(-1.0, 2.0, 0.5),
            spacing_mm: 1.0,
            dims: [5, 4, 3],
        };
        let fine = ComputeGrid {
            spacing_mm: 0.5,
            dims: [9, 7, 5],
            ..coarse.clone()
        };
        let f = |p: PatientPos| 3.0 * p.x - 2.0 * p.y + 0.5 * p.z + 1.0;
        let values: Vec<f64> = (0..coarse.len())
            .map(|i| {
                let [a, b, c] = coarse.ijk(i);
                f(coarse.lps(a, b, c))
            })
            .collect();
        let out = prolong(&fine, &coarse, &values);
        for (i, v) in out.iter().enumerate() {
            let [a, b, c] = fine.ijk(i);
            assert!((v - f(fine.lps(a, b, c))).abs() < 1e-12);
        }
    }

    #[test]
    fn prolongation_copies_the_last_layer_of_an_even_dimension() {
        let coarse = ComputeGrid {
            origin_lps: PatientPos::origin(),
            spacing_mm: 1.0,
            dims: [5, 4, 3],
        };
        let fine = ComputeGrid {
            spacing_mm: 0.5,
            dims: [10, 7, 6],
            ..coarse.clone()
        };
        let values: Vec<f64> = (0..coarse.len()).map(|i| coarse.ijk(i)[0] as f64).collect();
        let out = prolong(&fine, &coarse, &values);
        for j in 0..7 {
            for k in 0..6 {
                assert_eq!(out[fine.index(8, j, k)], 4.0);
                assert_eq!(out[fine.index(9, j, k)], 4.0);
                assert_eq!(out[fine.index(7, j, k)], 3.5);
            }
        }
    }

    #[test]
    fn options_are_validated() {
        assert!(IreModelOptions::default().validate().is_ok());
        for bad in [
            IreModelOptions {
                spacing_mm: f64::NAN,
                ..IreModelOptions::default()
            },
            IreModelOptions {
                margin_mm: -1.0,
                ..IreModelOptions::default()
            },
            IreModelOptions {
                linear_rel_tol: 0.0,
                ..IreModelOptions::default()
            },
            IreModelOptions {
                max_nonlinear_iterations: 0,
                ..IreModelOptions::default()
            },
        ] {
            assert!(matches!(bad.validate(), Err(IreError::Invalid(_))), "{bad:?}");
        }
    }
}
