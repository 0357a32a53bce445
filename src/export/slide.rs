//! The one-image tumour-board slide (1920 × 1080): up to three views (axial, coronal, along the
//! probe), the plan table(s), the findings with their severities, the margin, and the model's
//! provenance. Plain data in ([`BoardSlide`]); the safety findings arrive as `(severity, text)`
//! so this module does not depend on how they were computed.

use crate::render::RgbaImage;
use crate::render::paint::{Anchor, Canvas, DrawnText, line_height, text_size};
use crate::render::{Rgba, save_png};
use crate::volume::VolumeMeta;

use super::ExportError;
use super::view::{ViewExport, identifying_strings, render_view_fit};

pub const SLIDE_WIDTH: usize = 1920;
pub const SLIDE_HEIGHT: usize = 1080;

pub use crate::plan::finding::Severity;
use crate::render::palette;

/// One row of a table; `flagged` rows are drawn in red (e.g. a pair over the current limit).
#[derive(Clone, Debug, PartialEq)]
pub struct TableRow {
    pub cells: Vec<String>,
    pub flagged: bool,
}

/// A titled table of text cells.
#[derive(Clone, Debug, PartialEq)]
pub struct SlideTable {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<TableRow>,
}

/// Where the numbers come from.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Provenance {
    /// One line describing the model (e.g. the result's `description`).
    pub model: String,
    pub model_version: String,
    /// Hash of every parameter the result depends on ([`parameter_hash`]).
    pub parameter_hash: String,
    /// Further lines (e.g. case file, warnings).
    pub notes: Vec<String>,
}

/// Everything on a board slide.
pub struct BoardSlide<'a> {
    pub title: String,
    pub subtitle: String,
    /// Up to three views with their panel titles, left to right.
    pub views: Vec<(String, ViewExport<'a>)>,
    pub plan: Vec<SlideTable>,
    /// `None`: no safety analysis was run (the slide says so). Each text is shown as given
    /// (include the rule's own severity name if wanted) next to a dot of the severity's colour.
    pub findings: Option<Vec<(Severity, String)>>,
    /// Margin lines (e.g. "Minimal margin 6.2 mm (target: > 5 mm) — met"); empty = not available.
    pub margin: Vec<String>,
    /// Whether the margin goal is met (colours the margin block); `None` = unknown.
    pub margin_ok: Option<bool>,
    pub provenance: Provenance,
    /// Forces every view anonymised and redacts the patient's identifiers from all text.
    pub anonymise: bool,
    /// Patient header data (shown only when not anonymised).
    pub patient: Option<&'a VolumeMeta>,
    /// The 3-D picture of the plan (`render::scene3d`), drawn at the right of the plan block
    /// ([`SCENE3D_SIZE`]); `None` leaves the plan block its full width.
    pub scene3d: Option<RgbaImage>,
    /// The structures drawn in the views: (name, colour), listed with a swatch under the margin.
    pub legend: Vec<(String, [u8; 3])>,
}

/// Size (pixels) of the slide's 3-D picture: the right of the plan block, the lower band's
/// height.
pub const SCENE3D_SIZE: [usize; 2] = [340, 340];

/// Side (pixels) of the three square views.
pub const VIEW_SIDE_PX: usize = 600;

/// "1 pair", "2 pairs", "0 pairs": a count with the word in the right number.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

/// A rendered slide and every string drawn on it (views included).
#[derive(Clone, Debug)]
pub struct SlideImage {
    pub image: RgbaImage,
    pub texts: Vec<DrawnText>,
    /// Requested strings replaced because they contained an identifier (views included).
    pub redacted: usize,
}

impl SlideImage {
    pub fn save_png(&self, path: &std::path::Path) -> Result<(), ExportError> {
        save_png(path, &self.image).map_err(ExportError::from)
    }
}

