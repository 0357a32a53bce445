//! Review for trainees and tumour boards: the case library (a folder of cases, filtered and
//! sorted, opened read-only), the cohort's Kaplan–Meier curves with numbers at risk, the case
//! details and outcome form, and the review window that steps through a plan
//! (structures → probes → zone → findings) beside the teaching notes and compares the plan shown
//! with the case's reference plan.

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui::{self, Color32};
use egui_plot::{Legend, Line, Plot, PlotPoints};

pub use super::command::ReviewStep;
use super::{AblaApp, Command, OpenDialog};
use crate::geometry::VolumeGeometry;
use crate::plan::document::{CaseReview, ResultSummary};
use crate::render::isolines::mask_outline;
use crate::render::reslice::sample_lattice_with;
use crate::review::km::{Endpoint, GroupBy, cohort_curves};
use crate::review::library::{LibraryRow, SortKey, Unreadable, cohort, filter_and_sort, scan_library};
use crate::review::outcome::{CaseOutcome, CivilDate, ClavienDindo, Complication, SirGrade};
use crate::safety::Zone;
use crate::volume::SliceMapping;

/// Months at which the cohort view lists the numbers at risk.
const AT_RISK_MONTHS: [f64; 5] = [0.0, 6.0, 12.0, 24.0, 60.0];

/// Which layers the slice views draw. Everything outside review stepping; while the review
/// window steps through a plan, only what the step has reached (structures → probes → zone →
/// findings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerVisibility {
    pub structures: bool,
    pub probes: bool,
    /// The IRE zone or the cryo isotherms with their legends, and a compared plan's zone.
    pub zone: bool,
    /// The safety overlays: caliper, target outline coloured by margin, probe-path findings.
    pub findings: bool,
}

impl LayerVisibility {
    pub const ALL: LayerVisibility = LayerVisibility {
        structures: true,
        probes: true,
        zone: true,
        findings: true,
    };

    /// Every layer up to and including `step`.
    pub fn up_to(step: ReviewStep) -> LayerVisibility {
        let n = ReviewStep::ALL.iter().position(|s| *s == step).unwrap_or(3);
        LayerVisibility {
            structures: true,
            probes: n >= 1,
            zone: n >= 2,
            findings: n >= 3,
        }
    }
}

/// What the slice views drew in the last frame (any view), for tests and the review window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DrawnLayers {
    pub structures: bool,
    pub probes: bool,
    pub zone: bool,
    pub findings: bool,
    /// The outline of the compared plan's zone.
    pub compared_zone: bool,
}

/// The last full zone of a plan of the case (IRE zone, or the cryo lethal zone at its largest
/// extent), kept so that another plan can draw it over its own.
struct PlanZone {
    plan: usize,
    /// The volume generation it was computed on (another case or CT drops it).
    generation: u64,
    zone: Arc<Zone>,
}

/// The compared plan's zone, as the slice views draw it.
pub struct CompareOverlay {
    pub plan_name: String,
    pub zone: Arc<Zone>,
}

/// Colour of the compared plan's zone outline (distinct from the IRE orange and the cryo blues).
const COMPARE_RGB: Color32 = super::widgets::rgb(crate::render::palette::COMPARE_RGB);

/// State of the review windows (UI only; the case data lives in `CaseState`).
pub struct ReviewUi {
    pub show_library: bool,
    pub show_details: bool,
    pub show_review: bool,
    pub library_dir: Option<PathBuf>,
    pub rows: Vec<LibraryRow>,
    pub unreadable: Vec<Unreadable>,
    pub filter: String,
    pub sort: SortKey,
    pub descending: bool,
    pub group_by: GroupBy,
    pub endpoint: Endpoint,
    pub step: ReviewStep,
    /// The review window steps through the plan: the views show only what the step has reached.
    /// Off when the window closes or the user asks for every layer.
    pub stepping: bool,
    /// Draw the compared plan's zone over the current one.
    pub compare_overlay: bool,
    /// The plan compared with (`None`: the reference plan, else the first other plan).
    pub compare_with: Option<usize>,
    /// The last full zone of each plan seen in this session.
    plan_zones: Vec<PlanZone>,
    /// (generation, plan, IRE result id, cryo result id, plan revision) last looked at.
    zone_seen: Option<(u64, usize, u64, u64)>,
    /// Text being typed into date fields (applied when it parses).
    drafts: std::collections::BTreeMap<String, String>,
}

