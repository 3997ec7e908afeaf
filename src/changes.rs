//! Changed paths of a commit, as SPEC defines them.
//!
//! Against its parent: both sides of every change, so a rename counts its old and new path (no
//! rename detection is needed: without it a rename *is* a deletion plus an addition) and a
//! gitlink counts as its own path. A root commit changes every path in its tree.
//!
//! A merge changes what the merge itself introduced: the paths where it differs from every
//! parent, and also the paths where it drops a change that a parent made since the merge base
//! (it keeps another parent's version). Without the second half a "merge" with an old commit
//! as a parent could silently revert reviewed changes, or roll a branch back wholesale, while
//! looking like a merge that introduces nothing.
//!
//! The tree diff is our own rather than libgit2's `diff_tree_to_tree`, because that one reads
//! every entry of both trees (on a 50,000-file tree, milliseconds per commit), where git skips
//! subtrees whose ids are equal. Ours skips them too, and also never reads a subtree that no
//! path glob of the policy can reach ([`PathScope`]), nor any blob.

use std::ops::ControlFlow;

use git2::{Commit, ErrorCode, Oid, Repository, Tree, TreeEntry};

use crate::globs::GlobList;
use crate::repo::{Context, GitError};

/// Which changed paths a caller wants: every one, or those some glob of a list matches. The
/// literal prefixes of the globs tell which directories can hold a match at all.
#[derive(Debug, Clone)]
pub struct PathScope {
    globs: Vec<GlobList>,
    /// Everything before a glob's first wildcard: a match lies under it. Empty when any pattern
    /// can match anywhere (`**/x`), and `None` for the scope of every path.
    prefixes: Option<Vec<String>>,
}

impl PathScope {
    pub const ALL: PathScope = PathScope { globs: Vec::new(), prefixes: None };

    /// The paths any of `globs` matches.
    pub fn matching(globs: Vec<GlobList>) -> PathScope {
        let prefixes = globs.iter().flat_map(GlobList::literal_prefixes).map(str::to_string).collect();
        PathScope { globs, prefixes: Some(prefixes) }
    }

    fn contains(&self, path: &str) -> bool {
        self.prefixes.is_none() || self.globs.iter().any(|globs| globs.is_match(path))
    }

    /// Whether some path below directory `dir` could be in scope.
    fn may_reach(&self, dir: &str) -> bool {
        let Some(prefixes) = &self.prefixes else { return true };
        prefixes.iter().any(|prefix| {
            // Either the prefix ends inside `dir` (`infra/` reaches `infra/db`), or it goes on
            // below it (`infra/db/` needs `infra`).
            let below = prefix.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'));
            below || dir_with_slash(dir).starts_with(prefix.as_str())
        })
    }
}

fn dir_with_slash(dir: &str) -> String {
    format!("{dir}/")
}

/// The commit's changed paths within `scope`, sorted.
pub fn changed_paths(
    repo: &Repository,
    commit: &Commit<'_>,
    scope: &PathScope,
) -> Result<Vec<String>, GitError> {
    let mut paths = Vec::new();
    walk_changes(repo, commit, scope, &mut |path| {
        paths.push(path);
        ControlFlow::Continue(())
    })?;
    paths.sort();
    Ok(paths)
}

/// Whether a merge introduces any path of its own; one that does not is exempt from the rules
/// (SPEC). Stops at the first such path.
pub fn merge_introduces_any(repo: &Repository, commit: &Commit<'_>) -> Result<bool, GitError> {
    let mut any = false;
    walk_changes(repo, commit, &PathScope::ALL, &mut |_| {
        any = true;
        ControlFlow::Break(())
    })?;
    Ok(any)
}

/// Hands each changed path within `scope` to `found` until it says stop.
///
/// One walk over the commit's tree and its parents' (and, for a merge, the merge base's) at
/// once, by name, that descends only where the ids differ in a way that can hide a change: for
/// a merge, where the merge differs from every parent, or from a parent that itself moved since
/// the base. Equal ids mean equal content below, so a directory whose ids fail that test holds
/// no changed path, and is never read.
fn walk_changes(
    repo: &Repository,
    commit: &Commit<'_>,
    scope: &PathScope,
    found: &mut dyn FnMut(String) -> ControlFlow<()>,
) -> Result<(), GitError> {
    let parents: Vec<Commit<'_>> = commit.parents().collect();
    let mut roots = vec![Some(tree_of(commit)?.id())];
    for parent in &parents {
        roots.push(Some(tree_of(parent)?.id()));
    }
    if parents.is_empty() {
        // A root commit: against the empty tree.
        roots.push(None);
    }
    if parents.len() > 1 {
        roots.push(merge_base_tree(repo, &parents)?);
    }
    let changed = |sides: &[Side]| -> bool {
        match sides {
            [new, old] => new != old,
            [merge, parents @ .., base] => {
                parents.iter().all(|p| p != merge) || parents.iter().any(|p| p != merge && p != base)
            }
            _ => unreachable!("a walk has the commit, a parent or the empty tree, and a merge's base"),
        }
    };
    walk_trees(repo, roots, scope, &changed, found)
}

