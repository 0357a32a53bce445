//! Saving and reopening planning cases, several plans per case, autosave and crash recovery.
//!
//! A case reopens in two steps: the document is read and checked at once, then its series is
//! found (by path and UID) and loaded as any series is; when the load finishes, the geometry is
//! compared with the fingerprint and only then are the structures and plans put in place. A
//! mismatch refuses the case with a message instead of drawing masks on the wrong grid.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{AblaApp, DEMO_SOURCE, NoticeLevel, Prompt, plan, structures};
use crate::physics::model::ModelResult;
use crate::plan::case::resolve_source_path;
use crate::plan::case_words;
use crate::plan::document::{
    self, CaseDocument, DocumentSource, GeometryFingerprint, NamedPlan, RecoveryOffer, RecoveryStore,
    SeriesRef,
};

/// How often unsaved work is written to the recovery file.
pub const AUTOSAVE_INTERVAL: Duration = Duration::from_secs(60);

/// What identifies the content the user edits: any change of the plan, a mask, the structure
/// list, the plans or the CT changes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ContentKey {
    generation: u64,
    plan_revision: u64,
    structure_revisions: u64,
    structure_count: usize,
    plans_revision: u64,
}

/// A case waiting for its series to load.
struct PendingCase {
    doc: CaseDocument,
    case_path: Option<PathBuf>,
    read_only: bool,
}

/// The case being edited.
pub struct CaseState {
    /// Where it was last saved or opened from.
    pub path: Option<PathBuf>,
    pub name: String,
    pub notes: String,
    pub review: document::CaseReview,
    /// Opened for review: commands that would change the case are refused.
    pub read_only: bool,
    /// The last full result of each plan (kept when switching plans, saved with the case).
    results: Vec<document::ResultSummary>,
    /// (generation, plan index, plan revision) of the result last summarised.
    summarised: Option<(u64, usize, u64)>,
    /// Every plan; the active one is edited in `AblaApp::plan` and written back here when the
    /// user switches plans or saves.
    pub(super) plans: Vec<NamedPlan>,
    pub(super) active: usize,
    /// Bumped when plans are added, renamed or switched.
    plans_revision: u64,
    /// The folder or file the loaded series was scanned from.
    pub(super) series_path: Option<PathBuf>,
    pending: Option<PendingCase>,
    saved: Option<ContentKey>,
    recovery: Option<RecoveryStore>,
    autosaved: Option<(Instant, ContentKey)>,
}

impl Default for CaseState {
    fn default() -> Self {
        Self {
            path: None,
            name: "Untitled case".into(),
            notes: String::new(),
            review: document::CaseReview::default(),
            read_only: false,
            results: Vec::new(),
            summarised: None,
            plans: vec![NamedPlan::new("Plan 1")],
            active: 0,
            plans_revision: 0,
            series_path: None,
            pending: None,
            saved: None,
            recovery: None,
            autosaved: None,
        }
    }
}

impl CaseState {
    pub fn plan_names(&self) -> Vec<String> {
        self.plans.iter().map(|p| p.name.clone()).collect()
    }
    pub fn active_plan(&self) -> usize {
        self.active
    }
    pub fn waiting_for_series(&self) -> bool {
        self.pending.is_some()
    }
    /// The last full result of plan `plan`, if it was computed.
    pub fn results_of(&self, plan: usize) -> Option<&document::ResultSummary> {
        self.results.iter().find(|r| r.plan == plan)
    }
}

/// Commands that change what a case holds (refused while a case is open read-only). Viewing
/// (scrolling, window/level, visibility, colours, rulers) stays free.
pub fn changes_the_case(cmd: &super::Command) -> bool {
    use super::Command as C;
    matches!(
        cmd,
        C::SaveCase
            | C::NewPlan { .. }
            | C::RenamePlan(_)
            | C::SetCaseDetails { .. }
            | C::NewStructure(_)
            | C::SetStructureKind(..)
            | C::RenameStructure(..)
            | C::DeleteStructure(_)
            | C::KeepStructureRemoveDuplicates(_)
            | C::Paint { .. }
            | C::ToolClick { .. }
            | C::FinishNervePath
            | C::AcceptGrow { .. }
            | C::FillBetweenSlices(_)
            | C::ImportStructures { .. }
            | C::Undo
            | C::Redo
            | C::AddProbe { .. }
            | C::MoveProbe { .. }
            | C::SetProbe { .. }
            | C::DeleteProbe(_)
            | C::PlaceArray
            | C::SetIreSettings { .. }
            | C::SetPairIncluded { .. }
            | C::SetPairVoltage { .. }
            | C::ResetPairs
            | C::SetModelOptions(_)
    )
}

