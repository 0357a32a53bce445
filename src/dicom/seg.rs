//! DICOM Segmentation (SEG) import: BINARY, FRACTIONAL and LABELMAP segmentations → one mask
//! per segment on the CT grid.
//!
//! - Frames: BINARY 1-bit frames are one continuous bit stream (frame `n` starts at bit
//!   `n × rows × cols`, least significant bit first), so frames need not be byte aligned.
//!   FRACTIONAL frames (8 bit) are thresholded at `seg_threshold × MaximumFractionalValue`
//!   (inside when ≥). Label-map SEGs (SOP class …66.7, or SegmentationType LABELMAP) hold
//!   segment numbers; 0 is background and PixelPaddingValue voxels belong to no segment.
//!   Encapsulated frames are decoded one at a time: RLE of 1-bit data (not handled by the codec
//!   registry) by PackBits here, everything else (J2K, deflated frames, …) by the registry
//!   codecs through `decode.rs`; 1-bit frames may come back bit-packed per frame or one byte
//!   per pixel, told apart by their length.
//! - Geometry: every frame is placed through its own Plane Position / Plane Orientation /
//!   Pixel Measures (per-frame functional group, else shared group, else the root) onto the
//!   nearest CT slice plane; it must lie within [`SLICE_TOLERANCE`] × slice spacing of it and be
//!   parallel to it (otherwise it is skipped and counted). In-plane the CT voxel centres are
//!   mapped into the frame and sampled nearest-neighbour, so a SEG on a different in-plane grid
//!   (spacing, origin, flipped or rotated axes) lands correctly; on the same grid this is an
//!   exact copy. Segments are independent (overlaps are kept: each segment its own structure).

use std::collections::BTreeMap;
use std::path::Path;

use nalgebra::{Matrix2, Vector2, Vector3};

use super::decode::{check_expansion, decode_encapsulated, frame_bytes};
use super::header::tags::{
    BITS_ALLOCATED, COLUMNS, FOR_UID, IOP, IPP, NUMBER_OF_FRAMES, PER_FRAME_FG, PIXEL_MEASURES_SEQ,
    PIXEL_PADDING_VALUE, PIXEL_SPACING, PLANE_ORIENTATION_SEQ, PLANE_POSITION_SEQ, ROWS, SERIES_DESC,
    SHARED_FG,
};
use super::header::{ImageHeader, MAX_POSITION_MM, SPACING_RANGE_MM, fmt_num, normalise_iop};
use super::parse::{self, DataSet, PixelLoc, TAG_PIXEL_DATA};
use super::structset::{
    ImportOptions, ImportedStructures, LABELMAP_SEG_SOP_CLASS, SEG_SOP_CLASS, SeriesIds,
    StructureImportError, TAG_REF_SERIES_SEQ, TAG_REF_SOP_INSTANCE, check_frame_of_reference,
    check_references, cielab_to_srgb, open_structure_object, referenced_series,
};
use crate::anatomy::{Mask, Provenance, Structure, StructureKind, kind_from_name};
use crate::geometry::{PatientPos, VolumeGeometry};

const TAG_SEGMENTATION_TYPE: u32 = 0x0062_0001;
const TAG_SEGMENT_SEQ: u32 = 0x0062_0002;
const TAG_SEGMENT_NUMBER: u32 = 0x0062_0004;
const TAG_SEGMENT_LABEL: u32 = 0x0062_0005;
const TAG_SEGMENT_ID_SEQ: u32 = 0x0062_000A;
const TAG_REF_SEGMENT_NUMBER: u32 = 0x0062_000B;
const TAG_CIELAB: u32 = 0x0062_000D;
const TAG_MAX_FRACTIONAL: u32 = 0x0062_000E;
const TAG_PROPERTY_TYPE_SEQ: u32 = 0x0062_000F;
const TAG_CODE_MEANING: u32 = 0x0008_0104;
const TAG_REF_INSTANCE_SEQ: u32 = 0x0008_114A;
const TAG_BITS_STORED: u32 = 0x0028_0101;
const TS_RLE: &str = "1.2.840.10008.1.2.5";

/// A frame is on CT slice plane `k` when its corners are within this fraction of the slice
/// spacing of the plane.
pub const SLICE_TOLERANCE: f64 = 0.1;

#[derive(Clone, Copy, Debug, PartialEq)]
enum SegType {
    Binary,
    Fractional { max: f64 },
    LabelMap { padding: Option<u16> },
}

struct SegmentInfo {
    number: u16,
    name: String,
    meaning: String,
    colour: Option<[u8; 3]>,
}