impl Default for ReviewUi {
    fn default() -> Self {
        Self {
            show_library: false,
            show_details: false,
            show_review: false,
            library_dir: None,
            rows: Vec::new(),
            unreadable: Vec::new(),
            filter: String::new(),
            sort: SortKey::Date,
            descending: true,
            group_by: GroupBy::Modality,
            endpoint: Endpoint::LocalProgression,
            step: ReviewStep::Structures,
            stepping: false,
            compare_overlay: false,
            compare_with: None,
            plan_zones: Vec::new(),
            zone_seen: None,
            drafts: Default::default(),
        }
    }
}

impl AblaApp {
    /// Lists the cases of `dir`.
    pub(super) fn load_library(&mut self, dir: PathBuf) {
        let Ok(catalog) = self.catalog.clone() else { return };
        match scan_library(&dir, &catalog) {
            Ok((rows, bad)) => {
                self.review.rows = rows;
                self.review.unreadable = bad;
                self.review.library_dir = Some(dir);
                self.review.show_library = true;
            }
            Err(e) => self.notify(
                super::NoticeLevel::Error,
                format!("Cannot list the case library {}: {e}", dir.display()),
            ),
        }
    }

    pub fn review_ui(&self) -> &ReviewUi {
        &self.review
    }

    /// The layers the slice views draw now.
    pub fn layers(&self) -> LayerVisibility {
        if self.review.show_review && self.review.stepping {
            LayerVisibility::up_to(self.review.step)
        } else {
            LayerVisibility::ALL
        }
    }

    /// What the slice views drew in the last frame.
    pub fn drawn_layers(&self) -> DrawnLayers {
        self.views.drawn
    }

    /// Keeps the active plan's zone when a full, current result of it arrives (once per result),
    /// for the comparison overlay of the other plans.
    pub(super) fn remember_plan_zone(&mut self) {
        let plan = self.case.active_plan();
        let key = (self.generation, plan, self.run.result_id, self.plan.revision());
        if self.review.zone_seen == Some(key) {
            return;
        }
        // The lethal zone (the last zone of a result: IRE zone, or the cryo lethal isotherm).
        let lethal_c = crate::pipeline::lethal_c(&self.plan.model_settings());
        let zone = self
            .run
            .current(self.plan.revision())
            .and_then(|r| Zone::of_result(r, lethal_c).pop());
        // Wait (without marking the key seen) while the result is missing or out of date.
        let Some(zone) = zone else { return };
        self.review.zone_seen = Some(key);
        let generation = self.generation;
        self.review
            .plan_zones
            .retain(|z| z.plan != plan && z.generation == generation);
        self.review.plan_zones.push(PlanZone {
            plan,
            generation,
            zone: Arc::new(zone),
        });
    }

    /// The plan the comparison overlay shows: the chosen one, else the reference plan, else the
    /// first other plan (never the plan shown).
    pub fn compared_plan(&self) -> Option<usize> {
        let active = self.case.active_plan();
        let n = self.case.plan_names().len();
        self.review
            .compare_with
            .or(self.case.review.reference_plan)
            .filter(|&i| i != active && i < n)
            .or_else(|| (0..n).find(|&i| i != active))
    }

    /// The zone the slice views draw for the comparison, when the overlay is on (from the
    /// comparison window) and the compared plan has a zone computed in this session.
    pub fn compare_overlay(&self) -> Option<CompareOverlay> {
        if !(self.review.show_review && self.review.compare_overlay && self.layers().zone) {
            return None;
        }
        let plan = self.compared_plan()?;
        let z = self
            .review
            .plan_zones
            .iter()
            .find(|z| z.plan == plan && z.generation == self.generation)?;
        Some(CompareOverlay {
            plan_name: self.case.plan_names().get(plan).cloned().unwrap_or_default(),
            zone: z.zone.clone(),
        })
    }

    fn has_plan_zone(&self, plan: usize) -> bool {
        self.review
            .plan_zones
            .iter()
            .any(|z| z.plan == plan && z.generation == self.generation)
    }
}

