//! The body outline of a CT and where a straight needle path meets the skin.
//!
//! The body is the CT's voxels above a HU threshold (air and the table padding fall below it),
//! its largest 6-connected component (the table, the arms' blankets and noise are separate
//! pieces), with every hole of each slice filled (lung, bowel gas and the airways are inside the
//! patient, not outside). The threshold is a parameter: its sourced value lives in
//! `assets/trajectory.json` (`plan::trajectory`).
//!
//! A path from a tip outwards leaves the body at the **skin entry**: the outermost point where
//! the ray is still inside the body (a path that leaves the body between the arm and the trunk
//! and enters again enters at the arm's skin — the needle must pass both).
//!
//! Angles are those of CT-guided interventions, measured on the way *out* from the tip to the
//! entry: the **in-plane** (axial) angle in the patient's axial plane, 0° = anterior entry
//! (needle going anterior → posterior), 90° = from the patient's left, 180° = posterior, 270° =
//! from the right; the **cranio-caudal** angle out of the axial plane, positive when the entry
//! lies cranial to the tip (the needle points caudally).

use crate::geometry::{PatientPos, VolumeGeometry};
use crate::volume::Volume;
use nalgebra::Vector3;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// The body of a CT as flags on its grid.
#[derive(Clone, Debug)]
pub struct BodyMask {
    pub geometry: VolumeGeometry,
    inside: Vec<bool>,
    pub threshold_hu: i16,
}

/// Why no skin path exists.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SkinPathError {
    #[error("the tip ({0:.1}, {1:.1}, {2:.1}) mm is outside the body outline")]
    TipOutsideBody(f64, f64, f64),
    #[error("the path direction is zero or not finite")]
    BadDirection,
}

/// A straight path from the skin to a tip.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SkinPath {
    pub tip_lps: PatientPos,
    /// Where the path leaves the body (the needle enters here).
    pub entry_lps: PatientPos,
    /// Unit insertion direction (entry → tip).
    pub direction: Vector3<f64>,
    /// Skin → tip (mm).
    pub depth_mm: f64,
    /// The path leaves the body and enters it again (between the arm and the trunk …).
    pub crosses_outside: bool,
    /// The body reaches the edge of the scan along the path: the entry is the scan's edge and the
    /// true skin lies farther out (the depth is a lower bound).
    pub beyond_scan: bool,
}

/// Whether a probe reaches a tip from its entry.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum Reach {
    /// The probe is long enough; `spare_mm` of shaft stays outside the skin.
    InReach { spare_mm: f64 },
    /// The tip is deeper than the probe: it is `short_by_mm` short.
    OutOfReach { short_by_mm: f64 },
}

impl Reach {
    pub fn of(depth_mm: f64, probe_length_mm: f64) -> Reach {
        if depth_mm <= probe_length_mm {
            Reach::InReach {
                spare_mm: probe_length_mm - depth_mm,
            }
        } else {
            Reach::OutOfReach {
                short_by_mm: depth_mm - probe_length_mm,
            }
        }
    }

    pub fn in_reach(self) -> bool {
        matches!(self, Reach::InReach { .. })
    }
}

/// The shortest catalog length that reaches a depth, or `None` when none does.
pub fn shortest_reaching(depth_mm: f64, lengths_mm: &[f64]) -> Option<f64> {
    lengths_mm
        .iter()
        .copied()
        .filter(|l| Reach::of(depth_mm, *l).in_reach())
        .fold(None, |best: Option<f64>, l| Some(best.map_or(l, |b| b.min(l))))
}

impl BodyMask {
    /// The body of `volume`: voxels above `threshold_hu`, largest connected component, holes of
    /// each slice filled.
    pub fn from_volume(volume: &Volume, threshold_hu: i16) -> Self {
        let geometry = volume.geometry.clone();
        let above: Vec<bool> = volume.hu.iter().map(|&h| h > threshold_hu).collect();
        let mut inside = largest_component(&above, geometry.dims);
        fill_slice_holes(&mut inside, geometry.dims);
        BodyMask {
            geometry,
            inside,
            threshold_hu,
        }
    }

