//! Target coverage and the signed minimal ablative margin: for every surface voxel of the Target,
//! the signed distance from the target's surface there to the zone boundary (positive inside the
//! zone, negative where the target sticks out), its minimum and its distribution.
//!
//! Per surface voxel `t`: the zone's signed distance at the voxel centre (trilinear over the
//! zone's cell-face distance field, [`PreparedZone::signed_distance_mm`]) less half the voxel's
//! extent along the target's outward normal there (the target's surface lies half a voxel beyond
//! the centre of its surface voxels). Error: at most half a voxel diagonal of each grid (`a`, as
//! for distances); `min_margin_lower_mm = min_margin_mm − a` is what the margin rules compare.

use crate::anatomy::mask::Mask;
use crate::geometry::{PatientPos, VolumeGeometry};
use nalgebra::Vector3;
use serde::{Deserialize, Serialize};

use super::distance::CtFrame;
use super::zone::PreparedZone;

/// The margin at one surface voxel of the target.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct SurfaceMargin {
    /// CT voxel (i, j, k).
    pub voxel: [u32; 3],
    pub lps: PatientPos,
    /// Signed margin (mm): positive inside the zone.
    pub margin_mm: f32,
}

/// One bar of the margin histogram.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistogramBin {
    pub lo_mm: f64,
    pub hi_mm: f64,
    pub count: usize,
}

/// The covered fraction of a target's volume as text that never rounds up to "100 %" unless
/// every voxel is covered: a margin below zero with "100 %" read as a contradiction.
pub fn coverage_text(coverage: f64) -> String {
    let pct = 100.0 * coverage.clamp(0.0, 1.0);
    if pct >= 100.0 {
        "100 %".to_string()
    } else if pct >= 99.0 {
        // floor to 0.1 %, so 99.96 % reads 99.9 %
        format!("{:.1} %", (pct * 10.0).floor() / 10.0)
    } else {
        format!("{:.0} %", pct.floor())
    }
}

/// Why a negative margin and a high coverage hold together: the coverage counts the target's
/// volume inside the zone, the margin is the smallest distance from the target's surface to the
/// zone's edge (negative where the surface sticks out).
pub fn margin_sentence(target: &str, zone: &str, min_margin_mm: f64, coverage: f64) -> String {
    let cov = coverage_text(coverage);
    if min_margin_mm < 0.0 {
        format!(
            "{target} in {zone}: {cov} of the target's volume inside; its surface reaches up to \
             {:.1} mm beyond the zone's edge at the closest point (minimal margin {min_margin_mm:.1} mm)",
            -min_margin_mm
        )
    } else {
        format!(
            "{target} in {zone}: {cov} of the target's volume inside; minimal margin {min_margin_mm:.1} mm \
             from the target's surface to the zone's edge"
        )
    }
}

/// Coverage and margin of one target by one zone.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MarginReport {
    pub zone: String,
    pub zone_index: usize,
    pub target: String,
    pub target_index: usize,
    /// Fraction of the target's voxels whose centre lies in the zone (nearest node).
    pub coverage: f64,
    pub target_volume_ml: f64,
    /// Signed minimal ablative margin (mm); `None` when the zone is empty.
    pub min_margin_mm: Option<f64>,
    /// `min_margin_mm − error_bound_mm`: the margin rules compare this.
    pub min_margin_lower_mm: Option<f64>,
    pub error_bound_mm: f64,
    /// Where the minimum is: the target surface point and the zone boundary point (a caliper).
    pub min_target_lps: Option<PatientPos>,
    pub min_zone_lps: Option<PatientPos>,
    /// Every surface voxel of the target with its margin, sorted by (k, j, i).
    pub surface: Vec<SurfaceMargin>,
}

impl MarginReport {
    /// The margin at a surface voxel of the target (for colouring its outline), `None` when the
    /// voxel is not on the target's surface.
    pub fn margin_at_voxel(&self, v: [usize; 3]) -> Option<f32> {
        let key = |s: &SurfaceMargin| (s.voxel[2], s.voxel[1], s.voxel[0]);
        let want = (v[2] as u32, v[1] as u32, v[0] as u32);
        self.surface
            .binary_search_by(|s| key(s).cmp(&want))
            .ok()
            .map(|i| self.surface[i].margin_mm)
    }

    /// Histogram of the surface margins with bins of `bin_mm` from `lo_mm` to `hi_mm`; values
    /// outside go into the first and last bins (so every surface voxel is counted).
    pub fn histogram(&self, bin_mm: f64, lo_mm: f64, hi_mm: f64) -> Vec<HistogramBin> {
        if !(bin_mm > 0.0 && hi_mm > lo_mm && bin_mm.is_finite()) {
            return Vec::new();
        }
        let n = ((hi_mm - lo_mm) / bin_mm).ceil().max(1.0) as usize;
        let mut bins: Vec<HistogramBin> = (0..n)
            .map(|b| HistogramBin {
                lo_mm: lo_mm + b as f64 * bin_mm,
                hi_mm: lo_mm + (b + 1) as f64 * bin_mm,
                count: 0,
            })
            .collect();
        for s in &self.surface {
            let x = f64::from(s.margin_mm);
            let b = ((x - lo_mm) / bin_mm).floor();
            let b = if b.is_finite() {
                b.clamp(0.0, (n - 1) as f64) as usize
            } else {
                0
            };
            bins[b].count += 1;
        }
        bins
    }

