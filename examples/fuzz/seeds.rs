//! Seed inputs the fuzzer writes itself: a small DICOM writer over an element tree (so
//! mutations can act on tags, VRs, lengths, sequence nesting and fragments before the bytes
//! are written), synthetic CT slices in every transfer syntax the reader handles natively
//! (implicit / explicit LE, big endian, deflated, RLE, JPEG-LS through the registry's
//! encoder), an Enhanced CT multi-frame, a SEG, an RTSTRUCT, a NIfTI label map and case files.

use std::borrow::Cow;

use dicom_encoding::Codec;
use dicom_encoding::adapters::{EncodeOptions, PixelDataObject, RawPixelData};
use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

pub const TS_IMPLICIT: &str = "1.2.840.10008.1.2";
pub const TS_EXPLICIT: &str = "1.2.840.10008.1.2.1";
pub const TS_BIG: &str = "1.2.840.10008.1.2.2";
pub const TS_DEFLATED: &str = "1.2.840.10008.1.2.1.99";
pub const TS_RLE: &str = "1.2.840.10008.1.2.5";
pub const TS_JLS: &str = "1.2.840.10008.1.2.4.80";
pub const TS_J2K: &str = "1.2.840.10008.1.2.4.90";

/// Value of an element: bytes, sequence items, or encapsulated fragments (the first is the
/// basic offset table).
#[derive(Clone, Debug)]
pub enum Val {
    Bytes(Vec<u8>),
    Seq(Vec<Vec<Elem>>),
    Frags(Vec<Vec<u8>>),
}

#[derive(Clone, Debug)]
pub struct Elem {
    pub tag: u32,
    pub vr: [u8; 2],
    pub val: Val,
    /// Written instead of the real length (a length mutation).
    pub len: Option<u32>,
    /// Sequences and items with undefined length and delimiters.
    pub undefined: bool,
}

impl Elem {
    pub fn bytes(tag: u32, vr: &[u8; 2], v: &[u8]) -> Elem {
        Elem {
            tag,
            vr: *vr,
            val: Val::Bytes(v.to_vec()),
            len: None,
            undefined: false,
        }
    }
    pub fn text(tag: u32, vr: &[u8; 2], s: &str) -> Elem {
        Elem::bytes(tag, vr, s.as_bytes())
    }
    pub fn seq(tag: u32, items: Vec<Vec<Elem>>) -> Elem {
        Elem {
            tag,
            vr: *b"SQ",
            val: Val::Seq(items),
            len: None,
            undefined: false,
        }
    }
}

/// A DICOM object as an element tree plus its transfer syntax.
#[derive(Clone, Debug)]
pub struct Obj {
    pub ts: String,
    pub elems: Vec<Elem>,
    /// Preamble + "DICM" + file meta; a raw data set without.
    pub meta: bool,
}

fn long_vr(vr: &[u8; 2]) -> bool {
    matches!(
        vr,
        b"OB" | b"OD" | b"OF" | b"OL" | b"OV" | b"OW" | b"SQ" | b"UC" | b"UN" | b"UR" | b"UT" | b"SV" | b"UV"
    )
}

struct Enc {
    explicit: bool,
    little: bool,
}

