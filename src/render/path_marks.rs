//! The path check drawn on the path itself (issue 16): the straight path from the skin entry to
//! the tip cut into pieces — clear, or through a hazard (bone, gas, a drawn structure, another
//! probe) — each with its colour, a label with the depth from the skin at every hazard, and the
//! skin entry with the depth to the tip and the reach. Pure geometry in LPS mm; the slice views
//! and the along-probe view project and draw it.

use super::Rgba;
use super::palette;
use crate::anatomy::StructureKind;
use crate::anatomy::body::Reach;
use crate::geometry::PatientPos;
use crate::safety::path_check::{HazardKind, PathCheck};

/// A hazard shorter than this is drawn this long, so that one sample stays visible (mm).
const MIN_DRAWN_MM: f64 = 1.0;

/// What a piece of the path runs through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieceKind {
    /// The probe's shaft outside the body (between its entry and the skin).
    Outside,
    /// Inside the body, nothing in the way.
    Clear,
    /// Through `PathCheck::hazards[i]`.
    Hazard(usize),
}

/// One piece of the path.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PathPiece {
    pub from_lps: PatientPos,
    pub to_lps: PatientPos,
    /// Depth from the skin at both ends (mm; negative outside the body).
    pub from_skin_mm: [f64; 2],
    pub kind: PieceKind,
}

/// A text drawn at a point of the path.
#[derive(Clone, Debug, PartialEq)]
pub struct PathLabel {
    pub at_lps: PatientPos,
    pub text: String,
    pub rgb: Rgba,
}

/// Everything drawn for one probe's path.
#[derive(Clone, Debug, PartialEq)]
pub struct PathMarks {
    pub pieces: Vec<PathPiece>,
    pub skin_entry_lps: PatientPos,
    /// The skin entry's colour: green when the path is clear, red otherwise.
    pub skin_rgb: Rgba,
    pub labels: Vec<PathLabel>,
}

/// A hazard's colour on the path.
pub fn hazard_rgb(kind: &HazardKind) -> Rgba {
    match kind {
        HazardKind::Bone | HazardKind::Structure(StructureKind::Bone) => palette::PATH_BONE,
        HazardKind::Gas | HazardKind::Structure(StructureKind::Bowel) => palette::PATH_GAS,
        HazardKind::Structure(StructureKind::Vessel) => palette::PATH_VESSEL,
        HazardKind::Structure(StructureKind::Nerve) => palette::PATH_NERVE,
        HazardKind::Structure(_) => palette::PATH_OTHER,
        HazardKind::Probe => palette::PATH_PROBE,
    }
}

pub fn piece_rgb(check: &PathCheck, kind: PieceKind) -> Rgba {
    match kind {
        PieceKind::Outside => palette::PROBE_SHAFT,
        PieceKind::Clear => palette::PATH_CLEAR,
        PieceKind::Hazard(i) => check.hazards.get(i).map_or(palette::RED, |h| hazard_rgb(&h.kind)),
    }
}

/// The pieces of the path from the skin to the tip, in order and without gaps: cut at every
/// hazard's ends (each hazard at least [`MIN_DRAWN_MM`] long); where hazards overlap, the first
/// from the skin wins. With `probe_entry_lps` beyond the skin, the outside part comes first.
pub fn path_pieces(check: &PathCheck, probe_entry_lps: Option<PatientPos>) -> Vec<PathPiece> {
    let skin = &check.skin;
    let depth = skin.depth_mm.max(0.0);
    let span = |h: &crate::safety::path_check::PathHazard| {
        let [a, b] = h.from_skin_mm;
        let pad = 0.5 * (MIN_DRAWN_MM - (b - a)).max(0.0);
        [(a - pad).clamp(0.0, depth), (b + pad).clamp(0.0, depth)]
    };
    let mut cuts: Vec<f64> = vec![0.0, depth];
    for h in &check.hazards {
        cuts.extend(span(h));
    }
    cuts.sort_by(f64::total_cmp);
    cuts.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    let at = |d: f64| skin.entry_lps + skin.direction * d;
    let mut out = Vec::new();
    if let Some(e) = probe_entry_lps {
        // How far out of the skin the probe's entry lies along the path.
        let out_mm = (skin.entry_lps - e).dot(&skin.direction);
        if out_mm > 1e-6 {
            out.push(PathPiece {
                from_lps: at(-out_mm),
                to_lps: skin.entry_lps,
                from_skin_mm: [-out_mm, 0.0],
                kind: PieceKind::Outside,
            });
        }
    }
    for w in cuts.windows(2) {
        let [a, b] = [w[0], w[1]];
        if b - a < 1e-9 {
            continue;
        }
        let mid = 0.5 * (a + b);
        let kind = check
            .hazards
            .iter()
            .position(|h| {
                let [s, e] = span(h);
                (s..=e).contains(&mid)
            })
            .map_or(PieceKind::Clear, PieceKind::Hazard);
        // Neighbours of the same kind join into one piece.
        match out.last_mut() {
            Some(last) if last.kind == kind && (last.from_skin_mm[1] - a).abs() < 1e-9 => {
                last.to_lps = at(b);
                last.from_skin_mm[1] = b;
            }
            _ => out.push(PathPiece {
                from_lps: at(a),
                to_lps: at(b),
                from_skin_mm: [a, b],
                kind,
            }),
        }
    }
    out
}

