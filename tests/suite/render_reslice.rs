//! Oblique reslicing (`render::reslice`) and the along-probe view widget (`app::probe_view`).
//!
//! Exactness is checked against quantities known independently of the sampler: the voxel values
//! themselves (`extract_slice`) at voxel centres, a linear HU ramp (which trilinear interpolation
//! must reproduce at any point), and a sphere whose cut by a plane is a disc of known radius.

use std::sync::OnceLock;

use ablaplan::anatomy::{Mask, Provenance, Structure, StructureKind};
use ablaplan::app::probe_view::ProbeView;
use ablaplan::demo::demo_volume;
use ablaplan::geometry::{PatientPos, VolumeGeometry};
use ablaplan::physics::grid::ComputeGrid;
use ablaplan::physics::ire::model::IreResult;
use ablaplan::plan::probe::Probe;
use ablaplan::render::reslice::{
    OUTSIDE_HU, ObliquePlane, ProbePlaneOptions, Reslice, in_plane_for_probe, plane_voxels,
    probe_side_direction, probes_eye_for_probe, probes_eye_normal_sign, render_reslice, reslice_volume,
    sample_hu, sample_mask, sample_plane_with,
};
use ablaplan::render::{WindowLevel, WlLut};
use ablaplan::volume::{SliceImage, SliceMapping, ViewKind, Volume, VolumeMeta, extract_slice};
use eframe::egui;
use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use nalgebra::{Point3, Rotation3, Vector3};

fn demo() -> &'static Volume {
    static DEMO: OnceLock<Volume> = OnceLock::new();
    DEMO.get_or_init(demo_volume)
}

/// Oblique direction cosines and anisotropic spacing, so nothing lines up with LPS.
fn oblique_geometry(dims: [usize; 3]) -> VolumeGeometry {
    VolumeGeometry {
        dims,
        spacing_mm: [0.7, 0.9, 1.6],
        origin_lps: Point3::new(-14.0, 7.5, 30.0),
        direction: *Rotation3::from_euler_angles(0.35, -0.25, 0.6).matrix(),
    }
}

/// HU = 3 i − 2 j + 5 k − 100: linear in the voxel index, hence in patient space.
fn ramp_hu(i: f64, j: f64, k: f64) -> f64 {
    3.0 * i - 2.0 * j + 5.0 * k - 100.0
}

fn ramp_volume() -> Volume {
    let g = oblique_geometry([40, 36, 24]);
    let [nx, ny, nz] = g.dims;
    let mut hu = Vec::with_capacity(nx * ny * nz);
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                hu.push(ramp_hu(i as f64, j as f64, k as f64) as i16);
            }
        }
    }
    Volume::new(g, hu, VolumeMeta::default()).expect("valid ramp volume")
}

/// The plane whose pixel centres are the voxel centres a view's slice shows.
fn plane_for_view(g: &VolumeGeometry, m: &SliceMapping, slice: usize) -> ObliquePlane {
    let s = slice as f64;
    let at = |u: f64, v: f64| g.to_patient(&m.voxel_of_pixel(u, v, s));
    let du = at(1.5, 0.5) - at(0.5, 0.5);
    let dv = at(0.5, 1.5) - at(0.5, 0.5);
    ObliquePlane::new(
        at(m.width as f64 / 2.0, m.height as f64 / 2.0),
        du,
        dv,
        [du.norm(), dv.norm()],
        m.width,
        m.height,
    )
    .expect("a view's plane is valid")
}

/// The voxels of `g` whose centres lie within `radius_mm` of `centre`.
fn sphere_mask(g: &VolumeGeometry, centre: PatientPos, radius_mm: f64) -> Mask {
    let [nx, ny, nz] = g.dims;
    let mut dense = vec![false; nx * ny * nz];
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let p = g.to_patient(&Vector3::new(i as f64, j as f64, k as f64));
                dense[i + nx * (j + ny * k)] = (p - centre).norm() <= radius_mm;
            }
        }
    }
    Mask::from_dense(g.dims, &dense)
}

/// A deterministic stream of numbers in [0, 1) (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn unit(&mut self) -> Vector3<f64> {
        loop {
            let v = Vector3::new(self.next() - 0.5, self.next() - 0.5, self.next() - 0.5);
            if v.norm() > 0.1 {
                return v.normalize();
            }
        }
    }
}

