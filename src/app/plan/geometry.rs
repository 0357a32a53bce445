//! The pure geometry of the plan UI: labels, screen hit-testing of probes, moving a probe by a
//! drag, array orientations, the axes of the zone extents and the |E| profile line.

use super::*;

/// The smallest positive number not yet used as a label.
pub fn next_label(probes: &[Probe]) -> String {
    (1..)
        .map(|n: usize| n.to_string())
        .find(|l| !probes.iter().any(|p| &p.label == l))
        .unwrap_or_default()
}

/// A probe as drawn on screen (points), for hit-testing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeOnScreen {
    pub index: usize,
    pub tip: [f64; 2],
    pub entry: [f64; 2],
}

pub(super) fn dist(a: [f64; 2], b: [f64; 2]) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

pub(super) fn dist_to_segment(p: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    let d = [b[0] - a[0], b[1] - a[1]];
    let len2 = d[0] * d[0] + d[1] * d[1];
    if len2 <= 0.0 {
        return dist(p, a);
    }
    let t = (((p[0] - a[0]) * d[0] + (p[1] - a[1]) * d[1]) / len2).clamp(0.0, 1.0);
    dist(p, [a[0] + t * d[0], a[1] + t * d[1]])
}

/// Which probe part is under the pointer `p` (screen points), within `radius`. The selected probe
/// wins over the others, later (drawn on top) over earlier; the tip and entry handles win over the
/// shaft. A probe seen end-on (tip and entry closer than `radius`) can only be moved whole.
pub fn hit_test(
    probes: &[ProbeOnScreen],
    selected: Option<usize>,
    p: [f64; 2],
    radius: f64,
) -> Option<(usize, ProbePart)> {
    let order = probes
        .iter()
        .filter(|q| Some(q.index) == selected)
        .chain(probes.iter().rev().filter(|q| Some(q.index) != selected));
    for q in order {
        if dist(q.tip, q.entry) < radius {
            if dist(p, q.tip) <= radius {
                return Some((q.index, ProbePart::Whole));
            }
            continue;
        }
        if dist(p, q.tip) <= radius {
            return Some((q.index, ProbePart::Tip));
        }
        if dist(p, q.entry) <= radius {
            return Some((q.index, ProbePart::Entry));
        }
    }
    // Shafts after every handle, so a handle next to another probe's shaft stays reachable.
    let order = probes
        .iter()
        .filter(|q| Some(q.index) == selected)
        .chain(probes.iter().rev().filter(|q| Some(q.index) != selected));
    for q in order {
        if dist_to_segment(p, q.tip, q.entry) <= radius * 0.75 {
            return Some((q.index, ProbePart::Whole));
        }
    }
    None
}

/// The tip and entry after dragging `part` of `start` by `delta` (LPS mm).
pub fn moved(start: &Probe, part: ProbePart, delta: Vector3<f64>) -> (PatientPos, PatientPos) {
    match part {
        ProbePart::Tip => (start.tip_lps + delta, start.entry_lps),
        ProbePart::Entry => (start.tip_lps, start.entry_lps + delta),
        ProbePart::Whole => (start.tip_lps + delta, start.entry_lps + delta),
    }
}

/// Where an array template is centred.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrayCentre {
    Crosshair,
    /// The centroid of the first Target structure.
    Target,
}

/// The insertion direction (entry → tip) of an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArrayAxis {
    /// Perpendicular to the active view (probes seen end-on there).
    ViewNormal,
    /// Anterior → posterior (+P).
    AnteriorPosterior,
    /// Posterior → anterior (−P): the prone or posterior approach.
    PosteriorAnterior,
    /// Right → left (+L).
    RightLeft,
    /// Left → right (−L).
    LeftRight,
    /// Superior → inferior (−S).
    SuperiorInferior,
    /// Typed CT-guided angles (`ArrayOptions::oblique_deg`: in-plane, cranio-caudal).
    Oblique,
    /// In the active view's plane at `ArrayOptions::in_view_deg` from the screen's downward
    /// direction (probes seen along their whole length there).
    InViewPlane,
}

