//! Suggested plans (issue 16): from the target, the critical structures with the active rules,
//! the modality, the probe model and the limits to up to three ranked placements — each a set
//! of straight paths from the skin — or a plain statement of what cannot be done and the best
//! compromise.
//!
//! How: approach directions whose path from the skin to the target's centre is clear (bone, gas,
//! drawn structures, reach; `safety::path_check`) within the allowed angles; along each, parallel
//! arrays centred on the target (counts, spacings, exposures and in-plane rotations from the
//! limits) whose every path is clear, judged on the fast preview (`physics::model::preview`) by
//! point tests — coverage of the target and of the target + margin shell, the hard clearance of
//! each critical structure the rules ask for, the preview current. The best arrays (rules met,
//! covering, fewest probes) are then confirmed with the full model (`physics::model::compute`)
//! and the safety pass (`safety::analyse`), the same ones the plan shows; an IRE array over the
//! generator's current is retried at the lower voltage ratios. Above `safety` in the layers: it
//! drives the model and the rules; `pipeline`, the CLI and the GUI call it.

mod refine;
pub mod search;
pub mod target;
mod verdict;

use crate::anatomy::body::BodyMask;
use crate::anatomy::structure::{Structure, StructureKind};
use crate::geometry::VolumeGeometry;
use crate::jobs::JobCtx;
use crate::physics::model::{ModelAssets, ModelResult, ModelSettings, Tissue, compute};
use crate::plan::catalog::Modality;
use crate::plan::probe::Probe;
use crate::plan::rules::{Check, Light, RuleModality, RuleSet, ZoneSelector};
use crate::plan::trajectory::TrajectoryLimits;
use crate::safety::path_check::{PathCheck, PathScene};
use crate::safety::{SafetyCache, Zone, analyse};
use crate::volume::Volume;
use search::{Candidate, approaches, search_approach, settings_for};
use serde::Serialize;
use std::time::Instant;
use target::{CriticalPoints, TargetPoints, critical_points};

/// The limits a suggestion keeps (issue 16; sources: REFERENCE.md §4 and the generator file).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SuggestLimits {
    pub count_min: usize,
    pub count_max: usize,
    /// Spacings tried between neighbouring probes (mm).
    pub spacings_mm: Vec<f64>,
    /// Exposures (IRE) or the active length (cryo) tried (mm).
    pub exposures_mm: Vec<f64>,
    /// In-plane rotations of the array about its axis tried (degrees).
    pub rotations_deg: Vec<f64>,
    /// Probes are placed parallel; the suggestion's own tolerance (degrees).
    pub parallel_max_deg: f64,
    /// IRE: the voltage ratio (V/cm) and the lower ones tried when the current is too high.
    pub ratio_v_per_cm: f64,
    pub lower_ratios_v_per_cm: Vec<f64>,
    pub voltage_cap_v: f64,
    pub current_limit_a: f64,
    /// Approach directions: steps and range of the angles (degrees).
    pub in_plane_step_deg: f64,
    pub cranio_caudal_step_deg: f64,
    pub cranio_caudal_max_deg: f64,
    /// The allowed skin region as a sector of in-plane angles [from, to] (degrees, clockwise
    /// from anterior as in `anatomy::body`); `None` = all around.
    pub allowed_in_plane_deg: Option<[f64; 2]>,
    /// How many clear approaches are searched and how many arrays confirmed with the full model.
    pub max_approaches: usize,
    pub max_confirmations: usize,
    /// Extra confirmations when none of the first covers target + margin within the rules: the
    /// arrays the full model's sensitivity predicts to cover (`refine.rs`).
    pub max_refinements: usize,
    /// Grid spacing of the confirming full-model runs (mm); `None` = the plan's own.
    pub confirm_spacing_mm: Option<f64>,
    /// How much farther the full model's zone may reach than the preview's (mm): arrays whose
    /// preview zone comes within a hard clearance plus this are ranked after the others. IRE:
    /// the preview is linear, and σ rising with the field grows the zone by a few mm
    /// (`physics::ire::preview`); cryo: 0 (the preview is the single-probe model's own size).
    pub preview_growth_mm: f64,
}