    /// A body given as flags (tests, phantoms); `None` when the length does not match the grid.
    pub fn from_flags(geometry: VolumeGeometry, inside: Vec<bool>, threshold_hu: i16) -> Option<Self> {
        (inside.len() == geometry.voxel_count()).then_some(BodyMask {
            geometry,
            inside,
            threshold_hu,
        })
    }

    pub fn contains_voxel(&self, i: usize, j: usize, k: usize) -> bool {
        self.geometry
            .index(i as i64, j as i64, k as i64)
            .is_some_and(|n| self.inside[n])
    }

    /// Whether an LPS point is inside the body (nearest voxel); `false` outside the scan.
    pub fn contains(&self, p: &PatientPos) -> bool {
        self.geometry
            .nearest_voxel(&self.geometry.to_voxel(p))
            .is_some_and(|[i, j, k]| self.contains_voxel(i, j, k))
    }

    /// Whether an LPS point lies inside the scanned volume.
    pub fn in_scan(&self, p: &PatientPos) -> bool {
        self.geometry.nearest_voxel(&self.geometry.to_voxel(p)).is_some()
    }

    pub fn voxel_count(&self) -> usize {
        self.inside.iter().filter(|b| **b).count()
    }

    /// The straight path to `tip_lps` along `direction` (entry → tip, any length): where it
    /// leaves the body going out from the tip.
    pub fn skin_path(&self, tip_lps: PatientPos, direction: Vector3<f64>) -> Result<SkinPath, SkinPathError> {
        let d = direction
            .try_normalize(1e-12)
            .filter(|d| d.iter().all(|c| c.is_finite()))
            .ok_or(SkinPathError::BadDirection)?;
        if !self.contains(&tip_lps) {
            return Err(SkinPathError::TipOutsideBody(tip_lps.x, tip_lps.y, tip_lps.z));
        }
        let step = 0.25
            * self
                .geometry
                .spacing_mm
                .iter()
                .copied()
                .fold(f64::INFINITY, f64::min);
        let step = step.clamp(0.05, 0.5);
        // Outermost inside sample, and whether an outside stretch lies before it.
        let (mut last_inside, mut left_once, mut crosses_outside) = (0.0f64, false, false);
        let mut t = step;
        loop {
            let p = tip_lps - d * t;
            if !self.in_scan(&p) {
                break;
            }
            if self.contains(&p) {
                if left_once {
                    crosses_outside = true;
                }
                last_inside = t;
            } else {
                left_once = true;
            }
            t += step;
        }
        let beyond_scan = !left_once || last_inside + step >= t - 1e-9;
        // The skin lies half a step beyond the last inside sample on average.
        let depth_mm = if beyond_scan {
            last_inside
        } else {
            last_inside + 0.5 * step
        };
        Ok(SkinPath {
            tip_lps,
            entry_lps: tip_lps - d * depth_mm,
            direction: d,
            depth_mm,
            crosses_outside,
            beyond_scan,
        })
    }
}

/// Insertion direction (entry → tip, LPS) from the in-plane (axial) and cranio-caudal angles of
/// the path (module docs: measured from the tip out to the entry).
pub fn direction_from_angles(in_plane_deg: f64, cranio_caudal_deg: f64) -> Vector3<f64> {
    let (ip, cc) = (in_plane_deg.to_radians(), cranio_caudal_deg.to_radians());
    // Outward (tip → entry): 0° anterior = −P, 90° left = +L, cranial = +S.
    let out = Vector3::new(cc.cos() * ip.sin(), -cc.cos() * ip.cos(), cc.sin());
    -out
}

/// The (in-plane, cranio-caudal) angles in degrees of an insertion direction (entry → tip);
/// in-plane in [0, 360). `None` for a zero direction.
pub fn angles_from_direction(direction: &Vector3<f64>) -> Option<(f64, f64)> {
    let out = -direction.try_normalize(1e-12)?;
    let cc = out.z.clamp(-1.0, 1.0).asin().to_degrees();
    let ip = out.x.atan2(-out.y).to_degrees().rem_euclid(360.0);
    // Straight cranio-caudal paths have no in-plane angle: report 0.
    let ip = if out.x.hypot(out.y) < 1e-9 { 0.0 } else { ip };
    Some((ip, cc))
}

