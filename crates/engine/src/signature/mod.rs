//! Signed approvals: an SSH signature (`ssh-keygen -Y sign`, namespace `countersign`) that
//! binds an approver to the *content* of a change; and git's own SSH commit signatures
//! ([`verify_commit`], for `[gate] signed_commits`). Pure crypto: no git, no I/O.
//!
//! The approver signs this statement, byte for byte (version 1):
//!
//! ```text
//! countersign-approval v1
//! patch-id <64 hex digits: crate::patch_id of the commit>
//! approver <the approval's email, trimmed and lower-cased>
//! ```
//!
//! The signature travels in the commit's trailer block, on the line right after the approval
//! it backs: `Approval-Signature: v1 <patch-id> <base64 of the sshsig blob>` (the armored
//! `-----BEGIN SSH SIGNATURE-----` text, armor stripped, lines joined). The patch-id is
//! repeated in clear so a signature that no longer matches can be told apart: over another
//! patch (stale: the change moved after approval, or the signature was copied from another
//! commit) or plain invalid.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use core::fmt;

use ssh_key::{Algorithm, HashAlg, PublicKey, SshSig};

use crate::identity::normalize_email;

/// The sshsig namespace: a signature made for anything else (git commits use `git`) is refused.
pub const NAMESPACE: &str = "countersign";
/// The trailer key of a signature; it backs the approval trailer just before it.
pub const TRAILER_KEY: &str = "Approval-Signature";
const VERSION: &str = "v1";

/// What an approver signs.
pub fn statement(patch_id: &str, approver_email: &str) -> String {
    format!("countersign-approval v1\npatch-id {patch_id}\napprover {}\n", normalize_email(approver_email))
}

/// The trailer value for an armored signature made over [`statement`]`(patch_id, ..)`.
pub fn trailer_value(patch_id: &str, armored: &str) -> Result<String, Problem> {
    let blob: String = armored
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("-----"))
        .collect();
    let value = format!("{VERSION} {patch_id} {blob}");
    parse(&value)?;
    Ok(value)
}

/// Why a signature does not back its approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Malformed(String),
    WrongNamespace(String),
    /// Signed by a key the policy does not list for the approver (its SHA256 fingerprint).
    KeyNotListed {
        fingerprint: String,
        approver: String,
    },
    /// Signed over another patch-id than the commit's.
    Stale {
        signed: String,
        current: String,
    },
    /// The statement and key match, the signature itself does not verify.
    Invalid,
    /// The commit's patch-id was not computed (a bug, or a policy test case): fail closed.
    NoPatchId,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Malformed(why) => write!(f, "malformed {TRAILER_KEY}: {why}"),
            Problem::WrongNamespace(namespace) => {
                write!(f, "signature made for namespace `{namespace}`, not `{NAMESPACE}`")
            }
            Problem::KeyNotListed { fingerprint, approver } => {
                write!(f, "signed by key {fingerprint}, which the policy does not list for {approver}")
            }
            Problem::Stale { signed, current } => write!(
                f,
                "stale signature: it approves patch {}, this change is patch {} (the change moved \
                 after approval, or the signature belongs to another commit)",
                short(signed),
                short(current)
            ),
            Problem::Invalid => f.write_str("signature does not verify"),
            Problem::NoPatchId => {
                f.write_str("signature cannot be checked: the change's patch-id is unknown")
            }
        }
    }
}

fn short(patch_id: &str) -> &str {
    &patch_id[..patch_id.len().min(12)]
}

/// Checks that `value` (an `Approval-Signature` trailer value) is a valid signature by one of
/// `keys` over the statement for `patch_id` and `approver_email`.
pub fn verify(
    value: &str,
    patch_id: Option<&str>,
    approver_email: &str,
    keys: &[PublicKey],
) -> Result<(), Problem> {
    let (signed, sig) = parse(value)?;
    if sig.namespace() != NAMESPACE {
        return Err(Problem::WrongNamespace(sig.namespace().to_string()));
    }
    let Some(key) = keys.iter().find(|k| k.key_data() == sig.public_key()) else {
        return Err(Problem::KeyNotListed {
            fingerprint: PublicKey::from(sig.public_key().clone()).fingerprint(HashAlg::Sha256).to_string(),
            approver: normalize_email(approver_email),
        });
    };
    let current = patch_id.ok_or(Problem::NoPatchId)?;
    if signed != current {
        return Err(Problem::Stale { signed: signed.to_string(), current: current.to_string() });
    }
    key.verify(NAMESPACE, statement(current, approver_email).as_bytes(), &sig).map_err(|_| Problem::Invalid)
}

