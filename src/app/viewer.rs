//! Viewer state of the three MPR views: linked crosshair, per-view zoom and pan, window/level,
//! rulers. Plain data and pure maths (no egui types), so it is unit-tested without a window.

use crate::geometry::{PatientPos, VoxelPos};
use crate::volume::{SliceMapping, ViewKind, Volume};
use nalgebra::Vector3;

/// Window (width) and level (centre) in HU — the renderer's type, so screen and exports agree.
pub use crate::render::WindowLevel as Window;

/// The narrowest window the viewer allows (the DICOM minimum).
pub const MIN_WINDOW_WIDTH_HU: f64 = 1.0;

/// Window/level drag: right widens, down raises the level (OHIF convention).
/// The sensitivity scales with the current width so both narrow and bone windows feel right.
pub fn drag_window(w: Window, dx_points: f64, dy_points: f64) -> Window {
    let k = (w.width_hu / 300.0).clamp(0.5, 8.0);
    Window {
        center_hu: (w.center_hu + dy_points * k).clamp(-2000.0, 5000.0),
        width_hu: (w.width_hu + dx_points * 2.0 * k).clamp(MIN_WINDOW_WIDTH_HU, 8000.0),
    }
}

/// Per-view zoom and pan. `zoom = 1` fits the whole slice in the view.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewState {
    pub zoom: f64,
    /// Offset of the image centre from the view centre, in screen points.
    pub pan: [f64; 2],
}

impl Default for ViewState {
    fn default() -> Self {
        Self {
            zoom: 1.0,
            pan: [0.0, 0.0],
        }
    }
}

pub const MIN_ZOOM: f64 = 0.1;
pub const MAX_ZOOM: f64 = 40.0;

/// A distance measurement on one slice of one view, stored in LPS mm.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ruler {
    pub view: ViewKind,
    pub slice: usize,
    pub a_lps: PatientPos,
    pub b_lps: PatientPos,
}

impl Ruler {
    pub fn length_mm(&self) -> f64 {
        (self.b_lps - self.a_lps).norm()
    }
}

/// Maps between image pixels of a slice and screen points in a view rectangle, keeping the
/// physical aspect (mm) of non-square pixels and anisotropic slices.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewTransform {
    /// Screen position of the image's top-left corner.
    pub origin: [f64; 2],
    /// Screen points per image pixel, horizontally and vertically.
    pub scale: [f64; 2],
    /// Screen points per millimetre.
    pub points_per_mm: f64,
}

impl ViewTransform {
    /// `rect` = (min x, min y, width, height) in points.
    pub fn new(rect: [f64; 4], mapping: &SliceMapping, state: &ViewState) -> Self {
        let w_mm = mapping.width as f64 * mapping.pixel_mm[0];
        let h_mm = mapping.height as f64 * mapping.pixel_mm[1];
        let fit = if w_mm > 0.0 && h_mm > 0.0 {
            (rect[2] / w_mm).min(rect[3] / h_mm)
        } else {
            1.0
        };
        let ppmm = fit * state.zoom;
        let centre = [
            rect[0] + rect[2] / 2.0 + state.pan[0],
            rect[1] + rect[3] / 2.0 + state.pan[1],
        ];
        Self {
            origin: [centre[0] - w_mm * ppmm / 2.0, centre[1] - h_mm * ppmm / 2.0],
            scale: [mapping.pixel_mm[0] * ppmm, mapping.pixel_mm[1] * ppmm],
            points_per_mm: ppmm,
        }
    }

    pub fn to_screen(&self, u: f64, v: f64) -> [f64; 2] {
        [
            self.origin[0] + u * self.scale[0],
            self.origin[1] + v * self.scale[1],
        ]
    }

    pub fn to_image(&self, p: [f64; 2]) -> (f64, f64) {
        (
            (p[0] - self.origin[0]) / self.scale[0],
            (p[1] - self.origin[1]) / self.scale[1],
        )
    }
}

/// The part of the image seen in the view rectangle `rect` (min x, min y, width, height in
/// points) at `state`'s zoom and pan, in image pixels `[u0, v0, u1, v1]` clipped to the image;
/// `None` when the image is panned out of sight.
pub fn visible_crop(rect: [f64; 4], mapping: &SliceMapping, state: &ViewState) -> Option<[f64; 4]> {
    let xf = ViewTransform::new(rect, mapping, state);
    let (u0, v0) = xf.to_image([rect[0], rect[1]]);
    let (u1, v1) = xf.to_image([rect[0] + rect[2], rect[1] + rect[3]]);
    let (w, h) = (mapping.width as f64, mapping.height as f64);
    let c = [u0.max(0.0), v0.max(0.0), u1.min(w), v1.min(h)];
    (c.iter().all(|x| x.is_finite()) && c[2] > c[0] && c[3] > c[1]).then_some(c)
}

