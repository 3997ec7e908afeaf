//! Break-glass through real pushes: `git push -o countersign.override="reason"` by a person the
//! policy names lands the push loudly and on record; anyone else is refused for asking.

use std::path::PathBuf;

use crate::util::*;

/// The usual policy, with logins, an audit log and `override` (TOML lines under `[override]`).
fn server(override_keys: &str) -> (Server, String, PathBuf, tempfile::TempDir) {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("audit.jsonl");
    let policy = POLICY
        .replace("emails = [\"dana@example.com\"]", "emails = [\"dana@example.com\"]\nlogins = [\"dana\"]")
        .replace("emails = [\"bob@example.com\"]", "emails = [\"bob@example.com\"]\nlogins = [\"bob\"]");
    let policy = format!("{policy}\n[audit]\npath = \"{}\"\n[override]\n{override_keys}\n", log.display());
    let server = Server::new(&policy);
    server.git_server(&["config", "receive.advertisePushOptions", "true"]);
    let main = server.server_ref("refs/heads/main").unwrap();
    (server, main, log, logs)
}

const DANA: &str = "people = [\"Dana Director\"]";

fn unreviewed_ai_change(server: &Server) -> String {
    server.write("app/lib.rs", "fn ai() {}\n");
    server.commit(BOB, "Hotfix\n\nAssisted-by: Claude Code\n")
}

fn push_with_override(server: &Server, login: &str, reason: &str) -> Push {
    let option = format!("countersign.override={reason}");
    server.push_as(&[("GL_USERNAME", login)], &["-o", &option, "origin", "main"])
}

#[test]
fn a_named_person_overrides_with_a_reason_loudly_and_on_record() {
    let (server, _, log, _logs) = server(DANA);
    let commit = unreviewed_ai_change(&server);
    let push = push_with_override(&server, "dana", "INC-1234: payments are down");
    assert_accepted(&server, &push, "refs/heads/main");
    for expected in [
        "remote: countersign: push accepted BY OVERRIDE: 1 new commit(s) checked",
        "remote: countersign: !!! OVERRIDDEN by Dana Director (login dana via GL_USERNAME)",
        "remote: countersign: !!! reason: \"INC-1234: payments are down\"",
        "remote: countersign: !!! bypassed: 1 commit(s) lacking approval (senior sign-off for AI-assisted \
         changes, two-person review)",
        "remote: countersign: refs/heads/main: OVERRIDDEN: 1 of 1 new commit(s) lacks approval",
    ] {
        assert!(push.stderr.contains(expected), "missing {expected:?} in:\n{}", push.stderr);
    }
    let line = &Server::audit_lines(&log)[0];
    assert_eq!(line["decision"], "accept");
    let record = &line["override"];
    assert_eq!(
        (record["status"].as_str(), record["reason"].as_str()),
        (Some("applied"), Some("INC-1234: payments are down"))
    );
    assert_eq!(record["by"]["person"], "Dana Director");
    assert_eq!(record["bypassed"][0]["commit"], commit.as_str());
    assert_eq!(record["bypassed"][0]["rules"].as_array().unwrap().len(), 2);
    assert_eq!(line["refs"][0]["overridden"][0]["code"], "lacks-sign-off");
}

#[test]
fn anyone_else_is_refused_for_trying() {
    let (server, main, log, _logs) = server(DANA);
    unreviewed_ai_change(&server);
    let push = push_with_override(&server, "bob", "INC-1234: payments are down");
    assert_refused(
        &server,
        &push,
        &["override refused: Bob Dev (login bob via GL_USERNAME) may not override"],
        &main,
    );
    let push = server.push(&["-o", "countersign.override=INC-1234: payments are down", "origin", "main"]);
    assert_refused(&server, &push, &["an unidentified pusher", "may not override"], &main);
    // Asking is refused even where no rule is unmet: an override is never harmless noise.
    server.git_work(&["reset", "-q", "--hard", &main]);
    server.write("app/lib.rs", "reviewed\n");
    server.commit(BOB, &format!("Change\n\n{REVIEWED}\n"));
    let push = push_with_override(&server, "carol", "INC-1234: payments are down");
    assert_refused(
        &server,
        &push,
        &["login carol (via GL_USERNAME, not a listed person) may not override"],
        &main,
    );
    let statuses: Vec<_> =
        Server::audit_lines(&log).iter().map(|l| l["override"]["status"].clone()).collect();
    assert_eq!(statuses, ["refused", "refused", "refused"]);
}

