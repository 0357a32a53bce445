//! `scan`: find files (folders recursively, single files, DICOMDIRs), read headers in parallel,
//! group image files into series, list non-image objects and skipped files with reasons.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use nalgebra::Vector3;
use rayon::prelude::*;

use super::budget;
use super::guard::catch_quiet;
use super::header::{Classified, Ids, ImageHeader, classify_path};
use super::stack::{normal_of, sort_by_normal};
use super::{DicomError, ScanReport, SeriesEntry, SkippedFile};
use crate::jobs::JobCtx;

const MAX_DIR_DEPTH: usize = 32;

fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>, warnings: &mut Vec<String>) {
    if depth > MAX_DIR_DEPTH {
        warnings.push(format!(
            "{}: folders nested too deeply, not scanned further",
            dir.display()
        ));
        return;
    }
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) => {
            warnings.push(format!("{}: cannot list folder ({e})", dir.display()));
            return;
        }
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        // Do not follow symlinked folders (loops); symlinked files are fine.
        let is_link_dir = std::fs::symlink_metadata(&p)
            .map(|m| m.file_type().is_symlink())
            .unwrap_or(false)
            && p.is_dir();
        if is_link_dir {
            continue;
        }
        if p.is_dir() {
            walk(&p, depth + 1, out, warnings);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

/// Scan files and folders. See the module documentation of [`super`].
pub fn scan(paths: &[PathBuf], ctx: &JobCtx) -> Result<ScanReport, DicomError> {
    let mut report = ScanReport::default();
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, 0, &mut files, &mut report.warnings);
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            return Err(DicomError::Io {
                path: p.clone(),
                reason: "does not exist or is not readable".into(),
            });
        }
    }
    ctx.progress.set_message("Reading DICOM headers");
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    let mut classified: Vec<(PathBuf, Classified)> = Vec::new();
    let mut todo: Vec<PathBuf> = files.into_iter().filter(|f| seen.insert(canon(f))).collect();
    let done = AtomicUsize::new(0);
    let mut total = todo.len();
    // Rounds: DICOMDIRs may reference files outside what was listed.
    while !todo.is_empty() {
        let batch: Vec<(PathBuf, Option<Classified>)> = todo
            .par_iter()
            .map(|p| {
                if ctx.cancel.is_cancelled() {
                    return (p.clone(), None);
                }
                // A header read holds at most the file, or the inflated header of a deflated
                // one (bounded by `parse::MAX_INFLATED_HEADER`).
                let _lease = budget::lease(budget::file_estimate(p, 0).min(256 << 20));
                let c = catch_quiet(|| classify_path(p)).unwrap_or_else(|m| Classified::Skipped {
                    reason: format!("the header reader crashed on this file ({m}; please report)"),
                    ids: None,
                });
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of(16) || n == total {
                    ctx.progress.set(n as f32 / total.max(1) as f32);
                }
                (p.clone(), Some(c))
            })
            .collect();
        if ctx.cancel.is_cancelled() {
            return Err(DicomError::Cancelled);
        }
        let mut next = Vec::new();
        for (p, c) in batch {
            let Some(c) = c else { continue };
            if let Classified::DicomDir(refs) = &c {
                let mut missing = 0;
                for r in refs {
                    if !r.is_file() {
                        missing += 1;
                        continue;
                    }
                    if seen.insert(canon(r)) {
                        next.push(r.clone());
                    }
                }
                if missing > 0 {
                    report.warnings.push(format!(
                        "{}: {missing} of the {} files listed in this DICOMDIR are missing",
                        p.display(),
                        refs.len()
                    ));
                }
            }
            classified.push((p, c));
        }
        total += next.len();
        todo = next;
    }
    report.files_examined = classified.len();
    classified.sort_by(|a, b| a.0.cmp(&b.0));

    let mut images: Vec<ImageHeader> = Vec::new();
    let mut skipped_ids: Vec<(SkippedFile, Option<Ids>)> = Vec::new();
    for (p, c) in classified {
        match c {
            Classified::Image(h) => images.push(*h),
            Classified::Other(o) => report.others.push(o),
            Classified::DicomDir(_) => {}
            Classified::Skipped { reason, ids } => skipped_ids.push((SkippedFile { path: p, reason }, ids)),
        }
    }
    report.series = group(images);
    // Attribute skipped files to their series (so the load report can name them too).
    for (s, ids) in &skipped_ids {
        if let Some(ids) = ids
            && !ids.series_uid.is_empty()
        {
            for e in report
                .series
                .iter_mut()
                .filter(|e| e.series_instance_uid == ids.series_uid)
            {
                e.skipped.push(s.clone());
            }
        }
    }
    report.skipped = skipped_ids.into_iter().map(|(s, _)| s).collect();
    ctx.progress.set(1.0);
    Ok(report)
}

