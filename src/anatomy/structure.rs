//! Structures: the target and the critical structures (nerves, bowel, vessels, bone …), each a
//! binary mask on the CT grid with a kind, a style and where it came from.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::mask::Mask;

/// What a structure is, which decides the safety rules and tissue properties applied to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StructureKind {
    Target,
    Nerve,
    Bowel,
    Vessel,
    Bone,
    Other,
}

impl StructureKind {
    pub const ALL: [StructureKind; 6] = [
        StructureKind::Target,
        StructureKind::Nerve,
        StructureKind::Bowel,
        StructureKind::Vessel,
        StructureKind::Bone,
        StructureKind::Other,
    ];

    pub fn label(self) -> &'static str {
        match self {
            StructureKind::Target => "Target",
            StructureKind::Nerve => "Nerve",
            StructureKind::Bowel => "Bowel",
            StructureKind::Vessel => "Vessel",
            StructureKind::Bone => "Bone",
            StructureKind::Other => "Other",
        }
    }

    /// Default display colour (RGB): conventional planning colours.
    pub fn default_colour(self) -> [u8; 3] {
        match self {
            StructureKind::Target => [230, 60, 60],
            StructureKind::Nerve => [250, 220, 40],
            StructureKind::Bowel => [170, 110, 60],
            StructureKind::Vessel => [70, 120, 240],
            StructureKind::Bone => [235, 235, 210],
            StructureKind::Other => [150, 200, 150],
        }
    }

    /// Critical structures are the ones safety rules protect.
    pub fn is_critical(self) -> bool {
        matches!(
            self,
            StructureKind::Nerve | StructureKind::Bowel | StructureKind::Vessel
        )
    }
}

/// Keyword table for mapping imported names to kinds (case-insensitive substring match, first
/// hit wins, so more specific words come first). Covers TotalSegmentator labels and common
/// RTSTRUCT ROI names.
const KIND_KEYWORDS: &[(&str, StructureKind)] = &[
    ("gtv", StructureKind::Target),
    ("ctv", StructureKind::Target),
    ("ptv", StructureKind::Target),
    ("target", StructureKind::Target),
    ("tumor", StructureKind::Target),
    ("tumour", StructureKind::Target),
    ("lesion", StructureKind::Target),
    ("metasta", StructureKind::Target),
    ("node", StructureKind::Target),
    ("spinal_cord", StructureKind::Nerve),
    ("spinal cord", StructureKind::Nerve),
    ("spinalcord", StructureKind::Nerve),
    ("cauda", StructureKind::Nerve),
    ("plexus", StructureKind::Nerve),
    ("nerve", StructureKind::Nerve),
    ("sacral_n", StructureKind::Nerve),
    ("vagus", StructureKind::Nerve),
    ("obturator_n", StructureKind::Nerve),
    ("femoral_n", StructureKind::Nerve),
    ("bowel", StructureKind::Bowel),
    ("duoden", StructureKind::Bowel),
    ("jejun", StructureKind::Bowel),
    ("ileum", StructureKind::Bowel),
    ("colon", StructureKind::Bowel),
    ("rectum", StructureKind::Bowel),
    ("sigmoid", StructureKind::Bowel),
    ("stomach", StructureKind::Bowel),
    ("intestin", StructureKind::Bowel),
    ("esophag", StructureKind::Bowel),
    ("oesophag", StructureKind::Bowel),
    ("aorta", StructureKind::Vessel),
    ("vena", StructureKind::Vessel),
    ("ivc", StructureKind::Vessel),
    ("portal", StructureKind::Vessel),
    ("splenic_vein", StructureKind::Vessel),
    ("splenic vein", StructureKind::Vessel),
    ("mesenteric", StructureKind::Vessel),
    ("iliac_art", StructureKind::Vessel),
    ("iliac_vein", StructureKind::Vessel),
    ("iliac_vena", StructureKind::Vessel),
    ("iliac art", StructureKind::Vessel),
    ("iliac vein", StructureKind::Vessel),
    ("artery", StructureKind::Vessel),
    ("arteria", StructureKind::Vessel),
    ("vein", StructureKind::Vessel),
    ("vessel", StructureKind::Vessel),
    ("celiac", StructureKind::Vessel),
    ("coeliac", StructureKind::Vessel),
    ("renal_a", StructureKind::Vessel),
    ("brachiocephalic", StructureKind::Vessel),
    ("vertebra", StructureKind::Bone),
    ("sacrum", StructureKind::Bone),
    ("rib", StructureKind::Bone),
    ("femur", StructureKind::Bone),
    ("hip", StructureKind::Bone),
    ("bone", StructureKind::Bone),
    ("skull", StructureKind::Bone),
    ("sternum", StructureKind::Bone),
    ("humerus", StructureKind::Bone),
    ("scapula", StructureKind::Bone),
    ("clavicul", StructureKind::Bone),
];

/// The kind an imported name most likely denotes; `Other` when nothing matches.
pub fn kind_from_name(name: &str) -> StructureKind {
    let lower = name.to_lowercase();
    KIND_KEYWORDS
        .iter()
        .find(|(kw, _)| lower.contains(kw))
        .map(|(_, k)| *k)
        .unwrap_or(StructureKind::Other)
}

