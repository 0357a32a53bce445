//! Tumour-board output from the GUI: the active view at 1×/2×/4× and the 1920 × 1080 board slide
//! (IRE or cryo), rendered on the CPU by `export/` (the same code as `ablaplan compute --png`), in
//! a background job, anonymised unless the user turns that off in the export menu.

use std::path::PathBuf;
use std::sync::Arc;

pub use super::command::ExportOptions;
use super::{AblaApp, NoticeLevel};
use crate::export::dicom::{CaptureImage, DicomExportRequest, build_export, write_export};
use crate::export::view::{
    CaliperOverlay, LayoutPanel, Overlay, ProbeOverlay, StructureOverlay, ViewExport, ViewPlane, ZoneOverlay,
    render_layout, render_view, render_view_fit,
};
use crate::jobs::Job;
use crate::physics::model::{ModelAssets, ModelResult, ModelSettings};
use crate::pipeline::BoardInput;
use crate::render::WindowLevel;
use crate::safety::{RuleSet, SafetyReport};
use crate::volume::{ViewKind, Volume};

/// A running export.
#[derive(Default)]
pub struct ExportRun {
    pub options: ExportOptions,
    job: Option<Job<Result<PathBuf, String>>>,
}

impl ExportRun {
    pub fn running(&self) -> bool {
        self.job.is_some()
    }
}

/// What an export needs, owned so the job can run off the UI thread.
pub(super) struct Snapshot {
    volume: Arc<Volume>,
    view: ViewKind,
    layout: super::settings::Layout,
    /// Slice shown in each view (axial, coronal, sagittal).
    slices: [(ViewKind, usize); 3],
    slice: usize,
    window: WindowLevel,
    structures: Vec<crate::anatomy::Structure>,
    probes: Vec<crate::plan::probe::Probe>,
    settings: ModelSettings,
    /// The full result for the plan as it is now (`None` while the model computes).
    result: Option<ModelResult>,
    /// The safety report of that result (`None` when it is not current).
    safety: Option<Arc<SafetyReport>>,
    rules: Option<Arc<RuleSet>>,
    assets: Option<ModelAssets>,
    caliper: Option<CaliperOverlay>,
    /// The active view's part seen on screen (image pixels) and the screen points per image
    /// pixel there, when "as on screen" is chosen and the view was drawn.
    on_screen: Option<([f64; 4], f64)>,
    title: String,
    case_path: Option<PathBuf>,
    options: ExportOptions,
}

impl Snapshot {
    /// The pipeline's tumour-board slide of this snapshot: the one slide of the PNG export, the
    /// DICOM export and `compute --png`.
    fn board_slide(
        &self,
        result: &ModelResult,
        assets: &ModelAssets,
        rules: &RuleSet,
    ) -> Result<crate::export::SlideImage, String> {
        crate::pipeline::board_slide(&BoardInput {
            title: &self.title,
            volume: Some(&self.volume),
            phantom: None,
            structures: &self.structures,
            structure_geometry: &self.volume.geometry,
            probes: &self.probes,
            settings: &self.settings,
            result,
            assets,
            safety: self.safety.as_deref(),
            rules,
            case_file: self.case_path.as_deref(),
            anonymise: self.options.anonymise,
        })
        .map_err(|e| e.to_string())
    }
}

impl AblaApp {
    pub fn export_run(&self) -> &ExportRun {
        &self.export
    }

