//! The plan panel (left): electrodes with an inspector, the array template, the live geometry
//! checks, the IRE pulse settings with the pairs table, the model's status and results (zone
//! volume, extents, |E| profile plot); and the along-probe view window.

use eframe::egui::{self, Color32, RichText};

use super::AblaApp;
use super::command::Command;
use super::plan::{ArrayAxis, ArrayCentre, PlanState, profile_line};
use crate::physics::ire::model::{IreModelOptions, IreResult, ZoneCriterion};
use crate::plan::checks::{PlacementLimits, Severity, check_probes};
use crate::plan::ire::{
    CURRENT_LIMIT_A, CurrentState, LIVER_MAX_RATIO_V_PER_CM, STUDY_RATIO_RANGE_V_PER_CM, VOLTAGE_CAP_V,
};
use crate::plan::probe::{ARRAY_COUNT, ARRAY_SPACING_MM, Probe};

const WARN: Color32 = super::widgets::c32(crate::render::palette::TEXT_WARN);
const CAUTION: Color32 = super::widgets::c32(crate::render::palette::TEXT_CAUTION);
const GOOD: Color32 = super::widgets::c32(crate::render::palette::TEXT_GOOD);
/// Grid spacings offered (issue 4: 0.25–1.0 mm, 0.5 mm by default).
const GRID_SPACINGS_MM: [f64; 4] = [0.25, 0.5, 0.75, 1.0];
/// How far the |E| profile runs beyond each electrode of the pair (mm).
const PROFILE_EXTEND_MM: f64 = 10.0;
const PROFILE_SAMPLES: usize = 241;

mod model_options;
use model_options::model_options;

fn severity_colour(s: Severity) -> Color32 {
    match s {
        Severity::Info => Color32::GRAY,
        Severity::Caution => CAUTION,
        _ => WARN,
    }
}

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Info => "Note",
        other => other.label(),
    }
}

/// A striped grid with one bold header per column; `body` adds the rows.
fn table(ui: &mut egui::Ui, id: &str, headers: &[&str], body: impl FnOnce(&mut egui::Ui)) {
    egui::Grid::new(id)
        .striped(true)
        .num_columns(headers.len())
        .show(ui, |ui| {
            for h in headers {
                ui.label(RichText::new(*h).strong());
            }
            ui.end_row();
            body(ui);
        });
}

/// "1–2" for a pair of probe indices.
fn pair_name(plan: &PlanState, a: usize, b: usize) -> String {
    format!("{}–{}", plan.label(a), plan.label(b))
}

pub fn panel(app: &mut AblaApp, ui: &mut egui::Ui) {
    if !app.show_plan_panel || app.volume().is_none() {
        return;
    }
    let mut cmds = Vec::new();
    let axes = app
        .run
        .ire_shown()
        .and_then(|r| r.pairs.first())
        .and_then(|first| super::plan::extent_axes(&app.plan.probes, (first.a, first.b)));
    let extents_mm = app.run.ire_extents(app.plan.revision(), axes);
    let cryo = app.is_cryo_plan().then(|| super::cryo_ui::PanelData::new(app));
    let app_ref: &AblaApp = app;
    egui::Panel::left("plan")
        .default_size(350.0)
        .size_range(260.0..=520.0)
        .show(ui, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.heading("Plan");
                    if ui
                        .add_enabled(app_ref.can_undo(), egui::Button::new("Undo (Ctrl+Z)"))
                        .clicked()
                    {
                        cmds.push(Command::Undo);
                    }
                    if ui
                        .add_enabled(app_ref.can_redo(), egui::Button::new("Redo (Ctrl+Y)"))
                        .clicked()
                    {
                        cmds.push(Command::Redo);
                    }
                });
                super::cryo_ui::probe_model_chooser(ui, app_ref, &mut cmds);
                egui::CollapsingHeader::new(if cryo.is_some() {
                    "Cryoprobes"
                } else {
                    "Electrodes"
                })
                .id_salt("plan-probes")
                .default_open(true)
                .show(ui, |ui| electrodes(ui, app_ref, &mut cmds));
                egui::CollapsingHeader::new("Array template")
                    .default_open(true)
                    .show(ui, |ui| array_template(ui, app_ref, &mut cmds));
                egui::CollapsingHeader::new("Suggest plan")
                    .default_open(true)
                    .show(ui, |ui| {
                        super::suggest_ui::suggest_section(ui, app_ref, &mut cmds)
                    });
                egui::CollapsingHeader::new("Geometry checks")
                    .default_open(true)
                    .show(ui, |ui| geometry_checks(ui, &app_ref.plan));
                // The plan's modality follows its probes: IRE pulses and pairs, or the cryo
                // protocol and iceball.
                if let Some(d) = &cryo {
                    super::cryo_ui::sections(ui, app_ref, d, &mut cmds);
                } else {
                    egui::CollapsingHeader::new("IRE settings and pairs")
                        .default_open(true)
                        .show(ui, |ui| ire_settings(ui, app_ref, &mut cmds));
                    egui::CollapsingHeader::new("IRE model")
                        .default_open(true)
                        .show(ui, |ui| model(ui, app_ref, extents_mm, &mut cmds));
                }
            });
        });
    app.commands.extend(cmds);
}

