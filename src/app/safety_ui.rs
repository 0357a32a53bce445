//! The safety analysis in the GUI: a debounced background pass whenever structures, probes or
//! the zone change (the drag preview included, so warnings follow the mouse), the traffic light
//! in the toolbar, the findings panel sorted by severity (click: every view goes to the closest
//! point and a caliper shows the distance), the margin histogram with the 5 mm line, and the
//! overlays drawn in the slice views (caliper, target outline coloured by local margin, probe
//! path findings on the shaft).
//!
//! A report carries the key of the inputs it was computed from; when the inputs have changed
//! since, the panel says "updating" and greys the findings instead of passing them off as
//! current.

use std::sync::Arc;
use std::time::{Duration, Instant};

use eframe::egui::{self, Color32, Pos2, Stroke};
use egui_plot::{Bar, BarChart, Plot, VLine};

use super::{AblaApp, Command, NoticeLevel};
use crate::geometry::PatientPos;
use crate::jobs::{Job, Progress};
use crate::physics::model::{ModelPreview, ModelResult};
use crate::plan::Sourced;
use crate::render::palette;
use crate::safety::Check;
use crate::safety::{Finding, Light, RuleModality, RuleSet, SafetyCache, SafetyReport, builtin_rules};

/// Wait this long after the last change before a new pass (a drag changes the plan every frame).
const DEBOUNCE: Duration = Duration::from_millis(120);

/// Everything a pass depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SafetyKey {
    generation: u64,
    structure_count: usize,
    structure_revisions: u64,
    plan_revision: u64,
    /// The shown result or preview the zones come from (0 = no zone for this plan yet).
    zone_id: u64,
    rules_revision: u64,
}

/// Where the caliper of the chosen finding is drawn.
#[derive(Clone, Debug, PartialEq)]
pub struct Caliper {
    pub a_lps: PatientPos,
    pub b_lps: PatientPos,
    pub label: String,
}

type PassOutput = (SafetyReport, SafetyCache);

pub struct SafetyRun {
    pub(super) rules: Result<Arc<RuleSet>, String>,
    /// Bumped when the user edits the rules.
    rules_revision: u64,
    pub show_rules: bool,
    /// `None` while a pass holds it.
    cache: Option<SafetyCache>,
    job: Option<(SafetyKey, Job<PassOutput>)>,
    report: Option<(SafetyKey, Arc<SafetyReport>)>,
    /// The newest inputs seen and when they changed.
    pending: Option<(SafetyKey, Instant)>,
    pub show_panel: bool,
    pub selected: Option<usize>,
    pub caliper: Option<Caliper>,
}

impl Default for SafetyRun {
    fn default() -> Self {
        Self {
            rules: builtin_rules().map(Arc::new).map_err(|e| e.to_string()),
            rules_revision: 0,
            show_rules: false,
            cache: Some(SafetyCache::default()),
            job: None,
            report: None,
            pending: None,
            show_panel: true,
            selected: None,
            caliper: None,
        }
    }
}

impl SafetyRun {
    /// The last report and whether it is for the current inputs.
    pub fn report(&self) -> Option<&SafetyReport> {
        self.report.as_ref().map(|(_, r)| r.as_ref())
    }
}

impl AblaApp {
    pub fn safety(&self) -> &SafetyRun {
        &self.safety
    }

    /// Whether the shown report is for the plan, structures and zone as they are now.
    pub fn safety_current(&self) -> bool {
        let key = self.safety_key();
        self.safety.report.as_ref().is_some_and(|(k, _)| Some(*k) == key)
    }

    fn safety_key(&self) -> Option<SafetyKey> {
        self.loaded.as_ref()?;
        Some(SafetyKey {
            generation: self.generation,
            structure_count: self.structures.items.len(),
            structure_revisions: self.structures.items.iter().map(|s| s.revision()).sum(),
            plan_revision: self.plan.revision(),
            zone_id: if self.safety_result().is_some() {
                self.run.result_id
            } else {
                0
            },
            rules_revision: self.safety.rules_revision,
        })
    }

    /// The report shown, shared (the export job holds it).
    pub(super) fn safety_report_arc(&self) -> Option<Arc<SafetyReport>> {
        self.safety.report.as_ref().map(|(_, r)| r.clone())
    }

