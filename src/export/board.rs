//! The board slides of an IRE and of a cryo plan, assembled from the model result: axial and
//! coronal views through the zone's centre and the along-probe view of the first probe (each with
//! structures, the zone with its isolines — |E| for IRE; 0 °C, −20 °C and the lethal isotherm for
//! cryo — and numbered probes), the plan tables (IRE: probes and pairs with voltage, spacing,
//! V/cm, predicted current against the generator limit; cryo: probes, protocol phases with each
//! probe's duty, iceball size per isotherm), findings, margin and provenance. Used by
//! `ablaplan compute CASE --png` and by the GUI's export.

use nalgebra::{Matrix3, Vector3};

use crate::anatomy::Structure;
use crate::geometry::{PatientPos, VolumeGeometry};
use crate::physics::cryo::model::{CryoResult, CryoSettings, iceball_axes};
use crate::physics::cryo::tissue::CryoTissues;
use crate::physics::grid::ComputeGrid;
use crate::physics::ire::model::{IreModelOptions, IreResult};
use crate::plan::ire::{CURRENT_LIMIT_A, IreSettings};
use crate::plan::probe::Probe;
use crate::plan::tissue_params::TissueParams;
use crate::render::reslice::{ProbePlaneOptions, in_plane_for_probe, voxel_extent_mm};
use crate::render::{RgbaImage, WindowLevel};
use crate::volume::{ViewKind, Volume, VolumeMeta};

use super::ExportError;
use super::slide::{
    BoardSlide, Provenance, Severity, SlideImage, SlideTable, TableRow, VIEW_SIDE_PX, count, parameter_hash,
    render_slide,
};
use super::view::{
    CaliperOverlay, Overlay, ProbeOverlay, StructureOverlay, ViewExport, ViewPlane, ZoneOverlay,
};

/// Field of view of a board panel when the zone is empty (mm): a zone of ≈ 3–4 cm with its
/// surroundings.
pub const BOARD_FIELD_OF_VIEW_MM: f64 = 120.0;
/// The zone's largest extent times this is the panel's field of view: the zone with its
/// neighbouring structures around it.
pub const BOARD_ZONE_CONTEXT: f64 = 3.0;
/// Narrowest field of view of a board panel (mm), however small the zone.
pub const BOARD_MIN_FIELD_OF_VIEW_MM: f64 = 60.0;
/// Widest field of view of a board panel (mm).
pub const BOARD_MAX_FIELD_OF_VIEW_MM: f64 = 400.0;
/// Most output pixels one CT voxel may span on a panel: beyond it a reformatted view of thick
/// slices shows each slice as a band (3 mm slices at 0.2 mm per pixel span 15 pixels).
pub const BOARD_MAX_MAGNIFICATION: f64 = 10.0;

/// The field of view (mm) of a `panel_px` board panel: the zone's largest extent with context
/// ([`BOARD_ZONE_CONTEXT`]; [`BOARD_FIELD_OF_VIEW_MM`] without a zone), widened until one voxel
/// of the series (its coarsest spacing in the panel's plane) spans at most
/// [`BOARD_MAX_MAGNIFICATION`] pixels, within [`BOARD_MIN_FIELD_OF_VIEW_MM`] –
/// [`BOARD_MAX_FIELD_OF_VIEW_MM`].
pub fn board_field_of_view_mm(zone_extent_mm: Option<f64>, coarsest_spacing_mm: f64, panel_px: usize) -> f64 {
    let zone = zone_extent_mm
        .filter(|e| e.is_finite() && *e > 0.0)
        .map_or(BOARD_FIELD_OF_VIEW_MM, |e| e * BOARD_ZONE_CONTEXT);
    let resolution = if coarsest_spacing_mm.is_finite() && coarsest_spacing_mm > 0.0 {
        panel_px as f64 * coarsest_spacing_mm / BOARD_MAX_MAGNIFICATION
    } else {
        0.0
    };
    zone.max(resolution)
        .clamp(BOARD_MIN_FIELD_OF_VIEW_MM, BOARD_MAX_FIELD_OF_VIEW_MM)
}

/// The largest side (mm) of the box around the nodes of `mask` on `grid`, `None` when empty.
pub fn mask_extent_mm(grid: &ComputeGrid, mask: &[bool]) -> Option<f64> {
    let (mut lo, mut hi) = ([usize::MAX; 3], [0usize; 3]);
    let mut any = false;
    for (idx, inside) in mask.iter().enumerate() {
        if *inside {
            let ijk = grid.ijk(idx);
            for a in 0..3 {
                lo[a] = lo[a].min(ijk[a]);
                hi[a] = hi[a].max(ijk[a]);
            }
            any = true;
        }
    }
    any.then(|| {
        (0..3)
            .map(|a| (hi[a] - lo[a] + 1) as f64 * grid.spacing_mm)
            .fold(0.0, f64::max)
    })
}

