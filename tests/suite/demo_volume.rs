//! The built-in demo case: geometry, determinism, HU of each structure, distances.

use ablaplan::demo::{DemoAnatomy, demo_anatomy, demo_geometry, demo_volume, rasterise};
use ablaplan::geometry::VolumeGeometry;
use ablaplan::volume::Volume;
use nalgebra::{Point3, Vector3};
use std::sync::OnceLock;

fn volume() -> &'static Volume {
    static V: OnceLock<Volume> = OnceLock::new();
    V.get_or_init(demo_volume)
}

/// Voxels whose centre lies within `radius_mm` of `p`.
fn voxels_near(v: &Volume, p: [f64; 3], radius_mm: f64) -> Vec<f64> {
    let g = &v.geometry;
    let c = g.to_voxel(&Point3::from(p));
    let reach = [
        radius_mm / g.spacing_mm[0],
        radius_mm / g.spacing_mm[1],
        radius_mm / g.spacing_mm[2],
    ];
    let mut out = Vec::new();
    for k in (c.z - reach[2]).floor() as i64..=(c.z + reach[2]).ceil() as i64 {
        for j in (c.y - reach[1]).floor() as i64..=(c.y + reach[1]).ceil() as i64 {
            for i in (c.x - reach[0]).floor() as i64..=(c.x + reach[0]).ceil() as i64 {
                let q = g.to_patient(&Vector3::new(i as f64, j as f64, k as f64));
                if (q - Point3::from(p)).norm() <= radius_mm
                    && let Some(n) = g.index(i, j, k)
                {
                    out.push(f64::from(v.hu[n]));
                }
            }
        }
    }
    out
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, var.sqrt())
}

/// Mean HU of the voxels within 1.5 mm of `p` (about 9 voxels in plane, ± 1 slice).
fn mean_hu(p: [f64; 3]) -> f64 {
    let xs = voxels_near(volume(), p, 2.0);
    assert!(xs.len() >= 9, "too few voxels near {p:?}");
    mean_sd(&xs).0
}

#[test]
fn geometry_and_meta() {
    let v = volume();
    let g = &v.geometry;
    g.validate().unwrap();
    assert_eq!(*g, demo_geometry());
    assert_eq!(g.spacing_mm, [0.8, 0.8, 2.0]);
    assert!(g.dims[2] >= 120, "{:?}", g.dims);
    assert!(g.dims[0] as f64 * 0.8 >= 360.0 && g.dims[1] as f64 * 0.8 >= 280.0);
    assert_eq!(v.hu.len(), g.voxel_count());
    assert_eq!(g.direction, nalgebra::Matrix3::identity());
    // Field of view centred on x = 0, y = 0.
    let centre = g.to_patient(&Vector3::new(
        (g.dims[0] - 1) as f64 / 2.0,
        (g.dims[1] - 1) as f64 / 2.0,
        0.0,
    ));
    assert!(centre.x.abs() < 1e-9 && centre.y.abs() < 1e-9);
    assert_eq!(v.meta.patient_name, "DEMO^Synthetic Abdomen");
    assert_eq!(v.meta.modality, "CT");
    assert_eq!(v.meta.slice_thickness_mm, Some(2.0));
    assert_eq!(v.meta.default_window, Some((40.0, 350.0)));
    assert!(v.meta.patient_id.contains("FAKE"));
    for uid in [
        &v.meta.study_instance_uid,
        &v.meta.series_instance_uid,
        &v.meta.frame_of_reference_uid,
    ] {
        assert!(uid.starts_with("2.25.") && uid.len() <= 64 && uid[5..].chars().all(|c| c.is_ascii_digit()));
    }
    let (lo, hi) = v.hu_range().unwrap();
    assert!(lo >= -1024 && hi <= 3071 && hi > 500, "{lo} {hi}");
}

