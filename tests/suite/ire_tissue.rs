//! IRE tissue classes from a CT (HU bins, structure overrides, outside the scan) and the CT path of
//! the plan model against the equivalent phantom.

use ablaplan::anatomy::mask::Mask;
use ablaplan::anatomy::structure::{Provenance, Structure, StructureKind};
use ablaplan::geometry::{PatientPos, VolumeGeometry};
use ablaplan::jobs::JobCtx;
use ablaplan::physics::grid::ComputeGrid;
use ablaplan::physics::ire::model::{IreModelOptions, TissueSource, compute_ire, preview_ire};
use ablaplan::physics::ire::tissue::{OUTSIDE, node_classes, plan_grid};
use ablaplan::plan::ire::{ElectrodePair, IreSettings};
use ablaplan::plan::probe::Probe;
use ablaplan::plan::tissue_params::builtin_tissue_params;
use ablaplan::volume::{Volume, VolumeMeta};
use nalgebra::{Matrix3, Vector3};

/// 60 × 60 × 40 voxels of 1 × 1 × 2 mm, origin at (−30, −30, −40) mm, rows running along −y
/// (a flipped, non-identity direction to exercise the geometry): soft tissue (40 HU), a fat slab
/// (−100 HU) for x > 10 mm, air (−1000 HU) for x < −25 mm.
fn ct() -> Volume {
    let dims = [60, 60, 40];
    let mut g = VolumeGeometry::axis_aligned(dims, [1.0, 1.0, 2.0], PatientPos::new(-30.0, 29.0, -40.0));
    g.direction = Matrix3::from_columns(&[Vector3::x(), -Vector3::y(), Vector3::z()]);
    let mut hu = vec![40i16; dims[0] * dims[1] * dims[2]];
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let x = -30.0 + i as f64;
                let v = if x > 10.0 {
                    -100
                } else if x < -25.0 {
                    -1000
                } else {
                    40
                };
                hu[i + dims[0] * (j + dims[1] * k)] = v;
            }
        }
    }
    Volume::new(g, hu, VolumeMeta::default()).unwrap()
}

/// A vessel along z at (x, y) = (0, 8) mm, radius 3 mm, on the CT grid.
fn vessel(v: &Volume) -> Structure {
    let g = &v.geometry;
    let mut dense = vec![false; g.voxel_count()];
    for k in 0..g.dims[2] {
        for j in 0..g.dims[1] {
            for i in 0..g.dims[0] {
                let p = g.to_patient(&Vector3::new(i as f64, j as f64, k as f64));
                if (p.x * p.x + (p.y - 8.0).powi(2)).sqrt() <= 3.0 {
                    dense[i + g.dims[0] * (j + g.dims[1] * k)] = true;
                }
            }
        }
    }
    Structure::new(
        "SMV",
        StructureKind::Vessel,
        Provenance::Drawn,
        Mask::from_dense(g.dims, &dense),
    )
}

fn probes() -> Vec<Probe> {
    // x = −14.5 and 0.5 mm: with the margin the grid stays in the soft-tissue part of the CT.
    [-14.5, 0.5]
        .iter()
        .enumerate()
        .map(|(i, x)| Probe {
            model_id: "nanoknife_19g".into(),
            tip_lps: PatientPos::new(*x, -2.0, 10.0),
            entry_lps: PatientPos::new(*x, -2.0, -90.0),
            exposure_mm: 20.0,
            label: (i + 1).to_string(),
        })
        .collect()
}

#[test]
fn ct_classes_follow_hu_structures_and_clamp_outside() {
    let params = builtin_tissue_params().unwrap();
    let v = ct();
    let s = [vessel(&v)];
    let tissue = TissueSource::Ct {
        volume: &v,
        structures: &s,
    };
    let grid = ComputeGrid {
        origin_lps: PatientPos::new(-40.0, -10.0, 0.0),
        spacing_mm: 0.5,
        dims: [161, 41, 3],
    };
    let classes = node_classes(&grid, &tissue, &params).unwrap();
    let at = |x: f64, y: f64| {
        let [i, j, k] = grid.nearest(&PatientPos::new(x, y, 0.5)).unwrap();
        let c = classes[grid.index(i, j, k)];
        assert_ne!(c, OUTSIDE);
        params.classes[usize::from(c)].id.as_str()
    };
    assert_eq!(at(0.0, -5.0), "soft_tissue");
    assert_eq!(at(20.0, -5.0), "fat");
    assert_eq!(at(-28.0, -5.0), "air");
    // Vessel overrides soft tissue (the HU says soft tissue).
    assert_eq!(at(0.0, 8.0), "blood");
    assert_eq!(at(0.0, 4.0), "soft_tissue");
    // Outside the CT (x < −30 mm): the nearest CT voxel's class (air at the edge).
    assert_eq!(at(-38.0, -5.0), "air");
    // A mask on another grid is refused.
    let wrong = [Structure::new(
        "bad",
        StructureKind::Vessel,
        Provenance::Drawn,
        Mask::empty([2, 2, 2]),
    )];
    let bad = TissueSource::Ct {
        volume: &v,
        structures: &wrong,
    };
    assert!(node_classes(&grid, &bad, &params).is_err());
}

#[test]
fn ct_of_uniform_soft_tissue_matches_the_phantom() {
    // Inside the fat-free, air-free middle of the CT the plan sees only soft tissue: the CT path
    // and a soft-tissue phantom covering the same grid give the same grid and the same field.
    let params = builtin_tissue_params().unwrap();
    let v = ct();
    let probes = probes();
    let settings = IreSettings {
        pairs: vec![ElectrodePair {
            a: 0,
            b: 1,
            voltage_v: 2250.0,
        }],
        ..IreSettings::default()
    };
    let opts = IreModelOptions {
        spacing_mm: 1.0,
        margin_mm: 6.0,
        ..IreModelOptions::default()
    };
    let ct_src = TissueSource::Ct {
        volume: &v,
        structures: &[],
    };
    let phantom = TissueSource::Phantom {
        class_id: "soft_tissue",
        centre_lps: PatientPos::origin(),
        size_mm: [500.0; 3],
    };
    let segs: Vec<_> = probes
        .iter()
        .map(|p| {
            let s = p.exposed_segment().unwrap();
            (s.start, s.end)
        })
        .collect();
    assert_eq!(
        plan_grid(&segs, &ct_src, opts.margin_mm, opts.spacing_mm, true, None).unwrap(),
        plan_grid(&segs, &phantom, opts.margin_mm, opts.spacing_mm, true, None).unwrap()
    );
    let ctx = JobCtx::default();
    let a = compute_ire(&probes, &settings, ct_src, &params, &opts, &ctx).unwrap();
    let b = compute_ire(&probes, &settings, phantom, &params, &opts, &ctx).unwrap();
    assert_eq!(a.grid, b.grid);
    assert_eq!(a.max_e_v_per_cm, b.max_e_v_per_cm);
    assert_eq!(a.zone, b.zone);
    assert!(a.zone_volume_ml > 1.0);
    // A vessel next to the pair (σ0 0.7 vs 0.2 S/m) changes the field: it draws current.
    let s = [vessel(&v)];
    let with_vessel = TissueSource::Ct {
        volume: &v,
        structures: &s,
    };
    let c = compute_ire(&probes, &settings, with_vessel, &params, &opts, &ctx).unwrap();
    assert!(c.pairs[0].current_a > a.pairs[0].current_a);
    let pv = preview_ire(&probes, &settings, with_vessel, &params, &opts).unwrap();
    assert!(pv.preview && pv.zone_volume_ml > 0.0);
}
