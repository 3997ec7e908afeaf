//! Notes as provenance, through real pushes: git-ai's authorship logs (`refs/notes/ai`) and
//! Qwen Code's attributions (`refs/notes/ai-attribution`), pushed with the code (read from the
//! quarantine), before it (read from the server) and after it (the hook cannot see them; CI's
//! `check`, `explain` and `report` do). A note that does not parse is reported and changes
//! nothing.

use std::process::Command;

use crate::util::*;

/// git-ai 1.3's log for a commit that Claude Code wrote 4 lines of.
const GIT_AI_LOG: &str = r#"app/status.rs
  1612649c4bf0b88e 1-3
app/dashboard.rs
  1612649c4bf0b88e 2
---
{
  "schema_version": "authorship/3.0.0",
  "git_ai_version": "1.3.2",
  "base_commit_sha": "BASE",
  "prompts": {
    "1612649c4bf0b88e": {
      "agent_id": {"tool": "claude", "id": "9b4e6eb7-1d2e-4f5a-8b9c-0d1e2f3a4b5c", "model": "claude-opus-4-6"},
      "human_author": "Bob Dev <bob@example.com>",
      "messages": [],
      "total_additions": 4,
      "total_deletions": 0,
      "accepted_lines": 4,
      "overriden_lines": 0
    }
  }
}
"#;

/// Qwen Code's attribution for a commit it wrote 63% of the characters of.
const QWEN_NOTE: &str = r#"{"version":1,"generator":"Qwen-Coder","files":{"app/status.rs":{"aiChars":630,"humanChars":370,"percent":63}},"summary":{"totalAiChars":630,"totalHumanChars":370,"aiPercent":63}}"#;

const GIT_AI_EVIDENCE: &str =
    "refs/notes/ai: git-ai authorship/3.0.0: Claude Code (claude-opus-4-6), 4 line(s) in 2 file(s)";
const QWEN_EVIDENCE: &str = "refs/notes/ai-attribution: Qwen-Coder: 63% of characters by AI";

/// A reviewed commit with nothing AI in its message, and `note` on it under `notes_ref`.
fn reviewed_commit_with_note(server: &Server, notes_ref: &str, note: &str) -> String {
    server.write("app/status.rs", "fn status() {}\n");
    let commit = server.commit(BOB, &format!("Add a status page\n\n{REVIEWED}\n"));
    let note = note.replace("BASE", &commit);
    server.git_stdin(
        &server.work,
        &["notes", &format!("--ref={notes_ref}"), "add", "-F", "-", &commit],
        note.as_bytes(),
    );
    commit
}

fn countersign(server: &Server, args: &[&str]) -> (bool, String) {
    let policy = server.bare.join("policy.toml");
    let output = Command::new(BIN)
        .args(args)
        .args(["--policy", policy.to_str().unwrap()])
        .current_dir(&server.work)
        .env_remove("COUNTERSIGN_POLICY")
        .output()
        .unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn git_ai_log_pushed_with_the_code_marks_it() {
    let server = Server::new(POLICY);
    let main_before = server.server_ref("refs/heads/main").unwrap();
    reviewed_commit_with_note(&server, "refs/notes/ai", GIT_AI_LOG);
    let push = server.push(&["origin", "main", "refs/notes/ai"]);
    assert_refused(
        &server,
        &push,
        &["senior sign-off for AI-assisted changes", GIT_AI_EVIDENCE],
        &main_before,
    );
    assert_eq!(server.server_ref("refs/notes/ai"), None, "a refused push lands no ref");
}

#[test]
fn qwen_attribution_pushed_with_the_code_marks_it() {
    let server = Server::new(POLICY);
    let main_before = server.server_ref("refs/heads/main").unwrap();
    reviewed_commit_with_note(&server, "refs/notes/ai-attribution", QWEN_NOTE);
    let push = server.push(&["origin", "main", "refs/notes/ai-attribution"]);
    assert_refused(&server, &push, &["senior sign-off for AI-assisted changes", QWEN_EVIDENCE], &main_before);
}

#[test]
fn notes_already_on_the_server_mark_the_code_pushed_later() {
    let server = Server::new(POLICY);
    let main_before = server.server_ref("refs/heads/main").unwrap();
    reviewed_commit_with_note(&server, "refs/notes/ai-attribution", QWEN_NOTE);
    // Notes refs are not protected: they land alone, as a pre-push hook would send them.
    assert!(server.push(&["origin", "refs/notes/ai-attribution"]).ok);
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &[QWEN_EVIDENCE], &main_before);
}

