//! Changed paths of a commit, as SPEC defines them.
//!
//! Against its parent: both sides of every change, so a rename counts its old and new path (no
//! rename detection is needed: without it a rename *is* a deletion plus an addition) and a
//! gitlink counts as its own path. A root commit changes every path in its tree.
//!
//! A merge changes what the merge itself introduced: the paths where it differs from every
//! parent, and also the paths where it drops a change that a parent made since the merge base
//! (it keeps another parent's version). Without the second half a "merge" with an old commit
//! as a parent could silently revert reviewed changes, or roll a branch back wholesale, while
//! looking like a merge that introduces nothing.
//!
//! The tree diff is our own rather than libgit2's `diff_tree_to_tree`, because that one reads
//! every entry of both trees (on a 50,000-file tree, milliseconds per commit), where git skips
//! subtrees whose ids are equal. Ours skips them too, and also never reads a subtree that no
//! path glob of the policy can reach ([`PathScope`]), nor any blob.

use std::cmp::Ordering;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::ops::ControlFlow;
use std::rc::{Rc, Weak};
use std::sync::Arc;

use git2::{ErrorCode, Oid, Repository};

use crate::git::ancestry::History;
use crate::git::commit::CommitObject;
use crate::git::commit_graph::CommitGraph;
use crate::git::error::{Context, GitError};
use crate::git::repo::Key;
use engine::globs::GlobList;

/// Which changed paths a caller wants: every one, or those some glob of a list matches. The
/// literal prefixes of the globs tell which directories can hold a match at all.
#[derive(Debug, Clone)]
pub struct PathScope {
    globs: Vec<GlobList>,
    /// Everything before a glob's first wildcard: a match lies under it. Empty when any pattern
    /// can match anywhere (`**/x`), and `None` for the scope of every path.
    prefixes: Option<Vec<String>>,
    /// The directories every match lies in or below (each prefix up to its last `/`), as keys
    /// of git's changed-path filters; `None` when some match could lie at the top level.
    filter_keys: Option<Vec<String>>,
}

impl PathScope {
    pub const ALL: PathScope = PathScope { globs: Vec::new(), prefixes: None, filter_keys: None };

    /// The paths any of `globs` matches.
    pub fn matching(globs: Vec<GlobList>) -> PathScope {
        let prefixes: Vec<String> =
            globs.iter().flat_map(GlobList::literal_prefixes).map(str::to_string).collect();
        // `infra/**` also matches `infra` itself, which git's filters hold as a leading directory.
        let directory =
            |prefix: &String| Some(prefix.rsplit_once('/')?.0.to_string()).filter(|d| !d.is_empty());
        let mut filter_keys: Option<Vec<String>> = prefixes.iter().map(directory).collect();
        if let Some(keys) = &mut filter_keys {
            keys.sort();
            keys.dedup();
        }
        PathScope { globs, prefixes: Some(prefixes), filter_keys }
    }

    fn contains(&self, path: &str) -> bool {
        self.prefixes.is_none() || self.globs.iter().any(|globs| globs.is_match(path))
    }

    /// Whether some path below directory `dir` could be in scope.
    fn may_reach(&self, dir: &str) -> bool {
        let Some(prefixes) = &self.prefixes else { return true };
        reaches(prefixes.iter().map(String::as_str), dir)
    }

    /// Whether a changed directory `dir` tells every rule all it needs to know: some rule takes
    /// it whole (so it holds a path that rule matches), and no other rule can match it or
    /// anything below it (so none needs to know which path changed).
    fn summarizes(&self, dir: &str) -> bool {
        let whole = |globs: &GlobList| {
            globs
                .whole_directories()
                .any(|d| d == dir || dir.strip_prefix(d).is_some_and(|r| r.starts_with('/')))
        };
        self.globs.iter().any(whole)
            && self.globs.iter().all(|globs| {
                whole(globs) || (!globs.is_match(dir) && !reaches(globs.literal_prefixes(), dir))
            })
    }
}

/// Whether a glob with one of these literal prefixes can match a path below directory `dir`:
/// either the prefix ends inside `dir` (`infra/` reaches `infra/db`), or it goes on below it
/// (`infra/db/` needs `infra`).
fn reaches<'p>(mut prefixes: impl Iterator<Item = &'p str>, dir: &str) -> bool {
    let dir_with_slash = format!("{dir}/");
    prefixes.any(|prefix| {
        let below = prefix.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'));
        below || dir_with_slash.starts_with(prefix)
    })
}

/// How finely a walk reports what changed in a directory a path rule takes whole (`infra/**`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every changed path: for a report that lists them.
    Paths,
    /// The directory alone, once its id changed between a commit and its parent: enough for a
    /// verdict that is only counted. (Different ids mean different content below. Only a tree
    /// written unlike git writes trees can differ in bytes and not in what it holds; then the
    /// rule applies where git would see no change: stricter, never looser.)
    Verdict,
}

/// Trees read by the latest walks, kept for the next: walking history newest first, a
/// commit's parent's trees are the next commit's own, so each tree is read once (trees come
/// out of packs as chains of deltas; reading one is most of the cost of a walk). Kept longer
/// than one walk ([`Recent`]) for merges: their bases' trees, and the directories no recent
/// commit touched, come back walk after walk.
pub struct Trees<'r> {
    repo: &'r Repository,
    /// Where a parent's root tree id is read without inflating the parent.
    graph: Option<&'r CommitGraph>,
    /// Where merge bases are found; shared by every thread of a run.
    history: Arc<History<'r>>,
    /// Trees as the walk lists them ([`Listing`]), so a tree read again is not listed again.
    recent: Recent,
    /// The last merge's parents and their base's tree: a merge judged under a path rule is
    /// walked twice (its paths, then whether it introduces any at all).
    last_base: Option<(Vec<Oid>, Option<Oid>)>,
    /// Where trees are read raw ([`parse_listing`]); opened on the first tree read.
    odb: Option<git2::Odb<'r>>,
    /// Each directory's listing read last, while [`Recent`] holds it: the next tree read there
    /// is listed from it ([`parse_listing_near`]). Keyed by a hash of the directory's path, not
    /// the path: the pusher chooses how long paths are, and a chain of directories with long
    /// names would have kept every prefix of it (two collide: a worse neighbour, same listing).
    near: HashMap<u64, Weak<Listing>>,
    near_keys: RandomState,
}

/// At most this many directories' last listings are remembered, so that a tree of a million
/// directories cannot grow the map without end (it starts again when full).
const NEAR_DIRECTORIES: usize = 4096;

impl<'r> Trees<'r> {
    pub fn new(repo: &'r Repository, graph: Option<&'r CommitGraph>) -> Self {
        Self::sharing(repo, Arc::new(History::new(graph)))
    }

    /// Trees read through `repo` (a thread's own handle), with the history another reader
    /// has already learned.
    pub fn sharing(repo: &'r Repository, history: Arc<History<'r>>) -> Self {
        Trees {
            repo,
            graph: history.graph(),
            history,
            recent: Recent::default(),
            last_base: None,
            odb: None,
            near: HashMap::new(),
            near_keys: RandomState::new(),
        }
    }

    pub fn history(&self) -> Arc<History<'r>> {
        Arc::clone(&self.history)
    }

    /// Commit `id`'s object: the one the run's walk read, if it kept it, else read now.
    pub fn commit(&self, id: Oid) -> Result<CommitObject, GitError> {
        match self.history.take_commit(id) {
            Some(commit) => Ok(commit),
            None => CommitObject::read(self.repo, id),
        }
    }

    /// The root tree id of commit `id`.
    fn root_of(&self, id: Oid) -> Result<Oid, GitError> {
        match self.graph.and_then(|graph| graph.get(id)) {
            Some(commit) => Ok(commit.tree()),
            None => Ok(self.history.outside_commit(self.repo, id)?.tree),
        }
    }

    fn get(&mut self, id: Oid, dir: &str) -> Result<Rc<Listing>, GitError> {
        if let Some(tree) = self.recent.get(id) {
            return Ok(tree);
        }
        let at = || if dir.is_empty() { String::new() } else { format!(" at {dir}") };
        let odb = match &self.odb {
            Some(odb) => odb,
            None => self.odb.insert(self.repo.odb().context(|| "opening the object database".to_string())?),
        };
        let object = odb.read(id).context(|| format!("reading tree {id}{}", at()))?;
        let id_len = id.as_bytes().len();
        let near_key = self.near_keys.hash_one(dir);
        let listing = match (object.kind(), self.near.get(&near_key).and_then(Weak::upgrade)) {
            (git2::ObjectType::Tree, Some(near)) => parse_listing_near(object.data(), id_len, &near),
            (git2::ObjectType::Tree, None) => parse_listing(object.data(), id_len),
            _ => None,
        };
        let listing = match listing {
            Some(listing) => listing,
            None => {
                // Not a tree as git writes them: libgit2 reads it, or says what is wrong.
                let tree = self.repo.find_tree(id).context(|| format!("reading tree {id}{}", at()))?;
                let too_large = || {
                    GitError::new(format!("reading tree {id}{}", at()), git2::Error::from_str("over 4 GiB"))
                };
                sorted_entries(&tree).ok_or_else(too_large)?
            }
        };
        let tree = Rc::new(listing);
        self.recent.insert(id, Rc::clone(&tree));
        if self.near.len() == NEAR_DIRECTORIES && !self.near.contains_key(&near_key) {
            self.near.clear();
        }
        self.near.insert(near_key, Rc::downgrade(&tree));
        Ok(tree)
    }
}

