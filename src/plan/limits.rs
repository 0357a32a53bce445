//! Documented limits of what a case or planning document may hold. A crafted or damaged file
//! beyond them is refused at load with the field named, before anything is allocated for it
//! (a file with 4,000 structures once needed more than 8 GB, 100 probes made 4,945 default
//! pairs, and 10⁵ isolines took 90 s to draw). Device limits come from the assets: the IRE
//! generator's electrode count is `assets/ire_generator.json` `max_electrodes`.

/// Cryoprobes one plan may hold: Boston Scientific's Visual-ICE console drives up to 25 needles
/// (vendor product information, unconfirmed here); clinical plans use 1–8 (issue 16).
pub const MAX_CRYO_PROBES: usize = 25;

/// Structures per case: a TotalSegmentator import brings 117 classes; twice that leaves room
/// for drawn ones.
pub const MAX_STRUCTURES: usize = 256;

/// Display isolines (IRE, V/cm) and user isotherms: more cannot be told apart on a slice.
pub const MAX_ISOLINES: usize = 16;

/// Plans in one planning document.
pub const MAX_PLANS: usize = 64;

/// Saved model results in one document (one per plan and modality, with room for history).
pub const MAX_RESULTS: usize = 256;

/// Largest side of a phantom block (mm): 2 m holds any experiment or body.
pub const MAX_PHANTOM_SIDE_MM: f64 = 2000.0;

/// Largest margin of the IRE compute grid around the electrodes (mm). The node limit bounds the
/// grid's memory; this keeps the sizes meaningful (a phantom's block crops the grid, so
/// validation cases use margins beyond the block, e.g. 160 mm for V1/V2).
pub const MAX_MARGIN_MM: f64 = 500.0;

/// Voxels of one structure mask (a 1024 × 1024 × 2048 grid): larger is not a CT.
pub const MAX_MASK_VOXELS: u128 = 1 << 31;

/// Most probes one plan of `modality` may hold: the IRE generator's electrodes
/// (`assets/ire_generator.json`) or [`MAX_CRYO_PROBES`].
pub fn max_probes(modality: super::catalog::Modality) -> usize {
    match modality {
        super::catalog::Modality::Ire => super::ire::generator_limits().max_electrodes(),
        super::catalog::Modality::Cryo => MAX_CRYO_PROBES,
    }
}

/// What the limit of [`max_probes`] is, for messages.
pub fn probes_what(modality: super::catalog::Modality) -> &'static str {
    match modality {
        super::catalog::Modality::Ire => "electrodes (the IRE generator drives up to that many)",
        super::catalog::Modality::Cryo => "cryoprobes (the cryo console drives up to that many)",
    }
}

/// `Err((field, message))` when `n` items of `field` exceed `max`.
pub fn check_count(field: &str, n: usize, max: usize, what: &str) -> Result<(), (String, String)> {
    if n > max {
        Err((
            field.to_string(),
            format!("{n} {what} — at most {max} are accepted"),
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_up_to_the_limit_pass_and_beyond_it_name_the_field() {
        assert!(check_count("probes", 6, 6, "electrodes").is_ok());
        let (field, message) = check_count("probes", 7, 6, "electrodes").unwrap_err();
        assert_eq!(field, "probes");
        assert!(
            message.contains("7 electrodes") && message.contains("at most 6"),
            "{message}"
        );
    }
}