    /// The rules in force, shared.
    pub(super) fn safety_rules_arc(&self) -> Option<Arc<RuleSet>> {
        self.safety.rules.as_ref().ok().cloned()
    }

    /// The rules in force (saved with the case).
    pub fn safety_rules(&self) -> Option<&RuleSet> {
        self.safety.rules.as_deref().ok()
    }

    /// Replaces the rules (edited in the rules window, or read from a case).
    pub(super) fn set_safety_rules(&mut self, rules: RuleSet) {
        match rules.validate("rules") {
            Ok(()) => {
                self.safety.rules = Ok(Arc::new(rules));
                self.safety.rules_revision += 1;
            }
            Err(e) => self.notify(NoticeLevel::Error, format!("Rules not changed: {e}")),
        }
    }

    /// What the pass judges: the full result for the plan as it is, else the IRE drag preview
    /// for it (so warnings follow the mouse); `None` while the model has not computed this plan
    /// — the report then says "not computed", never "clear". One path for both modalities.
    fn safety_result(&self) -> Option<ModelResult> {
        let revision = self.plan.revision();
        if let Some(r) = self.run.current(revision) {
            return Some(r.clone());
        }
        match &self.run.preview {
            Some(ModelPreview::Ire(p)) if self.run.ire_shown_revision() == revision => {
                Some(ModelResult::Ire(p.clone()))
            }
            _ => None,
        }
    }

    /// Forgets everything shown of the previous plan: report, selected finding, caliper.
    pub(super) fn safety_forget_plan(&mut self) {
        self.safety.report = None;
        self.safety.pending = None;
        self.safety.selected = None;
        self.safety.caliper = None;
    }

    /// The margin goal (mm) of the plan's modality, from the rules in force.
    pub fn margin_goal_mm(&self) -> Option<f64> {
        let modality = match self.plan.modality() {
            crate::plan::catalog::Modality::Ire => RuleModality::Ire,
            crate::plan::catalog::Modality::Cryo => RuleModality::Cryo,
        };
        self.safety_rules().and_then(|r| r.margin_goal_mm(modality))
    }

    /// Polls the running pass and starts a new one when the inputs have settled.
    pub(super) fn safety_tick(&mut self, now: Instant) {
        if let Some((key, job)) = &mut self.safety.job
            && let Some(out) = job.poll()
        {
            let key = *key;
            self.safety.job = None;
            match out {
                Ok((report, cache)) => {
                    self.safety.cache = Some(cache);
                    self.safety.report = Some((key, Arc::new(report)));
                    self.record_safety_summary();
                }
                Err(e) => {
                    self.safety.cache = Some(SafetyCache::default());
                    self.notify(NoticeLevel::Error, format!("Safety analysis failed: {e}"));
                }
            }
        }
        let Some(key) = self.safety_key() else {
            self.safety.report = None;
            return;
        };
        if self.safety.report.as_ref().is_some_and(|(k, _)| *k == key) {
            self.safety.pending = None;
            return;
        }
        match self.safety.pending {
            Some((k, _)) if k == key => {}
            _ => self.safety.pending = Some((key, now)),
        }
        let settled = self
            .safety
            .pending
            .is_some_and(|(_, t)| now.duration_since(t) >= DEBOUNCE);
        if settled && self.safety.job.is_none() {
            self.start_safety_pass(key);
        } else if !settled {
            self.ctx.request_repaint_after(DEBOUNCE);
        }
    }