/// The notes arrive after the code: the hook passes it, CI's `check`, `explain` and `report`
/// (with the notes fetched) see them.
fn pushed_after_the_code(notes_ref: &str, note: &str, evidence: &str, tool: &str) {
    let server = Server::new(POLICY);
    let commit = reviewed_commit_with_note(&server, notes_ref, note);
    // git-ai pushes its notes after the code: the hook cannot know of them.
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
    assert!(server.push(&["origin", notes_ref]).ok);

    // A CI clone fetches the notes and judges the same commit again.
    server.git_work(&["fetch", "-q", "origin", &format!("{notes_ref}:{notes_ref}")]);
    let (ok, stdout) = countersign(&server, &["check", "--format", "json", &format!("{commit}~1..{commit}")]);
    assert!(!ok, "{stdout}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let verdict = &report["refs"][0]["commits"][0];
    assert_eq!(verdict["ai_assisted"], true);
    assert_eq!(verdict["evidence"][0]["kind"], "note");
    assert_eq!(verdict["evidence"][0]["tool"], tool);
    assert!(verdict["evidence"][0]["text"].as_str().unwrap().starts_with(evidence));

    let (_, explained) = countersign(&server, &["explain", &commit]);
    assert!(explained.contains("AI-assisted: yes"), "{explained}");
    assert!(explained.contains(&format!("  note: {evidence}")), "{explained}");

    let (ok, report) = countersign(&server, &["report", "--format", "json", "main"]);
    assert!(ok);
    let report: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(report["total"]["ai_assisted"], 1, "{report}");
    assert_eq!(report["by_tool"][0]["key"], tool, "{report}");
}

#[test]
fn git_ai_log_pushed_after_the_code_is_seen_by_check_explain_and_report() {
    pushed_after_the_code("refs/notes/ai", GIT_AI_LOG, GIT_AI_EVIDENCE, "Claude Code");
}

#[test]
fn qwen_attribution_pushed_after_the_code_is_seen_by_check_explain_and_report() {
    pushed_after_the_code("refs/notes/ai-attribution", QWEN_NOTE, QWEN_EVIDENCE, "Qwen Code");
}

#[test]
fn a_note_that_does_not_parse_is_reported_and_changes_nothing() {
    let server = Server::new(POLICY);
    let commit =
        reviewed_commit_with_note(&server, "refs/notes/ai", "a.rs\n  p 1-2\n---\n{\"schema_version\": ");
    let push = server.push(&["origin", "main", "refs/notes/ai"]);
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(server.server_ref("refs/notes/ai").is_some());

    let (_, explained) = countersign(&server, &["explain", &commit]);
    assert!(explained.contains("AI-assisted: no"), "{explained}");
    assert!(
        explained.contains("  unreadable_note: refs/notes/ai: git-ai log: bad JSON after `---`"),
        "{explained}"
    );
    assert!(explained.contains("(not counted)"), "{explained}");
}

#[test]
fn an_unreadable_note_never_hides_other_evidence() {
    let server = Server::new(POLICY);
    let main_before = server.server_ref("refs/heads/main").unwrap();
    server.write("app/x.rs", "x\n");
    let commit = server.commit(BOB, &format!("Add x\n\nAssisted-by: Claude:claude-opus-4-6\n{REVIEWED}\n"));
    server.git_stdin(&server.work, &["notes", "--ref=ai", "add", "-F", "-", &commit], b"{\"human\": true}");
    let push = server.push(&["origin", "main", "refs/notes/ai"]);
    assert_refused(&server, &push, &["Assisted-by: Claude:claude-opus-4-6"], &main_before);
}

#[test]
fn notes_refs_the_policy_does_not_list_are_not_read() {
    let policy = format!("{POLICY}\n[provenance]\nnotes = [\"refs/notes/whogitit\"]\n");
    let server = Server::new(&policy);
    reviewed_commit_with_note(&server, "refs/notes/ai", GIT_AI_LOG);
    assert_accepted(&server, &server.push(&["origin", "main", "refs/notes/ai"]), "refs/heads/main");
}

#[test]
fn notes_are_found_in_fanned_out_notes_trees() {
    // git stores notes under two-hex-digit directories once there are many: 600 commits,
    // every other one with a note, made by one fast-import.
    let server = Server::new(POLICY);
    let mut stream = String::new();
    for i in 1..=600 {
        let parent =
            if i == 1 { "from refs/heads/main^0\n".to_string() } else { format!("from :{}\n", i - 1) };
        let message = format!("Change {i}\n\n{REVIEWED}\n");
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{i}\ncommitter Bob Dev <bob@example.com> {} +0000\ndata {}\n{message}{parent}",
            1_700_000_000 + i,
            message.len()
        ));
    }
    stream.push_str("commit refs/notes/ai-attribution\ncommitter Bob Dev <bob@example.com> 1700000000 +0000\ndata 5\nnotes\n");
    for i in (2..=600).step_by(2) {
        stream.push_str(&format!("N inline :{i}\ndata {}\n{QWEN_NOTE}\n", QWEN_NOTE.len()));
    }
    server.git_stdin(&server.work, &["fast-import", "--quiet"], stream.as_bytes());
    let top = server.git_work(&["ls-tree", "--name-only", "refs/notes/ai-attribution"]);
    assert!(top.lines().all(|name| name.len() == 2), "fanned out: {top}");

    let (_, stdout) = countersign(&server, &["check", "--format", "json", "--dry-run", "origin/main..main"]);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let commits = report["refs"][0]["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 600);
    for commit in commits {
        let n: usize = commit["summary"].as_str().unwrap()["Change ".len()..].parse().unwrap();
        assert_eq!(commit["ai_assisted"], n.is_multiple_of(2), "{commit}");
    }
}

