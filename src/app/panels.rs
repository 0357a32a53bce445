//! Menus, toolbar, status bar and the windows (series picker, series report, settings).

use eframe::egui::{self, Color32, RichText};

use super::command::{Command, OpenDialog, Tool};
use super::settings::{Layout, MouseMap, WlPreset, default_presets};
use super::{AblaApp, NoticeLevel, Thumb};

pub fn menu_bar(app: &mut AblaApp, ui: &mut egui::Ui) {
    let mut cmds = Vec::new();
    egui::Panel::top("menu").show(ui, |ui| {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if ui.button("Open folder…").clicked() {
                    cmds.push(Command::OpenDialog(OpenDialog::Folder));
                    ui.close();
                }
                if ui.button("Open file or DICOMDIR…").clicked() {
                    cmds.push(Command::OpenDialog(OpenDialog::Files));
                    ui.close();
                }
                let can_import = app.volume().is_some();
                if ui
                    .add_enabled(
                        can_import,
                        egui::Button::new("Import structures (RTSTRUCT, SEG, NIfTI)…"),
                    )
                    .clicked()
                {
                    cmds.push(Command::OpenDialog(OpenDialog::Structures));
                    ui.close();
                }
                if ui
                    .add_enabled(can_import, egui::Button::new("Import structures from a folder…"))
                    .clicked()
                {
                    cmds.push(Command::OpenDialog(OpenDialog::StructureFolder));
                    ui.close();
                }
                ui.menu_button("Recent", |ui| {
                    if app.settings.recent.is_empty() {
                        ui.label("(none)");
                    }
                    for p in &app.settings.recent {
                        if ui.button(p.display().to_string()).clicked() {
                            cmds.push(Command::Open(vec![p.clone()]));
                            ui.close();
                        }
                    }
                });
                super::pacs::received_menu(app, ui, &mut cmds);
                if ui.button("Open demo case").clicked() {
                    cmds.push(Command::OpenDemo);
                    ui.close();
                }
                ui.separator();
                if ui.button("Open case…").clicked() {
                    cmds.push(Command::OpenDialog(OpenDialog::Case));
                    ui.close();
                }
                let can_save = app.volume().is_some();
                if ui
                    .add_enabled(can_save, egui::Button::new("Save case").shortcut_text("Ctrl+S"))
                    .clicked()
                {
                    cmds.push(Command::SaveCase);
                    ui.close();
                }
                if ui
                    .add_enabled(can_save, egui::Button::new("Save case as…"))
                    .clicked()
                {
                    cmds.push(Command::OpenDialog(OpenDialog::SaveCase));
                    ui.close();
                }
                ui.separator();
                let mut o = app.export_run().options;
                ui.horizontal(|ui| {
                    ui.label("Export scale");
                    for k in [1, 2, 4] {
                        if ui.selectable_label(o.scale == k, format!("{k}×")).clicked() {
                            o.scale = k;
                            cmds.push(Command::SetExportOptions(o));
                        }
                    }
                });
                if ui.checkbox(&mut o.anonymise, "Anonymise exports").changed() {
                    cmds.push(Command::SetExportOptions(o));
                }
                if ui
                    .checkbox(&mut o.on_screen, "Export the view as on screen (zoom, pan)")
                    .on_hover_text("Off: the whole slice")
                    .changed()
                {
                    cmds.push(Command::SetExportOptions(o));
                }
                if ui
                    .add_enabled(can_save, egui::Button::new("Export view as PNG…"))
                    .clicked()
                {
                    cmds.push(Command::OpenDialog(OpenDialog::ExportView));
                    ui.close();
                }
                if ui
                    .add_enabled(can_save, egui::Button::new("Export layout as PNG…"))
                    .clicked()
                {
                    cmds.push(Command::OpenDialog(OpenDialog::ExportLayout));
                    ui.close();
                }
                if ui
                    .add_enabled(can_save, egui::Button::new("Export 3D view as PNG…"))
                    .clicked()
                {
                    cmds.push(Command::OpenDialog(OpenDialog::Export3d));
                    ui.close();
                }
                if ui
                    .add_enabled(can_save, egui::Button::new("Export board slide…"))
                    .clicked()
                {
                    cmds.push(Command::OpenDialog(OpenDialog::ExportSlide));
                    ui.close();
                }
                if ui
                    .add_enabled(can_save, egui::Button::new("Export to DICOM…"))
                    .on_hover_text(
                        "SEG and RTSTRUCT of the structures and zones, Secondary Captures of the board slide \
                         and the active view, into the CT's study (honours \"Anonymise exports\")",
                    )
                    .clicked()
                {
                    cmds.push(Command::OpenDialog(OpenDialog::ExportDicom));
                    ui.close();
                }
                ui.separator();
                if ui.button("Quit").clicked() {
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Close);
                }
            });
            ui.menu_button("View", |ui| {
                for l in Layout::ALL {
                    if ui
                        .radio(app.settings.layout == l, format!("Layout {}", l.label()))
                        .clicked()
                    {
                        cmds.push(Command::SetLayout(l));
                        ui.close();
                    }
                }
                ui.separator();
                super::view3d::menu(app, ui, &mut cmds);
                ui.separator();
                if ui.button("Reset zoom and pan (R)").clicked() {
                    cmds.push(Command::ResetView);
                    ui.close();
                }
                let mut ann = app.settings.show_annotations;
                if ui.checkbox(&mut ann, "Annotations (Space / I)").clicked() {
                    cmds.push(Command::ToggleAnnotations);
                }
                let mut anon = app.settings.anonymise;
                if ui.checkbox(&mut anon, "Anonymise overlays").clicked() {
                    cmds.push(Command::SetAnonymise(anon));
                }
                if ui.button("Clear rulers").clicked() {
                    cmds.push(Command::ClearRulers);
                    ui.close();
                }
                ui.separator();
                let mut plan = app.show_plan_panel;
                if ui.checkbox(&mut plan, "Plan panel (electrodes, IRE)").clicked() {
                    cmds.push(Command::ShowPlanPanel(plan));
                }
                let mut along = app.show_probe_view;
                if ui.checkbox(&mut along, "Along-probe view").clicked() {
                    cmds.push(Command::ShowProbeView(along));
                }
                ui.separator();
                if ui.button("Series report…").clicked() {
                    cmds.push(Command::ShowReport(true));
                    ui.close();
                }
            });
            plan_menu(app, ui, &mut cmds);
            ui.menu_button("Review", |ui| {
                if ui.button("Case library…").clicked() {
                    cmds.push(Command::ShowLibrary(true));
                    if app.review_ui().library_dir.is_none() {
                        cmds.push(Command::OpenDialog(OpenDialog::Library));
                    }
                    ui.close();
                }
                if ui.button("Case details and outcome…").clicked() {
                    cmds.push(Command::ShowCaseDetails(true));
                    ui.close();
                }
                if ui.button("Review this case…").clicked() {
                    cmds.push(Command::ShowReview(true));
                    ui.close();
                }
                if ui
                    .add_enabled(
                        app.volume().is_some(),
                        egui::Button::new("Export anonymised copy…"),
                    )
                    .clicked()
                {
                    cmds.push(Command::OpenDialog(OpenDialog::ExportAnonymised));
                    ui.close();
                }
            });
            if ui.button("Settings…").clicked() {
                cmds.push(Command::ShowSettings(true));
            }
            let case = app.case();
            let unsaved = if app.has_unsaved_changes() {
                " (unsaved)"
            } else {
                ""
            };
            let plan = case
                .plan_names()
                .get(case.active_plan())
                .cloned()
                .unwrap_or_default();
            ui.separator();
            ui.label(format!("Case: {}{unsaved} · {plan}", case.name))
                .on_hover_text(
                    case.path
                        .as_ref()
                        .map_or("Not saved yet".into(), |p| p.display().to_string()),
                );
        });
    });
    let save = egui::KeyboardShortcut::new(egui::Modifiers::COMMAND, egui::Key::S);
    if ui.input_mut(|i| i.consume_shortcut(&save)) {
        cmds.push(Command::SaveCase);
    }
    app.commands.extend(cmds);
}

