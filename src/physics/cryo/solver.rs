//! The bioheat solver: Pennes' equation with phase change in enthalpy form on a `ComputeGrid`,
//! explicit Runge–Kutta–Legendre super-time-stepping (RKL2) or plain forward Euler.
//!
//! Equation (REFERENCE.md §3), per node, finite volumes of h³:
//!
//! `dH/dt = Σ_links g (T_j − T_i) / h² + f_l·(ω ρ_b c_b (T_a − T) + q_met) + probe terms`
//!
//! with `H` the volumetric enthalpy ([`Material`]: latent heat released linearly over the
//! phase-change band, frozen/unfrozen k and ρc), `f_l` the liquid fraction (perfusion and
//! metabolism stop in frozen tissue), `g = √(k_i k_j)` the link conductance (the geometric mean:
//! no division in the inner loop, zero next to a non-conducting node, equal to k inside one
//! material; at a frozen/unfrozen or tissue interface it lies between the harmonic and the
//! arithmetic mean — C1 checks the front it gives).
//!
//! Time: the implicit schemes need a linear solve per ~1 s step (the multigrid CG of `linalg`
//! takes ~15 ms on the 6 cm cube: 27 s for 30 min). The explicit update is a streaming pass over
//! f32 temperatures and √k, but forward Euler must step below `h² ρc_min / (6 k_max)` (0.15 s at
//! 1 mm in frozen tissue: 12 000 steps for 30 min). RKL2 (Meyer, Balsara & Aslam, J. Comput. Phys.
//! 2014) takes super-steps τ of `s` explicit stages, stable for τ ≤ Δt_FE·(s² + s − 2)/4, second
//! order in time: a 10 s super-step costs about 21 stages instead of 110 Euler steps. Every stage is the
//! same conservative flux evaluation, so energy is conserved to rounding (the probes' heat is
//! carried through the same recursion, see `probe_heat_j`). Super-steps are clipped so that phase
//! changes, duty-cycle switches and snapshots fall on their boundaries.
//!
//! Probes: the metal nodes carry no conduction (k = 0); each tissue node next to the metal gets
//! the probe's cut links (`physics::ire::field::electrode_mask`: the true surface crossing θ along
//! each link, Shortley–Weller, so that the effective radius is the true one and the solution
//! converges with refinement). A link to a surface at `T_p` conducts `k_i / (θ h)`; θ is clamped
//! at [`THETA_MIN`] (a node closer than 0.2 h to the surface sees it at 0.2 h, an O(h) shift that
//! vanishes with refinement) so that the stiffest link is 5× a normal one, which the stability
//! bound includes. A probe that is off (passive thaw, duty-cycle off time) has no cut links: its
//! surface is adiabatic. The shaft is not modelled (insulated: tissue).
//!
//! Faces of the grid: adiabatic (phantom block faces) or held at a temperature (a crop inside a
//! larger body or phantom: the far field), through a ghost layer.
//!
//! Deterministic: every stage reads only the previous stage's buffers; planes are updated in
//! parallel into separate buffers; sums run in a fixed order.

use super::tissue::{Material, NO_TISSUE};
use crate::physics::grid::ComputeGrid;
use rayon::prelude::*;

/// A node that evolves.
const FREE: u8 = 0;
/// A node held at its temperature (vessel heat sources, far-field ghost layer).
const HELD: u8 = 1;
/// A node with no heat flow (probe metal, insulators, no tissue).
const INERT: u8 = 2;

/// Volumetric enthalpy as stored (J/m³). f32: its rounding (≈ 30 J/m³ at the largest H, 1e-5 K)
/// is far below every other error, and the stage passes stream half the bytes of f64. Sums
/// (energy) run in f64.
type Enth = f32;

/// Snapshot value of a node with no modelled tissue (no tissue, or an insulator such as gas).
pub const NOT_MODELLED: i16 = i16::MIN;

/// Smallest cut-link fraction: links to a probe conduct at most 1/θ_min = 5× a normal link.
pub const THETA_MIN: f64 = 0.2;

/// Margin on the forward-Euler stability limit (monotone: `dt·Σg/(h²C) ≤ 0.9`).
const SAFETY: f64 = 0.9;

/// Default RKL2 super-step (s): 3 per 30-s snapshot; C1 and the single-probe isotherms stay within
/// 0.3 % of forward Euler (see the tests).
pub const DEFAULT_SUPER_STEP_S: f64 = 10.0;

/// One probe on the grid.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProbeCoupling {
    /// Metal node indices (grid, unpadded), ascending.
    pub metal: Vec<usize>,
    /// Tissue nodes next to the metal: (grid index, Σ 1/θ over the node's links into the metal,
    /// each θ at least [`THETA_MIN`]).
    pub cuts: Vec<(usize, f64)>,
}

/// What a probe's surface does during a piece of the timeline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ProbeBoundary {
    /// Adiabatic (gas off).
    Off,
    /// Held at this temperature (°C) on the active length.
    Temperature(f64),
}

/// A span of time with constant probe boundaries.
#[derive(Clone, Debug, PartialEq)]
pub struct TimelinePiece {
    pub start_s: f64,
    pub end_s: f64,
    /// One per probe.
    pub boundary: Vec<ProbeBoundary>,
}

/// A grid face: in the order −x, +x, −y, +y, −z, +z.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Face {
    Adiabatic,
    Temperature(f64),
}

