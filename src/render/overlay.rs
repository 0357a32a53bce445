//! Mask overlays: a translucent fill (raster, shared by screen and exports) and crisp outlines
//! as pixel-edge line segments (vector, so they stay sharp at any zoom).

/// A straight piece of outline in image pixel coordinates (pixel `(u, v)` covers
/// `[u, u + 1] × [v, v + 1]`).
pub type Segment = [[f32; 2]; 2];

/// The boundary between inside and outside pixels of a 2-D mask (row-major `w × h`), as
/// maximal horizontal and vertical segments along pixel edges.
pub fn outline_segments(mask: &[bool], w: usize, h: usize) -> Vec<Segment> {
    let at = |u: isize, v: isize| -> bool {
        u >= 0
            && v >= 0
            && (u as usize) < w
            && (v as usize) < h
            && mask.get(u as usize + w * v as usize).copied().unwrap_or(false)
    };
    let mut out = Vec::new();
    // Horizontal edges at y = v (between rows v-1 and v), merged along u.
    for v in 0..=h as isize {
        let mut start: Option<isize> = None;
        for u in 0..=w as isize {
            let edge = u < w as isize && at(u, v - 1) != at(u, v);
            match (edge, start) {
                (true, None) => start = Some(u),
                (false, Some(s)) => {
                    out.push([[s as f32, v as f32], [u as f32, v as f32]]);
                    start = None;
                }
                _ => {}
            }
        }
    }
    // Vertical edges at x = u (between columns u-1 and u), merged along v.
    for u in 0..=w as isize {
        let mut start: Option<isize> = None;
        for v in 0..=h as isize {
            let edge = v < h as isize && at(u - 1, v) != at(u, v);
            match (edge, start) {
                (true, None) => start = Some(v),
                (false, Some(s)) => {
                    out.push([[u as f32, s as f32], [u as f32, v as f32]]);
                    start = None;
                }
                _ => {}
            }
        }
    }
    out
}

/// Blend `colour` with `alpha` over the pixels of `rgba` (RGBA8, `w × h`) where `mask` is set.
pub fn blend_mask(rgba: &mut [u8], mask: &[bool], colour: [u8; 3], alpha: f32) {
    let a = alpha.clamp(0.0, 1.0);
    for (px, m) in rgba.chunks_exact_mut(4).zip(mask.iter()) {
        if *m {
            for c in 0..3 {
                px[c] = (px[c] as f32 * (1.0 - a) + colour[c] as f32 * a).round() as u8;
            }
        }
    }
}

/// Premultiplied-alpha RGBA of several masks composited over transparency (for an overlay
/// texture drawn above the CT): later masks go on top.
pub fn composite_masks(w: usize, h: usize, layers: &[(&[bool], [u8; 3], f32)]) -> Vec<u8> {
    let mut out = vec![0u8; w * h * 4];
    for (mask, colour, alpha) in layers {
        let a = alpha.clamp(0.0, 1.0);
        for (px, m) in out.chunks_exact_mut(4).zip(mask.iter()) {
            if *m {
                // "over" in premultiplied form: dst = src + dst * (1 - a)
                for c in 0..3 {
                    px[c] = (colour[c] as f32 * a + px[c] as f32 * (1.0 - a)).round() as u8;
                }
                px[3] = (255.0 * a + px[3] as f32 * (1.0 - a)).round() as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_pixel_has_four_unit_edges() {
        let mut m = vec![false; 9];
        m[4] = true;
        let mut s = outline_segments(&m, 3, 3);
        s.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(
            s,
            vec![
                [[1.0, 1.0], [1.0, 2.0]],
                [[1.0, 1.0], [2.0, 1.0]],
                [[1.0, 2.0], [2.0, 2.0]],
                [[2.0, 1.0], [2.0, 2.0]],
            ]
        );
    }

    #[test]
    fn rectangle_outline_is_four_merged_segments_with_its_perimeter() {
        let (w, h) = (10, 8);
        let m: Vec<bool> = (0..w * h)
            .map(|n| (2..7).contains(&(n % w)) && (1..5).contains(&(n / w)))
            .collect();
        let s = outline_segments(&m, w, h);
        assert_eq!(s.len(), 4);
        let perimeter: f32 = s
            .iter()
            .map(|[a, b]| (b[0] - a[0]).abs() + (b[1] - a[1]).abs())
            .sum();
        assert_eq!(perimeter, 2.0 * (5.0 + 4.0));
    }

    #[test]
    fn mask_touching_the_border_is_closed() {
        let m = vec![true; 4];
        let s = outline_segments(&m, 2, 2);
        let perimeter: f32 = s
            .iter()
            .map(|[a, b]| (b[0] - a[0]).abs() + (b[1] - a[1]).abs())
            .sum();
        assert_eq!(perimeter, 8.0);
    }

    #[test]
    fn blending_and_compositing() {
        let mut px = vec![100u8, 100, 100, 255];
        blend_mask(&mut px, &[true], [200, 0, 0], 0.5);
        assert_eq!(px, vec![150, 50, 50, 255]);
        let c = composite_masks(1, 1, &[(&[true], [255, 0, 0], 0.5)]);
        assert_eq!(c, vec![128, 0, 0, 128]);
        let none = composite_masks(1, 1, &[(&[false], [255, 0, 0], 0.5)]);
        assert_eq!(none, vec![0, 0, 0, 0]);
    }
}
