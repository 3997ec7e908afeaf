//! What a push really changes: the hook's input turned into the refs git will write, and the
//! protection each falls under. Every decision about *which* refs a push touches and *how*
//! they are guarded lives here, read top to bottom; `gate` then judges the commits.
//!
//! Invariants, each a way around the gate when broken:
//! - **Input as git sends it.** Lines are bytes; a ref name is whatever git's
//!   `check-ref-format` accepts under `refs/` (receive-pack refuses the rest as "funny"), UTF-8
//!   or not. A line git would never send refuses the push.
//! - **The ref git writes.** receive-pack updates and deletes *through* symbolic refs
//!   (`ref_transaction_update` without `REF_NO_DEREF`), following a chain of up to five links
//!   and creating a missing target. So an update is judged as an update of the chain's end,
//!   dangling links included: they are read from the ref store itself, since
//!   `git for-each-ref` leaves out a symbolic ref whose target does not exist.
//! - **The strictest name.** A ref is protected when any name that reaches it (itself, or a
//!   symbolic ref whose chain ends at it) is protected, or it holds the committed policy; its
//!   commits are judged under the rules of every such name.
//! - **Already judged.** The commits a push need not judge again are those reachable from the
//!   pre-push values of protected refs, each resolved ref once: an alias adds no tip of its own,
//!   and a recorded approval none (it points at a commit under review, even under `refs/**`).
//! - **Replace refs.** `refs/replace/*` (and `$GIT_REPLACE_REF_BASE`) make git show another
//!   object under a reviewed commit's id; creating or moving one is refused unless
//!   `[gate] allow_replace_refs`.
//! - **Recorded approvals.** A ref under `refs/countersign/approvals/` lands no code: it is
//!   never judged as a protected ref, and [`crate::gate::recording`] guards it instead.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Stdio};

use git2::{Oid, Repository};

use crate::git::error::{Context, GitError};
use crate::git::recorded;
use crate::git::repo;
use crate::git::selection::peel_to_commit;
use engine::policy::Policy;

/// One `<old> <new> <refname>` line of pre-receive's standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefUpdate {
    pub old: Oid,
    pub new: Oid,
    /// As sent; a name that is not UTF-8 is shown with U+FFFD in its place.
    pub refname: String,
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("line {line} of the hook's input is not `<old> <new> <refname>`: {text:?}")]
    Malformed { line: usize, text: String },
    #[error("line {line} of the hook's input names {name:?}, which git does not accept as a ref name: {why}")]
    BadRefName { line: usize, name: String, why: String },
    #[error("the hook's input holds no ref update")]
    Empty,
}

/// Parses the hook's standard input; any line git would not send refuses the whole push.
pub fn parse_updates(input: &[u8]) -> Result<Vec<RefUpdate>, InputError> {
    let mut updates = Vec::new();
    for (index, line) in input.split(|&b| b == b'\n').enumerate() {
        if line.is_empty() {
            continue;
        }
        let malformed = || InputError::Malformed {
            line: index + 1,
            text: String::from_utf8_lossy(line).chars().take(200).collect(),
        };
        let mut fields = line.splitn(3, |&b| b == b' ');
        let (Some(old), Some(new), Some(name)) = (fields.next(), fields.next(), fields.next()) else {
            return Err(malformed());
        };
        // 40 hex digits in a SHA-1 repository, 64 in a SHA-256 one.
        let id = |field: &[u8]| std::str::from_utf8(field).ok().and_then(repo::parse_id);
        let (Some(old), Some(new)) = (id(old), id(new)) else { return Err(malformed()) };
        if name.is_empty() || old.object_format() != new.object_format() {
            return Err(malformed());
        }
        if let Err(why) = check_pushed_name(name, new.is_zero()) {
            return Err(InputError::BadRefName {
                line: index + 1,
                name: String::from_utf8_lossy(name).chars().take(200).collect(),
                why,
            });
        }
        updates.push(RefUpdate { old, new, refname: String::from_utf8_lossy(name).into_owned() });
    }
    if updates.is_empty() {
        return Err(InputError::Empty);
    }
    Ok(updates)
}

