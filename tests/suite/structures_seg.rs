//! DICOM SEG import: every `seg-small` object equals its frames decoded independently in this
//! test (file read with the `dicom-object` crate, not our parser; 1-bit frames unpacked here
//! as one continuous LSB-first bit stream), voxel for voxel, on a CT grid built from the SEG's
//! own frames (or the real CT where it exists); the encapsulated / big-endian variants equal the
//! native file; label maps, fractional thresholds, overlaps; the TotalSegmentator SEG against
//! the RTSTRUCT of the same structures.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use ablaplan::anatomy::{Mask, StructureKind};
use ablaplan::dicom::{
    self, ImportOptions, ImportedStructures, SeriesIds, StructureImportError, import_rtstruct, import_seg,
};
use ablaplan::geometry::VolumeGeometry;
use ablaplan::jobs::JobCtx;
use dicom_core::Tag;
use dicom_object::{InMemDicomObject, open_file};
use nalgebra::{Matrix3, Point3, Vector3};

/// A SEG decoded independently: per frame its position, segment (None for label maps) and
/// stored values.
struct Decoded {
    rows: usize,
    cols: usize,
    iop: [f64; 6],
    spacing: [f64; 2],
    for_uid: String,
    ref_series: String,
    labelmap: bool,
    max_fractional: Option<f64>,
    frames: Vec<([f64; 3], Option<u16>, Vec<u16>)>,
}

fn floats(o: &InMemDicomObject, g: u16, e: u16) -> Option<Vec<f64>> {
    o.element(Tag(g, e)).ok()?.to_multi_float64().ok()
}

fn item(o: &InMemDicomObject, g: u16, e: u16) -> Option<&InMemDicomObject> {
    o.element(Tag(g, e)).ok()?.items()?.first()
}

fn decode_independently(path: &Path) -> Decoded {
    let obj = open_file(path).expect("dicom-object opens the SEG");
    let int = |g, e| obj.element(Tag(g, e)).ok().and_then(|v| v.to_int::<i64>().ok());
    let rows = int(0x0028, 0x0010).expect("rows") as usize;
    let cols = int(0x0028, 0x0011).expect("cols") as usize;
    let bits = int(0x0028, 0x0100).expect("bits");
    let n_frames = int(0x0028, 0x0008).unwrap_or(1) as usize;
    let sop = obj
        .element(Tag(0x0008, 0x0016))
        .expect("sop")
        .to_str()
        .expect("sop")
        .trim_end_matches('\0')
        .to_string();
    let labelmap = sop == "1.2.840.10008.5.1.4.1.1.66.7";
    let max_fractional = obj
        .element(Tag(0x0062, 0x0001))
        .ok()
        .and_then(|t| t.to_str().ok().map(|s| s.trim().to_string()))
        .filter(|t| t == "FRACTIONAL")
        .and_then(|_| int(0x0062, 0x000E))
        .map(|m| m as f64);
    let shared = item(&obj, 0x5200, 0x9229).expect("shared functional groups");
    let per_frame = obj
        .element(Tag(0x5200, 0x9230))
        .expect("per-frame")
        .items()
        .expect("items");
    let pick = |pf: &InMemDicomObject, sg: u16, se: u16, g: u16, e: u16| -> Vec<f64> {
        item(pf, sg, se)
            .and_then(|i| floats(i, g, e))
            .or_else(|| item(shared, sg, se).and_then(|i| floats(i, g, e)))
            .expect("functional group value")
    };
    let iop = pick(&per_frame[0], 0x0020, 0x9116, 0x0020, 0x0037);
    let ps = pick(&per_frame[0], 0x0028, 0x9110, 0x0028, 0x0030);
    let pixels = obj
        .element(Tag(0x7FE0, 0x0010))
        .expect("pixel data")
        .to_bytes()
        .expect("native bytes");
    let n = rows * cols;
    let mut frames = Vec::new();
    for (f, pf) in per_frame.iter().enumerate().take(n_frames) {
        let ipp = pick(pf, 0x0020, 0x9113, 0x0020, 0x0032);
        let seg = item(pf, 0x0062, 0x000A)
            .and_then(|i| i.element(Tag(0x0062, 0x000B)).ok())
            .and_then(|v| v.to_int::<u16>().ok());
        let vals: Vec<u16> = match bits {
            1 => (0..n)
                .map(|p| {
                    let bit = f * n + p;
                    ((pixels[bit / 8] >> (bit % 8)) & 1) as u16
                })
                .collect(),
            8 => pixels[f * n..(f + 1) * n].iter().map(|v| *v as u16).collect(),
            _ => pixels[f * 2 * n..(f + 1) * 2 * n]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect(),
        };
        frames.push(([ipp[0], ipp[1], ipp[2]], seg, vals));
    }
    let s = |g, e| {
        obj.element(Tag(g, e))
            .ok()
            .and_then(|v| {
                v.to_str()
                    .ok()
                    .map(|s| s.trim_end_matches('\0').trim().to_string())
            })
            .unwrap_or_default()
    };
    let ref_series = item(&obj, 0x0008, 0x1115)
        .and_then(|i| i.element(Tag(0x0020, 0x000E)).ok())
        .and_then(|v| v.to_str().ok().map(|s| s.trim_end_matches('\0').to_string()))
        .unwrap_or_default();
    Decoded {
        rows,
        cols,
        iop: [iop[0], iop[1], iop[2], iop[3], iop[4], iop[5]],
        spacing: [ps[0], ps[1]],
        for_uid: s(0x0020, 0x0052),
        ref_series,
        labelmap,
        max_fractional,
        frames,
    }
}

