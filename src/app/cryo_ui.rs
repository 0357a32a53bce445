//! The cryo plan UI (issue 5): the probe model chooser shared with IRE placement, the cryo
//! settings sections of the plan panel (protocol timeline, lethal / user isotherm, grid, model
//! status with Cancel, time slider, iceball dimensions, sensor temperature plot), the cryo model
//! run (instant preview on the UI thread while dragging, the full model as a background job keyed
//! by the plan revision, stale results dropped) and the isotherm overlays of the slice views.
//!
//! A plan is a cryo plan when every probe is a cryoprobe of the catalog (or, with no probe yet,
//! when the probe tool places a cryoprobe); the IRE sections hide then.

use std::sync::Arc;

use eframe::egui::{self, Align2, Color32, Pos2, Rect, RichText, Stroke};

use super::AblaApp;
use super::command::Command;
use super::run::{ModelRun, SizeTable, SnapshotGate};
use super::widgets::shadow_text;
use crate::geometry::{PatientPos, VolumeGeometry};
use crate::physics::cryo::model::{CryoResult, CryoSettings, IsothermSize, iceball_axes, trilinear_i16};
use crate::physics::cryo::preview::CryoPreview;
use crate::plan::catalog::Modality;
use crate::plan::protocol::{CryoProtocol, Phase, PhaseKind, ProbeDuty};
use crate::render::isolines::{IsoSegment, marching_squares, mask_outline};
use crate::render::reslice::sample_lattice_with;
use crate::volume::SliceMapping;

mod draw;
#[allow(unused_imports)]
pub use draw::*;

/// Grid spacings offered (issue 5: 1 mm default, 0.5–2 mm adjustable).
pub const CRYO_SPACINGS_MM: [f64; 4] = [0.5, 1.0, 1.5, 2.0];
/// Array spacing of cryo templates (mm): the cryo study's 15 mm between seeds (REFERENCE.md §1).
pub const CRYO_ARRAY_SPACING_MM: f64 = 15.0;
/// Temperature used outside the model grid when sampling a view (°C): warm, so no isotherm
/// crosses there.
const OUTSIDE_C: f32 = 37.0;
use crate::render::palette::CRYO_LETHAL_RGB as LETHAL_RGB;
const LETHAL_ALPHA: f32 = 0.32;
const CAUTION: Color32 = super::widgets::c32(crate::render::palette::TEXT_CAUTION);

/// Colour of a drawn isotherm (by temperature: 0 °C white-blue, −20 cyan, −40 blue, others
/// magenta).
pub fn isotherm_colour(t_c: f64) -> Color32 {
    super::widgets::rgb(crate::render::palette::isotherm(t_c))
}

/// What the slice views draw now: the preview while dragging, else the shown result at the
/// slider's time (the running job's snapshots, or the last full result).
pub fn cryo_view(run: &mut ModelRun, settings: &CryoSettings, plan_revision: u64) -> Option<CryoView> {
    let isotherms_c = drawn_isotherms(settings);
    if let Some(p) = run.cryo_preview() {
        return Some(CryoView {
            result: None,
            preview: Some(p.clone()),
            snapshot: 0,
            lethal: None,
            isotherms_c,
            lethal_c: settings.lethal_isotherm_c,
            id: run.result_id,
            outdated: false,
            time_s: 0.0,
        });
    }
    let lethal = run.lethal_field();
    let revision = if run.showing_partial() {
        run.running_for()
    } else {
        Some(run.result_revision)
    };
    let result = run.cryo_shown()?.clone();
    Some(CryoView {
        snapshot: run.shown_snapshot()?,
        time_s: run.shown_time_s()?,
        lethal,
        isotherms_c,
        lethal_c: result.lethal_isotherm_c,
        result: Some(result),
        preview: None,
        id: run.shown_id(),
        outdated: revision != Some(plan_revision),
    })
}

