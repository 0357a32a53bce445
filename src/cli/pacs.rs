//! `ablaplan echo AE@host:port`, `ablaplan send --to AE@host:port FILES...` and
//! `ablaplan receive --ae AE --port P --dir D`: the PACS exchange of [`crate::net`] for scripts
//! and tests. Lines go to stdout through `term.rs`; exit 0 = done, 1 = the exchange failed or
//! a file was refused, 2 = bad input, 130 = Ctrl-C.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::term::{eprint_line, print_stdout};
use crate::jobs::JobCtx;
use crate::net::{self, NetError, Node, ScpConfig, ScuOptions};

const EXIT_INTERRUPTED: u8 = 130;

fn bad(cmd: &str, e: impl std::fmt::Display) -> ExitCode {
    eprint_line(&format!("ablaplan {cmd}: {e}"));
    ExitCode::from(2)
}

fn exit_of(e: &NetError) -> ExitCode {
    match e {
        NetError::Config(_) => ExitCode::from(2),
        NetError::Cancelled => ExitCode::from(EXIT_INTERRUPTED),
        _ => ExitCode::FAILURE,
    }
}

fn scu_options(calling_ae: &str, timeout_s: f64) -> Result<ScuOptions, String> {
    if !(timeout_s.is_finite() && timeout_s > 0.0 && timeout_s <= 3600.0) {
        return Err(format!("--timeout {timeout_s} is not within 0-3600 s"));
    }
    Ok(ScuOptions {
        calling_ae: calling_ae.to_string(),
        timeout: Duration::from_secs_f64(timeout_s),
        ..ScuOptions::default()
    })
}

/// `ablaplan echo AE@host:port`: C-ECHO, prints the round trip.
pub fn echo_command(to: &str, calling_ae: &str, timeout_s: f64) -> ExitCode {
    let (node, opts) = match Node::parse(to)
        .map_err(|e| e.to_string())
        .and_then(|n| Ok((n, scu_options(calling_ae, timeout_s)?)))
    {
        Ok(x) => x,
        Err(e) => return bad("echo", e),
    };
    match net::echo(&node, &opts) {
        Ok(rtt) => {
            let _ = print_stdout(&format!(
                "C-ECHO {node}: success in {:.0} ms\n",
                rtt.as_secs_f64() * 1000.0
            ));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint_line(&format!("ablaplan echo: {e}"));
            exit_of(&e)
        }
    }
}

/// Files to send: the files given, and the files inside given folders (recursively, sorted).
fn expand(paths: &[PathBuf]) -> Vec<PathBuf> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>, depth: usize) {
        if p.is_dir() {
            if depth > 16 {
                return;
            }
            let Ok(rd) = std::fs::read_dir(p) else {
                out.push(p.to_path_buf()); // reported as unreadable by the send
                return;
            };
            let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            for e in entries {
                walk(&e, out, depth + 1);
            }
        } else {
            out.push(p.to_path_buf());
        }
    }
    let mut out = Vec::new();
    for p in paths {
        walk(p, &mut out, 0);
    }
    out
}

/// `ablaplan send --to AE@host:port FILES...`: C-STORE of every file (folders are walked).
pub fn send_command(to: &str, files: &[PathBuf], calling_ae: &str, timeout_s: f64) -> ExitCode {
    let (node, opts) = match Node::parse(to)
        .map_err(|e| e.to_string())
        .and_then(|n| Ok((n, scu_options(calling_ae, timeout_s)?)))
    {
        Ok(x) => x,
        Err(e) => return bad("send", e),
    };
    let files = expand(files);
    if files.is_empty() {
        return bad("send", "no files to send");
    }
    let ctx = JobCtx::default();
    let cancel = ctx.cancel.clone();
    if let Err(e) = ctrlc::set_handler(move || cancel.cancel()) {
        eprint_line(&format!("ablaplan send: Ctrl-C will not cancel cleanly: {e}"));
    }
    match net::send_files(&node, &files, &opts, &ctx) {
        Ok(report) => {
            let mut text = format!("sent {} of {} file(s) to {node}\n", report.sent, files.len());
            for (p, w) in &report.warnings {
                text.push_str(&format!("warning: {}: {w}\n", p.display()));
            }
            for (p, e) in &report.failed {
                text.push_str(&format!("failed: {}: {e}\n", p.display()));
            }
            let _ = print_stdout(&text);
            if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprint_line(&format!("ablaplan send: {e}"));
            exit_of(&e)
        }
    }
}

/// Options of `ablaplan receive`.
pub struct ReceiveArgs {
    pub ae_title: String,
    pub port: u16,
    pub dir: PathBuf,
    pub allow: Vec<String>,
    pub bind: std::net::IpAddr,
    pub timeout_s: f64,
    /// Stop after this many seconds (tests, scripts); runs until Ctrl-C when `None`.
    pub for_s: Option<f64>,
}

/// `ablaplan receive --ae AE --port P --dir D`: the C-STORE SCP in the foreground.
pub fn receive_command(args: ReceiveArgs) -> ExitCode {
    if !(args.timeout_s.is_finite() && args.timeout_s > 0.0 && args.timeout_s <= 3600.0) {
        return bad(
            "receive",
            format!("--timeout {} is not within 0-3600 s", args.timeout_s),
        );
    }
    let cfg = ScpConfig {
        ae_title: args.ae_title,
        bind: args.bind,
        port: args.port,
        allowed_callers: args.allow,
        folder: args.dir,
        timeout: Duration::from_secs_f64(args.timeout_s),
        ..ScpConfig::default()
    };
    let scp = match net::scp::start(cfg, None) {
        Ok(s) => s,
        Err(e) => {
            eprint_line(&format!("ablaplan receive: {e}"));
            return exit_of(&e);
        }
    };
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    if let Err(e) = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst)) {
        eprint_line(&format!("ablaplan receive: Ctrl-C will not stop cleanly: {e}"));
    }
    let until = args
        .for_s
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| std::time::Instant::now() + Duration::from_secs_f64(s));
    while !interrupted.load(Ordering::SeqCst) && until.is_none_or(|t| std::time::Instant::now() < t) {
        if let Some(e) = scp.next_event(Duration::from_millis(100)) {
            let _ = print_stdout(&format!("{}\n", e));
        }
    }
    scp.stop();
    if interrupted.load(Ordering::SeqCst) {
        ExitCode::from(EXIT_INTERRUPTED)
    } else {
        ExitCode::SUCCESS
    }
}
