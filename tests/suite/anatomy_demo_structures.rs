//! The demo case's structures: rasterised from the analytic anatomy, checked against analytic
//! volumes and distances.

use ablaplan::anatomy::demo_structures::{
    AORTA_NAME, BOWEL_NAME, DEMO_NERVE_RADIUS_MM, IVC_NAME, NERVE_NAME, NODE_NAME,
};
use ablaplan::anatomy::{Mask, Provenance, Structure, StructureKind, demo_structures, edt_mm};
use ablaplan::demo::{AxialTube, demo_anatomy, demo_geometry};
use ablaplan::geometry::VolumeGeometry;
use nalgebra::{Point3, Rotation3, Vector3};
use std::f64::consts::PI;
use std::sync::OnceLock;

fn structures() -> &'static Vec<Structure> {
    static S: OnceLock<Vec<Structure>> = OnceLock::new();
    S.get_or_init(|| demo_structures(&demo_anatomy(), &demo_geometry()))
}

fn by_name(name: &str) -> &'static Structure {
    structures()
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no structure {name}"))
}

fn voxel_mm3(g: &VolumeGeometry) -> f64 {
    g.spacing_mm.iter().product()
}

fn volume_mm3(m: &Mask, g: &VolumeGeometry) -> f64 {
    m.voxel_count() as f64 * voxel_mm3(g)
}

/// ∫ area(z) dz of a tube over the part of its z range covered by the slabs of the grid
/// (slice centres ± half a slice), by the midpoint rule on 0.01 mm steps.
fn tube_volume_in_grid(t: &AxialTube, g: &VolumeGeometry) -> f64 {
    let half = 0.5 * g.spacing_mm[2];
    let z0 = g.origin_lps.z - half;
    let z1 = g.origin_lps.z + (g.dims[2] as f64 - 1.0) * g.spacing_mm[2] + half;
    let (lo, hi) = t.z_range();
    let (a, b) = (lo.max(z0), hi.min(z1));
    let n = ((b - a) / 0.01).ceil() as usize;
    let dz = (b - a) / n as f64;
    (0..n)
        .map(|m| {
            let z = a + (m as f64 + 0.5) * dz;
            t.cross_section(z).map_or(0.0, |e| PI * e.rx * e.ry * dz)
        })
        .sum()
}

#[test]
fn kinds_names_and_provenance() {
    let s = structures();
    let names: Vec<&str> = s.iter().map(|x| x.name.as_str()).collect();
    for (name, kind) in [
        (NODE_NAME, StructureKind::Target),
        (AORTA_NAME, StructureKind::Vessel),
        (IVC_NAME, StructureKind::Vessel),
        (BOWEL_NAME, StructureKind::Bowel),
        (NERVE_NAME, StructureKind::Nerve),
        ("Common iliac artery L", StructureKind::Vessel),
        ("Common iliac artery R", StructureKind::Vessel),
        ("Common iliac vein L", StructureKind::Vessel),
        ("Common iliac vein R", StructureKind::Vessel),
    ] {
        let st = by_name(name);
        assert_eq!(st.kind, kind, "{name}");
        assert_eq!(st.provenance, Provenance::BuiltInDemo);
        assert_eq!(st.mask().dims(), demo_geometry().dims);
        assert!(!st.mask().is_empty(), "{name}");
    }
    assert_eq!(names.len(), 9, "{names:?}");
}

#[test]
fn voxels_are_exactly_those_whose_centre_is_inside() {
    let a = demo_anatomy();
    let g = demo_geometry();
    let node = by_name(NODE_NAME).mask();
    let bowel = by_name(BOWEL_NAME).mask();
    // Every voxel of the slab around the node level, checked against the analytic shapes.
    let [nx, ny, _] = g.dims;
    for k in 56..72 {
        for j in 0..ny {
            for i in 0..nx {
                let p = g.to_patient(&Vector3::new(i as f64, j as f64, k as f64));
                let p = [p.x, p.y, p.z];
                assert_eq!(node.contains(i, j, k), a.node.contains(p), "node {i} {j} {k}");
                assert_eq!(bowel.contains(i, j, k), a.bowel.contains(p), "bowel {i} {j} {k}");
            }
        }
    }
}