/// The isotherm outlines drawn: 0, −20, −40 °C and the user's.
pub fn drawn_isotherms(s: &CryoSettings) -> Vec<f64> {
    let mut v = vec![0.0, -20.0, -40.0];
    if let Some(t) = s.user_isotherm_c
        && !v.iter().any(|x| (x - t).abs() < 1e-9)
    {
        v.push(t);
    }
    v
}

/// What the slice views draw: a full result at a snapshot or the preview.
pub struct CryoView {
    pub result: Option<Arc<CryoResult>>,
    pub preview: Option<Arc<CryoPreview>>,
    pub snapshot: usize,
    /// Lethal zone up to `snapshot` as a 0 / 100 node field.
    pub lethal: Option<Arc<Vec<i16>>>,
    pub isotherms_c: Vec<f64>,
    pub lethal_c: f64,
    pub id: u64,
    pub outdated: bool,
    pub time_s: f64,
}

impl CryoView {
    /// The legend lines (text, colour), the first saying what is shown.
    pub fn legend(&self) -> Vec<(String, Color32)> {
        let title = if self.preview.is_some() {
            "Cryo preview (catalog ellipsoids)".to_string()
        } else if self.outdated {
            format!("Iceball at {:.1} min (outdated)", self.time_s / 60.0)
        } else {
            format!("Iceball at {:.1} min", self.time_s / 60.0)
        };
        let mut v = vec![(title, Color32::WHITE)];
        for t in &self.isotherms_c {
            v.push((format!("— {t:.0} °C isotherm"), isotherm_colour(*t)));
        }
        if self.result.as_ref().is_some_and(|r| r.band.is_some()) {
            v.push((
                "- - uncertainty band (lethal inner / outer, 0 °C outer)".to_string(),
                Color32::WHITE,
            ));
        }
        // "filled" only when something is: early in the freeze the lethal zone is empty.
        let text = if self.lethal_filled() {
            format!("lethal zone (filled) at or below {:.0} °C", self.lethal_c)
        } else {
            format!("lethal zone: none yet (at or below {:.0} °C)", self.lethal_c)
        };
        v.push((text, super::widgets::rgb(LETHAL_RGB)));
        v
    }

    /// Whether the lethal fill has anything to draw: nodes of the lethal field of the shown
    /// time, or (preview) the catalog's lethal ellipsoids.
    pub fn lethal_filled(&self) -> bool {
        match (&self.lethal, &self.preview) {
            // At t = 0 only the probes' own cold nodes would count.
            (Some(l), _) => self.time_s > 0.0 && l.iter().any(|&x| x > 0),
            (None, Some(_)) => true,
            (None, None) => false,
        }
    }
}

// ----- the app side: modality, placement model, running the model, commands -----

impl AblaApp {
    /// The catalog id the probe tool and the array template place: the user's choice, else the
    /// catalog's first IRE electrode.
    pub fn probe_model_id(&self) -> Option<String> {
        self.probe_model.clone().or_else(|| {
            self.catalog()?
                .of_modality(Modality::Ire)
                .next()
                .map(|m| m.id.clone())
        })
    }

    /// The chosen placement model and its default active length / exposure.
    pub(super) fn placement_model(&self) -> Result<(String, f64), String> {
        let Some(id) = self.probe_model.clone() else {
            return self.default_ire_model();
        };
        let cat = self
            .catalog()
            .ok_or_else(|| "The probe catalog could not be read".to_string())?;
        let m = cat
            .get(&id)
            .ok_or_else(|| format!("\"{id}\" is not in the probe catalog (assets/probes.json)"))?;
        let mm = m
            .default_active_mm()
            .ok_or_else(|| format!("{} has no default active length in the catalog", m.name))?;
        Ok((id, mm))
    }

    /// Whether the plan is a cryo plan (its modality, by type).
    pub fn is_cryo_plan(&self) -> bool {
        self.plan.modality() == Modality::Cryo
    }

