//! Commits judged: read from git once, judged against the rules of every name the ref is
//! pushed under, on every core, within the policy's limits (commits, seconds). Shared by the
//! hook and `check`, so both judge commits alike.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use git2::{Oid, Repository};

use crate::git::ancestry::History;
use crate::git::changes::{self, Detail, PathScope, Trees};
use crate::git::commit::CommitObject;
use crate::git::commit_graph::CommitGraph;
use crate::git::error::GitError;
use crate::git::notes::Notes;
use crate::git::recorded::Lookup;
use crate::git::repo::{self, Key, PatchIds};
use crate::report::{Problem, RefReport, Unlisted};
use engine::facts::{Changes, CommitFacts};
use engine::verdict::{CommitStatus, CommitVerdict, Engine};

/// Opens another handle on the repository being judged, for a thread of its own (libgit2
/// handles are not shared between threads). In a hook it must see the quarantined objects too.
pub type Opener<'a> = &'a (dyn Fn() -> Result<Repository, GitError> + Sync);

/// Commits handed to a thread at a time: enough to outweigh the hand-over, few enough that a
/// one-commit push never starts a thread.
pub(super) const BATCH: usize = 256;

/// Past this many threads the pack's lock, not the cores, sets the pace; and a busy server
/// runs many pushes at once.
pub(super) const MAX_THREADS: usize = 8;

/// Reads and judges commits, reading trees only where that can change what is reported (see
/// `Rules::judge`).
///
/// Commits are judged as the walk finds them: batches go to one thread per core, each reading
/// through its own handle, while this thread walks on; verdicts come back in walk order.
pub struct Judge<'a> {
    repo: &'a Repository,
    open: Opener<'a>,
    trees: Trees<'a>,
    rules: Rules<'a>,
    /// Facts kept for commits that several refs of one push bring, read once. `None` when one
    /// ref is judged: keeping 100,000 commits' facts would only cost memory.
    shared: Option<HashMap<Key, CommitFacts>>,
    max_commits: Option<usize>,
}

/// Which verdicts a report keeps in full; the others it only counts ([`RefReport::unlisted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Every verdict: for JSON, Markdown and the audit log.
    All,
    /// Every commit with findings (a break-glass override weighs each failing one).
    Findings,
    /// The first this many commits with findings, in walk order: all a human report shows.
    FirstFindings(usize),
}

/// What every thread judges by; shared, read-only.
pub(super) struct Rules<'a> {
    engine: &'a Engine<'a>,
    patch_ids: PatchIds,
    /// Where the approvals recorded for a change are found, when a rule counts them.
    recorded: Option<Lookup>,
    needs_git_signature: bool,
    /// The paths any active rule's `when.paths` can match: no other path is ever read.
    path_scope: PathScope,
    baseline: HashSet<Key>,
    deadline: Option<Instant>,
    keep: Keep,
    /// Set when one thread's batch fails, so the others stop too.
    stop: AtomicBool,
    /// The `[provenance] notes` to read for each commit.
    notes: Notes,
}

/// The verdicts, in walk order; or, when a limit cut judging short, the problem and none.
#[derive(Default)]
pub struct Judged {
    pub verdicts: Vec<CommitVerdict>,
    /// Commits counted, not kept ([`Keep`]).
    pub unlisted: Unlisted,
    pub cut: Option<Problem>,
}

impl Judged {
    /// Adds a commit judged `status`: where the report keeps it, its verdict in full, made only
    /// then; else a count.
    fn add<E>(
        &mut self,
        status: CommitStatus,
        keep: Keep,
        verdict: impl FnOnce() -> Result<CommitVerdict, E>,
    ) -> Result<(), E> {
        match self.keeps(status, keep) {
            true => self.verdicts.push(verdict()?),
            false => self.unlisted.count(status),
        }
        Ok(())
    }

    /// Whether a verdict of `status`, added next, would be kept in full.
    fn keeps(&self, status: CommitStatus, keep: Keep) -> bool {
        match keep {
            Keep::All => true,
            Keep::Findings => status != CommitStatus::Pass,
            Keep::FirstFindings(n) => status != CommitStatus::Pass && self.verdicts.len() < n,
        }
    }

    /// Appends `later`, judged after these, as if added one by one.
    fn extend(&mut self, later: Judged, keep: Keep) {
        for verdict in later.verdicts {
            let Ok(()) = self.add(verdict.verdict, keep, || Ok::<_, Infallible>(verdict));
        }
        self.unlisted.add(later.unlisted);
    }

    fn len(&self) -> usize {
        self.verdicts.len() + self.unlisted.total()
    }

