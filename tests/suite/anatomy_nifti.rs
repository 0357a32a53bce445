//! NIfTI label-map import: files written here byte by byte (NIfTI-1 header, optional gzip)
//! with known affines, imported onto known CT grids.

use ablaplan::anatomy::nifti::{
    NiftiImportError, import_label_map_report, import_mask_folder_report, read_label_image,
};
use ablaplan::anatomy::{Provenance, StructureKind, import_label_map, import_mask_folder};
use ablaplan::geometry::VolumeGeometry;
use nalgebra::{Matrix3, Point3, Rotation3, UnitQuaternion, Vector3};
use std::path::{Path, PathBuf};

/// What goes into a test NIfTI-1 file.
#[derive(Clone)]
struct Nii {
    dims: [u16; 3],
    datatype: i16,
    bitpix: i16,
    /// pixdim[0] (qfac) .. pixdim[3].
    pixdim: [f32; 4],
    qform_code: i16,
    /// quatern_b, c, d, qoffset_x, y, z.
    quat: [f32; 6],
    sform_code: i16,
    srow: [[f32; 4]; 3],
    data: Vec<u8>,
}

impl Nii {
    fn u8_labels(dims: [u16; 3], labels: &[u8]) -> Self {
        Self {
            dims,
            datatype: 2,
            bitpix: 8,
            pixdim: [1.0, 1.0, 1.0, 1.0],
            qform_code: 0,
            quat: [0.0; 6],
            sform_code: 0,
            srow: [[0.0; 4]; 3],
            data: labels.to_vec(),
        }
    }

    fn with_sform(mut self, m: [[f64; 4]; 3]) -> Self {
        self.sform_code = 1;
        for (dst, row) in self.srow.iter_mut().zip(m.iter()) {
            for (d, v) in dst.iter_mut().zip(row) {
                *d = *v as f32;
            }
        }
        self.pixdim[1..4].copy_from_slice(&[
            col_norm(&m, 0) as f32,
            col_norm(&m, 1) as f32,
            col_norm(&m, 2) as f32,
        ]);
        self
    }

    fn bytes(&self) -> Vec<u8> {
        let mut h = vec![0u8; 352];
        let put_i16 = |h: &mut Vec<u8>, off: usize, v: i16| h[off..off + 2].copy_from_slice(&v.to_le_bytes());
        let put_f32 = |h: &mut Vec<u8>, off: usize, v: f32| h[off..off + 4].copy_from_slice(&v.to_le_bytes());
        h[0..4].copy_from_slice(&348i32.to_le_bytes());
        put_i16(&mut h, 40, 3);
        for a in 0..3 {
            put_i16(&mut h, 42 + 2 * a, self.dims[a] as i16);
        }
        for a in 3..7 {
            put_i16(&mut h, 42 + 2 * a, 1);
        }
        put_i16(&mut h, 70, self.datatype);
        put_i16(&mut h, 72, self.bitpix);
        for a in 0..4 {
            put_f32(&mut h, 76 + 4 * a, self.pixdim[a]);
        }
        put_f32(&mut h, 108, 352.0); // vox_offset
        put_f32(&mut h, 112, 1.0); // scl_slope
        h[123] = 2; // xyzt_units: mm
        put_i16(&mut h, 252, self.qform_code);
        put_i16(&mut h, 254, self.sform_code);
        for a in 0..6 {
            put_f32(&mut h, 256 + 4 * a, self.quat[a]);
        }
        for r in 0..3 {
            for c in 0..4 {
                put_f32(&mut h, 280 + 16 * r + 4 * c, self.srow[r][c]);
            }
        }
        h[344..348].copy_from_slice(b"n+1\0");
        h.extend_from_slice(&self.data);
        h
    }

    fn write(&self, path: &Path) {
        let bytes = self.bytes();
        let out = if path.to_string_lossy().ends_with(".gz") {
            gzip_stored(&bytes)
        } else {
            bytes
        };
        std::fs::write(path, out).expect("write the test NIfTI file");
    }
}

