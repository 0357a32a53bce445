//! Binary DICOM Segmentation (SOP class 1.2.840.10008.5.1.4.1.1.66.4) of the plan's regions on
//! the CT grid: one segment per region, one 1-bit frame per segment and CT slice that holds any
//! of its voxels, frames ordered by segment then slice. Shared functional groups: the CT's
//! orientation and pixel measures; per frame: its plane position, its segment, its dimension
//! index values (segment, slice) and — where the slice is a CT image — the CT image it was
//! derived from. The Common Instance Reference module lists those CT images.

use dicom_core::VR;
use dicom_dictionary_std::tags;

use super::elements::{
    Obj, code_item, cs, fit, put_at, put_ds, put_ob, put_seq, put_str, put_strs, put_ul, put_us,
    to_part10_bytes,
};
use super::{
    DicomExportError, ExportRegion, ExportedObject, ObjectContext, SEG_SERIES_NUMBER, file_name, put_common,
    uid,
};

pub const SEG_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.66.4";

/// sRGB (8 bit) → DICOM CIELab (PCS-scaled 0…65535, D65), the inverse of
/// `dicom::structset::cielab_to_srgb`.
pub fn srgb_to_cielab(rgb: [u8; 3]) -> [u16; 3] {
    let lin = |c: u8| {
        let c = f64::from(c) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let (r, g, b) = (lin(rgb[0]), lin(rgb[1]), lin(rgb[2]));
    let x = 0.4124564 * r + 0.3575761 * g + 0.1804375 * b;
    let y = 0.2126729 * r + 0.7151522 * g + 0.0721750 * b;
    let z = 0.0193339 * r + 0.1191920 * g + 0.9503041 * b;
    let f = |t: f64| {
        if t > (6.0f64 / 29.0).powi(3) {
            t.cbrt()
        } else {
            t / (3.0 * (6.0f64 / 29.0).powi(2)) + 4.0 / 29.0
        }
    };
    let (fx, fy, fz) = (f(x / 0.95047), f(y), f(z / 1.08883));
    let l = 116.0 * fy - 16.0;
    let a = 500.0 * (fx - fy);
    let bb = 200.0 * (fy - fz);
    let scale = |v: f64, lo: f64, span: f64| ((v - lo) / span * 65535.0).round().clamp(0.0, 65535.0) as u16;
    [
        scale(l, 0.0, 100.0),
        scale(a, -128.0, 255.0),
        scale(bb, -128.0, 255.0),
    ]
}

/// The CT image of slice `k`, when the volume is the series' own planes.
fn source_image_item(ctx: &ObjectContext<'_>, k: usize) -> Option<Obj> {
    let mut src = super::ct_image_ref(ctx, k)?;
    put_seq(
        &mut src,
        tags::PURPOSE_OF_REFERENCE_CODE_SEQUENCE,
        vec![code_item(&super::elements::Code::new(
            "121322",
            "DCM",
            "Source image for image processing operation",
        ))],
    );
    let mut d = Obj::new_empty();
    put_seq(
        &mut d,
        tags::DERIVATION_CODE_SEQUENCE,
        vec![code_item(&super::elements::Code::new(
            "113076",
            "DCM",
            "Segmentation",
        ))],
    );
    put_seq(&mut d, tags::SOURCE_IMAGE_SEQUENCE, vec![src]);
    Some(d)
}

/// The Referenced Series Sequence (Common Instance Reference) of the CT images, if known.
pub fn referenced_series_item(ctx: &ObjectContext<'_>) -> Option<Obj> {
    if ctx.meta.slice_refs.is_empty() || ctx.meta.series_instance_uid.trim().is_empty() {
        return None;
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut items = Vec::new();
    for r in &ctx.meta.slice_refs {
        if seen.insert(r.sop_instance_uid.clone()) {
            let mut it = Obj::new_empty();
            put_str(&mut it, tags::REFERENCED_SOP_CLASS_UID, VR::UI, &r.sop_class_uid);
            put_str(
                &mut it,
                tags::REFERENCED_SOP_INSTANCE_UID,
                VR::UI,
                &r.sop_instance_uid,
            );
            items.push(it);
        }
    }
    let mut s = Obj::new_empty();
    put_str(
        &mut s,
        tags::SERIES_INSTANCE_UID,
        VR::UI,
        ctx.meta.series_instance_uid.trim(),
    );
    put_seq(&mut s, tags::REFERENCED_INSTANCE_SEQUENCE, items);
    Some(s)
}

/// The encoded SEG of `regions` (at most 65535).
pub fn seg_object(
    ctx: &ObjectContext<'_>,
    regions: &[ExportRegion],
) -> Result<ExportedObject, DicomExportError> {
    let g = ctx.geometry;
    let [nx, ny, nz] = g.dims;
    if regions.len() > usize::from(u16::MAX) {
        return Err(DicomExportError::Input(format!(
            "{} regions; a SEG holds at most 65535",
            regions.len()
        )));
    }
    if nx > usize::from(u16::MAX) || ny > usize::from(u16::MAX) {
        return Err(DicomExportError::Input(format!(
            "a {nx} × {ny} slice is too large for DICOM"
        )));
    }
    let sop_instance = uid::new_uid();
    let series = uid::new_uid();
    let mut o = Obj::new_empty();
    put_common(&mut o, ctx, SEG_SOP_CLASS, &sop_instance);
    put_str(&mut o, tags::MODALITY, VR::CS, "SEG");
    put_str(&mut o, tags::SERIES_INSTANCE_UID, VR::UI, &series);
    put_strs(
        &mut o,
        tags::SERIES_NUMBER,
        VR::IS,
        &[SEG_SERIES_NUMBER.to_string()],
    );
    put_str(
        &mut o,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        "ablaplan plan: structures and zones",
    );
    put_strs(&mut o, tags::INSTANCE_NUMBER, VR::IS, &["1".into()]);
    put_str(
        &mut o,
        tags::FRAME_OF_REFERENCE_UID,
        VR::UI,
        &ctx.ids.frame_of_reference_uid,
    );
    put_str(&mut o, tags::POSITION_REFERENCE_INDICATOR, VR::LO, "");
    put_str(&mut o, tags::DEVICE_SERIAL_NUMBER, VR::LO, "0");
    put_strs(
        &mut o,
        tags::IMAGE_TYPE,
        VR::CS,
        &["DERIVED".into(), "PRIMARY".into()],
    );
    put_str(&mut o, tags::CONTENT_LABEL, VR::CS, &cs("ABLAPLAN_PLAN"));
    put_str(
        &mut o,
        tags::CONTENT_DESCRIPTION,
        VR::LO,
        "Structures and predicted zones",
    );
    put_str(&mut o, tags::CONTENT_CREATOR_NAME, VR::PN, "");
    put_str(&mut o, tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00");
    put_us(&mut o, tags::SAMPLES_PER_PIXEL, &[1]);
    put_str(&mut o, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2");
    put_us(&mut o, tags::ROWS, &[ny as u16]);
    put_us(&mut o, tags::COLUMNS, &[nx as u16]);
    put_us(&mut o, tags::BITS_ALLOCATED, &[1]);
    put_us(&mut o, tags::BITS_STORED, &[1]);
    put_us(&mut o, tags::HIGH_BIT, &[0]);
    put_us(&mut o, tags::PIXEL_REPRESENTATION, &[0]);
    put_str(&mut o, tags::SEGMENTATION_TYPE, VR::CS, "BINARY");

    // Segments.
    let segments: Vec<Obj> = regions
        .iter()
        .enumerate()
        .map(|(n, r)| {
            let mut s = Obj::new_empty();
            put_us(&mut s, tags::SEGMENT_NUMBER, &[(n + 1) as u16]);
            put_str(&mut s, tags::SEGMENT_LABEL, VR::LO, &fit(&r.label, 64));
            put_str(&mut s, tags::SEGMENT_DESCRIPTION, VR::ST, &r.description);
            put_str(&mut s, tags::SEGMENT_ALGORITHM_TYPE, VR::CS, r.algorithm_type);
            if r.algorithm_type != "MANUAL" {
                put_str(
                    &mut s,
                    tags::SEGMENT_ALGORITHM_NAME,
                    VR::LO,
                    &fit(&r.algorithm_name, 64),
                );
            }
            put_seq(
                &mut s,
                tags::SEGMENTED_PROPERTY_CATEGORY_CODE_SEQUENCE,
                vec![code_item(&r.codes.category)],
            );
            put_seq(
                &mut s,
                tags::SEGMENTED_PROPERTY_TYPE_CODE_SEQUENCE,
                vec![code_item(&r.codes.type_)],
            );
            put_us(
                &mut s,
                tags::RECOMMENDED_DISPLAY_CIE_LAB_VALUE,
                &srgb_to_cielab(r.colour),
            );
            s
        })
        .collect();
    put_seq(&mut o, tags::SEGMENT_SEQUENCE, segments);

    // Dimensions: segment, then position.
    let dim_uid = uid::new_uid();
    let mut org = Obj::new_empty();
    put_str(&mut org, tags::DIMENSION_ORGANIZATION_UID, VR::UI, &dim_uid);
    put_seq(&mut o, tags::DIMENSION_ORGANIZATION_SEQUENCE, vec![org]);
    let dim = |pointer, group, label: &str| {
        let mut d = Obj::new_empty();
        put_str(&mut d, tags::DIMENSION_ORGANIZATION_UID, VR::UI, &dim_uid);
        put_at(&mut d, tags::DIMENSION_INDEX_POINTER, pointer);
        put_at(&mut d, tags::FUNCTIONAL_GROUP_POINTER, group);
        put_str(&mut d, tags::DIMENSION_DESCRIPTION_LABEL, VR::LO, label);
        d
    };
    put_seq(
        &mut o,
        tags::DIMENSION_INDEX_SEQUENCE,
        vec![
            dim(
                tags::REFERENCED_SEGMENT_NUMBER,
                tags::SEGMENT_IDENTIFICATION_SEQUENCE,
                "Referenced Segment Number",
            ),
            dim(
                tags::IMAGE_POSITION_PATIENT,
                tags::PLANE_POSITION_SEQUENCE,
                "Image Position Patient",
            ),
        ],
    );

    // Shared functional groups: orientation and pixel measures of the CT.
    let dir = g.direction;
    let iop = [
        dir[(0, 0)],
        dir[(1, 0)],
        dir[(2, 0)],
        dir[(0, 1)],
        dir[(1, 1)],
        dir[(2, 1)],
    ];
    let mut orient = Obj::new_empty();
    put_ds(&mut orient, tags::IMAGE_ORIENTATION_PATIENT, &iop);
    let mut measures = Obj::new_empty();
    put_ds(
        &mut measures,
        tags::PIXEL_SPACING,
        &[g.spacing_mm[1], g.spacing_mm[0]],
    );
    put_ds(
        &mut measures,
        tags::SLICE_THICKNESS,
        &[ctx.meta.slice_thickness_mm.unwrap_or(g.spacing_mm[2])],
    );
    put_ds(&mut measures, tags::SPACING_BETWEEN_SLICES, &[g.spacing_mm[2]]);
    let mut shared = Obj::new_empty();
    put_seq(&mut shared, tags::PLANE_ORIENTATION_SEQUENCE, vec![orient]);
    put_seq(&mut shared, tags::PIXEL_MEASURES_SEQUENCE, vec![measures]);
    put_seq(&mut o, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE, vec![shared]);

    // Frames.
    let plane = nx * ny;
    let mut frames: Vec<Obj> = Vec::new();
    let mut bits: Vec<u8> = Vec::new();
    let mut nbit = 0usize;
    let mut dense = vec![false; plane];
    for (n, r) in regions.iter().enumerate() {
        for k in 0..nz {
            if r.mask.slice_runs(k).is_empty() {
                continue;
            }
            r.mask.fill_slice_dense(k, &mut dense);
            bits.resize((nbit + plane).div_ceil(8), 0);
            for (p, v) in dense.iter().enumerate() {
                if *v {
                    let b = nbit + p;
                    bits[b / 8] |= 1 << (b % 8);
                }
            }
            nbit += plane;
            let mut f = Obj::new_empty();
            if let Some(d) = source_image_item(ctx, k) {
                put_seq(&mut f, tags::DERIVATION_IMAGE_SEQUENCE, vec![d]);
            }
            let mut content = Obj::new_empty();
            put_ul(
                &mut content,
                tags::DIMENSION_INDEX_VALUES,
                &[(n + 1) as u32, (k + 1) as u32],
            );
            put_seq(&mut f, tags::FRAME_CONTENT_SEQUENCE, vec![content]);
            let ipp = g.to_patient(&nalgebra::Vector3::new(0.0, 0.0, k as f64));
            let mut pos = Obj::new_empty();
            put_ds(&mut pos, tags::IMAGE_POSITION_PATIENT, &[ipp.x, ipp.y, ipp.z]);
            put_seq(&mut f, tags::PLANE_POSITION_SEQUENCE, vec![pos]);
            let mut ident = Obj::new_empty();
            put_us(&mut ident, tags::REFERENCED_SEGMENT_NUMBER, &[(n + 1) as u16]);
            put_seq(&mut f, tags::SEGMENT_IDENTIFICATION_SEQUENCE, vec![ident]);
            frames.push(f);
        }
    }
    if frames.is_empty() {
        return Err(DicomExportError::Input("every region is empty".into()));
    }
    put_strs(
        &mut o,
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        &[frames.len().to_string()],
    );
    put_seq(&mut o, tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE, frames);
    if let Some(s) = referenced_series_item(ctx) {
        put_seq(&mut o, tags::REFERENCED_SERIES_SEQUENCE, vec![s]);
    }
    if bits.len() % 2 == 1 {
        bits.push(0);
    }
    put_ob(&mut o, tags::PIXEL_DATA, bits);
    let bytes = to_part10_bytes(o)?;
    Ok(ExportedObject {
        modality: "SEG",
        file_name: file_name("SEG", &sop_instance, None),
        sop_instance_uid: sop_instance,
        series_instance_uid: series,
        bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dicom::cielab_to_srgb;

    #[test]
    fn cielab_round_trips_through_the_importers_conversion() {
        for rgb in [
            [255, 0, 0],
            [0, 255, 0],
            [0, 0, 255],
            [255, 140, 30],
            [40, 90, 255],
            [128, 128, 128],
            [0, 0, 0],
        ] {
            let back = cielab_to_srgb(srgb_to_cielab(rgb));
            for c in 0..3 {
                assert!(
                    (i32::from(back[c]) - i32::from(rgb[c])).abs() <= 1,
                    "{rgb:?} → {back:?}"
                );
            }
        }
    }
}