    pub fn cryo_result(&self) -> Option<&CryoResult> {
        self.run.cryo_result().map(|r| &**r)
    }
    pub fn cryo_preview(&self) -> Option<&CryoPreview> {
        self.run.cryo_preview().map(|p| &**p)
    }
    /// The running job's partial result (the snapshots streamed so far), if any.
    pub fn cryo_partial(&self) -> Option<&CryoResult> {
        self.run.partial.as_deref()
    }
    /// Test hook: the next jobs hold after streaming snapshot `gate.after` (see
    /// [`SnapshotGate`]); `None` lets them run through.
    pub fn set_cryo_snapshot_gate(&mut self, gate: Option<SnapshotGate>) {
        self.run.gate = gate;
    }
    /// The time the slider shows (s).
    pub fn cryo_time_s(&self) -> Option<f64> {
        self.run.shown_time_s()
    }
    /// Iceball sizes at the slider's time: 0, −20, −40 °C (and the user's), then the lethal zone.
    pub fn cryo_sizes(&mut self) -> Option<SizeTable> {
        let iso = drawn_isotherms(&self.plan.cryo_settings());
        self.run.sizes(&self.plan.probes, &iso)
    }
    /// The legend the slice views draw (empty without a cryo result or preview).
    pub fn cryo_legend(&mut self) -> Vec<String> {
        let s = self.plan.cryo_settings();
        cryo_view(&mut self.run, &s, self.plan.revision())
            .map(|v| v.legend().into_iter().map(|(t, _)| t).collect())
            .unwrap_or_default()
    }
    /// Sensor curves (name, (time s, °C)) of the shown result: the user's sensors, then a point
    /// on the target's margin when a Target structure exists.
    pub fn cryo_sensor_curves(&self) -> Vec<(String, Vec<(f64, f32)>)> {
        let Some(r) = self.run.cryo_shown() else {
            return Vec::new();
        };
        let mut out: Vec<(String, Vec<(f64, f32)>)> = self
            .plan
            .cryo_sensors_lps()
            .iter()
            .enumerate()
            .filter_map(|(i, p)| Some((format!("Sensor {}", i + 1), r.sensor_curve(p)?)))
            .collect();
        if let Some(p) = self.target_margin_point()
            && let Some(c) = r.sensor_curve(&p)
        {
            out.push(("Target margin".to_string(), c));
        }
        // Each probe's own wall: a Joule–Thomson probe has finite cooling power, so its wall is
        // not a fixed temperature (issue 14).
        for (i, w) in r.wall_temperature.iter().enumerate() {
            let name = self
                .plan
                .probes
                .get(i)
                .map_or_else(|| format!("{}", i + 1), |p| p.label.clone());
            let curve: Vec<(f64, f32)> = w.iter().map(|s| (s.time_s, s.wall_c as f32)).collect();
            if !curve.is_empty() {
                out.push((format!("Probe {name} wall"), curve));
            }
        }
        out
    }

    /// A point on the first Target's margin: from its centroid along the direction between the
    /// first two probes (else +L), the first voxel outside the target.
    fn target_margin_point(&self) -> Option<PatientPos> {
        let vol = self.volume()?;
        let s = self
            .structures
            .items
            .iter()
            .find(|s| s.kind == crate::anatomy::StructureKind::Target)?;
        let c = super::structures::mask_centroid(s.mask())?;
        let g = &vol.geometry;
        let centre = g.to_patient(&nalgebra::Vector3::new(c[0], c[1], c[2]));
        let dir = iceball_axes(&self.plan.probes).map_or(nalgebra::Vector3::x(), |a| a[1]);
        let step = g
            .spacing_mm
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .max(0.1);
        (1..2000).find_map(|n| {
            let p = centre + dir * (n as f64 * step);
            let v = g.nearest_voxel(&g.to_voxel(&p))?;
            (!s.mask().contains(v[0], v[1], v[2])).then_some(p)
        })
    }

