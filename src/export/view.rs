//! One view (an MPR slice or an oblique plane) rendered on the CPU with burned-in overlays, at a
//! chosen scale (1×, 2×, 4× the CT's finest in-plane spacing) or fitted into a box (board slide).
//!
//! Everything goes through one output plane in patient space (`render::reslice::ObliquePlane`
//! with square output pixels): an MPR slice becomes the plane through its voxel centres, with
//! screen right / down taken from `volume::SliceMapping` (radiological convention, from the
//! geometry). At 1× the pixel centres are the voxel centres, so the image equals the screen's
//! `render_slice` of the slice; at 2× / 4× the CT is interpolated (trilinear = bilinear in the
//! slice plane, as the screen's linear texture filter), masks stay voxel-crisp (nearest voxel,
//! outlines along pixel edges), and zones / isolines are sampled at every output pixel.
//!
//! The input is plain data ([`ViewExport`]) built the same way by the GUI and the CLI; the output
//! carries the image, every string drawn and the output plane (to map LPS points to pixels).

use nalgebra::Vector3;

use crate::anatomy::mask::Mask;
use crate::geometry::{PatientPos, orientation_label};
use crate::physics::band::Surface;
use crate::physics::cryo::model::{CryoResult, trilinear_i16};
use crate::physics::ire::model::{IreResult, electrode_radius_mm};
use crate::plan::probe::Probe;
use crate::render::isolines::{IsoSegment, marching_squares, mask_outline};
use crate::render::overlay::{blend_mask, outline_segments};
use crate::render::paint::{Anchor, Canvas, DrawnText, Pt, line_height, text_size, with_alpha};
use crate::render::reslice::{
    ObliquePlane, magnification, plane_voxels, render_reslice, reslice_volume, sample_mask,
    sample_mask_smooth, sample_plane_with,
};
use crate::render::{Rgba, RgbaImage, WindowLevel, WlLut};
use crate::volume::{ViewKind, Volume, VolumeMeta};

use super::ExportError;

/// Output pixels per CT voxel (along the plane's coarsest direction) above which masks are
/// sampled trilinearly instead of by nearest voxel.
const SMOOTH_MASKS_FROM: f64 = 2.5;

/// Largest export scale (an 8× export of a 512² slice is 4096² pixels).
pub const MAX_SCALE: u32 = 8;

/// Which plane of the volume a view shows.
#[derive(Clone, Debug, PartialEq)]
pub enum ViewPlane {
    /// An axial / coronal / sagittal slice (index along the view's normal voxel axis).
    Mpr { view: ViewKind, slice: usize },
    /// Any plane, e.g. the along-probe (`reslice::in_plane_for_probe`) or probe's-eye plane;
    /// `name` is shown in the corner, `slab_mm` is how far from the plane a probe still counts as
    /// "in the plane" (half a pixel or half the slice thickness).
    Oblique {
        plane: ObliquePlane,
        name: String,
        slab_mm: f64,
    },
}

/// A structure mask (on the CT grid) drawn as a translucent fill and an opaque outline.
#[derive(Clone, Debug)]
pub struct StructureOverlay<'a> {
    pub name: String,
    pub mask: &'a Mask,
    pub colour: [u8; 3],
    /// Fill opacity in [0, 1] (0 = outline only).
    pub fill_opacity: f32,
}

/// One isoline of a zone's scalar field, with its legend entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Isoline {
    pub value: f32,
    pub label: String,
    pub colour: [u8; 3],
}

/// LPS predicate / field sampled at every output pixel.
pub type InsideFn<'a> = Box<dyn Fn(&PatientPos) -> bool + Sync + 'a>;
pub type FieldFn<'a> = Box<dyn Fn(&PatientPos) -> f32 + Sync + 'a>;

