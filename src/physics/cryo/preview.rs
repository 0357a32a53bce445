//! The instant preview while dragging (< 16 ms): per probe and isotherm an ellipsoid around the
//! active length, combined over the probes (union), labelled "preview". Not the full model: probes
//! do not interact (two probes 15 mm apart freeze far more together than the union shows) and
//! vessels are ignored.
//!
//! Ellipsoid sizes: the catalog isotherm (length × width in gel) when the catalog has that
//! temperature and the medium is a phantom gel; otherwise the single-probe full model
//! ([`super::calibrate::single_probe_dims`]) for the probe's model and active length, the tissue at
//! the probe and the longest freeze of the protocol, run once and cached (about a second on the
//! first preview of a new combination: warm it up in a background job with [`warm_preview`]).

use super::calibrate::{CalibrationSetup, IsothermDims, single_probe_dims};
use super::model::{CryoAssets, CryoError, CryoSettings};
use super::tissue::CryoTissueSource;
use crate::geometry::PatientPos;
use crate::jobs::JobCtx;
use crate::physics::grid::ComputeGrid;
use crate::physics::ire::zone;
use crate::plan::probe::Probe;
use crate::plan::protocol::PhaseKind;
use nalgebra::Vector3;
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

/// Preview grid spacing (mm).
pub const PREVIEW_SPACING_MM: f64 = 1.5;

/// One probe's ellipsoid for one isotherm.
#[derive(Clone, Debug, PartialEq)]
pub struct PreviewEllipsoid {
    pub probe: usize,
    pub isotherm_c: f64,
    pub centre_lps: PatientPos,
    /// Unit probe axis.
    pub axis: Vector3<f64>,
    pub length_mm: f64,
    pub width_mm: f64,
    /// "catalog" or "single-probe model".
    pub source: &'static str,
}

impl PreviewEllipsoid {
    pub fn contains(&self, p: &PatientPos) -> bool {
        let d = p - self.centre_lps;
        let a = d.dot(&self.axis);
        let r2 = (d - self.axis * a).norm_squared();
        let (sa, sw) = (0.5 * self.length_mm, 0.5 * self.width_mm);
        sa > 0.0 && sw > 0.0 && (a * a) / (sa * sa) + r2 / (sw * sw) <= 1.0
    }
}

/// The preview: ellipsoids and their union on a coarse grid.
#[derive(Clone, Debug)]
pub struct CryoPreview {
    pub isotherms_c: Vec<f64>,
    pub ellipsoids: Vec<PreviewEllipsoid>,
    pub grid: ComputeGrid,
    /// Per node: bit `i` set when inside isotherm `i` of some probe.
    pub labels: Vec<u8>,
    pub elapsed_s: f64,
    /// Always true: draw it labelled "preview".
    pub preview: bool,
    pub description: String,
}

impl CryoPreview {
    /// Whether `p` lies inside isotherm `iso` of any probe (analytic).
    pub fn contains(&self, iso: usize, p: &PatientPos) -> bool {
        let t = self.isotherms_c.get(iso).copied();
        self.ellipsoids
            .iter()
            .any(|e| Some(e.isotherm_c) == t && e.contains(p))
    }

    pub fn mask(&self, iso: usize) -> Vec<bool> {
        let bit = 1u8 << iso.min(7);
        self.labels.iter().map(|l| l & bit != 0).collect()
    }

    pub fn volume_ml(&self, iso: usize) -> f64 {
        zone::zone_volume_ml(&self.grid, &self.mask(iso))
    }

    pub fn extents_mm(&self, iso: usize, axes: [Vector3<f64>; 3]) -> [f64; 3] {
        zone::extents_mm(&self.grid, &self.mask(iso), axes)
    }

    /// Labels on a plane of `w × h` pixels (see `CryoResult::sample_plane`), analytic.
    #[allow(clippy::too_many_arguments)]
    pub fn sample_plane_labels(
        &self,
        origin_lps: &PatientPos,
        u_dir: &Vector3<f64>,
        v_dir: &Vector3<f64>,
        spacing_mm: f64,
        w: usize,
        h: usize,
    ) -> Vec<u8> {
        (0..w * h)
            .into_par_iter()
            .map(|idx| {
                let (x, y) = ((idx % w.max(1)) as f64, (idx / w.max(1)) as f64);
                let p = origin_lps + u_dir * (x * spacing_mm) + v_dir * (y * spacing_mm);
                self.label_at(&p)
            })
            .collect()
    }

