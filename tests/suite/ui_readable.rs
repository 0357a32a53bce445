//! Screens that can be read (issue 18): the overlay texts of every view never overlap and stay
//! inside their pane, in every layout and window size; hovering reads out the model's value and
//! verdict; the findings table keeps its height. Expected geometry comes from the rectangles the
//! app drew, checked against each other, not from fixed coordinates.

use ablaplan::anatomy::StructureKind;
use ablaplan::app::settings::Layout;
use ablaplan::app::{AblaApp, Command, StartupOptions};
use ablaplan::geometry::PatientPos;
use eframe::egui::{self, Event};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use crate::common::{add_electrode_pair, app_with, coarse_ire_model, run, settle_jobs};

fn target_centre(app: &AblaApp) -> PatientPos {
    let vol = app.volume().unwrap();
    let t = app
        .structures()
        .items
        .iter()
        .find(|s| s.kind == StructureKind::Target)
        .expect("the demo has a target");
    let c = ablaplan::app::structures::mask_centroid(t.mask()).unwrap();
    vol.geometry.to_patient(&nalgebra::Vector3::new(c[0], c[1], c[2]))
}

fn planned() -> Harness<'static, AblaApp> {
    let mut h = app_with(StartupOptions::default());
    coarse_ire_model(&mut h);
    let c = target_centre(h.state());
    add_electrode_pair(&mut h, c);
    settle_jobs(&mut h);
    h
}

/// Overlaps between lines of different stacks, and lines outside the pane, of every view.
fn overlay_problems(h: &Harness<'static, AblaApp>) -> Vec<String> {
    let mut problems = Vec::new();
    for (view, rects) in h.state().overlay_rects() {
        let label = format!("{} view", view.name());
        let Some(node) = h.query_by_label(&label) else {
            continue; // not shown in this layout
        };
        let pane = node.rect();
        for (i, (si, a)) in rects.iter().enumerate() {
            if !pane.expand(1.0).contains_rect(*a) {
                problems.push(format!("{view:?}: stack {si} {a:?} leaves the pane {pane:?}"));
            }
            for (sj, b) in &rects[i + 1..] {
                if si != sj && a.intersects(*b) {
                    problems.push(format!("{view:?}: stack {si} {a:?} overlaps stack {sj} {b:?}"));
                }
            }
        }
        for letter in 0..4 {
            if !rects.iter().any(|(s, _)| *s == letter) {
                problems.push(format!("{view:?}: orientation letter {letter} dropped"));
            }
        }
    }
    problems
}

