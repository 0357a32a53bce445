//! Exports from the GUI: the active view and the whole layout at 2×, and the tumour-board slide
//! (IRE and cryo), written by the background export job as PNG files of the expected size.

use ablaplan::app::{Command, NoticeLevel, StartupOptions};
use ablaplan::geometry::PatientPos;
use ablaplan::volume::ViewKind;

use crate::common::{add_electrode_pair, app_with, coarse_ire_model, run};

#[test]
fn view_and_board_slide_export_to_png() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app_with(StartupOptions::default());
    coarse_ire_model(&mut h);
    add_electrode_pair(&mut h, PatientPos::new(30.0, 10.0, 0.0));
    run(&mut h, Command::SetActiveView(ViewKind::Axial));
    let view = dir.path().join("view.png");
    let slide = dir.path().join("slide.png");
    run(&mut h, Command::ExportViewTo(view.clone()));
    run(&mut h, Command::ExportSlideTo(slide.clone()));
    let errors: Vec<_> = h
        .state()
        .notices()
        .iter()
        .filter(|n| n.level == NoticeLevel::Error)
        .map(|n| n.text.clone())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let v = image::open(&view).unwrap();
    let m = h.state().volume().unwrap().view_mapping(ViewKind::Axial);
    // 2× (the default scale) of the axial image: square 0.8 mm pixels, so exactly twice its size.
    assert_eq!(
        (v.width() as usize, v.height() as usize),
        (2 * m.width, 2 * m.height)
    );
    let layout = dir.path().join("layout.png");
    run(&mut h, Command::ExportLayoutTo(layout.clone()));
    let l = image::open(&layout).unwrap();
    assert_eq!(
        (l.width(), l.height()),
        (1920, 1080),
        "960 × 540 at the default 2×"
    );
    let s = image::open(&slide).unwrap();
    assert_eq!((s.width(), s.height()), (1920, 1080));
}

#[test]
fn cryo_board_slide_exports_from_the_gui() {
    use ablaplan::physics::cryo::model::CryoSettings;
    use ablaplan::plan::protocol::CryoProtocol;
    let dir = tempfile::tempdir().unwrap();
    let mut h = app_with(StartupOptions::default());
    // A cryo plan: the IceSphere on the probe tool, a short single freeze on a 2 mm grid (the
    // model's accuracy is tested elsewhere; this keeps the job light), two probes.
    run(&mut h, Command::SetProbeModel("icesphere".into()));
    let mut s = CryoSettings {
        protocol: CryoProtocol::freeze_only(180.0),
        ..CryoSettings::default()
    };
    s.model.spacing_mm = 2.0;
    run(
        &mut h,
        Command::SetCryoSettings {
            settings: s,
            live: false,
        },
    );
    // Before the iceball exists the export says why instead of writing a slide.
    let early = dir.path().join("early.png");
    run(&mut h, Command::ExportSlideTo(early.clone()));
    assert!(!early.exists());
    assert!(
        h.state()
            .notices()
            .iter()
            .any(|n| n.level == NoticeLevel::Warning && n.text.contains("iceball"))
    );
    // Around the demo's target.
    let centre = PatientPos::from(ablaplan::demo::demo_anatomy().node.center_lps);
    for dx in [-7.5, 7.5] {
        let tip = centre + nalgebra::Vector3::new(dx, 0.0, -12.5);
        run(
            &mut h,
            Command::AddProbe {
                tip_lps: tip,
                entry_lps: tip + nalgebra::Vector3::new(0.0, 0.0, 110.0),
            },
        );
    }
    assert!(h.state().is_cryo_plan());
    assert!(h.state().cryo_result().is_some(), "the cryo model finished");
    let slide = dir.path().join("cryo_slide.png");
    let view = dir.path().join("cryo_view.png");
    run(&mut h, Command::ExportSlideTo(slide.clone()));
    run(&mut h, Command::ExportViewTo(view.clone()));
    let errors: Vec<_> = h
        .state()
        .notices()
        .iter()
        .filter(|n| n.level == NoticeLevel::Error)
        .map(|n| n.text.clone())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let img = image::open(&slide).unwrap().to_rgba8();
    assert_eq!(img.dimensions(), (1920, 1080));
    // The lethal zone's blue fill is in the views of the slide.
    let blue = img
        .pixels()
        .filter(|p| i32::from(p.0[2]) > i32::from(p.0[0]) + 50 && p.0[2] > p.0[1])
        .count();
    assert!(blue > 100, "{blue} blue pixels");
    assert!(image::open(&view).is_ok());
}

/// File → Export to DICOM… on the demo with an IRE zone: SEG, RTSTRUCT and the Secondary
/// Captures of the board slide and the active view land in the chosen folder, from the job.
#[test]
fn plan_exports_to_dicom_from_the_gui() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app_with(StartupOptions::default());
    coarse_ire_model(&mut h);
    // Inside the demo CT (its slices run from z = −328 to −70 mm).
    add_electrode_pair(&mut h, PatientPos::new(30.0, 10.0, -200.0));
    crate::common::settle_jobs(&mut h);
    run(&mut h, Command::ExportDicomTo(dir.path().to_path_buf()));
    let errors: Vec<_> = h
        .state()
        .notices()
        .iter()
        .filter(|n| n.level == NoticeLevel::Error)
        .map(|n| n.text.clone())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let count = |p: &str| names.iter().filter(|n| n.starts_with(p)).count();
    assert_eq!(
        (
            count("SEG_"),
            count("RTSTRUCT_"),
            count("SC_01_"),
            count("SC_02_")
        ),
        (1, 1, 1, 1),
        "{names:?}"
    );
    // The SEG holds the demo's structures and the IRE zone.
    let seg = dir
        .path()
        .join(names.iter().find(|n| n.starts_with("SEG_")).unwrap());
    let v = h.state().volume().unwrap().clone();
    let ids = ablaplan::dicom::SeriesIds {
        frame_of_reference_uid: v.meta.frame_of_reference_uid.clone(),
        series_instance_uid: v.meta.series_instance_uid.clone(),
        sop_instance_uids: Vec::new(),
    };
    let r = ablaplan::dicom::import_seg(&seg, &v.geometry, &ids, &Default::default()).unwrap();
    let seg_names: Vec<&str> = r.structures.iter().map(|s| s.name.as_str()).collect();
    assert!(
        seg_names.iter().any(|n| n.starts_with("IRE zone")),
        "{seg_names:?}"
    );
    assert!(r.structures.len() > 1);
}
