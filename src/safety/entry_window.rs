//! The safe window on the skin in one view's plane (issue 16): for a probe's tip, every
//! direction in the plane through the tip parallel to the view, where that path enters the skin
//! and whether it is clear of hard hazards within the probe's reach ([`check_path`]). The slice
//! views draw it as green / red marks along the body outline and pick an entry from it.

use super::path_check::{PathScene, WindowSample, window_sample};
use crate::anatomy::body::angles_from_direction;
use crate::geometry::PatientPos;
use nalgebra::Vector3;

/// The window in the plane spanned by `right` and `down` (the view's screen directions, LPS)
/// through `tip_lps`, one sample every `step_deg` going round from `down`. Each sample's path
/// runs from its skin entry to the tip; its angles are the CT-guided ones of that path.
pub fn window_in_plane(
    scene: &PathScene<'_>,
    tip_lps: PatientPos,
    right: Vector3<f64>,
    down: Vector3<f64>,
    step_deg: f64,
) -> Vec<WindowSample> {
    let n = (360.0 / step_deg.clamp(0.5, 90.0)).round().max(4.0) as usize;
    (0..n)
        .filter_map(|a| {
            let t = (a as f64 * 360.0 / n as f64).to_radians();
            // Outward from the tip towards the skin; the insertion runs the other way.
            let out = (down * t.cos() + right * t.sin()).try_normalize(1e-12)?;
            let (ip, cc) = angles_from_direction(&-out)?;
            Some(window_sample(scene, tip_lps, -out, ip, cc))
        })
        .collect()
}

/// The clear sample whose skin entry lies nearest `point` within `max_mm` (picking an entry
/// from the window), as its index.
pub fn nearest_clear(samples: &[WindowSample], point: &PatientPos, max_mm: f64) -> Option<usize> {
    samples
        .iter()
        .enumerate()
        .filter(|(_, s)| s.clear)
        .filter_map(|(i, s)| Some((i, (s.entry_lps? - point).norm())))
        .filter(|(_, d)| *d <= max_mm)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anatomy::body::BodyMask;
    use crate::geometry::VolumeGeometry;
    use crate::plan::trajectory::builtin_trajectory_limits;
    use crate::volume::{Volume, VolumeMeta};

    /// A 30 mm round body (40 HU) in air, 4 slices of 1 mm, with a bone plate (700 HU) 10 mm
    /// to the patient's right of the centre (x −14…−10, |y| ≤ 6).
    fn body_with_plate() -> Volume {
        let dims = [80, 80, 4];
        let g = VolumeGeometry::axis_aligned(dims, [1.0, 1.0, 1.0], PatientPos::new(-40.0, -40.0, 0.0));
        let hu = (0..g.voxel_count())
            .map(|n| {
                let (i, j) = (n % 80, (n / 80) % 80);
                let (x, y) = (i as f64 - 40.0, j as f64 - 40.0);
                if (-14.0..=-10.0).contains(&x) && y.abs() <= 6.0 {
                    700
                } else if x.hypot(y) <= 30.0 {
                    40
                } else {
                    -1000
                }
            })
            .collect();
        Volume::new(g, hu, VolumeMeta::default()).expect("volume")
    }

    #[test]
    fn the_window_is_blocked_towards_the_plate_and_clear_elsewhere_with_entries_on_the_skin() {
        let v = body_with_plate();
        let limits = builtin_trajectory_limits().expect("limits");
        let body = BodyMask::from_volume(&v, limits.body_threshold());
        let scene = PathScene {
            volume: Some(&v),
            body: Some(&body),
            structures: &[],
            structure_geometry: &v.geometry,
            other_probes: &[],
            probe_radius_mm: 0.5,
            lengths_mm: &[150.0],
            limits: &limits,
            phantom_depth_mm: 100.0,
        };
        let tip = PatientPos::new(0.0, 0.0, 2.0);
        // The axial view: screen right = patient left (+x), down = posterior (+y).
        let w = window_in_plane(&scene, tip, Vector3::x(), Vector3::y(), 10.0);
        assert_eq!(w.len(), 36);
        for s in &w {
            let e = s.entry_lps.expect("an entry");
            assert!((e.x.hypot(e.y) - 30.0).abs() <= 1.0, "on the skin: {e:?}");
            assert!((e.z - 2.0).abs() < 1e-9, "in the tip's plane");
        }
        // From the right (270° in-plane) the path meets the plate: blocked, named; from the left
        // (90°) it is clear.
        let at = |deg: f64| {
            w.iter()
                .find(|s| (s.in_plane_deg - deg).abs() < 1e-6)
                .expect("sampled")
        };
        assert!(!at(270.0).clear);
        assert!(at(270.0).problem.as_deref().is_some_and(|p| p.contains("bone")));
        assert!(at(90.0).clear && at(0.0).clear && at(180.0).clear);
        // A 20 mm probe reaches nothing 30 mm deep: no clear entry at all.
        let short = PathScene {
            lengths_mm: &[20.0],
            ..scene
        };
        let w = window_in_plane(&short, tip, Vector3::x(), Vector3::y(), 30.0);
        assert!(w.iter().all(|s| !s.clear));
    }

    #[test]
    fn picking_takes_the_nearest_clear_entry_within_reach_of_the_pointer() {
        let s = |x: f64, clear: bool| WindowSample {
            in_plane_deg: 0.0,
            cranio_caudal_deg: 0.0,
            entry_lps: Some(PatientPos::new(x, 0.0, 0.0)),
            depth_mm: Some(10.0),
            clear,
            problem: None,
        };
        let w = vec![s(0.0, true), s(4.0, false), s(8.0, true)];
        assert_eq!(nearest_clear(&w, &PatientPos::new(4.5, 0.0, 0.0), 10.0), Some(2));
        assert_eq!(nearest_clear(&w, &PatientPos::new(3.9, 0.0, 0.0), 10.0), Some(0));
        assert_eq!(nearest_clear(&w, &PatientPos::new(30.0, 0.0, 0.0), 10.0), None);
    }
}
