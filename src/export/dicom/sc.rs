//! Secondary Capture Image (SOP class 1.2.840.10008.5.1.4.1.1.7) of a rendered image (the
//! board slide, an exported view): 8-bit RGB, in the CT's study, its own series. Burned In
//! Annotation says whether the pixels show text that identifies the patient.

use dicom_core::VR;
use dicom_dictionary_std::tags;

use super::elements::{Obj, fit, put_ob, put_str, put_strs, put_us, to_part10_bytes};
use super::{
    CaptureImage, DicomExportError, ExportedObject, ObjectContext, SC_SERIES_NUMBER, file_name, put_common,
    uid,
};

pub const SC_SOP_CLASS: &str = "1.2.840.10008.5.1.4.1.1.7";

/// The encoded Secondary Capture of `c`, instance `number` of series `series_uid`.
pub fn sc_object(
    ctx: &ObjectContext<'_>,
    c: &CaptureImage,
    series_uid: &str,
    number: usize,
) -> Result<ExportedObject, DicomExportError> {
    let (w, h) = (c.image.width, c.image.height);
    if w == 0
        || h == 0
        || w > usize::from(u16::MAX)
        || h > usize::from(u16::MAX)
        || c.image.pixels.len() != w * h * 4
    {
        return Err(DicomExportError::Input(format!(
            "the image \"{}\" is {w} × {h} pixels with {} bytes; it cannot be stored",
            c.title,
            c.image.pixels.len()
        )));
    }
    let sop_instance = uid::new_uid();
    let mut o = Obj::new_empty();
    put_common(&mut o, ctx, SC_SOP_CLASS, &sop_instance);
    put_str(&mut o, tags::MODALITY, VR::CS, "OT");
    // Type 2C: the image is of no one paired body part, so empty.
    put_str(&mut o, tags::LATERALITY, VR::CS, "");
    put_str(&mut o, tags::CONVERSION_TYPE, VR::CS, "WSD");
    put_str(&mut o, tags::SERIES_INSTANCE_UID, VR::UI, series_uid);
    put_strs(
        &mut o,
        tags::SERIES_NUMBER,
        VR::IS,
        &[SC_SERIES_NUMBER.to_string()],
    );
    put_str(&mut o, tags::SERIES_DESCRIPTION, VR::LO, "ablaplan plan images");
    put_strs(&mut o, tags::INSTANCE_NUMBER, VR::IS, &[number.to_string()]);
    put_strs(
        &mut o,
        tags::IMAGE_TYPE,
        VR::CS,
        &["DERIVED".into(), "SECONDARY".into()],
    );
    put_str(&mut o, tags::DERIVATION_DESCRIPTION, VR::ST, &fit(&c.title, 1024));
    put_str(&mut o, tags::IMAGE_COMMENTS, VR::LT, &c.title);
    put_str(&mut o, tags::PATIENT_ORIENTATION, VR::CS, "");
    put_str(
        &mut o,
        tags::BURNED_IN_ANNOTATION,
        VR::CS,
        if c.identifying_text { "YES" } else { "NO" },
    );
    put_str(&mut o, tags::LOSSY_IMAGE_COMPRESSION, VR::CS, "00");
    put_us(&mut o, tags::SAMPLES_PER_PIXEL, &[3]);
    put_str(&mut o, tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "RGB");
    put_us(&mut o, tags::PLANAR_CONFIGURATION, &[0]);
    put_us(&mut o, tags::ROWS, &[h as u16]);
    put_us(&mut o, tags::COLUMNS, &[w as u16]);
    put_us(&mut o, tags::BITS_ALLOCATED, &[8]);
    put_us(&mut o, tags::BITS_STORED, &[8]);
    put_us(&mut o, tags::HIGH_BIT, &[7]);
    put_us(&mut o, tags::PIXEL_REPRESENTATION, &[0]);
    let mut rgb = Vec::with_capacity(w * h * 3 + 1);
    for px in c.image.pixels.chunks_exact(4) {
        rgb.extend_from_slice(&px[..3]);
    }
    if rgb.len() % 2 == 1 {
        rgb.push(0);
    }
    put_ob(&mut o, tags::PIXEL_DATA, rgb);
    let bytes = to_part10_bytes(o)?;
    Ok(ExportedObject {
        modality: "SC",
        file_name: file_name("SC", &sop_instance, Some(number)),
        sop_instance_uid: sop_instance,
        series_instance_uid: series_uid.to_string(),
        bytes,
    })
}
