//! UI flows driven through egui_kittest: widgets are found by their labels, input goes in as
//! real key and pointer events. These need no GPU (no rendering, only the UI pass).

use crate::common::{self, click_at, settle};

use ablaplan::app::settings::{Layout, Settings};
use ablaplan::app::{AblaApp, StartupOptions, Tool};
use ablaplan::volume::ViewKind;
use eframe::egui::{self, Event, Key, Modifiers, PointerButton, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn harness(opts: StartupOptions) -> Harness<'static, AblaApp> {
    let mut b = Harness::builder().with_size(egui::Vec2::new(1280.0, 820.0));
    if opts.open.is_some() {
        // Header text of real files (names, descriptions, paths) may hold any character; the
        // demo's own strings must all have glyphs, so only real data may show tofu.
        b = b.allow_missing_glyphs();
    }
    b.build_eframe(move |cc| AblaApp::with_settings(cc.egui_ctx.clone(), Settings::default(), opts))
}

/// The app started on `../shared/data/dicom/<rel>`, loaded; `None` (test skipped) without the data.
fn opened(rel: &str) -> Option<Harness<'static, AblaApp>> {
    let dir = common::dicom_data(rel)?;
    let mut h = harness(StartupOptions {
        open: Some(dir),
        ..StartupOptions::default()
    });
    settle(&mut h);
    Some(h)
}

fn demo() -> Harness<'static, AblaApp> {
    let mut h = harness(StartupOptions::default());
    settle(&mut h);
    h
}

fn view_centre(h: &Harness<'static, AblaApp>, label: &str) -> Pos2 {
    h.get_by_label(label).rect().center()
}

#[test]
fn app_starts_on_the_demo_case() {
    let h = demo();
    let app = h.state();
    let vol = app.volume().expect("demo volume loaded");
    assert!(vol.geometry.dims[2] >= 120, "demo has ≥ 120 slices");
    assert_eq!(
        app.loaded().map(|l| l.source.as_str()),
        Some("Built-in demo case")
    );
    for v in ["Axial view", "Coronal view", "Sagittal view"] {
        h.get_by_label(v);
    }
}

#[test]
fn number_keys_switch_window_presets() {
    let mut h = demo();
    h.key_press(Key::Num4);
    h.run_steps(2);
    let vw = h.state().viewer().expect("viewer");
    assert_eq!(vw.window_label.as_deref(), Some("Lung"));
    assert_eq!((vw.window.width_hu, vw.window.center_hu), (1500.0, -600.0));

    h.key_press(Key::Num6);
    h.run_steps(2);
    assert_eq!(
        h.state().viewer().and_then(|v| v.window_label.clone()).as_deref(),
        Some("Bone")
    );

    // 0 = the series' own default window.
    h.key_press(Key::Num0);
    h.run_steps(2);
    let vw = h.state().viewer().expect("viewer");
    let dw = h
        .state()
        .volume()
        .and_then(|v| v.meta.default_window)
        .expect("demo has a default window");
    assert_eq!((vw.window.center_hu, vw.window.width_hu), dw);
}

#[test]
fn arrow_keys_and_wheel_scroll_the_hovered_view() {
    let mut h = demo();
    let axial = view_centre(&h, "Axial view");
    h.event(Event::PointerMoved(axial));
    h.run_steps(2);
    let start = h.state().slice_index(ViewKind::Axial).expect("slice");
    let coronal_start = h.state().slice_index(ViewKind::Coronal);

    h.key_press(Key::ArrowDown);
    h.run_steps(2);
    let one = h.state().slice_index(ViewKind::Axial).expect("slice");
    assert_eq!((one as i64 - start as i64).abs(), 1, "one key press = one slice");

    h.key_press_modifiers(Modifiers::SHIFT, Key::ArrowDown);
    h.run_steps(2);
    let eleven = h.state().slice_index(ViewKind::Axial).expect("slice");
    assert_eq!(
        (eleven as i64 - start as i64).abs(),
        11,
        "Shift = ×10, same direction"
    );

    h.key_press(Key::PageUp);
    h.run_steps(2);
    assert_eq!(
        (h.state().slice_index(ViewKind::Axial).expect("slice") as i64 - start as i64).abs(),
        10
    );

    h.event(Event::MouseWheel {
        unit: egui::MouseWheelUnit::Line,
        delta: egui::vec2(0.0, -3.0),
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
        modifiers: Modifiers::NONE,
    });
    h.run_steps(2);
    let after_wheel = h.state().slice_index(ViewKind::Axial).expect("slice");
    assert_eq!(
        (after_wheel as i64 - start as i64).abs(),
        11,
        "one wheel event = one notch"
    );
    // Other views keep their slice.
    assert_eq!(h.state().slice_index(ViewKind::Coronal), coronal_start);
}