/// The largest 6-connected component of `flags` (`dims` = i, j, k).
fn largest_component(flags: &[bool], dims: [usize; 3]) -> Vec<bool> {
    let mut seen = vec![false; flags.len()];
    let mut best: Option<(usize, usize)> = None; // (size, seed)
    let mut queue = VecDeque::new();
    for seed in 0..flags.len() {
        if !flags[seed] || seen[seed] {
            continue;
        }
        let size = flood(flags, dims, seed, &mut seen, &mut queue);
        if best.is_none_or(|(s, _)| size > s) {
            best = Some((size, seed));
        }
    }
    let mut out = vec![false; flags.len()];
    if let Some((_, seed)) = best {
        flood(flags, dims, seed, &mut out, &mut queue);
    }
    out
}

/// Marks in `mark` the 6-connected component of `flags` holding `seed`; returns its size.
fn flood(
    flags: &[bool],
    dims: [usize; 3],
    seed: usize,
    mark: &mut [bool],
    queue: &mut VecDeque<usize>,
) -> usize {
    let [nx, ny, nz] = dims;
    let plane = nx * ny;
    mark[seed] = true;
    queue.clear();
    queue.push_back(seed);
    let mut size = 0;
    while let Some(n) = queue.pop_front() {
        size += 1;
        let (i, j, k) = (n % nx, (n / nx) % ny, n / plane);
        let mut visit = |m: usize| {
            if flags[m] && !mark[m] {
                mark[m] = true;
                queue.push_back(m);
            }
        };
        if i > 0 {
            visit(n - 1);
        }
        if i + 1 < nx {
            visit(n + 1);
        }
        if j > 0 {
            visit(n - nx);
        }
        if j + 1 < ny {
            visit(n + nx);
        }
        if k > 0 {
            visit(n - plane);
        }
        if k + 1 < nz {
            visit(n + plane);
        }
    }
    size
}