/// Draws the compared plan's zone outline in one slice view (sampled at the view's pixel centres
/// over the pixels its grid covers, nearest node) with a legend line at the top; whether any of
/// it crosses this slice.
pub fn draw_compare(
    painter: &egui::Painter,
    overlay: &CompareOverlay,
    g: &VolumeGeometry,
    m: &SliceMapping,
    slice: usize,
    to_screen: &dyn Fn(f64, f64) -> [f64; 2],
    rect: egui::Rect,
) -> bool {
    let zone = &overlay.zone;
    if !zone.is_consistent() {
        return false;
    }
    let Some([u0, v0, u1, v1]) = super::plan_draw::covered_pixels(&zone.grid, g, m, slice) else {
        return false;
    };
    let (w, h) = (u1 - u0, v1 - v0);
    let lps = |u: f64, v: f64| g.to_patient(&m.voxel_of_pixel(u, v, slice as f64));
    let origin = lps(u0 as f64 + 0.5, v0 as f64 + 0.5);
    let du = lps(u0 as f64 + 1.5, v0 as f64 + 0.5) - origin;
    let dv = lps(u0 as f64 + 0.5, v0 as f64 + 1.5) - origin;
    let flags = sample_lattice_with(&origin, &du, &dv, [w, h], |p| {
        zone.grid
            .nearest(&p)
            .is_some_and(|[i, j, k]| zone.inside[zone.grid.index(i, j, k)])
    });
    if !flags.iter().any(|f| *f) {
        return false;
    }
    let stroke = egui::Stroke::new(2.0, COMPARE_RGB);
    for [a, b] in mask_outline(&flags, w, h) {
        let p = |q: [f32; 2]| {
            let s = to_screen(
                f64::from(q[0]) + u0 as f64 + 0.5,
                f64::from(q[1]) + v0 as f64 + 0.5,
            );
            egui::Pos2::new(s[0] as f32, s[1] as f32)
        };
        painter.line_segment([p(a), p(b)], stroke);
    }
    super::widgets::shadow_text(
        painter,
        egui::Pos2::new(rect.center().x, rect.min.y + 26.0),
        egui::Align2::CENTER_TOP,
        &format!("— {} zone (compared)", overlay.plan_name),
        12.0,
        COMPARE_RGB,
    );
    true
}

/// The review windows.
pub fn windows(app: &mut AblaApp, ctx: &egui::Context) {
    let mut cmds = Vec::new();
    library_window(app, ctx, &mut cmds);
    details_window(app, ctx, &mut cmds);
    review_window(app, ctx, &mut cmds);
    app.commands.extend(cmds);
}

fn library_window(app: &mut AblaApp, ctx: &egui::Context, cmds: &mut Vec<Command>) {
    let mut open = app.review.show_library;
    if !open {
        return;
    }
    egui::Window::new("Case library")
        .open(&mut open)
        .default_width(900.0)
        .default_height(560.0)
        .show(ctx, |ui| {
            let r = &mut app.review;
            ui.horizontal(|ui| {
                if ui.button("Choose folder…").clicked() {
                    cmds.push(Command::OpenDialog(OpenDialog::Library));
                }
                if let Some(d) = &r.library_dir {
                    ui.label(d.display().to_string());
                    if ui.button("Reload").clicked() {
                        cmds.push(Command::OpenLibrary(d.clone()));
                    }
                }
                let label = ui.label("Filter");
                ui.add(egui::TextEdit::singleline(&mut r.filter).desired_width(180.0))
                    .labelled_by(label.id);
            });
            let shown = filter_and_sort(&r.rows, &r.filter, r.sort, r.descending);
            ui.label(format!("{} of {} case(s)", shown.len(), r.rows.len()));
            egui::ScrollArea::vertical().max_height(300.0).show(ui, |ui| {
                egui::Grid::new("library").striped(true).show(ui, |ui| {
                    for (key, title) in [
                        (SortKey::Date, "Date"),
                        (SortKey::Name, "Case"),
                        (SortKey::Modality, "Modality"),
                        (SortKey::Site, "Site"),
                        (SortKey::Probes, "Probes"),
                        (SortKey::Finding, "Worst finding"),
                        (SortKey::Margin, "Margin"),
                    ] {
                        let arrow = match (r.sort == key, r.descending) {
                            (true, true) => " v",
                            (true, false) => " ^",
                            _ => "",
                        };
                        if ui.button(format!("{title}{arrow}")).clicked() {
                            r.descending = if r.sort == key { !r.descending } else { false };
                            r.sort = key;
                        }
                    }
                    ui.label("Success");
                    ui.label("Local");
                    ui.label("File");
                    ui.label("");
                    ui.end_row();
                    for &i in &shown {
                        let row = &r.rows[i];
                        ui.label(&row.date);
                        ui.label(&row.name);
                        ui.label(&row.modality);
                        ui.label(&row.site);
                        ui.label(format!("{} ({} plan(s))", row.n_probes, row.n_plans));
                        ui.label(&row.worst_finding);
                        ui.label(row.margin_mm.map_or("—".into(), |m| format!("{m:.1} mm")));
                        ui.label(match row.technical_success {
                            Some(true) => "yes",
                            Some(false) => "no",
                            None => "—",
                        });
                        ui.label(&row.local_status);
                        // Two cases may share a name; their files never do.
                        let file = row.path.file_name().map_or_else(
                            || row.path.display().to_string(),
                            |f| f.to_string_lossy().into_owned(),
                        );
                        ui.label(&file);
                        if ui.button(format!("Review {file}")).clicked() {
                            cmds.push(Command::OpenCaseReadOnly(row.path.clone()));
                        }
                        ui.end_row();
                    }
                });
            });
            for b in &r.unreadable {
                ui.colored_label(
                    egui::Color32::from_rgb(220, 120, 60),
                    format!("Not listed: {} — {}", b.path.display(), b.reason),
                );
            }
            ui.separator();
            cohort_view(ui, r, &shown);
        });
    app.review.show_library = open;
}

