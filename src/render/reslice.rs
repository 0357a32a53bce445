//! Oblique reslicing: the CT, structure masks and any other field sampled on an arbitrary plane
//! in patient space, and the two planes of the along-probe view (in-plane, probe's-eye).
//!
//! A plane image follows the pixel convention of the MPR views (`volume::SliceMapping`): pixel
//! `(col, row)` covers `[col, col + 1] × [row, row + 1]` in continuous pixel coordinates, so its
//! centre is at `(col + 0.5, row + 0.5)`; columns run along `u_dir` (screen right), rows along
//! `v_dir` (screen down). The overlay helpers (`overlay::outline_segments`, `blend_mask`,
//! `composite_masks`) therefore work unchanged on the sampled masks.

use crate::anatomy::mask::Mask;
use crate::geometry::{PatientPos, VolumeGeometry, VoxelPos};
use crate::plan::probe::{Probe, ProbeError};
use crate::render::{WlLut, render_slice};
use crate::volume::{SliceImage, Volume};
use nalgebra::{Matrix3, Vector3};
use rayon::prelude::*;

/// HU stored for pixels whose sample point lies outside the volume (air; also drawn black by
/// [`render_reslice`] whatever the window, through the `inside` flags).
pub const OUTSIDE_HU: i16 = -1024;

/// Field of view of the along-probe images at zoom 1 (mm): the exposure (≤ 40 mm) and the
/// ablation zone around it (≈ 30–40 mm wide) with some context.
pub const DEFAULT_FIELD_OF_VIEW_MM: f64 = 80.0;

/// Largest image side (pixels) a plane may have: keeps a mistaken pixel size from allocating
/// gigabytes (8192² HU = 128 MB).
pub const MAX_SIDE_PX: usize = 8192;

/// Fewest pixels across a probe view when zoomed in: below this the pixel size is reduced below
/// the CT spacing so that the sampled masks still have a usable outline.
const MIN_SIDE_PX: f64 = 64.0;

/// Rows per parallel task: large enough to amortise scheduling, small enough to balance.
const ROWS_PER_TASK: usize = 16;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResliceError {
    #[error("reslice plane: {0}")]
    BadPlane(&'static str),
    #[error(transparent)]
    Probe(#[from] ProbeError),
}

/// A rectangular image on a plane in patient space.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ObliquePlane {
    /// LPS position of the centre of the image (the point at pixel coordinates
    /// `(width / 2, height / 2)`).
    pub centre_lps: PatientPos,
    /// Unit LPS direction of increasing column (screen right).
    pub u_dir: Vector3<f64>,
    /// Unit LPS direction of increasing row (screen down), orthogonal to `u_dir`.
    pub v_dir: Vector3<f64>,
    /// Pixel size along `u_dir` and `v_dir` (mm).
    pub pixel_mm: [f64; 2],
    pub width: usize,
    pub height: usize,
}

/// Where a patient point falls relative to a plane.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PlanePoint {
    /// Continuous pixel coordinates of the point's projection onto the plane.
    pub px: [f64; 2],
    /// Signed distance from the plane along [`ObliquePlane::normal`] (mm).
    pub dist_mm: f64,
}

impl ObliquePlane {
    /// A plane from its centre and two directions: `u` is normalised, `v` is made orthogonal to
    /// `u` (Gram–Schmidt) and normalised, so nearly orthogonal input is accepted.
    pub fn new(
        centre_lps: PatientPos,
        u: Vector3<f64>,
        v: Vector3<f64>,
        pixel_mm: [f64; 2],
        width: usize,
        height: usize,
    ) -> Result<Self, ResliceError> {
        if !centre_lps.iter().all(|c| c.is_finite()) {
            return Err(ResliceError::BadPlane("the centre is not a finite point"));
        }
        if !pixel_mm.iter().all(|p| p.is_finite() && *p > 0.0) {
            return Err(ResliceError::BadPlane(
                "the pixel size must be positive and finite",
            ));
        }
        if width == 0 || height == 0 || width > MAX_SIDE_PX || height > MAX_SIDE_PX {
            return Err(ResliceError::BadPlane(
                "the image must have 1 to 8192 pixels per side",
            ));
        }
        let un = u.norm();
        if !(un.is_finite() && un > 1e-9) {
            return Err(ResliceError::BadPlane("the horizontal direction is zero"));
        }
        let u_dir = u / un;
        let v_perp = v - u_dir * u_dir.dot(&v);
        let vn = v_perp.norm();
        if !(vn.is_finite() && vn > 1e-6 * v.norm().max(1e-300)) {
            return Err(ResliceError::BadPlane("the two directions are parallel or zero"));
        }
        Ok(Self {
            centre_lps,
            u_dir,
            v_dir: v_perp / vn,
            pixel_mm,
            width,
            height,
        })
    }

