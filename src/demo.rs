//! The built-in demo case: a deterministic synthetic abdominal CT generated in code.
//!
//! [`demo_anatomy`] describes every structure analytically in LPS millimetres (supine,
//! head-first: x → patient left, y → posterior, z → superior); [`demo_volume`] rasterises
//! exactly that description into HU on [`demo_geometry`] (0.8 × 0.8 mm pixels, 2 mm slices),
//! with partial-volume edges and deterministic hash-based noise. Later features rasterise
//! masks (target, vessels, bowel, nerve) from the same [`DemoAnatomy`], and tests check
//! distances against it.
//!
//! HU values are typical portal-venous-phase abdominal CT values (textbook ranges, not
//! measured from a particular scan); they only have to look plausible in the viewer.
//!
//! Layout at the level of the lymph node (z ≈ −200 mm, mid-volume): lumbar vertebra at the
//! midline, aorta anterior-left of it, IVC to the right, a ≈ 20 mm node in the left
//! para-aortic space with ≈ 3.5 mm of fat to the aortic wall, the left psoas behind it with the
//! genitofemoral nerve on its anterior surface, and a gas-filled bowel loop ≈ 10 mm anterior.

use crate::geometry::VolumeGeometry;
use crate::volume::{Volume, VolumeMeta};
use nalgebra::{Matrix3, Point3};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Grid of the demo volume: 480 × 400 pixels × 130 slices.
pub const DEMO_DIMS: [usize; 3] = [480, 400, 130];
/// Column, row and slice spacing in mm.
pub const DEMO_SPACING_MM: [f64; 3] = [0.8, 0.8, 2.0];
/// LPS centre of voxel (0, 0, 0): the field of view (383.2 × 319.2 mm) is centred on x = y = 0
/// and the slices run from z = −328 mm (inferior) to z = −70 mm.
pub const DEMO_ORIGIN_LPS: [f64; 3] = [-191.6, -159.6, -328.0];

/// CT values are stored clamped to this range (the usual 12-bit scanner range).
const HU_MIN: f64 = -1024.0;
const HU_MAX: f64 = 3071.0;

/// The demo grid: standard supine head-first axial geometry (identity direction).
pub fn demo_geometry() -> VolumeGeometry {
    VolumeGeometry::axis_aligned(DEMO_DIMS, DEMO_SPACING_MM, Point3::from(DEMO_ORIGIN_LPS))
}

/// Header data of the demo series; every identifier is synthetic.
pub fn demo_meta() -> VolumeMeta {
    VolumeMeta {
        patient_name: "DEMO^Synthetic Abdomen".into(),
        patient_id: "DEMO-000000-FAKE".into(),
        patient_birth_date: String::new(),
        study_date: "20250101".into(),
        study_time: "120000".into(),
        study_description: "Synthetic abdomen (ablaplan demo, not a patient)".into(),
        series_description: "Synthetic CT abdomen 2.0 mm portal venous".into(),
        series_number: Some(1),
        modality: "CT".into(),
        institution: "ablaplan demo (synthetic data)".into(),
        study_instance_uid: "2.25.271828182845904523536028747135266249".into(),
        series_instance_uid: "2.25.271828182845904523536028747135266250".into(),
        frame_of_reference_uid: "2.25.271828182845904523536028747135266251".into(),
        slice_thickness_mm: Some(DEMO_SPACING_MM[2]),
        default_window: Some((40.0, 350.0)),
        patient_name_pn: "DEMO^Synthetic Abdomen".into(),
        ..VolumeMeta::default()
    }
}

/// The demo volume: [`demo_anatomy`] rasterised on [`demo_geometry`].
pub fn demo_volume() -> Volume {
    let anatomy = demo_anatomy();
    let geometry = demo_geometry();
    let hu = rasterise(&anatomy, &geometry);
    // Built from constants: dims, spacing and buffer length agree by construction.
    Volume {
        geometry,
        hu,
        meta: demo_meta(),
    }
}

// ---------------------------------------------------------------------------------------------
// Analytic description
// ---------------------------------------------------------------------------------------------

/// An axis-aligned ellipse in an axial plane (LPS x, y in mm).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ellipse2 {
    pub cx: f64,
    pub cy: f64,
    pub rx: f64,
    pub ry: f64,
}

impl Ellipse2 {
    /// Approximate signed distance in mm (negative inside): first-order estimate
    /// `(q − 1) / |∇q|` with `q` the ellipse norm. Exact on the axes and for circles, a lower
    /// bound of the true distance outside.
    pub fn signed_distance_mm(&self, x: f64, y: f64) -> f64 {
        let dx = x - self.cx;
        let dy = y - self.cy;
        let ux = dx / self.rx;
        let uy = dy / self.ry;
        let q = (ux * ux + uy * uy).sqrt();
        let gx = ux / self.rx;
        let gy = uy / self.ry;
        let g = (gx * gx + gy * gy).sqrt();
        if g < 1e-12 {
            -self.rx.min(self.ry)
        } else {
            (q - 1.0) * q / g
        }
    }

    pub fn contains(&self, x: f64, y: f64) -> bool {
        let ux = (x - self.cx) / self.rx;
        let uy = (y - self.cy) / self.ry;
        ux * ux + uy * uy <= 1.0
    }
}

/// One cross-section of an [`AxialTube`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TubeKnot {
    /// Centre of the axial cross-section (LPS mm).
    pub center_lps: [f64; 3],
    /// Semi-axes (x, y) of the axial cross-section in mm.
    pub semi_axes_mm: [f64; 2],
}

/// A tube whose axial cross-sections are ellipses, interpolated linearly in z between knots
/// (sorted by increasing z) and capped flat at the first and last knot. Vessels, muscles,
/// the body outline and the vertebral bodies use it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AxialTube {
    pub name: String,
    pub hu: f64,
    pub knots: Vec<TubeKnot>,
}

