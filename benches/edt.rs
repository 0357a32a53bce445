//! EDT on the size of the real pancreas CT grid: 512 × 512 × 134 at 1.074 × 1.074 × 3 mm,
//! with a bowel-like structure (a thick torus) as the feature set.

use ablaplan::anatomy::edt_mm;
use criterion::{Criterion, criterion_group, criterion_main};

fn torus_mask(dims: [usize; 3], spacing: [f64; 3]) -> Vec<bool> {
    let [nx, ny, nz] = dims;
    let mut m = vec![false; nx * ny * nz];
    let c = [
        nx as f64 * spacing[0] / 2.0,
        ny as f64 * spacing[1] / 2.0,
        nz as f64 * spacing[2] / 2.0,
    ];
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let p = [
                    i as f64 * spacing[0] - c[0],
                    j as f64 * spacing[1] - c[1],
                    k as f64 * spacing[2] - c[2],
                ];
                let r_xy = (p[0] * p[0] + p[1] * p[1]).sqrt() - 120.0;
                m[i + nx * (j + ny * k)] = r_xy * r_xy + p[2] * p[2] < 25.0 * 25.0;
            }
        }
    }
    m
}

fn bench(c: &mut Criterion) {
    let dims = [512, 512, 134];
    let spacing = [1.074, 1.074, 3.0];
    let mask = torus_mask(dims, spacing);
    let mut g = c.benchmark_group("edt");
    g.sample_size(10);
    g.bench_function("edt_512x512x134_aniso", |b| {
        b.iter(|| edt_mm(dims, spacing, &mask))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