/// Colours of the cohort curves (one per group).
const KM_COLOURS: [Color32; 4] = [
    Color32::from_rgb(90, 170, 255),
    Color32::from_rgb(255, 170, 60),
    Color32::from_rgb(120, 220, 120),
    Color32::from_rgb(230, 110, 200),
];

fn cohort_view(ui: &mut egui::Ui, r: &mut ReviewUi, shown: &[usize]) {
    ui.horizontal(|ui| {
        ui.label("Kaplan–Meier:");
        ui.selectable_value(&mut r.endpoint, Endpoint::LocalProgression, "Local PFS");
        ui.selectable_value(&mut r.endpoint, Endpoint::DistantProgression, "Distant PFS");
        ui.separator();
        ui.label("by");
        ui.selectable_value(&mut r.group_by, GroupBy::All, "All");
        ui.selectable_value(&mut r.group_by, GroupBy::Modality, "Modality");
        ui.selectable_value(&mut r.group_by, GroupBy::Site, "Site");
    });
    let cases = cohort(&r.rows, shown);
    let days: Vec<f64> = AT_RISK_MONTHS
        .iter()
        .map(|m| m * crate::review::DAYS_PER_MONTH)
        .collect();
    let curves = match cohort_curves(&cases, r.group_by, r.endpoint, &days, 0.95) {
        Ok(c) => c,
        Err(e) => {
            ui.label(format!("No curve: {e}"));
            return;
        }
    };
    if curves.curves.is_empty() {
        ui.label("No case in the list has outcome data with follow-up.");
        return;
    }
    let month = 1.0 / crate::review::DAYS_PER_MONTH;
    Plot::new("km_plot")
        .height(200.0)
        .legend(Legend::default().position(egui_plot::Corner::LeftBottom))
        .x_axis_label("months")
        .y_axis_label("progression-free")
        .include_y(0.0)
        .include_y(1.0)
        .show(ui, |plot| {
            for (i, c) in curves.curves.iter().enumerate() {
                let colour = KM_COLOURS[i % KM_COLOURS.len()];
                let (xs, lo, hi) = c.km.ci_band(month);
                plot.add(
                    egui_plot::FilledArea::new(format!("{} 95 % CI", c.label), &xs, &lo, &hi)
                        .fill_color(colour.gamma_multiply(0.18)),
                );
                // No band aggregation: a step curve's vertical drops share their x, which the
                // plot would otherwise merge into a filled wedge.
                let pts = PlotPoints::from(c.km.step_points(month));
                plot.line(
                    Line::new(c.label.clone(), pts)
                        .allow_band(false)
                        .color(colour)
                        .width(2.0),
                );
                let marks = c.km.censor_marks(month);
                if !marks.is_empty() {
                    plot.points(
                        egui_plot::Points::new(format!("{} censored", c.label), marks)
                            .shape(egui_plot::MarkerShape::Plus)
                            .radius(5.0)
                            .color(colour),
                    );
                }
            }
        });
    egui::Grid::new("at_risk").show(ui, |ui| {
        ui.label("At risk");
        for m in AT_RISK_MONTHS {
            ui.label(format!("{m:.0} mo"));
        }
        ui.end_row();
        for c in &curves.curves {
            ui.label(&c.label);
            for (_, n) in &c.at_risk {
                ui.label(n.to_string());
            }
            ui.end_row();
        }
    });
    if curves.without_follow_up > 0 {
        ui.label(format!(
            "{} case(s) without follow-up are not in the curves.",
            curves.without_follow_up
        ));
    }
}

