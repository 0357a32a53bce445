//! A small CPU vector painter on an [`RgbaImage`] for exports (tumour-board PNGs, CLI): anti-
//! aliased lines of any width (solid or dashed), filled and outlined circles and polygons, filled
//! rectangles, source-over alpha blending, and text rendered with the fonts egui uses on screen
//! (Ubuntu-Light, with Hack as the fallback for symbols Ubuntu lacks), so an export reads like
//! the screen.
//!
//! Coordinates are continuous image pixels: pixel `(x, y)` covers `[x, x + 1] × [y, y + 1]`
//! (centre `(x + 0.5, y + 0.5)`), the convention of `volume::SliceMapping`, `render::reslice` and
//! the overlay segments. Coverage is computed at pixel centres from exact distances (lines,
//! circles) or 4 × 4 sub-rows with exact horizontal spans (polygons).
//!
//! Every string drawn is recorded ([`Canvas::texts`]) so tests can check what an export says
//! without reading pixels; strings matching a redaction list (patient name, ID, birth date) are
//! replaced before they are drawn or recorded.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, GlyphId, PxScale, ScaleFont, point};

use super::{Rgba, RgbaImage};

/// A point in continuous image pixels.
pub type Pt = [f64; 2];

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PaintError {
    #[error("the built-in font could not be read ({0}); this is a bug, please report it")]
    Font(String),
    #[error("a canvas of {0} × {1} pixels is empty or too large (at most 16384 per side)")]
    BadSize(usize, usize),
}

/// Largest canvas side: 16384² RGBA is 1 GiB, beyond any export.
pub const MAX_CANVAS_SIDE: usize = 16_384;

struct Fonts {
    regular: FontRef<'static>,
    fallback: FontRef<'static>,
}

fn fonts() -> Result<&'static Fonts, PaintError> {
    static FONTS: OnceLock<Result<Fonts, String>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let regular =
                FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT).map_err(|e| e.to_string())?;
            let fallback =
                FontRef::try_from_slice(epaint_default_fonts::HACK_REGULAR).map_err(|e| e.to_string())?;
            Ok(Fonts { regular, fallback })
        })
        .as_ref()
        .map_err(|e| PaintError::Font(e.clone()))
}

/// Horizontal placement of text relative to its anchor point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HAlign {
    Left,
    Center,
    Right,
}

/// Vertical placement of text relative to its anchor point.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VAlign {
    Top,
    Center,
    Bottom,
}

/// Where the anchor point sits on the text's box.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Anchor(pub HAlign, pub VAlign);

impl Anchor {
    pub const LEFT_TOP: Anchor = Anchor(HAlign::Left, VAlign::Top);
    pub const LEFT_CENTER: Anchor = Anchor(HAlign::Left, VAlign::Center);
    pub const LEFT_BOTTOM: Anchor = Anchor(HAlign::Left, VAlign::Bottom);
    pub const CENTER_TOP: Anchor = Anchor(HAlign::Center, VAlign::Top);
    pub const CENTER: Anchor = Anchor(HAlign::Center, VAlign::Center);
    pub const CENTER_BOTTOM: Anchor = Anchor(HAlign::Center, VAlign::Bottom);
    pub const RIGHT_TOP: Anchor = Anchor(HAlign::Right, VAlign::Top);
    pub const RIGHT_CENTER: Anchor = Anchor(HAlign::Right, VAlign::Center);
    pub const RIGHT_BOTTOM: Anchor = Anchor(HAlign::Right, VAlign::Bottom);
}

/// A string the painter was asked to draw (after redaction), with its box in pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct DrawnText {
    pub text: String,
    /// `[x0, y0, x1, y1]`.
    pub rect: [f64; 4],
    pub size_px: f64,
    pub colour: Rgba,
}

pub use super::redact::REDACTED;
use super::redact::Redactor;

/// An RGBA image with vector drawing and text.
#[derive(Clone, Debug)]
pub struct Canvas {
    pub image: RgbaImage,
    texts: Vec<DrawnText>,
    /// Identifiers that must never be drawn.
    redactor: Redactor,
    /// How many requested strings were replaced.
    redacted: usize,
}

/// Colour with its alpha multiplied by `f` in [0, 1].
pub fn with_alpha(c: Rgba, f: f64) -> Rgba {
    [
        c[0],
        c[1],
        c[2],
        (f64::from(c[3]) * f.clamp(0.0, 1.0)).round() as u8,
    ]
}