/// A CT grid made of the SEG's own frame planes (uniform step = smallest gap).
fn grid_from_frames(d: &Decoded) -> VolumeGeometry {
    let r = Vector3::new(d.iop[0], d.iop[1], d.iop[2]);
    let c = Vector3::new(d.iop[3], d.iop[4], d.iop[5]);
    let nrm = r.cross(&c);
    let mut pos: Vec<f64> = d.frames.iter().map(|f| Vector3::from(f.0).dot(&nrm)).collect();
    pos.sort_by(f64::total_cmp);
    pos.dedup_by(|a, b| (*a - *b).abs() < 1e-3);
    let step = pos.windows(2).map(|w| w[1] - w[0]).fold(f64::INFINITY, f64::min);
    let step = if step.is_finite() { step } else { 1.0 };
    let nz = ((pos[pos.len() - 1] - pos[0]) / step).round() as usize + 1;
    let first = d
        .frames
        .iter()
        .find(|f| (Vector3::from(f.0).dot(&nrm) - pos[0]).abs() < 1e-3)
        .expect("first frame");
    VolumeGeometry {
        dims: [d.cols, d.rows, nz],
        spacing_mm: [d.spacing[1], d.spacing[0], step],
        origin_lps: Point3::from(first.0),
        direction: Matrix3::from_columns(&[r, c, nrm]),
    }
}

fn ids_of(d: &Decoded) -> SeriesIds {
    SeriesIds {
        frame_of_reference_uid: d.for_uid.clone(),
        series_instance_uid: d.ref_series.clone(),
        sop_instance_uids: Vec::new(),
    }
}

/// Expected dense mask per segment number: frames placed on `g` by their IPP (which, on these
/// grids, are exact voxel positions with the same in-plane grid).
fn expected(d: &Decoded, g: &VolumeGeometry, threshold: f64) -> BTreeMap<u16, Vec<bool>> {
    let mut out: BTreeMap<u16, Vec<bool>> = BTreeMap::new();
    let (nx, ny) = (g.dims[0], g.dims[1]);
    assert_eq!((nx, ny), (d.cols, d.rows), "same in-plane grid expected");
    for (ipp, seg, vals) in &d.frames {
        let v = g.to_voxel(&Point3::from(*ipp));
        assert!(
            v.x.abs() < 1e-3 && v.y.abs() < 1e-3,
            "frame origin on the grid origin: {v:?}"
        );
        let k = v.z.round();
        if k < 0.0 || k >= g.dims[2] as f64 {
            continue;
        }
        let k = k as usize;
        let segs: Vec<u16> = match seg {
            Some(s) => vec![*s],
            None => {
                let mut s: Vec<u16> = vals.iter().copied().filter(|v| *v != 0).collect();
                s.sort();
                s.dedup();
                s
            }
        };
        for s in segs {
            let dense = out.entry(s).or_insert_with(|| vec![false; g.voxel_count()]);
            for (p, val) in vals.iter().enumerate() {
                let inside = match (d.labelmap, d.max_fractional) {
                    (true, _) => *val == s,
                    (false, Some(max)) => *val as f64 >= threshold * max,
                    (false, None) => *val != 0,
                };
                if inside {
                    dense[k * nx * ny + p] = true;
                }
            }
        }
    }
    out.retain(|_, v| v.iter().any(|b| *b));
    out
}