impl AxialTube {
    fn new(name: &str, hu: f64, knots: &[([f64; 3], [f64; 2])]) -> Self {
        Self {
            name: name.into(),
            hu,
            knots: knots
                .iter()
                .map(|(c, r)| TubeKnot {
                    center_lps: *c,
                    semi_axes_mm: *r,
                })
                .collect(),
        }
    }

    /// (lowest, highest) z covered, in mm.
    pub fn z_range(&self) -> (f64, f64) {
        let lo = self.knots.first().map_or(0.0, |k| k.center_lps[2]);
        let hi = self.knots.last().map_or(0.0, |k| k.center_lps[2]);
        (lo, hi)
    }

    /// Cross-section at `z`, clamped to the end knots (`None` only for a tube without knots).
    pub fn cross_section_clamped(&self, z: f64) -> Option<Ellipse2> {
        let first = self.knots.first()?;
        let mut e = knot_ellipse(first);
        for w in self.knots.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            let (za, zb) = (a.center_lps[2], b.center_lps[2]);
            if z <= za {
                break;
            }
            if z <= zb && zb > za {
                let t = (z - za) / (zb - za);
                let l = |p: f64, q: f64| p + (q - p) * t;
                e = Ellipse2 {
                    cx: l(a.center_lps[0], b.center_lps[0]),
                    cy: l(a.center_lps[1], b.center_lps[1]),
                    rx: l(a.semi_axes_mm[0], b.semi_axes_mm[0]),
                    ry: l(a.semi_axes_mm[1], b.semi_axes_mm[1]),
                };
                return Some(e);
            }
            e = knot_ellipse(b);
        }
        Some(e)
    }

    /// Cross-section at `z`, `None` outside the tube's z range.
    pub fn cross_section(&self, z: f64) -> Option<Ellipse2> {
        let (lo, hi) = self.z_range();
        if z < lo || z > hi {
            return None;
        }
        self.cross_section_clamped(z)
    }

    /// Signed distance beyond the flat end caps (negative between them).
    fn cap_distance_mm(&self, z: f64) -> f64 {
        let (lo, hi) = self.z_range();
        (lo - z).max(z - hi)
    }

    /// Approximate signed distance in mm (negative inside).
    pub fn signed_distance_mm(&self, p: [f64; 3]) -> f64 {
        let Some(e) = self.cross_section_clamped(p[2]) else {
            return f64::INFINITY;
        };
        let dxy = e.signed_distance_mm(p[0], p[1]);
        let dz = self.cap_distance_mm(p[2]);
        if dz > 0.0 && dxy > 0.0 {
            dxy.hypot(dz)
        } else {
            dxy.max(dz)
        }
    }

    pub fn contains(&self, p: [f64; 3]) -> bool {
        self.cross_section(p[2]).is_some_and(|e| e.contains(p[0], p[1]))
    }
}

fn knot_ellipse(k: &TubeKnot) -> Ellipse2 {
    Ellipse2 {
        cx: k.center_lps[0],
        cy: k.center_lps[1],
        rx: k.semi_axes_mm[0],
        ry: k.semi_axes_mm[1],
    }
}

/// An axis-aligned ellipsoid of homogeneous HU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ellipsoid {
    pub name: String,
    pub hu: f64,
    pub center_lps: [f64; 3],
    /// Semi-axes along LPS x, y, z in mm.
    pub semi_axes_mm: [f64; 3],
}

impl Ellipsoid {
    /// Approximate signed distance in mm (negative inside); see [`Ellipse2::signed_distance_mm`].
    pub fn signed_distance_mm(&self, p: [f64; 3]) -> f64 {
        let mut q2 = 0.0;
        let mut g2 = 0.0;
        for ((pa, ca), ra) in p.iter().zip(self.center_lps).zip(self.semi_axes_mm) {
            let u = (pa - ca) / ra;
            q2 += u * u;
            let g = u / ra;
            g2 += g * g;
        }
        let g = g2.sqrt();
        if g < 1e-12 {
            -self.semi_axes_mm.iter().copied().fold(f64::INFINITY, f64::min)
        } else {
            let q = q2.sqrt();
            (q - 1.0) * q / g
        }
    }

    pub fn contains(&self, p: [f64; 3]) -> bool {
        (0..3)
            .map(|a| ((p[a] - self.center_lps[a]) / self.semi_axes_mm[a]).powi(2))
            .sum::<f64>()
            <= 1.0
    }

    /// Surface point at polar angle `theta` (from +z) and azimuth `phi` (from +x).
    pub fn surface_point(&self, theta: f64, phi: f64) -> [f64; 3] {
        let c = self.center_lps;
        let r = self.semi_axes_mm;
        [
            c[0] + r[0] * theta.sin() * phi.cos(),
            c[1] + r[1] * theta.sin() * phi.sin(),
            c[2] + r[2] * theta.cos(),
        ]
    }
}

/// Body outline and abdominal wall: skin, subcutaneous fat (thicker anteriorly), a muscle
/// layer, and intra-abdominal fat filling the rest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Body {
    /// Outer skin surface (its `hu` is the subcutaneous fat value).
    pub outline: AxialTube,
    pub skin_mm: f64,
    pub skin_hu: f64,
    /// Subcutaneous fat thickness (skin included) at the anterior and posterior midline;
    /// interpolated linearly in y between them.
    pub fat_anterior_mm: f64,
    pub fat_posterior_mm: f64,
    pub muscle_mm: f64,
    pub muscle_hu: f64,
    pub visceral_fat_hu: f64,
}

impl Body {
    fn fat_mm(&self, e: &Ellipse2, y: f64) -> f64 {
        // -1 at the anterior skin, +1 at the posterior skin.
        let ny = ((y - e.cy) / e.ry).clamp(-1.0, 1.0);
        let a = self.fat_anterior_mm;
        let p = self.fat_posterior_mm;
        0.5 * (a + p) + 0.5 * (p - a) * ny
    }

