//! The policy: people, roles, rules. Loaded in two phases, after cargo-deny: serde structs that
//! mirror the file (`raw`), then a validation pass that collects *every* problem with its span
//! before refusing, and yields a [`Policy`] the rest of the code can trust without re-checking.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

mod raw;
mod validate;

use alloc::collections::BTreeMap;
use core::fmt;

use jiff::civil::Date;
use sha2::{Digest, Sha256};
use ssh_key::PublicKey;

use crate::diagnostic::{Diagnostic, Severity};
use crate::globs::GlobList;
use crate::identity::normalize_email;
pub use raw::{Mode, Recorded, Signatures, SignedCommits};

/// Where the policy came from and its exact bytes, so a report can name the file and its hash.
#[derive(Debug, Clone)]
pub struct PolicySource {
    pub path: String,
    pub text: String,
    pub sha256: String,
}

impl PolicySource {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let sha256 = Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        PolicySource { path: path.into(), text, sha256 }
    }
}

#[derive(Debug)]
pub struct Policy {
    pub source: PolicySource,
    pub gate: Gate,
    pub provenance: ProvenanceConfig,
    pub approvals: ApprovalConfig,
    pub people: Vec<Person>,
    pub rules: Vec<Rule>,
    pub audit: Option<Audit>,
    pub break_glass: BreakGlass,
    /// Server environment variables that name the pusher, first set wins (`[override]
    /// pusher_env`, where SPEC puts it; the audit log uses the same identity).
    pub pusher_env: Vec<String>,
    /// Findings that do not make the policy invalid (e.g. an expired rule).
    pub warnings: Vec<Diagnostic>,
    person_by_email: BTreeMap<String, usize>,
    person_by_login: BTreeMap<String, usize>,
}

/// `[audit]`: an append-only JSON-lines log of every decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// Absolute (it starts with `/`): hooks of different repositories run in different
    /// directories.
    pub path: String,
    /// When the log cannot be written: refuse the push (true) or accept it with a warning.
    pub required: bool,
}

/// `[override]`: who may push past unmet rules with a reason (break-glass). Without the
/// section nobody may.
#[derive(Debug, Default)]
pub struct BreakGlass {
    /// Person names.
    pub people: Vec<String>,
    pub roles: Vec<String>,
    /// Rule names an override may bypass; `None`: every rule.
    pub rules: Option<Vec<String>>,
    /// Characters the reason needs, trimmed.
    pub min_reason: usize,
}

impl BreakGlass {
    pub fn may_override(&self, person: &Person) -> bool {
        self.people.contains(&person.name) || person.roles.iter().any(|r| self.roles.contains(r))
    }

    pub fn covers(&self, rule: &str) -> bool {
        self.rules.as_ref().is_none_or(|rules| rules.iter().any(|r| r == rule))
    }
}

#[derive(Debug)]
pub struct Gate {
    pub mode: Mode,
    pub protected: GlobList,
    pub allow_delete: bool,
    pub allow_force_push: bool,
    /// May a push create or move `refs/replace/*`? A replace ref makes git show another object
    /// under a reviewed commit's id.
    pub allow_replace_refs: bool,
    /// Full commit ids (lower-case hex); commits reachable from them are exempt, so a
    /// repository with history can adopt the gate without approving its past.
    pub baseline: Vec<String>,
    /// A push bringing more new commits than this is refused unread.
    pub max_commits: usize,
    /// A push not judged within this many seconds is refused: a hook the server kills for
    /// being slow fails the push without saying why, so we say it first.
    pub max_seconds: f64,
    /// Whether each new commit must carry git's SSH signature by a key listed for its committer.
    pub signed_commits: SignedCommits,
    /// One line the admin adds to every refusal: where to learn more, whom to ask.
    pub help: Option<String>,
}

#[derive(Debug)]
pub struct ProvenanceConfig {
    pub builtin: bool,
    pub trailer_keys: Vec<String>,
    /// Lower-cased values that declare "no AI" under a provenance trailer key.
    pub none_values: Vec<String>,
    pub footers: bool,
    pub identities: GlobList,
    /// Notes refs whose note on a commit is read as evidence (`refs/notes/...`).
    pub notes: Vec<String>,
}

#[derive(Debug)]
pub struct ApprovalConfig {
    pub trailer_keys: Vec<String>,
    pub reviewers: GlobList,
    /// The default for rules that do not say.
    pub signatures: Signatures,
    /// The default for rules that do not say.
    pub recorded: Recorded,
    /// People who may withdraw anyone's recorded approval (by name).
    pub admins: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub name: String,
    /// Trimmed and lower-cased.
    pub emails: Vec<String>,
    pub roles: Vec<String>,
    /// Keys whose signatures back this person's approvals.
    pub keys: Vec<PublicKey>,
    /// Server logins, exact (case-sensitive: some servers tell `Dana` and `dana` apart).
    pub logins: Vec<String>,
}