fn dist_to_segment(p: Pt, a: Pt, b: Pt) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p[0] - a[0] - t * dx).hypot(p[1] - a[1] - t * dy)
}

impl Canvas {
    /// A canvas filled with `fill`.
    pub fn new(width: usize, height: usize, fill: Rgba) -> Result<Self, PaintError> {
        if width == 0 || height == 0 || width > MAX_CANVAS_SIDE || height > MAX_CANVAS_SIDE {
            return Err(PaintError::BadSize(width, height));
        }
        fonts()?;
        Ok(Self {
            image: RgbaImage::new(width, height, fill),
            texts: Vec::new(),
            redactor: Redactor::default(),
            redacted: 0,
        })
    }

    /// Wraps an existing image (e.g. a rendered slice).
    pub fn from_image(image: RgbaImage) -> Result<Self, PaintError> {
        if image.width == 0 || image.height == 0 {
            return Err(PaintError::BadSize(image.width, image.height));
        }
        fonts()?;
        Ok(Self {
            image,
            texts: Vec::new(),
            redactor: Redactor::default(),
            redacted: 0,
        })
    }

    pub fn width(&self) -> usize {
        self.image.width
    }

    pub fn height(&self) -> usize {
        self.image.height
    }

    /// Every string drawn so far, in order.
    pub fn texts(&self) -> &[DrawnText] {
        &self.texts
    }

    /// How many requested strings were replaced by [`REDACTED`] (a text drawn with a shadow
    /// counts once).
    pub fn redacted_count(&self) -> usize {
        self.redacted
    }

    /// Hands over the image and the text log.
    pub fn into_parts(self) -> (RgbaImage, Vec<DrawnText>) {
        (self.image, self.texts)
    }

    /// Identifiers that must never appear: the words of any text that spell one of them
    /// (however written: [`super::redact`]) are drawn and recorded as [`REDACTED`]. Empty and
    /// one-character strings are ignored.
    pub fn set_redactions(&mut self, tokens: impl IntoIterator<Item = String>) {
        self.redactor = Redactor::new(tokens);
    }

    /// Appends texts drawn on another canvas (e.g. a view blitted into a slide), shifted by
    /// `(dx, dy)`.
    pub fn extend_texts(&mut self, texts: &[DrawnText], dx: f64, dy: f64) {
        self.texts.extend(texts.iter().map(|t| DrawnText {
            rect: [t.rect[0] + dx, t.rect[1] + dy, t.rect[2] + dx, t.rect[3] + dy],
            ..t.clone()
        }));
    }

    /// Blends `c` at pixel (x, y) with `coverage` in [0, 1].
    fn blend(&mut self, x: i64, y: i64, c: Rgba, coverage: f64) {
        if coverage > 0.0 {
            self.image.blend(x, y, c, coverage as f32);
        }
    }

    /// Integer pixel box `[x0, x1) × [y0, y1)` covering `[lo, hi]` (clipped), or `None`.
    fn pixel_box(&self, lo: Pt, hi: Pt) -> Option<(i64, i64, i64, i64)> {
        if !(lo.iter().chain(&hi).all(|v| v.is_finite())) {
            return None;
        }
        let x0 = lo[0].floor().max(0.0) as i64;
        let y0 = lo[1].floor().max(0.0) as i64;
        let x1 = (hi[0].ceil().min(self.width() as f64)) as i64;
        let y1 = (hi[1].ceil().min(self.height() as f64)) as i64;
        (x1 > x0 && y1 > y0).then_some((x0, y0, x1, y1))
    }

    /// Copies `src` opaquely with its top-left at pixel (x, y) (clipped).
    pub fn blit(&mut self, src: &RgbaImage, x: i64, y: i64) {
        for row in 0..src.height as i64 {
            for col in 0..src.width as i64 {
                if let Some(p) = src.get(col, row) {
                    self.image.put(x + col, y + row, p);
                }
            }
        }
    }

