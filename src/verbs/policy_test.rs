//! `countersign policy test`: an admin's test cases for a policy, run through the real engine.
//!
//! A case describes a commit without a repository (message, author, changed paths, target ref)
//! and the verdict expected of each rule, so a policy edit that opens a hole or locks everyone
//! out fails its tests before it is installed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use serde::Deserialize;

use engine::diagnostic::Diagnostic;
use engine::facts::{Changes, CommitFacts, Signature};
use engine::identity;
use engine::policy::Policy;
use engine::verdict::{CommitStatus, CommitVerdict, Engine, RuleOutcome, RuleStatus};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSuite {
    #[serde(default)]
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    message: String,
    /// `Name <email>`.
    author: String,
    /// Defaults to the author.
    committer: Option<String>,
    /// Changed paths (for a merge: what it introduces).
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    merge: bool,
    #[serde(rename = "ref", default = "default_ref")]
    refname: String,
    /// Judge as of this date (default: today), to test `since`/`until` windows.
    date: Option<toml::value::Datetime>,
    /// The commit's overall verdict.
    expect: Option<CommitStatus>,
    /// Rule name to its expected outcome.
    #[serde(default)]
    rules: BTreeMap<String, RuleStatus>,
}

fn default_ref() -> String {
    "refs/heads/main".into()
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyTestError {
    #[error("cannot read test cases {path}: {cause}")]
    Unreadable { path: String, cause: std::io::Error },
    #[error("{0}")]
    Invalid(String),
}

pub struct Suite {
    path: String,
    cases: Vec<Case>,
}

/// `policy.toml` → `policy.tests.toml`, beside it.
pub fn default_path(policy: &Path) -> PathBuf {
    let stem = policy.file_stem().map_or_else(|| "policy".into(), |s| s.to_string_lossy().into_owned());
    policy.with_file_name(format!("{stem}.tests.toml"))
}

impl Suite {
    pub fn load(path: &Path) -> Result<Suite, PolicyTestError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|cause| PolicyTestError::Unreadable { path: shown.clone(), cause })?;
        Suite::parse(&shown, &text)
    }

    pub fn parse(path: &str, text: &str) -> Result<Suite, PolicyTestError> {
        let raw: RawSuite = toml::from_str(text).map_err(|e| {
            let diagnostic = Diagnostic::error("invalid-test", e.message().trim().to_string(), e.span());
            PolicyTestError::Invalid(diagnostic.display(path, text).to_string())
        })?;
        Ok(Suite { path: path.to_string(), cases: raw.case })
    }

    pub fn run(&self, policy: &Policy, today: Date) -> Result<Results, PolicyTestError> {
        let invalid = |case: &Case, why: String| {
            PolicyTestError::Invalid(format!("{}: case `{}`: {why}", self.path, case.name))
        };
        if self.cases.is_empty() {
            return Err(PolicyTestError::Invalid(format!("{}: no [[case]] to run", self.path)));
        }
        let mut rows = Vec::new();
        for case in &self.cases {
            if case.expect.is_none() && case.rules.is_empty() {
                return Err(invalid(case, "expects nothing: give `expect` or `rules`".into()));
            }
            if let Some(unknown) =
                case.rules.keys().find(|name| !policy.rules.iter().any(|r| &r.name == *name))
            {
                return Err(invalid(case, format!("the policy has no rule named `{unknown}`")));
            }
            let date = match case.date.as_ref().map(|d| (d.date, d.time, d.offset)) {
                None => today,
                Some((Some(d), None, None)) => Date::new(d.year as i16, d.month as i8, d.day as i8)
                    .map_err(|e| invalid(case, format!("bad date: {e}")))?,
                Some(_) => return Err(invalid(case, "`date` must be a plain date like 2026-03-10".into())),
            };
            let facts = case.facts().map_err(|why| invalid(case, why))?;
            let verdict = Engine::new(policy, date).judge(&facts, std::slice::from_ref(&case.refname));
            if let Some(expected) = case.expect {
                let mut row =
                    Row::new(&case.name, "verdict", expected.to_string(), verdict.verdict.to_string());
                row.why = verdict_why(&verdict);
                rows.push(row);
            }
            for outcome in &verdict.rules {
                if let Some(expected) = case.rules.get(&outcome.name) {
                    let mut row = Row::new(
                        &case.name,
                        &outcome.name,
                        expected.to_string(),
                        outcome.status().to_string(),
                    );
                    row.why = rule_why(outcome);
                    rows.push(row);
                }
            }
        }
        Ok(Results { cases: self.cases.len(), rows })
    }
}

