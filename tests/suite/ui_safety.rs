//! The safety analysis in the GUI on the demo case: electrodes straddling the genitofemoral nerve
//! fire the nerve finding (red); clicking it moves the views to the closest point and shows a
//! caliper; moving the electrodes away clears it. Expected positions come from the demo's own
//! structures, not from the UI under test.

use ablaplan::anatomy::StructureKind;
use ablaplan::app::{AblaApp, Command, StartupOptions};
use ablaplan::geometry::PatientPos;
use ablaplan::safety::Light;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use crate::common::{app_with, coarse_ire_model, run, settle_jobs as settle};

/// The nerve's centre of mass in LPS (mm).
fn nerve_centre(app: &AblaApp) -> PatientPos {
    let vol = app.volume().unwrap();
    let nerve = app
        .structures()
        .items
        .iter()
        .find(|s| s.kind == StructureKind::Nerve)
        .expect("the demo has a nerve");
    let (mut sum, mut n) = (nalgebra::Vector3::zeros(), 0.0);
    let [_, ny, nz] = vol.geometry.dims;
    for k in 0..nz {
        for j in 0..ny {
            for r in nerve.mask().row_runs(j, k) {
                for i in r.i0..r.i1 {
                    sum += nalgebra::Vector3::new(i as f64, j as f64, k as f64);
                    n += 1.0;
                }
            }
        }
    }
    vol.geometry.to_patient(&(sum / n))
}

fn place_pair(h: &mut Harness<'static, AblaApp>, centre: PatientPos) {
    // Inserted from anterior (−P), the 20 mm exposure centred on the nerve's depth.
    for dx in [-6.0, 6.0] {
        let tip = centre + nalgebra::Vector3::new(dx, 10.0, 0.0);
        run(
            h,
            Command::AddProbe {
                tip_lps: tip,
                entry_lps: tip + nalgebra::Vector3::new(0.0, -130.0, 0.0),
            },
        );
    }
}

fn nerve_findings(app: &AblaApp) -> Vec<(Light, String)> {
    app.safety()
        .report()
        .map(|r| {
            r.findings
                .iter()
                .filter(|f| f.kind == Some(StructureKind::Nerve))
                .map(|f| (f.light, f.message.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn nerve_finding_fires_focuses_the_views_and_clears_when_moved_away() {
    let mut h = app_with(StartupOptions::default());
    coarse_ire_model(&mut h);
    let nerve = nerve_centre(h.state());
    place_pair(&mut h, nerve);
    assert!(h.state().ire_result().is_some_and(|r| !r.preview));

    let found = nerve_findings(h.state());
    assert!(
        found.iter().any(|(l, _)| *l == Light::Red),
        "electrodes straddling the nerve: {found:?}"
    );
    h.get_by_label_contains("Safety: ");

    // Click the nerve finding: the views go to its closest point, a caliper appears.
    let message = found.iter().find(|(l, _)| *l == Light::Red).unwrap().1.clone();
    let index = h
        .state()
        .safety()
        .report()
        .unwrap()
        .findings
        .iter()
        .position(|f| f.message == message)
        .unwrap();
    let focus = {
        let f = &h.state().safety().report().unwrap().findings[index];
        f.focus_lps
            .or(f.caliper_lps.map(|[a, b]| nalgebra::center(&a, &b)))
            .unwrap()
    };
    // More findings than the panel shows at once (the band's surfaces): bring it into view first.
    h.get_by_label(&message).scroll_to_me();
    h.run_steps(3);
    h.get_by_label(&message).click();
    h.run_steps(3);
    let app = h.state();
    let want = app.volume().unwrap().geometry.to_voxel(&focus);
    let got = app.viewer().unwrap().crosshair;
    assert!(
        (got - want.map(f64::round)).norm() < 1.5,
        "crosshair {got:?} vs {want:?}"
    );
    assert!(app.safety().caliper.is_some());

    // Switching the rule off in the rules window silences it (and only it).
    let rule = h.state().safety().report().unwrap().findings[index].rule.clone();
    h.get_by_label("Rules…").click();
    h.run_steps(3);
    assert!(h.state().safety().show_rules, "the rules window opens");
    h.get_by_label_contains("Saved with the case");
    h.get_by_label(&rule).scroll_to_me();
    h.run_steps(4);
    h.get_by_label(&rule).click();
    h.run_steps(2);
    settle(&mut h);
    let report = h.state().safety().report().unwrap();
    assert!(
        report.findings.iter().all(|f| f.rule != rule),
        "{rule} still fires"
    );
    assert!(!h.state().safety_rules().unwrap().get(&rule).unwrap().enabled);
    run(
        &mut h,
        Command::SetRules(ablaplan::safety::builtin_rules().unwrap()),
    );
    assert!(nerve_findings(h.state()).iter().any(|(l, _)| *l == Light::Red));

    // Move both electrodes 60 mm to the patient's right, away from the nerve.
    let moved: Vec<_> = h.state().plan().probes.clone();
    for (i, p) in moved.iter().enumerate() {
        let shift = nalgebra::Vector3::new(-60.0, 0.0, 0.0);
        run(
            &mut h,
            Command::SetProbe {
                index: i,
                probe: ablaplan::plan::probe::Probe {
                    tip_lps: p.tip_lps + shift,
                    entry_lps: p.entry_lps + shift,
                    ..p.clone()
                },
            },
        );
    }
    assert!(
        nerve_findings(h.state()).iter().all(|(l, _)| *l != Light::Red),
        "{:?}",
        nerve_findings(h.state())
    );
}
