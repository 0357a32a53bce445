//! The cryo overlay of the slice views: the lethal zone filled and the isotherms outlined at the
//! slider's time (or the preview's ellipsoids), sampled per view pixel and cached per result,
//! time, slice and volume; the isotherm legend.

use super::*;

/// The sampled cryo overlay of one view, valid for `key`.
pub struct CryoLayer {
    pub(super) key: u64,
    pub(super) texture: Option<egui::TextureHandle>,
    pub(super) px: [f64; 4],
    pub(super) lines: Vec<(f64, Vec<IsoSegment>)>,
    /// The uncertainty band (isotherm °C, outline): the lethal zone's inner and outer surfaces
    /// and the outer 0 °C iceball, when the full result has one.
    pub(super) band: Vec<(f64, Vec<IsoSegment>)>,
}

#[allow(clippy::too_many_arguments)]
pub(super) fn build_layer(
    ctx: &egui::Context,
    old: Option<CryoLayer>,
    key: u64,
    v: &CryoView,
    g: &VolumeGeometry,
    m: &SliceMapping,
    slice: usize,
    name: &str,
) -> CryoLayer {
    let empty = CryoLayer {
        key,
        texture: None,
        px: [0.0; 4],
        lines: Vec::new(),
        band: Vec::new(),
    };
    let grid = match (&v.result, &v.preview) {
        (Some(r), _) => &r.grid,
        (None, Some(p)) => &p.grid,
        (None, None) => return empty,
    };
    let Some([u0, v0, u1, v1]) = super::super::plan_draw::covered_pixels(grid, g, m, slice) else {
        return empty;
    };
    let (w, h) = (u1 - u0, v1 - v0);
    let lps = |u: f64, vv: f64| g.to_patient(&m.voxel_of_pixel(u, vv, slice as f64));
    let origin = lps(u0 as f64 + 0.5, v0 as f64 + 0.5);
    let du = lps(u0 as f64 + 1.5, v0 as f64 + 0.5) - origin;
    let dv = lps(u0 as f64 + 0.5, v0 as f64 + 1.5) - origin;
    let to_image = |segs: Vec<IsoSegment>| -> Vec<IsoSegment> {
        segs.into_iter()
            .map(|s| s.map(|p| [p[0] + u0 as f32 + 0.5, p[1] + v0 as f32 + 0.5]))
            .collect()
    };
    let (lines, fill): (Vec<(f64, Vec<IsoSegment>)>, Vec<bool>) = match (&v.result, &v.preview) {
        (Some(r), _) => {
            let temps = sample_lattice_with(&origin, &du, &dv, [w, h], |p| {
                r.temperature_at(v.snapshot, &p).unwrap_or(OUTSIDE_C)
            });
            let lines = v
                .isotherms_c
                .iter()
                .map(|t| (*t, to_image(marching_squares(&temps, w, h, *t as f32))))
                .collect();
            let fill = match &v.lethal {
                Some(f) => sample_lattice_with(&origin, &du, &dv, [w, h], |p| {
                    trilinear_i16(&r.grid, f, &p).is_some_and(|x| x >= 50.0)
                }),
                None => vec![false; w * h],
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
                    let mask = sample_lattice_with(&origin, &du, &dv, [w, h], |p| pv.contains(i, &p));
                    Some((*t, to_image(mask_outline(&mask, w, h))))
                })
                .collect();
            let fill = match index(v.lethal_c) {
                Some(i) => sample_lattice_with(&origin, &du, &dv, [w, h], |p| pv.contains(i, &p)),
                None => vec![false; w * h],
            };
            (lines, fill)
        }
        (None, None) => return empty,
    };
    let alpha = if v.outdated {
        LETHAL_ALPHA * 0.5
    } else {
        LETHAL_ALPHA
    };
    let spec = super::super::plan_draw::Fill {
        rgb: LETHAL_RGB,
        alpha,
        size: [w, h],
    };
    let texture = super::super::plan_draw::fill_texture(
        ctx,
        old.and_then(|o| o.texture),
        &format!("cryo-lethal-{name}"),
        &spec,
        &fill,
    );
    let band = v
        .result
        .iter()
        .filter_map(|r| r.band.as_ref())
        .flat_map(|b| {
            [
                (v.lethal_c, &b.lethal, crate::physics::band::Surface::Inner),
                (v.lethal_c, &b.lethal, crate::physics::band::Surface::Outer),
                (0.0, &b.iceball, crate::physics::band::Surface::Outer),
            ]
        })
        .map(|(t, zb, s)| {
            let inside = sample_lattice_with(&origin, &du, &dv, [w, h], |p| zb.contains(s, &p));
            (t, to_image(mask_outline(&inside, w, h)))
        })
        .collect();
    CryoLayer {
        key,
        texture,
        px: [u0 as f64, v0 as f64, u1 as f64, v1 as f64],
        lines,
        band,
    }
}

