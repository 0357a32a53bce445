//! RT Structure Set (SOP class 1.2.840.10008.5.1.4.1.1.481.3) of the plan's regions: each
//! region an ROI, each of its mask slices closed planar contours by marching squares
//! (`contour.rs`) on the CT slice plane, with the CT image of that slice referenced where known.
//! Read back with ablaplan's rule (voxel centres inside or on the contour) the contours give the
//! masks voxel for voxel.

use dicom_core::VR;
use dicom_dictionary_std::tags;

use super::contour::mask_loops;
use super::elements::{Obj, fit, put_ds, put_seq, put_str, put_strs, to_part10_bytes};
use super::{
    DicomExportError, ExportRegion, ExportedObject, ObjectContext, RTSTRUCT_SERIES_NUMBER, file_name,
    put_common, uid,
};

pub const RTSTRUCT_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.481.3";
/// The SOP class RT objects give their referenced study (Detached Study Management, retired,
/// still what the RT modules ask for).
const STUDY_REF_SOP_CLASS: &str = "1.2.840.10008.3.1.2.3.1";

/// The encoded RTSTRUCT of `regions`.
pub fn rtstruct_object(
    ctx: &ObjectContext<'_>,
    regions: &[ExportRegion],
) -> Result<ExportedObject, DicomExportError> {
    let g = ctx.geometry;
    let [nx, ny, nz] = g.dims;
    let sop_instance = uid::new_uid();
    let series = uid::new_uid();
    let for_uid = &ctx.ids.frame_of_reference_uid;
    let mut o = Obj::new_empty();
    put_common(&mut o, ctx, RTSTRUCT_SOP_CLASS, &sop_instance);
    // The RT Structure Set IOD has no Content Date/Time (it has Structure Set Date/Time) and
    // includes the Frame of Reference module.
    o.remove_element(tags::CONTENT_DATE);
    o.remove_element(tags::CONTENT_TIME);
    put_str(&mut o, tags::FRAME_OF_REFERENCE_UID, VR::UI, for_uid);
    put_str(&mut o, tags::POSITION_REFERENCE_INDICATOR, VR::LO, "");
    put_str(&mut o, tags::MODALITY, VR::CS, "RTSTRUCT");
    put_str(&mut o, tags::SERIES_INSTANCE_UID, VR::UI, &series);
    put_strs(
        &mut o,
        tags::SERIES_NUMBER,
        VR::IS,
        &[RTSTRUCT_SERIES_NUMBER.to_string()],
    );
    put_str(
        &mut o,
        tags::SERIES_DESCRIPTION,
        VR::LO,
        "ablaplan plan: structures and zones",
    );
    put_str(&mut o, tags::OPERATORS_NAME, VR::PN, "");
    put_strs(&mut o, tags::INSTANCE_NUMBER, VR::IS, &["1".into()]);
    put_str(&mut o, tags::STRUCTURE_SET_LABEL, VR::SH, "ABLAPLAN");
    put_str(&mut o, tags::STRUCTURE_SET_NAME, VR::LO, "ablaplan plan");
    put_str(&mut o, tags::STRUCTURE_SET_DATE, VR::DA, &ctx.date);
    put_str(&mut o, tags::STRUCTURE_SET_TIME, VR::TM, &ctx.time);

    // Referenced frame of reference → study → series → the CT images (when known).
    let mut rfor = Obj::new_empty();
    put_str(&mut rfor, tags::FRAME_OF_REFERENCE_UID, VR::UI, for_uid);
    let images: Vec<Obj> = (0..nz).filter_map(|k| super::ct_image_ref(ctx, k)).collect();
    if !images.is_empty() && !ctx.meta.series_instance_uid.trim().is_empty() {
        let mut se = Obj::new_empty();
        put_str(
            &mut se,
            tags::SERIES_INSTANCE_UID,
            VR::UI,
            ctx.meta.series_instance_uid.trim(),
        );
        put_seq(&mut se, tags::CONTOUR_IMAGE_SEQUENCE, images);
        let mut st = Obj::new_empty();
        put_str(
            &mut st,
            tags::REFERENCED_SOP_CLASS_UID,
            VR::UI,
            STUDY_REF_SOP_CLASS,
        );
        put_str(
            &mut st,
            tags::REFERENCED_SOP_INSTANCE_UID,
            VR::UI,
            &ctx.ids.study_uid,
        );
        put_seq(&mut st, tags::RT_REFERENCED_SERIES_SEQUENCE, vec![se]);
        put_seq(&mut rfor, tags::RT_REFERENCED_STUDY_SEQUENCE, vec![st]);
    }
    put_seq(&mut o, tags::REFERENCED_FRAME_OF_REFERENCE_SEQUENCE, vec![rfor]);

    let mut rois = Vec::new();
    let mut roi_contours = Vec::new();
    let mut observations = Vec::new();
    let mut dense = vec![false; nx * ny];
    for (n, r) in regions.iter().enumerate() {
        let number = (n + 1).to_string();
        let mut roi = Obj::new_empty();
        put_strs(&mut roi, tags::ROI_NUMBER, VR::IS, std::slice::from_ref(&number));
        put_str(&mut roi, tags::REFERENCED_FRAME_OF_REFERENCE_UID, VR::UI, for_uid);
        put_str(&mut roi, tags::ROI_NAME, VR::LO, &fit(&r.label, 64));
        put_str(&mut roi, tags::ROI_DESCRIPTION, VR::ST, &r.description);
        put_str(&mut roi, tags::ROI_GENERATION_ALGORITHM, VR::CS, r.algorithm_type);
        rois.push(roi);

        let mut contours = Vec::new();
        for k in 0..nz {
            if r.mask.slice_runs(k).is_empty() {
                continue;
            }
            r.mask.fill_slice_dense(k, &mut dense);
            for lp in mask_loops(&dense, nx, ny) {
                let mut data = Vec::with_capacity(lp.len() * 3);
                for [i, j] in &lp {
                    let p = g.to_patient(&nalgebra::Vector3::new(*i, *j, k as f64));
                    data.extend([p.x, p.y, p.z]);
                }
                let mut c = Obj::new_empty();
                if let Some(im) = super::ct_image_ref(ctx, k) {
                    put_seq(&mut c, tags::CONTOUR_IMAGE_SEQUENCE, vec![im]);
                }
                put_strs(
                    &mut c,
                    tags::CONTOUR_NUMBER,
                    VR::IS,
                    &[(contours.len() + 1).to_string()],
                );
                put_str(&mut c, tags::CONTOUR_GEOMETRIC_TYPE, VR::CS, "CLOSED_PLANAR");
                put_strs(
                    &mut c,
                    tags::NUMBER_OF_CONTOUR_POINTS,
                    VR::IS,
                    &[lp.len().to_string()],
                );
                put_ds(&mut c, tags::CONTOUR_DATA, &data);
                contours.push(c);
            }
        }
        let mut rc = Obj::new_empty();
        put_strs(
            &mut rc,
            tags::ROI_DISPLAY_COLOR,
            VR::IS,
            &r.colour.map(|c| c.to_string()),
        );
        put_seq(&mut rc, tags::CONTOUR_SEQUENCE, contours);
        put_strs(
            &mut rc,
            tags::REFERENCED_ROI_NUMBER,
            VR::IS,
            std::slice::from_ref(&number),
        );
        roi_contours.push(rc);

        let mut ob = Obj::new_empty();
        put_strs(
            &mut ob,
            tags::OBSERVATION_NUMBER,
            VR::IS,
            std::slice::from_ref(&number),
        );
        put_strs(
            &mut ob,
            tags::REFERENCED_ROI_NUMBER,
            VR::IS,
            std::slice::from_ref(&number),
        );
        put_seq(
            &mut ob,
            tags::RTROI_IDENTIFICATION_CODE_SEQUENCE,
            vec![super::elements::code_item(&r.codes.type_)],
        );
        put_str(
            &mut ob,
            tags::RTROI_INTERPRETED_TYPE,
            VR::CS,
            r.rt_interpreted_type,
        );
        put_str(&mut ob, tags::ROI_INTERPRETER, VR::PN, "");
        observations.push(ob);
    }
    put_seq(&mut o, tags::STRUCTURE_SET_ROI_SEQUENCE, rois);
    put_seq(&mut o, tags::ROI_CONTOUR_SEQUENCE, roi_contours);
    put_seq(&mut o, tags::RTROI_OBSERVATIONS_SEQUENCE, observations);
    put_str(&mut o, tags::APPROVAL_STATUS, VR::CS, "UNAPPROVED");
    let bytes = to_part10_bytes(o)?;
    Ok(ExportedObject {
        modality: "RTSTRUCT",
        file_name: file_name("RTSTRUCT", &sop_instance, None),
        sop_instance_uid: sop_instance,
        series_instance_uid: series,
        bytes,
    })
}