fn electrodes(ui: &mut egui::Ui, app: &AblaApp, cmds: &mut Vec<Command>) {
    let plan = &app.plan;
    let words = ProbeWords::of(app.is_cryo_plan());
    if plan.probes.is_empty() {
        ui.label(words.empty_plan);
    }
    for (i, p) in plan.probes.iter().enumerate() {
        let sel = plan.selected == Some(i);
        let text = format!(
            "{} {} · {} {:.1} cm · {:.0} mm",
            words.noun,
            p.label,
            words.active,
            p.exposure_mm / 10.0,
            p.length_mm()
        );
        if ui.selectable_label(sel, text).clicked() {
            cmds.push(Command::SelectProbe(if sel { None } else { Some(i) }));
        }
    }
    if let Some(i) = plan.selected
        && let Some(p) = plan.probes.get(i)
    {
        ui.separator();
        inspector(ui, app, i, p, cmds);
    }
}

/// Numeric editing of the selected probe.
fn inspector(ui: &mut egui::Ui, app: &AblaApp, i: usize, p: &Probe, cmds: &mut Vec<Command>) {
    let model = app.catalog().and_then(|c| c.get(&p.model_id));
    ui.label(RichText::new(model.map_or(p.model_id.as_str(), |m| m.name.as_str())).strong());
    egui::Grid::new("probe-inspector").num_columns(4).show(ui, |ui| {
        let l = ui.label("Label");
        let mut label = p.label.clone();
        let r = ui
            .add(egui::TextEdit::singleline(&mut label).desired_width(60.0))
            .labelled_by(l.id);
        if r.lost_focus() && label != p.label && !label.trim().is_empty() {
            cmds.push(Command::SetProbe {
                index: i,
                probe: Probe {
                    label: label.trim().to_string(),
                    ..p.clone()
                },
            });
        }
        ui.end_row();
        for (name, is_tip) in [("Tip", true), ("Entry", false)] {
            let l = ui.label(name);
            let point = if is_tip { p.tip_lps } else { p.entry_lps };
            for (axis, letter) in ["L", "P", "S"].iter().enumerate() {
                let mut v = point[axis];
                let r = ui
                    .add(
                        egui::DragValue::new(&mut v)
                            .speed(0.5)
                            .fixed_decimals(1)
                            .prefix(format!("{letter} "))
                            .suffix(" mm"),
                    )
                    .labelled_by(l.id)
                    .on_hover_text(format!("{name}, patient {letter} coordinate (DICOM LPS, mm)"));
                if r.changed() && v.is_finite() {
                    let mut q = point;
                    q[axis] = v;
                    let (tip_lps, entry_lps) = if is_tip { (q, p.entry_lps) } else { (p.tip_lps, q) };
                    cmds.push(if r.dragged() {
                        Command::MoveProbe {
                            index: i,
                            tip_lps,
                            entry_lps,
                        }
                    } else {
                        Command::SetProbe {
                            index: i,
                            probe: Probe {
                                tip_lps,
                                entry_lps,
                                ..p.clone()
                            },
                        }
                    });
                }
                if r.drag_stopped() {
                    cmds.push(Command::EndDrag);
                }
            }
            ui.end_row();
        }
    });
    super::suggest_ui::angle_row(ui, i, p, cmds);
    super::trajectory_ui::path_rows(ui, app, i, cmds);
    let range = model.and_then(|m| m.exposure_mm.as_ref());
    ui.horizontal(|ui| match range {
        Some(range) => {
            egui::ComboBox::from_label("Exposure")
                .selected_text(format!("{:.1} cm", p.exposure_mm / 10.0))
                .show_ui(ui, |ui| {
                    for mm in range.steps_mm() {
                        let on = (mm - p.exposure_mm).abs() < 1e-6;
                        if ui.selectable_label(on, format!("{:.1} cm", mm / 10.0)).clicked() && !on {
                            cmds.push(Command::SetProbe {
                                index: i,
                                probe: Probe {
                                    exposure_mm: range.snap_mm(mm),
                                    ..p.clone()
                                },
                            });
                        }
                    }
                })
                .response
                .on_hover_text(&range.step.source);
        }
        None => {
            let l = ui.label("Active length");
            let mut v = p.exposure_mm;
            let r = ui
                .add(egui::DragValue::new(&mut v).range(1.0..=100.0).suffix(" mm"))
                .labelled_by(l.id);
            if r.changed() && !r.dragged() || r.drag_stopped() {
                cmds.push(Command::SetProbe {
                    index: i,
                    probe: Probe {
                        exposure_mm: v,
                        ..p.clone()
                    },
                });
            }
        }
    });
    ui.label(format!(
        "Inserted {:.0} mm; exposed part from the tip {:.0} mm back",
        p.length_mm(),
        p.exposure_mm.min(p.length_mm())
    ));
    ui.horizontal(|ui| {
        if ui
            .button(if app.is_cryo_plan() {
                "Delete cryoprobe"
            } else {
                "Delete electrode"
            })
            .on_hover_text("Also the Delete key")
            .clicked()
        {
            cmds.push(Command::DeleteProbe(i));
        }
        if ui.button("Along-probe view").clicked() {
            cmds.push(Command::ShowProbeView(true));
        }
    });
}