/// The zone a board slide shows: an IRE result with its |E| isolines, or a cryo result with its
/// lethal isotherm (°C). Cryo isotherms are drawn and measured at their largest extent over the
/// whole protocol (the lowest temperature each point reached), the zones the safety analysis
/// judges; the slide says so.
#[derive(Clone, Copy)]
pub enum BoardZone<'a> {
    Ire {
        result: &'a IreResult,
        isolines_v_per_cm: &'a [f64],
    },
    Cryo {
        result: &'a CryoResult,
        lethal_c: f64,
    },
}

/// What a board slide shows, for either modality.
pub struct Board<'a> {
    pub title: String,
    pub volume: &'a Volume,
    pub probes: &'a [Probe],
    pub zone: BoardZone<'a>,
    /// Drawn in every view (fill + outline).
    pub structures: &'a [Structure],
    /// Distance measurements drawn in every view (e.g. the closest points of a finding).
    pub calipers: Vec<CaliperOverlay>,
    /// `None`: no safety analysis (the slide says "not available").
    pub findings: Option<Vec<(Severity, String)>>,
    pub margin: Vec<String>,
    pub margin_ok: Option<bool>,
    pub provenance: Provenance,
    pub window: WindowLevel,
    pub anonymise: bool,
    /// The plan's 3-D picture (see [`BoardSlide::scene3d`]).
    pub scene3d: Option<RgbaImage>,
}

/// Centre of the nodes of `mask` on `grid` (LPS), or of the probes' exposed parts when the mask
/// is empty: where a board's views are centred.
pub fn mask_centre(grid: &ComputeGrid, mask: &[bool], probes: &[Probe]) -> Option<PatientPos> {
    let mut sum = Vector3::zeros();
    let mut n = 0usize;
    for (idx, inside) in mask.iter().enumerate() {
        if *inside {
            let [i, j, k] = grid.ijk(idx);
            sum += grid.lps(i, j, k).coords;
            n += 1;
        }
    }
    if n > 0 {
        return Some(PatientPos::from(sum / n as f64));
    }
    let mids: Vec<PatientPos> = probes
        .iter()
        .filter_map(|p| p.exposed_segment().ok().map(|s| s.midpoint()))
        .collect();
    (!mids.is_empty()).then(|| {
        PatientPos::from(mids.iter().fold(Vector3::zeros(), |a, p| a + p.coords) / mids.len() as f64)
    })
}

/// Centre of an IRE zone (see [`mask_centre`]).
pub fn zone_centre(result: &IreResult, probes: &[Probe]) -> Option<PatientPos> {
    mask_centre(&result.grid, &result.zone, probes)
}

/// An MPR view through `centre`, cropped to a square of `fov_mm` around it.
fn mpr_through(volume: &Volume, view: ViewKind, centre: &PatientPos, fov_mm: f64) -> (ViewPlane, [f64; 4]) {
    let m = volume.view_mapping(view);
    let vox = volume.geometry.to_voxel(centre);
    let slice = vox[m.normal_axis]
        .round()
        .clamp(0.0, m.slice_count.saturating_sub(1) as f64) as usize;
    let (u, v, _) = m.pixel_of_voxel(&vox);
    let (hu, hv) = (fov_mm / 2.0 / m.pixel_mm[0], fov_mm / 2.0 / m.pixel_mm[1]);
    (ViewPlane::Mpr { view, slice }, [u - hu, v - hv, u + hu, v + hv])
}

/// A board view's overlays, bottom to top: the visible structures, the zone, the calipers, the
/// numbered probes.
fn overlays<'a>(b: &Board<'a>) -> Vec<Overlay<'a>> {
    let (structures, calipers, probes) = (b.structures, &b.calipers, b.probes);
    let zone = match b.zone {
        BoardZone::Ire {
            result,
            isolines_v_per_cm,
        } => ZoneOverlay::ire(result, isolines_v_per_cm),
        BoardZone::Cryo { result, lethal_c } => ZoneOverlay::cryo(result, lethal_c),
    };
    let mut out: Vec<Overlay<'a>> = structures
        .iter()
        .filter(|s| s.visible)
        .map(|s| {
            Overlay::Structure(StructureOverlay {
                name: s.name.clone(),
                mask: s.mask(),
                colour: s.colour,
                fill_opacity: s.opacity,
            })
        })
        .collect();
    out.push(Overlay::Zone(zone));
    out.extend(calipers.iter().cloned().map(Overlay::Caliper));
    out.push(Overlay::Probes(ProbeOverlay::numbered(probes)));
    out
}

