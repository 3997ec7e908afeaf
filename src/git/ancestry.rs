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
//! kept. The search is git's `paint_down_to_common`, then `remove_redundant` (as git's
//! `remove_redundant_with_gen` where every commit has a generation), and the base is the one
//! libgit2 chose: of the best common ancestors, the one with the newest committer date.
//!
//! The search goes down in the order git's does: by corrected commit date (generation v2)
//! where the graph holds them, else by topological level, else (no graph) by committer date.
//! A search keeps its marks in an array, by a number each commit has for the run: its position
//! in the graph, or past the graph's commits, the order in which the run first met it. (Marks
//! kept in a map by id were most of the search's cost: a hash, a lock and a copy per commit.)
//! What a search reads of a commit (its place in the order, its parents) is decoded once per
//! [`Searcher`], a search's working state that outlives it: a step of a search then takes no
//! lock, reads no graph file and copies nothing shared. (Taken from the shared history at each
//! step, it cost hundreds of nanoseconds, and without a graph a merge in git's history takes
//! thousands of steps.)
//!
//! A run that asks for many merge bases first learns what the first-parent chain of its
//! mainline reaches ([`Reach`]); a merge whose first parent is on it, or whose first parents
//! meet it soon (a merge into a maintenance branch, or inside a topic), is searched from its
//! other parent's side alone. Without a graph too, once building it reads few enough commits
//! for how far the searches walk (there, each goes by date to the end of what it marked, which
//! in git's history is thousands of commits a merge); built, it numbers the levels a graph
//! would have held for all it reaches.
//!
//! Order matters for speed, not for the answer (but where dates lie, without a graph, as for
//! git): in git's history a topic forked from an old release has low levels, and going down by
//! level walks most of the mainline to reach them, where corrected dates stop near the base.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use git2::{Oid, Repository};

use crate::git::commit::CommitObject;
use crate::git::commit_graph::{CommitGraph, GraphCommit};
use crate::git::error::{Context, GitError};
use crate::git::repo::padded;

/// A commit's number for the run: below the graph's length, its position in the graph; from
/// there on, the commits the graph lacks (every commit, without a graph), in the order met.
type Slot = u32;

/// The history a run asks about: the commit-graph, and the commits read because it lacks them.
pub struct History<'g> {
    graph: Option<&'g CommitGraph>,
    /// How many slots the graph's commits take.
    in_graph: u32,
    /// The commits the graph lacks, numbered by any thread as met, and read from their objects.
    others: Mutex<Others>,
    /// The working states of finished searches, for the next ones: as many as ever searched
    /// at once (one per thread).
    idle: Mutex<Vec<Searcher>>,
    /// How many merge bases the run asked for before its [`Reach`] was built.
    asked: AtomicUsize,
    /// How many commits their searches took from their queues.
    steps: AtomicUsize,
    /// How many steps the searches take before the [`Reach`] is tried (again).
    next_try: Mutex<usize>,
    /// Of the first parents asked about before the [`Reach`] is built, the highest, by its
    /// place in the searches' order ([`History::walk_order`]).
    highest_first_parent: Mutex<Option<(u64, Slot)>>,
    /// Once built; `None` where the chain could not be read (searches then go the whole way,
    /// and meet what stopped it themselves).
    reach: OnceLock<Option<Reach>>,
}

/// Which commits each commit of one first-parent chain reaches, as a number per commit: the
/// first place on the chain, oldest first, that reaches it. A commit of the chain reaches what
/// its first parent does and more, so `x` is an ancestor of the chain's `n`th commit exactly
/// when its number is at most `n`.
///
/// Why: in a history like git's, each merge of the mainline has a first parent on that chain,
/// and its merge base is where its topic forked, often months back. A search for it went down
/// the mainline, and all it merged, to that fork: as many commits again for every merge. With
/// the first parent's side known at once, a search walks the topic's side alone (usually a few
/// commits). Built by one walk of everything the chain reaches, once per run.
struct Reach {
    /// The chain, oldest first.
    chain: Vec<Slot>,
    /// By slot: the first place on the chain that reaches it; `u32::MAX` if none does.
    first: Vec<u32>,
    /// Without a graph, by slot: the topological level of each commit the chain reaches (0
    /// for the others), which a graph would have held ([`Search::independent`]); empty with
    /// one.
    levels: Vec<u32>,
}

impl Reach {
    const UNREACHED: u32 = u32::MAX;
    /// A level being numbered, or none to be had.
    const NO_LEVEL: u32 = u32::MAX;

    /// Where `slot` is on the chain, if it is on it.
    fn place(&self, slot: Slot) -> Option<u32> {
        let &at = self.first.get(slot as usize)?;
        (self.chain.get(at as usize) == Some(&slot)).then_some(at)
    }

    /// Whether the chain's commit at `place` is `slot` or one of its descendants.
    fn reaches(&self, place: u32, slot: Slot) -> bool {
        self.first.get(slot as usize).is_some_and(|&first| first <= place)
    }

    /// The topological level of a commit the chain reaches, built without a graph.
    fn level(&self, slot: Slot) -> Option<u64> {
        let level = *self.levels.get(slot as usize)?;
        (level != 0 && level != Self::NO_LEVEL).then_some(u64::from(level))
    }
}

/// How many merge bases a run asks for before a [`Reach`] is built: it walks all the history
/// the chain reaches (git's, 82,000 commits, in about 10 ms with a graph), what a handful of
/// searches on a long-lived mainline cost, and a push of a few merges should not pay for.
const REACH_AFTER: usize = 16;

/// Without a graph, building a [`Reach`] reads every commit the chain reaches that no search
/// has read, so it is tried as the searches walk: a try may read one commit for this many steps
/// they have taken (a read costs some tens of steps), and one that would read more stops, keeps
/// what it read, and is tried again once they have taken twice as many. What failed tries read
/// stays a fraction of what the searches cost (git's `v2.46.0..v2.47.0`, where the chain never
/// pays: 9% more time); in git's whole history, whose merge bases lie far back, the searches
/// soon read most of what the chain reaches, and it is built after some hundred merges.
const STEPS_PER_READ: usize = 256;

/// Commits met outside the graph: slot `in_graph + i` is `ids[i]`.
struct Others {
    slots: Map<Slot>,
    ids: Vec<Oid>,
    /// Each one's parents and committer date once read, and when there is a graph, its
    /// generation once computed (as git would have stored it).
    nodes: Vec<Option<Node>>,
    /// The objects read, by slot like `nodes`, until judged ([`History::take_commit`]): with a
    /// graph, the commits it lacks are those pushed since it was written, read first to walk
    /// the push; without one, the searches for merge bases read most commits before the judge
    /// comes to them (and some it never judges, below the range).
    kept: Vec<Option<Box<CommitObject>>>,
    kept_bytes: usize,
}

/// At most this much of the objects read is kept for the judge: the 9,372 commits of git's
/// v2.35.0..v2.47.0 take 10 MB. Past the budget, the judge reads them again. (Without a graph,
/// reading each commit once more took a fifth of aider's check, a seventh of crush's and a
/// sixteenth of all of git's; a range of git, whose searches read 75,000 commits it never
/// judges, holds the whole budget to the end.)
const KEPT_BYTES: usize = 16 << 20;

/// A commit id as a key, its bytes zero-padded to 32: `Oid`'s comparisons go through libgit2,
/// and a map keyed by `Oid` would hold each id a second time beside [`Others::ids`].
#[derive(Clone, Copy, PartialEq, Eq)]
struct Id([u8; 32]);

impl std::hash::Hash for Id {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0);
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

#[derive(Clone)]
struct Node {
    /// Shared, so that handing a node out copies no list.
    parents: Arc<[Slot]>,
    time: i64,
    /// `None` without a graph: the search then goes by date, as git does without one.
    generation: Option<u64>,
    /// Its root tree, for a walk of what it changed ([`History::outside_commit`]).
    tree: Oid,
}

