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
        let Some(node) = h.query_by_label(&format!("{} view", view.name())) else {
            continue; // not shown in this layout
        };
        let pane = node.rect();
        let pane = egui::Rect::from_min_max(
            egui::pos2(pane.min.x as f32, pane.min.y as f32),
            egui::pos2(pane.max.x as f32, pane.max.y as f32),
        );
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
    for size in [(1400.0, 900.0), (1100.0, 700.0), (1920.0, 1080.0), (1000.0, 640.0)] {
        h.set_size(egui::vec2(size.0, size.1));
        for layout in [Layout::OnePlusTwo, Layout::OneByThree, Layout::Single] {
            run(&mut h, Command::SetLayout(layout));
            // The cursor over each view adds the read-out lines to its bottom-left corner.
            for view in ["Axial view", "Coronal view", "Sagittal view"] {
                let Some(node) = h.query_by_label(view) else { continue };
                let c = node.rect().center();
                h.event(Event::PointerMoved(egui::pos2(c.x as f32, c.y as f32)));
                h.run_steps(3);
                let problems = overlay_problems(&h);
                assert!(problems.is_empty(), "{size:?} {layout:?}: {problems:#?}");
                checked += 1;
            }
        }
    }
    assert!(checked >= 4 * 7, "every layout's views were checked ({checked})");
}

#[test]
fn hovering_reads_out_the_field_and_the_zone_verdict() {
    let mut h = planned();
    let c = target_centre(h.state());
    let inside = h.state_mut().hover_readout_at(&c);
    assert!(
        inside.iter().any(|l| l.contains("V/cm") && l.contains("inside the IRE zone")),
        "at the target between the electrodes: {inside:?}"
    );
    let far = c + nalgebra::Vector3::new(0.0, 0.0, 400.0);
    assert!(
        h.state_mut().hover_readout_at(&far).is_empty(),
        "off the model's grid nothing is claimed"
    );
}
