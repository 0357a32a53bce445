//! The `compute` report of a case (JSON keys stable and documented in the README; golden tests
//! keep them): the zone or the isotherms, the pairs or the probes, the solver, the findings and
//! margins of the safety pass. Built from the pipeline's [`LoadedCase`], the model's result and
//! the safety report, the same for every face (CLI, tests, benches).

use std::path::PathBuf;

use nalgebra::Vector3;
use serde::Serialize;

use super::load::{ComputeOverrides, LoadedCase};
use crate::anatomy::structure::{Structure, StructureKind};
use crate::geometry::PatientPos;
use crate::physics::cryo::model::{CryoResult, CryoSettings, iceball_axes};
use crate::physics::ire::model::{IreResult, ZoneCriterion};
use crate::physics::model::ModelAssets;
use crate::plan::ire::{CURRENT_LIMIT_A, ElectrodePair};
use crate::plan::probe::Probe;
use crate::safety::{Finding, Light, SafetyReport};

/// Version of the `compute --json` report (keys documented in the README).
pub const COMPUTE_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct ComputeReport {
    pub schema_version: u32,
    pub case: ComputeCaseInfo,
    /// The command-line overrides applied (`null` / `false` when not given).
    pub overrides: ComputeOverrides,
    pub model: ComputeModelInfo,
    pub zone: ComputeZone,
    pub pairs: Vec<ComputePair>,
    pub solver: ComputeSolver,
    /// The electro-thermal model (issue 13): per-pair currents over the train, peak temperatures,
    /// thermal dose and the thermal damage zone; absent when the model ran without heating.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heating: Option<ComputeHeating>,
    /// Safety findings (`crate::safety`), worst first: severity, rule, structure, kind, zone,
    /// distance_mm (best estimate; negative = inside the zone), distance_lower_mm (what the rule
    /// compared), source, message, caliper points.
    pub findings: Vec<Finding>,
    /// Coverage and signed minimal ablative margin of every Target by the lethal zone.
    pub margins: Vec<ComputeMargin>,
    pub safety: ComputeSafety,
    pub warnings: Vec<String>,
}

/// Coverage and margin of one target (the full per-surface distribution stays in the library).
#[derive(Debug, Serialize)]
pub struct ComputeMargin {
    pub zone: String,
    pub target: String,
    /// Fraction of the target's voxels inside the zone.
    pub coverage: f64,
    /// Signed minimal ablative margin (mm), negative where the target sticks out; `null` for an
    /// empty zone.
    pub min_margin_mm: Option<f64>,
    /// `min_margin_mm − error_bound_mm` (what the margin rules compare).
    pub min_margin_lower_mm: Option<f64>,
    pub error_bound_mm: f64,
    /// Fraction of the target surface with a margin below 5 mm.
    pub surface_below_5mm: f64,
    pub surface_voxels: usize,
}

/// The safety pass as a whole.
#[derive(Debug, Serialize)]
pub struct ComputeSafety {
    /// "green", "amber" or "red": the worst finding.
    pub status: Light,
    /// "built-in" or "case".
    pub rules: String,
    /// The structures analysed: name and kind.
    pub structures: Vec<ComputeStructure>,
    /// Distances beyond this (mm) are not resolved.
    pub beyond_mm: f64,
}

#[derive(Debug, Serialize)]
pub struct ComputeStructure {
    pub name: String,
    pub kind: StructureKind,
    pub volume_ml: f64,
}

#[derive(Debug, Serialize)]
pub struct ComputeCaseInfo {
    pub path: PathBuf,
    pub name: String,
    pub description: String,
    pub schema_version: u32,
    /// "phantom" or "dicom".
    pub source_kind: String,
    /// One line: the phantom's tissue and size, or the DICOM path and series.
    pub source: String,
}

#[derive(Debug, Serialize)]
pub struct ComputeModelInfo {
    pub description: String,
    pub nonlinear: bool,
    pub zone_criterion: ZoneCriterion,
    pub preview: bool,
    pub grid: ComputeGridInfo,
}

#[derive(Debug, Serialize)]
pub struct ComputeGridInfo {
    /// Nodes along L, P, S.
    pub dims: [usize; 3],
    pub spacing_mm: f64,
    /// LPS position of node (0, 0, 0), mm.
    pub origin_lps: [f64; 3],
    pub nodes: usize,
}