/// A commit the graph lacks, as the run read it: once, for every question asked of it.
pub struct OutsideCommit {
    pub parents: Vec<Oid>,
    /// The committer date, in seconds.
    pub time: i64,
    pub tree: Oid,
    /// Its place in a walk by generation, as git would have numbered it
    /// ([`GraphCommit::walk_order`]), once [`History::number_outside`] (or a search) has.
    pub walk_order: Option<u64>,
}

const PARENT1: u8 = 1;
const PARENT2: u8 = 2;
const STALE: u8 = 4;
/// Not a mark: whether the commit waits in the search's queue.
const QUEUED: u8 = 8;
/// Not a mark either: in a search beside the chain, a commit its first commit reaches and the
/// chain's commit where that one's first parents meet the chain does not
/// ([`Search::mark_above`]).
const ABOVE: u8 = 16;

/// How far a search beside the chain follows a commit's first parents to the chain before it
/// does the whole search instead: in git's history a merge into `maint` meets the mainline at
/// the release `maint` was cut from, 38 commits down at the median and 679 at most.
const FIRST_PARENTS_TO_CHAIN: usize = 1_000;

/// How many of that commit's ancestors a search beside the chain marks above the meeting
/// (there, the topics merged since the release) before it does the whole search instead.
const ABOVE_AT_MOST: usize = 10_000;

impl<'g> History<'g> {
    pub fn new(graph: Option<&'g CommitGraph>) -> Self {
        let seed = RandomState::new().hash_one(0u8);
        let others = Others {
            slots: HashMap::with_hasher(Ids(seed)),
            ids: Vec::new(),
            nodes: Vec::new(),
            kept: Vec::new(),
            kept_bytes: 0,
        };
        History {
            graph,
            in_graph: graph.map_or(0, CommitGraph::commits),
            others: Mutex::new(others),
            idle: Mutex::new(Vec::new()),
            asked: AtomicUsize::new(0),
            steps: AtomicUsize::new(0),
            next_try: Mutex::new(0),
            highest_first_parent: Mutex::new(None),
            reach: OnceLock::new(),
        }
    }

