//! Tumour-board output from the GUI: the active view at 1×/2×/4× and the 1920 × 1080 board slide
//! (IRE or cryo), rendered on the CPU by `export/` (the same code as `ablaplan compute --png`), in
//! a background job, anonymised unless the user turns that off in the export menu.

use std::path::PathBuf;
use std::sync::Arc;

use super::{AblaApp, NoticeLevel};
use crate::export::board::{
    CryoBoard, IreBoard, cryo_board_slide, cryo_provenance, ire_board_slide, ire_provenance,
};
use crate::export::slide::Severity as SlideSeverity;
use crate::export::view::{
    CaliperOverlay, LayoutPanel, Overlay, ProbeOverlay, StructureOverlay, ViewExport, ViewPlane, ZoneOverlay,
    render_layout, render_view,
};
use crate::jobs::Job;
use crate::physics::cryo::model::{CryoResult, CryoSettings};
use crate::physics::ire::model::{IreModelOptions, IreResult};
use crate::plan::ire::IreSettings;
use crate::plan::tissue_params::TissueParams;
use crate::render::WindowLevel;
use crate::volume::{ViewKind, Volume};

/// Export options chosen in the menu.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExportOptions {
    /// Output pixels per image pixel of the view (1, 2 or 4).
    pub scale: u32,
    /// Burn no patient identity into the image (on by default, as the issue asks).
    pub anonymise: bool,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self {
            scale: 2,
            anonymise: true,
        }
    }
}

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
struct Snapshot {
    volume: Arc<Volume>,
    view: ViewKind,
    layout: super::settings::Layout,
    /// Slice shown in each view (axial, coronal, sagittal).
    slices: [(ViewKind, usize); 3],
    slice: usize,
    window: WindowLevel,
    structures: Vec<crate::anatomy::Structure>,
    probes: Vec<crate::plan::probe::Probe>,
    result: Option<Arc<IreResult>>,
    /// What the IRE result was computed from (provenance).
    ire_inputs: (IreModelOptions, IreSettings, Option<Arc<TissueParams>>),
    /// The cryo result of a cryo plan, when it is for the plan as it is now.
    cryo: Option<Arc<CryoResult>>,
    cryo_settings: CryoSettings,
    isolines: Vec<f64>,
    caliper: Option<CaliperOverlay>,
    findings: Option<Vec<(SlideSeverity, String)>>,
    margin: Vec<String>,
    margin_ok: Option<bool>,
    title: String,
    options: ExportOptions,
}

impl AblaApp {
    pub fn export_run(&self) -> &ExportRun {
        &self.export
    }

