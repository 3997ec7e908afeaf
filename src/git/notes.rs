//! Reading git notes for the commits judged: the `[provenance] notes` refs, as the server has
//! them or as the push brings them (a pre-receive hook reads the pushed objects from the
//! quarantine). Git reading only; what a note says is [`engine::provenance`]'s business.
//!
//! Agent Trace records (`.agent-trace/traces.jsonl`, [`trace`]) are read here too: at the
//! tips being judged, once each.
//!
//! Notes never make a push fail: a notes ref that cannot be read is skipped with a log line,
//! a note that cannot be read becomes a [`NoteFact`] saying why.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use git2::{ObjectType, Oid, Repository};

use crate::git::error::Context as _;
use crate::git::repo::Key;
use engine::facts::NoteFact;
use engine::provenance::trace;

/// Bigger notes are reported unread: git-ai's logs are kilobytes, and the pusher chooses the size.
const MAX_NOTE_BYTES: usize = 1 << 20;

/// Notes trees are read once per run and kept: the entries of all of them, at most. git fans a
/// notes tree out into directories of 256 entries; a notes ref pushed to be huge is reported
/// unread past this, rather than slowing every later push that reads it.
const MAX_LISTED_ENTRIES: usize = 1 << 20;

/// One notes tree's entries: name to (id, whether a tree).
type Listing = HashMap<Vec<u8>, (Oid, bool)>;

/// The traces file is read whole once per tip; past this it is reported unread.
const MAX_TRACES_BYTES: usize = 16 << 20;

/// The notes trees to look commits up in, one per notes ref that exists, and the Agent Trace
/// records the tips hold.
#[derive(Default)]
pub struct Notes {
    trees: Vec<(String, Oid)>,
    /// Commit id to its records' lines ([`trace::index`]).
    traces: HashMap<String, String>,
    /// Trees listed so far (shared by the judging threads), and how many entries they hold.
    listed: Mutex<(HashMap<Key, Arc<Listing>>, usize)>,
}

impl Notes {
    /// The notes of `refs` in a repository read as it is (`check`, `explain`, `report`).
    pub fn open(repo: &Repository, refs: &[String]) -> Notes {
        Notes::at(repo, refs, &[])
    }

    /// What a push brings to be judged with: the notes of `refs` as they stand once it lands
    /// (git-ai pushes its notes after the code, Entire-style hooks before, some pushes carry
    /// both), and the Agent Trace records at each pushed tip.
    /// `pushed`: `(refname, new id)` of each update, a zero id for a deletion.
    pub fn pushed(repo: &Repository, refs: &[String], pushed: &[(&str, Oid)]) -> Notes {
        let tips: Vec<Oid> = pushed.iter().map(|(_, new)| *new).filter(|new| !new.is_zero()).collect();
        Notes::at(repo, refs, pushed).with_traces(repo, &tips)
    }

    /// The notes of `refs` after `pushed` lands: a ref the push updates is read at its new commit, any other as it is. A lookup of a
    /// ref is a binary search of `packed-refs` (no measurable time with 100,000 refs).
    fn at(repo: &Repository, refs: &[String], pushed: &[(&str, Oid)]) -> Notes {
        let mut trees = Vec::new();
        for name in refs {
            let tip = match pushed.iter().find(|(refname, _)| refname == name) {
                Some((_, new)) if new.is_zero() => continue,
                Some((_, new)) => Ok(*new),
                None => match repo.refname_to_id(name) {
                    Ok(id) => Ok(id),
                    Err(e) if e.code() == git2::ErrorCode::NotFound => continue,
                    Err(e) => Err(e),
                },
            };
            match tip.and_then(|tip| repo.find_commit(tip)).and_then(|commit| commit.tree()) {
                Ok(tree) => trees.push((name.clone(), tree.id())),
                Err(e) => tracing::warn!("notes ref {name} is not read: {}", e.message()),
            }
        }
        Notes { trees, ..Notes::default() }
    }

