//! From the planning data to meshes: a structure's mask on the CT grid, zone flags or a
//! temperature field on a model grid, a HU threshold of the CT (bone). Large inputs are built on
//! a coarser grid (block averages, so a surface keeps its place) to bound the triangle count.

use super::TriMesh;
use super::nets::{Field, GridToLps, surface_nets};
use super::smooth::taubin;
use crate::anatomy::Mask;
use crate::geometry::VolumeGeometry;
use crate::physics::grid::ComputeGrid;
use crate::volume::Volume;
use nalgebra::{Matrix3, Vector3};

/// How fine and how smooth a mesh is built.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeshOptions {
    /// Most grid nodes the surface is extracted from; beyond it, blocks of voxels are averaged.
    pub max_nodes: usize,
    /// Taubin λ|μ pairs.
    pub smooth_iterations: usize,
    /// Smallest block edge (mm): finer voxels are averaged into blocks about this size (fewer
    /// triangles for an interactive view; 0 = the grid's own resolution).
    pub min_block_mm: f64,
}

impl Default for MeshOptions {
    fn default() -> Self {
        Self {
            // ~2 M nodes: a liver at 0.8 mm in-plane stays at full resolution in-plane, a whole
            // skeleton gets 2–4 voxel blocks; a few 100 k triangles each.
            max_nodes: 2_000_000,
            smooth_iterations: 8,
            min_block_mm: 0.0,
        }
    }
}

/// Integer block size per axis so that the grid of blocks has at most `max_nodes` nodes; blocks
/// grow first along the finest axis, so coarse slices are not merged before fine pixels.
pub fn block_factors(
    dims: [usize; 3],
    spacing_mm: [f64; 3],
    max_nodes: usize,
    min_block_mm: f64,
) -> [usize; 3] {
    let mut f = [1usize; 3];
    for a in 0..3 {
        if spacing_mm[a] > 0.0 && min_block_mm > 0.0 {
            f[a] = ((min_block_mm / spacing_mm[a]).round() as usize).clamp(1, dims[a].max(1));
        }
    }
    let nodes = |f: &[usize; 3]| (0..3).map(|a| dims[a].div_ceil(f[a])).product::<usize>();
    let mut guard = 0;
    while nodes(&f) > max_nodes.max(8) && guard < 256 {
        guard += 1;
        // The axis whose block is smallest in mm (and can still grow) grows by one voxel.
        let axis = (0..3)
            .filter(|&a| f[a] < dims[a])
            .min_by(|&a, &b| (f[a] as f64 * spacing_mm[a]).total_cmp(&(f[b] as f64 * spacing_mm[b])));
        match axis {
            Some(a) => f[a] += 1,
            None => break,
        }
    }
    f
}

/// The map from a block grid to LPS: block `(bi, bj, bk)` sits at the centre of its voxels.
fn block_to_lps(geometry: &VolumeGeometry, start: [usize; 3], f: [usize; 3]) -> GridToLps {
    let m = geometry.patient_from_voxel();
    let lin = m.fixed_view::<3, 3>(0, 0).into_owned();
    let centre0 = Vector3::new(
        start[0] as f64 + (f[0] as f64 - 1.0) / 2.0,
        start[1] as f64 + (f[1] as f64 - 1.0) / 2.0,
        start[2] as f64 + (f[2] as f64 - 1.0) / 2.0,
    );
    GridToLps {
        origin_lps: geometry.origin_lps.coords + lin * centre0,
        axes_mm: lin * Matrix3::from_diagonal(&Vector3::new(f[0] as f64, f[1] as f64, f[2] as f64)),
    }
}

