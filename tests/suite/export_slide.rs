//! The 1920 × 1080 board slide: size, content at the text level (findings, "not available",
//! anonymisation), text that renders, the `compute CASE --png` path end to end, and the cryo
//! slide (protocol, iceball per isotherm, legend, provenance, anonymisation).

use ablaplan::demo::demo_volume;
use ablaplan::export::view::identifying_strings;
use ablaplan::export::{
    BoardSlide, Overlay, ProbeOverlay, Provenance, SLIDE_HEIGHT, SLIDE_WIDTH, Severity, SlideTable, TableRow,
    ViewExport, ViewPlane, render_slide,
};
use ablaplan::plan::probe::Probe;
use ablaplan::render::reslice::{ProbePlaneOptions, in_plane_for_probe};
use ablaplan::volume::{ViewKind, Volume};
use nalgebra::Point3;

fn probe() -> Probe {
    Probe {
        model_id: "nanoknife_19g".into(),
        tip_lps: Point3::new(60.0, 10.0, -200.0),
        entry_lps: Point3::new(60.0, -120.0, -200.0),
        exposure_mm: 20.0,
        label: "A".into(),
    }
}

fn slide<'a>(v: &'a Volume, anonymise: bool, findings: Option<Vec<(Severity, String)>>) -> BoardSlide<'a> {
    let p = probe();
    let mut views = Vec::new();
    for (view, slice) in [(ViewKind::Axial, 64), (ViewKind::Coronal, 200)] {
        let mut e = ViewExport::new(v, ViewPlane::Mpr { view, slice });
        e.overlays
            .push(Overlay::Probes(ProbeOverlay::numbered(std::slice::from_ref(&p))));
        e.anonymise = false; // the slide's flag must win
        views.push((view.name().to_string(), e));
    }
    let plane = in_plane_for_probe(&p, &v.geometry, &ProbePlaneOptions::default()).unwrap();
    views.push((
        "Along probe 1".to_string(),
        ViewExport::new(
            v,
            ViewPlane::Oblique {
                plane,
                name: "Along probe 1".into(),
                slab_mm: 0.4,
            },
        ),
    ));
    BoardSlide {
        title: "Case 7: pelvic node".into(),
        subtitle: "IRE — 1 electrode".into(),
        views,
        plan: vec![SlideTable {
            title: "Pairs".into(),
            header: vec!["pair".into(), "voltage".into(), "current".into()],
            rows: vec![
                TableRow {
                    cells: vec!["1–2".into(), "2250 V".into(), "31.0 A".into()],
                    flagged: false,
                },
                TableRow {
                    cells: vec!["1–3".into(), "3000 V".into(), "52.4 A".into()],
                    flagged: true,
                },
            ],
        }],
        findings,
        margin: vec!["Minimal margin 6.2 mm (goal > 5 mm)".into()],
        margin_ok: Some(true),
        provenance: Provenance {
            model: "IRE nonlinear".into(),
            model_version: "test".into(),
            parameter_hash: "0123456789abcdef".into(),
            notes: vec![],
        },
        anonymise,
        patient: Some(&v.meta),
        scene3d: None,
        legend: vec![
            ("Pelvic node".into(), [255, 80, 80]),
            ("Sacral nerve S1".into(), [255, 230, 0]),
        ],
    }
}

fn texts(s: &ablaplan::export::SlideImage) -> Vec<String> {
    s.texts.iter().map(|t| t.text.clone()).collect()
}