/// State of the viewer for one loaded volume.
#[derive(Clone, Debug)]
pub struct Viewer {
    /// The linked crosshair, a continuous voxel position; each view shows the slice through it.
    pub crosshair: VoxelPos,
    pub views: [ViewState; 3],
    pub window: Window,
    /// Name of the preset the window came from (None after a manual drag).
    pub window_label: Option<String>,
    pub active: ViewKind,
    pub rulers: Vec<Ruler>,
}

pub fn view_slot(view: ViewKind) -> usize {
    match view {
        ViewKind::Axial => 0,
        ViewKind::Coronal => 1,
        ViewKind::Sagittal => 2,
    }
}

impl Viewer {
    /// Crosshair at the volume centre, fitted views, the DICOM default window if present.
    pub fn new(volume: &Volume, fallback: Window, fallback_label: &str) -> Self {
        let d = volume.geometry.dims;
        let crosshair = Vector3::new(
            (d[0] as f64 - 1.0) / 2.0,
            (d[1] as f64 - 1.0) / 2.0,
            ((d[2] as f64 - 1.0) / 2.0).round(),
        );
        let (window, window_label) = match volume.meta.default_window {
            Some((c, w)) if w >= MIN_WINDOW_WIDTH_HU && c.is_finite() && w.is_finite() => (
                Window {
                    center_hu: c,
                    width_hu: w,
                },
                Some("DICOM default".to_string()),
            ),
            _ => (fallback, Some(fallback_label.to_string())),
        };
        Self {
            crosshair,
            views: [ViewState::default(); 3],
            window,
            window_label,
            active: ViewKind::Axial,
            rulers: Vec::new(),
        }
    }

    pub fn view(&self, v: ViewKind) -> &ViewState {
        &self.views[view_slot(v)]
    }

    pub fn view_mut(&mut self, v: ViewKind) -> &mut ViewState {
        &mut self.views[view_slot(v)]
    }

    /// The slice index a view shows (the crosshair's coordinate along its normal).
    pub fn slice_index(&self, m: &SliceMapping) -> usize {
        let s = self.crosshair[m.normal_axis].round();
        if s.is_finite() && s > 0.0 {
            (s as usize).min(m.slice_count.saturating_sub(1))
        } else {
            0
        }
    }

    /// Move a view by `delta` slices (clamped to the volume), keeping the other coordinates.
    pub fn scroll(&mut self, m: &SliceMapping, delta: i64) {
        let cur = self.slice_index(m) as i64;
        let last = m.slice_count.saturating_sub(1) as i64;
        self.crosshair[m.normal_axis] = (cur + delta).clamp(0, last) as f64;
    }

    /// Set the crosshair from a click in a view: in-plane coordinates move, the view's own
    /// slice stays.
    pub fn set_crosshair_in_view(&mut self, m: &SliceMapping, u: f64, v: f64, dims: [usize; 3]) {
        let slice = self.slice_index(m) as f64;
        let vox = m.voxel_of_pixel(u, v, slice);
        for ax in 0..3 {
            let max = dims[ax].saturating_sub(1) as f64;
            self.crosshair[ax] = vox[ax].clamp(0.0, max);
        }
    }

    /// Zoom a view by `factor` keeping the image point under `anchor` (screen) fixed.
    pub fn zoom_about(&mut self, view: ViewKind, factor: f64, anchor_from_centre: [f64; 2]) {
        let s = self.view_mut(view);
        let new_zoom = (s.zoom * factor).clamp(MIN_ZOOM, MAX_ZOOM);
        let f = new_zoom / s.zoom;
        // p = centre + pan + q*zoom; keep p fixed: pan' = a - (a - pan) * f
        s.pan = [
            anchor_from_centre[0] - (anchor_from_centre[0] - s.pan[0]) * f,
            anchor_from_centre[1] - (anchor_from_centre[1] - s.pan[1]) * f,
        ];
        s.zoom = new_zoom;
    }

