//! Planning data: the probe catalog, probes and parallel arrays, IRE tissue parameters, live
//! geometry checks and IRE pulse settings. Plain data in, plain data out (no GUI imports).
//!
//! Clinical numbers live in `assets/` (probe catalog, tissue parameters) with their source; the
//! few planning limits kept in code are constants documented with their source
//! (`../shared/REFERENCE.md` §4) and are editable through serde structs with defaults.

pub mod case;
pub mod case_words;
pub mod catalog;
pub mod checks;
pub mod cryo;
pub mod document;
pub mod finding;
pub mod ire;
pub mod limits;
pub mod model_settings;
pub mod outcome;
pub mod probe;
pub mod protocol;
pub mod rules;
pub mod shapes;
pub mod tissue_params;
pub mod trajectory;

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A number with the source it comes from. `confirmed: false` marks values not read in a primary
/// source (show the `note` to the user).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sourced {
    pub value: f64,
    /// ± one standard deviation (or the reported spread) when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uncertainty: Option<f64>,
    pub source: String,
    #[serde(default = "default_true")]
    pub confirmed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Serde default of the `confirmed` flags of every asset file: a value is confirmed unless the
/// file says otherwise.
pub(crate) fn default_true() -> bool {
    true
}

impl Sourced {
    /// Checks the value is finite and the source is given; `what` names the field in errors.
    pub(crate) fn check(&self, file: &str, what: &str) -> Result<(), AssetError> {
        if !self.value.is_finite() {
            return Err(AssetError::invalid(file, format!("{what}: value is not finite")));
        }
        if self.uncertainty.is_some_and(|u| !u.is_finite() || u < 0.0) {
            return Err(AssetError::invalid(
                file,
                format!("{what}: uncertainty must be ≥ 0"),
            ));
        }
        if self.source.trim().is_empty() {
            return Err(AssetError::invalid(file, format!("{what}: empty \"source\"")));
        }
        if !self.confirmed && self.note.as_deref().is_none_or(|n| n.trim().is_empty()) {
            return Err(AssetError::invalid(
                file,
                format!("{what}: unconfirmed value needs a \"note\" for the user"),
            ));
        }
        Ok(())
    }
}

/// Errors loading an editable asset file (probe catalog, tissue parameters).
#[derive(Debug, thiserror::Error)]
pub enum AssetError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: not valid JSON for this file (line {line}, column {column}): {message}")]
    Parse {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message} — fix the file or restore the built-in copy")]
    Invalid { file: String, message: String },
}

impl AssetError {
    pub(crate) fn invalid(file: &str, message: String) -> Self {
        AssetError::Invalid {
            file: file.to_string(),
            message,
        }
    }

    pub(crate) fn parse(file: &str, e: &serde_json::Error) -> Self {
        AssetError::Parse {
            file: file.to_string(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        }
    }
}

/// Reads a whole asset file, mapping I/O errors to [`AssetError::Io`] naming the path.
pub(crate) fn read_asset(path: &std::path::Path) -> Result<String, AssetError> {
    std::fs::read_to_string(path).map_err(|source| AssetError::Io {
        path: path.to_path_buf(),
        source,
    })
}
