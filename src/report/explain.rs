//! `countersign explain`: every rule for one commit, and why.

use std::fmt::Write as _;

use engine::policy::{Mode, Policy};
use engine::provenance::EvidenceKind;
use engine::verdict::{CommitStatus, CommitVerdict, SignatureCheck};

use super::advice::{SIGN_FIX, fix_line, needs, render_look_alikes};
use super::approval_key;
use super::text::clean;

/// Every rule for one commit, for `countersign explain`. `tip`: the commit is the branch's
/// (HEAD's), so a fix may amend it in place.
pub fn explain(commit: &CommitVerdict, refname: &str, policy: &Policy, tip: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "commit {}", commit.id);
    let _ = writeln!(out, "  \"{}\" by {}", clean(&commit.summary), clean(&commit.author.to_string()));
    let _ = writeln!(
        out,
        "  judged as if pushed to {}, policy {} (sha256 {})",
        clean(refname),
        clean(&policy.source.path),
        &policy.source.sha256[..12]
    );
    if let Some(why) = &commit.exempt {
        let _ = writeln!(out, "  exempt: {why}");
    }
    let _ = writeln!(out, "\nAI-assisted: {}", if commit.ai_assisted { "yes" } else { "no" });
    for evidence in &commit.evidence {
        let ignored = evidence.kind == EvidenceKind::Footer && !policy.provenance.footers;
        let note = if ignored { " (not counted: [provenance] footers = false)" } else { "" };
        let _ = writeln!(out, "  {}: {}{note}", evidence.kind, clean(&evidence.text));
    }
    let _ = writeln!(out, "\ntrailers (as git reads them):");
    if commit.trailers.is_empty() {
        out.push_str("  none\n");
    }
    for trailer in &commit.trailers {
        let _ = writeln!(out, "  {}", clean(&trailer.to_string()));
    }
    let _ = writeln!(out, "\nrules:");
    for rule in &commit.rules {
        let status = match (rule.applies, rule.satisfied, rule.mode) {
            (false, _, _) => "skip",
            (true, true, _) => "pass",
            (true, false, Mode::Warn) => "WARN",
            (true, false, Mode::Enforce) => "FAIL",
        };
        let _ = writeln!(out, "  [{status}] {} ({})", clean(&rule.name), rule.mode);
        if !rule.applies {
            let _ = writeln!(out, "      does not apply: {}", clean(&rule.why));
            continue;
        }
        let _ = writeln!(out, "      applies: {}", clean(&rule.why));
        for counted in &rule.counted {
            let _ = writeln!(out, "      counted: {} ({})", clean(&counted.person), clean(&counted.trailer));
        }
        for not_counted in &rule.not_counted {
            let _ = writeln!(out, "      not counted: {}: {}", clean(&not_counted.value), not_counted.reason);
        }
        let _ = writeln!(out, "      {}", needs(rule));
    }
    match &commit.signature {
        Some(SignatureCheck::Valid { key }) => {
            let _ = writeln!(out, "\nsigned commit: valid, by {key}");
        }
        Some(SignatureCheck::Failed(problem)) => {
            let _ = writeln!(out, "\nsigned commit: {problem}");
        }
        None => {}
    }
    let verdict = match commit.verdict {
        CommitStatus::Pass => "pass",
        CommitStatus::Warn => "pass, with warnings",
        CommitStatus::Fail => "FAIL",
    };
    if !commit.look_alikes.is_empty() {
        out.push('\n');
        render_look_alikes(&mut out, commit, "");
    }
    let _ = writeln!(out, "\nverdict: {verdict}");
    if commit.unmet().any(|r| r.mode == Mode::Enforce) {
        out.push_str(&fix_line(commit, &approval_key(policy), tip));
    }
    if commit.verdict == CommitStatus::Fail && commit.signature_problem().is_some() {
        out.push_str(SIGN_FIX);
    }
    out
}
