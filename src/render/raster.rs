//! An RGBA8 raster with a few pure drawing helpers, and PNG output.

use super::RenderError;
use std::path::Path;

/// RGBA colour, straight (non-premultiplied) alpha.
pub type Rgba = [u8; 4];

/// Row-major RGBA8 image, `width * height * 4` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RgbaImage {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl RgbaImage {
    /// A new image filled with `fill`.
    pub fn new(width: usize, height: usize, fill: Rgba) -> Self {
        let mut pixels = Vec::with_capacity(width * height * 4);
        for _ in 0..width * height {
            pixels.extend_from_slice(&fill);
        }
        Self {
            width,
            height,
            pixels,
        }
    }

    /// Wraps an existing buffer; fails when its length is not `width * height * 4`.
    pub fn from_pixels(width: usize, height: usize, pixels: Vec<u8>) -> Result<Self, RenderError> {
        let expected = width * height * 4;
        if pixels.len() != expected {
            return Err(RenderError::SizeMismatch {
                expected,
                got: pixels.len(),
            });
        }
        Ok(Self {
            width,
            height,
            pixels,
        })
    }

    fn offset(&self, x: i64, y: i64) -> Option<usize> {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            return None;
        }
        Some((y as usize * self.width + x as usize) * 4)
    }

    /// The pixel at (x, y), `None` outside the image.
    pub fn get(&self, x: i64, y: i64) -> Option<Rgba> {
        let o = self.offset(x, y)?;
        let p = self.pixels.get(o..o + 4)?;
        Some([p[0], p[1], p[2], p[3]])
    }

    /// Overwrites the pixel at (x, y); ignored outside the image.
    pub fn put(&mut self, x: i64, y: i64, c: Rgba) {
        if let Some(o) = self.offset(x, y)
            && let Some(p) = self.pixels.get_mut(o..o + 4)
        {
            p.copy_from_slice(&c);
        }
    }

    /// Source-over blend of colour `c` with its alpha scaled by `coverage` in [0, 1];
    /// ignored outside the image.
    pub fn blend(&mut self, x: i64, y: i64, c: Rgba, coverage: f32) {
        let Some(o) = self.offset(x, y) else { return };
        let Some(dst) = self.pixels.get_mut(o..o + 4) else {
            return;
        };
        let a = (f32::from(c[3]) / 255.0) * coverage.clamp(0.0, 1.0);
        if a <= 0.0 {
            return;
        }
        let da = f32::from(dst[3]) / 255.0;
        let out_a = a + da * (1.0 - a);
        for n in 0..3 {
            let s = f32::from(c[n]);
            let d = f32::from(dst[n]);
            let v = if out_a > 0.0 {
                (s * a + d * da * (1.0 - a)) / out_a
            } else {
                0.0
            };
            dst[n] = v.round().clamp(0.0, 255.0) as u8;
        }
        dst[3] = (out_a * 255.0).round().clamp(0.0, 255.0) as u8;
    }

    /// Blends a filled axis-aligned rectangle `[x0, x1) × [y0, y1)` (clipped).
    pub fn fill_rect(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, c: Rgba) {
        let xa = x0.max(0);
        let ya = y0.max(0);
        let xb = x1.min(self.width as i64);
        let yb = y1.min(self.height as i64);
        for y in ya..yb {
            for x in xa..xb {
                self.blend(x, y, c, 1.0);
            }
        }
    }

    /// Anti-aliased line (Xiaolin Wu) between pixel-centre coordinates; pixel (x, y) has its
    /// centre at (x, y). Clipped to the image; non-finite end points draw nothing.
    pub fn draw_line(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, c: Rgba) {
        if ![x0, y0, x1, y1].iter().all(|v| v.is_finite()) {
            return;
        }
        // Limit work for absurd coordinates: clip the segment to a generous box first.
        let lim = (self.width.max(self.height) as f64 + 2.0) * 4.0;
        let Some((x0, y0, x1, y1)) = clip_segment(x0, y0, x1, y1, -lim, lim) else {
            return;
        };
        let steep = (y1 - y0).abs() > (x1 - x0).abs();
        let (mut ax, mut ay, mut bx, mut by) = if steep { (y0, x0, y1, x1) } else { (x0, y0, x1, y1) };
        if ax > bx {
            std::mem::swap(&mut ax, &mut bx);
            std::mem::swap(&mut ay, &mut by);
        }
        let dx = bx - ax;
        let gradient = if dx.abs() < 1e-12 { 0.0 } else { (by - ay) / dx };
        let plot = |img: &mut Self, u: i64, v: i64, cov: f64| {
            if steep {
                img.blend(v, u, c, cov as f32);
            } else {
                img.blend(u, v, c, cov as f32);
            }
        };
        let start = ax.round() as i64;
        let end = bx.round() as i64;
        if start == end {
            // A segment shorter than a pixel: one pixel weighted by its length.
            let len = dx.hypot(by - ay).clamp(0.0, 1.0).max(0.25);
            let v = (ay + by) * 0.5;
            let vf = v.floor();
            plot(self, start, vf as i64, len * (1.0 - (v - vf)));
            plot(self, start, vf as i64 + 1, len * (v - vf));
            return;
        }
        for u in start..=end {
            let t = u as f64;
            // End pixels are weighted by how much of them the segment covers.
            let w = if u == start {
                (start as f64 + 0.5 - ax).clamp(0.0, 1.0)
            } else if u == end {
                (bx - (end as f64 - 0.5)).clamp(0.0, 1.0)
            } else {
                1.0
            };
            let v = ay + gradient * (t - ax);
            let vf = v.floor();
            let frac = v - vf;
            plot(self, u, vf as i64, w * (1.0 - frac));
            plot(self, u, vf as i64 + 1, w * frac);
        }
    }

    /// Saves as PNG (see [`save_png`]).
    pub fn save_png(&self, path: &Path) -> Result<(), RenderError> {
        save_png(path, self)
    }
}

