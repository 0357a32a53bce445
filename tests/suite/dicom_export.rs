//! Export to DICOM (issue 17): SEG, RTSTRUCT and Secondary Capture objects of a plan, checked
//! by the standard's validator (`dciodvfy`, Debian dicom3tools) and read by `dcmdump` (dcmtk)
//! when they are installed, and read back through ablaplan's own SEG and RTSTRUCT importers:
//! the SEG voxel for voxel, the RTSTRUCT to the same masks (Dice ≥ 0.99 above 1 mL, every voxel
//! within one voxel of the source). On the demo CT (synthetic, no CT instances to reference)
//! and on the shared pancreas CT with its RTSTRUCT and an IRE zone (skipped when absent).

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use ablaplan::anatomy::{Mask, Structure, demo_structures::demo_structures};
use ablaplan::dicom::{self, ImportOptions, SeriesIds, import_rtstruct, import_seg};
use ablaplan::export::dicom::{
    CaptureImage, DicomExportRequest, ExportedObject, build_export, structure_regions, write_export,
    zone_regions,
};
use ablaplan::geometry::VolumeGeometry;
use ablaplan::jobs::JobCtx;
use ablaplan::render::{Rgba, RgbaImage};
use ablaplan::volume::Volume;

fn tool(name: &str) -> Option<PathBuf> {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {name}"))
        .output()
        .ok()?;
    let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if p.is_empty() {
        println!("SKIPPED: {name} is not installed (apt-get install dicom3tools dcmtk)");
        None
    } else {
        Some(PathBuf::from(p))
    }
}

/// `dciodvfy`'s errors for a file (its lines starting with "Error"), printing its whole output.
fn dciodvfy_errors(path: &Path) -> Option<Vec<String>> {
    let exe = tool("dciodvfy")?;
    let out = Command::new(exe).arg(path).output().expect("run dciodvfy");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("dciodvfy {}:\n{text}", path.display());
    Some(
        text.lines()
            .filter(|l| l.starts_with("Error"))
            .map(str::to_string)
            .collect(),
    )
}

fn dcmdump_reads(path: &Path) -> Option<bool> {
    let exe = tool("dcmdump")?;
    let out = Command::new(exe).arg(path).output().expect("run dcmdump");
    Some(out.status.success() && !out.stdout.is_empty())
}

fn capture(title: &str, identifying_text: bool) -> CaptureImage {
    let mut image = RgbaImage::new(64, 48, [20, 30, 40, 255] as Rgba);
    for (n, px) in image.pixels.chunks_exact_mut(4).enumerate() {
        px[0] = (n % 251) as u8;
    }
    CaptureImage {
        title: title.into(),
        image,
        identifying_text,
    }
}

/// Writes the objects, validates each with the tools, returns their paths by modality.
fn write_and_validate(dir: &Path, objects: &[ExportedObject]) -> Vec<(String, PathBuf)> {
    let paths = write_export(dir, objects).expect("write");
    let mut bad = Vec::new();
    for (o, p) in objects.iter().zip(&paths) {
        if let Some(errors) = dciodvfy_errors(p)
            && !errors.is_empty()
        {
            bad.push(format!("{} ({}): {errors:?}", o.modality, p.display()));
        }
        if let Some(ok) = dcmdump_reads(p) {
            assert!(ok, "dcmdump cannot read {}", p.display());
        }
    }
    assert!(bad.is_empty(), "dciodvfy errors: {bad:#?}");
    objects
        .iter()
        .zip(paths)
        .map(|(o, p)| (o.modality.to_string(), p))
        .collect()
}

fn dense(m: &Mask) -> Vec<bool> {
    m.to_dense()
}