/// `v1 <patch-id> <base64>` into the patch-id and the decoded signature.
fn parse(value: &str) -> Result<(&str, SshSig), Problem> {
    let malformed = |why: &str| Problem::Malformed(why.to_string());
    let mut fields = value.split_ascii_whitespace();
    match fields.next() {
        Some(VERSION) => {}
        Some(other) => return Err(Problem::Malformed(format!("version `{other}` is not {VERSION}"))),
        None => return Err(malformed("empty")),
    }
    let patch_id = fields.next().ok_or_else(|| malformed("no patch-id"))?;
    if patch_id.len() != 64 || !patch_id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(malformed("the patch-id is not 64 lower-case hex digits"));
    }
    let blob = fields.next().ok_or_else(|| malformed("no signature"))?;
    if fields.next().is_some() {
        return Err(malformed("text after the signature"));
    }
    if !blob.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) {
        return Err(malformed("the signature is not base64"));
    }
    // Re-armored as ssh-keygen writes it (70 columns), for the crate's PEM decoder.
    let lines: Vec<_> = blob.as_bytes().chunks(70).map(String::from_utf8_lossy).collect();
    let pem = format!("-----BEGIN SSH SIGNATURE-----\n{}\n-----END SSH SIGNATURE-----\n", lines.join("\n"));
    let sig = SshSig::from_pem(pem).map_err(|e| Problem::Malformed(format!("not an SSH signature ({e})")))?;
    Ok((patch_id, sig))
}

/// Why a policy key is refused, if it is.
pub fn check_key(key: &PublicKey) -> Result<(), String> {
    match key.algorithm() {
        Algorithm::Ed25519 | Algorithm::SkEd25519 | Algorithm::SkEcdsaSha2NistP256 => Ok(()),
        Algorithm::Ecdsa { .. } => Ok(()),
        Algorithm::Rsa { .. } => {
            let bits = key.key_data().rsa().and_then(|k| k.n.as_positive_bytes()).map_or(0, |n| n.len() * 8);
            if bits >= 2048 {
                Ok(())
            } else {
                Err(format!("an RSA key of {bits} bits is too weak (2048 at least)"))
            }
        }
        other => {
            Err(format!("{other} keys are not supported (ed25519, ECDSA, RSA and their sk- variants are)"))
        }
    }
}

/// The namespace git signs commits in (`git commit -S` with `gpg.format=ssh`).
pub const GIT_NAMESPACE: &str = "git";
const SSH_ARMOR: &[u8] = b"-----BEGIN SSH SIGNATURE-----";

/// Why a commit's own signature (its `gpgsig` header) does not satisfy `[gate] signed_commits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitProblem {
    NotSigned,
    /// An OpenPGP or X.509 signature, or anything else that is not SSH.
    NotSsh,
    Malformed(String),
    WrongNamespace(String),
    /// Signed by a key the policy does not list for the committer (its SHA256 fingerprint).
    KeyNotListed {
        fingerprint: String,
        committer: String,
    },
    Invalid,
    /// The signature was not read from the repository (a bug, or a policy test case): fail closed.
    NotRead,
}

impl CommitProblem {
    /// Stable kebab-case code for the JSON report.
    pub fn code(&self) -> &'static str {
        match self {
            CommitProblem::NotSigned => "not-signed",
            CommitProblem::KeyNotListed { .. } => "key-not-listed",
            CommitProblem::NotSsh
            | CommitProblem::Malformed(_)
            | CommitProblem::WrongNamespace(_)
            | CommitProblem::Invalid => "bad-signature",
            CommitProblem::NotRead => "not-read",
        }
    }
}

impl fmt::Display for CommitProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommitProblem::NotSigned => f.write_str("not signed"),
            CommitProblem::NotSsh => f.write_str("bad signature: not an SSH signature (gpg.format=ssh)"),
            CommitProblem::Malformed(why) => write!(f, "bad signature: {why}"),
            CommitProblem::WrongNamespace(namespace) => {
                write!(f, "bad signature: made for namespace `{namespace}`, not `{GIT_NAMESPACE}`")
            }
            CommitProblem::KeyNotListed { fingerprint, committer } => {
                write!(f, "signed by a key not listed for {committer} ({fingerprint})")
            }
            CommitProblem::Invalid => f.write_str("bad signature: it does not verify"),
            CommitProblem::NotRead => f.write_str("signature not checked: it was not read (fail closed)"),
        }
    }
}

/// Checks git's SSH signature of a commit: `armored` is the `gpgsig` header's value, `signed_data`
/// the commit object without it. Valid when made in namespace `git` by one of `keys` (those the
/// policy lists for the committer); returns that key's SHA256 fingerprint.
pub fn verify_commit(
    armored: &[u8],
    signed_data: &[u8],
    committer_email: &str,
    keys: &[PublicKey],
) -> Result<String, CommitProblem> {
    let armored = armored.trim_ascii();
    if !armored.starts_with(SSH_ARMOR) {
        return Err(CommitProblem::NotSsh);
    }
    let sig = SshSig::from_pem(armored)
        .map_err(|e| CommitProblem::Malformed(format!("not an SSH signature ({e})")))?;
    if sig.namespace() != GIT_NAMESPACE {
        return Err(CommitProblem::WrongNamespace(sig.namespace().to_string()));
    }
    let fingerprint = PublicKey::from(sig.public_key().clone()).fingerprint(HashAlg::Sha256).to_string();
    let Some(key) = keys.iter().find(|k| k.key_data() == sig.public_key()) else {
        return Err(CommitProblem::KeyNotListed { fingerprint, committer: normalize_email(committer_email) });
    };
    key.verify(GIT_NAMESPACE, signed_data, &sig).map_err(|_| CommitProblem::Invalid)?;
    Ok(fingerprint)
}

#[cfg(test)]
mod tests;
