//! `ablaplan plan CASE --suggest [--json] [--png OUT]`: suggested plans on a worker thread,
//! progress on stderr, Ctrl-C cancels (the pipeline's `suggest_case`).

use std::path::Path;
use std::process::ExitCode;

use super::compute::run_compute;
use super::term::eprint_line;
use crate::pipeline::suggest::{format_suggestion, suggest_case};

pub fn plan_command(
    case: &Path,
    suggest: bool,
    json: bool,
    png: Option<&Path>,
    plan: Option<&str>,
) -> ExitCode {
    if !suggest {
        eprint_line("ablaplan plan: say what to do — `--suggest` searches and confirms suggested plans");
        return ExitCode::from(2);
    }
    let code = run_compute(json, |ctx| suggest_case(case, plan, png, ctx), format_suggestion);
    if let (Some(p), true) = (png, code == ExitCode::SUCCESS) {
        eprint_line(&format!("wrote the board slide of proposal 1 to {}", p.display()));
    }
    code
}
