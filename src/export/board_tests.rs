//! The board slide's first-hour fixes (issue 18): counts in the right number, the field of view
//! chosen from the zone and the series' resolution, structures interpolated smoothly in
//! magnified reformats, the target outline drawn above the zone fill, the structure legend.

use nalgebra::{Matrix3, Point3};

use super::board::{
    BOARD_MAX_FIELD_OF_VIEW_MM, BOARD_MAX_MAGNIFICATION, BOARD_MIN_FIELD_OF_VIEW_MM, BOARD_ZONE_CONTEXT,
    board_field_of_view_mm, mask_extent_mm,
};
use super::slide::{BoardSlide, Provenance, SLIDE_HEIGHT, SLIDE_WIDTH, VIEW_SIDE_PX, count, render_slide};
use super::view::{
    Overlay, StructureOverlay, ViewExport, ViewPlane, ZoneOverlay, render_view, render_view_fit,
};
use crate::anatomy::mask::Mask;
use crate::geometry::{PatientPos, VolumeGeometry};
use crate::physics::grid::ComputeGrid;
use crate::volume::{ViewKind, Volume, VolumeMeta};

/// A water volume of `dims` voxels of `spacing_mm`, origin at 0.
fn water(dims: [usize; 3], spacing_mm: [f64; 3]) -> Volume {
    let g = VolumeGeometry {
        dims,
        spacing_mm,
        origin_lps: Point3::origin(),
        direction: Matrix3::identity(),
    };
    let n = dims.iter().product();
    Volume::new(g, vec![0; n], VolumeMeta::default()).unwrap()
}

/// A ball of `radius_mm` around `centre` on the volume's grid.
fn ball(v: &Volume, centre: PatientPos, radius_mm: f64) -> Mask {
    let g = &v.geometry;
    let [nx, ny, nz] = g.dims;
    let mut dense = vec![false; nx * ny * nz];
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let p = g.to_patient(&nalgebra::Vector3::new(i as f64, j as f64, k as f64));
                dense[i + nx * (j + ny * k)] = (p - centre).norm() <= radius_mm;
            }
        }
    }
    Mask::from_dense(g.dims, &dense)
}

#[test]
fn counts_take_the_singular_for_one() {
    assert_eq!(count(1, "pair", "pairs"), "1 pair");
    assert_eq!(count(2, "pair", "pairs"), "2 pairs");
    assert_eq!(count(0, "electrode", "electrodes"), "0 electrodes");
}

#[test]
fn field_of_view_follows_the_zone_and_the_series_resolution() {
    // A 36 mm zone on a fine series: the zone with its context.
    let fine = board_field_of_view_mm(Some(36.0), 0.7, VIEW_SIDE_PX);
    assert!((fine - 36.0 * BOARD_ZONE_CONTEXT).abs() < 1e-9, "{fine}");
    // The same zone in a coronal of 3 mm slices: widened until a slice spans at most the
    // allowed magnification (the old 120 mm at 600 px put 15 pixels on every slice).
    let thick = board_field_of_view_mm(Some(36.0), 3.0, VIEW_SIDE_PX);
    assert!(thick > fine, "{thick} vs {fine}");
    let px_per_slice = VIEW_SIDE_PX as f64 / thick * 3.0;
    assert!(
        px_per_slice <= BOARD_MAX_MAGNIFICATION + 1e-9,
        "{px_per_slice} px per slice"
    );
    // A larger zone gets a larger view; bounds hold for tiny and huge zones.
    assert!(board_field_of_view_mm(Some(60.0), 0.7, VIEW_SIDE_PX) > fine);
    assert_eq!(
        board_field_of_view_mm(Some(2.0), 0.5, VIEW_SIDE_PX),
        BOARD_MIN_FIELD_OF_VIEW_MM
    );
    assert_eq!(
        board_field_of_view_mm(Some(900.0), 0.5, VIEW_SIDE_PX),
        BOARD_MAX_FIELD_OF_VIEW_MM
    );
    // No zone: the default, still widened for thick slices.
    assert!(board_field_of_view_mm(None, 0.7, VIEW_SIDE_PX) >= BOARD_MIN_FIELD_OF_VIEW_MM);
    assert!(board_field_of_view_mm(None, f64::NAN, VIEW_SIDE_PX).is_finite());
}

#[test]
fn zone_extent_is_the_largest_side_of_its_box() {
    let grid = ComputeGrid {
        origin_lps: Point3::origin(),
        spacing_mm: 0.5,
        dims: [20, 10, 10],
    };
    let mut mask = vec![false; 2000];
    assert_eq!(mask_extent_mm(&grid, &mask), None);
    // Nodes i = 2..=13 on one row: 12 nodes of 0.5 mm = 6 mm.
    for i in 2..=13 {
        mask[i + 20 * (4 + 10 * 5)] = true;
    }
    assert_eq!(mask_extent_mm(&grid, &mask), Some(6.0));
}

/// The leftmost pixel of each row whose red channel is `red` (the fill of an opaque red mask).
fn left_edges(img: &crate::render::RgbaImage, rows: std::ops::Range<usize>) -> Vec<Option<usize>> {
    rows.map(|y| {
        (0..img.width).find(|x| {
            img.get(*x as i64, y as i64)
                .is_some_and(|p| p[0] == 255 && p[1] == 0)
        })
    })
    .collect()
}

