//! Fuzzes the policy loader: `countersign_engine::policy::Policy::parse` on arbitrary text (invalid
//! UTF-8 replaced by U+FFFD, as no caller can hand it anything but a `String`).
//!
//! Besides "never panics" (and, through libFuzzer's `-timeout`, "never runs super-linear"),
//! it renders every finding, because rendering a diagnostic (line, column, the offending line,
//! a caret under the span) is where byte offsets meet characters; and it checks:
//! - an invalid policy has at least one error, its findings are sorted by span, every span lies
//!   within the text, and the rendering names the file and the error count;
//! - a valid policy's warnings are all warnings, with spans within the text;
//! - a valid policy keeps what its documentation promises: emails trimmed and lower-cased and
//!   found again by `person_by_email`, `require` within 1..=1000, trailer keys git can match,
//!   commit ids of full length in lower-case hex.

#![no_main]

use std::collections::{HashMap, HashSet};

use countersign_engine::diagnostic::{Diagnostic, Severity, line_column};
use countersign_engine::policy::{Policy, PolicyError, PolicySource};
use jiff::civil::Date;
use libfuzzer_sys::fuzz_target;

const PATH: &str = "fuzz/policy.toml";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let today = Date::new(2026, 6, 1).unwrap();
    match Policy::parse(PolicySource::new(PATH, text.clone()), today) {
        Ok(policy) => check_valid(&policy, &text, today),
        Err(error) => {
            let rendered = error.to_string();
            let PolicyError::Invalid { policy, diagnostics } = &error;
            assert_eq!(policy.text, text);
            let errors = diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
            assert!(errors > 0, "invalid without an error: {rendered}");
            let header = format!("policy {PATH} is invalid ({errors} error(s)):");
            assert!(rendered.starts_with(&header), "bad header: {rendered}");
            let starts: Vec<usize> =
                diagnostics.iter().map(|d| d.span.as_ref().map_or(0, |s| s.start)).collect();
            assert!(starts.is_sorted(), "findings not sorted by span: {starts:?}");
            // `rendered` already drew every finding; check the spans it drew from.
            for diagnostic in diagnostics {
                check_span(diagnostic, &text);
            }
        }
    }
});

fn check_valid(policy: &Policy, text: &str, today: Date) {
    for warning in &policy.warnings {
        assert_eq!(warning.severity, Severity::Warning, "error in a valid policy: {warning:?}");
        check_span(warning, text);
        let rendered = warning.display(PATH, text).to_string();
        let (line, column) = warning.span.as_ref().map_or((0, 0), |s| line_column(text, s.start));
        let prefix =
            if warning.span.is_some() { format!("{PATH}:{line}:{column}: ") } else { format!("{PATH}: ") };
        assert!(rendered.starts_with(&prefix), "{rendered}");
    }
    for person in &policy.people {
        assert!(!person.name.is_empty() && person.name == person.name.trim(), "name {:?}", person.name);
        for email in &person.emails {
            assert_eq!(*email, email.trim().to_lowercase(), "email not normalised");
            let found = policy.person_by_email(email).unwrap_or_else(|| panic!("{email} not found"));
            assert_eq!(found, person, "{email} finds another person");
        }
        assert!(person.roles.iter().all(|r| !r.is_empty() && r == r.trim()), "roles {:?}", person.roles);
    }
    let mut holders: HashMap<&str, usize> = HashMap::new();
    for role in policy.people.iter().flat_map(|p| p.roles.iter().collect::<HashSet<_>>()) {
        *holders.entry(role).or_default() += 1;
    }
    for rule in &policy.rules {
        assert!((1..=1000).contains(&rule.require), "require {}", rule.require);
        if let (Some(since), Some(until)) = (rule.since, rule.until) {
            assert!(since <= until, "empty window accepted: {since}..{until}");
        }
        if let Some(role) = &rule.from_role {
            let count = holders.get(role.as_str()).copied().unwrap_or(0);
            assert!(count >= rule.require, "unsatisfiable rule accepted: {count} hold `{role}`");
        }
        let _ = rule.is_active(today);
        for globs in [&rule.when.paths, &rule.when.refs].into_iter().flatten() {
            let _ = globs.first_match("src/main.rs");
        }
    }
    for key in policy.approvals.trailer_keys.iter().chain(&policy.provenance.trailer_keys) {
        assert!(
            !key.is_empty()
                && !key.starts_with('-')
                && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "trailer key {key:?}"
        );
    }
    for id in &policy.gate.baseline {
        assert!(matches!(id.len(), 40 | 64), "commit id {id:?}");
        assert!(id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)), "commit id {id:?}");
    }
    let _ = policy.gate.protected.is_match("refs/heads/main");
    let _ = policy.provenance.identities.first_match("bot@agents.example.com");
    let _ = policy.approvals.reviewers.is_match("alice@example.com");
    let _ = policy.needs_patch_ids(today);
    for globs in policy.rules.iter().filter_map(|rule| rule.when.paths.as_ref()) {
        assert!(globs.literal_prefixes().count() == globs.patterns().len());
    }
}

/// A finding's span lies within the text, so line, column and caret can be drawn from it.
fn check_span(diagnostic: &Diagnostic, text: &str) {
    let Some(span) = &diagnostic.span else { return };
    assert!(span.start <= span.end && span.end <= text.len(), "span {span:?} outside {} bytes", text.len());
}
