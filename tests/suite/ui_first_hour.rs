//! A new user's first hour, part 2 (issue 18): saving through the built-in path dialog when the
//! desktop has no file dialog, the recovery prompt saying what it found, cases named after their
//! series and told apart in the library (which lists a save at once), and "Export view as PNG"
//! exporting what the screen shows.

use ablaplan::app::{AblaApp, Command, NoticeLevel, OpenDialog, StartupOptions};
use ablaplan::geometry::PatientPos;
use ablaplan::plan::document::RecoveryStore;
use ablaplan::volume::ViewKind;
use eframe::egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use crate::common::{add_electrode_pair, app_with, coarse_ire_model, run, settle_jobs};

fn errors(h: &Harness<'static, AblaApp>) -> Vec<String> {
    h.state()
        .notices()
        .iter()
        .filter(|n| n.level == NoticeLevel::Error)
        .map(|n| n.text.clone())
        .collect()
}

/// Replaces the text of the field labelled `label` by `text`, as a user would (select all, type).
fn retype(h: &mut Harness<'static, AblaApp>, label: &str, text: &str) {
    h.get_by_label(label).click();
    h.run_steps(2);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(1);
    h.get_by_label(label).type_text(text);
    h.run_steps(2);
}

#[test]
fn the_case_is_saved_through_the_built_in_path_dialog() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app_with(StartupOptions::default());
    coarse_ire_model(&mut h);
    add_electrode_pair(&mut h, PatientPos::new(30.0, 10.0, 0.0));
    assert!(h.state().has_unsaved_changes());

    // What "Save case as…" opens when the desktop has no portal and no zenity.
    run(&mut h, Command::OpenPathDialog(OpenDialog::SaveCase));
    h.get_by_label("Save the case");
    h.get_by_label("Parent folder");
    h.get_by_label("Cancel");

    // A folder that does not exist: refused with the reason, the dialog stays.
    let bad = dir.path().join("missing").join("case.json");
    retype(&mut h, "Path", &bad.display().to_string());
    h.get_by_label("OK").click();
    h.run_steps(3);
    assert!(
        h.state().path_dialog().is_some(),
        "a bad path keeps the dialog open"
    );
    h.get_by_label_contains("does not exist");
    assert!(!bad.exists());

    // A good path: saved, the dialog gone, the case clean.
    let path = dir.path().join("typed_case.json");
    retype(&mut h, "Path", &path.display().to_string());
    h.get_by_label("OK").click();
    h.run_steps(3);
    settle_jobs(&mut h);
    assert!(errors(&h).is_empty(), "{:?}", errors(&h));
    assert!(h.state().path_dialog().is_none());
    assert!(path.is_file(), "the case was written to the typed path");
    assert_eq!(h.state().case().path.as_deref(), Some(path.as_path()));
    assert!(!h.state().has_unsaved_changes());

    // The listing: the saved file is there, and Cancel closes without doing anything.
    run(&mut h, Command::OpenPathDialog(OpenDialog::Case));
    h.get_by_label("Open a case");
    h.get_by_label("typed_case.json");
    h.get_by_label("Cancel").click();
    h.run_steps(2);
    assert!(h.state().path_dialog().is_none());
}

#[test]
fn the_recovery_prompt_says_what_it_found_before_it_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app_with(StartupOptions::default());
    coarse_ire_model(&mut h);
    add_electrode_pair(&mut h, PatientPos::new(30.0, 10.0, 0.0));
    let mut doc = h.state().current_document().unwrap();
    doc.name = "Para-aortic node, left".into();
    RecoveryStore::for_process(dir.path(), 3_999_999_998)
        .autosave(&doc, None)
        .unwrap();

    let h2 = app_with(StartupOptions {
        open: None,
        recovery_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    });
    h2.get_by_label("Recover");
    h2.get_by_label_contains("Para-aortic node, left");
    h2.get_by_label_contains("Series: the built-in demo CT");
    h2.get_by_label_contains("Autosaved: ");
    h2.get_by_label_contains("just now");
    h2.get_by_label_contains("2 probes in the active plan");
}

