//! Drawing of the along-probe view: the probes in and across the plane, drag handles, reference
//! lines, orientation letters, the zone and cryo isotherms sampled on the oblique planes.

use super::*;

/// Everything one frame draws from.
pub(super) struct Frame<'a> {
    pub(super) volume: &'a Volume,
    pub(super) volume_generation: u64,
    pub(super) structures: &'a [Structure],
    pub(super) probes: &'a [Probe],
    pub(super) shown: usize,
    pub(super) zone: Option<ZoneRef<'a>>,
    pub(super) cryo: Option<&'a CryoView>,
    pub(super) window: WindowLevel,
    pub(super) in_plane: ObliquePlane,
    pub(super) eye: ObliquePlane,
    pub(super) paths: &'a [Option<crate::render::path_marks::PathMarks>],
}

/// Image pixel coordinates ↔ screen points for one pane.
pub(super) struct PixelMap {
    pub(super) rect: Rect,
    pub(super) plane: ObliquePlane,
}

impl PixelMap {
    pub(super) fn pos(&self, px: [f64; 2]) -> Pos2 {
        Pos2::new(
            self.rect.min.x + (px[0] / self.plane.width as f64) as f32 * self.rect.width(),
            self.rect.min.y + (px[1] / self.plane.height as f64) as f32 * self.rect.height(),
        )
    }

    pub(super) fn pos_f32(&self, px: [f32; 2]) -> Pos2 {
        self.pos([f64::from(px[0]), f64::from(px[1])])
    }

    pub(super) fn px_of(&self, p: Pos2) -> [f64; 2] {
        [
            f64::from((p.x - self.rect.min.x) / self.rect.width()) * self.plane.width as f64,
            f64::from((p.y - self.rect.min.y) / self.rect.height()) * self.plane.height as f64,
        ]
    }

    pub(super) fn points_per_mm(&self) -> f64 {
        f64::from(self.rect.width()) / self.plane.size_mm()[0]
    }
}

/// The other pane's plane as a line. Both images share the horizontal direction (across the
/// probe), so both cuts are horizontal: on the in-plane image the depth of the probe's-eye plane
/// (rows run along the probe), on the probe's-eye image the in-plane image's plane (the row
/// through the axis).
pub(super) fn draw_reference_line(painter: &egui::Painter, map: &PixelMap, f: &Frame<'_>, pane: Pane) {
    let (w, h) = (map.plane.width as f64, map.plane.height as f64);
    let (other_centre, colour, label) = match pane {
        Pane::InPlane => (f.eye.centre_lps, EYE_COLOUR, "probe's-eye"),
        Pane::Eye => (f.in_plane.centre_lps, IN_PLANE_COLOUR, "in-plane"),
    };
    let v = map.plane.project(&other_centre).px[1];
    if !(0.0..=h).contains(&v) {
        return;
    }
    let (a, b) = (map.pos([0.0, v]), map.pos([w, v]));
    let stroke = Stroke::new(1.2, colour.gamma_multiply(0.85));
    painter.extend(egui::Shape::dashed_line(&[a, b], stroke, 6.0, 4.0));
    shadow_text(
        painter,
        b + Vec2::new(-4.0, -2.0),
        Align2::RIGHT_BOTTOM,
        label,
        LABEL_PT,
        colour,
    );
}

