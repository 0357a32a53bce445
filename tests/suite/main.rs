//! All integration tests in one binary: each test file used to link its own copy of the GUI
//! stack and GDCM (~0.5 GB each with debug info), which filled the CI disk. One binary links
//! once. `dicom_memory` stays separate because it reads the process's peak memory.
// Test helpers outside `#[test]` functions unwrap too: a failed fixture should fail the test.
#![allow(clippy::unwrap_used)]

mod common;

mod anatomy_demo_structures;
mod anatomy_nifti;
mod case_document;
mod cli_cancel;
mod cli_cryo;
mod cli_report_keys;
mod cryo_band;
mod cryo_model;
mod cryo_stream;
mod cryo_validation;
mod demo_volume;
mod dicom_export;
mod dicom_fuzz;
mod dicom_hardening;
mod dicom_jpegls;
mod dicom_real;
mod dicom_synthetic;
mod export_slide;
mod export_view;
mod files_and_limits;
mod ire_band;
mod ire_calibration;
mod ire_cases;
mod ire_heating;
mod ire_tissue;
mod ire_validation;
mod ire_voltage_cap;
mod pacs;
mod physics_ire;
mod physics_linalg;
mod plan_assets;
mod plan_geometry;
mod render_demo;
mod render_reslice;
mod review_km;
mod safety_cli;
mod safety_demo;
mod safety_geometry;
mod scene3d;
mod structures_cli;
mod structures_duplicates;
mod structures_rtstruct;
mod structures_seg;
mod suggest_cryo;
mod suggest_pancreas;
mod suggest_phantoms;
mod ui_case;
mod ui_cryo;
mod ui_export;
mod ui_first_hour;
mod ui_flows;
mod ui_pacs;
mod ui_pipeline;
mod ui_plan;
mod ui_probe_view;
mod ui_quit;
mod ui_readable;
mod ui_review;
mod ui_safety;
mod ui_screens;
mod ui_suggest;
mod ui_trajectory;