impl SuggestLimits {
    /// IRE: 2–6 electrodes, spacing 1.0–2.5 cm, exposure 1.5–2.5 cm, 1,500 V/cm (then 1,250 and
    /// 1,000) capped at the generator's 3,000 V, current below 48 A (REFERENCE.md §1, §4;
    /// `assets/ire_generator.json`).
    pub fn ire(trajectory: &TrajectoryLimits) -> Self {
        let g = crate::plan::ire::generator_limits();
        SuggestLimits {
            count_min: 2,
            count_max: g.max_electrodes().min(6),
            spacings_mm: vec![10.0, 15.0, 20.0, 25.0],
            exposures_mm: vec![15.0, 20.0, 25.0],
            rotations_deg: vec![0.0, 45.0, 90.0, 135.0],
            parallel_max_deg: 5.0,
            ratio_v_per_cm: crate::plan::ire::DEFAULT_RATIO_V_PER_CM,
            lower_ratios_v_per_cm: vec![1250.0, 1000.0],
            voltage_cap_v: g.voltage_cap_v.value,
            current_limit_a: g.current_limit_a.value,
            in_plane_step_deg: 30.0,
            cranio_caudal_step_deg: 15.0,
            cranio_caudal_max_deg: trajectory.cranio_caudal_max_deg.value,
            allowed_in_plane_deg: None,
            max_approaches: 4,
            max_confirmations: 4,
            max_refinements: 2,
            confirm_spacing_mm: Some(1.0),
            preview_growth_mm: 3.0,
        }
    }

    /// Cryo: 1–4 probes (up to 8 with `count_max`), spacing 1.0–2.0 cm (REFERENCE.md §4), the
    /// probe's active length.
    pub fn cryo(trajectory: &TrajectoryLimits, active_length_mm: f64) -> Self {
        SuggestLimits {
            count_min: 1,
            count_max: 4,
            spacings_mm: vec![10.0, 15.0, 20.0],
            exposures_mm: vec![active_length_mm],
            rotations_deg: vec![0.0, 45.0],
            current_limit_a: f64::INFINITY,
            preview_growth_mm: 0.0,
            ..SuggestLimits::ire(trajectory)
        }
    }

    /// Whether an in-plane angle lies in the allowed sector.
    pub fn allowed_in_plane(&self, deg: f64) -> bool {
        match self.allowed_in_plane_deg {
            None => true,
            Some([from, to]) => {
                let (a, f, t) = (
                    deg.rem_euclid(360.0),
                    from.rem_euclid(360.0),
                    to.rem_euclid(360.0),
                );
                if f <= t {
                    (f..=t).contains(&a)
                } else {
                    a >= f || a <= t
                }
            }
        }
    }
}

/// A hard rule of the active set as a clearance: structures of `kinds` must stay `below_mm` from
/// the zone `zone` (a red rule of kind `zone_distance`).
#[derive(Clone, Debug, PartialEq)]
pub struct HardClearance {
    pub rule: String,
    pub zone: ZoneSelector,
    pub kinds: Vec<StructureKind>,
    pub below_mm: f64,
}

/// The red `zone_distance` rules of `modality`.
pub fn hard_clearances(rules: &RuleSet, modality: Modality) -> Vec<HardClearance> {
    let m = rule_modality(modality);
    rules
        .rules
        .iter()
        .filter(|r| r.enabled && (r.modality == m || r.modality == RuleModality::Both))
        .filter(|r| r.severity.light() == Light::Red)
        .filter_map(|r| match &r.check {
            Check::ZoneDistance {
                zone,
                structures,
                below_mm,
            } => Some(HardClearance {
                rule: r.id.clone(),
                zone: zone.clone(),
                kinds: structures.clone(),
                below_mm: below_mm.value,
            }),
            _ => None,
        })
        .collect()
}