/// A treatment zone (IRE zone, iceball) as a predicate, with optional isolines of a scalar field
/// (|E| in V/cm, temperature in °C) and a legend entry.
pub struct ZoneOverlay<'a> {
    /// Legend text, e.g. "IRE zone".
    pub name: String,
    pub colour: [u8; 3],
    pub fill_opacity: f32,
    pub inside: InsideFn<'a>,
    pub field: Option<FieldFn<'a>>,
    pub isolines: Vec<Isoline>,
    /// Axis-aligned LPS box outside which the zone and the field are empty (limits sampling).
    pub bounds_lps: Option<[PatientPos; 2]>,
    /// Surfaces of the model's uncertainty band, drawn dashed: (colour, inside predicate).
    pub band: Vec<([u8; 3], InsideFn<'a>)>,
    /// Further zones drawn as solid outlines with a legend line: (legend, colour, inside), e.g.
    /// the IRE thermal damage zone.
    pub outlines: Vec<(String, [u8; 3], InsideFn<'a>)>,
}

/// IRE zone fill and isoline colours: the screen's ([`crate::render::palette`]).
pub use crate::render::palette::{IRE_ZONE_RGB as ZONE_RGB, ISOLINE_RGB};

impl<'a> ZoneOverlay<'a> {
    /// The IRE zone of a model result with |E| isolines at `isolines_v_per_cm`.
    pub fn ire(result: &'a IreResult, isolines_v_per_cm: &[f64]) -> Self {
        let g = &result.grid;
        let far = g.last_node_lps();
        Self {
            name: if result.preview {
                "IRE preview".into()
            } else {
                "IRE zone".into()
            },
            colour: ZONE_RGB,
            fill_opacity: 0.30,
            inside: Box::new(move |p| result.in_zone(p)),
            field: Some(Box::new(move |p| result.max_e_at(p).unwrap_or(0.0))),
            isolines: isolines_v_per_cm
                .iter()
                .enumerate()
                .filter(|(_, v)| v.is_finite() && **v > 0.0)
                .map(|(n, v)| Isoline {
                    value: *v as f32,
                    label: format!("{v:.0} V/cm"),
                    colour: ISOLINE_RGB[n % ISOLINE_RGB.len()],
                })
                .collect(),
            bounds_lps: Some([g.origin_lps, far]),
            band: result
                .band
                .iter()
                .flat_map(|b| [Surface::Inner, Surface::Outer].map(|s| (b, s)))
                .map(|(b, s)| {
                    (
                        ZONE_RGB,
                        Box::new(move |p: &PatientPos| b.contains(s, p)) as InsideFn<'a>,
                    )
                })
                .collect(),
            outlines: result
                .heating
                .as_ref()
                .filter(|h| h.damage_zone.iter().any(|d| *d))
                .map(|h| {
                    (
                        format!("thermal damage (CEM43 from {:.0} min)", h.damage_cem43_min),
                        crate::render::palette::THERMAL_DAMAGE_RGB,
                        Box::new(move |p: &PatientPos| result.in_thermal_damage(p)) as InsideFn<'a>,
                    )
                })
                .into_iter()
                .collect(),
        }
    }
}

/// Fill colour of the cryo lethal zone and the isotherm colours: the screen's.
pub use crate::render::palette::{CRYO_LETHAL_RGB, isotherm as cryo_isotherm_rgb};

/// Temperature used outside the cryo grid when sampling (°C): warm, so no isotherm crosses there.
const CRYO_OUTSIDE_C: f32 = 37.0;

impl<'a> ZoneOverlay<'a> {
    /// The zones of a cryo result at their **largest extent over the protocol** (the lowest
    /// temperature each point reached, as the safety analysis sees them): the lethal zone
    /// (≤ `lethal_c`) filled and outlined, the 0 °C iceball and the −20 °C isotherm as lines.
    pub fn cryo(result: &'a CryoResult, lethal_c: f64) -> Self {
        let g = &result.grid;
        let far = g.last_node_lps();
        let lowest = move |p: &PatientPos| trilinear_i16(&result.grid, &result.min_final, p);
        Self {
            name: format!("Lethal ≤ {lethal_c:.0} °C (largest extent)"),
            colour: CRYO_LETHAL_RGB,
            fill_opacity: 0.32,
            inside: Box::new(move |p| lowest(p).is_some_and(|t| f64::from(t) <= lethal_c)),
            field: Some(Box::new(move |p| lowest(p).unwrap_or(CRYO_OUTSIDE_C))),
            isolines: [(0.0, "0 °C iceball"), (-20.0, "−20 °C")]
                .into_iter()
                .filter(|(t, _)| (t - lethal_c).abs() > 1e-9)
                .map(|(t, label)| Isoline {
                    value: t as f32,
                    label: label.to_string(),
                    colour: cryo_isotherm_rgb(t),
                })
                .collect(),
            bounds_lps: Some([g.origin_lps, far]),
            band: result
                .band
                .iter()
                .flat_map(|b| {
                    [
                        (CRYO_LETHAL_RGB, &b.lethal, Surface::Inner),
                        (CRYO_LETHAL_RGB, &b.lethal, Surface::Outer),
                        (cryo_isotherm_rgb(0.0), &b.iceball, Surface::Outer),
                    ]
                })
                .map(|(c, zb, s)| {
                    (
                        c,
                        Box::new(move |p: &PatientPos| zb.contains(s, p)) as InsideFn<'a>,
                    )
                })
                .collect(),
            outlines: Vec::new(),
        }
    }
}

/// A probe as drawn: insulated shaft thin, exposed part thick, where it crosses the plane, the
/// label at the tip.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeOverlay {
    pub label: String,
    pub tip_lps: PatientPos,
    pub entry_lps: PatientPos,
    pub exposure_mm: f64,
    pub diameter_mm: f64,
}

impl ProbeOverlay {
    /// Probes numbered 1, 2, 3… (the plan table lists each number's own label and model).
    pub fn numbered(probes: &[Probe]) -> Vec<ProbeOverlay> {
        probes
            .iter()
            .enumerate()
            .map(|(i, p)| ProbeOverlay {
                label: format!("{}", i + 1),
                tip_lps: p.tip_lps,
                entry_lps: p.entry_lps,
                exposure_mm: p.exposure_mm,
                diameter_mm: 2.0 * electrode_radius_mm(&p.model_id),
            })
            .collect()
    }
}

