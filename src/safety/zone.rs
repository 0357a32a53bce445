//! Zones as the safety analysis sees them: flags on an isotropic, LPS-aligned `ComputeGrid`
//! (the IRE zone, a cryo isotherm, a lethal isotherm), whatever model produced them, and their
//! prepared form: cropped to the zone (plus the targets), with exact distances to the inside and
//! to the outside nodes (EDT) and the list of boundary nodes.

use crate::anatomy::distance::edt_mm;
use crate::geometry::PatientPos;
use crate::physics::band::Surface;
use crate::physics::cryo::model::CryoResult;
use crate::physics::grid::ComputeGrid;
use crate::physics::ire::model::IreResult;
use nalgebra::Vector3;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// What a zone is.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ZoneKind {
    /// IRE: the running maximum |E| above the lethal threshold (the IRE zone is the lethal zone).
    IreThreshold,
    /// Cryo: tissue colder than `temp_c` (0 °C = the visible iceball edge).
    CryoIsotherm { temp_c: f64 },
    /// Cryo: the lethal isotherm (e.g. −40 °C), the one that must cover the target.
    CryoLethal { temp_c: f64 },
}

impl ZoneKind {
    pub fn is_ire(self) -> bool {
        matches!(self, ZoneKind::IreThreshold)
    }

    pub fn is_lethal(self) -> bool {
        matches!(self, ZoneKind::IreThreshold | ZoneKind::CryoLethal { .. })
    }

    /// The isotherm temperature of a cryo zone.
    pub fn temp_c(self) -> Option<f64> {
        match self {
            ZoneKind::IreThreshold => None,
            ZoneKind::CryoIsotherm { temp_c } | ZoneKind::CryoLethal { temp_c } => Some(temp_c),
        }
    }
}

/// A zone: `inside` flags per node of `grid` (i fastest, `grid.len()` entries).
#[derive(Clone, Debug, PartialEq)]
pub struct Zone {
    /// Shown in findings, e.g. "IRE zone" or "Iceball 0 °C".
    pub label: String,
    pub kind: ZoneKind,
    pub grid: ComputeGrid,
    pub inside: Vec<bool>,
    /// From a fast approximation (the drag preview), not the full model.
    pub preview: bool,
    /// Which surface of the model's uncertainty band this is: distances to critical structures
    /// are measured from the outer one and coverage / margin from the inner one (both
    /// conservative); a model without a band gives its nominal zone to both.
    pub surface: Surface,
}

impl Zone {
    /// Whether the distance rules (structures near or inside the zone) measure this zone.
    pub fn for_distances(&self) -> bool {
        self.surface != Surface::Inner
    }

    /// Whether coverage and margin are measured on this zone.
    pub fn for_margins(&self) -> bool {
        self.surface != Surface::Outer
    }
}

impl Zone {
    /// The lethal zone of an IRE result.
    pub fn from_ire(result: &IreResult, label: impl Into<String>) -> Zone {
        Zone {
            label: label.into(),
            kind: ZoneKind::IreThreshold,
            grid: result.grid.clone(),
            inside: result.zone.clone(),
            preview: result.preview,
            surface: Surface::Nominal,
        }
    }

    /// The zones of a cryo result the safety rules look at: the 0 °C iceball, the −20 °C
    /// isotherm and the lethal isotherm (`lethal_c`), each at its largest extent over the whole
    /// protocol (tissue that was that cold once counts, even after it thawed). The GUI, the CLI
    /// and the board slide use the same three.
    pub fn cryo_zones(result: &CryoResult, lethal_c: f64) -> Vec<Zone> {
        let last = result.last_snapshot();
        let zone = |label: String, kind: ZoneKind, temp_c: f64| Zone {
            label,
            kind,
            grid: result.grid.clone(),
            inside: result.reached_mask(last, temp_c),
            preview: false,
            surface: Surface::Nominal,
        };
        vec![
            zone("Iceball 0 °C".into(), ZoneKind::CryoIsotherm { temp_c: 0.0 }, 0.0),
            zone(
                "Isotherm −20 °C".into(),
                ZoneKind::CryoIsotherm { temp_c: -20.0 },
                -20.0,
            ),
            zone(
                format!("Lethal {lethal_c:.0} °C"),
                ZoneKind::CryoLethal { temp_c: lethal_c },
                lethal_c,
            ),
        ]
    }

