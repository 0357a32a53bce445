//! The desktop application: the only module that imports eframe / egui / egui_plot / rfd.
//!
//! Frame loop: `logic` polls background jobs and files dropped on the window; `ui` draws the
//! panels and views, which turn input into [`Command`]s; commands are applied in one place
//! ([`AblaApp::apply`]) at the end of the frame.

mod case_io;
mod command;
mod cryo_ui;
mod export_ui;
mod import;
mod panels;
pub mod plan;
mod plan_draw;
mod plan_panel;
pub mod probe_view;
pub mod review;
mod run;
mod safety_ui;
pub mod settings;
pub mod structures;
mod tools;
pub mod viewer;
mod views;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use eframe::egui;

pub use command::{Command, OpenDialog, Tool};
pub use import::Prompt;
pub use run::{RunStatus, SnapshotGate};
use settings::{Settings, WlPreset};
use viewer::{Viewer, Window};

use crate::anatomy::Structure;
use crate::dicom::{self, DicomError, LoadedSeries, ScanReport, SeriesReport};
use crate::jobs::{Job, Progress};
use crate::physics::ire::model::IreResult;
use crate::plan::catalog::{Catalog, Modality};
use crate::plan::tissue_params::TissueParams;
use crate::volume::{SliceImage, ViewKind, Volume};

/// Brush settings for painting structures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Brush {
    pub radius_mm: f64,
    /// A sphere through neighbouring slices instead of a disc in the view plane.
    pub sphere: bool,
}

impl Default for Brush {
    fn default() -> Self {
        Self {
            radius_mm: 4.0,
            sphere: false,
        }
    }
}

/// What to show at start.
#[derive(Clone, Debug, Default)]
pub struct StartupOptions {
    /// A DICOM folder, file, DICOMDIR or case file to open; the demo case when `None`.
    pub open: Option<PathBuf>,
    /// Folder of the autosave / recovery files; `None` = no autosave (tests). The GUI uses the
    /// settings folder.
    pub recovery_dir: Option<PathBuf>,
}

/// The volume on screen and where it came from.
pub struct Loaded {
    pub volume: Arc<Volume>,
    pub report: SeriesReport,
    pub source: String,
    /// Bumped on every load so cached textures are never reused across volumes.
    pub generation: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeLevel {
    Info,
    Warning,
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub level: NoticeLevel,
    pub text: String,
}

/// A loaded series plus the structures that come with it (the demo's built-in anatomy).
type LoadResult = Result<(LoadedSeries, Vec<crate::anatomy::Structure>), DicomError>;

const DEMO_SOURCE: &str = "Built-in demo case";

struct ScanJob {
    job: Job<Result<ScanReport, DicomError>>,
    paths: Vec<PathBuf>,
}

/// Which edit history an undo step belongs to: structures and the plan keep their own stacks,
/// this list remembers their order so Ctrl+Z undoes the last edit of either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Domain {
    Structures,
    Plan,
}

/// Bound on the unified history (each domain bounds its own stack too).
const MAX_HISTORY: usize = 400;

struct LoadJob {
    job: Job<LoadResult>,
    source: String,
}

/// Series picker shown when a scan finds several image series.
struct Picker {
    thumbnails: Vec<Thumb>,
}

enum Thumb {
    Pending(Job<Result<SliceImage, DicomError>>),
    Ready(egui::TextureHandle),
    Failed(String),
}

pub struct AblaApp {
    settings: Settings,
    loaded: Option<Loaded>,
    viewer: Option<Viewer>,
    generation: u64,
    last_scan: Option<ScanReport>,
    last_scan_source: String,
    scan_job: Option<ScanJob>,
    load_job: Option<LoadJob>,
    picker: Option<Picker>,
    notices: Vec<Notice>,
    commands: Vec<Command>,
    tool: Tool,
    show_report: bool,
    show_settings: bool,
    preset_draft: Vec<WlPreset>,
    views: views::ViewCache,
    structures: structures::StructureSet,
    brush: Brush,
    click_tools: tools::ClickTools,
    import_job: Option<Job<import::ImportOutcome>>,
    prompt: Option<import::Prompt>,
    /// Messages of structure imports, shown in the series report.
    import_log: Vec<String>,
    dialog: Option<(std::sync::mpsc::Receiver<Vec<PathBuf>>, OpenDialog)>,
    // ----- plan (probes, IRE) -----
    plan: plan::PlanState,
    /// The one model run (IRE or cryo), its time slider and caches.
    run: run::ModelRun,
    /// The catalog model the probe tool and the array template place; `None` = the first IRE
    /// electrode.
    probe_model: Option<String>,
    array: plan::ArrayOptions,
    catalog: Result<Arc<Catalog>, String>,
    tissue: Result<Arc<TissueParams>, String>,
    history: Vec<Domain>,
    future: Vec<Domain>,
    /// Edit counts of (structures, plan) already entered in `history`.
    seen_edits: (u64, u64),
    show_plan_panel: bool,
    show_probe_view: bool,
    probe_view: probe_view::ProbeView,
    profile_pair: usize,
    case: case_io::CaseState,
    review: review::ReviewUi,
    safety: safety_ui::SafetyRun,
    export: export_ui::ExportRun,
    ctx: egui::Context,
}

impl AblaApp {
    pub fn new(cc: &eframe::CreationContext<'_>, mut opts: StartupOptions) -> Self {
        if opts.recovery_dir.is_none() {
            opts.recovery_dir = eframe::storage_dir("ablaplan").map(|d| d.join("recovery"));
        }
        let settings = cc
            .storage
            .and_then(|s| eframe::get_value::<Settings>(s, settings::STORAGE_KEY))
            .unwrap_or_default();
        Self::with_settings(cc.egui_ctx.clone(), settings, opts)
    }

    /// Construct with explicit settings (tests, or when no storage is available).
    pub fn with_settings(ctx: egui::Context, settings: Settings, opts: StartupOptions) -> Self {
        let mut app = Self {
            preset_draft: settings.presets.clone(),
            settings,
            loaded: None,
            viewer: None,
            generation: 0,
            last_scan: None,
            last_scan_source: String::new(),
            scan_job: None,
            load_job: None,
            picker: None,
            notices: Vec::new(),
            commands: Vec::new(),
            tool: Tool::Navigate,
            show_report: false,
            show_settings: false,
            views: views::ViewCache::default(),
            structures: structures::StructureSet::default(),
            brush: Brush::default(),
            click_tools: tools::ClickTools::default(),
            import_job: None,
            prompt: None,
            import_log: Vec::new(),
            dialog: None,
            plan: plan::PlanState::default(),
            run: run::ModelRun::default(),
            probe_model: None,
            array: plan::ArrayOptions::default(),
            catalog: crate::plan::catalog::builtin_catalog()
                .map(Arc::new)
                .map_err(|e| e.to_string()),
            tissue: crate::plan::tissue_params::builtin_tissue_params()
                .map(Arc::new)
                .map_err(|e| e.to_string()),
            history: Vec::new(),
            future: Vec::new(),
            seen_edits: (0, 0),
            show_plan_panel: true,
            show_probe_view: false,
            probe_view: probe_view::ProbeView::default(),
            profile_pair: 0,
            case: case_io::CaseState::default(),
            review: review::ReviewUi::default(),
            safety: safety_ui::SafetyRun::default(),
            export: export_ui::ExportRun::default(),
            ctx,
        };
        for e in [app.catalog.as_ref().err(), app.tissue.as_ref().err()]
            .into_iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
        {
            app.notify(NoticeLevel::Error, e);
        }
        if let Some(dir) = opts.recovery_dir {
            app.start_recovery(dir);
        }
        match opts.open {
            Some(p) => app.apply(Command::Open(vec![p])),
            None => app.apply(Command::OpenDemo),
        }
        app
    }

