//! `ablaplan compute`: the pipeline on a case file in a worker thread, its progress on stderr,
//! the report as text or JSON, Ctrl-C to cancel.

use std::path::Path;
use std::process::ExitCode;

use super::term::{Printed, eprint_line, print_json, print_stdout};
use crate::pipeline::{CaseReport, ComputeError, RunOptions, run_case};

/// Runs `compute` and returns its exit code: 0 done, 2 bad input, 1 the model failed, 130
/// cancelled by Ctrl-C.
pub fn compute_command(case: &Path, json: bool, opts: &RunOptions<'_>) -> ExitCode {
    let code = run_compute(json, |ctx| run_case(case, opts, ctx), CaseReport::format);
    if let (Some(p), true) = (opts.png, code == ExitCode::SUCCESS) {
        eprint_line(&format!("wrote the board slide to {}", p.display()));
    }
    code
}

/// Runs a model on a worker thread (its progress on stderr unless `json`) and prints the report
/// as JSON or as text. Exit 0; the error's own code for bad input or a model failure; 1 when the
/// worker crashed.
pub(crate) fn run_compute<R: serde::Serialize + Send>(
    json: bool,
    work: impl FnOnce(&crate::jobs::JobCtx) -> Result<R, ComputeError> + Send,
    text: impl FnOnce(&R) -> String,
) -> ExitCode {
    let ctx = crate::jobs::JobCtx::default();
    let interrupted = cancel_on_ctrl_c(&ctx);
    let outcome = std::thread::scope(|s| {
        let worker = s.spawn(|| work(&ctx));
        if !json {
            report_progress(&worker, &ctx.progress);
        }
        worker.join()
    });
    // Whatever the worker returned after a Ctrl-C (usually "cancelled") is not the answer asked for.
    if let Some(what) = interrupted.get() {
        eprint_line(&format!("ablaplan compute: cancelled by Ctrl-C {what}"));
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    let printed = match outcome {
        Ok(Ok(report)) if json => match serde_json::to_string_pretty(&report) {
            Ok(s) => print_json(&s),
            Err(e) => {
                eprint_line(&format!("ablaplan compute: cannot write JSON: {e}"));
                return ExitCode::FAILURE;
            }
        },
        Ok(Ok(report)) => print_stdout(&text(&report)),
        Ok(Err(e)) => {
            eprint_line(&format!("ablaplan compute: {e}"));
            return ExitCode::from(e.exit_code());
        }
        // The panic message itself was printed by the panic hook.
        Err(_) => {
            eprint_line("ablaplan compute: the model crashed (see the message above)");
            return ExitCode::FAILURE;
        }
    };
    exit_after_printing(printed)
}

/// Exit 0 when the report went out or its reader left (`| head`), 1 when stdout failed.
pub fn exit_after_printing(printed: std::io::Result<Printed>) -> ExitCode {
    match printed {
        Ok(Printed::Done | Printed::ReaderGone) => ExitCode::SUCCESS,
        Err(e) => {
            eprint_line(&format!("ablaplan: cannot write to stdout: {e}"));
            ExitCode::FAILURE
        }
    }
}

/// Exit code of a run stopped by Ctrl-C: 128 + SIGINT, the shells' convention.
const EXIT_INTERRUPTED: u8 = 130;

/// Installs the Ctrl-C handler of `compute`: the first Ctrl-C cancels `ctx` (the model stops at
/// its next check, so the worker thread ends cleanly) and records what was running; a second one
/// exits at once, for a step that does not check. Returns the record, empty until a Ctrl-C.
fn cancel_on_ctrl_c(ctx: &crate::jobs::JobCtx) -> std::sync::Arc<std::sync::OnceLock<String>> {
    let interrupted = std::sync::Arc::new(std::sync::OnceLock::new());
    let (cancel, progress, seen) = (ctx.cancel.clone(), ctx.progress.clone(), interrupted.clone());
    let installed = ctrlc::set_handler(move || {
        let mut message = progress.message();
        if message.is_empty() {
            message = "starting".to_string();
        }
        let what = format!("at {:.0} % ({message})", 100.0 * progress.fraction());
        if seen.set(what.clone()).is_ok() {
            cancel.cancel();
            eprintln!("ablaplan compute: Ctrl-C: cancelling {what}; press Ctrl-C again to quit at once");
        } else {
            let first = seen.get().map_or(what.as_str(), String::as_str);
            eprintln!("ablaplan compute: cancelled by a second Ctrl-C {first}; quitting at once");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    });
    if let Err(e) = installed {
        // Without the handler Ctrl-C still ends the process, only without the message.
        log::warn!("cannot install the Ctrl-C handler: {e}");
    }
    interrupted
}

/// Prints the worker's progress to stderr (a line when the message changes, at most every
/// 0.2 s) until it finishes.
fn report_progress<T>(worker: &std::thread::ScopedJoinHandle<'_, T>, progress: &crate::jobs::Progress) {
    let mut last = String::new();
    let mut print_if_new = || {
        let message = progress.message();
        if message != last && !message.is_empty() {
            eprint_line(&format!("{:3.0} % {message}", 100.0 * progress.fraction()));
            last = message;
        }
    };
    while !worker.is_finished() {
        print_if_new();
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // A run shorter than one poll still reports where it ended.
    print_if_new();
}
