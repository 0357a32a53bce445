//! Distance queries between structures, points and masks, in millimetres, built on the exact
//! EDT. Distances are between voxel centres, so a query's error against the continuous shapes
//! is at most half a voxel diagonal on each side; results are exact for the voxelised shapes.
//!
//! Maps are computed on a crop around the structure (bounding box + margin), which keeps them
//! small and fast; anything outside a crop is farther than its margin, which callers compare
//! with their rule limits (`DistanceMap::margin_mm`).

use std::collections::HashMap;
use std::sync::Arc;

use crate::geometry::{PatientPos, VolumeGeometry};
use nalgebra::Vector3;

use super::distance::{edt_mm, signed_edt_mm};
use super::mask::Mask;

/// Distances (mm) to a structure on a crop of the CT grid.
#[derive(Clone, Debug, PartialEq)]
pub struct DistanceMap {
    /// First voxel of the crop in CT voxel indices.
    pub origin: [usize; 3],
    /// Size of the crop in voxels.
    pub dims: [usize; 3],
    pub spacing_mm: [f64; 3],
    /// `None` for the whole grid; otherwise every voxel outside the crop is at least this far.
    pub margin_mm: Option<f64>,
    /// Negative inside the structure (signed maps only).
    pub signed: bool,
    /// The CT voxels (inclusive box) where the map answers; `None` = the whole grid. A map made
    /// for a region holds only the part of the structure within `margin_mm` of it, so beyond the
    /// margin it cannot tell a distance from an overestimate: [`DistanceMap::at`] answers `None`
    /// ("farther than the margin") there.
    pub region: Option<VoxelBox>,
    data: Vec<f32>,
}

/// An inclusive box of CT voxel indices `(lo, hi)`.
pub type VoxelBox = ([usize; 3], [usize; 3]);

/// The closest pair between a query and a structure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Closest {
    pub distance_mm: f64,
    /// CT voxel of the query side and of the structure side.
    pub query_voxel: [usize; 3],
    pub structure_voxel: [usize; 3],
    pub query_lps: PatientPos,
    pub structure_lps: PatientPos,
}

impl DistanceMap {
    /// Map of `mask` on a crop of its bounding box grown by `margin_mm` (whole grid if None).
    /// An empty mask gives an empty map (every query is "farther than the margin").
    pub fn new(mask: &Mask, spacing_mm: [f64; 3], margin_mm: Option<f64>, signed: bool) -> Self {
        Self::new_within(mask, spacing_mm, margin_mm, None, signed)
    }

    /// Map of `mask` answering queries in `region` only: the crop is the structure's bounding
    /// box grown by `margin_mm`, cut to `region` grown by `margin_mm`. Every structure voxel
    /// within the margin of a voxel of `region` lies in that crop, so distances up to the margin
    /// are exact there, and a long structure (the aorta) costs only the stretch near the plan.
    /// `region` is ignored for signed maps and without a margin (inside depths need the whole
    /// structure).
    pub fn new_within(
        mask: &Mask,
        spacing_mm: [f64; 3],
        margin_mm: Option<f64>,
        region: Option<VoxelBox>,
        signed: bool,
    ) -> Self {
        let full = mask.dims();
        let region = region.filter(|_| !signed && margin_mm.is_some());
        let (origin, dims) = match (margin_mm, mask.bounding_box()) {
            (_, None) => ([0; 3], [0; 3]),
            (None, Some(_)) => ([0; 3], full),
            (Some(m), Some((lo, hi))) => {
                let mut o = [0; 3];
                let mut d = [0; 3];
                for a in 0..3 {
                    let grow = (m.max(0.0) / spacing_mm[a]).ceil() as usize + 1;
                    let (mut a0, mut a1) = (lo[a].saturating_sub(grow), (hi[a] + grow + 1).min(full[a]));
                    if let Some((rlo, rhi)) = region {
                        a0 = a0.max(rlo[a].saturating_sub(grow));
                        a1 = a1.min(rhi[a] + grow + 1);
                    }
                    o[a] = a0;
                    d[a] = a1.saturating_sub(a0);
                }
                if d.contains(&0) { ([0; 3], [0; 3]) } else { (o, d) }
            }
        };
        let n = dims[0] * dims[1] * dims[2];
        let mut dense = vec![false; n];
        for k in 0..dims[2] {
            for r in mask.slice_runs(origin[2] + k) {
                let j = r.j as usize;
                if j < origin[1] || j >= origin[1] + dims[1] {
                    continue;
                }
                let i0 = (r.i0 as usize).max(origin[0]);
                let i1 = (r.i1 as usize).min(origin[0] + dims[0]);
                let row = dims[0] * ((j - origin[1]) + dims[1] * k);
                for i in i0..i1 {
                    dense[row + i - origin[0]] = true;
                }
            }
        }
        let data = if n == 0 {
            Vec::new()
        } else if signed {
            signed_edt_mm(dims, spacing_mm, &dense)
        } else {
            edt_mm(dims, spacing_mm, &dense)
        };
        Self {
            origin,
            dims,
            spacing_mm,
            margin_mm,
            signed,
            region,
            data,
        }
    }

