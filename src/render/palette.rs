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
