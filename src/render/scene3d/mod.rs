//! The 3-D scene: meshes with colours (`Scene`), the orbit camera the GUI and the exports share
//! (`camera.rs`), the scene built from the planning data (`build.rs`), a CPU rasteriser with a
//! z-buffer and the GUI's shading for exported pictures and slides (`raster.rs`), and picking
//! (`pick.rs`). No GUI types: the GPU view in `app/view3d` draws the same `Scene` with the same
//! camera matrices and the same shading constants.

pub mod build;
pub mod camera;
pub mod pick;
pub mod raster;

pub use camera::Camera;

use super::mesh::TriMesh;
use std::sync::Arc;

/// Ambient and diffuse weights of the shading (a headlight, two-sided Lambert); the WGSL shader
/// of the GPU view uses the same numbers.
pub const AMBIENT: f32 = 0.32;
pub const DIFFUSE: f32 = 0.68;
/// Background of the 3-D view and of its exported pictures.
pub const BACKGROUND: [u8; 4] = [12, 14, 20, 255];

/// Which part of the plan a scene object shows (picking maps a click back through it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Part {
    /// Structure `n` of the case's structure list.
    Structure(usize),
    /// The model's zone (IRE lethal zone, cryo lethal zone).
    Zone,
    /// The inner / outer surface of the zone's uncertainty band.
    BandInner,
    BandOuter,
    /// A cryo isotherm (centi-degrees, so the part is hashable).
    Isotherm(i32),
    /// Probe `n`: its insulated shaft or its exposed (active) part.
    ProbeShaft(usize),
    ProbeExposed(usize),
    /// The thresholded CT (bone).
    Bone,
}

impl Part {
    /// Parts a click can select (the translucent model surfaces are seen through).
    pub fn pickable(self) -> bool {
        matches!(
            self,
            Part::Structure(_) | Part::ProbeShaft(_) | Part::ProbeExposed(_) | Part::Bone
        )
    }
}

/// One mesh of the scene with its look.
#[derive(Clone, Debug)]
pub struct SceneObject {
    pub part: Part,
    pub mesh: Arc<TriMesh>,
    pub rgb: [u8; 3],
    /// 1 = opaque; below, drawn after the opaque objects without writing depth.
    pub alpha: f32,
    /// Drawn lighter (the selected structure).
    pub highlighted: bool,
}

impl SceneObject {
    pub fn opaque(&self) -> bool {
        self.alpha >= 0.999
    }

    /// The colour drawn, in 0..1, with the highlight applied.
    pub fn colour(&self) -> [f32; 4] {
        let k = if self.highlighted { 0.45 } else { 0.0 };
        let c = |v: u8| {
            let v = v as f32 / 255.0;
            v + (1.0 - v) * k
        };
        [c(self.rgb[0]), c(self.rgb[1]), c(self.rgb[2]), self.alpha]
    }
}

#[derive(Clone, Debug, Default)]
pub struct Scene {
    pub objects: Vec<SceneObject>,
}

impl Scene {
    /// Bounds (LPS mm) of all objects, or of those `keep` selects.
    pub fn bounds_where(&self, keep: impl Fn(&SceneObject) -> bool) -> Option<([f32; 3], [f32; 3])> {
        self.objects
            .iter()
            .filter(|o| keep(o))
            .filter_map(|o| o.mesh.bounds())
            .reduce(|(alo, ahi), (blo, bhi)| {
                (
                    [alo[0].min(blo[0]), alo[1].min(blo[1]), alo[2].min(blo[2])],
                    [ahi[0].max(bhi[0]), ahi[1].max(bhi[1]), ahi[2].max(bhi[2])],
                )
            })
    }

    /// The order to draw in: opaque objects, then translucent ones from far to near (by the
    /// distance of their bounds' centre from the eye), as both renderers do.
    pub fn draw_order(&self, camera: &Camera) -> Vec<usize> {
        let eye = camera.eye();
        let dist = |o: &SceneObject| {
            o.mesh.bounds().map_or(0.0, |(lo, hi)| {
                let c = nalgebra::Vector3::new(
                    (lo[0] + hi[0]) as f64 / 2.0,
                    (lo[1] + hi[1]) as f64 / 2.0,
                    (lo[2] + hi[2]) as f64 / 2.0,
                );
                (c - eye).norm()
            })
        };
        let mut opaque: Vec<usize> = (0..self.objects.len())
            .filter(|&i| self.objects[i].opaque())
            .collect();
        let mut clear: Vec<(f64, usize)> = (0..self.objects.len())
            .filter(|&i| !self.objects[i].opaque())
            .map(|i| (dist(&self.objects[i]), i))
            .collect();
        clear.sort_by(|a, b| b.0.total_cmp(&a.0));
        opaque.extend(clear.into_iter().map(|(_, i)| i));
        opaque
    }

    pub fn triangle_count(&self) -> usize {
        self.objects.iter().map(|o| o.mesh.triangles.len()).sum()
    }
}
