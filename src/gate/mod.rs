//! A push, judged: the ref updates git hands the pre-receive hook, each checked against the
//! gate (protected refs, deletions, force pushes, the committed policy) and its new commits
//! against the rules. [`Judge`] is shared with the CI check, so both judge commits alike.

pub mod breakglass;
mod judge;
pub mod recording;

use std::time::{Duration, Instant};

use git2::{Oid, Repository};

use crate::git::commit_graph::CommitGraph;
use crate::git::notes::Notes;
use crate::git::policy_source::{self, Location, LookupError};
use crate::git::ref_updates::{self, RefUpdate, Refusal};
use crate::git::selection::{self, Movement};
use crate::report::{Problem, RefReport, Report};
use engine::policy::{Policy, PolicySource};
use engine::pusher::Pusher;
use engine::verdict::Engine;

pub use self::judge::{Judge, Judged, Keep, Opener};

/// Judges every update of a push, as git will carry it out ([`ref_updates::resolve`]).
/// `location` is where the policy came from: when it is committed on a ref, that ref is always
/// protected (whoever rewrites the policy rewrites the gate), and a push that changes the file
/// there must leave a valid policy.
pub fn judge_push(
    repo: &Repository,
    open: Opener<'_>,
    engine: &Engine<'_>,
    location: &Location,
    updates: &[RefUpdate],
    pusher: &Pusher,
    keep: Keep,
) -> Result<Report, LookupError> {
    let started = Instant::now();
    let policy = engine.policy();
    let committed_at = match location {
        Location::Committed { refname, .. } => Some(refname.as_str()),
        Location::File(_) => None,
    };
    let replace_base = std::env::var("GIT_REPLACE_REF_BASE").ok().filter(|base| !base.is_empty());
    let resolution = ref_updates::resolve(repo, policy, committed_at, updates, replace_base.as_deref())?;
    let hidden: Vec<Vec<Oid>> = resolution
        .landings
        .iter()
        .map(|landing| already_judged(policy, &resolution.protected_tips, &landing.names))
        .collect();
    let judged_everywhere: Vec<Oid> = resolution
        .protected_tips
        .iter()
        .map(|(_, tip)| *tip)
        .filter(|tip| hidden.iter().all(|h| h.contains(tip)))
        .collect();
    let graph = CommitGraph::open(repo);
    let graph = graph.as_ref();
    let baseline = selection::baseline(repo, graph, &policy.gate.baseline, &judged_everywhere)?;
    let deadline = started + Duration::from_secs_f64(policy.gate.max_seconds);
    // Facts are shared only when several refs may bring the same commits.
    let judged_refs = resolution
        .landings
        .iter()
        .filter(|landing| landing.protected && !landing.update.new.is_zero())
        .count();
    let pushed: Vec<(&str, Oid)> = updates.iter().map(|u| (u.refname.as_str(), u.new)).collect();
    let mut judge = Judge::new(repo, graph, open, engine, baseline, judged_refs > 1)
        .with_notes(Notes::pushed(repo, &policy.provenance.notes, &pushed))
        .with_limits(policy.gate.max_commits, deadline)
        .keeping(keep);
    let mut refs = Vec::with_capacity(updates.len());
    for (landing, hidden) in resolution.landings.iter().zip(&hidden) {
        let update = &landing.update;
        let mut report = RefReport::new(&update.refname, update.old, update.new);
        if landing.writes != update.refname {
            report.note = Some(format!("symbolic ref to {}", landing.writes));
        }
        report.writes = landing.writes.clone();
        if let Some(refusal) = &landing.refused {
            report.problems.push(match refusal {
                Refusal::BrokenSymref => Problem::BrokenSymref,
                Refusal::ReplaceRef { base } => Problem::ReplaceRefRefused { base: base.clone() },
            });
        }
        if landing.records_approval {
            if let Some(why) = recording::check_record(repo, policy, pusher, update, &landing.writes)? {
                report.problems.push(Problem::ApprovalRefused(why));
            }
            report.note = Some("records an approval".into());
            refs.push(report);
            continue;
        }
        let written = RefUpdate { refname: landing.writes.clone(), ..update.clone() };
        if let Some(problem) =
            committed_policy_change(repo, engine, location, landing.holds_policy, &written)?
        {
            report.problems.push(problem);
        }
        if !landing.protected {
            report.note.get_or_insert_with(|| "not a protected ref".into());
            refs.push(report);
            continue;
        }
        match selection::movement(repo, &judge.history(), update.old, update.new)? {
            Movement::Delete => {
                if !policy.gate.allow_delete || landing.holds_policy {
                    report.problems.push(Problem::DeleteRefused);
                }
                refs.push(report);
                continue;
            }
            Movement::Rewrite if !policy.gate.allow_force_push || landing.holds_policy => {
                report.problems.push(Problem::ForcePushRefused)
            }
            _ => {}
        }
        match selection::peel_to_commit(repo, update.new)? {
            Some(tip) => {
                let commits = selection::walk_lazily(repo, judge.history(), &[tip], hidden)?;
                // No progress line: the hook's stderr is the pusher's screen.
                judge.judge(commits, &landing.names, &mut |_| {})?.record(&mut report);
            }
            // A tree or blob would land content that no commit, hence no approval, carries.
            None => report.problems.push(Problem::NotACommit),
        }
        add_sign_off_problem(&mut report);
        refs.push(report);
    }
    Ok(Report::new(policy, refs))
}

