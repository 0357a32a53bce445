//! The fuzz engine, shared by `examples/fuzz/main.rs` (millions of executions) and the smoke
//! test `tests/suite/dicom_fuzz_smoke.rs` (a few hundred, fixed seed).
//!
//! Each execution takes one seed (written by `seeds.rs`), applies 1–4 mutations —
//! structure-aware ones on the DICOM element tree (tags, VRs, lengths, sequence nesting,
//! undefined lengths, fragments, RLE headers, numeric values at the edges of what is
//! plausible), on NIfTI header fields and on case JSON values, then byte flips, splices,
//! truncations and interesting integers — writes the result to a scratch folder and runs the
//! matching reader:
//!
//! - CT: `dicom::scan` → `load_series` (parse → decode → stack) → `thumbnail`;
//! - SEG / RTSTRUCT: `import_seg` / `import_rtstruct` onto the seed CT grid;
//! - NIfTI: `anatomy::nifti::import_label_map_report`;
//! - case: `CaseFile::from_json` + `validate` (what `plan::case::load_case` does after reading).
//!
//! A failure is a panic (caught, with its message and location), an execution slower than the
//! time budget, or a broken invariant (an error with an empty message, a volume whose voxel
//! count differs from its geometry). Memory is bounded from outside: `main.rs` runs the engine
//! in a child process under an address-space limit and records the input of a child that died
//! (allocation failure aborts) — see `main.rs`.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ablaplan::dicom::{ImportOptions, SeriesIds, import_rtstruct, import_seg, load_series, scan, thumbnail};
use ablaplan::geometry::VolumeGeometry;
use ablaplan::jobs::JobCtx;
use nalgebra::Point3;

use super::seeds::{self, Elem, Obj, Val};

/// xorshift64* — small, fast, deterministic for a given seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    pub fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in.max(1))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Target {
    Ct,
    Seg,
    Rtstruct,
    Nifti,
    Case,
}

/// One seed: what it feeds and how it is represented.
#[derive(Clone)]
pub enum Seed {
    /// A folder of DICOM objects (one of them mutated).
    Dicom {
        target: Target,
        objs: Vec<Obj>,
    },
    Bytes {
        target: Target,
        data: Vec<u8>,
    },
}

pub fn seeds() -> Vec<Seed> {
    use seeds::*;
    let series = |ts: &str| (0..SLICES).map(|k| ct_slice(k, ts)).collect::<Vec<_>>();
    let mut v = Vec::new();
    for ts in [TS_EXPLICIT, TS_IMPLICIT, TS_BIG, TS_DEFLATED, TS_RLE, TS_JLS] {
        v.push(Seed::Dicom {
            target: Target::Ct,
            objs: series(ts),
        });
    }
    v.push(Seed::Dicom {
        target: Target::Ct,
        objs: vec![ct_slice(0, TS_J2K)],
    });
    v.push(Seed::Dicom {
        target: Target::Ct,
        objs: (0..SLICES).map(ct_slice_jpeg8).collect(),
    });
    for ts in [TS_EXPLICIT, TS_RLE, TS_DEFLATED] {
        v.push(Seed::Dicom {
            target: Target::Ct,
            objs: vec![enhanced_ct(ts)],
        });
    }
    for bits in [1, 8] {
        v.push(Seed::Dicom {
            target: Target::Seg,
            objs: vec![seg(bits)],
        });
    }
    v.push(Seed::Dicom {
        target: Target::Seg,
        objs: vec![seg_rle()],
    });
    v.push(Seed::Dicom {
        target: Target::Rtstruct,
        objs: vec![rtstruct()],
    });
    v.push(Seed::Bytes {
        target: Target::Nifti,
        data: nifti(),
    });
    for c in cases() {
        v.push(Seed::Bytes {
            target: Target::Case,
            data: c,
        });
    }
    v
}

/// The seed CT grid (what the importers rasterise onto).
pub fn ct_grid() -> (VolumeGeometry, SeriesIds) {
    let g = VolumeGeometry::axis_aligned(
        [seeds::COLS as usize, seeds::ROWS as usize, seeds::SLICES],
        [seeds::SPACING, seeds::SPACING, seeds::STEP],
        Point3::new(-2.45, -2.45, 0.0),
    );
    let ids = SeriesIds {
        frame_of_reference_uid: seeds::FOR_UID.into(),
        series_instance_uid: seeds::SERIES_UID.into(),
        sop_instance_uids: Vec::new(),
    };
    (g, ids)
}

// ---------------------------------------------------------------------------------------------
// Mutations

const INTERESTING_U32: &[u32] = &[
    0,
    1,
    2,
    3,
    0x0F,
    0x10,
    0x40,
    0x7F,
    0x80,
    0xFF,
    0x100,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x1_0000,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFF0,
    0xFFFF_FFFE,
    0xFFFF_FFFF,
];

