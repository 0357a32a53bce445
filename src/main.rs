//! `ablaplan` — GUI by default, headless subcommands for inspection and computation.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "ablaplan",
    version,
    about = "Plan and review percutaneous tumour ablation on CT"
)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    /// DICOM folder, file or DICOMDIR to open (the built-in demo case when omitted).
    path: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// List the series in PATH with geometry, HU range, warnings and skipped files.
    Inspect {
        path: PathBuf,
        /// Print JSON (keys documented in the README) instead of text.
        #[arg(long)]
        json: bool,
        /// Import the RTSTRUCT / SEG found for each series onto its grid and list the structures.
        #[arg(long)]
        structures: bool,
    },
    /// Run the IRE or cryo model on a case file (assets/cases/*.json) and print the zone volume
    /// and extents (cryo: per isotherm), the per-pair voltage, spacing and current (cryo: the
    /// probes), the safety findings and margins, and the solver's iterations and time.
    /// Exit code 0 = done, 2 = bad input (the message names the file and field), 1 = the model
    /// failed, 130 = cancelled by Ctrl-C (a second Ctrl-C quits at once).
    Compute {
        case: PathBuf,
        /// Print one JSON object (keys documented in the README) instead of text.
        #[arg(long)]
        json: bool,
        /// Grid spacing in mm (overrides model.spacing_mm).
        #[arg(long, value_name = "MM", allow_negative_numbers = true)]
        spacing_mm: Option<f64>,
        /// Margin around the electrodes in mm (overrides model.margin_mm).
        #[arg(long, value_name = "MM", allow_negative_numbers = true)]
        margin_mm: Option<f64>,
        /// Constant conductivity σ0 (overrides model.nonlinear).
        #[arg(long)]
        linear: bool,
        /// Voltage of every pulsed pair in V (overrides ire.pairs[].voltage_v).
        #[arg(long, value_name = "V", allow_negative_numbers = true)]
        voltage_v: Option<f64>,
        /// One lethal threshold everywhere in V/cm (overrides model.zone).
        #[arg(long, value_name = "V_PER_CM", allow_negative_numbers = true)]
        threshold_v_per_cm: Option<f64>,
        /// Also write the anonymised 1920 × 1080 tumour-board slide (axial, coronal and
        /// along-probe views, plan, findings, margins, provenance) to this PNG file.
        #[arg(long, value_name = "OUT.png")]
        png: Option<PathBuf>,
    },
    /// Rerun a model calibration on the calibration set of REFERENCE.md §7 (`calibrate cryo`).
    #[command(subcommand)]
    Calibrate(ablaplan::calibrate_cli::CalibrateCmd),
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    match cli.command {
        Some(Cmd::Inspect {
            path,
            json,
            structures,
        }) => inspect(&path, json, structures),
        Some(Cmd::Compute {
            case,
            json,
            spacing_mm,
            margin_mm,
            linear,
            voltage_v,
            threshold_v_per_cm,
            png,
        }) => compute(
            &case,
            json,
            png.as_deref(),
            &ablaplan::cli::ComputeOverrides {
                spacing_mm,
                margin_mm,
                linear,
                voltage_v,
                threshold_v_per_cm,
            },
        ),
        Some(Cmd::Calibrate(cmd)) => ablaplan::calibrate_cli::run(cmd),
        None => match ablaplan::app::run(ablaplan::app::StartupOptions {
            open: cli.path,
            ..Default::default()
        }) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("ablaplan: cannot open a window: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

fn inspect(path: &std::path::Path, json: bool, structures: bool) -> ExitCode {
    match ablaplan::cli::inspect_with(path, structures) {
        Ok(report) => {
            if json {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("ablaplan: cannot write JSON: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{}", ablaplan::cli::format_inspect(&report));
            }
            if report.series.iter().any(|s| s.loaded) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprintln!("ablaplan inspect: {e}");
            ExitCode::FAILURE
        }
    }
}

fn compute(
    case: &std::path::Path,
    json: bool,
    png: Option<&std::path::Path>,
    overrides: &ablaplan::cli::ComputeOverrides,
) -> ExitCode {
    let code = if ablaplan::cli::is_cryo_case(case) {
        compute_cryo(case, json, png, overrides)
    } else {
        run_compute(
            json,
            |ctx| ablaplan::cli::compute_case_png(case, overrides, png, ctx),
            ablaplan::cli::format_compute,
        )
    };
    if let (Some(p), true) = (png, code == ExitCode::SUCCESS) {
        eprintln!("wrote the board slide to {}", p.display());
    }
    code
}

/// `compute` on a cryo case (issue 5): the cryo report (and slide), same exit codes.
fn compute_cryo(
    case: &std::path::Path,
    json: bool,
    png: Option<&std::path::Path>,
    overrides: &ablaplan::cli::ComputeOverrides,
) -> ExitCode {
    run_compute(
        json,
        |ctx| ablaplan::cli::compute_cryo_case_png(case, overrides, png, ctx),
        ablaplan::cli::format_cryo_compute,
    )
}

/// Runs a model on a worker thread (its progress on stderr unless `json`) and prints the report
/// as JSON or as text. Exit 0; the error's own code for bad input or a model failure; 1 when the
/// worker crashed.
fn run_compute<R: serde::Serialize + Send>(
    json: bool,
    work: impl FnOnce(&ablaplan::jobs::JobCtx) -> Result<R, ablaplan::cli::ComputeError> + Send,
    text: impl FnOnce(&R) -> String,
) -> ExitCode {
    let ctx = ablaplan::jobs::JobCtx::default();
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
        eprintln!("ablaplan compute: cancelled by Ctrl-C {what}");
        return ExitCode::from(EXIT_INTERRUPTED);
    }
    match outcome {
        Ok(Ok(report)) if json => match serde_json::to_string_pretty(&report) {
            Ok(s) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ablaplan compute: cannot write JSON: {e}");
                ExitCode::FAILURE
            }
        },
        Ok(Ok(report)) => {
            print!("{}", text(&report));
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            eprintln!("ablaplan compute: {e}");
            ExitCode::from(e.exit_code())
        }
        // The panic message itself was printed by the panic hook.
        Err(_) => {
            eprintln!("ablaplan compute: the model crashed (see the message above)");
            ExitCode::FAILURE
        }
    }
}

/// Exit code of a run stopped by Ctrl-C: 128 + SIGINT, the shells' convention.
const EXIT_INTERRUPTED: u8 = 130;

/// Installs the Ctrl-C handler of `compute`: the first Ctrl-C cancels `ctx` (the model stops at
/// its next check, so the worker thread ends cleanly) and records what was running; a second one
/// exits at once, for a step that does not check. Returns the record, empty until a Ctrl-C.
fn cancel_on_ctrl_c(ctx: &ablaplan::jobs::JobCtx) -> std::sync::Arc<std::sync::OnceLock<String>> {
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
fn report_progress<T>(worker: &std::thread::ScopedJoinHandle<'_, T>, progress: &ablaplan::jobs::Progress) {
    let mut last = String::new();
    let mut print_if_new = || {
        let message = progress.message();
        if message != last && !message.is_empty() {
            eprintln!("{:3.0} % {message}", 100.0 * progress.fraction());
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
