//! Structure editing from the app: the brush, the click tools (region grow, nerve path,
//! ellipsoid, fill between slices) and structure-set imports.

#[allow(unused_imports)]
use super::*;

impl AblaApp {
    pub(super) fn paint(
        &mut self,
        view: ViewKind,
        slice: usize,
        lps: crate::geometry::PatientPos,
        erase: bool,
    ) {
        use crate::anatomy::edit;
        let Some(vol) = self.loaded.as_ref().map(|l| l.volume.clone()) else {
            return;
        };
        let Some(index) = self
            .structures
            .selected
            .filter(|i| *i < self.structures.items.len())
        else {
            self.notify(
                NoticeLevel::Warning,
                "Select a structure (or create one with + Nerve, + Target …) before painting",
            );
            return;
        };
        let g = &vol.geometry;
        let footprint = if self.brush.sphere {
            edit::sphere_footprint(g, &lps, self.brush.radius_mm)
        } else {
            edit::disc_footprint(g, &vol.view_mapping(view), slice, &lps, self.brush.radius_mm)
        };
        let mode = if erase {
            edit::PaintMode::Erase
        } else {
            edit::PaintMode::Paint
        };
        self.structures.stroke_mask(index, |m| {
            let e = edit::paint(m, &footprint, mode);
            e.apply(m);
        });
    }

    pub(super) fn series_ids(&self) -> Option<crate::dicom::structset::SeriesIds> {
        let l = self.loaded.as_ref()?;
        Some(crate::dicom::structset::SeriesIds {
            frame_of_reference_uid: l.volume.meta.frame_of_reference_uid.clone(),
            series_instance_uid: l.volume.meta.series_instance_uid.clone(),
            sop_instance_uids: l.report.sop_instance_uids.clone(),
        })
    }

    pub(super) fn start_import(&mut self, paths: Vec<PathBuf>, allow_missing: bool) {
        let (Some(vol), Some(ids)) = (self.volume().cloned(), self.series_ids()) else {
            self.notify(NoticeLevel::Warning, "Open a CT before importing structures");
            return;
        };
        if self.import_job.is_some() {
            self.notify(NoticeLevel::Info, "An import is already running");
            return;
        }
        self.prompt = None;
        match Job::spawn("import", self.generation, self.progress(), move |ctx| {
            import::import_paths(&paths, &vol.geometry, &ids, allow_missing, ctx)
        }) {
            Ok(j) => self.import_job = Some(j),
            Err(e) => self.notify(NoticeLevel::Error, format!("Cannot start the import: {e}")),
        }
    }

    pub(super) fn poll_import(&mut self) {
        let Some(job) = &mut self.import_job else { return };
        let Some(result) = job.poll() else { return };
        let for_generation = job.revision();
        self.import_job = None;
        let out = match result {
            Ok(o) => o,
            Err(e) => {
                self.notify(NoticeLevel::Error, e.to_string());
                return;
            }
        };
        if for_generation != self.generation {
            // The CT changed while importing: the masks belong to the old grid.
            self.notify(
                NoticeLevel::Warning,
                "Import discarded: another CT was opened meanwhile",
            );
            return;
        }
        let (fresh, already) =
            crate::anatomy::duplicates::split_already_imported(&self.structures.items, out.structures);
        for a in &already {
            self.notify(
                NoticeLevel::Info,
                format!(
                    "{} already imported: {} structure(s), not added again",
                    a.source, a.structures
                ),
            );
        }
        let n = fresh.len();
        let names_before: Vec<String> = self.structures.items.iter().map(|s| s.name.clone()).collect();
        for s in fresh {
            self.structures.add(s);
        }
        let clashes = crate::anatomy::duplicates::duplicate_names(&self.structures.items)
            .iter()
            .zip(&self.structures.items)
            .skip(names_before.len())
            .filter(|(d, _)| !d.is_empty())
            .count();
        if clashes > 0 {
            self.notify(
                NoticeLevel::Warning,
                format!(
                    "{clashes} imported structure(s) have the name of one from another source: \
                     marked \"duplicate name\" in Structures, keep one of each"
                ),
            );
        }
        self.import_log.extend(out.warnings.iter().cloned());
        for (f, e) in &out.errors {
            self.import_log.push(format!("{}: {e}", f.display()));
            self.notify(NoticeLevel::Error, e.clone());
        }
        if n > 0 {
            let w = if out.warnings.is_empty() {
                String::new()
            } else {
                format!(" ({} warning(s), see View > Series report)", out.warnings.len())
            };
            self.notify(NoticeLevel::Info, format!("Imported {n} structure(s){w}"));
        }
        if !out.need_confirmation.is_empty() {
            self.prompt = Some(import::Prompt::ConfirmMissingFrameOfReference(
                out.need_confirmation,
            ));
        }
    }

