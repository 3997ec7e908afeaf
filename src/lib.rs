//! countersign: a pre-receive gate that refuses commits lacking the sign-offs a policy demands.
//!
//! The layers, each in its own folder, in the order data flows through a push:
//!
//! - [`git`] reads the repository: what a push changes and which names reach each ref, the
//!   commits it brings, their changed paths, patch-ids, notes and recorded approvals, and the
//!   committed policy. The only code here that knows how git stores anything.
//! - [`engine`] (the `countersign-engine` crate) judges plain facts against a validated policy.
//!   It cannot read git, files, the clock or the environment; the compiler enforces that.
//! - [`gate`] composes the two into a push's judgement, shared by the hook and the CI check:
//!   the rules per protected ref, break-glass overrides, who is pushing.
//! - [`report`] is the one result model and its renderings (the pusher's text, markdown, JSON,
//!   the audit log line).
//! - [`verbs`] holds each command of the binary, composing the layers above.

pub mod gate;
pub mod git;
pub mod report;
pub mod verbs;
