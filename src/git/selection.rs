//! Which commits a ref update brings, and how the ref moves.
//!
//! The commits checked for an update to NEW are those reachable from NEW and not from the
//! pre-push value of any *protected* ref. Hiding only protected refs (not every ref) closes the
//! route of parking commits on an unprotected branch first and fast-forwarding main to them.
//! During pre-receive the refs still hold their pre-push values, so reading them now is right.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;

use git2::{ErrorCode, ObjectType, Oid, Repository, Sort};

use crate::git::ancestry::History;
use crate::git::commit_graph::CommitGraph;
use crate::git::error::{Context, GitError};
use crate::git::repo::{self, Key};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    Create,
    Delete,
    FastForward,
    /// The new value does not contain the old one (a force push).
    Rewrite,
}

/// How a ref moves from `old` to `new`; whether one contains the other is asked of `history`,
/// the run's view of it (libgit2's `graph_descendant_of` reads no commit-graph, and inflates
/// every commit between: a quarter of the time a push of git's `v2.40.0..v2.47.0` took).
pub fn movement(repo: &Repository, history: &History<'_>, old: Oid, new: Oid) -> Result<Movement, GitError> {
    if new.is_zero() {
        return Ok(Movement::Delete);
    }
    if old.is_zero() {
        return Ok(Movement::Create);
    }
    if old == new {
        return Ok(Movement::FastForward);
    }
    match (peel_to_commit(repo, old)?, peel_to_commit(repo, new)?) {
        (Some(old), Some(new)) => {
            // `git merge-base --is-ancestor`: the old commit is the two's one merge base.
            let contains = history.merge_base(repo, &[new, old])? == Some(old);
            Ok(if contains { Movement::FastForward } else { Movement::Rewrite })
        }
        // A ref moving between a non-commit and anything else is a rewrite.
        _ => Ok(Movement::Rewrite),
    }
}

/// The commit an object peels to; `None` for trees, blobs and tags of those. A missing object is
/// an error, never "no commit".
pub fn peel_to_commit(repo: &Repository, oid: Oid) -> Result<Option<Oid>, GitError> {
    let odb = repo.odb().context(|| "opening the object database".to_string())?;
    let (_, kind) = odb.read_header(oid).context(|| format!("object {oid} is missing"))?;
    // A commit is read by those who judge it, as git reads it (libgit2 refuses some that git
    // reads: `crate::git::commit`).
    if kind == ObjectType::Commit {
        return Ok(Some(oid));
    }
    let object = repo.find_object(oid, None).context(|| format!("reading object {oid}"))?;
    match object.peel(ObjectType::Commit) {
        Ok(commit) => Ok(Some(commit.id())),
        Err(e) if matches!(e.code(), ErrorCode::Peel | ErrorCode::InvalidSpec) => Ok(None),
        Err(source) => Err(source).context(|| format!("peeling {oid}")),
    }
}

/// Commits reachable from `tips` and from none of `hidden`, as `git rev-list` lists them (in
/// an order where a commit comes before its parents).
pub fn walk(
    repo: &Repository,
    graph: Option<&CommitGraph>,
    tips: &[Oid],
    hidden: &[Oid],
) -> Result<Vec<Oid>, GitError> {
    walk_lazily(repo, Arc::new(History::new(graph)), tips, hidden)?.collect()
}

/// [`walk`], one commit at a time as the walk finds it, so judging can start at once; the
/// commits the graph lacks are read through `history`, the run's, once for every use.
pub fn walk_lazily<'r>(
    repo: &'r Repository,
    history: Arc<History<'r>>,
    tips: &[Oid],
    hidden: &[Oid],
) -> Result<Box<dyn Iterator<Item = Result<Oid, GitError>> + 'r>, GitError> {
    if let Some(walk) =
        history.graph().map(|graph| GraphWalk::new(repo, graph, history, tips, hidden)).transpose()?.flatten()
    {
        return Ok(Box::new(walk));
    }
    let mut walk = repo.revwalk().context(|| "starting a revision walk".into())?;
    walk.set_sorting(Sort::NONE).context(|| "sorting the revision walk".into())?;
    // Hide before pushing: libgit2 marks uninteresting commits as it goes, and a tip pushed
    // first makes it walk far into history that the hidden refs already cover.
    for &oid in hidden {
        walk.hide(oid).context(|| format!("hiding {oid}"))?;
    }
    for &tip in tips {
        walk.push(tip).context(|| format!("walking from {tip}"))?;
    }
    Ok(Box::new(walk.map(|oid| oid.context(|| "walking the history".into()))))
}