    /// Unit normal `u_dir × v_dir`.
    pub fn normal(&self) -> Vector3<f64> {
        self.u_dir.cross(&self.v_dir)
    }

    pub fn pixel_count(&self) -> usize {
        self.width * self.height
    }

    /// Physical size of the image (mm): (along `u_dir`, along `v_dir`).
    pub fn size_mm(&self) -> [f64; 2] {
        [
            self.width as f64 * self.pixel_mm[0],
            self.height as f64 * self.pixel_mm[1],
        ]
    }

    /// LPS position of continuous pixel coordinates (`(col + 0.5, row + 0.5)` = pixel centre).
    pub fn lps_at(&self, px: [f64; 2]) -> PatientPos {
        let du = (px[0] - self.width as f64 / 2.0) * self.pixel_mm[0];
        let dv = (px[1] - self.height as f64 / 2.0) * self.pixel_mm[1];
        self.centre_lps + self.u_dir * du + self.v_dir * dv
    }

    /// LPS position of the centre of pixel `(col, row)`.
    pub fn pixel_centre_lps(&self, col: usize, row: usize) -> PatientPos {
        self.lps_at([col as f64 + 0.5, row as f64 + 0.5])
    }

    /// Projection of a point onto the plane (pixel coordinates) and its distance from it.
    pub fn project(&self, p: &PatientPos) -> PlanePoint {
        let d = p - self.centre_lps;
        PlanePoint {
            px: [
                d.dot(&self.u_dir) / self.pixel_mm[0] + self.width as f64 / 2.0,
                d.dot(&self.v_dir) / self.pixel_mm[1] + self.height as f64 / 2.0,
            ],
            dist_mm: d.dot(&self.normal()),
        }
    }

    /// Pixel coordinates where the segment `a`–`b` crosses the plane (`None` when it stays on one
    /// side or lies in the plane).
    pub fn segment_crossing(&self, a: &PatientPos, b: &PatientPos) -> Option<[f64; 2]> {
        let pa = self.project(a);
        let pb = self.project(b);
        let (da, db) = (pa.dist_mm, pb.dist_mm);
        if !(da.is_finite() && db.is_finite()) || (da - db).abs() < 1e-12 || da * db > 0.0 {
            return None;
        }
        let t = da / (da - db);
        Some([
            pa.px[0] + t * (pb.px[0] - pa.px[0]),
            pa.px[1] + t * (pb.px[1] - pa.px[1]),
        ])
    }

    /// Whether continuous pixel coordinates lie on the image.
    pub fn contains_px(&self, px: [f64; 2]) -> bool {
        px[0] >= 0.0 && px[1] >= 0.0 && px[0] <= self.width as f64 && px[1] <= self.height as f64
    }

    /// Continuous voxel position of pixel (0, 0)'s centre and the voxel steps of one column and
    /// one row, so a row is sampled with additions only.
    fn voxel_walk(&self, g: &VolumeGeometry) -> (VoxelPos, Vector3<f64>, Vector3<f64>) {
        let m = voxel_from_patient_linear(g);
        let start = g.to_voxel(&self.pixel_centre_lps(0, 0));
        (
            start,
            m * (self.u_dir * self.pixel_mm[0]),
            m * (self.v_dir * self.pixel_mm[1]),
        )
    }
}

/// The 3 × 3 part of `voxel_from_patient` (directions are not assumed orthonormal).
fn voxel_from_patient_linear(g: &VolumeGeometry) -> Matrix3<f64> {
    g.voxel_from_patient().fixed_view::<3, 3>(0, 0).into_owned()
}

/// Interpolation stencil along one axis of `n` voxels: lower index, upper index and the weight of
/// the upper one. The volume covers `[-0.5, n - 0.5]` (whole voxels); in the half voxel beyond
/// the first and last centres the edge value is held. `None` outside.
fn axis_stencil(x: f64, n: usize) -> Option<(usize, usize, f64)> {
    // The small slack keeps points on the outer faces (exact multiples of the spacing) inside.
    const SLACK: f64 = 1e-9;
    if !(x >= -0.5 - SLACK && x <= n as f64 - 0.5 + SLACK) || n == 0 {
        return None;
    }
    if n == 1 {
        return Some((0, 0, 0.0));
    }
    let xc = x.clamp(0.0, (n - 1) as f64);
    let i0 = (xc.floor() as usize).min(n - 2);
    Some((i0, i0 + 1, xc - i0 as f64))
}

