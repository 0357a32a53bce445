//! Taubin λ|μ smoothing (Taubin 1995): a Laplacian step that shrinks followed by a negative one
//! that grows back, so the staircase of a voxel surface goes away while the volume stays close
//! to the original (plain Laplacian smoothing shrinks a sphere noticeably after a few steps).

use super::TriMesh;

/// λ and μ of Taubin's paper for a pass-band of about 0.1.
const LAMBDA: f64 = 0.5;
const MU: f64 = -0.53;

/// Vertex neighbours (compressed rows) from the triangles.
fn neighbours(mesh: &TriMesh) -> (Vec<usize>, Vec<u32>) {
    let n = mesh.positions_lps.len();
    let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(mesh.triangles.len() * 6);
    for t in &mesh.triangles {
        for e in 0..3 {
            let (a, b) = (t[e], t[(e + 1) % 3]);
            pairs.push((a, b));
            pairs.push((b, a));
        }
    }
    pairs.sort_unstable();
    pairs.dedup();
    let mut start = vec![0usize; n + 1];
    for &(a, _) in &pairs {
        start[a as usize + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    (start, pairs.into_iter().map(|(_, b)| b).collect())
}

/// `iterations` λ|μ pairs of uniform-Laplacian smoothing, in place.
pub fn taubin(mesh: &mut TriMesh, iterations: usize) {
    if iterations == 0 || mesh.triangles.is_empty() {
        return;
    }
    let (start, adj) = neighbours(mesh);
    let mut pos: Vec<[f64; 3]> = mesh
        .positions_lps
        .iter()
        .map(|p| [p[0] as f64, p[1] as f64, p[2] as f64])
        .collect();
    let mut next = pos.clone();
    for _ in 0..iterations {
        for factor in [LAMBDA, MU] {
            for (v, out) in next.iter_mut().enumerate() {
                let nb = &adj[start[v]..start[v + 1]];
                if nb.is_empty() {
                    *out = pos[v];
                    continue;
                }
                let mut mean = [0.0f64; 3];
                for &w in nb {
                    for ax in 0..3 {
                        mean[ax] += pos[w as usize][ax];
                    }
                }
                let k = nb.len() as f64;
                for ax in 0..3 {
                    out[ax] = pos[v][ax] + factor * (mean[ax] / k - pos[v][ax]);
                }
            }
            std::mem::swap(&mut pos, &mut next);
        }
    }
    mesh.positions_lps = pos
        .into_iter()
        .map(|p| [p[0] as f32, p[1] as f32, p[2] as f32])
        .collect();
}