/// Dice and whether every voxel of each mask is within one voxel (26-neighbourhood) of the other.
fn compare(a: &Mask, b: &Mask, dims: [usize; 3]) -> (f64, bool) {
    let (da, db) = (dense(a), dense(b));
    let inter = da.iter().zip(&db).filter(|(x, y)| **x && **y).count();
    let (na, nb) = (a.voxel_count(), b.voxel_count());
    let dice = if na + nb == 0 {
        1.0
    } else {
        2.0 * inter as f64 / (na + nb) as f64
    };
    let [nx, ny, nz] = dims;
    let near = |m: &[bool], i: usize, j: usize, k: usize| {
        for dk in -1i64..=1 {
            for dj in -1i64..=1 {
                for di in -1i64..=1 {
                    let (x, y, z) = (i as i64 + di, j as i64 + dj, k as i64 + dk);
                    if x >= 0
                        && y >= 0
                        && z >= 0
                        && (x as usize) < nx
                        && (y as usize) < ny
                        && (z as usize) < nz
                        && m[(z as usize * ny + y as usize) * nx + x as usize]
                    {
                        return true;
                    }
                }
            }
        }
        false
    };
    let mut within = true;
    for (src, other) in [(&da, &db), (&db, &da)] {
        for (n, v) in src.iter().enumerate() {
            if *v && !other[n] {
                let (i, j, k) = (n % nx, n / nx % ny, n / (nx * ny));
                if !near(other, i, j, k) {
                    within = false;
                }
            }
        }
    }
    (dice, within)
}

/// Re-imports the SEG and RTSTRUCT of an export onto the CT and compares each region.
fn round_trip(objects: &[(String, PathBuf)], volume: &Volume, ids: &SeriesIds, expected: &[(String, Mask)]) {
    let g: &VolumeGeometry = &volume.geometry;
    let voxel_ml = g.spacing_mm.iter().product::<f64>() / 1000.0;
    let path = |m: &str| {
        objects
            .iter()
            .find(|(k, _)| k == m)
            .map(|(_, p)| p.clone())
            .expect(m)
    };
    let seg = import_seg(&path("SEG"), g, ids, &ImportOptions::default()).expect("SEG re-import");
    let rt =
        import_rtstruct(&path("RTSTRUCT"), g, ids, &ImportOptions::default()).expect("RTSTRUCT re-import");
    assert!(seg.skipped_rois.is_empty(), "{:?}", seg.skipped_rois);
    assert!(rt.skipped_rois.is_empty(), "{:?}", rt.skipped_rois);
    println!(
        "SEG warnings: {:?}\nRTSTRUCT warnings: {:?}",
        seg.warnings, rt.warnings
    );
    assert_eq!(seg.structures.len(), expected.len());
    assert_eq!(rt.structures.len(), expected.len());
    for (n, (label, mask)) in expected.iter().enumerate() {
        let s: &Structure = &seg.structures[n];
        assert_eq!(&s.name, label);
        assert!(s.mask() == mask, "{label}: the SEG re-imports voxel for voxel");
        let r = &rt.structures[n];
        assert_eq!(&r.name, label);
        let (dice, within) = compare(mask, r.mask(), g.dims);
        let ml = mask.voxel_count() as f64 * voxel_ml;
        println!(
            "round trip {label}: {} voxels ({ml:.2} mL); SEG identical; RTSTRUCT {} voxels, Dice {dice:.4}, within one voxel: {within}",
            mask.voxel_count(),
            r.mask().voxel_count()
        );
        if ml > 1.0 {
            assert!(dice >= 0.99, "{label}: Dice {dice}");
        }
        assert!(
            within,
            "{label}: a voxel lies more than one voxel from the source"
        );
    }
}