#[test]
fn slide_is_full_hd_and_decodes() {
    let v = demo_volume();
    let s = render_slide(&slide(&v, true, None)).unwrap();
    assert_eq!((s.image.width, s.image.height), (SLIDE_WIDTH, SLIDE_HEIGHT));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slide.png");
    s.save_png(&path).unwrap();
    let back = image::open(&path).unwrap().to_rgba8();
    assert_eq!(back.dimensions(), (1920, 1080));
    let t = texts(&s);
    assert!(t.contains(&"Safety analysis not available.".to_string()), "{t:?}");
    for want in [
        "Case 7: pelvic node",
        "52.4 A",
        "Parameter hash: 0123456789abcdef",
        "1",
        "Structures",
        "Pelvic node",
        "Sacral nerve S1",
    ] {
        assert!(t.iter().any(|x| x == want), "{want} missing from {t:?}");
    }
    // Views were drawn into the slide: the CT of the axial panel is not the background.
    let p = s.image.get(24 + 300, 84 + 300).unwrap();
    assert_ne!(p, [18, 20, 24, 255]);
}

#[test]
fn findings_are_listed_worst_first() {
    let v = demo_volume();
    let findings = vec![
        (Severity::Info, "vessel inside the zone".to_string()),
        (Severity::HighRisk, "nerve 0.0 mm from the zone".to_string()),
        (Severity::Caution, "bowel 8 mm".to_string()),
    ];
    let t = texts(&render_slide(&slide(&v, true, Some(findings))).unwrap());
    let pos = |s: &str| t.iter().position(|x| x == s).unwrap();
    assert!(pos("nerve 0.0 mm from the zone") < pos("bowel 8 mm"));
    assert!(pos("bowel 8 mm") < pos("vessel inside the zone"));
    assert!(!t.iter().any(|x| x.contains("not available")));
    let none = texts(&render_slide(&slide(&v, true, Some(vec![]))).unwrap());
    assert!(none.contains(&"No findings.".to_string()));
}

#[test]
fn anonymised_slide_contains_no_identifiers() {
    let v = demo_volume();
    let needles: Vec<String> = identifying_strings(&v.meta)
        .into_iter()
        .map(|s| s.to_lowercase())
        .collect();
    assert!(needles.contains(&"demo-000000-fake".to_string()));
    let hits = |s: &ablaplan::export::SlideImage| -> Vec<String> {
        texts(s)
            .into_iter()
            .filter(|t| needles.iter().any(|n| t.to_lowercase().contains(n.as_str())))
            .collect()
    };
    let anon = render_slide(&slide(&v, true, None)).unwrap();
    assert_eq!(hits(&anon), Vec::<String>::new());
    // Only free text was replaced: the demo's study and series descriptions contain parts of its
    // synthetic patient name ("DEMO", "Synthetic", "Abdomen"), two per view, three views.
    assert_eq!(anon.redacted, 6);
    assert!(texts(&anon).contains(&"Anonymised".to_string()));
    // Not anonymised: the header and the views name the patient (so the check can fail).
    let named = render_slide(&slide(&v, false, None)).unwrap();
    let h = hits(&named);
    assert!(h.iter().any(|t| t.contains("DEMO-000000-FAKE")), "{h:?}");
}

#[test]
fn anonymisation_sees_through_spellings_and_keeps_the_finding() {
    // A patient "Jöhn Döe", ID "MRN-4711", born 1961-02-03, written the ways people write them
    // into probe labels and notes.
    let mut v = demo_volume();
    v.meta.patient_name = "Döe^Jöhn".into();
    v.meta.patient_id = "MRN-4711".into();
    v.meta.patient_birth_date = "19610203".into();
    let spelled = [
        "MRN 4711",
        "mrn4711",
        "03.02.1961",
        "02/03/1961",
        "3 Feb 1961",
        "John Doe",
        "D\u{043e}e",
        "Jo\u{200B}hn",
    ];
    let findings: Vec<(Severity, String)> = spelled
        .iter()
        .map(|s| {
            (
                Severity::HighRisk,
                format!("High risk: nerve 0.8 mm from probe {s}"),
            )
        })
        .collect();
    let anon = render_slide(&slide(&v, true, Some(findings))).unwrap();
    let t = texts(&anon);
    for s in spelled {
        let folded = s.replace('\u{200B}', "").replace('\u{043e}', "o").to_lowercase();
        assert!(
            !t.iter().any(|x| x.to_lowercase().contains(&folded)),
            "{s:?} survived: {t:?}"
        );
    }
    let kept = t
        .iter()
        .filter(|x| x.as_str() == "High risk: nerve 0.8 mm from probe [removed]")
        .count();
    assert_eq!(kept, spelled.len(), "each finding keeps its words: {t:?}");
}

