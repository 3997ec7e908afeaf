//! Provenance kept outside the message: the git notes AI tools attach to commits.
//!
//! Two formats (`../shared/ai-provenance.md`), told apart by their content, whichever notes ref
//! holds them:
//! - git-ai's authorship log (`authorship/3.0.0`): per-file attestation lines (a path, then
//!   indented `<prompt hash> <line ranges>`), a `---` line, then JSON whose `prompts` (and
//!   newer `sessions`) name each agent as `agent_id {tool, id, model}`. No prompt: a human-only
//!   commit, no evidence.
//! - Qwen Code's attribution (`{version, generator, files: {path: {aiChars, humanChars,
//!   percent}}, summary: {aiPercent}}`): AI when any character is.
//!
//! Agent Trace records committed in the tree reach here the same way ([`trace`]).
//!
//! A note in neither shape, or one that cannot be read, is reported as `unreadable_note` and
//! never counts: the pusher writes notes too, and a note only ever adds evidence.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde_json::Value;

use super::{Evidence, EvidenceKind, trace};
use crate::facts::NoteFact;

/// git-ai's `agent_id.tool` values, as the other recognizers name the tools.
const GIT_AI_TOOLS: &[(&str, &str)] = &[
    ("claude", "Claude Code"),
    ("cursor", "Cursor"),
    ("copilot", "GitHub Copilot"),
    ("github-copilot", "GitHub Copilot"),
    ("codex", "Codex"),
    ("gemini", "Gemini CLI"),
    ("gemini-cli", "Gemini CLI"),
    ("opencode", "OpenCode"),
    ("amp", "Amp"),
    ("windsurf", "Windsurf"),
    ("continue-cli", "Continue"),
    ("droid", "Factory"),
];

const QWEN_GENERATORS: &[(&str, &str)] = &[("qwen-coder", "Qwen Code"), ("qwen-code", "Qwen Code")];

/// The evidence a note gives, if any.
pub(super) fn evidence(note: &NoteFact) -> Option<Evidence> {
    let unreadable = |why: &str| Evidence {
        kind: EvidenceKind::UnreadableNote,
        text: format!("{}: {why} (not counted)", note.source),
        tool: "unknown".into(),
    };
    let text = match &note.text {
        Ok(text) => text,
        Err(why) => return Some(unreadable(why)),
    };
    let found = if note.source == trace::TRACES_PATH {
        trace::evidence(text)
    } else if let Some((attestation, json)) = split_authorship_log(text) {
        git_ai(attestation, json)
    } else if text.trim_start().starts_with('{') {
        attribution(text)
    } else {
        Err("neither a git-ai authorship log nor an attribution JSON".into())
    };
    match found {
        Ok(Some((tool, what))) => {
            Some(Evidence { kind: EvidenceKind::Note, text: format!("{}: {what}", note.source), tool })
        }
        Ok(None) => None,
        Err(why) => Some(unreadable(&why)),
    }
}

/// The attestation section and the JSON after the first line that is exactly `---`.
fn split_authorship_log(text: &str) -> Option<(&str, &str)> {
    if let Some(json) = text.strip_prefix("---\n") {
        return Some(("", json));
    }
    let at = text.find("\n---\n")?;
    Some((&text[..at], &text[at + 5..]))
}

type Found = Result<Option<(String, String)>, String>;

fn git_ai(attestation: &str, json: &str) -> Found {
    let log: Value =
        serde_json::from_str(json).map_err(|e| format!("git-ai log: bad JSON after `---`: {e}"))?;
    let schema = log.get("schema_version").and_then(Value::as_str).unwrap_or("");
    if !schema.starts_with("authorship/") {
        return Err("git-ai log without an `authorship/...` schema_version".into());
    }
    let mut tools: Vec<String> = Vec::new();
    let mut models: Vec<String> = Vec::new();
    for section in ["prompts", "sessions"] {
        let entries: Vec<&Value> = match log.get(section) {
            Some(Value::Object(map)) => map.values().collect(),
            Some(Value::Array(list)) => list.iter().collect(),
            None | Some(Value::Null) => Vec::new(),
            Some(_) => return Err(format!("git-ai log: `{section}` is neither a map nor a list")),
        };
        for entry in entries {
            let agent = entry.get("agent_id");
            let Some(tool) = agent.and_then(|a| a.get("tool")).and_then(Value::as_str) else {
                return Err(format!("git-ai log: an entry of `{section}` names no agent_id.tool"));
            };
            let tool = tool_name(GIT_AI_TOOLS, tool);
            if !tools.contains(&tool) {
                tools.push(tool);
            }
            let model = agent.and_then(|a| a.get("model")).and_then(Value::as_str).unwrap_or("");
            if !model.is_empty() && !models.iter().any(|m| m == model) {
                models.push(printable(model));
            }
        }
    }
    let Some(first) = tools.first().cloned() else {
        return Ok(None);
    };
    let (lines, files) = attested_lines(attestation)?;
    let models = if models.is_empty() { String::new() } else { format!(" ({})", models.join(", ")) };
    let share = match lines {
        0 => String::new(),
        n => format!(", {n} line(s) in {files} file(s) attributed to AI"),
    };
    Ok(Some((first, format!("git-ai {schema}: {}{models}{share}", tools.join(", ")))))
}

