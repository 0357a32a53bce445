//! "Suggest plan" on the shared pancreas CT (issue 16 target: a suggestion ready in ≤ 10 s on
//! the 2-core machine, median): a drawn para-aortic node — a 15 mm sphere 3 mm to the left of
//! the aorta at the level of the case `dicom_pancreas_ct_example.json` — with the aorta drawn as
//! a vessel (a non-contrast CT: the aorta is drawn anterior-left of the vertebral body found by
//! HU, not segmented); IRE, NanoKnife 19G, default model options and rules. Measured: the body outline +
//! the whole suggestion (search on the preview, confirmation with the full model, safety).
//! Before timing, it checks that no proposed path passes through bowel gas or bone (HU along
//! every path from the skin to the tip). Skipped with a message when the data is absent.

use std::path::PathBuf;
use std::time::Duration;

use ablaplan::anatomy::body::BodyMask;
use ablaplan::anatomy::structure::{Structure, StructureKind};
use ablaplan::dicom::{load_series, scan};
use ablaplan::geometry::PatientPos;
use ablaplan::jobs::JobCtx;
use ablaplan::physics::model::{ModelAssets, ModelSettings, Tissue};
use ablaplan::plan::ire::{IreModelOptions, IreSettings};
use ablaplan::plan::rules::builtin_rules;
use ablaplan::plan::shapes::CaseStructure;
use ablaplan::plan::trajectory::trajectory_limits;
use ablaplan::suggest::{SuggestLimits, SuggestRequest, Suggestion, suggest};
use ablaplan::volume::Volume;
use criterion::{Criterion, criterion_group, criterion_main};
use nalgebra::Vector3;

/// The level of the example case's electrodes (LPS S, mm).
const LEVEL_S_MM: f64 = 301.9;

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

/// The vertebral body on the axial slice at `s_mm`: the bone blob (≥ 200 HU, 800–2500 mm²)
/// nearest the body's midline — its centre (L, P). The series is a non-contrast CT: the aorta
/// is not separable by HU, so it is drawn where it lies in the usual anatomy, anterior-left of
/// the vertebral body.
fn find_vertebra(v: &Volume, body: &BodyMask, s_mm: f64) -> Option<(f64, f64)> {
    let g = &v.geometry;
    let k = g.to_voxel(&PatientPos::new(0.0, 0.0, s_mm)).z.round() as usize;
    let [nx, ny, _] = g.dims;
    let px_mm2 = g.spacing_mm[0] * g.spacing_mm[1];
    let hot = |i: usize, j: usize| v.get(i, j, k).is_some_and(|h| h >= 200) && body.contains_voxel(i, j, k);
    let mut seen = vec![false; nx * ny];
    let mut best: Option<(f64, (f64, f64))> = None;
    let mid_x: f64 = {
        let xs: Vec<f64> = (0..nx * ny)
            .filter(|n| body.contains_voxel(n % nx, n / nx, k))
            .map(|n| {
                g.to_patient(&Vector3::new((n % nx) as f64, (n / nx) as f64, k as f64))
                    .x
            })
            .collect();
        xs.iter().sum::<f64>() / xs.len().max(1) as f64
    };
    for seed in 0..nx * ny {
        if seen[seed] || !hot(seed % nx, seed / nx) {
            continue;
        }
        let mut stack = vec![seed];
        seen[seed] = true;
        let mut pts = Vec::new();
        while let Some(n) = stack.pop() {
            let (i, j) = (n % nx, n / nx);
            pts.push(g.to_patient(&Vector3::new(i as f64, j as f64, k as f64)));
            let mut push = |a: usize, b: usize| {
                let m = a + nx * b;
                if !seen[m] && hot(a, b) {
                    seen[m] = true;
                    stack.push(m);
                }
            };
            if i > 0 {
                push(i - 1, j);
            }
            if i + 1 < nx {
                push(i + 1, j);
            }
            if j > 0 {
                push(i, j - 1);
            }
            if j + 1 < ny {
                push(i, j + 1);
            }
        }
        let area = pts.len() as f64 * px_mm2;
        if !(800.0..=2500.0).contains(&area) {
            continue;
        }
        let c = pts.iter().fold(Vector3::zeros(), |a, p| a + p.coords) / pts.len() as f64;
        let off = (c.x - mid_x).abs();
        if best.is_none_or(|(b, _)| off < b) {
            best = Some((off, (c.x, c.y)));
        }
    }
    best.filter(|(off, _)| *off < 30.0).map(|(_, c)| c)
}