/// How time is integrated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TimeScheme {
    /// Forward Euler at `dt_s` (`None` = the stable step; a larger one is refused).
    Euler { dt_s: Option<f64> },
    /// RKL2 super-steps of at most `super_step_s`.
    Rkl2 { super_step_s: f64 },
}

/// Everything the solver needs.
#[derive(Clone, Debug)]
pub struct ThermalProblem {
    pub grid: ComputeGrid,
    pub materials: Vec<Material>,
    /// Class per node ([`NO_TISSUE`] = no tissue).
    pub classes: Vec<u8>,
    pub initial_temperature_c: f64,
    /// Nodes held at `held_temperature_c` (vessel heat sources); may be empty.
    pub held: Vec<bool>,
    pub held_temperature_c: f64,
    pub arterial_temperature_c: f64,
    pub faces: [Face; 6],
    pub probes: Vec<ProbeCoupling>,
    pub timeline: Vec<TimelinePiece>,
    /// Times (s) at which to keep a snapshot, ascending; 0 and the end are always kept.
    pub snapshot_times_s: Vec<f64>,
    pub scheme: TimeScheme,
    /// Notes for the user about how the problem was built (e.g. a probe widened to the grid).
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolverError {
    #[error("cancelled")]
    Cancelled,
    #[error("{0}")]
    Invalid(String),
}

/// The solver's output.
#[derive(Clone, Debug)]
pub struct SolverOutput {
    pub snapshot_times_s: Vec<f64>,
    /// Per snapshot, per grid node: centi-degrees Celsius ([`NOT_MODELLED`] where no tissue is
    /// modelled). Probe metal shows the surface temperature (or, when off, the mean of the
    /// tissue next to it).
    pub snapshots: Vec<Vec<i16>>,
    /// Heat delivered into the tissue by each probe (J; negative = extracted).
    pub probe_heat_j: Vec<f64>,
    /// Σ H·V over the evolving nodes at the start and the end (J, enthalpy 0 at each class's
    /// solidus).
    pub initial_enthalpy_j: f64,
    pub final_enthalpy_j: f64,
    /// Temperature at the end (°C) per node (NaN where not modelled).
    pub final_temperature_c: Vec<f32>,
    /// Flux evaluations (Euler steps or RKL2 stages).
    pub stages: usize,
    /// Forward-Euler stable step (s).
    pub dt_euler_s: f64,
}

/// Padded layout: one ghost layer on every side.
#[derive(Clone, Copy)]
struct Pad {
    px: usize,
    py: usize,
    pz: usize,
    nx: usize,
    ny: usize,
}

impl Pad {
    fn new(d: [usize; 3]) -> Self {
        Self {
            px: d[0] + 2,
            py: d[1] + 2,
            pz: d[2] + 2,
            nx: d[0],
            ny: d[1],
        }
    }
    fn len(&self) -> usize {
        self.px * self.py * self.pz
    }
    fn plane(&self) -> usize {
        self.px * self.py
    }
    /// Padded index of grid node (i, j, k).
    fn of(&self, i: usize, j: usize, k: usize) -> usize {
        (i + 1) + self.px * ((j + 1) + self.py * (k + 1))
    }
    fn of_grid(&self, idx: usize) -> usize {
        let i = idx % self.nx;
        let j = (idx / self.nx) % self.ny;
        let k = idx / (self.nx * self.ny);
        self.of(i, j, k)
    }
}

/// Per-class numbers of the inner loops (f32: temperatures are f32; H stays f64).
#[derive(Clone, Copy, Debug)]
struct Coef {
    ts: f32,
    hl: f32,
    inv_cs: f32,
    inv_cm: f32,
    inv_cl: f32,
    inv_band: f32,
    inv_hl: f32,
    ks: f32,
    dk: f32,
    perf: f32,
    q: f32,
}

impl Coef {
    fn new(m: &Material) -> Self {
        Self {
            ts: m.ts_c as f32,
            hl: m.hl() as f32,
            inv_cs: (1.0 / m.cs) as f32,
            inv_cm: (1.0 / m.cm()) as f32,
            inv_cl: (1.0 / m.cl) as f32,
            inv_band: (1.0 / (m.tl_c - m.ts_c)) as f32,
            inv_hl: (1.0 / m.hl()) as f32,
            ks: m.ks as f32,
            dk: (m.kl - m.ks) as f32,
            perf: m.perfusion_w_per_m3_k as f32,
            q: m.metabolism_w_per_m3 as f32,
        }
    }

    /// (T, √k) from H; branch-free so that uniform rows vectorise.
    #[inline(always)]
    fn state(&self, h: Enth) -> (f32, f32) {
        let band = h.clamp(0.0, self.hl);
        let t =
            self.ts + h.min(0.0) * self.inv_cs + band * self.inv_cm + (h - self.hl).max(0.0) * self.inv_cl;
        let k = self.ks + self.dk * (band * self.inv_hl);
        (t, k.sqrt())
    }

