//! The plan being edited: probes, IRE pulse settings (pairs with the user's overrides), model
//! options, the selected probe, and undo/redo of plan edits as whole snapshots (a plan is a few
//! probes and numbers, so a snapshot per edit is cheap and cannot go out of step).
//!
//! Also the pure geometry used by the plan UI: screen hit-testing of probes, moving a probe by a
//! drag, array orientations, the axes of the zone extents and the |E| profile line.

use std::collections::BTreeMap;

use nalgebra::Vector3;

use crate::geometry::{PatientPos, VolumeGeometry};
use crate::physics::cryo::model::CryoSettings;
use crate::physics::ire::model::IreModelOptions;
use crate::physics::model::ModelSettings;
use crate::plan::catalog::{Catalog, Modality};
use crate::plan::ire::{ElectrodePair, IreSettings, pair_spacing_mm, voltage_for_spacing};
use crate::plan::probe::Probe;
use crate::volume::ViewKind;

mod geometry;
#[allow(unused_imports)]
pub use geometry::*;

/// The part of a probe a drag moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProbePart {
    Tip,
    Entry,
    /// The whole probe (grabbed by the shaft).
    Whole,
}

/// The user's changes to one pair of the default pairing (`None` = follow the default).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PairOverride {
    pub included: Option<bool>,
    pub voltage_v: Option<f64>,
}

/// One row of the pairs table: every pair of valid probes.
#[derive(Clone, Debug, PartialEq)]
pub struct PairRow {
    pub a: usize,
    pub b: usize,
    /// Distance between the midpoints of the exposed parts (`plan::ire::pair_spacing_mm`).
    pub spacing_mm: f64,
    pub included: bool,
    /// Pulsed by default (spacing ≤ the settings' maximum pair spacing).
    pub default_included: bool,
    pub voltage_v: f64,
    /// spacing × ratio, rounded, capped.
    pub default_voltage_v: f64,
    pub voltage_edited: bool,
}

/// The IRE part of a plan: pulse settings (`settings.pairs` always equals the included rows of
/// [`PlanState::pair_rows`]), the user's per-pair overrides and the field model's options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IrePlan {
    pub settings: IreSettings,
    /// Keyed by (lower probe index, higher probe index).
    pub overrides: BTreeMap<(usize, usize), PairOverride>,
    pub model: IreModelOptions,
}

/// The cryo part of a plan: protocol, isotherms and model options, and the sensor points (LPS mm)
/// of the temperature plot (not a model input: editing them, [`PlanState::edit_sensors`], is
/// undoable but does not bump the revision).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CryoPlan {
    pub settings: CryoSettings,
    pub sensors_lps: Vec<PatientPos>,
}

/// A plan holds one modality, by type: its probes are IRE electrodes or cryoprobes, and its
/// settings are those of that model only.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanModel {
    Ire(IrePlan),
    Cryo(CryoPlan),
}

impl Default for PlanModel {
    fn default() -> Self {
        PlanModel::Ire(IrePlan::default())
    }
}

impl PlanModel {
    pub fn modality(&self) -> Modality {
        match self {
            PlanModel::Ire(_) => Modality::Ire,
            PlanModel::Cryo(_) => Modality::Cryo,
        }
    }

