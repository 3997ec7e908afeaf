//! Which commits a ref update brings, and how the ref moves.
//!
//! The commits checked for an update to NEW are those reachable from NEW and not from the
//! pre-push value of any *protected* ref. Hiding only protected refs (not every ref) closes the
//! route of parking commits on an unprotected branch first and fast-forwarding main to them.
//! During pre-receive the refs still hold their pre-push values, so reading them now is right.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::process::{Command, Stdio};

use git2::{ErrorCode, ObjectType, Oid, Repository, Sort};

use crate::commit_graph::CommitGraph;
use crate::repo::{Context, GitError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    Create,
    Delete,
    FastForward,
    /// The new value does not contain the old one (a force push).
    Rewrite,
}

pub fn movement(repo: &Repository, old: Oid, new: Oid) -> Result<Movement, GitError> {
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
            let contains = old == new
                || repo.graph_descendant_of(new, old).context(|| format!("comparing {old} and {new}"))?;
            Ok(if contains { Movement::FastForward } else { Movement::Rewrite })
        }
        // A ref moving between a non-commit and anything else is a rewrite.
        _ => Ok(Movement::Rewrite),
    }
}

/// The commit an object peels to; `None` for trees, blobs and tags of those. A missing object is
/// an error, never "no commit".
pub fn peel_to_commit(repo: &Repository, oid: Oid) -> Result<Option<Oid>, GitError> {
    let object = repo.find_object(oid, None).context(|| format!("object {oid} is missing"))?;
    match object.peel(ObjectType::Commit) {
        Ok(commit) => Ok(Some(commit.id())),
        Err(e) if matches!(e.code(), ErrorCode::Peel | ErrorCode::InvalidSpec) => Ok(None),
        Err(source) => Err(source).context(|| format!("peeling {oid}")),
    }
}

/// The refs a push's judgement reads, listed once, by `git for-each-ref`.
///
/// Why git and not libgit2: on the first ref it reads, libgit2 parses the whole `packed-refs`
/// file (and copies it for a listing), 90 ms with 100,000 refs, where git reads only the part
/// a pattern names. A hook runs under `git receive-pack`, so git is at hand, except in a hook
/// environment that ships none (GitHub Enterprise Server's chroot): there libgit2 lists them.
pub struct Refs {
    /// Each listed ref: the id it resolves to, and the ref it points at if it is symbolic.
    by_name: HashMap<String, (Oid, Option<String>)>,
}

