//! Physics: compute grids, linear solvers, the IRE electric-field model and the cryo bioheat model.
//! Plain data in, plain data out; no GUI imports.

pub mod band;
pub mod cryo;
pub mod grid;
pub mod ire;
pub mod linalg;
pub mod model;
