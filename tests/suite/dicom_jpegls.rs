//! The pure-Rust JPEG-LS decoder (pure_jpegls, `ablaplan::dicom::decode_jpeg_ls`) gives exactly
//! CharLS's samples on every shared JPEG-LS file (issue 18), and the C/C++-only syntaxes are
//! refused with the feature's name in the default build.
//!
//! Two checks of the same rule:
//! - every build: each file's frames decode to the FNV-1a hash CharLS's samples have
//!   ([`REFERENCE`]);
//! - with `--features c-codecs`: CharLS decodes every frame of every JPEG-LS file found under
//!   `../shared/data/dicom` live, the two decoders are compared sample by sample, and CharLS's
//!   hashes must equal [`REFERENCE`] — which is how the table was obtained and how it stays
//!   honest: `cargo test --features c-codecs --test suite dicom_jpegls -- --nocapture` prints it.

use crate::common;

use std::path::{Path, PathBuf};

use ablaplan::dicom::{c_codecs, decode_jpeg_ls, load_series, scan};
use ablaplan::jobs::JobCtx;
use dicom_dictionary_std::tags;

/// (file under ../shared/data/dicom, frames, FNV-1a 64 of CharLS 2.4.5's samples as u16 LE over
/// all frames; `None`: CharLS refuses the stream, so must the Rust decoder).
/// Obtained with CharLS 2.4.5 (charls 0.4.2, the version dicom-pixeldata's "charls" feature
/// built before) against pure_jpegls on the same frames: 12 decodable files, 19 frames,
/// 4,461,044 samples, 0 mismatches; the corrupted stream refused by both. Two shared JPEG-LS files
/// are not here because dicom-object cannot parse their file meta (CTImage…4.80.dcm,
/// mixed-folder/chest_ct_jpegls.dcm); the app reads them, and dicom_real.rs checks the first
/// bit-identical against its uncompressed original.
const REFERENCE: &[(&str, usize, Option<u64>)] = &[
    (
        "ct-transfer-syntaxes/CTImage.dcm_JPEGLSLossyTransferSyntax_1.2.840.10008.1.2.4.81.dcm",
        1,
        Some(0x55341FFA62FC7941),
    ),
    (
        "derived-pancreas-edge-cases/malformed/corrupted-jpeg-ls-stream.dcm",
        1,
        None,
    ),
    (
        "derived-pancreas-edge-cases/multiframe/legacy-converted-enhanced-ct-8frames-jpeg-ls.dcm",
        8,
        Some(0x738DEA4F205DB3C0),
    ),
    (
        "derived-pancreas-edge-cases/transfer-syntaxes/jpeg-ls-lossless-1.2.840.10008.1.2.4.80/1-058.dcm",
        1,
        Some(0x7E0DB0BE9D96C680),
    ),
    (
        "derived-pancreas-edge-cases/transfer-syntaxes/jpeg-ls-lossless-1.2.840.10008.1.2.4.80/1-059.dcm",
        1,
        Some(0x4A91CF5B102B2023),
    ),
    (
        "derived-pancreas-edge-cases/transfer-syntaxes/jpeg-ls-lossless-1.2.840.10008.1.2.4.80/1-060.dcm",
        1,
        Some(0xDA328A36994D6AC4),
    ),
    (
        "derived-pancreas-edge-cases/transfer-syntaxes/jpeg-ls-lossless-1.2.840.10008.1.2.4.80/1-061.dcm",
        1,
        Some(0x43696FE0BDCB81AC),
    ),
    (
        "derived-pancreas-edge-cases/transfer-syntaxes/jpeg-ls-lossless-1.2.840.10008.1.2.4.80/1-062.dcm",
        1,
        Some(0x94067E6C9929E5B6),
    ),
    (
        "derived-pancreas-edge-cases/transfer-syntaxes/jpeg-ls-lossless-1.2.840.10008.1.2.4.80/1-063.dcm",
        1,
        Some(0x5A4C551ED7375448),
    ),
    (
        "derived-pancreas-edge-cases/transfer-syntaxes/jpeg-ls-lossless-1.2.840.10008.1.2.4.80/1-064.dcm",
        1,
        Some(0x44DAE48B55080967),
    ),
    (
        "derived-pancreas-edge-cases/transfer-syntaxes/jpeg-ls-lossless-1.2.840.10008.1.2.4.80/1-065.dcm",
        1,
        Some(0x40FE4A85EFEA81BF),
    ),
    (
        "pydicom-edge-cases/JPEGLSNearLossless_16.dcm",
        1,
        Some(0xFCD9D20D9E51971D),
    ),
    (
        "pydicom-edge-cases/MR_small_jpeg_ls_lossless.dcm",
        1,
        Some(0x51433421A5F7529A),
    ),
];