impl Enc {
    fn u16(&self, out: &mut Vec<u8>, v: u16) {
        out.extend_from_slice(&if self.little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        });
    }
    fn u32(&self, out: &mut Vec<u8>, v: u32) {
        out.extend_from_slice(&if self.little {
            v.to_le_bytes()
        } else {
            v.to_be_bytes()
        });
    }
    fn tag(&self, out: &mut Vec<u8>, tag: u32) {
        self.u16(out, (tag >> 16) as u16);
        self.u16(out, tag as u16);
    }
    fn header(&self, out: &mut Vec<u8>, tag: u32, vr: &[u8; 2], len: u32) {
        self.tag(out, tag);
        if self.explicit {
            out.extend_from_slice(vr);
            if long_vr(vr) {
                out.extend_from_slice(&[0, 0]);
                self.u32(out, len);
            } else {
                // A length above 65535 in a short-length VR is itself a mutation: truncate.
                self.u16(out, len as u16);
            }
        } else {
            self.u32(out, len);
        }
    }
    fn elem(&self, out: &mut Vec<u8>, e: &Elem) {
        match &e.val {
            Val::Bytes(b) => {
                let mut v = b.clone();
                // Values are built little endian; binary VRs swap per unit in big endian.
                let unit = match &e.vr {
                    b"US" | b"SS" | b"OW" => 2,
                    b"UL" | b"SL" | b"FL" | b"OL" | b"OF" => 4,
                    b"FD" | b"OD" => 8,
                    _ => 1,
                };
                if !self.little && unit > 1 {
                    for c in v.chunks_exact_mut(unit) {
                        c.reverse();
                    }
                }
                if v.len() % 2 == 1 && e.len.is_none() {
                    v.push(if &e.vr == b"UI" || &e.vr == b"OB" { 0 } else { b' ' });
                }
                self.header(out, e.tag, &e.vr, e.len.unwrap_or(v.len() as u32));
                out.extend_from_slice(&v);
            }
            Val::Seq(items) => {
                let mut body = Vec::new();
                for it in items {
                    let mut ib = Vec::new();
                    for ie in it {
                        self.elem(&mut ib, ie);
                    }
                    self.tag(&mut body, 0xFFFE_E000);
                    if e.undefined {
                        self.u32(&mut body, 0xFFFF_FFFF);
                        body.extend_from_slice(&ib);
                        self.tag(&mut body, 0xFFFE_E00D);
                        self.u32(&mut body, 0);
                    } else {
                        self.u32(&mut body, ib.len() as u32);
                        body.extend_from_slice(&ib);
                    }
                }
                if e.undefined {
                    self.tag(&mut body, 0xFFFE_E0DD);
                    self.u32(&mut body, 0);
                    self.header(out, e.tag, &e.vr, e.len.unwrap_or(0xFFFF_FFFF));
                } else {
                    self.header(out, e.tag, &e.vr, e.len.unwrap_or(body.len() as u32));
                }
                out.extend_from_slice(&body);
            }
            Val::Frags(frags) => {
                self.header(out, e.tag, &e.vr, e.len.unwrap_or(0xFFFF_FFFF));
                for f in frags {
                    self.tag(out, 0xFFFE_E000);
                    self.u32(out, f.len() as u32);
                    out.extend_from_slice(f);
                }
                self.tag(out, 0xFFFE_E0DD);
                self.u32(out, 0);
            }
        }
    }
}

impl Obj {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        if self.meta {
            out.resize(128, 0);
            out.extend_from_slice(b"DICM");
            let meta = Enc {
                explicit: true,
                little: true,
            };
            meta.elem(&mut out, &Elem::text(0x0002_0010, b"UI", &self.ts));
        }
        let enc = match self.ts.as_str() {
            TS_IMPLICIT => Enc {
                explicit: false,
                little: true,
            },
            TS_BIG => Enc {
                explicit: true,
                little: false,
            },
            _ => Enc {
                explicit: true,
                little: true,
            },
        };
        let mut body = Vec::new();
        for e in &self.elems {
            enc.elem(&mut body, e);
        }
        if self.ts == TS_DEFLATED {
            out.extend_from_slice(&deflate(&body));
        } else {
            out.extend_from_slice(&body);
        }
        out
    }

    pub fn set(&mut self, e: Elem) {
        match self.elems.iter_mut().find(|x| x.tag == e.tag) {
            Some(x) => *x = e,
            None => {
                self.elems.push(e);
                self.elems.sort_by_key(|x| x.tag);
            }
        }
    }
}

/// Raw deflate through the registry's data set adapter (what the reader inflates with).
pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if let Some(ts) = TransferSyntaxRegistry.get(TS_DEFLATED)
        && let Codec::Dataset(Some(a)) = ts.codec()
    {
        let mut w = a.adapt_writer(Box::new(&mut out));
        let _ = w.write_all(data);
        let _ = w.flush();
        drop(w);
    }
    out
}