fn col_norm(m: &[[f64; 4]; 3], c: usize) -> f64 {
    (m[0][c].powi(2) + m[1][c].powi(2) + m[2][c].powi(2)).sqrt()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in data {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A valid gzip stream with stored (uncompressed) deflate blocks.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65535).collect()
    };
    for (n, c) in chunks.iter().enumerate() {
        out.push(u8::from(n + 1 == chunks.len()));
        let len = c.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn ct_axis() -> VolumeGeometry {
    VolumeGeometry::axis_aligned([20, 16, 10], [1.5, 1.25, 2.0], Point3::new(-10.0, 7.0, -30.0))
}

fn ct_oblique() -> VolumeGeometry {
    VolumeGeometry {
        dims: [24, 20, 12],
        spacing_mm: [1.0, 1.5, 2.5],
        origin_lps: Point3::new(-12.0, 4.0, -20.0),
        direction: *Rotation3::from_euler_angles(0.25, -0.3, 0.6).matrix(),
    }
}

/// A deterministic label pattern with a few labels (0 most common).
fn pattern(n: usize) -> Vec<u8> {
    (0..n)
        .map(|x| {
            let h = (x as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 59;
            [0, 0, 0, 52, 18, 200, 0, 79][(h % 8) as usize]
        })
        .collect()
}

/// The RAS sform of a CT grid (same voxels): ras = F (o + D S ijk), F = diag(−1, −1, 1).
fn sform_of(g: &VolumeGeometry) -> [[f64; 4]; 3] {
    let m = g.patient_from_voxel();
    let mut s = [[0.0; 4]; 3];
    for r in 0..3 {
        let sign = if r < 2 { -1.0 } else { 1.0 };
        for c in 0..4 {
            s[r][c] = sign * m[(r, c)];
        }
    }
    s
}

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary directory")
}

/// Every CT voxel of every structure must equal the label written at the same voxel.
fn assert_same_voxels(
    structures: &[ablaplan::anatomy::Structure],
    g: &VolumeGeometry,
    want: &dyn Fn(usize, usize, usize) -> u8,
) {
    let [nx, ny, nz] = g.dims;
    for (label, name, kind) in [
        (52u8, "aorta", StructureKind::Vessel),
        (18, "small_bowel", StructureKind::Bowel),
        (200, "label 200", StructureKind::Other),
        (79, "spinal_cord", StructureKind::Nerve),
    ] {
        let s = structures
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name}"));
        assert_eq!(s.kind, kind, "{name}");
        let mut count = 0;
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    let w = want(i, j, k) == label;
                    count += usize::from(w);
                    assert_eq!(s.mask().contains(i, j, k), w, "{name} at {i} {j} {k}");
                }
            }
        }
        assert!(count > 0);
    }
    assert_eq!(structures.len(), 4);
}

#[test]
fn same_grid_in_ras_round_trips_exactly() {
    let g = ct_axis();
    let [nx, ny, nz] = g.dims;
    let labels = pattern(nx * ny * nz);
    let dir = tmp();
    let path = dir.path().join("seg.nii");
    Nii::u8_labels([nx as u16, ny as u16, nz as u16], &labels)
        .with_sform(sform_of(&g))
        .write(&path);
    let s = import_label_map(&path, &g).unwrap();
    assert_same_voxels(&s, &g, &|i, j, k| labels[i + nx * (j + ny * k)]);
    // Names come from the TotalSegmentator table and the provenance names the file.
    let aorta = s.iter().find(|x| x.name == "aorta").unwrap();
    assert!(matches!(&aorta.provenance, Provenance::Imported { file, .. } if file == &path));
    // The sform is really RAS: the first NIfTI voxel is at RAS (10, −7, −30) = LPS (−10, 7, −30).
    let img = read_label_image(&path).unwrap();
    let p = img.ras_from_voxel * nalgebra::Vector4::new(0.0, 0.0, 0.0, 1.0);
    assert_eq!((p.x, p.y, p.z), (10.0, -7.0, -30.0));
}