/// FNV-1a (64-bit) over the parts, each followed by a 0xff separator, as 16 hex digits: a stable
/// fingerprint of the parameters a result depends on (not a security hash).
pub fn parameter_hash(parts: &[&[u8]]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(std::iter::once(&0xffu8)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

const BACKGROUND: Rgba = [18, 20, 24, 255];
const PANEL: Rgba = [30, 33, 39, 255];
const RULE: Rgba = [70, 75, 85, 255];
const TEXT: Rgba = [230, 232, 236, 255];
const DIM: Rgba = [160, 166, 176, 255];
const HEAD: Rgba = [140, 200, 255, 255];
const OK: Rgba = [110, 220, 120, 255];
const BAD: Rgba = [255, 85, 70, 255];

/// Greedy word wrap to `max_w` pixels at `size` (a single over-long word stays on its line).
fn wrap(text: &str, size: f64, max_w: f64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split_whitespace() {
        let candidate = if cur.is_empty() {
            word.to_string()
        } else {
            format!("{cur} {word}")
        };
        if !cur.is_empty() && text_size(&candidate, size)[0] > max_w {
            lines.push(std::mem::take(&mut cur));
            cur = word.to_string();
        } else {
            cur = candidate;
        }
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// A block of the lower band: its box, and the next free y.
struct Block {
    x0: f64,
    x1: f64,
    y: f64,
    y1: f64,
}

impl Block {
    fn heading(&mut self, c: &mut Canvas, text: &str) {
        c.text([self.x0, self.y], Anchor::LEFT_TOP, text, 19.0, HEAD);
        self.y += 28.0;
    }

    /// Wrapped lines; returns false (and writes "…") when out of room.
    fn para(&mut self, c: &mut Canvas, text: &str, size: f64, col: Rgba, indent: f64) -> bool {
        for line in wrap(text, size, self.x1 - self.x0 - indent) {
            if self.y + line_height(size) > self.y1 {
                c.text([self.x0 + indent, self.y - 4.0], Anchor::LEFT_TOP, "…", size, DIM);
                return false;
            }
            c.text([self.x0 + indent, self.y], Anchor::LEFT_TOP, &line, size, col);
            self.y += line_height(size);
        }
        true
    }
}

/// Height of a table at the full text size (heading, header, rows, gap), as `draw_table`
/// lays it out; a table shrunk to fit its width is never taller.
fn table_height(t: &SlideTable) -> f64 {
    28.0 + (1 + t.rows.len()) as f64 * (line_height(15.0) + 4.0) + 10.0
}

fn draw_table(c: &mut Canvas, b: &mut Block, t: &SlideTable) {
    b.heading(c, &t.title);
    let ncol = t
        .header
        .len()
        .max(t.rows.iter().map(|r| r.cells.len()).max().unwrap_or(0));
    if ncol == 0 {
        return;
    }
    let widths_at = |size: f64| -> Vec<f64> {
        (0..ncol)
            .map(|i| {
                std::iter::once(t.header.get(i))
                    .chain(t.rows.iter().map(|r| r.cells.get(i)))
                    .flatten()
                    .map(|s| text_size(s, size)[0])
                    .fold(0.0, f64::max)
                    + 18.0
            })
            .collect()
    };
    let avail = b.x1 - b.x0;
    let mut size = 15.0;
    let total: f64 = widths_at(size).iter().sum();
    if total > avail {
        size = (size * avail / total).max(10.0);
    }
    let widths = widths_at(size);
    let row_h = line_height(size) + 4.0;
    let xs: Vec<f64> = widths
        .iter()
        .scan(b.x0, |x, w| {
            let at = *x;
            *x += w;
            Some(at)
        })
        .collect();
    for (i, h) in t.header.iter().enumerate() {
        c.text([xs[i], b.y], Anchor::LEFT_TOP, h, size, DIM);
    }
    b.y += row_h;
    c.line([b.x0, b.y - 3.0], [b.x1, b.y - 3.0], 1.0, RULE);
    for (n, r) in t.rows.iter().enumerate() {
        if b.y + row_h > b.y1 {
            let more = format!("… {} more row(s)", t.rows.len() - n);
            c.text([b.x0, b.y], Anchor::LEFT_TOP, &more, size, DIM);
            b.y += row_h;
            return;
        }
        let col = if r.flagged { BAD } else { TEXT };
        for (i, cell) in r.cells.iter().enumerate().take(ncol) {
            c.text([xs[i], b.y], Anchor::LEFT_TOP, cell, size, col);
        }
        b.y += row_h;
    }
    b.y += 10.0;
}

/// The structures' legend: a colour swatch and the name, in two columns when there are more
/// than four; names too long for their column are shortened with "…".
fn draw_legend(c: &mut Canvas, b: &mut Block, entries: &[(String, [u8; 3])]) {
    b.heading(c, "Structures");
    let size = 14.0;
    let row_h = line_height(size) + 2.0;
    let cols = if entries.len() > 4 { 2 } else { 1 };
    let col_w = (b.x1 - b.x0) / cols as f64;
    let rows = entries.len().div_ceil(cols);
    for (n, (name, colour)) in entries.iter().enumerate() {
        let (col, row) = (n / rows, n % rows);
        let (x, y) = (b.x0 + col as f64 * col_w, b.y + row as f64 * row_h);
        if y + row_h > b.y1 {
            c.text([x, y - 4.0], Anchor::LEFT_TOP, "…", size, DIM);
            break;
        }
        c.fill_rect(
            x,
            y + 4.0,
            x + 12.0,
            y + 16.0,
            [colour[0], colour[1], colour[2], 255],
        );
        let max_w = col_w - 24.0;
        let mut label = name.clone();
        if text_size(&label, size)[0] > max_w {
            let mut chars: Vec<char> = name.chars().collect();
            let shortened = |chars: &[char]| format!("{}…", chars.iter().collect::<String>());
            while !chars.is_empty() && text_size(&shortened(&chars), size)[0] > max_w {
                chars.pop();
            }
            label = shortened(&chars);
        }
        c.text([x + 18.0, y], Anchor::LEFT_TOP, &label, size, TEXT);
    }
    b.y += (rows as f64 * row_h).min(b.y1 - b.y);
}

/// Renders the slide (1920 × 1080).
pub fn render_slide(slide: &BoardSlide<'_>) -> Result<SlideImage, ExportError> {
    let mut c = Canvas::new(SLIDE_WIDTH, SLIDE_HEIGHT, BACKGROUND)?;
    if slide.anonymise {
        let mut tokens: Vec<String> = slide.patient.map(identifying_strings).unwrap_or_default();
        for (_, v) in &slide.views {
            tokens.extend(identifying_strings(&v.volume.meta));
        }
        c.set_redactions(tokens);
    }
    let w = SLIDE_WIDTH as f64;
    // Header.
    c.fill_rect(0.0, 0.0, w, 64.0, PANEL);
    c.text([24.0, 8.0], Anchor::LEFT_TOP, &slide.title, 26.0, TEXT);
    c.text([24.0, 40.0], Anchor::LEFT_TOP, &slide.subtitle, 15.0, DIM);
    let who = match (slide.anonymise, slide.patient) {
        (true, _) => "Anonymised".to_string(),
        (false, Some(m)) => {
            let mut s = m.patient_name.replace('^', " ").trim().to_string();
            if !m.patient_id.is_empty() {
                s.push_str(&format!("  ID {}", m.patient_id));
            }
            s
        }
        (false, None) => String::new(),
    };
    if !who.is_empty() {
        c.text([w - 24.0, 22.0], Anchor::RIGHT_TOP, &who, 17.0, TEXT);
    }

    let mut redacted = 0;
    // Views: three 600 × 600 panels.
    let (side, top, gap) = (VIEW_SIDE_PX, 84.0, 36.0);
    for (i, (title, view)) in slide.views.iter().take(3).enumerate() {
        let x = 24.0 + i as f64 * (side as f64 + gap);
        let img = render_view_fit(view, side, side, 1.0, slide.anonymise)?;
        c.blit(&img.image, x as i64, top as i64);
        c.extend_texts(&img.texts, x, top);
        redacted += img.redacted;
        c.stroke_rect(
            x - 0.5,
            top - 0.5,
            x + side as f64 + 0.5,
            top + side as f64 + 0.5,
            1.0,
            RULE,
        );
        // The panel title under the header, left-aligned with the panel (the view's own corner
        // text names the plane too).
        c.text([x, top - 12.0], Anchor::LEFT_BOTTOM, title, 13.0, DIM);
    }

    // Lower band: plan | findings | margin and provenance.
    let (y0, y1) = (top + side as f64 + 18.0, SLIDE_HEIGHT as f64 - 30.0);
    let mut plan = Block {
        x0: 24.0,
        x1: 930.0,
        y: y0,
        y1,
    };
    if let Some(img) = &slide.scene3d {
        let x = 930.0 - img.width as f64;
        c.blit(img, x as i64, y0 as i64 + 4);
        c.stroke_rect(
            x - 0.5,
            y0 + 3.5,
            x + img.width as f64 + 0.5,
            y0 + 4.5 + img.height as f64,
            1.0,
            RULE,
        );
        c.text(
            [x + 6.0, y0 + 8.0],
            Anchor::LEFT_TOP,
            "3D, anterior view",
            13.0,
            DIM,
        );
        plan.x1 = x - 18.0;
    }
    // Tables that do not fit under each other flow into a second column.
    let needed: f64 = slide.plan.iter().map(table_height).sum();
    if needed > plan.y1 - plan.y && slide.plan.len() > 1 {
        let mid = (plan.x0 + plan.x1) / 2.0;
        let mut col = Block {
            x0: plan.x0,
            x1: mid - 12.0,
            y: y0,
            y1,
        };
        let mut second = false;
        for t in &slide.plan {
            if !second && col.y > y0 && col.y + table_height(t) > col.y1 {
                second = true;
                col = Block {
                    x0: mid + 12.0,
                    x1: plan.x1,
                    y: y0,
                    y1,
                };
            }
            draw_table(&mut c, &mut col, t);
        }
    } else {
        for t in &slide.plan {
            draw_table(&mut c, &mut plan, t);
        }
    }
    if slide.plan.is_empty() {
        plan.heading(&mut c, "Plan");
        plan.para(&mut c, "No plan.", 15.0, DIM, 0.0);
    }

    let mut find = Block {
        x0: 960.0,
        x1: 1440.0,
        y: y0,
        y1,
    };
    find.heading(&mut c, "Findings");
    match &slide.findings {
        None => {
            find.para(&mut c, "Safety analysis not available.", 15.0, DIM, 0.0);
        }
        Some(f) if f.is_empty() => {
            find.para(&mut c, "No findings.", 15.0, OK, 0.0);
        }
        Some(f) => {
            let mut sorted: Vec<&(Severity, String)> = f.iter().collect();
            // Worst first; the sort is stable, so equal severities keep their order.
            sorted.sort_by_key(|f| std::cmp::Reverse(f.0));
            for (sev, text) in sorted {
                if find.y + line_height(15.0) > find.y1 {
                    break;
                }
                c.circle_filled([find.x0 + 6.0, find.y + 10.0], 5.0, palette::severity(*sev));
                if !find.para(&mut c, text, 15.0, palette::severity(*sev), 18.0) {
                    break;
                }
                find.y += 4.0;
            }
        }
    }

    let mut side_block = Block {
        x0: 1470.0,
        x1: w - 24.0,
        y: y0,
        y1,
    };
    side_block.heading(&mut c, "Margin");
    if slide.margin.is_empty() {
        side_block.para(&mut c, "Not available (no target structure).", 15.0, DIM, 0.0);
    } else {
        let col = match slide.margin_ok {
            Some(true) => OK,
            Some(false) => BAD,
            None => TEXT,
        };
        for m in &slide.margin {
            side_block.para(&mut c, m, 15.0, col, 0.0);
        }
    }
    side_block.y += 12.0;
    if !slide.legend.is_empty() {
        draw_legend(&mut c, &mut side_block, &slide.legend);
        side_block.y += 12.0;
    }
    side_block.heading(&mut c, "Model provenance");
    let p = &slide.provenance;
    let mut lines = vec![
        format!("Model: {}", p.model),
        format!("Version: {}", p.model_version),
        format!("Parameter hash: {}", p.parameter_hash),
    ];
    lines.extend(p.notes.iter().cloned());
    for l in &lines {
        if !side_block.para(&mut c, l, 13.0, DIM, 0.0) {
            break;
        }
    }

    c.text(
        [24.0, SLIDE_HEIGHT as f64 - 22.0],
        Anchor::LEFT_TOP,
        "Planning aid for discussion — model predictions, not a substitute for clinical judgement.",
        13.0,
        DIM,
    );
    let redacted = redacted + c.redacted_count();
    let (image, texts) = c.into_parts();
    Ok(SlideImage {
        image,
        texts,
        redacted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_sensitive() {
        // FNV-1a 64 of the empty input is the offset basis; one separator byte changes it.
        assert_eq!(parameter_hash(&[]), "cbf29ce484222325");
        let a = parameter_hash(&[b"spacing 0.5", b"sigma 0.2"]);
        assert_eq!(a, parameter_hash(&[b"spacing 0.5", b"sigma 0.2"]));
        assert_ne!(a, parameter_hash(&[b"spacing 0.5", b"sigma 0.21"]));
        assert_ne!(
            a,
            parameter_hash(&[b"spacing 0.5sigma 0.2"]),
            "parts are separated"
        );
        assert_eq!(a.len(), 16);
    }

    #[test]
    fn wrap_keeps_lines_within_width() {
        let text = "the quick brown fox jumps over the lazy dog near the sacral nerve root";
        let lines = wrap(text, 15.0, 150.0);
        assert!(lines.len() > 2);
        for l in &lines {
            assert!(text_size(l, 15.0)[0] <= 150.0 || !l.contains(' '), "{l}");
        }
        assert_eq!(lines.join(" "), text);
    }
}