    pub fn graph(&self) -> Option<&'g CommitGraph> {
        self.graph
    }

    /// The merge base of `ids[0]` and the others (as `git merge-base ids[0] ids[1..]`), as
    /// libgit2's `merge_base_many` picks it; `None` when they share no history.
    pub fn merge_base(&self, repo: &Repository, ids: &[Oid]) -> Result<Option<Oid>, GitError> {
        let slots: Vec<Slot> = ids.iter().map(|&oid| self.slot(oid)).collect();
        let Some((&one, twos)) = slots.split_first() else { return Ok(None) };
        if twos.contains(&one) {
            return Ok(Some(ids[0]));
        }
        let reach = self.reach(repo, one);
        let mut search = Search::new(self, repo);
        let beside = match (reach, twos) {
            (Some(reach), [two]) => search.base_beside(reach, one, *two)?,
            _ => None,
        };
        let base = match beside {
            Some(base) => base,
            None => {
                let found = search.paint(one, twos)?;
                search.best(reach, found)?
            }
        };
        if self.reach.get().is_none() {
            self.steps.fetch_add(search.steps, AtomicOrdering::Relaxed);
        }
        drop(search);
        base.map(|base| self.oid(base)).transpose()
    }

    /// The run's [`Reach`], if built. Built once the run has asked for [`REACH_AFTER`] merge
    /// bases, from the chain of the highest first parent asked about by then: judging goes down
    /// the history, so that is near the top of what is judged, and the chain below it serves
    /// the merges of the mainline. Without a graph, only once it reads few enough commits
    /// ([`STEPS_PER_READ`]).
    fn reach(&self, repo: &Repository, first_parent: Slot) -> Option<&Reach> {
        if let Some(built) = self.reach.get() {
            return built.as_ref();
        }
        let asked = self.asked.fetch_add(1, AtomicOrdering::Relaxed);
        // Unreadable, it is not a tip to build from; its own search says what is wrong.
        if let Ok(order) = self.walk_order(repo, first_parent) {
            let mut highest = self.highest_first_parent.lock().unwrap_or_else(|p| p.into_inner());
            if highest.is_none_or(|(highest, _)| order > highest) {
                *highest = Some((order, first_parent));
            }
        }
        if asked < REACH_AFTER {
            return None;
        }
        // One thread tries at a time; the others search whole meanwhile.
        let mut next_try = self.next_try.try_lock().ok()?;
        let steps = self.steps.load(AtomicOrdering::Relaxed);
        if self.reach.get().is_some() || steps < *next_try {
            return self.reach.get()?.as_ref();
        }
        *next_try = steps.saturating_mul(2);
        let mut reads = match self.graph {
            Some(_) => usize::MAX,
            None => steps / STEPS_PER_READ,
        };
        let highest = *self.highest_first_parent.lock().unwrap_or_else(|p| p.into_inner());
        match self.build_reach(repo, highest.map_or(first_parent, |(_, tip)| tip), &mut reads) {
            Ok(Some(reach)) => {
                tracing::debug!(
                    "a mainline of {} commits reaches {} of the history, after {} merge bases whose \
                     searches walked {steps} commits",
                    reach.chain.len(),
                    reach.first.iter().filter(|&&first| first != Reach::UNREACHED).count(),
                    asked + 1,
                );
                let _ = self.reach.set(Some(reach));
            }
            Ok(None) => {
                tracing::trace!("the mainline reaches more unread commits than {steps} steps pay for")
            }
            // Its searches meet what stopped it, and say so.
            Err(_) => {
                let _ = self.reach.set(None);
            }
        }
        self.reach.get()?.as_ref()
    }

    /// A commit's place in the search's order: by generation ([`GraphCommit::walk_order`]), or
    /// without a graph by committer date.
    fn walk_order(&self, repo: &Repository, slot: Slot) -> Result<u64, GitError> {
        match (self.in_graph(slot), self.graph) {
            (Some(commit), _) => Ok(commit.walk_order()),
            (None, Some(_)) => Ok(self.other(repo, slot)?.0.generation.unwrap_or(0)),
            (None, None) => Ok(key(false, 0, self.other(repo, slot)?.0.time, &[])[0]),
        }
    }

    /// The [`Reach`] of `tip`'s first-parent chain; `None` if that would read more than
    /// `*reads` commits not read before.
    fn build_reach(
        &self,
        repo: &Repository,
        tip: Slot,
        reads: &mut usize,
    ) -> Result<Option<Reach>, GitError> {
        let mut parents = Vec::new();
        let mut chain = Vec::new();
        let mut next = Some(tip);
        while let Some(slot) = next {
            chain.push(slot);
            parents.clear();
            if !self.parents_within(repo, slot, &mut parents, reads)? {
                return Ok(None);
            }
            next = parents.first().copied();
        }
        chain.reverse();
        let mut first: Vec<u32> = Vec::new();
        // Without a graph, each reached commit's parents (where they start in `edges`, and how
        // many), to number levels from once all are reached.
        let count_levels = self.graph.is_none();
        let (mut spans, mut edges): (Vec<(u32, u32)>, Vec<Slot>) = (Vec::new(), Vec::new());
        let mut pending = Vec::new();
        for (place, &on_chain) in chain.iter().enumerate() {
            let place = u32::try_from(place).unwrap_or(Reach::UNREACHED - 1);
            pending.push(on_chain);
            // Depth first without recursion: the pusher chooses how deep a side branch goes.
            while let Some(slot) = pending.pop() {
                let at = slot as usize;
                if at >= first.len() {
                    first.resize(at + 1, Reach::UNREACHED);
                }
                if first[at] != Reach::UNREACHED {
                    continue;
                }
                first[at] = place;
                parents.clear();
                if !self.parents_within(repo, slot, &mut parents, reads)? {
                    return Ok(None);
                }
                if count_levels {
                    if at >= spans.len() {
                        spans.resize(at + 1, (0, 0));
                    }
                    spans[at] = (edges.len() as u32, parents.len() as u32);
                    edges.extend_from_slice(&parents);
                }
                let unreached =
                    |&&parent: &&Slot| first.get(parent as usize).is_none_or(|&f| f == Reach::UNREACHED);
                pending.extend(parents.iter().filter(unreached));
            }
        }
        let levels = match count_levels {
            true => topological_levels(&first, &spans, &edges),
            false => Vec::new(),
        };
        Ok(Some(Reach { chain, first, levels }))
    }

    /// [`History::parents`], unless that would read a commit past `*reads` read before
    /// (without a graph; with one, nothing is read but pushed commits, already read).
    fn parents_within(
        &self,
        repo: &Repository,
        slot: Slot,
        into: &mut Vec<Slot>,
        reads: &mut usize,
    ) -> Result<bool, GitError> {
        if self.in_graph(slot).is_none() && self.lock().nodes[(slot - self.in_graph) as usize].is_none() {
            if *reads == 0 {
                return Ok(false);
            }
            *reads -= 1;
        }
        self.parents(repo, slot, into)?;
        Ok(true)
    }

    /// A commit's parents' slots, first parent first.
    fn parents(&self, repo: &Repository, slot: Slot, into: &mut Vec<Slot>) -> Result<(), GitError> {
        match self.in_graph(slot) {
            Some(commit) => commit.parent_positions(into),
            None => {
                into.extend_from_slice(&self.other(repo, slot)?.0.parents);
                Ok(())
            }
        }
    }

    /// A commit the graph does not hold, read from its object unless the run already has (a
    /// pushed commit is met by the fast-forward check, the walk that lists it, and the walk of
    /// its child's changes: each inflated it again, and together they read it more often than
    /// judging it does).
    pub fn outside_commit(&self, repo: &Repository, oid: Oid) -> Result<OutsideCommit, GitError> {
        debug_assert!(self.graph.and_then(|graph| graph.position(oid)).is_none(), "{oid} is in the graph");
        let slot = self.other_slot(&mut self.lock(), oid);
        let known = self.lock().nodes[(slot - self.in_graph) as usize].clone();
        let node = match known {
            Some(node) => node,
            None => self.read(repo, slot)?,
        };
        let parents = node.parents.iter().map(|&parent| self.oid(parent)).collect::<Result<_, _>>()?;
        Ok(OutsideCommit { parents, time: node.time, tree: node.tree, walk_order: node.generation })
    }

    /// Numbers a commit the graph lacks, and every ancestor it lacks, as git would have,
    /// reading at most `*budget` commits the run has not read yet (what is read is taken from
    /// the budget); `false` when that is not enough, or there is no graph to number from.
    pub fn number_outside(&self, repo: &Repository, oid: Oid, budget: &mut usize) -> Result<bool, GitError> {
        if self.graph.is_none() {
            return Ok(false);
        }
        let slot = self.other_slot(&mut self.lock(), oid);
        Ok(self.read_numbered(repo, slot, budget)?.is_some())
    }

    /// The object of a commit the run read to walk it, if kept, handed over once: judging it
    /// needs it again.
    pub fn take_commit(&self, oid: Oid) -> Option<CommitObject> {
        let mut others = self.lock();
        let &slot = others.slots.get(&Id(padded(oid.as_bytes())))?;
        let commit = others.kept[(slot - self.in_graph) as usize].take()?;
        others.kept_bytes -= commit.size();
        Some(*commit)
    }

    /// The commit's slot: its position in the graph, else its number among the others.
    fn slot(&self, oid: Oid) -> Slot {
        match self.graph.and_then(|graph| graph.position(oid)) {
            Some(position) => position,
            None => self.other_slot(&mut self.lock(), oid),
        }
    }

    fn other_slot(&self, others: &mut Others, oid: Oid) -> Slot {
        let next = self.in_graph.saturating_add(u32::try_from(others.ids.len()).unwrap_or(u32::MAX));
        *others.slots.entry(Id(padded(oid.as_bytes()))).or_insert_with(|| {
            others.ids.push(oid);
            others.nodes.push(None);
            others.kept.push(None);
            next
        })
    }

    fn oid(&self, slot: Slot) -> Result<Oid, GitError> {
        match self.in_graph(slot) {
            Some(commit) => Oid::from_bytes(commit.id_bytes())
                .context(|| "reading an id from the commit-graph".to_string()),
            None => Ok(self.lock().ids[(slot - self.in_graph) as usize]),
        }
    }

    fn in_graph(&self, slot: Slot) -> Option<GraphCommit<'g>> {
        self.graph.filter(|_| slot < self.in_graph).map(|graph| graph.commit_at(slot))
    }

    /// A commit's id's bytes, zero-padded: the search order's last word.
    fn id_bytes(&self, slot: Slot) -> [u8; 32] {
        match self.in_graph(slot) {
            Some(commit) => padded(commit.id_bytes()),
            None => padded(self.lock().ids[(slot - self.in_graph) as usize].as_bytes()),
        }
    }

    /// A commit the graph lacks, read (and with a graph, numbered) at most once per run, and
    /// its id.
    fn other(&self, repo: &Repository, slot: Slot) -> Result<(Node, Oid), GitError> {
        let index = (slot - self.in_graph) as usize;
        {
            // With a graph, a node another thread has read but not numbered yet
            // (`read_numbered` is part way down its ancestors) is not ready: taken as it is, it
            // would be queued without its generation, out of order, and the search stop too
            // early.
            let others = self.lock();
            let ready =
                others.nodes[index].as_ref().filter(|node| node.generation.is_some() || self.graph.is_none());
            if let Some(node) = ready {
                return Ok((node.clone(), others.ids[index]));
            }
        }
        let node = match self.graph {
            Some(_) => {
                let mut unbounded = usize::MAX;
                self.read_numbered(repo, slot, &mut unbounded)?.expect("no history holds usize::MAX commits")
            }
            None => self.read(repo, slot)?,
        };
        Ok((node, self.lock().ids[index]))
    }

    /// Reads a commit the graph lacks, and every ancestor it lacks too, numbering each as git
    /// would have: a level one more than its highest parent's, or a corrected date at least
    /// its own and one more than its highest parent's. Depth first without recursion: the
    /// pusher chooses how deep that goes. `None` when that would read more than `*budget`
    /// commits not read before.
    fn read_numbered(
        &self,
        repo: &Repository,
        start: Slot,
        budget: &mut usize,
    ) -> Result<Option<Node>, GitError> {
        // Without a graph nothing is numbered: the search goes by date.
        let Some(graph) = self.graph else { return self.read(repo, start).map(Some) };
        let generation_of = |slot: Slot, others: &Others| match self.in_graph(slot) {
            Some(commit) => Some(commit.walk_order()),
            None => others.nodes[(slot - self.in_graph) as usize].as_ref().and_then(|node| node.generation),
        };
        let mut stack = vec![start];
        while let Some(&slot) = stack.last() {
            let index = (slot - self.in_graph) as usize;
            let parents = match &self.lock().nodes[index] {
                Some(node) if node.generation.is_some() => {
                    stack.pop();
                    continue;
                }
                Some(node) => Some(node.parents.clone()),
                None => None,
            };
            let parents = match parents {
                Some(parents) => parents,
                None if *budget == 0 => return Ok(None),
                None => {
                    *budget -= 1;
                    self.read(repo, slot)?.parents
                }
            };
            let mut others = self.lock();
            let unnumbered = parents.iter().find(|&&p| generation_of(p, &others).is_none());
            match unnumbered {
                Some(&parent) => {
                    drop(others);
                    stack.push(parent);
                }
                None => {
                    let highest = parents.iter().filter_map(|&p| generation_of(p, &others)).max();
                    let node = others.nodes[index].as_mut().expect("read above");
                    node.generation = Some(graph.walk_order_outside(highest, node.time));
                    stack.pop();
                }
            }
        }
        let node = self.lock().nodes[(start - self.in_graph) as usize].clone();
        Ok(Some(node.expect("numbered above")))
    }

    /// Reads a commit the graph lacks from its object and keeps it (numbered later where
    /// there is a graph); another thread's reading first wins.
    fn read(&self, repo: &Repository, slot: Slot) -> Result<Node, GitError> {
        let oid = self.lock().ids[(slot - self.in_graph) as usize];
        let commit = CommitObject::read(repo, oid)?;
        let mut others = self.lock();
        let parents = commit
            .parents
            .iter()
            .map(|&parent| match self.graph.and_then(|graph| graph.position(parent)) {
                Some(position) => position,
                None => self.other_slot(&mut others, parent),
            })
            .collect();
        let index = (slot - self.in_graph) as usize;
        if others.nodes[index].is_none() {
            others.nodes[index] =
                Some(Node { parents, time: commit.date, generation: None, tree: commit.tree });
            if others.kept_bytes + commit.size() <= KEPT_BYTES {
                others.kept_bytes += commit.size();
                others.kept[index] = Some(Box::new(commit));
            }
        }
        Ok(others.nodes[index].clone().expect("read above"))
    }

    fn lock(&self) -> MutexGuard<'_, Others> {
        // A thread that panicked holding the lock left whole entries: still sound.
        self.others.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A search's working state, kept from one search to the next (the idle ones in
