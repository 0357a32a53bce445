//! Every user action becomes a `Command`, applied in one place (`AblaApp::apply`), so input
//! handling stays separate from state changes and flows are testable.

use std::path::PathBuf;

use super::plan::ArrayOptions;
use super::settings::{Layout, MouseMap, WlPreset};
use super::viewer::{Ruler, Window};
use crate::anatomy::StructureKind;
use crate::geometry::PatientPos;
use crate::physics::ire::model::IreModelOptions;
use crate::plan::ire::IreSettings;
use crate::plan::probe::Probe;
use crate::volume::ViewKind;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tool {
    /// Mouse map as configured (W/L, pan, zoom; click sets the crosshair).
    Navigate,
    /// Left-drag measures a distance in mm.
    Ruler,
    /// Left-drag paints the selected structure.
    Brush,
    /// Left-drag erases from the selected structure.
    Eraser,
    /// Click a seed; preview the grown region, then accept or discard.
    RegionGrow,
    /// Click points along a nerve; "Finish" makes a tube structure.
    NervePath,
    /// Three clicks define an ellipsoid target.
    TargetEllipsoid,
    /// IRE electrode: press at the tip, drag to the entry; drag the selected probe's handles.
    Probe,
}

/// Which native file dialog to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenDialog {
    Folder,
    Files,
    /// RTSTRUCT / SEG / NIfTI files to import onto the loaded CT.
    Structures,
    /// A folder of NIfTI masks (or holding RTSTRUCT / SEG) to import onto the loaded CT.
    StructureFolder,
    /// A case file to open.
    Case,
    /// Where to save the case.
    SaveCase,
    /// A folder of cases to list in the case library.
    Library,
    /// Where to write an anonymised copy of the case for teaching.
    ExportAnonymised,
    /// Where to write the active view as PNG.
    ExportView,
    /// Where to write the tumour-board slide.
    ExportSlide,
    /// Where to write the whole layout.
    ExportLayout,
    /// The folder to write the plan's DICOM objects into.
    ExportDicom,
    /// Where to write the 3-D view's picture.
    Export3d,
    /// DICOM files (or folders, walked) to send to the PACS node of the settings.
    SendToPacs,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Show a native file dialog (on its own thread, so the UI keeps drawing); the built-in one
    /// when the desktop has none or it fails.
    OpenDialog(OpenDialog),
    /// Show the built-in path dialog (a path field and the folder's listing).
    OpenPathDialog(OpenDialog),
    /// Scan files/folders/DICOMDIRs and open the CT found (or offer a choice).
    Open(Vec<PathBuf>),
    OpenDemo,
    /// Open a saved case (finds and loads its series, then its structures and plans).
    OpenCase(PathBuf),
    /// Save the case to its file (asks for one the first time).
    SaveCase,
    SaveCaseTo(PathBuf),
    /// Take / discard the work an earlier session left unsaved.
    RecoverCase,
    DiscardRecovery,
    /// Show plan `n` of the case.
    SelectPlan(usize),
    /// Add a plan: a copy of the current one, or empty.
    NewPlan {
        copy: bool,
    },
    RenamePlan(String),
    /// List the cases of a folder in the case library.
    OpenLibrary(PathBuf),
    /// Open a case for review: nothing in it can be changed.
    OpenCaseReadOnly(PathBuf),
    SetCaseDetails {
        name: String,
        review: crate::plan::document::CaseReview,
    },
    ReviewStep(ReviewStep),
    ShowLibrary(bool),
    ShowCaseDetails(bool),
    ShowReview(bool),
    /// Write the case without patient identity (folder path, UIDs) for teaching.
    ExportAnonymisedTo(PathBuf),
    ShowSafetyPanel(bool),
    ShowRules(bool),
    /// Replace the safety rules (edited limits, switched rules).
    SetRules(crate::safety::RuleSet),
    SetExportOptions(ExportOptions),
    /// Render the active view (overlays burned in) at the export scale into a PNG.
    ExportViewTo(PathBuf),
    /// Render the 1920 × 1080 tumour-board slide into a PNG.
    ExportSlideTo(PathBuf),
    /// Render the whole layout (as on screen) into a PNG.
    ExportLayoutTo(PathBuf),
    /// Write the plan as DICOM (SEG, RTSTRUCT, Secondary Captures) into a folder.
    ExportDicomTo(PathBuf),
    /// Render the 3-D view as seen (camera, surfaces) on the CPU into a PNG.
    Export3dTo(PathBuf),
    /// Move the views to finding `n` of the safety report and show its caliper.
    FocusFinding(usize),
    ClearCaliper,
    /// Load series `n` of the last scan.
    PickSeries(usize),
    ClosePicker,
    CancelJob,
    SetLayout(Layout),
    /// Rotate, pan, zoom or reset the 3-D view, show bone, move the crosshair to a picked point.
    View3d(super::view3d::Action),
    SetActiveView(ViewKind),
    /// Apply preset `n` of the settings' preset list.
    ApplyPreset(usize),
    /// Back to WindowCenter/Width of the series.
    ApplyDicomWindow,
    SetWindow(Window),
    Scroll {
        view: ViewKind,
        delta: i64,
    },
    /// Crosshair to image pixel (u, v) of `view` (continuous pixel coordinates).
    SetCrosshair {
        view: ViewKind,
        u: f64,
        v: f64,
    },
    Pan {
        view: ViewKind,
        dx: f64,
        dy: f64,
    },
    /// Zoom by `factor` about a point given relative to the view centre (points).
    Zoom {
        view: ViewKind,
        factor: f64,
        anchor: [f64; 2],
    },
    ResetView,
    ToggleAnnotations,
    SetAnonymise(bool),
    SetMouseMap(MouseMap),
    SetTool(Tool),
    AddRuler(Ruler),
    ClearRulers,
    ShowReport(bool),
    ShowSettings(bool),
    SetPresets(Vec<WlPreset>),
    DismissNotices,
    ForgetRecent,
    /// Receive from / send to PACS (Settings, File menu).
    Pacs(super::pacs::PacsCommand),
    // ----- structures -----
    /// A new empty structure of this kind on the CT grid, selected for drawing.
    NewStructure(StructureKind),
    SelectStructure(Option<usize>),
    SetStructureVisible(usize, bool),
    SetStructureColour(usize, [u8; 3]),
    SetStructureOpacity(usize, f32),
    SetStructureKind(usize, StructureKind),
    RenameStructure(usize, String),
    /// Move the crosshair to the structure's centroid.
    JumpToStructure(usize),
    DeleteStructure(usize),
    /// Keep this structure and remove the same-named ones from other sources (one undo step).
    KeepStructureRemoveDuplicates(usize),
    SetBrush(super::Brush),
    /// Paint (or erase) the selected structure with the brush at `lps` on `slice` of `view`.
    Paint {
        view: ViewKind,
        slice: usize,
        lps: crate::geometry::PatientPos,
        erase: bool,
    },
    /// The mouse button was released: the stroke becomes one undo step.
    EndStroke,
    /// A left click of a click tool (region grow, nerve path, ellipsoid) at `lps`.
    ToolClick {
        view: ViewKind,
        lps: crate::geometry::PatientPos,
    },
    SetNerveRadius(f64),
    FinishNervePath,
    RemoveLastPoint,
    /// Forget the points / preview of the active click tool.
    ClearToolPoints,
    SetGrowPreset(usize),
    SetGrowWindow {
        window: crate::anatomy::edit::HuWindow,
        max_volume_ml: f64,
    },
    AcceptGrow {
        add_to_selected: bool,
    },
    /// Shape-based interpolation of the empty slices between painted ones.
    FillBetweenSlices(usize),
    /// Import RTSTRUCT / SEG / NIfTI files or folders onto the loaded CT.
    ImportStructures {
        paths: Vec<std::path::PathBuf>,
        allow_missing_frame_of_reference: bool,
    },
    DismissPrompt,
    /// Undo the last structure or plan edit (one history for both).
    Undo,
    Redo,
    // ----- plan (probes, IRE) -----
    /// A new probe of the catalog's default IRE electrode (default exposure), selected.
    AddProbe {
        tip_lps: PatientPos,
        entry_lps: PatientPos,
    },
    /// Live move while dragging (no undo step until `EndProbeDrag`; runs the preview).
    MoveProbe {
        index: usize,
        tip_lps: PatientPos,
        entry_lps: PatientPos,
    },
    /// A drag (of a probe, or of a plan number in the panel) ended: the live changes become one
    /// undo step and the full model runs.
    EndDrag,
    /// Numeric edit of a probe (one undo step).
    SetProbe {
        index: usize,
        probe: Probe,
    },
    DeleteProbe(usize),
    SelectProbe(Option<usize>),
    SetArrayOptions(ArrayOptions),
    /// Replace the probes by the array template of the current options.
    PlaceArray,
    /// Start the plan suggestion (a job), cancel it, or put proposal `i` into the plan.
    SuggestPlan,
    /// Show (or hide) the safe window on the skin for the selected probe in the active view.
    ShowSafeWindow(bool),
    CancelSuggestion,
    AcceptSuggestion(usize),
    /// Ratio, cap, pulses (the pairs are edited with the pair commands). `live`: while dragging
    /// a value (preview only, one undo step at `EndDrag`).
    SetIreSettings {
        settings: IreSettings,
        live: bool,
    },
    SetPairIncluded {
        a: usize,
        b: usize,
        included: bool,
    },
    /// `None` = back to spacing × ratio. `live` as for `SetIreSettings`.
    SetPairVoltage {
        a: usize,
        b: usize,
        voltage_v: Option<f64>,
        live: bool,
    },
    ResetPairs,
    SetModelOptions(IreModelOptions),
    /// Run the full model (IRE or cryo) again for the current plan.
    RunModel,
    /// Cancel the running model.
    CancelModel,
    ShowProbeView(bool),
    ShowPlanPanel(bool),
    /// Which pulsed pair the |E| profile plot shows (index into the result's pairs).
    SetProfilePair(usize),
    // ----- cryo (issue 5) -----
    /// The probe model (catalog id) the probe tool and the array template place.
    SetProbeModel(String),
    /// Protocol, lethal / user isotherm, grid. `live` as for `SetIreSettings`.
    SetCryoSettings {
        settings: crate::physics::cryo::model::CryoSettings,
        live: bool,
    },
    /// Where the time slider is (s from the start of the protocol).
    SetCryoTime(f64),
    /// A temperature sensor (thermocouple) at this point.
    AddCryoSensor(PatientPos),
    /// A sensor at the crosshair.
    AddCryoSensorAtCrosshair,
    RemoveCryoSensor(usize),
}

/// The steps of a review.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReviewStep {
    Structures,
    Probes,
    Zone,
    Findings,
}

impl ReviewStep {
    pub const ALL: [ReviewStep; 4] = [
        ReviewStep::Structures,
        ReviewStep::Probes,
        ReviewStep::Zone,
        ReviewStep::Findings,
    ];
    pub fn label(self) -> &'static str {
        match self {
            ReviewStep::Structures => "1 Structures",
            ReviewStep::Probes => "2 Probes",
            ReviewStep::Zone => "3 Zone",
            ReviewStep::Findings => "4 Findings",
        }
    }
}

/// Export options chosen in the menu.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExportOptions {
    /// Output pixels per image pixel of the view (1, 2 or 4).
    pub scale: u32,
    /// Burn no patient identity into the image (on by default, as the issue asks).
    pub anonymise: bool,
    /// "Export view as PNG" exports the part of the slice seen on screen (zoom and pan) instead
    /// of the whole slice (on by default: what is exported is what was looked at).
    pub on_screen: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            scale: 2,
            anonymise: true,
            on_screen: true,
        }
    }
}
