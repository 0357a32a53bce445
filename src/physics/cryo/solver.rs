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
//! order in time: a 15 s super-step costs 23 stages at 1 mm instead of ~130 Euler steps. Every
//! stage is the same conservative flux evaluation, so energy is conserved to rounding (the probes'
//! heat is carried through the same recursion, see `probe_heat_j`). Super-steps are clipped so
//! that phase changes, duty-cycle switches and snapshots fall on their boundaries, and after each
//! change of the probes' boundaries they ramp up from [`RAMP_FIRST_S`] (each at most the time
//! since the change): the switch-on is a sharp transient that a full super-step smears (heat off
//! by 3 % at 30 s without the ramp). [`DEFAULT_SUPER_STEP_S`] is where the isotherms stay within
//! 0.2 mm of forward Euler's (`tests/suite/cryo_stream.rs`).
//!
//! Stability bound ([`stable_time_step_s`]): Gershgorin's bound on the eigenvalues of the
//! conduction operator, with the largest k and the smallest ρc of any phase present (the enthalpy
//! makes the problem nonlinear: an internal stage can push a node out of the phase-change band,
//! where ρc is ~20× smaller), per node: a tissue node next to a probe counts its tissue links plus
//! half its `Σ 1/θ` (a probe surface is a boundary value, not an unknown). With θ ≥ [`THETA_MIN`]
//! the stiffest probe node is 7.5 link-units against 6 in the bulk at 1 mm (Δt_FE 0.117 s
//! against 0.146 s); the bound used to count the cut links twice (10 units, 0.088 s).
//!
//! Stage pass: the free nodes are stored as runs along x of one material (classes with equal
//! numbers merged), so the inner loop has no per-node branch or lookup and vectorises; one fused
//! pass per run computes the flux, the stage combination in difference form `D_j = Y_j − Y_0`
//! (far-field nodes keep D = 0 exactly, and the f32 increments are not rounded against the large
//! enthalpy) and T, √k of the result, reading each array once. The probes' links (a few hundred
//! nodes) are added afterwards in a serial pass.
//!
//! Probes: the metal nodes carry no conduction (k = 0); each tissue node next to the metal gets
//! the probe's cut links (`physics::ire::field::electrode_mask`: the true surface crossing θ along
//! each link, Shortley–Weller, so that the effective radius is the true one and the solution
//! converges with refinement). A link to a surface at `T_p` conducts `k_i / (θ h)`; θ is clamped
//! at [`THETA_MIN`] (a node closer than 0.2 h to the surface sees it at 0.2 h, an O(h) shift that
//! vanishes with refinement) so that the stiffest link is 5× a normal one, which the stability
//! bound includes. The links stay explicit: a point-implicit probe term inside the RKL2 stages is
//! stable but only first order in the stiff part (on a 1-D test its heat drifted by 1.7 % at
//! 30 s super-steps where the explicit scheme stayed exact), and would gain only the 0.117 →
//! 0.146 s of Δt_FE. A probe that is off (passive thaw, duty-cycle off time) has no cut links: its
//! surface is adiabatic. The shaft is not modelled (insulated: tissue) beyond the optional
//! heat-exchange region of a convective wall.
//!
//! Finite cooling power (issue 14, REFERENCE.md §7): during a freeze a probe with a
//! [`WallCoupling`] is not held at a temperature; gas at `T_gas` cools its wall through `h·A` per
//! segment along the probe, and the tissue warms it through the segment's cut links
//! (`G_i = k_i Σ(1/θ) h`). The wall holds no heat (see [`WallCoupling`]), so at every stage its
//! temperature is the weighted mean `T_w = (hA·T_gas + Σ G_i T_i)/(hA + Σ G_i)` of the stage's
//! input, and each cut node receives `G_i (T_w − T_i)`: the sum over the segment is exactly
//! `hA (T_gas − T_w)`, the heat the gas takes, so the energy balance is kept to rounding as with a
//! fixed surface. Eliminating the wall node is a Schur complement `A − b bᵀ/d` of a symmetric
//! positive semi-definite conduction matrix: it only lowers the eigenvalues, so the stability
//! bound of the fixed surface (which counts the cut links as links to a boundary value) still
//! holds and the step is unchanged. h → ∞ gives the fixed surface at `T_gas`, h → 0 an adiabatic
//! probe (`tests/suite/cryo_band.rs`).
//!
//! Faces of the grid: adiabatic (phantom block faces) or held at a temperature (a crop inside a
//! larger body or phantom: the far field), through a ghost layer.
//!
//! Heat sources (issue 13, the IRE electro-thermal model): [`run_heated`] adds a per-node start
//! temperature and a per-node volumetric source (W/m³) that is constant over the call, added to
//! every free node's rate in the same fused stage pass (a second instantiation of the loop, so the
//! cryo model's loop is unchanged). A source that varies in time runs as consecutive calls, one
//! per chunk, each starting from the last one's final temperature; the source's energy is
//! reported for the energy balance.
//!
//! Snapshots are handed out as they are taken ([`run_streaming`]), so that the GUI can scrub the
//! growth while the rest is computed.
//!
//! Deterministic: every stage reads only the previous stage's buffers; planes are updated in
//! parallel into separate buffers; the probe links and all sums run serially in a fixed order.

use super::tissue::{COLDEST_C, KELVIN, Material, NO_TISSUE};
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

const KELVIN_F32: f32 = KELVIN as f32;

pub use crate::plan::cryo::DEFAULT_SUPER_STEP_S;

/// First super-step (s) after the probes' boundaries change (see the ramp in [`run_streaming`]).
pub const RAMP_FIRST_S: f64 = 1.0;

/// One probe on the grid.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProbeCoupling {
    /// Metal node indices (grid, unpadded), ascending.
    pub metal: Vec<usize>,
    /// Tissue nodes next to the metal: (grid index, Σ 1/θ over the node's links into the metal,
    /// each θ at least [`THETA_MIN`]).
    pub cuts: Vec<(usize, f64)>,
    /// The convective wall (used by [`ProbeBoundary::Convective`]); `None` = no gas-side model
    /// (a convective boundary then holds the surface at the gas temperature).
    pub wall: Option<WallCoupling>,
}

