//! Which commits a ref update brings, and how the ref moves.
//!
//! The commits checked for an update to NEW are those reachable from NEW and not from the
//! pre-push value of any *protected* ref. Hiding only protected refs (not every ref) closes the
//! route of parking commits on an unprotected branch first and fast-forwarding main to them.
//! During pre-receive the refs still hold their pre-push values, so reading them now is right.

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};

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

/// The refs a push's judgement reads, listed once, by `git for-each-ref`.
///
/// Why git and not libgit2: on the first ref it reads, libgit2 parses the whole `packed-refs`
/// file (and copies it for a listing), 90 ms with 100,000 refs, where git reads only the part
/// a pattern names. A hook runs under `git receive-pack`, so git is at hand, except in a hook
/// environment that ships none (GitHub Enterprise Server's chroot): there libgit2 lists them.
pub struct Refs {
    /// Each listed ref: the id it resolves to, and the ref it points at if it is symbolic.
    by_name: HashMap<String, (Oid, Option<String>)>,
}

impl Refs {
    /// Lists the refs under `prefixes` (each cut back to a `/`, as git matches patterns), and
    /// the refs named in `names`. An empty prefix lists every ref.
    pub fn list<'p>(
        repo: &Repository,
        prefixes: impl IntoIterator<Item = &'p str>,
        names: impl IntoIterator<Item = &'p str>,
    ) -> Result<Refs, GitError> {
        let mut patterns = Vec::new();
        for prefix in prefixes {
            match prefix.rfind('/') {
                Some(end) => patterns.push(&prefix[..=end]),
                None => {
                    patterns.clear();
                    break;
                }
            }
        }
        if !patterns.is_empty() {
            patterns.extend(names);
        }
        let failed = |why: String| {
            GitError::new("listing refs with git for-each-ref".into(), git2::Error::from_str(&why))
        };
        let output = Command::new("git")
            .arg("--git-dir")
            .arg(repo.path())
            .args(["for-each-ref", "--format=%(refname)%00%(objectname)%00%(symref)", "--"])
            .args(&patterns)
            .stdin(Stdio::null())
            .output();
        let output = match output {
            Ok(output) => output,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Refs::list_with_libgit2(repo),
            Err(e) => return Err(failed(e.to_string())),
        };
        if !output.status.success() {
            return Err(failed(String::from_utf8_lossy(&output.stderr).trim().to_string()));
        }
        let mut by_name = HashMap::new();
        // Ref names hold no control characters (git-check-ref-format), so NUL and newline
        // separate fields and records.
        for record in output.stdout.split(|&b| b == b'\n').filter(|r| !r.is_empty()) {
            let fields: Vec<&[u8]> = record.split(|&b| b == 0).collect();
            let [name, id, symref] = fields[..] else {
                return Err(failed(format!("unexpected output {:?}", String::from_utf8_lossy(record))));
            };
            let id = std::str::from_utf8(id).ok().and_then(|id| Oid::from_str(id).ok());
            let Some(id) = id else {
                return Err(failed(format!("unexpected id in {:?}", String::from_utf8_lossy(record))));
            };
            // Ref names need not be UTF-8; globs are, so compare the lossy form.
            let symref = (!symref.is_empty()).then(|| String::from_utf8_lossy(symref).into_owned());
            by_name.insert(String::from_utf8_lossy(name).into_owned(), (id, symref));
        }
        Ok(Refs { by_name })
    }

    fn list_with_libgit2(repo: &Repository) -> Result<Refs, GitError> {
        let mut by_name = HashMap::new();
        for reference in repo.references().context(|| "listing refs".into())? {
            let reference = reference.context(|| "reading a ref".into())?;
            let name = String::from_utf8_lossy(reference.name_bytes()).into_owned();
            let symref = reference.symbolic_target_bytes().map(|t| String::from_utf8_lossy(t).into_owned());
            let resolved = reference.resolve().context(|| format!("resolving {name}"))?;
            if let Some(id) = resolved.target() {
                by_name.insert(name, (id, symref));
            }
        }
        Ok(Refs { by_name })
    }

    /// The ref a symbolic ref finally points at, if `name` is one (git updates that ref when
    /// a push names the symbolic one, so that is the ref to judge).
    pub fn symbolic_target(&self, name: &str) -> Option<String> {
        let mut current = name;
        // git itself gives up after 5 levels (SYMREF_MAXDEPTH).
        for _ in 0..5 {
            match self.by_name.get(current) {
                Some((_, Some(target))) => current = target,
                _ => break,
            }
        }
        (current != name).then(|| current.to_string())
    }

    /// The protected refs and the commits they point at now (before the push).
    pub fn protected_tips(
        &self,
        repo: &Repository,
        is_protected: impl Fn(&str) -> bool,
    ) -> Result<Vec<(String, Oid)>, GitError> {
        let mut tips = Vec::new();
        for (name, &(id, _)) in &self.by_name {
            if is_protected(name)
                && let Some(commit) = peel_to_commit(repo, id)?
            {
                tips.push((name.clone(), commit));
            }
        }
        tips.sort();
        Ok(tips)
    }
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