    fn label_at(&self, p: &PatientPos) -> u8 {
        let mut l = 0u8;
        for e in &self.ellipsoids {
            if let Some(i) = self.isotherms_c.iter().position(|t| *t == e.isotherm_c)
                && i < 8
                && l & (1 << i) == 0
                && e.contains(p)
            {
                l |= 1 << i;
            }
        }
        l
    }
}

/// Cache key: model, active length, tissue class, initial temperature, freeze duration (bits).
type Key = (String, u64, String, u64, u64);

fn cache() -> &'static Mutex<BTreeMap<Key, BTreeMap<u64, IsothermDims>>> {
    static CACHE: OnceLock<Mutex<BTreeMap<Key, BTreeMap<u64, IsothermDims>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(BTreeMap::new()))
}

/// The tissue class id and initial temperature at a point of the source.
fn medium_at(tissue: &CryoTissueSource<'_>, p: &PatientPos, assets: &CryoAssets) -> (String, f64) {
    let t_a = assets.tissues.blood.arterial_temperature_c.value;
    match tissue {
        CryoTissueSource::Phantom {
            class_id,
            temperature_c,
            ..
        } => (class_id.to_string(), *temperature_c),
        CryoTissueSource::Ct { volume, .. } => {
            let hu = volume.hu_at(p).map_or(0.0, f64::from);
            (assets.ire_params.class_for_hu(hu).to_string(), t_a)
        }
    }
}

/// Single-probe dims for every isotherm (cached).
fn model_dims(
    model_id: &str,
    active_mm: f64,
    class_id: &str,
    initial_c: f64,
    freeze_s: f64,
    isotherms: &[f64],
    assets: &CryoAssets,
) -> Result<Vec<IsothermDims>, CryoError> {
    let key: Key = (
        model_id.to_string(),
        active_mm.to_bits(),
        class_id.to_string(),
        initial_c.to_bits(),
        freeze_s.to_bits(),
    );
    let mut out = Vec::with_capacity(isotherms.len());
    for &iso in isotherms {
        let cached = cache()
            .lock()
            .ok()
            .and_then(|c| c.get(&key).and_then(|m| m.get(&iso.to_bits()).copied()));
        let dims = match cached {
            Some(d) => d,
            None => {
                let setup = CalibrationSetup {
                    model_id: model_id.to_string(),
                    active_length_mm: Some(active_mm),
                    medium_class: class_id.to_string(),
                    initial_temperature_c: initial_c,
                    freeze_s,
                    spacing_mm: 1.0,
                    margin_mm: 25.0,
                    isotherm_c: iso,
                };
                let d = single_probe_dims(&setup, assets, &JobCtx::default()).unwrap_or(IsothermDims {
                    length_mm: 0.0,
                    width_mm: 0.0,
                });
                if let Ok(mut c) = cache().lock() {
                    c.entry(key.clone()).or_default().insert(iso.to_bits(), d);
                }
                d
            }
        };
        out.push(dims);
    }
    Ok(out)
}

/// Runs the single-probe models a preview of these probes will need (call from a job).
pub fn warm_preview(
    probes: &[Probe],
    settings: &CryoSettings,
    tissue: CryoTissueSource<'_>,
    assets: &CryoAssets,
) -> Result<(), CryoError> {
    preview_cryo(probes, settings, tissue, assets).map(|_| ())
}

