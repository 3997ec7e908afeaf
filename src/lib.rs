//! countersign: a pre-receive gate that refuses commits lacking the sign-offs a policy demands.
//!
//! The evaluation is split in two: the git-reading layer ([`repo`], [`selection`],
//! [`changes`]) turns objects into plain [`facts`], and the pure engine ([`verdict`]) judges
//! those facts against a validated [`policy`]. Everything the pusher or CI sees is rendered
//! from one result model by [`report`].

pub mod ancestry;
pub mod approvals;
pub mod approve;
pub mod audit;
pub mod breakglass;
pub mod changes;
pub mod check;
pub mod client;
pub mod color;
pub mod commit_graph;
pub mod demo;
pub mod diagnostic;
pub mod facts;
pub mod gate;
pub mod globs;
pub mod hook;
pub mod identity;
pub mod install;
pub mod install_client;
pub mod lint;
pub mod manpage;
pub mod notes;
pub mod patch_id;
pub mod policy;
pub mod policy_source;
pub mod policy_test;
pub mod provenance;
pub mod provenance_html;
pub mod provenance_report;
pub mod pusher;
pub mod recorded;
pub mod ref_updates;
pub mod repo;
pub mod report;
pub mod rollback;
pub mod selection;
pub mod signature;
pub mod trailers;
pub mod verdict;
