//! Shared helpers of the integration tests: the real data in `../shared/data`, and driving the
//! app through egui_kittest.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ablaplan::app::AblaApp;
use eframe::egui::{Event, Modifiers, PointerButton, Pos2};
use egui_kittest::Harness;

/// `../shared/data/dicom/<rel>` if present; otherwise prints why the test is skipped and
/// returns `None` (a fresh clone without the data still passes).
pub fn dicom_data(rel: &str) -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/dicom")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("SKIPPED: test data {} is absent", p.display());
        None
    }
}

/// Steps frames until `done(app)` holds (background jobs keep running meanwhile), then three more;
/// fails with `what` after `limit`.
pub fn step_until(
    h: &mut Harness<'static, AblaApp>,
    limit: Duration,
    what: &str,
    done: impl Fn(&AblaApp) -> bool,
) {
    let start = Instant::now();
    loop {
        h.step();
        if done(h.state()) {
            break;
        }
        assert!(start.elapsed() < limit, "{what} did not finish in {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    h.run_steps(3);
}

/// Steps frames until the app's background jobs (loading, imports, tools) are done.
pub fn settle(h: &mut Harness<'static, AblaApp>) {
    step_until(h, Duration::from_secs(180), "background job", |app| {
        !app.is_busy()
    });
}

/// A left click (press and release without moving) at `p`.
pub fn click_at(h: &mut Harness<'static, AblaApp>, p: Pos2) {
    h.event(Event::PointerMoved(p));
    h.step();
    for pressed in [true, false] {
        h.event(Event::PointerButton {
            pos: p,
            button: PointerButton::Primary,
            pressed,
            modifiers: Modifiers::NONE,
        });
        h.step();
    }
    h.run_steps(2);
}

/// A drag with `button` from `from` to `to` in `steps` pointer moves (one frame each).
pub fn drag(h: &mut Harness<'static, AblaApp>, from: Pos2, to: Pos2, button: PointerButton, steps: u32) {
    h.event(Event::PointerMoved(from));
    h.event(Event::PointerButton {
        pos: from,
        button,
        pressed: true,
        modifiers: Modifiers::NONE,
    });
    h.step();
    for s in 1..=steps {
        let t = s as f32 / steps as f32;
        h.event(Event::PointerMoved(from + (to - from) * t));
        h.step();
    }
    h.event(Event::PointerButton {
        pos: to,
        button,
        pressed: false,
        modifiers: Modifiers::NONE,
    });
    h.run_steps(2);
}
