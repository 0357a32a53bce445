//! File dialogs that never fail silently. The desktop's dialog (rfd: the XDG portal over D-Bus,
//! else `zenity`) is used when one can be shown; without either, or when rfd reports an error,
//! the built-in path dialog opens instead (a path field, the folder's listing, OK / Cancel) and
//! the user is told why.
//!
//! rfd 0.17 returns `None` both for "cancelled" and for "no portal and no zenity", and only logs
//! the failure (`log::error!` with target `rfd::…`). So the app (1) checks up front whether
//! either backend can exist (a session bus, `zenity` on `PATH`) and (2) installs a logger that
//! also records rfd's errors on the dialog's own thread ([`install_logger`], from `main`).

use std::cell::RefCell;
use std::path::{Path, PathBuf};

use eframe::egui;

use super::command::{Command, OpenDialog};

/// What came back from the desktop dialog's thread.
#[derive(Clone, Debug, PartialEq)]
pub enum DialogOutcome {
    Picked(Vec<PathBuf>),
    Cancelled,
    /// rfd could not show a dialog (its logged error).
    Failed(String),
}

/// Whether a desktop file dialog can be shown: rfd's portal backend needs a D-Bus session bus,
/// its fallback needs `zenity`. `Err` says what is missing.
pub fn native_dialog_available(session_bus: bool, zenity: bool) -> Result<(), String> {
    if session_bus || zenity {
        Ok(())
    } else {
        Err(
            "No desktop file dialog here (no D-Bus session for the XDG portal, no zenity): \
             using the built-in one"
                .into(),
        )
    }
}

/// A D-Bus session bus is announced (`DBUS_SESSION_BUS_ADDRESS`) or at its usual socket.
pub fn session_bus_present() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|a| !a.is_empty())
        || std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).join("bus").exists())
}

/// `zenity` is an executable file in one of the `PATH` folders.
pub fn zenity_on_path() -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("zenity").is_file()))
}

thread_local! {
    /// rfd's errors on this thread while a dialog runs (`Some` = recording).
    static RFD_ERRORS: RefCell<Option<Vec<String>>> = const { RefCell::new(None) };
}

/// The app's logger: `inner` (env_logger) for everything it enables, plus rfd's errors recorded
/// on a dialog thread. Errors always reach the logger, even with `RUST_LOG=off`.
struct Tap {
    inner: env_logger::Logger,
}

impl log::Log for Tap {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        self.inner.enabled(m) || (m.level() == log::Level::Error && m.target().starts_with("rfd"))
    }

    fn log(&self, record: &log::Record<'_>) {
        if record.level() == log::Level::Error && record.target().starts_with("rfd") {
            RFD_ERRORS.with(|e| {
                if let Some(v) = e.borrow_mut().as_mut() {
                    v.push(record.args().to_string());
                }
            });
        }
        if self.inner.enabled(record.metadata()) {
            self.inner.log(record);
        }
    }

    fn flush(&self) {
        self.inner.flush();
    }
}

/// Installs `inner` as the process's logger behind the rfd error tap (call once, from `main`).
pub fn install_logger(inner: env_logger::Logger) {
    let level = inner.filter().max(log::LevelFilter::Error);
    if log::set_boxed_logger(Box::new(Tap { inner })).is_ok() {
        log::set_max_level(level);
    }
}

/// Runs the desktop dialog `show` on this thread and tells a cancel from a failure by the
/// errors rfd logged meanwhile. rfd falls back to zenity whenever the portal fails, so only a
/// zenity error means no dialog was shown (a portal error followed by a zenity dialog the user
/// cancelled is a cancel).
pub fn run_recorded(show: impl FnOnce() -> Option<Vec<PathBuf>>) -> DialogOutcome {
    RFD_ERRORS.with(|e| *e.borrow_mut() = Some(Vec::new()));
    let picked = show();
    let errors = RFD_ERRORS.with(|e| e.borrow_mut().take()).unwrap_or_default();
    match picked {
        Some(p) if !p.is_empty() => DialogOutcome::Picked(p),
        _ if errors.iter().any(|e| e.contains("zenity")) => DialogOutcome::Failed(errors.join("; ")),
        _ => DialogOutcome::Cancelled,
    }
}

/// What a dialog of `kind` chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// A new or existing file to write; its folder must exist.
    SaveFile,
    /// An existing file (or, for DICOM, a folder) to read.
    OpenExisting,
    /// An existing folder.
    Folder,
    /// A folder to write into, created if missing; its parent must exist.
    NewFolder,
}