const INTERESTING_TEXT: &[&str] = &[
    "",
    "0",
    "-0",
    "1e308",
    "-1e308",
    "1e-308",
    "1e-6",
    "0.04",
    "50.1",
    "1e5",
    "-1e7",
    "NaN",
    "inf",
    "1\\0",
    "1\\0\\0\\0\\1\\0",
    "0\\0\\0\\0\\0\\0",
    "2147483648",
    "-1",
    "100000",
    "65536",
    "abc",
    "\\\\\\",
];

const VRS: &[&[u8; 2]] = &[
    b"OB", b"OW", b"UN", b"SQ", b"US", b"UL", b"DS", b"IS", b"UI", b"CS", b"LO", b"UT", b"FD", b"AT", b"XX",
];

/// Interesting tags (the ones the readers look at).
const TAGS: &[u32] = &[
    0x0008_0016,
    0x0008_0060,
    0x0020_000E,
    0x0020_0032,
    0x0020_0037,
    0x0020_0052,
    0x0028_0002,
    0x0028_0004,
    0x0028_0008,
    0x0028_0010,
    0x0028_0011,
    0x0028_0030,
    0x0028_0100,
    0x0028_0101,
    0x0028_0102,
    0x0028_0103,
    0x0028_0120,
    0x0028_1052,
    0x0028_1053,
    0x0018_0050,
    0x5200_9229,
    0x5200_9230,
    0x0062_0001,
    0x0062_0002,
    0x3006_0039,
    0x3006_0040,
    0x3006_0050,
    0x7FE0_0010,
    0x7FE0_0008,
    0xFFFE_E000,
    0xFFFE_E00D,
    0xFFFE_E0DD,
    0x0004_1220,
];

/// All element paths of a tree (index chains through sequence items).
fn paths(elems: &[Elem], prefix: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
    for (i, e) in elems.iter().enumerate() {
        prefix.push(i);
        out.push(prefix.clone());
        if let Val::Seq(items) = &e.val {
            for (j, it) in items.iter().enumerate() {
                prefix.push(j);
                paths(it, prefix, out);
                prefix.pop();
            }
        }
        prefix.pop();
    }
}

fn elem_at<'a>(elems: &'a mut [Elem], path: &[usize]) -> Option<&'a mut Elem> {
    let (first, rest) = path.split_first()?;
    let e = elems.get_mut(*first)?;
    if rest.is_empty() {
        return Some(e);
    }
    let (item, rest) = rest.split_first()?;
    match &mut e.val {
        Val::Seq(items) => elem_at(items.get_mut(*item)?, rest),
        _ => None,
    }
}

fn parent_list<'a>(elems: &'a mut Vec<Elem>, path: &[usize]) -> Option<&'a mut Vec<Elem>> {
    if path.len() <= 1 {
        return Some(elems);
    }
    let e = elems.get_mut(path[0])?;
    match &mut e.val {
        Val::Seq(items) => parent_list(items.get_mut(path[1])?, &path[2..]),
        _ => None,
    }
}