fn array_template(ui: &mut egui::Ui, app: &AblaApp, cmds: &mut Vec<Command>) {
    let mut o = app.array;
    let (n_lo, n_hi) = ARRAY_COUNT;
    let (s_lo, s_hi) = ARRAY_SPACING_MM;
    ui.add(egui::Slider::new(&mut o.n, n_lo..=n_hi).text("electrodes"));
    ui.add(
        egui::Slider::new(&mut o.spacing_mm, s_lo..=s_hi)
            .step_by(0.5)
            .text("mm spacing"),
    )
    .on_hover_text(crate::plan::checks::SPACING_SOURCE);
    ui.horizontal(|ui| {
        ui.label("Centre");
        ui.radio_value(&mut o.centre, ArrayCentre::Crosshair, "Crosshair");
        let has_target = app
            .structures
            .items
            .iter()
            .any(|s| s.kind == crate::anatomy::StructureKind::Target);
        ui.add_enabled_ui(has_target, |ui| {
            ui.radio_value(&mut o.centre, ArrayCentre::Target, "Target centroid")
        });
    });
    let active = app.viewer.as_ref().map_or("Active", |v| v.active.name());
    ui.horizontal_wrapped(|ui| {
        ui.label("Insertion");
        for a in ArrayAxis::ALL {
            let text = match a {
                ArrayAxis::ViewNormal => format!("{active} normal"),
                ArrayAxis::InViewPlane => format!("In {active} plane"),
                _ => a.label().to_string(),
            };
            ui.radio_value(&mut o.axis, a, text).on_hover_text(match a {
                ArrayAxis::ViewNormal => "Perpendicular to the active view (seen end-on there)",
                ArrayAxis::AnteriorPosterior => "Entry anterior, tips posterior",
                ArrayAxis::PosteriorAnterior => "Entry posterior (the back), tips anterior",
                ArrayAxis::RightLeft => "Entry on the patient's right, tips to the left",
                ArrayAxis::LeftRight => "Entry on the patient's left, tips to the right",
                ArrayAxis::SuperiorInferior => "Entry superior, tips inferior",
                ArrayAxis::Oblique => {
                    "Typed in-plane and cranio-caudal angles, as CT-guided paths are described"
                }
                ArrayAxis::InViewPlane => {
                    "In the active view's plane (seen along their length there), at the typed angle \
                     from the screen's downward direction"
                }
            });
        }
    });
    match o.axis {
        ArrayAxis::Oblique => {
            ui.horizontal(|ui| {
                let l = ui.label("Array in-plane angle");
                ui.add(
                    egui::DragValue::new(&mut o.oblique_deg[0])
                        .range(0.0..=360.0)
                        .speed(1.0)
                        .suffix(" deg"),
                )
                .labelled_by(l.id)
                .on_hover_text("0 anterior, 90 from the left, 180 posterior, 270 from the right");
                let l = ui.label("Array cranio-caudal angle");
                ui.add(
                    egui::DragValue::new(&mut o.oblique_deg[1])
                        .range(-90.0..=90.0)
                        .speed(1.0)
                        .suffix(" deg"),
                )
                .labelled_by(l.id)
                .on_hover_text("Positive when the entries are cranial to the tips");
            });
        }
        ArrayAxis::InViewPlane => {
            ui.horizontal(|ui| {
                let l = ui.label("Angle in view");
                ui.add(
                    egui::DragValue::new(&mut o.in_view_deg)
                        .range(-180.0..=180.0)
                        .speed(1.0)
                        .suffix(" deg"),
                )
                .labelled_by(l.id)
                .on_hover_text("0 = from the top of the view downwards, 90 = from its left to its right");
            });
        }
        _ => {}
    }
    let default = app
        .probe_model_id()
        .and_then(|id| app.catalog().and_then(|c| c.get(&id)));
    let steps = default
        .and_then(|m| m.exposure_mm.as_ref())
        .map(|e| e.steps_mm())
        .unwrap_or_default();
    let default_mm = default.and_then(|m| m.default_active_mm());
    ui.horizontal(|ui| {
        let shown = o.exposure_mm.or(default_mm);
        egui::ComboBox::from_label("Array exposure")
            .selected_text(shown.map_or("—".into(), |mm| format!("{:.1} cm", mm / 10.0)))
            .show_ui(ui, |ui| {
                for mm in &steps {
                    let on = shown.is_some_and(|s| (s - mm).abs() < 1e-6);
                    if ui.selectable_label(on, format!("{:.1} cm", mm / 10.0)).clicked() {
                        o.exposure_mm = Some(*mm);
                    }
                }
            });
    });
    ui.horizontal(|ui| {
        let l = ui.label("Probe length");
        ui.add(
            egui::DragValue::new(&mut o.length_mm)
                .range(20.0..=250.0)
                .speed(1.0)
                .suffix(" mm"),
        )
        .labelled_by(l.id)
        .on_hover_text("Tip-to-entry distance of each electrode");
    });
    if o != app.array {
        cmds.push(Command::SetArrayOptions(o));
    }
    if ui
        .button("Place array")
        .on_hover_text("Replaces the electrodes by the template (Ctrl+Z brings them back)")
        .clicked()
    {
        cmds.push(Command::PlaceArray);
    }
}

