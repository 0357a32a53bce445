//! The suggestion tests' phantom (issue 16): a spherical node at the origin and optionally a
//! nerve or vessel (radius 2 mm, along S) on the node's right, its surface `gap_mm` from the
//! node's surface, in a 120 mm block of 1 mm voxels.

use ablaplan::anatomy::structure::StructureKind;
use ablaplan::geometry::VolumeGeometry;
use ablaplan::plan::shapes::{CaseStructure, phantom_geometry};

pub const CENTRE: [f64; 3] = [0.0, 0.0, 0.0];
pub const BLOCK_MM: [f64; 3] = [120.0, 120.0, 120.0];

/// The node and its neighbour as case shapes.
pub fn shapes(diameter_mm: f64, neighbour: Option<(StructureKind, f64)>) -> Vec<CaseStructure> {
    let r = diameter_mm / 2.0;
    let mut shapes = vec![CaseStructure::Sphere {
        name: "Node".into(),
        kind: StructureKind::Target,
        centre_lps: CENTRE,
        radius_mm: r,
    }];
    if let Some((kind, gap_mm)) = neighbour {
        // Right of the node (−L), parallel to S.
        let x = -(r + gap_mm + 2.0);
        shapes.push(CaseStructure::Cylinder {
            name: if kind == StructureKind::Nerve {
                "Sacral nerve".into()
            } else {
                "Artery".into()
            },
            kind,
            a_lps: [x, 0.0, -55.0],
            b_lps: [x, 0.0, 55.0],
            radius_mm: 2.0,
        });
    }
    shapes
}

/// The block the shapes are rasterised on.
pub fn geometry() -> VolumeGeometry {
    phantom_geometry(CENTRE, BLOCK_MM, 1.0)
}