    /// Filled rectangle `[x0, x1] × [y0, y1]` with anti-aliased edges.
    pub fn fill_rect(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, c: Rgba) {
        let (x0, x1) = (x0.min(x1), x0.max(x1));
        let (y0, y1) = (y0.min(y1), y0.max(y1));
        let Some((px0, py0, px1, py1)) = self.pixel_box([x0, y0], [x1, y1]) else {
            return;
        };
        for y in py0..py1 {
            let fy = ((y as f64 + 1.0).min(y1) - (y as f64).max(y0)).clamp(0.0, 1.0);
            for x in px0..px1 {
                let fx = ((x as f64 + 1.0).min(x1) - (x as f64).max(x0)).clamp(0.0, 1.0);
                self.blend(x, y, c, fx * fy);
            }
        }
    }

    /// Outlined rectangle (stroke centred on the edges).
    pub fn stroke_rect(&mut self, x0: f64, y0: f64, x1: f64, y1: f64, width: f64, c: Rgba) {
        self.polyline(&[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], width, c);
    }

    /// Strokes many segments at once with round caps: each pixel takes the largest coverage of
    /// any segment, so joints and overlaps of a translucent stroke are not blended twice. Widths
    /// below one pixel are drawn one pixel wide with proportionally less alpha.
    pub fn stroke_segments(&mut self, segments: &[[Pt; 2]], width: f64, c: Rgba) {
        if segments.is_empty() || !(width.is_finite() && width > 0.0) {
            return;
        }
        let (half, alpha) = if width < 1.0 {
            (0.5, width)
        } else {
            (width / 2.0, 1.0)
        };
        let finite: Vec<&[Pt; 2]> = segments
            .iter()
            .filter(|s| s.iter().flatten().all(|v| v.is_finite()))
            .collect();
        let mut lo = [f64::INFINITY; 2];
        let mut hi = [f64::NEG_INFINITY; 2];
        for s in &finite {
            for p in s.iter() {
                for a in 0..2 {
                    lo[a] = lo[a].min(p[a] - half - 1.0);
                    hi[a] = hi[a].max(p[a] + half + 1.0);
                }
            }
        }
        let Some((x0, y0, x1, y1)) = self.pixel_box(lo, hi) else {
            return;
        };
        let bw = (x1 - x0) as usize;
        let mut cov = vec![0f32; bw * (y1 - y0) as usize];
        for s in finite {
            let (a, b) = (s[0], s[1]);
            let slo = [a[0].min(b[0]) - half - 1.0, a[1].min(b[1]) - half - 1.0];
            let shi = [a[0].max(b[0]) + half + 1.0, a[1].max(b[1]) + half + 1.0];
            let Some((sx0, sy0, sx1, sy1)) = self.pixel_box(slo, shi) else {
                continue;
            };
            for y in sy0..sy1 {
                for x in sx0..sx1 {
                    let d = dist_to_segment([x as f64 + 0.5, y as f64 + 0.5], a, b);
                    let v = (half + 0.5 - d).clamp(0.0, 1.0) as f32;
                    let i = (y - y0) as usize * bw + (x - x0) as usize;
                    if let Some(slot) = cov.get_mut(i)
                        && v > *slot
                    {
                        *slot = v;
                    }
                }
            }
        }
        for (i, v) in cov.iter().enumerate() {
            if *v > 0.0 {
                let (x, y) = (x0 + (i % bw) as i64, y0 + (i / bw) as i64);
                self.blend(x, y, c, f64::from(*v) * alpha);
            }
        }
    }

    /// A line of `width` pixels with round caps.
    pub fn line(&mut self, a: Pt, b: Pt, width: f64, c: Rgba) {
        self.stroke_segments(&[[a, b]], width, c);
    }

    /// Connected line through `points`.
    pub fn polyline(&mut self, points: &[Pt], width: f64, c: Rgba) {
        let segs: Vec<[Pt; 2]> = points.windows(2).map(|w| [w[0], w[1]]).collect();
        self.stroke_segments(&segs, width, c);
    }

    /// A dashed line: `dash` pixels drawn, `gap` pixels skipped, starting with a dash at `a`.
    pub fn dashed_line(&mut self, a: Pt, b: Pt, width: f64, dash: f64, gap: f64, c: Rgba) {
        let len = (b[0] - a[0]).hypot(b[1] - a[1]);
        if !(len.is_finite() && dash > 0.0 && gap >= 0.0) {
            return;
        }
        // Cap the dash count so absurd lengths cannot take long.
        let period = (dash + gap).max(len / 10_000.0);
        let mut segs = Vec::new();
        let mut t = 0.0;
        while t < len {
            let e = (t + dash).min(len);
            let at = |s: f64| [a[0] + (b[0] - a[0]) * s / len, a[1] + (b[1] - a[1]) * s / len];
            segs.push([at(t), at(e)]);
            t += period;
        }
        self.stroke_segments(&segs, width, c);
    }