    /// Perfusion and metabolism (W/m³) at temperature `t` (liquid fraction from T).
    #[inline(always)]
    fn source(&self, t: f32, ta: f32) -> f32 {
        let fl = ((t - self.ts) * self.inv_band).clamp(0.0, 1.0);
        fl * (self.perf * (ta - t) + self.q)
    }
}

/// A tissue node next to one or more probes.
#[derive(Clone, Debug)]
struct CutNode {
    pidx: usize,
    /// (probe, Σ 1/θ).
    links: Vec<(usize, f32)>,
}

/// Stage coefficients of one super-step: Y_j = μ Y_{j−1} + ν Y_{j−2} + (1 − μ − ν) Y_0
/// + μ̃ τ L(Y_{j−1}) + γ̃ τ L(Y_0).
#[derive(Clone, Copy, Debug, PartialEq)]
struct Stage {
    mu: f64,
    nu: f64,
    mu_t: f64,
    gamma_t: f64,
}

/// RKL2 stages for `s ≥ 2` (Meyer, Balsara & Aslam 2014, eqs. 16–18); `s = 1` is forward Euler.
fn rkl2_stages(s: usize) -> Vec<Stage> {
    if s <= 1 {
        return vec![Stage {
            mu: 1.0,
            nu: 0.0,
            mu_t: 1.0,
            gamma_t: 0.0,
        }];
    }
    let sf = s as f64;
    let w1 = 4.0 / (sf * sf + sf - 2.0);
    let b = |j: usize| -> f64 {
        if j < 2 {
            1.0 / 3.0
        } else {
            let j = j as f64;
            (j * j + j - 2.0) / (2.0 * j * (j + 1.0))
        }
    };
    let a = |j: usize| 1.0 - b(j);
    let mut out = vec![Stage {
        mu: 1.0,
        nu: 0.0,
        mu_t: b(1) * w1,
        gamma_t: 0.0,
    }];
    for j in 2..=s {
        let jf = j as f64;
        let mu = (2.0 * jf - 1.0) / jf * b(j) / b(j - 1);
        let nu = -(jf - 1.0) / jf * b(j) / b(j - 2);
        let mu_t = mu * w1;
        out.push(Stage {
            mu,
            nu,
            mu_t,
            gamma_t: -a(j - 1) * mu_t,
        });
    }
    out
}

/// RKL2 stages needed for a super-step `tau` with forward-Euler limit `dt_fe`: the smallest `s`
/// with `dt_fe (s² + s − 2)/4 ≥ tau` (1 = a plain Euler step when `tau ≤ dt_fe`).
fn stages_for(tau: f64, dt_fe: f64) -> usize {
    if tau <= dt_fe * (1.0 + 1e-12) {
        return 1;
    }
    let mut s = 2usize;
    while dt_fe * ((s * s + s - 2) as f64) / 4.0 < tau {
        s += 1;
    }
    s
}

/// The stable forward-Euler step (s) for the materials present and the probes' cut links.
pub fn stable_time_step_s(problem: &ThermalProblem) -> f64 {
    let h_m = problem.grid.spacing_mm * 1e-3;
    let axes = problem.grid.dims.iter().filter(|&&n| n > 1).count().max(1) as f64;
    let mut present = vec![false; problem.materials.len()];
    for &c in &problem.classes {
        if let Some(p) = present.get_mut(usize::from(c)) {
            *p = true;
        }
    }
    let (mut c_min, mut k_max, mut perf_max) = (f64::INFINITY, 0.0f64, 0.0f64);
    for (m, _) in problem
        .materials
        .iter()
        .zip(&present)
        .filter(|(m, p)| **p && !m.insulator)
    {
        c_min = c_min.min(m.cs.min(m.cl));
        k_max = k_max.max(m.ks.max(m.kl));
        perf_max = perf_max.max(m.perfusion_w_per_m3_k);
    }
    if !c_min.is_finite() || k_max <= 0.0 {
        return 1.0;
    }
    // Σ of link weights of the stiffest node: 2D normal links, or a node next to the metal (at
    // least one normal link replaced by its cut links).
    let mut per_node: std::collections::BTreeMap<usize, f64> = std::collections::BTreeMap::new();
    for p in &problem.probes {
        for &(i, s) in &p.cuts {
            *per_node.entry(i).or_default() += s;
        }
    }
    let cut_max = per_node.values().fold(0.0f64, |a, &b| a.max(b));
    let links = (2.0 * axes).max(2.0 * axes - 1.0 + cut_max);
    SAFETY / (links * k_max / (h_m * h_m * c_min) + perf_max / c_min)
}

/// Read-only state of one stage.
struct StageIn<'a> {
    temp: &'a [f32],
    sk: &'a [f32],
    /// Y_{j−1} (Y_0 for the first stage).
    y_prev: &'a [Enth],
    y0: &'a [Enth],
    l0: &'a [f32],
}

/// Everything constant over the run.
struct Fixed<'a> {
    pad: Pad,
    kind: &'a [u8],
    class: &'a [u8],
    act: &'a [f32],
    coefs: &'a [Coef],
    /// Per padded row (j, k): the class of all its free nodes, or `None` (mixed / none).
    row_class: &'a [Option<u8>],
    cut_nodes: &'a [CutNode],
    cut_range: &'a [(usize, usize)],
    inv_h2: f32,
    ta: f32,
}