#[test]
fn new_cases_are_named_after_their_series_and_the_library_lists_a_save_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app_with(StartupOptions::default());
    let name = h.state().case().name.clone();
    assert_ne!(name, "Untitled case");
    let series = h.state().volume().unwrap().meta.series_description.clone();
    assert!(name.starts_with(&series), "{name:?} is named after {series:?}");

    run(&mut h, Command::OpenLibrary(dir.path().to_path_buf()));
    assert!(h.state().review_ui().rows.is_empty());
    run(&mut h, Command::SaveCaseTo(dir.path().join("first.json")));
    run(&mut h, Command::SaveCaseTo(dir.path().join("second.json")));
    // Listed without pressing Reload; two cases of the same name told apart by their files.
    assert_eq!(h.state().review_ui().rows.len(), 2);
    h.get_by_label("Review first.json");
    h.get_by_label("Review second.json");
    // A save elsewhere leaves the library alone.
    let other = tempfile::tempdir().unwrap();
    run(&mut h, Command::SaveCaseTo(other.path().join("third.json")));
    assert_eq!(h.state().review_ui().rows.len(), 2);
}

#[test]
fn export_view_exports_what_the_screen_shows() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app_with(StartupOptions::default());
    run(&mut h, Command::SetActiveView(ViewKind::Axial));
    let m = h.state().volume().unwrap().view_mapping(ViewKind::Axial);

    // Zoomed 3× about the centre: the export shows the part on screen, with the pane's shape.
    run(
        &mut h,
        Command::Zoom {
            view: ViewKind::Axial,
            factor: 3.0,
            anchor: [0.0, 0.0],
        },
    );
    h.run_steps(2);
    let rect = h
        .state()
        .view_pane_rect(ViewKind::Axial)
        .expect("the axial view was drawn");
    let zoomed = dir.path().join("zoomed.png");
    run(&mut h, Command::ExportViewTo(zoomed.clone()));
    assert!(errors(&h).is_empty(), "{:?}", errors(&h));
    let z = image::open(&zoomed).unwrap();
    let state = *h.state().viewer().unwrap().view(ViewKind::Axial);
    let crop = ablaplan::app::viewer::visible_crop(rect, &m, &state).unwrap();
    let crop_aspect = (crop[2] - crop[0]) * m.pixel_mm[0] / ((crop[3] - crop[1]) * m.pixel_mm[1]);
    let png_aspect = f64::from(z.width()) / f64::from(z.height());
    assert!(
        (png_aspect - crop_aspect).abs() < 0.02,
        "PNG {}×{} vs the visible part {crop:?}",
        z.width(),
        z.height()
    );
    assert!(
        crop[2] - crop[0] < m.width as f64 * 0.5,
        "zoomed 3×: less than half the width is visible"
    );
    // Not coarser than the screen: at least as many pixels as the pane's points.
    assert!(
        f64::from(z.width()) >= rect[2] * 0.99,
        "{} px for {} points",
        z.width(),
        rect[2]
    );

    // "As on screen" off: the whole slice at the chosen scale (2×).
    let mut o = h.state().export_run().options;
    o.on_screen = false;
    run(&mut h, Command::SetExportOptions(o));
    let whole = dir.path().join("whole.png");
    run(&mut h, Command::ExportViewTo(whole.clone()));
    let w = image::open(&whole).unwrap();
    assert_eq!(
        (w.width() as usize, w.height() as usize),
        (2 * m.width, 2 * m.height)
    );
    // Pictures for the notes: the two exports, and the plan saved as a case for
    // `ablaplan compute CASE --png` (the board slide, before / after).
    if let Ok(d) = std::env::var("ABLAPLAN_SNAPSHOT_DIR") {
        let d = std::path::Path::new(&d);
        std::fs::copy(&zoomed, d.join("export_view_on_screen.png")).unwrap();
        std::fs::copy(&whole, d.join("export_view_whole_slice.png")).unwrap();
        coarse_ire_model(&mut h);
        add_electrode_pair(&mut h, PatientPos::new(30.0, 10.0, 0.0));
        run(&mut h, Command::SaveCaseTo(d.join("demo_case.json")));
        run(&mut h, Command::ExportSlideTo(d.join("slide_demo_after.png")));
    }
}
