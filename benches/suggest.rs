//! "Suggest plan" on the shared pancreas CT (issue 16 target: a suggestion ready in ≤ 10 s on
//! the 2-core machine, median); the scenario (a drawn para-aortic node beside a drawn aorta) is
//! `tests/suite/common/pancreas_scenario.rs`, shared with the suite. Measured: the body outline + the
//! whole suggestion (search on the preview, confirmation with the full model, safety). Before
//! timing, it checks that no proposed path passes through bowel gas or bone (HU along every path
//! from the skin to the tip). Skipped with a message when the data is absent.

use std::path::PathBuf;
use std::time::Duration;

use ablaplan::anatomy::body::BodyMask;
use ablaplan::dicom::scan;
use ablaplan::jobs::JobCtx;
use ablaplan::plan::trajectory::trajectory_limits;
use ablaplan::suggest::{SuggestRequest, suggest};
use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../tests/suite/common/pancreas_scenario.rs"]
mod scenario;

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

fn bench(c: &mut Criterion) {
    let Some(dir) = data("pancreas-ct-rtstruct/CT") else {
        return;
    };
    let ctx = JobCtx::default();
    let Some(entry) = scan(&[dir], &ctx).ok().and_then(|r| r.series.first().cloned()) else {
        eprintln!("SKIPPED: no series in the pancreas CT folder");
        return;
    };
    let Some(s) = scenario::scenario(&entry, &ctx) else {
        return;
    };
    let req = s.request();
    let t = trajectory_limits();
    let (volume, body) = (&s.volume, &s.body);
    let once = suggest(&req, &ctx).expect("suggestion");
    eprintln!("{}", ablaplan::pipeline::suggest::format_suggestion(&once));
    scenario::assert_paths_avoid_bowel_and_bone(volume, body, &once);
    let mut group = c.benchmark_group("suggest");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(60));
    group.bench_function("pancreas_ct_para_aortic_node_ire", |b| {
        b.iter(|| {
            let body = BodyMask::from_volume(volume, t.body_threshold());
            let r = SuggestRequest {
                body: Some(&body),
                ..req.clone()
            };
            std::hint::black_box(suggest(&r, &ctx).map(|s| s.proposals.len()))
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
