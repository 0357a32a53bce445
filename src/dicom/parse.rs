//! A small, defensive DICOM Part 10 parser that works on a byte buffer.
//!
//! Why our own: the loader needs (a) the exact byte offset of the pixel data so uncompressed
//! slices can be converted straight from the file bytes, (b) every declared length checked
//! against the bytes that actually exist *before* anything is allocated, and (c) tolerance of
//! the usual real-world defects (no preamble / no meta, a transfer syntax in the meta that does
//! not match the data set, explicit VR "UN" sequences, an invalid sequence inside a valid file).
//! Values are kept as byte ranges into the buffer; nothing is copied until an accessor asks.
//! Compressed pixel data is decoded by the codecs of `dicom-transfer-syntax-registry`
//! (see `decode.rs`).

use std::io::Read;

/// Hard cap for any single buffer we create from file data (inflated data set, decoded frame).
pub const MAX_BYTES: usize = 2 << 30;
/// Maximum sequence nesting depth (real data sets use < 6).
const MAX_DEPTH: usize = 24;

pub const TAG_PIXEL_DATA: u32 = 0x7FE0_0010;
const TAG_FLOAT_PIXEL_DATA: u32 = 0x7FE0_0008;
const TAG_DOUBLE_PIXEL_DATA: u32 = 0x7FE0_0009;
const TAG_ITEM: u32 = 0xFFFE_E000;
const TAG_ITEM_DELIM: u32 = 0xFFFE_E00D;
const TAG_SEQ_DELIM: u32 = 0xFFFE_E0DD;
const UNDEFINED: u32 = 0xFFFF_FFFF;

pub const TS_IMPLICIT_LE: &str = "1.2.840.10008.1.2";
pub const TS_EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
pub const TS_EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
pub const TS_DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// Why a buffer could not be parsed.
#[derive(Clone, Debug, PartialEq)]
pub enum ParseError {
    /// The buffer ended inside an element; more bytes (if the file has them) may help.
    NeedMore { at: usize },
    /// The data is malformed; the message says where and how.
    Malformed(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::NeedMore { at } => write!(f, "the file ends unexpectedly at byte {at} (truncated)"),
            ParseError::Malformed(m) => f.write_str(m),
        }
    }
}

/// Byte order and VR encoding of a data set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Encoding {
    pub little: bool,
    pub explicit: bool,
}

impl Encoding {
    pub const IMPLICIT_LE: Encoding = Encoding {
        little: true,
        explicit: false,
    };
    pub const EXPLICIT_LE: Encoding = Encoding {
        little: true,
        explicit: true,
    };
    pub const EXPLICIT_BE: Encoding = Encoding {
        little: false,
        explicit: true,
    };
}

/// One data element; the value is `buf[off..off + len]` of the owning [`Parsed`].
#[derive(Clone, Debug)]
pub struct Element {
    pub tag: u32,
    #[allow(dead_code)]
    pub vr: [u8; 2],
    pub off: usize,
    pub len: usize,
    /// Parsed items when the element is a sequence.
    pub items: Option<Vec<DataSet>>,
}

#[derive(Clone, Debug, Default)]
pub struct DataSet {
    pub elems: Vec<Element>,
    pub little: bool,
}

/// Location of the pixel data in the buffer.
#[derive(Clone, Debug, PartialEq)]
pub enum PixelLoc {
    /// Native pixel data: `buf[off..off + len]`; `declared` is the length in the header.
    Native { off: usize, len: usize, declared: usize },
    /// Encapsulated pixel data: basic offset table and fragments (offset, length).
    Encapsulated {
        offset_table: Vec<u32>,
        fragments: Vec<(usize, usize)>,
    },
    /// Encapsulated pixel data starting at `off` that was not parsed (header-only read).
    EncapsulatedUnparsed { off: usize },
    /// Float / double pixel data (not a CT storage format).
    Float,
}

/// A parsed file: buffer, root data set, meta information and pixel data location.
#[derive(Debug, Default)]
pub struct Parsed {
    pub buf: Vec<u8>,
    /// File meta elements (always explicit VR LE); values index `meta_buf`.
    pub meta: DataSet,
    pub meta_buf: Vec<u8>,
    pub root: DataSet,
    /// The transfer syntax the data set was actually read with.
    pub ts: String,
    /// The transfer syntax UID written in the file meta, if any.
    #[allow(dead_code)]
    pub meta_ts: Option<String>,
    pub pixel: Option<PixelLoc>,
    /// Things a careful reader should know (corrected transfer syntax, missing meta, …).
    pub notes: Vec<String>,
    /// True when the parse stopped at the pixel data (header-only read).
    #[allow(dead_code)]
    pub header_only: bool,
    /// Size of the file on disk (of the compressed file for deflated data sets).
    pub file_len: usize,
}

fn tag_str(tag: u32) -> String {
    format!("({:04X},{:04X})", tag >> 16, tag & 0xFFFF)
}

