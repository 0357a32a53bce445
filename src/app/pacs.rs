//! Exchange with PACS in the GUI: the "Receive from PACS/scanner" and "Send to PACS" sections
//! of Settings, the File menu's "Received from PACS" list, and the state behind them — the
//! running receiver ([`crate::net::ScpHandle`], off by default: nothing listens unless the
//! user turns it on), the C-ECHO test and the C-STORE send as [`Job`]s with progress and
//! cancel. Opening a received series goes through the ordinary `Command::Open`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use eframe::egui::{self, RichText};
use serde::{Deserialize, Serialize};

use super::{AblaApp, Command, NoticeLevel, OpenDialog};
use crate::jobs::{Job, Progress};
use crate::net::{
    self, ArrivedSeries, NetError, Node, ScpConfig, ScpEvent, ScpHandle, ScuOptions, SendReport,
};

/// The receiver's settings (persisted in `settings.json`; no patient data).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReceiveSettings {
    /// Off by default: nothing listens unless the user turns it on.
    pub enabled: bool,
    pub ae_title: String,
    pub port: u16,
    /// Address to listen on: all interfaces by default, so a PACS can reach it.
    pub bind: String,
    /// Calling AE titles allowed to send, separated by commas or spaces; empty: any.
    pub allowed_callers: String,
    /// Storage folder; `None`: `received/` in the app's storage folder.
    pub folder: Option<PathBuf>,
}

impl Default for ReceiveSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            ae_title: "ABLAPLAN".into(),
            port: 11112,
            bind: "0.0.0.0".into(),
            allowed_callers: String::new(),
            folder: None,
        }
    }
}

/// The node "Send to PACS" sends to, and the AE title ablaplan calls with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SendSettings {
    pub ae_title: String,
    pub host: String,
    pub port: u16,
    pub calling_ae: String,
}

