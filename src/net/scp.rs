//! The C-STORE SCP ("Receive from PACS/scanner"): a listener thread accepts connections, each
//! association is served on its own thread by `dicom-ul`'s server association.
//!
//! Storage: each association writes its objects (Part-10: file meta with the transfer syntax
//! negotiated, then the data set exactly as received) to `FOLDER/.partial/ASSOC/STUDY/SERIES/
//! SOP.dcm`. Only when the peer releases the association normally are the files moved to
//! `FOLDER/STUDY/SERIES/SOP.dcm` and the series reported as arrived; an aborted, timed-out or
//! broken association leaves its files under `.partial/`, never offered as complete.
//!
//! Defences: the peer's calling AE title against an optional list (association rejected), our
//! AE title as the called one, read and write timeouts on every socket operation (a peer that
//! stalls gets an A-ABORT, also before the association is set up), `dicom-ul`'s strict PDU
//! length check against our maximum PDU, a maximum object size, a maximum number of
//! associations at once, and every worker under `catch_unwind`.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use dicom_transfer_syntax_registry::TransferSyntaxRegistry;
use dicom_ul::Pdu;
use dicom_ul::association::server::AccessControl;
use dicom_ul::association::{Association, ServerAssociationOptions};
use dicom_ul::pdu::{
    AbortRQServiceProviderReason, AbortRQSource, AssociationRJServiceUserReason, PDataValue, PDataValueType,
    PresentationContextResultReason, UserIdentity,
};

use super::chain;
use super::dimse::{self, Command};
use super::part10::{self, encoding_of, find_strings, uid_as_name, value_of};
use super::{NetError, check_ae_title};

/// Settings of the receiver. `Default` is what the GUI starts from (port 11112, the
/// registered DICOM port that needs no privileges; all interfaces, since a PACS must reach it).
#[derive(Clone, Debug)]
pub struct ScpConfig {
    pub ae_title: String,
    pub bind: IpAddr,
    pub port: u16,
    /// Calling AE titles allowed to send; empty: any.
    pub allowed_callers: Vec<String>,
    pub folder: PathBuf,
    /// Read and write timeout of every socket operation.
    pub timeout: Duration,
    pub max_pdu: u32,
    pub max_object_bytes: usize,
    pub max_associations: usize,
}

impl Default for ScpConfig {
    fn default() -> Self {
        Self {
            ae_title: "ABLAPLAN".into(),
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 11112,
            allowed_callers: Vec::new(),
            folder: PathBuf::from("received"),
            timeout: super::DEFAULT_TIMEOUT,
            max_pdu: super::DEFAULT_MAX_PDU,
            max_object_bytes: super::DEFAULT_MAX_OBJECT_BYTES,
            max_associations: super::DEFAULT_MAX_ASSOCIATIONS,
        }
    }
}

impl ScpConfig {
    pub fn validate(&self) -> Result<(), NetError> {
        check_ae_title(&self.ae_title)?;
        for a in &self.allowed_callers {
            check_ae_title(a)?;
        }
        if self.folder.as_os_str().is_empty() {
            return Err(NetError::Config("the storage folder is empty".into()));
        }
        if self.timeout.is_zero() {
            return Err(NetError::Config("the timeout must be above 0 s".into()));
        }
        if !(dicom_ul::pdu::MINIMUM_PDU_SIZE..=(64 << 20)).contains(&self.max_pdu) {
            return Err(NetError::Config(format!(
                "the maximum PDU {} is outside 1018 B .. 64 MiB",
                self.max_pdu
            )));
        }
        if self.max_associations == 0 || self.max_object_bytes == 0 {
            return Err(NetError::Config(
                "the maximum associations and object size must be above 0".into(),
            ));
        }
        Ok(())
    }
}

/// A series that arrived complete: its association was released normally.
#[derive(Clone, Debug, PartialEq)]
pub struct ArrivedSeries {
    pub study_uid: String,
    pub series_uid: String,
    /// `FOLDER/STUDY/SERIES`: what to open.
    pub dir: PathBuf,
    /// Objects of this series in this association.
    pub objects: usize,
    pub modality: String,
    pub description: String,
    pub calling_ae: String,
}