fn geometry_checks(ui: &mut egui::Ui, plan: &PlanState) {
    if plan.probes.len() < 2 {
        ui.label("Place two or more electrodes to check their spacing and parallelism.");
        return;
    }
    let report = check_probes(&plan.probes, &PlacementLimits::default());
    let worst_of_pair = |a: usize, b: usize| {
        report
            .findings
            .iter()
            .filter(|f| {
                f.probe_indices.len() == 2 && f.probe_indices.contains(&a) && f.probe_indices.contains(&b)
            })
            .map(|f| f.severity)
            .max()
    };
    table(
        ui,
        "pair-geometry",
        &["Pair", "Tip–tip", "Shaft", "Angle", "Overlap"],
        |ui| {
            for g in &report.pairs {
                let col = worst_of_pair(g.a, g.b).map_or(GOOD, severity_colour);
                ui.label(RichText::new(pair_name(plan, g.a, g.b)).color(col));
                ui.label(format!("{:.1} mm", g.tip_distance_mm));
                ui.label(format!("{:.1} mm", g.shaft_distance_mm));
                ui.label(format!("{:.1}°", g.angle_deg));
                ui.label(format!("{:.1} mm", g.exposure_overlap_mm));
                ui.end_row();
            }
        },
    );
    let mut findings: Vec<_> = report.findings.iter().collect();
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    if findings.is_empty() {
        ui.label(
            RichText::new("No placement problems: spacing within limits, parallel, exposures overlap")
                .color(GOOD),
        );
    }
    for f in findings {
        ui.label(
            RichText::new(format!("{}: {}", severity_name(f.severity), f.message))
                .color(severity_colour(f.severity)),
        );
        if !f.source.is_empty() {
            ui.label(RichText::new(format!("Rule: {}", f.source)).small().weak());
        }
    }
}

