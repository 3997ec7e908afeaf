//! Where the policy comes from: a file on the server, or a file committed in the repository
//! (`REF:PATH`), found in the order SPEC fixes.
//!
//! A committed policy is read at the ref's value *before* the push: during pre-receive refs
//! have not moved yet, so a push cannot approve itself by editing the policy it carries.

use std::path::{Path, PathBuf};

use git2::{ObjectType, Oid, Repository};
use jiff::civil::Date;

use crate::git::error::{Context, GitError};
use crate::git::repo;
use engine::policy::{Policy, PolicyError, PolicySource};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    /// `path` in the tree of the commit `refname` points at.
    Committed {
        refname: String,
        path: String,
    },
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Committed { refname, path } => write!(f, "{refname}:{path}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error(
        "no policy configured: pass --policy FILE or --policy-ref REF:PATH, set COUNTERSIGN_POLICY, \
         or set git config countersign.policy or countersign.policyRef"
    )]
    NotConfigured,
    #[error("git config sets both countersign.policy and countersign.policyRef; keep one")]
    Ambiguous,
    #[error("`{0}` is not REF:PATH with a full ref name (e.g. refs/heads/main:policy.toml)")]
    BadRefSpec(String),
    #[error("policy ref {0} does not exist")]
    RefMissing(String),
    #[error("policy {0} does not exist")]
    FileMissing(Location),
    #[error("cannot read policy {path}: {cause}")]
    Unreadable { path: String, cause: std::io::Error },
    #[error("policy {path} is not a regular file")]
    NotAFile { path: String },
    #[error(
        "no policy configured, and none committed where a clone finds it (looked at {}): pass \
         --policy FILE or --policy-ref REF:PATH, set COUNTERSIGN_POLICY, or set git config \
         countersign.policy or countersign.policyRef", looked.join(", ")
    )]
    NotFound { looked: Vec<String> },
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Git(#[from] GitError),
}

/// Where a repository's policy is conventionally committed, tried in this order.
pub const COMMITTED_PATHS: &[&str] = &[".countersign/policy.toml", "policy.toml"];

/// What the command line said about the policy.
#[derive(Debug, Default, Clone)]
pub struct Flags {
    pub file: Option<PathBuf>,
    pub committed: Option<String>,
}

impl Location {
    pub fn parse_committed(spec: &str) -> Result<Location, LookupError> {
        match spec.split_once(':') {
            Some((refname, path)) if refname.starts_with("refs/") && !path.is_empty() => {
                Ok(Location::Committed {
                    refname: refname.to_string(),
                    path: path.trim_start_matches('/').into(),
                })
            }
            _ => Err(LookupError::BadRefSpec(spec.to_string())),
        }
    }
}

/// First found wins: flags, `$COUNTERSIGN_POLICY`, then the repository's git config.
pub fn locate(flags: &Flags, repo: &Repository) -> Result<Location, LookupError> {
    if let Some(location) = flagged(flags) {
        return location;
    }
    if let Some(file) = std::env::var_os("COUNTERSIGN_POLICY").filter(|v| !v.is_empty()) {
        return Ok(Location::File(PathBuf::from(file)));
    }
    configured(repo)?.ok_or(LookupError::NotConfigured)
}

/// [`locate`] in a clone: failing that, the policy committed on `remote`'s default branch as
/// this clone last fetched it ([`discover`]), where the server's hook most likely reads it.
pub fn locate_in_clone(
    flags: &Flags,
    repo: &Repository,
    remote: Option<&str>,
) -> Result<Location, LookupError> {
    match locate(flags, repo) {
        Err(LookupError::NotConfigured) => match discover(repo, remote)? {
            (Some(location), _) => Ok(location),
            (None, looked) => Err(LookupError::NotFound { looked }),
        },
        other => other,
    }
}

/// The policy committed in one of [`COMMITTED_PATHS`] on the default branch of `remote` (else
/// `origin`, else the clone's only remote) as last fetched: `refs/remotes/<remote>/HEAD`'s
/// target, else its `main` or `master`. Also says every place it looked, for the message when
/// nothing is there.
pub fn discover(
    repo: &Repository,
    remote: Option<&str>,
) -> Result<(Option<Location>, Vec<String>), LookupError> {
    let remotes = repo.remotes().context(|| "listing the remotes".into())?;
    let names: Vec<&str> = remotes.iter().filter_map(|name| name.ok().flatten()).collect();
    let remote = match remote {
        Some(remote) => Some(remote),
        None if names.contains(&"origin") => Some("origin"),
        None if names.len() == 1 => Some(names[0]),
        None => None,
    };
    let Some(remote) = remote else {
        let why = match names.len() {
            0 => "this repository has no remote".to_string(),
            _ => format!("no remote named origin among {}", names.join(", ")),
        };
        return Ok((None, vec![why]));
    };
    let prefix = format!("refs/remotes/{remote}/");
    let head = repo
        .find_reference(&format!("{prefix}HEAD"))
        .ok()
        .and_then(|head| head.symbolic_target().ok().flatten().map(str::to_string));
    let branches: Vec<String> = match head {
        Some(target) => vec![target],
        None => vec![format!("{prefix}main"), format!("{prefix}master")],
    };
    let mut looked = Vec::new();
    for branch in branches {
        let Some(id) = repo::resolve_ref(repo, &branch)? else {
            looked.push(format!("{branch} (no such ref: git fetch {remote}?)"));
            continue;
        };
        let Ok(commit) = repo.find_object(id, None).and_then(|o| o.peel(ObjectType::Commit)) else {
            looked.push(format!("{branch} (not a commit)"));
            continue;
        };
        for path in COMMITTED_PATHS {
            if committed_blob(repo, commit.id(), path)?.is_some() {
                return Ok((Some(Location::Committed { refname: branch, path: path.to_string() }), looked));
            }
            looked.push(format!("{branch}:{path}"));
        }
    }
    Ok((None, looked))
}