#[test]
fn deterministic_and_thread_independent() {
    let v = volume();
    // Same anatomy rasterised on a one-thread pool gives the same bytes.
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let again = pool.install(|| rasterise(&demo_anatomy(), &demo_geometry()));
    assert!(again == v.hu, "demo volume differs between runs");
    // And a fixed fingerprint of the buffer (FNV-1a over 1 voxel in 7) is stable across
    // calls in this process.
    let fp = |hu: &[i16]| {
        hu.iter().step_by(7).fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
            (h ^ u64::from(x as u16)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    assert_eq!(fp(&again), fp(&v.hu));
    assert_eq!(demo_anatomy(), demo_anatomy());
}

#[test]
fn hounsfield_units_of_structures() {
    let a = demo_anatomy();
    let node = mean_hu(a.node.center_lps);
    assert!((node - 45.0).abs() <= 15.0, "node {node}");
    let z = a.node.center_lps[2];
    let ao = a.aorta.cross_section(z).unwrap();
    let aorta = mean_hu([ao.cx, ao.cy, z]);
    assert!((aorta - 250.0).abs() <= 30.0, "aorta {aorta}");
    let ivc = a.ivc.cross_section(z).unwrap();
    let ivc_hu = mean_hu([ivc.cx, ivc.cy, z]);
    assert!((140.0..=190.0).contains(&ivc_hu), "ivc {ivc_hu}");
    // Bowel: the lowest point of the loop (gas above the fluid level at its centre line).
    let b = &a.bowel;
    let gas_p = b.centerline_point(1.5 * std::f64::consts::PI);
    assert!(gas_p[1] < b.fluid_level_y_mm - 3.0);
    let gas = mean_hu(gas_p);
    assert!(gas < -700.0, "bowel gas {gas}");
    // Fluid in the dependent part of the lumen.
    let fluid_p = [gas_p[0], gas_p[1] + 9.0, gas_p[2]];
    assert!(b.lumen_contains(fluid_p) && fluid_p[1] > b.fluid_level_y_mm + 1.5);
    let fluid = mean_hu(fluid_p);
    assert!((fluid - 10.0).abs() < 25.0, "bowel fluid {fluid}");
    // Vertebral bodies (cancellous core).
    let centres = a.spine.vertebral_body_centers();
    assert!(centres.len() >= 6, "{centres:?}");
    for c in centres.iter().filter(|c| c[2] > -320.0 && c[2] < -80.0) {
        let hu = mean_hu(*c);
        assert!(hu > 150.0, "vertebral body at {c:?}: {hu}");
    }
    // A disc is darker than bone.
    let disc_z = a.spine.nearest_disc_z(z);
    let e = a.spine.body.cross_section(disc_z).unwrap();
    let disc = mean_hu([e.cx, e.cy, disc_z]);
    assert!((disc - 80.0).abs() < 30.0, "disc {disc}");
    // Air outside the body.
    let air = mean_hu([-185.0, -150.0, z]);
    assert!((air + 1000.0).abs() <= 30.0, "air {air}");
    // Intra-abdominal fat in the right abdomen, away from every organ.
    let fat_p = [-80.0, -20.0, z];
    assert!(a.body.cavity_contains(fat_p));
    let fat = mean_hu(fat_p);
    assert!((fat + 90.0).abs() <= 25.0, "fat {fat}");
    // Subcutaneous fat anteriorly and a muscle (psoas).
    let body = a.body.outline.cross_section(z).unwrap();
    let subq = mean_hu([body.cx, body.cy - body.ry + 10.0, z]);
    assert!((subq + 100.0).abs() <= 25.0, "subcutaneous fat {subq}");
    let ps = a.psoas_left.cross_section(z).unwrap();
    let psoas = mean_hu([ps.cx, ps.cy, z]);
    assert!((psoas - 45.0).abs() <= 15.0, "psoas {psoas}");
}

/// Minimum distance between the node surface and the aortic wall, by sampling both surfaces.
fn node_to_aorta_wall_mm(a: &DemoAnatomy) -> f64 {
    let mut best = f64::INFINITY;
    let n_t = 90;
    let n_p = 180;
    for it in 0..=n_t {
        let theta = std::f64::consts::PI * it as f64 / n_t as f64;
        for ip in 0..n_p {
            let phi = 2.0 * std::f64::consts::PI * ip as f64 / n_p as f64;
            let s = a.node.surface_point(theta, phi);
            // The aorta is nearly vertical: the nearest wall point lies in this axial plane
            // (error below 0.01 mm for its slope); walk around the cross-section.
            let e = a.aorta.cross_section(s[2]).expect("aorta at the node level");
            for m in 0..720 {
                let ang = 2.0 * std::f64::consts::PI * m as f64 / 720.0;
                let w = [e.cx + e.rx * ang.cos(), e.cy + e.ry * ang.sin()];
                best = best.min((s[0] - w[0]).hypot(s[1] - w[1]));
            }
        }
    }
    best
}

#[test]
fn node_is_close_to_but_separate_from_the_aorta() {
    let a = demo_anatomy();
    let gap = node_to_aorta_wall_mm(&a);
    assert!((2.0..=6.0).contains(&gap), "node–aorta gap {gap} mm");
    // The rasterised volume shows fat between them: the darkest voxel on the line joining
    // the two centres (within the gap) is fat, not soft tissue.
    let z = a.node.center_lps[2];
    let e = a.aorta.cross_section(z).unwrap();
    let x_wall = e.cx + e.rx;
    let x_node = a.node.center_lps[0] - a.node.semi_axes_mm[0];
    assert!(x_node - x_wall >= 2.0);
    let mid = [0.5 * (x_wall + x_node), a.node.center_lps[1], z];
    let v = volume();
    let vox = v.geometry.to_voxel(&Point3::from(mid));
    let kk = vox.z.round() as usize;
    let jj = vox.y.round() as usize;
    let ii = vox.x.round() as usize;
    let min_gap = (ii - 1..=ii + 1)
        .map(|i| {
            // mean over 5 rows to average the noise
            (jj - 2..=jj + 2)
                .map(|j| f64::from(v.get(i, j, kk).unwrap()))
                .sum::<f64>()
                / 5.0
        })
        .fold(f64::INFINITY, f64::min);
    assert!(min_gap < -30.0, "no fat between node and aorta: {min_gap}");
    // Neither structure overlaps the other, nor the psoas, spine or bowel.
    let node = &a.node;
    for it in 0..=30 {
        for ip in 0..60 {
            let s = node.surface_point(
                std::f64::consts::PI * it as f64 / 30.0,
                2.0 * std::f64::consts::PI * ip as f64 / 60.0,
            );
            assert!(!a.aorta.contains(s) && !a.psoas_left.contains(s) && !a.bowel.contains(s));
            assert!(!a.spine.body.contains(s) && !a.ivc.contains(s));
        }
    }
}

#[test]
fn nerve_runs_on_the_psoas_near_the_node() {
    let a = demo_anatomy();
    let nerve = &a.nerve;
    assert!(nerve.polyline_lps.len() >= 10);
    // Descends monotonically (caudally) and lies just anterior to the left psoas surface.
    for w in nerve.polyline_lps.windows(2) {
        assert!(w[1][2] < w[0][2]);
    }
    for p in &nerve.polyline_lps[1..] {
        let d = a.psoas_left.signed_distance_mm(*p);
        assert!(
            (0.0..=2.5).contains(&d),
            "nerve point {p:?} is {d} mm from the psoas"
        );
    }
    // Closest approach to the node surface: 5–10 mm.
    let mut best = f64::INFINITY;
    for it in 0..=60 {
        for ip in 0..120 {
            let s = a.node.surface_point(
                std::f64::consts::PI * it as f64 / 60.0,
                2.0 * std::f64::consts::PI * ip as f64 / 120.0,
            );
            best = best.min(nerve.distance_to_mm(s));
        }
    }
    assert!((4.0..=10.0).contains(&best), "nerve–node distance {best} mm");
    // Invisible on CT: no voxel along the nerve differs from the model of the tissues
    // around it (fat or psoas), i.e. the generator paints nothing for the nerve.
    let v = volume();
    let g = &v.geometry;
    for p in &nerve.polyline_lps {
        let vox = g.to_voxel(&Point3::from(*p));
        let [i, j, k] = g.nearest_voxel(&vox).unwrap();
        let c = g.to_patient(&Vector3::new(i as f64, j as f64, k as f64));
        assert_eq!(v.get(i, j, k), Some(a.voxel_hu([c.x, c.y, c.z], [i, j, k])));
        let model = a.noise_free_hu([c.x, c.y, c.z]);
        assert!(
            (-100.0..=60.0).contains(&model),
            "unexpected tissue {model} at the nerve {p:?}"
        );
    }
}

#[test]
fn noise_level_in_homogeneous_regions() {
    let a = demo_anatomy();
    let v = volume();
    // Node core (radius 5 mm, all ≥ 3 mm inside the node surface).
    let xs = voxels_near(v, a.node.center_lps, 5.0);
    assert!(xs.len() > 200);
    let (m, sd) = mean_sd(&xs);
    assert!((m - 45.0).abs() < 5.0, "node mean {m}");
    assert!((8.0..=20.0).contains(&sd), "node noise σ {sd}");
    // Intra-abdominal fat.
    let xs = voxels_near(v, [-80.0, -20.0, -200.0], 8.0);
    let (m, sd) = mean_sd(&xs);
    assert!((m + 90.0).abs() < 5.0, "fat mean {m}");
    assert!((8.0..=20.0).contains(&sd), "fat noise σ {sd}");
}

#[test]
fn edges_have_partial_volume() {
    // Across the aortic wall the profile steps through intermediate values rather than
    // jumping from fat to contrast in one voxel (checked on the noise-free model, then on
    // the mean of the volume's rows).
    let a = demo_anatomy();
    let z = a.node.center_lps[2];
    let e = a.aorta.cross_section(z).unwrap();
    let x_edge = e.cx - e.rx; // medial wall, fat towards the spine
    let inter = a.noise_free_hu([x_edge + 0.1, e.cy, z]);
    assert!(inter > -50.0 && inter < 200.0, "{inter}");
    let inside = a.noise_free_hu([x_edge + 1.0, e.cy, z]);
    let outside = a.noise_free_hu([x_edge - 1.0, e.cy, z]);
    assert!((inside - a.aorta.hu).abs() < 1e-9 && outside < -50.0);
}

#[test]
fn small_grid_matches_point_evaluation_and_anatomy_serialises() {
    let a = demo_anatomy();
    let g = VolumeGeometry::axis_aligned([64, 50, 8], [6.0, 6.4, 9.0], Point3::new(-189.0, -157.0, -300.0));
    let hu = rasterise(&a, &g);
    let mut diffs = 0;
    for k in 0..8 {
        for j in 0..50 {
            for i in 0..64 {
                let p = g.to_patient(&Vector3::new(i as f64, j as f64, k as f64));
                if hu[i + 64 * (j + 50 * k)] != a.voxel_hu([p.x, p.y, p.z], [i, j, k]) {
                    diffs += 1;
                }
            }
        }
    }
    assert_eq!(diffs, 0);
    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains("Genitofemoral") && json.contains("\"node\""));
    // serde_json may round the last bit of a float; compare structurally with a tolerance.
    let back: DemoAnatomy = serde_json::from_str(&json).unwrap();
    assert_eq!(back.nerve.polyline_lps.len(), a.nerve.polyline_lps.len());
    assert_eq!(back.node, a.node);
    assert_eq!(back.aorta, a.aorta);
}