/// Every proposed path, sampled every 0.5 mm from the skin to the tip: no bone, no gas.
fn assert_paths_avoid_bowel_and_bone(v: &Volume, body: &BodyMask, s: &Suggestion) {
    let t = trajectory_limits();
    for p in &s.proposals {
        for probe in &p.probes {
            let d = probe.tip_lps - probe.entry_lps;
            let n = (d.norm() / 0.5).ceil() as usize;
            for i in 0..=n {
                let q = probe.entry_lps + d * (i as f64 / n as f64);
                if !body.contains(&q) {
                    continue;
                }
                let hu = v.hu_at(&q).unwrap_or(0);
                assert!(
                    hu < t.bone_min() && hu > t.gas_max(),
                    "proposal {} probe {} passes {hu} HU at {q:?}",
                    p.rank,
                    probe.label
                );
            }
        }
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
    let volume = load_series(&entry, &ctx).expect("load the pancreas CT").volume;
    let t = trajectory_limits();
    let body = BodyMask::from_volume(&volume, t.body_threshold());
    let Some((vx, vy)) = find_vertebra(&volume, &body, LEVEL_S_MM) else {
        eprintln!("SKIPPED: the vertebral body was not found at S {LEVEL_S_MM} mm");
        return;
    };
    // A 22 mm aorta anterior-left of the vertebral body (its usual place).
    let (ax, ay, ar) = (vx + 12.0, vy - 38.0, 11.0);
    eprintln!(
        "vertebral body at L {vx:.1} P {vy:.1}; aorta drawn at L {ax:.1} P {ay:.1} mm, radius {ar:.1} mm"
    );
    let g = volume.geometry.clone();
    let node_r = 7.5;
    let shapes = [
        CaseStructure::Sphere {
            name: "Para-aortic node".into(),
            kind: StructureKind::Target,
            centre_lps: [ax + ar + 3.0 + node_r, ay, LEVEL_S_MM],
            radius_mm: node_r,
        },
        CaseStructure::Cylinder {
            name: "Aorta".into(),
            kind: StructureKind::Vessel,
            a_lps: [ax, ay, LEVEL_S_MM - 40.0],
            b_lps: [ax, ay, LEVEL_S_MM + 40.0],
            radius_mm: ar,
        },
    ];
    let structures: Vec<Structure> = shapes.iter().filter_map(|s| s.rasterise(&g)).collect();
    let assets = ModelAssets::builtin().expect("assets");
    let rules = builtin_rules().expect("rules");
    let req = SuggestRequest {
        tissue: Tissue::Ct {
            volume: &volume,
            structures: &structures,
        },
        volume: Some(&volume),
        body: Some(&body),
        structures: &structures,
        structure_geometry: &g,
        rules: &rules,
        settings: ModelSettings::Ire {
            settings: IreSettings::default(),
            model: IreModelOptions::default(),
        },
        probe_model: "nanoknife_19g".into(),
        assets: &assets,
        limits: SuggestLimits::ire(t),
        trajectory: t,
        phantom_depth_mm: 100.0,
    };
    let once = suggest(&req, &ctx).expect("suggestion");
    eprintln!("{}", ablaplan::pipeline::suggest::format_suggestion(&once));
    assert_paths_avoid_bowel_and_bone(&volume, &body, &once);
    let mut group = c.benchmark_group("suggest");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(60));
    group.bench_function("pancreas_ct_para_aortic_node_ire", |b| {
        b.iter(|| {
            let body = BodyMask::from_volume(&volume, t.body_threshold());
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