/// Where a structure came from (shown in the UI and saved with cases).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Provenance {
    Imported {
        file: PathBuf,
        detail: String,
        /// SOP Instance UID of the RTSTRUCT / SEG it came from (empty for NIfTI and for cases
        /// saved before it was recorded): how a second import of the same object is recognised.
        #[serde(default)]
        source_uid: String,
        /// Short name of the source object for the structure list, e.g. `RTSTRUCT "Liver"`.
        #[serde(default)]
        source_label: String,
    },
    Drawn,
    RegionGrown {
        seed_lps: [f64; 3],
        min_hu: i16,
        max_hu: i16,
    },
    NervePath,
    BuiltInDemo,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Structure {
    pub name: String,
    pub kind: StructureKind,
    pub colour: [u8; 3],
    pub visible: bool,
    /// Fill opacity in [0, 1]; the outline is always drawn opaque.
    pub opacity: f32,
    pub provenance: Provenance,
    mask: Mask,
    revision: u64,
    /// Process-unique identity (for caches keyed by structure and revision).
    #[serde(skip, default = "next_uid")]
    uid: u64,
}

/// Equal content, whatever the identity (`uid` is process-local bookkeeping).
impl PartialEq for Structure {
    fn eq(&self, o: &Self) -> bool {
        self.name == o.name
            && self.kind == o.kind
            && self.colour == o.colour
            && self.visible == o.visible
            && self.opacity == o.opacity
            && self.provenance == o.provenance
            && self.mask == o.mask
            && self.revision == o.revision
    }
}

fn next_uid() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Provenance {
    /// The source object's SOP Instance UID, when the structure was imported from DICOM.
    pub fn source_uid(&self) -> Option<&str> {
        match self {
            Provenance::Imported { source_uid, .. } if !source_uid.is_empty() => Some(source_uid),
            _ => None,
        }
    }

    /// One short line naming where the structure came from, for the structure list:
    /// `RTSTRUCT "label"`, `SEG "series"`, `NIfTI file.nii.gz`, `drawn`, …
    pub fn source_short(&self) -> String {
        match self {
            Provenance::Imported {
                file,
                detail,
                source_label,
                ..
            } => {
                if !source_label.is_empty() {
                    return source_label.clone();
                }
                // Cases saved before the label was recorded: the detail starts with the kind.
                let kind = detail.split_whitespace().next().unwrap_or("imported");
                let name = file
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                format!("{kind} {name}").trim().to_string()
            }
            Provenance::Drawn => "drawn".into(),
            Provenance::RegionGrown { .. } => "region grown".into(),
            Provenance::NervePath => "nerve path".into(),
            Provenance::BuiltInDemo => "demo anatomy".into(),
        }
    }

    /// Same source object: same SOP Instance UID, or (no UID recorded) same imported file.
    pub fn same_source(&self, other: &Provenance) -> bool {
        match (self, other) {
            (
                Provenance::Imported {
                    file: fa,
                    source_uid: ua,
                    ..
                },
                Provenance::Imported {
                    file: fb,
                    source_uid: ub,
                    ..
                },
            ) => {
                if !ua.is_empty() && !ub.is_empty() {
                    ua == ub
                } else {
                    fa == fb
                }
            }
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl Structure {
    pub fn new(name: impl Into<String>, kind: StructureKind, provenance: Provenance, mask: Mask) -> Self {
        Self {
            name: name.into(),
            kind,
            colour: kind.default_colour(),
            visible: true,
            opacity: 0.35,
            provenance,
            mask,
            revision: 1,
            uid: next_uid(),
        }
    }

    pub fn uid(&self) -> u64 {
        self.uid
    }

    pub fn mask(&self) -> &Mask {
        &self.mask
    }

    /// Every change of the mask goes through here so caches keyed by revision stay valid.
    pub fn edit_mask(&mut self, f: impl FnOnce(&mut Mask)) {
        f(&mut self.mask);
        self.revision += 1;
    }

    pub fn replace_mask(&mut self, mask: Mask) {
        self.mask = mask;
        self.revision += 1;
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Volume in millilitres for a grid of the given voxel spacing.
    pub fn volume_ml(&self, spacing_mm: [f64; 3]) -> f64 {
        self.mask.voxel_count() as f64 * spacing_mm[0] * spacing_mm[1] * spacing_mm[2] / 1000.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_to_kinds() {
        let cases = [
            ("aorta", StructureKind::Vessel),
            ("inferior_vena_cava", StructureKind::Vessel),
            ("portal_vein_and_splenic_vein", StructureKind::Vessel),
            ("iliac_artery_left", StructureKind::Vessel),
            ("small_bowel", StructureKind::Bowel),
            ("Stomach+Duodenum", StructureKind::Bowel),
            ("colon", StructureKind::Bowel),
            ("spinal_cord", StructureKind::Nerve),
            ("Lumbosacral plexus", StructureKind::Nerve),
            ("GTV_node", StructureKind::Target),
            ("vertebrae_L3", StructureKind::Bone),
            ("Lung_L", StructureKind::Other),
            ("", StructureKind::Other),
        ];
        for (name, kind) in cases {
            assert_eq!(kind_from_name(name), kind, "{name}");
        }
    }

    #[test]
    fn edits_bump_revision() {
        let mut s = Structure::new(
            "n",
            StructureKind::Nerve,
            Provenance::Drawn,
            Mask::empty([2, 2, 2]),
        );
        let r0 = s.revision();
        s.edit_mask(|m| m.set_slice_dense(0, &[true, false, false, false]));
        assert_eq!(s.revision(), r0 + 1);
        assert!((s.volume_ml([10.0, 10.0, 10.0]) - 1.0).abs() < 1e-12);
    }
}