const TS_JLS: [&str; 2] = ["1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"];

fn data_root() -> Option<PathBuf> {
    common::dicom_data("")
}

/// FNV-1a 64 over u16 samples as little-endian bytes (stable across Rust versions, unlike the
/// std hasher).
fn fnv1a(samples: &[u16], mut h: u64) -> u64 {
    for s in samples {
        for b in s.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    h
}
const FNV_OFFSET: u64 = 0xCBF2_9CE4_8422_2325;

/// One JPEG-LS file: geometry and its encoded frames (one fragment per frame, or all fragments
/// of a single-frame object).
struct JlsFile {
    cols: u16,
    rows: u16,
    bits_allocated: u16,
    frames: Vec<Vec<u8>>,
}

fn read_jls(path: &Path) -> Result<JlsFile, String> {
    let obj = dicom_object::open_file(path).map_err(|e| format!("open: {e}"))?;
    let num = |tag: dicom_core::Tag| -> Result<u16, String> {
        obj.element(tag)
            .map_err(|e| e.to_string())?
            .to_int::<u16>()
            .map_err(|e| e.to_string())
    };
    let n_frames = obj
        .element(tags::NUMBER_OF_FRAMES)
        .ok()
        .and_then(|e| e.to_int::<u32>().ok())
        .unwrap_or(1) as usize;
    let pixel = obj.element(tags::PIXEL_DATA).map_err(|e| e.to_string())?;
    let frags = pixel.fragments().ok_or("pixel data is not encapsulated")?;
    let frames = if frags.len() == n_frames {
        frags.to_vec()
    } else if n_frames == 1 {
        vec![frags.concat()]
    } else {
        return Err(format!("{} fragments for {n_frames} frames", frags.len()));
    };
    Ok(JlsFile {
        cols: num(tags::COLUMNS)?,
        rows: num(tags::ROWS)?,
        bits_allocated: num(tags::BITS_ALLOCATED)?,
        frames,
    })
}

/// The Rust decoder's samples of one frame.
fn rust_samples(f: &JlsFile, frame: &[u8]) -> Result<Vec<u16>, String> {
    let mut out = Vec::new();
    decode_jpeg_ls(frame, f.cols, f.rows, f.bits_allocated, &mut out)?;
    Ok(if f.bits_allocated == 8 {
        out.iter().map(|b| u16::from(*b)).collect()
    } else {
        out.chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect()
    })
}

/// Hash of all frames' samples, or the first decode error.
fn rust_hash(f: &JlsFile) -> Result<u64, String> {
    let mut h = FNV_OFFSET;
    for fr in &f.frames {
        h = fnv1a(&rust_samples(f, fr)?, h);
    }
    Ok(h)
}

#[test]
fn pure_rust_jpeg_ls_matches_charls_reference_hashes() {
    let Some(root) = data_root() else {
        return;
    };
    assert!(!REFERENCE.is_empty());
    let (mut files, mut frames) = (0, 0);
    for (rel, n_frames, want) in REFERENCE {
        let path = root.join(rel);
        if !path.exists() {
            eprintln!("SKIPPED: {} is absent", path.display());
            continue;
        }
        let f = read_jls(&path).unwrap_or_else(|e| panic!("{rel}: {e}"));
        assert_eq!(f.frames.len(), *n_frames, "{rel}: frames");
        match (rust_hash(&f), want) {
            (Ok(got), Some(want)) => assert_eq!(got, *want, "{rel}: samples differ from CharLS's"),
            (Err(e), None) => eprintln!("{rel}: refused like CharLS: {e}"),
            (Ok(_), None) => panic!("{rel}: CharLS refuses this stream, the Rust decoder decoded it"),
            (Err(e), Some(_)) => panic!("{rel}: CharLS decodes it, the Rust decoder fails: {e}"),
        }
        files += 1;
        frames += f.frames.len();
    }
    eprintln!("JPEG-LS: {files} files, {frames} frames identical to CharLS's hashes");
}

/// Does the start of the file (where the file meta sits) hold a JPEG-LS transfer syntax UID?
/// A cheap filter before dicom-object parses the file: the data holds deliberately malformed
/// files (e.g. a 2 GiB element length) that are not JPEG-LS and need not be parsed here.
fn names_jpeg_ls(p: &Path) -> bool {
    use std::io::Read;
    let mut head = Vec::new();
    let Ok(f) = std::fs::File::open(p) else {
        return false;
    };
    if f.take(4096).read_to_end(&mut head).is_err() {
        return false;
    }
    TS_JLS.iter().any(|ts| {
        head.windows(ts.len() + 1)
            .any(|w| w.starts_with(ts.as_bytes()) && !(w[ts.len()].is_ascii_digit() || w[ts.len()] == b'.'))
    })
}

/// Every JPEG-LS file under the data root (by the transfer syntax in its file meta), sorted.
fn find_jls_files(root: &Path) -> Vec<PathBuf> {
    let mut stack = vec![root.to_path_buf()];
    let mut found = Vec::new();
    while let Some(dir) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if names_jpeg_ls(&p)
                && let Ok(obj) = dicom_object::OpenFileOptions::new()
                    .read_until(tags::PIXEL_DATA)
                    .open_file(&p)
                && TS_JLS.contains(&obj.meta().transfer_syntax().trim_end_matches('\0'))
            {
                found.push(p);
            }
        }
    }
    found.sort();
    found
}

