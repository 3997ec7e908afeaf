//! The policy: people, roles, rules. Loaded in two phases, after cargo-deny: serde structs that
//! mirror the file (`raw`), then a validation pass that collects *every* problem with its span
//! before refusing, and yields a [`Policy`] the rest of the code can trust without re-checking.

mod findings;
mod raw;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use sha2::{Digest, Sha256};
use ssh_key::PublicKey;
use toml::Spanned;

use crate::diagnostic::{Diagnostic, Severity};
use crate::globs::{self, GlobKind, GlobList};
use crate::signature;
use raw::RawPolicy;
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
    person_by_email: HashMap<String, usize>,
    person_by_login: HashMap<String, usize>,
}

/// `[audit]`: an append-only JSON-lines log of every decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audit {
    /// Absolute: hooks of different repositories run in different directories.
    pub path: PathBuf,
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

/// Normalises an email for comparison: SPEC says case-insensitive after trimming.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read policy {path}: {cause}")]
    Unreadable { path: String, cause: std::io::Error },
    #[error("policy {path} is not a regular file")]
    NotAFile { path: String },
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

/// Largest policy we read; a policy is a few kilobytes, anything near this is a mistake.
pub const MAX_POLICY_BYTES: u64 = 4 << 20;

impl Policy {
    /// Reads and validates a policy file.
    pub fn load(path: &Path, today: Date) -> Result<Policy, PolicyError> {
        tracing::debug!("reading policy {}", path.display());
        let shown = path.display().to_string();
        let unreadable = |cause| PolicyError::Unreadable { path: shown.clone(), cause };
        let metadata = std::fs::metadata(path).map_err(unreadable)?;
        if !metadata.is_file() {
            return Err(PolicyError::NotAFile { path: shown });
        }
        if metadata.len() > MAX_POLICY_BYTES {
            return Err(unreadable(std::io::Error::other(format!(
                "{} bytes is larger than the {MAX_POLICY_BYTES} bytes a policy may have",
                metadata.len()
            ))));
        }
        let bytes = std::fs::read(path).map_err(unreadable)?;
        let text =
            String::from_utf8(bytes).map_err(|_| unreadable(std::io::Error::other("not valid UTF-8")))?;
        Policy::parse(PolicySource::new(shown, text), today)
    }

