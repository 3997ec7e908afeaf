//! Which commits a ref update brings, and how the ref moves.
//!
//! The commits checked for an update to NEW are those reachable from NEW and not from the
//! pre-push value of any *protected* ref. Hiding only protected refs (not every ref) closes the
//! route of parking commits on an unprotected branch first and fast-forwarding main to them.
//! During pre-receive the refs still hold their pre-push values, so reading them now is right.

use std::collections::HashSet;

use git2::{ErrorCode, ObjectType, Oid, Repository, Sort};

use crate::repo::{Context, GitError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Movement {
    Create,
    Delete,
    FastForward,
    /// The new value does not contain the old one (a force push).
    Rewrite,
}

pub fn movement(repo: &Repository, old: Oid, new: Oid) -> Result<Movement, GitError> {
    if new.is_zero() {
        return Ok(Movement::Delete);
    }
    if old.is_zero() {
        return Ok(Movement::Create);
    }
    if old == new {
        return Ok(Movement::FastForward);
    }
    match (peel_to_commit(repo, old)?, peel_to_commit(repo, new)?) {
        (Some(old), Some(new)) => {
            let contains = old == new
                || repo.graph_descendant_of(new, old).context(|| format!("comparing {old} and {new}"))?;
            Ok(if contains { Movement::FastForward } else { Movement::Rewrite })
        }
        // A ref moving between a non-commit and anything else is a rewrite.
        _ => Ok(Movement::Rewrite),
    }
}

/// The commit an object peels to; `None` for trees, blobs and tags of those. A missing object is
/// an error, never "no commit".
pub fn peel_to_commit(repo: &Repository, oid: Oid) -> Result<Option<Oid>, GitError> {
    let object = repo.find_object(oid, None).context(|| format!("object {oid} is missing"))?;
    match object.peel(ObjectType::Commit) {
        Ok(commit) => Ok(Some(commit.id())),
        Err(e) if matches!(e.code(), ErrorCode::Peel | ErrorCode::InvalidSpec) => Ok(None),
        Err(source) => Err(source).context(|| format!("peeling {oid}")),
    }
}

/// The ref a symbolic ref finally points at, if `name` is one (git updates that ref when a
/// push names the symbolic one, so that is the ref to judge).
pub fn symbolic_target(repo: &Repository, name: &str) -> Result<Option<String>, GitError> {
    let mut current = name.to_string();
    // git itself gives up after 5 levels (SYMREF_MAXDEPTH).
    for _ in 0..5 {
        let reference = match repo.find_reference(&current) {
            Ok(reference) => reference,
            Err(e) if matches!(e.code(), ErrorCode::NotFound | ErrorCode::InvalidSpec) => break,
            Err(source) => return Err(source).context(|| format!("reading {current}")),
        };
        match reference.symbolic_target().context(|| format!("reading {current}"))? {
            Some(target) => current = target.to_string(),
            None => break,
        }
    }
    Ok((current != name).then_some(current))
}

/// The protected refs and the commits they point at now (before the push).
pub fn protected_tips(
    repo: &Repository,
    is_protected: impl Fn(&str) -> bool,
) -> Result<Vec<(String, Oid)>, GitError> {
    let mut tips = Vec::new();
    let references = repo.references().context(|| "listing refs".into())?;
    for reference in references {
        let reference = reference.context(|| "reading a ref".into())?;
        // Ref names need not be UTF-8; globs are, so compare the lossy form.
        let name = String::from_utf8_lossy(reference.name_bytes()).into_owned();
        if !is_protected(&name) {
            continue;
        }
        let resolved = reference.resolve().context(|| format!("resolving {name}"))?;
        if let Some(target) = resolved.target()
            && let Some(commit) = peel_to_commit(repo, target)?
        {
            tips.push((name, commit));
        }
    }
    Ok(tips)
}

/// Commits reachable from `tips` and from none of `hidden`, newest first (as `git rev-list`).
pub fn walk(repo: &Repository, tips: &[Oid], hidden: &[Oid]) -> Result<Vec<Oid>, GitError> {
    walk_lazily(repo, tips, hidden)?.collect()
}

/// [`walk`], one commit at a time as the walk finds it, so judging can start at once.
pub fn walk_lazily<'r>(
    repo: &'r Repository,
    tips: &[Oid],
    hidden: &[Oid],
) -> Result<impl Iterator<Item = Result<Oid, GitError>> + 'r, GitError> {
    let mut walk = repo.revwalk().context(|| "starting a revision walk".into())?;
    walk.set_sorting(Sort::NONE).context(|| "sorting the revision walk".into())?;
    // Hide before pushing: libgit2 marks uninteresting commits as it goes, and a tip pushed
    // first makes it walk far into history that the hidden refs already cover.
    for &oid in hidden {
        walk.hide(oid).context(|| format!("hiding {oid}"))?;
    }
    for &tip in tips {
        walk.push(tip).context(|| format!("walking from {tip}"))?;
    }
    Ok(walk.map(|oid| oid.context(|| "walking the history".into())))
}

/// The commits reachable from the policy's baseline (those present here) and from none of
/// `hidden`: history that predates the gate, exempt from its rules.
pub fn baseline(repo: &Repository, baseline: &[String], hidden: &[Oid]) -> Result<HashSet<Oid>, GitError> {
    let mut tips = Vec::new();
    for id in baseline {
        let oid = Oid::from_str(id).context(|| format!("baseline commit id {id}"))?;
        match repo.find_commit(oid) {
            Ok(_) => tips.push(oid),
            // Not here (yet): it exempts nothing.
            Err(e) if e.code() == ErrorCode::NotFound => {
                tracing::debug!("baseline {id} is not in the repository")
            }
            Err(source) => return Err(source).context(|| format!("reading baseline commit {id}")),
        }
    }
    if tips.is_empty() {
        return Ok(HashSet::new());
    }
    Ok(walk(repo, &tips, hidden)?.into_iter().collect())
}