#[test]
fn flipped_ras_storage_gz_round_trips_exactly() {
    // The usual RAS-oriented NIfTI: x and y stored reversed with positive sform diagonals
    // (i' = nx − 1 − i, j' = ny − 1 − j), gzip-compressed.
    let g = ct_axis();
    let [nx, ny, nz] = g.dims;
    let labels = pattern(nx * ny * nz);
    let mut flipped = vec![0u8; labels.len()];
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                flipped[(nx - 1 - i) + nx * ((ny - 1 - j) + ny * k)] = labels[i + nx * (j + ny * k)];
            }
        }
    }
    let o = g.origin_lps;
    let [sx, sy, sz] = g.spacing_mm;
    let sform = [
        [sx, 0.0, 0.0, -o.x - (nx as f64 - 1.0) * sx],
        [0.0, sy, 0.0, -o.y - (ny as f64 - 1.0) * sy],
        [0.0, 0.0, sz, o.z],
    ];
    let dir = tmp();
    let path = dir.path().join("seg.nii.gz");
    Nii::u8_labels([nx as u16, ny as u16, nz as u16], &flipped)
        .with_sform(sform)
        .write(&path);
    let s = import_label_map(&path, &g).unwrap();
    assert_same_voxels(&s, &g, &|i, j, k| labels[i + nx * (j + ny * k)]);
}

#[test]
fn oblique_qform_round_trips_exactly() {
    // Oblique CT; the NIfTI describes the same voxels through a qform (quaternion).
    let g = ct_oblique();
    let [nx, ny, nz] = g.dims;
    let labels = pattern(nx * ny * nz);
    let f = Matrix3::from_diagonal(&Vector3::new(-1.0, -1.0, 1.0));
    let r_ras = f * g.direction;
    let q = UnitQuaternion::from_matrix(&r_ras);
    let mut c = q.coords; // (i, j, k, w)
    if c.w < 0.0 {
        c = -c;
    }
    let off = f * g.origin_lps.coords;
    let mut nii = Nii::u8_labels([nx as u16, ny as u16, nz as u16], &labels);
    nii.qform_code = 1;
    nii.quat = [
        c.x as f32,
        c.y as f32,
        c.z as f32,
        off.x as f32,
        off.y as f32,
        off.z as f32,
    ];
    nii.pixdim = [
        1.0,
        g.spacing_mm[0] as f32,
        g.spacing_mm[1] as f32,
        g.spacing_mm[2] as f32,
    ];
    let dir = tmp();
    let path = dir.path().join("ob.nii");
    nii.write(&path);
    let s = import_label_map(&path, &g).unwrap();
    assert_same_voxels(&s, &g, &|i, j, k| labels[i + nx * (j + ny * k)]);

    // The same with qfac = −1 (third axis reversed in storage).
    let mut rev = vec![0u8; labels.len()];
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                rev[i + nx * (j + ny * (nz - 1 - k))] = labels[i + nx * (j + ny * k)];
            }
        }
    }
    // Flipping k: the rotation's third column is negated by qfac, and the offset moves to the
    // last slice.
    let last = g.to_patient(&Vector3::new(0.0, 0.0, nz as f64 - 1.0));
    let off2 = f * last.coords;
    let mut nii2 = nii.clone();
    nii2.data = rev;
    nii2.pixdim[0] = -1.0;
    nii2.quat[3..6].copy_from_slice(&[off2.x as f32, off2.y as f32, off2.z as f32]);
    let path2 = dir.path().join("ob_qfac.nii");
    nii2.write(&path2);
    let s2 = import_label_map(&path2, &g).unwrap();
    assert_same_voxels(&s2, &g, &|i, j, k| labels[i + nx * (j + ny * k)]);
}

