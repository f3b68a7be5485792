//! The leaf types every layer shares: kinds and attributes.

mod attrs;
mod kind;

pub(crate) use attrs::*;
pub use kind::Kind;