fn canon(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

fn r4(x: f64) -> i64 {
    (x * 1e4).round() as i64
}

/// Rows, columns, IOP (1e-3) and pixel spacing (1e-4 mm), rounded.
type GeomKey = (u16, u16, Vec<i64>, Vec<i64>);

/// Geometry key for splitting: rows, cols, IOP and pixel spacing (rounded).
fn geom_key(h: &ImageHeader) -> GeomKey {
    let f = &h.frames[0];
    (
        h.rows,
        h.cols,
        f.iop.iter().map(|v| (v * 1e3).round() as i64).collect(),
        f.pixel_spacing.iter().map(|v| r4(*v)).collect(),
    )
}

fn geom_desc(h: &ImageHeader) -> String {
    let f = &h.frames[0];
    format!(
        "{}×{} px, {:.3}×{:.3} mm, orientation {:.3}\\{:.3}\\{:.3}\\{:.3}\\{:.3}\\{:.3}",
        h.cols,
        h.rows,
        f.pixel_spacing[1],
        f.pixel_spacing[0],
        f.iop[0],
        f.iop[1],
        f.iop[2],
        f.iop[3],
        f.iop[4],
        f.iop[5]
    )
}

/// Group image headers into series entries (deterministic order).
pub fn group(images: Vec<ImageHeader>) -> Vec<SeriesEntry> {
    // Primary key: patient + series + frame of reference; files without a
    // SeriesInstanceUID are grouped by patient + geometry. Multi-frame files stand alone.
    type Key = (String, String, String, String, String);
    let mut groups: BTreeMap<Key, Vec<ImageHeader>> = BTreeMap::new();
    for h in images {
        let key = if h.multiframe {
            (
                h.patient_id.clone(),
                h.study_uid.clone(),
                h.series_uid.clone(),
                h.for_uid.clone(),
                h.path.display().to_string(),
            )
        } else if h.series_uid.is_empty() {
            let (r, c, iop, ps) = geom_key(&h);
            (
                h.patient_id.clone(),
                "~no-uid".into(),
                format!("{}|{}", h.patient_name, h.modality),
                String::new(),
                format!("{r}x{c}|{iop:?}|{ps:?}"),
            )
        } else {
            // Not keyed by StudyInstanceUID: a SeriesInstanceUID is unique on its own, and real
            // files exist whose study UID differs per slice (warned about in `entry_from`).
            (
                h.patient_id.clone(),
                String::new(),
                h.series_uid.clone(),
                h.for_uid.clone(),
                String::new(),
            )
        };
        groups.entry(key).or_default().push(h);
    }
    let mut out = Vec::new();
    for ((_, study, _, _, _), hs) in groups {
        let no_uid = study == "~no-uid";
        // Split by geometry.
        let mut sub: BTreeMap<GeomKey, Vec<ImageHeader>> = BTreeMap::new();
        for h in hs {
            sub.entry(geom_key(&h)).or_default().push(h);
        }
        let n_sub = sub.len();
        for (_, hs) in sub {
            let mut e = entry_from(hs);
            if n_sub > 1 {
                e.warnings.push(format!(
                    "series {} mixes {n_sub} different image sizes/orientations/pixel spacings; split into {n_sub} entries (this one: {})",
                    if e.series_instance_uid.is_empty() { "(no UID)".to_string() } else { e.series_instance_uid.clone() },
                    e.geometry_summary
                ));
            }
            if no_uid {
                e.warnings.push(format!(
                    "SeriesInstanceUID is missing or empty in these {} files: grouped by patient and geometry ({}); check that they really belong together",
                    e.files.len(),
                    e.geometry_summary
                ));
            }
            out.push(e);
        }
    }
    out.sort_by(|a, b| {
        let ct = |e: &SeriesEntry| if e.modality == "CT" { 0 } else { 1 };
        ct(a)
            .cmp(&ct(b))
            .then(
                a.series_number
                    .unwrap_or(i32::MAX)
                    .cmp(&b.series_number.unwrap_or(i32::MAX)),
            )
            .then(a.series_description.cmp(&b.series_description))
            .then(a.series_instance_uid.cmp(&b.series_instance_uid))
            .then(a.files.cmp(&b.files))
    });
    out
}

fn entry_from(mut hs: Vec<ImageHeader>) -> SeriesEntry {
    // Sort files by position along the normal (ties: instance number, then path).
    hs.sort_by(|a, b| {
        a.instance_number
            .cmp(&b.instance_number)
            .then(a.path.cmp(&b.path))
    });
    let normal = normal_of(&hs[0].frames[0].iop);
    let ipps: Vec<Vector3<f64>> = hs.iter().map(|h| Vector3::from(h.frames[0].ipp)).collect();
    let order = sort_by_normal(&ipps, &normal);
    let first = &hs[order[0]];
    let mut warnings = Vec::new();
    let studies: BTreeSet<&str> = hs.iter().map(|h| h.study_uid.as_str()).collect();
    if studies.len() > 1 {
        warnings.push(format!(
            "the files of this series carry {} different StudyInstanceUIDs (inconsistent headers); grouped by SeriesInstanceUID",
            studies.len()
        ));
    } else if first.study_uid.is_empty() && !first.series_uid.is_empty() {
        warnings.push("StudyInstanceUID is empty".into());
    }
    if first.for_uid.is_empty() {
        warnings.push(
            "FrameOfReferenceUID is empty: structure sets cannot be checked against this series' frame of reference".into(),
        );
    }
    if first.modality != "CT" {
        warnings.push(format!(
            "modality {}: pixel values are not Hounsfield units",
            if first.modality.is_empty() {
                "unknown"
            } else {
                &first.modality
            }
        ));
    }
    let mut tss: BTreeSet<&str> = BTreeSet::new();
    for h in &hs {
        tss.insert(&h.ts);
    }
    SeriesEntry {
        patient_name: first.patient_name.clone(),
        patient_id: first.patient_id.clone(),
        study_description: first.study_description.clone(),
        series_description: first.series_description.clone(),
        study_date: first.study_date.clone(),
        modality: first.modality.clone(),
        series_number: first.series_number,
        study_instance_uid: first.study_uid.clone(),
        series_instance_uid: first.series_uid.clone(),
        frame_of_reference_uid: first.for_uid.clone(),
        rows: first.rows as u32,
        columns: first.cols as u32,
        image_count: hs.iter().map(|h| h.frames.len()).sum(),
        files: order.iter().map(|&i| hs[i].path.clone()).collect(),
        warnings,
        skipped: Vec::new(),
        geometry_summary: geom_desc(first),
        transfer_syntaxes: tss.into_iter().map(String::from).collect(),
    }
}