#[test]
fn layout_buttons_toggle_the_layout() {
    let mut h = demo();
    // Everything the demo starts (model, safety) has finished: the toolbar no longer moves.
    common::settle_jobs(&mut h);
    h.get_by_label("1×3").click();
    h.run_steps(2);
    settle(&mut h);
    assert_eq!(h.state().settings().layout, Layout::OneByThree);
    h.get_by_label("1×1").click();
    h.run_steps(2);
    settle(&mut h);
    assert_eq!(h.state().settings().layout, Layout::Single);
    assert!(
        h.query_by_label("Coronal view").is_none(),
        "1×1 shows only the active view"
    );
    h.get_by_label("1+2").click();
    h.run_steps(2);
    settle(&mut h);
    assert_eq!(h.state().settings().layout, Layout::OnePlusTwo);
    h.get_by_label("Sagittal view");
}

/// The drags of these flows: five pointer moves.
fn drag(h: &mut Harness<'static, AblaApp>, from: Pos2, to: Pos2, button: PointerButton) {
    common::drag(h, from, to, button, 5);
}

#[test]
fn left_drag_changes_window_and_click_moves_crosshair() {
    let mut h = demo();
    let c = view_centre(&h, "Axial view");
    let before = h.state().viewer().expect("viewer").window;
    drag(&mut h, c, c + egui::vec2(60.0, 30.0), PointerButton::Primary);
    let after = h.state().viewer().expect("viewer").window;
    assert!(after.width_hu > before.width_hu, "drag right widens the window");
    assert!(after.center_hu > before.center_hu, "drag down raises the level");

    let coronal_before = h.state().slice_index(ViewKind::Coronal);
    let p = c + egui::vec2(-40.0, -60.0);
    click_at(&mut h, p);
    assert_ne!(
        h.state().slice_index(ViewKind::Coronal),
        coronal_before,
        "clicking above centre moves the coronal plane"
    );
}

#[test]
fn ruler_measures_in_millimetres() {
    let mut h = demo();
    h.get_by_label("1×1").click();
    h.run_steps(2);
    h.get_by_label("Ruler").click();
    h.run_steps(2);
    assert_eq!(h.state().tool(), Tool::Ruler);
    let c = view_centre(&h, "Axial view");
    drag(&mut h, c, c + egui::vec2(100.0, 0.0), PointerButton::Primary);
    let vw = h.state().viewer().expect("viewer");
    assert_eq!(vw.rulers.len(), 1);
    let r = vw.rulers[0];
    // 100 points horizontally on an axial view of a standard CT is a pure L–R distance.
    assert!((r.b_lps.y - r.a_lps.y).abs() < 1e-6 && (r.b_lps.z - r.a_lps.z).abs() < 1e-6);
    assert!(r.length_mm() > 10.0, "length {}", r.length_mm());
}

#[test]
fn opening_a_missing_path_says_so() {
    let mut h = demo();
    h.state_mut().push(ablaplan::app::Command::Open(vec![
        "/nonexistent/ct-folder".into(),
    ]));
    h.run_steps(3);
    let n = h.state().notices().last().expect("a notice");
    assert!(n.text.contains("/nonexistent/ct-folder"), "{}", n.text);
    h.get_by_label("OK");
}

