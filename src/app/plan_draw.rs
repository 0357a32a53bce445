//! Drawing the plan in the slice views: probes (insulated shaft thin, exposed part thick, the
//! point where each crosses the slice, labels, handles of the selected probe) and the IRE zone
//! (semi-transparent fill, outline, |E| isolines with a legend).
//!
//! The zone is sampled from the `IreResult` at the view's pixel centres (only over the pixels the
//! compute grid covers) and cached per view by (result, slice, volume); outlines and isolines are
//! marching-squares segments in image pixels, so they stay sharp at any zoom.

use eframe::egui::{self, Align2, Color32, FontId, Pos2, Rect, Stroke, Vec2};

use super::widgets::{c32, rgb, shadow_text};
use crate::geometry::{PatientPos, VolumeGeometry};
use crate::physics::band::Surface;
use crate::physics::ire::model::IreResult;
use crate::plan::probe::Probe;
use crate::render::isolines::{IsoSegment, marching_squares, mask_outline};
use crate::render::reslice::sample_lattice_with;
use crate::volume::SliceMapping;

/// Zone fill colour (RGB) and opacity.
use crate::render::palette::{self, IRE_ZONE_RGB as ZONE_RGB};
const ZONE_ALPHA: f32 = 0.30;
/// Exposed (active) part of a probe.
const EXPOSED: Color32 = c32(palette::PROBE_EXPOSED);
const SHAFT: Color32 = c32(palette::PROBE_SHAFT);
const SELECTED: Color32 = c32(palette::SELECTED_HANDLE);
/// Pointer distance (points) that grabs a handle.
pub const HANDLE_RADIUS: f64 = 9.0;

/// Colour of isoline `n` (in the order of the model options' list).
pub fn isoline_colour(n: usize) -> Color32 {
    rgb(palette::isoline(n))
}

/// What a view needs to show a model result.
#[derive(Clone, Copy)]
pub struct ZoneRef<'a> {
    pub result: &'a IreResult,
    /// Bumped for every new result.
    pub id: u64,
    /// The plan changed since this result was computed (drawn fainter).
    pub outdated: bool,
    pub isolines_v_per_cm: &'a [f64],
}

impl<'a> ZoneRef<'a> {
    /// The IRE zone the run shows for `plan` (the drag preview, else the full result), drawn
    /// fainter when the plan changed since.
    pub fn of(run: &'a super::run::ModelRun, plan: &'a super::plan::PlanState) -> Option<Self> {
        let ire = plan.ire()?;
        Some(ZoneRef {
            result: run.ire_shown()?,
            id: run.result_id,
            outdated: run.ire_shown_revision() != plan.revision(),
            isolines_v_per_cm: &ire.model.isolines_v_per_cm,
        })
    }
}

/// How a zone is filled in a view: colour, opacity, and the size of its pixel lattice.
pub struct Fill {
    pub rgb: [u8; 3],
    pub alpha: f32,
    pub size: [usize; 2],
}

/// The texture of a zone's fill over `flags` (one per lattice pixel, row by row), reusing `old`;
/// `None` when nothing is filled. One for every model's zone.
pub fn fill_texture(
    ctx: &egui::Context,
    old: Option<egui::TextureHandle>,
    name: &str,
    fill: &Fill,
    flags: &[bool],
) -> Option<egui::TextureHandle> {
    if !flags.iter().any(|f| *f) {
        return None;
    }
    let premul = fill.rgb.map(|c| (f32::from(c) * fill.alpha).round() as u8);
    let a = (fill.alpha * 255.0).round() as u8;
    let [w, h] = fill.size;
    let mut rgba = vec![0u8; w * h * 4];
    for (px, f) in rgba.chunks_exact_mut(4).zip(flags) {
        if *f {
            px.copy_from_slice(&[premul[0], premul[1], premul[2], a]);
        }
    }
    let img = egui::ColorImage::from_rgba_premultiplied([w, h], &rgba);
    Some(match old {
        Some(mut t) => {
            t.set(img, egui::TextureOptions::LINEAR);
            t
        }
        None => ctx.load_texture(name, img, egui::TextureOptions::LINEAR),
    })
}

