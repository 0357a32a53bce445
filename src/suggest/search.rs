//! The search of a suggestion: approach directions whose path from the skin is clear, parallel
//! arrays centred on the target along each, judged on the fast preview by point tests.

use super::target::{CriticalPoints, TargetPoints, violates_clearance};
use super::{HardClearance, SuggestLimits, SuggestRequest};
use crate::anatomy::body::{angles_from_direction, direction_from_angles};
use crate::geometry::PatientPos;
use crate::physics::model::{ModelPreview, ModelSettings, preview};
use crate::plan::ire::{default_pairs, voltage_for_spacing};
use crate::plan::probe::{ArrayTemplate, Probe, parallel_array};
use crate::plan::rules::ZoneSelector;
use crate::safety::path_check::{PathCheck, PathScene, check_path};
use nalgebra::Vector3;
use serde::Serialize;

/// A clear approach to the target's centre.
#[derive(Clone, Debug)]
pub struct Approach {
    pub direction: Vector3<f64>,
    pub in_plane_deg: f64,
    pub cranio_caudal_deg: f64,
    pub depth_mm: f64,
}

/// One array the search looked at.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    #[serde(skip)]
    pub probes: Vec<Probe>,
    #[serde(skip)]
    pub settings: ModelSettings,
    #[serde(skip)]
    pub paths: Vec<PathCheck>,
    pub n: usize,
    pub spacing_mm: f64,
    pub exposure_mm: f64,
    pub rotation_deg: f64,
    pub in_plane_deg: f64,
    pub cranio_caudal_deg: f64,
    pub depth_mm: f64,
    /// Preview: fractions of the target and of the target + margin shell in the lethal zone.
    pub coverage_target: f64,
    pub coverage_margin: f64,
    /// Preview current of the worst pair (A), IRE only (the linear σ0 estimate).
    pub current_a: Option<f64>,
    /// The hard rules the preview zone breaks (structure names).
    pub breaks: Vec<String>,
    /// Structures the preview zone keeps its hard clearance from, but by less than the full
    /// model's growth over the preview ([`super::SuggestLimits::preview_growth_mm`]).
    pub tight: Vec<String>,
    /// The preview's level ([`preview_level`]) at the target's points, then at the shell's
    /// (`TargetPoints::inside` ++ `TargetPoints::shell`): what the refinement corrects with the
    /// full model's sensitivity.
    #[serde(skip)]
    pub levels: Vec<f32>,
    /// How much room the preview leaves: the lowest level over the target and the level the
    /// shell reaches at the fraction [`COVERED`] allows to miss (≥ 1 covers).
    pub headroom: f64,
    /// Target and shell points next to an electrode, where the full model's zone depends on its
    /// grid ([`UNCERTAIN`]).
    pub uncertain: usize,
}

/// Coverage at or above this counts as covered (point sampling of a 1.5 mm preview grid).
pub const COVERED: f64 = 0.99;

impl Candidate {
    pub fn covers(&self) -> bool {
        self.coverage_target >= 0.999 && self.coverage_margin >= COVERED
    }

    pub fn meets_hard_rules(&self, limits: &SuggestLimits) -> bool {
        self.breaks.is_empty() && self.current_a.is_none_or(|c| c < limits.current_limit_a)
    }

    /// Sort key, best first: meets the rules, covers target + margin, room for the full model's
    /// growth, fewer probes, more coverage of the shell then the target (arrays that cover count
    /// as equal there), fewer points next to an electrode, more headroom (the preview's zone is linear: of two arrays that both
    /// cover, the one with more field over the threshold at its weakest shell point is the one
    /// the full model keeps covering), shallower.
    pub fn rank_key(&self, limits: &SuggestLimits) -> CandidateKey {
        let covers = self.covers();
        let unless_covered = |f: f64| if covers { 1000 } else { (f * 1000.0).round() as i64 };
        (
            self.meets_hard_rules(limits),
            covers,
            self.tight.is_empty(),
            std::cmp::Reverse(self.n),
            unless_covered(self.coverage_margin),
            unless_covered(self.coverage_target),
            std::cmp::Reverse(self.uncertain),
            (self.headroom.min(10.0) * 1000.0).round() as i64,
            -(self.depth_mm.round() as i64),
        )
    }
}