/// The listings read last, up to [`Recent::BUDGET`] bytes; the least recently used go first.
///
/// By hand rather than the `lru` crate: that one bounds how many entries it holds, and a
/// listing's size goes from one entry to tens of thousands (a whole project in one directory).
#[derive(Default)]
struct Recent {
    listings: HashMap<Key, (Rc<Listing>, u64)>,
    /// Each use, oldest first, with the clock's time then: an entry whose listing was used
    /// again since is stale, skipped when evicting and dropped when the queue is compacted.
    uses: VecDeque<(Key, u64)>,
    clock: u64,
    bytes: usize,
}

impl Recent {
    /// Per judging thread: the trees of a few dozen commits of a large project. More saves
    /// little: 64 MiB would read a tenth fewer trees than 4 (git `v2.40.0..v2.47.0`), and 4
    /// hardly fewer than 2.
    const BUDGET: usize = 2 << 20;

    fn get(&mut self, id: Oid) -> Option<Rc<Listing>> {
        let (listing, used) = self.listings.get_mut(&Key(id))?;
        self.clock += 1;
        *used = self.clock;
        let listing = Rc::clone(listing);
        self.used(Key(id));
        Some(listing)
    }

    fn insert(&mut self, id: Oid, listing: Rc<Listing>) {
        self.clock += 1;
        self.bytes += listing.size();
        self.listings.insert(Key(id), (listing, self.clock));
        self.used(Key(id));
        while self.bytes > Self::BUDGET {
            let Some((key, time)) = self.uses.pop_front() else { break };
            if self.listings.get(&key).is_some_and(|&(_, used)| used == time) {
                let (listing, _) = self.listings.remove(&key).expect("present above");
                self.bytes -= listing.size();
            }
        }
    }

    fn used(&mut self, key: Key) {
        self.uses.push_back((key, self.clock));
        if self.uses.len() > 2 * self.listings.len() + 64 {
            let listings = &self.listings;
            self.uses.retain(|(key, time)| listings.get(key).is_some_and(|&(_, used)| used == *time));
        }
    }
}

/// The commit's changed paths within `scope`, sorted, as finely as `detail` asks.
pub fn changed_paths(
    trees: &mut Trees<'_>,
    commit: &CommitObject,
    scope: &PathScope,
    detail: Detail,
) -> Result<Vec<String>, GitError> {
    let mut paths = Vec::new();
    walk_changes(trees, commit, scope, detail, &mut |path| {
        paths.push(path);
        ControlFlow::Continue(())
    })?;
    paths.sort();
    paths.dedup();
    Ok(paths)
}

/// Whether a merge introduces any path of its own; one that does not is exempt from the rules
/// (SPEC). Stops at the first such path.
pub fn merge_introduces_any(trees: &mut Trees<'_>, commit: &CommitObject) -> Result<bool, GitError> {
    let mut any = false;
    walk_changes(trees, commit, &PathScope::ALL, Detail::Paths, &mut |_| {
        any = true;
        ControlFlow::Break(())
    })?;
    Ok(any)
}

/// Hands each changed path within `scope` to `found` until it says stop.
///
/// One walk over the commit's tree and its parents' (and, for a merge, the merge base's) at
/// once, by name, that descends only where the ids differ in a way that can hide a change: for
/// a merge, where the merge differs from every parent, or from a parent that itself moved since
/// the base. Equal ids mean equal content below, so a directory whose ids fail that test holds
/// no changed path, and is never read.
fn walk_changes(
    trees: &mut Trees<'_>,
    commit: &CommitObject,
    scope: &PathScope,
    detail: Detail,
    found: &mut dyn FnMut(String) -> ControlFlow<()>,
) -> Result<(), GitError> {
    let parents = &commit.parents;
    if parents.len() > MAX_PARENTS {
        let why = format!("countersign judges merges of at most {MAX_PARENTS} parents");
        return Err(GitError::new(
            format!("{} merges {} parents", commit.id, parents.len()),
            git2::Error::from_str(&why),
        ));
    }
    // A filter rules out whole directories against the first parent only: not for merges.
    if let ([_], Some(keys), Some(graph)) = (&parents[..], &scope.filter_keys, trees.graph)
        && graph.get(commit.id).is_some_and(|c| !c.may_change_under(keys))
    {
        return Ok(());
    }
    // Tree ids only: the trees are read by the walk, through the cache.
    let mut roots = vec![Some(commit.tree)];
    for &parent in parents {
        roots.push(Some(trees.root_of(parent)?));
    }
    if parents.is_empty() {
        // A root commit: against the empty tree.
        roots.push(None);
    }
    if parents.len() > 1 {
        roots.push(merge_base_tree(trees, parents)?);
    }
    let changed = |sides: &[Side]| -> bool {
        match sides {
            [new, old] => new != old,
            [merge, parents @ .., base] => {
                parents.iter().all(|p| p != merge) || parents.iter().any(|p| p != merge && p != base)
            }
            _ => unreachable!("a walk has the commit, a parent or the empty tree, and a merge's base"),
        }
    };
    // A merge's directories say nothing alone: one that differs from every parent may only
    // combine their changes.
    let detail = if parents.len() > 1 { Detail::Paths } else { detail };
    walk_trees(trees, roots, scope, detail, &changed, found)
}

fn oid(bytes: &[u8]) -> Result<Oid, GitError> {
    Oid::from_bytes(bytes).context(|| format!("reading a tree entry's id of {} bytes", bytes.len()))
}

/// The walk holds every parent's listing of a directory at once; the pusher chooses how many
/// parents a commit has (git's largest real octopus merges have a few dozen).
const MAX_PARENTS: usize = 128;

/// What one tree holds under one name: an entry's id (as bytes: libgit2 compares `Oid`s by a
/// call) and mode, or nothing.
type Side<'l> = Option<(&'l [u8], i32)>;

/// The tree of the parents' merge base; `None` (the empty tree) for unrelated histories.
fn merge_base_tree(trees: &mut Trees<'_>, ids: &[Oid]) -> Result<Option<Oid>, GitError> {
    if let Some((parents, tree)) = &trees.last_base
        && parents == ids
    {
        return Ok(*tree);
    }
    let tree = find_merge_base_tree(trees, ids)?;
    trees.last_base = Some((ids.to_vec(), tree));
    Ok(tree)
}

fn find_merge_base_tree(trees: &Trees<'_>, ids: &[Oid]) -> Result<Option<Oid>, GitError> {
    let repo = trees.repo;
    match trees.history.merge_base(repo, ids)? {
        Some(base) => Ok(Some(trees.root_of(base)?)),
        // In a shallow clone the base may lie beyond the cut: guessing "unrelated" would count
        // every path either side ever changed.
        None if repo.is_shallow() => Err(GitError::new(
            format!(
                "history is cut off (a shallow clone): the merge base of {}'s parents is missing",
                ids[0]
            ),
            git2::Error::new(ErrorCode::NotFound, git2::ErrorClass::Merge, "no merge base found"),
        )),
        None => Ok(None),
    }
}

const TREE_MODE: i32 = 0o040000;

