//! gwctl: a declarative provisioner for the Job Work Planner's production
//! entry point (API Gateway HTTP API → EC2), driven by `gateway.toml`.

pub mod apply;
pub mod aws;
pub mod cli;
pub mod commands;
pub mod drift;
pub mod error;
pub mod files;
pub mod graph;
pub mod plan;
pub mod progress;
pub mod refresh;
pub mod resources;
pub mod spec;
pub mod state;
pub mod stats;
pub mod walk;
