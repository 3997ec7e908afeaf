//! Which approval trailers count for a rule, and why each other one does not.
//!
//! An approval counts when it is a trailer-block line whose key is an approval key, whose value
//! names exactly one email, and that email belongs to a policy person holding the rule's role
//! (or, for a rule without a role, to any listed person or a `reviewers` address). Each person
//! counts once. The author, the commit's co-authors and AI identities never count. Identities
//! come from the policy alone: the repository's `.mailmap` is the pusher's to write.
//!
//! Where the rule checks signatures, an approval is backed by the `Approval-Signature` trailer
//! right after it ([`crate::signature`]): `required`, it counts only with a valid one;
//! `optional`, a signature that is there must be valid, an approval without one still counts.
//!
//! Where the rule counts recorded approvals (`countersign::git::recorded`), each login that recorded one
//! for the change counts as its `[[person]]`, under the same rules as a trailer: role, once per
//! person, never the author or a co-author. `required`, a typed trailer no longer counts (a
//! signed one still does): only an approval the author cannot write alone.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use alloc::collections::BTreeMap;
use core::fmt;

use serde::{Serialize, Serializer};

use crate::facts::CommitFacts;
use crate::identity::{self, IdentityProblem, normalize_email};
use crate::policy::{Person, Policy, Recorded, Rule, Signatures};
use crate::provenance::Detector;
use crate::signature::{self, Problem};

/// Trailer keys whose people wrote the change, so cannot also review it.
const CO_AUTHOR_KEYS: &[&str] = &["Co-authored-by", "Co-developed-by"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counted {
    /// The policy person's name, or the address itself for a `reviewers` match.
    pub person: String,
    pub email: String,
    /// The whole trailer line, as `Key: value`; for a recorded approval, what recorded it.
    pub trailer: String,
    pub kind: Kind,
}

/// How an approval was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A trailer, as typed.
    Trailer,
    /// A trailer backed by a valid signature.
    Signed,
    /// Recorded on the server by the approver's own login.
    Recorded,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotCounted {
    /// The whole trailer line, as `Key: value`.
    pub value: String,
    #[serde(serialize_with = "display")]
    pub reason: Reason,
}

/// Why an approval trailer did not count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    NoIdentity(IdentityProblem),
    Author,
    CoAuthor,
    AiIdentity,
    Unlisted,
    LacksRole(String),
    AlreadyCounted(String),
    /// The rule requires a signature and the next trailer is not one.
    Unsigned,
    Signature(Problem),
    /// More signed approvals by one person than are worth checking: each check costs a
    /// public-key verification, and the pusher writes as many as it likes.
    TooManySignatures(String),
    /// The rule takes recorded (or signed) approvals only.
    Typed,
    /// Recorded for an earlier version of the change, whose diff has changed since.
    Stale,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NoIdentity(problem) => write!(f, "{problem}"),
            Reason::Author => f.write_str("author"),
            Reason::CoAuthor => f.write_str("co-author"),
            Reason::AiIdentity => f.write_str("AI identity"),
            Reason::Unlisted => f.write_str("not a person in the policy"),
            Reason::LacksRole(role) => write!(f, "not role {role}"),
            Reason::AlreadyCounted(person) => write!(f, "{person} already counted"),
            Reason::Unsigned => {
                write!(f, "no signature (an {} trailer right after it)", signature::TRAILER_KEY)
            }
            Reason::Signature(problem) => write!(f, "{problem}"),
            Reason::Stale => f.write_str(
                "stale: recorded for an earlier version of this change; the diff has changed since, \
                 so the approver must review and record it again",
            ),
            Reason::Typed => f.write_str(
                "a typed trailer; this rule counts approvals recorded on the server (or signed) \
                 ([approvals] recorded = \"required\")",
            ),
            Reason::TooManySignatures(person) => write!(
                f,
                "{person} has more than {SIGNATURE_CHECKS_PER_PERSON} signed approvals in this commit; \
                 the rest are not checked"
            ),
        }
    }
}

fn display<S: Serializer>(value: &impl fmt::Display, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub counted: Vec<Counted>,
    pub not_counted: Vec<NotCounted>,
}