fn ire_settings(ui: &mut egui::Ui, app: &AblaApp, cmds: &mut Vec<Command>) {
    let plan = &app.plan;
    let Some(ire) = plan.ire() else { return };
    let s = &ire.settings;
    // A value dragged in the panel is a live edit (preview), committed when the drag stops.
    let push = |cmds: &mut Vec<Command>, r: &egui::Response, settings: crate::plan::ire::IreSettings| {
        if r.changed() {
            cmds.push(Command::SetIreSettings {
                settings,
                live: r.dragged(),
            });
        }
        if r.drag_stopped() {
            cmds.push(Command::EndDrag);
        }
    };
    egui::Grid::new("ire-settings").num_columns(2).show(ui, |ui| {
        let l = ui.label("Voltage ratio");
        let mut v = s.ratio_v_per_cm;
        let r = ui
            .add(
                egui::DragValue::new(&mut v)
                    .range(500.0..=2500.0)
                    .speed(10.0)
                    .suffix(" V/cm"),
            )
            .labelled_by(l.id);
        push(
            cmds,
            &r,
            crate::plan::ire::IreSettings {
                ratio_v_per_cm: v,
                ..s.clone()
            },
        );
        ui.end_row();
        ui.label("");
        let (lo, hi) = STUDY_RATIO_RANGE_V_PER_CM;
        let note = format!(
            "{lo:.0}–{hi:.0} V/cm in the IRE study; liver practice up to {LIVER_MAX_RATIO_V_PER_CM:.0} V/cm (REFERENCE.md §4)"
        );
        let out_of_range = s.ratio_v_per_cm < lo || s.ratio_v_per_cm > LIVER_MAX_RATIO_V_PER_CM;
        ui.label(
            RichText::new(note)
                .small()
                .color(if out_of_range { CAUTION } else { Color32::GRAY }),
        );
        ui.end_row();
        let l = ui.label("Voltage cap");
        let mut v = s.voltage_cap_v;
        let r = ui
            .add(
                egui::DragValue::new(&mut v)
                    .range(100.0..=VOLTAGE_CAP_V)
                    .speed(10.0)
                    .suffix(" V"),
            )
            .labelled_by(l.id)
            .on_hover_text("Generator maximum per pair: 3000 V (REFERENCE.md §1, §4)");
        push(
            cmds,
            &r,
            crate::plan::ire::IreSettings {
                voltage_cap_v: v,
                ..s.clone()
            },
        );
        ui.end_row();
        let l = ui.label("Pulses");
        ui.horizontal(|ui| {
            let mut n = s.pulses;
            let r = ui
                .add(egui::DragValue::new(&mut n).range(1..=500))
                .labelled_by(l.id);
            push(
                cmds,
                &r,
                crate::plan::ire::IreSettings {
                    pulses: n,
                    ..s.clone()
                },
            );
            ui.label("×");
            let mut w = s.pulse_width_us;
            let r = ui
                .add(egui::DragValue::new(&mut w).range(10.0..=500.0).suffix(" µs"))
                .labelled_by(l.id);
            push(
                cmds,
                &r,
                crate::plan::ire::IreSettings {
                    pulse_width_us: w,
                    ..s.clone()
                },
            );
        });
        ui.end_row();
        // The rate sets how long the train lasts, hence how much the tissue cools between pulses
        // (the electro-thermal model); ECG-synchronised delivery runs near the heart rate.
        let l = ui.label("Pulse rate");
        let mut rate = s.pulse_rate_per_min;
        let r = ui
            .add(egui::DragValue::new(&mut rate).range(10.0..=240.0).suffix(" /min"))
            .labelled_by(l.id);
        push(
            cmds,
            &r,
            crate::plan::ire::IreSettings {
                pulse_rate_per_min: rate,
                ..s.clone()
            },
        );
        ui.end_row();
    });
    let rows = plan.pair_rows();
    if rows.is_empty() {
        ui.label("Pairs appear when two or more electrodes are placed.");
        return;
    }
    ui.label(
        RichText::new(format!(
            "Default: pairs up to {:.0} mm apart, voltage = spacing × ratio rounded to 10 V, capped at {:.0} V",
            s.max_pair_spacing_mm, s.voltage_cap_v
        ))
        .small()
        .weak(),
    );
    let result = app
        .run
        .ire_shown()
        .filter(|_| app.run.ire_shown_revision() == plan.revision());
    let mut any_over = false;
    table(
        ui,
        "ire-pairs",
        &["Pair", "Spacing", "Voltage", "Current", "Status"],
        |ui| {
            for r in &rows {
                let name = pair_name(plan, r.a, r.b);
                let mut inc = r.included;
                if ui
                    .checkbox(&mut inc, format!("Pair {name}"))
                    .on_hover_text(if r.default_included {
                        "Pulsed by default"
                    } else {
                        "Not pulsed by default: farther apart than the maximum pair spacing"
                    })
                    .changed()
                {
                    cmds.push(Command::SetPairIncluded {
                        a: r.a,
                        b: r.b,
                        included: inc,
                    });
                }
                ui.label(format!("{:.1} mm", r.spacing_mm));
                ui.horizontal(|ui| {
                    let mut v = r.voltage_v;
                    let resp = ui
                        .add_enabled(
                            r.included,
                            egui::DragValue::new(&mut v)
                                .range(0.0..=s.voltage_cap_v)
                                .speed(10.0)
                                .suffix(" V"),
                        )
                        .on_hover_text(format!(
                            "Default {:.0} V = {:.1} mm × {:.0} V/cm",
                            r.default_voltage_v, r.spacing_mm, s.ratio_v_per_cm
                        ));
                    if resp.changed() {
                        cmds.push(Command::SetPairVoltage {
                            a: r.a,
                            b: r.b,
                            voltage_v: Some(v),
                            live: resp.dragged(),
                        });
                    }
                    if resp.drag_stopped() {
                        cmds.push(Command::EndDrag);
                    }
                    if r.voltage_edited
                        && ui
                            .small_button("default")
                            .on_hover_text(format!("Back to {:.0} V (spacing × ratio)", r.default_voltage_v))
                            .clicked()
                    {
                        cmds.push(Command::SetPairVoltage {
                            a: r.a,
                            b: r.b,
                            voltage_v: None,
                            live: false,
                        });
                    }
                });
                let found = result.and_then(|res| {
                    let i = res.pairs.iter().position(|p| p.a == r.a && p.b == r.b)?;
                    Some((res, i, &res.pairs[i]))
                });
                let pr = found.map(|(_, _, p)| p);
                match found {
                    Some((res, i, p)) => {
                        // The generator stops on the highest current of the train: with heating
                        // the final one, shown with the first.
                        let max_a = res.pair_max_current_a(i).unwrap_or(p.current_a);
                        let state = crate::plan::ire::generator_limits().current_state(max_a);
                        let over = p.over_limit || state == CurrentState::OverLimit;
                        any_over |= over;
                        let col = if over {
                            WARN
                        } else if state == CurrentState::NearLimit {
                            CAUTION
                        } else {
                            ui.visuals().text_color()
                        };
                        let text = if max_a > p.current_a + 0.05 {
                            format!("{:.1} A, end {max_a:.1} A / {CURRENT_LIMIT_A:.0} A", p.current_a)
                        } else {
                            format!("{:.1} A / {CURRENT_LIMIT_A:.0} A", p.current_a)
                        };
                        ui.label(RichText::new(text).color(col)).on_hover_text(
                            "Predicted current at the start and at the end of the pulse train (the \
                             tissue warms and conducts better); the generator stops above the limit.",
                        );
                    }
                    None => {
                        ui.label("—");
                    }
                }
                let (text, col) = match pr {
                    _ if !r.included => ("not pulsed", Color32::GRAY),
                    None => ("—", Color32::GRAY),
                    Some(p) if p.over_limit => ("over current limit", WARN),
                    Some(_)
                        if found.is_some_and(|(res, i, p)| {
                            let max_a = res.pair_max_current_a(i).unwrap_or(p.current_a);
                            crate::plan::ire::generator_limits().current_state(max_a)
                                == CurrentState::NearLimit
                        }) =>
                    {
                        ("near the limit", CAUTION)
                    }
                    Some(p) if !p.converged => ("not converged", CAUTION),
                    Some(_) => ("ok", GOOD),
                };
                ui.label(RichText::new(text).color(col));
                ui.end_row();
            }
        },
    );
    if any_over {
        ui.label(
            RichText::new(format!(
                "Predicted current above {CURRENT_LIMIT_A:.0} A: the generator stops. Reduce the voltage, \
                 shorten the exposure or widen the spacing."
            ))
            .color(WARN),
        );
    }
    if plan.ire().is_some_and(|p| !p.overrides.is_empty()) && ui.button("Reset pairs").clicked() {
        cmds.push(Command::ResetPairs);
    }
}

