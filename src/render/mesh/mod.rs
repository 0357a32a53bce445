//! Triangle meshes in patient LPS mm for the 3-D scene: iso-surfaces of masks and model fields
//! (`nets.rs`, surface nets), Taubin smoothing (`smooth.rs`), probes and markers as simple solids
//! (`shapes.rs`), and the builders that turn structures, zones and the CT into meshes
//! (`build.rs`). Pure data: the GUI uploads them to the GPU, `render::scene3d` rasterises them on
//! the CPU for exports.

pub mod build;
pub mod nets;
pub mod shapes;
pub mod smooth;

use std::collections::HashMap;

/// An indexed triangle mesh; vertices in LPS mm, triangles counter-clockwise seen from outside.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TriMesh {
    pub positions_lps: Vec<[f32; 3]>,
    /// Unit normals per vertex (outward); empty until [`TriMesh::compute_normals`].
    pub normals: Vec<[f32; 3]>,
    pub triangles: Vec<[u32; 3]>,
}

fn sub(a: [f32; 3], b: [f32; 3]) -> [f64; 3] {
    [
        a[0] as f64 - b[0] as f64,
        a[1] as f64 - b[1] as f64,
        a[2] as f64 - b[2] as f64,
    ]
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn norm(a: [f64; 3]) -> f64 {
    (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt()
}

impl TriMesh {
    pub fn is_empty(&self) -> bool {
        self.triangles.is_empty()
    }

    fn corners(&self, t: &[u32; 3]) -> [[f32; 3]; 3] {
        [
            self.positions_lps[t[0] as usize],
            self.positions_lps[t[1] as usize],
            self.positions_lps[t[2] as usize],
        ]
    }

    /// Appends `other`, shifting its indices.
    pub fn append(&mut self, other: &TriMesh) {
        let base = self.positions_lps.len() as u32;
        self.positions_lps.extend_from_slice(&other.positions_lps);
        self.normals.extend_from_slice(&other.normals);
        self.triangles.extend(
            other
                .triangles
                .iter()
                .map(|t| [t[0] + base, t[1] + base, t[2] + base]),
        );
    }

    /// Area-weighted vertex normals (a vertex of no triangle gets +z, never NaN).
    pub fn compute_normals(&mut self) {
        let mut acc = vec![[0.0f64; 3]; self.positions_lps.len()];
        for t in &self.triangles {
            let [a, b, c] = self.corners(t);
            // The cross product's length is twice the area: weighting by it for free.
            let n = cross(sub(b, a), sub(c, a));
            for &v in t {
                let s = &mut acc[v as usize];
                s[0] += n[0];
                s[1] += n[1];
                s[2] += n[2];
            }
        }
        self.normals = acc
            .into_iter()
            .map(|n| {
                let l = norm(n);
                if l > 1e-12 {
                    [(n[0] / l) as f32, (n[1] / l) as f32, (n[2] / l) as f32]
                } else {
                    [0.0, 0.0, 1.0]
                }
            })
            .collect();
    }

    /// Surface area (mm²).
    pub fn area_mm2(&self) -> f64 {
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = self.corners(t);
                0.5 * norm(cross(sub(b, a), sub(c, a)))
            })
            .sum()
    }

    /// Enclosed volume (mm³) by the divergence theorem: positive for a closed mesh whose
    /// triangles face outwards.
    pub fn volume_mm3(&self) -> f64 {
        self.triangles
            .iter()
            .map(|t| {
                let [a, b, c] = self.corners(t);
                let a = [a[0] as f64, a[1] as f64, a[2] as f64];
                let bc = cross(
                    [b[0] as f64, b[1] as f64, b[2] as f64],
                    [c[0] as f64, c[1] as f64, c[2] as f64],
                );
                (a[0] * bc[0] + a[1] * bc[1] + a[2] * bc[2]) / 6.0
            })
            .sum()
    }

    /// Directed edge → how often it is used.
    fn directed_edges(&self) -> HashMap<(u32, u32), u32> {
        let mut edges = HashMap::with_capacity(self.triangles.len() * 3);
        for t in &self.triangles {
            for e in 0..3 {
                *edges.entry((t[e], t[(e + 1) % 3])).or_insert(0) += 1;
            }
        }
        edges
    }

    /// Closed and consistently oriented: every directed edge is used once and its reverse once.
    pub fn is_watertight(&self) -> bool {
        let edges = self.directed_edges();
        edges
            .iter()
            .all(|(&(a, b), &n)| n == 1 && edges.get(&(b, a)) == Some(&1))
    }

    /// V − E + F over the vertices that triangles use (2 for a sphere-like closed surface).
    pub fn euler_characteristic(&self) -> i64 {
        let mut used = vec![false; self.positions_lps.len()];
        for t in &self.triangles {
            for &v in t {
                used[v as usize] = true;
            }
        }
        let v = used.iter().filter(|u| **u).count() as i64;
        let undirected: std::collections::HashSet<(u32, u32)> = self
            .directed_edges()
            .keys()
            .map(|&(a, b)| (a.min(b), a.max(b)))
            .collect();
        v - undirected.len() as i64 + self.triangles.len() as i64
    }

    /// Axis-aligned bounds (LPS mm) of the vertices.
    pub fn bounds(&self) -> Option<([f32; 3], [f32; 3])> {
        let first = *self.positions_lps.first()?;
        Some(self.positions_lps.iter().fold((first, first), |(lo, hi), p| {
            (
                [lo[0].min(p[0]), lo[1].min(p[1]), lo[2].min(p[2])],
                [hi[0].max(p[0]), hi[1].max(p[1]), hi[2].max(p[2])],
            )
        }))
    }

    /// Heap bytes held (for budgets and logs).
    pub fn heap_bytes(&self) -> usize {
        (self.positions_lps.len() + self.normals.len()) * 12 + self.triangles.len() * 12
    }
}
