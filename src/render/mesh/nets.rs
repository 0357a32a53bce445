//! Surface nets (Gibson 1998, as in Mikola Lysenko's formulation): one vertex per grid cell that
//! the iso-surface crosses, at the mean of the crossings on the cell's edges, and one quad per
//! grid edge with a sign change. On a binary mask (values 0 / 1, iso 0.5) the crossings are the
//! voxel faces' midpoints and the net is the voxel surface with its corners cut; smoothing
//! (`smooth.rs`) then removes the staircase. Nodes outside the grid count as outside, so the
//! result is closed.

use super::TriMesh;
use nalgebra::{Matrix3, Vector3};

/// The affine map from grid index `(i, j, k)` to LPS mm: `origin_lps + axes_mm · (i, j, k)`;
/// the columns of `axes_mm` are the steps of `i`, `j`, `k` (direction × spacing).
#[derive(Clone, Debug, PartialEq)]
pub struct GridToLps {
    pub origin_lps: Vector3<f64>,
    pub axes_mm: Matrix3<f64>,
}

impl GridToLps {
    pub fn apply(&self, g: [f64; 3]) -> [f32; 3] {
        let p = self.origin_lps + self.axes_mm * Vector3::new(g[0], g[1], g[2]);
        [p.x as f32, p.y as f32, p.z as f32]
    }
}

/// A scalar field on a grid (`i` fastest); "inside" is `value > iso`.
#[derive(Clone, Copy, Debug)]
pub struct Field<'a> {
    pub dims: [usize; 3],
    pub values: &'a [f32],
    pub iso: f32,
    /// The value of nodes beyond the grid (below `iso`: outside).
    pub outside: f32,
}

impl Field<'_> {
    fn at(&self, i: isize, j: isize, k: isize) -> f32 {
        let [nx, ny, nz] = self.dims;
        if i < 0 || j < 0 || k < 0 || i as usize >= nx || j as usize >= ny || k as usize >= nz {
            return self.outside;
        }
        let idx = i as usize + nx * (j as usize + ny * k as usize);
        // NaN (nothing modelled there) counts as outside.
        self.values
            .get(idx)
            .copied()
            .filter(|v| !v.is_nan())
            .unwrap_or(self.outside)
    }
}

/// The 12 cube edges as pairs of corner numbers (corner bits: 1 = +i, 2 = +j, 4 = +k).
const EDGES: [(usize, usize); 12] = [
    (0, 1),
    (2, 3),
    (4, 5),
    (6, 7),
    (0, 2),
    (1, 3),
    (4, 6),
    (5, 7),
    (0, 4),
    (1, 5),
    (2, 6),
    (3, 7),
];

/// The iso-surface of `field` as a closed triangle mesh in LPS mm (no normals yet), facing
/// outwards whatever the handedness of `to_lps`.
pub fn surface_nets(field: &Field<'_>, to_lps: &GridToLps) -> TriMesh {
    let [nx, ny, nz] = field.dims;
    if field.values.len() < nx * ny * nz || nx == 0 || ny == 0 || nz == 0 {
        return TriMesh::default();
    }
    // Cells run from -1 to n-1 on each axis (a cell spans nodes c..c+1), so the grid's border
    // nodes are surrounded by outside nodes.
    let cdims = [nx + 1, ny + 1, nz + 1];
    let cell_index = |c: [isize; 3]| -> usize {
        (c[0] + 1) as usize + cdims[0] * ((c[1] + 1) as usize + cdims[1] * (c[2] + 1) as usize)
    };
    let mut vertex_of_cell = vec![u32::MAX; cdims[0] * cdims[1] * cdims[2]];
    let mut mesh = TriMesh::default();
    for ck in -1..nz as isize {
        for cj in -1..ny as isize {
            for ci in -1..nx as isize {
                let mut v = [0.0f32; 8];
                let mut mask = 0u8;
                for (n, val) in v.iter_mut().enumerate() {
                    let (di, dj, dk) = ((n & 1) as isize, ((n >> 1) & 1) as isize, ((n >> 2) & 1) as isize);
                    *val = field.at(ci + di, cj + dj, ck + dk);
                    if *val > field.iso {
                        mask |= 1 << n;
                    }
                }
                if mask == 0 || mask == 0xff {
                    continue;
                }
                let mut sum = [0.0f64; 3];
                let mut count = 0.0;
                for &(a, b) in &EDGES {
                    let (ina, inb) = (v[a] > field.iso, v[b] > field.iso);
                    if ina == inb {
                        continue;
                    }
                    let t = ((field.iso - v[a]) / (v[b] - v[a])).clamp(0.0, 1.0) as f64;
                    for (ax, s) in sum.iter_mut().enumerate() {
                        let pa = ((a >> ax) & 1) as f64;
                        let pb = ((b >> ax) & 1) as f64;
                        *s += pa + t * (pb - pa);
                    }
                    count += 1.0;
                }
                let g = [
                    ci as f64 + sum[0] / count,
                    cj as f64 + sum[1] / count,
                    ck as f64 + sum[2] / count,
                ];
                vertex_of_cell[cell_index([ci, cj, ck])] = mesh.positions_lps.len() as u32;
                mesh.positions_lps.push(to_lps.apply(g));
            }
        }
    }
    // One quad per grid edge (a → a + e_d) with a sign change, joining the four cells around it.
    // (d, u, v) is a cyclic permutation, so cells taken counter-clockwise in the (u, v) plane face
    // +d by the right-hand rule.
    let flip = to_lps.axes_mm.determinant() < 0.0;
    for d in 0..3 {
        let (u, w) = ((d + 1) % 3, (d + 2) % 3);
        let n = [nx as isize, ny as isize, nz as isize];
        let mut a = [0isize; 3];
        for ad in -1..n[d] {
            for au in 0..n[u] {
                for aw in 0..n[w] {
                    a[d] = ad;
                    a[u] = au;
                    a[w] = aw;
                    let mut b = a;
                    b[d] += 1;
                    let ina = field.at(a[0], a[1], a[2]) > field.iso;
                    let inb = field.at(b[0], b[1], b[2]) > field.iso;
                    if ina == inb {
                        continue;
                    }
                    let cell = |du: isize, dw: isize| {
                        let mut c = a;
                        c[u] += du;
                        c[w] += dw;
                        vertex_of_cell[cell_index(c)]
                    };
                    let mut q = [cell(-1, -1), cell(0, -1), cell(0, 0), cell(-1, 0)];
                    if q.contains(&u32::MAX) {
                        continue; // cannot happen: every cell around a crossing edge has a vertex
                    }
                    // Outward is from inside to outside: +d when a is inside.
                    if inb ^ flip {
                        q.reverse();
                    }
                    push_quad(&mut mesh, q);
                }
            }
        }
    }
    mesh
}

/// Two triangles of a quad, split along its shorter diagonal (fewer slivers).
fn push_quad(mesh: &mut TriMesh, q: [u32; 4]) {
    let p = |i: usize| mesh.positions_lps[q[i] as usize];
    let d = |a: [f32; 3], b: [f32; 3]| (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2);
    if d(p(0), p(2)) <= d(p(1), p(3)) {
        mesh.triangles.push([q[0], q[1], q[2]]);
        mesh.triangles.push([q[0], q[2], q[3]]);
    } else {
        mesh.triangles.push([q[0], q[1], q[3]]);
        mesh.triangles.push([q[1], q[2], q[3]]);
    }
}
