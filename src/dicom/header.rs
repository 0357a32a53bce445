//! From a parsed data set to what the loader needs: image header (pixel format, per-frame
//! geometry and rescale, also from Enhanced / Legacy Converted functional groups), or a
//! non-image object, a DICOMDIR, or a precise reason why the file cannot be used.

use std::path::{Path, PathBuf};

use super::OtherObject;
use super::decode::{EXPANSION_FLOOR_BYTES, MAX_EXPANSION, check_decodable};
use super::parse::{self, DataSet, MAX_BYTES, Parsed, PixelLoc};

// Tags used here.
pub mod tags {
    pub const SOP_CLASS: u32 = 0x0008_0016;
    pub const SOP_INSTANCE: u32 = 0x0008_0018;
    pub const STUDY_DATE: u32 = 0x0008_0020;
    pub const STUDY_TIME: u32 = 0x0008_0030;
    pub const MODALITY: u32 = 0x0008_0060;
    pub const INSTITUTION: u32 = 0x0008_0080;
    pub const STUDY_DESC: u32 = 0x0008_1030;
    pub const SERIES_DESC: u32 = 0x0008_103E;
    pub const PATIENT_NAME: u32 = 0x0010_0010;
    pub const PATIENT_ID: u32 = 0x0010_0020;
    pub const BIRTH_DATE: u32 = 0x0010_0030;
    pub const SLICE_THICKNESS: u32 = 0x0018_0050;
    pub const STUDY_UID: u32 = 0x0020_000D;
    pub const SERIES_UID: u32 = 0x0020_000E;
    pub const SERIES_NUMBER: u32 = 0x0020_0011;
    pub const INSTANCE_NUMBER: u32 = 0x0020_0013;
    pub const IPP: u32 = 0x0020_0032;
    pub const IOP: u32 = 0x0020_0037;
    pub const FOR_UID: u32 = 0x0020_0052;
    pub const SAMPLES: u32 = 0x0028_0002;
    pub const PHOTOMETRIC: u32 = 0x0028_0004;
    pub const NUMBER_OF_FRAMES: u32 = 0x0028_0008;
    pub const ROWS: u32 = 0x0028_0010;
    pub const COLUMNS: u32 = 0x0028_0011;
    pub const PIXEL_SPACING: u32 = 0x0028_0030;
    pub const BITS_ALLOCATED: u32 = 0x0028_0100;
    pub const BITS_STORED: u32 = 0x0028_0101;
    pub const HIGH_BIT: u32 = 0x0028_0102;
    pub const PIXEL_REPRESENTATION: u32 = 0x0028_0103;
    pub const PIXEL_PADDING_VALUE: u32 = 0x0028_0120;
    pub const PIXEL_PADDING_RANGE_LIMIT: u32 = 0x0028_0121;
    pub const WINDOW_CENTER: u32 = 0x0028_1050;
    pub const WINDOW_WIDTH: u32 = 0x0028_1051;
    pub const RESCALE_INTERCEPT: u32 = 0x0028_1052;
    pub const RESCALE_SLOPE: u32 = 0x0028_1053;
    pub const SHARED_FG: u32 = 0x5200_9229;
    pub const PER_FRAME_FG: u32 = 0x5200_9230;
    pub const PLANE_POSITION_SEQ: u32 = 0x0020_9113;
    pub const PLANE_ORIENTATION_SEQ: u32 = 0x0020_9116;
    pub const PIXEL_MEASURES_SEQ: u32 = 0x0028_9110;
    pub const PIXEL_VALUE_TRANSFORM_SEQ: u32 = 0x0028_9145;
    pub const FRAME_VOI_LUT_SEQ: u32 = 0x0028_9132;
    pub const DIRECTORY_RECORD_SEQ: u32 = 0x0004_1220;
    pub const REFERENCED_FILE_ID: u32 = 0x0004_1500;
    pub const STRUCTURE_SET_LABEL: u32 = 0x3006_0002;
    pub const REF_FOR_SEQ: u32 = 0x3006_0010;
    pub const CONTENT_LABEL: u32 = 0x0070_0080;
    pub const ACCESSION_NUMBER: u32 = 0x0008_0050;
    pub const REFERRING_PHYSICIAN: u32 = 0x0008_0090;
    pub const PATIENT_SEX: u32 = 0x0010_0040;
    pub const STUDY_ID: u32 = 0x0020_0010;
}
use tags::*;

