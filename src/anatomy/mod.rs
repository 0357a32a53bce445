//! Anatomy: structures (target, nerves, bowel, vessels …) as masks on the CT grid, and exact
//! distances between them in millimetres.

pub mod body;
pub mod demo_structures;
pub mod distance;
pub mod duplicates;
pub mod edit;
pub mod mask;
pub mod nifti;
pub mod query;
pub mod structure;

pub use demo_structures::demo_structures;
pub use distance::{edt_mm, signed_edt_mm};
pub use mask::{Mask, Run};
pub use nifti::{NiftiImportError, import_label_map, import_mask_folder};
pub use structure::{Provenance, Structure, StructureKind, kind_from_name};
