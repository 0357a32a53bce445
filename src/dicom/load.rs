//! `load_series` (decode a series into a HU volume + report) and `thumbnail`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use nalgebra::{Matrix3, Point3, Vector3};
use rayon::prelude::*;

use super::budget;
use super::decode::{FrameCounts, PADDING_HU, decode_frame};
use super::guard::catch_quiet;
use super::header::{Classified, FrameInfo, ImageHeader, SPACING_RANGE_MM, classify_path, fmt_num, ts_name};
use super::parse::{self, Parsed};
use super::stack::{self, StackPlan, normal_of, sort_by_normal};
use super::{DicomError, LoadedSeries, SeriesEntry, SeriesReport, SkippedFile};
use crate::geometry::VolumeGeometry;
use crate::jobs::JobCtx;
use crate::volume::{SliceImage, SliceRef, Volume, VolumeMeta};

/// One image plane to decode: file (index into headers) and frame.
#[derive(Clone, Copy, Debug)]
struct Src {
    file: usize,
    frame: usize,
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

fn header_of(path: &std::path::Path) -> Result<ImageHeader, String> {
    match classify_path(path) {
        Classified::Image(h) => Ok(*h),
        Classified::Skipped { reason, .. } => Err(reason),
        Classified::Other(o) => Err(format!("not an image ({} object)", o.modality)),
        Classified::DicomDir(_) => Err("a DICOMDIR, not an image".into()),
    }
}

fn geom_key(h: &ImageHeader, f: &FrameInfo) -> (u16, u16, [i64; 6], [i64; 2]) {
    (
        h.rows,
        h.cols,
        f.iop.map(|v| (v * 1e3).round() as i64),
        f.pixel_spacing.map(|v| (v * 1e4).round() as i64),
    )
}

fn label(h: &ImageHeader, frame: usize) -> String {
    if h.frames.len() > 1 {
        format!("{} frame {}", file_name(&h.path), frame + 1)
    } else {
        file_name(&h.path)
    }
}

/// Decode an image series into a HU volume. See the module documentation of [`super`].
pub fn load_series(entry: &SeriesEntry, ctx: &JobCtx) -> Result<LoadedSeries, DicomError> {
    let mut report = SeriesReport::default();
    report.skipped.extend(entry.skipped.iter().cloned());
    report.warnings.extend(entry.warnings.iter().cloned());
    ctx.progress.set_message("Reading headers");
    ctx.progress.set(0.0);

    // 1. Headers (parallel, header-only reads).
    let results: Vec<(PathBuf, Result<ImageHeader, String>)> = entry
        .files
        .par_iter()
        .map(|p| {
            let _lease = budget::lease(budget::file_estimate(p, 0).min(256 << 20));
            let r = catch_quiet(|| header_of(p)).unwrap_or_else(|m| {
                Err(format!(
                    "the header reader crashed on this file ({m}; please report)"
                ))
            });
            (p.clone(), r)
        })
        .collect();
    if ctx.cancel.is_cancelled() {
        return Err(DicomError::Cancelled);
    }
    let mut headers = Vec::new();
    for (p, r) in results {
        match r {
            Ok(h) => headers.push(h),
            Err(reason) => report.skipped.push(SkippedFile { path: p, reason }),
        }
    }
    if headers.is_empty() {
        let why = report
            .skipped
            .first()
            .map(|s| format!("{}: {}", file_name(&s.path), s.reason))
            .unwrap_or_else(|| "the series has no files".into());
        return Err(DicomError::Unloadable(format!(
            "no file of the series could be read ({why})"
        )));
    }

    // 2. All planes; keep the majority geometry (size, orientation, pixel spacing).
    let mut srcs: Vec<Src> = Vec::new();
    for (fi, h) in headers.iter().enumerate() {
        for fr in 0..h.frames.len() {
            srcs.push(Src { file: fi, frame: fr });
        }
    }
    let mut counts: BTreeMap<_, usize> = BTreeMap::new();
    for s in &srcs {
        let h = &headers[s.file];
        *counts.entry(geom_key(h, &h.frames[s.frame])).or_default() += 1;
    }
    if counts.len() > 1 {
        let Some((major, _)) = counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
            .map(|(k, v)| (*k, *v))
        else {
            return Err(DicomError::Unloadable("internal: no geometry".into()));
        };
        let mut dropped_files: BTreeMap<usize, usize> = BTreeMap::new();
        srcs.retain(|s| {
            let h = &headers[s.file];
            let keep = geom_key(h, &h.frames[s.frame]) == major;
            if !keep {
                *dropped_files.entry(s.file).or_default() += 1;
            }
            keep
        });
        for (fi, n) in dropped_files {
            let h = &headers[fi];
            if h.frames.len() > 1 {
                // Frames of a multi-frame object left out are a warning of the series too.
                report.warnings.push(format!(
                    "{n} of the {} frames of {} differ from the rest of the series in image size, orientation or pixel spacing and are left out of the volume",
                    h.frames.len(),
                    file_name(&h.path)
                ));
            }
            report.skipped.push(SkippedFile {
                path: h.path.clone(),
                reason: format!(
                    "{} differ{} from the rest of the series in image size, orientation or pixel spacing ({}×{} px, pixel spacing {:?}, orientation {:?})",
                    if h.frames.len() > 1 { format!("{n} frame(s)") } else { "the image".to_string() },
                    if h.frames.len() > 1 && n != 1 { "" } else { "s" },
                    h.cols,
                    h.rows,
                    h.frames[0].pixel_spacing,
                    h.frames[0].iop
                ),
            });
        }
    }

    // 3. Sort by position along the normal; drop duplicates.
    let (iop, pixel_spacing) = {
        let f = &headers[srcs[0].file].frames[srcs[0].frame];
        (f.iop, f.pixel_spacing)
    };
    let normal = normal_of(&iop);
    // Deterministic tie order: instance number, then path, then frame.
    srcs.sort_by(|a, b| {
        let (ha, hb) = (&headers[a.file], &headers[b.file]);
        ha.instance_number
            .cmp(&hb.instance_number)
            .then(ha.path.cmp(&hb.path))
            .then(a.frame.cmp(&b.frame))
    });
    let pos = |s: &Src| Vector3::from(headers[s.file].frames[s.frame].ipp);
    let ipps: Vec<Vector3<f64>> = srcs.iter().map(pos).collect();
    let order = sort_by_normal(&ipps, &normal);
    let mut srcs: Vec<Src> = order.iter().map(|&i| srcs[i]).collect();
    let ipps: Vec<Vector3<f64>> = srcs.iter().map(pos).collect();
    let dups = stack::find_duplicates(&ipps, &normal);
    // Alternates for each kept plane (its duplicates), tried if the kept one fails to decode.
    let mut alts: Vec<Vec<Src>> = vec![Vec::new(); srcs.len()];
    for (kept, dropped) in &dups {
        alts[*kept].push(srcs[*dropped]);
    }
    if !dups.is_empty() {
        let mut drop = vec![false; srcs.len()];
        const LIST_MAX: usize = 8;
        let mut pairs = Vec::new();
        for (kept, dropped) in &dups {
            let (hk, hd) = (&headers[srcs[*kept].file], &headers[srcs[*dropped].file]);
            if pairs.len() < LIST_MAX {
                pairs.push(format!(
                    "{} and {} at {:.2} mm (kept {})",
                    label(hk, srcs[*kept].frame),
                    label(hd, srcs[*dropped].frame),
                    ipps[*kept].dot(&normal),
                    label(hk, srcs[*kept].frame)
                ));
            }
            drop[*dropped] = true;
        }
        report.warnings.push(format!(
            "{} duplicate slice position{} (same ImagePositionPatient along the slice normal; only the first of each is used, by InstanceNumber then file name): {}{}",
            dups.len(),
            if dups.len() == 1 { "" } else { "s" },
            pairs.join("; "),
            if dups.len() > LIST_MAX { format!("; and {} more", dups.len() - LIST_MAX) } else { String::new() }
        ));
        let mut k = 0;
        srcs.retain(|_| {
            let keep = !drop[k];
            k += 1;
            keep
        });
        let mut k = 0;
        alts.retain(|_| {
            let keep = !drop[k];
            k += 1;
            keep
        });
    }
    let thickness = headers[srcs[0].file].frames[srcs[0].frame].slice_thickness;
    let plan_for = |srcs: &[Src]| -> Result<StackPlan, DicomError> {
        let ipps: Vec<Vector3<f64>> = srcs.iter().map(pos).collect();
        let labels: Vec<String> = srcs.iter().map(|s| label(&headers[s.file], s.frame)).collect();
        stack::plan(&ipps, &iop, pixel_spacing, thickness, &labels).map_err(DicomError::Unloadable)
    };
    // Fail fast on geometry that cannot be loaded, before decoding anything.
    plan_for(&srcs)?;

    // 4. Decode every plane straight into the stack buffer (parallel over slices).
    let h0 = &headers[srcs[0].file];
    let (w, hgt) = (h0.cols as usize, h0.rows as usize);
    let slice_len = w * hgt;
    let total_voxels = slice_len
        .checked_mul(srcs.len())
        .filter(|n| *n <= parse::MAX_BYTES / 2);
    let Some(total_voxels) = total_voxels else {
        return Err(DicomError::Unloadable(format!(
            "the volume would be {}×{}×{} voxels, more than the 2 GiB limit",
            w,
            hgt,
            srcs.len()
        )));
    };
    // Multi-frame files that need a full parse are parsed once and shared by their frames.
    // Not leased from `budget`: it is one file (a multi-frame object is its own series), read
    // before the parallel phase, and a lease held here would make every plane's lease below
    // wait behind it; its size is bounded by the header checks (2 GiB, plausible expansion).
    let mut preloaded: BTreeMap<usize, Arc<Parsed>> = BTreeMap::new();
    let mut preload_fail: BTreeMap<usize, String> = BTreeMap::new();
    for s in &srcs {
        let h = &headers[s.file];
        if h.frames.len() > 1
            && h.native_offset.is_none()
            && !preloaded.contains_key(&s.file)
            && !preload_fail.contains_key(&s.file)
        {
            match parse::read_full(&h.path) {
                Ok(p) => {
                    preloaded.insert(s.file, Arc::new(p));
                }
                Err(e) => {
                    preload_fail.insert(s.file, e);
                }
            }
        }
    }
    ctx.progress.set_message("Decoding images");
    let mut buf = vec![0i16; total_voxels];
    let done = AtomicUsize::new(0);
    let n_src = srcs.len();
    let decode_one = |s: &Src, dst: &mut [i16], scratch: &mut Vec<u8>| -> Result<FrameCounts, String> {
        let h = &headers[s.file];
        if let Some(e) = preload_fail.get(&s.file) {
            return Err(e.clone());
        }
        let pre = preloaded.get(&s.file).map(|a| a.as_ref());
        // Bytes this plane holds while it decodes: one frame when read from the file or a
        // shared preloaded file, else the whole file (+ its inflated / decoded frame).
        let fb = h.frame_bytes();
        let _lease = if pre.is_some() || h.native_offset.is_some() {
            budget::lease(fb)
        } else {
            budget::lease(budget::file_estimate(&h.path, 2 * fb))
        };
        catch_quiet(|| decode_frame(h, h.native_offset, pre, s.frame, dst, scratch))
            .unwrap_or_else(|m| Err(format!("the decoder crashed on this file ({m})")))
    };
    // Per plane: Ok(counts) or Err(reason), plus failures of duplicates tried before success.
    type Outcome = (Result<FrameCounts, String>, Vec<(Src, String)>, Option<Src>);
    let results: Vec<Outcome> = buf
        .par_chunks_mut(slice_len)
        .zip(srcs.par_iter().zip(alts.par_iter()))
        .map_init(Vec::new, |scratch, (dst, (s, alt))| {
            if ctx.cancel.is_cancelled() {
                return (Err(String::new()), Vec::new(), None);
            }
            let mut failures = Vec::new();
            let mut out = decode_one(s, dst, scratch);
            let mut used_alt = None;
            if let Err(e) = &out {
                failures.push((*s, e.clone()));
                for a in alt {
                    match decode_one(a, dst, scratch) {
                        Ok(n) => {
                            out = Ok(n);
                            used_alt = Some(*a);
                            break;
                        }
                        Err(e) => failures.push((*a, e)),
                    }
                }
            }
            let n = done.fetch_add(1, Ordering::Relaxed) + 1;
            ctx.progress.set(0.05 + 0.9 * n as f32 / n_src as f32);
            (out, failures, used_alt)
        })
        .collect();
    drop(preloaded);
    if ctx.cancel.is_cancelled() {
        return Err(DicomError::Cancelled);
    }
    let mut padded = 0usize;
    // Clipped voxels (HU after rescale outside −32768 … 32767) per file.
    let mut clipped: BTreeMap<usize, usize> = BTreeMap::new();
    let mut failed = vec![false; n_src];
    let mut failed_files: BTreeMap<usize, String> = BTreeMap::new();
    for (k, (r, failures, used_alt)) in results.into_iter().enumerate() {
        for (s, e) in failures {
            failed_files.entry(s.file).or_insert(e);
        }
        if let Some(a) = used_alt {
            report.warnings.push(format!(
                "{} could not be decoded; its duplicate {} was used instead",
                label(&headers[srcs[k].file], srcs[k].frame),
                label(&headers[a.file], a.frame)
            ));
            srcs[k] = a;
        }
        match r {
            Ok(c) => {
                padded += c.padded;
                if c.clipped > 0 {
                    *clipped.entry(srcs[k].file).or_default() += c.clipped;
                }
            }
            Err(_) => failed[k] = true,
        }
    }
    for (fi, reason) in &failed_files {
        report.skipped.push(SkippedFile {
            path: headers[*fi].path.clone(),
            reason: reason.clone(),
        });
    }
    if failed.iter().any(|f| *f) {
        // Never silent: every plane left out is named in a warning of the series (not only
        // under `skipped`, which lists files), with where the volume lacks it — a gap inside
        // the stack (interpolated or refused by the stack plan below) or a shorter end.
        let n_failed = failed.iter().filter(|f| **f).count();
        let first_ok = failed.iter().position(|f| !*f);
        let last_ok = failed.iter().rposition(|f| !*f);
        const LIST_MAX: usize = 8;
        let mut items = Vec::new();
        for (k, _) in failed.iter().enumerate().filter(|(_, f)| **f).take(LIST_MAX) {
            let s = srcs[k];
            let at = pos(&s).dot(&normal);
            let where_ = match (first_ok, last_ok) {
                (Some(a), Some(b)) if k > a && k < b => "a gap inside the volume",
                (Some(_), Some(_)) => "the volume ends before it",
                _ => "nothing else decoded",
            };
            let why = failed_files
                .get(&s.file)
                .map(String::as_str)
                .unwrap_or("decode failed");
            items.push(format!(
                "{} at {at:.2} mm ({where_}; {why})",
                label(&headers[s.file], s.frame)
            ));
        }
        report.warnings.push(format!(
            "{n_failed} of {n_src} image planes could not be decoded and are missing from the volume: {}{}",
            items.join("; "),
            if n_failed > LIST_MAX {
                format!("; and {} more", n_failed - LIST_MAX)
            } else {
                String::new()
            }
        ));
        // Compact the stack: drop failed planes.
        let mut wpos = 0usize;
        for (k, _) in failed.iter().enumerate().filter(|(_, f)| !**f) {
            {
                if wpos != k {
                    buf.copy_within(k * slice_len..(k + 1) * slice_len, wpos * slice_len);
                }
                wpos += 1;
            }
        }
        buf.truncate(wpos * slice_len);
        let mut k = 0;
        srcs.retain(|_| {
            let keep = !failed[k];
            k += 1;
            keep
        });
        if srcs.is_empty() {
            let why = failed_files
                .iter()
                .next()
                .map(|(fi, e)| format!("{}: {e}", file_name(&headers[*fi].path)))
                .unwrap_or_default();
            return Err(DicomError::Unloadable(format!(
                "no image of the series could be decoded ({why})"
            )));
        }
    }

    // 5. Plan the output grid (again, without failed planes) and resample if needed.
    let plan = plan_for(&srcs)?;
    if srcs.len() > 1 && !SPACING_RANGE_MM.contains(&plan.step_mm) {
        return Err(DicomError::Unloadable(format!(
            "the slice step is {} mm (ImagePositionPatient of {} … {}), outside the plausible {}–{} mm: the positions are damaged",
            fmt_num(plan.step_mm),
            label(&headers[srcs[0].file], srcs[0].frame),
            label(&headers[srcs[srcs.len() - 1].file], srcs[srcs.len() - 1].frame),
            SPACING_RANGE_MM.start(),
            SPACING_RANGE_MM.end()
        )));
    }
    report.warnings.extend(plan.warnings.iter().cloned());
    // Rescale plausibility: HU outside what a CT volume holds were clipped. A few clipped
    // voxels (metal in an extended-range scan) are a warning naming the file and its rescale;
    // when half of the volume clips, the rescale is wrong (RescaleSlope 1e308 clips every
    // voxel to 32767 HU) and the series is refused: the HU drive the tissue model.
    if !clipped.is_empty() {
        let total_clipped: usize = clipped.values().sum();
        let voxels = srcs.len() * slice_len;
        let (fi, n) = clipped
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(f, n)| (*f, *n))
            .unwrap_or((0, 0));
        let f0 = &headers[fi].frames[0];
        let what = format!(
            "{} (RescaleSlope {}, RescaleIntercept {}): {n} voxels{}",
            file_name(&headers[fi].path),
            fmt_num(f0.slope),
            fmt_num(f0.intercept),
            if clipped.len() > 1 {
                format!(", {total_clipped} in {} files", clipped.len())
            } else {
                String::new()
            }
        );
        if total_clipped * 2 >= voxels {
            return Err(DicomError::Unloadable(format!(
                "{total_clipped} of {voxels} voxels map outside −32768…32767 HU after rescale — the rescale is not plausible for CT: {what}"
            )));
        }
        report.warnings.push(format!(
            "HU after rescale outside −32768…32767 were clipped: {what}"
        ));
    }
    let hu = if plan.identity {
        buf
    } else {
        ctx.progress.set_message("Resampling");
        let mut out = vec![0i16; slice_len * plan.n_out];
        out.par_chunks_mut(slice_len)
            .enumerate()
            .for_each(|(m, dst)| stack::resample_slice(&plan, &buf, w, hgt, m, dst));
        out
    };
    if padded > 0 {
        let pv = headers[srcs[0].file].padding.unwrap_or((0, 0));
        report.warnings.push(format!(
            "{padded} voxels are pixel padding (PixelPaddingValue {}{}): set to {PADDING_HU} HU",
            pv.0,
            if pv.1 != pv.0 {
                format!(" … {}", pv.1)
            } else {
                String::new()
            }
        ));
    }
    // Notes from parsing, aggregated.
    let mut notes: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    let mut tss: BTreeMap<&str, ()> = BTreeMap::new();
    let used: std::collections::BTreeSet<usize> = srcs.iter().map(|s| s.file).collect();
    for fi in &used {
        let h = &headers[*fi];
        tss.insert(&h.ts, ());
        for n in &h.notes {
            notes.entry(n).or_default().push(file_name(&h.path));
        }
    }
    for (n, files) in notes {
        report.warnings.push(if files.len() == 1 {
            format!("{}: {n}", files[0])
        } else {
            format!("{} files ({}, …): {n}", files.len(), files[0])
        });
    }
    report.transfer_syntaxes = tss.keys().map(|t| format!("{t} ({})", ts_name(t))).collect();
    for fi in &used {
        let uid = &headers[*fi].sop_instance;
        if !uid.is_empty() && !report.sop_instance_uids.contains(uid) {
            report.sop_instance_uids.push(uid.clone());
        }
    }