/// Every probe: projected shaft and exposed part, where each crosses the plane, the tip, and
/// the label. The shown probe is drawn last, brightest.
pub(super) fn draw_probes(painter: &egui::Painter, map: &PixelMap, probes: &[Probe], shown: usize) {
    let order = (0..probes.len())
        .filter(|i| *i != shown)
        .chain(std::iter::once(shown));
    for i in order {
        let Some(p) = probes.get(i) else { continue };
        let (Ok(exposed), Ok(shaft)) = (p.exposed_segment(), p.shaft_segment()) else {
            continue;
        };
        let main = i == shown;
        let (shaft_c, exposed_c) = if main {
            (SHAFT_COLOUR, EXPOSED_COLOUR)
        } else {
            (OTHER_SHAFT_COLOUR, OTHER_EXPOSED_COLOUR)
        };
        let plane = &map.plane;
        let tip = plane.project(&p.tip_lps);
        let seg_px = |a: &crate::geometry::PatientPos, b: &crate::geometry::PatientPos| {
            [map.pos(plane.project(a).px), map.pos(plane.project(b).px)]
        };
        // Projections: solid for the shown probe (it lies in the in-plane image), dashed for the
        // others (they are generally off the plane; their crossings are marked below).
        let line = |pts: [Pos2; 2], c: Color32, width: f32| {
            if (pts[1] - pts[0]).length() < 1.0 {
                return;
            }
            if main {
                painter.line_segment(pts, Stroke::new(width, c));
            } else {
                painter.extend(egui::Shape::dashed_line(&pts, Stroke::new(width, c), 5.0, 4.0));
            }
        };
        line(
            seg_px(&shaft.start, &shaft.end),
            shaft_c,
            if main { 2.0 } else { 1.2 },
        );
        line(
            seg_px(&exposed.start, &exposed.end),
            exposed_c,
            if main { 4.0 } else { 2.5 },
        );

        // Crossings with the plane (a probe in the plane has none: its projection is exact).
        for (seg, c) in [(&shaft, shaft_c), (&exposed, exposed_c)] {
            if let Some(x) = plane.segment_crossing(&seg.start, &seg.end) {
                let at = map.pos(x);
                painter.circle_filled(at, 4.0, c);
                painter.circle_stroke(at, 4.0, Stroke::new(1.0, Color32::BLACK));
            }
        }
        let tip_at = map.pos(tip.px);
        // The tip: filled when it lies on the image's plane (within a pixel), hollow otherwise.
        if tip.dist_mm.abs() <= plane.pixel_mm[0] {
            painter.circle_filled(tip_at, 3.5, TIP_COLOUR);
        } else {
            painter.circle_stroke(tip_at, 3.5, Stroke::new(1.5, TIP_COLOUR.gamma_multiply(0.8)));
        }
        if map.rect.contains(tip_at) {
            let name = probe_name(probes, i);
            shadow_text(
                painter,
                tip_at + Vec2::new(6.0, 2.0),
                Align2::LEFT_TOP,
                &name,
                LABEL_PT,
                exposed_c,
            );
        }
    }
}

/// Orientation letters at the four edges (oblique directions get two or three letters).
pub(super) fn draw_orientation(painter: &egui::Painter, map: &PixelMap) {
    let (u, v) = (map.plane.u_dir, map.plane.v_dir);
    let r = map.rect;
    let col = Color32::from_gray(230);
    let items = [
        (
            orientation_label(&-u),
            Pos2::new(r.min.x + 4.0, r.center().y),
            Align2::LEFT_CENTER,
        ),
        (
            orientation_label(&u),
            Pos2::new(r.max.x - 4.0, r.center().y),
            Align2::RIGHT_CENTER,
        ),
        (
            orientation_label(&-v),
            Pos2::new(r.center().x, r.min.y + 3.0),
            Align2::CENTER_TOP,
        ),
        (
            orientation_label(&v),
            Pos2::new(r.center().x, r.max.y - 3.0),
            Align2::CENTER_BOTTOM,
        ),
    ];
    for (text, at, anchor) in items {
        shadow_text(painter, at, anchor, &text, LABEL_PT, col);
    }
}

/// Whether `p` lies on the plane: within one pixel, as the tip marker is filled.
pub(super) fn on_plane(plane: &ObliquePlane, p: &PatientPos) -> bool {
    plane.project(p).dist_mm.abs() <= plane.pixel_mm[0].max(plane.pixel_mm[1])
}