/// The gas side of a probe's wall, in segments along the probe: each segment's metal is one
/// temperature (steel conducts around the thin wall far better than the gas side or the tissue
/// carry heat), cooled by the gas through `h·A` and warmed by the tissue through the segment's cut
/// links. The wall has no heat capacity (quasi-static: its few mg of steel hold ~1 % of the heat
/// of the tissue frozen in a minute), so its temperature is the weighted mean
/// `T_w = (hA·T_gas + Σ G_i T_i)/(hA + Σ G_i)` of the gas and the tissue next to it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WallCoupling {
    /// Gas-side conductance `h·A` (W/K) per segment.
    pub ha_w_per_k: Vec<f64>,
    /// Segment of each entry of [`ProbeCoupling::cuts`] (same order).
    pub cut_segment: Vec<usize>,
    /// Segment of each entry of [`ProbeCoupling::metal`] (same order), for the snapshots.
    pub metal_segment: Vec<usize>,
    /// Segments `0..active_segments` lie on the active length (the rest: the shaft's
    /// heat-exchange region); the reported wall temperature is their area-weighted mean.
    pub active_segments: usize,
    /// Area (m²) per segment, for the reported mean.
    pub area_m2: Vec<f64>,
}

/// What a probe's surface does during a piece of the timeline.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ProbeBoundary {
    /// Adiabatic (gas off).
    Off,
    /// Held at this temperature (°C) on the active length.
    Temperature(f64),
    /// Gas at this temperature (°C) behind a convective wall ([`WallCoupling`]): finite cooling
    /// power, the wall temperature follows the heat load.
    Convective(f64),
}

/// One sample of a probe's wall over time.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct WallSample {
    pub time_s: f64,
    /// Area-weighted mean wall temperature of the active length (°C); for a probe that is off,
    /// the mean temperature of the tissue next to it.
    pub wall_c: f64,
    /// Warmest and coldest segment of the active length (°C).
    pub wall_min_c: f64,
    pub wall_max_c: f64,
    /// Heat the probe takes out of the tissue (W; negative while it heats in an active thaw).
    pub cooling_power_w: f64,
    /// Heat it has taken out since the start (J).
    pub heat_extracted_j: f64,
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
    /// Energy the volumetric source of [`HeatInputs`] put into the free nodes (J; 0 without one):
    /// with adiabatic faces, no probes, perfusion or held nodes, `final − initial enthalpy`.
    pub source_energy_j: f64,
    /// Temperature at the end (°C) per node (NaN where not modelled).
    pub final_temperature_c: Vec<f32>,
    /// Per probe: the wall temperature and cooling power after every step.
    pub wall_samples: Vec<Vec<WallSample>>,
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
    kl: f32,
    /// Frozen k's 1/T term (W/m) and 1/T_solidus (1/K): see [`Material::ka`].
    ka: f32,
    inv_ts_k: f32,
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
            kl: m.kl as f32,
            ka: m.ka as f32,
            inv_ts_k: (1.0 / (m.ts_c + KELVIN)) as f32,
            perf: m.perfusion_w_per_m3_k as f32,
            q: m.metabolism_w_per_m3 as f32,
        }
    }

    /// (T, √k) from H; branch-free so that the stage loops vectorise.
    #[inline(always)]
    fn state(&self, h: Enth) -> (f32, f32) {
        if self.ka == 0.0 {
            self.state_with::<false>(h)
        } else {
            self.state_with::<true>(h)
        }
    }

    /// [`Coef::state`] with the frozen k's 1/T law compiled in (`ICE`) or out: the stage loop
    /// picks one per run of one material, so the classes without it (all tissue) pay no division.
    #[inline(always)]
    fn state_with<const ICE: bool>(&self, h: Enth) -> (f32, f32) {
        let band = min(max(h, 0.0), self.hl);
        let t =
            self.ts + min(h, 0.0) * self.inv_cs + band * self.inv_cm + max(h - self.hl, 0.0) * self.inv_cl;
        // Frozen k at T, then linear in the liquid fraction over the band as before. T is clamped
        // at the coldest probe temperature: an internal RKL2 stage may overshoot below it, and
        // 1/T must stay bounded there (the stability bound takes k at that temperature).
        let kf = if ICE {
            let t_k = max(min(t, self.ts), COLDEST_C as f32) + KELVIN_F32;
            self.ks + self.ka * (1.0 / t_k - self.inv_ts_k)
        } else {
            self.ks
        };
        let k = kf + (self.kl - kf) * (band * self.inv_hl);
        (t, k.sqrt())
    }

    /// Perfusion and metabolism (W/m³) at temperature `t` (liquid fraction from T).
    #[inline(always)]
    fn source(&self, t: f32, ta: f32) -> f32 {
        let fl = min(max((t - self.ts) * self.inv_band, 0.0), 1.0);
        fl * (self.perf * (ta - t) + self.q)
    }
}

/// `a.min(b)` for numbers that are never NaN, as a plain compare-and-select (`f32::min` handles
/// NaN, which costs extra instructions per lane in the vectorised loops).
#[inline(always)]
fn min(a: f32, b: f32) -> f32 {
    if a < b { a } else { b }
}

/// `a.max(b)` for numbers that are never NaN (see [`min`]).
#[inline(always)]
fn max(a: f32, b: f32) -> f32 {
    if a > b { a } else { b }
}

/// A tissue node next to one or more probes.
#[derive(Clone, Debug)]
struct CutNode {
    pidx: usize,
    /// Its material (index into the distinct materials).
    mat: usize,
    /// (probe, wall segment — global index into [`Walls`], Σ 1/θ).
    links: Vec<(usize, usize, f32)>,
}

/// A probe's boundary during one timeline piece, as the stage passes use it.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Bc {
    Off,
    Fixed(f32),
    /// Gas temperature behind the convective wall.
    Gas(f32),
}

/// The wall segments of all probes (flattened; probe `p` owns `offset[p]..offset[p + 1]`).
#[derive(Clone, Debug, Default)]
struct Walls {
    offset: Vec<usize>,
    /// `h·A / h³` (W/m³·K): the gas-side conductance in the units of the node rates.
    ha_vol: Vec<f64>,
    area_m2: Vec<f64>,
    active: Vec<bool>,
    /// Per probe: the segment of every metal node (global index), for the snapshots.
    metal_segment: Vec<Vec<usize>>,
}

/// Per-stage scratch of the wall balance.
#[derive(Clone, Debug, Default)]
struct WallScratch {
    num: Vec<f64>,
    den: Vec<f64>,
    tw: Vec<f32>,
}

impl Walls {
    fn new(probes: &[ProbeCoupling], volume_m3: f64) -> Self {
        let mut w = Walls {
            offset: vec![0],
            ..Walls::default()
        };
        for p in probes {
            let base = w.ha_vol.len();
            match &p.wall {
                Some(c) => {
                    for (i, ha) in c.ha_w_per_k.iter().enumerate() {
                        w.ha_vol.push(ha / volume_m3);
                        w.area_m2.push(c.area_m2.get(i).copied().unwrap_or(0.0));
                        w.active.push(i < c.active_segments);
                    }
                    let nseg = c.ha_w_per_k.len();
                    w.metal_segment.push(
                        (0..p.metal.len())
                            .map(|m| {
                                base + c
                                    .metal_segment
                                    .get(m)
                                    .copied()
                                    .unwrap_or(0)
                                    .min(nseg.saturating_sub(1))
                            })
                            .collect(),
                    );
                }
                None => w.metal_segment.push(Vec::new()),
            }
            w.offset.push(w.ha_vol.len());
        }
        w
    }

