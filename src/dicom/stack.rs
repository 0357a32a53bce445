//! Slice geometry: sort by position along the normal, find duplicates, gaps, non-uniform
//! spacing and gantry tilt, and plan the output grid (plus the resampling onto it).
//!
//! Rules (documented for users in the warnings they produce):
//! - slices are sorted by `IPP · n` with `n = row × column` of ImageOrientationPatient;
//! - two slices closer than [`DUPLICATE_TOL_MM`] along the normal are duplicates: the first
//!   (lowest InstanceNumber, then file name) is kept and both files are named in a warning;
//! - spacing is uniform when every slice lies within `max(0.02 mm, 2 % of the step)` of a
//!   uniform grid; otherwise the stack is resampled onto a uniform grid with the most common
//!   step (linear interpolation between the two neighbouring slices);
//! - the largest gap allowed for interpolation is `max(2 × step, min(3 × step, 10 mm))`: one
//!   missing slice is always bridged, more only while the gap stays ≤ 10 mm and ≤ 3 steps;
//!   larger gaps are refused (interpolation would invent anatomy);
//! - gantry tilt (slice positions drifting in-plane) is corrected by shifting each slice onto an
//!   orthogonal grid with bilinear in-plane interpolation; the tilt angle is reported. Pixels
//!   that fall outside the acquired field get [`OUTSIDE_HU`].

use nalgebra::Vector3;

/// Positions closer than this along the normal are the same slice.
pub const DUPLICATE_TOL_MM: f64 = 0.01;
/// HU for output voxels with no acquired data (outside the field after tilt correction).
pub const OUTSIDE_HU: i16 = -1024;

/// Largest gap (mm) that may be bridged by interpolation for a nominal step.
pub fn max_bridgeable_gap_mm(step: f64) -> f64 {
    (2.0 * step).max((3.0 * step).min(10.0))
}

fn uniform_tol(step: f64) -> f64 {
    (0.02f64).max(0.02 * step)
}

/// Sort key of a slice: IPP · normal.
pub fn normal_of(iop: &[f64; 6]) -> Vector3<f64> {
    let r = Vector3::new(iop[0], iop[1], iop[2]);
    let c = Vector3::new(iop[3], iop[4], iop[5]);
    let n = r.cross(&c);
    let l = n.norm();
    if l > 0.0 { n / l } else { n }
}

/// Indices of `ipps` sorted by position along `normal` (stable: ties keep input order).
pub fn sort_by_normal(ipps: &[Vector3<f64>], normal: &Vector3<f64>) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..ipps.len()).collect();
    idx.sort_by(|&a, &b| ipps[a].dot(normal).total_cmp(&ipps[b].dot(normal)));
    idx
}

/// Pairs (kept, dropped) of duplicate positions among sorted slices; the earlier one is kept.
pub fn find_duplicates(sorted_ipps: &[Vector3<f64>], normal: &Vector3<f64>) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut last_kept = 0usize;
    for k in 1..sorted_ipps.len() {
        let d = (sorted_ipps[k] - sorted_ipps[last_kept]).dot(normal).abs();
        if d < DUPLICATE_TOL_MM {
            out.push((last_kept, k));
        } else {
            last_kept = k;
        }
    }
    out
}

/// How to build each output slice from the (sorted, de-duplicated) source slices.
#[derive(Clone, Debug, PartialEq)]
pub struct StackPlan {
    /// Slice step of the output grid along the normal (mm).
    pub step_mm: f64,
    pub n_out: usize,
    /// Per output slice: (source a, source b, weight of b).
    pub samples: Vec<(usize, usize, f64)>,
    /// Per source slice: in-plane shift in pixels (along i, along j) of the source relative to
    /// the output grid (source pixel (x, y) = output (i - du, j - dv)).
    pub shifts: Vec<(f64, f64)>,
    /// Output slice k is exactly source slice k (no interpolation, no shift).
    pub identity: bool,
    pub tilt_deg: f64,
    pub warnings: Vec<String>,
}