#[test]
fn coarser_oblique_label_map_lands_where_its_shape_is() {
    // A sphere written in RAS on a coarse oblique NIfTI grid; imported onto an axis-aligned
    // CT, its voxels must sit around the sphere's LPS centre (a sign error in x or y would
    // move it 2 × 15 mm away).
    let ct = VolumeGeometry::axis_aligned([60, 60, 30], [1.0, 1.0, 2.0], Point3::new(-30.0, -30.0, -30.0));
    let centre_lps = Point3::new(15.0, -10.0, 0.0);
    let centre_ras = Vector3::new(-15.0, 10.0, 0.0);
    let radius = 9.0;
    let rot = *Rotation3::from_euler_angles(0.4, 0.2, -0.5).matrix();
    let sp = [2.0, 2.0, 2.5];
    let dims = [40usize, 40, 30];
    let origin_ras = Vector3::new(-40.0, -40.0, -35.0);
    let mut m = [[0.0; 4]; 3];
    for r in 0..3 {
        for c in 0..3 {
            m[r][c] = rot[(r, c)] * sp[c];
        }
        m[r][3] = origin_ras[r];
    }
    // Put the grid so that it covers the sphere: shift the origin to centre on it.
    let mid = Vector3::new(
        (dims[0] as f64 - 1.0) / 2.0,
        (dims[1] as f64 - 1.0) / 2.0,
        (dims[2] as f64 - 1.0) / 2.0,
    );
    let a3 = Matrix3::from_fn(|r, c| m[r][c]);
    let shift = centre_ras - a3 * mid;
    for r in 0..3 {
        m[r][3] = shift[r];
    }
    let mut data = vec![0u8; dims[0] * dims[1] * dims[2]];
    for k in 0..dims[2] {
        for j in 0..dims[1] {
            for i in 0..dims[0] {
                let p = a3 * Vector3::new(i as f64, j as f64, k as f64) + shift;
                if (p - centre_ras).norm() <= radius {
                    data[i + dims[0] * (j + dims[1] * k)] = 1;
                }
            }
        }
    }
    let dir = tmp();
    let path = dir.path().join("sphere.nii");
    Nii::u8_labels([dims[0] as u16, dims[1] as u16, dims[2] as u16], &data)
        .with_sform(m)
        .write(&path);
    let s = import_label_map(&path, &ct).unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].name, "spleen"); // label 1 in the TotalSegmentator table
    let mask = s[0].mask();
    // Half the NIfTI voxel diagonal: nearest-neighbour error bound.
    let tol = 0.5 * (sp[0] * sp[0] + sp[1] * sp[1] + sp[2] * sp[2]).sqrt();
    let [nx, ny, nz] = ct.dims;
    let mut n_in = 0;
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let d = (ct.to_patient(&Vector3::new(i as f64, j as f64, k as f64)) - centre_lps).norm();
                if mask.contains(i, j, k) {
                    n_in += 1;
                    assert!(d <= radius + tol, "voxel {i} {j} {k} at {d} mm");
                } else {
                    assert!(d >= radius - tol, "voxel {i} {j} {k} at {d} mm missing");
                }
            }
        }
    }
    let vol = n_in as f64 * 2.0;
    let want = 4.0 / 3.0 * std::f64::consts::PI * radius.powi(3);
    assert!((vol / want - 1.0).abs() < 0.15, "{vol} vs {want}");
}

#[test]
fn folder_of_binary_masks() {
    let g = ct_axis();
    let [nx, ny, nz] = g.dims;
    let n = nx * ny * nz;
    let d3 = [nx as u16, ny as u16, nz as u16];
    let dir = tmp();
    let aorta: Vec<u8> = (0..n).map(|x| u8::from(x % 7 == 0)).collect();
    let colon: Vec<u8> = (0..n).map(|x| if x % 5 == 1 { 255 } else { 0 }).collect();
    Nii::u8_labels(d3, &aorta)
        .with_sform(sform_of(&g))
        .write(&dir.path().join("aorta.nii.gz"));
    Nii::u8_labels(d3, &colon)
        .with_sform(sform_of(&g))
        .write(&dir.path().join("colon.nii"));
    Nii::u8_labels(d3, &vec![0; n])
        .with_sform(sform_of(&g))
        .write(&dir.path().join("liver.nii.gz"));
    std::fs::write(dir.path().join("notes.txt"), "not a mask").unwrap();
    let r = import_mask_folder_report(dir.path(), &g).unwrap();
    let names: Vec<&str> = r.structures.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["aorta", "colon"]);
    assert_eq!(r.structures[0].kind, StructureKind::Vessel);
    assert_eq!(r.structures[1].kind, StructureKind::Bowel);
    assert!(
        r.warnings.iter().any(|w| w.contains("1 empty")),
        "{:?}",
        r.warnings
    );
    for (s, src) in r.structures.iter().zip([&aorta, &colon]) {
        for k in 0..nz {
            for j in 0..ny {
                for i in 0..nx {
                    assert_eq!(s.mask().contains(i, j, k), src[i + nx * (j + ny * k)] != 0);
                }
            }
        }
    }
    assert_eq!(import_mask_folder(dir.path(), &g).unwrap().len(), 2);
    let empty = tmp();
    assert!(matches!(
        import_mask_folder(empty.path(), &g),
        Err(NiftiImportError::NoNiftiFiles { .. })
    ));
}