/// [`locate`] for the hook: flags, then git config, never the environment, which on some
/// transports the pusher sets (a file:// push hands the hook the pusher's own).
pub fn locate_for_hook(flags: &Flags, repo: &Repository) -> Result<Location, LookupError> {
    flagged(flags).unwrap_or_else(|| configured(repo)?.ok_or(LookupError::NotConfigured))
}

fn flagged(flags: &Flags) -> Option<Result<Location, LookupError>> {
    match (&flags.file, &flags.committed) {
        (Some(file), _) => Some(Ok(Location::File(file.clone()))),
        (None, Some(spec)) => Some(Location::parse_committed(spec)),
        (None, None) => None,
    }
}

/// The policy the repository's own git config names (`countersign.policy` or
/// `countersign.policyRef`, where `install` writes them), `None` if neither is set. Only the
/// repository's file counts: git passes `GIT_CONFIG_*` variables, which a pusher may set, to
/// the hook, and libgit2 reads the global file from `$HOME`.
pub fn configured(repo: &Repository) -> Result<Option<Location>, LookupError> {
    let config = repo
        .config()
        .and_then(|c| c.open_level(git2::ConfigLevel::Local))
        .context(|| "reading the repository's git config".into())?;
    let file = config_entry(config.get_path("countersign.policy"))?;
    let committed = config_entry(config.get_string("countersign.policyRef"))?;
    match (file, committed) {
        (Some(_), Some(_)) => Err(LookupError::Ambiguous),
        (Some(file), None) => Ok(Some(Location::File(from_repository(repo, file)))),
        (None, Some(spec)) => Location::parse_committed(&spec).map(Some),
        (None, None) => Ok(None),
    }
}

fn config_entry<T>(entry: Result<T, git2::Error>) -> Result<Option<T>, GitError> {
    match entry {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
        Err(source) => Err(source).context(|| "reading git config countersign.*".into()),
    }
}

/// Relative paths in git config are taken from the directory hooks run in.
fn from_repository(repo: &Repository, path: PathBuf) -> PathBuf {
    // Hooks run in the work tree of a non-bare repository, in the repository itself otherwise.
    let base = repo.workdir().unwrap_or(repo.path());
    if path.is_absolute() { path } else { base.join(path) }
}

pub fn load(location: &Location, repo: &Repository, today: Date) -> Result<Policy, LookupError> {
    match location {
        Location::File(path) => load_file(path, today),
        Location::Committed { refname, path } => {
            let id =
                repo::resolve_ref(repo, refname)?.ok_or_else(|| LookupError::RefMissing(refname.clone()))?;
            let commit = repo
                .find_object(id, None)
                .and_then(|object| object.peel(ObjectType::Commit))
                .context(|| format!("peeling {refname}"))?
                .id();
            let text = committed_text(repo, commit, path)?
                .ok_or_else(|| LookupError::FileMissing(location.clone()))?;
            Ok(Policy::parse(PolicySource::new(location.to_string(), text), today)?)
        }
    }
}

/// Largest policy we read; a policy is a few kilobytes, anything near this is a mistake.
pub const MAX_POLICY_BYTES: u64 = 4 << 20;

/// Reads and validates a policy file.
pub fn load_file(path: &Path, today: Date) -> Result<Policy, LookupError> {
    tracing::debug!("reading policy {}", path.display());
    let shown = path.display().to_string();
    let unreadable = |cause| LookupError::Unreadable { path: shown.clone(), cause };
    let metadata = std::fs::metadata(path).map_err(unreadable)?;
    if !metadata.is_file() {
        return Err(LookupError::NotAFile { path: shown });
    }
    if metadata.len() > MAX_POLICY_BYTES {
        return Err(unreadable(std::io::Error::other(format!(
            "{} bytes is larger than the {MAX_POLICY_BYTES} bytes a policy may have",
            metadata.len()
        ))));
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    let text = String::from_utf8(bytes).map_err(|_| unreadable(std::io::Error::other("not valid UTF-8")))?;
    Ok(Policy::parse(PolicySource::new(shown, text), today)?)
}

/// The text of `path` as committed in `commit`, `None` if it is not there.
pub fn committed_text(repo: &Repository, commit: Oid, path: &str) -> Result<Option<String>, LookupError> {
    let Some(blob) = committed_blob(repo, commit, path)? else { return Ok(None) };
    let blob = repo.find_blob(blob).context(|| format!("reading {commit}:{path}"))?;
    if blob.size() as u64 > MAX_POLICY_BYTES {
        return Err(LookupError::Unreadable {
            path: format!("{commit}:{path}"),
            cause: std::io::Error::other(format!(
                "larger than the {MAX_POLICY_BYTES} bytes a policy may have"
            )),
        });
    }
    let text = String::from_utf8(blob.content().to_vec()).map_err(|_| LookupError::Unreadable {
        path: format!("{commit}:{path}"),
        cause: std::io::Error::other("not valid UTF-8"),
    })?;
    Ok(Some(text))
}

/// The blob id of `path` in `commit`, `None` if there is no such file.
pub fn committed_blob(repo: &Repository, commit: Oid, path: &str) -> Result<Option<Oid>, GitError> {
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .context(|| format!("reading the tree of {commit}"))?;
    match tree.get_path(Path::new(path)) {
        Ok(entry) if entry.kind() == Some(ObjectType::Blob) => Ok(Some(entry.id())),
        Ok(_) => Ok(None),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
        Err(source) => Err(source).context(|| format!("looking up {commit}:{path}")),
    }
}