fn is_vr(b: &[u8]) -> bool {
    matches!(
        b,
        b"AE"
            | b"AS"
            | b"AT"
            | b"CS"
            | b"DA"
            | b"DS"
            | b"DT"
            | b"FL"
            | b"FD"
            | b"IS"
            | b"LO"
            | b"LT"
            | b"OB"
            | b"OD"
            | b"OF"
            | b"OL"
            | b"OV"
            | b"OW"
            | b"PN"
            | b"SH"
            | b"SL"
            | b"SQ"
            | b"SS"
            | b"ST"
            | b"SV"
            | b"TM"
            | b"UC"
            | b"UI"
            | b"UL"
            | b"UN"
            | b"UR"
            | b"US"
            | b"UT"
            | b"UV"
    )
}

fn long_length_vr(vr: &[u8; 2]) -> bool {
    matches!(
        vr,
        b"OB" | b"OD" | b"OF" | b"OL" | b"OV" | b"OW" | b"SQ" | b"UC" | b"UN" | b"UR" | b"UT" | b"SV" | b"UV"
    )
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    little: bool,
}

impl Cursor<'_> {
    fn u16(&mut self) -> Result<u16, ParseError> {
        let b = self
            .buf
            .get(self.pos..self.pos + 2)
            .ok_or(ParseError::NeedMore { at: self.pos })?;
        self.pos += 2;
        Ok(if self.little {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    }
    fn u32(&mut self) -> Result<u32, ParseError> {
        let b = self
            .buf
            .get(self.pos..self.pos + 4)
            .ok_or(ParseError::NeedMore { at: self.pos })?;
        self.pos += 4;
        Ok(if self.little {
            u32::from_le_bytes([b[0], b[1], b[2], b[3]])
        } else {
            u32::from_be_bytes([b[0], b[1], b[2], b[3]])
        })
    }
    fn tag(&mut self) -> Result<u32, ParseError> {
        let g = self.u16()? as u32;
        let e = self.u16()? as u32;
        Ok((g << 16) | e)
    }
}

/// How the data set reader should behave.
#[derive(Clone, Copy)]
struct Opts {
    /// Stop at the pixel data element (header-only read).
    stop_at_pixels: bool,
    /// Length of the whole file (declared lengths beyond it are errors, not `NeedMore`).
    file_len: usize,
}

struct Reader<'a> {
    buf: &'a [u8],
    opts: Opts,
    pixel: Option<PixelLoc>,
    stopped: bool,
    notes: Vec<String>,
}