/// An Agent Trace record (v0.1.0) for `revision`, by Cursor, as `contributor`.
fn trace_record(revision: &str, contributor: &str) -> String {
    format!(
        r#"{{"version":"0.1.0","id":"3f1b6a2e-9c0d-4e5f-8a7b-1c2d3e4f5a6b","timestamp":"2026-01-23T14:30:00Z","vcs":{{"type":"git","revision":"{revision}"}},"tool":{{"name":"cursor","version":"2.4.0"}},"files":[{{"path":"app/status.rs","conversations":[{{"contributor":{{"type":"{contributor}","model_id":"anthropic/claude-opus-4-5-20251101"}},"ranges":[{{"start_line":1,"end_line":12}}]}}]}}]}}"#
    )
}

#[test]
fn agent_trace_records_committed_at_the_tip_mark_the_commits_they_name() {
    let server = Server::new(POLICY);
    let main_before = server.server_ref("refs/heads/main").unwrap();
    server.write("app/status.rs", "fn status() {}\n");
    let by_ai = server.commit(BOB, &format!("Add a status page\n\n{REVIEWED}\n"));
    server.write("app/other.rs", "fn other() {}\n");
    let by_hand = server.commit(BOB, &format!("Add another page\n\n{REVIEWED}\n"));
    let traces = format!("{}\n{}\n", trace_record(&by_ai, "ai"), trace_record(&by_hand, "human"));
    server.write(".agent-trace/traces.jsonl", &traces);
    server.commit(BOB, &format!("Record the traces\n\n{REVIEWED}\n"));

    let evidence =
        ".agent-trace/traces.jsonl: Agent Trace: cursor (anthropic/claude-opus-4-5-20251101), 12 line(s)";
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["\"Add a status page\"", evidence], &main_before);
    assert!(!push.stderr.contains("\"Add another page\""), "{}", push.stderr);

    let (_, stdout) = countersign(&server, &["check", "--format", "json", "--dry-run", "origin/main..main"]);
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let ai: Vec<&str> = report["refs"][0]["commits"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ai_assisted"] == true)
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ai, [by_ai.as_str()]);
    let (_, explained) = countersign(&server, &["explain", &by_ai]);
    assert!(explained.contains(&format!("  note: {evidence}")), "{explained}");
}
