//! One vocabulary for everything the planner warns about: a [`Finding`] with its [`Severity`]
//! and traffic [`Light`], whether it comes from the safety rules (zones, structures, currents,
//! paths) or from the live placement checks of the probes. Plain data, shown the same way by the
//! GUI, the CLI report and the tumour-board slide.

use crate::anatomy::structure::StructureKind;
use crate::geometry::PatientPos;
use serde::{Deserialize, Serialize};

pub use super::rules::{Light, Severity};

/// One rule that fired.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub severity: Severity,
    /// Red / amber / green.
    pub light: Light,
    /// Rule id.
    pub rule: String,
    pub rule_text: String,
    pub source: String,
    pub structure: Option<String>,
    pub structure_index: Option<usize>,
    /// Structure kind.
    pub kind: Option<StructureKind>,
    pub zone: Option<String>,
    pub zone_index: Option<usize>,
    pub probe: Option<String>,
    pub probe_index: Option<usize>,
    /// Best estimate (mm); negative = inside the zone by that depth; for margin findings the
    /// signed minimal margin.
    pub distance_mm: Option<f64>,
    /// Conservative lower bound the rule compared (mm).
    pub distance_lower_mm: Option<f64>,
    pub error_bound_mm: Option<f64>,
    pub overlap_ml: Option<f64>,
    /// The rule's limit (mm, or A for the current rule).
    pub limit: Option<f64>,
    /// Protective dissection: distance still to gain (mm) to reach the rule's goal.
    pub gain_mm: Option<f64>,
    /// Probe path: depth along the path from the entry point (mm), start and end.
    pub path_from_entry_mm: Option<[f64; 2]>,
    pub current_a: Option<f64>,
    /// Caliper: the zone (or target, or path start) side and the structure side, LPS mm.
    pub caliper_lps: Option<[PatientPos; 2]>,
    /// Where the views should go.
    pub focus_lps: Option<PatientPos>,
    /// Placement checks: the probes involved (indices into the plan's probes).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probe_indices: Vec<usize>,
    /// Placement checks: the measured value (mm or degrees) that crossed `limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// One line for the user.
    pub message: String,
}