/// Runs the problem (polls `cancel` every stage, reports `progress(simulated_s)`).
pub fn run(
    problem: &ThermalProblem,
    cancel: &dyn Fn() -> bool,
    progress: &dyn Fn(f64),
) -> Result<SolverOutput, SolverError> {
    let g = &problem.grid;
    let n = g.len();
    if problem.classes.len() != n || (!problem.held.is_empty() && problem.held.len() != n) {
        return Err(SolverError::Invalid("node arrays do not match the grid".into()));
    }
    if g.spacing_mm.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) || n == 0 {
        return Err(SolverError::Invalid("empty grid or non-positive spacing".into()));
    }
    let n_probes = problem.probes.len();
    if problem.timeline.iter().any(|p| p.boundary.len() != n_probes) {
        return Err(SolverError::Invalid(
            "every timeline piece needs one boundary per probe".into(),
        ));
    }
    let total_s = problem.timeline.last().map_or(0.0, |p| p.end_s);
    let dt_fe = stable_time_step_s(problem);
    let step_max = match problem.scheme {
        TimeScheme::Euler { dt_s: None } => dt_fe,
        TimeScheme::Euler { dt_s: Some(dt) } if dt.is_finite() && dt > 0.0 && dt <= dt_fe / SAFETY => dt,
        TimeScheme::Euler { dt_s: Some(dt) } => {
            return Err(SolverError::Invalid(format!(
                "time step {dt} s is above the stable step {:.4} s",
                dt_fe / SAFETY
            )));
        }
        TimeScheme::Rkl2 { super_step_s } if super_step_s.is_finite() && super_step_s > 0.0 => {
            super_step_s.max(dt_fe)
        }
        TimeScheme::Rkl2 { super_step_s } => {
            return Err(SolverError::Invalid(format!(
                "super-step {super_step_s} s must be positive"
            )));
        }
    };
    let rkl = matches!(problem.scheme, TimeScheme::Rkl2 { .. });

    let pad = Pad::new(g.dims);
    let coefs: Vec<Coef> = problem.materials.iter().map(Coef::new).collect();
    let h_m = g.spacing_mm * 1e-3;
    let inv_h2 = 1.0 / (h_m * h_m);
    let volume_m3 = h_m * h_m * h_m;
    let t0 = problem.initial_temperature_c;

    // Node kinds, classes, temperatures, √k, enthalpies (padded).
    let plen = pad.len();
    let mut kind = vec![INERT; plen];
    let mut class = vec![NO_TISSUE; plen];
    let mut temp = vec![t0 as f32; plen];
    let mut sk = vec![0.0f32; plen];
    let mut y0: Vec<Enth> = vec![0.0; plen];
    let mut metal = vec![false; n];
    for p in &problem.probes {
        for &i in &p.metal {
            if let Some(x) = metal.get_mut(i) {
                *x = true;
            }
        }
    }
    let state_at = |c: u8, t_c: f64| -> Option<(f64, f32, f32)> {
        let m = problem.materials.get(usize::from(c))?;
        if m.insulator {
            return None;
        }
        let h = m.enthalpy(t_c);
        let (t, s) = coefs[usize::from(c)].state(h as Enth);
        Some((h, t, s))
    };
    for (idx, &is_metal) in metal.iter().enumerate() {
        let c = problem.classes[idx];
        let p = pad.of_grid(idx);
        class[p] = c;
        if is_metal {
            continue;
        }
        let held = problem.held.get(idx).copied().unwrap_or(false);
        let t_node = if held { problem.held_temperature_c } else { t0 };
        if let Some((h, _, s)) = state_at(c, t_node) {
            kind[p] = if held { HELD } else { FREE };
            y0[p] = h as Enth;
            temp[p] = t_node as f32;
            sk[p] = s;
        }
    }
    // Ghost layer: a held face takes the class of the node inside it at the face temperature; an
    // adiabatic face stays k = 0.
    let faces = &problem.faces;
    for k in 0..pad.pz {
        for j in 0..pad.py {
            for i in 0..pad.px {
                let on = [
                    i == 0,
                    i == pad.px - 1,
                    j == 0,
                    j == pad.py - 1,
                    k == 0,
                    k == pad.pz - 1,
                ];
                let Some(f) = on.iter().position(|x| *x) else {
                    continue;
                };
                let Face::Temperature(tf) = faces[f] else {
                    continue;
                };
                let inner = g.index(
                    i.clamp(1, pad.nx) - 1,
                    j.clamp(1, pad.ny) - 1,
                    k.clamp(1, pad.pz - 2) - 1,
                );
                let p = i + pad.px * (j + pad.py * k);
                if let Some((_, _, s)) = state_at(problem.classes[inner], tf) {
                    kind[p] = HELD;
                    temp[p] = tf as f32;
                    sk[p] = s;
                }
            }
        }
    }
    for p in 0..plen {
        if kind[p] == FREE {
            temp[p] = coefs[usize::from(class[p])].state(y0[p]).0;
        }
    }
    let act: Vec<f32> = kind.iter().map(|&k| if k == FREE { 1.0 } else { 0.0 }).collect();
    let row_class: Vec<Option<u8>> = (0..pad.py * pad.pz)
        .map(|row| {
            let r = row * pad.px;
            let mut c: Option<u8> = None;
            for p in r..r + pad.px {
                if kind[p] == FREE {
                    match c {
                        None => c = Some(class[p]),
                        Some(x) if x == class[p] => {}
                        Some(_) => return None,
                    }
                }
            }
            c
        })
        .collect();

    // Tissue nodes next to probes, sorted by padded index (planes in order).
    let mut cut_nodes: Vec<CutNode> = Vec::new();
    {
        let mut all: Vec<(usize, usize, f64)> = Vec::new();
        for (pi, p) in problem.probes.iter().enumerate() {
            for &(idx, s) in &p.cuts {
                if idx < n {
                    let pp = pad.of_grid(idx);
                    if kind[pp] == FREE {
                        all.push((pp, pi, s));
                    }
                }
            }
        }
        all.sort_by_key(|a| (a.0, a.1));
        for (pp, pi, s) in all {
            match cut_nodes.last_mut() {
                Some(c) if c.pidx == pp => match c.links.last_mut() {
                    Some(l) if l.0 == pi => l.1 += s as f32,
                    _ => c.links.push((pi, s as f32)),
                },
                _ => cut_nodes.push(CutNode {
                    pidx: pp,
                    links: vec![(pi, s as f32)],
                }),
            }
        }
    }
    let plane = pad.plane();
    let mut cut_range = vec![(0usize, 0usize); pad.pz];
    {
        let mut start = 0;
        for (kz, r) in cut_range.iter_mut().enumerate() {
            let end = start + cut_nodes[start..].partition_point(|c| c.pidx / plane <= kz);
            *r = (start, end);
            start = end;
        }
    }

    let sum_enthalpy = |y: &[Enth]| -> f64 {
        y.iter()
            .zip(&kind)
            .filter(|(_, k)| **k == FREE)
            .map(|(h, _)| f64::from(*h))
            .sum::<f64>()
            * volume_m3
    };
    let initial_enthalpy_j = sum_enthalpy(&y0);
    let fixed = Fixed {
        pad,
        kind: &kind,
        class: &class,
        act: &act,
        coefs: &coefs,
        row_class: &row_class,
        cut_nodes: &cut_nodes,
        cut_range: &cut_range,
        inv_h2: inv_h2 as f32,
        ta: problem.arterial_temperature_c as f32,
    };

    let mut temp_b = temp.clone();
    let mut sk_b = sk.clone();
    let mut ya = y0.clone();
    let mut yb = y0.clone();
    let mut l0 = vec![0.0f32; plen];
    let mut probe_heat_j = vec![0.0f64; n_probes];

    // Snapshot times: the requested ones plus 0 and the end, within [0, total].
    let mut snap_times: Vec<f64> = problem
        .snapshot_times_s
        .iter()
        .copied()
        .filter(|t| t.is_finite() && *t >= 0.0 && *t <= total_s)
        .chain([0.0, total_s])
        .collect();
    snap_times.sort_by(f64::total_cmp);
    snap_times.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    let mut snapshots = Vec::with_capacity(snap_times.len());

    let snapshot = |temp: &[f32], boundary: &[ProbeBoundary]| -> Vec<i16> {
        let mut out: Vec<i16> = (0..n)
            .into_par_iter()
            .map(|idx| {
                let p = pad.of_grid(idx);
                if kind[p] == INERT {
                    NOT_MODELLED
                } else {
                    centi(f64::from(temp[p]))
                }
            })
            .collect();
        for (pi, pr) in problem.probes.iter().enumerate() {
            let v = match boundary.get(pi) {
                Some(ProbeBoundary::Temperature(tp)) => *tp,
                _ => {
                    let vals: Vec<f64> = pr
                        .cuts
                        .iter()
                        .filter_map(|&(idx, _)| {
                            let p = pad.of_grid(idx);
                            (kind[p] != INERT).then(|| f64::from(temp[p]))
                        })
                        .collect();
                    if vals.is_empty() {
                        t0
                    } else {
                        vals.iter().sum::<f64>() / vals.len() as f64
                    }
                }
            };
            for &m in &pr.metal {
                if let Some(o) = out.get_mut(m) {
                    *o = centi(v);
                }
            }
        }
        out
    };

    let first_boundary: Vec<ProbeBoundary> = problem
        .timeline
        .first()
        .map(|p| p.boundary.clone())
        .unwrap_or_default();
    snapshots.push(snapshot(&temp, &first_boundary));
    let mut next_snap = 1;
    let mut stages_done = 0usize;
    let mut last_progress = f64::NEG_INFINITY;

    for piece in &problem.timeline {
        let surface: Vec<Option<f32>> = piece
            .boundary
            .iter()
            .map(|b| match b {
                ProbeBoundary::Temperature(t) => Some(*t as f32),
                ProbeBoundary::Off => None,
            })
            .collect();
        let mut t_now = piece.start_s;
        while t_now < piece.end_s - 1e-9 {
            let target = snap_times
                .get(next_snap)
                .copied()
                .filter(|&s| s < piece.end_s - 1e-9)
                .unwrap_or(piece.end_s);
            let n_steps = (((target - t_now) / step_max) - 1e-9).ceil().max(1.0) as usize;
            let tau = (target - t_now) / n_steps as f64;
            // RKL2 is stable for τ·λ ≤ (s² + s − 2)/2 on a linear problem, i.e. τ ≤ (s² + s − 2)/4
            // · 2/λ. The enthalpy makes it nonlinear: an internal stage can push a node out of the
            // phase-change band, where its heat capacity is ~20× smaller, and with the full 2/λ
            // the single-probe run blew up; with `dt_fe` = 0.9/λ_bound it matches forward Euler
            // (isotherm volumes within 0.3 %, `tests/suite/cryo_validation.rs`).
            let stages = rkl2_stages(if rkl { stages_for(tau, dt_fe) } else { 1 });
            for _ in 0..n_steps {
                // Probe heat through the stage recursion: P_j = μ P_{j−1} + ν P_{j−2}
                // + μ̃ τ p(Y_{j−1}) + γ̃ τ p(Y_0).
                let mut p_prev = vec![0.0f64; n_probes];
                let mut p_prev2 = vec![0.0f64; n_probes];
                let mut p0 = vec![0.0f64; n_probes];
                for (j, st) in stages.iter().enumerate() {
                    if cancel() {
                        return Err(SolverError::Cancelled);
                    }
                    // Buffers: Y_0 = y0; Y_j in ya (j odd) / yb (j even).
                    let (y_out, y_prev): (&mut Vec<Enth>, &Vec<Enth>) = match j {
                        0 => (&mut ya, &y0),
                        _ if j % 2 == 1 => (&mut yb, &ya),
                        _ => (&mut ya, &yb),
                    };
                    let first = j == 0;
                    // The first stage writes L(Y_0) (and reads none): split the borrows.
                    let (l0_read, l0_write): (&[f32], Option<&mut Vec<f32>>) =
                        if first { (&[], Some(&mut l0)) } else { (&l0, None) };
                    let stage_in = StageIn {
                        temp: &temp,
                        sk: &sk,
                        y_prev,
                        y0: &y0,
                        l0: l0_read,
                    };
                    // Probe power per probe at this stage's input (W), for the recursion.
                    let pp = probe_power(&fixed, &stage_in, &surface, n_probes, volume_m3);
                    if first {
                        p0.clone_from(&pp);
                    }
                    let p_new: Vec<f64> = (0..n_probes)
                        .map(|i| {
                            let prev2 = if j == 1 { 0.0 } else { p_prev2[i] };
                            st.mu * p_prev[i]
                                + st.nu * prev2
                                + st.mu_t * tau * pp[i]
                                + st.gamma_t * tau * p0[i]
                        })
                        .collect();
                    p_prev2 = std::mem::replace(&mut p_prev, p_new);
                    run_stage(
                        &fixed,
                        &stage_in,
                        y_out,
                        &mut temp_b,
                        &mut sk_b,
                        l0_write,
                        *st,
                        tau,
                        &surface,
                        // Y_{j−2} is Y_0 for the second stage; later, what y_out holds.
                        j == 1,
                    );
                    std::mem::swap(&mut temp, &mut temp_b);
                    std::mem::swap(&mut sk, &mut sk_b);
                    stages_done += 1;
                }
                // Y_s becomes the new Y_0.
                let last = stages.len();
                if last % 2 == 1 {
                    std::mem::swap(&mut y0, &mut ya);
                } else {
                    std::mem::swap(&mut y0, &mut yb);
                }
                for (acc, p) in probe_heat_j.iter_mut().zip(&p_prev) {
                    *acc += p;
                }
                t_now += tau;
                if t_now - last_progress >= 5.0 {
                    progress(t_now);
                    last_progress = t_now;
                }
            }
            t_now = target;
            if snap_times
                .get(next_snap)
                .is_some_and(|&s| (s - target).abs() < 1e-9)
            {
                snapshots.push(snapshot(&temp, &piece.boundary));
                next_snap += 1;
            }
        }
    }
    while next_snap < snap_times.len() {
        let b = problem
            .timeline
            .last()
            .map(|p| p.boundary.clone())
            .unwrap_or_default();
        snapshots.push(snapshot(&temp, &b));
        next_snap += 1;
    }
    progress(total_s);
    let final_temperature_c = (0..n)
        .map(|idx| {
            let p = pad.of_grid(idx);
            if kind[p] == INERT { f32::NAN } else { temp[p] }
        })
        .collect();
    Ok(SolverOutput {
        snapshot_times_s: snap_times,
        snapshots,
        probe_heat_j,
        initial_enthalpy_j,
        final_enthalpy_j: sum_enthalpy(&y0),
        final_temperature_c,
        stages: stages_done,
        dt_euler_s: dt_fe,
    })
}

