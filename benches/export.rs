//! Export benchmarks (CPU): one demo axial view with overlays at 1× and 4×, the 1920 × 1080 board
//! slide, and the Kaplan–Meier fit of a 1000-subject cohort.

use ablaplan::anatomy::mask::Mask;
use ablaplan::demo::demo_volume;
use ablaplan::export::{
    BoardSlide, Isoline, Overlay, ProbeOverlay, Provenance, StructureOverlay, ViewExport, ViewPlane,
    ZoneOverlay, render_slide, render_view,
};
use ablaplan::geometry::PatientPos;
use ablaplan::review::{KaplanMeier, Observation};
use ablaplan::volume::ViewKind;
use criterion::{Criterion, criterion_group, criterion_main};
use nalgebra::Vector3;
use std::hint::black_box;

/// A ball of radius 15 mm around the demo's centre as a structure, a zone and |E|-like field.
fn overlays(mask: &Mask, centre: PatientPos) -> Vec<Overlay<'_>> {
    vec![
        Overlay::Structure(StructureOverlay {
            name: "node".into(),
            mask,
            colour: [230, 60, 60],
            fill_opacity: 0.35,
        }),
        Overlay::Zone(ZoneOverlay {
            name: "zone".into(),
            colour: [255, 140, 30],
            fill_opacity: 0.3,
            inside: Box::new(move |p: &PatientPos| (p - centre).norm() < 18.0),
            field: Some(Box::new(move |p: &PatientPos| {
                2000.0 / (1.0 + (p - centre).norm() as f32)
            })),
            isolines: [300.0f32, 500.0, 700.0]
                .iter()
                .map(|v| Isoline {
                    value: *v,
                    label: format!("{v} V/cm"),
                    colour: [90, 140, 255],
                })
                .collect(),
            bounds_lps: Some([centre - Vector3::repeat(40.0), centre + Vector3::repeat(40.0)]),
            band: Vec::new(),
            outlines: Vec::new(),
        }),
        Overlay::Probes(vec![ProbeOverlay {
            label: "1".into(),
            tip_lps: centre + Vector3::new(0.0, 10.0, 0.0),
            entry_lps: centre + Vector3::new(0.0, -120.0, 0.0),
            exposure_mm: 20.0,
            diameter_mm: 1.1,
        }]),
    ]
}

fn bench_export(c: &mut Criterion) {
    let v = demo_volume();
    let g = &v.geometry;
    let centre = g.to_patient(&Vector3::new(240.0, 200.0, 64.0));
    let dense: Vec<bool> = (0..g.voxel_count())
        .map(|n| {
            let (i, j, k) = (
                n % g.dims[0],
                (n / g.dims[0]) % g.dims[1],
                n / (g.dims[0] * g.dims[1]),
            );
            (g.to_patient(&Vector3::new(i as f64, j as f64, k as f64)) - centre).norm() < 15.0
        })
        .collect();
    let mask = Mask::from_dense(g.dims, &dense);
    for scale in [1u32, 4] {
        c.bench_function(&format!("export_axial_480x400_overlays_{scale}x"), |b| {
            b.iter(|| {
                let mut e = ViewExport::new(
                    &v,
                    ViewPlane::Mpr {
                        view: ViewKind::Axial,
                        slice: 64,
                    },
                );
                e.scale = scale;
                e.overlays = overlays(&mask, centre);
                black_box(render_view(&e).map(|i| i.image.pixels.len()).unwrap_or(0))
            })
        });
    }
    c.bench_function("export_board_slide_1920x1080", |b| {
        b.iter(|| {
            let views = [
                (ViewKind::Axial, 64),
                (ViewKind::Coronal, 200),
                (ViewKind::Sagittal, 240),
            ]
            .into_iter()
            .map(|(view, slice)| {
                let mut e = ViewExport::new(&v, ViewPlane::Mpr { view, slice });
                e.overlays = overlays(&mask, centre);
                (view.name().to_string(), e)
            })
            .collect();
            let slide = BoardSlide {
                title: "bench".into(),
                subtitle: String::new(),
                views,
                plan: Vec::new(),
                findings: None,
                margin: Vec::new(),
                margin_ok: None,
                provenance: Provenance::default(),
                anonymise: true,
                patient: Some(&v.meta),
                scene3d: None,
                legend: Vec::new(),
            };
            black_box(render_slide(&slide).map(|s| s.texts.len()).unwrap_or(0))
        })
    });
    let obs: Vec<Observation> = (0..1000)
        .map(|n| Observation {
            time: ((n * 7919) % 1500) as f64,
            event: n % 3 != 0,
        })
        .collect();
    c.bench_function("km_fit_1000", |b| {
        b.iter(|| KaplanMeier::fit(black_box(&obs), 0.95).map(|k| k.steps.len()))
    });
}

criterion_group!(benches, bench_export);
criterion_main!(benches);