    fn start_safety_pass(&mut self, key: SafetyKey) {
        let _ = self.run.assets();
        let (Some(loaded), Ok(rules)) = (&self.loaded, &self.safety.rules) else {
            return;
        };
        let Some(mut cache) = self.safety.cache.take() else {
            return;
        };
        let geometry = loaded.volume.geometry.clone();
        let structures = self.structures.items.clone();
        let result = self.safety_result();
        let lethal_c = crate::pipeline::lethal_c(&self.plan.model_settings());
        let probes = self.plan.probes.clone();
        let rules = rules.clone();
        let volume = loaded.volume.clone();
        let phantom = loaded.phantom.clone();
        let assets = self.run.assets().ok();
        let work = move |_: &crate::jobs::JobCtx| {
            let mut report = crate::safety::analyse(
                &geometry,
                &structures,
                &probes,
                result.as_ref().map(|r| (r, lethal_c)),
                &rules,
                &mut cache,
            );
            // The model's reason for an uncovered target, as `compute` gives it.
            if let (Some(r), Some(assets)) = (&result, &assets) {
                let tissue = super::run::scene_tissue(&volume, phantom.as_ref(), &structures);
                crate::pipeline::explain::explain_findings(
                    &mut report,
                    r,
                    tissue,
                    &structures,
                    &geometry,
                    assets,
                );
            }
            (report, cache)
        };
        let ctx = self.ctx.clone();
        match Job::spawn(
            "safety",
            key.plan_revision,
            Progress::with_waker(move || ctx.request_repaint()),
            work,
        ) {
            Ok(job) => self.safety.job = Some((key, job)),
            Err(e) => {
                self.safety.cache = Some(SafetyCache::default());
                self.notify(
                    NoticeLevel::Error,
                    format!("Cannot start the safety analysis: {e}"),
                );
            }
        }
    }

    /// Moves every view to a finding's closest point and shows its caliper.
    pub(super) fn focus_finding(&mut self, i: usize) {
        let Some(f) = self.safety.report().and_then(|r| r.findings.get(i)).cloned() else {
            return;
        };
        self.safety.selected = Some(i);
        self.safety.caliper = f.caliper_lps.map(|[a, b]| Caliper {
            a_lps: a,
            b_lps: b,
            label: f
                .distance_mm
                .map_or_else(|| f.severity.label().to_string(), |d| format!("{d:.1} mm")),
        });
        let focus = f
            .focus_lps
            .or(f.caliper_lps.map(|[a, b]| nalgebra::center(&a, &b)));
        if let (Some(p), Some(loaded), Some(vw)) = (focus, &self.loaded, &mut self.viewer) {
            let v = loaded.volume.geometry.to_voxel(&p);
            let d = loaded.volume.geometry.dims;
            let clamp = |x: f64, n: usize| x.round().clamp(0.0, n.saturating_sub(1) as f64);
            vw.crosshair = nalgebra::Vector3::new(clamp(v.x, d[0]), clamp(v.y, d[1]), clamp(v.z, d[2]));
        }
    }

    /// The findings and margin of a full result go into the case's result summary.
    fn record_safety_summary(&mut self) {
        let Some((_, report)) = &self.safety.report else {
            return;
        };
        if report.preview || !report.has_zone() {
            return;
        }
        let findings: Vec<(String, String)> = report
            .findings
            .iter()
            .map(|f| (f.severity.label().to_string(), f.message.clone()))
            .collect();
        let margin = report
            .margins
            .iter()
            .filter_map(|m| m.min_margin_mm)
            .min_by(|a, b| a.total_cmp(b));
        self.case_set_safety_summary(findings, margin);
    }
}

use super::widgets::c32 as colour;

fn light_colour(l: Light) -> Color32 {
    colour(palette::light(l))
}

/// The traffic light in the toolbar; a click shows or hides the findings panel.
pub fn traffic_light(app: &AblaApp, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    let stale = if app.safety_current() { "" } else { " (updating)" };
    let (text, colour) = match app.safety.report() {
        None => ("Safety: no analysis".to_string(), colour(palette::NEUTRAL)),
        // Without a zone only the probe paths were checked: "no finding" is not an all-clear.
        Some(r) if !r.has_zone() && r.findings.is_empty() => (
            format!("Safety: zone not computed{stale}"),
            colour(palette::NEUTRAL),
        ),
        Some(r) if !r.has_zone() => (
            format!(
                "Safety: {} red, {} amber — zone not computed{stale}",
                r.count(Light::Red),
                r.count(Light::Amber)
            ),
            light_colour(r.status),
        ),
        Some(r) => {
            let (red, amber) = (r.count(Light::Red), r.count(Light::Amber));
            (
                format!("Safety: {red} red, {amber} amber{stale}"),
                light_colour(r.status),
            )
        }
    };
    let (rect, _) = ui.allocate_exact_size(egui::vec2(14.0, 14.0), egui::Sense::hover());
    ui.painter().circle_filled(rect.center(), 6.5, colour);
    if ui.selectable_label(app.safety.show_panel, text).clicked() {
        cmds.push(Command::ShowSafetyPanel(!app.safety.show_panel));
    }
}