    /// Cryo commands (see `Command`).
    pub(super) fn apply_cryo(&mut self, cmd: Command) {
        match cmd {
            Command::SetProbeModel(id) => {
                let was_cryo = self.model_is_cryo(self.probe_model_id().as_deref());
                let now_cryo = self.model_is_cryo(Some(&id));
                self.probe_model = Some(id);
                // An empty plan takes the modality of the probe chosen to place.
                self.plan
                    .set_modality(if now_cryo { Modality::Cryo } else { Modality::Ire });
                // Cryo arrays: the cryo study's 15 mm; the IRE default otherwise. The template's
                // exposure belongs to the previous model.
                if was_cryo != now_cryo {
                    self.array.spacing_mm = if now_cryo {
                        CRYO_ARRAY_SPACING_MM
                    } else {
                        super::plan::ArrayOptions::default().spacing_mm
                    };
                }
                self.array.exposure_mm = None;
            }
            Command::SetCryoSettings { settings, live } => {
                if live {
                    if !self.plan.dragging() {
                        self.plan.begin_drag();
                    }
                    self.plan.set_cryo_live(settings);
                } else {
                    self.plan.set_cryo(settings);
                }
            }
            Command::SetCryoTime(t) if t.is_finite() => self.run.time_s = Some(t.max(0.0)),
            Command::AddCryoSensor(p) => {
                self.plan.edit_sensors(|v| v.push(p));
            }
            Command::AddCryoSensorAtCrosshair => {
                if let (Some(vol), Some(v)) = (self.volume(), self.viewer.as_ref()) {
                    let p = vol.geometry.to_patient(&v.crosshair);
                    self.plan.edit_sensors(|v| v.push(p));
                }
            }
            Command::RemoveCryoSensor(i) if i < self.plan.cryo_sensors_lps().len() => {
                self.plan.edit_sensors(|v| {
                    v.remove(i);
                });
            }
            _ => {}
        }
    }

    fn model_is_cryo(&self, id: Option<&str>) -> bool {
        id.and_then(|id| self.catalog()?.get(id))
            .is_some_and(|m| m.modality == Modality::Cryo)
    }
}

// ----- the plan panel -----

/// The probe model the probe tool and the array template place (IRE electrodes and cryoprobes).
pub fn probe_model_chooser(ui: &mut egui::Ui, app: &AblaApp, cmds: &mut Vec<Command>) {
    let Some(cat) = app.catalog() else { return };
    let current = app.probe_model_id();
    let name = |id: &str| cat.get(id).map_or(id.to_string(), |m| m.name.clone());
    ui.horizontal(|ui| {
        egui::ComboBox::from_label("Probe model")
            .selected_text(current.as_deref().map_or("—".to_string(), name))
            .show_ui(ui, |ui| {
                for m in &cat.probes {
                    let kind = match m.modality {
                        Modality::Ire => "IRE",
                        Modality::Cryo => "cryo",
                    };
                    let on = current.as_deref() == Some(m.id.as_str());
                    if ui.selectable_label(on, format!("{} ({kind})", m.name)).clicked() && !on {
                        cmds.push(Command::SetProbeModel(m.id.clone()));
                    }
                }
            })
            .response
            .on_hover_text("What the probe tool and \"Place array\" place");
    });
}

/// What the cryo sections show, measured (and cached) before the panel borrows the app.
pub struct PanelData {
    settings: CryoSettings,
    sizes: Option<SizeTable>,
    legend: Vec<String>,
    curves: Vec<(String, Vec<(f64, f32)>)>,
    lethal: Vec<crate::physics::cryo::tissue::LethalIsotherm>,
}

impl PanelData {
    pub fn new(app: &mut AblaApp) -> Self {
        Self {
            settings: app.plan.cryo_settings(),
            sizes: app.cryo_sizes(),
            legend: app.cryo_legend(),
            curves: app.cryo_sensor_curves(),
            lethal: app
                .run
                .assets()
                .map(|a| a.cryo.tissues.lethal_isotherms.clone())
                .unwrap_or_default(),
        }
    }
}