    /// Filled disc of radius `r` centred at `centre`.
    pub fn circle_filled(&mut self, centre: Pt, r: f64, c: Rgba) {
        if !(r.is_finite() && r > 0.0) {
            return;
        }
        let Some((x0, y0, x1, y1)) = self.pixel_box(
            [centre[0] - r - 1.0, centre[1] - r - 1.0],
            [centre[0] + r + 1.0, centre[1] + r + 1.0],
        ) else {
            return;
        };
        for y in y0..y1 {
            for x in x0..x1 {
                let d = (x as f64 + 0.5 - centre[0]).hypot(y as f64 + 0.5 - centre[1]);
                self.blend(x, y, c, (r + 0.5 - d).clamp(0.0, 1.0));
            }
        }
    }

    /// Circle outline of radius `r` (centre of the stroke) and stroke `width`.
    pub fn circle_stroke(&mut self, centre: Pt, r: f64, width: f64, c: Rgba) {
        if !(r.is_finite() && r > 0.0 && width.is_finite() && width > 0.0) {
            return;
        }
        let half = width.max(1.0) / 2.0;
        let alpha = width.min(1.0);
        let reach = r + half + 1.0;
        let Some((x0, y0, x1, y1)) = self.pixel_box(
            [centre[0] - reach, centre[1] - reach],
            [centre[0] + reach, centre[1] + reach],
        ) else {
            return;
        };
        for y in y0..y1 {
            for x in x0..x1 {
                let d = (x as f64 + 0.5 - centre[0]).hypot(y as f64 + 0.5 - centre[1]);
                let cov = (half + 0.5 - (d - r).abs()).clamp(0.0, 1.0);
                self.blend(x, y, c, cov * alpha);
            }
        }
    }

    /// Filled polygon (even–odd rule), anti-aliased with 4 sub-rows per pixel row and exact
    /// horizontal coverage of each span.
    pub fn fill_polygon(&mut self, points: &[Pt], c: Rgba) {
        const SUB: usize = 4;
        if points.len() < 3 || !points.iter().flatten().all(|v| v.is_finite()) {
            return;
        }
        let mut lo = [f64::INFINITY; 2];
        let mut hi = [f64::NEG_INFINITY; 2];
        for p in points {
            for a in 0..2 {
                lo[a] = lo[a].min(p[a]);
                hi[a] = hi[a].max(p[a]);
            }
        }
        let Some((x0, y0, x1, y1)) = self.pixel_box(lo, hi) else {
            return;
        };
        let bw = (x1 - x0) as usize;
        let mut row_cov = vec![0f64; bw];
        let mut xs: Vec<f64> = Vec::new();
        for y in y0..y1 {
            row_cov.iter_mut().for_each(|v| *v = 0.0);
            for s in 0..SUB {
                let sy = y as f64 + (s as f64 + 0.5) / SUB as f64;
                xs.clear();
                for i in 0..points.len() {
                    let (a, b) = (points[i], points[(i + 1) % points.len()]);
                    // Half-open in y so a vertex shared by two edges counts once.
                    if (a[1] <= sy) != (b[1] <= sy) {
                        xs.push(a[0] + (sy - a[1]) / (b[1] - a[1]) * (b[0] - a[0]));
                    }
                }
                xs.sort_by(f64::total_cmp);
                for span in xs.chunks_exact(2) {
                    let (l, r) = (span[0].max(x0 as f64), span[1].min(x1 as f64));
                    if r <= l {
                        continue;
                    }
                    let (pl, pr) = (l.floor() as i64, (r.ceil() as i64).min(x1));
                    for x in pl..pr {
                        let f = ((x as f64 + 1.0).min(r) - (x as f64).max(l)).clamp(0.0, 1.0);
                        if let Some(v) = row_cov.get_mut((x - x0) as usize) {
                            *v += f / SUB as f64;
                        }
                    }
                }
            }
            for (i, v) in row_cov.iter().enumerate() {
                self.blend(x0 + i as i64, y, c, v.min(1.0));
            }
        }
    }

