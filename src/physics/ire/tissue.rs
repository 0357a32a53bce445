//! Tissue class per compute-grid node and the compute grid of a plan.
//!
//! - Phantom: one class inside the block; the grid is the block, cropped around the probes plus
//!   the margin when the block is larger. The grid never extends past a block face (a block face
//!   that bounds the grid is the grid's face, within one spacing when the block's size is not a
//!   multiple of it), so every node is tissue. [`OUTSIDE`] (σ = 0) remains for nodes beyond a
//!   face should a caller pass such a grid; the model holds them fixed: empty rows upset the
//!   solver.
//! - CT: HU interpolated trilinearly at the node (from the volume's own geometry, any
//!   orientation), binned into a class by `TissueParams::class_for_hu`; structures override the
//!   class where the CT voxel containing the node is in their mask
//!   (`plan::tissue_params::class_for_structure`). Overlaps are resolved by a fixed priority,
//!   Vessel > Bowel > Bone > Target (a vessel running through a target contour conducts as
//!   blood; encasement is common in pancreatic cancer). Nodes outside the CT take the HU of the
//!   nearest CT voxel (the position is clamped onto the volume), i.e. the tissue at the volume's
//!   edge continues outward; that only matters when the margin reaches past the scan.

use super::model::{IreError, TissueSource};
use crate::anatomy::structure::StructureKind;
use crate::geometry::PatientPos;
use crate::physics::grid::{ComputeGrid, mg_friendly};
use crate::plan::tissue_params::{TissueParams, class_for_structure};
use crate::safety::shapes::{CaseStructure, Shape};
use crate::volume::Volume;
use nalgebra::Vector3;
use rayon::prelude::*;

/// Class index of nodes outside the tissue (beyond a phantom's faces).
pub const OUTSIDE: u8 = u8::MAX;

/// Largest grid the model accepts (nodes): about 3 GB of working memory.
pub const MAX_NODES: usize = 24_000_000;

/// Bounding box of segments.
fn bbox(segments: &[(PatientPos, PatientPos)]) -> (Vector3<f64>, Vector3<f64>) {
    let mut lo = Vector3::repeat(f64::INFINITY);
    let mut hi = Vector3::repeat(f64::NEG_INFINITY);
    for (a, b) in segments {
        for p in [a, b] {
            lo = lo.inf(&p.coords);
            hi = hi.sup(&p.coords);
        }
    }
    (lo, hi)
}

/// The compute grid of a plan: the exposed `segments` plus `margin_mm`, and for a phantom the
/// part of that box inside the block. `multigrid_dims`: round every dimension up so that `n − 1`
/// is a multiple of 8 (the solver's levels, like `ComputeGrid::around_segments`); otherwise the
/// smallest grid covering the box. `align_lps`: a point to put on an even node index along every
/// axis not pinned to a block face (so that it is also a node of the 2h grid the nonlinear
/// iteration starts on); the grid moves by at most one spacing.
pub fn plan_grid(
    segments: &[(PatientPos, PatientPos)],
    tissue: &TissueSource<'_>,
    margin_mm: f64,
    spacing_mm: f64,
    multigrid_dims: bool,
    align_lps: Option<PatientPos>,
) -> Result<ComputeGrid, IreError> {
    if segments.is_empty() {
        return Err(IreError::NoPairs);
    }
    let round = |n: usize| if multigrid_dims { mg_friendly(n) } else { n.max(2) };
    let (slo, shi) = bbox(segments);
    // A CT has no block: its grid is the box around the probes (outside the scan, see
    // `node_classes`).
    let block = |ax: usize| match tissue {
        TissueSource::Ct { .. } => (f64::NEG_INFINITY, f64::INFINITY),
        TissueSource::Phantom {
            centre_lps, size_mm, ..
        }
        | TissueSource::PhantomRegions {
            centre_lps, size_mm, ..
        } => (
            centre_lps[ax] - 0.5 * size_mm[ax],
            centre_lps[ax] + 0.5 * size_mm[ax],
        ),
    };
    let mut dims = [0usize; 3];
    let mut origin = Vector3::zeros();
    for ax in 0..3 {
        let (glo, ghi) = (slo[ax] - margin_mm, shi[ax] + margin_mm);
        let (blo, bhi) = block(ax);
        let (lo, hi) = (glo.max(blo), ghi.min(bhi));
        if hi <= lo {
            return Err(IreError::Invalid(
                "the electrodes are outside the phantom block — place them inside it".into(),
            ));
        }
        // Never past a block face: rounding up for the solver stops at the block (the grid then
        // spans the block, up to less than one spacing when its size is not a multiple of h).
        let n_max = if (bhi - blo).is_finite() {
            (((bhi - blo) / spacing_mm + 1e-9).floor() as usize).saturating_add(1)
        } else {
            usize::MAX
        };
        let n = round((((hi - lo) / spacing_mm - 1e-9).ceil() as usize).saturating_add(1))
            .min(n_max)
            .max(2);
        let span = (n - 1) as f64 * spacing_mm;
        dims[ax] = n;
        let centred = 0.5 * (lo + hi) - 0.5 * span;
        let aligned = match align_lps {
            Some(p) if ((p[ax] - centred) / spacing_mm).round().rem_euclid(2.0) == 1.0 => {
                centred - spacing_mm
            }
            _ => centred,
        };
        // Inside the block; a face that bounds the box is a grid face.
        origin[ax] = if blo >= glo {
            blo
        } else if bhi <= ghi {
            bhi - span
        } else {
            aligned.clamp(blo, (bhi - span).max(blo))
        };
    }
    let grid = ComputeGrid {
        origin_lps: PatientPos::from(origin),
        spacing_mm,
        dims,
    };
    if grid.len() > MAX_NODES {
        return Err(IreError::Invalid(format!(
            "the compute grid would have {} nodes ({:?} at {} mm), above the {} limit — use a coarser \
             spacing or a smaller margin",
            grid.len(),
            grid.dims,
            spacing_mm,
            MAX_NODES
        )));
    }
    Ok(grid)
}

