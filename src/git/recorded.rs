//! Approvals recorded on the server, kept as git data (the way Gerrit's NoteDb keeps votes):
//! `refs/countersign/approvals/<patch-id>/<login>`, pointing at the approved commit.
//!
//! Only the login a ref names can record it, because the server authenticates the pusher and
//! the hook compares ([`crate::gate::recording`]): so the author cannot type a reviewer's approval, as
//! they can a trailer. The name binds the approval to the change ([`crate::git::patch_id`]): a clean
//! rebase keeps the patch-id, hence the approval; a changed diff has another. The refs
//! replicate wherever the server replicates refs, and CI fetches them
//! (`+refs/countersign/approvals/*:refs/countersign/approvals/*`).
//!
//! An approval is recorded once and never moved; its owner (or an `[approvals] admins` person)
//! withdraws it by deleting the ref.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use git2::{Oid, Repository};

use crate::git::error::{Context, GitError};
use crate::git::repo;
use engine::facts::RecordedApproval;

/// Where recorded approvals live.
pub const NAMESPACE: &str = "refs/countersign/approvals/";

/// The ref that records `login`'s approval of the change with `patch_id`.
pub fn ref_name(patch_id: &str, login: &str) -> String {
    format!("{NAMESPACE}{patch_id}/{login}")
}

/// The patch-id and login a ref name records, if it is a well-formed approval ref.
pub fn parse(name: &str) -> Option<(&str, &str)> {
    let (patch_id, login) = name.strip_prefix(NAMESPACE)?.split_once('/')?;
    let hex = patch_id.len() == 64 && patch_id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    (hex && !login.is_empty() && !login.contains('/')).then_some((patch_id, login))
}

/// The approval refs whose commit has landed (is reachable from one of `tips`, the protected
/// refs): housekeeping, since a landed change needs its approvals no more.
/// (`git for-each-ref --merged` walks with the commit-graph, once for all of them.)
pub fn landed(repo: &Repository, tips: &[Oid]) -> Result<Vec<String>, GitError> {
    let failed = |why: String| GitError::new("listing landed approvals".into(), git2::Error::from_str(&why));
    if tips.is_empty() {
        return Ok(Vec::new());
    }
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(repo.path())
        .args(["for-each-ref", "--format=%(refname)"])
        .args(tips.iter().map(|tip| format!("--merged={tip}")))
        .arg(NAMESPACE)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(e.to_string()))?;
    if !output.status.success() {
        return Err(failed(String::from_utf8_lossy(&output.stderr).trim().to_string()));
    }
    Ok(String::from_utf8_lossy(&output.stdout).lines().map(str::to_string).collect())
}

/// Deletes `refs` in one transaction (`git update-ref --stdin`).
pub fn delete(repo: &Repository, refs: &[String]) -> Result<(), GitError> {
    use std::io::Write as _;
    let failed = |why: String| GitError::new("deleting approvals".into(), git2::Error::from_str(&why));
    let mut child = Command::new("git")
        .arg("--git-dir")
        .arg(repo.path())
        .args(["update-ref", "--stdin"])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(e.to_string()))?;
    let input: String = refs.iter().map(|name| format!("delete {name}\n")).collect();
    child.stdin.take().expect("piped").write_all(input.as_bytes()).map_err(|e| failed(e.to_string()))?;
    let output = child.wait_with_output().map_err(|e| failed(e.to_string()))?;
    match output.status.success() {
        true => Ok(()),
        false => Err(failed(String::from_utf8_lossy(&output.stderr).trim().to_string())),
    }
}

/// How many recorded approvals of other changes a failing commit's are compared with, to tell
/// the pusher an approval went stale: each costs reading a commit.
const STALE_SCAN: usize = 2_000;

/// Past this many lookups one listing of the namespace is cheaper than more processes.
const LOOKUPS_BEFORE_LISTING: usize = 16;

/// The recorded approvals of changes, looked up as judging asks, shared by its threads.
///
/// A push judges a few commits: each costs one `git for-each-ref` of its own patch-id's refs,
/// a binary search in `packed-refs`, whatever the namespace holds (100,000 approvals list in
/// 0.4 s, one patch-id's in 7 ms). A long range lists the namespace once instead.
pub struct Lookup {
    git_dir: PathBuf,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    asked: usize,
    listed: bool,
    by_patch_id: HashMap<String, Vec<RecordedApproval>>,
}

