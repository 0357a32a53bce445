//! The desktop application: the only module that imports eframe / egui / egui_plot / rfd.
//!
//! Frame loop: `logic` polls background jobs and files dropped on the window; `ui` draws the
//! panels and views, which turn input into [`Command`]s; commands are applied in one place
//! ([`AblaApp::apply`]) at the end of the frame.

mod apply;
mod case_io;
mod command;
mod cryo_ui;
mod export_ui;
pub mod file_dialog;
mod history;
mod import;
mod loading;
pub mod pacs;
mod panels;
mod placement;
pub mod plan;
mod plan_draw;
mod plan_panel;
pub mod probe_view;
mod quit;
mod renderer;
pub mod review;
mod run;
mod run_panel;
mod safety_ui;
pub mod settings;
mod structure_ops;
pub mod structures;
mod suggest_ui;
mod tools;
mod trajectory_ui;
mod view3d;
pub mod viewer;
mod views;
mod widgets;

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
    /// Folder of `settings.json` (written atomically on every save); `None` = settings are not
    /// written (tests). The GUI uses eframe's storage folder.
    pub settings_dir: Option<PathBuf>,
}

/// The volume on screen and where it came from.
pub struct Loaded {
    pub volume: Arc<Volume>,
    /// A phantom case's block: the volume is its display, the models read the block itself.
    pub phantom: Option<PhantomScene>,
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
/// `Loaded::source` of a phantom case's display volume.
const PHANTOM_SOURCE: &str = "Phantom block";

/// The block of a phantom experiment case opened in the viewer.
#[derive(Clone, Debug, PartialEq)]
pub struct PhantomScene {
    pub tissue: String,
    pub size_mm: [f64; 3],
    pub centre_lps: [f64; 3],
    /// Starting temperature of the cryo model (°C).
    pub temperature_c: f64,
    /// Regions whose tissue the case's structures set (a node in fat, a vessel of blood).
    pub regions: Vec<crate::physics::ire::tissue::TissueRegion>,
}

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
    /// A close request with unsaved changes (`quit.rs`).
    quit: quit::QuitState,
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
    dialog: Option<(std::sync::mpsc::Receiver<file_dialog::DialogOutcome>, OpenDialog)>,
    /// The built-in path dialog, when shown.
    path_dialog: Option<file_dialog::PathDialog>,
    // ----- plan (probes, IRE) -----
    plan: plan::PlanState,
    /// The one model run (IRE or cryo), its time slider and caches.
    run: run::ModelRun,
    /// The block of the phantom case being loaded (taken by the load that shows it).
    next_phantom: Option<PhantomScene>,
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
    /// Receiver, C-ECHO test and send to PACS.
    pacs: pacs::PacsState,
    /// The 3-D view: camera, meshes, GPU state.
    view3d: view3d::View3d,
    suggest: suggest_ui::SuggestUi,
    trajectory: trajectory_ui::TrajectoryUi,
    /// Where settings are written, and what was last written there (to write only changes).
    settings_store: Option<(PathBuf, Option<Settings>)>,
    ctx: egui::Context,
}