    /// Also the Agent Trace records committed at `tips` (`.agent-trace/traces.jsonl`): a record
    /// names a commit before it, so the tip being judged holds those of the commits below it.
    pub fn with_traces(mut self, repo: &Repository, tips: &[Oid]) -> Notes {
        for tip in tips {
            match traces_at(repo, *tip) {
                Ok(Some(text)) => {
                    for (commit, lines) in trace::index(&text) {
                        self.traces.entry(commit).or_insert(lines);
                    }
                }
                Ok(None) => {}
                Err(why) => tracing::warn!("{} at {tip} is not read: {why}", trace::TRACES_PATH),
            }
        }
        self
    }

    /// The notes on `commit`, one per notes ref that has one.
    pub fn read(&self, repo: &Repository, commit: Oid) -> Vec<NoteFact> {
        let hex = commit.to_string();
        let mut notes = Vec::new();
        for (notes_ref, tree) in &self.trees {
            let text = match self.find_note(repo, *tree, &hex) {
                Ok(None) => continue,
                Ok(Some(blob)) => note_text(repo, blob),
                Err(why) => Err(why),
            };
            notes.push(NoteFact { source: notes_ref.clone(), text });
        }
        if let Some(lines) = self.traces.get(&hex) {
            notes.push(NoteFact { source: trace::TRACES_PATH.into(), text: Ok(lines.clone()) });
        }
        notes
    }

    /// The blob holding `hex`'s note: git stores it at the full id or, once a notes tree is
    /// large, under fan-out directories of two hex digits (`ab/cdef...`, `ab/cd/ef...`).
    fn find_note(&self, repo: &Repository, tree: Oid, hex: &str) -> Result<Option<Oid>, String> {
        let listing = self.listing(repo, tree)?;
        if let Some(&(id, false)) = listing.get(hex.as_bytes()) {
            return Ok(Some(id));
        }
        match listing.get(&hex.as_bytes()[..2.min(hex.len())]) {
            Some(&(id, true)) if hex.len() > 2 => self.find_note(repo, id, &hex[2..]),
            _ => Ok(None),
        }
    }

    fn listing(&self, repo: &Repository, id: Oid) -> Result<Arc<Listing>, String> {
        let mut listed = self.listed.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(listing) = listed.0.get(&Key(id)) {
            return Ok(Arc::clone(listing));
        }
        let tree = repo
            .find_tree(id)
            .context(|| format!("notes tree {id}"))
            .map_err(|e| format!("cannot be read: {e}"))?;
        if listed.1 + tree.len() > MAX_LISTED_ENTRIES {
            return Err(format!("notes trees of more than {MAX_LISTED_ENTRIES} entries are not read"));
        }
        let listing: Listing = tree
            .iter()
            .map(|entry| (entry.name_bytes().to_vec(), (entry.id(), entry.kind() == Some(ObjectType::Tree))))
            .collect();
        let listing = Arc::new(listing);
        listed.1 += tree.len();
        listed.0.insert(Key(id), Arc::clone(&listing));
        Ok(listing)
    }
}

/// The traces file at `tip`, if it has one.
fn traces_at(repo: &Repository, tip: Oid) -> Result<Option<String>, String> {
    let commit =
        repo.find_object(tip, None).and_then(|o| o.peel_to_commit()).map_err(|e| e.message().to_string())?;
    let tree = commit.tree().map_err(|e| e.message().to_string())?;
    let entry = match tree.get_path(std::path::Path::new(trace::TRACES_PATH)) {
        Ok(entry) => entry,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
        Err(e) => return Err(e.message().to_string()),
    };
    let blob = repo.find_blob(entry.id()).map_err(|e| e.message().to_string())?;
    if blob.size() > MAX_TRACES_BYTES {
        return Err(format!("{} bytes, more than the {MAX_TRACES_BYTES} read", blob.size()));
    }
    String::from_utf8(blob.content().to_vec()).map(Some).map_err(|_| "not UTF-8".to_string())
}

fn note_text(repo: &Repository, blob: Oid) -> Result<String, String> {
    let blob = repo.find_blob(blob).map_err(|e| format!("cannot be read: {}", e.message()))?;
    if blob.size() > MAX_NOTE_BYTES {
        return Err(format!("{} bytes, more than the {MAX_NOTE_BYTES} read", blob.size()));
    }
    String::from_utf8(blob.content().to_vec()).map_err(|_| "not UTF-8".to_string())
}