fn rule_modality(m: Modality) -> RuleModality {
    match m {
        Modality::Ire => RuleModality::Ire,
        Modality::Cryo => RuleModality::Cryo,
    }
}

/// Everything a suggestion reads.
#[derive(Clone)]
pub struct SuggestRequest<'a> {
    pub tissue: Tissue<'a>,
    /// The CT and its body outline (`None` for a phantom: paths start `phantom_depth_mm` out).
    pub volume: Option<&'a Volume>,
    pub body: Option<&'a BodyMask>,
    pub structures: &'a [Structure],
    pub structure_geometry: &'a VolumeGeometry,
    pub rules: &'a RuleSet,
    /// The plan's model settings (modality, options, protocol); pairs and voltages are made here.
    pub settings: ModelSettings,
    pub probe_model: String,
    pub assets: &'a ModelAssets,
    pub limits: SuggestLimits,
    pub trajectory: &'a TrajectoryLimits,
    pub phantom_depth_mm: f64,
}

/// Why no suggestion could be attempted.
#[derive(Debug, thiserror::Error)]
pub enum SuggestError {
    #[error("no target: draw or import a structure of kind Target first")]
    NoTarget,
    #[error("probe model \"{0}\" is not in the catalog")]
    UnknownProbe(String),
    #[error("the probe model \"{probe}\" is {probe_modality:?}, the plan is {plan:?}")]
    WrongModality {
        probe: String,
        probe_modality: Modality,
        plan: Modality,
    },
    #[error("cancelled")]
    Cancelled,
}

/// One path of a proposal, for the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProposalPath {
    pub probe: String,
    pub entry_lps: [f64; 3],
    pub tip_lps: [f64; 3],
    pub depth_mm: f64,
    /// The shortest catalog length that reaches (mm).
    pub probe_length_mm: Option<f64>,
}

/// One proposed plan, confirmed with the full model.
#[derive(Clone, Debug, Serialize)]
pub struct Proposal {
    pub rank: usize,
    #[serde(skip)]
    pub probes: Vec<Probe>,
    #[serde(skip)]
    pub settings: ModelSettings,
    pub n_probes: usize,
    pub spacing_mm: f64,
    pub exposure_mm: f64,
    pub in_plane_deg: f64,
    pub cranio_caudal_deg: f64,
    /// IRE: the highest pair voltage and the model's highest pair current.
    pub voltage_v: Option<f64>,
    pub current_a: Option<f64>,
    /// Full model: fraction of the target in the lethal zone, and of target + margin.
    pub coverage_target: f64,
    pub coverage_target_margin: f64,
    pub margin_goal_mm: f64,
    /// Signed minimal ablative margin of the safety pass (mm).
    pub min_margin_mm: Option<f64>,
    /// The closest critical structure to the zone: name and distance (mm; negative = inside).
    pub closest_critical: Option<(String, f64)>,
    pub paths: Vec<ProposalPath>,
    /// Every hard rule met (no red finding besides coverage and margin, current below the limit,
    /// every path clear).
    pub meets_rules: bool,
    /// Covers target + margin.
    pub covers_goal: bool,
    /// The red findings it has (rule: text), when it does not meet the rules.
    pub red_findings: Vec<String>,
    /// Why this one.
    pub why: Vec<String>,
    #[serde(skip)]
    pub result: Option<ModelResult>,
}

/// The answer.
#[derive(Clone, Debug, Serialize)]
pub struct Suggestion {
    pub modality: Modality,
    pub target: String,
    pub margin_goal_mm: f64,
    /// Up to three, best first.
    pub proposals: Vec<Proposal>,
    /// When no proposal covers target + margin within the rules: what is impossible and why.
    pub impossible: Vec<String>,
    /// Then the first proposal is the best compromise.
    pub compromise: bool,
    pub approaches_clear: usize,
    pub arrays_searched: usize,
    pub full_runs: usize,
    pub elapsed_s: f64,
}

