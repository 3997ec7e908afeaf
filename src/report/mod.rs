//! The result of a push or a CI check, as one model ([`Report`]), and its renderings, one module
//! each: the human report the pusher reads as `remote:` lines ([`human()`]), Markdown for CI
//! ([`markdown()`]), `explain`'s page ([`explain()`]), the audit log's line ([`audit`]), and JSON
//! (SPEC "JSON report"), which is the model's own `Serialize` here.
//!
//! Everything shown is pusher-controlled text (subjects, names, trailers); every renderer passes
//! it through the `text` module, so a commit cannot paint the pusher's terminal or flood it.

pub mod audit;
pub mod break_glass;
pub mod color;

mod advice;
mod explain;
mod human;
mod markdown;
mod text;

use std::fmt;

use git2::Oid;

use serde::ser::{Serialize, SerializeStruct, Serializer};

use self::break_glass::Override;
use self::text::clean;

use engine::policy::Policy;

use engine::verdict::{CommitStatus, CommitVerdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Accept,
    Reject,
}

/// Why a ref update is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    DeleteRefused,
    ForcePushRefused,
    NotACommit,
    /// A symbolic ref whose chain git will not follow (a loop, or more than four links).
    BrokenSymref,
    /// An update of the recorded approvals that the hook does not allow, and why.
    ApprovalRefused(String),
    /// The push creates or moves a replace ref (`base` is where replace refs live).
    ReplaceRefRefused {
        base: String,
    },
    LacksSignOff {
        failing: usize,
        total: usize,
    },
    /// The push changes the committed policy into one that does not load (the lint's findings).
    PolicyInvalid(String),
    /// An override was asked for, but these unmet rules are not among `[override] rules`.
    NotOverridable(Vec<String>),
    /// The ref brings more new commits than `[gate] max_commits`; none was judged.
    TooManyCommits {
        limit: usize,
    },
    /// Judging did not end within `[gate] max_seconds`.
    OutOfTime {
        budget: std::time::Duration,
    },
}

impl Problem {
    pub fn code(&self) -> &'static str {
        match self {
            Problem::DeleteRefused => "delete-refused",
            Problem::ForcePushRefused => "force-push-refused",
            Problem::NotACommit => "not-a-commit",
            Problem::BrokenSymref => "broken-symref",
            Problem::ApprovalRefused(_) => "approval-refused",
            Problem::ReplaceRefRefused { .. } => "replace-ref-refused",
            Problem::LacksSignOff { .. } => "lacks-sign-off",
            Problem::PolicyInvalid(_) => "policy-invalid",
            Problem::NotOverridable(_) => "not-overridable",
            Problem::TooManyCommits { .. } => "too-many-commits",
            Problem::OutOfTime { .. } => "out-of-time",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::TooManyCommits { limit } => write!(
                f,
                "brings more than {limit} new commits ([gate] max_commits): push the history in \
                 smaller parts, or ask an admin to raise the limit"
            ),
            Problem::OutOfTime { budget } => write!(
                f,
                "could not be judged within {budget:?} ([gate] max_seconds), so nothing was \
                 accepted: push fewer commits at a time, or ask an admin to raise the limit"
            ),
            Problem::DeleteRefused => {
                f.write_str("deleting a protected ref is not allowed ([gate] allow_delete)")
            }
            Problem::ForcePushRefused => f.write_str(
                "non-fast-forward update of a protected ref is not allowed ([gate] allow_force_push)",
            ),
            Problem::NotACommit => {
                f.write_str("a protected ref may only point at a commit (or a tag of one)")
            }
            Problem::BrokenSymref => {
                f.write_str("a symbolic ref that loops or has more than four links: git will not update it")
            }
            Problem::ApprovalRefused(why) => write!(f, "approval not recorded: {why}"),
            Problem::ReplaceRefRefused { base } => write!(
                f,
                "replace refs ({base}*) make git show other content under a reviewed commit's id: \
                 creating or moving one is not allowed ([gate] allow_replace_refs)"
            ),
            Problem::LacksSignOff { failing, total } => {
                let verb = if *failing == 1 { "lacks" } else { "lack" };
                write!(f, "{failing} of {total} new commit(s) {verb} approval")
            }
            Problem::PolicyInvalid(findings) => write!(f, "the pushed policy is not valid: {findings}"),
            Problem::NotOverridable(rules) => {
                write!(f, "the override may not bypass rule(s) `{}` ([override] rules)", rules.join("`, `"))
            }
        }
    }
}

impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Problem", 2)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("message", &self.to_string())?;
        s.end()
    }
}

#[derive(Debug, Clone)]
pub struct RefReport {
    /// The name the push gave.
    pub refname: String,
    /// The ref git writes: `refname`, or the end of its chain of symbolic refs.
    pub writes: String,
    pub old: Oid,
    pub new: Oid,
    pub problems: Vec<Problem>,
    /// Why nothing was checked, when nothing was (e.g. an unprotected ref).
    pub note: Option<String>,
    pub commits: Vec<CommitVerdict>,
    /// Commits judged but not in `commits`, counted: a report for a person (the pusher, a CI
    /// log) shows a few in full, and 100,000 verdicts kept would only cost memory.
    pub unlisted: Unlisted,
    /// Problems a break-glass override let through (they no longer refuse the ref).
    pub overridden: Vec<Problem>,
}