    fn export_snapshot(&mut self) -> Option<Snapshot> {
        let assets = self.run.assets().ok();
        let loaded = self.loaded.as_ref()?;
        let viewer = self.viewer.as_ref()?;
        let view = viewer.active;
        let slice = viewer.slice_index(&loaded.volume.view_mapping(view));
        let result = self.run.current(self.plan.revision()).cloned();
        let safety = self
            .safety_report_arc()
            .filter(|r| result.is_some() && r.has_zone() && self.safety_current());
        let slice_of = |v: ViewKind| (v, viewer.slice_index(&loaded.volume.view_mapping(v)));
        let plan_name = self.case.plans.get(self.case.active).map(|p| p.name.clone());
        let on_screen = if self.export.options.on_screen {
            let m = loaded.volume.view_mapping(view);
            let state = viewer.view(view);
            self.views.pane_rects[super::viewer::view_slot(view)].and_then(|rect| {
                let xf = super::viewer::ViewTransform::new(rect, &m, state);
                super::viewer::visible_crop(rect, &m, state).map(|c| (c, xf.scale[0].min(xf.scale[1])))
            })
        } else {
            None
        };
        Some(Snapshot {
            volume: loaded.volume.clone(),
            view,
            layout: self.settings.layout,
            slices: [
                slice_of(ViewKind::Axial),
                slice_of(ViewKind::Coronal),
                slice_of(ViewKind::Sagittal),
            ],
            slice,
            window: WindowLevel::new(viewer.window.center_hu, viewer.window.width_hu),
            structures: self.structures.items.clone(),
            probes: self.plan.probes.clone(),
            settings: self.plan.model_settings(),
            result,
            safety,
            rules: self.safety_rules_arc(),
            assets,
            on_screen,
            caliper: self.safety.caliper.as_ref().map(|c| CaliperOverlay {
                a_lps: c.a_lps,
                b_lps: c.b_lps,
                label: Some(c.label.clone()),
            }),
            // The title the CLI gives the same plan of a saved case.
            title: match plan_name {
                Some(p) => format!("{} — {p}", self.case.name),
                None => self.case.name.clone(),
            },
            case_path: self.case.path.clone(),
            options: self.export.options,
        })
    }

    /// Renders the active view (with every overlay) into `path`: when zoomed or panned, the part
    /// seen on screen at the chosen scale or finer — never coarser than the screen showed it —
    /// unless "as on screen" is off; otherwise the whole slice at the chosen scale.
    pub(super) fn export_view(&mut self, path: PathBuf) {
        self.start_export(path, |s, path| {
            let mut e = active_view_export(&s);
            let m = s.volume.view_mapping(s.view);
            let whole = [0.0, 0.0, m.width as f64, m.height as f64];
            let img = match s.on_screen {
                Some((crop, points_per_px)) if crop != whole => {
                    // Zoomed in: the part seen, at least as sharp as the screen drew it, with
                    // text and strokes at the chosen scale (not blown up with the pixels).
                    e.crop = Some(crop);
                    let k = f64::from(s.options.scale)
                        .max(points_per_px.ceil())
                        .min(f64::from(crate::export::view::MAX_SCALE));
                    let out_mm = m.pixel_mm[0].min(m.pixel_mm[1]) / k;
                    let size =
                        |from: f64, to: f64, mm: f64| (((to - from) * mm / out_mm).round() as usize).max(1);
                    let (w, h) = (
                        size(crop[0], crop[2], m.pixel_mm[0]),
                        size(crop[1], crop[3], m.pixel_mm[1]),
                    );
                    render_view_fit(&e, w, h, f64::from(s.options.scale), false)
                }
                _ => render_view(&e),
            }
            .map_err(|e| e.to_string())?;
            crate::render::save_png(&path, &img.image).map_err(|e| e.to_string())?;
            Ok(path)
        });
    }