#[test]
fn volumes_match_the_analytic_shapes() {
    let a = demo_anatomy();
    let g = demo_geometry();
    let r = a.node.semi_axes_mm;
    let node_want = 4.0 / 3.0 * PI * r[0] * r[1] * r[2];
    let node_got = volume_mm3(by_name(NODE_NAME).mask(), &g);
    assert!(
        (node_got / node_want - 1.0).abs() < 0.03,
        "node {node_got} vs {node_want}"
    );

    for (name, tube) in [(AORTA_NAME, &a.aorta), (IVC_NAME, &a.ivc)] {
        let want = tube_volume_in_grid(tube, &g);
        let got = volume_mm3(by_name(name).mask(), &g);
        assert!((got / want - 1.0).abs() < 0.02, "{name} {got} vs {want}");
    }

    // Bowel: torus segment (Pappus) plus two hemispherical end caps.
    let b = &a.bowel;
    let bowel_want = PI * b.tube_radius_mm.powi(2) * b.major_radius_mm * b.theta_sweep_rad
        + 4.0 / 3.0 * PI * b.tube_radius_mm.powi(3);
    let bowel_got = volume_mm3(by_name(BOWEL_NAME).mask(), &g);
    assert!(
        (bowel_got / bowel_want - 1.0).abs() < 0.02,
        "bowel {bowel_got} vs {bowel_want}"
    );

    // Nerve: a 2 mm tube around the polyline, cut by the lowest slab of the grid (the
    // polyline ends 2 mm below the last slice centre); joints bend by a few degrees only.
    let r = DEMO_NERVE_RADIUS_MM;
    let pts = &a.nerve.polyline_lps;
    let zmin = g.origin_lps.z - 0.5 * g.spacing_mm[2];
    let mut len = 0.0;
    for w in pts.windows(2) {
        let (p, q) = (w[0], w[1]);
        let seg = Vector3::from(q) - Vector3::from(p);
        // Portion of the segment above the grid's lower edge.
        let frac = if q[2] >= zmin {
            1.0
        } else if p[2] <= zmin {
            0.0
        } else {
            (p[2] - zmin) / (p[2] - q[2])
        };
        len += seg.norm() * frac;
    }
    let nerve_want = PI * r * r * len + 2.0 / 3.0 * PI * r.powi(3);
    let nerve_got = volume_mm3(by_name(NERVE_NAME).mask(), &g);
    assert!(
        (nerve_got / nerve_want - 1.0).abs() < 0.05,
        "nerve {nerve_got} vs {nerve_want}"
    );
}

/// Crops a mask to an inclusive voxel box, as dense flags (i fastest).
fn crop(m: &Mask, lo: [usize; 3], hi: [usize; 3]) -> (Vec<bool>, [usize; 3]) {
    let d = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
    let mut out = vec![false; d[0] * d[1] * d[2]];
    for k in 0..d[2] {
        for j in 0..d[1] {
            for i in 0..d[0] {
                out[i + d[0] * (j + d[1] * k)] = m.contains(lo[0] + i, lo[1] + j, lo[2] + k);
            }
        }
    }
    (out, d)
}

