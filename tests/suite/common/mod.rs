//! Shared helpers for integration tests that read the real data in `../shared/data`.
#![allow(dead_code)]

use std::path::PathBuf;

/// `../shared/data/dicom/<rel>` if present; otherwise prints why the test is skipped and
/// returns `None` (a fresh clone without the data still passes).
pub fn dicom_data(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/dicom")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIPPED: test data {} is absent", p.display());
        None
    }
}