/// The plans of the case: switch, add, duplicate, rename.
fn plan_menu(app: &AblaApp, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    ui.menu_button("Plans", |ui| {
        let case = app.case();
        for (i, name) in case.plan_names().iter().enumerate() {
            if ui.radio(i == case.active_plan(), name).clicked() {
                cmds.push(Command::SelectPlan(i));
                ui.close();
            }
        }
        ui.separator();
        if ui.button("New empty plan").clicked() {
            cmds.push(Command::NewPlan { copy: false });
            ui.close();
        }
        if ui.button("Duplicate this plan").clicked() {
            cmds.push(Command::NewPlan { copy: true });
            ui.close();
        }
        if ui.button("Compare plans…").clicked() {
            cmds.push(Command::ShowReview(true));
            ui.close();
        }
        ui.horizontal(|ui| {
            let label = ui.label("Plan name");
            let mut name = case
                .plan_names()
                .get(case.active_plan())
                .cloned()
                .unwrap_or_default();
            if ui
                .add(egui::TextEdit::singleline(&mut name).desired_width(160.0))
                .labelled_by(label.id)
                .changed()
            {
                cmds.push(Command::RenamePlan(name));
            }
        });
    });
}

pub fn toolbar(app: &mut AblaApp, ui: &mut egui::Ui) {
    let mut cmds = Vec::new();
    egui::Panel::top("toolbar").show(ui, |ui| {
        ui.horizontal_wrapped(|ui| {
            super::safety_ui::traffic_light(app, ui, &mut cmds);
            ui.separator();
            ui.label("Layout");
            for l in Layout::ALL {
                if ui.selectable_label(app.settings.layout == l, l.label()).clicked() {
                    cmds.push(Command::SetLayout(l));
                }
            }
            ui.separator();
            if ui
                .selectable_label(app.tool == Tool::Navigate, "Navigate")
                .on_hover_text(app.settings.mouse_map.label())
                .clicked()
            {
                cmds.push(Command::SetTool(Tool::Navigate));
            }
            if ui
                .selectable_label(app.tool == Tool::Ruler, "Ruler")
                .on_hover_text("Left-drag to measure a distance in mm (M)")
                .clicked()
            {
                cmds.push(Command::SetTool(Tool::Ruler));
            }
            if ui
                .selectable_label(app.tool == Tool::Brush, "Brush")
                .on_hover_text("Left-drag paints the selected structure (B)")
                .clicked()
            {
                cmds.push(Command::SetTool(Tool::Brush));
            }
            if ui
                .selectable_label(app.tool == Tool::Eraser, "Eraser")
                .on_hover_text("Left-drag erases from the selected structure (E)")
                .clicked()
            {
                cmds.push(Command::SetTool(Tool::Eraser));
            }
            for (tool, label, hint) in [
                (
                    Tool::RegionGrow,
                    "Grow",
                    "Click a seed: 3-D region grow within an HU window, preview, then accept",
                ),
                (
                    Tool::NervePath,
                    "Nerve path",
                    "Click points along a nerve; Finish makes a tube (default 2 mm radius)",
                ),
                (
                    Tool::TargetEllipsoid,
                    "Ellipsoid",
                    "Three clicks: both ends of the long axis, then the short radius",
                ),
            ] {
                if ui
                    .selectable_label(app.tool == tool, label)
                    .on_hover_text(hint)
                    .clicked()
                {
                    cmds.push(Command::SetTool(tool));
                }
            }
            probe_tools(ui, app, &mut cmds);
            if matches!(app.tool, Tool::Brush | Tool::Eraser) {
                let mut b = app.brush;
                ui.add(
                    egui::DragValue::new(&mut b.radius_mm)
                        .range(0.5..=50.0)
                        .speed(0.1)
                        .suffix(" mm"),
                )
                .on_hover_text("Brush radius");
                ui.checkbox(&mut b.sphere, "3-D")
                    .on_hover_text("Sphere through neighbouring slices");
                if b != app.brush {
                    cmds.push(Command::SetBrush(b));
                }
            }
            ui.separator();
            ui.label("W/L");
            let current = app.viewer.as_ref().and_then(|v| v.window_label.clone());
            for (n, p) in app.settings.presets.iter().enumerate() {
                let key = if n < 9 {
                    format!(" [{}]", n + 1)
                } else {
                    String::new()
                };
                let selected = current.as_deref() == Some(p.name.as_str());
                if ui
                    .selectable_label(selected, &p.name)
                    .on_hover_text(format!("W {} / L {}{key}", p.width_hu, p.center_hu))
                    .clicked()
                {
                    cmds.push(Command::ApplyPreset(n));
                }
            }
            let has_default = app.volume().is_some_and(|v| v.meta.default_window.is_some());
            if ui
                .add_enabled(
                    has_default,
                    egui::Button::selectable(current.as_deref() == Some("DICOM default"), "DICOM"),
                )
                .on_hover_text("Window from the series header [0]")
                .clicked()
            {
                cmds.push(Command::ApplyDicomWindow);
            }
            ui.separator();
            let mut anon = app.settings.anonymise;
            if ui.checkbox(&mut anon, "Anonymise").changed() {
                cmds.push(Command::SetAnonymise(anon));
            }
        });
    });
    app.commands.extend(cmds);
}

