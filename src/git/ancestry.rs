//! Ancestry questions (a merge's merge base) answered from one in-memory view of the history,
//! shared by every merge of a run and every thread judging them.
//!
//! Why not libgit2's `merge_base_many`: it reads no commit-graph git writes (see
//! [`crate::git::commit_graph`]), and with its object cache off every question inflates again each
//! commit it passes. In a history like git's, a merge's base often lies thousands of commits
//! back, and a range of a few hundred merges re-read the same history hundreds of times (over
//! a minute for `v2.46.0..v2.47.0`, where git answers in milliseconds).
//!
//! Here a commit's parents and its place in the order of the search come from the commit-graph
//! where it holds the commit (nothing is inflated); any other commit is read once per run and
//! kept. The search is git's `paint_down_to_common`, then `remove_redundant`, and the base is
//! the one libgit2 chose: of the best common ancestors, the one with the newest committer date.
//!
//! The search goes down in the order git's does: by corrected commit date (generation v2)
//! where the graph holds them, else by topological level, else (no graph) by committer date.
//! Order matters for speed, not for the answer (but where dates lie, without a graph, as for
//! git): in git's history a topic forked from an old release has low levels, and going down by
//! level walks most of the mainline to reach them, where corrected dates stop near the base.

use std::cmp::Ordering;
use std::collections::hash_map::{Entry, RandomState};
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};

use git2::{Oid, Repository};

use crate::git::commit_graph::{CommitGraph, GraphCommit};
use crate::git::error::{Context, GitError};

/// The history a run asks about: the commit-graph, and the commits read because it lacks them.
pub struct History<'g> {
    graph: Option<&'g CommitGraph>,
    /// Whether the graph's generations are corrected commit dates rather than levels.
    corrected: bool,
    /// Every commit looked up so far, by any thread, in the graph or else from its object: its
    /// parents, its committer date and, when there is a graph, its generation (for a commit
    /// the graph lacks, computed as git would have stored it).
    read: Mutex<Map<Node>>,
    /// Seeds the hashing of ids (see [`Ids`]).
    seed: u64,
}

/// A commit id compared and hashed by its bytes (zero-padded to 32): `Oid`'s comparisons go
/// through libgit2, several calls per commit a search passes.
#[derive(Clone, Copy)]
struct Id {
    bytes: [u8; 32],
    oid: Oid,
}

impl PartialEq for Id {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for Id {}

impl std::hash::Hash for Id {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.bytes);
    }
}

impl Ord for Id {
    fn cmp(&self, other: &Self) -> Ordering {
        self.bytes.cmp(&other.bytes)
    }
}

impl PartialOrd for Id {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

type Map<T> = HashMap<Id, T, Ids>;

/// Hashes an id by its first eight bytes, already random. Mixed with a seed chosen per run, so
/// a pusher cannot grind ids that all land in one bucket.
#[derive(Clone, Copy)]
struct Ids(u64);

struct IdHasher(u64, u64);

impl BuildHasher for Ids {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(self.0, 0)
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        let head = bytes.get(..8).map_or(0, |b| u64::from_le_bytes(b.try_into().expect("eight bytes")));
        let mixed = (head ^ self.0).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.1 ^= mixed ^ (mixed >> 29);
    }

    fn finish(&self) -> u64 {
        self.1
    }
}

fn id(oid: Oid) -> Id {
    Id { bytes: padded(oid), oid }
}

/// An id's bytes, zero-padded to 32 (SHA-1 ids are 20).
pub(crate) fn padded(oid: Oid) -> [u8; 32] {
    let mut bytes = [0; 32];
    let raw = oid.as_bytes();
    let len = raw.len().min(32);
    bytes[..len].copy_from_slice(&raw[..len]);
    bytes
}

#[derive(Clone)]
struct Node {
    /// Shared, so that handing a node out of the map copies no list.
    parents: Arc<[Id]>,
    time: i64,
    /// `None` without a graph: the search then goes by date, as git does without one.
    generation: Option<u64>,
}

