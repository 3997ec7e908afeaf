//! What a failing commit needs, who can give it, and the command that fixes it: said the same
//! way in every rendering.

use std::fmt::Write as _;

use engine::policy::{Mode, Recorded, Signatures};
use engine::verdict::{CommitVerdict, RuleOutcome};

use super::text::*;
use crate::git::recorded;
use crate::git::repo::short;

/// How an approver records an approval on the server, where a failing rule counts those:
/// with countersign, or with git alone (the patch-id is in the ref's name, so it is shown).
pub(super) fn record_line(commit: &CommitVerdict) -> Option<String> {
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
/// How many people a "can approve" line names.
pub(super) const PEOPLE_SHOWN: usize = 3;

pub(super) const SIGN_FIX: &str = "fix: sign it with an SSH key the policy lists for you: git -c gpg.format=ssh -c \
                        user.signingkey=KEYFILE commit --amend -S --no-edit (older commits: git rebase \
                        -f -S <base> with the same config)\n";

/// Lines of a message that look like approvals and do not count, each with why.
pub(super) fn render_look_alikes(out: &mut String, commit: &CommitVerdict, margin: &str) {
    for look_alike in &commit.look_alikes {
        let _ = writeln!(out, "{margin}looks like an approval, but is not one: {}", clean(&look_alike.line));
        let _ = writeln!(out, "{margin}  {}", look_alike.reason);
    }
}

/// How many hex digits of a commit id a fix command names: enough that no repository of
/// ordinary size has two commits alike (git says so, rather than guess, if it ever has).
pub(super) const ID_IN_COMMANDS: usize = 12;

/// What to do about a failing commit: who must review it, and the command that records their
/// approval once given, naming the fewest people who would make it pass. The command works
/// pasted as it is, without a terminal or an editor: for the tip, an amend; for an older
/// commit, a reword fixup squashed in by a rebase (git 2.32+) that keeps merges and stashes
/// uncommitted work. Where a rule wants signed approvals, the reviewer signs with `approve`.
pub(super) fn fix_line(commit: &CommitVerdict, approval_key: &str, tip: bool) -> String {
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
pub(super) fn can_approve(rule: &RuleOutcome) -> Option<String> {
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
pub(super) fn needs(rule: &RuleOutcome) -> String {
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
pub(super) fn fix(commit: &CommitVerdict) -> Option<Vec<&engine::facts::Signature>> {
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
