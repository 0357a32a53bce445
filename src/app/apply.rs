//! The one place where state changes: every [`Command`] of the UI (and of the tests) is applied
//! here, by group — files and cases, what is seen, structure edits, plan edits and runs — each in
//! its own small function.

#[allow(unused_imports)]
use super::*;

impl AblaApp {
    pub fn apply(&mut self, cmd: Command) {
        self.apply_one(cmd);
        self.sync_history();
    }

    fn apply_one(&mut self, cmd: Command) {
        if self.case.read_only && case_io::changes_the_case(&cmd) {
            self.notify(
                NoticeLevel::Info,
                "This case is open for review (read-only): open it with File > Open case to change it",
            );
            return;
        }
        let rest = self
            .apply_files(cmd)
            .and_then(|c| self.apply_view(c))
            .and_then(|c| self.apply_structures(c))
            .and_then(|c| self.apply_plan(c));
        debug_assert!(rest.is_none(), "a command no group applies: {rest:?}");
    }

    /// Opening, saving and exporting; cases, plans, review and the library. Returns the command when it is not one of them.
    fn apply_files(&mut self, cmd: Command) -> Option<Command> {
        match cmd {
            Command::OpenDialog(kind) => self.open_dialog(kind),
            Command::OpenPathDialog(kind) => self.open_path_dialog(kind),
            Command::Open(paths) => match paths.as_slice() {
                [p] if case_io::is_case_file(p) => self.open_case(p.clone()),
                _ => self.start_scan(paths),
            },
            Command::OpenCase(p) => self.open_case(p),
            Command::SaveCase => self.save_case(),
            Command::SaveCaseTo(p) => self.save_case_to(p),
            Command::RecoverCase => self.recover_case(),
            Command::DiscardRecovery => self.discard_recovery(),
            Command::SelectPlan(n) => self.select_plan(n),
            Command::NewPlan { copy } => self.new_plan(copy),
            Command::RenamePlan(name) => self.rename_plan(name),
            Command::OpenLibrary(dir) => self.load_library(dir),
            Command::OpenCaseReadOnly(p) => self.open_case_read_only(p),
            Command::SetCaseDetails { name, review } => self.set_case_details(name, review),
            Command::ReviewStep(s) => self.review_step(s),
            Command::ShowLibrary(v) => self.review.show_library = v,
            Command::ShowCaseDetails(v) => self.review.show_details = v,
            Command::ShowReview(v) => {
                self.review.show_review = v;
                // Leaving review mode gives the views every layer back.
                self.review.stepping &= v;
            }
            Command::ExportAnonymisedTo(p) => self.export_anonymised(p),
            Command::SetExportOptions(o) => {
                self.export.options = export_ui::ExportOptions {
                    scale: o.scale.clamp(1, 4),
                    anonymise: o.anonymise,
                    on_screen: o.on_screen,
                }
            }
            Command::ExportViewTo(p) => self.export_view(p),
            Command::ExportSlideTo(p) => self.export_slide(p),
            Command::ExportDicomTo(p) => self.export_dicom(p),
            Command::ExportLayoutTo(p) => self.export_layout(p),
            Command::Export3dTo(p) => self.export_3d(p),
            Command::OpenDemo => self.start_demo(),
            Command::PickSeries(n) => self.start_load(n),
            Command::ClosePicker => self.picker = None,
            Command::CancelJob => {
                if let Some(j) = self.scan_job.take() {
                    j.job.cancel();
                    self.notify(NoticeLevel::Info, "Scan cancelled");
                }
                if let Some(j) = self.load_job.take() {
                    j.job.cancel();
                    self.notify(NoticeLevel::Info, format!("Loading {} cancelled", j.source));
                }
            }
            Command::ImportStructures {
                paths,
                allow_missing_frame_of_reference,
            } => self.start_import(paths, allow_missing_frame_of_reference),
            Command::DismissPrompt => self.prompt = None,
            other => return Some(other),
        }
        None
    }