/// A distance measurement between two LPS points; the label defaults to the length in mm.
#[derive(Clone, Debug, PartialEq)]
pub struct CaliperOverlay {
    pub a_lps: PatientPos,
    pub b_lps: PatientPos,
    pub label: Option<String>,
}

/// What is burned into a view, drawn in this order: structures, zones, calipers, probes.
pub enum Overlay<'a> {
    Structure(StructureOverlay<'a>),
    Zone(ZoneOverlay<'a>),
    Probes(Vec<ProbeOverlay>),
    Caliper(CaliperOverlay),
}

/// Everything needed to export one view.
pub struct ViewExport<'a> {
    pub volume: &'a Volume,
    pub plane: ViewPlane,
    pub window: WindowLevel,
    /// Preset name shown next to W/L (e.g. "Abdomen").
    pub window_label: Option<String>,
    pub overlays: Vec<Overlay<'a>>,
    /// Leave out patient name, ID, birth date, institution and dates; any text containing the
    /// name, ID or birth date is replaced. On by default.
    pub anonymise: bool,
    /// Corner text, orientation letters, scale bar and legend.
    pub annotations: bool,
    /// Output pixels per CT pixel (1, 2, 4; at most [`MAX_SCALE`]); text and strokes scale too.
    pub scale: u32,
    /// Part of the view to export in the view's pixel coordinates `[u0, v0, u1, v1]` (e.g. the
    /// area visible on screen); `None` = the whole slice / plane.
    pub crop: Option<[f64; 4]>,
}

impl<'a> ViewExport<'a> {
    /// A view with no overlays, annotations on, anonymised, at 1×, with the volume's default
    /// window (or soft tissue 400/40, REFERENCE.md §5).
    pub fn new(volume: &'a Volume, plane: ViewPlane) -> Self {
        let (c, w) = volume.meta.default_window.unwrap_or((40.0, 400.0));
        Self {
            volume,
            plane,
            window: WindowLevel::new(c, w),
            window_label: None,
            overlays: Vec::new(),
            anonymise: true,
            annotations: true,
            scale: 1,
            crop: None,
        }
    }
}

/// A rendered view.
#[derive(Clone, Debug)]
pub struct ViewImage {
    pub image: RgbaImage,
    /// Every string drawn, in order (after redaction).
    pub texts: Vec<DrawnText>,
    /// How many requested strings contained an identifier and were replaced (free text such as
    /// descriptions or labels; the export itself never asks for the name, ID or birth date).
    pub redacted: usize,
    /// The output plane: `plane.project(p).px` is where an LPS point lands in the image.
    pub plane: ObliquePlane,
}

/// How view pixels map to patient space before the output plane is chosen.
struct ViewFrame {
    origin: PatientPos,
    /// LPS step of one view pixel to the right / down.
    du: Vector3<f64>,
    dv: Vector3<f64>,
    width: f64,
    height: f64,
    name: String,
    /// Image number text, e.g. "Im 40 / 80".
    image_number: Option<String>,
    slab_mm: f64,
    thickness_mm: f64,
    normal: Vector3<f64>,
}

impl ViewFrame {
    fn lps(&self, u: f64, v: f64) -> PatientPos {
        self.origin + self.du * u + self.dv * v
    }
}

fn frame_of(volume: &Volume, plane: &ViewPlane) -> Result<ViewFrame, ExportError> {
    match plane {
        ViewPlane::Mpr { view, slice } => {
            let g = &volume.geometry;
            let m = volume.view_mapping(*view);
            if m.slice_count == 0 || m.width == 0 || m.height == 0 {
                return Err(ExportError::BadView(
                    "the volume has no slices in this view".into(),
                ));
            }
            let s = (*slice).min(m.slice_count - 1) as f64;
            let at = |u: f64, v: f64| g.to_patient(&m.voxel_of_pixel(u, v, s));
            let origin = at(0.0, 0.0);
            let du = at(1.0, 0.0) - origin;
            let dv = at(0.0, 1.0) - origin;
            let spacing = g.spacing_mm[m.normal_axis];
            let thickness = volume
                .meta
                .slice_thickness_mm
                .filter(|_| *view == ViewKind::Axial)
                .unwrap_or(spacing);
            Ok(ViewFrame {
                origin,
                du,
                dv,
                width: m.width as f64,
                height: m.height as f64,
                name: view.name().to_string(),
                image_number: Some(format!("Im {} / {}", s as usize + 1, m.slice_count)),
                slab_mm: spacing / 2.0,
                thickness_mm: thickness,
                normal: du.cross(&dv).try_normalize(1e-12).unwrap_or_else(Vector3::z),
            })
        }
        ViewPlane::Oblique { plane, name, slab_mm } => Ok(ViewFrame {
            origin: plane.lps_at([0.0, 0.0]),
            du: plane.u_dir * plane.pixel_mm[0],
            dv: plane.v_dir * plane.pixel_mm[1],
            width: plane.width as f64,
            height: plane.height as f64,
            name: name.clone(),
            image_number: None,
            slab_mm: if slab_mm.is_finite() && *slab_mm > 0.0 {
                *slab_mm
            } else {
                plane.pixel_mm[0] / 2.0
            },
            thickness_mm: 2.0 * slab_mm.max(0.0),
            normal: plane.normal(),
        }),
    }
}

