//! Ancestry questions (a merge's merge base) answered from one in-memory view of the history,
//! shared by every merge of a run and every thread judging them.
//!
//! Why not libgit2's `merge_base_many`: it reads no commit-graph git writes (see
//! [`crate::commit_graph`]), and with its object cache off every question inflates again each
//! commit it passes. In a history like git's, a merge's base often lies thousands of commits
//! back, and a range of a few hundred merges re-read the same history hundreds of times (over
//! a minute for `v2.46.0..v2.47.0`, where git answers in milliseconds).
//!
//! Here a commit's parents and its place in the order of the search come from the commit-graph
//! where it holds the commit (nothing is inflated); any other commit is read once per run and
//! kept. The search is git's and libgit2's `paint_down_to_common`, then `remove_redundant`, so
//! the base is the one libgit2 chose: of the best common ancestors, the one with the newest
//! committer date.

use std::cmp::Ordering;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Mutex;

use git2::{Oid, Repository};

use crate::commit_graph::CommitGraph;
use crate::repo::{Context, GitError};

/// The history a run asks about: the commit-graph, and the commits read because it lacks them.
pub struct History<'g> {
    graph: Option<&'g CommitGraph>,
    /// Every commit read from its object so far, by any thread: its parents, its committer date
    /// and, when there is a graph, its generation (computed as git would have stored it).
    read: Mutex<HashMap<Oid, Node>>,
}

#[derive(Clone)]
struct Node {
    parents: Vec<Oid>,
    time: i64,
    /// `None` without a graph: the search then goes by date, as git does without one.
    generation: Option<u32>,
}

const PARENT1: u8 = 1;
const PARENT2: u8 = 2;
const STALE: u8 = 4;

impl<'g> History<'g> {
    pub fn new(graph: Option<&'g CommitGraph>) -> Self {
        History { graph, read: Mutex::new(HashMap::new()) }
    }

