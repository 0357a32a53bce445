//! The words of a suggestion: why a proposal was chosen, and — when nothing meets the goal
//! within the rules — what is impossible and why, computed from the geometry and the model.

use super::search::Candidate;
use super::target::{CriticalPoints, TargetPoints};
use super::{HardClearance, Proposal, SuggestRequest};
use crate::anatomy::structure::StructureKind;
use crate::geometry::PatientPos;
use crate::physics::ire::explain::{UncoveredCause, explain_coverage};
use crate::physics::model::{ModelPreview, ModelResult, preview};
use crate::plan::catalog::Modality;
use crate::plan::rules::ZoneSelector;

/// The approach in words, from the in-plane angle (clockwise from anterior).
pub fn approach_words(in_plane_deg: f64) -> &'static str {
    const NAMES: [&str; 8] = [
        "anterior",
        "left anterolateral",
        "left lateral",
        "left posterolateral",
        "posterior",
        "right posterolateral",
        "right lateral",
        "right anterolateral",
    ];
    NAMES[((in_plane_deg.rem_euclid(360.0) / 45.0).round() as usize) % 8]
}

/// Why this proposal: geometry, coverage, paths, the closest critical structure, the current.
pub fn why(p: &Proposal, c: &Candidate, critical: &[CriticalPoints]) -> Vec<String> {
    let mut out = Vec::new();
    let kind = if p.settings.modality() == Modality::Ire {
        "electrode"
    } else {
        "cryoprobe"
    };
    let plural = if p.n_probes == 1 { "" } else { "s" };
    let depth = p.paths.iter().map(|x| x.depth_mm).fold(0.0, f64::max);
    let spacing = if p.n_probes > 1 {
        format!(" {:.0} mm apart,", p.spacing_mm)
    } else {
        String::new()
    };
    out.push(format!(
        "{} {kind}{plural},{spacing} {:.0} mm {}, parallel, {} approach (in-plane {:.0}°, cranio-caudal {:.0}°), up to {:.0} mm from the skin to the tip",
        p.n_probes,
        p.exposure_mm,
        if kind == "electrode" { "exposure" } else { "active length" },
        approach_words(p.in_plane_deg),
        p.in_plane_deg,
        p.cranio_caudal_deg,
        depth,
    ));
    if let Some(l) = p.paths.iter().filter_map(|x| x.probe_length_mm).reduce(f64::max) {
        out.push(format!("every tip within reach of a {:.0} cm probe", l / 10.0));
    }
    if p.covers_goal {
        out.push(format!(
            "the full model covers the target + {:.0} mm (minimal margin {})",
            p.margin_goal_mm,
            p.min_margin_mm.map_or("—".into(), |m| format!("{m:.1} mm"))
        ));
        if c.covers() {
            out.push(format!(
                "the fewest {kind}s that covered it on the preview along this approach"
            ));
        }
    } else {
        out.push(format!(
            "the full model covers {:.0} % of the target and {:.0} % of the target + {:.0} mm (minimal margin {})",
            100.0 * p.coverage_target,
            100.0 * p.coverage_target_margin,
            p.margin_goal_mm,
            p.min_margin_mm.map_or("—".into(), |m| format!("{m:.1} mm"))
        ));
    }
    out.push("every path clear of bone, gas (bowel or lung), drawn structures and the other probes".into());
    if let Some((name, d)) = &p.closest_critical {
        out.push(format!(
            "closest critical structure: {name}, {d:.1} mm from the zone"
        ));
    } else if critical.is_empty() {
        out.push("no critical structure drawn near the target".into());
    }
    if let (Some(v), Some(a)) = (p.voltage_v, p.current_a) {
        out.push(format!(
            "pairs at up to {v:.0} V, highest predicted current {a:.1} A"
        ));
    }
    for f in &p.red_findings {
        out.push(format!("breaks {f}"));
    }
    out
}

