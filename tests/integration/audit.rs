//! The audit log through real pushes: one line per decision, the decision the push got, and a
//! log that cannot be written refuses the push.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::util::*;

/// A server whose policy logs to `<temp>/log/audit.jsonl` (`required` as given).
fn server_with_log(extra: &str) -> (Server, PathBuf, tempfile::TempDir) {
    let logs = tempfile::tempdir().unwrap();
    let path = logs.path().join("audit.jsonl");
    let policy = format!("{POLICY}\n[audit]\npath = \"{}\"\n{extra}", path.display());
    let policy = policy
        .replace("emails = [\"dana@example.com\"]", "emails = [\"dana@example.com\"]\nlogins = [\"dana\"]");
    (Server::new(&policy), path, logs)
}

fn change(server: &Server, trailers: &str) -> String {
    server.write("app/lib.rs", &format!("{trailers}\n"));
    server.commit(BOB, &format!("Change app\n\n{trailers}\n"))
}

#[test]
fn every_decision_is_one_line_with_pusher_commits_approvals_and_policy_hash() {
    let (server, log, _logs) = server_with_log("");
    let main = server.server_ref("refs/heads/main").unwrap();
    let refused = change(&server, "Assisted-by: Claude Code");
    let push = server.push_as(&[("GL_USERNAME", "bob")], &["origin", "main"]);
    assert_refused(&server, &push, &["lacks approval"], &main);
    server.git_work(&["reset", "-q", "--hard", &main]);
    let accepted = change(&server, REVIEWED);
    let push = server.push_as(&[("GITEA_PUSHER_NAME", "dana")], &["origin", "main"]);
    assert_accepted(&server, &push, "refs/heads/main");

    let lines = Server::audit_lines(&log);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    let (first, second) = (&lines[0], &lines[1]);
    assert_eq!(first["decision"], "reject");
    assert_eq!(first["pusher"], serde_json::json!({"login": "bob", "via": "GL_USERNAME", "person": null}));
    assert_eq!(first["repository"], server.bare.canonicalize().unwrap().display().to_string());
    let update = &first["refs"][0];
    assert_eq!(
        (update["ref"].as_str(), update["old"].as_str()),
        (Some("refs/heads/main"), Some(main.as_str()))
    );
    assert_eq!(update["problems"][0]["code"], "lacks-sign-off");
    let commit = &update["commits"][0];
    assert_eq!((commit["id"].as_str(), commit["verdict"].as_str()), (Some(refused.as_str()), Some("fail")));
    assert_eq!(commit["evidence"][0]["kind"], "trailer");
    assert!(time_is_rfc3339(first["time"].as_str().unwrap()), "{}", first["time"]);
    let policy_text = std::fs::read(server.bare.join("policy.toml")).unwrap();
    assert_eq!(first["policy"]["sha256"].as_str().unwrap(), sha256_hex(&policy_text));

    assert_eq!((second["decision"].as_str(), second["enforced"].as_bool()), (Some("accept"), Some(true)));
    assert_eq!(second["pusher"]["person"], "Dana Director");
    let rule = &second["refs"][0]["commits"][0]["rules"][0];
    assert_eq!(second["refs"][0]["commits"][0]["id"], accepted.as_str());
    assert_eq!(rule["counted"][0]["person"], "Carol Dev", "{rule}");
}

fn time_is_rfc3339(text: &str) -> bool {
    text.len() >= 20 && text.ends_with('Z') && text.as_bytes()[10] == b'T'
}

fn sha256_hex(bytes: &[u8]) -> String {
    let output = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(bytes)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(output.stdout).unwrap().split_whitespace().next().unwrap().to_string()
}

#[track_caller]
fn refused_for_the_log(server: &Server, expected: &str) {
    let main = server.server_ref("refs/heads/main").unwrap();
    change(server, REVIEWED);
    let push = server.push(&["origin", "main"]);
    assert!(!push.ok, "accepted without a record:\n{}", push.stderr);
    assert!(push.stderr.contains(expected), "missing {expected:?} in:\n{}", push.stderr);
    assert!(push.stderr.contains("the push would otherwise have been accepted"), "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/main").unwrap(), main);
}

