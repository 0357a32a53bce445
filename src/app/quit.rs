//! Quitting with unsaved changes asks first (eframe's close request is cancelled until the user
//! chose): save and quit, quit without saving (the work still goes to the recovery file), or
//! stay.

use eframe::egui::{self, ViewportCommand};

use super::{AblaApp, Command};

/// Where a close request stands.
#[derive(Default)]
pub struct QuitState {
    /// The question is on screen.
    pub asking: bool,
    /// The user chose to quit: the next close request goes through.
    allowed: bool,
    /// "Save and quit": close as soon as the save went through.
    save_then_close: bool,
}

impl AblaApp {
    /// Whether the "Unsaved changes" question is on screen.
    pub fn asking_to_quit(&self) -> bool {
        self.quit.asking
    }

    /// Cancels a close request while there are unsaved changes, and asks.
    pub(super) fn handle_close_request(&mut self, ctx: &egui::Context) {
        if self.quit.save_then_close && !self.has_unsaved_changes() {
            self.quit.allowed = true;
            ctx.send_viewport_cmd(ViewportCommand::Close);
        }
        let requested = ctx.input(|i| i.viewport().close_requested());
        if requested && !self.quit.allowed && self.has_unsaved_changes() {
            ctx.send_viewport_cmd(ViewportCommand::CancelClose);
            self.quit.asking = true;
        }
    }

    /// The question itself.
    pub(super) fn quit_window(&mut self, ctx: &egui::Context) {
        if !self.quit.asking {
            return;
        }
        let mut cmds = Vec::new();
        egui::Window::new("Unsaved changes")
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                ui.label(format!(
                    "\"{}\" has changes that are not saved to a case file.",
                    self.case.name
                ));
                ui.label("Quitting without saving keeps them in the recovery file for the next start.");
                ui.horizontal(|ui| {
                    if ui.button("Save and quit").clicked() {
                        self.quit.asking = false;
                        self.quit.save_then_close = true;
                        cmds.push(Command::SaveCase);
                    }
                    if ui.button("Quit without saving").clicked() {
                        self.quit.asking = false;
                        self.quit.allowed = true;
                        ctx.send_viewport_cmd(ViewportCommand::Close);
                    }
                    if ui.button("Cancel").clicked() {
                        self.quit.asking = false;
                    }
                });
            });
        self.commands.extend(cmds);
    }
}