    // ----- read access for tests and panels -----

    pub fn volume(&self) -> Option<&Arc<Volume>> {
        self.loaded.as_ref().map(|l| &l.volume)
    }
    pub fn loaded(&self) -> Option<&Loaded> {
        self.loaded.as_ref()
    }
    pub fn viewer(&self) -> Option<&Viewer> {
        self.viewer.as_ref()
    }
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    pub fn notices(&self) -> &[Notice] {
        &self.notices
    }
    pub fn last_scan(&self) -> Option<&ScanReport> {
        self.last_scan.as_ref()
    }
    pub fn is_busy(&self) -> bool {
        self.scan_job.is_some()
            || self.load_job.is_some()
            || self.export.running()
            || self.import_job.is_some()
            || self.click_tools.grow.job.is_some()
    }
    pub fn picker_open(&self) -> bool {
        self.picker.is_some()
    }
    pub fn structures(&self) -> &structures::StructureSet {
        &self.structures
    }
    pub fn tool(&self) -> Tool {
        self.tool
    }
    /// Slice index currently shown in `view`.
    pub fn slice_index(&self, view: ViewKind) -> Option<usize> {
        let vol = self.volume()?;
        let v = self.viewer.as_ref()?;
        Some(v.slice_index(&vol.view_mapping(view)))
    }

    /// The plan: probes, IRE settings, model options, selection.
    pub fn plan(&self) -> &plan::PlanState {
        &self.plan
    }
    /// The along-probe view's state (angle, depth, zoom, what it drew).
    pub fn probe_view(&self) -> &probe_view::ProbeView {
        &self.probe_view
    }
    /// What the IRE panel says about the model.
    /// What the model run says (either modality).
    pub fn model_status(&self) -> &RunStatus {
        &self.run.status
    }
    /// The IRE zone shown (the drag preview, else the full result), if any.
    pub fn ire_result(&self) -> Option<&IreResult> {
        self.run.ire_shown()
    }
    /// Whether the full model is running in the background.
    pub fn model_running(&self) -> bool {
        self.run.running()
    }
    pub fn array_options(&self) -> plan::ArrayOptions {
        self.array
    }
    /// Whether Ctrl+Z / Ctrl+Y have something to do.
    pub fn can_undo(&self) -> bool {
        !self.history.is_empty()
    }
    pub fn can_redo(&self) -> bool {
        !self.future.is_empty()
    }

    /// Queue a command (applied at the end of the frame).
    pub fn push(&mut self, cmd: Command) {
        self.commands.push(cmd);
    }

    fn notify(&mut self, level: NoticeLevel, text: impl Into<String>) {
        let text = text.into();
        match level {
            NoticeLevel::Error => log::error!("{text}"),
            NoticeLevel::Warning => log::warn!("{text}"),
            NoticeLevel::Info => log::info!("{text}"),
        }
        self.notices.push(Notice { level, text });
        // Keep the status area bounded.
        if self.notices.len() > 20 {
            self.notices.remove(0);
        }
    }

    fn progress(&self) -> Progress {
        let ctx = self.ctx.clone();
        Progress::with_waker(move || ctx.request_repaint())
    }

    fn fallback_window(&self) -> (Window, String) {
        let p = self
            .settings
            .presets
            .iter()
            .find(|p| p.name == "Abdomen")
            .or(self.settings.presets.first());
        match p {
            Some(p) => (
                Window {
                    center_hu: p.center_hu,
                    width_hu: p.width_hu,
                },
                p.name.clone(),
            ),
            None => (
                Window {
                    center_hu: 40.0,
                    width_hu: 400.0,
                },
                "Soft tissue".into(),
            ),
        }
    }

    // ----- the one place where state changes -----

    pub fn apply(&mut self, cmd: Command) {
        self.apply_one(cmd);
        self.sync_history();
    }

