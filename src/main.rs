//! `ablaplan` — GUI by default, headless subcommands for inspection and (later) computation.

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
        None => match ablaplan::app::run(ablaplan::app::StartupOptions { open: cli.path }) {
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
