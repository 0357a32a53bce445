//! Issue 14: the probes' convective wall (finite cooling power), its wall temperature output, the
//! calibration record and the uncertainty band (`physics::cryo::{solver, calibrate, band}`).

use ablaplan::geometry::PatientPos;
use ablaplan::jobs::JobCtx;
use ablaplan::physics::band::Surface;
use ablaplan::physics::cryo::calibrate::{
    CaseSizes, PhantomCase, calibration_set, isotherm_reach_mm, with_probe_params,
};
use ablaplan::physics::cryo::model::{
    CryoAssets, CryoResult, CryoSettings, active_mid_plane, compute_cryo, equivalent_diameter_mm,
};
use ablaplan::physics::cryo::tissue::CryoTissueSource;
use ablaplan::plan::catalog::Modality;
use ablaplan::plan::probe::Probe;
use ablaplan::plan::protocol::CryoProtocol;
use nalgebra::Vector3;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn probe_along_s(model: &str, x: f64, y: f64, active_mm: f64) -> Probe {
    Probe {
        model_id: model.into(),
        tip_lps: PatientPos::new(x, y, -0.5 * active_mm),
        entry_lps: PatientPos::new(x, y, 150.0),
        exposure_mm: active_mm,
        label: format!("{x},{y}"),
    }
}

fn freeze(freeze_s: f64, margin_mm: f64, band: bool) -> CryoSettings {
    let mut s = CryoSettings {
        protocol: CryoProtocol::freeze_only(freeze_s),
        ..CryoSettings::default()
    };
    s.model.spacing_mm = 1.0;
    s.model.margin_mm = margin_mm;
    s.model.band = band;
    s
}