    /// The zones of any model's result the rules look at (the IRE zone; the cryo 0 °C, −20 °C
    /// and lethal isotherms at their largest extent). `lethal_c` is the cryo plan's lethal
    /// isotherm (ignored for IRE).
    ///
    /// With an uncertainty band the rules see its two conservative surfaces instead of the
    /// nominal zone: the outer one for distances to structures (for cryo, the outer 0 °C iceball
    /// — the "stop at 2 mm" rule watches the visible ice), the inner one for coverage and margin;
    /// each zone's label says which surface it is, and so does every finding about it.
    pub fn of_result(result: &crate::physics::model::ModelResult, lethal_c: f64) -> Vec<Zone> {
        use crate::physics::model::ModelResult;
        match result {
            ModelResult::Ire(r) => match &r.band {
                Some(b) => vec![
                    Zone::from_band(b, Surface::Outer, "IRE zone (outer)", ZoneKind::IreThreshold),
                    Zone::from_band(b, Surface::Inner, "IRE zone (inner)", ZoneKind::IreThreshold),
                ],
                None => vec![Zone::from_ire(r, Self::ire_label(r.preview))],
            },
            ModelResult::Cryo(r) => {
                let mut zones = Zone::cryo_zones(r, lethal_c);
                if let Some(b) = &r.band {
                    // 0 °C: the outer iceball replaces the nominal one for the distance rules;
                    // the lethal zone: outer for distances, inner for coverage and margin.
                    zones.retain(|z| {
                        !matches!(z.kind, ZoneKind::CryoLethal { .. }) && z.kind.temp_c() != Some(0.0)
                    });
                    zones.insert(
                        0,
                        Zone::from_band(
                            &b.iceball,
                            Surface::Outer,
                            "Iceball 0 °C (outer)",
                            ZoneKind::CryoIsotherm { temp_c: 0.0 },
                        ),
                    );
                    let lethal = ZoneKind::CryoLethal { temp_c: lethal_c };
                    zones.push(Zone::from_band(
                        &b.lethal,
                        Surface::Outer,
                        &format!("Lethal {lethal_c:.0} °C (outer)"),
                        lethal,
                    ));
                    zones.push(Zone::from_band(
                        &b.lethal,
                        Surface::Inner,
                        &format!("Lethal {lethal_c:.0} °C (inner)"),
                        lethal,
                    ));
                }
                zones
            }
        }
    }

    /// One surface of an uncertainty band as a zone.
    pub fn from_band(
        band: &crate::physics::band::ZoneBand,
        surface: Surface,
        label: &str,
        kind: ZoneKind,
    ) -> Zone {
        Zone {
            label: label.to_string(),
            kind,
            grid: band.grid.clone(),
            inside: band.surface(surface).to_vec(),
            preview: false,
            surface,
        }
    }

    /// "IRE zone", or "IRE zone (preview)" for the coarse preview.
    pub fn ire_label(preview: bool) -> &'static str {
        if preview { "IRE zone (preview)" } else { "IRE zone" }
    }

    /// A zone from a predicate on node positions (analytic zones for tests and benches, or a
    /// thresholded field of another model).
    pub fn from_fn(
        label: impl Into<String>,
        kind: ZoneKind,
        grid: ComputeGrid,
        inside: impl Fn(&PatientPos) -> bool + Sync,
    ) -> Zone {
        let flags = (0..grid.len())
            .into_par_iter()
            .map(|idx| {
                let [i, j, k] = grid.ijk(idx);
                inside(&grid.lps(i, j, k))
            })
            .collect();
        Zone {
            label: label.into(),
            kind,
            grid,
            inside: flags,
            preview: false,
            surface: Surface::Nominal,
        }
    }

    /// A ball of `radius_mm` around `centre_lps` on a grid of `spacing_mm` covering it plus 2 nodes.
    pub fn sphere(
        label: impl Into<String>,
        kind: ZoneKind,
        centre_lps: PatientPos,
        radius_mm: f64,
        spacing_mm: f64,
    ) -> Zone {
        let grid = ComputeGrid::around_segments(
            &[(centre_lps, centre_lps)],
            radius_mm + 2.0 * spacing_mm,
            spacing_mm,
        );
        Zone::from_fn(label, kind, grid, |p| (p - centre_lps).norm() <= radius_mm)
    }

    /// Half the diagonal of one node's cell (mm): the error each side of a distance carries.
    pub fn half_diagonal_mm(&self) -> f64 {
        0.5 * 3f64.sqrt() * self.grid.spacing_mm
    }

    /// Zone volume (mL), one node = one cell.
    pub fn volume_ml(&self) -> f64 {
        self.inside.iter().filter(|b| **b).count() as f64 * self.grid.spacing_mm.powi(3) / 1000.0
    }

    /// Whether the flags match the grid (a zone from outside data is checked before use).
    pub fn is_consistent(&self) -> bool {
        self.inside.len() == self.grid.len() && self.grid.spacing_mm.is_finite() && self.grid.spacing_mm > 0.0
    }
}

