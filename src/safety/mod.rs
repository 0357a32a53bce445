//! Safety analysis: zones + structures + probes + rules → findings, margins and path checks.
//!
//! Modality-agnostic: any model's zones enter as [`Zone`] (flags on an isotropic LPS grid, with a
//! [`ZoneKind`]); the rules ([`rules`], `assets/safety_rules.json`) decide which zones and
//! structure kinds they look at. One pass ([`run_safety`]) is a pure function of its inputs plus
//! a cache of the structures' distance maps keyed by structure revision ([`SafetyCache`]).
//!
//! Distances are conservative (see [`distance`]): every distance carries a best estimate (error
//! at most half a voxel diagonal of each grid) and a lower bound; rules compare the lower bound,
//! so a rule fires whenever the true distance may be below its limit — a violation is never
//! missed for structures at least one voxel diagonal thick.

pub mod distance;
pub mod entry_window;
pub mod margin;
pub mod path;
pub mod path_check;
pub mod thermal;
/// The rules moved down to `plan` (they are saved with a case); this path stays for callers.
pub mod rules {
    pub use crate::plan::rules::*;
}
/// The case shapes moved down to `plan` (they are part of a case); this path stays.
pub mod shapes {
    pub use crate::plan::shapes::*;
}
pub mod zone;

pub use crate::plan::finding::Finding;
pub use distance::{Distance, structure_structure_distance, zone_structure_distance};
pub use margin::{HistogramBin, MarginReport, SurfaceMargin, margin_report};
pub use path::{PathCollision, path_collisions};
pub use rules::{
    Check, Light, Rule, RuleModality, RuleSet, Severity, ZoneSelector, builtin_rules, load_rules,
};
pub use zone::{PreparedZone, Zone, ZoneKind};

use crate::anatomy::query::{DistanceCache, DistanceMap, VoxelBox};
use crate::anatomy::structure::{Structure, StructureKind};
use crate::geometry::{PatientPos, VolumeGeometry};
use crate::physics::band::Surface;
use crate::physics::ire::model::{IreResult, electrode_radius_mm};
use crate::plan::probe::Probe;
use rayon::prelude::*;
use serde::Serialize;
use std::sync::Arc;

/// The predicted current of one pulsed pair.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PairCurrent {
    /// e.g. "1–2".
    pub label: String,
    pub current_a: f64,
    /// Where to look (the midpoint between the pair's exposed parts).
    pub focus_lps: Option<PatientPos>,
}

impl PairCurrent {
    /// The pairs of an IRE result, labelled with the probes' labels.
    pub fn from_ire(result: &IreResult, probes: &[Probe]) -> Vec<PairCurrent> {
        result
            .pairs
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let label = |i: usize| probes.get(i).map_or_else(|| i.to_string(), |q| q.label.clone());
                let mid = |i: usize| probes.get(i)?.exposed_segment().ok().map(|s| s.midpoint());
                PairCurrent {
                    label: format!("{}–{}", label(p.a), label(p.b)),
                    // With heating: the highest current of the train (the generator's check).
                    current_a: result.pair_max_current_a(i).unwrap_or(p.current_a),
                    focus_lps: mid(p.a).zip(mid(p.b)).map(|(x, y)| nalgebra::center(&x, &y)),
                }
            })
            .collect()
    }
}

impl PairCurrent {
    /// The pulsed pairs of a full IRE result (none for cryo, nor for a preview: its coarse grid
    /// does not predict the current).
    pub fn of_result(result: &crate::physics::model::ModelResult, probes: &[Probe]) -> Vec<PairCurrent> {
        result
            .ire()
            .filter(|r| !r.preview)
            .map(|r| PairCurrent::from_ire(r, probes))
            .unwrap_or_default()
    }
}