    fn export_snapshot(&self) -> Option<Snapshot> {
        let loaded = self.loaded.as_ref()?;
        let viewer = self.viewer.as_ref()?;
        let view = viewer.active;
        let slice = viewer.slice_index(&loaded.volume.view_mapping(view));
        let report = self.safety.report().filter(|_| self.safety_current());
        let findings = report.map(|r| {
            r.findings
                .iter()
                .map(|f| {
                    let sev = match f.light {
                        crate::safety::Light::Red => SlideSeverity::HighRisk,
                        crate::safety::Light::Amber => SlideSeverity::Caution,
                        crate::safety::Light::Green => SlideSeverity::Info,
                    };
                    (sev, format!("{}: {}", f.severity.label(), f.message))
                })
                .collect()
        });
        let min_margin = report
            .into_iter()
            .flat_map(|r| &r.margins)
            .filter_map(|m| m.min_margin_mm)
            .min_by(|a, b| a.total_cmp(b));
        let margin = min_margin
            .map(|m| {
                vec![format!(
                    "Minimal margin {m:.1} mm (goal ≥ 5 mm) — {}",
                    if m >= 5.0 { "met" } else { "not met" }
                )]
            })
            .unwrap_or_default();
        let slice_of = |v: ViewKind| (v, viewer.slice_index(&loaded.volume.view_mapping(v)));
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
            structures: self
                .structures
                .items
                .iter()
                .filter(|s| s.visible)
                .cloned()
                .collect(),
            probes: self.plan.probes.clone(),
            result: self
                .ire
                .result
                .clone()
                .filter(|_| !self.ire.outdated(self.plan.revision())),
            ire_inputs: (
                self.plan.model.clone(),
                self.plan.settings.clone(),
                self.tissue.as_ref().ok().cloned(),
            ),
            cryo: self
                .cryo
                .result
                .clone()
                .filter(|_| self.is_cryo_plan() && self.cryo.result_revision == self.plan.revision()),
            cryo_settings: self.plan.cryo_settings(),
            isolines: self.plan.model.isolines_v_per_cm.clone(),
            caliper: self.safety.caliper.as_ref().map(|c| CaliperOverlay {
                a_lps: c.a_lps,
                b_lps: c.b_lps,
                label: Some(c.label.clone()),
            }),
            findings,
            margin_ok: min_margin.map(|m| m >= 5.0),
            margin,
            title: self.case.name.clone(),
            options: self.export.options,
        })
    }

    /// Renders the active view (with every overlay) at the chosen scale into `path`.
    pub(super) fn export_view(&mut self, path: PathBuf) {
        self.start_export(path, |s, path| {
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
            e.overlays = overlays(&s);
            let img = render_view(&e).map_err(|e| e.to_string())?;
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
                super::settings::Layout::Single => vec![(active, [0, 0, w, h])],
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

    /// Renders the board slide of the current plan (IRE or cryo) into `path`.
    pub(super) fn export_slide(&mut self, path: PathBuf) {
        if self.is_cryo_plan() {
            self.export_cryo_slide(path);
            return;
        }
        if self.ire.result.is_none() {
            self.notify(
                NoticeLevel::Warning,
                "The board slide shows the plan's zone: place the electrodes and let the model finish first",
            );
            return;
        }
        self.start_export(path, |s, path| {
            let result = s
                .result
                .as_deref()
                .ok_or("the zone is out of date: wait for the model")?;
            let (options, settings, tissues) = &s.ire_inputs;
            let provenance = match tissues {
                Some(t) => ire_provenance(result, options, settings, t, &s.probes),
                None => crate::export::Provenance {
                    model: result.description.clone(),
                    model_version: format!("ablaplan {} IRE model", env!("CARGO_PKG_VERSION")),
                    ..Default::default()
                },
            };
            let board = IreBoard {
                title: s.title.clone(),
                volume: &s.volume,
                probes: &s.probes,
                result,
                isolines_v_per_cm: &s.isolines,
                structures: &s.structures,
                calipers: s.caliper.clone().into_iter().collect(),
                findings: s.findings.clone(),
                margin: s.margin.clone(),
                margin_ok: s.margin_ok,
                provenance,
                window: s.window,
                anonymise: s.options.anonymise,
            };
            let slide = ire_board_slide(&board).map_err(|e| e.to_string())?;
            slide.save_png(&path).map_err(|e| e.to_string())?;
            Ok(path)
        });
    }

    /// The cryo board slide: the full cryo result of the plan as it is now.
    fn export_cryo_slide(&mut self, path: PathBuf) {
        if self.cryo.result.is_none() || self.cryo.result_revision != self.plan.revision() {
            self.notify(
                NoticeLevel::Warning,
                "The board slide shows the plan's iceball: place the cryoprobes and let the cryo model finish \
                 first",
            );
            return;
        }
        self.start_export(path, |s, path| {
            let result = s
                .cryo
                .as_deref()
                .ok_or("the iceball is out of date: wait for the cryo model")?;
            let tissues = crate::physics::cryo::tissue::builtin_cryo_tissues().map_err(|e| e.to_string())?;
            let board = CryoBoard {
                title: s.title.clone(),
                volume: &s.volume,
                probes: &s.probes,
                result,
                lethal_c: s.cryo_settings.lethal_isotherm_c,
                structures: &s.structures,
                calipers: s.caliper.clone().into_iter().collect(),
                findings: s.findings.clone(),
                margin: s.margin.clone(),
                margin_ok: s.margin_ok,
                provenance: cryo_provenance(result, &s.cryo_settings, &tissues, &s.probes),
                window: s.window,
                anonymise: s.options.anonymise,
            };
            let slide = cryo_board_slide(&board).map_err(|e| e.to_string())?;
            slide.save_png(&path).map_err(|e| e.to_string())?;
            Ok(path)
        });
    }

    fn start_export(
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

fn overlays(s: &Snapshot) -> Vec<Overlay<'_>> {
    let mut out: Vec<Overlay<'_>> = s
        .structures
        .iter()
        .map(|st| {
            Overlay::Structure(StructureOverlay {
                name: st.name.clone(),
                mask: st.mask(),
                colour: st.colour,
                fill_opacity: st.opacity,
            })
        })
        .collect();
    if let Some(r) = &s.cryo {
        out.push(Overlay::Zone(ZoneOverlay::cryo(
            r,
            s.cryo_settings.lethal_isotherm_c,
        )));
    } else if let Some(r) = &s.result {
        out.push(Overlay::Zone(ZoneOverlay::ire(r, &s.isolines)));
    }
    if !s.probes.is_empty() {
        out.push(Overlay::Probes(ProbeOverlay::numbered(&s.probes)));
    }
    if let Some(c) = &s.caliper {
        out.push(Overlay::Caliper(c.clone()));
    }
    out
}
