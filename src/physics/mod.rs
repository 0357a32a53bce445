//! Physics: compute grids, linear solvers and the IRE electric-field model.
//! Plain data in, plain data out; no GUI imports.

pub mod grid;
pub mod ire;
pub mod linalg;