#[test]
fn opening_a_real_ct_folder_loads_it() {
    let Some(h) = opened("pancreas-ct-rtstruct/CT") else {
        return;
    };
    let vol = h.state().volume().expect("CT loaded");
    assert_eq!(vol.geometry.dims, [512, 512, 134]);
    assert!(!h.state().picker_open());
}

#[test]
fn a_folder_with_several_series_offers_a_choice() {
    let Some(mut h) = opened("derived-pancreas-edge-cases/mixed-folder") else {
        return;
    };
    assert!(h.state().picker_open(), "several series → picker");
    let scan = h.state().last_scan().expect("scan");
    let n = scan
        .series
        .iter()
        .position(|s| s.modality == "CT" && s.image_count == 5)
        .expect("the 5-slice pancreas CT series");
    let label = format!("Open series {}", n + 1);
    h.get_by_label(&label).scroll_to_me();
    h.run_steps(3);
    h.get_by_label(&label).click();
    h.run_steps(2);
    settle(&mut h);
    assert_eq!(h.state().volume().expect("loaded").geometry.dims[2], 5);
    assert!(!h.state().picker_open());
}

#[test]
fn demo_structures_are_listed_and_can_be_hidden() {
    use ablaplan::anatomy::StructureKind;
    let mut h = demo();
    let kinds: Vec<StructureKind> = h.state().structures().items.iter().map(|s| s.kind).collect();
    for k in [
        StructureKind::Target,
        StructureKind::Vessel,
        StructureKind::Bowel,
        StructureKind::Nerve,
    ] {
        assert!(kinds.contains(&k), "demo has a {k:?}");
    }
    let aorta = h
        .state()
        .structures()
        .items
        .iter()
        .position(|s| s.name == "Aorta")
        .expect("aorta");
    h.get_by_label("Show Aorta").click();
    h.run_steps(2);
    assert!(!h.state().structures().items[aorta].visible);
    h.get_by_label("Show Aorta").click();
    h.run_steps(2);
    assert!(h.state().structures().items[aorta].visible);
}

#[test]
fn paint_a_stroke_then_undo_and_redo_it() {
    let mut h = demo();
    let before = h.state().structures().items.len();
    h.get_by_label("+ Nerve").click();
    h.run_steps(2);
    let set = h.state().structures();
    assert_eq!(set.items.len(), before + 1);
    let idx = set.selected.expect("the new structure is selected");
    assert_eq!(set.items[idx].mask().voxel_count(), 0);

    // The safety pass the new structure starts changes the panels when it ends: let it end
    // before clicking, or the click can land on a widget that moved.
    common::settle_jobs(&mut h);
    h.get_by_label("Brush").click();
    h.run_steps(2);
    assert_eq!(h.state().tool(), Tool::Brush);
    let c = view_centre(&h, "Axial view");
    drag(
        &mut h,
        c + egui::vec2(-60.0, 80.0),
        c + egui::vec2(40.0, 80.0),
        PointerButton::Primary,
    );
    let painted = h.state().structures().items[idx].mask().voxel_count();
    // A 4 mm brush dragged ~100 points on one slice paints far more than a single disc.
    let disc = (std::f64::consts::PI * 16.0 / (0.8 * 0.8)) as usize;
    assert!(painted > disc, "painted {painted} voxels, one disc is ≈{disc}");
    let slices: std::collections::BTreeSet<usize> = (0..h.state().volume().expect("vol").geometry.dims[2])
        .filter(|k| !h.state().structures().items[idx].mask().slice_runs(*k).is_empty())
        .collect();
    assert_eq!(slices.len(), 1, "a 2-D brush paints only the slice on screen");

    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(
        h.state().structures().items[idx].mask().voxel_count(),
        0,
        "the stroke is one undo step"
    );
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().structures().items[idx].mask().voxel_count(), painted);
}