#[test]
fn slide_text_renders() {
    let v = demo_volume();
    let s = render_slide(&slide(&v, true, None)).unwrap();
    let t = s.texts.iter().find(|t| t.text == "Case 7: pelvic node").unwrap();
    let header: [u8; 4] = [30, 33, 39, 255];
    let mut lit = 0;
    for y in t.rect[1] as i64..t.rect[3] as i64 {
        for x in t.rect[0] as i64..t.rect[2] as i64 {
            lit += usize::from(s.image.get(x, y).unwrap() != header);
        }
    }
    assert!(lit > 200, "{lit} drawn pixels in the title box");
}

#[test]
fn compute_writes_the_board_slide() {
    let case =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/cases/safety_nerve_near_zone.json");
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("slide.png");
    let ctx = ablaplan::jobs::JobCtx::default();
    let overrides = ablaplan::cli::ComputeOverrides::default();
    let report = ablaplan::cli::compute_case_png(&case, &overrides, Some(&png), &ctx).unwrap();
    assert!(report.zone.volume_ml > 0.0);
    let back = image::open(&png).unwrap().to_rgba8();
    assert_eq!(back.dimensions(), (1920, 1080));
    // The zone's orange is somewhere in the axial panel.
    let orange = back
        .pixels()
        .filter(|p| p.0[0] > 200 && (100..180).contains(&p.0[1]) && p.0[2] < 80)
        .count();
    assert!(orange > 100, "{orange} orange pixels");
    // An unwritable path is an export error (exit code 1), after the computation.
    let bad = dir.path().join("missing/dir/slide.png");
    let e = ablaplan::cli::compute_case_png(&case, &overrides, Some(&bad), &ctx).unwrap_err();
    assert_eq!(e.exit_code(), 1);
    assert!(e.to_string().contains("board slide"), "{e}");
}

/// Two IceSphere probes 15 mm apart along L around the demo's target on its CT, inserted along
/// S, and a short four-phase protocol in which probe 2 runs at half duty in the first freeze.
fn cryo_on_demo() -> (
    Volume,
    Vec<Probe>,
    ablaplan::physics::cryo::model::CryoSettings,
    ablaplan::physics::cryo::model::CryoResult,
) {
    use ablaplan::physics::cryo::model::{CryoAssets, CryoSettings, compute_cryo};
    use ablaplan::physics::cryo::tissue::CryoTissueSource;
    use ablaplan::plan::protocol::{CryoProtocol, Phase, PhaseKind, ProbeDuty};
    let v = demo_volume();
    let [x, y, z] = ablaplan::demo::demo_anatomy().node.center_lps;
    let probes: Vec<Probe> = [-7.5, 7.5]
        .iter()
        .enumerate()
        .map(|(i, dx)| Probe {
            model_id: "icesphere".into(),
            tip_lps: Point3::new(x + dx, y, z - 12.5),
            entry_lps: Point3::new(x + dx, y, z + 100.0),
            exposure_mm: 25.0,
            label: format!("C{}", i + 1),
        })
        .collect();
    let mut first = Phase::new(PhaseKind::Freeze, 120.0);
    first.probe_duty.push(ProbeDuty { probe: 1, duty: 0.5 });
    let mut s = CryoSettings {
        protocol: CryoProtocol {
            phases: vec![
                first,
                Phase::new(PhaseKind::PassiveThaw, 60.0),
                Phase::new(PhaseKind::ActiveThaw, 30.0),
                Phase::new(PhaseKind::Freeze, 120.0),
            ],
        },
        ..CryoSettings::default()
    };
    s.model.spacing_mm = 2.0;
    let assets = CryoAssets::builtin().unwrap();
    let r = compute_cryo(
        &probes,
        &s,
        CryoTissueSource::Ct {
            volume: &v,
            structures: &[],
        },
        &assets,
        &ablaplan::jobs::JobCtx::default(),
    )
    .unwrap();
    (v, probes, s, r)
}

