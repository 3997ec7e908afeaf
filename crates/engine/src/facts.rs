//! Plain facts about a commit, read once from git and handed to the pure engine.
//!
//! Nothing here refers to git2: the engine and its tests work on values a test can build by
//! hand, and the git-reading layer is the only place that knows how objects are stored.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Signature {
    pub name: String,
    pub email: String,
}

impl core::fmt::Display for Signature {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} <{}>", self.name, self.email)
    }
}

/// One line of the trailer block, owned, as git prints it with `%(trailers:only,unfold)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrailerLine {
    pub key: String,
    pub value: String,
}

impl TrailerLine {
    /// Whether the key is one of `keys`; trailer keys compare case-insensitively, as in git.
    pub fn key_in<K: AsRef<str>>(&self, keys: &[K]) -> bool {
        keys.iter().any(|k| k.as_ref().eq_ignore_ascii_case(&self.key))
    }
}

impl core::fmt::Display for TrailerLine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.key, self.value)
    }
}

/// What a commit changed, as far as the policy needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Changes {
    /// No active rule looks at paths, so no tree was diffed.
    NotNeeded,
    /// Repository-relative paths, `/`-separated: both sides of a rename, deletions, gitlinks;
    /// for a merge only the paths where it differs from every parent.
    Paths(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct CommitFacts {
    pub id: String,
    pub author: Signature,
    pub committer: Signature,
    /// Committer time, Unix seconds (what `git log --since` compares).
    pub timestamp: i64,
    /// The message as git log shows it (decoded to UTF-8).
    pub message: String,
    pub trailers: Vec<TrailerLine>,
    /// A merge that introduces no path of its own: exempt from the rules (SPEC).
    pub clean_merge: bool,
    /// No parent: a fix line that rewrites it rebases from the root.
    pub root: bool,
    /// Reachable from a `[gate] baseline` commit: history the gate does not judge.
    pub in_baseline: bool,
    pub changes: Changes,
    /// The change's patch-id (`countersign::git::patch_id`), read only when an active rule checks
    /// approval signatures and the message carries one, or counts recorded approvals.
    pub patch_id: Option<String>,
    /// The commit's own signature, read only when `[gate] signed_commits` asks for one.
    pub git_signature: GitSignature,
    /// Approvals recorded on the server for this change (its patch-id), read only when a rule
    /// counts them (`countersign::git::recorded`).
    pub recorded: Vec<RecordedApproval>,
    /// Approvals recorded for an earlier version of this change (another diff), found only for
    /// a commit that fails without them: they do not count, and the report says why.
    pub stale: Vec<RecordedApproval>,
    /// Its notes under the `[provenance] notes` refs, in the policy's order.
    pub notes: Vec<NoteFact>,
}

/// An approval recorded on the server by `login`, which the server authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordedApproval {
    pub login: String,
    /// The commit it was recorded on (this one, or an earlier version with the same diff).
    pub commit: String,
}

/// Provenance kept outside a commit's message, as read: a note a notes ref holds for it, or
/// the Agent Trace records a tip's `.agent-trace/traces.jsonl` keeps for it. The pusher wrote
/// it like everything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteFact {
    /// The notes ref, or the traces file's path.
    pub source: String,
    /// The note's text, or why it could not be read (too large, not UTF-8, a missing object).
    pub text: Result<String, String>,
}

/// A commit's own signature: git's `gpgsig` header, as the pusher wrote it (unchecked bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitSignature {
    /// Not read: the policy does not ask, or the facts come from no repository.
    NotRead,
    Unsigned,
    Signed {
        /// The header's value: an armored signature, or anything at all.
        armored: Vec<u8>,
        /// The commit object without the header: what git signed.
        signed_data: Vec<u8>,
    },
}

impl CommitFacts {
    /// The facts of a commit known by its id, people and message alone: everything else is as
    /// for a plain commit the policy asks nothing more of (no paths, patch-id, signature,
    /// notes, approvals recorded). The git layer and the tests fill in the rest.
    pub fn of_message(id: String, author: Signature, committer: Signature, message: String) -> Self {
        CommitFacts {
            id,
            author,
            committer,
            timestamp: 0,
            trailers: Self::trailers_of(&message),
            message,
            clean_merge: false,
            root: false,
            in_baseline: false,
            changes: Changes::NotNeeded,
            patch_id: None,
            git_signature: GitSignature::NotRead,
            recorded: Vec::new(),
            stale: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// The subject line, as `git log --format=%s` would start it.
    pub fn summary(&self) -> &str {
        self.message.trim_start_matches(['\n', '\r']).lines().next().unwrap_or("").trim_end()
    }

    /// The trailer block parsed from `message`, owned.
    pub fn trailers_of(message: &str) -> Vec<TrailerLine> {
        crate::trailers::parse(message)
            .into_iter()
            .map(|t| TrailerLine { key: t.key.to_string(), value: t.value.into_owned() })
            .collect()
    }
}