impl ArrayAxis {
    pub const ALL: [ArrayAxis; 8] = [
        ArrayAxis::ViewNormal,
        ArrayAxis::AnteriorPosterior,
        ArrayAxis::PosteriorAnterior,
        ArrayAxis::RightLeft,
        ArrayAxis::LeftRight,
        ArrayAxis::SuperiorInferior,
        ArrayAxis::Oblique,
        ArrayAxis::InViewPlane,
    ];

    pub fn label(self) -> &'static str {
        match self {
            ArrayAxis::ViewNormal => "View normal",
            ArrayAxis::AnteriorPosterior => "A to P",
            ArrayAxis::PosteriorAnterior => "P to A",
            ArrayAxis::RightLeft => "R to L",
            ArrayAxis::LeftRight => "L to R",
            ArrayAxis::SuperiorInferior => "S to I",
            ArrayAxis::Oblique => "Oblique",
            ArrayAxis::InViewPlane => "In view plane",
        }
    }

    /// The fixed patient direction (LPS) of a chosen axis, or the axis a view looks along
    /// (`None` for the typed directions).
    pub(super) fn patient_dir(self, view: ViewKind) -> Option<Vector3<f64>> {
        match self {
            ArrayAxis::AnteriorPosterior => Some(Vector3::y()),
            ArrayAxis::PosteriorAnterior => Some(-Vector3::y()),
            ArrayAxis::RightLeft => Some(Vector3::x()),
            ArrayAxis::LeftRight => Some(-Vector3::x()),
            ArrayAxis::SuperiorInferior => Some(-Vector3::z()),
            ArrayAxis::ViewNormal => Some(match view {
                ViewKind::Axial => -Vector3::z(),
                ViewKind::Coronal => Vector3::y(),
                ViewKind::Sagittal => Vector3::x(),
            }),
            ArrayAxis::Oblique | ArrayAxis::InViewPlane => None,
        }
    }
}

/// The LPS directions of a view's screen axes: (rightwards, downwards), following the volume's
/// own axes (tilted with the scan when the gantry was tilted).
pub fn view_screen_dirs(view: ViewKind, g: &VolumeGeometry) -> (Vector3<f64>, Vector3<f64>) {
    let m = crate::volume::SliceMapping::new(g, view);
    let sign = |flip: bool| if flip { -1.0 } else { 1.0 };
    (
        g.axis_dir(m.h_axis) * sign(m.h_flip),
        g.axis_dir(m.v_axis) * sign(m.v_flip),
    )
}

/// The insertion direction of an array with default angles (see [`array_axis_dir`]).
pub fn array_direction(axis: ArrayAxis, view: ViewKind, g: &VolumeGeometry) -> Vector3<f64> {
    array_axis_dir(
        &ArrayOptions {
            axis,
            ..ArrayOptions::default()
        },
        view,
        g,
    )
}

/// The insertion direction of an array: for "view normal" the volume's own slice normal of that
/// view, oriented like the patient axis; for "oblique" the typed CT-guided angles; for "in view
/// plane" the typed angle from the screen's downward direction towards its right.
pub fn array_axis_dir(o: &ArrayOptions, view: ViewKind, g: &VolumeGeometry) -> Vector3<f64> {
    match o.axis {
        ArrayAxis::Oblique => crate::anatomy::body::direction_from_angles(o.oblique_deg[0], o.oblique_deg[1]),
        ArrayAxis::InViewPlane => {
            let (right, down) = view_screen_dirs(view, g);
            let a = o.in_view_deg.to_radians();
            (down * a.cos() + right * a.sin())
                .try_normalize(1e-12)
                .unwrap_or(down)
        }
        ArrayAxis::ViewNormal => {
            let canonical = ArrayAxis::ViewNormal.patient_dir(view).unwrap_or_else(Vector3::z);
            let m = crate::volume::SliceMapping::new(g, view);
            let n = g.axis_dir(m.normal_axis);
            if n.dot(&canonical) < 0.0 { -n } else { n }
        }
        fixed => fixed.patient_dir(view).unwrap_or_else(Vector3::z),
    }
}