/// `extents_mm`: the shown zone's extents ([`super::run::ModelRun::ire_extents`]).
fn model(ui: &mut egui::Ui, app: &AblaApp, extents_mm: Option<[f64; 3]>, cmds: &mut Vec<Command>) {
    let plan = &app.plan;
    if let Some(ire) = plan.ire() {
        model_options(ui, &ire.model, cmds);
    }
    ui.separator();
    super::run_panel::run_status(ui, app, cmds);
    if let Some(r) = app.run.ire_shown() {
        results(ui, app, r, extents_mm, cmds);
    }
}

fn results(
    ui: &mut egui::Ui,
    app: &AblaApp,
    r: &IreResult,
    extents_mm: Option<[f64; 3]>,
    cmds: &mut Vec<Command>,
) {
    let plan = &app.plan;
    if app.run.ire_shown_revision() != plan.revision() {
        ui.label(RichText::new("The zone shown is for an earlier plan.").color(CAUTION));
    }
    ui.label(
        RichText::new(format!(
            "Zone volume {:.1} mL{}",
            r.zone_volume_ml,
            if r.preview { " (preview)" } else { "" }
        ))
        .strong(),
    );
    if let Some(first) = r.pairs.first()
        && let Some(e) = extents_mm
    {
        ui.label(format!(
            "Extents {:.0} mm along the probes × {:.0} mm along pair {} × {:.0} mm perpendicular",
            e[0],
            e[1],
            pair_name(plan, first.a, first.b),
            e[2]
        ));
    }
    ui.label(RichText::new(&r.description).small().weak());
    ui.label(
        RichText::new(format!(
            "{} pair(s), {} CG iterations, {:.2} s",
            r.pairs.len(),
            r.linear_iterations,
            r.elapsed_s
        ))
        .small()
        .weak(),
    );
    if let Some(ms) = app.run.last_preview_ms.filter(|_| r.preview) {
        ui.label(RichText::new(format!("preview took {ms:.1} ms")).small().weak());
    }
    if r.pairs.iter().any(|p| !p.converged) {
        ui.label(
            RichText::new("Some pairs did not converge: use a coarser grid or check the electrodes.")
                .color(CAUTION),
        );
    }
    profile_plot(ui, app, r, cmds);
}