    /// What is seen: views, window, tools, panels, settings, findings in focus. Returns the command when it is not one of them.
    fn apply_view(&mut self, cmd: Command) -> Option<Command> {
        match cmd {
            Command::ShowSafetyPanel(v) => self.safety.show_panel = v,
            Command::ShowRules(v) => self.safety.show_rules = v,
            Command::SetRules(r) => self.set_safety_rules(r),
            Command::FocusFinding(i) => self.focus_finding(i),
            Command::ClearCaliper => {
                self.safety.caliper = None;
                self.safety.selected = None;
            }
            Command::SetLayout(l) => self.settings.layout = l,
            Command::View3d(a) => self.apply_view3d(a),
            Command::SetActiveView(v) => {
                if let Some(vw) = &mut self.viewer {
                    vw.active = v;
                }
            }
            Command::ApplyPreset(n) => {
                if let (Some(p), Some(vw)) = (self.settings.presets.get(n), &mut self.viewer) {
                    vw.window = Window {
                        center_hu: p.center_hu,
                        width_hu: p.width_hu.max(viewer::MIN_WINDOW_WIDTH_HU),
                    };
                    vw.window_label = Some(p.name.clone());
                }
            }
            Command::ApplyDicomWindow => {
                let dw = self.volume().and_then(|v| v.meta.default_window);
                if let (Some((c, w)), Some(vw)) = (dw, &mut self.viewer) {
                    vw.window = Window {
                        center_hu: c,
                        width_hu: w.max(viewer::MIN_WINDOW_WIDTH_HU),
                    };
                    vw.window_label = Some("DICOM default".into());
                } else {
                    self.notify(
                        NoticeLevel::Info,
                        "This series has no default window (WindowCenter/Width)",
                    );
                }
            }
            Command::SetWindow(w) => {
                if let Some(vw) = &mut self.viewer {
                    vw.window = w;
                    vw.window_label = None;
                }
            }
            Command::Scroll { view, delta } => {
                if let (Some(vol), Some(vw)) = (self.loaded.as_ref(), &mut self.viewer) {
                    vw.scroll(&vol.volume.view_mapping(view), delta);
                }
            }
            Command::SetCrosshair { view, u, v } => {
                if let (Some(vol), Some(vw)) = (self.loaded.as_ref(), &mut self.viewer) {
                    let m = vol.volume.view_mapping(view);
                    vw.set_crosshair_in_view(&m, u, v, vol.volume.geometry.dims);
                }
            }
            Command::Pan { view, dx, dy } => {
                if let Some(vw) = &mut self.viewer {
                    let s = vw.view_mut(view);
                    s.pan[0] += dx;
                    s.pan[1] += dy;
                }
            }
            Command::Zoom { view, factor, anchor } => {
                if let Some(vw) = &mut self.viewer {
                    vw.zoom_about(view, factor, anchor);
                }
            }
            Command::ResetView => {
                if let Some(vw) = &mut self.viewer {
                    vw.reset_views();
                }
            }
            Command::ToggleAnnotations => self.settings.show_annotations = !self.settings.show_annotations,
            Command::SetAnonymise(a) => self.settings.anonymise = a,
            Command::SetMouseMap(m) => self.settings.mouse_map = m,
            Command::SetTool(t) => self.tool = t,
            Command::AddRuler(r) => {
                if let Some(vw) = &mut self.viewer {
                    vw.rulers.push(r);
                }
            }
            Command::ClearRulers => {
                if let Some(vw) = &mut self.viewer {
                    vw.rulers.clear();
                }
            }
            Command::ShowReport(s) => self.show_report = s,
            Command::ShowSettings(s) => {
                self.show_settings = s;
                self.preset_draft = self.settings.presets.clone();
            }
            Command::SetPresets(p) => {
                self.settings.presets = p;
                self.preset_draft = self.settings.presets.clone();
            }
            Command::DismissNotices => self.notices.clear(),
            Command::ForgetRecent => self.settings.recent.clear(),
            Command::Pacs(c) => self.apply_pacs(c),
            Command::ShowProbeView(b) => self.show_probe_view = b,
            Command::ShowPlanPanel(b) => self.show_plan_panel = b,
            Command::SetProfilePair(n) => self.profile_pair = n,

            other => return Some(other),
        }
        None
    }

