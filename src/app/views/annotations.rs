//! What the slice views draw on top of the image: reference lines of the other views, tool
//! markers, rulers, and the corner annotations (patient and series text, W/L, position, scale
//! bar, orientation letters).

use super::overlay_layout::{KEEP, Line, Stack, fit};
use super::*;

impl ViewCtx<'_> {
    pub(super) fn draw_reference_lines(&self, painter: &egui::Painter, pane: &Pane, img: Rect) {
        let (view, m, xf) = (pane.view, &pane.m, &pane.xf);
        let (u, v, _) = m.pixel_of_voxel(&self.viewer.crosshair);
        let centre = to_pos(xf.to_screen(u, v));
        let gap = 10.0;
        let other_colour = |axis: usize| {
            ViewKind::ALL
                .iter()
                .copied()
                .find(|o| *o != view && self.volume().view_mapping(*o).normal_axis == axis)
                .map(view_colour)
                .unwrap_or(Color32::GRAY)
        };
        // Vertical line: the plane of the view whose normal is our horizontal axis.
        let vcol = other_colour(m.h_axis).gamma_multiply(0.8);
        let hcol = other_colour(m.v_axis).gamma_multiply(0.8);
        let sv = Stroke::new(1.0, vcol);
        let sh = Stroke::new(1.0, hcol);
        if centre.y - gap > img.min.y {
            painter.line_segment(
                [
                    Pos2::new(centre.x, img.min.y),
                    Pos2::new(centre.x, centre.y - gap),
                ],
                sv,
            );
        }
        if centre.y + gap < img.max.y {
            painter.line_segment(
                [
                    Pos2::new(centre.x, centre.y + gap),
                    Pos2::new(centre.x, img.max.y),
                ],
                sv,
            );
        }
        if centre.x - gap > img.min.x {
            painter.line_segment(
                [
                    Pos2::new(img.min.x, centre.y),
                    Pos2::new(centre.x - gap, centre.y),
                ],
                sh,
            );
        }
        if centre.x + gap < img.max.x {
            painter.line_segment(
                [
                    Pos2::new(centre.x + gap, centre.y),
                    Pos2::new(img.max.x, centre.y),
                ],
                sh,
            );
        }
    }

    /// Clicked points of the active tool and the path through them. Points off this slice
    /// are drawn hollow, so a path spanning slices stays readable.
    pub(super) fn draw_markers(&self, painter: &egui::Painter, pane: &Pane) {
        let colour = Color32::from_rgb(255, 140, 40);
        let slice = pane.slice as f64;
        let pts: Vec<(Pos2, f64)> = self.markers.iter().map(|p| self.lps_to_screen(pane, p)).collect();
        for w in pts.windows(2) {
            painter.line_segment([w[0].0, w[1].0], Stroke::new(1.0, colour.gamma_multiply(0.7)));
        }
        for (n, (p, s)) in pts.iter().enumerate() {
            if (s - slice).abs() < 0.5 {
                painter.circle_filled(*p, 4.0, colour);
            } else {
                painter.circle_stroke(*p, 4.0, Stroke::new(1.5, colour));
            }
            painter.text(
                *p + Vec2::new(6.0, -6.0),
                Align2::LEFT_BOTTOM,
                format!("{}", n + 1),
                FontId::proportional(12.0),
                colour,
            );
        }
    }

    pub(super) fn draw_rulers(&self, painter: &egui::Painter, response: &egui::Response, pane: &Pane) {
        let (view, slice) = (pane.view, pane.slice);
        let colour = super::super::widgets::c32(crate::render::palette::CALIPER);
        let draw = |a: Pos2, b: Pos2, mm: f64| {
            let stroke = Stroke::new(1.5, colour);
            painter.line_segment([a, b], stroke);
            for p in [a, b] {
                painter.circle_filled(p, 2.5, colour);
            }
            let mid = a + (b - a) * 0.5 + Vec2::new(6.0, -6.0);
            shadow_text(
                painter,
                mid,
                Align2::LEFT_BOTTOM,
                &format!("{mm:.1} mm"),
                13.0,
                colour,
            );
        };
        for r in self
            .viewer
            .rulers
            .iter()
            .filter(|r| r.view == view && r.slice == slice)
        {
            let (a, _) = self.lps_to_screen(pane, &r.a_lps);
            let (b, _) = self.lps_to_screen(pane, &r.b_lps);
            draw(a, b, r.length_mm());
        }
        if let (Some((rv, a_lps)), Some(pos)) = (self.cache.ruler_start, response.interact_pointer_pos())
            && rv == view
            && response.dragged()
        {
            let (a, _) = self.lps_to_screen(pane, &a_lps);
            let b_lps = self.screen_to_lps(pane, pos);
            draw(a, pos, (b_lps - a_lps).norm());
        }
    }

    /// The corner texts, orientation letters, scale bar and `legend` (the zone's isolines or
    /// isotherms), laid out for this pane by `overlay_layout::fit`: what does not fit is dropped,
    /// least important first, so nothing is drawn over anything else.
    pub(super) fn draw_annotations(
        &mut self,
        painter: &egui::Painter,
        rect: Rect,
        pane: &Pane,
        legend: &[(String, Color32)],
    ) {
        let stacks = self.overlay_stacks(rect, pane, legend);
        let placed = draw_stacks(painter, rect, &stacks);
        // Kept for the tests (and debugging): which rectangles each stack's lines took.
        self.cache.overlay_rects.retain(|(v, _)| *v != pane.view);
        let rects = placed
            .iter()
            .enumerate()
            .flat_map(|(s, r)| r.iter().flatten().map(move |r| (s, *r)))
            .collect();
        self.cache.overlay_rects.push((pane.view, rects));
    }

    /// The model's value and verdict under the cursor (the CT's HU is added by the caller).
    fn hover_lines(&self, lps: &PatientPos) -> Vec<String> {
        hover_readout(self.zone.as_ref(), self.cryo, lps)
    }

    /// The overlay of a pane as stacks of prioritised lines (see `overlay_layout`).
    pub(super) fn overlay_stacks(
        &self,
        rect: Rect,
        pane: &Pane,
        legend: &[(String, Color32)],
    ) -> Vec<OverlayStack> {
        let (view, m, slice, xf) = (pane.view, &pane.m, pane.slice, &pane.xf);
        let vol = self.volume();
        let g = &vol.geometry;
        let meta = &vol.meta;
        let size = 12.5;
        let col = Color32::from_gray(225);
        let big = 15.0;
        let ocol = super::super::widgets::c32(crate::render::palette::ORIENTATION);
        let t = |s: String, p: u8| OverlayItem::Text {
            text: s,
            size,
            colour: col,
            priority: p,
        };
        let letter = |s: String| OverlayItem::Text {
            text: s,
            size: big,
            colour: ocol,
            priority: KEEP,
        };
        let [l, r, top, bottom] = m.edge_labels(g);
        let annotate = self.annotations;

        // Top left: view (always), image number, series number.
        let vc = view_colour(view);
        let coloured = |s: String, p: u8| OverlayItem::Text {
            text: s,
            size,
            colour: vc,
            priority: p,
        };
        let mut tl = vec![coloured(view.name().to_string(), 95)];
        if annotate {
            tl.push(coloured(format!("Im {} / {}", slice + 1, m.slice_count), 60));
            if let Some(n) = meta.series_number {
                tl.push(coloured(format!("Se {n}"), 15));
            }
        }

        // Top right: patient and study (hidden when anonymised).
        let mut tr = Vec::new();
        if annotate {
            if self.anonymise {
                tr.push(t("Anonymised".to_string(), 45));
            } else {
                tr.push(t(meta.patient_name.replace('^', " "), 45));
                if !meta.patient_id.is_empty() {
                    tr.push(t(format!("ID {}", meta.patient_id), 35));
                }
                if !meta.patient_birth_date.is_empty() {
                    tr.push(t(format!("DOB {}", dicom_date(&meta.patient_birth_date)), 20));
                }
            }
            for (d, p) in [(&meta.study_description, 10), (&meta.series_description, 12)] {
                if !d.is_empty() {
                    tr.push(t(d.clone(), p));
                }
            }
        }

        // Bottom left: window, slice position and thickness, what is under the cursor.
        let mut bl = Vec::new();
        if annotate {
            let w = self.viewer.window;
            let preset = self
                .viewer
                .window_label
                .as_deref()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            let normal = g.axis_dir(m.normal_axis);
            let centre_vox = m.voxel_of_pixel(m.width as f64 / 2.0, m.height as f64 / 2.0, slice as f64);
            let pos_mm = g.to_patient(&centre_vox).coords.dot(&normal);
            let thickness = meta
                .slice_thickness_mm
                .filter(|_| view == ViewKind::Axial)
                .unwrap_or(g.spacing_mm[m.normal_axis]);
            bl.push(t(
                format!("W {:.0}  L {:.0}{preset}", w.width_hu, w.center_hu),
                55,
            ));
            bl.push(t(format!("Pos {pos_mm:.1} mm  Th {thickness:.2} mm"), 25));
            if let Some(h) = self.cache.hover.filter(|h| h.view == view) {
                let hu =
                    h.hu.map(|v| format!("{v} HU"))
                        .unwrap_or_else(|| "outside".into());
                for line in self.hover_lines(&h.lps) {
                    bl.push(t(line, 75));
                }
                bl.push(t(hu, 80));
                bl.push(t(
                    format!("LPS ({:.1}, {:.1}, {:.1}) mm", h.lps.x, h.lps.y, h.lps.z),
                    30,
                ));
            }
        }

        // Bottom right: the legend above date/time and zoom.
        let mut br: Vec<OverlayItem> = legend
            .iter()
            .enumerate()
            .map(|(i, (text, colour))| OverlayItem::Text {
                text: text.clone(),
                size: 12.0,
                colour: *colour,
                // The title and the last line (the filled zone) outlast the isolines between.
                priority: if i == 0 {
                    70
                } else if i + 1 == legend.len() {
                    68
                } else {
                    65 - (i as u8).min(10)
                },
            })
            .collect();
        if annotate {
            if !meta.study_date.is_empty() {
                br.push(t(
                    format!(
                        "{} {}",
                        dicom_date(&meta.study_date),
                        dicom_time(&meta.study_time)
                    ),
                    8,
                ));
            }
            br.push(t(
                format!("Zoom {:.0} %", self.viewer.view(view).zoom * 100.0),
                28,
            ));
        }

        let bar = OverlayItem::ScaleBar {
            length_mm: crate::export::view::nice_length_mm(rect.width() as f64 / 6.0 / xf.points_per_mm),
            points_per_mm: xf.points_per_mm,
            priority: 50,
        };
        vec![
            OverlayStack::new(Align2::LEFT_CENTER, vec![letter(l)]),
            OverlayStack::new(Align2::RIGHT_CENTER, vec![letter(r)]),
            OverlayStack::new(Align2::CENTER_TOP, vec![letter(top)]),
            OverlayStack::new(Align2::CENTER_BOTTOM, vec![bar, letter(bottom)]),
            OverlayStack::new(Align2::LEFT_TOP, tl),
            OverlayStack::new(Align2::RIGHT_TOP, tr),
            OverlayStack::new(Align2::LEFT_BOTTOM, bl),
            OverlayStack::new(Align2::RIGHT_BOTTOM, br),
        ]
    }
}