    /// Approximate depth below the skin in mm (negative outside the body).
    pub fn depth_mm(&self, p: [f64; 3]) -> f64 {
        -self.outline.signed_distance_mm(p)
    }

    /// Inside the peritoneal / retroperitoneal cavity (deeper than the wall muscle).
    pub fn cavity_contains(&self, p: [f64; 3]) -> bool {
        match self.outline.cross_section(p[2]) {
            Some(e) => -e.signed_distance_mm(p[0], p[1]) > self.fat_mm(&e, p[1]) + self.muscle_mm,
            None => false,
        }
    }
}

/// The lumbar spine: vertebral bodies (cortical shell, cancellous core) with intervertebral
/// discs every `disc_period_mm`, the spinal canal, a bony arch around it, and spinous and
/// transverse processes in the middle part of each vertebral level.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spine {
    /// Vertebral body cross-section; its `hu` is the cancellous bone value.
    pub body: AxialTube,
    pub cortical_mm: f64,
    pub cortical_hu: f64,
    /// z of one disc centre; the others are at multiples of `disc_period_mm` from it.
    pub disc_z0_mm: f64,
    pub disc_period_mm: f64,
    pub disc_height_mm: f64,
    pub disc_hu: f64,
    /// Cortical endplate thickness next to each disc.
    pub endplate_mm: f64,
    /// Canal semi-axes (x, y); the canal sits `canal_gap_mm` behind the vertebral body.
    pub canal_semi_axes_mm: [f64; 2],
    pub canal_gap_mm: f64,
    pub canal_hu: f64,
    /// Thickness of the bony ring (pedicles, laminae) around the canal.
    pub arch_mm: f64,
    pub posterior_elements_hu: f64,
    /// Posterior reach of the spinous process measured from the canal centre.
    pub spinous_reach_mm: f64,
    pub spinous_half_width_mm: f64,
    /// Half span (from the midline) and half thickness (in y) of the transverse processes.
    pub transverse_half_span_mm: f64,
    pub transverse_half_thickness_mm: f64,
    /// Processes exist from this far above a disc centre ...
    pub process_from_mm: f64,
    /// ... to this far above it.
    pub process_to_mm: f64,
}

impl Spine {
    /// z of the disc centre nearest to `z`.
    pub fn nearest_disc_z(&self, z: f64) -> f64 {
        let n = ((z - self.disc_z0_mm) / self.disc_period_mm).round();
        self.disc_z0_mm + n * self.disc_period_mm
    }

    /// Centre of the spinal canal at `z` (x, y).
    pub fn canal_at(&self, z: f64) -> Option<Ellipse2> {
        let e = self.body.cross_section_clamped(z)?;
        Some(Ellipse2 {
            cx: e.cx,
            cy: e.cy + e.ry + self.canal_gap_mm + self.canal_semi_axes_mm[1],
            rx: self.canal_semi_axes_mm[0],
            ry: self.canal_semi_axes_mm[1],
        })
    }

    /// Centres of the vertebral bodies (mid-way between discs) within the tube's z range.
    pub fn vertebral_body_centers(&self) -> Vec<[f64; 3]> {
        let (lo, hi) = self.body.z_range();
        let mut out = Vec::new();
        let n0 = ((lo - self.disc_z0_mm) / self.disc_period_mm).floor() as i64;
        let n1 = ((hi - self.disc_z0_mm) / self.disc_period_mm).ceil() as i64;
        for n in n0..=n1 {
            let z = self.disc_z0_mm + (n as f64 + 0.5) * self.disc_period_mm;
            if z >= lo
                && z <= hi
                && let Some(e) = self.body.cross_section(z)
            {
                out.push([e.cx, e.cy, z]);
            }
        }
        out
    }
}

/// A kidney: an ellipsoid with a cortex of `cortex_mm` and a medulla / sinus core.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Kidney {
    /// Outer surface; its `hu` is the cortex value.
    pub outer: Ellipsoid,
    pub cortex_mm: f64,
    pub medulla_hu: f64,
}

/// A bowel loop: a tube of radius `tube_radius_mm` around a circular arc (a torus segment
/// with rounded ends). The arc is `center + R (cos θ u + sin θ v)` for θ in
/// `[theta_start_rad, theta_start_rad + theta_sweep_rad]`. The wall is `wall_mm` thick; the
/// lumen holds fluid where LPS y > `fluid_level_y_mm` (dependent part, patient supine) and gas
/// elsewhere.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BowelLoop {
    pub name: String,
    pub center_lps: [f64; 3],
    pub u_axis: [f64; 3],
    pub v_axis: [f64; 3],
    pub major_radius_mm: f64,
    pub tube_radius_mm: f64,
    pub wall_mm: f64,
    pub theta_start_rad: f64,
    pub theta_sweep_rad: f64,
    pub fluid_level_y_mm: f64,
    pub wall_hu: f64,
    pub gas_hu: f64,
    pub fluid_hu: f64,
}

impl BowelLoop {
    fn normal(&self) -> [f64; 3] {
        cross(self.u_axis, self.v_axis)
    }

    /// A point of the centre line at angle `theta` (rad).
    pub fn centerline_point(&self, theta: f64) -> [f64; 3] {
        let (s, c) = theta.sin_cos();
        let r = self.major_radius_mm;
        std::array::from_fn(|a| self.center_lps[a] + r * (c * self.u_axis[a] + s * self.v_axis[a]))
    }

    /// Distance in mm from `p` to the centre line (the arc).
    pub fn distance_to_centerline_mm(&self, p: [f64; 3]) -> f64 {
        let q = sub(p, self.center_lps);
        let a = dot(q, self.u_axis);
        let b = dot(q, self.v_axis);
        let h = dot(q, self.normal());
        let theta = b.atan2(a);
        let t = (theta - self.theta_start_rad).rem_euclid(2.0 * PI);
        if t <= self.theta_sweep_rad {
            let rho = a.hypot(b);
            (rho - self.major_radius_mm).hypot(h)
        } else {
            let e0 = self.centerline_point(self.theta_start_rad);
            let e1 = self.centerline_point(self.theta_start_rad + self.theta_sweep_rad);
            norm(sub(p, e0)).min(norm(sub(p, e1)))
        }
    }

