//! The orbit camera of the 3-D view: a target point, two angles and a distance, perspective.
//! At yaw = pitch = 0 it looks from the patient's front (anterior) with the head up and the
//! patient's left on the right of the screen, as a radiologist faces the patient.

use nalgebra::{Matrix4, Vector3};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Camera {
    pub target_lps: Vector3<f64>,
    /// Rotation about the patient's S axis (positive: the eye moves towards the patient's left).
    pub yaw_rad: f64,
    /// Elevation (positive: the eye moves towards the head).
    pub pitch_rad: f64,
    pub distance_mm: f64,
    pub fov_y_rad: f64,
}

const MAX_PITCH: f64 = 1.55;
/// Radians per screen point of an orbit drag.
const ORBIT_RAD_PER_POINT: f64 = 0.008;

impl Default for Camera {
    fn default() -> Self {
        Self {
            target_lps: Vector3::zeros(),
            yaw_rad: 0.0,
            pitch_rad: 0.0,
            distance_mm: 300.0,
            fov_y_rad: 30f64.to_radians(),
        }
    }
}

impl Camera {
    /// A camera looking from the front at the box `lo..hi` (LPS mm), which fills the view.
    pub fn fitted(lo: [f32; 3], hi: [f32; 3]) -> Self {
        let mut c = Self::default();
        c.fit(lo, hi);
        c
    }

    /// Aims at the box's centre from a distance at which its bounding sphere fits the view.
    pub fn fit(&mut self, lo: [f32; 3], hi: [f32; 3]) {
        let lo = Vector3::new(lo[0] as f64, lo[1] as f64, lo[2] as f64);
        let hi = Vector3::new(hi[0] as f64, hi[1] as f64, hi[2] as f64);
        self.target_lps = (lo + hi) / 2.0;
        let radius = ((hi - lo).norm() / 2.0).max(5.0);
        self.distance_mm = radius / (self.fov_y_rad / 2.0).sin() * 1.05;
    }

    /// Unit vector from the target towards the eye.
    fn back(&self) -> Vector3<f64> {
        let (sy, cy) = self.yaw_rad.sin_cos();
        let (sp, cp) = self.pitch_rad.sin_cos();
        Vector3::new(sy * cp, -cy * cp, sp)
    }

    pub fn eye(&self) -> Vector3<f64> {
        self.target_lps + self.back() * self.distance_mm
    }

    /// (right, up, forward) unit vectors of the screen in LPS.
    pub fn basis(&self) -> (Vector3<f64>, Vector3<f64>, Vector3<f64>) {
        let forward = -self.back();
        let right = forward.cross(&Vector3::z()).normalize();
        let up = right.cross(&forward);
        (right, up, forward)
    }

    /// World (LPS) → view space (x right, y up, looking down −z).
    pub fn view_matrix(&self) -> Matrix4<f64> {
        let (r, u, f) = self.basis();
        let e = self.eye();
        Matrix4::new(
            r.x,
            r.y,
            r.z,
            -r.dot(&e), //
            u.x,
            u.y,
            u.z,
            -u.dot(&e), //
            -f.x,
            -f.y,
            -f.z,
            f.dot(&e), //
            0.0,
            0.0,
            0.0,
            1.0,
        )
    }

    /// Near and far planes around the target (depth 0..1 between them, as wgpu expects).
    fn near_far(&self) -> (f64, f64) {
        (self.distance_mm * 0.02, self.distance_mm * 4.0)
    }

    pub fn projection(&self, aspect: f64) -> Matrix4<f64> {
        let f = 1.0 / (self.fov_y_rad / 2.0).tan();
        let (n, fa) = self.near_far();
        let aspect = if aspect.is_finite() && aspect > 0.0 {
            aspect
        } else {
            1.0
        };
        Matrix4::new(
            f / aspect,
            0.0,
            0.0,
            0.0, //
            0.0,
            f,
            0.0,
            0.0, //
            0.0,
            0.0,
            fa / (n - fa),
            n * fa / (n - fa), //
            0.0,
            0.0,
            -1.0,
            0.0,
        )
    }

    /// LPS → clip space for a viewport of this aspect (width / height).
    pub fn view_projection(&self, aspect: f64) -> Matrix4<f64> {
        self.projection(aspect) * self.view_matrix()
    }

