//! A small software rasteriser for the 3-D scene: the GUI's camera, draw order and shading
//! (two-sided Lambert headlight + ambient), a z-buffer, translucent objects blended after the
//! opaque ones without writing depth. Used for exported pictures and the tumour-board slide,
//! where no GPU is at hand (the CLI, CI).

use super::{AMBIENT, Camera, DIFFUSE, Scene};
use crate::render::RgbaImage;
use nalgebra::Vector3;
use rayon::prelude::*;

/// Renders `scene` at `width` × `height` pixels over `background`, computing at `supersample`²
/// samples per pixel (1–4) for smooth edges.
pub fn render_scene(
    scene: &Scene,
    camera: &Camera,
    width: usize,
    height: usize,
    background: [u8; 4],
    supersample: usize,
) -> RgbaImage {
    let s = supersample.clamp(1, 4);
    let (w, h) = (width * s, height * s);
    let mut colour: Vec<[f32; 3]> = vec![
        [
            background[0] as f32 / 255.0,
            background[1] as f32 / 255.0,
            background[2] as f32 / 255.0,
        ];
        w * h
    ];
    let mut depth = vec![f32::INFINITY; w * h];
    if w > 0 && h > 0 {
        let vp = camera.view_projection(w as f64 / h as f64).cast::<f32>();
        let (_, _, forward) = camera.basis();
        let light = forward.cast::<f32>();
        let meshes: Vec<Projection> = scene
            .draw_order(camera)
            .par_iter()
            .map(|&i| {
                let o = &scene.objects[i];
                let vertices = project(&o.mesh, &vp, w as f32, h as f32);
                Projection {
                    triangles: set_up(&o.mesh, &vertices, w, h),
                    vertices,
                    colour: o.colour(),
                    opaque: o.opaque(),
                }
            })
            .collect();
        // Bands of rows in parallel. Every band draws every mesh in the same order, so each
        // pixel sees the same writes as in one serial pass: the picture does not depend on the
        // number of threads.
        let rows = band_rows(h);
        colour
            .par_chunks_mut(rows * w)
            .zip(depth.par_chunks_mut(rows * w))
            .enumerate()
            .for_each(|(band, (colour, depth))| {
                let y0 = band * rows;
                let mut t = Target {
                    w,
                    y0,
                    y1: y0 + colour.len() / w,
                    colour,
                    depth,
                };
                for m in &meshes {
                    draw_mesh(&mut t, m, &light);
                }
            });
    }
    downsample(&colour, width, height, s)
}

/// Rows `y0..y1` of the picture (`w` wide): the part one thread draws.
struct Target<'a> {
    w: usize,
    y0: usize,
    y1: usize,
    colour: &'a mut [[f32; 3]],
    depth: &'a mut [f32],
}

/// Rows per band: a few bands per thread so that a scene concentrated in the middle of the
/// picture still keeps every thread busy.
fn band_rows(h: usize) -> usize {
    let bands = rayon::current_num_threads().max(1) * 4;
    h.div_ceil(bands).max(8)
}

/// A mesh with its vertices projected to the picture, its visible triangles set up once for
/// every band, and how it is drawn.
struct Projection {
    vertices: Vec<Option<Projected>>,
    triangles: Vec<Setup>,
    colour: [f32; 4],
    opaque: bool,
}

/// A triangle in front of the camera, not degenerate, overlapping the picture: its vertices,
/// 1 / (twice its signed area) and its pixel bounding box (inclusive).
struct Setup {
    v: [u32; 3],
    inv_area: f32,
    x0: u32,
    x1: u32,
    y0: u32,
    y1: u32,
}

fn set_up(
    mesh: &crate::render::mesh::TriMesh,
    vertices: &[Option<Projected>],
    w: usize,
    h: usize,
) -> Vec<Setup> {
    mesh.triangles
        .iter()
        .filter_map(|tri| {
            let vertex = |k: usize| vertices.get(tri[k] as usize).copied().flatten();
            let (a, b, c) = (vertex(0)?, vertex(1)?, vertex(2)?);
            let area = edge(&a, &b, c.x, c.y);
            if area.abs() < 1e-12 {
                return None;
            }
            let x0 = a.x.min(b.x).min(c.x).floor().max(0.0);
            let y0 = a.y.min(b.y).min(c.y).floor().max(0.0);
            let x1 = a.x.max(b.x).max(c.x).ceil().min(w as f32 - 1.0);
            let y1 = a.y.max(b.y).max(c.y).ceil().min(h as f32 - 1.0);
            // Also false for NaN.
            if !(x1 >= x0 && y1 >= y0) {
                return None;
            }
            Some(Setup {
                v: *tri,
                inv_area: 1.0 / area,
                x0: x0 as u32,
                x1: x1 as u32,
                y0: y0 as u32,
                y1: y1 as u32,
            })
        })
        .collect()
}