impl Case {
    fn facts(&self) -> Result<CommitFacts, String> {
        let signature = |who: &str| {
            identity::parse(who)
                .map(|id| Signature { name: id.name.to_string(), email: id.email.to_string() })
                .map_err(|problem| format!("`{who}` {problem}"))
        };
        let author = signature(&self.author)?;
        let committer = self.committer.as_deref().map_or_else(|| Ok(author.clone()), signature)?;
        Ok(CommitFacts {
            clean_merge: self.merge && self.paths.is_empty(),
            changes: Changes::Paths(self.paths.clone()),
            ..CommitFacts::of_message("0".repeat(40), author, committer, self.message.clone())
        })
    }
}

/// What a rule made of the case: whether and why it applied, what counted and what did not.
fn rule_why(rule: &RuleOutcome) -> Vec<String> {
    if !rule.applies {
        return vec![format!("rule `{}` does not apply: {}", rule.name, rule.why)];
    }
    let mut why = vec![format!("rule `{}` applies: {}", rule.name, rule.why)];
    let role = rule.from_role.as_ref().map_or(String::new(), |role| format!(" from role {role}"));
    why.push(format!("needs {} approval(s){role}; {} counted", rule.required, rule.counted.len()));
    why.extend(rule.counted.iter().map(|c| format!("counted: {} ({})", c.person, c.trailer)));
    why.extend(rule.not_counted.iter().map(|n| format!("not counted: {}: {}", n.value, n.reason)));
    why
}

/// Which rules decided the verdict, and why each did.
fn verdict_why(verdict: &CommitVerdict) -> Vec<String> {
    let deciding: Vec<&RuleOutcome> = verdict.unmet().collect();
    let mut why = Vec::new();
    if let Some(exempt) = &verdict.exempt {
        why.push(format!("exempt: {exempt}"));
    }
    if deciding.is_empty() {
        let applied: Vec<&str> =
            verdict.rules.iter().filter(|r| r.applies).map(|r| r.name.as_str()).collect();
        match applied.is_empty() {
            true => why.push("no rule applies".into()),
            false => why.push(format!("every rule that applies is met: `{}`", applied.join("`, `"))),
        }
    }
    for rule in deciding {
        why.push(format!("decided by rule `{}` ({}), unmet:", rule.name, rule.mode));
        why.extend(rule_why(rule).into_iter().map(|line| format!("  {line}")));
    }
    why.extend(
        verdict
            .look_alikes
            .iter()
            .map(|l| format!("looks like an approval, but is not one: {}: {}", l.line, l.reason)),
    );
    why
}

struct Row {
    case: String,
    check: String,
    expected: String,
    got: String,
    /// Shown under a mismatch: what decided it.
    why: Vec<String>,
}

impl Row {
    fn new(case: &str, check: &str, expected: String, got: String) -> Row {
        Row { case: case.to_string(), check: check.to_string(), expected, got, why: Vec::new() }
    }
}

pub struct Results {
    cases: usize,
    rows: Vec<Row>,
}

impl Results {
    pub fn all_pass(&self) -> bool {
        self.rows.iter().all(|r| r.expected == r.got)
    }

    pub fn mismatches(&self) -> usize {
        self.rows.iter().filter(|r| r.expected != r.got).count()
    }

    /// A pass/fail table, one line per expectation, and a summary line.
    pub fn table(&self) -> String {
        let case_width = self.rows.iter().map(|r| r.case.chars().count()).max().unwrap_or(4).max(4);
        let check_width = self.rows.iter().map(|r| r.check.chars().count()).max().unwrap_or(5).max(5);
        let mut out = format!("{:case_width$}  {:check_width$}  expected  got   result\n", "case", "check");
        for row in &self.rows {
            let result = if row.expected == row.got { "ok" } else { "MISMATCH" };
            let _ = writeln!(
                out,
                "{:case_width$}  {:check_width$}  {:8}  {:4}  {result}",
                row.case, row.check, row.expected, row.got
            );
            if row.expected != row.got {
                for line in &row.why {
                    let _ = writeln!(out, "    {line}");
                }
            }
        }
        let _ = writeln!(
            out,
            "{} expectation(s) in {} case(s): {} ok, {} mismatch(es)",
            self.rows.len(),
            self.cases,
            self.rows.len() - self.mismatches(),
            self.mismatches()
        );
        out
    }
}
