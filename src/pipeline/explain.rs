//! Findings that say why, from the model (issue 13): when an IRE zone does not cover a target,
//! the coverage finding gains the model's reason — the conductivity contrast and the field inside
//! the target against the field around it, and what voltage would reach the threshold. Used by
//! `compute` and by the app's safety pass alike, so the slide and the panel say the same.

use crate::anatomy::structure::{Structure, StructureKind};
use crate::geometry::{PatientPos, VolumeGeometry};
use crate::physics::ire::explain::{CoverageExplanation, UncoveredCause, explain_coverage};
use crate::physics::model::{ModelAssets, ModelResult, Tissue};
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