/// A walk in generation order, parents and generations from the commit-graph: no commit the
/// graph holds is inflated to walk past it.
///
/// A commit's ancestors all have lower generation numbers, so when the walk takes the highest
/// one queued, every commit that could hide it has been taken already: whether it is hidden is
/// final, and it can be handed out at once. Once only hidden commits are queued, nothing
/// reachable from them is wanted, and the walk ends: the hidden side is walked no further than
/// the wanted one reaches.
struct GraphWalk<'r> {
    repo: &'r Repository,
    graph: &'r CommitGraph,
    queue: BinaryHeap<Queued>,
    /// Every commit queued so far, and where it stands.
    marks: HashMap<Key, Mark>,
    /// Wanted commits in the queue: none left, the walk is over.
    wanted_queued: usize,
    /// Where the commits the graph does not hold (pushed, or newer than the graph) are read
    /// and numbered, once for the run.
    history: Arc<History<'r>>,
    parents: Vec<Oid>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    Wanted,
    Hidden,
    /// Handed out, or passed over as hidden: settled for good.
    Taken,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Queued {
    /// [`GraphCommit::walk_order`].
    generation: u64,
    /// Among equal generations, newer first, as git lists them.
    time: i64,
    oid: Oid,
}

/// Commits outside the graph a walk reads before it starts (to number them), below the hidden
/// refs; those the run has read already (the fast-forward check's) cost nothing and are not
/// counted. Past this many the graph is too stale to help (a server that seldom writes it), and
/// libgit2's walk, which stops as soon as commit dates tell it, reads fewer; it is used instead.
const MAX_OUTSIDE_HIDDEN: usize = 2_000;

/// Commits outside the graph a walk reads before it starts, in all. Past the hidden refs' they
/// are the commits pushed, read by the judge anyway: a push of 5,485 of git's commits is judged
/// in two thirds of the time libgit2's walk took (which, with one limit of 2,000, came after
/// 2,000 commits read for nothing). Only a push past the default `max_commits`, refused
/// anyway, is walked by libgit2.
const MAX_OUTSIDE: usize = 100_000;

impl<'r> GraphWalk<'r> {
    /// `None` when more than [`MAX_OUTSIDE_HIDDEN`] commits outside the graph, not read before,
    /// lie below the hidden commits, or [`MAX_OUTSIDE`] in all.
    fn new(
        repo: &'r Repository,
        graph: &'r CommitGraph,
        history: Arc<History<'r>>,
        tips: &[Oid],
        hidden: &[Oid],
    ) -> Result<Option<Self>, GitError> {
        let mut walk = GraphWalk {
            repo,
            graph,
            queue: BinaryHeap::new(),
            marks: HashMap::new(),
            wanted_queued: 0,
            history,
            parents: Vec::new(),
        };
        // The hidden first: what the tips reach past them is what is pushed.
        let mut budget = MAX_OUTSIDE_HIDDEN;
        for (starts, hide) in [(hidden, true), (tips, false)] {
            for &oid in starts {
                if walk.graph.get(oid).is_none() && !walk.history.number_outside(repo, oid, &mut budget)? {
                    return Ok(None);
                }
                walk.enqueue(oid, hide)?;
            }
            budget += MAX_OUTSIDE - MAX_OUTSIDE_HIDDEN;
        }
        Ok(Some(walk))
    }