    /// Structure edits (undoable) and the drawing tools. Returns the command when it is not one of them.
    fn apply_structures(&mut self, cmd: Command) -> Option<Command> {
        match cmd {
            Command::NewStructure(kind) => {
                if let Some(vol) = self.volume() {
                    let n = self.structures.items.iter().filter(|s| s.kind == kind).count() + 1;
                    let s = crate::anatomy::Structure::new(
                        format!("{} {n}", kind.label()),
                        kind,
                        crate::anatomy::Provenance::Drawn,
                        crate::anatomy::Mask::empty(vol.geometry.dims),
                    );
                    self.structures.add(s);
                }
            }
            Command::SelectStructure(i) => self.structures.selected = i,
            Command::SetStructureVisible(i, v) => {
                if let Some(s) = self.structures.items.get_mut(i) {
                    s.visible = v;
                }
            }
            Command::SetStructureColour(i, c) => {
                if let Some(s) = self.structures.items.get_mut(i) {
                    s.colour = c;
                }
            }
            Command::SetStructureOpacity(i, o) => {
                if let Some(s) = self.structures.items.get_mut(i) {
                    s.opacity = o.clamp(0.0, 1.0);
                }
            }
            Command::SetStructureKind(i, k) => self.structures.set_kind(i, k),
            Command::RenameStructure(i, name) => self.structures.rename(i, name),
            Command::DeleteStructure(i) => self.structures.remove(i),
            Command::KeepStructureRemoveDuplicates(i) => {
                let others = crate::anatomy::duplicates::duplicate_names(&self.structures.items)
                    .into_iter()
                    .nth(i)
                    .unwrap_or_default();
                if !others.is_empty() {
                    self.structures.remove_many(&others);
                    self.structures.selected = Some(i - others.iter().filter(|j| **j < i).count());
                }
            }
            Command::JumpToStructure(i) => self.jump_to_structure(i),
            Command::SetBrush(b) => {
                self.brush = Brush {
                    radius_mm: b.radius_mm.clamp(0.5, 50.0),
                    sphere: b.sphere,
                }
            }
            Command::Paint {
                view,
                slice,
                lps,
                erase,
            } => self.paint(view, slice, lps, erase),
            Command::EndStroke => self.structures.end_stroke(),
            Command::ToolClick { view: _, lps } => self.tool_click(lps),
            Command::SetNerveRadius(r) => self.click_tools.nerve_radius_mm = r.clamp(0.5, 10.0),
            Command::FinishNervePath => self.finish_nerve(),
            Command::RemoveLastPoint => {
                self.click_tools.nerve_points.pop();
            }
            Command::ClearToolPoints => {
                let t = &mut self.click_tools;
                t.nerve_points.clear();
                t.ellipsoid_clicks.clear();
                if let Some(j) = t.grow.job.take() {
                    j.cancel();
                }
                t.grow.preview = None;
                t.grow.preview_revision += 1;
            }
            Command::SetGrowPreset(n) => {
                if let Some(p) = crate::anatomy::edit::REGION_GROW_PRESETS.get(n) {
                    self.click_tools.grow.preset = n;
                    self.click_tools.grow.window = p.window;
                }
            }
            Command::SetGrowWindow {
                window,
                max_volume_ml,
            } => {
                let g = &mut self.click_tools.grow;
                g.window = window;
                g.max_volume_ml = max_volume_ml.max(1.0);
            }
            Command::AcceptGrow { add_to_selected } => self.accept_grow(add_to_selected),
            Command::FillBetweenSlices(i) => self.fill_between(i),
            other => return Some(other),
        }
        None
    }

    /// Plan edits (undoable), undo / redo, and the model run. Plan edits bump the plan revision; the
    /// model run follows it (`run::update_model`). Returns the command when it is not one of them.
    fn apply_plan(&mut self, cmd: Command) -> Option<Command> {
        match cmd {
            Command::Undo => self.undo_redo(true),
            Command::Redo => self.undo_redo(false),
            Command::AddProbe { tip_lps, entry_lps } => self.add_probe(tip_lps, entry_lps),
            // Plan edits bump the plan revision; the model run follows it (`run::update_model`).
            Command::MoveProbe {
                index,
                tip_lps,
                entry_lps,
            } => {
                if index < self.plan.probes.len() {
                    self.start_live_edit();
                    self.plan.drag_probe(index, tip_lps, entry_lps);
                    self.plan.selected = Some(index);
                }
            }
            Command::EndDrag => {
                self.plan.end_drag();
            }
            Command::SetProbe { index, probe } => {
                self.plan.set_probe(index, probe);
            }
            Command::DeleteProbe(i) => {
                self.plan.delete_probe(i);
            }
            Command::SelectProbe(i) => self.plan.selected = i.filter(|i| *i < self.plan.probes.len()),
            Command::SetArrayOptions(o) => self.array = self.checked_array_options(o),
            Command::PlaceArray => self.place_array(),
            Command::SuggestPlan => self.start_suggest(),
            Command::ShowSafeWindow(on) => self.show_safe_window(on),
            Command::CancelSuggestion => self.cancel_suggest(),
            Command::AcceptSuggestion(i) => self.accept_suggestion(i),
            Command::SetIreSettings { settings, live } => {
                if live {
                    self.start_live_edit();
                    self.plan.set_settings_live(settings);
                } else {
                    self.plan.set_settings(settings);
                }
            }
            Command::SetPairIncluded { a, b, included } => {
                self.plan.set_pair_included(a, b, included);
            }
            Command::SetPairVoltage {
                a,
                b,
                voltage_v,
                live,
            } => {
                if live {
                    self.start_live_edit();
                    self.plan.set_pair_voltage_live(a, b, voltage_v);
                } else {
                    self.plan.set_pair_voltage(a, b, voltage_v);
                }
            }
            Command::ResetPairs => {
                self.plan.reset_pairs();
            }
            Command::SetModelOptions(o) => {
                self.plan.set_ire_model(o);
            }
            Command::RunModel => self.run.rerun(),
            Command::CancelModel => self.run.cancel_by_user(),
            c @ (Command::SetProbeModel(_)
            | Command::SetCryoSettings { .. }
            | Command::SetCryoTime(_)
            | Command::AddCryoSensor(_)
            | Command::AddCryoSensorAtCrosshair
            | Command::RemoveCryoSensor(_)) => self.apply_cryo(c),
            other => return Some(other),
        }
        None
    }
}