/// °C → centi-degrees, saturating.
fn centi(t_c: f64) -> i16 {
    (t_c * 100.0).round().clamp(-32767.0, 32767.0) as i16
}

/// Power (W) each probe delivers into the tissue at a stage's temperatures.
fn probe_power(
    fx: &Fixed<'_>,
    inp: &StageIn<'_>,
    surface: &[Option<f32>],
    n_probes: usize,
    volume_m3: f64,
) -> Vec<f64> {
    let mut out = vec![0.0f64; n_probes];
    for c in fx.cut_nodes {
        let p = c.pidx;
        let (ti, ki) = (inp.temp[p], inp.sk[p] * inp.sk[p]);
        for &(pi, s) in &c.links {
            if let Some(Some(tp)) = surface.get(pi) {
                out[pi] += f64::from(ki * s * fx.inv_h2 * (tp - ti)) * volume_m3;
            }
        }
    }
    out
}

/// One stage over all planes: `y_out` = the stage combination, then T and √k of the free nodes
/// into `temp_out`, `sk_out`; the first stage also stores L(Y_0) in `l0`. `y_out` holds Y_{j−2}
/// on entry (read in place) unless `no_prev2` (first and second stages: Y_{j−2} is Y_0 or none).
#[allow(clippy::too_many_arguments)]
fn run_stage(
    fx: &Fixed<'_>,
    inp: &StageIn<'_>,
    y_out: &mut [Enth],
    temp_out: &mut [f32],
    sk_out: &mut [f32],
    l0_out: Option<&mut Vec<f32>>,
    st: Stage,
    tau: f64,
    surface: &[Option<f32>],
    no_prev2: bool,
) {
    let pad = fx.pad;
    let plane = pad.plane();
    let work =
        |kz: usize, y_pl: &mut [Enth], t_pl: &mut [f32], s_pl: &mut [f32], l0_pl: Option<&mut [f32]>| {
            if kz == 0 || kz == pad.pz - 1 {
                return;
            }
            let base = kz * plane;
            let mut l0_pl = l0_pl;
            for j in 1..=pad.ny {
                let off = j * pad.px + 1;
                let r = base + off;
                let len = pad.nx;
                let y_row = &mut y_pl[off..off + len];
                let l0_row = l0_pl.as_deref_mut().map(|l| &mut l[off..off + len]);
                match fx.row_class[kz * pad.py + j] {
                    Some(c) => {
                        let coef = fx.coefs[usize::from(c)];
                        stage_row_uniform(fx, inp, r, len, y_row, &coef, st, tau, no_prev2, l0_row);
                    }
                    // Mixed classes, or no free node at all (nothing to do).
                    None => {
                        if fx.act[r..r + len].iter().any(|a| *a != 0.0) {
                            stage_row_mixed(fx, inp, r, len, y_row, st, tau, no_prev2, l0_row);
                        }
                    }
                }
            }
            // Probe links of this plane's cut nodes.
            let (c0, c1) = fx.cut_range[kz];
            for c in &fx.cut_nodes[c0..c1] {
                let p = c.pidx;
                let (ti, ki) = (inp.temp[p], inp.sk[p] * inp.sk[p]);
                let mut rate = 0.0f32;
                for &(pi, s) in &c.links {
                    if let Some(Some(tp)) = surface.get(pi) {
                        rate += ki * s * fx.inv_h2 * (tp - ti);
                    }
                }
                let local = p - base;
                y_pl[local] += (st.mu_t * tau) as Enth * rate;
                if let Some(l) = l0_pl.as_deref_mut() {
                    l[local] += rate;
                }
            }
            // T and √k of the free nodes.
            for j in 1..=pad.ny {
                let off = j * pad.px + 1;
                let r = base + off;
                let len = pad.nx;
                let kd = &fx.kind[r..r + len];
                let cl = &fx.class[r..r + len];
                let (yr, tr, sr) = (
                    &y_pl[off..off + len],
                    &mut t_pl[off..off + len],
                    &mut s_pl[off..off + len],
                );
                match fx.row_class[kz * pad.py + j] {
                    Some(c) => {
                        let coef = fx.coefs[usize::from(c)];
                        let ac = &fx.act[r..r + len];
                        for i in 0..len {
                            let (t, s) = coef.state(yr[i]);
                            let a = ac[i];
                            tr[i] = a * t + (1.0 - a) * tr[i];
                            sr[i] = a * s + (1.0 - a) * sr[i];
                        }
                    }
                    None => {
                        for i in 0..len {
                            if kd[i] == FREE {
                                let (t, s) = fx.coefs[usize::from(cl[i])].state(yr[i]);
                                tr[i] = t;
                                sr[i] = s;
                            }
                        }
                    }
                }
            }
        };
    match l0_out {
        Some(l0) => y_out
            .par_chunks_mut(plane)
            .zip(temp_out.par_chunks_mut(plane))
            .zip(sk_out.par_chunks_mut(plane))
            .zip(l0.par_chunks_mut(plane))
            .enumerate()
            .for_each(|(kz, (((y, t), s), l))| work(kz, y, t, s, Some(l))),
        None => y_out
            .par_chunks_mut(plane)
            .zip(temp_out.par_chunks_mut(plane))
            .zip(sk_out.par_chunks_mut(plane))
            .enumerate()
            .for_each(|(kz, ((y, t), s))| work(kz, y, t, s, None)),
    }
}