impl Reader<'_> {
    /// Check that `len` bytes from `pos` exist in the file; `NeedMore` if only the buffer is short.
    fn check_len(&self, tag: u32, pos: usize, len: usize) -> Result<(), ParseError> {
        let end = pos.checked_add(len);
        match end {
            Some(end) if end <= self.buf.len() => Ok(()),
            Some(end) if end <= self.opts.file_len => Err(ParseError::NeedMore { at: pos }),
            _ => Err(ParseError::Malformed(format!(
                "element {} at byte {} declares a length of {} bytes but only {} bytes remain in the file \
                 (corrupt length or truncated file)",
                tag_str(tag),
                pos,
                len,
                self.opts.file_len.saturating_sub(pos)
            ))),
        }
    }

    /// Read elements from `pos` until `end` (or an item delimiter when `end` is `None`).
    /// Returns the position after the last element consumed and whether an item delimiter ended it.
    fn read_dataset(
        &mut self,
        pos: usize,
        end: Option<usize>,
        enc: Encoding,
        depth: usize,
        out: &mut DataSet,
    ) -> Result<usize, ParseError> {
        if depth > MAX_DEPTH {
            return Err(ParseError::Malformed(format!(
                "sequences nested deeper than {MAX_DEPTH} levels"
            )));
        }
        out.little = enc.little;
        let mut c = Cursor {
            buf: self.buf,
            pos,
            little: enc.little,
        };
        let mut last_tag = 0u32;
        loop {
            if let Some(end) = end {
                if c.pos >= end {
                    return Ok(c.pos);
                }
            } else if depth == 0 && c.pos >= self.buf.len() {
                if self.buf.len() < self.opts.file_len {
                    return Err(ParseError::NeedMore { at: c.pos });
                }
                return Ok(c.pos);
            }
            let start = c.pos;
            let tag = c.tag()?;
            if tag == TAG_ITEM_DELIM {
                c.u32()?;
                if end.is_none() && depth > 0 {
                    return Ok(c.pos);
                }
                // Stray delimiter: tolerate.
                continue;
            }
            if tag == TAG_SEQ_DELIM && depth == 0 {
                // Stray sequence delimiter at top level: tolerate.
                c.u32()?;
                continue;
            }
            if depth == 0 && tag < last_tag && tag != TAG_ITEM {
                // Out-of-order tag at top level: most likely garbage after a length error.
                if (tag >> 16) != 0xFFFC && (tag >> 16) != 0xFFFA {
                    self.notes.push(format!(
                        "data elements out of order at byte {start} ({} after {})",
                        tag_str(tag),
                        tag_str(last_tag)
                    ));
                }
            }
            last_tag = tag;
            if self.opts.stop_at_pixels && depth == 0 && tag >= TAG_FLOAT_PIXEL_DATA {
                // Header-only read: note where the pixel data starts and stop.
                self.stopped = true;
                if tag == TAG_PIXEL_DATA {
                    let (_vr, len, value_pos) = read_vr_len(&mut c, enc, tag)?;
                    if len == UNDEFINED {
                        self.pixel = Some(PixelLoc::EncapsulatedUnparsed { off: value_pos });
                    } else {
                        let len = len as usize;
                        let avail = self.opts.file_len.saturating_sub(value_pos);
                        self.pixel = Some(PixelLoc::Native {
                            off: value_pos,
                            len: len.min(avail),
                            declared: len,
                        });
                    }
                } else if tag == TAG_FLOAT_PIXEL_DATA || tag == TAG_DOUBLE_PIXEL_DATA {
                    self.pixel = Some(PixelLoc::Float);
                }
                return Ok(start);
            }
            let (vr, len, value_pos) = read_vr_len(&mut c, enc, tag)?;
            if len == UNDEFINED {
                if tag == TAG_PIXEL_DATA && depth == 0 {
                    let (next, ot, frags) = self.read_fragments(value_pos, enc)?;
                    self.pixel = Some(PixelLoc::Encapsulated {
                        offset_table: ot,
                        fragments: frags,
                    });
                    c.pos = next;
                    continue;
                }
                // Undefined length: a sequence. Explicit "UN" sequences are implicit VR LE.
                let item_enc = if enc.explicit && &vr == b"UN" {
                    Encoding::IMPLICIT_LE
                } else {
                    enc
                };
                let mut items = Vec::new();
                let next = self.read_items(value_pos, None, item_enc, depth + 1, &mut items)?;
                out.elems.push(Element {
                    tag,
                    vr: if &vr == b"UN" || !enc.explicit { *b"SQ" } else { vr },
                    off: value_pos,
                    len: 0,
                    items: Some(items),
                });
                c.pos = next;
                continue;
            }
            let len = len as usize;
            self.check_len(tag, value_pos, len)?;
            if let Some(end) = end
                && value_pos + len > end
            {
                return Err(ParseError::Malformed(format!(
                    "element {} at byte {} runs past the end of its enclosing item",
                    tag_str(tag),
                    start
                )));
            }
            if tag == TAG_PIXEL_DATA && depth == 0 {
                self.pixel = Some(PixelLoc::Native {
                    off: value_pos,
                    len,
                    declared: len,
                });
            } else if (tag == TAG_FLOAT_PIXEL_DATA || tag == TAG_DOUBLE_PIXEL_DATA) && depth == 0 {
                self.pixel = Some(PixelLoc::Float);
            }
            let looks_like_items = len >= 8 && {
                let mut p = Cursor {
                    buf: self.buf,
                    pos: value_pos,
                    little: enc.little,
                };
                p.tag().ok() == Some(TAG_ITEM)
            };
            let is_seq =
                (enc.explicit && &vr == b"SQ") || ((!enc.explicit || &vr == b"UN") && looks_like_items);
            let mut items = None;
            if is_seq && len > 0 {
                let item_enc = if enc.explicit && &vr == b"UN" {
                    Encoding::IMPLICIT_LE
                } else {
                    enc
                };
                let mut its = Vec::new();
                match self.read_items(value_pos, Some(value_pos + len), item_enc, depth + 1, &mut its) {
                    Ok(_) => items = Some(its),
                    Err(first) if its.len() > 1 => {
                        // Keep the items read before the damage (e.g. a stale item length).
                        self.notes.push(format!(
                            "sequence {} is damaged after item {} ({first}); the first {} items are used",
                            tag_str(tag),
                            its.len(),
                            its.len()
                        ));
                        items = Some(its);
                    }
                    Err(first) => {
                        // Some writers put implicit-VR items inside explicit-VR files.
                        let alt = Encoding {
                            little: enc.little,
                            explicit: !item_enc.explicit,
                        };
                        let mut its = Vec::new();
                        if self
                            .read_items(value_pos, Some(value_pos + len), alt, depth + 1, &mut its)
                            .is_ok()
                        {
                            self.notes.push(format!(
                                "sequence {} is encoded with the wrong VR mode; read it as {} VR",
                                tag_str(tag),
                                if alt.explicit { "explicit" } else { "implicit" }
                            ));
                            items = Some(its);
                        } else {
                            self.notes.push(format!(
                                "sequence {} could not be read ({first}); ignored",
                                tag_str(tag)
                            ));
                        }
                    }
                }
            } else if is_seq {
                items = Some(Vec::new());
            }
            out.elems.push(Element {
                tag,
                vr: if is_seq { *b"SQ" } else { vr },
                off: value_pos,
                len,
                items,
            });
            c.pos = value_pos + len;
        }
    }

    fn read_items(
        &mut self,
        pos: usize,
        end: Option<usize>,
        enc: Encoding,
        depth: usize,
        out: &mut Vec<DataSet>,
    ) -> Result<usize, ParseError> {
        let mut c = Cursor {
            buf: self.buf,
            pos,
            little: enc.little,
        };
        loop {
            if let Some(end) = end
                && c.pos >= end
            {
                return Ok(c.pos);
            }
            let tag = c.tag()?;
            let len = c.u32()?;
            match tag {
                TAG_SEQ_DELIM => return Ok(c.pos),
                TAG_ITEM => {
                    let mut ds = DataSet::default();
                    if len == UNDEFINED {
                        let next = self.read_dataset(c.pos, None, enc, depth, &mut ds)?;
                        c.pos = next;
                    } else {
                        let len = len as usize;
                        self.check_len(tag, c.pos, len)?;
                        let item_end = c.pos + len;
                        if let Some(end) = end
                            && item_end > end
                        {
                            return Err(ParseError::Malformed(
                                "sequence item runs past the end of its sequence".into(),
                            ));
                        }
                        self.read_dataset(c.pos, Some(item_end), enc, depth, &mut ds)?;
                        c.pos = item_end;
                    }
                    out.push(ds);
                    if out.len() > 10_000_000 {
                        return Err(ParseError::Malformed("absurd number of sequence items".into()));
                    }
                }
                other => {
                    return Err(ParseError::Malformed(format!(
                        "expected a sequence item at byte {}, found tag {}",
                        c.pos - 8,
                        tag_str(other)
                    )));
                }
            }
        }
    }

    /// Encapsulated pixel data: items until the sequence delimiter.
    #[allow(clippy::type_complexity)]
    fn read_fragments(
        &mut self,
        pos: usize,
        enc: Encoding,
    ) -> Result<(usize, Vec<u32>, Vec<(usize, usize)>), ParseError> {
        let mut c = Cursor {
            buf: self.buf,
            pos,
            little: enc.little,
        };
        let mut ot = Vec::new();
        let mut frags = Vec::new();
        let mut first = true;
        loop {
            let tag = c.tag()?;
            let len = c.u32()?;
            match tag {
                TAG_SEQ_DELIM => return Ok((c.pos, ot, frags)),
                TAG_ITEM => {
                    if len == UNDEFINED {
                        return Err(ParseError::Malformed(
                            "pixel data fragment with undefined length".into(),
                        ));
                    }
                    let len = len as usize;
                    self.check_len(tag, c.pos, len)?;
                    if first {
                        let mut oc = Cursor {
                            buf: self.buf,
                            pos: c.pos,
                            little: true,
                        };
                        for _ in 0..len / 4 {
                            ot.push(oc.u32()?);
                        }
                        first = false;
                    } else {
                        frags.push((c.pos, len));
                    }
                    c.pos += len;
                }
                other => {
                    return Err(ParseError::Malformed(format!(
                        "expected a pixel data fragment at byte {}, found tag {}",
                        c.pos - 8,
                        tag_str(other)
                    )));
                }
            }
        }
    }
}