/// Plan the output grid for sorted, de-duplicated slice positions.
/// `pixel_spacing` is DICOM PixelSpacing ([row spacing, column spacing]); `labels` name the
/// slices in messages (file names).
pub fn plan(
    ipps: &[Vector3<f64>],
    iop: &[f64; 6],
    pixel_spacing: [f64; 2],
    slice_thickness: Option<f64>,
    labels: &[String],
) -> Result<StackPlan, String> {
    let n = ipps.len();
    if n == 0 {
        return Err("no slices".into());
    }
    let label = |k: usize| {
        labels
            .get(k)
            .cloned()
            .unwrap_or_else(|| format!("slice {}", k + 1))
    };
    let row = Vector3::new(iop[0], iop[1], iop[2]);
    let col = Vector3::new(iop[3], iop[4], iop[5]);
    let normal = normal_of(iop);
    let mut warnings = Vec::new();
    if n == 1 {
        let step = slice_thickness.filter(|t| *t > 0.0).unwrap_or(1.0);
        warnings.push(format!(
            "single-slice series: the slice spacing is taken from {} ({step} mm); 3-D views and distances across slices are not meaningful",
            if slice_thickness.is_some() { "SliceThickness" } else { "a default (no SliceThickness)" }
        ));
        return Ok(StackPlan {
            step_mm: step,
            n_out: 1,
            samples: vec![(0, 0, 0.0)],
            shifts: vec![(0.0, 0.0)],
            identity: true,
            tilt_deg: 0.0,
            warnings,
        });
    }
    let d: Vec<f64> = ipps.iter().map(|p| (p - ipps[0]).dot(&normal)).collect();
    let total = d[n - 1] - d[0];
    if total <= 0.0 {
        return Err("all slices are at the same position".into());
    }
    // In-plane drift (gantry tilt or table shift): offsets in pixels.
    let shifts: Vec<(f64, f64)> = ipps
        .iter()
        .map(|p| {
            let o = p - ipps[0];
            (o.dot(&row) / pixel_spacing[1], o.dot(&col) / pixel_spacing[0])
        })
        .collect();
    let max_shift = shifts.iter().map(|(a, b)| a.hypot(*b)).fold(0.0, f64::max);
    let tilted = max_shift > 0.05;
    let mut tilt_deg = 0.0;
    let shifts = if tilted {
        let last = ipps[n - 1] - ipps[0];
        let inplane = last - normal * last.dot(&normal);
        tilt_deg = inplane.norm().atan2(total).to_degrees();
        // Residual from a straight line (not a tilt but slices moved in-plane).
        let resid = shifts
            .iter()
            .zip(&d)
            .map(|((a, b), dk)| {
                let t = dk / total;
                (a - shifts[n - 1].0 * t).hypot(b - shifts[n - 1].1 * t)
            })
            .fold(0.0, f64::max);
        warnings.push(format!(
            "gantry tilt of {tilt_deg:.2}° (slice positions drift {:.1} mm in-plane over {total:.1} mm): resampled onto an \
             orthogonal grid (each slice shifted, bilinear in-plane interpolation); voxels outside the acquired field are {OUTSIDE_HU} HU",
            inplane.norm()
        ));
        if resid > 0.5 {
            warnings.push(format!(
                "slice positions do not lie on a straight line (up to {resid:.1} pixels off): each slice was shifted by its own position"
            ));
        }
        shifts
    } else {
        vec![(0.0, 0.0); n]
    };

    // Spacing along the normal.
    let diffs: Vec<f64> = d.windows(2).map(|w| w[1] - w[0]).collect();
    let avg = total / (n - 1) as f64;
    let resid = d
        .iter()
        .enumerate()
        .map(|(k, dk)| (dk - k as f64 * avg).abs())
        .fold(0.0, f64::max);
    if resid <= uniform_tol(avg) {
        return Ok(StackPlan {
            step_mm: avg,
            n_out: n,
            samples: (0..n).map(|k| (k, k, 0.0)).collect(),
            shifts,
            identity: !tilted,
            tilt_deg,
            warnings,
        });
    }
    // Most common step (0.01 mm bins; ties → smaller step).
    let mut bins: Vec<(i64, usize)> = Vec::new();
    for s in &diffs {
        let b = (s * 100.0).round() as i64;
        match bins.iter_mut().find(|(k, _)| *k == b) {
            Some(e) => e.1 += 1,
            None => bins.push((b, 1)),
        }
    }
    bins.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let step = bins[0].0 as f64 / 100.0;
    if step <= 0.0 {
        return Err("cannot determine a slice step".into());
    }
    // Refine the step as the mean of the diffs in the modal bin.
    let modal: Vec<f64> = diffs
        .iter()
        .copied()
        .filter(|s| ((s * 100.0).round() as i64) == bins[0].0)
        .collect();
    let step = modal.iter().sum::<f64>() / modal.len() as f64;
    let limit = max_bridgeable_gap_mm(step);
    let tol = uniform_tol(step);
    let mut gap_msgs = Vec::new();
    let mut worst = (0.0f64, 0usize);
    for (k, s) in diffs.iter().enumerate() {
        if (s - step).abs() > tol {
            gap_msgs.push(format!(
                "{:.2} mm between {} and {} (at {:.2} … {:.2} mm along the slice normal)",
                s,
                label(k),
                label(k + 1),
                ipps[k].dot(&normal),
                ipps[k + 1].dot(&normal)
            ));
        }
        if *s > worst.0 {
            worst = (*s, k);
        }
    }
    if worst.0 > limit + tol {
        let k = worst.1;
        return Err(format!(
            "the slices have a gap of {:.2} mm between {} and {} (nominal step {step:.2} mm); gaps larger than {limit:.2} mm \
             (max(2 × step, min(3 × step, 10 mm))) are not interpolated because that would invent anatomy. \
             Load the complete series (missing files?) or choose another series.",
            worst.0,
            label(k),
            label(k + 1)
        ));
    }
    let n_out = ((total / step) + 0.02).floor() as usize + 1;
    let mut samples = Vec::with_capacity(n_out);
    let mut a = 0usize;
    let mut interpolated = 0usize;
    for m in 0..n_out {
        let t = m as f64 * step;
        while a + 1 < n - 1 && d[a + 1] <= t {
            a += 1;
        }
        let b = (a + 1).min(n - 1);
        let span = d[b] - d[a];
        let mut w = if span > 0.0 {
            ((t - d[a]) / span).clamp(0.0, 1.0)
        } else {
            0.0
        };
        if w < 1e-3 || (t - d[a]).abs() <= tol {
            w = 0.0;
        } else if w > 1.0 - 1e-3 || (d[b] - t).abs() <= tol {
            w = 1.0;
        } else {
            interpolated += 1;
        }
        samples.push((a, b, w));
    }
    let uncovered = total - (n_out - 1) as f64 * step;
    warnings.push(format!(
        "slice spacing is not uniform: nominal step {step:.2} mm (the most common), but {}: {}. Resampled onto a uniform \
         {step:.2} mm grid by linear interpolation between neighbouring slices ({n} slices → {n_out}, {interpolated} of them interpolated){}",
        if gap_msgs.len() == 1 { "1 step differs".to_string() } else { format!("{} steps differ", gap_msgs.len()) },
        gap_msgs.join("; "),
        if uncovered > tol { format!("; the last {uncovered:.2} mm beyond the grid are not shown") } else { String::new() }
    ));
    Ok(StackPlan {
        step_mm: step,
        n_out,
        samples,
        shifts,
        identity: false,
        tilt_deg,
        warnings,
    })
}

