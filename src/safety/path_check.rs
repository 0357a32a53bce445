//! The whole needle path from the skin to the tip (issue 16): what it crosses — bone and gas
//! (bowel or lung) read from the CT's HU inside the body outline, the drawn structures, the other
//! probes — each with its depth from the skin; and the safe window on the skin around a tip (for
//! which directions the path is clear).
//!
//! The path is sampled every 0.5 mm (at most a quarter of the smallest voxel spacing); a sample
//! belongs to what its nearest CT voxel is. The target the tip aims at is not a hazard. The
//! finer, conservative graze test of drawn structures (probe radius plus a voxel diagonal) is
//! [`super::path::path_collisions`]; this check is the fast one a search can call thousands of
//! times.

use crate::anatomy::body::{
    BodyMask, Reach, SkinPath, SkinPathError, direction_from_angles, shortest_reaching,
};
use crate::anatomy::structure::{Structure, StructureKind};
use crate::geometry::{PatientPos, VolumeGeometry};
use crate::plan::checks::closest_point_on_segment;
use crate::plan::probe::Probe;
use crate::plan::trajectory::TrajectoryLimits;
use crate::volume::Volume;
use nalgebra::Vector3;
use serde::{Deserialize, Serialize};

/// What a path crosses.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HazardKind {
    /// HU at or above the bone threshold.
    Bone,
    /// Gas inside the body: bowel or lung/pleura.
    Gas,
    /// A drawn structure of this kind (not a target).
    Structure(StructureKind),
    /// Another probe's shaft.
    Probe,
}

impl HazardKind {
    pub fn label(&self) -> &'static str {
        match self {
            HazardKind::Bone => "bone",
            HazardKind::Gas => "gas (bowel or lung)",
            HazardKind::Structure(k) => k.label(),
            HazardKind::Probe => "another probe",
        }
    }
}

/// One stretch of the path through one hazard.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathHazard {
    pub kind: HazardKind,
    /// The structure's or probe's name; the kind's label for bone and gas.
    pub name: String,
    /// Depth from the skin where the stretch starts and ends (mm).
    pub from_skin_mm: [f64; 2],
    pub enter_lps: PatientPos,
    pub exit_lps: PatientPos,
}

/// A path from the skin to a tip with what it crosses.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathCheck {
    pub skin: SkinPath,
    pub hazards: Vec<PathHazard>,
    /// Whether the shortest catalog length reaches the tip (`None`: the catalog gives no length).
    pub reach: Option<Reach>,
    /// The shortest catalog length that reaches (mm).
    pub probe_length_mm: Option<f64>,
}

impl PathCheck {
    pub fn is_clear(&self) -> bool {
        self.hazards.is_empty() && self.reach.is_none_or(Reach::in_reach) && !self.skin.crosses_outside
    }

    /// The first hazard from the skin, in words ("bone at 42 mm from the skin").
    pub fn first_problem(&self) -> Option<String> {
        if let Some(h) = self.hazards.first() {
            return Some(format!("{} at {:.0} mm from the skin", h.name, h.from_skin_mm[0]));
        }
        if let Some(Reach::OutOfReach { short_by_mm }) = self.reach {
            return Some(format!(
                "tip out of reach: {:.0} mm deep, the longest probe is {short_by_mm:.0} mm short",
                self.skin.depth_mm
            ));
        }
        self.skin
            .crosses_outside
            .then(|| "the path leaves the body and enters it again".to_string())
    }
}

/// What the path check reads: the CT and its body (absent for a phantom, where the path starts
/// `phantom_depth_mm` from the tip), the structures, the probes already placed and the catalog
/// lengths of the probe.
#[derive(Clone, Copy)]
pub struct PathScene<'a> {
    pub volume: Option<&'a Volume>,
    pub body: Option<&'a BodyMask>,
    pub structures: &'a [Structure],
    /// The grid of the structures' masks (the CT's, or a phantom's).
    pub structure_geometry: &'a VolumeGeometry,
    pub other_probes: &'a [Probe],
    /// Shaft radius of the probe and of the others (mm): a shaft closer than twice it plus 1 mm
    /// to another crosses it.
    pub probe_radius_mm: f64,
    pub lengths_mm: &'a [f64],
    pub limits: &'a TrajectoryLimits,
    pub phantom_depth_mm: f64,
}

const STEP_MM: f64 = 0.5;

