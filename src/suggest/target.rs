//! What a suggested plan must cover and must spare, as points: the target's voxel centres, the
//! shell at the margin goal around it (target + 5 mm), and the critical structures near it with
//! the clearance their hard rule asks for. A zone is then judged by point tests, the same for
//! the preview and the full model.

use crate::anatomy::structure::{Structure, StructureKind};
use crate::geometry::{PatientPos, VolumeGeometry};
use nalgebra::Vector3;

/// At most this many points of each kind (an even subsample keeps the search fast).
const MAX_TARGET_POINTS: usize = 1500;
const MAX_SHELL_POINTS: usize = 2500;
const MAX_CRITICAL_POINTS: usize = 1500;

/// 26 unit directions (faces, edges and corners of a cube).
pub fn directions26() -> Vec<Vector3<f64>> {
    let mut out = Vec::with_capacity(26);
    for x in -1i32..=1 {
        for y in -1i32..=1 {
            for z in -1i32..=1 {
                if (x, y, z) != (0, 0, 0) {
                    out.push(Vector3::new(f64::from(x), f64::from(y), f64::from(z)).normalize());
                }
            }
        }
    }
    out
}

/// The targets as points.
#[derive(Clone, Debug)]
pub struct TargetPoints {
    pub name: String,
    pub centroid_lps: PatientPos,
    /// Voxel centres of the target(s).
    pub inside: Vec<PatientPos>,
    /// Surface voxel centres.
    pub surface: Vec<PatientPos>,
    /// Points at the margin goal outside the target surface.
    pub shell: Vec<PatientPos>,
    pub margin_mm: f64,
    /// Largest extent through the centroid along the principal axes (mm).
    pub extent_mm: f64,
}

/// One critical structure as points near the target.
#[derive(Clone, Debug)]
pub struct CriticalPoints {
    pub name: String,
    pub kind: StructureKind,
    pub index: usize,
    pub points: Vec<PatientPos>,
    /// Smallest distance between a target surface point and one of these points (mm).
    pub distance_to_target_mm: f64,
}

fn voxel_centres(
    mask: &crate::anatomy::mask::Mask,
    g: &VolumeGeometry,
    surface_only: bool,
) -> Vec<PatientPos> {
    let [nx, ny, nz] = g.dims;
    let mut out = Vec::new();
    let Some((lo, hi)) = mask.bounding_box() else {
        return out;
    };
    for k in lo[2]..=hi[2].min(nz - 1) {
        for j in lo[1]..=hi[1].min(ny - 1) {
            for run in mask.row_runs(j, k) {
                for i in run.i0 as usize..run.i1 as usize {
                    let on_surface = || {
                        let out_of = |di: i64, dj: i64, dk: i64| {
                            let (a, b, c) = (i as i64 + di, j as i64 + dj, k as i64 + dk);
                            a < 0
                                || b < 0
                                || c < 0
                                || a as usize >= nx
                                || b as usize >= ny
                                || c as usize >= nz
                                || !mask.contains(a as usize, b as usize, c as usize)
                        };
                        out_of(-1, 0, 0)
                            || out_of(1, 0, 0)
                            || out_of(0, -1, 0)
                            || out_of(0, 1, 0)
                            || out_of(0, 0, -1)
                            || out_of(0, 0, 1)
                    };
                    if !surface_only || on_surface() {
                        out.push(g.to_patient(&Vector3::new(i as f64, j as f64, k as f64)));
                    }
                }
            }
        }
    }
    out
}

/// Every `len / max`-th point (keeps the spread of the set).
fn subsample(points: Vec<PatientPos>, max: usize) -> Vec<PatientPos> {
    if points.len() <= max {
        return points;
    }
    let step = points.len() as f64 / max as f64;
    (0..max).map(|i| points[(i as f64 * step) as usize]).collect()
}

fn min_distance(a: &[PatientPos], b: &[PatientPos]) -> f64 {
    a.iter()
        .flat_map(|p| b.iter().map(move |q| (p - q).norm()))
        .fold(f64::INFINITY, f64::min)
}