/// receive-pack's own test (`update()` in builtin/receive-pack.c): under `refs/`, and what
/// follows passes `check_refname_format`, with one level allowed only for a deletion.
fn check_pushed_name(name: &[u8], deletion: bool) -> Result<(), String> {
    let Some(rest) = name.strip_prefix(b"refs/") else { return Err("not under refs/".into()) };
    if !deletion && !rest.contains(&b'/') {
        return Err("one level under refs/".into());
    }
    gix_validate::reference::name_partial(rest.into()).map(|_| ()).map_err(|e| e.to_string())
}

/// The refs a push's judgement reads, listed once.
///
/// Values come from `git for-each-ref` and not libgit2: on the first ref it reads, libgit2
/// parses the whole `packed-refs` file, 90 ms with 100,000 refs, where git reads only the part
/// a pattern names. A hook runs under `git receive-pack`, so git is at hand, except in a hook
/// environment that ships none (GitHub Enterprise Server's chroot): there libgit2 lists them.
pub struct RefStore {
    /// Each listed ref's value, symbolic refs resolved (a dangling one has none).
    values: HashMap<String, Oid>,
    /// Every symbolic ref of the repository and the name it points at, dangling or not.
    symbolic: HashMap<String, String>,
}

/// git reads at most this many refs to resolve a name (`SYMREF_MAXDEPTH`): four links.
const SYMREF_MAX_DEPTH: usize = 5;

impl RefStore {
    /// Lists the refs under `prefixes` (each cut back to a `/`, as git matches patterns), the
    /// refs named in `names`, and every symbolic ref with its target. An empty prefix lists
    /// every ref.
    pub fn read<'p>(
        repo: &Repository,
        prefixes: impl IntoIterator<Item = &'p str>,
        names: impl IntoIterator<Item = &'p str>,
    ) -> Result<RefStore, GitError> {
        let storage = repo::ref_storage(repo).context(|| "reading how refs are stored".into())?;
        let reftable = storage == repo::RefStorage::Reftable;
        let mut symbolic = match reftable {
            false => loose_symbolic_refs(repo.path())?,
            true => HashMap::new(),
        };
        let mut patterns: Vec<&str> = Vec::new();
        for prefix in prefixes {
            match prefix.rfind('/') {
                Some(end) => patterns.push(&prefix[..=end]),
                None => {
                    patterns.clear();
                    break;
                }
            }
        }
        let names: Vec<&str> = names.into_iter().collect();
        // In reftable, symbolic refs are listed with the others: a protected alias is under the
        // protected prefixes, and a pushed name outside them is asked for below.
        if !patterns.is_empty() && !reftable {
            patterns.extend(&names);
            patterns.extend(symbolic.iter().flat_map(|(name, target)| [name.as_str(), target.as_str()]));
        }
        let listed = match for_each_ref(repo, &patterns)? {
            Some(listed) => listed,
            None => return RefStore::read_with_libgit2(repo),
        };
        let mut values = HashMap::new();
        for (name, id, target) in listed {
            if let Some(target) = target {
                symbolic.insert(name.clone(), target);
            }
            values.insert(name, id);
        }
        if reftable {
            // Dangling symbolic refs are not listed; a pushed name may be one.
            for name in names.iter().filter(|name| !values.contains_key(**name)) {
                if let Some(target) = symbolic_ref(repo, name)? {
                    symbolic.insert(name.to_string(), target);
                }
            }
        }
        Ok(RefStore { values, symbolic })
    }

    fn read_with_libgit2(repo: &Repository) -> Result<RefStore, GitError> {
        // libgit2 would find no ref at all there.
        if repo::ref_storage(repo).context(|| "listing refs".into())? == repo::RefStorage::Reftable {
            return Err(GitError::new(
                "listing refs".into(),
                git2::Error::from_str(
                    "no git binary here, and only git reads this repository's reftable refs: the \
                     push is refused; put git on the PATH the hook runs with",
                ),
            ));
        }
        let mut values = HashMap::new();
        let mut symbolic = HashMap::new();
        for reference in repo.references().context(|| "listing refs".into())? {
            let reference = reference.context(|| "reading a ref".into())?;
            let name = String::from_utf8_lossy(reference.name_bytes()).into_owned();
            if let Some(target) = reference.symbolic_target_bytes() {
                symbolic.insert(name.clone(), String::from_utf8_lossy(target).into_owned());
            }
            if let Some(id) = reference.resolve().ok().and_then(|r| r.target()) {
                values.insert(name, id);
            }
        }
        Ok(RefStore { values, symbolic })
    }

    /// The ref git writes when a push names `name`: the end of its chain of symbolic refs.
    /// `None` for a chain git refuses to follow (a loop, or more than four links).
    pub fn resolve<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        let mut current = name;
        for _ in 0..SYMREF_MAX_DEPTH {
            match self.symbolic.get(current) {
                Some(target) => current = target,
                None => return Some(current),
            }
        }
        None
    }

    /// Every name whose chain ends at `target`, `target` first.
    pub fn names_reaching(&self, target: &str) -> Vec<String> {
        let mut names = vec![target.to_string()];
        let mut aliases: Vec<String> =
            (self.symbolic.keys()).filter(|name| self.resolve(name) == Some(target)).cloned().collect();
        aliases.sort();
        names.extend(aliases);
        names
    }

    /// Every ref that is not symbolic, listed.
    fn direct_refs(&self) -> impl Iterator<Item = (&str, Oid)> {
        self.values
            .iter()
            .filter(|(name, _)| !self.symbolic.contains_key(*name))
            .map(|(n, id)| (n.as_str(), *id))
    }
}