/// Plausible pixel spacing and slice step of a CT, in mm (issue 15). Outside this range the
/// header is damaged: a vendor workstation would show such an image, but a planning tool
/// measures margins in mm, so the file (pixel spacing) or the series (slice step, see
/// `load.rs`) is refused with the value named rather than loaded with wrong distances.
pub const SPACING_RANGE_MM: std::ops::RangeInclusive<f64> = 0.05..=50.0;
/// ImagePositionPatient farther than this from the origin (10 m) in any axis is refused.
pub const MAX_POSITION_MM: f64 = 10_000.0;

/// Geometry and value transform of one image plane (a slice, or a frame of a multi-frame).
#[derive(Clone, Debug, PartialEq)]
pub struct FrameInfo {
    pub ipp: [f64; 3],
    /// Row direction (increasing column index) then column direction, unit vectors.
    pub iop: [f64; 6],
    /// PixelSpacing as in DICOM: [row spacing (between rows), column spacing].
    pub pixel_spacing: [f64; 2],
    pub slice_thickness: Option<f64>,
    pub slope: f64,
    pub intercept: f64,
    pub window: Option<(f64, f64)>,
}

/// Patient and study attributes a derived object (SEG, RTSTRUCT, Secondary Capture) copies from
/// its CT, as written (PatientName with its `^` separators).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StudyHeader {
    pub patient_name_pn: String,
    pub patient_sex: String,
    pub accession_number: String,
    pub referring_physician_pn: String,
    pub study_id: String,
}

/// Everything the loader needs from one image file.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageHeader {
    pub path: PathBuf,
    pub ts: String,
    pub sop_class: String,
    pub sop_instance: String,
    pub modality: String,
    pub patient_name: String,
    pub patient_id: String,
    pub birth_date: String,
    pub study_date: String,
    pub study_time: String,
    pub study_description: String,
    pub series_description: String,
    pub institution: String,
    pub series_number: Option<i32>,
    pub instance_number: Option<i64>,
    pub study_uid: String,
    pub series_uid: String,
    pub for_uid: String,
    pub rows: u16,
    pub cols: u16,
    pub bits_allocated: u16,
    pub bits_stored: u16,
    pub high_bit: u16,
    pub signed: bool,
    pub photometric: String,
    pub multiframe: bool,
    /// Pixel padding as stored values (inclusive range).
    pub padding: Option<(i64, i64)>,
    /// Absolute file offset of native (uncompressed, not deflated) pixel data.
    pub native_offset: Option<usize>,
    pub frames: Vec<FrameInfo>,
    /// Notes from parsing (corrected transfer syntax, …).
    pub notes: Vec<String>,
    /// Copied into the objects ablaplan exports.
    pub study: StudyHeader,
}

impl ImageHeader {
    pub fn frame_bytes(&self) -> usize {
        self.rows as usize * self.cols as usize * (self.bits_allocated as usize / 8)
    }
}

/// Identifiers of a file that could not be used, to attribute it to its series.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ids {
    pub patient_id: String,
    pub study_uid: String,
    pub series_uid: String,
}

#[derive(Clone, Debug)]
pub enum Classified {
    Image(Box<ImageHeader>),
    Other(OtherObject),
    DicomDir(Vec<PathBuf>),
    Skipped { reason: String, ids: Option<Ids> },
}

const NON_IMAGE_MODALITIES: &[&str] = &[
    "RTSTRUCT", "RTPLAN", "RTDOSE", "RTRECORD", "RTIMAGE", "SEG", "SR", "PR", "KO", "REG", "FID", "RWV",
    "DOC", "PLAN", "AU", "ECG", "HD", "M3D",
];

fn non_image_sop_class(uid: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "1.2.840.10008.5.1.4.1.1.66.",  // segmentation, registration, fiducials, surfaces
        "1.2.840.10008.5.1.4.1.1.481.", // RT objects
        "1.2.840.10008.5.1.4.1.1.88.",  // structured reports
        "1.2.840.10008.5.1.4.1.1.11.",  // presentation states
        "1.2.840.10008.5.1.4.1.1.104.", // encapsulated documents
        "1.2.840.10008.5.1.4.1.1.9.",   // waveforms
    ];
    PREFIXES.iter().any(|p| uid.starts_with(p))
}

const DICOMDIR_SOP_CLASS: &str = "1.2.840.10008.1.3.10";

