//! Byte-level helpers around what travels on the network: splitting a Part-10 file into its
//! meta information and the data set (the SCU sends the data set untouched), writing a Part-10
//! file around a received data set (the SCP stores it untouched), and a bounded walk over the
//! top-level elements of a data set or DIMSE command to pick out a few UIDs.
//!
//! Why not `dicom-object` for the walk: its decoder sizes a buffer from the declared length
//! before reading, so a peer that declares a 4 GB element would make us allocate 4 GB. Here
//! every length is checked against the bytes actually received and nothing is allocated from it.

use dicom_object::FileMetaTableBuilder;

pub const TS_IMPLICIT_LE: &str = "1.2.840.10008.1.2";
pub const TS_EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
pub const TS_EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";
pub const TS_DEFLATED: &str = "1.2.840.10008.1.2.1.99";

/// Nesting depth of sequences the walk follows before it gives up (real objects nest < 10).
const MAX_DEPTH: usize = 32;
const UNDEFINED: u32 = 0xFFFF_FFFF;

/// The meta information of a Part-10 file and where its data set starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Part10 {
    pub sop_class_uid: String,
    pub sop_instance_uid: String,
    pub transfer_syntax: String,
    /// Byte offset of the data set (after preamble, "DICM" and group 0002).
    pub dataset_offset: usize,
}

/// Reads the file meta group of a Part-10 file held in `buf`. The error says what is missing.
pub fn split_part10(buf: &[u8]) -> Result<Part10, String> {
    if buf.get(128..132) != Some(b"DICM".as_slice()) {
        return Err("not a DICOM Part-10 file (no \"DICM\" marker at byte 128)".into());
    }
    let mut pos = 132;
    let (mut class, mut inst, mut ts) = (None, None, None);
    // Group 0002 is always explicit VR little endian.
    while let Some(h) = buf.get(pos..pos + 8) {
        let group = u16::from_le_bytes([h[0], h[1]]);
        if group != 0x0002 {
            break;
        }
        let tag = (u32::from(group) << 16) | u32::from(u16::from_le_bytes([h[2], h[3]]));
        let vr = [h[4], h[5]];
        let (len, vpos) = if long_vr(vr) {
            let l = buf
                .get(pos + 8..pos + 12)
                .ok_or("the file meta information is truncated")?;
            (u32::from_le_bytes([l[0], l[1], l[2], l[3]]), pos + 12)
        } else {
            (u32::from(u16::from_le_bytes([h[6], h[7]])), pos + 8)
        };
        let end = vpos
            .checked_add(len as usize)
            .filter(|&e| len != UNDEFINED && e <= buf.len())
            .ok_or_else(|| {
                format!(
                    "the file meta element ({:04X},{:04X}) runs past the end",
                    tag >> 16,
                    tag & 0xFFFF
                )
            })?;
        let value = || trim_uid(&buf[vpos..end]);
        match tag {
            0x0002_0002 => class = Some(value()),
            0x0002_0003 => inst = Some(value()),
            0x0002_0010 => ts = Some(value()),
            _ => {}
        }
        pos = end;
    }
    let need = |v: Option<String>, what: &str| {
        v.filter(|s| !s.is_empty())
            .ok_or(format!("the file meta information has no {what}"))
    };
    Ok(Part10 {
        sop_class_uid: need(class, "MediaStorageSOPClassUID (0002,0002)")?,
        sop_instance_uid: need(inst, "MediaStorageSOPInstanceUID (0002,0003)")?,
        transfer_syntax: need(ts, "TransferSyntaxUID (0002,0010)")?,
        dataset_offset: pos,
    })
}

