//! Joule heating of an IRE pulse (issue 13, item 1 — the electrical half; the thermal half is
//! `super::thermal`).
//!
//! The source is the discrete dissipation of the same finite-volume scheme the field and the
//! current come from: a link between nodes m and n with coefficient c (S/m, cut-link factors
//! included) and face area h² over distance h dissipates `c · h · (φ_m − φ_n)²` watts (h in m).
//! Half of it is deposited on each end node, divided by the node's volume h³. Summed over every
//! link this is exactly `U · I` at convergence (Σ_links c h Δφ² = Σ_metal φ · flux out = U · I_anode
//! with the cathode at 0 V): energy is conserved by construction, not by a tolerance.
//!
//! The thermal half (`super::thermal`) runs the pulse train in chunks on the heat solver shared
//! with the cryo model (`physics::cryo::solver::run_heated`: a per-node source and start
//! temperature): σ(E, T) = σ(E)·(1 + α (T − T0)) → the Joule source (this density, on a crop) →
//! Pennes over the chunk → T.

use super::field::ElectrodeMask;
use crate::physics::grid::ComputeGrid;
use crate::physics::linalg::Operator;

/// Dissipated power of one pulse: per node (W/m³) and in total (W).
#[derive(Clone, Debug, PartialEq)]
pub struct JoulePower {
    pub density_w_per_m3: Vec<f32>,
    pub total_w: f64,
}

/// Joule power of the potential `phi_v` under the operator `op` (the converged pair operator).
/// Links into fixed (metal) nodes count: the metal itself does not heat, so their half goes to
/// the tissue node.
pub fn joule_power(grid: &ComputeGrid, op: &Operator, phi_v: &[f64]) -> JoulePower {
    let [nx, ny, nz] = grid.dims;
    let h_m = grid.spacing_mm * 1e-3;
    let volume_m3 = h_m.powi(3);
    let mut density = vec![0.0f64; grid.len()];
    let mut total = 0.0;
    for (axis, stride, len) in [(0, 1, nx), (1, nx, ny), (2, nx * ny, nz)] {
        for idx in 0..grid.len() {
            let c = match axis {
                0 => idx % nx,
                1 => (idx / nx) % ny,
                _ => idx / (nx * ny),
            };
            if c + 1 >= len {
                continue;
            }
            let other = idx + stride;
            let g = op.link(axis, idx);
            if g == 0.0 {
                continue;
            }
            let d = phi_v[idx] - phi_v[other];
            let p = g * h_m * d * d;
            total += p;
            match (op.fixed[idx], op.fixed[other]) {
                (true, true) => {}
                (true, false) => density[other] += p / volume_m3,
                (false, true) => density[idx] += p / volume_m3,
                (false, false) => {
                    density[idx] += 0.5 * p / volume_m3;
                    density[other] += 0.5 * p / volume_m3;
                }
            }
        }
    }
    JoulePower {
        density_w_per_m3: density.into_iter().map(|d| d as f32).collect(),
        total_w: total,
    }
}

/// σ at temperature `t_c` from σ at `t0_c` with a linear coefficient `alpha_per_c` (≈ 0.012–0.02
/// per °C, REFERENCE.md §7): σ(E, T) = σ(E) · (1 + α (T − T0)).
pub fn sigma_at_temperature(sigma_s_per_m: f64, alpha_per_c: f64, t_c: f64, t0_c: f64) -> f64 {
    (sigma_s_per_m * (1.0 + alpha_per_c * (t_c - t0_c))).max(0.0)
}

/// Adiabatic temperature rise (°C) of `pulses` pulses of `pulse_width_s` at power density
/// `q_w_per_m3` in tissue of volumetric heat capacity `rho_c_j_per_m3_k` — REFERENCE.md §2:
/// ΔT per pulse = σE²τ/(ρc). An upper bound: it ignores conduction between pulses.
pub fn adiabatic_rise_c(q_w_per_m3: f64, pulses: u32, pulse_width_s: f64, rho_c_j_per_m3_k: f64) -> f64 {
    q_w_per_m3 * f64::from(pulses) * pulse_width_s / rho_c_j_per_m3_k
}

