//! One pipeline for every face — load case → model → safety → report → slide — used by the CLI
//! (`ablaplan compute`), the GUI's export, the benches and the tests, so that what the tumour
//! board sees is what the planner saw. Either modality goes through the same steps: the model
//! is [`crate::physics::model`]'s, the safety pass [`crate::safety::analyse`].

pub mod board;
pub mod explain;
pub mod load;
pub mod report;
pub mod suggest;

use std::path::Path;

pub use board::{BoardInput, board_slide, margin_met};
pub use load::{ComputeError, ComputeOverrides, LoadedCase, Scene, apply_overrides, load_case};
pub use report::{
    CaseReport, ComputeReport, CryoComputeReport, ZoneAxes, format_compute, format_cryo_compute, zone_axes,
};

use crate::jobs::JobCtx;
use crate::physics::cryo::model::CryoStream;
use crate::physics::model::{self, ModelAssets, ModelResult, ModelSettings};
use crate::plan::case::CaseFile;
use crate::plan::catalog::Modality;
use crate::safety::{SafetyCache, SafetyReport};

/// What `compute` is asked for besides the case.
#[derive(Clone, Debug, Default)]
pub struct RunOptions<'a> {
    /// The plan of a planning document to run (its active plan when `None`).
    pub plan: Option<&'a str>,
    pub overrides: ComputeOverrides,
    /// Also write the tumour-board slide here.
    pub png: Option<&'a Path>,
}

/// Runs the plan's model on a loaded case (polls `ctx.cancel`, reports `ctx.progress`).
pub fn run_model(
    loaded: &LoadedCase,
    assets: &ModelAssets,
    ctx: &JobCtx,
    on_stream: &mut dyn FnMut(CryoStream<'_>),
) -> Result<ModelResult, ComputeError> {
    ctx.progress.set_message(match loaded.modality() {
        Modality::Ire => "running the IRE model",
        Modality::Cryo => "running the cryo model",
    });
    model::compute(
        &loaded.probes,
        &loaded.settings,
        loaded.tissue(),
        assets,
        ctx,
        on_stream,
    )
    .map_err(|source| ComputeError::Model {
        file: loaded.file.clone(),
        source,
    })
}

/// The safety pass of a loaded case's result, its coverage findings explained by the model.
pub fn safety(loaded: &LoadedCase, result: &ModelResult, assets: &ModelAssets) -> SafetyReport {
    let mut report = crate::safety::analyse(
        &loaded.structure_geometry,
        &loaded.structures,
        &loaded.probes,
        Some((result, lethal_c(&loaded.settings))),
        &loaded.rules,
        &mut SafetyCache::default(),
    );
    explain::explain_findings(
        &mut report,
        result,
        loaded.tissue(),
        &loaded.structures,
        &loaded.structure_geometry,
        assets,
    );
    report
}

/// The lethal isotherm the safety pass judges a cryo result by (°C; unused for IRE).
pub fn lethal_c(settings: &ModelSettings) -> f64 {
    settings.lethal_isotherm_c().unwrap_or(f64::NAN)
}

/// The report of a computed case (findings and margins from `safety`).
pub fn report(
    loaded: &LoadedCase,
    overrides: &ComputeOverrides,
    result: &ModelResult,
    safety: &SafetyReport,
    assets: &ModelAssets,
    total_s: f64,
) -> Result<CaseReport, ComputeError> {
    let warnings = loaded.warnings.clone();
    let report = match (result, &loaded.settings) {
        (ModelResult::Ire(r), ModelSettings::Ire { settings, .. }) => {
            let first_pair = settings
                .pairs
                .first()
                .ok_or_else(|| ComputeError::input(&loaded.file, "ire.pairs", "no pair to pulse"))?;
            let (axes, axes_warning) = zone_axes(&loaded.probes, first_pair).ok_or_else(|| {
                ComputeError::input(&loaded.file, "probes", "the first pair's probes are not valid")
            })?;
            let mut warnings = warnings;
            warnings.extend(axes_warning);
            CaseReport::Ire(Box::new(report::ire_report(
                loaded, overrides, r, axes, warnings, total_s,
            )))
        }
        (ModelResult::Cryo(r), ModelSettings::Cryo(s)) => CaseReport::Cryo(Box::new(
            report::cryo_report(loaded, overrides, s, r, assets, warnings, total_s)
                .ok_or_else(|| ComputeError::input(&loaded.file, "probes", "the first probe is not valid"))?,
        )),
        _ => {
            return Err(ComputeError::input(
                &loaded.file,
                "modality",
                "the model's result is of another modality than the plan",
            ));
        }
    };
    Ok(report.with_safety(safety, loaded))
}

/// The board slide of a computed case, exactly as the GUI exports it.
pub fn case_slide(
    loaded: &LoadedCase,
    result: &ModelResult,
    safety: &SafetyReport,
    assets: &ModelAssets,
) -> Result<crate::export::SlideImage, crate::export::ExportError> {
    let phantom = match &loaded.scene {
        Scene::Phantom {
            tissue,
            size_mm,
            centre_lps,
            ..
        } => Some((tissue.as_str(), *size_mm, *centre_lps)),
        Scene::Ct(_) => None,
    };
    board_slide(&BoardInput {
        title: &loaded.name,
        volume: loaded.scene.volume(),
        phantom,
        structures: &loaded.structures,
        structure_geometry: &loaded.structure_geometry,
        probes: &loaded.probes,
        settings: &loaded.settings,
        result,
        assets,
        safety: Some(safety),
        rules: &loaded.rules,
        case_file: Some(&loaded.path),
        anonymise: true,
    })
}

/// The whole pipeline on a case file: load → model → safety → report (→ slide with `png`).
pub fn run_case(path: &Path, opts: &RunOptions<'_>, ctx: &JobCtx) -> Result<CaseReport, ComputeError> {
    let started = std::time::Instant::now();
    let file = path.display().to_string();
    if let Some(png) = opts.png {
        check_output_path(path, png)?;
    }
    let assets = ModelAssets::builtin().map_err(|e| ComputeError::input(&file, "(assets)", e.to_string()))?;
    let loaded = load_case(path, opts.plan, &opts.overrides, &assets, ctx)?;
    let result = run_model(&loaded, &assets, ctx, &mut |_| {})?;
    if let Some(why) = result.failure() {
        return Err(ComputeError::Model {
            file,
            source: crate::physics::model::ModelError::NotConverged(why),
        });
    }
    ctx.progress.set_message("safety analysis");
    let safety = safety(&loaded, &result, &assets);
    let mut report = report(
        &loaded,
        &opts.overrides,
        &result,
        &safety,
        &assets,
        started.elapsed().as_secs_f64(),
    )?;
    if let Some(png) = opts.png {
        // Ctrl-C during the model or the slide: nothing is written (the slide takes about a
        // second; the check before writing keeps a cancelled run from leaving a file).
        let cancelled = || ComputeError::Model {
            file: file.clone(),
            source: crate::physics::model::ModelError::Ire(crate::physics::ire::model::IreError::Cancelled),
        };
        if ctx.cancel.is_cancelled() {
            return Err(cancelled());
        }
        ctx.progress.set_message("rendering the board slide");
        let export_err = |source| ComputeError::Export {
            file: file.clone(),
            source,
        };
        let slide = case_slide(&loaded, &result, &safety, &assets).map_err(export_err)?;
        if ctx.cancel.is_cancelled() {
            return Err(cancelled());
        }
        slide.save_png(png).map_err(export_err)?;
    }
    report.set_total_s(started.elapsed().as_secs_f64());
    Ok(report)
}

/// The PNG signature: an existing file without it is not a slide we wrote, so it is not replaced.
const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Refuses an output path that is the input case itself or an existing file that is not a PNG
/// (`compute x.json --png x.json` once replaced the case with a slide): checked before the
/// model runs, so nothing is computed for nothing.
pub fn check_output_path(case: &Path, png: &Path) -> Result<(), ComputeError> {
    let field = "--png";
    let out = png.display().to_string();
    if crate::fsio::same_file(case, png) {
        return Err(ComputeError::input(
            &out,
            field,
            "is the case file itself — choose another name for the slide (e.g. slide.png)",
        ));
    }
    if png.is_dir() {
        return Err(ComputeError::input(
            &out,
            field,
            "is a folder — give a file name (e.g. slide.png)",
        ));
    }
    if png.exists() {
        let mut head = [0u8; 8];
        let is_png = std::fs::File::open(png)
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut head))
            .is_ok()
            && head == PNG_SIGNATURE;
        if !is_png {
            return Err(ComputeError::input(
                &out,
                field,
                "exists and is not a PNG image — it is never overwritten; choose another name",
            ));
        }
    }
    Ok(())
}