/// A listed ref: its name, resolved id, and symbolic target if it has one.
type Listed = (String, Oid, Option<String>);

/// `git for-each-ref` over `patterns` (all refs when none). `None` when there is no git to run.
fn for_each_ref(repo: &Repository, patterns: &[&str]) -> Result<Option<Vec<Listed>>, GitError> {
    let failed =
        |why: String| GitError::new("listing refs with git for-each-ref".into(), git2::Error::from_str(&why));
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(repo.path())
        .args(["for-each-ref", "--format=%(refname)%00%(objectname)%00%(symref)", "--"])
        .args(patterns)
        .stdin(Stdio::null())
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(failed(e.to_string())),
    };
    if !output.status.success() {
        return Err(failed(String::from_utf8_lossy(&output.stderr).trim().to_string()));
    }
    let mut refs = Vec::new();
    // Ref names hold no control characters (git-check-ref-format), so NUL and newline
    // separate fields and records.
    for record in output.stdout.split(|&b| b == b'\n').filter(|r| !r.is_empty()) {
        let fields: Vec<&[u8]> = record.split(|&b| b == 0).collect();
        let [name, id, symref] = fields[..] else {
            return Err(failed(format!("unexpected output {:?}", String::from_utf8_lossy(record))));
        };
        let id = std::str::from_utf8(id).ok().and_then(repo::parse_id);
        let Some(id) = id else {
            return Err(failed(format!("unexpected id in {:?}", String::from_utf8_lossy(record))));
        };
        // Ref names need not be UTF-8; globs are, so compare the lossy form.
        let symref = (!symref.is_empty()).then(|| String::from_utf8_lossy(symref).into_owned());
        refs.push((String::from_utf8_lossy(name).into_owned(), id, symref));
    }
    Ok(Some(refs))
}

/// The target of `name` if it is a symbolic ref, dangling or not (`git symbolic-ref`).
fn symbolic_ref(repo: &Repository, name: &str) -> Result<Option<String>, GitError> {
    let output = Command::new("git")
        .arg("--git-dir")
        .arg(repo.path())
        .args(["symbolic-ref", "--quiet", "--no-recurse", name])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            GitError::new(format!("reading the symbolic ref {name}"), git2::Error::from_str(&e.to_string()))
        })?;
    // Exit 1: not a symbolic ref (or no such ref).
    Ok(output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim_end().to_string()))
}