/// Tissue class index (into `params.classes`) per node; [`OUTSIDE`] beyond a phantom block.
pub fn node_classes(
    grid: &ComputeGrid,
    tissue: &TissueSource<'_>,
    params: &TissueParams,
) -> Result<Vec<u8>, IreError> {
    if params.classes.len() >= OUTSIDE as usize {
        return Err(IreError::Invalid(format!(
            "{} tissue classes — at most {} are supported",
            params.classes.len(),
            OUTSIDE - 1
        )));
    }
    let class_index = |id: &str| -> Result<u8, IreError> {
        params.class_index(id).map(|i| i as u8).ok_or_else(|| {
            IreError::Invalid(format!(
                "unknown tissue class \"{id}\" — see assets/tissues_ire.json"
            ))
        })
    };
    let (class_id, centre_lps, size_mm, regions) = match tissue {
        TissueSource::Phantom {
            class_id,
            centre_lps,
            size_mm,
        } => (*class_id, centre_lps, size_mm, &[][..]),
        TissueSource::PhantomRegions {
            class_id,
            centre_lps,
            size_mm,
            regions,
        } => (*class_id, centre_lps, size_mm, *regions),
        TissueSource::Ct { volume, structures } => {
            return ct_classes(grid, volume, structures, params, &class_index);
        }
    };
    if !size_mm.iter().all(|s| s.is_finite() && *s > 0.0) || !centre_lps.iter().all(|c| c.is_finite()) {
        return Err(IreError::Invalid(format!(
            "phantom block size {size_mm:?} mm must be positive and finite"
        )));
    }
    let c = class_index(class_id)?;
    let region_classes = regions
        .iter()
        .map(|r| class_index(&r.class_id))
        .collect::<Result<Vec<u8>, IreError>>()?;
    let eps = 1e-6 * grid.spacing_mm;
    let lo = centre_lps.coords - Vector3::from(*size_mm) * 0.5;
    let hi = centre_lps.coords + Vector3::from(*size_mm) * 0.5;
    Ok((0..grid.len())
        .into_par_iter()
        .map(|idx| {
            let [i, j, k] = grid.ijk(idx);
            let p = grid.lps(i, j, k);
            let inside = (0..3).all(|ax| p[ax] >= lo[ax] - eps && p[ax] <= hi[ax] + eps);
            if !inside {
                return OUTSIDE;
            }
            // The last region containing the node wins (ordered by priority).
            regions
                .iter()
                .zip(&region_classes)
                .rev()
                .find(|(r, _)| r.shape.contains(&p))
                .map_or(c, |(_, &rc)| rc)
        })
        .collect())
}

/// A region of a phantom with its own tissue class: an analytic shape (node centres inside it
/// take `class_id`).
#[derive(Clone, Debug, PartialEq)]
pub struct TissueRegion {
    /// The structure it comes from (for messages).
    pub name: String,
    pub shape: Shape,
    pub class_id: String,
}

/// The tissue regions a phantom case's structures set, by the same rule and priority as the
/// CT's structure overrides (`class_for_structure`: Vessel → blood, Target → lymph node, Bowel →
/// bowel wall, Bone → bone; Vessel > Bowel > Bone > Target where they overlap), so that a case
/// written as a phantom behaves like the same anatomy drawn on a CT. Nerves and other kinds keep
/// the block's tissue; imports have no shape (phantoms refuse them).
pub fn phantom_regions(structures: &[CaseStructure]) -> Vec<TissueRegion> {
    let mut out: Vec<(u8, TissueRegion)> = structures
        .iter()
        .filter_map(|s| {
            let kind = match s {
                CaseStructure::Sphere { kind, .. }
                | CaseStructure::Capsule { kind, .. }
                | CaseStructure::Cylinder { kind, .. }
                | CaseStructure::Box { kind, .. } => *kind,
                CaseStructure::Import { .. } => return None,
            };
            let class_id = class_for_structure(kind)?;
            Some((
                override_rank(kind),
                TissueRegion {
                    name: s.name(),
                    shape: s.shape()?,
                    class_id: class_id.to_string(),
                },
            ))
        })
        .collect();
    // Stable: equal ranks keep the file's order (the later one wins).
    out.sort_by_key(|(rank, _)| *rank);
    out.into_iter().map(|(_, r)| r).collect()
}

