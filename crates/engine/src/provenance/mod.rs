//! AI provenance: the evidence in a commit that an AI tool helped write it.
//!
//! Evidence of these kinds, reported with the exact text that made the call:
//! - `trailer`: a provenance trailer key (`Assisted-by`, `Made-with`, ...) whose value neither
//!   declares "no AI" nor names, by email, a person the policy knows (a `[[person]]` or a
//!   `reviewers` address). Human help is help from people the policy knows: any other address
//!   is the pusher's word, and `Assisted-by: ChatGPT <chatgpt@openai.com>` must not pass as a
//!   human's;
//! - `identity`: an author, committer or trailer email that is a known AI address;
//! - `name`: an author or committer name only an AI tool writes (Aider's ` (aider)` suffix);
//! - `footer`: a message line a tool writes (`🤖 Generated with [Claude Code](...)`, Aider's
//!   `aider: ` subject). Weaker, so `[provenance] footers` decides whether it counts; it is
//!   reported either way;
//! - `note`: a git note under a `[provenance] notes` ref that gives lines or characters to an
//!   AI tool (git-ai, Qwen Code: [`notes`]), or an Agent Trace record committed at the tip
//!   ([`trace`]); `unreadable_note` for one that does not parse, reported and never counted.
//!
//! Built-in identities are exact addresses, never domains or display names: `@openai.com` also
//! holds human employees, and a human may well be called "Codex" or "Aiden Cline".

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::Serialize;

use crate::facts::{CommitFacts, NoteFact, Signature, TrailerLine};
use crate::identity::{self, normalize_email};
use crate::policy::{Policy, ProvenanceConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    Trailer,
    Identity,
    Name,
    Footer,
    /// A note under a `[provenance] notes` ref ([`notes`]).
    Note,
    /// A note that could not be read or parsed: reported, never counted.
    UnreadableNote,
}

impl core::fmt::Display for EvidenceKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            EvidenceKind::Trailer => "trailer",
            EvidenceKind::Identity => "identity",
            EvidenceKind::Name => "name",
            EvidenceKind::Footer => "footer",
            EvidenceKind::Note => "note",
            EvidenceKind::UnreadableNote => "unreadable_note",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    pub kind: EvidenceKind,
    pub text: String,
    /// Which tool, as far as the evidence names one (for provenance reports).
    pub tool: String,
}

/// Trailer keys that declare AI help whatever their value (`../shared/ai-provenance.md`).
const BUILTIN_TRAILER_KEYS: &[&str] = &[
    "Assisted-by",
    "Generated-by",
    "AI-assisted",
    "AI-assisted-by",
    "Co-authored-by-AI",
    "Made-with",
    "Amp-Thread-ID",
    "Claude-Session",
    "Agent-Logs-Url",
    "Entire-Checkpoint",
];

