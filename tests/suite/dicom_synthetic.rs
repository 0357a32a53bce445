//! End-to-end tests on synthetic DICOM files written to a temporary folder (no shared data
//! needed): sorting by IPP · normal, rescale per slice, padding, signed/unsigned, BitsStored,
//! gaps, duplicates, gantry tilt, mixed orientation, empty UIDs, big endian.

use std::path::Path;

use ablaplan::dicom::{DicomError, load_series, scan};
use ablaplan::jobs::JobCtx;

/// Minimal DICOM Part 10 writer for tests (explicit VR LE or BE).
struct W {
    big: bool,
    body: Vec<u8>,
}

impl W {
    fn new(big: bool) -> Self {
        W {
            big,
            body: Vec::new(),
        }
    }
    fn u16b(&self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn u32b(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn elem(&mut self, g: u16, e: u16, vr: &[u8; 2], val: &[u8]) -> &mut Self {
        let mut v = val.to_vec();
        if v.len() % 2 == 1 {
            v.push(if vr == b"UI" || vr == b"OB" { 0 } else { b' ' });
        }
        let gb = self.u16b(g);
        let eb = self.u16b(e);
        self.body.extend_from_slice(&gb);
        self.body.extend_from_slice(&eb);
        self.body.extend_from_slice(vr);
        if matches!(vr, b"OB" | b"OW" | b"SQ" | b"UN" | b"UT") {
            self.body.extend_from_slice(&[0, 0]);
            let l = self.u32b(v.len() as u32);
            self.body.extend_from_slice(&l);
        } else {
            let l = self.u16b(v.len() as u16);
            self.body.extend_from_slice(&l);
        }
        self.body.extend_from_slice(&v);
        self
    }
    fn s(&mut self, g: u16, e: u16, vr: &[u8; 2], v: &str) -> &mut Self {
        self.elem(g, e, vr, v.as_bytes())
    }
    fn us(&mut self, g: u16, e: u16, v: u16) -> &mut Self {
        let b = self.u16b(v);
        self.elem(g, e, b"US", &b)
    }
    fn file(&self) -> Vec<u8> {
        let ts: &[u8] = if self.big {
            b"1.2.840.10008.1.2.2\0"
        } else {
            b"1.2.840.10008.1.2.1\0"
        };
        let mut f = vec![0u8; 128];
        f.extend_from_slice(b"DICM");
        f.extend_from_slice(&[0x02, 0x00, 0x10, 0x00, b'U', b'I']);
        f.extend_from_slice(&(ts.len() as u16).to_le_bytes());
        f.extend_from_slice(ts);
        f.extend_from_slice(&self.body);
        f
    }
}

#[derive(Clone)]
struct Slice {
    ipp: [f64; 3],
    iop: [f64; 6],
    rows: u16,
    cols: u16,
    series: &'static str,
    slope: f64,
    intercept: f64,
    signed: bool,
    bits_stored: u16,
    padding: Option<i16>,
    instance: i32,
    big: bool,
    /// Stored values, row-major.
    pixels: Vec<i32>,
}

impl Slice {
    fn new(z: f64, value: i32) -> Self {
        Slice {
            ipp: [-10.0, -20.0, z],
            iop: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            rows: 3,
            cols: 4,
            series: "1.2.3.4.5",
            slope: 1.0,
            intercept: -1024.0,
            signed: false,
            bits_stored: 12,
            padding: None,
            instance: 1,
            big: false,
            pixels: vec![value; 12],
        }
    }
    fn write(&self, path: &Path) {
        let mut w = W::new(self.big);
        let ds = |v: &[f64]| v.iter().map(|x| format!("{x}")).collect::<Vec<_>>().join("\\");
        w.s(0x0008, 0x0016, b"UI", "1.2.840.10008.5.1.4.1.1.2")
            .s(0x0008, 0x0018, b"UI", &format!("1.2.3.9.{}", self.instance))
            .s(0x0008, 0x0060, b"CS", "CT")
            .s(0x0010, 0x0010, b"PN", "Test^Patient")
            .s(0x0010, 0x0020, b"LO", "P1")
            .s(0x0018, 0x0050, b"DS", "2")
            .s(
                0x0020,
                0x000D,
                b"UI",
                if self.series.is_empty() { "" } else { "1.2.3.4" },
            )
            .s(0x0020, 0x000E, b"UI", self.series)
            .s(0x0020, 0x0011, b"IS", "7")
            .s(0x0020, 0x0013, b"IS", &self.instance.to_string())
            .s(0x0020, 0x0032, b"DS", &ds(&self.ipp))
            .s(0x0020, 0x0037, b"DS", &ds(&self.iop))
            .s(
                0x0020,
                0x0052,
                b"UI",
                if self.series.is_empty() { "" } else { "1.2.3.6" },
            )
            .us(0x0028, 0x0002, 1)
            .s(0x0028, 0x0004, b"CS", "MONOCHROME2")
            .us(0x0028, 0x0010, self.rows)
            .us(0x0028, 0x0011, self.cols)
            .s(0x0028, 0x0030, b"DS", "0.5\\0.75")
            .us(0x0028, 0x0100, 16)
            .us(0x0028, 0x0101, self.bits_stored)
            .us(0x0028, 0x0102, self.bits_stored - 1)
            .us(0x0028, 0x0103, self.signed as u16);
        if let Some(p) = self.padding {
            w.us(0x0028, 0x0120, p as u16);
        }
        w.s(0x0028, 0x1050, b"DS", "40").s(0x0028, 0x1051, b"DS", "400");
        w.s(0x0028, 0x1052, b"DS", &format!("{}", self.intercept)).s(
            0x0028,
            0x1053,
            b"DS",
            &format!("{}", self.slope),
        );
        let px: Vec<u8> = self.pixels.iter().flat_map(|v| w.u16b(*v as u16)).collect();
        w.elem(0x7FE0, 0x0010, b"OW", &px);
        std::fs::write(path, w.file()).expect("write test file");
    }
}

fn write_all(dir: &Path, slices: &[Slice]) {
    for (n, s) in slices.iter().enumerate() {
        s.write(&dir.join(format!("s{n:03}.dcm")));
    }
}

fn load_dir(dir: &Path) -> Result<ablaplan::dicom::LoadedSeries, DicomError> {
    let ctx = JobCtx::default();
    let r = scan(&[dir.to_path_buf()], &ctx).expect("scan");
    assert_eq!(r.series.len(), 1, "{:#?} {:#?}", r.series, r.skipped);
    load_series(&r.series[0], &ctx)
}

#[test]
fn sorts_by_position_not_instance_number_and_rescales_per_slice() {
    let dir = tempfile::tempdir().unwrap();
    // Written in scrambled order with misleading instance numbers.
    let mut a = Slice::new(6.0, 100);
    a.instance = 1;
    let mut b = Slice::new(0.0, 200);
    b.instance = 2;
    b.slope = 2.0; // per-slice rescale
    b.intercept = -1000.0;
    let mut c = Slice::new(3.0, 300);
    c.instance = 3;
    write_all(dir.path(), &[a, b, c]);
    let l = load_dir(dir.path()).unwrap();
    let v = &l.volume;
    assert_eq!(v.geometry.dims, [4, 3, 3]);
    assert_eq!(v.geometry.spacing_mm, [0.75, 0.5, 3.0]);
    assert_eq!(v.geometry.origin_lps.z, 0.0);
    assert_eq!(v.get(0, 0, 0), Some(200 * 2 - 1000));
    assert_eq!(v.get(3, 2, 1), Some(300 - 1024));
    assert_eq!(v.get(1, 1, 2), Some(100 - 1024));
    assert_eq!(v.meta.default_window, Some((40.0, 400.0)));
    assert_eq!(v.meta.patient_name, "Test Patient");
    assert!(l.report.warnings.is_empty(), "{:?}", l.report.warnings);
}

#[test]
fn padding_signed_bits_stored_saturation_and_big_endian() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Slice::new(0.0, 0);
    s.signed = true;
    s.bits_stored = 16;
    s.padding = Some(-2000);
    s.big = true;
    s.intercept = 0.0;
    s.slope = 1.0;
    s.pixels = vec![-2000, -2000, 5, -5, 32767, -32768, 0, 1, 2, 3, 4, -2000];
    let mut t = s.clone();
    t.ipp[2] = 1.0;
    t.slope = 10.0; // 32767 * 10 saturates
    write_all(dir.path(), &[s, t]);
    let l = load_dir(dir.path()).unwrap();
    let v = &l.volume;
    assert_eq!(&v.hu[..6], &[-1024, -1024, 5, -5, 32767, -32768]);
    assert_eq!(&v.hu[12..18], &[-1024, -1024, 50, -50, i16::MAX, i16::MIN]);
    let w = l.report.warnings.join("\n");
    assert!(
        w.contains("6 voxels are pixel padding (PixelPaddingValue -2000): set to -1024 HU"),
        "{w}"
    );
    assert!(l.report.transfer_syntaxes[0].contains("Big Endian"));
}

#[test]
fn bits_stored_masks_unused_high_bits() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Slice::new(0.0, 0);
    // 0xF005: the top nibble is outside BitsStored = 12 → stored value 5.
    s.pixels = vec![0xF005; 12];
    write_all(dir.path(), &[s]);
    let l = load_dir(dir.path()).unwrap();
    assert!(l.volume.hu.iter().all(|v| *v == 5 - 1024));
}