    /// Whether this map answers every query in `region` up to `margin_mm` (a cached map made
    /// for a larger region or margin serves a smaller one).
    pub fn covers(&self, region: Option<VoxelBox>, margin_mm: Option<f64>) -> bool {
        let margin_ok = self.margin_mm.unwrap_or(f64::INFINITY) >= margin_mm.unwrap_or(f64::INFINITY);
        let region_ok = match (self.region, region) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some((lo, hi)), Some((qlo, qhi))) => (0..3).all(|a| lo[a] <= qlo[a] && qhi[a] <= hi[a]),
        };
        margin_ok && region_ok
    }

    /// Distance at a CT voxel; `None` outside the crop, or beyond the margin for a map made for
    /// a region (either way it is > `margin_mm`).
    pub fn at(&self, v: [usize; 3]) -> Option<f32> {
        let mut l = [0usize; 3];
        for a in 0..3 {
            if v[a] < self.origin[a] || v[a] >= self.origin[a] + self.dims[a] {
                return None;
            }
            l[a] = v[a] - self.origin[a];
        }
        let d = *self
            .data
            .get(l[0] + self.dims[0] * (l[1] + self.dims[1] * l[2]))?;
        match (self.region, self.margin_mm) {
            (Some(_), Some(m)) if f64::from(d) > m => None,
            _ => Some(d),
        }
    }

    /// Distance at the CT voxel nearest to an LPS point.
    pub fn at_lps(&self, geometry: &VolumeGeometry, p: &PatientPos) -> Option<f32> {
        geometry
            .nearest_voxel(&geometry.to_voxel(p))
            .and_then(|v| self.at(v))
    }
}

/// Minimum distance from the voxels of `query` to `structure` and the closest voxel pair.
/// `None` when either is empty or the query lies entirely outside the map's crop.
pub fn closest_between(
    query: &Mask,
    structure: &Mask,
    map: &DistanceMap,
    geometry: &VolumeGeometry,
) -> Option<Closest> {
    let mut best: Option<(f32, [usize; 3])> = None;
    let dims = query.dims();
    for k in 0..dims[2] {
        for r in query.slice_runs(k) {
            for i in r.i0 as usize..r.i1 as usize {
                let v = [i, r.j as usize, k];
                if let Some(d) = map.at(v)
                    && best.is_none_or(|(b, _)| d < b)
                {
                    best = Some((d, v));
                }
            }
        }
    }
    let (_, q) = best?;
    let s = nearest_voxel_of(
        structure,
        [q[0] as f64, q[1] as f64, q[2] as f64],
        geometry.spacing_mm,
    )?;
    let qp = geometry.to_patient(&to_vec(q));
    let sp = geometry.to_patient(&to_vec(s));
    Some(Closest {
        distance_mm: (qp - sp).norm(),
        query_voxel: q,
        structure_voxel: s,
        query_lps: qp,
        structure_lps: sp,
    })
}