    /// Pixel position (x right, y down, pixel centres at +0.5) and depth (0..1) of an LPS
    /// point in a `width` × `height` image; `None` behind the eye.
    pub fn project(&self, p_lps: Vector3<f64>, width: f64, height: f64) -> Option<(f64, f64, f64)> {
        let c = self.view_projection(width / height) * p_lps.push(1.0);
        if c.w <= 1e-9 {
            return None;
        }
        let (x, y, z) = (c.x / c.w, c.y / c.w, c.z / c.w);
        Some(((x + 1.0) / 2.0 * width, (1.0 - y) / 2.0 * height, z))
    }

    /// The ray (origin, unit direction) through pixel position (x, y).
    pub fn ray(&self, x: f64, y: f64, width: f64, height: f64) -> (Vector3<f64>, Vector3<f64>) {
        let (r, u, f) = self.basis();
        let t = (self.fov_y_rad / 2.0).tan();
        let ndc_x = 2.0 * x / width - 1.0;
        let ndc_y = 1.0 - 2.0 * y / height;
        let d = f + r * (ndc_x * t * width / height) + u * (ndc_y * t);
        (self.eye(), d.normalize())
    }

    /// Rotates by a drag of (dx, dy) screen points: right turns the scene to the right, down
    /// tilts the top towards the viewer.
    pub fn orbit(&mut self, dx_points: f64, dy_points: f64) {
        self.yaw_rad = (self.yaw_rad - dx_points * ORBIT_RAD_PER_POINT).rem_euclid(std::f64::consts::TAU);
        self.pitch_rad = (self.pitch_rad + dy_points * ORBIT_RAD_PER_POINT).clamp(-MAX_PITCH, MAX_PITCH);
    }

    /// Moves the target so the scene follows a drag of (dx, dy) points in a view `height`
    /// points tall.
    pub fn pan(&mut self, dx_points: f64, dy_points: f64, height_points: f64) {
        let (r, u, _) = self.basis();
        let mm_per_point = 2.0 * self.distance_mm * (self.fov_y_rad / 2.0).tan() / height_points.max(1.0);
        self.target_lps += (-r * dx_points + u * dy_points) * mm_per_point;
    }

    /// Zooms in by `factor` (> 1 closer).
    pub fn zoom(&mut self, factor: f64) {
        if factor.is_finite() && factor > 0.0 {
            self.distance_mm = (self.distance_mm / factor).clamp(5.0, 5000.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_view_is_anterior_with_the_patients_left_on_the_right_and_the_head_up() {
        let c = Camera {
            target_lps: Vector3::new(10.0, 20.0, 30.0),
            ..Camera::default()
        };
        let (w, h) = (200.0, 100.0);
        let (cx, cy, _) = c.project(c.target_lps, w, h).expect("in front");
        assert!(
            (cx - 100.0).abs() < 1e-9 && (cy - 50.0).abs() < 1e-9,
            "target at the centre"
        );
        let (lx, _, _) = c
            .project(c.target_lps + Vector3::x() * 10.0, w, h)
            .expect("in front");
        assert!(lx > cx, "patient left (+x) is on the screen's right");
        let (_, sy, _) = c
            .project(c.target_lps + Vector3::z() * 10.0, w, h)
            .expect("in front");
        assert!(sy < cy, "superior (+z) is up");
        let (_, _, near) = c
            .project(c.target_lps - Vector3::y() * 10.0, w, h)
            .expect("in front");
        let (_, _, far) = c
            .project(c.target_lps + Vector3::y() * 10.0, w, h)
            .expect("in front");
        assert!(near < far, "anterior (−y) is nearer the viewer");
    }

    #[test]
    fn a_pixels_ray_passes_through_the_points_projected_there() {
        let mut c = Camera::fitted([0.0, 0.0, 0.0], [50.0, 40.0, 30.0]);
        c.orbit(40.0, -25.0);
        let p = Vector3::new(12.0, 33.0, 7.0);
        let (x, y, _) = c.project(p, 640.0, 480.0).expect("in front");
        let (o, d) = c.ray(x, y, 640.0, 480.0);
        let along = (p - o).dot(&d);
        assert!(((o + d * along) - p).norm() < 1e-6);
    }
}
