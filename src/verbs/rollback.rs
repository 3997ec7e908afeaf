//! `countersign rollback`: a plan to revert what landed in a window, for the incident in which
//! AI-assisted changes are suspected, and with `--apply` a new branch of revert commits.
//!
//! The commits are those `git rev-list REVISION...` lists, newest first (topological order),
//! kept when they match every filter: committer date window, AI-assisted, tool, changed path.
//! Each is reverted in memory on top of the reverts before it (a three-way merge of trees, as
//! `git merge-tree` does: no work tree, no index, no ref touched), so the plan
//! says which revert cleanly in that order and where the others conflict. A conflicting revert
//! is left out and the next ones build on what did apply. Merges are listed, never reverted:
//! which side to undo is a person's choice (`git revert -m`).
//!
//! `--apply BRANCH` writes the clean reverts as commits on a branch that must not exist yet, so
//! no ref is ever moved, a protected one least of all; the branch lands through the gate like
//! any change. It is refused in a bare repository: on a server that would skip the hook.
//!
//! This module reads and writes git itself, beside the git layer, because every step depends
//! on the tree the previous revert left; the provenance is the engine's ([`Detector`]).

use std::fmt::Write as _;

use git2::{Commit, Repository, Sort};
use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::git::commit::CommitObject;
use crate::git::error::{Context as _, GitError};
use crate::git::notes::Notes;
use crate::git::repo;
use crate::verbs::check::{self, CheckError};
use engine::globs::GlobList;
use engine::policy::Policy;
use engine::provenance::{Detector, Evidence, EvidenceKind};

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error(transparent)]
    Check(#[from] CheckError),
    #[error(transparent)]
    Git(#[from] GitError),
    #[error("--apply: branch {0} already exists; rollback never moves a ref, name a new branch")]
    BranchExists(String),
    #[error("--apply: `{0}` is not a valid branch name")]
    BadBranch(String),
    #[error(
        "--apply: this is a bare repository (a server?): a branch written here would skip the \
         gate. Run rollback in a clone and push the branch"
    )]
    Bare,
    #[error("--apply: no commit reverts cleanly, so there is no branch to write")]
    NothingToApply,
}

/// What to select.
#[derive(Debug, Default)]
pub struct Filters {
    /// Committer date (UTC) on or after.
    pub since: Option<Date>,
    /// Committer date (UTC) on or before.
    pub until: Option<Date>,
    pub ai_only: bool,
    /// A tool as the evidence names it (`Claude Code`, `Copilot`...), or part of its name,
    /// case-insensitive.
    pub tool: Option<String>,
    /// Changed paths (against the first parent) at least one of which must match.
    pub paths: Option<GlobList>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Reverts cleanly on top of the reverts listed before it.
    Clean,
    /// Its revert conflicts there; left out, the next ones build without it.
    Conflict,
    /// A merge: reported, not reverted.
    Merge,
    /// A root commit: reverting it would empty the tree; left to a person.
    Root,
}

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub id: String,
    pub summary: String,
    pub author: String,
    /// Committer date, UTC.
    pub date: String,
    pub ai_assisted: bool,
    pub evidence: Vec<Evidence>,
    pub outcome: Outcome,
    /// The conflicting paths, for [`Outcome::Conflict`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<String>,
    /// The revert commit written for it, with `--apply`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revert: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The commit the reverts apply on top of.
    pub base: String,
    /// Commits the revisions list, before filtering.
    pub listed: usize,
    /// Newest first.
    pub steps: Vec<Step>,
    /// With `--apply`: the branch written and its tip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<(String, String)>,
    /// Why these commits: the filters in words.
    pub why: String,
}