/// The suggestion (a background job: polls `ctx.cancel`, reports `ctx.progress`).
pub fn suggest(req: &SuggestRequest<'_>, ctx: &JobCtx) -> Result<Suggestion, SuggestError> {
    let started = Instant::now();
    let modality = req.settings.modality();
    let model = req
        .assets
        .cryo
        .catalog
        .get(&req.probe_model)
        .ok_or_else(|| SuggestError::UnknownProbe(req.probe_model.clone()))?;
    if model.modality != modality {
        return Err(SuggestError::WrongModality {
            probe: req.probe_model.clone(),
            probe_modality: model.modality,
            plan: modality,
        });
    }
    let margin_goal_mm = req.rules.margin_goal_mm(rule_modality(modality)).unwrap_or(5.0);
    let target = TargetPoints::of(req.structures, req.structure_geometry, margin_goal_mm)
        .ok_or(SuggestError::NoTarget)?;
    let critical = critical_points(
        req.structures,
        req.structure_geometry,
        &target,
        target.extent_mm / 2.0 + 40.0,
    );
    let hard = hard_clearances(req.rules, modality);
    let lengths = model.lengths();
    let scene = PathScene {
        volume: req.volume,
        body: req.body,
        structures: req.structures,
        structure_geometry: req.structure_geometry,
        other_probes: &[],
        probe_radius_mm: model.radius_mm(),
        lengths_mm: &lengths,
        limits: req.trajectory,
        phantom_depth_mm: req.phantom_depth_mm,
    };
    ctx.progress.set_message("suggest: approaches from the skin");
    let (clear, blocked) = approaches(req, &scene, &target);
    let chosen = diverse_approaches(&clear, req.limits.max_approaches);
    let cancelled = || ctx.cancel.is_cancelled();
    let mut candidates: Vec<Candidate> = Vec::new();
    for (i, a) in chosen.iter().enumerate() {
        ctx.progress.set_message(format!(
            "suggest: arrays from {:.0}° in-plane, {:.0}° cranio-caudal",
            a.in_plane_deg, a.cranio_caudal_deg
        ));
        candidates.extend(search_approach(
            req, &scene, &target, &critical, &hard, a, &cancelled,
        ));
        ctx.progress
            .set(0.4 * (i + 1) as f32 / chosen.len().max(1) as f32);
        if cancelled() {
            return Err(SuggestError::Cancelled);
        }
    }
    let arrays_searched = candidates.len();
    candidates.sort_by_key(|c| std::cmp::Reverse(c.rank_key(&req.limits)));
    let mut proposals: Vec<Proposal> = Vec::new();
    let mut full_runs = 0;
    let mut confirmed_keys: Vec<(usize, f64, f64)> = Vec::new();
    let mut preview_covering_but_not_full: Option<Proposal> = None;
    // The best candidates in order, keeping one confirmation for the best candidate with room
    // for the full model's growth when nothing confirmed keeps the rules (a safe compromise).
    let roomy = candidates
        .iter()
        .position(|c| c.meets_hard_rules(&req.limits) && c.tight.is_empty());
    let budget = req.limits.max_confirmations.max(1);
    let mut confirmed: Vec<usize> = Vec::new();
    // The candidate each proposal confirmed (parallel to `proposals` until they are ranked).
    let mut sources: Vec<usize> = Vec::new();
    for (i, c) in candidates.iter().enumerate() {
        if full_runs >= budget || proposals.iter().filter(|p| p.meets_rules).count() >= 3 {
            break;
        }
        // One proposal per probe count and approach: the others would be near copies.
        let key = (c.n, c.in_plane_deg, c.cranio_caudal_deg);
        if confirmed_keys
            .iter()
            .any(|k| k.0 == key.0 && (k.1 - key.1).abs() < 1e-6 && (k.2 - key.2).abs() < 1e-6)
        {
            continue;
        }
        confirmed_keys.push(key);
        confirmed.push(i);
        ctx.progress
            .set_message(format!("suggest: full model of {} probes", c.n));
        let p = confirm(req, c, &target, &critical, margin_goal_mm, &mut full_runs, ctx)?;
        ctx.progress
            .set(0.4 + 0.6 * full_runs as f32 / req.limits.max_confirmations.max(1) as f32);
        if let Some(p) = p {
            if c.covers() && !p.covers_goal && preview_covering_but_not_full.is_none() {
                preview_covering_but_not_full = Some(p.clone());
            }
            proposals.push(p);
            sources.push(i);
        }
    }
    // Refinement: nothing confirmed covers within the rules; the full model's sensitivity at
    // the best confirmed array picks the next array to confirm (refine.rs).
    for _ in 0..req.limits.max_refinements {
        if proposals.iter().any(|p| p.meets_rules && p.covers_goal) {
            break;
        }
        let Some((pi, _)) = proposals.iter().enumerate().max_by(|(_, a), (_, b)| {
            (a.meets_rules, a.coverage_target_margin + a.coverage_target)
                .partial_cmp(&(b.meets_rules, b.coverage_target_margin + b.coverage_target))
                .unwrap_or(std::cmp::Ordering::Equal)
        }) else {
            break;
        };
        let Some(result) = proposals[pi].result.as_ref() else {
            break;
        };
        let in_full = full_zone(result, &proposals[pi].settings);
        let rho = refine::sensitivity(&candidates[sources[pi]], result, &in_full, &target);
        let Some((next, predicted)) = refine::next_candidate(
            &candidates,
            &confirmed,
            &rho,
            target.inside.len(),
            req.limits.current_limit_a,
        ) else {
            break;
        };
        confirmed.push(next);
        let c = &candidates[next];
        ctx.progress.set_message(format!(
            "suggest: full model of {} probes, {:.0} mm apart (refined: predicted {:.0} % of the target + margin)",
            c.n,
            c.spacing_mm,
            100.0 * predicted.coverage_margin
        ));
        if let Some(p) = confirm(req, c, &target, &critical, margin_goal_mm, &mut full_runs, ctx)? {
            proposals.push(p);
            sources.push(next);
        }
    }
    if let Some(i) = roomy.filter(|i| !confirmed.contains(i))
        && !proposals.iter().any(|p| p.meets_rules)
    {
        ctx.progress
            .set_message("suggest: full model of the safest compromise");
        if let Some(p) = confirm(
            req,
            &candidates[i],
            &target,
            &critical,
            margin_goal_mm,
            &mut full_runs,
            ctx,
        )? {
            proposals.push(p);
        }
    }
    proposals.sort_by(|a, b| proposal_key(b).total_cmp(&proposal_key(a)));
    proposals.truncate(3);
    for (i, p) in proposals.iter_mut().enumerate() {
        p.rank = i + 1;
    }
    let good = proposals.iter().any(|p| p.meets_rules && p.covers_goal);
    let impossible = if good {
        Vec::new()
    } else {
        verdict::impossible(&verdict::VerdictInput {
            req,
            target: &target,
            critical: &critical,
            hard: &hard,
            margin_goal_mm,
            clear_approaches: clear.len(),
            blocked: &blocked,
            candidates: &candidates,
            proposals: &proposals,
            preview_not_full: preview_covering_but_not_full.as_ref(),
        })
    };
    Ok(Suggestion {
        modality,
        target: target.name.clone(),
        margin_goal_mm,
        compromise: !good && !proposals.is_empty(),
        proposals,
        impossible,
        approaches_clear: clear.len(),
        arrays_searched,
        full_runs,
        elapsed_s: started.elapsed().as_secs_f64(),
    })
}

