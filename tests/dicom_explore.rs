mod common;
use ablaplan::dicom::{load_series, scan};
use ablaplan::jobs::JobCtx;

#[test]
#[ignore]
fn explore() {
    let rel = std::env::var("EXPLORE").unwrap_or_else(|_| "derived-pancreas-edge-cases".into());
    let Some(p) = common::dicom_data(&rel) else { return };
    let ctx = JobCtx::default();
    let t = std::time::Instant::now();
    let r = scan(&[p], &ctx).unwrap();
    println!("scan {:?}: {} files", t.elapsed(), r.files_examined);
    for w in &r.warnings { println!("SCANWARN {w}"); }
    for s in &r.skipped { println!("SKIP {} :: {}", s.path.display(), s.reason); }
    for o in &r.others { println!("OTHER {} {} {}", o.path.display(), o.modality, o.description); }
    for e in &r.series {
        println!("SERIES {} #{:?} '{}' {}x{} n={} files={} ts={:?} uid={}", e.modality, e.series_number, e.series_description, e.columns, e.rows, e.image_count, e.files.len(), e.transfer_syntaxes, e.series_instance_uid);
        for w in &e.warnings { println!("   ewarn {w}"); }
        for s in &e.skipped { println!("   eskip {} :: {}", s.path.display(), s.reason); }
        let t = std::time::Instant::now();
        match load_series(e, &ctx) {
            Ok(l) => {
                let g = &l.volume.geometry;
                println!("   LOADED {:?} dims {:?} sp {:?} origin {:?} dir {:?} range {:?} win {:?}", t.elapsed(), g.dims, g.spacing_mm, g.origin_lps.coords.as_slice(), g.direction.as_slice(), l.volume.hu_range(), l.volume.meta.default_window);
                for w in &l.report.warnings { println!("   lwarn {w}"); }
                for s in &l.report.skipped { println!("   lskip {} :: {}", s.path.display(), s.reason); }
                println!("   ts {:?}", l.report.transfer_syntaxes);
            }
            Err(e) => println!("   LOADERR {e}"),
        }
        match ablaplan::dicom::thumbnail(e) { Ok(t) => println!("   thumb {}x{}", t.width, t.height), Err(e) => println!("   THUMBERR {e}") }
    }
}
