//! The complete series in a receiver's storage folder (`FOLDER/STUDY/SERIES/*.dcm`), for the
//! File menu after a restart and for tests; `.partial/` (unfinished associations) is never
//! listed.

use std::path::{Path, PathBuf};

use super::ArrivedSeries;

/// The complete series already in a storage folder (`FOLDER/STUDY/SERIES/*.dcm`, `.partial`
/// excluded), for the File menu after a restart. Sorted by folder.
pub fn list_received(folder: &Path) -> Vec<ArrivedSeries> {
    let mut out = Vec::new();
    let dirs = |p: &Path| -> Vec<PathBuf> {
        let Ok(rd) = std::fs::read_dir(p) else {
            return Vec::new();
        };
        let mut v: Vec<PathBuf> = rd
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_type().is_ok_and(|t| t.is_dir()) && !e.file_name().to_string_lossy().starts_with('.')
            })
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    };
    for study in dirs(folder) {
        for series in dirs(&study) {
            let objects = std::fs::read_dir(&series)
                .map(|rd| {
                    rd.filter_map(|e| e.ok())
                        .filter(|e| e.path().extension().is_some_and(|x| x == "dcm"))
                        .count()
                })
                .unwrap_or(0);
            if objects == 0 {
                continue;
            }
            let name = |p: &Path| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            };
            out.push(ArrivedSeries {
                study_uid: name(&study),
                series_uid: name(&series),
                dir: series.clone(),
                objects,
                modality: String::new(),
                description: String::new(),
                calling_ae: String::new(),
            });
        }
    }
    out
}