/// The output plane covering `crop` (view pixels) with square pixels of `out_mm`, `w × h`.
fn output_plane(
    f: &ViewFrame,
    crop: [f64; 4],
    out_mm: f64,
    w: usize,
    h: usize,
) -> Result<ObliquePlane, ExportError> {
    let centre = f.lps((crop[0] + crop[2]) / 2.0, (crop[1] + crop[3]) / 2.0);
    ObliquePlane::new(centre, f.du, f.dv, [out_mm; 2], w, h).map_err(ExportError::from)
}

fn check_crop(f: &ViewFrame, crop: Option<[f64; 4]>) -> Result<[f64; 4], ExportError> {
    let c = crop.unwrap_or([0.0, 0.0, f.width, f.height]);
    if !(c.iter().all(|v| v.is_finite()) && c[2] > c[0] && c[3] > c[1]) {
        return Err(ExportError::BadView(format!(
            "crop {c:?} must be [u0, v0, u1, v1] with u1 > u0 and v1 > v0"
        )));
    }
    Ok(c)
}

/// Renders a view at `export.scale` output pixels per finest CT pixel: the output is
/// `round(crop extent in mm / (finest pixel mm / scale))` pixels along each side (for an MPR
/// slice with square pixels and no crop: exactly `scale ×` the slice size).
pub fn render_view(export: &ViewExport<'_>) -> Result<ViewImage, ExportError> {
    if !(1..=MAX_SCALE).contains(&export.scale) {
        return Err(ExportError::BadScale(export.scale));
    }
    let f = frame_of(export.volume, &export.plane)?;
    let crop = check_crop(&f, export.crop)?;
    let (pu, pv) = (f.du.norm(), f.dv.norm());
    let out_mm = pu.min(pv) / f64::from(export.scale);
    let w = (((crop[2] - crop[0]) * pu / out_mm).round() as usize).max(1);
    let h = (((crop[3] - crop[1]) * pv / out_mm).round() as usize).max(1);
    let plane = output_plane(&f, crop, out_mm, w, h)?;
    draw_view(export, &f, plane, f64::from(export.scale), false)
}

/// Renders a view into exactly `width × height` pixels, the crop fitted inside (centred, the
/// rest black); `text_scale` sizes text and strokes (1 = screen size).
pub fn render_view_fit(
    export: &ViewExport<'_>,
    width: usize,
    height: usize,
    text_scale: f64,
    force_anonymise: bool,
) -> Result<ViewImage, ExportError> {
    if width == 0 || height == 0 {
        return Err(ExportError::BadView("the view box is empty".into()));
    }
    let f = frame_of(export.volume, &export.plane)?;
    let crop = check_crop(&f, export.crop)?;
    let ext_u = (crop[2] - crop[0]) * f.du.norm();
    let ext_v = (crop[3] - crop[1]) * f.dv.norm();
    let out_mm = (ext_u / width as f64).max(ext_v / height as f64);
    let plane = output_plane(&f, crop, out_mm, width, height)?;
    draw_view(export, &f, plane, text_scale, force_anonymise)
}

/// Strings that must not appear in an anonymised export: the patient's name (whole, with `^` or
/// spaces, and each part of 3+ characters), ID and birth date (raw and `YYYY-MM-DD`).
pub fn identifying_strings(meta: &VolumeMeta) -> Vec<String> {
    let mut out = Vec::new();
    let name = meta.patient_name.trim();
    if !name.is_empty() {
        out.push(name.to_string());
        out.push(name.replace('^', " ").trim().to_string());
        out.extend(
            name.split(|c: char| c == '^' || c.is_whitespace() || c == ',')
                .map(str::trim)
                .filter(|p| p.chars().count() >= 3)
                .map(str::to_string),
        );
    }
    for s in [&meta.patient_id, &meta.patient_birth_date] {
        if !s.trim().is_empty() {
            out.push(s.trim().to_string());
        }
    }
    let dob = dicom_date(&meta.patient_birth_date);
    if !dob.is_empty() {
        out.push(dob);
    }
    out.extend(crate::render::redact::date_variants(&meta.patient_birth_date));
    out.sort();
    out.dedup();
    out
}

/// "20240131" → "2024-01-31"; anything else trimmed and unchanged.
pub fn dicom_date(d: &str) -> String {
    let d = d.trim();
    if d.len() == 8 && d.chars().all(|c| c.is_ascii_digit()) {
        format!("{}-{}-{}", &d[0..4], &d[4..6], &d[6..8])
    } else {
        d.to_string()
    }
}

/// Largest 1/2/5 × 10ⁿ mm not above `target_mm` (at least 1 mm), as the screen's scale bar.
pub fn nice_length_mm(target_mm: f64) -> f64 {
    if !(target_mm.is_finite() && target_mm > 1.0) {
        return 1.0;
    }
    let base = 10f64.powf(target_mm.log10().floor());
    let m = target_mm / base;
    let step = if m >= 5.0 {
        5.0
    } else if m >= 2.0 {
        2.0
    } else {
        1.0
    };
    step * base
}

