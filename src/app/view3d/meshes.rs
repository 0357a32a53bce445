//! The 3-D view's meshes, cached by what they are made of — structure (uid, revision), the
//! shown model result (id, snapshot, isotherms), the volume (bone) — and rebuilt in a background
//! `Job` when one of those changes. Until the job returns, the previous meshes stay on screen.

use std::collections::HashMap;
use std::sync::Arc;

use crate::anatomy::Mask;
use crate::geometry::VolumeGeometry;
use crate::jobs::{Job, Progress};
use crate::physics::cryo::model::CryoResult;
use crate::physics::ire::model::IreResult;
use crate::render::mesh::TriMesh;
use crate::render::mesh::build::{MeshOptions, ct_threshold_mesh, mask_mesh};
use crate::render::scene3d::SceneObject;
use crate::render::scene3d::build::{BONE_THRESHOLD_HU, ZoneSource, zone_objects};
use crate::volume::Volume;

/// The smallest block (mm) of the view's meshes: `ABLAPLAN_3D_BLOCK_MM`, default 0 (the CT's
/// own resolution).
fn view_block_mm() -> f64 {
    std::env::var("ABLAPLAN_3D_BLOCK_MM")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .unwrap_or(0.0)
}

/// What the zone surfaces were made from.
#[derive(Clone, Debug, PartialEq)]
pub enum ZoneKey {
    Ire(u64),
    /// Shown result id, snapshot, isotherms (centi-degrees).
    Cryo(u64, usize, Vec<i64>),
}

/// The model result to mesh (owned, for the worker thread).
#[derive(Clone)]
pub enum ZoneData {
    Ire(Arc<IreResult>),
    Cryo(Arc<CryoResult>, usize, Vec<f64>),
}

/// What the scene needs now; the cache compares it with what it has.
pub struct Wanted {
    pub generation: u64,
    pub geometry: VolumeGeometry,
    /// (uid, revision, mask) of the visible structures.
    pub structures: Vec<(u64, u64, Mask)>,
    pub zone: Option<(ZoneKey, ZoneData)>,
    pub bone: Option<Arc<Volume>>,
}

struct Batch {
    generation: u64,
    structures: Vec<(u64, u64, Arc<TriMesh>)>,
    zone: Option<(ZoneKey, Vec<SceneObject>)>,
    bone: Option<Arc<TriMesh>>,
}

#[derive(Default)]
pub struct MeshCache {
    generation: u64,
    structures: HashMap<u64, (u64, Arc<TriMesh>)>,
    zone: Option<(ZoneKey, Vec<SceneObject>)>,
    bone: Option<Arc<TriMesh>>,
    job: Option<Job<Batch>>,
    /// Bumped whenever a mesh arrives (the CPU fallback's picture key).
    pub revision: u64,
}

impl MeshCache {
    pub fn building(&self) -> bool {
        self.job.is_some()
    }

    /// The mesh of structure `uid` (possibly of an older revision while the new one builds).
    pub fn structure(&self, uid: u64) -> Option<&Arc<TriMesh>> {
        self.structures.get(&uid).map(|(_, m)| m)
    }

    /// The zone surfaces, if the shown result's are built (`key` None: no zone shown).
    pub fn zone(&self, key: Option<&ZoneKey>) -> &[SceneObject] {
        match (&self.zone, key) {
            (Some((_, objects)), Some(_)) => objects,
            _ => &[],
        }
    }

    pub fn bone(&self) -> Option<&Arc<TriMesh>> {
        self.bone.as_ref()
    }

    /// Takes a finished job's meshes and starts a job for whatever is still missing.
    pub fn update(&mut self, wanted: Wanted, progress: Progress) {
        if let Some(job) = &mut self.job
            && let Some(result) = job.poll()
        {
            self.job = None;
            match result {
                Ok(batch) if batch.generation == self.generation => {
                    for (uid, rev, mesh) in batch.structures {
                        self.structures.insert(uid, (rev, mesh));
                    }
                    if let Some(z) = batch.zone {
                        self.zone = Some(z);
                    }
                    if batch.bone.is_some() {
                        self.bone = batch.bone;
                    }
                    self.revision += 1;
                }
                Ok(_) => {}
                Err(e) => log::error!("3-D meshes: {e}"),
            }
        }
        if wanted.generation != self.generation {
            // Another volume: nothing of the old one applies.
            if let Some(j) = self.job.take() {
                j.cancel();
            }
            *self = Self {
                generation: wanted.generation,
                revision: self.revision + 1,
                ..Self::default()
            };
        }
        if self.job.is_some() {
            return;
        }
        let structures: Vec<(u64, u64, Mask)> = wanted
            .structures
            .into_iter()
            .filter(|(uid, rev, _)| self.structures.get(uid).is_none_or(|(r, _)| r != rev))
            .collect();
        let zone = wanted
            .zone
            .filter(|(key, _)| self.zone.as_ref().is_none_or(|(k, _)| k != key));
        let bone = wanted.bone.filter(|_| self.bone.is_none());
        if structures.is_empty() && zone.is_none() && bone.is_none() {
            return;
        }
        let generation = self.generation;
        let geometry = wanted.geometry;
        let job = Job::spawn("meshes-3d", generation, progress, move |ctx| {
            let opts = MeshOptions {
                min_block_mm: view_block_mm(),
                ..MeshOptions::default()
            };
            let mut out = Batch {
                generation,
                structures: Vec::new(),
                zone: None,
                bone: None,
            };
            for (uid, rev, mask) in structures {
                if ctx.cancel.is_cancelled() {
                    return out;
                }
                out.structures
                    .push((uid, rev, Arc::new(mask_mesh(&mask, &geometry, &opts))));
            }
            if let Some((key, data)) = zone {
                let source = match &data {
                    ZoneData::Ire(r) => ZoneSource::Ire(r),
                    ZoneData::Cryo(r, s, iso) => ZoneSource::Cryo {
                        result: r,
                        snapshot: *s,
                        isotherms_c: iso,
                    },
                };
                out.zone = Some((key, zone_objects(source, &opts)));
            }
            if let Some(v) = bone {
                out.bone = Some(Arc::new(ct_threshold_mesh(&v, BONE_THRESHOLD_HU, &opts)));
            }
            out
        });
        match job {
            Ok(j) => self.job = Some(j),
            Err(e) => log::error!("cannot start the 3-D mesh worker: {e}"),
        }
    }
}
