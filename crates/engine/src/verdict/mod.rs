//! The engine: a commit's facts and a policy in, a verdict per rule out. Pure: no git, no I/O,
//! no clock (today's date is an argument), so every rule can be tested on values built by hand.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use core::fmt;
use jiff::civil::Date;

use serde::{Deserialize, Serialize};

use crate::approvals::{self, Authorship, Counted, LookAlike, NotCounted};
use crate::facts::{Changes, CommitFacts, GitSignature, Signature, TrailerLine};
use crate::globs::GlobList;
use crate::policy::{Mode, Policy, Recorded, Rule, Signatures};
use crate::provenance::{Detector, Evidence, Provenance};
use crate::signature::{self, CommitProblem};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommitStatus {
    Pass,
    /// Passes, but a `warn` rule is unmet.
    Warn,
    Fail,
}

/// What a rule says of a commit, whatever its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleStatus {
    /// Applies and is satisfied.
    Pass,
    /// Applies and is not satisfied.
    Fail,
    /// Does not apply.
    Skip,
}

impl fmt::Display for CommitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommitStatus::Pass => "pass",
            CommitStatus::Warn => "warn",
            CommitStatus::Fail => "fail",
        })
    }
}

impl fmt::Display for RuleStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RuleStatus::Pass => "pass",
            RuleStatus::Fail => "fail",
            RuleStatus::Skip => "skip",
        })
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CommitVerdict {
    pub id: String,
    pub summary: String,
    pub author: Signature,
    /// Committer time, Unix seconds.
    pub timestamp: i64,
    pub trailers: Vec<TrailerLine>,
    pub ai_assisted: bool,
    pub evidence: Vec<Evidence>,
    /// Changed paths that matched a `when.paths` glob of an active rule.
    pub paths_matched: Vec<String>,
    pub rules: Vec<RuleOutcome>,
    /// The change's patch-id, when a rule needed it: recorded approvals name it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub patch_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exempt: Option<String>,
    /// The commit's own signature, checked when `[gate] signed_commits` asks (not for exempt
    /// commits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<SignatureCheck>,
    pub verdict: CommitStatus,
    /// For a failing commit: message lines that look like approvals and are not counted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub look_alikes: Vec<LookAlike>,
    /// No parent (a fix line rebases from the root).
    #[serde(skip)]
    pub root: bool,
}

impl CommitVerdict {
    pub fn unmet(&self) -> impl Iterator<Item = &RuleOutcome> {
        self.rules.iter().filter(|r| r.applies && !r.satisfied)
    }

    /// Why the commit's signature fails `[gate] signed_commits`, if it does.
    pub fn signature_problem(&self) -> Option<&CommitProblem> {
        match &self.signature {
            Some(SignatureCheck::Failed(problem)) => Some(problem),
            _ => None,
        }
    }
}

/// A commit's own signature, judged for `[gate] signed_commits`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// By a key the policy lists for the committer (its SHA256 fingerprint).
    Valid {
        key: String,
    },
    Failed(CommitProblem),
}

impl Serialize for SignatureCheck {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut s = serializer.serialize_struct("SignatureCheck", 3)?;
        match self {
            SignatureCheck::Valid { key } => {
                s.serialize_field("valid", &true)?;
                s.serialize_field("key", key)?;
            }
            SignatureCheck::Failed(problem) => {
                s.serialize_field("valid", &false)?;
                s.serialize_field("code", problem.code())?;
                s.serialize_field("reason", &problem.to_string())?;
            }
        }
        s.end()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleOutcome {
    pub name: String,
    pub applies: bool,
    /// Why the rule applies (or does not), in words: the evidence, path or ref that decided.
    pub why: String,
    pub satisfied: bool,
    pub mode: Mode,
    pub required: usize,
    pub from_role: Option<String>,
    /// Whether approvals must be (or, when signed, be validly) signed.
    pub signatures: Signatures,
    /// Whether approvals recorded on the server count (`required`: typed trailers do not).
    pub recorded: Recorded,
    pub counted: Vec<Counted>,
    pub not_counted: Vec<NotCounted>,
    /// People who could give the missing approvals (not the author or a co-author; when
    /// signatures are required, only people who list keys).
    pub eligible: Vec<Signature>,
}

impl RuleOutcome {
    /// A stable code for an unmet rule, shown in the human report (a pusher can quote it, an
    /// admin look it up): what kind of approval is missing.
    pub fn code(&self) -> &'static str {
        match self.signatures {
            Signatures::Required => "missing-signed-approval",
            _ => "missing-approval",
        }
    }