impl TargetPoints {
    /// The union of the Target structures; `None` when there is none or it is empty.
    pub fn of(structures: &[Structure], g: &VolumeGeometry, margin_mm: f64) -> Option<TargetPoints> {
        let targets: Vec<&Structure> = structures
            .iter()
            .filter(|s| s.kind == StructureKind::Target && !s.mask().is_empty())
            .collect();
        if targets.is_empty() {
            return None;
        }
        let name = targets
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(" + ");
        let inside: Vec<PatientPos> = targets
            .iter()
            .flat_map(|s| voxel_centres(s.mask(), g, false))
            .collect();
        let surface: Vec<PatientPos> = targets
            .iter()
            .flat_map(|s| voxel_centres(s.mask(), g, true))
            .collect();
        let n = inside.len().max(1) as f64;
        let centroid = PatientPos::from(inside.iter().fold(Vector3::zeros(), |a, p| a + p.coords) / n);
        let extent_mm = 2.0 * inside.iter().map(|p| (p - centroid).norm()).fold(0.0, f64::max);
        let surface = subsample(surface, 600);
        // The shell: surface points pushed out by the margin in 26 directions, kept where they
        // are about the margin away from the whole surface (outward, not back into the target).
        let mut shell = Vec::new();
        if margin_mm > 0.0 {
            let dirs = directions26();
            for s in &surface {
                for d in &dirs {
                    let q = s + d * margin_mm;
                    let nearest = surface
                        .iter()
                        .map(|t| (q - t).norm())
                        .fold(f64::INFINITY, f64::min);
                    if nearest >= margin_mm - 0.75 {
                        shell.push(q);
                    }
                }
            }
        }
        Some(TargetPoints {
            name,
            centroid_lps: centroid,
            inside: subsample(inside, MAX_TARGET_POINTS),
            surface,
            shell: subsample(shell, MAX_SHELL_POINTS),
            margin_mm,
            extent_mm,
        })
    }

    /// Fractions of the target and of the target + margin shell for which `inside` holds.
    pub fn coverage(&self, inside: &dyn Fn(&PatientPos) -> bool) -> (f64, f64) {
        let frac = |pts: &[PatientPos]| {
            if pts.is_empty() {
                return 1.0;
            }
            pts.iter().filter(|p| inside(p)).count() as f64 / pts.len() as f64
        };
        (frac(&self.inside), frac(&self.shell))
    }
}

/// The critical structures (nerve, bowel, vessel, bone) within `radius_mm` of the target's
/// centroid, as surface points.
pub fn critical_points(
    structures: &[Structure],
    g: &VolumeGeometry,
    target: &TargetPoints,
    radius_mm: f64,
) -> Vec<CriticalPoints> {
    structures
        .iter()
        .enumerate()
        .filter(|(_, s)| s.kind.is_critical() && s.kind != StructureKind::Target)
        .filter_map(|(index, s)| {
            let near: Vec<PatientPos> = voxel_centres(s.mask(), g, true)
                .into_iter()
                .filter(|p| (p - target.centroid_lps).norm() <= radius_mm)
                .collect();
            if near.is_empty() {
                return None;
            }
            let points = subsample(near, MAX_CRITICAL_POINTS);
            let distance_to_target_mm = min_distance(&target.surface, &points);
            Some(CriticalPoints {
                name: s.name.clone(),
                kind: s.kind,
                index,
                points,
                distance_to_target_mm,
            })
        })
        .collect()
}

/// Whether a zone (`inside`) comes closer than `clearance_mm` to any of `points` (tested at the
/// point and `clearance_mm` away from it in 26 directions).
pub fn violates_clearance(
    points: &[PatientPos],
    clearance_mm: f64,
    inside: &dyn Fn(&PatientPos) -> bool,
) -> bool {
    let dirs = directions26();
    points
        .iter()
        .any(|p| inside(p) || (clearance_mm > 0.0 && dirs.iter().any(|d| inside(&(p + d * clearance_mm)))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anatomy::mask::Mask;
    use crate::anatomy::structure::Provenance;

    #[test]
    fn the_shell_lies_at_the_margin_around_a_sphere() {
        let dims = [40, 40, 40];
        let g = VolumeGeometry::axis_aligned(dims, [1.0; 3], PatientPos::new(-20.0, -20.0, -20.0));
        let flags: Vec<bool> = (0..g.voxel_count())
            .map(|n| {
                let p = g.to_patient(&Vector3::new(
                    (n % 40) as f64,
                    ((n / 40) % 40) as f64,
                    (n / 1600) as f64,
                ));
                p.coords.norm() <= 5.0
            })
            .collect();
        let s = vec![Structure::new(
            "Node",
            StructureKind::Target,
            Provenance::Drawn,
            Mask::from_dense(dims, &flags),
        )];
        let t = TargetPoints::of(&s, &g, 5.0).expect("target");
        assert!(t.centroid_lps.coords.norm() < 0.1);
        assert!(!t.shell.is_empty());
        for p in &t.shell {
            let r = p.coords.norm();
            assert!(
                (8.5..=11.0).contains(&r),
                "shell point at {r} mm from the centre of a 5 mm sphere"
            );
        }
        // A ball of 10.5 mm covers target + 5 mm; one of 8 mm does not.
        let (c_in, c_shell) = t.coverage(&|p: &PatientPos| p.coords.norm() <= 11.0);
        assert_eq!((c_in, c_shell), (1.0, 1.0));
        let (_, small) = t.coverage(&|p: &PatientPos| p.coords.norm() <= 8.0);
        assert!(small < 0.01);
    }
}