/// The cryo sections of the plan panel.
pub fn sections(ui: &mut egui::Ui, app: &AblaApp, d: &PanelData, cmds: &mut Vec<Command>) {
    egui::CollapsingHeader::new("Cryo protocol")
        .default_open(true)
        .show(ui, |ui| protocol_ui(ui, app, &d.settings, cmds));
    egui::CollapsingHeader::new("Cryo isotherms and grid")
        .default_open(true)
        .show(ui, |ui| isotherms_ui(ui, &d.lethal, &d.settings, cmds));
    egui::CollapsingHeader::new("Cryo model")
        .default_open(true)
        .show(ui, |ui| model_ui(ui, app, d.sizes.as_deref(), &d.legend, cmds));
    egui::CollapsingHeader::new("Sensor temperatures")
        .default_open(true)
        .show(ui, |ui| sensors_ui(ui, app, &d.curves, cmds));
}

fn phase_colour(k: PhaseKind) -> Color32 {
    match k {
        PhaseKind::Freeze => Color32::from_rgb(70, 130, 240),
        PhaseKind::PassiveThaw => Color32::from_rgb(120, 120, 130),
        PhaseKind::ActiveThaw => Color32::from_rgb(230, 120, 60),
    }
}

fn protocol_ui(ui: &mut egui::Ui, app: &AblaApp, s: &CryoSettings, cmds: &mut Vec<Command>) {
    let set = |cmds: &mut Vec<Command>, protocol: CryoProtocol, live: bool| {
        cmds.push(Command::SetCryoSettings {
            settings: CryoSettings {
                protocol,
                ..s.clone()
            },
            live,
        });
    };
    ui.horizontal_wrapped(|ui| {
        ui.label("Preset");
        for (name, p) in CryoProtocol::presets() {
            let on = p == s.protocol;
            if ui.selectable_label(on, name).clicked() && !on {
                set(cmds, p, false);
            }
        }
    });
    // The timeline: one bar per phase, its width proportional to the duration; the slider's
    // time is the white mark.
    let total = s.protocol.total_s().max(1.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(ui.available_width(), 22.0), egui::Sense::hover());
    let painter = ui.painter_at(rect);
    let mut x = rect.min.x;
    for ph in &s.protocol.phases {
        let w = (ph.duration_s / total) as f32 * rect.width();
        let r = Rect::from_min_size(Pos2::new(x, rect.min.y), egui::vec2(w, rect.height()));
        painter.rect_filled(r.shrink(0.5), 2.0, phase_colour(ph.kind));
        if w > 28.0 {
            painter.text(
                r.center(),
                Align2::CENTER_CENTER,
                format!("{:.0}", ph.duration_s / 60.0),
                egui::FontId::proportional(11.0),
                Color32::WHITE,
            );
        }
        x += w;
    }
    if let Some(t) = app.run.shown_time_s() {
        let tx = rect.min.x + (t / total) as f32 * rect.width();
        painter.line_segment(
            [Pos2::new(tx, rect.min.y), Pos2::new(tx, rect.max.y)],
            Stroke::new(2.0, Color32::WHITE),
        );
    }
    ui.label(RichText::new(s.protocol.description()).small());
    let n_probes = app.plan.probes.len();
    let mut remove = None;
    egui::Grid::new("cryo-phases")
        .num_columns(4)
        .striped(true)
        .show(ui, |ui| {
            for (i, ph) in s.protocol.phases.iter().enumerate() {
                let l = ui.label(format!("Phase {}", i + 1));
                let mut kind = ph.kind;
                egui::ComboBox::from_id_salt(("cryo-phase-kind", i))
                    .selected_text(kind.label())
                    .show_ui(ui, |ui| {
                        for k in [PhaseKind::Freeze, PhaseKind::PassiveThaw, PhaseKind::ActiveThaw] {
                            ui.selectable_value(&mut kind, k, k.label());
                        }
                    })
                    .response
                    .labelled_by(l.id);
                if kind != ph.kind {
                    let mut p = s.protocol.clone();
                    p.phases[i].kind = kind;
                    set(cmds, p, false);
                }
                let mut min = ph.duration_s / 60.0;
                let r = ui
                    .add(
                        egui::DragValue::new(&mut min)
                            .range(0.5..=60.0)
                            .speed(0.1)
                            .fixed_decimals(1)
                            .suffix(" min"),
                    )
                    .labelled_by(l.id)
                    .on_hover_text(format!("Duration of phase {}", i + 1));
                if r.changed() && min.is_finite() {
                    let mut p = s.protocol.clone();
                    p.phases[i].duration_s = (min * 60.0).round();
                    set(cmds, p, r.dragged());
                }
                if r.drag_stopped() {
                    cmds.push(Command::EndDrag);
                }
                if ui
                    .add_enabled(s.protocol.phases.len() > 1, egui::Button::new("Remove"))
                    .on_hover_text(format!("Remove phase {}", i + 1))
                    .clicked()
                {
                    remove = Some(i);
                }
                ui.end_row();
            }
        });
    if let Some(i) = remove {
        let mut p = s.protocol.clone();
        p.phases.remove(i);
        // Duties name probes, not phases: nothing to renumber.
        set(cmds, p, false);
    }
    ui.horizontal(|ui| {
        for k in [PhaseKind::Freeze, PhaseKind::PassiveThaw, PhaseKind::ActiveThaw] {
            if ui.button(format!("+ {}", k.label())).clicked() {
                let mut p = s.protocol.clone();
                let d = if k == PhaseKind::ActiveThaw { 60.0 } else { 300.0 };
                p.phases.push(Phase::new(k, d));
                set(cmds, p, false);
            }
        }
    });
    if n_probes > 0 {
        egui::CollapsingHeader::new("Per-probe duty (%)").show(ui, |ui| {
            egui::Grid::new("cryo-duty")
                .num_columns(n_probes + 1)
                .show(ui, |ui| {
                    ui.label("");
                    for pi in 0..n_probes {
                        ui.label(format!("Probe {}", app.plan.label(pi)));
                    }
                    ui.end_row();
                    for (i, ph) in s.protocol.phases.iter().enumerate() {
                        let l = ui.label(format!("{} {}", i + 1, ph.kind.label()));
                        for pi in 0..n_probes {
                            let mut pct = ph.duty(pi) * 100.0;
                            let passive = ph.kind == PhaseKind::PassiveThaw;
                            let r = ui
                                .add_enabled(
                                    !passive,
                                    egui::DragValue::new(&mut pct)
                                        .range(0.0..=100.0)
                                        .speed(1.0)
                                        .suffix(" %"),
                                )
                                .labelled_by(l.id)
                                .on_hover_text(format!(
                                    "Duty of probe {} in phase {} (0 = off)",
                                    app.plan.label(pi),
                                    i + 1
                                ));
                            if (r.changed() && !r.dragged() || r.drag_stopped()) && pct.is_finite() {
                                let mut p = s.protocol.clone();
                                let d = &mut p.phases[i].probe_duty;
                                d.retain(|x| x.probe != pi);
                                if pct < 99.999 {
                                    d.push(ProbeDuty {
                                        probe: pi,
                                        duty: pct / 100.0,
                                    });
                                }
                                set(cmds, p, false);
                            }
                        }
                        ui.end_row();
                    }
                });
        });
    }
}

