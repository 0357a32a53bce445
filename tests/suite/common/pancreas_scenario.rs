//! The shared pancreas CT with a drawn para-aortic node (issue 16), for the "Suggest plan"
//! bench (`benches/suggest.rs`, which includes this file) and `suggest_pancreas.rs`: a 15 mm sphere 3 mm to the left of the aorta
//! at the level of the case `dicom_pancreas_ct_example.json`, with the aorta drawn as a vessel
//! (a non-contrast CT: the aorta is drawn anterior-left of the vertebral body found by HU, not
//! segmented); IRE, NanoKnife 19G, default model options and rules.

use ablaplan::anatomy::body::BodyMask;
use ablaplan::anatomy::structure::{Structure, StructureKind};
use ablaplan::dicom::{SeriesEntry, load_series};
use ablaplan::geometry::PatientPos;
use ablaplan::jobs::JobCtx;
use ablaplan::physics::model::{ModelAssets, ModelSettings, Tissue};
use ablaplan::plan::ire::{IreModelOptions, IreSettings};
use ablaplan::plan::rules::{RuleSet, builtin_rules};
use ablaplan::plan::shapes::CaseStructure;
use ablaplan::plan::trajectory::trajectory_limits;
use ablaplan::suggest::{SuggestLimits, SuggestRequest, Suggestion};
use ablaplan::volume::Volume;
use nalgebra::Vector3;

/// The level of the example case's electrodes (LPS S, mm).
const LEVEL_S_MM: f64 = 301.9;

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
pub fn assert_paths_avoid_bowel_and_bone(v: &Volume, body: &BodyMask, s: &Suggestion) {
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

/// The CT, its body outline and the drawn node and aorta; `None` (with the reason printed) when
/// the vertebral body is not found.
pub struct Scenario {
    pub volume: Volume,
    pub body: BodyMask,
    pub structures: Vec<Structure>,
    pub assets: ModelAssets,
    pub rules: RuleSet,
}

pub fn scenario(entry: &SeriesEntry, ctx: &JobCtx) -> Option<Scenario> {
    let volume = load_series(entry, ctx).expect("load the pancreas CT").volume;
    let t = trajectory_limits();
    let body = BodyMask::from_volume(&volume, t.body_threshold());
    let Some((vx, vy)) = find_vertebra(&volume, &body, LEVEL_S_MM) else {
        eprintln!("SKIPPED: the vertebral body was not found at S {LEVEL_S_MM} mm");
        return None;
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
    Some(Scenario {
        volume,
        body,
        structures,
        assets,
        rules,
    })
}

impl Scenario {
    /// The suggestion's request: IRE, NanoKnife 19G, default options, rules and limits.
    pub fn request(&self) -> SuggestRequest<'_> {
        let t = trajectory_limits();
        SuggestRequest {
            tissue: Tissue::Ct {
                volume: &self.volume,
                structures: &self.structures,
            },
            volume: Some(&self.volume),
            body: Some(&self.body),
            structures: &self.structures,
            structure_geometry: &self.volume.geometry,
            rules: &self.rules,
            settings: ModelSettings::Ire {
                settings: IreSettings::default(),
                model: IreModelOptions::default(),
            },
            probe_model: "nanoknife_19g".into(),
            assets: &self.assets,
            limits: SuggestLimits::ire(t),
            trajectory: t,
            phantom_depth_mm: 100.0,
        }
    }
}