/// US values (all of them) in the data set's byte order.
fn u16s(ds: &DataSet, buf: &[u8], tag: u32) -> Option<Vec<u16>> {
    let b = ds.bytes(buf, tag)?;
    Some(
        b.chunks_exact(2)
            .map(|c| {
                if ds.little {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect(),
    )
}

/// The data set holding `attr` for a frame: per-frame group, shared group, then the root.
fn functional<'a>(
    root: &'a DataSet,
    per_frame: Option<&'a DataSet>,
    shared: Option<&'a DataSet>,
    seq: u32,
    attr: u32,
) -> Option<&'a DataSet> {
    for g in [per_frame, shared].into_iter().flatten() {
        if let Some(item) = g.item(seq)
            && item.get(attr).is_some()
        {
            return Some(item);
        }
    }
    root.get(attr).is_some().then_some(root)
}

/// Position and orientation of one frame.
#[derive(Clone, Copy, Debug)]
struct FramePlane {
    ipp: [f64; 3],
    iop: [f64; 6],
    /// [row spacing, column spacing] (DICOM PixelSpacing order).
    spacing: [f64; 2],
}

fn frame_plane(
    root: &DataSet,
    buf: &[u8],
    pf: Option<&DataSet>,
    sh: Option<&DataSet>,
) -> Result<FramePlane, String> {
    let num = |seq: u32, tag: u32, n: usize, what: &str| -> Result<Vec<f64>, String> {
        let ds = functional(root, pf, sh, seq, tag).ok_or_else(|| format!("{what} is missing"))?;
        match ds.ds(buf, tag) {
            Some(Ok(v)) if v.len() >= n => Ok(v),
            Some(Ok(v)) => Err(format!("{what} has {} values ({n} expected)", v.len())),
            Some(Err(raw)) => Err(format!("{what} is not numeric ({raw:?})")),
            None => Err(format!("{what} is missing")),
        }
    };
    let ipp = num(PLANE_POSITION_SEQ, IPP, 3, "ImagePositionPatient")?;
    let iop = num(PLANE_ORIENTATION_SEQ, IOP, 6, "ImageOrientationPatient")?;
    let ps = num(PIXEL_MEASURES_SEQ, PIXEL_SPACING, 2, "PixelSpacing")?;
    let iop = normalise_iop(&iop).ok_or("ImageOrientationPatient is degenerate")?;
    if !(ps[0] > 0.0 && ps[1] > 0.0 && ps[0].is_finite() && ps[1].is_finite()) {
        return Err(format!("PixelSpacing {:?} is not positive", &ps[..2]));
    }
    // The same plausibility as for CT images (issue 15, `header.rs`): a damaged spacing or
    // position would place the mask somewhere else without a word.
    if !ps[..2].iter().all(|v| SPACING_RANGE_MM.contains(v)) {
        return Err(format!(
            "PixelSpacing {}\\{} mm is outside {}–{} mm (damaged header)",
            fmt_num(ps[0]),
            fmt_num(ps[1]),
            SPACING_RANGE_MM.start(),
            SPACING_RANGE_MM.end()
        ));
    }
    if ipp[..3].iter().any(|v| v.abs() > MAX_POSITION_MM) {
        return Err(format!(
            "ImagePositionPatient {}\\{}\\{} is more than 10 m from the origin (damaged header)",
            fmt_num(ipp[0]),
            fmt_num(ipp[1]),
            fmt_num(ipp[2])
        ));
    }
    Ok(FramePlane {
        ipp: [ipp[0], ipp[1], ipp[2]],
        iop,
        spacing: [ps[0], ps[1]],
    })
}

/// PackBits (RLE Lossless segment) decoding, at most `limit` bytes.
fn packbits(data: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(limit.min(data.len() * 128));
    let mut i = 0;
    while i < data.len() && out.len() < limit {
        let n = data[i] as i8;
        i += 1;
        if n >= 0 {
            let len = n as usize + 1;
            let end = (i + len).min(data.len());
            out.extend_from_slice(&data[i..end]);
            i = end;
        } else if n != -128 {
            let len = 1 - n as isize;
            if let Some(&b) = data.get(i) {
                out.extend(std::iter::repeat_n(b, len as usize));
            }
            i += 1;
        }
    }
    out.truncate(limit);
    out
}

/// One RLE Lossless frame of 1-bit data: a single segment of the bit-packed frame bytes.
fn rle_1bit_frame(data: &[u8], packed_len: usize) -> Result<Vec<u8>, String> {
    let word = |o: usize| -> Option<u32> {
        data.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let nseg = word(0).ok_or("the RLE frame is shorter than its 64-byte header")?;
    if nseg != 1 {
        return Err(format!("the 1-bit RLE frame has {nseg} segments (1 expected)"));
    }
    let start = word(4).unwrap_or(64) as usize;
    let seg = data
        .get(start..)
        .ok_or("the RLE segment offset points past the end of the frame")?;
    // One byte beyond the packed size is tolerated (a segment padded to even length); more
    // means the frame has another shape than Rows × Columns say.
    let mut out = packbits(seg, packed_len + 2);
    if out.len() < packed_len || out.len() > packed_len + 1 {
        return Err(format!(
            "the RLE frame decodes to {}{} bytes but Rows × Columns need {packed_len}: header and pixel data disagree",
            if out.len() > packed_len + 1 {
                "more than "
            } else {
                ""
            },
            out.len().min(packed_len + 1)
        ));
    }
    out.truncate(packed_len);
    Ok(out)
}

fn unpack_bits(packed: &[u8], start_bit: usize, n: usize, out: &mut [u16]) {
    for (p, o) in out.iter_mut().enumerate().take(n) {
        let bit = start_bit + p;
        *o = ((packed[bit >> 3] >> (bit & 7)) & 1) as u16;
    }
}

/// Everything needed to read frame values.
struct PixelSource<'a> {
    p: &'a parse::Parsed,
    rows: usize,
    cols: usize,
    bits: u16,
    n_frames: usize,
    header: ImageHeader,
    big_endian: bool,
    swap_ow: bool,
}

impl PixelSource<'_> {
    /// Values of frame `f` (0/1 for BINARY, raw stored values otherwise) into `out`.
    fn frame(&self, f: usize, out: &mut Vec<u16>, scratch: &mut Vec<u8>) -> Result<(), String> {
        let n = self.rows * self.cols;
        out.clear();
        match &self.p.pixel {
            Some(PixelLoc::Native { off, len, .. }) => {
                let data = self
                    .p
                    .buf
                    .get(*off..off + len)
                    .ok_or("PixelData lies outside the file")?;
                // The size check of `import_seg` bounds n × frames by the bytes in the file.
                out.resize(n, 0);
                match self.bits {
                    1 => {
                        if self.swap_ow {
                            // Explicit VR big endian OW: 16-bit words are byte-swapped.
                            scratch.clear();
                            scratch.extend(data.chunks(2).flat_map(|c| c.iter().rev().copied()));
                            unpack_bits(scratch, f * n, n, out);
                        } else {
                            unpack_bits(data, f * n, n, out);
                        }
                    }
                    8 => {
                        let fr = data.get(f * n..(f + 1) * n).ok_or("PixelData is too short")?;
                        for (o, v) in out.iter_mut().zip(fr) {
                            *o = *v as u16;
                        }
                    }
                    _ => {
                        let fr = data
                            .get(f * n * 2..(f + 1) * n * 2)
                            .ok_or("PixelData is too short")?;
                        for (o, c) in out.iter_mut().zip(fr.chunks_exact(2)) {
                            *o = if self.big_endian {
                                u16::from_be_bytes([c[0], c[1]])
                            } else {
                                u16::from_le_bytes([c[0], c[1]])
                            };
                        }
                    }
                }
                Ok(())
            }
            Some(PixelLoc::Encapsulated {
                offset_table,
                fragments,
            }) => {
                let enc = frame_bytes(&self.p.buf, offset_table, fragments, self.n_frames, f)?;
                let packed_len = n.div_ceil(8);
                // Allocate the frame only once its encoded size makes it plausible (damaged
                // Rows/Columns of 65535 × 65535 would ask for 8 GB per frame).
                check_expansion(&self.header, &self.p.ts, enc.len())?;
                if self.bits == 1 && self.p.ts == TS_RLE {
                    let packed = rle_1bit_frame(&enc, packed_len)?;
                    out.resize(n, 0);
                    unpack_bits(&packed, 0, n, out);
                    return Ok(());
                }
                let mut h = self.header.clone();
                let mut res = decode_encapsulated(&h, &self.p.ts, &enc, scratch);
                if res.is_err() && self.bits == 1 {
                    // Some codecs only accept 8-bit samples; 1-bit SEG codestreams hold 0/1 samples.
                    h.bits_allocated = 8;
                    h.bits_stored = 8;
                    h.high_bit = 7;
                    res = decode_encapsulated(&h, &self.p.ts, &enc, scratch);
                }
                res?;
                out.resize(n, 0);
                match self.bits {
                    1 if scratch.len() == n => {
                        for (o, v) in out.iter_mut().zip(scratch.iter()) {
                            *o = (*v != 0) as u16;
                        }
                    }
                    1 if scratch.len() == packed_len => unpack_bits(scratch, 0, n, out),
                    8 if scratch.len() == n => {
                        for (o, v) in out.iter_mut().zip(scratch.iter()) {
                            *o = *v as u16;
                        }
                    }
                    16 if scratch.len() == 2 * n => {
                        for (o, c) in out.iter_mut().zip(scratch.chunks_exact(2)) {
                            *o = u16::from_le_bytes([c[0], c[1]]);
                        }
                    }
                    _ => {
                        // Exact sizes only: a frame of another shape than Rows × Columns
                        // would paint a different mask without a word.
                        return Err(format!(
                            "the decoder returned {} bytes for frame {} but Columns × Rows = {}×{} at {} bit(s) per pixel need {}: header and pixel data disagree",
                            scratch.len(),
                            f + 1,
                            self.cols,
                            self.rows,
                            self.bits,
                            match self.bits {
                                1 => format!("{n} or {packed_len} bytes"),
                                b => format!("{} bytes", n * (b as usize / 8)),
                            }
                        ));
                    }
                }
                Ok(())
            }
            _ => Err("no readable PixelData".into()),
        }
    }
}