#[derive(Debug, Serialize)]
pub struct ComputeZone {
    pub volume_ml: f64,
    pub extents_mm: ZoneExtents,
    /// The unit LPS directions the extents are measured along.
    pub axes_lps: ZoneAxes,
    /// Uncertainty band (issue 13): inner / nominal / outer volume and extents, and the
    /// parameters whose calibrated ranges made it; absent when the model ran without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub band: Option<crate::physics::band::BandSummary>,
}

#[derive(Debug, Serialize, Clone, Copy, PartialEq)]
pub struct ZoneExtents {
    pub probe_axis: f64,
    pub pair_axis: f64,
    pub perpendicular: f64,
}

#[derive(Debug, Serialize, Clone, Copy, PartialEq)]
pub struct ZoneAxes {
    /// The first probe's insertion direction (entry → tip).
    pub probe_axis: [f64; 3],
    /// From the first pair's anode to its cathode (exposed-part midpoints), made perpendicular to
    /// the probe axis.
    pub pair_axis: [f64; 3],
    /// probe_axis × pair_axis.
    pub perpendicular: [f64; 3],
}

#[derive(Debug, Serialize)]
pub struct ComputePair {
    /// Probe indices (0-based, as in the case file); `a` is the anode.
    pub a: usize,
    pub b: usize,
    pub a_label: String,
    pub b_label: String,
    pub voltage_v: f64,
    pub spacing_mm: f64,
    pub current_a: f64,
    /// `current_a` above the generator's limit (`current_limit_a`).
    pub over_limit: bool,
    pub current_limit_a: f64,
    /// Running maximum |E| over all pairs at the midpoint between the two exposed-part midpoints
    /// (V/cm); `null` outside the grid. For two long parallel electrodes this is the closed
    /// form's E_mid.
    pub midpoint_max_e_v_per_cm: Option<f64>,
    pub linear_iterations: usize,
    pub nonlinear_iterations: usize,
    pub converged: bool,
}

/// The `heating` block of an IRE report.
#[derive(Debug, Serialize)]
pub struct ComputeHeating {
    /// Pulses per pair, width (µs), rate (per minute), simulated time incl. the cool-down (s).
    pub pulses: u32,
    pub pulse_width_us: f64,
    pub pulse_rate_per_min: f64,
    pub duration_s: f64,
    /// Body (start) temperature and the hottest node of the plan (°C, one pulse's spike
    /// included).
    pub initial_temperature_c: f64,
    pub max_temperature_c: f64,
    pub max_cem43_min: f64,
    /// The thermal damage zone: CEM43 at or above `damage_cem43_min`.
    pub damage: ComputeThermalDamage,
    /// Per pair, in the order pulsed.
    pub pairs: Vec<ComputeHeatingPair>,
    /// Electrical energy of all pulses and the Joule heat the heat grid received (J).
    pub electrical_energy_j: f64,
    pub source_energy_j: f64,
    pub elapsed_s: f64,
}

#[derive(Debug, Serialize)]
pub struct ComputeThermalDamage {
    pub damage_cem43_min: f64,
    pub volume_ml: f64,
    pub extents_mm: ZoneExtents,
}

#[derive(Debug, Serialize)]
pub struct ComputeHeatingPair {
    pub a_label: String,
    pub b_label: String,
    pub initial_current_a: f64,
    pub final_current_a: f64,
    /// The highest current of the train against the generator's limit.
    pub over_limit: bool,
    pub peak_temperature_c: f64,
    pub energy_j: f64,
}

#[derive(Debug, Serialize)]
pub struct ComputeSolver {
    pub linear_iterations: usize,
    /// Sum over the pairs.
    pub nonlinear_iterations: usize,
    /// Every pair converged.
    pub converged: bool,
    /// The model's own time (s).
    pub elapsed_s: f64,
    /// Loading the case (and the DICOM series) plus the model (s).
    pub total_s: f64,
}