/// The probe part under `pos` (screen points) that may be dragged in the in-plane image: a tip or
/// an entry lying on the image's plane, or the shaft of a probe lying in it (both ends on it). The
/// shown probe wins, handles over shafts ([`hit_test`], as in the slice views).
pub(super) fn draggable_part(
    probes: &[Probe],
    shown: usize,
    map: &PixelMap,
    pos: Pos2,
) -> Option<(usize, ProbePart)> {
    let plane = &map.plane;
    let screen = |p: &PatientPos| {
        let q = map.pos(plane.project(p).px);
        [f64::from(q.x), f64::from(q.y)]
    };
    let candidates: Vec<ProbeOnScreen> = probes
        .iter()
        .enumerate()
        .filter(|(_, p)| on_plane(plane, &p.tip_lps) || on_plane(plane, &p.entry_lps))
        .map(|(index, p)| ProbeOnScreen {
            index,
            tip: screen(&p.tip_lps),
            entry: screen(&p.entry_lps),
        })
        .collect();
    let (index, part) = hit_test(
        &candidates,
        Some(shown),
        [f64::from(pos.x), f64::from(pos.y)],
        HANDLE_RADIUS,
    )?;
    let p = probes.get(index)?;
    let allowed = match part {
        ProbePart::Tip => on_plane(plane, &p.tip_lps),
        ProbePart::Entry => on_plane(plane, &p.entry_lps),
        ProbePart::Whole => on_plane(plane, &p.tip_lps) && on_plane(plane, &p.entry_lps),
    };
    allowed.then_some((index, part))
}

/// The drag handles of the probes lying in the in-plane image: rings on the tips and entries on
/// its plane, a square on the middle of the shafts lying in it.
pub(super) fn draw_handles(painter: &egui::Painter, map: &PixelMap, probes: &[Probe]) {
    let stroke = Stroke::new(1.5, HANDLE_COLOUR);
    for p in probes {
        let (tip, entry) = (
            on_plane(&map.plane, &p.tip_lps),
            on_plane(&map.plane, &p.entry_lps),
        );
        let at = |q: &PatientPos| map.pos(map.plane.project(q).px);
        if tip {
            painter.circle_stroke(at(&p.tip_lps), 6.0, stroke);
        }
        if entry {
            painter.circle_stroke(at(&p.entry_lps), 5.0, stroke);
        }
        if tip && entry {
            let mid = at(&nalgebra::center(&p.tip_lps, &p.entry_lps));
            painter.rect_stroke(
                Rect::from_center_size(mid, Vec2::splat(8.0)),
                0.0,
                stroke,
                egui::StrokeKind::Middle,
            );
        }
    }
}

/// The cryo isotherm outlines, each in its temperature's colour (fainter when outdated; the
/// preview dotted so that it is never taken for the model), as the slice views draw them.
pub(super) fn draw_isotherm_lines(
    painter: &egui::Painter,
    lines: &[(f64, Vec<IsoSegment>)],
    v: &CryoView,
    to_screen: &dyn Fn(f64, f64) -> [f64; 2],
) {
    let dotted = v.preview.is_some();
    let alpha = if v.outdated { 0.5 } else { 1.0 };
    let to_pos = |x: f32, y: f32| {
        let p = to_screen(f64::from(x), f64::from(y));
        Pos2::new(p[0] as f32, p[1] as f32)
    };
    for (t, segs) in lines {
        let stroke = Stroke::new(
            if dotted { 1.0 } else { 1.5 },
            isotherm_colour(*t).gamma_multiply(alpha),
        );
        for (n, s) in segs.iter().enumerate() {
            if dotted && n % 2 == 1 {
                continue;
            }
            painter.line_segment([to_pos(s[0][0], s[0][1]), to_pos(s[1][0], s[1][1])], stroke);
        }
    }
}

/// The lethal zone's fill colour: the last line of the cryo legend names it, in its colour.
pub(super) fn lethal_rgb(v: &CryoView) -> [u8; 3] {
    v.legend()
        .last()
        .map_or([40, 90, 255], |(_, c)| [c.r(), c.g(), c.b()])
}