/// Bilinear sample of a slice at continuous pixel position (x = column, y = row).
fn bilinear(src: &[i16], w: usize, h: usize, x: f64, y: f64) -> Option<f64> {
    if !(x > -0.5 && y > -0.5 && x < w as f64 - 0.5 && y < h as f64 - 0.5) {
        return None;
    }
    let x = x.clamp(0.0, (w - 1) as f64);
    let y = y.clamp(0.0, (h - 1) as f64);
    let x0 = x.floor() as usize;
    let y0 = y.floor() as usize;
    let x1 = (x0 + 1).min(w - 1);
    let y1 = (y0 + 1).min(h - 1);
    let fx = x - x0 as f64;
    let fy = y - y0 as f64;
    let v = |xx: usize, yy: usize| src[yy * w + xx] as f64;
    Some(
        v(x0, y0) * (1.0 - fx) * (1.0 - fy)
            + v(x1, y0) * fx * (1.0 - fy)
            + v(x0, y1) * (1.0 - fx) * fy
            + v(x1, y1) * fx * fy,
    )
}

/// Build output slice `m` of `plan` from the source stack (`w × h` per slice).
pub fn resample_slice(plan: &StackPlan, src: &[i16], w: usize, h: usize, m: usize, out: &mut [i16]) {
    let (a, b, wt) = plan.samples[m];
    let slice = |k: usize| &src[k * w * h..(k + 1) * w * h];
    let parts: Vec<(usize, f64)> = if wt == 0.0 {
        vec![(a, 1.0)]
    } else if wt == 1.0 {
        vec![(b, 1.0)]
    } else {
        vec![(a, 1.0 - wt), (b, wt)]
    };
    let no_shift = parts.iter().all(|(k, _)| plan.shifts[*k] == (0.0, 0.0));
    if no_shift && parts.len() == 1 {
        out.copy_from_slice(slice(parts[0].0));
        return;
    }
    for j in 0..h {
        for i in 0..w {
            let mut acc = 0.0;
            let mut inside = true;
            for (k, wk) in &parts {
                let (du, dv) = plan.shifts[*k];
                match bilinear(slice(*k), w, h, i as f64 - du, j as f64 - dv) {
                    Some(v) => acc += v * wk,
                    None => inside = false,
                }
            }
            out[j * w + i] = if inside {
                acc.round().clamp(i16::MIN as f64, i16::MAX as f64) as i16
            } else {
                OUTSIDE_HU
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AXIAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];

    fn z(zs: &[f64]) -> Vec<Vector3<f64>> {
        zs.iter().map(|z| Vector3::new(-10.0, -20.0, *z)).collect()
    }

    #[test]
    fn sorts_by_position_along_normal_not_input_order() {
        let p = z(&[9.0, 3.0, 6.0, 0.0]);
        assert_eq!(sort_by_normal(&p, &normal_of(&AXIAL)), vec![3, 1, 2, 0]);
        // Feet-first: column direction flipped → normal −z → order reversed.
        let ff = [1.0, 0.0, 0.0, 0.0, -1.0, 0.0];
        assert_eq!(sort_by_normal(&p, &normal_of(&ff)), vec![0, 2, 1, 3]);
    }

    #[test]
    fn uniform_stack_is_identity() {
        let p = z(&[0.0, 3.0, 6.0, 9.0000001]);
        let pl = plan(&p, &AXIAL, [0.8, 0.8], Some(3.0), &[]).unwrap();
        assert!(pl.identity);
        assert_eq!(pl.n_out, 4);
        assert!((pl.step_mm - 3.0).abs() < 1e-6);
        assert!(pl.warnings.is_empty());
    }

    #[test]
    fn duplicates_are_found() {
        let p = z(&[0.0, 3.0, 3.0, 6.0]);
        assert_eq!(find_duplicates(&p, &normal_of(&AXIAL)), vec![(1, 2)]);
    }

    #[test]
    fn missing_slices_are_interpolated_with_a_warning() {
        // 3 mm series with slices at 6 and 15 missing (two 6 mm gaps).
        let p = z(&[0.0, 3.0, 9.0, 12.0, 18.0]);
        let pl = plan(&p, &AXIAL, [1.0, 1.0], Some(3.0), &[]).unwrap();
        assert!(!pl.identity);
        assert!((pl.step_mm - 3.0).abs() < 1e-9);
        assert_eq!(pl.n_out, 7);
        assert_eq!(pl.samples[2], (1, 2, 0.5));
        assert_eq!(pl.samples[3], (2, 3, 0.0)); // exactly on source slice 2 (weight of the next is 0)
        assert_eq!(pl.samples[5], (3, 4, 0.5));
        assert!(pl.warnings[0].contains("6.00 mm"), "{:?}", pl.warnings);
        // resample: values 0,10,20,30,40 per slice → interpolated 15 and 35
        let (w, h) = (2, 1);
        let src: Vec<i16> = [0, 10, 20, 30, 40].iter().flat_map(|v| [*v, *v]).collect();
        let mut out = vec![0i16; 2];
        resample_slice(&pl, &src, w, h, 2, &mut out);
        assert_eq!(out, [15, 15]);
        resample_slice(&pl, &src, w, h, 5, &mut out);
        assert_eq!(out, [35, 35]);
    }

    #[test]
    fn large_gap_is_refused() {
        let p = z(&[0.0, 3.0, 6.0, 18.0, 21.0]);
        let e = plan(&p, &AXIAL, [1.0, 1.0], None, &[]).unwrap_err();
        assert!(e.contains("12.00 mm") && e.contains("invent anatomy"), "{e}");
        assert!((max_bridgeable_gap_mm(3.0) - 9.0).abs() < 1e-12);
        assert!((max_bridgeable_gap_mm(5.0) - 10.0).abs() < 1e-12);
        assert!((max_bridgeable_gap_mm(7.5) - 15.0).abs() < 1e-12);
    }

    #[test]
    fn gantry_tilt_is_detected_and_sheared_back() {
        // Tilted CT: column direction tilted by 20° about x; slices stepped along z by 4 mm.
        let a = 20f64.to_radians();
        let iop = [1.0, 0.0, 0.0, 0.0, a.cos(), -a.sin()];
        let n = normal_of(&iop);
        let p: Vec<Vector3<f64>> = (0..3).map(|k| Vector3::new(0.0, 0.0, 4.0 * k as f64)).collect();
        let pl = plan(&p, &iop, [1.0, 1.0], None, &[]).unwrap();
        assert!(!pl.identity);
        // Step along the normal = 4 cos(20°); angle between step and normal = 20°.
        assert!((pl.step_mm - 4.0 * n.z).abs() < 1e-9);
        assert!((pl.tilt_deg - 20.0).abs() < 1e-6, "{}", pl.tilt_deg);
        assert!(pl.warnings[0].contains("20.00°"));
        // Shift of slice 1 in pixels along j: (0,0,4)·col = -4 sin 20°.
        assert!((pl.shifts[1].1 - (-4.0 * a.sin())).abs() < 1e-9);
        // A feature at source pixel (x=1, y=2) of slice 1 appears at output j = 2 + dv.
        let (w, h) = (4, 8);
        let mut src = vec![0i16; w * h * 3];
        src[w * h + 2 * w + 1] = 1000;
        let mut out = vec![0i16; w * h];
        resample_slice(&pl, &src, w, h, 1, &mut out);
        let jpos = 2.0 + pl.shifts[1].1; // ≈ 0.632
        let j0 = jpos.floor() as usize;
        let f = jpos - j0 as f64;
        assert_eq!(out[j0 * w + 1], (1000.0 * (1.0 - f)).round() as i16);
        // Rows beyond the shifted field are outside.
        assert_eq!(out[(h - 1) * w + 1], OUTSIDE_HU);
    }

    #[test]
    fn single_slice_uses_thickness() {
        let pl = plan(&z(&[5.0]), &AXIAL, [1.0, 1.0], Some(2.5), &[]).unwrap();
        assert_eq!(pl.step_mm, 2.5);
        assert!(pl.warnings[0].contains("single-slice"));
        let pl = plan(&z(&[5.0]), &AXIAL, [1.0, 1.0], None, &[]).unwrap();
        assert_eq!(pl.step_mm, 1.0);
    }
}
