//! Duplicates on import through the GUI (issue 17): the same RTSTRUCT imported twice adds
//! nothing and says so; a reopened case does not offer the objects it already holds; the
//! TotalSegmentator RTSTRUCT and SEG give two aortas whose sources are shown, and "Keep this,
//! remove the other" leaves one in a single undo step.

use std::path::{Path, PathBuf};

use ablaplan::app::{AblaApp, Command, NoticeLevel, Prompt, StartupOptions};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use crate::common::{app_with as app, dicom_data, run};

fn import(h: &mut Harness<'static, AblaApp>, file: &Path) {
    run(
        h,
        Command::ImportStructures {
            paths: vec![file.to_path_buf()],
            allow_missing_frame_of_reference: false,
        },
    );
}

fn offered(h: &Harness<'static, AblaApp>) -> Vec<PathBuf> {
    match h.state().prompt() {
        Some(Prompt::OfferImport(c)) => c.iter().map(|c| c.path.clone()).collect(),
        _ => Vec::new(),
    }
}

fn notices(h: &Harness<'static, AblaApp>, level: NoticeLevel) -> Vec<String> {
    h.state()
        .notices()
        .iter()
        .filter(|n| n.level == level)
        .map(|n| n.text.clone())
        .collect()
}

fn aortas(h: &Harness<'static, AblaApp>) -> Vec<String> {
    h.state()
        .structures()
        .items
        .iter()
        .filter(|s| s.name.to_lowercase().contains("aorta"))
        .map(|s| s.provenance.source_short())
        .collect()
}

#[test]
fn same_rtstruct_twice_adds_nothing_and_a_reopened_case_does_not_offer_it_again() {
    let Some(dir) = dicom_data("totalseg-abdomen-vessels-derived") else {
        return;
    };
    let rtstruct = dir.join("RTSTRUCT/rtstruct.dcm");
    let seg = dir.join("SEG/seg.dcm");
    let mut h = app(StartupOptions {
        open: Some(dir.clone()),
        ..StartupOptions::default()
    });
    assert!(
        h.state().volume().is_some(),
        "{:?}",
        notices(&h, NoticeLevel::Error)
    );
    let first_offer = offered(&h);
    assert!(
        first_offer.contains(&rtstruct) && first_offer.contains(&seg),
        "a fresh CT offers both objects: {first_offer:?}"
    );

    import(&mut h, &rtstruct);
    let n = h.state().structures().items.len();
    assert!(n > 0, "{:?}", notices(&h, NoticeLevel::Error));
    import(&mut h, &rtstruct);
    assert_eq!(
        h.state().structures().items.len(),
        n,
        "the second import adds nothing"
    );
    let info = notices(&h, NoticeLevel::Info);
    assert!(
        info.iter()
            .any(|t| t.starts_with("RTSTRUCT") && t.contains(&format!("already imported: {n} structure(s)"))),
        "the user is told: {info:?}"
    );

    // Saved and reopened: the RTSTRUCT is in the case, so only the SEG is offered.
    let tmp = tempfile::tempdir().unwrap();
    let case = tmp.path().join("case.json");
    run(&mut h, Command::SaveCaseTo(case.clone()));
    assert!(
        notices(&h, NoticeLevel::Error).is_empty(),
        "{:?}",
        notices(&h, NoticeLevel::Error)
    );
    let mut h2 = app(StartupOptions::default());
    run(&mut h2, Command::OpenCase(case));
    assert!(
        notices(&h2, NoticeLevel::Error).is_empty(),
        "{:?}",
        notices(&h2, NoticeLevel::Error)
    );
    assert_eq!(h2.state().structures().items.len(), n);
    let offer = offered(&h2);
    assert!(
        !offer.contains(&rtstruct),
        "the imported RTSTRUCT is not offered again: {offer:?}"
    );
    assert!(
        offer.contains(&seg),
        "the SEG, not imported yet, still is: {offer:?}"
    );
}

#[test]
fn totalseg_rtstruct_and_seg_show_two_sourced_aortas_and_keep_one_leaves_one() {
    let Some(dir) = dicom_data("totalseg-abdomen-vessels-derived") else {
        return;
    };
    let mut h = app(StartupOptions {
        open: Some(dir.join("CT")),
        ..StartupOptions::default()
    });
    assert!(
        h.state().volume().is_some(),
        "{:?}",
        notices(&h, NoticeLevel::Error)
    );
    import(&mut h, &dir.join("RTSTRUCT/rtstruct.dcm"));
    import(&mut h, &dir.join("SEG/seg.dcm"));
    let sources = aortas(&h);
    assert_eq!(sources.len(), 2, "{sources:?}");
    assert!(
        sources[0].starts_with("RTSTRUCT") && sources[1].starts_with("SEG"),
        "each aorta names its source: {sources:?}"
    );
    let warnings = notices(&h, NoticeLevel::Warning);
    assert!(
        warnings.iter().any(|t| t.contains("duplicate name")),
        "the clash is announced: {warnings:?}"
    );
    // The panel shows the sources and the choice.
    h.run_steps(2);
    assert!(h.query_all_by_label_contains("Source: RTSTRUCT").next().is_some());
    assert!(h.query_all_by_label_contains("Source: SEG").next().is_some());
    let items = h.state().structures().items.len();
    let seg_aorta = h
        .state()
        .structures()
        .items
        .iter()
        .position(|s| {
            s.name.to_lowercase().contains("aorta") && s.provenance.source_short().starts_with("SEG")
        })
        .unwrap();
    let name = h.state().structures().items[seg_aorta].name.clone();
    let button = format!("Keep this {name} ({}), remove the other", sources[1]);
    assert!(
        h.query_by_label(&button).is_some(),
        "the button is labelled {button:?}"
    );

    run(&mut h, Command::KeepStructureRemoveDuplicates(seg_aorta));
    let left = aortas(&h);
    assert_eq!(left.len(), 1, "one aorta is left: {left:?}");
    assert!(left[0].starts_with("SEG"), "the one the user kept: {left:?}");
    assert_eq!(h.state().structures().items.len(), items - 1);
    h.run_steps(2);
    assert!(
        h.query_by_label(&button).is_none(),
        "no duplicate left to resolve"
    );

    run(&mut h, Command::Undo);
    assert_eq!(aortas(&h).len(), 2, "one undo step brings the other back");
}
