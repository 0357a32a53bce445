//! Small drawing helpers shared by the views and the panels (a leaf of `app/`: it imports no
//! other module of the app): palette colours as egui colours, text with a shadow, the scale bar,
//! mouse-wheel notches.

use eframe::egui::{self, Align2, Color32, FontId, Pos2, Rect, Stroke, Vec2};

use crate::export::view::nice_length_mm;

/// Pointer-scroll distance (points) that counts as one wheel notch.
const POINTS_PER_NOTCH: f32 = 40.0;

/// An egui colour of the shared palette (screen and exports draw with the same).
pub const fn c32(c: crate::render::Rgba) -> Color32 {
    Color32::from_rgba_premultiplied(c[0], c[1], c[2], c[3])
}

/// An opaque egui colour from three channels of the palette.
pub const fn rgb(c: [u8; 3]) -> Color32 {
    Color32::from_rgb(c[0], c[1], c[2])
}

/// Where a scale bar sits in its image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarPlace {
    /// About a fifth of the width, bottom left (along-probe images).
    BottomLeft,
}

/// A bar of a round length (1, 2, 5 × 10ⁿ mm) with its length written above it.
pub fn scale_bar(painter: &egui::Painter, rect: Rect, points_per_mm: f64, place: BarPlace) {
    if points_per_mm <= 0.0 || !points_per_mm.is_finite() {
        return;
    }
    // (fraction of the width, height above the bottom edge, tick height)
    let (divisor, lift, tick) = match place {
        BarPlace::BottomLeft => (5.0, 20.0, 4.0),
    };
    let length_mm = nice_length_mm(rect.width() as f64 / divisor / points_per_mm);
    let len = (length_mm * points_per_mm) as f32;
    let y = rect.max.y - lift;
    let x0 = match place {
        BarPlace::BottomLeft => rect.min.x + 10.0,
    };
    let col = Color32::from_gray(230);
    let s = Stroke::new(1.5, col);
    painter.line_segment([Pos2::new(x0, y), Pos2::new(x0 + len, y)], s);
    for x in [x0, x0 + len] {
        painter.line_segment([Pos2::new(x, y - tick), Pos2::new(x, y)], s);
    }
    let label = if length_mm >= 10.0 {
        format!("{:.0} cm", length_mm / 10.0)
    } else {
        format!("{length_mm} mm")
    };
    let (at, anchor) = match place {
        BarPlace::BottomLeft => (Pos2::new(x0, y - 3.0), Align2::LEFT_BOTTOM),
    };
    shadow_text(painter, at, anchor, &label, 11.0, col);
}

/// Text with a dark shadow so it reads on any tissue.
pub fn shadow_text(painter: &egui::Painter, at: Pos2, anchor: Align2, text: &str, size: f32, col: Color32) {
    let font = FontId::proportional(size);
    painter.text(
        at + Vec2::new(1.0, 1.0),
        anchor,
        text,
        font.clone(),
        Color32::from_black_alpha(220),
    );
    painter.text(at, anchor, text, font, col);
}

/// Wheel notches in this frame's events (positive = wheel forward): lines count one, pages ten,
/// pixel deltas (touchpads) accumulate in `carry` so that a notch needs a deliberate swipe; Shift
/// multiplies by `shift_mult`. With `skip_zoom`, wheel events with Ctrl / Cmd (zoom) are left out.
pub fn wheel_notches(ui: &egui::Ui, carry: &mut f32, shift_mult: i64, skip_zoom: bool) -> i64 {
    let mut notches = 0i64;
    ui.input(|i| {
        for e in &i.events {
            if let egui::Event::MouseWheel {
                unit,
                delta,
                modifiers,
                ..
            } = e
            {
                if skip_zoom && (modifiers.command || modifiers.ctrl) {
                    continue;
                }
                let mult = if modifiers.shift { shift_mult } else { 1 };
                match unit {
                    egui::MouseWheelUnit::Line => notches += (delta.y.signum() as i64) * mult,
                    egui::MouseWheelUnit::Page => notches += (delta.y.signum() as i64) * 10 * mult,
                    egui::MouseWheelUnit::Point => {
                        *carry += delta.y;
                        while carry.abs() >= POINTS_PER_NOTCH {
                            let s = carry.signum();
                            notches += s as i64 * mult;
                            *carry -= s * POINTS_PER_NOTCH;
                        }
                    }
                }
            }
        }
    });
    notches
}

/// Colours of a small plot's series, in order (distinct on the dark theme).
pub const PLOT_COLOURS: [Color32; 6] = [
    Color32::from_rgb(90, 170, 255),
    Color32::from_rgb(255, 170, 60),
    Color32::from_rgb(120, 220, 120),
    Color32::from_rgb(230, 110, 200),
    Color32::from_rgb(200, 200, 200),
    Color32::from_rgb(255, 90, 90),
];

/// Room for the y-axis tick values of the panels' small plots (points): without it a narrow
/// plot drops its y labels ("1000" does not fit).
pub const PLOT_Y_AXIS_WIDTH: f32 = 44.0;

/// A plot's legend as a wrapped row under it, so it never covers a curve.
pub fn legend_row(ui: &mut egui::Ui, entries: &[(String, Color32)]) {
    ui.horizontal_wrapped(|ui| {
        for (text, colour) in entries {
            ui.label(egui::RichText::new(format!("— {text}")).color(*colour).small());
        }
    });
}