fn probe(tip: [f64; 3], entry: [f64; 3], exposure_mm: f64, label: &str) -> Probe {
    Probe {
        model_id: "nanoknife-19g".into(),
        tip_lps: Point3::from(tip),
        entry_lps: Point3::from(entry),
        exposure_mm,
        label: label.into(),
    }
}

/// For each view and three of its slices (`slices(slice_count)`): the view, the slice, the volume
/// resliced on the plane of the slice's voxel centres, and the slice itself (`extract_slice`).
fn view_plane_reslices(
    vol: &Volume,
    slices: impl Fn(usize) -> [usize; 3],
) -> Vec<(ViewKind, usize, Reslice, SliceImage)> {
    let mut out = Vec::new();
    for view in ViewKind::ALL {
        let m = vol.view_mapping(view);
        for slice in slices(m.slice_count) {
            let plane = plane_for_view(&vol.geometry, &m, slice);
            out.push((
                view,
                slice,
                reslice_volume(vol, &plane),
                extract_slice(vol, &m, slice),
            ));
        }
    }
    out
}

#[test]
fn axis_aligned_planes_reproduce_extract_slice_on_the_demo() {
    for (view, slice, r, expected) in view_plane_reslices(demo(), |n| [0, n / 3, n - 1]) {
        assert!(
            r.inside.iter().all(|b| *b),
            "{view:?} {slice}: every voxel centre is inside"
        );
        assert_eq!(r.image.width, expected.width);
        assert_eq!(r.image.height, expected.height);
        let diff = r
            .image
            .hu
            .iter()
            .zip(&expected.hu)
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(diff, 0, "{view:?} slice {slice}: {diff} pixels differ");
    }
}

#[test]
fn voxel_centres_are_exact_with_oblique_direction_cosines() {
    for (view, slice, r, expected) in view_plane_reslices(&ramp_volume(), |n| [0, n / 2, n - 1]) {
        assert!(r.inside.iter().all(|b| *b));
        assert_eq!(r.image.hu, expected.hu, "{view:?} slice {slice}");
    }
}