    fn apply_one(&mut self, cmd: Command) {
        if self.case.read_only && case_io::changes_the_case(&cmd) {
            self.notify(
                NoticeLevel::Info,
                "This case is open for review (read-only): open it with File > Open case to change it",
            );
            return;
        }
        match cmd {
            Command::OpenDialog(kind) => self.open_dialog(kind),
            Command::Open(paths) => match paths.as_slice() {
                [p] if case_io::is_case_file(p) => self.open_case(p.clone()),
                _ => self.start_scan(paths),
            },
            Command::OpenCase(p) => self.open_case(p),
            Command::SaveCase => self.save_case(),
            Command::SaveCaseTo(p) => self.save_case_to(p),
            Command::RecoverCase => self.recover_case(),
            Command::DiscardRecovery => self.discard_recovery(),
            Command::SelectPlan(n) => self.select_plan(n),
            Command::NewPlan { copy } => self.new_plan(copy),
            Command::RenamePlan(name) => self.rename_plan(name),
            Command::OpenLibrary(dir) => self.load_library(dir),
            Command::OpenCaseReadOnly(p) => self.open_case_read_only(p),
            Command::SetCaseDetails { name, review } => self.set_case_details(name, review),
            Command::ReviewStep(s) => self.review_step(s),
            Command::ShowLibrary(v) => self.review.show_library = v,
            Command::ShowCaseDetails(v) => self.review.show_details = v,
            Command::ShowReview(v) => {
                self.review.show_review = v;
                // Leaving review mode gives the views every layer back.
                self.review.stepping &= v;
            }
            Command::ExportAnonymisedTo(p) => self.export_anonymised(p),
            Command::ShowSafetyPanel(v) => self.safety.show_panel = v,
            Command::ShowRules(v) => self.safety.show_rules = v,
            Command::SetRules(r) => self.set_safety_rules(r),
            Command::SetExportOptions(o) => {
                self.export.options = export_ui::ExportOptions {
                    scale: o.scale.clamp(1, 4),
                    anonymise: o.anonymise,
                }
            }
            Command::ExportViewTo(p) => self.export_view(p),
            Command::ExportSlideTo(p) => self.export_slide(p),
            Command::ExportLayoutTo(p) => self.export_layout(p),
            Command::FocusFinding(i) => self.focus_finding(i),
            Command::ClearCaliper => {
                self.safety.caliper = None;
                self.safety.selected = None;
            }
            Command::OpenDemo => self.start_demo(),
            Command::PickSeries(n) => self.start_load(n),
            Command::ClosePicker => self.picker = None,
            Command::CancelJob => {
                if let Some(j) = self.scan_job.take() {
                    j.job.cancel();
                    self.notify(NoticeLevel::Info, "Scan cancelled");
                }
                if let Some(j) = self.load_job.take() {
                    j.job.cancel();
                    self.notify(NoticeLevel::Info, format!("Loading {} cancelled", j.source));
                }
            }
            Command::SetLayout(l) => self.settings.layout = l,
            Command::SetActiveView(v) => {
                if let Some(vw) = &mut self.viewer {
                    vw.active = v;
                }
            }
            Command::ApplyPreset(n) => {
                if let (Some(p), Some(vw)) = (self.settings.presets.get(n), &mut self.viewer) {
                    vw.window = Window {
                        center_hu: p.center_hu,
                        width_hu: p.width_hu.max(viewer::MIN_WINDOW_WIDTH_HU),
                    };
                    vw.window_label = Some(p.name.clone());
                }
            }
            Command::ApplyDicomWindow => {
                let dw = self.volume().and_then(|v| v.meta.default_window);
                if let (Some((c, w)), Some(vw)) = (dw, &mut self.viewer) {
                    vw.window = Window {
                        center_hu: c,
                        width_hu: w.max(viewer::MIN_WINDOW_WIDTH_HU),
                    };
                    vw.window_label = Some("DICOM default".into());
                } else {
                    self.notify(
                        NoticeLevel::Info,
                        "This series has no default window (WindowCenter/Width)",
                    );
                }
            }
            Command::SetWindow(w) => {
                if let Some(vw) = &mut self.viewer {
                    vw.window = w;
                    vw.window_label = None;
                }
            }
            Command::Scroll { view, delta } => {
                if let (Some(vol), Some(vw)) = (self.loaded.as_ref(), &mut self.viewer) {
                    vw.scroll(&vol.volume.view_mapping(view), delta);
                }
            }
            Command::SetCrosshair { view, u, v } => {
                if let (Some(vol), Some(vw)) = (self.loaded.as_ref(), &mut self.viewer) {
                    let m = vol.volume.view_mapping(view);
                    vw.set_crosshair_in_view(&m, u, v, vol.volume.geometry.dims);
                }
            }
            Command::Pan { view, dx, dy } => {
                if let Some(vw) = &mut self.viewer {
                    let s = vw.view_mut(view);
                    s.pan[0] += dx;
                    s.pan[1] += dy;
                }
            }
            Command::Zoom { view, factor, anchor } => {
                if let Some(vw) = &mut self.viewer {
                    vw.zoom_about(view, factor, anchor);
                }
            }
            Command::ResetView => {
                if let Some(vw) = &mut self.viewer {
                    vw.reset_views();
                }
            }
            Command::ToggleAnnotations => self.settings.show_annotations = !self.settings.show_annotations,
            Command::SetAnonymise(a) => self.settings.anonymise = a,
            Command::SetMouseMap(m) => self.settings.mouse_map = m,
            Command::SetTool(t) => self.tool = t,
            Command::AddRuler(r) => {
                if let Some(vw) = &mut self.viewer {
                    vw.rulers.push(r);
                }
            }
            Command::ClearRulers => {
                if let Some(vw) = &mut self.viewer {
                    vw.rulers.clear();
                }
            }
            Command::ShowReport(s) => self.show_report = s,
            Command::ShowSettings(s) => {
                self.show_settings = s;
                self.preset_draft = self.settings.presets.clone();
            }
            Command::SetPresets(p) => {
                self.settings.presets = p;
                self.preset_draft = self.settings.presets.clone();
            }
            Command::DismissNotices => self.notices.clear(),
            Command::ForgetRecent => self.settings.recent.clear(),
            Command::NewStructure(kind) => {
                if let Some(vol) = self.volume() {
                    let n = self.structures.items.iter().filter(|s| s.kind == kind).count() + 1;
                    let s = crate::anatomy::Structure::new(
                        format!("{} {n}", kind.label()),
                        kind,
                        crate::anatomy::Provenance::Drawn,
                        crate::anatomy::Mask::empty(vol.geometry.dims),
                    );
                    self.structures.add(s);
                }
            }
            Command::SelectStructure(i) => self.structures.selected = i,
            Command::SetStructureVisible(i, v) => {
                if let Some(s) = self.structures.items.get_mut(i) {
                    s.visible = v;
                }
            }
            Command::SetStructureColour(i, c) => {
                if let Some(s) = self.structures.items.get_mut(i) {
                    s.colour = c;
                }
            }
            Command::SetStructureOpacity(i, o) => {
                if let Some(s) = self.structures.items.get_mut(i) {
                    s.opacity = o.clamp(0.0, 1.0);
                }
            }
            Command::SetStructureKind(i, k) => self.structures.set_kind(i, k),
            Command::RenameStructure(i, name) => self.structures.rename(i, name),
            Command::DeleteStructure(i) => self.structures.remove(i),
            Command::JumpToStructure(i) => self.jump_to_structure(i),
            Command::SetBrush(b) => {
                self.brush = Brush {
                    radius_mm: b.radius_mm.clamp(0.5, 50.0),
                    sphere: b.sphere,
                }
            }
            Command::Paint {
                view,
                slice,
                lps,
                erase,
            } => self.paint(view, slice, lps, erase),
            Command::EndStroke => self.structures.end_stroke(),
            Command::ToolClick { view: _, lps } => self.tool_click(lps),
            Command::SetNerveRadius(r) => self.click_tools.nerve_radius_mm = r.clamp(0.5, 10.0),
            Command::FinishNervePath => self.finish_nerve(),
            Command::RemoveLastPoint => {
                self.click_tools.nerve_points.pop();
            }
            Command::ClearToolPoints => {
                let t = &mut self.click_tools;
                t.nerve_points.clear();
                t.ellipsoid_clicks.clear();
                if let Some(j) = t.grow.job.take() {
                    j.cancel();
                }
                t.grow.preview = None;
                t.grow.preview_revision += 1;
            }
            Command::SetGrowPreset(n) => {
                if let Some(p) = crate::anatomy::edit::REGION_GROW_PRESETS.get(n) {
                    self.click_tools.grow.preset = n;
                    self.click_tools.grow.window = p.window;
                }
            }
            Command::SetGrowWindow {
                window,
                max_volume_ml,
            } => {
                let g = &mut self.click_tools.grow;
                g.window = window;
                g.max_volume_ml = max_volume_ml.max(1.0);
            }
            Command::AcceptGrow { add_to_selected } => self.accept_grow(add_to_selected),
            Command::FillBetweenSlices(i) => self.fill_between(i),
            Command::ImportStructures {
                paths,
                allow_missing_frame_of_reference,
            } => self.start_import(paths, allow_missing_frame_of_reference),
            Command::DismissPrompt => self.prompt = None,
            Command::Undo => self.undo_redo(true),
            Command::Redo => self.undo_redo(false),
            Command::AddProbe { tip_lps, entry_lps } => self.add_probe(tip_lps, entry_lps),
            // Plan edits bump the plan revision; the model run follows it (`run::update_model`).
            Command::MoveProbe {
                index,
                tip_lps,
                entry_lps,
            } => {
                if index < self.plan.probes.len() {
                    self.start_live_edit();
                    self.plan.drag_probe(index, tip_lps, entry_lps);
                    self.plan.selected = Some(index);
                }
            }
            Command::EndDrag => {
                self.plan.end_drag();
            }
            Command::SetProbe { index, probe } => {
                self.plan.set_probe(index, probe);
            }
            Command::DeleteProbe(i) => {
                self.plan.delete_probe(i);
            }
            Command::SelectProbe(i) => self.plan.selected = i.filter(|i| *i < self.plan.probes.len()),
            Command::SetArrayOptions(o) => self.array = self.checked_array_options(o),
            Command::PlaceArray => self.place_array(),
            Command::SetIreSettings { settings, live } => {
                if live {
                    self.start_live_edit();
                    self.plan.set_settings_live(settings);
                } else {
                    self.plan.set_settings(settings);
                }
            }
            Command::SetPairIncluded { a, b, included } => {
                self.plan.set_pair_included(a, b, included);
            }
            Command::SetPairVoltage {
                a,
                b,
                voltage_v,
                live,
            } => {
                if live {
                    self.start_live_edit();
                    self.plan.set_pair_voltage_live(a, b, voltage_v);
                } else {
                    self.plan.set_pair_voltage(a, b, voltage_v);
                }
            }
            Command::ResetPairs => {
                self.plan.reset_pairs();
            }
            Command::SetModelOptions(o) => {
                self.plan.set_ire_model(o);
            }
            Command::RunModel => self.run.rerun(),
            Command::CancelModel => self.run.cancel_by_user(),
            c @ (Command::SetProbeModel(_)
            | Command::SetCryoSettings { .. }
            | Command::SetCryoTime(_)
            | Command::AddCryoSensor(_)
            | Command::AddCryoSensorAtCrosshair
            | Command::RemoveCryoSensor(_)) => self.apply_cryo(c),
            Command::ShowProbeView(b) => self.show_probe_view = b,
            Command::ShowPlanPanel(b) => self.show_plan_panel = b,
            Command::SetProfilePair(n) => self.profile_pair = n,
        }
    }

