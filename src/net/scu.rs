//! C-ECHO and C-STORE SCU: test a node, send files to it. Each file's data set is sent exactly
//! as it is on disk, in the file's own transfer syntax (one presentation context per SOP class
//! and transfer syntax); nothing is transcoded, so a node that does not accept a file's
//! transfer syntax gets that file refused with the reason. Progress and cancel come from the
//! [`JobCtx`] of the job that runs the send.

use std::io::{Read as _, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dicom_ul::association::client::ClientAssociationOptions;
use dicom_ul::pdu::{PDataValue, PDataValueType, PresentationContextResultReason};
use dicom_ul::{ClientAssociation, Pdu};

use super::part10::{self, Part10};
use super::{NetError, Node, check_ae_title};
use super::{chain, dimse};
use crate::jobs::JobCtx;

/// How this node calls others.
#[derive(Clone, Debug)]
pub struct ScuOptions {
    pub calling_ae: String,
    /// Connect, read and write timeout of every socket operation.
    pub timeout: Duration,
    pub max_pdu: u32,
}

impl Default for ScuOptions {
    fn default() -> Self {
        Self {
            calling_ae: "ABLAPLAN".into(),
            timeout: super::DEFAULT_TIMEOUT,
            max_pdu: super::DEFAULT_MAX_PDU,
        }
    }
}

/// What a send did, file by file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SendReport {
    pub sent: usize,
    /// Stored with a warning status (0001, 0107, 0116, Bxxx).
    pub warnings: Vec<(PathBuf, String)>,
    pub failed: Vec<(PathBuf, String)>,
}

/// Most presentation contexts one association may propose (odd IDs 1..=255).
const MAX_CONTEXTS: usize = 128;
/// Bytes handed to the P-DATA writer between two looks at the cancel flag.
const CHUNK: usize = 1 << 20;

fn options(node: &Node, opts: &ScuOptions) -> Result<ClientAssociationOptions<'static>, NetError> {
    node.validate()?;
    check_ae_title(&opts.calling_ae)?;
    Ok(ClientAssociationOptions::new()
        .calling_ae_title(opts.calling_ae.clone())
        .called_ae_title(node.ae_title.clone())
        .max_pdu_length(opts.max_pdu)
        .read_timeout(opts.timeout)
        .write_timeout(opts.timeout)
        .connection_timeout(opts.timeout))
}

fn establish(
    node: &Node,
    o: ClientAssociationOptions<'static>,
) -> Result<ClientAssociation<TcpStream>, NetError> {
    o.establish((node.host.as_str(), node.port)).map_err(|e| {
        let reason = chain(&e);
        if matches!(e, dicom_ul::association::Error::Rejected { .. }) {
            NetError::Rejected {
                node: node.to_string(),
                reason,
            }
        } else {
            NetError::Associate {
                node: node.to_string(),
                reason,
            }
        }
    })
}

/// C-ECHO: associates, echoes, releases. Returns the round trip.
pub fn echo(node: &Node, opts: &ScuOptions) -> Result<Duration, NetError> {
    let t0 = Instant::now();
    let o = options(node, opts)?.with_presentation_context(super::VERIFICATION, vec![part10::TS_IMPLICIT_LE]);
    let mut assoc = establish(node, o)?;
    let ex = |reason: String| NetError::Exchange {
        node: node.to_string(),
        reason,
    };
    let pc = accepted_context(&assoc, super::VERIFICATION, part10::TS_IMPLICIT_LE)
        .ok_or_else(|| ex("the node does not accept Verification (C-ECHO)".into()))?;
    let result = send_command(&mut assoc, pc, dimse::echo_rq(1))
        .and_then(|()| receive_response(&mut assoc))
        .and_then(|rsp| match (rsp.field, rsp.status) {
            (dimse::C_ECHO_RSP, dimse::STATUS_SUCCESS) => Ok(()),
            (f, s) => Err(format!("unexpected response 0x{f:04X} with status 0x{s:04X}")),
        });
    match result {
        Ok(()) => {
            assoc
                .release()
                .map_err(|e| ex(format!("release failed: {}", chain(&e))))?;
            Ok(t0.elapsed())
        }
        Err(reason) => {
            let _ = assoc.abort();
            Err(ex(reason))
        }
    }
}

fn accepted_context(assoc: &ClientAssociation<TcpStream>, class: &str, ts: &str) -> Option<u8> {
    assoc
        .presentation_contexts()
        .iter()
        .find(|p| {
            p.reason == PresentationContextResultReason::Acceptance
                && p.abstract_syntax.trim_end_matches('\0') == class
                && p.transfer_syntax.trim_end_matches('\0') == ts
        })
        .map(|p| p.id)
}

fn send_command(assoc: &mut ClientAssociation<TcpStream>, pc: u8, bytes: Vec<u8>) -> Result<(), String> {
    assoc
        .send(&Pdu::PData {
            data: vec![PDataValue {
                presentation_context_id: pc,
                value_type: PDataValueType::Command,
                is_last: true,
                data: bytes,
            }],
        })
        .map_err(|e| format!("cannot send the command: {}", chain(&e)))
}

