//! Distances between a zone and a structure (and between two structures), with the error bound
//! and the conservative lower bound the rules use.
//!
//! ## What is computed, and how far it can be off
//!
//! Both shapes are known only at sample points: the zone at the nodes of its grid (spacing `h`),
//! a structure at the centres of the CT voxels of its mask (spacing `s` per axis). Write
//! `rZ = ½·√3·h` and `rS = ½·|s|` for the half cell diagonals and `a = rZ + rS`.
//!
//! 1. `centre distance` `d_c`: the exact minimum over inside zone nodes and structure voxel
//!    centres (boundary nodes of the zone against the structure's EDT crop, refined exactly). The
//!    sample points lie inside the true shapes, so `d_c ≥ D`, the true distance.
//! 2. The true boundary lies beyond the last inside sample by up to one sample step along the
//!    separating direction (a "shortfall"); for a shape with an interior tangent ball of radius
//!    ≥ its half cell diagonal at the closest point (any structure at least one voxel diagonal
//!    thick) the shortfall is at most its full cell diagonal `2r` (the ball contains a sample
//!    within `2r` of its tangent point). So `D ≥ d_c − 2a`: that is `lower_mm`, the value the
//!    rules compare, so a rule fires whenever the true distance may be below its limit.
//! 3. `distance_mm`, the value shown: `d_c` minus the half extents of both cells projected on the
//!    closest-pair direction (the distance between the voxel cells as drawn), never below 0 for
//!    shapes that do not overlap. Its error against the true distance is at most `a` (half a
//!    voxel diagonal on each side) under the same thickness condition.
//!
//! Overlap: structure voxels whose centre's nearest zone node is inside the zone. Their volume is
//! `overlap_ml`; `distance_mm` is then minus the depth of the deepest voxel cell below the
//! zone's cell faces (from the zone's EDT), and `lower_mm = distance_mm − 2a` as above.

use crate::anatomy::mask::Mask;
use crate::anatomy::query::{DistanceMap, VoxelBox, closest_between, closest_to_point};
use crate::geometry::{PatientPos, VolumeGeometry};
use nalgebra::{Matrix4, Vector3};
use serde::{Deserialize, Serialize};

use super::zone::PreparedZone;

/// A measured distance between a zone (or a structure) and a structure.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Distance {
    /// Best estimate (mm): the gap between the voxel cells; negative = overlap depth.
    pub distance_mm: f64,
    /// Conservative lower bound (mm) on the true distance; the rules compare this.
    pub lower_mm: f64,
    /// Largest error of `distance_mm` against the true shapes (mm): half a voxel diagonal of
    /// each grid.
    pub error_bound_mm: f64,
    /// Exact distance between the nearest sample points (zone node / voxel centres), mm.
    pub centre_distance_mm: f64,
    /// Volume of the structure inside the zone (mL); 0 without overlap.
    pub overlap_ml: f64,
    /// Closest point on the zone side (or the first structure), LPS mm.
    pub from_lps: PatientPos,
    /// Closest point on the structure side, LPS mm.
    pub to_lps: PatientPos,
}

impl Distance {
    pub fn overlaps(&self) -> bool {
        self.overlap_ml > 0.0
    }
}

/// The CT grid with its inverse transform computed once (hot loops).
pub(crate) struct CtFrame<'a> {
    pub g: &'a VolumeGeometry,
    voxel_from_patient: Matrix4<f64>,
}

impl<'a> CtFrame<'a> {
    pub fn new(g: &'a VolumeGeometry) -> Self {
        Self {
            g,
            voxel_from_patient: g.voxel_from_patient(),
        }
    }

    pub fn to_voxel(&self, p: &PatientPos) -> Vector3<f64> {
        let h = self.voxel_from_patient * p.to_homogeneous();
        Vector3::new(h.x, h.y, h.z)
    }

    /// The voxel nearest to `p`, clamped onto the grid.
    pub fn nearest_clamped(&self, p: &PatientPos) -> [usize; 3] {
        let v = self.to_voxel(p);
        [0, 1, 2].map(|a| {
            let top = self.g.dims[a].saturating_sub(1) as f64;
            if v[a].is_finite() {
                v[a].round().clamp(0.0, top) as usize
            } else {
                0
            }
        })
    }