/// The path check as shown: stretches of the same hazard less than `gap_mm` apart joined into one
/// (CT noise splits a contrast-filled vessel or a rib into many stretches a millimetre apart,
/// which would list the same bone ten times).
pub fn merge_close(check: &PathCheck, gap_mm: f64) -> PathCheck {
    let mut merged: Vec<crate::safety::path_check::PathHazard> = Vec::new();
    for h in &check.hazards {
        let same = merged
            .iter_mut()
            .rev()
            .find(|m| m.kind == h.kind && m.name == h.name);
        match same {
            Some(m) if h.from_skin_mm[0] - m.from_skin_mm[1] <= gap_mm => {
                if h.from_skin_mm[1] > m.from_skin_mm[1] {
                    m.from_skin_mm[1] = h.from_skin_mm[1];
                    m.exit_lps = h.exit_lps;
                }
            }
            _ => merged.push(h.clone()),
        }
    }
    PathCheck {
        hazards: merged,
        ..check.clone()
    }
}

/// A hazard's label: what and how deep under the skin ("bone 42 mm").
pub fn hazard_text(h: &crate::safety::path_check::PathHazard) -> String {
    format!("{} {:.0} mm", h.name, h.from_skin_mm[0])
}

/// The skin entry's label: depth to the tip and the reach of the catalog's probes.
pub fn skin_text(check: &PathCheck) -> String {
    let mut t = format!("skin, {:.0} mm to tip", check.skin.depth_mm);
    if check.skin.beyond_scan {
        t.push_str(" (body leaves the scan: deeper)");
    }
    match check.reach {
        Some(Reach::OutOfReach { short_by_mm }) => {
            t.push_str(&format!(", tip out of reach by {short_by_mm:.0} mm"))
        }
        Some(Reach::InReach { .. }) => {
            if let Some(l) = check.probe_length_mm {
                t.push_str(&format!(", {:.0} cm probe", l / 10.0));
            }
        }
        None => {}
    }
    t
}

