//! One frame → HU. Native pixel data is converted straight from the file bytes; encapsulated
//! frames are handed to the codecs of `dicom-transfer-syntax-registry` one frame at a time
//! (through a small [`PixelDataObject`] view), inside `catch_unwind`, so a codec panic becomes a
//! skipped-file reason.
//!
//! Not on the registry: JPEG-LS is decoded in pure Rust ([`super::jpegls`]); the JPEG syntaxes
//! jpeg-decoder cannot read (12-bit JPEG Extended .4.51, the retired spectral selection .4.53
//! and progressive .4.55) go to GDCM when the build has the `c-codecs` feature and are refused
//! with a message naming it otherwise ([`super::c_codecs`]); everything else stays on the
//! registry codecs.

use std::borrow::Cow;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use dicom_encoding::Codec;
use dicom_encoding::adapters::{PixelDataObject, RawPixelData};
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::c_codecs;
use super::guard::catch_quiet;
use super::header::{ImageHeader, ts_name};
use super::jpegls::decode_jpeg_ls;
use super::parse::{self, MAX_BYTES, Parsed, PixelLoc};

/// HU written for padding voxels (PixelPaddingValue / range): air.
pub const PADDING_HU: i16 = -1024;

/// How stored values are laid out.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PixelFormat {
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub high_bit: u16,
    pub signed: bool,
    pub big_endian: bool,
}

/// Stored value → HU.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HuMap {
    pub slope: f64,
    pub intercept: f64,
    /// Inclusive range of stored values that are padding.
    pub padding: Option<(i64, i64)>,
}

fn advice(uid: &str) -> String {
    format!(
        "{} ({uid}) cannot be decoded by the built-in decoder; convert with e.g. `dcmdjpeg` or `gdcmconv --raw`",
        ts_name(uid)
    )
}

/// Can pixel data in `ts` be decoded here? The error names the transfer syntax and what to do.
pub fn check_decodable(ts: &str, bits_stored: u16, bits_allocated: u16) -> Result<(), String> {
    match ts {
        parse::TS_IMPLICIT_LE | parse::TS_EXPLICIT_LE | parse::TS_EXPLICIT_BE | parse::TS_DEFLATED => {
            return Ok(());
        }
        _ => {}
    }
    if ts == TS_JLS_LOSSLESS || ts == TS_JLS_NEAR {
        return Ok(());
    }
    if c_codecs::needs_c_codecs(ts, bits_stored, bits_allocated) {
        return if c_codecs::ENABLED {
            Ok(())
        } else {
            Err(c_codecs::missing_message(ts))
        };
    }
    match TransferSyntaxRegistry.get(ts) {
        Some(t) => match t.codec() {
            Codec::EncapsulatedPixelData(Some(_), _) | Codec::None => Ok(()),
            _ => Err(advice(ts)),
        },
        None => Err(format!(
            "unknown transfer syntax {ts:?}: the pixel data cannot be decoded; convert with e.g. `gdcmconv --raw`"
        )),
    }
}

/// Convert one frame of native little/big-endian stored values to HU. Returns the number of
/// padding voxels. `raw` must hold at least `dst.len()` samples.
pub fn to_hu(raw: &[u8], fmt: &PixelFormat, map: &HuMap, dst: &mut [i16]) -> Result<usize, String> {
    to_hu_counted(raw, fmt, map, dst).map(|c| c.padded)
}

/// What converting one frame found: padding voxels, and voxels whose HU after rescale lies
/// outside what an i16 volume holds (−32768 … 32767) and were clipped.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FrameCounts {
    pub padded: usize,
    pub clipped: usize,
}

