//! Renders the demo case through the window/level LUT: pixel values at known anatomy,
//! orientation on screen, and a PNG round trip. Set `ABLAPLAN_SNAPSHOT_DIR` to keep the
//! rendered axial / coronal / sagittal PNGs for a visual check.

use ablaplan::demo::{demo_anatomy, demo_volume};
use ablaplan::render::{RgbaImage, WindowLevel, WlLut, render_slice, render_slice_image, save_png};
use ablaplan::volume::ViewKind;
use nalgebra::Point3;

#[test]
fn demo_slices_render_with_the_default_window() {
    let v = demo_volume();
    let a = demo_anatomy();
    let (c, w) = v.meta.default_window.unwrap();
    let wl = WindowLevel::new(c, w);
    let lut = WlLut::new(wl);
    let node = Point3::from(a.node.center_lps);
    let vox = v.geometry.to_voxel(&node);
    let mut buf = Vec::new();
    for view in ViewKind::ALL {
        let m = v.view_mapping(view);
        let index = vox[m.normal_axis].round() as usize;
        let slice = v.slice(view, index);
        render_slice(&slice, &lut, &mut buf);
        assert_eq!(buf.len(), slice.width * slice.height * 4);
        // Every pixel is the LUT of its HU, opaque gray.
        for (px, &hu) in buf.chunks_exact(4).zip(&slice.hu) {
            assert_eq!(px, &[lut.get(hu), lut.get(hu), lut.get(hu), 255]);
        }
        // Air in the top-left corner is black, the node's centre mid-gray.
        assert_eq!(buf[0], 0);
        let (u, w_, _) = m.pixel_of_voxel(&vox);
        let at = |u: f64, w: f64| buf[((w.floor() as usize) * slice.width + u.floor() as usize) * 4];
        let g = at(u, w_);
        assert!((110..=160).contains(&g), "{view:?}: node pixel {g}");
        if let Ok(dir) = std::env::var("ABLAPLAN_SNAPSHOT_DIR") {
            let img = render_slice_image(&slice, &lut);
            save_png(
                std::path::Path::new(&dir).join(format!("demo_{}.png", view.name())),
                &img,
            )
            .unwrap();
        }
    }
    // Axial: patient left (the node, x > 0) is on the screen's right half.
    let m = v.view_mapping(ViewKind::Axial);
    let (u, _, _) = m.pixel_of_voxel(&vox);
    assert!(u > m.width as f64 / 2.0);
}

#[test]
fn png_of_a_rendered_slice_round_trips() {
    let v = demo_volume();
    let slice = v.slice(ViewKind::Axial, 64);
    let img = render_slice_image(&slice, &WlLut::new(WindowLevel::new(40.0, 400.0)));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("axial.png");
    img.save_png(&path).unwrap();
    let back = image::open(&path).unwrap().to_rgba8();
    assert_eq!(back.dimensions(), (slice.width as u32, slice.height as u32));
    let back = RgbaImage::from_pixels(slice.width, slice.height, back.into_raw()).unwrap();
    assert_eq!(back, img);
}