/// Options of the active click tool, in a strip under the toolbar.
pub fn tool_options(app: &mut AblaApp, ui: &mut egui::Ui) {
    if !matches!(
        app.tool,
        Tool::RegionGrow | Tool::NervePath | Tool::TargetEllipsoid | Tool::Probe
    ) {
        return;
    }
    let mut cmds = Vec::new();
    egui::Panel::top("tool-options").show(ui, |ui| {
        super::tools::options(ui, app.tool, &app.click_tools, &mut cmds);
    });
    app.commands.extend(cmds);
}

pub fn status_bar(app: &mut AblaApp, ui: &mut egui::Ui) {
    let mut cmds = Vec::new();
    egui::Panel::bottom("status").show(ui, |ui| {
        ui.horizontal(|ui| {
            let job = app
                .scan_job
                .as_ref()
                .map(|j| ("Scanning", j.job.progress().clone()))
                .or_else(|| {
                    app.load_job
                        .as_ref()
                        .map(|j| ("Loading", j.job.progress().clone()))
                });
            if let Some((what, progress)) = job {
                let msg = progress.message();
                let text = if msg.is_empty() {
                    what.to_string()
                } else {
                    format!("{what}: {msg}")
                };
                ui.add(
                    egui::ProgressBar::new(progress.fraction())
                        .desired_width(260.0)
                        .text(text)
                        .animate(true),
                );
                if ui.button("Cancel").clicked() {
                    cmds.push(Command::CancelJob);
                }
                ui.separator();
            }
            if let Some(p) = app.run.progress() {
                ui.spinner();
                ui.label(format!("Model {:.0} %", 100.0 * p.fraction()));
                ui.separator();
            }
            if let Some(l) = &app.loaded {
                ui.label(RichText::new(&l.source).strong());
            }
            if let Some(h) = app.views.hover {
                ui.separator();
                let hu =
                    h.hu.map(|v| format!("{v} HU"))
                        .unwrap_or_else(|| "outside volume".into());
                let vox = h
                    .voxel
                    .map(|[i, j, k]| format!("  voxel ({i}, {j}, {k})"))
                    .unwrap_or_default();
                ui.monospace(format!(
                    "{hu}  LPS ({:.1}, {:.1}, {:.1}) mm{vox}",
                    h.lps.x, h.lps.y, h.lps.z
                ));
            }
            if let Some(n) = app.notices.last() {
                ui.separator();
                let col = match n.level {
                    NoticeLevel::Info => ui.visuals().text_color(),
                    NoticeLevel::Warning => super::widgets::c32(crate::render::palette::TEXT_CAUTION),
                    NoticeLevel::Error => super::widgets::c32(crate::render::palette::TEXT_WARN),
                };
                ui.label(RichText::new(&n.text).color(col));
            }
        });
    });
    app.commands.extend(cmds);
}