fn fmt_lps(p: &PatientPos) -> String {
    format!("({:.1}, {:.1}, {:.1})", p.x, p.y, p.z)
}

/// The probes and pairs tables.
pub fn ire_plan_tables(probes: &[Probe], result: &IreResult) -> Vec<SlideTable> {
    let probes_table = SlideTable {
        title: "Electrodes".into(),
        header: ["#", "label", "model", "exposure", "tip LPS (mm)"]
            .map(String::from)
            .to_vec(),
        rows: probes
            .iter()
            .enumerate()
            .map(|(i, p)| TableRow {
                cells: vec![
                    format!("{}", i + 1),
                    p.label.clone(),
                    p.model_id.clone(),
                    format!("{:.0} mm", p.exposure_mm),
                    fmt_lps(&p.tip_lps),
                ],
                flagged: false,
            })
            .collect(),
    };
    let pairs_table = SlideTable {
        title: format!("Pairs (generator limit {CURRENT_LIMIT_A} A)"),
        header: [
            "pair",
            "voltage",
            "spacing",
            "V/cm",
            "predicted current",
            "status",
        ]
        .map(String::from)
        .to_vec(),
        rows: result
            .pairs
            .iter()
            .enumerate()
            .map(|(i, p)| TableRow {
                cells: vec![
                    format!("{}–{}", p.a + 1, p.b + 1),
                    format!("{:.0} V", p.voltage_v),
                    format!("{:.1} mm", p.spacing_mm),
                    if p.spacing_mm > 0.0 {
                        format!("{:.0}", p.voltage_v / (p.spacing_mm / 10.0))
                    } else {
                        "—".into()
                    },
                    pair_current_text(result, i),
                    if p.over_limit {
                        format!("over {CURRENT_LIMIT_A} A")
                    } else if !p.converged {
                        "not converged".into()
                    } else {
                        "ok".into()
                    },
                ],
                flagged: p.over_limit || !p.converged,
            })
            .collect(),
    };
    vec![probes_table, pairs_table]
}

/// A pair's predicted current as the plan panel shows it: with heating, the first pulse's and
/// the end of the train's (the tissue warms and conducts better; the generator stops on the
/// highest), so the table agrees with the slide's subtitle and the findings.
fn pair_current_text(result: &IreResult, i: usize) -> String {
    let Some(p) = result.pairs.get(i) else {
        return "—".into();
    };
    let max_a = result.pair_max_current_a(i).unwrap_or(p.current_a);
    if max_a > p.current_a + 0.05 {
        format!("{:.1} A, end {max_a:.1} A", p.current_a)
    } else {
        format!("{:.1} A", p.current_a)
    }
}

/// Provenance of an IRE result: its description, the software version, and a hash of the model
/// options, IRE settings, tissue parameters and probes it was computed from.
pub fn ire_provenance(
    result: &IreResult,
    options: &IreModelOptions,
    settings: &IreSettings,
    tissues: &TissueParams,
    probes: &[Probe],
) -> Provenance {
    let json = |v: Result<Vec<u8>, serde_json::Error>| v.unwrap_or_default();
    let parts = [
        json(serde_json::to_vec(options)),
        json(serde_json::to_vec(settings)),
        json(serde_json::to_vec(tissues)),
        json(serde_json::to_vec(probes)),
    ];
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Provenance {
        model: result.description.clone(),
        model_version: format!("ablaplan {} IRE model", env!("CARGO_PKG_VERSION")),
        parameter_hash: parameter_hash(&refs),
        notes: Vec::new(),
    }
}