/// Read VR (explicit) and length; returns (vr, length, value position).
fn read_vr_len(c: &mut Cursor<'_>, enc: Encoding, tag: u32) -> Result<([u8; 2], u32, usize), ParseError> {
    if enc.explicit && (tag >> 16) != 0xFFFE {
        let b = c
            .buf
            .get(c.pos..c.pos + 2)
            .ok_or(ParseError::NeedMore { at: c.pos })?;
        let vr = [b[0], b[1]];
        if !is_vr(&vr) {
            return Err(ParseError::Malformed(format!(
                "element {} at byte {} has an invalid VR {:?}",
                tag_str(tag),
                c.pos - 4,
                String::from_utf8_lossy(&vr)
            )));
        }
        c.pos += 2;
        let len = if long_length_vr(&vr) {
            c.pos += 2;
            if c.pos > c.buf.len() {
                return Err(ParseError::NeedMore { at: c.pos });
            }
            c.u32()?
        } else {
            c.u16()? as u32
        };
        Ok((vr, len, c.pos))
    } else {
        let len = c.u32()?;
        Ok((*b"  ", len, c.pos))
    }
}

fn trim_str(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    s.trim_matches(|c: char| c == '\0' || c.is_whitespace())
        .to_string()
}

/// Guess the encoding of a data set that starts at `pos` from its first element.
fn sniff_encoding(buf: &[u8], pos: usize) -> Option<Encoding> {
    let b = buf.get(pos..pos + 8)?;
    let g_le = u16::from_le_bytes([b[0], b[1]]);
    let g_be = u16::from_be_bytes([b[0], b[1]]);
    let vr_ok = is_vr(&b[4..6]);
    let plausible = |g: u16| g.is_multiple_of(2) && (0x0002..=0x0100).contains(&g);
    if plausible(g_le) && (g_le != 0 && g_le <= g_be || !plausible(g_be)) {
        Some(if vr_ok {
            Encoding::EXPLICIT_LE
        } else {
            Encoding::IMPLICIT_LE
        })
    } else if plausible(g_be) {
        if vr_ok { Some(Encoding::EXPLICIT_BE) } else { None }
    } else {
        None
    }
}

/// Encoding implied by a transfer syntax UID: (encoding, deflated).
fn encoding_of_ts(ts: &str) -> (Encoding, bool) {
    match ts {
        TS_IMPLICIT_LE => (Encoding::IMPLICIT_LE, false),
        TS_EXPLICIT_BE => (Encoding::EXPLICIT_BE, false),
        TS_DEFLATED | "1.2.840.10008.1.2.4.95" | "1.2.840.10008.1.2.4.205" => (Encoding::EXPLICIT_LE, true),
        _ => (Encoding::EXPLICIT_LE, false),
    }
}

