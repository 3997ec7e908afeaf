//! `countersign approve`: a reviewer signs an approval of a change into its trailers.
//!
//! It shows what is being approved (subject, author, changed files, AI evidence), asks, signs
//! the statement of [`engine::signature`] with `ssh-keygen -Y sign` (so ssh-agent and hardware
//! keys work as for git's own SSH signing), and amends HEAD with the two trailer lines. For an
//! older commit or a range it prints the lines to add instead, or, with `--rewrite`, rewrites
//! a range that ends at HEAD, as `git rebase` would, and moves the branch.
//!
//! With `--push` it records the approval on the server instead ([`crate::git::recorded`]): one ref
//! per change, pushed under the reviewer's own login, which the server checks. No key, no
//! rewritten commit.

use std::io::{BufRead, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use git2::{Oid, Repository};
use jiff::civil::Date;

use crate::git::changes::{self, Detail, PathScope, Trees};
use crate::git::commit::CommitObject;
use crate::git::commit_graph::CommitGraph;
use crate::git::error::{Context, GitError};
use crate::git::repo;
use crate::verbs::check::{self, CheckError};
use crate::{git::patch_id, git::recorded, git::selection};
use engine::facts::{Changes, CommitFacts};
use engine::policy::{Policy, PolicySource};
use engine::provenance::Detector;
use engine::signature::{self, NAMESPACE, TRAILER_KEY};

/// The approval key `approve` writes; the policy's default approval keys include it.
pub const APPROVAL_KEY: &str = "Approved-by";
/// How many changed files the summary lists per commit.
const FILES_SHOWN: usize = 20;

pub struct Options {
    pub repo: PathBuf,
    /// Private key file, or public key file whose private half is in ssh-agent.
    pub key: Option<PathBuf>,
    /// Sign without asking.
    pub yes: bool,
    /// A commit, or a range as `git rev-list` reads it (`A..B`).
    pub target: String,
    /// Rewrite the range (which must end at HEAD) instead of printing the trailers to add.
    pub rewrite: bool,
}

/// `approve --push`: record approvals on the server.
pub struct RecordOptions {
    pub repo: PathBuf,
    pub remote: String,
    /// The reviewer's login on the server (default: git config countersign.login).
    pub login: Option<String>,
    /// A commit, or a range as `git rev-list` reads it (`A..B`).
    pub target: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    #[error(
        "no login: pass --login NAME, or set git config countersign.login to your login on the \
         server (the one it authenticates you as)"
    )]
    NoLogin,
    // The remote is not shown: a URL may carry a password.
    #[error("git push failed; nothing recorded (the server's reason is above)")]
    Push,
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Revision(#[from] CheckError),
    #[error("{0} is not an object id")]
    NotAnId(String),
    #[error("`{0}` names no commit to approve")]
    Nothing(String),
    #[error("git config {0} is not set: approvals are signed as your git identity (user.name, user.email)")]
    NoIdentity(&'static str),
    #[error(
        "no signing key: pass --key FILE, or set git config user.signingkey to a key file (as for \
         git's SSH commit signing)"
    )]
    NoKey,
    #[error("signing key {0} is not a file (a literal `key::` value cannot be used; pass --key FILE)")]
    KeyNotAFile(String),
    #[error("nothing signed: standard input is not a terminal to confirm on; pass --yes to sign anyway")]
    NoTerminal,
    #[error("nothing signed: not confirmed")]
    Declined,
    #[error("ssh-keygen -Y sign failed: {0}")]
    Sign(String),
    #[error("git commit --amend failed: {0}")]
    Amend(String),
    #[error("amended HEAD does not carry the signed approval as its last trailers; check `git log -1`")]
    NotRecorded,
    #[error("nothing rewritten: {0} is a merge; --rewrite rewrites linear history only")]
    RewriteMerge(String),
    #[error(
        "nothing rewritten: --rewrite needs a range that ends at HEAD (e.g. main..HEAD), and `{target}` \
         ends at {tip}; check out its branch first"
    )]
    RewriteNotAtHead { target: String, tip: String },
    #[error("nothing rewritten: the working tree has uncommitted changes; commit or stash them first")]
    RewriteDirty,
    #[error("nothing rewritten: --rewrite needs a repository with a working tree")]
    RewriteBare,
    #[error("rewriting {commit} failed: {why}")]
    Rewrite { commit: String, why: String },
    #[error(
        "rewritten commit {0} does not carry the signed approval as its last trailers; the branch was \
         not moved"
    )]
    RewriteNotRecorded(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Records the approval of every change of `options.target` on the server, as the login the
/// server will authenticate: `git push REMOTE <commit>:refs/countersign/approvals/<patch-id>/<login>`.
pub fn record(options: &RecordOptions, out: &mut dyn Write) -> Result<(), ApproveError> {
    let repo = repo::discover(&options.repo)?;
    let login = match &options.login {
        Some(login) => login.clone(),
        None => repo
            .config()
            .and_then(|c| c.get_string("countersign.login"))
            .map_err(|_| ApproveError::NoLogin)?,
    };
    let changes = changes(&repo, &options.target)?;
    let refspecs: Vec<String> = changes
        .iter()
        .map(|change| format!("{}:{}", change.facts.id, recorded::ref_name(&change.patch_id, &login)))
        .collect();
    let workdir = repo.workdir().unwrap_or(repo.path());
    let status = Command::new("git")
        .current_dir(workdir)
        .args(["push", "--quiet", &options.remote])
        .args(&refspecs)
        .stdin(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(ApproveError::Push);
    }
    for change in &changes {
        writeln!(
            out,
            "recorded: {login} approves {} \"{}\"",
            &change.facts.id[..12],
            change.facts.summary()
        )?;
    }
    Ok(())
}

/// One commit to approve, and what its reviewer is shown.
struct Change {
    facts: CommitFacts,
    patch_id: String,
}

/// Runs `approve`. `input` answers the confirmation (only read when `interactive`); `out` gets
/// the summary and, for commits that are not HEAD, the trailer lines to add.
pub fn run(
    options: &Options,
    input: &mut dyn BufRead,
    out: &mut dyn Write,
    interactive: bool,
    today: Date,
) -> Result<(), ApproveError> {
    let repo = repo::discover(&options.repo)?;
    let config = repo.config().context(|| "reading git config".into())?;
    let name = config.get_string("user.name").map_err(|_| ApproveError::NoIdentity("user.name"))?;
    let email = config.get_string("user.email").map_err(|_| ApproveError::NoIdentity("user.email"))?;
    let key = signing_key(options.key.as_deref(), &config)?;
    let changes = changes(&repo, &options.target)?;
    // Refuse before asking or signing: a refused rewrite leaves everything as it was.
    let rewrite = if options.rewrite { Some(plan_rewrite(&repo, &options.target, &changes)?) } else { None };

    // The built-in AI recognizers, to show the reviewer what the gate will see.
    let defaults = Policy::parse(PolicySource::new("(built-in defaults)", "version = 1\n"), today)
        .expect("the minimal policy is valid");
    let detector = Detector::new(&defaults.provenance);
    writeln!(out, "Approving as {name} <{email}>, key {}:", key.display())?;
    for change in &changes {
        describe(out, change, &detector)?;
    }
    for warning in identity_warnings(&name, &email, &changes) {
        writeln!(out, "\nwarning: {warning}")?;
    }
    if !options.yes {
        if !interactive {
            return Err(ApproveError::NoTerminal);
        }
        write!(out, "Sign {} approval(s)? [y/N] ", changes.len())?;
        out.flush()?;
        let mut answer = String::new();
        input.read_line(&mut answer)?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            return Err(ApproveError::Declined);
        }
    }
    let approval = format!("{APPROVAL_KEY}: {name} <{email}>");
    let head = repo::resolve_ref(&repo, "HEAD")?;
    let mut signed = Vec::with_capacity(changes.len());
    for change in &changes {
        let armored = sign(&key, &signature::statement(&change.patch_id, &email))?;
        let value = signature::trailer_value(&change.patch_id, &armored)
            .map_err(|e| ApproveError::Sign(format!("ssh-keygen wrote no usable signature: {e}")))?;
        signed.push((change, format!("{TRAILER_KEY}: {value}")));
    }
    if let Some(branch) = rewrite {
        let tip = rewrite_range(&repo, &branch, &approval, &signed)?;
        writeln!(
            out,
            "Rewrote {} commit(s) with your signed approvals; {} is now {}. Push it with \
             git push --force-with-lease.",
            signed.len(),
            branch.name.as_deref().unwrap_or("HEAD"),
            repo::short(&tip.to_string())
        )?;
        return Ok(());
    }
    match signed.as_slice() {
        [(change, line)] if let Some(old) = head.filter(|h| h.to_string() == change.facts.id) => {
            amend_head(&repo, &approval, line)?;
            match pushed_to(&repo, old) {
                Some(remote) => writeln!(
                    out,
                    "Amended HEAD with your signed approval. The commit it replaces is already on \
                     {remote}: push with git push --force-with-lease."
                )?,
                None => writeln!(out, "Amended HEAD with your signed approval; push it as usual.")?,
            }
        }
        _ => {
            for (change, line) in &signed {
                writeln!(
                    out,
                    "\n{} {:?}: add these two trailers, in this order:",
                    repo::short(&change.facts.id),
                    change.facts.summary()
                )?;
                writeln!(out, "{approval}\n{line}")?;
            }
            writeln!(
                out,
                "\nOr let approve rewrite a range that ends at HEAD: countersign approve --rewrite RANGE.\n\
                 By hand, for an older commit: git rebase -i <commit>~ (mark it \"edit\"), then\n\
                 git commit --amend --no-edit --trailer \"<line 1>\" --trailer \"<line 2>\"; git rebase --continue"
            )?;
        }
    }
    Ok(())
}