/// What one tree holds under one name: an entry's id and mode, or nothing.
type Side = Option<(Oid, i32)>;

/// The tree of the parents' merge base; `None` (the empty tree) for unrelated histories.
fn merge_base_tree(repo: &Repository, parents: &[Commit<'_>]) -> Result<Option<Oid>, GitError> {
    let ids: Vec<Oid> = parents.iter().map(Commit::id).collect();
    match repo.merge_base_many(&ids) {
        Ok(base) => {
            let base = repo.find_commit(base).context(|| format!("reading merge base {base}"))?;
            Ok(Some(tree_of(&base)?.id()))
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

const TREE_MODE: i32 = 0o040000;

/// Walks several trees side by side (`None` is the empty tree), handing `found` each path of a
/// file or gitlink where `changed` holds of the entries, within `scope`, as `git diff-tree -r
/// --no-renames` would list a two-tree change. A name that is a file on one side and a
/// directory on another is both: the file is a changed path, and so is all that is below it.
/// Iterative: the pusher chooses how deep trees nest, and recursion that deep would overflow
/// the stack.
fn walk_trees(
    repo: &Repository,
    roots: Vec<Option<Oid>>,
    scope: &PathScope,
    changed: &dyn Fn(&[Side]) -> bool,
    found: &mut dyn FnMut(String) -> ControlFlow<()>,
) -> Result<(), GitError> {
    let mut pending = vec![(String::new(), roots)];
    while let Some((dir, ids)) = pending.pop() {
        let trees = ids
            .iter()
            .map(|id| id.map(|id| find_tree(repo, id, &dir)).transpose())
            .collect::<Result<Vec<_>, _>>()?;
        let listings: Vec<Vec<TreeEntry<'_>>> =
            trees.iter().map(|tree| sorted_entries(tree.as_ref())).collect();
        let mut next = vec![0; listings.len()];
        // Each name once, in byte order, with what every tree holds under it.
        while let Some(name) = listings
            .iter()
            .zip(&next)
            .filter_map(|(entries, &i)| entries.get(i))
            .map(TreeEntry::name_bytes)
            .min()
        {
            let name = name.to_vec();
            let here: Vec<Option<&TreeEntry<'_>>> = listings
                .iter()
                .zip(next.iter_mut())
                .map(|(entries, i)| {
                    let entry = entries.get(*i).filter(|e| e.name_bytes() == name.as_slice());
                    *i += usize::from(entry.is_some());
                    entry
                })
                .collect();
            let leaves: Vec<Side> =
                here.iter().map(|e| e.filter(|e| !is_tree(e)).map(|e| (e.id(), e.filemode()))).collect();
            let subtrees: Vec<Side> =
                here.iter().map(|e| e.filter(|e| is_tree(e)).map(|e| (e.id(), TREE_MODE))).collect();
            let leaf_changed = changed(&leaves);
            let subtree_changed = changed(&subtrees);
            if !leaf_changed && !subtree_changed {
                continue;
            }
            let name = String::from_utf8_lossy(&name);
            let path = if dir.is_empty() { name.into_owned() } else { format!("{dir}/{name}") };
            if subtree_changed && scope.may_reach(&path) {
                pending.push((path.clone(), subtrees.iter().map(|side| side.map(|(id, _)| id)).collect()));
            }
            if leaf_changed && scope.contains(&path) && found(path).is_break() {
                return Ok(());
            }
        }
    }
    Ok(())
}

fn find_tree<'r>(repo: &'r Repository, id: Oid, dir: &str) -> Result<Tree<'r>, GitError> {
    let at = if dir.is_empty() { String::new() } else { format!(" at {dir}") };
    repo.find_tree(id).context(|| format!("reading tree {id}{at}"))
}

fn is_tree(entry: &TreeEntry<'_>) -> bool {
    entry.filemode() == TREE_MODE
}

/// A tree's entries by name. Git sorts a directory as if its name ended in `/`, so a file and
/// a directory of the same name (before and after a change) sort apart; plain byte order
/// keeps them together.
fn sorted_entries<'t>(tree: Option<&'t Tree<'_>>) -> Vec<TreeEntry<'t>> {
    let mut entries: Vec<TreeEntry<'t>> = tree.map(|t| t.iter().collect()).unwrap_or_default();
    entries.sort_by(|a, b| a.name_bytes().cmp(b.name_bytes()));
    entries
}