    /// The smallest voxel box holding [`Self::nearest_clamped`] of every point in the LPS
    /// bounding box of `points` (`None` without points or on an empty grid).
    pub fn clamped_box(&self, points: &[PatientPos]) -> Option<VoxelBox> {
        if points.is_empty() || self.g.dims.contains(&0) {
            return None;
        }
        let (mut lo, mut hi) = (points[0], points[0]);
        for p in points {
            lo = lo.inf(p);
            hi = hi.sup(p);
        }
        let (mut vlo, mut vhi) = ([usize::MAX; 3], [0usize; 3]);
        for c in 0..8 {
            let corner = PatientPos::new(
                if c & 1 == 0 { lo.x } else { hi.x },
                if c & 2 == 0 { lo.y } else { hi.y },
                if c & 4 == 0 { lo.z } else { hi.z },
            );
            // Rounding is monotone, so the corners' nearest voxels bound every point's.
            let v = self.nearest_clamped(&corner);
            for a in 0..3 {
                vlo[a] = vlo[a].min(v[a]);
                vhi[a] = vhi[a].max(v[a]);
            }
        }
        Some((vlo, vhi))
    }

    pub fn centre(&self, v: [usize; 3]) -> PatientPos {
        self.g
            .to_patient(&Vector3::new(v[0] as f64, v[1] as f64, v[2] as f64))
    }

    /// Half the voxel diagonal (mm).
    pub fn half_diagonal_mm(&self) -> f64 {
        half_diagonal_mm(self.g)
    }

    /// Half the extent of one voxel along the unit direction `n` (mm).
    pub fn half_extent_along(&self, n: &Vector3<f64>) -> f64 {
        (0..3)
            .map(|a| 0.5 * self.g.spacing_mm[a] * n.dot(&self.g.axis_dir(a)).abs())
            .sum()
    }

    /// Volume of one voxel (mL).
    pub fn voxel_ml(&self) -> f64 {
        self.g.spacing_mm.iter().product::<f64>() / 1000.0
    }
}

/// Half the diagonal of a CT voxel (mm).
pub fn half_diagonal_mm(g: &VolumeGeometry) -> f64 {
    0.5 * g.spacing_mm.iter().map(|s| s * s).sum::<f64>().sqrt()
}

/// Half the extent of an LPS-aligned cube of side `h` along the unit direction `n`.
fn cube_half_extent_along(h: f64, n: &Vector3<f64>) -> f64 {
    0.5 * h * (n.x.abs() + n.y.abs() + n.z.abs())
}

/// Distance between a prepared zone and a structure mask on the CT grid. `map` is the
/// structure's (unsigned) distance map; `None` when the structure is empty, the zone is empty,
/// or every zone node is farther than the map's crop margin (then the distance exceeds
/// [`beyond_mm`]).
pub fn zone_structure_distance(
    zone: &PreparedZone,
    mask: &Mask,
    geometry: &VolumeGeometry,
    map: &DistanceMap,
) -> Option<Distance> {
    if zone.is_empty() || mask.is_empty() {
        return None;
    }
    let ct = CtFrame::new(geometry);
    let a = zone.half_diagonal_mm() + ct.half_diagonal_mm();
    if let Some(d) = overlap(zone, mask, &ct, a) {
        return Some(d);
    }
    // Lower bound per boundary node from the map at its nearest voxel (triangle inequality),
    // then exact refinement in ascending order until no candidate can beat the best.
    let mut candidates: Vec<(f64, usize)> = Vec::new();
    let mut unresolved_below = f64::INFINITY;
    for (n, z) in zone.boundary_nodes().iter().enumerate() {
        let v = ct.nearest_clamped(z);
        let off = (ct.centre(v) - z).norm();
        match map.at(v) {
            Some(d) => candidates.push((f64::from(d) - off, n)),
            // Outside the crop: farther than the margin from the voxel.
            None => {
                let m = map.margin_mm.unwrap_or(f64::INFINITY);
                unresolved_below = unresolved_below.min(m - off);
            }
        }
    }
    candidates.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    let mut best: Option<(f64, PatientPos, PatientPos)> = None;
    for (lb, n) in candidates {
        if best.is_some_and(|(b, _, _)| lb >= b) {
            break;
        }
        let z = zone.boundary_nodes()[n];
        if let Some((d, s)) = closest_to_point(mask, geometry, &z)
            && best.is_none_or(|(b, _, _)| d < b)
        {
            best = Some((d, z, s));
        }
    }
    let (d_c, z, s) = best?;
    // A node beyond the crop could be closer only if the best is beyond what the crop resolves.
    if d_c > unresolved_below {
        return None;
    }
    let n = (s - z).try_normalize(1e-12).unwrap_or_else(Vector3::x);
    let proj = cube_half_extent_along(zone.spacing_mm(), &n) + ct.half_extent_along(&n);
    Some(Distance {
        distance_mm: (d_c - proj).max(0.0),
        lower_mm: d_c - 2.0 * a,
        error_bound_mm: a,
        centre_distance_mm: d_c,
        overlap_ml: 0.0,
        from_lps: z,
        to_lps: s,
    })
}