/// Plans the rollback of the commits `revisions` lists that match `filters`, on top of the
/// first revision's commit; with `apply`, writes the branch.
pub fn plan(
    repo: &Repository,
    policy: &Policy,
    revisions: &[String],
    filters: &Filters,
    apply: Option<&str>,
) -> Result<Plan, RollbackError> {
    let branch = apply.map(|name| new_branch(repo, name)).transpose()?;
    let revisions = check::resolve(repo, revisions)?;
    let base = revisions.include[0];
    let mut walk = repo.revwalk().context(|| "starting a walk".into())?;
    walk.set_sorting(Sort::TOPOLOGICAL | Sort::TIME).context(|| "sorting the walk".into())?;
    for oid in &revisions.include {
        walk.push(*oid).context(|| format!("walking from {oid}"))?;
    }
    for oid in &revisions.exclude {
        walk.hide(*oid).context(|| format!("hiding {oid}"))?;
    }
    let detector = Detector::new(&policy.provenance);
    let notes = Notes::open(repo, &policy.provenance.notes).with_traces(repo, &revisions.include);
    let why = filters.describe();
    let base_commit = repo.find_commit(base).context(|| format!("reading {base}"))?;
    let mut ours = base_commit.tree().context(|| format!("reading the tree of {base}"))?;
    let mut steps = Vec::new();
    // The tree each clean revert leaves, by step.
    let mut reverted = Vec::new();
    let mut listed = 0;
    for oid in walk {
        let oid = oid.context(|| "walking the revisions".into())?;
        listed += 1;
        let commit = repo.find_commit(oid).context(|| format!("reading {oid}"))?;
        let date = utc_date(commit.time().seconds());
        if filters.since.is_some_and(|since| date < since) || filters.until.is_some_and(|until| date > until)
        {
            continue;
        }
        if let Some(paths) = &filters.paths
            && !changed_paths(repo, &commit)?.iter().any(|p| paths.is_match(p))
        {
            continue;
        }
        let mut facts =
            repo::read_commit(repo, &CommitObject::read(repo, oid)?, repo::PatchIds::Never, false, false)?;
        facts.notes = notes.read(repo, oid);
        let provenance = detector.detect(&facts);
        let is_merge = commit.parent_count() > 1;
        // A merge is reported whatever its own provenance: its sides may hold what is sought.
        if !is_merge && !filters.keeps(provenance.ai_assisted, &provenance.evidence) {
            continue;
        }
        let mut step = Step {
            id: oid.to_string(),
            summary: facts.summary().to_string(),
            author: facts.author.to_string(),
            date: date.to_string(),
            ai_assisted: provenance.ai_assisted,
            evidence: provenance.evidence,
            outcome: Outcome::Clean,
            conflicts: Vec::new(),
            revert: None,
        };
        match commit.parent_count() {
            0 => step.outcome = Outcome::Root,
            1 => {
                // A revert is the three-way merge of our tree and the parent's, from the
                // commit's own: what `git revert` does, in memory.
                let theirs = commit
                    .parent(0)
                    .and_then(|p| p.tree())
                    .context(|| format!("reading the parent tree of {oid}"))?;
                let ancestor = commit.tree().context(|| format!("reading the tree of {oid}"))?;
                let mut index = repo
                    .merge_trees(&ancestor, &ours, &theirs, None)
                    .context(|| format!("reverting {oid}"))?;
                if index.has_conflicts() {
                    step.outcome = Outcome::Conflict;
                    step.conflicts = conflicted_paths(&index)?;
                } else {
                    // Tree objects only: without `--apply` no commit or ref names them, and
                    // git's gc takes them.
                    let tree =
                        index.write_tree_to(repo).context(|| format!("writing the revert of {oid}"))?;
                    ours = repo.find_tree(tree).context(|| format!("reading the revert of {oid}"))?;
                    reverted.push((steps.len(), tree));
                }
            }
            _ => step.outcome = Outcome::Merge,
        }
        steps.push(step);
    }
    let mut plan = Plan { base: base.to_string(), listed, steps, branch: None, why };
    if let Some(refname) = branch {
        if reverted.is_empty() {
            return Err(RollbackError::NothingToApply);
        }
        let signature = writer(repo)?;
        let mut tip = base_commit;
        for (index, tree) in reverted {
            let step = &mut plan.steps[index];
            let tree = repo.find_tree(tree).context(|| format!("reading {tree}"))?;
            let message = revert_message(step, &plan.why);
            let revert = repo
                .commit(None, &signature, &signature, &message, &tree, &[&tip])
                .context(|| format!("writing the revert of {}", step.id))?;
            step.revert = Some(revert.to_string());
            tip = repo.find_commit(revert).context(|| format!("reading {revert}"))?;
        }
        let log = format!("countersign rollback: {}", plan.why);
        // `force = false`: created only if it still does not exist.
        repo.reference(&refname, tip.id(), false, &log).map_err(|e| match e.code() {
            git2::ErrorCode::Exists => RollbackError::BranchExists(refname.clone()),
            _ => GitError::new(format!("creating {refname}"), e).into(),
        })?;
        plan.branch = Some((refname, tip.id().to_string()));
    }
    Ok(plan)
}

