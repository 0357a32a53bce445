//! The structures of the built-in demo case, rasterised from its analytic anatomy
//! ([`DemoAnatomy`]) onto a CT grid: a voxel belongs to a structure when its centre is inside
//! the analytic shape (the shapes' exact `contains`), evaluated through the grid's geometry so
//! any grid (also oblique) works. Each shape only visits the voxels of its own bounding box,
//! slices in parallel; the result is deterministic.

use rayon::prelude::*;

use super::edit::{mask_where, tube_mask};
use super::mask::Mask;
use super::structure::{Provenance, Structure, StructureKind};
use crate::demo::{AxialTube, DemoAnatomy};
use crate::geometry::{PatientPos, VolumeGeometry};

/// Radius of the demo nerve's mask (the nerve tool's default radius, issue 3).
pub const DEMO_NERVE_RADIUS_MM: f64 = super::edit::DEFAULT_NERVE_RADIUS_MM;

/// Names of the demo structures (stable: tests and the GUI refer to them).
pub const NODE_NAME: &str = "Lymph node (target)";
pub const AORTA_NAME: &str = "Aorta";
pub const IVC_NAME: &str = "Inferior vena cava (IVC)";
pub const BOWEL_NAME: &str = "Bowel loop";
pub const NERVE_NAME: &str = "Genitofemoral nerve (L)";

/// LPS bounding box of an axial tube (knots are linear in z, so the extremes are at knots).
fn tube_bbox(t: &AxialTube) -> ([f64; 3], [f64; 3]) {
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for k in &t.knots {
        let c = k.center_lps;
        let r = k.semi_axes_mm;
        lo[0] = lo[0].min(c[0] - r[0]);
        hi[0] = hi[0].max(c[0] + r[0]);
        lo[1] = lo[1].min(c[1] - r[1]);
        hi[1] = hi[1].max(c[1] + r[1]);
        lo[2] = lo[2].min(c[2]);
        hi[2] = hi[2].max(c[2]);
    }
    (lo, hi)
}

fn tube_mask_of(t: &AxialTube, g: &VolumeGeometry) -> Mask {
    let (lo, hi) = tube_bbox(t);
    mask_where(g, lo, hi, |p| t.contains([p.x, p.y, p.z]))
}

/// The demo's structures on `geometry`: the node (Target), aorta and IVC (Vessel), the four
/// common iliac vessels (Vessel, separate structures named as in the anatomy), the bowel loop
/// with wall and lumen (Bowel) and the genitofemoral nerve as a 2 mm tube around its polyline
/// (Nerve). Structures that miss the grid entirely are left out.
pub fn demo_structures(anatomy: &DemoAnatomy, geometry: &VolumeGeometry) -> Vec<Structure> {
    type Job<'a> = (String, StructureKind, Box<dyn Fn() -> Mask + Send + Sync + 'a>);
    let g = geometry;
    let mut jobs: Vec<Job<'_>> = Vec::new();

    let node = &anatomy.node;
    jobs.push((
        NODE_NAME.into(),
        StructureKind::Target,
        Box::new(move || {
            let c = node.center_lps;
            let r = node.semi_axes_mm;
            let lo = [c[0] - r[0], c[1] - r[1], c[2] - r[2]];
            let hi = [c[0] + r[0], c[1] + r[1], c[2] + r[2]];
            mask_where(g, lo, hi, |p| node.contains([p.x, p.y, p.z]))
        }),
    ));
    jobs.push((
        AORTA_NAME.into(),
        StructureKind::Vessel,
        Box::new(move || tube_mask_of(&anatomy.aorta, g)),
    ));
    jobs.push((
        IVC_NAME.into(),
        StructureKind::Vessel,
        Box::new(move || tube_mask_of(&anatomy.ivc, g)),
    ));
    for t in anatomy.iliac_arteries.iter().chain(&anatomy.iliac_veins) {
        jobs.push((
            t.name.clone(),
            StructureKind::Vessel,
            Box::new(move || tube_mask_of(t, g)),
        ));
    }
    let bowel = &anatomy.bowel;
    jobs.push((
        BOWEL_NAME.into(),
        StructureKind::Bowel,
        Box::new(move || {
            let (lo, hi) = bowel.bounding_box();
            mask_where(g, lo, hi, |p| bowel.contains([p.x, p.y, p.z]))
        }),
    ));
    let nerve = &anatomy.nerve;
    jobs.push((
        NERVE_NAME.into(),
        StructureKind::Nerve,
        Box::new(move || {
            let pts: Vec<PatientPos> = nerve.polyline_lps.iter().map(|p| PatientPos::from(*p)).collect();
            tube_mask(g, &pts, DEMO_NERVE_RADIUS_MM)
        }),
    ));

    // Each job is itself parallel over slices; running the jobs in parallel too keeps both
    // cores busy on the small ones. `collect` keeps the order.
    let masks: Vec<Mask> = jobs.par_iter().map(|(_, _, f)| f()).collect();
    jobs.into_iter()
        .zip(masks)
        .filter(|(_, m)| !m.is_empty())
        .map(|((name, kind, _), mask)| Structure::new(name, kind, Provenance::BuiltInDemo, mask))
        .collect()
}
