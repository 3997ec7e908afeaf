//! `countersign approve`: a reviewer signs an approval of a change into its trailers.
//!
//! It shows what is being approved (subject, author, changed files, AI evidence), asks, signs
//! the statement of [`crate::signature`] with `ssh-keygen -Y sign` (so ssh-agent and hardware
//! keys work as for git's own SSH signing), and amends HEAD with the two trailer lines. For an
//! older commit or a range it prints the lines to add instead.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use git2::{Oid, Repository};
use jiff::civil::Date;

use crate::changes::{self, PathScope};
use crate::check::{self, CheckError};
use crate::facts::{Changes, CommitFacts};
use crate::policy::{Policy, PolicySource};
use crate::provenance::Detector;
use crate::repo::{self, Context, GitError};
use crate::signature::{self, NAMESPACE, TRAILER_KEY};
use crate::{patch_id, selection};

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
}

#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    #[error(transparent)]
    Git(#[from] GitError),
    #[error(transparent)]
    Revision(#[from] CheckError),
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
    #[error("{0}")]
    Io(#[from] std::io::Error),
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
    let repo = Repository::discover(&options.repo)
        .context(|| format!("opening the repository at {}", options.repo.display()))?;
    let config = repo.config().context(|| "reading git config".into())?;
    let name = config.get_string("user.name").map_err(|_| ApproveError::NoIdentity("user.name"))?;
    let email = config.get_string("user.email").map_err(|_| ApproveError::NoIdentity("user.email"))?;
    let key = signing_key(options.key.as_deref(), &config)?;
    let changes = changes(&repo, &options.target)?;

    // The built-in AI recognizers, to show the reviewer what the gate will see.
    let defaults = Policy::parse(PolicySource::new("(built-in defaults)", "version = 1\n"), today)
        .expect("the minimal policy is valid");
    let detector = Detector::new(&defaults.provenance);
    writeln!(out, "Approving as {name} <{email}>, key {}:", key.display())?;
    for change in &changes {
        describe(out, change, &detector)?;
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
    let head = repo.head().ok().and_then(|h| h.target());
    let mut signed = Vec::with_capacity(changes.len());
    for change in &changes {
        let armored = sign(&key, &signature::statement(&change.patch_id, &email))?;
        let value = signature::trailer_value(&change.patch_id, &armored)
            .map_err(|e| ApproveError::Sign(format!("ssh-keygen wrote no usable signature: {e}")))?;
        signed.push((change, format!("{TRAILER_KEY}: {value}")));
    }
    match signed.as_slice() {
        [(change, line)] if head.is_some_and(|h| h.to_string() == change.facts.id) => {
            amend_head(&repo, &approval, line)?;
            writeln!(out, "Amended HEAD with your signed approval; push it as usual.")?;
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
                "\nFor an older commit: git rebase -i <commit>~ (mark it \"edit\"), then\n\
                 git commit --amend --no-edit --trailer \"<line 1>\" --trailer \"<line 2>\"; git rebase --continue"
            )?;
        }
    }
    Ok(())
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
    let oids: Vec<Oid> = if target.contains("..") {
        let mut oids = selection::walk(repo, &revisions.include, &revisions.exclude)?;
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
            let commit = repo.find_commit(oid).context(|| format!("reading commit {oid}"))?;
            let patch_id = patch_id::patch_id(repo, &commit)?;
            let mut facts = repo::read_commit(repo, oid, false, false)?;
            facts.changes = Changes::Paths(changes::changed_paths(repo, &commit, &PathScope::ALL)?);
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

/// Adds the two trailers at the end of HEAD's trailer block, then checks they landed there,
/// adjacent, as the gate will read them.
fn amend_head(repo: &Repository, approval: &str, signature_line: &str) -> Result<(), ApproveError> {
    let workdir = repo.workdir().unwrap_or_else(|| repo.path());
    let output = Command::new("git")
        .current_dir(workdir)
        // The user's trailer config must not move or drop our lines.
        .args(["-c", "trailer.where=end", "-c", "trailer.ifExists=addIfDifferentNeighbor"])
        .args(["-c", "trailer.ifMissing=add", "commit", "--amend", "--no-edit", "--quiet"])
        .args(["--trailer", approval, "--trailer", signature_line])
        .output()?;
    if !output.status.success() {
        return Err(ApproveError::Amend(String::from_utf8_lossy(&output.stderr).trim().to_string()));
    }
    let head =
        repo.head().context(|| "reading HEAD".into())?.peel_to_commit().context(|| "reading HEAD".into())?;
    let trailers = CommitFacts::trailers_of(&String::from_utf8_lossy(head.message_bytes()));
    let recorded = trailers
        .windows(2)
        .last()
        .is_some_and(|pair| pair[0].to_string() == approval && pair[1].to_string() == signature_line);
    if recorded { Ok(()) } else { Err(ApproveError::NotRecorded) }
}
