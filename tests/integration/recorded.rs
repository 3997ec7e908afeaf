//! Approvals recorded on the server (`refs/countersign/approvals/<patch-id>/<login>`), through
//! real pushes: only the login a ref names may record it, the gate counts it like a trailer,
//! and it follows the change through a clean rebase but not a changed diff.

use std::process::Command;

use crate::util::*;

/// The usual policy with logins, recorded approvals (`recorded` = "optional" or "required")
/// and Dana as the approvals admin.
fn server(recorded: &str) -> (Server, String) {
    let mut policy = POLICY.replace(
        "[approvals]\n",
        &format!("[approvals]\nrecorded = \"{recorded}\"\nadmins = [\"Dana Director\"]\n"),
    );
    for login in ["alice", "bob", "carol", "dana"] {
        let emails = format!("emails = [\"{login}@example.com\"]");
        policy = policy.replace(&emails, &format!("{emails}\nlogins = [\"{login}\"]"));
    }
    let server = Server::new(&policy);
    let main = server.server_ref("refs/heads/main").unwrap();
    (server, main)
}

fn change(server: &Server, author: &str, message: &str) -> String {
    server.write("app/lib.rs", &format!("fn app() {{}} // {}\n", server.head()));
    server.commit(author, message)
}

/// `countersign approve --push` in the work clone, authenticated by the server as `login`.
fn record(server: &Server, login: &str, target: &str) -> (bool, String) {
    let output = Command::new(BIN)
        .args(["approve", "--push", "--login", login, target])
        .current_dir(&server.work)
        .env("HOME", &server.home)
        .env("GL_USERNAME", login)
        .env_remove("REMOTE_USER")
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), text)
}

fn approvals(server: &Server) -> Vec<String> {
    let listed = server.git_server(&["for-each-ref", "--format=%(refname)", "refs/countersign/approvals/"]);
    listed.lines().map(str::to_string).collect()
}

#[test]
fn an_approval_the_reviewer_records_counts() {
    let (server, main) = server("optional");
    let commit = change(&server, BOB, "Unreviewed\n");
    let push = server.push_as(&[("GL_USERNAME", "bob")], &["origin", "main"]);
    assert_refused(&server, &push, &["countersign approve --push", "refs/countersign/approvals/"], &main);
    let (ok, out) = record(&server, "carol", "HEAD");
    assert!(ok, "{out}");
    assert!(out.contains(&format!("recorded: carol approves {}", &commit[..12])), "{out}");
    assert_eq!(approvals(&server).len(), 1);
    let push = server.push_as(&[("GL_USERNAME", "bob")], &["origin", "main"]);
    assert_accepted(&server, &push, "refs/heads/main");
}

#[test]
fn the_plain_git_command_the_refusal_shows_records_it() {
    let (server, main) = server("optional");
    let commit = change(&server, BOB, "Unreviewed\n");
    let push = server.push(&["origin", "main"]);
    assert!(!push.ok);
    let shown = push.stderr.lines().find(|line| line.contains("with git alone: git push origin")).unwrap();
    let refspec = shown.split("git push origin ").nth(1).unwrap().trim().trim_end_matches(')');
    let refspec = refspec.replace("<their login>", "carol");
    assert!(refspec.starts_with(&format!("{commit}:refs/countersign/approvals/")), "{refspec}");
    let recorded = server.push_as(&[("GL_USERNAME", "carol")], &["origin", &refspec]);
    assert!(recorded.ok, "{}", recorded.stderr);
    let push = server.push(&["origin", "main"]);
    assert_accepted(&server, &push, "refs/heads/main");
    assert_ne!(server.server_ref("refs/heads/main").as_deref(), Some(main.as_str()));
}

#[test]
fn the_author_cannot_record_an_approval_in_a_reviewers_name() {
    let (server, main) = server("optional");
    change(&server, BOB, "Unreviewed\n");
    let (ok, out) = record(&server, "carol", "HEAD");
    assert!(ok, "{out}");
    let name = approvals(&server).pop().unwrap();
    server.git_server(&["update-ref", "-d", &name]);
    // Bob, authenticated as bob, names carol.
    let push = server.push_as(&[("GL_USERNAME", "bob")], &["origin", &format!("HEAD:{name}")]);
    assert!(!push.ok, "{}", push.stderr);
    assert!(push.stderr.contains("may not record an approval in the name of carol"), "{}", push.stderr);
    assert!(approvals(&server).is_empty());
    let push = server.push_as(&[("GL_USERNAME", "bob")], &["origin", "main"]);
    assert_refused(&server, &push, &["\"Unreviewed\""], &main);
}