/// The pieces, the skin entry and the labels of one path.
pub fn path_marks(check: &PathCheck, probe_entry_lps: Option<PatientPos>) -> PathMarks {
    let skin_rgb = if check.is_clear() {
        palette::PATH_CLEAR
    } else {
        palette::RED
    };
    let mut labels = vec![PathLabel {
        at_lps: check.skin.entry_lps,
        text: skin_text(check),
        rgb: skin_rgb,
    }];
    labels.extend(check.hazards.iter().map(|h| PathLabel {
        at_lps: h.enter_lps,
        text: hazard_text(h),
        rgb: hazard_rgb(&h.kind),
    }));
    PathMarks {
        pieces: path_pieces(check, probe_entry_lps),
        skin_entry_lps: check.skin.entry_lps,
        skin_rgb,
        labels,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anatomy::body::SkinPath;
    use crate::safety::path_check::PathHazard;
    use nalgebra::Vector3;

    /// A 60 mm path straight down +P from the skin at y = 0, with the given hazards.
    fn check(hazards: Vec<(HazardKind, [f64; 2])>, reach: Option<Reach>) -> PathCheck {
        let d = Vector3::y();
        let entry = PatientPos::new(0.0, 0.0, 0.0);
        PathCheck {
            skin: SkinPath {
                tip_lps: entry + d * 60.0,
                entry_lps: entry,
                direction: d,
                depth_mm: 60.0,
                crosses_outside: false,
                beyond_scan: false,
            },
            hazards: hazards
                .into_iter()
                .map(|(kind, [a, b])| PathHazard {
                    name: kind.label().to_string(),
                    kind,
                    from_skin_mm: [a, b],
                    enter_lps: entry + d * a,
                    exit_lps: entry + d * b,
                })
                .collect(),
            reach,
            probe_length_mm: Some(150.0),
        }
    }

    #[test]
    fn the_pieces_run_from_the_skin_to_the_tip_without_gaps_and_mark_each_hazard_where_it_is() {
        let c = check(
            vec![(HazardKind::Bone, [10.0, 14.0]), (HazardKind::Gas, [30.0, 30.0])],
            None,
        );
        let pieces = path_pieces(&c, None);
        assert_eq!(pieces.first().map(|p| p.from_skin_mm[0]), Some(0.0));
        assert_eq!(pieces.last().map(|p| p.from_skin_mm[1]), Some(60.0));
        for w in pieces.windows(2) {
            assert_eq!(w[0].from_skin_mm[1], w[1].from_skin_mm[0], "no gap");
            assert!((w[0].to_lps - w[1].from_lps).norm() < 1e-9);
        }
        let kinds: Vec<PieceKind> = pieces.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            vec![
                PieceKind::Clear,
                PieceKind::Hazard(0),
                PieceKind::Clear,
                PieceKind::Hazard(1),
                PieceKind::Clear
            ]
        );
        assert_eq!(pieces[1].from_skin_mm, [10.0, 14.0]);
        // The bone piece lies 10–14 mm under the skin along the path.
        assert!((pieces[1].from_lps.y - 10.0).abs() < 1e-9 && (pieces[1].to_lps.y - 14.0).abs() < 1e-9);
        // One sample of gas is still drawn, 1 mm long, centred on it.
        assert!((pieces[3].from_skin_mm[1] - pieces[3].from_skin_mm[0] - MIN_DRAWN_MM).abs() < 1e-9);
        assert!((0.5 * (pieces[3].from_skin_mm[0] + pieces[3].from_skin_mm[1]) - 30.0).abs() < 1e-9);
    }

    #[test]
    fn a_clear_path_is_one_green_piece_and_the_shaft_outside_the_skin_comes_first() {
        let c = check(vec![], Some(Reach::InReach { spare_mm: 90.0 }));
        let pieces = path_pieces(&c, Some(PatientPos::new(0.0, -25.0, 0.0)));
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].kind, PieceKind::Outside);
        assert!((pieces[0].from_skin_mm[0] + 25.0).abs() < 1e-9);
        assert_eq!(pieces[1].kind, PieceKind::Clear);
        let m = path_marks(&c, None);
        assert_eq!(m.skin_rgb, palette::PATH_CLEAR);
        assert_eq!(m.labels.len(), 1);
        assert!(m.labels[0].text.contains("60 mm to tip"), "{}", m.labels[0].text);
        // An entry inside the body adds no outside piece.
        let inside = path_pieces(&c, Some(PatientPos::new(0.0, 5.0, 0.0)));
        assert_eq!(inside.len(), 1);
    }

    #[test]
    fn stretches_of_one_hazard_a_millimetre_apart_are_shown_as_one() {
        let c = check(
            vec![
                (HazardKind::Bone, [10.0, 11.0]),
                (HazardKind::Structure(StructureKind::Vessel), [11.0, 20.0]),
                (HazardKind::Bone, [12.0, 13.0]),
                (HazardKind::Bone, [14.5, 16.0]),
                (HazardKind::Bone, [30.0, 31.0]),
            ],
            None,
        );
        let m = merge_close(&c, 2.0);
        let spans: Vec<(&HazardKind, [f64; 2])> =
            m.hazards.iter().map(|h| (&h.kind, h.from_skin_mm)).collect();
        assert_eq!(
            spans,
            vec![
                (&HazardKind::Bone, [10.0, 16.0]),
                (&HazardKind::Structure(StructureKind::Vessel), [11.0, 20.0]),
                (&HazardKind::Bone, [30.0, 31.0]),
            ]
        );
        assert!((m.hazards[0].exit_lps.y - 16.0).abs() < 1e-9);
        assert_eq!(m.skin, c.skin);
    }

    #[test]
    fn each_hazard_is_labelled_with_its_depth_from_the_skin_and_an_unreachable_tip_is_said() {
        let c = check(
            vec![(HazardKind::Structure(StructureKind::Vessel), [42.2, 47.0])],
            Some(Reach::OutOfReach { short_by_mm: 12.0 }),
        );
        let m = path_marks(&c, None);
        assert_eq!(m.skin_rgb, palette::RED);
        assert!(
            m.labels[0].text.contains("out of reach by 12 mm"),
            "{}",
            m.labels[0].text
        );
        assert_eq!(m.labels[1].text, "Vessel 42 mm");
        assert_eq!(m.labels[1].rgb, palette::PATH_VESSEL);
        assert!((m.labels[1].at_lps.y - 42.2).abs() < 1e-9);
        // Overlapping hazards: the first from the skin wins where both are.
        let both = check(
            vec![
                (HazardKind::Bone, [10.0, 20.0]),
                (HazardKind::Structure(StructureKind::Nerve), [15.0, 25.0]),
            ],
            None,
        );
        let kinds: Vec<(PieceKind, [f64; 2])> = path_pieces(&both, None)
            .iter()
            .map(|p| (p.kind, p.from_skin_mm))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (PieceKind::Clear, [0.0, 10.0]),
                (PieceKind::Hazard(0), [10.0, 20.0]),
                (PieceKind::Hazard(1), [20.0, 25.0]),
                (PieceKind::Clear, [25.0, 60.0]),
            ]
        );
    }
}