    /// Signed distance to the outer wall surface in mm (negative inside the bowel).
    pub fn signed_distance_mm(&self, p: [f64; 3]) -> f64 {
        self.distance_to_centerline_mm(p) - self.tube_radius_mm
    }

    pub fn contains(&self, p: [f64; 3]) -> bool {
        self.signed_distance_mm(p) <= 0.0
    }

    /// Inside the lumen (gas or fluid), i.e. deeper than the wall.
    pub fn lumen_contains(&self, p: [f64; 3]) -> bool {
        self.distance_to_centerline_mm(p) <= self.tube_radius_mm - self.wall_mm
    }

    /// LPS bounding box (min, max) of the whole loop.
    pub fn bounding_box(&self) -> ([f64; 3], [f64; 3]) {
        let n = self.normal();
        let big = self.major_radius_mm + self.tube_radius_mm;
        let mut lo = [0.0; 3];
        let mut hi = [0.0; 3];
        for a in 0..3 {
            let ext = (self.u_axis[a].abs() + self.v_axis[a].abs()) * big + n[a].abs() * self.tube_radius_mm;
            lo[a] = self.center_lps[a] - ext;
            hi[a] = self.center_lps[a] + ext;
        }
        (lo, hi)
    }
}

/// A nerve as a polyline of LPS points (not visible in HU).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Nerve {
    pub name: String,
    /// Nominal radius for mask rasterisation.
    pub radius_mm: f64,
    pub polyline_lps: Vec<[f64; 3]>,
}

impl Nerve {
    /// Distance in mm from `p` to the polyline (its centre line).
    pub fn distance_to_mm(&self, p: [f64; 3]) -> f64 {
        match self.polyline_lps.as_slice() {
            [] => f64::INFINITY,
            [only] => norm(sub(p, *only)),
            pts => pts
                .windows(2)
                .map(|w| point_segment_distance(p, w[0], w[1]))
                .fold(f64::INFINITY, f64::min),
        }
    }
}

/// Deterministic, position-hashed, approximately Gaussian noise (Irwin–Hall of four uniforms).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NoiseModel {
    pub sigma_hu: f64,
    pub seed: u64,
}

impl NoiseModel {
    /// Noise in HU for voxel (i, j, k): mean 0, standard deviation `sigma_hu`, |value| ≤ 2√3 σ.
    pub fn sample(&self, i: usize, j: usize, k: usize) -> f64 {
        let key = (i as u64) ^ ((j as u64) << 21) ^ ((k as u64) << 42);
        let h = splitmix64(self.seed ^ splitmix64(key));
        let mut s = 0.0;
        for n in 0..4 {
            s += ((h >> (16 * n)) & 0xFFFF) as f64 / 65535.0;
        }
        // Sum of four U(0, 1): mean 2, variance 1/3.
        (s - 2.0) * 3f64.sqrt() * self.sigma_hu
    }
}

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Every structure of the demo case, analytically, in LPS mm. The HU generator reads only this.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DemoAnatomy {
    pub air_hu: f64,
    pub body: Body,
    pub paraspinal_left: AxialTube,
    pub paraspinal_right: AxialTube,
    pub psoas_left: AxialTube,
    pub psoas_right: AxialTube,
    pub kidney_left: Kidney,
    pub kidney_right: Kidney,
    pub spine: Spine,
    pub ivc: AxialTube,
    pub iliac_veins: Vec<AxialTube>,
    pub aorta: AxialTube,
    pub iliac_arteries: Vec<AxialTube>,
    pub bowel: BowelLoop,
    /// The target: a left para-aortic lymph node.
    pub node: Ellipsoid,
    /// Genitofemoral nerve on the anterior surface of the left psoas.
    pub nerve: Nerve,
    pub noise: NoiseModel,
    /// Width in mm of the linear partial-volume ramp across every edge.
    pub partial_volume_ramp_mm: f64,
}