/// Mesh of a structure's mask on the CT grid (`geometry` is the CT's), smoothed, with normals.
/// Empty for an empty mask or one whose grid is not the geometry's.
pub fn mask_mesh(mask: &Mask, geometry: &VolumeGeometry, opts: &MeshOptions) -> TriMesh {
    if mask.dims() != geometry.dims {
        return TriMesh::default();
    }
    let Some((lo, hi)) = mask.bounding_box() else {
        return TriMesh::default();
    };
    let ext = [hi[0] - lo[0] + 1, hi[1] - lo[1] + 1, hi[2] - lo[2] + 1];
    let f = block_factors(ext, geometry.spacing_mm, opts.max_nodes, opts.min_block_mm);
    let bd = [
        ext[0].div_ceil(f[0]),
        ext[1].div_ceil(f[1]),
        ext[2].div_ceil(f[2]),
    ];
    // Fraction of each block inside the mask (binary 0 / 1 with blocks of one voxel).
    let mut values = vec![0.0f32; bd[0] * bd[1] * bd[2]];
    let weight = 1.0 / (f[0] * f[1] * f[2]) as f32;
    for k in lo[2]..=hi[2] {
        let bk = (k - lo[2]) / f[2];
        for run in mask.slice_runs(k) {
            let j = run.j as usize;
            if j < lo[1] || j > hi[1] {
                continue;
            }
            let bj = (j - lo[1]) / f[1];
            for i in run.i0 as usize..run.i1 as usize {
                let bi = (i - lo[0]) / f[0];
                values[bi + bd[0] * (bj + bd[1] * bk)] += weight;
            }
        }
    }
    let field = Field {
        dims: bd,
        values: &values,
        iso: 0.5,
        outside: 0.0,
    };
    finish(surface_nets(&field, &block_to_lps(geometry, lo, f)), opts)
}

/// The map from a model grid's nodes to LPS (isotropic, axis-aligned).
pub fn compute_grid_to_lps(grid: &ComputeGrid) -> GridToLps {
    GridToLps {
        origin_lps: grid.origin_lps.coords,
        axes_mm: Matrix3::identity() * grid.spacing_mm,
    }
}

/// Mesh of node flags on a model grid (a zone, a band surface), smoothed, with normals.
pub fn flags_mesh(grid: &ComputeGrid, flags: &[bool], opts: &MeshOptions) -> TriMesh {
    if flags.len() != grid.len() {
        return TriMesh::default();
    }
    let values: Vec<f32> = flags.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect();
    let field = Field {
        dims: grid.dims,
        values: &values,
        iso: 0.5,
        outside: 0.0,
    };
    finish(surface_nets(&field, &compute_grid_to_lps(grid)), opts)
}

/// The surface where a temperature field (°C, NaN where not modelled) crosses `isotherm_c`,
/// enclosing the colder side (an iceball isotherm). Interpolated, so smoother than flags.
pub fn isotherm_mesh(
    grid: &ComputeGrid,
    temperature_c: &[f32],
    isotherm_c: f64,
    opts: &MeshOptions,
) -> TriMesh {
    if temperature_c.len() != grid.len() {
        return TriMesh::default();
    }
    // Negated, so "inside" (value > iso) is "colder than the isotherm".
    let values: Vec<f32> = temperature_c.iter().map(|t| -t).collect();
    let field = Field {
        dims: grid.dims,
        values: &values,
        iso: -(isotherm_c as f32),
        outside: f32::MIN,
    };
    finish(surface_nets(&field, &compute_grid_to_lps(grid)), opts)
}

/// An iso-surface of the CT at `threshold_hu` (bone ≈ 200 HU), from block averages of HU so the
/// whole volume fits `opts.max_nodes`.
pub fn ct_threshold_mesh(volume: &Volume, threshold_hu: f64, opts: &MeshOptions) -> TriMesh {
    let g = &volume.geometry;
    let dims = g.dims;
    if volume.hu.len() != g.voxel_count() {
        return TriMesh::default();
    }
    let f = block_factors(dims, g.spacing_mm, opts.max_nodes, opts.min_block_mm);
    let bd = [
        dims[0].div_ceil(f[0]),
        dims[1].div_ceil(f[1]),
        dims[2].div_ceil(f[2]),
    ];
    let mut sum = vec![0.0f32; bd[0] * bd[1] * bd[2]];
    let mut count = vec![0u16; sum.len()];
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            let row = &volume.hu[(k * dims[1] + j) * dims[0]..][..dims[0]];
            let b0 = bd[0] * (j / f[1] + bd[1] * (k / f[2]));
            for (i, &h) in row.iter().enumerate() {
                let b = b0 + i / f[0];
                sum[b] += h as f32;
                count[b] = count[b].saturating_add(1);
            }
        }
    }
    for (s, &c) in sum.iter_mut().zip(&count) {
        *s /= c.max(1) as f32;
    }
    let field = Field {
        dims: bd,
        values: &sum,
        iso: threshold_hu as f32,
        outside: -1024.0,
    };
    finish(surface_nets(&field, &block_to_lps(g, [0, 0, 0], f)), opts)
}

fn finish(mut mesh: TriMesh, opts: &MeshOptions) -> TriMesh {
    taubin(&mut mesh, opts.smooth_iterations);
    mesh.compute_normals();
    mesh
}

#[cfg(test)]
#[path = "build_tests.rs"]
mod tests;