/// What the receiver reports, in order, to the GUI or the CLI.
#[derive(Clone, Debug, PartialEq)]
pub enum ScpEvent {
    Listening(SocketAddr),
    Echo {
        calling_ae: String,
    },
    /// An association refused (unknown calling or called AE title, bad request).
    Refused {
        peer: String,
        reason: String,
    },
    Arrived(ArrivedSeries),
    /// An association that ended without a normal release; its objects stay in `partial`.
    Aborted {
        peer: String,
        reason: String,
        objects: usize,
        partial: Option<PathBuf>,
    },
    /// A store that failed (the peer was told); the association goes on.
    StoreFailed {
        calling_ae: String,
        reason: String,
    },
    Error(String),
    Stopped,
}

/// One line per event: what the CLI prints and the GUI's status shows.
impl std::fmt::Display for ScpEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScpEvent::Listening(a) => write!(f, "listening on {a}"),
            ScpEvent::Echo { calling_ae } => write!(f, "C-ECHO from {calling_ae}"),
            ScpEvent::Refused { peer, reason } => write!(f, "refused {peer}: {reason}"),
            ScpEvent::Arrived(s) => write!(
                f,
                "series complete: {} object(s) from {} in {} ({} {})",
                s.objects,
                s.calling_ae,
                s.dir.display(),
                s.modality,
                s.description
            ),
            ScpEvent::Aborted {
                peer,
                reason,
                objects,
                partial,
            } => write!(
                f,
                "association with {peer} ended without release ({reason}); {objects} object(s) kept as partial{}",
                partial
                    .as_ref()
                    .map(|p| format!(" in {}", p.display()))
                    .unwrap_or_default()
            ),
            ScpEvent::StoreFailed { calling_ae, reason } => {
                write!(f, "store from {calling_ae} failed: {reason}")
            }
            ScpEvent::Error(m) => write!(f, "error: {m}"),
            ScpEvent::Stopped => f.write_str("stopped"),
        }
    }
}

pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// The running receiver; dropping it stops it.
pub struct ScpHandle {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<Conn>>>,
    thread: Option<JoinHandle<()>>,
    events: mpsc::Receiver<ScpEvent>,
}

impl ScpHandle {
    /// The bound address (the real port when the config asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Events so far, without waiting.
    pub fn try_events(&self) -> Vec<ScpEvent> {
        self.events.try_iter().collect()
    }

    /// The next event, waiting at most `timeout`.
    pub fn next_event(&self, timeout: Duration) -> Option<ScpEvent> {
        self.events.recv_timeout(timeout).ok()
    }