/// Who writes the reverts, as git would have it: `GIT_COMMITTER_NAME` and `_EMAIL`, else
/// `user.name` and `user.email`.
fn writer(repo: &Repository) -> Result<git2::Signature<'static>, GitError> {
    let what = || "who writes the reverts (git config user.name and user.email)".to_string();
    match (std::env::var("GIT_COMMITTER_NAME"), std::env::var("GIT_COMMITTER_EMAIL")) {
        (Ok(name), Ok(email)) => git2::Signature::now(&name, &email).context(what),
        _ => repo.signature().context(what),
    }
}

/// `refs/heads/NAME`, which must be a valid name and not exist yet, in a repository with a
/// work tree.
fn new_branch(repo: &Repository, name: &str) -> Result<String, RollbackError> {
    if repo.is_bare() {
        return Err(RollbackError::Bare);
    }
    let refname = format!("refs/heads/{}", name.strip_prefix("refs/heads/").unwrap_or(name));
    if !git2::Reference::is_valid_name(&refname) {
        return Err(RollbackError::BadBranch(name.to_string()));
    }
    match repo.find_reference(&refname) {
        Ok(_) => Err(RollbackError::BranchExists(refname)),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(refname),
        Err(e) => Err(GitError::new(format!("looking up {refname}"), e).into()),
    }
}

impl Filters {
    fn keeps(&self, ai_assisted: bool, evidence: &[Evidence]) -> bool {
        if self.ai_only && !ai_assisted {
            return false;
        }
        match &self.tool {
            // Part of a name is enough: `claude` finds `Claude Code`, `Claude` and `Claude Opus
            // 4.6 via Crush` alike; a plan that shows too much is read, one that misses is not.
            Some(tool) => {
                let tool = tool.trim().to_lowercase();
                evidence
                    .iter()
                    .any(|e| e.kind != EvidenceKind::UnreadableNote && e.tool.to_lowercase().contains(&tool))
            }
            None => true,
        }
    }

    /// The filters in words, for the plan and each revert's message.
    fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.ai_only {
            parts.push("AI-assisted".to_string());
        }
        if let Some(tool) = &self.tool {
            parts.push(format!("evidence of {tool}"));
        }
        match (self.since, self.until) {
            (Some(since), Some(until)) => parts.push(format!("committed {since} to {until}")),
            (Some(since), None) => parts.push(format!("committed on or after {since}")),
            (None, Some(until)) => parts.push(format!("committed on or before {until}")),
            (None, None) => {}
        }
        if let Some(paths) = &self.paths {
            parts.push(format!("changing {}", paths.patterns().join(", ")));
        }
        if parts.is_empty() { "every commit of the revisions".into() } else { parts.join(", ") }
    }
}

fn revert_message(step: &Step, why: &str) -> String {
    let mut message = format!("Revert \"{}\"\n\nThis reverts commit {}.\n\n", step.summary, step.id);
    let _ = writeln!(message, "Rolled back by countersign rollback: {why}.");
    let counted: Vec<&Evidence> =
        step.evidence.iter().filter(|e| e.kind != EvidenceKind::UnreadableNote).collect();
    if step.ai_assisted && !counted.is_empty() {
        let _ = writeln!(message, "Its AI provenance:");
        for evidence in counted {
            let _ = writeln!(message, "  {}: {}", evidence.kind, evidence.text);
        }
    }
    message
}

/// Paths the commit changes against its first parent (its whole tree for a root).
fn changed_paths(repo: &Repository, commit: &Commit<'_>) -> Result<Vec<String>, GitError> {
    let id = commit.id();
    let tree = commit.tree().context(|| format!("reading the tree of {id}"))?;
    let parent = match commit.parent_count() {
        0 => None,
        _ => Some(commit.parent(0).and_then(|p| p.tree()).context(|| format!("reading the parent of {id}"))?),
    };
    let diff = repo
        .diff_tree_to_tree(parent.as_ref(), Some(&tree), None)
        .context(|| format!("diffing {id} against its parent"))?;
    let mut paths = Vec::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(path) = file.path().and_then(|p| p.to_str())
                && !paths.iter().any(|known| known == path)
            {
                paths.push(path.to_string());
            }
        }
    }
    Ok(paths)
}

fn conflicted_paths(index: &git2::Index) -> Result<Vec<String>, GitError> {
    let conflicts = index.conflicts().context(|| "listing a revert's conflicts".into())?;
    let mut paths = Vec::new();
    for conflict in conflicts {
        let conflict = conflict.context(|| "reading a revert's conflict".into())?;
        let entry = conflict.our.or(conflict.their).or(conflict.ancestor);
        if let Some(entry) = entry {
            paths.push(String::from_utf8_lossy(&entry.path).into_owned());
        }
    }
    Ok(paths)
}