    /// Queues `oid` if it is new; hides it if it is queued and `hide`.
    fn enqueue(&mut self, oid: Oid, hide: bool) -> Result<(), GitError> {
        match self.marks.get_mut(&Key(oid)) {
            // Queued: a commit has a lower generation than its children, so none is taken
            // before them. (Were the graph's numbers wrong, a hidden commit could be handed out:
            // judged, never skipped.)
            Some(mark @ Mark::Wanted) if hide => {
                *mark = Mark::Hidden;
                self.wanted_queued -= 1;
            }
            Some(_) => {}
            None => {
                let (generation, time) = match self.graph.get(oid) {
                    Some(commit) => (commit.walk_order(), commit.committer_time()),
                    // Numbered when the walk started, with every commit outside the graph below.
                    None => {
                        let outside = self.history.outside_commit(self.repo, oid)?;
                        (outside.walk_order.expect("numbered at the start"), outside.time)
                    }
                };
                self.marks.insert(Key(oid), if hide { Mark::Hidden } else { Mark::Wanted });
                self.wanted_queued += usize::from(!hide);
                self.queue.push(Queued { generation, time, oid });
            }
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<Oid>, GitError> {
        while self.wanted_queued > 0 {
            let Some(Queued { oid, .. }) = self.queue.pop() else { break };
            let mark = self.marks.insert(Key(oid), Mark::Taken);
            let hidden = mark == Some(Mark::Hidden);
            self.wanted_queued -= usize::from(mark == Some(Mark::Wanted));
            let mut parents = std::mem::take(&mut self.parents);
            match self.graph.get(oid) {
                Some(commit) => commit.parents(&mut parents)?,
                None => parents = self.history.outside_commit(self.repo, oid)?.parents,
            }
            for &parent in &parents {
                self.enqueue(parent, hidden)?;
            }
            self.parents = parents;
            if !hidden {
                return Ok(Some(oid));
            }
        }
        Ok(None)
    }
}

impl Iterator for GraphWalk<'_> {
    type Item = Result<Oid, GitError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.step().transpose()
    }
}

/// The commits reachable from the policy's baseline (those present here) and from none of
/// `hidden`: history that predates the gate, exempt from its rules.
pub fn baseline(
    repo: &Repository,
    graph: Option<&CommitGraph>,
    baseline: &[String],
    hidden: &[Oid],
) -> Result<HashSet<Key>, GitError> {
    let tips = baseline_commits(repo, baseline)?;
    if tips.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(walk(repo, graph, &tips, hidden)?.into_iter().map(Key).collect())
}