    /// Fraction of the target surface with a margin below `mm`.
    pub fn surface_fraction_below(&self, mm: f64) -> f64 {
        if self.surface.is_empty() {
            return 0.0;
        }
        self.surface
            .iter()
            .filter(|s| f64::from(s.margin_mm) < mm)
            .count() as f64
            / self.surface.len() as f64
    }
}

/// Coverage and margins of `target` (a mask on `geometry`) by `zone`.
pub fn margin_report(
    zone: &PreparedZone,
    zone_index: usize,
    target_name: &str,
    target_index: usize,
    target: &Mask,
    geometry: &VolumeGeometry,
) -> MarginReport {
    let ct = CtFrame::new(geometry);
    let a = zone.half_diagonal_mm() + ct.half_diagonal_mm();
    let dims = target.dims();
    let mut total = 0usize;
    let mut covered = 0usize;
    let mut surface = Vec::new();
    let axes: [Vector3<f64>; 3] = [0, 1, 2].map(|a| geometry.axis_dir(a));
    for k in 0..dims[2] {
        for r in target.slice_runs(k) {
            let j = r.j as usize;
            for i in r.i0 as usize..r.i1 as usize {
                total += 1;
                let p = ct.centre([i, j, k]);
                if zone.contains(&p) {
                    covered += 1;
                }
                // Outward normal from the missing 6-neighbours (voxel axes → LPS).
                let v = [i, j, k];
                let mut out = Vector3::zeros();
                let mut open = false;
                for ax in 0..3 {
                    for (sign, step) in [(-1.0, -1i64), (1.0, 1)] {
                        let mut w = v.map(|x| x as i64);
                        w[ax] += step;
                        let inside = w[ax] >= 0
                            && (w[ax] as usize) < dims[ax]
                            && target.contains(w[0] as usize, w[1] as usize, w[2] as usize);
                        if !inside {
                            open = true;
                            out += axes[ax] * sign;
                        }
                    }
                }
                // An empty zone has no margin to show.
                if !open || zone.is_empty() {
                    continue;
                }
                let half = match out.try_normalize(1e-9) {
                    Some(n) => ct.half_extent_along(&n),
                    // Open on opposite sides only (one voxel thick): the smaller half extent.
                    None => 0.5 * geometry.spacing_mm.iter().copied().fold(f64::INFINITY, f64::min),
                };
                let phi = zone.signed_distance_mm(&p).unwrap_or(f64::NEG_INFINITY);
                surface.push(SurfaceMargin {
                    voxel: [i as u32, j as u32, k as u32],
                    lps: p,
                    margin_mm: (phi - half) as f32,
                });
            }
        }
    }
    // Runs are visited in (k, j, i0) order, so `surface` is sorted by (k, j, i) already.
    let min = if zone.is_empty() {
        None
    } else {
        surface
            .iter()
            .min_by(|x, y| x.margin_mm.total_cmp(&y.margin_mm))
            .copied()
    };
    let min_zone_lps = min.and_then(|m| {
        let phi = zone.signed_distance_mm(&m.lps)?;
        let n = zone.inward_normal(&m.lps)?;
        Some(m.lps - n * phi)
    });
    let min_margin_mm = min.map(|m| f64::from(m.margin_mm)).filter(|m| m.is_finite());
    MarginReport {
        zone: zone.label.clone(),
        zone_index,
        target: target_name.to_string(),
        target_index,
        coverage: if total == 0 {
            0.0
        } else {
            covered as f64 / total as f64
        },
        target_volume_ml: total as f64 * ct.voxel_ml(),
        min_margin_mm,
        min_margin_lower_mm: min_margin_mm.map(|m| m - a),
        error_bound_mm: a,
        min_target_lps: min.map(|m| m.lps),
        min_zone_lps,
        surface,
    }
}

#[cfg(test)]
mod text_tests {
    use super::*;

    #[test]
    fn coverage_below_one_never_reads_100_percent() {
        assert_eq!(coverage_text(1.0), "100 %");
        for c in [0.9996, 0.996, 0.9951] {
            let t = coverage_text(c);
            assert_ne!(t, "100 %", "{c}");
            assert!(t.starts_with("99."), "{c}: {t}");
        }
        assert_eq!(coverage_text(0.874), "87 %");
    }

    #[test]
    fn a_negative_margin_with_full_coverage_says_which_surface_sticks_out() {
        let s = margin_sentence("Node", "IRE zone", -1.1, 0.998);
        assert!(
            s.contains("volume inside") && s.contains("1.1 mm beyond the zone's edge"),
            "{s}"
        );
        assert!(!s.contains("100 %"), "{s}");
    }
}
