//! Issue 15, DICOM part: every check with a small crafted input written here (through the
//! fuzzer's own DICOM writer, `examples/fuzz/seeds.rs`), and the fuzzer's deterministic smoke
//! run. Nothing is read from the shared data folder.

#[path = "../../examples/fuzz/harness.rs"]
mod harness;
#[path = "../../examples/fuzz/seeds.rs"]
mod seeds;

use std::path::Path;
use std::time::{Duration, Instant};

use ablaplan::dicom::{
    DicomError, ImportOptions, LoadedSeries, ScanReport, StructureImportError, import_seg, load_series, scan,
};
use ablaplan::jobs::JobCtx;
use seeds::{Elem, Obj, Val};

fn write(dir: &Path, objs: &[Obj]) {
    for (i, o) in objs.iter().enumerate() {
        std::fs::write(dir.join(format!("f{i}.dcm")), o.to_bytes()).expect("write");
    }
}

fn scan_load(dir: &Path) -> (ScanReport, Option<Result<LoadedSeries, DicomError>>) {
    let ctx = JobCtx::default();
    let rep = scan(&[dir.to_path_buf()], &ctx).expect("scan");
    let l = rep.series.first().map(|e| load_series(e, &ctx));
    (rep, l)
}

fn series(ts: &str) -> Vec<Obj> {
    (0..seeds::SLICES).map(|k| seeds::ct_slice(k, ts)).collect()
}

fn us(tag: u32, v: u16) -> Elem {
    Elem::bytes(tag, b"US", &v.to_le_bytes())
}

fn frags(o: &mut Obj) -> &mut Vec<Vec<u8>> {
    match o
        .elems
        .iter_mut()
        .find(|e| e.tag == 0x7FE0_0010)
        .map(|e| &mut e.val)
    {
        Some(Val::Frags(f)) => f,
        _ => panic!("not encapsulated"),
    }
}

/// Every reason (skipped files and load errors) of a folder, one string.
fn reasons(rep: &ScanReport, l: &Option<Result<LoadedSeries, DicomError>>) -> String {
    let mut s: Vec<String> = rep
        .skipped
        .iter()
        .map(|k| format!("{}: {}", k.path.display(), k.reason))
        .collect();
    match l {
        Some(Ok(l)) => {
            s.extend(
                l.report
                    .skipped
                    .iter()
                    .map(|k| format!("{}: {}", k.path.display(), k.reason)),
            );
            s.extend(l.report.warnings.iter().cloned());
        }
        Some(Err(e)) => s.push(e.to_string()),
        None => {}
    }
    s.join("\n")
}

// ---- 1. decoded size must equal Rows × Columns × frames × bytes ------------------------------

#[test]
fn native_pixel_data_longer_than_the_geometry_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = seeds::ct_slice(0, seeds::TS_EXPLICIT);
    o.set(us(0x0028_0010, 4)); // Rows halved: 8 × 8 × 2 = 128 bytes for a 4 × 8 image
    write(dir.path(), &[o]);
    let (rep, l) = scan_load(dir.path());
    assert!(l.is_none(), "nothing loads");
    let r = reasons(&rep, &l);
    assert!(
        r.contains("f0.dcm") && r.contains("128 bytes") && r.contains("= 64 bytes") && r.contains("disagree"),
        "{r}"
    );
}

#[test]
fn rle_frame_of_another_shape_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut objs = series(seeds::TS_RLE);
    for o in &mut objs {
        o.set(us(0x0028_0010, 4)); // each RLE segment holds 64 bytes, 4 × 8 = 32 expected
    }
    write(dir.path(), &objs);
    let (rep, l) = scan_load(dir.path());
    let r = reasons(&rep, &l);
    assert!(matches!(l, Some(Err(_))), "{r}");
    assert!(
        r.contains("f0.dcm") && r.contains("decodes to 64 bytes but Rows × Columns = 32"),
        "{r}"
    );
}