/// The preview of a plan (see the module doc). Isotherms: 0, −20, −40 °C, the lethal and the
/// user's ([`CryoSettings::reported_isotherms_c`], at most 8).
pub fn preview_cryo(
    probes: &[Probe],
    settings: &CryoSettings,
    tissue: CryoTissueSource<'_>,
    assets: &CryoAssets,
) -> Result<CryoPreview, CryoError> {
    let started = Instant::now();
    if probes.is_empty() {
        return Err(CryoError::NoProbes);
    }
    let mut isotherms = settings.reported_isotherms_c();
    isotherms.truncate(8);
    let freeze_s = settings
        .protocol
        .phases
        .iter()
        .filter(|p| p.kind == PhaseKind::Freeze)
        .map(|p| p.duration_s)
        .fold(0.0, f64::max);
    if freeze_s <= 0.0 {
        return Err(CryoError::Invalid("the protocol has no freeze phase".into()));
    }
    let mut ellipsoids = Vec::new();
    for (pi, probe) in probes.iter().enumerate() {
        let seg = probe
            .exposed_segment()
            .map_err(|e| CryoError::Invalid(e.to_string()))?;
        let axis = probe.axis().map_err(|e| CryoError::Invalid(e.to_string()))?;
        let centre = seg.midpoint();
        let (class_id, initial_c) = medium_at(&tissue, &centre, assets);
        let gel_like = crate::physics::cryo::tissue::PHANTOM_CLASSES.contains(&class_id.as_str());
        let catalog_iso = assets.catalog.get(&probe.model_id).map(|m| m.isotherms.clone());
        let needs_model: Vec<f64> = isotherms
            .iter()
            .copied()
            .filter(|t| {
                !(gel_like
                    && catalog_iso
                        .as_ref()
                        .is_some_and(|c| c.iter().any(|i| i.temperature_c == *t)))
            })
            .collect();
        let dims = model_dims(
            &probe.model_id,
            probe.exposure_mm,
            &class_id,
            initial_c,
            freeze_s,
            &needs_model,
            assets,
        )?;
        for &t in &isotherms {
            let cat = gel_like
                .then(|| {
                    catalog_iso
                        .as_ref()
                        .and_then(|c| c.iter().find(|i| i.temperature_c == t))
                })
                .flatten();
            let (length_mm, width_mm, source) = match cat {
                Some(i) => (i.length_mm.value, i.width_mm.value, "catalog"),
                None => {
                    let k = needs_model.iter().position(|x| *x == t).unwrap_or(0);
                    let d = dims.get(k).copied().unwrap_or(IsothermDims {
                        length_mm: 0.0,
                        width_mm: 0.0,
                    });
                    (d.length_mm, d.width_mm, "single-probe model")
                }
            };
            ellipsoids.push(PreviewEllipsoid {
                probe: pi,
                isotherm_c: t,
                centre_lps: centre,
                axis,
                length_mm,
                width_mm,
                source,
            });
        }
    }
    // Grid over the ellipsoids' bounding boxes.
    let mut lo = Vector3::repeat(f64::INFINITY);
    let mut hi = Vector3::repeat(f64::NEG_INFINITY);
    for e in &ellipsoids {
        let r = 0.5 * e.length_mm.max(e.width_mm) + PREVIEW_SPACING_MM;
        lo = lo.inf(&(e.centre_lps.coords - Vector3::repeat(r)));
        hi = hi.sup(&(e.centre_lps.coords + Vector3::repeat(r)));
    }
    let dims = [0, 1, 2].map(|ax| ((hi[ax] - lo[ax]) / PREVIEW_SPACING_MM).ceil().max(1.0) as usize + 1);
    let grid = ComputeGrid {
        origin_lps: PatientPos::from(lo),
        spacing_mm: PREVIEW_SPACING_MM,
        dims,
    };
    let mut preview = CryoPreview {
        isotherms_c: isotherms,
        ellipsoids,
        grid,
        labels: Vec::new(),
        elapsed_s: 0.0,
        preview: true,
        description: "cryo preview: catalog / single-probe ellipsoids per probe, combined — not the full \
                      model (probes do not interact, vessels ignored)"
            .into(),
    };
    let g = &preview.grid;
    preview.labels = (0..g.len())
        .into_par_iter()
        .map(|idx| {
            let [i, j, k] = g.ijk(idx);
            preview.label_at(&g.lps(i, j, k))
        })
        .collect();
    preview.elapsed_s = started.elapsed().as_secs_f64();
    Ok(preview)
}