pub fn choice(kind: OpenDialog) -> Choice {
    use OpenDialog as K;
    match kind {
        K::SaveCase
        | K::ExportAnonymised
        | K::ExportView
        | K::ExportSlide
        | K::ExportLayout
        | K::Export3d => Choice::SaveFile,
        K::Files | K::Structures | K::Case | K::SendToPacs => Choice::OpenExisting,
        K::Folder | K::StructureFolder | K::Library => Choice::Folder,
        K::ExportDicom => Choice::NewFolder,
    }
}

/// The dialog's title and the file name it proposes (save dialogs).
pub fn title_and_name(kind: OpenDialog) -> (&'static str, &'static str) {
    use OpenDialog as K;
    match kind {
        K::Folder => ("Open a DICOM folder", ""),
        K::Files => ("Open DICOM files or a DICOMDIR", ""),
        K::Structures => ("Import structures: RTSTRUCT, SEG or NIfTI label maps", ""),
        K::StructureFolder => ("Import structures from a folder (NIfTI masks, RTSTRUCT, SEG)", ""),
        K::Case => ("Open a case", ""),
        K::SaveCase => ("Save the case", "case.json"),
        K::ExportView => ("Export the active view as PNG", "view.png"),
        K::Export3d => ("Export the 3-D view as PNG", "view_3d.png"),
        K::ExportLayout => ("Export the whole layout as PNG", "layout.png"),
        K::ExportSlide => ("Export the tumour-board slide as PNG", "board_slide.png"),
        K::ExportDicom => ("Export the plan to DICOM: choose a folder", ""),
        K::Library => ("Choose the folder of the case library", ""),
        K::ExportAnonymised => ("Save an anonymised copy for teaching", "teaching_case.json"),
        K::SendToPacs => ("DICOM files to send to PACS", ""),
    }
}

/// Checks a typed path for a dialog of `kind`; the error names the path and what is wrong.
pub fn check_choice(kind: OpenDialog, text: &str) -> Result<PathBuf, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("Type a path or pick one from the list".into());
    }
    let path = PathBuf::from(text);
    let parent_ok = |p: &Path| {
        p.parent()
            .map(|d| {
                if d.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    d
                }
            })
            .is_some_and(Path::is_dir)
    };
    match choice(kind) {
        Choice::SaveFile if path.is_dir() => Err(format!("{} is a folder: add a file name", path.display())),
        Choice::SaveFile if !parent_ok(&path) => {
            Err(format!("The folder of {} does not exist", path.display()))
        }
        Choice::SaveFile => Ok(path),
        Choice::OpenExisting if path.exists() => Ok(path),
        Choice::OpenExisting => Err(format!("{} does not exist", path.display())),
        Choice::Folder if path.is_dir() => Ok(path),
        Choice::Folder => Err(format!("{} is not a folder", path.display())),
        Choice::NewFolder if path.is_dir() || (!path.exists() && parent_ok(&path)) => Ok(path),
        Choice::NewFolder => Err(format!(
            "{} is not a folder that exists or can be created",
            path.display()
        )),
    }
}

/// One line of the folder listing.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
}

