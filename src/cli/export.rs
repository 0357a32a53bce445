//! `ablaplan export CASE --dicom OUTDIR [--anonymise] [--plan NAME]`: runs the case's plan
//! through the pipeline (model, safety, board slide) and writes it as DICOM — SEG and RTSTRUCT
//! of the structures and zones, Secondary Captures of the board slide and of an axial view
//! through the first probe's tip — into OUTDIR (`export::dicom`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::term::{eprint_line, print_stdout};
use crate::export::dicom::{CaptureImage, DicomExportError, DicomExportRequest, build_export, write_export};
use crate::export::view::{Overlay, ProbeOverlay, StructureOverlay, ViewExport, ViewPlane, ZoneOverlay};
use crate::jobs::JobCtx;
use crate::physics::model::{ModelAssets, ModelResult, ModelSettings};
use crate::pipeline::{self, ComputeError, ComputeOverrides, LoadedCase, Scene};
use crate::volume::{ViewKind, Volume};

#[derive(Debug, thiserror::Error)]
pub enum ExportCommandError {
    #[error(transparent)]
    Case(#[from] ComputeError),
    #[error(transparent)]
    Dicom(#[from] DicomExportError),
    #[error("{0}")]
    Render(String),
}

impl ExportCommandError {
    /// 2 for bad input, 1 for a failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            ExportCommandError::Case(e) => e.exit_code(),
            ExportCommandError::Dicom(DicomExportError::Input(_)) => 2,
            _ => 1,
        }
    }
}

/// The axial view through the first probe's tip (the CT's middle slice without probes), with
/// the structures, the zone and the probes burned in.
fn axial_view(
    lc: &LoadedCase,
    volume: &Volume,
    result: &ModelResult,
    anonymise: bool,
) -> Result<CaptureImage, ExportCommandError> {
    let nz = volume.geometry.dims[2];
    let slice = lc
        .probes
        .first()
        .map(|p| volume.geometry.to_voxel(&p.tip_lps).z.round())
        .filter(|k| k.is_finite() && *k >= 0.0 && *k < nz as f64)
        .map_or(nz / 2, |k| k as usize);
    let mut e = ViewExport::new(
        volume,
        ViewPlane::Mpr {
            view: ViewKind::Axial,
            slice,
        },
    );
    e.anonymise = anonymise;
    e.overlays = lc
        .structures
        .iter()
        .filter(|s| s.visible)
        .map(|s| {
            Overlay::Structure(StructureOverlay {
                name: s.name.clone(),
                mask: s.mask(),
                colour: s.colour,
                fill_opacity: s.opacity,
            })
        })
        .collect();
    match (result, &lc.settings) {
        (ModelResult::Ire(r), ModelSettings::Ire { model, .. }) => {
            e.overlays
                .push(Overlay::Zone(ZoneOverlay::ire(r, &model.isolines_v_per_cm)));
        }
        (ModelResult::Cryo(r), ModelSettings::Cryo(c)) => {
            e.overlays
                .push(Overlay::Zone(ZoneOverlay::cryo(r, c.lethal_isotherm_c)));
        }
        _ => {}
    }
    if !lc.probes.is_empty() {
        e.overlays
            .push(Overlay::Probes(ProbeOverlay::numbered(&lc.probes)));
    }
    let img = crate::export::render_view(&e).map_err(|e| ExportCommandError::Render(e.to_string()))?;
    Ok(CaptureImage {
        title: format!("Axial view, slice {}", slice + 1),
        image: img.image,
        identifying_text: !anonymise,
    })
}

/// Loads the case, runs its plan and writes the DICOM objects into `out`; the written paths.
pub fn export_case_dicom(
    case: &Path,
    plan: Option<&str>,
    out: &Path,
    anonymise: bool,
    ctx: &JobCtx,
) -> Result<Vec<PathBuf>, ExportCommandError> {
    let assets = ModelAssets::builtin().map_err(|e| ExportCommandError::Render(e.to_string()))?;
    let lc = pipeline::load_case(case, plan, &ComputeOverrides::default(), &assets, ctx)?;
    let Scene::Ct(volume) = &lc.scene else {
        return Err(DicomExportError::Input(format!(
            "{} is a phantom case: DICOM objects belong to a CT, and a phantom has none",
            lc.file
        ))
        .into());
    };
    let result = pipeline::run_model(&lc, &assets, ctx, &mut |_| {})?;
    let safety = pipeline::safety(&lc, &result, &assets);
    ctx.progress.set_message("rendering the board slide");
    let slide = pipeline::case_slide(&lc, &result, &safety, &assets)
        .map_err(|e| ExportCommandError::Render(e.to_string()))?;
    let captures = vec![
        CaptureImage {
            title: format!("Tumour-board slide: {}", lc.name),
            image: slide.image,
            // The slide is always anonymised.
            identifying_text: false,
        },
        axial_view(&lc, volume, &result, anonymise)?,
    ];
    ctx.progress.set_message("writing DICOM");
    let objects = build_export(&DicomExportRequest {
        volume,
        structures: &lc.structures,
        result: Some(&result),
        lethal_c: pipeline::lethal_c(&lc.settings),
        captures,
        anonymise,
    })?;
    Ok(write_export(out, &objects)?)
}

/// The command: exit 0 written, 2 bad input, 1 failure.
pub fn export_command(case: &Path, plan: Option<&str>, out: &Path, anonymise: bool) -> ExitCode {
    let ctx = JobCtx::default();
    match export_case_dicom(case, plan, out, anonymise, &ctx) {
        Ok(paths) => {
            let mut text = format!("wrote {} DICOM object(s) to {}:\n", paths.len(), out.display());
            for p in &paths {
                text.push_str(&format!(
                    "  {}\n",
                    p.file_name().map(|f| f.to_string_lossy()).unwrap_or_default()
                ));
            }
            super::compute::exit_after_printing(print_stdout(&text))
        }
        Err(e) => {
            eprint_line(&format!("ablaplan export: {e}"));
            ExitCode::from(e.exit_code())
        }
    }
}
