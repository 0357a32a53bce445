//! A placed probe (tip, entry, exposure; LPS mm) and parallel-array templates.

use crate::geometry::PatientPos;
use nalgebra::Vector3;
use serde::{Deserialize, Serialize};

/// Errors from probe geometry and templates; each names the offending value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProbeError {
    #[error("probe \"{label}\": the tip and the entry are the same point — drag the entry away from the tip")]
    ZeroLength { label: String },
    #[error("probe \"{label}\": {what} is not a finite number")]
    NotFinite { label: String, what: &'static str },
    #[error("probe \"{label}\": exposure {exposure_mm} mm must be positive")]
    BadExposure { label: String, exposure_mm: f64 },
    #[error("array template: {n} electrodes — choose 2 to 6")]
    ArrayCount { n: usize },
    #[error("array template: spacing {spacing_mm} mm — choose {min}–{max} mm")]
    ArraySpacing { spacing_mm: f64, min: f64, max: f64 },
    #[error("array template: {what} — choose an axis and an in-plane direction that are not parallel")]
    ArrayDirection { what: &'static str },
    #[error("array template: {what} {value} mm must be finite and ≥ 0")]
    ArrayLength { what: &'static str, value: f64 },
}

/// A line segment in LPS mm.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start: PatientPos,
    pub end: PatientPos,
}

impl Segment {
    pub fn length_mm(&self) -> f64 {
        (self.end - self.start).norm()
    }

    pub fn midpoint(&self) -> PatientPos {
        nalgebra::center(&self.start, &self.end)
    }
}

/// A placed probe. Coordinates are LPS mm; the exposed (IRE) or active (cryo) part runs from the
/// tip `exposure_mm` back towards the entry; the rest of the shaft is insulated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    /// Catalog id (`assets/probes.json`).
    pub model_id: String,
    pub tip_lps: PatientPos,
    /// Skin entry point (any point on the shaft outside the patient works the same).
    pub entry_lps: PatientPos,
    /// Exposed (IRE) or active (cryo) length from the tip (mm).
    pub exposure_mm: f64,
    pub label: String,
}

impl Probe {
    fn check(&self) -> Result<(), ProbeError> {
        let finite = |p: &PatientPos| p.iter().all(|c| c.is_finite());
        if !finite(&self.tip_lps) {
            return Err(self.not_finite("the tip"));
        }
        if !finite(&self.entry_lps) {
            return Err(self.not_finite("the entry"));
        }
        if !self.exposure_mm.is_finite() {
            return Err(self.not_finite("the exposure"));
        }
        if self.exposure_mm <= 0.0 {
            return Err(ProbeError::BadExposure {
                label: self.label.clone(),
                exposure_mm: self.exposure_mm,
            });
        }
        if (self.entry_lps - self.tip_lps).norm() < 1e-9 {
            return Err(ProbeError::ZeroLength {
                label: self.label.clone(),
            });
        }
        Ok(())
    }

    fn not_finite(&self, what: &'static str) -> ProbeError {
        ProbeError::NotFinite {
            label: self.label.clone(),
            what,
        }
    }

    /// Tip-to-entry length (mm).
    pub fn length_mm(&self) -> f64 {
        (self.entry_lps - self.tip_lps).norm()
    }

    /// Unit insertion direction (entry → tip).
    pub fn axis(&self) -> Result<Vector3<f64>, ProbeError> {
        self.check()?;
        Ok((self.tip_lps - self.entry_lps).normalize())
    }

    /// The exposed part: from the tip `exposure_mm` towards the entry (clamped to the probe
    /// length). `start` = tip.
    pub fn exposed_segment(&self) -> Result<Segment, ProbeError> {
        let axis = self.axis()?;
        let len = self.exposure_mm.min(self.length_mm());
        Ok(Segment {
            start: self.tip_lps,
            end: self.tip_lps - axis * len,
        })
    }

    /// The insulated shaft: from the end of the exposure to the entry (zero length when the
    /// exposure covers the whole probe).
    pub fn shaft_segment(&self) -> Result<Segment, ProbeError> {
        let exposed = self.exposed_segment()?;
        Ok(Segment {
            start: exposed.end,
            end: self.entry_lps,
        })
    }
}

/// Limits of the array templates (mm): IRE spacing 1.0–2.5 cm (REFERENCE.md §4; Ben-David 2012,
/// Sci Rep 2020), 2–6 electrodes (the generator supports up to 6, REFERENCE.md §2).
pub const ARRAY_SPACING_MM: (f64, f64) = (10.0, 25.0);
pub const ARRAY_COUNT: (usize, usize) = (2, 6);

