//! Live geometry checks of a set of probes: per-pair spacing (tip-to-tip and between the exposed
//! parts), angle between axes, overlap of the exposures along the mean axis, and findings.

use super::probe::{Probe, Segment};
use crate::geometry::PatientPos;
use serde::{Deserialize, Serialize};

/// Source of the spacing limits.
pub const SPACING_SOURCE: &str =
    "IRE spacing 1.0–2.5 cm, ideally 1.5–2.0 cm (REFERENCE.md §4; Ben-David 2012, Sci Rep 2020)";
/// Source of the parallelism limits.
pub const PARALLEL_SOURCE: &str = "electrodes parallel (REFERENCE.md §2, §4; Sci Rep 2020): converging tips over-current and heat, diverging tips leave gaps; 5° caution / 10° warning per issue 4";
/// Source of the exposure-overlap rule.
pub const OVERLAP_SOURCE: &str =
    "the field between a pair forms only where both exposures face each other (issue 4)";

/// Source of the cryoprobe spacing limits ([`PlacementLimits::cryo`]).
pub const CRYO_SPACING_SOURCE: &str =
    "cryo probe spacing 1.0–2.0 cm, 1.5 cm typical (REFERENCE.md §4; Autrusseau 2021, Shah 2016)";

/// Editable limits of the checks. `Default` = IRE electrodes (REFERENCE.md §4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlacementLimits {
    pub min_spacing_mm: f64,
    pub max_spacing_mm: f64,
    pub caution_angle_deg: f64,
    pub warning_angle_deg: f64,
    /// Where the spacing limits come from (shown with the findings).
    pub spacing_source: String,
}

impl Default for PlacementLimits {
    fn default() -> Self {
        PlacementLimits {
            min_spacing_mm: 10.0,
            max_spacing_mm: 25.0,
            caution_angle_deg: 5.0,
            warning_angle_deg: 10.0,
            spacing_source: SPACING_SOURCE.into(),
        }
    }
}

impl PlacementLimits {
    /// Limits for cryoprobes: spacing 1.0–2.0 cm ([`CRYO_SPACING_SOURCE`]); the same parallelism
    /// limits as IRE.
    pub fn cryo() -> Self {
        PlacementLimits {
            max_spacing_mm: 20.0,
            spacing_source: CRYO_SPACING_SOURCE.into(),
            ..PlacementLimits::default()
        }
    }
}

pub use super::finding::{Finding, Light, Severity};

/// What a placement check found; its rule id is [`FindingKind::rule_id`] (a [`Finding`]'s `rule`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FindingKind {
    /// A probe's geometry is unusable (tip = entry, non-finite, exposure ≤ 0).
    InvalidProbe,
    SpacingTooSmall,
    /// A probe's nearest neighbour is farther than the maximum spacing.
    SpacingTooLarge,
    NotParallel,
    ExposuresDoNotOverlap,
}

impl FindingKind {
    pub const ALL: [FindingKind; 5] = [
        FindingKind::InvalidProbe,
        FindingKind::SpacingTooSmall,
        FindingKind::SpacingTooLarge,
        FindingKind::NotParallel,
        FindingKind::ExposuresDoNotOverlap,
    ];

    pub fn rule_id(self) -> &'static str {
        match self {
            FindingKind::InvalidProbe => "placement.invalid_probe",
            FindingKind::SpacingTooSmall => "placement.spacing_too_small",
            FindingKind::SpacingTooLarge => "placement.spacing_too_large",
            FindingKind::NotParallel => "placement.not_parallel",
            FindingKind::ExposuresDoNotOverlap => "placement.exposures_do_not_overlap",
        }
    }

    fn rule_text(self) -> &'static str {
        match self {
            FindingKind::InvalidProbe => "A probe needs a tip, an entry and an exposed part",
            FindingKind::SpacingTooSmall => "Probes must not be closer than the minimum spacing",
            FindingKind::SpacingTooLarge => "Each probe's nearest neighbour within the maximum spacing",
            FindingKind::NotParallel => "Probes parallel",
            FindingKind::ExposuresDoNotOverlap => "Exposed parts of a pair facing each other",
        }
    }

    /// The kind of a placement finding (`None` for a finding of the safety rules).
    pub fn of(f: &Finding) -> Option<FindingKind> {
        Self::ALL.into_iter().find(|k| k.rule_id() == f.rule)
    }
}

