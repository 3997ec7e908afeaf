//! `countersign pre-receive`: the hook's whole path, from git's standard input to a decision.
//!
//! Every failure on this path is an error the caller turns into a refusal: no policy, a broken
//! policy, a malformed input line, a missing object. Nothing here accepts a push by default.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::ffi::OsStringExt as _;
use std::panic::AssertUnwindSafe;
use std::path::Path;

use git2::Repository;
use jiff::civil::Date;

use crate::gate::breakglass::{self, OptionError};
use crate::gate::{self, Keep};
use crate::git::error::GitError;
use crate::git::policy_source::{self, Flags, Location, LookupError};
use crate::git::ref_updates::{self, InputError, RefUpdate};
use crate::git::repo;
use crate::report::audit::{self, Record, RefRecord};
use crate::report::{self, Audience, Decision, PolicyInfo, Report};
use engine::policy::{Mode, Policy};
use engine::pusher::Pusher;
use engine::verdict::Engine;

#[derive(Debug, Default)]
pub struct HookOptions {
    pub policy: Flags,
    pub dry_run: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("reading the ref updates: {0}")]
    Stdin(#[from] std::io::Error),
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    PushOption(#[from] OptionError),
    #[error(transparent)]
    Policy(#[from] LookupError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(
        "the repository is served with GIT_NAMESPACE={0:?}: git writes the pushed refs under \
         refs/namespaces/, where countersign does not resolve them yet, so it refuses the push"
    )]
    Namespaced(String),
    #[error("internal error (a bug in countersign)")]
    Panic { detail: String },
}

pub struct HookOutcome {
    pub accept: bool,
    /// What the pusher sees (git prefixes each line with `remote: `).
    pub message: String,
}

/// Judges the push on `input` and records the decision in the audit log, if the policy has one.
/// `env` reads the hook's environment: the pusher's login and the push options.
///
/// Errors are returned only before the policy is loaded (no policy, no log to write); after
/// that every refusal, a panic included, is an outcome that is logged like any other.
pub fn pre_receive(
    options: &HookOptions,
    input: &mut impl Read,
    env: &dyn Fn(&str) -> Option<OsString>,
    today: Date,
) -> Result<HookOutcome, HookError> {
    let mut bytes = Vec::new();
    input.read_to_end(&mut bytes)?;
    let repo = repo::open_for_hook()?;
    let location = policy_source::locate_for_hook(&options.policy, &repo)?;
    let policy = policy_source::load(&location, &repo, today)?;
    let pusher = Pusher::identify(&policy, |name| env(name).map(OsString::into_vec));
    let trial = crate::verbs::install::trial_mode(&repo)?;
    let enforced = policy.gate.mode == Mode::Enforce && !options.dry_run && !trial;
    let push = Push { repo: &repo, policy: &policy, location: &location, pusher: &pusher, today };
    let mut updates = Vec::new();
    let judged = std::panic::catch_unwind(AssertUnwindSafe(|| push.judge(&bytes, env, &mut updates)))
        .unwrap_or_else(|payload| Err(HookError::Panic { detail: panic_text(payload.as_ref()) }));
    let (accept, mut message) = match &judged {
        Ok(report) => (
            report.decision() == Decision::Accept || !enforced,
            report::human(report, Audience::Pusher, enforced),
        ),
        Err(e) => (false, format!("countersign: push refused: {e}\n")),
    };
    let with_help = |accept: bool, mut message: String| {
        if let (false, Some(help)) = (accept, &policy.gate.help) {
            message.push_str(&format!("countersign: help: {help}\n"));
        }
        HookOutcome { accept, message }
    };
    let Some(log) = &policy.audit else { return Ok(with_help(accept, message)) };
    let record = Record {
        time: jiff::Timestamp::now().to_string(),
        repository: repository_path(&repo),
        pusher: &pusher,
        decision: if accept { Decision::Accept } else { Decision::Reject },
        verdict: judged.as_ref().ok().map(Report::decision),
        enforced,
        policy: PolicyInfo { path: policy.source.path.clone(), sha256: policy.source.sha256.clone() },
        error: judged.as_ref().err().map(|e| match e {
            HookError::Panic { detail } => format!("{e}: {detail}"),
            _ => e.to_string(),
        }),
        refs: match &judged {
            Ok(report) => audit::refs_of(report),
            Err(_) => updates.iter().map(RefRecord::unjudged).collect(),
        },
        break_glass: judged.as_ref().ok().and_then(|r| r.break_glass.as_ref()),
    };
    match audit::append(Path::new(&log.path), &record.to_line()) {
        Ok(()) => {}
        // The decision stands only if it is on record: an unrecorded push is refused.
        Err(e) if log.required => {
            let would = if accept { "accepted" } else { "refused" };
            message = format!(
                "countersign: push refused: {e}\ncountersign: ([audit] required: a decision that \
                 cannot be recorded is a refusal; the push would otherwise have been {would})\n"
            );
            return Ok(with_help(false, message));
        }
        Err(e) => {
            message.push_str(&format!("countersign: warning: not recorded: {e} ([audit] required = false)\n"))
        }
    }
    Ok(with_help(accept, message))
}