/// Proposal order: rules met, goal covered; among those that cover, fewer probes first; among
/// those that do not (compromises), more coverage of the shell and the target first — a
/// compromise with one probe and a third of the shell is not better than four covering most.
/// Then the margin.
fn proposal_key(p: &Proposal) -> f64 {
    let order = if p.covers_goal {
        -(p.n_probes as f64) * 1e6 + p.coverage_target_margin * 1e4 + p.coverage_target * 1e3
    } else {
        p.coverage_target_margin * 1e6 + p.coverage_target * 1e4 - p.n_probes as f64 * 1e2
    };
    f64::from(u8::from(p.meets_rules)) * 1e9
        + f64::from(u8::from(p.covers_goal)) * 1e8
        + order
        + p.min_margin_mm.unwrap_or(-50.0).clamp(-50.0, 50.0)
}

/// Up to `n` approaches at least 40° apart, in the given order.
fn diverse_approaches(clear: &[search::Approach], n: usize) -> Vec<search::Approach> {
    let mut out: Vec<search::Approach> = Vec::new();
    for a in clear {
        if out.len() >= n {
            break;
        }
        if out
            .iter()
            .all(|b| a.direction.angle(&b.direction).to_degrees() >= 40.0)
        {
            out.push(a.clone());
        }
    }
    out
}