/// Exact addresses AI tools commit or co-author with (lower-case), and the tool's name.
const BUILTIN_IDENTITIES: &[(&str, &str)] = &[
    ("noreply@anthropic.com", "Claude Code"),
    ("209825114+claude[bot]@users.noreply.github.com", "Claude"),
    ("198982749+copilot@users.noreply.github.com", "GitHub Copilot"),
    ("175728472+copilot@users.noreply.github.com", "GitHub Copilot"),
    ("223556219+copilot@users.noreply.github.com", "GitHub Copilot"),
    ("copilot@github.com", "GitHub Copilot"),
    ("223894421+github-code-quality[bot]@users.noreply.github.com", "GitHub Copilot"),
    ("noreply@openai.com", "Codex"),
    ("codex@openai.com", "Codex"),
    ("199175422+chatgpt-codex-connector[bot]@users.noreply.github.com", "Codex"),
    ("aider@aider.chat", "Aider"),
    ("noreply@aider.dev", "Aider"),
    ("noreply@aider.chat", "Aider"),
    ("cursoragent@cursor.com", "Cursor"),
    ("206951365+cursor[bot]@users.noreply.github.com", "Cursor"),
    ("158243242+devin-ai-integration[bot]@users.noreply.github.com", "Devin"),
    ("161369871+google-labs-jules[bot]@users.noreply.github.com", "Jules"),
    ("amp@ampcode.com", "Amp"),
    ("crush@charm.land", "Crush"),
    ("qwen-coder@alibabacloud.com", "Qwen Code"),
    ("noreply@opencode.ai", "OpenCode"),
    ("vibe@mistral.ai", "Mistral Vibe"),
    ("openhands@all-hands.dev", "OpenHands"),
    ("176961590+gemini-code-assist[bot]@users.noreply.github.com", "Gemini Code Assist"),
    ("208079219+amazon-q-developer[bot]@users.noreply.github.com", "Amazon Q Developer"),
    ("noreply@cline.bot", "Cline"),
    ("205137888+cline[bot]@users.noreply.github.com", "Cline"),
    ("noreply@continue.dev", "Continue"),
    ("230936708+continue[bot]@users.noreply.github.com", "Continue"),
    ("agent@warp.dev", "Warp"),
    ("138933559+factory-droid[bot]@users.noreply.github.com", "Factory"),
    ("240665456+kiloconnect[bot]@users.noreply.github.com", "Kilo Code"),
    ("v0[bot]@users.noreply.github.com", "v0"),
    ("220155983+jetbrains-ai[bot]@users.noreply.github.com", "JetBrains AI"),
    ("noreply@codebuff.com", "Codebuff"),
    ("noreply@freebuff.com", "Freebuff"),
];

/// GitHub Apps known by their login only (their numeric user id is not on record): any
/// `[<id>+]<login>@users.noreply.github.com` address. A `[bot]` login can only belong to an
/// app, and an app's slug is unique on GitHub, so the login alone names the tool; where the id
/// is known the address is listed exactly above instead, and another id is another account.
const BUILTIN_BOT_LOGINS: &[(&str, &str)] = &[
    ("kiro-agent[bot]", "Kiro"),
    ("lovable-dev[bot]", "Lovable"),
    ("gpt-engineer-app[bot]", "Lovable"),
    ("sweep-ai[bot]", "Sweep"),
    ("jetbrains-junie[bot]", "JetBrains Junie"),
];

const GITHUB_NOREPLY: &str = "@users.noreply.github.com";

/// Footer lines (after leading emoji and spaces) as tools write them: the whole line, a link
/// written out to its `)` at most ([`footer_ends`]).
const BUILTIN_FOOTERS: &[(&str, &str)] = &[
    ("Generated with [Claude Code](", "Claude Code"),
    ("Generated with [Devin](", "Devin"),
    ("Generated with [opencode](", "OpenCode"),
    ("Generated with Crush", "Crush"),
    ("Generated by Mistral Vibe", "Mistral Vibe"),
    ("Generated with [Cline](", "Cline"),
    ("Generated with [Continue](", "Continue"),
    ("Generated with Codebuff", "Codebuff"),
    ("Generated with Qwen Code", "Qwen Code"),
];

/// Keys that declare AI help only with certain values (lower-case): Replit Agent writes
/// `Replit-Commit-Author: Agent` or `Assistant`; any other value is not its mark.
const VALUED_TRAILERS: &[(&str, &[&str], &str)] =
    &[("Replit-Commit-Author", &["agent", "assistant"], "Replit Agent")];

/// Trailer keys whose value is a link, not a tool name: the key names the tool.
const LINK_TRAILER_TOOLS: &[(&str, &str)] = &[
    ("Amp-Thread-ID", "Amp"),
    ("Claude-Session", "Claude Code"),
    ("Agent-Logs-Url", "GitHub Copilot"),
    ("Entire-Checkpoint", "Entire"),
];