/// One structure-aware mutation of a DICOM tree.
fn mutate_tree(o: &mut Obj, rng: &mut Rng) {
    let mut ps = Vec::new();
    paths(&o.elems, &mut Vec::new(), &mut ps);
    if ps.is_empty() {
        return;
    }
    let p = ps[rng.below(ps.len())].clone();
    match rng.below(16) {
        0 => {
            // change the tag (to an interesting one or a neighbour)
            if let Some(e) = elem_at(&mut o.elems, &p) {
                e.tag = if rng.chance(2) {
                    TAGS[rng.below(TAGS.len())]
                } else {
                    e.tag ^ (1 << rng.below(32))
                };
            }
        }
        1 => {
            if let Some(e) = elem_at(&mut o.elems, &p) {
                e.vr = *VRS[rng.below(VRS.len())];
            }
        }
        2 => {
            // wrong length
            if let Some(e) = elem_at(&mut o.elems, &p) {
                let real = match &e.val {
                    Val::Bytes(b) => b.len() as u32,
                    _ => 0,
                };
                e.len = Some(match rng.below(4) {
                    0 => INTERESTING_U32[rng.below(INTERESTING_U32.len())],
                    1 => real.wrapping_add(1 + rng.below(16) as u32),
                    2 => real.saturating_sub(1 + rng.below(16) as u32),
                    _ => rng.next() as u32,
                });
            }
        }
        3 => {
            // numeric text at the edges
            if let Some(e) = elem_at(&mut o.elems, &p) {
                let t = INTERESTING_TEXT[rng.below(INTERESTING_TEXT.len())];
                e.val = Val::Bytes(t.as_bytes().to_vec());
            }
        }
        4 => {
            // binary value edits (US/UL/pixel bytes)
            if let Some(e) = elem_at(&mut o.elems, &p)
                && let Val::Bytes(b) = &mut e.val
            {
                let v = INTERESTING_U32[rng.below(INTERESTING_U32.len())].to_le_bytes();
                if b.len() >= 2 {
                    let at = rng.below(b.len() - 1);
                    let n = (b.len() - at).min(if rng.chance(2) { 2 } else { 4 });
                    b[at..at + n].copy_from_slice(&v[..n]);
                } else {
                    *b = v[..2].to_vec();
                }
            }
        }
        5 => {
            // delete an element
            if let Some(list) = parent_list(&mut o.elems, &p)
                && let Some(&i) = p.last()
                && i < list.len()
            {
                list.remove(i);
            }
        }
        6 => {
            // duplicate an element (also nests it in a new sequence)
            if let Some(list) = parent_list(&mut o.elems, &p)
                && let Some(&i) = p.last()
                && let Some(e) = list.get(i).cloned()
            {
                if rng.chance(2) {
                    list.insert(i, e);
                } else {
                    list.insert(i, Elem::seq(e.tag, vec![vec![e]]));
                }
            }
        }
        7 => {
            // deep nesting
            if let Some(e) = elem_at(&mut o.elems, &p) {
                let depth = 1 + rng.below(40);
                let mut inner = e.clone();
                for _ in 0..depth {
                    inner = Elem::seq(0x0008_1115, vec![vec![inner]]);
                }
                *e = inner;
            }
        }
        8 => {
            if let Some(e) = elem_at(&mut o.elems, &p) {
                e.undefined = !e.undefined;
            }
        }
        9 => {
            // sequence items: add empty, drop, duplicate many
            if let Some(e) = elem_at(&mut o.elems, &p)
                && let Val::Seq(items) = &mut e.val
            {
                match rng.below(3) {
                    0 => items.push(Vec::new()),
                    1 if !items.is_empty() => {
                        let i = rng.below(items.len());
                        items.remove(i);
                    }
                    _ if !items.is_empty() => {
                        let it = items[rng.below(items.len())].clone();
                        for _ in 0..1 + rng.below(64) {
                            items.push(it.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
        10 | 11 => mutate_fragments(o, rng),
        12 => {
            // change the transfer syntax (data stays)
            let ts = [
                seeds::TS_IMPLICIT,
                seeds::TS_EXPLICIT,
                seeds::TS_BIG,
                seeds::TS_DEFLATED,
                seeds::TS_RLE,
                seeds::TS_JLS,
                seeds::TS_J2K,
                "1.2.840.10008.1.2.4.50",
                "1.2.840.10008.1.2.4.51",
                "1.2.840.10008.1.2.4.57",
                "1.2.840.10008.1.2.4.70",
                "1.2.3",
            ];
            o.ts = ts[rng.below(ts.len())].to_string();
        }
        13 => o.meta = !o.meta,
        14 => {
            // geometry fields at implausible values (scale the text)
            let t = [0x0028_0010u32, 0x0028_0011, 0x0028_0008, 0x0028_0100];
            let tag = t[rng.below(t.len())];
            let v = [0u16, 1, 2, 4, 7, 16, 32, 64, 255, 4096, 0xFFFF][rng.below(11)];
            if tag == 0x0028_0008 {
                o.set(Elem::text(
                    tag,
                    b"IS",
                    &format!("{}", [0u32, 1, 2, 4, 6, 100_000, 200_000][rng.below(7)]),
                ));
            } else {
                o.set(Elem::bytes(tag, b"US", &v.to_le_bytes()));
            }
        }
        _ => {
            let t = [0x0028_1053u32, 0x0028_1052, 0x0028_0030, 0x0020_0032, 0x0018_0050];
            let tag = t[rng.below(t.len())];
            let v = [
                "1e308",
                "1e-6",
                "100",
                "0.01",
                "1e5",
                "-3e4",
                "60",
                "0.049",
                "1e4\\1e4\\1e4",
                "1\\1e-9",
            ][rng.below(10)];
            o.set(Elem::text(tag, b"DS", v));
        }
    }
}

/// Encapsulated pixel data: split, merge, drop, truncate fragments, corrupt the RLE header,
/// forge an offset table, put a J2K / JPEG header in front.
fn mutate_fragments(o: &mut Obj, rng: &mut Rng) {
    let Some(e) = o.elems.iter_mut().find(|e| e.tag == 0x7FE0_0010) else {
        return;
    };
    if let Val::Bytes(b) = &e.val
        && rng.chance(4)
    {
        // native → one fragment
        e.val = Val::Frags(vec![Vec::new(), b.clone()]);
        return;
    }
    let Val::Frags(f) = &mut e.val else {
        return;
    };
    if f.is_empty() {
        f.push(Vec::new());
    }
    let n = f.len();
    match rng.below(8) {
        0 if n > 1 => {
            let i = 1 + rng.below(n - 1);
            let at = rng.below(f[i].len() + 1);
            let tail = f[i].split_off(at);
            f.insert(i + 1, tail);
        }
        1 if n > 2 => {
            let i = 1 + rng.below(n - 2);
            let next = f.remove(i + 1);
            f[i].extend(next);
        }
        2 if n > 1 => {
            let i = 1 + rng.below(n - 1);
            f.remove(i);
        }
        3 if n > 1 => {
            let i = 1 + rng.below(n - 1);
            let l = rng.below(f[i].len() + 1);
            f[i].truncate(l);
        }
        4 if n > 1 => {
            // RLE header: segment count and offsets
            let i = 1 + rng.below(n - 1);
            let fr = &mut f[i];
            if fr.len() < 64 {
                fr.resize(64, 0);
            }
            let w = 4 * rng.below(16);
            let v = INTERESTING_U32[rng.below(INTERESTING_U32.len())];
            fr[w..w + 4].copy_from_slice(&v.to_le_bytes());
        }
        5 => {
            // offset table
            let k = rng.below(6);
            let mut bot = Vec::new();
            for _ in 0..k {
                let v = if rng.chance(2) {
                    INTERESTING_U32[rng.below(INTERESTING_U32.len())]
                } else {
                    rng.below(4096) as u32
                };
                bot.extend_from_slice(&v.to_le_bytes());
            }
            f[0] = bot;
        }
        6 => {
            let (r, c) = (
                [1u16, 8, 16, 0xFFFF][rng.below(4)],
                [1u16, 8, 16, 0xFFFF][rng.below(4)],
            );
            let hdr = if rng.chance(2) {
                seeds::j2k_header(r, c)
            } else {
                let mut j = vec![0xFF, 0xD8, 0xFF, 0xF7, 0, 11, 16];
                j.extend_from_slice(&r.to_be_bytes());
                j.extend_from_slice(&c.to_be_bytes());
                j.extend_from_slice(&[1, 1, 0x11, 0, 0xFF, 0xDA, 0, 8, 1, 1, 0, 0, 0, 0]);
                j
            };
            if n > 1 {
                let i = 1 + rng.below(n - 1);
                let mut fr = hdr;
                fr.extend_from_slice(&f[i]);
                f[i] = fr;
            } else {
                f.push(hdr);
            }
        }
        _ => {
            // many fragments
            let fr = f.last().cloned().unwrap_or_default();
            for _ in 0..1 + rng.below(32) {
                f.push(fr.clone());
            }
        }
    }
}

/// Byte-level mutations.
fn mutate_bytes(d: &mut Vec<u8>, rng: &mut Rng, other: &[u8]) {
    if d.is_empty() {
        d.push(0);
    }
    match rng.below(8) {
        0 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
        }
        1 => {
            let i = rng.below(d.len());
            d[i] = rng.next() as u8;
        }
        2 => {
            let l = rng.below(d.len() + 1);
            d.truncate(l);
        }
        3 => {
            // interesting u32 somewhere (lengths), in either byte order
            if d.len() >= 4 {
                let i = rng.below(d.len() - 3);
                let v = INTERESTING_U32[rng.below(INTERESTING_U32.len())];
                let b = if rng.chance(4) {
                    v.to_be_bytes()
                } else {
                    v.to_le_bytes()
                };
                d[i..i + 4].copy_from_slice(&b);
            }
        }
        4 => {
            // splice with another input
            if !other.is_empty() {
                let a = rng.below(d.len() + 1);
                let b = rng.below(other.len());
                let l = rng.below(other.len() - b + 1).min(4096);
                d.truncate(a);
                d.extend_from_slice(&other[b..b + l]);
            }
        }
        5 => {
            // duplicate a block
            let a = rng.below(d.len());
            let l = rng.below((d.len() - a).min(512) + 1);
            let block = d[a..a + l].to_vec();
            let at = rng.below(d.len() + 1);
            d.splice(at..at, block);
        }
        6 => {
            // delete a block
            let a = rng.below(d.len());
            let l = rng.below((d.len() - a).min(256) + 1);
            d.drain(a..a + l);
        }
        _ => {
            // interesting 16-bit value
            if d.len() >= 2 {
                let i = rng.below(d.len() - 1);
                let v = [0u16, 1, 0x7FFF, 0x8000, 0xFFFF, 0xFFFE, 0xE000, 0xE00D][rng.below(8)];
                d[i..i + 2].copy_from_slice(&v.to_le_bytes());
            }
        }
    }
    const MAX_INPUT: usize = 256 * 1024;
    d.truncate(MAX_INPUT);
}

/// NIfTI header fields: dims, datatype, bitpix, pixdim, vox_offset, scl, qform/sform codes and
/// matrices.
fn mutate_nifti(d: &mut Vec<u8>, rng: &mut Rng) {
    if d.len() < 348 {
        return mutate_bytes(d, rng, &[]);
    }
    let fields16 = [40usize, 42, 44, 46, 48, 70, 72, 252, 254];
    let fields32 = [
        76usize, 80, 84, 88, 108, 112, 116, 256, 260, 268, 280, 284, 296, 312, 324,
    ];
    if rng.chance(2) {
        let o = fields16[rng.below(fields16.len())];
        let v = [
            0i16,
            -1,
            1,
            2,
            4,
            7,
            8,
            16,
            64,
            256,
            512,
            768,
            1024,
            2304,
            i16::MAX,
            i16::MIN,
        ][rng.below(16)];
        d[o..o + 2].copy_from_slice(&v.to_le_bytes());
    } else {
        let o = fields32[rng.below(fields32.len())];
        let v = [
            0.0f32,
            -1.0,
            1e-6,
            1e-30,
            1e30,
            f32::NAN,
            f32::INFINITY,
            1e6,
            352.0,
            1e9,
            -0.0,
        ][rng.below(11)];
        d[o..o + 4].copy_from_slice(&v.to_le_bytes());
    }
}

/// JSON values: numbers at the edges, wrong types, deleted keys, long arrays.
fn mutate_json(d: &mut Vec<u8>, rng: &mut Rng) {
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(d) else {
        return mutate_bytes(d, rng, &[]);
    };
    // Pick the k-th node in preorder.
    fn count(v: &serde_json::Value) -> usize {
        1 + match v {
            serde_json::Value::Array(a) => a.iter().map(count).sum(),
            serde_json::Value::Object(o) => o.values().map(count).sum(),
            _ => 0,
        }
    }
    fn nth<'a>(v: &'a mut serde_json::Value, k: &mut usize) -> Option<&'a mut serde_json::Value> {
        if *k == 0 {
            return Some(v);
        }
        *k -= 1;
        match v {
            serde_json::Value::Array(a) => a.iter_mut().find_map(|c| nth(c, k)),
            serde_json::Value::Object(o) => o.values_mut().find_map(|c| nth(c, k)),
            _ => None,
        }
    }
    let n = count(&v);
    let mut k = rng.below(n);
    if let Some(node) = nth(&mut v, &mut k) {
        use serde_json::json;
        *node = match rng.below(12) {
            0 => json!(1e308),
            1 => json!(-1e308),
            2 => json!(0),
            3 => json!(-1),
            4 => json!(1e-30),
            5 => json!(u64::MAX),
            6 => json!(""),
            7 => json!(null),
            8 => json!([]),
            9 => json!({}),
            10 => match node.clone() {
                serde_json::Value::Array(a) if !a.is_empty() => {
                    let mut b = a.clone();
                    for _ in 0..rng.below(200) {
                        b.push(a[rng.below(a.len())].clone());
                    }
                    serde_json::Value::Array(b)
                }
                other => json!([other.clone(), other]),
            },
            _ => json!("x".repeat(rng.below(300))),
        };
    }
    *d = serde_json::to_vec(&v).unwrap_or_default();
}

/// A mutated input: files to write (name, bytes) and the target.
pub struct Input {
    pub target: Target,
    pub files: Vec<(String, Vec<u8>)>,
}

pub fn mutate(seed: &Seed, all: &[Seed], rng: &mut Rng) -> Input {
    mutate_keep(seed, all, rng).0
}

/// A mutated input and, when it can be mutated further structurally, the seed it came from
/// (the mutated tree, or the bytes).
pub fn mutate_keep(seed: &Seed, all: &[Seed], rng: &mut Rng) -> (Input, Option<Seed>) {
    let other: Vec<u8> = match &all[rng.below(all.len())] {
        Seed::Dicom { objs, .. } => objs.first().map(Obj::to_bytes).unwrap_or_default(),
        Seed::Bytes { data, .. } => data.clone(),
    };
    let rounds = 1 + rng.below(4);
    match seed {
        Seed::Dicom { target, objs } => {
            let mut objs = objs.clone();
            let which = rng.below(objs.len());
            if objs.len() > 1 && rng.chance(8) {
                // A second damaged file in the same series (grouping, duplicates, gaps).
                let other = (which + 1) % objs.len();
                mutate_tree(&mut objs[other], rng);
            }
            // Tree mutations first, then (sometimes) bytes on the written file.
            let tree_rounds = if rng.chance(4) { 0 } else { rounds };
            for _ in 0..tree_rounds {
                mutate_tree(&mut objs[which], rng);
            }
            let mut files: Vec<(String, Vec<u8>)> = objs
                .iter()
                .enumerate()
                .map(|(i, o)| (format!("f{i}.dcm"), o.to_bytes()))
                .collect();
            let mut keep = Some(Seed::Dicom {
                target: *target,
                objs: objs.clone(),
            });
            if tree_rounds == 0 || rng.chance(3) {
                for _ in 0..rounds {
                    mutate_bytes(&mut files[which].1, rng, &other);
                }
                keep = None;
            }
            (
                Input {
                    target: *target,
                    files,
                },
                keep,
            )
        }
        Seed::Bytes { target, data } => {
            let mut d = data.clone();
            for _ in 0..rounds {
                match (target, rng.below(3)) {
                    (Target::Nifti, 0 | 1) => mutate_nifti(&mut d, rng),
                    (Target::Case, 0 | 1) => mutate_json(&mut d, rng),
                    _ => mutate_bytes(&mut d, rng, &other),
                }
            }
            let name = match target {
                Target::Nifti => "label.nii",
                _ => "case.json",
            };
            let keep = Seed::Bytes {
                target: *target,
                data: d.clone(),
            };
            (
                Input {
                    target: *target,
                    files: vec![(name.into(), d)],
                },
                Some(keep),
            )
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Running one input

/// What one execution found wrong.
#[derive(Clone, Debug)]
pub enum Failure {
    Panic(String),
    Slow(Duration),
    Invariant(String),
}

impl Failure {
    /// A key that identifies the failure across inputs (panic location, invariant text).
    pub fn key(&self) -> String {
        match self {
            Failure::Panic(m) => m.rsplit(" at ").next().unwrap_or(m).to_string(),
            Failure::Slow(_) => "slow".into(),
            Failure::Invariant(m) => m.chars().take(60).collect(),
        }
    }
}

/// Run the reader for `input` in `dir` (emptied first). Returns a failure, if any.
pub fn run_input(input: &Input, scratch: &Path, budget: Duration) -> Option<Failure> {
    run_input_outcome(input, scratch, budget).0
}

/// [`run_input`] plus the normalised outcome (see `OUTCOME`).
pub fn run_input_outcome(input: &Input, scratch: &Path, budget: Duration) -> (Option<Failure>, String) {
    OUTCOME.with(|o| o.borrow_mut().clear());
    let f = run_input_inner(input, scratch, budget);
    let outcome = OUTCOME.with(|o| std::mem::take(&mut *o.borrow_mut()));
    (f, format!("{:?}:{outcome}", input.target))
}

fn run_input_inner(input: &Input, scratch: &Path, budget: Duration) -> Option<Failure> {
    let _ = std::fs::remove_dir_all(scratch);
    // The folder is named after the target, so a worker that dies leaves input and target.
    let dir = &scratch.join(format!("{:?}", input.target));
    if std::fs::create_dir_all(dir).is_err() {
        return Some(Failure::Invariant(format!("cannot create {}", dir.display())));
    }
    let mut paths = Vec::new();
    for (name, data) in &input.files {
        let p = dir.join(name);
        if std::fs::write(&p, data).is_err() {
            return Some(Failure::Invariant(format!("cannot write {}", p.display())));
        }
        paths.push(p);
    }
    let t0 = Instant::now();
    let r = catch_panic(|| run_target(input.target, dir, &paths, &input.files));
    let dt = t0.elapsed();
    match r {
        Err(m) => Some(Failure::Panic(m)),
        Ok(Err(m)) => Some(Failure::Invariant(m)),
        Ok(Ok(())) if dt > budget => Some(Failure::Slow(dt)),
        Ok(Ok(())) => None,
    }
}

thread_local! {
    /// What the readers said during one execution, normalised (digits dropped, first words):
    /// the fuzzer keeps an input in its corpus when this outcome was not seen before, a cheap
    /// stand-in for coverage feedback that lets mutations stack.
    static OUTCOME: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

fn note(msg: &str) {
    let short: String = msg.chars().filter(|c| !c.is_ascii_digit()).take(48).collect();
    OUTCOME.with(|o| {
        let mut o = o.borrow_mut();
        if o.len() < 1024 {
            o.push_str(&short);
            o.push('|');
        }
    });
}

fn nonempty(what: &str, msg: String) -> Result<(), String> {
    note(&msg);
    if msg.trim().is_empty() {
        Err(format!("{what}: error without a message"))
    } else {
        Ok(())
    }
}

fn run_target(
    target: Target,
    dir: &Path,
    paths: &[PathBuf],
    files: &[(String, Vec<u8>)],
) -> Result<(), String> {
    match target {
        Target::Ct => {
            let ctx = JobCtx::default();
            let rep = match scan(&[dir.to_path_buf()], &ctx) {
                Ok(r) => r,
                Err(e) => return nonempty("scan", e.to_string()),
            };
            for s in &rep.skipped {
                nonempty("skipped reason", s.reason.clone())?;
            }
            for e in &rep.series {
                for w in &e.warnings {
                    note(w);
                }
            }
            for e in &rep.series {
                match load_series(e, &ctx) {
                    Ok(l) => {
                        note("loaded");
                        for w in &l.report.warnings {
                            note(w);
                        }
                        let g = &l.volume.geometry;
                        let n = g.dims[0]
                            .checked_mul(g.dims[1])
                            .and_then(|x| x.checked_mul(g.dims[2]));
                        if n != Some(l.volume.hu.len()) {
                            return Err(format!(
                                "volume of {} voxels for dims {:?}",
                                l.volume.hu.len(),
                                g.dims
                            ));
                        }
                        if g.spacing_mm.iter().any(|s| !s.is_finite() || *s <= 0.0) {
                            return Err(format!("loaded with spacing {:?}", g.spacing_mm));
                        }
                    }
                    Err(e) => nonempty("load_series", e.to_string())?,
                }
                if let Err(e) = thumbnail(e) {
                    nonempty("thumbnail", e.to_string())?;
                }
            }
            Ok(())
        }
        Target::Seg | Target::Rtstruct => {
            let (g, ids) = ct_grid();
            let opts = ImportOptions {
                allow_missing_frame_of_reference: true,
                ..ImportOptions::default()
            };
            let Some(p) = paths.first() else { return Ok(()) };
            let r = if target == Target::Seg {
                import_seg(p, &g, &ids, &opts)
            } else {
                import_rtstruct(p, &g, &ids, &opts)
            };
            match r {
                Ok(s) => {
                    note(&format!("imported {}", s.structures.len()));
                    for w in &s.warnings {
                        note(w);
                    }
                    for st in &s.structures {
                        if st.mask().dims() != g.dims {
                            return Err(format!("mask dims {:?} on a {:?} grid", st.mask().dims(), g.dims));
                        }
                    }
                    Ok(())
                }
                Err(e) => nonempty("import", e.to_string()),
            }
        }
        Target::Nifti => {
            let (g, _) = ct_grid();
            let Some(p) = paths.first() else { return Ok(()) };
            match ablaplan::anatomy::nifti::import_label_map_report(p, &g) {
                Ok(_) => Ok(()),
                Err(e) => nonempty("nifti", e.to_string()),
            }
        }
        Target::Case => {
            let text = String::from_utf8_lossy(&files[0].1);
            let tissues =
                ablaplan::plan::tissue_params::builtin_tissue_params().map_err(|e| e.to_string())?;
            let catalog = ablaplan::plan::catalog::builtin_catalog().map_err(|e| e.to_string())?;
            match ablaplan::plan::case::CaseFile::from_json(&text, "case.json") {
                Ok(c) => match c.validate("case.json", &tissues, &catalog) {
                    Ok(()) => Ok(()),
                    Err(e) => nonempty("case validate", e.to_string()),
                },
                Err(e) => nonempty("case parse", e.to_string()),
            }
        }
    }
}

thread_local! {
    static PANIC_AT: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
    static IN_TARGET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Install (once) a panic hook that, while this thread runs a target under [`catch_panic`],
/// records the location instead of printing; other panics (a failing test assertion) go to the
/// previous hook as usual.
pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !IN_TARGET.with(std::cell::Cell::get) {
                return previous(info);
            }
            let loc = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            PANIC_AT.with(|c| *c.borrow_mut() = Some(loc));
        }));
    });
}

fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    IN_TARGET.with(|c| c.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    IN_TARGET.with(|c| c.set(false));
    r.map_err(|p| {
        let msg = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = PANIC_AT.with(|c| c.borrow_mut().take()).unwrap_or_default();
        format!("{msg} at {at}")
    })
}

/// Statistics of a run.
#[derive(Debug, Default)]
pub struct Stats {
    pub execs: u64,
    pub per_target: std::collections::BTreeMap<String, u64>,
    /// Distinct failures (by key) with the first input that showed them.
    pub failures: std::collections::BTreeMap<String, (Failure, Input)>,
    pub slowest: Duration,
    /// Inputs kept for their new outcome.
    pub corpus: usize,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} input of {} file(s)", self.target, self.files.len())
    }
}

