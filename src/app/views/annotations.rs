//! What the slice views draw on top of the image: reference lines of the other views, tool
//! markers, rulers, and the corner annotations (patient and series text, W/L, position, scale
//! bar, orientation letters).

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

    pub(super) fn draw_annotations(&self, painter: &egui::Painter, rect: Rect, pane: &Pane) {
        let (view, m, slice, xf) = (pane.view, &pane.m, pane.slice, &pane.xf);
        let vol = self.volume();
        let g = &vol.geometry;
        let meta = &vol.meta;
        let size = 12.5;
        let col = Color32::from_gray(225);
        let pad = 6.0;

        // Orientation letters at the edge midpoints, from the geometry.
        let [l, r, t, b] = m.edge_labels(g);
        let big = 15.0;
        let ocol = super::super::widgets::c32(crate::render::palette::ORIENTATION);
        shadow_text(
            painter,
            Pos2::new(rect.min.x + pad, rect.center().y),
            Align2::LEFT_CENTER,
            &l,
            big,
            ocol,
        );
        shadow_text(
            painter,
            Pos2::new(rect.max.x - pad, rect.center().y),
            Align2::RIGHT_CENTER,
            &r,
            big,
            ocol,
        );
        shadow_text(
            painter,
            Pos2::new(rect.center().x, rect.min.y + pad),
            Align2::CENTER_TOP,
            &t,
            big,
            ocol,
        );
        shadow_text(
            painter,
            Pos2::new(rect.center().x, rect.max.y - pad),
            Align2::CENTER_BOTTOM,
            &b,
            big,
            ocol,
        );

        // Top left: view, image number, series number.
        let mut tl = vec![
            format!("{}", view.name()),
            format!("Im {} / {}", slice + 1, m.slice_count),
        ];
        if let Some(n) = meta.series_number {
            tl.push(format!("Se {n}"));
        }
        corner(
            painter,
            rect.left_top() + Vec2::new(pad, pad),
            Align2::LEFT_TOP,
            &tl,
            size,
            view_colour(view),
        );

        // Top right: patient and study (hidden when anonymised).
        let mut tr = Vec::new();
        if self.anonymise {
            tr.push("Anonymised".to_string());
        } else {
            tr.push(meta.patient_name.replace('^', " "));
            if !meta.patient_id.is_empty() {
                tr.push(format!("ID {}", meta.patient_id));
            }
            if !meta.patient_birth_date.is_empty() {
                tr.push(format!("DOB {}", dicom_date(&meta.patient_birth_date)));
            }
        }
        for d in [&meta.study_description, &meta.series_description] {
            if !d.is_empty() {
                tr.push(d.clone());
            }
        }
        corner(
            painter,
            rect.right_top() + Vec2::new(-pad, pad),
            Align2::RIGHT_TOP,
            &tr,
            size,
            col,
        );

        // Bottom left: window, slice position and thickness, cursor HU / LPS.
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
        let mut bl = vec![
            format!("W {:.0}  L {:.0}{preset}", w.width_hu, w.center_hu),
            format!("Pos {pos_mm:.1} mm  Th {thickness:.2} mm"),
        ];
        // Narrow views leave the cursor read-out to the status bar so corners never collide.
        if let Some(h) = self
            .cache
            .hover
            .filter(|h| h.view == view && rect.width() > 520.0)
        {
            let hu =
                h.hu.map(|v| format!("{v} HU"))
                    .unwrap_or_else(|| "outside".into());
            bl.push(format!(
                "{hu}  LPS ({:.1}, {:.1}, {:.1}) mm",
                h.lps.x, h.lps.y, h.lps.z
            ));
        }
        corner(
            painter,
            rect.left_bottom() + Vec2::new(pad, -pad),
            Align2::LEFT_BOTTOM,
            &bl,
            size,
            col,
        );

        // Bottom right: date/time and zoom.
        let mut br = Vec::new();
        if !meta.study_date.is_empty() {
            br.push(format!(
                "{} {}",
                dicom_date(&meta.study_date),
                dicom_time(&meta.study_time)
            ));
        }
        br.push(format!("Zoom {:.0} %", self.viewer.view(view).zoom * 100.0));
        corner(
            painter,
            rect.right_bottom() + Vec2::new(-pad, -pad),
            Align2::RIGHT_BOTTOM,
            &br,
            size,
            col,
        );

        scale_bar(painter, rect, xf.points_per_mm, BarPlace::BottomCentre);
    }
}

pub(super) fn corner(
    painter: &egui::Painter,
    at: Pos2,
    anchor: Align2,
    lines: &[String],
    size: f32,
    col: Color32,
) {
    let h = size + 3.0;
    let n = lines.len() as f32;
    for (i, line) in lines.iter().enumerate() {
        let dy = if anchor.y() == egui::Align::Max {
            -(n - 1.0 - i as f32) * h
        } else {
            i as f32 * h
        };
        shadow_text(painter, at + Vec2::new(0.0, dy), anchor, line, size, col);
    }
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
