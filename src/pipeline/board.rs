//! The tumour-board slide of a computed plan, one function for every face: the GUI's export and
//! `ablaplan compute --png` call [`board_slide`] with the same inputs, so the tumour board sees
//! exactly what the planner saw (same findings, same calipers, same margin verdict — the goal
//! read from the rules — and the same pixels).

use std::borrow::Cow;
use std::path::Path;

use crate::anatomy::structure::Structure;
use crate::export::board::{
    cryo_provenance, ire_provenance, phantom_display_geometry, phantom_display_volume,
};
use crate::export::{Board, BoardZone, CaliperOverlay, ExportError, Provenance, SlideImage};
use crate::geometry::{PatientPos, VolumeGeometry};
use crate::physics::model::{ModelAssets, ModelResult, ModelSettings};
use crate::plan::finding::{Light, Severity};
use crate::plan::probe::Probe;
use crate::plan::rules::{RuleModality, RuleSet};
use crate::render::WindowLevel;
use crate::safety::SafetyReport;
use crate::volume::Volume;

/// Calipers drawn on a slide: the closest points of the worst few red / amber findings.
const SLIDE_CALIPERS: usize = 3;
/// Largest structure grid of a phantom reused as its display volume (voxels, 64 MB of HU);
/// beyond it the display volume covers the compute grid only and structures are not drawn.
const PHANTOM_DISPLAY_MAX_VOXELS: usize = 32 << 20;

/// Everything a board slide is drawn from.
pub struct BoardInput<'a> {
    pub title: &'a str,
    /// The CT the plan was made on (`None` for a phantom: a display volume of the block is made
    /// from `phantom`).
    pub volume: Option<&'a Volume>,
    /// A phantom's block: tissue class, size (mm), centre (LPS mm).
    pub phantom: Option<(&'a str, [f64; 3], [f64; 3])>,
    /// Visible structures, on `structure_geometry`.
    pub structures: &'a [Structure],
    pub structure_geometry: &'a VolumeGeometry,
    pub probes: &'a [Probe],
    pub settings: &'a ModelSettings,
    pub result: &'a ModelResult,
    pub assets: &'a ModelAssets,
    /// `None`: no safety analysis for this result (the slide says so).
    pub safety: Option<&'a SafetyReport>,
    pub rules: &'a RuleSet,
    /// The case file, named (not its folder: the path may name the patient) in the provenance.
    pub case_file: Option<&'a Path>,
    pub anonymise: bool,
}

/// Renders the slide. The window is the series' default (the same on every face).
pub fn board_slide(b: &BoardInput<'_>) -> Result<SlideImage, ExportError> {
    let (volume, structures) = display(b)?;
    let shown = SlideSafety::of(b.safety, b.rules, b.settings);
    let mut provenance = provenance(b);
    if let Some(name) = b.case_file.and_then(Path::file_name) {
        provenance
            .notes
            .push(format!("Case file: {}", name.to_string_lossy()));
    }
    let (c, w) = volume.meta.default_window.unwrap_or((40.0, 400.0));
    let zone = match (b.result, b.settings) {
        (ModelResult::Ire(result), ModelSettings::Ire { model, .. }) => BoardZone::Ire {
            result,
            isolines_v_per_cm: &model.isolines_v_per_cm,
        },
        (ModelResult::Cryo(result), ModelSettings::Cryo(s)) => BoardZone::Cryo {
            result,
            lethal_c: s.lethal_isotherm_c,
        },
        _ => {
            return Err(ExportError::BadView(
                "the result is of another modality than the plan".into(),
            ));
        }
    };
    crate::export::board_slide(&Board {
        title: b.title.to_string(),
        volume: &volume,
        probes: b.probes,
        zone,
        structures,
        calipers: shown.calipers,
        findings: shown.findings,
        margin: shown.margin,
        margin_ok: shown.margin_ok,
        provenance,
        window: WindowLevel::new(c, w),
        anonymise: b.anonymise,
        scene3d: Some(scene_picture(b, structures)),
    })
}

/// The plan's 3-D picture for the slide, as the GUI's 3-D view draws it: the visible structures,
/// the zone (cryo: the isotherms and lethal zone at the end of the last freeze, the largest), the
/// band, the probes; seen from the front, fitted to the target and the zone.
fn scene_picture(b: &BoardInput<'_>, structures: &[Structure]) -> crate::render::RgbaImage {
    use crate::render::mesh::build::MeshOptions;
    use crate::render::scene3d::build::{ZoneSource, plan_camera, plan_scene};
    let radius = |p: &Probe| {
        b.assets
            .cryo
            .catalog
            .get(&p.model_id)
            .map_or(0.6, |m| m.radius_mm())
    };
    let isotherms_c = [0.0, -20.0, -40.0];
    let zone = match b.result {
        ModelResult::Ire(r) => ZoneSource::Ire(r),
        ModelResult::Cryo(r) => ZoneSource::Cryo {
            result: r,
            snapshot: r.end_of_last_freeze_snapshot(),
            isotherms_c: &isotherms_c,
        },
    };
    let scene = plan_scene(
        structures,
        b.structure_geometry,
        b.probes,
        &radius,
        Some(zone),
        &MeshOptions::default(),
    );
    let [w, h] = crate::export::slide::SCENE3D_SIZE;
    crate::render::scene3d::raster::render_scene(
        &scene,
        &plan_camera(&scene),
        w,
        h,
        crate::render::scene3d::BACKGROUND,
        2,
    )
}

