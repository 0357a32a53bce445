//! CPU view export: PNG size at 1× / 2× / 4×, equality with the screen's slice rendering at 1×,
//! overlays changing the pixels where they should, orientation letters from the geometry, the
//! anonymise flag at the text level, and text that actually renders.

use ablaplan::anatomy::mask::Mask;
use ablaplan::demo::demo_volume;
use ablaplan::export::view::{ISOLINE_RGB, identifying_strings};
use ablaplan::export::{
    CaliperOverlay, Isoline, Overlay, ProbeOverlay, StructureOverlay, ViewExport, ViewPlane, ZoneOverlay,
    render_view,
};
use ablaplan::geometry::{PatientPos, VolumeGeometry};
use ablaplan::render::reslice::ObliquePlane;
use ablaplan::render::{WindowLevel, WlLut, render_slice, save_png};
use ablaplan::volume::{ViewKind, Volume, VolumeMeta, extract_slice};
use nalgebra::{Matrix3, Point3, Vector3};

/// An `n × n × nz` block of water (0 HU) at 1 mm, voxel (0, 0, 0) at the origin, with the given
/// direction matrix, and identifying header data.
fn water_n(n: usize, nz: usize, direction: Matrix3<f64>) -> Volume {
    let g = VolumeGeometry {
        dims: [n, n, nz],
        spacing_mm: [1.0; 3],
        origin_lps: Point3::origin(),
        direction,
    };
    let meta = VolumeMeta {
        patient_name: "DOE^JANE".into(),
        patient_id: "PID-778899".into(),
        patient_birth_date: "19610203".into(),
        study_date: "20240105".into(),
        study_description: "CT abdomen Jane Doe follow-up".into(),
        series_description: "Portal venous".into(),
        institution: "St Elsewhere".into(),
        ..VolumeMeta::default()
    };
    let count = g.voxel_count();
    Volume::new(g, vec![0; count], meta).unwrap()
}

fn water(direction: Matrix3<f64>) -> Volume {
    water_n(64, 21, direction)
}

fn plain(volume: &Volume, plane: ViewPlane) -> ViewExport<'_> {
    let mut e = ViewExport::new(volume, plane);
    e.window = WindowLevel::new(0.0, 400.0);
    e.annotations = false;
    e
}

fn px(img: &ablaplan::render::RgbaImage, p: [f64; 2]) -> [u8; 4] {
    img.get(p[0].floor() as i64, p[1].floor() as i64).unwrap()
}

#[test]
fn png_has_the_requested_size_and_decodes() {
    let v = demo_volume();
    let dir = tempfile::tempdir().unwrap();
    for scale in [1u32, 2, 4] {
        let mut e = ViewExport::new(
            &v,
            ViewPlane::Mpr {
                view: ViewKind::Axial,
                slice: 64,
            },
        );
        e.scale = scale;
        let img = render_view(&e).unwrap();
        let path = dir.path().join(format!("axial_{scale}x.png"));
        save_png(&path, &img.image).unwrap();
        let back = image::open(&path).unwrap().to_rgba8();
        // 480 × 400 pixels of 0.8 mm: exactly scale × the slice.
        assert_eq!(back.dimensions(), (480 * scale, 400 * scale), "{scale}×");
        assert_eq!(back.as_raw(), &img.image.pixels);
    }
    // Coronal: 0.8 mm across, 2.0 mm slices: square output pixels of 0.8 / scale mm, so the
    // height is 130 · 2.0 / 0.8 = 325 rows at 1×.
    let mut e = ViewExport::new(
        &v,
        ViewPlane::Mpr {
            view: ViewKind::Coronal,
            slice: 200,
        },
    );
    e.scale = 2;
    let img = render_view(&e).unwrap();
    assert_eq!((img.image.width, img.image.height), (960, 650));
    e.scale = 0;
    assert!(render_view(&e).is_err());
    e.scale = 16;
    assert!(render_view(&e).is_err());
}

