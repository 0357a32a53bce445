//! Exports from the GUI: the active view and the whole layout at 2×, and the tumour-board slide, written by the
//! background export job as PNG files of the expected size.

use std::time::{Duration, Instant};

use ablaplan::app::settings::Settings;
use ablaplan::app::{AblaApp, Command, NoticeLevel, StartupOptions};
use ablaplan::geometry::PatientPos;
use ablaplan::volume::ViewKind;
use eframe::egui;
use egui_kittest::Harness;

fn settle(h: &mut Harness<'static, AblaApp>) {
    let start = Instant::now();
    loop {
        h.step();
        if !h.state().is_busy() && !h.state().ire_running() {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(240), "jobs did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
    h.run_steps(3);
}

fn run(h: &mut Harness<'static, AblaApp>, cmd: Command) {
    h.state_mut().push(cmd);
    h.run_steps(2);
    settle(h);
}

#[test]
fn view_and_board_slide_export_to_png() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|cc| {
            AblaApp::with_settings(
                cc.egui_ctx.clone(),
                Settings::default(),
                StartupOptions::default(),
            )
        });
    settle(&mut h);
    let opts = ablaplan::physics::ire::model::IreModelOptions {
        spacing_mm: 1.0,
        ..Default::default()
    };
    run(&mut h, Command::SetModelOptions(opts));
    for dx in [-7.5, 7.5] {
        let tip = PatientPos::new(30.0 + dx, 10.0, -10.0);
        run(
            &mut h,
            Command::AddProbe {
                tip_lps: tip,
                entry_lps: tip + nalgebra::Vector3::new(0.0, 0.0, 120.0),
            },
        );
    }
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
