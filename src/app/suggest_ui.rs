//! "Suggest plan" in the Plan panel (issue 16): the suggestion (`crate::suggest`) as a
//! cancellable job with progress; its proposals listed with coverage, margin, closest critical
//! structure and why; "Accept" puts one into the plan as one undo step.

use eframe::egui;

use super::command::Command;
use super::{AblaApp, NoticeLevel};
use crate::anatomy::body::BodyMask;
use crate::jobs::{Job, Progress};
use crate::plan::trajectory::trajectory_limits;
use crate::suggest::{SuggestRequest, Suggestion, suggest};

/// The suggestion's job and its last answer.
#[derive(Default)]
pub(super) struct SuggestUi {
    job: Option<Job<Result<Suggestion, String>>>,
    result: Option<Suggestion>,
    error: Option<String>,
}

impl AblaApp {
    /// The last suggestion (tests, the panel).
    pub fn suggestion(&self) -> Option<&Suggestion> {
        self.suggest.result.as_ref()
    }

    /// Whether a suggestion is being searched.
    pub fn suggest_running(&self) -> bool {
        self.suggest.job.is_some()
    }

    /// Starts the suggestion on the loaded scene, structures, rules and the plan's model.
    pub(super) fn start_suggest(&mut self) {
        if self.suggest.job.is_some() {
            return;
        }
        let Some(loaded) = &self.loaded else {
            self.notify(
                NoticeLevel::Warning,
                "Open a CT or a case before asking for a suggestion",
            );
            return;
        };
        let rules = match &self.safety.rules {
            Ok(r) => r.clone(),
            Err(e) => {
                let e = e.clone();
                self.notify(NoticeLevel::Warning, e);
                return;
            }
        };
        let assets = match self.run.assets() {
            Ok(a) => a,
            Err(e) => {
                self.notify(NoticeLevel::Warning, e);
                return;
            }
        };
        let settings = self.plan.model_settings();
        let probe_model = match self.placement_model() {
            Ok((id, _)) => id,
            Err(e) => {
                self.notify(NoticeLevel::Warning, e);
                return;
            }
        };
        let volume = loaded.volume.clone();
        let phantom = loaded.phantom.clone();
        let structures = self.structures.items.clone();
        let limits = crate::pipeline::suggest::default_limits(&settings, &probe_model, &assets);
        let work = move |ctx: &crate::jobs::JobCtx| {
            ctx.progress.set_message("suggest: body outline");
            let t = trajectory_limits();
            let body = BodyMask::from_volume(&volume, t.body_threshold());
            let req = SuggestRequest {
                tissue: super::run::scene_tissue(&volume, phantom.as_ref(), &structures),
                volume: Some(&volume),
                body: Some(&body),
                structures: &structures,
                structure_geometry: &volume.geometry,
                rules: rules.as_ref(),
                settings,
                probe_model,
                assets: &assets,
                limits,
                trajectory: t,
                phantom_depth_mm: 100.0,
            };
            suggest(&req, ctx).map_err(|e| e.to_string())
        };
        let ctx = self.ctx.clone();
        match Job::spawn(
            "suggest",
            self.plan.revision(),
            Progress::with_waker(move || ctx.request_repaint()),
            work,
        ) {
            Ok(job) => {
                self.suggest.job = Some(job);
                self.suggest.error = None;
            }
            Err(e) => self.notify(NoticeLevel::Error, format!("cannot start the suggestion: {e}")),
        }
    }

    pub(super) fn cancel_suggest(&mut self) {
        if let Some(job) = self.suggest.job.take() {
            job.cancel();
        }
    }

    /// Takes a finished suggestion (every frame).
    pub(super) fn poll_suggest(&mut self) {
        let Some(job) = self.suggest.job.as_mut() else {
            return;
        };
        if let Some(out) = job.poll() {
            self.suggest.job = None;
            match out {
                Ok(Ok(s)) => self.suggest.result = Some(s),
                Ok(Err(e)) => self.suggest.error = Some(e),
                Err(e) => self.suggest.error = Some(e.to_string()),
            }
        }
    }

    /// Puts proposal `i` into the plan: its probes and, for IRE, its pulse settings — one undo
    /// step.
    pub(super) fn accept_suggestion(&mut self, i: usize) {
        let Some(p) = self.suggest.result.as_ref().and_then(|s| s.proposals.get(i)) else {
            return;
        };
        let (probes, settings) = (p.probes.clone(), p.settings.clone());
        self.plan.replace_probes_and_settings(probes, settings);
    }
}