fn segment_number(s: &ablaplan::anatomy::Structure) -> u16 {
    let ablaplan::anatomy::Provenance::Imported { detail, .. } = &s.provenance else {
        panic!("imported provenance expected")
    };
    let after = detail.split("segment ").nth(1).expect("segment number in detail");
    after
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("number")
}

fn assert_equal(r: &ImportedStructures, exp: &BTreeMap<u16, Vec<bool>>, what: &str) {
    let got: BTreeMap<u16, &Mask> = r
        .structures
        .iter()
        .map(|s| (segment_number(s), s.mask()))
        .collect();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        exp.keys().collect::<Vec<_>>(),
        "{what}: segments"
    );
    for (s, want) in exp {
        let dense = got[s].to_dense();
        let diff = dense.iter().zip(want).filter(|(a, b)| a != b).count();
        assert_eq!(diff, 0, "{what}: segment {s} differs in {diff} voxels");
        assert!(want.iter().any(|b| *b));
    }
}

/// Import a SEG on a grid made of its own frames and compare with the independent decode.
fn check_seg(rel: &str, opts: &ImportOptions) -> Option<ImportedStructures> {
    let path = common::dicom_data(rel)?;
    let d = decode_independently(&path);
    let g = grid_from_frames(&d);
    let r = import_seg(&path, &g, &ids_of(&d), opts).unwrap_or_else(|e| panic!("{rel}: {e}"));
    eprintln!(
        "{rel}: {} segment(s) {:?}, grid {:?}, warnings {:?}, skipped {:?}",
        r.structures.len(),
        r.structures
            .iter()
            .map(|s| (s.name.as_str(), s.mask().voxel_count()))
            .collect::<Vec<_>>(),
        g.dims,
        r.warnings,
        r.skipped_rois
    );
    assert_equal(&r, &expected(&d, &g, opts.seg_threshold), rel);
    Some(r)
}

#[test]
fn binary_segs_equal_their_frames() {
    let o = ImportOptions::default();
    for rel in [
        "seg-small/dcmqi-liver-ct3slice/SEG/liver.dcm",
        "seg-small/highdicom/seg_image_ct_binary.dcm",
        "seg-small/highdicom/seg_image_ct_binary_single_frame.dcm",
        "seg-small/dcmqi-labelmap-24x38x3/label.seg.dcm",
        "seg-small/pydicom-liver-seg-variants/liver.dcm",
    ] {
        let Some(r) = check_seg(rel, &o) else { return };
        assert!(r.warnings.is_empty(), "{rel}: {:?}", r.warnings);
    }
}

#[test]
fn bit_packed_frames_not_byte_aligned() {
    // 23 × 38 = 874 bits per frame (frame 2 starts at bit 874 = byte 109, bit 2) and
    // 510 × 510 = 260100 bits (frame 2 starts mid-byte).
    let o = ImportOptions::default();
    let Some(r) = check_seg("seg-small/dcmqi-bitpacking-23x38x3/label.seg.dcm", &o) else {
        return;
    };
    assert_eq!(r.structures.len(), 1);
    assert_eq!(r.structures[0].mask().voxel_count(), 4 + 314 + 4);
    let Some(r) = check_seg(
        "seg-small/pydicom-liver-seg-variants/liver_nonbyte_aligned.dcm",
        &o,
    ) else {
        return;
    };
    assert_eq!(r.structures[0].mask().voxel_count(), 36233 + 35645 + 35220);
}

