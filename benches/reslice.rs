//! Oblique reslicing for the along-probe view: a 256 × 256 oblique plane through the demo CT
//! (trilinear), the nearest-voxel sampling of all demo structures on it, and the two default
//! probe planes. Target: a few ms, so the view re-renders while a slider is dragged.

use ablaplan::anatomy::demo_structures;
use ablaplan::demo::{demo_anatomy, demo_volume};
use ablaplan::plan::probe::Probe;
use ablaplan::render::reslice::{
    ObliquePlane, ProbePlaneOptions, in_plane_for_probe, plane_voxels, probes_eye_for_probe, render_reslice,
    reslice_volume, sample_mask,
};
use ablaplan::render::{WindowLevel, WlLut};
use criterion::{Criterion, criterion_group, criterion_main};
use nalgebra::{Point3, Vector3};
use std::hint::black_box;

fn bench_reslice(c: &mut Criterion) {
    let vol = demo_volume();
    // Through the demo's target node, tilted out of every voxel axis.
    let plane = ObliquePlane::new(
        Point3::new(42.0, 4.0, -200.0),
        Vector3::new(0.8, 0.3, -0.2),
        Vector3::new(-0.2, 0.7, 0.6),
        [0.4, 0.4],
        256,
        256,
    )
    .expect("valid plane");
    c.bench_function("reslice_oblique_256x256_demo", |b| {
        b.iter(|| black_box(reslice_volume(&vol, black_box(&plane))))
    });

    let lut = WlLut::new(WindowLevel::new(40.0, 400.0));
    let r = reslice_volume(&vol, &plane);
    let mut rgba = Vec::new();
    c.bench_function("render_reslice_256x256", |b| {
        b.iter(|| {
            render_reslice(black_box(&r), &lut, &mut rgba);
            black_box(&rgba);
        })
    });

    let structures = demo_structures(&demo_anatomy(), &vol.geometry);
    c.bench_function("sample_demo_structures_oblique_256x256", |b| {
        b.iter(|| {
            let pv = plane_voxels(&vol.geometry, black_box(&plane));
            let masks: Vec<Vec<bool>> = structures.iter().map(|s| sample_mask(s.mask(), &pv)).collect();
            black_box(masks)
        })
    });

    let probe = Probe {
        model_id: "nanoknife-19g".into(),
        tip_lps: Point3::new(42.0, 4.0, -200.0),
        entry_lps: Point3::new(150.0, 40.0, -190.0),
        exposure_mm: 20.0,
        label: "1".into(),
    };
    let opts = ProbePlaneOptions::default();
    c.bench_function("probe_view_both_planes_default", |b| {
        b.iter(|| {
            let ip = in_plane_for_probe(&probe, &vol.geometry, &opts).expect("plane");
            let eye = probes_eye_for_probe(&probe, &vol.geometry, &opts).expect("plane");
            black_box((reslice_volume(&vol, &ip), reslice_volume(&vol, &eye)))
        })
    });
}

criterion_group!(benches, bench_reslice);
criterion_main!(benches);