/// Aider names itself as a suffix of the author or committer name, and a subject prefix.
const AIDER_NAME_SUFFIX: &str = " (aider)";
const AIDER_SUBJECT_PREFIX: &str = "aider: ";

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Provenance {
    pub evidence: Vec<Evidence>,
    /// Whether the evidence that counts (footers only when the policy says so) is non-empty.
    pub ai_assisted: bool,
}

/// The recognizers of one policy: built-ins (unless `builtin = false`) plus the policy's own.
pub struct Detector<'p> {
    config: &'p ProvenanceConfig,
    /// Whose help on a provenance trailer is human; without it, nobody's.
    people: Option<&'p Policy>,
}

impl<'p> Detector<'p> {
    pub fn new(config: &'p ProvenanceConfig) -> Self {
        Detector { config, people: None }
    }

    /// The recognizers of `policy`, knowing its people.
    pub fn of(policy: &'p Policy) -> Self {
        Detector { config: &policy.provenance, people: Some(policy) }
    }

    /// A `[[person]]` of the policy, or a `reviewers` address.
    fn is_known_human(&self, email: &str) -> bool {
        self.people.is_some_and(|policy| {
            policy.person_by_email(email).is_some()
                || policy.approvals.reviewers.is_match(&normalize_email(email))
        })
    }

    /// Whether an email belongs to an AI tool; such an identity never approves anything.
    pub fn is_ai_identity(&self, email: &str) -> bool {
        self.ai_tool(email).is_some()
    }

    /// The tool an address belongs to: a built-in's name, or the address for the policy's own.
    fn ai_tool(&self, email: &str) -> Option<String> {
        let email = normalize_email(email);
        let builtin = self.config.builtin.then(|| builtin_tool(&email)).flatten();
        match builtin {
            Some(tool) => Some(tool.to_string()),
            None => self.config.identities.is_match(&email).then_some(email),
        }
    }

    fn is_provenance_key(&self, trailer: &TrailerLine) -> bool {
        (self.config.builtin && trailer.key_in(BUILTIN_TRAILER_KEYS))
            || trailer.key_in(&self.config.trailer_keys)
    }

    pub fn detect(&self, commit: &CommitFacts) -> Provenance {
        let mut evidence = Vec::new();
        for (role, who) in [("author", &commit.author), ("committer", &commit.committer)] {
            self.signature_evidence(role, who, &mut evidence);
        }
        for trailer in &commit.trailers {
            let emails: Vec<&str> = identity::emails_in(&trailer.value).collect();
            if let Some(tool) = emails.iter().find_map(|email| self.ai_tool(email)) {
                evidence.push(Evidence { kind: EvidenceKind::Identity, text: trailer.to_string(), tool });
            } else if self.is_provenance_key(trailer)
                && (emails.is_empty() || !emails.iter().all(|email| self.is_known_human(email)))
                && !self.config.none_values.contains(&trailer.value.trim().to_lowercase())
            {
                let tool = trailer_tool(trailer);
                evidence.push(Evidence { kind: EvidenceKind::Trailer, text: trailer.to_string(), tool });
            } else if let Some(tool) = self.config.builtin.then(|| valued_trailer_tool(trailer)).flatten() {
                evidence.push(Evidence {
                    kind: EvidenceKind::Trailer,
                    text: trailer.to_string(),
                    tool: tool.into(),
                });
            }
        }
        if self.config.builtin {
            footer_evidence(commit, &mut evidence);
        }
        // Agent Trace is a built-in format; notes are read from the refs the policy lists.
        let read = |note: &&NoteFact| self.config.builtin || note.source != trace::TRACES_PATH;
        evidence.extend(commit.notes.iter().filter(read).filter_map(notes::evidence));
        let ai_assisted = evidence.iter().any(|e| match e.kind {
            EvidenceKind::Footer => self.config.footers,
            EvidenceKind::UnreadableNote => false,
            _ => true,
        });
        Provenance { evidence, ai_assisted }
    }