/// CharLS against the Rust decoder, live, frame by frame and sample by sample; prints the
/// reference table.
#[cfg(feature = "c-codecs")]
#[test]
fn pure_rust_jpeg_ls_equals_charls_sample_for_sample() {
    let Some(root) = data_root() else {
        return;
    };
    let files = find_jls_files(&root);
    assert_eq!(files.len(), REFERENCE.len(), "{files:?}");
    let (mut n_frames, mut n_samples, mut mismatches) = (0usize, 0usize, 0usize);
    let mut table = String::new();
    for path in &files {
        let rel = path.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
        let f = read_jls(path).unwrap_or_else(|e| panic!("{rel}: {e}"));
        let mut hash = Some(FNV_OFFSET);
        for (k, fr) in f.frames.iter().enumerate() {
            let charls = charls::CharLS::default().decode(fr);
            let rust = rust_samples(&f, fr);
            match (charls, rust) {
                (Ok(bytes), Ok(rust)) => {
                    // CharLS returns one byte per sample up to 8 bits of precision, else two (LE).
                    let c: Vec<u16> = if bytes.len() == rust.len() {
                        bytes.iter().map(|b| u16::from(*b)).collect()
                    } else {
                        bytes
                            .chunks_exact(2)
                            .map(|c| u16::from_le_bytes([c[0], c[1]]))
                            .collect()
                    };
                    assert_eq!(c.len(), rust.len(), "{rel} frame {k}: sample count");
                    let bad = c.iter().zip(&rust).filter(|(a, b)| a != b).count();
                    mismatches += bad;
                    n_samples += c.len();
                    assert_eq!(bad, 0, "{rel} frame {k}: {bad} samples differ from CharLS");
                    hash = hash.map(|h| fnv1a(&c, h));
                }
                (Err(ce), Err(re)) => {
                    eprintln!("{rel} frame {k}: both refuse (CharLS: {ce}; Rust: {re})");
                    hash = None;
                }
                (Ok(_), Err(re)) => panic!("{rel} frame {k}: CharLS decodes, the Rust decoder fails: {re}"),
                (Err(ce), Ok(_)) => {
                    panic!("{rel} frame {k}: CharLS refuses ({ce}), the Rust decoder decodes")
                }
            }
            n_frames += 1;
        }
        let h = hash.map_or("None".to_string(), |h| format!("Some(0x{h:016X})"));
        table.push_str(&format!("    ({rel:?}, {}, {h}),\n", f.frames.len()));
        if let Some(r) = REFERENCE.iter().find(|r| r.0 == rel) {
            assert_eq!(
                (r.1, r.2),
                (f.frames.len(), hash),
                "{rel}: REFERENCE is not CharLS's"
            );
        } else {
            panic!("{rel} is missing from REFERENCE:\n{table}");
        }
    }
    eprintln!("REFERENCE (CharLS 2.4.5):\n{table}");
    eprintln!(
        "JPEG-LS vs CharLS: {} files, {n_frames} frames, {n_samples} samples, {mismatches} mismatches",
        files.len()
    );
}

