//! The policy file as written: serde structs that mirror the TOML one to one, with spans kept
//! on every value a later check may need to point at. Unknown keys are errors everywhere.
//!
//! The document is deserialized one section (and one `[[person]]` / `[[rule]]` entry) at a
//! time: serde stops at a struct's first error, and an admin fixing a policy wants every
//! problem in one run, not one per run.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Deserialize;
use serde::de::{DeserializeOwned, IntoDeserializer};
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diagnostic::Diagnostic;

#[derive(Debug, Default)]
pub struct RawPolicy {
    pub version: Option<Spanned<i64>>,
    pub gate: RawGate,
    pub provenance: RawProvenance,
    pub approvals: RawApprovals,
    pub person: Vec<RawPerson>,
    pub rule: Vec<RawRule>,
    pub audit: Option<RawAudit>,
    pub break_glass: Option<RawOverride>,
}

const TOP_LEVEL_KEYS: &[&str] =
    &["version", "gate", "provenance", "approvals", "person", "rule", "audit", "override"];

/// Parses what it can, and a diagnostic for everything it cannot: every TOML syntax error, and
/// per section or entry, its first unknown key or wrongly typed value.
pub fn parse(text: &str) -> (RawPolicy, Vec<Diagnostic>) {
    let mut raw = RawPolicy::default();
    let (document, syntax_errors) = DeTable::parse_recoverable(text);
    let mut diagnostics: Vec<Diagnostic> = syntax_errors.iter().map(invalid_toml).collect();
    if !diagnostics.is_empty() {
        return (raw, diagnostics);
    }
    let sink = &mut diagnostics;
    for (key, value) in document.into_inner() {
        match key.get_ref().as_ref() {
            "version" => raw.version = section(value, sink),
            "gate" => raw.gate = section(value, sink).unwrap_or_default(),
            "provenance" => raw.provenance = section(value, sink).unwrap_or_default(),
            "approvals" => raw.approvals = section(value, sink).unwrap_or_default(),
            "person" => raw.person = entries(value, sink),
            "rule" => raw.rule = entries(value, sink),
            "audit" => raw.audit = section(value, sink),
            "override" => raw.break_glass = section(value, sink),
            unknown => sink.push(Diagnostic::error(
                "invalid-toml",
                format!("unknown field `{unknown}`, expected one of `{}`", TOP_LEVEL_KEYS.join("`, `")),
                Some(key.span()),
            )),
        }
    }
    if raw.version.is_none() && diagnostics.is_empty() {
        diagnostics.push(Diagnostic::error("invalid-toml", "missing field `version`", Some(0..0)));
    }
    (raw, diagnostics)
}

fn invalid_toml(e: &toml::de::Error) -> Diagnostic {
    Diagnostic::error("invalid-toml", e.message().trim().to_string(), e.span())
}

fn section<T: DeserializeOwned>(value: Spanned<DeValue<'_>>, sink: &mut Vec<Diagnostic>) -> Option<T> {
    T::deserialize(value.into_deserializer()).map_err(|e| sink.push(invalid_toml(&e))).ok()
}

/// An array of tables (`[[rule]]`), each entry on its own so each can report its problem.
fn entries<T: DeserializeOwned>(value: Spanned<DeValue<'_>>, sink: &mut Vec<Diagnostic>) -> Vec<T> {
    let span = value.span();
    match value.into_inner() {
        DeValue::Array(array) => array.into_iter().filter_map(|entry| section(entry, sink)).collect(),
        _ => {
            sink.push(Diagnostic::error(
                "invalid-toml",
                "expected an array of tables (`[[...]]`)",
                Some(span),
            ));
            Vec::new()
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Enforce,
    Warn,
}

/// Do approvals need an SSH signature (`crate::signature`)?
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Signatures {
    /// Signatures are ignored.
    #[default]
    Off,
    /// An approval that carries a signature counts only if it verifies; unsigned ones count.
    Optional,
    /// Only an approval with a valid signature counts.
    Required,
}

/// Do approvals recorded on the server (`refs/countersign/approvals/`) count?
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Recorded {
    /// They do not, and the server refuses to record any.
    #[default]
    Off,
    /// They count beside trailer approvals.
    Optional,
    /// Only they, and signed approvals, count: a typed trailer does not.
    Required,
}

/// Must each new commit on a protected ref carry git's own SSH signature by a listed key?
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignedCommits {
    #[default]
    Off,
    Required,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGate {
    pub mode: Option<Mode>,
    pub protected: Option<Vec<Spanned<String>>>,
    pub allow_delete: Option<bool>,
    pub allow_force_push: Option<bool>,
    pub allow_replace_refs: Option<bool>,
    pub baseline: Option<Vec<Spanned<String>>>,
    pub max_commits: Option<Spanned<i64>>,
    pub max_seconds: Option<Spanned<f64>>,
    pub signed_commits: Option<Spanned<SignedCommits>>,
    pub help: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvenance {
    pub builtin: Option<bool>,
    pub trailers: Option<Vec<Spanned<String>>>,
    pub none_values: Option<Vec<String>>,
    pub footers: Option<bool>,
    pub identities: Option<Vec<Spanned<String>>>,
    pub notes: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApprovals {
    pub trailers: Option<Vec<Spanned<String>>>,
    pub reviewers: Option<Vec<Spanned<String>>>,
    pub signatures: Option<Signatures>,
    pub recorded: Option<Recorded>,
    /// People (by name) who may withdraw anyone's recorded approval.
    pub admins: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPerson {
    pub name: Spanned<String>,
    pub emails: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub roles: Vec<Spanned<String>>,
    /// OpenSSH public keys (`ssh-ed25519 AAAA... comment`) for signed approvals.
    #[serde(default)]
    pub keys: Vec<Spanned<String>>,
    /// Server logins (`GL_USERNAME`, `GITEA_PUSHER_NAME`, ...) that identify this person as a pusher.
    #[serde(default)]
    pub logins: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub name: Spanned<String>,
    pub when: Option<RawWhen>,
    pub require: Option<Spanned<i64>>,
    pub from_role: Option<Spanned<String>>,
    /// Any TOML value, so that a date written wrong (quoted, with slashes, with a time) gets
    /// the one message that shows how to write it, not serde's.
    pub since: Option<Spanned<toml::Value>>,
    pub until: Option<Spanned<toml::Value>>,
    pub mode: Option<Mode>,
    pub signatures: Option<Signatures>,
    pub recorded: Option<Recorded>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWhen {
    pub ai_assisted: Option<bool>,
    pub paths: Option<Vec<Spanned<String>>>,
    pub refs: Option<Vec<Spanned<String>>>,
}

/// `[audit]`: where each decision is appended, one JSON line per push.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAudit {
    pub path: Spanned<String>,
    pub required: Option<bool>,
}

/// `[override]`: who may push past the rules with `git push -o countersign.override=...`,
/// and which server variables name the pusher.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOverride {
    pub people: Option<Vec<Spanned<String>>>,
    pub roles: Option<Vec<Spanned<String>>>,
    pub rules: Option<Vec<Spanned<String>>>,
    pub min_reason: Option<Spanned<i64>>,
    pub pusher_env: Option<Vec<Spanned<String>>>,
}