    // 6. Geometry and meta.
    let first = &headers[srcs[0].file];
    let f0 = &first.frames[srcs[0].frame];
    let row = Vector3::new(iop[0], iop[1], iop[2]);
    let col = Vector3::new(iop[3], iop[4], iop[5]);
    let geometry = VolumeGeometry {
        dims: [w, hgt, plan.n_out],
        spacing_mm: [pixel_spacing[1], pixel_spacing[0], plan.step_mm],
        origin_lps: Point3::from(f0.ipp),
        direction: Matrix3::from_columns(&[row, col, normal]),
    };
    let meta = VolumeMeta {
        patient_name: first.patient_name.clone(),
        patient_id: first.patient_id.clone(),
        patient_birth_date: first.birth_date.clone(),
        study_date: first.study_date.clone(),
        study_time: first.study_time.clone(),
        study_description: first.study_description.clone(),
        series_description: first.series_description.clone(),
        series_number: first.series_number,
        modality: first.modality.clone(),
        institution: first.institution.clone(),
        study_instance_uid: first.study_uid.clone(),
        series_instance_uid: first.series_uid.clone(),
        frame_of_reference_uid: first.for_uid.clone(),
        slice_thickness_mm: f0.slice_thickness,
        default_window: f0.window,
        patient_name_pn: first.study.patient_name_pn.clone(),
        patient_sex: first.study.patient_sex.clone(),
        accession_number: first.study.accession_number.clone(),
        referring_physician_pn: first.study.referring_physician_pn.clone(),
        study_id: first.study.study_id.clone(),
        slice_refs: slice_refs(&headers, &srcs, plan.identity && plan.n_out == srcs.len()),
    };
    let volume = Volume::new(geometry, hu, meta).map_err(|e| DicomError::Unloadable(e.to_string()))?;
    ctx.progress.set(1.0);
    Ok(LoadedSeries { volume, report })
}