/// [`History`]): its marks, and what it has decoded of each commit it met. Owned by one search
/// at a time, so a step reads it without a lock.
#[derive(Default)]
struct Searcher {
    /// Each commit's marks and QUEUED, by slot; grown as slots are met.
    flags: Vec<u8>,
    /// The slots marked, to clear for the next search (most searches mark a few hundred
    /// commits; clearing the whole array for each would cost as much as the search).
    touched: Vec<Slot>,
    /// By slot: one more than where the commit is in `known`, 0 until met. Four bytes for each
    /// commit of the run, where decoding every commit ahead of need would take eight times as
    /// many (a search meets a small part of a history that has a graph).
    index: Vec<u32>,
    known: Vec<Known>,
    /// The parents of the commits in `known`, back to back.
    parents: Vec<Slot>,
    queue: Vec<Queued>,
}

/// What a search reads of a commit, decoded once per [`Searcher`].
#[derive(Clone, Copy)]
struct Known {
    /// Its place in the search's order but for a whole id, as [`Queued::key`] takes it.
    key: [u64; 2],
    /// Where its parents start in [`Searcher::parents`], and how many.
    parents: u32,
    count: u32,
}

/// A queued commit, with the first words of its place in the order as one number, compared at
/// once: with a graph, its generation and its committer date; without one (every generation
/// 0), its date and its id's first eight bytes. Only entries equal there compare whole ids
/// ([`before`]).
#[derive(Clone, Copy)]
struct Queued {
    key: [u64; 2],
    slot: Slot,
    /// Where the commit is in [`Searcher::known`].
    known: u32,
}

impl Queued {
    fn key(&self) -> u128 {
        (u128::from(self.key[0]) << 64) | u128::from(self.key[1])
    }
}

/// One `paint_down_to_common`: commits reachable from `one` get PARENT1, from the others
/// PARENT2, and below a commit with both, STALE.
struct Search<'h, 'g> {
    history: &'h History<'g>,
    repo: &'h Repository,
    state: Searcher,
    /// Queued commits not (yet) stale: none left, nothing queued can be a base.
    fresh: usize,
    /// Of those, how many carry PARENT1, and PARENT2.
    fresh_with: [usize; 2],
    /// Whether the search goes by generation (where there is a graph), and then stops once no
    /// new common ancestor can be found ([`Search::may_find_more`]).
    by_generation: bool,
    /// Whether the queue's first place is free: its commit taken, its place not yet given.
    top_free: bool,
    /// How many commits it took from its queue.
    steps: usize,
}

