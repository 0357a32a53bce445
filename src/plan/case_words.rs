//! What a case is called and how it is described to the user: the default name of a new case
//! (from its series and date, so library rows can be told apart) and the summary of an autosave
//! offered for recovery (which case, which series, when), shown before the user accepts it.

use std::path::Path;

use super::document::{DocumentSource, RecoveryFile};
use super::outcome::CivilDate;

/// The date of a Unix time (UTC), `None` outside years 1000–9999.
pub fn date_of_unix_s(unix_s: u64) -> Option<CivilDate> {
    let days = i64::try_from(unix_s / 86_400).ok()?;
    CivilDate::from_day_number(days).ok()
}

/// `YYYYMMDD` (DICOM DA) as a date; anything else (empty, anonymised, malformed) → `None`.
pub fn dicom_da(da: &str) -> Option<CivilDate> {
    let d = da.trim();
    if d.len() != 8 || !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    CivilDate::parse(&format!("{}-{}-{}", &d[0..4], &d[4..6], &d[6..8])).ok()
}

/// The default name of a case opened on a series: the series description (else "CT series",
/// the demo and phantoms by their own words) and a date — the study date when the series has
/// one, else `today` — e.g. "PANCREAS DI iDose (3), 2019-03-04". Two cases on different series
/// or days get different names instead of "Untitled case" twice.
pub fn default_case_name(
    series_description: &str,
    study_date_da: &str,
    what: &str,
    today: Option<CivilDate>,
) -> String {
    let series = series_description
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let series = if series.is_empty() {
        what.to_string()
    } else {
        series
    };
    match dicom_da(study_date_da).or(today) {
        Some(d) => format!("{series}, {d}"),
        None => series,
    }
}

/// "12 min ago", "3 h ago", "2 days ago" for an age in seconds ("just now" under a minute;
/// "in the future" when the clock went back).
fn age_words(saved_unix_s: u64, now_unix_s: u64) -> String {
    let Some(age) = now_unix_s.checked_sub(saved_unix_s) else {
        return "in the future: check the computer's clock".into();
    };
    match age {
        0..60 => "just now".into(),
        60..7_200 => format!("{} min ago", age / 60),
        7_200..172_800 => format!("{} h ago", age / 3_600),
        _ => format!("{} days ago", age / 86_400),
    }
}

/// "2026-12-07 19:20 UTC (12 min ago)" for the autosave's time.
pub fn autosave_time_words(saved_unix_s: u64, now_unix_s: u64) -> String {
    let hm = saved_unix_s % 86_400;
    let clock = format!("{:02}:{:02} UTC", hm / 3_600, hm % 3_600 / 60);
    let age = age_words(saved_unix_s, now_unix_s);
    match date_of_unix_s(saved_unix_s) {
        Some(d) if saved_unix_s > 0 => format!("{d} {clock} ({age})"),
        _ => "an unknown time".into(),
    }
}

