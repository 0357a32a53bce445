//! Anatomy: structures (target, nerves, bowel, vessels …) as masks on the CT grid, and exact
//! distances between them in millimetres.

pub mod distance;
pub mod mask;
pub mod structure;

pub use distance::{edt_mm, signed_edt_mm};
pub use mask::{Mask, Run};
pub use structure::{Provenance, Structure, StructureKind, kind_from_name};