/// A placement finding: the one [`Finding`] type, about probes rather than structures.
fn placement(
    kind: FindingKind,
    severity: Severity,
    probes: Vec<usize>,
    value: Option<f64>,
    limit: Option<f64>,
    message: String,
    source: String,
) -> Finding {
    Finding {
        severity,
        light: severity.light(),
        rule: kind.rule_id().into(),
        rule_text: kind.rule_text().into(),
        source,
        structure: None,
        structure_index: None,
        kind: None,
        zone: None,
        zone_index: None,
        probe: None,
        probe_index: probes.first().copied(),
        distance_mm: None,
        distance_lower_mm: None,
        error_bound_mm: None,
        overlap_ml: None,
        limit,
        gain_mm: None,
        path_from_entry_mm: None,
        current_a: None,
        caliper_lps: None,
        focus_lps: None,
        probe_indices: probes,
        value,
        message,
    }
}

/// The geometry of one pair of probes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairGeometry {
    pub a: usize,
    pub b: usize,
    pub tip_distance_mm: f64,
    /// Minimum distance between the two exposed segments.
    pub shaft_distance_mm: f64,
    /// Angle between the insertion directions (0 = parallel, 180 = opposite).
    pub angle_deg: f64,
    /// Length of the overlap of the exposures projected on the mean axis (0 when disjoint).
    pub exposure_overlap_mm: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    pub pairs: Vec<PairGeometry>,
    pub findings: Vec<Finding>,
}

impl CheckReport {
    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }
}

/// The point of the segment `a`–`b` closest to `p` (`a` when the segment is a point).
pub fn closest_point_on_segment(p: &PatientPos, a: &PatientPos, b: &PatientPos) -> PatientPos {
    let ab = b - a;
    let len2 = ab.norm_squared();
    let t = if len2 > 0.0 {
        ((p - a).dot(&ab) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    a + ab * t
}

/// Exact minimum distance between segments [p1, q1] and [p2, q2], with the closest points
/// (Ericson, Real-Time Collision Detection §5.1.9). Degenerate segments are points.
pub fn segment_distance(
    p1: &PatientPos,
    q1: &PatientPos,
    p2: &PatientPos,
    q2: &PatientPos,
) -> (f64, PatientPos, PatientPos) {
    let d1 = q1 - p1;
    let d2 = q2 - p2;
    let r = p1 - p2;
    let a = d1.norm_squared();
    let e = d2.norm_squared();
    let f = d2.dot(&r);
    let eps = 1e-18;
    let (s, t) = if a <= eps && e <= eps {
        (0.0, 0.0)
    } else if a <= eps {
        (0.0, (f / e).clamp(0.0, 1.0))
    } else {
        let c = d1.dot(&r);
        if e <= eps {
            ((-c / a).clamp(0.0, 1.0), 0.0)
        } else {
            let b = d1.dot(&d2);
            let denom = a * e - b * b;
            // Parallel segments: any s works; take 0 and let t fix it.
            let mut s = if denom > 1e-12 * a * e {
                ((b * f - c * e) / denom).clamp(0.0, 1.0)
            } else {
                0.0
            };
            let mut t = (b * s + f) / e;
            if t < 0.0 {
                t = 0.0;
                s = (-c / a).clamp(0.0, 1.0);
            } else if t > 1.0 {
                t = 1.0;
                s = ((b - c) / a).clamp(0.0, 1.0);
            }
            (s, t)
        }
    };
    let c1 = p1 + d1 * s;
    let c2 = p2 + d2 * t;
    ((c1 - c2).norm(), c1, c2)
}

/// Distance between two segments.
pub fn segment_segment_distance(a: &Segment, b: &Segment) -> f64 {
    segment_distance(&a.start, &a.end, &b.start, &b.end).0
}

/// Geometry of a pair of valid probes; `None` when either probe is invalid.
pub fn pair_geometry(probes: &[Probe], a: usize, b: usize) -> Option<PairGeometry> {
    let (pa, pb) = (probes.get(a)?, probes.get(b)?);
    let (ea, eb) = (pa.exposed_segment().ok()?, pb.exposed_segment().ok()?);
    let (xa, xb) = (pa.axis().ok()?, pb.axis().ok()?);
    let angle_deg = xa.dot(&xb).clamp(-1.0, 1.0).acos().to_degrees();
    // Mean axis: the bisector of the two insertion directions (the first axis when opposite).
    let mean = (xa + xb).try_normalize(1e-9).unwrap_or(xa);
    let interval = |s: &Segment| {
        let (u, v) = (s.start.coords.dot(&mean), s.end.coords.dot(&mean));
        (u.min(v), u.max(v))
    };
    let (ia, ib) = (interval(&ea), interval(&eb));
    let overlap = (ia.1.min(ib.1) - ia.0.max(ib.0)).max(0.0);
    Some(PairGeometry {
        a,
        b,
        tip_distance_mm: (pa.tip_lps - pb.tip_lps).norm(),
        shaft_distance_mm: segment_segment_distance(&ea, &eb),
        angle_deg,
        exposure_overlap_mm: overlap,
    })
}

/// Two probes whose exposed parts come closer than their radii together.
#[derive(Clone, Debug, PartialEq)]
pub struct Overlap {
    pub a: usize,
    pub b: usize,
    pub apart_mm: f64,
    pub touching_mm: f64,
}

impl std::fmt::Display for Overlap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "probes {} and {} overlap: their exposed parts are {:.2} mm apart, less than their radii \
             together ({:.2} mm) — move one",
            self.a + 1,
            self.b + 1,
            self.apart_mm,
            self.touching_mm
        )
    }
}

