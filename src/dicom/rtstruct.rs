//! DICOM RT Structure Set import: planar closed contours → masks on the CT grid.
//!
//! Rasterisation uses the geometry, never slice indices or z alone: every contour point is
//! taken to continuous CT voxel coordinates (`VolumeGeometry::to_voxel`); a contour is used
//! when all its points lie within [`SLICE_TOLERANCE`] × slice spacing of one slice plane `k`
//! (otherwise it is oblique to the slices or lies between them, and is skipped and counted).
//!
//! **Convention: a voxel belongs to the ROI when its centre is inside the contour or on it.**
//! Tools that write RTSTRUCTs from voxel masks (rt-utils, highdicom's converters, most RT
//! systems) draw the contour through the centres of the mask's boundary voxels, and they read
//! those voxels back as inside. Dropping them — a strict centre-inside rule — shrinks a small
//! vessel or nerve by about one voxel on a side, so every distance to it comes out too large:
//! the unsafe direction for a safety check. So, on each slice:
//! 1. the interior: even–odd rule over *all* contours of the ROI on the slice (holes and several
//!    islands work, as an XOR), sub-pixel exact. Per row `j`, the x-crossings of the edges with
//!    `y = j` are collected with the half-open rule (an edge spans `[min y, max y)`, so a vertex
//!    exactly on a row is counted once and horizontal edges never), sorted, and voxels `i` with
//!    `x_a ≤ i < x_b` between successive pairs are set;
//! 2. the contour itself: every voxel centre within [`ON_EDGE_TOLERANCE`] voxel (a fraction of
//!    the pixel spacing along each axis, so it scales with the grid) of an edge of any contour is
//!    set, whatever step 1 said — also on the edge of a hole, whose contour likewise runs through
//!    the ROI's own boundary voxels. The tolerance only absorbs the decimal rounding of the
//!    written coordinates; nothing is dilated.
use std::collections::BTreeMap;
use std::path::Path;

use super::parse::DataSet;
use super::structset::{
    ImportOptions, ImportedStructures, RTSTRUCT_SOP_CLASS, SeriesIds, StructureImportError,
    TAG_CONTOUR_IMAGE_SEQ, TAG_REF_FOR_UID, TAG_REF_SOP_INSTANCE, TAG_RT_REF_SERIES_SEQ,
    TAG_RT_REF_STUDY_SEQ, TAG_SS_ROI_SEQ, check_frame_of_reference, check_references, open_structure_object,
    referenced_series,
};
use crate::anatomy::{Mask, Provenance, Structure, StructureKind, kind_from_name};
use crate::dicom::header::tags::{FOR_UID, REF_FOR_SEQ, STRUCTURE_SET_LABEL};
use crate::geometry::{PatientPos, VolumeGeometry};

const TAG_ROI_NUMBER: u32 = 0x3006_0022;
const TAG_ROI_NAME: u32 = 0x3006_0026;
const TAG_ROI_DISPLAY_COLOR: u32 = 0x3006_002A;
const TAG_ROI_CONTOUR_SEQ: u32 = 0x3006_0039;
const TAG_CONTOUR_SEQ: u32 = 0x3006_0040;
const TAG_CONTOUR_GEOMETRIC_TYPE: u32 = 0x3006_0042;
const TAG_NUMBER_OF_CONTOUR_POINTS: u32 = 0x3006_0046;
const TAG_CONTOUR_DATA: u32 = 0x3006_0050;
const TAG_RT_ROI_OBSERVATIONS_SEQ: u32 = 0x3006_0080;
const TAG_REF_ROI_NUMBER: u32 = 0x3006_0084;
const TAG_RT_ROI_INTERPRETED_TYPE: u32 = 0x3006_00A4;

/// A contour is on slice plane `k` when every point is within this fraction of the slice
/// spacing of the plane.
pub const SLICE_TOLERANCE: f64 = 0.1;

/// A voxel centre closer than this to a contour edge, in voxels along each in-plane axis, lies
/// on the contour (and so inside). Contour coordinates are written as decimal strings (IS/DS,
/// at most 16 characters): 0.001 voxel is far above their rounding and far below anything
/// drawn on purpose.
pub const ON_EDGE_TOLERANCE: f64 = 1e-3;