/// Inflated bytes allowed before the pixel data element of a deflated data set (its header).
/// Real headers are far smaller; an Enhanced CT of a few thousand frames has a few MB.
pub const MAX_INFLATED_HEADER: usize = 256 << 20;
/// Inflated bytes allowed after the pixel data the geometry needs (trailing elements such as
/// padding or digital signatures).
pub const INFLATE_SLACK: usize = 1 << 20;

/// What the header of a (partly inflated) data set says about its pixel data: where its value
/// starts and how many bytes Rows × Columns × frames × samples × bits need.
/// `Ok(None)`: the header is damaged or has no pixel data (nothing more is needed to report
/// that); `Ok(Some((value offset, bytes needed)))`; `Err`: a geometry beyond the limits.
fn pixel_need(prefix: &[u8], enc: Encoding) -> Option<Result<Option<(usize, usize)>, String>> {
    let mut reader = Reader {
        buf: prefix,
        opts: Opts {
            stop_at_pixels: true,
            // Unknown total: running out of bytes is `NeedMore`, never an error.
            file_len: usize::MAX,
        },
        pixel: None,
        stopped: false,
        notes: Vec::new(),
    };
    let mut root = DataSet::default();
    match reader.read_dataset(0, None, enc, 0, &mut root) {
        Err(ParseError::NeedMore { .. }) => return None,
        // Malformed: the full parse reports it; nothing more needs inflating to see it.
        Err(ParseError::Malformed(_)) => return Some(Ok(None)),
        Ok(_) => {}
    }
    let off = match reader.pixel {
        Some(PixelLoc::Native { off, .. }) | Some(PixelLoc::EncapsulatedUnparsed { off }) => off,
        _ => return Some(Ok(None)),
    };
    let u = |tag: u32| root.u16(prefix, tag).unwrap_or(0) as usize;
    let (rows, cols, bits) = (u(0x0028_0010), u(0x0028_0011), u(0x0028_0100));
    let samples = root.u16(prefix, 0x0028_0002).unwrap_or(1) as usize;
    let frames = root.is(prefix, 0x0028_0008).unwrap_or(1).max(1) as u64;
    let need = (rows as u64 * cols as u64)
        .checked_mul(frames)
        .and_then(|n| n.checked_mul(samples as u64))
        .and_then(|n| n.checked_mul(bits as u64))
        .map(|bits| bits.div_ceil(8))
        .filter(|n| *n <= MAX_BYTES as u64);
    Some(match need {
        Some(n) => Ok(Some((off, n as usize))),
        None => Err(format!(
            "the deflated data set declares {rows} × {cols} × {frames} frames × {samples} samples × {bits} bits, more than the 2 GiB limit"
        )),
    })
}

/// Inflate a raw-deflate data set with the registry's deflate adapter, never more than the
/// header's geometry needs: inflate the header (up to [`MAX_INFLATED_HEADER`]) until the pixel
/// data element is reached, then at most the pixel bytes Rows × Columns × frames × samples ×
/// bits need plus [`INFLATE_SLACK`]. Anything beyond is a deflate bomb (2 MB of zeros inflate
/// to 2 GB) and is refused before it is held in memory. With `header_only`, stops at the pixel
/// data element.
/// Returns the bytes and whether they stop at the pixel data (header-only read).
fn inflate(data: &[u8], enc: Encoding, header_only: bool) -> Result<(Vec<u8>, bool), String> {
    use dicom_encoding::Codec;
    use dicom_encoding::transfer_syntax::TransferSyntaxIndex;
    let ts = dicom_transfer_syntax_registry::TransferSyntaxRegistry
        .get(TS_DEFLATED)
        .ok_or("deflate support is missing")?;
    let Codec::Dataset(Some(adapter)) = ts.codec() else {
        return Err("deflate support is not compiled in".into());
    };
    let mut reader = adapter.adapt_reader(Box::new(data));
    let err = |e: std::io::Error| format!("the deflated data set cannot be inflated: {e}");
    let mut out = Vec::new();
    let mut chunk = 64usize << 10;
    // 1. The header, in growing chunks, until the pixel data element shows up.
    let limit = loop {
        let before = out.len();
        (&mut reader)
            .take(chunk as u64)
            .read_to_end(&mut out)
            .map_err(err)?;
        let eof = out.len() - before < chunk;
        // The body's VR mode is checked against its first element as in `parse`.
        let enc = match out.get(4..6) {
            Some(v) if enc.explicit && !is_vr(v) => Encoding::IMPLICIT_LE,
            _ => enc,
        };
        match pixel_need(&out, enc) {
            Some(Ok(Some((off, need)))) => {
                if header_only {
                    // Header read: the pixel data is inflated when the file is loaded.
                    return Ok((out, true));
                }
                break off.saturating_add(need).saturating_add(INFLATE_SLACK);
            }
            // Damaged before the pixel data, or no pixel data: the parse reports it.
            Some(Ok(None)) => return Ok((out, false)),
            Some(Err(e)) => return Err(e),
            None if eof => return Ok((out, false)),
            None if out.len() >= MAX_INFLATED_HEADER => {
                return Err(format!(
                    "the deflated data set inflates to more than {} MiB without reaching its pixel data (deflate bomb or damaged file)",
                    MAX_INFLATED_HEADER >> 20
                ));
            }
            None => chunk = (chunk * 4).min(MAX_INFLATED_HEADER - out.len()),
        }
    };
    // 2. The rest, bounded by the geometry.
    let room = limit.saturating_sub(out.len()) as u64;
    (&mut reader).take(room + 1).read_to_end(&mut out).map_err(err)?;
    if out.len() > limit {
        return Err(format!(
            "the deflated data set inflates to more than {limit} bytes, more than its header's geometry (Rows × Columns × frames × bits) needs: refused (deflate bomb or damaged header)"
        ));
    }
    Ok((out, false))
}

