//! Fuzz-style property test: truncated and bit-flipped versions of real DICOM files (written to
//! a temporary folder) go through `scan` + `load_series` + `thumbnail`. Properties: no panic
//! escapes, nothing hangs (each case must finish within a deadline), and every file ends up
//! somewhere (a series, `others` or `skipped` with a non-empty reason).
//! Bounded case count so it runs in seconds; skipped when the data is absent.

use crate::common;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use ablaplan::dicom::{load_series, scan, thumbnail};
use ablaplan::jobs::JobCtx;
use proptest::prelude::*;

/// Base files: one slice in several encodings (implicit LE, JPEG-LS, RLE, deflate, J2K,
/// big endian) plus a small explicit-LE CT and the 8-frame legacy multi-frame.
fn bases() -> &'static Vec<(String, Vec<u8>)> {
    static B: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    B.get_or_init(|| {
        let rels = [
            "pancreas-ct-rtstruct/CT/1-060.dcm",
            "derived-pancreas-edge-cases/transfer-syntaxes/jpeg-ls-lossless-1.2.840.10008.1.2.4.80/1-060.dcm",
            "derived-pancreas-edge-cases/transfer-syntaxes/rle-lossless-1.2.840.10008.1.2.5/1-060.dcm",
            "derived-pancreas-edge-cases/transfer-syntaxes/deflated-explicit-le-1.2.840.10008.1.2.1.99/1-060.dcm",
            "derived-pancreas-edge-cases/transfer-syntaxes/jpeg2000-lossless-1.2.840.10008.1.2.4.90/1-060.dcm",
            "derived-pancreas-edge-cases/transfer-syntaxes/explicit-big-endian-1.2.840.10008.1.2.2/1-060.dcm",
            "pydicom-edge-cases/CT_small.dcm",
            "derived-pancreas-edge-cases/multiframe/legacy-converted-enhanced-ct-8frames-jpeg-ls.dcm",
        ];
        rels.iter()
            .filter_map(|r| {
                let p = common::dicom_data(r)?;
                Some((r.to_string(), std::fs::read(p).ok()?))
            })
            .collect()
    })
}

#[derive(Clone, Debug)]
enum Mutation {
    /// Keep only this fraction (per mille) of the file.
    Truncate(u32),
    /// Flip bits at (position per 100 000 of the header region or of the file, bit).
    Flip { header: bool, at: Vec<(u32, u8)> },
    /// Overwrite 4 bytes in the first 4 KiB with a huge length.
    Bomb { at: u32, value: u32 },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0u32..1000).prop_map(Mutation::Truncate),
        (
            any::<bool>(),
            prop::collection::vec((0u32..100_000, 0u8..8), 1..24)
        )
            .prop_map(|(header, at)| Mutation::Flip { header, at }),
        (
            0u32..4096,
            prop_oneof![
                Just(0xFFFF_FFFFu32),
                Just(0x7FFF_FFF0),
                Just(0x0001_0000),
                any::<u32>()
            ]
        )
            .prop_map(|(at, value)| Mutation::Bomb { at, value }),
    ]
}

fn apply(data: &[u8], m: &Mutation) -> Vec<u8> {
    let mut d = data.to_vec();
    match m {
        Mutation::Truncate(pm) => d.truncate(d.len() * *pm as usize / 1000),
        Mutation::Flip { header, at } => {
            let region = if *header { d.len().min(2048) } else { d.len() };
            for (pos, bit) in at {
                let i = (*pos as usize * region) / 100_000;
                if let Some(b) = d.get_mut(i) {
                    *b ^= 1 << bit;
                }
            }
        }
        Mutation::Bomb { at, value } => {
            let i = (*at as usize).min(d.len().saturating_sub(4));
            if d.len() >= 4 {
                d[i..i + 4].copy_from_slice(&value.to_le_bytes());
            }
        }
    }
    d
}

/// Run scan + load + thumbnail on a folder in a worker thread with a deadline.
fn run_with_deadline(dir: PathBuf, files: usize) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(move || {
            let ctx = JobCtx::default();
            let rep = scan(std::slice::from_ref(&dir), &ctx).map_err(|e| format!("scan error: {e}"))?;
            let listed: usize = rep.series.iter().map(|e| e.files.len()).sum::<usize>()
                + rep.others.len()
                + rep.skipped.len();
            if listed != files || rep.files_examined != files {
                return Err(format!(
                    "{files} files but {listed} listed / {} examined",
                    rep.files_examined
                ));
            }
            if rep.skipped.iter().any(|s| s.reason.is_empty()) {
                return Err("skipped file without a reason".into());
            }
            for e in &rep.series {
                if let Ok(l) = load_series(e, &ctx) {
                    let g = &l.volume.geometry;
                    if l.volume.hu.len() != g.dims[0] * g.dims[1] * g.dims[2] {
                        return Err("volume size does not match its geometry".into());
                    }
                }
                let _ = thumbnail(e);
            }
            Ok(())
        });
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(20)) {
        Ok(Ok(r)) => r,
        Ok(Err(_)) => Err("panicked".into()),
        Err(_) => Err("hung (> 20 s)".into()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 48,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_files_never_panic_or_hang(which in 0usize..8, muts in prop::collection::vec(mutation(), 1..4)) {
        let b = bases();
        if b.is_empty() {
            return Ok(());
        }
        let (name, data) = &b[which % b.len()];
        let dir = tempfile::tempdir().expect("tempdir");
        // Several mutants of the same base in one folder (also exercises grouping).
        for (n, m) in muts.iter().enumerate() {
            std::fs::write(dir.path().join(format!("m{n}.dcm")), apply(data, m)).expect("write");
        }
        let r = run_with_deadline(dir.path().to_path_buf(), muts.len());
        prop_assert!(r.is_ok(), "{name} with {muts:?}: {r:?}");
    }
}

/// Every truncation point of the header region of one slice (exhaustive, cheap).
#[test]
fn every_header_truncation_is_handled() {
    let Some(p) = common::dicom_data("pancreas-ct-rtstruct/CT/1-060.dcm") else {
        return;
    };
    let data = std::fs::read(p).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    for cut in (0..1400).step_by(7) {
        std::fs::write(dir.path().join(format!("t{cut:05}.dcm")), &data[..cut]).unwrap();
        n += 1;
    }
    run_with_deadline(dir.path().to_path_buf(), n).unwrap();
    let rep = scan(&[dir.path().to_path_buf()], &JobCtx::default()).unwrap();
    assert_eq!(
        rep.skipped.len(),
        n,
        "every truncated copy is skipped: {:?}",
        rep.series
    );
}