/// The module's rasterisation rule for the closed contours of one ROI on one slice, in
/// continuous (i, j) voxel coordinates on an `nx × ny` grid (row-major, i fastest): the
/// even–odd interior ([`rasterise_even_odd`]) plus every voxel centre on an edge
/// ([`mark_on_edges`]).
pub fn rasterise_contours(polygons: &[Vec<[f64; 2]>], nx: usize, ny: usize) -> Vec<bool> {
    let mut out = rasterise_even_odd(polygons, nx, ny);
    mark_on_edges(polygons, nx, ny, ON_EDGE_TOLERANCE, &mut out);
    out
}

/// Set every voxel centre `(i, j)` within `tol` (voxels) of an edge of a closed polygon
/// (polygons with at least 2 points; the closing edge included). Exact point–segment
/// distances; per edge only the rows and columns its tolerance band reaches are visited.
pub fn mark_on_edges(polygons: &[Vec<[f64; 2]>], nx: usize, ny: usize, tol: f64, out: &mut [bool]) {
    for poly in polygons {
        let n = poly.len();
        if n < 2 {
            continue;
        }
        for e in 0..n {
            let (a, b) = (poly[e], poly[(e + 1) % n]);
            if a.iter().chain(&b).all(|v| v.is_finite()) {
                mark_segment(a, b, nx, ny, tol, out);
            }
        }
    }
}

/// Distance from `p` to the segment `a`–`b`.
fn point_segment_distance(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p[0] - a[0] - t * dx).hypot(p[1] - a[1] - t * dy)
}

fn mark_segment(a: [f64; 2], b: [f64; 2], nx: usize, ny: usize, tol: f64, out: &mut [bool]) {
    let (ylo, yhi) = (a[1].min(b[1]), a[1].max(b[1]));
    let j0 = (ylo - tol).ceil().max(0.0);
    let j1 = (yhi + tol).floor().min(ny as f64 - 1.0);
    if j0 > j1 {
        return;
    }
    for j in j0 as usize..=j1 as usize {
        let y = j as f64;
        // The part of the segment within the row's band |y' − y| ≤ tol, as an x-range.
        let (xa, xb) = if b[1] == a[1] {
            (a[0].min(b[0]), a[0].max(b[0]))
        } else {
            let t0 = ((y - tol - a[1]) / (b[1] - a[1])).clamp(0.0, 1.0);
            let t1 = ((y + tol - a[1]) / (b[1] - a[1])).clamp(0.0, 1.0);
            let (x0, x1) = (a[0] + t0 * (b[0] - a[0]), a[0] + t1 * (b[0] - a[0]));
            (x0.min(x1), x0.max(x1))
        };
        let i0 = (xa - tol).ceil().max(0.0);
        let i1 = (xb + tol).floor().min(nx as f64 - 1.0);
        if i0 > i1 {
            continue;
        }
        for i in i0 as usize..=i1 as usize {
            if point_segment_distance([i as f64, y], a, b) <= tol {
                out[j * nx + i] = true;
            }
        }
    }
}

/// Even–odd scan conversion of closed polygons given in continuous (i, j) voxel coordinates on
/// an `nx × ny` grid (row-major, i fastest). A voxel is set when its centre `(i, j)` is inside
/// an odd number of polygons (edges of all polygons are combined, so overlapping polygons XOR).
/// Centres exactly on an edge follow the half-open rule; the import adds them all through
/// [`rasterise_contours`].
pub fn rasterise_even_odd(polygons: &[Vec<[f64; 2]>], nx: usize, ny: usize) -> Vec<bool> {
    let mut out = vec![false; nx * ny];
    let mut crossings: Vec<Vec<f64>> = vec![Vec::new(); ny];
    for poly in polygons {
        let n = poly.len();
        if n < 3 {
            continue;
        }
        for e in 0..n {
            let [x0, y0] = poly[e];
            let [x1, y1] = poly[(e + 1) % n];
            if y0 == y1 || !(x0.is_finite() && y0.is_finite() && x1.is_finite() && y1.is_finite()) {
                continue;
            }
            let (ylo, yhi) = if y0 < y1 { (y0, y1) } else { (y1, y0) };
            // Rows j with ylo ≤ j < yhi, clipped to the grid.
            let j_start = ylo.ceil().max(0.0);
            let j_end = (yhi.ceil() - 1.0).min(ny as f64 - 1.0);
            if j_start > j_end {
                continue;
            }
            let slope = (x1 - x0) / (y1 - y0);
            let mut j = j_start as usize;
            while (j as f64) <= j_end {
                crossings[j].push(x0 + (j as f64 - y0) * slope);
                j += 1;
            }
        }
    }
    for (j, xs) in crossings.iter_mut().enumerate() {
        if xs.len() < 2 {
            continue;
        }
        xs.sort_by(f64::total_cmp);
        let row = &mut out[j * nx..(j + 1) * nx];
        for pair in xs.chunks_exact(2) {
            // Voxel centres i with xa ≤ i < xb.
            let a = pair[0].ceil().max(0.0);
            let b = pair[1].ceil().min(nx as f64);
            if a < b {
                for v in &mut row[a as usize..b as usize] {
                    *v = !*v;
                }
            }
        }
    }
    out
}