    /// Renders the whole layout as on screen (1×1, 1+2 or 1×3) at 960 × 540 times the export
    /// scale into `path`.
    pub(super) fn export_layout(&mut self, path: PathBuf) {
        self.start_export(path, |s, path| {
            let k = s.options.scale.max(1) as usize;
            let (w, h) = (960 * k, 540 * k);
            let others: Vec<(ViewKind, usize)> =
                s.slices.iter().copied().filter(|(v, _)| *v != s.view).collect();
            let active = s
                .slices
                .iter()
                .copied()
                .find(|(v, _)| *v == s.view)
                .unwrap_or(s.slices[0]);
            let rects: Vec<((ViewKind, usize), [usize; 4])> = match s.layout {
                // The layouts with the 3-D view export their slice views (the 3-D picture has
                // its own export).
                super::settings::Layout::Single | super::settings::Layout::Only3d => {
                    vec![(active, [0, 0, w, h])]
                }
                super::settings::Layout::TwoByTwo3d => s
                    .slices
                    .iter()
                    .zip([[0, 0], [0, 1], [1, 1]])
                    .map(|(o, [c, r])| (*o, [c * w / 2, r * h / 2, w / 2, h / 2]))
                    .collect(),
                super::settings::Layout::OnePlusTwo => {
                    let big = w * 2 / 3;
                    let mut v = vec![(active, [0, 0, big, h])];
                    for (n, o) in others.iter().enumerate() {
                        v.push((*o, [big, n * h / 2, w - big, h / 2]));
                    }
                    v
                }
                super::settings::Layout::OneByThree => s
                    .slices
                    .iter()
                    .enumerate()
                    .map(|(n, o)| (*o, [n * w / 3, 0, w / 3, h]))
                    .collect(),
            };
            let panels: Vec<LayoutPanel<'_>> = rects
                .into_iter()
                .map(|((view, slice), rect)| {
                    let mut e = ViewExport::new(&s.volume, ViewPlane::Mpr { view, slice });
                    e.window = s.window;
                    e.anonymise = s.options.anonymise;
                    e.overlays = overlays(&s);
                    LayoutPanel { view: e, rect }
                })
                .collect();
            let (image, _) = render_layout(w, h, &panels, k as f64).map_err(|e| e.to_string())?;
            crate::render::save_png(&path, &image).map_err(|e| e.to_string())?;
            Ok(path)
        });
    }

    /// Renders the board slide of the current plan (IRE or cryo) into `path`: the pipeline's
    /// own slide ([`crate::pipeline::board_slide`]), so `ablaplan compute --png` of the saved case
    /// gives the same image.
    pub(super) fn export_slide(&mut self, path: PathBuf) {
        if self.run.current(self.plan.revision()).is_none() {
            let what = if self.is_cryo_plan() {
                "The board slide shows the plan's iceball: place the cryoprobes and let the cryo model finish first"
            } else {
                "The board slide shows the plan's zone: place the electrodes and let the model finish first"
            };
            self.notify(NoticeLevel::Warning, what);
            return;
        }
        self.start_export(path, |s, path| {
            let result = s
                .result
                .as_ref()
                .ok_or("the zone is out of date: wait for the model")?;
            let assets = s.assets.as_ref().ok_or("the model's assets could not be read")?;
            let rules = s.rules.as_deref().ok_or("the safety rules could not be read")?;
            let slide = s.board_slide(result, assets, rules)?;
            slide.save_png(&path).map_err(|e| e.to_string())?;
            Ok(path)
        });
    }

    /// Writes the plan as DICOM into the folder `dir`: SEG and RTSTRUCT of the structures and
    /// the current zones, Secondary Captures of the board slide (when the zone is current) and
    /// of the active view, in the CT's study; "Anonymise exports" replaces the patient's
    /// identifiers in every object and in the view's corner text.
    pub(super) fn export_dicom(&mut self, dir: PathBuf) {
        if self
            .loaded
            .as_ref()
            .is_some_and(|l| l.volume.meta.study_instance_uid.trim().is_empty())
        {
            self.notify(
                NoticeLevel::Warning,
                "This CT has no StudyInstanceUID, so DICOM objects could not join its study",
            );
            return;
        }
        if !self.plan.probes.is_empty() && self.run.current(self.plan.revision()).is_none() {
            self.notify(
                NoticeLevel::Warning,
                "The plan's zone is still being computed: export to DICOM when the model has finished",
            );
            return;
        }
        self.start_export(dir, |s, dir| {
            let mut captures = Vec::new();
            if let (Some(result), Some(assets), Some(rules)) = (&s.result, &s.assets, s.rules.as_deref()) {
                let slide = s.board_slide(result, assets, rules)?;
                captures.push(CaptureImage {
                    title: format!("Tumour-board slide: {}", s.title),
                    image: slide.image,
                    // The slide never shows the patient's name, ID or birth date.
                    identifying_text: false,
                });
            }
            let e = active_view_export(&s);
            let view = render_view(&e).map_err(|e| e.to_string())?;
            captures.push(CaptureImage {
                title: format!("{} view", s.view.name()),
                image: view.image,
                identifying_text: !s.options.anonymise,
            });
            let lethal_c = match &s.settings {
                ModelSettings::Cryo(c) => c.lethal_isotherm_c,
                ModelSettings::Ire { .. } => f64::NAN,
            };
            let objects = build_export(&DicomExportRequest {
                volume: &s.volume,
                structures: &s.structures,
                result: s.result.as_ref(),
                lethal_c,
                captures,
                anonymise: s.options.anonymise,
            })
            .map_err(|e| e.to_string())?;
            write_export(&dir, &objects).map_err(|e| e.to_string())?;
            Ok(dir)
        });
    }

