//! JPEG-LS (.4.80 lossless, .4.81 near-lossless) decoded in pure Rust by `pure_jpegls`
//! (library `jpegls`), so the default build needs no C++ codec and no cmake (issue 18).
//!
//! It decodes single-component streams (Nf = 1, ILV = 0), precision 2–16, with LSE presets and
//! near-lossless; that is every grey-scale image DICOM stores as JPEG-LS. Multi-component,
//! interleaved or restart-marker streams come back as an "unsupported" error naming the syntax.
//! On the shared JPEG-LS files it gives exactly CharLS's samples (tests/suite/dicom_jpegls.rs).
//! The decoder checks SOF55 against the Rows × Columns it is given before allocating, and a panic
//! inside it (sample arithmetic on hostile streams) is caught by [`catch_quiet`].

use super::guard::catch_quiet;

/// The stream with the 0xFF fill bytes before its final EOI marker removed. T.87 lets any marker
/// be preceded by fill bytes, and CharLS writes them (10 of the 20 shared JPEG-LS frames end
/// `… FF FF D9`); pure_jpegls 2.0.0 expects EOI right after the scan and refuses them. A 0xFF
/// just before a marker cannot be entropy-coded data (a data 0xFF is followed by a byte below
/// 0x80, the stuffed bit), so dropping it changes no sample.
fn without_fill_before_eoi(data: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let end = data.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    if end < 4 || data[end - 2..end] != [0xFF, 0xD9] || data[end - 3] != 0xFF {
        return std::borrow::Cow::Borrowed(data);
    }
    let mut k = end - 2;
    while k > 2 && data[k - 1] == 0xFF {
        k -= 1;
    }
    let mut v = data[..k].to_vec();
    v.extend_from_slice(&[0xFF, 0xD9]);
    std::borrow::Cow::Owned(v)
}

/// Decode one JPEG-LS frame (one SOI … EOI stream; a trailing pad byte is ignored) into native
/// little-endian samples of `bits_allocated` bits (8 or 16), as the registry codecs return them.
pub fn decode_jpeg_ls(
    data: &[u8],
    cols: u16,
    rows: u16,
    bits_allocated: u16,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    if !matches!(bits_allocated, 8 | 16) {
        return Err(format!(
            "BitsAllocated {bits_allocated} is not valid for JPEG-LS (8 or 16 expected)"
        ));
    }
    let data = without_fill_before_eoi(data);
    let samples = match catch_quiet(|| jpegls::decode(&data, u32::from(cols), u32::from(rows))) {
        Ok(Ok((samples, _, _))) => samples,
        Ok(Err(e)) => return Err(format!("{e}")),
        Err(panic) => return Err(format!("the decoder crashed on this stream ({panic})")),
    };
    let expected = usize::from(cols) * usize::from(rows);
    if samples.len() != expected {
        return Err(format!(
            "the decoder returned {} samples for a {cols}×{rows} frame",
            samples.len()
        ));
    }
    out.clear();
    if bits_allocated == 8 {
        out.reserve(expected);
        for s in samples {
            let b = u8::try_from(s).map_err(|_| {
                format!("sample {s} does not fit BitsAllocated 8: the stream's precision is above 8 bits")
            })?;
            out.push(b);
        }
    } else {
        out.reserve(expected * 2);
        for s in samples {
            out.extend_from_slice(&s.to_le_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 16-bit ramp through the crate's own encoder: the round trip must be exact, and the
    /// output little-endian.
    #[test]
    fn lossless_16_bit_round_trip_is_exact_and_little_endian() {
        let (w, h) = (37u16, 11u16);
        let px: Vec<u16> = (0..u32::from(w) * u32::from(h))
            .map(|i| ((i * 97) % 4096) as u16)
            .collect();
        let mut enc = Vec::new();
        jpegls::encode(&px, u32::from(w), u32::from(h), &mut enc).unwrap();
        let mut out = Vec::new();
        decode_jpeg_ls(&enc, w, h, 16, &mut out).unwrap();
        let back: Vec<u16> = out
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(back, px);
    }

    #[test]
    fn eight_bit_samples_and_wrong_sizes() {
        let px: Vec<u16> = (0..64).map(|i| (i * 3) as u16).collect();
        let mut enc = Vec::new();
        jpegls::encode(&px, 8, 8, &mut enc).unwrap();
        let mut out = Vec::new();
        decode_jpeg_ls(&enc, 8, 8, 8, &mut out).unwrap();
        assert_eq!(out, px.iter().map(|v| *v as u8).collect::<Vec<_>>());
        // Rows × Columns that disagree with the stream, and a bad BitsAllocated: errors.
        assert!(decode_jpeg_ls(&enc, 8, 9, 8, &mut out).is_err());
        assert!(decode_jpeg_ls(&enc, 8, 8, 12, &mut out).is_err());
        // Samples above 255 cannot go into 8-bit storage.
        let big: Vec<u16> = vec![1000; 64];
        let mut enc = Vec::new();
        jpegls::encode(&big, 8, 8, &mut enc).unwrap();
        let e = decode_jpeg_ls(&enc, 8, 8, 8, &mut out).unwrap_err();
        assert!(e.contains("BitsAllocated 8"), "{e}");
    }

    #[test]
    fn fill_bytes_before_eoi_are_accepted() {
        let px: Vec<u16> = (0..64).map(|i| (i * 7) as u16).collect();
        let mut enc = Vec::new();
        jpegls::encode(&px, 8, 8, &mut enc).unwrap();
        let n = enc.len();
        let mut filled = enc[..n - 2].to_vec();
        filled.extend_from_slice(&[0xFF, 0xFF, 0xFF, 0xD9, 0x00]);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        decode_jpeg_ls(&enc, 8, 8, 16, &mut a).unwrap();
        decode_jpeg_ls(&filled, 8, 8, 16, &mut b).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn truncated_or_garbage_streams_are_errors() {
        let px: Vec<u16> = (0..256).map(|i| (i * 13 % 700) as u16).collect();
        let mut enc = Vec::new();
        jpegls::encode(&px, 16, 16, &mut enc).unwrap();
        let mut out = Vec::new();
        for cut in [0, 2, 10, enc.len() / 2, enc.len() - 2] {
            assert!(
                decode_jpeg_ls(&enc[..cut], 16, 16, 16, &mut out).is_err(),
                "cut at {cut}"
            );
        }
        assert!(decode_jpeg_ls(&[0x42; 64], 16, 16, 16, &mut out).is_err());
    }
}
