//! `plan CASE --suggest`: a case's scene, structures and rules → suggested plans
//! ([`crate::suggest`]), the text report, and the board slide of the best proposal.

use std::path::Path;

use super::load::{ComputeError, ComputeOverrides, LoadedCase, Scene, load_case};
use super::{case_slide, check_output_path, safety};
use crate::anatomy::body::BodyMask;
use crate::jobs::JobCtx;
use crate::physics::model::{ModelAssets, ModelSettings};
use crate::plan::catalog::Modality;
use crate::plan::trajectory::trajectory_limits;
use crate::suggest::{SuggestError, SuggestLimits, SuggestRequest, Suggestion, suggest};

/// The probe model a suggestion uses: the plan's first probe's, or the catalog's first model of
/// the plan's modality.
pub fn probe_model_for(loaded: &LoadedCase, assets: &ModelAssets) -> Option<String> {
    let modality = loaded.modality();
    loaded.probes.first().map(|p| p.model_id.clone()).or_else(|| {
        assets
            .cryo
            .catalog
            .of_modality(modality)
            .next()
            .map(|m| m.id.clone())
    })
}

/// The default limits of a case's modality with the probe's active length (cryo).
pub fn default_limits(settings: &ModelSettings, probe_model: &str, assets: &ModelAssets) -> SuggestLimits {
    let t = trajectory_limits();
    match settings.modality() {
        Modality::Ire => SuggestLimits::ire(t),
        Modality::Cryo => {
            let active = assets
                .cryo
                .catalog
                .get(probe_model)
                .and_then(|m| m.default_active_mm())
                .unwrap_or(20.0);
            SuggestLimits::cryo(t, active)
        }
    }
}

/// Suggested plans for a loaded case (its probes are ignored: the suggestion replaces them).
pub fn suggest_loaded(
    loaded: &LoadedCase,
    body: Option<&BodyMask>,
    assets: &ModelAssets,
    ctx: &JobCtx,
) -> Result<Suggestion, ComputeError> {
    let probe_model = probe_model_for(loaded, assets).ok_or_else(|| {
        ComputeError::input(&loaded.file, "probes", "no probe model of the plan's modality")
    })?;
    let limits = default_limits(&loaded.settings, &probe_model, assets);
    let req = SuggestRequest {
        tissue: loaded.tissue(),
        volume: loaded.scene.volume(),
        body,
        structures: &loaded.structures,
        structure_geometry: &loaded.structure_geometry,
        rules: &loaded.rules,
        settings: loaded.settings.clone(),
        probe_model,
        assets,
        limits,
        trajectory: trajectory_limits(),
        phantom_depth_mm: phantom_depth_mm(&loaded.scene),
    };
    suggest(&req, ctx).map_err(|e| match e {
        SuggestError::Cancelled => ComputeError::Model {
            file: loaded.file.clone(),
            source: crate::physics::model::ModelError::Ire(crate::physics::ire::model::IreError::Cancelled),
        },
        other => ComputeError::input(&loaded.file, "structures", other.to_string()),
    })
}

/// Without a CT, paths start at the phantom block's face (half its smallest side).
fn phantom_depth_mm(scene: &Scene) -> f64 {
    match scene {
        Scene::Phantom { size_mm, .. } => 0.5 * size_mm.iter().copied().fold(f64::INFINITY, f64::min),
        Scene::Ct(_) => 100.0,
    }
}

/// `plan CASE --suggest [--png OUT]`: load, body outline, suggestion, slide of proposal 1.
pub fn suggest_case(
    path: &Path,
    plan: Option<&str>,
    png: Option<&Path>,
    ctx: &JobCtx,
) -> Result<Suggestion, ComputeError> {
    let file = path.display().to_string();
    if let Some(png) = png {
        check_output_path(path, png)?;
    }
    let assets = ModelAssets::builtin().map_err(|e| ComputeError::input(&file, "(assets)", e.to_string()))?;
    let loaded = load_case(path, plan, &ComputeOverrides::default(), &assets, ctx)?;
    ctx.progress.set_message("body outline");
    let body = loaded
        .scene
        .volume()
        .map(|v| BodyMask::from_volume(v, trajectory_limits().body_threshold()));
    let s = suggest_loaded(&loaded, body.as_ref(), &assets, ctx)?;
    if let (Some(png), Some(best)) = (png, s.proposals.first())
        && let Some(result) = &best.result
    {
        ctx.progress.set_message("rendering the board slide");
        let mut shown = loaded.clone();
        shown.probes = best.probes.clone();
        shown.settings = best.settings.clone();
        let report = safety(&shown, result, &assets);
        let export_err = |source| ComputeError::Export {
            file: file.clone(),
            source,
        };
        let slide = case_slide(&shown, result, &report, &assets).map_err(export_err)?;
        slide.save_png(png).map_err(export_err)?;
    }
    Ok(s)
}

/// The suggestion as text.
pub fn format_suggestion(s: &Suggestion) -> String {
    let mut out = format!(
        "Suggested plans ({:?}) for {}: goal target + {:.0} mm\n",
        s.modality, s.target, s.margin_goal_mm
    );
    out += &format!(
        "searched {} arrays along {} clear approaches, {} full-model runs, {:.1} s\n",
        s.arrays_searched, s.approaches_clear, s.full_runs, s.elapsed_s
    );
    if !s.impossible.is_empty() {
        out += "\nNo plan meets the goal within the rules:\n";
        for m in &s.impossible {
            out += &format!("  - {m}\n");
        }
    }
    for p in &s.proposals {
        out += &format!(
            "\n{}. {} probes — coverage {:.0} % of the target, {:.0} % of target + {:.0} mm; minimal margin {}; {}{}\n",
            p.rank,
            p.n_probes,
            100.0 * p.coverage_target,
            100.0 * p.coverage_target_margin,
            p.margin_goal_mm,
            p.min_margin_mm.map_or("—".into(), |m| format!("{m:.1} mm")),
            p.closest_critical
                .as_ref()
                .map_or("no critical structure near".into(), |(n, d)| format!(
                    "closest critical: {n} at {d:.1} mm"
                )),
            if p.meets_rules {
                ""
            } else {
                " — BREAKS A HARD RULE"
            },
        );
        for w in &p.why {
            out += &format!("     why: {w}\n");
        }
        for path in &p.paths {
            out += &format!(
                "     probe {}: entry ({:.1}, {:.1}, {:.1}) → tip ({:.1}, {:.1}, {:.1}) mm LPS, {:.0} mm deep{}\n",
                path.probe,
                path.entry_lps[0],
                path.entry_lps[1],
                path.entry_lps[2],
                path.tip_lps[0],
                path.tip_lps[1],
                path.tip_lps[2],
                path.depth_mm,
                path.probe_length_mm
                    .map_or(String::new(), |l| format!(", {:.0} cm probe", l / 10.0)),
            );
        }
    }
    out
}