/// Draws the cryo overlay of one view (cached per result, time, slice and volume generation).
/// Returns whether any of it is visible on this slice.
#[allow(clippy::too_many_arguments)]
pub fn draw_cryo(
    ctx: &egui::Context,
    painter: &egui::Painter,
    cache: &mut Option<CryoLayer>,
    v: &CryoView,
    generation: u64,
    g: &VolumeGeometry,
    m: &SliceMapping,
    slice: usize,
    to_screen: &dyn Fn(f64, f64) -> [f64; 2],
    name: &str,
) -> bool {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (v.id, v.snapshot, v.outdated, generation, slice, name).hash(&mut h);
    v.lethal_c.to_bits().hash(&mut h);
    for t in &v.isotherms_c {
        t.to_bits().hash(&mut h);
    }
    let key = h.finish();
    if cache.as_ref().is_none_or(|c| c.key != key) {
        let old = cache.take();
        *cache = Some(build_layer(ctx, old, key, v, g, m, slice, name));
    }
    let Some(layer) = cache.as_ref() else { return false };
    if layer.texture.is_none() && layer.lines.iter().all(|(_, s)| s.is_empty()) {
        return false;
    }
    super::super::plan_draw::paint_fill(painter, layer.texture.as_ref(), layer.px, to_screen);
    let fade = |c: Color32| if v.outdated { c.gamma_multiply(0.5) } else { c };
    let dashed = v.preview.is_some();
    for (t, segs) in &layer.lines {
        let stroke = Stroke::new(if dashed { 1.0 } else { 1.5 }, fade(isotherm_colour(*t)));
        for (n, s) in segs.iter().enumerate() {
            // The preview is drawn dotted (every other segment) so it is never taken for the model.
            if dashed && n % 2 == 1 {
                continue;
            }
            painter.line_segment(super::super::plan_draw::screen_segment(s, to_screen), stroke);
        }
    }
    let seg = |s: &IsoSegment| super::super::plan_draw::screen_segment(s, to_screen);
    for (t, segs) in &layer.band {
        super::super::plan_draw::draw_band(
            painter,
            std::slice::from_ref(segs),
            fade(isotherm_colour(*t)),
            &seg,
        );
    }
    true
}

/// The isotherm legend at the right edge of a view.
pub fn draw_legend(painter: &egui::Painter, rect: Rect, v: &CryoView) {
    let size = 12.0;
    let lines = v.legend();
    let x = rect.max.x - 8.0;
    // Vertically centred like the IRE legend, clear of the corner annotations.
    let y0 = rect.center().y - lines.len() as f32 * (size + 3.0) / 2.0;
    for (i, (text, col)) in lines.iter().enumerate() {
        let at = Pos2::new(x, y0 + i as f32 * (size + 3.0));
        shadow_text(painter, at, Align2::RIGHT_TOP, text, size, *col);
    }
}