/// [`to_hu`] that also counts clipped voxels.
pub fn to_hu_counted(
    raw: &[u8],
    fmt: &PixelFormat,
    map: &HuMap,
    dst: &mut [i16],
) -> Result<FrameCounts, String> {
    let bytes = (fmt.bits_allocated / 8) as usize;
    let need = dst.len() * bytes;
    if raw.len() < need {
        return Err(format!("frame has {} bytes, {need} expected", raw.len()));
    }
    let bs = fmt.bits_stored.clamp(1, fmt.bits_allocated) as u32;
    let shift = (fmt.high_bit as u32 + 1).saturating_sub(bs);
    if bytes == 2
        && !fmt.big_endian
        && shift == 0
        && map.slope == 1.0
        && map.intercept.fract() == 0.0
        && map.intercept.abs() < 65536.0
    {
        return Ok(to_hu_16le_int(
            raw,
            bs,
            fmt.signed,
            map.intercept as i32,
            map.padding,
            dst,
        ));
    }
    let mut clipped = 0usize;
    let mask: u64 = if bs >= 64 { u64::MAX } else { (1u64 << bs) - 1 };
    let sign_bit = 1u64 << (bs - 1);
    let signed = fmt.signed;
    let stored = move |v: u64| -> i64 {
        let v = (v >> shift) & mask;
        if signed && v & sign_bit != 0 {
            v as i64 - (1i64 << bs)
        } else {
            v as i64
        }
    };
    let int_path = map.slope == 1.0 && map.intercept.fract() == 0.0 && map.intercept.abs() < 1e9;
    let icpt = map.intercept as i64;
    let (plo, phi) = map.padding.unwrap_or((1, 0));
    let mut padded = 0usize;
    let mut convert = |v: i64| -> i16 {
        if v >= plo && v <= phi {
            padded += 1;
            return PADDING_HU;
        }
        if int_path {
            let h = v + icpt;
            clipped += usize::from(h < i16::MIN as i64 || h > i16::MAX as i64);
            h.clamp(i16::MIN as i64, i16::MAX as i64) as i16
        } else {
            let h = (v as f64 * map.slope + map.intercept).round();
            // NaN (0 × inf) counts as clipped too; `as` maps it to 0.
            clipped += usize::from(!(h >= i16::MIN as f64 && h <= i16::MAX as f64));
            h.clamp(i16::MIN as f64, i16::MAX as f64) as i16
        }
    };
    match bytes {
        1 => {
            for (d, b) in dst.iter_mut().zip(raw) {
                *d = convert(stored(*b as u64));
            }
        }
        2 => {
            let chunks = raw.chunks_exact(2);
            if fmt.big_endian {
                for (d, b) in dst.iter_mut().zip(chunks) {
                    *d = convert(stored(u16::from_be_bytes([b[0], b[1]]) as u64));
                }
            } else {
                for (d, b) in dst.iter_mut().zip(chunks) {
                    *d = convert(stored(u16::from_le_bytes([b[0], b[1]]) as u64));
                }
            }
        }
        4 => {
            for (d, b) in dst.iter_mut().zip(raw.chunks_exact(4)) {
                let a = [b[0], b[1], b[2], b[3]];
                let v = if fmt.big_endian {
                    u32::from_be_bytes(a)
                } else {
                    u32::from_le_bytes(a)
                };
                *d = convert(stored(v as u64));
            }
        }
        _ => return Err(format!("BitsAllocated {} is not supported", fmt.bits_allocated)),
    }
    Ok(FrameCounts { padded, clipped })
}

/// Fast path (most CT): 16-bit little endian, integer intercept, slope 1. Written as simple
/// loops without data-dependent control flow so the compiler vectorises them.
fn to_hu_16le_int(
    raw: &[u8],
    bs: u32,
    signed: bool,
    icpt: i32,
    padding: Option<(i64, i64)>,
    dst: &mut [i16],
) -> FrameCounts {
    let up = 32 - bs; // shift that puts the stored sign bit at bit 31
    let mask = if bs >= 16 { 0xFFFFu32 } else { (1u32 << bs) - 1 };
    let stored = |b: &[u8]| -> i32 {
        let v = u16::from_le_bytes([b[0], b[1]]) as u32;
        if signed {
            ((v << up) as i32) >> up
        } else {
            (v & mask) as i32
        }
    };
    let mut clipped = 0usize;
    for (d, b) in dst.iter_mut().zip(raw.chunks_exact(2)) {
        let h = stored(b) + icpt;
        let c = h.clamp(i16::MIN as i32, i16::MAX as i32);
        clipped += usize::from(c != h);
        *d = c as i16;
    }
    let Some((lo, hi)) = padding else {
        return FrameCounts { padded: 0, clipped };
    };
    let (lo, hi) = (
        lo.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
        hi.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
    );
    let mut n = 0usize;
    for (d, b) in dst.iter_mut().zip(raw.chunks_exact(2)) {
        let v = stored(b);
        let pad = v >= lo && v <= hi;
        n += pad as usize;
        *d = if pad { PADDING_HU } else { *d };
    }
    // A padding voxel whose rescaled value clipped is counted in both (rare, harmless).
    FrameCounts { padded: n, clipped }
}

/// One encoded frame presented to a registry codec as a single-frame object.
struct FrameView<'a> {
    ts: &'a str,
    h: &'a ImageHeader,
    data: &'a [u8],
}