impl<'h, 'g> Search<'h, 'g> {
    fn new(history: &'h History<'g>, repo: &'h Repository) -> Self {
        let state =
            history.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).pop().unwrap_or_default();
        let by_generation = history.graph.is_some();
        Search {
            history,
            repo,
            state,
            fresh: 0,
            fresh_with: [0; 2],
            by_generation,
            top_free: false,
            steps: 0,
        }
    }

    fn flags_of(&self, slot: Slot) -> u8 {
        self.state.flags.get(slot as usize).map_or(0, |flags| flags & !QUEUED)
    }

    /// Where what the search reads of `slot` is in [`Searcher::known`].
    #[inline]
    fn known(&mut self, slot: Slot) -> Result<u32, GitError> {
        match self.state.index.get(slot as usize) {
            Some(&n) if n != 0 => Ok(n - 1),
            _ => self.decode(slot),
        }
    }

    /// What the search reads of `slot`, decoded on its first meeting.
    #[inline(never)]
    fn decode(&mut self, slot: Slot) -> Result<u32, GitError> {
        let at = slot as usize;
        let history = self.history;
        let state = &mut self.state;
        let first = state.parents.len();
        let by_generation = self.by_generation;
        let key = match history.in_graph(slot) {
            Some(commit) => {
                if let Err(e) = commit.parent_positions(&mut state.parents) {
                    state.parents.truncate(first);
                    return Err(e);
                }
                key(by_generation, commit.walk_order(), commit.committer_time(), commit.id_bytes())
            }
            None => {
                let (node, id) = history.other(self.repo, slot)?;
                state.parents.extend_from_slice(&node.parents);
                key(by_generation, node.generation.unwrap_or(0), node.time, id.as_bytes())
            }
        };
        let too_many = || {
            GitError::new(
                "decoding commits".into(),
                git2::Error::from_str("more commits than a search can count"),
            )
        };
        let known = Known {
            key,
            parents: u32::try_from(first).map_err(|_| too_many())?,
            count: u32::try_from(state.parents.len() - first).map_err(|_| too_many())?,
        };
        state.known.push(known);
        let n = u32::try_from(state.known.len()).map_err(|_| too_many())?;
        if at >= state.index.len() {
            state.index.resize(at + 1, 0);
        }
        state.index[at] = n;
        Ok(n - 1)
    }

    /// The committer date a key holds.
    fn time(&self, key: [u64; 2]) -> i64 {
        let date = if self.by_generation { key[1] } else { key[0] };
        (date ^ (1 << 63)) as i64
    }

    /// Adds `flags` to `slot` and queues it if it is not queued already.
    fn mark(&mut self, slot: Slot, flags: u8) -> Result<(), GitError> {
        let before = self.flag(slot, flags);
        let after = before | flags;
        if before & QUEUED != 0 {
            self.count(before & !QUEUED, false);
            self.count(after & !QUEUED, true);
            return Ok(());
        }
        let at = self.known(slot)?;
        self.state.flags[slot as usize] = after | QUEUED;
        self.push(Queued { key: self.state.known[at as usize].key, slot, known: at });
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
        match self.by_generation {
            true => self.fresh_with[0] > 0 && self.fresh_with[1] > 0,
            false => self.fresh > 0,
        }
    }

    /// Paints down from `one` and `twos` until only stale commits are queued; returns the
    /// commits found reachable from both, in the order found (some may be stale by the end).
    /// The marks of the search before are cleared first.
    fn paint(&mut self, one: Slot, twos: &[Slot]) -> Result<Vec<Slot>, GitError> {
        self.clear();
        self.mark(one, PARENT1)?;
        for &two in twos {
            self.mark(two, PARENT2)?;
        }
        let mut found = Vec::new();
        while self.may_find_more() {
            let Some(Queued { slot, known, .. }) = self.take() else { break };
            self.steps += 1;
            let index = slot as usize;
            self.state.flags[index] &= !QUEUED;
            let mut flags = self.state.flags[index] & (PARENT1 | PARENT2 | STALE);
            self.count(flags, false);
            if flags == PARENT1 | PARENT2 {
                if !found.contains(&slot) {
                    found.push(slot);
                }
                // Below a common ancestor, every commit is a worse one.
                flags |= STALE;
            }
            self.mark_parents(known, flags)?;
            self.fill();
        }
        Ok(found)
    }

    /// The merge base of `one` and `two` that [`Search::paint`] leads to, found by
    /// [`Search::paint_beside`]; `None` where `one`'s first parents do not meet the chain soon,
    /// or too much of its history lies above it. Going by date, a search beside finds the
    /// same best common ancestors (every one is reached from `two` through commits `one` does
    /// not reach, and is never below another), but may find them in another order, which
    /// decides between bases of one date: where more than one has the newest date (histories
    /// that cross, rare; and one date, rarer), the whole search is done again.
    fn base_beside(&mut self, reach: &Reach, one: Slot, two: Slot) -> Result<Option<Option<Slot>>, GitError> {
        let Some(place) = self.meeting(reach, one)? else { return Ok(None) };
        let Some(found) = self.paint_beside(reach, place, one, two)? else { return Ok(None) };
        let bases = self.bases(Some(reach), found)?;
        let bases = self.newest_first(bases)?;
        if !self.by_generation && bases.len() > 1 && bases[0].0 == bases[1].0 {
            let found = self.paint(one, &[two])?;
            return Ok(Some(self.best(Some(reach), found)?));
        }
        Ok(Some(bases.first().map(|&(_, base)| base)))
    }

    /// Where `one`'s first parents meet the chain, if within [`FIRST_PARENTS_TO_CHAIN`].
    fn meeting(&mut self, reach: &Reach, one: Slot) -> Result<Option<u32>, GitError> {
        let mut slot = one;
        for _ in 0..FIRST_PARENTS_TO_CHAIN {
            if let Some(place) = reach.place(slot) {
                return Ok(Some(place));
            }
            let at = self.known(slot)?;
            let Known { parents, count, .. } = self.state.known[at as usize];
            if count == 0 {
                return Ok(None);
            }
            slot = self.state.parents[parents as usize];
        }
        Ok(None)
    }

    /// Marks ABOVE what `one` reaches and the chain's commit at `place` (one of `one`'s
    /// ancestors) does not: together, all that `one` reaches. Whether that is at most
    /// [`ABOVE_AT_MOST`] commits.
    fn mark_above(&mut self, reach: &Reach, place: u32, one: Slot) -> Result<bool, GitError> {
        let mut pending = vec![one];
        let mut marked = 0;
        while let Some(slot) = pending.pop() {
            let index = slot as usize;
            if reach.reaches(place, slot) || self.state.flags.get(index).is_some_and(|f| f & ABOVE != 0) {
                continue;
            }
            marked += 1;
            if marked > ABOVE_AT_MOST {
                return Ok(false);
            }
            self.flag(slot, ABOVE);
            let at = self.known(slot)?;
            let Known { parents, count, .. } = self.state.known[at as usize];
            pending.extend_from_slice(&self.state.parents[parents as usize..(parents + count) as usize]);
        }
        self.steps += marked;
        Ok(true)
    }

    /// The merge base libgit2 picks from the commits a paint found: of those not below
    /// another, the newest.
    fn best(&mut self, reach: Option<&Reach>, found: Vec<Slot>) -> Result<Option<Slot>, GitError> {
        let bases = self.bases(reach, found)?;
        Ok(self.newest_first(bases)?.first().map(|&(_, base)| base))
    }

    /// The best common ancestors among the commits a paint found: those not stale, less any
    /// below another, in the order found.
    fn bases(&mut self, reach: Option<&Reach>, found: Vec<Slot>) -> Result<Vec<Slot>, GitError> {
        let bases: Vec<Slot> = found.into_iter().filter(|&slot| self.flags_of(slot) & STALE == 0).collect();
        if bases.len() < 2 {
            return Ok(bases);
        }
        match self.independent(reach, &bases)? {
            Some(independent) => Ok(independent),
            None => self.remove_redundant(bases),
        }
    }

    /// `bases` with their committer dates, in the order libgit2 takes its pick from: it keeps
    /// its list newest first, a later find before an earlier one of the same date.
    fn newest_first(&mut self, mut bases: Vec<Slot>) -> Result<Vec<(i64, Slot)>, GitError> {
        bases.reverse();
        let mut dated = Vec::with_capacity(bases.len());
        for base in bases {
            let at = self.known(base)?;
            dated.push((self.time(self.state.known[at as usize].key), base));
        }
        dated.sort_by_key(|&(time, _)| std::cmp::Reverse(time));
        Ok(dated)
    }

    /// [`Search::paint`] for a merge base of `one` and `two`, going down from `two` alone:
    /// what `one` reaches is what the chain's commit at `place` reaches, which `reach` says,
    /// and what is marked above it. Going by generation, finds what `paint` finds, in the same
    /// order: a commit's marks are final when it is taken, and PARENT1 would mark exactly the
    /// commits `one` reaches; what is stale lies below a common ancestor, so on `two`'s side
    /// too. `None` where too much lies above.
    fn paint_beside(
        &mut self,
        reach: &Reach,
        place: u32,
        one: Slot,
        two: Slot,
    ) -> Result<Option<Vec<Slot>>, GitError> {
        self.clear();
        if !self.mark_above(reach, place, one)? {
            return Ok(None);
        }
        self.mark(two, PARENT2)?;
        let mut found = Vec::new();
        while self.fresh_with[1] > 0 {
            let Some(Queued { slot, known, .. }) = self.take() else { break };
            self.steps += 1;
            let index = slot as usize;
            self.state.flags[index] &= !QUEUED;
            let above = self.state.flags[index] & ABOVE != 0;
            let mut flags = self.state.flags[index] & (PARENT2 | STALE);
            self.count(flags, false);
            if flags == PARENT2 && (above || reach.reaches(place, slot)) {
                if !found.contains(&slot) {
                    found.push(slot);
                }
                flags |= STALE;
            }
            self.mark_parents(known, flags)?;
            self.fill();
        }
        Ok(Some(found))
    }

    /// Passes `flags` on to the parents of the commit taken, which is at `known`.
    fn mark_parents(&mut self, known: u32, flags: u8) -> Result<(), GitError> {
        // Its parents stay where they are as others are met.
        let Known { parents, count, .. } = self.state.known[known as usize];
        for at in parents as usize..(parents + count) as usize {
            let parent = self.state.parents[at];
            if self.flags_of(parent) & flags != flags {
                self.mark(parent, flags)?;
            }
        }
        Ok(())
    }

    /// Of `candidates`, those no other one reaches, in their order, as [`Search::remove_redundant`]
    /// finds them, but as git's `remove_redundant_with_gen` does: one walk down from all their
    /// parents visits each commit once, and goes no lower than the lowest candidate's
    /// generation (a commit's ancestors all have lower ones, so a path from one candidate down
    /// to another never passes below it). `None` where some commit has no generation (without
    /// a graph, before the [`Reach`] is built).
    ///
    /// Why: painting down from each candidate in turn goes, in git's history, tens of
    /// thousands of commits for each (to where nothing fresh is left): without a graph, merges
    /// of `maint` into `master` made this most of what the searches of the whole history did.
    fn independent(
        &mut self,
        reach: Option<&Reach>,
        candidates: &[Slot],
    ) -> Result<Option<Vec<Slot>>, GitError> {
        self.clear();
        let mut lowest = u64::MAX;
        for &candidate in candidates {
            let Some(generation) = self.generation(reach, candidate)? else { return Ok(None) };
            lowest = lowest.min(generation);
            self.flag(candidate, PARENT1);
        }
        let mut unreached = candidates.len();
        let mut pending = Vec::new();
        for &candidate in candidates {
            self.visit_parents(candidate, &mut pending, &mut unreached)?;
        }
        // Once one is left, it is the one no other reaches.
        while unreached > 1
            && let Some(slot) = pending.pop()
        {
            self.steps += 1;
            let Some(generation) = self.generation(reach, slot)? else { return Ok(None) };
            // Parents of a commit of the lowest generation are lower than any candidate.
            if generation > lowest {
                self.visit_parents(slot, &mut pending, &mut unreached)?;
            }
        }
        Ok(Some(candidates.iter().copied().filter(|&slot| self.flags_of(slot) & STALE == 0).collect()))
    }

    /// Marks STALE (visited) the parents of `slot` not visited yet, and queues them in
    /// `pending`, counting the candidates (PARENT1) among them out of `unreached`.
    fn visit_parents(
        &mut self,
        slot: Slot,
        pending: &mut Vec<Slot>,
        unreached: &mut usize,
    ) -> Result<(), GitError> {
        let at = self.known(slot)?;
        let Known { parents, count, .. } = self.state.known[at as usize];
        for at in parents as usize..(parents + count) as usize {
            let parent = self.state.parents[at];
            let before = self.flags_of(parent);
            if before & STALE == 0 {
                self.flag(parent, STALE);
                *unreached -= usize::from(before & PARENT1 != 0);
                pending.push(parent);
            }
        }
        Ok(())
    }

    /// Adds `flags` to `slot` without queueing it; returns its flags before.
    #[inline]
    fn flag(&mut self, slot: Slot, flags: u8) -> u8 {
        let index = slot as usize;
        if index >= self.state.flags.len() {
            self.state.flags.resize(index + 1, 0);
        }
        let before = self.state.flags[index];
        if before == 0 {
            self.state.touched.push(slot);
        }
        self.state.flags[index] = before | flags;
        before
    }

    /// A number below each of a commit's descendants': with a graph, its generation (as the
    /// search goes); without, its topological level, where the [`Reach`] has it.
    fn generation(&mut self, reach: Option<&Reach>, slot: Slot) -> Result<Option<u64>, GitError> {
        match self.by_generation {
            true => {
                let at = self.known(slot)?;
                Ok(Some(self.state.known[at as usize].key[0]))
            }
            false => Ok(reach.and_then(|reach| reach.level(slot))),
        }
    }

    /// Drops each candidate that is an ancestor of another (several candidates remain only
    /// when histories cross), painting down from each in turn: where some commit has no
    /// generation ([`Search::independent`]).
    fn remove_redundant(&mut self, candidates: Vec<Slot>) -> Result<Vec<Slot>, GitError> {
        let mut redundant = vec![false; candidates.len()];
        for i in 0..candidates.len() {
            if redundant[i] {
                continue;
            }
            let others: Vec<(usize, Slot)> =
                candidates.iter().copied().enumerate().filter(|&(j, _)| j != i && !redundant[j]).collect();
            let twos: Vec<Slot> = others.iter().map(|&(_, slot)| slot).collect();
            self.paint(candidates[i], &twos)?;
            if self.flags_of(candidates[i]) & PARENT2 != 0 {
                redundant[i] = true;
            }
            for (j, slot) in others {
                if self.flags_of(slot) & PARENT1 != 0 {
                    redundant[j] = true;
                }
            }
        }
        Ok(candidates.into_iter().zip(redundant).filter(|(_, r)| !r).map(|(slot, _)| slot).collect())
    }

    /// Clears the marks and the queue of the search before, and past [`MAX_KNOWN`] commits,
    /// what it decoded: without a graph, the searches of a large history meet most of it, and
    /// each thread would keep its own copy of what [`History`] already holds.
    fn clear(&mut self) {
        let state = &mut self.state;
        for &slot in &state.touched {
            state.flags[slot as usize] = 0;
        }
        state.touched.clear();
        state.queue.clear();
        if state.known.len() > MAX_KNOWN {
            state.known.clear();
            state.parents.clear();
            state.index.clear();
        }
        self.top_free = false;
        self.fresh = 0;
        self.fresh_with = [0; 2];
    }

    // The queue is a binary heap kept by hand: the order's last word, a whole id, is not in
    // the entries (next to never needed), and `BinaryHeap` compares its entries alone; and a
    // commit taken leaves its place to its parent (below).

    fn push(&mut self, queued: Queued) {
        let (queue, history) = (&mut self.state.queue, self.history);
        if std::mem::take(&mut self.top_free) {
            // Most often the parent of the commit just taken, and taken next, or nearly.
            let len = queue.len();
            let mut at = 0;
            loop {
                let mut child = 2 * at + 1;
                if child >= len {
                    break;
                }
                if child + 1 < len && before(history, &queue[child + 1], &queue[child]) {
                    child += 1;
                }
                if !before(history, &queue[child], &queued) {
                    break;
                }
                queue[at] = queue[child];
                at = child;
            }
            queue[at] = queued;
            return;
        }
        let at = queue.len();
        queue.push(queued);
        sift_up(history, queue, at, queued);
    }

    /// The first commit in the queue, whose place goes to the next commit queued: going
    /// down a history, that is most often its parent, which would otherwise climb from the
    /// bottom of the heap to near its top. [`Search::fill`] closes a place nothing took.
    fn take(&mut self) -> Option<Queued> {
        let top = *self.state.queue.first()?;
        self.top_free = true;
        Some(top)
    }

    /// Closes the place [`Search::take`] left, if no commit queued since took it.
    fn fill(&mut self) {
        if !std::mem::take(&mut self.top_free) {
            return;
        }
        let (queue, history) = (&mut self.state.queue, self.history);
        let Some(last) = queue.pop() else { return };
        if queue.is_empty() {
            return;
        }
        // Down to the bottom along the children taken first, then up to where the last entry
        // belongs (as `BinaryHeap` does): it nearly always belongs near the bottom, and going
        // down this way compares once a level, not twice.
        let len = queue.len();
        let (mut at, mut child) = (0, 1);
        while child + 1 < len {
            child += usize::from(before(history, &queue[child + 1], &queue[child]));
            queue[at] = queue[child];
            at = child;
            child = 2 * at + 1;
        }
        if child + 1 == len {
            queue[at] = queue[child];
            at = child;
        }
        sift_up(history, queue, at, last);
    }
}