#[test]
fn trilinear_is_exact_for_a_linear_ramp_on_oblique_planes() {
    let vol = ramp_volume();
    let g = &vol.geometry;
    let centre = g.to_patient(&Vector3::new(19.5, 17.5, 11.5));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut checked = 0usize;
    for _ in 0..12 {
        let offset = rng.unit() * 6.0;
        let plane = ObliquePlane::new(centre + offset, rng.unit(), rng.unit(), [0.37, 0.53], 70, 60).unwrap();
        let r = reslice_volume(&vol, &plane);
        for row in 0..plane.height {
            for col in 0..plane.width {
                let p = plane.pixel_centre_lps(col, row);
                let v = g.to_voxel(&p);
                // Only where the 2×2×2 stencil is complete: the outer half voxel holds the edge.
                let interior = (0..3).all(|a| v[a] >= 0.0 && v[a] <= (g.dims[a] - 1) as f64);
                if !interior {
                    continue;
                }
                let expected = ramp_hu(v.x, v.y, v.z);
                let got = sample_hu(&vol, &p).expect("inside");
                assert!((got - expected).abs() < 1e-9, "at {p:?}: {got} vs {expected}");
                let n = row * plane.width + col;
                assert!(r.inside[n]);
                let stored = f64::from(r.image.hu[n]);
                assert!(
                    (stored - expected).abs() <= 0.5 + 1e-9,
                    "pixel {col},{row}: {stored} vs {expected}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 10_000, "only {checked} interior pixels were checked");
}

#[test]
fn outside_pixels_are_flagged_and_drawn_black() {
    let vol = ramp_volume();
    let g = &vol.geometry;
    // Centred on a corner voxel: about three quarters of the image hangs outside.
    let corner = g.to_patient(&Vector3::new(0.0, 0.0, 5.0));
    let plane = ObliquePlane::new(
        corner,
        g.axis_dir(0),
        g.axis_dir(1) + g.axis_dir(2) * 0.3,
        [0.5; 2],
        50,
        50,
    )
    .unwrap();
    let r = reslice_volume(&vol, &plane);
    let pv = plane_voxels(g, &plane);
    let mut inside = 0;
    for (n, flag) in r.inside.iter().enumerate() {
        let p = plane.pixel_centre_lps(n % plane.width, n / plane.width);
        let v = g.to_voxel(&p);
        let expected = (0..3).all(|a| v[a] >= -0.5 && v[a] <= g.dims[a] as f64 - 0.5);
        assert_eq!(*flag, expected, "pixel {n} at voxel {v:?}");
        if !flag {
            assert_eq!(r.image.hu[n], OUTSIDE_HU);
        } else {
            inside += 1;
        }
        // Nearest-voxel sampling for masks agrees about what is inside (away from the rim where
        // rounding of exact half voxels could go either way).
        let clear = (0..3).all(|a| v[a] > -0.49 && v[a] < g.dims[a] as f64 - 0.51)
            || (0..3).any(|a| v[a] < -0.51 || v[a] > g.dims[a] as f64 - 0.49);
        if clear {
            assert_eq!(pv.voxels[n].is_some(), expected, "pixel {n}");
        }
    }
    assert!(
        inside > 100 && inside < plane.pixel_count() - 100,
        "{inside} inside"
    );

    // A low window would show air as grey; outside must stay black.
    let lut = WlLut::new(WindowLevel::new(-1500.0, 400.0));
    let mut rgba = Vec::new();
    render_reslice(&r, &lut, &mut rgba);
    for (px, flag) in rgba.chunks_exact(4).zip(&r.inside) {
        if !flag {
            assert_eq!(px, [0, 0, 0, 255]);
        }
    }

    let far = ObliquePlane::new(
        corner + Vector3::new(500.0, 0.0, 0.0),
        Vector3::x(),
        Vector3::z(),
        [1.0; 2],
        8,
        8,
    )
    .unwrap();
    let r = reslice_volume(&vol, &far);
    assert!(r.inside.iter().all(|b| !b) && r.image.hu.iter().all(|h| *h == OUTSIDE_HU));
    assert!(sample_hu(&vol, &far.centre_lps).is_none());
}

#[test]
fn a_sphere_cut_by_an_oblique_plane_is_a_disc_of_the_right_radius() {
    let g = VolumeGeometry {
        dims: [70, 70, 44],
        spacing_mm: [0.6, 0.6, 1.0],
        origin_lps: Point3::new(-20.0, -20.0, -22.0),
        direction: *Rotation3::from_euler_angles(0.0, 0.0, 0.4).matrix(),
    };
    let centre = g.to_patient(&Vector3::new(34.5, 35.0, 21.5));
    let radius_mm = 12.0;
    let mask = sphere_mask(&g, centre, radius_mm);
    let voxel_mm = g.spacing_mm.iter().cloned().fold(0.0, f64::max);
    let half_diag = 0.5 * g.spacing_mm.iter().map(|s| s * s).sum::<f64>().sqrt();
    let mut rng = Rng(12345);
    for offset_mm in [0.0, 4.0, 7.5] {
        let n = rng.unit();
        let u = n.cross(&rng.unit()).normalize();
        let v = n.cross(&u);
        let pixel = 0.25;
        let plane = ObliquePlane::new(centre + n * offset_mm, u, v, [pixel; 2], 120, 120).unwrap();
        let disc = sample_mask(&mask, &plane_voxels(&g, &plane));
        let expected_r = (radius_mm * radius_mm - offset_mm * offset_mm).sqrt();
        let area = disc.iter().filter(|b| **b).count() as f64 * pixel * pixel;
        let r_eq = (area / std::f64::consts::PI).sqrt();
        assert!(
            (r_eq - expected_r).abs() <= voxel_mm,
            "offset {offset_mm}: equivalent radius {r_eq:.2} mm, expected {expected_r:.2} ± {voxel_mm}"
        );
        // Shape, not just area: every set pixel near the disc, every pixel well inside set.
        for (idx, set) in disc.iter().enumerate() {
            let p = plane.pixel_centre_lps(idx % plane.width, idx / plane.width);
            let d = (p - (centre + n * offset_mm)).norm();
            if *set {
                assert!(d <= expected_r + 2.0 * half_diag, "set pixel at {d:.2} mm");
            } else {
                assert!(d >= expected_r - 2.0 * half_diag, "unset pixel at {d:.2} mm");
            }
        }
    }
    // A mask on another grid cannot be placed: nothing is drawn.
    let other = Mask::from_dense([2, 2, 2], &[true; 8]);
    let plane = ObliquePlane::new(centre, Vector3::x(), Vector3::y(), [1.0; 2], 10, 10).unwrap();
    assert!(sample_mask(&other, &plane_voxels(&g, &plane)).iter().all(|b| !b));
}

#[test]
fn sample_plane_with_visits_pixel_centres_row_major() {
    let plane = ObliquePlane::new(
        Point3::new(5.0, -3.0, 2.0),
        Vector3::new(1.0, 0.2, 0.0),
        Vector3::new(0.0, 0.3, 1.0),
        [0.8, 1.1],
        13,
        9,
    )
    .unwrap();
    let got = sample_plane_with(&plane, |p| p);
    assert_eq!(got.len(), 13 * 9);
    for (n, p) in got.iter().enumerate() {
        let expected = plane.pixel_centre_lps(n % 13, n / 13);
        assert!((p - expected).norm() < 1e-12);
        assert!(plane.project(p).dist_mm.abs() < 1e-9);
    }
}

#[test]
fn probe_planes_contain_the_probe_and_follow_its_axis() {
    let g = demo().geometry.clone();
    let probes = [
        probe([42.0, 10.0, -200.0], [75.0, 120.0, -170.0], 20.0, "oblique"),
        probe([0.0, 0.0, -200.0], [0.0, 150.0, -200.0], 15.0, "posterior"),
        probe([0.0, 0.0, -200.0], [-150.0, 5.0, -200.0], 25.0, "left-right"),
        probe([10.0, 0.0, -200.0], [10.0, 0.0, -60.0], 20.0, "cranio-caudal"),
    ];
    for p in &probes {
        let axis = p.axis().unwrap();
        for angle_deg in [0.0, 37.0, 90.0, -150.0] {
            for depth_mm in [0.0, 10.0, -12.5] {
                let opts = ProbePlaneOptions {
                    angle_deg,
                    depth_mm,
                    field_of_view_mm: 80.0,
                };
                let ip = in_plane_for_probe(p, &g, &opts).unwrap();
                let eye = probes_eye_for_probe(p, &g, &opts).unwrap();
                let what = format!("{} at {angle_deg}°, depth {depth_mm}", p.label);

                // In-plane: tip and entry on the centre column, in the plane, tip below entry.
                let (tip, entry) = (ip.project(&p.tip_lps), ip.project(&p.entry_lps));
                let mid = ip.width as f64 / 2.0;
                for (name, pt) in [("tip", tip), ("entry", entry)] {
                    assert!(
                        (pt.px[0] - mid).abs() < 1e-9,
                        "{what}: {name} at column {}",
                        pt.px[0]
                    );
                    assert!(
                        pt.dist_mm.abs() < 1e-9,
                        "{what}: {name} {} mm off the plane",
                        pt.dist_mm
                    );
                }
                assert!(
                    tip.px[1] > entry.px[1],
                    "{what}: the tip is drawn below the entry"
                );
                assert!(ip.normal().dot(&axis).abs() < 1e-12);
                // The middle of the exposure is the image centre.
                let centre = p.exposed_segment().unwrap().midpoint();
                let c = ip.project(&centre);
                assert!((c.px[0] - mid).abs() < 1e-9 && (c.px[1] - ip.height as f64 / 2.0).abs() < 1e-9);

                // Probe's-eye: normal = ± axis (the sign keeps the radiological orientation),
                // centred on the axis at the depth.
                let sign = probes_eye_normal_sign(&axis);
                assert!(
                    (eye.normal() - axis * sign).norm() < 1e-12,
                    "{what}: normal {:?}",
                    eye.normal()
                );
                let t = eye.project(&p.tip_lps);
                assert!(
                    (t.dist_mm - sign * depth_mm).abs() < 1e-9,
                    "{what}: tip at {} mm",
                    t.dist_mm
                );
                assert!((t.px[0] - eye.width as f64 / 2.0).abs() < 1e-9);
                assert!((t.px[1] - eye.height as f64 / 2.0).abs() < 1e-9);
                // Both images share the horizontal direction, so the in-plane plane cuts the
                // probe's-eye image along its centre row.
                assert!((ip.u_dir - eye.u_dir).norm() < 1e-12);
                let on_row = eye.lps_at([3.0, eye.height as f64 / 2.0]);
                assert!(ip.project(&on_row).dist_mm.abs() < 1e-9);
                let off_row = eye.lps_at([3.0, eye.height as f64 / 2.0 + 4.0]);
                assert!(ip.project(&off_row).dist_mm.abs() > 1.0);
            }
        }
        // Angle 0: the perpendicular closest to left–right (A–P for a left–right probe).
        let u0 = in_plane_for_probe(p, &g, &ProbePlaneOptions::default())
            .unwrap()
            .u_dir;
        let target = if axis.x.abs() > 0.9 {
            Vector3::y()
        } else {
            Vector3::x()
        };
        let best = (target - axis * axis.dot(&target)).normalize();
        assert!((u0 - best).norm() < 1e-12, "{}: {u0:?} vs {best:?}", p.label);
        assert_eq!(probe_side_direction(&axis), best);
        let u90 = in_plane_for_probe(
            p,
            &g,
            &ProbePlaneOptions {
                angle_deg: 90.0,
                ..Default::default()
            },
        )
        .unwrap()
        .u_dir;
        assert!(u90.dot(&u0).abs() < 1e-12 && u90.dot(&axis).abs() < 1e-12);
    }
    // Pixel size = the CT's in-plane spacing at the default field of view.
    let ip = in_plane_for_probe(&probes[0], &g, &ProbePlaneOptions::default()).unwrap();
    assert_eq!(ip.pixel_mm, [0.8, 0.8]);
    assert_eq!(ip.width, 100);
    // A degenerate probe is an error, not a panic.
    let bad = probe([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], 20.0, "bad");
    assert!(in_plane_for_probe(&bad, &g, &ProbePlaneOptions::default()).is_err());
}

#[test]
fn probe_view_of_the_demo_shows_the_target_under_the_tip() {
    let vol = demo();
    // Into the centre of the demo's para-aortic node (≈ 45 HU) from the left flank.
    let p = probe([42.0, 4.0, -200.0], [150.0, 40.0, -190.0], 20.0, "1");
    let opts = ProbePlaneOptions {
        depth_mm: 0.0,
        ..Default::default()
    };
    for plane in [
        in_plane_for_probe(&p, &vol.geometry, &opts).unwrap(),
        probes_eye_for_probe(&p, &vol.geometry, &opts).unwrap(),
    ] {
        let r = reslice_volume(vol, &plane);
        let tip = plane.project(&p.tip_lps).px;
        let n = tip[1] as usize * plane.width + tip[0] as usize;
        assert!(r.inside[n]);
        assert!(
            (0..=90).contains(&r.image.hu[n]),
            "HU {} at the tip (node ≈ 45 HU)",
            r.image.hu[n]
        );
    }
}

fn sphere_structure(g: &VolumeGeometry, centre: PatientPos, radius_mm: f64) -> Structure {
    Structure::new(
        "Target",
        StructureKind::Target,
        Provenance::Drawn,
        sphere_mask(g, centre, radius_mm),
    )
}

/// The widget's state plus the zone it is given, so a test can swap the zone between frames.
type ViewState = (ProbeView, Option<IreResult>);

fn view_harness(probes: Vec<Probe>) -> Harness<'static, ViewState> {
    let vol = ramp_volume();
    let centre = vol.geometry.to_patient(&Vector3::new(20.0, 18.0, 12.0));
    let structures = vec![sphere_structure(&vol.geometry, centre, 6.0)];
    let wl = WindowLevel::new(0.0, 400.0);
    Harness::builder()
        .with_size(egui::Vec2::new(1000.0, 600.0))
        .build_ui_state(
            move |ui, (view, zone): &mut ViewState| {
                view.ui(ui, &vol, 1, &structures, &probes, 0, zone.as_ref(), wl);
            },
            (ProbeView::default(), None),
        )
}

/// A spherical "zone" on an LPS-aligned grid (the model's output format), for drawing only.
fn sphere_zone(centre: PatientPos, radius_mm: f64) -> IreResult {
    let spacing_mm = 1.0;
    let n = (2.0 * radius_mm / spacing_mm).ceil() as usize + 5;
    let grid = ComputeGrid {
        origin_lps: centre - Vector3::repeat(0.5 * (n - 1) as f64 * spacing_mm),
        spacing_mm,
        dims: [n; 3],
    };
    let zone: Vec<bool> = (0..grid.len())
        .map(|idx| {
            let [i, j, k] = grid.ijk(idx);
            (grid.lps(i, j, k) - centre).norm() <= radius_mm
        })
        .collect();
    let max_e_v_per_cm = zone.iter().map(|z| if *z { 800.0 } else { 200.0 }).collect();
    IreResult {
        grid,
        max_e_v_per_cm,
        threshold_v_per_cm: vec![500.0; zone.len()],
        zone_volume_ml: zone.iter().filter(|z| **z).count() as f64 * 1e-3,
        zone,
        pairs: Vec::new(),
        linear_iterations: 0,
        elapsed_s: radius_mm,
        preview: true,
        description: "test sphere".into(),
        band: None,
        heating: None,
    }
}

#[test]
fn probe_view_without_probes_explains_instead_of_drawing() {
    let mut h = view_harness(Vec::new());
    h.run_steps(2);
    h.get_by_label_contains("No probe placed");
    assert!(h.query_by_role_and_label(Role::Slider, "Depth (mm)").is_none());
    assert_eq!(h.state().0.reslice_count(), 0);
}

#[test]
fn probe_view_with_one_probe_shows_controls_images_and_caches() {
    let vol = ramp_volume();
    let tip = vol.geometry.to_patient(&Vector3::new(20.0, 18.0, 12.0));
    let p = probe(
        [tip.x, tip.y, tip.z],
        [tip.x + 30.0, tip.y + 60.0, tip.z + 10.0],
        20.0,
        "1",
    );
    let mut h = view_harness(vec![p]);
    h.run_steps(3);
    h.get_by_role_and_label(Role::Slider, "Depth (mm)");
    h.get_by_role_and_label(Role::Slider, "Rotate (°)");
    h.get_by_label("In-plane view");
    let eye = h.get_by_label("Probe's-eye view").rect().center();
    // The depth starts at the middle of the exposure; both images sampled once, and again only
    // when something changes.
    assert_eq!(h.state().0.depth_mm, 10.0);
    let rendered = h.state().0.reslice_count();
    assert_eq!(rendered, 2);
    assert_eq!(h.state().0.overlay_count(), 2);
    h.run_steps(3);
    assert_eq!(
        h.state().0.reslice_count(),
        rendered,
        "nothing changed, nothing resliced"
    );

    // One wheel notch forward over the probe's-eye image moves the plane 1 mm towards the tip.
    h.event(egui::Event::PointerMoved(eye));
    h.run_steps(1);
    h.event(egui::Event::MouseWheel {
        unit: egui::MouseWheelUnit::Line,
        delta: egui::vec2(0.0, 1.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: egui::Modifiers::NONE,
    });
    h.run_steps(2);
    assert!(
        (h.state().0.depth_mm - 9.0).abs() < 1e-9,
        "depth {}",
        h.state().0.depth_mm
    );
    // Only the probe's-eye plane moved.
    assert_eq!(h.state().0.reslice_count(), rendered + 1);

    h.state_mut().0.angle_deg = 45.0;
    h.run_steps(2);
    assert_eq!(
        h.state().0.reslice_count(),
        rendered + 3,
        "rotation changes both planes"
    );

    // A zone arrives: the overlays are sampled again, the CT is not.
    let overlays = h.state().0.overlay_count();
    h.state_mut().1 = Some(sphere_zone(tip, 8.0));
    h.run_steps(2);
    assert_eq!(h.state().0.overlay_count(), overlays + 2);
    assert_eq!(h.state().0.reslice_count(), rendered + 3);
    h.run_steps(2);
    assert_eq!(
        h.state().0.overlay_count(),
        overlays + 2,
        "same zone, no resampling"
    );
}
