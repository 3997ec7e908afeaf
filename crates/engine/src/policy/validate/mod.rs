//! Validation, the second phase: the raw file in, a [`Policy`] the rest of the code trusts out,
//! and every problem found on the way, each with its span. One file per part of the policy
//! file; this one holds the pass itself, the `[gate]` section and the checks every section
//! shares (globs, limits, dates).

mod audit;
mod break_glass;
mod findings;
mod people;
mod provenance;
mod rules;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use jiff::civil::Date;
use toml::Spanned;

use super::raw::RawPolicy;
use crate::diagnostic::Diagnostic;
use crate::globs::{self, GlobKind, GlobList};
use crate::policy::{
    ApprovalConfig, BreakGlass, DEFAULT_APPROVAL_TRAILERS, Gate, MAX_GLOBS, Mode, Policy, PolicySource,
    ProvenanceConfig, SignedCommits,
};

const DEFAULT_PROTECTED: &[&str] = &["refs/heads/**"];
const DEFAULT_MAX_COMMITS: usize = 100_000;
const DEFAULT_MAX_SECONDS: f64 = 60.0;
const DEFAULT_PROVENANCE_TRAILERS: &[&str] = &["Assisted-by", "Generated-by", "AI-assisted"];
const DEFAULT_NONE_VALUES: &[&str] = &["no", "none", "false"];

pub(super) struct Validator {
    pub(super) diagnostics: Vec<Diagnostic>,
    pub(super) today: Date,
    /// Globs compiled so far, against [`MAX_GLOBS`].
    pub(super) globs: usize,
}

/// How many people could satisfy a rule: per role, its holders and those who list keys (for
/// rules that require signatures); and how many people list keys at all.
#[derive(Default)]
struct Holders {
    by_role: BTreeMap<String, (usize, usize)>,
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
    fn error(&mut self, code: &'static str, message: impl Into<String>, span: core::ops::Range<usize>) {
        self.diagnostics.push(Diagnostic::error(code, message, Some(span)));
    }

    /// A rule that could never be met: an error, or a warning for a rule that has expired.
    fn unmet(&mut self, expired: bool, code: &'static str, message: String, span: core::ops::Range<usize>) {
        match expired {
            true => {
                self.diagnostics.push(Diagnostic::warning(code, format!("{message} (expired)"), Some(span)))
            }
            false => self.error(code, message, span),
        }
    }

    pub(super) fn policy(&mut self, raw: RawPolicy, source: PolicySource) -> Policy {
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
        let mut names = BTreeSet::new();
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
