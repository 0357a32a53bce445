//! The suggestion on the shared pancreas CT with a drawn para-aortic node (issue 16): it never
//! passes through bowel or bone (HU sampled every 0.5 mm from the skin to each tip). The scenario
//! is shared with `benches/suggest.rs`, which times it.

use ablaplan::jobs::JobCtx;

use crate::common::dicom_data;
use crate::common::pancreas_scenario::{assert_paths_avoid_bowel_and_bone, scenario};

#[test]
fn the_pancreas_suggestion_never_passes_through_bowel_or_bone() {
    let Some(dir) = dicom_data("pancreas-ct-rtstruct/CT") else {
        return;
    };
    let ctx = JobCtx::default();
    let Some(entry) = ablaplan::dicom::scan(&[dir], &ctx)
        .ok()
        .and_then(|r| r.series.first().cloned())
    else {
        eprintln!("SKIPPED: no series in the pancreas CT folder");
        return;
    };
    let Some(s) = scenario(&entry, &ctx) else {
        return;
    };
    let suggestion = ablaplan::suggest::suggest(&s.request(), &ctx).expect("suggestion");
    assert!(!suggestion.proposals.is_empty(), "at least one proposal");
    assert_paths_avoid_bowel_and_bone(&s.volume, &s.body, &suggestion);
}
