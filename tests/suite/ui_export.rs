//! Exports from the GUI: the active view and the whole layout at 2×, and the tumour-board slide, written by the
//! background export job as PNG files of the expected size.

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
