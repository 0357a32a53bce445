//! The full safety pass on the demo case (issue 6 target: < 100 ms for 6 structures and 3
//! zones): the demo's target node, aorta, IVC, bowel loop, genitofemoral nerve and one iliac
//! artery on the demo CT grid (480 × 400 × 130 at 0.8 × 0.8 × 2 mm); zones: the IRE preview of
//! two electrodes across the node (1.5 mm grid) and two spheres around the node (an iceball at
//! 1 mm and a lethal zone at 0.5 mm); two probe paths. "warm" reuses the structures' distance
//! maps (the GUI's case while probes move), "cold" computes them too.

use ablaplan::anatomy::demo_structures;
use ablaplan::anatomy::structure::Structure;
use ablaplan::demo::{demo_anatomy, demo_geometry};
use ablaplan::geometry::PatientPos;
use ablaplan::physics::ire::model::{IreModelOptions, TissueSource, preview_ire};
use ablaplan::plan::ire::{IreSettings, default_pairs};
use ablaplan::plan::probe::Probe;
use ablaplan::plan::tissue_params::builtin_tissue_params;
use ablaplan::safety::{PairCurrent, SafetyCache, SafetyInput, Zone, ZoneKind, builtin_rules, run_safety};
use criterion::{Criterion, criterion_group, criterion_main};

fn probe(x: f64, label: &str) -> Probe {
    // Anterior approach along +P through the node (centre L 42, P 4, S −200).
    Probe {
        model_id: "nanoknife_19g".into(),
        tip_lps: PatientPos::new(x, 14.0, -200.0),
        entry_lps: PatientPos::new(x, -110.0, -200.0),
        exposure_mm: 20.0,
        label: label.into(),
    }
}

fn bench(c: &mut Criterion) {
    let g = demo_geometry();
    let all = demo_structures(&demo_anatomy(), &g);
    let wanted = ["Lymph node", "Aorta", "IVC", "Bowel", "nerve", "iliac"];
    let structures: Vec<Structure> = wanted
        .iter()
        .filter_map(|w| all.iter().find(|s| s.name.contains(w)).cloned())
        .collect();
    assert_eq!(
        structures.len(),
        6,
        "{:?}",
        all.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    let probes = vec![probe(34.5, "1"), probe(49.5, "2")];
    let mut settings = IreSettings::default();
    settings.pairs = default_pairs(&probes, &settings);
    let params = builtin_tissue_params().expect("tissues");
    let node = PatientPos::new(42.0, 4.0, -200.0);
    let tissue = TissueSource::Phantom {
        class_id: "soft_tissue",
        centre_lps: node,
        size_mm: [150.0, 150.0, 150.0],
    };
    let preview =
        preview_ire(&probes, &settings, tissue, &params, &IreModelOptions::default()).expect("preview");
    let zones = vec![
        Zone::from_ire(&preview, "IRE preview"),
        Zone::sphere(
            "Iceball 0 °C",
            ZoneKind::CryoIsotherm { temp_c: 0.0 },
            node,
            17.0,
            1.0,
        ),
        Zone::sphere(
            "Lethal −40 °C",
            ZoneKind::CryoLethal { temp_c: -40.0 },
            node,
            13.0,
            0.5,
        ),
    ];
    let currents = PairCurrent::from_ire(&preview, &probes);
    let rules = builtin_rules().expect("rules");
    let input = SafetyInput {
        geometry: &g,
        structures: &structures,
        zones: &zones,
        probes: &probes,
        currents: &currents,
        rules: &rules,
    };
    let mut cache = SafetyCache::default();
    let r = run_safety(&input, &mut cache);
    eprintln!(
        "safety: {} structures, {} zones, status {:?}, {} findings, {} distances, {} margins, {} path stretches",
        structures.len(),
        zones.len(),
        r.status,
        r.findings.len(),
        r.distances.len(),
        r.margins.len(),
        r.paths.len()
    );
    for f in &r.findings {
        eprintln!("  [{:?}] {} ({})", f.severity, f.message, f.rule);
    }
    let mut grp = c.benchmark_group("safety");
    grp.sample_size(20);
    grp.bench_function("demo_6_structures_3_zones_warm", |b| {
        b.iter(|| run_safety(&input, &mut cache))
    });
    grp.bench_function("demo_6_structures_3_zones_cold", |b| {
        b.iter(|| run_safety(&input, &mut SafetyCache::default()))
    });
    grp.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