/// The path to `tip_lps` along `direction` (entry → tip) from the skin, checked.
pub fn check_path(
    scene: &PathScene<'_>,
    tip_lps: PatientPos,
    direction: Vector3<f64>,
) -> Result<PathCheck, SkinPathError> {
    let skin = match scene.body {
        Some(body) => body.skin_path(tip_lps, direction)?,
        None => {
            let d = direction
                .try_normalize(1e-12)
                .ok_or(SkinPathError::BadDirection)?;
            SkinPath {
                tip_lps,
                entry_lps: tip_lps - d * scene.phantom_depth_mm,
                direction: d,
                depth_mm: scene.phantom_depth_mm,
                crosses_outside: false,
                beyond_scan: false,
            }
        }
    };
    let hazards = hazards_along(scene, &skin);
    let probe_length_mm = shortest_reaching(skin.depth_mm, scene.lengths_mm);
    let reach = scene
        .lengths_mm
        .iter()
        .copied()
        .fold(None, |m: Option<f64>, l| Some(m.map_or(l, |x| x.max(l))));
    Ok(PathCheck {
        reach: reach.map(|longest| Reach::of(skin.depth_mm, longest)),
        probe_length_mm,
        skin,
        hazards,
    })
}

/// The hazards of one skin path, in order of depth.
fn hazards_along(scene: &PathScene<'_>, skin: &SkinPath) -> Vec<PathHazard> {
    let spacing = scene.volume.map_or(STEP_MM * 4.0, |v| {
        v.geometry
            .spacing_mm
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
    });
    let step = (0.25 * spacing).clamp(0.05, STEP_MM);
    let n = (skin.depth_mm / step).ceil().max(1.0) as usize;
    let mut open: Vec<(HazardKind, String, f64, PatientPos, f64, PatientPos)> = Vec::new();
    let mut done = Vec::new();
    for s in 0..=n {
        let depth = skin.depth_mm * s as f64 / n as f64;
        let p = skin.entry_lps + skin.direction * depth;
        let here = hazards_at(scene, &p);
        // Close the stretches that ended.
        let mut still = Vec::with_capacity(open.len());
        for h in open.drain(..) {
            if here.iter().any(|(k, name)| *k == h.0 && *name == h.1) {
                still.push(h);
            } else {
                done.push(h);
            }
        }
        open = still;
        for (k, name) in here {
            match open.iter_mut().find(|h| h.0 == k && h.1 == name) {
                Some(h) => {
                    h.4 = depth;
                    h.5 = p;
                }
                None => open.push((k, name, depth, p, depth, p)),
            }
        }
    }
    done.extend(open);
    let mut out: Vec<PathHazard> = done
        .into_iter()
        .map(|(kind, name, a, pa, b, pb)| PathHazard {
            kind,
            name,
            from_skin_mm: [a, b],
            enter_lps: pa,
            exit_lps: pb,
        })
        .collect();
    out.sort_by(|a, b| a.from_skin_mm[0].total_cmp(&b.from_skin_mm[0]));
    out
}

/// What one point of the path lies in.
fn hazards_at(scene: &PathScene<'_>, p: &PatientPos) -> Vec<(HazardKind, String)> {
    let mut out = Vec::new();
    let g = scene.structure_geometry;
    if let Some([i, j, k]) = g.nearest_voxel(&g.to_voxel(p)) {
        for s in scene.structures {
            if s.kind != StructureKind::Target && s.mask().contains(i, j, k) {
                out.push((HazardKind::Structure(s.kind), s.name.clone()));
            }
        }
    }
    // Contrast in a drawn vessel reaches bone HU: there the vessel, already named, explains it.
    let in_vessel = out
        .iter()
        .any(|(k, _)| *k == HazardKind::Structure(StructureKind::Vessel));
    if let Some(v) = scene.volume {
        let g = &v.geometry;
        if let Some([i, j, k]) = g.nearest_voxel(&g.to_voxel(p)) {
            let hu = v.get(i, j, k).unwrap_or(i16::MIN);
            let in_body = scene.body.is_none_or(|b| b.contains_voxel(i, j, k));
            if in_body && !in_vessel && hu >= scene.limits.bone_min() {
                out.push((HazardKind::Bone, "bone".to_string()));
            }
            if in_body && hu <= scene.limits.gas_max() {
                out.push((HazardKind::Gas, "gas (bowel or lung)".to_string()));
            }
        }
    }
    let gap = 2.0 * scene.probe_radius_mm.max(0.0) + 1.0;
    for o in scene.other_probes {
        let c = closest_point_on_segment(p, &o.entry_lps, &o.tip_lps);
        if (c - p).norm() < gap {
            out.push((HazardKind::Probe, format!("probe {}", o.label)));
        }
    }
    out
}

