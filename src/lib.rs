//! ablaplan — planning and review of percutaneous tumour ablation on CT.
//! See ARCHITECTURE.md for the module map and the dependency rule.

pub mod anatomy;
pub mod app;
pub mod cli;
pub mod demo;
pub mod dicom;
pub mod export;
pub mod fsio;
pub mod geometry;
pub mod jobs;
pub mod net;
pub mod physics;
pub mod pipeline;
pub mod plan;
pub mod render;
pub mod review;
pub mod safety;
pub mod suggest;
pub mod volume;