/// The seven-point conduction sum `√k_i Σ √k_j (T_j − T_i)` of node `r + i`.
macro_rules! conduction {
    ($inp:expr, $r:expr, $len:expr, $sy:expr, $sz:expr) => {{
        let t = $inp.temp;
        let s = $inp.sk;
        (
            &t[$r..$r + $len],
            &t[$r - 1..$r - 1 + $len],
            &t[$r + 1..$r + 1 + $len],
            &t[$r - $sy..$r - $sy + $len],
            &t[$r + $sy..$r + $sy + $len],
            &t[$r - $sz..$r - $sz + $len],
            &t[$r + $sz..$r + $sz + $len],
            &s[$r..$r + $len],
            &s[$r - 1..$r - 1 + $len],
            &s[$r + 1..$r + 1 + $len],
            &s[$r - $sy..$r - $sy + $len],
            &s[$r + $sy..$r + $sy + $len],
            &s[$r - $sz..$r - $sz + $len],
            &s[$r + $sz..$r + $sz + $len],
        )
    }};
}

/// A row whose free nodes share one class: no per-node lookups (vectorises).
#[allow(clippy::too_many_arguments)]
#[inline]
fn stage_row_uniform(
    fx: &Fixed<'_>,
    inp: &StageIn<'_>,
    r: usize,
    len: usize,
    y_row: &mut [Enth],
    coef: &Coef,
    st: Stage,
    tau: f64,
    no_prev2: bool,
    l0_row: Option<&mut [f32]>,
) {
    let (sy, sz) = (fx.pad.px, fx.pad.plane());
    let (tc, txm, txp, tym, typ, tzm, tzp, sc, sxm, sxp, sym, syp, szm, szp) =
        conduction!(inp, r, len, sy, sz);
    let ac = &fx.act[r..r + len];
    let yp = &inp.y_prev[r..r + len];
    let y0 = &inp.y0[r..r + len];
    let y_row = &mut y_row[..len];
    let (ih2, ta) = (fx.inv_h2, fx.ta);
    let rate_at = |i: usize| -> f32 {
        let ti = tc[i];
        let f = sxm[i] * (txm[i] - ti)
            + sxp[i] * (txp[i] - ti)
            + sym[i] * (tym[i] - ti)
            + syp[i] * (typ[i] - ti)
            + szm[i] * (tzm[i] - ti)
            + szp[i] * (tzp[i] - ti);
        ac[i] * (sc[i] * f * ih2 + coef.source(ti, ta))
    };
    let (mu, nu, mt, gt) = (
        st.mu as Enth,
        st.nu as Enth,
        (st.mu_t * tau) as Enth,
        (st.gamma_t * tau) as Enth,
    );
    match l0_row {
        Some(l0w) => {
            let l0w = &mut l0w[..len];
            for i in 0..len {
                let rate = rate_at(i);
                l0w[i] = rate;
                y_row[i] = yp[i] + mt * rate;
            }
        }
        None if no_prev2 => {
            let l0 = &inp.l0[r..r + len];
            for i in 0..len {
                let rate = rate_at(i);
                y_row[i] = mu * yp[i] + (1.0 - mu - nu) * y0[i] + nu * y0[i] + mt * rate + gt * l0[i];
            }
        }
        None => {
            let l0 = &inp.l0[r..r + len];
            for i in 0..len {
                let rate = rate_at(i);
                y_row[i] = mu * yp[i] + nu * y_row[i] + (1.0 - mu - nu) * y0[i] + mt * rate + gt * l0[i];
            }
        }
    }
}

