//! The IRE model options of the plan panel (grid, σ(E), zone criterion, isolines, band, heating).

use super::*;

pub(super) fn model_options(ui: &mut egui::Ui, o: &IreModelOptions, cmds: &mut Vec<Command>) {
    let mut n = o.clone();
    ui.horizontal(|ui| {
        egui::ComboBox::from_label("Grid spacing")
            .selected_text(format!("{} mm", n.spacing_mm))
            .show_ui(ui, |ui| {
                for s in GRID_SPACINGS_MM {
                    ui.selectable_value(&mut n.spacing_mm, s, format!("{s} mm"));
                }
            });
        ui.checkbox(&mut n.nonlinear, "Nonlinear σ(E)")
            .on_hover_text("Conductivity rises with the field (REFERENCE.md §2); off = constant σ0");
    });
    ui.horizontal(|ui| {
        let label = match n.zone {
            ZoneCriterion::TissueThreshold => "Tissue thresholds",
            ZoneCriterion::Fixed { .. } => "Fixed threshold",
            ZoneCriterion::PelegFermi { .. } => "Peleg–Fermi survival",
        };
        egui::ComboBox::from_label("Zone")
            .selected_text(label)
            .show_ui(ui, |ui| {
                if ui
                    .selectable_label(
                        matches!(n.zone, ZoneCriterion::TissueThreshold),
                        "Tissue thresholds",
                    )
                    .on_hover_text("Each tissue class's lethal threshold (assets/tissues_ire.json)")
                    .clicked()
                {
                    n.zone = ZoneCriterion::TissueThreshold;
                }
                if ui
                    .selectable_label(matches!(n.zone, ZoneCriterion::Fixed { .. }), "Fixed threshold")
                    .clicked()
                    && !matches!(n.zone, ZoneCriterion::Fixed { .. })
                {
                    // The human-liver CT match of 500–600 V/cm (REFERENCE.md §2) as a start.
                    n.zone = ZoneCriterion::Fixed {
                        threshold_v_per_cm: 550.0,
                    };
                }
                if ui
                    .selectable_label(
                        matches!(n.zone, ZoneCriterion::PelegFermi { .. }),
                        "Peleg–Fermi survival",
                    )
                    .clicked()
                    && !matches!(n.zone, ZoneCriterion::PelegFermi { .. })
                {
                    n.zone = ZoneCriterion::PelegFermi { max_survival: 0.1 };
                }
            });
        // Typed, not dragged: every change restarts the full model.
        match &mut n.zone {
            ZoneCriterion::Fixed { threshold_v_per_cm } => {
                ui.add(
                    egui::DragValue::new(threshold_v_per_cm)
                        .range(50.0..=3000.0)
                        .speed(0.0)
                        .suffix(" V/cm"),
                )
                .on_hover_text("Click to type the threshold");
            }
            ZoneCriterion::PelegFermi { max_survival } => {
                ui.add(
                    egui::DragValue::new(max_survival)
                        .range(0.001..=0.999)
                        .speed(0.0)
                        .prefix("S < "),
                )
                .on_hover_text("Lethal where the surviving fraction after the pulses is below this");
            }
            ZoneCriterion::TissueThreshold => {}
        }
    });
    ui.horizontal(|ui| {
        let l = ui.label("Isolines");
        let id = ui.make_persistent_id("ire-isolines-text");
        let current = n
            .isolines_v_per_cm
            .iter()
            .map(|v| format!("{v:.0}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut text = ui.data_mut(|d| d.get_temp::<String>(id)).unwrap_or(current);
        let r = ui
            .add(egui::TextEdit::singleline(&mut text).desired_width(140.0))
            .labelled_by(l.id)
            .on_hover_text("|E| isolines in V/cm, separated by commas");
        ui.label("V/cm");
        if r.changed() {
            ui.data_mut(|d| d.insert_temp(id, text.clone()));
        }
        if r.lost_focus() {
            ui.data_mut(|d| d.remove::<String>(id));
            if let Some(levels) = parse_levels(&text) {
                n.isolines_v_per_cm = levels;
            }
        }
    });
    if n != *o {
        cmds.push(Command::SetModelOptions(n));
    }
}

/// "300, 500 700" → [300, 500, 700]; `None` when any entry is not a positive number.
pub fn parse_levels(text: &str) -> Option<Vec<f64>> {
    let v: Option<Vec<f64>> = text
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|t| !t.is_empty())
        .map(|t| t.parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0))
        .collect();
    v.filter(|v| v.len() <= 8)
}