    pub fn status(&self) -> RuleStatus {
        match (self.applies, self.satisfied) {
            (false, _) => RuleStatus::Skip,
            (true, true) => RuleStatus::Pass,
            (true, false) => RuleStatus::Fail,
        }
    }
}

pub struct Engine<'p> {
    policy: &'p Policy,
    detector: Detector<'p>,
    today: Date,
}

/// How many matched paths a rule's `why` names before summarising.
const PATHS_SHOWN: usize = 3;

impl<'p> Engine<'p> {
    pub fn new(policy: &'p Policy, today: Date) -> Self {
        Engine { policy, detector: Detector::of(policy), today }
    }

    pub fn policy(&self) -> &'p Policy {
        self.policy
    }

    pub fn today(&self) -> Date {
        self.today
    }

    /// Whether the commit's changed paths could change its verdict on the ref `refnames`
    /// reach: some active rule looks at paths and its other conditions hold. Otherwise no tree
    /// need be read.
    pub fn needs_paths(&self, commit: &CommitFacts, refnames: &[String]) -> bool {
        if commit.in_baseline || commit.clean_merge {
            return false;
        }
        let mut ai_assisted = None;
        self.policy.rules.iter().any(|rule| {
            rule.when.paths.is_some()
                && rule.is_active(self.today)
                && rule.when.refs.as_ref().is_none_or(|refs| refnames.iter().any(|name| refs.is_match(name)))
                && rule.when.ai_assisted.is_none_or(|wanted| {
                    wanted == *ai_assisted.get_or_insert_with(|| self.detector.detect(commit).ai_assisted)
                })
        })
    }

    /// Judges one commit as if it landed on a ref that each of `refnames` reaches (a ref and
    /// its symbolic aliases): a rule applies if it applies on any of them.
    pub fn judge(&self, commit: &CommitFacts, refnames: &[String]) -> CommitVerdict {
        let Provenance { evidence, ai_assisted } = self.detector.detect(commit);
        let paths = changed_paths(commit);
        let exempt = exemption(commit).map(str::to_string);
        let authorship = Authorship::of(commit, self.policy);
        let mut paths_matched: Vec<String> = Vec::new();
        let rules: Vec<RuleOutcome> = self
            .policy
            .rules
            .iter()
            .map(|rule| {
                let applies = match &exempt {
                    Some(why) => Err(format!("exempt: {why}")),
                    None => self.applies(rule, ai_assisted, &evidence, paths, refnames, &mut paths_matched),
                };
                self.outcome(rule, applies, commit, &authorship)
            })
            .collect();
        let signature =
            (exempt.is_none() && self.policy.needs_git_signatures()).then(|| self.check_signature(commit));
        let unsigned = matches!(signature, Some(SignatureCheck::Failed(_)));
        let unmet_mode = |mode| rules.iter().any(|r| r.applies && !r.satisfied && r.mode == mode);
        let verdict = self.status_of(unmet_mode(Mode::Enforce), unmet_mode(Mode::Warn), unsigned);
        // The two ways of judging must agree; every debug build's tests check it.
        debug_assert_eq!(verdict, self.status(commit, refnames), "status and verdict of {}", commit.id);
        paths_matched.sort();
        paths_matched.dedup();
        CommitVerdict {
            id: commit.id.clone(),
            summary: commit.summary().to_string(),
            author: commit.author.clone(),
            timestamp: commit.timestamp,
            trailers: commit.trailers.clone(),
            ai_assisted,
            evidence,
            paths_matched,
            rules,
            patch_id: commit.patch_id.clone(),
            exempt,
            signature,
            look_alikes: match verdict {
                CommitStatus::Fail => approvals::look_alikes(commit, &self.policy.approvals.trailer_keys),
                _ => Vec::new(),
            },
            verdict,
            root: commit.root,
        }
    }

    /// The status [`Engine::judge`] gives the commit, alone: all a report that only counts the
    /// commit needs. Builds none of what a verdict shows (why each rule applies or not, who
    /// could approve, look-alike trailers): for a long history of failing commits, that cost
    /// more than judging them.
    pub fn status(&self, commit: &CommitFacts, refnames: &[String]) -> CommitStatus {
        if exemption(commit).is_some() {
            return CommitStatus::Pass;
        }
        let ai_assisted = self.detector.detect(commit).ai_assisted;
        let paths = changed_paths(commit);
        let authorship = Authorship::of(commit, self.policy);
        let unmet = |mode: Mode| {
            self.policy.rules.iter().filter(|rule| rule.mode == mode).any(|rule| {
                self.conditions(rule, ai_assisted, paths, refnames).is_ok()
                    && !self.tally(rule, commit, &authorship).meets(rule)
            })
        };
        let unsigned = self.policy.needs_git_signatures()
            && matches!(self.check_signature(commit), SignatureCheck::Failed(_));
        self.status_of(unmet(Mode::Enforce), unmet(Mode::Warn), unsigned)
    }

    /// A commit's status from what is unmet: a rule of either mode, or git's signature.
    fn status_of(&self, unmet_enforced: bool, unmet_warned: bool, unsigned: bool) -> CommitStatus {
        if unmet_enforced || (unsigned && self.policy.gate.mode == Mode::Enforce) {
            CommitStatus::Fail
        } else if unmet_warned || unsigned {
            CommitStatus::Warn
        } else {
            CommitStatus::Pass
        }
    }

    /// The approvals that count for `rule` on `commit`.
    fn tally(&self, rule: &Rule, commit: &CommitFacts, authorship: &Authorship<'_>) -> approvals::Tally {
        let from_role = rule.from_role.as_deref();
        approvals::tally(
            commit,
            self.policy,
            &self.detector,
            authorship,
            from_role,
            rule.signatures,
            rule.recorded,
        )
    }

    /// Checks git's signature of `commit` against the keys the policy lists for its committer.
    fn check_signature(&self, commit: &CommitFacts) -> SignatureCheck {
        let keys =
            self.policy.person_by_email(&commit.committer.email).map_or(&[][..], |p| p.keys.as_slice());
        let checked = match &commit.git_signature {
            GitSignature::NotRead => Err(CommitProblem::NotRead),
            GitSignature::Unsigned => Err(CommitProblem::NotSigned),
            GitSignature::Signed { armored, signed_data } => {
                signature::verify_commit(armored, signed_data, &commit.committer.email, keys)
            }
        };
        match checked {
            Ok(key) => SignatureCheck::Valid { key },
            Err(problem) => SignatureCheck::Failed(problem),
        }
    }

    /// `Ok(why it applies)` or `Err(why not)`.
    fn applies(
        &self,
        rule: &Rule,
        ai_assisted: bool,
        evidence: &[Evidence],
        paths: &[String],
        refnames: &[String],
        paths_matched: &mut Vec<String>,
    ) -> Result<String, String> {
        let matched = match self.conditions(rule, ai_assisted, paths, refnames) {
            Ok(matched) => matched,
            Err(Unmet::Inactive) => return Err(format!("inactive on {}: {}", self.today, window(rule))),
            Err(Unmet::AiAssisted { wanted }) => {
                return Err(if wanted { "not AI-assisted" } else { "AI-assisted" }.to_string());
            }
            Err(Unmet::Refs(refs)) => {
                let names = refnames.join(", ");
                return Err(format!("{names} matches none of {}", refs.patterns().join(", ")));
            }
            Err(Unmet::Paths(globs)) => {
                return Err(format!("no changed path matches {}", globs.patterns().join(", ")));
            }
        };
        let mut reasons = Vec::new();
        if let Some(wanted) = rule.when.ai_assisted {
            reasons.push(match evidence.first() {
                Some(first) if wanted => format!("AI-assisted ({})", first.text),
                _ => "not AI-assisted".to_string(),
            });
        }
        if let Some((name, glob)) = matched.refname {
            reasons.push(format!("{name} matches {glob}"));
        }
        if rule.when.paths.is_some() {
            let mut shown: Vec<String> = matched
                .paths
                .iter()
                .take(PATHS_SHOWN)
                .map(|(path, glob)| format!("{path} matches {glob}"))
                .collect();
            if matched.paths.len() > PATHS_SHOWN {
                shown.push(format!("{} more", matched.paths.len() - PATHS_SHOWN));
            }
            reasons.push(shown.join(", "));
            paths_matched.extend(matched.paths.into_iter().map(|(path, _)| path.clone()));
        }
        if reasons.is_empty() {
            reasons.push("applies to every commit".to_string());
        }
        Ok(reasons.join("; "))
    }

    /// Whether `rule`'s conditions hold for a commit: what they matched, or the first that
    /// does not hold. The one decision behind [`Engine::judge`]'s words and [`Engine::status`].
    fn conditions<'a>(
        &self,
        rule: &'a Rule,
        ai_assisted: bool,
        paths: &'a [String],
        refnames: &'a [String],
    ) -> Result<Matched<'a>, Unmet<'a>> {
        if !rule.is_active(self.today) {
            return Err(Unmet::Inactive);
        }
        if let Some(wanted) = rule.when.ai_assisted
            && ai_assisted != wanted
        {
            return Err(Unmet::AiAssisted { wanted });
        }
        let mut matched = Matched { refname: None, paths: Vec::new() };
        if let Some(refs) = &rule.when.refs {
            let first = refnames.iter().find_map(|name| refs.first_match(name).map(|glob| (name, glob)));
            matched.refname = Some(first.ok_or(Unmet::Refs(refs))?);
        }
        if let Some(globs) = &rule.when.paths {
            matched.paths =
                paths.iter().filter_map(|path| globs.first_match(path).map(|glob| (path, glob))).collect();
            if matched.paths.is_empty() {
                return Err(Unmet::Paths(globs));
            }
        }
        Ok(matched)
    }

    fn outcome(
        &self,
        rule: &Rule,
        applies: Result<String, String>,
        commit: &CommitFacts,
        authorship: &Authorship<'_>,
    ) -> RuleOutcome {
        let (applies, why) = match applies {
            Ok(why) => (true, why),
            Err(why) => (false, why),
        };
        let from_role = rule.from_role.as_deref();
        let tally = if applies { self.tally(rule, commit, authorship) } else { approvals::Tally::default() };
        let satisfied = !applies || tally.meets(rule);
        let eligible = if satisfied {
            Vec::new()
        } else {
            self.policy
                .people
                .iter()
                .filter(|p| from_role.is_none_or(|role| p.has_role(role)) && !authorship.excludes(p))
                .filter(|p| rule.signatures != Signatures::Required || !p.keys.is_empty())
                // Typed trailers do not count: only who can record (a login) or sign (a key).
                .filter(|p| rule.recorded != Recorded::Required || !p.logins.is_empty() || !p.keys.is_empty())
                .filter(|p| !tally.counted.iter().any(|c| c.person == p.name))
                .filter_map(|p| {
                    p.emails.first().map(|email| Signature { name: p.name.clone(), email: email.clone() })
                })
                .collect()
        };
        RuleOutcome {
            name: rule.name.clone(),
            applies,
            why,
            satisfied,
            mode: rule.mode,
            required: rule.require,
            from_role: rule.from_role.clone(),
            signatures: rule.signatures,
            recorded: rule.recorded,
            counted: tally.counted,
            not_counted: tally.not_counted,
            eligible,
        }
    }
}