/// What the shown model says at `lps`: |E| (V/cm) and whether the point is in the IRE zone, or
/// the temperature (°C) at the shown time and whether it reached the lethal isotherm. Empty
/// outside the model's grid or without a model.
pub fn hover_readout(
    zone: Option<&super::super::plan_draw::ZoneRef<'_>>,
    cryo: Option<&super::super::cryo_ui::CryoView>,
    lps: &PatientPos,
) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(z) = zone {
        let r = z.result;
        if let Some([i, j, k]) = r.grid.nearest(lps) {
            let n = r.grid.index(i, j, k);
            if let (Some(e), Some(inside)) = (r.max_e_v_per_cm.get(n), r.zone.get(n)) {
                let verdict = if *inside {
                    "inside the IRE zone"
                } else {
                    "outside the IRE zone"
                };
                let t = r
                    .threshold_v_per_cm
                    .get(n)
                    .map(|t| format!(" (threshold {t:.0})"))
                    .unwrap_or_default();
                out.push(format!("|E| {e:.0} V/cm{t}, {verdict}"));
            }
        }
    }
    if let Some(c) = cryo
        && let Some(r) = &c.result
        && let Some(t) = r.temperature_at(c.snapshot, lps)
    {
        let verdict = if (t as f64) <= c.lethal_c {
            format!("lethal (at or below {:.0} °C)", c.lethal_c)
        } else if t <= 0.0 {
            "frozen, not lethal".to_string()
        } else {
            "not frozen".to_string()
        };
        out.push(format!("{t:.1} °C at {:.1} min, {verdict}", c.time_s / 60.0));
    }
    out
}