fn rgba(c: [u8; 3]) -> Rgba {
    [c[0], c[1], c[2], 255]
}

use crate::render::palette::{
    CALIPER, ORIENTATION, PROBE_EXPOSED as EXPOSED, PROBE_SHAFT as SHAFT, PROBE_TIP as TIP,
};
const CORNER: Rgba = [225, 225, 225, 255];
use crate::render::palette::VIEW_TEXT;

fn seg_px(s: &IsoSegment) -> [Pt; 2] {
    // Sample (x, y) of a plane sampling sits at pixel centre (x + 0.5, y + 0.5).
    [
        [f64::from(s[0][0]) + 0.5, f64::from(s[0][1]) + 0.5],
        [f64::from(s[1][0]) + 0.5, f64::from(s[1][1]) + 0.5],
    ]
}

/// Pixel box `[x0, y0, x1, y1)` of the output plane covered by an LPS box (clipped).
fn covered(plane: &ObliquePlane, b: &[PatientPos; 2]) -> Option<[usize; 4]> {
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for c in 0..8 {
        let p = PatientPos::new(
            if c & 1 == 0 { b[0].x } else { b[1].x },
            if c & 2 == 0 { b[0].y } else { b[1].y },
            if c & 4 == 0 { b[0].z } else { b[1].z },
        );
        let q = plane.project(&p).px;
        for a in 0..2 {
            lo[a] = lo[a].min(q[a]);
            hi[a] = hi[a].max(q[a]);
        }
    }
    if !lo.iter().chain(&hi).all(|v| v.is_finite()) {
        return None;
    }
    let x0 = (lo[0].floor() - 1.0).clamp(0.0, plane.width as f64) as usize;
    let y0 = (lo[1].floor() - 1.0).clamp(0.0, plane.height as f64) as usize;
    let x1 = (hi[0].ceil() + 1.0).clamp(0.0, plane.width as f64) as usize;
    let y1 = (hi[1].ceil() + 1.0).clamp(0.0, plane.height as f64) as usize;
    (x1 > x0 && y1 > y0).then_some([x0, y0, x1, y1])
}

/// A zone sampled on the part of the output plane it can cover: the sub-plane, where it sits
/// (`x0`, `y0`) and the inside flags.
struct SampledZone {
    sub: ObliquePlane,
    x0: usize,
    y0: usize,
    flags: Vec<bool>,
}

/// The zone's legend entries: its name, its isolines, the band and the extra outlines.
fn zone_legend(z: &ZoneOverlay<'_>) -> Vec<(String, Rgba)> {
    let mut legend = vec![(z.name.clone(), rgba(z.colour))];
    legend.extend(
        z.isolines
            .iter()
            .map(|i| (format!("— {}", i.label), rgba(i.colour))),
    );
    if !z.band.is_empty() {
        legend.push(("- - uncertainty band".to_string(), rgba(z.colour)));
    }
    legend.extend(
        z.outlines
            .iter()
            .map(|(label, colour, _)| (format!("— {label}"), rgba(*colour))),
    );
    legend
}

/// Samples the zone and blends its fill (the lines come later, above the structure outlines).
fn fill_zone(canvas: &mut Canvas, plane: &ObliquePlane, z: &ZoneOverlay<'_>) -> Option<SampledZone> {
    let full = [0, 0, plane.width, plane.height];
    let [x0, y0, x1, y1] = z.bounds_lps.map_or(Some(full), |b| covered(plane, &b))?;
    let (w, h) = (x1 - x0, y1 - y0);
    let sub = ObliquePlane::new(
        plane.lps_at([(x0 + x1) as f64 / 2.0, (y0 + y1) as f64 / 2.0]),
        plane.u_dir,
        plane.v_dir,
        plane.pixel_mm,
        w,
        h,
    )
    .ok()?;
    let flags = sample_plane_with(&sub, |p| (z.inside)(&p));
    let a = z.fill_opacity.clamp(0.0, 1.0);
    for (n, f) in flags.iter().enumerate() {
        if *f {
            canvas
                .image
                .blend((x0 + n % w) as i64, (y0 + n / w) as i64, rgba(z.colour), a);
        }
    }
    Some(SampledZone { sub, x0, y0, flags })
}

