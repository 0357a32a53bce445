//! The cryo plan model: protocol and case parsing, the CLI on shipped cryo cases, the preview,
//! the probe calibration, snapshots and the API the GUI uses.

use std::path::PathBuf;
use std::process::Command;

use ablaplan::cli::{ComputeOverrides, compute_cryo_case, is_cryo_case};
use ablaplan::geometry::PatientPos;
use ablaplan::jobs::JobCtx;
use ablaplan::physics::cryo::model::{CryoAssets, CryoError, CryoSettings, compute_cryo, iceball_axes};
use ablaplan::physics::cryo::preview::preview_cryo;
use ablaplan::physics::cryo::tissue::CryoTissueSource;
use ablaplan::plan::case::{CaseError, CaseFile, load_case};
use ablaplan::plan::catalog::{Modality, builtin_catalog};
use ablaplan::plan::probe::Probe;
use ablaplan::plan::protocol::{CryoProtocol, PhaseKind, ProbeDuty};
use nalgebra::Vector3;

const CRYO_CASES: [&str; 5] = [
    "c2_littrup_1_probes.json",
    "c2_littrup_2_probes.json",
    "c2_littrup_3_probes.json",
    "c2_littrup_4_probes.json",
    "c3_icesphere_gel_10min.json",
];

fn shipped(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("assets/cases")
        .join(name)
}

fn parse(text: &str) -> Result<CaseFile, CaseError> {
    let case = CaseFile::from_json(text, "t.json")?;
    let tissues = ablaplan::plan::tissue_params::builtin_tissue_params().expect("tissues");
    let catalog = builtin_catalog().expect("catalog");
    case.validate("t.json", &tissues, &catalog)?;
    Ok(case)
}

fn c3_text() -> String {
    std::fs::read_to_string(shipped("c3_icesphere_gel_10min.json")).expect("c3")
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

fn gel37() -> CryoTissueSource<'static> {
    CryoTissueSource::Phantom {
        class_id: "gel",
        centre_lps: PatientPos::origin(),
        size_mm: [200.0; 3],
        temperature_c: 37.0,
    }
}