    pub fn graph(&self) -> Option<&'g CommitGraph> {
        self.graph
    }

    /// The merge base of `ids[0]` and the others (as `git merge-base ids[0] ids[1..]`), as
    /// libgit2's `merge_base_many` picks it; `None` when they share no history.
    pub fn merge_base(&self, repo: &Repository, ids: &[Oid]) -> Result<Option<Oid>, GitError> {
        let Some((&one, twos)) = ids.split_first() else { return Ok(None) };
        if twos.contains(&one) {
            return Ok(Some(one));
        }
        let mut search = Search::new(self, repo);
        let found = search.paint(one, twos)?;
        let mut bases: Vec<Oid> =
            found.into_iter().filter(|oid| search.flags[oid].flags & STALE == 0).collect();
        if bases.len() > 1 {
            bases = self.remove_redundant(repo, bases)?;
        }
        // libgit2 keeps its list newest first, a later find before an earlier one of the same
        // date, and takes the first.
        bases.reverse();
        let mut dated = Vec::with_capacity(bases.len());
        for oid in bases {
            dated.push((self.node(repo, oid)?.time, oid));
        }
        dated.sort_by_key(|&(time, _)| std::cmp::Reverse(time));
        Ok(dated.first().map(|&(_, oid)| oid))
    }

    /// Drops each candidate that is an ancestor of another (several candidates remain only
    /// when histories cross).
    fn remove_redundant(&self, repo: &Repository, candidates: Vec<Oid>) -> Result<Vec<Oid>, GitError> {
        let mut redundant = vec![false; candidates.len()];
        for i in 0..candidates.len() {
            if redundant[i] {
                continue;
            }
            let others: Vec<(usize, Oid)> =
                candidates.iter().copied().enumerate().filter(|&(j, _)| j != i && !redundant[j]).collect();
            let twos: Vec<Oid> = others.iter().map(|&(_, oid)| oid).collect();
            let mut search = Search::new(self, repo);
            search.paint(candidates[i], &twos)?;
            if search.flags_of(candidates[i]) & PARENT2 != 0 {
                redundant[i] = true;
            }
            for (j, oid) in others {
                if search.flags_of(oid) & PARENT1 != 0 {
                    redundant[j] = true;
                }
            }
        }
        Ok(candidates.into_iter().zip(redundant).filter(|(_, r)| !r).map(|(oid, _)| oid).collect())
    }

    /// A commit's parents and place in the search order.
    fn node(&self, repo: &Repository, oid: Oid) -> Result<Node, GitError> {
        if let Some(graph) = self.graph
            && let Some(commit) = graph.get(oid)
        {
            let mut parents = Vec::new();
            commit.parents(&mut parents)?;
            let generation = Some(commit.generation());
            return Ok(Node { parents, time: commit.committer_time(), generation });
        }
        if let Some(node) = self.lock().get(&oid) {
            return Ok(node.clone());
        }
        match self.graph {
            Some(_) => self.read_numbered(repo, oid),
            None => {
                let node = read(repo, oid)?;
                self.lock().insert(oid, node.clone());
                Ok(node)
            }
        }
    }

    /// Reads a commit the graph lacks, and every ancestor it lacks too, numbering each as git
    /// would have (one more than its highest parent). Depth first without recursion: the
    /// pusher chooses how deep that goes.
    fn read_numbered(&self, repo: &Repository, start: Oid) -> Result<Node, GitError> {
        let graph = self.graph.expect("only with a graph");
        let generation_of = |oid: Oid, read: &HashMap<Oid, Node>| match graph.get(oid) {
            Some(commit) => Some(commit.generation()),
            None => read.get(&oid).and_then(|node| node.generation),
        };
        let mut stack = vec![start];
        while let Some(&oid) = stack.last() {
            let parents = match self.lock().get(&oid) {
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
                    let node = read(repo, oid)?;
                    let parents = node.parents.clone();
                    self.lock().entry(oid).or_insert(node);
                    parents
                }
            };
            let mut read = self.lock();
            let unnumbered = parents.iter().find(|&&p| generation_of(p, &read).is_none());
            match unnumbered {
                Some(&parent) => {
                    drop(read);
                    stack.push(parent);
                }
                None => {
                    let highest = parents.iter().filter_map(|&p| generation_of(p, &read)).max().unwrap_or(0);
                    read.get_mut(&oid).expect("read above").generation = Some(highest.saturating_add(1));
                    stack.pop();
                }
            }
        }
        Ok(self.lock()[&start].clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Oid, Node>> {
        // A thread that panicked holding the lock left a map of whole entries: still sound.
        self.read.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A commit read from its object; numbered later where there is a graph.
fn read(repo: &Repository, oid: Oid) -> Result<Node, GitError> {
    let commit = repo.find_commit(oid).context(|| format!("reading commit {oid}"))?;
    Ok(Node { parents: commit.parent_ids().collect(), time: commit.time().seconds(), generation: None })
}

/// One `paint_down_to_common`: commits reachable from `one` get PARENT1, from the others
/// PARENT2, and below a commit with both, STALE.
struct Search<'h, 'g> {
    history: &'h History<'g>,
    repo: &'h Repository,
    flags: HashMap<Oid, Mark>,
    queue: BinaryHeap<Queued>,
    /// Queued commits not (yet) stale: none left, nothing queued can be a base.
    fresh: usize,
}

struct Mark {
    flags: u8,
    queued: bool,
    node: Node,
}

#[derive(PartialEq, Eq)]
struct Queued {
    generation: Option<u32>,
    time: i64,
    oid: Oid,
}

impl Ord for Queued {
    /// Highest generation first where both have one, else newest first, as libgit2 orders.
    fn cmp(&self, other: &Self) -> Ordering {
        let by_generation = match (self.generation, other.generation) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => Ordering::Equal,
        };
        by_generation.then(self.time.cmp(&other.time)).then(self.oid.cmp(&other.oid))
    }
}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<'h, 'g> Search<'h, 'g> {
    fn new(history: &'h History<'g>, repo: &'h Repository) -> Self {
        Search { history, repo, flags: HashMap::new(), queue: BinaryHeap::new(), fresh: 0 }
    }

    fn flags_of(&self, oid: Oid) -> u8 {
        self.flags.get(&oid).map_or(0, |mark| mark.flags)
    }

    /// Adds `flags` to `oid` and queues it if it is not queued already.
    fn mark(&mut self, oid: Oid, flags: u8) -> Result<(), GitError> {
        let mark = match self.flags.entry(oid) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let node = self.history.node(self.repo, oid)?;
                entry.insert(Mark { flags: 0, queued: false, node })
            }
        };
        let was_fresh = mark.queued && mark.flags & STALE == 0;
        mark.flags |= flags;
        let is_fresh = mark.flags & STALE == 0;
        if mark.queued {
            if was_fresh && !is_fresh {
                self.fresh -= 1;
            }
            return Ok(());
        }
        mark.queued = true;
        self.fresh += usize::from(is_fresh);
        self.queue.push(Queued { generation: mark.node.generation, time: mark.node.time, oid });
        Ok(())
    }

    /// Paints down from `one` and `twos` until only stale commits are queued; returns the
    /// commits found reachable from both, in the order found (some may be stale by the end).
    fn paint(&mut self, one: Oid, twos: &[Oid]) -> Result<Vec<Oid>, GitError> {
        self.mark(one, PARENT1)?;
        for &two in twos {
            self.mark(two, PARENT2)?;
        }
        let mut found = Vec::new();
        while self.fresh > 0 {
            let Some(Queued { oid, .. }) = self.queue.pop() else { break };
            let mark = self.flags.get_mut(&oid).expect("marked when queued");
            mark.queued = false;
            let mut flags = mark.flags & (PARENT1 | PARENT2 | STALE);
            if flags & STALE == 0 {
                self.fresh -= 1;
            }
            if flags == PARENT1 | PARENT2 {
                if !found.contains(&oid) {
                    found.push(oid);
                }
                // Below a common ancestor, every commit is a worse one.
                flags |= STALE;
            }
            let parents = std::mem::take(&mut mark.node.parents);
            for &parent in &parents {
                if self.flags_of(parent) & flags != flags {
                    self.mark(parent, flags)?;
                }
            }
            self.flags.get_mut(&oid).expect("marked").node.parents = parents;
        }
        Ok(found)
    }
}
