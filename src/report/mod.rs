//! The result of a push or a CI check, as one model, and its renderings: the human report the
//! pusher reads as `remote:` lines, and JSON (SPEC "JSON report").
//!
//! Everything shown is pusher-controlled text (subjects, names, trailers); the human renderer
//! escapes control characters so a commit cannot paint the pusher's terminal.

pub mod audit;
pub mod break_glass;
pub mod color;

use std::fmt::{self, Write as _};

use git2::Oid;
use serde::ser::{Serialize, SerializeStruct, Serializer};

use self::break_glass::Override;
use crate::git::recorded;
use crate::git::repo::short;
use engine::policy::{Mode, Policy, Recorded, Signatures};
use engine::provenance::EvidenceKind;
use engine::verdict::{CommitStatus, CommitVerdict, RuleOutcome, SignatureCheck};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Accept,
    Reject,
}

/// Why a ref update is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    DeleteRefused,
    ForcePushRefused,
    NotACommit,
    /// A symbolic ref whose chain git will not follow (a loop, or more than four links).
    BrokenSymref,
    /// An update of the recorded approvals that the hook does not allow, and why.
    ApprovalRefused(String),
    /// The push creates or moves a replace ref (`base` is where replace refs live).
    ReplaceRefRefused {
        base: String,
    },
    LacksSignOff {
        failing: usize,
        total: usize,
    },
    /// The push changes the committed policy into one that does not load (the lint's findings).
    PolicyInvalid(String),
    /// An override was asked for, but these unmet rules are not among `[override] rules`.
    NotOverridable(Vec<String>),
    /// The ref brings more new commits than `[gate] max_commits`; none was judged.
    TooManyCommits {
        limit: usize,
    },
    /// Judging did not end within `[gate] max_seconds`.
    OutOfTime {
        budget: std::time::Duration,
    },
}

impl Problem {
    pub fn code(&self) -> &'static str {
        match self {
            Problem::DeleteRefused => "delete-refused",
            Problem::ForcePushRefused => "force-push-refused",
            Problem::NotACommit => "not-a-commit",
            Problem::BrokenSymref => "broken-symref",
            Problem::ApprovalRefused(_) => "approval-refused",
            Problem::ReplaceRefRefused { .. } => "replace-ref-refused",
            Problem::LacksSignOff { .. } => "lacks-sign-off",
            Problem::PolicyInvalid(_) => "policy-invalid",
            Problem::NotOverridable(_) => "not-overridable",
            Problem::TooManyCommits { .. } => "too-many-commits",
            Problem::OutOfTime { .. } => "out-of-time",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::TooManyCommits { limit } => write!(
                f,
                "brings more than {limit} new commits ([gate] max_commits): push the history in \
                 smaller parts, or ask an admin to raise the limit"
            ),
            Problem::OutOfTime { budget } => write!(
                f,
                "could not be judged within {budget:?} ([gate] max_seconds), so nothing was \
                 accepted: push fewer commits at a time, or ask an admin to raise the limit"
            ),
            Problem::DeleteRefused => {
                f.write_str("deleting a protected ref is not allowed ([gate] allow_delete)")
            }
            Problem::ForcePushRefused => f.write_str(
                "non-fast-forward update of a protected ref is not allowed ([gate] allow_force_push)",
            ),
            Problem::NotACommit => {
                f.write_str("a protected ref may only point at a commit (or a tag of one)")
            }
            Problem::BrokenSymref => {
                f.write_str("a symbolic ref that loops or has more than four links: git will not update it")
            }
            Problem::ApprovalRefused(why) => write!(f, "approval not recorded: {why}"),
            Problem::ReplaceRefRefused { base } => write!(
                f,
                "replace refs ({base}*) make git show other content under a reviewed commit's id: \
                 creating or moving one is not allowed ([gate] allow_replace_refs)"
            ),
            Problem::LacksSignOff { failing, total } => {
                let verb = if *failing == 1 { "lacks" } else { "lack" };
                write!(f, "{failing} of {total} new commit(s) {verb} approval")
            }
            Problem::PolicyInvalid(findings) => write!(f, "the pushed policy is not valid: {findings}"),
            Problem::NotOverridable(rules) => {
                write!(f, "the override may not bypass rule(s) `{}` ([override] rules)", rules.join("`, `"))
            }
        }
    }
}

impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Problem", 2)?;
        s.serialize_field("code", self.code())?;
        s.serialize_field("message", &self.to_string())?;
        s.end()
    }
}

#[derive(Debug, Clone)]
pub struct RefReport {
    /// The name the push gave.
    pub refname: String,
    /// The ref git writes: `refname`, or the end of its chain of symbolic refs.
    pub writes: String,
    pub old: Oid,
    pub new: Oid,
    pub problems: Vec<Problem>,
    /// Why nothing was checked, when nothing was (e.g. an unprotected ref).
    pub note: Option<String>,
    pub commits: Vec<CommitVerdict>,
    /// Commits judged but not in `commits`, counted: a report for a person (the pusher, a CI
    /// log) shows a few in full, and 100,000 verdicts kept would only cost memory.
    pub unlisted: Unlisted,
    /// Problems a break-glass override let through (they no longer refuse the ref).
    pub overridden: Vec<Problem>,
}

impl RefReport {
    pub fn new(refname: &str, old: Oid, new: Oid) -> Self {
        RefReport {
            refname: refname.to_string(),
            writes: refname.to_string(),
            old,
            new,
            problems: Vec::new(),
            note: None,
            commits: Vec::new(),
            unlisted: Unlisted::default(),
            overridden: Vec::new(),
        }
    }

    /// The ref as the pusher named it, and the ref git writes when that differs.
    fn label(&self) -> String {
        match self.writes == self.refname {
            true => clean(&self.refname),
            false => format!("{} (symbolic ref to {})", clean(&self.refname), clean(&self.writes)),
        }
    }

    /// How many new commits were judged, listed or not.
    pub fn judged(&self) -> usize {
        self.commits.len() + self.unlisted.total()
    }

    /// A ref is refused exactly when it has a problem.
    pub fn decision(&self) -> Decision {
        if self.problems.is_empty() { Decision::Accept } else { Decision::Reject }
    }

    /// How many judged commits fail, listed or not.
    pub fn failing(&self) -> usize {
        self.commits.iter().filter(|c| c.verdict == CommitStatus::Fail).count() + self.unlisted.failing
    }

    fn warned(&self) -> usize {
        self.commits.iter().filter(|c| c.verdict == CommitStatus::Warn).count() + self.unlisted.warned
    }
}

/// Judged commits a report counts without keeping their verdicts, by verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unlisted {
    pub passing: usize,
    pub warned: usize,
    pub failing: usize,
}

impl Unlisted {
    pub fn count(&mut self, status: CommitStatus) {
        match status {
            CommitStatus::Pass => self.passing += 1,
            CommitStatus::Warn => self.warned += 1,
            CommitStatus::Fail => self.failing += 1,
        }
    }

    pub fn add(&mut self, other: Unlisted) {
        self.passing += other.passing;
        self.warned += other.warned;
        self.failing += other.failing;
    }

    pub fn total(&self) -> usize {
        self.passing + self.warned + self.failing
    }
}

impl Serialize for RefReport {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("RefReport", 7)?;
        s.serialize_field("ref", &self.refname)?;
        if self.writes != self.refname {
            s.serialize_field("writes", &self.writes)?;
        }
        s.serialize_field("old", &self.old.to_string())?;
        s.serialize_field("new", &self.new.to_string())?;
        s.serialize_field("verdict", &self.decision())?;
        s.serialize_field("problems", &self.problems)?;
        if let Some(note) = &self.note {
            s.serialize_field("note", note)?;
        }
        s.serialize_field("commits", &self.commits)?;
        // Never in a report that lists every verdict (JSON does): named should one ever count.
        if self.unlisted.passing > 0 {
            s.serialize_field("unlisted_passes", &self.unlisted.passing)?;
        }
        if self.unlisted.warned + self.unlisted.failing > 0 {
            s.serialize_field("unlisted_warned", &self.unlisted.warned)?;
            s.serialize_field("unlisted_failing", &self.unlisted.failing)?;
        }
        if !self.overridden.is_empty() {
            s.serialize_field("overridden", &self.overridden)?;
        }
        s.end()
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PolicyInfo {
    pub path: String,
    pub sha256: String,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub policy: PolicyInfo,
    pub refs: Vec<RefReport>,
    /// A break-glass request and what became of it.
    pub break_glass: Option<Override>,
    /// The approval key the fix suggestions write.
    approval_key: String,
    /// Whether the policy exempts history by `[gate] baseline` already.
    has_baseline: bool,
}

impl Report {
    pub fn new(policy: &Policy, refs: Vec<RefReport>) -> Self {
        Report {
            policy: PolicyInfo { path: policy.source.path.clone(), sha256: policy.source.sha256.clone() },
            refs,
            break_glass: None,
            approval_key: approval_key(policy),
            has_baseline: !policy.gate.baseline.is_empty(),
        }
    }