    // ----- undo history -----

    /// Enters new structure / plan edits into the unified history. A new edit in one domain
    /// makes the redo steps of both unreachable, so they are dropped.
    fn sync_history(&mut self) {
        let (s, p) = (self.structures.edit_count(), self.plan.edit_count());
        let (seen_s, seen_p) = self.seen_edits;
        let new_s = s.saturating_sub(seen_s).min(MAX_HISTORY as u64) as usize;
        let new_p = p.saturating_sub(seen_p).min(MAX_HISTORY as u64) as usize;
        if new_s > 0 {
            self.history
                .extend(std::iter::repeat_n(Domain::Structures, new_s));
            self.plan.clear_redo();
            // Structures are the model's tissue input (Target → tumour, Vessel → blood …).
            if !self.plan.probes.is_empty() {
                self.plan.touch();
            }
        }
        if new_p > 0 {
            self.history.extend(std::iter::repeat_n(Domain::Plan, new_p));
            self.structures.clear_redo();
        }
        if new_s > 0 || new_p > 0 {
            self.future.clear();
            if self.history.len() > MAX_HISTORY {
                let extra = self.history.len() - MAX_HISTORY;
                self.history.drain(..extra);
            }
        }
        self.seen_edits = (s, p);
    }

    fn undo_redo(&mut self, undo: bool) {
        // Finish a stroke or drag in progress first, so that it is the step undone.
        self.structures.end_stroke();
        self.plan.end_drag();
        self.sync_history();
        let mut done = None;
        loop {
            let d = if undo {
                self.history.pop()
            } else {
                self.future.pop()
            };
            let Some(d) = d else { break };
            let ok = match (d, undo) {
                (Domain::Structures, true) => self.structures.undo(),
                (Domain::Structures, false) => self.structures.redo(),
                (Domain::Plan, true) => self.plan.undo(),
                (Domain::Plan, false) => self.plan.redo(),
            };
            // A step the domain no longer holds (its own bound dropped it) is skipped.
            if ok {
                if undo {
                    self.future.push(d);
                } else {
                    self.history.push(d);
                }
                done = Some(d);
                break;
            }
        }
        match done {
            None => self.notify(
                NoticeLevel::Info,
                if undo {
                    "Nothing to undo"
                } else {
                    "Nothing to redo"
                },
            ),
            Some(Domain::Plan) => {}
            Some(Domain::Structures) => {
                if !self.plan.probes.is_empty() {
                    self.plan.touch();
                }
            }
        }
    }

    // ----- plan -----

    /// The catalog's first IRE electrode and its default exposure.
    fn default_ire_model(&self) -> Result<(String, f64), String> {
        let cat = self
            .catalog
            .as_ref()
            .map_err(|e| format!("The probe catalog could not be read: {e}"))?;
        cat.of_modality(Modality::Ire)
            .find_map(|m| Some((m.id.clone(), m.default_active_mm()?)))
            .ok_or_else(|| "The probe catalog has no IRE electrode with a default exposure".to_string())
    }

    /// The built-in probe catalog (`None` when it could not be read; a notice says why).
    pub fn catalog(&self) -> Option<&Catalog> {
        self.catalog.as_deref().ok()
    }

    fn checked_array_options(&self, o: plan::ArrayOptions) -> plan::ArrayOptions {
        let (lo, hi) = crate::plan::probe::ARRAY_SPACING_MM;
        let (n_lo, n_hi) = crate::plan::probe::ARRAY_COUNT;
        plan::ArrayOptions {
            n: o.n.clamp(n_lo, n_hi),
            spacing_mm: if o.spacing_mm.is_finite() {
                o.spacing_mm.clamp(lo, hi)
            } else {
                self.array.spacing_mm
            },
            length_mm: if o.length_mm.is_finite() && o.length_mm > 0.0 {
                o.length_mm
            } else {
                self.array.length_mm
            },
            exposure_mm: o.exposure_mm.filter(|e| e.is_finite() && *e > 0.0),
            ..o
        }
    }

    fn add_probe(&mut self, tip_lps: crate::geometry::PatientPos, entry_lps: crate::geometry::PatientPos) {
        let (model_id, exposure_mm) = match self.placement_model() {
            Ok(m) => m,
            Err(e) => {
                self.notify(NoticeLevel::Error, e);
                return;
            }
        };
        if let Some(why) = self.modality_clash(&model_id) {
            self.notify(NoticeLevel::Warning, why);
            return;
        }
        let p = crate::plan::probe::Probe {
            model_id,
            tip_lps,
            entry_lps,
            exposure_mm,
            label: plan::next_label(&self.plan.probes),
        };
        self.plan.add_probe(p);
    }

    /// Why a probe of `model_id` cannot join the plan: one plan is one modality (the IRE model
    /// would pulse a cryoprobe as an electrode, the cryo model ignores electrodes), as in the case
    /// files. `None` when it can.
    fn modality_clash(&self, model_id: &str) -> Option<String> {
        let cat = self.catalog()?;
        let new = cat.get(model_id)?;
        let other = self
            .plan
            .probes
            .iter()
            .find(|p| cat.get(&p.model_id).is_some_and(|m| m.modality != new.modality))?;
        Some(format!(
            "{} is {} but probe {} of this plan is {}: one plan holds one modality. Start a new plan \
             (Plans > New plan) for it, or choose a {} probe model.",
            new.name,
            modality_phrase(new.modality),
            other.label,
            cat.get(&other.model_id)
                .map_or("another modality", |m| modality_phrase(m.modality)),
            cat.get(&other.model_id)
                .map_or("matching", |m| modality_name(m.modality)),
        ))
    }