impl RefReport {
    pub fn new(refname: &str, old: Oid, new: Oid) -> Self {
        RefReport {
            refname: refname.to_string(),
            writes: refname.to_string(),
            old,
            new,
            problems: Vec::new(),
            note: None,
            commits: Vec::new(),
            unlisted: Unlisted::default(),
            overridden: Vec::new(),
        }
    }

    /// The ref as the pusher named it, and the ref git writes when that differs.
    fn label(&self) -> String {
        match self.writes == self.refname {
            true => clean(&self.refname),
            false => format!("{} (symbolic ref to {})", clean(&self.refname), clean(&self.writes)),
        }
    }

    /// How many new commits were judged, listed or not.
    pub fn judged(&self) -> usize {
        self.commits.len() + self.unlisted.total()
    }

    /// A ref is refused exactly when it has a problem.
    pub fn decision(&self) -> Decision {
        if self.problems.is_empty() { Decision::Accept } else { Decision::Reject }
    }

    /// How many judged commits fail, listed or not.
    pub fn failing(&self) -> usize {
        self.commits.iter().filter(|c| c.verdict == CommitStatus::Fail).count() + self.unlisted.failing
    }

    fn warned(&self) -> usize {
        self.commits.iter().filter(|c| c.verdict == CommitStatus::Warn).count() + self.unlisted.warned
    }
}

/// Judged commits a report counts without keeping their verdicts, by verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unlisted {
    pub passing: usize,
    pub warned: usize,
    pub failing: usize,
}

impl Unlisted {
    pub fn count(&mut self, status: CommitStatus) {
        match status {
            CommitStatus::Pass => self.passing += 1,
            CommitStatus::Warn => self.warned += 1,
            CommitStatus::Fail => self.failing += 1,
        }
    }

    pub fn add(&mut self, other: Unlisted) {
        self.passing += other.passing;
        self.warned += other.warned;
        self.failing += other.failing;
    }

    pub fn total(&self) -> usize {
        self.passing + self.warned + self.failing
    }
}

impl Serialize for RefReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("RefReport", 7)?;
        s.serialize_field("ref", &self.refname)?;
        if self.writes != self.refname {
            s.serialize_field("writes", &self.writes)?;
        }
        s.serialize_field("old", &self.old.to_string())?;
        s.serialize_field("new", &self.new.to_string())?;
        s.serialize_field("verdict", &self.decision())?;
        s.serialize_field("problems", &self.problems)?;
        if let Some(note) = &self.note {
            s.serialize_field("note", note)?;
        }
        s.serialize_field("commits", &self.commits)?;
        // Never in a report that lists every verdict (JSON does): named should one ever count.
        if self.unlisted.passing > 0 {
            s.serialize_field("unlisted_passes", &self.unlisted.passing)?;
        }
        if self.unlisted.warned + self.unlisted.failing > 0 {
            s.serialize_field("unlisted_warned", &self.unlisted.warned)?;
            s.serialize_field("unlisted_failing", &self.unlisted.failing)?;
        }
        if !self.overridden.is_empty() {
            s.serialize_field("overridden", &self.overridden)?;
        }
        s.end()
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PolicyInfo {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub policy: PolicyInfo,
    pub refs: Vec<RefReport>,
    /// A break-glass request and what became of it.
    pub break_glass: Option<Override>,
    /// The approval key the fix suggestions write.
    approval_key: String,
    /// Whether the policy exempts history by `[gate] baseline` already.
    has_baseline: bool,
}

impl Report {
    pub fn new(policy: &Policy, refs: Vec<RefReport>) -> Self {
        Report {
            policy: PolicyInfo { path: policy.source.path.clone(), sha256: policy.source.sha256.clone() },
            refs,
            break_glass: None,
            approval_key: approval_key(policy),
            has_baseline: !policy.gate.baseline.is_empty(),
        }
    }

    pub fn decision(&self) -> Decision {
        let override_refused =
            self.break_glass.as_ref().is_some_and(|o| o.status == break_glass::Status::Refused);
        if self.refs.iter().all(|r| r.decision() == Decision::Accept) && !override_refused {
            Decision::Accept
        } else {
            Decision::Reject
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Report", 3)?;
        s.serialize_field("verdict", &self.decision())?;
        s.serialize_field("policy", &self.policy)?;
        s.serialize_field("refs", &self.refs)?;
        if let Some(record) = &self.break_glass {
            s.serialize_field("override", record)?;
        }
        s.end()
    }
}

/// The approval key fix suggestions write: `Approved-by` when the policy has it.
pub(crate) fn approval_key(policy: &Policy) -> String {
    let keys = &policy.approvals.trailer_keys;
    keys.iter()
        .find(|k| k.eq_ignore_ascii_case("Approved-by"))
        .or(keys.first())
        .cloned()
        .unwrap_or_else(|| "Approved-by".into())
}

pub use self::explain::explain;
pub use self::human::{Audience, COMMITS_SHOWN, human};
pub use self::markdown::markdown;
pub use self::text::{TEXT_LIMIT, cut};
