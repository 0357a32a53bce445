//! Structures written in a case file: analytic shapes (sphere, capsule, cylinder, box) with a
//! name and a kind, rasterised onto a grid (the CT's, or the phantom's), or a structure-set file
//! to import (RTSTRUCT / SEG / NIfTI; DICOM cases).
//!
//! Rasterisation follows the rest of the code: a voxel belongs to the shape when its centre is
//! inside (`anatomy::edit::mask_where`, only the voxels of the shape's bounding box).

use crate::anatomy::edit::mask_where;
use crate::anatomy::mask::Mask;
use crate::anatomy::structure::{Provenance, Structure, StructureKind};
use crate::dicom::structset::{ImportOptions, SeriesIds};
use crate::geometry::{PatientPos, VolumeGeometry};
use nalgebra::{Matrix3, Vector3};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One entry of a case's `structures` list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "snake_case", deny_unknown_fields)]
pub enum CaseStructure {
    Sphere {
        name: String,
        kind: StructureKind,
        centre_lps: [f64; 3],
        radius_mm: f64,
    },
    /// Every point within `radius_mm` of the segment a–b (rounded ends).
    Capsule {
        name: String,
        kind: StructureKind,
        a_lps: [f64; 3],
        b_lps: [f64; 3],
        radius_mm: f64,
    },
    /// A right circular cylinder from a to b (flat ends).
    Cylinder {
        name: String,
        kind: StructureKind,
        a_lps: [f64; 3],
        b_lps: [f64; 3],
        radius_mm: f64,
    },
    /// An LPS-aligned box.
    Box {
        name: String,
        kind: StructureKind,
        min_lps: [f64; 3],
        max_lps: [f64; 3],
    },
    /// Every structure of an RTSTRUCT or SEG file, or of a NIfTI label map (`.nii`, `.nii.gz`),
    /// on the case's CT (DICOM cases only); kinds from the names. `path` is relative to the case
    /// file's folder, or absolute.
    Import { path: PathBuf },
}

impl CaseStructure {
    /// The name (for imports: the file name).
    pub fn name(&self) -> String {
        match self {
            CaseStructure::Sphere { name, .. }
            | CaseStructure::Capsule { name, .. }
            | CaseStructure::Cylinder { name, .. }
            | CaseStructure::Box { name, .. } => name.clone(),
            CaseStructure::Import { path } => path.display().to_string(),
        }
    }

    /// Checks the numbers: finite points, positive radius, non-degenerate box and cylinder,
    /// non-empty name. The error is (field below `structures[i]`, message).
    pub fn check(&self) -> Result<(), (String, String)> {
        let finite = |field: &str, v: &[f64; 3]| {
            if v.iter().all(|c| c.is_finite()) {
                Ok(())
            } else {
                Err((field.to_string(), format!("{v:?} is not a finite point (mm)")))
            }
        };
        let radius = |r: f64| {
            if r.is_finite() && r > 0.0 {
                Ok(())
            } else {
                Err((
                    "radius_mm".to_string(),
                    format!("{r} — must be a positive number (mm)"),
                ))
            }
        };
        let named = |name: &str| {
            if name.trim().is_empty() {
                Err(("name".to_string(), "empty — name the structure".to_string()))
            } else {
                Ok(())
            }
        };
        match self {
            CaseStructure::Sphere {
                name,
                centre_lps,
                radius_mm,
                ..
            } => {
                named(name)?;
                finite("centre_lps", centre_lps)?;
                radius(*radius_mm)
            }
            CaseStructure::Capsule {
                name,
                a_lps,
                b_lps,
                radius_mm,
                ..
            }
            | CaseStructure::Cylinder {
                name,
                a_lps,
                b_lps,
                radius_mm,
                ..
            } => {
                named(name)?;
                finite("a_lps", a_lps)?;
                finite("b_lps", b_lps)?;
                radius(*radius_mm)?;
                if matches!(self, CaseStructure::Cylinder { .. })
                    && (Vector3::from(*b_lps) - Vector3::from(*a_lps)).norm() < 1e-9
                {
                    return Err((
                        "b_lps".into(),
                        "the same point as a_lps — a cylinder needs an axis".into(),
                    ));
                }
                Ok(())
            }
            CaseStructure::Box {
                name,
                min_lps,
                max_lps,
                ..
            } => {
                named(name)?;
                finite("min_lps", min_lps)?;
                finite("max_lps", max_lps)?;
                if (0..3).any(|a| max_lps[a] <= min_lps[a]) {
                    return Err((
                        "max_lps".into(),
                        format!("{max_lps:?} must exceed min_lps {min_lps:?} on every axis"),
                    ));
                }
                Ok(())
            }
            CaseStructure::Import { path } => {
                if path.as_os_str().is_empty() {
                    Err(("path".into(), "empty — give the structure-set file".into()))
                } else {
                    Ok(())
                }
            }
        }
    }

