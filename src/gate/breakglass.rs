//! Break-glass: `git push -o countersign.override="INC-1234: reason"` lands a push whose
//! commits lack sign-off, when the pusher is a person `[override]` names, with a reason long
//! enough, and only past the rules `[override] rules` allows. It bypasses unmet rules and
//! nothing else: a deletion, a force push, a tree on a protected ref or a broken committed
//! policy stay refused (to allow those, an admin changes the policy, which leaves a trace too).
//!
//! git hands push options to the hook as `GIT_PUSH_OPTION_COUNT` and `GIT_PUSH_OPTION_<i>`,
//! and only when the repository sets `receive.advertisePushOptions=true`.

use std::ffi::OsString;

use crate::report::break_glass::{Bypassed, Override, Status};
use crate::report::{self, Problem, Report};
use engine::policy::{Mode, Policy};
use engine::pusher::Pusher;
use engine::verdict::CommitStatus;

/// The push option that asks for an override; its value is the reason.
pub const OVERRIDE_OPTION: &str = "countersign.override";
/// More options than this is not a person typing `-o`.
const MAX_PUSH_OPTIONS: usize = 1000;
/// How a bypassed `[gate] signed_commits` failure is named among the bypassed rules.
const SIGNED_COMMITS: &str = "[gate] signed_commits";

#[derive(Debug, thiserror::Error)]
pub enum OptionError {
    #[error("GIT_PUSH_OPTION_COUNT is not a count of at most {MAX_PUSH_OPTIONS}: {0:?}")]
    BadCount(String),
    #[error("GIT_PUSH_OPTION_COUNT is {count} but GIT_PUSH_OPTION_{index} is not set")]
    Missing { count: usize, index: usize },
    #[error("unknown push option `{0}`: countersign takes only -o countersign.override=\"<reason>\"")]
    Unknown(String),
    #[error("-o countersign.override is given {0} times; give it once")]
    Repeated(usize),
}

/// The override reason the pusher gave, if any, cut to [`report::TEXT_LIMIT`] characters. A
/// `countersign.*` option we do not know, in any case (`Countersign.Override`), is an error
/// rather than ignored: a misspelt override should say so, not fail as if unasked.
pub fn requested(env: impl Fn(&str) -> Option<OsString>) -> Result<Option<String>, OptionError> {
    let Some(count) = env("GIT_PUSH_OPTION_COUNT") else { return Ok(None) };
    let count_text = count.to_string_lossy();
    let count: usize = match count_text.trim().parse() {
        Ok(n) if n <= MAX_PUSH_OPTIONS => n,
        _ => return Err(OptionError::BadCount(count_text.chars().take(40).collect())),
    };
    let mut reasons = Vec::new();
    for index in 0..count {
        let option = env(&format!("GIT_PUSH_OPTION_{index}")).ok_or(OptionError::Missing { count, index })?;
        let option = option.to_string_lossy();
        let (key, value) = option.split_once('=').unwrap_or((&option, ""));
        if key == OVERRIDE_OPTION {
            reasons.push(report::cut(value));
        } else if key.to_ascii_lowercase().starts_with("countersign.") {
            return Err(OptionError::Unknown(option.chars().take(80).collect()));
        }
    }
    match reasons.len() {
        0 => Ok(None),
        1 => Ok(reasons.pop()),
        n => Err(OptionError::Repeated(n)),
    }
}