    /// Stops listening, cuts open associations (their objects stay partial) and waits for the
    /// workers.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Ok(conns) = self.conns.lock() {
            for c in conns.iter() {
                let _ = c.stream.shutdown(std::net::Shutdown::Both);
            }
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ScpHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// One open connection as the listener sees it: a handle to cut it, when it last completed a
/// PDU, and whether the watchdog cut it.
struct Conn {
    id: u64,
    stream: TcpStream,
    last_pdu_ms: Arc<AtomicU64>,
    cut: Arc<AtomicBool>,
}

/// Shared by the listener and the association workers.
struct Shared {
    cfg: ScpConfig,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<Conn>>>,
    active: AtomicUsize,
    /// The clock of `Conn::last_pdu_ms`.
    epoch: std::time::Instant,
    events: mpsc::Sender<ScpEvent>,
    waker: Option<Waker>,
}

impl Shared {
    fn emit(&self, e: ScpEvent) {
        let _ = self.events.send(e);
        if let Some(w) = &self.waker {
            w();
        }
    }
}

/// Starts the receiver: binds now (so a port in use is an error here), serves on threads.
pub fn start(cfg: ScpConfig, waker: Option<Waker>) -> Result<ScpHandle, NetError> {
    cfg.validate()?;
    std::fs::create_dir_all(&cfg.folder).map_err(|e| {
        NetError::Config(format!(
            "cannot create the storage folder {}: {e}",
            cfg.folder.display()
        ))
    })?;
    let listener = TcpListener::bind((cfg.bind, cfg.port)).map_err(|source| NetError::Bind {
        port: cfg.port,
        source,
    })?;
    let addr = listener.local_addr().map_err(|source| NetError::Bind {
        port: cfg.port,
        source,
    })?;
    // Non-blocking accept, so the listener sees the stop flag within one poll interval.
    listener.set_nonblocking(true).map_err(|source| NetError::Bind {
        port: cfg.port,
        source,
    })?;
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let conns = Arc::new(Mutex::new(Vec::new()));
    let shared = Arc::new(Shared {
        cfg,
        stop: stop.clone(),
        conns: conns.clone(),
        active: AtomicUsize::new(0),
        epoch: std::time::Instant::now(),
        events: tx,
        waker,
    });
    shared.emit(ScpEvent::Listening(addr));
    let thread = std::thread::Builder::new()
        .name("dicom-scp".into())
        .spawn(move || listen(listener, shared))
        .map_err(|e| NetError::Config(format!("cannot start the receiver thread: {e}")))?;
    Ok(ScpHandle {
        addr,
        stop,
        conns,
        thread: Some(thread),
        events: rx,
    })
}

fn listen(listener: TcpListener, shared: Arc<Shared>) {
    let mut workers: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        watchdog(&shared);
        match listener.accept() {
            Ok((stream, peer)) => {
                workers.retain(|w| !w.is_finished());
                if shared.active.load(Ordering::SeqCst) >= shared.cfg.max_associations {
                    shared.emit(ScpEvent::Refused {
                        peer: peer.to_string(),
                        reason: format!("more than {} associations at once", shared.cfg.max_associations),
                    });
                    continue; // dropping the stream closes it
                }
                shared.active.fetch_add(1, Ordering::SeqCst);
                let s = shared.clone();
                let spawned = std::thread::Builder::new()
                    .name("dicom-scp-assoc".into())
                    .spawn(move || {
                        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            serve(stream, peer, &s)
                        }));
                        if let Err(p) = result {
                            let msg = p
                                .downcast_ref::<&str>()
                                .map(|s| s.to_string())
                                .or_else(|| p.downcast_ref::<String>().cloned())
                                .unwrap_or_default();
                            s.emit(ScpEvent::Error(format!(
                                "the association with {peer} crashed: {msg}"
                            )));
                        }
                        s.active.fetch_sub(1, Ordering::SeqCst);
                    });
                match spawned {
                    Ok(h) => workers.push(h),
                    Err(e) => {
                        shared.active.fetch_sub(1, Ordering::SeqCst);
                        shared.emit(ScpEvent::Error(format!(
                            "cannot start an association thread: {e}"
                        )));
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => {
                shared.emit(ScpEvent::Error(format!("accept failed: {e}")));
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }
    drop(listener);
    if let Ok(conns) = shared.conns.lock() {
        for c in conns.iter() {
            let _ = c.stream.shutdown(std::net::Shutdown::Both);
        }
    }
    for w in workers {
        let _ = w.join();
    }
    shared.emit(ScpEvent::Stopped);
}

impl Shared {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The longest a peer may take to complete one PDU: twice the timeout. The socket timeout
    /// alone does not catch a peer that trickles a byte now and then.
    fn pdu_deadline_ms(&self) -> u64 {
        u64::try_from(self.cfg.timeout.as_millis().saturating_mul(2)).unwrap_or(u64::MAX)
    }
}

/// Cuts connections that completed no PDU within the deadline; their worker then aborts.
fn watchdog(shared: &Shared) {
    let now = shared.now_ms();
    let limit = shared.pdu_deadline_ms();
    if let Ok(conns) = shared.conns.lock() {
        for c in conns.iter() {
            if now.saturating_sub(c.last_pdu_ms.load(Ordering::SeqCst)) > limit
                && !c.cut.swap(true, Ordering::SeqCst)
            {
                let _ = c.stream.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

/// Calling AE titles allowed (empty: any) and the called AE title must be ours.
struct Access {
    allowed: Vec<String>,
}

impl AccessControl for Access {
    fn check_access(
        &self,
        this_ae_title: &str,
        calling_ae_title: &str,
        called_ae_title: &str,
        _user_identity: Option<&UserIdentity>,
    ) -> Result<(), AssociationRJServiceUserReason> {
        if called_ae_title.trim() != this_ae_title.trim() {
            return Err(AssociationRJServiceUserReason::CalledAETitleNotRecognized);
        }
        if !self.allowed.is_empty() && !self.allowed.iter().any(|a| a.trim() == calling_ae_title.trim()) {
            return Err(AssociationRJServiceUserReason::CallingAETitleNotRecognized);
        }
        Ok(())
    }
}

/// The transfer syntaxes accepted: all the registry can parse, except deflated (the walk
/// that files an object by study and series reads the data set's bytes as they came).
fn accepted_transfer_syntaxes() -> Vec<&'static str> {
    TransferSyntaxRegistry
        .iter()
        .filter(|ts| !ts.is_unsupported() && ts.uid() != part10::TS_DEFLATED)
        .map(|ts| ts.uid())
        .collect()
}

/// Whether an error chain ends in a socket timeout.
fn is_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            )
        {
            return true;
        }
        cur = c.source();
    }
    false
}

fn abort_pdu() -> Pdu {
    Pdu::AbortRQ {
        source: AbortRQSource::ServiceProvider(AbortRQServiceProviderReason::ReasonNotSpecified),
    }
}

/// One stored object waiting for the release.
struct Stored {
    partial: PathBuf,
    study: String,
    series: String,
    sop_name: String,
    modality: String,
    description: String,
}

fn serve(stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    let cfg = &shared.cfg;
    let peer_s = peer.to_string();
    // Accepted sockets do not inherit the listener's non-blocking mode on every platform.
    let _ = stream.set_nonblocking(false);
    // A second handle: to cut the socket on stop, and to send an A-ABORT when the peer stalls
    // before its association request is complete (the association object does not exist yet).
    static CONN_ID: AtomicU64 = AtomicU64::new(0);
    let conn_id = CONN_ID.fetch_add(1, Ordering::Relaxed);
    let raw = stream.try_clone().ok();
    let last_pdu_ms = Arc::new(AtomicU64::new(shared.now_ms()));
    let cut = Arc::new(AtomicBool::new(false));
    if let (Some(r), Ok(mut conns)) = (raw.as_ref().and_then(|r| r.try_clone().ok()), shared.conns.lock()) {
        conns.push(Conn {
            id: conn_id,
            stream: r,
            last_pdu_ms: last_pdu_ms.clone(),
            cut: cut.clone(),
        });
    }
    let trickled = || {
        format!(
            "the peer completed no PDU within {:.0} s: aborted",
            shared.pdu_deadline_ms() as f64 / 1000.0
        )
    };
    let mut options = ServerAssociationOptions::new()
        .ae_access_control(Access {
            allowed: cfg.allowed_callers.clone(),
        })
        .ae_title(cfg.ae_title.clone())
        .max_pdu_length(cfg.max_pdu)
        .strict(true)
        .read_timeout(cfg.timeout)
        .write_timeout(cfg.timeout)
        .with_abstract_syntax(super::VERIFICATION);
    for class in super::STORAGE_SOP_CLASSES {
        options = options.with_abstract_syntax(*class);
    }
    for ts in accepted_transfer_syntaxes() {
        options = options.with_transfer_syntax(ts);
    }
    let assoc = match options.establish(stream) {
        Ok(a) => a,
        Err(e) => {
            let timed_out = is_timeout(&e);
            if timed_out && let Some(mut r) = raw.as_ref() {
                let mut buf = Vec::new();
                if dicom_ul::write_pdu(&mut buf, &abort_pdu()).is_ok() {
                    let _ = r.write_all(&buf);
                }
            }
            if let Some(r) = &raw {
                let _ = r.shutdown(std::net::Shutdown::Both);
            }
            let reason = if timed_out {
                format!(
                    "no association request within {:.0} s: aborted",
                    cfg.timeout.as_secs_f64()
                )
            } else if cut.load(Ordering::SeqCst) {
                trickled()
            } else {
                chain(&e)
            };
            shared.emit(ScpEvent::Refused { peer: peer_s, reason });
            forget_conn(shared, conn_id);
            return;
        }
    };
    let calling = assoc.peer_ae_title().trim().to_string();
    let outcome = receive_objects(assoc, &calling, shared, &last_pdu_ms);
    let outcome = match outcome {
        Outcome::Aborted {
            stored, partial_dir, ..
        } if cut.load(Ordering::SeqCst) => Outcome::Aborted {
            reason: trickled(),
            stored,
            partial_dir,
        },
        o => o,
    };
    forget_conn(shared, conn_id);
    match outcome {
        Outcome::Released { stored, partial_dir } => {
            publish(stored, partial_dir.as_deref(), &calling, shared)
        }
        Outcome::Aborted {
            reason,
            stored,
            partial_dir,
        } => shared.emit(ScpEvent::Aborted {
            peer: format!("{calling} ({peer_s})"),
            reason,
            objects: stored,
            partial: partial_dir,
        }),
    }
}

fn forget_conn(shared: &Shared, conn_id: u64) {
    if let Ok(mut conns) = shared.conns.lock() {
        conns.retain(|c| c.id != conn_id);
    }
}

enum Outcome {
    Released {
        stored: Vec<Stored>,
        partial_dir: Option<PathBuf>,
    },
    Aborted {
        reason: String,
        stored: usize,
        partial_dir: Option<PathBuf>,
    },
}

/// A unique folder name for one association's partial files.
fn association_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    format!("{t}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// Largest command set accepted (real ones are < 1 KiB).
const MAX_COMMAND_BYTES: usize = 64 * 1024;

fn receive_objects(
    mut assoc: dicom_ul::ServerAssociation<TcpStream>,
    calling: &str,
    shared: &Shared,
    last_pdu_ms: &AtomicU64,
) -> Outcome {
    let cfg = &shared.cfg;
    let partial_dir = cfg.folder.join(".partial").join(association_id());
    let mut stored: Vec<Stored> = Vec::new();
    let mut command = Vec::new();
    let mut data = Vec::new();
    // The C-STORE request whose data set is arriving, with its presentation context.
    let mut pending: Option<(Command, u8)> = None;
    let aborted = |assoc: dicom_ul::ServerAssociation<TcpStream>, reason: String, stored: &Vec<Stored>| {
        let _ = assoc.abort();
        Outcome::Aborted {
            reason,
            stored: stored.len(),
            partial_dir: (!stored.is_empty()).then(|| partial_dir.clone()),
        }
    };
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return aborted(assoc, "the receiver was stopped".into(), &stored);
        }
        let pdu = match assoc.receive() {
            Ok(p) => {
                last_pdu_ms.store(shared.now_ms(), Ordering::SeqCst);
                p
            }
            Err(e) => {
                let reason = if is_timeout(&e) {
                    format!(
                        "the peer sent nothing for {:.0} s: aborted",
                        cfg.timeout.as_secs_f64()
                    )
                } else if shared.stop.load(Ordering::SeqCst) {
                    "the receiver was stopped".into()
                } else {
                    chain(&e)
                };
                return aborted(assoc, reason, &stored);
            }
        };
        match pdu {
            Pdu::PData { data: values } => {
                for v in values {
                    let step = match v.value_type {
                        PDataValueType::Command => {
                            command.extend_from_slice(&v.data);
                            if command.len() > MAX_COMMAND_BYTES {
                                Err(format!("a command set larger than {MAX_COMMAND_BYTES} bytes"))
                            } else if v.is_last {
                                let bytes = std::mem::take(&mut command);
                                on_command(
                                    &mut assoc,
                                    &bytes,
                                    v.presentation_context_id,
                                    &mut pending,
                                    calling,
                                    shared,
                                )
                            } else {
                                Ok(())
                            }
                        }
                        PDataValueType::Data => {
                            if pending.as_ref().map(|p| p.1) != Some(v.presentation_context_id) {
                                Err(
                                    "data arrived without a C-STORE request on its presentation context"
                                        .into(),
                                )
                            } else if data.len() + v.data.len() > cfg.max_object_bytes {
                                Err(format!(
                                    "an object larger than the maximum of {} MiB",
                                    cfg.max_object_bytes >> 20
                                ))
                            } else {
                                data.extend_from_slice(&v.data);
                                match (v.is_last, pending.take()) {
                                    (true, Some((rq, pc))) => {
                                        let bytes = std::mem::take(&mut data);
                                        on_data_set(
                                            &mut assoc,
                                            &rq,
                                            pc,
                                            &bytes,
                                            calling,
                                            &partial_dir,
                                            &mut stored,
                                            shared,
                                        )
                                    }
                                    (false, p) => {
                                        pending = p;
                                        Ok(())
                                    }
                                    (true, None) => Ok(()),
                                }
                            }
                        }
                    };
                    if let Err(reason) = step {
                        return aborted(assoc, reason, &stored);
                    }
                }
            }
            Pdu::ReleaseRQ => {
                if pending.is_some() {
                    // A release in the middle of an object: the object never completed.
                    return aborted(
                        assoc,
                        "release requested in the middle of an object".into(),
                        &stored,
                    );
                }
                let _ = assoc.send(&Pdu::ReleaseRP);
                return Outcome::Released {
                    stored,
                    partial_dir: Some(partial_dir),
                };
            }
            Pdu::AbortRQ { .. } => {
                return Outcome::Aborted {
                    reason: "the peer aborted the association".into(),
                    stored: stored.len(),
                    partial_dir: (!stored.is_empty()).then(|| partial_dir.clone()),
                };
            }
            other => {
                return aborted(
                    assoc,
                    format!("unexpected {}", other.short_description()),
                    &stored,
                );
            }
        }
    }
}

fn send_command(
    assoc: &mut dicom_ul::ServerAssociation<TcpStream>,
    pc: u8,
    bytes: Vec<u8>,
) -> Result<(), String> {
    assoc
        .send(&Pdu::PData {
            data: vec![PDataValue {
                presentation_context_id: pc,
                value_type: PDataValueType::Command,
                is_last: true,
                data: bytes,
            }],
        })
        .map_err(|e| format!("cannot send a response: {}", chain(&e)))
}

fn on_command(
    assoc: &mut dicom_ul::ServerAssociation<TcpStream>,
    bytes: &[u8],
    pc: u8,
    pending: &mut Option<(Command, u8)>,
    calling: &str,
    shared: &Shared,
) -> Result<(), String> {
    if pending.is_some() {
        return Err("a new command arrived before the previous data set was complete".into());
    }
    let cmd = dimse::read_command(bytes)?;
    let accepted = assoc
        .presentation_contexts()
        .iter()
        .any(|p| p.id == pc && p.reason == PresentationContextResultReason::Acceptance);
    if !accepted {
        return Err(format!(
            "a command on presentation context {pc}, which was not accepted"
        ));
    }
    match cmd.field {
        dimse::C_ECHO_RQ => {
            send_command(assoc, pc, dimse::echo_rsp(cmd.message_id))?;
            shared.emit(ScpEvent::Echo {
                calling_ae: calling.to_string(),
            });
            Ok(())
        }
        dimse::C_STORE_RQ if cmd.has_data_set() => {
            *pending = Some((cmd, pc));
            Ok(())
        }
        _ if cmd.has_data_set() => Err(format!(
            "command 0x{:04X} with a data set is not served here",
            cmd.field
        )),
        _ => send_command(assoc, pc, dimse::unrecognised_rsp(&cmd)),
    }
}

#[allow(clippy::too_many_arguments)]
fn on_data_set(
    assoc: &mut dicom_ul::ServerAssociation<TcpStream>,
    rq: &Command,
    pc: u8,
    dataset: &[u8],
    calling: &str,
    partial_dir: &Path,
    stored: &mut Vec<Stored>,
    shared: &Shared,
) -> Result<(), String> {
    let ts = assoc
        .presentation_contexts()
        .iter()
        .find(|p| p.id == pc)
        .map(|p| p.transfer_syntax.trim_end_matches(['\0', ' ']).to_string())
        .unwrap_or_default();
    let (status, comment) = match store_one(rq, &ts, dataset, calling, partial_dir) {
        Ok(s) => {
            stored.push(s);
            (dimse::STATUS_SUCCESS, String::new())
        }
        Err((status, reason)) => {
            shared.emit(ScpEvent::StoreFailed {
                calling_ae: calling.to_string(),
                reason: format!("{}: {reason}", rq.sop_instance_uid),
            });
            (status, reason)
        }
    };
    send_command(assoc, pc, dimse::store_rsp(rq, status, &comment))
}

const SOP_CLASS: u32 = 0x0008_0016;
const SOP_INSTANCE: u32 = 0x0008_0018;
const MODALITY: u32 = 0x0008_0060;
const SERIES_DESCRIPTION: u32 = 0x0008_103E;
const STUDY_UID: u32 = 0x0020_000D;
const SERIES_UID: u32 = 0x0020_000E;

/// Writes one received data set under the association's partial folder. Errors carry the
/// DIMSE status to answer with.
fn store_one(
    rq: &Command,
    ts: &str,
    dataset: &[u8],
    calling: &str,
    partial_dir: &Path,
) -> Result<Stored, (u16, String)> {
    let (explicit, little) =
        encoding_of(ts).ok_or((dimse::STATUS_CANNOT_UNDERSTAND, format!("transfer syntax {ts}")))?;
    let found = find_strings(
        dataset,
        explicit,
        little,
        &[
            SOP_CLASS,
            SOP_INSTANCE,
            MODALITY,
            SERIES_DESCRIPTION,
            STUDY_UID,
            SERIES_UID,
        ],
    )
    .map_err(|e| (dimse::STATUS_CANNOT_UNDERSTAND, e))?;
    let inst = value_of(&found, SOP_INSTANCE);
    let class = value_of(&found, SOP_CLASS);
    if (!inst.is_empty() && inst != rq.sop_instance_uid) || (!class.is_empty() && class != rq.sop_class_uid) {
        return Err((
            dimse::STATUS_DATASET_MISMATCH,
            "the data set's SOP class/instance differ from the request".into(),
        ));
    }
    if rq.sop_instance_uid.is_empty() || rq.sop_class_uid.is_empty() {
        return Err((
            dimse::STATUS_CANNOT_UNDERSTAND,
            "the request names no SOP class/instance".into(),
        ));
    }
    let study = uid_as_name(value_of(&found, STUDY_UID));
    let series = uid_as_name(value_of(&found, SERIES_UID));
    let sop_name = format!("{}.dcm", uid_as_name(&rq.sop_instance_uid));
    let header = part10::part10_header(&rq.sop_class_uid, &rq.sop_instance_uid, ts, calling)
        .map_err(|e| (dimse::STATUS_CANNOT_UNDERSTAND, e))?;
    let dir = partial_dir.join(&study).join(&series);
    let path = dir.join(&sop_name);
    let disk = |e: std::io::Error| {
        (
            dimse::STATUS_OUT_OF_RESOURCES,
            format!("cannot write {}: {e}", path.display()),
        )
    };
    std::fs::create_dir_all(&dir).map_err(disk)?;
    crate::fsio::write_atomic(&path, |f| {
        f.write_all(&header)?;
        f.write_all(dataset)
    })
    .map_err(disk)?;
    Ok(Stored {
        partial: path,
        study,
        series,
        sop_name,
        modality: value_of(&found, MODALITY).to_string(),
        description: value_of(&found, SERIES_DESCRIPTION).to_string(),
    })
}

/// After a normal release: moves the association's files into `FOLDER/STUDY/SERIES/` and
/// reports each series once.
fn publish(stored: Vec<Stored>, partial_dir: Option<&Path>, calling: &str, shared: &Shared) {
    let mut series: Vec<ArrivedSeries> = Vec::new();
    let mut failed = Vec::new();
    for s in &stored {
        let dir = shared.cfg.folder.join(&s.study).join(&s.series);
        let moved =
            std::fs::create_dir_all(&dir).and_then(|()| std::fs::rename(&s.partial, dir.join(&s.sop_name)));
        if let Err(e) = moved {
            failed.push(format!("{}: {e}", s.partial.display()));
            continue;
        }
        match series.iter_mut().find(|a| a.dir == dir) {
            Some(a) => a.objects += 1,
            None => series.push(ArrivedSeries {
                study_uid: s.study.clone(),
                series_uid: s.series.clone(),
                dir,
                objects: 1,
                modality: s.modality.clone(),
                description: s.description.clone(),
                calling_ae: calling.to_string(),
            }),
        }
    }
    if failed.is_empty() {
        if let Some(p) = partial_dir {
            let _ = std::fs::remove_dir_all(p);
        }
    } else {
        shared.emit(ScpEvent::Error(format!(
            "{} received object(s) could not be moved out of the partial folder: {}",
            failed.len(),
            failed.join("; ")
        )));
    }
    for s in series {
        shared.emit(ScpEvent::Arrived(s));
    }
}