fn ids(ds: &DataSet, buf: &[u8]) -> Ids {
    Ids {
        patient_id: ds.str_or_empty(buf, PATIENT_ID),
        study_uid: ds.str_or_empty(buf, STUDY_UID),
        series_uid: ds.str_or_empty(buf, SERIES_UID),
    }
}

/// Read the header of `path` and classify it.
pub fn classify_path(path: &Path) -> Classified {
    match parse::read_header(path) {
        Ok(p) => classify(path, &p),
        Err(reason) => Classified::Skipped { reason, ids: None },
    }
}

/// Find the data set that holds `attr` for a frame: per-frame group, shared group, then root.
fn fg<'a>(
    root: &'a DataSet,
    per_frame: Option<&'a DataSet>,
    shared: Option<&'a DataSet>,
    seq: u32,
    attr: u32,
) -> Option<&'a DataSet> {
    for g in [per_frame, shared].into_iter().flatten() {
        if let Some(item) = g.item(seq)
            && item.get(attr).is_some()
        {
            return Some(item);
        }
    }
    if root.get(attr).is_some() {
        Some(root)
    } else {
        None
    }
}

/// A number as a user would write it: plain for ordinary magnitudes, scientific for the
/// extreme ones (`1e308`, not three hundred digits).
pub fn fmt_num(x: f64) -> String {
    if x != 0.0 && x.is_finite() && !(1e-4..1e6).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

fn fmt_vals(v: &[f64]) -> String {
    v.iter().map(|x| fmt_num(*x)).collect::<Vec<_>>().join("\\")
}

/// Classify a parsed file.
pub fn classify(path: &Path, p: &Parsed) -> Classified {
    let ds = &p.root;
    let buf = &p.buf[..];
    let meta_sop = p.meta.string(&p.meta_buf, 0x0002_0002).unwrap_or_default();
    let sop_class = ds
        .string(buf, SOP_CLASS)
        .filter(|s| !s.is_empty())
        .unwrap_or(meta_sop);
    let modality = ds.str_or_empty(buf, MODALITY).to_ascii_uppercase();

    if sop_class == DICOMDIR_SOP_CLASS || ds.get(DIRECTORY_RECORD_SEQ).is_some() {
        let base = path.parent().unwrap_or(Path::new("."));
        let mut out = Vec::new();
        for rec in ds.items(DIRECTORY_RECORD_SEQ).unwrap_or(&[]) {
            if let Some(parts) = rec.multi(buf, REFERENCED_FILE_ID) {
                let parts: Vec<String> = parts.into_iter().filter(|s| !s.is_empty()).collect();
                if parts.is_empty() || parts.iter().any(|s| s == ".." || s.contains('/')) {
                    continue;
                }
                out.push(resolve_case_insensitive(base, &parts));
            }
        }
        return Classified::DicomDir(out);
    }

    let has_pixels = p.pixel.is_some();
    if non_image_sop_class(&sop_class) || NON_IMAGE_MODALITIES.contains(&modality.as_str()) {
        let description = [SERIES_DESC, STRUCTURE_SET_LABEL, CONTENT_LABEL]
            .iter()
            .filter_map(|t| ds.string(buf, *t))
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        let mut for_uid = ds.str_or_empty(buf, FOR_UID);
        if for_uid.is_empty()
            && let Some(item) = ds.item(REF_FOR_SEQ)
        {
            for_uid = item.str_or_empty(buf, FOR_UID);
        }
        return Classified::Other(OtherObject {
            path: path.to_path_buf(),
            modality,
            sop_class_uid: sop_class,
            description,
            patient_id: ds.str_or_empty(buf, PATIENT_ID),
            study_instance_uid: ds.str_or_empty(buf, STUDY_UID),
            series_instance_uid: ds.str_or_empty(buf, SERIES_UID),
            frame_of_reference_uid: for_uid,
        });
    }
    let skip = |reason: String| Classified::Skipped {
        reason,
        ids: Some(ids(ds, buf)),
    };
    if !has_pixels {
        if sop_class.is_empty() && modality.is_empty() {
            return Classified::Skipped {
                reason: "not an image: no SOP Class UID, Modality or Pixel Data".into(),
                ids: None,
            };
        }
        return skip(format!(
            "no pixel data (7FE0,0010) in this {} object: nothing to display",
            if modality.is_empty() { "DICOM" } else { &modality }
        ));
    }
    match image_header(path, p, sop_class, modality) {
        Ok(h) => Classified::Image(Box::new(h)),
        Err(reason) => skip(reason),
    }
}

fn image_header(path: &Path, p: &Parsed, sop_class: String, modality: String) -> Result<ImageHeader, String> {
    let ds = &p.root;
    let buf = &p.buf[..];
    let rows = ds.u16(buf, ROWS).unwrap_or(0);
    let cols = ds.u16(buf, COLUMNS).unwrap_or(0);
    if rows == 0 || cols == 0 {
        return Err(format!("Rows/Columns missing or zero ({rows} × {cols})"));
    }
    let samples = ds.u16(buf, SAMPLES).unwrap_or(1);
    let photometric = ds.str_or_empty(buf, PHOTOMETRIC).to_ascii_uppercase();
    if samples != 1 {
        return Err(format!(
            "colour image (SamplesPerPixel {samples}, {photometric}): only greyscale CT images can be loaded"
        ));
    }
    if photometric == "PALETTE COLOR" {
        return Err("palette colour image: only greyscale CT images can be loaded".into());
    }
    let bits_allocated = ds.u16(buf, BITS_ALLOCATED).unwrap_or(0);
    if ![8, 16, 32].contains(&bits_allocated) {
        return Err(format!(
            "BitsAllocated {bits_allocated} is not supported (8, 16 or 32 expected)"
        ));
    }
    let mut bits_stored = ds.u16(buf, BITS_STORED).unwrap_or(bits_allocated);
    if bits_stored == 0 || bits_stored > bits_allocated {
        bits_stored = bits_allocated;
    }
    let mut high_bit = ds.u16(buf, HIGH_BIT).unwrap_or(bits_stored - 1);
    if high_bit >= bits_allocated || high_bit + 1 < bits_stored {
        high_bit = bits_stored - 1;
    }
    let signed = ds.u16(buf, PIXEL_REPRESENTATION).unwrap_or(0) == 1;
    let n_frames = match ds.is(buf, NUMBER_OF_FRAMES) {
        None => 1usize,
        Some(n) if (1..=100_000).contains(&n) => n as usize,
        Some(n) => return Err(format!("NumberOfFrames {n} is not a sensible frame count")),
    };
    let frame_bytes = (rows as usize) * (cols as usize) * (bits_allocated as usize / 8);
    let total = frame_bytes.checked_mul(n_frames).filter(|t| *t <= MAX_BYTES).ok_or_else(|| {
        format!("the header declares {rows} × {cols} × {n_frames} frames × {} bytes, more than the 2 GiB limit", bits_allocated / 8)
    })?;
    match &p.pixel {
        Some(PixelLoc::Float) => return Err("float/double pixel data is not a CT image format".into()),
        Some(PixelLoc::Native { len, declared, .. }) => {
            if declared > len {
                return Err(format!(
                    "truncated: PixelData declares {declared} bytes but the file ends after {len} bytes of it"
                ));
            }
            // Exactly the geometry's size (an odd total may carry one pad byte): longer data
            // means Rows, Columns or NumberOfFrames are not what the writer used, and reading
            // it with the header's stride gives a different, wrong image.
            if *len != total && *len != total + total % 2 {
                return Err(format!(
                    "PixelData has {len} bytes but Rows × Columns × frames × bytes/sample = {rows} × {cols} × {n_frames} × {} = {total} bytes: header and pixel data disagree",
                    bits_allocated / 8
                ));
            }
        }
        Some(PixelLoc::Encapsulated { .. }) | Some(PixelLoc::EncapsulatedUnparsed { .. }) => {
            check_decodable(&p.ts, bits_stored, bits_allocated)?;
            // Every frame needs at least one fragment item (8-byte header): a NumberOfFrames
            // beyond what the rest of the file can hold is damaged (and would make the loader
            // try 100,000 copies of one frame).
            let room = match &p.pixel {
                Some(PixelLoc::EncapsulatedUnparsed { off }) => p.file_len.saturating_sub(*off) / 8,
                Some(PixelLoc::Encapsulated { fragments, .. }) => fragments.len(),
                _ => usize::MAX,
            };
            if n_frames > room {
                return Err(format!(
                    "NumberOfFrames {n_frames} but the encapsulated pixel data has room for at most {room} fragments: the header is damaged"
                ));
            }
            // The loader allocates the decoded frames before decoding them: refuse a
            // geometry the file's bytes cannot plausibly encode (same rule as per frame in
            // `decode::check_expansion`), so damaged Rows/Columns/NumberOfFrames in a small
            // file cannot ask for gigabytes.
            if total > EXPANSION_FLOOR_BYTES && total / MAX_EXPANSION > p.file_len {
                return Err(format!(
                    "the header declares {rows} × {cols} × {n_frames} frames × {} bytes = {total} bytes of pixels,                      which a {}-byte file cannot encode: Rows, Columns or NumberOfFrames are damaged",
                    bits_allocated / 8,
                    p.file_len
                ));
            }
        }
        None => return Err("no pixel data".into()),
    }
    // Padding (stored-value units; VR US or SS depending on PixelRepresentation).
    let pad_val = |tag: u32| -> Option<i64> {
        let v = ds.u16(buf, tag)?;
        Some(if signed { v as i16 as i64 } else { v as i64 })
    };
    let padding = pad_val(PIXEL_PADDING_VALUE).map(|a| match pad_val(PIXEL_PADDING_RANGE_LIMIT) {
        Some(b) => (a.min(b), a.max(b)),
        None => (a, a),
    });

    // Per-frame geometry.
    let shared = ds.item(SHARED_FG);
    let per_frame = ds.items(PER_FRAME_FG);
    let multiframe = n_frames > 1 || per_frame.is_some();
    if let Some(pf) = per_frame
        && pf.len() < n_frames
    {
        return Err(format!(
            "PerFrameFunctionalGroupsSequence has {} items for {n_frames} frames",
            pf.len()
        ));
    }
    let mut frames = Vec::with_capacity(n_frames);
    for f in 0..n_frames {
        let pf = per_frame.and_then(|v| v.get(f));
        let where_ = if n_frames > 1 {
            format!(" (frame {})", f + 1)
        } else {
            String::new()
        };
        let ipp_ds = fg(ds, pf, shared, PLANE_POSITION_SEQ, IPP);
        let iop_ds = fg(ds, pf, shared, PLANE_ORIENTATION_SEQ, IOP);
        let (Some(ipp_ds), Some(iop_ds)) = (ipp_ds, iop_ds) else {
            let missing: Vec<&str> = [
                (ipp_ds.is_none(), "ImagePositionPatient"),
                (iop_ds.is_none(), "ImageOrientationPatient"),
            ]
            .iter()
            .filter(|(m, _)| *m)
            .map(|(_, n)| *n)
            .collect();
            return Err(format!(
                "missing {}{where_}: the image cannot be placed in patient space",
                missing.join(" and ")
            ));
        };
        let ipp = match ipp_ds.ds(buf, IPP) {
            Some(Ok(v)) if v.len() == 3 && v.iter().any(|x| x.abs() > MAX_POSITION_MM) => {
                return Err(format!(
                    "ImagePositionPatient{where_} {} is more than {} m from the scanner's origin: not a plausible patient position (damaged header)",
                    fmt_vals(&v),
                    MAX_POSITION_MM / 1000.0
                ));
            }
            Some(Ok(v)) if v.len() == 3 => [v[0], v[1], v[2]],
            Some(Ok(v)) => {
                return Err(format!(
                    "ImagePositionPatient{where_} has {} values, 3 expected",
                    v.len()
                ));
            }
            Some(Err(raw)) => {
                return Err(format!(
                    "ImagePositionPatient{where_} \"{raw}\" is not three numbers"
                ));
            }
            None => return Err(format!("missing ImagePositionPatient{where_}")),
        };
        let iop = match iop_ds.ds(buf, IOP) {
            Some(Ok(v)) if v.len() == 6 => normalise_iop(&v).ok_or_else(|| {
                format!(
                    "ImageOrientationPatient{where_} {} is not two orthogonal unit vectors",
                    fmt_vals(&v)
                )
            })?,
            Some(Ok(v)) => {
                return Err(format!(
                    "ImageOrientationPatient{where_} has {} values, 6 expected",
                    v.len()
                ));
            }
            Some(Err(raw)) => {
                return Err(format!(
                    "ImageOrientationPatient{where_} \"{raw}\" is not six numbers"
                ));
            }
            None => return Err(format!("missing ImageOrientationPatient{where_}")),
        };
        let ps_ds = fg(ds, pf, shared, PIXEL_MEASURES_SEQ, PIXEL_SPACING)
            .ok_or_else(|| format!("missing PixelSpacing{where_}: distances cannot be measured"))?;
        let pixel_spacing = match ps_ds.ds(buf, PIXEL_SPACING) {
            Some(Ok(v))
                if v.len() == 2
                    && v.iter().any(|x| !SPACING_RANGE_MM.contains(x))
                    && v[0] > 0.0
                    && v[1] > 0.0 =>
            {
                return Err(format!(
                    "PixelSpacing{where_} {} mm is outside {}–{} mm: not a plausible CT pixel size (damaged header); distances would be wrong",
                    fmt_vals(&v),
                    SPACING_RANGE_MM.start(),
                    SPACING_RANGE_MM.end()
                ));
            }
            Some(Ok(v)) if v.len() == 2 && v[0] > 0.0 && v[1] > 0.0 => [v[0], v[1]],
            Some(Ok(v)) => {
                return Err(format!(
                    "PixelSpacing{where_} \"{}\" is not two positive numbers",
                    fmt_vals(&v)
                ));
            }
            Some(Err(raw)) => {
                return Err(format!(
                    "PixelSpacing{where_} \"{raw}\" is not two positive numbers"
                ));
            }
            None => return Err(format!("missing PixelSpacing{where_}")),
        };
        let slice_thickness = fg(ds, pf, shared, PIXEL_MEASURES_SEQ, SLICE_THICKNESS)
            .and_then(|d| d.ds(buf, SLICE_THICKNESS))
            .and_then(|r| r.ok())
            .and_then(|v| v.first().copied())
            // Used only as the step of a single-slice series: an implausible value is ignored
            // (that series then says its step is a default).
            .filter(|t| SPACING_RANGE_MM.contains(t));
        let (slope, intercept) = match fg(ds, pf, shared, PIXEL_VALUE_TRANSFORM_SEQ, RESCALE_SLOPE)
            .or_else(|| fg(ds, pf, shared, PIXEL_VALUE_TRANSFORM_SEQ, RESCALE_INTERCEPT))
        {
            None => (1.0, 0.0),
            Some(d) => {
                let slope = match d.ds(buf, RESCALE_SLOPE) {
                    None => 1.0,
                    Some(Ok(v)) if v.is_empty() => 1.0,
                    Some(Ok(v)) if v[0] != 0.0 => v[0],
                    Some(Ok(v)) => {
                        return Err(format!(
                            "RescaleSlope{where_} is {}: every voxel would have the same value",
                            v[0]
                        ));
                    }
                    Some(Err(raw)) => return Err(format!("RescaleSlope{where_} \"{raw}\" is not a number")),
                };
                let intercept = match d.ds(buf, RESCALE_INTERCEPT) {
                    None => 0.0,
                    Some(Ok(v)) if v.is_empty() => 0.0,
                    Some(Ok(v)) => v[0],
                    Some(Err(raw)) => {
                        return Err(format!("RescaleIntercept{where_} \"{raw}\" is not a number"));
                    }
                };
                (slope, intercept)
            }
        };
        let window = fg(ds, pf, shared, FRAME_VOI_LUT_SEQ, WINDOW_CENTER).and_then(|d| {
            let c = d.ds(buf, WINDOW_CENTER)?.ok()?.first().copied()?;
            let w = d.ds(buf, WINDOW_WIDTH)?.ok()?.first().copied()?;
            (w > 0.0).then_some((c, w))
        });
        frames.push(FrameInfo {
            ipp,
            iop,
            pixel_spacing,
            slice_thickness,
            slope,
            intercept,
            window,
        });
    }
    let series_number = ds.is(buf, SERIES_NUMBER).and_then(|n| i32::try_from(n).ok());
    Ok(ImageHeader {
        path: path.to_path_buf(),
        ts: p.ts.clone(),
        sop_class,
        sop_instance: ds.str_or_empty(buf, SOP_INSTANCE),
        modality,
        patient_name: ds
            .str_or_empty(buf, PATIENT_NAME)
            .replace('^', " ")
            .trim()
            .to_string(),
        patient_id: ds.str_or_empty(buf, PATIENT_ID),
        birth_date: ds.str_or_empty(buf, BIRTH_DATE),
        study_date: ds.str_or_empty(buf, STUDY_DATE),
        study_time: ds.str_or_empty(buf, STUDY_TIME),
        study_description: ds.str_or_empty(buf, STUDY_DESC),
        series_description: ds.str_or_empty(buf, SERIES_DESC),
        institution: ds.str_or_empty(buf, INSTITUTION),
        series_number,
        instance_number: ds.is(buf, INSTANCE_NUMBER),
        study_uid: ds.str_or_empty(buf, STUDY_UID),
        series_uid: ds.str_or_empty(buf, SERIES_UID),
        for_uid: ds.str_or_empty(buf, FOR_UID),
        rows,
        cols,
        bits_allocated,
        bits_stored,
        high_bit,
        signed,
        photometric,
        multiframe,
        padding,
        native_offset: match &p.pixel {
            Some(PixelLoc::Native { off, .. }) if p.ts != parse::TS_DEFLATED => Some(*off),
            _ => None,
        },
        frames,
        notes: p.notes.clone(),
        study: StudyHeader {
            patient_name_pn: ds.str_or_empty(buf, PATIENT_NAME),
            patient_sex: ds.str_or_empty(buf, PATIENT_SEX),
            accession_number: ds.str_or_empty(buf, ACCESSION_NUMBER),
            referring_physician_pn: ds.str_or_empty(buf, REFERRING_PHYSICIAN),
            study_id: ds.str_or_empty(buf, STUDY_ID),
        },
    })
}

/// Normalise the two IOP direction vectors; `None` if they are zero or not orthogonal.
pub fn normalise_iop(v: &[f64]) -> Option<[f64; 6]> {
    let r = [v[0], v[1], v[2]];
    let c = [v[3], v[4], v[5]];
    let nr = (r[0] * r[0] + r[1] * r[1] + r[2] * r[2]).sqrt();
    let nc = (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt();
    if !(nr > 0.5 && nr < 1.5 && nc > 0.5 && nc < 1.5) {
        return None;
    }
    let dot = (r[0] * c[0] + r[1] * c[1] + r[2] * c[2]) / (nr * nc);
    if dot.abs() > 0.01 {
        return None;
    }
    Some([r[0] / nr, r[1] / nr, r[2] / nr, c[0] / nc, c[1] / nc, c[2] / nc])
}

/// Resolve DICOMDIR path components below `base`, matching case-insensitively when needed
/// (media written on case-insensitive file systems).
fn resolve_case_insensitive(base: &Path, parts: &[String]) -> PathBuf {
    let mut cur = base.to_path_buf();
    for part in parts {
        let direct = cur.join(part);
        if direct.exists() {
            cur = direct;
            continue;
        }
        let found = std::fs::read_dir(&cur).ok().and_then(|rd| {
            rd.filter_map(|e| e.ok())
                .find(|e| e.file_name().to_string_lossy().eq_ignore_ascii_case(part))
                .map(|e| e.path())
        });
        cur = found.unwrap_or(direct);
    }
    cur
}

/// Human-readable name of a transfer syntax.
pub fn ts_name(uid: &str) -> &'static str {
    match uid {
        "1.2.840.10008.1.2" => "Implicit VR Little Endian",
        "1.2.840.10008.1.2.1" => "Explicit VR Little Endian",
        "1.2.840.10008.1.2.2" => "Explicit VR Big Endian",
        "1.2.840.10008.1.2.1.99" => "Deflated Explicit VR Little Endian",
        "1.2.840.10008.1.2.5" => "RLE Lossless",
        "1.2.840.10008.1.2.4.50" => "JPEG Baseline (8-bit)",
        "1.2.840.10008.1.2.4.51" => "JPEG Extended (12-bit)",
        "1.2.840.10008.1.2.4.53" => "JPEG Spectral Selection, non-hierarchical (retired)",
        "1.2.840.10008.1.2.4.55" => "JPEG Full Progression, non-hierarchical (retired)",
        "1.2.840.10008.1.2.4.57" => "JPEG Lossless (Process 14)",
        "1.2.840.10008.1.2.4.70" => "JPEG Lossless SV1",
        "1.2.840.10008.1.2.4.80" => "JPEG-LS Lossless",
        "1.2.840.10008.1.2.4.81" => "JPEG-LS Near-Lossless",
        "1.2.840.10008.1.2.4.90" => "JPEG 2000 Lossless",
        "1.2.840.10008.1.2.4.91" => "JPEG 2000",
        "1.2.840.10008.1.2.4.201" => "HTJ2K Lossless",
        "1.2.840.10008.1.2.4.203" => "HTJ2K",
        _ => "unknown transfer syntax",
    }
}
