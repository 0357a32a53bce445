//! Exports for the tumour board and for teaching, rendered on the CPU (no GPU, so the CLI makes
//! the same images as the GUI): one view at a chosen scale with burned-in overlays (`view`), the
//! 1920 × 1080 board slide (`slide`), and the IRE and cryo slides assembled from a model result
//! (`board`).
//! Inputs are plain data; images are `render::RgbaImage` written with `render::save_png`.

pub mod board;
pub mod dicom;
pub mod slide;
pub mod view;

pub use board::{Board, BoardZone, board_slide, phantom_display_geometry, phantom_display_volume};
pub use slide::{
    BoardSlide, Provenance, SLIDE_HEIGHT, SLIDE_WIDTH, Severity, SlideImage, SlideTable, TableRow,
    parameter_hash, render_slide,
};
pub use view::{
    CaliperOverlay, Isoline, LayoutPanel, Overlay, ProbeOverlay, StructureOverlay, ViewExport, ViewImage,
    ViewPlane, ZoneOverlay, render_layout, render_view, render_view_fit,
};

use crate::render::RenderError;
use crate::render::paint::PaintError;
use crate::render::reslice::ResliceError;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("export scale {0}× is not supported; choose 1× to 8× (e.g. 2× or 4×)")]
    BadScale(u32),
    #[error("cannot export this view: {0}")]
    BadView(String),
    #[error(transparent)]
    Paint(#[from] PaintError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("cannot export this view: {0}")]
    Reslice(#[from] ResliceError),
}
#[cfg(test)]
mod board_tests;