pub fn windows(app: &mut AblaApp, ui: &mut egui::Ui) {
    let ctx = ui.ctx().clone();
    let mut cmds = Vec::new();
    picker(app, &ctx, &mut cmds);
    report(app, &ctx, &mut cmds);
    settings(app, &ctx, &mut cmds);
    prompt(app, &ctx, &mut cmds);
    errors(app, &ctx, &mut cmds);
    app.commands.extend(cmds);
}

fn prompt(app: &AblaApp, ctx: &egui::Context, cmds: &mut Vec<Command>) {
    let Some(p) = &app.prompt else { return };
    match p {
        super::Prompt::OfferImport(found) => {
            egui::Window::new("Structure sets found")
                .anchor(egui::Align2::CENTER_TOP, [0.0, 90.0])
                .collapsible(false)
                .default_width(560.0)
                .show(ctx, |ui| {
                    ui.label("These structure sets were found next to the CT:");
                    for c in found {
                        let check = if c.matches_frame_of_reference {
                            "same frame of reference"
                        } else if c.references_series {
                            "references this series"
                        } else {
                            "no frame of reference: will ask to confirm"
                        };
                        ui.label(format!(
                            "{} · {} · {} ({check})",
                            c.modality,
                            c.description,
                            c.path.display()
                        ));
                    }
                    ui.horizontal(|ui| {
                        if ui.button("Import all").clicked() {
                            cmds.push(Command::ImportStructures {
                                paths: found.iter().map(|c| c.path.clone()).collect(),
                                allow_missing_frame_of_reference: false,
                            });
                        }
                        if ui.button("Not now").clicked() {
                            cmds.push(Command::DismissPrompt);
                        }
                    });
                });
        }
        super::Prompt::OfferRecovery(offer) => {
            egui::Window::new("Recover unsaved work")
                .anchor(egui::Align2::CENTER_TOP, [0.0, 90.0])
                .collapsible(false)
                .default_width(520.0)
                .show(ctx, |ui| {
                    ui.label("The last session ended with unsaved work. Found:");
                    // What the autosave holds, before the user accepts it: case, series, time.
                    let now_s = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    for line in crate::plan::case_words::recovery_summary(&offer.file, now_s) {
                        ui.label(line);
                    }
                    ui.horizontal(|ui| {
                        if ui.button("Recover").clicked() {
                            cmds.push(Command::RecoverCase);
                        }
                        if ui.button("Discard").clicked() {
                            cmds.push(Command::DiscardRecovery);
                        }
                    });
                });
        }
        super::Prompt::ConfirmMissingFrameOfReference(files) => {
            egui::Window::new("Confirm import")
                .anchor(egui::Align2::CENTER_TOP, [0.0, 90.0])
                .collapsible(false)
                .default_width(560.0)
                .show(ctx, |ui| {
                    ui.label(
                    "These files have no FrameOfReferenceUID, so it cannot be checked that their structures \
                     were drawn on this CT. Import them only if you are sure they belong to it.",
                );
                    for f in files {
                        ui.monospace(f.display().to_string());
                    }
                    ui.horizontal(|ui| {
                        if ui.button("Import anyway").clicked() {
                            cmds.push(Command::ImportStructures {
                                paths: files.clone(),
                                allow_missing_frame_of_reference: true,
                            });
                        }
                        if ui.button("Cancel").clicked() {
                            cmds.push(Command::DismissPrompt);
                        }
                    });
                });
        }
    }
}

