//! Quitting with unsaved changes asks (issue 18): a close request is held while the plan has
//! unsaved edits and the question is shown; without edits the window closes unasked; "Cancel"
//! keeps the work on screen.

use ablaplan::app::{AblaApp, StartupOptions};
use eframe::egui::{ViewportEvent, ViewportId};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use crate::common::{add_electrode_pair, app_with};

fn request_close(h: &mut Harness<'static, AblaApp>) {
    h.input_mut()
        .viewports
        .entry(ViewportId::ROOT)
        .or_default()
        .events
        .push(ViewportEvent::Close);
    h.run_steps(3);
}

#[test]
fn quitting_with_unsaved_changes_asks_first() {
    let mut h = app_with(StartupOptions::default());
    request_close(&mut h);
    assert!(!h.state().asking_to_quit(), "nothing to lose: no question");

    add_electrode_pair(&mut h, ablaplan::geometry::PatientPos::new(30.0, 10.0, 0.0));
    assert!(h.state().has_unsaved_changes());
    request_close(&mut h);
    assert!(
        h.state().asking_to_quit(),
        "unsaved edits: the close waits for an answer"
    );
    h.get_by_label("Save and quit");
    h.get_by_label("Quit without saving");
    h.get_by_label("Cancel").click();
    h.run_steps(3);
    assert!(!h.state().asking_to_quit());
    assert_eq!(h.state().plan().probes.len(), 2, "the work stays on screen");
}