#[test]
fn demo_case_exports_valid_seg_rtstruct_and_sc_that_read_back() {
    let volume = ablaplan::demo::demo_volume();
    let structures = demo_structures(&ablaplan::demo::demo_anatomy(), &volume.geometry);
    let tmp = tempfile::tempdir().expect("tmp");
    let req = DicomExportRequest {
        volume: &volume,
        structures: &structures,
        result: None,
        lethal_c: f64::NAN,
        captures: vec![capture("Board slide", false), capture("Axial view", true)],
        anonymise: false,
    };
    let objects = build_export(&req).expect("export");
    let kinds: Vec<&str> = objects.iter().map(|o| o.modality).collect();
    assert_eq!(kinds, ["SEG", "RTSTRUCT", "SC", "SC"]);
    let written = write_and_validate(tmp.path(), &objects);
    // Study, patient and frame of reference are the CT's; the SC flags follow the images.
    let ctx = JobCtx::default();
    let scan = dicom::scan(&[tmp.path().to_path_buf()], &ctx).expect("scan the export");
    for o in &scan.others {
        assert_eq!(o.study_instance_uid, volume.meta.study_instance_uid);
        assert_eq!(o.patient_id, volume.meta.patient_id);
        if o.modality == "SEG" {
            assert_eq!(o.frame_of_reference_uid, volume.meta.frame_of_reference_uid);
        }
    }
    let sc = |n: usize| {
        let p = &written[2 + n].1;
        let obj = dicom_object::open_file(p).expect("open SC");
        obj.element(dicom_dictionary_std::tags::BURNED_IN_ANNOTATION)
            .expect("flag")
            .to_str()
            .expect("text")
            .trim()
            .to_string()
    };
    assert_eq!(sc(0), "NO");
    assert_eq!(sc(1), "YES");
    let ids = SeriesIds {
        frame_of_reference_uid: volume.meta.frame_of_reference_uid.clone(),
        series_instance_uid: volume.meta.series_instance_uid.clone(),
        sop_instance_uids: Vec::new(),
    };
    let expected: Vec<(String, Mask)> = structure_regions(&structures, &volume.geometry)
        .into_iter()
        .map(|r| (r.label, r.mask))
        .collect();
    round_trip(&written, &volume, &ids, &expected);
}

#[test]
fn anonymised_export_replaces_the_patient_identifiers() {
    let volume = ablaplan::demo::demo_volume();
    let structures = demo_structures(&ablaplan::demo::demo_anatomy(), &volume.geometry);
    let req = DicomExportRequest {
        volume: &volume,
        structures: &structures[..1],
        result: None,
        lethal_c: f64::NAN,
        captures: vec![capture("Board slide", false)],
        anonymise: true,
    };
    let objects = build_export(&req).expect("export");
    for o in &objects {
        let text = String::from_utf8_lossy(&o.bytes);
        assert!(
            !text.contains(&volume.meta.patient_id),
            "{}: patient ID left",
            o.modality
        );
        assert!(
            !text.contains("Synthetic Abdomen"),
            "{}: patient name left",
            o.modality
        );
        assert!(text.contains("ANONYMISED"));
        assert!(
            text.contains(&volume.meta.study_instance_uid),
            "the study UID is kept"
        );
    }
}

#[test]
fn pancreas_ct_export_references_the_ct_and_reads_back() {
    let Some(dir) = common::dicom_data("pancreas-ct-rtstruct") else {
        return;
    };
    let ctx = JobCtx::default();
    let scan = dicom::scan(&[dir.join("CT")], &ctx).expect("scan");
    let loaded = dicom::load_series(&scan.series[0], &ctx).expect("load");
    let ids = SeriesIds::from_loaded(&loaded);
    let volume = loaded.volume;
    assert_eq!(
        volume.meta.slice_refs.len(),
        volume.geometry.dims[2],
        "every slice is a CT image"
    );
    let imported = import_rtstruct(
        &dir.join("RTSTRUCT/1-1.dcm"),
        &volume.geometry,
        &ids,
        &ImportOptions::default(),
    )
    .expect("import");
    // An IRE zone from the shipped example case on this CT (coarse grid, no heating: the zone's
    // accuracy is tested elsewhere; here it is a region to export).
    let case = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/cases/dicom_pancreas_ct_example.json");
    let assets = ablaplan::physics::model::ModelAssets::builtin().expect("assets");
    let overrides = ablaplan::pipeline::ComputeOverrides {
        spacing_mm: Some(1.0),
        ..Default::default()
    };
    let mut lc = ablaplan::pipeline::load_case(&case, None, &overrides, &assets, &ctx).expect("case");
    if let ablaplan::plan::model_settings::ModelSettings::Ire { model, .. } = &mut lc.settings {
        model.heating.enabled = false;
    }
    let result = ablaplan::pipeline::run_model(&lc, &assets, &ctx, &mut |_| {}).expect("model");
    let tmp = tempfile::tempdir().expect("tmp");
    let req = DicomExportRequest {
        volume: &volume,
        structures: &imported.structures,
        result: Some(&result),
        lethal_c: f64::NAN,
        captures: vec![capture("Board slide", false)],
        anonymise: false,
    };
    let objects = build_export(&req).expect("export");
    let written = write_and_validate(tmp.path(), &objects);
    let mut expected: Vec<(String, Mask)> = structure_regions(&imported.structures, &volume.geometry)
        .into_iter()
        .map(|r| (r.label, r.mask))
        .collect();
    let zones = zone_regions(&result, f64::NAN, &volume.geometry);
    // The nominal IRE zone, and the band's inner and outer surfaces when the model gives one.
    let labels: Vec<&str> = zones.iter().map(|z| z.label.as_str()).collect();
    let band = result.ire().expect("IRE").band.is_some();
    if band {
        assert_eq!(labels, ["IRE zone", "IRE zone (inner)", "IRE zone (outer)"]);
    } else {
        assert_eq!(labels, ["IRE zone"]);
    }
    expected.extend(zones.into_iter().map(|r| (r.label, r.mask)));
    round_trip(&written, &volume, &ids, &expected);
    // The SEG and RTSTRUCT name this series and its images: the importers found no reference
    // warning, and the structure-set finder offers both for this CT.
    let all = dicom::scan(&[tmp.path().to_path_buf()], &ctx).expect("scan");
    let found = dicom::find_structure_sets(&all.others, &ids);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found
            .iter()
            .all(|c| c.matches_frame_of_reference && c.references_series)
    );
}

