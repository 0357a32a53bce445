//! Duplicates among structures: objects imported twice (recognised by the source object's SOP
//! Instance UID, or its file when no UID was recorded) and same-named structures from
//! different sources (the TotalSegmentator RTSTRUCT and SEG both hold an "aorta").
//!
//! Decisions:
//! - A second import of an object already in the case adds nothing: its copies would be
//!   identical and would double every distance check and list entry.
//! - Same names from different sources are only flagged, never merged silently: the two masks
//!   may differ (contours vs voxels), and the radiologist chooses which one to keep.

use super::structure::{Provenance, Structure};

/// Structures of one source object that were not added because that object is already in
/// the case.
#[derive(Clone, Debug, PartialEq)]
pub struct AlreadyImported {
    /// Short name of the object, e.g. `RTSTRUCT "TotalSegmentator"`.
    pub source: String,
    /// Number of its structures that were left out.
    pub structures: usize,
}

/// Split an import into what is new and what came from objects the case already holds.
pub fn split_already_imported(
    existing: &[Structure],
    incoming: Vec<Structure>,
) -> (Vec<Structure>, Vec<AlreadyImported>) {
    let mut fresh = Vec::new();
    let mut skipped: Vec<(Provenance, AlreadyImported)> = Vec::new();
    for s in incoming {
        let is_import = matches!(s.provenance, Provenance::Imported { .. });
        if !is_import || !existing.iter().any(|e| e.provenance.same_source(&s.provenance)) {
            fresh.push(s);
            continue;
        }
        match skipped.iter_mut().find(|(p, _)| p.same_source(&s.provenance)) {
            Some((_, a)) => a.structures += 1,
            None => skipped.push((
                s.provenance.clone(),
                AlreadyImported {
                    source: s.provenance.source_short(),
                    structures: 1,
                },
            )),
        }
    }
    (fresh, skipped.into_iter().map(|(_, a)| a).collect())
}

/// Whether any structure in `existing` came from the DICOM object with this SOP Instance UID
/// or (for cases saved before UIDs were recorded) from this file.
pub fn object_already_imported(
    existing: &[Structure],
    sop_instance_uid: &str,
    file: &std::path::Path,
) -> bool {
    existing.iter().any(|s| match &s.provenance {
        Provenance::Imported {
            file: f, source_uid, ..
        } => {
            if !source_uid.is_empty() && !sop_instance_uid.is_empty() {
                source_uid == sop_instance_uid
            } else {
                f == file
            }
        }
        _ => false,
    })
}

fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// For each structure, the indices of the other structures with the same name (ignoring case
/// and surrounding spaces) that came from a different source.
pub fn duplicate_names(items: &[Structure]) -> Vec<Vec<usize>> {
    items
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let key = name_key(&s.name);
            items
                .iter()
                .enumerate()
                .filter(|(j, o)| {
                    *j != i && name_key(&o.name) == key && !o.provenance.same_source(&s.provenance)
                })
                .map(|(j, _)| j)
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anatomy::{Mask, StructureKind};
    use std::path::PathBuf;

    fn imported(name: &str, file: &str, uid: &str, label: &str) -> Structure {
        Structure::new(
            name,
            StructureKind::Vessel,
            Provenance::Imported {
                file: PathBuf::from(file),
                detail: String::new(),
                source_uid: uid.into(),
                source_label: label.into(),
            },
            Mask::empty([2, 2, 1]),
        )
    }

    #[test]
    fn a_second_import_of_the_same_object_adds_nothing_and_is_counted() {
        let have = vec![
            imported("aorta", "/a/rs.dcm", "1.2.3", "RTSTRUCT \"TS\""),
            imported("ivc", "/a/rs.dcm", "1.2.3", "RTSTRUCT \"TS\""),
        ];
        // Same UID, even from a copy of the file elsewhere.
        let again = vec![
            imported("aorta", "/b/copy.dcm", "1.2.3", "RTSTRUCT \"TS\""),
            imported("ivc", "/b/copy.dcm", "1.2.3", "RTSTRUCT \"TS\""),
            imported("aorta", "/a/seg.dcm", "4.5.6", "SEG"),
        ];
        let (fresh, skipped) = split_already_imported(&have, again);
        assert_eq!(fresh.len(), 1, "only the SEG's structure is new");
        assert_eq!(fresh[0].provenance.source_uid(), Some("4.5.6"));
        assert_eq!(
            skipped,
            vec![AlreadyImported {
                source: "RTSTRUCT \"TS\"".into(),
                structures: 2
            }]
        );
    }

    #[test]
    fn drawn_structures_are_never_taken_for_duplicates_of_an_import() {
        let have = vec![Structure::new(
            "aorta",
            StructureKind::Vessel,
            Provenance::Drawn,
            Mask::empty([2, 2, 1]),
        )];
        let (fresh, skipped) = split_already_imported(&have, vec![imported("aorta", "/a", "1", "SEG")]);
        assert_eq!(fresh.len(), 1);
        assert!(skipped.is_empty());
    }

    #[test]
    fn old_cases_without_uid_match_by_file() {
        let have = vec![imported("aorta", "/a/rs.dcm", "", "")];
        assert!(object_already_imported(
            &have,
            "1.2.3",
            std::path::Path::new("/a/rs.dcm")
        ));
        assert!(!object_already_imported(
            &have,
            "1.2.3",
            std::path::Path::new("/a/other.dcm")
        ));
        let with_uid = vec![imported("aorta", "/a/rs.dcm", "1.2.3", "")];
        assert!(object_already_imported(
            &with_uid,
            "1.2.3",
            std::path::Path::new("/x.dcm")
        ));
        assert!(!object_already_imported(
            &with_uid,
            "9.9",
            std::path::Path::new("/a/rs.dcm")
        ));
    }

    #[test]
    fn same_names_from_different_sources_are_flagged_not_within_one_source() {
        let items = vec![
            imported("Aorta", "/a/rs.dcm", "1", "RTSTRUCT"),
            imported("aorta ", "/a/seg.dcm", "2", "SEG"),
            imported("ivc", "/a/rs.dcm", "1", "RTSTRUCT"),
            imported("ivc", "/a/rs.dcm", "1", "RTSTRUCT"),
        ];
        let d = duplicate_names(&items);
        assert_eq!(d[0], vec![1]);
        assert_eq!(d[1], vec![0]);
        assert!(d[2].is_empty() && d[3].is_empty());
    }
}

#[cfg(test)]
mod serde_tests {
    use super::*;

    #[test]
    fn provenance_saved_before_source_uids_still_reads_and_names_its_kind() {
        let old = r#"{"Imported":{"file":"/a/rs.dcm","detail":"RTSTRUCT \"TS\" ROI 1: 3 of 3 contours"}}"#;
        let p: Provenance = serde_json::from_str(old).expect("old case provenance reads");
        assert_eq!(p.source_uid(), None);
        assert_eq!(p.source_short(), "RTSTRUCT rs.dcm");
    }
}