/// What a rule's conditions matched of a commit.
struct Matched<'a> {
    /// The first ref name `when.refs` matched, and the glob that did.
    refname: Option<(&'a String, &'a str)>,
    /// Each changed path `when.paths` matched, and the glob that did.
    paths: Vec<(&'a String, &'a str)>,
}

/// The first condition of a rule that does not hold.
enum Unmet<'a> {
    Inactive,
    AiAssisted { wanted: bool },
    Refs(&'a GlobList),
    Paths(&'a GlobList),
}

/// Why the commit is exempt from every rule, if it is.
fn exemption(commit: &CommitFacts) -> Option<&'static str> {
    if commit.in_baseline {
        Some("reachable from a baseline commit ([gate] baseline)")
    } else {
        commit.clean_merge.then_some("merge that introduces no change of its own")
    }
}

fn changed_paths(commit: &CommitFacts) -> &[String] {
    match &commit.changes {
        Changes::Paths(paths) => paths.as_slice(),
        Changes::NotNeeded => &[],
    }
}

fn window(rule: &Rule) -> String {
    match (rule.since, rule.until) {
        (Some(since), Some(until)) => format!("active {since} to {until}"),
        (Some(since), None) => format!("active from {since}"),
        (None, Some(until)) => format!("active until {until}"),
        (None, None) => "always active".to_string(),
    }
}

#[cfg(test)]
mod tests;