/// The safety pass of one plan's model result, whatever the modality: its zones
/// ([`Zone::of_result`]) and pair currents against the rules. `None` for the result = nothing
/// computed yet: only the probe paths are checked, and the report says it saw no zone.
pub fn analyse(
    geometry: &VolumeGeometry,
    structures: &[Structure],
    probes: &[Probe],
    result: Option<(&crate::physics::model::ModelResult, f64)>,
    rules: &RuleSet,
    cache: &mut SafetyCache,
) -> SafetyReport {
    let zones = result.map_or_else(Vec::new, |(r, lethal_c)| Zone::of_result(r, lethal_c));
    let currents = result.map_or_else(Vec::new, |(r, _)| PairCurrent::of_result(r, probes));
    let input = SafetyInput {
        geometry,
        structures,
        zones: &zones,
        probes,
        currents: &currents,
        rules,
    };
    let mut report = run_safety(&input, cache);
    // The IRE heating's thermal dose rules read the model's fields, not a zone.
    if let Some(ire) = result.and_then(|(r, _)| r.ire()) {
        let extra = thermal::thermal_findings(geometry, structures, ire, rules);
        if !extra.is_empty() {
            report.findings.extend(extra);
            sort_findings(&mut report.findings);
            report.status = report
                .findings
                .iter()
                .map(|f| f.light)
                .max()
                .unwrap_or(Light::Green);
        }
    }
    report
}

/// Everything one pass looks at. Structures are masks on `geometry` (the CT grid).
#[derive(Clone, Copy, Debug)]
pub struct SafetyInput<'a> {
    pub geometry: &'a VolumeGeometry,
    pub structures: &'a [Structure],
    pub zones: &'a [Zone],
    pub probes: &'a [Probe],
    pub currents: &'a [PairCurrent],
    pub rules: &'a RuleSet,
}

/// Distance maps of the structures, kept between passes (recomputed after a structure edit).
#[derive(Default)]
pub struct SafetyCache {
    maps: DistanceCache,
}

impl SafetyCache {
    /// Number of cached maps.
    pub fn len(&self) -> usize {
        self.maps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.maps.is_empty()
    }
}

/// The distance of one structure to one zone.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ZoneDistance {
    pub zone: String,
    pub zone_index: usize,
    pub structure: String,
    pub structure_index: usize,
    pub kind: StructureKind,
    /// `None`: farther than `beyond_mm` (or an empty zone).
    pub distance: Option<Distance>,
    pub beyond_mm: f64,
}

/// The distance of one structure to one target (for the protective-dissection rule).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TargetDistance {
    pub target: String,
    pub target_index: usize,
    pub structure: String,
    pub structure_index: usize,
    pub kind: StructureKind,
    pub distance: Option<Distance>,
    pub beyond_mm: f64,
}

/// The result of one pass.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SafetyReport {
    /// The traffic light: the worst light of the findings.
    pub status: Light,
    /// Sorted by severity (worst first), then distance.
    pub findings: Vec<Finding>,
    /// Every zone × non-target structure.
    pub distances: Vec<ZoneDistance>,
    /// Every target × non-target structure.
    pub target_distances: Vec<TargetDistance>,
    /// Every lethal zone (or zone a margin rule looks at) × target.
    pub margins: Vec<MarginReport>,
    pub paths: Vec<PathCollision>,
    /// Distances beyond this (mm) are not resolved (outside the distance maps' crops).
    pub beyond_mm: f64,
    /// Some zone came from a fast preview.
    pub preview: bool,
    /// The zones analysed; empty = no model result yet, so "no finding" is not an all-clear.
    #[serde(skip)]
    pub zones: Vec<String>,
}

impl SafetyReport {
    /// Whether a zone was analysed: without one only the probe paths were checked, and a
    /// report with no finding means "not computed", never "clear".
    pub fn has_zone(&self) -> bool {
        !self.zones.is_empty()
    }

    /// The findings at a light.
    pub fn count(&self, light: Light) -> usize {
        self.findings.iter().filter(|f| f.light == light).count()
    }
}

/// Whether a rule of `modality` with selector `sel` applies to a zone of `kind`.
pub fn selects(sel: &ZoneSelector, modality: RuleModality, kind: ZoneKind) -> bool {
    let modality_ok = match modality {
        RuleModality::Ire => kind.is_ire(),
        RuleModality::Cryo => !kind.is_ire(),
        RuleModality::Both => true,
    };
    modality_ok
        && match sel {
            ZoneSelector::IreZone => kind.is_ire(),
            ZoneSelector::CryoIsotherm { temp_c } => kind.temp_c().is_some_and(|t| (t - temp_c).abs() <= 0.5),
            ZoneSelector::Lethal => kind.is_lethal(),
        }
}

