//! `countersign install` and `countersign uninstall`: the hook put where a server runs it, and
//! the git config it reads, on one repository.
//!
//! Where each server runs a repository's pre-receive hooks:
//! - plain git (SSH, smart HTTP, file://): `hooks/pre-receive` (githooks(5)).
//! - GitLab: Gitaly runs `custom_hooks/pre-receive` and every executable file of
//!   `custom_hooks/pre-receive.d/` in the repository's directory (GitLab docs, "Git server
//!   hooks"; `gitaly hooks set` unpacks its tarball's `custom_hooks/` there).
//! - Gitea and Forgejo own `hooks/pre-receive`: a dispatcher they generate that runs every
//!   executable file of `hooks/pre-receive.d/` (theirs is `pre-receive.d/gitea`) with the same
//!   input, refusing if any refuses (Gitea's `modules/repository/hooks.go`).
//!
//! Work is planned first ([`plan_install`], [`plan_uninstall`]), so `--dry-run` prints the very
//! steps a real run applies, and a second install plans nothing.

pub mod client;

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use git2::{ConfigLevel, Repository};
use jiff::civil::Date;

use crate::git::error::{Context, GitError};
use crate::git::policy_source::{self, Location, LookupError};
use crate::verbs::lint;

/// The shipped hook script, the file every layout installs.
pub const HOOK_SCRIPT: &str = include_str!("../../../hooks/pre-receive");
/// Marks a hook file as ours (it is in [`HOOK_SCRIPT`]'s header).
const MARKER: &str = "(countersign-managed:";
/// The header of the script before it carried [`MARKER`], as admins copied it by hand.
const OLD_HEADER: &str = "# countersign pre-receive hook: copy to";
/// Appended to a foreign hook's name when `--force` moves it aside; the hook script runs it.
const CHAINED_SUFFIX: &str = ".countersign-chained";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// `hooks/pre-receive`: plain git over SSH, smart HTTP or file://.
    Plain,
    /// `custom_hooks/pre-receive.d/countersign`: GitLab (Gitaly server hooks).
    Gitlab,
    /// `hooks/pre-receive.d/countersign`: Gitea and Forgejo.
    Gitea,
}

impl Layout {
    const ALL: [Layout; 3] = [Layout::Plain, Layout::Gitlab, Layout::Gitea];

    /// The hook file, relative to the git directory.
    fn hook(self) -> &'static str {
        match self {
            Layout::Plain => "hooks/pre-receive",
            Layout::Gitlab => "custom_hooks/pre-receive.d/countersign",
            Layout::Gitea => "hooks/pre-receive.d/countersign",
        }
    }

    /// Directories install creates if missing and uninstall removes once empty, innermost first.
    fn own_dirs(self) -> &'static [&'static str] {
        match self {
            Layout::Gitlab => &["custom_hooks/pre-receive.d", "custom_hooks"],
            Layout::Plain | Layout::Gitea => &[],
        }
    }
}

/// Where a foreign hook moved aside by `--force` lives: next to the hook, or beside a `.d`
/// directory, whose dispatcher would otherwise run it a second time. The hook script computes
/// the same path from its own.
pub(crate) fn chained_path(hook: &Path) -> PathBuf {
    let dir = hook.parent().unwrap_or(Path::new(""));
    let name = format!("{}{CHAINED_SUFFIX}", hook.file_name().unwrap_or_default().to_string_lossy());
    match dir.extension() {
        Some(ext) if ext == "d" => dir.parent().unwrap_or(Path::new("")).join(name),
        _ => dir.join(name),
    }
}

pub(crate) fn is_ours(text: &str) -> bool {
    text.contains(MARKER) || text.starts_with(&format!("#!/bin/sh\n{OLD_HEADER}"))
}

/// What the hook should read as the policy.
#[derive(Debug, Clone)]
pub enum PolicyChoice {
    /// A file on the server, named by its absolute path (the admin's file stays the one copy).
    File(PathBuf),
    /// `REF:PATH`, committed in the repository.
    Committed(String),
    /// Whatever the repository's git config already names.
    Keep,
}

