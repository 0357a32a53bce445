//! Findings that say why, from the model: when an IRE zone does not cover a target, the coverage
//! finding gains the model's reason — the conductivity contrast and the field inside the target
//! against the field around it, and what voltage would reach the threshold (issue 13); when a
//! vessel keeps a cryo margin thin on its side, a "cold sink" finding says so (issue 14). Used by
//! `compute` and by the app's safety pass alike, so the slide and the panel say the same.

use crate::anatomy::structure::{Structure, StructureKind};
use crate::geometry::{PatientPos, VolumeGeometry};
use crate::physics::ire::explain::{CoverageExplanation, UncoveredCause, explain_coverage};
use crate::physics::model::{ModelAssets, ModelResult, Tissue};
use crate::plan::catalog::Modality;
use crate::plan::ire::VOLTAGE_CAP_V;
use crate::safety::SafetyReport;

/// The rule whose findings are explained.
const COVERAGE_RULE: &str = "ire.zone_coverage";

/// Appends the model's reason to every IRE coverage finding of `report`.
pub fn explain_findings(
    report: &mut SafetyReport,
    result: &ModelResult,
    tissue: Tissue<'_>,
    structures: &[Structure],
    geometry: &VolumeGeometry,
    assets: &ModelAssets,
) {
    explain_cold_sinks(report, result.modality());
    let Some(r) = result.ire() else { return };
    for f in report.findings.iter_mut().filter(|f| f.rule == COVERAGE_RULE) {
        let Some(target) = f
            .structure_index
            .and_then(|i| structures.get(i))
            .filter(|s| s.kind == StructureKind::Target)
        else {
            continue;
        };
        let inside = |p: &PatientPos| {
            geometry
                .nearest_voxel(&geometry.to_voxel(p))
                .is_some_and(|[i, j, k]| target.mask().contains(i, j, k))
        };
        if let Ok(Some(e)) = explain_coverage(r, &inside, tissue.ire(), &assets.ire) {
            f.message = format!("{} — {}", f.message, reason(&e));
        }
    }
}

/// The model's reason in one sentence, with what would help.
pub fn reason(e: &CoverageExplanation) -> String {
    let mut parts = Vec::new();
    for c in &e.causes {
        parts.push(match c {
            UncoveredCause::ConductivityContrast => format!(
                "the {} conducts {:.1}× better than the {} around it (σ0 {:.2} vs {:.2} S/m{}), so the \
                 field inside is {:.0} % of the field around it ({:.0} vs {:.0} V/cm)",
                e.class_inside,
                e.conductivity_contrast,
                e.class_around,
                e.sigma0_inside_s_per_m,
                e.sigma0_around_s_per_m,
                if e.inside_unconfirmed {
                    match e.sigma0_inside_range_s_per_m {
                        Some([lo, hi]) => format!("; {} σ0 unconfirmed, {lo:.2}–{hi:.2} S/m", e.class_inside),
                        None => format!("; {} σ0 unconfirmed", e.class_inside),
                    }
                } else {
                    String::new()
                },
                100.0 * e.field_ratio_inside_to_around,
                e.median_field_inside_v_per_cm,
                e.median_field_around_v_per_cm
            ),
            UncoveredCause::FieldTooLowAround => format!(
                "the field around the target ({:.0} V/cm) is below its lethal threshold ({:.0} V/cm): \
                 electrodes too far apart or too far from it",
                e.median_field_around_v_per_cm, e.threshold_inside_v_per_cm
            ),
            UncoveredCause::UncertainParameters => {
                "covered with the calibrated values, not under the least favourable ones of their ranges \
                 (the band's inner surface)"
                    .to_string()
            }
        });
    }
    if parts.is_empty() {
        parts.push(format!(
            "median field inside {:.0} V/cm against a threshold of {:.0} V/cm",
            e.median_field_inside_v_per_cm, e.threshold_inside_v_per_cm
        ));
    }
    let help = if e.voltage_needed_v.is_finite() && e.voltage_factor_needed > 1.0 {
        if e.voltage_needed_v <= VOLTAGE_CAP_V {
            format!(
                "; about {:.0} V on the pairs ({:.1}×) would reach it",
                e.voltage_needed_v, e.voltage_factor_needed
            )
        } else {
            format!(
                "; it would take about {:.0} V ({:.1}×), above the {VOLTAGE_CAP_V:.0} V generator cap: \
                 bring electrodes into or around the target, or add a pair",
                e.voltage_needed_v, e.voltage_factor_needed
            )
        }
    } else {
        String::new()
    };
    format!("why: {}{help}", parts.join("; "))
}