/// Walks several trees side by side (`None` is the empty tree), handing `found` each path of a
/// file or gitlink where `changed` holds of the entries, within `scope`, as `git diff-tree -r
/// --no-renames` would list a two-tree change. A name that is a file on one side and a
/// directory on another is both: the file is a changed path, and so is all that is below it.
/// Iterative: the pusher chooses how deep trees nest, and recursion that deep would overflow
/// the stack.
fn walk_trees(
    cache: &mut Trees<'_>,
    roots: Vec<Option<Oid>>,
    scope: &PathScope,
    detail: Detail,
    changed: &dyn Fn(&[Side<'_>]) -> bool,
    found: &mut dyn FnMut(String) -> ControlFlow<()>,
) -> Result<(), GitError> {
    let mut pending = vec![(String::new(), roots)];
    while let Some((dir, ids)) = pending.pop() {
        let empty = Rc::new(Listing::default());
        let listings = ids
            .iter()
            .map(|id| id.map_or_else(|| Ok(Rc::clone(&empty)), |id| cache.get(id, &dir)))
            .collect::<Result<Vec<_>, _>>()?;
        // Reused for every name: most trees of a walk hold hundreds.
        let (mut leaves, mut subtrees): (Vec<Side<'_>>, Vec<Side<'_>>) = (Vec::new(), Vec::new());
        let mut next = vec![0; listings.len()];
        let mut subtree_ids: Vec<Option<&[u8]>> = Vec::with_capacity(listings.len());
        // Each name once, in the trees' order, with what every tree holds under it: a file and
        // a directory of the same name (before and after a change) come apart, one after the
        // other, the file as a leaf and the directory as a subtree.
        let mut runs = SharedRuns::default();
        loop {
            if let [merge, first, second, base] = &listings[..]
                && skip_taken_sides([merge, first, second, base], &mut next, &mut runs)
            {
                continue;
            }
            // Most entries are the same in every tree: nothing changed there.
            let first = listings.first().and_then(|l| Some((l, l.entries.get(next[0])?)));
            if let Some((first_listing, first)) = first
                && listings.iter().zip(&next).skip(1).all(|(l, &i)| {
                    l.entries.get(i).is_some_and(|e| {
                        e.mode == first.mode && l.name_and_id(e) == first_listing.name_and_id(first)
                    })
                })
            {
                let run = match &listings[..] {
                    [new, old] => identical_run([new, old], [next[0], next[1]]).max(1),
                    _ => 1,
                };
                next.iter_mut().for_each(|i| *i += run);
                continue;
            }
            let Some((name, is_tree)) = listings
                .iter()
                .zip(&next)
                .filter_map(|(l, &i)| l.entries.get(i).map(|e| (l.name(e), e.is_tree)))
                .min_by(|a, b| tree_order(*a, *b))
            else {
                break;
            };
            leaves.clear();
            subtrees.clear();
            subtree_ids.clear();
            for (listing, i) in listings.iter().zip(next.iter_mut()) {
                let entry =
                    listing.entries.get(*i).filter(|e| e.is_tree == is_tree && listing.name(e) == name);
                *i += usize::from(entry.is_some());
                let side = entry.map(|e| (listing.id(e), e.mode));
                leaves.push(side.filter(|_| !is_tree));
                subtrees.push(side.filter(|_| is_tree));
                subtree_ids.push(side.filter(|_| is_tree).map(|(id, _)| id));
            }
            let leaf_changed = changed(&leaves);
            let subtree_changed = changed(&subtrees);
            if !leaf_changed && !subtree_changed {
                continue;
            }
            let name = String::from_utf8_lossy(name);
            let path = if dir.is_empty() { name.into_owned() } else { format!("{dir}/{name}") };
            if subtree_changed && detail == Detail::Verdict && scope.summarizes(&path) {
                if found(path.clone()).is_break() {
                    return Ok(());
                }
            } else if subtree_changed && scope.may_reach(&path) {
                let ids = subtree_ids.iter().map(|id| id.map(oid).transpose()).collect::<Result<_, _>>()?;
                pending.push((path.clone(), ids));
            }
            if leaf_changed && scope.contains(&path) && found(path).is_break() {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// How many entries of two listings, from `next` on, are the same bytes (mode, name and id):
/// found by comparing the trees' bytes eight at a time, not entry by entry. A commit changes
/// a few entries of a large directory and leaves the hundreds around them alone (git's root
/// holds over 500); 0 where a listing is not a tree object's own bytes in order.
///
/// A merge's four trees, all together, differ every few entries (the base is old), and there
/// runs shared by all cost more to find than they save; pairs of them share long runs
/// ([`skip_taken_sides`]).
fn identical_run([a, b]: [&Listing; 2], [next_a, next_b]: [usize; 2]) -> usize {
    let start = |listing: &Listing, i: usize| match i {
        0 => Some(0),
        _ => listing.entries.get(i - 1).map(|e| listing.end(e)),
    };
    let (Some(from), Some(at)) = (start(a, next_a), start(b, next_b)) else { return 0 };
    if !(a.whole_object && b.whole_object) {
        return 0;
    }
    let end = from + common_prefix(&a.bytes[from..], &b.bytes[at..]);
    a.entries[next_a..].partition_point(|e| a.end(e) <= end)
}

/// For a merge of two parents, passes over the names where the merge holds one parent's entry
/// and the other parent still holds the base's: the merge took that parent's side, and nothing
/// there is its own. Found by comparing bytes, a pair of trees at a time, where entry by entry
/// each name cost a comparison of all four trees: a merge's root differs from its base's every
/// few entries (the base is old), but from one parent only where the other changed something,
/// and that parent from the base only there too. Whether it passed over any.
fn skip_taken_sides(listings: [&Listing; 4], next: &mut [usize], runs: &mut SharedRuns) -> bool {
    const MERGE: usize = 0;
    const BASE: usize = 3;
    for (taken, other) in [(1, 2), (2, 1)] {
        let pair = |a: usize, b: usize| ([listings[a], listings[b]], [next[a], next[b]]);
        let (merge_side, base_side) = runs.pairs(taken);
        let Some(end) = shared_names(pair(MERGE, taken), merge_side) else { continue };
        let Some(other_end) = shared_names(pair(other, BASE), base_side) else { continue };
        // Up to the first of the two ends, both pairs agree on every name.
        let bound = match (end, other_end) {
            (Some(a), Some(b)) => Some(if tree_order(a, b) == Ordering::Less { a } else { b }),
            (a, b) => a.or(b),
        };
        let Some(bound) = bound else { return false };
        for (listing, at) in listings.iter().zip(next.iter_mut()) {
            *at += listing.entries[*at..]
                .partition_point(|e| tree_order((listing.name(e), e.is_tree), bound) != Ordering::Greater);
        }
        return true;
    }
    false
}

/// Where each pair's shared run, as last found, ends (an index into the pair's first listing):
/// a pass may stop short of it (at the other pair's end), and the next starts inside it. Found
/// again each time, a long run would be compared once for every short run of the other pair,
/// and a pusher could make that quadratic in a directory's size.
#[derive(Default)]
struct SharedRuns([Option<usize>; 4]);

impl SharedRuns {
    /// The runs of the merge and parent `taken` (1 or 2), and of the other parent and the base.
    fn pairs(&mut self, taken: usize) -> (&mut Option<usize>, &mut Option<usize>) {
        let [a, b, c, d] = &mut self.0;
        if taken == 1 { (a, b) } else { (c, d) }
    }
}

/// The last name of the run of entries two listings share from `next` on ([`identical_run`]):
/// `Some(None)` when both are at their end (they agree on every name to come), `None` when they
/// share no entry there. `known` is where the run last found ends, kept for the next call.
fn shared_names<'l>(
    (pair, next): ([&'l Listing; 2], [usize; 2]),
    known: &mut Option<usize>,
) -> Option<Option<(&'l [u8], bool)>> {
    if next[0] == pair[0].entries.len() && next[1] == pair[1].entries.len() {
        return Some(None);
    }
    let end = match *known {
        Some(end) if next[0] < end => end,
        _ => *known.insert(next[0] + identical_run(pair, next)),
    };
    let last = pair[0].entries.get(end.checked_sub(1)?).filter(|_| end > next[0])?;
    Some(Some((pair[0].name(last), last.is_tree)))
}

/// A tree's entries as the walk compares them, each read once: libgit2's accessors are calls
/// (a name's, a `strlen` too), and the walk compares every entry several times.
#[derive(Default)]
struct Listing {
    /// Each entry's name, a NUL and its id, as a tree object holds them: the tree's own bytes,
    /// or (a tree libgit2 read) written so. An entry's name and id are then one slice, and
    /// compared at once.
    bytes: Vec<u8>,
    entries: Vec<Listed>,
    /// How many bytes an id takes (20, or 32 for SHA-256).
    id_len: usize,
    /// Whether `bytes` is the tree object itself, its entries one after another as listed:
    /// then a run of bytes two trees share is a run of entries they share ([`identical_run`]).
    whole_object: bool,
}

/// Small (16 bytes), as the listings of [`Recent`] hold hundreds of thousands of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Listed {
    /// Where the name starts in [`Listing::bytes`], and how long it is.
    name: u32,
    name_len: u32,
    mode: i32,
    is_tree: bool,
}

impl Listing {
    fn name(&self, entry: &Listed) -> &[u8] {
        let start = entry.name as usize;
        &self.bytes[start..start + entry.name_len as usize]
    }

    fn id(&self, entry: &Listed) -> &[u8] {
        let start = entry.name as usize + entry.name_len as usize + 1;
        &self.bytes[start..start + self.id_len]
    }

    /// Where the entry after `entry` starts in `bytes`.
    fn end(&self, entry: &Listed) -> usize {
        entry.name as usize + entry.name_len as usize + 1 + self.id_len
    }

    fn name_and_id(&self, entry: &Listed) -> &[u8] {
        let start = entry.name as usize;
        &self.bytes[start..start + entry.name_len as usize + 1 + self.id_len]
    }

    /// The bytes it takes, as [`Recent`] counts them: what it holds (its vectors' capacity, not
    /// their length: a tree of one long name reserves room for many entries) and, for each
    /// listing, about what its `Rc`, its place in the map and its uses in the queue take, so
    /// that a tree of many tiny directories cannot hold ten times the budget.
    fn size(&self) -> usize {
        const PER_LISTING: usize = 192;
        PER_LISTING + self.bytes.capacity() + self.entries.capacity() * std::mem::size_of::<Listed>()
    }
}

/// git's order of a tree's entries, `(name, is_tree)`: by name, a directory's as if it ended
/// in `/`; then, for names git's order holds equal (only in trees git would not write), by name
/// and kind, so that the order is total.
fn tree_order((a, a_tree): (&[u8], bool), (b, b_tree): (&[u8], bool)) -> Ordering {
    let common = common_prefix(a, b);
    if let (Some(x), Some(y)) = (a.get(common), b.get(common)) {
        return x.cmp(y);
    }
    let end =
        |name: &[u8], is_tree: bool| name.get(common).copied().unwrap_or(if is_tree { b'/' } else { 0 });
    end(a, a_tree).cmp(&end(b, b_tree)).then_with(|| (a, a_tree).cmp(&(b, b_tree)))
}

/// How many bytes `a` and `b` share at their start, found eight at a time: a tree's order is
/// checked name by name as it is read, and neighbours share long prefixes (`t1234-…`); a byte
/// loop there was a fifth of reading a tree, and a call to `memcmp` costs more than it saves.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let len = a.len().min(b.len());
    let mut at = 0;
    while at + 8 <= len {
        let word = |s: &[u8]| u64::from_le_bytes(s[at..at + 8].try_into().expect("eight bytes"));
        let differ = word(a) ^ word(b);
        if differ != 0 {
            return at + differ.trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    at + a[at..len].iter().zip(&b[at..len]).take_while(|(x, y)| x == y).count()
}

impl Listing {
    /// Adds an entry; `None` once the listing outgrows its offsets (a tree of over 4 GiB,
    /// which git does not write).
    fn push(&mut self, name: &[u8], id: &[u8], mode: i32) -> Option<()> {
        let start = u32::try_from(self.bytes.len()).ok()?;
        let name_len = u32::try_from(name.len()).ok()?;
        self.bytes.extend_from_slice(name);
        self.bytes.push(0);
        self.bytes.extend_from_slice(id);
        u32::try_from(self.bytes.len()).ok()?;
        self.id_len = id.len();
        self.entries.push(Listed { name: start, name_len, mode, is_tree: mode == TREE_MODE });
        Some(())
    }

    /// Puts the entries in [`tree_order`]: only a tree git did not write is out of it.
    fn into_order(mut self) -> Listing {
        let Listing { bytes, entries, .. } = &mut self;
        let key = |e: &Listed| {
            let start = e.name as usize;
            (&bytes[start..start + e.name_len as usize], e.is_tree)
        };
        if !entries.windows(2).all(|w| tree_order(key(&w[0]), key(&w[1])) == Ordering::Less) {
            entries.sort_by(|a, b| tree_order(key(a), key(b)));
        }
        self
    }
}

/// A tree's entries, as libgit2 reads them; `None` for a tree too large to list.
fn sorted_entries(tree: &git2::Tree<'_>) -> Option<Listing> {
    let mut listing = Listing::default();
    for entry in tree.iter() {
        listing.push(entry.name_bytes(), entry.id().as_bytes(), entry.filemode())?;
    }
    Some(listing.into_order())
}

/// A tree's entries read from its raw bytes (`<octal mode> <name>\0<id>`, over and over), or
/// `None` where any entry is not as git writes it: the caller then has libgit2 read the tree.
///
/// Why by hand: libgit2's parse is most of the cost of a merge's walk (each mode through
/// `strntol`, then an accessor call per field), and a crate's parser would accept or refuse
/// other trees than libgit2 does: what is read here is exactly the trees both read alike, the
/// rest goes to libgit2 as before, so verdicts do not depend on which reader read a tree.
fn parse_listing(data: &[u8], id_len: usize) -> Option<Listing> {
    // Offsets into it are `u32`s ([`Listed`]).
    u32::try_from(data.len()).ok()?;
    let mut entries = Vec::with_capacity(data.len() / 32);
    let mut in_order = true;
    list_entries(data, id_len, 0, data.len(), &mut entries, &mut in_order)?;
    Some(finish_listing(data, entries, id_len, in_order))
}

/// [`parse_listing`], taking from `near` (a listing of the same directory, read a commit
/// before) the entries the two trees share at their start and at their end: their bytes are
/// the same there, and so is how they divide into entries. A commit changes a few entries of
/// a directory; listing all of them again, each of the hundreds around them cost most of
/// reading a tree. The listing is the one [`parse_listing`] makes, entry for entry.
fn parse_listing_near(data: &[u8], id_len: usize, near: &Listing) -> Option<Listing> {
    if !near.whole_object || near.id_len != id_len {
        return parse_listing(data, id_len);
    }
    u32::try_from(data.len()).ok()?;
    let theirs = &near.bytes;
    // The entries wholly inside the bytes both start with.
    let shared = common_prefix(data, theirs);
    let head = near.entries.partition_point(|e| near.end(e) <= shared);
    let from = head.checked_sub(1).map_or(0, |last| near.end(&near.entries[last]));
    // About as many as `near` holds, and never more than fit (an entry takes 28 bytes or more).
    let mut entries = Vec::with_capacity(near.entries.len().min(data.len() / 28 + 1));
    entries.extend_from_slice(&near.entries[..head]);
    let mut in_order = true;
    // The entries wholly inside the bytes both end with, after those: where the first of
    // them starts in `near`, and where the same bytes start in `data`.
    let tail_len = common_suffix(&data[from..], &theirs[from..]);
    let tail_start = theirs.len() - tail_len;
    let start_of = |entry: usize| entry.checked_sub(1).map_or(0, |before| near.end(&near.entries[before]));
    let tail = if start_of(head) >= tail_start {
        head
    } else {
        head + near.entries[head..].partition_point(|e| near.end(e) < tail_start) + 1
    };
    let their_start = start_of(tail);
    // Never below `from`: the shared end is no longer than what follows it in either tree.
    let our_start = their_start + data.len() - theirs.len();
    let at = list_entries(data, id_len, from, our_start, &mut entries, &mut in_order)?;
    // The bytes from `our_start` on list as `near`'s do from `their_start` only where an
    // entry of `data` ends there: one may run across it (a name holding what in `near`
    // starts an entry).
    if at == our_start && tail < near.entries.len() {
        // Both offsets fit in a `u32`: the trees' lengths do.
        let shift = |e: &Listed| Listed { name: (e.name as usize + our_start - their_start) as u32, ..*e };
        let first = shift(&near.entries[tail]);
        if let Some(last) = entries.last() {
            in_order &= follows(data, last, &first);
        }
        entries.extend(near.entries[tail..].iter().map(shift));
    } else {
        list_entries(data, id_len, at, data.len(), &mut entries, &mut in_order)?;
    }
    Some(finish_listing(data, entries, id_len, in_order))
}

/// Lists the entries of `data` from `at`, an entry's start, until one ends at or past `until`,
/// each checked to follow the one before in git's order (`in_order`); where it stopped, or
/// `None` where an entry is not as git writes one.
fn list_entries(
    data: &[u8],
    id_len: usize,
    mut at: usize,
    until: usize,
    entries: &mut Vec<Listed>,
    in_order: &mut bool,
) -> Option<usize> {
    while at < until {
        let (mode, start) = entry_mode(data, at)?;
        let nul = name_length(data, start)?;
        if nul == 0 || nul > usize::from(u16::MAX) {
            return None;
        }
        let end = start + nul;
        data.get(end + 1..end + 1 + id_len)?;
        // Both fit: `data`'s length does.
        let entry = Listed { name: start as u32, name_len: nul as u32, mode, is_tree: mode == TREE_MODE };
        if let Some(previous) = entries.last() {
            *in_order &= follows(data, previous, &entry);
        }
        entries.push(entry);
        at = end + 1 + id_len;
    }
    Some(at)
}

/// Whether entry `next` of `data` comes after `previous` in git's order.
fn follows(data: &[u8], previous: &Listed, next: &Listed) -> bool {
    let (a, b) = (previous.name as usize, next.name as usize);
    let name = |e: &Listed, start: usize| (&data[start..start + e.name_len as usize], e.is_tree);
    match first_difference(data, a, b) {
        // Most neighbours differ within their first eight bytes, inside both names.
        Some(at) if at < previous.name_len.min(next.name_len) as usize => data[a + at] < data[b + at],
        _ => tree_order(name(previous, a), name(next, b)) == Ordering::Less,
    }
}

fn finish_listing(data: &[u8], entries: Vec<Listed>, id_len: usize, in_order: bool) -> Listing {
    // The names and ids stay where the object has them.
    let listing = Listing { bytes: data.to_vec(), entries, id_len, whole_object: in_order };
    if in_order { listing } else { listing.into_order() }
}

/// How many bytes `a` and `b` share at their end, found eight at a time ([`common_prefix`]).
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let len = a.len().min(b.len());
    let (a, b) = (&a[a.len() - len..], &b[b.len() - len..]);
    let mut shared = 0;
    while shared + 8 <= len {
        let word =
            |s: &[u8]| u64::from_le_bytes(s[len - shared - 8..len - shared].try_into().expect("eight bytes"));
        let differ = word(a) ^ word(b);
        if differ != 0 {
            return shared + differ.leading_zeros() as usize / 8;
        }
        shared += 8;
    }
    shared
        + a[..len - shared]
            .iter()
            .rev()
            .zip(b[..len - shared].iter().rev())
            .take_while(|(x, y)| x == y)
            .count()
}

/// Where the name starting at `start` ends (its NUL), eight bytes at a time: names are short,
/// and a call to `memchr` cost more than the search.
fn name_length(data: &[u8], start: usize) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let mut at = start;
    while let Some(bytes) = data.get(at..at + 8) {
        let word = u64::from_le_bytes(bytes.try_into().expect("eight bytes"));
        // The lowest byte flagged is the first zero byte (a flag can only be wrong above one).
        let zeros = word.wrapping_sub(ONES) & !word & HIGHS;
        if zeros != 0 {
            return Some(at - start + zeros.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    Some(at - start + data[at..].iter().position(|&b| b == 0)?)
}

/// The first of the eight bytes at `a` and at `b` that differ, if any does (and both are in
/// `data`).
fn first_difference(data: &[u8], a: usize, b: usize) -> Option<usize> {
    let word = |at: usize| Some(u64::from_le_bytes(data.get(at..at + 8)?.try_into().expect("eight bytes")));
    let differ = word(a)? ^ word(b)?;
    (differ != 0).then(|| differ.trailing_zeros() as usize / 8)
}

/// The mode of the entry at `at` and where its name starts.
fn entry_mode(data: &[u8], at: usize) -> Option<(i32, usize)> {
    // The modes git writes, recognised whole (one load, a few compares) before any digit is
    // read: a call to compare each was most of reading an entry.
    const fn word(text: &[u8]) -> u64 {
        let (mut word, mut i) = (0, text.len());
        while i > 0 {
            i -= 1;
            word = word << 8 | text[i] as u64;
        }
        word
    }
    const SEVEN: u64 = (1 << 56) - 1;
    const SIX: u64 = (1 << 48) - 1;
    if let Some(bytes) = data.get(at..at + 8) {
        let loaded = u64::from_le_bytes(bytes.try_into().expect("eight bytes"));
        let mode = match loaded & SEVEN {
            w if w == word(b"100644 ") => Some(0o100644),
            w if w == word(b"100755 ") => Some(0o100755),
            w if w == word(b"120000 ") => Some(0o120000),
            w if w == word(b"160000 ") => Some(0o160000),
            _ => None,
        };
        if let Some(mode) = mode {
            return Some((mode, at + 7));
        }
        if loaded & SIX == word(b"40000 ") {
            return Some((TREE_MODE, at + 6));
        }
    }
    // One to six octal digits and a space (libgit2 also takes signs and spaces first).
    let (mut raw_mode, mut digits) = (0u32, 0);
    loop {
        match *data.get(at + digits)? {
            b' ' if digits > 0 => break,
            digit @ b'0'..=b'7' if digits < 6 => raw_mode = raw_mode * 8 + u32::from(digit - b'0'),
            _ => return None,
        }
        digits += 1;
    }
    Some((normalized_mode(u16::try_from(raw_mode).ok()?), at + digits + 1))
}

/// The mode libgit2's `git_tree_entry_filemode` reports for a raw one (old trees hold modes
/// such as `100664`).
fn normalized_mode(raw: u16) -> i32 {
    let raw = i32::from(raw);
    match raw & 0o170000 {
        0o040000 => TREE_MODE,
        _ if raw & 0o100 != 0 => 0o100755,
        0o160000 => 0o160000,
        0o120000 => 0o120000,
        _ => 0o100644,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use git2::Signature;
    use tempfile::TempDir;

    use super::*;
    use engine::globs::GlobKind;

    const FILE: i32 = 0o100644;
    const EXECUTABLE: i32 = 0o100755;
    const GITLINK: i32 = 0o160000;
    const SUBMODULE: &str = "0123456789abcdef0123456789abcdef01234567";
    const OTHER_SUBMODULE: &str = "89abcdef0123456789abcdef0123456789abcdef";

    fn repo() -> (TempDir, Repository) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        (dir, repo)
    }

    /// A tree of `(path, mode, content)`; a gitlink's content is its commit id.
    fn tree(repo: &Repository, files: &[(&str, i32, &str)]) -> Oid {
        let mut builder = repo.treebuilder(None).unwrap();
        let mut below: BTreeMap<&str, Vec<(&str, i32, &str)>> = BTreeMap::new();
        for &(path, mode, content) in files {
            match path.split_once('/') {
                Some((dir, rest)) => below.entry(dir).or_default().push((rest, mode, content)),
                None => {
                    let id = match mode {
                        GITLINK => Oid::from_str(content).unwrap(),
                        _ => repo.blob(content.as_bytes()).unwrap(),
                    };
                    builder.insert(path, id, mode).unwrap();
                }
            }
        }
        for (dir, files) in below {
            builder.insert(dir, tree(repo, &files), TREE_MODE).unwrap();
        }
        builder.write().unwrap()
    }

    fn commit(repo: &Repository, files: &[(&str, i32, &str)], parents: &[Oid]) -> Oid {
        let signature = Signature::new("T", "t@example.com", &git2::Time::new(0, 0)).unwrap();
        let tree = repo.find_tree(tree(repo, files)).unwrap();
        let parents: Vec<git2::Commit<'_>> =
            parents.iter().map(|&id| repo.find_commit(id).unwrap()).collect();
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        repo.commit(None, &signature, &signature, "c", &tree, &parents).unwrap()
    }

    fn scope(patterns: &[&str]) -> PathScope {
        let patterns = patterns.iter().map(|p| p.to_string()).collect();
        PathScope::matching(vec![GlobList::new(patterns, GlobKind::Path).unwrap()])
    }

    fn changed(repo: &Repository, commit: Oid, scope: &PathScope) -> Vec<String> {
        changed_paths(
            &mut Trees::new(repo, None),
            &CommitObject::read(repo, commit).unwrap(),
            scope,
            Detail::Paths,
        )
        .unwrap()
    }

    /// What a verdict-only walk reports, with one glob list per rule.
    fn for_verdict(repo: &Repository, commit: Oid, rules: &[&[&str]]) -> Vec<String> {
        let lists = rules
            .iter()
            .map(|patterns| {
                GlobList::new(patterns.iter().map(|p| p.to_string()).collect(), GlobKind::Path).unwrap()
            })
            .collect();
        let commit = CommitObject::read(repo, commit).unwrap();
        changed_paths(&mut Trees::new(repo, None), &commit, &PathScope::matching(lists), Detail::Verdict)
            .unwrap()
    }

    #[test]
    fn a_verdict_stops_at_a_changed_directory_that_every_rule_takes_whole_or_leaves_alone() {
        let (_dir, repo) = repo();
        let before = [("infra/db/x", FILE, "1"), ("infra/net/y", FILE, "1"), ("app/z", FILE, "1")];
        let after = [("infra/db/x", FILE, "2"), ("infra/net/y", FILE, "1"), ("app/z", FILE, "1")];
        let child = commit(&repo, &after, &[commit(&repo, &before, &[])]);
        assert_eq!(for_verdict(&repo, child, &[&["infra/**"]]), ["infra"]);
        assert_eq!(for_verdict(&repo, child, &[&["infra/"], &["app/**"]]), ["infra"]);
        // Another rule looks inside `infra`: the walk goes on down to where both take all.
        assert_eq!(for_verdict(&repo, child, &[&["infra/**"], &["infra/db/**"]]), ["infra/db"]);
        assert_eq!(for_verdict(&repo, child, &[&["infra/**"], &["infra/net/**"]]), ["infra/db"]);
        // A rule that matches the name `infra` itself, not what is below it.
        assert_eq!(for_verdict(&repo, child, &[&["infra/**"], &["infra"]]), ["infra/db/x"]);
        assert_eq!(for_verdict(&repo, child, &[&["infra/db/*"]]), ["infra/db/x"]);
        assert_eq!(changed(&repo, child, &scope(&["infra/**"])), ["infra/db/x"]);
    }

    #[test]
    fn a_verdict_for_a_merge_reads_every_path() {
        let (_dir, repo) = repo();
        let base = commit(&repo, &[("infra/a", FILE, "1"), ("infra/b", FILE, "1")], &[]);
        let ours = commit(&repo, &[("infra/a", FILE, "2"), ("infra/b", FILE, "1")], &[base]);
        let theirs = commit(&repo, &[("infra/a", FILE, "1"), ("infra/b", FILE, "2")], &[base]);
        // `infra` differs from both parents, yet the merge itself changes nothing.
        let clean = commit(&repo, &[("infra/a", FILE, "2"), ("infra/b", FILE, "2")], &[ours, theirs]);
        assert_eq!(for_verdict(&repo, clean, &[&["infra/**"]]), Vec::<String>::new());
    }

    fn introduces(repo: &Repository, merge: Oid) -> bool {
        merge_introduces_any(&mut Trees::new(repo, None), &CommitObject::read(repo, merge).unwrap()).unwrap()
    }

    /// The commit's changed paths within `patterns`, and all of them.
    fn changed_within(
        repo: &Repository,
        before: &[(&str, i32, &str)],
        after: &[(&str, i32, &str)],
        patterns: &[&str],
    ) -> (Vec<String>, Vec<String>) {
        let parent = commit(repo, before, &[]);
        let child = commit(repo, after, &[parent]);
        (changed(repo, child, &scope(patterns)), changed(repo, child, &PathScope::ALL))
    }

    #[test]
    fn a_directory_glob_reaches_its_directory_and_no_namesake() {
        let scope = scope(&["infra/"]);
        assert!(scope.may_reach("infra") && scope.may_reach("infra/db"));
        assert!(!scope.may_reach("infrastructure") && !scope.may_reach("inf") && !scope.may_reach("app"));
        assert!(scope.contains("infra") && scope.contains("infra/db/x.tf"));
        assert!(!scope.contains("infrastructure/x.tf"));
    }

    #[test]
    fn a_wildcard_in_the_first_name_reaches_every_directory_it_could_complete() {
        let scope = scope(&["inf*/x"]);
        assert!(scope.may_reach("infra") && scope.may_reach("inf") && scope.may_reach("inferno"));
        assert!(!scope.may_reach("in") && !scope.may_reach("app"));
        assert!(scope.contains("infra/x") && scope.contains("inf/x"));
        assert!(!scope.contains("infra/y/x") && !scope.contains("app/x"));
    }

    #[test]
    fn a_pattern_matching_at_any_depth_reaches_every_directory() {
        let scope = scope(&["**/x"]);
        assert!(scope.may_reach("app") && scope.may_reach("a/b/c"));
        assert!(scope.contains("x") && scope.contains("a/b/x"));
        assert!(!scope.contains("a/b/y"));
    }

    #[test]
    fn a_literal_file_glob_reaches_no_other_directory_and_nothing_below_its_name() {
        let scope = scope(&["policy.toml"]);
        assert!(!scope.may_reach("policy") && !scope.may_reach("app"));
        assert!(scope.contains("policy.toml"));
        assert!(!scope.contains("policy.toml/x") && !scope.contains("sub/policy.toml"));
    }

    #[test]
    fn a_literal_file_replaced_by_a_directory_of_its_name_and_back_is_the_file_changing() {
        let (_dir, repo) = repo();
        let file = [("policy.toml", FILE, "v1"), ("app/x", FILE, "x")];
        let directory = [("policy.toml/a", FILE, "a"), ("policy.toml/b/c", FILE, "c"), ("app/x", FILE, "x")];
        let (ours, all) = changed_within(&repo, &file, &directory, &["policy.toml"]);
        assert_eq!(ours, ["policy.toml"]);
        assert_eq!(all, ["policy.toml", "policy.toml/a", "policy.toml/b/c"]);
        let (ours, _) = changed_within(&repo, &directory, &file, &["policy.toml"]);
        assert_eq!(ours, ["policy.toml"]);
    }

    #[test]
    fn a_tier1_directory_deleted_wholesale_reports_every_file_it_held() {
        let (_dir, repo) = repo();
        let before = [
            ("infra/main.tf", FILE, "m"),
            ("infra/db/schema.sql", FILE, "s"),
            ("infra/db/deep/er/x", EXECUTABLE, "x"),
            ("infra/vendor", GITLINK, SUBMODULE),
            ("app/x", FILE, "x"),
        ];
        let (ours, all) = changed_within(&repo, &before, &[("app/x", FILE, "x")], &["infra/"]);
        let expected = ["infra/db/deep/er/x", "infra/db/schema.sql", "infra/main.tf", "infra/vendor"];
        assert_eq!(ours, expected);
        assert_eq!(all, expected);
    }

    #[test]
    fn a_rename_out_of_tier1_into_another_directory_reports_the_old_path() {
        let (_dir, repo) = repo();
        let before = [("infra/db/main.tf", FILE, "m"), ("app/lib.rs", FILE, "l")];
        let after = [("app/main.tf", FILE, "m"), ("app/lib.rs", FILE, "l")];
        let (ours, all) = changed_within(&repo, &before, &after, &["infra/**"]);
        assert_eq!(ours, ["infra/db/main.tf"]);
        assert_eq!(all, ["app/main.tf", "infra/db/main.tf"]);
        // And into it, from a directory no glob reaches: the new path.
        let (ours, _) = changed_within(&repo, &after, &before, &["infra/**"]);
        assert_eq!(ours, ["infra/db/main.tf"]);
    }

    #[test]
    fn a_tier1_directory_replaced_by_a_file_reports_the_file_and_all_it_replaced() {
        let (_dir, repo) = repo();
        let directory = [("infra/a", FILE, "a"), ("infra/b/c", FILE, "c"), ("app/x", FILE, "x")];
        let file = [("infra", FILE, "now a file"), ("app/x", FILE, "x")];
        let (ours, _) = changed_within(&repo, &directory, &file, &["infra/"]);
        assert_eq!(ours, ["infra", "infra/a", "infra/b/c"]);
        let (ours, _) = changed_within(&repo, &file, &directory, &["infra/"]);
        assert_eq!(ours, ["infra", "infra/a", "infra/b/c"]);
        // Under a glob that only reaches below the name, the file itself is no match.
        let (ours, _) = changed_within(&repo, &directory, &file, &["infra/b/*"]);
        assert_eq!(ours, ["infra/b/c"]);
    }

    #[test]
    fn a_gitlink_at_a_tier1_path_is_a_changed_path() {
        let (_dir, repo) = repo();
        let directory = [("services/s1/db/schema.sql", FILE, "s"), ("app/x", FILE, "x")];
        let gitlink = [("services/s1/db", GITLINK, SUBMODULE), ("app/x", FILE, "x")];
        let (ours, _) = changed_within(&repo, &directory, &gitlink, &["services/*/db/**"]);
        assert_eq!(ours, ["services/s1/db", "services/s1/db/schema.sql"]);
        let bumped = [("services/s1/db", GITLINK, OTHER_SUBMODULE), ("app/x", FILE, "x")];
        let (ours, _) = changed_within(&repo, &gitlink, &bumped, &["services/*/db/**"]);
        assert_eq!(ours, ["services/s1/db"]);
        let (ours, _) = changed_within(&repo, &[("app/x", FILE, "x")], &gitlink, &["services/s1/"]);
        assert_eq!(ours, ["services/s1/db"]);
    }

    #[test]
    fn names_that_git_sorts_apart_as_a_directory_are_compared_by_name() {
        let (_dir, repo) = repo();
        // In git's tree order the directory `a` sorts as `a/`: after `a-b` and `a.b`, before
        // `a0`; the file `a` sorts first.
        let before = [("a", FILE, "a"), ("a-b", FILE, "1"), ("a.b", FILE, "2"), ("a0/x", FILE, "3")];
        let after = [("a/x", FILE, "a"), ("a-b", FILE, "1"), ("a.b", EXECUTABLE, "2"), ("a0/x", FILE, "3")];
        let (ours, all) = changed_within(&repo, &before, &after, &["a/", "a.b"]);
        assert_eq!(ours, ["a", "a.b", "a/x"]);
        assert_eq!(all, ["a", "a.b", "a/x"]);
        // A directory `a` on both sides, equal, behind a sibling only one side has: not changed.
        let before = [("a-b", FILE, "1"), ("a/x", FILE, "a"), ("a0", FILE, "3")];
        let after = [("a/x", FILE, "a"), ("a0", FILE, "3")];
        let (_, all) = changed_within(&repo, &before, &after, &[]);
        assert_eq!(all, ["a-b"]);
    }

    #[test]
    fn a_root_commit_changes_every_path_in_scope() {
        let (_dir, repo) = repo();
        let root = commit(&repo, &[("infra/a", FILE, "a"), ("app/b", FILE, "b"), ("x.tf", FILE, "t")], &[]);
        assert_eq!(changed(&repo, root, &scope(&["infra/", "*.tf"])), ["infra/a", "x.tf"]);
    }

    /// A base, a left side that changes tier-1, a right side that changes the app.
    fn sides(repo: &Repository) -> [Oid; 3] {
        let base = commit(repo, &[("app/a", FILE, "a"), ("infra/x", FILE, "x")], &[]);
        let left = commit(repo, &[("app/a", FILE, "a"), ("infra/x", FILE, "x2")], &[base]);
        let right =
            commit(repo, &[("app/a", FILE, "a"), ("app/b", FILE, "b"), ("infra/x", FILE, "x")], &[base]);
        [base, left, right]
    }

    #[test]
    fn a_clean_merge_introduces_nothing() {
        let (_dir, repo) = repo();
        let [_, left, right] = sides(&repo);
        let files = [("app/a", FILE, "a"), ("app/b", FILE, "b"), ("infra/x", FILE, "x2")];
        let merge = commit(&repo, &files, &[left, right]);
        assert!(!introduces(&repo, merge));
        assert_eq!(changed(&repo, merge, &PathScope::ALL), Vec::<String>::new());
    }

    #[test]
    fn an_evil_merge_introduces_its_own_change_and_not_its_parents() {
        let (_dir, repo) = repo();
        let [_, left, right] = sides(&repo);
        let files = [("app/a", FILE, "evil"), ("app/b", FILE, "b"), ("infra/x", FILE, "x2")];
        let merge = commit(&repo, &files, &[left, right]);
        assert!(introduces(&repo, merge));
        assert_eq!(changed(&repo, merge, &PathScope::ALL), ["app/a"]);
        assert_eq!(changed(&repo, merge, &scope(&["infra/"])), Vec::<String>::new());
    }

    #[test]
    fn a_merge_of_wide_trees_is_judged_on_every_name_the_sides_share_or_not() {
        let (_dir, repo) = repo();
        let names: Vec<String> = (0..60).map(|n| format!("file-{n:02}")).collect();
        let tree = |changes: &[(&str, Option<&str>)]| -> Vec<(String, i32, String)> {
            let mut files: BTreeMap<String, String> = names.iter().map(|n| (n.clone(), n.clone())).collect();
            for (name, content) in changes {
                match content {
                    Some(content) => files.insert(name.to_string(), content.to_string()),
                    None => files.remove(*name),
                };
            }
            files.into_iter().map(|(name, content)| (name, FILE, content)).collect()
        };
        let commit_of = |changes: &[(&str, Option<&str>)], parents: &[Oid]| {
            let files = tree(changes);
            let files: Vec<(&str, i32, &str)> =
                files.iter().map(|(n, m, c)| (n.as_str(), *m, c.as_str())).collect();
            commit(&repo, &files, parents)
        };
        let base = commit_of(&[], &[]);
        let left_changes = [("file-10", Some("left")), ("m-new", Some("new"))];
        let right_changes = [("file-40", Some("right")), ("file-50", None)];
        let left = commit_of(&left_changes, &[base]);
        let right = commit_of(&right_changes, &[base]);
        let both: Vec<(&str, Option<&str>)> = left_changes.iter().chain(&right_changes).copied().collect();
        let merged = |extra: &[(&str, Option<&str>)]| {
            let changes: Vec<_> = both.iter().chain(extra).copied().collect();
            commit_of(&changes, &[left, right])
        };
        let clean = merged(&[]);
        assert!(!introduces(&repo, clean));
        // Its own change where neither side changed anything, a side's change taken back, a
        // deletion undone, an addition dropped: each is the merge's.
        for (extra, path) in [
            (("file-25", Some("evil")), "file-25"),
            (("file-10", Some("file-10")), "file-10"),
            (("file-50", Some("file-50")), "file-50"),
            (("m-new", None), "m-new"),
        ] {
            let merge = merged(&[extra]);
            assert!(introduces(&repo, merge), "{path}");
            assert_eq!(changed(&repo, merge, &PathScope::ALL), [path]);
        }
    }

    #[test]
    fn a_merge_keeping_the_old_version_of_a_parents_change_introduces_that_path() {
        let (_dir, repo) = repo();
        let [_, left, right] = sides(&repo);
        // Takes the right side's infra/x, the base's: the left side's change is dropped.
        let files = [("app/a", FILE, "a"), ("app/b", FILE, "b"), ("infra/x", FILE, "x")];
        let merge = commit(&repo, &files, &[left, right]);
        assert!(introduces(&repo, merge));
        assert_eq!(changed(&repo, merge, &scope(&["infra/"])), ["infra/x"]);
    }

    #[test]
    fn a_mode_git_writes_reads_as_its_digits_read_one_by_one() {
        for text in ["100644 ", "40000 ", "100755 ", "120000 ", "160000 ", "100664 ", "40000 x"] {
            let digits = text.split(' ').next().unwrap();
            let raw = u16::from_str_radix(digits, 8).unwrap();
            // Alone, and followed by a name as in a tree (read a word at a time).
            for entry in [text.to_string(), format!("{text}a-name\0")] {
                let read = entry_mode(entry.as_bytes(), 0);
                assert_eq!(read, Some((normalized_mode(raw), digits.len() + 1)), "{entry:?}");
            }
        }
        assert_eq!(entry_mode(b"1006440 ", 0), None, "seven digits");
        assert_eq!(entry_mode(b"1006440 a-name", 0), None, "seven digits");
        assert_eq!(entry_mode(b"100644\0a-name", 0), None, "no space");
        assert_eq!(entry_mode(b" 100644 ", 0), None);
        assert_eq!(entry_mode(b"100648 ", 0), None);
    }

    #[test]
    fn names_compare_by_their_first_differing_byte_at_any_offset() {
        let long = b"t1234-a-long-shared-prefix-of-a-test-name.sh";
        for at in 0..long.len() {
            let mut other = long.to_vec();
            other[at] += 1;
            assert_eq!(common_prefix(long, &other), at);
            assert_eq!(tree_order((long, false), (&other, false)), Ordering::Less, "at {at}");
            assert_eq!(tree_order((&other, false), (long, false)), Ordering::Greater, "at {at}");
        }
        assert_eq!(common_prefix(long, &long[..20]), 20);
        // A directory sorts as if its name ended in `/`.
        assert_eq!(tree_order((b"a-long-name", true), (b"a-long-name.c", false)), Ordering::Greater);
        assert_eq!(tree_order((b"a-long-name", false), (b"a-long-name.c", false)), Ordering::Less);
        assert_eq!(tree_order((b"a-long-name", true), (b"a-long-name0", false)), Ordering::Less);
    }

    #[test]
    fn a_name_ends_at_its_first_nul_wherever_that_falls_in_a_word() {
        for length in 0..20 {
            for tail in 0..10 {
                let mut data = vec![b'x'; 3];
                data.extend(std::iter::repeat_n(0x81, length));
                data.push(0);
                data.extend(std::iter::repeat_n(0, tail));
                assert_eq!(name_length(&data, 3), Some(length), "{length} {tail}");
            }
        }
        // Bytes just above 0x80 and 0x01 are not taken for a NUL; no NUL, no name.
        assert_eq!(name_length(&[0x80, 0x01, 0x7f, 0xff, 0x81, 0x02, 0x11, 0x80, 0x01, 0], 0), Some(9));
        assert_eq!(name_length(&[b'a'; 17], 0), None);
    }

    #[test]
    fn neighbours_differ_at_the_first_byte_their_words_do() {
        let data = b"abcdefgh-abcdXfgh-abcdefgh";
        assert_eq!(first_difference(data, 0, 9), Some(4));
        assert_eq!(first_difference(data, 0, 18), None);
        // A word past the end is no answer: the caller compares the names whole.
        assert_eq!(first_difference(data, 0, 20), None);
    }

    #[test]
    fn names_are_in_order_as_git_orders_them_however_long_their_shared_start() {
        let pairs = [("a", "b"), ("t1234-abc", "t1234-abd"), ("abcdefghij", "abcdefghijk"), ("ab", "abc")];
        for (first, second) in pairs {
            let ordered = raw_tree(&[("100644", first, 1), ("100644", second, 1)]);
            assert!(parse_listing(&ordered, 20).unwrap().whole_object, "{first} < {second}");
            let reversed = raw_tree(&[("100644", second, 1), ("100644", first, 1)]);
            let listing = parse_listing(&reversed, 20).unwrap();
            assert!(!listing.whole_object, "{second} > {first}");
            assert_eq!(listing.name(&listing.entries[0]), first.as_bytes());
        }
    }

    /// A tree object's bytes: each `(mode, name, id byte)` as `<mode> <name>\0<20 bytes>`.
    fn raw_tree(entries: &[(&str, &str, u8)]) -> Vec<u8> {
        let mut bytes = Vec::new();
        for (mode, name, id) in entries {
            bytes.extend_from_slice(format!("{mode} {name}\0").as_bytes());
            bytes.extend_from_slice(&[*id; 20]);
        }
        bytes
    }

    #[test]
    fn a_shared_run_once_found_is_not_compared_again_while_the_walk_is_inside_it() {
        let entries: Vec<(String, &str, u8)> =
            (0..6).map(|n| ("100644".to_string(), ["a", "b", "c", "d", "e", "f"][n], n as u8)).collect();
        let entries: Vec<(&str, &str, u8)> = entries.iter().map(|(m, n, i)| (m.as_str(), *n, *i)).collect();
        let mut changed = entries.clone();
        changed[4].2 = 9;
        let (a, b) = (
            parse_listing(&raw_tree(&entries), 20).unwrap(),
            parse_listing(&raw_tree(&changed), 20).unwrap(),
        );
        let mut known = None;
        let last = |found: Option<Option<(&[u8], bool)>>| found.flatten().map(|(name, _)| name.to_vec());
        assert_eq!(last(shared_names(([&a, &b], [0, 0]), &mut known)), Some(b"d".to_vec()));
        assert_eq!(known, Some(4));
        // Inside the run, what was found stands (here told otherwise, to show it is not looked
        // at again); past it, the trees are compared again.
        known = Some(2);
        assert_eq!(last(shared_names(([&a, &b], [1, 1]), &mut known)), Some(b"b".to_vec()));
        assert_eq!(last(shared_names(([&a, &b], [4, 4]), &mut known)), None);
        assert_eq!(last(shared_names(([&a, &b], [5, 5]), &mut known)), Some(b"f".to_vec()));
        // Both at their end: every name to come is shared.
        assert_eq!(shared_names(([&a, &b], [6, 6]), &mut known), Some(None));
    }

    #[test]
    fn a_run_of_entries_two_trees_share_byte_for_byte_is_found_whole_and_no_further() {
        let old = raw_tree(&[("100644", "a", 1), ("40000", "b", 2), ("100644", "c", 3), ("100644", "d", 4)]);
        let new = raw_tree(&[("100644", "a", 1), ("40000", "b", 2), ("100644", "c", 9), ("100644", "d", 4)]);
        let (old, new) = (parse_listing(&old, 20).unwrap(), parse_listing(&new, 20).unwrap());
        assert_eq!(identical_run([&new, &old], [0, 0]), 2, "a and b, not c");
        assert_eq!(identical_run([&new, &old], [1, 1]), 1);
        assert_eq!(identical_run([&new, &old], [2, 2]), 0);
        assert_eq!(identical_run([&new, &old], [3, 3]), 1, "d, to the end");
        // An id that differs only in its last byte ends the run before that entry.
        let last = raw_tree(&[("100644", "a", 1), ("40000", "b", 2)]);
        let mut changed = last.clone();
        *changed.last_mut().unwrap() = 7;
        let (last, changed) = (parse_listing(&last, 20).unwrap(), parse_listing(&changed, 20).unwrap());
        assert_eq!(identical_run([&changed, &last], [0, 0]), 1);
        // At different places in the two trees (an entry added before the run).
        let added = raw_tree(&[("100644", "0", 5), ("100644", "a", 1), ("40000", "b", 2)]);
        let added = parse_listing(&added, 20).unwrap();
        assert_eq!(identical_run([&added, &last], [1, 0]), 2);
    }

    #[test]
    fn no_run_is_found_in_a_listing_that_is_not_the_tree_object_in_its_order() {
        // Out of git's order: listed sorted, so its bytes are no longer its entries in turn.
        let unsorted = raw_tree(&[("100644", "b", 2), ("100644", "a", 1)]);
        let sorted = raw_tree(&[("100644", "a", 1), ("100644", "b", 2)]);
        let (unsorted, sorted) = (parse_listing(&unsorted, 20).unwrap(), parse_listing(&sorted, 20).unwrap());
        assert_eq!(unsorted.name(&unsorted.entries[0]), b"a");
        assert_eq!(identical_run([&unsorted, &sorted], [0, 0]), 0);
        assert_eq!(identical_run([&sorted, &unsorted], [0, 0]), 0);
        assert_eq!(identical_run([&sorted, &sorted], [0, 0]), 2);
    }

    fn listing_of(bytes: usize) -> Rc<Listing> {
        Rc::new(Listing { bytes: vec![0; bytes], id_len: 20, ..Listing::default() })
    }

    fn id(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).unwrap()
    }

    #[test]
    fn recent_trees_stay_within_their_budget_and_let_the_least_recently_used_go_first() {
        let mut recent = Recent::default();
        let quarter = Recent::BUDGET / 4;
        for n in 0..4 {
            recent.insert(id(n), listing_of(quarter - 1000));
        }
        // The oldest, used again, outlives the second oldest when room is needed.
        assert!(recent.get(id(0)).is_some());
        recent.insert(id(4), listing_of(quarter - 1000));
        assert!(recent.bytes <= Recent::BUDGET);
        assert!(recent.get(id(0)).is_some());
        assert!(recent.get(id(1)).is_none());
        assert!(recent.get(id(4)).is_some());
        // Many uses of one listing do not grow the queue without end.
        for _ in 0..10_000 {
            recent.get(id(4));
        }
        assert!(recent.uses.len() <= 2 * recent.listings.len() + 65);
        // A listing larger than the whole budget is let go at once; the caller keeps its own.
        recent.insert(id(5), listing_of(Recent::BUDGET + 1));
        assert!(recent.bytes <= Recent::BUDGET);
        assert!(recent.get(id(5)).is_none());
    }

    /// Random trees, and each changed as commits change them (an entry's id, entries added,
    /// removed, renamed, out of order, a name holding what in the other tree starts an entry):
    /// listed from a neighbour, each is listed exactly as on its own.
    #[test]
    fn a_tree_listed_from_its_neighbour_is_listed_as_on_its_own() {
        let mut next = crate::git::random_below(0x0dd_5eed_u64);
        const MODES: [&str; 5] = ["100644", "100755", "40000", "120000", "160000"];
        const PIECES: [&str; 6] = ["a", "b", "t1", "100644 ", "x", "."];
        let random_entry = |next: &mut dyn FnMut(usize) -> usize| {
            let name: String = (0..1 + next(4)).map(|_| PIECES[next(PIECES.len())]).collect();
            (MODES[next(MODES.len())].to_string(), name, next(4) as u8)
        };
        let same = |a: &Listing, b: &Listing| {
            a.bytes == b.bytes
                && a.entries == b.entries
                && a.id_len == b.id_len
                && a.whole_object == b.whole_object
        };
        let mut compared = 0;
        for _ in 0..4000 {
            let mut theirs: Vec<(String, String, u8)> =
                (0..next(12)).map(|_| random_entry(&mut next)).collect();
            theirs.sort_by(|a, b| {
                tree_order((a.1.as_bytes(), a.0 == "40000"), (b.1.as_bytes(), b.0 == "40000"))
            });
            theirs.dedup_by(|a, b| a.1 == b.1);
            let mut ours = theirs.clone();
            for _ in 0..1 + next(3) {
                match next(6) {
                    0 if !ours.is_empty() => {
                        let at = next(ours.len());
                        ours[at].2 = ours[at].2.wrapping_add(1);
                    }
                    1 => {
                        let entry = random_entry(&mut next);
                        ours.insert(next(ours.len() + 1), entry);
                    }
                    2 if !ours.is_empty() => {
                        ours.remove(next(ours.len()));
                    }
                    3 if !ours.is_empty() => {
                        // A name ending in the bytes that start the next entry elsewhere.
                        let at = next(ours.len());
                        ours[at].1 = format!("x{} {}", ours[at].0, ours[at].1);
                    }
                    4 if ours.len() > 1 => ours.swap(0, 1),
                    _ => {}
                }
            }
            let raw = |entries: &[(String, String, u8)]| {
                let entries: Vec<(&str, &str, u8)> =
                    entries.iter().map(|(m, n, i)| (m.as_str(), n.as_str(), *i)).collect();
                raw_tree(&entries)
            };
            let (ours, theirs) = (raw(&ours), raw(&theirs));
            let (Some(near), alone) = (parse_listing(&theirs, 20), parse_listing(&ours, 20)) else {
                continue;
            };
            let from_near = parse_listing_near(&ours, 20, &near);
            match (&alone, &from_near) {
                (Some(alone), Some(from_near)) => assert!(same(alone, from_near), "{ours:?} near {theirs:?}"),
                (None, None) => {}
                _ => panic!("{ours:?} near {theirs:?}: one listed, the other not"),
            }
            compared += 1;
        }
        assert!(compared > 3000, "{compared}");
    }
}