    pub(super) fn start_export(
        &mut self,
        path: PathBuf,
        work: impl FnOnce(Snapshot, PathBuf) -> Result<PathBuf, String> + Send + 'static,
    ) {
        if self.export.job.is_some() {
            self.notify(NoticeLevel::Info, "An export is already running");
            return;
        }
        let Some(snapshot) = self.export_snapshot() else {
            self.notify(NoticeLevel::Warning, "Nothing to export: open a CT first");
            return;
        };
        match Job::spawn("export", 0, self.progress(), move |_| work(snapshot, path)) {
            Ok(job) => self.export.job = Some(job),
            Err(e) => self.notify(NoticeLevel::Error, format!("Cannot start the export: {e}")),
        }
    }

    pub(super) fn poll_export(&mut self) {
        let Some(job) = &mut self.export.job else { return };
        let Some(out) = job.poll() else { return };
        self.export.job = None;
        match out {
            Ok(Ok(path)) => self.notify(NoticeLevel::Info, format!("Exported {}", path.display())),
            Ok(Err(e)) => self.notify(NoticeLevel::Error, format!("Export failed: {e}")),
            Err(e) => self.notify(NoticeLevel::Error, e.to_string()),
        }
    }
}

/// The active view as the screen shows it (slice, window, overlays) at the chosen scale.
fn active_view_export(s: &Snapshot) -> ViewExport<'_> {
    let mut e = ViewExport::new(
        &s.volume,
        ViewPlane::Mpr {
            view: s.view,
            slice: s.slice,
        },
    );
    e.window = s.window;
    e.scale = s.options.scale;
    e.anonymise = s.options.anonymise;
    e.overlays = overlays(s);
    e
}

fn overlays(s: &Snapshot) -> Vec<Overlay<'_>> {
    let mut out: Vec<Overlay<'_>> = s
        .structures
        .iter()
        .filter(|st| st.visible)
        .map(|st| {
            Overlay::Structure(StructureOverlay {
                name: st.name.clone(),
                mask: st.mask(),
                colour: st.colour,
                fill_opacity: st.opacity,
            })
        })
        .collect();
    match (&s.result, &s.settings) {
        (Some(ModelResult::Cryo(r)), ModelSettings::Cryo(c)) => {
            out.push(Overlay::Zone(ZoneOverlay::cryo(r, c.lethal_isotherm_c)));
        }
        (Some(ModelResult::Ire(r)), ModelSettings::Ire { model, .. }) => {
            out.push(Overlay::Zone(ZoneOverlay::ire(r, &model.isolines_v_per_cm)));
        }
        _ => {}
    }
    if !s.probes.is_empty() {
        out.push(Overlay::Probes(ProbeOverlay::numbered(&s.probes)));
    }
    if let Some(c) = &s.caliper {
        out.push(Overlay::Caliper(c.clone()));
    }
    out
}
