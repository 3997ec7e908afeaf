//! `countersign check` and `countersign explain`: the push's judgement, run in CI before the
//! push. The commits are those `git rev-list REVISION...` would list, judged as if pushed to a
//! ref, by the same [`Judge`] the hook uses.

use std::collections::HashSet;

use git2::{Oid, Repository};

use crate::gate::{self, Judge, Keep};
use crate::git::ancestry::History;
use crate::git::commit_graph::CommitGraph;
use crate::git::error::GitError;
use crate::git::notes::Notes;
use crate::git::policy_source::{Location, LookupError};
use crate::git::ref_updates::RefUpdate;
use crate::git::repo::{self, Key};
use crate::git::selection;
use crate::report::{RefReport, Report};
use engine::policy::Policy;
use engine::verdict::{CommitVerdict, Engine};

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("`{spec}` is not a revision here: {message}")]
    BadRevision { spec: String, message: String },
    #[error("no revision to check: give a range such as origin/main..HEAD")]
    NoRevision,
    #[error(
        "history is cut off {0} (a shallow clone): its changes cannot be known. Fetch more \
         history (`git fetch --unshallow`, or `fetch-depth: 0` in actions/checkout)"
    )]
    Shallow(String),
    #[error("--ref takes a full ref name such as refs/heads/main, not `{0}`")]
    ShortRef(String),
    #[error(transparent)]
    Policy(#[from] LookupError),
    #[error(transparent)]
    Git(#[from] GitError),
}

/// What a list of revisions means, as `git rev-list` reads it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Revisions {
    pub include: Vec<Oid>,
    pub exclude: Vec<Oid>,
}

/// Resolves `A..B`, `A...B`, `^A` and `A` (tags peel to commits), by `git rev-parse`: what
/// `git rev-list` reads them with, through whatever stores the refs (libgit2 reads no reftable).
pub fn resolve(repo: &Repository, specs: &[String]) -> Result<Revisions, CheckError> {
    let mut revisions = Revisions::default();
    for spec in specs {
        let bad = |message: String| CheckError::BadRevision { spec: spec.clone(), message };
        // An option is no revision (and rev-parse would take it as one of its own).
        if spec.is_empty() || spec.starts_with('-') {
            return Err(bad("not a revision".into()));
        }
        // The trailing `--` makes git take `spec` as a revision, never a path.
        let output = repo::git(repo, &["rev-parse", spec, "--"]).map_err(bad)?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let first = stderr.lines().next().unwrap_or("git rev-parse failed");
            return Err(bad(first.trim_start_matches("fatal: ").to_string()));
        }
        // One id a line, `^` before those to exclude (`A...B` lists B, A and every merge
        // base, as rev-list excludes them all).
        for line in String::from_utf8_lossy(&output.stdout).lines().filter(|&line| line != "--") {
            let (excluded, hex) = match line.strip_prefix('^') {
                Some(hex) => (true, hex),
                None => (false, line),
            };
            let oid = repo::parse_id(hex).ok_or_else(|| bad(format!("git rev-parse printed {line:?}")))?;
            let commit = commit_of(repo, spec, oid)?;
            if excluded { revisions.exclude.push(commit) } else { revisions.include.push(commit) }
        }
    }
    if revisions.include.is_empty() {
        return Err(CheckError::NoRevision);
    }
    Ok(revisions)
}

fn commit_of(repo: &Repository, spec: &str, oid: Oid) -> Result<Oid, CheckError> {
    selection::peel_to_commit(repo, oid)?.ok_or_else(|| CheckError::BadRevision {
        spec: spec.to_string(),
        message: format!("{oid} is not a commit"),
    })
}