/// One line of a pane's overlay.
#[derive(Clone, Debug)]
pub enum OverlayItem {
    Text {
        text: String,
        size: f32,
        colour: Color32,
        priority: u8,
    },
    /// A bar of a round length with its length written above it.
    ScaleBar {
        length_mm: f64,
        points_per_mm: f64,
        priority: u8,
    },
}

/// Lines stacked from one anchor of the pane.
#[derive(Clone, Debug)]
pub struct OverlayStack {
    pub anchor: Align2,
    pub items: Vec<OverlayItem>,
}

impl OverlayStack {
    fn new(anchor: Align2, items: Vec<OverlayItem>) -> Self {
        Self { anchor, items }
    }
}

const SCALE_LABEL_PT: f32 = 11.0;
/// Room of the bar under its label (points).
const SCALE_BAR_PT: f32 = 8.0;

fn measure(fonts: &mut egui::epaint::text::FontsView<'_>, item: &OverlayItem) -> (Vec2, u8) {
    match item {
        OverlayItem::Text {
            text, size, priority, ..
        } => {
            let g = fonts.layout_no_wrap(text.clone(), FontId::proportional(*size), Color32::WHITE);
            (g.size() + Vec2::new(1.0, 1.0), *priority)
        }
        OverlayItem::ScaleBar {
            length_mm,
            points_per_mm,
            priority,
        } => {
            let label = fonts.layout_no_wrap(
                scale_label(*length_mm),
                FontId::proportional(SCALE_LABEL_PT),
                Color32::WHITE,
            );
            let len = (*length_mm * *points_per_mm) as f32;
            (
                Vec2::new(len.max(label.size().x) + 2.0, label.size().y + SCALE_BAR_PT),
                *priority,
            )
        }
    }
}