/// The first pair of probes occupying the same tissue (`radius_mm` of each from its model). A
/// model of that is meaningless — two electrodes at one point once gave a 0 mm pair at
/// "0 A, ok" — so the models refuse it. Probes without a valid segment are skipped (they are
/// reported by [`check_probes`]).
pub fn first_overlap(probes: &[Probe], radius_mm: impl Fn(&Probe) -> f64) -> Option<Overlap> {
    let segments: Vec<_> = probes.iter().map(|p| p.exposed_segment().ok()).collect();
    for (a, (p, sa)) in probes.iter().zip(&segments).enumerate() {
        for (b, (q, sb)) in probes.iter().zip(&segments).enumerate().skip(a + 1) {
            let (Some(sa), Some(sb)) = (sa, sb) else { continue };
            let apart_mm = segment_segment_distance(sa, sb);
            let touching_mm = radius_mm(p) + radius_mm(q);
            // A zero radius (an unknown model) still refuses coincident probes.
            if apart_mm < touching_mm.max(1e-3) {
                return Some(Overlap {
                    a,
                    b,
                    apart_mm,
                    touching_mm,
                });
            }
        }
    }
    None
}

/// Runs every check on `probes`.
///
/// - Spacing below the minimum (between the exposed parts, which is never more than tip-to-tip):
///   warning for that pair (over-current, heating).
/// - Spacing above the maximum: applied to each probe's *nearest* neighbour, not to every pair
///   (far pairs in a 6-electrode array are normal and are simply not pulsed): warning.
/// - Angle above the caution / warning limit for any pair: caution / warning.
/// - Exposures not overlapping along the mean axis, for pairs within the maximum spacing (the
///   pairs that would be pulsed): warning.
pub fn check_probes(probes: &[Probe], limits: &PlacementLimits) -> CheckReport {
    let mut report = CheckReport::default();
    let label = |i: usize| probes.get(i).map_or("?", |p| p.label.as_str());
    let mut valid = Vec::new();
    for (i, p) in probes.iter().enumerate() {
        match p.exposed_segment() {
            Ok(_) => valid.push(i),
            Err(e) => report.findings.push(placement(
                FindingKind::InvalidProbe,
                Severity::Warning,
                vec![i],
                None,
                None,
                e.to_string(),
                String::new(),
            )),
        }
    }
    for (k, &i) in valid.iter().enumerate() {
        for &j in &valid[k + 1..] {
            if let Some(g) = pair_geometry(probes, i, j) {
                report.pairs.push(g);
            }
        }
    }
    for g in &report.pairs {
        let names = format!("{}–{}", label(g.a), label(g.b));
        if g.shaft_distance_mm < limits.min_spacing_mm {
            report.findings.push(placement(
                FindingKind::SpacingTooSmall,
                Severity::Warning,
                vec![g.a, g.b],
                Some(g.shaft_distance_mm),
                Some(limits.min_spacing_mm),
                format!(
                    "probes {names}: {:.1} mm apart, below {:.1} mm — risk of over-current and heating; widen the spacing",
                    g.shaft_distance_mm, limits.min_spacing_mm
                ),
                limits.spacing_source.clone(),
            ));
        }
        let (sev, lim) = if g.angle_deg > limits.warning_angle_deg {
            (Some(Severity::Warning), limits.warning_angle_deg)
        } else if g.angle_deg > limits.caution_angle_deg {
            (Some(Severity::Caution), limits.caution_angle_deg)
        } else {
            (None, 0.0)
        };
        if let Some(severity) = sev {
            report.findings.push(placement(
                FindingKind::NotParallel,
                severity,
                vec![g.a, g.b],
                Some(g.angle_deg),
                Some(lim),
                format!(
                    "probes {names}: {:.1}° from parallel (limit {lim:.0}°) — converging tips over-current, diverging tips leave gaps",
                    g.angle_deg
                ),
                PARALLEL_SOURCE.into(),
            ));
        }
        if g.shaft_distance_mm <= limits.max_spacing_mm && g.exposure_overlap_mm <= 0.0 {
            report.findings.push(placement(
                FindingKind::ExposuresDoNotOverlap,
                Severity::Warning,
                vec![g.a, g.b],
                Some(g.exposure_overlap_mm),
                Some(0.0),
                format!("probes {names}: the exposed parts do not overlap along the probes — align the tips"),
                OVERLAP_SOURCE.into(),
            ));
        }
    }
    for &i in &valid {
        let nearest = report
            .pairs
            .iter()
            .filter(|g| g.a == i || g.b == i)
            .map(|g| g.shaft_distance_mm)
            .fold(f64::INFINITY, f64::min);
        if nearest.is_finite() && nearest > limits.max_spacing_mm {
            report.findings.push(placement(
                FindingKind::SpacingTooLarge,
                Severity::Warning,
                vec![i],
                Some(nearest),
                Some(limits.max_spacing_mm),
                format!(
                    "probe {}: nearest other probe {nearest:.1} mm away, above {:.1} mm — the zone may have a gap; move it closer",
                    label(i),
                    limits.max_spacing_mm
                ),
                limits.spacing_source.clone(),
            ));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_point_clamps_to_the_segment() {
        let (a, b) = (PatientPos::new(0.0, 0.0, 0.0), PatientPos::new(4.0, 0.0, 0.0));
        let on = |p: [f64; 3]| closest_point_on_segment(&PatientPos::from(p), &a, &b);
        assert_eq!(on([1.5, 3.0, -2.0]), PatientPos::new(1.5, 0.0, 0.0));
        assert_eq!(on([-7.0, 1.0, 0.0]), a, "before the start");
        assert_eq!(on([9.0, 0.0, 5.0]), b, "past the end");
        // A point-like segment is its own closest point.
        let c = closest_point_on_segment(&PatientPos::new(1.0, 1.0, 1.0), &b, &b);
        assert_eq!(c, b);
    }
}