/// One direction of the safe window around a tip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WindowSample {
    pub in_plane_deg: f64,
    pub cranio_caudal_deg: f64,
    pub entry_lps: Option<PatientPos>,
    pub depth_mm: Option<f64>,
    pub clear: bool,
    /// Why not clear, in words.
    pub problem: Option<String>,
}

/// One direction of a safe window: the path to `tip_lps` along `direction` (entry → tip, whose
/// CT-guided angles are `in_plane_deg`, `cranio_caudal_deg`) checked.
pub fn window_sample(
    scene: &PathScene<'_>,
    tip_lps: PatientPos,
    direction: Vector3<f64>,
    in_plane_deg: f64,
    cranio_caudal_deg: f64,
) -> WindowSample {
    match check_path(scene, tip_lps, direction) {
        Ok(check) => WindowSample {
            in_plane_deg,
            cranio_caudal_deg,
            entry_lps: Some(check.skin.entry_lps),
            depth_mm: Some(check.skin.depth_mm),
            clear: check.is_clear(),
            problem: check.first_problem(),
        },
        Err(e) => WindowSample {
            in_plane_deg,
            cranio_caudal_deg,
            entry_lps: None,
            depth_mm: None,
            clear: false,
            problem: Some(e.to_string()),
        },
    }
}

