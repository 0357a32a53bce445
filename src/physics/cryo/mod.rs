//! Cryoablation thermal model (see `../shared/REFERENCE.md` §3).
//!
//! - `tissue`: cryo tissue parameters (`assets/tissues_cryo.json`), the enthalpy form of a class,
//!   the tissue class of every node (shared with the IRE model's classification).
//! - `solver`: Pennes bioheat with phase change, explicit enthalpy scheme, probes as convective walls
//!   (finite cooling power) or fixed surfaces, snapshots, wall temperatures.
//! - `model`: the plan model (`compute_cryo`, `CryoResult`: snapshots, isotherms, lethal zone,
//!   iceball extents, sensor curves), the contract used by the GUI and CLI.
//! - `preview`: the instant preview (catalog / single-probe ellipsoids combined per probe).
//! - `calibrate`: the calibration of the probes' gas side (h, and the 17G active length) on the
//!   calibration set of REFERENCE.md §7, as code (`ablaplan calibrate cryo`).
//! - `band`: the uncertainty band (inner / nominal / outer lethal zone and 0 °C iceball).

pub mod band;
pub mod calibrate;
pub mod model;
pub mod preview;
pub mod solver;
pub mod tissue;