/// The three directions the zone extents are measured along: the first probe's axis, the first
/// pair's anode → cathode direction made perpendicular to it, and their cross product. When the
/// pair lies along the probe axis (no in-plane direction) any perpendicular is used, with a
/// warning.
pub fn zone_axes(probes: &[Probe], pair: &ElectrodePair) -> Option<(ZoneAxes, Option<String>)> {
    let probe_axis = probes.first()?.axis().ok()?;
    let (pa, pb) = (probes.get(pair.a)?, probes.get(pair.b)?);
    let d = pb.exposed_segment().ok()?.midpoint() - pa.exposed_segment().ok()?.midpoint();
    let in_plane = d - probe_axis * probe_axis.dot(&d);
    let (pair_axis, warning) = match in_plane.try_normalize(1e-9) {
        Some(u) => (u, None),
        None => {
            // Any direction perpendicular to the axis: the LPS axis least aligned with it.
            let helper = [Vector3::x(), Vector3::y(), Vector3::z()]
                .into_iter()
                .min_by(|a, b| probe_axis.dot(a).abs().total_cmp(&probe_axis.dot(b).abs()))
                .unwrap_or_else(Vector3::x);
            let u = (helper - probe_axis * probe_axis.dot(&helper)).normalize();
            (
                u,
                Some(format!(
                    "the first pair ({}–{}) lies along the probe axis: pair_axis is an arbitrary \
                     perpendicular",
                    pa.label, pb.label
                )),
            )
        }
    };
    let perpendicular = probe_axis.cross(&pair_axis);
    Some((
        ZoneAxes {
            probe_axis: probe_axis.into(),
            pair_axis: pair_axis.into(),
            perpendicular: perpendicular.into(),
        },
        warning,
    ))
}

/// The `safety` block of a compute report.
pub fn safety_summary(
    safety: &SafetyReport,
    rules_origin: &str,
    structures: &[Structure],
    geometry: &crate::geometry::VolumeGeometry,
) -> ComputeSafety {
    ComputeSafety {
        status: safety.status,
        rules: rules_origin.to_string(),
        structures: structures
            .iter()
            .map(|s| ComputeStructure {
                name: s.name.clone(),
                kind: s.kind,
                volume_ml: s.volume_ml(geometry.spacing_mm),
            })
            .collect(),
        beyond_mm: safety.beyond_mm,
    }
}

/// Coverage and margin of every target, as reported.
pub fn compute_margins(safety: &SafetyReport) -> Vec<ComputeMargin> {
    safety
        .margins
        .iter()
        .map(|m| ComputeMargin {
            zone: m.zone.clone(),
            target: m.target.clone(),
            coverage: m.coverage,
            min_margin_mm: m.min_margin_mm,
            min_margin_lower_mm: m.min_margin_lower_mm,
            error_bound_mm: m.error_bound_mm,
            surface_below_5mm: m.surface_fraction_below(5.0),
            surface_voxels: m.surface.len(),
        })
        .collect()
}