fn block(class_id: &'static str, temperature_c: f64) -> CryoTissueSource<'static> {
    CryoTissueSource::Phantom {
        class_id,
        centre_lps: PatientPos::origin(),
        size_mm: [200.0; 3],
        temperature_c,
    }
}

/// Mean reach (mm) of an isotherm in the four in-plane directions at the origin.
fn radius_mm(r: &CryoResult, t_c: f64) -> f64 {
    let s = r.last_snapshot();
    let c = PatientPos::origin();
    [Vector3::x(), -Vector3::x(), Vector3::y(), -Vector3::y()]
        .iter()
        .map(|d| isotherm_reach_mm(&r.grid, &r.snapshots[s], t_c, &c, d).expect("inside the grid"))
        .sum::<f64>()
        / 4.0
}

fn mean_wall_c(r: &CryoResult, probe: usize) -> f64 {
    r.wall_temperature[probe].last().expect("samples").wall_c
}

#[test]
fn convective_wall_spans_from_no_cooling_to_the_fixed_surface() {
    // One 2.4 mm probe in 37 °C gel for 3 min. h → ∞ must give the fixed surface at the gas
    // temperature (the former Dirichlet model); a small h a warm wall and a small iceball; the
    // wall always lies between the gas and the tissue.
    let assets = CryoAssets::builtin().expect("assets");
    let probes = [probe_along_s("littrup2009_2p4mm", 0.2, -0.1, 20.0)];
    let run = |a: &CryoAssets| {
        compute_cryo(
            &probes,
            &freeze(180.0, 12.0, false),
            block("gel", 37.0),
            a,
            &JobCtx::default(),
        )
        .expect("run")
    };
    let gas_c = assets
        .catalog
        .get("littrup2009_2p4mm")
        .and_then(|m| m.cryo_boundary.as_ref())
        .and_then(|b| b.gas_side.as_ref())
        .map(|g| g.gas_temperature_c.value)
        .expect("gas side");
    // The fixed surface: the catalog without a gas side.
    let mut fixed = assets.clone();
    for m in &mut fixed.catalog.probes {
        if let Some(b) = m.cryo_boundary.as_mut() {
            b.gas_side = None;
            b.freeze_surface_temperature_c = Some(ablaplan::plan::Sourced {
                value: gas_c,
                uncertainty: None,
                source: "test".into(),
                confirmed: false,
                note: None,
            });
        }
    }
    let dirichlet = run(&fixed);
    let stiff = run(&with_probe_params(&assets, "littrup2009_2p4mm", 1.0e7, None));
    let weak = run(&with_probe_params(&assets, "littrup2009_2p4mm", 200.0, None));
    let (rd, rs, rw) = (
        radius_mm(&dirichlet, 0.0),
        radius_mm(&stiff, 0.0),
        radius_mm(&weak, 0.0),
    );
    eprintln!(
        "0 °C radius: fixed {rd:.2}, h = 1e7 {rs:.2}, h = 200 {rw:.2} mm; walls {:.1} / {:.1} °C",
        mean_wall_c(&stiff, 0),
        mean_wall_c(&weak, 0)
    );
    assert!(
        (rd - rs).abs() < 0.1,
        "h → ∞ must reach the fixed surface: {rd} vs {rs}"
    );
    assert!(rw < rd - 2.0, "a weak gas side must freeze less: {rw} vs {rd}");
    let w = &weak.wall_temperature[0];
    assert!(w.len() > 5, "one sample per step: {}", w.len());
    for s in w.iter().skip(1) {
        assert!(
            s.wall_c > gas_c && s.wall_c < 37.0 && s.wall_min_c <= s.wall_c && s.wall_c <= s.wall_max_c,
            "{s:?}"
        );
        assert!(s.cooling_power_w > 0.0, "{s:?}");
    }
    assert!(
        (mean_wall_c(&stiff, 0) - gas_c).abs() < 2.0,
        "{}",
        mean_wall_c(&stiff, 0)
    );
    assert!(mean_wall_c(&weak, 0) < 0.0 && mean_wall_c(&weak, 0) > mean_wall_c(&stiff, 0) + 100.0);
    // The load falls as the ice grows: the power after a minute is above the power at the end.
    let at_60 = w.iter().find(|s| s.time_s >= 60.0).expect("a minute");
    assert!(
        w[w.len() - 1].cooling_power_w < at_60.cooling_power_w,
        "{at_60:?} … {:?}",
        w[w.len() - 1]
    );
    // The probe metal in the snapshots shows the wall, not the gas.
    let t_metal = weak
        .temperature_at(weak.last_snapshot(), &PatientPos::new(0.2, -0.1, 0.0))
        .expect("grid");
    assert!(f64::from(t_metal) > gas_c + 20.0, "metal shows {t_metal} °C");
}

#[test]
fn wall_power_integrates_to_the_probe_heat_in_a_closed_block() {
    // Energy through the convective wall: the heat the tissue lost (enthalpy) equals the probe's
    // heat (1 %, issue 5), and the sampled cooling power integrates to it (trapezoid over the
    // step samples: 3 %). h = 1000 W/m²·K, where the wall sits well above the gas (the calibrated
    // 17G h puts it near the gas temperature, which the last check below could not tell apart).
    let assets = with_probe_params(&CryoAssets::builtin().expect("assets"), "iceseed", 1000.0, None);
    let probes = [probe_along_s("iceseed", 0.3, -0.2, 20.0)];
    let r = compute_cryo(
        &probes,
        &freeze(300.0, 40.0, false),
        CryoTissueSource::Phantom {
            class_id: "gel",
            centre_lps: PatientPos::origin(),
            size_mm: [36.0, 36.0, 46.0],
            temperature_c: 37.0,
        },
        &assets,
        &JobCtx::default(),
    )
    .expect("closed block");
    let removed = r.heat_extracted_j();
    let d_h = r.final_enthalpy_j - r.initial_enthalpy_j;
    let w = &r.wall_temperature[0];
    // After the switch-on transient (the first minute, sampled once per 1–15 s step), the sampled
    // power integrates to the heat carried through the solver's stages (the wall balance and the
    // conservative stage recursion agree).
    let late: Vec<_> = w.iter().filter(|s| s.time_s >= 60.0).collect();
    let integral: f64 = late
        .windows(2)
        .map(|p| 0.5 * (p[0].cooling_power_w + p[1].cooling_power_w) * (p[1].time_s - p[0].time_s))
        .sum();
    let carried = late.last().expect("late").heat_extracted_j - late[0].heat_extracted_j;
    assert!((w.last().expect("end").heat_extracted_j - removed).abs() < 1e-6 * removed);
    eprintln!(
        "closed block: removed {removed:.0} J, enthalpy change {d_h:.0} J, ∫ power after 60 s {integral:.0} J vs {carried:.0} J, wall {:.1} °C",
        mean_wall_c(&r, 0)
    );
    assert!(removed > 1000.0);
    assert!((removed + d_h).abs() / removed < 0.01);
    assert!(
        (integral - carried).abs() / carried < 0.02,
        "{integral} vs {carried}"
    );
    // The iceseed has a gas side: its wall is warmer than the gas.
    assert!(mean_wall_c(&r, 0) > r.probes[0].freeze_surface_c + 5.0);
}

#[test]
fn neighbours_share_the_load_and_their_walls_get_colder() {
    // Two 17G probes 12 mm apart in 37 °C gel for 8 min against one: once the ice merges each
    // probe's load falls, so its wall is colder and it draws less power than a lone probe. At
    // h = 1000 W/m²·K, where the wall depends on the load (near the calibrated 17G h the wall is
    // pinned at the gas temperature whatever the load).
    let assets = with_probe_params(&CryoAssets::builtin().expect("assets"), "icesphere", 1000.0, None);
    let one = compute_cryo(
        &[probe_along_s("icesphere", 0.0, 0.0, 20.0)],
        &freeze(480.0, 15.0, false),
        block("gel", 37.0),
        &assets,
        &JobCtx::default(),
    )
    .expect("one");
    let two = compute_cryo(
        &[
            probe_along_s("icesphere", -6.0, 0.0, 20.0),
            probe_along_s("icesphere", 6.0, 0.0, 20.0),
        ],
        &freeze(480.0, 15.0, false),
        block("gel", 37.0),
        &assets,
        &JobCtx::default(),
    )
    .expect("two");
    let p = |r: &CryoResult, i: usize| r.wall_temperature[i].last().expect("sample").cooling_power_w;
    eprintln!(
        "wall: one probe {:.1} °C {:.1} W; two probes {:.1} / {:.1} °C {:.1} W",
        mean_wall_c(&one, 0),
        p(&one, 0),
        mean_wall_c(&two, 0),
        mean_wall_c(&two, 1),
        p(&two, 0)
    );
    assert!(mean_wall_c(&two, 0) < mean_wall_c(&one, 0) - 1.0);
    assert!(
        (mean_wall_c(&two, 0) - mean_wall_c(&two, 1)).abs() < 1.0,
        "symmetric pair"
    );
    assert!(p(&two, 0) < p(&one, 0));
}

#[test]
fn the_calibration_record_is_what_the_model_gives() {
    // Every calibrated model: the stored values lie inside their ranges and the band contains
    // them; rerunning its calibration case at the stored values gives the recorded sizes and
    // residuals (the record is not hand-edited); the models sharing the needle carry the same h.
    // (The full refit: `cargo run --release -- calibrate cryo`.)
    let assets = CryoAssets::builtin().expect("assets");
    for spec in calibration_set() {
        let m = assets.catalog.get(spec.model_id).expect("model");
        let b = m.cryo_boundary.as_ref().expect("boundary");
        let g = b.gas_side.as_ref().expect("gas side");
        let cal = b.calibration.as_ref().expect("calibrated");
        let h = &g.h_w_per_m2_k;
        let (lo, hi) = h.band();
        assert!(
            h.min <= lo && lo <= h.value && h.value <= hi && hi <= h.max,
            "{}: {h:?}",
            spec.model_id
        );
        assert_eq!(cal.case_file, spec.case_file);
        if spec.fit_active_length {
            let l = m.active_length_mm.as_ref().expect("length").value;
            let (a, z) = spec.active_length_range_mm;
            assert!((a..=z).contains(&l), "{}: active length {l}", spec.model_id);
        }
        let case = PhantomCase::load(&root().join(spec.case_file)).expect("case");
        let (_, sizes) = case
            .run(
                &assets,
                spec.model_id,
                None,
                Some(cal.spacing_mm),
                &JobCtx::default(),
            )
            .expect("run");
        assert_eq!(cal.targets.len(), spec.targets.len(), "{}", spec.model_id);
        for (t, target) in cal.targets.iter().zip(&spec.targets) {
            assert_eq!(t.quantity, target.measure.label());
            let got = target.measure.of(&sizes);
            eprintln!(
                "{}: {} model {got:.2} mm (record {:.2}), published {} ± {}",
                spec.model_id, t.quantity, t.model_mm, t.published_mm, t.tolerance_mm
            );
            assert!(
                (got - t.model_mm).abs() < 0.01,
                "{}: {got} vs record {}",
                t.quantity,
                t.model_mm
            );
            assert!((t.residual_mm - (t.model_mm - t.published_mm)).abs() < 1e-9);
            if cal.reached {
                assert!(t.residual_mm.abs() <= t.tolerance_mm + 1e-9, "{t:?}");
            }
        }
        for other in &spec.shares_h_with {
            let o = assets
                .catalog
                .get(other)
                .and_then(|m| m.cryo_boundary.as_ref())
                .and_then(|b| b.gas_side.as_ref())
                .expect("shared");
            assert_eq!(o.h_w_per_m2_k.value, h.value, "{other}");
            assert_eq!(o.h_w_per_m2_k.band(), h.band(), "{other}");
        }
    }
    // Every cryo model has a gas side inside the physical range, and is calibrated (directly or
    // through its needle).
    for m in assets.catalog.of_modality(Modality::Cryo) {
        let b = m.cryo_boundary.as_ref().expect("boundary");
        assert!(b.gas_side.is_some() && b.calibration.is_some(), "{}", m.id);
    }
}

/// C2 / C3 case sizes of a band surface (the same measures as the calibration).
fn band_sizes(r: &CryoResult, probes: &[Probe], s: Surface) -> CaseSizes {
    let band = r.band.as_ref().expect("band");
    CaseSizes::of_masks(r, probes, band.lethal.surface(s), band.iceball.surface(s)).expect("sizes")
}

#[test]
fn the_coarse_band_matches_fine_extreme_runs() {
    // The band's extremes come from 2 mm runs added as a difference to the 1 mm nominal field.
    // Against the same extremes run on the 1 mm grid: the outer −20 °C and inner −40 °C
    // surfaces' diameters agree within 1.5 mm (one and a half nodes).
    let assets = CryoAssets::builtin().expect("assets");
    let probes = [probe_along_s("littrup2009_2p4mm", 0.0, 0.0, 20.0)];
    let settings = freeze(300.0, 14.0, true);
    let r = compute_cryo(
        &probes,
        &settings,
        block("agar", 39.0),
        &assets,
        &JobCtx::default(),
    )
    .expect("run");
    let band = r.band.as_ref().expect("band");
    let h = assets
        .catalog
        .get("littrup2009_2p4mm")
        .and_then(|m| m.cryo_boundary.as_ref())
        .and_then(|b| b.gas_side.as_ref())
        .map(|g| g.h_w_per_m2_k.band())
        .expect("h");
    // Diameters of the masks' cross-sections at the middle of the active length (equivalent
    // circles, the C2 measure): node extents of one probe step by two nodes at once (the zone is
    // symmetric about a node), so they could not resolve the 1.5 mm this test allows.
    let (centre, normal) = active_mid_plane(&probes).expect("plane");
    let diameter = |res: &CryoResult, mask: &[bool]| {
        equivalent_diameter_mm(res.mask_section_mm2(mask, &centre, &normal))
    };
    let fine_at = |hv: f64, iso: f64| {
        let a = with_probe_params(&assets, "littrup2009_2p4mm", hv, None);
        let f = compute_cryo(
            &probes,
            &freeze(300.0, 14.0, false),
            block("agar", 39.0),
            &a,
            &JobCtx::default(),
        )
        .expect("fine");
        diameter(&f, &f.reached_mask(f.last_snapshot(), iso))
    };
    let out_band = diameter(&r, band.lethal.surface(Surface::Outer));
    let in_band = diameter(&r, band.lethal.surface(Surface::Inner));
    let (out_fine, in_fine) = (fine_at(h.1, -20.0), fine_at(h.0, -40.0));
    eprintln!(
        "band outer {out_band:.1} vs fine {out_fine:.1} mm; inner {in_band:.1} vs fine {in_fine:.1} mm"
    );
    assert!((out_band - out_fine).abs() <= 1.5);
    assert!((in_band - in_fine).abs() <= 1.5);
    // Nested and strictly wider than the nominal on the outside.
    let v = |s| band.lethal.volume_ml(s);
    assert!(v(Surface::Inner) < v(Surface::Nominal) && v(Surface::Nominal) < v(Surface::Outer));
    assert!(band.iceball.volume_ml(Surface::Outer) > band.iceball.volume_ml(Surface::Nominal));
    // Agar has no perfusion: the parameters are the lethal isotherm and h.
    let names: Vec<&str> = band.lethal.parameters.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(band.lethal.parameters.iter().all(|p| !p.source.is_empty()));
}

#[test]
fn perfusion_ranges_widen_the_band_in_tissue() {
    // In soft tissue the perfusion range (assets/tissues_cryo.json) is a band parameter: least
    // favourable = the highest perfusion. Perfusion alone (h held at its value) must move the
    // surfaces.
    let mut assets = CryoAssets::builtin().expect("assets");
    for m in &mut assets.catalog.probes {
        if let Some(g) = m.cryo_boundary.as_mut().and_then(|b| b.gas_side.as_mut()) {
            g.h_w_per_m2_k.band_min = Some(g.h_w_per_m2_k.value);
            g.h_w_per_m2_k.band_max = Some(g.h_w_per_m2_k.value);
        }
    }
    let probes = [probe_along_s("iceseed", 0.0, 0.0, 20.0)];
    let r = compute_cryo(
        &probes,
        &freeze(300.0, 12.0, true),
        block("soft_tissue", 37.0),
        &assets,
        &JobCtx::default(),
    )
    .expect("run");
    let band = r.band.as_ref().expect("band");
    let perf = band
        .iceball
        .parameters
        .iter()
        .find(|p| p.name.starts_with("perfusion"))
        .expect("perfusion parameter");
    assert!(perf.inner > perf.nominal && perf.outer < perf.nominal, "{perf:?}");
    let v = |s| band.iceball.volume_ml(s);
    eprintln!(
        "soft tissue 0 °C: {:.2} / {:.2} / {:.2} mL",
        v(Surface::Inner),
        v(Surface::Nominal),
        v(Surface::Outer)
    );
    assert!(v(Surface::Inner) < v(Surface::Nominal) && v(Surface::Nominal) < v(Surface::Outer));
}

#[test]
fn c3_iceball_and_band() {
    // C3 (calibration case of the 17G needles): the 0 °C iceball at 10 min within 37 ± 4 × 32 ± 3
    // mm when the calibration reached it, and the published sizes inside the band.
    let assets = CryoAssets::builtin().expect("assets");
    let case = PhantomCase::load(&root().join("assets/cases/c3_icesphere_gel_10min.json")).expect("case");
    let mut settings = case.case.cryo_settings().settings();
    settings.model.band = true;
    let r = compute_cryo(
        &case.case.probes,
        &settings,
        CryoTissueSource::Phantom {
            class_id: &case.tissue_class,
            centre_lps: case.centre_lps,
            size_mm: case.size_mm,
            temperature_c: case.temperature_c,
        },
        &assets,
        &JobCtx::default(),
    )
    .expect("C3");
    let nominal = CaseSizes::of(&r, &case.case.probes).expect("sizes");
    let inner = band_sizes(&r, &case.case.probes, Surface::Inner);
    let outer = band_sizes(&r, &case.case.probes, Surface::Outer);
    eprintln!(
        "C3 0 °C: {:.1} × {:.1} mm (band {:.1}–{:.1} × {:.1}–{:.1}) vs 37 ± 4 × 32 ± 3",
        nominal.iceball_length_mm,
        nominal.iceball_width_mm,
        inner.iceball_length_mm,
        outer.iceball_length_mm,
        inner.iceball_width_mm,
        outer.iceball_width_mm
    );
    assert!((nominal.iceball_length_mm - 37.0).abs() <= 4.0);
    assert!((nominal.iceball_width_mm - 32.0).abs() <= 3.0);
    assert!(inner.iceball_length_mm <= 37.0 && 37.0 <= outer.iceball_length_mm);
    assert!(
        inner.iceball_width_mm <= nominal.iceball_width_mm
            && nominal.iceball_width_mm <= outer.iceball_width_mm
    );
    // The published width lies inside the band unless the calibration found it out of reach (h
    // at the top of its physical range with the gas at the argon floor): then the record says
    // so and the band's outer width is the most the needle gives.
    let cal = assets
        .catalog
        .get("icesphere")
        .and_then(|m| m.cryo_boundary.as_ref())
        .and_then(|b| b.calibration.as_ref())
        .expect("calibrated");
    let out_of_reach = cal
        .note
        .as_deref()
        .is_some_and(|n| n.contains("not reached inside the h range"));
    if out_of_reach {
        assert!(
            outer.iceball_width_mm < 32.0,
            "the record says 32 mm is out of reach: {outer:?}"
        );
    } else {
        assert!(inner.iceball_width_mm <= 32.0 && 32.0 <= outer.iceball_width_mm);
    }
}

#[test]
fn h_profile_and_heat_exchange_region_shape_the_iceball() {
    // One 17G probe along +S (tip below), h = 500 W/m²·K (where the wall depends on h), 4 min in
    // 37 °C gel, 20 mm active length. A profile
    // with h high at the tip and low at the proximal end moves the ice towards the tip; a shaft
    // heat-exchange region lengthens it towards the entry and leaves the tip side alone.
    let base = CryoAssets::builtin().expect("assets");
    let probes = [probe_along_s("iceseed", 0.0, 0.0, 20.0)];
    let run = |edit: &dyn Fn(&mut ablaplan::plan::catalog::GasSide)| {
        let mut a = with_probe_params(&base, "iceseed", 500.0, None);
        for m in &mut a.catalog.probes {
            if let Some(g) = m.cryo_boundary.as_mut().and_then(|b| b.gas_side.as_mut()) {
                edit(g);
            }
        }
        let r = compute_cryo(
            &probes,
            &freeze(240.0, 14.0, false),
            block("gel", 37.0),
            &a,
            &JobCtx::default(),
        )
        .expect("run");
        let s = r.last_snapshot();
        let c = PatientPos::origin();
        let up = isotherm_reach_mm(&r.grid, &r.snapshots[s], 0.0, &c, &Vector3::z()).expect("grid");
        let down = isotherm_reach_mm(&r.grid, &r.snapshots[s], 0.0, &c, &-Vector3::z()).expect("grid");
        (down, up)
    };
    let (tip0, entry0) = run(&|_| {});
    let (tip1, entry1) = run(&|g| g.h_profile.points = vec![[0.0, 1.8], [1.0, 0.2]]);
    let (tip2, entry2) = run(&|g| {
        g.heat_exchange_length_mm.value = 10.0;
        g.heat_exchange_relative_h.value = 1.0;
    });
    eprintln!(
        "0 °C reach tip / entry side: uniform {tip0:.1} / {entry0:.1}, tip-heavy profile {tip1:.1} / {entry1:.1}, heat-exchange region {tip2:.1} / {entry2:.1} mm"
    );
    assert!((tip0 - entry0).abs() < 1.0, "uniform h: symmetric");
    // (Frozen tissue conducts along the probe too, which evens the ice out: 1.5 mm of asymmetry.)
    assert!(
        tip1 - entry1 > (tip0 - entry0) + 1.5,
        "a tip-heavy profile moves the ice to the tip"
    );
    assert!(
        entry2 > entry0 + 2.0,
        "the heat-exchange region freezes along the shaft"
    );
    assert!((tip2 - tip0).abs() < 0.5, "… and leaves the tip side");
}
