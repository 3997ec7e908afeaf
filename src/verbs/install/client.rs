//! `countersign install --client`: the pre-push and commit-msg hooks in a developer's clone
//! ([`crate::verbs::client`] is what they run), where git runs that clone's hooks (`core.hooksPath`
//! respected), and the git config they read.

use std::path::{Path, PathBuf};
use std::process::Command;

use jiff::civil::Date;

use crate::git::policy_source::{self, Flags, Location, LookupError};
use crate::verbs::install::{self, InstallError, Plan, PolicyChoice, Step};

/// The client hooks, as shipped: the file name in the hooks directory and its script.
pub const CLIENT_HOOKS: [(&str, &str); 2] = [
    ("pre-push", include_str!("../../../hooks/pre-push")),
    ("commit-msg", include_str!("../../../hooks/commit-msg")),
];

#[derive(Debug)]
pub struct ClientOptions {
    pub repo: PathBuf,
    pub policy: PolicyChoice,
    pub force: bool,
    /// The binary the hooks run (git config `countersign.bin`).
    pub bin: PathBuf,
}

/// The directory git runs this clone's hooks from: `core.hooksPath` if set (relative to the
/// work tree), else `hooks/` of the common git directory. Asked of git, which knows the rules.
pub fn hooks_dir(workdir: &Path) -> Result<PathBuf, InstallError> {
    let output = Command::new("git")
        .arg("-C")
        .arg(workdir)
        .args(["rev-parse", "--git-path", "hooks"])
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
        .map_err(|source| InstallError::Io {
            what: "running git rev-parse --git-path hooks".into(),
            source,
        })?;
    if !output.status.success() {
        return Err(InstallError::Io {
            what: "finding the hooks directory".into(),
            source: std::io::Error::other(String::from_utf8_lossy(&output.stderr).trim().to_string()),
        });
    }
    let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim_end());
    Ok(if path.is_absolute() { path } else { workdir.join(path) })
}

/// What `countersign install --client` would do. The policy is found (or the one given checked)
/// first: a client hook without one would only ever say "not checked".
pub fn plan_client_install(options: &ClientOptions, today: Date) -> Result<Plan, InstallError> {
    let repo = install::open(&options.repo)?;
    let git_dir: PathBuf = repo.path().components().collect();
    let Some(workdir) = repo.workdir() else {
        return Err(InstallError::BareForClient(git_dir.display().to_string()));
    };
    let mut notes = Vec::new();
    let (file, committed) = match &options.policy {
        PolicyChoice::File(path) => {
            let absolute = std::path::absolute(path).map_err(|source| InstallError::Io {
                what: format!("resolving {}", path.display()),
                source,
            })?;
            (Some(absolute.to_string_lossy().into_owned()), None)
        }
        PolicyChoice::Committed(spec) => (None, Some(spec.clone())),
        PolicyChoice::Keep => (None, None),
    };
    let flags = Flags { file: file.as_ref().map(PathBuf::from), committed: committed.clone() };
    let location = policy_source::locate_in_clone(&flags, &repo, None)?;
    if let Location::Committed { refname, .. } = &location
        && crate::git::repo::resolve_ref(&repo, refname)?.is_none()
    {
        return Err(LookupError::RefMissing(refname.clone()).into());
    }
    let policy = policy_source::load(&location, &repo, today)?;
    let how = match &options.policy {
        PolicyChoice::Keep
            if install::local_value(&repo, "countersign.policyRef")?.is_none()
                && install::local_value(&repo, "countersign.policy")?.is_none() =>
        {
            " (found on the remote's default branch; the hook looks again at each push)"
        }
        _ => "",
    };
    notes.push(format!("policy {location}: valid ({} rules){how}", policy.rules.len()));

    let mut steps = Vec::new();
    let wanted = [
        ("countersign.bin", Some(options.bin.to_string_lossy().into_owned())),
        ("countersign.policy", file),
        ("countersign.policyRef", committed),
    ];
    let keep = matches!(options.policy, PolicyChoice::Keep);
    for (key, want) in wanted {
        let have = install::local_value(&repo, key)?;
        match want {
            Some(value) if have.as_deref() != Some(value.as_str()) => {
                steps.push(Step::SetConfig { key, value })
            }
            // One policy setting at a time: the other one given replaces it.
            None if have.is_some() && !keep && key != "countersign.bin" => {
                steps.push(Step::UnsetConfig { key })
            }
            _ => {}
        }
    }
    let hooks = hooks_dir(workdir)?;
    if !hooks.is_dir() {
        steps.push(Step::CreateDir(hooks.clone()));
    }
    for (name, script) in CLIENT_HOOKS {
        steps.extend(install::hook_steps(hooks.join(name), script, options.force)?);
    }
    Ok(Plan { git_dir, steps, notes })
}

/// Our client hooks in `repo`'s hooks directory, to remove (a hook moved aside comes back).
pub fn uninstall_steps(workdir: &Path) -> Result<Vec<Step>, InstallError> {
    let hooks = hooks_dir(workdir)?;
    let mut steps = Vec::new();
    for (name, _) in CLIENT_HOOKS {
        let hook = hooks.join(name);
        let ours = std::fs::read(&hook).is_ok_and(|bytes| install::is_ours(&String::from_utf8_lossy(&bytes)));
        if ours {
            steps.push(Step::RemoveHook(hook.clone()));
            let chained = install::chained_path(&hook);
            if chained.exists() {
                steps.push(Step::Restore { from: chained, to: hook });
            }
        }
    }
    Ok(steps)
}