pub struct VerdictInput<'a, 'r> {
    pub req: &'a SuggestRequest<'r>,
    pub target: &'a TargetPoints,
    pub critical: &'a [CriticalPoints],
    pub hard: &'a [HardClearance],
    pub margin_goal_mm: f64,
    pub clear_approaches: usize,
    pub blocked: &'a [String],
    pub candidates: &'a [Candidate],
    pub proposals: &'a [Proposal],
    pub preview_not_full: Option<&'a Proposal>,
}

/// What cannot be done, in the user's words, and the best compromise.
pub fn impossible(v: &VerdictInput<'_, '_>) -> Vec<String> {
    let mut out = Vec::new();
    let m = v.margin_goal_mm;
    let modality = v.req.settings.modality();
    if v.clear_approaches == 0 {
        let mut reasons: Vec<String> = Vec::new();
        for b in v.blocked {
            let what = b.split(" at ").next().unwrap_or(b).to_string();
            if !reasons.contains(&what) {
                reasons.push(what);
            }
        }
        reasons.truncate(4);
        out.push(format!(
            "no clear straight path from the skin to the target within ±{:.0}° cranio-caudal: the paths cross {}",
            v.req.limits.cranio_caudal_max_deg,
            if reasons.is_empty() { "nothing reachable".to_string() } else { reasons.join(", ") }
        ));
    }
    for c in v.critical {
        for h in v.hard.iter().filter(|h| h.kinds.contains(&c.kind)) {
            // The rule's zone may reach past the lethal one (cryo: the 0 °C iceball beyond the
            // lethal isotherm), by as much as the model says.
            let beyond = zone_beyond_lethal_mm(v, &h.zone);
            let need = m + beyond + h.below_mm;
            if c.distance_to_target_mm >= need {
                continue;
            }
            let d = c.distance_to_target_mm.max(0.0);
            let lies = if d <= 1.5 {
                format!("abuts the {} ({d:.1} mm)", c.name)
            } else {
                format!("lies {d:.1} mm from the {}", c.name)
            };
            let kind_word = match c.kind {
                StructureKind::Nerve => "nerve",
                StructureKind::Bowel => "bowel",
                StructureKind::Vessel => "vessel",
                _ => "structure",
            };
            let smaller = (d - h.below_mm - beyond).max(0.0);
            let advice = match modality {
                Modality::Ire => {
                    format!("hydrodissection, or accept a smaller margin (at most {smaller:.1} mm here)")
                }
                Modality::Cryo => format!(
                    "hydrodissection would have to gain {:.1} mm, or accept a smaller margin (at most {smaller:.1} mm here)",
                    need - d,
                ),
            };
            let zone_words = match (&h.zone, modality) {
                (ZoneSelector::CryoIsotherm { temp_c }, Modality::Cryo) if beyond > 0.0 => format!(
                    "the {temp_c:.0} °C iceball, which the model puts {beyond:.1} mm beyond the {:.0} °C lethal isotherm, within {:.0} mm of the {kind_word} (the rule {} asks at least {:.0} mm)",
                    v.req.settings.lethal_isotherm_c().unwrap_or(f64::NAN),
                    h.below_mm,
                    h.rule,
                    h.below_mm
                ),
                _ => format!(
                    "the {kind_word} inside the zone or within the {:.0} mm the rule {} asks",
                    h.below_mm, h.rule
                ),
            };
            out.push(format!(
                "the target {lies}: a {m:.0} mm margin puts {zone_words} — {advice}"
            ));
        }
    }
    if let Some(p) = v.preview_not_full.or(v.proposals.first())
        && let Some(text) = conductivity_reason(v, p).or_else(|| cryo_reach_reason(v, p))
    {
        out.push(text);
    }
    let covering_breaking: Vec<&Proposal> = v
        .proposals
        .iter()
        .filter(|p| p.covers_goal && !p.meets_rules)
        .collect();
    if !covering_breaking.is_empty() {
        let mut reds: Vec<&str> = covering_breaking
            .iter()
            .flat_map(|p| p.red_findings.iter().map(String::as_str))
            .collect();
        reds.sort_unstable();
        reds.dedup();
        out.push(format!(
            "the arrays that cover the target + {m:.0} mm break a hard rule on the full model ({}): its zone is larger than the preview's",
            reds.join("; ")
        ));
    }
    let covering: Vec<&Candidate> = v.candidates.iter().filter(|c| c.covers()).collect();
    if !covering.is_empty()
        && covering.iter().all(|c| !c.breaks.is_empty())
        && out.len() <= usize::from(v.clear_approaches == 0)
    {
        let mut names: Vec<&str> = covering
            .iter()
            .flat_map(|c| c.breaks.iter().map(String::as_str))
            .collect();
        names.sort_unstable();
        names.dedup();
        out.push(format!(
            "every array that covers the target + {m:.0} mm brings the zone within the hard clearance of {}",
            names.join(", ")
        ));
    }
    if !covering.is_empty()
        && covering
            .iter()
            .all(|c| c.current_a.is_some_and(|a| a >= v.req.limits.current_limit_a))
    {
        out.push(format!(
            "every array that covers the target + {m:.0} mm needs a current above the generator's {:.0} A",
            v.req.limits.current_limit_a
        ));
    }
    if out.is_empty() && v.clear_approaches > 0 && covering.is_empty() {
        out.push(format!(
            "no array within the limits ({}–{} probes, {:.0}–{:.0} mm apart, {:.0}–{:.0} mm exposure) covers the target + {m:.0} mm on the preview: the target is {:.0} mm across",
            v.req.limits.count_min,
            v.req.limits.count_max,
            v.req.limits.spacings_mm.iter().copied().fold(f64::INFINITY, f64::min),
            v.req.limits.spacings_mm.iter().copied().fold(0.0, f64::max),
            v.req.limits.exposures_mm.iter().copied().fold(f64::INFINITY, f64::min),
            v.req.limits.exposures_mm.iter().copied().fold(0.0, f64::max),
            v.target.extent_mm
        ));
    }
    if out.is_empty() {
        out.push(format!(
            "no confirmed plan covers the target + {m:.0} mm within the rules (the preview's candidates did not hold on the full model)"
        ));
    }
    match v.proposals.first() {
        Some(p) => out.push(format!(
            "best compromise: proposal 1 — {:.0} % of the target, {:.0} % of the target + {m:.0} mm{}",
            100.0 * p.coverage_target,
            100.0 * p.coverage_target_margin,
            if p.meets_rules {
                ", within the hard rules"
            } else {
                ", and it breaks a hard rule"
            }
        )),
        None => out.push("no compromise either: no array with clear paths could be computed".into()),
    }
    out
}