/// Run `execs` executions from `seed` in `dir`; `on_exec` is called after each (progress,
/// stop requests).
pub fn fuzz(
    seed: u64,
    execs: u64,
    dir: &Path,
    budget: Duration,
    mut on_exec: impl FnMut(&Stats) -> bool,
) -> Stats {
    quiet_panics();
    let all = seeds();
    let mut rng = Rng::new(seed);
    let mut stats = Stats::default();
    // Inputs with an outcome not seen before join the corpus (bounded), so mutations stack.
    const CORPUS_MAX: usize = 4096;
    let mut corpus: Vec<Seed> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    // Seeds themselves first (they must load cleanly enough: no failure).
    for i in 0..execs {
        let s = if !corpus.is_empty() && rng.chance(2) {
            &corpus[rng.below(corpus.len())]
        } else {
            &all[(rng.next() % all.len() as u64) as usize]
        };
        let mut keep = None;
        let input = if i < all.len() as u64 {
            // The unmutated seeds first.
            let s = &all[i as usize];
            match s {
                Seed::Dicom { target, objs } => Input {
                    target: *target,
                    files: objs
                        .iter()
                        .enumerate()
                        .map(|(k, o)| (format!("f{k}.dcm"), o.to_bytes()))
                        .collect(),
                },
                Seed::Bytes { target, data } => Input {
                    target: *target,
                    files: vec![(
                        if *target == Target::Nifti {
                            "label.nii"
                        } else {
                            "case.json"
                        }
                        .into(),
                        data.clone(),
                    )],
                },
            }
        } else {
            let (input, k) = mutate_keep(s, &all, &mut rng);
            keep = k;
            input
        };
        let t0 = Instant::now();
        let (f, outcome) = run_input_outcome(&input, dir, budget);
        if seen.insert(outcome)
            && let Some(k) = keep
        {
            if corpus.len() < CORPUS_MAX {
                corpus.push(k);
            } else {
                let i = rng.below(CORPUS_MAX);
                corpus[i] = k;
            }
        }
        stats.corpus = corpus.len();
        stats.slowest = stats.slowest.max(t0.elapsed());
        stats.execs += 1;
        *stats.per_target.entry(format!("{:?}", input.target)).or_default() += 1;
        if let Some(f) = f {
            let key = format!("{:?}: {}", input.target, f.key());
            stats.failures.entry(key).or_insert((f, input));
        }
        if !on_exec(&stats) {
            break;
        }
    }
    let _ = std::fs::remove_dir_all(dir);
    stats
}