    /// The analytic shape, `None` for imports.
    pub fn shape(&self) -> Option<Shape> {
        let p = |v: &[f64; 3]| PatientPos::from(*v);
        Some(match self {
            CaseStructure::Sphere {
                centre_lps,
                radius_mm,
                ..
            } => Shape::Sphere {
                centre_lps: p(centre_lps),
                radius_mm: *radius_mm,
            },
            CaseStructure::Capsule {
                a_lps,
                b_lps,
                radius_mm,
                ..
            } => Shape::Capsule {
                a_lps: p(a_lps),
                b_lps: p(b_lps),
                radius_mm: *radius_mm,
            },
            CaseStructure::Cylinder {
                a_lps,
                b_lps,
                radius_mm,
                ..
            } => Shape::Cylinder {
                a_lps: p(a_lps),
                b_lps: p(b_lps),
                radius_mm: *radius_mm,
            },
            CaseStructure::Box { min_lps, max_lps, .. } => Shape::Box {
                min_lps: p(min_lps),
                max_lps: p(max_lps),
            },
            CaseStructure::Import { .. } => return None,
        })
    }

    /// The structure rasterised on `geometry` (`None` for imports).
    pub fn rasterise(&self, geometry: &VolumeGeometry) -> Option<Structure> {
        let (name, kind) = match self {
            CaseStructure::Sphere { name, kind, .. }
            | CaseStructure::Capsule { name, kind, .. }
            | CaseStructure::Cylinder { name, kind, .. }
            | CaseStructure::Box { name, kind, .. } => (name.clone(), *kind),
            CaseStructure::Import { .. } => return None,
        };
        let mask = self.shape()?.rasterise(geometry);
        Some(Structure::new(name, kind, Provenance::Drawn, mask))
    }
}

/// An analytic solid in LPS mm (case structures, tests).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Sphere {
        centre_lps: PatientPos,
        radius_mm: f64,
    },
    Capsule {
        a_lps: PatientPos,
        b_lps: PatientPos,
        radius_mm: f64,
    },
    Cylinder {
        a_lps: PatientPos,
        b_lps: PatientPos,
        radius_mm: f64,
    },
    Box {
        min_lps: PatientPos,
        max_lps: PatientPos,
    },
    /// The half-space `{ p : (p − point)·normal ≤ 0 }` clipped to a box (for tests of planes).
    HalfSpace {
        point_lps: PatientPos,
        normal: Vector3<f64>,
        min_lps: PatientPos,
        max_lps: PatientPos,
    },
}