/// The grid of a confirmation retried after the coarse grid refused the probes (mm).
const FINE_SPACING_MM: f64 = 0.5;

/// The full model and the safety pass of one candidate (and, for IRE over the current limit, of
/// the same array at the lower voltage ratios). `None` when the model refuses the array.
fn confirm(
    req: &SuggestRequest<'_>,
    c: &Candidate,
    target: &TargetPoints,
    critical: &[CriticalPoints],
    margin_goal_mm: f64,
    full_runs: &mut usize,
    ctx: &JobCtx,
) -> Result<Option<Proposal>, SuggestError> {
    let ratios: Vec<f64> = std::iter::once(req.limits.ratio_v_per_cm)
        .chain(req.limits.lower_ratios_v_per_cm.iter().copied())
        .collect();
    let mut last = None;
    for (attempt, ratio) in ratios.iter().enumerate() {
        let plan_settings = settings_for(req, &c.probes, *ratio);
        let mut settings = plan_settings.clone();
        if let Some(s) = req.limits.confirm_spacing_mm {
            match &mut settings {
                ModelSettings::Ire { model, .. } => model.spacing_mm = model.spacing_mm.max(s),
                ModelSettings::Cryo(cs) => cs.model.spacing_mm = cs.model.spacing_mm.max(s),
            }
        }
        *full_runs += 1;
        let result = match compute(&c.probes, &settings, req.tissue, req.assets, ctx, &mut |_| {}) {
            Ok(r) => r,
            Err(e) if e.is_cancelled() => return Err(SuggestError::Cancelled),
            // A coarse grid can miss a thin electrode off the grid's nodes: a finer grid (the
            // plan's own, at most 0.5 mm) then decides.
            Err(_) => {
                *full_runs += 1;
                settings = plan_settings;
                match &mut settings {
                    ModelSettings::Ire { model, .. } => {
                        model.spacing_mm = model.spacing_mm.min(FINE_SPACING_MM)
                    }
                    ModelSettings::Cryo(cs) => cs.model.spacing_mm = cs.model.spacing_mm.min(FINE_SPACING_MM),
                }
                match compute(&c.probes, &settings, req.tissue, req.assets, ctx, &mut |_| {}) {
                    Ok(r) => r,
                    Err(e) if e.is_cancelled() => return Err(SuggestError::Cancelled),
                    Err(_) => return Ok(last),
                }
            }
        };
        if result.failure().is_some() {
            return Ok(last);
        }
        let p = judge(
            req,
            c,
            &c.probes,
            settings,
            result,
            target,
            critical,
            margin_goal_mm,
        );
        let over_current = p.current_a.is_some_and(|a| a >= req.limits.current_limit_a);
        last = Some(p);
        if !over_current || attempt + 1 == ratios.len() || *full_runs >= req.limits.max_confirmations + 2 {
            break;
        }
    }
    Ok(last)
}