    /// The same without the sensors (what a model result depends on).
    fn without_sensors(&self) -> PlanModel {
        match self {
            PlanModel::Cryo(c) => PlanModel::Cryo(CryoPlan {
                settings: c.settings.clone(),
                sensors_lps: Vec::new(),
            }),
            ire => ire.clone(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
struct Snapshot {
    probes: Vec<Probe>,
    model: PlanModel,
}

/// Bound on remembered plan edits.
const MAX_UNDO: usize = 200;

/// Plan state with undo/redo. Every change bumps `revision` (the key that makes model results
/// stale); recorded edits also bump `edit_count` (the app's unified undo history watches it).
#[derive(Clone, Debug, Default)]
pub struct PlanState {
    pub probes: Vec<Probe>,
    /// IRE or cryo, by type ([`PlanModel`]).
    model: PlanModel,
    pub selected: Option<usize>,
    revision: u64,
    edits: u64,
    undo: Vec<Snapshot>,
    redo: Vec<Snapshot>,
    /// The plan as it was when the current probe drag began.
    drag_before: Option<Snapshot>,
}

fn key(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

impl PlanState {
    /// An empty IRE plan with these model options.
    pub fn with_model(model: IreModelOptions) -> Self {
        Self {
            model: PlanModel::Ire(IrePlan {
                model,
                ..IrePlan::default()
            }),
            ..Self::default()
        }
    }

    /// Changes to anything a model result depends on bump this.
    pub fn revision(&self) -> u64 {
        self.revision
    }
    /// Number of recorded (undoable) edits so far.
    pub fn edit_count(&self) -> u64 {
        self.edits
    }
    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }
    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }
    pub fn clear_redo(&mut self) {
        self.redo.clear();
    }
    pub fn dragging(&self) -> bool {
        self.drag_before.is_some()
    }
    /// Something the model reads changed outside the plan (structures, model options).
    pub fn touch(&mut self) {
        self.revision += 1;
    }

    pub fn model(&self) -> &PlanModel {
        &self.model
    }

    pub fn modality(&self) -> Modality {
        self.model.modality()
    }

    /// The IRE part, for an IRE plan.
    pub fn ire(&self) -> Option<&IrePlan> {
        match &self.model {
            PlanModel::Ire(p) => Some(p),
            PlanModel::Cryo(_) => None,
        }
    }

    /// The cryo part, for a cryo plan.
    pub fn cryo(&self) -> Option<&CryoPlan> {
        match &self.model {
            PlanModel::Cryo(p) => Some(p),
            PlanModel::Ire(_) => None,
        }
    }

    /// The settings the model runs with (what the one model interface takes).
    pub fn model_settings(&self) -> ModelSettings {
        match &self.model {
            PlanModel::Ire(p) => ModelSettings::Ire {
                settings: p.settings.clone(),
                model: p.model.clone(),
            },
            PlanModel::Cryo(p) => ModelSettings::Cryo(p.settings.clone()),
        }
    }

    /// The cryo settings of a cryo plan; the defaults otherwise (for panels that show them).
    pub fn cryo_settings(&self) -> CryoSettings {
        self.cryo().map(|c| c.settings.clone()).unwrap_or_default()
    }

    /// The sensor points of a cryo plan (none for IRE).
    pub fn cryo_sensors_lps(&self) -> &[PatientPos] {
        self.cryo().map_or(&[], |c| &c.sensors_lps)
    }

    /// An empty plan takes the modality of the probe the user chose to place (one undo step);
    /// a plan with probes keeps its own. Returns whether it changed.
    pub fn set_modality(&mut self, modality: Modality) -> bool {
        if !self.probes.is_empty() || self.modality() == modality {
            return false;
        }
        self.edit(|s| {
            s.model = match modality {
                Modality::Ire => PlanModel::Ire(IrePlan::default()),
                Modality::Cryo => PlanModel::Cryo(CryoPlan::default()),
            };
        })
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            probes: self.probes.clone(),
            model: self.model.clone(),
        }
    }

    fn restore(&mut self, s: Snapshot) {
        // Sensors are not a model input: a step that only moves them keeps the revision.
        let model_changed =
            self.probes != s.probes || self.model.without_sensors() != s.model.without_sensors();
        self.probes = s.probes;
        self.model = s.model;
        self.sync_pairs();
        self.fix_selection();
        if model_changed {
            self.revision += 1;
        }
    }

    /// Edits the cryo sensor points as one undoable step (no revision bump); returns whether
    /// anything changed. Nothing happens on an IRE plan.
    pub fn edit_sensors(&mut self, f: impl FnOnce(&mut Vec<PatientPos>)) -> bool {
        let before = self.snapshot();
        let PlanModel::Cryo(c) = &mut self.model else {
            return false;
        };
        f(&mut c.sensors_lps);
        let changed = self.snapshot() != before;
        if changed {
            self.record(before);
        }
        changed
    }

    fn fix_selection(&mut self) {
        if self.selected.is_some_and(|s| s >= self.probes.len()) {
            self.selected = self.probes.len().checked_sub(1);
        }
    }

    /// Applies `f` as one undoable edit; returns whether anything changed.
    fn edit(&mut self, f: impl FnOnce(&mut Self)) -> bool {
        let before = self.snapshot();
        f(self);
        self.sync_pairs();
        self.fix_selection();
        let changed = self.snapshot() != before;
        if changed {
            self.record(before);
            self.revision += 1;
        }
        changed
    }

    fn record(&mut self, before: Snapshot) {
        self.undo.push(before);
        if self.undo.len() > MAX_UNDO {
            self.undo.remove(0);
        }
        self.redo.clear();
        self.edits += 1;
    }

    pub fn undo(&mut self) -> bool {
        self.end_drag();
        let Some(s) = self.undo.pop() else { return false };
        let now = self.snapshot();
        self.redo.push(now);
        self.restore(s);
        true
    }

    pub fn redo(&mut self) -> bool {
        let Some(s) = self.redo.pop() else { return false };
        let now = self.snapshot();
        self.undo.push(now);
        self.restore(s);
        true
    }

    /// Adds a probe, selects it, returns its index.
    pub fn add_probe(&mut self, p: Probe) -> usize {
        let i = self.probes.len();
        self.edit(|s| {
            s.probes.push(p);
            s.selected = Some(i);
        });
        i
    }

    /// Replaces every probe (array template); the old pairs' overrides no longer apply.
    pub fn replace_probes(&mut self, probes: Vec<Probe>) {
        self.edit(|s| {
            s.probes = probes;
            if let PlanModel::Ire(p) = &mut s.model {
                p.overrides.clear();
            }
            s.selected = (!s.probes.is_empty()).then_some(0);
        });
    }

    /// Replaces every probe and the model settings (an accepted suggestion) in one undo step.
    pub fn replace_probes_and_settings(&mut self, probes: Vec<Probe>, settings: ModelSettings) {
        self.edit(|s| {
            s.probes = probes;
            match (&mut s.model, settings) {
                (PlanModel::Ire(p), ModelSettings::Ire { settings, .. }) => {
                    p.overrides.clear();
                    p.settings = settings;
                }
                (PlanModel::Cryo(c), ModelSettings::Cryo(settings)) => c.settings = settings,
                _ => {}
            }
            s.selected = (!s.probes.is_empty()).then_some(0);
        });
    }

    pub fn set_probe(&mut self, i: usize, p: Probe) -> bool {
        self.edit(|s| {
            if let Some(slot) = s.probes.get_mut(i) {
                *slot = p;
            }
        })
    }

    /// Removes probe `i`; overrides of its pairs go, those of later probes are renumbered.
    pub fn delete_probe(&mut self, i: usize) -> bool {
        if i >= self.probes.len() {
            return false;
        }
        self.edit(|s| {
            s.probes.remove(i);
            let shift = |k: usize| if k > i { k - 1 } else { k };
            if let PlanModel::Ire(p) = &mut s.model {
                p.overrides = std::mem::take(&mut p.overrides)
                    .into_iter()
                    .filter(|((a, b), _)| *a != i && *b != i)
                    .map(|((a, b), o)| ((shift(a), shift(b)), o))
                    .collect();
            }
            s.selected = match s.selected {
                Some(sel) if sel == i => None,
                Some(sel) => Some(shift(sel)),
                None => None,
            };
        })
    }

    /// New cryo settings (one undo step); returns whether anything changed (nothing on an IRE
    /// plan).
    pub fn set_cryo(&mut self, settings: CryoSettings) -> bool {
        self.edit(cryo_change(settings))
    }

    /// [`Self::set_cryo`] during a drag of a value (recorded at [`Self::end_drag`]).
    pub fn set_cryo_live(&mut self, settings: CryoSettings) -> bool {
        self.live(cryo_change(settings))
    }

    /// New IRE model options (a view setting like the grid spacing: not an undo step, but the
    /// model reruns); nothing on a cryo plan.
    pub fn set_ire_model(&mut self, model: IreModelOptions) -> bool {
        let PlanModel::Ire(p) = &mut self.model else {
            return false;
        };
        if p.model == model {
            return false;
        }
        p.model = model;
        self.revision += 1;
        true
    }

    /// Ratio, cap, pulses (the `pairs` field of `settings` is ignored: pairs come from the rows).
    pub fn set_settings(&mut self, settings: IreSettings) -> bool {
        self.edit(settings_change(settings))
    }

    pub fn set_pair_included(&mut self, a: usize, b: usize, included: bool) -> bool {
        self.edit(|s| {
            if let PlanModel::Ire(p) = &mut s.model {
                p.overrides.entry(key(a, b)).or_default().included = Some(included);
            }
        })
    }

    /// A user voltage for a pair (clamped to the settings' cap); `None` = back to spacing × ratio.
    pub fn set_pair_voltage(&mut self, a: usize, b: usize, voltage_v: Option<f64>) -> bool {
        self.edit(self.pair_voltage_change(a, b, voltage_v))
    }

    /// The change made by [`Self::set_pair_voltage`] (the voltage clamped to the current cap).
    fn pair_voltage_change(
        &self,
        a: usize,
        b: usize,
        voltage_v: Option<f64>,
    ) -> impl FnOnce(&mut Self) + use<> {
        let cap = self.ire().map_or(0.0, |p| p.settings.voltage_cap_v);
        let v = voltage_v.filter(|v| v.is_finite()).map(|v| v.clamp(0.0, cap));
        move |s: &mut Self| {
            if let PlanModel::Ire(p) = &mut s.model {
                p.overrides.entry(key(a, b)).or_default().voltage_v = v;
            }
        }
    }

    /// Back to the default pairs and voltages.
    pub fn reset_pairs(&mut self) -> bool {
        self.edit(|s| {
            if let PlanModel::Ire(p) = &mut s.model {
                p.overrides.clear();
            }
        })
    }

    /// Starts a live drag: later [`Self::drag_probe`] calls move the probe without recording,
    /// [`Self::end_drag`] records the whole drag as one edit.
    pub fn begin_drag(&mut self) {
        if self.drag_before.is_none() {
            self.drag_before = Some(self.snapshot());
        }
    }

    /// Applies `f` as part of a drag (begun if needed): not recorded until [`Self::end_drag`].
    /// Returns whether anything changed.
    fn live(&mut self, f: impl FnOnce(&mut Self)) -> bool {
        self.begin_drag();
        let before = self.snapshot();
        f(self);
        self.sync_pairs();
        let changed = self.snapshot() != before;
        if changed {
            self.revision += 1;
        }
        changed
    }

    /// Moves a probe during a drag.
    pub fn drag_probe(&mut self, i: usize, tip_lps: PatientPos, entry_lps: PatientPos) -> bool {
        self.live(|s| {
            if let Some(p) = s.probes.get_mut(i) {
                p.tip_lps = tip_lps;
                p.entry_lps = entry_lps;
            }
        })
    }

    /// [`Self::set_settings`] during a drag of the value.
    pub fn set_settings_live(&mut self, settings: IreSettings) -> bool {
        self.live(settings_change(settings))
    }

    /// [`Self::set_pair_voltage`] during a drag of the value.
    pub fn set_pair_voltage_live(&mut self, a: usize, b: usize, voltage_v: Option<f64>) -> bool {
        self.live(self.pair_voltage_change(a, b, voltage_v))
    }

    /// Ends a drag; returns whether it changed the plan (and was recorded).
    pub fn end_drag(&mut self) -> bool {
        let Some(before) = self.drag_before.take() else {
            return false;
        };
        let changed = self.snapshot() != before;
        if changed {
            self.record(before);
        }
        changed
    }

    /// Every pair of valid probes with its spacing, inclusion and voltage (none for cryo).
    pub fn pair_rows(&self) -> Vec<PairRow> {
        let Some(ire) = self.ire() else {
            return Vec::new();
        };
        let s = &ire.settings;
        let mut rows = Vec::new();
        for (a, pa) in self.probes.iter().enumerate() {
            for (b, pb) in self.probes.iter().enumerate().skip(a + 1) {
                let Some(spacing_mm) = pair_spacing_mm(pa, pb) else {
                    continue;
                };
                let o = ire.overrides.get(&(a, b)).copied().unwrap_or_default();
                let default_included = spacing_mm <= s.max_pair_spacing_mm + 1e-9;
                let default_voltage_v = voltage_for_spacing(spacing_mm, s.ratio_v_per_cm, s.voltage_cap_v);
                rows.push(PairRow {
                    a,
                    b,
                    spacing_mm,
                    included: o.included.unwrap_or(default_included),
                    default_included,
                    voltage_v: o.voltage_v.map_or(default_voltage_v, |v| v.min(s.voltage_cap_v)),
                    default_voltage_v,
                    voltage_edited: o.voltage_v.is_some(),
                });
            }
        }
        rows
    }

    /// A plan as saved in a case (a fresh history: opening a case is not an undoable edit). Its
    /// modality is its probes' (`catalog`), or the saved cryo section's when it has no probe.
    pub fn from_saved(saved: &crate::plan::document::NamedPlan, catalog: Option<&Catalog>) -> Self {
        let mut p = Self::with_model(saved.model.clone());
        p.probes = saved.probes.clone();
        let cryo = match catalog {
            Some(cat) if !p.probes.is_empty() => p
                .probes
                .iter()
                .all(|q| cat.get(&q.model_id).is_some_and(|m| m.modality == Modality::Cryo)),
            _ => saved.cryo.is_some() && p.probes.is_empty(),
        };
        p.model = if cryo {
            let c = saved.cryo.clone().unwrap_or_default();
            PlanModel::Cryo(CryoPlan {
                settings: c.settings,
                sensors_lps: c.sensors_lps,
            })
        } else {
            let n = p.probes.len();
            PlanModel::Ire(IrePlan {
                settings: saved.ire.clone(),
                overrides: saved
                    .pair_overrides
                    .iter()
                    .filter(|c| c.a != c.b && c.a.max(c.b) < n)
                    .map(|c| {
                        let o = PairOverride {
                            included: c.included,
                            voltage_v: c.voltage_v,
                        };
                        (key(c.a, c.b), o)
                    })
                    .collect(),
                model: saved.model.clone(),
            })
        };
        p.sync_pairs();
        p.revision = 1;
        p
    }

    /// This plan for a case file, under `name`. A cryo plan always saves its cryo section, so a
    /// saved cryo plan is computed with the settings the planner saw.
    pub fn to_saved(&self, name: &str) -> crate::plan::document::NamedPlan {
        let mut saved = crate::plan::document::NamedPlan::new(name);
        saved.probes = self.probes.clone();
        match &self.model {
            PlanModel::Ire(p) => {
                saved.ire = p.settings.clone();
                saved.model = p.model.clone();
                saved.pair_overrides = p
                    .overrides
                    .iter()
                    .map(|(&(a, b), o)| crate::plan::document::PairChoice {
                        a,
                        b,
                        included: o.included,
                        voltage_v: o.voltage_v,
                    })
                    .collect();
            }
            PlanModel::Cryo(c) => {
                saved.cryo = Some(crate::plan::document::CryoPlanSettings {
                    settings: c.settings.clone(),
                    sensors_lps: c.sensors_lps.clone(),
                });
            }
        }
        saved
    }

    /// Keeps `settings.pairs` equal to the included rows (the model pulses exactly these).
    fn sync_pairs(&mut self) {
        let pairs: Vec<ElectrodePair> = self
            .pair_rows()
            .into_iter()
            .filter(|r| r.included)
            .map(|r| ElectrodePair {
                a: r.a,
                b: r.b,
                voltage_v: r.voltage_v,
            })
            .collect();
        if let PlanModel::Ire(p) = &mut self.model {
            p.settings.pairs = pairs;
        }
    }

    /// Display name of probe `i` ("1", "2", … or the user's label).
    pub fn label(&self, i: usize) -> String {
        self.probes
            .get(i)
            .map_or_else(|| format!("#{}", i + 1), |p| p.label.clone())
    }
}

/// The change made by [`PlanState::set_settings`]: ratio, cap, pulses from `settings`, the pairs
/// kept (they come from the rows).
fn settings_change(settings: IreSettings) -> impl FnOnce(&mut PlanState) {
    move |s| {
        if let PlanModel::Ire(p) = &mut s.model {
            let pairs = std::mem::take(&mut p.settings.pairs);
            p.settings = IreSettings { pairs, ..settings };
        }
    }
}

/// The change made by [`PlanState::set_cryo`].
fn cryo_change(settings: CryoSettings) -> impl FnOnce(&mut PlanState) {
    move |s| {
        if let PlanModel::Cryo(c) = &mut s.model {
            c.settings = settings;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ire::default_pairs;
    use nalgebra::Point3;

    fn probe(x: f64, label: &str) -> Probe {
        Probe {
            model_id: "nanoknife_19g".into(),
            tip_lps: Point3::new(x, 0.0, 0.0),
            entry_lps: Point3::new(x, -100.0, 0.0),
            exposure_mm: 20.0,
            label: label.into(),
        }
    }

    #[test]
    fn pairs_follow_defaults_until_overridden() {
        let mut plan = PlanState::default();
        for (n, x) in [0.0, 15.0, 45.0].iter().enumerate() {
            plan.add_probe(probe(*x, &(n + 1).to_string()));
        }
        let expected = default_pairs(&plan.probes, &plan.ire().expect("IRE plan").settings);
        assert_eq!(plan.ire().expect("IRE plan").settings.pairs, expected);
        assert_eq!(expected.len(), 1, "45 mm is too far for a default pair");
        assert_eq!(expected[0].voltage_v, 2250.0);

        plan.set_pair_voltage(0, 1, Some(2000.0));
        plan.set_pair_included(1, 2, true);
        let v: Vec<(usize, usize, f64)> = plan
            .ire()
            .expect("IRE plan")
            .settings
            .pairs
            .iter()
            .map(|p| (p.a, p.b, p.voltage_v))
            .collect();
        assert_eq!(
            v,
            vec![(0, 1, 2000.0), (1, 2, 3000.0)],
            "30 mm × 1500 V/cm capped"
        );

        // Deleting the first probe drops its pair's override and renumbers the rest.
        plan.delete_probe(0);
        assert_eq!(
            plan.ire()
                .expect("IRE plan")
                .overrides
                .keys()
                .copied()
                .collect::<Vec<_>>(),
            vec![(0, 1)]
        );
        assert_eq!(plan.ire().expect("IRE plan").settings.pairs.len(), 1);
        assert!(plan.reset_pairs());
        assert!(plan.ire().expect("IRE plan").settings.pairs.is_empty());
    }

    #[test]
    fn an_accepted_suggestion_replaces_probes_and_ratio_in_one_undo_step() {
        let mut plan = PlanState::default();
        plan.add_probe(probe(0.0, "1"));
        let before = (
            plan.probes.clone(),
            plan.ire().expect("IRE plan").settings.clone(),
        );
        let mut settings = before.1.clone();
        settings.ratio_v_per_cm = 1000.0;
        let proposal = vec![probe(0.0, "1"), probe(20.0, "2"), probe(40.0, "3")];
        plan.replace_probes_and_settings(
            proposal.clone(),
            ModelSettings::Ire {
                settings,
                model: IreModelOptions::default(),
            },
        );
        assert_eq!(plan.probes, proposal);
        let ire = plan.ire().expect("IRE plan");
        assert_eq!(ire.settings.ratio_v_per_cm, 1000.0);
        assert_eq!(ire.settings.pairs[0].voltage_v, 2000.0, "20 mm × 1000 V/cm");
        assert!(plan.undo(), "one step back");
        assert_eq!(plan.probes, before.0);
        assert_eq!(
            plan.ire().expect("IRE plan").settings.ratio_v_per_cm,
            before.1.ratio_v_per_cm
        );
    }

    #[test]
    fn undo_redo_restore_snapshots_and_a_drag_is_one_step() {
        let mut plan = PlanState::default();
        plan.add_probe(probe(0.0, "1"));
        plan.add_probe(probe(15.0, "2"));
        let before = plan.probes.clone();
        let rev = plan.revision();
        for x in [16.0, 17.0, 18.0] {
            plan.drag_probe(1, Point3::new(x, 0.0, 0.0), Point3::new(x, -100.0, 0.0));
        }
        assert!(plan.revision() > rev, "live moves bump the revision");
        assert_eq!(plan.edit_count(), 2, "live moves are not recorded");
        assert!(plan.end_drag());
        assert_eq!(plan.edit_count(), 3);
        assert_eq!(
            plan.ire().expect("IRE plan").settings.pairs[0].voltage_v,
            2700.0,
            "18 mm × 1500 V/cm"
        );
        assert!(plan.undo());
        assert_eq!(plan.probes, before);
        assert_eq!(plan.ire().expect("IRE plan").settings.pairs[0].voltage_v, 2250.0);
        assert!(plan.redo());
        assert_eq!(plan.probes[1].tip_lps.x, 18.0);
        assert!(plan.undo() && plan.undo() && plan.undo());
        assert!(plan.probes.is_empty() && plan.selected.is_none());
        assert!(!plan.undo());
    }

    #[test]
    fn unchanged_edits_are_not_recorded() {
        let mut plan = PlanState::default();
        plan.add_probe(probe(0.0, "1"));
        let p = plan.probes[0].clone();
        assert!(!plan.set_probe(0, p));
        plan.begin_drag();
        assert!(!plan.end_drag());
        assert_eq!(plan.edit_count(), 1);
    }

    #[test]
    fn labels_fill_gaps() {
        assert_eq!(next_label(&[]), "1");
        assert_eq!(next_label(&[probe(0.0, "1"), probe(1.0, "3")]), "2");
    }

    #[test]
    fn hit_test_prefers_handles_and_the_selected_probe() {
        let a = ProbeOnScreen {
            index: 0,
            tip: [100.0, 100.0],
            entry: [100.0, 0.0],
        };
        let b = ProbeOnScreen {
            index: 1,
            tip: [104.0, 100.0],
            entry: [200.0, 100.0],
        };
        let all = [a, b];
        assert_eq!(
            hit_test(&all, None, [101.0, 101.0], 8.0),
            Some((1, ProbePart::Tip))
        );
        assert_eq!(
            hit_test(&all, Some(0), [101.0, 101.0], 8.0),
            Some((0, ProbePart::Tip))
        );
        assert_eq!(
            hit_test(&all, None, [100.0, 2.0], 8.0),
            Some((0, ProbePart::Entry))
        );
        assert_eq!(
            hit_test(&all, None, [103.0, 50.0], 8.0),
            Some((0, ProbePart::Whole))
        );
        assert_eq!(hit_test(&all, None, [150.0, 50.0], 8.0), None);
        // End-on probe: only whole.
        let c = ProbeOnScreen {
            index: 2,
            tip: [10.0, 10.0],
            entry: [12.0, 10.0],
        };
        assert_eq!(
            hit_test(&[c], None, [11.0, 11.0], 8.0),
            Some((2, ProbePart::Whole))
        );
    }

    #[test]
    fn moving_parts() {
        let p = probe(0.0, "1");
        let d = Vector3::new(1.0, 2.0, 3.0);
        let (t, e) = moved(&p, ProbePart::Tip, d);
        assert_eq!((t, e), (p.tip_lps + d, p.entry_lps));
        let (t, e) = moved(&p, ProbePart::Whole, d);
        assert_eq!((t - p.tip_lps, e - p.entry_lps), (d, d));
    }

    #[test]
    fn array_axes() {
        let g = VolumeGeometry::axis_aligned([10, 10, 10], [1.0, 1.0, 2.0], Point3::origin());
        let ax = array_direction(ArrayAxis::ViewNormal, ViewKind::Axial, &g);
        assert_eq!(ax, -Vector3::z(), "axial view normal, head → feet");
        assert_eq!(
            array_direction(ArrayAxis::RightLeft, ViewKind::Axial, &g),
            Vector3::x()
        );
        assert_eq!(array_in_plane(&Vector3::y()), Vector3::x());
        assert_eq!(array_in_plane(&Vector3::x()), Vector3::y());
        assert_eq!(array_in_plane(&-Vector3::z()), Vector3::x());
    }

    #[test]
    fn extents_axes_and_profile_line() {
        let probes = [probe(0.0, "1"), probe(15.0, "2")];
        let [along, pair, perp] = extent_axes(&probes, (0, 1)).expect("axes");
        assert!((along - Vector3::y()).norm() < 1e-12);
        assert!((pair - Vector3::x()).norm() < 1e-12);
        assert!((perp.dot(&along)).abs() < 1e-12 && (perp.dot(&pair)).abs() < 1e-12);
        let (s, e, da, db) = profile_line(&probes, 0, 1, 10.0).expect("line");
        assert!(((e - s).norm() - 35.0).abs() < 1e-9);
        assert_eq!((da, db), (10.0, 25.0));
        assert!(extent_axes(&probes, (0, 5)).is_none());
    }
}
