//! IRE electric-field model (see `../shared/REFERENCE.md` §2).
//!
//! - `field`: electrode masks with sub-voxel cut links, the pair operator, |E|, closed forms.
//! - `tissue`: the compute grid of a plan and the tissue class of every node.
//! - `band`: the zone's uncertainty band (inner / nominal / outer) from the calibrated ranges.
//! - `calibrate`: the reproducible calibration of the lethal threshold and σ ratio on V3.
//! - `explain`: why a target is not covered (field inside vs around, conductivity contrast).
//! - `heating`: the Joule source of a pulse (exact discrete U·I balance), σ(E, T), adiabatic rise.
//! - `thermal`: the electro-thermal model over the pulse train (σ(E, T), Joule source, the shared
//!   heat solver), per-pair currents and peak temperatures, CEM43 and the thermal damage zone.
//! - `current`: the exact discrete current out of an electrode.
//! - `zone`: thresholds, the lethal zone, extents and resampling for displays.
//! - `preview`: the analytic instant preview.
//! - `model`: the plan model (`compute_ire`, `preview_ire`), the contract used by the GUI and CLI.

pub mod band;
pub mod calibrate;
pub mod current;
pub mod explain;
pub mod field;
pub mod heating;
pub mod model;
pub mod preview;
pub mod thermal;
pub mod tissue;
pub mod zone;