    pub fn reset_views(&mut self) {
        self.views = [ViewState::default(); 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::VolumeGeometry;
    use crate::volume::VolumeMeta;
    use nalgebra::Point3;

    fn vol() -> Volume {
        let g = VolumeGeometry::axis_aligned([40, 30, 10], [0.5, 0.5, 3.0], Point3::origin());
        Volume::new(g, vec![0; 40 * 30 * 10], VolumeMeta::default()).unwrap()
    }

    #[test]
    fn scroll_clamps_to_volume() {
        let v = vol();
        let mut viewer = Viewer::new(
            &v,
            Window {
                center_hu: 40.0,
                width_hu: 400.0,
            },
            "Soft tissue",
        );
        let m = v.view_mapping(ViewKind::Axial);
        viewer.scroll(&m, 100);
        assert_eq!(viewer.slice_index(&m), 9);
        viewer.scroll(&m, -3);
        assert_eq!(viewer.slice_index(&m), 6);
        viewer.scroll(&m, -100);
        assert_eq!(viewer.slice_index(&m), 0);
    }

    #[test]
    fn coronal_keeps_physical_aspect() {
        let v = vol();
        let m = v.view_mapping(ViewKind::Coronal);
        let t = ViewTransform::new([0.0, 0.0, 400.0, 400.0], &m, &ViewState::default());
        // 40 px * 0.5 mm = 20 mm wide, 10 slices * 3 mm = 30 mm high: height-limited.
        assert!(
            (t.scale[1] / t.scale[0] - 6.0).abs() < 1e-12,
            "3 mm vs 0.5 mm pixels"
        );
        assert!((t.points_per_mm - 400.0 / 30.0).abs() < 1e-9);
    }

    #[test]
    fn the_visible_crop_is_what_the_view_shows() {
        let v = vol();
        let m = v.view_mapping(ViewKind::Axial);
        let rect = [10.0, 20.0, 400.0, 400.0];
        // Fitted: the whole image.
        let whole = visible_crop(rect, &m, &ViewState::default()).unwrap();
        assert_eq!(whole, [0.0, 0.0, m.width as f64, m.height as f64]);
        // Zoomed 4×: fitted, 20 mm of width filled 400 points; now 5 mm, i.e. 10 pixels of
        // 0.5 mm each way around the image centre.
        let zoomed = ViewState {
            zoom: 4.0,
            pan: [0.0, 0.0],
        };
        let c = visible_crop(rect, &m, &zoomed).unwrap();
        let (w, h) = (m.width as f64, m.height as f64);
        for (got, want) in c
            .iter()
            .zip([w / 2.0 - 5.0, h / 2.0 - 5.0, w / 2.0 + 5.0, h / 2.0 + 5.0])
        {
            assert!((got - want).abs() < 1e-9, "{c:?}");
        }
        // Panned right by a quarter of the view: the crop moves left in the image.
        let panned = ViewState {
            zoom: 4.0,
            pan: [100.0, 0.0],
        };
        let p = visible_crop(rect, &m, &panned).unwrap();
        assert!(p[0] < c[0] && p[2] < c[2]);
        // Panned out of sight: nothing.
        let gone = ViewState {
            zoom: 1.0,
            pan: [5000.0, 0.0],
        };
        assert_eq!(visible_crop(rect, &m, &gone), None);
    }

    #[test]
    fn zoom_keeps_anchor_fixed() {
        let v = vol();
        let m = v.view_mapping(ViewKind::Axial);
        let mut viewer = Viewer::new(
            &v,
            Window {
                center_hu: 40.0,
                width_hu: 400.0,
            },
            "x",
        );
        let rect = [0.0, 0.0, 300.0, 200.0];
        let anchor = [220.0, 40.0];
        let before = ViewTransform::new(rect, &m, viewer.view(ViewKind::Axial)).to_image(anchor);
        viewer.zoom_about(ViewKind::Axial, 2.5, [anchor[0] - 150.0, anchor[1] - 100.0]);
        let after = ViewTransform::new(rect, &m, viewer.view(ViewKind::Axial)).to_image(anchor);
        assert!((before.0 - after.0).abs() < 1e-9 && (before.1 - after.1).abs() < 1e-9);
    }

    #[test]
    fn click_moves_crosshair_in_plane_only() {
        let v = vol();
        let m = v.view_mapping(ViewKind::Axial);
        let mut viewer = Viewer::new(
            &v,
            Window {
                center_hu: 40.0,
                width_hu: 400.0,
            },
            "x",
        );
        let k = viewer.crosshair.z;
        viewer.set_crosshair_in_view(&m, 10.5, 3.5, v.geometry.dims);
        assert_eq!(
            (viewer.crosshair.x, viewer.crosshair.y, viewer.crosshair.z),
            (10.0, 3.0, k)
        );
    }

    #[test]
    fn window_drag_never_below_one_hu() {
        let w = drag_window(
            Window {
                center_hu: 40.0,
                width_hu: 10.0,
            },
            -1e6,
            0.0,
        );
        assert_eq!(w.width_hu, MIN_WINDOW_WIDTH_HU);
    }

    #[test]
    fn dicom_default_window_is_used() {
        let mut v = vol();
        v.meta.default_window = Some((60.0, 360.0));
        let viewer = Viewer::new(
            &v,
            Window {
                center_hu: 40.0,
                width_hu: 400.0,
            },
            "x",
        );
        assert_eq!(
            viewer.window,
            Window {
                center_hu: 60.0,
                width_hu: 360.0
            }
        );
        assert_eq!(viewer.window_label.as_deref(), Some("DICOM default"));
    }
}