#[test]
fn jpeg_ls_and_jpeg_2000_codestreams_of_another_size_are_refused_before_decoding() {
    // JPEG-LS: the codestream is 8 × 8, the header says 8 columns × 16 rows.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = seeds::ct_slice(0, seeds::TS_JLS);
    o.set(us(0x0028_0010, 16));
    write(dir.path(), &[o]);
    let (rep, l) = scan_load(dir.path());
    let r = reasons(&rep, &l);
    assert!(
        r.contains("f0.dcm") && r.contains("codestream is 8×8") && r.contains("8×16"),
        "{r}"
    );
    // JPEG 2000 with Rows doubled (the 512 × 1024 case, small).
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = seeds::ct_slice(0, seeds::TS_J2K);
    frags(&mut o)[1] = seeds::j2k_header(16, 8);
    write(dir.path(), &[o]);
    let (rep, l) = scan_load(dir.path());
    let r = reasons(&rep, &l);
    assert!(r.contains("JPEG 2000") && r.contains("codestream is 8×16"), "{r}");
}

#[test]
fn multi_frame_with_rows_halved_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = seeds::enhanced_ct(seeds::TS_RLE);
    o.set(us(0x0028_0010, 4));
    write(dir.path(), &[o]);
    let (rep, l) = scan_load(dir.path());
    let r = reasons(&rep, &l);
    assert!(matches!(l, Some(Err(_))), "{r}");
    assert!(
        r.contains("f0.dcm") && r.contains("decodes to 64 bytes but Rows × Columns = 32"),
        "{r}"
    );
}

#[test]
fn seg_with_rows_halved_is_refused_native_and_rle() {
    let (g, ids) = harness::ct_grid();
    let opts = ImportOptions::default();
    for (name, mut o) in [("native", seeds::seg(8)), ("rle", seeds::seg_rle())] {
        o.set(us(0x0028_0010, 4));
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("seg.dcm");
        std::fs::write(&p, o.to_bytes()).expect("write");
        // Native: the file is refused. RLE: every frame is refused (named in the warnings)
        // and nothing is imported — never a mask painted with the wrong stride.
        match import_seg(&p, &g, &ids, &opts) {
            Err(e) => {
                let msg = e.to_string();
                assert!(
                    matches!(e, StructureImportError::Malformed { .. }),
                    "{name}: {msg}"
                );
                assert!(
                    msg.contains("seg.dcm") && msg.contains("disagree"),
                    "{name}: {msg}"
                );
            }
            Ok(r) => {
                assert!(r.structures.is_empty(), "{name}");
                let w = r.warnings.join("\n");
                assert!(
                    w.contains("3 of 3 frame(s)") && w.contains("disagree"),
                    "{name}: {w}"
                );
            }
        }
    }
}

// ---- 2. physical plausibility -------------------------------------------------------------------

#[test]
fn implausible_pixel_spacing_and_position_are_refused_by_name() {
    for (tag, value, attr) in [
        (0x0028_0030u32, "1e-6\\1e-6", "PixelSpacing"),
        (0x0028_0030, "1e308\\1e308", "PixelSpacing"),
        (0x0020_0032, "0\\0\\1e308", "ImagePositionPatient"),
    ] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut objs = series(seeds::TS_EXPLICIT);
        objs[1].set(Elem::text(tag, b"DS", value));
        write(dir.path(), &objs);
        let (rep, l) = scan_load(dir.path());
        let r = reasons(&rep, &l);
        let first = value.split('\\').next_back().unwrap_or_default();
        assert!(
            r.contains("f1.dcm") && r.contains(attr) && r.contains(first),
            "{attr} {value}: {r}"
        );
    }
}