impl AblaApp {
    pub fn new(cc: &eframe::CreationContext<'_>, mut opts: StartupOptions) -> Self {
        let storage_dir = eframe::storage_dir("ablaplan");
        if opts.recovery_dir.is_none() {
            opts.recovery_dir = storage_dir.as_ref().map(|d| d.join("recovery"));
        }
        if opts.settings_dir.is_none() {
            opts.settings_dir = storage_dir;
        }
        // Our own atomically written file; eframe's store (written in place) only for settings
        // saved by versions before it.
        let settings = opts
            .settings_dir
            .as_deref()
            .and_then(|d| match settings::load_from(d) {
                Ok(s) => s,
                Err(e) => {
                    log::warn!("{e}; using the default settings");
                    None
                }
            })
            .or_else(|| {
                cc.storage
                    .and_then(|s| eframe::get_value::<Settings>(s, settings::STORAGE_KEY))
            })
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
            path_dialog: None,
            plan: plan::PlanState::default(),
            run: run::ModelRun::default(),
            next_phantom: None,
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
            pacs: pacs::PacsState::default(),
            view3d: view3d::View3d::new(),
            suggest: suggest_ui::SuggestUi::default(),
            trajectory: trajectory_ui::TrajectoryUi::default(),
            settings_store: None,
            quit: quit::QuitState::default(),
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
        app.settings_store = opts.settings_dir.map(|d| (d, None));
        app.start_pacs_from_settings();
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
    /// Where `view` was drawn last frame (min x, min y, width, height in points).
    pub fn view_pane_rect(&self, view: ViewKind) -> Option<[f64; 4]> {
        self.views.pane_rects[viewer::view_slot(view)]
    }
    /// The built-in path dialog, if shown.
    pub fn path_dialog(&self) -> Option<&file_dialog::PathDialog> {
        self.path_dialog.as_ref()
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

    // ----- undo history -----

    // ----- plan -----

    /// The built-in probe catalog (`None` when it could not be read; a notice says why).
    pub fn catalog(&self) -> Option<&Catalog> {
        self.catalog.as_deref().ok()
    }

    fn apply_queued(&mut self) {
        let cmds = std::mem::take(&mut self.commands);
        for c in cmds {
            self.apply(c);
        }
        self.update_model();
    }

    // ----- jobs -----
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
        self.poll_pacs();
        self.poll_suggest();
        // Imports finish outside `apply`: enter their edits into the undo history.
        self.sync_history();
        self.apply_queued();
        self.update_trajectory();
        self.autosave_tick(std::time::Instant::now());
        if self.is_busy() || self.run.running() {
            // Keep the progress bar moving even if a worker reports rarely.
            ctx.request_repaint_after(std::time::Duration::from_millis(100));
        }
    }

    fn ui(&mut self, ui: &mut egui::Ui, frame: &mut eframe::Frame) {
        self.view3d.set_render_state(frame);
        // A widget focused when the frame began owns this frame's keys, even if it lets go of
        // the focus while drawing (the view shortcuts run last).
        let focused_at_start = ui.ctx().memory(|m| m.focused().is_some());
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
        views::keyboard(self, ui, focused_at_start);
        self.path_dialog_window(&ui.ctx().clone());
        let ctx = ui.ctx().clone();
        self.handle_close_request(&ctx);
        self.quit_window(&ctx);
        self.apply_queued();
    }

    /// Called every 30 s and on quit: settings, and unsaved work to the recovery file.
    fn save(&mut self, _storage: &mut dyn eframe::Storage) {
        self.save_settings();
        self.autosave_on_exit();
    }
}

impl AblaApp {
    /// Writes the settings (atomically) when they changed since the last write.
    fn save_settings(&mut self) {
        let Some((dir, written)) = &mut self.settings_store else {
            return;
        };
        if written.as_ref() == Some(&self.settings) {
            return;
        }
        match settings::save_to(dir, &self.settings) {
            Ok(()) => *written = Some(self.settings.clone()),
            Err(e) => log::error!("cannot save the settings in {}: {e}", dir.display()),
        }
    }
}

/// Start the GUI (blocking until the window closes).
pub fn run(opts: StartupOptions) -> Result<(), eframe::Error> {
    let (renderer, why) = renderer::choose();
    log::info!("drawing with {renderer:?} ({why})");
    let native = eframe::NativeOptions {
        renderer,
        viewport: egui::ViewportBuilder::default()
            .with_title("ablaplan")
            .with_inner_size([1400.0, 900.0])
            .with_drag_and_drop(true),
        // No dithering: it adds up to half a grey level of noise to every displayed CT pixel,
        // and a grey-scale reading must show the windowed value as it is.
        dithering: false,
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