/// The demo anatomy (see the module documentation for the layout).
pub fn demo_anatomy() -> DemoAnatomy {
    let body = Body {
        outline: AxialTube::new(
            "Body",
            -100.0,
            &[
                ([0.0, 4.0, -340.0], [170.0, 126.0]),
                ([0.0, 5.0, -200.0], [164.0, 123.0]),
                ([0.0, 4.0, -60.0], [158.0, 118.0]),
            ],
        ),
        skin_mm: 1.5,
        skin_hu: 40.0,
        fat_anterior_mm: 24.0,
        fat_posterior_mm: 12.0,
        muscle_mm: 11.0,
        muscle_hu: 50.0,
        visceral_fat_hu: -90.0,
    };
    let paraspinal = |s: f64, name: &str| {
        AxialTube::new(
            name,
            50.0,
            &[
                ([s * 35.0, 86.0, -340.0], [28.0, 20.0]),
                ([s * 34.0, 86.0, -60.0], [25.0, 18.0]),
            ],
        )
    };
    // The psoas grows and moves lateral / anterior caudally.
    let psoas = |s: f64, name: &str| {
        AxialTube::new(
            name,
            45.0,
            &[
                ([s * 62.0, 24.0, -340.0], [22.0, 17.0]),
                ([s * 52.0, 29.0, -260.0], [18.0, 15.0]),
                ([s * 44.0, 33.0, -200.0], [14.0, 12.0]),
                ([s * 38.0, 38.0, -150.0], [10.0, 8.5]),
                ([s * 34.0, 42.0, -90.0], [6.0, 5.0]),
            ],
        )
    };
    let psoas_left = psoas(1.0, "Psoas L");
    let kidney = |name: &str, c: [f64; 3]| Kidney {
        outer: Ellipsoid {
            name: name.into(),
            hu: 150.0,
            center_lps: c,
            semi_axes_mm: [26.0, 22.0, 50.0],
        },
        cortex_mm: 6.0,
        medulla_hu: 30.0,
    };
    let spine = Spine {
        body: AxialTube::new(
            "Vertebral bodies",
            250.0,
            &[
                ([0.0, 33.0, -340.0], [25.0, 17.0]),
                ([0.0, 36.0, -200.0], [22.0, 16.0]),
                ([0.0, 38.0, -60.0], [19.0, 14.0]),
            ],
        ),
        cortical_mm: 1.6,
        cortical_hu: 850.0,
        disc_z0_mm: -216.0,
        disc_period_mm: 32.0,
        disc_height_mm: 8.0,
        disc_hu: 80.0,
        endplate_mm: 1.5,
        canal_semi_axes_mm: [11.0, 8.0],
        canal_gap_mm: 2.0,
        canal_hu: 20.0,
        arch_mm: 5.0,
        posterior_elements_hu: 600.0,
        spinous_reach_mm: 40.0,
        spinous_half_width_mm: 3.5,
        transverse_half_span_mm: 42.0,
        transverse_half_thickness_mm: 4.0,
        process_from_mm: 9.0,
        process_to_mm: 24.0,
    };
    let aorta = AxialTube::new(
        "Aorta",
        250.0,
        &[
            ([15.0, 7.0, -282.0], [10.0, 10.0]),
            ([17.5, 4.0, -200.0], [11.0, 11.0]),
            ([16.0, 2.0, -60.0], [11.5, 11.5]),
        ],
    );
    let iliac_arteries = vec![
        AxialTube::new(
            "Common iliac artery L",
            240.0,
            &[
                ([48.0, 16.0, -340.0], [7.0, 6.0]),
                ([17.0, 8.0, -280.0], [7.0, 6.0]),
            ],
        ),
        AxialTube::new(
            "Common iliac artery R",
            240.0,
            &[
                ([-32.0, 14.0, -340.0], [7.5, 6.0]),
                ([12.0, 8.0, -280.0], [7.5, 6.0]),
            ],
        ),
    ];
    let ivc = AxialTube::new(
        "IVC",
        165.0,
        &[
            ([-20.0, 10.0, -290.0], [12.0, 9.0]),
            ([-22.0, 6.0, -200.0], [12.5, 9.0]),
            ([-23.0, 5.0, -60.0], [13.0, 9.5]),
        ],
    );
    let iliac_veins = vec![
        AxialTube::new(
            "Common iliac vein L",
            150.0,
            &[
                ([34.0, 20.0, -340.0], [8.0, 6.5]),
                ([-14.0, 11.0, -286.0], [8.0, 6.5]),
            ],
        ),
        AxialTube::new(
            "Common iliac vein R",
            150.0,
            &[
                ([-42.0, 20.0, -340.0], [8.5, 6.5]),
                ([-22.0, 11.0, -286.0], [8.5, 6.5]),
            ],
        ),
    ];
    let bowel = BowelLoop {
        name: "Bowel loop".into(),
        center_lps: [25.0, -33.0, -205.0],
        u_axis: [1.0, 0.0, 0.0],
        v_axis: [0.0, 0.0, 1.0],
        major_radius_mm: 38.0,
        tube_radius_mm: 15.0,
        wall_mm: 3.0,
        theta_start_rad: 145f64.to_radians(),
        theta_sweep_rad: 290f64.to_radians(),
        fluid_level_y_mm: -27.0,
        wall_hu: 40.0,
        gas_hu: -900.0,
        fluid_hu: 10.0,
    };
    // ≈ 20 mm left para-aortic node; 3.5 mm of fat between it and the aortic wall at z = −200.
    let node = Ellipsoid {
        name: "Lymph node (target)".into(),
        hu: 45.0,
        center_lps: [42.0, 4.0, -200.0],
        semi_axes_mm: [10.0, 8.5, 11.5],
    };
    // Genitofemoral nerve: emerges through the left psoas above the node and descends on its
    // anterior surface, 1 mm in front of it, a little medial of the muscle's midline.
    let mut polyline = Vec::new();
    if let Some(e) = psoas_left.cross_section(-168.0) {
        polyline.push([e.cx, e.cy - 0.4 * e.ry, -168.0]);
    }
    let mut z = -178.0;
    while z >= -330.0 {
        if let Some(e) = psoas_left.cross_section(z) {
            let a: f64 = 0.25; // fraction of rx medial of the midline
            let y = e.cy - e.ry * (1.0 - a * a).sqrt() - 1.0;
            polyline.push([e.cx - a * e.rx, y, z]);
        }
        z -= 6.0;
    }
    let nerve = Nerve {
        name: "Genitofemoral nerve L".into(),
        radius_mm: 1.5,
        polyline_lps: polyline,
    };
    DemoAnatomy {
        air_hu: -1000.0,
        body,
        paraspinal_left: paraspinal(1.0, "Erector spinae L"),
        paraspinal_right: paraspinal(-1.0, "Erector spinae R"),
        psoas_left,
        psoas_right: psoas(-1.0, "Psoas R"),
        kidney_left: kidney("Kidney L", [80.0, 58.0, -125.0]),
        kidney_right: kidney("Kidney R", [-78.0, 60.0, -140.0]),
        spine,
        ivc,
        iliac_veins,
        aorta,
        iliac_arteries,
        bowel,
        node,
        nerve,
        noise: NoiseModel {
            sigma_hu: 12.0,
            seed: 0x00AB_1A91_A2DE_0001,
        },
        partial_volume_ramp_mm: 1.0,
    }
}

// ---------------------------------------------------------------------------------------------
// Rasterisation
// ---------------------------------------------------------------------------------------------

/// Margin (mm) added around every bounding box; well beyond the partial-volume ramp.
const BBOX_MARGIN_MM: f64 = 4.0;