/// The sampled zone of one view, valid for `key`.
pub struct ZoneLayer {
    key: u64,
    texture: Option<egui::TextureHandle>,
    /// Image pixels covered by the texture: (u0, v0, u1, v1).
    px: [f64; 4],
    /// Segments in image pixel coordinates.
    outline: Vec<IsoSegment>,
    isolines: Vec<(usize, Vec<IsoSegment>)>,
    /// The uncertainty band's inner and outer surfaces (dashed), when the result has one.
    band: Vec<Vec<IsoSegment>>,
    /// The thermal damage zone's outline, when the electro-thermal model found one.
    thermal: Vec<IsoSegment>,
}

impl ZoneLayer {
    fn is_empty(&self) -> bool {
        self.texture.is_none() && self.isolines.iter().all(|(_, s)| s.is_empty())
    }
}

/// The pixel rectangle (u0, v0, u1, v1) of slice `slice` that a model grid covers, `None`
/// when the slice misses the grid.
pub(super) fn covered_pixels(
    grid: &crate::physics::grid::ComputeGrid,
    g: &VolumeGeometry,
    m: &SliceMapping,
    slice: usize,
) -> Option<[usize; 4]> {
    let d = grid.dims;
    if d.contains(&0) {
        return None;
    }
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for corner in 0..8 {
        let ijk = [0, 1, 2].map(|a| if corner & (1 << a) != 0 { d[a] - 1 } else { 0 });
        let p = grid.lps(ijk[0], ijk[1], ijk[2]);
        let (u, v, s) = m.pixel_of_voxel(&g.to_voxel(&p));
        for (n, x) in [u, v, s].into_iter().enumerate() {
            lo[n] = lo[n].min(x);
            hi[n] = hi[n].max(x);
        }
    }
    let s = slice as f64;
    if !(lo.iter().chain(&hi).all(|x| x.is_finite()) && s >= lo[2] - 0.5 && s <= hi[2] + 0.5) {
        return None;
    }
    let clamp = |x: f64, n: usize| x.clamp(0.0, n as f64) as usize;
    let px = [
        clamp(lo[0].floor() - 1.0, m.width),
        clamp(lo[1].floor() - 1.0, m.height),
        clamp(hi[0].ceil() + 1.0, m.width),
        clamp(hi[1].ceil() + 1.0, m.height),
    ];
    (px[2] > px[0] && px[3] > px[1]).then_some(px)
}

/// Samples the zone and |E| on the view's pixel centres and builds fill, outline and isolines.
#[allow(clippy::too_many_arguments)]
fn build_layer(
    ctx: &egui::Context,
    old: Option<ZoneLayer>,
    key: u64,
    zone: &ZoneRef<'_>,
    g: &VolumeGeometry,
    m: &SliceMapping,
    slice: usize,
    name: &str,
) -> ZoneLayer {
    let empty = |texture| ZoneLayer {
        key,
        texture,
        px: [0.0; 4],
        outline: Vec::new(),
        isolines: Vec::new(),
        band: Vec::new(),
        thermal: Vec::new(),
    };
    let old_texture = old.and_then(|o| o.texture);
    let Some([u0, v0, u1, v1]) = covered_pixels(&zone.result.grid, g, m, slice) else {
        return empty(None);
    };
    let (w, h) = (u1 - u0, v1 - v0);
    let lps = |u: f64, v: f64| g.to_patient(&m.voxel_of_pixel(u, v, slice as f64));
    // Pixel centres are at integer + 0.5; the mapping is affine, so two steps define the plane.
    let origin = lps(u0 as f64 + 0.5, v0 as f64 + 0.5);
    let du = lps(u0 as f64 + 1.5, v0 as f64 + 0.5) - origin;
    let dv = lps(u0 as f64 + 0.5, v0 as f64 + 1.5) - origin;
    let values = sample_lattice_with(&origin, &du, &dv, [w, h], |p| {
        zone.result.max_e_at(&p).unwrap_or(0.0)
    });
    let flags = sample_lattice_with(&origin, &du, &dv, [w, h], |p| zone.result.in_zone(&p));
    let to_image = |segs: Vec<IsoSegment>| -> Vec<IsoSegment> {
        segs.into_iter()
            .map(|s| s.map(|p| [p[0] + u0 as f32 + 0.5, p[1] + v0 as f32 + 0.5]))
            .collect()
    };
    let isolines = isoline_segments(&values, w, h, zone.isolines_v_per_cm)
        .into_iter()
        .map(|(n, segs)| (n, to_image(segs)))
        .collect();
    let alpha = if zone.outdated {
        ZONE_ALPHA * 0.5
    } else {
        ZONE_ALPHA
    };
    let fill = Fill {
        rgb: ZONE_RGB,
        alpha,
        size: [w, h],
    };
    let texture = fill_texture(ctx, old_texture, &format!("ire-zone-{name}"), &fill, &flags);
    let band = zone
        .result
        .band
        .iter()
        .flat_map(|b| [Surface::Inner, Surface::Outer].map(|s| (b, s)))
        .map(|(b, s)| {
            let inside = sample_lattice_with(&origin, &du, &dv, [w, h], |p| b.contains(s, &p));
            to_image(mask_outline(&inside, w, h))
        })
        .collect();
    let thermal = if zone.result.thermal_damage_zone().is_some() {
        let damage = sample_lattice_with(&origin, &du, &dv, [w, h], |p| zone.result.in_thermal_damage(&p));
        to_image(mask_outline(&damage, w, h))
    } else {
        Vec::new()
    };
    ZoneLayer {
        key,
        texture,
        px: [u0 as f64, v0 as f64, u1 as f64, v1 as f64],
        outline: to_image(mask_outline(&flags, w, h)),
        isolines,
        band,
        thermal,
    }
}

