//! The case library: a folder of saved cases listed for review, with the columns a teaching
//! file or a tumour-board worklist shows (date, modality, site, probes, worst finding, margin,
//! outcome), filtered and sorted, and turned into a cohort for the Kaplan–Meier view.
//!
//! Listing reads each file once; a file that is not a readable case is listed with the reason,
//! never silently dropped, so a trainee does not wonder where a case went.

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use super::km::CohortCase;
use crate::plan::catalog::{Catalog, Modality};
use crate::plan::document::{CaseDocument, DocumentSource};

/// One listed case.
#[derive(Clone, Debug, PartialEq)]
pub struct LibraryRow {
    pub path: PathBuf,
    pub name: String,
    /// Procedure date (ISO) from the outcome, empty when not entered.
    pub date: String,
    /// "IRE", "Cryo", "IRE + cryo" or "—" (from the probes' catalog modality).
    pub modality: String,
    pub site: String,
    pub n_probes: usize,
    pub n_plans: usize,
    /// The worst finding severity of the saved results ("" = none saved).
    pub worst_finding: String,
    /// Smallest ablative margin: the reviewer's outcome entry, else the saved prediction.
    pub margin_mm: Option<f64>,
    pub technical_success: Option<bool>,
    /// "progression 2025-03-01", "free at 2025-06-01", or "" without follow-up.
    pub local_status: String,
    pub has_reference_plan: bool,
    /// The document (kept for the cohort and for opening read-only).
    pub document: CaseDocument,
}

/// A file of the folder that could not be listed, with why.
#[derive(Clone, Debug, PartialEq)]
pub struct Unreadable {
    pub path: PathBuf,
    pub reason: String,
}

/// Every `*.json` in `dir` (not recursive), sorted by file name.
pub fn scan_library(
    dir: &Path,
    catalog: &Catalog,
) -> Result<(Vec<LibraryRow>, Vec<Unreadable>), std::io::Error> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("json")))
        .collect();
    paths.sort();
    let mut rows = Vec::new();
    let mut bad = Vec::new();
    for path in paths {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                bad.push(Unreadable {
                    reason: e.to_string(),
                    path,
                });
                continue;
            }
        };
        match CaseDocument::from_json(&text, &path.display().to_string()) {
            Ok(doc) => rows.push(row(path, doc, catalog)),
            Err(e) => bad.push(Unreadable {
                reason: e.to_string(),
                path,
            }),
        }
    }
    Ok((rows, bad))
}

fn row(path: PathBuf, doc: CaseDocument, catalog: &Catalog) -> LibraryRow {
    let probes: Vec<&crate::plan::probe::Probe> = doc.plans.iter().flat_map(|p| &p.probes).collect();
    let (mut ire, mut cryo) = (false, false);
    for p in &probes {
        match catalog.get(&p.model_id).map(|m| m.modality) {
            Some(Modality::Ire) => ire = true,
            Some(_) => cryo = true,
            None => {}
        }
    }
    let modality = match (ire, cryo) {
        (true, true) => "IRE + cryo",
        (true, false) => "IRE",
        (false, true) => "Cryo",
        (false, false) => "—",
    }
    .to_string();
    let outcome = doc.review.outcome.as_ref();
    let saved_margin = doc
        .results
        .iter()
        .filter_map(|r| r.min_margin_mm)
        .min_by(|a, b| a.total_cmp(b));
    let local_status = outcome
        .map(|o| match (o.local_progression, o.last_contact()) {
            (Some(d), _) => format!("progression {d}"),
            (None, Some(d)) => format!("free at {d}"),
            (None, None) => String::new(),
        })
        .unwrap_or_default();
    LibraryRow {
        name: doc.name.clone(),
        date: outcome.map(|o| o.procedure_date.to_string()).unwrap_or_default(),
        modality,
        site: doc.review.target_site.clone(),
        n_probes: doc.active().map_or(0, |p| p.probes.len()),
        n_plans: doc.plans.len(),
        worst_finding: worst_severity(&doc),
        margin_mm: outcome.and_then(|o| o.min_margin_mm).or(saved_margin),
        technical_success: outcome.and_then(|o| o.technical_success()),
        local_status,
        has_reference_plan: doc.review.reference_plan.is_some(),
        path,
        document: doc,
    }
}

