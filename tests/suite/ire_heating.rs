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
    let source = phantom_source(&case);
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

/// The V3 set-up (Ben-David, the IRE calibration set) through the electro-thermal model: the
/// pair's initial and final current and the peak temperature 1 mm from the electrode, printed
/// for the record (`cargo test --test suite v3_electro_thermal -- --nocapture`). The current
/// must rise over the train (σ rises with T), the tissue next to the needle must heat by a few
/// to tens of degrees (REFERENCE.md §2: heating is real within 2–3 mm), and the far field must
/// stay at body temperature.
#[test]
fn v3_electro_thermal_currents_and_peak_temperature() {
    let case = v3_case().unwrap();
    let source = phantom_source(&case);
    let p = builtin_tissue_params().unwrap();
    let settings = case.effective_ire();
    let mut opts = case.model.clone();
    opts.band = false;
    opts.heating.enabled = true;
    let r = ablaplan::physics::ire::model::compute_ire(
        &case.probes,
        &settings,
        source,
        &p,
        &opts,
        &JobCtx::default(),
    )
    .unwrap();
    let h = r.heating.as_ref().expect("heating");
    let pair = &h.pairs[0];
    let r_mm = 0.5335 + 1.0;
    // Beyond the heat grid the tissue stayed at the start temperature.
    let at = |q: PatientPos| {
        h.peak_temperature_at(&q)
            .map_or(h.initial_temperature_c, f64::from)
    };
    let (outside, inside, perp) = (
        at(PatientPos::new(-7.5 - r_mm, 0.0, 0.0)),
        at(PatientPos::new(-7.5 + r_mm, 0.0, 0.0)),
        at(PatientPos::new(-7.5, r_mm, 0.0)),
    );
    println!(
        "V3 electro-thermal ({} × {} µs at {}/min, {} pulses per chunk): {:.0} V, current {:.2} A → {:.2} A \
         (isothermal model {:.2} A); peak {:.1} °C; 1 mm from the electrode, mid-exposure: pair axis outside \
         {outside:.1} °C, inside {inside:.1} °C, perpendicular {perp:.1} °C; CEM43 max {:.1} min, damage zone \
         {:.3} mL; energy {:.0} J electrical, {:.0} J into the heat grid; {} field solves, {} heat stages, \
         heating {:.2} s (field {:.2} s, heat {:.2} s) of {:.2} s",
        settings.pulses,
        settings.pulse_width_us,
        settings.pulse_rate_per_min,
        opts.heating.pulses_per_chunk,
        pair.voltage_v,
        pair.initial_current_a,
        pair.final_current_a,
        r.pairs[0].current_a,
        pair.peak_temperature_c,
        h.max_cem43_min(),
        h.damage_volume_ml,
        h.electrical_energy_j,
        h.source_energy_j,
        h.field_solves,
        h.heat_stages,
        h.elapsed_s,
        h.field_s,
        h.heat_s,
        r.elapsed_s
    );
    assert!(pair.final_current_a > 1.02 * pair.initial_current_a);
    assert!((pair.initial_current_a - r.pairs[0].current_a).abs() < 0.01 * r.pairs[0].current_a);
    assert!(outside > 40.0 && outside < 100.0, "{outside}");
    assert!(pair.peak_temperature_c >= outside);
    // 10 mm out along the pair axis: within a degree of body temperature.
    let far = at(PatientPos::new(-7.5 - 10.0, 0.0, 0.0));
    assert!((far - 37.0).abs() < 1.0, "{far}");
    // The heat grid holds most of the Joule heat (the rest is spread thinly over the far field,
    // hundredths of a degree).
    assert!(h.source_energy_j > 0.8 * h.electrical_energy_j && h.source_energy_j <= h.electrical_energy_j);
}

fn phantom_source(case: &ablaplan::plan::case::CaseFile) -> TissueSource<'_> {
    let CaseSource::Phantom {
        tissue,
        size_mm,
        centre_lps,
    } = &case.source
    else {
        panic!("phantom");
    };
    TissueSource::Phantom {
        class_id: tissue,
        centre_lps: (*centre_lps).into(),
        size_mm: *size_mm,
    }
}