impl Default for SendSettings {
    fn default() -> Self {
        Self {
            ae_title: "PACS".into(),
            host: String::new(),
            port: 104,
            calling_ae: "ABLAPLAN".into(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PacsSettings {
    pub receive: ReceiveSettings,
    pub send: SendSettings,
}

/// The PACS actions of the GUI.
#[derive(Clone, Debug, PartialEq)]
pub enum PacsCommand {
    /// Store the receiver's settings and start, restart or stop it accordingly.
    SetReceive(ReceiveSettings),
    SetSend(SendSettings),
    /// C-ECHO the configured node (a job).
    TestEcho,
    /// Pick files with a dialog, then send them.
    SendFilesDialog,
    /// C-STORE these files (folders are walked) to the configured node (a job).
    SendFiles(Vec<PathBuf>),
    CancelSend,
}

/// What the GUI keeps of the PACS exchange.
#[derive(Default)]
pub struct PacsState {
    scp: Option<ScpHandle>,
    status: String,
    last_event: String,
    /// Complete series, newest first.
    arrived: Vec<ArrivedSeries>,
    echo: Option<Job<Result<Duration, NetError>>>,
    echo_result: String,
    send: Option<Job<Result<SendReport, NetError>>>,
    send_result: String,
    /// The settings being edited in the Settings window.
    draft: Option<PacsSettings>,
}

/// Most arrived series kept in the File menu.
const MAX_LISTED: usize = 30;

fn default_folder() -> PathBuf {
    eframe::storage_dir("ablaplan")
        .map(|d| d.join("received"))
        .unwrap_or_else(|| PathBuf::from("received"))
}

/// The receiver's configuration from the settings; the error names the field.
pub fn scp_config(r: &ReceiveSettings) -> Result<ScpConfig, String> {
    let bind: IpAddr = r
        .bind
        .trim()
        .parse()
        .map_err(|_| format!("the listen address \"{}\" is not an IP address", r.bind))?;
    let allowed: Vec<String> = r
        .allowed_callers
        .split([',', ' ', ';'])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let cfg = ScpConfig {
        ae_title: r.ae_title.trim().to_string(),
        bind,
        port: r.port,
        allowed_callers: allowed,
        folder: r.folder.clone().unwrap_or_else(default_folder),
        ..ScpConfig::default()
    };
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(cfg)
}

fn node_and_options(s: &SendSettings) -> Result<(Node, ScuOptions), String> {
    let node = Node {
        ae_title: s.ae_title.trim().to_string(),
        host: s.host.trim().to_string(),
        port: s.port,
    };
    node.validate().map_err(|e| e.to_string())?;
    net::check_ae_title(&s.calling_ae).map_err(|e| format!("calling AE title: {e}"))?;
    Ok((
        node,
        ScuOptions {
            calling_ae: s.calling_ae.trim().to_string(),
            ..ScuOptions::default()
        },
    ))
}

impl AblaApp {
    pub fn pacs_arrived(&self) -> &[ArrivedSeries] {
        &self.pacs.arrived
    }
    pub fn pacs_status(&self) -> &str {
        &self.pacs.status
    }
    /// Where the receiver listens, if it runs.
    pub fn pacs_listening(&self) -> Option<std::net::SocketAddr> {
        self.pacs.scp.as_ref().map(ScpHandle::local_addr)
    }

    /// At start-up: the receiver runs only if the saved settings turned it on.
    pub(super) fn start_pacs_from_settings(&mut self) {
        self.pacs.status = "Off: nothing listens".into();
        if self.settings.pacs.receive.enabled {
            let r = self.settings.pacs.receive.clone();
            self.set_receive(r);
        }
    }

    pub(super) fn apply_pacs(&mut self, cmd: PacsCommand) {
        match cmd {
            PacsCommand::SetReceive(r) => self.set_receive(r),
            PacsCommand::SetSend(s) => self.settings.pacs.send = s,
            PacsCommand::TestEcho => self.start_echo(),
            // The app's one file dialog: the desktop's, or the built-in one without it.
            PacsCommand::SendFilesDialog => self.apply(Command::OpenDialog(OpenDialog::SendToPacs)),
            PacsCommand::SendFiles(files) => self.start_send(files),
            PacsCommand::CancelSend => {
                if let Some(j) = &self.pacs.send {
                    j.cancel();
                }
            }
        }
        self.pacs.draft = None;
    }

    fn set_receive(&mut self, r: ReceiveSettings) {
        // Stop first: a restart on the same port must free it.
        if let Some(scp) = self.pacs.scp.take() {
            scp.stop();
        }
        self.pacs.status = "Off: nothing listens".into();
        let enabled = r.enabled;
        self.settings.pacs.receive = r;
        if !enabled {
            return;
        }
        let started = scp_config(&self.settings.pacs.receive).and_then(|cfg| {
            let ctx = self.ctx.clone();
            let folder = cfg.folder.clone();
            let ae = cfg.ae_title.clone();
            net::scp::start(cfg, Some(Arc::new(move || ctx.request_repaint())))
                .map(|h| (h, folder, ae))
                .map_err(|e| e.to_string())
        });
        match started {
            Ok((scp, folder, ae)) => {
                self.pacs.status = format!(
                    "Listening on {} as {ae}, storing in {}",
                    scp.local_addr(),
                    folder.display()
                );
                // Series that completed in earlier sessions are listed too.
                let mut earlier = net::list_received(&folder);
                earlier.reverse();
                earlier.truncate(MAX_LISTED);
                self.pacs.arrived = earlier;
                self.pacs.scp = Some(scp);
            }
            Err(e) => {
                // The switch shows what is true: not listening.
                self.settings.pacs.receive.enabled = false;
                self.pacs.status = format!("Not listening: {e}");
                self.notify(NoticeLevel::Error, format!("Receive from PACS: {e}"));
            }
        }
    }

    fn start_echo(&mut self) {
        let (node, opts) = match node_and_options(&self.settings.pacs.send) {
            Ok(x) => x,
            Err(e) => {
                self.pacs.echo_result = format!("Not tested: {e}");
                return;
            }
        };
        let ctx = self.ctx.clone();
        self.pacs.echo_result = format!("Testing {node}…");
        match Job::spawn(
            "pacs-echo",
            0,
            Progress::with_waker(move || ctx.request_repaint()),
            move |_| net::echo(&node, &opts),
        ) {
            Ok(j) => self.pacs.echo = Some(j),
            Err(e) => self.pacs.echo_result = format!("Cannot start the test: {e}"),
        }
    }

    fn start_send(&mut self, files: Vec<PathBuf>) {
        if self.pacs.send.is_some() {
            self.notify(NoticeLevel::Info, "A send to PACS is already running");
            return;
        }
        let (node, opts) = match node_and_options(&self.settings.pacs.send) {
            Ok(x) => x,
            Err(e) => {
                self.notify(NoticeLevel::Error, format!("Send to PACS: {e}"));
                return;
            }
        };
        let ctx = self.ctx.clone();
        self.pacs.send_result = format!("Sending {} file(s) to {node}…", files.len());
        match Job::spawn(
            "pacs-send",
            0,
            Progress::with_waker(move || ctx.request_repaint()),
            move |jc| net::send_files(&node, &files, &opts, jc),
        ) {
            Ok(j) => self.pacs.send = Some(j),
            Err(e) => self.notify(NoticeLevel::Error, format!("Cannot start sending: {e}")),
        }
    }

    /// Each frame: receiver events, the echo and send jobs.
    pub(super) fn poll_pacs(&mut self) {
        let events = self
            .pacs
            .scp
            .as_ref()
            .map(ScpHandle::try_events)
            .unwrap_or_default();
        for e in events {
            self.pacs.last_event = e.to_string();
            match e {
                ScpEvent::Arrived(s) => {
                    self.pacs.arrived.retain(|a| a.dir != s.dir);
                    self.pacs.arrived.insert(0, s);
                    self.pacs.arrived.truncate(MAX_LISTED);
                }
                ScpEvent::Error(m) => self.notify(NoticeLevel::Warning, format!("Receive from PACS: {m}")),
                _ => {}
            }
        }
        if let Some(done) = self.pacs.echo.as_mut().and_then(Job::poll) {
            self.pacs.echo = None;
            self.pacs.echo_result = match done {
                Ok(Ok(rtt)) => format!("C-ECHO succeeded ({:.0} ms)", rtt.as_secs_f64() * 1000.0),
                Ok(Err(e)) => format!("C-ECHO failed: {e}"),
                Err(e) => format!("C-ECHO failed: {e}"),
            };
        }
        if let Some(done) = self.pacs.send.as_mut().and_then(Job::poll) {
            self.pacs.send = None;
            let (level, text) = match done {
                Ok(Ok(r)) if r.failed.is_empty() => {
                    (NoticeLevel::Info, format!("Sent {} file(s) to PACS", r.sent))
                }
                Ok(Ok(r)) => (
                    NoticeLevel::Warning,
                    format!(
                        "Sent {} file(s) to PACS; {} refused: {}",
                        r.sent,
                        r.failed.len(),
                        r.failed
                            .iter()
                            .take(3)
                            .map(|(p, e)| format!("{}: {e}", p.display()))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                ),
                Ok(Err(NetError::Cancelled)) => (
                    NoticeLevel::Info,
                    "Send to PACS cancelled (the association was aborted)".into(),
                ),
                Ok(Err(e)) => (NoticeLevel::Error, format!("Send to PACS failed: {e}")),
                Err(e) => (NoticeLevel::Error, format!("Send to PACS failed: {e}")),
            };
            self.pacs.send_result = text.clone();
            self.notify(level, text);
        }
    }
}

/// A labelled single-line text field.
fn text_row(ui: &mut egui::Ui, label: &str, value: &mut String) {
    let l = ui.label(label);
    ui.add(egui::TextEdit::singleline(value).desired_width(220.0))
        .labelled_by(l.id);
    ui.end_row();
}

fn port_row(ui: &mut egui::Ui, label: &str, value: &mut u16) {
    let l = ui.label(label);
    ui.add(egui::DragValue::new(value).range(1..=65535))
        .labelled_by(l.id);
    ui.end_row();
}

/// The "Receive from PACS/scanner" and "Send to PACS" sections of the Settings window.
pub(super) fn settings_section(app: &mut AblaApp, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    let saved = app.settings.pacs.clone();
    let draft = app.pacs.draft.get_or_insert_with(|| saved.clone());
    ui.separator();
    ui.label(RichText::new("Receive from PACS/scanner").strong());
    let mut on = saved.receive.enabled;
    if ui
        .checkbox(
            &mut on,
            "Receive from PACS/scanner (listen for C-STORE and C-ECHO)",
        )
        .changed()
    {
        cmds.push(Command::Pacs(PacsCommand::SetReceive(ReceiveSettings {
            enabled: on,
            ..draft.receive.clone()
        })));
    }
    let mut folder = draft
        .receive
        .folder
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    egui::Grid::new("pacs-receive").num_columns(2).show(ui, |ui| {
        text_row(ui, "Receiver AE title", &mut draft.receive.ae_title);
        port_row(ui, "Receiver port", &mut draft.receive.port);
        text_row(ui, "Listen address", &mut draft.receive.bind);
        text_row(
            ui,
            "Allowed calling AE titles (empty: any)",
            &mut draft.receive.allowed_callers,
        );
        text_row(ui, "Storage folder (empty: app folder)", &mut folder);
    });
    draft.receive.folder = (!folder.trim().is_empty()).then(|| PathBuf::from(folder.trim()));
    let receive_changed = draft.receive != saved.receive;
    if ui
        .add_enabled(receive_changed, egui::Button::new("Apply receiver settings"))
        .clicked()
    {
        cmds.push(Command::Pacs(PacsCommand::SetReceive(ReceiveSettings {
            enabled: saved.receive.enabled,
            ..draft.receive.clone()
        })));
    }
    ui.label(format!("Receiver status: {}", app.pacs.status));
    if !app.pacs.last_event.is_empty() {
        ui.label(format!("Last: {}", app.pacs.last_event));
    }

    ui.separator();
    ui.label(RichText::new("Send to PACS").strong());
    egui::Grid::new("pacs-send").num_columns(2).show(ui, |ui| {
        text_row(ui, "PACS AE title", &mut draft.send.ae_title);
        text_row(ui, "PACS host", &mut draft.send.host);
        port_row(ui, "PACS port", &mut draft.send.port);
        text_row(ui, "Our calling AE title", &mut draft.send.calling_ae);
    });
    ui.horizontal(|ui| {
        if ui
            .add_enabled(draft.send != saved.send, egui::Button::new("Apply PACS node"))
            .clicked()
        {
            cmds.push(Command::Pacs(PacsCommand::SetSend(draft.send.clone())));
        }
        if ui
            .add_enabled(app.pacs.echo.is_none(), egui::Button::new("Test (C-ECHO)"))
            .clicked()
        {
            // Test what is on screen: apply the node first.
            if draft.send != saved.send {
                cmds.push(Command::Pacs(PacsCommand::SetSend(draft.send.clone())));
            }
            cmds.push(Command::Pacs(PacsCommand::TestEcho));
        }
    });
    if !app.pacs.echo_result.is_empty() {
        ui.label(app.pacs.echo_result.clone());
    }
    ui.horizontal(|ui| {
        if ui
            .add_enabled(app.pacs.send.is_none(), egui::Button::new("Send files to PACS…"))
            .clicked()
        {
            cmds.push(Command::Pacs(PacsCommand::SendFilesDialog));
        }
        if let Some(j) = &app.pacs.send {
            ui.add(egui::ProgressBar::new(j.progress().fraction()).desired_width(120.0))
                .on_hover_text(j.progress().message());
            if ui.button("Cancel sending").clicked() {
                cmds.push(Command::Pacs(PacsCommand::CancelSend));
            }
        }
    });
    if !app.pacs.send_result.is_empty() {
        ui.label(app.pacs.send_result.clone());
    }
}

/// The File menu's "Received from PACS" submenu: complete series, newest first.
pub(super) fn received_menu(app: &AblaApp, ui: &mut egui::Ui, cmds: &mut Vec<Command>) {
    ui.menu_button("Received from PACS", |ui| {
        if app.pacs.scp.is_none() {
            ui.label("Receiving is off (Settings)");
        }
        if app.pacs.arrived.is_empty() {
            ui.label("(no complete series yet)");
        }
        for s in &app.pacs.arrived {
            let what = if s.modality.is_empty() && s.description.is_empty() {
                format!("Series {}", s.series_uid)
            } else {
                format!("{} {}", s.modality, s.description)
            };
            let from = if s.calling_ae.is_empty() {
                String::new()
            } else {
                format!(" from {}", s.calling_ae)
            };
            if ui
                .button(format!("{} - {} object(s){from}", what.trim(), s.objects))
                .on_hover_text(s.dir.display().to_string())
                .clicked()
            {
                cmds.push(Command::Open(vec![s.dir.clone()]));
                ui.close();
            }
        }
    });
}