/// Trilinear HU at a continuous voxel position, `None` outside the volume.
pub fn trilinear_at_voxel(volume: &Volume, v: &VoxelPos) -> Option<f64> {
    let [nx, ny, nz] = volume.geometry.dims;
    let (i0, i1, fx) = axis_stencil(v.x, nx)?;
    let (j0, j1, fy) = axis_stencil(v.y, ny)?;
    let (k0, k1, fz) = axis_stencil(v.z, nz)?;
    // One base index and three strides (0 along an axis of a single voxel): the eight corners
    // are read from one bounds-checked window of the buffer.
    let base = i0 + nx * (j0 + ny * k0);
    let (dx, dy, dz) = (i1 - i0, nx * (j1 - j0), nx * ny * (k1 - k0));
    // In range by construction of the stencils; a short buffer reads as air.
    let Some(w) = volume.hu.get(base..=base + dx + dy + dz) else {
        return Some(f64::from(OUTSIDE_HU));
    };
    let at = |o: usize| f64::from(w[o]);
    let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
    let c00 = lerp(at(0), at(dx), fx);
    let c10 = lerp(at(dy), at(dy + dx), fx);
    let c01 = lerp(at(dz), at(dz + dx), fx);
    let c11 = lerp(at(dz + dy), at(dz + dy + dx), fx);
    Some(lerp(lerp(c00, c10, fy), lerp(c01, c11, fy), fz))
}

/// Trilinear HU at an LPS point, `None` outside the volume.
pub fn sample_hu(volume: &Volume, p: &PatientPos) -> Option<f64> {
    trilinear_at_voxel(volume, &volume.geometry.to_voxel(p))
}