#[test]
fn a_reviewers_approval_of_their_own_commit_does_not_count() {
    let (server, main) = server("optional");
    change(&server, "Carol Dev <carol@example.com>", "Carol's change\n");
    let (ok, out) = record(&server, "carol", "HEAD");
    assert!(ok, "{out}");
    let push = server.push_as(&[("GL_USERNAME", "carol")], &["origin", "main"]);
    assert_refused(&server, &push, &["recorded by login carol on", "does not count: author"], &main);
}

#[test]
fn a_clean_rebase_keeps_it_and_a_changed_diff_drops_it() {
    let (server, _) = server("optional");
    server.git_work(&["checkout", "-q", "-b", "topic"]);
    server.write("app/topic.rs", "fn topic() {}\n");
    server.commit(BOB, "Topic change\n");
    let (ok, out) = record(&server, "carol", "HEAD");
    assert!(ok, "{out}");
    // main moves on (reviewed), and the topic is rebased onto it: same diff, new commit.
    server.git_work(&["checkout", "-q", "main"]);
    server.write("README.md", "moved on\n");
    server.commit(BOB, &format!("Moved on\n\n{REVIEWED}\n"));
    assert!(server.push(&["origin", "main"]).ok);
    server.git_work(&["checkout", "-q", "topic"]);
    server.git_work(&["rebase", "-q", "main"]);
    let push = server.push(&["origin", "topic:main"]);
    assert_accepted(&server, &push, "refs/heads/main");

    // A changed diff: the recorded approval no longer names it.
    let main = server.server_ref("refs/heads/main").unwrap();
    server.write("app/topic.rs", "fn topic() { changed }\n");
    server.git_work(&["commit", "-q", "-a", "-m", "Topic, again"]);
    let (ok, out) = record(&server, "carol", "HEAD");
    assert!(ok, "{out}");
    server.write("app/topic.rs", "fn topic() { changed after the review }\n");
    server.git_work(&["commit", "-q", "-a", "--amend", "-m", "Topic, again"]);
    let push = server.push(&["origin", "topic:main"]);
    let stale = "does not count: stale: recorded for an earlier version of this change";
    assert_refused(&server, &push, &["\"Topic, again\"", "recorded by login carol on", stale], &main);
}

#[test]
fn only_its_owner_or_an_admin_withdraws_it_and_it_is_never_moved() {
    let (server, main) = server("optional");
    change(&server, BOB, "Unreviewed\n");
    let (ok, out) = record(&server, "carol", "HEAD");
    assert!(ok, "{out}");
    let name = approvals(&server).pop().unwrap();
    let delete = format!(":{name}");
    let push = server.push_as(&[("GL_USERNAME", "bob")], &["origin", &delete]);
    assert!(
        !push.ok && push.stderr.contains("only carol (or a person [approvals] admins names) may withdraw")
    );
    let moved =
        server.push_as(&[("GL_USERNAME", "carol")], &["--force", "origin", &format!("{main}:{name}")]);
    assert!(!moved.ok && moved.stderr.contains("a recorded approval is never moved"), "{}", moved.stderr);
    let push = server.push_as(&[("GL_USERNAME", "carol")], &["origin", &delete]);
    assert!(push.ok, "{}", push.stderr);
    assert!(approvals(&server).is_empty());
    let push = server.push_as(&[("GL_USERNAME", "bob")], &["origin", "main"]);
    assert_refused(&server, &push, &["\"Unreviewed\""], &main);
    // An admin withdraws another's.
    let (ok, out) = record(&server, "alice", "HEAD");
    assert!(ok, "{out}");
    let name = approvals(&server).pop().unwrap();
    let push = server.push_as(&[("GL_USERNAME", "dana")], &["origin", &format!(":{name}")]);
    assert!(push.ok, "{}", push.stderr);
}

#[test]
fn a_server_that_names_no_pusher_refuses_to_record() {
    let (server, _) = server("optional");
    change(&server, BOB, "Unreviewed\n");
    let output = Command::new(BIN)
        .args(["approve", "--push", "--login", "carol", "HEAD"])
        .current_dir(&server.work)
        .env("HOME", &server.home)
        .env_remove("GL_USERNAME")
        .env_remove("REMOTE_USER")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("the server names no pusher, so no approval can be recorded"), "{stderr}");
    assert!(stderr.contains("nothing recorded"), "{stderr}");
    assert!(approvals(&server).is_empty());
}

