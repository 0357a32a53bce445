//! Current delivered by an electrode: the exact discrete flux out of its metal.
//!
//! The finite-volume scheme conserves current link by link: the flux across the face between
//! nodes `m` and `n` is `c · h · (φ_m − φ_n)` (coefficient `c` in S/m — already including the
//! cut-link factor —, face area h², distance h; h in m gives amperes). Summing it over every link
//! that leaves the anode's metal is the current through the closed surface formed by those faces,
//! and, at convergence, equals the current through any larger closed surface around the anode
//! (the free nodes in between have zero net flux), so it is the predicted pulse current.

use super::field::ElectrodeMask;
use crate::physics::grid::ComputeGrid;
use crate::physics::linalg::Operator;

/// Net current (A) leaving the metal of `electrode` (positive for the anode).
pub fn electrode_current_a(
    grid: &ComputeGrid,
    op: &Operator,
    phi_v: &[f64],
    electrode: &ElectrodeMask,
) -> f64 {
    let h_m = grid.spacing_mm * 1e-3;
    electrode
        .cuts
        .iter()
        .map(|c| op.link(c.axis, c.link) * h_m * (phi_v[c.metal] - phi_v[c.outside]))
        .sum()
}