impl Tally {
    /// Whether enough people approved for `rule`.
    pub fn meets(&self, rule: &Rule) -> bool {
        self.counted.len() >= rule.require
    }
}

/// The people who wrote a commit, computed once per commit and shared by its rules.
pub struct Authorship<'p> {
    author_email: String,
    author: Option<&'p Person>,
    co_author_emails: Vec<String>,
    co_authors: Vec<&'p Person>,
}

impl<'p> Authorship<'p> {
    pub fn of(commit: &CommitFacts, policy: &'p Policy) -> Self {
        let co_author_emails: Vec<String> = commit
            .trailers
            .iter()
            .filter(|t| t.key_in(CO_AUTHOR_KEYS))
            .flat_map(|t| identity::emails_in(&t.value))
            .map(normalize_email)
            .collect();
        Authorship {
            author_email: normalize_email(&commit.author.email),
            author: policy.person_by_email(&commit.author.email),
            co_authors: co_author_emails.iter().filter_map(|e| policy.person_by_email(e)).collect(),
            co_author_emails,
        }
    }

    /// Whether `person` (or, unlisted, `email`) wrote the commit; `None` if not.
    fn wrote_it(&self, email: &str, person: Option<&Person>) -> Option<Reason> {
        let same = |other: Option<&Person>| person.is_some() && person == other;
        if email == self.author_email || same(self.author) {
            Some(Reason::Author)
        } else if self.co_author_emails.iter().any(|e| e == email)
            || self.co_authors.iter().any(|&p| same(Some(p)))
        {
            Some(Reason::CoAuthor)
        } else {
            None
        }
    }

    /// Whether `person` could give an approval for this commit at all.
    pub fn excludes(&self, person: &Person) -> bool {
        self.wrote(person).is_some()
    }

    /// Why `person` cannot approve this commit, if they wrote it.
    fn wrote(&self, person: &Person) -> Option<Reason> {
        person.emails.iter().find_map(|email| self.wrote_it(email, Some(person)))
    }
}

/// Signatures checked per person and commit; one valid one is all an approval needs.
const SIGNATURE_CHECKS_PER_PERSON: usize = 4;

/// Sorts the approval trailers of `commit` into counted and not counted for a rule.
pub fn tally(
    commit: &CommitFacts,
    policy: &Policy,
    detector: &Detector<'_>,
    authorship: &Authorship<'_>,
    from_role: Option<&str>,
    signatures: Signatures,
    recorded: Recorded,
) -> Tally {
    let mut tally = Tally::default();
    let mut checks: BTreeMap<String, usize> = BTreeMap::new();
    for (index, trailer) in commit.trailers.iter().enumerate() {
        if !trailer.key_in(&policy.approvals.trailer_keys) {
            continue;
        }
        let line = trailer.to_string();
        let reason = match identity::parse(&trailer.value) {
            Err(problem) => Err(Reason::NoIdentity(problem)),
            Ok(who) => judge(&normalize_email(who.email), policy, detector, authorship, from_role, &tally),
        };
        let backing = commit.trailers.get(index + 1).filter(|next| next.key_in(&[signature::TRAILER_KEY]));
        let reason = reason.and_then(|(person, email)| {
            if backing.is_some() && signatures != Signatures::Off {
                let checked = checks.entry(person.clone()).or_default();
                *checked += 1;
                if *checked > SIGNATURE_CHECKS_PER_PERSON {
                    return Err(Reason::TooManySignatures(person));
                }
            }
            check_signature(commit, policy, signatures, &email, backing.map(|t| t.value.as_str()))?;
            let signed = backing.is_some() && signatures != Signatures::Off;
            if recorded == Recorded::Required && !signed {
                return Err(Reason::Typed);
            }
            Ok((person, email, if signed { Kind::Signed } else { Kind::Trailer }))
        });
        match reason {
            Ok((person, email, kind)) => tally.counted.push(Counted { person, email, trailer: line, kind }),
            Err(reason) => tally.not_counted.push(NotCounted { value: line, reason }),
        }
    }
    if recorded == Recorded::Off {
        return tally;
    }
    for approval in &commit.recorded {
        let line = format!("recorded by login {} on {}", approval.login, short_id(&approval.commit));
        let reason = match policy.person_by_login(&approval.login) {
            None => Err(Reason::Unlisted),
            Some(person) => match authorship.wrote(person) {
                Some(reason) => Err(reason),
                None => {
                    let email = normalize_email(person.emails.first().map_or("", String::as_str));
                    judge_person(Some(person), &email, policy, from_role, &tally)
                }
            },
        };
        match reason {
            Ok((person, email)) => {
                tally.counted.push(Counted { person, email, trailer: line, kind: Kind::Recorded })
            }
            Err(reason) => tally.not_counted.push(NotCounted { value: line, reason }),
        }
    }
    for approval in &commit.stale {
        let value = format!("recorded by login {} on {}", approval.login, short_id(&approval.commit));
        tally.not_counted.push(NotCounted { value, reason: Reason::Stale });
    }
    tally
}

fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// Whether the approval by `email` is backed as `signatures` demands.
fn check_signature(
    commit: &CommitFacts,
    policy: &Policy,
    signatures: Signatures,
    email: &str,
    backing: Option<&str>,
) -> Result<(), Reason> {
    match (signatures, backing) {
        (Signatures::Off, _) | (Signatures::Optional, None) => Ok(()),
        (Signatures::Required, None) => Err(Reason::Unsigned),
        (_, Some(value)) => {
            // A `reviewers` address is no policy person, so lists no keys: it cannot sign.
            let keys = policy.person_by_email(email).map_or(&[][..], |p| &p.keys);
            signature::verify(value, commit.patch_id.as_deref(), email, keys).map_err(Reason::Signature)
        }
    }
}

/// The person an approval by `email` counts for, or why it does not.
fn judge(
    email: &str,
    policy: &Policy,
    detector: &Detector<'_>,
    authorship: &Authorship<'_>,
    from_role: Option<&str>,
    so_far: &Tally,
) -> Result<(String, String), Reason> {
    let person = policy.person_by_email(email);
    if let Some(reason) = authorship.wrote_it(email, person) {
        return Err(reason);
    }
    if detector.is_ai_identity(email) {
        return Err(Reason::AiIdentity);
    }
    judge_person(person, email, policy, from_role, so_far)
}

/// The person an approval by `person` (or, unlisted, `email`), who did not write the commit,
/// counts for, or why it does not.
fn judge_person(
    person: Option<&Person>,
    email: &str,
    policy: &Policy,
    from_role: Option<&str>,
    so_far: &Tally,
) -> Result<(String, String), Reason> {
    let name = match (person, from_role) {
        (Some(person), Some(role)) if !person.has_role(role) => {
            return Err(Reason::LacksRole(role.to_string()));
        }
        (Some(person), _) => person.name.clone(),
        (None, None) if policy.approvals.reviewers.is_match(email) => email.to_string(),
        // A `reviewers` address may review, but holds no role.
        (None, Some(role)) if policy.approvals.reviewers.is_match(email) => {
            return Err(Reason::LacksRole(role.to_string()));
        }
        (None, _) => return Err(Reason::Unlisted),
    };
    if so_far.counted.iter().any(|c| c.person == name) {
        return Err(Reason::AlreadyCounted(name));
    }
    Ok((name, email.to_string()))
}

/// A message line a person may take for an approval that does not count as one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LookAlike {
    /// The line as written (cut at [`LOOK_ALIKE_CHARS`] characters).
    pub line: String,
    #[serde(serialize_with = "display")]
    pub reason: LookAlikeReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookAlikeReason {
    /// `Reviewed by:`, `reviewed_by:`: git needs a key without spaces; `-` is what it expects.
    NotAKey { written: String, meant: String },
    /// An approval line outside the trailer block: git does not read it as a trailer.
    OutsideTrailerBlock,
    /// `Signed-off-by:`: the author's certificate of origin, not a review.
    SignOff,
    /// A trailer of the review family the policy does not count (`Acked-by`, `Tested-by`).
    NotAnApprovalKey { key: String, keys: Vec<String> },
}

