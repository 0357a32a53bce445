//! Joule heating of the V3 set-up (issue 13, item 1 — the electrical half and an adiabatic
//! bound; the Pennes half needs the shared heat solver's source hook, see
//! `physics::ire::heating`).

use ablaplan::geometry::PatientPos;
use ablaplan::jobs::JobCtx;
use ablaplan::physics::ire::calibrate::v3_case;
use ablaplan::physics::ire::heating::adiabatic_rise_c;
use ablaplan::physics::ire::model::{TissueSource, pulse_joule};
use ablaplan::physics::ire::zone::trilinear;
use ablaplan::plan::case::CaseSource;
use ablaplan::plan::tissue_params::builtin_tissue_params;

/// Prints the V3 pulse's current, the Joule power density 1 mm outside the electrode, the
/// adiabatic temperature rise there over 70 × 70 µs and 90 × 100 µs, and the first-order current
/// at the end of the train (an upper bound: no conduction, no perfusion):
/// `cargo test --test suite v3_heating -- --ignored --nocapture`.
#[test]
#[ignore]
fn v3_heating_adiabatic_bound() {
    let p = builtin_tissue_params().unwrap();
    let cryo = ablaplan::physics::cryo::tissue::builtin_cryo_tissues().unwrap();
    let liver = cryo.class("liver").unwrap();
    let rho_c = liver.density_kg_per_m3.value * liver.c_unfrozen_j_per_kg_k.value;
    let alpha = p.heating.as_ref().unwrap().temperature_coefficient_per_c.value;
    let case = v3_case().unwrap();
    let CaseSource::Phantom {
        tissue,
        size_mm,
        centre_lps,
    } = &case.source
    else {
        panic!("phantom");
    };
    let source = TissueSource::Phantom {
        class_id: tissue,
        centre_lps: (*centre_lps).into(),
        size_mm: *size_mm,
    };
    let settings = case.effective_ire();
    let j = pulse_joule(
        &case.probes,
        &settings,
        source,
        &p,
        &case.model,
        0,
        &JobCtx::default(),
    )
    .unwrap();
    let u = j.pair.voltage_v;
    println!(
        "V3 pulse: {u} V, {:.2} A, Joule power {:.0} W (U·I {:.0} W)",
        j.pair.current_a,
        j.power.total_w,
        u * j.pair.current_a
    );
    // 1 mm from the electrode surface (radius 0.5335 mm), mid-exposure, on the outer side along
    // the pair axis and perpendicular to the electrode plane.
    let r = 0.5335 + 1.0;
    for (what, q) in [
        ("pair axis, outside", PatientPos::new(-7.5 - r, 0.0, 0.0)),
        ("pair axis, inside", PatientPos::new(-7.5 + r, 0.0, 0.0)),
        ("perpendicular", PatientPos::new(-7.5, r, 0.0)),
    ] {
        let d = f64::from(trilinear(&j.grid, &j.power.density_w_per_m3, &q).unwrap());
        println!(
            "  1 mm from the electrode ({what}): {:.2e} W/m³ → adiabatic +{:.1} °C per pulse; 70 × 70 µs +{:.0} °C, \
             90 × 100 µs +{:.0} °C",
            d,
            adiabatic_rise_c(d, 1, 70e-6, rho_c),
            adiabatic_rise_c(d, 70, 70e-6, rho_c),
            adiabatic_rise_c(d, 90, 100e-6, rho_c)
        );
    }
    // First order at fixed voltage: dP = Σ (dσ/σ) P_node (the field adjusts at second order),
    // dI = dP / U, with dσ/σ = α ΔT and ΔT adiabatic per node.
    let vol_m3 = (j.grid.spacing_mm * 1e-3).powi(3);
    for (pulses, width_s) in [(70u32, 70e-6), (90, 100e-6)] {
        let dp: f64 = j
            .power
            .density_w_per_m3
            .iter()
            .map(|&d| {
                let d = f64::from(d);
                let dt = adiabatic_rise_c(d, pulses, width_s, rho_c).min(63.0); // ≤ 100 °C
                alpha * dt * d * vol_m3
            })
            .sum();
        println!(
            "  {pulses} × {:.0} µs: current {:.2} A → ≤ {:.2} A at the end of the train (adiabatic, α = {alpha}/°C)",
            width_s * 1e6,
            j.pair.current_a,
            j.pair.current_a + dp / u
        );
    }
    assert!((j.power.total_w - u * j.pair.current_a).abs() < 1e-3 * u * j.pair.current_a);
}
