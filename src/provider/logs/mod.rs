//! CloudWatch Logs: log groups.

pub(crate) mod log_group;