impl Refs {
    /// Lists the refs under `prefixes` (each cut back to a `/`, as git matches patterns), and
    /// the refs named in `names`. An empty prefix lists every ref.
    pub fn list<'p>(
        repo: &Repository,
        prefixes: impl IntoIterator<Item = &'p str>,
        names: impl IntoIterator<Item = &'p str>,
    ) -> Result<Refs, GitError> {
        let mut patterns = Vec::new();
        for prefix in prefixes {
            match prefix.rfind('/') {
                Some(end) => patterns.push(&prefix[..=end]),
                None => {
                    patterns.clear();
                    break;
                }
            }
        }
        if !patterns.is_empty() {
            patterns.extend(names);
        }
        let failed = |why: String| {
            GitError::new("listing refs with git for-each-ref".into(), git2::Error::from_str(&why))
        };
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(repo.path())
            .args(["for-each-ref", "--format=%(refname)%00%(objectname)%00%(symref)", "--"])
            .args(&patterns)
            .stdin(Stdio::null())
            .output();
        let output = match output {
            Ok(output) => output,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Refs::list_with_libgit2(repo),
            Err(e) => return Err(failed(e.to_string())),
        };
        if !output.status.success() {
            return Err(failed(String::from_utf8_lossy(&output.stderr).trim().to_string()));
        }
        let mut by_name = HashMap::new();
        // Ref names hold no control characters (git-check-ref-format), so NUL and newline
        // separate fields and records.
        for record in output.stdout.split(|&b| b == b'\n').filter(|r| !r.is_empty()) {
            let fields: Vec<&[u8]> = record.split(|&b| b == 0).collect();
            let [name, id, symref] = fields[..] else {
                return Err(failed(format!("unexpected output {:?}", String::from_utf8_lossy(record))));
            };
            let id = std::str::from_utf8(id).ok().and_then(|id| Oid::from_str(id).ok());
            let Some(id) = id else {
                return Err(failed(format!("unexpected id in {:?}", String::from_utf8_lossy(record))));
            };
            // Ref names need not be UTF-8; globs are, so compare the lossy form.
            let symref = (!symref.is_empty()).then(|| String::from_utf8_lossy(symref).into_owned());
            by_name.insert(String::from_utf8_lossy(name).into_owned(), (id, symref));
        }
        Ok(Refs { by_name })
    }

    fn list_with_libgit2(repo: &Repository) -> Result<Refs, GitError> {
        let mut by_name = HashMap::new();
        for reference in repo.references().context(|| "listing refs".into())? {
            let reference = reference.context(|| "reading a ref".into())?;
            let name = String::from_utf8_lossy(reference.name_bytes()).into_owned();
            let symref = reference.symbolic_target_bytes().map(|t| String::from_utf8_lossy(t).into_owned());
            let resolved = reference.resolve().context(|| format!("resolving {name}"))?;
            if let Some(id) = resolved.target() {
                by_name.insert(name, (id, symref));
            }
        }
        Ok(Refs { by_name })
    }

    /// The ref a symbolic ref finally points at, if `name` is one (git updates that ref when
    /// a push names the symbolic one, so that is the ref to judge).
    pub fn symbolic_target(&self, name: &str) -> Option<String> {
        let mut current = name;
        // git itself gives up after 5 levels (SYMREF_MAXDEPTH).
        for _ in 0..5 {
            match self.by_name.get(current) {
                Some((_, Some(target))) => current = target,
                _ => break,
            }
        }
        (current != name).then(|| current.to_string())
    }

    /// The protected refs and the commits they point at now (before the push).
    pub fn protected_tips(
        &self,
        repo: &Repository,
        is_protected: impl Fn(&str) -> bool,
    ) -> Result<Vec<(String, Oid)>, GitError> {
        let mut tips = Vec::new();
        for (name, &(id, _)) in &self.by_name {
            if is_protected(name)
                && let Some(commit) = peel_to_commit(repo, id)?
            {
                tips.push((name.clone(), commit));
            }
        }
        tips.sort();
        Ok(tips)
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
    walk_lazily(repo, graph, tips, hidden)?.collect()
}

/// [`walk`], one commit at a time as the walk finds it, so judging can start at once.
pub fn walk_lazily<'r>(
    repo: &'r Repository,
    graph: Option<&'r CommitGraph>,
    tips: &[Oid],
    hidden: &[Oid],
) -> Result<Box<dyn Iterator<Item = Result<Oid, GitError>> + 'r>, GitError> {
    if let Some(walk) = graph.map(|graph| GraphWalk::new(repo, graph, tips, hidden)).transpose()?.flatten() {
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
    marks: HashMap<Oid, Mark>,
    /// Wanted commits in the queue: none left, the walk is over.
    wanted_queued: usize,
    /// Commits the graph does not hold (pushed, or newer than the graph), read from their objects.
    outside: HashMap<Oid, Outside>,
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
    generation: u32,
    /// Among equal generations, newer first, as git lists them.
    time: i64,
    oid: Oid,
}

/// Commits outside the graph a walk reads before it starts (to number them). Past this many the
/// graph is too stale to help (a server that seldom writes it), and libgit2's walk, which
/// stops as soon as commit dates tell it, reads fewer; it is used instead.
const MAX_OUTSIDE: usize = 2_000;

struct Outside {
    /// Computed as git would have stored it: one more than the highest parent's.
    generation: Option<u32>,
    time: i64,
    parents: Vec<Oid>,
}

impl<'r> GraphWalk<'r> {
    /// `None` when more than [`MAX_OUTSIDE`] commits outside the graph lie above it.
    fn new(
        repo: &'r Repository,
        graph: &'r CommitGraph,
        tips: &[Oid],
        hidden: &[Oid],
    ) -> Result<Option<Self>, GitError> {
        let mut walk = GraphWalk {
            repo,
            graph,
            queue: BinaryHeap::new(),
            marks: HashMap::new(),
            wanted_queued: 0,
            outside: HashMap::new(),
            parents: Vec::new(),
        };
        let starts = hidden.iter().map(|&oid| (oid, true)).chain(tips.iter().map(|&oid| (oid, false)));
        for (oid, hide) in starts {
            if walk.graph.get(oid).is_none() && walk.outside_generation(oid)?.is_none() {
                return Ok(None);
            }
            walk.enqueue(oid, hide)?;
        }
        Ok(Some(walk))
    }