/// A vessel closer to the target than this (mm) is looked at as a cold sink.
const COLD_SINK_NEAR_MM: f64 = 10.0;
/// Target surface within this distance (mm) of the target's closest point to the vessel is "on
/// the vessel's side"; the same distance around the opposite point is the other side.
const COLD_SINK_SIDE_MM: f64 = 8.0;
/// A margin this much smaller (mm) on the vessel's side than on the opposite side is reported.
const COLD_SINK_DEFICIT_MM: f64 = 1.0;

/// Cryo (issue 14): flowing vessels are heat sources ("cold sink", REFERENCE.md §3, Autrusseau
/// 2021) that keep the tissue beside them warm. For every vessel near a target whose lethal
/// margin on the vessel's side falls short of the margin on the opposite side, an informational finding says
/// so with both numbers, so the planner sees why the margin is thin there.
pub fn explain_cold_sinks(report: &mut SafetyReport, modality: Modality) {
    if modality != Modality::Cryo {
        return;
    }
    let mut found = Vec::new();
    for m in report.margins.iter().filter(|m| m.zone.starts_with("Lethal")) {
        for td in report
            .target_distances
            .iter()
            .filter(|t| t.target_index == m.target_index && t.kind == StructureKind::Vessel)
        {
            let Some(d) = td.distance.filter(|d| d.distance_mm < COLD_SINK_NEAR_MM) else {
                continue;
            };
            // The target side of the closest pair (the target is the first structure), and the
            // point opposite it through the centre of the target's surface.
            let near = d.from_lps;
            let n = m.surface.len().max(1) as f64;
            let centre = PatientPos::from(
                m.surface
                    .iter()
                    .fold(nalgebra::Vector3::zeros(), |a, s| a + s.lps.coords)
                    / n,
            );
            let opposite = PatientPos::from(2.0 * centre.coords - near.coords);
            let around = |p: PatientPos| -> Vec<f64> {
                m.surface
                    .iter()
                    .filter(|s| (s.lps - p).norm() <= COLD_SINK_SIDE_MM)
                    .map(|s| f64::from(s.margin_mm))
                    .collect()
            };
            let (side, rest) = (around(near), around(opposite));
            // Means over each side: the minimum of either is usually at the ends of the probe, the
            // same on both sides.
            let mean = |v: &[f64]| {
                if v.is_empty() {
                    f64::NAN
                } else {
                    v.iter().sum::<f64>() / v.len() as f64
                }
            };
            let (on_side, elsewhere) = (mean(&side), mean(&rest));
            if on_side.is_finite() && elsewhere.is_finite() && elsewhere - on_side >= COLD_SINK_DEFICIT_MM {
                found.push(cold_sink_finding(
                    &td.structure,
                    td.structure_index,
                    &m.target,
                    &m.zone,
                    on_side,
                    elsewhere,
                    near,
                    d.to_lps,
                ));
            }
        }
    }
    report.findings.extend(found);
}

