//! `countersign pre-receive`: the hook's whole path, from git's standard input to a decision.
//!
//! Every failure on this path is an error the caller turns into a refusal: no policy, a broken
//! policy, a malformed input line, a missing object. Nothing here accepts a push by default.

use std::io::Read;

use jiff::civil::Date;

use crate::gate::{self, InputError};
use crate::policy::Mode;
use crate::policy_source::{self, Flags, LookupError};
use crate::repo::{self, GitError};
use crate::report::{self, Audience, Decision};
use crate::verdict::Engine;

#[derive(Debug, Default)]
pub struct HookOptions {
    pub policy: Flags,
    pub dry_run: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("reading the ref updates: {0}")]
    Stdin(#[from] std::io::Error),
    #[error("the hook's input is not UTF-8")]
    NotUtf8,
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Policy(#[from] LookupError),
    #[error(transparent)]
    Git(#[from] GitError),
}

pub struct HookOutcome {
    pub accept: bool,
    /// What the pusher sees (git prefixes each line with `remote: `).
    pub message: String,
}

pub fn pre_receive(
    options: &HookOptions,
    input: &mut impl Read,
    today: Date,
) -> Result<HookOutcome, HookError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    let text = String::from_utf8(bytes).map_err(|_| HookError::NotUtf8)?;
    let updates = gate::parse_updates(&text)?;
    let repo = repo::open_for_hook()?;
    let location = policy_source::locate(&options.policy, &repo)?;
    let policy = policy_source::load(&location, &repo, today)?;
    let engine = Engine::new(&policy, today);
    let report = gate::judge_push(&repo, &repo::open_for_hook, &engine, &location, &updates)?;
    let enforced = policy.gate.mode == Mode::Enforce && !options.dry_run;
    Ok(HookOutcome {
        accept: report.decision() == Decision::Accept || !enforced,
        message: report::human(&report, Audience::Pusher, enforced),
    })
}

/// GitLab shows a refused push's hook output in its web UI (merges, web edits) only for lines
/// prefixed `GL-HOOK-ERR:` (GitLab docs, "Git server hooks", custom error messages). Gitaly sets
/// `GL_ID` for every hook it runs; elsewhere the prefix would be noise.
pub const GITLAB_PREFIX: &str = "GL-HOOK-ERR: ";

/// A refusal's message with its key line (the first) marked for GitLab's web UI.
pub fn for_gitlab(message: &str) -> String {
    format!("{GITLAB_PREFIX}{message}")
}