/// |E| along the line through the exposed parts of a chosen pair, with the threshold.
fn profile_plot(ui: &mut egui::Ui, app: &AblaApp, r: &IreResult, cmds: &mut Vec<Command>) {
    use egui_plot::{HLine, Line, Plot, PlotPoints, VLine};
    let plan = &app.plan;
    if r.pairs.is_empty() {
        return;
    }
    let k = app.profile_pair.min(r.pairs.len() - 1);
    let pr = &r.pairs[k];
    egui::ComboBox::from_label("Profile pair")
        .selected_text(pair_name(plan, pr.a, pr.b))
        .show_ui(ui, |ui| {
            for (n, p) in r.pairs.iter().enumerate() {
                if ui.selectable_label(n == k, pair_name(plan, p.a, p.b)).clicked() {
                    cmds.push(Command::SetProfilePair(n));
                }
            }
        });
    let Some((start, end, da, db)) = profile_line(&plan.probes, pr.a, pr.b, PROFILE_EXTEND_MM) else {
        return;
    };
    let pts: Vec<[f64; 2]> = r
        .profile(&start, &end, PROFILE_SAMPLES)
        .into_iter()
        .map(|(d, v)| [d, f64::from(v)])
        .collect();
    let mid = nalgebra::center(&start, &end);
    let threshold = r
        .grid
        .nearest(&mid)
        .and_then(|[i, j, k]| r.threshold_v_per_cm.get(r.grid.index(i, j, k)))
        .map(|t| f64::from(*t))
        .filter(|t| t.is_finite() && *t > 0.0);
    let (la, lb) = (plan.label(pr.a), plan.label(pr.b));
    use super::widgets::{PLOT_COLOURS, PLOT_Y_AXIS_WIDTH, legend_row};
    let (c_e, c_t, c_p) = (PLOT_COLOURS[0], PLOT_COLOURS[1], PLOT_COLOURS[4]);
    let mut legend = vec![("|E| max over pairs".to_string(), c_e)];
    if let Some(t) = threshold {
        legend.push((format!("threshold {t:.0} V/cm"), c_t));
    }
    legend.push((format!("electrodes {la}, {lb}"), c_p));
    Plot::new("ire-profile")
        .height(170.0)
        .allow_scroll(false)
        .x_axis_label("mm along the pair")
        .y_axis_label("|E| V/cm")
        .y_axis_min_width(PLOT_Y_AXIS_WIDTH)
        .include_y(0.0)
        .show(ui, move |p| {
            p.line(Line::new("|E| max over pairs", PlotPoints::from(pts)).color(c_e));
            if let Some(t) = threshold {
                p.hline(HLine::new(format!("threshold {t:.0} V/cm"), t).color(c_t));
            }
            p.vline(VLine::new(format!("electrode {la}"), da).color(c_p));
            p.vline(VLine::new(format!("electrode {lb}"), db).color(c_p));
        });
    legend_row(ui, &legend);
}