/// The part of a plane's image that a model grid can reach (the pixels covering the projection
/// of the grid's box, one more on each side), as a lattice of pixel centres: sampling a field
/// there instead of over the whole image keeps live drags cheap.
pub(super) struct Lattice {
    pub(super) origin: PatientPos,
    pub(super) du: Vector3<f64>,
    pub(super) dv: Vector3<f64>,
    pub(super) u0: usize,
    pub(super) v0: usize,
    pub(super) w: usize,
    pub(super) h: usize,
}

impl Lattice {
    /// `None` when the plane misses the grid's box.
    pub(super) fn of(grid: &ComputeGrid, plane: &ObliquePlane) -> Option<Self> {
        let d = grid.dims;
        if d.contains(&0) {
            return None;
        }
        let (mut lo, mut hi) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3]);
        for corner in 0..8 {
            let ijk = [0, 1, 2].map(|a| if corner & (1 << a) != 0 { d[a] - 1 } else { 0 });
            let q = plane.project(&grid.lps(ijk[0], ijk[1], ijk[2]));
            for (n, x) in [q.px[0], q.px[1], q.dist_mm].into_iter().enumerate() {
                lo[n] = lo[n].min(x);
                hi[n] = hi[n].max(x);
            }
        }
        // Half a grid step of slack: fields are interpolated out to there.
        let slack = 0.5 * grid.spacing_mm;
        if !(lo.iter().chain(&hi).all(|x| x.is_finite()) && lo[2] <= slack && hi[2] >= -slack) {
            return None;
        }
        let clamp = |x: f64, n: usize| x.clamp(0.0, n as f64) as usize;
        let (u0, v0) = (
            clamp(lo[0].floor() - 1.0, plane.width),
            clamp(lo[1].floor() - 1.0, plane.height),
        );
        let (u1, v1) = (
            clamp(hi[0].ceil() + 1.0, plane.width),
            clamp(hi[1].ceil() + 1.0, plane.height),
        );
        (u1 > u0 && v1 > v0).then(|| Lattice {
            origin: plane.pixel_centre_lps(u0, v0),
            du: plane.u_dir * plane.pixel_mm[0],
            dv: plane.v_dir * plane.pixel_mm[1],
            u0,
            v0,
            w: u1 - u0,
            h: v1 - v0,
        })
    }

    pub(super) fn sample<T: Send>(&self, f: impl Fn(PatientPos) -> T + Sync) -> Vec<T> {
        sample_lattice_with(&self.origin, &self.du, &self.dv, [self.w, self.h], f)
    }

    /// Segments in lattice coordinates (node = pixel centre) → image pixel coordinates.
    pub(super) fn to_image(&self, segs: Vec<IsoSegment>) -> Vec<IsoSegment> {
        let (du, dv) = (self.u0 as f32 + 0.5, self.v0 as f32 + 0.5);
        segs.into_iter()
            .map(|s| s.map(|p| [p[0] + du, p[1] + dv]))
            .collect()
    }

    /// A lattice mask placed in a mask of the whole image.
    pub(super) fn to_full(&self, mask: &[bool], plane: &ObliquePlane) -> Vec<bool> {
        let mut out = vec![false; plane.pixel_count()];
        for (y, row) in mask.chunks_exact(self.w).enumerate() {
            let start = (self.v0 + y) * plane.width + self.u0;
            out[start..start + self.w].copy_from_slice(row);
        }
        out
    }
}

/// The |E| isolines of an IRE result on a plane, as the slice views draw them: (index of the
/// level in `levels_v_per_cm`, which picks its colour, segments in the plane's pixel coordinates).
/// Empty when the plane misses the model grid.
pub fn plane_isolines(
    result: &IreResult,
    plane: &ObliquePlane,
    levels_v_per_cm: &[f64],
) -> Vec<(usize, Vec<IsoSegment>)> {
    let Some(l) = Lattice::of(&result.grid, plane) else {
        return Vec::new();
    };
    let values = l.sample(|p| result.max_e_at(&p).unwrap_or(0.0));
    isoline_segments(&values, l.w, l.h, levels_v_per_cm)
        .into_iter()
        .map(|(n, segs)| (n, l.to_image(segs)))
        .collect()
}