/// Nodes of padding around the zone in its crop (boundary nodes need outside neighbours).
const PAD_NODES: i64 = 2;
/// Largest crop accepted (nodes); larger requests are clamped to the zone's own grid.
const MAX_CROP_NODES: usize = 16_000_000;

/// A zone cropped and ready for distance queries.
#[derive(Clone, Debug)]
pub struct PreparedZone {
    pub label: String,
    pub kind: ZoneKind,
    pub surface: Surface,
    /// The crop: same spacing as the zone's grid; its nodes are nodes of the zone's grid
    /// (possibly beyond it, where they are outside the zone).
    pub crop: ComputeGrid,
    inside: Vec<bool>,
    /// Distance (mm) from each crop node to the nearest outside node (0 at outside nodes).
    d_out: Vec<f32>,
    /// Distance (mm) from each crop node to the nearest inside node (0 at inside nodes; ∞ when
    /// the zone is empty).
    d_in: Vec<f32>,
    /// Inside nodes with an outside 6-neighbour (LPS); the nearest inside node to any point
    /// outside the zone is one of these.
    boundary: Vec<PatientPos>,
    inside_count: usize,
}

impl PreparedZone {
    /// Crops `zone` to its inside nodes plus [`PAD_NODES`], grown to include the LPS boxes
    /// `extra` (the targets, so that margins of a target sticking out are measured), and
    /// computes both distance fields.
    pub fn new(zone: &Zone, extra: &[([f64; 3], [f64; 3])]) -> PreparedZone {
        let g = &zone.grid;
        let h = g.spacing_mm;
        let consistent = zone.is_consistent();
        let mut lo = [i64::MAX; 3];
        let mut hi = [i64::MIN; 3];
        let mut inside_count = 0usize;
        if consistent {
            for (idx, _) in zone.inside.iter().enumerate().filter(|(_, b)| **b) {
                inside_count += 1;
                let ijk = g.ijk(idx);
                for a in 0..3 {
                    lo[a] = lo[a].min(ijk[a] as i64);
                    hi[a] = hi[a].max(ijk[a] as i64);
                }
            }
        }
        for (blo, bhi) in extra {
            let gl = g.to_grid(&PatientPos::from(*blo));
            let gh = g.to_grid(&PatientPos::from(*bhi));
            for a in 0..3 {
                if gl[a].is_finite() && gh[a].is_finite() {
                    lo[a] = lo[a].min(gl[a].min(gh[a]).floor() as i64);
                    hi[a] = hi[a].max(gl[a].max(gh[a]).ceil() as i64);
                }
            }
        }
        if lo[0] > hi[0] {
            lo = [0; 3];
            hi = [0; 3];
        }
        let mut offset = [0i64; 3];
        let mut dims = [0usize; 3];
        for a in 0..3 {
            offset[a] = lo[a] - PAD_NODES;
            dims[a] = (hi[a] - lo[a] + 1 + 2 * PAD_NODES) as usize;
        }
        if dims.iter().product::<usize>() > MAX_CROP_NODES {
            // A huge target box: keep the zone's own grid plus padding (margins of target parts
            // beyond it then count as outside, which is the conservative side).
            for a in 0..3 {
                offset[a] = -PAD_NODES;
                dims[a] = g.dims[a] + 2 * PAD_NODES as usize;
            }
        }
        let crop = ComputeGrid {
            origin_lps: g.origin_lps + Vector3::new(offset[0] as f64, offset[1] as f64, offset[2] as f64) * h,
            spacing_mm: h,
            dims,
        };
        let n = crop.len();
        let inside: Vec<bool> = (0..n)
            .into_par_iter()
            .map(|idx| {
                if !consistent {
                    return false;
                }
                let c = crop.ijk(idx);
                let mut z = [0usize; 3];
                for a in 0..3 {
                    let v = c[a] as i64 + offset[a];
                    if v < 0 || v >= g.dims[a] as i64 {
                        return false;
                    }
                    z[a] = v as usize;
                }
                zone.inside[g.index(z[0], z[1], z[2])]
            })
            .collect();
        let outside: Vec<bool> = inside.par_iter().map(|b| !b).collect();
        let spacing = [h; 3];
        let (d_out, d_in) = rayon::join(
            || edt_mm(dims, spacing, &outside),
            || edt_mm(dims, spacing, &inside),
        );
        let boundary = (0..n)
            .into_par_iter()
            .filter(|&idx| inside[idx])
            .filter_map(|idx| {
                let [i, j, k] = crop.ijk(idx);
                let c = [i, j, k];
                let on_edge = (0..3).any(|a| c[a] == 0 || c[a] + 1 >= dims[a]);
                let open = on_edge
                    || !inside[idx - 1]
                    || !inside[idx + 1]
                    || !inside[idx - dims[0]]
                    || !inside[idx + dims[0]]
                    || !inside[idx - dims[0] * dims[1]]
                    || !inside[idx + dims[0] * dims[1]];
                open.then(|| crop.lps(i, j, k))
            })
            .collect();
        PreparedZone {
            label: zone.label.clone(),
            kind: zone.kind,
            surface: zone.surface,
            crop,
            inside,
            d_out,
            d_in,
            boundary,
            inside_count,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.inside_count == 0
    }

    pub fn spacing_mm(&self) -> f64 {
        self.crop.spacing_mm
    }

    /// Half the diagonal of one node's cell (mm).
    pub fn half_diagonal_mm(&self) -> f64 {
        0.5 * 3f64.sqrt() * self.crop.spacing_mm
    }

    pub fn boundary_nodes(&self) -> &[PatientPos] {
        &self.boundary
    }

    /// Whether the node nearest to `p` is inside the zone (false beyond the crop).
    pub fn contains(&self, p: &PatientPos) -> bool {
        self.crop
            .nearest(p)
            .is_some_and(|[i, j, k]| self.inside[self.crop.index(i, j, k)])
    }

    /// Signed distance (mm) of a node to the zone's boundary taken halfway between inside and
    /// outside nodes (the faces of the zone's cells): positive inside, negative outside.
    fn phi_node(&self, idx: usize) -> f64 {
        let half = 0.5 * self.crop.spacing_mm;
        if self.inside[idx] {
            f64::from(self.d_out[idx]) - half
        } else {
            -(f64::from(self.d_in[idx]) - half)
        }
    }

    /// Signed distance (mm) of an LPS point to the zone boundary, positive inside: the node values
    /// of [`Self::phi_node`] interpolated trilinearly (exact for a plane face along a grid axis).
    /// Beyond the crop: `None`. An empty zone gives −∞ everywhere.
    pub fn signed_distance_mm(&self, p: &PatientPos) -> Option<f64> {
        let g = self.crop.to_grid(p);
        let mut base = [0usize; 3];
        let mut frac = [0.0f64; 3];
        for a in 0..3 {
            let top = self.crop.dims[a] as f64 - 1.0;
            if !g[a].is_finite() || g[a] < -1e-9 || g[a] > top + 1e-9 || top < 1.0 {
                return None;
            }
            let x = g[a].clamp(0.0, top);
            let f = x.floor().min(top - 1.0);
            base[a] = f as usize;
            frac[a] = x - f;
        }
        let mut v = 0.0;
        for (dk, wk) in [(0, 1.0 - frac[2]), (1, frac[2])] {
            for (dj, wj) in [(0, 1.0 - frac[1]), (1, frac[1])] {
                for (di, wi) in [(0, 1.0 - frac[0]), (1, frac[0])] {
                    let w = wi * wj * wk;
                    if w > 0.0 {
                        let idx = self.crop.index(base[0] + di, base[1] + dj, base[2] + dk);
                        v += w * self.phi_node(idx);
                    }
                }
            }
        }
        Some(v)
    }

    /// Gradient direction of the signed distance at `p` (unit, pointing into the zone), by
    /// central differences of [`Self::signed_distance_mm`]; `None` where flat or outside.
    pub fn inward_normal(&self, p: &PatientPos) -> Option<Vector3<f64>> {
        let h = 0.5 * self.crop.spacing_mm;
        let mut g = Vector3::zeros();
        for a in 0..3 {
            let mut e = Vector3::zeros();
            e[a] = h;
            let fp = self.signed_distance_mm(&(p + e))?;
            let fm = self.signed_distance_mm(&(p - e))?;
            g[a] = fp - fm;
        }
        g.try_normalize(1e-12)
    }

    /// The nearest node (exact) to `p` with `inside == want`, searching the crop within
    /// `radius_mm` of `p`: `(distance_mm, node position)`.
    pub fn nearest_node(&self, p: &PatientPos, want: bool, radius_mm: f64) -> Option<(f64, PatientPos)> {
        let g = self.crop.to_grid(p);
        let h = self.crop.spacing_mm;
        let r = (radius_mm / h).ceil() + 1.0;
        let mut lo = [0usize; 3];
        let mut hi = [0usize; 3];
        for a in 0..3 {
            let top = self.crop.dims[a] as f64 - 1.0;
            let l = (g[a] - r).floor().clamp(0.0, top);
            let u = (g[a] + r).ceil().clamp(0.0, top);
            if !(l.is_finite() && u.is_finite()) || top < 0.0 {
                return None;
            }
            lo[a] = l as usize;
            hi[a] = u as usize;
        }
        let mut best: Option<(f64, PatientPos)> = None;
        for k in lo[2]..=hi[2] {
            for j in lo[1]..=hi[1] {
                for i in lo[0]..=hi[0] {
                    if self.inside[self.crop.index(i, j, k)] != want {
                        continue;
                    }
                    let q = self.crop.lps(i, j, k);
                    let d = (q - p).norm();
                    if best.is_none_or(|(b, _)| d < b) {
                        best = Some((d, q));
                    }
                }
            }
        }
        best
    }

    /// Distance (mm) from `p` to the nearest node with `inside == want`, from the EDT at the node
    /// nearest to `p` (exact at nodes; off a node within the half diagonal): an upper bound on
    /// the search radius of [`Self::nearest_node`].
    pub fn node_distance_hint(&self, p: &PatientPos, want: bool) -> Option<f64> {
        let [i, j, k] = self.crop.nearest(p)?;
        let idx = self.crop.index(i, j, k);
        let d = if want { self.d_in[idx] } else { self.d_out[idx] };
        let off = (self.crop.lps(i, j, k) - p).norm();
        d.is_finite().then(|| f64::from(d) + off)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sphere_zone_distances() {
        let c = PatientPos::new(1.3, -2.2, 4.1);
        let z = Zone::sphere("s", ZoneKind::IreThreshold, c, 6.0, 0.5);
        assert!(z.is_consistent());
        let v = z.volume_ml();
        let exact = 4.0 / 3.0 * std::f64::consts::PI * 216.0 / 1000.0;
        assert!((v - exact).abs() < 0.03 * exact, "{v} vs {exact}");
        let p = PreparedZone::new(&z, &[]);
        assert!(!p.is_empty() && !p.boundary_nodes().is_empty());
        // Signed distance: the cell-face boundary of a sphere sampled at 0.5 mm is within half a
        // cell diagonal of the sphere.
        for q in [
            c,
            c + Vector3::new(3.0, 0.0, 0.0),
            c + Vector3::new(0.0, 6.3, 0.0),
        ] {
            let expect = 6.0 - (q - c).norm();
            let got = p
                .signed_distance_mm(&q)
                .unwrap_or_else(|| panic!("{q:?} {:?}", p.crop));
            assert!((got - expect).abs() <= p.half_diagonal_mm(), "{got} vs {expect}");
        }
        assert!(p.contains(&c) && !p.contains(&(c + Vector3::new(7.0, 0.0, 0.0))));
        let n = p.inward_normal(&(c + Vector3::new(5.0, 0.0, 0.0))).unwrap();
        assert!(n.x < -0.9, "{n:?}");
        let (d, _) = p
            .nearest_node(&(c + Vector3::new(8.0, 0.0, 0.0)), true, 4.0)
            .unwrap();
        assert!((d - 2.0).abs() < 0.3, "{d}");
    }

    #[test]
    fn empty_zone_is_empty() {
        let grid = ComputeGrid {
            origin_lps: PatientPos::origin(),
            spacing_mm: 1.0,
            dims: [5, 5, 5],
        };
        let z = Zone::from_fn("e", ZoneKind::IreThreshold, grid, |_| false);
        let p = PreparedZone::new(&z, &[([1.0; 3], [2.0; 3])]);
        assert!(p.is_empty() && p.boundary_nodes().is_empty());
        assert!(p.signed_distance_mm(&PatientPos::new(1.5, 1.5, 1.5)).unwrap() < -1e6);
    }
}