    /// Where the array template is centred now (crosshair or the Target's centroid).
    fn array_centre(&self) -> Result<crate::geometry::PatientPos, String> {
        let (Some(vol), Some(viewer)) = (self.volume(), self.viewer.as_ref()) else {
            return Err("Open a CT first".into());
        };
        let g = &vol.geometry;
        match self.array.centre {
            plan::ArrayCentre::Crosshair => Ok(g.to_patient(&viewer.crosshair)),
            plan::ArrayCentre::Target => self
                .structures
                .items
                .iter()
                .filter(|s| s.kind == crate::anatomy::StructureKind::Target)
                .find_map(|s| structures::mask_centroid(s.mask()))
                .map(|c| g.to_patient(&nalgebra::Vector3::new(c[0], c[1], c[2])))
                .ok_or_else(|| {
                    "No Target structure to centre the array on: draw one or centre on the crosshair".into()
                }),
        }
    }

    fn place_array(&mut self) {
        let (Some(vol), Some(viewer)) = (self.volume().cloned(), self.viewer.as_ref()) else {
            return;
        };
        let o = self.array;
        let axis = plan::array_direction(o.axis, viewer.active, &vol.geometry);
        let made = self.array_centre().and_then(|centre| {
            let (model_id, default_exposure) = self.placement_model()?;
            let t = crate::plan::probe::ArrayTemplate::centred(
                &model_id,
                o.n,
                o.spacing_mm,
                centre,
                axis,
                plan::array_in_plane(&axis),
                o.exposure_mm.unwrap_or(default_exposure),
                o.length_mm,
            );
            crate::plan::probe::parallel_array(&t).map_err(|e| e.to_string())
        });
        match made {
            Ok(probes) => {
                self.plan.replace_probes(probes);
            }
            Err(e) => self.notify(NoticeLevel::Warning, e),
        }
    }

    /// A drag begins (unless one is going on): the preview gets another chance even if the last
    /// one was too slow.
    fn start_live_edit(&mut self) {
        if !self.plan.dragging() {
            self.run.begin_drag();
            self.plan.begin_drag();
        }
    }

    fn paint(&mut self, view: ViewKind, slice: usize, lps: crate::geometry::PatientPos, erase: bool) {
        use crate::anatomy::edit;
        let Some(vol) = self.loaded.as_ref().map(|l| l.volume.clone()) else {
            return;
        };
        let Some(index) = self
            .structures
            .selected
            .filter(|i| *i < self.structures.items.len())
        else {
            self.notify(
                NoticeLevel::Warning,
                "Select a structure (or create one with + Nerve, + Target …) before painting",
            );
            return;
        };
        let g = &vol.geometry;
        let footprint = if self.brush.sphere {
            edit::sphere_footprint(g, &lps, self.brush.radius_mm)
        } else {
            edit::disc_footprint(g, &vol.view_mapping(view), slice, &lps, self.brush.radius_mm)
        };
        let mode = if erase {
            edit::PaintMode::Erase
        } else {
            edit::PaintMode::Paint
        };
        self.structures.stroke_mask(index, |m| {
            let e = edit::paint(m, &footprint, mode);
            e.apply(m);
        });
    }

    fn series_ids(&self) -> Option<crate::dicom::structset::SeriesIds> {
        let l = self.loaded.as_ref()?;
        Some(crate::dicom::structset::SeriesIds {
            frame_of_reference_uid: l.volume.meta.frame_of_reference_uid.clone(),
            series_instance_uid: l.volume.meta.series_instance_uid.clone(),
            sop_instance_uids: l.report.sop_instance_uids.clone(),
        })
    }

    fn start_import(&mut self, paths: Vec<PathBuf>, allow_missing: bool) {
        let (Some(vol), Some(ids)) = (self.volume().cloned(), self.series_ids()) else {
            self.notify(NoticeLevel::Warning, "Open a CT before importing structures");
            return;
        };
        if self.import_job.is_some() {
            self.notify(NoticeLevel::Info, "An import is already running");
            return;
        }
        self.prompt = None;
        match Job::spawn("import", self.generation, self.progress(), move |ctx| {
            import::import_paths(&paths, &vol.geometry, &ids, allow_missing, ctx)
        }) {
            Ok(j) => self.import_job = Some(j),
            Err(e) => self.notify(NoticeLevel::Error, format!("Cannot start the import: {e}")),
        }
    }

    fn poll_import(&mut self) {
        let Some(job) = &mut self.import_job else { return };
        let Some(result) = job.poll() else { return };
        let for_generation = job.revision();
        self.import_job = None;
        let out = match result {
            Ok(o) => o,
            Err(e) => {
                self.notify(NoticeLevel::Error, e.to_string());
                return;
            }
        };
        if for_generation != self.generation {
            // The CT changed while importing: the masks belong to the old grid.
            self.notify(
                NoticeLevel::Warning,
                "Import discarded: another CT was opened meanwhile",
            );
            return;
        }
        let n = out.structures.len();
        for s in out.structures {
            self.structures.add(s);
        }
        self.import_log.extend(out.warnings.iter().cloned());
        for (f, e) in &out.errors {
            self.import_log.push(format!("{}: {e}", f.display()));
            self.notify(NoticeLevel::Error, e.clone());
        }
        if n > 0 {
            let w = if out.warnings.is_empty() {
                String::new()
            } else {
                format!(" ({} warning(s), see View > Series report)", out.warnings.len())
            };
            self.notify(NoticeLevel::Info, format!("Imported {n} structure(s){w}"));
        }
        if !out.need_confirmation.is_empty() {
            self.prompt = Some(import::Prompt::ConfirmMissingFrameOfReference(
                out.need_confirmation,
            ));
        }
    }

    /// After a CT loads from a scan, offer the structure sets that belong to it.
    fn offer_structure_sets(&mut self) {
        let (Some(scan), Some(ids)) = (self.last_scan.as_ref(), self.series_ids()) else {
            return;
        };
        let found = crate::dicom::structset::find_structure_sets(&scan.others, &ids);
        if !found.is_empty() {
            self.prompt = Some(import::Prompt::OfferImport(found));
        }
    }

    pub fn prompt(&self) -> Option<&import::Prompt> {
        self.prompt.as_ref()
    }

    pub fn import_log(&self) -> &[String] {
        &self.import_log
    }

    fn tool_click(&mut self, lps: crate::geometry::PatientPos) {
        match self.tool {
            Tool::NervePath => self.click_tools.nerve_points.push(lps),
            Tool::TargetEllipsoid => {
                self.click_tools.ellipsoid_clicks.push(lps);
                if self.click_tools.ellipsoid_clicks.len() == 3 {
                    self.finish_ellipsoid();
                }
            }
            Tool::RegionGrow => self.start_grow(lps),
            _ => {}
        }
    }