/// Why contours of one ROI were not used, counted.
#[derive(Default)]
struct ContourStats {
    total: usize,
    used: usize,
    empty_or_few_points: usize,
    unreadable: usize,
    not_closed_planar: BTreeMap<String, usize>,
    oblique: usize,
    between_slices: usize,
    outside_slices: usize,
    outside_z_mm: Option<(f64, f64)>,
    outside_in_plane: usize,
}

fn kind_for(name: &str, interpreted_type: &str) -> StructureKind {
    match interpreted_type.trim().to_ascii_uppercase().as_str() {
        "GTV" | "CTV" | "PTV" | "TREATED_VOLUME" | "IRRAD_VOLUME" => StructureKind::Target,
        _ => kind_from_name(name),
    }
}

fn colour_of(ds: &DataSet, buf: &[u8]) -> Option<[u8; 3]> {
    let v = ds.ds(buf, TAG_ROI_DISPLAY_COLOR)?.ok()?;
    if v.len() != 3 {
        return None;
    }
    Some([0, 1, 2].map(|c| v[c].round().clamp(0.0, 255.0) as u8))
}

/// Import the ROIs of an RT Structure Set onto the CT grid `ct`.
/// See the module documentation for the rasterisation rules and
/// [`super::structset`] for the frame-of-reference rules.
pub fn import_rtstruct(
    path: &Path,
    ct: &VolumeGeometry,
    ct_ids: &SeriesIds,
    opts: &ImportOptions,
) -> Result<ImportedStructures, StructureImportError> {
    let (p, _) = open_structure_object(path, ct, "an RT Structure Set (RTSTRUCT)", |sop, modality| {
        sop == RTSTRUCT_SOP_CLASS || modality == "RTSTRUCT"
    })?;
    let (ds, buf) = (&p.root, &p.buf[..]);
    let malformed = |reason: String| StructureImportError::Malformed {
        file: path.to_path_buf(),
        reason,
    };
    let Some(rois) = ds.items(TAG_SS_ROI_SEQ) else {
        return Err(malformed(
            "it has no Structure Set ROI Sequence (3006,0020), so it names no ROIs".into(),
        ));
    };
    let mut out = ImportedStructures::default();

    // Frame of reference: the Referenced Frame of Reference Sequence and the per-ROI UIDs.
    let mut fors: Vec<String> = Vec::new();
    let mut ref_images: Vec<String> = Vec::new();
    for f in ds.items(REF_FOR_SEQ).unwrap_or(&[]) {
        let u = f.str_or_empty(buf, FOR_UID);
        if !u.is_empty() && !fors.contains(&u) {
            fors.push(u);
        }
        for st in f.items(TAG_RT_REF_STUDY_SEQ).unwrap_or(&[]) {
            for se in st.items(TAG_RT_REF_SERIES_SEQ).unwrap_or(&[]) {
                for im in se.items(TAG_CONTOUR_IMAGE_SEQ).unwrap_or(&[]) {
                    let u = im.str_or_empty(buf, TAG_REF_SOP_INSTANCE);
                    if !u.is_empty() {
                        ref_images.push(u);
                    }
                }
            }
        }
    }
    for r in rois {
        let u = r.str_or_empty(buf, TAG_REF_FOR_UID);
        if !u.is_empty() && !fors.contains(&u) {
            fors.push(u);
        }
    }
    check_frame_of_reference(path, &fors, ct_ids, opts, &mut out.warnings)?;
    ref_images.sort();
    ref_images.dedup();
    check_references(
        &referenced_series(ds, buf),
        &ref_images,
        ct_ids,
        "RTSTRUCT",
        &mut out.warnings,
    );

    let label = ds.str_or_empty(buf, STRUCTURE_SET_LABEL);
    // Recorded in every structure so that importing this object again is recognised.
    let source_uid = ds.str_or_empty(buf, super::header::tags::SOP_INSTANCE);
    let source_label = if label.is_empty() {
        "RTSTRUCT".to_string()
    } else {
        format!("RTSTRUCT \"{label}\"")
    };
    let contours_of: Vec<(Option<i64>, &DataSet)> = ds
        .items(TAG_ROI_CONTOUR_SEQ)
        .unwrap_or(&[])
        .iter()
        .map(|c| (c.is(buf, TAG_REF_ROI_NUMBER), c))
        .collect();
    let interpreted: BTreeMap<i64, String> = ds
        .items(TAG_RT_ROI_OBSERVATIONS_SEQ)
        .unwrap_or(&[])
        .iter()
        .filter_map(|o| {
            Some((
                o.is(buf, TAG_REF_ROI_NUMBER)?,
                o.str_or_empty(buf, TAG_RT_ROI_INTERPRETED_TYPE),
            ))
        })
        .collect();

    let [nx, ny, nz] = ct.dims;
    let ct_z = {
        let a = ct.to_patient(&nalgebra::Vector3::new(0.0, 0.0, 0.0)).z;
        let b = ct
            .to_patient(&nalgebra::Vector3::new(0.0, 0.0, (nz - 1) as f64))
            .z;
        (a.min(b), a.max(b))
    };
    let ct_for = ct_ids.frame_of_reference_uid.trim();

    for (idx, roi) in rois.iter().enumerate() {
        let number = roi.is(buf, TAG_ROI_NUMBER);
        let raw_name = roi.str_or_empty(buf, TAG_ROI_NAME);
        let name = if raw_name.is_empty() {
            match number {
                Some(n) => format!("ROI {n}"),
                None => format!("ROI #{}", idx + 1),
            }
        } else {
            raw_name
        };
        let roi_for = roi.str_or_empty(buf, TAG_REF_FOR_UID);
        if !roi_for.is_empty() && !ct_for.is_empty() && roi_for != ct_for {
            out.skipped_rois.push((
                name,
                format!(
                    "its ReferencedFrameOfReferenceUID {roi_for} is not the CT's frame of reference {ct_for}"
                ),
            ));
            continue;
        }
        let Some(number) = number else {
            out.skipped_rois.push((
                name,
                "it has no ROI Number, so its contours cannot be found".into(),
            ));
            continue;
        };
        let Some((_, rc)) = contours_of.iter().find(|(n, _)| *n == Some(number)) else {
            out.skipped_rois.push((
                name,
                "it has no entry in the ROI Contour Sequence (no contours)".into(),
            ));
            continue;
        };
        let contour_items = rc.items(TAG_CONTOUR_SEQ).unwrap_or(&[]);
        if contour_items.is_empty() {
            out.skipped_rois.push((name, "it has no contours".into()));
            continue;
        }
        let mut stats = ContourStats::default();
        let mut per_slice: BTreeMap<usize, Vec<Vec<[f64; 2]>>> = BTreeMap::new();
        for c in contour_items {
            stats.total += 1;
            let gtype = c
                .str_or_empty(buf, TAG_CONTOUR_GEOMETRIC_TYPE)
                .to_ascii_uppercase();
            if !gtype.is_empty() && gtype != "CLOSED_PLANAR" {
                *stats.not_closed_planar.entry(gtype).or_default() += 1;
                continue;
            }
            let data = match c.ds(buf, TAG_CONTOUR_DATA) {
                None => Vec::new(),
                Some(Ok(v)) => v,
                Some(Err(_)) => {
                    stats.unreadable += 1;
                    continue;
                }
            };
            let _declared = c.is(buf, TAG_NUMBER_OF_CONTOUR_POINTS);
            if data.len() % 3 != 0 {
                stats.unreadable += 1;
                continue;
            }
            if data.len() < 9 {
                stats.empty_or_few_points += 1;
                continue;
            }
            let pts: Vec<nalgebra::Vector3<f64>> = data
                .chunks_exact(3)
                .map(|t| ct.to_voxel(&PatientPos::new(t[0], t[1], t[2])))
                .collect();
            let (kmin, kmax) = pts.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v.z), b.max(v.z))
            });
            if !(kmin.is_finite() && kmax.is_finite()) {
                stats.unreadable += 1;
                continue;
            }
            if kmax - kmin > 2.0 * SLICE_TOLERANCE {
                stats.oblique += 1;
                continue;
            }
            let kc = 0.5 * (kmin + kmax);
            let kr = kc.round();
            if (kc - kr).abs() + 0.5 * (kmax - kmin) > SLICE_TOLERANCE {
                stats.between_slices += 1;
                continue;
            }
            if kr < 0.0 || kr >= nz as f64 {
                stats.outside_slices += 1;
                let zs = data.chunks_exact(3).map(|t| t[2]);
                let (zlo, zhi) = zs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), z| {
                    (a.min(z), b.max(z))
                });
                stats.outside_z_mm = Some(match stats.outside_z_mm {
                    None => (zlo, zhi),
                    Some((a, b)) => (a.min(zlo), b.max(zhi)),
                });
                continue;
            }
            let poly: Vec<[f64; 2]> = pts.iter().map(|v| [v.x, v.y]).collect();
            let (imin, imax, jmin, jmax) = poly.iter().fold(
                (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY),
                |(a, b, c, d), p| (a.min(p[0]), b.max(p[0]), c.min(p[1]), d.max(p[1])),
            );
            if imax < -0.5 || jmax < -0.5 || imin > nx as f64 - 0.5 || jmin > ny as f64 - 0.5 {
                stats.outside_in_plane += 1;
                continue;
            }
            stats.used += 1;
            per_slice.entry(kr as usize).or_default().push(poly);
        }
        let mut mask = Mask::empty(ct.dims);
        for (k, polys) in &per_slice {
            mask.set_slice_dense(*k, &rasterise_contours(polys, nx, ny));
        }
        let mut w = Vec::new();
        let q = format!("\"{name}\"");
        if stats.empty_or_few_points > 0 {
            w.push(format!(
                "{q}: {} empty contour(s) or contour(s) with fewer than 3 points skipped",
                stats.empty_or_few_points
            ));
        }
        if stats.unreadable > 0 {
            w.push(format!(
                "{q}: {} contour(s) with unreadable Contour Data (not x\\y\\z number triplets) skipped",
                stats.unreadable
            ));
        }
        for (t, n) in &stats.not_closed_planar {
            w.push(format!(
                "{q}: {n} {t} contour(s) skipped (only CLOSED_PLANAR contours describe areas)"
            ));
        }
        if stats.oblique > 0 {
            w.push(format!(
                "{q}: {} contour(s) are not parallel to the CT slices (oblique) and were skipped",
                stats.oblique
            ));
        }
        if stats.between_slices > 0 {
            w.push(format!(
                "{q}: {} contour(s) lie between CT slice planes (more than {:.2} mm from the nearest) and were skipped; \
                 the structure set was probably drawn on another reconstruction",
                stats.between_slices,
                SLICE_TOLERANCE * ct.spacing_mm[2]
            ));
        }
        if stats.outside_slices > 0 {
            let (a, b) = stats.outside_z_mm.unwrap_or((f64::NAN, f64::NAN));
            w.push(format!(
                "{q}: {} of {} contour(s) lie outside the CT volume (contours at z {a:.1} … {b:.1} mm, CT slices \
                 at z {:.1} … {:.1} mm) and were skipped; the CT series may be incomplete",
                stats.outside_slices, stats.total, ct_z.0, ct_z.1
            ));
        }
        if stats.outside_in_plane > 0 {
            w.push(format!(
                "{q}: {} contour(s) lie outside the CT field of view in-plane and were skipped",
                stats.outside_in_plane
            ));
        }
        if mask.is_empty() {
            let reason = if stats.used == 0 {
                format!(
                    "none of its {} contour(s) could be placed on the CT grid",
                    stats.total
                )
            } else {
                format!(
                    "its {} usable contour(s) enclose no voxel centre (too small for the CT grid)",
                    stats.used
                )
            };
            out.warnings.extend(w);
            out.skipped_rois.push((name, reason));
            continue;
        }
        let kind = kind_for(&name, interpreted.get(&number).map(String::as_str).unwrap_or(""));
        let slices = per_slice.len();
        let mut s = Structure::new(
            name,
            kind,
            Provenance::Imported {
                file: path.to_path_buf(),
                source_uid: source_uid.clone(),
                source_label: source_label.clone(),
                detail: format!(
                    "RTSTRUCT{} ROI {number}: {} of {} contours on {slices} slices",
                    if label.is_empty() {
                        String::new()
                    } else {
                        format!(" \"{label}\"")
                    },
                    stats.used,
                    stats.total
                ),
            },
            mask,
        );
        if let Some(c) = colour_of(rc, buf) {
            s.colour = c;
        }
        out.warnings.extend(w.iter().cloned());
        out.structures.push(s);
        out.structure_warnings.push(w);
    }
    if out.structures.is_empty() {
        out.warnings.push(format!(
            "no ROI of this RTSTRUCT could be placed on the loaded CT ({} ROI(s) skipped)",
            out.skipped_rois.len()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(m: &[bool]) -> usize {
        m.iter().filter(|b| **b).count()
    }

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<[f64; 2]> {
        vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    }

    #[test]
    fn square_with_hole_and_islands() {
        // Outer 1.5..9.5 contains centres 2..=9 (8×8); hole 3.5..6.5 contains 4..=6 (3×3).
        let m = rasterise_even_odd(&[square(1.5, 1.5, 9.5, 9.5), square(3.5, 3.5, 6.5, 6.5)], 12, 12);
        assert_eq!(count(&m), 64 - 9);
        assert!(!m[5 * 12 + 5] && m[2 * 12 + 2] && m[9 * 12 + 9]);
        // Two islands on one slice.
        let m = rasterise_even_odd(&[square(0.5, 0.5, 2.5, 2.5), square(6.5, 6.5, 9.5, 8.5)], 12, 12);
        assert_eq!(count(&m), 4 + 6);
    }

    #[test]
    fn centres_on_edges_follow_the_half_open_rule() {
        // Vertices on voxel-centre rows and columns: square [2, 5] × [2, 5]. Half-open in both
        // directions: centres 2, 3, 4 inside, 5 outside → 3 × 3.
        let m = rasterise_even_odd(&[square(2.0, 2.0, 5.0, 5.0)], 8, 8);
        assert_eq!(count(&m), 9);
        assert!(m[2 * 8 + 2] && !m[5 * 8 + 5] && !m[2 * 8 + 5]);
        // Two adjacent squares sharing an edge tile the plane exactly (no double counting).
        let m = rasterise_even_odd(&[square(2.0, 2.0, 4.0, 5.0), square(4.0, 2.0, 6.0, 5.0)], 8, 8);
        assert_eq!(count(&m), 12);
        // A diamond with vertices on centre rows: 5 interior centres plus the 3 boundary
        // centres the half-open rule assigns to it (left/top-left edges).
        let d = vec![[4.0, 2.0], [6.0, 4.0], [4.0, 6.0], [2.0, 4.0]];
        assert_eq!(count(&rasterise_even_odd(&[d], 9, 9)), 8);
    }

    #[test]
    fn centres_on_the_contour_are_inside() {
        // Square through voxel centres 2 and 5: all 4 × 4 centres, the edge ones included.
        let m = rasterise_contours(&[square(2.0, 2.0, 5.0, 5.0)], 8, 8);
        assert_eq!(count(&m), 16);
        assert!(m[5 * 8 + 5] && m[2 * 8 + 5] && m[5 * 8 + 2]);
        // A diamond with vertices on centres: every centre with |di| + |dj| ≤ 2 (1 + 3 + 5 + 3 + 1).
        let d = vec![[4.0, 2.0], [6.0, 4.0], [4.0, 6.0], [2.0, 4.0]];
        assert_eq!(count(&rasterise_contours(&[d], 9, 9)), 13);
        // A one-voxel-wide line drawn as a contour that goes out and back encloses no area,
        // yet its voxels are on the contour.
        let line = vec![[1.0, 3.0], [6.0, 3.0], [1.0, 3.0]];
        let m = rasterise_contours(&[line], 8, 8);
        assert_eq!(count(&m), 6);
        assert!((1..=6).all(|i| m[3 * 8 + i]));
        // A hole's contour through the ROI's own boundary voxels keeps them: outer 1..=7,
        // hole through 3..=5 leaves only the hole's interior centre (4, 4) out.
        let m = rasterise_contours(&[square(1.0, 1.0, 7.0, 7.0), square(3.0, 3.0, 5.0, 5.0)], 9, 9);
        assert_eq!(count(&m), 49 - 1);
        assert!(!m[4 * 9 + 4] && m[3 * 9 + 3]);
    }

    #[test]
    fn the_on_edge_tolerance_absorbs_rounding_but_does_not_dilate() {
        // Decimal rounding of the written coordinates (1e-6 voxel off the centres) changes nothing.
        let e = 1e-6;
        let m = rasterise_contours(&[square(2.0 + e, 2.0 - e, 5.0 - e, 5.0 + e)], 8, 8);
        assert_eq!(count(&m), 16);
        // A contour 0.01 voxel inside the boundary centres leaves them out: 2 × 2 remain.
        let m = rasterise_contours(&[square(2.01, 2.01, 4.99, 4.99)], 8, 8);
        assert_eq!(count(&m), 4);
    }

    /// Classic crossing-number point-in-polygon test (W. R. Franklin's pnpoly).
    fn pnpoly(poly: &[[f64; 2]], x: f64, y: f64) -> bool {
        let mut inside = false;
        let n = poly.len();
        let mut j = n - 1;
        for i in 0..n {
            let (a, b) = (poly[i], poly[j]);
            if (a[1] > y) != (b[1] > y) && x < (b[0] - a[0]) * (y - a[1]) / (b[1] - a[1]) + a[0] {
                inside = !inside;
            }
            j = i;
        }
        inside
    }

    #[test]
    fn random_polygons_match_pointwise_crossing_test() {
        // Deterministic LCG; random (generic) vertices, several self-intersecting polygons per
        // slice, even–odd over all of them.
        let mut s = 0x2545_F491_4F6C_DD1Du64;
        let mut rnd = || {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 11) as f64 / (1u64 << 53) as f64
        };
        let (nx, ny) = (23, 17);
        for _ in 0..200 {
            let polys: Vec<Vec<[f64; 2]>> = (0..1 + (rnd() * 3.0) as usize)
                .map(|_| {
                    (0..3 + (rnd() * 7.0) as usize)
                        .map(|_| [rnd() * 30.0 - 4.0, rnd() * 24.0 - 4.0])
                        .collect()
                })
                .collect();
            let m = rasterise_even_odd(&polys, nx, ny);
            let with_edges = rasterise_contours(&polys, nx, ny);
            for j in 0..ny {
                for i in 0..nx {
                    let p = [i as f64, j as f64];
                    let want = polys.iter().filter(|q| pnpoly(q, p[0], p[1])).count() % 2 == 1;
                    assert_eq!(m[j * nx + i], want, "voxel ({i}, {j}) of {polys:?}");
                    // Brute force over every edge: inside, or on an edge.
                    let on_edge = polys.iter().any(|q| {
                        (0..q.len()).any(|e| {
                            point_segment_distance(p, q[e], q[(e + 1) % q.len()]) <= ON_EDGE_TOLERANCE
                        })
                    });
                    assert_eq!(
                        with_edges[j * nx + i],
                        want || on_edge,
                        "voxel ({i}, {j}) of {polys:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn clipped_polygons_and_degenerate_input() {
        // Partly outside the grid: only inside centres count.
        let m = rasterise_even_odd(&[square(-5.0, -5.0, 2.5, 2.5)], 4, 4);
        assert_eq!(count(&m), 9);
        assert_eq!(
            count(&rasterise_even_odd(&[vec![[0.0, 0.0], [3.0, 3.0]]], 4, 4)),
            0
        );
        assert_eq!(
            count(&rasterise_even_odd(
                &[vec![[0.0, f64::NAN], [3.0, 3.0], [1.0, 2.0]]],
                4,
                4
            )),
            0
        );
    }

    #[test]
    fn circle_area_is_close_to_analytic() {
        let n = 256;
        let poly: Vec<[f64; 2]> = (0..720)
            .map(|t| {
                let a = t as f64 / 720.0 * std::f64::consts::TAU;
                [128.3 + 60.0 * a.cos(), 127.7 + 60.0 * a.sin()]
            })
            .collect();
        let area = std::f64::consts::PI * 3600.0;
        let c = count(&rasterise_even_odd(&[poly], n, n)) as f64;
        assert!((c - area).abs() / area < 0.005, "{c} vs {area}");
    }
}