/// How one frame maps onto the CT: target slice and CT (i, j) → frame pixel lookup.
struct Placement {
    k: usize,
    /// Per CT voxel of the slice (row-major): frame pixel index, or `u32::MAX` outside.
    lut: std::sync::Arc<Vec<u32>>,
}

enum PlaceOutcome {
    Placed(Placement),
    Oblique,
    BetweenSlices,
    Outside(f64),
}

type LutKey = [i64; 8];

fn place_frame(
    plane: &FramePlane,
    rows: usize,
    cols: usize,
    ct: &VolumeGeometry,
    cache: &mut BTreeMap<LutKey, std::sync::Arc<Vec<u32>>>,
) -> PlaceOutcome {
    let row_dir = Vector3::new(plane.iop[0], plane.iop[1], plane.iop[2]);
    let col_dir = Vector3::new(plane.iop[3], plane.iop[4], plane.iop[5]);
    let origin = PatientPos::new(plane.ipp[0], plane.ipp[1], plane.ipp[2]);
    let v0 = ct.to_voxel(&origin);
    // CT voxel steps per frame column (c) and per frame row (r).
    let a = ct.to_voxel(&(origin + row_dir * plane.spacing[1])) - v0;
    let b = ct.to_voxel(&(origin + col_dir * plane.spacing[0])) - v0;
    let corners = [
        v0,
        v0 + a * (cols as f64 - 1.0),
        v0 + b * (rows as f64 - 1.0),
        v0 + a * (cols as f64 - 1.0) + b * (rows as f64 - 1.0),
    ];
    let (kmin, kmax) = corners
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v.z), h.max(v.z))
        });
    if !(kmin.is_finite() && kmax.is_finite()) || kmax - kmin > 2.0 * SLICE_TOLERANCE {
        return PlaceOutcome::Oblique;
    }
    let kc = 0.5 * (kmin + kmax);
    let kr = kc.round();
    if (kc - kr).abs() + 0.5 * (kmax - kmin) > SLICE_TOLERANCE {
        return PlaceOutcome::BetweenSlices;
    }
    if kr < 0.0 || kr >= ct.dims[2] as f64 {
        return PlaceOutcome::Outside(origin.z);
    }
    let m = Matrix2::new(a.x, b.x, a.y, b.y);
    let Some(inv) = m.try_inverse() else {
        return PlaceOutcome::Oblique;
    };
    let q = |x: f64| (x * 1e6).round() as i64;
    let key = [
        q(a.x),
        q(a.y),
        q(b.x),
        q(b.y),
        q(v0.x),
        q(v0.y),
        rows as i64,
        cols as i64,
    ];
    let lut = cache
        .entry(key)
        .or_insert_with(|| {
            let [nx, ny, _] = ct.dims;
            let mut lut = vec![u32::MAX; nx * ny];
            // CT bounding box of the frame footprint (half a pixel around the centres).
            let fc = [
                v0.xy() - (a.xy() + b.xy()) * 0.5,
                v0.xy() + a.xy() * (cols as f64 - 0.5) - b.xy() * 0.5,
                v0.xy() - a.xy() * 0.5 + b.xy() * (rows as f64 - 0.5),
                v0.xy() + a.xy() * (cols as f64 - 0.5) + b.xy() * (rows as f64 - 0.5),
            ];
            let lo = |c: usize| {
                fc.iter()
                    .map(|p| p[c])
                    .fold(f64::INFINITY, f64::min)
                    .floor()
                    .max(0.0) as usize
            };
            let hi = |c: usize, n: usize| {
                (fc.iter()
                    .map(|p| p[c])
                    .fold(f64::NEG_INFINITY, f64::max)
                    .ceil()
                    .max(-1.0) as i64)
                    .min(n as i64 - 1)
            };
            let (i0, i1, j0, j1) = (lo(0), hi(0, nx), lo(1), hi(1, ny));
            for j in j0 as i64..=j1 {
                for i in i0 as i64..=i1 {
                    let cr = inv * (Vector2::new(i as f64, j as f64) - v0.xy());
                    let (c, r) = (cr.x.round(), cr.y.round());
                    if c >= 0.0 && r >= 0.0 && (c as usize) < cols && (r as usize) < rows {
                        lut[j as usize * nx + i as usize] = (r as usize * cols + c as usize) as u32;
                    }
                }
            }
            std::sync::Arc::new(lut)
        })
        .clone();
    PlaceOutcome::Placed(Placement { k: kr as usize, lut })
}

