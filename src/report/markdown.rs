//! The Markdown report, for a CI job summary or a merge-request note.

use std::fmt::Write as _;

use engine::verdict::{CommitStatus, CommitVerdict};

use super::advice::{can_approve, needs};
use super::text::clean;
use super::{Decision, Problem, Report};
use crate::git::repo::short;

/// A summary for a CI job page or a merge-request comment (GitHub/GitLab flavoured Markdown).
/// `enforced` as for [`human`](fn@crate::report::human): in warn mode or a dry run the title says the check does not fail.
pub fn markdown(report: &Report, enforced: bool) -> String {
    let mut out = String::new();
    let commits: Vec<&CommitVerdict> = report.refs.iter().flat_map(|r| &r.commits).collect();
    let failing = commits.iter().filter(|c| c.verdict == CommitStatus::Fail).count();
    let title = match report.decision() {
        Decision::Reject if !enforced => {
            format!(
                ":warning: countersign: {failing} of {} commit(s) lack approval (not enforced)",
                commits.len()
            )
        }
        Decision::Accept => format!(":white_check_mark: countersign: {} commit(s) pass", commits.len()),
        Decision::Reject if failing > 0 => {
            format!(":x: countersign: {failing} of {} commit(s) lack approval", commits.len())
        }
        Decision::Reject => ":x: countersign: the update is refused".to_string(),
    };
    let _ = writeln!(out, "### {title}");
    for r in &report.refs {
        for problem in r.problems.iter().filter(|p| !matches!(p, Problem::LacksSignOff { .. })) {
            let _ = writeln!(out, "\n- `{}`: {}", md(&r.refname), md(&problem.to_string()));
        }
    }
    if !commits.is_empty() {
        out.push_str("\n| commit | subject | author | AI-assisted | verdict | what is missing |\n");
        out.push_str("| --- | --- | --- | --- | --- | --- |\n");
    }
    for commit in &commits {
        let missing: Vec<String> = commit
            .unmet()
            .map(|rule| {
                let who = match can_approve(rule) {
                    Some(names) => format!(" (can approve: {names})"),
                    None => String::new(),
                };
                md(&format!("{}: {}{who}", rule.name, needs(rule)))
            })
            .chain(commit.signature_problem().map(|p| md(&format!("signed commit: {p}"))))
            .collect();
        let verdict = match (&commit.exempt, commit.verdict) {
            (Some(why), _) => format!("exempt: {}", md(why)),
            (None, CommitStatus::Pass) => "pass".into(),
            (None, CommitStatus::Warn) => "warn".into(),
            (None, CommitStatus::Fail) => "**fail**".into(),
        };
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {verdict} | {} |",
            short(&commit.id),
            md(&commit.summary),
            md(&commit.author.name),
            if commit.ai_assisted { "yes" } else { "no" },
            missing.join("<br>")
        );
    }
    if failing > 0 {
        let _ = writeln!(
            out,
            "\nTo fix: a reviewer listed above must review the change; then record their approval in \
             the commit, e.g. `git commit --amend --no-edit --trailer \"{}: Name <email>\"`, and push again.",
            report.approval_key
        );
    }
    let _ = writeln!(
        out,
        "\n<sub>policy `{}` (sha256 {})</sub>",
        md(&report.policy.path),
        &report.policy.sha256[..12]
    );
    out
}

/// Pusher text made inert in Markdown: no links, HTML, emphasis or table breaks.
pub(super) fn md(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in clean(text).chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '!' | '~' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}
