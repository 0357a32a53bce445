//! Calibration as code (issue 13, REFERENCE.md §7): the liver's lethal threshold and σ1/σ0 fitted
//! on V3 only, reproducibly.
//!
//! - `calibrate_ire_on_v3` (ignored, release): reruns the calibration, prints it, and fails when
//!   the asset's numbers are not what the calibration gives (so the asset cannot drift from its
//!   command). With `ABLAPLAN_WRITE_CALIBRATION=1` it writes `assets/tissues_ire.json` instead:
//!   `ABLAPLAN_WRITE_CALIBRATION=1 cargo test --test suite calibrate_ire_on_v3 -- --ignored --nocapture`
//! - The other tests check the stored record: every value inside its published range, V3 within
//!   1 SD at the stored values (the grid of `ire_validation.rs` checks the model itself).

use ablaplan::jobs::JobCtx;
use ablaplan::physics::ire::calibrate::{CalibrationTarget, apply, calibrate_v3};
use ablaplan::plan::tissue_params::builtin_tissue_params;

#[test]
#[ignore]
fn calibrate_ire_on_v3() {
    let mut params = builtin_tissue_params().unwrap();
    let target = CalibrationTarget::from_asset(&params).expect("the asset names its calibration target");
    let report = calibrate_v3(&params, &target, &JobCtx::default(), &|line| {
        println!("calibrate: {line}")
    })
    .unwrap();
    for s in &report.scans {
        let best = s
            .extents
            .iter()
            .map(|(t, e)| (*t, *e, target.residuals(*e).iter().map(|r| r * r).sum::<f64>()))
            .min_by(|a, b| a.2.total_cmp(&b.2))
            .unwrap();
        println!(
            "  σ1/σ0 {:.3}: best threshold {:.0} V/cm → {:.1} × {:.1} × {:.1} mm, cost {:.3}",
            s.ratio, best.0, best.1[0], best.1[1], best.1[2], best.2
        );
    }
    println!(
        "calibrated: threshold {:.0} V/cm (band {:?}), σ1/σ0 {:.3} (band {:?}); V3 {:.1} × {:.1} × {:.1} mm, residuals \
         {:?} SD; band inner {:?} outer {:?} mm",
        report.threshold_v_per_cm,
        report.threshold_band_v_per_cm,
        report.sigma_ratio,
        report.sigma_ratio_band,
        report.predicted_extents_mm[0],
        report.predicted_extents_mm[1],
        report.predicted_extents_mm[2],
        report.residuals_sd,
        report.band_inner_extents_mm,
        report.band_outer_extents_mm
    );
    let before = params.clone();
    let command =
        "ABLAPLAN_WRITE_CALIBRATION=1 cargo test --test suite calibrate_ire_on_v3 -- --ignored --nocapture";
    apply(&mut params, &report, command).unwrap();
    if std::env::var("ABLAPLAN_WRITE_CALIBRATION").is_ok_and(|v| v == "1") {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/tissues_ire.json");
        let text = serde_json::to_string_pretty(&params).unwrap() + "\n";
        std::fs::write(&path, text).unwrap();
        println!("wrote {}", path.display());
    } else {
        assert_eq!(
            before.calibration, params.calibration,
            "assets/tissues_ire.json is not what the calibration gives — rerun with ABLAPLAN_WRITE_CALIBRATION=1"
        );
        assert_eq!(before.classes, params.classes);
    }
}

#[test]
fn the_stored_calibration_keeps_every_value_in_its_published_range() {
    let p = builtin_tissue_params().unwrap();
    let cal = p.calibration.as_ref().expect("calibration record");
    assert!(cal.calibrated_on.contains("V3"), "{}", cal.calibrated_on);
    assert!(cal.command.contains("calibrate_ire_on_v3"));
    for v in [&cal.lethal_threshold_v_per_cm, &cal.sigma_ratio] {
        let [lo, hi] = v.published_range;
        assert!(lo <= v.band_range[0] && v.band_range[0] <= v.value);
        assert!(v.value <= v.band_range[1] && v.band_range[1] <= hi);
    }
    assert_eq!(cal.lethal_threshold_v_per_cm.published_range, [269.0, 637.0]);
    assert_eq!(cal.sigma_ratio.published_range, [2.0, 4.0]);
    // V3 within 1 SD on every axis at the calibrated values, and the measured zone inside the
    // band (the records of the calibration run; `ire_validation.rs` recomputes both).
    for ax in 0..3 {
        assert!(
            cal.residuals_sd[ax].abs() <= 1.0,
            "axis {ax}: {:?}",
            cal.residuals_sd
        );
        let m = cal.measured_extents_mm[ax];
        assert!(cal.band_inner_extents_mm[ax] <= m && m <= cal.band_outer_extents_mm[ax]);
    }
    let liver = p.class("liver").unwrap();
    assert_eq!(
        liver.lethal_threshold_v_per_cm.value,
        cal.lethal_threshold_v_per_cm.value
    );
    let ratio = liver.sigma1_s_per_m.value / liver.sigma0_s_per_m.value;
    assert!((ratio - cal.sigma_ratio.value).abs() < 0.01, "{ratio}");
    // Every class: a threshold inside the published range, with a band range around it.
    for c in &p.classes {
        let t = c.lethal_threshold_v_per_cm.value;
        assert!((269.0..=637.0).contains(&t), "{}: {t}", c.id);
        let r = c
            .lethal_threshold_range_v_per_cm
            .as_ref()
            .expect("threshold range");
        assert!(r.lo <= t && t <= r.hi, "{}", c.id);
        if c.id != cal.class_id {
            assert!(
                !c.lethal_threshold_v_per_cm.confirmed,
                "{} follows the liver: unconfirmed",
                c.id
            );
        }
    }
    // The lymph node's conductivity is an unconfirmed placeholder with a wide range.
    let node = p.class("lymph_node").unwrap();
    assert!(!node.sigma0_s_per_m.confirmed);
    let r = node.sigma0_range_s_per_m.as_ref().unwrap();
    assert!(!r.confirmed && r.hi / r.lo >= 4.0, "{r:?}");
}