    fn start_grow(&mut self, lps: crate::geometry::PatientPos) {
        let Some(vol) = self.volume().cloned() else { return };
        let Some(seed) = vol.geometry.nearest_voxel(&vol.geometry.to_voxel(&lps)) else {
            self.notify(
                NoticeLevel::Warning,
                "The seed is outside the volume; click inside the image",
            );
            return;
        };
        let params = self.click_tools.grow.params();
        self.click_tools.grow.seed_lps = Some([lps.x, lps.y, lps.z]);
        if let Some(j) = self.click_tools.grow.job.take() {
            j.cancel();
        }
        match Job::spawn("region-grow", 0, self.progress(), move |_| {
            crate::anatomy::edit::region_grow(&vol, seed, &params)
        }) {
            Ok(j) => self.click_tools.grow.job = Some(j),
            Err(e) => self.notify(NoticeLevel::Error, format!("Cannot start region growing: {e}")),
        }
    }

    fn poll_grow(&mut self) {
        let g = &mut self.click_tools.grow;
        let Some(job) = &mut g.job else { return };
        let Some(r) = job.poll() else { return };
        g.job = None;
        match r {
            Ok(Ok(result)) => {
                g.preview = Some(result);
                g.preview_revision += 1;
            }
            Ok(Err(e)) => self.notify(NoticeLevel::Warning, e.to_string()),
            Err(e) => self.notify(NoticeLevel::Error, e.to_string()),
        }
    }

    fn accept_grow(&mut self, add_to_selected: bool) {
        let Some(result) = self.click_tools.grow.preview.take() else {
            return;
        };
        self.click_tools.grow.preview_revision += 1;
        let target = self
            .structures
            .selected
            .filter(|i| add_to_selected && *i < self.structures.items.len());
        if let Some(i) = target {
            let mut m = self.structures.items[i].mask().clone();
            let e = crate::anatomy::edit::paint(&m, &result.mask, crate::anatomy::edit::PaintMode::Paint);
            e.apply(&mut m);
            self.structures.set_mask(i, m);
            return;
        }
        let kind = self.click_tools.grow.kind();
        let w = self.click_tools.grow.window;
        let n = self.structures.items.iter().filter(|s| s.kind == kind).count() + 1;
        let seed_lps = self.click_tools.grow.seed_lps.unwrap_or([f64::NAN; 3]);
        let s = Structure::new(
            format!("{} {n} (grown)", kind.label()),
            kind,
            crate::anatomy::Provenance::RegionGrown {
                seed_lps,
                min_hu: w.min_hu,
                max_hu: w.max_hu,
            },
            result.mask,
        );
        self.structures.add(s);
    }

    fn finish_nerve(&mut self) {
        let Some(vol) = self.volume().cloned() else { return };
        let pts = std::mem::take(&mut self.click_tools.nerve_points);
        if pts.len() < 2 {
            self.notify(NoticeLevel::Warning, "A nerve path needs at least two points");
            self.click_tools.nerve_points = pts;
            return;
        }
        let (mask, _) =
            crate::anatomy::edit::nerve_path_mask(&vol.geometry, &pts, self.click_tools.nerve_radius_mm);
        let n = self
            .structures
            .items
            .iter()
            .filter(|s| s.kind == crate::anatomy::StructureKind::Nerve)
            .count()
            + 1;
        let s = Structure::new(
            format!("Nerve {n}"),
            crate::anatomy::StructureKind::Nerve,
            crate::anatomy::Provenance::NervePath,
            mask,
        );
        self.structures.add(s);
    }

    fn finish_ellipsoid(&mut self) {
        let Some(vol) = self.volume().cloned() else { return };
        let c = std::mem::take(&mut self.click_tools.ellipsoid_clicks);
        match crate::anatomy::edit::ellipsoid_from_three_clicks(&c[0], &c[1], &c[2], None) {
            Ok(spec) => {
                let mask = crate::anatomy::edit::ellipsoid_mask(
                    &vol.geometry,
                    &spec.center_lps,
                    &spec.axes,
                    spec.radii_mm,
                );
                let n = self
                    .structures
                    .items
                    .iter()
                    .filter(|s| s.kind == crate::anatomy::StructureKind::Target)
                    .count()
                    + 1;
                let s = Structure::new(
                    format!("Target {n}"),
                    crate::anatomy::StructureKind::Target,
                    crate::anatomy::Provenance::Drawn,
                    mask,
                );
                self.structures.add(s);
            }
            Err(e) => self.notify(NoticeLevel::Warning, e.to_string()),
        }
    }

    fn fill_between(&mut self, i: usize) {
        let Some(vol) = self.volume().cloned() else { return };
        let Some(s) = self.structures.items.get(i) else {
            return;
        };
        let mut m = s.mask().clone();
        let e = crate::anatomy::edit::interpolate_between_slices(&m, vol.geometry.spacing_mm, 2);
        if e.is_empty() {
            self.notify(
                NoticeLevel::Info,
                "Nothing to fill: paint at least two slices with empty slices between them",
            );
            return;
        }
        e.apply(&mut m);
        self.structures.set_mask(i, m);
    }

    pub fn brush(&self) -> Brush {
        self.brush
    }

    fn jump_to_structure(&mut self, i: usize) {
        let Some(s) = self.structures.items.get(i) else {
            return;
        };
        let Some(c) = structures::mask_centroid(s.mask()) else {
            let name = s.name.clone();
            self.notify(NoticeLevel::Info, format!("{name} is empty"));
            return;
        };
        if let Some(vw) = &mut self.viewer {
            vw.crosshair = nalgebra::Vector3::new(c[0], c[1], c[2].round());
        }
        self.structures.selected = Some(i);
    }

    fn apply_queued(&mut self) {
        let cmds = std::mem::take(&mut self.commands);
        for c in cmds {
            self.apply(c);
        }
        self.update_model();
    }

    // ----- jobs -----