    /// Records what it judged on `report`.
    pub fn record(self, report: &mut RefReport) {
        report.commits = self.verdicts;
        report.unlisted = self.unlisted;
        report.problems.extend(self.cut);
    }
}

/// Why a batch stopped short.
pub(super) enum Stop {
    Git(GitError),
    TooMany,
    OutOfTime,
    /// Another batch stopped first (its reason is the one reported).
    Abandoned,
}

impl From<GitError> for Stop {
    fn from(e: GitError) -> Self {
        Stop::Git(e)
    }
}

impl<'a> Judge<'a> {
    /// `baseline`: the commits exempt as history that predates the gate. `several_refs`: keep
    /// facts for commits that more than one ref brings.
    pub fn new(
        repo: &'a Repository,
        graph: Option<&'a CommitGraph>,
        open: Opener<'a>,
        engine: &'a Engine<'a>,
        baseline: HashSet<Key>,
        several_refs: bool,
    ) -> Self {
        let policy = engine.policy();
        let today = engine.today();
        let path_globs =
            policy.rules.iter().filter(|r| r.is_active(today)).filter_map(|r| r.when.paths.clone()).collect();
        Judge {
            repo,
            open,
            trees: Trees::new(repo, graph),
            rules: Rules {
                engine,
                patch_ids: match (policy.records_approvals(), policy.needs_patch_ids(today)) {
                    (true, _) => PatchIds::Always,
                    (false, true) => PatchIds::WhenSigned,
                    (false, false) => PatchIds::Never,
                },
                recorded: policy.records_approvals().then(|| Lookup::new(repo)),
                needs_git_signature: policy.needs_git_signatures(),
                path_scope: PathScope::matching(path_globs),
                baseline,
                deadline: None,
                keep: Keep::All,
                stop: AtomicBool::new(false),
                notes: Notes::default(),
            },
            shared: several_refs.then(HashMap::new),
            max_commits: None,
        }
    }

