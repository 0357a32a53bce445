//! Instant IRE preview: an analytic field, no linear solve.
//!
//! Approximation (shown to the user as "preview"): each pulsed pair is two uniformly charged line
//! segments — the exposed parts, `+q` on the anode and `−q` on the cathode — in a homogeneous,
//! linear (constant σ) medium without outer boundary. The potential of a segment of length `L`
//! with end distances `r₁`, `r₂` is `k·ln((r₁+r₂+L)/(r₁+r₂−L))`; `k` is set so that the potential
//! difference between the two electrode surfaces (at mid-length) is the pair's voltage. |E| is
//! the exact gradient of that potential, evaluated on a coarse grid; points inside the metal
//! are evaluated on the surface. The running maximum over pairs and the zone follow as in the full
//! model.
//!
//! What it leaves out: the conductivity rise with field (the full nonlinear model grows the zone,
//! notably perpendicular to the electrode plane), tissue heterogeneity (σ; the thresholds are still
//! per tissue class), the charge concentrating at the electrode ends (the real field is higher at
//! the tips) and the zero-flux outer boundary. With homogeneous σ the field does not depend on σ,
//! so the preview's zone is the linear model's zone up to those end effects.

use super::field::Electrode;
use crate::geometry::PatientPos;
use crate::physics::grid::ComputeGrid;
use crate::plan::checks::closest_point_on_segment;
use nalgebra::Vector3;
use rayon::prelude::*;

/// Grid spacing of the preview (mm): coarse enough for a few 10⁴ nodes around a 4-electrode
/// array, fine enough to show the zone's shape while dragging.
pub const PREVIEW_SPACING_MM: f64 = 1.5;
/// Largest margin of the preview grid (mm): the zone of a 3,000 V pair ends within about 10 mm
/// of the electrodes; the preview stays cheap when the model's margin is larger.
pub const PREVIEW_MARGIN_MM: f64 = 12.0;

/// A segment with precomputed length.
struct Seg {
    a: PatientPos,
    b: PatientPos,
    len: f64,
    radius: f64,
}

impl Seg {
    fn new(e: &Electrode) -> Self {
        Self {
            a: e.start_lps,
            b: e.end_lps,
            len: (e.end_lps - e.start_lps).norm(),
            radius: e.radius_mm,
        }
    }

    /// Closest point on the axis.
    fn closest(&self, p: &PatientPos) -> PatientPos {
        closest_point_on_segment(p, &self.a, &self.b)
    }

    /// `p` moved radially onto the surface when inside the metal.
    fn outside_point(&self, p: &PatientPos) -> PatientPos {
        let c = self.closest(p);
        let d = (p - c).norm();
        if d >= self.radius {
            return *p;
        }
        let dir = if d > 1e-9 * self.radius {
            (p - c) / d
        } else {
            any_perpendicular(&(self.b - self.a))
        };
        c + dir * self.radius
    }

    /// Potential shape function `ln((r₁+r₂+L)/(r₁+r₂−L))`.
    fn potential(&self, p: &PatientPos) -> f64 {
        let s = (p - self.a).norm() + (p - self.b).norm();
        ((s + self.len) / (s - self.len).max(1e-12)).ln()
    }

    /// Gradient of [`Self::potential`] (1/mm).
    fn gradient(&self, p: &PatientPos) -> Vector3<f64> {
        let (d1, d2) = (p - self.a, p - self.b);
        let (r1, r2) = (d1.norm().max(1e-12), d2.norm().max(1e-12));
        let s = r1 + r2;
        let denom = ((s - self.len) * (s + self.len)).max(1e-12);
        -(d1 / r1 + d2 / r2) * (2.0 * self.len / denom)
    }
}

fn any_perpendicular(axis: &Vector3<f64>) -> Vector3<f64> {
    let a = axis.try_normalize(1e-12).unwrap_or_else(Vector3::z);
    let t = if a.x.abs() < 0.9 {
        Vector3::x()
    } else {
        Vector3::y()
    };
    (t - a * a.dot(&t)).normalize()
}

/// One pair of the analytic model.
pub struct AnalyticPair {
    anode: Seg,
    cathode: Seg,
    /// Potential scale (V): φ = k·(F_anode − F_cathode).
    k_v: f64,
}

impl AnalyticPair {
    pub fn new(anode: &Electrode, cathode: &Electrode, voltage_v: f64) -> Self {
        let (a, c) = (Seg::new(anode), Seg::new(cathode));
        // Surface points at mid-length, on the side perpendicular to both the axis and the line
        // between the electrodes (the average of the near and far sides).
        let surface = |s: &Seg, other: &Seg| {
            let mid = nalgebra::center(&s.a, &s.b);
            let axis = s.b - s.a;
            let to_other = nalgebra::center(&other.a, &other.b) - mid;
            let side = axis
                .cross(&to_other)
                .try_normalize(1e-12)
                .unwrap_or_else(|| any_perpendicular(&axis));
            mid + side * s.radius
        };
        let (pa, pc) = (surface(&a, &c), surface(&c, &a));
        let shape = |p: &PatientPos| a.potential(p) - c.potential(p);
        let delta = shape(&pa) - shape(&pc);
        let k_v = if delta.abs() > 1e-12 {
            voltage_v / delta
        } else {
            0.0
        };
        Self {
            anode: a,
            cathode: c,
            k_v,
        }
    }

    /// |E| (V/cm) at `p`.
    pub fn field_v_per_cm(&self, p: &PatientPos) -> f64 {
        let q = self.cathode.outside_point(&self.anode.outside_point(p));
        let g = self.anode.gradient(&q) - self.cathode.gradient(&q);
        self.k_v.abs() * g.norm() * 10.0
    }

    /// Current (A) for a homogeneous conductivity `sigma_s_per_m`: the line charge is the
    /// current per unit length leaving the anode, `I' = 4πσk`.
    pub fn current_a(&self, sigma_s_per_m: f64) -> f64 {
        4.0 * std::f64::consts::PI * sigma_s_per_m * self.k_v * self.anode.len * 1e-3
    }
}

/// Running maximum over `pairs` of the analytic |E| on every node of `grid` (V/cm).
pub fn max_field(grid: &ComputeGrid, pairs: &[AnalyticPair]) -> Vec<f32> {
    let [nx, ny, _] = grid.dims;
    let mut out = vec![0.0f32; grid.len()];
    out.par_chunks_mut(nx * ny).enumerate().for_each(|(k, plane)| {
        for (idx, v) in plane.iter_mut().enumerate() {
            let p = grid.lps(idx % nx, idx / nx, k);
            let e = pairs
                .iter()
                .map(|pr| pr.field_v_per_cm(&p))
                .fold(0.0f64, f64::max);
            *v = e as f32;
        }
    });
    out
}