fn err_of(path: &Path, g: &VolumeGeometry) -> NiftiImportError {
    match import_label_map(path, g) {
        Ok(s) => panic!("expected an error, got {} structures", s.len()),
        Err(e) => e,
    }
}

#[test]
fn errors_name_the_file_and_the_problem() {
    let g = ct_axis();
    let [nx, ny, nz] = g.dims;
    let n = nx * ny * nz;
    let d3 = [nx as u16, ny as u16, nz as u16];
    let dir = tmp();
    let p = |name: &str| -> PathBuf { dir.path().join(name) };

    std::fs::write(p("junk.nii"), vec![7u8; 600]).unwrap();
    let e = err_of(&p("junk.nii"), &g);
    assert!(matches!(e, NiftiImportError::NotNifti { .. }), "{e}");
    assert!(e.to_string().contains("junk.nii") && e.to_string().contains("not a readable NIfTI"));

    let e = err_of(&p("missing.nii"), &g);
    assert!(matches!(e, NiftiImportError::Io { .. }), "{e}");

    let mut rgb = Nii::u8_labels(d3, &vec![1; 3 * n]).with_sform(sform_of(&g));
    rgb.datatype = 128;
    rgb.bitpix = 24;
    rgb.write(&p("rgb.nii"));
    let e = err_of(&p("rgb.nii"), &g);
    assert!(
        matches!(&e, NiftiImportError::UnsupportedDatatype { datatype, .. } if datatype == "RGB"),
        "{e}"
    );
    assert!(e.to_string().contains("rgb.nii"));

    Nii::u8_labels(d3, &vec![0; n])
        .with_sform(sform_of(&g))
        .write(&p("zeros.nii"));
    let e = err_of(&p("zeros.nii"), &g);
    assert!(matches!(e, NiftiImportError::NoLabels { .. }), "{e}");
    assert!(e.to_string().contains("zeros.nii") && e.to_string().contains("no labels"));

    let mut sing = sform_of(&g);
    sing[2] = [0.0, 0.0, 0.0, 5.0];
    Nii::u8_labels(d3, &vec![1; n])
        .with_sform(sing)
        .write(&p("singular.nii"));
    let e = err_of(&p("singular.nii"), &g);
    assert!(matches!(e, NiftiImportError::AffineSingular { .. }), "{e}");

    let mut far = sform_of(&g);
    far[2][3] += 500.0;
    Nii::u8_labels(d3, &vec![3; n])
        .with_sform(far)
        .write(&p("far.nii"));
    let e = err_of(&p("far.nii"), &g);
    let NiftiImportError::NoOverlap {
        nifti_lps, ct_lps, ..
    } = &e
    else {
        panic!("expected NoOverlap, got {e}");
    };
    // CT spans z −30 … −12; the label map 500 mm higher.
    assert_eq!(ct_lps.0, [-10.0, 7.0, -30.0]);
    assert_eq!(ct_lps.1, [-10.0 + 19.0 * 1.5, 7.0 + 15.0 * 1.25, -12.0]);
    assert_eq!((nifti_lps.0[2], nifti_lps.1[2]), (470.0, 488.0));
    let msg = e.to_string();
    assert!(
        msg.contains("far.nii") && msg.contains("does not intersect the CT"),
        "{msg}"
    );
}

