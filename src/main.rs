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
    /// Run the IRE or cryo model on a case file (assets/cases/*.json, or a case the app saved)
    /// and print the zone volume
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
        /// The plan of a saved planning case to run, by name (its active plan by default).
        #[arg(long, value_name = "NAME")]
        plan: Option<String>,
    },
    /// Suggest plans for a case (`--suggest`): up to three ranked placements from the skin to
    /// the target that cover the target + the margin goal within the hard rules — or what is
    /// impossible and the best compromise. The case's own probes are ignored.
    /// Exit code 0 = done, 2 = bad input, 1 = failed, 130 = cancelled by Ctrl-C.
    Plan {
        case: PathBuf,
        /// Search and confirm suggested plans (the only action of `plan` for now).
        #[arg(long)]
        suggest: bool,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Also write the board slide of the best proposal to this PNG file.
        #[arg(long, value_name = "OUT.png")]
        png: Option<PathBuf>,
        /// The plan of a saved planning case, by name (its active plan by default).
        #[arg(long, value_name = "NAME")]
        plan: Option<String>,
    },
    /// Rerun a model calibration on the calibration set of REFERENCE.md §7 (`calibrate cryo`).
    #[command(subcommand)]
    Calibrate(ablaplan::cli::calibrate::CalibrateCmd),
    /// C-ECHO a DICOM node (AE@host:port) and print the round trip.
    Echo {
        #[arg(value_name = "AE@HOST:PORT")]
        to: String,
        /// Our (calling) AE title.
        #[arg(long, default_value = "ABLAPLAN")]
        aet: String,
        /// Timeout of each network step in seconds.
        #[arg(long, default_value_t = 30.0)]
        timeout: f64,
    },
    /// Send DICOM files (folders are walked) to a node with C-STORE, each data set as it is
    /// on disk. Exit 1 when a file was refused or the association failed.
    Send {
        /// The receiving node.
        #[arg(long, value_name = "AE@HOST:PORT")]
        to: String,
        /// Our (calling) AE title.
        #[arg(long, default_value = "ABLAPLAN")]
        aet: String,
        /// Timeout of each network step in seconds.
        #[arg(long, default_value_t = 30.0)]
        timeout: f64,
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Receive DICOM objects (C-STORE SCP with C-ECHO) into DIR/STUDY/SERIES/SOP.dcm until
    /// Ctrl-C; a series is listed as complete only after a normal release.
    Receive {
        /// Our AE title (the called AE title peers must use).
        #[arg(long, default_value = "ABLAPLAN")]
        ae: String,
        #[arg(long, default_value_t = 11112)]
        port: u16,
        /// Storage folder.
        #[arg(long)]
        dir: PathBuf,
        /// Calling AE title allowed to send (repeat for several); any when absent.
        #[arg(long)]
        allow: Vec<String>,
        /// Address to listen on.
        #[arg(long, default_value = "0.0.0.0")]
        bind: std::net::IpAddr,
        /// Seconds a peer may stay silent before it is aborted.
        #[arg(long, default_value_t = 30.0)]
        timeout: f64,
        /// Stop after this many seconds.
        #[arg(long = "for", value_name = "SECONDS")]
        for_s: Option<f64>,
    },
    /// Run a case's plan and write it as DICOM (SEG, RTSTRUCT, Secondary Captures) into a folder.
    Export {
        case: PathBuf,
        /// The folder to write the DICOM objects into (created if missing).
        #[arg(long, value_name = "OUTDIR")]
        dicom: PathBuf,
        /// Replace the patient's identifiers in every object and in the view's text.
        #[arg(long)]
        anonymise: bool,
        #[arg(long, value_name = "NAME")]
        plan: Option<String>,
    },
}

fn main() -> ExitCode {
    // The GUI's file dialogs read rfd's logged errors through this logger (a failed desktop
    // dialog must not look like a cancel).
    ablaplan::app::file_dialog::install_logger(
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).build(),
    );
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
            plan,
        }) => ablaplan::cli::compute::compute_command(
            &case,
            json,
            &ablaplan::pipeline::RunOptions {
                plan: plan.as_deref(),
                overrides: ablaplan::pipeline::ComputeOverrides {
                    spacing_mm,
                    margin_mm,
                    linear,
                    voltage_v,
                    threshold_v_per_cm,
                },
                png: png.as_deref(),
            },
        ),
        Some(Cmd::Plan {
            case,
            suggest,
            json,
            png,
            plan,
        }) => ablaplan::cli::plan::plan_command(&case, suggest, json, png.as_deref(), plan.as_deref()),
        Some(Cmd::Calibrate(cmd)) => ablaplan::cli::calibrate::run(cmd),
        Some(Cmd::Echo { to, aet, timeout }) => ablaplan::cli::pacs::echo_command(&to, &aet, timeout),
        Some(Cmd::Send {
            to,
            aet,
            timeout,
            files,
        }) => ablaplan::cli::pacs::send_command(&to, &files, &aet, timeout),
        Some(Cmd::Receive {
            ae,
            port,
            dir,
            allow,
            bind,
            timeout,
            for_s,
        }) => ablaplan::cli::pacs::receive_command(ablaplan::cli::pacs::ReceiveArgs {
            ae_title: ae,
            port,
            dir,
            allow,
            bind,
            timeout_s: timeout,
            for_s,
        }),
        Some(Cmd::Export {
            case,
            dicom,
            anonymise,
            plan,
        }) => ablaplan::cli::export::export_command(&case, plan.as_deref(), &dicom, anonymise),
        None => match ablaplan::app::run(ablaplan::app::StartupOptions {
            open: cli.path,
            ..Default::default()
        }) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                ablaplan::cli::term::eprint_line(&format!("ablaplan: cannot open a window: {e}"));
                ExitCode::FAILURE
            }
        },
    }
}

fn inspect(path: &std::path::Path, json: bool, structures: bool) -> ExitCode {
    use ablaplan::cli::term::{eprint_line, print_json, print_stdout};
    match ablaplan::cli::inspect_with(path, structures) {
        Ok(report) => {
            let printed = if json {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => print_json(&s),
                    Err(e) => {
                        eprint_line(&format!("ablaplan: cannot write JSON: {e}"));
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print_stdout(&ablaplan::cli::format_inspect(&report))
            };
            let code = ablaplan::cli::compute::exit_after_printing(printed);
            if code != ExitCode::SUCCESS || report.series.iter().any(|s| s.loaded) {
                code
            } else {
                ExitCode::from(2)
            }
        }
        Err(e) => {
            eprint_line(&format!("ablaplan inspect: {e}"));
            ExitCode::FAILURE
        }
    }
}
