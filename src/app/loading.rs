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
    /// thread and the chosen paths come back through a channel polled each frame.
    pub(super) fn open_dialog(&mut self, kind: OpenDialog) {
        if self.dialog.is_some() {
            return;
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let ctx = self.ctx.clone();
        let spawned = std::thread::Builder::new()
            .name("file-dialog".into())
            .spawn(move || {
                let picked = match kind {
                    OpenDialog::Folder => rfd::FileDialog::new()
                        .set_title("Open a DICOM folder")
                        .pick_folder()
                        .map(|p| vec![p]),
                    OpenDialog::Files => rfd::FileDialog::new()
                        .set_title("Open DICOM files or a DICOMDIR")
                        .pick_files(),
                    OpenDialog::Structures => rfd::FileDialog::new()
                        .set_title("Import structures: RTSTRUCT, SEG or NIfTI label maps")
                        .pick_files(),
                    OpenDialog::StructureFolder => rfd::FileDialog::new()
                        .set_title("Import structures from a folder (NIfTI masks, RTSTRUCT, SEG)")
                        .pick_folder()
                        .map(|p| vec![p]),
                    OpenDialog::Case => rfd::FileDialog::new()
                        .set_title("Open a case")
                        .add_filter("ablaplan case", &["json"])
                        .pick_file()
                        .map(|p| vec![p]),
                    OpenDialog::SaveCase => rfd::FileDialog::new()
                        .set_title("Save the case")
                        .add_filter("ablaplan case", &["json"])
                        .set_file_name("case.json")
                        .save_file()
                        .map(|p| vec![p]),
                    OpenDialog::ExportView => rfd::FileDialog::new()
                        .set_title("Export the active view as PNG")
                        .add_filter("PNG image", &["png"])
                        .set_file_name("view.png")
                        .save_file()
                        .map(|p| vec![p]),
                    OpenDialog::Export3d => rfd::FileDialog::new()
                        .set_title("Export the 3-D view as PNG")
                        .add_filter("PNG image", &["png"])
                        .set_file_name("view_3d.png")
                        .save_file()
                        .map(|p| vec![p]),
                    OpenDialog::ExportLayout => rfd::FileDialog::new()
                        .set_title("Export the whole layout as PNG")
                        .add_filter("PNG image", &["png"])
                        .set_file_name("layout.png")
                        .save_file()
                        .map(|p| vec![p]),
                    OpenDialog::ExportSlide => rfd::FileDialog::new()
                        .set_title("Export the tumour-board slide as PNG")
                        .add_filter("PNG image", &["png"])
                        .set_file_name("board_slide.png")
                        .save_file()
                        .map(|p| vec![p]),
                    OpenDialog::ExportDicom => rfd::FileDialog::new()
                        .set_title("Export the plan to DICOM: choose a folder")
                        .pick_folder()
                        .map(|p| vec![p]),
                    OpenDialog::Library => rfd::FileDialog::new()
                        .set_title("Choose the folder of the case library")
                        .pick_folder()
                        .map(|p| vec![p]),
                    OpenDialog::ExportAnonymised => rfd::FileDialog::new()
                        .set_title("Save an anonymised copy for teaching")
                        .add_filter("ablaplan case", &["json"])
                        .set_file_name("teaching_case.json")
                        .save_file()
                        .map(|p| vec![p]),
                };
                let _ = tx.send(picked.unwrap_or_default());
                ctx.request_repaint();
            });
        match spawned {
            Ok(_) => self.dialog = Some((rx, kind)),
            Err(e) => self.notify(NoticeLevel::Error, format!("Cannot show the file dialog: {e}")),
        }
    }

    pub(super) fn poll_dialog(&mut self) {
        let Some((rx, kind)) = &self.dialog else { return };
        let kind = *kind;
        match rx.try_recv() {
            Ok(paths) => {
                self.dialog = None;
                if paths.is_empty() {
                    return;
                }
                match kind {
                    OpenDialog::Structures | OpenDialog::StructureFolder => {
                        self.apply(Command::ImportStructures {
                            paths,
                            allow_missing_frame_of_reference: false,
                        })
                    }
                    OpenDialog::Case => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::OpenCase(p))),
                    OpenDialog::SaveCase => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::SaveCaseTo(p))),
                    OpenDialog::ExportView => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::ExportViewTo(p))),
                    OpenDialog::Export3d => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::Export3dTo(p))),
                    OpenDialog::ExportLayout => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::ExportLayoutTo(p))),
                    OpenDialog::ExportSlide => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::ExportSlideTo(p))),
                    OpenDialog::ExportDicom => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::ExportDicomTo(p))),
                    OpenDialog::Library => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::OpenLibrary(p))),
                    OpenDialog::ExportAnonymised => paths
                        .into_iter()
                        .take(1)
                        .for_each(|p| self.apply(Command::ExportAnonymisedTo(p))),
                    OpenDialog::Folder | OpenDialog::Files => self.apply(Command::Open(paths)),
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
