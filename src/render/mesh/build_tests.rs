//! The meshes the 3-D scene shows must be closed, the right size and in the right place.

use super::*;
use crate::render::mesh::shapes::{cylinder, sphere};
use nalgebra::{Point3, Rotation3};
use std::f64::consts::PI;

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b
}

/// A tilted, anisotropic CT grid; `mirrored` reverses the slice direction (a left-handed
/// index frame, as when slices are stored foot to head with the normal pointing the other way).
fn tilted_geometry(mirrored: bool) -> VolumeGeometry {
    let rot = Rotation3::from_euler_angles(0.17, -0.05, 0.52);
    let mut direction = *rot.matrix();
    if mirrored {
        direction.set_column(2, &(-direction.column(2)));
    }
    VolumeGeometry {
        dims: [64, 60, 30],
        spacing_mm: [0.8, 0.9, 2.5],
        origin_lps: Point3::new(-30.0, -10.0, 40.0),
        direction,
    }
}

/// Voxels whose centres lie within `radius_mm` of `centre_lps`.
fn ball_mask(g: &VolumeGeometry, centre_lps: &Point3<f64>, radius_mm: f64) -> Mask {
    let [nx, ny, nz] = g.dims;
    let mut dense = vec![false; nx * ny * nz];
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let p = g.to_patient(&Vector3::new(i as f64, j as f64, k as f64));
                dense[i + nx * (j + ny * k)] = (p - centre_lps).norm() <= radius_mm;
            }
        }
    }
    Mask::from_dense(g.dims, &dense)
}

fn centroid(m: &TriMesh) -> Vector3<f64> {
    let s = m.positions_lps.iter().fold(Vector3::zeros(), |s, p| {
        s + Vector3::new(p[0] as f64, p[1] as f64, p[2] as f64)
    });
    s / m.positions_lps.len() as f64
}

#[test]
fn a_sphere_field_gives_a_closed_genus_zero_mesh_of_the_analytic_size() {
    let n = 48;
    let r = 17.0;
    let c = (n as f64 - 1.0) / 2.0;
    let mut values = Vec::with_capacity(n * n * n);
    for k in 0..n {
        for j in 0..n {
            for i in 0..n {
                let d = ((i as f64 - c).powi(2) + (j as f64 - c).powi(2) + (k as f64 - c).powi(2)).sqrt();
                values.push((r - d) as f32);
            }
        }
    }
    let field = Field {
        dims: [n, n, n],
        values: &values,
        iso: 0.0,
        outside: -1.0,
    };
    let grid = GridToLps {
        origin_lps: Vector3::zeros(),
        axes_mm: Matrix3::identity(),
    };
    let mesh = surface_nets(&field, &grid);
    assert!(
        mesh.is_watertight(),
        "every edge shared by two triangles, opposite ways"
    );
    assert_eq!(mesh.euler_characteristic(), 2);
    let area = mesh.area_mm2();
    let volume = mesh.volume_mm3();
    assert!(rel(area, 4.0 * PI * r * r) < 0.03, "area {area:.0} mm²");
    assert!(
        rel(volume, 4.0 / 3.0 * PI * r.powi(3)) < 0.03,
        "volume {volume:.0} mm³"
    );
}

#[test]
fn a_ball_mask_on_a_tilted_anisotropic_grid_meshes_closed_sized_and_in_place() {
    for mirrored in [false, true] {
        let g = tilted_geometry(mirrored);
        let centre = g.to_patient(&Vector3::new(31.0, 28.5, 14.2));
        let r = 13.0;
        let mask = ball_mask(&g, &centre, r);
        let mesh = mask_mesh(&mask, &g, &MeshOptions::default());
        assert!(mesh.is_watertight(), "mirrored {mirrored}: closed and oriented");
        assert_eq!(mesh.euler_characteristic(), 2, "mirrored {mirrored}");
        // Outward-facing whatever the handedness of the voxel frame: positive volume.
        let volume = mesh.volume_mm3();
        let exact = 4.0 / 3.0 * PI * r.powi(3);
        assert!(
            rel(volume, exact) < 0.05,
            "mirrored {mirrored}: volume {volume:.0} vs {exact:.0} mm³"
        );
        let area = mesh.area_mm2();
        let exact_area = 4.0 * PI * r * r;
        assert!(
            rel(area, exact_area) < 0.06,
            "mirrored {mirrored}: area {area:.0} vs {exact_area:.0} mm²"
        );
        // LPS placement: the surface's centre is the ball's centre within a voxel.
        let off = (centroid(&mesh) - centre.coords).norm();
        assert!(
            off < 0.8,
            "mirrored {mirrored}: centroid {off:.2} mm from the centre"
        );
        // And every vertex is near the sphere (within the slice spacing).
        let worst = mesh
            .positions_lps
            .iter()
            .map(|p| ((Vector3::new(p[0] as f64, p[1] as f64, p[2] as f64) - centre.coords).norm() - r).abs())
            .fold(0.0, f64::max);
        assert!(
            worst < 2.0,
            "mirrored {mirrored}: a vertex {worst:.2} mm off the sphere"
        );
    }
}