fn hu_to_i16(v: f64) -> i16 {
    v.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

/// A resliced CT image: HU (trilinear, rounded) and which pixels lie inside the volume.
#[derive(Clone, Debug, PartialEq)]
pub struct Reslice {
    /// `image.hu[row * width + col]`; pixels outside the volume hold [`OUTSIDE_HU`].
    pub image: SliceImage,
    /// Row-major: the pixel centre lies inside the volume.
    pub inside: Vec<bool>,
}

/// Samples the CT on `plane` with trilinear interpolation (rayon-parallel over rows).
pub fn reslice_volume(volume: &Volume, plane: &ObliquePlane) -> Reslice {
    let (w, h) = (plane.width, plane.height);
    let mut hu = vec![OUTSIDE_HU; w * h];
    let mut inside = vec![false; w * h];
    if w > 0 && h > 0 {
        let (start, du, dv) = plane.voxel_walk(&volume.geometry);
        hu.par_chunks_mut(w * ROWS_PER_TASK)
            .zip(inside.par_chunks_mut(w * ROWS_PER_TASK))
            .enumerate()
            .for_each(|(task, (hu_rows, in_rows))| {
                let rows = hu_rows.chunks_exact_mut(w).zip(in_rows.chunks_exact_mut(w));
                for (r, (hu_row, in_row)) in rows.enumerate() {
                    let row_start = start + dv * (task * ROWS_PER_TASK + r) as f64;
                    for (col, (out, flag)) in hu_row.iter_mut().zip(in_row.iter_mut()).enumerate() {
                        // Multiplying (not accumulating) keeps rounding errors from growing
                        // along the row, so voxel centres are hit exactly.
                        let v = row_start + du * col as f64;
                        if let Some(x) = trilinear_at_voxel(volume, &v) {
                            *out = hu_to_i16(x);
                            *flag = true;
                        }
                    }
                }
            });
    }
    Reslice {
        image: SliceImage {
            width: w,
            height: h,
            hu,
            pixel_mm: plane.pixel_mm,
        },
        inside,
    }
}

/// Renders a reslice as opaque RGBA8 through the W/L table into `out` (reusing its
/// allocation); pixels outside the volume are black for every window.
pub fn render_reslice(r: &Reslice, lut: &WlLut, out: &mut Vec<u8>) {
    render_slice(&r.image, lut, out);
    for (px, inside) in out.chunks_exact_mut(4).zip(&r.inside) {
        if !inside {
            px.copy_from_slice(&[0, 0, 0, 255]);
        }
    }
}

/// The nearest CT voxel of every pixel centre of a plane (row-major), `None` outside the grid.
/// Computed once per plane and shared by all masks sampled on it.
#[derive(Clone, Debug, PartialEq)]
pub struct PlaneVoxels {
    pub dims: [usize; 3],
    pub width: usize,
    pub height: usize,
    pub voxels: Vec<Option<[u32; 3]>>,
}

/// Nearest voxels of the pixel centres of `plane` on the grid `g`.
pub fn plane_voxels(g: &VolumeGeometry, plane: &ObliquePlane) -> PlaneVoxels {
    let (w, h) = (plane.width, plane.height);
    let mut voxels = vec![None; w * h];
    if w > 0 && h > 0 {
        let (start, du, dv) = plane.voxel_walk(g);
        voxels
            .par_chunks_mut(w * ROWS_PER_TASK)
            .enumerate()
            .for_each(|(task, rows)| {
                for (r, row_out) in rows.chunks_exact_mut(w).enumerate() {
                    let row_start = start + dv * (task * ROWS_PER_TASK + r) as f64;
                    for (col, out) in row_out.iter_mut().enumerate() {
                        let v = row_start + du * col as f64;
                        *out = g
                            .nearest_voxel(&v)
                            .map(|[i, j, k]| [i as u32, j as u32, k as u32]);
                    }
                }
            });
    }
    PlaneVoxels {
        dims: g.dims,
        width: w,
        height: h,
        voxels,
    }
}

/// A mask (on the CT grid) on the plane, nearest voxel. A mask on another grid than the one
/// the voxels were computed for gives an empty image (it cannot be placed).
pub fn sample_mask(mask: &Mask, pv: &PlaneVoxels) -> Vec<bool> {
    let mut out = vec![false; pv.voxels.len()];
    if mask.dims() != pv.dims {
        return out;
    }
    // Most structures cover a small part of the plane: the bounding box rejects most pixels
    // without searching the runs.
    let Some((lo, hi)) = mask.bounding_box() else {
        return out;
    };
    let in_box = |v: &[u32; 3]| (0..3).all(|a| (lo[a]..=hi[a]).contains(&(v[a] as usize)));
    out.par_iter_mut().zip(pv.voxels.par_iter()).for_each(|(o, v)| {
        if let Some(v) = v
            && in_box(v)
        {
            *o = mask.contains(v[0] as usize, v[1] as usize, v[2] as usize);
        }
    });
    out
}

/// How many output pixels of `plane` one CT voxel spans along the plane's coarser direction:
/// for each of `u_dir` and `v_dir` the voxel's extent along it (`max |d · axis| × spacing` over
/// the voxel axes) over the pixel size. 1 on an MPR at the CT's resolution; ≈ 15 on a coronal
/// of 3 mm slices drawn at 0.2 mm per pixel.
pub fn magnification(g: &VolumeGeometry, plane: &ObliquePlane) -> f64 {
    (voxel_extent_mm(g, &plane.u_dir) / plane.pixel_mm[0])
        .max(voxel_extent_mm(g, &plane.v_dir) / plane.pixel_mm[1])
}

/// How far (mm) one voxel of `g` reaches along the unit direction `d`: the largest
/// `|d · axis| × spacing` over the voxel axes (the slice step for a direction across the slices,
/// the pixel size within them).
pub fn voxel_extent_mm(g: &VolumeGeometry, d: &Vector3<f64>) -> f64 {
    (0..3)
        .map(|a| {
            let axis = g.direction.column(a).into_owned();
            let n = axis.norm();
            if n > 0.0 {
                (d.dot(&axis) / n).abs() * g.spacing_mm[a]
            } else {
                0.0
            }
        })
        .fold(0.0, f64::max)
}

/// A mask (on the CT grid `g`) on the plane by trilinear interpolation of its 0/1 voxels, inside
/// where the interpolant reaches 0.5: the surface between two slices is interpolated instead of
/// drawn as a step at the half-way plane (views magnified far beyond the voxels). A mask on
/// another grid gives an empty image.
pub fn sample_mask_smooth(mask: &Mask, g: &VolumeGeometry, plane: &ObliquePlane) -> Vec<bool> {
    let (w, h) = (plane.width, plane.height);
    let mut out = vec![false; w * h];
    if mask.dims() != g.dims || w == 0 || h == 0 {
        return out;
    }
    let Some((lo, hi)) = mask.bounding_box() else {
        return out;
    };
    let dims = g.dims;
    let value = |v: &VoxelPos| -> bool {
        // One voxel of slack around the box: the interpolant is non-zero up to there.
        if (0..3).any(|a| v[a] < lo[a] as f64 - 1.0 || v[a] > hi[a] as f64 + 1.0) {
            return false;
        }
        let (Some(x), Some(y), Some(z)) = (
            axis_stencil(v.x, dims[0]),
            axis_stencil(v.y, dims[1]),
            axis_stencil(v.z, dims[2]),
        ) else {
            return false;
        };
        let mut sum = 0.0;
        for (k, wz) in [(z.0, 1.0 - z.2), (z.1, z.2)] {
            for (j, wy) in [(y.0, 1.0 - y.2), (y.1, y.2)] {
                for (i, wx) in [(x.0, 1.0 - x.2), (x.1, x.2)] {
                    let wgt = wx * wy * wz;
                    if wgt > 0.0 && mask.contains(i, j, k) {
                        sum += wgt;
                    }
                }
            }
        }
        sum >= 0.5
    };
    let (start, du, dv) = plane.voxel_walk(g);
    out.par_chunks_mut(w * ROWS_PER_TASK)
        .enumerate()
        .for_each(|(task, rows)| {
            for (r, row_out) in rows.chunks_exact_mut(w).enumerate() {
                let row_start = start + dv * (task * ROWS_PER_TASK + r) as f64;
                for (col, o) in row_out.iter_mut().enumerate() {
                    *o = value(&(row_start + du * col as f64));
                }
            }
        });
    out
}

/// `f` evaluated at every pixel centre of the plane (row-major), rayon-parallel over rows; for
/// overlays that are not on the CT grid (e.g. the IRE zone: `|p| zone.in_zone(&p)`).
pub fn sample_plane_with<T, F>(plane: &ObliquePlane, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(PatientPos) -> T + Sync,
{
    sample_pixels_with(
        [plane.width, plane.height],
        |col, row| plane.pixel_centre_lps(col, row),
        f,
    )
}

/// `f` evaluated at the points `origin_lps + u_step·x + v_step·y` of a `w × h` lattice (row-major:
/// index `y·w + x`), rayon-parallel over rows. For images given by their first pixel centre and
/// the steps between pixels, which need be neither unit nor orthogonal (e.g. the part of a slice
/// view that an IRE result covers: `|p| zone.max_e_at(&p).unwrap_or(0.0)`).
pub fn sample_lattice_with<T, F>(
    origin_lps: &PatientPos,
    u_step: &Vector3<f64>,
    v_step: &Vector3<f64>,
    [w, h]: [usize; 2],
    f: F,
) -> Vec<T>
where
    T: Send,
    F: Fn(PatientPos) -> T + Sync,
{
    sample_pixels_with(
        [w, h],
        |x, y| origin_lps + u_step * x as f64 + v_step * y as f64,
        f,
    )
}

/// `f` at `point(col, row)` for every pixel of a `w × h` image (row-major), rows in parallel.
fn sample_pixels_with<T, F, P>([w, h]: [usize; 2], point: P, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(PatientPos) -> T + Sync,
    P: Fn(usize, usize) -> PatientPos + Sync,
{
    if w == 0 || h == 0 {
        return Vec::new();
    }
    (0..h)
        .into_par_iter()
        .flat_map_iter(|row| {
            let (f, point) = (&f, &point);
            (0..w).map(move |col| f(point(col, row)))
        })
        .collect()
}

/// The CT's in-plane pixel size (mm): the finer of the column and row spacings.
pub fn in_plane_spacing_mm(g: &VolumeGeometry) -> f64 {
    g.spacing_mm[0].min(g.spacing_mm[1])
}

/// Pixel size and side (pixels) of a square probe view of `field_of_view_mm`: the CT's
/// in-plane spacing, finer only when the view would otherwise have fewer than 64 pixels across.
pub fn probe_view_pixels(g: &VolumeGeometry, field_of_view_mm: f64) -> Result<(f64, usize), ResliceError> {
    if !(field_of_view_mm.is_finite() && field_of_view_mm > 0.0) {
        return Err(ResliceError::BadPlane(
            "the field of view must be positive and finite",
        ));
    }
    let spacing = in_plane_spacing_mm(g);
    let pixel_mm = spacing.min(field_of_view_mm / MIN_SIDE_PX);
    if !(pixel_mm.is_finite() && pixel_mm > 0.0) {
        return Err(ResliceError::BadPlane("the CT spacing is not positive"));
    }
    let side = (field_of_view_mm / pixel_mm)
        .round()
        .clamp(1.0, MAX_SIDE_PX as f64) as usize;
    Ok((pixel_mm, side))
}

/// The direction perpendicular to `axis` closest to the patient's left (LPS +x); when the probe
/// runs within 30° of left–right, the one closest to posterior (+y) instead, so the image does
/// not degenerate. `axis` must be a unit vector.
pub fn probe_side_direction(axis: &Vector3<f64>) -> Vector3<f64> {
    let perp = |d: Vector3<f64>| d - axis * axis.dot(&d);
    let lr = perp(Vector3::x());
    // |lr| = sin(angle between the probe and L–R); 0.5 ↔ 30°.
    if lr.norm() >= 0.5 {
        return lr.normalize();
    }
    let ap = perp(Vector3::y());
    if ap.norm() > 1e-6 {
        ap.normalize()
    } else {
        perp(Vector3::z()).normalize()
    }
}

/// The horizontal direction of both probe images: [`probe_side_direction`] rotated by
/// `angle_deg` about the axis (right-handed about the insertion direction).
pub fn probe_u_direction(axis: &Vector3<f64>, angle_deg: f64) -> Vector3<f64> {
    let side = probe_side_direction(axis);
    let (s, c) = angle_deg.to_radians().sin_cos();
    side * c + axis.cross(&side) * s
}

/// Settings shared by the two probe planes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbePlaneOptions {
    /// Rotation of the in-plane image about the probe axis (degrees).
    pub angle_deg: f64,
    /// Where the probe's-eye plane cuts the probe: mm from the tip towards the entry (negative =
    /// beyond the tip).
    pub depth_mm: f64,
    /// Side of the square images (mm).
    pub field_of_view_mm: f64,
}

impl Default for ProbePlaneOptions {
    fn default() -> Self {
        Self {
            angle_deg: 0.0,
            depth_mm: 10.0,
            field_of_view_mm: DEFAULT_FIELD_OF_VIEW_MM,
        }
    }
}

/// The centre of the in-plane image: the middle of the exposed part, where the zone is.
pub fn in_plane_centre(probe: &Probe) -> Result<PatientPos, ResliceError> {
    Ok(probe.exposed_segment()?.midpoint())
}

/// The plane containing the probe axis (in-plane view): columns along [`probe_u_direction`],
/// rows along the insertion direction (entry at the top, tip lower down), centred on the middle
/// of the exposed part, so the probe runs down the centre column.
pub fn in_plane_for_probe(
    probe: &Probe,
    geometry: &VolumeGeometry,
    opts: &ProbePlaneOptions,
) -> Result<ObliquePlane, ResliceError> {
    let axis = probe.axis()?;
    let (pixel_mm, side) = probe_view_pixels(geometry, opts.field_of_view_mm)?;
    ObliquePlane::new(
        in_plane_centre(probe)?,
        probe_u_direction(&axis, opts.angle_deg),
        axis,
        [pixel_mm; 2],
        side,
        side,
    )
}

/// Sign (±1) of the probe's-eye plane's normal along the probe axis, so the image keeps the
/// radiological orientation of the MPR view it is closest to: `u × v` points to the patient's
/// head (+S) as in the axial view (A up, patient's right on screen left, seen from the feet),
/// to posterior (+P) as in the coronal view (S up), to the patient's right (−L) as in the
/// sagittal view (S up, A left). Which view is closest follows [`probe_side_direction`]: a probe
/// within 30° of left–right is seen as sagittal, any other as axial or coronal, whichever its
/// axis is closer to. Looking along the insertion instead mirrored the image for a probe going
/// towards the feet or the back (P at the top of an axial-like image).
pub fn probes_eye_normal_sign(axis: &Vector3<f64>) -> f64 {
    let lr = Vector3::x() - axis * axis.x;
    let reference = if lr.norm() < 0.5 {
        -Vector3::x()
    } else if axis.z.abs() >= axis.y.abs() {
        Vector3::z()
    } else {
        Vector3::y()
    };
    if axis.dot(&reference) < 0.0 { -1.0 } else { 1.0 }
}

/// The plane perpendicular to the probe at `depth_mm` from the tip (probe's-eye view): columns
/// along the same direction as the in-plane image's (the two planes meet along this image's
/// centre row), rows chosen so the image has the radiological orientation of the closest MPR
/// view ([`probes_eye_normal_sign`]; normal = ± axis), centred on the axis.
pub fn probes_eye_for_probe(
    probe: &Probe,
    geometry: &VolumeGeometry,
    opts: &ProbePlaneOptions,
) -> Result<ObliquePlane, ResliceError> {
    let axis = probe.axis()?;
    if !opts.depth_mm.is_finite() {
        return Err(ResliceError::BadPlane("the depth is not a finite number"));
    }
    let (pixel_mm, side) = probe_view_pixels(geometry, opts.field_of_view_mm)?;
    let u = probe_u_direction(&axis, opts.angle_deg);
    ObliquePlane::new(
        probe.tip_lps - axis * opts.depth_mm,
        u,
        axis.cross(&u) * probes_eye_normal_sign(&axis),
        [pixel_mm; 2],
        side,
        side,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::VolumeMeta;
    use nalgebra::Point3;

    #[test]
    fn stencil_holds_edges_and_rejects_outside() {
        assert_eq!(axis_stencil(-0.5, 4), Some((0, 1, 0.0)));
        assert_eq!(axis_stencil(3.5, 4), Some((2, 3, 1.0)));
        assert_eq!(axis_stencil(1.25, 4), Some((1, 2, 0.25)));
        assert_eq!(axis_stencil(-0.51, 4), None);
        assert_eq!(axis_stencil(3.51, 4), None);
        assert_eq!(axis_stencil(f64::NAN, 4), None);
        assert_eq!(axis_stencil(0.3, 1), Some((0, 0, 0.0)));
    }

    #[test]
    fn plane_pixels_round_trip() {
        let p = ObliquePlane::new(
            Point3::new(1.0, -2.0, 3.0),
            Vector3::new(1.0, 1.0, 0.0),
            Vector3::new(0.0, 1.0, 1.0),
            [0.5, 0.75],
            40,
            30,
        )
        .unwrap();
        assert!((p.u_dir.norm() - 1.0).abs() < 1e-12 && (p.v_dir.norm() - 1.0).abs() < 1e-12);
        assert!(p.u_dir.dot(&p.v_dir).abs() < 1e-12);
        assert!((p.lps_at([20.0, 15.0]) - p.centre_lps).norm() < 1e-12);
        let q = p.lps_at([3.25, 17.5]) + p.normal() * 2.0;
        let back = p.project(&q);
        assert!((back.px[0] - 3.25).abs() < 1e-9 && (back.px[1] - 17.5).abs() < 1e-9);
        assert!((back.dist_mm - 2.0).abs() < 1e-9);
        let a = p.lps_at([5.0, 6.0]) - p.normal() * 3.0;
        let b = p.lps_at([5.0, 6.0]) + p.normal() * 1.0;
        let x = p.segment_crossing(&a, &b).unwrap();
        assert!((x[0] - 5.0).abs() < 1e-9 && (x[1] - 6.0).abs() < 1e-9);
        assert_eq!(p.segment_crossing(&b, &(b + p.normal())), None);
    }

    #[test]
    fn lattice_samples_are_row_major_from_the_first_point() {
        let o = Point3::new(1.0, -2.0, 3.0);
        let (du, dv) = (Vector3::new(0.5, 0.0, 0.25), Vector3::new(0.0, -0.75, 0.0));
        let pts = sample_lattice_with(&o, &du, &dv, [3, 2], |p| p);
        assert_eq!(pts.len(), 6);
        assert_eq!(pts[0], o);
        // Index 5 = column 2 of row 1 (values exact in binary).
        assert_eq!(pts[5], Point3::new(2.0, -2.75, 3.5));
        assert_eq!(pts[1], Point3::new(1.5, -2.0, 3.25));
        assert!(sample_lattice_with(&o, &du, &dv, [0, 4], |p| p).is_empty());
    }

    #[test]
    fn bad_planes_are_rejected() {
        let c = Point3::origin();
        let (x, y) = (Vector3::x(), Vector3::y());
        assert!(ObliquePlane::new(c, x, x * 2.0, [1.0; 2], 4, 4).is_err());
        assert!(ObliquePlane::new(c, Vector3::zeros(), y, [1.0; 2], 4, 4).is_err());
        assert!(ObliquePlane::new(c, x, y, [0.0, 1.0], 4, 4).is_err());
        assert!(ObliquePlane::new(c, x, y, [1.0; 2], 0, 4).is_err());
        assert!(ObliquePlane::new(c, x, y, [1.0; 2], MAX_SIDE_PX + 1, 4).is_err());
    }

    #[test]
    fn side_direction_prefers_left_right_then_posterior() {
        let ap = Vector3::new(0.0, 1.0, 0.0);
        assert!((probe_side_direction(&ap) - Vector3::x()).norm() < 1e-12);
        let lr = Vector3::new(-1.0, 0.0, 0.0);
        assert!((probe_side_direction(&lr) - Vector3::y()).norm() < 1e-12);
        let tilted = Vector3::new(0.3, 0.8, -0.2).normalize();
        let s = probe_side_direction(&tilted);
        assert!(s.dot(&tilted).abs() < 1e-12 && s.x > 0.9);
        let r = probe_u_direction(&tilted, 90.0);
        assert!(r.dot(&s).abs() < 1e-12 && r.dot(&tilted).abs() < 1e-12);
    }

    /// The letters at the (left, right, top, bottom) edges of a plane, as the views draw them.
    fn edge_letters(p: &ObliquePlane) -> [String; 4] {
        use crate::geometry::orientation_label;
        [-p.u_dir, p.u_dir, -p.v_dir, p.v_dir].map(|d| orientation_label(&d))
    }

    #[test]
    fn probes_eye_keeps_the_orientation_of_the_closest_mpr_view() {
        let g = VolumeGeometry::axis_aligned([64, 64, 64], [1.0; 3], Point3::origin());
        let opts = ProbePlaneOptions::default();
        let tip = [10.0, 5.0, -20.0];
        // (insertion direction, expected letters left / right / top / bottom, like the view)
        let cases: [([f64; 3], [&str; 4], &str); 7] = [
            // Cranio-caudal probes: axial-like, A up and the patient's right on screen left.
            ([0.0, 0.0, -1.0], ["R", "L", "A", "P"], "towards the feet"),
            ([0.0, 0.0, 1.0], ["R", "L", "A", "P"], "towards the head"),
            // Anterior or posterior approach: coronal-like, S up, R left.
            ([0.0, 1.0, 0.0], ["R", "L", "S", "I"], "from the front"),
            ([0.0, -1.0, 0.0], ["R", "L", "S", "I"], "from the back"),
            // Lateral approach: sagittal-like, S up, A left.
            ([1.0, 0.0, 0.0], ["A", "P", "S", "I"], "from the right"),
            ([-1.0, 0.0, 0.0], ["A", "P", "S", "I"], "from the left"),
            // Tilted 20° from a caudal path towards posterior: still axial-like (A up), the
            // top edge also a little inferior, as the plane is.
            ([0.0, 0.34, -0.94], ["R", "L", "AI", "PS"], "caudal, tilted"),
        ];
        for (dir, letters, what) in cases {
            let d = Vector3::from(dir).normalize();
            let entry = Point3::from(tip) - d * 120.0;
            let probe = Probe {
                model_id: "nanoknife_19g".into(),
                tip_lps: Point3::from(tip),
                entry_lps: entry,
                exposure_mm: 20.0,
                label: "1".into(),
            };
            let eye = probes_eye_for_probe(&probe, &g, &opts).unwrap();
            assert_eq!(edge_letters(&eye), letters.map(String::from), "{what}");
            // The basis stays orthonormal and perpendicular to the probe.
            assert!((eye.normal().dot(&d).abs() - 1.0).abs() < 1e-12, "{what}");
            assert!(eye.u_dir.dot(&eye.v_dir).abs() < 1e-12, "{what}");
            // Rotating the image keeps its handedness: the normal does not flip with the angle.
            for angle_deg in [37.0, 90.0, -150.0] {
                let turned =
                    probes_eye_for_probe(&probe, &g, &ProbePlaneOptions { angle_deg, ..opts }).unwrap();
                assert!(
                    (turned.normal() - eye.normal()).norm() < 1e-12,
                    "{what} at {angle_deg}°"
                );
            }
        }
        // The letters above are those of the MPR views themselves (`SliceMapping`).
        for (view, letters) in [
            (crate::volume::ViewKind::Axial, ["R", "L", "A", "P"]),
            (crate::volume::ViewKind::Coronal, ["R", "L", "S", "I"]),
            (crate::volume::ViewKind::Sagittal, ["A", "P", "S", "I"]),
        ] {
            let m = crate::volume::SliceMapping::new(&g, view);
            let at = |u: f64, v: f64| g.to_patient(&m.voxel_of_pixel(u, v, 0.0));
            let (o, right, down) = (at(0.0, 0.0), at(1.0, 0.0), at(0.0, 1.0));
            let (u, v) = ((right - o).normalize(), (down - o).normalize());
            let mpr = ObliquePlane::new(o, u, v, [1.0; 2], 1, 1).unwrap();
            assert_eq!(edge_letters(&mpr), letters.map(String::from), "{view:?}");
        }
    }

    #[test]
    fn small_volume_reslice_and_render() {
        let g = VolumeGeometry::axis_aligned([3, 3, 3], [1.0; 3], Point3::origin());
        let hu: Vec<i16> = (0..27).map(|n| n as i16 * 10).collect();
        let vol = Volume::new(g, hu, VolumeMeta::default()).unwrap();
        // Axial plane k = 1, pixels = voxel centres, one column hanging off the +x side.
        let plane = ObliquePlane::new(
            Point3::new(1.5, 1.0, 1.0),
            Vector3::x(),
            Vector3::y(),
            [1.0; 2],
            4,
            3,
        )
        .unwrap();
        let r = reslice_volume(&vol, &plane);
        assert_eq!(r.image.hu[0], vol.get(0, 0, 1).unwrap());
        assert_eq!(r.image.hu[4 + 2], vol.get(2, 1, 1).unwrap());
        assert!(!r.inside[3] && r.image.hu[3] == OUTSIDE_HU);
        let lut = WlLut::new(crate::render::WindowLevel::new(-2000.0, 100.0));
        let mut out = Vec::new();
        render_reslice(&r, &lut, &mut out);
        assert_eq!(
            &out[12..16],
            &[0, 0, 0, 255],
            "outside is black even in a low window"
        );
        assert_eq!(out[0], 255);
    }
}
