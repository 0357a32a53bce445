//! A small software rasteriser for the 3-D scene: the GUI's camera, draw order and shading
//! (two-sided Lambert headlight + ambient), a z-buffer, translucent objects blended after the
//! opaque ones without writing depth. Used for exported pictures and the tumour-board slide,
//! where no GPU is at hand (the CLI, CI).

use super::{AMBIENT, Camera, DIFFUSE, Scene};
use crate::render::RgbaImage;
use nalgebra::Vector3;

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
        for i in scene.draw_order(camera) {
            let o = &scene.objects[i];
            let c = o.colour();
            let target = Target {
                w,
                h,
                colour: &mut colour,
                depth: &mut depth,
            };
            draw_mesh(target, &o.mesh, &vp, &light, c, o.opaque());
        }
    }
    downsample(&colour, width, height, s)
}

struct Target<'a> {
    w: usize,
    h: usize,
    colour: &'a mut [[f32; 3]],
    depth: &'a mut [f32],
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

fn draw_mesh(
    t: Target<'_>,
    mesh: &crate::render::mesh::TriMesh,
    vp: &nalgebra::Matrix4<f32>,
    light: &Vector3<f32>,
    c: [f32; 4],
    opaque: bool,
) {
    let (wf, hf) = (t.w as f32, t.h as f32);
    let projected: Vec<Option<Projected>> = mesh
        .positions_lps
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let clip = vp * nalgebra::Vector4::new(p[0], p[1], p[2], 1.0);
            // Behind or at the near plane: the triangle is dropped (the orbit camera keeps the
            // scene in front; clipping is not worth its code here).
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
        .collect();
    for tri in &mesh.triangles {
        let (Some(a), Some(b), Some(cc)) = (
            projected[tri[0] as usize],
            projected[tri[1] as usize],
            projected[tri[2] as usize],
        ) else {
            continue;
        };
        let area = edge(&a, &b, cc.x, cc.y);
        if area.abs() < 1e-12 {
            continue;
        }
        let x0 = a.x.min(b.x).min(cc.x).floor().max(0.0) as usize;
        let y0 = a.y.min(b.y).min(cc.y).floor().max(0.0) as usize;
        let x1 = (a.x.max(b.x).max(cc.x).ceil() as isize).min(t.w as isize - 1);
        let y1 = (a.y.max(b.y).max(cc.y).ceil() as isize).min(t.h as isize - 1);
        if x1 < 0 || y1 < 0 {
            continue;
        }
        for y in y0..=y1 as usize {
            let py = y as f32 + 0.5;
            for x in x0..=x1 as usize {
                let px = x as f32 + 0.5;
                let w0 = edge(&b, &cc, px, py) / area;
                let w1 = edge(&cc, &a, px, py) / area;
                let w2 = 1.0 - w0 - w1;
                if w0 < 0.0 || w1 < 0.0 || w2 < 0.0 {
                    continue;
                }
                let z = w0 * a.z + w1 * b.z + w2 * cc.z;
                let idx = y * t.w + x;
                if z > t.depth[idx] {
                    continue;
                }
                // Perspective-correct normal.
                let (pa, pb, pc) = (w0 * a.inv_w, w1 * b.inv_w, w2 * cc.inv_w);
                let n = (a.n * pa + b.n * pb + cc.n * pc) / (pa + pb + pc);
                let shade = shade(&n, light);
                let rgb = [c[0] * shade, c[1] * shade, c[2] * shade];
                let dst = &mut t.colour[idx];
                if opaque {
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