/// The bytes of a Part-10 file around `dataset`: 128-byte preamble, "DICM", the file meta
/// group (written by `dicom-object`), nothing else — the data set itself is not touched.
pub fn part10_header(
    sop_class_uid: &str,
    sop_instance_uid: &str,
    transfer_syntax: &str,
    source_ae: &str,
) -> Result<Vec<u8>, String> {
    let mut b = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(sop_class_uid)
        .media_storage_sop_instance_uid(sop_instance_uid)
        .transfer_syntax(transfer_syntax)
        .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
        .implementation_version_name("ABLAPLAN");
    if !source_ae.is_empty() {
        b = b.source_application_entity_title(source_ae);
    }
    let meta = b
        .build()
        .map_err(|e| format!("cannot build the file meta information: {e}"))?;
    let mut out = vec![0u8; 128];
    out.extend_from_slice(b"DICM");
    meta.write(&mut out)
        .map_err(|e| format!("cannot write the file meta information: {e}"))?;
    Ok(out)
}

/// ablaplan's implementation class UID in the files it writes (a 2.25 UUID-derived root, so
/// no registration is needed; fixed so files written by different versions can be traced).
pub const IMPLEMENTATION_CLASS_UID: &str = "2.25.190544870356651380871536346129706373185";

/// How a data set is encoded, from its transfer syntax. `None` for deflated data sets, whose
/// bytes cannot be walked without inflating them first.
pub fn encoding_of(ts: &str) -> Option<(bool, bool)> {
    // (explicit VR, little endian); every syntax but the two below is explicit VR LE.
    match ts {
        TS_IMPLICIT_LE => Some((false, true)),
        TS_EXPLICIT_BE => Some((true, false)),
        TS_DEFLATED => None,
        _ => Some((true, true)),
    }
}

/// One top-level element of a data set: its tag and byte ranges.
#[derive(Clone, Debug, PartialEq)]
pub struct TopElement {
    pub tag: u32,
    /// Where the element (header included) starts and ends.
    pub range: std::ops::Range<usize>,
    /// Where its value starts; `None` for undefined lengths (sequences, encapsulated data).
    pub value_start: Option<usize>,
}

/// The top-level elements of a data set in order, up to and including the first tag above
/// `stop_after` (which ends the walk). Sequences are skipped without being read.
pub fn top_level(
    buf: &[u8],
    explicit: bool,
    little: bool,
    stop_after: u32,
) -> Result<Vec<TopElement>, String> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let el = read_element(buf, pos, explicit, little)?;
        let next = skip_value(buf, &el, explicit, little, 0)?;
        out.push(TopElement {
            tag: el.tag,
            range: pos..next,
            value_start: (el.len != UNDEFINED).then_some(el.value_pos),
        });
        if el.tag > stop_after {
            break;
        }
        pos = next;
    }
    Ok(out)
}

/// The values of `wanted` top-level tags (trimmed strings) of a data set, walking elements in
/// order and stopping past the largest wanted tag.
pub fn find_strings(
    buf: &[u8],
    explicit: bool,
    little: bool,
    wanted: &[u32],
) -> Result<Vec<(u32, String)>, String> {
    let last = wanted.iter().copied().max().unwrap_or(0);
    Ok(top_level(buf, explicit, little, last)?
        .into_iter()
        .filter(|e| wanted.contains(&e.tag))
        .filter_map(|e| e.value_start.map(|v| (e.tag, trim_uid(&buf[v..e.range.end]))))
        .collect())
}

