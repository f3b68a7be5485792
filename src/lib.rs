//! gwctl: a declarative provisioner for the Job Work Planner's production
//! entry point (API Gateway HTTP API → EC2), driven by `gateway.toml`.
//!
//! Layers depend downward only: `commands` → `engine` → `graph`, `state`,
//! `provider` → `model`.

pub mod cli;
pub mod commands;
pub(crate) mod engine;
pub mod error;
pub(crate) mod files;
pub(crate) mod graph;
pub(crate) mod model;
pub(crate) mod progress;
pub(crate) mod provider;
pub(crate) mod signal;
pub mod spec;
pub(crate) mod state;