    /// What the run has learned of the history, for other questions about it.
    pub fn history(&self) -> Arc<History<'a>> {
        self.trees.history()
    }

    /// Count some commits instead of keeping their verdicts.
    pub fn keeping(mut self, keep: Keep) -> Self {
        self.rules.keep = keep;
        self
    }

    /// Reads each commit's notes under these notes refs.
    pub fn with_notes(mut self, notes: Notes) -> Self {
        self.rules.notes = notes;
        self
    }

    /// The push's limits: at most `max_commits` per ref, everything judged by `deadline`.
    pub fn with_limits(mut self, max_commits: usize, deadline: Instant) -> Self {
        self.max_commits = Some(max_commits);
        self.rules.deadline = Some(deadline);
        self
    }

    /// Judges `commits` as if landing on a ref reached by each of `names` (a ref and its
    /// symbolic aliases: the rules of every one apply). `progress` hears how many are judged.
    pub fn judge(
        &mut self,
        commits: impl Iterator<Item = Result<Oid, GitError>>,
        names: &[String],
        progress: &mut dyn FnMut(usize),
    ) -> Result<Judged, GitError> {
        let threads = match self.shared {
            Some(_) => 1,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_THREADS),
        };
        let gate = &self.rules.engine.policy().gate;
        let outcome = if threads > 1 {
            self.judge_in_threads(commits, names, threads, progress)
        } else {
            self.judge_here(commits, names, progress)
        };
        let cut = match outcome {
            Ok(judged) => return Ok(judged),
            Err(Stop::Git(e)) => return Err(e),
            Err(Stop::TooMany) => Problem::TooManyCommits { limit: gate.max_commits },
            // Never reported first; were it, refusing is the safe reading.
            Err(Stop::OutOfTime | Stop::Abandoned) => {
                Problem::OutOfTime { budget: Duration::from_secs_f64(gate.max_seconds) }
            }
        };
        Ok(Judged { cut: Some(cut), ..Judged::default() })
    }

    fn judge_here(
        &mut self,
        commits: impl Iterator<Item = Result<Oid, GitError>>,
        names: &[String],
        progress: &mut dyn FnMut(usize),
    ) -> Result<Judged, Stop> {
        let mut judged = Judged::default();
        for oid in commits {
            let oid = oid?;
            if self.max_commits.is_some_and(|limit| judged.len() >= limit) {
                return Err(Stop::TooMany);
            }
            self.rules.keep_going()?;
            let commit = self.trees.commit(oid)?;
            let mut facts = match self.shared.as_mut().and_then(|shared| shared.remove(&Key(oid))) {
                Some(facts) => facts,
                None => self.rules.read(self.repo, &commit)?,
            };
            // Facts kept for another ref keep every path: that ref may list the verdict.
            let detail = if self.shared.is_some() { Detail::Paths } else { self.rules.detail() };
            let status = self.rules.judge(&mut self.trees, &commit, &mut facts, names, detail, &judged)?;
            self.rules.add_verdict(self.repo, &commit, &mut facts, names, status, &mut judged)?;
            if let Some(shared) = &mut self.shared {
                shared.insert(Key(oid), facts);
            }
            progress(judged.len());
        }
        Ok(judged)
    }

    /// This thread walks and hands out batches; the first full batch starts the threads, so a
    /// short list is judged right here.
    fn judge_in_threads(
        &mut self,
        commits: impl Iterator<Item = Result<Oid, GitError>>,
        names: &[String],
        threads: usize,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Judged, Stop> {
        let Judge { repo, open, trees, rules, max_commits, .. } = self;
        rules.stop.store(false, Ordering::Relaxed);
        let (rules, open, history) = (&*rules, *open, trees.history());
        let done = AtomicUsize::new(0);
        let (job_tx, job_rx) = mpsc::channel::<(usize, Vec<Oid>)>();
        let job_rx = Mutex::new(job_rx);
        let (result_tx, result_rx) = mpsc::channel();
        std::thread::scope(|scope| {
            let mut started = false;
            let mut workers = 0;
            // Judged here when no thread could be started (a server out of threads).
            let mut here = Judged::default();
            let mut batch = Vec::with_capacity(BATCH);
            let mut sent = 0;
            let mut walked = Ok(());
            for (index, oid) in commits.enumerate() {
                let oid = match oid {
                    Ok(oid) => oid,
                    Err(e) => {
                        walked = Err(Stop::Git(e));
                        break;
                    }
                };
                if max_commits.is_some_and(|limit| index >= limit) {
                    walked = Err(Stop::TooMany);
                    break;
                }
                batch.push(oid);
                if batch.len() < BATCH {
                    continue;
                }
                if !started {
                    started = true;
                    for _ in 0..threads {
                        let (job_rx, result_tx, done) = (&job_rx, result_tx.clone(), &done);
                        let history = Arc::clone(&history);
                        let spawned = std::thread::Builder::new().spawn_scoped(scope, move || {
                            let Ok(repo) =
                                open().map_err(|e| result_tx.send((usize::MAX, Err(Stop::Git(e)))))
                            else {
                                return;
                            };
                            let mut trees = Trees::sharing(&repo, history);
                            while let Ok((index, batch)) =
                                job_rx.lock().map_or(Err(mpsc::RecvError), |rx| rx.recv())
                            {
                                let verdicts = rules.judge_batch(&repo, &mut trees, &batch, names, done);
                                if verdicts.is_err() {
                                    rules.stop.store(true, Ordering::Relaxed);
                                }
                                if result_tx.send((index, verdicts)).is_err() {
                                    return;
                                }
                            }
                        });
                        workers += usize::from(spawned.is_ok());
                    }
                }
                let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                if workers == 0 {
                    let judged = rules.judge_batch(repo, trees, &full, names, &done)?;
                    here.extend(judged, rules.keep);
                    progress(here.len());
                    continue;
                }
                let _ = job_tx.send((sent, full));
                sent += 1;
                progress(done.load(Ordering::Relaxed));
            }
            if let Err(stop) = walked {
                rules.stop.store(true, Ordering::Relaxed);
                return Err(stop);
            }
            if workers == 0 {
                // Short enough for this thread alone (or no thread could start), with the
                // tree cache it already has.
                let judged = rules.judge_batch(repo, trees, &batch, names, &done)?;
                here.extend(judged, rules.keep);
                progress(here.len());
                return Ok(here);
            }
            if !batch.is_empty() {
                let _ = job_tx.send((sent, batch));
                sent += 1;
            }
            drop(job_tx);
            drop(result_tx);
            let mut batches: Vec<Option<Judged>> = (0..sent).map(|_| None).collect();
            for (index, judged) in result_rx.iter().take(sent) {
                match judged {
                    Ok(judged) => batches[index] = Some(judged),
                    Err(stop) => {
                        rules.stop.store(true, Ordering::Relaxed);
                        return Err(stop);
                    }
                }
                progress(done.load(Ordering::Relaxed));
            }
            let mut judged = Judged::default();
            for batch in batches {
                // A batch whose thread died: its panic is raised when the scope ends.
                let Some(batch) = batch else { return Err(Stop::Abandoned) };
                judged.extend(batch, rules.keep);
            }
            Ok(judged)
        })
    }
}