fn errors(app: &AblaApp, ctx: &egui::Context, cmds: &mut Vec<Command>) {
    let errors: Vec<&str> = app
        .notices
        .iter()
        .filter(|n| n.level == NoticeLevel::Error)
        .map(|n| n.text.as_str())
        .collect();
    if errors.is_empty() {
        return;
    }
    egui::Window::new("Problem")
        .collapsible(false)
        .resizable(true)
        .default_width(520.0)
        .show(ctx, |ui| {
            for e in &errors {
                ui.label(RichText::new(*e).color(Color32::from_rgb(240, 110, 100)));
            }
            if ui.button("OK").clicked() {
                cmds.push(Command::DismissNotices);
            }
        });
}

fn picker(app: &AblaApp, ctx: &egui::Context, cmds: &mut Vec<Command>) {
    let (Some(p), Some(scan)) = (&app.picker, &app.last_scan) else {
        return;
    };
    egui::Window::new("Choose a series")
        .collapsible(false)
        .default_width(720.0)
        .show(ctx, |ui| {
            ui.label(format!(
                "{} image series in {} ({} files examined, {} skipped)",
                scan.series.len(),
                app.last_scan_source,
                scan.files_examined,
                scan.skipped.len()
            ));
            egui::ScrollArea::vertical().max_height(520.0).show(ui, |ui| {
                egui::Grid::new("series-grid")
                    .striped(true)
                    .num_columns(3)
                    .show(ui, |ui| {
                        for (n, s) in scan.series.iter().enumerate() {
                            match p.thumbnails.get(n) {
                                Some(Thumb::Ready(t)) => {
                                    let size = t.size_vec2();
                                    let scale = 96.0 / size.x.max(size.y).max(1.0);
                                    ui.image((t.id(), size * scale));
                                }
                                Some(Thumb::Failed(e)) => {
                                    ui.label("no preview").on_hover_text(e);
                                }
                                _ => {
                                    ui.spinner();
                                }
                            }
                            ui.vertical(|ui| {
                                let desc = if s.series_description.is_empty() {
                                    "(no description)"
                                } else {
                                    &s.series_description
                                };
                                ui.label(RichText::new(format!("{} · {desc}", s.modality)).strong());
                                let name = if app.settings.anonymise {
                                    "Anonymised".to_string()
                                } else {
                                    s.patient_name.replace('^', " ")
                                };
                                ui.label(format!("{name} · {}", s.study_description));
                                ui.label(format!(
                                    "{} images · {}×{}{}",
                                    s.image_count,
                                    s.columns,
                                    s.rows,
                                    s.series_number
                                        .map(|n| format!(" · series {n}"))
                                        .unwrap_or_default()
                                ));
                                for w in &s.warnings {
                                    ui.label(
                                        RichText::new(w)
                                            .color(super::widgets::c32(crate::render::palette::TEXT_CAUTION)),
                                    );
                                }
                            });
                            if ui.button(format!("Open series {}", n + 1)).clicked() {
                                cmds.push(Command::PickSeries(n));
                            }
                            ui.end_row();
                        }
                    });
                if !scan.others.is_empty() {
                    ui.separator();
                    ui.label(RichText::new("Non-image objects (importable by a later version)").strong());
                    for o in &scan.others {
                        ui.label(format!(
                            "{} · {} · {}",
                            o.modality,
                            o.description,
                            o.path.display()
                        ));
                    }
                }
            });
            ui.horizontal(|ui| {
                if ui.button("Series report…").clicked() {
                    cmds.push(Command::ShowReport(true));
                }
                if ui.button("Close").clicked() {
                    cmds.push(Command::ClosePicker);
                }
            });
        });
}