/// One vertex after projection: pixel position, depth, 1/w and the normal over w.
#[derive(Clone, Copy)]
struct Projected {
    x: f32,
    y: f32,
    z: f32,
    inv_w: f32,
    n: Vector3<f32>,
}

/// The picture position, depth and normal of each vertex (`None`: behind or at the near plane;
/// the orbit camera keeps the scene in front, so clipping is not worth its code here).
fn project(
    mesh: &crate::render::mesh::TriMesh,
    vp: &nalgebra::Matrix4<f32>,
    wf: f32,
    hf: f32,
) -> Vec<Option<Projected>> {
    mesh.positions_lps
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let clip = vp * nalgebra::Vector4::new(p[0], p[1], p[2], 1.0);
            if clip.w <= 1e-6 || clip.z < 0.0 {
                return None;
            }
            let inv_w = 1.0 / clip.w;
            let n = mesh
                .normals
                .get(i)
                .map_or(Vector3::z(), |n| Vector3::new(n[0], n[1], n[2]));
            Some(Projected {
                x: (clip.x * inv_w + 1.0) * 0.5 * wf,
                y: (1.0 - clip.y * inv_w) * 0.5 * hf,
                z: clip.z * inv_w,
                inv_w,
                n,
            })
        })
        .collect()
}

/// Draws the part of `m` that falls in the target's rows.
fn draw_mesh(t: &mut Target<'_>, m: &Projection, light: &Vector3<f32>) {
    let c = m.colour;
    for tri in &m.triangles {
        let y0 = (tri.y0 as usize).max(t.y0);
        let y1 = (tri.y1 as usize).min(t.y1 - 1);
        if y1 < y0 {
            continue;
        }
        // Set up only triangles with all three vertices projected.
        let (Some(a), Some(b), Some(cc)) = (
            m.vertices[tri.v[0] as usize],
            m.vertices[tri.v[1] as usize],
            m.vertices[tri.v[2] as usize],
        ) else {
            continue;
        };
        for y in y0..=y1 {
            let py = y as f32 + 0.5;
            let row = (y - t.y0) * t.w;
            for x in tri.x0 as usize..=tri.x1 as usize {
                let px = x as f32 + 0.5;
                let w0 = edge(&b, &cc, px, py) * tri.inv_area;
                let w1 = edge(&cc, &a, px, py) * tri.inv_area;
                let w2 = 1.0 - w0 - w1;
                if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                    continue;
                }
                let z = w0 * a.z + w1 * b.z + w2 * cc.z;
                let idx = row + x;
                if z > t.depth[idx] {
                    continue;
                }
                // Perspective-correct normal.
                let (pa, pb, pc) = (w0 * a.inv_w, w1 * b.inv_w, w2 * cc.inv_w);
                let n = (a.n * pa + b.n * pb + cc.n * pc) / (pa + pb + pc);
                let shade = shade(&n, light);
                let rgb = [c[0] * shade, c[1] * shade, c[2] * shade];
                let dst = &mut t.colour[idx];
                if m.opaque {
                    *dst = rgb;
                    t.depth[idx] = z;
                } else {
                    for ch in 0..3 {
                        dst[ch] = dst[ch] * (1.0 - c[3]) + rgb[ch] * c[3];
                    }
                }
            }
        }
    }
}

/// The shading of both renderers: two-sided Lambert from a light at the eye, plus ambient.
pub fn shade(n: &Vector3<f32>, light: &Vector3<f32>) -> f32 {
    let len = n.norm();
    let lambert = if len > 1e-12 {
        (n.dot(light) / len).abs()
    } else {
        1.0
    };
    AMBIENT + DIFFUSE * lambert
}

/// Twice the signed area of (a, b, p).
fn edge(a: &Projected, b: &Projected, px: f32, py: f32) -> f32 {
    (b.x - a.x) * (py - a.y) - (b.y - a.y) * (px - a.x)
}

/// Box filter of `s` × `s` samples per pixel into opaque RGBA8.
fn downsample(colour: &[[f32; 3]], width: usize, height: usize, s: usize) -> RgbaImage {
    let mut out = RgbaImage::new(width, height, [0, 0, 0, 255]);
    let w = width * s;
    let k = 1.0 / (s * s) as f32;
    for y in 0..height {
        for x in 0..width {
            let mut acc = [0.0f32; 3];
            for sy in 0..s {
                for sx in 0..s {
                    let c = colour[(y * s + sy) * w + x * s + sx];
                    for ch in 0..3 {
                        acc[ch] += c[ch];
                    }
                }
            }
            let o = (y * width + x) * 4;
            for (dst, a) in out.pixels[o..o + 3].iter_mut().zip(acc) {
                *dst = (a * k * 255.0).round().clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "raster_tests.rs"]
mod tests;
