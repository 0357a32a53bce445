//! The uncertainty band of a predicted zone, shared by every model (REFERENCE.md §7: the range
//! that remains after calibration is shown, not hidden).
//!
//! A band is three nested surfaces on one [`ComputeGrid`]: **inner** (the zone under the least
//! favourable parameters in their calibrated ranges), **nominal** (the calibrated values) and
//! **outer** (the most favourable). Safety measures distances to critical structures from the
//! outer surface and coverage / margin from the inner one, so both errors are conservative.

use super::grid::ComputeGrid;
use serde::Serialize;

/// Which surface of a band a measurement was taken on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Surface {
    Inner,
    Nominal,
    Outer,
}

impl Surface {
    pub fn label(self) -> &'static str {
        match self {
            Surface::Inner => "inner",
            Surface::Nominal => "nominal",
            Surface::Outer => "outer",
        }
    }
}

/// One parameter whose range widens the band, as shown to the user.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BandParameter {
    /// e.g. "lethal threshold (liver)".
    pub name: String,
    pub unit: String,
    /// Value used for the inner surface, the nominal one and the outer one.
    pub inner: f64,
    pub nominal: f64,
    pub outer: f64,
    /// Where the range comes from (REFERENCE.md section, asset, calibration).
    pub source: String,
}

/// Inner ⊆ nominal ⊆ outer zone flags, one per node of `grid`.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneBand {
    pub grid: ComputeGrid,
    pub inner: Vec<bool>,
    pub nominal: Vec<bool>,
    pub outer: Vec<bool>,
    /// The parameters whose ranges made the band.
    pub parameters: Vec<BandParameter>,
}

impl ZoneBand {
    /// Builds a band, forcing the nesting inner ⊆ nominal ⊆ outer: surfaces computed on coarser
    /// grids or with iterative solvers can differ from the nominal by a node at the edge, and a
    /// band that is not nested would let safety measure an outer surface inside the nominal one.
    pub fn nested(
        grid: ComputeGrid,
        mut inner: Vec<bool>,
        nominal: Vec<bool>,
        mut outer: Vec<bool>,
        parameters: Vec<BandParameter>,
    ) -> Self {
        debug_assert_eq!(inner.len(), grid.len());
        debug_assert_eq!(nominal.len(), grid.len());
        debug_assert_eq!(outer.len(), grid.len());
        for ((i, n), o) in inner.iter_mut().zip(&nominal).zip(outer.iter_mut()) {
            *i &= *n;
            *o |= *n;
        }
        Self {
            grid,
            inner,
            nominal,
            outer,
            parameters,
        }
    }

    pub fn surface(&self, s: Surface) -> &[bool] {
        match s {
            Surface::Inner => &self.inner,
            Surface::Nominal => &self.nominal,
            Surface::Outer => &self.outer,
        }
    }

    /// Whether `p` lies inside surface `s` (its nearest node; outside off the grid).
    pub fn contains(&self, s: Surface, p: &crate::geometry::PatientPos) -> bool {
        self.grid
            .nearest(p)
            .is_some_and(|[i, j, k]| self.surface(s)[self.grid.index(i, j, k)])
    }

    /// Volume (mL) inside one surface.
    pub fn volume_ml(&self, s: Surface) -> f64 {
        let voxel_ml = self.grid.spacing_mm.powi(3) / 1000.0;
        self.surface(s).iter().filter(|&&z| z).count() as f64 * voxel_ml
    }
}

/// Extents (mm) of one surface along the three axes a model reports (the probe axis, the axis
/// between the first two probes / the pair axis, and their perpendicular).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct AxisExtents {
    pub probe_axis: f64,
    pub pair_axis: f64,
    pub perpendicular: f64,
}

/// Volume and extents of one surface.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SurfaceSummary {
    pub volume_ml: f64,
    pub extents_mm: AxisExtents,
}

/// What reports show of a band (`compute --json`: `zone.band`): volume and extents of every
/// surface, and the parameters with their ranges and sources.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BandSummary {
    pub inner: SurfaceSummary,
    pub nominal: SurfaceSummary,
    pub outer: SurfaceSummary,
    pub parameters: Vec<BandParameter>,
}

impl ZoneBand {
    /// Volumes and node extents (`physics::ire::zone::extents_mm`: one spacing included) along
    /// `axes`.
    pub fn summary(&self, axes: [nalgebra::Vector3<f64>; 3]) -> BandSummary {
        let one = |s: Surface| {
            let e = super::ire::zone::extents_mm(&self.grid, self.surface(s), axes);
            SurfaceSummary {
                volume_ml: self.volume_ml(s),
                extents_mm: AxisExtents {
                    probe_axis: e[0],
                    pair_axis: e[1],
                    perpendicular: e[2],
                },
            }
        };
        BandSummary {
            inner: one(Surface::Inner),
            nominal: one(Surface::Nominal),
            outer: one(Surface::Outer),
            parameters: self.parameters.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::Point3;

    #[test]
    fn a_band_is_nested_even_when_its_surfaces_are_not() {
        let grid = ComputeGrid {
            origin_lps: Point3::origin(),
            spacing_mm: 1.0,
            dims: [4, 1, 1],
        };
        // The inner surface sticks out of the nominal at node 0, the outer misses node 2.
        let band = ZoneBand::nested(
            grid,
            vec![true, true, false, false],
            vec![false, true, true, false],
            vec![false, true, false, true],
            Vec::new(),
        );
        assert_eq!(band.inner, vec![false, true, false, false]);
        assert_eq!(band.outer, vec![false, true, true, true]);
        assert!(band.volume_ml(Surface::Inner) <= band.volume_ml(Surface::Nominal));
        assert!(band.volume_ml(Surface::Nominal) <= band.volume_ml(Surface::Outer));
        let sum = band.summary([
            nalgebra::Vector3::x(),
            nalgebra::Vector3::y(),
            nalgebra::Vector3::z(),
        ]);
        assert_eq!(sum.inner.extents_mm.probe_axis, 1.0);
        assert_eq!(sum.outer.extents_mm.probe_axis, 3.0);
        assert_eq!(sum.outer.extents_mm.pair_axis, 1.0);
        assert!(sum.inner.volume_ml <= sum.outer.volume_ml);
    }
}
