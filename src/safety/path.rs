//! Probe path collisions: where the probe (entry → tip) passes through or grazes a structure,
//! with the depth along the path from the entry point.
//!
//! The path is sampled every quarter of the smallest voxel spacing (at most 0.5 mm). A sample
//! hits a structure when a voxel centre of the structure lies within the probe radius plus a full
//! voxel diagonal of it: the true structure boundary can lie up to a voxel diagonal beyond its
//! last voxel centre (see `distance.rs`), so a shaft that truly touches the structure is never
//! missed. `through` tells whether the shaft crosses a voxel of the mask as drawn (the nearest
//! voxel of some sample is in the mask) or only passes within that uncertainty.

use crate::anatomy::query::{DistanceMap, closest_to_point};
use crate::anatomy::structure::Structure;
use crate::geometry::{PatientPos, VolumeGeometry};
use crate::plan::probe::Probe;
use serde::{Deserialize, Serialize};

use super::distance::CtFrame;

/// One stretch of a probe path through (or against) one structure.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathCollision {
    pub probe: String,
    pub probe_index: usize,
    pub structure: String,
    pub structure_index: usize,
    /// Depth along the path from the entry point where the stretch starts and ends (mm).
    pub from_entry_mm: [f64; 2],
    /// The same two points, LPS mm.
    pub enter_lps: PatientPos,
    pub exit_lps: PatientPos,
    /// Smallest distance (mm) between the probe axis and a voxel centre of the structure.
    pub min_centre_distance_mm: f64,
    /// The shaft crosses a voxel of the mask as drawn.
    pub through: bool,
}

/// Sample step along the path (mm).
fn step_mm(g: &VolumeGeometry) -> f64 {
    let s = g.spacing_mm.iter().copied().fold(f64::INFINITY, f64::min);
    (0.25 * s).min(0.5)
}

/// Collisions of one probe with one structure. `map` is the structure's distance map (its crop
/// margin must exceed `radius_mm` plus a voxel diagonal, or samples beyond the crop are taken as
/// clear); `radius_mm` is the probe's radius.
pub fn path_collisions(
    probe: &Probe,
    probe_index: usize,
    radius_mm: f64,
    structure: &Structure,
    structure_index: usize,
    geometry: &VolumeGeometry,
    map: &DistanceMap,
) -> Vec<PathCollision> {
    let mut out = Vec::new();
    let (mask, structure_name) = (structure.mask(), structure.name.as_str());
    let (a, b) = (probe.entry_lps, probe.tip_lps);
    let len = (b - a).norm();
    if mask.is_empty() || !len.is_finite() || len <= 0.0 {
        return out;
    }
    let ct = CtFrame::new(geometry);
    let reach = radius_mm.max(0.0) + 2.0 * ct.half_diagonal_mm();
    let n = (len / step_mm(geometry)).ceil() as usize + 1;
    // (depth, point, exact centre distance, inside as drawn) of the current run.
    let mut run: Option<([f64; 2], [PatientPos; 2], f64, bool)> = None;
    for s in 0..n {
        let t = s as f64 / (n - 1) as f64;
        let p = a + (b - a) * t;
        let v = ct.nearest_clamped(&p);
        let off = (ct.centre(v) - p).norm();
        let hit = match map.at(v) {
            Some(d) if f64::from(d) - off <= reach => closest_to_point(mask, geometry, &p)
                .filter(|(d, _)| *d <= reach)
                .map(|(d, _)| {
                    let drawn = geometry
                        .nearest_voxel(&ct.to_voxel(&p))
                        .is_some_and(|[i, j, k]| mask.contains(i, j, k));
                    (d, drawn)
                }),
            _ => None,
        };
        match (hit, run.as_mut()) {
            (Some((d, drawn)), Some(r)) => {
                r.0[1] = t * len;
                r.1[1] = p;
                r.2 = r.2.min(d);
                r.3 |= drawn;
            }
            (Some((d, drawn)), None) => run = Some(([t * len; 2], [p; 2], d, drawn)),
            (None, Some(_)) => {
                if let Some(r) = run.take() {
                    out.push(collision(probe, probe_index, structure_name, structure_index, r));
                }
            }
            (None, None) => {}
        }
    }
    if let Some(r) = run.take() {
        out.push(collision(probe, probe_index, structure_name, structure_index, r));
    }
    out
}

fn collision(
    probe: &Probe,
    probe_index: usize,
    structure: &str,
    structure_index: usize,
    (depth, pts, d, through): ([f64; 2], [PatientPos; 2], f64, bool),
) -> PathCollision {
    PathCollision {
        probe: probe.label.clone(),
        probe_index,
        structure: structure.to_string(),
        structure_index,
        from_entry_mm: depth,
        enter_lps: pts[0],
        exit_lps: pts[1],
        min_centre_distance_mm: d,
        through,
    }
}