fn provenance(b: &BoardInput<'_>) -> Provenance {
    match (b.result, b.settings) {
        (ModelResult::Ire(r), ModelSettings::Ire { settings, model }) => {
            ire_provenance(r, model, settings, &b.assets.ire, b.probes)
        }
        (ModelResult::Cryo(r), ModelSettings::Cryo(s)) => {
            cryo_provenance(r, s, &b.assets.cryo.tissues, b.probes)
        }
        (r, _) => Provenance {
            model: r.description().to_string(),
            ..Provenance::default()
        },
    }
}

/// What a slide shows: the CT and its structures, or for a phantom a display volume of the block
/// (on the structure grid when there are structures and it is not too large, so they are drawn;
/// else on the model grid plus a border, without structures).
fn display<'s>(b: &BoardInput<'s>) -> Result<(Cow<'s, Volume>, &'s [Structure]), ExportError> {
    if let Some(v) = b.volume {
        return Ok((Cow::Borrowed(v), b.structures));
    }
    let Some((tissue, size_mm, centre_lps)) = b.phantom else {
        return Err(ExportError::BadView(
            "the case has neither a CT nor a phantom".into(),
        ));
    };
    let on_structure_grid =
        !b.structures.is_empty() && b.structure_geometry.voxel_count() <= PHANTOM_DISPLAY_MAX_VOXELS;
    let g = if on_structure_grid {
        b.structure_geometry.clone()
    } else {
        phantom_display_geometry(b.result.grid())?
    };
    let v = phantom_display_volume(&g, PatientPos::from(centre_lps), size_mm, tissue)?;
    let shown = if on_structure_grid { b.structures } else { &[][..] };
    Ok((Cow::Owned(v), shown))
}

/// The safety part of a slide: findings as (severity, text), the closest points of the worst
/// few red / amber findings as calipers, the margin lines and whether every target meets the
/// margin goal of the plan's modality (read from the rules).
struct SlideSafety {
    findings: Option<Vec<(Severity, String)>>,
    calipers: Vec<CaliperOverlay>,
    margin: Vec<String>,
    margin_ok: Option<bool>,
}

impl SlideSafety {
    fn of(report: Option<&SafetyReport>, rules: &RuleSet, settings: &ModelSettings) -> SlideSafety {
        let Some(report) = report else {
            return SlideSafety {
                findings: None,
                calipers: Vec::new(),
                margin: Vec::new(),
                margin_ok: None,
            };
        };
        let modality = match settings {
            ModelSettings::Ire { .. } => RuleModality::Ire,
            ModelSettings::Cryo(_) => RuleModality::Cryo,
        };
        let goal_mm = rules.margin_goal_mm(modality);
        let calipers = report
            .findings
            .iter()
            .filter(|f| f.light != Light::Green)
            .filter_map(|f| f.caliper_lps)
            .take(SLIDE_CALIPERS)
            .map(|[a, b]| CaliperOverlay {
                a_lps: a,
                b_lps: b,
                label: None,
            })
            .collect();
        let margin = report
            .margins
            .iter()
            .map(|m| match m.min_margin_mm {
                Some(mm) => format!(
                    "{} in {}: minimal margin {mm:.1} mm (lower bound {:.1} mm), coverage {:.0} %{}",
                    m.target,
                    m.zone,
                    m.min_margin_lower_mm.unwrap_or(mm),
                    100.0 * m.coverage,
                    goal_mm
                        .map(|g| format!(" — goal ≥ {g:.0} mm"))
                        .unwrap_or_default()
                ),
                None => format!("{} in {}: no zone", m.target, m.zone),
            })
            .collect();
        let margin_ok = goal_mm.and_then(|g| margin_met(report, g));
        SlideSafety {
            findings: Some(
                report
                    .findings
                    .iter()
                    .map(|f| (f.severity, format!("{}: {}", f.severity.label(), f.message)))
                    .collect(),
            ),
            calipers,
            margin,
            margin_ok,
        }
    }
}

/// Whether every target's minimal margin meets `goal_mm` (`None` without a target). The same
/// verdict everywhere the margin is judged: the findings panel, the views and the slide.
pub fn margin_met(report: &SafetyReport, goal_mm: f64) -> Option<bool> {
    (!report.margins.is_empty()).then(|| {
        report
            .margins
            .iter()
            .all(|m| m.min_margin_mm.is_some_and(|mm| mm >= goal_mm))
    })
}
