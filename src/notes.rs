//! Reading git notes for the commits judged: the `[provenance] notes` refs, as the server has
//! them or as the push brings them (a pre-receive hook reads the pushed objects from the
//! quarantine). Git reading only; what a note says is [`crate::provenance`]'s business.
//!
//! Notes never make a push fail: a notes ref that cannot be read is skipped with a log line,
//! a note that cannot be read becomes a [`NoteFact`] saying why.

use git2::{ObjectType, Oid, Repository};

use crate::facts::NoteFact;
use crate::repo::Context as _;

/// Bigger notes are reported unread: git-ai's logs are kilobytes, and the pusher chooses the size.
const MAX_NOTE_BYTES: usize = 1 << 20;

/// The notes trees to look commits up in, one per notes ref that exists.
#[derive(Debug, Default)]
pub struct Notes {
    trees: Vec<(String, Oid)>,
}

impl Notes {
    /// The notes of `refs` in a repository read as it is (`check`, `explain`, `report`).
    pub fn open(repo: &Repository, refs: &[String]) -> Notes {
        let current = |name: &str| match repo.refname_to_id(name) {
            Ok(id) => Ok(Some(id)),
            Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
            Err(e) => Err(e),
        };
        Notes::at(repo, refs, current, &[])
    }

    /// The notes of `refs` as they stand after `pushed` (`(refname, new id)`, a zero id for a
    /// deletion) lands: a ref the push updates is read at its new commit, any other where
    /// `current` says it is.
    pub fn at(
        repo: &Repository,
        refs: &[String],
        current: impl Fn(&str) -> Result<Option<Oid>, git2::Error>,
        pushed: &[(&str, Oid)],
    ) -> Notes {
        let mut trees = Vec::new();
        for name in refs {
            let tip = match pushed.iter().find(|(refname, _)| refname == name) {
                Some((_, new)) if new.is_zero() => continue,
                Some((_, new)) => Ok(*new),
                None => match current(name) {
                    Ok(Some(id)) => Ok(id),
                    Ok(None) => continue,
                    Err(e) => Err(e),
                },
            };
            match tip.and_then(|tip| repo.find_commit(tip)).and_then(|commit| commit.tree()) {
                Ok(tree) => trees.push((name.clone(), tree.id())),
                Err(e) => tracing::warn!("notes ref {name} is not read: {}", e.message()),
            }
        }
        Notes { trees }
    }

    /// The notes on `commit`, one per notes ref that has one.
    pub fn read(&self, repo: &Repository, commit: Oid) -> Vec<NoteFact> {
        let hex = commit.to_string();
        let mut notes = Vec::new();
        for (notes_ref, tree) in &self.trees {
            let text = match find_note(repo, *tree, &hex).context(|| format!("{notes_ref} on {hex}")) {
                Ok(None) => continue,
                Ok(Some(blob)) => note_text(repo, blob),
                Err(e) => Err(format!("cannot be read: {e}")),
            };
            notes.push(NoteFact { notes_ref: notes_ref.clone(), text });
        }
        notes
    }
}

/// The blob holding `hex`'s note: git stores it at the full id or, once a notes tree is
/// large, under fan-out directories of two hex digits (`ab/cdef...`, `ab/cd/ef...`).
fn find_note(repo: &Repository, tree: Oid, hex: &str) -> Result<Option<Oid>, git2::Error> {
    let tree = repo.find_tree(tree)?;
    if let Some(entry) = tree.get_name(hex)
        && entry.kind() == Some(ObjectType::Blob)
    {
        return Ok(Some(entry.id()));
    }
    match tree.get_name(&hex[..2.min(hex.len())]) {
        Some(entry) if hex.len() > 2 && entry.kind() == Some(ObjectType::Tree) => {
            find_note(repo, entry.id(), &hex[2..])
        }
        _ => Ok(None),
    }
}

fn note_text(repo: &Repository, blob: Oid) -> Result<String, String> {
    let blob = repo.find_blob(blob).map_err(|e| format!("cannot be read: {}", e.message()))?;
    if blob.size() > MAX_NOTE_BYTES {
        return Err(format!("{} bytes, more than the {MAX_NOTE_BYTES} read", blob.size()));
    }
    String::from_utf8(blob.content().to_vec()).map_err(|_| "not UTF-8".to_string())
}