fn isotherms_ui(
    ui: &mut egui::Ui,
    lethal: &[crate::physics::cryo::tissue::LethalIsotherm],
    s: &CryoSettings,
    cmds: &mut Vec<Command>,
) {
    let set = |cmds: &mut Vec<Command>, settings: CryoSettings| {
        cmds.push(Command::SetCryoSettings {
            settings,
            live: false,
        });
    };
    egui::ComboBox::from_label("Lethal isotherm")
        .selected_text(format!("{:.0} °C", s.lethal_isotherm_c))
        .show_ui(ui, |ui| {
            for l in lethal {
                let t = l.temperature_c.value;
                let on = (t - s.lethal_isotherm_c).abs() < 1e-9;
                if ui
                    .selectable_label(on, format!("{t:.0} °C"))
                    .on_hover_text(&l.temperature_c.source)
                    .clicked()
                    && !on
                {
                    set(
                        cmds,
                        CryoSettings {
                            lethal_isotherm_c: t,
                            ..s.clone()
                        },
                    );
                }
            }
        });
    if let Some(l) = lethal
        .iter()
        .find(|l| (l.temperature_c.value - s.lethal_isotherm_c).abs() < 1e-9)
    {
        ui.label(
            RichText::new(format!("Source: {}", l.temperature_c.source))
                .small()
                .weak(),
        );
    }
    ui.horizontal(|ui| {
        let mut on = s.user_isotherm_c.is_some();
        if ui.checkbox(&mut on, "User isotherm").changed() {
            set(
                cmds,
                CryoSettings {
                    user_isotherm_c: on.then_some(-30.0),
                    ..s.clone()
                },
            );
        }
        if let Some(t) = s.user_isotherm_c {
            let mut v = t;
            let r = ui.add(
                egui::DragValue::new(&mut v)
                    .range(-150.0..=0.0)
                    .speed(1.0)
                    .suffix(" °C"),
            );
            let r = r.on_hover_text("User isotherm temperature");
            if (r.changed() && !r.dragged() || r.drag_stopped()) && v.is_finite() {
                set(
                    cmds,
                    CryoSettings {
                        user_isotherm_c: Some(v),
                        ..s.clone()
                    },
                );
            }
        }
    });
    egui::ComboBox::from_label("Cryo grid spacing")
        .selected_text(format!("{} mm", s.model.spacing_mm))
        .show_ui(ui, |ui| {
            for mm in CRYO_SPACINGS_MM {
                let on = (mm - s.model.spacing_mm).abs() < 1e-9;
                if ui.selectable_label(on, format!("{mm} mm")).clicked() && !on {
                    let mut n = s.clone();
                    n.model.spacing_mm = mm;
                    set(cmds, n);
                }
            }
        })
        .response
        .on_hover_text("1 mm by default; 2 mm is about 8× faster");
}