/// What the reviewer should know before signing as git config's identity: approve signs as
/// `user.name`/`user.email`, which in a clone may be the developer's, not the reviewer's; and
/// an approval of one's own change never counts.
fn identity_warnings(name: &str, email: &str, changes: &[Change]) -> Vec<String> {
    let me = engine::identity::normalize_email(email);
    let mut warnings = Vec::new();
    for change in changes {
        let facts = &change.facts;
        let id = repo::short(&facts.id);
        let co_author = facts
            .trailers
            .iter()
            .filter(|t| t.key_in(&["Co-authored-by", "Co-developed-by"]))
            .flat_map(|t| engine::identity::emails_in(&t.value))
            .any(|e| engine::identity::normalize_email(e) == me);
        if engine::identity::normalize_email(&facts.author.email) == me || co_author {
            warnings.push(format!(
                "{id} is your own change ({name} <{email}> wrote it): an approval by its author or a \
                 co-author never counts"
            ));
        } else if engine::identity::normalize_email(&facts.committer.email) == me {
            warnings.push(format!(
                "{id} was committed by {name} <{email}>, the identity you sign as (git config \
                 user.name/user.email); if that is not you, the reviewer, stop and set your own"
            ));
        }
    }
    warnings
}

/// A remote-tracking ref that already holds `commit` (a rewrite of it needs a forced push).
/// Listed by git, which reads reftable refs too.
fn pushed_to(repo: &Repository, commit: Oid) -> Option<String> {
    let contains = format!("--contains={commit}");
    let output =
        repo::git(repo, &["for-each-ref", "--format=%(refname:short)", &contains, "refs/remotes/"]).ok()?;
    let listed = String::from_utf8_lossy(&output.stdout);
    output.status.success().then(|| listed.lines().next().map(str::to_string)).flatten()
}