/// Import the segments of a DICOM SEG onto the CT grid `ct`. See the module documentation.
pub fn import_seg(
    path: &Path,
    ct: &VolumeGeometry,
    ct_ids: &SeriesIds,
    opts: &ImportOptions,
) -> Result<ImportedStructures, StructureImportError> {
    let (p, sop) = open_structure_object(path, ct, "a DICOM Segmentation (SEG)", |sop, modality| {
        sop == SEG_SOP_CLASS || sop == LABELMAP_SEG_SOP_CLASS || modality == "SEG"
    })?;
    let is_labelmap_sop = sop == LABELMAP_SEG_SOP_CLASS;
    let (ds, buf) = (&p.root, &p.buf[..]);
    let malformed = |reason: String| StructureImportError::Malformed {
        file: path.to_path_buf(),
        reason,
    };
    let mut out = ImportedStructures::default();

    let for_uid = ds.str_or_empty(buf, FOR_UID);
    let fors: Vec<String> = if for_uid.is_empty() {
        Vec::new()
    } else {
        vec![for_uid]
    };
    check_frame_of_reference(path, &fors, ct_ids, opts, &mut out.warnings)?;
    let mut ref_images = Vec::new();
    for se in ds.items(TAG_REF_SERIES_SEQ).unwrap_or(&[]) {
        for im in se.items(TAG_REF_INSTANCE_SEQ).unwrap_or(&[]) {
            let u = im.str_or_empty(buf, TAG_REF_SOP_INSTANCE);
            if !u.is_empty() {
                ref_images.push(u);
            }
        }
    }
    check_references(
        &referenced_series(ds, buf),
        &ref_images,
        ct_ids,
        "SEG",
        &mut out.warnings,
    );

    // Pixel format and segmentation type.
    let rows = ds.u16(buf, ROWS).unwrap_or(0) as usize;
    let cols = ds.u16(buf, COLUMNS).unwrap_or(0) as usize;
    if rows == 0 || cols == 0 {
        return Err(malformed(format!(
            "Rows/Columns are missing or zero ({rows} × {cols})"
        )));
    }
    let bits = ds.u16(buf, BITS_ALLOCATED).unwrap_or(0);
    let seg_type_str = ds.str_or_empty(buf, TAG_SEGMENTATION_TYPE).to_ascii_uppercase();
    let seg_type = if is_labelmap_sop || seg_type_str == "LABELMAP" {
        let padding = ds
            .get(PIXEL_PADDING_VALUE)
            .and_then(|_| ds.u16(buf, PIXEL_PADDING_VALUE));
        SegType::LabelMap { padding }
    } else if seg_type_str == "FRACTIONAL" {
        let max = ds.u16(buf, TAG_MAX_FRACTIONAL).unwrap_or(0);
        if max == 0 {
            return Err(malformed(
                "it is a FRACTIONAL segmentation without a MaximumFractionalValue".into(),
            ));
        }
        SegType::Fractional { max: max as f64 }
    } else {
        if seg_type_str != "BINARY" {
            out.warnings.push(format!(
                "SegmentationType is \"{seg_type_str}\" (BINARY, FRACTIONAL or LABELMAP expected); read as BINARY"
            ));
        }
        SegType::Binary
    };
    let bits_ok = match seg_type {
        SegType::Binary => bits == 1 || bits == 8,
        SegType::Fractional { .. } => bits == 8 || bits == 16,
        SegType::LabelMap { .. } => bits == 8 || bits == 16,
    };
    if !bits_ok {
        return Err(malformed(format!(
            "BitsAllocated {bits} is not valid for a {seg_type_str} segmentation"
        )));
    }
    let n_frames = match ds.is(buf, NUMBER_OF_FRAMES) {
        None => 1usize,
        Some(n) if (1..=1_000_000).contains(&n) => n as usize,
        Some(n) => {
            return Err(malformed(format!(
                "NumberOfFrames {n} is not a sensible frame count"
            )));
        }
    };
    let n = rows * cols;
    match &p.pixel {
        Some(PixelLoc::Native { len, declared, .. }) => {
            let need = if bits == 1 {
                (n * n_frames).div_ceil(8)
            } else {
                n * n_frames * (bits as usize / 8)
            };
            // Exactly what the geometry needs (plus the one pad byte that makes an odd length
            // even): shorter is truncated, longer means Rows/Columns/frames are not what the
            // writer used, and the mask would be painted with the wrong stride.
            let padded = need + need % 2;
            if declared > len || (*len != need && *len != padded) {
                return Err(malformed(format!(
                    "PixelData has {len} bytes but {rows} × {cols} × {n_frames} frames × {bits} bit(s) need {need}: \
                     header and pixel data disagree (the file is truncated or its header is wrong)"
                )));
            }
        }
        Some(PixelLoc::Encapsulated { .. }) => {}
        _ => return Err(malformed("it has no readable PixelData".into())),
    }
    let pixel_vr = ds.get(TAG_PIXEL_DATA).map(|e| e.vr).unwrap_or(*b"OB");
    let big_endian = p.ts == parse::TS_EXPLICIT_BE;
    let header = ImageHeader {
        path: path.to_path_buf(),
        ts: p.ts.clone(),
        sop_class: sop.clone(),
        sop_instance: String::new(),
        modality: "SEG".into(),
        patient_name: String::new(),
        patient_id: String::new(),
        birth_date: String::new(),
        study_date: String::new(),
        study_time: String::new(),
        study_description: String::new(),
        series_description: String::new(),
        institution: String::new(),
        series_number: None,
        instance_number: None,
        study_uid: String::new(),
        series_uid: String::new(),
        for_uid: String::new(),
        rows: rows as u16,
        cols: cols as u16,
        bits_allocated: bits,
        bits_stored: ds.u16(buf, TAG_BITS_STORED).unwrap_or(bits).clamp(1, bits),
        high_bit: ds.u16(buf, TAG_BITS_STORED).unwrap_or(bits).clamp(1, bits) - 1,
        signed: false,
        photometric: "MONOCHROME2".into(),
        multiframe: true,
        padding: None,
        native_offset: None,
        frames: Vec::new(),
        notes: Vec::new(),
        study: Default::default(),
    };
    let src = PixelSource {
        p: &p,
        rows,
        cols,
        bits,
        n_frames,
        header,
        big_endian,
        swap_ow: big_endian && &pixel_vr == b"OW",
    };

    // Segments.
    let mut segments: Vec<SegmentInfo> = Vec::new();
    for s in ds.items(TAG_SEGMENT_SEQ).unwrap_or(&[]) {
        let Some(number) = s.u16(buf, TAG_SEGMENT_NUMBER) else {
            out.warnings
                .push("a segment without a SegmentNumber was ignored".to_string());
            continue;
        };
        let meaning = s
            .item(TAG_PROPERTY_TYPE_SEQ)
            .map(|c| c.str_or_empty(buf, TAG_CODE_MEANING))
            .unwrap_or_default();
        let label = s.str_or_empty(buf, TAG_SEGMENT_LABEL);
        let name = if !label.is_empty() {
            label
        } else if !meaning.is_empty() {
            meaning.clone()
        } else {
            format!("Segment {number}")
        };
        let colour = u16s(s, buf, TAG_CIELAB)
            .filter(|v| v.len() >= 3)
            .map(|v| cielab_to_srgb([v[0], v[1], v[2]]));
        segments.push(SegmentInfo {
            number,
            name,
            meaning,
            colour,
        });
    }
    if segments.is_empty() {
        return Err(malformed(
            "its Segment Sequence (0062,0002) lists no segments".into(),
        ));
    }

    // Frames → CT slices.
    let shared = ds.item(SHARED_FG);
    let per_frame = ds.items(PER_FRAME_FG).unwrap_or(&[]);
    if !per_frame.is_empty() && per_frame.len() != n_frames {
        out.warnings.push(format!(
            "the Per-Frame Functional Groups Sequence has {} items for {n_frames} frames; only frames with an item are used",
            per_frame.len()
        ));
    }
    let mut masks: BTreeMap<u16, Mask> = BTreeMap::new();
    let mut frames_per_segment: BTreeMap<u16, usize> = BTreeMap::new();
    let mut cache = BTreeMap::new();
    let (mut oblique, mut between, mut outside, mut unreadable) = (0usize, 0usize, 0usize, 0usize);
    let mut outside_z: Option<(f64, f64)> = None;
    let mut no_segment = 0usize;
    let mut first_error: Option<String> = None;
    let mut values = Vec::new();
    let mut scratch = Vec::new();
    let mut dense = vec![false; ct.dims[0] * ct.dims[1]];
    let frame_count = if per_frame.is_empty() {
        n_frames
    } else {
        n_frames.min(per_frame.len())
    };
    for f in 0..frame_count {
        let pf = per_frame.get(f);
        let plane = match frame_plane(ds, buf, pf, shared) {
            Ok(pl) => pl,
            Err(e) => {
                unreadable += 1;
                first_error.get_or_insert(format!("frame {}: {e}", f + 1));
                continue;
            }
        };
        // Which segments this frame holds.
        let frame_segments: Vec<u16> = match seg_type {
            SegType::LabelMap { .. } => segments.iter().map(|s| s.number).filter(|n| *n != 0).collect(),
            _ => match functional(ds, pf, shared, TAG_SEGMENT_ID_SEQ, TAG_REF_SEGMENT_NUMBER)
                .and_then(|d| d.u16(buf, TAG_REF_SEGMENT_NUMBER))
            {
                Some(s) => vec![s],
                None => {
                    no_segment += 1;
                    continue;
                }
            },
        };
        let place = match place_frame(&plane, rows, cols, ct, &mut cache) {
            PlaceOutcome::Placed(pl) => pl,
            PlaceOutcome::Oblique => {
                oblique += 1;
                continue;
            }
            PlaceOutcome::BetweenSlices => {
                between += 1;
                continue;
            }
            PlaceOutcome::Outside(z) => {
                outside += 1;
                outside_z = Some(outside_z.map_or((z, z), |(a, b)| (a.min(z), b.max(z))));
                continue;
            }
        };
        if let Err(e) = src.frame(f, &mut values, &mut scratch) {
            unreadable += 1;
            first_error.get_or_insert(format!("frame {}: {e}", f + 1));
            continue;
        }
        for sn in frame_segments {
            let inside = |v: u16| -> bool {
                match seg_type {
                    SegType::Binary => v != 0,
                    SegType::Fractional { max } => v as f64 >= opts.seg_threshold * max,
                    SegType::LabelMap { padding } => v == sn && padding != Some(v),
                }
            };
            let mask = masks.entry(sn).or_insert_with(|| Mask::empty(ct.dims));
            mask.fill_slice_dense(place.k, &mut dense);
            let mut any = false;
            for (d, &px) in dense.iter_mut().zip(place.lut.iter()) {
                if px != u32::MAX && inside(values[px as usize]) {
                    *d = true;
                    any = true;
                }
            }
            if any {
                mask.set_slice_dense(place.k, &dense);
            }
            *frames_per_segment.entry(sn).or_default() += 1;
        }
    }
    if unreadable > 0 {
        out.warnings.push(format!(
            "{unreadable} of {frame_count} frame(s) could not be read and were skipped ({})",
            first_error.unwrap_or_default()
        ));
    }
    if no_segment > 0 {
        out.warnings.push(format!(
            "{no_segment} frame(s) name no segment (Segment Identification Sequence missing) and were skipped"
        ));
    }
    if oblique > 0 {
        out.warnings.push(format!(
            "{oblique} frame(s) are not parallel to the CT slices (oblique) and were skipped"
        ));
    }
    if between > 0 {
        out.warnings.push(format!(
            "{between} frame(s) lie between CT slice planes (more than {:.2} mm from the nearest) and were skipped; \
             the SEG was probably made on another reconstruction",
            SLICE_TOLERANCE * ct.spacing_mm[2]
        ));
    }
    if let Some((a, b)) = outside_z {
        let z0 = ct.to_patient(&Vector3::new(0.0, 0.0, 0.0)).z;
        let z1 = ct.to_patient(&Vector3::new(0.0, 0.0, ct.dims[2] as f64 - 1.0)).z;
        out.warnings.push(format!(
            "{outside} frame(s) lie outside the CT volume (frames at z {a:.1} … {b:.1} mm, CT slices at z {:.1} … {:.1} mm) \
             and were skipped; the CT series may be incomplete",
            z0.min(z1),
            z0.max(z1)
        ));
    }

    let type_label = match seg_type {
        SegType::Binary => "BINARY".to_string(),
        SegType::Fractional { max } => format!("FRACTIONAL, threshold {} of {max}", opts.seg_threshold),
        SegType::LabelMap { .. } => "LABELMAP".to_string(),
    };
    let series_desc = ds.str_or_empty(buf, SERIES_DESC);
    // Recorded in every structure so that importing this object again is recognised.
    let source_uid = ds.str_or_empty(buf, super::header::tags::SOP_INSTANCE);
    let source_label = if series_desc.is_empty() {
        "SEG".to_string()
    } else {
        format!("SEG \"{series_desc}\"")
    };
    for s in segments {
        if s.number == 0 && matches!(seg_type, SegType::LabelMap { .. }) {
            out.skipped_rois
                .push((s.name, "label 0 is the background of the label map".into()));
            continue;
        }
        let frames = frames_per_segment.get(&s.number).copied().unwrap_or(0);
        let Some(mask) = masks.remove(&s.number).filter(|m| !m.is_empty()) else {
            out.skipped_rois.push((
                s.name,
                if frames == 0 {
                    "no frame of this segment could be placed on the CT".into()
                } else {
                    format!("its {frames} frame(s) on the CT are empty")
                },
            ));
            continue;
        };
        let mut kind = kind_from_name(&s.name);
        if kind == StructureKind::Other && !s.meaning.is_empty() {
            kind = kind_from_name(&s.meaning);
        }
        let mut st = Structure::new(
            s.name,
            kind,
            Provenance::Imported {
                file: path.to_path_buf(),
                source_uid: source_uid.clone(),
                source_label: source_label.clone(),
                detail: format!(
                    "SEG{} segment {} ({type_label}, {frames} frame(s){})",
                    if series_desc.is_empty() {
                        String::new()
                    } else {
                        format!(" \"{series_desc}\"")
                    },
                    s.number,
                    if s.meaning.is_empty() {
                        String::new()
                    } else {
                        format!(", {}", s.meaning)
                    }
                ),
            },
            mask,
        );
        if let Some(c) = s.colour {
            st.colour = c;
        }
        out.structures.push(st);
        out.structure_warnings.push(Vec::new());
    }
    for sn in masks.keys() {
        out.warnings.push(format!(
            "frames refer to segment {sn}, which the Segment Sequence does not describe; ignored"
        ));
    }
    if out.structures.is_empty() {
        out.warnings
            .push("no segment of this SEG could be placed on the loaded CT".to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packbits_literal_and_repeat() {
        // 2 literals, then 'x' × 3, then a no-op (-128), then 1 literal.
        let d = [1u8, b'a', b'b', (-2i8) as u8, b'x', 128, 0, b'z'];
        assert_eq!(packbits(&d, 100), b"abxxxz");
        assert_eq!(packbits(&d, 4), b"abxx");
        // Truncated input does not panic.
        assert_eq!(packbits(&[5u8, 1, 2], 100), vec![1, 2]);
        assert!(packbits(&[(-3i8) as u8], 100).is_empty());
    }

    #[test]
    fn bits_run_across_frame_boundaries() {
        // 3 frames of 3 pixels = 9 bits: frame 1 starts at bit 3, frame 2 at bit 6.
        let packed = [0b1011_0101u8, 0b0000_0001];
        let mut out = vec![0u16; 3];
        unpack_bits(&packed, 0, 3, &mut out);
        assert_eq!(out, [1, 0, 1]);
        unpack_bits(&packed, 3, 3, &mut out);
        assert_eq!(out, [0, 1, 1]);
        unpack_bits(&packed, 6, 3, &mut out);
        assert_eq!(out, [0, 1, 1]);
    }

    #[test]
    fn frames_on_a_shifted_flipped_grid_are_resampled() {
        // CT: 10 × 8 × 3, 1 mm; frame: 5 × 4 pixels of 2 mm, rows running towards −y.
        let ct = VolumeGeometry::axis_aligned([10, 8, 3], [1.0, 1.0, 1.0], PatientPos::new(0.0, 0.0, 0.0));
        let plane = FramePlane {
            ipp: [1.0, 7.0, 2.0],
            iop: [1.0, 0.0, 0.0, 0.0, -1.0, 0.0],
            spacing: [2.0, 2.0],
        };
        let mut cache = BTreeMap::new();
        let PlaceOutcome::Placed(pl) = place_frame(&plane, 4, 5, &ct, &mut cache) else {
            panic!("not placed")
        };
        assert_eq!(pl.k, 2);
        // CT voxel (1, 7) is frame pixel (c 0, r 0); (3, 5) is (c 1, r 1); (9, 1) is (c 4, r 3).
        assert_eq!(pl.lut[7 * 10 + 1], 0);
        assert_eq!(pl.lut[5 * 10 + 3], 5 + 1);
        assert_eq!(pl.lut[10 + 9], (3 * 5 + 4) as u32);
        // Beyond the footprint.
        assert_eq!(pl.lut[0], u32::MAX);
        // A frame half-way between slices, an oblique one and one outside.
        let mid = FramePlane {
            ipp: [0.0, 0.0, 1.5],
            ..plane
        };
        assert!(matches!(
            place_frame(&mid, 4, 5, &ct, &mut cache),
            PlaceOutcome::BetweenSlices
        ));
        let tilted = FramePlane {
            iop: [0.8, 0.0, 0.6, 0.0, 1.0, 0.0],
            ..plane
        };
        assert!(matches!(
            place_frame(&tilted, 4, 5, &ct, &mut cache),
            PlaceOutcome::Oblique
        ));
        let far = FramePlane {
            ipp: [0.0, 0.0, 40.0],
            ..plane
        };
        assert!(matches!(
            place_frame(&far, 4, 5, &ct, &mut cache),
            PlaceOutcome::Outside(_)
        ));
    }
}