fn scale_label(length_mm: f64) -> String {
    if length_mm >= 10.0 {
        format!("{:.0} cm", length_mm / 10.0)
    } else {
        format!("{length_mm} mm")
    }
}

/// Padding between the pane's edge and its overlay (points).
pub const OVERLAY_PAD: f32 = 6.0;

/// Where each line of `stacks` goes in `rect` (`None`: dropped), measured with the context's fonts.
pub fn layout_stacks(ctx: &egui::Context, rect: Rect, stacks: &[OverlayStack]) -> Vec<Vec<Option<Rect>>> {
    let fit_stacks: Vec<Stack> = ctx.fonts_mut(|f| {
        stacks
            .iter()
            .map(|s| Stack {
                anchor: s.anchor,
                lines: s
                    .items
                    .iter()
                    .map(|i| {
                        let (size, priority) = measure(f, i);
                        Line { size, priority }
                    })
                    .collect(),
            })
            .collect()
    });
    fit(rect, OVERLAY_PAD, &fit_stacks)
}

/// Draws the stacks where `layout_stacks` put them; returns where that was.
pub fn draw_stacks(painter: &egui::Painter, rect: Rect, stacks: &[OverlayStack]) -> Vec<Vec<Option<Rect>>> {
    let placed = layout_stacks(painter.ctx(), rect, stacks);
    for (stack, rects) in stacks.iter().zip(&placed) {
        for (item, r) in stack.items.iter().zip(rects) {
            let Some(r) = r else { continue };
            match item {
                OverlayItem::Text {
                    text, size, colour, ..
                } => shadow_text(painter, r.min, Align2::LEFT_TOP, text, *size, *colour),
                OverlayItem::ScaleBar {
                    length_mm,
                    points_per_mm,
                    ..
                } => {
                    let len = (*length_mm * *points_per_mm) as f32;
                    let col = Color32::from_gray(230);
                    let s = Stroke::new(1.5, col);
                    let y = r.max.y - 2.0;
                    let x0 = r.center().x - len / 2.0;
                    painter.line_segment([Pos2::new(x0, y), Pos2::new(x0 + len, y)], s);
                    for x in [x0, x0 + len] {
                        painter.line_segment([Pos2::new(x, y - 5.0), Pos2::new(x, y)], s);
                    }
                    shadow_text(
                        painter,
                        Pos2::new(r.center().x, r.min.y),
                        Align2::CENTER_TOP,
                        &scale_label(*length_mm),
                        SCALE_LABEL_PT,
                        col,
                    );
                }
            }
        }
    }
    placed
}

/// "20240131" → "2024-01-31"; anything else unchanged.
pub fn dicom_date(d: &str) -> String {
    let d = d.trim();
    if d.len() == 8 && d.chars().all(|c| c.is_ascii_digit()) {
        format!("{}-{}-{}", &d[0..4], &d[4..6], &d[6..8])
    } else {
        d.to_string()
    }
}

/// "134501.123" → "13:45:01".
pub fn dicom_time(t: &str) -> String {
    let t = t.trim();
    if t.len() >= 6 && t[..6].chars().all(|c| c.is_ascii_digit()) {
        format!("{}:{}:{}", &t[0..2], &t[2..4], &t[4..6])
    } else {
        t.to_string()
    }
}
