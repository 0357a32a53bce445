//! Opening CT series: the scan job, the open dialogs, drag and drop, the series picker, the load
//! job and what a new volume resets (a new CT starts a new plan).

#[allow(unused_imports)]
use super::*;

impl AblaApp {
    pub(super) fn start_scan(&mut self, paths: Vec<PathBuf>) {
        if paths.is_empty() {
            return;
        }
        if let Some(old) = self.scan_job.take() {
            old.job.cancel();
        }
        let missing: Vec<&PathBuf> = paths.iter().filter(|p| !p.exists()).collect();
        if !missing.is_empty() {
            let list: Vec<String> = missing.iter().map(|p| p.display().to_string()).collect();
            self.notify(
                NoticeLevel::Error,
                format!("Cannot open {}: no such file or folder", list.join(", ")),
            );
            return;
        }
        for p in &paths {
            self.settings.push_recent(p.clone());
        }
        let worker_paths = paths.clone();
        match Job::spawn("scan", 0, self.progress(), move |ctx| {
            dicom::scan(&worker_paths, ctx)
        }) {
            Ok(job) => self.scan_job = Some(ScanJob { job, paths }),
            Err(e) => self.notify(NoticeLevel::Error, format!("Cannot start the scan: {e}")),
        }
    }

    /// rfd dialogs block their thread (and may fall back to zenity), so they run on a helper
    /// thread and the outcome comes back through a channel polled each frame. Without a desktop
    /// dialog (no session bus, no zenity) the built-in one opens at once, with a notice saying why.
    pub(super) fn open_dialog(&mut self, kind: OpenDialog) {
        if self.dialog.is_some() || self.path_dialog.is_some() {
            return;
        }
        if let Err(why) = file_dialog::native_dialog_available(
            file_dialog::session_bus_present(),
            file_dialog::zenity_on_path(),
        ) {
            self.notify(NoticeLevel::Warning, why);
            self.open_path_dialog(kind);
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let ctx = self.ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("file-dialog".into())
            .spawn(move || {
                let (title, name) = file_dialog::title_and_name(kind);
                let outcome = file_dialog::run_recorded(|| native_dialog(kind, title, name));
                let _ = tx.send(outcome);
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => self.dialog = Some((rx, kind)),
            Err(e) => {
                self.notify(NoticeLevel::Error, format!("Cannot show the file dialog: {e}"));
                self.open_path_dialog(kind);
            }
        }
    }

    /// Shows the built-in path dialog for `kind`, starting in the case's folder.
    pub(super) fn open_path_dialog(&mut self, kind: OpenDialog) {
        let dir = file_dialog::start_dir(self.case.path.as_deref());
        self.path_dialog = Some(file_dialog::PathDialog::new(kind, dir));
    }

    /// Draws the built-in path dialog and applies what it chose.
    pub(super) fn path_dialog_window(&mut self, ctx: &egui::Context) {
        let Some(d) = &mut self.path_dialog else { return };
        let (cmds, close) = file_dialog::show(ctx, d);
        if close {
            self.path_dialog = None;
        }
        self.commands.extend(cmds);
    }

    pub(super) fn poll_dialog(&mut self) {
        let Some((rx, kind)) = &self.dialog else { return };
        let kind = *kind;
        match rx.try_recv() {
            Ok(outcome) => {
                self.dialog = None;
                match outcome {
                    file_dialog::DialogOutcome::Picked(paths) => {
                        for c in file_dialog::commands_for(kind, paths) {
                            self.apply(c);
                        }
                    }
                    file_dialog::DialogOutcome::Cancelled => {}
                    file_dialog::DialogOutcome::Failed(why) => {
                        // Never silent: say what failed, and offer the built-in dialog.
                        self.notify(
                            NoticeLevel::Error,
                            format!("The desktop file dialog failed ({why}): use the built-in one"),
                        );
                        self.open_path_dialog(kind);
                    }
                }
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
            Err(std::sync::mpsc::TryRecvError::Disconnected) => self.dialog = None,
        }
    }

    /// Shows a phantom experiment case: a display volume of the block (soft-tissue grey in air,
    /// on [`crate::pipeline::load::phantom_grid`]) with the case's structures drawn on it; the
    /// models read the block itself.
    pub(super) fn start_phantom(
        &mut self,
        scene: PhantomScene,
        shapes: Vec<crate::safety::shapes::CaseStructure>,
        case_dir: PathBuf,
    ) {
        self.next_phantom = Some(scene.clone());
        self.start_load_job(PHANTOM_SOURCE.into(), move |ctx| {
            ctx.progress.set_message("Building the phantom block");
            let g = crate::pipeline::load::phantom_grid(scene.centre_lps, scene.size_mm);
            let volume = crate::export::board::phantom_display_volume(
                &g,
                crate::geometry::PatientPos::from(scene.centre_lps),
                scene.size_mm,
                &scene.tissue,
            )
            .map_err(|e| DicomError::Unloadable(format!("phantom block: {e}")))?;
            ctx.progress.set(0.6);
            let (structures, warnings) = if shapes.is_empty() {
                (Vec::new(), Vec::new())
            } else {
                ctx.progress.set_message("Rasterising the case's structures");
                crate::safety::shapes::build_case_structures(&shapes, &case_dir, &g, None)
                    .map_err(|(field, message)| DicomError::Unloadable(format!("{field}: {message}")))?
            };
            let mut report = SeriesReport {
                warnings: vec![format!(
                    "Phantom block of {}: a display of the experiment, not a CT.",
                    scene.tissue
                )],
                ..SeriesReport::default()
            };
            report.warnings.extend(warnings);
            Ok((LoadedSeries { volume, report }, structures))
        });
    }

    pub(super) fn start_demo(&mut self) {
        self.start_load_job(DEMO_SOURCE.into(), |ctx| {
            ctx.progress.set_message("Generating the demo CT");
            let volume = crate::demo::demo_volume();
            ctx.progress.set(0.6);
            ctx.progress.set_message("Rasterising the demo structures");
            let structures = crate::anatomy::demo_structures(&crate::demo::demo_anatomy(), &volume.geometry);
            let series = LoadedSeries {
                volume,
                report: SeriesReport {
                    warnings: vec!["Synthetic demo volume generated in code; not a patient.".into()],
                    ..SeriesReport::default()
                },
            };
            Ok((series, structures))
        });
    }

    pub(super) fn start_load(&mut self, n: usize) {
        let Some(entry) = self.last_scan.as_ref().and_then(|s| s.series.get(n)).cloned() else {
            self.notify(
                NoticeLevel::Error,
                format!("No series number {} in the last scan", n + 1),
            );
            return;
        };
        self.picker = None;
        let source = series_label(&entry, &self.last_scan_source);
        self.start_load_job(source, move |ctx| {
            dicom::load_series(&entry, ctx).map(|s| (s, Vec::new()))
        });
    }

    pub(super) fn start_load_job(
        &mut self,
        source: String,
        work: impl FnOnce(&crate::jobs::JobCtx) -> LoadResult + Send + 'static,
    ) {
        if let Some(old) = self.load_job.take() {
            old.job.cancel();
        }
        match Job::spawn("load", 0, self.progress(), work) {
            Ok(job) => self.load_job = Some(LoadJob { job, source }),
            Err(e) => self.notify(NoticeLevel::Error, format!("Cannot start loading: {e}")),
        }
    }

    pub(super) fn poll_jobs(&mut self) {
        if let Some(sj) = &mut self.scan_job
            && let Some(result) = sj.job.poll()
        {
            let paths = std::mem::take(&mut sj.paths);
            self.scan_job = None;
            match result {
                Ok(Ok(report)) => self.scan_finished(report, &paths),
                Ok(Err(DicomError::Cancelled)) => {}
                Ok(Err(e)) => self.notify(NoticeLevel::Error, format!("Scan failed: {e}")),
                Err(e) => self.notify(NoticeLevel::Error, e.to_string()),
            }
        }
        if let Some(lj) = &mut self.load_job
            && let Some(result) = lj.job.poll()
        {
            let source = std::mem::take(&mut lj.source);
            self.load_job = None;
            match result {
                Ok(Ok(series)) => self.load_finished(series, source),
                Ok(Err(DicomError::Cancelled)) => {}
                Ok(Err(e)) => self.notify(NoticeLevel::Error, format!("Could not load {source}: {e}")),
                Err(e) => self.notify(NoticeLevel::Error, e.to_string()),
            }
        }
        if let Some(p) = &mut self.picker {
            for t in &mut p.thumbnails {
                if let Thumb::Pending(job) = t
                    && let Some(r) = job.poll()
                {
                    *t = match r {
                        Ok(Ok(img)) => Thumb::Ready(views::thumbnail_texture(&self.ctx, &img)),
                        Ok(Err(e)) => Thumb::Failed(e.to_string()),
                        Err(e) => Thumb::Failed(e.to_string()),
                    };
                }
            }
        }
    }

    pub(super) fn scan_finished(&mut self, report: ScanReport, paths: &[PathBuf]) {
        self.last_scan_source = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let ct: Vec<usize> = report
            .series
            .iter()
            .enumerate()
            .filter(|(_, s)| s.modality.eq_ignore_ascii_case("CT"))
            .map(|(i, _)| i)
            .collect();
        let n_series = report.series.len();
        if !report.skipped.is_empty() {
            self.notify(
                NoticeLevel::Warning,
                format!(
                    "{} file(s) skipped while scanning {} — see View > Series report",
                    report.skipped.len(),
                    self.last_scan_source
                ),
            );
        }
        // Files this build cannot decode without the C/C++ codecs: say which feature brings them.
        if let Some(m) = dicom::c_codecs::missing_codec_summary(&report.skipped) {
            self.notify(NoticeLevel::Error, m);
        }
        if !report.others.is_empty() {
            let kinds: Vec<String> = report.others.iter().map(|o| o.modality.clone()).collect();
            self.notify(
                NoticeLevel::Info,
                format!(
                    "Found {} non-image object(s) ({}); structure import comes with a later version",
                    report.others.len(),
                    kinds.join(", ")
                ),
            );
        }
        self.case.series_path = paths.first().cloned();
        let case_series = self.pending_series_in_scan(&report);
        self.last_scan = Some(report);
        if let Some(n) = case_series {
            self.start_load(n);
            return;
        }
        match (ct.len(), n_series) {
            (_, 0) => self.notify(
                NoticeLevel::Error,
                format!("No image series found in {}", self.last_scan_source),
            ),
            (1, 1) => self.start_load(ct[0]),
            _ => self.open_picker(),
        }
    }

    pub(super) fn open_picker(&mut self) {
        let Some(scan) = &self.last_scan else { return };
        let thumbnails = scan
            .series
            .iter()
            .map(|entry| {
                let e = entry.clone();
                match Job::spawn("thumbnail", 0, self.progress(), move |_| dicom::thumbnail(&e)) {
                    Ok(j) => Thumb::Pending(j),
                    Err(e) => Thumb::Failed(e.to_string()),
                }
            })
            .collect();
        self.picker = Some(Picker { thumbnails });
    }

    /// Structures belong to a CT grid: a new volume starts with its own (none, or the demo's).
    pub(super) fn load_finished(
        &mut self,
        (series, initial_structures): (LoadedSeries, Vec<Structure>),
        source: String,
    ) {
        let is_demo = source == DEMO_SOURCE;
        self.generation += 1;

        let (fallback, label) = self.fallback_window();
        let viewer = Viewer::new(&series.volume, fallback, &label);
        let n_warn = series.report.warnings.len() + series.report.skipped.len();
        let g = &series.volume.geometry;
        self.notify(
            NoticeLevel::Info,
            format!(
                "Opened {source}: {}×{}×{} voxels, {:.2}×{:.2}×{:.2} mm",
                g.dims[0], g.dims[1], g.dims[2], g.spacing_mm[0], g.spacing_mm[1], g.spacing_mm[2]
            ),
        );
        if n_warn > 0 && !series.report.warnings.iter().all(|w| w.starts_with("Synthetic")) {
            self.notify(
                NoticeLevel::Warning,
                format!("{n_warn} warning(s) while loading — see View > Series report"),
            );
        }
        let phantom = self.next_phantom.take().filter(|_| source == PHANTOM_SOURCE);
        self.loaded = Some(Loaded {
            volume: Arc::new(series.volume),
            phantom,
            report: series.report,
            source,
            generation: self.generation,
        });
        self.viewer = Some(viewer);
        self.views = views::ViewCache::default();
        self.structures = structures::StructureSet::new(initial_structures);
        // Probes are in this patient's coordinates: a new CT starts a new plan (the model
        // options stay, they are the user's preference).
        self.run = run::ModelRun::default();
        let model = self.plan.ire().map(|p| p.model.clone()).unwrap_or_default();
        self.plan = plan::PlanState::with_model(model);
        self.probe_view = probe_view::ProbeView::default();
        self.safety.caliper = None;
        self.safety.selected = None;
        self.history.clear();
        self.future.clear();
        self.seen_edits = (self.structures.edit_count(), self.plan.edit_count());
        self.import_log.clear();
        // Import offers belong to the previous series; a recovery offer outlives loads.
        if !matches!(self.prompt, Some(Prompt::OfferRecovery(_))) {
            self.prompt = None;
        }
        // A case waiting for this series takes its structures and plans now (before the
        // offer, which leaves out the objects the case already holds).
        self.finish_pending_case();
        if !is_demo {
            self.offer_structure_sets();
        }
        // Open on the target when there is one (the demo), like a planning worklist would.
        if let Some(t) = self
            .structures
            .items
            .iter()
            .position(|s| s.kind == crate::anatomy::StructureKind::Target)
        {
            self.jump_to_structure(t);
        }
    }

    pub(super) fn handle_dropped_files(&mut self, ctx: &egui::Context) {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if dropped.is_empty() {
            return;
        }
        // NIfTI label maps (or folders of masks) dropped on an open CT are structures for it;
        // anything else is opened as DICOM.
        if self.volume().is_some() && dropped.iter().all(|p| import::is_nifti_or_mask_folder(p)) {
            self.apply(Command::ImportStructures {
                paths: dropped,
                allow_missing_frame_of_reference: false,
            });
        } else {
            self.apply(Command::Open(dropped));
        }
    }
}

/// "CT · Series description (#3)" for notices and the title.
fn series_label(e: &dicom::SeriesEntry, source: &str) -> String {
    let desc = if e.series_description.is_empty() {
        "unnamed series".to_string()
    } else {
        e.series_description.clone()
    };
    let num = e.series_number.map(|n| format!(" #{n}")).unwrap_or_default();
    let src = Path::new(source)
        .file_name()
        .map(|s| format!(" from {}", s.to_string_lossy()))
        .unwrap_or_default();
    format!("{} {desc}{num}{src}", e.modality)
}

/// The desktop dialog of `kind` (blocks its thread).
fn native_dialog(kind: OpenDialog, title: &str, name: &str) -> Option<Vec<PathBuf>> {
    use file_dialog::Choice;
    let d = rfd::FileDialog::new().set_title(title);
    let d = match kind {
        OpenDialog::Case | OpenDialog::SaveCase | OpenDialog::ExportAnonymised => {
            d.add_filter("ablaplan case", &["json"])
        }
        OpenDialog::ExportView
        | OpenDialog::Export3d
        | OpenDialog::ExportLayout
        | OpenDialog::ExportSlide => d.add_filter("PNG image", &["png"]),
        _ => d,
    };
    match file_dialog::choice(kind) {
        Choice::SaveFile => d.set_file_name(name).save_file().map(|p| vec![p]),
        Choice::Folder | Choice::NewFolder => d.pick_folder().map(|p| vec![p]),
        Choice::OpenExisting if kind == OpenDialog::Case => d.pick_file().map(|p| vec![p]),
        Choice::OpenExisting => d.pick_files(),
    }
}