#[test]
fn nerve_path_tool_makes_a_tube() {
    use ablaplan::anatomy::StructureKind;
    let mut h = demo();
    h.get_by_label("Nerve path").click();
    h.run_steps(2);
    assert_eq!(h.state().tool(), Tool::NervePath);
    // Two clicks 60 points apart on the axial view, then Finish.
    let c = view_centre(&h, "Axial view");
    for p in [c + egui::vec2(-30.0, 100.0), c + egui::vec2(30.0, 100.0)] {
        click_at(&mut h, p);
    }
    h.get_by_label("Finish nerve").click();
    h.run_steps(2);
    let set = h.state().structures();
    let nerve = set.items.last().expect("a new structure");
    assert_eq!(nerve.kind, StructureKind::Nerve);
    assert_eq!(nerve.name, "Nerve 2", "the demo already has one nerve");
    let ml = nerve.volume_ml(h.state().volume().expect("vol").geometry.spacing_mm);
    assert!(ml > 0.05, "tube volume {ml} mL");
}

#[test]
fn region_grow_previews_then_accepts_bowel_gas() {
    use ablaplan::anatomy::StructureKind;
    let mut h = demo();
    h.get_by_label("Grow").click();
    h.run_steps(2);
    h.state_mut().push(ablaplan::app::Command::SetGrowPreset(1)); // "Bowel gas", −1024…−500 HU
    h.run_steps(2);
    // Seed: a gas voxel inside the demo's bowel loop.
    let (seed, bowel_ml) = {
        let app = h.state();
        let vol = app.volume().expect("vol");
        let bowel = app
            .structures()
            .items
            .iter()
            .find(|s| s.kind == StructureKind::Bowel)
            .expect("bowel");
        let m = bowel.mask();
        let dims = m.dims();
        let v = (0..dims[2])
            .flat_map(|k| {
                m.slice_runs(k)
                    .iter()
                    .flat_map(move |r| (r.i0..r.i1).map(move |i| [i as usize, r.j as usize, k]))
            })
            .find(|[i, j, k]| vol.get(*i, *j, *k).is_some_and(|hu| hu < -800))
            .expect("gas in the bowel");
        let lps = vol
            .geometry
            .to_patient(&nalgebra::Vector3::new(v[0] as f64, v[1] as f64, v[2] as f64));
        (lps, bowel.volume_ml(vol.geometry.spacing_mm))
    };
    h.state_mut().push(ablaplan::app::Command::ToolClick {
        view: ViewKind::Axial,
        lps: seed,
    });
    settle(&mut h);
    h.get_by_label("Accept as new structure").click();
    h.run_steps(2);
    let set = h.state().structures();
    let grown = set.items.last().expect("grown structure");
    assert_eq!(grown.kind, StructureKind::Bowel);
    let g = grown.volume_ml(h.state().volume().expect("vol").geometry.spacing_mm);
    // The gas fills part of the lumen: more than nothing, less than the whole bowel (wall + fluid).
    assert!(
        g > 1.0 && g < bowel_ml,
        "grown {g:.1} mL vs bowel {bowel_ml:.1} mL"
    );
}

#[test]
fn opening_a_ct_with_its_rtstruct_offers_the_import() {
    let Some(mut h) = opened("pancreas-ct-rtstruct") else {
        return;
    };
    assert_eq!(h.state().volume().expect("CT").geometry.dims, [512, 512, 134]);
    assert!(
        matches!(h.state().prompt(), Some(ablaplan::app::Prompt::OfferImport(found)) if !found.is_empty()),
        "the RTSTRUCT next to the CT is offered"
    );
    h.get_by_label("Import all").click();
    h.run_steps(2);
    settle(&mut h);
    let names: Vec<String> = h
        .state()
        .structures()
        .items
        .iter()
        .map(|s| s.name.clone())
        .collect();
    assert!(names.len() >= 3, "{names:?}");
    let bowel = h
        .state()
        .structures()
        .items
        .iter()
        .filter(|s| s.kind == ablaplan::anatomy::StructureKind::Bowel)
        .count();
    assert!(
        bowel >= 1,
        "small bowel / stomach+duodenum map to Bowel: {names:?}"
    );
    // Toggle one imported structure off and back on.
    let first = names[0].clone();
    h.get_by_label(&format!("Show {first}")).click();
    h.run_steps(2);
    assert!(!h.state().structures().items[0].visible);
}