fn shipped_case(name: &str) -> ablaplan::plan::case::CaseFile {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("assets/cases")
        .join(name);
    ablaplan::plan::case::load_case(&path).unwrap()
}

/// The gel study of the IRE calibration set (Ruarus et al., CVIR 2018; REFERENCE.md §7), built as
/// the shipped phantom case `gel_ruarus_2018_heating.json`: the median temperature rise near the
/// electrodes (13.05 °C) and the current rise over the train (9 A) must each come out within
/// ±50 % (`cargo test --test suite gel_heating -- --nocapture` prints them).
#[test]
#[ignore = "fails today (ΔT 27.1 °C at 1 mm vs 13.05 ± 50 %, ΔI 4.2 A vs 9 ± 50 %): the gel's conductivity, \
            the probe position and the rate are assumptions (the study's methods were not available) — see \
            the case's notes"]
fn gel_heating_matches_ruarus_2018_within_half() {
    let case = shipped_case("gel_ruarus_2018_heating.json");
    let p = builtin_tissue_params().unwrap();
    let settings = case.effective_ire();
    let r = ablaplan::physics::ire::model::compute_ire(
        &case.probes,
        &settings,
        phantom_source(&case),
        &p,
        &case.model,
        &JobCtx::default(),
    )
    .unwrap();
    let h = r.heating.as_ref().expect("heating");
    let pair = &h.pairs[0];
    let surface = 0.5335;
    let rise = |d_mm: f64| {
        f64::from(
            h.peak_temperature_at(&PatientPos::new(-7.5 + surface + d_mm, 0.0, 0.0))
                .unwrap(),
        ) - h.initial_temperature_c
    };
    let (dt, di) = (rise(1.0), pair.final_current_a - pair.initial_current_a);
    println!(
        "gel (Ruarus 2018): ΔT 1 mm from the electrode {dt:.1} °C (0.5 mm {:.1}, 2 mm {:.1}; published median 13.05 °C), \
         current {:.1} A → {:.1} A, ΔI {di:.1} A (published median 9 A); peak {:.1} °C; {} field solves, {} heat \
         stages, {:.2} s",
        rise(0.5),
        rise(2.0),
        pair.initial_current_a,
        pair.final_current_a,
        pair.peak_temperature_c,
        h.field_solves,
        h.heat_stages,
        r.elapsed_s
    );
    assert!((0.5 * 13.05..=1.5 * 13.05).contains(&dt), "ΔT {dt:.1} °C");
    assert!((0.5 * 9.0..=1.5 * 9.0).contains(&di), "ΔI {di:.1} A");
}

/// Energy conservation of the whole chain on a closed block (a small gel block, the grid is the
/// block, adiabatic faces, no perfusion, no vessel; the heat grid covers it all): the Joule heat
/// of the pulses (Σ U·I·τ) equals the enthalpy gained, within 1 %. Runs both field updates.
#[test]
fn heating_conserves_energy_on_a_closed_block() {
    let mut case = shipped_case("gel_ruarus_2018_heating.json");
    case.source = CaseSource::Phantom {
        tissue: "gel".into(),
        size_mm: [30.0, 20.0, 30.0],
        centre_lps: [0.0, 0.0, 0.0],
    };
    for (p, x) in case.probes.iter_mut().zip([-5.0, 5.0]) {
        p.tip_lps = PatientPos::new(x, 0.0, -5.0);
        p.entry_lps = PatientPos::new(x, 0.0, 60.0);
        p.exposure_mm = 10.0;
    }
    let mut settings = case.effective_ire();
    settings.pulses = 30;
    settings.pairs[0].voltage_v = 1500.0;
    let p = builtin_tissue_params().unwrap();
    let mut finals = Vec::new();
    for every in [false, true] {
        let mut opts = case.model.clone();
        opts.heating.margin_mm = 40.0;
        opts.heating.cooldown_s = 10.0;
        opts.heating.resolve_every_chunk = every;
        let r = ablaplan::physics::ire::model::compute_ire(
            &case.probes,
            &settings,
            phantom_source(&case),
            &p,
            &opts,
            &JobCtx::default(),
        )
        .unwrap();
        let h = r.heating.as_ref().unwrap();
        assert_eq!(h.grid, r.grid, "the heat grid is the whole block");
        let err = (h.electrical_energy_j - h.enthalpy_change_j).abs() / h.electrical_energy_j;
        println!(
            "closed block (re-solve every chunk: {every}): Joule {:.3} J (U·I·τ), heat source {:.3} J, enthalpy \
             change {:.3} J, error {:.2e}; current {:.2} → {:.2} A",
            h.electrical_energy_j,
            h.source_energy_j,
            h.enthalpy_change_j,
            err,
            h.pairs[0].initial_current_a,
            h.pairs[0].final_current_a
        );
        assert!(h.electrical_energy_j > 1.0);
        assert!(err < 0.01, "energy balance error {err:.2e}");
        finals.push(h.pairs[0].final_current_a);
    }
    // The first-order update between field solves bounds the re-solved current from above
    // (Thomson: the conductance is concave in σ), and closely.
    let (first_order, resolved) = (finals[0], finals[1]);
    assert!(
        first_order >= resolved - 1e-3 && first_order - resolved < 0.02 * resolved,
        "{first_order} vs {resolved}"
    );
}

/// The thermal-dose safety rule (`ire.thermal_injury`, `assets/safety_rules.json`) on the shipped
/// nerve case: with its default limits the nerve 9 mm from the pair's plane is clear (no finding);
/// with the temperature limit edited down to just above body temperature the same nerve fires,
/// naming the rule, the structure and the temperature it reaches.
#[test]
fn thermal_dose_rule_fires_on_the_nerve_when_its_limit_is_reached() {
    use ablaplan::pipeline::{self, ComputeOverrides};
    use ablaplan::plan::rules::Check;
    let path =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/cases/safety_nerve_near_zone.json");
    let assets = ablaplan::physics::model::ModelAssets::builtin().unwrap();
    let ctx = JobCtx::default();
    let mut loaded =
        pipeline::load::load_case(&path, None, &ComputeOverrides::default(), &assets, &ctx).unwrap();
    // The nerve lies 8.5 mm from the electrodes' axis plane: widen the heat grid to reach it.
    if let ablaplan::plan::model_settings::ModelSettings::Ire { model, .. } = &mut loaded.settings {
        model.heating.margin_mm = 12.0;
    }
    let result = pipeline::run_model(&loaded, &assets, &ctx, &mut |_| {}).unwrap();
    let ire = result.ire().unwrap();
    let h = ire.heating.as_ref().expect("heating is on by default");
    let nerve = loaded.structures.iter().find(|s| s.name == "Nerve").unwrap();
    let heat = ablaplan::safety::thermal::structure_heat(ire, nerve, &loaded.structure_geometry)
        .expect("the nerve warms a little");
    println!(
        "nerve: peak {:.2} °C, CEM43 {:.4} min (plan peak {:.1} °C)",
        heat.max_temp_c,
        heat.max_cem43_min,
        h.max_temperature_c()
    );
    let rule = "ire.thermal_injury";
    let report = pipeline::safety(&loaded, &result, &assets);
    assert!(!report.findings.iter().any(|f| f.rule == rule));
    for r in &mut loaded.rules.rules {
        if let Check::ThermalDose { max_temp_c, .. } = &mut r.check {
            max_temp_c.value = heat.max_temp_c - 0.01;
        }
    }
    let report = pipeline::safety(&loaded, &result, &assets);
    let f = report
        .findings
        .iter()
        .find(|f| f.rule == rule)
        .expect("the edited limit fires");
    assert_eq!(f.structure.as_deref(), Some("Nerve"));
    assert!(f.message.contains("°C"), "{}", f.message);
}