#[derive(Debug)]
pub struct InstallOptions {
    pub repo: PathBuf,
    pub policy: PolicyChoice,
    pub layout: Layout,
    pub force: bool,
    /// The binary the hook runs (git config `countersign.bin`).
    pub bin: PathBuf,
    /// Trial mode (git config `countersign.trial`): `Some(true)` starts it, `Some(false)` ends
    /// it, `None` keeps what the repository has, so re-running install never ends a trial.
    pub trial: Option<bool>,
}

/// The git config key of trial mode: the hook reports everything and refuses nothing.
pub const TRIAL_KEY: &str = "countersign.trial";

/// Whether the repository is in trial mode. Only its own (local) config counts: a global
/// config is the pusher's to write on some transports. A value git cannot read as a boolean
/// is an error (the hook refuses), not a guess.
pub fn trial_mode(repo: &Repository) -> Result<bool, GitError> {
    let config = repo
        .config()
        .and_then(|c| c.open_level(ConfigLevel::Local))
        .context(|| "reading the repository's git config".into())?;
    match config.get_bool(TRIAL_KEY) {
        Ok(on) => Ok(on),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(false),
        Err(source) => Err(GitError::new(format!("reading git config {TRIAL_KEY} (true or false)"), source)),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(
        "{path} exists and is not countersign's hook; pass --force to keep it, moved to {chained} and run after countersign accepts"
    )]
    Foreign { path: String, chained: String },
    #[error(
        "{0} already exists (a hook an earlier `install --force` moved aside?); restore or remove it first"
    )]
    ChainedExists(String),
    #[error(
        "no policy: pass --policy FILE or --policy-ref REF:PATH (without one the hook refuses every push)"
    )]
    NoPolicy,
    #[error(
        "the policy ref {refname} does not exist in {repo}: push the policy there first, or use --policy FILE (a hook reading a missing ref refuses every push)"
    )]
    PolicyRefMissing { refname: String, repo: String },
    #[error(
        "{0} is not Gitea's hook dispatcher (a script running hooks/pre-receive.d/*): is this a Gitea or Forgejo repository? Otherwise use --layout plain"
    )]
    NotGitea(String),
    #[error(
        "core.hooksPath is set to {0}: git runs hooks from there, not from this repository's hooks/; unset it or install the hook there by hand"
    )]
    HooksPath(String),
    #[error(
        "{0} is a bare repository: --client puts hooks in a developer's clone (on a server, install without --client)"
    )]
    BareForClient(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error(
        "the hook is installed, but writing a commit-graph failed (without one, pushes with merges are judged slowly): {0}"
    )]
    CommitGraph(String),
    #[error(transparent)]
    Policy(#[from] LookupError),
    #[error(transparent)]
    Git(#[from] GitError),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> InstallError {
    let what = what.into();
    move |source| InstallError::Io { what, source }
}

/// One change to the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    CreateDir(PathBuf),
    /// `--force`: a foreign hook moved where the hook script runs it after countersign.
    MoveAside {
        from: PathBuf,
        to: PathBuf,
    },
    WriteHook {
        path: PathBuf,
        replaces: bool,
        /// The script written: [`HOOK_SCRIPT`], or a client hook (`crate::verbs::install::client`).
        script: &'static str,
    },
    SetConfig {
        key: &'static str,
        value: String,
    },
    UnsetConfig {
        key: &'static str,
    },
    RemoveHook(PathBuf),
    Restore {
        from: PathBuf,
        to: PathBuf,
    },
    /// Removed only if empty when its turn comes.
    RemoveDir(PathBuf),
    /// The repository has no commit-graph git writes (or one without generation numbers):
    /// `git commit-graph write --reachable --changed-paths`, as `git gc` and GitLab's
    /// housekeeping keep one. Without it every merge of a push costs a search of history by
    /// date ([`crate::git::ancestry`]); git keeps it up to date from then on.
    WriteCommitGraph,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::CreateDir(path) => write!(f, "create directory {}", path.display()),
            Step::MoveAside { from, to } => write!(
                f,
                "move the existing hook {} to {} (it runs after countersign accepts)",
                from.display(),
                to.display()
            ),
            Step::WriteHook { path, replaces: false, .. } => write!(f, "write hook {}", path.display()),
            Step::WriteHook { path, replaces: true, .. } => {
                write!(f, "update hook {} (an older countersign version)", path.display())
            }
            Step::SetConfig { key, value } => write!(f, "git config {key} {value}"),
            Step::UnsetConfig { key } => write!(f, "git config --unset {key}"),
            Step::RemoveHook(path) => write!(f, "remove hook {}", path.display()),
            Step::Restore { from, to } => write!(f, "restore hook {} from {}", to.display(), from.display()),
            Step::RemoveDir(path) => write!(f, "remove directory {} if empty", path.display()),
            Step::WriteCommitGraph => write!(
                f,
                "write a commit-graph (git commit-graph write --reachable --changed-paths): merge \
                 bases and the walk of a push read it instead of every commit"
            ),
        }
    }
}