#[test]
fn overlay_texts_never_overlap_in_any_layout_or_window_size() {
    let mut h = planned();
    let mut checked = 0;
    for size in [
        (1400.0, 900.0),
        (1100.0, 700.0),
        (1920.0, 1080.0),
        (1000.0, 640.0),
    ] {
        h.set_size(egui::vec2(size.0, size.1));
        for layout in [
            Layout::OnePlusTwo,
            Layout::OneByThree,
            Layout::Single,
            Layout::TwoByTwo3d,
        ] {
            run(&mut h, Command::SetLayout(layout));
            // The cursor over each view adds the read-out lines to its bottom-left corner.
            for view in ["Axial view", "Coronal view", "Sagittal view"] {
                let Some(node) = h.query_by_label(view) else {
                    continue;
                };
                let c = node.rect().center();
                h.event(Event::PointerMoved(c));
                h.run_steps(3);
                let problems = overlay_problems(&h);
                assert!(problems.is_empty(), "{size:?} {layout:?}: {problems:#?}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 4 * 10, "every layout's views were checked ({checked})");
}

#[test]
fn hovering_reads_out_the_field_and_the_zone_verdict() {
    let mut h = planned();
    let c = target_centre(h.state());
    let inside = h.state_mut().hover_readout_at(&c);
    assert!(
        inside
            .iter()
            .any(|l| l.contains("V/cm") && l.contains("inside the IRE zone")),
        "at the target between the electrodes: {inside:?}"
    );
    let far = c + nalgebra::Vector3::new(0.0, 0.0, 400.0);
    assert!(
        h.state_mut().hover_readout_at(&far).is_empty(),
        "off the model's grid nothing is claimed"
    );
}

#[test]
fn the_views_do_not_move_when_findings_appear_and_the_margin_text_knows_the_target() {
    let mut h = app_with(StartupOptions::default());
    coarse_ire_model(&mut h);
    run(&mut h, Command::ShowSafetyPanel(true));
    h.run_steps(3);
    let before = h.get_by_label("Axial view").rect();
    let c = target_centre(h.state());
    add_electrode_pair(&mut h, c);
    // Long findings: a second pair across the vessels.
    add_electrode_pair(&mut h, c + nalgebra::Vector3::new(-25.0, 0.0, 0.0));
    settle_jobs(&mut h);
    h.run_steps(3);
    let n = h.state().safety().report().map_or(0, |r| r.findings.len());
    assert!(n >= 2, "findings to show ({n})");
    let after = h.get_by_label("Axial view").rect();
    // The findings panel keeps its height: the view's top and bottom stay. (Its width follows
    // the plan panel, which widens with the pairs table: not this test's subject.)
    assert_eq!(
        (before.min.y, before.max.y),
        (after.min.y, after.max.y),
        "the axial view did not move up or shrink"
    );
    assert!(
        h.query_by_label_contains("draw a Target structure").is_none(),
        "the demo has a Target: the panel does not ask for one"
    );
}

#[test]
fn a_cryo_plan_speaks_cryo_and_has_no_iceball_before_the_freeze() {
    let mut h = app_with(StartupOptions::default());
    h.get_by_label("Cryoprobe").click();
    h.run_steps(3);
    assert!(
        h.state().is_cryo_plan(),
        "the toolbar's Cryoprobe chose a cryoprobe"
    );
    h.get_by_label_contains("No cryoprobes.");
    assert!(h.query_by_label_contains("No electrodes").is_none());
    let mut s = ablaplan::physics::cryo::model::CryoSettings::default();
    s.model.spacing_mm = 2.0;
    run(
        &mut h,
        Command::SetCryoSettings {
            settings: s,
            live: false,
        },
    );
    let c = target_centre(h.state());
    for dx in [-7.5, 7.5] {
        run(
            &mut h,
            Command::AddProbe {
                tip_lps: c + nalgebra::Vector3::new(dx, 0.0, -15.0),
                entry_lps: c + nalgebra::Vector3::new(dx, 0.0, 100.0),
            },
        );
    }
    h.get_by_label_contains("Cryoprobe 1 ·");
    assert!(h.query_by_label_contains("Electrode 1 ·").is_none());
    run(&mut h, Command::SetCryoTime(0.0));
    let sizes = h.state_mut().cryo_sizes().expect("sizes");
    assert!(
        sizes
            .iter()
            .all(|(_, s)| s.volume_ml == 0.0 && s.extents_mm == [0.0; 3]),
        "nothing has frozen at t = 0: {sizes:?}"
    );
    let legend = h.state_mut().cryo_legend();
    assert!(
        legend.iter().all(|l| !l.contains("(filled)")),
        "nothing is filled at t = 0: {legend:?}"
    );
    run(&mut h, Command::SetCryoTime(600.0));
    let sizes = h.state_mut().cryo_sizes().expect("sizes");
    assert!(
        sizes.iter().any(|(_, s)| s.volume_ml > 0.5),
        "an iceball at 10 min: {sizes:?}"
    );
    assert!(h.state_mut().cryo_legend().iter().any(|l| l.contains("(filled)")));
    let readout = h.state_mut().hover_readout_at(&c);
    assert!(
        readout.iter().any(|l| l.contains("°C") && l.contains("lethal")),
        "between the cryoprobes at 10 min: {readout:?}"
    );
}

#[test]
fn digits_typed_into_a_number_field_do_not_switch_the_window_preset() {
    let mut h = app_with(StartupOptions::default());
    let before = h.state().viewer().and_then(|v| v.window_label.clone());
    let field = h.get_by_label("Probe length");
    field.click();
    h.run_steps(2);
    for (key, text) in [(egui::Key::Num4, "4"), (egui::Key::Num6, "6")] {
        h.key_press(key);
        h.event(Event::Text(text.into()));
        h.run_steps(2);
    }
    assert_eq!(
        h.state().viewer().and_then(|v| v.window_label.clone()),
        before,
        "the digits went to the number field, not to the W/L presets"
    );
    // With nothing focused the same keys are the presets (the shortcut still works).
    h.key_press(egui::Key::Escape);
    h.run_steps(2);
    h.event(Event::PointerMoved(h.get_by_label("Axial view").rect().center()));
    h.run_steps(2);
    h.key_press(egui::Key::Num4);
    h.run_steps(2);
    assert_eq!(
        h.state().viewer().and_then(|v| v.window_label.clone()).as_deref(),
        Some("Lung")
    );
}

#[test]
fn a_right_drag_zoom_in_a_small_pane_never_swaps_the_panes() {
    let mut h = app_with(StartupOptions::default());
    run(&mut h, Command::SetLayout(Layout::OnePlusTwo));
    let axial = h.get_by_label("Axial view").rect();
    let coronal = h.get_by_label("Coronal view").rect();
    assert!(axial.width() > coronal.width(), "axial is the large pane");
    let zoom_before = h
        .state()
        .viewer()
        .unwrap()
        .view(ablaplan::volume::ViewKind::Coronal)
        .zoom;
    let from = coronal.center();
    crate::common::drag(
        &mut h,
        from,
        from + egui::vec2(0.0, -40.0),
        egui::PointerButton::Secondary,
        6,
    );
    h.run_steps(3);
    assert_eq!(
        h.get_by_label("Axial view").rect(),
        axial,
        "the large pane stayed"
    );
    assert_eq!(h.get_by_label("Coronal view").rect(), coronal);
    let zoom_after = h
        .state()
        .viewer()
        .unwrap()
        .view(ablaplan::volume::ViewKind::Coronal)
        .zoom;
    assert!(zoom_after != zoom_before, "the drag zoomed the small pane");
}