#[test]
fn one_x_equals_the_screen_rendering() {
    let v = demo_volume();
    for (view, slice) in [(ViewKind::Axial, 70), (ViewKind::Sagittal, 250)] {
        let e = plain(&v, ViewPlane::Mpr { view, slice });
        let img = render_view(&e).unwrap();
        let m = v.view_mapping(view);
        let s = extract_slice(&v, &m, slice);
        let mut screen = Vec::new();
        render_slice(&s, &WlLut::new(e.window), &mut screen);
        if view == ViewKind::Axial {
            assert_eq!(
                img.image.pixels, screen,
                "{view:?}: pixel centres are voxel centres"
            );
        } else {
            // Sagittal 2.0 mm slices shown with square 0.8 mm pixels: rows are interpolated; the
            // columns at voxel centres still match row 0 exactly (its centre is a voxel centre).
            assert_eq!(img.image.width, s.width);
            assert_eq!(img.image.pixels[..s.width * 4], screen[..s.width * 4]);
        }
    }
}

#[test]
fn overlays_change_the_pixels_where_expected() {
    let v = water(Matrix3::identity());
    let slice = 10;
    let plane = ViewPlane::Mpr {
        view: ViewKind::Axial,
        slice,
    };
    let background = {
        let img = render_view(&plain(&v, plane.clone())).unwrap();
        px(&img.image, [5.5, 5.5])
    };
    // A probe lying in the slice (z = 10 mm), tip at x = 40, entry at x = 10, 15 mm exposed; and
    // one crossing the slice perpendicularly at (20, 45).
    let probes = vec![
        ProbeOverlay {
            label: "1".into(),
            tip_lps: Point3::new(40.0, 20.0, 10.0),
            entry_lps: Point3::new(10.0, 20.0, 10.0),
            exposure_mm: 15.0,
            diameter_mm: 1.1,
        },
        ProbeOverlay {
            label: "2".into(),
            tip_lps: Point3::new(20.0, 45.0, 4.0),
            entry_lps: Point3::new(20.0, 45.0, 20.0),
            exposure_mm: 10.0,
            diameter_mm: 1.1,
        },
    ];
    let mut dense = vec![false; 64 * 64 * 21];
    for j in 50..60 {
        for i in 45..58 {
            dense[i + 64 * (j + 64 * slice)] = true;
        }
    }
    let mask = Mask::from_dense([64, 64, 21], &dense);
    let centre = Point3::new(12.0, 50.0, 10.0);
    let mut e = plain(&v, plane.clone());
    e.scale = 2;
    e.overlays = vec![
        Overlay::Structure(StructureOverlay {
            name: "node".into(),
            mask: &mask,
            colour: [255, 0, 0],
            fill_opacity: 0.5,
        }),
        Overlay::Zone(ZoneOverlay {
            name: "zone".into(),
            colour: [0, 0, 255],
            fill_opacity: 0.4,
            inside: Box::new(move |p: &PatientPos| (p - centre).norm() < 6.0),
            field: Some(Box::new(move |p: &PatientPos| (p - centre).norm() as f32)),
            isolines: vec![Isoline {
                value: 9.0,
                label: "9 mm".into(),
                colour: ISOLINE_RGB[2],
            }],
            bounds_lps: None,
            band: Vec::new(),
            outlines: Vec::new(),
        }),
        Overlay::Caliper(CaliperOverlay {
            a_lps: Point3::new(5.0, 5.0, 10.0),
            b_lps: Point3::new(5.0, 25.0, 10.0),
            label: None,
        }),
        Overlay::Probes(probes),
    ];
    let img = render_view(&e).unwrap();
    if let Ok(d) = std::env::var("ABLAPLAN_SNAPSHOT_DIR") {
        save_png(std::path::Path::new(&d).join("export_overlays.png"), &img.image).unwrap();
    }
    let at = |p: Point3<f64>| img.plane.project(&p).px;
    // Exposed part (tip to 15 mm back) in the exposed colour, the insulated shaft in its colour.
    assert_eq!(
        px(&img.image, at(Point3::new(32.0, 20.0, 10.0))),
        [255, 200, 60, 255]
    );
    assert_eq!(
        px(&img.image, at(Point3::new(15.0, 20.0, 10.0))),
        [225, 225, 235, 255]
    );
    // Off the probe: background.
    assert_eq!(px(&img.image, at(Point3::new(50.0, 35.0, 10.0))), background);
    // The crossing probe: a ring of radius 5.5 px (× 2 at 2×) around its crossing point, in the
    // exposed colour (the slice cuts it 6 mm from the tip, inside the 10 mm exposure).
    let x = at(Point3::new(20.0, 45.0, 10.0));
    assert_eq!(px(&img.image, [x[0] + 11.0, x[1] + 0.5]), [255, 200, 60, 255]);
    // Structure: fill blended half-way to red inside, opaque outline on its edge.
    let inside = px(&img.image, at(Point3::new(50.0, 55.0, 10.0)));
    assert_eq!(
        inside[0],
        ((f32::from(background[0]) * 0.5 + 127.5).round()) as u8
    );
    assert!(inside[1] < background[1]);
    let edge = px(
        &img.image,
        [
            at(Point3::new(44.5, 55.0, 10.0))[0],
            at(Point3::new(0.0, 55.0, 10.0))[1],
        ],
    );
    assert_eq!(edge, [255, 0, 0, 255], "outline on the voxel edge x = 44.5 mm");
    // Zone: blue fill inside, isoline colour on the 9 mm circle, untouched between.
    let z = px(&img.image, at(centre));
    assert!(z[2] > background[2] && z[0] < background[0], "{z:?}");
    let iso = px(&img.image, at(Point3::new(12.0, 41.0, 10.0)));
    let c = ISOLINE_RGB[2];
    assert!(
        iso[0].abs_diff(c[0]) < 40 && iso[1].abs_diff(c[1]) < 40,
        "{iso:?}"
    );
    // 7.75 mm from the centre (the pixel holding y = 42.4 mm has its centre at 42.25 mm): beyond
    // the zone outline (6 mm ± 1 mm stroke ± 0.25 mm anti-aliasing) and before the isoline.
    assert_eq!(px(&img.image, at(Point3::new(12.0, 42.4, 10.0))), background);
    // Caliper: its colour on the line and its length as text.
    assert_eq!(
        px(&img.image, at(Point3::new(5.0, 15.0, 10.0))),
        [80, 220, 255, 255]
    );
    let texts: Vec<&str> = img.texts.iter().map(|t| t.text.as_str()).collect();
    assert!(
        texts.contains(&"20.0 mm") && texts.contains(&"1") && texts.contains(&"2"),
        "{texts:?}"
    );
}