#[test]
fn cryo_slide_lists_the_protocol_and_iceball_and_hides_the_patient() {
    use ablaplan::export::{Board, BoardZone, board_slide};
    let (v, probes, settings, r) = cryo_on_demo();
    let tissues = ablaplan::physics::cryo::tissue::builtin_cryo_tissues().unwrap();
    let provenance = ablaplan::export::board::cryo_provenance(&r, &settings, &tissues, &probes);
    let board = |anonymise: bool| Board {
        title: "Case 9: cryo".into(),
        volume: &v,
        probes: &probes,
        zone: BoardZone::Cryo {
            result: &r,
            lethal_c: settings.lethal_isotherm_c,
        },
        structures: &[],
        calipers: Vec::new(),
        findings: Some(vec![(Severity::HighRisk, "Stop: nerve in the iceball".into())]),
        margin: Vec::new(),
        margin_ok: None,
        provenance: provenance.clone(),
        window: ablaplan::render::WindowLevel::new(40.0, 400.0),
        anonymise,
        scene3d: None,
    };
    let s = board_slide(&board(true)).unwrap();
    assert_eq!((s.image.width, s.image.height), (SLIDE_WIDTH, SLIDE_HEIGHT));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cryo.png");
    s.save_png(&path).unwrap();
    assert_eq!(image::open(&path).unwrap().to_rgba8().dimensions(), (1920, 1080));
    let t = texts(&s);
    let has = |want: &str| t.iter().any(|x| x == want);
    // The protocol table: one row per phase with its kind and duration, each probe's duty.
    assert!(has("duty 1") && has("duty 2"), "{t:?}");
    for ph in &settings.protocol.phases {
        assert!(has(ph.kind.label()), "{} missing from {t:?}", ph.kind.label());
    }
    for d in ["2 min", "1 min", "0.5 min", "50 %", "off", "on"] {
        assert!(has(d), "{d} missing from {t:?}");
    }
    assert!(has(&format!(
        "Protocol ({:.1} min in all)",
        settings.protocol.total_s() / 60.0
    )));
    // The probes table names the models; the iceball table measures each isotherm at its largest
    // extent (the numbers recomputed here from the result).
    assert!(has("icesphere") && has("C1") && has("C2"), "{t:?}");
    let last = r.last_snapshot();
    for (row, temp_c) in [
        ("0 °C (iceball)", 0.0),
        ("-20 °C", -20.0),
        ("-40 °C (lethal)", -40.0),
    ] {
        assert!(has(row), "{row} missing from {t:?}");
        let ml = format!("{:.1} mL", r.volume_ml(&r.reached_mask(last, temp_c)));
        assert!(has(&ml), "{ml} missing from {t:?}");
    }
    // Which extent is shown is said: in the legend of each view and in the subtitle.
    assert_eq!(
        t.iter()
            .filter(|x| *x == "Lethal ≤ -40 °C (largest extent)")
            .count(),
        3,
        "{t:?}"
    );
    assert!(t.iter().any(|x| x.contains("largest extent over the protocol")));
    assert!(has("— 0 °C iceball") && has("— −20 °C"), "{t:?}");
    assert!(has("Stop: nerve in the iceball"));
    // Three tables do not fit under each other: the third flows into a second column, and no
    // row is cut ("… more row(s)").
    let iceball = s
        .texts
        .iter()
        .find(|x| x.text == "Iceball at its largest extent over the protocol")
        .unwrap();
    let probes_title = s.texts.iter().find(|x| x.text == "Cryoprobes").unwrap();
    assert!(
        iceball.rect[0] > probes_title.rect[0] + 300.0,
        "{:?}",
        iceball.rect
    );
    assert!(
        (iceball.rect[1] - probes_title.rect[1]).abs() < 1.0,
        "both columns start at the top"
    );
    assert!(!t.iter().any(|x| x.contains("more row")), "{t:?}");
    assert!(has(&format!("Parameter hash: {}", provenance.parameter_hash)));
    assert!(provenance.model_version.contains("cryo model"));
    // Anonymised at the render-input level: no name, ID or birth date in any string drawn.
    let needles: Vec<String> = identifying_strings(&v.meta)
        .into_iter()
        .map(|s| s.to_lowercase())
        .collect();
    let hits = |s: &ablaplan::export::SlideImage| -> Vec<String> {
        texts(s)
            .into_iter()
            .filter(|t| needles.iter().any(|n| t.to_lowercase().contains(n.as_str())))
            .collect()
    };
    assert_eq!(hits(&s), Vec::<String>::new());
    let named = board_slide(&board(false)).unwrap();
    assert!(!hits(&named).is_empty(), "the check can fail");
    // The lethal zone's blue is drawn in the axial panel.
    let blue = (84..684)
        .flat_map(|y| (24..624).map(move |x| (x, y)))
        .filter(|&(x, y)| {
            let p = s.image.get(x, y).unwrap();
            i32::from(p[2]) > i32::from(p[0]) + 50 && p[2] > p[1]
        })
        .count();
    assert!(blue > 50, "{blue} blue pixels in the axial panel");
    // The parameter hash follows the protocol.
    let mut other = settings.clone();
    other.protocol.phases[0].duration_s += 60.0;
    let changed = ablaplan::export::board::cryo_provenance(&r, &other, &tissues, &probes);
    assert_eq!(provenance.parameter_hash.len(), 16);
    assert_ne!(provenance.parameter_hash, changed.parameter_hash);
}

