//! The audit log (`[audit] path`): one JSON line per decision the hook makes, appended.
//!
//! Concurrent pushes each append one whole line: the file is opened with `O_APPEND`, locked
//! (`flock`, exclusive) and written with a single `write_all`; a failed write is cut back to
//! where it began, so a reader never sees a torn line. The lock is on the open file, not the
//! path: after taking it the writer checks that the path still names that file, and reopens if
//! the log was rotated (renamed) meanwhile. So rotating is `mv audit.jsonl audit.jsonl.1`, then
//! `flock audit.jsonl.1 true` (once that returns, no writer will touch `.1` again); the next
//! push creates a fresh file.
//!
//! The log refuses to follow a symlink or to write a file others may write (group or world
//! writable): an audit trail someone else can edit, or redirect, proves nothing.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::git::ref_updates::RefUpdate;
use crate::report::break_glass::Override;
use crate::report::{Decision, PolicyInfo, Problem, RefReport, Report, cut};
use engine::policy::Mode;
use engine::provenance::EvidenceKind;
use engine::pusher::Pusher;
use engine::verdict::{CommitStatus, CommitVerdict};

/// Mode of a log file we create (before the umask).
const NEW_FILE_MODE: u32 = 0o640;
/// Evidence items kept per commit.
const EVIDENCE_LIMIT: usize = 10;
/// Rotations survived while appending one line, before giving up.
const REOPEN_LIMIT: usize = 10;
/// How long a push waits for others to finish their lines: a process that holds the lock and
/// hangs must not hang every push after it (the push is refused when the log is required).
const LOCK_WAIT: Duration = Duration::from_secs(10);

fn lock(file: &File) -> std::io::Result<()> {
    let give_up = Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) if Instant::now() < give_up => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(TryLockError::WouldBlock) => {
                let held = format!("another process held its lock for {} s", LOCK_WAIT.as_secs());
                return Err(std::io::Error::new(std::io::ErrorKind::TimedOut, held));
            }
            Err(TryLockError::Error(e)) => return Err(e),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("audit log {}: {why}", path.display())]
    Unsafe { path: PathBuf, why: String },
    #[error("audit log {}: {cause}", path.display())]
    Io { path: PathBuf, cause: std::io::Error },
}

/// Appends `line` (one JSON object, no newline) and a newline, whole.
pub fn append(path: &Path, line: &str) -> Result<(), AuditError> {
    let io = |cause| AuditError::Io { path: path.to_path_buf(), cause };
    let unsafe_log = |why: &str| AuditError::Unsafe { path: path.to_path_buf(), why: why.to_string() };
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    for _ in 0..REOPEN_LIMIT {
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(unsafe_log("is a symlink; point [audit] path at the file itself"));
        }
        let mut file =
            OpenOptions::new().append(true).create(true).mode(NEW_FILE_MODE).open(path).map_err(io)?;
        lock(&file).map_err(io)?;
        let opened = file.metadata().map_err(io)?;
        if !opened.is_file() {
            return Err(unsafe_log("is not a regular file"));
        }
        if opened.mode() & 0o022 != 0 {
            return Err(unsafe_log(&format!(
                "is writable by group or others (mode {:o}); chmod go-w it",
                opened.mode() & 0o7777
            )));
        }
        // Renamed (rotated) or replaced between open and lock: write to what the path names now.
        let current = std::fs::symlink_metadata(path);
        if !current.is_ok_and(|m| m.dev() == opened.dev() && m.ino() == opened.ino()) {
            continue;
        }
        return write_whole(&mut file, opened.len(), &bytes).map_err(io);
    }
    Err(unsafe_log("keeps being replaced while it is written"))
}

/// One write; on failure the file is cut back to `len`, so no partial line stays behind.
fn write_whole(file: &mut File, len: u64, bytes: &[u8]) -> std::io::Result<()> {
    let written = file.write_all(bytes).and_then(|()| file.sync_data());
    if written.is_err() {
        let _ = file.set_len(len);
    }
    written
}

/// One decision, as logged.
#[derive(Debug, Serialize)]
pub struct Record<'a> {
    pub time: String,
    pub repository: String,
    pub pusher: &'a Pusher,
    /// What git was told: the push landed (`accept`) or not.
    pub decision: Decision,
    /// The policy's verdict; differs from `decision` in warn mode or a dry run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Decision>,
    pub enforced: bool,
    pub policy: PolicyInfo,
    /// Why the push was refused without a verdict (malformed input, missing object, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub refs: Vec<RefRecord<'a>>,
    #[serde(rename = "override", skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<&'a Override>,
}

