//! DICOM input: `scan` (headers only, parallel) → series (group, sort, validate) →
//! `load_series` (decode → HU volume + report).
//!
//! Public API used by the app and the CLI. Everything here takes plain data and returns plain
//! data; nothing panics on outside data.
//!
//! Modules: `parse` (defensive Part 10 parser over a byte buffer, lengths checked before any
//! allocation), `header` (image header / non-image / DICOMDIR / skip reason, incl. Enhanced and
//! Legacy Converted functional groups), `scan` (find + group), `stack` (sorting, duplicates,
//! gaps, tilt, resampling plan), `decode` (frame → HU; registry codecs for compressed data),
//! `load` (`load_series`, `thumbnail`).
//!
//! Decisions (each also appears, with numbers, in the warnings/reasons users see):
//! - Grouping: patient + SeriesInstanceUID + FrameOfReferenceUID (not StudyInstanceUID: real
//!   files exist whose study UID differs per slice; that is warned about), then split by image
//!   size, orientation and pixel spacing. Files without a SeriesInstanceUID are grouped by
//!   patient + geometry. Each multi-frame file is its own entry. CT first, then series number.
//! - Slices sorted by IPP · (row × column); duplicates (< 0.01 mm apart) keep the lowest
//!   InstanceNumber / file name, the others are tried if it fails to decode.
//! - Non-uniform spacing → resampled to the most common step (linear between neighbours);
//!   refused when a gap exceeds `max(2 × step, min(3 × step, 10 mm))` ([`stack`]).
//! - Gantry tilt → shear-corrected onto an orthogonal grid (bilinear in-plane), angle reported;
//!   voxels outside the acquired field and PixelPaddingValue voxels are −1024 HU.
//! - Codecs: pure Rust by default (issue 18): JPEG-LS through `pure_jpegls` (`jpegls`), JPEG 2000
//!   through openjp2, JPEG / RLE / deflate through the registry. JPEG Extended 12-bit (.4.51) and
//!   the retired .4.53 / .4.55 need GDCM (`gdcm-rs`; the registry's jpeg-decoder is 8-bit only
//!   for DCT), compiled only with the `c-codecs` feature; without it such files are refused
//!   with a reason naming the syntax and the feature (`c_codecs`). Any syntax without a decoder
//!   is named per file, with `dcmdjpeg` / `gdcmconv --raw` advice.
//! - Limits: any element longer than the bytes left in the file is an error (nothing is
//!   allocated from a declared length); a frame set above 2 GiB is refused; native pixel data
//!   whose length differs from Rows × Columns × frames × bytes (+ one pad byte) is refused
//!   before decoding, and so is every decoded or encapsulated frame of another size (issue 15,
//!   see `decode.rs`); deflated data sets inflate only to what their geometry needs.
//! - Plausibility (issue 15): PixelSpacing and the slice step must lie in 0.05–50 mm and
//!   ImagePositionPatient within ±10 m (refused: distances drive the plan); HU clipped by the
//!   rescale are warned about per file, and the series is refused when half the volume clips.
//! - Memory: the parallel scan and load lease the bytes they will hold from `budget`
//!   (1 GiB in flight), so memory does not grow with the thread count.

use std::path::PathBuf;

pub mod budget;
pub mod c_codecs;
mod decode;
mod guard;
mod header;
mod jpegls;
mod load;
mod parse;
pub mod rtstruct;
mod scan;
pub mod seg;
pub mod stack;
pub mod structset;

pub use decode::{HuMap, PADDING_HU, PixelFormat, check_decodable, to_hu};
pub use guard::catch_quiet;
pub use jpegls::decode_jpeg_ls;
pub use load::{load_series, thumbnail};
pub use rtstruct::{ON_EDGE_TOLERANCE, import_rtstruct, rasterise_contours};
pub use scan::scan;
pub use seg::import_seg;
pub use structset::{
    ImportOptions, ImportedStructures, SeriesIds, StructureImportError, StructureSetCandidate,
    cielab_to_srgb, find_structure_sets, import_structure_set,
};

use crate::volume::Volume;

/// A file that was not used, with the reason in words a user understands.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SkippedFile {
    pub path: PathBuf,
    pub reason: String,
}

/// A non-image object found while scanning (RTSTRUCT, SEG, SR, ...), kept for later import.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OtherObject {
    pub path: PathBuf,
    pub modality: String,
    pub sop_class_uid: String,
    pub description: String,
    pub patient_id: String,
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub frame_of_reference_uid: String,
}

/// One image series found by the scan (not yet decoded).
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SeriesEntry {
    pub patient_name: String,
    pub patient_id: String,
    pub study_description: String,
    pub series_description: String,
    pub study_date: String,
    pub modality: String,
    pub series_number: Option<i32>,
    pub study_instance_uid: String,
    pub series_instance_uid: String,
    pub frame_of_reference_uid: String,
    pub rows: u32,
    pub columns: u32,
    /// Number of image planes (slices, or frames of a multi-frame object).
    pub image_count: usize,
    pub files: Vec<PathBuf>,
    /// Warnings known from the headers alone (empty UIDs grouped by geometry, …).
    pub warnings: Vec<String>,
    /// Files of this series (same SeriesInstanceUID) that cannot be used, with the reason.
    pub skipped: Vec<SkippedFile>,
    /// Size, pixel spacing and orientation of the first image, for the series picker.
    pub geometry_summary: String,
    /// Transfer syntax UIDs of the files.
    pub transfer_syntaxes: Vec<String>,
}

/// Result of scanning files and folders.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct ScanReport {
    pub series: Vec<SeriesEntry>,
    pub others: Vec<OtherObject>,
    pub skipped: Vec<SkippedFile>,
    pub warnings: Vec<String>,
    pub files_examined: usize,
}

/// Everything the user should know about how a series was turned into a volume.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct SeriesReport {
    pub warnings: Vec<String>,
    pub skipped: Vec<SkippedFile>,
    pub transfer_syntaxes: Vec<String>,
    /// SOPInstanceUIDs of the images used for the volume (for checking structure sets'
    /// references); not part of the JSON reports.
    #[serde(skip)]
    pub sop_instance_uids: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct LoadedSeries {
    pub volume: Volume,
    pub report: SeriesReport,
}

#[derive(Debug, thiserror::Error)]
pub enum DicomError {
    #[error("cancelled")]
    Cancelled,
    #[error("{path}: {reason}")]
    Io { path: PathBuf, reason: String },
    #[error("no CT or image series found in {0}")]
    NothingFound(PathBuf),
    #[error("the series cannot be loaded: {0}")]
    Unloadable(String),
}