impl Rules<'_> {
    fn keep_going(&self) -> Result<(), Stop> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(Stop::Abandoned);
        }
        match self.deadline {
            Some(deadline) if Instant::now() > deadline => Err(Stop::OutOfTime),
            _ => Ok(()),
        }
    }

    fn judge_batch(
        &self,
        repo: &Repository,
        trees: &mut Trees<'_>,
        batch: &[Oid],
        names: &[String],
        done: &AtomicUsize,
    ) -> Result<Judged, Stop> {
        let mut judged = Judged::default();
        for &oid in batch {
            self.keep_going()?;
            let commit = trees.commit(oid)?;
            let mut facts = self.read(repo, &commit)?;
            let status = self.judge(trees, &commit, &mut facts, names, self.detail(), &judged)?;
            self.add_verdict(repo, &commit, &mut facts, names, status, &mut judged)?;
            done.fetch_add(1, Ordering::Relaxed);
        }
        Ok(judged)
    }

    /// A commit's facts, all but what it changed.
    fn read(&self, repo: &Repository, commit: &CommitObject) -> Result<CommitFacts, GitError> {
        let in_baseline = self.baseline.contains(&Key(commit.id));
        let mut facts =
            repo::read_commit(repo, commit, self.patch_ids, self.needs_git_signature, in_baseline)?;
        if let (Some(lookup), Some(patch_id)) = (&self.recorded, &facts.patch_id) {
            facts.recorded = lookup.for_patch_id(patch_id)?;
        }
        facts.notes = self.notes.read(repo, commit.id);
        Ok(facts)
    }

    /// A failing verdict, judged again with the approvals recorded for earlier versions of the
    /// change, so the report says why they no longer count.
    fn with_stale_approvals(
        &self,
        repo: &Repository,
        commit: &CommitObject,
        facts: &mut CommitFacts,
        names: &[String],
        verdict: CommitVerdict,
    ) -> Result<CommitVerdict, GitError> {
        let (Some(lookup), Some(patch_id)) = (&self.recorded, &facts.patch_id) else { return Ok(verdict) };
        if verdict.verdict != CommitStatus::Fail {
            return Ok(verdict);
        }
        facts.stale = lookup.stale_for(repo, commit.id, patch_id)?;
        Ok(if facts.stale.is_empty() { verdict } else { self.engine.judge(facts, names) })
    }

    /// How finely paths are read at first: all of them when every verdict is listed.
    fn detail(&self) -> Detail {
        if self.keep == Keep::All { Detail::Paths } else { Detail::Verdict }
    }

    /// Judges a commit on the ref `names` reach, to be added to `judged`, reading what it changed only
    /// where that could change what is reported: its paths if a rule that looks at paths could
    /// apply (every one only if its verdict is kept: `detail`), and, for a merge, whether it
    /// introduces anything at all (one that does not is exempt) unless it passes anyway and
    /// passing verdicts are only counted.
    fn judge(
        &self,
        trees: &mut Trees<'_>,
        commit: &CommitObject,
        facts: &mut CommitFacts,
        names: &[String],
        detail: Detail,
        judged: &Judged,
    ) -> Result<CommitStatus, GitError> {
        if facts.changes == Changes::NotNeeded && self.engine.needs_paths(facts, names) {
            let paths = changes::changed_paths(trees, commit, &self.path_scope, detail)?;
            facts.changes = Changes::Paths(paths);
            // A merge's walk lists every path whatever the detail (`changes::walk_changes`).
            let summarized = detail == Detail::Verdict && commit.parents.len() < 2;
            if summarized && judged.keeps(self.engine.status(facts, names), self.keep) {
                let paths = changes::changed_paths(trees, commit, &self.path_scope, Detail::Paths)?;
                facts.changes = Changes::Paths(paths);
            }
        }
        let status = self.engine.status(facts, names);
        let exemption_moot = status == CommitStatus::Pass && self.keep != Keep::All;
        if facts.clean_merge || facts.in_baseline || exemption_moot {
            return Ok(status);
        }
        // A path the rules' walk found is one the merge introduced.
        let introduced_some = matches!(&facts.changes, Changes::Paths(paths) if !paths.is_empty());
        if commit.parents.len() < 2 || introduced_some || changes::merge_introduces_any(trees, commit)? {
            return Ok(status);
        }
        facts.clean_merge = true;
        Ok(self.engine.status(facts, names))
    }

    /// Adds a commit judged `status` to `judged`, written out in full only if the report keeps it.
    fn add_verdict(
        &self,
        repo: &Repository,
        commit: &CommitObject,
        facts: &mut CommitFacts,
        names: &[String],
        status: CommitStatus,
        judged: &mut Judged,
    ) -> Result<(), GitError> {
        judged.add(status, self.keep, || {
            let verdict = self.engine.judge(facts, names);
            self.with_stale_approvals(repo, commit, facts, names, verdict)
        })
    }
}
