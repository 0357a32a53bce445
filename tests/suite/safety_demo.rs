//! The demo case: two IRE electrodes across the target node whose tips reach towards the
//! genitofemoral nerve fire the nerve finding; pulling them back clears it. The zone is the
//! instant preview (in a soft-tissue block, so no CT has to be generated).

use ablaplan::anatomy::demo_structures;
use ablaplan::anatomy::demo_structures::NERVE_NAME;
use ablaplan::anatomy::structure::{Structure, StructureKind};
use ablaplan::demo::{demo_anatomy, demo_geometry};
use ablaplan::geometry::PatientPos;
use ablaplan::physics::ire::model::{IreModelOptions, TissueSource, preview_ire};
use ablaplan::plan::ire::{IreSettings, default_pairs};
use ablaplan::plan::probe::Probe;
use ablaplan::plan::tissue_params::builtin_tissue_params;
use ablaplan::safety::{
    Light, PairCurrent, SafetyCache, SafetyInput, SafetyReport, Zone, builtin_rules, run_safety,
};

/// Two electrodes 15 mm apart along L through the node (centre L 42, P 4, S −200), inserted
/// from anterior along +P with their tips at P = `tip_p`.
fn probes(tip_p: f64) -> Vec<Probe> {
    [(34.5, "1"), (49.5, "2")]
        .into_iter()
        .map(|(x, label)| Probe {
            model_id: "nanoknife_19g".into(),
            tip_lps: PatientPos::new(x, tip_p, -200.0),
            entry_lps: PatientPos::new(x, -110.0, -200.0),
            exposure_mm: 20.0,
            label: label.into(),
        })
        .collect()
}

fn run(structures: &[Structure], tip_p: f64, cache: &mut SafetyCache) -> SafetyReport {
    let g = demo_geometry();
    let probes = probes(tip_p);
    let mut settings = IreSettings::default();
    settings.pairs = default_pairs(&probes, &settings);
    let params = builtin_tissue_params().unwrap();
    let tissue = TissueSource::Phantom {
        class_id: "soft_tissue",
        centre_lps: PatientPos::new(42.0, 4.0, -200.0),
        size_mm: [150.0, 150.0, 150.0],
    };
    let preview = preview_ire(&probes, &settings, tissue, &params, &IreModelOptions::default()).unwrap();
    let zones = [Zone::from_ire(&preview, "IRE zone")];
    let currents = PairCurrent::from_ire(&preview, &probes);
    let rules = builtin_rules().unwrap();
    let input = SafetyInput {
        geometry: &g,
        structures,
        zones: &zones,
        probes: &probes,
        currents: &currents,
        rules: &rules,
    };
    run_safety(&input, cache)
}

#[test]
fn probe_near_the_nerve_fires_and_moving_it_away_clears() {
    let g = demo_geometry();
    let structures = demo_structures(&demo_anatomy(), &g);
    assert!(structures.iter().any(|s| s.kind == StructureKind::Nerve));
    let mut cache = SafetyCache::default();
    let nerve_finding = |r: &SafetyReport| {
        r.findings
            .iter()
            .find(|f| f.rule == "ire.nerve_near_zone" && f.structure.as_deref() == Some(NERVE_NAME))
            .cloned()
    };
    // Tips 3 mm beyond the node's posterior edge (P 12.5): the zone reaches the nerve.
    let near = run(&structures, 15.5, &mut cache);
    let f = nerve_finding(&near).unwrap_or_else(|| panic!("no nerve finding: {:#?}", near.distances));
    assert_eq!(near.status, Light::Red);
    assert_eq!(near.findings[0].light, Light::Red, "sorted worst first");
    let [a, b] = f.caliper_lps.expect("caliper");
    assert!((a - b).norm() < 8.0, "caliper {a:?} → {b:?}");
    assert!(f.source.contains("Narayanan"), "{}", f.source);
    let maps = cache.len();
    // Pulled back 12 mm: the nerve is clear (the cached maps are reused).
    let far = run(&structures, 3.5, &mut cache);
    assert!(
        nerve_finding(&far).is_none(),
        "still fires: {:?}",
        far.findings.iter().map(|f| &f.message).collect::<Vec<_>>()
    );
    let d = far
        .distances
        .iter()
        .find(|d| d.structure == NERVE_NAME)
        .and_then(|d| d.distance)
        .expect("distance");
    assert!(d.lower_mm >= 2.0, "{d:?}");
    assert_eq!(cache.len(), maps, "maps reused");
    // The node's margin is reported with its distribution.
    let m = far.margins.first().expect("margin");
    assert!(m.coverage > 0.0 && !m.surface.is_empty());
}