/// Default height of the findings panel (points): the user resizes it, its content never does.
pub const FINDINGS_PANEL_HEIGHT: f32 = 190.0;
const FINDINGS_MIN_HEIGHT: f32 = 80.0;

/// The findings panel (bottom of the window).
pub fn panel(app: &mut AblaApp, ui: &mut egui::Ui) {
    if !app.safety.show_panel || app.loaded.is_none() {
        return;
    }
    let mut cmds = Vec::new();
    egui::Panel::bottom("safety_panel")
        .resizable(true)
        .default_size(FINDINGS_PANEL_HEIGHT)
        .size_range(FINDINGS_MIN_HEIGHT + 40.0..=600.0)
        .show(ui, |ui| {
            let current = app.safety_current();
            ui.horizontal(|ui| {
                ui.strong("Safety findings");
                if ui.button("Rules…").clicked() {
                    cmds.push(Command::ShowRules(true));
                }
                if let Err(e) = &app.safety.rules {
                    ui.colored_label(light_colour(Light::Red), format!("Rules could not be read: {e}"));
                }
                if !current {
                    ui.weak("updating…");
                }
                if app.safety.caliper.is_some() && ui.button("Hide caliper").clicked() {
                    cmds.push(Command::ClearCaliper);
                }
            });
            let Some(report) = app.safety.report() else {
                ui.label("Add structures and place probes: findings appear here.");
                return;
            };
            let goal_mm = app.margin_goal_mm();
            let has_target = app
                .structures
                .items
                .iter()
                .any(|s| s.kind == crate::anatomy::StructureKind::Target);
            // The panel keeps its height whatever the findings: both columns scroll inside it,
            // so the views above never move when findings appear or go away.
            let h = ui.available_height().max(FINDINGS_MIN_HEIGHT);
            ui.columns(2, |cols| {
                egui::ScrollArea::vertical()
                    .id_salt("findings")
                    .max_height(h)
                    .auto_shrink([false, false])
                    .show(&mut cols[0], |ui| {
                        findings_table(ui, report, app.safety.selected, current, &mut cmds);
                    });
                egui::ScrollArea::vertical()
                    .id_salt("margins")
                    .max_height(h)
                    .auto_shrink([false, false])
                    .show(&mut cols[1], |ui| margins(ui, report, goal_mm, has_target));
            });
        });
    app.commands.extend(cmds);
}

fn findings_table(
    ui: &mut egui::Ui,
    report: &SafetyReport,
    selected: Option<usize>,
    current: bool,
    cmds: &mut Vec<Command>,
) {
    if !report.has_zone() {
        ui.colored_label(
            colour(palette::NEUTRAL),
            "Zone not computed: the model has not finished for this plan, so only the probe paths were checked.",
        );
    } else if report.findings.is_empty() {
        ui.colored_label(light_colour(Light::Green), "No rule fired.");
        return;
    }
    // One row per finding: the severity, then the finding wrapping within the column.
    let sev_width = 70.0;
    for (i, f) in report.findings.iter().enumerate() {
        ui.horizontal_top(|ui| {
            let mut colour = light_colour(f.light);
            if !current {
                colour = colour.gamma_multiply(0.5);
            }
            ui.add_sized(
                [sev_width, 16.0],
                egui::Label::new(egui::RichText::new(f.severity.label()).color(colour)),
            );
            let item = egui::Button::selectable(selected == Some(i), &f.message).wrap();
            if ui.add(item).on_hover_text(finding_details(f)).clicked() {
                cmds.push(Command::FocusFinding(i));
            }
        });
        ui.separator();
    }
}