/// What judging a push needs besides its input.
struct Push<'a> {
    repo: &'a Repository,
    policy: &'a Policy,
    location: &'a Location,
    pusher: &'a Pusher,
    today: Date,
}

impl Push<'_> {
    /// `updates` receives the parsed ref updates, so a push that fails later is still logged
    /// with what it tried to change.
    fn judge(
        &self,
        input: &[u8],
        env: &dyn Fn(&str) -> Option<OsString>,
        updates: &mut Vec<RefUpdate>,
    ) -> Result<Report, HookError> {
        // Debug builds only: the tests' way to prove a panic becomes a logged refusal. Release
        // builds do not contain it, and git passes no client-chosen variable to the hook.
        #[cfg(debug_assertions)]
        if env("COUNTERSIGN_DEBUG_PANIC").is_some() {
            panic!("COUNTERSIGN_DEBUG_PANIC is set");
        }
        *updates = ref_updates::parse_updates(input)?;
        // receive-pack writes `refs/namespaces/<ns>/<ref>`: protection, aliases and tips would
        // all be read under the wrong names.
        if let Some(namespace) = env("GIT_NAMESPACE").filter(|ns| !ns.is_empty()) {
            return Err(HookError::Namespaced(namespace.to_string_lossy().into_owned()));
        }
        let reason = breakglass::requested(env)?;
        let engine = Engine::new(self.policy, self.today);
        // The pusher sees a few commits and counts; the audit log records every commit, and
        // an override weighs every failing one.
        let keep = match (&self.policy.audit, &reason) {
            (Some(_), _) => Keep::All,
            (None, Some(_)) => Keep::Findings,
            (None, None) => Keep::FirstFindings(report::COMMITS_SHOWN),
        };
        let mut report = gate::judge_push(
            self.repo,
            &repo::open_for_hook,
            &engine,
            self.location,
            updates,
            self.pusher,
            keep,
        )?;
        if let Some(reason) = reason {
            breakglass::apply(&mut report, self.policy, self.pusher, reason);
        }
        Ok(report)
    }
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// The repository directory, absolute (the hook may have opened it as `.`).
fn repository_path(repo: &Repository) -> String {
    let path = repo.path();
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf()).display().to_string()
}

/// GitLab shows a refused push's hook output in its web UI (merges, web edits) only for lines
/// prefixed `GL-HOOK-ERR:` (GitLab docs, "Git server hooks", custom error messages). Gitaly sets
/// `GL_ID` for every hook it runs; elsewhere the prefix would be noise.
pub const GITLAB_PREFIX: &str = "GL-HOOK-ERR: ";

/// A refusal's message with its key line (the first) marked for GitLab's web UI.
pub fn for_gitlab(message: &str) -> String {
    format!("{GITLAB_PREFIX}{message}")
}