use std::io::Write;

/// RLE Lossless frame (PS3.5 Annex G) of 16-bit little-endian samples: two segments (high
/// bytes, then low bytes), literal runs only.
pub fn rle_encode_16(samples: &[u8]) -> Vec<u8> {
    let hi: Vec<u8> = samples.chunks_exact(2).map(|c| c[1]).collect();
    let lo: Vec<u8> = samples.chunks_exact(2).map(|c| c[0]).collect();
    let seg = |d: &[u8]| {
        let mut s = Vec::new();
        for c in d.chunks(128) {
            s.push((c.len() - 1) as u8);
            s.extend_from_slice(c);
        }
        if s.len() % 2 == 1 {
            s.push(0x80); // no-op run, keeps segments even
        }
        s
    };
    let (a, b) = (seg(&hi), seg(&lo));
    let mut out = vec![0u8; 64];
    out[0..4].copy_from_slice(&2u32.to_le_bytes());
    out[4..8].copy_from_slice(&64u32.to_le_bytes());
    out[8..12].copy_from_slice(&(64 + a.len() as u32).to_le_bytes());
    out.extend_from_slice(&a);
    out.extend_from_slice(&b);
    out
}

/// RLE Lossless frame with one segment (8-bit or bit-packed 1-bit data), literal runs only.
pub fn rle_encode_8(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 64];
    out[0..4].copy_from_slice(&1u32.to_le_bytes());
    out[4..8].copy_from_slice(&64u32.to_le_bytes());
    for c in data.chunks(128) {
        out.push((c.len() - 1) as u8);
        out.extend_from_slice(c);
    }
    out
}

/// One native greyscale frame presented to a registry encoder.
struct NativeFrame<'a> {
    rows: u16,
    cols: u16,
    bits: u16,
    data: &'a [u8],
}