/// The overlap of a structure with the zone, if any voxel centre's nearest zone node is inside.
fn overlap(zone: &PreparedZone, mask: &Mask, ct: &CtFrame<'_>, a: f64) -> Option<Distance> {
    let c = &zone.crop;
    let hi_lps = c.lps(c.dims[0] - 1, c.dims[1] - 1, c.dims[2] - 1);
    let (lo, hi) =
        crate::anatomy::edit::voxel_box_of_lps_box(ct.g, c.origin_lps.coords.into(), hi_lps.coords.into())?;
    let mut count = 0usize;
    let mut deepest: Option<(f64, PatientPos)> = None;
    for k in lo[2]..=hi[2] {
        for r in mask.slice_runs(k) {
            let j = r.j as usize;
            if j < lo[1] || j > hi[1] {
                continue;
            }
            let i0 = (r.i0 as usize).max(lo[0]);
            let i1 = (r.i1 as usize).min(hi[0] + 1);
            for i in i0..i1 {
                let p = ct.centre([i, j, k]);
                if !zone.contains(&p) {
                    continue;
                }
                count += 1;
                let depth = zone.signed_distance_mm(&p).unwrap_or(0.0);
                if deepest.is_none_or(|(d, _)| depth > d) {
                    deepest = Some((depth, p));
                }
            }
        }
    }
    let (phi, s) = deepest?;
    // The zone boundary point closest to the deepest voxel: along the zone's inward normal, or
    // the nearest outside node when the field is flat there. The structure's cell reaches half
    // a voxel deeper than its centre along that normal.
    let normal = zone.inward_normal(&s);
    let depth = (phi + normal.map_or(0.0, |n| ct.half_extent_along(&n))).max(0.0);
    let boundary = match normal {
        Some(n) => s - n * phi.max(0.0),
        None => zone
            .node_distance_hint(&s, false)
            .and_then(|r| zone.nearest_node(&s, false, r))
            .map_or(s, |(_, q)| q),
    };
    Some(Distance {
        distance_mm: -depth,
        lower_mm: -depth - 2.0 * a,
        error_bound_mm: a,
        centre_distance_mm: 0.0,
        overlap_ml: count as f64 * ct.voxel_ml(),
        from_lps: boundary,
        to_lps: s,
    })
}

/// Distance between two structures on the same CT grid (e.g. the target and a nerve), with the
/// same conventions as [`zone_structure_distance`] (both sides carry a CT half diagonal).
/// `map` is `other`'s distance map. `None` when either is empty or farther than the crop.
pub fn structure_structure_distance(
    from: &Mask,
    other: &Mask,
    geometry: &VolumeGeometry,
    map: &DistanceMap,
) -> Option<Distance> {
    let c = closest_between(from, other, map, geometry)?;
    let ct = CtFrame::new(geometry);
    let a = 2.0 * ct.half_diagonal_mm();
    let overlap_voxels = if c.distance_mm == 0.0 {
        count_common(from, other)
    } else {
        0
    };
    let n = (c.structure_lps - c.query_lps)
        .try_normalize(1e-12)
        .unwrap_or_else(Vector3::x);
    let proj = 2.0 * ct.half_extent_along(&n);
    Some(Distance {
        distance_mm: if overlap_voxels > 0 {
            0.0
        } else {
            (c.distance_mm - proj).max(0.0)
        },
        lower_mm: c.distance_mm - 2.0 * a,
        error_bound_mm: a,
        centre_distance_mm: c.distance_mm,
        overlap_ml: overlap_voxels as f64 * ct.voxel_ml(),
        from_lps: c.query_lps,
        to_lps: c.structure_lps,
    })
}

/// Voxels in both masks.
fn count_common(a: &Mask, b: &Mask) -> usize {
    let mut n = 0;
    for k in 0..a.dims()[2] {
        for r in a.slice_runs(k) {
            for i in r.i0..r.i1 {
                if b.contains(i as usize, r.j as usize, k) {
                    n += 1;
                }
            }
        }
    }
    n
}

/// The distance beyond which [`zone_structure_distance`] reports nothing for a map of crop
/// margin `margin_mm` on a CT grid `g`: the margin less a voxel half diagonal.
pub fn beyond_mm(margin_mm: f64, g: &VolumeGeometry) -> f64 {
    margin_mm - half_diagonal_mm(g)
}