/// The zone's lines: isolines, smooth outline, dashed band surfaces, extra outlines.
fn draw_zone_lines(canvas: &mut Canvas, zs: &SampledZone, z: &ZoneOverlay<'_>, k: f64) {
    let SampledZone { sub, x0, y0, flags } = zs;
    let (w, h) = (sub.width, sub.height);
    let shift = |s: [Pt; 2]| s.map(|p| [p[0] + *x0 as f64, p[1] + *y0 as f64]);
    if let Some(field) = &z.field {
        let values = sample_plane_with(sub, |p| field(&p));
        for iso in &z.isolines {
            let segs: Vec<[Pt; 2]> = marching_squares(&values, w, h, iso.value)
                .iter()
                .map(|s| shift(seg_px(s)))
                .collect();
            canvas.stroke_segments(&segs, 1.0 * k, rgba(iso.colour));
        }
    }
    let outline: Vec<[Pt; 2]> = mask_outline(flags, w, h)
        .iter()
        .map(|s| shift(seg_px(s)))
        .collect();
    canvas.stroke_segments(&outline, 2.0 * k, rgba(z.colour));
    for (colour, inside) in &z.band {
        let flags = sample_plane_with(sub, |p| inside(&p));
        // Dashed (every other segment), so a band surface is never taken for the zone's outline.
        let segs: Vec<[Pt; 2]> = mask_outline(&flags, w, h)
            .iter()
            .step_by(2)
            .map(|s| shift(seg_px(s)))
            .collect();
        canvas.stroke_segments(&segs, 1.0 * k, rgba(*colour));
    }
    for (_, colour, inside) in &z.outlines {
        let flags = sample_plane_with(sub, |p| inside(&p));
        let segs: Vec<[Pt; 2]> = mask_outline(&flags, w, h)
            .iter()
            .map(|s| shift(seg_px(s)))
            .collect();
        canvas.stroke_segments(&segs, 2.0 * k, rgba(*colour));
    }
}

/// Probes: projected shaft and exposed part (solid when the probe lies in or crosses the plane,
/// dashed and fainter otherwise), the crossing with the plane (ring and cross, in the colour of the part
/// crossing it), the tip, the label.
fn draw_probes(canvas: &mut Canvas, plane: &ObliquePlane, probes: &[ProbeOverlay], slab_mm: f64, k: f64) {
    let px_per_mm = 1.0 / plane.pixel_mm[0];
    for p in probes {
        let len = (p.tip_lps - p.entry_lps).norm();
        if !(len.is_finite() && len > 0.0) {
            let at = plane.project(&p.tip_lps).px;
            canvas.circle_stroke(at, 6.0 * k, 2.0 * k, [255, 0, 0, 255]);
            continue;
        }
        let axis = (p.entry_lps - p.tip_lps) / len;
        let exposed_end = p.tip_lps + axis * p.exposure_mm.clamp(0.0, len);
        let (tip, entry) = (plane.project(&p.tip_lps), plane.project(&p.entry_lps));
        let end = plane.project(&exposed_end).px;
        let in_plane = tip.dist_mm.abs() <= slab_mm && entry.dist_mm.abs() <= slab_mm;
        let crossing = plane.segment_crossing(&p.tip_lps, &p.entry_lps);
        let alpha = if in_plane || crossing.is_some() { 1.0 } else { 0.5 };
        let d = p.diameter_mm * px_per_mm;
        let (shaft_w, exposed_w) = ((d * 0.6).max(1.5 * k), d.max(3.5 * k));
        if in_plane || crossing.is_some() {
            canvas.line(end, entry.px, shaft_w, with_alpha(SHAFT, alpha));
            canvas.line(tip.px, end, exposed_w, with_alpha(EXPOSED, alpha));
        } else {
            let (dash, gap) = (6.0 * k, 4.0 * k);
            canvas.dashed_line(end, entry.px, shaft_w, dash, gap, with_alpha(SHAFT, alpha));
            canvas.dashed_line(tip.px, end, exposed_w, dash, gap, with_alpha(EXPOSED, alpha));
        }
        if let Some(x) = crossing {
            // Where along the probe the plane cuts it: exposed part or insulated shaft.
            let t = tip.dist_mm / (tip.dist_mm - entry.dist_mm);
            let col = if t * len <= p.exposure_mm { EXPOSED } else { SHAFT };
            canvas.circle_stroke(x, 5.5 * k, 2.0 * k, col);
            canvas.line([x[0] - 3.0 * k, x[1]], [x[0] + 3.0 * k, x[1]], 1.5 * k, col);
            canvas.line([x[0], x[1] - 3.0 * k], [x[0], x[1] + 3.0 * k], 1.5 * k, col);
        }
        if tip.dist_mm.abs() <= slab_mm {
            canvas.circle_filled(tip.px, 3.0 * k, TIP);
        }
        canvas.text_shadow(
            [tip.px[0] + 8.0 * k, tip.px[1] - 8.0 * k],
            Anchor::LEFT_BOTTOM,
            &p.label,
            14.0 * k,
            [255, 255, 255, 255],
        );
    }
}

fn draw_caliper(canvas: &mut Canvas, plane: &ObliquePlane, c: &CaliperOverlay, k: f64) {
    let (a, b) = (plane.project(&c.a_lps).px, plane.project(&c.b_lps).px);
    canvas.line(a, b, 1.5 * k, CALIPER);
    for p in [a, b] {
        canvas.circle_filled(p, 2.5 * k, CALIPER);
    }
    let label = c
        .label
        .clone()
        .unwrap_or_else(|| format!("{:.1} mm", (c.b_lps - c.a_lps).norm()));
    let mid = [(a[0] + b[0]) / 2.0 + 6.0 * k, (a[1] + b[1]) / 2.0 - 6.0 * k];
    canvas.text_shadow(mid, Anchor::LEFT_BOTTOM, &label, 13.0 * k, CALIPER);
}