/// Distance from an LPS point to the nearest voxel centre of `structure` and that voxel
/// (exact; grids are orthogonal after loading, so distances separate per voxel axis).
pub fn closest_to_point(
    structure: &Mask,
    geometry: &VolumeGeometry,
    p: &PatientPos,
) -> Option<(f64, PatientPos)> {
    let q = geometry.to_voxel(p);
    let s = nearest_voxel_of(structure, [q.x, q.y, q.z], geometry.spacing_mm)?;
    let sp = geometry.to_patient(&to_vec(s));
    Some(((sp - p).norm(), sp))
}

fn to_vec(v: [usize; 3]) -> Vector3<f64> {
    Vector3::new(v[0] as f64, v[1] as f64, v[2] as f64)
}

/// Exact nearest structure voxel to the continuous voxel position `q` (centre distance in
/// mm, anisotropic), pruning slices and rows that cannot beat the best so far.
fn nearest_voxel_of(structure: &Mask, q: [f64; 3], spacing: [f64; 3]) -> Option<[usize; 3]> {
    let (lo, hi) = structure.bounding_box()?;
    let mut best: Option<(f64, [usize; 3])> = None;
    // Visit slices nearest first so the pruning bites early.
    let mut ks: Vec<usize> = (lo[2]..=hi[2]).collect();
    ks.sort_by(|a, b| (*a as f64 - q[2]).abs().total_cmp(&(*b as f64 - q[2]).abs()));
    for k in ks {
        let dk = (k as f64 - q[2]) * spacing[2];
        if best.is_some_and(|(b, _)| dk * dk > b) {
            break;
        }
        for r in structure.slice_runs(k) {
            let j = r.j as usize;
            let dj = (j as f64 - q[1]) * spacing[1];
            if best.is_some_and(|(b, _)| dk * dk + dj * dj > b) {
                continue;
            }
            // Closest i in [i0, i1) to q[0].
            let i = q[0].round().clamp(r.i0 as f64, (r.i1 - 1) as f64) as usize;
            let di = (i as f64 - q[0]) * spacing[0];
            let d = di * di + dj * dj + dk * dk;
            if best.is_none_or(|(b, _)| d < b) {
                best = Some((d, [i, j, k]));
            }
        }
    }
    best.map(|(_, v)| v)
}

/// Distance maps cached by structure identity and revision: recomputed only after an edit.
#[derive(Default)]
pub struct DistanceCache {
    maps: HashMap<(u64, bool), (u64, Arc<DistanceMap>)>,
}

impl DistanceCache {
    /// The map for structure `uid` at `revision` (computing it when missing or stale).
    pub fn get(
        &mut self,
        uid: u64,
        revision: u64,
        mask: &Mask,
        spacing_mm: [f64; 3],
        margin_mm: Option<f64>,
        signed: bool,
    ) -> Arc<DistanceMap> {
        if let Some(map) = self.lookup(uid, revision, margin_mm, None, signed) {
            return map;
        }
        let map = Arc::new(DistanceMap::new(mask, spacing_mm, margin_mm, signed));
        self.insert(uid, revision, map.clone());
        map
    }

    /// A cached map of structure `uid` at `revision` that [`DistanceMap::covers`] `region` and
    /// `margin_mm`, if any (callers compute the missing ones, in parallel, and [`Self::insert`]).
    pub fn lookup(
        &self,
        uid: u64,
        revision: u64,
        margin_mm: Option<f64>,
        region: Option<VoxelBox>,
        signed: bool,
    ) -> Option<Arc<DistanceMap>> {
        self.maps
            .get(&(uid, signed))
            .filter(|(rev, map)| *rev == revision && map.covers(region, margin_mm))
            .map(|(_, map)| map.clone())
    }