/// A parallel array centred on a point.
///
/// Layouts in the plane perpendicular to `axis`, `u` = `in_plane` (made perpendicular to the
/// axis), `v` = axis × u, `s` = spacing; every layout's nearest-neighbour distance is exactly `s`:
/// - 2: a line along u (±s/2).
/// - 3: an equilateral triangle of side s (all three pairs at s; the usual 3-electrode layout,
///   better coverage than a line of 3 whose outer pair would be 2s apart).
/// - 4: a square of side s (the usual box; diagonals s√2).
/// - 5: a centre electrode and four at distance s on ±u, ±v (a diamond; neighbouring outer
///   electrodes s√2 apart). A square of side s plus a centre would put the centre only s/√2 from
///   the corners, below the requested spacing.
/// - 6: 2 × 3 grid (3 along u, 2 along v), spacing s in both directions.
///
/// The centroid of the exposed parts is `centre_lps` when `tip_beyond_centre_mm` =
/// `exposure_mm / 2` (the exposure centred on the target, see [`ArrayTemplate::centred`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ArrayTemplate {
    pub model_id: String,
    pub n: usize,
    pub spacing_mm: f64,
    pub centre_lps: PatientPos,
    /// Insertion direction (entry → tip); normalised here.
    pub axis: Vector3<f64>,
    /// Direction in the array plane along which the first row lies.
    pub in_plane: Vector3<f64>,
    pub exposure_mm: f64,
    /// How far the tips go past the centre plane along the axis.
    pub tip_beyond_centre_mm: f64,
    /// Tip-to-entry distance of each probe.
    pub length_mm: f64,
}

impl ArrayTemplate {
    /// A template with the exposures centred on `centre_lps`.
    #[allow(clippy::too_many_arguments)]
    pub fn centred(
        model_id: &str,
        n: usize,
        spacing_mm: f64,
        centre_lps: PatientPos,
        axis: Vector3<f64>,
        in_plane: Vector3<f64>,
        exposure_mm: f64,
        length_mm: f64,
    ) -> Self {
        ArrayTemplate {
            model_id: model_id.to_string(),
            n,
            spacing_mm,
            centre_lps,
            axis,
            in_plane,
            exposure_mm,
            tip_beyond_centre_mm: exposure_mm / 2.0,
            length_mm,
        }
    }

    /// In-plane offsets in units of the spacing (u, v).
    fn layout(n: usize) -> Vec<(f64, f64)> {
        let r3 = 3f64.sqrt();
        match n {
            2 => vec![(-0.5, 0.0), (0.5, 0.0)],
            3 => vec![(-0.5, -r3 / 6.0), (0.5, -r3 / 6.0), (0.0, r3 / 3.0)],
            4 => vec![(-0.5, -0.5), (0.5, -0.5), (0.5, 0.5), (-0.5, 0.5)],
            5 => vec![(-1.0, 0.0), (0.0, -1.0), (1.0, 0.0), (0.0, 1.0), (0.0, 0.0)],
            _ => vec![
                (-1.0, -0.5),
                (0.0, -0.5),
                (1.0, -0.5),
                (-1.0, 0.5),
                (0.0, 0.5),
                (1.0, 0.5),
            ],
        }
    }
}

/// Probes of a parallel array (labels "1" … "n").
pub fn parallel_array(t: &ArrayTemplate) -> Result<Vec<Probe>, ProbeError> {
    if !(ARRAY_COUNT.0..=ARRAY_COUNT.1).contains(&t.n) {
        return Err(ProbeError::ArrayCount { n: t.n });
    }
    let (lo, hi) = ARRAY_SPACING_MM;
    if !t.spacing_mm.is_finite() || !(lo..=hi).contains(&t.spacing_mm) {
        return Err(ProbeError::ArraySpacing {
            spacing_mm: t.spacing_mm,
            min: lo,
            max: hi,
        });
    }
    for (what, value) in [
        ("exposure", t.exposure_mm),
        ("tip beyond centre", t.tip_beyond_centre_mm),
        ("length", t.length_mm),
    ] {
        if !value.is_finite() || value < 0.0 {
            return Err(ProbeError::ArrayLength { what, value });
        }
    }
    if t.exposure_mm <= 0.0 || t.length_mm <= 0.0 {
        return Err(ProbeError::ArrayLength {
            what: "exposure and length",
            value: t.exposure_mm.min(t.length_mm),
        });
    }
    if !t.centre_lps.iter().all(|c| c.is_finite()) {
        return Err(ProbeError::ArrayDirection {
            what: "the centre is not finite",
        });
    }
    let axis = t
        .axis
        .try_normalize(1e-12)
        .filter(|a| a.iter().all(|c| c.is_finite()))
        .ok_or(ProbeError::ArrayDirection {
            what: "the axis has zero length",
        })?;
    let u = (t.in_plane - axis * axis.dot(&t.in_plane))
        .try_normalize(1e-9 * t.in_plane.norm().max(1e-300))
        .filter(|a| a.iter().all(|c| c.is_finite()))
        .ok_or(ProbeError::ArrayDirection {
            what: "the in-plane direction is zero or parallel to the axis",
        })?;
    let v = axis.cross(&u);
    let s = t.spacing_mm;
    Ok(ArrayTemplate::layout(t.n)
        .into_iter()
        .enumerate()
        .map(|(i, (a, b))| {
            let tip = t.centre_lps + u * (a * s) + v * (b * s) + axis * t.tip_beyond_centre_mm;
            Probe {
                model_id: t.model_id.clone(),
                tip_lps: tip,
                entry_lps: tip - axis * t.length_mm,
                exposure_mm: t.exposure_mm,
                label: (i + 1).to_string(),
            }
        })
        .collect())
}
