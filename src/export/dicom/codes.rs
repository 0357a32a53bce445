//! Segmented property category and type codes for exported structures and zones, from
//! `assets/dicom_codes.json` (SNOMED CT where a standard code exists; the file gives its source).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use super::elements::Code;
use crate::anatomy::StructureKind;

pub const BUILTIN_CODES_JSON: &str = include_str!("../../../assets/dicom_codes.json");

#[derive(Debug, Deserialize)]
struct Entry {
    category: String,
    #[serde(rename = "type")]
    type_: Code,
}

#[derive(Debug, Deserialize)]
struct NamedEntry {
    keywords: Vec<String>,
    category: String,
    #[serde(rename = "type")]
    type_: Code,
}

#[derive(Debug, Deserialize)]
struct CodeTable {
    #[allow(dead_code)]
    source: String,
    categories: BTreeMap<String, Code>,
    by_name: Vec<NamedEntry>,
    by_kind: BTreeMap<String, Entry>,
    zones: BTreeMap<String, Entry>,
}

/// What a zone is, for its codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZoneCode {
    IreZone,
    LethalIsotherm,
    Iceball0C,
    IsothermMinus20C,
}

impl ZoneCode {
    fn key(self) -> &'static str {
        match self {
            ZoneCode::IreZone => "ire_zone",
            ZoneCode::LethalIsotherm => "lethal_isotherm",
            ZoneCode::Iceball0C => "iceball_0c",
            ZoneCode::IsothermMinus20C => "isotherm_minus20c",
        }
    }
}

/// Category and type of one segment / ROI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropertyCodes {
    pub category: Code,
    pub type_: Code,
}

fn table() -> &'static CodeTable {
    static T: OnceLock<CodeTable> = OnceLock::new();
    T.get_or_init(|| {
        // The file ships inside the binary and a test parses it; a broken edit fails that test.
        serde_json::from_str(BUILTIN_CODES_JSON).unwrap_or_else(|e| panic!("assets/dicom_codes.json: {e}"))
    })
}

fn resolve(t: &CodeTable, category: &str, type_: &Code) -> PropertyCodes {
    let category = t
        .categories
        .get(category)
        .cloned()
        .unwrap_or_else(|| Code::new("85756007", "SCT", "Tissue"));
    PropertyCodes {
        category,
        type_: type_.clone(),
    }
}

/// The codes of a structure: by a keyword of its name (aorta, portal vein, …), else by its kind.
pub fn structure_codes(name: &str, kind: StructureKind) -> PropertyCodes {
    let t = table();
    let n = name.to_lowercase().replace(['_', '-'], " ");
    let words: Vec<&str> = n.split_whitespace().collect();
    let norm = words.join(" ");
    let hit = t.by_name.iter().find(|e| {
        e.keywords.iter().any(|k| {
            if k.contains(' ') {
                norm.contains(k.as_str())
            } else {
                words
                    .iter()
                    .any(|w| w == k || (k.len() >= 5 && w.starts_with(k.as_str())))
            }
        })
    });
    if let Some(e) = hit {
        return resolve(t, &e.category, &e.type_);
    }
    let e = t.by_kind.get(kind.label()).or_else(|| t.by_kind.get("Other"));
    match e {
        Some(e) => resolve(t, &e.category, &e.type_),
        None => PropertyCodes {
            category: Code::new("85756007", "SCT", "Tissue"),
            type_: Code::new("85756007", "SCT", "Tissue"),
        },
    }
}

/// The codes of a zone.
pub fn zone_codes(z: ZoneCode) -> PropertyCodes {
    let t = table();
    match t.zones.get(z.key()) {
        Some(e) => resolve(t, &e.category, &e.type_),
        None => PropertyCodes {
            category: Code::new("85756007", "SCT", "Tissue"),
            type_: Code::new("85756007", "SCT", "Tissue"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_table_parses_and_covers_every_kind_and_zone() {
        let t: CodeTable = serde_json::from_str(BUILTIN_CODES_JSON).expect("assets/dicom_codes.json");
        assert!(t.source.contains("SNOMED"));
        for k in StructureKind::ALL {
            assert!(t.by_kind.contains_key(k.label()), "{k:?}");
        }
        for z in [
            ZoneCode::IreZone,
            ZoneCode::LethalIsotherm,
            ZoneCode::Iceball0C,
            ZoneCode::IsothermMinus20C,
        ] {
            let e = t.zones.get(z.key()).expect("zone");
            assert!(t.categories.contains_key(&e.category));
        }
        for e in &t.by_name {
            assert!(t.categories.contains_key(&e.category), "{:?}", e.keywords);
            assert_eq!(e.type_.scheme, "SCT");
        }
    }

    #[test]
    fn structures_are_coded_by_name_then_kind() {
        assert_eq!(
            structure_codes("aorta", StructureKind::Vessel).type_.value,
            "15825003"
        );
        assert_eq!(
            structure_codes("inferior_vena_cava", StructureKind::Vessel)
                .type_
                .value,
            "64131007"
        );
        assert_eq!(
            structure_codes("portal_vein_and_splenic_vein", StructureKind::Vessel)
                .type_
                .value,
            "32764006"
        );
        assert_eq!(
            structure_codes("SMA", StructureKind::Vessel).type_.value,
            "59820001"
        );
        assert_eq!(
            structure_codes("Plexus", StructureKind::Nerve).type_.value,
            "3057000"
        );
        let node = structure_codes("Node 1", StructureKind::Target);
        assert_eq!(node.type_.meaning, "Lymph node");
        let t = structure_codes("GTV", StructureKind::Target);
        assert_eq!(
            (t.category.value.as_str(), t.type_.value.as_str()),
            ("49755003", "108369006")
        );
        // "venous" is not a vein; "Nodular" is not a node.
        assert_eq!(
            structure_codes("venous phase", StructureKind::Other).type_.value,
            "85756007"
        );
        assert_eq!(zone_codes(ZoneCode::Iceball0C).type_.scheme, "99ABLAPLAN");
    }
}