fn finding_details(f: &Finding) -> String {
    let mut parts = vec![format!("Rule: {}", f.rule_text), format!("Source: {}", f.source)];
    if let (Some(d), Some(lo)) = (f.distance_mm, f.distance_lower_mm) {
        parts.push(format!("Distance {d:.1} mm (conservative {lo:.1} mm)"));
    }
    if let Some(v) = f.overlap_ml {
        parts.push(format!("Overlap {v:.2} mL"));
    }
    if let Some(g) = f.gain_mm {
        parts.push(format!("Distance still to gain: {g:.1} mm"));
    }
    if let Some([a, b]) = f.path_from_entry_mm {
        parts.push(format!("Along the path: {a:.0}–{b:.0} mm from the entry"));
    }
    parts.join("\n")
}

/// Coverage and margin per target, and the histogram of the first target's surface margins
/// with the goal of the rules.
fn margins(ui: &mut egui::Ui, report: &SafetyReport, goal_mm: Option<f64>, has_target: bool) {
    if !report.has_zone() {
        ui.label("Margin: not computed yet (the model has not finished for this plan).");
        return;
    }
    if report.margins.is_empty() {
        ui.label(empty_margin_text(has_target));
        return;
    }
    for m in &report.margins {
        let text = match m.min_margin_mm {
            Some(mm) => format!(
                "{} (±{:.1} mm)",
                crate::safety::margin::margin_sentence(&m.target, &m.zone, mm, m.coverage),
                m.error_bound_mm
            ),
            None => format!("{} in {}: the zone is empty", m.target, m.zone),
        };
        ui.label(text);
    }
    let Some(m) = report.margins.first() else { return };
    let bins = m.histogram(1.0, -10.0, 20.0);
    let bars: Vec<Bar> = bins
        .iter()
        .map(|b| {
            let mid = 0.5 * (b.lo_mm + b.hi_mm);
            Bar::new(mid, b.count as f64)
                .width(b.hi_mm - b.lo_mm)
                .fill(margin_colour(mid as f32, goal_mm))
        })
        .collect();
    Plot::new("margin_histogram")
        .height(110.0)
        .x_axis_label("margin (mm)")
        .allow_scroll(false)
        .show(ui, |plot| {
            plot.bar_chart(BarChart::new("surface voxels", bars));
            if let Some(g) = goal_mm {
                plot.vline(VLine::new(format!("{g:.0} mm"), g).color(Color32::WHITE));
            }
        });
}

/// What the margin column says without margins: ask for a target only when there is none.
pub fn empty_margin_text(has_target: bool) -> &'static str {
    if has_target {
        "Margin: no lethal zone to measure the target against yet."
    } else {
        "Margin: draw a Target structure to see the ablative margin."
    }
}

/// Red inside-out (< 0), amber short of the rules' goal, green at or beyond it (amber up to
/// any positive margin when the rules set no goal).
pub fn margin_colour(margin_mm: f32, goal_mm: Option<f64>) -> Color32 {
    if margin_mm < 0.0 {
        light_colour(Light::Red)
    } else if goal_mm.is_none_or(|g| (margin_mm as f64) < g) {
        light_colour(Light::Amber)
    } else {
        light_colour(Light::Green)
    }
}

/// What the slice views draw from the safety analysis.
pub struct SafetyOverlay<'a> {
    pub report: Option<&'a SafetyReport>,
    pub caliper: Option<&'a Caliper>,
    pub probes: &'a [crate::plan::probe::Probe],
    /// The margin goal of the rules (mm) the surface is coloured by.
    pub goal_mm: Option<f64>,
}

