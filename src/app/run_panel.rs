//! The model's status in the plan panel, for either modality: progress with Cancel, full model,
//! preview, the error that stops it; and Recompute.

use eframe::egui::{self, Color32, RichText};

use super::command::Command;
use super::widgets::c32;
use super::{AblaApp, RunStatus};
use crate::render::palette;

const WARN: Color32 = c32(palette::TEXT_WARN);
const CAUTION: Color32 = c32(palette::TEXT_CAUTION);
const GOOD: Color32 = c32(palette::TEXT_GOOD);

/// What the run status says, per modality.
struct StatusTexts {
    idle: &'static str,
    computing: &'static str,
    preview: &'static str,
    cancel: &'static str,
    recompute: &'static str,
}

/// The model's status in the plan panel, for either modality: progress with Cancel, full model,
/// preview, the error that stops it; and Recompute.
pub fn run_status(ui: &mut egui::Ui, app: &AblaApp, cmds: &mut Vec<Command>) {
    let (t, can_run) = match app.plan.modality() {
        crate::plan::catalog::Modality::Ire => (
            StatusTexts {
                idle: "The zone is computed as soon as two or more electrodes are placed.",
                computing: "Computing the IRE zone",
                preview: "PREVIEW (fast approximation) — the full model runs when the drag ends",
                cancel: "Cancel IRE computation",
                recompute: "Recompute zone",
            },
            app.plan.probes.len() >= 2,
        ),
        crate::plan::catalog::Modality::Cryo => (
            StatusTexts {
                idle: "The iceball is computed as soon as a cryoprobe is placed.",
                computing: "Computing the iceball",
                preview: "PREVIEW (catalog ellipsoids, probes do not interact) — the full model runs when the drag ends",
                cancel: "Cancel cryo computation",
                recompute: "Recompute iceball",
            },
            !app.plan.probes.is_empty(),
        ),
    };
    match &app.run.status {
        RunStatus::Idle => {
            ui.label(t.idle);
        }
        RunStatus::Computing => match app.run.progress() {
            Some(p) => {
                let msg = p.message();
                ui.add(
                    egui::ProgressBar::new(p.fraction())
                        .text(if msg.is_empty() {
                            t.computing.to_string()
                        } else {
                            format!("Computing: {msg}")
                        })
                        .animate(true),
                );
                if ui.button(t.cancel).clicked() {
                    cmds.push(Command::CancelModel);
                }
            }
            None => {
                ui.label("The full model runs when the drag ends.");
            }
        },
        RunStatus::Done => {
            ui.label(RichText::new("Full model").color(GOOD));
        }
        RunStatus::Preview => {
            ui.label(RichText::new(t.preview).color(CAUTION));
        }
        RunStatus::Error(m) => {
            ui.label(RichText::new(m).color(WARN));
        }
        RunStatus::Cancelled => {
            ui.label("Computation cancelled.");
        }
    }
    if ui
        .add_enabled(can_run && !app.run.running(), egui::Button::new(t.recompute))
        .clicked()
    {
        cmds.push(Command::RunModel);
    }
}