/// The steps for one repository, and what was found on the way.
#[derive(Debug)]
pub struct Plan {
    pub git_dir: PathBuf,
    pub steps: Vec<Step>,
    /// Facts the admin should know (the policy validated, a config left alone).
    pub notes: Vec<String>,
}

impl Plan {
    /// Applies the steps in order. A hook is written under a temporary name and renamed, so a
    /// concurrent push runs the old hook or the new one, never half of one.
    pub fn apply(&self) -> Result<(), InstallError> {
        let repo = open(&self.git_dir)?;
        let mut config = repo
            .config()
            .and_then(|c| c.open_level(ConfigLevel::Local))
            .context(|| "opening the repository's git config".into())?;
        for step in &self.steps {
            match step {
                Step::CreateDir(path) => {
                    std::fs::create_dir_all(path).map_err(io(format!("creating {}", path.display())))?
                }
                Step::MoveAside { from, to } | Step::Restore { from, to } => std::fs::rename(from, to)
                    .map_err(io(format!("moving {} to {}", from.display(), to.display())))?,
                Step::WriteHook { path, script, .. } => write_hook(path, script)?,
                Step::SetConfig { key, value } => {
                    config.set_str(key, value).context(|| format!("setting git config {key}"))?
                }
                Step::UnsetConfig { key } => {
                    config.remove(key).context(|| format!("unsetting git config {key}"))?
                }
                Step::RemoveHook(path) => {
                    std::fs::remove_file(path).map_err(io(format!("removing {}", path.display())))?
                }
                Step::RemoveDir(path) => {
                    let empty = std::fs::read_dir(path).map(|mut d| d.next().is_none()).unwrap_or(false);
                    if empty {
                        std::fs::remove_dir(path).map_err(io(format!("removing {}", path.display())))?;
                    }
                }
                Step::WriteCommitGraph => {
                    let args = ["commit-graph", "write", "--reachable", "--changed-paths"];
                    let output = crate::git::repo::git(&repo, &args).map_err(InstallError::CommitGraph)?;
                    if !output.status.success() {
                        let stderr = String::from_utf8_lossy(&output.stderr);
                        return Err(InstallError::CommitGraph(stderr.trim().to_string()));
                    }
                }
            }
        }
        Ok(())
    }
}

fn write_hook(path: &Path, script: &str) -> Result<(), InstallError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut file = tempfile::Builder::new()
        .prefix(".countersign-hook-")
        .tempfile_in(dir)
        .map_err(io(format!("creating a file in {}", dir.display())))?;
    file.write_all(script.as_bytes()).map_err(io(format!("writing {}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o755))
            .map_err(io(format!("making {} executable", path.display())))?;
    }
    file.persist(path)
        .map_err(|e| InstallError::Io { what: format!("writing {}", path.display()), source: e.error })?;
    Ok(())
}

pub(crate) fn open(repo: &Path) -> Result<Repository, InstallError> {
    Ok(crate::git::repo::open(repo)?)
}

/// The git directory, without the trailing `/` libgit2 gives it.
fn git_dir(repo: &Repository) -> PathBuf {
    repo.path().components().collect()
}

pub(crate) fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.exists()
    }
}

/// A value of the repository's own (local) git config.
pub(crate) fn local_value(repo: &Repository, key: &str) -> Result<Option<String>, GitError> {
    let config = repo
        .config()
        .and_then(|c| c.open_level(ConfigLevel::Local))
        .context(|| "reading the repository's git config".into())?;
    match config.get_string(key) {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.code() == git2::ErrorCode::NotFound => Ok(None),
        Err(source) => Err(GitError::new(format!("reading git config {key}"), source)),
    }
}

