//! Exact Euclidean distance transform in millimetres on anisotropic grids
//! (Felzenszwalb & Huttenlocher, "Distance Transforms of Sampled Functions", 2012):
//! three separable 1-D lower-envelope passes, each exact, so the result equals the brute-force
//! minimum over all feature voxels of the centre-to-centre distance (to float rounding).
//!
//! Memory layout trick: the passes run z, then y, then x, and each pass writes a layout in which
//! its parallel work items are contiguous (`[j][k][i]`, then the standard `[k][j][i]`), so the
//! work splits into disjoint chunks for rayon without any unsafe code.

use rayon::prelude::*;

/// Squared-distance value for "no feature on this line yet" (finite to keep the maths clean).
const FAR: f64 = 1e30;

/// Distance (mm) from every voxel centre to the nearest voxel centre where `feature` is true;
/// `f32::INFINITY` everywhere when there is no feature. `feature` is in standard order
/// (i fastest, then j, then k) and must have `dims[0] * dims[1] * dims[2]` entries.
pub fn edt_mm(dims: [usize; 3], spacing_mm: [f64; 3], feature: &[bool]) -> Vec<f32> {
    let sq = squared_edt_mm2(dims, spacing_mm, feature);
    sq.into_par_iter()
        .map(|d| if d >= FAR as f32 { f32::INFINITY } else { d.sqrt() })
        .collect()
}

/// Signed distance (mm): positive outside the region (distance to the nearest inside voxel),
/// negative inside (minus the distance to the nearest outside voxel), so the zero crossing
/// lies between boundary voxel centres.
pub fn signed_edt_mm(dims: [usize; 3], spacing_mm: [f64; 3], inside: &[bool]) -> Vec<f32> {
    let outside: Vec<bool> = inside.par_iter().map(|b| !b).collect();
    let to_inside = edt_mm(dims, spacing_mm, inside);
    let to_outside = edt_mm(dims, spacing_mm, &outside);
    to_inside
        .par_iter()
        .zip(to_outside.par_iter())
        .zip(inside.par_iter())
        .map(|((di, dout), is_in)| if *is_in { -*dout } else { *di })
        .collect()
}

/// Squared distances in mm² (`>= 1e30` where no feature exists).
pub fn squared_edt_mm2(dims: [usize; 3], spacing_mm: [f64; 3], feature: &[bool]) -> Vec<f32> {
    let [nx, ny, nz] = dims;
    let n = nx * ny * nz;
    if n == 0 || feature.len() != n {
        return vec![FAR as f32; n];
    }
    let [wx, wy, wz] = [
        spacing_mm[0].powi(2),
        spacing_mm[1].powi(2),
        spacing_mm[2].powi(2),
    ];

    // Pass 1 (z): binary input, output layout [j][k][i].
    let mut g = vec![0f32; n];
    g.par_chunks_mut(nx * nz).enumerate().for_each(|(j, plane)| {
        let mut line = vec![0f64; nz];
        for i in 0..nx {
            for (k, v) in line.iter_mut().enumerate() {
                *v = if feature[i + nx * (j + ny * k)] { 0.0 } else { FAR };
            }
            binary_line(&mut line, wz);
            for (k, v) in line.iter().enumerate() {
                plane[i + nx * k] = *v as f32;
            }
        }
    });

    // Pass 2 (y): read [j][k][i], write standard [k][j][i].
    let mut h = vec![0f32; n];
    h.par_chunks_mut(nx * ny).enumerate().for_each(|(k, slice)| {
        let mut ws = Workspace::new(ny);
        for i in 0..nx {
            for j in 0..ny {
                ws.f[j] = g[i + nx * (k + nz * j)] as f64;
            }
            ws.transform(wy);
            for j in 0..ny {
                slice[i + nx * j] = ws.d[j] as f32;
            }
        }
    });
    drop(g);

    // Pass 3 (x): rows are contiguous in the standard layout.
    h.par_chunks_mut(nx).for_each_init(
        || Workspace::new(nx),
        |ws, row| {
            for (f, v) in ws.f.iter_mut().zip(row.iter()) {
                *f = *v as f64;
            }
            ws.transform(wx);
            for (v, d) in row.iter_mut().zip(ws.d.iter()) {
                *v = *d as f32;
            }
        },
    );
    h
}

/// 1-D squared distance along a line of a binary function (0 at features, FAR elsewhere):
/// two scans for the nearest feature index on each side.
fn binary_line(line: &mut [f64], w: f64) {
    let n = line.len();
    let mut last: Option<usize> = None;
    let mut nearest = vec![usize::MAX; n];
    for p in 0..n {
        if line[p] == 0.0 {
            last = Some(p);
        }
        if let Some(q) = last {
            nearest[p] = p - q;
        }
    }
    last = None;
    for p in (0..n).rev() {
        if line[p] == 0.0 {
            last = Some(p);
        }
        if let Some(q) = last {
            nearest[p] = nearest[p].min(q - p);
        }
    }
    for (v, d) in line.iter_mut().zip(nearest) {
        *v = if d == usize::MAX { FAR } else { w * (d * d) as f64 };
    }
}

/// Reusable buffers for the 1-D lower envelope of parabolas `w (p − q)² + f(q)`.
struct Workspace {
    f: Vec<f64>,
    d: Vec<f64>,
    v: Vec<usize>,
    z: Vec<f64>,
}