/// The next response command set (which may come in several fragments).
fn receive_response(assoc: &mut ClientAssociation<TcpStream>) -> Result<dimse::Command, String> {
    let mut bytes = Vec::new();
    loop {
        match assoc
            .receive()
            .map_err(|e| format!("no response: {}", chain(&e)))?
        {
            Pdu::PData { data } => {
                for v in data {
                    if v.value_type != PDataValueType::Command {
                        return Err("the node answered with a data set instead of a command".into());
                    }
                    bytes.extend_from_slice(&v.data);
                    if bytes.len() > 64 * 1024 {
                        return Err("the node's response is larger than 64 KiB".into());
                    }
                    if v.is_last {
                        return dimse::read_command(&bytes);
                    }
                }
            }
            Pdu::AbortRQ { .. } => return Err("the node aborted the association".into()),
            other => return Err(format!("unexpected {}", other.short_description())),
        }
    }
}

/// The meta information of a file, read from its first 64 KiB (the meta group is small).
fn read_meta(path: &Path) -> Result<Part10, String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let mut head = Vec::new();
    std::io::Read::by_ref(&mut f)
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(|e| format!("cannot read: {e}"))?;
    part10::split_part10(&head)
}

/// C-STORE of `files` to `node` in one association. A file that cannot be read or is refused
/// is listed in the report and the others go on; a broken association or a cancel stops the
/// send (the association is aborted, so the receiver does not take a partial series for a
/// complete one).
pub fn send_files(
    node: &Node,
    files: &[PathBuf],
    opts: &ScuOptions,
    ctx: &JobCtx,
) -> Result<SendReport, NetError> {
    let mut report = SendReport::default();
    let mut items: Vec<(PathBuf, Part10)> = Vec::new();
    for f in files {
        match read_meta(f) {
            Ok(m) => items.push((f.clone(), m)),
            Err(e) => report.failed.push((f.clone(), e)),
        }
    }
    let mut contexts: Vec<(String, String)> = Vec::new();
    for (_, m) in &items {
        let key = (m.sop_class_uid.clone(), m.transfer_syntax.clone());
        if !contexts.contains(&key) && contexts.len() < MAX_CONTEXTS {
            contexts.push(key);
        }
    }
    if contexts.is_empty() {
        return Ok(report);
    }
    let mut o = options(node, opts)?;
    for (class, ts) in &contexts {
        o = o.with_presentation_context(class.clone(), vec![ts.clone()]);
    }
    ctx.progress.set_message(format!("Connecting to {node}"));
    let mut assoc = establish(node, o)?;
    let n = items.len();
    for (i, (path, meta)) in items.iter().enumerate() {
        if ctx.cancel.is_cancelled() {
            let _ = assoc.abort();
            return Err(NetError::Cancelled);
        }
        ctx.progress
            .set_message(format!("Sending {} of {n} to {node}", i + 1));
        let Some(pc) = accepted_context(&assoc, &meta.sop_class_uid, &meta.transfer_syntax) else {
            report.failed.push((
                path.clone(),
                format!(
                    "{node} accepts no presentation context for SOP class {} in transfer syntax {}",
                    meta.sop_class_uid, meta.transfer_syntax
                ),
            ));
            continue;
        };
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                report.failed.push((path.clone(), format!("cannot read: {e}")));
                continue;
            }
        };
        let dataset = bytes.get(meta.dataset_offset..).unwrap_or_default();
        let message_id = u16::try_from(i % 0xFFFF + 1).unwrap_or(1);
        let sent = store_one(&mut assoc, pc, message_id, meta, dataset, ctx);
        match sent {
            Ok(rsp) => match rsp.status {
                dimse::STATUS_SUCCESS => report.sent += 1,
                0x0001 | 0x0107 | 0x0116 | 0xB000..=0xBFFF => {
                    report.sent += 1;
                    report.warnings.push((
                        path.clone(),
                        format!("stored with warning status 0x{:04X}", rsp.status),
                    ));
                }
                s => report
                    .failed
                    .push((path.clone(), format!("refused with status 0x{s:04X}"))),
            },
            Err(Step::Cancelled) => {
                let _ = assoc.abort();
                return Err(NetError::Cancelled);
            }
            Err(Step::Failed(reason)) => {
                let _ = assoc.abort();
                return Err(NetError::Exchange {
                    node: node.to_string(),
                    reason: format!("{}: {reason}", path.display()),
                });
            }
        }
        ctx.progress.set((i + 1) as f32 / n as f32);
    }
    assoc.release().map_err(|e| NetError::Exchange {
        node: node.to_string(),
        reason: format!("release failed: {}", chain(&e)),
    })?;
    Ok(report)
}

enum Step {
    Cancelled,
    Failed(String),
}

fn store_one(
    assoc: &mut ClientAssociation<TcpStream>,
    pc: u8,
    message_id: u16,
    meta: &Part10,
    dataset: &[u8],
    ctx: &JobCtx,
) -> Result<dimse::Command, Step> {
    send_command(
        assoc,
        pc,
        dimse::store_rq(message_id, &meta.sop_class_uid, &meta.sop_instance_uid),
    )
    .map_err(Step::Failed)?;
    {
        let mut w = assoc.send_pdata(pc);
        for chunk in dataset.chunks(CHUNK) {
            if ctx.cancel.is_cancelled() {
                w.abandon();
                return Err(Step::Cancelled);
            }
            w.write_all(chunk)
                .map_err(|e| Step::Failed(format!("sending the data set failed: {e}")))?;
        }
        w.finish()
            .map_err(|e| Step::Failed(format!("sending the data set failed: {e}")))?;
    }
    let rsp = receive_response(assoc).map_err(Step::Failed)?;
    if rsp.field != dimse::C_STORE_RSP || rsp.responded_id != message_id {
        return Err(Step::Failed(format!(
            "unexpected response 0x{:04X} to message {message_id}",
            rsp.field
        )));
    }
    Ok(rsp)
}