/// The CT image behind each output slice when the output planes are the sources' own
/// (`identity`); empty otherwise, or when any plane lacks its UIDs.
fn slice_refs(headers: &[ImageHeader], srcs: &[Src], identity: bool) -> Vec<SliceRef> {
    if !identity {
        return Vec::new();
    }
    let refs: Vec<SliceRef> = srcs
        .iter()
        .map(|s| {
            let h = &headers[s.file];
            SliceRef {
                sop_class_uid: h.sop_class.clone(),
                sop_instance_uid: h.sop_instance.clone(),
                frame_number: h.multiframe.then(|| s.frame as u32 + 1),
            }
        })
        .collect();
    if refs
        .iter()
        .any(|r| r.sop_class_uid.trim().is_empty() || r.sop_instance_uid.trim().is_empty())
    {
        return Vec::new();
    }
    refs
}

/// Longer side of a thumbnail, in pixels.
const THUMB_MAX: usize = 128;

/// Decode the middle image of a series, in HU, downsampled to at most 128 px on its longer side.
pub fn thumbnail(entry: &SeriesEntry) -> Result<SliceImage, DicomError> {
    let n = entry.files.len();
    if n == 0 {
        return Err(DicomError::Unloadable("the series has no files".into()));
    }
    // Middle file first, then its neighbours.
    let mid = n / 2;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (i as i64 - mid as i64).abs());
    let mut last_err = String::new();
    for &i in order.iter().take(5) {
        let path = &entry.files[i];
        let h = match header_of(path) {
            Ok(h) => h,
            Err(e) => {
                last_err = format!("{}: {e}", file_name(path));
                continue;
            }
        };
        // Middle frame by position for multi-frame files.
        let normal = normal_of(&h.frames[0].iop);
        let ipps: Vec<Vector3<f64>> = h.frames.iter().map(|f| Vector3::from(f.ipp)).collect();
        let frame = sort_by_normal(&ipps, &normal)[h.frames.len() / 2];
        let (w, hh) = (h.cols as usize, h.rows as usize);
        let mut full = vec![0i16; w * hh];
        let mut scratch = Vec::new();
        let r = catch_quiet(|| decode_frame(&h, h.native_offset, None, frame, &mut full, &mut scratch))
            .unwrap_or_else(|m| Err(format!("the decoder crashed on this file ({m})")));
        if let Err(e) = r {
            last_err = format!("{}: {e}", file_name(path));
            continue;
        }
        let f = w.max(hh).div_ceil(THUMB_MAX).max(1);
        let (tw, th) = (w.div_ceil(f), hh.div_ceil(f));
        let mut hu = vec![0i16; tw * th];
        for ty in 0..th {
            for tx in 0..tw {
                let (mut sum, mut cnt) = (0i64, 0i64);
                for y in ty * f..((ty + 1) * f).min(hh) {
                    for x in tx * f..((tx + 1) * f).min(w) {
                        sum += full[y * w + x] as i64;
                        cnt += 1;
                    }
                }
                hu[ty * tw + tx] = (sum as f64 / cnt.max(1) as f64).round() as i16;
            }
        }
        let ps = h.frames[frame].pixel_spacing;
        return Ok(SliceImage {
            width: tw,
            height: th,
            hu,
            pixel_mm: [ps[1] * f as f64, ps[0] * f as f64],
        });
    }
    Err(DicomError::Unloadable(format!(
        "no image of the series could be decoded for a thumbnail ({last_err})"
    )))
}