/// Current (A) of the anode from the same links (for the energy check).
pub fn anode_current_a(grid: &ComputeGrid, op: &Operator, phi_v: &[f64], anode: &ElectrodeMask) -> f64 {
    super::current::electrode_current_a(grid, op, phi_v, anode)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::PatientPos;
    use crate::physics::ire::field::{Electrode, electrode_mask, pair_operator};
    use crate::physics::linalg::{Hierarchy, SolveOptions, solve};

    /// Two 19G electrodes 10 mm apart in a small block, heterogeneous σ: Joule power = U · I.
    #[test]
    fn joule_power_equals_voltage_times_current() {
        let grid = ComputeGrid {
            origin_lps: PatientPos::new(-12.0, -8.0, -10.0),
            spacing_mm: 0.5,
            dims: [49, 33, 41],
        };
        let el = |x: f64| Electrode {
            start_lps: PatientPos::new(x, 0.0, -5.0),
            end_lps: PatientPos::new(x, 0.0, 5.0),
            radius_mm: 0.5335,
        };
        let (a, b) = (electrode_mask(&grid, &el(-5.0)), electrode_mask(&grid, &el(5.0)));
        // A conducting inclusion on one side: the identity must not rely on homogeneity.
        let sigma: Vec<f64> = (0..grid.len())
            .map(|i| {
                let [x, y, z] = grid.ijk(i);
                if grid.lps(x, y, z).y > 3.0 { 0.5 } else { 0.1 }
            })
            .collect();
        let op = pair_operator(&grid, &sigma, &[&a, &b]);
        let u = 1500.0;
        let mut phi = vec![0.5 * u; grid.len()];
        for &m in &a.metal {
            phi[m] = u;
        }
        for &m in &b.metal {
            phi[m] = 0.0;
        }
        let mut h = Hierarchy::new(op, &sigma);
        let opts = SolveOptions {
            rel_tol: 1e-10,
            ..SolveOptions::default()
        };
        let report = solve(&mut h, &mut phi, &opts, &|| false).unwrap();
        assert!(report.converged);
        let i = anode_current_a(&grid, h.fine(), &phi, &a);
        let p = joule_power(&grid, h.fine(), &phi);
        let deposited: f64 =
            p.density_w_per_m3.iter().map(|&d| f64::from(d)).sum::<f64>() * (0.5e-3f64).powi(3);
        println!(
            "U·I = {:.3} W, Σ links = {:.3} W, deposited {:.3} W",
            u * i,
            p.total_w,
            deposited
        );
        assert!(i > 0.0);
        assert!(
            (p.total_w - u * i).abs() < 1e-6 * u * i,
            "{} vs {}",
            p.total_w,
            u * i
        );
        // Every watt lands on a tissue node (f32 per node: 1e-5).
        assert!((deposited - p.total_w).abs() < 1e-5 * p.total_w);
        // Hottest next to the electrodes.
        let hottest = p
            .density_w_per_m3
            .iter()
            .enumerate()
            .max_by(|x, y| x.1.total_cmp(y.1))
            .map(|(i, _)| i)
            .unwrap();
        let [x, y, z] = grid.ijk(hottest);
        let q = grid.lps(x, y, z);
        let near = [-5.0, 5.0]
            .iter()
            .any(|&ex| ((q.x - ex).powi(2) + q.y * q.y).sqrt() < 1.5);
        assert!(near, "hottest node at {q:?}");
    }

    #[test]
    fn temperature_law_and_adiabatic_rise() {
        assert!((sigma_at_temperature(0.2, 0.02, 47.0, 37.0) - 0.24).abs() < 1e-12);
        // REFERENCE.md §2: σE²τ/(ρc) — 0.3 S/m at 3000 V/cm, 70 µs, ρc 3.8e6: ≈ 0.5 °C per pulse.
        let q = 0.3 * (3000.0e2f64).powi(2);
        let dt = adiabatic_rise_c(q, 1, 70e-6, 3.8e6);
        assert!((dt - 0.497).abs() < 0.01, "{dt}");
        assert!((adiabatic_rise_c(q, 70, 70e-6, 3.8e6) - 70.0 * dt).abs() < 1e-9);
    }
}