/// The full model's lethal zone as coverage and margins read it (with a band, its inner
/// surface), as a point test.
fn full_zone(
    result: &ModelResult,
    settings: &ModelSettings,
) -> impl Fn(&crate::geometry::PatientPos) -> bool + use<> {
    let lethal_c = settings.lethal_isotherm_c().unwrap_or(f64::NAN);
    let zone = Zone::of_result(result, lethal_c)
        .into_iter()
        .find(|z| z.kind.is_lethal() && z.for_margins());
    move |p| {
        zone.as_ref().is_some_and(|z| {
            z.grid
                .nearest(p)
                .is_some_and(|[i, j, k]| z.inside[z.grid.index(i, j, k)])
        })
    }
}

/// A proposal from a full result.
#[allow(clippy::too_many_arguments)]
fn judge(
    req: &SuggestRequest<'_>,
    c: &Candidate,
    probes: &[Probe],
    settings: ModelSettings,
    result: ModelResult,
    target: &TargetPoints,
    critical: &[CriticalPoints],
    margin_goal_mm: f64,
) -> Proposal {
    let lethal_c = settings.lethal_isotherm_c().unwrap_or(f64::NAN);
    let in_zone = full_zone(&result, &settings);
    let (coverage_target, coverage_target_margin) = target.coverage(&in_zone);
    let mut cache = SafetyCache::default();
    let report = analyse(
        req.structure_geometry,
        req.structures,
        probes,
        Some((&result, lethal_c)),
        req.rules,
        &mut cache,
    );
    let margin_rules: Vec<&str> = req
        .rules
        .rules
        .iter()
        .filter(|r| matches!(r.check, Check::TargetMargin { .. }))
        .map(|r| r.id.as_str())
        .collect();
    let red_findings: Vec<String> = report
        .findings
        .iter()
        .filter(|f| f.light == Light::Red && !margin_rules.contains(&f.rule.as_str()))
        .map(|f| format!("{}: {}", f.rule, f.structure.as_deref().unwrap_or(&f.rule_text)))
        .collect();
    let min_margin_mm = report
        .margins
        .iter()
        .filter_map(|m| m.min_margin_mm)
        .fold(None, |a: Option<f64>, m| Some(a.map_or(m, |x| x.min(m))));
    let closest_critical = report
        .distances
        .iter()
        .filter(|d| d.kind.is_critical())
        .filter_map(|d| d.distance.as_ref().map(|x| (d.structure.clone(), x.distance_mm)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let (voltage_v, current_a) = match &result {
        ModelResult::Ire(r) => (
            Some(r.pairs.iter().map(|p| p.voltage_v).fold(0.0, f64::max)),
            Some(r.max_current_a()),
        ),
        ModelResult::Cryo(_) => (None, None),
    };
    let current_ok = current_a.is_none_or(|a| a < req.limits.current_limit_a);
    let meets_rules = red_findings.is_empty() && current_ok && c.paths.iter().all(PathCheck::is_clear);
    let covers_goal = coverage_target >= 0.999 && coverage_target_margin >= search::COVERED;
    let paths: Vec<ProposalPath> = probes
        .iter()
        .zip(&c.paths)
        .map(|(p, path)| ProposalPath {
            probe: p.label.clone(),
            entry_lps: p.entry_lps.coords.into(),
            tip_lps: p.tip_lps.coords.into(),
            depth_mm: path.skin.depth_mm,
            probe_length_mm: path.probe_length_mm,
        })
        .collect();
    let mut p = Proposal {
        rank: 0,
        probes: probes.to_vec(),
        settings,
        n_probes: probes.len(),
        spacing_mm: c.spacing_mm,
        exposure_mm: c.exposure_mm,
        in_plane_deg: c.in_plane_deg,
        cranio_caudal_deg: c.cranio_caudal_deg,
        voltage_v,
        current_a,
        coverage_target,
        coverage_target_margin,
        margin_goal_mm,
        min_margin_mm,
        closest_critical,
        paths,
        meets_rules,
        covers_goal,
        red_findings,
        why: Vec::new(),
        result: Some(result),
    };
    p.why = verdict::why(&p, c, critical);
    p
}