/// The direction of an array's first row: for an array in the view's plane, the in-plane
/// perpendicular to its axis (two electrodes then both lie in the view); otherwise
/// [`array_in_plane`].
pub fn array_row_dir(
    o: &ArrayOptions,
    axis: &Vector3<f64>,
    view: ViewKind,
    g: &VolumeGeometry,
) -> Vector3<f64> {
    if o.axis == ArrayAxis::InViewPlane {
        let (right, down) = view_screen_dirs(view, g);
        if let Some(row) = right.cross(&down).cross(axis).try_normalize(1e-9) {
            return row;
        }
    }
    array_in_plane(axis)
}

/// A direction perpendicular-ish to `axis` for the first row of an array: the patient axis
/// least aligned with it (L for A→P and S→I arrays, P for R→L).
pub fn array_in_plane(axis: &Vector3<f64>) -> Vector3<f64> {
    [Vector3::x(), Vector3::y(), Vector3::z()]
        .into_iter()
        .min_by(|a, b| a.dot(axis).abs().total_cmp(&b.dot(axis).abs()))
        .unwrap_or_else(Vector3::x)
}

/// Options of the array template panel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ArrayOptions {
    pub n: usize,
    pub spacing_mm: f64,
    pub centre: ArrayCentre,
    pub axis: ArrayAxis,
    /// `None` = the catalog default.
    pub exposure_mm: Option<f64>,
    /// Tip-to-entry distance of each probe.
    pub length_mm: f64,
    /// The oblique direction's CT-guided angles: in-plane, cranio-caudal (degrees).
    pub oblique_deg: [f64; 2],
    /// The in-view-plane direction: degrees from the screen's downward direction to its right.
    pub in_view_deg: f64,
}

impl Default for ArrayOptions {
    fn default() -> Self {
        Self {
            // 4 electrodes in a square (issue 4: "4 electrodes (6 pairs)"), 15 mm apart (the
            // middle of the ideal 1.5–2.0 cm, REFERENCE.md §4).
            n: 4,
            spacing_mm: 15.0,
            centre: ArrayCentre::Target,
            axis: ArrayAxis::ViewNormal,
            exposure_mm: None,
            length_mm: 100.0,
            // A posterior approach straight from the back: the usual prone path.
            oblique_deg: [180.0, 0.0],
            in_view_deg: 0.0,
        }
    }
}

/// Axes for the zone extents: along the probes (mean insertion direction of the first pair),
/// along the first pair (anode → cathode, made perpendicular), and perpendicular to both.
pub fn extent_axes(probes: &[Probe], first_pair: (usize, usize)) -> Option<[Vector3<f64>; 3]> {
    let (pa, pb) = (probes.get(first_pair.0)?, probes.get(first_pair.1)?);
    let (xa, xb) = (pa.axis().ok()?, pb.axis().ok()?);
    let along = (xa + xb).try_normalize(1e-9).unwrap_or(xa);
    let (ma, mb) = (
        pa.exposed_segment().ok()?.midpoint(),
        pb.exposed_segment().ok()?.midpoint(),
    );
    let d = mb - ma;
    let pair = (d - along * along.dot(&d)).try_normalize(1e-9)?;
    Some([along, pair, along.cross(&pair)])
}

/// The line for the |E| profile of a pair: through the midpoints of both exposed parts,
/// extended by `extend_mm` beyond each. Returns (start, end, distance of a's midpoint from the
/// start, distance of b's midpoint).
pub fn profile_line(
    probes: &[Probe],
    a: usize,
    b: usize,
    extend_mm: f64,
) -> Option<(PatientPos, PatientPos, f64, f64)> {
    let ma = probes.get(a)?.exposed_segment().ok()?.midpoint();
    let mb = probes.get(b)?.exposed_segment().ok()?.midpoint();
    let d = (mb - ma).try_normalize(1e-9)?;
    let len = (mb - ma).norm();
    Some((ma - d * extend_mm, mb + d * extend_mm, extend_mm, extend_mm + len))
}