/// The report of an IRE result (safety filled in by [`CaseReport::with_safety`]).
pub fn ire_report(
    loaded: &LoadedCase,
    overrides: &ComputeOverrides,
    r: &IreResult,
    axes: ZoneAxes,
    mut warnings: Vec<String>,
    total_s: f64,
) -> ComputeReport {
    let case = &loaded.case;
    let [e0, e1, e2] = r.zone_extents_mm([
        Vector3::from(axes.probe_axis),
        Vector3::from(axes.pair_axis),
        Vector3::from(axes.perpendicular),
    ]);
    let label = |i: usize| case.probes.get(i).map(|p| p.label.clone()).unwrap_or_default();
    let midpoint = |a: usize, b: usize| -> Option<PatientPos> {
        let sa = case.probes.get(a)?.exposed_segment().ok()?.midpoint();
        let sb = case.probes.get(b)?.exposed_segment().ok()?.midpoint();
        Some(nalgebra::center(&sa, &sb))
    };
    let pairs: Vec<ComputePair> = r
        .pairs
        .iter()
        .map(|p| ComputePair {
            a: p.a,
            b: p.b,
            a_label: label(p.a),
            b_label: label(p.b),
            voltage_v: p.voltage_v,
            spacing_mm: p.spacing_mm,
            current_a: p.current_a,
            over_limit: p.over_limit,
            current_limit_a: CURRENT_LIMIT_A,
            midpoint_max_e_v_per_cm: midpoint(p.a, p.b).and_then(|m| r.max_e_at(&m)).map(f64::from),
            linear_iterations: p.linear_iterations,
            nonlinear_iterations: p.nonlinear_iterations,
            converged: p.converged,
        })
        .collect();
    for p in pairs.iter().filter(|p| p.over_limit) {
        warnings.push(format!(
            "pair {}–{}: predicted {:.1} A is above the {CURRENT_LIMIT_A} A limit — reduce the voltage, \
             reduce the exposure or widen the spacing",
            p.a_label, p.b_label, p.current_a
        ));
    }
    for p in pairs.iter().filter(|p| !p.converged) {
        warnings.push(format!(
            "pair {}–{}: the solver did not converge",
            p.a_label, p.b_label
        ));
    }
    let heating = r.heating.as_ref().map(|h| {
        let [d0, d1, d2] = crate::physics::ire::zone::extents_mm(
            &r.grid,
            &h.damage_zone,
            [
                Vector3::from(axes.probe_axis),
                Vector3::from(axes.pair_axis),
                Vector3::from(axes.perpendicular),
            ],
        );
        ComputeHeating {
            pulses: case.effective_ire().pulses,
            pulse_width_us: case.effective_ire().pulse_width_us,
            pulse_rate_per_min: case.effective_ire().pulse_rate_per_min,
            duration_s: h.duration_s,
            initial_temperature_c: h.initial_temperature_c,
            max_temperature_c: h.max_temperature_c(),
            max_cem43_min: h.max_cem43_min(),
            damage: ComputeThermalDamage {
                damage_cem43_min: h.damage_cem43_min,
                volume_ml: h.damage_volume_ml,
                extents_mm: ZoneExtents {
                    probe_axis: d0,
                    pair_axis: d1,
                    perpendicular: d2,
                },
            },
            pairs: h
                .pairs
                .iter()
                .map(|p| ComputeHeatingPair {
                    a_label: label(p.a),
                    b_label: label(p.b),
                    initial_current_a: p.initial_current_a,
                    final_current_a: p.final_current_a,
                    over_limit: p.max_current_a() > CURRENT_LIMIT_A,
                    peak_temperature_c: p.peak_temperature_c,
                    energy_j: p.energy_j,
                })
                .collect(),
            electrical_energy_j: h.electrical_energy_j,
            source_energy_j: h.source_energy_j,
            elapsed_s: h.elapsed_s,
        }
    });
    if let Some(h) = &heating {
        for p in h.pairs.iter().filter(|p| p.over_limit) {
            warnings.push(format!(
                "pair {}–{}: the current rises to {:.1} A over the pulse train (heating), above the \
                 {CURRENT_LIMIT_A} A limit",
                p.a_label,
                p.b_label,
                p.initial_current_a.max(p.final_current_a)
            ));
        }
    }
    let g = &r.grid;
    ComputeReport {
        schema_version: COMPUTE_SCHEMA_VERSION,
        case: ComputeCaseInfo::of(loaded),
        overrides: overrides.clone(),
        model: ComputeModelInfo {
            description: r.description.clone(),
            nonlinear: case.model.nonlinear,
            zone_criterion: case.model.zone.clone(),
            preview: r.preview,
            grid: grid_info(g),
        },
        zone: ComputeZone {
            volume_ml: r.zone_volume_ml,
            extents_mm: ZoneExtents {
                probe_axis: e0,
                pair_axis: e1,
                perpendicular: e2,
            },
            axes_lps: axes,
            band: r.band.as_ref().map(|b| {
                b.summary([
                    Vector3::from(axes.probe_axis),
                    Vector3::from(axes.pair_axis),
                    Vector3::from(axes.perpendicular),
                ])
            }),
        },
        solver: ComputeSolver {
            linear_iterations: r.linear_iterations,
            nonlinear_iterations: pairs.iter().map(|p| p.nonlinear_iterations).sum(),
            converged: pairs.iter().all(|p| p.converged),
            elapsed_s: r.elapsed_s,
            total_s,
        },
        pairs,
        heating,
        findings: Vec::new(),
        margins: Vec::new(),
        safety: empty_safety(),
        warnings,
    }
}