/// Every symbolic ref under `refs/` in the files backend. They are loose files (`packed-refs`
/// holds none), `ref: <target>` or, from old git, a symbolic link to `refs/...`; read from the
/// store itself because git's listings leave out a symbolic ref whose target does not exist.
fn loose_symbolic_refs(git_dir: &Path) -> Result<HashMap<String, String>, GitError> {
    let failed = |path: &Path, e: std::io::Error| {
        GitError::new(
            format!("reading the ref store at {}", path.display()),
            git2::Error::from_str(&e.to_string()),
        )
    };
    let mut symbolic = HashMap::new();
    let mut dirs = vec![(git_dir.join("refs"), OsString::from("refs"))];
    while let Some((dir, prefix)) = dirs.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(failed(&dir, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| failed(&dir, e))?;
            let path = entry.path();
            let mut name = prefix.clone();
            name.push("/");
            name.push(entry.file_name());
            let kind = entry.file_type().map_err(|e| failed(&path, e))?;
            let target = if kind.is_dir() {
                dirs.push((path, name));
                continue;
            } else if kind.is_symlink() {
                let link = std::fs::read_link(&path).map_err(|e| failed(&path, e))?;
                let link = link.to_string_lossy();
                match link.strip_prefix("refs/") {
                    Some(_) => Some(link.into_owned()),
                    None => symbolic_target(&std::fs::read(&path).unwrap_or_default()),
                }
            } else {
                // A ref being written (`.lock`) or removed meanwhile is not one yet.
                symbolic_target(&std::fs::read(&path).unwrap_or_default())
            };
            if let Some(target) = target {
                symbolic.insert(name.to_string_lossy().into_owned(), target);
            }
        }
    }
    Ok(symbolic)
}

/// The target a loose ref file names, if it is symbolic.
fn symbolic_target(content: &[u8]) -> Option<String> {
    let target = content.strip_prefix(b"ref:")?.trim_ascii();
    Some(String::from_utf8_lossy(target).into_owned())
}

/// One update as git will carry it out.
#[derive(Debug, Clone)]
pub struct Landing {
    pub update: RefUpdate,
    /// The ref git writes: the pushed name, or the end of its chain of symbolic refs.
    pub writes: String,
    /// Every name that reaches `writes` (`writes` first): the rules of each apply.
    pub names: Vec<String>,
    pub protected: bool,
    /// `writes` records an approval ([`crate::git::recorded`]).
    pub records_approval: bool,
    /// `writes` is the ref the committed policy lives on.
    pub holds_policy: bool,
    /// Why git itself will not carry the update out as sent, refused here first.
    pub refused: Option<Refusal>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A loop, or more than four links.
    BrokenSymref,
    /// Creates or moves a replace ref.
    ReplaceRef { base: String },
}

/// A push, resolved.
pub struct Resolution {
    pub landings: Vec<Landing>,
    /// The protected refs before the push, each resolved ref once: the names that reach it
    /// and the commit it points at.
    pub protected_tips: Vec<(Vec<String>, Oid)>,
}