#[test]
fn overlapping_segments_stay_separate() {
    let o = ImportOptions::default();
    for (rel, n) in [
        ("seg-small/highdicom/seg_image_ct_binary_overlap.dcm", 2),
        ("seg-small/dcmqi-liver-ct3slice/SEG/partial_overlaps.dcm", 5),
    ] {
        let Some(r) = check_seg(rel, &o) else { return };
        assert_eq!(r.structures.len(), n, "{rel}");
        let dense: Vec<Vec<bool>> = r.structures.iter().map(|s| s.mask().to_dense()).collect();
        let overlap = (0..dense[0].len())
            .filter(|&i| dense.iter().filter(|d| d[i]).count() > 1)
            .count();
        eprintln!("{rel}: {overlap} voxels in more than one segment");
        assert!(overlap > 0, "{rel}: the segments are meant to overlap");
    }
    // Names, kinds and colours from the Segment Sequence (CIELab → sRGB).
    let Some(r) = check_seg("seg-small/dcmqi-liver-ct3slice/SEG/partial_overlaps.dcm", &o) else {
        return;
    };
    let names: Vec<&str> = r.structures.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["GREEN", "ORANGE", "PURPLE", "LIGHT_BLUE", "DARK_BLUE"]);
    let kinds: Vec<StructureKind> = r.structures.iter().map(|s| s.kind).collect();
    // Names say nothing; the property types Artery and Vein do.
    assert_eq!(
        kinds,
        [
            StructureKind::Other,
            StructureKind::Vessel,
            StructureKind::Other,
            StructureKind::Other,
            StructureKind::Vessel
        ]
    );
    let green = r.structures[0].colour;
    assert!(green[1] > green[0] && green[1] > green[2], "GREEN is {green:?}");
    let orange = r.structures[1].colour;
    assert!(
        orange[0] > orange[1] && orange[1] > orange[2],
        "ORANGE is {orange:?}"
    );
}

#[test]
fn fractional_segs_threshold() {
    let o = ImportOptions::default();
    let Some(_) = check_seg("seg-small/highdicom/seg_image_ct_binary_fractional.dcm", &o) else {
        return;
    };
    let Some(half) = check_seg("seg-small/highdicom/seg_image_ct_true_fractional.dcm", &o) else {
        return;
    };
    // Adjustable threshold: compared with the independent decode at each threshold.
    let mut counts = vec![
        half.structures
            .first()
            .map(|s| s.mask().voxel_count())
            .unwrap_or(0),
    ];
    for t in [0.1, 0.9] {
        let opts = ImportOptions {
            seg_threshold: t,
            ..o
        };
        let r =
            check_seg("seg-small/highdicom/seg_image_ct_true_fractional.dcm", &opts).expect("data present");
        counts.push(r.structures.first().map(|s| s.mask().voxel_count()).unwrap_or(0));
    }
    eprintln!("true fractional: voxels at threshold 0.5, 0.1, 0.9: {counts:?}");
    assert!(counts[1] > counts[0] && counts[0] > counts[2], "{counts:?}");
}

#[test]
fn labelmap_sop_class() {
    let o = ImportOptions::default();
    for rel in [
        "seg-small/dcmqi-labelmap-24x38x3/sparse-labelmap-noppv.dcm",
        "seg-small/dcmqi-labelmap-24x38x3/sparse-labelmap-ppv5.dcm",
    ] {
        let Some(r) = check_seg(rel, &o) else { return };
        assert_eq!(r.structures.len(), 1);
        assert_eq!(r.structures[0].name, "Liver");
        assert_eq!(r.skipped_rois.len(), 1, "background listed as skipped");
        assert!(r.skipped_rois[0].1.contains("background"));
    }
    // Both frames of the sparse label map hold the label of the middle slice of the BINARY
    // SEG of the same phantom (checked with pydicom), at the positions of slices 1 and 3.
    let (Some(lm), Some(bin)) = (
        common::dicom_data("seg-small/dcmqi-labelmap-24x38x3/sparse-labelmap-noppv.dcm"),
        common::dicom_data("seg-small/dcmqi-labelmap-24x38x3/label.seg.dcm"),
    ) else {
        return;
    };
    let db = decode_independently(&bin);
    let g = grid_from_frames(&db);
    let dl = decode_independently(&lm);
    let a = import_seg(&lm, &g, &ids_of(&dl), &o).expect("labelmap");
    let b = import_seg(&bin, &g, &ids_of(&db), &o).expect("binary");
    let (ma, mb) = (a.structures[0].mask(), b.structures[0].mask());
    assert_eq!(mb.voxel_count(), 315);
    assert_eq!(ma.voxel_count(), 630);
    for k in [0usize, 2] {
        let shifted: Vec<_> = ma.slice_runs(k).to_vec();
        assert_eq!(shifted, mb.slice_runs(1), "slice {k}");
    }
    assert!(ma.slice_runs(1).is_empty());
}

