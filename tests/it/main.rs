//! gwctl's integration tests: one binary (each links the AWS SDK, so one
//! link instead of many), a module per area. Most run the real `gwctl`
//! binary against the AWS emulator (`common::Emulator`, moto's server with
//! the additions in tests/emulator/) and read the outcome back with the SDK.

#[allow(dead_code)]
mod common;

mod api_stack;
mod budget;
mod cli;
mod drift;
mod ec2_stack;
mod fuzz_spec;
mod identity;
mod ownership;
mod policy;
mod private;
mod realism;
mod safety;
mod snapshots;
mod team_state;
mod terminal;