/// Judges the commits of `revisions` as if pushed to `refname`, as the hook would: nothing on
/// an unprotected ref, and a valid policy wherever the push would change the committed one.
/// `progress` hears how many commits are judged so far.
pub fn check(
    repo: &Repository,
    engine: &Engine<'_>,
    location: &Location,
    refname: &str,
    revisions: &Revisions,
    keep: Keep,
    progress: &mut dyn FnMut(usize),
) -> Result<Report, CheckError> {
    if !refname.starts_with("refs/") {
        return Err(CheckError::ShortRef(refname.to_string()));
    }
    let old = revisions.exclude.first().copied().unwrap_or_else(|| repo::zero_id(repo));
    let mut report = RefReport::new(refname, old, revisions.include[0]);
    let update = RefUpdate { old, new: revisions.include[0], refname: refname.to_string() };
    // In CI the committed policy is read from a remote-tracking ref; the range would land on
    // `refname`, so that is where a change to the policy file must leave a valid one.
    let holds_policy = matches!(location, Location::Committed { .. });
    if let Some(problem) = gate::committed_policy_change(repo, engine, location, holds_policy, &update)? {
        report.problems.push(problem);
    }
    if !engine.policy().gate.protected.is_match(refname) && !holds_policy {
        report.note = Some("not a protected ref".into());
        return Ok(Report::new(engine.policy(), vec![report]));
    }
    let graph = CommitGraph::open(repo);
    let graph = graph.as_ref();
    let baseline = selection::baseline(repo, graph, &engine.policy().gate.baseline, &revisions.exclude)?;
    let boundary = shallow_boundary(repo);
    let mut cut_at = None;
    let open = reopen(repo);
    let notes = Notes::open(repo, &engine.policy().provenance.notes).with_traces(repo, &revisions.include);
    let mut judge = Judge::new(repo, graph, &open, engine, baseline, false).with_notes(notes).keeping(keep);
    // Judged as the walk finds them; a shallow clone's boundary stops the walk.
    let commits =
        selection::walk_lazily(repo, judge.history(), &revisions.include, &revisions.exclude)?.map(|oid| {
            let oid = oid?;
            match boundary.contains(&Key(oid)) {
                true => Err(GitError::new(format!("{oid}"), git2::Error::from_str("a shallow boundary"))),
                false => Ok(oid),
            }
            .inspect_err(|_| cut_at = Some(oid))
        });
    let judged = judge.judge(commits, &[refname.to_string()], progress);
    let judged = match judged {
        Ok(judged) => judged,
        Err(_) if let Some(cut) = cut_at => return Err(CheckError::Shallow(format!("at {cut}"))),
        // libgit2 does not see the graft of a linked worktree of a shallow clone.
        Err(e) if repo.is_shallow() => return Err(CheckError::Shallow(format!("({e})"))),
        Err(e) => return Err(e.into()),
    };
    judged.record(&mut report);
    gate::add_sign_off_problem(&mut report);
    Ok(Report::new(engine.policy(), vec![report]))
}

/// More handles on `repo`, for threads: outside a hook, its path says all.
fn reopen(repo: &Repository) -> impl Fn() -> Result<Repository, GitError> + Sync {
    let path = repo.path().to_path_buf();
    move || repo::open(&path)
}

/// A shallow clone's boundary commits, which look like root commits and so would change every
/// path: they are refused rather than judged wrong.
fn shallow_boundary(repo: &Repository) -> HashSet<Key> {
    if !repo.is_shallow() {
        return HashSet::new();
    }
    // The shallow file is shared by every worktree of the repository.
    let shallow = std::fs::read_to_string(repo.commondir().join("shallow")).unwrap_or_default();
    shallow.lines().filter_map(|line| repo::parse_id(line.trim())).map(Key).collect()
}

/// Judges one commit, every rule, as if pushed to `refname`.
pub fn explain(
    repo: &Repository,
    engine: &Engine<'_>,
    refname: &str,
    spec: &str,
) -> Result<CommitVerdict, CheckError> {
    if !refname.starts_with("refs/") {
        return Err(CheckError::ShortRef(refname.to_string()));
    }
    let revisions = resolve(repo, &[spec.to_string()])?;
    let [oid] = revisions.include[..] else {
        return Err(CheckError::BadRevision {
            spec: spec.into(),
            message: "explain takes one commit".into(),
        });
    };
    if shallow_boundary(repo).contains(&Key(oid)) {
        return Err(CheckError::Shallow(format!("at {oid}")));
    }
    let graph = CommitGraph::open(repo);
    let baseline = match in_baseline(repo, &History::new(graph.as_ref()), engine.policy(), oid)? {
        true => HashSet::from([Key(oid)]),
        false => HashSet::new(),
    };
    let open = reopen(repo);
    // The commit's own records are in a later commit: the checked-out one's, as CI has it.
    let head = repo.head().ok().and_then(|head| head.target());
    let tips: Vec<Oid> = std::iter::once(oid).chain(head).collect();
    let notes = Notes::open(repo, &engine.policy().provenance.notes).with_traces(repo, &tips);
    let judged = Judge::new(repo, graph.as_ref(), &open, engine, baseline, false).with_notes(notes).judge(
        std::iter::once(Ok(oid)),
        &[refname.to_string()],
        &mut |_| {},
    )?;
    // One commit and no limits: one verdict.
    judged.verdicts.into_iter().next().ok_or_else(|| CheckError::BadRevision {
        spec: spec.into(),
        message: "it could not be judged".into(),
    })
}

fn in_baseline(
    repo: &Repository,
    history: &History<'_>,
    policy: &Policy,
    oid: Oid,
) -> Result<bool, GitError> {
    for base in selection::baseline_commits(repo, &policy.gate.baseline)? {
        if base == oid {
            return Ok(true);
        }
        // Below the baseline: the commit is the two's one merge base (asked as a push's
        // fast-forward is, of the commit-graph).
        if history.merge_base(repo, &[base, oid])? == Some(oid) {
            return Ok(true);
        }
    }
    Ok(false)
}
