//! Where the overlay texts of a pane go (corner annotations, orientation letters, scale bar,
//! legends), laid out for the pane's size. As in OHIF, each line has a priority; while two
//! stacks overlap, or a line does not fit inside the pane, the least important line of the
//! colliding stacks is dropped and the rest re-stacked, so a small pane shows fewer lines but
//! never text on text. Plain geometry (sizes are measured by the caller), tested without a window.

use eframe::egui::{Align, Align2, Pos2, Rect, Vec2};

/// Lines of this priority are never dropped (orientation letters, the view's name).
pub const KEEP: u8 = u8::MAX;

/// One line of a stack: its measured size (points) and how much it matters (higher = kept longer).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Line {
    pub size: Vec2,
    pub priority: u8,
}

/// Lines stacked from an anchor of the pane: top anchors stack downwards, bottom anchors
/// upwards (the last line nearest the edge), centre anchors around the middle.
#[derive(Clone, Debug, PartialEq)]
pub struct Stack {
    pub anchor: Align2,
    pub lines: Vec<Line>,
}

/// Vertical gap between the lines of a stack (points).
const LINE_GAP: f32 = 2.0;

/// The rectangle of each line, `None` for a dropped line, per stack in the order given.
pub fn fit(pane: Rect, pad: f32, stacks: &[Stack]) -> Vec<Vec<Option<Rect>>> {
    let inner = pane.shrink(pad);
    let mut shown: Vec<Vec<bool>> = stacks.iter().map(|s| vec![true; s.lines.len()]).collect();
    // A line wider or taller than the pane never fits.
    for (s, stack) in stacks.iter().enumerate() {
        for (l, line) in stack.lines.iter().enumerate() {
            if line.priority != KEEP && (line.size.x > inner.width() || line.size.y > inner.height()) {
                shown[s][l] = false;
            }
        }
    }
    loop {
        let rects: Vec<Vec<Option<Rect>>> = stacks
            .iter()
            .zip(&shown)
            .map(|(s, on)| place(inner, s, on))
            .collect();
        // The least important line of the first collision that has one to give: a line that
        // itself collides if one may go, else any shown line of the stacks involved (the later
        // one on ties: the detail under the headline); done when none has.
        let droppable = |s: usize, l: usize| shown[s][l] && stacks[s].lines[l].priority != KEEP;
        let key = |&(s, l): &(usize, usize)| (stacks[s].lines[l].priority, usize::MAX - s, usize::MAX - l);
        let drop = collisions(inner, &rects).into_iter().find_map(|lines| {
            let direct = lines
                .iter()
                .copied()
                .filter(|&(s, l)| droppable(s, l))
                .min_by_key(key);
            direct.or_else(|| {
                let mut stacks_in: Vec<usize> = lines.iter().map(|&(s, _)| s).collect();
                stacks_in.dedup();
                stacks_in
                    .into_iter()
                    .flat_map(|s| (0..stacks[s].lines.len()).map(move |l| (s, l)))
                    .filter(|&(s, l)| droppable(s, l))
                    .min_by_key(key)
            })
        });
        let Some((s, l)) = drop else {
            return rects;
        };
        shown[s][l] = false;
    }
}

/// Every collision as the (stack, line)s involved: a line leaving the pane, or two lines of
/// different stacks overlapping.
fn collisions(inner: Rect, rects: &[Vec<Option<Rect>>]) -> Vec<Vec<(usize, usize)>> {
    let mut out = Vec::new();
    for (i, ri) in rects.iter().enumerate() {
        for (li, r) in ri.iter().enumerate() {
            if r.is_some_and(|r| !inner.expand(0.5).contains_rect(r)) {
                out.push(vec![(i, li)]);
            }
        }
    }
    for (i, ri) in rects.iter().enumerate() {
        for (j, rj) in rects.iter().enumerate().skip(i + 1) {
            for (li, a) in ri.iter().enumerate() {
                for (lj, b) in rj.iter().enumerate() {
                    if let (Some(a), Some(b)) = (a, b)
                        && a.intersects(*b)
                    {
                        out.push(vec![(i, li), (j, lj)]);
                    }
                }
            }
        }
    }
    out
}

/// The rectangles of the shown lines of one stack.
fn place(inner: Rect, stack: &Stack, shown: &[bool]) -> Vec<Option<Rect>> {
    let lines: Vec<(usize, &Line)> = stack
        .lines
        .iter()
        .enumerate()
        .filter(|(i, _)| shown[*i])
        .collect();
    let total: f32 =
        lines.iter().map(|(_, l)| l.size.y).sum::<f32>() + LINE_GAP * lines.len().saturating_sub(1) as f32;
    let mut y = match stack.anchor.y() {
        Align::Min => inner.min.y,
        Align::Center => inner.center().y - total / 2.0,
        Align::Max => inner.max.y - total,
    };
    let mut out = vec![None; stack.lines.len()];
    for (i, l) in lines {
        let x = match stack.anchor.x() {
            Align::Min => inner.min.x,
            Align::Center => inner.center().x - l.size.x / 2.0,
            Align::Max => inner.max.x - l.size.x,
        };
        out[i] = Some(Rect::from_min_size(Pos2::new(x, y), l.size));
        y += l.size.y + LINE_GAP;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(w: f32, priority: u8) -> Line {
        Line {
            size: Vec2::new(w, 15.0),
            priority,
        }
    }

    fn all_rects(r: &[Vec<Option<Rect>>]) -> Vec<(usize, Rect)> {
        r.iter()
            .enumerate()
            .flat_map(|(s, v)| v.iter().flatten().map(move |r| (s, *r)))
            .collect()
    }

    #[test]
    fn a_large_pane_shows_every_line() {
        let pane = Rect::from_min_size(Pos2::ZERO, Vec2::new(900.0, 800.0));
        let stacks = vec![
            Stack {
                anchor: Align2::LEFT_TOP,
                lines: vec![line(80.0, KEEP), line(90.0, 20)],
            },
            Stack {
                anchor: Align2::RIGHT_TOP,
                lines: vec![line(300.0, 40), line(200.0, 10)],
            },
        ];
        let r = fit(pane, 6.0, &stacks);
        assert!(r.iter().flatten().all(|l| l.is_some()));
    }

    #[test]
    fn colliding_corners_drop_their_least_important_lines_first() {
        // 300 points wide: the two top corners (200 + 200) cannot both keep their long lines.
        let pane = Rect::from_min_size(Pos2::ZERO, Vec2::new(300.0, 400.0));
        let stacks = vec![
            Stack {
                anchor: Align2::LEFT_TOP,
                lines: vec![line(60.0, KEEP), line(200.0, 5)],
            },
            Stack {
                anchor: Align2::RIGHT_TOP,
                lines: vec![line(200.0, 40), line(200.0, 10)],
            },
        ];
        let r = fit(pane, 6.0, &stacks);
        let rects = all_rects(&r);
        for (i, (si, a)) in rects.iter().enumerate() {
            for (sj, b) in &rects[i + 1..] {
                assert!(
                    si == sj || !a.intersects(*b),
                    "stack {si} {a:?} overlaps stack {sj} {b:?}"
                );
            }
        }
        assert!(r[0][0].is_some(), "kept lines stay");
        assert!(r[0][1].is_none(), "priority 5 went first");
        assert!(r[1].iter().all(|l| l.is_some()), "one drop was enough");
    }
}