/// The along-probe view (written in `probe_view.rs`) in its own window.
pub fn probe_view_window(app: &mut AblaApp, ui: &mut egui::Ui) {
    if !app.show_probe_view {
        return;
    }
    let Some((vol, generation)) = app.loaded.as_ref().map(|l| (l.volume.clone(), l.generation)) else {
        return;
    };
    let window = app.viewer.as_ref().map(|v| v.window);
    let Some(window) = window else { return };
    let mut open = true;
    let ctx = ui.ctx().clone();
    // The cryo overlay the slice views show (measured before the window borrows the app).
    let cryo = if app.is_cryo_plan() {
        let s = app.plan.cryo_settings();
        super::cryo_ui::cryo_view(&mut app.run, &s, app.plan.revision())
    } else {
        None
    };
    let mut cmds = Vec::new();
    let AblaApp {
        probe_view,
        structures,
        plan,
        run,
        trajectory,
        ..
    } = app;
    egui::Window::new("Along-probe view")
        .open(&mut open)
        .default_size([760.0, 460.0])
        .resizable(true)
        .show(&ctx, |ui| {
            let input = super::probe_view::ProbeViewInput {
                volume: &vol,
                volume_generation: generation,
                structures: &structures.items,
                probes: &plan.probes,
                selected: plan.selected.unwrap_or(0),
                zone: super::plan_draw::ZoneRef::of(run, plan),
                cryo: cryo.as_ref(),
                window,
                paths: &trajectory.marks,
            };
            probe_view.show(ui, &input, Some(&mut cmds));
        });
    app.commands.extend(cmds);
    if !open {
        app.commands.push(Command::ShowProbeView(false));
    }
}

/// How the plan panel names probes: a cryo plan speaks of cryoprobes and their active length,
/// an IRE plan of electrodes and their exposure.
pub struct ProbeWords {
    pub noun: &'static str,
    pub active: &'static str,
    pub empty_plan: &'static str,
}

impl ProbeWords {
    pub fn of(cryo: bool) -> Self {
        if cryo {
            ProbeWords {
                noun: "Cryoprobe",
                active: "active length",
                empty_plan: "No cryoprobes. Choose \"Cryoprobe\" in the toolbar and drag from the tip to the \
                             skin entry, or place an array below.",
            }
        } else {
            ProbeWords {
                noun: "Electrode",
                active: "exposure",
                empty_plan: "No electrodes. Choose \"IRE electrode\" in the toolbar and drag from the tip to \
                             the skin entry, or place an array below.",
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isoline_levels_parse() {
        assert_eq!(
            model_options::parse_levels("300, 500 700;1000"),
            Some(vec![300.0, 500.0, 700.0, 1000.0])
        );
        assert_eq!(model_options::parse_levels("300, x"), None);
        assert_eq!(model_options::parse_levels("-5"), None);
        assert_eq!(model_options::parse_levels(""), Some(vec![]));
    }
}