impl Lookup {
    pub fn new(repo: &Repository) -> Lookup {
        Lookup { git_dir: repo.path().to_path_buf(), state: Mutex::new(State::default()) }
    }

    /// The approvals recorded for the change with `patch_id`.
    pub fn for_patch_id(&self, patch_id: &str) -> Result<Vec<RecordedApproval>, GitError> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if !state.listed && !state.by_patch_id.contains_key(patch_id) {
            state.asked += 1;
            match state.asked > LOOKUPS_BEFORE_LISTING {
                true => self.list_all(&mut state)?,
                false => {
                    state.by_patch_id.entry(patch_id.to_string()).or_default();
                    self.add(&mut state, &format!("{NAMESPACE}{patch_id}/"))?;
                }
            }
        }
        Ok(state.by_patch_id.get(patch_id).cloned().unwrap_or_default())
    }

    fn list_all(&self, state: &mut State) -> Result<(), GitError> {
        if !state.listed {
            state.listed = true;
            state.by_patch_id.clear();
            self.add(state, NAMESPACE)?;
        }
        Ok(())
    }

    /// Adds the approvals under `pattern` to `state`.
    fn add(&self, state: &mut State, pattern: &str) -> Result<(), GitError> {
        for (name, commit) in self.list(pattern)? {
            if let Some((id, login)) = parse(&name) {
                let approval = RecordedApproval { login: login.to_string(), commit: commit.to_string() };
                state.by_patch_id.entry(id.to_string()).or_default().push(approval);
            }
        }
        Ok(())
    }

    /// Approvals recorded for earlier versions of `commit`'s change: on a commit with the same
    /// author and author time (what a rebase or an amend keeps) but another diff. Only to say
    /// why they no longer count; at most [`STALE_SCAN`] approvals are looked at.
    pub fn stale_for(
        &self,
        repo: &Repository,
        id: Oid,
        patch_id: &str,
    ) -> Result<Vec<RecordedApproval>, GitError> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        self.list_all(&mut state)?;
        let commit = repo.find_commit(id).context(|| format!("reading commit {id}"))?;
        let author = commit.author();
        let same_change = |other: &git2::Commit<'_>| {
            let theirs = other.author();
            theirs.when() == author.when() && theirs.email_bytes() == author.email_bytes()
        };
        let mut stale = Vec::new();
        let others = state.by_patch_id.iter().filter(|(id, _)| *id != patch_id).flat_map(|(_, a)| a);
        for approval in others.take(STALE_SCAN) {
            let Some(target) = repo::parse_id(&approval.commit) else { continue };
            // An approved commit the server no longer has tells nothing.
            if let Ok(other) = repo.find_commit(target)
                && other.id() != commit.id()
                && same_change(&other)
            {
                stale.push(approval.clone());
            }
        }
        Ok(stale)
    }

    fn list(&self, pattern: &str) -> Result<Vec<(String, Oid)>, GitError> {
        let failed = |why: String| {
            GitError::new(
                "listing recorded approvals with git for-each-ref".into(),
                git2::Error::from_str(&why),
            )
        };
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(&self.git_dir)
            .args(["for-each-ref", "--format=%(refname)%00%(objectname)", pattern])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| failed(format!("{e} (recorded approvals need git on the server)")))?;
        if !output.status.success() {
            return Err(failed(String::from_utf8_lossy(&output.stderr).trim().to_string()));
        }
        let mut refs = Vec::new();
        for record in output.stdout.split(|&b| b == b'\n').filter(|r| !r.is_empty()) {
            let text = String::from_utf8_lossy(record);
            let (name, id) = text.split_once('\0').ok_or_else(|| failed(format!("unexpected {text:?}")))?;
            let id = repo::parse_id(id).ok_or_else(|| failed(format!("unexpected id in {text:?}")))?;
            refs.push((name.to_string(), id));
        }
        Ok(refs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_refs_name_a_patch_id_and_a_login() {
        let id = "ab".repeat(32);
        assert_eq!(parse(&ref_name(&id, "alice")), Some((id.as_str(), "alice")));
        assert_eq!(parse(&format!("{NAMESPACE}{id}")), None);
        assert_eq!(parse(&format!("{NAMESPACE}{id}/a/b")), None);
        assert_eq!(parse(&format!("{NAMESPACE}{}/alice", "AB".repeat(32))), None);
        assert_eq!(parse(&format!("{NAMESPACE}{}/alice", "ab".repeat(20))), None);
        assert_eq!(parse(&format!("refs/heads/{id}/alice")), None);
    }
}