/// Orientation letters, corner text, scale bar and legend.
#[allow(clippy::too_many_arguments)]
fn draw_annotations(
    canvas: &mut Canvas,
    export: &ViewExport<'_>,
    f: &ViewFrame,
    plane: &ObliquePlane,
    anonymise: bool,
    legend: &[(String, Rgba)],
    k: f64,
) {
    let (w, h) = (plane.width as f64, plane.height as f64);
    let pad = 6.0 * k;
    let (u, v) = (plane.u_dir, plane.v_dir);
    let big = 15.0 * k;
    for (dir, at, anchor) in [
        (-u, [pad, h / 2.0], Anchor::LEFT_CENTER),
        (u, [w - pad, h / 2.0], Anchor::RIGHT_CENTER),
        (-v, [w / 2.0, pad], Anchor::CENTER_TOP),
        (v, [w / 2.0, h - pad], Anchor::CENTER_BOTTOM),
    ] {
        canvas.text_shadow(at, anchor, &orientation_label(&dir), big, ORIENTATION);
    }
    let size = 12.5 * k;
    let meta = &export.volume.meta;
    let mut tl = vec![f.name.clone()];
    tl.extend(f.image_number.clone());
    if let Some(n) = meta.series_number {
        tl.push(format!("Se {n}"));
    }
    canvas.text_lines([pad, pad], Anchor::LEFT_TOP, &tl, size, VIEW_TEXT);

    let mut tr = Vec::new();
    if anonymise {
        tr.push("Anonymised".to_string());
    } else {
        tr.push(meta.patient_name.replace('^', " ").trim().to_string());
        if !meta.patient_id.is_empty() {
            tr.push(format!("ID {}", meta.patient_id));
        }
        if !meta.patient_birth_date.is_empty() {
            tr.push(format!("DOB {}", dicom_date(&meta.patient_birth_date)));
        }
        if !meta.institution.is_empty() {
            tr.push(meta.institution.clone());
        }
    }
    for d in [&meta.study_description, &meta.series_description] {
        if !d.trim().is_empty() {
            tr.push(d.trim().to_string());
        }
    }
    tr.retain(|s| !s.is_empty());
    canvas.text_lines([w - pad, pad], Anchor::RIGHT_TOP, &tr, size, CORNER);

    let wl = export.window;
    let preset = export
        .window_label
        .as_deref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let pos_mm = plane.centre_lps.coords.dot(&f.normal);
    let bl = vec![
        format!("W {:.0}  L {:.0}{preset}", wl.width_hu, wl.center_hu),
        format!("Pos {pos_mm:.1} mm  Th {:.2} mm", f.thickness_mm),
    ];
    canvas.text_lines([pad, h - pad], Anchor::LEFT_BOTTOM, &bl, size, CORNER);

    let mut br = Vec::new();
    if !anonymise && !meta.study_date.is_empty() {
        br.push(dicom_date(&meta.study_date));
    }
    br.push(format!("{:.2} mm / pixel", plane.pixel_mm[0]));
    canvas.text_lines([w - pad, h - pad], Anchor::RIGHT_BOTTOM, &br, size, CORNER);

    // Scale bar: a round length about a sixth of the width, bottom centre above the letter.
    let px_per_mm = 1.0 / plane.pixel_mm[0];
    let length_mm = nice_length_mm(w / 6.0 / px_per_mm);
    let len = length_mm * px_per_mm;
    let y = h - 30.0 * k;
    let x0 = w / 2.0 - len / 2.0;
    let col = [230, 230, 230, 255];
    canvas.line([x0, y], [x0 + len, y], 1.5 * k, col);
    for x in [x0, x0 + len] {
        canvas.line([x, y - 5.0 * k], [x, y], 1.5 * k, col);
    }
    let label = if length_mm >= 10.0 {
        format!("{:.0} cm", length_mm / 10.0)
    } else {
        format!("{length_mm} mm")
    };
    canvas.text_shadow(
        [w / 2.0, y - 3.0 * k],
        Anchor::CENTER_BOTTOM,
        &label,
        11.0 * k,
        col,
    );

    // Legend at the right edge, vertically centred, clear of the orientation letter, with a
    // colour swatch per entry.
    if !legend.is_empty() {
        let lsize = 12.0 * k;
        let step = line_height(lsize);
        let [letter_w, _] = text_size(&orientation_label(&u), big);
        let x = w - pad - letter_w - 10.0 * k;
        let y0 = h / 2.0 - legend.len() as f64 * step / 2.0;
        for (i, (text, c)) in legend.iter().enumerate() {
            let y = y0 + i as f64 * step;
            let [tw, _] = text_size(text, lsize);
            canvas.fill_rect(x - tw - 14.0 * k, y + 2.0 * k, x - tw - 4.0 * k, y + 12.0 * k, *c);
            canvas.text_shadow([x, y], Anchor::RIGHT_TOP, text, lsize, *c);
        }
    }
}