/// The protected tips whose commits need no new judgement on a ref reached by `names`: those
/// of refs where every rule that applies there applied too. Without `when.refs` that is every
/// protected ref (SPEC); with it, a commit that landed first on a ref with fewer rules is
/// judged again when it reaches a ref with more.
fn already_judged(policy: &Policy, tips: &[(Vec<String>, Oid)], names: &[String]) -> Vec<Oid> {
    let applies_on = |names: &[String]| -> Vec<bool> {
        policy
            .rules
            .iter()
            .map(|rule| {
                rule.when.refs.as_ref().is_none_or(|refs| names.iter().any(|name| refs.is_match(name)))
            })
            .collect()
    };
    let needed = applies_on(names);
    let mut hidden: Vec<Oid> = tips
        .iter()
        .filter(|(names, _)| applies_on(names).iter().zip(&needed).all(|(had, need)| *had || !*need))
        .map(|(_, tip)| *tip)
        .collect();
    hidden.sort();
    hidden.dedup();
    hidden
}

/// Records how many commits of a ref fail, if any do.
pub fn add_sign_off_problem(report: &mut RefReport) {
    let failing = report.failing();
    if failing > 0 {
        report.problems.push(Problem::LacksSignOff { failing, total: report.judged() });
    }
}

/// A push that changes the committed policy on its own ref (`holds_policy`: `update` writes
/// that ref) must leave a valid policy there. (The push itself is still judged by the policy
/// as it was before.)
pub fn committed_policy_change(
    repo: &Repository,
    engine: &Engine<'_>,
    location: &Location,
    holds_policy: bool,
    update: &RefUpdate,
) -> Result<Option<Problem>, LookupError> {
    let Location::Committed { refname, path } = location else { return Ok(None) };
    if !holds_policy || update.new.is_zero() {
        return Ok(None);
    }
    let Some(new) = selection::peel_to_commit(repo, update.new)? else { return Ok(None) };
    let old_commit = if update.old.is_zero() { None } else { selection::peel_to_commit(repo, update.old)? };
    let old = match old_commit {
        Some(commit) => policy_source::committed_blob(repo, commit, path)?,
        None => None,
    };
    if policy_source::committed_blob(repo, new, path)? == old {
        return Ok(None);
    }
    let label = format!("{refname}:{path} as pushed");
    let Some(text) = policy_source::committed_text(repo, new, path)? else {
        return Ok(Some(Problem::PolicyInvalid(format!("the push removes the policy file {label}"))));
    };
    match Policy::parse(PolicySource::new(label, text), engine.today()) {
        Ok(_) => Ok(None),
        Err(e) => Ok(Some(Problem::PolicyInvalid(e.to_string()))),
    }
}
