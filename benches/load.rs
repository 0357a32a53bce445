//! DICOM load benchmarks on the real series in `../shared/data/dicom` (skipped with a message
//! when the data is absent):
//! - `load_pancreas_134_implicit_le`: 134 × 512² Implicit VR LE slices → HU volume;
//! - `load_totalseg_20_j2k`: 20 × 512² JPEG 2000 lossless slices → HU volume;
//! - `scan_pancreas_headers`: header scan + grouping of the same 134 files.
//!
//! Targets (release, 2 cores): pancreas ≤ 0.15 s, J2K ≤ 0.7 s.

use std::path::PathBuf;
use std::time::Duration;

use ablaplan::dicom::{load_series, scan};
use ablaplan::jobs::JobCtx;
use criterion::{Criterion, criterion_group, criterion_main};

fn data(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/dicom")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIPPED: benchmark data {} is absent", p.display());
        None
    }
}

fn bench_series(c: &mut Criterion, name: &str, rel: &str) {
    let Some(dir) = data(rel) else { return };
    let ctx = JobCtx::default();
    let report = match scan(&[dir], &ctx) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("SKIPPED {name}: scan failed: {e}");
            return;
        }
    };
    let Some(entry) = report.series.first().cloned() else {
        eprintln!("SKIPPED {name}: no series found");
        return;
    };
    c.bench_function(name, |b| {
        b.iter(|| {
            let l = load_series(&entry, &ctx).expect("load");
            std::hint::black_box(l.volume.hu.len())
        })
    });
}

fn bench_load(c: &mut Criterion) {
    bench_series(c, "load_pancreas_134_implicit_le", "pancreas-ct-rtstruct/CT");
    bench_series(c, "load_totalseg_20_j2k", "totalseg-abdomen-vessels-derived/CT");
    if let Some(dir) = data("pancreas-ct-rtstruct/CT") {
        let ctx = JobCtx::default();
        c.bench_function("scan_pancreas_headers", |b| {
            b.iter(|| std::hint::black_box(scan(std::slice::from_ref(&dir), &ctx).map(|r| r.series.len())))
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(8));
    targets = bench_load
}
criterion_main!(benches);