/// Distance (mm) from `p` to the segment a–b.
fn segment_distance(p: &PatientPos, a: &PatientPos, b: &PatientPos) -> f64 {
    let ab = b - a;
    let l2 = ab.norm_squared();
    let t = if l2 > 0.0 {
        ((p - a).dot(&ab) / l2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    (p - (a + ab * t)).norm()
}

impl Shape {
    pub fn contains(&self, p: &PatientPos) -> bool {
        match self {
            Shape::Sphere {
                centre_lps,
                radius_mm,
            } => (p - centre_lps).norm() <= *radius_mm,
            Shape::Capsule {
                a_lps,
                b_lps,
                radius_mm,
            } => segment_distance(p, a_lps, b_lps) <= *radius_mm,
            Shape::Cylinder {
                a_lps,
                b_lps,
                radius_mm,
            } => {
                let ab = b_lps - a_lps;
                let l2 = ab.norm_squared();
                if l2 <= 0.0 {
                    return false;
                }
                let t = (p - a_lps).dot(&ab) / l2;
                (0.0..=1.0).contains(&t) && (p - (a_lps + ab * t)).norm() <= *radius_mm
            }
            Shape::Box { min_lps, max_lps } => (0..3).all(|a| p[a] >= min_lps[a] && p[a] <= max_lps[a]),
            Shape::HalfSpace {
                point_lps,
                normal,
                min_lps,
                max_lps,
            } => {
                (p - point_lps).dot(normal) <= 0.0 && (0..3).all(|a| p[a] >= min_lps[a] && p[a] <= max_lps[a])
            }
        }
    }

    /// LPS bounding box.
    pub fn bounding_box(&self) -> ([f64; 3], [f64; 3]) {
        let seg = |a: &PatientPos, b: &PatientPos, r: f64| {
            (
                [0, 1, 2].map(|i| a[i].min(b[i]) - r),
                [0, 1, 2].map(|i| a[i].max(b[i]) + r),
            )
        };
        match self {
            Shape::Sphere {
                centre_lps,
                radius_mm,
            } => seg(centre_lps, centre_lps, *radius_mm),
            Shape::Capsule {
                a_lps,
                b_lps,
                radius_mm,
            }
            | Shape::Cylinder {
                a_lps,
                b_lps,
                radius_mm,
            } => seg(a_lps, b_lps, *radius_mm),
            Shape::Box { min_lps, max_lps } | Shape::HalfSpace { min_lps, max_lps, .. } => {
                (min_lps.coords.into(), max_lps.coords.into())
            }
        }
    }

    /// The voxels of `geometry` whose centre lies in the shape.
    pub fn rasterise(&self, geometry: &VolumeGeometry) -> Mask {
        let (lo, hi) = self.bounding_box();
        mask_where(geometry, lo, hi, |p| self.contains(p))
    }
}

/// The structures of a case on `geometry`: shapes rasterised, imports read (`case_dir` resolves
/// relative paths; `ct_ids` identifies the CT for RTSTRUCT / SEG frame-of-reference checks,
/// `None` for a phantom, where imports are refused). Shapes that miss the grid give an empty
/// structure and a warning. The error is (field below `structures[i]`, message).
pub fn build_case_structures(
    list: &[CaseStructure],
    case_dir: &Path,
    geometry: &VolumeGeometry,
    ct_ids: Option<&SeriesIds>,
) -> Result<(Vec<Structure>, Vec<String>), (String, String)> {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (i, s) in list.iter().enumerate() {
        let field = |f: &str| format!("structures[{i}].{f}");
        s.check().map_err(|(f, m)| (field(&f), m))?;
        if let Some(st) = s.rasterise(geometry) {
            if st.mask().is_empty() {
                warnings.push(format!(
                    "structures[{i}] \"{}\": no voxel centre of the grid lies inside it",
                    st.name
                ));
            }
            out.push(st);
            continue;
        }
        let CaseStructure::Import { path } = s else {
            continue;
        };
        let Some(ids) = ct_ids else {
            return Err((
                field("path"),
                "structure files can only be imported onto a DICOM series — draw the phantom's structures as shapes"
                    .into(),
            ));
        };
        let full = if path.is_absolute() {
            path.clone()
        } else {
            case_dir.join(path)
        };
        let name = full.to_string_lossy().to_lowercase();
        if name.ends_with(".nii") || name.ends_with(".nii.gz") {
            let r = crate::anatomy::nifti::import_label_map_report(&full, geometry)
                .map_err(|e| (field("path"), e.to_string()))?;
            warnings.extend(r.warnings);
            out.extend(r.structures);
        } else {
            let r = crate::dicom::structset::import_structure_set(
                &full,
                geometry,
                ids,
                &ImportOptions::default(),
            )
            .map_err(|e| (field("path"), e.to_string()))?;
            warnings.extend(r.warnings);
            out.extend(r.structures);
        }
    }
    Ok((out, warnings))
}

/// Largest voxel count per axis of a phantom's structure grid.
const MAX_PHANTOM_AXIS: usize = 512;

/// The grid structures of a phantom case are drawn on: the block (`size_mm` centred on
/// `centre_lps`, LPS-aligned) at `spacing_mm` (coarsened so that no axis exceeds 512 voxels),
/// voxel centres inside the block.
pub fn phantom_geometry(centre_lps: [f64; 3], size_mm: [f64; 3], spacing_mm: f64) -> VolumeGeometry {
    let max_side = size_mm.iter().copied().fold(0.0, f64::max);
    let s = spacing_mm.max(max_side / MAX_PHANTOM_AXIS as f64).max(1e-3);
    let dims = size_mm.map(|l| ((l / s).floor() as usize).max(1));
    let origin = [0, 1, 2].map(|a| centre_lps[a] - 0.5 * (dims[a] as f64 - 1.0) * s);
    VolumeGeometry {
        dims,
        spacing_mm: [s; 3],
        origin_lps: PatientPos::from(origin),
        direction: Matrix3::identity(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_rasterise_to_their_volume() {
        let g = VolumeGeometry::axis_aligned([80, 80, 40], [0.5, 0.5, 1.0], PatientPos::origin());
        let s = CaseStructure::Sphere {
            name: "t".into(),
            kind: StructureKind::Target,
            centre_lps: [20.0, 20.0, 20.0],
            radius_mm: 8.0,
        };
        s.check().unwrap();
        let st = s.rasterise(&g).unwrap();
        let exact = 4.0 / 3.0 * std::f64::consts::PI * 512.0 / 1000.0;
        assert!((st.volume_ml(g.spacing_mm) - exact).abs() < 0.03 * exact);
        let c = CaseStructure::Cylinder {
            name: "n".into(),
            kind: StructureKind::Nerve,
            a_lps: [5.0, 5.0, 5.0],
            b_lps: [5.0, 35.0, 5.0],
            radius_mm: 2.0,
        };
        let m = c.rasterise(&g).unwrap();
        let exact = std::f64::consts::PI * 4.0 * 30.0 / 1000.0;
        assert!((m.volume_ml(g.spacing_mm) - exact).abs() < 0.1 * exact);
        assert!(CaseStructure::Import { path: "x".into() }.rasterise(&g).is_none());
    }

    #[test]
    fn bad_shapes_name_the_field() {
        let s = CaseStructure::Sphere {
            name: "t".into(),
            kind: StructureKind::Target,
            centre_lps: [0.0, f64::NAN, 0.0],
            radius_mm: 8.0,
        };
        assert_eq!(s.check().unwrap_err().0, "centre_lps");
        let b = CaseStructure::Box {
            name: "b".into(),
            kind: StructureKind::Bone,
            min_lps: [0.0; 3],
            max_lps: [1.0, 0.0, 1.0],
        };
        assert_eq!(b.check().unwrap_err().0, "max_lps");
        let json = r#"{"shape": "sphere", "name": "x", "kind": "Nerve", "centre_lps": [0,0,0], "radius_mm": 1, "extra": 2}"#;
        assert!(
            serde_json::from_str::<CaseStructure>(json).is_err(),
            "unknown keys refused"
        );
    }

    #[test]
    fn phantom_grid_is_centred_on_the_block() {
        let g = phantom_geometry([10.0, 0.0, -5.0], [40.0, 30.0, 20.0], 0.5);
        assert_eq!(g.dims, [80, 60, 40]);
        let c = g.to_patient(&Vector3::new(39.5, 29.5, 19.5));
        assert!((c - PatientPos::new(10.0, 0.0, -5.0)).norm() < 1e-9);
    }
}
