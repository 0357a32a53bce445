//! One model interface for every modality. A plan's model settings ([`ModelSettings`]: IRE or
//! cryo, by type) go through the same life cycle — settings → [`preview`] → [`compute`] (with
//! progress, cancel and streamed snapshots) → a [`ModelResult`] with zones, measurements and
//! provenance — so the GUI, the CLI, the benches and the tests drive both models through one
//! path, and safety reads zones without knowing the modality.

use std::sync::Arc;

use super::cryo::model::{CryoAssets, CryoError, CryoResult, CryoStream, compute_cryo_streaming};
use super::cryo::preview::{CryoPreview, preview_cryo, warm_preview};
use super::cryo::tissue::CryoTissueSource;
use super::grid::ComputeGrid;
use super::ire::model::{IreError, IreResult, TissueSource, compute_ire, preview_ire};
use super::ire::tissue::TissueRegion;
use crate::anatomy::Structure;
use crate::geometry::PatientPos;
use crate::jobs::JobCtx;
use crate::plan::catalog::Modality;
use crate::plan::checks::first_overlap;
use crate::plan::probe::Probe;
use crate::plan::tissue_params::TissueParams;
use crate::volume::Volume;

pub use crate::plan::model_settings::ModelSettings;

/// Where the tissue comes from, for either model.
#[derive(Clone, Copy)]
pub enum Tissue<'a> {
    /// A CT: classes from HU bins; structure kinds override (Vessel → blood, …).
    Ct {
        volume: &'a Volume,
        structures: &'a [Structure],
    },
    /// A homogeneous block of one tissue class (an id both tissue files share, e.g. "liver",
    /// "agar"), `size_mm` along L, P, S centred on `centre_lps`, at `temperature_c` (cryo); the
    /// case's structures may set the tissue of regions of it (a node in fat, a vessel of blood).
    Phantom {
        class_id: &'a str,
        centre_lps: PatientPos,
        size_mm: [f64; 3],
        temperature_c: f64,
        regions: &'a [TissueRegion],
    },
}

impl<'a> Tissue<'a> {
    pub fn ire(&self) -> TissueSource<'a> {
        match *self {
            Tissue::Ct { volume, structures } => TissueSource::Ct { volume, structures },
            Tissue::Phantom {
                class_id,
                centre_lps,
                size_mm,
                regions,
                ..
            } if !regions.is_empty() => TissueSource::PhantomRegions {
                class_id,
                centre_lps,
                size_mm,
                regions,
            },
            Tissue::Phantom {
                class_id,
                centre_lps,
                size_mm,
                ..
            } => TissueSource::Phantom {
                class_id,
                centre_lps,
                size_mm,
            },
        }
    }

    pub fn cryo(&self) -> CryoTissueSource<'a> {
        match *self {
            Tissue::Ct { volume, structures } => CryoTissueSource::Ct { volume, structures },
            Tissue::Phantom {
                class_id,
                centre_lps,
                size_mm,
                temperature_c,
                ..
            } => CryoTissueSource::Phantom {
                class_id,
                centre_lps,
                size_mm,
                temperature_c,
            },
        }
    }
}

/// The parameter files both models read (parsed once, shared by reference).
#[derive(Clone, Debug)]
pub struct ModelAssets {
    pub ire: Arc<TissueParams>,
    pub cryo: Arc<CryoAssets>,
}

impl ModelAssets {
    /// The built-in assets; the error names the file that could not be read.
    pub fn builtin() -> Result<Self, ModelError> {
        let cryo = CryoAssets::builtin()?;
        Ok(Self {
            ire: Arc::new(cryo.ire_params.clone()),
            cryo: Arc::new(cryo),
        })
    }
}

/// Why a model did not produce a result.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Ire(#[from] IreError),
    #[error(transparent)]
    Cryo(#[from] CryoError),
    /// The solve finished without converging ([`ModelResult::failure`]): its zone is not shown
    /// or reported as if it were a result.
    #[error("{0}")]
    NotConverged(String),
}

impl ModelError {
    pub fn is_cancelled(&self) -> bool {
        matches!(
            self,
            ModelError::Ire(IreError::Cancelled) | ModelError::Cryo(CryoError::Cancelled)
        )
    }
}

/// A full model's result (shared: the views, the safety pass and the exports hold it at once).
#[derive(Clone, Debug)]
pub enum ModelResult {
    Ire(Arc<IreResult>),
    Cryo(Arc<CryoResult>),
}

impl ModelResult {
    /// Why this result must not be used: an IRE pair whose solve did not converge, or a
    /// non-finite current (a broken-down solve). `None` for a sound result.
    pub fn failure(&self) -> Option<String> {
        let ModelResult::Ire(r) = self else {
            return None;
        };
        let bad: Vec<String> = r
            .pairs
            .iter()
            .filter(|p| !p.converged || !p.current_a.is_finite())
            .map(|p| format!("{}–{}", p.a + 1, p.b + 1))
            .collect();
        (!bad.is_empty()).then(|| {
            format!(
                "IRE model: the solver did not converge on pair(s) {} — the zone is not reliable and is \
                 not shown. Use a coarser grid, fewer or better-spaced electrodes, or the default solver \
                 settings.",
                bad.join(", ")
            )
        })
    }