/// What each unmutated seed gives (the smoke test requires every seed to load, so the fuzzer
/// starts from inputs that reach the decoders and importers).
pub fn seed_outcomes(dir: &Path) -> Vec<(String, Result<String, String>)> {
    let mut out = Vec::new();
    for (i, s) in seeds().iter().enumerate() {
        let (target, files): (Target, Vec<(String, Vec<u8>)>) = match s {
            Seed::Dicom { target, objs } => (
                *target,
                objs.iter()
                    .enumerate()
                    .map(|(k, o)| (format!("f{k}.dcm"), o.to_bytes()))
                    .collect(),
            ),
            Seed::Bytes { target, data } => (
                *target,
                vec![(
                    if *target == Target::Nifti {
                        "label.nii"
                    } else {
                        "case.json"
                    }
                    .into(),
                    data.clone(),
                )],
            ),
        };
        let _ = std::fs::remove_dir_all(dir);
        let _ = std::fs::create_dir_all(dir);
        let mut paths = Vec::new();
        for (n, d) in &files {
            let p = dir.join(n);
            let _ = std::fs::write(&p, d);
            paths.push(p);
        }
        let ts = match s {
            Seed::Dicom { objs, .. } => objs.first().map(|o| o.ts.clone()).unwrap_or_default(),
            _ => String::new(),
        };
        let name = format!("seed {i} {target:?} {ts}");
        let (g, ids) = ct_grid();
        let opts = ImportOptions::default();
        let r = match target {
            Target::Ct => {
                let ctx = JobCtx::default();
                match scan(&[dir.to_path_buf()], &ctx) {
                    Err(e) => Err(e.to_string()),
                    Ok(rep) if rep.series.len() != 1 => {
                        Err(format!("{} series, skipped {:?}", rep.series.len(), rep.skipped))
                    }
                    Ok(rep) => match load_series(&rep.series[0], &ctx) {
                        Ok(l) if l.report.skipped.is_empty() => {
                            Ok(format!("{:?} {:?}", l.volume.geometry.dims, l.report.warnings))
                        }
                        Ok(l) => Err(format!("skipped {:?}", l.report.skipped)),
                        Err(e) => Err(e.to_string()),
                    },
                }
            }
            Target::Seg => import_seg(&paths[0], &g, &ids, &opts)
                .map(|s| {
                    format!(
                        "{} structure(s), {} voxels {:?}",
                        s.structures.len(),
                        s.structures.iter().map(|x| x.mask().voxel_count()).sum::<usize>(),
                        s.warnings
                    )
                })
                .map_err(|e| e.to_string()),
            Target::Rtstruct => import_rtstruct(&paths[0], &g, &ids, &opts)
                .map(|s| {
                    format!(
                        "{} structure(s), {} voxels {:?}",
                        s.structures.len(),
                        s.structures.iter().map(|x| x.mask().voxel_count()).sum::<usize>(),
                        s.warnings
                    )
                })
                .map_err(|e| e.to_string()),
            Target::Nifti => ablaplan::anatomy::nifti::import_label_map_report(&paths[0], &g)
                .map(|r| format!("{} structure(s) {:?}", r.structures.len(), r.warnings))
                .map_err(|e| e.to_string()),
            Target::Case => run_target(target, dir, &paths, &files).map(|_| "valid".to_string()),
        };
        out.push((name, r));
    }
    let _ = std::fs::remove_dir_all(dir);
    out
}