/// One structure resolved at one z: an axial bounding box and how it paints a pixel.
struct Layer<'a> {
    /// xmin, xmax, ymin, ymax (mm).
    bbox: [f64; 4],
    kind: LayerKind<'a>,
}

enum LayerKind<'a> {
    Body { body: &'a Body, e: Ellipse2 },
    Solid { e: Ellipse2, hu: f64, fz: f64 },
    Spine(Box<SpineSlice<'a>>),
    Kidney { k: &'a Kidney, z: f64 },
    Bowel { b: &'a BowelLoop, z: f64 },
    Ellipsoid { el: &'a Ellipsoid, z: f64 },
}

struct SpineSlice<'a> {
    s: &'a Spine,
    body: Ellipse2,
    canal: Ellipse2,
    /// Coverage of the disc, of disc + endplates, and of the processes at this z.
    f_disc: f64,
    f_end: f64,
    f_proc: f64,
    spinous: [f64; 4],
    transverse: [f64; 4],
}

#[inline]
fn cover(d: f64, ramp: f64) -> f64 {
    (0.5 - d / ramp).clamp(0.0, 1.0)
}

#[inline]
fn mix(v: f64, hu: f64, f: f64) -> f64 {
    v + (hu - v) * f
}

/// Signed distance to an axis-aligned box given as (cx, cy, half_x, half_y).
fn box_sd(b: &[f64; 4], x: f64, y: f64) -> f64 {
    let qx = (x - b[0]).abs() - b[2];
    let qy = (y - b[1]).abs() - b[3];
    let ox = qx.max(0.0);
    let oy = qy.max(0.0);
    ox.hypot(oy) + qx.max(qy).min(0.0)
}

fn ellipse_bbox(e: &Ellipse2) -> [f64; 4] {
    let m = BBOX_MARGIN_MM;
    [e.cx - e.rx - m, e.cx + e.rx + m, e.cy - e.ry - m, e.cy + e.ry + m]
}

impl Layer<'_> {
    fn contains_xy(&self, x: f64, y: f64) -> bool {
        x >= self.bbox[0] && x <= self.bbox[1] && y >= self.bbox[2] && y <= self.bbox[3]
    }

    #[inline]
    fn apply(&self, x: f64, y: f64, v: f64, ramp: f64) -> f64 {
        match &self.kind {
            LayerKind::Body { body, e } => {
                let d = e.signed_distance_mm(x, y);
                let fat = body.fat_mm(e, y);
                let mut v = mix(v, body.skin_hu, cover(d, ramp));
                v = mix(v, body.outline.hu, cover(d + body.skin_mm, ramp));
                v = mix(v, body.muscle_hu, cover(d + fat, ramp));
                mix(v, body.visceral_fat_hu, cover(d + fat + body.muscle_mm, ramp))
            }
            LayerKind::Solid { e, hu, fz } => mix(v, *hu, cover(e.signed_distance_mm(x, y), ramp) * fz),
            LayerKind::Spine(sl) => {
                let s = sl.s;
                let mut v = v;
                let db = sl.body.signed_distance_mm(x, y);
                let fb = cover(db, ramp);
                if fb > 0.0 {
                    let mut inner = mix(s.cortical_hu, s.body.hu, cover(db + s.cortical_mm, ramp));
                    inner = mix(inner, s.cortical_hu, sl.f_end);
                    inner = mix(inner, s.disc_hu, sl.f_disc);
                    v = mix(v, inner, fb);
                }
                let dc = sl.canal.signed_distance_mm(x, y);
                v = mix(v, s.posterior_elements_hu, cover(dc - s.arch_mm, ramp));
                if sl.f_proc > 0.0 {
                    v = mix(
                        v,
                        s.posterior_elements_hu,
                        cover(box_sd(&sl.spinous, x, y), ramp) * sl.f_proc,
                    );
                    v = mix(
                        v,
                        s.posterior_elements_hu,
                        cover(box_sd(&sl.transverse, x, y), ramp) * sl.f_proc,
                    );
                }
                mix(v, s.canal_hu, cover(dc, ramp))
            }
            LayerKind::Kidney { k, z } => {
                let d = k.outer.signed_distance_mm([x, y, *z]);
                let v = mix(v, k.outer.hu, cover(d, ramp));
                mix(v, k.medulla_hu, cover(d + k.cortex_mm, ramp))
            }
            LayerKind::Bowel { b, z } => {
                let dc = b.distance_to_centerline_mm([x, y, *z]);
                let v = mix(v, b.wall_hu, cover(dc - b.tube_radius_mm, ramp));
                let content = mix(b.gas_hu, b.fluid_hu, cover(b.fluid_level_y_mm - y, ramp));
                mix(v, content, cover(dc - b.tube_radius_mm + b.wall_mm, ramp))
            }
            LayerKind::Ellipsoid { el, z } => mix(v, el.hu, cover(el.signed_distance_mm([x, y, *z]), ramp)),
        }
    }
}

impl DemoAnatomy {
    /// Every structure at axial level `z`, in painting order (later ones paint over earlier).
    fn layers_at_z(&self, z: f64) -> Vec<Layer<'_>> {
        let ramp = self.partial_volume_ramp_mm;
        let mut layers = Vec::with_capacity(20);
        if let Some(e) = self.body.outline.cross_section(z) {
            layers.push(Layer {
                bbox: ellipse_bbox(&e),
                kind: LayerKind::Body { body: &self.body, e },
            });
        }
        let tube = |t: &AxialTube, layers: &mut Vec<Layer<'_>>| {
            let fz = cover(t.cap_distance_mm(z), ramp);
            if fz <= 0.0 {
                return;
            }
            if let Some(e) = t.cross_section_clamped(z) {
                layers.push(Layer {
                    bbox: ellipse_bbox(&e),
                    kind: LayerKind::Solid { e, hu: t.hu, fz },
                });
            }
        };
        tube(&self.paraspinal_left, &mut layers);
        tube(&self.paraspinal_right, &mut layers);
        tube(&self.psoas_left, &mut layers);
        tube(&self.psoas_right, &mut layers);
        for k in [&self.kidney_left, &self.kidney_right] {
            let el = &k.outer;
            if (z - el.center_lps[2]).abs() <= el.semi_axes_mm[2] + BBOX_MARGIN_MM {
                let e = Ellipse2 {
                    cx: el.center_lps[0],
                    cy: el.center_lps[1],
                    rx: el.semi_axes_mm[0],
                    ry: el.semi_axes_mm[1],
                };
                layers.push(Layer {
                    bbox: ellipse_bbox(&e),
                    kind: LayerKind::Kidney { k, z },
                });
            }
        }
        if let Some(sl) = self.spine_slice(z) {
            let s = &self.spine;
            let m = BBOX_MARGIN_MM;
            let half_x = s
                .transverse_half_span_mm
                .max(sl.body.rx)
                .max(sl.canal.rx + s.arch_mm);
            layers.push(Layer {
                bbox: [
                    sl.body.cx - half_x - m,
                    sl.body.cx + half_x + m,
                    sl.body.cy - sl.body.ry - m,
                    sl.canal.cy + s.spinous_reach_mm.max(sl.canal.ry + s.arch_mm) + m,
                ],
                kind: LayerKind::Spine(Box::new(sl)),
            });
        }
        tube(&self.ivc, &mut layers);
        for t in &self.iliac_veins {
            tube(t, &mut layers);
        }
        tube(&self.aorta, &mut layers);
        for t in &self.iliac_arteries {
            tube(t, &mut layers);
        }
        let (lo, hi) = self.bowel.bounding_box();
        let m = BBOX_MARGIN_MM;
        if z >= lo[2] - m && z <= hi[2] + m {
            layers.push(Layer {
                bbox: [lo[0] - m, hi[0] + m, lo[1] - m, hi[1] + m],
                kind: LayerKind::Bowel { b: &self.bowel, z },
            });
        }
        let n = &self.node;
        if (z - n.center_lps[2]).abs() <= n.semi_axes_mm[2] + m {
            let e = Ellipse2 {
                cx: n.center_lps[0],
                cy: n.center_lps[1],
                rx: n.semi_axes_mm[0],
                ry: n.semi_axes_mm[1],
            };
            layers.push(Layer {
                bbox: ellipse_bbox(&e),
                kind: LayerKind::Ellipsoid { el: n, z },
            });
        }
        layers
    }

    fn spine_slice(&self, z: f64) -> Option<SpineSlice<'_>> {
        let s = &self.spine;
        let ramp = self.partial_volume_ramp_mm;
        let (lo, hi) = s.body.z_range();
        if z < lo || z > hi {
            return None;
        }
        let body = s.body.cross_section_clamped(z)?;
        let canal = s.canal_at(z)?;
        let zd = s.nearest_disc_z(z);
        let e = (z - zd).abs() - 0.5 * s.disc_height_mm;
        // Height above the disc centre below this level.
        let t = (z - s.disc_z0_mm).rem_euclid(s.disc_period_mm);
        let proc_out = (s.process_from_mm - t).max(t - s.process_to_mm);
        let spinous_y0 = canal.cy + canal.ry;
        let spinous_y1 = canal.cy + s.spinous_reach_mm;
        Some(SpineSlice {
            s,
            body,
            canal,
            f_disc: cover(e, ramp),
            f_end: cover(e - s.endplate_mm, ramp),
            f_proc: cover(proc_out, ramp),
            spinous: [
                canal.cx,
                0.5 * (spinous_y0 + spinous_y1),
                s.spinous_half_width_mm,
                0.5 * (spinous_y1 - spinous_y0),
            ],
            transverse: [
                canal.cx,
                canal.cy,
                s.transverse_half_span_mm,
                s.transverse_half_thickness_mm,
            ],
        })
    }

    /// Noise-free HU at an LPS point: exactly what the rasteriser computes before noise.
    pub fn noise_free_hu(&self, p: [f64; 3]) -> f64 {
        let ramp = self.partial_volume_ramp_mm;
        let mut v = self.air_hu;
        for layer in self.layers_at_z(p[2]) {
            if layer.contains_xy(p[0], p[1]) {
                v = layer.apply(p[0], p[1], v, ramp);
            }
        }
        v
    }

    /// HU stored for voxel (i, j, k) at LPS point `p`: noise added, rounded, clamped.
    pub fn voxel_hu(&self, p: [f64; 3], ijk: [usize; 3]) -> i16 {
        quantise(self.noise_free_hu(p) + self.noise.sample(ijk[0], ijk[1], ijk[2]))
    }
}