/// The letter drawn nearest to each edge midpoint: (left, right, top, bottom).
fn edge_letters(img: &ablaplan::export::ViewImage) -> [String; 4] {
    let (w, h) = (img.image.width as f64, img.image.height as f64);
    let targets = [[0.0, h / 2.0], [w, h / 2.0], [w / 2.0, 0.0], [w / 2.0, h]];
    targets.map(|t| {
        img.texts
            .iter()
            .min_by(|a, b| {
                let d = |r: &[f64; 4]| ((r[0] + r[2]) / 2.0 - t[0]).hypot((r[1] + r[3]) / 2.0 - t[1]);
                d(&a.rect).total_cmp(&d(&b.rect))
            })
            .map(|t| t.text.clone())
            .unwrap_or_default()
    })
}

#[test]
fn orientation_letters_come_from_the_geometry() {
    // Large enough that the corner text leaves most of the image free.
    let standard = water_n(200, 120, Matrix3::identity());
    // Feet first prone: i → R, j → A, k → I.
    let flipped = water_n(200, 120, Matrix3::from_diagonal(&Vector3::new(-1.0, -1.0, -1.0)));
    for v in [&standard, &flipped] {
        let mut hu = v.hu.clone();
        // A bright voxel on the patient's left half (larger LPS x): column 150 when i runs
        // towards L, column 49 when it runs towards R; row 80 is clear of the corner text.
        let i = if v.geometry.direction[(0, 0)] > 0.0 {
            150
        } else {
            49
        };
        let idx = v.geometry.index(i, 80, 10).unwrap();
        hu[idx] = 1000;
        let v2 = Volume::new(v.geometry.clone(), hu, v.meta.clone()).unwrap();
        let mut e = ViewExport::new(
            &v2,
            ViewPlane::Mpr {
                view: ViewKind::Axial,
                slice: 10,
            },
        );
        e.window = WindowLevel::new(0.0, 400.0);
        let img = render_view(&e).unwrap();
        if let Ok(d) = std::env::var("ABLAPLAN_SNAPSHOT_DIR") {
            let name = format!("export_letters_{}.png", v.geometry.direction[(0, 0)]);
            save_png(std::path::Path::new(&d).join(name), &img.image).unwrap();
        }
        assert_eq!(edge_letters(&img), ["R", "L", "A", "P"].map(String::from));
        // Radiological convention from the same geometry: the left-side voxel is on the right.
        let bright = img
            .image
            .pixels
            .chunks_exact(4)
            .position(|p| p == [255, 255, 255, 255])
            .unwrap()
            % img.image.width;
        assert!(
            bright > img.image.width / 2,
            "left of the patient on the right of the image"
        );
        let mut s = ViewExport::new(
            &v2,
            ViewPlane::Mpr {
                view: ViewKind::Sagittal,
                slice: 30,
            },
        );
        s.window = e.window;
        assert_eq!(
            edge_letters(&render_view(&s).unwrap()),
            ["A", "P", "S", "I"].map(String::from)
        );
    }
    // An oblique plane looking from the feet with right = patient right, down = posterior…
    let plane = ObliquePlane::new(
        Point3::new(100.0, 100.0, 10.0),
        Vector3::new(-1.0, 0.0, 0.0),
        Vector3::new(0.0, 1.0, 0.0),
        [1.0; 2],
        200,
        200,
    )
    .unwrap();
    let e = ViewExport::new(
        &standard,
        ViewPlane::Oblique {
            plane,
            name: "oblique".into(),
            slab_mm: 0.5,
        },
    );
    assert_eq!(
        edge_letters(&render_view(&e).unwrap()),
        ["L", "R", "A", "P"].map(String::from)
    );
    // …and tilted 30° about L–R: the top edge gets a second letter.
    let (s, c) = 30f64.to_radians().sin_cos();
    let plane = ObliquePlane::new(
        Point3::new(100.0, 100.0, 10.0),
        Vector3::new(1.0, 0.0, 0.0),
        Vector3::new(0.0, c, -s),
        [1.0; 2],
        200,
        200,
    )
    .unwrap();
    let e = ViewExport::new(
        &standard,
        ViewPlane::Oblique {
            plane,
            name: "oblique".into(),
            slab_mm: 0.5,
        },
    );
    assert_eq!(
        edge_letters(&render_view(&e).unwrap()),
        ["R", "L", "AS", "PI"].map(String::from)
    );
}

