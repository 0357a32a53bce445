//! Probe placement from the app: adding a probe with the tool's model (one plan, one modality),
//! the array template and its centre, and live edits (drags) of the plan.

#[allow(unused_imports)]
use super::*;

impl AblaApp {
    /// The catalog's first IRE electrode and its default exposure.
    pub(super) fn default_ire_model(&self) -> Result<(String, f64), String> {
        let cat = self
            .catalog
            .as_ref()
            .map_err(|e| format!("The probe catalog could not be read: {e}"))?;
        cat.of_modality(Modality::Ire)
            .find_map(|m| Some((m.id.clone(), m.default_active_mm()?)))
            .ok_or_else(|| "The probe catalog has no IRE electrode with a default exposure".to_string())
    }

    pub(super) fn checked_array_options(&self, o: plan::ArrayOptions) -> plan::ArrayOptions {
        let (lo, hi) = crate::plan::probe::ARRAY_SPACING_MM;
        let (n_lo, n_hi) = crate::plan::probe::ARRAY_COUNT;
        plan::ArrayOptions {
            n: o.n.clamp(n_lo, n_hi),
            spacing_mm: if o.spacing_mm.is_finite() {
                o.spacing_mm.clamp(lo, hi)
            } else {
                self.array.spacing_mm
            },
            length_mm: if o.length_mm.is_finite() && o.length_mm > 0.0 {
                o.length_mm
            } else {
                self.array.length_mm
            },
            exposure_mm: o.exposure_mm.filter(|e| e.is_finite() && *e > 0.0),
            oblique_deg: if o.oblique_deg.iter().all(|a| a.is_finite()) {
                [
                    o.oblique_deg[0].rem_euclid(360.0),
                    o.oblique_deg[1].clamp(-90.0, 90.0),
                ]
            } else {
                self.array.oblique_deg
            },
            in_view_deg: if o.in_view_deg.is_finite() {
                o.in_view_deg.clamp(-180.0, 180.0)
            } else {
                self.array.in_view_deg
            },
            ..o
        }
    }

    pub(super) fn add_probe(
        &mut self,
        tip_lps: crate::geometry::PatientPos,
        entry_lps: crate::geometry::PatientPos,
    ) {
        let (model_id, exposure_mm) = match self.placement_model() {
            Ok(m) => m,
            Err(e) => {
                self.notify(NoticeLevel::Error, e);
                return;
            }
        };
        if let Some(why) = self.modality_clash(&model_id) {
            self.notify(NoticeLevel::Warning, why);
            return;
        }
        if let Some(modality) = self.catalog().and_then(|c| c.get(&model_id)).map(|m| m.modality) {
            let max = crate::plan::limits::max_probes(modality);
            if self.plan.probes.len() >= max {
                self.notify(
                    NoticeLevel::Warning,
                    format!(
                        "This plan already has {max} probes, the most a plan may hold: {} {}. \
                         Remove one, or start a new plan (Plans > New plan).",
                        max,
                        crate::plan::limits::probes_what(modality)
                    ),
                );
                return;
            }
        }
        let p = crate::plan::probe::Probe {
            model_id,
            tip_lps,
            entry_lps,
            exposure_mm,
            label: plan::next_label(&self.plan.probes),
        };
        self.plan.add_probe(p);
    }

    /// Why a probe of `model_id` cannot join the plan: one plan is one modality (the IRE model
    /// would pulse a cryoprobe as an electrode, the cryo model ignores electrodes), as in the case
    /// files. `None` when it can.
    pub(super) fn modality_clash(&self, model_id: &str) -> Option<String> {
        let cat = self.catalog()?;
        let new = cat.get(model_id)?;
        let other = self
            .plan
            .probes
            .iter()
            .find(|p| cat.get(&p.model_id).is_some_and(|m| m.modality != new.modality))?;
        Some(format!(
            "{} is {} but probe {} of this plan is {}: one plan holds one modality. Start a new plan \
             (Plans > New plan) for it, or choose a {} probe model.",
            new.name,
            modality_phrase(new.modality),
            other.label,
            cat.get(&other.model_id)
                .map_or("another modality", |m| modality_phrase(m.modality)),
            cat.get(&other.model_id)
                .map_or("matching", |m| modality_name(m.modality)),
        ))
    }

    /// Where the array template is centred now (crosshair or the Target's centroid).
    pub(super) fn array_centre(&self) -> Result<crate::geometry::PatientPos, String> {
        let (Some(vol), Some(viewer)) = (self.volume(), self.viewer.as_ref()) else {
            return Err("Open a CT first".into());
        };
        let g = &vol.geometry;
        match self.array.centre {
            plan::ArrayCentre::Crosshair => Ok(g.to_patient(&viewer.crosshair)),
            plan::ArrayCentre::Target => self
                .structures
                .items
                .iter()
                .filter(|s| s.kind == crate::anatomy::StructureKind::Target)
                .find_map(|s| structures::mask_centroid(s.mask()))
                .map(|c| g.to_patient(&nalgebra::Vector3::new(c[0], c[1], c[2])))
                .ok_or_else(|| {
                    "No Target structure to centre the array on: draw one or centre on the crosshair".into()
                }),
        }
    }

    pub(super) fn place_array(&mut self) {
        let (Some(vol), Some(viewer)) = (self.volume().cloned(), self.viewer.as_ref()) else {
            return;
        };
        let o = self.array;
        let axis = plan::array_axis_dir(&o, viewer.active, &vol.geometry);
        let row = plan::array_row_dir(&o, &axis, viewer.active, &vol.geometry);
        let made = self.array_centre().and_then(|centre| {
            let (model_id, default_exposure) = self.placement_model()?;
            let t = crate::plan::probe::ArrayTemplate::centred(
                &model_id,
                o.n,
                o.spacing_mm,
                centre,
                axis,
                row,
                o.exposure_mm.unwrap_or(default_exposure),
                o.length_mm,
            );
            crate::plan::probe::parallel_array(&t).map_err(|e| e.to_string())
        });
        match made {
            Ok(probes) => {
                self.plan.replace_probes(probes);
            }
            Err(e) => self.notify(NoticeLevel::Warning, e),
        }
    }

    /// A drag begins (unless one is going on): the preview gets another chance even if the last
    /// one was too slow.
    pub(super) fn start_live_edit(&mut self) {
        if !self.plan.dragging() {
            self.run.begin_drag();
            self.plan.begin_drag();
        }
    }
}