fn model_ui(
    ui: &mut egui::Ui,
    app: &AblaApp,
    sizes: Option<&Vec<(String, IsothermSize)>>,
    legend: &[String],
    cmds: &mut Vec<Command>,
) {
    super::run_panel::run_status(ui, app, cmds);
    let Some(r) = app.run.cryo_shown().map(|r| r.as_ref()) else {
        return;
    };
    let computing = app.run.computing_progress_s();
    if let Some((done_s, total_s)) = computing {
        ui.label(
            RichText::new(format!(
                "computing — {:.1} of {:.0} min (the slider scrubs what is computed)",
                done_s / 60.0,
                total_s / 60.0
            ))
            .color(CAUTION),
        );
    } else if app.run.result_revision != app.plan.revision() {
        ui.label(RichText::new("The plan changed: the iceball shown is outdated").color(CAUTION));
    }
    ui.label(RichText::new(&r.description).small().weak());
    for w in &r.warnings {
        ui.label(RichText::new(w).small().color(CAUTION));
    }
    let last = r.snapshot_times_s.last().copied().unwrap_or(0.0);
    let mut min = app.run.shown_time_s().unwrap_or(0.0) / 60.0;
    let phase = r.protocol.phase_at(min * 60.0).map_or(String::new(), |(i, p)| {
        format!("phase {} {}", i + 1, p.kind.label())
    });
    let resp = ui.add(
        egui::Slider::new(&mut min, 0.0..=last / 60.0)
            .step_by(r.snapshot_times_s.get(1).map_or(0.5, |t| t / 60.0))
            .text("Time")
            .suffix(" min"),
    );
    if resp.changed() {
        cmds.push(Command::SetCryoTime(min * 60.0));
    }
    if computing.is_some() {
        ui.label(phase);
    } else {
        ui.label(format!("{phase} · computed in {:.1} s", r.elapsed_s));
    }
    if let Some(sizes) = sizes {
        egui::Grid::new("cryo-sizes")
            .striped(true)
            .num_columns(5)
            .show(ui, |ui| {
                for h in ["Isotherm", "Volume", "Along probe", "Between probes", "Across"] {
                    ui.label(RichText::new(h).strong());
                }
                ui.end_row();
                for (name, s) in sizes {
                    ui.label(name);
                    ui.label(format!("{:.1} mL", s.volume_ml));
                    for e in s.extents_mm {
                        ui.label(format!("{e:.0} mm"));
                    }
                    ui.end_row();
                }
            });
    }
    if !legend.is_empty() {
        ui.label(RichText::new("Isotherm legend").strong());
        for l in legend {
            ui.label(l);
        }
    }
}

