//! Thresholds of the needle-path checks and the suggested plans (`assets/trajectory.json`):
//! the body outline, bone and gas on the CT's HU scale, the cranio-caudal range of suggested
//! paths — every number with its source.

use super::{AssetError, Sourced};
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

pub const BUILTIN_TRAJECTORY_JSON: &str = include_str!("../../assets/trajectory.json");
const BUILTIN_NAME: &str = "built-in assets/trajectory.json";
pub const TRAJECTORY_SCHEMA_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrajectoryLimits {
    pub schema_version: u32,
    #[serde(default)]
    pub description: String,
    /// Above it: the body (HU).
    pub body_threshold_hu: Sourced,
    /// At or above it inside the body: bone (HU).
    pub bone_min_hu: Sourced,
    /// At or below it inside the body: gas — bowel or lung (HU).
    pub gas_max_hu: Sourced,
    /// Suggested paths stay within this angle of the axial plane (degrees).
    pub cranio_caudal_max_deg: Sourced,
}

impl TrajectoryLimits {
    pub fn from_json(text: &str, file: &str) -> Result<Self, AssetError> {
        let t: TrajectoryLimits = serde_json::from_str(text).map_err(|e| AssetError::parse(file, &e))?;
        if t.schema_version != TRAJECTORY_SCHEMA_VERSION {
            return Err(AssetError::invalid(
                file,
                format!(
                    "schema_version {} — this ablaplan reads version {TRAJECTORY_SCHEMA_VERSION}",
                    t.schema_version
                ),
            ));
        }
        for (what, q) in [
            ("body_threshold_hu", &t.body_threshold_hu),
            ("bone_min_hu", &t.bone_min_hu),
            ("gas_max_hu", &t.gas_max_hu),
            ("cranio_caudal_max_deg", &t.cranio_caudal_max_deg),
        ] {
            q.check(file, what)?;
        }
        let hu = |q: &Sourced| (-1100.0..=4000.0).contains(&q.value);
        if !(hu(&t.body_threshold_hu) && hu(&t.bone_min_hu) && hu(&t.gas_max_hu)) {
            return Err(AssetError::invalid(
                file,
                "HU thresholds must lie in −1100…4000".into(),
            ));
        }
        if t.gas_max_hu.value >= t.bone_min_hu.value {
            return Err(AssetError::invalid(
                file,
                "gas_max_hu must lie below bone_min_hu".into(),
            ));
        }
        if !(0.0..=89.0).contains(&t.cranio_caudal_max_deg.value) {
            return Err(AssetError::invalid(
                file,
                "cranio_caudal_max_deg: choose 0–89°".into(),
            ));
        }
        Ok(t)
    }

    pub fn body_threshold(&self) -> i16 {
        self.body_threshold_hu.value.round() as i16
    }

    pub fn bone_min(&self) -> i16 {
        self.bone_min_hu.value.round() as i16
    }

    pub fn gas_max(&self) -> i16 {
        self.gas_max_hu.value.round() as i16
    }
}

pub fn builtin_trajectory_limits() -> Result<TrajectoryLimits, AssetError> {
    TrajectoryLimits::from_json(BUILTIN_TRAJECTORY_JSON, BUILTIN_NAME)
}

/// The built-in limits, parsed once; the built-in file is tested to load.
pub fn trajectory_limits() -> &'static TrajectoryLimits {
    static LIMITS: OnceLock<TrajectoryLimits> = OnceLock::new();
    LIMITS.get_or_init(|| match builtin_trajectory_limits() {
        Ok(t) => t,
        Err(e) => {
            // Tested never to happen; the values the file ships with keep the checks working.
            log::error!("{e}");
            let s = |value: f64| Sourced {
                value,
                uncertainty: None,
                source: format!("ablaplan fallback ({BUILTIN_NAME} did not load: {e})"),
                confirmed: true,
                note: None,
            };
            TrajectoryLimits {
                schema_version: TRAJECTORY_SCHEMA_VERSION,
                description: String::new(),
                body_threshold_hu: s(-500.0),
                bone_min_hu: s(250.0),
                gas_max_hu: s(-400.0),
                cranio_caudal_max_deg: s(30.0),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_file_loads_and_bad_edits_are_refused_by_name() {
        let t = builtin_trajectory_limits().expect("built-in trajectory.json");
        assert_eq!(t.body_threshold(), -500);
        assert!(t.gas_max() < t.bone_min());
        let bad = BUILTIN_TRAJECTORY_JSON.replace("\"value\": -400.0", "\"value\": 400.0");
        let err = TrajectoryLimits::from_json(&bad, "edited.json").expect_err("gas above bone");
        assert!(err.to_string().contains("edited.json") && err.to_string().contains("gas_max_hu"));
    }
}