/// A value of a found tag, or "".
pub fn value_of(found: &[(u32, String)], tag: u32) -> &str {
    found
        .iter()
        .find(|(t, _)| *t == tag)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

struct Header {
    tag: u32,
    vr: [u8; 2],
    len: u32,
    value_pos: usize,
}

fn long_vr(vr: [u8; 2]) -> bool {
    matches!(
        &vr,
        b"OB" | b"OD" | b"OF" | b"OL" | b"OV" | b"OW" | b"SQ" | b"SV" | b"UC" | b"UN" | b"UR" | b"UT" | b"UV"
    )
}

fn u16_at(b: &[u8], little: bool) -> u16 {
    if little {
        u16::from_le_bytes([b[0], b[1]])
    } else {
        u16::from_be_bytes([b[0], b[1]])
    }
}

fn u32_at(b: &[u8], little: bool) -> u32 {
    if little {
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    } else {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
}

fn truncated(pos: usize) -> String {
    format!("the data set is truncated or malformed at byte {pos}")
}

fn read_element(buf: &[u8], pos: usize, explicit: bool, little: bool) -> Result<Header, String> {
    let h = buf.get(pos..pos + 8).ok_or_else(|| truncated(pos))?;
    let group = u16_at(&h[0..2], little);
    let tag = (u32::from(group) << 16) | u32::from(u16_at(&h[2..4], little));
    // Item and delimitation tags (FFFE,xxxx) never carry a VR.
    if explicit && group != 0xFFFE {
        let vr = [h[4], h[5]];
        if !vr.iter().all(u8::is_ascii_uppercase) {
            return Err(format!("the data set has no valid VR at byte {}", pos + 4));
        }
        if long_vr(vr) {
            let l = buf.get(pos + 8..pos + 12).ok_or_else(|| truncated(pos))?;
            return Ok(Header {
                tag,
                vr,
                len: u32_at(l, little),
                value_pos: pos + 12,
            });
        }
        return Ok(Header {
            tag,
            vr,
            len: u32::from(u16_at(&h[6..8], little)),
            value_pos: pos + 8,
        });
    }
    Ok(Header {
        tag,
        vr: *b"UN",
        len: u32_at(&h[4..8], little),
        value_pos: pos + 8,
    })
}

/// The position after `el`'s value; undefined lengths (sequences, items, encapsulated pixel
/// data) are followed to their delimiter, at most `MAX_DEPTH` deep.
fn skip_value(buf: &[u8], el: &Header, explicit: bool, little: bool, depth: usize) -> Result<usize, String> {
    if el.len != UNDEFINED {
        return el
            .value_pos
            .checked_add(el.len as usize)
            .filter(|&e| e <= buf.len())
            .ok_or_else(|| {
                format!(
                    "element ({:04X},{:04X}) runs past the end of the data",
                    el.tag >> 16,
                    el.tag & 0xFFFF
                )
            });
    }
    if depth >= MAX_DEPTH {
        return Err(format!("sequences nest deeper than {MAX_DEPTH} levels"));
    }
    // Items of a sequence or fragments of encapsulated pixel data: implicit VR inside
    // encapsulated data and in implicit data sets; the item's own elements follow the data set.
    let mut pos = el.value_pos;
    loop {
        let item = read_element(buf, pos, false, little)?;
        match item.tag {
            0xFFFE_E0DD => return Ok(item.value_pos),
            0xFFFE_E000 if item.len != UNDEFINED => {
                pos = skip_value(buf, &item, explicit, little, depth + 1)?
            }
            0xFFFE_E000 => {
                // An item of undefined length: its elements up to the item delimiter.
                pos = item.value_pos;
                loop {
                    let inner = read_element(buf, pos, explicit, little)?;
                    if inner.tag == 0xFFFE_E00D {
                        pos = inner.value_pos;
                        break;
                    }
                    pos = skip_value(buf, &inner, explicit, little, depth + 1)?;
                }
            }
            _ => {
                let _ = el.vr;
                return Err(format!(
                    "unexpected tag ({:04X},{:04X}) inside a sequence at byte {pos}",
                    item.tag >> 16,
                    item.tag & 0xFFFF
                ));
            }
        }
    }
}

/// A UID or short string from DICOM bytes: trailing NUL / space padding removed; anything that
/// is not printable ASCII becomes '?', so it is safe to show and to compare.
pub fn trim_uid(b: &[u8]) -> String {
    let s: String = b
        .iter()
        .map(|&c| {
            if (0x20..0x7F).contains(&c) {
                c as char
            } else {
                '\0'
            }
        })
        .collect();
    s.trim_end_matches(['\0', ' ']).trim_start().replace('\0', "?")
}

/// A UID as a file or folder name: only digits and dots kept (what a valid UID holds), at
/// most 64 characters (+ a prefix), never empty nor starting with a dot. Anything else becomes '_' so a peer cannot
/// steer a path (`../`, `/`, drive letters) through a UID.
pub fn uid_as_name(uid: &str) -> String {
    let mut s: String = uid
        .chars()
        .take(64)
        .map(|c| if c.is_ascii_digit() || c == '.' { c } else { '_' })
        .collect();
    // Never empty, never hidden (".", "..", or a dot file the listing would skip).
    if s.is_empty() || s.starts_with('.') {
        s = format!("unknown{s}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn implicit(tag: u32, value: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&((tag >> 16) as u16).to_le_bytes());
        v.extend_from_slice(&((tag & 0xFFFF) as u16).to_le_bytes());
        v.extend_from_slice(&(value.len() as u32).to_le_bytes());
        v.extend_from_slice(value);
        v
    }

    #[test]
    fn uids_never_steer_a_path() {
        assert_eq!(uid_as_name("1.2.3"), "1.2.3");
        assert_eq!(uid_as_name("../../etc/passwd"), "unknown.._..___________");
        assert_eq!(uid_as_name(".."), "unknown..");
        assert_eq!(uid_as_name(""), "unknown");
        assert!(!uid_as_name("a/b\\c").contains(['/', '\\']));
        assert_eq!(uid_as_name(&"1".repeat(100)).len(), 64);
    }

    #[test]
    fn the_walk_skips_sequences_and_finds_uids() {
        let mut ds = implicit(0x0008_0016, b"1.2.840.10008.5.1.4.1.1.2\0");
        // An undefined-length sequence with one undefined-length item holding one element.
        ds.extend_from_slice(&[0x08, 0x00, 0x40, 0x11, 0xFF, 0xFF, 0xFF, 0xFF]);
        ds.extend_from_slice(&[0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        ds.extend(implicit(0x0020_000D, b"9.9"));
        ds.extend_from_slice(&[0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        ds.extend_from_slice(&[0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        ds.extend(implicit(0x0020_000D, b"1.2.3.4 "));
        ds.extend(implicit(0x0020_000E, b"1.2.3.5\0"));
        let found = find_strings(&ds, false, true, &[0x0020_000D, 0x0020_000E]).unwrap();
        assert_eq!(
            value_of(&found, 0x0020_000D),
            "1.2.3.4",
            "the UID inside the sequence is not top level"
        );
        assert_eq!(value_of(&found, 0x0020_000E), "1.2.3.5");
    }

    #[test]
    fn a_length_past_the_end_is_an_error_not_an_allocation() {
        let mut ds = implicit(0x0008_0016, b"1.2");
        ds.extend_from_slice(&[0x08, 0x00, 0x18, 0x00, 0xF0, 0xFF, 0xFF, 0x7F]);
        assert!(find_strings(&ds, false, true, &[0x0020_000D]).is_err());
        assert!(find_strings(&[1, 2, 3], true, true, &[0x0020_000D]).is_err());
    }

    #[test]
    fn a_part10_header_splits_back() {
        let mut file = part10_header("1.2.840.10008.5.1.4.1.1.2", "1.2.3", TS_IMPLICIT_LE, "PEER").unwrap();
        let at = file.len();
        file.extend(implicit(0x0008_0018, b"1.2.3\0"));
        let p = split_part10(&file).unwrap();
        assert_eq!(p.dataset_offset, at);
        assert_eq!(p.sop_instance_uid, "1.2.3");
        assert_eq!(p.transfer_syntax, TS_IMPLICIT_LE);
        assert!(split_part10(&file[..100]).is_err());
    }
}