#[test]
fn the_thermal_damage_zone_is_outlined_on_the_slide() {
    // The gel heating case (100 × 90 µs): the electro-thermal model finds a thermal damage zone
    // next to the electrodes; the slide outlines it with its own legend line.
    use ablaplan::pipeline::{ComputeOverrides, case_slide, load_case, run_model, safety};
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/cases/gel_ruarus_2018_heating.json");
    let assets = ablaplan::physics::model::ModelAssets::builtin().unwrap();
    let ctx = ablaplan::jobs::JobCtx::default();
    let loaded = load_case(&path, None, &ComputeOverrides::default(), &assets, &ctx).unwrap();
    let result = run_model(&loaded, &assets, &ctx, &mut |_| {}).unwrap();
    let ablaplan::physics::model::ModelResult::Ire(ire) = &result else {
        panic!("an IRE case")
    };
    let damage = ire.thermal_damage_zone().expect("heating on by default");
    assert!(damage.iter().any(|d| *d), "the gel case heats into damage");
    let s = safety(&loaded, &result, &assets);
    let slide = case_slide(&loaded, &result, &s, &assets).unwrap();
    let t = texts(&slide);
    assert!(
        t.iter().any(|x| x.contains("thermal damage (CEM43")),
        "no thermal damage legend: {t:?}"
    );
    // Drawn in its own colour on the axial panel.
    let red = ablaplan::render::palette::THERMAL_DAMAGE_RGB;
    let drawn = slide
        .image
        .pixels
        .chunks_exact(4)
        .filter(|p| p[..3] == red)
        .count();
    assert!(drawn > 20, "{drawn} thermal damage outline pixels");
    // The current rises over the train as the gel warms: the pairs table shows the end of the
    // train's current too, the one the subtitle and the 48 A check use.
    let (first, last) = (ire.pairs[0].current_a, ire.max_current_a());
    assert!(last > first + 0.5, "the gel warms: {first} -> {last} A");
    let cell = format!("{first:.1} A, end {last:.1} A");
    assert!(t.iter().any(|x| x.contains(&cell)), "no {cell:?} in {t:?}");
}
