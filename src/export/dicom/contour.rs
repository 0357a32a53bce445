//! Closed planar contours of one mask slice by marching squares, for RTSTRUCT export.
//!
//! The iso-level is half-way between an inside and an outside voxel centre, so every contour
//! point is the midpoint of a grid edge joining an inside centre to an outside one, and every
//! edge of a contour runs at least 0.35 voxel from any voxel centre. Read back with the import's
//! rule (centre inside the even–odd region, or on the contour) the contours give exactly the
//! mask's voxels: inside centres are strictly inside, outside centres strictly outside. Saddle
//! cells (two diagonal inside centres) are split, so diagonal neighbours become separate loops;
//! holes are loops of their own and even–odd makes them holes again.
//!
//! Points are in continuous (i, j) voxel coordinates of the slice.

use std::collections::HashMap;

/// A cell's cut: from one edge midpoint to another (doubled coordinates), and the corner that
/// orients it.
type Segment = ((i64, i64), (i64, i64), usize);

/// A closed loop of points (the last joins the first), in (i, j) voxel coordinates.
pub type Loop = Vec<[f64; 2]>;

/// Corner offsets of a cell whose top-left centre is (i, j): a = (0,0), b = (1,0), c = (1,1),
/// d = (0,1). Edge midpoints are keyed in doubled coordinates so they are exact integers.
const CORNERS: [(i64, i64); 4] = [(0, 0), (1, 0), (1, 1), (0, 1)];

/// The contour loops of `inside` (an `nx × ny` slice, i fastest).
pub fn mask_loops(inside: &[bool], nx: usize, ny: usize) -> Vec<Loop> {
    let at = |i: i64, j: i64| -> bool {
        i >= 0 && j >= 0 && (i as usize) < nx && (j as usize) < ny && inside[j as usize * nx + i as usize]
    };
    // Only cells around set voxels matter: rows and columns of the bounding box ± 1.
    let (mut i0, mut i1, mut j0, mut j1) = (i64::MAX, i64::MIN, i64::MAX, i64::MIN);
    for j in 0..ny {
        for i in 0..nx {
            if inside[j * nx + i] {
                i0 = i0.min(i as i64);
                i1 = i1.max(i as i64);
                j0 = j0.min(j as i64);
                j1 = j1.max(j as i64);
            }
        }
    }
    if i0 > i1 {
        return Vec::new();
    }
    // Oriented segments in doubled coordinates: start → end, the inside on the left.
    let mut next: HashMap<(i64, i64), (i64, i64)> = HashMap::new();
    for j in j0 - 1..=j1 {
        for i in i0 - 1..=i1 {
            let v: [bool; 4] = CORNERS.map(|(di, dj)| at(i + di, j + dj));
            let n_in = v.iter().filter(|b| **b).count();
            if n_in == 0 || n_in == 4 {
                continue;
            }
            // Midpoint of the cell edge between corners p and q (doubled coordinates).
            let mid = |p: usize, q: usize| -> (i64, i64) {
                let (a, b) = (CORNERS[p], CORNERS[q]);
                (2 * i + a.0 + b.0, 2 * j + a.1 + b.1)
            };
            // Each corner whose status differs from a neighbour's gives crossing points on the
            // two cell edges at that corner. Walk the corners: for corner c with inside status
            // different from the next corner (clockwise), there is a crossing on edge (c, c+1).
            // Pair crossings per cut corner (split saddles): a segment cuts off one corner when
            // that corner differs from both neighbours, else it separates two halves.
            let mut segs: Vec<Segment> = Vec::new();
            let differs_both = |c: usize| v[c] != v[(c + 1) % 4] && v[c] != v[(c + 3) % 4];
            let saddle = n_in == 2 && v[0] == v[2];
            if saddle {
                // Split: cut off each inside corner on its own.
                for (c, inside) in v.iter().enumerate() {
                    if *inside {
                        segs.push((mid((c + 3) % 4, c), mid(c, (c + 1) % 4), c));
                    }
                }
            } else if n_in == 1 || n_in == 3 {
                let c = (0..4).find(|&c| differs_both(c)).unwrap_or(0);
                segs.push((mid((c + 3) % 4, c), mid(c, (c + 1) % 4), c));
            } else {
                // Two adjacent inside corners: a straight cut between the two other edges.
                let c = (0..4).find(|&c| v[c] && v[(c + 1) % 4]).unwrap_or(0);
                segs.push((mid((c + 3) % 4, c), mid((c + 1) % 4, (c + 2) % 4), c));
            }
            for (p, q, c) in segs {
                // Orient with corner c (doubled coordinates) on the left when it is inside.
                let cc = (2 * (i + CORNERS[c].0), 2 * (j + CORNERS[c].1));
                let cross = (q.0 - p.0) * (cc.1 - p.1) - (q.1 - p.1) * (cc.0 - p.0);
                let left = cross > 0;
                let (s, e) = if left == v[c] { (p, q) } else { (q, p) };
                next.insert(s, e);
            }
        }
    }
    // Chain the segments into loops.
    let mut loops = Vec::new();
    let mut starts: Vec<(i64, i64)> = next.keys().copied().collect();
    starts.sort_unstable();
    for s in starts {
        if !next.contains_key(&s) {
            continue;
        }
        let mut pts = Vec::new();
        let mut p = s;
        while let Some(q) = next.remove(&p) {
            pts.push(p);
            p = q;
        }
        let simplified = drop_collinear(&pts);
        if simplified.len() >= 3 {
            loops.push(
                simplified
                    .iter()
                    .map(|&(x, y)| [x as f64 / 2.0, y as f64 / 2.0])
                    .collect(),
            );
        }
    }
    loops
}