fn to_pos(p: [f64; 2]) -> Pos2 {
    Pos2::new(p[0] as f32, p[1] as f32)
}

/// Draws the zone of one view (rebuilding the cached layer when `key` changed). Returns whether
/// anything of the zone is visible on this slice.
#[allow(clippy::too_many_arguments)]
pub fn draw_zone(
    ctx: &egui::Context,
    painter: &egui::Painter,
    cache: &mut Option<ZoneLayer>,
    key: u64,
    zone: &ZoneRef<'_>,
    g: &VolumeGeometry,
    m: &SliceMapping,
    slice: usize,
    to_screen: &dyn Fn(f64, f64) -> [f64; 2],
    name: &str,
) -> bool {
    if cache.as_ref().is_none_or(|c| c.key != key) {
        let old = cache.take();
        *cache = Some(build_layer(ctx, old, key, zone, g, m, slice, name));
    }
    let Some(layer) = cache.as_ref() else { return false };
    if layer.is_empty() {
        return false;
    }
    paint_fill(painter, layer.texture.as_ref(), layer.px, to_screen);
    let fade = |c: Color32| if zone.outdated { c.gamma_multiply(0.5) } else { c };
    let seg = |s: &IsoSegment| screen_segment(s, to_screen);
    draw_isolines(painter, &layer.isolines, zone.outdated, to_screen);
    let stroke = Stroke::new(2.0, fade(rgb(ZONE_RGB)));
    for s in &layer.outline {
        painter.line_segment(seg(s), stroke);
    }
    draw_band(painter, &layer.band, fade(rgb(ZONE_RGB)), &seg);
    let thermal = Stroke::new(2.0, fade(rgb(palette::THERMAL_DAMAGE_RGB)));
    for s in &layer.thermal {
        painter.line_segment(seg(s), thermal);
    }
    true
}

/// Paints a zone's fill texture over the image pixels `px` (u0, v0, u1, v1) of a view.
pub fn paint_fill(
    painter: &egui::Painter,
    texture: Option<&egui::TextureHandle>,
    px: [f64; 4],
    to_screen: &dyn Fn(f64, f64) -> [f64; 2],
) {
    if let Some(t) = texture {
        let [u0, v0, u1, v1] = px;
        painter.image(
            t.id(),
            Rect::from_min_max(to_pos(to_screen(u0, v0)), to_pos(to_screen(u1, v1))),
            Rect::from_min_max(Pos2::ZERO, Pos2::new(1.0, 1.0)),
            Color32::WHITE,
        );
    }
}