/// Every JPEG-LS file in the data is in the reference table (a new file must be added to it).
#[test]
fn every_shared_jpeg_ls_file_has_a_reference() {
    let Some(root) = data_root() else {
        return;
    };
    for p in find_jls_files(&root) {
        let rel = p.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
        assert!(
            REFERENCE.iter().any(|r| r.0 == rel),
            "{rel} has no CharLS reference hash (run the c-codecs test to print it)"
        );
    }
}

/// Without the feature, a 12-bit JPEG Extended file is refused at scan time with a reason that
/// names the syntax and the feature to enable; the summary for the app and the CLI names the
/// file. (With the feature the file loads; tests/suite/dicom_real.rs checks its pixels.)
#[test]
fn jpeg_12_bit_without_c_codecs_names_the_feature() {
    let Some(dir) = common::dicom_data("ct-transfer-syntaxes") else {
        return;
    };
    let file = dir.join("CTImage.dcm_JPEGProcess2_4TransferSyntax_1.2.840.10008.1.2.4.51.dcm");
    let r = scan(std::slice::from_ref(&file), &JobCtx::default()).expect("scan");
    if c_codecs::ENABLED {
        assert_eq!(r.series.len(), 1, "{:?}", r.skipped);
        assert!(load_series(&r.series[0], &JobCtx::default()).is_ok());
        assert_eq!(c_codecs::missing_codec_summary(&r.skipped), None);
        return;
    }
    assert!(r.series.is_empty(), "{:?}", r.series);
    let s = r
        .skipped
        .iter()
        .find(|s| s.path == file)
        .expect("the file is skipped");
    assert!(
        s.reason
            .contains("JPEG Extended (12-bit) (1.2.840.10008.1.2.4.51)")
            && s.reason.contains("cargo run --release --features c-codecs"),
        "{}",
        s.reason
    );
    let m = c_codecs::missing_codec_summary(&r.skipped).expect("summary");
    assert!(
        m.starts_with("1 file(s) need the C/C++ codecs")
            && m.contains("JPEG Extended (12-bit) (1.2.840.10008.1.2.4.51)")
            && m.contains(&file.display().to_string())
            && m.contains("--features c-codecs"),
        "{m}"
    );
}

/// The 12-bit JPEG Extended sample, or `None` (skipped) without the data or with the C codecs.
fn jpeg12_without_c_codecs() -> Option<PathBuf> {
    if c_codecs::ENABLED {
        eprintln!("SKIPPED: this build has the C codecs, the file decodes");
        return None;
    }
    let dir = common::dicom_data("ct-transfer-syntaxes")?;
    Some(dir.join("CTImage.dcm_JPEGProcess2_4TransferSyntax_1.2.840.10008.1.2.4.51.dcm"))
}

/// `ablaplan inspect` on that file: no panic, exit 2 (nothing loaded), and the file listed with
/// the syntax and the feature.
#[test]
fn cli_inspect_names_the_file_and_the_feature() {
    let Some(file) = jpeg12_without_c_codecs() else {
        return;
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ablaplan"))
        .args(["inspect", file.to_str().unwrap()])
        .output()
        .expect("run ablaplan");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.contains(&file.display().to_string())
            && l.contains("1.2.840.10008.1.2.4.51")
            && l.contains("cargo run --release --features c-codecs")),
        "file, syntax and feature not on one line:\n{stdout}"
    );
}

/// Opening that file in the app: an error notice names the file, the syntax and the feature.
#[test]
fn app_notice_names_the_file_and_the_feature() {
    use ablaplan::app::settings::Settings;
    use ablaplan::app::{AblaApp, Command, StartupOptions};
    use eframe::egui;
    use egui_kittest::Harness;

    let Some(file) = jpeg12_without_c_codecs() else {
        return;
    };
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1280.0, 820.0))
        .build_eframe(|cc| {
            AblaApp::with_settings(
                cc.egui_ctx.clone(),
                Settings::default(),
                StartupOptions::default(),
            )
        });
    common::settle(&mut h);
    h.state_mut().push(Command::Open(vec![file.clone()]));
    h.run_steps(2);
    common::settle(&mut h);
    let notices: Vec<String> = h.state().notices().iter().map(|n| n.text.clone()).collect();
    assert!(
        notices.iter().any(|t| t.contains(&file.display().to_string())
            && t.contains("1.2.840.10008.1.2.4.51")
            && t.contains("--features c-codecs")),
        "{notices:#?}"
    );
}
