//! CPU rendering shared by the screen and the exports: HU slice → RGBA through a
//! window/level lookup table, an RGBA raster with drawing helpers, and PNG output.

pub mod isolines;
pub mod mesh;
pub mod overlay;
pub mod paint;
pub mod palette;
pub mod path_marks;
mod raster;
pub mod redact;
pub mod reslice;
pub mod scene3d;
mod window;

pub use self::raster::{Rgba, RgbaImage, save_png};
pub use self::window::{WindowLevel, WlLut};

use crate::volume::SliceImage;
use rayon::prelude::*;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("image buffer has {got} bytes but {expected} were expected; this is a bug, please report it")]
    SizeMismatch { expected: usize, got: usize },
    #[error("image of {0} × {1} pixels is too large to save; export a smaller view")]
    TooLarge(usize, usize),
    #[error("cannot save an empty image; choose a view with a visible slice")]
    Empty,
    #[error("could not write PNG {path}: {source}; check that the folder exists and is writable")]
    Png {
        path: PathBuf,
        #[source]
        source: ::image::ImageError,
    },
}

/// Rows per parallel task: large enough to amortise scheduling, small enough to balance.
const ROWS_PER_TASK: usize = 64;

/// Renders a HU slice as opaque gray RGBA8 (row-major, `width * height * 4` bytes) into
/// `out`, reusing its allocation. Pixels missing from a short `hu` buffer are black.
pub fn render_slice(img: &SliceImage, lut: &WlLut, out: &mut Vec<u8>) {
    let n = img.width * img.height;
    out.resize(n * 4, 0);
    if n == 0 {
        return;
    }
    let hu = &img.hu[..img.hu.len().min(n)];
    let table = lut.as_slice();
    let chunk_px = img.width * ROWS_PER_TASK;
    out.par_chunks_mut(chunk_px * 4).enumerate().for_each(|(c, dst)| {
        let start = (c * chunk_px).min(hu.len());
        let end = (start + chunk_px).min(hu.len());
        let src = &hu[start..end];
        let mut px = dst.chunks_exact_mut(4);
        for (&v, p) in src.iter().zip(&mut px) {
            let g = table[v as u16 as usize];
            p.copy_from_slice(&[g, g, g, 255]);
        }
        for p in px {
            p.copy_from_slice(&[0, 0, 0, 255]);
        }
    });
}

/// [`render_slice`] into a new [`RgbaImage`].
pub fn render_slice_image(img: &SliceImage, lut: &WlLut) -> RgbaImage {
    let mut pixels = Vec::new();
    render_slice(img, lut, &mut pixels);
    RgbaImage {
        width: img.width,
        height: img.height,
        pixels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_known_small_image() {
        let img = SliceImage {
            width: 3,
            height: 2,
            hu: vec![-1000, -160, 40, 239, 240, 3000],
            pixel_mm: [1.0, 1.0],
        };
        let lut = WlLut::new(WindowLevel::new(40.0, 400.0));
        let mut out = vec![7u8; 100]; // reused and resized
        render_slice(&img, &lut, &mut out);
        let gray: Vec<u8> = out.chunks_exact(4).map(|p| p[0]).collect();
        assert_eq!(out.len(), 24);
        assert_eq!(gray, vec![0, 0, 128, 255, 255, 255]);
        for p in out.chunks_exact(4) {
            assert_eq!((p[0], p[1], p[2], p[3]), (p[0], p[0], p[0], 255));
        }
        // c = 40, w = 80: linear from −0.5 to 79.5; 40 → (0.5/79 + 0.5)·255 = 129.1.
        let lut2 = WlLut::new(WindowLevel::new(40.0, 80.0));
        render_slice(&img, &lut2, &mut out);
        assert_eq!(
            out.chunks_exact(4).map(|p| p[0]).collect::<Vec<_>>(),
            vec![0, 0, 129, 255, 255, 255]
        );
        let lut3 = WlLut::new(WindowLevel::new(-600.0, 1500.0));
        render_slice(&img, &lut3, &mut out);
        assert_eq!(out[0], lut3.get(-1000));
        assert_eq!(out[0], WindowLevel::new(-600.0, 1500.0).apply_u8(-1000.0));
    }

    #[test]
    fn multi_chunk_rows_and_short_buffer() {
        let width = 37;
        let height = ROWS_PER_TASK * 2 + 5;
        let hu: Vec<i16> = (0..width * height).map(|n| (n % 500) as i16 - 250).collect();
        let mut img = SliceImage {
            width,
            height,
            hu,
            pixel_mm: [0.5, 0.5],
        };
        let wl = WindowLevel::new(0.0, 300.0);
        let lut = WlLut::new(wl);
        let r = render_slice_image(&img, &lut);
        assert_eq!(
            (r.width, r.height, r.pixels.len()),
            (width, height, width * height * 4)
        );
        for (n, &v) in img.hu.iter().enumerate() {
            assert_eq!(r.pixels[n * 4], wl.apply_u8(f64::from(v)), "pixel {n}");
        }
        img.hu.truncate(10);
        let r = render_slice_image(&img, &lut);
        assert_eq!(r.pixels.len(), width * height * 4);
        assert_eq!(r.pixels[9 * 4], wl.apply_u8(f64::from(img.hu[9])));
        assert_eq!(&r.pixels[10 * 4..10 * 4 + 4], &[0, 0, 0, 255]);
    }
}
