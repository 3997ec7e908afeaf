//! Changed paths of a commit, as SPEC defines them.
//!
//! Against its parent: both sides of every delta, so a rename counts its old and new path (no
//! rename detection is needed: without it a rename *is* a deletion plus an addition) and a
//! gitlink counts as its own path. A root commit changes every path in its tree. A merge changes
//! only the paths where it differs from *every* parent: what the merge itself introduced.

use std::collections::BTreeSet;

use git2::{Commit, DiffOptions, Repository, Tree};

use crate::repo::{Context, GitError};

pub fn changed_paths(repo: &Repository, commit: &Commit<'_>) -> Result<Vec<String>, GitError> {
    let id = commit.id();
    let tree = commit.tree().context(|| format!("reading the tree of {id}"))?;
    let mut introduced: Option<BTreeSet<String>> = None;
    for parent in commit.parents() {
        if parent.tree_id() == tree.id() {
            // Identical to one parent: nothing differs from every parent.
            return Ok(Vec::new());
        }
        let parent_tree = parent.tree().context(|| format!("reading the tree of {}", parent.id()))?;
        let paths = diff_paths(repo, Some(&parent_tree), &tree)?;
        introduced = Some(match introduced {
            None => paths,
            Some(so_far) => so_far.intersection(&paths).cloned().collect(),
        });
    }
    match introduced {
        Some(paths) => Ok(paths.into_iter().collect()),
        // A root commit: every path of its tree is new.
        None => Ok(diff_paths(repo, None, &tree)?.into_iter().collect()),
    }
}

fn diff_paths(
    repo: &Repository,
    old: Option<&Tree<'_>>,
    new: &Tree<'_>,
) -> Result<BTreeSet<String>, GitError> {
    let mut options = DiffOptions::new();
    // Paths are all we read: never load a blob to decide whether it is binary.
    options.skip_binary_check(true).ignore_submodules(false);
    let diff = repo
        .diff_tree_to_tree(old, Some(new), Some(&mut options))
        .context(|| format!("diffing tree {}", new.id()))?;
    let mut paths = BTreeSet::new();
    for delta in diff.deltas() {
        for file in [delta.old_file(), delta.new_file()] {
            if let Some(path) = file.path_bytes() {
                paths.insert(String::from_utf8_lossy(path).into_owned());
            }
        }
    }
    Ok(paths)
}
