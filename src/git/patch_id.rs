//! A commit's patch-id: a hash of *what the commit changes*, not of where it sits, so a signed
//! approval survives a clean rebase or a reworded message and dies when the diff changes.
//!
//! Same idea as `git patch-id --stable` (the diff without line numbers or blob ids, files in
//! path order), but stricter, because it binds an approval rather than matching cherry-picks.
//! Measured on real commits (tests/integration/signatures.rs), git's patch-id and libgit2's
//! `git_diff_patchid` both drop every whitespace character of every line (an indentation
//! change in Python keeps the id), and both hash a binary file as the line "Binary files a/x
//! and b/x differ" (any new content keeps the id). So countersign hashes the diff itself:
//!
//! SHA-256 over, for each file of the diff in path order (no rename detection: a rename is its
//! old path deleted and its new path added), `F`, its old and new path, its old and new mode
//! (u32 big-endian); then for each hunk `H`; then for each line its origin byte (`' '`, `+`,
//! `-`, or `=` `>` `<` for "no newline at end of file") and its bytes. Paths and line bytes
//! are prefixed by their length (u64 big-endian), so no two diffs encode alike. Every file is
//! diffed as text (binary content is hashed byte for byte, whatever `.gitattributes` says, so
//! the reviewer's clone and the server agree), with 3 context lines and hunks never merged.
//!
//! A root commit is diffed against the empty tree; a merge against its first parent (approving
//! a merge approves all it brings into the branch).

use git2::{DiffLineType, DiffOptions, Repository};
use sha2::{Digest, Sha256};

use crate::git::commit::CommitObject;
use crate::git::error::{Context, GitError};

/// The patch-id of `commit`, as lower-case hex.
pub fn patch_id(repo: &Repository, commit: &CommitObject) -> Result<String, GitError> {
    let id = commit.id;
    let tree = repo.find_tree(commit.tree).context(|| format!("reading the tree of {id}"))?;
    let parent_tree = match commit.parents.first() {
        Some(&parent) => Some(
            repo.find_commit(parent)
                .and_then(|parent| parent.tree())
                .context(|| format!("reading the tree of {parent}"))?,
        ),
        None => None,
    };
    let mut options = DiffOptions::new();
    options
        .force_text(true)
        .context_lines(3)
        .interhunk_lines(0)
        .indent_heuristic(false)
        .ignore_submodules(false);
    let diff = repo
        .diff_tree_to_tree(parent_tree.as_ref(), Some(&tree), Some(&mut options))
        .context(|| format!("diffing {id} against its first parent"))?;
    // foreach's callbacks cannot share one &mut hasher, so each event is recorded, then hashed.
    let events = std::cell::RefCell::new(Sha256::new());
    diff.foreach(
        &mut |delta, _| {
            let mut hasher = events.borrow_mut();
            hasher.update(b"F");
            for file in [delta.old_file(), delta.new_file()] {
                field(&mut hasher, file.path_bytes().unwrap_or_default());
            }
            for file in [delta.old_file(), delta.new_file()] {
                hasher.update(u32::from(file.mode()).to_be_bytes());
            }
            true
        },
        None,
        Some(&mut |_, _| {
            events.borrow_mut().update(b"H");
            true
        }),
        Some(&mut |_, _, line| {
            let origin = match line.origin_value() {
                DiffLineType::Context => b' ',
                DiffLineType::Addition => b'+',
                DiffLineType::Deletion => b'-',
                DiffLineType::ContextEOFNL => b'=',
                DiffLineType::AddEOFNL => b'>',
                DiffLineType::DeleteEOFNL => b'<',
                // File and hunk headers carry line numbers and blob ids: not part of the id.
                _ => return true,
            };
            let mut hasher = events.borrow_mut();
            hasher.update([origin]);
            field(&mut hasher, line.content());
            true
        }),
    )
    .context(|| format!("hashing the diff of {id}"))?;
    Ok(events.into_inner().finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}