impl PixelDataObject for FrameView<'_> {
    fn transfer_syntax_uid(&self) -> &str {
        self.ts
    }
    fn rows(&self) -> Option<u16> {
        Some(self.h.rows)
    }
    fn cols(&self) -> Option<u16> {
        Some(self.h.cols)
    }
    fn samples_per_pixel(&self) -> Option<u16> {
        Some(1)
    }
    fn bits_allocated(&self) -> Option<u16> {
        Some(self.h.bits_allocated)
    }
    fn bits_stored(&self) -> Option<u16> {
        Some(self.h.bits_stored)
    }
    fn photometric_interpretation(&self) -> Option<&str> {
        Some(if self.h.photometric.is_empty() {
            "MONOCHROME2"
        } else {
            &self.h.photometric
        })
    }
    fn number_of_frames(&self) -> Option<u32> {
        Some(1)
    }
    fn number_of_fragments(&self) -> Option<u32> {
        Some(1)
    }
    fn fragment(&self, fragment: usize) -> Option<Cow<'_, [u8]>> {
        (fragment == 0).then_some(Cow::Borrowed(self.data))
    }
    fn offset_table(&self) -> Option<Cow<'_, [u32]>> {
        Some(Cow::Owned(Vec::new()))
    }
    fn raw_pixel_data(&self) -> Option<RawPixelData> {
        let mut fragments = dicom_core::value::C::new();
        fragments.push(self.data.to_vec());
        Some(RawPixelData {
            fragments,
            offset_table: dicom_core::value::C::new(),
        })
    }
}

fn starts_frame(d: &[u8]) -> bool {
    d.starts_with(&[0xFF, 0xD8])
        || d.starts_with(&[0xFF, 0x4F, 0xFF, 0x51])
        || d.starts_with(&[0, 0, 0, 0x0C, 0x6A, 0x50])
}

/// The encoded bytes of one frame of encapsulated pixel data.
pub fn frame_bytes<'a>(
    buf: &'a [u8],
    offset_table: &[u32],
    fragments: &[(usize, usize)],
    n_frames: usize,
    frame: usize,
) -> Result<Cow<'a, [u8]>, String> {
    let frag = |i: usize| -> Result<&'a [u8], String> {
        let (o, l) = fragments.get(i).copied().ok_or("missing fragment")?;
        buf.get(o..o + l)
            .ok_or_else(|| "fragment outside the file".to_string())
    };
    let concat = |idx: &mut dyn Iterator<Item = usize>| -> Result<Cow<'a, [u8]>, String> {
        let idx: Vec<usize> = idx.collect();
        if idx.len() == 1 {
            return Ok(Cow::Borrowed(frag(idx[0])?));
        }
        let mut v = Vec::new();
        for i in idx {
            v.extend_from_slice(frag(i)?);
        }
        Ok(Cow::Owned(v))
    };
    if fragments.is_empty() {
        return Err("encapsulated pixel data has no fragments".into());
    }
    if n_frames == 1 {
        return concat(&mut (0..fragments.len()));
    }
    if fragments.len() == n_frames {
        return Ok(Cow::Borrowed(frag(frame)?));
    }
    if offset_table.len() >= n_frames {
        // Offsets count from the first fragment item (item headers are 8 bytes).
        let mut pos = 0u64;
        let start = offset_table[frame] as u64;
        let end = offset_table.get(frame + 1).map(|e| *e as u64).unwrap_or(u64::MAX);
        let mut sel = Vec::new();
        for (i, (_, l)) in fragments.iter().enumerate() {
            if pos >= start && pos < end {
                sel.push(i);
            }
            pos += 8 + *l as u64;
        }
        if sel.is_empty() {
            return Err(format!(
                "the offset table has no fragments for frame {}",
                frame + 1
            ));
        }
        return concat(&mut sel.into_iter());
    }
    // No usable offset table: split at fragments that start a new codestream.
    let mut starts = Vec::new();
    for i in 0..fragments.len() {
        if starts_frame(frag(i)?) {
            starts.push(i);
        }
    }
    if starts.len() == n_frames && starts.first() == Some(&0) {
        let s = starts[frame];
        let e = starts.get(frame + 1).copied().unwrap_or(fragments.len());
        return concat(&mut (s..e));
    }
    Err(format!(
        "cannot tell which of the {} fragments belong to which of the {n_frames} frames (empty offset table)",
        fragments.len()
    ))
}

/// RLE Lossless transfer syntax.
pub const TS_RLE: &str = "1.2.840.10008.1.2.5";