/// The safe window on the skin for a tip: every in-plane angle in `in_plane_step_deg` steps and
/// every cranio-caudal angle in `cc_step_deg` steps within ± `cc_max_deg`.
pub fn skin_window(
    scene: &PathScene<'_>,
    tip_lps: PatientPos,
    in_plane_step_deg: f64,
    cc_step_deg: f64,
    cc_max_deg: f64,
) -> Vec<WindowSample> {
    let ip_n = (360.0 / in_plane_step_deg.max(1.0)).round().max(1.0) as usize;
    let cc_n = (cc_max_deg.max(0.0) / cc_step_deg.max(1.0)).floor() as i64;
    let mut out = Vec::with_capacity(ip_n * (2 * cc_n as usize + 1));
    for c in -cc_n..=cc_n {
        let cc = c as f64 * cc_step_deg;
        for a in 0..ip_n {
            let ip = a as f64 * 360.0 / ip_n as f64;
            let sample = window_sample(scene, tip_lps, direction_from_angles(ip, cc), ip, cc);
            out.push(sample);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anatomy::mask::Mask;
    use crate::anatomy::structure::Provenance;
    use crate::plan::trajectory::builtin_trajectory_limits;
    use crate::volume::VolumeMeta;

    /// A round 1 mm "abdomen" (radius 40 mm, 40 HU) in air; a rib of bone (600 HU) anteriorly
    /// at y −30…−26, x −5…5; a gas bubble (−900 HU) on the left at x 15…20; a drawn,
    /// contrast-filled vessel (300 HU, above the bone threshold) on the right at x −20…−15; the
    /// target at the centre.
    fn scene_parts() -> (Volume, Vec<Structure>) {
        let dims = [100, 100, 8];
        let g = VolumeGeometry::axis_aligned(dims, [1.0, 1.0, 1.0], PatientPos::new(-50.0, -50.0, 0.0));
        let mut hu = vec![-1000i16; g.voxel_count()];
        let mut vessel = vec![false; g.voxel_count()];
        let mut target = vec![false; g.voxel_count()];
        for k in 0..8 {
            for j in 0..100 {
                for i in 0..100 {
                    let p = g.to_patient(&Vector3::new(i as f64, j as f64, k as f64));
                    let n = i + 100 * (j + 100 * k);
                    if p.x.hypot(p.y) <= 40.0 {
                        hu[n] = 40;
                    }
                    if (-30.0..=-26.0).contains(&p.y) && p.x.abs() <= 5.0 {
                        hu[n] = 600;
                    }
                    if (15.0..=20.0).contains(&p.x) && p.y.abs() <= 3.0 {
                        hu[n] = -900;
                    }
                    vessel[n] = (-20.0..=-15.0).contains(&p.x) && p.y.abs() <= 3.0;
                    if vessel[n] {
                        hu[n] = 300;
                    }
                    target[n] = p.x.hypot(p.y) <= 4.0;
                }
            }
        }
        let v = Volume::new(g, hu, VolumeMeta::default()).expect("volume");
        let s = vec![
            Structure::new(
                "Node",
                StructureKind::Target,
                Provenance::Drawn,
                Mask::from_dense(dims, &target),
            ),
            Structure::new(
                "Right vessel",
                StructureKind::Vessel,
                Provenance::Drawn,
                Mask::from_dense(dims, &vessel),
            ),
        ];
        (v, s)
    }

    /// The scene of `scene_parts` with its body, no other probe and a 150 mm probe.
    fn test_scene<'a>(
        v: &'a Volume,
        s: &'a [Structure],
        body: &'a BodyMask,
        limits: &'a TrajectoryLimits,
    ) -> PathScene<'a> {
        PathScene {
            volume: Some(v),
            body: Some(body),
            structures: s,
            structure_geometry: &v.geometry,
            other_probes: &[],
            probe_radius_mm: 0.5,
            lengths_mm: &[150.0],
            limits,
            phantom_depth_mm: 100.0,
        }
    }

    #[test]
    fn each_approach_names_what_it_crosses_with_the_depth_from_the_skin() {
        let (v, s) = scene_parts();
        let limits = builtin_trajectory_limits().expect("limits");
        let body = BodyMask::from_volume(&v, limits.body_threshold());
        let scene = test_scene(&v, &s, &body, &limits);
        let tip = PatientPos::new(0.0, 0.0, 4.0);
        let anterior = check_path(&scene, tip, direction_from_angles(0.0, 0.0)).expect("path");
        assert_eq!(anterior.hazards.len(), 1, "{:?}", anterior.hazards);
        assert_eq!(anterior.hazards[0].kind, HazardKind::Bone);
        // The rib starts 10 mm under the anterior skin (y −40 → −30).
        assert!((anterior.hazards[0].from_skin_mm[0] - 10.0).abs() <= 1.0);
        let left = check_path(&scene, tip, direction_from_angles(90.0, 0.0)).expect("path");
        assert_eq!(left.hazards[0].kind, HazardKind::Gas, "{:?}", left.hazards);
        let right = check_path(&scene, tip, direction_from_angles(270.0, 0.0)).expect("path");
        assert_eq!(
            right.hazards.iter().map(|h| &h.kind).collect::<Vec<_>>(),
            [&HazardKind::Structure(StructureKind::Vessel)],
            "the contrast-filled vessel is named as the vessel, not also as bone"
        );
        assert!((right.hazards[0].from_skin_mm[0] - 20.0).abs() <= 1.0);
        let posterior = check_path(&scene, tip, direction_from_angles(180.0, 0.0)).expect("path");
        assert!(posterior.is_clear(), "{:?}", posterior.hazards);
        assert!((posterior.skin.depth_mm - 40.0).abs() <= 1.0);
        // A 30 mm probe does not reach a 40 mm deep tip.
        let short = PathScene {
            lengths_mm: &[30.0],
            ..scene
        };
        let p = check_path(&short, tip, direction_from_angles(180.0, 0.0)).expect("path");
        assert!(!p.is_clear() && p.first_problem().is_some_and(|m| m.contains("out of reach")));
    }

    #[test]
    fn another_probe_on_the_path_is_a_hazard() {
        let (v, s) = scene_parts();
        let limits = builtin_trajectory_limits().expect("limits");
        let body = BodyMask::from_volume(&v, limits.body_threshold());
        let other = Probe {
            model_id: "nanoknife_19g".into(),
            tip_lps: PatientPos::new(-10.0, 20.0, 4.0),
            entry_lps: PatientPos::new(10.0, 20.0, 4.0),
            exposure_mm: 20.0,
            label: "1".into(),
        };
        let scene = PathScene {
            other_probes: std::slice::from_ref(&other),
            lengths_mm: &[],
            ..test_scene(&v, &s, &body, &limits)
        };
        let posterior = check_path(
            &scene,
            PatientPos::new(0.0, 0.0, 4.0),
            direction_from_angles(180.0, 0.0),
        )
        .expect("path");
        assert_eq!(posterior.hazards.len(), 1);
        assert_eq!(posterior.hazards[0].kind, HazardKind::Probe);
    }

    #[test]
    fn the_safe_window_is_clear_posteriorly_and_blocked_where_the_rib_is() {
        let (v, s) = scene_parts();
        let limits = builtin_trajectory_limits().expect("limits");
        let body = BodyMask::from_volume(&v, limits.body_threshold());
        let scene = test_scene(&v, &s, &body, &limits);
        let w = skin_window(&scene, PatientPos::new(0.0, 0.0, 4.0), 30.0, 10.0, 0.0);
        assert_eq!(w.len(), 12);
        let at = |deg: f64| {
            w.iter()
                .find(|s| (s.in_plane_deg - deg).abs() < 1e-9)
                .expect("angle")
        };
        assert!(at(180.0).clear);
        assert!(!at(0.0).clear && at(0.0).problem.as_deref().is_some_and(|p| p.contains("bone")));
    }
}