    /// The global segment of cut `i` of probe `p` (`usize::MAX` when the probe has no wall).
    fn cut_segment(&self, probes: &[ProbeCoupling], p: usize, i: usize) -> usize {
        match probes.get(p).and_then(|pr| pr.wall.as_ref()) {
            Some(c) if self.offset[p + 1] > self.offset[p] => {
                let n = self.offset[p + 1] - self.offset[p];
                self.offset[p] + c.cut_segment.get(i).copied().unwrap_or(0).min(n - 1)
            }
            _ => usize::MAX,
        }
    }

    fn scratch(&self) -> WallScratch {
        WallScratch {
            num: vec![0.0; self.ha_vol.len()],
            den: vec![0.0; self.ha_vol.len()],
            tw: vec![0.0; self.ha_vol.len()],
        }
    }

    /// The wall temperature of every segment of the probes with a convective boundary, from the
    /// tissue temperatures `temp` and `√k` `sk` (the same state the probe links are evaluated
    /// at, so that the heat the tissue gives is the heat the gas takes: `hA (T_w − T_gas) =
    /// Σ G_i (T_i − T_w)` exactly).
    fn balance(&self, fx: &Fixed<'_>, temp: &[f32], sk: &[f32], bc: &[Bc], ws: &mut WallScratch) {
        if self.ha_vol.is_empty() {
            return;
        }
        ws.num.fill(0.0);
        ws.den.fill(0.0);
        let inv_h2 = f64::from(fx.inv_h2);
        for c in fx.cut_nodes {
            let ti = f64::from(temp[c.pidx]);
            let ki = f64::from(sk[c.pidx]) * f64::from(sk[c.pidx]);
            for &(pi, seg, s) in &c.links {
                if matches!(bc.get(pi), Some(Bc::Gas(_))) && seg < ws.num.len() {
                    let g = ki * f64::from(s) * inv_h2;
                    ws.num[seg] += g * ti;
                    ws.den[seg] += g;
                }
            }
        }
        for (pi, b) in bc.iter().enumerate() {
            let Bc::Gas(tg) = *b else { continue };
            for seg in self.offset[pi]..self.offset[pi + 1] {
                let ha = self.ha_vol[seg];
                let den = ha + ws.den[seg];
                ws.tw[seg] = if den > 0.0 {
                    ((ha * f64::from(tg) + ws.num[seg]) / den) as f32
                } else {
                    tg
                };
            }
        }
    }
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
///
/// Gershgorin's bound: row `i` of `C⁻¹A` (A = conduction + probe links, C = heat capacity) has the
/// diagonal `(Σ_j g_ij + G_i)/(h² C_i)` and off-diagonal sum `Σ_j g_ij/(h² C_i)` (a probe surface
/// is a boundary value, not an unknown), and `C⁻¹A` is similar to a symmetric matrix, so every
/// eigenvalue is real and below `(2 Σ_j g_ij + G_i)/(h² C_i)`. With g ≤ k_max and C ≥ C_min,
/// λ_max ≤ 2 · `links` · k_max/(h² C_min) with `links` = 2·axes in the bulk and, next to a probe,
/// the node's tissue links plus half its `Σ 1/θ`. Forward Euler is stable below 2/λ_max (and
/// perfusion adds `ω ρ_b c_b / C` to the diagonal).
pub fn stable_time_step_s(problem: &ThermalProblem) -> f64 {
    let h_m = problem.grid.spacing_mm * 1e-3;
    let dims = problem.grid.dims;
    let axes = dims.iter().filter(|&&n| n > 1).count().max(1) as f64;
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
        k_max = k_max.max(m.max_conductivity(COLDEST_C));
        perf_max = perf_max.max(m.perfusion_w_per_m3_k);
    }
    if !c_min.is_finite() || k_max <= 0.0 {
        return 1.0;
    }
    let n = problem.grid.len();
    let mut metal = vec![false; n];
    for p in &problem.probes {
        for &i in &p.metal {
            if let Some(m) = metal.get_mut(i) {
                *m = true;
            }
        }
    }
    // Σ 1/θ per node over all probes (a node may touch two probes).
    let mut per_node: std::collections::BTreeMap<usize, f64> = std::collections::BTreeMap::new();
    for p in &problem.probes {
        for &(i, s) in &p.cuts {
            *per_node.entry(i).or_default() += s;
        }
    }
    let mut links = 2.0 * axes;
    for (&idx, &cut) in per_node.range(..n) {
        let ijk = problem.grid.ijk(idx);
        // Links that are not into metal (tissue, held or ghost nodes: counted even when they
        // conduct nothing, which only lowers the step).
        let mut tissue_links = 0usize;
        for ax in (0..3).filter(|&ax| dims[ax] > 1) {
            for up in [false, true] {
                let mut nb = ijk;
                let inside = if up {
                    nb[ax] += 1;
                    nb[ax] < dims[ax]
                } else if nb[ax] > 0 {
                    nb[ax] -= 1;
                    true
                } else {
                    false
                };
                if !inside || !metal[problem.grid.index(nb[0], nb[1], nb[2])] {
                    tissue_links += 1;
                }
            }
        }
        links = links.max(tissue_links as f64 + 0.5 * cut);
    }
    SAFETY / (links * k_max / (h_m * h_m * c_min) + perf_max / c_min)
}

/// Read-only state of one stage.
struct StageIn<'a> {
    temp: &'a [f32],
    sk: &'a [f32],
    /// D_{j−1} = Y_{j−1} − Y_0 (unused by the first stage).
    d_prev: &'a [Enth],
    y0: &'a [Enth],
    /// L(Y_0) (unused by the first stage, which writes it).
    l0: &'a [f32],
}

/// A run of free nodes of one material along x (padded start index, length, material).
#[derive(Clone, Copy, Debug)]
struct Run {
    start: usize,
    len: usize,
    mat: usize,
}

/// Everything constant over the run.
struct Fixed<'a> {
    pad: Pad,
    /// Per distinct material.
    coefs: &'a [Coef],
    /// The free nodes as runs, plane after plane.
    runs: &'a [Run],
    /// Per padded plane: its range in `runs`.
    plane_runs: &'a [(usize, usize)],
    cut_nodes: &'a [CutNode],
    inv_h2: f32,
    ta: f32,
    /// Volumetric source per padded node (W/m³; 0 on nodes that are not free), if any.
    src: Option<&'a [f32]>,
}

