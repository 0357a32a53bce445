//! Shared helpers of the integration tests: the real data in `../shared/data`, and driving the
//! app through egui_kittest.
#![allow(dead_code)]

pub mod node_phantom;
pub mod pancreas_scenario;

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

/// Steps frames until loads, exports, model runs, the safety pass and the path checks (their
/// lines change the probe inspector's layout) are all done.
pub fn settle_jobs(h: &mut Harness<'static, AblaApp>) {
    step_until(h, Duration::from_secs(240), "background jobs", |app| {
        !app.is_busy()
            && !app.model_running()
            && (app.volume().is_none() || app.safety_current())
            && app.trajectory_ready()
    });
}

/// Applies `cmd` as the UI would and waits for the work it starts.
pub fn run(h: &mut Harness<'static, AblaApp>, cmd: ablaplan::app::Command) {
    h.state_mut().push(cmd);
    h.run_steps(2);
    settle_jobs(h);
}

/// The app on `opts` in a 1400 × 900 window, settled (real data may show missing glyphs).
pub fn app_with(opts: ablaplan::app::StartupOptions) -> Harness<'static, AblaApp> {
    let real_data = opts.open.is_some();
    let mut b = Harness::builder().with_size(eframe::egui::Vec2::new(1400.0, 900.0));
    if real_data {
        b = b.allow_missing_glyphs();
    }
    let mut h = b.build_eframe(move |cc| {
        AblaApp::with_settings(
            cc.egui_ctx.clone(),
            ablaplan::app::settings::Settings::default(),
            opts,
        )
    });
    settle_jobs(&mut h);
    h
}

/// IRE model options with a coarse grid, so the background jobs flows start stay light (the
/// model's accuracy is tested elsewhere).
pub fn coarse_ire_model(h: &mut Harness<'static, AblaApp>) {
    let opts = ablaplan::physics::ire::model::IreModelOptions {
        spacing_mm: 1.0,
        ..Default::default()
    };
    run(h, ablaplan::app::Command::SetModelOptions(opts));
}

/// Two 19G electrodes 15 mm apart along L around `centre`, tips 10 mm below it, inserted along S.
pub fn add_electrode_pair(h: &mut Harness<'static, AblaApp>, centre: ablaplan::geometry::PatientPos) {
    for dx in [-7.5, 7.5] {
        let tip = centre + nalgebra::Vector3::new(dx, 0.0, -10.0);
        run(
            h,
            ablaplan::app::Command::AddProbe {
                tip_lps: tip,
                entry_lps: tip + nalgebra::Vector3::new(0.0, 0.0, 120.0),
            },
        );
    }
}