/// A segment in image pixels as a screen line.
pub fn screen_segment(s: &IsoSegment, to_screen: &dyn Fn(f64, f64) -> [f64; 2]) -> [Pos2; 2] {
    [
        to_pos(to_screen(f64::from(s[0][0]), f64::from(s[0][1]))),
        to_pos(to_screen(f64::from(s[1][0]), f64::from(s[1][1]))),
    ]
}

/// The uncertainty band's surfaces, dashed (every other segment) in the zone's colour, so that
/// they are never taken for the nominal outline.
pub fn draw_band(
    painter: &egui::Painter,
    band: &[Vec<IsoSegment>],
    colour: Color32,
    seg: &dyn Fn(&IsoSegment) -> [Pos2; 2],
) {
    let stroke = Stroke::new(1.0, colour);
    for segs in band {
        for s in segs.iter().step_by(2) {
            painter.line_segment(seg(s), stroke);
        }
    }
}

/// The |E| isolines of `values` (a `w × h` lattice, row-major) at each positive level: (index of
/// the level in `levels_v_per_cm`, which picks its colour, segments in lattice coordinates).
/// Shared by the slice views and the along-probe view.
pub fn isoline_segments(
    values: &[f32],
    w: usize,
    h: usize,
    levels_v_per_cm: &[f64],
) -> Vec<(usize, Vec<IsoSegment>)> {
    levels_v_per_cm
        .iter()
        .enumerate()
        .filter(|(_, l)| l.is_finite() && **l > 0.0)
        .map(|(n, l)| (n, marching_squares(values, w, h, *l as f32)))
        .collect()
}

/// Draws isolines from [`isoline_segments`] (in image coordinates that `to_screen` maps), each
/// in its level's colour, fainter when the result is `outdated`.
pub fn draw_isolines(
    painter: &egui::Painter,
    isolines: &[(usize, Vec<IsoSegment>)],
    outdated: bool,
    to_screen: &dyn Fn(f64, f64) -> [f64; 2],
) {
    for (n, segs) in isolines {
        let alpha = if outdated { 0.5 } else { 1.0 };
        let stroke = Stroke::new(1.0, isoline_colour(*n).gamma_multiply(alpha));
        for s in segs {
            let a = to_pos(to_screen(f64::from(s[0][0]), f64::from(s[0][1])));
            let b = to_pos(to_screen(f64::from(s[1][0]), f64::from(s[1][1])));
            painter.line_segment([a, b], stroke);
        }
    }
}

/// The isoline legend of a view (text, colour), the first line saying what is shown.
pub fn legend_lines(zone: &ZoneRef<'_>) -> Vec<(String, Color32)> {
    let mut lines: Vec<(String, Color32)> = vec![(
        if zone.result.preview {
            "IRE preview".to_string()
        } else if zone.outdated {
            "IRE (outdated)".to_string()
        } else {
            "IRE zone".to_string()
        },
        rgb(ZONE_RGB),
    )];
    if zone.result.band.is_some() {
        lines.push(("- - uncertainty band (inner / outer)".to_string(), rgb(ZONE_RGB)));
    }
    if let Some(h) = &zone.result.heating {
        lines.push((
            format!(
                "— thermal damage (CEM43 from {:.0} min), peak {:.0} °C",
                h.damage_cem43_min,
                h.max_temperature_c()
            ),
            rgb(palette::THERMAL_DAMAGE_RGB),
        ));
    }
    for (n, l) in zone.isolines_v_per_cm.iter().enumerate() {
        lines.push((format!("— {l:.0} V/cm"), isoline_colour(n)));
    }
    lines
}

/// The isoline legend at the right edge of a view.
pub fn draw_legend(painter: &egui::Painter, rect: Rect, zone: &ZoneRef<'_>) {
    let size = 12.0;
    let lines = legend_lines(zone);
    let x = rect.max.x - 8.0;
    let y0 = rect.center().y - lines.len() as f32 * (size + 3.0) / 2.0;
    for (i, (text, col)) in lines.iter().enumerate() {
        let at = Pos2::new(x, y0 + i as f32 * (size + 3.0));
        shadow_text(painter, at, Align2::RIGHT_TOP, text, size, *col);
    }
}