/// Case name, site, teaching notes, reference plan and the outcome form.
fn details_window(app: &mut AblaApp, ctx: &egui::Context, cmds: &mut Vec<Command>) {
    let mut open = app.review.show_details;
    if !open {
        return;
    }
    let read_only = app.case.read_only;
    let mut name = app.case.name.clone();
    let mut review = app.case.review.clone();
    let plans = app.case.plan_names();
    let mut changed = false;
    egui::Window::new("Case details and outcome")
        .open(&mut open)
        .default_width(520.0)
        .show(ctx, |ui| {
            ui.add_enabled_ui(!read_only, |ui| {
                egui::Grid::new("case_details").num_columns(2).show(ui, |ui| {
                    let l = ui.label("Case name");
                    changed |= ui.text_edit_singleline(&mut name).labelled_by(l.id).changed();
                    ui.end_row();
                    let l = ui.label("Target site");
                    changed |= ui
                        .text_edit_singleline(&mut review.target_site)
                        .labelled_by(l.id)
                        .changed();
                    ui.end_row();
                    let l = ui.label("Reference plan");
                    let current = review
                        .reference_plan
                        .and_then(|i| plans.get(i).cloned())
                        .unwrap_or_else(|| "none".into());
                    egui::ComboBox::from_id_salt("reference_plan")
                        .selected_text(current)
                        .show_ui(ui, |ui| {
                            changed |= ui
                                .selectable_value(&mut review.reference_plan, None, "none")
                                .changed();
                            for (i, p) in plans.iter().enumerate() {
                                changed |= ui
                                    .selectable_value(&mut review.reference_plan, Some(i), p)
                                    .changed();
                            }
                        })
                        .response
                        .labelled_by(l.id);
                    ui.end_row();
                });
                let l = ui.label("Teaching notes");
                changed |= ui
                    .add(egui::TextEdit::multiline(&mut review.teaching_notes).desired_rows(4))
                    .labelled_by(l.id)
                    .changed();
                ui.separator();
                changed |= outcome_form(ui, &mut review, &mut app.review.drafts);
            });
        });
    app.review.show_details = open;
    if changed && !read_only {
        cmds.push(Command::SetCaseDetails { name, review });
    }
}

/// A date field: typed text is kept as a draft and applied when it parses (empty = none).
fn date_field(
    ui: &mut egui::Ui,
    label: &str,
    value: &mut Option<CivilDate>,
    drafts: &mut std::collections::BTreeMap<String, String>,
) -> bool {
    let l = ui.label(label);
    let draft = drafts
        .entry(label.to_string())
        .or_insert_with(|| value.map(|d| d.to_string()).unwrap_or_default());
    let resp = ui.add(
        egui::TextEdit::singleline(draft)
            .hint_text("YYYY-MM-DD")
            .desired_width(110.0),
    );
    let resp = resp.labelled_by(l.id);
    let mut changed = false;
    if resp.changed() {
        if draft.trim().is_empty() {
            changed = value.is_some();
            *value = None;
        } else if let Ok(d) = CivilDate::parse(draft.trim()) {
            changed = *value != Some(d);
            *value = Some(d);
        }
    }
    if !draft.trim().is_empty() && CivilDate::parse(draft.trim()).is_err() {
        ui.colored_label(egui::Color32::from_rgb(230, 90, 70), "not a date");
    }
    changed
}