/// What `countersign install` would do. Validates the policy first: a hook whose policy is
/// broken refuses every push.
pub fn plan_install(options: &InstallOptions, today: Date) -> Result<Plan, InstallError> {
    let repo = open(&options.repo)?;
    let git_dir = git_dir(&repo);
    let mut notes = Vec::new();

    let (location, file, committed) = match &options.policy {
        PolicyChoice::File(path) => {
            let absolute = std::path::absolute(path).map_err(io(format!("resolving {}", path.display())))?;
            let shown = absolute.to_string_lossy().into_owned();
            (Location::File(absolute), Some(Some(shown)), Some(None))
        }
        PolicyChoice::Committed(spec) => {
            let location = Location::parse_committed(spec)?;
            if let Location::Committed { refname, .. } = &location
                && crate::git::repo::resolve_ref(&repo, refname)?.is_none()
            {
                return Err(InstallError::PolicyRefMissing {
                    refname: refname.clone(),
                    repo: git_dir.display().to_string(),
                });
            }
            (location, Some(None), Some(Some(spec.clone())))
        }
        PolicyChoice::Keep => (policy_source::configured(&repo)?.ok_or(InstallError::NoPolicy)?, None, None),
    };
    let policy = policy_source::load(&location, &repo, today)?;
    notes.push(format!(
        "policy {location}: valid ({} people, {} rules, {} warning(s))",
        policy.people.len(),
        policy.rules.len(),
        policy.warnings.len()
    ));
    if let Some(unguarded) = lint::unguarded_committed_policy(&policy, &location, today) {
        notes.push(format!("warning[{}]: {}", unguarded.code, unguarded.message));
    }

    let mut steps = Vec::new();
    let bin = options.bin.to_string_lossy().into_owned();
    let mut wanted: Vec<(&'static str, Option<Option<String>>)> = vec![
        ("countersign.bin", Some(Some(bin))),
        ("countersign.policy", file),
        ("countersign.policyRef", committed),
    ];
    if policy.wants_push_options() {
        wanted.push(("receive.advertisePushOptions", Some(Some("true".into()))));
    }
    wanted.push((TRIAL_KEY, options.trial.map(|on| on.then(|| "true".to_string()))));
    let trial = match options.trial {
        Some(on) => on,
        None => trial_mode(&repo)?,
    };
    notes.push(match (trial, options.trial) {
        (true, _) => format!(
            "trial mode: on (git config {TRIAL_KEY}): the hook reports every push and refuses \
             none; `install --enforce` ends it"
        ),
        (false, Some(false)) => "trial mode: off: the hook refuses what the policy refuses".into(),
        (false, _) => "enforcing: the hook refuses what the policy refuses (`install --trial` to \
                       report only)"
            .into(),
    });
    for (key, want) in wanted {
        let Some(want) = want else { continue };
        let have = local_value(&repo, key)?;
        match want {
            Some(value) if have.as_deref() != Some(value.as_str()) => {
                steps.push(Step::SetConfig { key, value })
            }
            None if have.is_some() => steps.push(Step::UnsetConfig { key }),
            _ => {}
        }
    }

    if options.layout != Layout::Gitlab
        && let Ok(hooks_path) = repo.config().and_then(|c| c.get_string("core.hooksPath"))
    {
        return Err(InstallError::HooksPath(hooks_path));
    }
    if options.layout == Layout::Gitea {
        let dispatcher = git_dir.join("hooks/pre-receive");
        let text = std::fs::read_to_string(&dispatcher).unwrap_or_default();
        if !text.contains(".d/*") {
            return Err(InstallError::NotGitea(dispatcher.display().to_string()));
        }
    }
    for dir in options.layout.own_dirs().iter().rev() {
        let dir = git_dir.join(dir);
        if !dir.is_dir() {
            steps.push(Step::CreateDir(dir));
        }
    }
    steps.extend(hook_steps(git_dir.join(options.layout.hook()), HOOK_SCRIPT, options.force)?);
    // Last: the hook is in place even if git cannot write the graph.
    if wants_commit_graph(&repo) {
        steps.push(Step::WriteCommitGraph);
    }
    Ok(Plan { git_dir, steps, notes })
}