#[test]
fn gap_duplicate_and_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let mut dup = Slice::new(2.0, 999);
    dup.instance = 50;
    write_all(
        dir.path(),
        &[
            Slice::new(0.0, 0),
            Slice::new(2.0, 20),
            dup,
            Slice::new(6.0, 60),
            Slice::new(8.0, 80),
        ],
    );
    let l = load_dir(dir.path()).unwrap();
    let v = &l.volume;
    assert_eq!(v.geometry.dims[2], 5);
    // Slice at 4 mm interpolated between 2 (value 20 − 1024) and 6 (60 − 1024).
    assert_eq!(v.get(0, 0, 2), Some(40 - 1024));
    assert_eq!(
        v.get(0, 0, 1),
        Some(20 - 1024),
        "the lower InstanceNumber duplicate is kept"
    );
    let w = l.report.warnings.join("\n");
    assert!(
        w.contains("duplicate") && w.contains("s001.dcm") && w.contains("s002.dcm"),
        "{w}"
    );
    assert!(w.contains("4.00 mm between s001.dcm and s003.dcm"), "{w}");

    let dir = tempfile::tempdir().unwrap();
    write_all(
        dir.path(),
        &[
            Slice::new(0.0, 0),
            Slice::new(2.0, 0),
            Slice::new(12.0, 0),
            Slice::new(14.0, 0),
        ],
    );
    match load_dir(dir.path()) {
        Err(DicomError::Unloadable(m)) => assert!(
            m.contains("gap of 10.00 mm") && m.contains("invent anatomy"),
            "{m}"
        ),
        other => panic!("expected refusal, got {:?}", other.map(|l| l.report)),
    }
}

