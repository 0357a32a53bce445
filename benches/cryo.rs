//! The cryo model (issue 5 targets): three probes, the full double-freeze protocol
//! (10 / 9 + 1 / 10 min, 30 simulated minutes) on a 1 mm grid over a 6 cm cube with the
//! uncertainty band (issue 14: target ≤ 2 s on 2 cores) — and the instant preview while dragging
//! (target < 16 ms).

use ablaplan::geometry::PatientPos;
use ablaplan::jobs::JobCtx;
use ablaplan::physics::cryo::model::{CryoAssets, CryoSettings, compute_cryo};
use ablaplan::physics::cryo::preview::preview_cryo;
use ablaplan::physics::cryo::tissue::CryoTissueSource;
use ablaplan::plan::probe::Probe;
use criterion::{Criterion, criterion_group, criterion_main};

/// Three IceSeed-type 17G probes (20 mm active) on a 15 mm triangle (1.5 cm intervals, the cryo
/// study), along −S.
fn probes() -> Vec<Probe> {
    let r = 15.0 / 3f64.sqrt();
    (0..3)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / 3.0 + 0.1;
            let (x, y) = (r * a.cos() + 0.3, r * a.sin() - 0.2);
            Probe {
                model_id: "iceseed".into(),
                tip_lps: PatientPos::new(x, y, -10.0),
                entry_lps: PatientPos::new(x, y, 120.0),
                exposure_mm: 20.0,
                label: format!("{}", i + 1),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let assets = CryoAssets::builtin().expect("assets");
    let probes = probes();
    let mut settings = CryoSettings::default();
    // The grid: the probes' box (≈ 13 × 15 × 20 mm) plus 20 mm ≈ a 6 cm cube at 1 mm.
    settings.model.margin_mm = 20.0;
    let tissue = CryoTissueSource::Phantom {
        class_id: "soft_tissue",
        centre_lps: PatientPos::new(0.0, 0.0, 0.0),
        size_mm: [200.0, 200.0, 200.0],
        temperature_c: 37.0,
    };
    let ctx = JobCtx::default();
    {
        let r = compute_cryo(&probes, &settings, tissue, &assets, &ctx).expect("cryo");
        let s = r.end_of_last_freeze_snapshot();
        let axes = ablaplan::physics::cryo::model::iceball_axes(&probes).expect("axes");
        eprintln!(
            "cryo_full: grid {:?} ({} nodes), {} stages (Euler step {:.3} s), {} snapshots, {:.2} s",
            r.grid.dims,
            r.grid.len(),
            r.stages,
            r.dt_euler_s,
            r.snapshot_count(),
            r.elapsed_s
        );
        for t in [0.0, -20.0, -40.0] {
            let z = r.isotherm_size(s, t, axes);
            eprintln!("  {t} °C: {:.1} mL, extents {:.1?} mm", z.volume_ml, z.extents_mm);
        }
        if let Some(b) = &r.band {
            use ablaplan::physics::band::Surface;
            eprintln!(
                "  band (on a {} mm grid): lethal {:.1} / {:.1} / {:.1} mL, 0 °C {:.1} / {:.1} / {:.1} mL",
                b.band_spacing_mm,
                b.lethal.volume_ml(Surface::Inner),
                b.lethal.volume_ml(Surface::Nominal),
                b.lethal.volume_ml(Surface::Outer),
                b.iceball.volume_ml(Surface::Inner),
                b.iceball.volume_ml(Surface::Nominal),
                b.iceball.volume_ml(Surface::Outer)
            );
        }
        for (i, e) in (0..r.wall_temperature.len()).filter_map(|i| r.wall_at(i, 600.0).map(|e| (i, e))) {
            eprintln!(
                "  probe {}: wall {:.1} °C, {:.1} W at 10 min",
                i + 1,
                e.wall_c,
                e.cooling_power_w
            );
        }
    }
    let mut g = c.benchmark_group("cryo");
    g.sample_size(10);
    g.bench_function("full_3_probes_30min_1mm_6cm", |b| {
        b.iter(|| compute_cryo(&probes, &settings, tissue, &assets, &ctx).expect("cryo"))
    });
    // Warm the single-probe cache once (the GUI does this in a job), then time the preview.
    preview_cryo(&probes, &settings, tissue, &assets).expect("warm");
    g.sample_size(50);
    g.bench_function("preview_3_probes", |b| {
        b.iter(|| preview_cryo(&probes, &settings, tissue, &assets).expect("preview"))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