/// The topological level of every commit `first` marks reached, by slot (0 for the others): 1
/// for a root, else one more than its highest parent's, so that a commit's ancestors all have
/// lower levels. `spans[slot]` says where a reached commit's parents are in `edges`; a reached
/// commit's parents are all reached. Depth first without recursion, parents before children.
/// (A commit names its parents by hash, so there are no cycles; were there one, its commits
/// would get [`Reach::NO_LEVEL`], not a wait without end.)
fn topological_levels(first: &[u32], spans: &[(u32, u32)], edges: &[Slot]) -> Vec<u32> {
    let parents_of = |slot: Slot| {
        let (start, count) = spans.get(slot as usize).copied().unwrap_or((0, 0));
        &edges[start as usize..(start + count) as usize]
    };
    let mut levels = vec![0u32; first.len()];
    let mut pending = Vec::new();
    for (start, &reached) in first.iter().enumerate() {
        if reached == Reach::UNREACHED || levels[start] != 0 {
            continue;
        }
        levels[start] = Reach::NO_LEVEL;
        pending.push(start as Slot);
        while let Some(&slot) = pending.last() {
            let parents = parents_of(slot);
            match parents.iter().find(|&&parent| levels[parent as usize] == 0) {
                Some(&parent) => {
                    levels[parent as usize] = Reach::NO_LEVEL;
                    pending.push(parent);
                }
                None => {
                    let highest = parents.iter().map(|&parent| levels[parent as usize]).max();
                    levels[slot as usize] = highest.map_or(1, |highest| highest.saturating_add(1));
                    pending.pop();
                }
            }
        }
    }
    levels
}

/// Puts `entry` at the free place `at` of the heap, or above it where it belongs.
fn sift_up(history: &History<'_>, queue: &mut [Queued], mut at: usize, entry: Queued) {
    while at > 0 {
        let up = (at - 1) / 2;
        if !before(history, &entry, &queue[up]) {
            break;
        }
        queue[at] = queue[up];
        at = up;
    }
    queue[at] = entry;
}

/// How many decoded commits a [`Searcher`] keeps between searches (24 bytes each, and their
/// parents): a quarter of a million, more than git's whole history.
const MAX_KNOWN: usize = 1 << 18;