/// `--key`, else git config `user.signingkey` when it names a file (`~/` expanded).
fn signing_key(flag: Option<&Path>, config: &git2::Config) -> Result<PathBuf, ApproveError> {
    let path = match flag {
        Some(path) => path.to_path_buf(),
        None => {
            let value = config.get_string("user.signingkey").map_err(|_| ApproveError::NoKey)?;
            match (value.strip_prefix("~/"), std::env::var_os("HOME")) {
                (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
                _ => PathBuf::from(value),
            }
        }
    };
    if !path.is_file() {
        return Err(ApproveError::KeyNotAFile(path.display().to_string()));
    }
    Ok(path)
}

/// The commits `target` names: one commit, or every commit of a range (oldest first).
fn changes(repo: &Repository, target: &str) -> Result<Vec<Change>, ApproveError> {
    let revisions = check::resolve(repo, &[target.to_string()])?;
    let graph = CommitGraph::open(repo);
    let oids: Vec<Oid> = if target.contains("..") {
        let mut oids = selection::walk(repo, graph.as_ref(), &revisions.include, &revisions.exclude)?;
        oids.reverse();
        oids
    } else {
        revisions.include
    };
    if oids.is_empty() {
        return Err(ApproveError::Nothing(target.to_string()));
    }
    oids.into_iter()
        .map(|oid| {
            let commit = CommitObject::read(repo, oid)?;
            let patch_id = patch_id::patch_id(repo, &commit)?;
            let mut facts = repo::read_commit(repo, &commit, repo::PatchIds::Never, false, false)?;
            facts.changes = Changes::Paths(changes::changed_paths(
                &mut Trees::new(repo, graph.as_ref()),
                &commit,
                &PathScope::ALL,
                Detail::Paths,
            )?);
            Ok(Change { facts, patch_id })
        })
        .collect()
}

fn describe(out: &mut dyn Write, change: &Change, detector: &Detector<'_>) -> std::io::Result<()> {
    let facts = &change.facts;
    writeln!(out, "\n  {} {:?}", repo::short(&facts.id), facts.summary())?;
    writeln!(out, "    author: {}", facts.author)?;
    if let Changes::Paths(paths) = &facts.changes {
        writeln!(out, "    files ({}):", paths.len())?;
        for path in paths.iter().take(FILES_SHOWN) {
            writeln!(out, "      {path}")?;
        }
        if paths.len() > FILES_SHOWN {
            writeln!(out, "      ... and {} more", paths.len() - FILES_SHOWN)?;
        }
    }
    let provenance = detector.detect(facts);
    if provenance.evidence.is_empty() {
        writeln!(out, "    AI evidence: none found")?;
    }
    for evidence in &provenance.evidence {
        writeln!(out, "    AI evidence ({}): {}", evidence.kind, evidence.text)?;
    }
    writeln!(out, "    patch-id: {}", change.patch_id)
}

/// `ssh-keygen -Y sign -f KEY -n countersign`, the statement on stdin, the armored signature
/// on stdout.
fn sign(key: &Path, statement: &str) -> Result<String, ApproveError> {
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", NAMESPACE, "-f"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| ApproveError::Sign(format!("cannot run ssh-keygen: {e}")))?;
    child.stdin.take().expect("stdin is piped").write_all(statement.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        return Err(ApproveError::Sign(String::from_utf8_lossy(&output.stderr).trim().to_string()));
    }
    String::from_utf8(output.stdout).map_err(|_| ApproveError::Sign("the signature is not text".into()))
}

/// `git` in the repository's working tree, with the trailer settings that put our two lines at
/// the end of the trailer block whatever the user's own `trailer.*` config says.
fn git_placing_trailers(repo: &Repository) -> Command {
    let mut command = Command::new("git");
    command
        .current_dir(repo.workdir().unwrap_or_else(|| repo.path()))
        .args(["-c", "trailer.where=end", "-c", "trailer.ifExists=addIfDifferentNeighbor"])
        .args(["-c", "trailer.ifMissing=add"]);
    command
}

/// Whether `message` ends its trailer block with the approval and its signature, adjacent, as
/// the gate will read them.
fn carries_approval(message: &str, approval: &str, signature_line: &str) -> bool {
    CommitFacts::trailers_of(message)
        .windows(2)
        .last()
        .is_some_and(|pair| pair[0].to_string() == approval && pair[1].to_string() == signature_line)
}

/// Adds the two trailers at the end of HEAD's trailer block, then checks they landed there.
fn amend_head(repo: &Repository, approval: &str, signature_line: &str) -> Result<(), ApproveError> {
    let output = git_placing_trailers(repo)
        .args(["commit", "--amend", "--no-edit", "--quiet"])
        .args(["--trailer", approval, "--trailer", signature_line])
        .output()?;
    if !output.status.success() {
        return Err(ApproveError::Amend(String::from_utf8_lossy(&output.stderr).trim().to_string()));
    }
    let head = repo::resolve_ref(repo, "HEAD")?
        .ok_or_else(|| GitError::new("reading HEAD".into(), git2::Error::from_str("no commit")))?;
    let head = repo.find_commit(head).context(|| format!("reading HEAD's commit {head}"))?;
    let message = repo::decode_message(head.message_raw_bytes(), head.message_encoding().ok().flatten());
    if carries_approval(&message, approval, signature_line) { Ok(()) } else { Err(ApproveError::NotRecorded) }
}

/// Where a rewrite lands: HEAD's branch (`None`: a detached HEAD) and the tip it must still be
/// at when the rewritten commits replace it.
struct Branch {
    name: Option<String>,
    tip: Oid,
}

/// Checks that `changes` (oldest first) can be rewritten: no merge, a chain each commit of which
/// is the first parent of the next, ending at HEAD, and no uncommitted change to lose track of.
fn plan_rewrite(repo: &Repository, target: &str, changes: &[Change]) -> Result<Branch, ApproveError> {
    let mut commits = Vec::with_capacity(changes.len());
    for change in changes {
        let oid =
            repo::parse_id(&change.facts.id).ok_or_else(|| ApproveError::NotAnId(change.facts.id.clone()))?;
        let commit = repo.find_commit(oid).context(|| format!("reading commit {oid}"))?;
        if commit.parent_count() > 1 {
            return Err(ApproveError::RewriteMerge(repo::short(&change.facts.id).to_string()));
        }
        commits.push(commit);
    }
    // Without merges a range is one line; checked anyway, as the rewrite relies on it.
    if let Some(pair) = commits.windows(2).find(|pair| pair[1].parent_id(0).ok() != Some(pair[0].id())) {
        return Err(ApproveError::Rewrite {
            commit: repo::short(&pair[1].id().to_string()).to_string(),
            why: "the range is not one line of history".into(),
        });
    }
    let previous = commits.last().map(|c| c.id());
    let tip = previous.ok_or_else(|| ApproveError::Nothing(target.to_string()))?;
    if repo::resolve_ref(repo, "HEAD")? != Some(tip) {
        return Err(ApproveError::RewriteNotAtHead {
            target: target.to_string(),
            tip: repo::short(&tip.to_string()).to_string(),
        });
    }
    let name = repo::head_branch(repo)?.filter(|name| name.starts_with("refs/heads/"));
    if repo.is_bare() {
        return Err(ApproveError::RewriteBare);
    }
    // As `git rebase` does: untracked files do not stop it, changes to tracked ones do.
    let status = Command::new("git")
        .current_dir(repo.workdir().unwrap_or_else(|| repo.path()))
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()?;
    if !status.status.success() {
        return Err(ApproveError::Rewrite {
            commit: "HEAD".into(),
            why: format!("git status failed: {}", String::from_utf8_lossy(&status.stderr).trim()),
        });
    }
    if !status.stdout.is_empty() {
        return Err(ApproveError::RewriteDirty);
    }
    Ok(Branch { name, tip })
}

/// Rewrites each signed commit (oldest first) with its two trailers, onto the rewritten one
/// before it, then moves the branch to the new tip if it is still where the plan found it.
///
/// Each commit is made as `git commit --amend` would make it: `git interpret-trailers` as
/// `commit --trailer` runs it, `git commit-tree` with the author (name, email, date) unchanged,
/// the committer the current user now, the message's encoding kept, and signed when
/// `commit.gpgSign` says so. The trees stay the same, so each diff and patch-id does too:
/// what was signed before the rewrite holds after it.
fn rewrite_range(
    repo: &Repository,
    branch: &Branch,
    approval: &str,
    signed: &[(&Change, String)],
) -> Result<Oid, ApproveError> {
    let config = repo.config().context(|| "reading git config".into())?;
    let sign_commits = config.get_bool("commit.gpgsign").unwrap_or(false);
    let mut parent: Option<Oid> = None;
    for (change, signature_line) in signed {
        let oid =
            repo::parse_id(&change.facts.id).ok_or_else(|| ApproveError::NotAnId(change.facts.id.clone()))?;
        let commit = repo.find_commit(oid).context(|| format!("reading commit {oid}"))?;
        let short = repo::short(&change.facts.id).to_string();
        let failed = |why: String| ApproveError::Rewrite { commit: short.clone(), why };
        let encoding = commit.message_encoding().context(|| format!("reading the encoding of {oid}"))?;
        let message = run_git(
            git_placing_trailers(repo).args(["interpret-trailers", "--no-divider"]).args([
                "--trailer",
                approval,
                "--trailer",
                signature_line,
            ]),
            commit.message_raw_bytes(),
        )
        .map_err(|why| failed(format!("git interpret-trailers: {why}")))?;
        if !carries_approval(&repo::decode_message(&message, encoding), approval, signature_line) {
            return Err(ApproveError::RewriteNotRecorded(short));
        }
        let author = commit.author();
        let time = author.when();
        let offset = time.offset_minutes();
        let sign = if offset < 0 { '-' } else { '+' };
        let date = format!("@{} {sign}{:02}{:02}", time.seconds(), offset.abs() / 60, offset.abs() % 60);
        let mut command = Command::new("git");
        command.current_dir(repo.workdir().unwrap_or_else(|| repo.path()));
        if let Some(encoding) = encoding {
            command.arg("-c").arg(format!("i18n.commitEncoding={encoding}"));
        }
        command
            .args(["commit-tree", "-F", "-"])
            .arg(commit.tree_id().to_string())
            .env("GIT_AUTHOR_NAME", std::ffi::OsStr::from_bytes(author.name_bytes()))
            .env("GIT_AUTHOR_EMAIL", std::ffi::OsStr::from_bytes(author.email_bytes()))
            .env("GIT_AUTHOR_DATE", date);
        // `parent` is None only for the first commit: its parent is outside the range.
        let new_parent = parent.or_else(|| commit.parent_id(0).ok());
        if let Some(new_parent) = new_parent {
            command.args(["-p", &new_parent.to_string()]);
        }
        if sign_commits {
            command.arg("-S");
        }
        let id = run_git(&mut command, &message).map_err(|why| failed(format!("git commit-tree: {why}")))?;
        let id = String::from_utf8_lossy(&id);
        let new = repo::parse_id(id.trim())
            .ok_or_else(|| failed(format!("git commit-tree printed {:?}, not a commit id", id.trim())))?;
        parent = Some(new);
    }
    let tip = parent.expect("a rewrite has at least one commit");
    let log = "countersign approve --rewrite: signed approvals";
    // Compare-and-swap: a branch (or detached HEAD) moved meanwhile is left alone. Written by
    // git, as the refs may be reftable, which libgit2 cannot write.
    let (tip_hex, old_hex) = (tip.to_string(), branch.tip.to_string());
    let args: Vec<&str> = match &branch.name {
        Some(name) => vec!["update-ref", "-m", log, name, &tip_hex, &old_hex],
        None => vec!["update-ref", "--no-deref", "-m", log, "HEAD", &tip_hex, &old_hex],
    };
    let failed = |why: String| ApproveError::Rewrite { commit: repo::short(&tip_hex).to_string(), why };
    let moved = repo::git(repo, &args).map_err(failed)?;
    if !moved.status.success() {
        return Err(failed(format!(
            "moving {}: {}",
            branch.name.as_deref().unwrap_or("HEAD"),
            String::from_utf8_lossy(&moved.stderr).trim()
        )));
    }
    Ok(tip)
}

/// Runs `command` with `input` on its stdin; its stdout, or its stderr as the error.
fn run_git(command: &mut Command, input: &[u8]) -> Result<Vec<u8>, String> {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // Written from a thread: a large message would fill the pipe while git fills stdout.
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().map_err(|e| e.to_string())?;
    let written = writer.join().map_err(|_| "writing to git panicked".to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
    }
    written.map_err(|e| e.to_string())?;
    Ok(output.stdout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::facts::Signature;

    fn change(author: &str, committer: &str, message: &str) -> Change {
        let who = |email: &str| Signature { name: "Someone".into(), email: email.into() };
        let facts = CommitFacts::of_message("a".repeat(40), who(author), who(committer), message.into());
        Change { facts, patch_id: String::new() }
    }

    #[test]
    fn signing_your_own_change_or_as_its_committer_is_warned_about() {
        let me = ("Alice Senior", "Alice@Example.com");
        let warn = |c: Change| identity_warnings(me.0, me.1, &[c]);
        assert!(warn(change("alice@example.com", "bob@x.io", "Fix\n"))[0].contains("is your own change"));
        let co = change("bob@x.io", "bob@x.io", "Fix\n\nCo-authored-by: Alice <alice@example.com>\n");
        assert!(warn(co)[0].contains("an approval by its author or a co-author never counts"));
        assert!(
            warn(change("bob@x.io", "alice@example.com", "Fix\n"))[0]
                .contains("if that is not you, the reviewer")
        );
        assert_eq!(warn(change("bob@x.io", "bob@x.io", "Fix\n")), Vec::<String>::new());
    }
}
