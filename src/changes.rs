//! Changed paths of a commit, as SPEC defines them.
//!
//! Against its parent: both sides of every delta, so a rename counts its old and new path (no
//! rename detection is needed: without it a rename *is* a deletion plus an addition) and a
//! gitlink counts as its own path. A root commit changes every path in its tree.
//!
//! A merge changes what the merge itself introduced: the paths where it differs from every
//! parent, and also the paths where it drops a change that a parent made since the merge base
//! (it keeps another parent's version). Without the second half a "merge" with an old commit
//! as a parent could silently revert reviewed changes, or roll a branch back wholesale, while
//! looking like a merge that introduces nothing.

use std::collections::BTreeSet;

use git2::{Commit, DiffOptions, ErrorCode, Oid, Repository, Tree};

use crate::repo::{Context, GitError};

pub fn changed_paths(repo: &Repository, commit: &Commit<'_>) -> Result<Vec<String>, GitError> {
    let id = commit.id();
    let tree = commit.tree().context(|| format!("reading the tree of {id}"))?;
    let parents: Vec<Commit<'_>> = commit.parents().collect();
    let paths = match parents.as_slice() {
        [] => diff_paths(repo, None, &tree)?,
        [parent] => diff_paths(repo, Some(&tree_of(parent)?), &tree)?,
        _ => merge_paths(repo, &parents, &tree)?,
    };
    Ok(paths.into_iter().collect())
}

fn merge_paths(
    repo: &Repository,
    parents: &[Commit<'_>],
    tree: &Tree<'_>,
) -> Result<BTreeSet<String>, GitError> {
    let parent_trees = parents.iter().map(tree_of).collect::<Result<Vec<_>, _>>()?;
    let base = merge_base_tree(repo, parents)?;
    let mut against_parent = Vec::with_capacity(parent_trees.len());
    for parent_tree in &parent_trees {
        against_parent.push(diff_paths(repo, Some(parent_tree), tree)?);
    }
    let mut introduced = against_parent[0].clone();
    for differs in &against_parent[1..] {
        introduced.retain(|path| differs.contains(path));
    }
    for (parent_tree, differs) in parent_trees.iter().zip(&against_parent) {
        let changed_by_parent = diff_paths(repo, base.as_ref(), parent_tree)?;
        introduced.extend(changed_by_parent.intersection(differs).cloned());
    }
    Ok(introduced)
}

/// The tree of the parents' merge base; `None` (the empty tree) for unrelated histories.
fn merge_base_tree<'r>(repo: &'r Repository, parents: &[Commit<'_>]) -> Result<Option<Tree<'r>>, GitError> {
    let ids: Vec<Oid> = parents.iter().map(Commit::id).collect();
    match repo.merge_base_many(&ids) {
        Ok(base) => {
            let base = repo.find_commit(base).context(|| format!("reading merge base {base}"))?;
            Ok(Some(tree_of(&base)?))
        }
        // In a shallow clone the base may lie beyond the cut: guessing "unrelated" would count
        // every path either side ever changed.
        Err(e) if e.code() == ErrorCode::NotFound && repo.is_shallow() => Err(e).context(|| {
            format!("history is cut off (a shallow clone): the merge base of {}'s parents is missing", ids[0])
        }),
        Err(e) if e.code() == ErrorCode::NotFound => Ok(None),
        Err(source) => Err(source).context(|| "finding the merge base of a merge's parents".into()),
    }
}

fn tree_of<'r>(commit: &Commit<'r>) -> Result<Tree<'r>, GitError> {
    commit.tree().context(|| format!("reading the tree of {}", commit.id()))
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