/// Override priority of a structure kind (higher wins); 0 = no override.
fn override_rank(kind: StructureKind) -> u8 {
    match kind {
        StructureKind::Vessel => 4,
        StructureKind::Bowel => 3,
        StructureKind::Bone => 2,
        StructureKind::Target => 1,
        StructureKind::Nerve | StructureKind::Other => 0,
    }
}

struct Override<'a> {
    mask: &'a crate::anatomy::mask::Mask,
    lo: [usize; 3],
    hi: [usize; 3],
    class: u8,
}

fn ct_classes(
    grid: &ComputeGrid,
    volume: &Volume,
    structures: &[crate::anatomy::structure::Structure],
    params: &TissueParams,
    class_index: &dyn Fn(&str) -> Result<u8, IreError>,
) -> Result<Vec<u8>, IreError> {
    let geo = &volume.geometry;
    geo.validate()
        .map_err(|e| IreError::Invalid(format!("CT geometry: {e}")))?;
    if volume.hu.len() != geo.voxel_count() {
        return Err(IreError::Invalid(
            "CT voxel buffer does not match its geometry".into(),
        ));
    }
    // HU bins resolved to class indices once.
    let mut bins = Vec::new();
    for b in &params.hu_classes.bins {
        bins.push((b.below_hu.unwrap_or(f64::INFINITY), class_index(&b.class)?));
    }
    let fallback = class_index(params.class_for_hu(0.0))?;
    let mut overrides = Vec::new();
    let mut sorted: Vec<_> = structures.iter().filter(|s| override_rank(s.kind) > 0).collect();
    sorted.sort_by_key(|s| override_rank(s.kind));
    for s in sorted {
        let Some(id) = class_for_structure(s.kind) else {
            continue;
        };
        if s.mask().dims() != geo.dims {
            return Err(IreError::Invalid(format!(
                "structure \"{}\" is not on the CT grid ({:?} vs {:?})",
                s.name,
                s.mask().dims(),
                geo.dims
            )));
        }
        if let Some((lo, hi)) = s.mask().bounding_box() {
            overrides.push(Override {
                mask: s.mask(),
                lo,
                hi,
                class: class_index(id)?,
            });
        }
    }
    let m = geo.voxel_from_patient();
    let dims = geo.dims;
    let hu_at = |i: usize, j: usize, k: usize| f64::from(volume.hu[i + dims[0] * (j + dims[1] * k)]);
    Ok((0..grid.len())
        .into_par_iter()
        .map(|idx| {
            let [i, j, k] = grid.ijk(idx);
            let p = grid.lps(i, j, k);
            let h = m * p.to_homogeneous();
            let v = [h.x, h.y, h.z];
            // Trilinear HU with the position clamped onto the volume.
            let mut base = [0usize; 3];
            let mut frac = [0.0f64; 3];
            for ax in 0..3 {
                let top = (dims[ax] - 1) as f64;
                let c = if v[ax].is_finite() {
                    v[ax].clamp(0.0, top)
                } else {
                    0.0
                };
                let f = c.floor().min((dims[ax].max(2) - 2) as f64).max(0.0);
                base[ax] = f as usize;
                frac[ax] = if dims[ax] > 1 { c - f } else { 0.0 };
            }
            let mut hu = 0.0;
            for (dk, wk) in [(0, 1.0 - frac[2]), (1, frac[2])] {
                for (dj, wj) in [(0, 1.0 - frac[1]), (1, frac[1])] {
                    for (di, wi) in [(0, 1.0 - frac[0]), (1, frac[0])] {
                        let w = wi * wj * wk;
                        if w > 0.0 {
                            hu += w * hu_at(
                                (base[0] + di).min(dims[0] - 1),
                                (base[1] + dj).min(dims[1] - 1),
                                (base[2] + dk).min(dims[2] - 1),
                            );
                        }
                    }
                }
            }
            let mut class = bins
                .iter()
                .find(|(below, _)| hu < *below)
                .map_or(fallback, |(_, c)| *c);
            // Structures: the CT voxel containing the node (none outside the CT).
            let r = [v[0].round(), v[1].round(), v[2].round()];
            if r.iter()
                .enumerate()
                .all(|(ax, x)| *x >= 0.0 && *x <= (dims[ax] - 1) as f64)
            {
                let q = [r[0] as usize, r[1] as usize, r[2] as usize];
                for o in &overrides {
                    let in_box = (0..3).all(|ax| q[ax] >= o.lo[ax] && q[ax] <= o.hi[ax]);
                    if in_box && o.mask.contains(q[0], q[1], q[2]) {
                        class = o.class;
                    }
                }
            }
            class
        })
        .collect())
}