impl PixelDataObject for NativeFrame<'_> {
    fn transfer_syntax_uid(&self) -> &str {
        TS_EXPLICIT
    }
    fn rows(&self) -> Option<u16> {
        Some(self.rows)
    }
    fn cols(&self) -> Option<u16> {
        Some(self.cols)
    }
    fn samples_per_pixel(&self) -> Option<u16> {
        Some(1)
    }
    fn bits_allocated(&self) -> Option<u16> {
        Some(self.bits)
    }
    fn bits_stored(&self) -> Option<u16> {
        Some(self.bits)
    }
    fn photometric_interpretation(&self) -> Option<&str> {
        Some("MONOCHROME2")
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
        None
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

/// Encode one frame with the registry's encoder for `ts` (JPEG baseline here); `None` if absent.
pub fn encode_frame(ts: &str, rows: u16, cols: u16, bits: u16, data: &[u8]) -> Option<Vec<u8>> {
    let t = TransferSyntaxRegistry.get(ts)?;
    let Codec::EncapsulatedPixelData(_, Some(w)) = t.codec() else {
        return None;
    };
    let src = NativeFrame {
        rows,
        cols,
        bits,
        data,
    };
    let mut out = Vec::new();
    w.encode_frame(&src, 0, EncodeOptions::default(), &mut out).ok()?;
    Some(out)
}

/// Encode one 16-bit little-endian frame as lossless JPEG-LS with pure_jpegls (the decoder's
/// crate; the registry has no JPEG-LS encoder without the C/C++ codecs). Empty on failure.
pub fn jpeg_ls_encode_16(rows: u16, cols: u16, data: &[u8]) -> Vec<u8> {
    let px: Vec<u16> = data
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    let mut out = Vec::new();
    match jpegls::encode(&px, u32::from(cols), u32::from(rows), &mut out) {
        Ok(()) => out,
        Err(_) => Vec::new(),
    }
}

/// A minimal J2K codestream header (SOC + SIZ + EOC), enough to reach the size check and the
/// decoder's header parser; the fuzzer mutates it.
pub fn j2k_header(rows: u16, cols: u16) -> Vec<u8> {
    let mut v = vec![0xFF, 0x4F, 0xFF, 0x51, 0x00, 41, 0x00, 0x00];
    for x in [cols as u32, rows as u32, 0, 0, cols as u32, rows as u32, 0, 0] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend_from_slice(&[0x00, 0x01, 0x0F, 0x01, 0x01, 0xFF, 0xD9]);
    v
}

pub const ROWS: u16 = 8;
pub const COLS: u16 = 8;
pub const SLICES: usize = 3;
pub const SPACING: f64 = 0.7;
pub const STEP: f64 = 2.5;
pub const FOR_UID: &str = "1.2.826.0.1.3680043.2.1125.9.1";
pub const SERIES_UID: &str = "1.2.826.0.1.3680043.2.1125.9.2";

fn ds(v: &[f64]) -> String {
    v.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join("\\")
}

fn us(tag: u32, v: u16) -> Elem {
    Elem::bytes(tag, b"US", &v.to_le_bytes())
}

/// Stored values of slice `k` (signed 16-bit, little endian): a gradient plus a bright disc.
pub fn slice_pixels(k: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for r in 0..ROWS as i32 {
        for c in 0..COLS as i32 {
            let d = (r - 4) * (r - 4) + (c - 4) * (c - 4);
            let val: i16 = if d < 6 {
                60 + k as i16
            } else {
                (r * 10 + c) as i16 - 1000
            };
            v.extend_from_slice(&val.to_le_bytes());
        }
    }
    v
}

fn image_common(sop_class: &str, inst: usize) -> Vec<Elem> {
    vec![
        Elem::text(0x0008_0016, b"UI", sop_class),
        Elem::text(
            0x0008_0018,
            b"UI",
            &format!("1.2.826.0.1.3680043.2.1125.9.3.{inst}"),
        ),
        Elem::text(0x0008_0060, b"CS", "CT"),
        Elem::text(0x0010_0010, b"PN", "Fuzz^Seed"),
        Elem::text(0x0010_0020, b"LO", "FUZZ1"),
        Elem::text(0x0020_000D, b"UI", "1.2.826.0.1.3680043.2.1125.9.4"),
        Elem::text(0x0020_000E, b"UI", SERIES_UID),
        Elem::text(0x0020_0013, b"IS", &format!("{}", inst + 1)),
        Elem::text(0x0020_0052, b"UI", FOR_UID),
        us(0x0028_0002, 1),
        Elem::text(0x0028_0004, b"CS", "MONOCHROME2"),
        us(0x0028_0010, ROWS),
        us(0x0028_0011, COLS),
        us(0x0028_0100, 16),
        us(0x0028_0101, 16),
        us(0x0028_0102, 15),
        us(0x0028_0103, 1),
    ]
}

/// CT slice `k` of the seed series in transfer syntax `ts`.
pub fn ct_slice(k: usize, ts: &str) -> Obj {
    let mut o = Obj {
        ts: ts.to_string(),
        elems: image_common("1.2.840.10008.5.1.4.1.1.2", k),
        meta: true,
    };
    o.set(Elem::text(0x0018_0050, b"DS", "2.5"));
    o.set(Elem::text(
        0x0020_0032,
        b"DS",
        &ds(&[-2.45, -2.45, k as f64 * STEP]),
    ));
    o.set(Elem::text(0x0020_0037, b"DS", "1\\0\\0\\0\\1\\0"));
    o.set(Elem::text(0x0028_0030, b"DS", &ds(&[SPACING, SPACING])));
    o.set(Elem::text(0x0028_1052, b"DS", "0"));
    o.set(Elem::text(0x0028_1053, b"DS", "1"));
    let px = slice_pixels(k);
    let pixel = match ts {
        TS_RLE => Elem {
            tag: 0x7FE0_0010,
            vr: *b"OB",
            val: Val::Frags(vec![Vec::new(), rle_encode_16(&px)]),
            len: None,
            undefined: true,
        },
        TS_JLS => {
            let f = jpeg_ls_encode_16(ROWS, COLS, &px);
            Elem {
                tag: 0x7FE0_0010,
                vr: *b"OB",
                val: Val::Frags(vec![Vec::new(), f]),
                len: None,
                undefined: true,
            }
        }
        TS_J2K => Elem {
            tag: 0x7FE0_0010,
            vr: *b"OB",
            val: Val::Frags(vec![Vec::new(), j2k_header(ROWS, COLS)]),
            len: None,
            undefined: true,
        },
        _ => Elem::bytes(0x7FE0_0010, b"OW", &px),
    };
    o.set(pixel);
    o
}

pub const TS_JPEG_BASELINE: &str = "1.2.840.10008.1.2.4.50";

/// CT slice `k` as 8-bit JPEG Baseline (jpeg-decoder's path), through the registry's encoder.
pub fn ct_slice_jpeg8(k: usize) -> Obj {
    let mut o = ct_slice(k, TS_EXPLICIT);
    o.ts = TS_JPEG_BASELINE.into();
    for (tag, v) in [
        (0x0028_0100u32, 8u16),
        (0x0028_0101, 8),
        (0x0028_0102, 7),
        (0x0028_0103, 0),
    ] {
        o.set(us(tag, v));
    }
    let px: Vec<u8> = slice_pixels(k)
        .chunks_exact(2)
        .map(|c| (i16::from_le_bytes([c[0], c[1]]) / 8 + 128).clamp(0, 255) as u8)
        .collect();
    let f = encode_frame(TS_JPEG_BASELINE, ROWS, COLS, 8, &px).unwrap_or_default();
    o.set(Elem {
        tag: 0x7FE0_0010,
        vr: *b"OB",
        val: Val::Frags(vec![Vec::new(), f]),
        len: None,
        undefined: true,
    });
    o
}

/// An Enhanced CT of the seed volume: per-frame plane positions, shared orientation, spacing
/// and rescale; native or RLE.
pub fn enhanced_ct(ts: &str) -> Obj {
    let mut o = Obj {
        ts: ts.to_string(),
        elems: image_common("1.2.840.10008.5.1.4.1.1.2.1", 9),
        meta: true,
    };
    o.set(Elem::text(0x0028_0008, b"IS", &format!("{SLICES}")));
    let shared = vec![
        Elem::seq(
            0x0020_9116,
            vec![vec![Elem::text(0x0020_0037, b"DS", "1\\0\\0\\0\\1\\0")]],
        ),
        Elem::seq(
            0x0028_9110,
            vec![vec![
                Elem::text(0x0018_0050, b"DS", "2.5"),
                Elem::text(0x0028_0030, b"DS", &ds(&[SPACING, SPACING])),
            ]],
        ),
        Elem::seq(
            0x0028_9145,
            vec![vec![
                Elem::text(0x0028_1052, b"DS", "0"),
                Elem::text(0x0028_1053, b"DS", "1"),
            ]],
        ),
    ];
    o.set(Elem::seq(0x5200_9229, vec![shared]));
    let per: Vec<Vec<Elem>> = (0..SLICES)
        .map(|k| {
            vec![Elem::seq(
                0x0020_9113,
                vec![vec![Elem::text(
                    0x0020_0032,
                    b"DS",
                    &ds(&[-2.45, -2.45, k as f64 * STEP]),
                )]],
            )]
        })
        .collect();
    let mut pf = Elem::seq(0x5200_9230, per);
    pf.undefined = true;
    o.set(pf);
    let frames: Vec<Vec<u8>> = (0..SLICES).map(slice_pixels).collect();
    let pixel = if ts == TS_RLE {
        let mut f = vec![Vec::new()];
        f.extend(frames.iter().map(|p| rle_encode_16(p)));
        Elem {
            tag: 0x7FE0_0010,
            vr: *b"OB",
            val: Val::Frags(f),
            len: None,
            undefined: true,
        }
    } else {
        Elem::bytes(0x7FE0_0010, b"OW", &frames.concat())
    };
    o.set(pixel);
    o
}

/// The 1-bit SEG as RLE Lossless: one frame per fragment, each its own bit-packed segment.
pub fn seg_rle() -> Obj {
    let mut o = seg(1);
    o.ts = TS_RLE.into();
    let n = ROWS as usize * COLS as usize;
    let mut frags = vec![Vec::new()];
    for _ in 0..SLICES {
        let mut p = vec![0u8; n.div_ceil(8)];
        for r in 2..6 {
            for c in 2..6 {
                let i = r * COLS as usize + c;
                p[i / 8] |= 1 << (i % 8);
            }
        }
        frags.push(rle_encode_8(&p));
    }
    o.set(Elem {
        tag: 0x7FE0_0010,
        vr: *b"OB",
        val: Val::Frags(frags),
        len: None,
        undefined: true,
    });
    o
}

/// A BINARY SEG with one segment (a square on every slice), 1-bit native or 8-bit.
pub fn seg(bits: u16) -> Obj {
    let mut o = Obj {
        ts: TS_EXPLICIT.into(),
        elems: Vec::new(),
        meta: true,
    };
    for e in [
        Elem::text(0x0008_0016, b"UI", "1.2.840.10008.5.1.4.1.1.66.4"),
        Elem::text(0x0008_0018, b"UI", "1.2.826.0.1.3680043.2.1125.9.5"),
        Elem::text(0x0008_0060, b"CS", "SEG"),
        Elem::text(0x0020_0052, b"UI", FOR_UID),
        us(0x0028_0002, 1),
        Elem::text(0x0028_0004, b"CS", "MONOCHROME2"),
        Elem::text(0x0028_0008, b"IS", &format!("{SLICES}")),
        us(0x0028_0010, ROWS),
        us(0x0028_0011, COLS),
        us(0x0028_0100, bits),
        us(0x0028_0101, bits),
        us(0x0028_0102, bits - 1),
        Elem::text(0x0062_0001, b"CS", "BINARY"),
        Elem::seq(
            0x0062_0002,
            vec![vec![us(0x0062_0004, 1), Elem::text(0x0062_0005, b"LO", "Tumour")]],
        ),
        Elem::seq(
            0x5200_9229,
            vec![vec![
                Elem::seq(
                    0x0020_9116,
                    vec![vec![Elem::text(0x0020_0037, b"DS", "1\\0\\0\\0\\1\\0")]],
                ),
                Elem::seq(
                    0x0028_9110,
                    vec![vec![
                        Elem::text(0x0018_0050, b"DS", "2.5"),
                        Elem::text(0x0028_0030, b"DS", &ds(&[SPACING, SPACING])),
                    ]],
                ),
            ]],
        ),
        Elem::seq(
            0x5200_9230,
            (0..SLICES)
                .map(|k| {
                    vec![
                        Elem::seq(
                            0x0020_9113,
                            vec![vec![Elem::text(
                                0x0020_0032,
                                b"DS",
                                &ds(&[-2.45, -2.45, k as f64 * STEP]),
                            )]],
                        ),
                        Elem::seq(0x0062_000A, vec![vec![us(0x0062_000B, 1)]]),
                    ]
                })
                .collect(),
        ),
    ] {
        o.set(e);
    }
    let n = ROWS as usize * COLS as usize;
    let mut vals = vec![0u8; n * SLICES];
    for k in 0..SLICES {
        for r in 2..6 {
            for c in 2..6 {
                vals[k * n + r * COLS as usize + c] = 1;
            }
        }
    }
    let px = if bits == 1 {
        let mut p = vec![0u8; (n * SLICES).div_ceil(8)];
        for (i, v) in vals.iter().enumerate() {
            p[i / 8] |= v << (i % 8);
        }
        p
    } else {
        vals
    };
    o.set(Elem::bytes(0x7FE0_0010, b"OB", &px));
    o
}

/// An RTSTRUCT with one ROI: a square contour on each slice.
pub fn rtstruct() -> Obj {
    let mut o = Obj {
        ts: TS_EXPLICIT.into(),
        elems: Vec::new(),
        meta: true,
    };
    let contours: Vec<Vec<Elem>> = (0..SLICES)
        .map(|k| {
            let z = k as f64 * STEP;
            let pts = [[-1.0, -1.0], [1.5, -1.0], [1.5, 1.5], [-1.0, 1.5]];
            let flat: Vec<f64> = pts.iter().flat_map(|p| [p[0], p[1], z]).collect();
            vec![
                Elem::text(0x3006_0042, b"CS", "CLOSED_PLANAR"),
                Elem::text(0x3006_0046, b"IS", "4"),
                Elem::text(0x3006_0050, b"DS", &ds(&flat)),
            ]
        })
        .collect();
    for e in [
        Elem::text(0x0008_0016, b"UI", "1.2.840.10008.5.1.4.1.1.481.3"),
        Elem::text(0x0008_0018, b"UI", "1.2.826.0.1.3680043.2.1125.9.6"),
        Elem::text(0x0008_0060, b"CS", "RTSTRUCT"),
        Elem::text(0x3006_0002, b"SH", "fuzz"),
        Elem::seq(0x3006_0010, vec![vec![Elem::text(0x0020_0052, b"UI", FOR_UID)]]),
        Elem::seq(
            0x3006_0020,
            vec![vec![
                Elem::text(0x3006_0022, b"IS", "1"),
                Elem::text(0x3006_0024, b"UI", FOR_UID),
                Elem::text(0x3006_0026, b"LO", "Tumour"),
            ]],
        ),
        Elem::seq(
            0x3006_0039,
            vec![vec![
                Elem::text(0x3006_002A, b"IS", "255\\0\\0"),
                Elem::seq(0x3006_0040, contours),
                Elem::text(0x3006_0084, b"IS", "1"),
            ]],
        ),
    ] {
        o.set(e);
    }
    o
}

/// A NIfTI-1 label map (uint8, 8 × 8 × 3) on the seed CT grid (sform, RAS = LPS with x, y
/// negated).
pub fn nifti() -> Vec<u8> {
    let mut h = vec![0u8; 352];
    let put_i16 = |h: &mut Vec<u8>, o: usize, v: i16| h[o..o + 2].copy_from_slice(&v.to_le_bytes());
    let put_f32 = |h: &mut Vec<u8>, o: usize, v: f32| h[o..o + 4].copy_from_slice(&v.to_le_bytes());
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    for (i, d) in [3i16, COLS as i16, ROWS as i16, SLICES as i16, 1, 1, 1, 1]
        .iter()
        .enumerate()
    {
        put_i16(&mut h, 40 + 2 * i, *d);
    }
    put_i16(&mut h, 70, 2); // datatype uint8
    put_i16(&mut h, 72, 8); // bitpix
    for (i, p) in [1.0f32, SPACING as f32, SPACING as f32, STEP as f32]
        .iter()
        .enumerate()
    {
        put_f32(&mut h, 76 + 4 * i, *p);
    }
    put_f32(&mut h, 108, 352.0); // vox_offset
    put_f32(&mut h, 112, 1.0); // scl_slope
    put_i16(&mut h, 254, 2); // sform_code
    let rows = [
        [-(SPACING as f32), 0.0, 0.0, 2.45],
        [0.0, -(SPACING as f32), 0.0, 2.45],
        [0.0, 0.0, STEP as f32, 0.0],
    ];
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            put_f32(&mut h, 280 + 16 * r + 4 * c, *v);
        }
    }
    h[344..348].copy_from_slice(b"n+1\0");
    let n = ROWS as usize * COLS as usize;
    for k in 0..SLICES {
        for i in 0..n {
            h.push(if (i % 8) > 2 && (i / 8) > 2 && (i / 8) < 6 {
                1 + (k as u8 % 2)
            } else {
                0
            });
        }
    }
    h
}

/// Case files shipped in the repository's assets (the repository's own small JSON files).
pub fn cases() -> Vec<Vec<u8>> {
    vec![
        include_bytes!("../../assets/cases/c3_icesphere_gel_10min.json").to_vec(),
        include_bytes!("../../assets/cases/c2_littrup_1_probes.json").to_vec(),
        include_bytes!("../../assets/cases/dicom_pancreas_ct_example.json").to_vec(),
    ]
}