/// Whether the repository lacks a commit-graph that git would write and read: it has commits
/// and no graph file, and git reads graphs here (not with `core.commitGraph=false`, nor in a
/// shallow repository or one with grafts, where `git commit-graph write` writes nothing).
fn wants_commit_graph(repo: &Repository) -> bool {
    let info = repo.commondir().join("objects/info");
    let present =
        info.join("commit-graph").exists() || info.join("commit-graphs/commit-graph-chain").exists();
    let disabled = repo.config().and_then(|c| c.get_bool("core.commitGraph")).is_ok_and(|on| !on);
    let grafted = repo.commondir().join("info/grafts").exists();
    !present && !disabled && !grafted && !repo.is_shallow() && !repo.is_empty().unwrap_or(true)
}

/// Writing `script` at `hook`: nothing if it is there already, an update of an older version of
/// ours, or (with `force`) a foreign hook moved aside first, to run after ours.
pub(crate) fn hook_steps(
    hook: PathBuf,
    script: &'static str,
    force: bool,
) -> Result<Vec<Step>, InstallError> {
    let mut steps = Vec::new();
    match std::fs::read(&hook) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            steps.push(Step::WriteHook { path: hook, replaces: false, script })
        }
        Err(e) => return Err(io(format!("reading {}", hook.display()))(e)),
        Ok(bytes) if is_ours(&String::from_utf8_lossy(&bytes)) => {
            if bytes != script.as_bytes() || !is_executable(&hook) {
                steps.push(Step::WriteHook { path: hook, replaces: true, script });
            }
        }
        Ok(_) => {
            let chained = chained_path(&hook);
            if !force {
                return Err(InstallError::Foreign {
                    path: hook.display().to_string(),
                    chained: chained.display().to_string(),
                });
            }
            if chained.exists() {
                return Err(InstallError::ChainedExists(chained.display().to_string()));
            }
            steps.push(Step::MoveAside { from: hook.clone(), to: chained });
            steps.push(Step::WriteHook { path: hook, replaces: false, script });
        }
    }
    Ok(steps)
}

/// What `countersign uninstall` would do: our hook removed from every layout, a hook moved
/// aside put back, our git config unset. Foreign hooks are left alone.
pub fn plan_uninstall(repo: &Path) -> Result<Plan, InstallError> {
    let repo = open(repo)?;
    let git_dir = git_dir(&repo);
    let mut steps = Vec::new();
    let mut notes = Vec::new();
    for layout in Layout::ALL {
        let hook = git_dir.join(layout.hook());
        let chained = chained_path(&hook);
        match std::fs::read(&hook) {
            Ok(bytes) if is_ours(&String::from_utf8_lossy(&bytes)) => {
                steps.push(Step::RemoveHook(hook.clone()));
                if chained.exists() {
                    steps.push(Step::Restore { from: chained, to: hook });
                }
                steps.extend(layout.own_dirs().iter().map(|dir| Step::RemoveDir(git_dir.join(dir))));
            }
            _ if chained.exists() => notes.push(format!(
                "{} is left: {} is not countersign's hook",
                chained.display(),
                hook.display()
            )),
            _ => {}
        }
    }
    if let Some(workdir) = repo.workdir() {
        steps.extend(crate::verbs::install::client::uninstall_steps(workdir)?);
    }
    for key in ["countersign.bin", "countersign.policy", "countersign.policyRef", TRIAL_KEY] {
        if local_value(&repo, key)?.is_some() {
            steps.push(Step::UnsetConfig { key });
        }
    }
    if local_value(&repo, "receive.advertisePushOptions")?.is_some() {
        notes.push("git config receive.advertisePushOptions is left as it is".into());
    }
    Ok(Plan { git_dir, steps, notes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moved_hook_lives_beside_a_dispatcher_directory() {
        assert_eq!(
            chained_path(Path::new("/r.git/hooks/pre-receive")),
            Path::new("/r.git/hooks/pre-receive.countersign-chained")
        );
        assert_eq!(
            chained_path(Path::new("/r.git/hooks/pre-receive.d/countersign")),
            Path::new("/r.git/hooks/countersign.countersign-chained")
        );
    }

    #[test]
    fn the_shipped_script_and_the_old_one_are_ours() {
        assert!(is_ours(HOOK_SCRIPT));
        assert!(is_ours("#!/bin/sh\n# countersign pre-receive hook: copy to <repo.git>/hooks/pre-receive\n"));
        assert!(!is_ours("#!/bin/sh\nexec countersign pre-receive\n"));
    }
}