/// Severity words ordered from worst to least (the safety rules' wording).
const SEVERITY_ORDER: [&str; 5] = ["stop", "high", "warning", "caution", "info"];

fn severity_rank(s: &str) -> usize {
    let s = s.to_ascii_lowercase();
    SEVERITY_ORDER
        .iter()
        .position(|w| s.contains(w))
        .unwrap_or(SEVERITY_ORDER.len())
}

fn worst_severity(doc: &CaseDocument) -> String {
    doc.results
        .iter()
        .flat_map(|r| &r.findings)
        .map(|(sev, _)| sev.as_str())
        .min_by_key(|s| severity_rank(s))
        .unwrap_or("")
        .to_string()
}

/// Library columns the list sorts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Date,
    Name,
    Modality,
    Site,
    Probes,
    Finding,
    Margin,
}

/// Rows whose name, site, modality, status or notes contain `filter` (case-insensitive), sorted
/// by `key` (ties by name, then path, so the order is stable).
pub fn filter_and_sort(rows: &[LibraryRow], filter: &str, key: SortKey, descending: bool) -> Vec<usize> {
    let needle = filter.trim().to_lowercase();
    let mut idx: Vec<usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            needle.is_empty()
                || [
                    &r.name,
                    &r.site,
                    &r.modality,
                    &r.local_status,
                    &r.worst_finding,
                    &r.document.review.teaching_notes,
                ]
                .iter()
                .any(|f| f.to_lowercase().contains(&needle))
        })
        .map(|(i, _)| i)
        .collect();
    let cmp = |a: &LibraryRow, b: &LibraryRow| -> Ordering {
        match key {
            SortKey::Date => a.date.cmp(&b.date),
            SortKey::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
            SortKey::Modality => a.modality.cmp(&b.modality),
            SortKey::Site => a.site.to_lowercase().cmp(&b.site.to_lowercase()),
            SortKey::Probes => a.n_probes.cmp(&b.n_probes),
            SortKey::Finding => severity_rank(&a.worst_finding).cmp(&severity_rank(&b.worst_finding)),
            // Cases without a margin sort last either way.
            SortKey::Margin => match (a.margin_mm, b.margin_mm) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            },
        }
    };
    idx.sort_by(|&i, &j| {
        let (a, b) = (&rows[i], &rows[j]);
        let primary = if descending { cmp(b, a) } else { cmp(a, b) };
        primary
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.path.cmp(&b.path))
    });
    idx
}

/// The cases with an outcome, for the Kaplan–Meier view.
pub fn cohort(rows: &[LibraryRow], shown: &[usize]) -> Vec<CohortCase> {
    shown
        .iter()
        .filter_map(|&i| rows.get(i))
        .filter_map(|r| {
            r.document.review.outcome.clone().map(|outcome| CohortCase {
                modality: r.modality.clone(),
                site: if r.site.is_empty() {
                    "(no site)".into()
                } else {
                    r.site.clone()
                },
                outcome,
            })
        })
        .collect()
}

