//! A push, judged: the ref updates git hands the pre-receive hook, each checked against the
//! gate (protected refs, deletions, force pushes) and its new commits against the rules.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use git2::{Oid, Repository};

use crate::facts::CommitFacts;
use crate::repo::{self, GitError};
use crate::report::{Problem, RefReport, Report};
use crate::selection::{self, Movement};
use crate::verdict::{CommitStatus, Engine};

/// One `<old> <new> <refname>` line of pre-receive's standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    pub old: Oid,
    pub new: Oid,
    pub refname: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("line {line} of the hook's input is not `<old> <new> <refname>`: {text:?}")]
    Malformed { line: usize, text: String },
    #[error("the hook's input holds no ref update")]
    Empty,
}

/// Parses the hook's standard input; any malformed line refuses the whole push.
pub fn parse_updates(input: &str) -> Result<Vec<RefUpdate>, InputError> {
    let mut updates = Vec::new();
    for (index, line) in input.lines().enumerate() {
        if line.is_empty() {
            continue;
        }
        let malformed = || InputError::Malformed { line: index + 1, text: line.chars().take(200).collect() };
        let mut fields = line.splitn(3, ' ');
        let (Some(old), Some(new), Some(refname)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(malformed());
        };
        let is_hex_id = |s: &str| matches!(s.len(), 40 | 64) && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !is_hex_id(old) || !is_hex_id(new) || refname.is_empty() {
            return Err(malformed());
        }
        let parse = |s: &str| Oid::from_str(s).map_err(|_| malformed());
        updates.push(RefUpdate { old: parse(old)?, new: parse(new)?, refname: refname.to_string() });
    }
    if updates.is_empty() {
        return Err(InputError::Empty);
    }
    Ok(updates)
}

/// Judges every update of a push. Commits shared by several updates are read once.
pub fn judge_push(repo: &Repository, engine: &Engine<'_>, updates: &[RefUpdate]) -> Result<Report, GitError> {
    let policy = engine.policy();
    let needs_paths = policy.needs_paths(engine.today());
    let hidden = selection::protected_tips(repo, &policy.gate.protected)?;
    let mut facts: HashMap<Oid, CommitFacts> = HashMap::new();
    let mut refs = Vec::with_capacity(updates.len());
    for update in updates {
        let mut report = RefReport::new(&update.refname, update.old, update.new);
        if !policy.gate.protected.is_match(&update.refname) {
            report.note = Some("not a protected ref".into());
            refs.push(report);
            continue;
        }
        match selection::movement(repo, update.old, update.new)? {
            Movement::Delete => {
                if !policy.gate.allow_delete {
                    report.problems.push(Problem::DeleteRefused);
                }
                refs.push(report);
                continue;
            }
            Movement::Rewrite if !policy.gate.allow_force_push => {
                report.problems.push(Problem::ForcePushRefused)
            }
            _ => {}
        }
        if let Some(tip) = selection::peel_to_commit(repo, update.new)? {
            for oid in selection::new_commits(repo, tip, &hidden)? {
                let commit = match facts.entry(oid) {
                    Entry::Occupied(entry) => entry.into_mut(),
                    Entry::Vacant(entry) => entry.insert(repo::read_commit(repo, oid, needs_paths)?),
                };
                report.commits.push(engine.judge(commit, &update.refname));
            }
        }
        let failing = report.commits.iter().filter(|c| c.verdict == CommitStatus::Fail).count();
        if failing > 0 {
            report.problems.push(Problem::LacksSignOff { failing, total: report.commits.len() });
        }
        refs.push(report);
    }
    Ok(Report::new(policy, refs))
}