/// The stage coefficients in f32, with τ folded in.
#[derive(Clone, Copy, Debug)]
struct StageK {
    mu: f32,
    nu: f32,
    /// μ̃ τ.
    mt: f32,
    /// γ̃ τ.
    gt: f32,
}

/// Which terms a stage has: the first writes L(Y_0) and has no Y_{j−1}, Y_{j−2} terms; the second
/// has Y_{j−2} = Y_0 (D = 0); later ones read D_{j−2} in place.
const FIRST: u8 = 0;
const SECOND: u8 = 1;
const LATER: u8 = 2;

/// Planes per parallel task (a 6 cm grid has ~60 planes; 2–8 cores).
const PLANES_PER_TASK: usize = 4;

/// Runs the problem (polls `cancel` every stage, reports `progress(simulated_s)`).
pub fn run(
    problem: &ThermalProblem,
    cancel: &dyn Fn() -> bool,
    progress: &dyn Fn(f64),
) -> Result<SolverOutput, SolverError> {
    run_streaming(problem, cancel, progress, &mut |_| {})
}

/// Per-call additions for a heat source (the IRE electro-thermal model, issue 13): the problem
/// stays the cryo model's, these come on top. Everything is per grid node (`grid.len()` entries).
/// A time-varying source runs as a sequence of calls, each over one chunk of time with a constant
/// source, the next starting from the previous call's `final_temperature_c`.
#[derive(Clone, Copy, Debug, Default)]
pub struct HeatInputs<'a> {
    /// Start temperature per node (°C); `None` = `problem.initial_temperature_c` everywhere.
    /// Held nodes keep `held_temperature_c`; a NaN entry takes the problem's initial value.
    pub initial_temperature_c: Option<&'a [f32]>,
    /// Volumetric source per node (W/m³), constant over the call, added to the enthalpy rate of
    /// every free node (held and inert nodes ignore it). Its energy is reported in
    /// [`SolverOutput::source_energy_j`].
    pub source_w_per_m3: Option<&'a [f32]>,
    /// Take full super-steps from the start. The ramp of [`run_streaming`] exists for the sharp
    /// transient of a probe switching on; a smooth volumetric source continued from the previous
    /// chunk has none, and the ramp would cost about twice the stages of a short chunk.
    pub no_ramp: bool,
}

/// [`run`] with a per-node start temperature and a volumetric source ([`HeatInputs`]).
pub fn run_heated(
    problem: &ThermalProblem,
    heat: &HeatInputs<'_>,
    cancel: &dyn Fn() -> bool,
    progress: &dyn Fn(f64),
) -> Result<SolverOutput, SolverError> {
    run_inner(problem, heat, cancel, progress, &mut |_| {})
}

/// One snapshot as it is produced (see [`run_streaming`]).
#[derive(Clone, Copy, Debug)]
pub struct SnapshotEvent<'a> {
    /// Index among the run's snapshots (0 = the start).
    pub index: usize,
    /// How many snapshots the run will produce.
    pub count: usize,
    pub time_s: f64,
    /// Centi-degrees per grid node, as in [`SolverOutput::snapshots`].
    pub values: &'a [i16],
}