/// A row with several classes: the same update with a lookup per node.
#[allow(clippy::too_many_arguments)]
fn stage_row_mixed(
    fx: &Fixed<'_>,
    inp: &StageIn<'_>,
    r: usize,
    len: usize,
    y_row: &mut [Enth],
    st: Stage,
    tau: f64,
    no_prev2: bool,
    mut l0_row: Option<&mut [f32]>,
) {
    let (sy, sz) = (fx.pad.px, fx.pad.plane());
    let (tc, txm, txp, tym, typ, tzm, tzp, sc, sxm, sxp, sym, syp, szm, szp) =
        conduction!(inp, r, len, sy, sz);
    let (ih2, ta) = (fx.inv_h2, fx.ta);
    let (mu, nu, mt, gt) = (
        st.mu as Enth,
        st.nu as Enth,
        (st.mu_t * tau) as Enth,
        (st.gamma_t * tau) as Enth,
    );
    for i in 0..len {
        let p = r + i;
        if fx.kind[p] != FREE {
            continue;
        }
        let coef = &fx.coefs[usize::from(fx.class[p])];
        let ti = tc[i];
        let f = sxm[i] * (txm[i] - ti)
            + sxp[i] * (txp[i] - ti)
            + sym[i] * (tym[i] - ti)
            + syp[i] * (typ[i] - ti)
            + szm[i] * (tzm[i] - ti)
            + szp[i] * (tzp[i] - ti);
        let rate = sc[i] * f * ih2 + coef.source(ti, ta);
        let (yp, y0) = (inp.y_prev[p], inp.y0[p]);
        y_row[i] = match l0_row.as_deref_mut() {
            Some(l0w) => {
                l0w[i] = rate;
                yp + mt * rate
            }
            None => {
                let prev2 = if no_prev2 { y0 } else { y_row[i] };
                mu * yp + nu * prev2 + (1.0 - mu - nu) * y0 + mt * rate + gt * inp.l0[p]
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rkl2_stages_are_consistent() {
        // Σ of the effective weights of L must give a consistent first-order method: for
        // dy/dt = −λ y with small λτ, one super-step ≈ e^{−λτ} to second order.
        for s in [2usize, 5, 11, 20] {
            let st = rkl2_stages(s);
            let lam_tau = 1e-3;
            let y0 = 1.0;
            let l0 = -lam_tau * y0;
            let (mut yp2, mut yp) = (y0, y0);
            for (j, c) in st.iter().enumerate() {
                let l = -lam_tau * yp;
                let y = if j == 0 {
                    yp + c.mu_t * l
                } else {
                    c.mu * yp + c.nu * yp2 + (1.0 - c.mu - c.nu) * y0 + c.mu_t * l + c.gamma_t * l0
                };
                yp2 = yp;
                yp = y;
            }
            let exact = (-lam_tau).exp();
            assert!((yp - exact).abs() < 1e-8, "s = {s}: {yp} vs {exact}");
        }
        assert_eq!(stages_for(0.1, 0.15), 1);
        assert_eq!(stages_for(4.0, 0.146), 11);
    }
}