/// [`run_case`] for a caller that expects one modality's report: `pick` takes it out of the
/// [`CaseReport`], `refusal` says what to do with a case of the other one.
fn run_expecting<R>(
    path: &Path,
    overrides: &ComputeOverrides,
    png: Option<&Path>,
    ctx: &JobCtx,
    pick: impl FnOnce(CaseReport) -> Option<R>,
    refusal: &str,
) -> Result<R, ComputeError> {
    let opts = RunOptions {
        plan: None,
        overrides: overrides.clone(),
        png,
    };
    pick(run_case(path, &opts, ctx)?)
        .ok_or_else(|| ComputeError::input(&path.display().to_string(), "modality", refusal))
}

/// [`run_case`] on an IRE case (the IRE report; a cryo case is refused).
pub fn compute_case_png(
    path: &Path,
    overrides: &ComputeOverrides,
    png: Option<&Path>,
    ctx: &JobCtx,
) -> Result<ComputeReport, ComputeError> {
    let pick = |r| match r {
        CaseReport::Ire(r) => Some(*r),
        CaseReport::Cryo(_) => None,
    };
    run_expecting(
        path,
        overrides,
        png,
        ctx,
        pick,
        "a cryo case — read its cryo report",
    )
}

/// [`compute_case_png`] without a slide.
pub fn compute_case(
    path: &Path,
    overrides: &ComputeOverrides,
    ctx: &JobCtx,
) -> Result<ComputeReport, ComputeError> {
    compute_case_png(path, overrides, None, ctx)
}

/// [`run_case`] on a cryo case (the cryo report; an IRE case is refused).
pub fn compute_cryo_case_png(
    path: &Path,
    overrides: &ComputeOverrides,
    png: Option<&Path>,
    ctx: &JobCtx,
) -> Result<CryoComputeReport, ComputeError> {
    let pick = |r| match r {
        CaseReport::Cryo(r) => Some(*r),
        CaseReport::Ire(_) => None,
    };
    let refusal = "not a cryo case — run it with `ablaplan compute` (IRE)";
    run_expecting(path, overrides, png, ctx, pick, refusal)
}

/// [`compute_cryo_case_png`] without a slide.
pub fn compute_cryo_case(
    path: &Path,
    overrides: &ComputeOverrides,
    ctx: &JobCtx,
) -> Result<CryoComputeReport, ComputeError> {
    compute_cryo_case_png(path, overrides, None, ctx)
}

/// Whether `path` is an experiment case the cryo model runs.
pub fn is_cryo_case(path: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    CaseFile::from_json(&text, &path.display().to_string()).is_ok_and(|c| c.modality() == Modality::Cryo)
}