/// Human-readable form of a compute report.
pub fn format_compute(r: &ComputeReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", r.case.name, r.case.path.display());
    let _ = writeln!(out, "  {}", r.case.source);
    let _ = writeln!(out, "Model: {}", r.model.description);
    let g = &r.model.grid;
    let _ = writeln!(
        out,
        "  grid {} × {} × {} nodes at {} mm, origin LPS ({:.1}, {:.1}, {:.1}) mm",
        g.dims[0], g.dims[1], g.dims[2], g.spacing_mm, g.origin_lps[0], g.origin_lps[1], g.origin_lps[2]
    );
    let _ = writeln!(out, "Zone: {:.2} mL", r.zone.volume_ml);
    let e = &r.zone.extents_mm;
    let _ = writeln!(
        out,
        "  extents: {:.1} mm along the probe axis, {:.1} mm along the pair axis, {:.1} mm perpendicular",
        e.probe_axis, e.pair_axis, e.perpendicular
    );
    let _ = writeln!(out, "Pairs (current limit {CURRENT_LIMIT_A} A):");
    for p in &r.pairs {
        let e_mid = p
            .midpoint_max_e_v_per_cm
            .map(|e| format!(", |E| at the midpoint {e:.0} V/cm"))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}–{}: {:.0} V, {:.1} mm, {:.1} A {}{e_mid}; {} linear / {} nonlinear iterations{}",
            p.a_label,
            p.b_label,
            p.voltage_v,
            p.spacing_mm,
            p.current_a,
            if p.over_limit { "OVER THE LIMIT" } else { "ok" },
            p.linear_iterations,
            p.nonlinear_iterations,
            if p.converged { "" } else { ", NOT CONVERGED" }
        );
    }
    if let Some(h) = &r.heating {
        let _ = writeln!(
            out,
            "Heating: {} × {:.0} µs per pair at {:.0}/min, {:.0} s simulated: peak {:.1} °C (from {:.1} °C), \
             thermal dose up to {:.1} CEM43 min",
            h.pulses,
            h.pulse_width_us,
            h.pulse_rate_per_min,
            h.duration_s,
            h.max_temperature_c,
            h.initial_temperature_c,
            h.max_cem43_min
        );
        let d = &h.damage;
        let _ = writeln!(
            out,
            "  thermal damage zone (CEM43 ≥ {:.0} min): {:.3} mL, {:.1} × {:.1} × {:.1} mm (probe axis, pair axis, \
             perpendicular)",
            d.damage_cem43_min,
            d.volume_ml,
            d.extents_mm.probe_axis,
            d.extents_mm.pair_axis,
            d.extents_mm.perpendicular
        );
        for p in &h.pairs {
            let _ = writeln!(
                out,
                "  {}–{}: current {:.1} A → {:.1} A over the train {}, peak {:.1} °C, {:.0} J",
                p.a_label,
                p.b_label,
                p.initial_current_a,
                p.final_current_a,
                if p.over_limit { "OVER THE LIMIT" } else { "ok" },
                p.peak_temperature_c,
                p.energy_j
            );
        }
    }
    let s = &r.solver;
    let _ = writeln!(
        out,
        "Solver: {} linear iterations, {} nonlinear iterations, {:.2} s (total {:.2} s)",
        s.linear_iterations, s.nonlinear_iterations, s.elapsed_s, s.total_s
    );
    format_safety(&mut out, &r.margins, &r.findings, &r.safety);
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

/// The margins, the safety status and the findings, one line each (both modalities).
pub fn format_safety(
    out: &mut String,
    margins: &[ComputeMargin],
    findings: &[Finding],
    safety: &ComputeSafety,
) {
    use std::fmt::Write;
    for m in margins {
        let margin = m.min_margin_mm.map_or_else(
            || "none (empty zone)".to_string(),
            |v| format!("{v:.1} mm (± {:.1})", m.error_bound_mm),
        );
        let _ = writeln!(
            out,
            "Margin of {} in the {}: {:.0} % covered, minimal margin {margin}, {:.0} % of the surface below 5 mm",
            m.target,
            m.zone,
            100.0 * m.coverage,
            100.0 * m.surface_below_5mm
        );
    }
    if !safety.structures.is_empty() || !findings.is_empty() {
        let _ = writeln!(
            out,
            "Safety ({} rules, {} structures): {:?}, {} finding(s)",
            safety.rules,
            safety.structures.len(),
            safety.status,
            findings.len()
        );
    }
    for f in findings {
        let _ = writeln!(out, "  [{}] {} ({})", f.severity.label(), f.message, f.rule);
    }
}

/// Version of the cryo `compute --json` report (keys documented in the README).
pub const CRYO_COMPUTE_SCHEMA_VERSION: u32 = 1;

