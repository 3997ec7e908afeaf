//! The human report: the `remote:` lines the pusher reads, and `check`'s text for a person.

use std::fmt::Write as _;

use engine::policy::Mode;
use engine::verdict::{CommitStatus, CommitVerdict};

use super::advice::{SIGN_FIX, can_approve, fix_line, needs, record_line, render_look_alikes};
use super::text::{clean, clean_lines, indent};
use super::{Decision, RefReport, Report, break_glass};
use crate::git::repo::short;

/// How many failing commits a human report shows in full; the rest are counted.
pub const COMMITS_SHOWN: usize = 10;

/// How many approvals that do not count a human report lists per rule (a message can carry
/// 100,000 trailers; the pusher's screen cannot).
pub(super) const NOT_COUNTED_SHOWN: usize = 5;

/// Who reads a human report, which decides its words: a pusher's push, or a CI check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Pusher,
    Ci,
}

/// The human report. `enforced` is false in warn mode or a dry run: the same findings, but
/// the push goes through (the check exits 0), and the header says so.
pub fn human(report: &Report, audience: Audience, enforced: bool) -> String {
    let mut out = String::new();
    let commits: usize = report.refs.iter().map(RefReport::judged).sum();
    let (verb, accepted, rejected) = match audience {
        Audience::Pusher => ("push", "accepted", "rejected"),
        Audience::Ci => ("check", "passed", "failed"),
    };
    match (report.decision(), enforced) {
        (Decision::Accept, _) => {
            let overridden =
                report.break_glass.as_ref().is_some_and(|o| o.status == break_glass::Status::Applied);
            let how = if overridden { " BY OVERRIDE" } else { "" };
            let _ = write!(out, "countersign: {verb} {accepted}{how}: {commits} new commit(s) checked");
            match report.refs.iter().map(RefReport::warned).sum() {
                0 => out.push('\n'),
                n => {
                    let _ = writeln!(out, ", {n} with warnings");
                }
            }
        }
        (Decision::Reject, true) => {
            let _ = writeln!(out, "countersign: {verb} {rejected}");
        }
        (Decision::Reject, false) => {
            let _ = writeln!(
                out,
                "countersign: {verb} {accepted}, but it breaks the policy (warn mode, trial or dry run):"
            );
        }
    }
    if let Some(record) = &report.break_glass {
        out.push_str(&clean_lines(&record.to_string()));
    }
    let mut shown = 0;
    let mut with_findings = 0;
    for r in &report.refs {
        for problem in &r.overridden {
            let _ = writeln!(out, "countersign: {}: OVERRIDDEN: {problem}", r.label());
        }
        for problem in &r.problems {
            for (i, line) in problem.to_string().lines().enumerate() {
                let prefix = if i == 0 { format!("countersign: {}: ", r.label()) } else { "  ".into() };
                let _ = writeln!(out, "{prefix}{}", clean(line));
            }
        }
        with_findings += r.unlisted.warned + r.unlisted.failing;
        for commit in r.commits.iter().filter(|c| c.verdict != CommitStatus::Pass) {
            with_findings += 1;
            if shown < COMMITS_SHOWN {
                shown += 1;
                out.push('\n');
                // The ref's new tip is the one commit a fix may amend in place.
                let tip = commit.id == r.new.to_string();
                render_commit(&mut out, commit, &report.approval_key, tip);
            }
        }
    }
    if with_findings > shown {
        let _ = writeln!(
            out,
            "\n  ... and {} more commit(s) with findings; `countersign check --format json` lists them all",
            with_findings - shown
        );
    }
    let failing: usize = report.refs.iter().map(RefReport::failing).sum();
    if failing > 0 {
        out.push_str(concat!(
            "\nTo fix: the people named above must review the change themselves; a fix line only\n",
            "records their approval once they give it. Run it in your clone, on the branch you\n",
            "pushed, then push again.\n",
        ));
    }
    // A first push of an existing history: every old commit fails, and the way out is the
    // admin's, not a fix line per commit.
    for r in report.refs.iter().filter(|r| r.old.is_zero() && r.failing() > 1 && !report.has_baseline) {
        let _ = writeln!(
            out,
            "countersign: {} is new here. If it brings history older than the policy, an admin\n\
             can exempt it: [gate] baseline = [\"<commit id>\"] exempts that commit and all before\n\
             it (this push's tip is {}).",
            clean(&r.refname),
            r.new
        );
    }
    let _ = writeln!(
        out,
        "countersign: policy {} (sha256 {})",
        clean(&report.policy.path),
        &report.policy.sha256[..12]
    );
    out
}

pub(super) fn render_commit(out: &mut String, commit: &CommitVerdict, approval_key: &str, tip: bool) {
    let _ = writeln!(
        out,
        "  {} \"{}\" by {}",
        short(&commit.id),
        clean(&commit.summary),
        clean(&commit.author.to_string())
    );
    if commit.ai_assisted {
        let mut evidence = commit.evidence.iter().map(|e| clean(&e.text));
        let first = evidence.next().unwrap_or_default();
        let more = commit.evidence.len().saturating_sub(1);
        let more = if more > 0 { format!(" (+{more} more)") } else { String::new() };
        let _ = writeln!(out, "    AI-assisted: {first}{more}");
    }
    for rule in commit.unmet() {
        let mark = match rule.mode {
            Mode::Enforce => "x",
            Mode::Warn => "! (warn only)",
        };
        let _ = writeln!(out, "    {mark} {} [{}]", clean(&rule.name), rule.code());
        let _ = writeln!(out, "      {}", needs(rule));
        let _ = writeln!(out, "      applies: {}", clean(&rule.why));
        if let Some(names) = can_approve(rule) {
            let _ = writeln!(out, "      can approve: {}", clean(&names));
        }
        for not_counted in rule.not_counted.iter().take(NOT_COUNTED_SHOWN) {
            let _ =
                writeln!(out, "      {} does not count: {}", clean(&not_counted.value), not_counted.reason);
        }
        if rule.not_counted.len() > NOT_COUNTED_SHOWN {
            let more = rule.not_counted.len() - NOT_COUNTED_SHOWN;
            let _ = writeln!(out, "      ... and {more} more approval(s) that do not count");
        }
    }
    if let Some(problem) = commit.signature_problem() {
        let mark = if commit.verdict == CommitStatus::Fail { "x" } else { "! (warn only)" };
        let _ =
            writeln!(out, "    {mark} signed commit ([gate] signed_commits): {problem} [{}]", problem.code());
    }
    render_look_alikes(out, commit, "    ");
    if commit.unmet().any(|r| r.mode == Mode::Enforce) {
        out.push_str(&indent(&fix_line(commit, approval_key, tip), "    "));
    }
    if commit.verdict == CommitStatus::Fail && commit.signature_problem().is_some() {
        out.push_str("    ");
        out.push_str(SIGN_FIX);
    }
    if let Some(line) = record_line(commit) {
        out.push_str("    ");
        out.push_str(&line);
    }
}