/// Parse a DICOM file held (fully or as a prefix) in `buf`; `file_len` is the real file size.
/// With `header_only`, stops at the pixel data element.
pub fn parse(buf: Vec<u8>, file_len: usize, header_only: bool) -> Result<Parsed, ParseError> {
    if file_len == 0 {
        return Err(ParseError::Malformed("empty file (0 bytes)".into()));
    }
    let mut notes = Vec::new();
    // Preamble + "DICM" at 128, or "DICM" at 0 (some writers drop the preamble only).
    let meta_start = if buf.len() >= 132 && &buf[128..132] == b"DICM" {
        Some(132)
    } else if buf.len() >= 4 && &buf[0..4] == b"DICM" {
        Some(4)
    } else {
        None
    };
    if meta_start.is_none() && buf.len() < 132 && file_len > buf.len() {
        return Err(ParseError::NeedMore { at: buf.len() });
    }
    let mut meta = DataSet {
        elems: Vec::new(),
        little: true,
    };
    let mut meta_ts = None;
    let mut body_pos = 0;
    if let Some(ms) = meta_start {
        // File meta: group 0002, explicit VR LE (tolerate implicit VR).
        let mut c = Cursor {
            buf: &buf,
            pos: ms,
            little: true,
        };
        loop {
            let save = c.pos;
            let Some(b) = buf.get(c.pos..c.pos + 2) else {
                if file_len > buf.len() {
                    return Err(ParseError::NeedMore { at: c.pos });
                }
                break;
            };
            if u16::from_le_bytes([b[0], b[1]]) != 0x0002 {
                break;
            }
            let tag = c.tag()?;
            let explicit = buf.get(c.pos..c.pos + 2).is_some_and(is_vr);
            let enc = if explicit {
                Encoding::EXPLICIT_LE
            } else {
                Encoding::IMPLICIT_LE
            };
            let (vr, len, vpos) = read_vr_len(&mut c, enc, tag)?;
            if len == UNDEFINED || vpos + len as usize > buf.len() {
                if vpos.saturating_add(len as usize) <= file_len && len != UNDEFINED {
                    return Err(ParseError::NeedMore { at: save });
                }
                return Err(ParseError::Malformed(format!(
                    "the file meta information is corrupt: element {} declares {} bytes",
                    tag_str(tag),
                    len
                )));
            }
            meta.elems.push(Element {
                tag,
                vr,
                off: vpos,
                len: len as usize,
                items: None,
            });
            if tag == 0x0002_0010 {
                meta_ts = Some(trim_str(&buf[vpos..vpos + len as usize]));
            }
            c.pos = vpos + len as usize;
        }
        body_pos = c.pos;
        if meta.elems.is_empty() {
            return Err(ParseError::Malformed(
                "the file has the DICOM marker \"DICM\" but no readable file meta information".into(),
            ));
        }
    } else {
        notes.push("no DICOM preamble/file meta information (raw data set); encoding guessed".into());
    }
    // Meta values are copied out so the body buffer can be replaced (deflate).
    let meta_buf: Vec<u8> = buf.get(..body_pos).map(<[u8]>::to_vec).unwrap_or_default();

    let declared = meta_ts.clone().filter(|s| !s.is_empty());
    let (mut enc, deflated) = match &declared {
        Some(ts) => encoding_of_ts(ts),
        None => {
            if meta_start.is_some() {
                notes.push("the file meta information has no TransferSyntaxUID; encoding guessed".into());
            }
            (
                sniff_encoding(&buf, body_pos)
                    .or_else(|| {
                        // After a "DICM" marker the body is DICOM: default to implicit VR LE
                        // unless the first element has a valid explicit VR.
                        meta_start.map(|_| match buf.get(body_pos + 4..body_pos + 6) {
                            Some(v) if is_vr(v) => Encoding::EXPLICIT_LE,
                            _ => Encoding::IMPLICIT_LE,
                        })
                    })
                    .ok_or_else(|| {
                    ParseError::Malformed(if meta_start.is_some() {
                        "the data set after the file meta information is not DICOM".into()
                    } else {
                        "not a DICOM file (no \"DICM\" marker and the content does not look like a DICOM data set)".into()
                    })
                })?,
                false,
            )
        }
    };
    let (body, body_start, body_file_len) = if deflated {
        let raw = buf.get(body_pos..).unwrap_or_default();
        if buf.len() < file_len {
            return Err(ParseError::NeedMore { at: buf.len() });
        }
        let (inflated, at_pixels) = inflate(raw, enc, header_only).map_err(ParseError::Malformed)?;
        let n = inflated.len();
        // A header-only inflate stops at the pixel data: its length is unknown until the file
        // is loaded, so the declared length is trusted here and checked by the full read.
        let len_known = if at_pixels { usize::MAX } else { n };
        (inflated, 0usize, len_known)
    } else {
        (buf, body_pos, file_len)
    };
    // Check the declared encoding against the first element (pydicom does the same).
    if let Some(b) = body.get(body_start..body_start + 6) {
        let vr_ok = is_vr(&b[4..6]);
        if enc.explicit && !vr_ok {
            enc = Encoding {
                little: enc.little,
                explicit: false,
            };
            notes.push(format!(
                "the transfer syntax in the file meta ({}) says explicit VR but the data set is implicit VR; read as implicit VR",
                declared.as_deref().unwrap_or("none")
            ));
        } else if !enc.explicit && vr_ok {
            enc = Encoding {
                little: enc.little,
                explicit: true,
            };
            notes.push(format!(
                "the transfer syntax in the file meta ({}) says implicit VR but the data set is explicit VR; read as explicit VR",
                declared.as_deref().unwrap_or("none")
            ));
        }
    }
    let ts = match (&declared, enc) {
        (Some(t), _) if (t == TS_IMPLICIT_LE) != enc.explicit => t.clone(),
        (_, Encoding { explicit: false, .. }) => TS_IMPLICIT_LE.to_string(),
        (_, Encoding { little: false, .. }) => TS_EXPLICIT_BE.to_string(),
        _ => TS_EXPLICIT_LE.to_string(),
    };
    let mut reader = Reader {
        buf: &body,
        opts: Opts {
            stop_at_pixels: header_only,
            file_len: body_file_len,
        },
        pixel: None,
        stopped: false,
        notes: Vec::new(),
    };
    let mut root = DataSet::default();
    let res = reader.read_dataset(body_start, None, enc, 0, &mut root);
    let pixel = reader.pixel.take();
    let stopped = reader.stopped;
    notes.append(&mut reader.notes);
    match res {
        Ok(_) => {}
        Err(ParseError::NeedMore { at }) => {
            if body_file_len > body.len() {
                return Err(ParseError::NeedMore { at });
            }
            // The file ends inside an element.
            if root.elems.is_empty() {
                return Err(ParseError::Malformed(format!(
                    "the file is truncated at byte {at} inside the header"
                )));
            }
            return Err(ParseError::Malformed(format!(
                "the file is truncated: it ends at byte {} inside the element after {}",
                body_file_len,
                root.elems.last().map(|e| tag_str(e.tag)).unwrap_or_default()
            )));
        }
        Err(e) => return Err(e),
    }
    Ok(Parsed {
        buf: body,
        meta,
        meta_buf,
        root,
        ts,
        meta_ts,
        pixel,
        notes,
        header_only: stopped,
        file_len,
    })
}

