//! The exported 3-D picture: something drawn, the target in the middle, projection and depth
//! test right.

use super::*;
use crate::render::mesh::shapes::sphere;
use crate::render::scene3d::pick::pick;
use crate::render::scene3d::{Part, SceneObject};
use std::sync::Arc;

const BG: [u8; 4] = [0, 0, 0, 255];

fn ball(part: Part, centre: Vector3<f64>, r: f64, rgb: [u8; 3], alpha: f32) -> SceneObject {
    SceneObject {
        part,
        mesh: Arc::new(sphere(centre, r, 24, 32)),
        rgb,
        alpha,
        highlighted: false,
    }
}

fn px(img: &RgbaImage, x: f64, y: f64) -> [u8; 4] {
    img.get(x.floor() as i64, y.floor() as i64)
        .expect("inside the image")
}

#[test]
fn the_target_is_drawn_in_the_centre_of_a_fitted_view() {
    let centre = Vector3::new(-40.0, 120.0, -300.0);
    let scene = Scene {
        objects: vec![ball(Part::Structure(0), centre, 15.0, [230, 60, 60], 1.0)],
    };
    let cam = Camera::fitted([-55.0, 105.0, -315.0], [-25.0, 135.0, -285.0]);
    let img = render_scene(&scene, &cam, 160, 120, BG, 1);
    let c = px(&img, 80.0, 60.0);
    assert!(c[0] > 150 && c[1] < 80, "centre pixel {c:?} is the red target");
    assert_eq!(px(&img, 2.0, 2.0), BG, "corners stay background");
    let drawn = img.pixels.chunks(4).filter(|p| p[..3] != BG[..3]).count();
    assert!(drawn > 160 * 120 / 10, "a visible disc: {drawn} pixels");
}

#[test]
fn a_known_point_projects_to_the_expected_pixel() {
    // Looking from the front (−y) at the origin from 100 mm with a 90° field of view: a point
    // 50 mm to the patient's left and 25 mm up in the target's plane (tan 45° · 100 mm = 100 mm
    // to the edge) lands at x = (1 + 50/100) / 2 · W, y = (1 − 25/100) / 2 · H.
    let cam = Camera {
        target_lps: Vector3::zeros(),
        distance_mm: 100.0,
        fov_y_rad: std::f64::consts::FRAC_PI_2,
        ..Camera::default()
    };
    let (w, h) = (200.0, 200.0);
    let p = Vector3::new(50.0, 0.0, 25.0);
    let (x, y, _) = cam.project(p, w, h).expect("in front");
    assert!((x - 150.0).abs() < 1e-9 && (y - 75.0).abs() < 1e-9, "({x}, {y})");
    // And the rasteriser puts a small ball there.
    let scene = Scene {
        objects: vec![ball(Part::Structure(0), p, 3.0, [0, 255, 0], 1.0)],
    };
    let img = render_scene(&scene, &cam, 200, 200, BG, 1);
    assert!(px(&img, 150.0, 75.0)[1] > 100, "ball drawn at (150, 75)");
    assert_eq!(px(&img, 100.0, 100.0), BG, "nothing at the centre");
}

#[test]
fn nearer_opaque_objects_hide_farther_ones_and_translucent_ones_tint() {
    let cam = Camera {
        target_lps: Vector3::zeros(),
        distance_mm: 200.0,
        ..Camera::default()
    };
    // Red behind (posterior, +y), blue in front: blue wins whatever the list order.
    let red = ball(
        Part::Structure(0),
        Vector3::new(0.0, 20.0, 0.0),
        15.0,
        [255, 0, 0],
        1.0,
    );
    let blue = ball(
        Part::Structure(1),
        Vector3::new(0.0, -20.0, 0.0),
        10.0,
        [0, 0, 255],
        1.0,
    );
    for objects in [vec![red.clone(), blue.clone()], vec![blue.clone(), red.clone()]] {
        let img = render_scene(&Scene { objects }, &cam, 100, 100, BG, 1);
        let c = px(&img, 50.0, 50.0);
        assert!(c[2] > 100 && c[0] == 0, "{c:?}: the front ball");
    }
    // A translucent zone in front of the red ball lets it show through, tinted.
    let zone = ball(Part::Zone, Vector3::new(0.0, -20.0, 0.0), 10.0, [0, 0, 255], 0.3);
    let img = render_scene(
        &Scene {
            objects: vec![zone, red],
        },
        &cam,
        100,
        100,
        BG,
        1,
    );
    let c = px(&img, 50.0, 50.0);
    assert!(c[0] > 60 && c[2] > 20, "{c:?}: red through a blue veil");
}

#[test]
fn a_click_picks_the_nearest_opaque_structure_through_the_zone() {
    let cam = Camera {
        target_lps: Vector3::zeros(),
        distance_mm: 200.0,
        ..Camera::default()
    };
    let scene = Scene {
        objects: vec![
            ball(Part::Zone, Vector3::new(0.0, -30.0, 0.0), 12.0, [0, 0, 255], 0.3),
            ball(
                Part::Structure(4),
                Vector3::new(0.0, 10.0, 0.0),
                8.0,
                [255, 0, 0],
                1.0,
            ),
        ],
    };
    let hit = pick(&scene, &cam, 50.0, 50.0, 100.0, 100.0).expect("the structure");
    assert_eq!(hit.part, Part::Structure(4));
    // The front of the ball: 8 mm anterior of its centre.
    assert!(
        (hit.point_lps - Vector3::new(0.0, 2.0, 0.0)).norm() < 0.3,
        "{:?}",
        hit.point_lps
    );
    assert!(pick(&scene, &cam, 2.0, 2.0, 100.0, 100.0).is_none());
}

#[test]
fn the_picture_does_not_depend_on_the_number_of_threads() {
    // Overlapping opaque and translucent balls across many row bands: each band must see the
    // same writes, in the same order, as one serial pass.
    let cam = Camera {
        target_lps: Vector3::zeros(),
        distance_mm: 120.0,
        ..Camera::default()
    };
    let scene = Scene {
        objects: vec![
            ball(
                Part::Structure(0),
                Vector3::new(-10.0, 10.0, 5.0),
                25.0,
                [200, 40, 40],
                1.0,
            ),
            ball(
                Part::Structure(1),
                Vector3::new(15.0, -5.0, -10.0),
                18.0,
                [40, 40, 220],
                1.0,
            ),
            ball(
                Part::Zone,
                Vector3::new(0.0, -15.0, 0.0),
                22.0,
                [250, 200, 0],
                0.35,
            ),
        ],
    };
    let render_with = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("a thread pool")
            .install(|| render_scene(&scene, &cam, 301, 257, BG, 2))
    };
    let one = render_with(1);
    assert!(one.pixels.chunks(4).any(|p| p[..3] != BG[..3]), "something drawn");
    for threads in [2, 3, 8] {
        assert!(
            render_with(threads).pixels == one.pixels,
            "{threads} threads draw the same picture as one"
        );
    }
}
