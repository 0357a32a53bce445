//! The colours of ablaplan, one place for the screen (`app/` converts them to egui colours) and
//! the exports, so that what the tumour board sees is what the planner saw.

use super::Rgba;
use crate::plan::finding::{Light, Severity};

/// Traffic lights: red = stop / high risk, amber = check the plan, green = no rule fired.
pub const RED: Rgba = [225, 60, 50, 255];
pub const AMBER: Rgba = [240, 170, 40, 255];
pub const GREEN: Rgba = [70, 190, 90, 255];
/// Nothing computed yet, or informational: never green.
pub const NEUTRAL: Rgba = [150, 156, 166, 255];

/// Probes: the exposed (active) part, the insulated shaft, the tip marker.
pub const PROBE_EXPOSED: Rgba = [255, 200, 60, 255];
pub const PROBE_SHAFT: Rgba = [225, 225, 235, 255];
pub const PROBE_TIP: Rgba = [255, 80, 60, 255];
/// The needle path from the skin (issue 16): clear, and what it crosses.
pub const PATH_CLEAR: Rgba = GREEN;
pub const PATH_BONE: Rgba = [240, 225, 190, 255];
pub const PATH_GAS: Rgba = [90, 170, 255, 255];
pub const PATH_VESSEL: Rgba = [235, 40, 60, 255];
pub const PATH_NERVE: Rgba = [255, 235, 40, 255];
pub const PATH_OTHER: Rgba = [255, 130, 40, 255];
pub const PATH_PROBE: Rgba = [200, 120, 255, 255];
/// The caliper of a finding (closest points).
pub const CALIPER: Rgba = [80, 220, 255, 255];
/// Orientation letters and view captions.
pub const ORIENTATION: Rgba = [255, 220, 120, 255];
pub const VIEW_TEXT: Rgba = [140, 200, 255, 255];

pub fn light(l: Light) -> Rgba {
    match l {
        Light::Red => RED,
        Light::Amber => AMBER,
        Light::Green => GREEN,
    }
}

/// A finding's colour: its light, with informational findings neutral rather than green (green
/// means "checked and clear", which a note is not).
pub fn severity(s: Severity) -> Rgba {
    match s {
        Severity::Info => NEUTRAL,
        s => light(s.light()),
    }
}

/// The IRE zone fill (3 channels: the alpha is the overlay's).
pub const IRE_ZONE_RGB: [u8; 3] = [255, 140, 30];
/// The cryo lethal zone fill.
pub const CRYO_LETHAL_RGB: [u8; 3] = [40, 90, 255];
/// The IRE thermal damage zone (CEM43 above the damage dose): red, apart from the zone's orange.
pub const THERMAL_DAMAGE_RGB: [u8; 3] = [255, 40, 40];
/// |E| isolines in the order of the model options' list.
pub const ISOLINE_RGB: [[u8; 3]; 6] = [
    [90, 140, 255],
    [60, 215, 215],
    [120, 230, 90],
    [240, 90, 200],
    [250, 250, 250],
    [200, 160, 255],
];
/// Another plan's zone in the comparison (outline).
pub const COMPARE_RGB: [u8; 3] = [255, 80, 220];

/// Colour of isoline `n` (in the order of the model options' list).
pub fn isoline(n: usize) -> [u8; 3] {
    ISOLINE_RGB[n % ISOLINE_RGB.len()]
}

/// Colour of a cryo isotherm line: 0 °C white-blue, −20 °C cyan, −40 °C blue, others magenta.
pub fn isotherm(t_c: f64) -> [u8; 3] {
    match t_c {
        t if t.abs() < 1e-9 => [210, 235, 255],
        t if (t + 20.0).abs() < 1e-9 => [60, 220, 230],
        t if (t + 40.0).abs() < 1e-9 => [80, 120, 255],
        _ => [240, 90, 200],
    }
}

/// The three MPR views' own colours (reference lines, frames): axial red, coronal green,
/// sagittal yellow.
pub const AXIAL: Rgba = [230, 80, 70, 255];
pub const CORONAL: Rgba = [90, 200, 90, 255];
pub const SAGITTAL: Rgba = [235, 200, 60, 255];

/// Text of the panels: a warning, a caution, a good state.
pub const TEXT_WARN: Rgba = [240, 90, 80, 255];
pub const TEXT_CAUTION: Rgba = [240, 180, 60, 255];
pub const TEXT_GOOD: Rgba = [110, 200, 110, 255];

/// The selected probe's handles.
pub const SELECTED_HANDLE: Rgba = [90, 230, 255, 255];
