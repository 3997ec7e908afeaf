//! One integration-test binary (ripgrep's layout): real repositories built with the `git` CLI,
//! real `git push`es through the real hook, assertions on what the pusher sees and on the refs.

mod admin;
mod aliases;
mod audit;
mod breakglass;
mod cargo_install;
mod ci;
mod ci_scripts;
mod cli;
mod client;
mod fail_closed;
mod formats;
mod ghes;
mod hostile;
mod idents_vs_git;
mod install;
mod invariant;
mod layers;
mod limits;
mod linkage;
mod load;
mod merges_vs_git;
mod notes;
mod paths;
mod paths_vs_git;
mod provenance_forms;
mod push;
mod recorded;
mod refs;
mod report_html;
mod rollback;
mod signatures;
mod trailers_vs_git;
mod transports;
mod util;
mod walk_vs_git;