fn utc_date(seconds: i64) -> Date {
    Timestamp::from_second(seconds).unwrap_or(Timestamp::UNIX_EPOCH).to_zoned_datetime(TimeZone::UTC).date()
}

impl Plan {
    pub fn human(&self) -> String {
        let mut out = String::new();
        let clean = self.steps.iter().filter(|s| s.outcome == Outcome::Clean).count();
        let _ = writeln!(
            out,
            "rollback plan on {}: {} of {} commit(s) selected ({}), newest first; {clean} revert(s) cleanly",
            &self.base[..12],
            self.steps.len(),
            self.listed,
            self.why
        );
        for step in &self.steps {
            let _ = writeln!(
                out,
                "\n{} {} \"{}\" by {}",
                &step.id[..12],
                step.date,
                clean_text(&step.summary),
                clean_text(&step.author)
            );
            if step.ai_assisted {
                let tools: Vec<&str> = step
                    .evidence
                    .iter()
                    .filter(|e| e.kind != EvidenceKind::UnreadableNote)
                    .map(|e| e.tool.as_str())
                    .collect();
                let _ = writeln!(out, "  AI-assisted: {}", clean_text(&dedup(tools).join(", ")));
            } else {
                out.push_str("  AI-assisted: no\n");
            }
            for evidence in &step.evidence {
                let _ = writeln!(out, "    {}: {}", evidence.kind, clean_text(&evidence.text));
            }
            let outcome = match step.outcome {
                Outcome::Clean => match &step.revert {
                    Some(revert) => format!("reverted by {}", &revert[..12]),
                    None => "reverts cleanly".into(),
                },
                Outcome::Conflict => format!(
                    "revert conflicts in {}: left out, revert it by hand (the next ones build without it)",
                    clean_text(&step.conflicts.join(", "))
                ),
                Outcome::Merge => format!(
                    "merge: reported, not reverted (choose the side to undo: git revert -m 1 {})",
                    &step.id[..12]
                ),
                Outcome::Root => "root commit: not reverted (it would empty the tree)".into(),
            };
            let _ = writeln!(out, "  {outcome}");
        }
        match &self.branch {
            Some((branch, tip)) => {
                let name = branch.strip_prefix("refs/heads/").unwrap_or(branch);
                let _ = writeln!(
                    out,
                    "\nwrote {branch} at {}: push it for review like any change (git push origin {name})",
                    &tip[..12]
                );
            }
            None if clean > 0 => {
                out.push_str("\nnothing written: --apply BRANCH writes the clean reverts to a new branch\n")
            }
            None => {}
        }
        out
    }
}

fn dedup(items: Vec<&str>) -> Vec<&str> {
    let mut seen = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

/// No control characters from a commit reach the terminal.
fn clean_text(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { '?' } else { c }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(kind: EvidenceKind, tool: &str) -> Evidence {
        Evidence { kind, text: "x".into(), tool: tool.into() }
    }

    #[test]
    fn tool_filter_matches_part_of_a_tool_name_case_insensitively() {
        let filters = Filters { tool: Some("claude".into()), ..Filters::default() };
        assert!(filters.keeps(true, &[evidence(EvidenceKind::Identity, "Claude Code")]));
        assert!(filters.keeps(true, &[evidence(EvidenceKind::Trailer, "Claude Opus 4.6 via Crush")]));
        assert!(!filters.keeps(true, &[evidence(EvidenceKind::Identity, "Cursor")]));
        assert!(!filters.keeps(false, &[evidence(EvidenceKind::UnreadableNote, "Claude Code")]));
    }

    #[test]
    fn ai_only_drops_human_commits() {
        let filters = Filters { ai_only: true, ..Filters::default() };
        assert!(!filters.keeps(false, &[]));
        assert!(filters.keeps(true, &[evidence(EvidenceKind::Trailer, "Crush")]));
    }

    #[test]
    fn filters_in_words() {
        assert_eq!(Filters::default().describe(), "every commit of the revisions");
        let filters = Filters {
            ai_only: true,
            since: Some(jiff::civil::date(2026, 3, 1)),
            until: Some(jiff::civil::date(2026, 3, 31)),
            ..Filters::default()
        };
        assert_eq!(filters.describe(), "AI-assisted, committed 2026-03-01 to 2026-03-31");
    }
}