/// Liang–Barsky clip of a segment to the square `[lo, hi]²`.
fn clip_segment(x0: f64, y0: f64, x1: f64, y1: f64, lo: f64, hi: f64) -> Option<(f64, f64, f64, f64)> {
    let dx = x1 - x0;
    let dy = y1 - y0;
    let mut t0 = 0.0f64;
    let mut t1 = 1.0f64;
    for (p, q) in [(-dx, x0 - lo), (dx, hi - x0), (-dy, y0 - lo), (dy, hi - y0)] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
        } else {
            let r = q / p;
            if p < 0.0 {
                t0 = t0.max(r);
            } else {
                t1 = t1.min(r);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    Some((x0 + t0 * dx, y0 + t0 * dy, x0 + t1 * dx, y0 + t1 * dy))
}

/// Writes `img` as an 8-bit RGBA PNG.
pub fn save_png(path: impl AsRef<Path>, img: &RgbaImage) -> Result<(), RenderError> {
    let path = path.as_ref();
    let expected = img.width * img.height * 4;
    if img.pixels.len() != expected {
        return Err(RenderError::SizeMismatch {
            expected,
            got: img.pixels.len(),
        });
    }
    let w = u32::try_from(img.width).map_err(|_| RenderError::TooLarge(img.width, img.height))?;
    let h = u32::try_from(img.height).map_err(|_| RenderError::TooLarge(img.width, img.height))?;
    if w == 0 || h == 0 {
        return Err(RenderError::Empty);
    }
    let png_err = |source| RenderError::Png {
        path: path.to_path_buf(),
        source,
    };
    // Encoded in memory, then written atomically: a kill mid-write never leaves half a PNG.
    let mut bytes = Vec::new();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut bytes),
        &img.pixels,
        w,
        h,
        image::ExtendedColorType::Rgba8,
    )
    .map_err(png_err)?;
    crate::fsio::write_atomic_bytes(path, &bytes).map_err(|e| png_err(image::ImageError::IoError(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_over_opaque() {
        let mut img = RgbaImage::new(2, 1, [0, 0, 0, 255]);
        img.blend(0, 0, [255, 0, 100, 255], 0.5);
        assert_eq!(img.get(0, 0), Some([128, 0, 50, 255]));
        img.blend(1, 0, [255, 255, 255, 128], 1.0);
        assert_eq!(img.get(1, 0), Some([128, 128, 128, 255]));
        img.blend(5, 0, [255, 255, 255, 255], 1.0); // outside: ignored
        assert_eq!(img.get(5, 0), None);
    }

    #[test]
    fn horizontal_line_is_crisp_on_pixel_centres() {
        let mut img = RgbaImage::new(10, 5, [0, 0, 0, 255]);
        img.draw_line(1.0, 2.0, 8.0, 2.0, [255, 255, 255, 255]);
        for x in 0..10 {
            let want = if (1..=8).contains(&x) { 255 } else { 0 };
            // End pixels are half covered (the segment starts at their centre).
            let want = if x == 1 || x == 8 { 128 } else { want };
            assert_eq!(img.get(x, 2).map(|p| p[0]), Some(want), "x = {x}");
            assert_eq!(img.get(x, 1).map(|p| p[0]), Some(0));
            assert_eq!(img.get(x, 3).map(|p| p[0]), Some(0));
        }
    }

    #[test]
    fn diagonal_line_splits_coverage_and_clips() {
        let mut img = RgbaImage::new(8, 8, [0, 0, 0, 255]);
        img.draw_line(0.0, 0.5, 7.0, 0.5, [255, 255, 255, 255]);
        assert_eq!(img.get(3, 0).map(|p| p[0]), Some(128));
        assert_eq!(img.get(3, 1).map(|p| p[0]), Some(128));
        // Steep line, partly outside: no panic, pixels inside drawn.
        img.draw_line(4.0, -20.0, 4.0, 30.0, [255, 0, 0, 255]);
        assert_eq!(img.get(4, 5), Some([255, 0, 0, 255]));
        img.draw_line(f64::NAN, 0.0, 1.0, 1.0, [255, 0, 0, 255]);
        img.draw_line(-1e6, -1e6, 1e6, 1e6, [0, 255, 0, 255]);
        assert_eq!(img.get(6, 6).map(|p| p[1]), Some(255));
        assert_eq!(img.get(6, 5).map(|p| p[1]), Some(0));
        // Absurd coordinates must neither panic nor take long.
        img.draw_line(-1e300, -1e300, 1e300, 1e300, [0, 0, 255, 255]);
    }

    #[test]
    fn png_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let mut img = RgbaImage::new(3, 2, [10, 20, 30, 255]);
        img.put(2, 1, [200, 100, 50, 128]);
        let path = dir.path().join("t.png");
        save_png(&path, &img).unwrap();
        let back = image::open(&path).unwrap().to_rgba8();
        assert_eq!(back.dimensions(), (3, 2));
        assert_eq!(back.as_raw(), &img.pixels);
        let bad = RgbaImage {
            width: 2,
            height: 2,
            pixels: vec![0; 3],
        };
        assert!(matches!(
            save_png(&path, &bad),
            Err(RenderError::SizeMismatch { .. })
        ));
        assert!(save_png(dir.path().join("missing/dir/x.png"), &img).is_err());
    }
}