fn outcome_form(
    ui: &mut egui::Ui,
    review: &mut CaseReview,
    drafts: &mut std::collections::BTreeMap<String, String>,
) -> bool {
    ui.strong("Outcome");
    let mut changed = false;
    let mut procedure = review.outcome.as_ref().map(|o| o.procedure_date);
    ui.horizontal(|ui| changed |= date_field(ui, "Procedure date", &mut procedure, drafts));
    match (procedure, &mut review.outcome) {
        (None, o) => {
            if o.is_some() {
                *o = None;
                changed = true;
            }
            ui.label("Enter the procedure date to record the outcome.");
            return changed;
        }
        (Some(d), o @ None) => {
            *o = Some(CaseOutcome::new(d));
            changed = true;
        }
        (Some(d), Some(o)) => {
            if o.procedure_date != d {
                o.procedure_date = d;
                changed = true;
            }
        }
    }
    let Some(o) = review.outcome.as_mut() else {
        return changed;
    };
    ui.horizontal(|ui| {
        let l = ui.label("Minimal margin (mm)");
        let mut m = o.min_margin_mm.unwrap_or(f64::NAN);
        let mut has = o.min_margin_mm.is_some();
        changed |= ui.checkbox(&mut has, "").labelled_by(l.id).changed();
        if has {
            if m.is_nan() {
                m = 0.0;
            }
            changed |= ui
                .add(egui::DragValue::new(&mut m).speed(0.1).suffix(" mm"))
                .changed();
            o.min_margin_mm = Some(m);
        } else {
            o.min_margin_mm = None;
        }
        let derived = o.derived_technical_success();
        ui.label(match o.technical_success() {
            Some(true) => "technical success",
            Some(false) => "not a technical success",
            None => "success: enter a margin",
        });
        if o.technical_success_disagrees() {
            ui.colored_label(
                egui::Color32::from_rgb(230, 160, 60),
                format!("entered success differs from the margin rule ({derived:?})"),
            );
        }
    });
    ui.horizontal(|ui| {
        changed |= date_field(ui, "Local progression", &mut o.local_progression, drafts);
        changed |= date_field(ui, "Distant progression", &mut o.distant_progression, drafts);
    });
    ui.horizontal(|ui| {
        let l = ui.label("Follow-up dates");
        let key = "Follow-up dates".to_string();
        let draft = drafts.entry(key).or_insert_with(|| {
            o.follow_up_dates
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        });
        if ui
            .add(egui::TextEdit::singleline(draft).hint_text("YYYY-MM-DD, …"))
            .labelled_by(l.id)
            .changed()
        {
            let parsed: Result<Vec<CivilDate>, _> = draft
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(CivilDate::parse)
                .collect();
            if let Ok(mut dates) = parsed {
                dates.sort();
                changed |= dates != o.follow_up_dates;
                o.follow_up_dates = dates;
            }
        }
    });
    ui.label("Complications");
    let mut remove = None;
    for (i, c) in o.complications.iter_mut().enumerate() {
        ui.horizontal(|ui| {
            let l = ui.label(format!("Complication {}", i + 1));
            changed |= ui
                .add(egui::TextEdit::singleline(&mut c.description).desired_width(160.0))
                .labelled_by(l.id)
                .changed();
            egui::ComboBox::from_id_salt(("cd", i))
                .selected_text(c.clavien_dindo.map_or("Clavien–Dindo", |g| g.label()))
                .show_ui(ui, |ui| {
                    for g in ClavienDindo::ALL {
                        changed |= ui
                            .selectable_value(&mut c.clavien_dindo, Some(g), g.label())
                            .changed();
                    }
                });
            egui::ComboBox::from_id_salt(("sir", i))
                .selected_text(c.sir.map_or("SIR grade", |g| g.label()))
                .show_ui(ui, |ui| {
                    for g in SirGrade::ALL {
                        changed |= ui.selectable_value(&mut c.sir, Some(g), g.label()).changed();
                    }
                });
            if ui.button(format!("Remove complication {}", i + 1)).clicked() {
                remove = Some(i);
            }
        });
    }
    if let Some(i) = remove {
        o.complications.remove(i);
        changed = true;
    }
    if ui.button("Add complication").clicked() {
        o.complications.push(Complication {
            description: String::new(),
            clavien_dindo: None,
            sir: None,
            date: None,
        });
        changed = true;
    }
    if let Err(e) = o.validate() {
        ui.colored_label(egui::Color32::from_rgb(230, 90, 70), e.to_string());
    }
    changed
}