#[test]
fn every_transfer_syntax_equals_the_native_file() {
    let Some(native) = common::dicom_data("seg-small/pydicom-liver-seg-variants/liver.dcm") else {
        return;
    };
    let d = decode_independently(&native);
    let g = grid_from_frames(&d);
    let ids = ids_of(&d);
    let o = ImportOptions::default();
    let want = import_seg(&native, &g, &ids, &o).expect("native");
    assert_equal(&want, &expected(&d, &g, 0.5), "liver.dcm");
    for f in [
        "liver_expb.dcm",
        "liver_rle.dcm",
        "liver_j2k.dcm",
        "liver_deflate.dcm",
    ] {
        let Some(p) = common::dicom_data(&format!("seg-small/pydicom-liver-seg-variants/{f}")) else {
            return;
        };
        let r = import_seg(&p, &g, &ids, &o).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(r.warnings.is_empty(), "{f}: {:?}", r.warnings);
        assert_eq!(r.structures.len(), 1, "{f}");
        assert_eq!(r.structures[0].mask(), want.structures[0].mask(), "{f}");
        eprintln!(
            "{f}: equal to liver.dcm ({} voxels)",
            r.structures[0].mask().voxel_count()
        );
    }
    let Some(native) = common::dicom_data("seg-small/pydicom-liver-seg-variants/liver_nonbyte_aligned.dcm")
    else {
        return;
    };
    let d = decode_independently(&native);
    let g = grid_from_frames(&d);
    let want = import_seg(&native, &g, &ids, &o).expect("native");
    for f in [
        "liver_nonbyte_aligned_rle.dcm",
        "liver_nonbyte_aligned_j2k.dcm",
        "liver_nonbyte_aligned_deflate.dcm",
    ] {
        let Some(p) = common::dicom_data(&format!("seg-small/pydicom-liver-seg-variants/{f}")) else {
            return;
        };
        let r = import_seg(&p, &g, &ids, &o).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(r.warnings.is_empty(), "{f}: {:?}", r.warnings);
        assert_eq!(r.structures[0].mask(), want.structures[0].mask(), "{f}");
    }
}

#[test]
fn liver_seg_on_its_real_ct_and_on_a_resampled_grid() {
    let (Some(ct_dir), Some(seg)) = (
        common::dicom_data("seg-small/dcmqi-liver-ct3slice/CT"),
        common::dicom_data("seg-small/dcmqi-liver-ct3slice/SEG/liver.dcm"),
    ) else {
        return;
    };
    let ctx = JobCtx::default();
    let scan = dicom::scan(&[ct_dir], &ctx).expect("scan");
    let l = dicom::load_series(&scan.series[0], &ctx).expect("load");
    let ids = SeriesIds::from_loaded(&l);
    let g = &l.volume.geometry;
    let d = decode_independently(&seg);
    let r = import_seg(&seg, g, &ids, &ImportOptions::default()).expect("import");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_equal(&r, &expected(&d, g, 0.5), "liver.dcm on its CT");
    assert_eq!(r.structures[0].name, "Liver");
    // On a grid of twice the pixel size, shifted by one SEG pixel, nearest neighbour: CT voxel
    // (i, j) has its centre on SEG pixel (2i + 1, 2j + 1).
    let mut coarse = g.clone();
    coarse.dims = [256, 256, 3];
    coarse.spacing_mm = [2.0 * g.spacing_mm[0], 2.0 * g.spacing_mm[1], g.spacing_mm[2]];
    coarse.origin_lps = g.to_patient(&Vector3::new(1.0, 1.0, 0.0));
    let rc = import_seg(&seg, &coarse, &ids, &ImportOptions::default()).expect("coarse");
    let m = rc.structures[0].mask();
    let full = r.structures[0].mask();
    for k in 0..3 {
        for j in 0..256 {
            for i in 0..256 {
                assert_eq!(
                    m.contains(i, j, k),
                    full.contains(2 * i + 1, 2 * j + 1, k),
                    "({i}, {j}, {k})"
                );
            }
        }
    }
}

