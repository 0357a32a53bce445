//! Anatomy: structures (target, nerves, bowel, vessels …) as masks on the CT grid, and exact
//! distances between them in millimetres.

pub mod distance;
pub mod mask;

pub use distance::{edt_mm, signed_edt_mm};
pub use mask::{Mask, Run};
