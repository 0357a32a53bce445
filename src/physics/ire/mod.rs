//! IRE electric-field model (see `../shared/REFERENCE.md` §2).

pub mod field;