    /// After a CT loads from a scan, offer the structure sets that belong to it.
    pub(super) fn offer_structure_sets(&mut self) {
        let (Some(scan), Some(ids)) = (self.last_scan.as_ref(), self.series_ids()) else {
            return;
        };
        let mut found = crate::dicom::structset::find_structure_sets(&scan.others, &ids);
        // Objects whose structures the case already holds (a reopened case) are not offered.
        found.retain(|c| {
            !crate::anatomy::duplicates::object_already_imported(
                &self.structures.items,
                &c.sop_instance_uid,
                &c.path,
            )
        });
        if !found.is_empty() {
            self.prompt = Some(import::Prompt::OfferImport(found));
        }
    }

    pub fn prompt(&self) -> Option<&import::Prompt> {
        self.prompt.as_ref()
    }

    pub fn import_log(&self) -> &[String] {
        &self.import_log
    }

    pub(super) fn tool_click(&mut self, lps: crate::geometry::PatientPos) {
        match self.tool {
            Tool::NervePath => self.click_tools.nerve_points.push(lps),
            Tool::TargetEllipsoid => {
                self.click_tools.ellipsoid_clicks.push(lps);
                if self.click_tools.ellipsoid_clicks.len() == 3 {
                    self.finish_ellipsoid();
                }
            }
            Tool::RegionGrow => self.start_grow(lps),
            _ => {}
        }
    }

    pub(super) fn start_grow(&mut self, lps: crate::geometry::PatientPos) {
        let Some(vol) = self.volume().cloned() else { return };
        let Some(seed) = vol.geometry.nearest_voxel(&vol.geometry.to_voxel(&lps)) else {
            self.notify(
                NoticeLevel::Warning,
                "The seed is outside the volume; click inside the image",
            );
            return;
        };
        let params = self.click_tools.grow.params();
        self.click_tools.grow.seed_lps = Some([lps.x, lps.y, lps.z]);
        if let Some(j) = self.click_tools.grow.job.take() {
            j.cancel();
        }
        match Job::spawn("region-grow", 0, self.progress(), move |_| {
            crate::anatomy::edit::region_grow(&vol, seed, &params)
        }) {
            Ok(j) => self.click_tools.grow.job = Some(j),
            Err(e) => self.notify(NoticeLevel::Error, format!("Cannot start region growing: {e}")),
        }
    }

    pub(super) fn poll_grow(&mut self) {
        let g = &mut self.click_tools.grow;
        let Some(job) = &mut g.job else { return };
        let Some(r) = job.poll() else { return };
        g.job = None;
        match r {
            Ok(Ok(result)) => {
                g.preview = Some(result);
                g.preview_revision += 1;
            }
            Ok(Err(e)) => self.notify(NoticeLevel::Warning, e.to_string()),
            Err(e) => self.notify(NoticeLevel::Error, e.to_string()),
        }
    }