/// The policy's baseline commits that this repository holds.
pub fn baseline_commits(repo: &Repository, baseline: &[String]) -> Result<Vec<Oid>, GitError> {
    let mut commits = Vec::new();
    for id in baseline {
        // The policy allows either format; one that is not this repository's names no commit here.
        let oid = repo::parse_id(id).ok_or_else(|| {
            GitError::new(format!("baseline commit id {id}"), git2::Error::from_str("not an id"))
        })?;
        if oid.object_format() != repo.object_format() {
            tracing::debug!("baseline {id} is not an id of this repository's format");
            continue;
        }
        match repo.find_commit(oid) {
            Ok(_) => commits.push(oid),
            // Not here (yet): it exempts nothing.
            Err(e) if e.code() == ErrorCode::NotFound => {
                tracing::debug!("baseline {id} is not in the repository")
            }
            Err(source) => return Err(source).context(|| format!("reading baseline commit {id}")),
        }
    }
    Ok(commits)
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use git2::Signature;
    use tempfile::TempDir;

    use super::*;

    /// A chain of `count` commits on `parent` (all with the empty tree), the newest last.
    fn chain(repo: &Repository, parent: Option<Oid>, count: usize) -> Vec<Oid> {
        let tree = repo.find_tree(repo.treebuilder(None).unwrap().write().unwrap()).unwrap();
        let signature =
            Signature::new("Bob Dev", "bob@example.com", &git2::Time::new(1_700_000_000, 0)).unwrap();
        let mut commits = Vec::with_capacity(count);
        let mut parent = parent;
        for i in 0..count {
            let parents: Vec<_> = parent.map(|p| repo.find_commit(p).unwrap()).into_iter().collect();
            let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
            let oid = repo.commit(None, &signature, &signature, &format!("{i}"), &tree, &parents).unwrap();
            commits.push(oid);
            parent = Some(oid);
        }
        commits
    }

    /// A repository whose commit-graph holds `in_graph` commits, with `outside` more above them.
    fn repo(in_graph: usize, outside: usize) -> (TempDir, Repository, Vec<Oid>) {
        let dir = TempDir::new().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let mut commits = chain(&repo, None, in_graph);
        repo.reference("refs/heads/main", *commits.last().unwrap(), true, "").unwrap();
        let written = Command::new("git")
            .args(["commit-graph", "write", "--reachable"])
            .env("GIT_DIR", dir.path())
            .status()
            .unwrap();
        assert!(written.success());
        commits.extend(chain(&repo, commits.last().copied(), outside));
        (dir, repo, commits)
    }

    #[test]
    fn the_objects_a_walk_reads_are_handed_to_the_judge_once() {
        let (_dir, repo, commits) = repo(3, 2);
        let graph = CommitGraph::open(&repo).expect("a graph");
        let history = Arc::new(History::new(Some(&graph)));
        let walk = GraphWalk::new(&repo, &graph, Arc::clone(&history), &[commits[4]], &[commits[2]]).unwrap();
        let listed: Vec<Oid> = walk.expect("walked by generation").map(Result::unwrap).collect();
        assert_eq!(listed, [commits[4], commits[3]]);
        let kept = history.take_commit(commits[4]).expect("kept");
        assert_eq!((&kept.parents[..], kept.message()), (&[commits[3]][..], &b"1"[..]));
        assert!(history.take_commit(commits[4]).is_none(), "handed over once");
        assert!(history.take_commit(commits[1]).is_none(), "in the graph: never read");
        // Without a graph, what a merge-base search reads is kept for the judge too, once.
        let plain = History::new(None);
        plain.outside_commit(&repo, commits[4]).unwrap();
        assert_eq!(plain.take_commit(commits[4]).expect("kept").parents, [commits[3]]);
        assert!(plain.take_commit(commits[4]).is_none(), "handed over once");
    }

    #[test]
    fn a_push_of_thousands_of_commits_the_graph_lacks_is_walked_by_generation() {
        let (_dir, repo, commits) = repo(10, MAX_OUTSIDE_HIDDEN + 100);
        let graph = CommitGraph::open(&repo).expect("a graph");
        let history = Arc::new(History::new(Some(&graph)));
        let walk =
            GraphWalk::new(&repo, &graph, history, &[*commits.last().unwrap()], &[commits[9]]).unwrap();
        let listed: HashSet<Oid> = walk.expect("walked by generation").map(Result::unwrap).collect();
        assert_eq!(listed, commits[10..].iter().copied().collect());
    }

    #[test]
    fn a_graph_thousands_of_commits_below_a_hidden_ref_leaves_the_walk_to_libgit2_unless_they_are_read() {
        let (_dir, repo, commits) = repo(10, MAX_OUTSIDE_HIDDEN + 100);
        let graph = CommitGraph::open(&repo).expect("a graph");
        let pushed = chain(&repo, commits.last().copied(), 1);
        let hidden = *commits.last().unwrap();
        let history = Arc::new(History::new(Some(&graph)));
        assert!(GraphWalk::new(&repo, &graph, Arc::clone(&history), &pushed, &[hidden]).unwrap().is_none());
        // Either way, the pushed commit alone.
        assert_eq!(walk(&repo, Some(&graph), &pushed, &[hidden]).unwrap(), pushed);
        // Read already (the fast-forward check's question reads and numbers every commit the
        // graph lacks), they cost the walk nothing.
        assert_eq!(history.merge_base(&repo, &[pushed[0], hidden]).unwrap(), Some(hidden));
        let walk = GraphWalk::new(&repo, &graph, history, &pushed, &[hidden]).unwrap();
        let listed: Vec<Oid> = walk.expect("walked by generation").map(Result::unwrap).collect();
        assert_eq!(listed, pushed);
    }
}