/// Check the 64-byte header of an RLE Lossless frame (PS3.5 G.3.1) before the registry decoder
/// sees it: the number of segments must be what one greyscale sample needs (1 for 8-bit, 2 for
/// 16-bit data, never more than 15), and the offsets must be ascending and inside the fragment.
///
/// Upstream defect (dicom-transfer-syntax-registry 0.10.1, `adapters/rle_lossless.rs`,
/// `read_rle_header`): it allocates `vec![0u32; nr_segments]` from the first word of the fragment
/// before looking at anything else, so a damaged count (up to 2³² − 1) asks for up to 17 GB and
/// aborts the process under a memory limit (allocation failure is not a panic, so
/// `catch_unwind` cannot help); it also slices `fragment[0..4]` and `fragment[4..4 * (n + 1)]`
/// without length checks (a panic on fragments shorter than the header). To be reported upstream
/// as: "RleLosslessAdapter::decode_frame trusts the segment count of the RLE header; validate
/// it against SamplesPerPixel × BitsAllocated / 8 (≤ 15) and the fragment length before
/// allocating".
///
/// Each segment must also decode to Rows × Columns bytes (one more is tolerated: a pad byte):
/// the registry decoder silently stops at Rows × Columns, so a frame of twice the rows would
/// otherwise load as its first half.
pub fn check_rle_header(data: &[u8], bits_allocated: u16, pixels: usize) -> Result<(), String> {
    const HEADER: usize = 64;
    let samples = 1usize; // colour images are refused by the header reader
    let expected = samples * (bits_allocated as usize / 8);
    let word = |i: usize| -> Option<u32> {
        data.get(4 * i..4 * i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if data.len() < HEADER {
        return Err(format!(
            "the RLE frame has {} bytes, less than its 64-byte header (damaged or truncated)",
            data.len()
        ));
    }
    let n = word(0).unwrap_or(0) as usize;
    if n != expected || n > 15 {
        return Err(format!(
            "the RLE header declares {n} segment(s) but {bits_allocated}-bit greyscale data has {expected} (damaged RLE header)"
        ));
    }
    let mut prev = HEADER;
    for i in 1..=n {
        let off = word(i).unwrap_or(0) as usize;
        let first_ok = i > 1 || off == HEADER;
        if !first_ok || off < prev || off > data.len() {
            return Err(format!(
                "RLE segment {i} starts at byte {off}, outside the {}-byte frame or before the previous segment (damaged RLE header)",
                data.len()
            ));
        }
        prev = off;
    }
    for i in 1..=n {
        let start = word(i).unwrap_or(0) as usize;
        let end = if i < n {
            word(i + 1).unwrap_or(0) as usize
        } else {
            data.len()
        };
        let seg = data.get(start..end).unwrap_or_default();
        let len = packbits_len(seg);
        if len < pixels || len > pixels + 1 {
            return Err(format!(
                "RLE segment {i} decodes to {len} bytes but Rows × Columns = {pixels}: header and pixel data disagree"
            ));
        }
    }
    Ok(())
}

/// Decoded length of a PackBits segment, without decoding it (literal runs count only the
/// bytes that are present).
fn packbits_len(seg: &[u8]) -> usize {
    let (mut i, mut n) = (0usize, 0usize);
    while i < seg.len() {
        let c = seg[i] as i8;
        i += 1;
        if c >= 0 {
            let l = (c as usize + 1).min(seg.len() - i);
            n += l;
            i += l;
        } else if c != -128 {
            if i < seg.len() {
                n += (1 - c as isize) as usize;
            }
            i += 1;
        }
    }
    n
}

/// Width, height and component count a JPEG / JPEG-LS (SOFn, SOF55) or JPEG 2000 (SIZ)
/// codestream declares, read from its first marker segments; `None` when the stream is not
/// one of these or does not say (e.g. a JP2 box file, or a JPEG whose height comes later in a
/// DNL marker).
pub fn codestream_size(data: &[u8]) -> Option<(u32, u32, u32)> {
    let be16 = |o: usize| {
        data.get(o..o + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as u32)
    };
    let be32 = |o: usize| {
        data.get(o..o + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    if data.starts_with(&[0xFF, 0x4F, 0xFF, 0x51]) {
        // J2K: SOC, SIZ: Lsiz(2) Rsiz(2) Xsiz(4) Ysiz(4) XOsiz(4) YOsiz(4) … Csiz(2) at 40.
        let (x, y, xo, yo) = (be32(8)?, be32(12)?, be32(16)?, be32(20)?);
        let c = be16(40)?;
        return Some((x.checked_sub(xo)?, y.checked_sub(yo)?, c));
    }
    if !data.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut pos = 2usize;
    // A bounded walk over marker segments up to the first SOF / SOS.
    for _ in 0..64 {
        if *data.get(pos)? != 0xFF {
            return None;
        }
        let m = *data.get(pos + 1)?;
        match m {
            0xFF => pos += 1, // fill byte
            0x01 | 0xD0..=0xD7 => pos += 2,
            0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xF7 => {
                // SOFn / SOF55: Lf(2) P(1) Y(2) X(2) Nf(1)
                let y = be16(pos + 5)?;
                let x = be16(pos + 7)?;
                let nf = *data.get(pos + 9)? as u32;
                return Some((x, y, nf));
            }
            0xDA | 0xD9 => return None,
            _ => pos += 2 + be16(pos + 2)? as usize,
        }
    }
    None
}

/// Refuse a codestream whose own header disagrees with Rows × Columns before decoding it: the
/// decoder would allocate what the codestream says (a damaged size is a memory bomb) and return
/// an image of another shape.
fn check_codestream_size(h: &ImageHeader, ts: &str, data: &[u8]) -> Result<(), String> {
    let Some((w, hgt, comps)) = codestream_size(data) else {
        return Ok(());
    };
    // Height 0 is legal in JPEG (given later by a DNL marker): compare the width only.
    let rows_ok = hgt == 0 || hgt == u32::from(h.rows);
    if w != u32::from(h.cols) || !rows_ok || comps != 1 {
        return Err(format!(
            "the {} codestream is {w}×{hgt} with {comps} component(s) but Columns × Rows = {}×{} with 1 sample per pixel: header and pixel data disagree",
            ts_name(ts),
            h.cols,
            h.rows
        ));
    }
    Ok(())
}

const TS_JLS_LOSSLESS: &str = "1.2.840.10008.1.2.4.80";
const TS_JLS_NEAR: &str = "1.2.840.10008.1.2.4.81";

/// Frames up to this decoded size are decoded whatever their encoded size.
pub const EXPANSION_FLOOR_BYTES: usize = 64 << 20;
/// Above the floor, a frame may decode to at most this many times its encoded size. Lossless
/// CT compresses 2–4×, lossy JPEG 2000 rarely beyond 100×; only near-empty frames compress
/// further, and those are small (a blank 512 × 512 frame is 0.5 MB, under the floor).
pub const MAX_EXPANSION: usize = 2000;

/// Refuse a frame whose decoded size (from Rows × Columns × bytes) is implausibly large for the
/// bytes that encode it, before a decoder allocates it: a few damaged header bytes must not
/// make a small file ask for gigabytes.
pub fn check_expansion(h: &ImageHeader, ts: &str, encoded: usize) -> Result<(), String> {
    let bytes = (h.bits_allocated as usize).div_ceil(8).max(1);
    let decoded = h.rows as usize * h.cols as usize * bytes;
    if decoded > EXPANSION_FLOOR_BYTES && decoded / MAX_EXPANSION > encoded {
        return Err(format!(
            "a {}×{} frame ({decoded} bytes) cannot be encoded in {encoded} bytes of {}: Rows/Columns are damaged",
            h.cols,
            h.rows,
            ts_name(ts)
        ));
    }
    Ok(())
}

/// A JPEG-LS stream must end with its end-of-image marker (fragments may add a zero pad byte).
/// A truncated stream is damaged, so it is refused before a decoder sees it (CharLS 2.4.5 spent
/// seconds of CPU per 8 × 8 frame on such streams; pure_jpegls fails at once, but the check
/// names the damage in plain words).
fn check_jpeg_ls_end(data: &[u8]) -> Result<(), String> {
    let end = data.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    if end < 4 || data[end - 2..end] != [0xFF, 0xD9] {
        return Err("the JPEG-LS stream has no end-of-image marker (truncated or damaged frame)".into());
    }
    Ok(())
}

/// Decode an encapsulated frame into native little-endian sample bytes.
/// Also used by SEG import (`seg.rs`) for encapsulated segmentation frames.
pub fn decode_encapsulated(h: &ImageHeader, ts: &str, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    check_decodable(ts, h.bits_stored, h.bits_allocated)?;
    check_codestream_size(h, ts, data)?;
    check_expansion(h, ts, data.len())?;
    if ts == TS_JLS_LOSSLESS || ts == TS_JLS_NEAR {
        check_jpeg_ls_end(data)?;
    }
    if ts == TS_JLS_LOSSLESS || ts == TS_JLS_NEAR {
        return decode_jpeg_ls(data, h.cols, h.rows, h.bits_allocated, out)
            .map_err(|e| format!("{} decoder failed: {e}", ts_name(ts)));
    }
    if c_codecs::needs_c_codecs(ts, h.bits_stored, h.bits_allocated) {
        return c_codecs::decode(h, ts, data, out);
    }
    let t = TransferSyntaxRegistry.get(ts).ok_or_else(|| advice(ts))?;
    let Codec::EncapsulatedPixelData(Some(reader), _) = t.codec() else {
        return Err(advice(ts));
    };
    if ts == TS_RLE {
        check_rle_header(data, h.bits_allocated, h.rows as usize * h.cols as usize)?;
    }
    let view = FrameView { ts, h, data };
    out.clear();
    let res = catch_quiet(|| reader.decode_frame(&view, 0, out));
    match res {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            let mut msg = format!("{e}");
            let mut src = std::error::Error::source(&e);
            while let Some(s) = src {
                msg.push_str(&format!(": {s}"));
                src = s.source();
            }
            if (ts == "1.2.840.10008.1.2.4.51" || ts == "1.2.840.10008.1.2.4.50") && msg.contains("precision")
            {
                // A 12-bit stream in a file whose header says 8 bits.
                return Err(if c_codecs::ENABLED {
                    advice(ts)
                } else {
                    c_codecs::missing_message(ts)
                });
            }
            Err(format!("{} decoder failed: {msg}", ts_name(ts)))
        }
        Err(m) => Err(format!("the {} decoder crashed on this file ({m})", ts_name(ts))),
    }
}

fn pixel_format(h: &ImageHeader, big_endian: bool) -> PixelFormat {
    PixelFormat {
        bits_allocated: h.bits_allocated,
        bits_stored: h.bits_stored,
        high_bit: h.high_bit,
        signed: h.signed,
        big_endian,
    }
}

pub fn hu_map(h: &ImageHeader, frame: usize) -> HuMap {
    let f = &h.frames[frame.min(h.frames.len().saturating_sub(1))];
    HuMap {
        slope: f.slope,
        intercept: f.intercept,
        padding: h.padding,
    }
}

/// Read the bytes of one native frame straight from the file (no full parse).
pub fn read_native_frame(
    path: &Path,
    pixel_off: usize,
    frame_len: usize,
    frame: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let start = pixel_off as u64 + (frame as u64) * frame_len as u64;
    let file_len = f.metadata().map_err(|e| e.to_string())?.len();
    if start + frame_len as u64 > file_len {
        return Err(format!(
            "truncated: frame {} ends after the end of the file",
            frame + 1
        ));
    }
    if frame_len > MAX_BYTES {
        return Err("frame larger than 2 GiB".into());
    }
    f.seek(SeekFrom::Start(start)).map_err(|e| e.to_string())?;
    out.resize(frame_len, 0);
    f.read_exact(out).map_err(|e| format!("read error: {e}"))
}

/// Decode frame `frame` of a fully parsed file to HU into `dst`; returns padding voxel count.
pub fn decode_parsed_frame(
    h: &ImageHeader,
    p: &Parsed,
    frame: usize,
    dst: &mut [i16],
    scratch: &mut Vec<u8>,
) -> Result<FrameCounts, String> {
    let n = h.rows as usize * h.cols as usize;
    if dst.len() != n {
        return Err("internal: output slice has the wrong size".into());
    }
    let fb = h.frame_bytes();
    match &p.pixel {
        Some(PixelLoc::Native { off, len, .. }) => {
            let start = frame * fb;
            if start + fb > *len {
                return Err(format!("PixelData is too short for frame {}", frame + 1));
            }
            let raw = &p.buf[off + start..off + start + fb];
            to_hu_counted(
                raw,
                &pixel_format(h, p.ts == parse::TS_EXPLICIT_BE),
                &hu_map(h, frame),
                dst,
            )
        }
        Some(PixelLoc::Encapsulated {
            offset_table,
            fragments,
        }) => {
            let data = frame_bytes(&p.buf, offset_table, fragments, h.frames.len(), frame)?;
            decode_encapsulated(h, &p.ts, &data, scratch)?;
            // Exactly the header's size: more bytes mean the image has another shape than
            // Rows × Columns say (e.g. a codestream of twice the rows), never "extra" data.
            if scratch.len() != fb {
                return Err(format!(
                    "the {} decoder returned {} bytes for frame {} but Columns × Rows × bytes = {}×{}×{} = {} bytes: header and pixel data disagree",
                    ts_name(&p.ts),
                    scratch.len(),
                    frame + 1,
                    h.cols,
                    h.rows,
                    h.bits_allocated / 8,
                    fb
                ));
            }
            to_hu_counted(scratch, &pixel_format(h, false), &hu_map(h, frame), dst)
        }
        _ => Err("no pixel data".into()),
    }
}

/// Decode one frame of an image file to HU. Uses the fast native path when the pixel data
/// offset is known from the header read; otherwise reads and parses the whole file.
pub fn decode_frame(
    h: &ImageHeader,
    native_offset: Option<usize>,
    preloaded: Option<&Parsed>,
    frame: usize,
    dst: &mut [i16],
    scratch: &mut Vec<u8>,
) -> Result<FrameCounts, String> {
    if let Some(p) = preloaded {
        return decode_parsed_frame(h, p, frame, dst, scratch);
    }
    if let Some(off) = native_offset {
        read_native_frame(&h.path, off, h.frame_bytes(), frame, scratch)?;
        let raw = std::mem::take(scratch);
        let r = to_hu_counted(
            &raw,
            &pixel_format(h, h.ts == parse::TS_EXPLICIT_BE),
            &hu_map(h, frame),
            dst,
        );
        *scratch = raw;
        return r;
    }
    let p = parse::read_full(&h.path)?;
    decode_parsed_frame(h, &p, frame, dst, scratch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt16(bs: u16, signed: bool) -> PixelFormat {
        PixelFormat {
            bits_allocated: 16,
            bits_stored: bs,
            high_bit: bs - 1,
            signed,
            big_endian: false,
        }
    }

    #[test]
    fn rescale_unsigned_12_bit_masks_high_bits() {
        // 0xF123: high nibble is garbage outside BitsStored 12 -> stored 0x123 = 291.
        let raw = 0xF123u16.to_le_bytes();
        let mut out = [0i16; 1];
        let map = HuMap {
            slope: 1.0,
            intercept: -1000.0,
            padding: None,
        };
        to_hu(&raw, &fmt16(12, false), &map, &mut out).unwrap();
        assert_eq!(out[0], 291 - 1000);
    }

    #[test]
    fn signed_12_bit_sign_extends() {
        let raw = 0x0FFFu16.to_le_bytes(); // -1 in 12-bit two's complement
        let mut out = [0i16; 1];
        let map = HuMap {
            slope: 1.0,
            intercept: 0.0,
            padding: None,
        };
        to_hu(&raw, &fmt16(12, true), &map, &mut out).unwrap();
        assert_eq!(out[0], -1);
    }

    #[test]
    fn slope_rounds_and_saturates() {
        let vals: Vec<u8> = [100u16, 40000].iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut out = [0i16; 2];
        let map = HuMap {
            slope: 2.5,
            intercept: -1024.0,
            padding: None,
        };
        to_hu(&vals, &fmt16(16, false), &map, &mut out).unwrap();
        assert_eq!(out, [-774, i16::MAX]);
    }

    #[test]
    fn padding_value_and_range_become_air() {
        let vals: Vec<u8> = [-2000i16, -1500, -1000, 50]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let mut out = [0i16; 4];
        let map = HuMap {
            slope: 1.0,
            intercept: -1024.0,
            padding: Some((-2000, -1500)),
        };
        let n = to_hu(&vals, &fmt16(16, true), &map, &mut out).unwrap();
        assert_eq!(n, 2);
        assert_eq!(out, [PADDING_HU, PADDING_HU, -2024, -974]);
    }

    #[test]
    fn big_endian_and_8_bit() {
        let mut out = [0i16; 2];
        let map = HuMap {
            slope: 1.0,
            intercept: 0.0,
            padding: None,
        };
        let mut f = fmt16(16, false);
        f.big_endian = true;
        to_hu(&[0x01, 0x02, 0x00, 0x05], &f, &map, &mut out).unwrap();
        assert_eq!(out, [0x0102, 5]);
        let f8 = PixelFormat {
            bits_allocated: 8,
            bits_stored: 8,
            high_bit: 7,
            signed: false,
            big_endian: false,
        };
        to_hu(&[200, 7], &f8, &map, &mut out).unwrap();
        assert_eq!(out, [200, 7]);
    }

    #[test]
    fn short_buffer_is_an_error() {
        let mut out = [0i16; 4];
        let map = HuMap {
            slope: 1.0,
            intercept: 0.0,
            padding: None,
        };
        assert!(to_hu(&[0, 0], &fmt16(16, false), &map, &mut out).is_err());
    }

    #[test]
    fn rle_header_is_checked_before_the_decoder() {
        // 2 segments of 4 literal bytes each for a 2 × 2 16-bit frame.
        let mut f = vec![0u8; 64];
        f[0..4].copy_from_slice(&2u32.to_le_bytes());
        f[4..8].copy_from_slice(&64u32.to_le_bytes());
        f[8..12].copy_from_slice(&70u32.to_le_bytes());
        f.extend_from_slice(&[3, 1, 2, 3, 4, 0x80, 3, 5, 6, 7, 8, 0x80]);
        assert!(check_rle_header(&f, 16, 4).is_ok());
        assert!(
            check_rle_header(&f, 16, 2)
                .unwrap_err()
                .contains("decodes to 4 bytes")
        );
        let mut bad = f.clone();
        bad[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(
            check_rle_header(&bad, 16, 4)
                .unwrap_err()
                .contains("4294967295 segment")
        );
        let mut bad = f.clone();
        bad[8..12].copy_from_slice(&60u32.to_le_bytes());
        assert!(check_rle_header(&bad, 16, 4).unwrap_err().contains("segment 2"));
        assert!(
            check_rle_header(&f[..10], 16, 4)
                .unwrap_err()
                .contains("64-byte header")
        );
        assert_eq!(packbits_len(&[0xFE, 9]), 3);
        assert_eq!(packbits_len(&[5, 1]), 1);
    }

    #[test]
    fn codestream_sizes_are_read_from_jpeg_ls_and_j2k_headers() {
        let jls = [0xFF, 0xD8, 0xFF, 0xF7, 0, 11, 16, 0, 16, 0, 8, 1, 1, 0x11, 0];
        assert_eq!(codestream_size(&jls), Some((8, 16, 1)));
        let mut j2k = vec![0xFF, 0x4F, 0xFF, 0x51, 0, 41, 0, 0];
        for x in [8u32, 16, 0, 0, 8, 16, 0, 0] {
            j2k.extend_from_slice(&x.to_be_bytes());
        }
        j2k.extend_from_slice(&[0, 1]);
        assert_eq!(codestream_size(&j2k), Some((8, 16, 1)));
        assert_eq!(codestream_size(&[0xFF, 0xD8, 0xFF]), None);
        assert!(check_jpeg_ls_end(&[0xFF, 0xD8, 0xFF, 0xD9, 0]).is_ok());
        assert!(check_jpeg_ls_end(&[0xFF, 0xD8, 0xFF, 0xDA, 1, 2]).is_err());
    }

    #[test]
    fn fragments_split_without_offset_table() {
        let buf = [0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD8, 4];
        let frags = [(0, 3), (3, 2), (5, 3)];
        assert_eq!(
            &*frame_bytes(&buf, &[], &frags, 2, 0).unwrap(),
            &[0xFF, 0xD8, 1, 2, 3]
        );
        assert_eq!(&*frame_bytes(&buf, &[], &frags, 2, 1).unwrap(), &[0xFF, 0xD8, 4]);
        // with an offset table: frame 1 starts at fragment 2 (offset 8+3 + 8+2 = 21)
        assert_eq!(
            &*frame_bytes(&buf, &[0, 21], &frags, 2, 1).unwrap(),
            &[0xFF, 0xD8, 4]
        );
    }

    #[test]
    fn jpeg_12_bit_needs_the_c_codecs_and_unknown_syntaxes_are_named() {
        // 12-bit JPEG Extended and the retired .53/.55: decodable through GDCM with the feature,
        // refused with the feature's name without it.
        for ts in [
            "1.2.840.10008.1.2.4.51",
            "1.2.840.10008.1.2.4.53",
            "1.2.840.10008.1.2.4.55",
        ] {
            assert!(c_codecs::needs_c_codecs(ts, 12, 16), "{ts}");
            let r = check_decodable(ts, 12, 16);
            assert_eq!(r.is_ok(), c_codecs::ENABLED, "{ts}: {r:?}");
            if let Err(e) = r {
                assert!(e.contains(ts) && e.contains("--features c-codecs"), "{e}");
            }
        }
        // 8-bit JPEG Extended stays on the registry codec (jpeg-decoder); other syntaxes too.
        assert!(!c_codecs::needs_c_codecs("1.2.840.10008.1.2.4.51", 8, 8));
        assert!(!c_codecs::needs_c_codecs("1.2.840.10008.1.2.4.50", 8, 8));
        assert!(!c_codecs::needs_c_codecs("1.2.840.10008.1.2.4.57", 16, 16));
        assert!(check_decodable("1.2.840.10008.1.2.4.51", 8, 8).is_ok());
        assert!(check_decodable("1.2.840.10008.1.2.4.90", 16, 16).is_ok());
        // JPEG-LS is pure Rust: decodable in every build.
        assert!(check_decodable(TS_JLS_LOSSLESS, 16, 16).is_ok());
        assert!(check_decodable(TS_JLS_NEAR, 16, 16).is_ok());
        let e = check_decodable("1.2.3.4", 16, 16).unwrap_err();
        assert!(
            e.contains("unknown transfer syntax") && e.contains("gdcmconv"),
            "{e}"
        );
    }

    #[test]
    fn damaged_12_bit_jpeg_is_an_error_not_a_crash() {
        let h = ImageHeader {
            path: "synthetic.dcm".into(),
            ts: "1.2.840.10008.1.2.4.51".into(),
            sop_class: String::new(),
            sop_instance: String::new(),
            modality: "CT".into(),
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
            rows: 4,
            cols: 4,
            bits_allocated: 16,
            bits_stored: 12,
            high_bit: 11,
            signed: false,
            photometric: "MONOCHROME2".into(),
            multiframe: false,
            padding: None,
            native_offset: None,
            frames: Vec::new(),
            notes: Vec::new(),
            study: Default::default(),
        };
        let mut out = Vec::new();
        for data in [
            &[][..],
            &[0xFF, 0xD8][..],
            &[0xFF, 0xD8, 0xFF, 0xC1, 0, 0][..],
            &[0x42; 64][..],
        ] {
            let e = decode_encapsulated(&h, "1.2.840.10008.1.2.4.51", data, &mut out).unwrap_err();
            if c_codecs::ENABLED {
                assert!(e.contains("(GDCM) failed"), "{e}");
            } else {
                assert!(e.contains("--features c-codecs"), "{e}");
            }
        }
    }
}