/// How far the zone of a rule reaches beyond the lethal zone (mm), from the model: for a cryo
/// isotherm warmer than the lethal one, half the difference of their widths across a single
/// probe ([`single_probe_width_mm`]); 0 for the lethal zone itself and for IRE.
fn zone_beyond_lethal_mm(v: &VerdictInput<'_, '_>, zone: &ZoneSelector) -> f64 {
    let ZoneSelector::CryoIsotherm { temp_c } = zone else {
        return 0.0;
    };
    let Some(lethal_c) = v.req.settings.lethal_isotherm_c() else {
        return 0.0;
    };
    if *temp_c <= lethal_c {
        return 0.0;
    }
    match (
        single_probe_width_mm(v, *temp_c),
        single_probe_width_mm(v, lethal_c),
    ) {
        (Some(a), Some(b)) => (0.5 * (a - b)).max(0.0),
        _ => 0.0,
    }
}

/// The width (mm) of isotherm `temp_c` across one cryoprobe of the search's first array, on the
/// single-probe full model of that probe, tissue and protocol (`physics::cryo::preview`).
fn single_probe_width_mm(v: &VerdictInput<'_, '_>, temp_c: f64) -> Option<f64> {
    let c = v.candidates.first()?;
    let one = &c.probes[..1.min(c.probes.len())];
    let Ok(ModelPreview::Cryo(pv)) = preview(one, &c.settings, v.req.tissue, v.req.assets) else {
        return None;
    };
    pv.ellipsoids
        .iter()
        .filter(|e| (e.isotherm_c - temp_c).abs() < 0.5)
        .map(|e| e.width_mm)
        .reduce(f64::max)
        .filter(|w| w.is_finite() && *w > 0.0)
}