/// `true` for paths the Open commands should read as a case file rather than DICOM.
pub fn is_case_file(path: &Path) -> bool {
    path.is_file() && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("json"))
}

impl AblaApp {
    pub fn case(&self) -> &CaseState {
        &self.case
    }

    fn content_key(&self) -> ContentKey {
        ContentKey {
            generation: self.generation,
            plan_revision: self.plan.revision(),
            structure_revisions: self.structures.items.iter().map(|s| s.revision()).sum(),
            structure_count: self.structures.items.len(),
            plans_revision: self.case.plans_revision,
        }
    }

    /// Whether there are edits not saved to the case file.
    pub fn has_unsaved_changes(&self) -> bool {
        self.loaded.is_some() && self.case.saved != Some(self.content_key())
    }

    /// Marks the current content as saved (after a save, an open or a fresh load).
    pub(super) fn mark_case_saved(&mut self) {
        self.case.saved = Some(self.content_key());
    }

    /// The name of a new case on the loaded volume: its series description and study date (or
    /// today), see [`crate::plan::case_words::default_case_name`].
    fn default_case_name(&self) -> String {
        let Some(loaded) = &self.loaded else {
            return CaseState::default().name;
        };
        let meta = &loaded.volume.meta;
        let what = if loaded.phantom.is_some() {
            "Phantom block"
        } else {
            "CT series"
        };
        let today = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|d| case_words::date_of_unix_s(d.as_secs()));
        case_words::default_case_name(&meta.series_description, &meta.study_date, what, today)
    }

    /// Starts the recovery store in `dir` and offers work an earlier run left unsaved.
    pub(super) fn start_recovery(&mut self, dir: PathBuf) {
        let store = RecoveryStore::new(dir);
        if let Some(offer) = store.offers(document::process_is_running).into_iter().next() {
            self.prompt = Some(Prompt::OfferRecovery(Box::new(offer)));
        }
        self.case.recovery = Some(store);
    }

    /// The case as it stands, `None` before a CT is loaded.
    pub fn current_document(&self) -> Option<CaseDocument> {
        let loaded = self.loaded.as_ref()?;
        let source = if loaded.source == DEMO_SOURCE {
            DocumentSource::Demo
        } else if let Some(p) = &loaded.phantom {
            DocumentSource::Phantom {
                tissue: p.tissue.clone(),
                size_mm: p.size_mm,
                centre_lps: p.centre_lps,
            }
        } else {
            let meta = &loaded.volume.meta;
            DocumentSource::Dicom {
                path: self.case.series_path.clone().unwrap_or_default(),
                series: SeriesRef {
                    study_instance_uid: meta.study_instance_uid.clone(),
                    series_instance_uid: meta.series_instance_uid.clone(),
                    frame_of_reference_uid: meta.frame_of_reference_uid.clone(),
                    geometry: Some(GeometryFingerprint::of(&loaded.volume.geometry)),
                },
            }
        };
        let mut plans = self.case.plans.clone();
        let name = plans
            .get(self.case.active)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| "Plan 1".into());
        let active = self.plan.to_saved(&name);
        match plans.get_mut(self.case.active) {
            Some(slot) => *slot = active,
            None => plans.push(active),
        }
        let n_plans = plans.len();
        Some(CaseDocument {
            schema_version: document::DOCUMENT_SCHEMA_VERSION,
            name: self.case.name.clone(),
            // The series in words, for the recovery prompt and the library.
            description: loaded.volume.meta.series_description.trim().to_string(),
            source,
            structures: self.structures.items.clone(),
            active_plan: self.case.active.min(plans.len() - 1),
            plans,
            notes: self.case.notes.clone(),
            results: self
                .case
                .results
                .iter()
                .filter(|r| r.plan < n_plans)
                .cloned()
                .collect(),
            review: self.case.review.clone(),
            rules: self.safety_rules().cloned(),
        })
    }

    /// Keeps the summary of the active plan's full result when one arrives (once per result:
    /// measuring the extents visits every node). A cryo plan's zone is the lethal zone at its
    /// largest extent over the protocol (as the safety analysis and the board slide).
    pub(super) fn record_result_summary(&mut self) {
        let revision = self.plan.revision();
        let key = (self.generation, self.case.active, revision);
        if self.case.summarised == Some(key) {
            return;
        }
        let Some(result) = self.run.current(revision).cloned() else {
            return;
        };
        let probes = &self.plan.probes;
        let (modality, hashed, volume_ml, extents_mm, max_current_a) = match (&result, self.plan.model()) {
            (ModelResult::Ire(r), plan::PlanModel::Ire(p)) => {
                let axes = r
                    .pairs
                    .first()
                    .and_then(|q| plan::extent_axes(probes, (q.a, q.b)));
                (
                    "ire",
                    serde_json::to_vec(&(probes, &p.settings, &p.model)),
                    r.zone_volume_ml,
                    axes.map_or([0.0; 3], |a| r.zone_extents_mm(a)),
                    Some(r.max_current_a()),
                )
            }
            (ModelResult::Cryo(r), plan::PlanModel::Cryo(c)) => {
                let lethal = r.lethal_mask(r.last_snapshot());
                let axes = crate::physics::cryo::model::iceball_axes(probes);
                (
                    "cryo",
                    serde_json::to_vec(&(probes, &c.settings)),
                    r.volume_ml(&lethal),
                    axes.map_or([0.0; 3], |a| r.extents_mm(&lethal, a)),
                    None,
                )
            }
            _ => return,
        };
        let summary = document::ResultSummary {
            plan: self.case.active,
            modality: modality.into(),
            model: result.description().to_string(),
            model_version: env!("CARGO_PKG_VERSION").into(),
            parameter_hash: document::parameter_hash(&hashed.unwrap_or_default()),
            zone_volume_ml: volume_ml,
            extents_mm,
            max_current_a,
            min_margin_mm: None,
            findings: Vec::new(),
        };
        self.case.summarised = Some(key);
        self.case.results.retain(|s| s.plan != summary.plan);
        self.case.results.push(summary);
        self.case.results.sort_by_key(|s| s.plan);
    }

    /// Adds the safety findings and minimal margin to the active plan's result summary.
    pub(super) fn case_set_safety_summary(
        &mut self,
        findings: Vec<(String, String)>,
        min_margin_mm: Option<f64>,
    ) {
        let active = self.case.active;
        if let Some(s) = self.case.results.iter_mut().find(|r| r.plan == active) {
            s.findings = findings;
            s.min_margin_mm = min_margin_mm;
        }
    }

    pub(super) fn set_case_details(&mut self, name: String, review: document::CaseReview) {
        if !name.trim().is_empty() {
            self.case.name = name;
        }
        self.case.review = review;
        self.case.plans_revision += 1;
    }

    /// Moves the views to what a review step is about.
    pub(super) fn review_step(&mut self, step: super::review::ReviewStep) {
        use super::review::ReviewStep;
        self.review.step = step;
        self.review.stepping = true;
        match step {
            ReviewStep::Structures => {
                if let Some(t) = self
                    .structures
                    .items
                    .iter()
                    .position(|s| s.kind == crate::anatomy::StructureKind::Target)
                {
                    self.jump_to_structure(t);
                }
            }
            ReviewStep::Probes => self.show_plan_panel = true,
            ReviewStep::Zone => {
                if self.run.result.is_none() {
                    self.run.rerun();
                }
            }
            ReviewStep::Findings => {}
        }
    }

    /// Writes the case without the series' folder and UIDs (teaching copy). Names typed by the
    /// user (case name, notes) are the user's to check: the notice says so.
    pub(super) fn export_anonymised(&mut self, path: PathBuf) {
        let Some(doc) = self.current_document() else {
            self.notify(NoticeLevel::Warning, "Nothing to export: open a CT first");
            return;
        };
        let copy = crate::review::library::anonymised(&doc, false);
        match document::save_document(&path, &copy) {
            Ok(()) => self.notify(
                NoticeLevel::Info,
                format!(
                    "Anonymised copy written to {} (no folder path, no UIDs; check the case name and notes \
                     you typed)",
                    path.display()
                ),
            ),
            Err(e) => self.notify(NoticeLevel::Error, format!("Not exported: {e}")),
        }
    }

    /// Save to the case's own path, or ask for one.
    pub(super) fn save_case(&mut self) {
        match self.case.path.clone() {
            Some(p) => self.save_case_to(p),
            None => self.open_dialog(super::OpenDialog::SaveCase),
        }
    }

    pub(super) fn save_case_to(&mut self, path: PathBuf) {
        let Some(doc) = self.current_document() else {
            self.notify(NoticeLevel::Warning, "Nothing to save: open a CT first");
            return;
        };
        match document::save_document(&path, &doc) {
            Ok(()) => {
                self.notify(NoticeLevel::Info, format!("Saved the case to {}", path.display()));
                self.settings.push_recent(path.clone());
                self.case.path = Some(path.clone());
                self.mark_case_saved();
                if let Some(r) = &self.case.recovery {
                    r.clear();
                }
                self.refresh_library_after_save(&path);
            }
            Err(e) => self.notify(NoticeLevel::Error, format!("Not saved: {e}")),
        }
    }

    /// After a case was saved to `path`: the library lists it at once when it is in the library's
    /// folder (no Reload needed; the window stays as it is).
    pub(super) fn refresh_library_after_save(&mut self, path: &std::path::Path) {
        let Some(dir) = self.review.library_dir.clone() else {
            return;
        };
        let same = |a: &std::path::Path, b: &std::path::Path| {
            a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
        };
        if !path.parent().is_some_and(|p| same(p, &dir)) {
            return;
        }
        let Ok(catalog) = self.catalog.clone() else { return };
        match crate::review::library::scan_library(&dir, &catalog) {
            Ok((rows, bad)) => {
                self.review.rows = rows;
                self.review.unreadable = bad;
            }
            Err(e) => self.notify(
                super::NoticeLevel::Warning,
                format!(
                    "The case library {} could not be listed again: {e}",
                    dir.display()
                ),
            ),
        }
    }

    /// Reads a case file and starts loading its series.
    pub(super) fn open_case(&mut self, path: PathBuf) {
        self.open_case_as(path, false);
    }

    /// Opens a case for review: it can be looked at, stepped through and compared, not changed.
    pub(super) fn open_case_read_only(&mut self, path: PathBuf) {
        self.review.show_review = true;
        // The review starts at the first step: structures only.
        self.review.step = super::review::ReviewStep::Structures;
        self.review.stepping = true;
        self.open_case_as(path, true);
    }

    fn open_case_as(&mut self, path: PathBuf, read_only: bool) {
        let (Ok(tissues), Ok(catalog)) = (self.tissue.clone(), self.catalog.clone()) else {
            self.notify(
                NoticeLevel::Error,
                "Cases cannot be checked: the built-in assets did not load",
            );
            return;
        };
        match document::load_document(&path, &tissues, &catalog) {
            Ok(doc) => {
                self.settings.push_recent(path.clone());
                self.begin_case(doc, Some(path), read_only);
            }
            Err(e) => self.notify(NoticeLevel::Error, format!("Cannot open the case: {e}")),
        }
    }

    /// Takes the offered recovery file: the work opens as it was autosaved.
    pub(super) fn recover_case(&mut self) {
        let Some(Prompt::OfferRecovery(offer)) = self.prompt.take() else {
            return;
        };
        let RecoveryOffer { path, file } = *offer;
        // The offer is consumed: from now on this process's own autosave protects the work.
        let _ = std::fs::remove_file(&path);
        self.begin_case(file.document, file.case_path, false);
    }

    pub(super) fn discard_recovery(&mut self) {
        if let Some(Prompt::OfferRecovery(offer)) = self.prompt.take() {
            let _ = std::fs::remove_file(&offer.path);
            self.notify(
                NoticeLevel::Info,
                "The unsaved work of the earlier session was discarded",
            );
        }
    }

    fn begin_case(&mut self, doc: CaseDocument, case_path: Option<PathBuf>, read_only: bool) {
        let source = doc.source.clone();
        self.case.pending = Some(PendingCase {
            doc,
            case_path: case_path.clone(),
            read_only,
        });
        match source {
            DocumentSource::Demo => self.start_demo(),
            DocumentSource::Dicom { path, series } => {
                let resolved = match &case_path {
                    Some(cp) => resolve_source_path(cp, &path),
                    None => path,
                };
                if resolved.exists() {
                    self.start_scan(vec![resolved]);
                } else {
                    self.notify(
                        NoticeLevel::Warning,
                        format!(
                            "The case's series ({}) is no longer at {} — choose the folder that holds it; \
                             it is recognised by its UID",
                            uid_or_unknown(&series),
                            resolved.display()
                        ),
                    );
                    // Ask at once: the folder the user picks is scanned and the series found by UID.
                    self.open_dialog(super::OpenDialog::Folder);
                }
            }
            DocumentSource::Phantom {
                tissue,
                size_mm,
                centre_lps,
            } => {
                // An experiment case keeps its analytic structures and phantom temperature in its
                // own file: read them there (a document has its structures as masks already).
                let experiment = case_path
                    .as_deref()
                    .and_then(|p| std::fs::read_to_string(p).ok())
                    .and_then(|t| crate::plan::case::CaseFile::from_json(&t, "").ok());
                let temperature_c = experiment
                    .as_ref()
                    .and_then(|c| c.cryo.as_ref())
                    .map_or(37.0, |c| c.phantom_temperature_c);
                let shapes = experiment.map(|c| c.structures).unwrap_or_default();
                let regions = crate::physics::ire::tissue::phantom_regions(&shapes);
                let case_dir = case_path
                    .as_deref()
                    .and_then(Path::parent)
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                let scene = super::PhantomScene {
                    tissue,
                    size_mm,
                    centre_lps,
                    temperature_c,
                    regions,
                };
                self.start_phantom(scene, shapes, case_dir);
            }
        }
    }

    /// While a case waits for its series: the scanned series with its UID, if any.
    pub(super) fn pending_series_in_scan(&mut self, report: &crate::dicom::ScanReport) -> Option<usize> {
        let pending = self.case.pending.as_ref()?;
        let DocumentSource::Dicom { series, .. } = &pending.doc.source else {
            return None;
        };
        let found = report.series.iter().position(|s| {
            !series.series_instance_uid.is_empty() && s.series_instance_uid == series.series_instance_uid
        });
        if found.is_none() {
            self.notify(
                NoticeLevel::Warning,
                format!(
                    "Series {} of the case is not in {} — open the folder that holds it",
                    uid_or_unknown(series),
                    self.last_scan_source
                ),
            );
        }
        found
    }

    /// After any load: a waiting case takes its structures and plans if the series is the
    /// right one; otherwise the case is refused and the freshly loaded series stays as it is.
    pub(super) fn finish_pending_case(&mut self) {
        let Some(PendingCase {
            doc,
            case_path,
            read_only,
        }) = self.case.pending.take()
        else {
            // A series opened on its own starts a new, unsaved case, named after the series and
            // its date so library rows can be told apart.
            self.case = CaseState {
                name: self.default_case_name(),
                series_path: self.case.series_path.take(),
                recovery: self.case.recovery.take(),
                ..CaseState::default()
            };
            self.mark_case_saved();
            return;
        };
        let Some(loaded) = &self.loaded else { return };
        if let Err(why) = series_matches(&doc.source, loaded) {
            self.notify(
                NoticeLevel::Error,
                format!("The case {} was not opened: {why}", doc.name),
            );
            self.case = CaseState {
                series_path: self.case.series_path.take(),
                recovery: self.case.recovery.take(),
                ..CaseState::default()
            };
            self.mark_case_saved();
            return;
        }
        let fingerprint = GeometryFingerprint::of(&loaded.volume.geometry);
        if let (Ok(t), Ok(c)) = (&self.tissue, &self.catalog) {
            let file = case_path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "recovered case".into());
            if let Err(e) = doc.validate(&file, t, c, Some(&fingerprint)) {
                self.notify(NoticeLevel::Error, format!("The case was not opened: {e}"));
                self.case.pending = None;
                return;
            }
        }
        if let Some(r) = doc.rules.clone() {
            self.set_safety_rules(r);
        }
        // An experiment case's structures were drawn on the phantom's grid by the load.
        let is_phantom = self.loaded.as_ref().is_some_and(|l| l.phantom.is_some());
        let structures = if doc.structures.is_empty() && is_phantom {
            std::mem::take(&mut self.structures.items)
        } else {
            doc.structures
        };
        let n_structures = structures.len();
        self.structures = structures::StructureSet::new(structures);
        let active = doc.active_plan.min(doc.plans.len().saturating_sub(1));
        if let Some(p) = doc.plans.get(active) {
            self.plan = plan::PlanState::from_saved(p, self.catalog.as_deref().ok());
        }
        self.case = CaseState {
            path: case_path,
            name: doc.name,
            notes: doc.notes,
            review: doc.review,
            read_only,
            results: doc.results,
            summarised: None,
            plans: doc.plans,
            active,
            plans_revision: 0,
            series_path: self.case.series_path.take(),
            pending: None,
            saved: None,
            recovery: self.case.recovery.take(),
            autosaved: None,
        };
        self.history.clear();
        self.future.clear();
        self.seen_edits = (self.structures.edit_count(), self.plan.edit_count());
        self.views = super::views::ViewCache::default();
        self.after_plan_switch();
        self.mark_case_saved();
        if self.case.path.is_none() {
            // Recovered work that was never saved stays "unsaved" until the user saves it.
            self.case.saved = None;
        }
        self.notify(
            NoticeLevel::Info,
            format!(
                "Opened the case {}: {n_structures} structure(s), {} plan(s)",
                self.case.name,
                self.case.plans.len()
            ),
        );
    }

    /// Shows plan `index` of the case (the current one is kept as it is).
    pub(super) fn select_plan(&mut self, index: usize) {
        if index == self.case.active || index >= self.case.plans.len() {
            return;
        }
        self.store_active_plan();
        self.case.active = index;
        self.plan = plan::PlanState::from_saved(&self.case.plans[index], self.catalog.as_deref().ok());
        self.after_plan_switch();
    }

    /// Adds a plan: a copy of the current one (to vary it) or an empty one.
    pub(super) fn new_plan(&mut self, copy: bool) {
        self.store_active_plan();
        let n = self.case.plans.len() + 1;
        let mut p = if copy {
            self.plan.to_saved(&format!("Plan {n}"))
        } else {
            NamedPlan::new(format!("Plan {n}"))
        };
        p.name = unique_name(&self.case.plan_names(), &p.name);
        self.case.plans.push(p);
        self.case.active = self.case.plans.len() - 1;
        self.plan =
            plan::PlanState::from_saved(&self.case.plans[self.case.active], self.catalog.as_deref().ok());
        self.after_plan_switch();
    }

    pub(super) fn rename_plan(&mut self, name: String) {
        let name = name.trim().to_string();
        if name.is_empty() {
            return;
        }
        if let Some(p) = self.case.plans.get_mut(self.case.active) {
            p.name = name;
            self.case.plans_revision += 1;
        }
    }

    fn store_active_plan(&mut self) {
        let name = self
            .case
            .plans
            .get(self.case.active)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| "Plan 1".into());
        let saved = self.plan.to_saved(&name);
        match self.case.plans.get_mut(self.case.active) {
            Some(slot) => *slot = saved,
            None => self.case.plans.push(saved),
        }
    }

    /// A switched plan is a different plan: its own history, its own model run, and nothing
    /// shown of the previous plan (zone, findings, caliper, selected finding).
    fn after_plan_switch(&mut self) {
        self.case.plans_revision += 1;
        self.run = super::run::ModelRun::default();
        self.safety_forget_plan();
        self.history.retain(|d| *d == super::Domain::Structures);
        self.future.clear();
        self.seen_edits = (self.structures.edit_count(), self.plan.edit_count());
    }

    /// Writes the recovery file when the content changed and the interval has passed (on a
    /// helper thread: serialising masks can take a moment).
    pub(super) fn autosave_tick(&mut self, now: Instant) {
        let Some(store) = self.case.recovery.clone() else {
            return;
        };
        let key = self.content_key();
        let due = match self.case.autosaved {
            Some((at, k)) => k != key && now.duration_since(at) >= AUTOSAVE_INTERVAL,
            None => self.has_unsaved_changes(),
        };
        if !due || !self.has_unsaved_changes() {
            return;
        }
        let Some(doc) = self.current_document() else {
            return;
        };
        self.case.autosaved = Some((now, key));
        let case_path = self.case.path.clone();
        let spawned = std::thread::Builder::new()
            .name("autosave".into())
            .spawn(move || {
                if let Err(e) = store.autosave(&doc, case_path.as_deref()) {
                    log::error!("autosave failed: {e}");
                }
            });
        if let Err(e) = spawned {
            self.notify(NoticeLevel::Warning, format!("Autosave could not start: {e}"));
        }
    }

    /// On quit: unsaved work goes to the recovery file (offered at the next start); saved work
    /// leaves none behind.
    pub(super) fn autosave_on_exit(&mut self) {
        let Some(store) = self.case.recovery.clone() else {
            return;
        };
        if !self.has_unsaved_changes() {
            store.clear();
            return;
        }
        if let Some(doc) = self.current_document()
            && let Err(e) = store.autosave(&doc, self.case.path.as_deref())
        {
            log::error!("autosave on exit failed: {e}");
        }
    }
}