/// Step through the plan with the teaching notes; compare with the reference plan.
fn review_window(app: &mut AblaApp, ctx: &egui::Context, cmds: &mut Vec<Command>) {
    let mut open = app.review.show_review;
    if !open {
        return;
    }
    egui::Window::new("Review")
        .open(&mut open)
        .default_width(520.0)
        .show(ctx, |ui| {
            if app.case.read_only {
                ui.colored_label(
                    egui::Color32::from_rgb(120, 180, 240),
                    "Read-only review: the case cannot be changed",
                );
            }
            ui.horizontal(|ui| {
                for s in ReviewStep::ALL {
                    let on = app.review.stepping && app.review.step == s;
                    if ui.selectable_label(on, s.label()).clicked() {
                        cmds.push(Command::ReviewStep(s));
                    }
                }
            });
            // Stepping hides the layers of later steps; this gives them all back.
            ui.checkbox(
                &mut app.review.stepping,
                "Step through: show only what the step has reached",
            );
            ui.separator();
            match app.review.step {
                ReviewStep::Structures => {
                    for s in &app.structures.items {
                        ui.label(format!(
                            "{} ({}): {:.1} mL",
                            s.name,
                            s.kind.label(),
                            app.volume().map_or(0.0, |v| s.volume_ml(v.geometry.spacing_mm))
                        ));
                    }
                }
                ReviewStep::Probes => {
                    for (i, p) in app.plan.probes.iter().enumerate() {
                        ui.label(format!(
                            "Probe {}: {}, exposure {:.0} mm",
                            app.plan.label(i),
                            p.model_id,
                            p.exposure_mm
                        ));
                    }
                    for pair in app.plan.ire().map_or(&[][..], |p| &p.settings.pairs) {
                        ui.label(format!(
                            "Pair {}–{}: {:.0} V",
                            app.plan.label(pair.a),
                            app.plan.label(pair.b),
                            pair.voltage_v
                        ));
                    }
                }
                ReviewStep::Zone if app.is_cryo_plan() => match app.cryo_result() {
                    Some(r) => {
                        let last = r.last_snapshot();
                        let size = |t: f64| r.volume_ml(&r.reached_mask(last, t));
                        ui.label(&r.description);
                        ui.label(format!(
                            "Largest extent over the protocol: iceball (0 °C) {:.1} mL, −20 °C {:.1} mL, \
                             lethal (≤ {:.0} °C) {:.1} mL",
                            size(0.0),
                            size(-20.0),
                            r.lethal_isotherm_c,
                            size(r.lethal_isotherm_c)
                        ));
                    }
                    None => {
                        ui.label("No iceball computed yet for this plan.");
                    }
                },
                ReviewStep::Zone => match app.ire_result() {
                    Some(r) => {
                        ui.label(format!("{}: zone {:.2} mL", r.description, r.zone_volume_ml));
                        ui.label(format!(
                            "Highest pair current {:.1} A (limit 48 A)",
                            r.max_current_a()
                        ));
                    }
                    None => {
                        ui.label("No zone computed yet for this plan.");
                    }
                },
                ReviewStep::Findings => {
                    let saved = app.case.results_of(app.case.active_plan());
                    match saved.map(|r| &r.findings) {
                        Some(f) if !f.is_empty() => {
                            for (sev, text) in f {
                                ui.label(format!("{sev}: {text}"));
                            }
                        }
                        _ => {
                            ui.label("No safety findings recorded for this plan.");
                        }
                    }
                }
            }
            ui.separator();
            ui.strong("Teaching notes");
            if app.case.review.teaching_notes.is_empty() {
                ui.label("(none)");
            } else {
                ui.label(&app.case.review.teaching_notes);
            }
            compare_with_reference(ui, app);
        });
    app.review.show_review = open;
    if !open {
        // Leaving review mode gives the views every layer back.
        app.review.stepping = false;
    }
}

/// One line of the comparison table from a plan's result summary.
type Describe = dyn Fn(&ResultSummary) -> String;