impl fmt::Display for LookAlikeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookAlikeReason::NotAKey { written, meant } => write!(
                f,
                "`{written}:` is not a trailer key (git reads no spaces in a key): write `{meant}:`"
            ),
            LookAlikeReason::OutsideTrailerBlock => f.write_str(
                "not in the trailer block: git reads trailers only from the message's last \
                 paragraph, with nothing but trailers in it",
            ),
            LookAlikeReason::SignOff => f.write_str(
                "Signed-off-by is the author's certificate of origin (git commit -s), not a review",
            ),
            LookAlikeReason::NotAnApprovalKey { key, keys } => {
                write!(f, "{key} is not an approval key in this policy (those are: {})", keys.join(", "))
            }
        }
    }
}

/// Keys of git's review family that a policy may not count as approvals.
const REVIEW_FAMILY: &[&str] = &["Signed-off-by", "Acked-by", "Tested-by", "Reviewed-by", "Approved-by"];
/// How much of a look-alike line is kept (the pusher writes it).
const LOOK_ALIKE_CHARS: usize = 120;
/// How many look-alikes are kept per commit (a message can hold 100,000 lines).
const LOOK_ALIKES_KEPT: usize = 5;

/// The lines of `commit`'s message that look like approvals but are not counted as one, and
/// why: told to a pusher whose commit fails, so that an approval written almost right is fixed
/// rather than written again the same way.
pub fn look_alikes(commit: &CommitFacts, approval_keys: &[String]) -> Vec<LookAlike> {
    let mut found = Vec::new();
    for line in commit.message.lines() {
        // A trailer key is short; a colon past the line's 40th character is prose. (The first
        // `:` byte is the first `:` character: UTF-8 never has one inside another character.
        // Found by bytes, and characters counted only where that could reach 40: decoding each
        // line's characters was most of this function's cost.)
        let Some(colon) = line.bytes().position(|b| b == b':') else { continue };
        if colon >= 40 && (colon >= 160 || line[..colon].chars().count() >= 40) {
            continue;
        }
        let (written, value) = (line[..colon].trim(), line[colon + 1..].trim());
        let meant = approval_keys.iter().find(|k| same_key(k, written));
        let family = REVIEW_FAMILY.iter().find(|k| same_key(k, written));
        if meant.is_none() && family.is_none() {
            continue;
        }
        let in_block =
            commit.trailers.iter().any(|t| t.key.eq_ignore_ascii_case(written) && t.value.trim() == value);
        let reason = match (meant, family) {
            (Some(meant), _) if !written.eq_ignore_ascii_case(meant) => {
                LookAlikeReason::NotAKey { written: written.to_string(), meant: meant.clone() }
            }
            (Some(_), _) if in_block => continue,
            (Some(_), _) => LookAlikeReason::OutsideTrailerBlock,
            (None, Some(&"Signed-off-by")) => LookAlikeReason::SignOff,
            (None, Some(family)) => {
                LookAlikeReason::NotAnApprovalKey { key: family.to_string(), keys: approval_keys.to_vec() }
            }
            (None, None) => continue,
        };
        found.push(LookAlike { line: line.chars().take(LOOK_ALIKE_CHARS).collect(), reason });
        if found.len() == LOOK_ALIKES_KEPT {
            break;
        }
    }
    found
}

/// Whether two trailer keys are the same once trimmed, in any case, with a space, a tab or an
/// underscore written for a hyphen (`Reviewed by`, `reviewed_by`). Compared in place: every
/// line of every failing commit's message is asked, and a normalized copy of each key cost an
/// allocation per key per line.
fn same_key(a: &str, b: &str) -> bool {
    let fold = |c: u8| match c {
        b' ' | b'_' | b'\t' => b'-',
        c => c.to_ascii_lowercase(),
    };
    let (a, b) = (a.trim().as_bytes(), b.trim().as_bytes());
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| fold(x) == fold(y))
}

#[cfg(test)]
mod tests;