    /// Outlined closed polygon.
    pub fn stroke_polygon(&mut self, points: &[Pt], width: f64, c: Rgba) {
        if let (Some(first), true) = (points.first(), points.len() >= 2) {
            let mut closed = points.to_vec();
            closed.push(*first);
            self.polyline(&closed, width, c);
        }
    }

    /// The text after redaction (counted).
    fn redacted(&mut self, text: &str) -> String {
        let (out, n) = self.redactor.redact(text);
        if n > 0 {
            self.redacted += 1;
        }
        out
    }

    /// Draws `text` (one line) of em size `size_px` with its box placed by `anchor` at `at`;
    /// returns the box `[x0, y0, x1, y1]`.
    pub fn text(&mut self, at: Pt, anchor: Anchor, text: &str, size_px: f64, c: Rgba) -> [f64; 4] {
        let text = if text == REDACTED {
            text.to_string()
        } else {
            self.redacted(text)
        };
        let rect = self.draw_text_raw(at, anchor, &text, size_px, c);
        self.texts.push(DrawnText {
            text,
            rect,
            size_px,
            colour: c,
        });
        rect
    }

    /// [`Self::text`] over a dark shadow offset by a twelfth of the size (at least one pixel), so
    /// it reads on any tissue, as on screen.
    pub fn text_shadow(&mut self, at: Pt, anchor: Anchor, text: &str, size_px: f64, c: Rgba) -> [f64; 4] {
        let text = self.redacted(text);
        let o = (size_px / 12.0).max(1.0);
        self.draw_text_raw([at[0] + o, at[1] + o], anchor, &text, size_px, [0, 0, 0, 220]);
        self.text(at, anchor, &text, size_px, c)
    }

    /// Several lines stacked from `at`: downwards for top anchors, upwards for bottom anchors.
    pub fn text_lines(&mut self, at: Pt, anchor: Anchor, lines: &[String], size_px: f64, c: Rgba) {
        let step = line_height(size_px);
        let n = lines.len() as f64;
        for (i, line) in lines.iter().enumerate() {
            let dy = match anchor.1 {
                VAlign::Bottom => -(n - 1.0 - i as f64) * step,
                VAlign::Center => (i as f64 - (n - 1.0) / 2.0) * step,
                VAlign::Top => i as f64 * step,
            };
            self.text_shadow([at[0], at[1] + dy], anchor, line, size_px, c);
        }
    }

    fn draw_text_raw(&mut self, at: Pt, anchor: Anchor, text: &str, size_px: f64, c: Rgba) -> [f64; 4] {
        let Ok(f) = fonts() else {
            return [at[0], at[1], at[0], at[1]];
        };
        let glyphs = layout(f, text, size_px);
        let (w, h) = (glyphs.width, glyphs.height);
        let x0 = match anchor.0 {
            HAlign::Left => at[0],
            HAlign::Center => at[0] - w / 2.0,
            HAlign::Right => at[0] - w,
        };
        let y0 = match anchor.1 {
            VAlign::Top => at[1],
            VAlign::Center => at[1] - h / 2.0,
            VAlign::Bottom => at[1] - h,
        };
        for g in &glyphs.glyphs {
            let font = if g.fallback { &f.fallback } else { &f.regular };
            let glyph =
                g.id.with_scale_and_position(g.scale, point((x0 + g.x) as f32, (y0 + glyphs.ascent) as f32));
            if let Some(og) = font.outline_glyph(glyph) {
                let b = og.px_bounds();
                let (bx, by) = (b.min.x as i64, b.min.y as i64);
                let img = &mut self.image;
                og.draw(|gx, gy, cov| {
                    if cov > 0.0 {
                        img.blend(bx + i64::from(gx), by + i64::from(gy), c, cov);
                    }
                });
            }
        }
        [x0, y0, x0 + w, y0 + h]
    }
}

/// Distance between baselines of stacked lines for em size `size_px`.
pub fn line_height(size_px: f64) -> f64 {
    (size_px * 1.25).round().max(1.0)
}

struct PlacedGlyph {
    id: GlyphId,
    fallback: bool,
    scale: PxScale,
    /// Pen position from the box's left edge.
    x: f64,
}

struct Layout {
    glyphs: Vec<PlacedGlyph>,
    width: f64,
    height: f64,
    ascent: f64,
}