/// [`run`], handing every snapshot to `on_snapshot` as soon as it is taken (in time order, on the
/// calling thread), so that a caller can show the growth while the rest is computed.
pub fn run_streaming(
    problem: &ThermalProblem,
    cancel: &dyn Fn() -> bool,
    progress: &dyn Fn(f64),
    on_snapshot: &mut dyn FnMut(SnapshotEvent<'_>),
) -> Result<SolverOutput, SolverError> {
    run_inner(problem, &HeatInputs::default(), cancel, progress, on_snapshot)
}

fn run_inner(
    problem: &ThermalProblem,
    heat: &HeatInputs<'_>,
    cancel: &dyn Fn() -> bool,
    progress: &dyn Fn(f64),
    on_snapshot: &mut dyn FnMut(SnapshotEvent<'_>),
) -> Result<SolverOutput, SolverError> {
    let g = &problem.grid;
    let n = g.len();
    if problem.classes.len() != n || (!problem.held.is_empty() && problem.held.len() != n) {
        return Err(SolverError::Invalid("node arrays do not match the grid".into()));
    }
    if heat.initial_temperature_c.is_some_and(|t| t.len() != n)
        || heat.source_w_per_m3.is_some_and(|q| q.len() != n)
    {
        return Err(SolverError::Invalid(
            "initial temperature or source does not match the grid".into(),
        ));
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
    // Classes with equal numbers share one material, so that a row through liver, tumour and soft
    // tissue (the same parameters) is one uniform run.
    let mut mats: Vec<Material> = Vec::new();
    let mat_of_class: Vec<usize> = problem
        .materials
        .iter()
        .map(|m| match mats.iter().position(|x| x == m) {
            Some(i) => i,
            None => {
                mats.push(*m);
                mats.len() - 1
            }
        })
        .collect();
    let coefs: Vec<Coef> = mats.iter().map(Coef::new).collect();
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
        let (t, s) = coefs[mat_of_class[usize::from(c)]].state(h as Enth);
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
        let t_start = heat
            .initial_temperature_c
            .map(|t| f64::from(t[idx]))
            .filter(|t| t.is_finite())
            .unwrap_or(t0);
        let t_node = if held { problem.held_temperature_c } else { t_start };
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
    let mat_at = |p: usize| mat_of_class[usize::from(class[p])];
    for p in 0..plen {
        if kind[p] == FREE {
            temp[p] = coefs[mat_at(p)].state(y0[p]).0;
        }
    }
    // The free nodes as runs of one material along x: the stage loops have no per-node branch
    // or lookup, and held or inert nodes (constant) are never written.
    let mut runs: Vec<Run> = Vec::new();
    let mut plane_runs = vec![(0usize, 0usize); pad.pz];
    for (kz, range) in plane_runs.iter_mut().enumerate().take(pad.pz - 1).skip(1) {
        let first = runs.len();
        for j in 1..=pad.ny {
            let row = pad.of(0, j - 1, kz - 1);
            let mut i = 0;
            while i < pad.nx {
                if kind[row + i] != FREE {
                    i += 1;
                    continue;
                }
                let m = mat_at(row + i);
                let start = i;
                while i < pad.nx && kind[row + i] == FREE && mat_at(row + i) == m {
                    i += 1;
                }
                runs.push(Run {
                    start: row + start,
                    len: i - start,
                    mat: m,
                });
            }
        }
        *range = (first, runs.len());
    }

    // Tissue nodes next to probes, sorted by padded index.
    let walls = Walls::new(&problem.probes, volume_m3);
    let mut cut_nodes: Vec<CutNode> = Vec::new();
    {
        let mut all: Vec<(usize, usize, usize, f64)> = Vec::new();
        for (pi, p) in problem.probes.iter().enumerate() {
            for (ci, &(idx, s)) in p.cuts.iter().enumerate() {
                if idx < n {
                    let pp = pad.of_grid(idx);
                    if kind[pp] == FREE {
                        all.push((pp, pi, walls.cut_segment(&problem.probes, pi, ci), s));
                    }
                }
            }
        }
        all.sort_by_key(|a| (a.0, a.1, a.2));
        for (pp, pi, seg, s) in all {
            match cut_nodes.last_mut() {
                Some(c) if c.pidx == pp => match c.links.last_mut() {
                    Some(l) if l.0 == pi && l.1 == seg => l.2 += s as f32,
                    _ => c.links.push((pi, seg, s as f32)),
                },
                _ => cut_nodes.push(CutNode {
                    pidx: pp,
                    mat: mat_at(pp),
                    links: vec![(pi, seg, s as f32)],
                }),
            }
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
    // The source on the padded layout, free nodes only (held and inert nodes keep their
    // temperature or carry no heat). A constant rate is integrated exactly by every stage
    // recursion (each is a consistent method), so its energy is rate × time.
    let src_padded: Option<Vec<f32>> = heat.source_w_per_m3.map(|q| {
        let mut out = vec![0.0f32; plen];
        for (idx, &v) in q.iter().enumerate() {
            let p = pad.of_grid(idx);
            if kind[p] == FREE && v.is_finite() {
                out[p] = v;
            }
        }
        out
    });
    let source_power_w = src_padded
        .as_ref()
        .map_or(0.0, |q| q.iter().map(|&v| f64::from(v)).sum::<f64>() * volume_m3);
    let fixed = Fixed {
        pad,
        coefs: &coefs,
        runs: &runs,
        plane_runs: &plane_runs,
        cut_nodes: &cut_nodes,
        inv_h2: inv_h2 as f32,
        ta: problem.arterial_temperature_c as f32,
        src: src_padded.as_deref(),
    };

    let mut temp_b = temp.clone();
    let mut sk_b = sk.clone();
    // D_j = Y_j − Y_0 of the stages (two buffers; D_{j−2} is overwritten in place by D_j). Nodes
    // that are not free stay 0.
    let mut da: Vec<Enth> = vec![0.0; plen];
    let mut db: Vec<Enth> = vec![0.0; plen];
    let mut l0 = vec![0.0f32; plen];
    let mut probe_heat_j = vec![0.0f64; n_probes];
    // Probe heat through the stage recursion (see below) and the power at one stage's input.
    let mut p_prev = vec![0.0f64; n_probes];
    let mut p_prev2 = vec![0.0f64; n_probes];
    let mut p0 = vec![0.0f64; n_probes];
    let mut power = vec![0.0f64; n_probes];

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
    let mut snapshots: Vec<Vec<i16>> = Vec::with_capacity(snap_times.len());

    let snapshot = |temp: &[f32], boundary: &[ProbeBoundary], tw: &[f32]| -> Vec<i16> {
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
                Some(ProbeBoundary::Convective(tg)) => {
                    // Each metal node shows its segment's wall temperature.
                    let segs = walls.metal_segment.get(pi).map_or(&[][..], |v| v.as_slice());
                    if segs.len() == pr.metal.len() && !segs.is_empty() {
                        for (&m, &seg) in pr.metal.iter().zip(segs) {
                            if let (Some(o), Some(t)) = (out.get_mut(m), tw.get(seg)) {
                                *o = centi(f64::from(*t));
                            }
                        }
                        continue;
                    }
                    *tg
                }
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
    let count = snap_times.len();
    let mut keep = |values: Vec<i16>, snapshots: &mut Vec<Vec<i16>>| {
        let index = snapshots.len();
        on_snapshot(SnapshotEvent {
            index,
            count,
            time_s: snap_times.get(index).copied().unwrap_or(total_s),
            values: &values,
        });
        snapshots.push(values);
    };

    let to_bc = |b: &[ProbeBoundary]| -> Vec<Bc> {
        b.iter()
            .enumerate()
            .map(|(pi, b)| match *b {
                ProbeBoundary::Off => Bc::Off,
                ProbeBoundary::Temperature(t) => Bc::Fixed(t as f32),
                // Without a wall model the gas temperature is the surface temperature.
                ProbeBoundary::Convective(t) if walls.offset[pi + 1] > walls.offset[pi] => Bc::Gas(t as f32),
                ProbeBoundary::Convective(t) => Bc::Fixed(t as f32),
            })
            .collect()
    };
    let mut ws = walls.scratch();
    // The snapshot of the current state (wall temperatures balanced at it).
    let snap_now = |temp: &[f32], sk: &[f32], boundary: &[ProbeBoundary], ws: &mut WallScratch| {
        walls.balance(&fixed, temp, sk, &to_bc(boundary), ws);
        snapshot(temp, boundary, &ws.tw)
    };
    // One wall sample per probe of the current state.
    let mut wall_samples: Vec<Vec<WallSample>> = vec![Vec::new(); n_probes];
    let sample_walls = |time_s: f64,
                        temp: &[f32],
                        sk: &[f32],
                        bc: &[Bc],
                        heat_j: &[f64],
                        ws: &mut WallScratch,
                        out: &mut Vec<Vec<WallSample>>| {
        walls.balance(&fixed, temp, sk, bc, ws);
        let mut power = vec![0.0f64; n_probes];
        let mut next_to = vec![(0.0f64, 0usize); n_probes];
        for c in fixed.cut_nodes {
            let ti = f64::from(temp[c.pidx]);
            let ki = f64::from(sk[c.pidx]) * f64::from(sk[c.pidx]);
            for &(pi, seg, sv) in &c.links {
                next_to[pi].0 += ti;
                next_to[pi].1 += 1;
                let tp = match bc.get(pi) {
                    Some(Bc::Fixed(t)) => f64::from(*t),
                    Some(Bc::Gas(_)) => ws.tw.get(seg).map_or(ti, |t| f64::from(*t)),
                    _ => continue,
                };
                power[pi] += ki * f64::from(sv) * inv_h2 * (tp - ti) * volume_m3;
            }
        }
        for (pi, o) in out.iter_mut().enumerate() {
            let (wall_c, wall_min_c, wall_max_c) = match bc.get(pi) {
                Some(Bc::Fixed(t)) => (f64::from(*t), f64::from(*t), f64::from(*t)),
                Some(Bc::Gas(_)) => {
                    let (mut sum, mut area) = (0.0, 0.0);
                    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
                    for seg in walls.offset[pi]..walls.offset[pi + 1] {
                        if !walls.active[seg] {
                            continue;
                        }
                        let t = f64::from(ws.tw[seg]);
                        sum += t * walls.area_m2[seg];
                        area += walls.area_m2[seg];
                        lo = lo.min(t);
                        hi = hi.max(t);
                    }
                    let mean = if area > 0.0 { sum / area } else { 0.5 * (lo + hi) };
                    (mean, lo, hi)
                }
                _ => {
                    let (sum, cnt) = next_to[pi];
                    let t = if cnt > 0 { sum / cnt as f64 } else { t0 };
                    (t, t, t)
                }
            };
            o.push(WallSample {
                time_s,
                wall_c,
                wall_min_c,
                wall_max_c,
                cooling_power_w: -power[pi],
                heat_extracted_j: -heat_j.get(pi).copied().unwrap_or(0.0),
            });
        }
    };
    let first_boundary: Vec<ProbeBoundary> = problem
        .timeline
        .first()
        .map(|p| p.boundary.clone())
        .unwrap_or_default();
    sample_walls(
        0.0,
        &temp,
        &sk,
        &to_bc(&first_boundary),
        &vec![0.0; n_probes],
        &mut ws,
        &mut wall_samples,
    );
    keep(snap_now(&temp, &sk, &first_boundary, &mut ws), &mut snapshots);
    let mut next_snap = 1;
    let mut stages_done = 0usize;
    let mut last_progress = f64::NEG_INFINITY;

    for piece in &problem.timeline {
        let bc = to_bc(&piece.boundary);
        let mut t_now = piece.start_s;
        while t_now < piece.end_s - 1e-9 {
            let target = snap_times
                .get(next_snap)
                .copied()
                .filter(|&s| s < piece.end_s - 1e-9)
                .unwrap_or(piece.end_s);
            // After the probes' boundaries change the field has a sharp transient that long
            // super-steps would smear: they grow from `RAMP_FIRST_S`, each at most the time since
            // the change (a geometric ramp; RKL2 only, Euler steps are short anyway).
            let since = t_now - piece.start_s;
            let cap = if rkl && !heat.no_ramp {
                step_max.min(since.max(RAMP_FIRST_S))
            } else {
                step_max
            };
            let n_steps = (((target - t_now) / cap) - 1e-9).ceil().max(1.0) as usize;
            let tau = (target - t_now) / n_steps as f64;
            let n_steps = if cap < step_max { 1 } else { n_steps };
            // RKL2 is stable for τ·λ ≤ (s² + s − 2)/2 on a linear problem, i.e. τ ≤ (s² + s − 2)/4
            // · 2/λ_max, and `dt_fe` = 0.9 × the Gershgorin bound on 2/λ_max. The enthalpy makes
            // the problem nonlinear (an internal stage can push a node out of the phase-change
            // band, where its heat capacity is ~20× smaller): the bound uses the smallest heat
            // capacity and the largest conductivity of any phase.
            let stages = rkl2_stages(if rkl { stages_for(tau, dt_fe) } else { 1 });
            for _ in 0..n_steps {
                // Probe heat through the stage recursion: P_j = μ P_{j−1} + ν P_{j−2}
                // + μ̃ τ p(Y_{j−1}) + γ̃ τ p(Y_0), P_0 = 0.
                p_prev.fill(0.0);
                p_prev2.fill(0.0);
                for (j, st) in stages.iter().enumerate() {
                    if cancel() {
                        return Err(SolverError::Cancelled);
                    }
                    // D_j goes to `da` (j even) or `db` (j odd); the other holds D_{j−1}.
                    let (d_out, d_prev): (&mut Vec<Enth>, &Vec<Enth>) = if j % 2 == 0 {
                        (&mut da, &db)
                    } else {
                        (&mut db, &da)
                    };
                    let mode = match j {
                        0 => FIRST,
                        1 => SECOND,
                        _ => LATER,
                    };
                    // The first stage writes L(Y_0) (and reads none): split the borrows.
                    let (l0_read, mut l0_write): (&[f32], Option<&mut Vec<f32>>) = if mode == FIRST {
                        (&[], Some(&mut l0))
                    } else {
                        (&l0, None)
                    };
                    let stage_in = StageIn {
                        temp: &temp,
                        sk: &sk,
                        d_prev,
                        y0: &y0,
                        l0: l0_read,
                    };
                    let k = StageK {
                        mu: st.mu as f32,
                        nu: st.nu as f32,
                        mt: (st.mu_t * tau) as f32,
                        gt: (st.gamma_t * tau) as f32,
                    };
                    run_stage(
                        &fixed,
                        &stage_in,
                        d_out,
                        &mut temp_b,
                        &mut sk_b,
                        l0_write.as_mut().map(|v| v.as_mut_slice()),
                        k,
                        mode,
                    );
                    walls.balance(&fixed, stage_in.temp, stage_in.sk, &bc, &mut ws);
                    probe_pass(
                        &fixed,
                        &stage_in,
                        &bc,
                        &ws.tw,
                        d_out,
                        &mut temp_b,
                        &mut sk_b,
                        l0_write.map(|v| v.as_mut_slice()),
                        k.mt,
                        &mut power,
                    );
                    if mode == FIRST {
                        p0.clone_from(&power);
                    }
                    for i in 0..n_probes {
                        let prev2 = if mode == SECOND { 0.0 } else { p_prev2[i] };
                        let p_new = st.mu * p_prev[i]
                            + st.nu * prev2
                            + (st.mu_t * power[i] + st.gamma_t * p0[i]) * tau * volume_m3;
                        p_prev2[i] = p_prev[i];
                        p_prev[i] = p_new;
                    }
                    std::mem::swap(&mut temp, &mut temp_b);
                    std::mem::swap(&mut sk, &mut sk_b);
                    stages_done += 1;
                }
                // Y_s becomes the new Y_0 (the same f32 sum the last stage took T from).
                let d_last = if stages.len() % 2 == 1 { &da } else { &db };
                y0.par_chunks_mut(pad.plane())
                    .zip(d_last.par_chunks(pad.plane()))
                    .with_min_len(PLANES_PER_TASK)
                    .for_each(|(y, d)| y.iter_mut().zip(d).for_each(|(y, d)| *y += *d));
                for (acc, p) in probe_heat_j.iter_mut().zip(&p_prev) {
                    *acc += p;
                }
                t_now += tau;
                sample_walls(t_now, &temp, &sk, &bc, &probe_heat_j, &mut ws, &mut wall_samples);
                if t_now - last_progress >= 5.0 {
                    progress(t_now);
                    last_progress = t_now;
                }
            }
            if t_now < target - 1e-9 {
                continue;
            }
            t_now = target;
            if snap_times
                .get(next_snap)
                .is_some_and(|&s| (s - target).abs() < 1e-9)
            {
                keep(snap_now(&temp, &sk, &piece.boundary, &mut ws), &mut snapshots);
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
        keep(snap_now(&temp, &sk, &b, &mut ws), &mut snapshots);
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
        source_energy_j: source_power_w * total_s,
        final_temperature_c,
        wall_samples,
        stages: stages_done,
        dt_euler_s: dt_fe,
    })
}

/// °C → centi-degrees, saturating.
fn centi(t_c: f64) -> i16 {
    (t_c * 100.0).round().clamp(-32767.0, 32767.0) as i16
}

/// The probes' links of one stage, after [`run_stage`] (a few hundred nodes, serial: a fixed
/// order): adds `μ̃ τ` × the probe term at the stage's input to D (and to L(Y_0) on the first
/// stage), recomputes T and √k of those nodes, and returns each probe's power density sum in
/// `power` (W/m³; × h³ = W).
#[allow(clippy::too_many_arguments)]
fn probe_pass(
    fx: &Fixed<'_>,
    inp: &StageIn<'_>,
    bc: &[Bc],
    wall_c: &[f32],
    d_out: &mut [Enth],
    t_out: &mut [f32],
    s_out: &mut [f32],
    mut l0_out: Option<&mut [f32]>,
    mt: f32,
    power: &mut [f64],
) {
    power.fill(0.0);
    for c in fx.cut_nodes {
        let p = c.pidx;
        let (ti, ki) = (inp.temp[p], inp.sk[p] * inp.sk[p]);
        let mut rate = 0.0f32;
        for &(pi, seg, s) in &c.links {
            let tp = match bc.get(pi) {
                Some(Bc::Fixed(t)) => *t,
                Some(Bc::Gas(_)) => match wall_c.get(seg) {
                    Some(t) => *t,
                    None => continue,
                },
                _ => continue,
            };
            let r = ki * s * fx.inv_h2 * (tp - ti);
            rate += r;
            power[pi] += f64::from(r);
        }
        d_out[p] += mt * rate;
        if let Some(l) = l0_out.as_deref_mut() {
            l[p] += rate;
        }
        let (t, s) = fx.coefs[c.mat].state(inp.y0[p] + d_out[p]);
        t_out[p] = t;
        s_out[p] = s;
    }
}

/// One stage over all planes (in parallel, `PLANES_PER_TASK` planes per task): D_j of every free
/// node into `d_out`, T and √k of Y_0 + D_j into `temp_out`, `sk_out`; the first stage also stores
/// L(Y_0) in `l0_out`. The probes' links are added afterwards by [`probe_pass`].
#[allow(clippy::too_many_arguments)]
fn run_stage(
    fx: &Fixed<'_>,
    inp: &StageIn<'_>,
    d_out: &mut [Enth],
    temp_out: &mut [f32],
    sk_out: &mut [f32],
    l0_out: Option<&mut [f32]>,
    k: StageK,
    mode: u8,
) {
    let plane = fx.pad.plane();
    let work = |kz: usize, d_pl: &mut [Enth], t_pl: &mut [f32], s_pl: &mut [f32], l0_pl: &mut [f32]| {
        let (r0, r1) = fx.plane_runs[kz];
        let base = kz * plane;
        for run in &fx.runs[r0..r1] {
            let coef = &fx.coefs[run.mat];
            let a = run.start - base;
            let b = a + run.len;
            let (d, t, s) = (&mut d_pl[a..b], &mut t_pl[a..b], &mut s_pl[a..b]);
            // Without a source (the cryo model) the loop is the one it always was.
            match (mode, fx.src.is_some()) {
                (FIRST, false) => {
                    stage_run::<FIRST, false>(fx, inp, run.start, coef, k, d, t, s, &mut l0_pl[a..b])
                }
                (SECOND, false) => stage_run::<SECOND, false>(fx, inp, run.start, coef, k, d, t, s, &mut []),
                (_, false) => stage_run::<LATER, false>(fx, inp, run.start, coef, k, d, t, s, &mut []),
                (FIRST, true) => {
                    stage_run::<FIRST, true>(fx, inp, run.start, coef, k, d, t, s, &mut l0_pl[a..b])
                }
                (SECOND, true) => stage_run::<SECOND, true>(fx, inp, run.start, coef, k, d, t, s, &mut []),
                (_, true) => stage_run::<LATER, true>(fx, inp, run.start, coef, k, d, t, s, &mut []),
            }
        }
    };
    let planes = d_out
        .par_chunks_mut(plane)
        .zip(temp_out.par_chunks_mut(plane))
        .zip(sk_out.par_chunks_mut(plane));
    match l0_out {
        Some(l0) => planes
            .zip(l0.par_chunks_mut(plane))
            .enumerate()
            .with_min_len(PLANES_PER_TASK)
            .for_each(|(kz, (((d, t), s), l))| work(kz, d, t, s, l)),
        None => planes
            .enumerate()
            .with_min_len(PLANES_PER_TASK)
            .for_each(|(kz, ((d, t), s))| work(kz, d, t, s, &mut [])),
    }
}

/// The seven-point stencil of `temp` and `sk` around nodes `r..r + len`.
macro_rules! stencil {
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

/// One run of free nodes of one material starting at padded index `r`: the conservative flux
/// `√k_i Σ √k_j (T_j − T_i)/h²` plus perfusion and metabolism, the stage combination in D form,
/// and T, √k of the result — one pass, every array read or written once, no branch (vectorises).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn stage_run<const MODE: u8, const SRC: bool>(
    fx: &Fixed<'_>,
    inp: &StageIn<'_>,
    r: usize,
    coef: &Coef,
    k: StageK,
    d_out: &mut [Enth],
    t_out: &mut [f32],
    s_out: &mut [f32],
    l0_out: &mut [f32],
) {
    let len = d_out.len();
    let t_out = &mut t_out[..len];
    let s_out = &mut s_out[..len];
    let (sy, sz) = (fx.pad.px, fx.pad.plane());
    let (tc, txm, txp, tym, typ, tzm, tzp, sc, sxm, sxp, sym, syp, szm, szp) = stencil!(inp, r, len, sy, sz);
    let y0 = &inp.y0[r..r + len];
    // The first stage reads neither D_{j−1} nor L(Y_0) (placeholders of the right length).
    let (dp, l0) = if MODE == FIRST {
        (y0, y0)
    } else {
        (&inp.d_prev[r..r + len], &inp.l0[r..r + len])
    };
    let l0_out: &mut [f32] = if MODE == FIRST { &mut l0_out[..len] } else { l0_out };
    let c = *coef;
    let (ih2, ta) = (fx.inv_h2, fx.ta);
    // The source (W/m³) of these nodes; an empty placeholder without one (never read).
    let q: &[f32] = match fx.src {
        Some(q) if SRC => &q[r..r + len],
        _ => &[],
    };
    // One loop per material kind, so that the ice law's division is compiled out of the
    // tissue runs (the branch is taken once per run, not per node).
    macro_rules! nodes {
        ($ice:literal) => {
            for i in 0..len {
                let ti = tc[i];
                let f = sxm[i] * (txm[i] - ti)
                    + sxp[i] * (txp[i] - ti)
                    + sym[i] * (tym[i] - ti)
                    + syp[i] * (typ[i] - ti)
                    + szm[i] * (tzm[i] - ti)
                    + szp[i] * (tzp[i] - ti);
                let mut rate = sc[i] * f * ih2 + c.source(ti, ta);
                if SRC {
                    rate += q[i];
                }
                let d = match MODE {
                    FIRST => {
                        l0_out[i] = rate;
                        k.mt * rate
                    }
                    SECOND => k.mu * dp[i] + k.mt * rate + k.gt * l0[i],
                    _ => k.mu * dp[i] + k.nu * d_out[i] + k.mt * rate + k.gt * l0[i],
                };
                d_out[i] = d;
                let (tn, sn) = c.state_with::<$ice>(y0[i] + d);
                t_out[i] = tn;
                s_out[i] = sn;
            }
        };
    }
    if c.ka == 0.0 { nodes!(false) } else { nodes!(true) }
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

    /// A 1-D slab of one material cooled from one face, snapshots every 20 s.
    fn slab() -> ThermalProblem {
        let m = Material {
            cs: 2.0e6,
            cl: 4.0e6,
            latent: 3.0e8,
            ts_c: -1.0,
            tl_c: 0.0,
            ks: 2.0,
            kl: 0.6,
            ka: 0.0,
            perfusion_w_per_m3_k: 0.0,
            metabolism_w_per_m3: 0.0,
            insulator: false,
        };
        ThermalProblem {
            grid: ComputeGrid {
                origin_lps: crate::geometry::PatientPos::origin(),
                spacing_mm: 1.0,
                dims: [30, 1, 1],
            },
            materials: vec![m],
            classes: vec![0; 30],
            initial_temperature_c: 20.0,
            held: Vec::new(),
            held_temperature_c: 20.0,
            arterial_temperature_c: 37.0,
            faces: [
                Face::Temperature(-50.0),
                Face::Adiabatic,
                Face::Adiabatic,
                Face::Adiabatic,
                Face::Adiabatic,
                Face::Adiabatic,
            ],
            probes: Vec::new(),
            timeline: vec![TimelinePiece {
                start_s: 0.0,
                end_s: 100.0,
                boundary: Vec::new(),
            }],
            snapshot_times_s: vec![20.0, 40.0, 60.0, 80.0],
            scheme: TimeScheme::Rkl2 {
                super_step_s: DEFAULT_SUPER_STEP_S,
            },
            warnings: Vec::new(),
        }
    }

    /// A closed block (adiabatic faces, no perfusion, no probe) with a source on some nodes and
    /// a non-uniform start: the enthalpy gained is the source's energy, and a run without a
    /// source keeps the total.
    #[test]
    fn heated_closed_block_conserves_energy() {
        let mut problem = slab();
        problem.faces = [Face::Adiabatic; 6];
        problem.grid.dims = [12, 10, 8];
        let n = problem.grid.len();
        problem.classes = vec![0; n];
        problem.materials[0].perfusion_w_per_m3_k = 0.0;
        problem.snapshot_times_s = Vec::new();
        problem.timeline[0].end_s = 20.0;
        let start: Vec<f32> = (0..n).map(|i| 30.0 + (i % 7) as f32).collect();
        let source: Vec<f32> = (0..n).map(|i| if i % 11 == 0 { 2.0e7 } else { 0.0 }).collect();
        let heated = run_heated(
            &problem,
            &HeatInputs {
                initial_temperature_c: Some(&start),
                source_w_per_m3: Some(&source),
                no_ramp: true,
            },
            &|| false,
            &|_| {},
        )
        .unwrap();
        let expected: f64 = source.iter().map(|&q| f64::from(q)).sum::<f64>() * 1e-9 * 20.0;
        assert!((heated.source_energy_j - expected).abs() < 1e-9 * expected);
        let gained = heated.final_enthalpy_j - heated.initial_enthalpy_j;
        assert!(
            (gained - expected).abs() < 1e-4 * expected,
            "{gained} J vs {expected} J"
        );
        // The start field was used: the first snapshot is it.
        assert_eq!(heated.snapshots[0][3], 3300);
        let plain = run_heated(
            &problem,
            &HeatInputs {
                initial_temperature_c: Some(&start),
                ..HeatInputs::default()
            },
            &|| false,
            &|_| {},
        )
        .unwrap();
        assert_eq!(plain.source_energy_j, 0.0);
        assert!(
            (plain.final_enthalpy_j - plain.initial_enthalpy_j).abs() < 1e-5 * plain.initial_enthalpy_j.abs()
        );
    }

    #[test]
    fn run_streaming_hands_out_every_snapshot_in_order() {
        let problem = slab();
        let mut seen: Vec<(usize, usize, f64, Vec<i16>)> = Vec::new();
        let out = run_streaming(&problem, &|| false, &|_| {}, &mut |e| {
            seen.push((e.index, e.count, e.time_s, e.values.to_vec()));
        })
        .unwrap();
        // 0, the four requested times and the end.
        assert_eq!(out.snapshot_times_s, vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(seen.len(), out.snapshots.len());
        for (i, (index, count, t, v)) in seen.iter().enumerate() {
            assert_eq!((*index, *count), (i, 6));
            assert_eq!(*t, out.snapshot_times_s[i]);
            assert_eq!(v, &out.snapshots[i]);
        }
        // The cold face froze the first node; `run` gives the same bits.
        assert!(out.snapshots[5][0] < 0);
        assert_eq!(
            run(&problem, &|| false, &|_| {}).unwrap().snapshots,
            out.snapshots
        );
    }

    #[test]
    fn cancel_is_seen_between_streamed_snapshots() {
        let problem = slab();
        let stop = std::cell::Cell::new(false);
        let mut n = 0;
        let r = run_streaming(&problem, &|| stop.get(), &|_| {}, &mut |e| {
            n += 1;
            if e.index == 1 {
                stop.set(true);
            }
        });
        assert_eq!(r.unwrap_err(), SolverError::Cancelled);
        assert_eq!(n, 2);
    }
}