/// The `compute` report of a cryo case.
#[derive(Debug, Serialize)]
pub struct CryoComputeReport {
    pub schema_version: u32,
    /// Always "cryo" (IRE reports have no `modality` key).
    pub modality: String,
    pub case: ComputeCaseInfo,
    pub overrides: ComputeOverrides,
    pub model: CryoComputeModel,
    /// The directions extents are measured along: the first probe's axis, the axis between the
    /// first two probes' active midpoints (made perpendicular; any perpendicular with one probe),
    /// and their cross product.
    pub axes_lps: ZoneAxes,
    /// When the isotherms are reported: the end of the last freeze (s).
    pub reported_at_s: f64,
    /// 0, −20, −40 °C, the lethal isotherm and the user's, at `reported_at_s`.
    pub isotherms: Vec<CryoComputeIsotherm>,
    /// Tissue whose lowest temperature over the whole protocol reached the lethal isotherm.
    pub lethal_zone: CryoComputeIsotherm,
    /// `zone.band`: the uncertainty band of the lethal zone and the 0 °C iceball
    /// (`physics::cryo::band::CryoBandSummary`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<crate::physics::cryo::band::CryoZoneSummary>,
    pub probes: Vec<CryoComputeProbe>,
    pub energy: CryoComputeEnergy,
    pub solver: CryoComputeSolver,
    /// Safety findings of the 0 °C iceball, the −20 °C and the lethal isotherm at their largest
    /// extent over the protocol, worst first (same keys as the IRE report's `findings`).
    pub findings: Vec<Finding>,
    /// Coverage and signed minimal ablative margin of every Target by the lethal zone.
    pub margins: Vec<ComputeMargin>,
    pub safety: ComputeSafety,
    pub warnings: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CryoComputeModel {
    pub description: String,
    pub protocol: String,
    pub protocol_total_s: f64,
    pub lethal_isotherm_c: f64,
    /// Initial temperature of a phantom (°C; a CT starts at the arterial temperature).
    pub initial_temperature_c: f64,
    pub grid: ComputeGridInfo,
}

#[derive(Debug, Serialize)]
pub struct CryoComputeIsotherm {
    pub temperature_c: f64,
    pub volume_ml: f64,
    pub extents_mm: ZoneExtents,
}

#[derive(Debug, Serialize)]
pub struct CryoComputeProbe {
    pub label: String,
    pub model_id: String,
    pub active_length_mm: f64,
    pub freeze_surface_temperature_c: f64,
    pub active_thaw_temperature_c: f64,
    /// The freeze temperature was fitted to the catalog's isotherms (else the default).
    pub calibrated: bool,
    /// Heat the probe removed from the tissue over the protocol (J).
    pub heat_extracted_j: f64,
    /// Its wall (mean over the active length, °C) and cooling power (W) at `reported_at_s`.
    pub wall_c: Option<f64>,
    pub cooling_power_w: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct CryoComputeEnergy {
    /// Σ over probes (J).
    pub heat_extracted_j: f64,
    /// Change of the tissue's enthalpy (J); equals −heat_extracted_j in a closed block without
    /// perfusion.
    pub enthalpy_change_j: f64,
}

#[derive(Debug, Serialize)]
pub struct CryoComputeSolver {
    /// Flux evaluations (RKL2 stages or Euler steps).
    pub stages: usize,
    pub dt_euler_s: f64,
    pub snapshots: usize,
    /// The model's own time (s).
    pub elapsed_s: f64,
    /// Loading the case plus the model (s).
    pub total_s: f64,
}

/// Human-readable form of a cryo compute report.
pub fn format_cryo_compute(r: &CryoComputeReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", r.case.name, r.case.path.display());
    let _ = writeln!(out, "  {}", r.case.source);
    let _ = writeln!(out, "Model: {}", r.model.description);
    let g = &r.model.grid;
    let _ = writeln!(
        out,
        "  grid {} × {} × {} nodes at {} mm; start {:.1} °C; lethal isotherm {:.0} °C",
        g.dims[0],
        g.dims[1],
        g.dims[2],
        g.spacing_mm,
        r.model.initial_temperature_c,
        r.model.lethal_isotherm_c
    );
    let _ = writeln!(
        out,
        "Isotherms at {:.1} min (end of the last freeze): volume, extents along the probe axis / between \
         the first two probes / perpendicular",
        r.reported_at_s / 60.0
    );
    let line = |out: &mut String, what: String, z: &CryoComputeIsotherm| {
        let e = &z.extents_mm;
        let _ = writeln!(
            out,
            "  {what}: {:.2} mL, {:.1} × {:.1} × {:.1} mm",
            z.volume_ml, e.probe_axis, e.pair_axis, e.perpendicular
        );
    };
    for z in &r.isotherms {
        line(&mut out, format!("{:>4.0} °C", z.temperature_c), z);
    }
    line(
        &mut out,
        format!(
            "lethal zone (≤ {:.0} °C at any time)",
            r.lethal_zone.temperature_c
        ),
        &r.lethal_zone,
    );
    let _ = writeln!(out, "Probes:");
    for p in &r.probes {
        let _ = writeln!(
            out,
            "  {} ({}, {:.0} mm active): freeze {:.0} °C{}, active thaw {:.0} °C, {:.0} J extracted",
            p.label,
            p.model_id,
            p.active_length_mm,
            p.freeze_surface_temperature_c,
            if p.calibrated {
                " (calibrated)"
            } else {
                " (uncalibrated)"
            },
            p.active_thaw_temperature_c,
            p.heat_extracted_j
        );
    }
    let s = &r.solver;
    let _ = writeln!(
        out,
        "Solver: {} stages (Euler step {:.3} s), {} snapshots, {:.2} s (total {:.2} s)",
        s.stages, s.dt_euler_s, s.snapshots, s.elapsed_s, s.total_s
    );
    if !r.safety.structures.is_empty() || !r.findings.is_empty() {
        let _ = writeln!(
            out,
            "Safety zones: 0 °C iceball, −20 °C and lethal {:.0} °C at their largest extent over the protocol",
            r.model.lethal_isotherm_c
        );
    }
    format_safety(&mut out, &r.margins, &r.findings, &r.safety);
    for w in &r.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    out
}

impl ComputeCaseInfo {
    /// The case as the report names it.
    pub fn of(loaded: &LoadedCase) -> Self {
        Self {
            path: loaded.path.clone(),
            name: loaded.name.clone(),
            description: loaded.description.clone(),
            schema_version: loaded.schema_version,
            source_kind: loaded.source_kind.clone(),
            source: loaded.source_line.clone(),
        }
    }
}

/// The report of a cryo result: isotherms at the end of the last freeze, the lethal zone over
/// the whole protocol, the probes and the energy balance (safety filled in by [`CaseReport::with_safety`]).
pub fn cryo_report(
    loaded: &LoadedCase,
    overrides: &ComputeOverrides,
    settings: &CryoSettings,
    r: &CryoResult,
    assets: &ModelAssets,
    mut warnings: Vec<String>,
    total_s: f64,
) -> Option<CryoComputeReport> {
    let axes = iceball_axes(&loaded.probes)?;
    let s = r.end_of_last_freeze_snapshot();
    let extents = |e: [f64; 3]| ZoneExtents {
        probe_axis: e[0],
        pair_axis: e[1],
        perpendicular: e[2],
    };
    let isotherms = settings
        .reported_isotherms_c()
        .into_iter()
        .map(|t| {
            let z = r.isotherm_size(s, t, axes);
            CryoComputeIsotherm {
                temperature_c: t,
                volume_ml: z.volume_ml,
                extents_mm: extents(z.extents_mm),
            }
        })
        .collect();
    let lethal = r.lethal_mask(r.last_snapshot());
    let lethal_zone = CryoComputeIsotherm {
        temperature_c: r.lethal_isotherm_c,
        volume_ml: r.volume_ml(&lethal),
        extents_mm: extents(r.extents_mm(&lethal, axes)),
    };
    let reported_s = r.snapshot_times_s.get(s).copied().unwrap_or(0.0);
    let probes = loaded
        .probes
        .iter()
        .zip(&r.probes)
        .zip(&r.probe_heat_j)
        .enumerate()
        .map(|(i, ((p, t), q))| CryoComputeProbe {
            wall_c: r.wall_at(i, reported_s).map(|w| w.wall_c),
            cooling_power_w: r.wall_at(i, reported_s).map(|w| w.cooling_power_w),
            label: p.label.clone(),
            model_id: p.model_id.clone(),
            active_length_mm: p.exposure_mm,
            freeze_surface_temperature_c: t.freeze_surface_c,
            active_thaw_temperature_c: t.active_thaw_c,
            calibrated: t.calibrated,
            heat_extracted_j: -q,
        })
        .collect::<Vec<_>>();
    warnings.extend(r.warnings.iter().cloned());
    for p in probes.iter().filter(|p| !p.calibrated) {
        warnings.push(format!(
            "probe {}: {} has no calibrated boundary — the default {:.0} °C surface is unconfirmed",
            p.label, p.model_id, p.freeze_surface_temperature_c
        ));
    }
    let g = &r.grid;
    Some(CryoComputeReport {
        schema_version: CRYO_COMPUTE_SCHEMA_VERSION,
        modality: "cryo".into(),
        case: ComputeCaseInfo::of(loaded),
        overrides: overrides.clone(),
        model: CryoComputeModel {
            description: r.description.clone(),
            protocol: r.protocol.description(),
            protocol_total_s: r.protocol.total_s(),
            lethal_isotherm_c: r.lethal_isotherm_c,
            initial_temperature_c: loaded.initial_temperature_c(assets),
            grid: grid_info(g),
        },
        axes_lps: ZoneAxes {
            probe_axis: axes[0].into(),
            pair_axis: axes[1].into(),
            perpendicular: axes[2].into(),
        },
        reported_at_s: r.snapshot_times_s.get(s).copied().unwrap_or(0.0),
        isotherms,
        lethal_zone,
        zone: r
            .band
            .as_ref()
            .map(|b| crate::physics::cryo::band::CryoZoneSummary {
                band: b.summary(axes),
            }),
        probes,
        energy: CryoComputeEnergy {
            heat_extracted_j: r.heat_extracted_j(),
            enthalpy_change_j: r.final_enthalpy_j - r.initial_enthalpy_j,
        },
        solver: CryoComputeSolver {
            stages: r.stages,
            dt_euler_s: r.dt_euler_s,
            snapshots: r.snapshot_count(),
            elapsed_s: r.elapsed_s,
            total_s,
        },
        findings: Vec::new(),
        margins: Vec::new(),
        safety: empty_safety(),
        warnings,
    })
}

pub(crate) fn grid_info(g: &crate::physics::grid::ComputeGrid) -> ComputeGridInfo {
    ComputeGridInfo {
        dims: g.dims,
        spacing_mm: g.spacing_mm,
        origin_lps: [g.origin_lps.x, g.origin_lps.y, g.origin_lps.z],
        nodes: g.len(),
    }
}

fn empty_safety() -> ComputeSafety {
    ComputeSafety {
        status: Light::Green,
        rules: String::new(),
        structures: Vec::new(),
        beyond_mm: 0.0,
    }
}

/// The report of one case, IRE or cryo (serialised as the modality's own report: the keys of
/// each are documented in the README).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum CaseReport {
    Ire(Box<ComputeReport>),
    Cryo(Box<CryoComputeReport>),
}

impl CaseReport {
    /// Findings, margins and the safety summary of the pass.
    pub fn with_safety(mut self, safety: &SafetyReport, loaded: &LoadedCase) -> Self {
        let (findings, margins, summary) = match &mut self {
            CaseReport::Ire(r) => (&mut r.findings, &mut r.margins, &mut r.safety),
            CaseReport::Cryo(r) => (&mut r.findings, &mut r.margins, &mut r.safety),
        };
        *margins = compute_margins(safety);
        *findings = safety.findings.clone();
        *summary = safety_summary(
            safety,
            loaded.rules_origin,
            &loaded.structures,
            &loaded.structure_geometry,
        );
        self
    }

    pub fn set_total_s(&mut self, total_s: f64) {
        match self {
            CaseReport::Ire(r) => r.solver.total_s = total_s,
            CaseReport::Cryo(r) => r.solver.total_s = total_s,
        }
    }

    pub fn findings(&self) -> &[Finding] {
        match self {
            CaseReport::Ire(r) => &r.findings,
            CaseReport::Cryo(r) => &r.findings,
        }
    }

    /// The human-readable form.
    pub fn format(&self) -> String {
        match self {
            CaseReport::Ire(r) => format_compute(r),
            CaseReport::Cryo(r) => format_cryo_compute(r),
        }
    }
}