#[derive(Debug, Serialize)]
pub struct RefRecord<'a> {
    #[serde(rename = "ref")]
    pub refname: String,
    /// The ref git writes, when the pushed name is a symbolic ref to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writes: Option<String>,
    pub old: String,
    pub new: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Decision>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub problems: &'a [Problem],
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub overridden: &'a [Problem],
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<&'a str>,
    pub commits: Vec<CommitRecord<'a>>,
}

#[derive(Debug, Serialize)]
pub struct CommitRecord<'a> {
    pub id: &'a str,
    pub summary: String,
    pub author: &'a engine::facts::Signature,
    pub verdict: CommitStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exempt: Option<&'a str>,
    pub ai_assisted: bool,
    pub evidence: Vec<EvidenceRecord>,
    /// Rules that applied: satisfied or not, and the approvals that counted.
    pub rules: Vec<RuleRecord<'a>>,
}

#[derive(Debug, Serialize)]
pub struct EvidenceRecord {
    pub kind: EvidenceKind,
    pub text: String,
}

#[derive(Debug, Serialize)]
pub struct RuleRecord<'a> {
    pub name: &'a str,
    pub mode: Mode,
    pub satisfied: bool,
    pub counted: &'a [engine::approvals::Counted],
}

impl<'a> RefRecord<'a> {
    pub fn judged(r: &'a RefReport) -> Self {
        RefRecord {
            refname: r.refname.clone(),
            writes: (r.writes != r.refname).then(|| r.writes.clone()),
            old: r.old.to_string(),
            new: r.new.to_string(),
            verdict: Some(r.decision()),
            problems: &r.problems,
            overridden: &r.overridden,
            note: r.note.as_deref(),
            commits: r.commits.iter().map(CommitRecord::new).collect(),
        }
    }

    /// An update the hook read but could not judge.
    pub fn unjudged(update: &RefUpdate) -> Self {
        RefRecord {
            refname: update.refname.clone(),
            writes: None,
            old: update.old.to_string(),
            new: update.new.to_string(),
            verdict: None,
            problems: &[],
            overridden: &[],
            note: None,
            commits: Vec::new(),
        }
    }
}

impl<'a> CommitRecord<'a> {
    fn new(c: &'a CommitVerdict) -> Self {
        CommitRecord {
            id: &c.id,
            summary: cut(&c.summary),
            author: &c.author,
            verdict: c.verdict,
            exempt: c.exempt.as_deref(),
            ai_assisted: c.ai_assisted,
            evidence: c
                .evidence
                .iter()
                .take(EVIDENCE_LIMIT)
                .map(|e| EvidenceRecord { kind: e.kind, text: cut(&e.text) })
                .collect(),
            rules: c
                .rules
                .iter()
                .filter(|r| r.applies)
                .map(|r| RuleRecord {
                    name: &r.name,
                    mode: r.mode,
                    satisfied: r.satisfied,
                    counted: &r.counted,
                })
                .collect(),
        }
    }
}

impl Record<'_> {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("an audit record always serializes")
    }
}

/// The refs of a judged push.
pub fn refs_of(report: &Report) -> Vec<RefRecord<'_>> {
    report.refs.iter().map(RefRecord::judged).collect()
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn appends_whole_lines_to_a_new_private_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        append(&path, "{\"a\":1}").unwrap();
        append(&path, "{\"a\":2}").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"a\":2}\n");
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o077 & !0o040, 0, "no more than 0640");
    }

    #[test]
    fn concurrent_writers_never_interleave() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let lines: Vec<String> =
            (0..16).map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(100_000))).collect();
        std::thread::scope(|s| {
            for line in &lines {
                let path = &path;
                s.spawn(move || append(path, line).unwrap());
            }
        });
        let text = std::fs::read_to_string(&path).unwrap();
        let mut read: Vec<&str> = text.lines().collect();
        read.sort();
        let mut expected: Vec<&str> = lines.iter().map(String::as_str).collect();
        expected.sort();
        assert_eq!(read, expected);
    }

    #[test]
    fn a_symlink_or_group_writable_log_is_refused_with_why() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real.jsonl");
        std::fs::write(&target, "").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        let link = dir.path().join("audit.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(append(&link, "{}").unwrap_err().to_string().contains("is a symlink"));
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o664)).unwrap();
        let error = append(&target, "{}").unwrap_err().to_string();
        assert!(error.contains("writable by group or others (mode 664)"), "{error}");
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "", "nothing written");
    }

    #[test]
    fn after_a_rotation_the_next_line_starts_a_new_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        append(&path, "1").unwrap();
        std::fs::rename(&path, dir.path().join("audit.jsonl.1")).unwrap();
        append(&path, "2").unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("audit.jsonl.1")).unwrap(), "1\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "2\n");
    }
}
