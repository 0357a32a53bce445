//! The scene of a plan: structures (opaque, the organs around them translucent), the model's
//! surfaces (IRE zone; cryo isotherms and lethal zone at the shown time; the band's inner and
//! outer surfaces), probes as cylinders with the exposed part in its own colour, optional bone.
//! Each piece is a separate function so the GUI can cache and rebuild only what changed.

use super::{Camera, Part, Scene, SceneObject};
use crate::anatomy::{Structure, StructureKind};
use crate::geometry::VolumeGeometry;
use crate::physics::band::ZoneBand;
use crate::physics::cryo::model::CryoResult;
use crate::physics::ire::model::IreResult;
use crate::plan::probe::Probe;
use crate::render::mesh::TriMesh;
use crate::render::mesh::build::{MeshOptions, flags_mesh, isotherm_mesh, mask_mesh};
use crate::render::mesh::shapes::cylinder;
use crate::render::palette;
use std::sync::Arc;

/// Bone's colour and the HU threshold of the optional bone surface.
pub const BONE_RGB: [u8; 3] = [235, 230, 205];
pub const BONE_THRESHOLD_HU: f64 = 250.0;

/// The model result whose surfaces are shown.
#[derive(Clone, Copy)]
pub enum ZoneSource<'a> {
    Ire(&'a IreResult),
    /// A cryo result at snapshot `snapshot` with the isotherms the slice views draw.
    Cryo {
        result: &'a CryoResult,
        snapshot: usize,
        isotherms_c: &'a [f64],
    },
}

/// Mesh of one structure (cacheable by the structure's uid and revision).
pub fn structure_mesh(s: &Structure, geometry: &VolumeGeometry, opts: &MeshOptions) -> TriMesh {
    mask_mesh(s.mask(), geometry, opts)
}

/// How a structure is drawn: organs ("Other") translucent so what lies inside them shows.
pub fn structure_object(index: usize, s: &Structure, mesh: Arc<TriMesh>, highlighted: bool) -> SceneObject {
    let alpha = match s.kind {
        StructureKind::Other => 0.3f32,
        _ => 1.0,
    };
    SceneObject {
        part: Part::Structure(index),
        mesh,
        rgb: s.colour,
        alpha: if highlighted { alpha.max(0.6) } else { alpha },
        highlighted,
    }
}

fn surface(part: Part, mesh: TriMesh, rgb: [u8; 3], alpha: f32) -> Option<SceneObject> {
    (!mesh.is_empty()).then(|| SceneObject {
        part,
        mesh: Arc::new(mesh),
        rgb,
        alpha,
        highlighted: false,
    })
}

fn band_objects(band: &ZoneBand, rgb: [u8; 3], opts: &MeshOptions) -> Vec<SceneObject> {
    [
        surface(
            Part::BandInner,
            flags_mesh(&band.grid, &band.inner, opts),
            rgb,
            0.22,
        ),
        surface(
            Part::BandOuter,
            flags_mesh(&band.grid, &band.outer, opts),
            rgb,
            0.10,
        ),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The model's surfaces: translucent, the zone strongest, the band's surfaces fainter.
pub fn zone_objects(zone: ZoneSource<'_>, opts: &MeshOptions) -> Vec<SceneObject> {
    let mut out = Vec::new();
    match zone {
        ZoneSource::Ire(r) => {
            out.extend(surface(
                Part::Zone,
                flags_mesh(&r.grid, &r.zone, opts),
                palette::IRE_ZONE_RGB,
                0.38,
            ));
            if let Some(b) = &r.band {
                out.extend(band_objects(b, palette::IRE_ZONE_RGB, opts));
            }
        }
        ZoneSource::Cryo {
            result,
            snapshot,
            isotherms_c,
        } => {
            let temps = result.temperatures_c(snapshot);
            for &t in isotherms_c {
                let part = Part::Isotherm((t * 100.0).round() as i32);
                out.extend(surface(
                    part,
                    isotherm_mesh(&result.grid, &temps, t, opts),
                    palette::isotherm(t),
                    0.18,
                ));
            }
            let lethal = result.lethal_mask(snapshot);
            out.extend(surface(
                Part::Zone,
                flags_mesh(&result.grid, &lethal, opts),
                palette::CRYO_LETHAL_RGB,
                0.38,
            ));
            if let Some(b) = &result.band {
                out.extend(band_objects(&b.lethal, palette::CRYO_LETHAL_RGB, opts));
            }
        }
    }
    out
}

/// Probes as cylinders: the insulated shaft from the entry to the start of the exposed part,
/// the exposed (active) part to the tip in the probes' exposed colour.
pub fn probe_objects(probes: &[Probe], radius_mm: &dyn Fn(&Probe) -> f64) -> Vec<SceneObject> {
    let rgb = |c: [u8; 4]| [c[0], c[1], c[2]];
    let mut out = Vec::new();
    for (n, p) in probes.iter().enumerate() {
        let (Ok(shaft), Ok(exposed)) = (p.shaft_segment(), p.exposed_segment()) else {
            continue;
        };
        let r = radius_mm(p).max(0.3);
        let parts = [
            (
                Part::ProbeShaft(n),
                shaft.start.coords,
                shaft.end.coords,
                rgb(palette::PROBE_SHAFT),
            ),
            (
                Part::ProbeExposed(n),
                exposed.start.coords,
                exposed.end.coords,
                rgb(palette::PROBE_EXPOSED),
            ),
        ];
        for (part, a, b, colour) in parts {
            out.extend(surface(part, cylinder(a, b, r, 16), colour, 1.0));
        }
    }
    out
}

/// The camera for a plan: from the front, fitted to the target, the zone and the probes' exposed
/// parts (what a tumour board looks at), else to everything.
pub fn plan_camera(scene: &Scene) -> Camera {
    let focus = scene.bounds_where(|o| {
        matches!(
            o.part,
            Part::Zone | Part::ProbeExposed(_) | Part::Isotherm(_) | Part::BandOuter
        ) || (matches!(o.part, Part::Structure(_)) && o.rgb == StructureKind::Target.default_colour())
    });
    match focus.or_else(|| scene.bounds_where(|_| true)) {
        Some((lo, hi)) => {
            // Some context around the zone: the structures the rules watch are close to it.
            let pad = 12.0;
            Camera::fitted(
                [lo[0] - pad, lo[1] - pad, lo[2] - pad],
                [hi[0] + pad, hi[1] + pad, hi[2] + pad],
            )
        }
        None => Camera::default(),
    }
}

/// A whole scene (exports): visible structures, the zone, the probes.
pub fn plan_scene(
    structures: &[Structure],
    geometry: &VolumeGeometry,
    probes: &[Probe],
    radius_mm: &dyn Fn(&Probe) -> f64,
    zone: Option<ZoneSource<'_>>,
    opts: &MeshOptions,
) -> Scene {
    let mut objects: Vec<SceneObject> = structures
        .iter()
        .enumerate()
        .filter(|(_, s)| s.visible)
        .map(|(i, s)| structure_object(i, s, Arc::new(structure_mesh(s, geometry, opts)), false))
        .filter(|o| !o.mesh.is_empty())
        .collect();
    if let Some(z) = zone {
        objects.extend(zone_objects(z, opts));
    }
    objects.extend(probe_objects(probes, radius_mm));
    Scene { objects }
}
