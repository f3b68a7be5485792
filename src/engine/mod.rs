//! The engine: refresh from AWS, plan, render, apply, drift. It works on
//! nodes, state entries and attributes, and reaches AWS only through the
//! provider's registry of kinds.

pub(crate) mod apply;
pub(crate) mod drift;
pub(crate) mod plan;
pub(crate) mod refresh;
pub(crate) mod render;
pub(crate) mod saved;
pub(crate) mod verify;

/// What a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Make AWS match the spec.
    Normal,
    /// Delete everything in the state.
    Destroy,
}