/// Remove points where the loop goes straight on (exact in integer coordinates).
fn drop_collinear(pts: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let n = pts.len();
    if n < 4 {
        return pts.to_vec();
    }
    (0..n)
        .filter(|&k| {
            let a = pts[(k + n - 1) % n];
            let b = pts[k];
            let c = pts[(k + 1) % n];
            (b.0 - a.0) * (c.1 - b.1) - (b.1 - a.1) * (c.0 - b.0) != 0
        })
        .map(|k| pts[k])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dicom::rasterise_contours;

    fn back(m: &[bool], nx: usize, ny: usize) -> Vec<bool> {
        rasterise_contours(&mask_loops(m, nx, ny), nx, ny)
    }

    #[test]
    fn one_voxel_is_a_diamond() {
        let (nx, ny) = (5, 5);
        let mut m = vec![false; 25];
        m[2 * 5 + 2] = true;
        let l = mask_loops(&m, nx, ny);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].len(), 4);
        assert_eq!(back(&m, nx, ny), m);
    }

    #[test]
    fn random_masks_come_back_voxel_for_voxel() {
        // Deterministic LCG; blobs with holes, diagonal neighbours, voxels on the border.
        let mut s = 0x9E37_79B9_7F4A_7C15u64;
        let mut rnd = || {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 33) as f64 / (1u64 << 31) as f64
        };
        for density in [0.1, 0.3, 0.5, 0.7, 0.9] {
            for _ in 0..40 {
                let (nx, ny) = (17, 13);
                let m: Vec<bool> = (0..nx * ny).map(|_| rnd() < density).collect();
                assert_eq!(back(&m, nx, ny), m, "density {density}");
            }
        }
    }

    #[test]
    fn ring_gives_outer_and_hole_loops() {
        let (nx, ny) = (9, 9);
        let m: Vec<bool> = (0..81)
            .map(|n| {
                let (i, j) = (n % 9, n / 9);
                (1..=7).contains(&i)
                    && (1..=7).contains(&j)
                    && !((3..=5).contains(&i) && (3..=5).contains(&j))
            })
            .collect();
        assert_eq!(mask_loops(&m, nx, ny).len(), 2);
        assert_eq!(back(&m, nx, ny), m);
    }
}