#[test]
fn a_log_that_cannot_be_written_refuses_the_push() {
    let (server, log, _logs) = server_with_log("");
    std::fs::create_dir(&log).unwrap();
    refused_for_the_log(&server, "push refused: audit log");
}

#[test]
fn a_symlinked_or_group_writable_log_refuses_and_says_why() {
    let (server, log, logs) = server_with_log("");
    let elsewhere = logs.path().join("elsewhere.jsonl");
    std::fs::write(&elsewhere, "").unwrap();
    std::os::unix::fs::symlink(&elsewhere, &log).unwrap();
    refused_for_the_log(&server, "is a symlink");
    assert_eq!(std::fs::read_to_string(&elsewhere).unwrap(), "");
    std::fs::remove_file(&log).unwrap();
    std::fs::write(&log, "").unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
    refused_for_the_log(&server, "is writable by group or others (mode 666)");
}

#[test]
fn an_optional_log_that_fails_accepts_with_a_warning() {
    let (server, log, _logs) = server_with_log("required = false\n");
    std::fs::create_dir(&log).unwrap();
    change(&server, REVIEWED);
    let push = server.push(&["origin", "main"]);
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(push.stderr.contains("warning: not recorded: audit log"), "{}", push.stderr);
}

#[test]
fn rotation_by_rename_starts_a_new_private_file() {
    let (server, log, logs) = server_with_log("");
    change(&server, REVIEWED);
    assert!(server.push(&["origin", "main"]).ok);
    let rotated = logs.path().join("audit.jsonl.1");
    std::fs::rename(&log, &rotated).unwrap();
    change(&server, REVIEWED);
    assert!(server.push(&["origin", "main"]).ok);
    assert_eq!((Server::audit_lines(&rotated).len(), Server::audit_lines(&log).len()), (1, 1));
    assert_eq!(mode(&log) & 0o077 & !0o040, 0, "a new log is at most 0640: {:o}", mode(&log));
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode()
}

#[test]
fn a_panic_is_a_refusal_and_is_logged() {
    let (server, log, _logs) = server_with_log("");
    let main = server.server_ref("refs/heads/main").unwrap();
    change(&server, REVIEWED);
    let push = server.push_as(&[("COUNTERSIGN_DEBUG_PANIC", "1")], &["origin", "main"]);
    assert!(!push.ok);
    assert!(push.stderr.contains("push refused: internal error (a bug in countersign)"), "{}", push.stderr);
    assert!(!push.stderr.contains("panicked"), "no panic text reaches the pusher:\n{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/main").unwrap(), main);
    let lines = Server::audit_lines(&log);
    assert_eq!(lines[0]["decision"], "reject");
    assert!(lines[0]["error"].as_str().unwrap().contains("COUNTERSIGN_DEBUG_PANIC is set"), "{}", lines[0]);
}

#[test]
fn input_that_cannot_be_judged_is_logged_with_the_error() {
    let (server, log, _logs) = server_with_log("");
    let main = server.server_ref("refs/heads/main").unwrap();
    let missing = "ab".repeat(20);
    let output = server.run_hook(&[], &format!("{main} {missing} refs/heads/main\n"));
    assert_eq!(output.status.code(), Some(1));
    let line = &Server::audit_lines(&log)[0];
    assert_eq!(line["decision"], "reject");
    assert!(line["error"].as_str().unwrap().contains(&format!("object {missing} is missing")), "{line}");
    assert_eq!(line["refs"][0]["new"], missing.as_str());
    server.run_hook(&[], "garbage\n");
    assert!(Server::audit_lines(&log)[1]["error"].as_str().unwrap().contains("line 1 of the hook's input"));
}