fn mentions_identifiers(texts: &[ablaplan::render::paint::DrawnText], meta: &VolumeMeta) -> Vec<String> {
    let needles = identifying_strings(meta)
        .into_iter()
        .map(|s| s.to_lowercase())
        .chain(["doe", "jane", "pid-778899", "19610203", "1961-02-03"].map(String::from))
        .collect::<Vec<_>>();
    texts
        .iter()
        .map(|t| t.text.to_lowercase())
        .filter(|t| needles.iter().any(|n| t.contains(n.as_str())))
        .collect()
}

#[test]
fn anonymised_export_never_asks_for_identifying_text() {
    let v = water(Matrix3::identity());
    let mut e = ViewExport::new(
        &v,
        ViewPlane::Mpr {
            view: ViewKind::Axial,
            slice: 10,
        },
    );
    assert!(e.anonymise, "on by default");
    // A caliper labelled with the name (free text can carry it) is caught too.
    e.overlays.push(Overlay::Caliper(CaliperOverlay {
        a_lps: Point3::new(5.0, 5.0, 10.0),
        b_lps: Point3::new(5.0, 25.0, 10.0),
        label: Some("Jane's node".into()),
    }));
    let img = render_view(&e).unwrap();
    assert!(img.texts.len() > 8, "corner text, letters, scale bar, caliper");
    assert_eq!(mentions_identifiers(&img.texts, &v.meta), Vec::<String>::new());
    // Only the two free-text strings carrying the name were replaced (the study description and
    // the caliper label): the corner text never asked for the name, ID or birth date.
    assert_eq!(img.redacted, 2);
    let all: Vec<&str> = img.texts.iter().map(|t| t.text.as_str()).collect();
    assert!(all.contains(&"Anonymised") && !all.iter().any(|t| t.contains("St Elsewhere")));
    assert!(!all.iter().any(|t| t.contains("2024")), "no study date: {all:?}");
    // The same view not anonymised shows them: the check above can fail.
    e.anonymise = false;
    let shown = render_view(&e).unwrap();
    let hits = mentions_identifiers(&shown.texts, &v.meta);
    assert!(hits.iter().any(|t| t.contains("doe jane")), "{hits:?}");
    assert!(hits.iter().any(|t| t.contains("pid-778899")) && hits.iter().any(|t| t.contains("1961-02-03")));
}