/// Read a file header-only: a growing prefix until the pixel data element is reached.
pub fn read_header(path: &std::path::Path) -> Result<Parsed, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let file_len = f
        .metadata()
        .map_err(|e| format!("cannot read metadata: {e}"))?
        .len();
    if file_len == 0 {
        return Err("empty file (0 bytes)".into());
    }
    let file_len = usize::try_from(file_len).map_err(|_| "file too large".to_string())?;
    let mut want = file_len.min(64 * 1024);
    let mut buf = Vec::new();
    loop {
        let have = buf.len();
        if want > have {
            buf.resize(want, 0);
            f.read_exact(&mut buf[have..want])
                .map_err(|e| format!("read error: {e}"))?;
        }
        match parse(std::mem::take(&mut buf), file_len, true) {
            Ok(p) => return Ok(p),
            Err(ParseError::NeedMore { .. }) if want < file_len => {
                // `parse` consumed the buffer: re-read (simple and rare).
                use std::io::Seek;
                f.seek(std::io::SeekFrom::Start(0))
                    .map_err(|e| format!("read error: {e}"))?;
                want = (want * 4).min(file_len);
                buf = Vec::new();
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Read and parse a whole file.
pub fn read_full(path: &std::path::Path) -> Result<Parsed, String> {
    let buf = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let n = buf.len();
    parse(buf, n, false).map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------------------------
// Value access

impl DataSet {
    pub fn get(&self, tag: u32) -> Option<&Element> {
        self.elems.iter().find(|e| e.tag == tag)
    }

    pub fn items(&self, tag: u32) -> Option<&[DataSet]> {
        self.get(tag).and_then(|e| e.items.as_deref())
    }

    /// First item of a sequence.
    pub fn item(&self, tag: u32) -> Option<&DataSet> {
        self.items(tag).and_then(|i| i.first())
    }

    pub fn bytes<'a>(&self, buf: &'a [u8], tag: u32) -> Option<&'a [u8]> {
        let e = self.get(tag)?;
        if e.items.is_some() {
            return None;
        }
        buf.get(e.off..e.off + e.len)
    }

    /// Text value, trimmed; `None` if absent. Empty string if present but empty.
    pub fn string(&self, buf: &[u8], tag: u32) -> Option<String> {
        self.bytes(buf, tag).map(trim_str)
    }

    pub fn str_or_empty(&self, buf: &[u8], tag: u32) -> String {
        self.string(buf, tag).unwrap_or_default()
    }

    /// Unsigned 16-bit value (US; also works for UN in the data set's byte order).
    pub fn u16(&self, buf: &[u8], tag: u32) -> Option<u16> {
        let b = self.bytes(buf, tag)?;
        let b = b.get(0..2)?;
        Some(if self.little {
            u16::from_le_bytes([b[0], b[1]])
        } else {
            u16::from_be_bytes([b[0], b[1]])
        })
    }

    /// Backslash-separated text values.
    pub fn multi(&self, buf: &[u8], tag: u32) -> Option<Vec<String>> {
        let s = self.string(buf, tag)?;
        Some(
            s.split('\\')
                .map(|v| {
                    v.trim_matches(|c: char| c == '\0' || c.is_whitespace())
                        .to_string()
                })
                .collect(),
        )
    }

    /// Decimal string values; `Err(raw text)` when present but not all numeric.
    pub fn ds(&self, buf: &[u8], tag: u32) -> Option<Result<Vec<f64>, String>> {
        let s = self.string(buf, tag)?;
        if s.is_empty() {
            return Some(Ok(Vec::new()));
        }
        let vals: Result<Vec<f64>, _> = s
            .split('\\')
            .map(|v| {
                v.trim_matches(|c: char| c == '\0' || c.is_whitespace())
                    .parse::<f64>()
            })
            .collect();
        Some(match vals {
            Ok(v) if v.iter().all(|x| x.is_finite()) => Ok(v),
            _ => Err(s),
        })
    }

    /// Integer string (IS) first value.
    pub fn is(&self, buf: &[u8], tag: u32) -> Option<i64> {
        let s = self.string(buf, tag)?;
        let first = s.split('\\').next()?.trim();
        first.parse::<i64>().ok().or_else(|| {
            first
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .map(|f| f as i64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explicit_le_elem(tag: u32, vr: &[u8; 2], val: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((tag >> 16) as u16).to_le_bytes());
        v.extend_from_slice(&((tag & 0xFFFF) as u16).to_le_bytes());
        v.extend_from_slice(vr);
        if long_length_vr(vr) {
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(&(val.len() as u32).to_le_bytes());
        } else {
            v.extend_from_slice(&(val.len() as u16).to_le_bytes());
        }
        v.extend_from_slice(val);
        v
    }

    fn file(body: &[u8], ts: &str) -> Vec<u8> {
        let mut f = vec![0u8; 128];
        f.extend_from_slice(b"DICM");
        let mut t = ts.as_bytes().to_vec();
        if t.len() % 2 == 1 {
            t.push(0);
        }
        f.extend(explicit_le_elem(0x0002_0010, b"UI", &t));
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn reads_explicit_le_and_pixel_offset() {
        let mut body = explicit_le_elem(0x0008_0060, b"CS", b"CT");
        body.extend(explicit_le_elem(0x0028_0010, b"US", &2u16.to_le_bytes()));
        body.extend(explicit_le_elem(TAG_PIXEL_DATA, b"OW", &[1, 0, 2, 0]));
        let f = file(&body, TS_EXPLICIT_LE);
        let n = f.len();
        let p = parse(f, n, false).unwrap();
        assert_eq!(p.root.string(&p.buf, 0x0008_0060).as_deref(), Some("CT"));
        assert_eq!(p.root.u16(&p.buf, 0x0028_0010), Some(2));
        match p.pixel {
            Some(PixelLoc::Native { off, len, .. }) => {
                assert_eq!(len, 4);
                assert_eq!(&p.buf[off..off + 4], &[1, 0, 2, 0]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn oversized_length_is_an_error_not_an_allocation() {
        let mut body = explicit_le_elem(0x0008_0060, b"CS", b"CT");
        // (0008,0070) LO with a long-length VR UT claiming 0x7FFFFFF0 bytes
        body.extend_from_slice(&[0x08, 0x00, 0x70, 0x00, b'U', b'T', 0, 0]);
        body.extend_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
        body.extend_from_slice(b"abcd");
        let f = file(&body, TS_EXPLICIT_LE);
        let n = f.len();
        let e = parse(f, n, false).unwrap_err();
        assert!(e.to_string().contains("declares a length of"), "{e}");
    }

    #[test]
    fn wrong_ts_in_meta_is_corrected() {
        // Implicit VR body, meta says explicit.
        let mut body = Vec::new();
        body.extend_from_slice(&[0x08, 0x00, 0x60, 0x00, 2, 0, 0, 0]);
        body.extend_from_slice(b"CT");
        let f = file(&body, TS_EXPLICIT_LE);
        let n = f.len();
        let p = parse(f, n, false).unwrap();
        assert_eq!(p.root.string(&p.buf, 0x0008_0060).as_deref(), Some("CT"));
        assert_eq!(p.ts, TS_IMPLICIT_LE);
        assert!(!p.notes.is_empty());
    }

    #[test]
    fn garbage_is_rejected() {
        let f = b"hello, this is not a DICOM file at all, just some text that goes on and on and on and on and on and on and on and on and on and on and on and on".to_vec();
        let n = f.len();
        assert!(parse(f, n, false).is_err());
    }
}