/// Cryo: why the best array does not cover, from the model — how far one probe's lethal
/// isotherm reaches under the protocol as set, against how far the target + margin reaches.
fn cryo_reach_reason(v: &VerdictInput<'_, '_>, p: &Proposal) -> Option<String> {
    let lethal_c = v.req.settings.lethal_isotherm_c()?;
    if p.covers_goal || p.settings.modality() != Modality::Cryo {
        return None;
    }
    let reach = 0.5 * single_probe_width_mm(v, lethal_c)?;
    let freeze_min: f64 = match &p.settings {
        crate::physics::model::ModelSettings::Cryo(c) => c
            .protocol
            .phases
            .iter()
            .filter(|ph| ph.kind == crate::plan::protocol::PhaseKind::Freeze)
            .map(|ph| ph.duration_s / 60.0)
            .sum(),
        _ => return None,
    };
    let needed = 0.5 * v.target.extent_mm + v.margin_goal_mm;
    Some(format!(
        "one {} freezes the {lethal_c:.0} °C lethal isotherm to {reach:.1} mm from its axis on the model ({freeze_min:.0} min of freezing in the protocol); the target + {:.0} mm reaches {needed:.1} mm from its centre — {} probe{} {} {:.0} % of it{}",
        v.req.probe_model,
        v.margin_goal_mm,
        p.n_probes,
        if p.n_probes == 1 { "" } else { "s" },
        if p.n_probes == 1 {
            "alone covers"
        } else {
            "together cover"
        },
        100.0 * p.coverage_target_margin,
        if p.n_probes < v.req.limits.count_max {
            ""
        } else {
            ", the most the limits allow: a longer freeze or a smaller margin is the choice"
        }
    ))
}

/// The model's reason why the preview's covering array does not cover on the full model: the
/// target's conductivity against its surroundings (IRE), from `physics::ire::explain`.
fn conductivity_reason(v: &VerdictInput<'_, '_>, p: &Proposal) -> Option<String> {
    let Some(ModelResult::Ire(r)) = &p.result else {
        return None;
    };
    let g = v.req.structure_geometry;
    let targets: Vec<_> = v
        .req
        .structures
        .iter()
        .filter(|s| s.kind == StructureKind::Target)
        .collect();
    let inside = |q: &PatientPos| {
        g.nearest_voxel(&g.to_voxel(q))
            .is_some_and(|[i, j, k]| targets.iter().any(|s| s.mask().contains(i, j, k)))
    };
    let e = explain_coverage(r, &inside, v.req.tissue.ire(), &v.req.assets.ire).ok()??;
    if e.causes.contains(&UncoveredCause::ConductivityContrast) {
        let ratio = e.field_ratio_inside_to_around;
        let words = if (0.2..0.3).contains(&ratio) {
            "about a quarter of".to_string()
        } else if (0.4..0.6).contains(&ratio) {
            "about half".to_string()
        } else {
            format!("{:.0} % of", 100.0 * ratio)
        };
        Some(format!(
            "the target is {:.0}× more conductive than the {} around it; the field inside it is {words} the field outside — place electrodes inside or at the edge of the target (the model would need {:.0} V)",
            e.conductivity_contrast,
            e.class_around.replace('_', " "),
            e.voltage_needed_v
        ))
    } else if e.causes.contains(&UncoveredCause::FieldTooLowAround) {
        Some(format!(
            "the field around the target stays below its threshold on the full model ({:.0} V/cm against {:.0} V/cm): the model would need {:.0} V — closer electrodes or a larger exposure",
            e.median_field_around_v_per_cm, e.threshold_inside_v_per_cm, e.voltage_needed_v
        ))
    } else {
        None
    }
}
