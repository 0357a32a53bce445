//! Structure import (RTSTRUCT, SEG, NIfTI label maps or mask folders) as a background job,
//! and the prompts around it: offer the structure sets found next to a CT, and ask before
//! importing a file whose frame of reference cannot be checked.

use std::path::{Path, PathBuf};

use crate::anatomy::Structure;
use crate::anatomy::nifti;
use crate::dicom::structset::{
    ImportOptions, SeriesIds, StructureImportError, StructureSetCandidate, import_structure_set,
};
use crate::geometry::VolumeGeometry;
use crate::jobs::JobCtx;

/// What one import job produced.
#[derive(Debug, Default)]
pub struct ImportOutcome {
    pub structures: Vec<Structure>,
    pub warnings: Vec<String>,
    /// Files that failed, with the reason.
    pub errors: Vec<(PathBuf, String)>,
    /// Files refused only because their frame of reference cannot be checked: the user may
    /// confirm them.
    pub need_confirmation: Vec<PathBuf>,
}

fn is_nifti(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    name.ends_with(".nii") || name.ends_with(".nii.gz")
}

/// A NIfTI file, or a folder holding NIfTI masks.
pub fn is_nifti_or_mask_folder(p: &Path) -> bool {
    if p.is_dir() {
        std::fs::read_dir(p)
            .map(|rd| rd.filter_map(Result::ok).any(|e| is_nifti(&e.path())))
            .unwrap_or(false)
    } else {
        is_nifti(p)
    }
}

/// Import every path: NIfTI files and folders of NIfTI masks, RTSTRUCT / SEG files, and
/// folders scanned for the structure sets that belong to the CT.
pub fn import_paths(
    paths: &[PathBuf],
    ct: &VolumeGeometry,
    ids: &SeriesIds,
    allow_missing_frame_of_reference: bool,
    ctx: &JobCtx,
) -> ImportOutcome {
    let mut out = ImportOutcome::default();
    let opts = ImportOptions {
        allow_missing_frame_of_reference,
        ..ImportOptions::default()
    };
    let mut files: Vec<PathBuf> = Vec::new();
    for p in paths {
        if p.is_dir() {
            if is_nifti_or_mask_folder(p) {
                match nifti::import_mask_folder_report(p, ct) {
                    Ok(r) => {
                        out.structures.extend(r.structures);
                        out.warnings.extend(r.warnings);
                    }
                    Err(e) => out.errors.push((p.clone(), e.to_string())),
                }
                continue;
            }
            match crate::dicom::scan(std::slice::from_ref(p), ctx) {
                Ok(scan) => {
                    let found = crate::dicom::structset::find_structure_sets(&scan.others, ids);
                    if found.is_empty() {
                        out.errors.push((
                            p.clone(),
                            "no RTSTRUCT, SEG or NIfTI file for this CT in the folder".to_string(),
                        ));
                    }
                    files.extend(found.into_iter().map(|c| c.path));
                }
                Err(e) => out.errors.push((p.clone(), e.to_string())),
            }
        } else {
            files.push(p.clone());
        }
    }
    let n = files.len().max(1);
    for (i, f) in files.iter().enumerate() {
        if ctx.cancel.is_cancelled() {
            break;
        }
        ctx.progress.set_message(format!(
            "Importing {}",
            f.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default()
        ));
        if is_nifti(f) {
            match nifti::import_label_map_report(f, ct) {
                Ok(r) => {
                    out.structures.extend(r.structures);
                    out.warnings.extend(r.warnings);
                }
                Err(e) => out.errors.push((f.clone(), e.to_string())),
            }
        } else {
            match import_structure_set(f, ct, ids, &opts) {
                Ok(r) => {
                    out.structures.extend(r.structures);
                    out.warnings.extend(r.warnings);
                    for (name, why) in r.skipped_rois {
                        out.warnings
                            .push(format!("{}: \"{name}\" not imported: {why}", f.display()));
                    }
                }
                Err(StructureImportError::MissingFrameOfReference { file, .. }) => {
                    out.need_confirmation.push(file)
                }
                Err(e) => out.errors.push((f.clone(), e.to_string())),
            }
        }
        ctx.progress.set((i + 1) as f32 / n as f32);
    }
    out
}

/// A prompt shown over the views.
#[derive(Clone, Debug, PartialEq)]
pub enum Prompt {
    /// Structure sets for the loaded CT were found next to it.
    OfferImport(Vec<StructureSetCandidate>),
    /// These files have no frame of reference to check; import anyway?
    ConfirmMissingFrameOfReference(Vec<PathBuf>),
    /// An earlier session ended with unsaved work: recover it?
    OfferRecovery(Box<crate::plan::document::RecoveryOffer>),
}
