//! Simple closed solids: probes as capped cylinders and markers as spheres, in LPS mm.

use super::TriMesh;
use nalgebra::Vector3;

fn to_f32(p: Vector3<f64>) -> [f32; 3] {
    [p.x as f32, p.y as f32, p.z as f32]
}

/// Two unit vectors perpendicular to `axis` (unit) and to each other.
fn perpendiculars(axis: Vector3<f64>) -> (Vector3<f64>, Vector3<f64>) {
    let helper = if axis.x.abs() < 0.9 {
        Vector3::x()
    } else {
        Vector3::y()
    };
    let u = axis.cross(&helper).normalize();
    (u, axis.cross(&u))
}

/// A closed cylinder of `radius_mm` from `a` to `b` with `sides` facets (at least 3); empty for
/// a degenerate segment or radius.
pub fn cylinder(a: Vector3<f64>, b: Vector3<f64>, radius_mm: f64, sides: usize) -> TriMesh {
    let d = b - a;
    let len = d.norm();
    // NaN fails every comparison: checked as "not valid" on purpose.
    let valid = len > 1e-9 && radius_mm > 0.0 && len.is_finite();
    if !valid {
        return TriMesh::default();
    }
    let axis = d / len;
    let (u, v) = perpendiculars(axis);
    let sides = sides.max(3);
    let mut m = TriMesh::default();
    let ring = |centre: Vector3<f64>, m: &mut TriMesh| -> u32 {
        let base = m.positions_lps.len() as u32;
        for s in 0..sides {
            let t = std::f64::consts::TAU * s as f64 / sides as f64;
            m.positions_lps
                .push(to_f32(centre + (u * t.cos() + v * t.sin()) * radius_mm));
        }
        base
    };
    let (sa, sb) = (ring(a, &mut m), ring(b, &mut m));
    let n = sides as u32;
    for s in 0..n {
        let s1 = (s + 1) % n;
        // (u, v, axis) is right-handed: counter-clockwise around the axis faces outwards.
        m.triangles.push([sa + s, sa + s1, sb + s1]);
        m.triangles.push([sa + s, sb + s1, sb + s]);
    }
    // The caps share the side's rings: a closed solid (a probe is too thin for the rounded
    // normals at its rims to show).
    for (centre, rim, facing_b) in [(a, sa, false), (b, sb, true)] {
        let c = m.positions_lps.len() as u32;
        m.positions_lps.push(to_f32(centre));
        for s in 0..n {
            let s1 = (s + 1) % n;
            if facing_b {
                m.triangles.push([c, rim + s, rim + s1]);
            } else {
                m.triangles.push([c, rim + s1, rim + s]);
            }
        }
    }
    m.compute_normals();
    m
}

/// A UV sphere of `radius_mm` around `centre` (`rings` ≥ 2 latitude bands, `sides` ≥ 3).
pub fn sphere(centre: Vector3<f64>, radius_mm: f64, rings: usize, sides: usize) -> TriMesh {
    let (rings, sides) = (rings.max(2), sides.max(3));
    let mut m = TriMesh::default();
    m.positions_lps.push(to_f32(centre + Vector3::z() * radius_mm));
    for r in 1..rings {
        let th = std::f64::consts::PI * r as f64 / rings as f64;
        for s in 0..sides {
            let ph = std::f64::consts::TAU * s as f64 / sides as f64;
            let dir = Vector3::new(th.sin() * ph.cos(), th.sin() * ph.sin(), th.cos());
            m.positions_lps.push(to_f32(centre + dir * radius_mm));
        }
    }
    let south = m.positions_lps.len() as u32;
    m.positions_lps.push(to_f32(centre - Vector3::z() * radius_mm));
    let n = sides as u32;
    let ring = |r: u32, s: u32| 1 + r * n + s % n;
    for s in 0..n {
        m.triangles.push([0, ring(0, s), ring(0, s + 1)]);
    }
    for r in 0..(rings as u32 - 2) {
        for s in 0..n {
            m.triangles.push([ring(r, s), ring(r + 1, s), ring(r + 1, s + 1)]);
            m.triangles.push([ring(r, s), ring(r + 1, s + 1), ring(r, s + 1)]);
        }
    }
    let last = rings as u32 - 2;
    for s in 0..n {
        m.triangles.push([south, ring(last, s + 1), ring(last, s)]);
    }
    m.compute_normals();
    m
}