    pub fn modality(&self) -> Modality {
        match self {
            ModelResult::Ire(_) => Modality::Ire,
            ModelResult::Cryo(_) => Modality::Cryo,
        }
    }

    pub fn grid(&self) -> &ComputeGrid {
        match self {
            ModelResult::Ire(r) => &r.grid,
            ModelResult::Cryo(r) => &r.grid,
        }
    }

    /// One line saying which model, grid and criterion made it.
    pub fn description(&self) -> &str {
        match self {
            ModelResult::Ire(r) => &r.description,
            ModelResult::Cryo(r) => &r.description,
        }
    }

    /// The model's own time (s).
    pub fn elapsed_s(&self) -> f64 {
        match self {
            ModelResult::Ire(r) => r.elapsed_s,
            ModelResult::Cryo(r) => r.elapsed_s,
        }
    }

    pub fn ire(&self) -> Option<&Arc<IreResult>> {
        match self {
            ModelResult::Ire(r) => Some(r),
            ModelResult::Cryo(_) => None,
        }
    }

    pub fn cryo(&self) -> Option<&Arc<CryoResult>> {
        match self {
            ModelResult::Cryo(r) => Some(r),
            ModelResult::Ire(_) => None,
        }
    }
}

/// The instant estimate shown while dragging (coarse field / analytic ellipsoids).
#[derive(Clone, Debug)]
pub enum ModelPreview {
    Ire(Arc<IreResult>),
    Cryo(Arc<CryoPreview>),
}

impl ModelPreview {
    pub fn elapsed_s(&self) -> f64 {
        match self {
            ModelPreview::Ire(r) => r.elapsed_s,
            ModelPreview::Cryo(p) => p.elapsed_s,
        }
    }
}

/// The full model (a background job: polls `ctx.cancel`, reports `ctx.progress`). A cryo run
/// hands its frame and every snapshot to `on_stream` as soon as they exist; an IRE run streams
/// nothing. Deterministic.
pub fn compute(
    probes: &[Probe],
    settings: &ModelSettings,
    tissue: Tissue<'_>,
    assets: &ModelAssets,
    ctx: &JobCtx,
    on_stream: &mut dyn FnMut(CryoStream<'_>),
) -> Result<ModelResult, ModelError> {
    refuse_overlapping_probes(probes, settings, assets)?;
    Ok(match settings {
        ModelSettings::Ire { settings, model } => ModelResult::Ire(Arc::new(compute_ire(
            probes,
            settings,
            tissue.ire(),
            &assets.ire,
            model,
            ctx,
        )?)),
        ModelSettings::Cryo(s) => {
            // The next drag's preview needs the single-probe models of these probes: made here,
            // off the UI thread (cached by the core); a failure shows in the run itself.
            let _ = warm_preview(probes, s, tissue.cryo(), &assets.cryo);
            ModelResult::Cryo(Arc::new(compute_cryo_streaming(
                probes,
                s,
                tissue.cryo(),
                &assets.cryo,
                ctx,
                on_stream,
            )?))
        }
    })
}

/// The preview: fast enough for the UI thread while dragging.
/// The models' precondition: no two probes in the same tissue ([`first_overlap`]), named in the
/// model's own error.
fn refuse_overlapping_probes(
    probes: &[Probe],
    settings: &ModelSettings,
    assets: &ModelAssets,
) -> Result<(), ModelError> {
    let radius = |p: &Probe| {
        assets
            .cryo
            .catalog
            .get(&p.model_id)
            .map_or(0.0, |m| m.radius_mm())
    };
    match first_overlap(probes, radius) {
        None => Ok(()),
        Some(o) => Err(match settings {
            ModelSettings::Ire { .. } => IreError::Invalid(o.to_string()).into(),
            ModelSettings::Cryo(_) => CryoError::Invalid(o.to_string()).into(),
        }),
    }
}

pub fn preview(
    probes: &[Probe],
    settings: &ModelSettings,
    tissue: Tissue<'_>,
    assets: &ModelAssets,
) -> Result<ModelPreview, ModelError> {
    Ok(match settings {
        ModelSettings::Ire { settings, model } => ModelPreview::Ire(Arc::new(preview_ire(
            probes,
            settings,
            tissue.ire(),
            &assets.ire,
            model,
        )?)),
        ModelSettings::Cryo(s) => {
            ModelPreview::Cryo(Arc::new(preview_cryo(probes, s, tissue.cryo(), &assets.cryo)?))
        }
    })
}