impl Workspace {
    fn new(n: usize) -> Self {
        Self {
            f: vec![0.0; n],
            d: vec![0.0; n],
            v: vec![0; n],
            z: vec![0.0; n + 1],
        }
    }

    /// `d[p] = min_q w (p − q)² + f[q]`, exact; lines without any finite `f` stay FAR.
    fn transform(&mut self, w: f64) {
        let n = self.f.len();
        let f = &self.f;
        let mut k: usize = 0;
        let mut any = false;
        for q in 0..n {
            if f[q] >= FAR {
                continue;
            }
            if !any {
                any = true;
                self.v[0] = q;
                self.z[0] = f64::NEG_INFINITY;
                self.z[1] = f64::INFINITY;
                k = 0;
                continue;
            }
            loop {
                let vk = self.v[k];
                let s = ((f[q] + w * (q * q) as f64) - (f[vk] + w * (vk * vk) as f64))
                    / (2.0 * w * (q as f64 - vk as f64));
                if s <= self.z[k] && k > 0 {
                    k -= 1;
                    continue;
                }
                if s <= self.z[k] {
                    // k == 0 and the new parabola dominates everywhere to the left.
                    self.v[0] = q;
                    self.z[0] = f64::NEG_INFINITY;
                    self.z[1] = f64::INFINITY;
                    break;
                }
                k += 1;
                self.v[k] = q;
                self.z[k] = s;
                self.z[k + 1] = f64::INFINITY;
                break;
            }
        }
        if !any {
            self.d.fill(FAR);
            return;
        }
        let mut kk = 0;
        for p in 0..n {
            while self.z[kk + 1] < p as f64 {
                kk += 1;
            }
            let q = self.v[kk];
            let dp = p as f64 - q as f64;
            self.d[p] = w * dp * dp + f[q];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn brute(dims: [usize; 3], s: [f64; 3], feat: &[bool]) -> Vec<f32> {
        let [nx, ny, nz] = dims;
        let pts: Vec<[usize; 3]> = (0..nz)
            .flat_map(|k| (0..ny).flat_map(move |j| (0..nx).map(move |i| [i, j, k])))
            .filter(|[i, j, k]| feat[i + nx * (j + ny * k)])
            .collect();
        (0..nz)
            .flat_map(|k| (0..ny).flat_map(move |j| (0..nx).map(move |i| [i, j, k])))
            .map(|[i, j, k]| {
                pts.iter()
                    .map(|p| {
                        let d = [
                            (i as f64 - p[0] as f64) * s[0],
                            (j as f64 - p[1] as f64) * s[1],
                            (k as f64 - p[2] as f64) * s[2],
                        ];
                        (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt()
                    })
                    .fold(f64::INFINITY, f64::min) as f32
            })
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The EDT equals brute force on random small anisotropic grids (to float rounding).
        #[test]
        fn equals_brute_force(
            nx in 1usize..9, ny in 1usize..9, nz in 1usize..7,
            sx in 0.3f64..3.0, sy in 0.3f64..3.0, sz in 0.5f64..5.0,
            density in 0.0f64..0.4, seed in any::<u64>(),
        ) {
            let n = nx * ny * nz;
            let mut st = seed | 1;
            let feat: Vec<bool> = (0..n).map(|_| {
                st ^= st << 13; st ^= st >> 7; st ^= st << 17;
                ((st % 10_000) as f64) / 10_000.0 < density
            }).collect();
            let fast = edt_mm([nx, ny, nz], [sx, sy, sz], &feat);
            let slow = brute([nx, ny, nz], [sx, sy, sz], &feat);
            for (a, b) in fast.iter().zip(slow.iter()) {
                if b.is_infinite() {
                    prop_assert!(a.is_infinite());
                } else {
                    prop_assert!((a - b).abs() <= 1e-4 * b.max(1.0), "{a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn single_voxel_gives_anisotropic_distances() {
        let dims = [5, 5, 5];
        let mut f = vec![false; 125];
        f[2 + 5 * (2 + 5 * 2)] = true;
        let d = edt_mm(dims, [0.5, 1.0, 3.0], &f);
        let at = |i: usize, j: usize, k: usize| d[i + 5 * (j + 5 * k)];
        assert_eq!(at(2, 2, 2), 0.0);
        assert!((at(4, 2, 2) - 1.0).abs() < 1e-6);
        assert!((at(2, 0, 2) - 2.0).abs() < 1e-6);
        assert!((at(2, 2, 0) - 6.0).abs() < 1e-6);
        assert!((at(0, 0, 0) - (1.0f32 + 4.0 + 36.0).sqrt()).abs() < 1e-5);
    }

    #[test]
    fn signed_distance_is_negative_inside() {
        let dims = [9, 9, 9];
        let inside: Vec<bool> = (0..729i32)
            .map(|n| {
                let (i, j, k) = (n % 9, (n / 9) % 9, n / 81);
                (i - 4).abs() <= 2 && (j - 4).abs() <= 2 && (k - 4).abs() <= 2
            })
            .collect();
        let s = signed_edt_mm(dims, [1.0; 3], &inside);
        assert_eq!(
            s[4 + 9 * (4 + 9 * 4)],
            -3.0,
            "centre is 3 voxels from the outside"
        );
        assert_eq!(s[8 + 9 * (4 + 9 * 4)], 2.0, "2 voxels outside the face");
    }

    #[test]
    fn no_feature_is_infinite() {
        let d = edt_mm([3, 2, 2], [1.0; 3], &[false; 12]);
        assert!(d.iter().all(|v| v.is_infinite()));
    }
}
