//! Isolines of a sampled scalar field by marching squares (used for the IRE field's |E| isolines
//! and for smooth zone outlines). Plain data in, line segments out, in sample coordinates: sample
//! `(x, y)` of a row-major `w × h` grid sits at `(x, y)`.

/// One line segment, `[[x0, y0], [x1, y1]]` in sample coordinates.
pub type IsoSegment = [[f32; 2]; 2];

/// Where the level crosses the edge from a sample of value `a` to one of value `b` (0 at `a`,
/// 1 at `b`). Non-finite values or a flat edge give the midpoint.
fn crossing(a: f32, b: f32, level: f32) -> f32 {
    let t = (level - a) / (b - a);
    if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.5 }
}

/// Whether a sample counts as inside (≥ level); NaN is outside, so holes in the data close the
/// contour instead of leaving it open.
fn inside(v: f32, level: f32) -> bool {
    v >= level
}

/// Segments of the isoline `field = level` on a `w × h` grid (row-major `values`). Cells with a
/// saddle (diagonal corners on the same side) are resolved by the cell-centre average, so the
/// result has no crossing segments. Each edge crossing is computed from that edge's two samples
/// only, so neighbouring cells share their end points exactly and closed contours stay closed.
/// Returns nothing when `values` is shorter than `w * h`.
pub fn marching_squares(values: &[f32], w: usize, h: usize, level: f32) -> Vec<IsoSegment> {
    let mut out = Vec::new();
    if w < 2 || h < 2 || values.len() < w * h || !level.is_finite() {
        return out;
    }
    for y in 0..h - 1 {
        for x in 0..w - 1 {
            // Corners: 0 top-left, 1 top-right, 2 bottom-right, 3 bottom-left.
            let v = [
                values[y * w + x],
                values[y * w + x + 1],
                values[(y + 1) * w + x + 1],
                values[(y + 1) * w + x],
            ];
            let case = v
                .iter()
                .enumerate()
                .fold(0u8, |c, (i, &val)| c | (u8::from(inside(val, level)) << i));
            if case == 0 || case == 15 {
                continue;
            }
            let (fx, fy) = (x as f32, y as f32);
            // Edge points: 0 top (0→1), 1 right (1→2), 2 bottom (3→2), 3 left (0→3).
            let edge = |e: usize| -> [f32; 2] {
                match e {
                    0 => [fx + crossing(v[0], v[1], level), fy],
                    1 => [fx + 1.0, fy + crossing(v[1], v[2], level)],
                    2 => [fx + crossing(v[3], v[2], level), fy + 1.0],
                    _ => [fx, fy + crossing(v[0], v[3], level)],
                }
            };
            let centre_inside = {
                let finite: Vec<f32> = v.iter().copied().filter(|x| x.is_finite()).collect();
                !finite.is_empty() && finite.iter().sum::<f32>() / finite.len() as f32 >= level
            };
            let pairs: &[(usize, usize)] = match case {
                1 | 14 => &[(3, 0)],
                2 | 13 => &[(0, 1)],
                3 | 12 => &[(3, 1)],
                4 | 11 => &[(1, 2)],
                6 | 9 => &[(0, 2)],
                7 | 8 => &[(3, 2)],
                // Saddles. 5: corners 0 and 2 inside; 10: corners 1 and 3 inside.
                5 if centre_inside => &[(0, 1), (2, 3)],
                5 => &[(3, 0), (1, 2)],
                10 if centre_inside => &[(3, 0), (1, 2)],
                _ => &[(0, 1), (2, 3)],
            };
            for &(a, b) in pairs {
                out.push([edge(a), edge(b)]);
            }
        }
    }
    out
}

