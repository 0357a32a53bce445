//! "Suggest plan" in the Plan panel (issue 16), driven through egui_kittest on the demo case:
//! the button starts a job, the proposals are listed, "Accept proposal 1" puts its probes into
//! the plan and one undo brings the previous plan back.

use std::time::Duration;

use crate::common;

use ablaplan::app::settings::Settings;
use ablaplan::app::{AblaApp, Command, StartupOptions};
use eframe::egui;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

#[test]
fn suggest_lists_proposals_and_accept_is_one_undo_step() {
    let mut h = Harness::builder()
        .with_size(egui::Vec2::new(1400.0, 900.0))
        .build_eframe(|cc| {
            AblaApp::with_settings(
                cc.egui_ctx.clone(),
                Settings::default(),
                StartupOptions::default(),
            )
        });
    common::settle(&mut h);
    common::settle_jobs(&mut h);
    let before = h.state().plan().probes.clone();
    h.state_mut().push(Command::SuggestPlan);
    h.run_steps(2);
    assert!(h.state().suggest_running() || h.state().suggestion().is_some());
    common::step_until(&mut h, Duration::from_secs(300), "suggestion", |app| {
        !app.suggest_running()
    });
    let s = h.state().suggestion().expect("a suggestion").clone();
    assert!(!s.proposals.is_empty(), "impossible: {:?}", s.impossible);
    h.run_steps(2);
    assert!(
        h.query_by_label("Accept proposal 1").is_some(),
        "the proposals are listed"
    );
    h.state_mut().push(Command::AcceptSuggestion(0));
    h.run_steps(2);
    assert_eq!(h.state().plan().probes, s.proposals[0].probes);
    h.state_mut().push(Command::Undo);
    h.run_steps(2);
    assert_eq!(
        h.state().plan().probes,
        before,
        "one undo step restores the previous plan"
    );
}
