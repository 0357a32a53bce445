//! The model settings of one plan: IRE or cryo, by type (what the one model interface,
//! `physics::model`, takes).

use serde::{Deserialize, Serialize};

use super::catalog::Modality;
use super::cryo::CryoSettings;
use super::ire::{IreModelOptions, IreSettings};

/// The model settings of one plan: one modality, by type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "modality", rename_all = "lowercase")]
pub enum ModelSettings {
    /// Pairs and pulses, and the field model's options.
    Ire {
        settings: IreSettings,
        model: IreModelOptions,
    },
    /// Protocol, isotherms and the bioheat model's options.
    Cryo(CryoSettings),
}

impl ModelSettings {
    pub fn modality(&self) -> Modality {
        match self {
            ModelSettings::Ire { .. } => Modality::Ire,
            ModelSettings::Cryo(_) => Modality::Cryo,
        }
    }

    /// The lethal isotherm of a cryo plan (°C); `None` for IRE.
    pub fn lethal_isotherm_c(&self) -> Option<f64> {
        match self {
            ModelSettings::Cryo(c) => Some(c.lethal_isotherm_c),
            ModelSettings::Ire { .. } => None,
        }
    }
}