/// Screen position (points) and slice coordinate of an LPS point in a view.
pub type Project<'a> = dyn Fn(&PatientPos) -> (Pos2, f64) + 'a;

/// Draws every probe of a view. `slice` is the view's slice coordinate; `points_per_mm` scales
/// the drawn diameter; handles are drawn on the selected probe when `handles`.
#[allow(clippy::too_many_arguments)]
pub fn draw_probes(
    painter: &egui::Painter,
    probes: &[Probe],
    selected: Option<usize>,
    handles: bool,
    project: &Project<'_>,
    slice: f64,
    points_per_mm: f64,
    radius_mm: &dyn Fn(&Probe) -> f64,
) {
    for (i, p) in probes.iter().enumerate() {
        let is_sel = selected == Some(i);
        let (tip, s_tip) = project(&p.tip_lps);
        let (entry, s_entry) = project(&p.entry_lps);
        let Ok(exposed) = p.exposed_segment() else {
            // Unusable geometry (tip = entry): a marker so the user can find and fix it.
            painter.circle_stroke(tip, 6.0, Stroke::new(2.0, Color32::RED));
            continue;
        };
        let (exp_end, _) = project(&exposed.end);
        // Crossing of the slice plane (slice coordinates are continuous voxel units).
        let crossing = if (s_tip - s_entry).abs() > 1e-9 {
            let t = (slice - s_tip) / (s_entry - s_tip);
            (0.0..=1.0).contains(&t).then_some(t)
        } else {
            None
        };
        let in_slice = (s_tip - slice).abs() <= 0.5 && (s_entry - slice).abs() <= 0.5;
        let alpha = if in_slice || crossing.is_some() { 1.0 } else { 0.5 };
        let diameter = (2.0 * radius_mm(p) * points_per_mm) as f32;
        if is_sel {
            painter.line_segment(
                [tip, entry],
                Stroke::new(diameter.max(3.0) + 5.0, SELECTED.gamma_multiply(0.45)),
            );
        }
        painter.line_segment(
            [exp_end, entry],
            Stroke::new((diameter * 0.6).max(1.5), SHAFT.gamma_multiply(alpha)),
        );
        painter.line_segment(
            [tip, exp_end],
            Stroke::new(diameter.max(3.5), EXPOSED.gamma_multiply(alpha)),
        );
        if let Some(t) = crossing {
            let at = tip + (entry - tip) * t as f32;
            let exposed_here = t * p.length_mm() <= p.exposure_mm;
            let col = if exposed_here { EXPOSED } else { SHAFT };
            painter.circle_stroke(at, 5.5, Stroke::new(2.0, col));
            painter.line_segment(
                [at - Vec2::new(3.0, 0.0), at + Vec2::new(3.0, 0.0)],
                Stroke::new(1.5, col),
            );
            painter.line_segment(
                [at - Vec2::new(0.0, 3.0), at + Vec2::new(0.0, 3.0)],
                Stroke::new(1.5, col),
            );
        }
        let label_col = if is_sel { SELECTED } else { Color32::WHITE };
        let at = tip + Vec2::new(8.0, -8.0);
        shadow_text(painter, at, Align2::LEFT_BOTTOM, &p.label, 14.0, label_col);
        if is_sel && handles {
            painter.circle_filled(tip, 5.0, SELECTED);
            painter.circle_stroke(entry, 5.0, Stroke::new(2.0, SELECTED));
            let mid = tip + (entry - tip) * 0.5;
            painter.rect_stroke(
                Rect::from_center_size(mid, Vec2::splat(8.0)),
                0.0,
                Stroke::new(1.5, SELECTED),
                egui::StrokeKind::Middle,
            );
        }
    }
}

/// The line of a probe being placed (tip to the pointer).
pub fn draw_placing(painter: &egui::Painter, tip: Pos2, pointer: Pos2, length_mm: f64) {
    painter.line_segment([tip, pointer], Stroke::new(2.0, SELECTED));
    painter.circle_filled(tip, 4.0, EXPOSED);
    painter.text(
        pointer + Vec2::new(8.0, 8.0),
        Align2::LEFT_TOP,
        format!("{length_mm:.0} mm"),
        FontId::proportional(13.0),
        SELECTED,
    );
}