/// Re-run a kept input (a folder of files; its name or `target` says which reader) with the
/// panic hook left alone, so a crash shows its message and backtrace.
pub fn reproduce(dir: &Path, target: &str) -> Result<(), String> {
    let target = match target.to_ascii_lowercase().as_str() {
        "ct" => Target::Ct,
        "seg" => Target::Seg,
        "rtstruct" => Target::Rtstruct,
        "nifti" => Target::Nifti,
        "case" => Target::Case,
        t => return Err(format!("unknown target {t:?}")),
    };
    let mut files = Vec::new();
    let mut paths = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n != "failure.txt" && n != "target.txt")
        })
        .collect();
    names.sort();
    for p in names {
        let d = std::fs::read(&p).map_err(|e| e.to_string())?;
        files.push((
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            d,
        ));
        paths.push(p);
    }
    let scratch = std::env::temp_dir().join(format!("ablaplan-fuzz-repro-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let mut sp = Vec::new();
    for (n, d) in &files {
        let p = scratch.join(n);
        std::fs::write(&p, d).map_err(|e| e.to_string())?;
        sp.push(p);
    }
    let t0 = Instant::now();
    let r = run_target(target, &scratch, &sp, &files);
    eprintln!("{:?} in {:?}", r, t0.elapsed());
    let _ = std::fs::remove_dir_all(&scratch);
    r
}
