//! Every user action becomes a `Command`, applied in one place (`AblaApp::apply`), so input
//! handling stays separate from state changes and flows are testable.

use std::path::PathBuf;

use super::settings::{Layout, MouseMap, WlPreset};
use super::viewer::{Ruler, Window};
use crate::anatomy::StructureKind;
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
}

#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Show a native file dialog (on its own thread, so the UI keeps drawing).
    OpenDialog(OpenDialog),
    /// Scan files/folders/DICOMDIRs and open the CT found (or offer a choice).
    Open(Vec<PathBuf>),
    OpenDemo,
    /// Load series `n` of the last scan.
    PickSeries(usize),
    ClosePicker,
    CancelJob,
    SetLayout(Layout),
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
    Undo,
    Redo,
}