/// The "Suggest plan" section of the Plan panel.
pub(super) fn suggest_section(ui: &mut egui::Ui, app: &AblaApp, cmds: &mut Vec<Command>) {
    match &app.suggest.job {
        Some(job) => {
            ui.horizontal(|ui| {
                ui.add(egui::ProgressBar::new(job.progress().fraction()).text(job.progress().message()));
                if ui.button("Cancel suggestion").clicked() {
                    cmds.push(Command::CancelSuggestion);
                }
            });
        }
        None => {
            if ui
                .button("Suggest plan")
                .on_hover_text(
                    "Searches paths from the skin and arrays that cover the target + margin within the \
                     hard rules, confirmed with the full model",
                )
                .clicked()
            {
                cmds.push(Command::SuggestPlan);
            }
        }
    }
    if let Some(e) = &app.suggest.error {
        ui.colored_label(egui::Color32::from_rgb(220, 120, 60), e);
    }
    let Some(s) = &app.suggest.result else {
        return;
    };
    ui.label(format!(
        "{} arrays searched, {} full-model runs, {:.1} s",
        s.arrays_searched, s.full_runs, s.elapsed_s
    ));
    for m in &s.impossible {
        ui.label(format!("- {m}"));
    }
    for (i, p) in s.proposals.iter().enumerate() {
        ui.separator();
        ui.label(format!(
            "{}. {} probes: target {:.0} %, target + {:.0} mm {:.0} %, min margin {}{}",
            p.rank,
            p.n_probes,
            100.0 * p.coverage_target,
            p.margin_goal_mm,
            100.0 * p.coverage_target_margin,
            p.min_margin_mm.map_or("-".into(), |m| format!("{m:.1} mm")),
            if p.meets_rules {
                ""
            } else {
                " (breaks a hard rule)"
            }
        ));
        for w in &p.why {
            ui.small(w.replace('→', "to").replace('≥', ">="));
        }
        if ui
            .button(format!("Accept proposal {}", p.rank))
            .on_hover_text("Replaces the probes by this proposal (Ctrl+Z brings them back)")
            .clicked()
        {
            cmds.push(Command::AcceptSuggestion(i));
        }
    }
}

/// The probe's direction as CT-guided angles (in-plane, cranio-caudal; `anatomy::body`), typed
/// or dragged: the tip stays, the entry turns about it at the same distance.
pub(super) fn angle_row(ui: &mut egui::Ui, i: usize, p: &crate::plan::probe::Probe, cmds: &mut Vec<Command>) {
    use crate::anatomy::body::{angles_from_direction, direction_from_angles};
    let Some((ip0, cc0)) = angles_from_direction(&(p.tip_lps - p.entry_lps)) else {
        return;
    };
    ui.horizontal(|ui| {
        let (mut ip, mut cc) = (ip0, cc0);
        let l = ui.label("In-plane angle");
        let r1 = ui
            .add(
                egui::DragValue::new(&mut ip)
                    .range(0.0..=360.0)
                    .speed(1.0)
                    .suffix(" deg"),
            )
            .labelled_by(l.id)
            .on_hover_text(
                "Axial angle of the path: 0 anterior, 90 from the left, 180 posterior, 270 from the right",
            );
        let l = ui.label("Cranio-caudal angle");
        let r2 = ui
            .add(
                egui::DragValue::new(&mut cc)
                    // ±90: a path along the body axis (the axial-normal default) is 90°, and a
                    // narrower range would clamp it, which DragValue reports as a change.
                    .range(-90.0..=90.0)
                    .speed(1.0)
                    .suffix(" deg"),
            )
            .labelled_by(l.id)
            .on_hover_text("Out of the axial plane: positive when the entry is cranial to the tip");
        let moved = (ip - ip0).abs() > 1e-9 || (cc - cc0).abs() > 1e-9;
        if (r1.changed() || r2.changed()) && moved && ip.is_finite() && cc.is_finite() {
            let entry_lps = p.tip_lps - direction_from_angles(ip, cc) * p.length_mm();
            let dragged = r1.dragged() || r2.dragged();
            cmds.push(if dragged {
                Command::MoveProbe {
                    index: i,
                    tip_lps: p.tip_lps,
                    entry_lps,
                }
            } else {
                Command::SetProbe {
                    index: i,
                    probe: crate::plan::probe::Probe {
                        entry_lps,
                        ..p.clone()
                    },
                }
            });
        }
        if r1.drag_stopped() || r2.drag_stopped() {
            cmds.push(Command::EndDrag);
        }
    });
}