    /// Queues `oid` if it is new; hides it if it is queued and `hide`.
    fn enqueue(&mut self, oid: Oid, hide: bool) -> Result<(), GitError> {
        match self.marks.get_mut(&oid) {
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
                    Some(commit) => (commit.generation(), commit.committer_time()),
                    // Numbered when the walk started, with every commit outside the graph below.
                    None => {
                        let outside = &self.outside[&oid];
                        (outside.generation.expect("numbered at the start"), outside.time)
                    }
                };
                self.marks.insert(oid, if hide { Mark::Hidden } else { Mark::Wanted });
                self.wanted_queued += usize::from(!hide);
                self.queue.push(Queued { generation, time, oid });
            }
        }
        Ok(())
    }

    /// The generation of a commit the graph does not hold, reading it and every ancestor the
    /// graph does not hold either (depth first, without recursion: a pusher chooses the depth);
    /// `None` past [`MAX_OUTSIDE`] of them.
    fn outside_generation(&mut self, start: Oid) -> Result<Option<u32>, GitError> {
        // Each frame: a commit, how many of its parents are numbered, and their highest number
        // (so a merge with many parents is scanned once, not once per parent read).
        let mut stack: Vec<(Oid, usize, u32)> = vec![(start, 0, 0)];
        while let Some(&(oid, numbered, highest)) = stack.last() {
            if !self.outside.contains_key(&oid) {
                if self.outside.len() == MAX_OUTSIDE {
                    return Ok(None);
                }
                let commit = self.repo.find_commit(oid).context(|| format!("reading commit {oid}"))?;
                let parents = commit.parent_ids().collect();
                let outside = Outside { generation: None, time: commit.time().seconds(), parents };
                self.outside.insert(oid, outside);
            }
            let outside = &self.outside[&oid];
            if outside.generation.is_some() {
                stack.pop();
                continue;
            }
            let Some(&parent) = outside.parents.get(numbered) else {
                stack.pop();
                self.outside.get_mut(&oid).expect("read above").generation = Some(highest.saturating_add(1));
                continue;
            };
            let generation = match self.graph.get(parent) {
                Some(commit) => Some(commit.generation()),
                None => self.outside.get(&parent).and_then(|o| o.generation),
            };
            match generation {
                Some(generation) => {
                    *stack.last_mut().expect("not empty") = (oid, numbered + 1, highest.max(generation))
                }
                None => stack.push((parent, 0, 0)),
            }
        }
        Ok(self.outside[&start].generation)
    }

    fn step(&mut self) -> Result<Option<Oid>, GitError> {
        while self.wanted_queued > 0 {
            let Some(Queued { oid, .. }) = self.queue.pop() else { break };
            let mark = self.marks.insert(oid, Mark::Taken);
            let hidden = mark == Some(Mark::Hidden);
            self.wanted_queued -= usize::from(mark == Some(Mark::Wanted));
            let mut parents = std::mem::take(&mut self.parents);
            match self.graph.get(oid) {
                Some(commit) => commit.parents(&mut parents)?,
                None => parents.clone_from(&self.outside[&oid].parents),
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
) -> Result<HashSet<Oid>, GitError> {
    let mut tips = Vec::new();
    for id in baseline {
        let oid = Oid::from_str(id).context(|| format!("baseline commit id {id}"))?;
        match repo.find_commit(oid) {
            Ok(_) => tips.push(oid),
            // Not here (yet): it exempts nothing.
            Err(e) if e.code() == ErrorCode::NotFound => {
                tracing::debug!("baseline {id} is not in the repository")
            }
            Err(source) => return Err(source).context(|| format!("reading baseline commit {id}")),
        }
    }
    if tips.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(walk(repo, graph, &tips, hidden)?.into_iter().collect())
}