/// The lines the recovery prompt shows before the user accepts the autosave: the case (name,
/// file or "never saved"), its series (demo, phantom, or the DICOM folder with its series UID),
/// when it was autosaved, and what it holds.
pub fn recovery_summary(file: &RecoveryFile, now_unix_s: u64) -> Vec<String> {
    let doc = &file.document;
    let mut lines = vec![format!("Case: \"{}\"", doc.name)];
    lines.push(match &file.case_path {
        Some(p) => format!("Case file: {}", p.display()),
        None => "Case file: none (the case was never saved)".into(),
    });
    lines.push(format!("Series: {}", series_words(&doc.source, &doc.description)));
    lines.push(format!(
        "Autosaved: {}",
        autosave_time_words(file.saved_unix_s, now_unix_s)
    ));
    let probes = doc.active().map_or(0, |p| p.probes.len());
    lines.push(format!(
        "Holds: {} structure{}, {} plan{}, {probes} probe{} in the active plan",
        doc.structures.len(),
        plural(doc.structures.len()),
        doc.plans.len(),
        plural(doc.plans.len()),
        plural(probes),
    ));
    lines
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn series_words(source: &DocumentSource, description: &str) -> String {
    match source {
        DocumentSource::Demo => "the built-in demo CT".into(),
        DocumentSource::Phantom { tissue, size_mm, .. } => format!(
            "a phantom block of {tissue}, {:.0} × {:.0} × {:.0} mm",
            size_mm[0], size_mm[1], size_mm[2]
        ),
        DocumentSource::Dicom { path, series } => {
            let what = if description.trim().is_empty() {
                String::new()
            } else {
                format!("{} ", description.trim())
            };
            let folder = if path.as_os_str().is_empty() {
                "an unknown folder".to_string()
            } else {
                Path::new(path).display().to_string()
            };
            let uid = if series.series_instance_uid.is_empty() {
                "no UID".to_string()
            } else {
                format!("UID {}", series.series_instance_uid)
            };
            format!("{what}in {folder} ({uid})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::document::{CaseDocument, DOCUMENT_SCHEMA_VERSION, NamedPlan, SeriesRef};
    use std::path::PathBuf;

    fn doc(source: DocumentSource, description: &str) -> CaseDocument {
        CaseDocument {
            schema_version: DOCUMENT_SCHEMA_VERSION,
            name: "Liver segment 7".into(),
            description: description.into(),
            source,
            structures: Vec::new(),
            plans: vec![NamedPlan::new("Plan 1"), NamedPlan::new("Plan 2")],
            active_plan: 0,
            notes: String::new(),
            results: Vec::new(),
            review: Default::default(),
            rules: None,
        }
    }

    #[test]
    fn new_cases_are_named_from_their_series_and_date() {
        let today = CivilDate::new(2026, 12, 7).ok();
        assert_eq!(
            default_case_name("PANCREAS  DI iDose (3)", "20190304", "CT series", today),
            "PANCREAS DI iDose (3), 2019-03-04",
            "the study date wins over today"
        );
        assert_eq!(
            default_case_name("", "", "CT series", today),
            "CT series, 2026-12-07",
            "no description, no study date: the generic words and today"
        );
        assert_eq!(
            default_case_name("Arterial", "2019", "CT series", None),
            "Arterial"
        );
        // Two series of one day give two names.
        assert_ne!(
            default_case_name("Arterial", "20190304", "CT series", today),
            default_case_name("Venous", "20190304", "CT series", today)
        );
    }

    #[test]
    fn dates_come_from_unix_time_and_dicom_da() {
        assert_eq!(
            date_of_unix_s(0).map(|d| d.to_string()).as_deref(),
            Some("1970-01-01")
        );
        // 2026-12-07 19:20:00 UTC
        let t = CivilDate::new(2026, 12, 7).unwrap().day_number() as u64 * 86_400 + 19 * 3_600 + 20 * 60;
        assert_eq!(
            autosave_time_words(t, t + 12 * 60),
            "2026-12-07 19:20 UTC (12 min ago)"
        );
        assert_eq!(
            autosave_time_words(t, t + 3 * 86_400),
            "2026-12-07 19:20 UTC (3 days ago)"
        );
        assert_eq!(autosave_time_words(0, t), "an unknown time");
        assert!(dicom_da("2019-03-04").is_none() && dicom_da("20191304").is_none());
    }

    #[test]
    fn recovery_summary_names_the_case_the_series_and_the_time() {
        let saved = CivilDate::new(2026, 12, 7).unwrap().day_number() as u64 * 86_400 + 8 * 3_600;
        let file = RecoveryFile {
            saved_unix_s: saved,
            case_path: None,
            document: doc(
                DocumentSource::Dicom {
                    path: PathBuf::from("/data/ct/pancreas"),
                    series: SeriesRef {
                        study_instance_uid: "1.2".into(),
                        series_instance_uid: "1.2.3.4".into(),
                        frame_of_reference_uid: String::new(),
                        geometry: None,
                    },
                },
                "PANCREAS DI iDose (3)",
            ),
        };
        let text = recovery_summary(&file, saved + 2 * 3_600).join("\n");
        for part in [
            "Liver segment 7",
            "never saved",
            "PANCREAS DI iDose (3) in /data/ct/pancreas (UID 1.2.3.4)",
            "2026-12-07 08:00 UTC (2 h ago)",
            "0 structures, 2 plans, 0 probes",
        ] {
            assert!(text.contains(part), "{part:?} missing from:\n{text}");
        }
        let demo = RecoveryFile {
            saved_unix_s: saved,
            case_path: Some(PathBuf::from("/cases/a.json")),
            document: doc(DocumentSource::Demo, ""),
        };
        let text = recovery_summary(&demo, saved).join("\n");
        assert!(text.contains("Case file: /cases/a.json") && text.contains("Series: the built-in demo CT"));
        assert!(text.contains("just now"));
    }
}