#[allow(clippy::too_many_arguments)]
fn cold_sink_finding(
    vessel: &str,
    vessel_index: usize,
    target: &str,
    zone: &str,
    on_side_mm: f64,
    elsewhere_mm: f64,
    target_lps: PatientPos,
    vessel_lps: PatientPos,
) -> crate::plan::finding::Finding {
    use crate::plan::finding::{Finding, Severity};
    Finding {
        severity: Severity::Info,
        light: Severity::Info.light(),
        rule: "cryo.cold_sink".into(),
        rule_text: "A flowing vessel next to the target is a heat source (cold sink): the iceball grows less on its side".into(),
        source: "REFERENCE.md §3 (vessels > ~3 mm act as heat sources); Autrusseau et al., JVIR 2021 (\"cold sink\")".into(),
        structure: Some(vessel.to_string()),
        structure_index: Some(vessel_index),
        kind: Some(StructureKind::Vessel),
        zone: Some(zone.to_string()),
        zone_index: None,
        probe: None,
        probe_index: None,
        distance_mm: Some(on_side_mm),
        distance_lower_mm: None,
        error_bound_mm: None,
        overlap_ml: None,
        limit: None,
        gain_mm: None,
        path_from_entry_mm: None,
        current_a: None,
        caliper_lps: Some([target_lps, vessel_lps]),
        focus_lps: Some(target_lps),
        probe_indices: Vec::new(),
        value: Some(elsewhere_mm),
        message: format!(
            "Cold sink: {vessel} keeps the margin of {target} on its side at {on_side_mm:.1} mm on average \
             ({elsewhere_mm:.1} mm on the opposite side, {zone})"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::safety::{Distance, Light, MarginReport, SurfaceMargin, TargetDistance};

    /// A ring of target surface points of radius 10 mm around the origin in the axial plane, with
    /// a margin of `m(x)` at each; a vessel just beyond x = +10 mm.
    fn report(margin_at: impl Fn(f64) -> f32) -> SafetyReport {
        let surface = (0..72)
            .map(|n| {
                let a = f64::from(n) * 5f64.to_radians();
                let p = PatientPos::new(10.0 * a.cos(), 10.0 * a.sin(), 0.0);
                SurfaceMargin {
                    voxel: [0, 0, 0],
                    lps: p,
                    margin_mm: margin_at(p.x),
                }
            })
            .collect();
        let margin = MarginReport {
            zone: "Lethal -40 °C (inner)".into(),
            zone_index: 0,
            target: "Node".into(),
            target_index: 0,
            coverage: 1.0,
            target_volume_ml: 4.0,
            min_margin_mm: Some(0.0),
            min_margin_lower_mm: Some(0.0),
            error_bound_mm: 0.5,
            min_target_lps: None,
            min_zone_lps: None,
            surface,
        };
        let d = Distance {
            distance_mm: 2.0,
            lower_mm: 1.5,
            error_bound_mm: 0.5,
            centre_distance_mm: 2.0,
            overlap_ml: 0.0,
            from_lps: PatientPos::new(10.0, 0.0, 0.0),
            to_lps: PatientPos::new(12.0, 0.0, 0.0),
        };
        SafetyReport {
            status: Light::Green,
            findings: Vec::new(),
            distances: Vec::new(),
            target_distances: vec![TargetDistance {
                target: "Node".into(),
                target_index: 0,
                structure: "IVC".into(),
                structure_index: 1,
                kind: StructureKind::Vessel,
                distance: Some(d),
                beyond_mm: 50.0,
            }],
            margins: vec![margin],
            paths: Vec::new(),
            beyond_mm: 50.0,
            preview: false,
            zones: vec!["Lethal -40 °C (inner)".into()],
        }
    }

    #[test]
    fn a_thin_margin_on_the_vessels_side_is_named() {
        // 1 mm beside the vessel (x > 5), 4 mm elsewhere.
        let mut r = report(|x| if x > 5.0 { 1.0 } else { 4.0 });
        explain_cold_sinks(&mut r, Modality::Cryo);
        let f = r
            .findings
            .iter()
            .find(|f| f.rule == "cryo.cold_sink")
            .expect("cold sink");
        assert_eq!(f.structure.as_deref(), Some("IVC"));
        assert!(f.value.unwrap() - f.distance_mm.unwrap() >= 1.0, "{}", f.message);
        assert!(
            f.message.contains("IVC") && f.message.contains("Node"),
            "{}",
            f.message
        );
    }

    #[test]
    fn an_even_margin_is_not_blamed_on_the_vessel() {
        let mut r = report(|_| 3.0);
        explain_cold_sinks(&mut r, Modality::Cryo);
        assert!(r.findings.is_empty());
    }
}