/// Whether `a` is taken before `b` in the search's order: highest generation first, then
/// newest, then highest id, as git's and libgit2's queues order commits.
#[inline]
fn before(history: &History<'_>, a: &Queued, b: &Queued) -> bool {
    match a.key().cmp(&b.key()) {
        Ordering::Equal => by_whole_ids(history, a.slot, b.slot),
        order => order == Ordering::Greater,
    }
}

/// The order of commits whose keys tie: with a graph, unrelated commits of one generation and
/// date; without, ids that share their first eight bytes (a pusher can make some, nothing else
/// does).
#[cold]
#[inline(never)]
fn by_whole_ids(history: &History<'_>, a: Slot, b: Slot) -> bool {
    history.id_bytes(a) > history.id_bytes(b)
}

/// A commit's [`Queued::key`].
fn key(by_generation: bool, generation: u64, time: i64, id: &[u8]) -> [u64; 2] {
    // Dates as unsigned numbers in the order of the signed ones.
    let date = (time as u64) ^ (1 << 63);
    match by_generation {
        true => [generation, date],
        false => [date, head(id)],
    }
}

/// An id's first eight bytes as a number that orders as the bytes do.
fn head(id: &[u8]) -> u64 {
    let mut bytes = [0; 8];
    let len = id.len().min(8);
    bytes[..len].copy_from_slice(&id[..len]);
    u64::from_be_bytes(bytes)
}

impl Drop for Search<'_, '_> {
    /// Hands the working state on to the next search, its marks left for that one to clear.
    fn drop(&mut self) {
        let state = std::mem::take(&mut self.state);
        self.history.idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_outside_the_graph_is_read_once_for_the_run() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let tree = repo.treebuilder(None).unwrap().write().unwrap();
        let tree = repo.find_tree(tree).unwrap();
        let when =
            git2::Signature::new("Bob", "bob@example.com", &git2::Time::new(1_700_000_000, 0)).unwrap();
        let root = repo.commit(None, &when, &when, "root", &tree, &[]).unwrap();
        let root_commit = repo.find_commit(root).unwrap();
        let child = repo.commit(None, &when, &when, "child", &tree, &[&root_commit]).unwrap();
        let history = History::new(None);
        let read = history.outside_commit(&repo, child).unwrap();
        assert_eq!((read.parents, read.time, read.tree), (vec![root], 1_700_000_000, tree.id()));
        // Its object gone, the run still knows it: it is not read again.
        let hex = child.to_string();
        std::fs::remove_file(dir.path().join("objects").join(&hex[..2]).join(&hex[2..])).unwrap();
        let reopened = Repository::open_bare(dir.path()).unwrap();
        assert!(reopened.find_commit(child).is_err());
        assert_eq!(history.outside_commit(&reopened, child).unwrap().parents, vec![root]);
        // A parent is numbered when its child is read, and read when first asked for.
        assert_eq!(history.outside_commit(&repo, root).unwrap().parents, vec![]);
    }

    /// A random history of 240 commits: merges (side branches forked and merged back, merges
    /// of merges, octopuses) on a mainline of first parents. Committer dates a minute apart,
    /// or where `lying`, three a minute and now and then a day before their parents'.
    fn random_history(seed: u64, lying: bool) -> (tempfile::TempDir, Repository, Vec<Oid>) {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let tree = repo.find_tree(repo.treebuilder(None).unwrap().write().unwrap()).unwrap();
        let mut random = crate::git::random_below(seed);
        let mut commits: Vec<Oid> = Vec::new();
        for n in 0..240usize {
            let mut parents: Vec<Oid> = Vec::new();
            if n > 0 {
                // Mostly the newest as first parent (a mainline), now and then an older one.
                parents.push(commits[if random(4) == 0 { random(n) } else { n - 1 }]);
                for _ in 0..[0, 0, 1, 1, 2][random(5)] {
                    let other = commits[random(n)];
                    if !parents.contains(&other) {
                        parents.push(other);
                    }
                }
            }
            let when = match lying {
                false => 1_700_000_000 + n as i64 * 60,
                // Three commits a minute, so that bases can share a date.
                true => 1_700_000_000 + (n / 3) as i64 * 60 - [0, 0, 0, 0, 0, 86_400][random(6)],
            };
            let when = git2::Time::new(when, 0);
            let who = git2::Signature::new("Bob", "bob@example.com", &when).unwrap();
            let parents: Vec<git2::Commit<'_>> =
                parents.iter().map(|&p| repo.find_commit(p).unwrap()).collect();
            let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
            commits.push(repo.commit(None, &who, &who, &format!("c{n}"), &tree, &parents).unwrap());
        }
        drop(tree);
        (dir, repo, commits)
    }

    /// Where each place of `reach`'s chain reaches is its ancestry as libgit2 finds it.
    fn assert_reaches_ancestors(history: &History<'_>, repo: &Repository, reach: &Reach, commits: &[Oid]) {
        assert!(reach.chain.len() > 20, "a chain of {}", reach.chain.len());
        for (place, &on_chain) in reach.chain.iter().enumerate() {
            let chain_commit = history.oid(on_chain).unwrap();
            assert_eq!(reach.place(on_chain), Some(place as u32));
            for &commit in commits {
                let ancestor =
                    commit == chain_commit || repo.graph_descendant_of(chain_commit, commit).unwrap();
                assert_eq!(
                    reach.reaches(place as u32, history.slot(commit)),
                    ancestor,
                    "{commit} below {chain_commit}"
                );
            }
        }
        // Off the chain: no place.
        assert!(commits.iter().any(|&c| reach.place(history.slot(c)).is_none()));
    }

    /// With a commit-graph of the older half, as a server has after a push: what the tip's
    /// first-parent chain reaches, place by place, is each place's ancestry, and a search
    /// beside the chain finds what a whole search finds, in the same order, for commits on the
    /// chain and off it.
    #[test]
    fn a_first_parent_chain_reaches_exactly_the_ancestors_of_each_of_its_commits() {
        let (dir, repo, commits) = random_history(0x2545_f491_4f6c_dd1d, false);
        let graph = write_graph(dir.path(), &repo, &commits[..120], false);
        let history = History::new(Some(&graph));
        let tip = history.slot(commits[239]);
        let reach = history.build_reach(&repo, tip, &mut { usize::MAX }).unwrap().expect("no reads to count");
        assert_reaches_ancestors(&history, &repo, &reach, &commits);
        let mut off_chain = 0;
        for &commit in &commits {
            let one = history.slot(commit);
            let mut search = Search::new(&history, &repo);
            let Some(place) = search.meeting(&reach, one).unwrap() else { continue };
            off_chain += usize::from(reach.place(one).is_none());
            for &other in commits.iter().step_by(7) {
                let two = history.slot(other);
                let whole = search.paint(one, &[two]).unwrap();
                let beside = search.paint_beside(&reach, place, one, two).unwrap();
                assert_eq!(beside, Some(whole), "bases of {commit} and {other}");
            }
        }
        assert!(off_chain > 50, "{off_chain} commits off the chain");
    }