/// A minimal NIfTI-1 file (uint8, sform) written by hand, so this test needs no NIfTI writer.
fn write_nifti_u8(path: &std::path::Path, dims: [usize; 3], srow: [[f32; 4]; 3], data: &[u8]) {
    let mut h = vec![0u8; 352];
    h[0..4].copy_from_slice(&348i32.to_le_bytes());
    let mut put_i16 = |off: usize, v: i16| h[off..off + 2].copy_from_slice(&v.to_le_bytes());
    put_i16(40, 3);
    for (a, d) in dims.iter().enumerate() {
        put_i16(42 + 2 * a, *d as i16);
    }
    for a in 3..7 {
        put_i16(42 + 2 * a, 1);
    }
    put_i16(70, 2); // uint8
    put_i16(72, 8);
    put_i16(254, 1); // sform_code
    let mut put_f32 = |off: usize, v: f32| h[off..off + 4].copy_from_slice(&v.to_le_bytes());
    put_f32(76, 1.0);
    for a in 0..3 {
        let n = srow.iter().map(|row| row[a].powi(2)).sum::<f32>().sqrt();
        put_f32(80 + 4 * a, n);
    }
    put_f32(108, 352.0);
    put_f32(112, 1.0);
    for (r, row) in srow.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            put_f32(280 + 16 * r + 4 * c, *v);
        }
    }
    h[123] = 2;
    h[344..348].copy_from_slice(b"n+1\0");
    h.extend_from_slice(data);
    std::fs::write(path, h).expect("write NIfTI");
}

#[test]
fn importing_a_nifti_mask_folder_adds_named_structures() {
    use ablaplan::anatomy::StructureKind;
    let mut h = demo();
    let g = h.state().volume().expect("vol").geometry.clone();
    // A 10 × 8 × 4 block on the demo grid starting at voxel (200, 180, 60), written in RAS.
    let start = nalgebra::Vector3::new(200.0, 180.0, 60.0);
    let o = g.to_patient(&start);
    let s = g.spacing_mm;
    let srow = [
        [-(s[0] as f32), 0.0, 0.0, -(o.x as f32)],
        [0.0, -(s[1] as f32), 0.0, -(o.y as f32)],
        [0.0, 0.0, s[2] as f32, o.z as f32],
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    write_nifti_u8(&dir.path().join("aorta.nii"), [10, 8, 4], srow, &[1u8; 320]);
    let before = h.state().structures().items.len();
    h.state_mut().push(ablaplan::app::Command::ImportStructures {
        paths: vec![dir.path().to_path_buf()],
        allow_missing_frame_of_reference: false,
    });
    h.run_steps(2);
    settle(&mut h);
    let set = h.state().structures();
    assert_eq!(set.items.len(), before + 1, "{:?}", h.state().notices());
    let s = set.items.last().expect("imported");
    assert_eq!((s.name.as_str(), s.kind), ("aorta", StructureKind::Vessel));
    assert_eq!(
        s.mask().voxel_count(),
        320,
        "lands voxel for voxel on the CT grid"
    );
    assert!(s.mask().contains(200, 180, 60) && s.mask().contains(209, 187, 63));
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(
        h.state().structures().items.len(),
        before,
        "an import is undoable"
    );
}

/// A file dropped onto the window, as the windowing layer reports it.
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &std::path::Path {
        &self.0
    }
    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn dropping_a_dicom_folder_on_the_window_opens_it() {
    let Some(dir) = common::dicom_data(
        "derived-pancreas-edge-cases/transfer-syntaxes/jpeg-ls-lossless-1.2.840.10008.1.2.4.80",
    ) else {
        return;
    };
    let mut h = demo();
    h.input_mut()
        .dropped_files
        .push(std::sync::Arc::new(Dropped(dir)));
    h.run_steps(2);
    settle(&mut h);
    let vol = h.state().volume().expect("volume");
    assert_eq!(
        vol.geometry.dims,
        [512, 512, 8],
        "the 8-slice JPEG-LS series replaced the demo"
    );
    assert!(
        h.state().structures().items.is_empty(),
        "the demo's structures do not carry over"
    );
}