/// Applies an override request to a judged push: moves the sign-off problems it may bypass to
/// `overridden`, or refuses the push when the pusher may not override.
pub fn apply(report: &mut Report, policy: &Policy, pusher: &Pusher, reason: String) {
    let allowed = pusher
        .person
        .as_deref()
        .and_then(|name| policy.people.iter().find(|p| p.name == name))
        .is_some_and(|person| policy.break_glass.may_override(person));
    let length = reason.trim().chars().count();
    let refused = if !allowed {
        Some(format!("{pusher} may not override ([override] people and roles name who may)"))
    } else if length < policy.break_glass.min_reason {
        Some(format!(
            "the override reason has {length} character(s); it needs at least {} \
             ([override] min_reason): say why, e.g. -o countersign.override=\"INC-1234: ...\"",
            policy.break_glass.min_reason
        ))
    } else {
        None
    };
    let mut record =
        Override { reason, by: pusher.clone(), status: Status::Unused, refused: None, bypassed: Vec::new() };
    if refused.is_some() {
        record.status = Status::Refused;
        record.refused = refused;
        report.break_glass = Some(record);
        return;
    }
    for r in &mut report.refs {
        let Some(at) = r.problems.iter().position(|p| matches!(p, Problem::LacksSignOff { .. })) else {
            continue;
        };
        let mut bypassed = Vec::new();
        let mut uncovered = Vec::new();
        // An override weighs each failing commit; one only counted cannot be weighed.
        if r.unlisted.failing > 0 {
            uncovered.push(format!("{} failing commit(s) not read in full", r.unlisted.failing));
        }
        for commit in r.commits.iter().filter(|c| c.verdict == CommitStatus::Fail) {
            let mut unmet: Vec<String> =
                commit.unmet().filter(|u| u.mode == Mode::Enforce).map(|u| u.name.clone()).collect();
            // Not a rule: only an override of every rule (no `[override] rules`) bypasses it.
            if commit.signature_problem().is_some() {
                unmet.push(SIGNED_COMMITS.to_string());
            }
            uncovered.extend(unmet.iter().filter(|u| !policy.break_glass.covers(u)).cloned());
            bypassed.push(Bypassed { refname: r.refname.clone(), commit: commit.id.clone(), rules: unmet });
        }
        if uncovered.is_empty() {
            r.overridden.push(r.problems.remove(at));
            record.bypassed.extend(bypassed);
        } else {
            uncovered.sort();
            uncovered.dedup();
            r.problems.push(Problem::NotOverridable(uncovered));
        }
    }
    if !record.bypassed.is_empty() {
        record.status = Status::Applied;
    }
    report.break_glass = Some(record);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(list: &[&str]) -> impl Fn(&str) -> Option<OsString> {
        let mut vars: Vec<(String, String)> =
            list.iter().enumerate().map(|(i, o)| (format!("GIT_PUSH_OPTION_{i}"), o.to_string())).collect();
        vars.push(("GIT_PUSH_OPTION_COUNT".into(), list.len().to_string()));
        move |name| vars.iter().find(|(n, _)| n == name).map(|(_, v)| OsString::from(v))
    }

    #[test]
    fn no_options_or_other_tools_options_ask_nothing() {
        assert_eq!(requested(|_| None).unwrap(), None);
        assert_eq!(requested(options(&["ci.skip", "merge_request.create"])).unwrap(), None);
    }

    #[test]
    fn the_override_value_is_the_reason() {
        let reason = requested(options(&["ci.skip", "countersign.override=INC-1: db=down"])).unwrap();
        assert_eq!(reason.as_deref(), Some("INC-1: db=down"));
        assert_eq!(requested(options(&["countersign.override"])).unwrap().as_deref(), Some(""));
    }

    #[test]
    fn a_long_reason_is_cut_where_pusher_text_is() {
        let long = format!("countersign.override=INC-1 {}", "x".repeat(60_000));
        let reason = requested(options(&[long.as_str()])).unwrap().unwrap();
        assert_eq!(reason.chars().count(), report::TEXT_LIMIT + 3);
        assert!(reason.starts_with("INC-1 xxx") && reason.ends_with("..."));
    }

    #[test]
    fn a_misspelt_repeated_or_malformed_option_is_an_error() {
        assert!(matches!(requested(options(&["countersign.overide=x"])), Err(OptionError::Unknown(_))));
        let other_case = requested(options(&["Countersign.Override=INC-1: db down"]));
        assert!(matches!(other_case, Err(OptionError::Unknown(_))));
        let twice = ["countersign.override=a", "countersign.override=b"];
        assert!(matches!(requested(options(&twice)), Err(OptionError::Repeated(2))));
        let bad_count = |v: &'static str| move |n: &str| (n == "GIT_PUSH_OPTION_COUNT").then(|| v.into());
        assert!(matches!(requested(bad_count("x")), Err(OptionError::BadCount(_))));
        assert!(matches!(requested(bad_count("99999999")), Err(OptionError::BadCount(_))));
        assert!(matches!(requested(bad_count("1")), Err(OptionError::Missing { count: 1, index: 0 })));
    }
}