fn sensors_ui(
    ui: &mut egui::Ui,
    app: &AblaApp,
    curves: &[(String, Vec<(f64, f32)>)],
    cmds: &mut Vec<Command>,
) {
    use egui_plot::{Line, Plot, PlotPoints, VLine};
    ui.horizontal(|ui| {
        if ui
            .button("Add sensor at crosshair")
            .on_hover_text("A thermocouple at the crosshair: its temperature over the protocol is plotted")
            .clicked()
        {
            cmds.push(Command::AddCryoSensorAtCrosshair);
        }
    });
    for (i, p) in app.plan.cryo_sensors_lps().iter().enumerate() {
        ui.horizontal(|ui| {
            ui.label(format!(
                "Sensor {}: L {:.1} P {:.1} S {:.1} mm",
                i + 1,
                p.x,
                p.y,
                p.z
            ));
            if ui
                .small_button("Remove")
                .on_hover_text(format!("Remove sensor {}", i + 1))
                .clicked()
            {
                cmds.push(Command::RemoveCryoSensor(i));
            }
        });
    }
    if curves.is_empty() {
        ui.label("Sensor curves appear with the full model (and at the target margin when a Target exists).");
        return;
    }
    let now = app.run.shown_time_s().map(|t| t / 60.0);
    let lines: Vec<(String, Vec<[f64; 2]>)> = curves
        .iter()
        .map(|(n, c)| {
            (
                n.clone(),
                c.iter().map(|(t, v)| [t / 60.0, f64::from(*v)]).collect(),
            )
        })
        .collect();
    use super::widgets::{PLOT_COLOURS, PLOT_Y_AXIS_WIDTH, legend_row};
    let mut legend: Vec<(String, Color32)> = lines
        .iter()
        .enumerate()
        .map(|(i, (n, _))| (n.clone(), PLOT_COLOURS[i % PLOT_COLOURS.len()]))
        .collect();
    legend.push(("shown time".to_string(), Color32::WHITE));
    Plot::new("cryo-sensors")
        .height(170.0)
        .allow_scroll(false)
        .x_axis_label("min")
        .y_axis_label("°C")
        .y_axis_min_width(PLOT_Y_AXIS_WIDTH)
        .show(ui, move |p| {
            for (i, (n, pts)) in lines.into_iter().enumerate() {
                p.line(Line::new(n, PlotPoints::from(pts)).color(PLOT_COLOURS[i % PLOT_COLOURS.len()]));
            }
            if let Some(t) = now {
                p.vline(VLine::new("shown time", t).color(Color32::WHITE));
            }
        });
    legend_row(ui, &legend);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_isotherms_add_the_users_once() {
        let mut s = CryoSettings::default();
        assert_eq!(drawn_isotherms(&s), vec![0.0, -20.0, -40.0]);
        s.user_isotherm_c = Some(-20.0);
        assert_eq!(drawn_isotherms(&s).len(), 3, "no repeat");
        s.user_isotherm_c = Some(-30.0);
        assert_eq!(drawn_isotherms(&s), vec![0.0, -20.0, -40.0, -30.0]);
    }
}