#[test]
fn required_recorded_approvals_ignore_a_typed_trailer() {
    let (server, main) = server("required");
    change(&server, BOB, &format!("Reviewed by typing\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &["does not count: a typed trailer; this rule counts approvals recorded"],
        &main,
    );
    let (ok, out) = record(&server, "carol", "HEAD");
    assert!(ok, "{out}");
    let push = server.push(&["origin", "main"]);
    assert_accepted(&server, &push, "refs/heads/main");
}

#[test]
fn recording_is_refused_where_no_rule_counts_it() {
    let server = Server::new(POLICY);
    change(&server, BOB, "Unreviewed\n");
    let name = format!("refs/countersign/approvals/{}/carol", "a".repeat(64));
    let push = server.push_as(&[("GL_USERNAME", "carol")], &["origin", &format!("HEAD:{name}")]);
    assert!(!push.ok && push.stderr.contains("recorded approvals are off"), "{}", push.stderr);
}

#[test]
fn check_in_ci_counts_recorded_approvals_it_fetched() {
    let (server, _) = server("required");
    change(&server, BOB, "Unreviewed\n");
    let (ok, out) = record(&server, "carol", "HEAD");
    assert!(ok, "{out}");
    let policy = server.bare.join("policy.toml");
    let check = |dir: &std::path::Path| {
        Command::new(BIN)
            .args(["check", "--policy", policy.to_str().unwrap(), "origin/main..HEAD"])
            .current_dir(dir)
            .env_remove("COUNTERSIGN_POLICY")
            .output()
            .unwrap()
    };
    server.git_work(&["fetch", "-q", "origin"]);
    assert_eq!(check(&server.work).status.code(), Some(1), "not fetched yet: not counted");
    server.git_work(&["fetch", "-q", "origin", "+refs/countersign/approvals/*:refs/countersign/approvals/*"]);
    let output = check(&server.work);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    let json = Command::new(BIN)
        .args(["check", "--format", "json", "--policy", policy.to_str().unwrap(), "origin/main..HEAD"])
        .current_dir(&server.work)
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let counted = &report["refs"][0]["commits"][0]["rules"][0]["counted"][0];
    assert_eq!(counted["kind"], "recorded", "{counted}");
    assert_eq!(counted["person"], "Carol Dev", "{counted}");
}

#[test]
fn prune_deletes_the_approvals_of_changes_that_landed() {
    let (server, _) = server("optional");
    change(&server, BOB, "Landed\n");
    let (ok, out) = record(&server, "carol", "HEAD");
    assert!(ok, "{out}");
    assert!(server.push(&["origin", "main"]).ok);
    let landed = approvals(&server);
    server.git_work(&["checkout", "-q", "-b", "topic"]);
    change(&server, BOB, "Still in review\n");
    let (ok, out) = record(&server, "carol", "HEAD");
    assert!(ok, "{out}");
    assert_eq!(approvals(&server).len(), 2);
    let prune = |extra: &[&str]| {
        let output = Command::new(BIN)
            .args(["approvals", "prune", "--repo", server.bare.to_str().unwrap()])
            .args(extra)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let dry = prune(&["--dry-run"]);
    assert!(
        dry.contains(&landed[0]) && dry.contains("1 approval(s) of landed changes would be deleted"),
        "{dry}"
    );
    assert_eq!(approvals(&server).len(), 2);
    assert!(prune(&[]).contains("deleted 1 approval(s)"));
    let left = approvals(&server);
    assert_eq!(left.len(), 1);
    assert_ne!(left[0], landed[0]);
}

/// With `protected = ["refs/**"]` the approvals namespace matches the glob too; yet a commit an
/// approval points at is under review, not judged: main may not fast-forward to it unread.
#[test]
fn an_approval_ref_is_no_judged_tip_even_under_a_protect_everything_glob() {
    let (server, main) = server("optional");
    let policy = std::fs::read_to_string(server.bare.join("policy.toml")).unwrap();
    let everything = policy.replace(
        "protected = [\"refs/heads/main\", \"refs/heads/release/**\", \"refs/tags/v*\"]",
        "protected = [\"refs/**\"]",
    );
    assert_ne!(policy, everything);
    std::fs::write(server.bare.join("policy.toml"), everything).unwrap();
    change(&server, BOB, "Unreviewed\n");
    // Bob records an approval of his own change: allowed, and it counts for nothing.
    let (ok, out) = record(&server, "bob", "HEAD");
    assert!(ok, "{out}");
    let push = server.push_as(&[("GL_USERNAME", "bob")], &["origin", "main"]);
    assert_refused(&server, &push, &["1 of 1 new commit(s)", "\"Unreviewed\""], &main);
}
