//! Click-driven structure tools: region grow (with preview before accepting), nerve path
//! (a tube through clicked points), target ellipsoid (three clicks). Their state and the
//! options strip shown under the toolbar while one is active.

use eframe::egui::{self, RichText};

use super::command::{Command, Tool};
use crate::anatomy::StructureKind;
use crate::anatomy::edit::{
    self, GrowStop, HuWindow, REGION_GROW_PRESETS, RegionGrowParams, RegionGrowResult,
};
use crate::geometry::PatientPos;
use crate::jobs::Job;

/// Settings and pending result of the region-grow tool.
pub struct RegionGrow {
    pub preset: usize,
    pub window: HuWindow,
    pub max_volume_ml: f64,
    pub job: Option<Job<Result<RegionGrowResult, edit::RegionGrowError>>>,
    pub preview: Option<RegionGrowResult>,
    pub seed_lps: Option<[f64; 3]>,
    /// Bumped whenever the preview changes (part of the overlay cache key).
    pub preview_revision: u64,
}

impl Default for RegionGrow {
    fn default() -> Self {
        Self {
            preset: 0,
            window: REGION_GROW_PRESETS[0].window,
            max_volume_ml: 250.0,
            job: None,
            preview: None,
            seed_lps: None,
            preview_revision: 0,
        }
    }
}

impl RegionGrow {
    pub fn params(&self) -> RegionGrowParams {
        RegionGrowParams {
            window: self.window,
            max_volume_ml: self.max_volume_ml,
            bounds: None,
        }
    }

    /// The kind a grown region most likely is, from the preset used.
    pub fn kind(&self) -> StructureKind {
        match REGION_GROW_PRESETS.get(self.preset).map(|p| p.name) {
            Some("Contrast vessel") => StructureKind::Vessel,
            Some("Bowel gas") => StructureKind::Bowel,
            _ => StructureKind::Other,
        }
    }
}

/// State of all click tools.
pub struct ClickTools {
    pub grow: RegionGrow,
    pub nerve_points: Vec<PatientPos>,
    pub nerve_radius_mm: f64,
    pub ellipsoid_clicks: Vec<PatientPos>,
}

impl Default for ClickTools {
    fn default() -> Self {
        Self {
            grow: RegionGrow::default(),
            nerve_points: Vec::new(),
            // Nerves are rarely visible on CT; 2 mm radius approximates a lumbar plexus branch.
            nerve_radius_mm: 2.0,
            ellipsoid_clicks: Vec::new(),
        }
    }
}

/// Points to mark in the views for the active tool.
pub fn markers(tool: Tool, t: &ClickTools) -> &[PatientPos] {
    match tool {
        Tool::NervePath => &t.nerve_points,
        Tool::TargetEllipsoid => &t.ellipsoid_clicks,
        _ => &[],
    }
}

/// The options strip for the active tool.
pub fn options(ui: &mut egui::Ui, tool: Tool, t: &ClickTools, cmds: &mut Vec<Command>) {
    match tool {
        Tool::RegionGrow => region_grow_options(ui, &t.grow, cmds),
        Tool::NervePath => {
            ui.horizontal(|ui| {
                ui.label(RichText::new("Nerve path").strong());
                ui.label(format!(
                    "Click points along the nerve on any slices ({} so far).",
                    t.nerve_points.len()
                ));
                let mut r = t.nerve_radius_mm;
                if ui
                    .add(
                        egui::DragValue::new(&mut r)
                            .range(0.5..=10.0)
                            .speed(0.1)
                            .suffix(" mm"),
                    )
                    .on_hover_text("Tube radius")
                    .changed()
                {
                    cmds.push(Command::SetNerveRadius(r));
                }
                if ui
                    .add_enabled(t.nerve_points.len() >= 2, egui::Button::new("Finish nerve"))
                    .clicked()
                {
                    cmds.push(Command::FinishNervePath);
                }
                if ui
                    .add_enabled(!t.nerve_points.is_empty(), egui::Button::new("Remove last point"))
                    .clicked()
                {
                    cmds.push(Command::RemoveLastPoint);
                }
                if ui
                    .add_enabled(!t.nerve_points.is_empty(), egui::Button::new("Clear points"))
                    .clicked()
                {
                    cmds.push(Command::ClearToolPoints);
                }
            });
        }
        Tool::TargetEllipsoid => {
            ui.horizontal(|ui| {
                ui.label(RichText::new("Target ellipsoid").strong());
                let step = match t.ellipsoid_clicks.len() {
                    0 => "Click one end of the long axis.",
                    1 => "Click the other end of the long axis.",
                    _ => "Click beside the axis to set the short radius.",
                };
                ui.label(step);
                if ui
                    .add_enabled(!t.ellipsoid_clicks.is_empty(), egui::Button::new("Clear points"))
                    .clicked()
                {
                    cmds.push(Command::ClearToolPoints);
                }
            });
        }
        Tool::Probe => {
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new("IRE electrode").strong());
                ui.label(
                    "Press at the tip and drag to the skin entry (in the view's plane). Drag the tip, \
                     the entry or the shaft of an electrode to move it; click to select; Delete removes \
                     the selected one. Arrays: see the Plan panel.",
                );
            });
        }
        _ => {}
    }
}

fn region_grow_options(ui: &mut egui::Ui, g: &RegionGrow, cmds: &mut Vec<Command>) {
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("Region grow").strong());
        let mut preset = g.preset;
        egui::ComboBox::from_id_salt("grow-preset")
            .selected_text(
                REGION_GROW_PRESETS
                    .get(preset)
                    .map(|p| p.name)
                    .unwrap_or("Custom"),
            )
            .show_ui(ui, |ui| {
                for (n, p) in REGION_GROW_PRESETS.iter().enumerate() {
                    ui.selectable_value(&mut preset, n, p.name).on_hover_text(p.note);
                }
            });
        let mut w = g.window;
        let mut max_ml = g.max_volume_ml;
        ui.add(
            egui::DragValue::new(&mut w.min_hu)
                .range(-1024..=3071)
                .prefix("min ")
                .suffix(" HU"),
        );
        ui.add(
            egui::DragValue::new(&mut w.max_hu)
                .range(-1024..=3071)
                .prefix("max ")
                .suffix(" HU"),
        );
        ui.add(
            egui::DragValue::new(&mut max_ml)
                .range(1.0..=5000.0)
                .prefix("stop at ")
                .suffix(" mL"),
        )
        .on_hover_text("Leak guard: growth stops at this volume");
        if preset != g.preset {
            cmds.push(Command::SetGrowPreset(preset));
        } else if w != g.window || max_ml != g.max_volume_ml {
            cmds.push(Command::SetGrowWindow {
                window: w,
                max_volume_ml: max_ml,
            });
        }
        if g.job.is_some() {
            ui.spinner();
            ui.label("growing…");
        } else if let Some(p) = &g.preview {
            let stop = match p.stop {
                GrowStop::Complete => "complete".to_string(),
                GrowStop::LeakGuard { reached_ml } => {
                    format!("stopped by the leak guard at {reached_ml:.0} mL")
                }
            };
            ui.label(format!("Preview: {:.1} mL, {stop}", p.volume_ml));
            if ui.button("Accept as new structure").clicked() {
                cmds.push(Command::AcceptGrow {
                    add_to_selected: false,
                });
            }
            if ui.button("Add to selected").clicked() {
                cmds.push(Command::AcceptGrow {
                    add_to_selected: true,
                });
            }
            if ui.button("Discard").clicked() {
                cmds.push(Command::ClearToolPoints);
            }
        } else {
            ui.label("Click a seed voxel inside the structure.");
        }
    });
}