    fn start_scan(&mut self, paths: Vec<PathBuf>) {
        if paths.is_empty() {
            return;
        }
        if let Some(old) = self.scan_job.take() {
            old.job.cancel();
        }
        let missing: Vec<&PathBuf> = paths.iter().filter(|p| !p.exists()).collect();
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
            self.notify(
                NoticeLevel::Error,
                format!("Cannot open {}: no such file or folder", list.join(", ")),
            );
            return;
        }
        for p in &paths {
            self.settings.push_recent(p.clone());
        }
        let worker_paths = paths.clone();
        match Job::spawn("scan", 0, self.progress(), move |ctx| {
            dicom::scan(&worker_paths, ctx)
        }) {
            Ok(job) => self.scan_job = Some(ScanJob { job, paths }),
            Err(e) => self.notify(NoticeLevel::Error, format!("Cannot start the scan: {e}")),
        }
    }

    /// rfd dialogs block their thread (and may fall back to zenity), so they run on a helper
    /// thread and the chosen paths come back through a channel polled each frame.
    fn open_dialog(&mut self, kind: OpenDialog) {
        if self.dialog.is_some() {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let ctx = self.ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("file-dialog".into())
            .spawn(move || {
                let picked = match kind {
                    OpenDialog::Folder => rfd::FileDialog::new()
                        .set_title("Open a DICOM folder")
                        .pick_folder()
                        .map(|p| vec![p]),
                    OpenDialog::Files => rfd::FileDialog::new()
                        .set_title("Open DICOM files or a DICOMDIR")
                        .pick_files(),
                    OpenDialog::Structures => rfd::FileDialog::new()
                        .set_title("Import structures: RTSTRUCT, SEG or NIfTI label maps")
                        .pick_files(),
                    OpenDialog::StructureFolder => rfd::FileDialog::new()
                        .set_title("Import structures from a folder (NIfTI masks, RTSTRUCT, SEG)")
                        .pick_folder()
                        .map(|p| vec![p]),
                    OpenDialog::Case => rfd::FileDialog::new()
                        .set_title("Open a case")
                        .add_filter("ablaplan case", &["json"])
                        .pick_file()
                        .map(|p| vec![p]),
                    OpenDialog::SaveCase => rfd::FileDialog::new()
                        .set_title("Save the case")
                        .add_filter("ablaplan case", &["json"])
                        .set_file_name("case.json")
                        .save_file()
                        .map(|p| vec![p]),
                    OpenDialog::ExportView => rfd::FileDialog::new()
                        .set_title("Export the active view as PNG")
                        .add_filter("PNG image", &["png"])
                        .set_file_name("view.png")
                        .save_file()
                        .map(|p| vec![p]),
                    OpenDialog::ExportLayout => rfd::FileDialog::new()
                        .set_title("Export the whole layout as PNG")
                        .add_filter("PNG image", &["png"])
                        .set_file_name("layout.png")
                        .save_file()
                        .map(|p| vec![p]),
                    OpenDialog::ExportSlide => rfd::FileDialog::new()
                        .set_title("Export the tumour-board slide as PNG")
                        .add_filter("PNG image", &["png"])
                        .set_file_name("board_slide.png")
                        .save_file()
                        .map(|p| vec![p]),
                    OpenDialog::Library => rfd::FileDialog::new()
                        .set_title("Choose the folder of the case library")
                        .pick_folder()
                        .map(|p| vec![p]),
                    OpenDialog::ExportAnonymised => rfd::FileDialog::new()
                        .set_title("Save an anonymised copy for teaching")
                        .add_filter("ablaplan case", &["json"])
                        .set_file_name("teaching_case.json")
                        .save_file()
                        .map(|p| vec![p]),
                };
                let _ = tx.send(picked.unwrap_or_default());
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => self.dialog = Some((rx, kind)),
            Err(e) => self.notify(NoticeLevel::Error, format!("Cannot show the file dialog: {e}")),
        }
    }

    fn poll_dialog(&mut self) {
        let Some((rx, kind)) = &self.dialog else { return };
        let kind = *kind;
        match rx.try_recv() {
            Ok(paths) => {
                self.dialog = None;
                if paths.is_empty() {
                    return;
                }
                match kind {
                    OpenDialog::Structures | OpenDialog::StructureFolder => {
                        self.apply(Command::ImportStructures {
                            paths,
                            allow_missing_frame_of_reference: false,
                        })
                    }
                    OpenDialog::Case => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::OpenCase(p))),
                    OpenDialog::SaveCase => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::SaveCaseTo(p))),
                    OpenDialog::ExportView => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::ExportViewTo(p))),
                    OpenDialog::ExportLayout => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::ExportLayoutTo(p))),
                    OpenDialog::ExportSlide => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::ExportSlideTo(p))),
                    OpenDialog::Library => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::OpenLibrary(p))),
                    OpenDialog::ExportAnonymised => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::ExportAnonymisedTo(p))),
                    OpenDialog::Folder | OpenDialog::Files => self.apply(Command::Open(paths)),
                }
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
            Err(std::sync::mpsc::TryRecvError::Disconnected) => self.dialog = None,
        }
    }

    fn start_demo(&mut self) {
        self.start_load_job(DEMO_SOURCE.into(), |ctx| {
            ctx.progress.set_message("Generating the demo CT");
            let volume = crate::demo::demo_volume();
            ctx.progress.set(0.6);
            ctx.progress.set_message("Rasterising the demo structures");
            let structures = crate::anatomy::demo_structures(&crate::demo::demo_anatomy(), &volume.geometry);
            let series = LoadedSeries {
                volume,
                report: SeriesReport {
                    warnings: vec!["Synthetic demo volume generated in code; not a patient.".into()],
                    ..SeriesReport::default()
                },
            };
            Ok((series, structures))
        });
    }

    fn start_load(&mut self, n: usize) {
        let Some(entry) = self.last_scan.as_ref().and_then(|s| s.series.get(n)).cloned() else {
            self.notify(
                NoticeLevel::Error,
                format!("No series number {} in the last scan", n + 1),
            );
            return;
        };
        self.picker = None;
        let source = series_label(&entry, &self.last_scan_source);
        self.start_load_job(source, move |ctx| {
            dicom::load_series(&entry, ctx).map(|s| (s, Vec::new()))
        });
    }

    fn start_load_job(
        &mut self,
        source: String,
        work: impl FnOnce(&crate::jobs::JobCtx) -> LoadResult + Send + 'static,
    ) {
        if let Some(old) = self.load_job.take() {
            old.job.cancel();
        }
        match Job::spawn("load", 0, self.progress(), work) {
            Ok(job) => self.load_job = Some(LoadJob { job, source }),
            Err(e) => self.notify(NoticeLevel::Error, format!("Cannot start loading: {e}")),
        }
    }

    fn poll_jobs(&mut self) {
        if let Some(sj) = &mut self.scan_job
            && let Some(result) = sj.job.poll()
        {
            let paths = std::mem::take(&mut sj.paths);
            self.scan_job = None;
            match result {
                Ok(Ok(report)) => self.scan_finished(report, &paths),
                Ok(Err(DicomError::Cancelled)) => {}
                Ok(Err(e)) => self.notify(NoticeLevel::Error, format!("Scan failed: {e}")),
                Err(e) => self.notify(NoticeLevel::Error, e.to_string()),
            }
        }
        if let Some(lj) = &mut self.load_job
            && let Some(result) = lj.job.poll()
        {
            let source = std::mem::take(&mut lj.source);
            self.load_job = None;
            match result {
                Ok(Ok(series)) => self.load_finished(series, source),
                Ok(Err(DicomError::Cancelled)) => {}
                Ok(Err(e)) => self.notify(NoticeLevel::Error, format!("Could not load {source}: {e}")),
                Err(e) => self.notify(NoticeLevel::Error, e.to_string()),
            }
        }
        if let Some(p) = &mut self.picker {
            for t in &mut p.thumbnails {
                if let Thumb::Pending(job) = t
                    && let Some(r) = job.poll()
                {
                    *t = match r {
                        Ok(Ok(img)) => Thumb::Ready(views::thumbnail_texture(&self.ctx, &img)),
                        Ok(Err(e)) => Thumb::Failed(e.to_string()),
                        Err(e) => Thumb::Failed(e.to_string()),
                    };
                }
            }
        }
    }

    fn scan_finished(&mut self, report: ScanReport, paths: &[PathBuf]) {
        self.last_scan_source = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let ct: Vec<usize> = report
            .series
            .iter()
            .enumerate()
            .filter(|(_, s)| s.modality.eq_ignore_ascii_case("CT"))
            .map(|(i, _)| i)
            .collect();
        let n_series = report.series.len();
        if !report.skipped.is_empty() {
            self.notify(
                NoticeLevel::Warning,
                format!(
                    "{} file(s) skipped while scanning {} — see View > Series report",
                    report.skipped.len(),
                    self.last_scan_source
                ),
            );
        }
        if !report.others.is_empty() {
            let kinds: Vec<String> = report.others.iter().map(|o| o.modality.clone()).collect();
            self.notify(
                NoticeLevel::Info,
                format!(
                    "Found {} non-image object(s) ({}); structure import comes with a later version",
                    report.others.len(),
                    kinds.join(", ")
                ),
            );
        }
        self.case.series_path = paths.first().cloned();
        let case_series = self.pending_series_in_scan(&report);
        self.last_scan = Some(report);
        if let Some(n) = case_series {
            self.start_load(n);
            return;
        }
        match (ct.len(), n_series) {
            (_, 0) => self.notify(
                NoticeLevel::Error,
                format!("No image series found in {}", self.last_scan_source),
            ),
            (1, 1) => self.start_load(ct[0]),
            _ => self.open_picker(),
        }
    }

    fn open_picker(&mut self) {
        let Some(scan) = &self.last_scan else { return };
        let thumbnails = scan
            .series
            .iter()
            .map(|entry| {
                let e = entry.clone();
                match Job::spawn("thumbnail", 0, self.progress(), move |_| dicom::thumbnail(&e)) {
                    Ok(j) => Thumb::Pending(j),
                    Err(e) => Thumb::Failed(e.to_string()),
                }
            })
            .collect();
        self.picker = Some(Picker { thumbnails });
    }

    /// Structures belong to a CT grid: a new volume starts with its own (none, or the demo's).
    fn load_finished(
        &mut self,
        (series, initial_structures): (LoadedSeries, Vec<Structure>),
        source: String,
    ) {
        let is_demo = source == DEMO_SOURCE;
        self.generation += 1;

        let (fallback, label) = self.fallback_window();
        let viewer = Viewer::new(&series.volume, fallback, &label);
        let n_warn = series.report.warnings.len() + series.report.skipped.len();
        let g = &series.volume.geometry;
        self.notify(
            NoticeLevel::Info,
            format!(
                "Opened {source}: {}×{}×{} voxels, {:.2}×{:.2}×{:.2} mm",
                g.dims[0], g.dims[1], g.dims[2], g.spacing_mm[0], g.spacing_mm[1], g.spacing_mm[2]
            ),
        );
        if n_warn > 0 && !series.report.warnings.iter().all(|w| w.starts_with("Synthetic")) {
            self.notify(
                NoticeLevel::Warning,
                format!("{n_warn} warning(s) while loading — see View > Series report"),
            );
        }
        self.loaded = Some(Loaded {
            volume: Arc::new(series.volume),
            report: series.report,
            source,
            generation: self.generation,
        });
        self.viewer = Some(viewer);
        self.views = views::ViewCache::default();
        self.structures = structures::StructureSet::new(initial_structures);
        // Probes are in this patient's coordinates: a new CT starts a new plan (the model
        // options stay, they are the user's preference).
        self.run = run::ModelRun::default();
        let model = self.plan.ire().map(|p| p.model.clone()).unwrap_or_default();
        self.plan = plan::PlanState::with_model(model);
        self.probe_view = probe_view::ProbeView::default();
        self.safety.caliper = None;
        self.safety.selected = None;
        self.history.clear();
        self.future.clear();
        self.seen_edits = (self.structures.edit_count(), self.plan.edit_count());
        self.import_log.clear();
        // Import offers belong to the previous series; a recovery offer outlives loads.
        if !matches!(self.prompt, Some(Prompt::OfferRecovery(_))) {
            self.prompt = None;
        }
        if !is_demo {
            self.offer_structure_sets();
        }
        // A case waiting for this series takes its structures and plans now.
        self.finish_pending_case();
        // Open on the target when there is one (the demo), like a planning worklist would.
        if let Some(t) = self
            .structures
            .items
            .iter()
            .position(|s| s.kind == crate::anatomy::StructureKind::Target)
        {
            self.jump_to_structure(t);
        }
    }

    fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if dropped.is_empty() {
            return;
        }
        // NIfTI label maps (or folders of masks) dropped on an open CT are structures for it;
        // anything else is opened as DICOM.
        if self.volume().is_some() && dropped.iter().all(|p| import::is_nifti_or_mask_folder(p)) {
            self.apply(Command::ImportStructures {
                paths: dropped,
                allow_missing_frame_of_reference: false,
            });
        } else {
            self.apply(Command::Open(dropped));
        }
    }
}