/// The cryo overlay of a plane.
pub(crate) struct PlaneIsotherms {
    /// (temperature, outline segments in the plane's pixel coordinates) per drawn isotherm.
    pub lines: Vec<(f64, Vec<IsoSegment>)>,
    /// The lethal zone over the whole image (row-major).
    pub lethal: Vec<bool>,
}

/// The isotherms and the lethal zone of what the slice views show (a full result at its
/// snapshot, or the preview's ellipsoids) on a plane, sampled as the slice views sample them.
pub(crate) fn plane_isotherms(v: &CryoView, plane: &ObliquePlane) -> PlaneIsotherms {
    let empty = || PlaneIsotherms {
        lines: Vec::new(),
        lethal: vec![false; plane.pixel_count()],
    };
    let grid = match (&v.result, &v.preview) {
        (Some(r), _) => &r.grid,
        (None, Some(p)) => &p.grid,
        (None, None) => return empty(),
    };
    let Some(l) = Lattice::of(grid, plane) else {
        return empty();
    };
    let none = || vec![false; l.w * l.h];
    let (lines, fill) = match (&v.result, &v.preview) {
        (Some(r), _) => {
            let temps = l.sample(|p| r.temperature_at(v.snapshot, &p).unwrap_or(OUTSIDE_C));
            let lines = v
                .isotherms_c
                .iter()
                .map(|t| (*t, l.to_image(marching_squares(&temps, l.w, l.h, *t as f32))))
                .collect();
            let fill = match &v.lethal {
                Some(f) => l.sample(|p| trilinear_i16(&r.grid, f, &p).is_some_and(|x| x >= 50.0)),
                None => none(),
            };
            (lines, fill)
        }
        (None, Some(pv)) => {
            let index = |t: f64| pv.isotherms_c.iter().position(|x| (x - t).abs() < 1e-9);
            let lines = v
                .isotherms_c
                .iter()
                .filter_map(|t| {
                    let i = index(*t)?;
                    let mask = l.sample(|p| pv.contains(i, &p));
                    Some((*t, l.to_image(mask_outline(&mask, l.w, l.h))))
                })
                .collect();
            let fill = match index(v.lethal_c) {
                Some(i) => l.sample(|p| pv.contains(i, &p)),
                None => none(),
            };
            (lines, fill)
        }
        (None, None) => return empty(),
    };
    PlaneIsotherms {
        lines,
        lethal: l.to_full(&fill, plane),
    }
}

/// The probe's label, or its number when it has none.
pub(super) fn probe_name(probes: &[Probe], i: usize) -> String {
    match probes.get(i) {
        Some(p) if !p.label.trim().is_empty() => p.label.clone(),
        _ => format!("{}", i + 1),
    }
}

pub(super) fn hash_plane(h: &mut DefaultHasher, p: &ObliquePlane) {
    for v in p
        .centre_lps
        .iter()
        .chain(p.u_dir.iter())
        .chain(p.v_dir.iter())
        .chain(p.pixel_mm.iter())
    {
        v.to_bits().hash(h);
    }
    (p.width, p.height).hash(h);
}

/// Identity of a zone result: its buffers and summary numbers (a new result is a new
/// allocation, and a recomputed one has a new elapsed time).
pub(super) fn zone_key(z: Option<&IreResult>) -> u64 {
    let mut h = DefaultHasher::new();
    if let Some(z) = z {
        (
            z.zone.as_ptr() as usize,
            z.zone.len(),
            z.max_e_v_per_cm.as_ptr() as usize,
        )
            .hash(&mut h);
        (z.zone_volume_ml.to_bits(), z.elapsed_s.to_bits(), z.preview).hash(&mut h);
    }
    h.finish()
}