fn skipped_table(ui: &mut egui::Ui, id: &str, skipped: &[crate::dicom::SkippedFile]) {
    egui::Grid::new(id).striped(true).num_columns(2).show(ui, |ui| {
        for s in skipped {
            ui.monospace(s.path.display().to_string());
            ui.label(&s.reason);
            ui.end_row();
        }
    });
}

fn report(app: &AblaApp, ctx: &egui::Context, cmds: &mut Vec<Command>) {
    if !app.show_report {
        return;
    }
    let mut open = true;
    egui::Window::new("Series report")
        .open(&mut open)
        .default_width(760.0)
        .default_height(520.0)
        .show(ctx, |ui| {
            egui::ScrollArea::vertical().show(ui, |ui| {
                if let Some(l) = &app.loaded {
                    ui.heading(&l.source);
                    let g = &l.volume.geometry;
                    ui.label(format!(
                        "{} × {} × {} voxels, spacing {:.3} × {:.3} × {:.3} mm, origin LPS ({:.2}, {:.2}, {:.2}) mm",
                        g.dims[0], g.dims[1], g.dims[2], g.spacing_mm[0], g.spacing_mm[1], g.spacing_mm[2],
                        g.origin_lps.x, g.origin_lps.y, g.origin_lps.z
                    ));
                    if let Some((lo, hi)) = l.volume.hu_range() {
                        ui.label(format!("HU range {lo} … {hi}"));
                    }
                    if !l.report.transfer_syntaxes.is_empty() {
                        ui.label(format!("Transfer syntaxes: {}", l.report.transfer_syntaxes.join(", ")));
                    }
                    section(ui, "Loading warnings", &l.report.warnings);
                    section(ui, "Structure import", &app.import_log);
                    if !l.report.skipped.is_empty() {
                        ui.label(RichText::new(format!("Files not used ({})", l.report.skipped.len())).strong());
                        skipped_table(ui, "load-skipped", &l.report.skipped);
                    }
                } else {
                    ui.label("No series loaded.");
                }
                if let Some(s) = &app.last_scan {
                    ui.separator();
                    ui.heading(format!("Scan of {}", app.last_scan_source));
                    ui.label(format!(
                        "{} files examined: {} image series, {} other objects, {} skipped",
                        s.files_examined,
                        s.series.len(),
                        s.others.len(),
                        s.skipped.len()
                    ));
                    section(ui, "Scan warnings", &s.warnings);
                    for (n, e) in s.series.iter().enumerate() {
                        if !e.warnings.is_empty() {
                            section(ui, &format!("Series {} ({})", n + 1, e.series_description), &e.warnings);
                        }
                    }
                    if !s.others.is_empty() {
                        ui.label(RichText::new("Non-image objects").strong());
                        for o in &s.others {
                            ui.label(format!("{} · {} · {}", o.modality, o.description, o.path.display()));
                        }
                    }
                    if !s.skipped.is_empty() {
                        ui.label(RichText::new(format!("Skipped files ({})", s.skipped.len())).strong());
                        skipped_table(ui, "scan-skipped", &s.skipped);
                    }
                }
            });
        });
    if !open {
        cmds.push(Command::ShowReport(false));
    }
}