/// The scale giving an em of `size_px` pixels (ab_glyph scales by ascent − descent).
fn em_scale(font: &FontRef<'_>, size_px: f64) -> PxScale {
    let upem = font.units_per_em().unwrap_or(1000.0);
    PxScale::from((size_px * f64::from(font.height_unscaled()) / f64::from(upem)) as f32)
}

fn layout(f: &Fonts, text: &str, size_px: f64) -> Layout {
    let size_px = if size_px.is_finite() {
        size_px.clamp(1.0, 512.0)
    } else {
        12.0
    };
    let (rs, fs) = (em_scale(&f.regular, size_px), em_scale(&f.fallback, size_px));
    let regular = f.regular.as_scaled(rs);
    let fallback = f.fallback.as_scaled(fs);
    let mut glyphs = Vec::new();
    let mut x = 0.0f64;
    let mut prev: Option<(GlyphId, bool)> = None;
    for ch in text.chars() {
        if ch.is_control() {
            continue;
        }
        let id = f.regular.glyph_id(ch);
        let (id, use_fallback) = if id.0 == 0 && f.fallback.glyph_id(ch).0 != 0 {
            (f.fallback.glyph_id(ch), true)
        } else {
            (id, false)
        };
        if let Some((p, pf)) = prev
            && pf == use_fallback
        {
            x += f64::from(if use_fallback {
                fallback.kern(p, id)
            } else {
                regular.kern(p, id)
            });
        }
        glyphs.push(PlacedGlyph {
            id,
            fallback: use_fallback,
            scale: if use_fallback { fs } else { rs },
            x,
        });
        x += f64::from(if use_fallback {
            fallback.h_advance(id)
        } else {
            regular.h_advance(id)
        });
        prev = Some((id, use_fallback));
    }
    let ascent = f64::from(regular.ascent());
    Layout {
        glyphs,
        width: x,
        height: ascent - f64::from(regular.descent()),
        ascent,
    }
}

