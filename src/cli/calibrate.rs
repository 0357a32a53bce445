//! `ablaplan calibrate cryo`: reruns the calibration of the cryoprobes' gas side on the
//! calibration set of REFERENCE.md §7 (`physics::cryo::calibrate`), prints the fitted values,
//! their ranges and the residuals, then runs the validation cases (C2 with 2–4 probes, never
//! used to choose a value) with the result, and with `--write` stores it in a catalog file.

use crate::jobs::JobCtx;
use crate::physics::cryo::calibrate::{
    Measure, ModelCalibration, PhantomCase, apply_calibration, calibrate_all,
};
use crate::physics::cryo::model::CryoAssets;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Subcommand, Debug)]
pub enum CalibrateCmd {
    /// Fit each cryoprobe model's gas-side h (and the 17G active length) on C2-single / C3,
    /// print the values, ranges and residuals and the C2 2–4 probe validation.
    Cryo {
        /// Grid spacing in mm (default: each case's, 1 mm).
        #[arg(long, value_name = "MM")]
        spacing_mm: Option<f64>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// Write the calibrated catalog to this file (e.g. assets/probes.json).
        #[arg(long, value_name = "PROBES.json")]
        write: Option<PathBuf>,
    },
}

/// One validation case run with the calibrated catalog.
#[derive(Clone, Debug, Serialize)]
pub struct ValidationRow {
    pub case_file: String,
    pub measure: String,
    pub published_mm: f64,
    /// The equivalent-circle diameter of the lethal cross-section at the middle of the active
    /// length (`physics::cryo::calibrate::Measure::LethalSectionDiameter`).
    pub model_mm: f64,
    /// The lethal zone's node extents along the pair axis and the perpendicular, and their mean
    /// (shown beside it; not the measure).
    pub pair_axis_mm: f64,
    pub perpendicular_mm: f64,
    pub mean_of_extents_mm: f64,
    /// Lethal / iceball cross-section area, and Littrup's figure for it.
    pub lethal_area_fraction: f64,
    pub published_area_fraction: f64,
    pub error_mm: f64,
    pub within_mm: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CalibrationReport {
    pub models: Vec<ModelCalibration>,
    pub validation: Vec<ValidationRow>,
}

/// The validation set run after a calibration: C2 with 2, 3, 4 probes (Littrup 2009, lethal
/// −30 °C diameters 33 / 41 / 49 mm, aim ±5 mm; lethal ice 46 / 51 / 56 % of the iceball's area).
pub const C2_VALIDATION: [(&str, f64, f64); 3] = [
    ("assets/cases/c2_littrup_2_probes.json", 33.0, 0.46),
    ("assets/cases/c2_littrup_3_probes.json", 41.0, 0.51),
    ("assets/cases/c2_littrup_4_probes.json", 49.0, 0.56),
];

pub fn run(cmd: CalibrateCmd) -> ExitCode {
    let CalibrateCmd::Cryo {
        spacing_mm,
        json,
        write,
    } = cmd;
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    match calibrate(&root, spacing_mm, write.as_deref()) {
        Ok(report) => {
            if json {
                match serde_json::to_string_pretty(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("ablaplan calibrate: cannot write JSON: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print!("{}", format_report(&report));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ablaplan calibrate: {e}");
            ExitCode::FAILURE
        }
    }
}

fn calibrate(
    root: &Path,
    spacing_mm: Option<f64>,
    write: Option<&Path>,
) -> Result<CalibrationReport, String> {
    let assets = CryoAssets::builtin().map_err(|e| e.to_string())?;
    let ctx = JobCtx::default();
    let models = calibrate_all(&assets, root, spacing_mm, &ctx, &mut |m| eprintln!("  {m}"))
        .map_err(|e| e.to_string())?;
    let mut calibrated = assets.clone();
    apply_calibration(&mut calibrated.catalog, &models);
    let mut validation = Vec::new();
    for (file, published, fraction) in C2_VALIDATION {
        let case = PhantomCase::load(&root.join(file)).map_err(|e| e.to_string())?;
        let (_, s) = case
            .run(&calibrated, "", None, spacing_mm, &ctx)
            .map_err(|e| e.to_string())?;
        eprintln!(
            "  validation {file}: lethal diameter {:.1} mm (published {published})",
            s.lethal_section_diameter_mm
        );
        validation.push(ValidationRow {
            case_file: file.into(),
            measure: Measure::LethalSectionDiameter.label().into(),
            published_mm: published,
            model_mm: s.lethal_section_diameter_mm,
            pair_axis_mm: s.lethal_extents_mm[1],
            perpendicular_mm: s.lethal_extents_mm[2],
            mean_of_extents_mm: s.lethal_diameter_mm,
            lethal_area_fraction: s.lethal_area_fraction,
            published_area_fraction: fraction,
            error_mm: s.lethal_section_diameter_mm - published,
            within_mm: 5.0,
        });
    }
    if let Some(path) = write {
        let text = serde_json::to_string_pretty(&calibrated.catalog).map_err(|e| e.to_string())?;
        crate::fsio::write_atomic_bytes(path, (text + "\n").as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        eprintln!("  wrote {}", path.display());
    }
    Ok(CalibrationReport { models, validation })
}

pub fn format_report(r: &CalibrationReport) -> String {
    let mut s = String::new();
    for m in &r.models {
        s += &format!("{} — calibrated on {}\n", m.model_id, m.calibrated_on);
        s += &format!(
            "  h = {:.0} W/m²·K (physical range {:.0}–{:.0}; within tolerance {:.0}–{:.0}){}\n",
            m.h_w_per_m2_k,
            m.h_range_w_per_m2_k.0,
            m.h_range_w_per_m2_k.1,
            m.h_band_w_per_m2_k.0,
            m.h_band_w_per_m2_k.1,
            if m.shares_h_with.is_empty() {
                String::new()
            } else {
                format!(", shared with {}", m.shares_h_with.join(", "))
            }
        );
        if let Some(l) = m.active_length_mm {
            s += &format!(
                "  active length = {l:.1} mm (range {}–{} mm)\n",
                m.active_length_range_mm.0, m.active_length_range_mm.1
            );
        }
        for t in &m.targets {
            s += &format!(
                "  {}: model {:.1} mm vs published {:.1} ± {} mm (residual {:+.1} mm)\n",
                t.quantity, t.model_mm, t.published_mm, t.tolerance_mm, t.residual_mm
            );
        }
        for n in &m.notes {
            s += &format!("  note: {n}\n");
        }
        s += &format!("  {} model runs on a {} mm grid\n", m.runs, m.spacing_mm);
    }
    s += "Validation (not used to choose anything; lethal diameter = equivalent circle of the cross-section at the middle of the active length):\n";
    for v in &r.validation {
        s += &format!(
            "  {}: {:.1} mm vs published {} mm ({:+.1} mm, aim ±{} mm); lethal {:.0} % of the iceball's area vs {:.0} %; node extents {:.0} × {:.0} (mean {:.1})\n",
            v.case_file,
            v.model_mm,
            v.published_mm,
            v.error_mm,
            v.within_mm,
            100.0 * v.lethal_area_fraction,
            100.0 * v.published_area_fraction,
            v.pair_axis_mm,
            v.perpendicular_mm,
            v.mean_of_extents_mm
        );
    }
    s
}