/// Resolves every update of a push. `policy_ref`: where the committed policy lives, always
/// protected. `replace_base`: the server's `$GIT_REPLACE_REF_BASE`, if set.
pub fn resolve(
    repo: &Repository,
    policy: &Policy,
    policy_ref: Option<&str>,
    updates: &[RefUpdate],
    replace_base: Option<&str>,
) -> Result<Resolution, GitError> {
    let named = updates.iter().map(|u| u.refname.as_str()).chain(policy_ref);
    let store = RefStore::read(repo, policy.gate.protected.literal_prefixes(), named)?;
    let policy_ref = policy_ref.map(|name| store.resolve(name).unwrap_or(name).to_string());
    let is_protected = |names: &[String]| {
        names.iter().any(|name| policy.gate.protected.is_match(name) || policy_ref.as_deref() == Some(name))
    };
    let replace_bases: Vec<&str> = ["refs/replace/"].into_iter().chain(replace_base).collect();
    let landings = updates
        .iter()
        .map(|update| {
            let (writes, mut refused) = match store.resolve(&update.refname) {
                Some(writes) => (writes.to_string(), None),
                None => (update.refname.clone(), Some(Refusal::BrokenSymref)),
            };
            let names = store.names_reaching(&writes);
            let replace = replace_bases.iter().find(|base| names.iter().any(|name| name.starts_with(**base)));
            // Deleting a replace ref shows the original object again: nothing to guard.
            if let (Some(base), None, false, false) =
                (replace, &refused, update.new.is_zero(), policy.gate.allow_replace_refs)
            {
                refused = Some(Refusal::ReplaceRef { base: base.to_string() });
            }
            let records_approval = writes.starts_with(recorded::NAMESPACE);
            Landing {
                protected: !records_approval && is_protected(&names),
                records_approval,
                holds_policy: policy_ref.as_deref() == Some(writes.as_str()),
                update: update.clone(),
                writes,
                names,
                refused,
            }
        })
        .collect();
    let mut protected_tips = Vec::new();
    for (name, id) in store.direct_refs() {
        let names = store.names_reaching(name);
        // An approval points at a commit under review, whatever `protected` says: its
        // reviewer (or its author, approving their own) records it before anything is judged.
        if !name.starts_with(recorded::NAMESPACE)
            && is_protected(&names)
            && let Some(commit) = peel_to_commit(repo, id)?
        {
            protected_tips.push((names, commit));
        }
    }
    protected_tips.sort();
    Ok(Resolution { landings, protected_tips })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(name: &[u8]) -> Vec<u8> {
        let mut line = format!("{} {} ", "1".repeat(40), "2".repeat(40)).into_bytes();
        line.extend_from_slice(name);
        line.push(b'\n');
        line
    }

    #[test]
    fn a_name_that_is_not_utf8_is_a_valid_ref_name() {
        let updates = parse_updates(&line(b"refs/heads/caf\xe9")).unwrap();
        assert_eq!(updates[0].refname, "refs/heads/caf\u{fffd}");
    }

    #[test]
    fn names_git_refuses_are_refused() {
        for name in [
            &b"refs/heads/with space"[..],
            b"refs/heads/a..b",
            b"refs/heads/x.lock",
            b"refs/heads/a@{1}",
            b"refs/heads//double",
            b"refs/heads/trailing/",
            b"refs/heads/.hidden",
            b"refs/heads/star*",
            b"refs/heads/tab\there",
            b"heads/main",
            b"refs/onelevel",
        ] {
            let error = parse_updates(&line(name)).unwrap_err();
            assert!(
                matches!(error, InputError::BadRefName { .. }),
                "{:?}: {error}",
                String::from_utf8_lossy(name)
            );
        }
    }

    #[test]
    fn one_level_under_refs_may_be_deleted() {
        let input = format!("{} {} refs/stash\n", "1".repeat(40), "0".repeat(40));
        assert_eq!(parse_updates(input.as_bytes()).unwrap()[0].refname, "refs/stash");
    }

    #[test]
    fn a_line_without_three_fields_is_malformed() {
        assert!(matches!(parse_updates(b"abc def\n"), Err(InputError::Malformed { line: 1, .. })));
        assert!(matches!(parse_updates(b"\n\n"), Err(InputError::Empty)));
    }

    #[test]
    fn chains_end_where_git_stops() {
        let link = |from: &str, to: &str| (from.to_string(), to.to_string());
        let store = RefStore {
            values: HashMap::new(),
            symbolic: HashMap::from([
                link("refs/heads/master", "refs/heads/main"),
                link("refs/heads/old", "refs/heads/master"),
                link("refs/heads/loop-a", "refs/heads/loop-b"),
                link("refs/heads/loop-b", "refs/heads/loop-a"),
            ]),
        };
        assert_eq!(store.resolve("refs/heads/old"), Some("refs/heads/main"));
        assert_eq!(store.resolve("refs/heads/main"), Some("refs/heads/main"));
        assert_eq!(store.resolve("refs/heads/loop-a"), None);
        assert_eq!(
            store.names_reaching("refs/heads/main"),
            ["refs/heads/main", "refs/heads/master", "refs/heads/old"]
        );
    }

    #[test]
    fn four_links_are_followed_and_five_are_not() {
        let chain = |links: usize| RefStore {
            values: HashMap::new(),
            symbolic: (0..links).map(|i| (format!("refs/l/{i}"), format!("refs/l/{}", i + 1))).collect(),
        };
        assert_eq!(chain(4).resolve("refs/l/0"), Some("refs/l/4"));
        assert_eq!(chain(5).resolve("refs/l/0"), None);
    }

    #[test]
    fn a_loose_ref_file_is_symbolic_when_it_says_ref() {
        assert_eq!(symbolic_target(b"ref: refs/heads/main\n").as_deref(), Some("refs/heads/main"));
        assert_eq!(symbolic_target(b"0123456789012345678901234567890123456789\n"), None);
    }
}