#[test]
fn seg_frames_with_implausible_spacing_are_not_placed() {
    let (g, ids) = harness::ct_grid();
    let mut o = seeds::seg(8);
    // Shared Pixel Measures: PixelSpacing 1e-6 mm.
    if let Some(Val::Seq(items)) = o
        .elems
        .iter_mut()
        .find(|e| e.tag == 0x5200_9229)
        .map(|e| &mut e.val)
    {
        items[0][1] = Elem::seq(
            0x0028_9110,
            vec![vec![
                Elem::text(0x0018_0050, b"DS", "2.5"),
                Elem::text(0x0028_0030, b"DS", "1e-6\\1e-6"),
            ]],
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join("seg.dcm");
    std::fs::write(&p, o.to_bytes()).expect("write");
    let r = import_seg(&p, &g, &ids, &ImportOptions::default());
    let text = match r {
        Ok(r) => {
            assert!(r.structures.is_empty());
            r.warnings.join("\n")
        }
        Err(e) => e.to_string(),
    };
    assert!(
        text.contains("PixelSpacing 1e-6") && text.contains("0.05–50 mm"),
        "{text}"
    );
}

#[test]
fn implausible_slice_steps_are_refused() {
    for step in [0.02, 60.0] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut objs = series(seeds::TS_EXPLICIT);
        for (k, o) in objs.iter_mut().enumerate() {
            o.set(Elem::text(
                0x0020_0032,
                b"DS",
                &format!("-2.45\\-2.45\\{}", k as f64 * step),
            ));
        }
        write(dir.path(), &objs);
        let (_, l) = scan_load(dir.path());
        let e = match l {
            Some(Err(e)) => e.to_string(),
            other => panic!("step {step}: {other:?}"),
        };
        assert!(e.contains("slice step") && e.contains("0.05–50 mm"), "{e}");
    }
}

#[test]
fn rescale_that_clips_every_voxel_is_refused_and_a_few_clipped_voxels_warned() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut objs = series(seeds::TS_EXPLICIT);
    objs[0].set(Elem::text(0x0028_1053, b"DS", "1e308"));
    objs[1].set(Elem::text(0x0028_1053, b"DS", "1e308"));
    write(dir.path(), &objs);
    let (_, l) = scan_load(dir.path());
    let e = match l {
        Some(Err(e)) => e.to_string(),
        other => panic!("{other:?}"),
    };
    assert!(
        e.contains("RescaleSlope 1e308") && (e.contains("f0.dcm") || e.contains("f1.dcm")),
        "{e}"
    );
    // One bright voxel with a large intercept: loads with a warning naming the file.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut objs = series(seeds::TS_EXPLICIT);
    objs[2].set(Elem::text(0x0028_1052, b"DS", "32750")); // the bright disc clips
    write(dir.path(), &objs);
    let (rep, l) = scan_load(dir.path());
    let r = reasons(&rep, &l);
    assert!(matches!(l, Some(Ok(_))), "{r}");
    assert!(
        r.contains("clipped") && r.contains("f2.dcm") && r.contains("RescaleIntercept 32750"),
        "{r}"
    );
}

// ---- 3. a dropped frame is a warning of the series -----------------------------------------------

#[test]
fn frame_dropped_from_a_multi_frame_object_is_a_series_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = seeds::enhanced_ct(seeds::TS_RLE);
    // Damage the middle frame's RLE header (7 segments for 16-bit data).
    frags(&mut o)[2][0..4].copy_from_slice(&7u32.to_le_bytes());
    write(dir.path(), &[o]);
    let (_, l) = scan_load(dir.path());
    let l = match l {
        Some(Ok(l)) => l,
        other => panic!("{other:?}"),
    };
    let w = l.report.warnings.join("\n");
    assert!(
        w.contains("1 of 3 image planes could not be decoded")
            && w.contains("f0.dcm frame 2")
            && w.contains("a gap inside the volume")
            && w.contains("7 segment"),
        "{w}"
    );
}

// ---- 4. RLE header checked before the registry decoder ---------------------------------------------

#[test]
fn rle_segment_count_from_the_file_cannot_size_an_allocation() {
    for (n, off) in [(0xFFFF_FFFFu32, 64u32), (2, 0x7FFF_FFFF), (1, 64)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut o = seeds::ct_slice(0, seeds::TS_RLE);
        let f = &mut frags(&mut o)[1];
        f[0..4].copy_from_slice(&n.to_le_bytes());
        f[8..12].copy_from_slice(&off.to_le_bytes());
        write(dir.path(), &[o]);
        let (rep, l) = scan_load(dir.path());
        let r = reasons(&rep, &l);
        assert!(
            r.contains("f0.dcm") && r.contains("damaged RLE header"),
            "{n} {off}: {r}"
        );
    }
}

// ---- 5. deflate bombs ---------------------------------------------------------------------------------