    fn signature_evidence(&self, role: &str, who: &Signature, evidence: &mut Vec<Evidence>) {
        if let Some(tool) = self.ai_tool(&who.email) {
            evidence.push(Evidence { kind: EvidenceKind::Identity, text: format!("{role}: {who}"), tool });
        } else if self.config.builtin && who.name.ends_with(AIDER_NAME_SUFFIX) {
            let text = format!("{role} name: {}", who.name);
            evidence.push(Evidence { kind: EvidenceKind::Name, text, tool: "Aider".into() });
        }
    }
}

/// The built-in tool an address (normalized) belongs to.
fn builtin_tool(email: &str) -> Option<&'static str> {
    if let Some((_, tool)) = BUILTIN_IDENTITIES.iter().find(|(address, _)| *address == email) {
        return Some(tool);
    }
    let local = email.strip_suffix(GITHUB_NOREPLY)?;
    // `<digits>+<login>` or the bare login; the id is not checked for these apps.
    let login = match local.split_once('+') {
        Some((id, login)) if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) => login,
        Some(_) => return None,
        None => local,
    };
    BUILTIN_BOT_LOGINS.iter().find(|(known, _)| *known == login).map(|(_, tool)| *tool)
}

fn valued_trailer_tool(trailer: &TrailerLine) -> Option<&'static str> {
    let value = trailer.value.trim().to_lowercase();
    VALUED_TRAILERS
        .iter()
        .find(|(key, values, _)| key.eq_ignore_ascii_case(&trailer.key) && values.contains(&value.as_str()))
        .map(|(_, _, tool)| *tool)
}

/// The tool a provenance trailer names: `Claude:claude-opus-4-6 sparse` is Claude, `GitHub
/// Copilot (gpt-4.1)` is GitHub Copilot, a link-valued key names its tool itself.
fn trailer_tool(trailer: &TrailerLine) -> String {
    if let Some((_, tool)) = LINK_TRAILER_TOOLS.iter().find(|(key, _)| key.eq_ignore_ascii_case(&trailer.key))
    {
        return tool.to_string();
    }
    let name = trailer.value.split([':', '(']).next().unwrap_or("").trim();
    let declared_only = ["true", "yes", ""].contains(&name.to_lowercase().as_str());
    if declared_only { "unnamed".to_string() } else { name.chars().take(40).collect() }
}

/// Whether what follows a footer's start ends the line as a tool writes it: a link's rest
/// (`https://claude.com/claude-code)`), or nothing but punctuation. Prose that merely starts
/// like a footer ("Generated with Crush line, including ...", a wrapped sentence) is not one.
fn footer_ends(rest: &str) -> bool {
    let rest = rest.trim_end();
    match rest.strip_suffix(')') {
        Some(link) => !link.is_empty() && !link.contains(char::is_whitespace),
        None => rest.chars().all(|c| c.is_ascii_punctuation()),
    }
}

fn footer_evidence(commit: &CommitFacts, evidence: &mut Vec<Evidence>) {
    let summary = commit.summary();
    if summary.starts_with(AIDER_SUBJECT_PREFIX) {
        let text = format!("subject: {summary}");
        evidence.push(Evidence { kind: EvidenceKind::Footer, text, tool: "Aider".into() });
    }
    for line in commit.message.lines().skip(1) {
        let text = line.trim_start_matches(|c: char| !c.is_alphanumeric());
        let whole_line = |footer: &str| text.strip_prefix(footer).is_some_and(footer_ends);
        if let Some((_, tool)) = BUILTIN_FOOTERS.iter().find(|(footer, _)| whole_line(footer)) {
            evidence.push(Evidence {
                kind: EvidenceKind::Footer,
                text: line.trim().to_string(),
                tool: tool.to_string(),
            });
        }
    }
}

mod notes;
#[cfg(test)]
mod tests;
pub mod trace;