    /// Validates policy text; `today` only decides expiry warnings.
    pub fn parse(source: PolicySource, today: Date) -> Result<Policy, PolicyError> {
        let (raw, diagnostics) = raw::parse(&source.text);
        let mut validator = Validator { diagnostics, today, globs: 0 };
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

const DEFAULT_PROTECTED: &[&str] = &["refs/heads/**"];
const DEFAULT_MAX_COMMITS: usize = 100_000;
const DEFAULT_MAX_SECONDS: f64 = 60.0;
const DEFAULT_PROVENANCE_TRAILERS: &[&str] = &["Assisted-by", "Generated-by", "AI-assisted"];
/// git-ai's authorship logs and Qwen Code's attributions.
const DEFAULT_NOTES_REFS: &[&str] = &["refs/notes/ai", "refs/notes/ai-attribution"];
const DEFAULT_NONE_VALUES: &[&str] = &["no", "none", "false"];
pub const DEFAULT_APPROVAL_TRAILERS: &[&str] = &["Reviewed-by", "Approved-by"];
/// GitLab, Gitea/Forgejo, GitHub Enterprise Server, gitolite, git http-backend behind a web server.
pub const DEFAULT_PUSHER_ENV: &[&str] =
    &["GL_USERNAME", "GITEA_PUSHER_NAME", "GITHUB_USER_LOGIN", "GL_USER", "REMOTE_USER"];
const DEFAULT_MIN_REASON: usize = 10;

/// Globs one policy may hold. Each costs milliseconds to compile on every push, and a pushed
/// committed policy is compiled too: without a bound a pusher could stall the hook for minutes.
pub const MAX_GLOBS: usize = 1000;

struct Validator {
    diagnostics: Vec<Diagnostic>,
    today: Date,
    /// Globs compiled so far, against [`MAX_GLOBS`].
    globs: usize,
}

/// How many people could satisfy a rule: per role, its holders and those who list keys (for
/// rules that require signatures); and how many people list keys at all.
#[derive(Default)]
struct Holders {
    by_role: HashMap<String, (usize, usize)>,
    signers: usize,
}

impl Holders {
    /// What to say of a role nobody holds: the closest held role, and the roles that exist.
    fn unknown_role_hint(&self, role: &str) -> String {
        let mut held: Vec<&str> = self.by_role.keys().map(String::as_str).collect();
        held.sort_unstable();
        match held.is_empty() {
            true => " (no [[person]] holds any role)".to_string(),
            false => format!(
                "{} (roles held: {})",
                findings::did_you_mean(role, held.iter().copied()),
                held.join(", ")
            ),
        }
    }
}

impl Validator {
    fn error(&mut self, code: &'static str, message: impl Into<String>, span: std::ops::Range<usize>) {
        self.diagnostics.push(Diagnostic::error(code, message, Some(span)));
    }

    /// A rule that could never be met: an error, or a warning for a rule that has expired.
    fn unmet(&mut self, expired: bool, code: &'static str, message: String, span: std::ops::Range<usize>) {
        match expired {
            true => {
                self.diagnostics.push(Diagnostic::warning(code, format!("{message} (expired)"), Some(span)))
            }
            false => self.error(code, message, span),
        }
    }

    fn policy(&mut self, raw: RawPolicy, source: PolicySource) -> Policy {
        let seen = findings::Seen::of(&raw);
        if let Some(version) = raw.version.filter(|v| *v.get_ref() != 1) {
            self.error(
                "unsupported-version",
                format!("version {} is not supported; this countersign reads version 1", version.get_ref()),
                version.span(),
            );
        }
        let gate_mode = raw.gate.mode.unwrap_or(Mode::Enforce);
        let gate = Gate {
            mode: gate_mode,
            protected: self.globs(raw.gate.protected, DEFAULT_PROTECTED, GlobKind::Path),
            allow_delete: raw.gate.allow_delete.unwrap_or(false),
            allow_force_push: raw.gate.allow_force_push.unwrap_or(false),
            allow_replace_refs: raw.gate.allow_replace_refs.unwrap_or(false),
            baseline: self.commit_ids(raw.gate.baseline.unwrap_or_default()),
            max_commits: self.limit(raw.gate.max_commits, "max_commits", DEFAULT_MAX_COMMITS),
            max_seconds: self.seconds(raw.gate.max_seconds, DEFAULT_MAX_SECONDS),
            signed_commits: raw.gate.signed_commits.as_ref().map_or(SignedCommits::Off, |s| *s.get_ref()),
            help: raw.gate.help.and_then(|help| self.help(help)),
        };
        let provenance = ProvenanceConfig {
            builtin: raw.provenance.builtin.unwrap_or(true),
            trailer_keys: self.trailer_keys(raw.provenance.trailers, DEFAULT_PROVENANCE_TRAILERS),
            none_values: raw
                .provenance
                .none_values
                .map(|values| values.iter().map(|v| v.trim().to_lowercase()).collect())
                .unwrap_or_else(|| DEFAULT_NONE_VALUES.iter().map(|v| v.to_string()).collect()),
            footers: raw.provenance.footers.unwrap_or(true),
            identities: self.globs(raw.provenance.identities, &[], GlobKind::Email),
            notes: self.notes_refs(raw.provenance.notes),
        };
        let approvals = ApprovalConfig {
            trailer_keys: self.trailer_keys(raw.approvals.trailers, DEFAULT_APPROVAL_TRAILERS),
            reviewers: self.globs(raw.approvals.reviewers, &[], GlobKind::Email),
            signatures: raw.approvals.signatures.unwrap_or_default(),
            recorded: raw.approvals.recorded.unwrap_or_default(),
            admins: Vec::new(),
        };
        let (people, person_by_email, person_by_login) = self.people(raw.person);
        let audit = raw.audit.map(|a| self.audit(a));
        let mut policy = Policy {
            source,
            gate,
            provenance,
            approvals,
            people,
            rules: Vec::new(),
            audit,
            break_glass: BreakGlass::default(),
            pusher_env: Vec::new(),
            warnings: Vec::new(),
            person_by_email,
            person_by_login,
        };
        let mut holders = Holders::default();
        for person in &policy.people {
            holders.signers += usize::from(!person.keys.is_empty());
            for role in &person.roles {
                let (all, signers) = holders.by_role.entry(role.clone()).or_default();
                *all += 1;
                *signers += usize::from(!person.keys.is_empty());
            }
        }
        if let Some(required) = raw
            .gate
            .signed_commits
            .filter(|s| *s.get_ref() == SignedCommits::Required && holders.signers == 0)
        {
            self.error(
                "unsatisfiable-gate",
                "`signed_commits = \"required\"` but no [[person]] lists `keys`: no commit could land",
                required.span(),
            );
        }
        let mut names = HashSet::new();
        policy.approvals.admins = self.people_named(raw.approvals.admins.unwrap_or_default(), &policy.people);
        let defaults = (policy.approvals.signatures, policy.approvals.recorded);
        policy.rules =
            raw.rule.into_iter().map(|r| self.rule(r, &holders, gate_mode, defaults, &mut names)).collect();
        let mut raw_override = raw.break_glass.unwrap_or_default();
        policy.pusher_env = self.env_names(raw_override.pusher_env.take());
        policy.break_glass = self.break_glass(raw_override, &policy, &holders);
        self.findings(&seen, &policy);
        policy
    }

    fn audit(&mut self, raw: raw::RawAudit) -> Audit {
        let path = PathBuf::from(raw.path.get_ref().trim());
        if !path.is_absolute() {
            self.error(
                "bad-audit-path",
                "`path` must be absolute: hooks of different repositories run in different directories",
                raw.path.span(),
            );
        }
        Audit { path, required: raw.required.unwrap_or(true) }
    }

    fn env_names(&mut self, raw: Option<Vec<Spanned<String>>>) -> Vec<String> {
        let Some(raw) = raw else { return DEFAULT_PUSHER_ENV.iter().map(|v| v.to_string()).collect() };
        let mut names = Vec::with_capacity(raw.len());
        for name in raw {
            let valid = name
                .get_ref()
                .bytes()
                .enumerate()
                .all(|(i, b)| b == b'_' || b.is_ascii_alphabetic() || (i > 0 && b.is_ascii_digit()))
                && !name.get_ref().is_empty();
            if valid {
                names.push(name.into_inner());
            } else {
                self.error(
                    "bad-env-name",
                    format!("`{}` is not an environment variable name", name.get_ref()),
                    name.span(),
                );
            }
        }
        names
    }

    /// Names that must each be a `[[person]]`'s (a typo would quietly name nobody).
    fn people_named(&mut self, names: Vec<Spanned<String>>, people: &[Person]) -> Vec<String> {
        let mut named = Vec::new();
        for name in names {
            if people.iter().any(|p| &p.name == name.get_ref()) {
                named.push(name.into_inner());
            } else {
                self.error(
                    "unknown-person",
                    format!("no `[[person]]` is named `{}`", name.get_ref()),
                    name.span(),
                );
            }
        }
        named
    }

    /// `[override]`: every name must be a person, role or rule the policy has, else a typo
    /// would silently give nobody (or everyone) the break-glass.
    fn break_glass(&mut self, raw: raw::RawOverride, policy: &Policy, holders: &Holders) -> BreakGlass {
        let people = self.people_named(raw.people.unwrap_or_default(), &policy.people);
        let mut roles = Vec::new();
        for role in raw.roles.unwrap_or_default() {
            if holders.by_role.contains_key(role.get_ref()) {
                roles.push(role.into_inner());
            } else {
                let hint = holders.unknown_role_hint(role.get_ref());
                self.error(
                    "unknown-role",
                    format!("no person holds role `{}`{hint}", role.get_ref()),
                    role.span(),
                );
            }
        }
        let rules = raw.rules.map(|raw_rules| {
            let mut rules = Vec::new();
            for rule in raw_rules {
                if policy.rules.iter().any(|r| &r.name == rule.get_ref()) {
                    rules.push(rule.into_inner());
                } else {
                    self.error(
                        "unknown-rule",
                        format!("no `[[rule]]` is named `{}`", rule.get_ref()),
                        rule.span(),
                    );
                }
            }
            rules
        });
        let min_reason = match &raw.min_reason {
            None => DEFAULT_MIN_REASON,
            Some(n) if (1..=1000).contains(n.get_ref()) => *n.get_ref() as usize,
            Some(n) => {
                self.error("bad-min-reason", "`min_reason` must be between 1 and 1000 characters", n.span());
                DEFAULT_MIN_REASON
            }
        };
        BreakGlass { people, roles, rules, min_reason }
    }

    fn globs(&mut self, raw: Option<Vec<Spanned<String>>>, default: &[&str], kind: GlobKind) -> GlobList {
        let Some(raw) = raw else {
            let patterns = default.iter().map(|p| p.to_string()).collect();
            return GlobList::new(patterns, kind).expect("built-in globs compile");
        };
        let mut patterns = Vec::with_capacity(raw.len());
        let mut spans = Vec::with_capacity(raw.len());
        for pattern in raw {
            self.globs += 1;
            if self.globs > MAX_GLOBS {
                if self.globs == MAX_GLOBS + 1 {
                    self.error(
                        "too-many-globs",
                        format!("more than {MAX_GLOBS} globs in one policy; each is compiled on every push"),
                        pattern.span(),
                    );
                }
                continue;
            }
            match globs::compile(pattern.get_ref(), kind) {
                Ok(_) => {
                    spans.push(pattern.span());
                    patterns.push(pattern.into_inner());
                }
                Err(e) => self.error("bad-glob", format!("invalid glob: {}", e.kind()), pattern.span()),
            }
        }
        match GlobList::new(patterns, kind) {
            Ok(globs) => globs.with_spans(spans),
            // Each pattern compiled alone, but the set can still exceed globset's size limit:
            // an error, never an empty list that would silently match nothing.
            Err((index, e)) => {
                self.error(
                    "bad-glob",
                    format!("these globs are too large together: {}", e.kind()),
                    spans.get(index).cloned().unwrap_or(0..0),
                );
                GlobList::empty()
            }
        }
    }

    fn limit<T: TryFrom<i64>>(&mut self, raw: Option<Spanned<i64>>, key: &str, default: T) -> T {
        let Some(raw) = raw else { return default };
        let span = raw.span();
        let value = raw.into_inner();
        match T::try_from(value) {
            Ok(limit) if value >= 1 => limit,
            _ => {
                self.error("bad-limit", format!("`{key}` must be a whole number of at least 1"), span);
                default
            }
        }
    }

    fn seconds(&mut self, raw: Option<Spanned<f64>>, default: f64) -> f64 {
        let Some(raw) = raw else { return default };
        let span = raw.span();
        match raw.into_inner() {
            // Past a year it is no budget at all (and `Duration` would overflow far beyond).
            seconds if seconds > 0.0 && seconds <= 366.0 * 86400.0 => seconds,
            _ => {
                self.error(
                    "bad-limit",
                    "`max_seconds` must be a number of seconds above 0, such as 4.5",
                    span,
                );
                default
            }
        }
    }

    /// `[gate] help`: one line of text that fits beside `countersign: help: ` on the pusher's
    /// screen.
    fn help(&mut self, raw: Spanned<String>) -> Option<String> {
        let text = raw.get_ref().trim();
        let fits = !text.is_empty() && text.chars().count() <= 200 && !text.chars().any(char::is_control);
        if !fits {
            self.error("bad-help", "`help` must be one line of 1 to 200 characters, e.g. a URL", raw.span());
            return None;
        }
        Some(text.to_string())
    }

    fn commit_ids(&mut self, raw: Vec<Spanned<String>>) -> Vec<String> {
        let mut ids = Vec::with_capacity(raw.len());
        for id in raw {
            let text = id.get_ref().trim().to_ascii_lowercase();
            // Abbreviations are refused: one could come to name another commit as history grows.
            if matches!(text.len(), 40 | 64) && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                ids.push(text);
            } else {
                self.error("bad-commit-id", format!("`{}` is not a full commit id", id.get_ref()), id.span());
            }
        }
        ids
    }

    fn trailer_keys(&mut self, raw: Option<Vec<Spanned<String>>>, default: &[&str]) -> Vec<String> {
        let Some(raw) = raw else {
            return default.iter().map(|k| k.to_string()).collect();
        };
        let mut keys = Vec::with_capacity(raw.len());
        for key in raw {
            // git only takes letters, digits and '-' as a trailer key; anything else never matches.
            let valid = !key.get_ref().is_empty()
                && key.get_ref().bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !key.get_ref().starts_with('-');
            if valid {
                keys.push(key.into_inner());
            } else {
                self.error(
                    "bad-trailer-key",
                    format!("`{}` cannot be a git trailer key (letters, digits and '-' only)", key.get_ref()),
                    key.span(),
                );
            }
        }
        keys
    }

    fn notes_refs(&mut self, raw: Option<Vec<Spanned<String>>>) -> Vec<String> {
        let Some(raw) = raw else {
            return DEFAULT_NOTES_REFS.iter().map(|r| r.to_string()).collect();
        };
        let mut refs = Vec::with_capacity(raw.len());
        for name in raw {
            // A conservative subset of git's ref names: plain components of letters, digits,
            // `-`, `_` and inner dots.
            let valid = name.get_ref().strip_prefix("refs/notes/").is_some_and(|rest| {
                rest.split('/').all(|part| {
                    !part.is_empty()
                        && !part.starts_with('.')
                        && !part.ends_with('.')
                        && !part.ends_with(".lock")
                        && !part.contains("..")
                        && part.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                })
            });
            if valid {
                refs.push(name.into_inner());
            } else {
                let message = format!("`{}` is not a notes ref (refs/notes/...)", name.get_ref());
                self.error("bad-notes-ref", message, name.span());
            }
        }
        refs
    }

    fn people(
        &mut self,
        raw: Vec<raw::RawPerson>,
    ) -> (Vec<Person>, HashMap<String, usize>, HashMap<String, usize>) {
        let mut people = Vec::with_capacity(raw.len());
        let mut by_email: HashMap<String, usize> = HashMap::new();
        let mut by_login: HashMap<String, usize> = HashMap::new();
        let mut names = HashSet::new();
        let mut key_owners: HashMap<ssh_key::public::KeyData, String> = HashMap::new();
        for person in raw {
            let index = people.len();
            let name = person.name.get_ref().trim().to_string();
            if name.is_empty() {
                self.error("empty-name", "a person needs a name", person.name.span());
            } else if !names.insert(name.clone()) {
                self.error(
                    "duplicate-person",
                    format!("person `{name}` is listed twice"),
                    person.name.span(),
                );
            }
            if person.emails.get_ref().is_empty() {
                self.error("person-without-email", format!("`{name}` has no emails"), person.emails.span());
            }
            let mut emails = Vec::new();
            for email in person.emails.into_inner() {
                let normalized = normalize_email(email.get_ref());
                if !is_plausible_email(&normalized) {
                    self.error(
                        "bad-email",
                        format!("`{}` is not an email address", email.get_ref()),
                        email.span(),
                    );
                    continue;
                }
                match by_email.get(&normalized) {
                    Some(&other) if other != index => self.error(
                        "duplicate-email",
                        format!(
                            "{normalized} is claimed by both `{}` and `{name}`",
                            people_name(&people, other)
                        ),
                        email.span(),
                    ),
                    Some(_) => {}
                    None => {
                        by_email.insert(normalized.clone(), index);
                        emails.push(normalized);
                    }
                }
            }
            let mut roles = Vec::new();
            for role in person.roles {
                if role.get_ref().trim().is_empty() {
                    self.error("empty-role", "a role cannot be empty", role.span());
                } else if !roles.iter().any(|r| r == role.get_ref().trim()) {
                    // Listed twice is held once: role holders are counted per person.
                    roles.push(role.into_inner().trim().to_string());
                }
            }
            let keys = self.keys(person.keys, &name, &mut key_owners);
            let mut logins = Vec::new();
            for login in person.logins {
                let text = login.get_ref().trim();
                if text.is_empty() || text.chars().any(char::is_whitespace) {
                    self.error(
                        "bad-login",
                        format!("`{}` is not a server login", login.get_ref()),
                        login.span(),
                    );
                    continue;
                }
                match by_login.get(text) {
                    // Whoever pushes as this login would be either person: refuse the ambiguity.
                    Some(&other) if other != index => self.error(
                        "duplicate-login",
                        format!(
                            "login `{text}` is listed for both `{}` and `{name}`",
                            people_name(&people, other)
                        ),
                        login.span(),
                    ),
                    Some(_) => {}
                    None => {
                        by_login.insert(text.to_string(), index);
                        logins.push(text.to_string());
                    }
                }
            }
            people.push(Person { name, emails, roles, keys, logins });
        }
        (people, by_email, by_login)
    }

    /// A person's keys. A key listed for two people is refused: its signature would approve as
    /// either.
    fn keys(
        &mut self,
        raw: Vec<Spanned<String>>,
        name: &str,
        owners: &mut HashMap<ssh_key::public::KeyData, String>,
    ) -> Vec<PublicKey> {
        let mut keys: Vec<PublicKey> = Vec::with_capacity(raw.len());
        for text in raw {
            let key = match PublicKey::from_openssh(text.get_ref().trim()) {
                Ok(key) => key,
                Err(e) => {
                    self.error(
                        "bad-key",
                        format!("not an OpenSSH public key (`ssh-ed25519 AAAA... comment`): {e}"),
                        text.span(),
                    );
                    continue;
                }
            };
            if let Err(why) = signature::check_key(&key) {
                self.error("bad-key", why, text.span());
                continue;
            }
            match owners.get(key.key_data()) {
                Some(owner) if owner != name => self.error(
                    "duplicate-key",
                    format!("this key is listed for both `{owner}` and `{name}`"),
                    text.span(),
                ),
                Some(_) => {}
                None => {
                    owners.insert(key.key_data().clone(), name.to_string());
                    keys.push(key);
                }
            }
        }
        keys
    }

    fn rule(
        &mut self,
        raw: raw::RawRule,
        holders: &Holders,
        gate_mode: Mode,
        (default_signatures, default_recorded): (Signatures, Recorded),
        names: &mut HashSet<String>,
    ) -> Rule {
        let name = raw.name.get_ref().trim().to_string();
        if name.is_empty() {
            self.error("empty-name", "a rule needs a name", raw.name.span());
        } else if !names.insert(name.clone()) {
            self.error(
                "duplicate-rule",
                format!("two rules are named `{name}`; reports name rules, so names must differ"),
                raw.name.span(),
            );
        }
        let require = match &raw.require {
            None => 1,
            Some(n) if *n.get_ref() >= 1 && *n.get_ref() <= 1000 => *n.get_ref() as usize,
            Some(n) => {
                self.error("bad-require", "`require` must be between 1 and 1000", n.span());
                1
            }
        };
        let since = raw.since.as_ref().and_then(|d| self.date(d, "since"));
        let until = raw.until.as_ref().and_then(|d| self.date(d, "until"));
        if let (Some(since), Some(until), Some(span)) = (since, until, raw.since.as_ref().map(|s| s.span()))
            && since > until
        {
            self.error("empty-window", format!("`since` {since} is after `until` {until}"), span);
        }
        // An expired rule applies to nothing: that it could no longer be met is worth a word,
        // not a policy that refuses every push.
        let expired = until.is_some_and(|until| until < self.today);
        let signatures = raw.signatures.unwrap_or(default_signatures);
        if let Some(role) = &raw.from_role {
            let (all, signers) = holders.by_role.get(role.get_ref().as_str()).copied().unwrap_or((0, 0));
            if all == 0 {
                self.unmet(
                    expired,
                    "unknown-role",
                    format!(
                        "no person holds role `{}`; this rule could never be satisfied{}",
                        role.get_ref(),
                        holders.unknown_role_hint(role.get_ref())
                    ),
                    role.span(),
                );
            } else if all < require {
                self.unmet(
                    expired,
                    "unsatisfiable-rule",
                    format!(
                        "rule `{name}` needs {require} approvals from role `{}`, held by only {all} person(s)",
                        role.get_ref()
                    ),
                    role.span(),
                );
            } else if signatures == Signatures::Required && signers < require {
                self.unmet(
                    expired,
                    "unsatisfiable-rule",
                    format!(
                        "rule `{name}` needs {require} signed approvals from role `{}`, but only \
                         {signers} of its holders list `keys`",
                        role.get_ref()
                    ),
                    role.span(),
                );
            }
        } else if signatures == Signatures::Required && holders.signers < require {
            self.unmet(
                expired,
                "unsatisfiable-rule",
                format!(
                    "rule `{name}` needs {require} signed approvals, but only {} person(s) list `keys`",
                    holders.signers
                ),
                raw.name.span(),
            );
        }
        if let (Some(until), Some(raw_until)) = (until, &raw.until)
            && until < self.today
        {
            self.diagnostics.push(Diagnostic::warning(
                "rule-expired",
                format!("rule `{name}` expired on {until}; it no longer applies"),
                Some(raw_until.span()),
            ));
        }
        if let (Some(since), Some(raw_since)) = (since, &raw.since)
            && since > self.today
        {
            self.diagnostics.push(Diagnostic::warning(
                "rule-not-yet-active",
                format!("rule `{name}` becomes active on {since}"),
                Some(raw_since.span()),
            ));
        }
        let when = raw.when.unwrap_or_default();
        let when = When {
            ai_assisted: when.ai_assisted,
            paths: when.paths.map(|p| self.globs(Some(p), &[], GlobKind::Path)),
            refs: when.refs.map(|r| self.globs(Some(r), &[], GlobKind::Path)),
        };
        let mode = match (gate_mode, raw.mode) {
            (Mode::Warn, _) | (_, Some(Mode::Warn)) => Mode::Warn,
            _ => Mode::Enforce,
        };
        Rule {
            name,
            when,
            require,
            from_role: raw.from_role.map(|r| r.into_inner()),
            since,
            until,
            mode,
            signatures,
            recorded: raw.recorded.unwrap_or(default_recorded),
        }
    }

    fn date(&mut self, value: &Spanned<toml::Value>, key: &str) -> Option<Date> {
        let local_date = match value.get_ref() {
            toml::Value::Datetime(datetime) => match (datetime.date, datetime.time, datetime.offset) {
                (Some(date), None, None) => {
                    Date::new(date.year as i16, date.month as i8, date.day as i8).ok()
                }
                _ => None,
            },
            _ => None,
        };
        if local_date.is_none() {
            self.error(
                "bad-date",
                format!("{}, found {}", DATE_FORMAT.replace("KEY", key), value.get_ref()),
                value.span(),
            );
        }
        local_date
    }
}

/// How a policy date is written, said the same way wherever one is wrong.
const DATE_FORMAT: &str =
    "`KEY` must be a date written as KEY = 2026-03-10 (year-month-day, no quotes, no time)";

fn people_name(people: &[Person], index: usize) -> &str {
    people.get(index).map_or("?", |p| p.name.as_str())
}

fn is_plausible_email(email: &str) -> bool {
    matches!(email.split_once('@'), Some((local, domain)) if !local.is_empty() && !domain.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
}

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