/// Fills, in every slice, what the outside (4-connected from the slice's border) does not reach.
fn fill_slice_holes(inside: &mut [bool], dims: [usize; 3]) {
    let [nx, ny, nz] = dims;
    let plane = nx * ny;
    let mut outside = vec![false; plane];
    let mut stack = Vec::new();
    for k in 0..nz {
        let slice = &mut inside[k * plane..(k + 1) * plane];
        outside.iter_mut().for_each(|o| *o = false);
        stack.clear();
        for i in 0..nx {
            stack.push(i);
            stack.push(i + nx * (ny - 1));
        }
        for j in 0..ny {
            stack.push(nx * j);
            stack.push(nx * j + nx - 1);
        }
        while let Some(n) = stack.pop() {
            if slice[n] || outside[n] {
                continue;
            }
            outside[n] = true;
            let (i, j) = (n % nx, n / nx);
            if i > 0 {
                stack.push(n - 1);
            }
            if i + 1 < nx {
                stack.push(n + 1);
            }
            if j > 0 {
                stack.push(n - nx);
            }
            if j + 1 < ny {
                stack.push(n + nx);
            }
        }
        for (s, o) in slice.iter_mut().zip(&outside) {
            *s = !*o;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::VolumeMeta;

    /// A 1 mm phantom: an ellipse body of soft tissue (40 HU) with a lung hole (−850 HU) and a
    /// separate table slab below it (both above the threshold), in air.
    fn phantom() -> Volume {
        let dims = [80, 80, 10];
        let g = VolumeGeometry::axis_aligned(dims, [1.0, 1.0, 1.0], PatientPos::new(-40.0, -40.0, 0.0));
        let mut hu = vec![-1000i16; g.voxel_count()];
        for k in 0..10 {
            for j in 0..80 {
                for i in 0..80 {
                    let p = g.to_patient(&Vector3::new(i as f64, j as f64, k as f64));
                    let n = i + 80 * (j + 80 * k);
                    if (p.x / 30.0).powi(2) + (p.y / 20.0).powi(2) <= 1.0 {
                        hu[n] = 40;
                        if (p.x - 10.0).powi(2) + p.y.powi(2) <= 25.0 {
                            hu[n] = -850;
                        }
                    }
                    if p.y >= 30.0 && p.y <= 34.0 {
                        hu[n] = 200; // the table
                    }
                }
            }
        }
        Volume::new(g, hu, VolumeMeta::default()).expect("volume")
    }

    #[test]
    fn the_body_is_the_patient_with_its_lung_but_without_the_table() {
        let v = phantom();
        let b = BodyMask::from_volume(&v, -500);
        assert!(b.contains(&PatientPos::new(0.0, 0.0, 5.0)));
        assert!(
            b.contains(&PatientPos::new(10.0, 0.0, 5.0)),
            "the lung hole is filled"
        );
        assert!(
            !b.contains(&PatientPos::new(0.0, 32.0, 5.0)),
            "the table is a separate piece"
        );
        assert!(!b.contains(&PatientPos::new(35.0, 0.0, 5.0)), "air outside");
    }

    #[test]
    fn an_anterior_path_enters_at_the_anterior_skin_with_the_depth_to_the_tip() {
        let b = BodyMask::from_volume(&phantom(), -500);
        let tip = PatientPos::new(0.0, 5.0, 5.0);
        let p = b.skin_path(tip, direction_from_angles(0.0, 0.0)).expect("path");
        // The anterior skin is at y = −20 (±half a voxel).
        assert!((p.entry_lps.y + 20.0).abs() <= 1.0, "{:?}", p.entry_lps);
        assert!((p.depth_mm - 25.0).abs() <= 1.0, "{}", p.depth_mm);
        assert!(!p.crosses_outside && !p.beyond_scan);
        // A lateral path from the left: skin at x = +30.
        let q = b.skin_path(tip, direction_from_angles(90.0, 0.0)).expect("path");
        assert!((q.entry_lps.x - 30.0).abs() <= 1.0, "{:?}", q.entry_lps);
        assert!(
            b.skin_path(PatientPos::new(35.0, 0.0, 5.0), Vector3::y())
                .is_err()
        );
    }

    #[test]
    fn angles_and_directions_round_trip_and_name_the_usual_approaches() {
        let close = |a: Vector3<f64>, b: Vector3<f64>| (a - b).norm() < 1e-9;
        assert!(
            close(direction_from_angles(0.0, 0.0), Vector3::new(0.0, 1.0, 0.0)),
            "anterior: A → P"
        );
        assert!(
            close(direction_from_angles(180.0, 0.0), Vector3::new(0.0, -1.0, 0.0)),
            "posterior: P → A"
        );
        assert!(
            close(direction_from_angles(90.0, 0.0), Vector3::new(-1.0, 0.0, 0.0)),
            "from the left: L → R"
        );
        assert!(
            direction_from_angles(0.0, 30.0).z < 0.0,
            "cranial entry: the needle points caudally"
        );
        for ip in [0.0, 35.0, 170.0, 260.0, 359.0] {
            for cc in [-40.0, -10.0, 0.0, 25.0] {
                let (a, c) = angles_from_direction(&direction_from_angles(ip, cc)).expect("angles");
                assert!(
                    (a - ip).abs() < 1e-6 && (c - cc).abs() < 1e-6,
                    "{ip} {cc} → {a} {c}"
                );
            }
        }
    }

    #[test]
    fn reach_says_how_much_is_missing_and_picks_the_shortest_probe_that_reaches() {
        assert_eq!(Reach::of(120.0, 150.0), Reach::InReach { spare_mm: 30.0 });
        assert_eq!(Reach::of(180.0, 150.0), Reach::OutOfReach { short_by_mm: 30.0 });
        assert_eq!(shortest_reaching(120.0, &[250.0, 150.0]), Some(150.0));
        assert_eq!(shortest_reaching(200.0, &[250.0, 150.0]), Some(250.0));
        assert_eq!(shortest_reaching(300.0, &[250.0, 150.0]), None);
    }
}
