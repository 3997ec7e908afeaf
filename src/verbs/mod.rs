//! The binary's commands, one module each. A verb composes the layers (git reading, the engine,
//! the gate, the report) for one job; none of them is used by another layer.

pub mod approve;
pub mod check;
pub mod client;
pub mod demo;
pub mod hook;
pub mod install;
pub mod lint;
pub mod manpage;
pub mod policy_test;
pub mod provenance_report;
pub mod rollback;