#[cfg(test)]
impl Candidate {
    /// A candidate with only preview levels (unit tests of the ranking and the refinement).
    pub fn for_test(levels: &[f32], n: usize) -> Self {
        Candidate {
            probes: Vec::new(),
            settings: ModelSettings::Ire {
                settings: crate::plan::ire::IreSettings::default(),
                model: crate::plan::ire::IreModelOptions::default(),
            },
            paths: Vec::new(),
            n,
            spacing_mm: 15.0,
            exposure_mm: 20.0,
            rotation_deg: 0.0,
            in_plane_deg: 0.0,
            cranio_caudal_deg: 0.0,
            depth_mm: 50.0,
            coverage_target: 1.0,
            coverage_margin: 1.0,
            current_a: None,
            breaks: Vec::new(),
            tight: Vec::new(),
            levels: levels.to_vec(),
            headroom: headroom(levels, 1),
            uncertain: levels.iter().filter(|l| l.is_nan()).count(),
        }
    }
}

/// [`Candidate::rank_key`].
pub type CandidateKey = (
    bool,
    bool,
    bool,
    std::cmp::Reverse<usize>,
    i64,
    i64,
    std::cmp::Reverse<usize>,
    i64,
    i64,
);

/// The level of a point next to an electrode ([`electrode_tubes`]): uncertain, left out of the
/// coverage fractions and the headroom.
pub const UNCERTAIN: f32 = f32::NAN;

/// Fractions of the target's points (the first `n_inside`) and of the shell's at level ≥ 1,
/// uncertain points left out.
pub fn coverage_of_levels(levels: &[f32], n_inside: usize) -> (f64, f64) {
    let (inside, shell) = levels.split_at(n_inside.min(levels.len()));
    let frac = |v: &[f32]| {
        let known = v.iter().filter(|l| !l.is_nan()).count();
        if known == 0 {
            1.0
        } else {
            v.iter().filter(|l| **l >= 1.0).count() as f64 / known as f64
        }
    };
    (frac(inside), frac(shell))
}

