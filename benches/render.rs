//! Render benchmarks: W/L LUT building and one 512² slice to RGBA.

use ablaplan::demo::demo_volume;
use ablaplan::render::{WindowLevel, WlLut, render_slice};
use ablaplan::volume::{SliceImage, ViewKind};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// A 512² slice with a spread of HU (air, fat, soft tissue, bone) and no structure the
/// branch predictor could exploit.
fn synthetic_slice(n: usize) -> SliceImage {
    let mut hu = Vec::with_capacity(n * n);
    let mut s = 0x1234_5678_9abc_def0u64;
    for _ in 0..n * n {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        hu.push(((s % 3000) as i32 - 1024) as i16);
    }
    SliceImage {
        width: n,
        height: n,
        hu,
        pixel_mm: [0.7, 0.7],
    }
}

fn bench_render(c: &mut Criterion) {
    let wl = WindowLevel::new(40.0, 400.0);
    c.bench_function("wl_lut_build", |b| b.iter(|| WlLut::new(black_box(wl))));

    let lut = WlLut::new(wl);
    let slice = synthetic_slice(512);
    let mut out = Vec::new();
    c.bench_function("render_slice_512x512", |b| {
        b.iter(|| {
            render_slice(black_box(&slice), &lut, &mut out);
            black_box(&out);
        })
    });

    let vol = demo_volume();
    let axial = vol.slice(ViewKind::Axial, 64);
    c.bench_function("render_slice_demo_axial_480x400", |b| {
        b.iter(|| {
            render_slice(black_box(&axial), &lut, &mut out);
            black_box(&out);
        })
    });
    c.bench_function("extract_and_render_demo_coronal", |b| {
        b.iter(|| {
            let s = vol.slice(ViewKind::Coronal, black_box(200));
            render_slice(&s, &lut, &mut out);
            black_box(&out);
        })
    });
}

fn bench_demo(c: &mut Criterion) {
    let mut g = c.benchmark_group("demo");
    g.sample_size(10);
    g.bench_function("demo_volume_480x400x130", |b| b.iter(|| black_box(demo_volume())));
    g.finish();
}

criterion_group!(benches, bench_render, bench_demo);
criterion_main!(benches);