#[test]
fn deflated_data_beyond_the_geometry_is_refused_without_inflating_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut o = seeds::ct_slice(0, seeds::TS_DEFLATED);
    // 8 × 8 × 2 = 128 bytes of pixels needed; 16 MB of zeros deflate to ~16 kB.
    o.set(Elem::bytes(0x7FE0_0010, b"OW", &vec![0u8; 16 << 20]));
    let bytes = o.to_bytes();
    assert!(bytes.len() < 200_000, "{}", bytes.len());
    std::fs::write(dir.path().join("bomb.dcm"), &bytes).expect("write");
    let (rep, l) = scan_load(dir.path());
    let r = reasons(&rep, &l);
    assert!(r.contains("bomb.dcm") && r.contains("16777216"), "{r}");
    // The full read refuses to inflate beyond the geometry (what `load` would do).
    let dir2 = tempfile::tempdir().expect("tempdir");
    let mut o = seeds::ct_slice(0, seeds::TS_DEFLATED);
    let mut px = seeds::slice_pixels(0);
    px.extend(std::iter::repeat_n(0u8, 4 << 20));
    o.set(Elem {
        tag: 0x7FE0_0010,
        vr: *b"OW",
        val: Val::Bytes(px),
        len: Some(128), // the header says 128 bytes; 4 MB more follow inside the deflate stream
        undefined: false,
    });
    std::fs::write(dir2.path().join("tail.dcm"), o.to_bytes()).expect("write");
    let (rep, l) = scan_load(dir2.path());
    let r = reasons(&rep, &l);
    assert!(r.contains("tail.dcm") && r.contains("deflate bomb"), "{r}");
}

// ---- 6. warnings once ---------------------------------------------------------------------------------

#[test]
fn not_hounsfield_warning_appears_once_in_inspect() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut objs = series(seeds::TS_EXPLICIT);
    for o in &mut objs {
        o.set(Elem::text(0x0008_0060, b"CS", "MR"));
    }
    write(dir.path(), &objs);
    let r = ablaplan::cli::inspect(dir.path()).expect("inspect");
    let n = r.series[0]
        .warnings
        .iter()
        .filter(|w| w.contains("not Hounsfield"))
        .count();
    assert_eq!(n, 1, "{:?}", r.series[0].warnings);
}

/// Child half of `caught_decoder_panics_print_no_backtrace` (run in a subprocess only).
#[test]
#[ignore = "run by caught_decoder_panics_print_no_backtrace in a child process"]
fn panic_child() {
    if std::env::var_os("ABLAPLAN_PANIC_CHILD").is_none() {
        return;
    }
    let r: Result<(), String> = ablaplan::dicom::catch_quiet(|| panic!("codec exploded"));
    let e = r.expect_err("caught");
    assert!(e.contains("codec exploded"), "{e}");
    eprintln!("child done");
}

#[test]
fn caught_decoder_panics_print_no_backtrace() {
    let exe = std::env::current_exe().expect("test binary");
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "dicom_hardening::panic_child",
            "--ignored",
            "--nocapture",
        ])
        .env("ABLAPLAN_PANIC_CHILD", "1")
        .env("RUST_BACKTRACE", "1")
        .output()
        .expect("run child");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("child done"), "the child ran: {err}");
    assert!(
        !err.contains("panicked at") && !err.contains("stack backtrace"),
        "a caught decoder panic printed to stderr: {err}"
    );
}

// ---- 7. fuzz smoke -------------------------------------------------------------------------------------

#[test]
fn fuzz_seeds_load_cleanly() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, r) in harness::seed_outcomes(&dir.path().join("s")) {
        // The J2K seed is a bare codestream header (no J2K encoder here): it must fail cleanly.
        if name.contains(seeds::TS_J2K) {
            assert!(r.is_err(), "{name}");
            continue;
        }
        assert!(r.is_ok(), "{name}: {r:?}");
    }
}

/// Deterministic smoke run of the fuzzer (fixed seed, bounded count and time); the long run is
/// `cargo run --release --example fuzz -- --execs 10000000`.
#[test]
fn fuzz_smoke_finds_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t0 = Instant::now();
    let stats = harness::fuzz(
        20_151,
        3000,
        &dir.path().join("w"),
        Duration::from_secs(5),
        |_| t0.elapsed() < Duration::from_secs(25),
    );
    assert!(stats.execs >= 100, "{} executions", stats.execs);
    let found: Vec<String> = stats
        .failures
        .iter()
        .map(|(k, (f, i))| format!("{k}: {f:?} ({i:?})"))
        .collect();
    assert!(found.is_empty(), "{found:#?}");
}
