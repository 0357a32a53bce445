//! Headless commands (also the test and benchmark surface): `inspect` ([`inspect`]) and
//! `compute` ([`compute`], the [`crate::pipeline`] on a case file).

pub mod calibrate;
pub mod compute;
pub mod export;
pub mod inspect;
pub mod pacs;
pub mod plan;
pub mod term;

pub use inspect::*;
// The pipeline's entry points under their old paths (tests and scripts use them).
pub use crate::pipeline::{
    ComputeError, ComputeOverrides, ComputeReport, CryoComputeReport, apply_overrides, compute_case,
    compute_case_png, compute_cryo_case, compute_cryo_case_png, format_compute, format_cryo_compute,
    is_cryo_case, zone_axes,
};