impl Person {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

#[derive(Debug)]
pub struct Rule {
    pub name: String,
    pub when: When,
    pub require: usize,
    pub from_role: Option<String>,
    pub since: Option<Date>,
    pub until: Option<Date>,
    /// Effective mode: `warn` when the rule or the whole gate says so.
    pub mode: Mode,
    /// Effective: the rule's own, else `[approvals] signatures`.
    pub signatures: Signatures,
    /// Effective: the rule's own, else `[approvals] recorded`.
    pub recorded: Recorded,
}

impl Rule {
    pub fn is_active(&self, today: Date) -> bool {
        self.since.is_none_or(|since| since <= today) && self.until.is_none_or(|until| today <= until)
    }
}

#[derive(Debug, Default)]
pub struct When {
    pub ai_assisted: Option<bool>,
    pub paths: Option<GlobList>,
    pub refs: Option<GlobList>,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{}", render_invalid(policy, diagnostics))]
    Invalid { policy: PolicySource, diagnostics: Vec<Diagnostic> },
}

fn render_invalid(source: &PolicySource, diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    format!(
        "policy {} is invalid ({errors} error(s)):\n{}",
        source.path,
        render_findings(source, diagnostics)
    )
}

/// Findings about `source`, one after another. Each locates itself from the start of the
/// file, so the list is bounded: a garbage file must not cost quadratic time, and nobody
/// reads past the first screens anyway.
pub fn render_findings(source: &PolicySource, diagnostics: &[Diagnostic]) -> String {
    let mut shown: Vec<String> = diagnostics
        .iter()
        .take(FINDINGS_SHOWN)
        .map(|d| d.display(&source.path, &source.text).to_string())
        .collect();
    if diagnostics.len() > FINDINGS_SHOWN {
        shown.push(format!("... and {} more finding(s)", diagnostics.len() - FINDINGS_SHOWN));
    }
    shown.join("\n")
}

/// How many findings a policy's message shows.
const FINDINGS_SHOWN: usize = 50;

impl Policy {
    /// Validates policy text; `today` only decides expiry warnings.
    pub fn parse(source: PolicySource, today: Date) -> Result<Policy, PolicyError> {
        let (raw, diagnostics) = raw::parse(&source.text);
        let mut validator = validate::Validator { diagnostics, today, globs: 0 };
        let mut policy = validator.policy(raw, source.clone());
        validator.diagnostics.sort_by_key(|d| d.span.as_ref().map_or(0, |s| s.start));
        if validator.diagnostics.iter().any(|d| d.severity == Severity::Error) {
            return Err(PolicyError::Invalid { policy: source, diagnostics: validator.diagnostics });
        }
        policy.warnings = validator.diagnostics;
        Ok(policy)
    }

    pub fn person_by_email(&self, email: &str) -> Option<&Person> {
        self.person_by_email.get(&normalize_email(email)).map(|&i| &self.people[i])
    }

    pub fn person_by_login(&self, login: &str) -> Option<&Person> {
        self.person_by_login.get(login).map(|&i| &self.people[i])
    }

    /// Whether anyone may override, hence whether the repository should advertise push
    /// options (`receive.advertisePushOptions`) for `git push -o countersign.override=...`.
    pub fn wants_push_options(&self) -> bool {
        !self.break_glass.people.is_empty() || !self.break_glass.roles.is_empty()
    }

    /// Whether judging a commit needs its own signature (`[gate] signed_commits`).
    pub fn needs_git_signatures(&self) -> bool {
        self.gate.signed_commits == SignedCommits::Required
    }

    /// Whether judging a commit needs its patch-id (to check approval signatures, or to find
    /// the approvals recorded for its change).
    pub fn needs_patch_ids(&self, today: Date) -> bool {
        self.rules
            .iter()
            .any(|r| (r.signatures != Signatures::Off || r.recorded != Recorded::Off) && r.is_active(today))
    }

    /// Whether any rule counts recorded approvals, hence whether the server records them.
    pub fn records_approvals(&self) -> bool {
        self.rules.iter().any(|r| r.recorded != Recorded::Off)
    }
}

/// The approval keys when `[approvals] trailers` names none.
pub const DEFAULT_APPROVAL_TRAILERS: &[&str] = &["Reviewed-by", "Approved-by"];

/// GitLab, Gitea/Forgejo, GitHub Enterprise Server, gitolite, git http-backend behind a web server.
pub const DEFAULT_PUSHER_ENV: &[&str] =
    &["GL_USERNAME", "GITEA_PUSHER_NAME", "GITHUB_USER_LOGIN", "GL_USER", "REMOTE_USER"];

/// Globs one policy may hold. Each costs milliseconds to compile on every push, and a pushed
/// committed policy is compiled too: without a bound a pusher could stall the hook for minutes.
pub const MAX_GLOBS: usize = 1000;

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Enforce => "enforce",
            Mode::Warn => "warn",
        })
    }
}

#[cfg(test)]
mod tests;