/// The views of a board slide: axial and coronal through `centre` and the in-plane view along
/// the first probe, each with `overlays`, each with its field of view from the zone's extent and
/// the series' resolution in that plane ([`board_field_of_view_mm`]).
fn board_views<'v>(
    volume: &'v Volume,
    window: WindowLevel,
    anonymise: bool,
    probes: &[Probe],
    centre: &PatientPos,
    zone_extent_mm: Option<f64>,
    overlays: impl Fn() -> Vec<Overlay<'v>>,
) -> Result<Vec<(String, ViewExport<'v>)>, ExportError> {
    let mut views = Vec::new();
    let fov = |coarsest_mm: f64| board_field_of_view_mm(zone_extent_mm, coarsest_mm, VIEW_SIDE_PX);
    for view in [ViewKind::Axial, ViewKind::Coronal] {
        let m = volume.view_mapping(view);
        let fov_mm = fov(m.pixel_mm[0].max(m.pixel_mm[1]));
        let (plane, crop) = mpr_through(volume, view, centre, fov_mm);
        let mut e = ViewExport::new(volume, plane);
        e.window = window;
        e.crop = Some(crop);
        e.anonymise = anonymise;
        e.overlays = overlays();
        views.push((view.name().to_string(), e));
    }
    if let Some(first) = probes.first() {
        let g = &volume.geometry;
        // The plane's directions do not depend on the field of view: measure its resolution on
        // a first plane, then cut the panel's.
        let probe_plane = |field_of_view_mm| {
            let opts = ProbePlaneOptions {
                field_of_view_mm,
                ..ProbePlaneOptions::default()
            };
            in_plane_for_probe(first, g, &opts)
        };
        let trial = probe_plane(BOARD_FIELD_OF_VIEW_MM)?;
        let coarsest = voxel_extent_mm(g, &trial.u_dir).max(voxel_extent_mm(g, &trial.v_dir));
        let plane = probe_plane(fov(coarsest))?;
        let mut e = ViewExport::new(
            volume,
            ViewPlane::Oblique {
                plane,
                name: format!("Along probe {}", first.label),
                slab_mm: plane.pixel_mm[0] / 2.0,
            },
        );
        e.window = window;
        e.anonymise = anonymise;
        e.overlays = overlays();
        views.push((format!("Along probe {}", first.label), e));
    }
    Ok(views)
}

/// Renders the IRE board slide.
pub fn board_slide(b: &Board<'_>) -> Result<SlideImage, ExportError> {
    let (centre, subtitle, plan, extent) = match b.zone {
        BoardZone::Ire { result: r, .. } => {
            let centre = zone_centre(r, b.probes).ok_or_else(|| {
                ExportError::BadView("the plan has neither a zone nor a usable probe".into())
            })?;
            let subtitle = format!(
                "IRE — {}, {}; zone {:.1} mL; highest predicted current {:.1} A{}",
                count(b.probes.len(), "electrode", "electrodes"),
                count(r.pairs.len(), "pair", "pairs"),
                r.zone_volume_ml,
                r.max_current_a(),
                if r.any_over_limit() {
                    format!(" (over the {CURRENT_LIMIT_A} A limit)")
                } else {
                    String::new()
                }
            );
            (
                centre,
                subtitle,
                ire_plan_tables(b.probes, r),
                mask_extent_mm(&r.grid, &r.zone),
            )
        }
        BoardZone::Cryo { result: r, lethal_c } => {
            let centre = iceball_centre(r, b.probes).ok_or_else(|| {
                ExportError::BadView("the plan has neither an iceball nor a usable probe".into())
            })?;
            let lethal = r.reached_mask(r.last_snapshot(), lethal_c);
            let subtitle = format!(
                "Cryo — {}; {}; lethal zone (≤ {:.0} °C) {:.1} mL. Isotherms drawn and measured at \
                 their largest extent over the protocol (lowest temperature reached).",
                count(b.probes.len(), "probe", "probes"),
                r.protocol.description(),
                lethal_c,
                r.volume_ml(&lethal),
            );
            // The 0 °C iceball: the largest zone drawn.
            let iceball = r.reached_mask(r.last_snapshot(), 0.0);
            (
                centre,
                subtitle,
                cryo_plan_tables(b.probes, r, lethal_c),
                mask_extent_mm(&r.grid, &iceball),
            )
        }
    };
    let views = board_views(b.volume, b.window, b.anonymise, b.probes, &centre, extent, || {
        overlays(b)
    })?;
    let legend = b
        .structures
        .iter()
        .filter(|s| s.visible && !s.mask().is_empty())
        .map(|s| (s.name.clone(), s.colour))
        .collect();
    let slide = BoardSlide {
        title: b.title.clone(),
        subtitle,
        views,
        plan,
        findings: b.findings.clone(),
        margin: b.margin.clone(),
        margin_ok: b.margin_ok,
        provenance: b.provenance.clone(),
        anonymise: b.anonymise,
        patient: Some(&b.volume.meta),
        scene3d: b.scene3d.clone(),
        legend,
    };
    render_slide(&slide)
}