/// Lines and files the attestation section gives to prompts: `path`, then indented
/// `<hash> 1-6,9` lines.
fn attested_lines(attestation: &str) -> Result<(u64, u64), String> {
    let (mut lines, mut files) = (0u64, 0u64);
    for line in attestation.lines().filter(|l| !l.trim().is_empty()) {
        if !line.starts_with([' ', '\t']) {
            files += 1;
            continue;
        }
        let ranges = line.split_whitespace().nth(1).unwrap_or("");
        for range in ranges.split(',').filter(|r| !r.is_empty()) {
            let bad = || format!("git-ai log: bad line range `{}`", printable(range));
            let (start, end) = range.split_once('-').unwrap_or((range, range));
            let (start, end): (u64, u64) =
                (start.parse().map_err(|_| bad())?, end.parse().map_err(|_| bad())?);
            lines = lines.saturating_add(end.checked_sub(start).ok_or_else(bad)? + 1);
        }
    }
    Ok((lines, files))
}

fn attribution(text: &str) -> Found {
    let note: Value = serde_json::from_str(text).map_err(|e| format!("attribution: bad JSON: {e}"))?;
    let generator = note.get("generator").and_then(Value::as_str);
    let summary = note.get("summary");
    let (Some(generator), Some(summary)) = (generator, summary) else {
        return Err("attribution JSON without `generator` and `summary`".into());
    };
    let percent = summary.get("aiPercent").and_then(Value::as_f64);
    let Some(percent) = percent.filter(|p| (0.0..=100.0).contains(p)) else {
        return Err("attribution: `summary.aiPercent` is not a percentage".into());
    };
    let mut ai_chars = 0.0;
    let mut all_chars = 0.0;
    if let Some(files) = note.get("files").and_then(Value::as_object) {
        for file in files.values() {
            let ai = file.get("aiChars").and_then(Value::as_f64).unwrap_or(0.0);
            ai_chars += ai;
            all_chars += ai + file.get("humanChars").and_then(Value::as_f64).unwrap_or(0.0);
        }
    }
    if percent == 0.0 && ai_chars == 0.0 {
        return Ok(None);
    }
    let chars = if all_chars > 0.0 { format!(" ({ai_chars} of {all_chars})") } else { String::new() };
    let tool = tool_name(QWEN_GENERATORS, generator);
    Ok(Some((tool, format!("{}: {percent}% of characters by AI{chars}", printable(generator)))))
}

fn tool_name(known: &[(&str, &str)], raw: &str) -> String {
    match known.iter().find(|(id, _)| id.eq_ignore_ascii_case(raw.trim())) {
        Some((_, name)) => name.to_string(),
        None => printable(raw.trim()),
    }
}

/// At most 40 characters, no control characters: a note's strings end up in reports.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(notes_ref: &str, text: &str) -> NoteFact {
        NoteFact { source: notes_ref.into(), text: Ok(text.into()) }
    }

    /// A git-ai `authorship/3.0.0` log as git-ai 1.3 writes it.
    const GIT_AI_LOG: &str = r#"src/api/routes/status.ts
  1612649c4bf0b88e 32
src/components/Dashboard.tsx
  1612649c4bf0b88e 2,35-36