fn section(ui: &mut egui::Ui, title: &str, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    ui.label(RichText::new(title).strong());
    for l in lines {
        ui.label(format!("• {l}"));
    }
}

fn settings(app: &mut AblaApp, ctx: &egui::Context, cmds: &mut Vec<Command>) {
    if !app.show_settings {
        return;
    }
    let mut open = true;
    egui::Window::new("Settings")
        .open(&mut open)
        .default_width(460.0)
        .vscroll(true)
        .show(ctx, |ui| {
            ui.label(RichText::new("Mouse").strong());
            for m in [MouseMap::Ohif, MouseMap::Pacs] {
                if ui.radio(app.settings.mouse_map == m, m.label()).clicked() {
                    cmds.push(Command::SetMouseMap(m));
                }
            }
            ui.separator();
            ui.label(RichText::new("Window/level presets (keys 1–9; 0 = DICOM default)").strong());
            let mut remove = None;
            egui::Grid::new("presets").num_columns(4).show(ui, |ui| {
                ui.label("Name");
                ui.label("Width HU");
                ui.label("Level HU");
                ui.end_row();
                for (n, p) in app.preset_draft.iter_mut().enumerate() {
                    ui.add(egui::TextEdit::singleline(&mut p.name).desired_width(120.0));
                    ui.add(
                        egui::DragValue::new(&mut p.width_hu)
                            .range(1.0..=8000.0)
                            .speed(5.0),
                    );
                    ui.add(
                        egui::DragValue::new(&mut p.center_hu)
                            .range(-2000.0..=5000.0)
                            .speed(5.0),
                    );
                    if ui.button(format!("Remove preset {}", n + 1)).clicked() {
                        remove = Some(n);
                    }
                    ui.end_row();
                }
            });
            if let Some(n) = remove {
                app.preset_draft.remove(n);
            }
            ui.horizontal(|ui| {
                if ui.button("Add preset").clicked() {
                    app.preset_draft.push(WlPreset {
                        name: format!("Preset {}", app.preset_draft.len() + 1),
                        width_hu: 400.0,
                        center_hu: 40.0,
                    });
                }
                if ui.button("Restore defaults").clicked() {
                    app.preset_draft = default_presets();
                }
                let changed = app.preset_draft != app.settings.presets;
                if ui
                    .add_enabled(changed, egui::Button::new("Apply presets"))
                    .clicked()
                {
                    cmds.push(Command::SetPresets(app.preset_draft.clone()));
                }
            });
            ui.separator();
            ui.label(RichText::new("Recent").strong());
            ui.label(format!(
                "{} recent location(s) stored (paths only, no patient data)",
                app.settings.recent.len()
            ));
            if ui.button("Forget recent locations").clicked() {
                cmds.push(Command::ForgetRecent);
            }
            super::pacs::settings_section(app, ui, cmds);
        });
    if !open {
        cmds.push(Command::ShowSettings(false));
    }
}