#[test]
fn shipped_cryo_cases_parse_as_cryo_and_are_documented() {
    let readme = std::fs::read_to_string(shipped("README.md")).expect("README");
    for name in CRYO_CASES {
        let case = load_case(&shipped(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(case.modality(), Modality::Cryo, "{name}");
        assert!(is_cryo_case(&shipped(name)), "{name}");
        assert!(
            readme.contains(name),
            "{name} is not documented in assets/cases/README.md"
        );
    }
    // The IRE cases stay IRE (modality inferred from the probes).
    assert!(!is_cryo_case(&shipped("v3_ben_david_liver.json")));
    let c2 = load_case(&shipped("c2_littrup_3_probes.json")).expect("c2");
    let cryo = c2.cryo_settings();
    assert_eq!(cryo.phantom_temperature_c, 39.0);
    assert_eq!(cryo.lethal_isotherm_c, -30.0);
    assert_eq!(cryo.protocol.total_s(), 900.0);
    assert_eq!(c2.probes.len(), 3);
    // 2 cm spacing.
    let d = (c2.probes[1].tip_lps - c2.probes[0].tip_lps).norm();
    assert!((d - 20.0).abs() < 1e-3, "{d}");
}

#[test]
fn modality_is_inferred_and_a_cryo_section_defaults() {
    // Without "modality" and "cryo": inferred from the IceSphere, default protocol and settings.
    let text =
        c3_text()
            .replacen("\"modality\": \"cryo\",", "", 1)
            .replacen("\"cryo\": {", "\"notcryo\": {", 1);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let mut obj = v.as_object().expect("object").clone();
    obj.remove("notcryo");
    let text = serde_json::to_string(&obj).expect("text");
    let case = parse(&text).expect("defaults");
    assert_eq!(case.modality, None);
    assert_eq!(case.modality(), Modality::Cryo);
    let cryo = case.cryo_settings();
    assert_eq!(cryo.protocol, CryoProtocol::double_freeze());
    assert_eq!(cryo.lethal_isotherm_c, -40.0);
    assert_eq!(cryo.phantom_temperature_c, 37.0);
}

#[test]
fn cryo_case_errors_name_the_field() {
    let good = c3_text();
    let cases = [
        (
            good.replacen("\"duration_s\": 600.0", "\"duration_s\": -5.0", 1),
            "cryo.protocol.phases[0].duration_s",
        ),
        (
            good.replacen("\"kind\": \"freeze\"", "\"kind\": \"freze\"", 1),
            "cryo.protocol.phases[0].kind",
        ),
        (
            good.replacen("\"duration_s\": 600.0", "\"duration_s\": 600.0, \"dutty\": 1", 1),
            "cryo.protocol.phases[0].dutty",
        ),
        (
            good.replacen(
                "\"duration_s\": 600.0",
                "\"duration_s\": 600.0, \"probe_duty\": [{\"probe\": 3, \"duty\": 0.5}]",
                1,
            ),
            "cryo.protocol.phases[0].probe_duty[0].probe",
        ),
        (
            good.replacen(
                "\"duration_s\": 600.0",
                "\"duration_s\": 600.0, \"probe_duty\": [{\"probe\": 0, \"duty\": 2}]",
                1,
            ),
            "cryo.protocol.phases[0].probe_duty[0].duty",
        ),
        (
            good.replacen("\"spacing_mm\": 1.0", "\"spacing_mm\": 9.0", 1),
            "cryo.model.spacing_mm",
        ),
        (
            good.replacen("\"spacing_mm\": 1.0", "\"spacing_mm\": 1.0, \"spaceing\": 1", 1),
            "cryo.model.spaceing",
        ),
        (
            good.replacen("\"lethal_isotherm_c\": -40.0", "\"lethal_isotherm_c\": -400.0", 1),
            "cryo.lethal_isotherm_c",
        ),
        (
            good.replacen(
                "\"phantom_temperature_c\": 37.0",
                "\"phantom_temperature_c\": 99.0",
                1,
            ),
            "cryo.phantom_temperature_c",
        ),
        (
            good.replacen("\"tissue\": \"gel\"", "\"tissue\": \"jelly\"", 1),
            "source.tissue",
        ),
        (
            good.replacen("\"icesphere\"", "\"nanoknife_19g\"", 1),
            "probes[0].model_id",
        ),
        (
            // The tip 120 mm below the centre of a 200 mm block.
            good.replacen("-6.5", "-120.5", 1),
            "probes[0]",
        ),
    ];
    for (text, field) in cases {
        assert_ne!(text, good, "{field}: the replacement did not apply");
        let err = parse(&text).expect_err(field);
        assert_eq!(err.field(), Some(field), "{err}");
    }
    // An IRE electrode forced to cryo, and a cryoprobe in an IRE case, are refused at the probe.
    let ire = std::fs::read_to_string(shipped("v3_ben_david_liver.json")).expect("v3");
    let forced = ire.replacen(
        "\"schema_version\": 1,",
        "\"schema_version\": 1, \"modality\": \"cryo\",",
        1,
    );
    assert_eq!(
        parse(&forced).expect_err("forced").field(),
        Some("probes[0].model_id")
    );
}

#[test]
fn cryo_case_saves_and_loads_back() {
    let dir = tempfile::tempdir().expect("tmp");
    for name in CRYO_CASES {
        let case = load_case(&shipped(name)).expect(name);
        let path = dir.path().join(name);
        ablaplan::plan::case::save_case(&path, &case).expect("save");
        assert_eq!(load_case(&path).expect("reload"), case, "{name}");
    }
}

#[test]
fn protocol_presets_and_duty_cycles_act_on_the_model() {
    // Two probes 15 mm apart, 2 min freeze, 2 mm grid: probe 1 off shrinks the iceball around
    // it; a 50 % duty removes about half the heat of that probe.
    let assets = CryoAssets::builtin().expect("assets");
    let probes = [
        probe_along_s("iceseed", -7.5, 0.0, 20.0),
        probe_along_s("iceseed", 7.5, 0.0, 20.0),
    ];
    let run = |duty: f64| {
        let mut s = CryoSettings {
            protocol: CryoProtocol::freeze_only(120.0),
            ..CryoSettings::default()
        };
        s.model.spacing_mm = 1.0;
        s.model.margin_mm = 12.0;
        s.protocol.phases[0].probe_duty.push(ProbeDuty { probe: 1, duty });
        compute_cryo(&probes, &s, gel37(), &assets, &JobCtx::default()).expect("run")
    };
    let full = run(1.0);
    let half = run(0.5);
    let off = run(0.0);
    let ratio = half.probe_heat_j[1] / full.probe_heat_j[1];
    eprintln!(
        "duty: heat of probe 2 {:.0} / {:.0} / {:.0} J (1, 0.5, 0)",
        -full.probe_heat_j[1], -half.probe_heat_j[1], -off.probe_heat_j[1]
    );
    assert_eq!(off.probe_heat_j[1], 0.0);
    // On half the time, but a warmer surface when it restarts: between 45 and 75 % of the heat.
    assert!((0.45..0.75).contains(&ratio), "duty 0.5 heat ratio {ratio}");
    let at = |r: &ablaplan::physics::cryo::model::CryoResult| {
        r.temperature_at(r.last_snapshot(), &PatientPos::new(7.5, 3.0, 0.0))
            .expect("in grid")
    };
    assert!(
        at(&full) < at(&half) && at(&half) < at(&off),
        "{} {} {}",
        at(&full),
        at(&half),
        at(&off)
    );
    // Presets.
    let names: Vec<&str> = CryoProtocol::presets().iter().map(|p| p.0).collect();
    assert_eq!(names.len(), 3);
    assert_eq!(
        CryoProtocol::ten_five_ten().phases[1].kind,
        PhaseKind::PassiveThaw
    );
}

#[test]
fn double_freeze_snapshots_scrub_growth_and_thaw() {
    // The default protocol (10 / 9 + 1 / 10 min) on a 2 mm grid: snapshots every 30 s plus the
    // phase boundaries; the iceball grows in the first freeze, shrinks in the thaw, and the
    // lethal zone never shrinks. Sensor curves and plane sampling work at any snapshot.
    let assets = CryoAssets::builtin().expect("assets");
    let probes = [probe_along_s("icesphere", 0.0, 0.0, 25.0)];
    let mut s = CryoSettings::default();
    s.model.spacing_mm = 2.0;
    let r = compute_cryo(&probes, &s, gel37(), &assets, &JobCtx::default()).expect("run");
    assert_eq!(r.snapshot_count(), 61, "{:?}", r.snapshot_times_s);
    assert_eq!(r.snapshot_at(600.0), 20);
    assert_eq!(r.snapshot_at(615.0), 20);
    let axes = iceball_axes(&probes).expect("axes");
    let v0 = |t_s: f64| r.isotherm_size(r.snapshot_at(t_s), 0.0, axes).volume_ml;
    assert!(v0(300.0) < v0(600.0), "grows during the freeze");
    assert!(v0(1200.0) < v0(600.0), "thaws: {} vs {}", v0(1200.0), v0(600.0));
    assert!(v0(1800.0) > v0(600.0) * 0.9, "the second freeze regrows it");
    let lethal = |t_s: f64| r.volume_ml(&r.lethal_mask(r.snapshot_at(t_s)));
    assert!(lethal(1200.0) >= lethal(600.0) && lethal(1800.0) >= lethal(1200.0));
    // A thermocouple 8 mm from the probe: cools, warms in the thaw, cools again.
    let curve = r.sensor_curve(&PatientPos::new(8.0, 0.0, 0.0)).expect("sensor");
    assert_eq!(curve.len(), 61);
    let at = |t: f64| {
        curve
            .iter()
            .find(|(s, _)| (*s - t).abs() < 1e-6)
            .map(|c| c.1)
            .expect("time")
    };
    assert!(
        at(600.0) < 0.0 && at(1200.0) > at(600.0) && at(1800.0) < at(1200.0),
        "{curve:?}"
    );
    assert_eq!(r.sensor_curve(&PatientPos::new(500.0, 0.0, 0.0)), None);
    // Plane sampling (axial plane through the probe, 0.5 mm pixels) and the isotherm fill.
    let (w, h) = (80, 80);
    let origin = PatientPos::new(-20.0, -20.0, 0.0);
    let (u, v) = (Vector3::x(), Vector3::y());
    let temps = r.sample_plane(20, &origin, &u, &v, 0.5, w, h);
    let fill = r.sample_isotherm_plane(20, 0.0, &origin, &u, &v, 0.5, w, h);
    assert!(
        temps[40 * w + 40] < -100.0,
        "the probe is cold: {}",
        temps[40 * w + 40]
    );
    assert!(fill[40 * w + 40] && !fill[0]);
    assert_eq!(temps.len(), w * h);
}

#[test]
fn cancel_stops_the_model() {
    let assets = CryoAssets::builtin().expect("assets");
    let ctx = JobCtx::default();
    ctx.cancel.cancel();
    let probes = [probe_along_s("iceseed", 0.0, 0.0, 20.0)];
    let err = compute_cryo(&probes, &CryoSettings::default(), gel37(), &assets, &ctx).expect_err("cancelled");
    assert_eq!(err, CryoError::Cancelled);
    assert_eq!(
        compute_cryo(
            &[],
            &CryoSettings::default(),
            gel37(),
            &assets,
            &JobCtx::default()
        )
        .expect_err("none"),
        CryoError::NoProbes
    );
}

#[test]
fn preview_combines_catalog_ellipsoids() {
    let assets = CryoAssets::builtin().expect("assets");
    let probes = [
        probe_along_s("icesphere", -7.5, 0.0, 25.0),
        probe_along_s("icesphere", 7.5, 0.0, 25.0),
    ];
    let s = CryoSettings::default();
    let p = preview_cryo(&probes, &s, gel37(), &assets).expect("preview");
    assert!(p.preview);
    assert!(p.description.contains("preview"));
    // IceSphere in gel: the catalog's 0 °C ellipsoid (37 × 32 mm) for each probe.
    let cat: Vec<_> = p.ellipsoids.iter().filter(|e| e.isotherm_c == 0.0).collect();
    assert_eq!(cat.len(), 2);
    assert!(
        cat.iter()
            .all(|e| e.source == "catalog" && e.length_mm == 37.0 && e.width_mm == 32.0)
    );
    // −20 / −40 °C come from the single-probe model and nest inside the 0 °C one.
    let e20 = p.ellipsoids.iter().find(|e| e.isotherm_c == -20.0).expect("−20");
    let e40 = p.ellipsoids.iter().find(|e| e.isotherm_c == -40.0).expect("−40");
    assert_eq!(e20.source, "single-probe model");
    assert!(
        e40.width_mm < e20.width_mm && e20.width_mm < 32.0 + 3.0,
        "{e20:?} {e40:?}"
    );
    // The union: inside either probe's ellipsoid, extents along the pair axis ≈ 15 + 32 mm.
    let axes = iceball_axes(&probes).expect("axes");
    let ext = p.extents_mm(0, axes);
    assert!((ext[1] - 47.0).abs() < 3.0, "{ext:?}");
    assert!(p.contains(0, &PatientPos::new(20.0, 0.0, 0.0)));
    assert!(!p.contains(0, &PatientPos::new(30.0, 0.0, 0.0)));
    let labels = p.sample_plane_labels(
        &PatientPos::new(-30.0, 0.0, 0.0),
        &Vector3::x(),
        &Vector3::z(),
        1.0,
        61,
        1,
    );
    assert!(labels[30] & 1 != 0 && labels[0] == 0);
}

fn number(v: &serde_json::Value, path: &str) -> f64 {
    let mut cur = v;
    for key in path.split('.') {
        cur = match key.parse::<usize>() {
            Ok(i) => &cur[i],
            Err(_) => &cur[key],
        };
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number in {v}"))
}

#[test]
fn cli_compute_json_on_a_shipped_cryo_case() {
    // C3 at 2 mm (fast): the JSON has the isotherms 0, −20, −40 °C and the lethal one with
    // volume and extents along the three axes, the probes, energy and timings.
    let out = Command::new(env!("CARGO_BIN_EXE_ablaplan"))
        .args([
            "compute",
            shipped("c3_icesphere_gel_10min.json").to_str().expect("path"),
            "--json",
            "--spacing-mm",
            "2",
        ])
        .output()
        .expect("run ablaplan");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(v["modality"], "cryo");
    assert_eq!(number(&v, "model.grid.spacing_mm"), 2.0);
    assert_eq!(v["overrides"]["spacing_mm"], 2.0);
    let temps: Vec<f64> = v["isotherms"]
        .as_array()
        .expect("isotherms")
        .iter()
        .map(|z| z["temperature_c"].as_f64().expect("t"))
        .collect();
    assert_eq!(temps, vec![0.0, -20.0, -40.0]);
    for i in 0..3 {
        let vol = number(&v, &format!("isotherms.{i}.volume_ml"));
        let along = number(&v, &format!("isotherms.{i}.extents_mm.probe_axis"));
        let across = number(&v, &format!("isotherms.{i}.extents_mm.pair_axis"));
        let perp = number(&v, &format!("isotherms.{i}.extents_mm.perpendicular"));
        assert!(
            vol > 0.0 && along > across && (across - perp).abs() <= 2.0,
            "{}",
            v["isotherms"][i]
        );
    }
    // The 0 °C iceball of the calibrated IceSphere: 37 × 32 mm within the catalog spread plus
    // the 2 mm grid's node rounding (extents count whole nodes).
    assert!((number(&v, "isotherms.0.extents_mm.pair_axis") - 32.0).abs() <= 3.0 + 2.0);
    assert_eq!(number(&v, "lethal_zone.temperature_c"), -40.0);
    // zone.band: inner ⊆ nominal ⊆ outer for the lethal zone and the 0 °C iceball, the nominal
    // lethal zone the same as lethal_zone, parameters with their sources.
    for z in ["lethal", "iceball_0c"] {
        let vol = |s: &str| number(&v, &format!("zone.band.{z}.{s}.volume_ml"));
        assert!(
            vol("inner") <= vol("nominal") && vol("nominal") <= vol("outer"),
            "{}",
            v["zone"]
        );
        assert!(vol("outer") > vol("inner"), "{z}: the band has width");
        let along = |s: &str| number(&v, &format!("zone.band.{z}.{s}.extents_mm.probe_axis"));
        assert!(along("inner") <= along("outer"));
    }
    assert!(
        (number(&v, "zone.band.lethal.nominal.volume_ml") - number(&v, "lethal_zone.volume_ml")).abs() < 1e-9
    );
    let params = v["zone"]["band"]["lethal"]["parameters"]
        .as_array()
        .expect("parameters");
    assert!(params.iter().any(|p| p["name"] == "lethal isotherm"));
    assert!(
        params
            .iter()
            .any(|p| p["name"].as_str().is_some_and(|n| n.starts_with("gas-side h")))
    );
    for p in params {
        assert!(p["source"].as_str().is_some_and(|s| !s.is_empty()), "{p}");
        assert!(p["inner"].is_number() && p["nominal"].is_number() && p["outer"].is_number());
    }
    assert!(v["probes"][0]["calibrated"].as_bool().expect("bool"));
    assert!(number(&v, "energy.heat_extracted_j") > 0.0);
    assert!(
        number(&v, "solver.elapsed_s") > 0.0
            && number(&v, "solver.total_s") >= number(&v, "solver.elapsed_s")
    );
    // The text form.
    let out = Command::new(env!("CARGO_BIN_EXE_ablaplan"))
        .args([
            "compute",
            shipped("c3_icesphere_gel_10min.json").to_str().expect("path"),
            "--spacing-mm",
            "2",
        ])
        .output()
        .expect("run ablaplan");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        text.contains("   0 °C:") && text.contains("lethal zone") && text.contains("Solver:"),
        "{text}"
    );
    // A bad override names the flag, exit 2.
    let out = Command::new(env!("CARGO_BIN_EXE_ablaplan"))
        .args([
            "compute",
            shipped("c3_icesphere_gel_10min.json").to_str().expect("path"),
            "--spacing-mm",
            "9",
        ])
        .output()
        .expect("run ablaplan");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--spacing-mm"));
    // `--png` on a cryo case writes the cryo board slide: tests/suite/cli_cryo.rs.
}

#[test]
fn compute_cryo_case_in_process() {
    let o = ComputeOverrides {
        spacing_mm: Some(2.0),
        ..ComputeOverrides::default()
    };
    let r = compute_cryo_case(&shipped("c2_littrup_2_probes.json"), &o, &JobCtx::default()).expect("c2");
    assert_eq!(r.model.lethal_isotherm_c, -30.0);
    assert_eq!(r.isotherms.len(), 4, "0, −20, −40 and the lethal −30 °C");
    assert_eq!(r.model.initial_temperature_c, 39.0);
    // The pair axis is L (the probes are 20 mm apart along x).
    assert!((r.axes_lps.pair_axis[0].abs() - 1.0).abs() < 1e-9);
    assert!(r.lethal_zone.extents_mm.pair_axis > r.lethal_zone.extents_mm.perpendicular);
}