    /// Keeps `map` as structure `uid`'s map at `revision` (replacing any older one).
    pub fn insert(&mut self, uid: u64, revision: u64, map: Arc<DistanceMap>) {
        self.maps.insert((uid, map.signed), (revision, map));
    }

    pub fn len(&self) -> usize {
        self.maps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.maps.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Point3;

    fn sphere(dims: [usize; 3], g: &VolumeGeometry, c: PatientPos, r: f64) -> Mask {
        let mut data = vec![false; dims[0] * dims[1] * dims[2]];
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let p = g.to_patient(&Vector3::new(i as f64, j as f64, k as f64));
                    data[i + dims[0] * (j + dims[1] * k)] = (p - c).norm() <= r;
                }
            }
        }
        Mask::from_dense(dims, &data)
    }

    #[test]
    fn two_spheres_at_a_known_gap() {
        let dims = [60, 50, 30];
        let g = VolumeGeometry::axis_aligned(dims, [0.7, 0.7, 2.0], Point3::origin());
        let a = sphere(dims, &g, Point3::new(12.0, 17.0, 30.0), 6.0);
        let b = sphere(dims, &g, Point3::new(32.0, 17.0, 30.0), 5.0);
        // Surface gap 20 − 6 − 5 = 9 mm; voxel-centre distance within a voxel diagonal of it.
        let diag = (0.7f64.powi(2) * 2.0 + 4.0).sqrt();
        let map = DistanceMap::new(&b, g.spacing_mm, Some(15.0), false);
        let c = closest_between(&a, &b, &map, &g).expect("pair");
        assert!((c.distance_mm - 9.0).abs() <= diag, "{}", c.distance_mm);
        let whole = DistanceMap::new(&b, g.spacing_mm, None, false);
        let c2 = closest_between(&a, &b, &whole, &g).expect("pair");
        assert!(
            (c.distance_mm - c2.distance_mm).abs() < 1e-9,
            "crop equals whole grid"
        );
        // The reported pair is consistent with the map value at the query voxel.
        assert!((map.at(c.query_voxel).expect("in crop") as f64 - c.distance_mm).abs() < 1e-4);
    }

    #[test]
    fn far_query_is_outside_the_crop() {
        let dims = [80, 20, 10];
        let g = VolumeGeometry::axis_aligned(dims, [1.0; 3], Point3::origin());
        let a = sphere(dims, &g, Point3::new(5.0, 10.0, 5.0), 3.0);
        let b = sphere(dims, &g, Point3::new(70.0, 10.0, 5.0), 3.0);
        let map = DistanceMap::new(&b, g.spacing_mm, Some(10.0), false);
        assert!(
            closest_between(&a, &b, &map, &g).is_none(),
            "farther than the margin"
        );
    }

    #[test]
    fn point_query_is_exact() {
        let dims = [30, 30, 30];
        let g = VolumeGeometry::axis_aligned(dims, [1.0, 1.0, 2.5], Point3::origin());
        let b = sphere(dims, &g, Point3::new(15.0, 15.0, 37.5), 4.0);
        let p = Point3::new(15.0, 15.0, 10.0);
        let (d, q) = closest_to_point(&b, &g, &p).expect("some");
        assert!((q.z - 35.0).abs() < 1e-9 && (d - 25.0).abs() < 1e-9, "{d} {q:?}");
    }

    #[test]
    fn a_map_for_a_region_is_exact_up_to_its_margin_there() {
        // A long tube along k (an aorta): the region map holds only the stretch near the
        // region, yet answers every query in the region exactly up to the margin.
        let dims = [40, 36, 90];
        let g = VolumeGeometry::axis_aligned(dims, [0.8, 0.8, 2.0], Point3::origin());
        let mut data = vec![false; dims[0] * dims[1] * dims[2]];
        for k in 0..dims[2] {
            for j in 0..dims[1] {
                for i in 0..dims[0] {
                    let (x, y) = (i as f64 * 0.8 - 16.0, j as f64 * 0.8 - 14.0);
                    data[i + dims[0] * (j + dims[1] * k)] = x * x + y * y <= 25.0;
                }
            }
        }
        let tube = Mask::from_dense(dims, &data);
        let margin = 12.0;
        let full = DistanceMap::new(&tube, g.spacing_mm, Some(margin), false);
        let region = ([0, 0, 40], [39, 12, 49]);
        let part = DistanceMap::new_within(&tube, g.spacing_mm, Some(margin), Some(region), false);
        assert!(
            part.dims[2] < full.dims[2] / 3,
            "{:?} vs {:?}",
            part.dims,
            full.dims
        );
        let (mut exact, mut beyond) = (0, 0);
        for k in region.0[2]..=region.1[2] {
            for j in region.0[1]..=region.1[1] {
                for i in region.0[0]..=region.1[0] {
                    let want = full.at([i, j, k]).filter(|d| f64::from(*d) <= margin);
                    assert_eq!(part.at([i, j, k]), want, "voxel {i} {j} {k}");
                    if want.is_some() { exact += 1 } else { beyond += 1 }
                }
            }
        }
        assert!(exact > 1000 && beyond > 100, "both cases seen: {exact} {beyond}");
        assert!(part.covers(Some(([2, 2, 42], [30, 10, 48])), Some(margin)));
        assert!(
            !part.covers(Some(([2, 2, 30], [30, 10, 48])), Some(margin)),
            "reaches beyond"
        );
        assert!(!part.covers(None, Some(margin)), "not the whole grid");
        assert!(!part.covers(Some(region), Some(margin + 1.0)), "a larger margin");
        assert!(full.covers(Some(region), Some(margin)));
        // A region farther than the margin from the structure holds nothing of it.
        let far = DistanceMap::new_within(
            &tube,
            g.spacing_mm,
            Some(2.0),
            Some(([0, 0, 0], [3, 3, 5])),
            false,
        );
        assert_eq!(far.at([1, 1, 1]), None);
    }

    #[test]
    fn cache_serves_a_region_only_from_a_map_that_covers_it() {
        let dims = [20, 20, 40];
        let g = VolumeGeometry::axis_aligned(dims, [1.0; 3], Point3::origin());
        let m = sphere(dims, &g, Point3::new(10.0, 10.0, 20.0), 4.0);
        let mut cache = DistanceCache::default();
        let small = ([5, 5, 15], [15, 15, 25]);
        assert!(cache.lookup(7, 1, Some(5.0), Some(small), false).is_none());
        cache.insert(
            7,
            1,
            Arc::new(DistanceMap::new_within(
                &m,
                g.spacing_mm,
                Some(5.0),
                Some(small),
                false,
            )),
        );
        assert!(
            cache
                .lookup(7, 1, Some(5.0), Some(([6, 6, 16], [14, 14, 24])), false)
                .is_some()
        );
        assert!(
            cache
                .lookup(7, 1, Some(5.0), Some(([5, 5, 0], [15, 15, 25])), false)
                .is_none()
        );
        assert!(
            cache.lookup(7, 2, Some(5.0), Some(small), false).is_none(),
            "stale revision"
        );
    }

    #[test]
    fn cache_recomputes_only_on_new_revision() {
        let dims = [10, 10, 10];
        let g = VolumeGeometry::axis_aligned(dims, [1.0; 3], Point3::origin());
        let m = sphere(dims, &g, Point3::new(5.0, 5.0, 5.0), 2.0);
        let mut cache = DistanceCache::default();
        let a = cache.get(1, 1, &m, g.spacing_mm, None, true);
        let b = cache.get(1, 1, &m, g.spacing_mm, None, true);
        assert!(Arc::ptr_eq(&a, &b));
        let c = cache.get(1, 2, &m, g.spacing_mm, None, true);
        assert!(!Arc::ptr_eq(&a, &c));
        assert!(a.at([5, 5, 5]).expect("inside") < 0.0, "signed: negative inside");
    }
}