// ---------------------------------------------------------------------------------------------
// The cryo board slide
// ---------------------------------------------------------------------------------------------

/// Where the cryo views are centred: the middle of the 0 °C iceball at its largest extent, or
/// of the probes' active parts when nothing froze.
pub fn iceball_centre(result: &CryoResult, probes: &[Probe]) -> Option<PatientPos> {
    mask_centre(
        &result.grid,
        &result.reached_mask(result.last_snapshot(), 0.0),
        probes,
    )
}

/// The isotherms listed on the slide: 0 °C, −20 °C, −40 °C and the lethal one, without repeats.
fn slide_isotherms_c(lethal_c: f64) -> Vec<f64> {
    let mut v = vec![0.0, -20.0, -40.0];
    if !v.iter().any(|t| (t - lethal_c).abs() < 1e-9) {
        v.push(lethal_c);
    }
    v
}

/// "on", "off" or a percentage.
fn duty_text(d: f64) -> String {
    if d >= 1.0 - 1e-9 {
        "on".into()
    } else if d <= 1e-9 {
        "off".into()
    } else {
        format!("{:.0} %", 100.0 * d)
    }
}

fn minutes(s: f64) -> String {
    let m = s / 60.0;
    if (m - m.round()).abs() < 1e-9 {
        format!("{m:.0} min")
    } else {
        format!("{m:.1} min")
    }
}

/// The cryo plan tables: probes (model, active length, freeze surface temperature), the
/// protocol (phases, durations, each probe's duty), and the iceball per isotherm at its largest
/// extent (volume and extents along the first probe's axis, across the probes, perpendicular).
pub fn cryo_plan_tables(probes: &[Probe], result: &CryoResult, lethal_c: f64) -> Vec<SlideTable> {
    let probes_table = SlideTable {
        title: "Cryoprobes".into(),
        header: ["#", "label", "model", "active", "freeze surface", "tip LPS (mm)"]
            .map(String::from)
            .to_vec(),
        rows: probes
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let surface = result.probes.get(i).map_or_else(
                    || "—".to_string(),
                    |t| {
                        format!(
                            "{:.0} °C{}",
                            t.freeze_surface_c,
                            if t.calibrated { "" } else { " (default)" }
                        )
                    },
                );
                TableRow {
                    cells: vec![
                        format!("{}", i + 1),
                        p.label.clone(),
                        p.model_id.clone(),
                        format!("{:.0} mm", p.exposure_mm),
                        surface,
                        fmt_lps(&p.tip_lps),
                    ],
                    flagged: result.probes.get(i).is_some_and(|t| !t.calibrated),
                }
            })
            .collect(),
    };
    let protocol = &result.protocol;
    let mut header: Vec<String> = ["phase", "kind", "duration", "from – to"]
        .map(String::from)
        .to_vec();
    header.extend((1..=probes.len()).map(|i| format!("duty {i}")));
    let bounds = protocol.boundaries_s();
    let protocol_table = SlideTable {
        title: format!("Protocol ({} in all)", minutes(protocol.total_s())),
        header,
        rows: protocol
            .phases
            .iter()
            .enumerate()
            .map(|(n, ph)| {
                let from = bounds.get(n).copied().unwrap_or(0.0);
                let mut cells = vec![
                    format!("{}", n + 1),
                    ph.kind.label().to_string(),
                    minutes(ph.duration_s),
                    format!("{:.1} – {:.1} min", from / 60.0, (from + ph.duration_s) / 60.0),
                ];
                cells.extend((0..probes.len()).map(|i| duty_text(ph.duty(i))));
                TableRow {
                    cells,
                    flagged: false,
                }
            })
            .collect(),
    };
    let last = result.last_snapshot();
    let axes = iceball_axes(probes).unwrap_or([Vector3::x(), Vector3::y(), Vector3::z()]);
    let iceball_table = SlideTable {
        title: "Iceball at its largest extent over the protocol".into(),
        header: ["isotherm", "volume", "along probe", "across", "perpendicular"]
            .map(String::from)
            .to_vec(),
        rows: slide_isotherms_c(lethal_c)
            .into_iter()
            .map(|t| {
                let mask = result.reached_mask(last, t);
                let e = result.extents_mm(&mask, axes);
                let name = if t.abs() < 1e-9 {
                    "0 °C (iceball)".to_string()
                } else if (t - lethal_c).abs() < 1e-9 {
                    format!("{t:.0} °C (lethal)")
                } else {
                    format!("{t:.0} °C")
                };
                TableRow {
                    cells: vec![
                        name,
                        format!("{:.1} mL", result.volume_ml(&mask)),
                        format!("{:.0} mm", e[0]),
                        format!("{:.0} mm", e[1]),
                        format!("{:.0} mm", e[2]),
                    ],
                    flagged: false,
                }
            })
            .collect(),
    };
    vec![probes_table, protocol_table, iceball_table]
}