    /// Without a graph, where committer dates lie: the chain is built within the reads it is
    /// given, or not; the searches go by date, and a search beside the chain leads to the merge
    /// base a whole search leads to, for every pair, those with several best bases included.
    #[test]
    fn without_a_graph_a_base_found_beside_the_chain_is_the_whole_search_s_where_dates_lie() {
        // A history where, without the whole search done again, 20 pairs get another base.
        let (_dir, repo, commits) = random_history(0x6a99_b4b1_f77d_d0fc, true);
        let history = History::new(None);
        let tip = history.slot(commits[239]);
        // Built within a number of reads, or not at all; what it read is kept for the next try.
        let mut walk = repo.revwalk().unwrap();
        walk.push(commits[239]).unwrap();
        let ancestry = walk.count();
        assert!(ancestry > 50, "{ancestry} ancestors");
        let mut reads = ancestry / 2;
        assert!(history.build_reach(&repo, tip, &mut reads).unwrap().is_none());
        assert_eq!(reads, 0);
        let mut reads = ancestry - ancestry / 2;
        let reach = history.build_reach(&repo, tip, &mut reads).unwrap().expect("within its reads");
        assert_eq!(reads, 0);
        assert_reaches_ancestors(&history, &repo, &reach, &commits);
        let (mut several, mut off_chain) = (0, 0);
        for &commit in &commits {
            let one = history.slot(commit);
            for &other in &commits {
                let two = history.slot(other);
                let mut search = Search::new(&history, &repo);
                let found = search.paint(one, &[two]).unwrap();
                let fresh: Vec<Slot> =
                    found.iter().copied().filter(|&slot| search.flags_of(slot) & STALE == 0).collect();
                several += usize::from(search.remove_redundant(fresh).unwrap().len() > 1);
                let found = search.paint(one, &[two]).unwrap();
                let whole = search.best(None, found).unwrap();
                let Some(beside) = search.base_beside(&reach, one, two).unwrap() else { continue };
                off_chain += usize::from(reach.place(one).is_none());
                assert_eq!(beside, whole, "base of {commit} and {other}");
            }
        }
        assert!(
            several > 10 && off_chain > 1000,
            "{several} pairs with several bases, {off_chain} off the chain"
        );
    }

    /// Writes a commit-graph of `commits` (of levels alone, as git wrote before 2.31, where
    /// `levels_only`), and opens it.
    fn write_graph(
        dir: &std::path::Path,
        repo: &Repository,
        commits: &[Oid],
        levels_only: bool,
    ) -> CommitGraph {
        let ids: String = commits.iter().map(|id| format!("{id}\n")).collect();
        let version = if levels_only { "1" } else { "2" };
        let mut child = std::process::Command::new("git")
            .args(["-c", &format!("commitGraph.generationVersion={version}")])
            .args(["commit-graph", "write", "--stdin-commits"])
            .env("GIT_DIR", dir)
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), ids.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
        CommitGraph::open(repo).expect("a graph")
    }

    /// Without a graph, the levels the chain numbers are those git writes in its commit-graph,
    /// for every commit the chain reaches and none other.
    #[test]
    fn without_a_graph_the_chain_numbers_the_levels_git_writes() {
        let (dir, repo, commits) = random_history(0x1f83_d9ab_fb41_bd6b, true);
        let history = History::new(None);
        let reach =
            history.build_reach(&repo, history.slot(commits[239]), &mut { usize::MAX }).unwrap().unwrap();
        let graph = write_graph(dir.path(), &repo, &commits, false);
        let mut reached = 0;
        for &commit in &commits {
            let slot = history.slot(commit);
            match reach.reaches(reach.chain.len() as u32 - 1, slot) {
                true => {
                    reached += 1;
                    let expected = u64::from(graph.get(commit).unwrap().generation());
                    assert_eq!(reach.level(slot), Some(expected), "{commit}");
                }
                false => assert_eq!(reach.level(slot), None, "{commit}"),
            }
        }
        assert!(reached > 100 && reached < commits.len(), "{reached} reached");
    }

    /// Which candidates no other reaches, found in one walk down to the lowest generation, is
    /// what painting down from each in turn finds, in the same order: by corrected dates, by
    /// levels from a graph, and by the levels the chain numbers without one.
    #[test]
    fn candidates_no_other_reaches_are_found_by_generation_as_by_painting() {
        let (dir, repo, commits) = random_history(0x5851_f42d_4c95_7f2d, true);
        let mut random = crate::git::random_below(0x1405_7b7e_f767_814f);
        let graphs = [Some(false), Some(true), None].map(|levels_only| {
            levels_only.map(|levels_only| {
                let graph = write_graph(dir.path(), &repo, &commits, levels_only);
                std::fs::remove_file(dir.path().join("objects/info/commit-graph")).unwrap();
                graph
            })
        });
        for graph in &graphs {
            let history = History::new(graph.as_ref());
            let reach =
                history.build_reach(&repo, history.slot(commits[239]), &mut { usize::MAX }).unwrap().unwrap();
            let (mut dropped, mut several) = (0, 0);
            for _ in 0..400 {
                // Among the newest half, which the tip's chain reaches most of.
                let mut candidates: Vec<Slot> = Vec::new();
                for _ in 0..2 + random(4) {
                    let slot = history.slot(commits[120 + random(120)]);
                    if !candidates.contains(&slot) && reach.reaches(reach.chain.len() as u32 - 1, slot) {
                        candidates.push(slot);
                    }
                }
                let mut search = Search::new(&history, &repo);
                let by_generation = search.independent(Some(&reach), &candidates).unwrap();
                let by_painting = search.remove_redundant(candidates.clone()).unwrap();
                assert_eq!(by_generation, Some(by_painting.clone()), "{candidates:?}");
                dropped += usize::from(by_painting.len() < candidates.len());
                several += usize::from(by_painting.len() > 1);
            }
            assert!(dropped > 50 && several > 50, "{dropped} dropped, {several} several");
        }
    }

    /// The queue hands out commits in git's order whatever the order they came in, commits of
    /// one generation and date by id, ids that share their first eight bytes included (no
    /// history a test can make has those); with generations and without; a commit queued in
    /// the place of one taken as well as one queued alone.
    #[test]
    fn the_queue_takes_commits_in_git_s_order() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init_bare(dir.path()).unwrap();
        let mut random = crate::git::random_below(0x9e37_79b9_7f4a_7c15);
        let mut next = move |below: u64| random(below as usize) as u64;
        for by_generation in [true, false] {
            let history = History::new(None);
            let mut search = Search::new(&history, &repo);
            search.by_generation = by_generation;
            let mut waiting: Vec<(u64, i64, [u8; 32], Slot)> = Vec::new();
            // What the queue must hand out next: the first of those waiting.
            let first = |waiting: &mut Vec<(u64, i64, [u8; 32], Slot)>| {
                let best = waiting.iter().enumerate().max_by_key(|(_, w)| (w.0, w.1, w.2)).map(|(i, _)| i);
                best.map(|at| waiting.swap_remove(at).3)
            };
            let (mut taken, mut in_place) = (0, 0);
            for i in 0u32..3000 {
                let mut bytes = [0u8; 20];
                bytes.iter_mut().for_each(|b| *b = next(256) as u8);
                if i % 3 == 0 {
                    bytes[..8].copy_from_slice(b"samehead");
                }
                bytes[16..].copy_from_slice(&i.to_be_bytes());
                let slot = history.slot(Oid::from_bytes(&bytes).unwrap());
                let generation = if by_generation { next(3) } else { 0 };
                // Dates either side of 1970, some far.
                let time = [-(1 << 40), -1, 0, 1, 1 << 40][next(5) as usize];
                let known = Known { key: key(by_generation, generation, time, &bytes), parents: 0, count: 0 };
                assert_eq!(search.time(known.key), time);
                search.state.known.push(known);
                search.state.index.resize(slot as usize + 1, 0);
                search.state.index[slot as usize] = search.state.known.len() as u32;
                let at = search.state.known.len() as u32 - 1;
                // Now and then in the place of one taken, as a search queues a parent.
                let place = !waiting.is_empty() && next(2) == 0;
                if place {
                    assert_eq!(search.take().map(|q| q.slot), first(&mut waiting));
                    in_place += 1;
                }
                search.push(Queued { key: known.key, slot, known: at });
                search.fill();
                waiting.push((generation, time, padded(&bytes), slot));
                // Now and then take some, their places left to close.
                for _ in 0..next(2) {
                    assert_eq!(search.take().map(|q| q.slot), first(&mut waiting));
                    search.fill();
                    taken += 1;
                }
            }
            while let Some(expected) = first(&mut waiting) {
                assert_eq!(search.take().map(|q| q.slot), Some(expected));
                search.fill();
            }
            assert!(search.take().is_none());
            assert!(taken > 1000 && in_place > 1000, "{taken} {in_place}");
        }
    }
}