fn quantise(v: f64) -> i16 {
    v.round().clamp(HU_MIN, HU_MAX) as i16
}

/// Rasterise `anatomy` on `geometry` (HU, i fastest). Slices are computed in parallel; the
/// result does not depend on the number of threads. Axis-aligned geometries use per-structure
/// bounding boxes; any other orientation falls back to evaluating every voxel.
pub fn rasterise(anatomy: &DemoAnatomy, geometry: &VolumeGeometry) -> Vec<i16> {
    let [nx, ny, _] = geometry.dims;
    let mut hu = vec![0i16; geometry.voxel_count()];
    if nx == 0 || ny == 0 {
        return hu;
    }
    let axis_aligned = geometry.direction == Matrix3::identity();
    hu.par_chunks_mut(nx * ny).enumerate().for_each(|(k, slice)| {
        if axis_aligned {
            rasterise_slice_fast(anatomy, geometry, k, slice);
        } else {
            for j in 0..ny {
                for i in 0..nx {
                    let p = geometry.to_patient(&nalgebra::Vector3::new(i as f64, j as f64, k as f64));
                    slice[i + nx * j] = anatomy.voxel_hu([p.x, p.y, p.z], [i, j, k]);
                }
            }
        }
    });
    hu
}

/// Inclusive index range of voxel centres `o + n s` inside `[lo, hi]`, clamped to `0..len`.
fn index_range(lo: f64, hi: f64, o: f64, s: f64, len: usize) -> Option<(usize, usize)> {
    let a = ((lo - o) / s).ceil().max(0.0);
    let b = ((hi - o) / s).floor().min(len as f64 - 1.0);
    if a.is_nan() || b.is_nan() || a > b {
        return None;
    }
    Some((a as usize, b as usize))
}

