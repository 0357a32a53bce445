//! Cryoablation thermal model (see `../shared/REFERENCE.md` §3).
//!
//! - `tissue`: cryo tissue parameters (`assets/tissues_cryo.json`), the enthalpy form of a class,
//!   the tissue class of every node (shared with the IRE model's classification).
//! - `solver`: Pennes bioheat with phase change, explicit enthalpy scheme with point-implicit
//!   probe surfaces, snapshots.
//! - `model`: the plan model (`compute_cryo`, `CryoResult`: snapshots, isotherms, lethal zone,
//!   iceball extents, sensor curves), the contract used by the GUI and CLI.
//! - `preview`: the instant preview (catalog / single-probe ellipsoids combined per probe).
//! - `calibrate`: the one-parameter fit of a probe's freeze surface temperature to its catalog
//!   isotherm.

pub mod calibrate;
pub mod model;
pub mod preview;
pub mod solver;
pub mod tissue;