const PARENT1: u8 = 1;
const PARENT2: u8 = 2;
const STALE: u8 = 4;

impl<'g> History<'g> {
    pub fn new(graph: Option<&'g CommitGraph>) -> Self {
        let corrected = graph.is_some_and(CommitGraph::has_corrected_dates);
        let seed = RandomState::new().hash_one(0u8);
        History { graph, corrected, read: Mutex::new(HashMap::with_hasher(Ids(seed))), seed }
    }

    pub fn graph(&self) -> Option<&'g CommitGraph> {
        self.graph
    }

    /// The merge base of `ids[0]` and the others (as `git merge-base ids[0] ids[1..]`), as
    /// libgit2's `merge_base_many` picks it; `None` when they share no history.
    pub fn merge_base(&self, repo: &Repository, ids: &[Oid]) -> Result<Option<Oid>, GitError> {
        let ids: Vec<Id> = ids.iter().map(|&o| id(o)).collect();
        let Some((&one, twos)) = ids.split_first() else { return Ok(None) };
        if twos.contains(&one) {
            return Ok(Some(one.oid));
        }
        let mut search = Search::new(self, repo);
        let found = search.paint(one, twos)?;
        let mut bases: Vec<Id> = found.into_iter().filter(|id| search.flags_of(id) & STALE == 0).collect();
        if bases.len() > 1 {
            bases = self.remove_redundant(repo, bases)?;
        }
        // libgit2 keeps its list newest first, a later find before an earlier one of the same
        // date, and takes the first.
        bases.reverse();
        let mut dated = Vec::with_capacity(bases.len());
        for base in bases {
            dated.push((self.node(repo, &base)?.time, base));
        }
        dated.sort_by_key(|&(time, _)| std::cmp::Reverse(time));
        Ok(dated.first().map(|(_, base)| base.oid))
    }

    /// Drops each candidate that is an ancestor of another (several candidates remain only
    /// when histories cross).
    fn remove_redundant(&self, repo: &Repository, candidates: Vec<Id>) -> Result<Vec<Id>, GitError> {
        let mut redundant = vec![false; candidates.len()];
        for i in 0..candidates.len() {
            if redundant[i] {
                continue;
            }
            let others: Vec<(usize, Id)> =
                candidates.iter().copied().enumerate().filter(|&(j, _)| j != i && !redundant[j]).collect();
            let twos: Vec<Id> = others.iter().map(|&(_, id)| id).collect();
            let mut search = Search::new(self, repo);
            search.paint(candidates[i], &twos)?;
            if search.flags_of(&candidates[i]) & PARENT2 != 0 {
                redundant[i] = true;
            }
            for (j, id) in others {
                if search.flags_of(&id) & PARENT1 != 0 {
                    redundant[j] = true;
                }
            }
        }
        Ok(candidates.into_iter().zip(redundant).filter(|(_, r)| !r).map(|(id, _)| id).collect())
    }

    /// A commit's parents and place in the search order.
    fn node(&self, repo: &Repository, id: &Id) -> Result<Node, GitError> {
        // With a graph, a node another thread has read but not numbered yet (`read_numbered`
        // is part way down its ancestors) is not ready: taken as it is, it would be queued
        // without its generation, out of order, and the search stop too early.
        if let Some(node) =
            self.lock().get(id).filter(|node| node.generation.is_some() || self.graph.is_none())
        {
            return Ok(node.clone());
        }
        if let Some(graph) = self.graph
            && let Some(commit) = graph.get(id.oid)
        {
            let mut parents = Vec::new();
            commit.parents(&mut parents)?;
            let generation = Some(self.generation_in_graph(&commit));
            let parents = parents.into_iter().map(self::id).collect();
            let node = Node { parents, time: commit.committer_time(), generation };
            // Kept too: finding a commit in the graph is a binary search, and the searches of a
            // run's merges pass the same commits again and again.
            self.lock().insert(*id, node.clone());
            return Ok(node);
        }
        match self.graph {
            Some(_) => self.read_numbered(repo, *id),
            None => {
                let node = read(repo, id)?;
                self.lock().insert(*id, node.clone());
                Ok(node)
            }
        }
    }

    fn generation_in_graph(&self, commit: &GraphCommit<'_>) -> u64 {
        match self.corrected {
            // The file is trusted as git trusts it (see `commit_graph`); an offset it cannot
            // give leaves the committer date.
            true => commit.corrected_date().unwrap_or(commit.committer_time().max(0) as u64),
            false => u64::from(commit.generation()),
        }
    }

    /// Reads a commit the graph lacks, and every ancestor it lacks too, numbering each as git
    /// would have: a level one more than its highest parent's, or a corrected date at least
    /// its own and one more than its highest parent's. Depth first without recursion: the
    /// pusher chooses how deep that goes.
    fn read_numbered(&self, repo: &Repository, start: Id) -> Result<Node, GitError> {
        let graph = self.graph.expect("only with a graph");
        let generation_of = |id: &Id, read: &Map<Node>| match graph.get(id.oid) {
            Some(commit) => Some(self.generation_in_graph(&commit)),
            None => read.get(id).and_then(|node| node.generation),
        };
        let mut stack = vec![start];
        while let Some(&id) = stack.last() {
            let parents = match self.lock().get(&id) {
                Some(node) if node.generation.is_some() => {
                    stack.pop();
                    continue;
                }
                Some(node) => Some(node.parents.clone()),
                None => None,
            };
            let parents = match parents {
                Some(parents) => parents,
                None => {
                    let node = read(repo, &id)?;
                    let parents = node.parents.clone();
                    self.lock().entry(id).or_insert(node);
                    parents
                }
            };
            let mut read = self.lock();
            let unnumbered = parents.iter().find(|p| generation_of(p, &read).is_none());
            match unnumbered {
                Some(&parent) => {
                    drop(read);
                    stack.push(parent);
                }
                None => {
                    let highest = parents.iter().filter_map(|p| generation_of(p, &read)).max();
                    let node = read.get_mut(&id).expect("read above");
                    let above_parents =
                        highest.map_or(if self.corrected { 0 } else { 1 }, |h| h.saturating_add(1));
                    node.generation = Some(match self.corrected {
                        true => above_parents.max(node.time.max(0) as u64),
                        false => above_parents,
                    });
                    stack.pop();
                }
            }
        }
        Ok(self.lock()[&start].clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Map<Node>> {
        // A thread that panicked holding the lock left a map of whole entries: still sound.
        self.read.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A commit read from its object; numbered later where there is a graph.
fn read(repo: &Repository, id: &Id) -> Result<Node, GitError> {
    let oid = id.oid;
    let commit = repo.find_commit(oid).context(|| format!("reading commit {oid}"))?;
    let parents = commit.parent_ids().map(self::id).collect();
    Ok(Node { parents, time: commit.time().seconds(), generation: None })
}

/// One `paint_down_to_common`: commits reachable from `one` get PARENT1, from the others
/// PARENT2, and below a commit with both, STALE.
struct Search<'h, 'g> {
    history: &'h History<'g>,
    repo: &'h Repository,
    flags: Map<Mark>,
    queue: BinaryHeap<Queued>,
    /// Queued commits not (yet) stale: none left, nothing queued can be a base.
    fresh: usize,
    /// Of those, how many carry PARENT1, and PARENT2.
    fresh_with: [usize; 2],
    /// Whether to stop once no new common ancestor can be found: only when going by
    /// generation ([`Search::may_find_more`]).
    stop_early: bool,
}

struct Mark {
    flags: u8,
    queued: bool,
    node: Node,
}

#[derive(PartialEq, Eq)]
struct Queued {
    generation: Option<u64>,
    time: i64,
    id: Id,
}

impl Ord for Queued {
    /// Highest generation first where both have one, else newest first, as libgit2 orders.
    fn cmp(&self, other: &Self) -> Ordering {
        let by_generation = match (self.generation, other.generation) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => Ordering::Equal,
        };
        by_generation.then(self.time.cmp(&other.time)).then(self.id.cmp(&other.id))
    }
}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<'h, 'g> Search<'h, 'g> {
    fn new(history: &'h History<'g>, repo: &'h Repository) -> Self {
        let flags = HashMap::with_hasher(Ids(history.seed));
        let stop_early = history.graph.is_some();
        Search { history, repo, flags, queue: BinaryHeap::new(), fresh: 0, fresh_with: [0; 2], stop_early }
    }

    fn flags_of(&self, id: &Id) -> u8 {
        self.flags.get(id).map_or(0, |mark| mark.flags)
    }

    /// Adds `flags` to `oid` and queues it if it is not queued already.
    fn mark(&mut self, id: Id, flags: u8) -> Result<(), GitError> {
        let mark = match self.flags.entry(id) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let node = self.history.node(self.repo, &id)?;
                entry.insert(Mark { flags: 0, queued: false, node })
            }
        };
        let before = mark.flags;
        mark.flags |= flags;
        let after = mark.flags;
        if mark.queued {
            self.count(before, false);
            self.count(after, true);
            return Ok(());
        }
        mark.queued = true;
        self.queue.push(Queued { generation: mark.node.generation, time: mark.node.time, id });
        self.count(after, true);
        Ok(())
    }

    /// Counts a queued commit of `flags` in or out of the fresh ones.
    fn count(&mut self, flags: u8, queued: bool) {
        if flags & STALE != 0 {
            return;
        }
        let change = |n: &mut usize| if queued { *n += 1 } else { *n -= 1 };
        change(&mut self.fresh);
        if flags & PARENT1 != 0 {
            change(&mut self.fresh_with[0]);
        }
        if flags & PARENT2 != 0 {
            change(&mut self.fresh_with[1]);
        }
    }

    /// Whether a common ancestor can still be found that no other found is known to be above.
    ///
    /// git's rule: while anything fresh is queued. Going by generation, a commit is taken only
    /// after all its descendants, so its marks are final when it is taken: a new common
    /// ancestor needs both marks still coming down through fresh queued commits, and once no
    /// fresh commit carries one of them, none can be found, and all found are settled. What
    /// the rest of git's walk does is mark stale what lies below: in git's history, where
    /// topics forked from old releases keep part of the mainline unmarked down to those
    /// releases, most of the walk, for every merge. Going by date (no graph) this does not
    /// hold: dates that lie let one side's mark pass a commit, and leave the queue, before the
    /// other's arrives (tests/integration/merges_vs_git.rs catches that).
    fn may_find_more(&self) -> bool {
        match self.stop_early {
            true => self.fresh_with[0] > 0 && self.fresh_with[1] > 0,
            false => self.fresh > 0,
        }
    }

    /// Paints down from `one` and `twos` until only stale commits are queued; returns the
    /// commits found reachable from both, in the order found (some may be stale by the end).
    fn paint(&mut self, one: Id, twos: &[Id]) -> Result<Vec<Id>, GitError> {
        self.mark(one, PARENT1)?;
        for &two in twos {
            self.mark(two, PARENT2)?;
        }
        let mut found = Vec::new();
        while self.may_find_more() {
            let Some(Queued { id, .. }) = self.queue.pop() else { break };
            let mark = self.flags.get_mut(&id).expect("marked when queued");
            mark.queued = false;
            let mut flags = mark.flags & (PARENT1 | PARENT2 | STALE);
            let parents = Arc::clone(&mark.node.parents);
            self.count(flags, false);
            if flags == PARENT1 | PARENT2 {
                if !found.contains(&id) {
                    found.push(id);
                }
                // Below a common ancestor, every commit is a worse one.
                flags |= STALE;
            }
            for &parent in parents.iter() {
                if self.flags_of(&parent) & flags != flags {
                    self.mark(parent, flags)?;
                }
            }
        }
        Ok(found)
    }
}