    pub(super) fn accept_grow(&mut self, add_to_selected: bool) {
        let Some(result) = self.click_tools.grow.preview.take() else {
            return;
        };
        self.click_tools.grow.preview_revision += 1;
        let target = self
            .structures
            .selected
            .filter(|i| add_to_selected && *i < self.structures.items.len());
        if let Some(i) = target {
            let mut m = self.structures.items[i].mask().clone();
            let e = crate::anatomy::edit::paint(&m, &result.mask, crate::anatomy::edit::PaintMode::Paint);
            e.apply(&mut m);
            self.structures.set_mask(i, m);
            return;
        }
        let kind = self.click_tools.grow.kind();
        let w = self.click_tools.grow.window;
        let n = self.structures.items.iter().filter(|s| s.kind == kind).count() + 1;
        let seed_lps = self.click_tools.grow.seed_lps.unwrap_or([f64::NAN; 3]);
        let s = Structure::new(
            format!("{} {n} (grown)", kind.label()),
            kind,
            crate::anatomy::Provenance::RegionGrown {
                seed_lps,
                min_hu: w.min_hu,
                max_hu: w.max_hu,
            },
            result.mask,
        );
        self.structures.add(s);
    }

    pub(super) fn finish_nerve(&mut self) {
        let Some(vol) = self.volume().cloned() else { return };
        let pts = std::mem::take(&mut self.click_tools.nerve_points);
        if pts.len() < 2 {
            self.notify(NoticeLevel::Warning, "A nerve path needs at least two points");
            self.click_tools.nerve_points = pts;
            return;
        }
        let (mask, _) =
            crate::anatomy::edit::nerve_path_mask(&vol.geometry, &pts, self.click_tools.nerve_radius_mm);
        let n = self
            .structures
            .items
            .iter()
            .filter(|s| s.kind == crate::anatomy::StructureKind::Nerve)
            .count()
            + 1;
        let s = Structure::new(
            format!("Nerve {n}"),
            crate::anatomy::StructureKind::Nerve,
            crate::anatomy::Provenance::NervePath,
            mask,
        );
        self.structures.add(s);
    }

    pub(super) fn finish_ellipsoid(&mut self) {
        let Some(vol) = self.volume().cloned() else { return };
        let c = std::mem::take(&mut self.click_tools.ellipsoid_clicks);
        match crate::anatomy::edit::ellipsoid_from_three_clicks(&c[0], &c[1], &c[2], None) {
            Ok(spec) => {
                let mask = crate::anatomy::edit::ellipsoid_mask(
                    &vol.geometry,
                    &spec.center_lps,
                    &spec.axes,
                    spec.radii_mm,
                );
                let n = self
                    .structures
                    .items
                    .iter()
                    .filter(|s| s.kind == crate::anatomy::StructureKind::Target)
                    .count()
                    + 1;
                let s = Structure::new(
                    format!("Target {n}"),
                    crate::anatomy::StructureKind::Target,
                    crate::anatomy::Provenance::Drawn,
                    mask,
                );
                self.structures.add(s);
            }
            Err(e) => self.notify(NoticeLevel::Warning, e.to_string()),
        }
    }

    pub(super) fn fill_between(&mut self, i: usize) {
        let Some(vol) = self.volume().cloned() else { return };
        let Some(s) = self.structures.items.get(i) else {
            return;
        };
        let mut m = s.mask().clone();
        let e = crate::anatomy::edit::interpolate_between_slices(&m, vol.geometry.spacing_mm, 2);
        if e.is_empty() {
            self.notify(
                NoticeLevel::Info,
                "Nothing to fill: paint at least two slices with empty slices between them",
            );
            return;
        }
        e.apply(&mut m);
        self.structures.set_mask(i, m);
    }

    pub fn brush(&self) -> Brush {
        self.brush
    }

    pub(super) fn jump_to_structure(&mut self, i: usize) {
        let Some(s) = self.structures.items.get(i) else {
            return;
        };
        let Some(c) = structures::mask_centroid(s.mask()) else {
            let name = s.name.clone();
            self.notify(NoticeLevel::Info, format!("{name} is empty"));
            return;
        };
        if let Some(vw) = &mut self.viewer {
            vw.crosshair = nalgebra::Vector3::new(c[0], c[1], c[2].round());
        }
        self.structures.selected = Some(i);
    }
}