/// Width and height (pixels) of one line of text at em size `size_px`.
pub fn text_size(text: &str, size_px: f64) -> [f64; 2] {
    match fonts() {
        Ok(f) => {
            let l = layout(f, text, size_px);
            [l.width, l.height]
        }
        Err(_) => [0.0, 0.0],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLACK: Rgba = [0, 0, 0, 255];
    const WHITE: Rgba = [255, 255, 255, 255];

    fn red(c: &Canvas, x: i64, y: i64) -> u8 {
        c.image.get(x, y).map_or(0, |p| p[0])
    }

    #[test]
    fn wide_line_covers_its_width_only() {
        let mut c = Canvas::new(40, 20, BLACK).unwrap();
        c.line([5.0, 10.0], [35.0, 10.0], 4.0, WHITE);
        // Rows 8..12 are fully inside the 4-px stroke centred on y = 10.
        for y in 8..12 {
            assert_eq!(red(&c, 20, y), 255, "row {y}");
        }
        assert_eq!(red(&c, 20, 6), 0);
        assert_eq!(red(&c, 20, 13), 0);
        // Round cap: a pixel just past the end is partly covered, far past is not.
        assert!(red(&c, 36, 10) > 0 && red(&c, 39, 10) == 0);
    }

    #[test]
    fn translucent_polyline_is_blended_once_at_joints() {
        let mut c = Canvas::new(30, 30, BLACK).unwrap();
        c.polyline(
            &[[5.0, 5.0], [20.0, 5.0], [20.0, 20.0]],
            3.0,
            [255, 255, 255, 128],
        );
        assert_eq!(
            red(&c, 12, 5),
            red(&c, 20, 5),
            "corner pixel not darker or brighter"
        );
    }

    #[test]
    fn circles_and_polygons() {
        let mut c = Canvas::new(50, 50, BLACK).unwrap();
        c.circle_filled([25.0, 25.0], 10.0, WHITE);
        assert_eq!(red(&c, 25, 25), 255);
        assert_eq!(red(&c, 25, 40), 0);
        let mut d = Canvas::new(50, 50, BLACK).unwrap();
        d.circle_stroke([25.0, 25.0], 10.0, 2.0, WHITE);
        assert_eq!(red(&d, 25, 25), 0, "hollow");
        assert_eq!(red(&d, 34, 25), 255, "ring at radius 10 (pixel centre 34.5)");
        // Square polygon [10, 30]²: interior full, edges exact (pixel-aligned), outside empty.
        let mut p = Canvas::new(50, 50, BLACK).unwrap();
        p.fill_polygon(&[[10.0, 10.0], [30.0, 10.0], [30.0, 30.0], [10.0, 30.0]], WHITE);
        assert_eq!(
            (red(&p, 10, 10), red(&p, 29, 29), red(&p, 30, 20), red(&p, 9, 20)),
            (255, 255, 0, 0)
        );
        // Half-pixel edge: half coverage.
        let mut h = Canvas::new(10, 10, BLACK).unwrap();
        h.fill_polygon(&[[2.0, 2.0], [5.5, 2.0], [5.5, 6.0], [2.0, 6.0]], WHITE);
        assert_eq!(red(&h, 5, 3), 128);
        // Triangle area ≈ coverage sum.
        let mut t = Canvas::new(40, 40, BLACK).unwrap();
        t.fill_polygon(&[[3.0, 3.0], [33.0, 3.0], [3.0, 23.0]], WHITE);
        let sum: f64 = t
            .image
            .pixels
            .chunks_exact(4)
            .map(|px| f64::from(px[0]) / 255.0)
            .sum();
        assert!((sum - 300.0).abs() < 3.0, "area {sum} vs 300");
    }

    #[test]
    fn text_renders_inside_its_box_and_is_logged() {
        let mut c = Canvas::new(200, 60, BLACK).unwrap();
        let r = c.text(
            [10.0, 10.0],
            Anchor::LEFT_TOP,
            "Probe 1 — 12.5 mm ≥ 5",
            20.0,
            WHITE,
        );
        assert!(r[2] > r[0] + 100.0 && (r[3] - r[1]) > 15.0, "{r:?}");
        let mut lit = 0;
        for y in r[1] as i64..r[3] as i64 {
            for x in r[0] as i64..r[2] as i64 {
                lit += usize::from(red(&c, x, y) > 128);
            }
        }
        assert!(lit > 100, "{lit} bright pixels inside the text box");
        // Nothing outside the box (a pixel of slack for anti-aliasing).
        assert_eq!(red(&c, 5, 40), 0);
        assert_eq!(c.texts().len(), 1);
        assert_eq!(c.texts()[0].text, "Probe 1 — 12.5 mm ≥ 5");
        let [w, _] = text_size("Probe 1 — 12.5 mm ≥ 5", 20.0);
        assert!((w - (r[2] - r[0])).abs() < 1e-9);
        // Anchors: right-bottom places the box to the left of and above the point.
        let rb = c.text([190.0, 55.0], Anchor::RIGHT_BOTTOM, "x", 12.0, WHITE);
        assert!((rb[2] - 190.0).abs() < 1e-9 && (rb[3] - 55.0).abs() < 1e-9);
    }

    #[test]
    fn redaction_replaces_the_identifying_words() {
        let mut c = Canvas::new(100, 30, BLACK).unwrap();
        c.set_redactions(["Doe^John".to_string(), "".to_string(), "PID123".to_string()]);
        c.text_shadow([0.0, 0.0], Anchor::LEFT_TOP, "ID pid123", 12.0, WHITE);
        c.text([0.0, 0.0], Anchor::LEFT_TOP, "Axial", 12.0, WHITE);
        let t: Vec<&str> = c.texts().iter().map(|t| t.text.as_str()).collect();
        assert_eq!(t, vec!["ID [removed]", "Axial"]);
        assert_eq!(c.redacted_count(), 1);
    }

    #[test]
    fn bad_sizes_and_coordinates_are_harmless() {
        assert!(Canvas::new(0, 10, BLACK).is_err());
        assert!(Canvas::new(MAX_CANVAS_SIDE + 1, 10, BLACK).is_err());
        let mut c = Canvas::new(10, 10, BLACK).unwrap();
        c.line([f64::NAN, 0.0], [5.0, 5.0], 2.0, WHITE);
        c.line([-1e300, -1e300], [1e300, 1e300], 2.0, WHITE);
        c.circle_filled([5.0, 5.0], f64::INFINITY, WHITE);
        c.fill_polygon(&[[0.0, 0.0], [f64::NAN, 1.0], [3.0, 3.0]], WHITE);
        c.dashed_line([0.0, 0.0], [1e12, 0.0], 1.0, 2.0, 2.0, WHITE);
        c.text([0.0, 0.0], Anchor::CENTER, "\u{0}\u{7}", f64::NAN, WHITE);
    }
}