#[test]
fn no_sform_or_qform_falls_back_to_pixdim_with_a_warning() {
    // Method 1 (pixdim only): voxel (i, j, k) at RAS (i dx, j dy, k dz), i.e. LPS (−i dx, −j dy, k dz).
    let g = VolumeGeometry::axis_aligned([8, 8, 4], [2.0, 2.0, 3.0], Point3::new(-14.0, -14.0, 0.0));
    let mut labels = vec![0u8; 8 * 8 * 4];
    labels[3 + 8 * (2 + 8)] = 52; // NIfTI voxel (3, 2, 1) → LPS (−6, −4, 3)
    let mut nii = Nii::u8_labels([8, 8, 4], &labels);
    nii.pixdim = [1.0, 2.0, 2.0, 3.0];
    let dir = tmp();
    let path = dir.path().join("plain.nii");
    nii.write(&path);
    let r = import_label_map_report(&path, &g).unwrap();
    assert!(
        r.warnings.iter().any(|w| w.contains("neither sform nor qform")),
        "{:?}",
        r.warnings
    );
    let m = r.structures[0].mask();
    assert_eq!(m.voxel_count(), 1);
    // LPS (−6, −4, 3) on the CT: i = (−6 + 14) / 2 = 4, j = 5, k = 1.
    assert!(m.contains(4, 5, 1));
}

#[test]
fn float_and_wide_integer_label_maps() {
    let g = VolumeGeometry::axis_aligned([4, 3, 2], [1.0, 1.0, 1.0], Point3::new(0.0, 0.0, 0.0));
    let n = 24;
    let dir = tmp();
    // float32: 52.0 → aorta, 2.4 → rounded to 2 (kidney_right) with a warning.
    let mut vals = vec![0f32; n];
    vals[5] = 52.0;
    vals[17] = 2.4;
    let mut nii = Nii::u8_labels([4, 3, 2], &[]).with_sform(sform_of(&g));
    nii.datatype = 16;
    nii.bitpix = 32;
    nii.data = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
    let path = dir.path().join("float.nii");
    nii.write(&path);
    let r = import_label_map_report(&path, &g).unwrap();
    let names: Vec<&str> = r.structures.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["kidney_right", "aorta"]);
    assert!(r.structures[1].mask().contains(1, 1, 0) && r.structures[0].mask().contains(1, 1, 1));
    assert!(
        r.warnings.iter().any(|w| w.contains("rounded")),
        "{:?}",
        r.warnings
    );
    // int32 with a label beyond u16.
    let mut wide = nii.clone();
    wide.datatype = 8;
    let mut iv = vec![0i32; n];
    iv[3] = 70_000;
    wide.data = iv.iter().flat_map(|v| v.to_le_bytes()).collect();
    let path = dir.path().join("wide.nii");
    wide.write(&path);
    assert!(matches!(
        import_label_map(&path, &g),
        Err(NiftiImportError::LabelTooLarge { value, .. }) if value == 70_000.0
    ));
}

/// Timing on a realistic size (run with `--release --ignored --nocapture`; numbers go in the
/// issue notes, not in assertions).
#[test]
#[ignore = "timing only"]
fn large_multi_label_map_timing() {
    let g = VolumeGeometry::axis_aligned(
        [512, 512, 134],
        [0.8, 0.8, 3.0],
        Point3::new(-200.0, -200.0, -400.0),
    );
    let [nx, ny, nz] = g.dims;
    let mut labels = vec![0u8; nx * ny * nz];
    for k in 0..nz {
        for j in 0..ny {
            for i in 0..nx {
                let (x, y) = (i as i64 - 256, j as i64 - 256);
                if x * x + y * y < 200 * 200 {
                    labels[i + nx * (j + ny * k)] = (1 + ((i / 40 + j / 40 + k / 10) % 117)) as u8;
                }
            }
        }
    }
    let dir = tmp();
    let path = dir.path().join("big.nii.gz");
    Nii::u8_labels([nx as u16, ny as u16, nz as u16], &labels)
        .with_sform(sform_of(&g))
        .write(&path);
    let t = std::time::Instant::now();
    let s = import_label_map(&path, &g).unwrap();
    eprintln!("NIfTI 512×512×134, {} labels: {:?}", s.len(), t.elapsed());
    let mut present: Vec<u8> = labels.iter().copied().filter(|l| *l != 0).collect();
    present.sort_unstable();
    present.dedup();
    assert_eq!(s.len(), present.len());
}