/// The headroom of preview levels over `target.inside.len()` target points then the shell's.
pub fn headroom(levels: &[f32], n_inside: usize) -> f64 {
    let (inside, shell) = levels.split_at(n_inside.min(levels.len()));
    let lowest_inside = inside
        .iter()
        .copied()
        .filter(|l| !l.is_nan())
        .fold(f32::INFINITY, f32::min);
    let mut shell: Vec<f32> = shell.iter().copied().filter(|l| !l.is_nan()).collect();
    shell.sort_by(f32::total_cmp);
    // The shell may miss 1 − COVERED of its points.
    let allowed_miss = ((1.0 - COVERED) * shell.len() as f64).floor() as usize;
    let shell_level = shell
        .get(allowed_miss.min(shell.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f32::INFINITY);
    f64::from(lowest_inside.min(shell_level))
}

/// How deep inside the preview's lethal zone `p` lies, as a factor (≥ 1 inside, 0 far out).
/// IRE: the field over the threshold at the node (the preview is linear, so this is also the
/// factor the voltage could fall by); cryo: the factor by which the largest lethal ellipsoid
/// holding `p` could shrink.
pub fn preview_level(pv: &ModelPreview, lethal_c: f64, p: &PatientPos) -> f64 {
    match pv {
        ModelPreview::Ire(r) => ire_level(r, p),
        ModelPreview::Cryo(c) => c
            .ellipsoids
            .iter()
            .filter(|e| (e.isotherm_c - lethal_c).abs() < 0.5)
            .map(|e| {
                let d = p - e.centre_lps;
                let a = d.dot(&e.axis);
                let r2 = (d - e.axis * a).norm_squared();
                let (sa, sw) = (0.5 * e.length_mm, 0.5 * e.width_mm);
                if sa <= 0.0 || sw <= 0.0 {
                    return 0.0;
                }
                let q = (a * a) / (sa * sa) + r2 / (sw * sw);
                if q <= 1e-12 { 1e3 } else { 1.0 / q.sqrt() }
            })
            .fold(0.0, f64::max),
    }
}

/// The field over the lethal threshold at the node nearest `p` of an IRE result (preview or
/// full model); 0 outside the grid or where no threshold applies.
pub fn ire_level(r: &crate::physics::ire::model::IreResult, p: &PatientPos) -> f64 {
    r.grid.nearest(p).map_or(0.0, |[i, j, k]| {
        let n = r.grid.index(i, j, k);
        let (e, t) = (r.max_e_v_per_cm[n], r.threshold_v_per_cm[n]);
        if t.is_finite() && t > 0.0 {
            f64::from(e / t)
        } else {
            0.0
        }
    })
}

/// Clear approaches to the target's centroid, shallowest first.
pub fn approaches(
    req: &SuggestRequest<'_>,
    scene: &PathScene<'_>,
    target: &TargetPoints,
) -> (Vec<Approach>, Vec<String>) {
    let l = &req.limits;
    let ip_n = (360.0 / l.in_plane_step_deg).round().max(1.0) as usize;
    let cc_n = (l.cranio_caudal_max_deg / l.cranio_caudal_step_deg)
        .floor()
        .max(0.0) as i64;
    let mut out = Vec::new();
    let mut blocked = Vec::new();
    for c in -cc_n..=cc_n {
        let cc = c as f64 * l.cranio_caudal_step_deg;
        for a in 0..ip_n {
            let ip = a as f64 * 360.0 / ip_n as f64;
            if !l.allowed_in_plane(ip) {
                continue;
            }
            let d = direction_from_angles(ip, cc);
            match check_path(scene, target.centroid_lps, d) {
                Ok(p) if p.is_clear() => out.push(Approach {
                    direction: d,
                    in_plane_deg: ip,
                    cranio_caudal_deg: cc,
                    depth_mm: p.skin.depth_mm,
                }),
                Ok(p) => blocked.extend(p.first_problem()),
                Err(e) => blocked.push(e.to_string()),
            }
        }
    }
    out.sort_by(|a, b| {
        (a.depth_mm + a.cranio_caudal_deg.abs() * 0.5)
            .total_cmp(&(b.depth_mm + b.cranio_caudal_deg.abs() * 0.5))
    });
    (out, blocked)
}

/// The probes of one array along `approach` (tips past the centre by half the exposure), with
/// each probe's entry at its own skin crossing. `None` when a probe's path is not clear.
#[allow(clippy::too_many_arguments)]
fn array_along(
    req: &SuggestRequest<'_>,
    scene: &PathScene<'_>,
    centre: PatientPos,
    approach: &Approach,
    n: usize,
    spacing_mm: f64,
    exposure_mm: f64,
    rotation_deg: f64,
) -> Option<(Vec<Probe>, Vec<PathCheck>)> {
    let axis = approach.direction;
    let seed = if axis.z.abs() < 0.9 {
        Vector3::z()
    } else {
        Vector3::x()
    };
    let u0 = axis.cross(&seed).normalize();
    let rot =
        nalgebra::Rotation3::from_axis_angle(&nalgebra::Unit::new_normalize(axis), rotation_deg.to_radians());
    let u = rot * u0;
    let tips: Vec<PatientPos> = if n == 1 {
        vec![centre + axis * (exposure_mm / 2.0)]
    } else if n <= 6 {
        let t = ArrayTemplate::centred(
            &req.probe_model,
            n,
            spacing_mm,
            centre,
            axis,
            u,
            exposure_mm,
            100.0,
        );
        parallel_array(&t).ok()?.into_iter().map(|p| p.tip_lps).collect()
    } else {
        // 7–8 cryoprobes: a centre probe and a ring whose neighbours are `spacing_mm` apart.
        let ring = n - 1;
        let r = spacing_mm / (2.0 * (std::f64::consts::PI / ring as f64).sin());
        let r = r.max(spacing_mm);
        let v = axis.cross(&u);
        let mut t = vec![centre + axis * (exposure_mm / 2.0)];
        for i in 0..ring {
            let a = 2.0 * std::f64::consts::PI * i as f64 / ring as f64;
            t.push(centre + (u * a.cos() + v * a.sin()) * r + axis * (exposure_mm / 2.0));
        }
        t
    };
    let mut probes = Vec::with_capacity(n);
    let mut paths = Vec::with_capacity(n);
    for (i, tip) in tips.into_iter().enumerate() {
        let others = PathScene {
            other_probes: &probes,
            ..*scene
        };
        let path = check_path(&others, tip, axis).ok()?;
        if !path.is_clear() {
            return None;
        }
        probes.push(Probe {
            model_id: req.probe_model.clone(),
            tip_lps: tip,
            entry_lps: path.skin.entry_lps,
            exposure_mm,
            label: (i + 1).to_string(),
        });
        paths.push(path);
    }
    Some((probes, paths))
}

/// The plan's model settings for these probes: IRE pairs and voltages from the ratio (capped).
pub fn settings_for(req: &SuggestRequest<'_>, probes: &[Probe], ratio_v_per_cm: f64) -> ModelSettings {
    match &req.settings {
        ModelSettings::Ire { settings, model } => {
            let mut s = settings.clone();
            s.ratio_v_per_cm = ratio_v_per_cm;
            s.voltage_cap_v = s.voltage_cap_v.min(req.limits.voltage_cap_v);
            s.pairs = default_pairs(probes, &s);
            for p in &mut s.pairs {
                if let Some(d) = crate::plan::ire::pair_spacing_mm(&probes[p.a], &probes[p.b]) {
                    p.voltage_v = voltage_for_spacing(d, ratio_v_per_cm, s.voltage_cap_v);
                }
            }
            ModelSettings::Ire {
                settings: s,
                model: model.clone(),
            }
        }
        ModelSettings::Cryo(c) => {
            let mut c = c.clone();
            // The protocol as set; duties of probes this plan does not have are dropped.
            for ph in &mut c.protocol.phases {
                ph.probe_duty.retain(|d| d.probe < probes.len());
            }
            ModelSettings::Cryo(c)
        }
    }
}

/// Whether the preview's zone of `selector` contains `p`.
pub fn preview_contains(pv: &ModelPreview, selector: &ZoneSelector, lethal_c: f64, p: &PatientPos) -> bool {
    match pv {
        ModelPreview::Ire(r) => r.in_zone(p),
        ModelPreview::Cryo(c) => {
            let t = match selector {
                ZoneSelector::CryoIsotherm { temp_c } => *temp_c,
                ZoneSelector::Lethal | ZoneSelector::IreZone => lethal_c,
            };
            c.isotherms_c
                .iter()
                .position(|x| (x - t).abs() < 0.5)
                .is_some_and(|iso| c.contains(iso, p))
        }
    }
}

/// IRE: where the full model's zone is decided by its discretisation rather than by the
/// physics — next to an electrode, whose metal nodes hold a fixed potential and whose
/// neighbours' field is a one-sided difference. The preview (a smooth line-source field) says
/// nothing reliable there: a point within the radius plus half the confirming grid's spacing of
/// an exposed segment is uncertain. It is left out of the preview's coverage fractions, and
/// arrays with fewer uncertain points rank first among those that cover: otherwise an array
/// whose electrode runs through the shell ranks first on the preview and misses those points on
/// the full model. Cryo: the probe is the coldest point, nothing is uncertain.
fn electrode_tubes(req: &SuggestRequest<'_>, probes: &[Probe]) -> Vec<crate::physics::ire::field::Electrode> {
    let ModelSettings::Ire { model, .. } = &req.settings else {
        return Vec::new();
    };
    let h = req
        .limits
        .confirm_spacing_mm
        .map_or(model.spacing_mm, |s| model.spacing_mm.max(s));
    probes
        .iter()
        .filter_map(|p| crate::physics::ire::model::probe_electrode(p).ok())
        .map(|mut e| {
            e.radius_mm += 0.5 * h;
            e
        })
        .collect()
}

/// The preview judgement of one array.
#[allow(clippy::too_many_arguments)]
fn evaluate(
    req: &SuggestRequest<'_>,
    target: &TargetPoints,
    critical: &[CriticalPoints],
    hard: &[HardClearance],
    probes: Vec<Probe>,
    paths: Vec<PathCheck>,
    approach: &Approach,
    (n, spacing_mm, exposure_mm, rotation_deg): (usize, f64, f64, f64),
) -> Option<Candidate> {
    let settings = settings_for(req, &probes, req.limits.ratio_v_per_cm);
    let pv = preview(&probes, &settings, req.tissue, req.assets).ok()?;
    let lethal_c = settings.lethal_isotherm_c().unwrap_or(f64::NAN);
    let tubes = electrode_tubes(req, &probes);
    let uncertain = |p: &PatientPos| tubes.iter().any(|e| e.signed_distance(p) < 0.0);
    let (mut breaks, mut tight) = (Vec::new(), Vec::new());
    let growth = req.limits.preview_growth_mm;
    for h in hard {
        let inside = |p: &PatientPos| preview_contains(&pv, &h.zone, lethal_c, p);
        for c in critical.iter().filter(|c| h.kinds.contains(&c.kind)) {
            if violates_clearance(&c.points, h.below_mm, &inside) {
                if !breaks.contains(&c.name) {
                    breaks.push(c.name.clone());
                }
            } else if growth > 0.0
                && violates_clearance(&c.points, h.below_mm + growth, &inside)
                && !tight.contains(&c.name)
            {
                tight.push(c.name.clone());
            }
        }
    }
    let current_a = match &pv {
        ModelPreview::Ire(r) => Some(r.pairs.iter().map(|p| p.current_a).fold(0.0, f64::max)),
        ModelPreview::Cryo(_) => None,
    };
    let levels: Vec<f32> = target
        .inside
        .iter()
        .chain(&target.shell)
        .map(|p| {
            if uncertain(p) {
                UNCERTAIN
            } else {
                preview_level(&pv, lethal_c, p) as f32
            }
        })
        .collect();
    let headroom = headroom(&levels, target.inside.len());
    let (coverage_target, coverage_margin) = coverage_of_levels(&levels, target.inside.len());
    let uncertain = levels.iter().filter(|l| l.is_nan()).count();
    let (in_plane_deg, cranio_caudal_deg) = angles_from_direction(&approach.direction).unwrap_or((0.0, 0.0));
    Some(Candidate {
        probes,
        settings,
        paths,
        n,
        spacing_mm,
        exposure_mm,
        rotation_deg,
        in_plane_deg,
        cranio_caudal_deg,
        depth_mm: approach.depth_mm,
        coverage_target,
        coverage_margin,
        current_a,
        breaks,
        tight,
        levels,
        headroom,
        uncertain,
    })
}

/// Every array the search judges along one approach, fewest probes first; stops adding probes
/// once some array of a count covers target + margin within the rules (more probes would only
/// rank lower). `cancelled` is polled between arrays.
pub fn search_approach(
    req: &SuggestRequest<'_>,
    scene: &PathScene<'_>,
    target: &TargetPoints,
    critical: &[CriticalPoints],
    hard: &[HardClearance],
    approach: &Approach,
    cancelled: &dyn Fn() -> bool,
) -> Vec<Candidate> {
    let l = &req.limits;
    let mut out = Vec::new();
    for n in l.count_min..=l.count_max {
        let spacings: &[f64] = if n == 1 { &[0.0] } else { &l.spacings_mm };
        let rotations: &[f64] = if n == 1 { &[0.0] } else { &l.rotations_deg };
        let mut found = false;
        for &s in spacings {
            for &e in &l.exposures_mm {
                for &r in rotations {
                    if cancelled() {
                        return out;
                    }
                    let Some((probes, paths)) =
                        array_along(req, scene, target.centroid_lps, approach, n, s, e, r)
                    else {
                        continue;
                    };
                    if let Some(c) =
                        evaluate(req, target, critical, hard, probes, paths, approach, (n, s, e, r))
                    {
                        found |= c.covers() && c.meets_hard_rules(l) && c.tight.is_empty();
                        out.push(c);
                    }
                }
            }
        }
        if found {
            break;
        }
    }
    out
}
