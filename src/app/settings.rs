//! User settings persisted between runs in `settings.json` of the app's storage folder, written
//! atomically ([`crate::fsio::write_atomic`]). By design they hold no patient data:
//! recent entries are paths only, never names, IDs or descriptions read from files.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A window/level preset in HU.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WlPreset {
    pub name: String,
    pub width_hu: f64,
    pub center_hu: f64,
}

#[derive(Deserialize)]
struct PresetFile {
    presets: Vec<WlPreset>,
}

/// The shipped presets (`assets/wl_presets.json`, sources in that file).
pub fn default_presets() -> Vec<WlPreset> {
    // The asset is compiled in and covered by a test, so a parse failure is a build defect;
    // still, fall back to an empty list rather than crash the viewer.
    serde_json::from_str::<PresetFile>(include_str!("../../assets/wl_presets.json"))
        .map(|f| f.presets)
        .unwrap_or_default()
}

/// Which mouse buttons do what in the slice views.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum MouseMap {
    /// OHIF / Orthanc Stone default: left-drag W/L, middle-drag pan, right-drag zoom.
    #[default]
    Ohif,
    /// Classic PACS: left-drag pan, middle-drag zoom, right-drag W/L.
    Pacs,
}

impl MouseMap {
    pub fn label(self) -> &'static str {
        match self {
            MouseMap::Ohif => "OHIF (left W/L, middle pan, right zoom)",
            MouseMap::Pacs => "PACS (left pan, middle zoom, right W/L)",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Layout {
    /// One large view (the active one).
    Single,
    /// The active view large, the other two stacked beside it.
    #[default]
    OnePlusTwo,
    /// Three views side by side.
    OneByThree,
    /// The three views and the 3-D view in a 2 × 2 grid (3-D top right, as in 3D Slicer).
    TwoByTwo3d,
    /// The 3-D view alone.
    Only3d,
}

impl Layout {
    pub const ALL: [Layout; 5] = [
        Layout::Single,
        Layout::OnePlusTwo,
        Layout::OneByThree,
        Layout::TwoByTwo3d,
        Layout::Only3d,
    ];
    pub fn label(self) -> &'static str {
        match self {
            Layout::Single => "1×1",
            Layout::OnePlusTwo => "1+2",
            Layout::OneByThree => "1×3",
            Layout::TwoByTwo3d => "2×2 with 3D",
            Layout::Only3d => "3D only",
        }
    }
}

pub const MAX_RECENT: usize = 10;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    pub recent: Vec<PathBuf>,
    pub mouse_map: MouseMap,
    pub presets: Vec<WlPreset>,
    pub layout: Layout,
    pub anonymise: bool,
    pub show_annotations: bool,
    /// Receive from / send to PACS (receiving off by default).
    pub pacs: super::pacs::PacsSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            recent: Vec::new(),
            mouse_map: MouseMap::default(),
            presets: default_presets(),
            layout: Layout::default(),
            anonymise: false,
            show_annotations: true,
            pacs: Default::default(),
        }
    }
}

impl Settings {
    /// Most recent first, no duplicates, bounded.
    pub fn push_recent(&mut self, path: PathBuf) {
        self.recent.retain(|p| p != &path);
        self.recent.insert(0, path);
        self.recent.truncate(MAX_RECENT);
    }
}

pub const STORAGE_KEY: &str = "ablaplan-settings-v1";

/// The settings file in the storage folder.
pub const SETTINGS_FILE: &str = "settings.json";

/// The settings saved in `dir`; `Ok(None)` when there are none yet, an error naming the file
/// when it cannot be read.
pub fn load_from(dir: &std::path::Path) -> Result<Option<Settings>, String> {
    let path = dir.join(SETTINGS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes the settings to `dir` (created when missing) atomically.
pub fn save_to(dir: &std::path::Path, settings: &Settings) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let text = serde_json::to_string_pretty(settings).map_err(std::io::Error::other)?;
    crate::fsio::write_atomic_bytes(&dir.join(SETTINGS_FILE), text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_presets_parse_and_match_reference() {
        let p = default_presets();
        assert_eq!(p.len(), 6);
        let abdomen = p.iter().find(|p| p.name == "Abdomen").expect("abdomen preset");
        assert_eq!((abdomen.width_hu, abdomen.center_hu), (350.0, 40.0));
        let lung = p.iter().find(|p| p.name == "Lung").expect("lung preset");
        assert_eq!((lung.width_hu, lung.center_hu), (1500.0, -600.0));
    }

    #[test]
    fn recent_is_most_recent_first_without_duplicates() {
        let mut s = Settings::default();
        for i in 0..15 {
            s.push_recent(PathBuf::from(format!("/data/{i}")));
        }
        s.push_recent(PathBuf::from("/data/12"));
        assert_eq!(s.recent.len(), MAX_RECENT);
        assert_eq!(s.recent[0], PathBuf::from("/data/12"));
        assert_eq!(
            s.recent
                .iter()
                .filter(|p| p.as_path() == std::path::Path::new("/data/12"))
                .count(),
            1
        );
    }

    #[test]
    fn settings_serialise_without_patient_fields() {
        let json = serde_json::to_string(&Settings::default()).expect("serialise");
        for forbidden in ["patient", "name\":\"DEMO", "birth"] {
            assert!(!json.to_lowercase().contains(forbidden), "{forbidden} in {json}");
        }
    }

    #[test]
    fn settings_round_trip_through_their_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load_from(dir.path()).unwrap(), None, "none saved yet");
        let s = Settings {
            mouse_map: MouseMap::Pacs,
            ..Settings::default()
        };
        save_to(&dir.path().join("sub"), &s).unwrap();
        assert_eq!(load_from(&dir.path().join("sub")).unwrap(), Some(s));
        std::fs::write(dir.path().join(SETTINGS_FILE), "{ broken").unwrap();
        let e = load_from(dir.path()).unwrap_err();
        assert!(e.contains(SETTINGS_FILE), "{e}");
    }
}