pub fn structure_panel(app: &mut AblaApp, ui: &mut egui::Ui) {
    let Some(vol) = app.volume() else { return };
    let spacing = vol.geometry.spacing_mm;
    let mut cmds = Vec::new();
    egui::Panel::right("structures")
        .default_size(300.0)
        .size_range(220.0..=420.0)
        .show(ui, |ui| {
            super::structures::panel(
                ui,
                &app.structures,
                spacing,
                (app.can_undo(), app.can_redo()),
                &mut cmds,
            );
        });
    app.commands.extend(cmds);
}

/// The probe tool once per modality: "IRE electrode" and "Cryoprobe" each choose their
/// catalog's first model (unless one of that modality is already chosen) and the probe tool.
fn probe_tools(ui: &mut egui::Ui, app: &AblaApp, cmds: &mut Vec<Command>) {
    use crate::plan::catalog::Modality;
    let Some(cat) = app.catalog() else { return };
    let chosen = app
        .probe_model_id()
        .and_then(|id| cat.get(&id))
        .map(|m| m.modality);
    for (modality, label, hint) in [
        (
            Modality::Ire,
            "IRE electrode",
            "Press at the tip, drag to the skin entry, release. Drag the tip, entry or shaft of an electrode to move it (hold Shift to place a new one there instead); Delete removes the selected one",
        ),
        (
            Modality::Cryo,
            "Cryoprobe",
            "Press at the tip, drag to the skin entry, release. Drag the tip, entry or shaft of a cryoprobe to move it (hold Shift to place a new one there instead); Delete removes the selected one",
        ),
    ] {
        let on = app.tool == Tool::Probe && chosen == Some(modality);
        if ui.selectable_label(on, label).on_hover_text(hint).clicked() {
            if chosen != Some(modality)
                && let Some(m) = cat
                    .of_modality(modality)
                    .find(|m| m.default_active_mm().is_some())
            {
                cmds.push(Command::SetProbeModel(m.id.clone()));
            }
            cmds.push(Command::SetTool(Tool::Probe));
        }
    }
}