#[test]
fn magnified_reformats_interpolate_structures_instead_of_stepping_per_slice() {
    // 3 mm slices, 1 mm pixels; a 15 mm ball. The coronal view through its centre, 60 mm wide
    // in 600 pixels: one slice spans 30 rows.
    let v = water([64, 64, 20], [1.0, 1.0, 3.0]);
    let centre = PatientPos::new(32.0, 32.0, 30.0);
    let mask = ball(&v, centre, 15.0);
    let m = v.view_mapping(ViewKind::Coronal);
    let vox = v.geometry.to_voxel(&centre);
    let (u, w, _) = m.pixel_of_voxel(&vox);
    let half = 30.0 / m.pixel_mm[0];
    let half_v = 30.0 / m.pixel_mm[1];
    let mut e = ViewExport::new(
        &v,
        ViewPlane::Mpr {
            view: ViewKind::Coronal,
            slice: vox[m.normal_axis].round() as usize,
        },
    );
    e.crop = Some([u - half, w - half_v, u + half, w + half_v]);
    e.annotations = false;
    e.overlays = vec![Overlay::Structure(StructureOverlay {
        name: "ball".into(),
        mask: &mask,
        colour: [255, 0, 0],
        fill_opacity: 1.0,
    })];
    let img = render_view_fit(&e, 600, 600, 1.0, true).unwrap().image;
    // The middle 10 mm of the ball (rows 250..350): its side moves a little from row to row
    // instead of jumping by whole voxels (10 px) at each slice boundary and standing still
    // for the 30 rows of a slice.
    let edges: Vec<usize> = left_edges(&img, 250..350).into_iter().flatten().collect();
    assert_eq!(edges.len(), 100, "the ball fills every middle row");
    let biggest_jump = edges.windows(2).map(|p| p[0].abs_diff(p[1])).max().unwrap_or(0);
    assert!(
        biggest_jump <= 4,
        "a step of {biggest_jump} px between adjacent rows"
    );
    let longest_still = edges
        .chunk_by(|a, b| a == b)
        .map(<[usize]>::len)
        .max()
        .unwrap_or(0);
    assert!(
        longest_still < 25,
        "the edge stands still for {longest_still} rows"
    );
}

#[test]
fn the_target_outline_is_drawn_above_the_zone_fill() {
    let v = water([64, 64, 21], [1.0, 1.0, 1.0]);
    let centre = PatientPos::new(32.0, 32.0, 10.0);
    let target = ball(&v, centre, 8.0);
    let colour = [255, 60, 200];
    let mut e = ViewExport::new(
        &v,
        ViewPlane::Mpr {
            view: ViewKind::Axial,
            slice: 10,
        },
    );
    e.scale = 2;
    e.annotations = false;
    e.overlays = vec![
        Overlay::Structure(StructureOverlay {
            name: "target".into(),
            mask: &target,
            colour,
            fill_opacity: 0.2,
        }),
        // A zone covering the whole target with an opaque-ish fill.
        Overlay::Zone(ZoneOverlay {
            name: "zone".into(),
            colour: [255, 140, 0],
            fill_opacity: 0.6,
            inside: Box::new(move |p: &PatientPos| (p - centre).norm() < 20.0),
            field: None,
            isolines: Vec::new(),
            bounds_lps: None,
            band: Vec::new(),
            outlines: Vec::new(),
        }),
    ];
    let img = render_view(&e).unwrap();
    // The target's left edge (x = 24 mm, between voxels 23.5/24) on the row through its centre.
    let row = img.plane.project(&centre).px[1];
    let x0 = img.plane.project(&PatientPos::new(20.0, 32.0, 10.0)).px[0];
    let x1 = img.plane.project(&PatientPos::new(28.0, 32.0, 10.0)).px[0];
    let on_outline = (x0 as usize..x1 as usize)
        .filter_map(|x| img.image.get(x as i64, row as i64))
        .filter(|p| p[..3] == colour)
        .count();
    assert!(
        on_outline >= 2,
        "the target's outline colour is not hidden by the zone fill"
    );
}

#[test]
fn the_slide_lists_the_structures_with_their_colours() {
    let v = water([64, 64, 21], [1.0, 1.0, 1.0]);
    let make = |legend: Vec<(String, [u8; 3])>| BoardSlide {
        title: "t".into(),
        subtitle: String::new(),
        views: Vec::new(),
        plan: Vec::new(),
        findings: Some(Vec::new()),
        margin: Vec::new(),
        margin_ok: None,
        provenance: Provenance::default(),
        anonymise: true,
        patient: Some(&v.meta),
        scene3d: None,
        legend,
    };
    let names = [
        "Target (tumour)",
        "Portal vein",
        "Superior mesenteric artery",
        "Duodenum",
        "Nerve",
    ];
    let legend: Vec<(String, [u8; 3])> = names
        .iter()
        .enumerate()
        .map(|(n, s)| (s.to_string(), [40 * n as u8 + 60, 200, 90]))
        .collect();
    let with = render_slide(&make(legend.clone())).unwrap();
    let texts: Vec<&str> = with.texts.iter().map(|t| t.text.as_str()).collect();
    assert!(texts.contains(&"Structures"), "{texts:?}");
    for n in names {
        assert!(texts.contains(&n), "{n} missing from {texts:?}");
    }
    // Each swatch has its structure's colour, in the lower band.
    for (_, c) in &legend {
        let found = (700..SLIDE_HEIGHT)
            .flat_map(|y| (0..SLIDE_WIDTH).map(move |x| (x, y)))
            .any(|(x, y)| {
                with.image
                    .get(x as i64, y as i64)
                    .is_some_and(|p| p[..3] == c[..])
            });
        assert!(found, "no swatch of {c:?}");
    }
    let without = render_slide(&make(Vec::new())).unwrap();
    assert!(!without.texts.iter().any(|t| t.text == "Structures"));
}