fn draw_view(
    export: &ViewExport<'_>,
    f: &ViewFrame,
    plane: ObliquePlane,
    k: f64,
    force_anonymise: bool,
) -> Result<ViewImage, ExportError> {
    let volume = export.volume;
    let anonymise = export.anonymise || force_anonymise;
    let r = reslice_volume(volume, &plane);
    let mut pixels = Vec::new();
    render_reslice(&r, &WlLut::new(export.window), &mut pixels);
    let (w, h) = (plane.width, plane.height);

    // Structures first (fills, then outlines on top of every fill).
    let structures: Vec<&StructureOverlay<'_>> = export
        .overlays
        .iter()
        .filter_map(|o| match o {
            Overlay::Structure(s) => Some(s),
            _ => None,
        })
        .collect();
    let mut outlines: Vec<([u8; 3], Vec<[Pt; 2]>)> = Vec::new();
    if !structures.is_empty() {
        // A reformatted view magnified beyond the CT's voxels (a coronal of 3 mm slices on a
        // slide) samples the masks trilinearly, so outlines follow the surface instead of
        // showing every slice as a step; otherwise nearest voxel, as on screen.
        let smooth = magnification(&volume.geometry, &plane) > SMOOTH_MASKS_FROM;
        let pv = (!smooth).then(|| plane_voxels(&volume.geometry, &plane));
        for s in structures {
            let m = match &pv {
                Some(pv) => sample_mask(s.mask, pv),
                None => sample_mask_smooth(s.mask, &volume.geometry, &plane),
            };
            if m.iter().any(|b| *b) {
                blend_mask(&mut pixels, &m, s.colour, s.fill_opacity);
                let segs: Vec<[Pt; 2]> = if smooth {
                    mask_outline(&m, w, h).iter().map(seg_px).collect()
                } else {
                    outline_segments(&m, w, h)
                        .iter()
                        .map(|s| s.map(|p| [f64::from(p[0]), f64::from(p[1])]))
                        .collect()
                };
                outlines.push((s.colour, segs));
            }
        }
    }
    let image = RgbaImage::from_pixels(w, h, pixels)?;
    let mut canvas = Canvas::from_image(image)?;
    if anonymise {
        canvas.set_redactions(identifying_strings(&volume.meta));
    }
    // Zone fills, then the structure outlines above them (a target's edge stays visible inside
    // the zone), then the zone's own lines.
    let zones: Vec<&ZoneOverlay<'_>> = export
        .overlays
        .iter()
        .filter_map(|o| match o {
            Overlay::Zone(z) => Some(z),
            _ => None,
        })
        .collect();
    let sampled: Vec<Option<SampledZone>> = zones.iter().map(|z| fill_zone(&mut canvas, &plane, z)).collect();
    for (colour, segs) in &outlines {
        canvas.stroke_segments(segs, 1.5 * k, rgba(*colour));
    }
    let mut legend = Vec::new();
    for (z, zs) in zones.iter().zip(&sampled) {
        legend.extend(zone_legend(z));
        if let Some(zs) = zs {
            draw_zone_lines(&mut canvas, zs, z, k);
        }
    }
    for o in &export.overlays {
        if let Overlay::Caliper(c) = o {
            draw_caliper(&mut canvas, &plane, c, k);
        }
    }
    for o in &export.overlays {
        if let Overlay::Probes(p) = o {
            draw_probes(&mut canvas, &plane, p, f.slab_mm, k);
        }
    }
    if export.annotations {
        draw_annotations(&mut canvas, export, f, &plane, anonymise, &legend, k);
    }
    let redacted = canvas.redacted_count();
    let (image, texts) = canvas.into_parts();
    Ok(ViewImage {
        image,
        texts,
        redacted,
        plane,
    })
}

/// One view of a layout export and where it goes: `[x, y, width, height]` in output pixels.
pub struct LayoutPanel<'a> {
    pub view: ViewExport<'a>,
    pub rect: [usize; 4],
}

/// The whole layout in one image (`width × height`, black background): each panel rendered with
/// [`render_view_fit`] into its rectangle, a thin frame around it; `text_scale` as the panels'
/// (e.g. 2 for a 2× export of the screen layout). Texts are collected in image coordinates.
pub fn render_layout(
    width: usize,
    height: usize,
    panels: &[LayoutPanel<'_>],
    text_scale: f64,
) -> Result<(RgbaImage, Vec<DrawnText>), ExportError> {
    let mut canvas = Canvas::new(width, height, [0, 0, 0, 255])?;
    for p in panels {
        let [x, y, w, h] = p.rect;
        let img = render_view_fit(&p.view, w, h, text_scale, false)?;
        canvas.blit(&img.image, x as i64, y as i64);
        canvas.extend_texts(&img.texts, x as f64, y as f64);
        let (x0, y0) = (x as f64 + 0.5, y as f64 + 0.5);
        canvas.stroke_rect(
            x0,
            y0,
            x0 + w as f64 - 1.0,
            y0 + h as f64 - 1.0,
            1.0,
            [60, 60, 60, 255],
        );
    }
    Ok(canvas.into_parts())
}
