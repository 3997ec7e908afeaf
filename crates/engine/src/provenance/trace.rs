//! Agent Trace (Cursor's open spec, v0.1.0): JSON records committed in the tree at
//! `.agent-trace/traces.jsonl`, each naming the commit it describes (`vcs.revision`), the tool,
//! and per file the conversations and who contributed them (`human`, `ai`, `mixed`,
//! `unknown`) with their line ranges. A record cannot sit in the commit it names (it would
//! change its id), so the file is read at the tip being judged and its records handed to each
//! commit they name, as [`NoteFact`](crate::facts::NoteFact)s.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use alloc::collections::BTreeMap;

use serde_json::Value;

/// Where the records are committed.
pub const TRACES_PATH: &str = ".agent-trace/traces.jsonl";

/// The records by the commit they describe (lower-case hex), each commit's lines joined. Lines
/// that name no commit cannot be evidence of one, and are left out.
pub fn index(text: &str) -> BTreeMap<String, String> {
    let mut by_commit: BTreeMap<String, String> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(record) = serde_json::from_str::<Value>(line) else { continue };
        let Some(revision) = record.pointer("/vcs/revision").and_then(Value::as_str) else { continue };
        let revision = revision.trim().to_ascii_lowercase();
        if ![40, 64].contains(&revision.len()) || !revision.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let lines = by_commit.entry(revision).or_default();
        if !lines.is_empty() {
            lines.push('\n');
        }
        lines.push_str(line);
    }
    by_commit
}

/// What a commit's records give to AI: `(tool, what)`, none when every contributor is human
/// or unknown.
pub(super) fn evidence(lines: &str) -> Result<Option<(String, String)>, String> {
    let mut tools: Vec<String> = Vec::new();
    let mut models: Vec<String> = Vec::new();
    let (mut files, mut ranges, mut ai_lines) = (0usize, 0usize, 0u64);
    for line in lines.lines() {
        let record: Value = serde_json::from_str(line).map_err(|e| format!("Agent Trace: bad JSON: {e}"))?;
        let tool = record.pointer("/tool/name").and_then(Value::as_str).unwrap_or("").trim();
        let Some(record_files) = record.get("files").and_then(Value::as_array) else {
            return Err("Agent Trace record without `files`".into());
        };
        for file in record_files {
            let mut by_ai = false;
            for conversation in file.get("conversations").and_then(Value::as_array).into_iter().flatten() {
                let contributor = conversation.get("contributor");
                let kind = contributor.and_then(|c| c.get("type")).and_then(Value::as_str).unwrap_or("");
                if !matches!(kind, "ai" | "mixed") {
                    continue;
                }
                by_ai = true;
                let model = contributor.and_then(|c| c.get("model_id")).and_then(Value::as_str).unwrap_or("");
                if !model.is_empty() && !models.iter().any(|m| m == model) {
                    models.push(printable(model));
                }
                for range in conversation.get("ranges").and_then(Value::as_array).into_iter().flatten() {
                    let line = |key: &str| range.get(key).and_then(Value::as_u64);
                    let (Some(start), Some(end)) = (line("start_line"), line("end_line")) else {
                        return Err("Agent Trace range without start_line and end_line".into());
                    };
                    let lines =
                        end.checked_sub(start).ok_or("Agent Trace range that ends before it starts")?;
                    ranges += 1;
                    ai_lines = ai_lines.saturating_add(lines + 1);
                }
            }
            if by_ai {
                files += 1;
                let tool = if tool.is_empty() { "unnamed".to_string() } else { printable(tool) };
                if !tools.contains(&tool) {
                    tools.push(tool);
                }
            }
        }
    }
    let Some(first) = tools.first().cloned() else {
        return Ok(None);
    };
    let models = if models.is_empty() { String::new() } else { format!(" ({})", models.join(", ")) };
    Ok(Some((
        first,
        format!(
            "Agent Trace: {}{models}, {ai_lines} line(s) in {ranges} range(s) of {files} file(s) by AI",
            tools.join(", ")
        ),
    )))
}

/// At most 40 characters, no control characters: a record's strings end up in reports.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";

    /// A record as the spec's example shapes it.
    fn record(revision: &str, contributor: &str) -> String {
        format!(
            r#"{{"version":"0.1.0","id":"3f1b6a2e-9c0d-4e5f-8a7b-1c2d3e4f5a6b","timestamp":"2026-01-23T14:30:00Z","vcs":{{"type":"git","revision":"{revision}"}},"tool":{{"name":"cursor","version":"2.4.0"}},"files":[{{"path":"src/utils/parser.ts","conversations":[{{"contributor":{{"type":"{contributor}","model_id":"anthropic/claude-opus-4-5-20251101"}},"ranges":[{{"start_line":42,"end_line":67}}]}}]}}]}}"#
        )
    }

    #[test]
    fn records_are_indexed_by_the_commit_they_name() {
        let other = "fedcba9876543210fedcba9876543210fedcba98";
        let text = format!(
            "{}\n{}\nnot json\n{{\"vcs\":{{\"revision\":\"HEAD\"}}}}\n{}\n",
            record(&COMMIT.to_uppercase(), "ai"),
            record(other, "human"),
            record(COMMIT, "mixed")
        );
        let index = index(&text);
        assert_eq!(index.len(), 2);
        assert_eq!(index[COMMIT].lines().count(), 2);
    }

    #[test]
    fn ai_and_mixed_contributions_are_evidence_with_tool_model_and_lines() {
        let (tool, what) = evidence(&record(COMMIT, "ai")).unwrap().unwrap();
        assert_eq!(tool, "cursor");
        assert_eq!(
            what,
            "Agent Trace: cursor (anthropic/claude-opus-4-5-20251101), 26 line(s) in 1 range(s) of 1 file(s) by AI"
        );
        assert!(evidence(&record(COMMIT, "mixed")).unwrap().is_some());
    }

    #[test]
    fn human_and_unknown_contributions_are_no_evidence() {
        for contributor in ["human", "unknown"] {
            assert_eq!(evidence(&record(COMMIT, contributor)).unwrap(), None);
        }
    }

    #[test]
    fn malformed_records_are_errors() {
        assert!(evidence("{\"vcs\":{}}").unwrap_err().contains("without `files`"));
        let backwards = record(COMMIT, "ai").replace("\"end_line\":67", "\"end_line\":2");
        assert!(evidence(&backwards).unwrap_err().contains("ends before it starts"));
    }
}