#[test]
fn wrong_frame_of_reference_is_refused() {
    let Some(p) = common::dicom_data("seg-small/highdicom/seg_image_ct_binary.dcm") else {
        return;
    };
    let d = decode_independently(&p);
    let g = grid_from_frames(&d);
    let ids = SeriesIds {
        frame_of_reference_uid: "1.2.3.999".into(),
        ..ids_of(&d)
    };
    let e = import_seg(&p, &g, &ids, &ImportOptions::default()).unwrap_err();
    eprintln!("{e}");
    assert!(matches!(e, StructureImportError::FrameOfReferenceMismatch { .. }));
    let m = e.to_string();
    assert!(
        m.contains("1.2.3.999") && m.contains(&d.for_uid) && m.contains("seg_image_ct_binary.dcm"),
        "{m}"
    );
    // A CT without a frame of reference needs confirmation.
    let ids = SeriesIds {
        frame_of_reference_uid: String::new(),
        ..ids_of(&d)
    };
    let e = import_seg(&p, &g, &ids, &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(e, StructureImportError::MissingFrameOfReference { .. }),
        "{e}"
    );
    // Frames outside the CT: warned with the z ranges.
    let mut short = g.clone();
    short.dims[2] = 1;
    let r = import_seg(&p, &short, &ids_of(&d), &ImportOptions::default()).expect("import");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("2 frame(s) lie outside the CT volume")),
        "{:?}",
        r.warnings
    );
    // An RTSTRUCT is not a SEG.
    if let Some(rt) = common::dicom_data("rtutils-small-edge-cases/mock_data/rt.dcm") {
        let e = import_seg(&rt, &g, &ids_of(&d), &ImportOptions::default()).unwrap_err();
        assert!(matches!(e, StructureImportError::WrongObject { .. }), "{e}");
    }
}

#[test]
fn totalseg_seg_on_its_ct_compared_with_the_rtstruct() {
    let Some(dir) = common::dicom_data("totalseg-abdomen-vessels-derived") else {
        return;
    };
    let ctx = JobCtx::default();
    let scan = dicom::scan(&[dir.join("CT")], &ctx).expect("scan");
    let l = dicom::load_series(&scan.series[0], &ctx).expect("load");
    let ids = SeriesIds::from_loaded(&l);
    let g = &l.volume.geometry;
    let seg = dir.join("SEG/seg.dcm");
    let r = import_seg(&seg, g, &ids, &ImportOptions::default()).expect("import");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_equal(&r, &expected(&decode_independently(&seg), g, 0.5), "totalseg SEG");
    let names: Vec<(&str, StructureKind)> = r.structures.iter().map(|s| (s.name.as_str(), s.kind)).collect();
    assert_eq!(
        names,
        [
            ("aorta", StructureKind::Vessel),
            ("inferior_vena_cava", StructureKind::Vessel),
            ("portal_vein_and_splenic_vein", StructureKind::Vessel),
            ("liver", StructureKind::Other),
            ("pancreas", StructureKind::Other),
        ]
    );
    // The RTSTRUCT was made by rt-utils from the same label map: its contours run through the
    // centres of the boundary voxels, which the writing tool (and we, since issue 17) count as
    // inside. So each ROI is its SEG segment's twin: within 2 % of its voxel count and inside it.
    let rt = import_rtstruct(
        &dir.join("RTSTRUCT/rtstruct.dcm"),
        g,
        &ids,
        &ImportOptions::default(),
    )
    .expect("rt");
    for s in &r.structures {
        let c = rt
            .structures
            .iter()
            .find(|c| c.name == s.name)
            .expect("same ROI in the RTSTRUCT");
        let (ns, nc) = (s.mask().voxel_count(), c.mask().voxel_count());
        let dense_s = s.mask().to_dense();
        let dense_c = c.mask().to_dense();
        let inter = dense_s.iter().zip(&dense_c).filter(|(a, b)| **a && **b).count();
        let dice = 2.0 * inter as f64 / (ns + nc) as f64;
        let change = (nc as f64 - ns as f64) / ns as f64;
        eprintln!(
            "{}: SEG {ns} voxels, RTSTRUCT {nc} voxels ({:+.2} %), RTSTRUCT inside the SEG for {:.2} % of its voxels, Dice {dice:.4}",
            s.name,
            change * 100.0,
            inter as f64 / nc as f64 * 100.0
        );
        assert!(
            change.abs() <= 0.02,
            "{}: RTSTRUCT {nc} vs SEG {ns} voxels",
            s.name
        );
        assert!(
            inter as f64 >= 0.995 * nc as f64,
            "{}: the RTSTRUCT lies inside the SEG",
            s.name
        );
        assert!(dice >= 0.98, "{}: Dice {dice}", s.name);
    }
}
