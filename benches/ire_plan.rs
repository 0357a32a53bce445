//! The IRE plan model: a 4-electrode square array (15 mm, 2 cm exposure, 6 pairs at
//! 1,500 V/cm → 2,250 V sides, 3,000 V-capped diagonals) in liver, full nonlinear σ(E) at 0.5 mm
//! with the uncertainty band (issue 13 target ≤ 2.5 s, and ≤ 1.5× the plan without the band;
//! issue 4: ≤ 2 s without), the same with the electro-thermal model over the 6 trains of 70 × 70 µs
//! (issue 13 item 1: ≤ 2.5 s with band and heating), and the instant preview (target < 16 ms; the
//! preview never heats).

use ablaplan::geometry::PatientPos;
use ablaplan::jobs::JobCtx;
use ablaplan::physics::ire::model::{IreModelOptions, TissueSource, compute_ire, preview_ire};
use ablaplan::plan::ire::IreSettings;
use ablaplan::plan::probe::{ArrayTemplate, Probe, parallel_array};
use ablaplan::plan::tissue_params::builtin_tissue_params;
use criterion::{Criterion, criterion_group, criterion_main};
use nalgebra::Vector3;

fn square_array() -> Vec<Probe> {
    let t = ArrayTemplate::centred(
        "nanoknife_19g",
        4,
        15.0,
        PatientPos::new(0.3, -0.2, 0.1),
        Vector3::z(),
        Vector3::x(),
        20.0,
        150.0,
    );
    parallel_array(&t).expect("template")
}

fn bench(c: &mut Criterion) {
    let probes = square_array();
    let settings = IreSettings::default();
    let params = builtin_tissue_params().expect("tissues");
    let tissue = TissueSource::Phantom {
        class_id: "liver",
        centre_lps: PatientPos::new(0.0, 0.0, 0.0),
        size_mm: [200.0, 200.0, 200.0],
    };
    let mut opts = IreModelOptions::default();
    opts.heating.enabled = true;
    let ctx = JobCtx::default();
    {
        let r = compute_ire(&probes, &settings, tissue, &params, &opts, &ctx).expect("plan");
        eprintln!(
            "ire_plan: grid {:?} ({} nodes), {} linear iterations, {:.2} s, zone {:.2} mL",
            r.grid.dims,
            r.grid.len(),
            r.linear_iterations,
            r.elapsed_s,
            r.zone_volume_ml
        );
        if let Some(b) = &r.band {
            use ablaplan::physics::band::Surface;
            eprintln!(
                "  band: inner {:.2} mL, nominal {:.2} mL, outer {:.2} mL; {}",
                b.volume_ml(Surface::Inner),
                b.volume_ml(Surface::Nominal),
                b.volume_ml(Surface::Outer),
                b.parameters
                    .iter()
                    .map(|p| format!("{} {}/{}/{} {}", p.name, p.inner, p.nominal, p.outer, p.unit))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        if let Some(h) = &r.heating {
            eprintln!(
                "  heating: heat grid {:?}, {} field solves ({:.2} s), {} heat stages ({:.2} s); peak {:.1} °C, \
                 CEM43 max {:.1} min, damage {:.3} mL",
                h.grid.dims,
                h.field_solves,
                h.field_s,
                h.heat_stages,
                h.heat_s,
                h.max_temperature_c(),
                h.max_cem43_min(),
                h.damage_volume_ml
            );
            for p in &h.pairs {
                eprintln!(
                    "    pair {}-{}: {:.1} A → {:.1} A, peak {:.1} °C",
                    p.a, p.b, p.initial_current_a, p.final_current_a, p.peak_temperature_c
                );
            }
        }
        for p in &r.pairs {
            eprintln!(
                "  pair {}-{}: {:.0} V, {:.1} mm, {:.1} A, {} nonlinear / {} linear iterations, converged {}",
                p.a,
                p.b,
                p.voltage_v,
                p.spacing_mm,
                p.current_a,
                p.nonlinear_iterations,
                p.linear_iterations,
                p.converged
            );
        }
        let pv = preview_ire(&probes, &settings, tissue, &params, &opts).expect("preview");
        eprintln!(
            "ire_plan preview: grid {:?}, zone {:.2} mL (full model {:.2} mL)",
            pv.grid.dims, pv.zone_volume_ml, r.zone_volume_ml
        );
    }
    let mut g = c.benchmark_group("ire_plan");
    g.sample_size(10);
    g.bench_function("full_nonlinear_4_electrodes_0p5mm_with_band_and_heating", |b| {
        b.iter(|| compute_ire(&probes, &settings, tissue, &params, &opts, &ctx).expect("plan"))
    });
    let mut cold = opts.clone();
    cold.heating.enabled = false;
    g.bench_function("full_nonlinear_4_electrodes_0p5mm_with_band", |b| {
        b.iter(|| compute_ire(&probes, &settings, tissue, &params, &cold, &ctx).expect("plan"))
    });
    let no_band = IreModelOptions {
        band: false,
        ..cold.clone()
    };
    g.bench_function("full_nonlinear_4_electrodes_0p5mm_no_band", |b| {
        b.iter(|| compute_ire(&probes, &settings, tissue, &params, &no_band, &ctx).expect("plan"))
    });
    g.finish();
    let mut g = c.benchmark_group("ire_preview");
    g.bench_function("preview_4_electrodes", |b| {
        b.iter(|| preview_ire(&probes, &settings, tissue, &params, &opts).expect("preview"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