fn rasterise_slice_fast(anatomy: &DemoAnatomy, g: &VolumeGeometry, k: usize, out: &mut [i16]) {
    let [nx, ny, _] = g.dims;
    let [sx, sy, sz] = g.spacing_mm;
    let o = g.origin_lps;
    let z = o.z + k as f64 * sz;
    let ramp = anatomy.partial_volume_ramp_mm;
    let mut buf = vec![anatomy.air_hu; nx * ny];
    for layer in anatomy.layers_at_z(z) {
        let Some((i0, i1)) = index_range(layer.bbox[0], layer.bbox[1], o.x, sx, nx) else {
            continue;
        };
        let Some((j0, j1)) = index_range(layer.bbox[2], layer.bbox[3], o.y, sy, ny) else {
            continue;
        };
        for j in j0..=j1 {
            let y = o.y + j as f64 * sy;
            let row = &mut buf[j * nx..(j + 1) * nx];
            for (i, v) in row.iter_mut().enumerate().take(i1 + 1).skip(i0) {
                let x = o.x + i as f64 * sx;
                *v = layer.apply(x, y, *v, ramp);
            }
        }
    }
    for (n, (dst, v)) in out.iter_mut().zip(&buf).enumerate() {
        *dst = quantise(v + anatomy.noise.sample(n % nx, n / nx, k));
    }
}

// Small vector helpers on [f64; 3].
fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}
fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

/// Distance from `p` to the segment `a`–`b`.
pub fn point_segment_distance(p: [f64; 3], a: [f64; 3], b: [f64; 3]) -> f64 {
    let ab = sub(b, a);
    let l2 = dot(ab, ab);
    let t = if l2 > 0.0 {
        (dot(sub(p, a), ab) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    norm(sub(p, [a[0] + t * ab[0], a[1] + t * ab[1], a[2] + t * ab[2]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ellipse_distance_exact_on_axes_and_for_circles() {
        let e = Ellipse2 {
            cx: 1.0,
            cy: -2.0,
            rx: 10.0,
            ry: 5.0,
        };
        assert!((e.signed_distance_mm(14.0, -2.0) - 3.0).abs() < 1e-12);
        assert!((e.signed_distance_mm(1.0, 5.0) - 2.0).abs() < 1e-12);
        assert!((e.signed_distance_mm(1.0, -4.0) + 3.0).abs() < 1e-9);
        let c = Ellipse2 {
            rx: 4.0,
            ry: 4.0,
            ..e
        };
        assert!((c.signed_distance_mm(1.0 + 3.0, -2.0 + 4.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn tube_interpolates_between_knots() {
        let t = AxialTube::new(
            "t",
            0.0,
            &[([0.0, 0.0, 0.0], [2.0, 4.0]), ([10.0, 0.0, 10.0], [4.0, 8.0])],
        );
        let e = t.cross_section(5.0).unwrap();
        assert!((e.cx - 5.0).abs() < 1e-12 && (e.rx - 3.0).abs() < 1e-12 && (e.ry - 6.0).abs() < 1e-12);
        assert!(t.cross_section(10.5).is_none());
        assert!(t.contains([5.0, 5.9, 5.0]) && !t.contains([5.0, 6.1, 5.0]));
        assert!((t.signed_distance_mm([0.0, 0.0, -3.0]) - 3.0).abs() < 1e-12);
    }

    #[test]
    fn bowel_distance_inside_and_beyond_the_arc() {
        let b = demo_anatomy().bowel;
        let mid = b.centerline_point(b.theta_start_rad + 0.5 * b.theta_sweep_rad);
        assert!(b.distance_to_centerline_mm(mid) < 1e-9);
        // Beyond the start of the arc, the distance is to the end point.
        let e0 = b.centerline_point(b.theta_start_rad);
        let before = b.centerline_point(b.theta_start_rad - 0.2);
        let d = b.distance_to_centerline_mm(before);
        assert!((d - norm(sub(before, e0))).abs() < 1e-9 && d > 1.0);
    }

    #[test]
    fn noise_is_centred_with_requested_sigma() {
        let n = NoiseModel {
            sigma_hu: 12.0,
            seed: 7,
        };
        let xs: Vec<f64> = (0..20000).map(|m| n.sample(m % 200, m / 200, 3)).collect();
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        let sd = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64).sqrt();
        assert!(mean.abs() < 0.5, "{mean}");
        assert!((sd - 12.0).abs() < 0.5, "{sd}");
        assert_eq!(n.sample(5, 6, 7), n.sample(5, 6, 7));
        assert_ne!(n.sample(5, 6, 7), n.sample(6, 5, 7));
    }

    #[test]
    fn fast_path_equals_point_evaluation_on_a_small_grid() {
        // A coarse grid through the node level: the bounding-box rasteriser must agree with
        // the per-point evaluator everywhere.
        let a = demo_anatomy();
        let g =
            VolumeGeometry::axis_aligned([96, 80, 6], [4.0, 4.0, 5.0], Point3::new(-190.0, -158.0, -215.0));
        let hu = rasterise(&a, &g);
        for k in 0..6 {
            for j in 0..80 {
                for i in 0..96 {
                    let p = g.to_patient(&nalgebra::Vector3::new(i as f64, j as f64, k as f64));
                    let want = a.voxel_hu([p.x, p.y, p.z], [i, j, k]);
                    assert_eq!(hu[i + 96 * (j + 80 * k)], want, "voxel {i} {j} {k}");
                }
            }
        }
    }
}