/// Whether the loaded volume is the case's series: same kind of source, same UID, same grid.
fn series_matches(source: &DocumentSource, loaded: &super::Loaded) -> Result<(), String> {
    let loaded_is_demo = loaded.source == DEMO_SOURCE;
    let volume = &loaded.volume;
    match source {
        DocumentSource::Demo if loaded_is_demo => Ok(()),
        DocumentSource::Demo => Err("it was planned on the demo CT, and another series was opened".into()),
        DocumentSource::Phantom {
            tissue,
            size_mm,
            centre_lps,
        } => match &loaded.phantom {
            Some(p) if p.tissue == *tissue && p.size_mm == *size_mm && p.centre_lps == *centre_lps => Ok(()),
            _ => Err("it describes a phantom block, and a CT was opened".into()),
        },
        DocumentSource::Dicom { series, .. } => {
            if loaded_is_demo {
                return Err("the demo CT was opened instead of the case's series".into());
            }
            let uid = &volume.meta.series_instance_uid;
            if !series.series_instance_uid.is_empty() && *uid != series.series_instance_uid {
                return Err(format!(
                    "the opened series ({uid}) is not the case's series ({})",
                    series.series_instance_uid
                ));
            }
            let for_uid = &volume.meta.frame_of_reference_uid;
            if !series.frame_of_reference_uid.is_empty()
                && !for_uid.is_empty()
                && *for_uid != series.frame_of_reference_uid
            {
                return Err("the frame of reference differs".into());
            }
            if let Some(saved) = &series.geometry
                && let Some(diff) = saved.difference(&GeometryFingerprint::of(&volume.geometry))
            {
                return Err(format!(
                    "the series' geometry differs from when the case was saved ({diff}); \
                     structures and probes would land in the wrong place"
                ));
            }
            Ok(())
        }
    }
}

fn uid_or_unknown(series: &SeriesRef) -> &str {
    if series.series_instance_uid.is_empty() {
        "(no UID)"
    } else {
        &series.series_instance_uid
    }
}

/// `base`, or `base (2)`, `base (3)` … whichever is not taken.
fn unique_name(taken: &[String], base: &str) -> String {
    (1..)
        .map(|n| {
            if n == 1 {
                base.to_string()
            } else {
                format!("{base} ({n})")
            }
        })
        .find(|c| !taken.contains(c))
        .unwrap_or_else(|| base.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_count_up() {
        let taken = vec!["Plan 2".to_string(), "Plan 2 (2)".to_string()];
        assert_eq!(unique_name(&taken, "Plan 2"), "Plan 2 (3)");
        assert_eq!(unique_name(&taken, "Plan 3"), "Plan 3");
    }
}