/// The folder's entries: folders first, then files, each by name; hidden ones left out.
pub fn list_dir(dir: &Path) -> Result<Vec<Entry>, String> {
    let read = std::fs::read_dir(dir).map_err(|e| format!("Cannot list {}: {e}", dir.display()))?;
    let mut entries: Vec<Entry> = read
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (!name.starts_with('.')).then(|| Entry {
                is_dir: e.path().is_dir(),
                name,
            })
        })
        .collect();
    entries.sort_by(|a, b| {
        b.is_dir
            .cmp(&a.is_dir)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    Ok(entries)
}

/// The commands a chosen path starts (the same for the desktop and the built-in dialog).
pub fn commands_for(kind: OpenDialog, paths: Vec<PathBuf>) -> Vec<Command> {
    use OpenDialog as K;
    let first = paths.first().cloned();
    match kind {
        K::Structures | K::StructureFolder => vec![Command::ImportStructures {
            paths,
            allow_missing_frame_of_reference: false,
        }],
        K::Folder | K::Files => vec![Command::Open(paths)],
        K::SendToPacs => vec![Command::Pacs(super::pacs::PacsCommand::SendFiles(paths))],
        _ => {
            let Some(p) = first else { return Vec::new() };
            vec![match kind {
                K::Case => Command::OpenCase(p),
                K::SaveCase => Command::SaveCaseTo(p),
                K::ExportView => Command::ExportViewTo(p),
                K::Export3d => Command::Export3dTo(p),
                K::ExportLayout => Command::ExportLayoutTo(p),
                K::ExportSlide => Command::ExportSlideTo(p),
                K::ExportDicom => Command::ExportDicomTo(p),
                K::Library => Command::OpenLibrary(p),
                _ => Command::ExportAnonymisedTo(p),
            }]
        }
    }
}

/// The built-in path dialog's state.
pub struct PathDialog {
    pub kind: OpenDialog,
    /// The folder listed.
    pub dir: PathBuf,
    /// The path typed or picked.
    pub text: String,
    entries: Result<Vec<Entry>, String>,
    /// Why OK was refused.
    pub error: Option<String>,
}

impl PathDialog {
    /// Opens in `dir` with the kind's proposed file name (save dialogs) or the folder itself.
    pub fn new(kind: OpenDialog, dir: PathBuf) -> Self {
        let (_, name) = title_and_name(kind);
        let text = if name.is_empty() {
            dir.display().to_string()
        } else {
            dir.join(name).display().to_string()
        };
        let entries = list_dir(&dir);
        Self {
            kind,
            dir,
            text,
            entries,
            error: None,
        }
    }

    /// Lists `dir` and points the path field into it (keeping a typed file name).
    fn enter(&mut self, dir: PathBuf) {
        let keep = (choice(self.kind) == Choice::SaveFile)
            .then(|| Path::new(self.text.trim()).file_name().map(|n| n.to_owned()))
            .flatten();
        self.text = match keep {
            Some(n) => dir.join(n).display().to_string(),
            None => dir.display().to_string(),
        };
        self.entries = list_dir(&dir);
        self.dir = dir;
        self.error = None;
    }
}

/// The folder the built-in dialog starts in: the case's folder, else the working folder.
pub fn start_dir(case_path: Option<&Path>) -> PathBuf {
    case_path
        .and_then(Path::parent)
        .filter(|d| d.is_dir())
        .map(Path::to_path_buf)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// Draws the built-in dialog; returns the commands of an accepted path, and whether it closed.
pub fn show(ctx: &egui::Context, d: &mut PathDialog) -> (Vec<Command>, bool) {
    let (title, _) = title_and_name(d.kind);
    let mut cmds = Vec::new();
    let mut close = false;
    let mut go_to: Option<PathBuf> = None;
    egui::Window::new(title)
        .collapsible(false)
        .default_width(560.0)
        .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
        .show(ctx, |ui| {
            ui.horizontal(|ui| {
                if ui.button("Parent folder").clicked()
                    && let Some(p) = d.dir.parent()
                {
                    go_to = Some(p.to_path_buf());
                }
                ui.label(format!("Folder: {}", d.dir.display()));
            });
            egui::ScrollArea::vertical()
                .max_height(260.0)
                .show(ui, |ui| match &d.entries {
                    Ok(list) if list.is_empty() => {
                        ui.label("(empty folder)");
                    }
                    Ok(list) => {
                        for e in list {
                            let shown = if e.is_dir {
                                format!("{}/", e.name)
                            } else {
                                e.name.clone()
                            };
                            if ui.selectable_label(false, shown).clicked() {
                                let p = d.dir.join(&e.name);
                                if e.is_dir {
                                    go_to = Some(p);
                                } else {
                                    d.text = p.display().to_string();
                                    d.error = None;
                                }
                            }
                        }
                    }
                    Err(e) => {
                        ui.colored_label(egui::Color32::from_rgb(230, 120, 90), e);
                    }
                });
            ui.horizontal(|ui| {
                let label = ui.label("Path");
                ui.add(egui::TextEdit::singleline(&mut d.text).desired_width(460.0))
                    .labelled_by(label.id);
            });
            if let Some(e) = &d.error {
                ui.colored_label(egui::Color32::from_rgb(230, 90, 80), e);
            }
            ui.horizontal(|ui| {
                if ui.button("OK").clicked() {
                    match check_choice(d.kind, &d.text) {
                        Ok(p) => {
                            cmds = commands_for(d.kind, vec![p]);
                            close = true;
                        }
                        Err(e) => d.error = Some(e),
                    }
                }
                if ui.button("Cancel").clicked() {
                    close = true;
                }
            });
        });
    if let Some(dir) = go_to {
        d.enter(dir);
    }
    (cmds, close)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_session_bus_and_zenity_the_built_in_dialog_is_used() {
        assert!(native_dialog_available(true, false).is_ok());
        assert!(native_dialog_available(false, true).is_ok());
        let why = native_dialog_available(false, false).unwrap_err();
        assert!(why.contains("zenity") && why.contains("built-in"), "{why}");
    }

    #[test]
    fn an_rfd_error_is_a_failure_not_a_cancel() {
        // The tap is not installed in unit tests: record as it would.
        let failed = run_recorded(|| {
            RFD_ERRORS.with(|e| {
                if let Some(v) = e.borrow_mut().as_mut() {
                    v.push("Failed to pick file with zenity: No such file or directory".into());
                }
            });
            None
        });
        assert!(
            matches!(&failed, DialogOutcome::Failed(m) if m.contains("zenity")),
            "{failed:?}"
        );
        // The portal failed, zenity then showed a dialog the user cancelled.
        let cancelled = run_recorded(|| {
            RFD_ERRORS.with(|e| {
                if let Some(v) = e.borrow_mut().as_mut() {
                    v.push("OpenFile failed: org.freedesktop.DBus.Error.ServiceUnknown".into());
                }
            });
            None
        });
        assert_eq!(cancelled, DialogOutcome::Cancelled);
        assert_eq!(run_recorded(|| None), DialogOutcome::Cancelled);
        let p = vec![PathBuf::from("/tmp/a.json")];
        assert_eq!(run_recorded(|| Some(p.clone())), DialogOutcome::Picked(p));
    }

    #[test]
    fn typed_paths_are_checked_for_what_the_dialog_chooses() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("a.json"), "{}").unwrap();
        std::fs::create_dir(d.join("sub")).unwrap();
        let s = |p: &Path| p.display().to_string();
        assert_eq!(
            check_choice(OpenDialog::SaveCase, &s(&d.join("new.json"))),
            Ok(d.join("new.json"))
        );
        assert!(
            check_choice(OpenDialog::SaveCase, &s(d))
                .unwrap_err()
                .contains("is a folder")
        );
        assert!(check_choice(OpenDialog::SaveCase, &s(&d.join("nope/x.json"))).is_err());
        assert!(check_choice(OpenDialog::SaveCase, "  ").is_err());
        assert_eq!(
            check_choice(OpenDialog::Case, &s(&d.join("a.json"))),
            Ok(d.join("a.json"))
        );
        assert!(check_choice(OpenDialog::Case, &s(&d.join("b.json"))).is_err());
        assert_eq!(
            check_choice(OpenDialog::Library, &s(&d.join("sub"))),
            Ok(d.join("sub"))
        );
        assert!(check_choice(OpenDialog::Library, &s(&d.join("a.json"))).is_err());
        assert_eq!(
            check_choice(OpenDialog::ExportDicom, &s(&d.join("out"))),
            Ok(d.join("out"))
        );
        let listed = list_dir(d).unwrap();
        assert_eq!(
            listed,
            vec![
                Entry {
                    name: "sub".into(),
                    is_dir: true
                },
                Entry {
                    name: "a.json".into(),
                    is_dir: false
                }
            ],
            "folders first"
        );
    }

    #[test]
    fn every_dialog_kind_leads_to_its_command() {
        let p = PathBuf::from("/x/y.json");
        assert_eq!(
            commands_for(OpenDialog::SaveCase, vec![p.clone()]),
            vec![Command::SaveCaseTo(p.clone())]
        );
        assert_eq!(
            commands_for(OpenDialog::ExportView, vec![p.clone()]),
            vec![Command::ExportViewTo(p.clone())]
        );
        assert!(commands_for(OpenDialog::Case, Vec::new()).is_empty());
        // The PACS send goes through the same dialogs (built-in without portal / zenity).
        let files = vec![PathBuf::from("/x/a.dcm"), PathBuf::from("/x/series")];
        assert_eq!(
            commands_for(OpenDialog::SendToPacs, files.clone()),
            vec![Command::Pacs(crate::app::pacs::PacsCommand::SendFiles(files))]
        );
        assert_eq!(choice(OpenDialog::SendToPacs), Choice::OpenExisting);
    }
}