#[test]
fn a_reason_shorter_than_min_reason_is_refused() {
    let (server, main, _, _logs) = server(&format!("{DANA}\nmin_reason = 12"));
    unreviewed_ai_change(&server);
    let push = push_with_override(&server, "dana", " hotfix  ");
    assert_refused(&server, &push, &["the override reason has 6 character(s); it needs at least 12"], &main);
}

#[test]
fn roles_name_who_may_and_rules_limit_what_is_bypassed() {
    let (server, main, _, _logs) = server("roles = [\"director\"]\nrules = [\"two-person review\"]");
    unreviewed_ai_change(&server);
    let push = push_with_override(&server, "dana", "INC-1234: payments are down");
    assert_refused(
        &server,
        &push,
        &["may not bypass rule(s) `senior sign-off for AI-assisted changes` ([override] rules)"],
        &main,
    );
    server.git_work(&["reset", "-q", "--hard", &main]);
    server.write("app/lib.rs", "plain\n");
    server.commit(BOB, "Plain change, no review\n");
    let push = push_with_override(&server, "dana", "INC-1234: payments are down");
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(
        push.stderr.contains("bypassed: 1 commit(s) lacking approval (two-person review)"),
        "{}",
        push.stderr
    );
}

#[test]
fn deletion_and_force_push_are_not_overridable() {
    let (server, main, _, _logs) = server(DANA);
    let option = "countersign.override=INC-1234: payments are down";
    let push = server.push_as(&[("GL_USERNAME", "dana")], &["-o", option, "origin", ":main"]);
    assert_refused(&server, &push, &["deleting a protected ref is not allowed"], &main);
    server.git_work(&[
        "commit",
        "-q",
        "--amend",
        "-m",
        "Rewritten\n\nReviewed-by: Carol Dev <carol@example.com>",
    ]);
    let push = server.push_as(&[("GL_USERNAME", "dana")], &["-o", option, "--force", "origin", "main"]);
    assert_refused(&server, &push, &["non-fast-forward update of a protected ref is not allowed"], &main);
}

#[test]
fn a_misspelt_countersign_option_is_refused_not_ignored() {
    let (server, main, _, _logs) = server(DANA);
    unreviewed_ai_change(&server);
    let push =
        server.push_as(&[("GL_USERNAME", "dana")], &["-o", "countersign.overide=INC-1: x", "origin", "main"]);
    assert!(!push.ok);
    assert!(push.stderr.contains("unknown push option `countersign.overide=INC-1: x`"), "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/main").unwrap(), main);
}

#[test]
fn without_advertised_push_options_git_refuses_before_the_hook() {
    let (server, main, _, _logs) = server(DANA);
    server.git_server(&["config", "receive.advertisePushOptions", "false"]);
    unreviewed_ai_change(&server);
    let push = push_with_override(&server, "dana", "INC-1234: payments are down");
    assert!(!push.ok);
    assert!(push.stderr.contains("the receiving end does not support push options"), "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/main").unwrap(), main);
}

#[test]
fn an_override_option_in_another_case_is_refused_not_ignored() {
    let (server, main, _log, _logs) = server(DANA);
    unreviewed_ai_change(&server);
    let option = "Countersign.Override=INC-1234: payments are down";
    let push = server.push_as(&[("GL_USERNAME", "dana")], &["-o", option, "origin", "main"]);
    assert!(!push.ok, "{}", push.stderr);
    assert!(push.stderr.contains("unknown push option `Countersign.Override=INC-1234"), "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/main").as_deref(), Some(main.as_str()));
}

#[test]
fn a_long_reason_is_cut_in_what_the_pusher_sees_and_in_the_log() {
    let (server, _, log, _logs) = server(DANA);
    unreviewed_ai_change(&server);
    let reason = format!("INC-1234: {}", "x".repeat(60_000));
    let push = push_with_override(&server, "dana", &reason);
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(push.stderr.len() < 10_000, "{} bytes shown", push.stderr.len());
    let logged = Server::audit_lines(&log)[0]["override"]["reason"].as_str().unwrap().to_string();
    assert_eq!(logged.chars().count(), 203, "{logged}");
    assert!(logged.starts_with("INC-1234: xxx") && logged.ends_with("..."));
}