---
{
  "schema_version": "authorship/3.0.0",
  "git_ai_version": "1.3.2",
  "base_commit_sha": "fc9a230d3c1e5b0b8e0f3c7d9a1b2c3d4e5f6a7b",
  "prompts": {
    "1612649c4bf0b88e": {
      "agent_id": {"tool": "claude", "id": "9b4e6eb7-1d2e-4f5a-8b9c-0d1e2f3a4b5c", "model": "claude-opus-4-6"},
      "human_author": "Dana Dev <dana@example.com>",
      "messages": [],
      "total_additions": 4,
      "total_deletions": 0,
      "accepted_lines": 4,
      "overriden_lines": 0
    }
  }
}"#;

    const QWEN_NOTE: &str = r#"{"version":1,"generator":"Qwen-Coder","files":{"src/a.ts":{"aiChars":630,"humanChars":370,"percent":63}},"summary":{"totalAiChars":630,"totalHumanChars":370,"aiPercent":63}}"#;

    #[test]
    fn git_ai_log_names_tool_model_and_lines() {
        let e = evidence(&note("refs/notes/ai", GIT_AI_LOG)).unwrap();
        assert_eq!(e.kind, EvidenceKind::Note);
        assert_eq!(e.tool, "Claude Code");
        assert_eq!(
            e.text,
            "refs/notes/ai: git-ai authorship/3.0.0: Claude Code (claude-opus-4-6), 4 line(s) in 2 file(s) attributed to AI"
        );
    }

    #[test]
    fn git_ai_log_with_two_agents_and_sessions() {
        let log = "a.rs\n  p1 1-15\n  p2 16-23\n---\n{\"schema_version\":\"authorship/3.0.0\",\"prompts\":{\"p1\":{\"agent_id\":{\"tool\":\"cursor\",\"model\":\"gpt-4o\"}}},\"sessions\":{\"s1\":{\"agent_id\":{\"tool\":\"codex\",\"id\":\"x\",\"model\":\"gpt-5\"}}},\"humans\":{}}";
        let e = evidence(&note("refs/notes/ai", log)).unwrap();
        assert_eq!(e.tool, "Cursor");
        assert!(e.text.contains("Cursor, Codex (gpt-4o, gpt-5), 23 line(s) in 1 file(s)"), "{}", e.text);
    }

    #[test]
    fn git_ai_log_of_a_human_only_commit_is_no_evidence() {
        let log = "---\n{\"schema_version\":\"authorship/3.0.0\",\"prompts\":{},\"humans\":{\"h\":{}}}";
        assert_eq!(evidence(&note("refs/notes/ai", log)), None);
    }

    #[test]
    fn qwen_attribution_names_the_share_of_characters() {
        let e = evidence(&note("refs/notes/ai-attribution", QWEN_NOTE)).unwrap();
        assert_eq!((e.kind, e.tool.as_str()), (EvidenceKind::Note, "Qwen Code"));
        assert_eq!(e.text, "refs/notes/ai-attribution: Qwen-Coder: 63% of characters by AI (630 of 1000)");
        let none = QWEN_NOTE
            .replace("\"aiChars\":630", "\"aiChars\":0")
            .replace("\"aiPercent\":63", "\"aiPercent\":0");
        assert_eq!(evidence(&note("refs/notes/ai-attribution", &none)), None);
    }

    #[test]
    fn unparsable_notes_are_reported_and_never_count() {
        for (text, why) in [
            ("reviewed on the train", "neither a git-ai authorship log"),
            ("a.rs\n  p 1-2\n---\n{not json", "bad JSON after `---`"),
            ("---\n{\"schema_version\":\"other/1\"}", "without an `authorship/...` schema_version"),
            (
                "a.rs\n  p 9-2\n---\n{\"schema_version\":\"authorship/3.0.0\",\"prompts\":{\"p\":{\"agent_id\":{\"tool\":\"claude\"}}}}",
                "bad line range",
            ),
            (
                "---\n{\"schema_version\":\"authorship/3.0.0\",\"prompts\":{\"p\":{}}}",
                "names no agent_id.tool",
            ),
            ("{\"version\":1}", "without `generator` and `summary`"),
            ("{\"generator\":\"Qwen-Coder\",\"summary\":{\"aiPercent\":\"lots\"}}", "not a percentage"),
        ] {
            let e = evidence(&note("refs/notes/ai", text)).unwrap();
            assert_eq!(e.kind, EvidenceKind::UnreadableNote, "{text}");
            assert!(e.text.contains(why) && e.text.ends_with("(not counted)"), "{}", e.text);
        }
        let e =
            evidence(&NoteFact { source: "refs/notes/ai".into(), text: Err("not UTF-8".into()) }).unwrap();
        assert_eq!(e.text, "refs/notes/ai: not UTF-8 (not counted)");
    }
}
