//! The board slide of an IRE plan, assembled from the model result: axial and coronal views
//! through the zone's centre and the along-probe view of the first probe (each with structures,
//! the zone and |E| isolines, numbered probes), the probes and pairs tables (voltage, spacing,
//! V/cm, predicted current against the generator limit), findings, margin and provenance. Used by
//! `ablaplan compute CASE --png` and by the GUI's export.

use nalgebra::{Matrix3, Vector3};

use crate::anatomy::Structure;
use crate::geometry::{PatientPos, VolumeGeometry};
use crate::physics::grid::ComputeGrid;
use crate::physics::ire::model::{IreModelOptions, IreResult};
use crate::plan::ire::{CURRENT_LIMIT_A, IreSettings};
use crate::plan::probe::Probe;
use crate::plan::tissue_params::TissueParams;
use crate::render::WindowLevel;
use crate::render::reslice::{ProbePlaneOptions, in_plane_for_probe};
use crate::volume::{ViewKind, Volume, VolumeMeta};

use super::ExportError;
use super::slide::{
    BoardSlide, Provenance, Severity, SlideImage, SlideTable, TableRow, parameter_hash, render_slide,
};
use super::view::{
    CaliperOverlay, Overlay, ProbeOverlay, StructureOverlay, ViewExport, ViewPlane, ZoneOverlay,
};

/// Field of view of the axial and coronal panels (mm): the zone (≈ 3–4 cm) with its
/// surroundings, as the along-probe view (`reslice::DEFAULT_FIELD_OF_VIEW_MM` = 80 mm) but wider
/// to show the neighbouring structures.
pub const BOARD_FIELD_OF_VIEW_MM: f64 = 120.0;

/// What the IRE board slide shows.
pub struct IreBoard<'a> {
    pub title: String,
    pub volume: &'a Volume,
    pub probes: &'a [Probe],
    pub result: &'a IreResult,
    pub isolines_v_per_cm: &'a [f64],
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
}

/// Centre of the zone's nodes (LPS), or of the probes' exposed parts when the zone is empty.
pub fn zone_centre(result: &IreResult, probes: &[Probe]) -> Option<PatientPos> {
    let mut sum = Vector3::zeros();
    let mut n = 0usize;
    for (idx, inside) in result.zone.iter().enumerate() {
        if *inside {
            let [i, j, k] = result.grid.ijk(idx);
            sum += result.grid.lps(i, j, k).coords;
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

fn overlays<'a>(b: &IreBoard<'a>) -> Vec<Overlay<'a>> {
    let mut out: Vec<Overlay<'a>> = b
        .structures
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
    out.push(Overlay::Zone(ZoneOverlay::ire(b.result, b.isolines_v_per_cm)));
    out.extend(b.calipers.iter().cloned().map(Overlay::Caliper));
    out.push(Overlay::Probes(ProbeOverlay::numbered(b.probes)));
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
            .map(|p| TableRow {
                cells: vec![
                    format!("{}–{}", p.a + 1, p.b + 1),
                    format!("{:.0} V", p.voltage_v),
                    format!("{:.1} mm", p.spacing_mm),
                    if p.spacing_mm > 0.0 {
                        format!("{:.0}", p.voltage_v / (p.spacing_mm / 10.0))
                    } else {
                        "—".into()
                    },
                    format!("{:.1} A", p.current_a),
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

/// Renders the IRE board slide.
pub fn ire_board_slide(b: &IreBoard<'_>) -> Result<SlideImage, ExportError> {
    let centre = zone_centre(b.result, b.probes)
        .ok_or_else(|| ExportError::BadView("the plan has neither a zone nor a usable probe".into()))?;
    let mut views = Vec::new();
    for view in [ViewKind::Axial, ViewKind::Coronal] {
        let (plane, crop) = mpr_through(b.volume, view, &centre, BOARD_FIELD_OF_VIEW_MM);
        let mut e = ViewExport::new(b.volume, plane);
        e.window = b.window;
        e.crop = Some(crop);
        e.anonymise = b.anonymise;
        e.overlays = overlays(b);
        views.push((view.name().to_string(), e));
    }
    if let Some(first) = b.probes.first() {
        let opts = ProbePlaneOptions {
            field_of_view_mm: BOARD_FIELD_OF_VIEW_MM * 2.0 / 3.0,
            ..ProbePlaneOptions::default()
        };
        let plane = in_plane_for_probe(first, &b.volume.geometry, &opts)?;
        let mut e = ViewExport::new(
            b.volume,
            ViewPlane::Oblique {
                plane,
                name: "Along probe 1".into(),
                slab_mm: plane.pixel_mm[0] / 2.0,
            },
        );
        e.window = b.window;
        e.anonymise = b.anonymise;
        e.overlays = overlays(b);
        views.push(("Along probe 1".to_string(), e));
    }
    let r = b.result;
    let subtitle = format!(
        "IRE — {} electrodes, {} pairs; zone {:.1} mL; highest predicted current {:.1} A{}",
        b.probes.len(),
        r.pairs.len(),
        r.zone_volume_ml,
        r.max_current_a(),
        if r.any_over_limit() {
            format!(" (over the {CURRENT_LIMIT_A} A limit)")
        } else {
            String::new()
        }
    );
    let plan = ire_plan_tables(b.probes, r);
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
    };
    render_slide(&slide)
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
    let hi = grid.origin_lps.coords
        + Vector3::new(
            grid.dims[0].saturating_sub(1) as f64,
            grid.dims[1].saturating_sub(1) as f64,
            grid.dims[2].saturating_sub(1) as f64,
        ) * grid.spacing_mm
        + Vector3::repeat(pad);
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