    pub fn decision(&self) -> Decision {
        let override_refused =
            self.break_glass.as_ref().is_some_and(|o| o.status == break_glass::Status::Refused);
        if self.refs.iter().all(|r| r.decision() == Decision::Accept) && !override_refused {
            Decision::Accept
        } else {
            Decision::Reject
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }
}

impl Serialize for Report {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Report", 3)?;
        s.serialize_field("verdict", &self.decision())?;
        s.serialize_field("policy", &self.policy)?;
        s.serialize_field("refs", &self.refs)?;
        if let Some(record) = &self.break_glass {
            s.serialize_field("override", record)?;
        }
        s.end()
    }
}

/// The approval key fix suggestions write: `Approved-by` when the policy has it.
fn approval_key(policy: &Policy) -> String {
    let keys = &policy.approvals.trailer_keys;
    keys.iter()
        .find(|k| k.eq_ignore_ascii_case("Approved-by"))
        .or(keys.first())
        .cloned()
        .unwrap_or_else(|| "Approved-by".into())
}

/// How many failing commits a human report shows in full; the rest are counted.
pub const COMMITS_SHOWN: usize = 10;
/// How many approvals that do not count a human report lists per rule (a message can carry
/// 100,000 trailers; the pusher's screen cannot).
const NOT_COUNTED_SHOWN: usize = 5;
/// How many people a "can approve" line names.
const PEOPLE_SHOWN: usize = 3;

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

/// A summary for a CI job page or a merge-request comment (GitHub/GitLab flavoured Markdown).
/// `enforced` as for [`human`]: in warn mode or a dry run the title says the check does not fail.
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
fn md(text: &str) -> String {
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

fn render_commit(out: &mut String, commit: &CommitVerdict, approval_key: &str, tip: bool) {
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

/// How an approver records an approval on the server, where a failing rule counts those:
/// with countersign, or with git alone (the patch-id is in the ref's name, so it is shown).
fn record_line(commit: &CommitVerdict) -> Option<String> {
    let records = commit.unmet().any(|r| r.mode == Mode::Enforce && r.recorded != Recorded::Off);
    let patch_id = commit.patch_id.as_deref().filter(|_| records)?;
    Some(format!(
        "or the approver records it on the server: countersign approve --push {id}\n      \
         (with git alone: git push origin {id}:{})\n",
        recorded::ref_name(patch_id, "<their login>"),
        id = commit.id
    ))
}

/// How to sign a commit as `[gate] signed_commits` wants (the committer signs, so the key must be
/// one the policy lists for the committer's email).
const SIGN_FIX: &str = "fix: sign it with an SSH key the policy lists for you: git -c gpg.format=ssh -c \
                        user.signingkey=KEYFILE commit --amend -S --no-edit (older commits: git rebase \
                        -f -S <base> with the same config)\n";

/// Lines of a message that look like approvals and do not count, each with why.
fn render_look_alikes(out: &mut String, commit: &CommitVerdict, margin: &str) {
    for look_alike in &commit.look_alikes {
        let _ = writeln!(out, "{margin}looks like an approval, but is not one: {}", clean(&look_alike.line));
        let _ = writeln!(out, "{margin}  {}", look_alike.reason);
    }
}

/// `text`'s lines, each after `margin`.
fn indent(text: &str, margin: &str) -> String {
    text.lines().map(|line| format!("{margin}{line}\n")).collect()
}

/// How many hex digits of a commit id a fix command names: enough that no repository of
/// ordinary size has two commits alike (git says so, rather than guess, if it ever has).
const ID_IN_COMMANDS: usize = 12;

/// What to do about a failing commit: who must review it, and the command that records their
/// approval once given, naming the fewest people who would make it pass. The command works
/// pasted as it is, without a terminal or an editor: for the tip, an amend; for an older
/// commit, a reword fixup squashed in by a rebase (git 2.32+) that keeps merges and stashes
/// uncommitted work. Where a rule wants signed approvals, the reviewer signs with `approve`.
fn fix_line(commit: &CommitVerdict, approval_key: &str, tip: bool) -> String {
    let signed = commit.unmet().any(|r| r.mode == Mode::Enforce && r.signatures == Signatures::Required);
    let Some(people) = fix(commit) else {
        return "fix: no one in the policy who did not write it can approve it; ask an admin\n".to_string();
    };
    let names: Vec<String> = people.iter().map(|p| clean(&p.name)).collect();
    let who = names.join(" and ");
    let must = if people.len() == 1 { "must" } else { "must each" };
    if signed {
        return format!(
            "fix: {who} {must} review this change and sign the approval, with\n  \
             countersign approve {} (then push what it amends)\n",
            short(&commit.id)
        );
    }
    let trailers: Vec<String> =
        people.iter().map(|p| format!("--trailer \"{approval_key}: {}\"", clean(&p.to_string()))).collect();
    let trailers = trailers.join(" ");
    if tip {
        return format!(
            "fix: {who} {must} review this change; once approved, run this and push again:\n  \
             git commit --amend --no-edit {trailers}\n"
        );
    }
    let id = &commit.id[..commit.id.len().min(ID_IN_COMMANDS)];
    let base = if commit.root { "--root".to_string() } else { format!("{id}~") };
    format!(
        "fix: {who} {must} review this change; once approved, run this (it rewrites the commits\n  \
         after it too) and push again:\n  \
         git commit --fixup=reword:{id} --no-edit {trailers} && git -c sequence.editor=: rebase -iq \
         --autosquash --rebase-merges --autostash {base}\n"
    )
}

/// "Alice Senior, Carol Senior, Dana Director, ...": who could give a missing approval.
fn can_approve(rule: &RuleOutcome) -> Option<String> {
    if rule.eligible.is_empty() {
        return None;
    }
    let mut names: Vec<&str> = rule.eligible.iter().take(PEOPLE_SHOWN).map(|p| p.name.as_str()).collect();
    if rule.eligible.len() > PEOPLE_SHOWN {
        names.push("...");
    }
    Some(names.join(", "))
}

/// "needs 1 approval from role senior; found none"
fn needs(rule: &RuleOutcome) -> String {
    let who = match &rule.from_role {
        Some(role) => format!("role {role}"),
        None => "someone other than the author".to_string(),
    };
    let found = match rule.counted.len() {
        0 => "found none".to_string(),
        _ => format!(
            "found {}: {}",
            rule.counted.len(),
            rule.counted.iter().map(|c| c.person.as_str()).collect::<Vec<_>>().join(", ")
        ),
    };
    let plural = if rule.required == 1 { "" } else { "s" };
    let signed = if rule.signatures == Signatures::Required { "signed " } else { "" };
    format!("needs {} {signed}approval{plural} from {who}; {found}", rule.required)
}

/// The fewest people whose approvals would satisfy every unmet enforced rule, preferring one
/// person who covers several rules (a director is also a senior). `None` if no one can.
fn fix(commit: &CommitVerdict) -> Option<Vec<&engine::facts::Signature>> {
    let mut chosen: Vec<&engine::facts::Signature> = Vec::new();
    for rule in commit.unmet().filter(|r| r.mode == Mode::Enforce) {
        let missing = rule.required - rule.counted.len();
        let already = rule.eligible.iter().filter(|p| chosen.contains(p)).count();
        let extra: Vec<_> = rule.eligible.iter().filter(|p| !chosen.contains(p)).collect();
        let wanted = missing.saturating_sub(already);
        if extra.len() < wanted {
            return None;
        }
        chosen.extend(&extra[..wanted]);
    }
    Some(chosen)
}

/// Each line of `text` cleaned, newlines kept.
/// Long pusher text (a 10 MB one-line message, a 60,000-character override reason) is cut
/// where it is shown or logged: a report records, it does not archive.
pub const TEXT_LIMIT: usize = 200;

/// `text` cut to [`TEXT_LIMIT`] characters, `...` marking a cut.
pub fn cut(text: &str) -> String {
    match text.char_indices().nth(TEXT_LIMIT) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

fn clean_lines(text: &str) -> String {
    text.lines().map(|line| format!("{}\n", clean(line))).collect()
}

/// Pusher text with control characters escaped (no terminal escapes reach the pusher).
fn clean(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        assert_eq!(cut(&"é".repeat(300)).chars().count(), TEXT_LIMIT + 3);
        assert_eq!(cut("short"), "short");
    }
}
