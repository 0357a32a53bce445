//! The C/C++ codecs, behind the opt-in cargo feature `c-codecs` (issue 18): GDCM (through
//! `gdcm-rs`) for the JPEG syntaxes no Rust decoder reads — 12-bit JPEG Extended (.4.51), found in
//! real CT archives, and the retired spectral selection .4.53 and progressive .4.55. The default
//! build leaves them out (they need cmake and add minutes to a clean build); a file that needs
//! them is then refused at scan time with a reason naming the syntax and the feature, and
//! [`missing_codec_summary`] turns those reasons into one message for the app and the CLI.

use super::SkippedFile;
use super::header::{ImageHeader, ts_name};

/// The cargo feature that brings the C/C++ codecs in.
pub const FEATURE: &str = "c-codecs";

/// Is this build compiled with the C/C++ codecs?
pub const ENABLED: bool = cfg!(feature = "c-codecs");

/// Does pixel data in `ts` need GDCM? The JPEG syntaxes the registry's jpeg-decoder cannot
/// decode: DCT above 8 bits and the retired .53/.55. 8-bit .4.51 stays on the registry.
pub fn needs_c_codecs(ts: &str, bits_stored: u16, bits_allocated: u16) -> bool {
    match ts {
        "1.2.840.10008.1.2.4.51" => bits_stored > 8 || bits_allocated > 8,
        "1.2.840.10008.1.2.4.53" | "1.2.840.10008.1.2.4.55" => true,
        _ => false,
    }
}

/// The words that mark a reason as "rebuild with the feature" (see [`missing_codec_summary`]).
const MARK: &str = "needs the C/C++ codecs";

/// Why a file in `ts` cannot be decoded by this build, and the two ways out.
pub fn missing_message(ts: &str) -> String {
    format!(
        "{} ({ts}) {MARK}, which this build leaves out: build with `cargo run --release --features {FEATURE}` (needs cmake and a C++ compiler), or convert the file with e.g. `dcmdjpeg` or `gdcmconv --raw`",
        ts_name(ts)
    )
}

/// One message for the user when files were refused because this build lacks the C/C++
/// codecs: how many, which syntaxes, the first file by name, and the feature to enable.
/// `None` when no file needs them.
pub fn missing_codec_summary(skipped: &[SkippedFile]) -> Option<String> {
    let hits: Vec<&SkippedFile> = skipped.iter().filter(|s| s.reason.contains(MARK)).collect();
    let first = hits.first()?;
    let mut syntaxes: Vec<&str> = hits
        .iter()
        .filter_map(|s| s.reason.split(MARK).next().map(str::trim))
        .collect();
    syntaxes.sort_unstable();
    syntaxes.dedup();
    Some(format!(
        "{} file(s) need the C/C++ codecs, which this build leaves out ({}; e.g. {}): build with `cargo run --release --features {FEATURE}` (needs cmake), or convert them with `dcmdjpeg` or `gdcmconv --raw`",
        hits.len(),
        syntaxes.join(", "),
        first.path.display()
    ))
}

/// Decode one frame that [`needs_c_codecs`]. Without the feature this is the per-file error
/// (scan already refuses such files; this covers callers that skip the scan, e.g. SEG import).
#[cfg(not(feature = "c-codecs"))]
pub(super) fn decode(_h: &ImageHeader, ts: &str, _data: &[u8], _out: &mut Vec<u8>) -> Result<(), String> {
    Err(missing_message(ts))
}

#[cfg(feature = "c-codecs")]
pub(super) use gdcm::decode;

// GDCM's own JPEG-LS codec (never called here) references CharLS's symbols; without this the
// linker drops charls-sys, which the app's code does not use, and the binary fails to link.
#[cfg(feature = "c-codecs")]
extern crate charls as _;

#[cfg(feature = "c-codecs")]
mod gdcm {
    use super::super::guard::catch_quiet;
    use super::{ImageHeader, ts_name};

    /// GDCM's name for a syntax that [`super::needs_c_codecs`].
    fn gdcm_syntax(ts: &str) -> Option<gdcm_rs::GDCMTransferSyntax> {
        use gdcm_rs::GDCMTransferSyntax as G;
        match ts {
            "1.2.840.10008.1.2.4.51" => Some(G::JPEGExtendedProcess2_4),
            "1.2.840.10008.1.2.4.53" => Some(G::JPEGSpectralSelectionProcess6_8),
            "1.2.840.10008.1.2.4.55" => Some(G::JPEGFullProgressionProcess10_12),
            _ => None,
        }
    }

    /// Decode one JPEG frame with GDCM (IJG libjpeg 8/12-bit) into native little-endian samples.
    /// The output length is checked against Rows × Columns × samples × bytes before use. libjpeg
    /// errors (damaged or truncated streams) are caught by GDCM's setjmp handler and come back as a
    /// status code; a Rust panic in the binding is caught here. Known limits of the binding: libjpeg
    /// prints its messages to stderr (for every 12-bit frame GDCM first tries its 16-bit codec, which
    /// prints "Unsupported JPEG data precision 12"), and a failed decode leaks the frame buffer GDCM
    /// allocated. Only one warning per stream is tolerated by GDCM, so some bit errors in the
    /// entropy-coded data decode to wrong pixels without an error, as with any JPEG decoder.
    pub fn decode(h: &ImageHeader, ts: &str, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        const SAMPLES: u16 = 1; // colour images are refused by the header reader
        let g =
            gdcm_syntax(ts).ok_or_else(|| format!("{} is not a syntax GDCM decodes here", ts_name(ts)))?;
        if !matches!(h.bits_allocated, 8 | 16) {
            return Err(format!(
                "{}: BitsAllocated {} is not valid for JPEG (8 or 16 expected)",
                ts_name(ts),
                h.bits_allocated
            ));
        }
        let photometric = if h.photometric.is_empty() {
            "MONOCHROME2"
        } else {
            h.photometric.as_str()
        };
        let pi: gdcm_rs::GDCMPhotometricInterpretation = photometric.parse().map_err(|_| {
            format!(
                "{}: PhotometricInterpretation {photometric:?} is not supported",
                ts_name(ts)
            )
        })?;
        let expected = h.rows as usize * h.cols as usize * SAMPLES as usize * (h.bits_allocated as usize / 8);
        out.clear();
        let res = catch_quiet(|| {
            gdcm_rs::decode_single_frame_compressed(
                data,
                u32::from(h.cols),
                u32::from(h.rows),
                pi,
                g,
                SAMPLES,
                h.bits_allocated,
                h.bits_stored,
                h.high_bit,
                u16::from(h.signed),
            )
            .map(|px| {
                let d = px.data();
                if d.len() == expected {
                    out.extend_from_slice(d);
                }
                d.len()
            })
        });
        match res {
            Ok(Ok(n)) if n == expected => Ok(()),
            Ok(Ok(n)) => Err(format!(
                "the {} decoder (GDCM) returned {n} bytes for a {}×{} frame ({expected} expected)",
                ts_name(ts),
                h.cols,
                h.rows
            )),
            Ok(Err(e)) => Err(format!(
                "{} decoder (GDCM) failed: {e}; the JPEG stream is probably damaged",
                ts_name(ts)
            )),
            Err(m) => Err(format!(
                "the {} decoder (GDCM) crashed on this file ({m})",
                ts_name(ts)
            )),
        }
    }
}