/// A copy of a case fit for teaching: no patient identity. Structures, plans, results and
/// outcome stay; the series is referred to by its UIDs only if `keep_uids` (UIDs identify a study
/// to anyone with PACS access, so the default export drops them along with the folder path).
pub fn anonymised(doc: &CaseDocument, keep_uids: bool) -> CaseDocument {
    let mut out = doc.clone();
    if let DocumentSource::Dicom { path, series } = &mut out.source {
        *path = PathBuf::new();
        if !keep_uids {
            series.study_instance_uid.clear();
            series.series_instance_uid = "anonymised".into();
            series.frame_of_reference_uid.clear();
        }
    }
    for s in &mut out.structures {
        if let crate::anatomy::Provenance::Imported { file, .. } = &mut s.provenance {
            *file = PathBuf::from(file.file_name().unwrap_or_default());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::catalog::builtin_catalog;
    use crate::plan::document::{NamedPlan, ResultSummary};
    use crate::review::outcome::{CaseOutcome, CivilDate};

    fn doc(name: &str, site: &str, margin: Option<f64>, severity: Option<&str>) -> CaseDocument {
        let mut d: CaseDocument = CaseDocument::from_json(
            &std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/golden/case_v2_demo.json"
            ))
            .unwrap(),
            "golden",
        )
        .unwrap();
        d.name = name.into();
        d.review.target_site = site.into();
        if let Some(sev) = severity {
            d.results.push(ResultSummary {
                plan: 0,
                modality: "ire".into(),
                model: String::new(),
                model_version: String::new(),
                parameter_hash: String::new(),
                zone_volume_ml: 1.0,
                extents_mm: [1.0; 3],
                max_current_a: None,
                min_margin_mm: margin,
                findings: vec![(sev.into(), "text".into())],
            });
        }
        d
    }

    fn rows(dir: &Path) -> Vec<LibraryRow> {
        scan_library(dir, &builtin_catalog().unwrap()).unwrap().0
    }

    #[test]
    fn lists_cases_reports_unreadable_files_and_sorts() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = doc("Alpha", "pelvic", Some(6.0), Some("info"));
        a.review.outcome = Some(CaseOutcome::new(CivilDate::parse("2024-02-01").unwrap()));
        let b = doc("Bravo", "retroperitoneal", Some(2.0), Some("Stop"));
        for (n, d) in [("a.json", &a), ("b.json", &b)] {
            std::fs::write(dir.path().join(n), serde_json::to_string(d).unwrap()).unwrap();
        }
        std::fs::write(dir.path().join("junk.json"), "{").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let (rows, bad) = scan_library(dir.path(), &builtin_catalog().unwrap()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].path.ends_with("junk.json"));
        assert_eq!(rows[0].modality, "IRE");
        assert_eq!(rows[0].date, "2024-02-01");
        assert_eq!(rows[1].worst_finding, "Stop");

        let by_margin = filter_and_sort(&rows, "", SortKey::Margin, false);
        assert_eq!(rows[by_margin[0]].name, "Bravo");
        let by_finding = filter_and_sort(&rows, "", SortKey::Finding, false);
        assert_eq!(rows[by_finding[0]].name, "Bravo", "worst finding first");
        let pelvic = filter_and_sort(&rows, "PELVIC", SortKey::Name, false);
        assert_eq!(pelvic.len(), 1);
        assert_eq!(rows[pelvic[0]].name, "Alpha");
        assert_eq!(cohort(&rows, &[0, 1]).len(), 1, "only cases with an outcome");
    }

    #[test]
    fn empty_folder_lists_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(rows(dir.path()).is_empty());
    }

    #[test]
    fn anonymised_copy_drops_path_and_uids() {
        let mut d = doc("Case", "", None, None);
        d.plans.push(NamedPlan::new("extra"));
        d.source = DocumentSource::Dicom {
            path: PathBuf::from("/pacs/DOE_JOHN/CT"),
            series: crate::plan::document::SeriesRef {
                study_instance_uid: "1.2.3".into(),
                series_instance_uid: "1.2.3.4".into(),
                frame_of_reference_uid: "1.2.3.5".into(),
                geometry: None,
            },
        };
        let a = anonymised(&d, false);
        let text = serde_json::to_string(&a).unwrap();
        for secret in ["DOE_JOHN", "1.2.3.4", "1.2.3.5", "pacs"] {
            assert!(!text.contains(secret), "{secret} left in the export");
        }
        assert_eq!(a.plans, d.plans);
        assert_eq!(a.structures, d.structures);
    }
}
