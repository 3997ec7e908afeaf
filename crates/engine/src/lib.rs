//! countersign's engine: a commit's plain [`facts`], a validated [`policy`] and today's date in,
//! a [`verdict`] per rule out.
//!
//! Everything the pusher controls is parsed here ([`trailers`], [`identity`], [`provenance`],
//! [`signature`]), so it is the code that most needs exact tests on values built by hand. It
//! cannot read git, a file, the clock or the environment: the crate has no git dependency, and
//! it is `no_std` outside its tests, so the compiler refuses any such call (jiff's own clock
//! aside, which `clippy.toml` here refuses). The `countersign` crate reads git and the world,
//! and hands the results in.

#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod approvals;
pub mod diagnostic;
pub mod facts;
pub mod globs;
pub mod identity;
pub mod policy;
pub mod provenance;
pub mod pusher;
pub mod signature;
pub mod trailers;
pub mod verdict;
