//! The thermal dose rules of IRE (issue 13): a nerve or bowel that the pulses' Joule heating
//! brings to a thermal dose (CEM43) or a peak temperature beyond the rule's sourced limits
//! (`Check::ThermalDose` in `assets/safety_rules.json`). They read the electro-thermal model's
//! fields (`physics::ire::thermal::IreHeatingResult`) over each structure's voxels, not a zone:
//! the limits are the rule's, editable, and differ from the damage zone's own threshold.
//!
//! Every heat-grid node that warmed at all is looked up in the structure's mask at its nearest
//! CT voxel and at the CT voxels half a heat-grid spacing away along each axis (a node standing
//! for a cell that touches the structure counts): conservative by half a cell.

use super::rules::{Check, RuleModality, RuleSet};
use crate::anatomy::structure::Structure;
use crate::geometry::{PatientPos, VolumeGeometry};
use crate::physics::ire::model::IreResult;
use crate::plan::finding::Finding;

/// The hottest and most-dosed point of one structure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StructureHeat {
    pub max_cem43_min: f64,
    pub cem43_lps: PatientPos,
    pub max_temp_c: f64,
    pub temp_lps: PatientPos,
}

/// Whether the cell of a heat node at `p` (half-width `half_mm`) touches `s`.
fn touches(s: &Structure, g: &VolumeGeometry, p: &PatientPos, half_mm: f64) -> bool {
    let offsets = [
        [0.0, 0.0, 0.0],
        [half_mm, 0.0, 0.0],
        [-half_mm, 0.0, 0.0],
        [0.0, half_mm, 0.0],
        [0.0, -half_mm, 0.0],
        [0.0, 0.0, half_mm],
        [0.0, 0.0, -half_mm],
    ];
    offsets.iter().any(|o| {
        let q = PatientPos::new(p.x + o[0], p.y + o[1], p.z + o[2]);
        let v = g.to_voxel(&q);
        let (i, j, k) = (v.x.round(), v.y.round(), v.z.round());
        i >= 0.0
            && j >= 0.0
            && k >= 0.0
            && (i as usize) < g.dims[0]
            && (j as usize) < g.dims[1]
            && (k as usize) < g.dims[2]
            && s.mask().contains(i as usize, j as usize, k as usize)
    })
}

/// The heat of one structure (`None`: the heating left it at body temperature, or no heating).
pub fn structure_heat(result: &IreResult, s: &Structure, g: &VolumeGeometry) -> Option<StructureHeat> {
    let h = result.heating.as_ref()?;
    if s.mask().dims() != g.dims || s.mask().is_empty() {
        return None;
    }
    let half = 0.5 * h.grid.spacing_mm;
    let warm = h.initial_temperature_c + 0.1;
    let mut out: Option<StructureHeat> = None;
    for (idx, (&t, &d)) in h.peak_temperature_c.iter().zip(&h.cem43_min).enumerate() {
        if !(t.is_finite() && f64::from(t) > warm) {
            continue;
        }
        let [i, j, k] = h.grid.ijk(idx);
        let p = h.grid.lps(i, j, k);
        if !touches(s, g, &p, half) {
            continue;
        }
        let (t, d) = (f64::from(t), f64::from(d));
        let o = out.get_or_insert(StructureHeat {
            max_cem43_min: d,
            cem43_lps: p,
            max_temp_c: t,
            temp_lps: p,
        });
        if d > o.max_cem43_min {
            o.max_cem43_min = d;
            o.cem43_lps = p;
        }
        if t > o.max_temp_c {
            o.max_temp_c = t;
            o.temp_lps = p;
        }
    }
    out
}

/// Findings of the enabled `ThermalDose` rules for an IRE result with heating.
pub fn thermal_findings(
    g: &VolumeGeometry,
    structures: &[Structure],
    result: &IreResult,
    rules: &RuleSet,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if result.heating.is_none() || result.preview {
        return out;
    }
    for rule in rules
        .rules
        .iter()
        .filter(|r| r.enabled && r.modality != RuleModality::Cryo)
    {
        let Check::ThermalDose {
            structures: kinds,
            cem43_min,
            max_temp_c,
        } = &rule.check
        else {
            continue;
        };
        for (si, s) in structures
            .iter()
            .enumerate()
            .filter(|(_, s)| kinds.contains(&s.kind))
        {
            let Some(heat) = structure_heat(result, s, g) else {
                continue;
            };
            let dose = heat.max_cem43_min >= cem43_min.value;
            let hot = heat.max_temp_c >= max_temp_c.value;
            if !(dose || hot) {
                continue;
            }
            let mut f = super::blank(rule);
            f.structure = Some(s.name.clone());
            f.structure_index = Some(si);
            f.kind = Some(s.kind);
            f.zone = Some("IRE thermal dose".into());
            let focus = if dose { heat.cem43_lps } else { heat.temp_lps };
            f.focus_lps = Some(focus);
            f.limit = Some(if dose { cem43_min.value } else { max_temp_c.value });
            f.value = Some(if dose { heat.max_cem43_min } else { heat.max_temp_c });
            f.message = format!(
                "{} ({}) reaches {:.1} °C and a thermal dose of {:.1} CEM43 min from the pulses' heating — limits {:.0} °C, \
                 {:.0} CEM43 min",
                s.name,
                s.kind.label(),
                heat.max_temp_c,
                heat.max_cem43_min,
                max_temp_c.value,
                cem43_min.value
            );
            out.push(f);
        }
    }
    out
}