#[test]
fn text_renders_in_its_box() {
    let v = demo_volume();
    // A black image (window far above any tissue) so any lit pixel is drawing.
    let mut e = ViewExport::new(
        &v,
        ViewPlane::Mpr {
            view: ViewKind::Axial,
            slice: 64,
        },
    );
    e.window = WindowLevel::new(30000.0, 10.0);
    e.scale = 4;
    let img = render_view(&e).unwrap();
    let t = img.texts.iter().find(|t| t.text == "Anonymised").unwrap();
    let r = t.rect;
    let mut lit = 0;
    let mut total = 0;
    for y in r[1].floor() as i64..r[3].ceil() as i64 {
        for x in r[0].floor() as i64..r[2].ceil() as i64 {
            total += 1;
            lit += usize::from(img.image.get(x, y).unwrap()[0] > 100);
        }
    }
    // Glyph ink covers roughly 10–40 % of a line's box.
    assert!(lit * 20 > total && lit * 2 < total, "{lit} of {total} pixels lit");
    // Text scales with the export: 12.5 px × 4.
    assert!((t.size_px - 50.0).abs() < 1e-9);
}

#[test]
fn layout_export_places_each_view_in_its_rectangle() {
    use ablaplan::export::{LayoutPanel, render_layout};
    let v = demo_volume();
    let panel = |view, slice, rect| LayoutPanel {
        view: ViewExport::new(&v, ViewPlane::Mpr { view, slice }),
        rect,
    };
    let panels = [
        panel(ViewKind::Axial, 64, [0, 0, 800, 600]),
        panel(ViewKind::Coronal, 200, [800, 0, 400, 600]),
    ];
    let (img, texts) = render_layout(1200, 600, &panels, 2.0).unwrap();
    assert_eq!((img.width, img.height), (1200, 600));
    let at = |name: &str| texts.iter().find(|t| t.text == name).unwrap().rect;
    assert!(at("Axial")[0] < 100.0, "top-left of the first panel");
    let c = at("Coronal");
    assert!(
        (800.0..900.0).contains(&c[0]) && c[1] < 50.0,
        "top-left of the second panel: {c:?}"
    );
    assert!((at("Axial")[3] - at("Axial")[1]) > 25.0, "2× text");
    assert!(texts.iter().any(|t| t.text == "Anonymised"));
}