/// Provenance of a cryo result: its description, the software version, and a hash of the cryo
/// settings (protocol, isotherms, model options), the cryo tissue parameters, the probes and each
/// probe's surface temperatures (from the catalog calibration).
pub fn cryo_provenance(
    result: &CryoResult,
    settings: &CryoSettings,
    tissues: &CryoTissues,
    probes: &[Probe],
) -> Provenance {
    let json = |v: Result<Vec<u8>, serde_json::Error>| v.unwrap_or_default();
    let surfaces: Vec<u8> = result
        .probes
        .iter()
        .map(|t| format!("{}/{}/{};", t.freeze_surface_c, t.active_thaw_c, t.calibrated))
        .collect::<String>()
        .into_bytes();
    let parts = [
        json(serde_json::to_vec(settings)),
        json(serde_json::to_vec(tissues)),
        json(serde_json::to_vec(probes)),
        surfaces,
    ];
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    Provenance {
        model: result.description.clone(),
        model_version: format!("ablaplan {} cryo model", env!("CARGO_PKG_VERSION")),
        parameter_hash: parameter_hash(&refs),
        notes: Vec::new(),
    }
}

/// HU shown for a phantom block (display only: a soft-tissue gray in the default window, not a
/// property of the phantom) and for the air around it.
const PHANTOM_DISPLAY_HU: i16 = 40;
const AIR_HU: i16 = -1000;
/// Largest side (voxels) of the display grid of a phantom without structures.
const PHANTOM_MAX_SIDE: usize = 320;

/// A display grid for a phantom case without structures: the compute grid plus 10 mm on every
/// side, at the grid spacing (coarser when that would exceed 320 voxels per side).
pub fn phantom_display_geometry(grid: &ComputeGrid) -> Result<VolumeGeometry, ExportError> {
    let pad = 10.0;
    let lo = grid.origin_lps.coords - Vector3::repeat(pad);
    let hi = grid.last_node_lps().coords + Vector3::repeat(pad);
    let extent = hi - lo;
    let spacing = grid.spacing_mm.max(extent.max() / PHANTOM_MAX_SIDE as f64);
    if !(spacing.is_finite() && spacing > 0.0) {
        return Err(ExportError::BadView("the compute grid has no extent".into()));
    }
    let dims = [0, 1, 2].map(|a| ((extent[a] / spacing).round() as usize + 1).clamp(1, PHANTOM_MAX_SIDE + 1));
    Ok(VolumeGeometry {
        dims,
        spacing_mm: [spacing; 3],
        origin_lps: PatientPos::from(lo),
        direction: Matrix3::identity(),
    })
}

/// A CT-like volume for drawing a phantom case on `geometry`: the block (`size_mm` centred on
/// `centre_lps`, LPS-aligned) at a soft-tissue gray, air elsewhere.
pub fn phantom_display_volume(
    geometry: &VolumeGeometry,
    centre_lps: PatientPos,
    size_mm: [f64; 3],
    label: &str,
) -> Result<Volume, ExportError> {
    let g = geometry;
    let half = Vector3::from(size_mm) / 2.0;
    let mut hu = Vec::with_capacity(g.voxel_count());
    for k in 0..g.dims[2] {
        for j in 0..g.dims[1] {
            for i in 0..g.dims[0] {
                let p = g.to_patient(&Vector3::new(i as f64, j as f64, k as f64));
                let d = p - centre_lps;
                // Voxel centres on the faces count as inside (a block on its own grid is all tissue).
                let inside = (0..3).all(|a| d[a].abs() <= half[a] + 1e-9);
                hu.push(if inside { PHANTOM_DISPLAY_HU } else { AIR_HU });
            }
        }
    }
    let meta = VolumeMeta {
        series_description: format!("Phantom: {label}"),
        modality: "phantom".into(),
        default_window: Some((40.0, 400.0)),
        ..VolumeMeta::default()
    };
    Volume::new(g.clone(), hu, meta).map_err(|e| ExportError::BadView(e.to_string()))
}