#[test]
fn gantry_tilt_shear_corrected() {
    let dir = tempfile::tempdir().unwrap();
    // Columns tilted 10° about x; table moves 2 mm in z per slice.
    let a = 10f64.to_radians();
    let iop = [1.0, 0.0, 0.0, 0.0, a.cos(), -a.sin()];
    let mut slices = Vec::new();
    for k in 0..4 {
        let mut s = Slice::new(2.0 * k as f64, 0);
        s.iop = iop;
        s.rows = 8;
        s.cols = 2;
        s.pixels = (0..16).map(|p| (p / 2) * 100).collect(); // value = 100 × row
        slices.push(s);
    }
    write_all(dir.path(), &slices);
    let l = load_dir(dir.path()).unwrap();
    let w = l.report.warnings.join("\n");
    assert!(w.contains("gantry tilt of 10.00°"), "{w}");
    let g = &l.volume.geometry;
    let n = g.direction.column(2).into_owned();
    assert!((n - nalgebra::Vector3::new(0.0, a.sin(), a.cos())).norm() < 1e-9);
    assert!((g.spacing_mm[2] - 2.0 * a.cos()).abs() < 1e-9);
    // Row j of output slice k samples source row j − dv_k, dv_k = −2k·sin(10°)/0.5 px.
    for k in 0..4usize {
        let dv = -(2.0 * k as f64) * a.sin() / 0.5;
        let j = 4usize;
        let src_row = j as f64 - dv;
        let want = if src_row <= 7.0 {
            (100.0 * src_row - 1024.0).round() as i16
        } else {
            -1024
        };
        assert_eq!(l.volume.get(0, j, k), Some(want), "k={k}");
    }
}

#[test]
fn mixed_orientation_is_split_and_empty_uids_grouped() {
    let dir = tempfile::tempdir().unwrap();
    let mut sag = Slice::new(0.0, 0);
    sag.iop = [0.0, 1.0, 0.0, 0.0, 0.0, -1.0];
    write_all(dir.path(), &[Slice::new(0.0, 0), Slice::new(1.0, 0), sag]);
    let r = scan(&[dir.path().to_path_buf()], &JobCtx::default()).unwrap();
    assert_eq!(r.series.len(), 2);
    assert!(
        r.series
            .iter()
            .all(|e| e.warnings.iter().any(|w| w.contains("split into 2 entries")))
    );

    let dir = tempfile::tempdir().unwrap();
    let mut a = Slice::new(0.0, 0);
    a.series = "";
    let mut b = Slice::new(1.0, 0);
    b.series = "";
    write_all(dir.path(), &[a, b]);
    let r = scan(&[dir.path().to_path_buf()], &JobCtx::default()).unwrap();
    assert_eq!(r.series.len(), 1);
    assert!(
        r.series[0]
            .warnings
            .iter()
            .any(|w| w.contains("SeriesInstanceUID is missing or empty")),
        "{:?}",
        r.series[0].warnings
    );
    let l = load_series(&r.series[0], &JobCtx::default()).unwrap();
    assert_eq!(l.volume.geometry.dims, [4, 3, 2]);
}

#[test]
fn single_file_and_missing_path() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("one.dcm");
    Slice::new(5.0, 7).write(&p);
    let ctx = JobCtx::default();
    let r = scan(std::slice::from_ref(&p), &ctx).unwrap();
    let l = load_series(&r.series[0], &ctx).unwrap();
    assert_eq!(
        l.volume.geometry.spacing_mm[2], 2.0,
        "single slice: SliceThickness"
    );
    assert!(l.report.warnings[0].contains("single-slice"));
    assert!(matches!(
        scan(&[dir.path().join("nope")], &ctx),
        Err(DicomError::Io { .. })
    ));
}