/// "CT · Series description (#3)" for notices and the title.
fn series_label(e: &dicom::SeriesEntry, source: &str) -> String {
    let desc = if e.series_description.is_empty() {
        "unnamed series".to_string()
    } else {
        e.series_description.clone()
    };
    let num = e.series_number.map(|n| format!(" #{n}")).unwrap_or_default();
    let src = Path::new(source)
        .file_name()
        .map(|s| format!(" from {}", s.to_string_lossy()))
        .unwrap_or_default();
    format!("{} {desc}{num}{src}", e.modality)
}

impl eframe::App for AblaApp {
    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.handle_dropped_files(ctx);
        self.poll_dialog();
        self.poll_jobs();
        self.poll_grow();
        self.poll_import();
        self.poll_model();
        self.record_result_summary();
        self.remember_plan_zone();
        self.safety_tick(std::time::Instant::now());
        self.poll_export();
        // Imports finish outside `apply`: enter their edits into the undo history.
        self.sync_history();
        self.apply_queued();
        self.autosave_tick(std::time::Instant::now());
        if self.is_busy() || self.run.running() {
            // Keep the progress bar moving even if a worker reports rarely.
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        panels::menu_bar(self, ui);
        panels::toolbar(self, ui);
        panels::tool_options(self, ui);
        panels::status_bar(self, ui);
        panels::structure_panel(self, ui);
        plan_panel::panel(self, ui);
        safety_ui::panel(self, ui);
        panels::windows(self, ui);
        let ctx = ui.ctx().clone();
        review::windows(self, &ctx);
        safety_ui::rules_window(self, &ctx);
        plan_panel::probe_view_window(self, ui);
        egui::CentralPanel::no_frame().show(ui, |ui| views::central(self, ui));
        views::keyboard(self, ui);
        self.apply_queued();
    }

    /// Called every 30 s and on quit: settings, and unsaved work to the recovery file.
    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, settings::STORAGE_KEY, &self.settings);
        self.autosave_on_exit();
    }
}

/// Start the GUI (blocking until the window closes).
pub fn run(opts: StartupOptions) -> Result<(), eframe::Error> {
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("ablaplan")
            .with_inner_size([1400.0, 900.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "ablaplan",
        native,
        Box::new(move |cc| Ok(Box::new(AblaApp::new(cc, opts)))),
    )
}

/// "an IRE electrode" / "a cryoprobe", for messages.
fn modality_phrase(m: Modality) -> &'static str {
    match m {
        Modality::Ire => "an IRE electrode",
        Modality::Cryo => "a cryoprobe",
    }
}

/// "IRE" / "cryo", for messages.
fn modality_name(m: Modality) -> &'static str {
    match m {
        Modality::Ire => "IRE",
        Modality::Cryo => "cryo",
    }
}
