//! Small helpers over dicom-rs 0.10's `InMemDicomObject` for writing: typed `put`s, code items,
//! decimal strings that fit DS, and the Part 10 bytes (file meta + Explicit VR Little Endian).

use dicom_core::value::{C, DataSetSequence, PrimitiveValue};
use dicom_core::{DataElement, Tag, VR};
use dicom_object::InMemDicomObject;
use dicom_object::meta::FileMetaTableBuilder;
use serde::Deserialize;

use super::DicomExportError;
use super::uid::{IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME};

pub type Obj = InMemDicomObject;

/// Explicit VR Little Endian, what every exported object is written in.
pub const EXPLICIT_VR_LE: &str = "1.2.840.10008.1.2.1";

/// A coded concept (Code Sequence Macro: value, scheme designator, meaning).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Code {
    pub value: String,
    pub scheme: String,
    pub meaning: String,
}

impl Code {
    pub fn new(value: &str, scheme: &str, meaning: &str) -> Self {
        Code {
            value: value.into(),
            scheme: scheme.into(),
            meaning: meaning.into(),
        }
    }
}

/// One string value.
pub fn put_str(o: &mut Obj, tag: Tag, vr: VR, v: &str) {
    o.put(DataElement::new(tag, vr, PrimitiveValue::from(v)));
}

/// Several string values (backslash-separated on the wire).
pub fn put_strs(o: &mut Obj, tag: Tag, vr: VR, v: &[String]) {
    o.put(DataElement::new(
        tag,
        vr,
        PrimitiveValue::Strs(C::from_vec(v.to_vec())),
    ));
}

/// Decimal strings (DS), each formatted by [`ds`].
pub fn put_ds(o: &mut Obj, tag: Tag, v: &[f64]) {
    let s: Vec<String> = v.iter().map(|x| ds(*x)).collect();
    put_strs(o, tag, VR::DS, &s);
}

pub fn put_us(o: &mut Obj, tag: Tag, v: &[u16]) {
    o.put(DataElement::new(
        tag,
        VR::US,
        PrimitiveValue::U16(C::from_vec(v.to_vec())),
    ));
}

pub fn put_ul(o: &mut Obj, tag: Tag, v: &[u32]) {
    o.put(DataElement::new(
        tag,
        VR::UL,
        PrimitiveValue::U32(C::from_vec(v.to_vec())),
    ));
}

pub fn put_at(o: &mut Obj, tag: Tag, v: Tag) {
    o.put(DataElement::new(
        tag,
        VR::AT,
        PrimitiveValue::Tags(C::from_vec(vec![v])),
    ));
}

pub fn put_seq(o: &mut Obj, tag: Tag, items: Vec<Obj>) {
    o.put(DataElement::new(tag, VR::SQ, DataSetSequence::from(items)));
}

pub fn put_ob(o: &mut Obj, tag: Tag, bytes: Vec<u8>) {
    o.put(DataElement::new(
        tag,
        VR::OB,
        PrimitiveValue::U8(C::from_vec(bytes)),
    ));
}

/// An item of a Code Sequence.
pub fn code_item(c: &Code) -> Obj {
    use dicom_dictionary_std::tags;
    let mut o = Obj::new_empty();
    put_str(&mut o, tags::CODE_VALUE, VR::SH, &c.value);
    put_str(&mut o, tags::CODING_SCHEME_DESIGNATOR, VR::SH, &c.scheme);
    put_str(&mut o, tags::CODE_MEANING, VR::LO, &c.meaning);
    o
}

/// A number as a DICOM Decimal String: at most 16 characters, no exponent for the values a
/// CT has (positions within ±10 m, spacings, thicknesses): 6 decimals, trailing zeros dropped,
/// fewer decimals when the integer part is long.
pub fn ds(v: f64) -> String {
    if !v.is_finite() {
        return "0".into();
    }
    for decimals in (0..=6).rev() {
        let mut s = format!("{v:.decimals$}");
        if s.contains('.') {
            while s.ends_with('0') {
                s.pop();
            }
            if s.ends_with('.') {
                s.pop();
            }
        }
        if s == "-0" {
            s = "0".into();
        }
        if s.len() <= 16 {
            return s;
        }
    }
    format!("{v:.3e}")
}

/// Text for a VR with a length limit, cut on a character boundary (LO 64, SH 16, CS 16 …).
pub fn fit(s: &str, max_chars: usize) -> String {
    s.chars().take(max_chars).collect()
}

/// A CS value: upper case letters, digits, space and underscore, at most 16 characters.
pub fn cs(s: &str) -> String {
    let c: String = s
        .chars()
        .map(|c| c.to_ascii_uppercase())
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == ' ' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    fit(&c, 16)
}

/// The Part 10 bytes of a data set: preamble, file meta (SOP class and instance from the data
/// set, Explicit VR Little Endian, ablaplan's implementation class UID), then the data set.
pub fn to_part10_bytes(o: Obj) -> Result<Vec<u8>, DicomExportError> {
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(EXPLICIT_VR_LE)
        .implementation_class_uid(IMPLEMENTATION_CLASS_UID)
        .implementation_version_name(IMPLEMENTATION_VERSION_NAME);
    let file = o
        .with_meta(meta)
        .map_err(|e| DicomExportError::Encode(format!("file meta: {e}")))?;
    let mut out = Vec::new();
    file.write_all(&mut out)
        .map_err(|e| DicomExportError::Encode(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_fit_sixteen_characters() {
        assert_eq!(ds(0.8), "0.8");
        assert_eq!(ds(-191.6), "-191.6");
        assert_eq!(ds(2.0), "2");
        assert_eq!(ds(-0.0000001), "0");
        assert_eq!(ds(1.0 / 3.0), "0.333333");
        for v in [-9999.123456789, 12345.678901234, -0.000123456789, 1e-9] {
            let s = ds(v);
            assert!(s.len() <= 16, "{s}");
            assert!((s.parse::<f64>().expect("number") - v).abs() < 1e-4, "{s}");
        }
    }

    #[test]
    fn code_strings() {
        assert_eq!(cs("ablaplan plan-1"), "ABLAPLAN PLAN_1");
        assert_eq!(cs("a very long content label"), "A VERY LONG CONT");
        assert_eq!(fit("Größe", 3), "Grö");
    }
}