/// Draws the caliper, the target's margin-coloured surface in this slice and probe-path
/// findings. `project` maps LPS to the screen and the view's slice coordinate.
pub fn draw_in_view(
    painter: &egui::Painter,
    overlay: &SafetyOverlay<'_>,
    project: &dyn Fn(&PatientPos) -> (Pos2, f64),
    slice: f64,
    points_per_mm: f64,
    voxel_mm: f64,
) {
    if let Some(report) = overlay.report {
        if let Some(m) = report.margins.first() {
            let half = (0.5 * voxel_mm * points_per_mm).max(1.0) as f32;
            for s in &m.surface {
                let (p, s_slice) = project(&s.lps);
                if (s_slice - slice).abs() < 0.5 {
                    let r = egui::Rect::from_center_size(p, egui::vec2(2.0 * half, 2.0 * half));
                    painter.rect_filled(
                        r,
                        0.0,
                        margin_colour(s.margin_mm, overlay.goal_mm).gamma_multiply(0.9),
                    );
                }
            }
        }
        for f in &report.findings {
            let (Some(i), Some([a, b])) = (f.probe_index, f.path_from_entry_mm) else {
                continue;
            };
            let Some(probe) = overlay.probes.get(i) else {
                continue;
            };
            let Some(dir) = (probe.tip_lps - probe.entry_lps).try_normalize(1e-9) else {
                continue;
            };
            let (pa, _) = project(&(probe.entry_lps + dir * a));
            let (pb, _) = project(&(probe.entry_lps + dir * b));
            painter.line_segment(
                [pa, pb],
                Stroke::new(5.0, light_colour(f.light).gamma_multiply(0.8)),
            );
        }
    }
    if let Some(c) = overlay.caliper {
        let (a, _) = project(&c.a_lps);
        let (b, _) = project(&c.b_lps);
        let colour = Color32::from_rgb(255, 235, 90);
        painter.line_segment([a, b], Stroke::new(1.5, colour));
        for p in [a, b] {
            painter.circle_stroke(p, 3.0, Stroke::new(1.5, colour));
        }
        let mid = a + (b - a) * 0.5 + egui::vec2(6.0, -6.0);
        painter.text(
            mid,
            egui::Align2::LEFT_BOTTOM,
            &c.label,
            egui::FontId::proportional(13.0),
            colour,
        );
    }
}

/// The editable numbers of a check, by name.
fn limits_mut(check: &mut Check) -> Vec<(&'static str, &mut Sourced)> {
    match check {
        Check::ZoneDistance { below_mm, .. } => vec![("closer than (mm)", below_mm)],
        Check::Dissection {
            within_mm, goal_mm, ..
        } => vec![("within (mm)", within_mm), ("until (mm)", goal_mm)],
        Check::TargetMargin { margin_mm, .. } => vec![("margin (mm)", margin_mm)],
        Check::CurrentAbove { above_a } => vec![("above (A)", above_a)],
        Check::ThermalDose {
            cem43_min,
            max_temp_c,
            ..
        } => vec![("CEM43 (min)", cem43_min), ("peak (°C)", max_temp_c)],
        Check::InsideZone { .. } | Check::PathThrough { .. } => Vec::new(),
    }
}

/// The rules window: switch rules on and off and edit their limits; each with its source.
pub fn rules_window(app: &mut AblaApp, ctx: &egui::Context) {
    let mut open = app.safety.show_rules;
    if !open {
        return;
    }
    let Ok(current) = &app.safety.rules else {
        app.safety.show_rules = false;
        return;
    };
    let mut rules = current.as_ref().clone();
    let mut changed = false;
    let mut reset = false;
    egui::Window::new("Safety rules")
        .open(&mut open)
        .default_width(640.0)
        .default_height(520.0)
        .show(ctx, |ui| {
            ui.label("Saved with the case. Defaults: assets/safety_rules.json (REFERENCE.md §4).");
            if ui.button("Reset to the built-in rules").clicked() {
                reset = true;
            }
            egui::ScrollArea::vertical().show(ui, |ui| {
                for rule in &mut rules.rules {
                    ui.separator();
                    ui.horizontal(|ui| {
                        changed |= ui.checkbox(&mut rule.enabled, &rule.id).changed();
                        ui.colored_label(light_colour(rule.severity.light()), rule.severity.label());
                    });
                    ui.label(&rule.text);
                    ui.horizontal(|ui| {
                        for (name, limit) in limits_mut(&mut rule.check) {
                            let l = ui.label(format!("{name} ({})", rule.id));
                            changed |= ui
                                .add(
                                    egui::DragValue::new(&mut limit.value)
                                        .speed(0.1)
                                        .range(0.0..=200.0),
                                )
                                .labelled_by(l.id)
                                .changed();
                        }
                    });
                    ui.weak(format!("Source: {}", rule.source));
                }
            });
        });
    app.safety.show_rules = open;
    if reset {
        if let Ok(b) = builtin_rules() {
            app.commands.push(Command::SetRules(b));
        }
    } else if changed {
        app.commands.push(Command::SetRules(rules));
    }
}