/// Every plan of the case side by side (the plan shown first, the reference marked), from the
/// last full result of each plan: zone, extents, current, margin and findings; and the overlay of
/// the compared plan's zone in the slice views.
fn compare_with_reference(ui: &mut egui::Ui, app: &mut AblaApp) {
    let names = app.case.plan_names();
    let reference = app.case.review.reference_plan;
    if names.len() < 2 && reference.is_none() {
        return;
    }
    let active = app.case.active_plan();
    let mut order: Vec<usize> = vec![active];
    order.extend((0..names.len()).filter(|&i| i != active));
    ui.separator();
    ui.strong(if reference.is_some() {
        "Compared with the reference plan"
    } else {
        "Plans compared"
    });
    // The compared plan's zone drawn over the current one in the slice views.
    if let Some(other) = app.compared_plan() {
        ui.horizontal(|ui| {
            let other_name = names.get(other).cloned().unwrap_or_default();
            ui.checkbox(
                &mut app.review.compare_overlay,
                "Overlay the compared plan's zone",
            );
            egui::ComboBox::from_id_salt("compare_with")
                .selected_text(other_name)
                .show_ui(ui, |ui| {
                    for (i, n) in names.iter().enumerate().filter(|(i, _)| *i != active) {
                        if ui.selectable_label(i == other, n).clicked() {
                            app.review.compare_with = Some(i);
                        }
                    }
                });
            if app.review.compare_overlay {
                if app.has_plan_zone(other) {
                    ui.colored_label(COMPARE_RGB, "— outline in the views");
                } else {
                    ui.label("no zone yet: show that plan once to compute it");
                }
            }
        });
    }
    let cell = |r: Option<&ResultSummary>, f: &Describe| r.map_or("not computed".into(), f);
    egui::Grid::new("compare").striped(true).show(ui, |ui| {
        ui.label("");
        for &i in &order {
            let name = names.get(i).cloned().unwrap_or_default();
            ui.label(if Some(i) == reference {
                format!("{name} (reference)")
            } else {
                name
            });
        }
        ui.end_row();
        let rows: [(&str, &Describe); 7] = [
            ("Modality", &|r| r.modality.to_uppercase()),
            ("Zone", &|r| format!("{:.2} mL", r.zone_volume_ml)),
            ("Extents", &|r| {
                format!(
                    "{:.0} × {:.0} × {:.0} mm",
                    r.extents_mm[0], r.extents_mm[1], r.extents_mm[2]
                )
            }),
            ("Max current", &|r| {
                r.max_current_a.map_or("—".into(), |a| format!("{a:.1} A"))
            }),
            ("Margin", &|r| {
                r.min_margin_mm.map_or("—".into(), |m| format!("{m:.1} mm"))
            }),
            ("Findings", &|r| r.findings.len().to_string()),
            ("Worst findings", &|r| {
                if r.findings.is_empty() {
                    return "none".into();
                }
                let mut lines: Vec<String> = r
                    .findings
                    .iter()
                    .take(3)
                    .map(|(sev, text)| {
                        // Long findings are cut so that the table keeps its width.
                        let short: String = text.chars().take(70).collect();
                        let cut = if text.chars().count() > 70 { "…" } else { "" };
                        format!("{sev}: {short}{cut}")
                    })
                    .collect();
                if r.findings.len() > 3 {
                    lines.push(format!("… {} more", r.findings.len() - 3));
                }
                lines.join("\n")
            }),
        ];
        for (title, f) in rows {
            ui.label(title);
            for &i in &order {
                ui.label(cell(app.case.results_of(i), f));
            }
            ui.end_row();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_shows_what_it_has_reached() {
        let l = |s| LayerVisibility::up_to(s);
        assert_eq!(
            l(ReviewStep::Structures),
            LayerVisibility {
                structures: true,
                probes: false,
                zone: false,
                findings: false
            }
        );
        assert!(l(ReviewStep::Probes).probes && !l(ReviewStep::Probes).zone);
        assert!(l(ReviewStep::Zone).zone && !l(ReviewStep::Zone).findings);
        assert_eq!(l(ReviewStep::Findings), LayerVisibility::ALL);
        // Each step shows everything the previous one did.
        for w in ReviewStep::ALL.windows(2) {
            let (a, b) = (l(w[0]), l(w[1]));
            assert!(b.structures >= a.structures && b.probes >= a.probes);
            assert!(b.zone >= a.zone && b.findings >= a.findings);
        }
    }
}