#[test]
fn export_command_refuses_a_phantom_case() {
    let case = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/cases/four_electrode_square.json");
    let tmp = tempfile::tempdir().expect("tmp");
    let e = ablaplan::cli::export::export_case_dicom(&case, None, tmp.path(), false, &JobCtx::default())
        .expect_err("a phantom has no CT");
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("phantom"), "{e}");
    assert_eq!(
        std::fs::read_dir(tmp.path()).expect("dir").count(),
        0,
        "nothing written"
    );
}

/// `ablaplan export CASE --dicom OUTDIR --anonymise` on the shipped pancreas example (its grid
/// coarsened and heating off to keep the test light): SEG, RTSTRUCT and two Secondary Captures,
/// valid, anonymised, in the CT's study.
#[test]
fn export_command_writes_the_case_as_dicom() {
    let Some(ct) = common::dicom_data("pancreas-ct-rtstruct/CT") else {
        return;
    };
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/cases/dicom_pancreas_ct_example.json");
    let mut case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src).expect("read")).expect("json");
    case["source"]["path"] = serde_json::Value::String(ct.display().to_string());
    case["model"]["spacing_mm"] = serde_json::json!(1.0);
    case["model"]["heating"] = serde_json::json!({"enabled": false});
    let tmp = tempfile::tempdir().expect("tmp");
    let case_path = tmp.path().join("case.json");
    std::fs::write(&case_path, serde_json::to_string(&case).expect("json")).expect("write");
    let out = tmp.path().join("dicom");
    let paths = ablaplan::cli::export::export_case_dicom(&case_path, None, &out, true, &JobCtx::default())
        .expect("export");
    let names: Vec<String> = paths
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .collect();
    println!("{names:?}");
    assert!(names[0].starts_with("SEG_") && names[1].starts_with("RTSTRUCT_"));
    assert_eq!(names.iter().filter(|n| n.starts_with("SC_")).count(), 2);
    let scan = dicom::scan(&[ct], &JobCtx::default()).expect("scan");
    let study = scan.series[0].study_instance_uid.clone();
    let mut bad = Vec::new();
    for p in &paths {
        if let Some(errors) = dciodvfy_errors(p)
            && !errors.is_empty()
        {
            bad.push(format!("{}: {errors:?}", p.display()));
        }
        let obj = dicom_object::open_file(p).expect("open");
        let s = |t| {
            obj.element(t)
                .ok()
                .and_then(|e| e.to_str().ok())
                .map(|s| s.trim().to_string())
        };
        assert_eq!(
            s(dicom_dictionary_std::tags::PATIENT_NAME).as_deref(),
            Some("ANONYMISED")
        );
        assert_eq!(
            s(dicom_dictionary_std::tags::PATIENT_IDENTITY_REMOVED).as_deref(),
            Some("YES")
        );
        assert_eq!(
            s(dicom_dictionary_std::tags::STUDY_INSTANCE_UID),
            Some(study.clone())
        );
        if let Some(b) = s(dicom_dictionary_std::tags::BURNED_IN_ANNOTATION) {
            assert_eq!(b, "NO", "anonymised images show no identifiers");
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

/// Kills a spawned peer when the test ends (also on a failed assertion).
struct KillOnDrop(std::process::Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Issue 17: ablaplan's exports reach another PACS node intact. The pancreas case is exported
/// (SEG, RTSTRUCT, two Secondary Captures), sent with ablaplan's C-STORE SCU to DCMTK's
/// `storescp` on loopback, and every object storescp stored is valid there (`dciodvfy`, no
/// errors) and carries the instance we sent.
#[test]
fn exported_objects_sent_to_dcmtk_storescp_arrive_and_validate_there() {
    use ablaplan::net::{self, Node, ScuOptions};
    use std::time::{Duration, Instant};
    let Some(ct) = common::dicom_data("pancreas-ct-rtstruct/CT") else {
        return;
    };
    if tool("storescp").is_none() || tool("dciodvfy").is_none() {
        return;
    }
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/cases/dicom_pancreas_ct_example.json");
    let mut case: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src).expect("read")).expect("json");
    case["source"]["path"] = serde_json::Value::String(ct.display().to_string());
    case["model"]["spacing_mm"] = serde_json::json!(1.0);
    case["model"]["heating"] = serde_json::json!({"enabled": false});
    let tmp = tempfile::tempdir().expect("tmp");
    let case_path = tmp.path().join("case.json");
    std::fs::write(&case_path, serde_json::to_string(&case).expect("json")).expect("write");
    let exported = ablaplan::cli::export::export_case_dicom(
        &case_path,
        None,
        &tmp.path().join("dicom"),
        false,
        &JobCtx::default(),
    )
    .expect("export");
    assert_eq!(exported.len(), 4, "{exported:?}");

    let stored_dir = tmp.path().join("storescp");
    std::fs::create_dir_all(&stored_dir).expect("dir");
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let _peer = KillOnDrop(
        Command::new("storescp")
            .args(["-aet", "DCMTKSCP", "-od"])
            .arg(&stored_dir)
            .arg(port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start storescp"),
    );
    let node = Node {
        ae_title: "DCMTKSCP".into(),
        host: "127.0.0.1".into(),
        port,
    };
    let t0 = Instant::now();
    while net::echo(&node, &ScuOptions::default()).is_err() {
        assert!(t0.elapsed() < Duration::from_secs(10), "storescp did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let report = net::send_files(&node, &exported, &ScuOptions::default(), &JobCtx::default()).expect("send");
    assert_eq!(
        (report.sent, report.failed.len()),
        (exported.len(), 0),
        "{report:?}"
    );

    let stored: Vec<PathBuf> = std::fs::read_dir(&stored_dir)
        .expect("read dir")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(stored.len(), exported.len(), "{stored:?}");
    let uid = |p: &Path| {
        let obj = dicom_object::open_file(p).expect("open");
        obj.element(dicom_dictionary_std::tags::SOP_INSTANCE_UID)
            .expect("SOP instance UID")
            .to_str()
            .expect("text")
            .trim_end_matches(['\0', ' '])
            .to_string()
    };
    let mut bad = Vec::new();
    for p in &exported {
        let want = uid(p);
        let rx = stored
            .iter()
            .find(|s| uid(s) == want)
            .unwrap_or_else(|| panic!("{} was not stored by storescp", p.display()));
        if let Some(errors) = dciodvfy_errors(rx)
            && !errors.is_empty()
        {
            bad.push(format!("{}: {errors:?}", rx.display()));
        }
    }
    assert!(bad.is_empty(), "dciodvfy errors on the received objects: {bad:?}");
}