/// Smooth outline of a boolean mask sampled on the same grid: the 0.5 isoline of the mask as 0/1
/// (edges cross half-way between an inside and an outside sample).
pub fn mask_outline(mask: &[bool], w: usize, h: usize) -> Vec<IsoSegment> {
    let values: Vec<f32> = mask.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
    marching_squares(&values, w, h, 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn radial(w: usize, h: usize, c: [f32; 2]) -> Vec<f32> {
        (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as f32, (i / w) as f32);
                ((x - c[0]).powi(2) + (y - c[1]).powi(2)).sqrt()
            })
            .collect()
    }

    fn key(p: [f32; 2]) -> (i64, i64) {
        ((p[0] * 1e4).round() as i64, (p[1] * 1e4).round() as i64)
    }

    #[test]
    fn flat_field_has_no_isoline() {
        assert!(marching_squares(&[3.0; 100], 10, 10, 3.5).is_empty());
        assert!(marching_squares(&[3.0; 100], 10, 10, 2.5).is_empty());
        // Too short a buffer is not read past its end.
        assert!(marching_squares(&[0.0; 10], 10, 10, 0.5).is_empty());
    }

    #[test]
    fn circle_isoline_lies_on_the_circle_and_is_closed() {
        let (w, h) = (41, 37);
        let c = [20.3, 17.8];
        let r = 11.0;
        let segs = marching_squares(&radial(w, h, c), w, h, r);
        assert!(!segs.is_empty());
        let mut len = 0.0;
        let mut ends: HashMap<(i64, i64), usize> = HashMap::new();
        for s in &segs {
            for p in s {
                let d = ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2)).sqrt();
                // Linear interpolation of r along a cell edge is off by at most ~1/(8r).
                assert!((d - r).abs() < 0.02, "point at radius {d}");
                *ends.entry(key(*p)).or_default() += 1;
            }
            len += ((s[1][0] - s[0][0]).powi(2) + (s[1][1] - s[0][1]).powi(2)).sqrt();
        }
        let circumference = 2.0 * std::f32::consts::PI * r;
        assert!(
            (len - circumference).abs() / circumference < 0.01,
            "length {len} vs {circumference}"
        );
        assert!(
            ends.values().all(|&n| n == 2),
            "every end point is shared by exactly two segments"
        );
    }

    #[test]
    fn saddle_gives_two_separate_segments() {
        // Checkerboard cell: corners 0 and 2 high. Centre average 0.5 ≥ 0.5 → inside joins them.
        let v = [1.0, 0.0, 0.0, 1.0];
        let segs = marching_squares(&v, 2, 2, 0.5);
        assert_eq!(segs.len(), 2);
        // Raised level: centre (0.5) outside → the high corners are cut off instead.
        let segs_hi = marching_squares(&v, 2, 2, 0.6);
        assert_eq!(segs_hi.len(), 2);
        assert_ne!(segs, segs_hi);
        for s in segs.iter().chain(&segs_hi) {
            // Each segment cuts one corner: its ends are on two adjacent edges.
            assert!(s[0] != s[1]);
        }
    }

    #[test]
    fn mask_outline_surrounds_a_block() {
        let (w, h) = (8, 6);
        let mut m = vec![false; w * h];
        for y in 2..4 {
            for x in 2..6 {
                m[y * w + x] = true;
            }
        }
        let segs = mask_outline(&m, w, h);
        let xs: Vec<f32> = segs.iter().flat_map(|s| [s[0][0], s[1][0]]).collect();
        let ys: Vec<f32> = segs.iter().flat_map(|s| [s[0][1], s[1][1]]).collect();
        let (min_x, max_x) = xs
            .iter()
            .fold((f32::MAX, f32::MIN), |a, &x| (a.0.min(x), a.1.max(x)));
        let (min_y, max_y) = ys
            .iter()
            .fold((f32::MAX, f32::MIN), |a, &y| (a.0.min(y), a.1.max(y)));
        // Half-way between the block's edge samples and their outside neighbours.
        assert_eq!((min_x, max_x, min_y, max_y), (1.5, 5.5, 1.5, 3.5));
    }

    #[test]
    fn nan_samples_count_as_outside() {
        let v = [f32::NAN, 2.0, 2.0, 2.0];
        let segs = marching_squares(&v, 2, 2, 1.0);
        assert_eq!(segs.len(), 1, "the NaN corner is cut off");
        assert!(segs[0].iter().flatten().all(|c| c.is_finite()));
    }
}