#[test]
fn large_masks_are_meshed_on_blocks_within_the_node_budget_and_keep_their_size() {
    let g = tilted_geometry(false);
    let centre = g.to_patient(&Vector3::new(32.0, 30.0, 15.0));
    let r = 20.0;
    let mask = ball_mask(&g, &centre, r);
    let fine = mask_mesh(&mask, &g, &MeshOptions::default());
    let opts = MeshOptions {
        max_nodes: 4_000,
        ..MeshOptions::default()
    };
    let coarse = mask_mesh(&mask, &g, &opts);
    assert!(
        coarse.triangles.len() * 3 < fine.triangles.len(),
        "{} vs {}",
        coarse.triangles.len(),
        fine.triangles.len()
    );
    assert!(coarse.is_watertight());
    let exact = 4.0 / 3.0 * PI * r.powi(3);
    assert!(
        rel(coarse.volume_mm3(), exact) < 0.10,
        "coarse volume {:.0} vs {exact:.0}",
        coarse.volume_mm3()
    );
    assert!((centroid(&coarse) - centre.coords).norm() < 1.5);
}

#[test]
fn block_factors_respect_the_budget_and_merge_the_finest_axis_first() {
    let f = block_factors([512, 512, 100], [0.7, 0.7, 3.0], 2_000_000, 0.0);
    let nodes: usize = (0..3).map(|a| [512usize, 512, 100][a].div_ceil(f[a])).product();
    assert!(nodes <= 2_000_000, "{f:?} gives {nodes}");
    assert_eq!(
        f[2], 1,
        "3 mm slices are not merged while 0.7 mm pixels can be: {f:?}"
    );
    assert_eq!(block_factors([10, 10, 10], [1.0; 3], 2_000_000, 0.0), [1, 1, 1]);
    // A minimal block size merges fine pixels only.
    assert_eq!(
        block_factors([100, 100, 50], [0.8, 0.8, 2.0], 2_000_000, 1.5),
        [2, 2, 1]
    );
}

#[test]
fn zone_flags_and_isotherms_mesh_around_the_right_nodes() {
    let grid = ComputeGrid {
        origin_lps: Point3::new(10.0, -20.0, 5.0),
        spacing_mm: 0.5,
        dims: [41, 41, 41],
    };
    let centre = Vector3::new(20.0, -10.0, 15.0);
    let mut temps = Vec::with_capacity(grid.len());
    let mut flags = Vec::with_capacity(grid.len());
    for k in 0..41 {
        for j in 0..41 {
            for i in 0..41 {
                let p = grid.origin_lps.coords + Vector3::new(i as f64, j as f64, k as f64) * 0.5;
                let d = (p - centre).norm();
                // A cold centre warming by 5 °C per mm: −20 °C at 6 mm.
                temps.push((-50.0 + 5.0 * d) as f32);
                flags.push(d <= 6.0);
            }
        }
    }
    let iso = isotherm_mesh(&grid, &temps, -20.0, &MeshOptions::default());
    let zone = flags_mesh(&grid, &flags, &MeshOptions::default());
    for (name, m) in [("isotherm", &iso), ("zone", &zone)] {
        assert!(m.is_watertight(), "{name}");
        let v = m.volume_mm3();
        let exact = 4.0 / 3.0 * PI * 216.0;
        assert!(rel(v, exact) < 0.05, "{name}: {v:.0} vs {exact:.0} mm³");
        assert!((centroid(m) - centre).norm() < 0.2, "{name} centred");
    }
    // A warmer isotherm encloses more.
    assert!(isotherm_mesh(&grid, &temps, 0.0, &MeshOptions::default()).volume_mm3() > iso.volume_mm3());
}

#[test]
fn probe_cylinders_and_marker_spheres_are_closed_solids_of_their_size() {
    let c = cylinder(
        Vector3::new(0.0, 0.0, 0.0),
        Vector3::new(10.0, 20.0, -5.0),
        0.75,
        24,
    );
    assert!(c.is_watertight());
    assert_eq!(c.euler_characteristic(), 2);
    let len = (100.0f64 + 400.0 + 25.0).sqrt();
    // A 24-gon holds sin(2π/24)·12/π of the circle's area.
    let poly = 0.5 * 24.0 * (2.0 * PI / 24.0).sin() * 0.75 * 0.75;
    assert!(rel(c.volume_mm3(), poly * len) < 1e-3, "{}", c.volume_mm3());
    let s = sphere(Vector3::new(1.0, 2.0, 3.0), 4.0, 16, 24);
    assert!(s.is_watertight());
    assert_eq!(s.euler_characteristic(), 2);
    assert!(rel(s.volume_mm3(), 4.0 / 3.0 * PI * 64.0) < 0.03);
    assert!(cylinder(Vector3::zeros(), Vector3::zeros(), 1.0, 8).is_empty());
}

#[test]
fn the_ct_threshold_mesh_finds_a_dense_ball() {
    let g = VolumeGeometry::axis_aligned([40, 40, 20], [1.0, 1.0, 2.0], Point3::new(0.0, 0.0, 0.0));
    let centre = Vector3::new(20.0, 20.0, 20.0);
    let mut hu = vec![-1000i16; g.voxel_count()];
    for k in 0..20 {
        for j in 0..40 {
            for i in 0..40 {
                let p = Vector3::new(i as f64, j as f64, 2.0 * k as f64);
                if (p - centre).norm() <= 10.0 {
                    hu[i + 40 * (j + 40 * k)] = 1000;
                }
            }
        }
    }
    let volume = Volume::new(g, hu, Default::default()).expect("consistent volume");
    let m = ct_threshold_mesh(&volume, 200.0, &MeshOptions::default());
    assert!(m.is_watertight());
    assert!(
        rel(m.volume_mm3(), 4.0 / 3.0 * PI * 1000.0) < 0.08,
        "{}",
        m.volume_mm3()
    );
}
