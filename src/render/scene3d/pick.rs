//! Which object a click in the 3-D view hits, and where (LPS mm): the nearest pickable
//! triangle along the pixel's ray (Möller–Trumbore). Translucent model surfaces are skipped, so
//! a structure inside the zone can be clicked through it.

use super::{Camera, Part, Scene};
use nalgebra::Vector3;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Hit {
    pub object: usize,
    pub part: Part,
    pub point_lps: Vector3<f64>,
    pub distance_mm: f64,
}

/// The hit at pixel (x, y) of a `width` × `height` view, if any.
pub fn pick(scene: &Scene, camera: &Camera, x: f64, y: f64, width: f64, height: f64) -> Option<Hit> {
    let (origin, dir) = camera.ray(x, y, width, height);
    let mut best: Option<Hit> = None;
    for (oi, o) in scene.objects.iter().enumerate() {
        if !o.part.pickable() || !o.opaque() {
            continue;
        }
        let Some((lo, hi)) = o.mesh.bounds() else {
            continue;
        };
        if !ray_hits_box(&origin, &dir, lo, hi) {
            continue;
        }
        let v = |i: u32| {
            let p = o.mesh.positions_lps[i as usize];
            Vector3::new(p[0] as f64, p[1] as f64, p[2] as f64)
        };
        for t in &o.mesh.triangles {
            if let Some(d) = intersect(&origin, &dir, v(t[0]), v(t[1]), v(t[2]))
                && best.is_none_or(|b| d < b.distance_mm)
            {
                best = Some(Hit {
                    object: oi,
                    part: o.part,
                    point_lps: origin + dir * d,
                    distance_mm: d,
                });
            }
        }
    }
    best
}

fn ray_hits_box(o: &Vector3<f64>, d: &Vector3<f64>, lo: [f32; 3], hi: [f32; 3]) -> bool {
    let (mut t0, mut t1) = (0.0f64, f64::INFINITY);
    for ax in 0..3 {
        let (l, h) = (lo[ax] as f64 - 1e-3, hi[ax] as f64 + 1e-3);
        if d[ax].abs() < 1e-12 {
            if o[ax] < l || o[ax] > h {
                return false;
            }
            continue;
        }
        let (a, b) = ((l - o[ax]) / d[ax], (h - o[ax]) / d[ax]);
        t0 = t0.max(a.min(b));
        t1 = t1.min(a.max(b));
    }
    t0 <= t1
}

/// Distance along the ray to the triangle, both faces.
fn intersect(
    o: &Vector3<f64>,
    d: &Vector3<f64>,
    a: Vector3<f64>,
    b: Vector3<f64>,
    c: Vector3<f64>,
) -> Option<f64> {
    let (e1, e2) = (b - a, c - a);
    let p = d.cross(&e2);
    let det = e1.dot(&p);
    if det.abs() < 1e-12 {
        return None;
    }
    let s = o - a;
    let u = s.dot(&p) / det;
    if !(0.0..=1.0).contains(&u) {
        return None;
    }
    let q = s.cross(&e1);
    let v = d.dot(&q) / det;
    if v < 0.0 || u + v > 1.0 {
        return None;
    }
    let t = e2.dot(&q) / det;
    (t > 0.0).then_some(t)
}