/// Min over the voxels of `from` of the EDT (mm) to `to`, on a crop around `from` grown by
/// `margin` voxels (exact as long as the nearest voxel of `to` lies in the crop).
fn mask_distance_mm(from: &Mask, to: &Mask, g: &VolumeGeometry, margin: [usize; 3]) -> f64 {
    let (lo, hi) = from.bounding_box().expect("non-empty");
    let lo: [usize; 3] = std::array::from_fn(|a| lo[a].saturating_sub(margin[a]));
    let hi: [usize; 3] = std::array::from_fn(|a| (hi[a] + margin[a]).min(g.dims[a] - 1));
    let (to_c, d) = crop(to, lo, hi);
    let (from_c, _) = crop(from, lo, hi);
    let dist = edt_mm(d, g.spacing_mm, &to_c);
    from_c
        .iter()
        .zip(&dist)
        .filter(|(f, _)| **f)
        .map(|(_, x)| f64::from(*x))
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn node_to_aorta_distance_matches_the_analytic_gap() {
    let a = demo_anatomy();
    let g = demo_geometry();
    // Analytic gap: min over the node's surface of the distance to the (circular, almost
    // vertical) aorta, whose axial-plane signed distance is exact for circles.
    let mut gap = f64::INFINITY;
    for it in 0..=400 {
        for ip in 0..800 {
            let theta = PI * it as f64 / 400.0;
            let phi = 2.0 * PI * ip as f64 / 800.0;
            gap = gap.min(a.aorta.signed_distance_mm(a.node.surface_point(theta, phi)));
        }
    }
    assert!((3.0..4.0).contains(&gap), "the demo promises ≈ 3.5 mm, got {gap}");
    let d = mask_distance_mm(
        by_name(NODE_NAME).mask(),
        by_name(AORTA_NAME).mask(),
        &g,
        [30, 30, 10],
    );
    let half_diag = 0.5 * g.spacing_mm.iter().map(|s| s * s).sum::<f64>().sqrt();
    assert!(
        (d - gap).abs() <= half_diag,
        "EDT {d} mm vs analytic {gap} mm (± {half_diag})"
    );
}

#[test]
fn nerve_to_node_distance_is_in_the_promised_range() {
    let a = demo_anatomy();
    let g = demo_geometry();
    let node = by_name(NODE_NAME).mask();
    let nerve = by_name(NERVE_NAME).mask();
    // Centre line to the node's voxels: 4–10 mm as the demo promises (tests/demo_volume.rs).
    let (lo, hi) = node.bounding_box().unwrap();
    let mut centreline = f64::INFINITY;
    for k in lo[2]..=hi[2] {
        for j in lo[1]..=hi[1] {
            for i in lo[0]..=hi[0] {
                if node.contains(i, j, k) {
                    let p = g.to_patient(&Vector3::new(i as f64, j as f64, k as f64));
                    centreline = centreline.min(a.nerve.distance_to_mm([p.x, p.y, p.z]));
                }
            }
        }
    }
    assert!((4.0..=10.0).contains(&centreline), "centre line {centreline} mm");
    // Mask to mask through the EDT: the tube's surface is 2 mm nearer than its centre line.
    let d = mask_distance_mm(node, nerve, &g, [30, 30, 10]);
    let diag = g.spacing_mm.iter().map(|s| s * s).sum::<f64>().sqrt();
    assert!(
        d >= centreline - DEMO_NERVE_RADIUS_MM - 1e-3 && d <= centreline - DEMO_NERVE_RADIUS_MM + diag,
        "mask distance {d} mm, centre line {centreline} mm"
    );
    assert!((2.0..=10.0).contains(&d), "{d}");
}

#[test]
fn deterministic_and_works_on_an_oblique_grid() {
    let a = demo_anatomy();
    let g = demo_geometry();
    let again = demo_structures(&a, &g);
    // Structures carry unique ids; compare what was rasterised.
    let key = |v: &[Structure]| -> Vec<(String, StructureKind, Mask)> {
        v.iter()
            .map(|s| (s.name.clone(), s.kind, s.mask().clone()))
            .collect()
    };
    assert_eq!(key(&again), key(structures()));
    // A coarse oblique grid around the node: the node mask is exactly the analytic shape.
    let rot = Rotation3::from_euler_angles(0.2, -0.15, 0.4);
    let og = VolumeGeometry {
        dims: [60, 60, 40],
        spacing_mm: [1.0, 1.2, 1.5],
        origin_lps: Point3::new(12.0, -25.0, -230.0),
        direction: *rot.matrix(),
    };
    let s = demo_structures(&a, &og);
    let node = s.iter().find(|x| x.name == NODE_NAME).unwrap().mask();
    let [nx, ny, nz] = og.dims;
    let mut count = 0;
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let p = og.to_patient(&Vector3::new(i as f64, j as f64, k as f64));
                let inside = a.node.contains([p.x, p.y, p.z]);
                count += usize::from(inside);
                assert_eq!(node.contains(i, j, k), inside, "{i} {j} {k}");
            }
        }
    }
    assert!(count > 1000);
}

#[test]
fn fast_enough() {
    // Informative only (debug builds are slower): the release figure goes in the report.
    let a = demo_anatomy();
    let g = demo_geometry();
    let t = std::time::Instant::now();
    let s = demo_structures(&a, &g);
    eprintln!("demo_structures: {} structures in {:?}", s.len(), t.elapsed());
    assert!(!s.is_empty());
}