/// Rounds a crop margin up to a multiple of 5 mm, so the cached maps serve passes whose zones
/// have slightly different grids.
fn round_up_5(mm: f64) -> f64 {
    (mm / 5.0).ceil() * 5.0
}

/// The full safety pass. Deterministic; the expensive part (structure distance maps) is cached
/// in `cache` by structure identity and revision.
pub fn run_safety(input: &SafetyInput<'_>, cache: &mut SafetyCache) -> SafetyReport {
    let g = input.geometry;
    let r_ct = distance::half_diagonal_mm(g);
    let r_zone = input.zones.iter().map(Zone::half_diagonal_mm).fold(0.0, f64::max);
    let max_probe_r = input
        .probes
        .iter()
        .map(|p| electrode_radius_mm(&p.model_id))
        .fold(0.0, f64::max);
    // Enough for every rule's limit plus both lower-bound allowances, and for path checks.
    let reach = input.rules.reach_mm().max(max_probe_r);
    let margin_mm = round_up_5(reach + 2.0 * (2.0 * r_ct + r_zone) + 2.0);
    let beyond = distance::beyond_mm(margin_mm, g);

    let structures: Vec<(usize, &Structure)> = input
        .structures
        .iter()
        .enumerate()
        .filter(|(_, s)| s.mask().dims() == g.dims && !s.mask().is_empty())
        .collect();
    let targets: Vec<usize> = (0..structures.len())
        .filter(|&n| structures[n].1.kind == StructureKind::Target)
        .collect();
    let others: Vec<usize> = (0..structures.len())
        .filter(|&n| structures[n].1.kind != StructureKind::Target)
        .collect();
    let target_boxes: Vec<([f64; 3], [f64; 3])> = targets
        .iter()
        .filter_map(|&n| crate::dicom::structset::bbox_lps_mm(structures[n].1.mask(), g))
        .map(|[lo, hi]| (lo, hi))
        .collect();

    let prepared: Vec<PreparedZone> = input
        .zones
        .par_iter()
        .map(|z| PreparedZone::new(z, &target_boxes))
        .collect();
    let targets_masks: Vec<&Structure> = targets.iter().map(|&n| structures[n].1).collect();
    let region = query_region(g, &prepared, &targets_masks, input.probes);
    let maps = structure_maps(cache, &structures, &others, g, margin_mm, region);

    let pairs: Vec<(usize, usize)> = (0..prepared.len())
        .flat_map(|z| others.iter().map(move |&s| (z, s)))
        .collect();
    let distances: Vec<ZoneDistance> = pairs
        .par_iter()
        .map(|&(z, n)| {
            let (si, s) = structures[n];
            ZoneDistance {
                zone: prepared[z].label.clone(),
                zone_index: z,
                structure: s.name.clone(),
                structure_index: si,
                kind: s.kind,
                distance: zone_structure_distance(&prepared[z], s.mask(), g, &maps[n]),
                beyond_mm: beyond,
            }
        })
        .collect();

    let tpairs: Vec<(usize, usize)> = targets
        .iter()
        .flat_map(|&t| others.iter().map(move |&s| (t, s)))
        .collect();
    let target_distances: Vec<TargetDistance> = tpairs
        .par_iter()
        .map(|&(t, n)| {
            let (ti, target) = structures[t];
            let (si, s) = structures[n];
            TargetDistance {
                target: target.name.clone(),
                target_index: ti,
                structure: s.name.clone(),
                structure_index: si,
                kind: s.kind,
                distance: structure_structure_distance(target.mask(), s.mask(), g, &maps[n]),
                beyond_mm: beyond,
            }
        })
        .collect();

    let margin_rule_zone = |kind: ZoneKind| {
        input.rules.rules.iter().any(|r| {
            r.enabled
                && matches!(&r.check, Check::TargetMargin { zone, .. } if selects(zone, r.modality, kind))
        })
    };
    let mpairs: Vec<(usize, usize)> = (0..prepared.len())
        .filter(|&z| prepared[z].surface != Surface::Outer)
        .filter(|&z| prepared[z].kind.is_lethal() || margin_rule_zone(prepared[z].kind))
        .flat_map(|z| targets.iter().map(move |&t| (z, t)))
        .collect();
    let margins: Vec<MarginReport> = mpairs
        .par_iter()
        .map(|&(z, t)| {
            let (ti, target) = structures[t];
            margin_report(&prepared[z], z, &target.name, ti, target.mask(), g)
        })
        .collect();

    let path_kinds: Vec<StructureKind> = input
        .rules
        .rules
        .iter()
        .filter(|r| r.enabled)
        .filter_map(|r| match &r.check {
            Check::PathThrough { structures } => Some(structures.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    let ppairs: Vec<(usize, usize)> = (0..input.probes.len())
        .flat_map(|p| {
            others
                .iter()
                .filter(|&&n| path_kinds.contains(&structures[n].1.kind))
                .map(move |&n| (p, n))
        })
        .collect();
    let paths: Vec<PathCollision> = ppairs
        .par_iter()
        .flat_map_iter(|&(p, n)| {
            let probe = &input.probes[p];
            let (si, s) = structures[n];
            path_collisions(probe, p, electrode_radius_mm(&probe.model_id), s, si, g, &maps[n])
        })
        .collect();

    let mut findings = Vec::new();
    for rule in input.rules.rules.iter().filter(|r| r.enabled) {
        evaluate(
            rule,
            input,
            &prepared,
            &distances,
            &target_distances,
            &margins,
            &paths,
            &mut findings,
        );
    }
    sort_findings(&mut findings);
    let status = findings.iter().map(|f| f.light).max().unwrap_or(Light::Green);
    SafetyReport {
        status,
        findings,
        distances,
        target_distances,
        margins,
        paths,
        beyond_mm: beyond,
        preview: input.zones.iter().any(|z| z.preview),
        zones: input.zones.iter().map(|z| z.label.clone()).collect(),
    }
}

/// Extra room (mm) around the query region when a structure's map is computed, so that small
/// moves of the probes or the zone reuse the cached map instead of recomputing it.
const REGION_SLACK_MM: f64 = 10.0;

/// The CT voxels where the pass queries the structures' distance maps: the zones' crops (their
/// boundary nodes), the targets (target–structure distances) and the probes' paths, each as the
/// voxels [`distance::CtFrame::nearest_clamped`] picks. `None` when there is nothing to query.
fn query_region(
    g: &VolumeGeometry,
    zones: &[PreparedZone],
    targets: &[&Structure],
    probes: &[Probe],
) -> Option<VoxelBox> {
    let ct = distance::CtFrame::new(g);
    let zone_boxes = zones
        .iter()
        .filter(|z| !z.is_empty())
        .filter_map(|z| ct.clamped_box(&[z.crop.origin_lps, z.crop.last_node_lps()]));
    let target_boxes = targets.iter().filter_map(|t| t.mask().bounding_box());
    let probe_boxes = probes
        .iter()
        .filter_map(|p| ct.clamped_box(&[p.entry_lps, p.tip_lps]));
    zone_boxes
        .chain(target_boxes)
        .chain(probe_boxes)
        .reduce(|(alo, ahi), (blo, bhi)| {
            (
                [0, 1, 2].map(|a| alo[a].min(blo[a])),
                [0, 1, 2].map(|a| ahi[a].max(bhi[a])),
            )
        })
}

/// The distance map of every structure in `wanted` (the others get an empty map, which nothing
/// queries): cached ones that cover `region`, the rest computed in parallel for `region` grown by
/// [`REGION_SLACK_MM`] and kept in the cache.
fn structure_maps(
    cache: &mut SafetyCache,
    structures: &[(usize, &Structure)],
    wanted: &[usize],
    g: &VolumeGeometry,
    margin_mm: f64,
    region: Option<VoxelBox>,
) -> Vec<Arc<DistanceMap>> {
    let empty = Arc::new(DistanceMap::new_within(
        &crate::anatomy::mask::Mask::empty(g.dims),
        g.spacing_mm,
        Some(margin_mm),
        None,
        false,
    ));
    let Some(region) = region else {
        return vec![empty; structures.len()];
    };
    let slack = region_with_slack(region, g);
    let found: Vec<Option<Arc<DistanceMap>>> = structures
        .iter()
        .enumerate()
        .map(|(n, (_, s))| {
            if !wanted.contains(&n) {
                return Some(empty.clone());
            }
            cache
                .maps
                .lookup(s.uid(), s.revision(), Some(margin_mm), Some(region), false)
        })
        .collect();
    let maps: Vec<Arc<DistanceMap>> = structures
        .par_iter()
        .zip(found)
        .map(|((_, s), hit)| {
            hit.unwrap_or_else(|| {
                Arc::new(DistanceMap::new_within(
                    s.mask(),
                    g.spacing_mm,
                    Some(margin_mm),
                    Some(slack),
                    false,
                ))
            })
        })
        .collect();
    for (n, (_, s)) in structures.iter().enumerate() {
        if wanted.contains(&n) {
            cache.maps.insert(s.uid(), s.revision(), maps[n].clone());
        }
    }
    maps
}

/// `region` grown by [`REGION_SLACK_MM`] on every side, clipped to the grid.
fn region_with_slack((lo, hi): VoxelBox, g: &VolumeGeometry) -> VoxelBox {
    let grow = |a: usize| (REGION_SLACK_MM / g.spacing_mm[a]).ceil() as usize;
    (
        [0, 1, 2].map(|a| lo[a].saturating_sub(grow(a))),
        [0, 1, 2].map(|a| (hi[a] + grow(a)).min(g.dims[a].saturating_sub(1))),
    )
}

/// Worst first; then nearest; then by rule, structure and zone (deterministic).
fn sort_findings(f: &mut [Finding]) {
    f.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(
                a.distance_lower_mm
                    .unwrap_or(f64::INFINITY)
                    .total_cmp(&b.distance_lower_mm.unwrap_or(f64::INFINITY)),
            )
            .then_with(|| a.rule.cmp(&b.rule))
            .then_with(|| a.structure.cmp(&b.structure))
            .then_with(|| a.zone.cmp(&b.zone))
            .then_with(|| a.probe.cmp(&b.probe))
    });
}

pub(crate) fn blank(rule: &Rule) -> Finding {
    Finding {
        severity: rule.severity,
        light: rule.severity.light(),
        rule: rule.id.clone(),
        rule_text: rule.text.clone(),
        source: rule.source.clone(),
        structure: None,
        structure_index: None,
        kind: None,
        zone: None,
        zone_index: None,
        probe: None,
        probe_index: None,
        distance_mm: None,
        distance_lower_mm: None,
        error_bound_mm: None,
        overlap_ml: None,
        limit: None,
        gain_mm: None,
        path_from_entry_mm: None,
        current_a: None,
        caliper_lps: None,
        focus_lps: None,
        probe_indices: Vec::new(),
        value: None,
        message: String::new(),
    }
}

fn with_distance(mut f: Finding, zd: &ZoneDistance, d: &Distance) -> Finding {
    f.structure = Some(zd.structure.clone());
    f.structure_index = Some(zd.structure_index);
    f.kind = Some(zd.kind);
    f.zone = Some(zd.zone.clone());
    f.zone_index = Some(zd.zone_index);
    f.distance_mm = Some(d.distance_mm);
    f.distance_lower_mm = Some(d.lower_mm);
    f.error_bound_mm = Some(d.error_bound_mm);
    f.overlap_ml = Some(d.overlap_ml);
    f.caliper_lps = Some([d.from_lps, d.to_lps]);
    f.focus_lps = Some(nalgebra::center(&d.from_lps, &d.to_lps));
    f
}

/// "3.2 mm from IRE zone (could be 0.1 mm at this voxel size)" or "inside IRE zone, 2.1 mm
/// deep, 0.35 mL".
fn describe(d: &Distance, zone: &str) -> String {
    if d.overlaps() {
        format!(
            "inside {zone}: {:.1} mm deep, {:.2} mL",
            -d.distance_mm, d.overlap_ml
        )
    } else {
        format!(
            "{:.1} mm from {zone} (could be as close as {:.1} mm at this voxel size)",
            d.distance_mm,
            d.lower_mm.max(0.0)
        )
    }
}

#[allow(clippy::too_many_arguments)] // one call site; the pass's intermediate results
fn evaluate(
    rule: &Rule,
    input: &SafetyInput<'_>,
    zones: &[PreparedZone],
    distances: &[ZoneDistance],
    target_distances: &[TargetDistance],
    margins: &[MarginReport],
    paths: &[PathCollision],
    out: &mut Vec<Finding>,
) {
    // Distances to structures are measured from the outer surface of a zone's uncertainty band,
    // coverage and margins on the inner one (a zone without a band is both).
    let zone_ok = |z: usize, sel: &ZoneSelector| {
        zones
            .get(z)
            .is_some_and(|p| p.surface != Surface::Inner && selects(sel, rule.modality, p.kind))
    };
    let margin_zone_ok = |z: usize, sel: &ZoneSelector| {
        zones
            .get(z)
            .is_some_and(|p| p.surface != Surface::Outer && selects(sel, rule.modality, p.kind))
    };
    match &rule.check {
        Check::ZoneDistance {
            zone,
            structures,
            below_mm,
        } => {
            for zd in distances
                .iter()
                .filter(|zd| zone_ok(zd.zone_index, zone) && structures.contains(&zd.kind))
            {
                let Some(d) = &zd.distance else { continue };
                if d.lower_mm < below_mm.value {
                    let mut f = with_distance(blank(rule), zd, d);
                    f.limit = Some(below_mm.value);
                    f.message = format!(
                        "{} ({}) {} — limit {} mm",
                        zd.structure,
                        zd.kind.label(),
                        describe(d, &zd.zone),
                        below_mm.value
                    );
                    out.push(f);
                }
            }
        }
        Check::InsideZone { zone, structures } => {
            for zd in distances
                .iter()
                .filter(|zd| zone_ok(zd.zone_index, zone) && structures.contains(&zd.kind))
            {
                let Some(d) = &zd.distance else { continue };
                if d.lower_mm <= 0.0 {
                    let mut f = with_distance(blank(rule), zd, d);
                    f.limit = Some(0.0);
                    let what = if d.overlaps() {
                        describe(d, &zd.zone)
                    } else {
                        format!(
                            "may touch {} at this voxel size ({})",
                            zd.zone,
                            describe(d, &zd.zone)
                        )
                    };
                    f.message = format!("{} ({}) {what}", zd.structure, zd.kind.label());
                    out.push(f);
                }
            }
        }
        Check::Dissection {
            zone,
            structures,
            within_mm,
            goal_mm,
        } => {
            for zd in distances
                .iter()
                .filter(|zd| zone_ok(zd.zone_index, zone) && structures.contains(&zd.kind))
            {
                let to_target = target_distances
                    .iter()
                    .filter(|t| t.structure_index == zd.structure_index)
                    .filter_map(|t| t.distance)
                    .min_by(|a, b| a.lower_mm.total_cmp(&b.lower_mm));
                let near_zone = zd.distance.filter(|d| d.lower_mm < within_mm.value);
                let near_target = to_target.filter(|d| d.lower_mm < within_mm.value);
                if near_zone.is_none() && near_target.is_none() {
                    continue;
                }
                // The gain is measured against the zone (the study: iceball to organ ≥ 5 mm).
                let gain = zd.distance.map_or(0.0, |d| (goal_mm.value - d.lower_mm).max(0.0));
                let mut f = match (&zd.distance, near_target) {
                    (Some(d), _) if near_zone.is_some() => with_distance(blank(rule), zd, d),
                    (_, Some(t)) => {
                        let mut f = blank(rule);
                        f.structure = Some(zd.structure.clone());
                        f.structure_index = Some(zd.structure_index);
                        f.kind = Some(zd.kind);
                        f.zone = Some(zd.zone.clone());
                        f.zone_index = Some(zd.zone_index);
                        f.distance_mm = zd.distance.map(|d| d.distance_mm);
                        f.distance_lower_mm = zd.distance.map(|d| d.lower_mm);
                        f.error_bound_mm = Some(t.error_bound_mm);
                        f.caliper_lps = Some([t.from_lps, t.to_lps]);
                        f.focus_lps = Some(nalgebra::center(&t.from_lps, &t.to_lps));
                        f
                    }
                    _ => continue,
                };
                f.limit = Some(within_mm.value);
                f.gain_mm = Some(gain);
                let target_part = near_target
                    .map(|t| format!("; {:.1} mm from the target", t.distance_mm))
                    .unwrap_or_default();
                let zone_part = zd.distance.map_or_else(
                    || format!("beyond {:.0} mm of {}", zd.beyond_mm, zd.zone),
                    |d| describe(&d, &zd.zone),
                );
                f.message = format!(
                    "{} ({}) {zone_part}{target_part} — within {} mm: dissect to gain {:.1} mm (conservative; goal {} mm from the {})",
                    zd.structure,
                    zd.kind.label(),
                    within_mm.value,
                    gain,
                    goal_mm.value,
                    zd.zone
                );
                out.push(f);
            }
        }
        Check::TargetMargin { zone, margin_mm } => {
            for m in margins.iter().filter(|m| margin_zone_ok(m.zone_index, zone)) {
                let fires = m.min_margin_lower_mm.is_none_or(|l| l < margin_mm.value);
                if !fires {
                    continue;
                }
                let mut f = blank(rule);
                f.structure = Some(m.target.clone());
                f.structure_index = Some(m.target_index);
                f.kind = Some(StructureKind::Target);
                f.zone = Some(m.zone.clone());
                f.zone_index = Some(m.zone_index);
                f.distance_mm = m.min_margin_mm;
                f.distance_lower_mm = m.min_margin_lower_mm;
                f.error_bound_mm = Some(m.error_bound_mm);
                f.limit = Some(margin_mm.value);
                if let (Some(t), Some(z)) = (m.min_target_lps, m.min_zone_lps) {
                    f.caliper_lps = Some([z, t]);
                }
                f.focus_lps = m.min_target_lps;
                f.message = match m.min_margin_mm {
                    None => format!("{}: {} is empty — the target is not covered", m.target, m.zone),
                    Some(mm) => format!(
                        "{}: minimal margin {:.1} mm in {} (target surface to zone edge; could be {:.1} mm at \
                         this voxel size), {} of the target's volume covered, {:.0} % of its surface below {} mm",
                        m.target,
                        mm,
                        m.zone,
                        mm - m.error_bound_mm,
                        margin::coverage_text(m.coverage),
                        100.0 * m.surface_fraction_below(margin_mm.value),
                        margin_mm.value
                    ),
                };
                out.push(f);
            }
        }
        Check::CurrentAbove { above_a } => {
            if rule.modality == RuleModality::Cryo {
                return;
            }
            for c in input.currents.iter().filter(|c| c.current_a > above_a.value) {
                let mut f = blank(rule);
                f.current_a = Some(c.current_a);
                f.limit = Some(above_a.value);
                f.focus_lps = c.focus_lps;
                f.message = format!(
                    "pair {}: predicted {:.1} A, above the {} A limit",
                    c.label, c.current_a, above_a.value
                );
                out.push(f);
            }
        }
        Check::PathThrough { structures } => {
            for c in paths.iter() {
                let Some(s) = input.structures.get(c.structure_index) else {
                    continue;
                };
                if !structures.contains(&s.kind) {
                    continue;
                }
                let mut f = blank(rule);
                f.structure = Some(c.structure.clone());
                f.structure_index = Some(c.structure_index);
                f.kind = Some(s.kind);
                f.probe = Some(c.probe.clone());
                f.probe_index = Some(c.probe_index);
                f.path_from_entry_mm = Some(c.from_entry_mm);
                f.caliper_lps = Some([c.enter_lps, c.exit_lps]);
                f.focus_lps = Some(nalgebra::center(&c.enter_lps, &c.exit_lps));
                f.message = format!(
                    "probe {} {} {} ({}) from {:.1} to {:.1} mm along the path from the entry",
                    c.probe,
                    if c.through {
                        "passes through"
                    } else {
                        "passes within a voxel of"
                    },
                    c.structure,
                    s.kind.label(),
                    c.from_entry_mm[0],
                    c.from_entry_mm[1]
                );
                out.push(f);
            }
        }
        // Evaluated on the heating's fields by `analyse` (`thermal::thermal_findings`).
        Check::ThermalDose { .. } => {}
    }
}
