//! The client side: `install --client` in a clone, its pre-push hook against the server's
//! hook on the same pushes (the clone refuses exactly what the server refuses, with the same
//! words, and lets through what it accepts), its commit-msg warnings, and `check`/`explain`
//! finding the committed policy on the remote-tracking ref.

use std::process::{Command, Output};

use crate::util::*;

/// A server whose hook reads the policy committed on main, and a clone with the client hooks
/// (nothing configured in the clone: the hooks find the policy on origin/main).
fn server_and_clone(policy: &str) -> Server {
    server_and_clone_in(Format::Files, policy)
}

fn server_and_clone_in(format: Format, policy: &str) -> Server {
    let server = Server::without_hook_in(format);
    server.write("policy.toml", policy);
    server.commit(BOB, &format!("Add the policy\n\n{REVIEWED}\n"));
    assert!(server.push(&["origin", "main"]).ok);
    succeeds(&countersign(
        &server,
        &["install", "--repo", server.bare.to_str().unwrap(), "--policy-ref", "refs/heads/main:policy.toml"],
    ));
    server.git_work(&["fetch", "-q", "origin"]);
    let out = succeeds(&countersign(&server, &["install", "--client"]));
    assert!(out.contains("policy refs/remotes/origin/main:policy.toml: valid"), "{out}");
    server
}

fn countersign(server: &Server, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(&server.work)
        .env("HOME", &server.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("COUNTERSIGN_POLICY")
        .output()
        .unwrap()
}

#[track_caller]
fn succeeds(output: &Output) -> String {
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert_eq!(output.status.code(), Some(0), "{stdout}{stderr}");
    format!("{stdout}{stderr}")
}

/// The server's words, without git's `remote: ` prefix and padding.
fn server_lines(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix("remote: "))
        .map(|line| line.trim_end().to_string())
        .filter(|line| line.starts_with("countersign: ") || line.starts_with("  "))
        .collect()
}

/// The push is refused by the clone's hook, before the server hears of it; with
/// `--no-verify` the server refuses it too, and told the pusher what the clone told them.
#[track_caller]
fn refused_both_ways(server: &Server, args: &[&str]) {
    let before = server.server_ref("refs/heads/main");
    let local = server.push(args);
    assert!(!local.ok, "the clone let it through:\n{}", local.stderr);
    assert!(!local.stderr.contains("remote:"), "the server was reached:\n{}", local.stderr);
    assert!(local.stderr.contains("refused before the push by the pre-push hook"), "{}", local.stderr);
    assert_eq!(server.server_ref("refs/heads/main"), before, "main moved");
    let remote = server.push(&[&["--no-verify"][..], args].concat());
    assert!(!remote.ok, "the server accepted it:\n{}", remote.stderr);
    let said = server_lines(&remote.stderr);
    assert!(said.iter().any(|line| line.starts_with("countersign: push rejected")), "{}", remote.stderr);
    for line in said.iter().filter(|line| !line.starts_with("countersign: policy ")) {
        assert!(local.stderr.contains(line.as_str()), "the clone did not say {line:?}:\n{}", local.stderr);
    }
    assert_eq!(server.server_ref("refs/heads/main"), before, "main moved");
}

/// The clone's hook lets the push through and the server accepts it.
#[track_caller]
fn accepted_both_ways(server: &Server, args: &[&str], refname: &str) {
    let push = server.push(args);
    assert!(push.ok, "refused:\n{}", push.stderr);
    assert!(push.stderr.contains("countersign: checked before the push"), "{}", push.stderr);
    assert!(push.stderr.contains("remote: countersign: push accepted"), "{}", push.stderr);
    assert_eq!(server.server_ref(refname), Some(server.head()), "{refname} is not the pushed commit");
}

#[test]
fn an_unreviewed_commit_is_refused_in_the_clone_as_on_the_server() {
    let server = server_and_clone(POLICY);
    server.write("app/x.rs", "x\n");
    server.commit(BOB, "Unreviewed change\n");
    refused_both_ways(&server, &["origin", "main"]);
}

/// An unreviewed commit on main is refused by both; amended with a review, taken by both.
fn unreviewed_refused_then_reviewed_accepted(server: &Server) {
    server.write("app/x.rs", "x\n");
    server.commit(BOB, "Unreviewed change\n");
    refused_both_ways(server, &["origin", "main"]);
    server.git_work(&["commit", "-q", "--amend", "--no-edit", "--trailer", REVIEWED]);
    accepted_both_ways(server, &["origin", "main"], "refs/heads/main");
}

#[test]
fn sha256_and_reftable_clones_are_judged_alike() {
    for format in [Format::Sha256, Format::Reftable] {
        let server = server_and_clone_in(format, POLICY);
        unreviewed_refused_then_reviewed_accepted(&server);
    }
}

#[test]
fn a_reviewed_commit_goes_through_both() {
    let server = server_and_clone(POLICY);
    server.write("app/x.rs", "x\n");
    server.commit(BOB, &format!("Reviewed change\n\n{REVIEWED}\n"));
    accepted_both_ways(&server, &["origin", "main"], "refs/heads/main");
}

#[test]
fn a_tier1_change_needs_the_director_in_the_clone_too() {
    let server = server_and_clone(POLICY);
    server.write("payments/api.rs", "fn pay() { retry() }\n");
    server.commit(BOB, &format!("Pay twice\n\n{REVIEWED}\n"));
    refused_both_ways(&server, &["origin", "HEAD:refs/heads/release/1"]);
    server.git_work(&[
        "commit",
        "-q",
        "--amend",
        "--no-edit",
        "--trailer",
        "Approved-by: Dana Director <dana@example.com>",
    ]);
    accepted_both_ways(&server, &["origin", "HEAD:refs/heads/release/1"], "refs/heads/release/1");
}

#[test]
fn an_unprotected_branch_takes_anything() {
    let server = server_and_clone(POLICY);
    server.write("app/x.rs", "x\n");
    server.commit(BOB, "Work in progress\n");
    accepted_both_ways(&server, &["origin", "HEAD:refs/heads/topic"], "refs/heads/topic");
}

#[test]
fn commits_already_on_a_protected_ref_are_not_judged_again() {
    let server = server_and_clone(POLICY);
    // main holds "Initial import", unreviewed, pushed before the hook: already on the server.
    server.git_work(&["reset", "-q", "--hard", "origin/main"]);
    let push = server.push(&["origin", "HEAD:refs/heads/release/2"]);
    assert!(push.ok, "{}", push.stderr);
    assert!(push.stderr.contains("checked before the push: 0 new commit(s) pass"), "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/release/2"), Some(server.head()));
}

#[test]
fn a_force_push_and_a_broken_policy_are_refused_in_the_clone_too() {
    let server = server_and_clone(POLICY);
    server.git_work(&["reset", "-q", "--hard", "HEAD~1"]);
    server.commit(BOB, &format!("Rewritten\n\n{REVIEWED}\n"));
    refused_both_ways(&server, &["--force", "origin", "main"]);

    server.git_work(&["reset", "-q", "--hard", "origin/main"]);
    server.write("policy.toml", "version = 1\n[gate\n");
    server.commit(BOB, &format!("Break the policy\n\n{REVIEWED}\n"));
    refused_both_ways(&server, &["origin", "main"]);
}

#[test]
fn what_the_clone_cannot_know_goes_to_the_server() {
    let server = server_and_clone(POLICY);
    server.write("app/x.rs", "x\n");
    server.commit(BOB, "Unreviewed change\n");
    // Pushed to a URL: no remote-tracking refs say what the server holds.
    let url = format!("file://{}", server.bare.display());
    let push = server.push(&[&url, "main"]);
    assert!(push.stderr.contains("countersign: not checked before the push"), "{}", push.stderr);
    assert!(push.stderr.contains("remote: countersign: push rejected"), "{}", push.stderr);
    assert!(!push.ok);

    // No policy anywhere the clone looks: the note says where it looked.
    server.git_work(&["update-ref", "-d", "refs/remotes/origin/main"]);
    server.git_work(&["remote", "set-head", "origin", "--delete"]);
    let push = server.push(&["origin", "main"]);
    assert!(push.stderr.contains("not checked before the push: no policy configured"), "{}", push.stderr);
    assert!(push.stderr.contains("refs/remotes/origin/main"), "{}", push.stderr);
    assert!(push.stderr.contains("remote: countersign: push rejected"), "{}", push.stderr);
}

#[test]
fn a_judgement_out_of_time_here_is_left_to_the_server() {
    let server = server_and_clone(&POLICY.replacen("[gate]\n", "[gate]\nmax_seconds = 0.000001\n", 1));
    server.reviewed_commits(300);
    let push = server.push(&["origin", "main"]);
    assert!(push.stderr.contains("not checked before the push: judging took longer"), "{}", push.stderr);
    assert!(push.stderr.contains("remote: countersign: push rejected"), "{}", push.stderr);
}

#[test]
fn approvals_recorded_on_the_server_are_left_to_it() {
    let policy = POLICY.replace(
        "[[rule]]\nname = \"two-person review\"\n",
        "[[rule]]\nname = \"two-person review\"\nrecorded = \"optional\"\n",
    );
    assert_ne!(policy, POLICY);
    let server = server_and_clone(&policy);
    server.write("app/x.rs", "x\n");
    server.commit(BOB, "Unreviewed change\n");
    let push = server.push(&["origin", "main"]);
    assert!(push.stderr.contains("lacks approval"), "{}", push.stderr);
    assert!(
        push.stderr.contains("not refused here: the policy counts approvals recorded"),
        "{}",
        push.stderr
    );
    assert!(push.stderr.contains("remote: countersign: push rejected"), "{}", push.stderr);
}

#[test]
fn the_commit_msg_hook_warns_and_commits() {
    let server = server_and_clone(POLICY);
    server.write("app/x.rs", "x\n");
    server.git_work(&["add", "-A"]);
    let output = server.git_output(
        &server.work,
        &["commit", "-q", "-m", "Change", "-m", "Reviewed by: Carol Dev <carol@example.com>"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("countersign: warning: \"Reviewed by: Carol Dev <carol@example.com>\""),
        "{stderr}"
    );
    assert!(stderr.contains("write `Reviewed-by:`"), "{stderr}");
    let output = server
        .git_output(&server.work, &["commit", "-q", "--allow-empty", "-s", "-m", "Fine", "-m", REVIEWED]);
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn client_hooks_go_where_core_hooks_path_says_and_keep_a_foreign_hook_only_with_force() {
    let server = server_and_clone(POLICY);
    server.git_work(&["config", "core.hooksPath", ".githooks"]);
    std::fs::create_dir_all(server.work.join(".githooks")).unwrap();
    let foreign = "#!/bin/sh\necho foreign pre-push ran >&2\n";
    std::fs::write(server.work.join(".githooks/pre-push"), foreign).unwrap();
    let executable = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(server.work.join(".githooks/pre-push"), executable).unwrap();
    let output = countersign(&server, &["install", "--client"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not countersign's hook; pass --force"));
    assert!(!server.work.join(".githooks/commit-msg").exists(), "a refused install wrote a hook");
    succeeds(&countersign(&server, &["install", "--client", "--force"]));
    assert_eq!(
        std::fs::read_to_string(server.work.join(".githooks/pre-push.countersign-chained")).unwrap(),
        foreign
    );
    server.write("app/x.rs", "x\n");
    server.commit(BOB, &format!("Reviewed change\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert!(push.ok, "{}", push.stderr);
    assert!(push.stderr.contains("checked before the push"), "{}", push.stderr);
    assert!(push.stderr.contains("foreign pre-push ran"), "{}", push.stderr);

    succeeds(&countersign(&server, &["uninstall", "--repo", "."]));
    assert_eq!(std::fs::read_to_string(server.work.join(".githooks/pre-push")).unwrap(), foreign);
    assert!(!server.work.join(".githooks/commit-msg").exists());
}

#[test]
fn check_and_explain_in_a_clone_find_the_policy_on_the_remote_tracking_ref() {
    let server = server_and_clone(POLICY);
    server.write("app/x.rs", "x\n");
    server.commit(BOB, "Unreviewed change\n");
    let output = countersign(&server, &["check", "origin/main..HEAD"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("1 of 1 new commit(s) lacks approval"), "{stdout}");
    assert!(stdout.contains("refs/remotes/origin/main:policy.toml"), "{stdout}");
    let output = countersign(&server, &["explain", "HEAD"]);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));

    // Nothing where a clone looks: the error says where that was.
    server.git_work(&["remote", "rename", "origin", "upstream"]);
    server.git_work(&["remote", "add", "other", "/nowhere"]);
    let output = countersign(&server, &["check", "HEAD~1..HEAD"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no policy configured, and none committed where a clone finds it"), "{stderr}");
    assert!(stderr.contains("no remote named origin among other, upstream"), "{stderr}");
}

/// `pre-commit try-repo` on this repository's `.pre-commit-hooks.yaml`, in the work clone, with
/// the built binary first on PATH (the hooks are `language: system`). `None`: no pre-commit.
fn try_repo(server: &Server, hook: &str, args: &str) -> Option<(bool, String)> {
    let found = Command::new("pre-commit").arg("--version").output().is_ok_and(|o| o.status.success());
    if !machine_has("pre-commit (pip install pre-commit; .ci/run installs it)", found) {
        return None;
    }
    let bin_dir = std::path::Path::new(BIN).parent().unwrap().display().to_string();
    let script = format!(
        "PATH='{bin_dir}':\"$PATH\" PRE_COMMIT_HOME='{}' pre-commit try-repo '{}' {hook} {args}",
        server.home.join("pre-commit").display(),
        env!("CARGO_MANIFEST_DIR")
    );
    let output = server.shell(&script);
    let text =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Some((output.status.success(), text))
}

#[test]
fn pre_commit_runs_both_stages_through_try_repo() {
    let server = server_and_clone(POLICY);
    server.write("app/x.rs", "x\n");
    server.commit(BOB, "Unreviewed change\n");
    let pre_push = "--hook-stage pre-push --from-ref origin/main --to-ref HEAD --remote-name origin \
                    --remote-url origin --remote-branch refs/heads/main --local-branch refs/heads/main";
    let Some((ok, out)) = try_repo(&server, "countersign-pre-push", pre_push) else { return };
    assert!(!ok, "{out}");
    assert!(out.contains("countersign: refs/heads/main: 1 of 1 new commit(s) lacks approval"), "{out}");
    assert!(out.contains("refused before the push by the pre-push hook"), "{out}");

    server.git_work(&["commit", "-q", "--amend", "--no-edit", "--trailer", REVIEWED]);
    let (ok, out) = try_repo(&server, "countersign-pre-push", pre_push).unwrap();
    assert!(ok, "{out}");
    assert!(out.contains("checked before the push: 1 new commit(s) pass"), "{out}");

    let message = server.home.join("COMMIT_EDITMSG");
    std::fs::write(&message, "Change\n\nReviewed by: Carol Dev <carol@example.com>\n").unwrap();
    let args = format!("--hook-stage commit-msg --commit-msg-filename '{}'", message.display());
    let (ok, out) = try_repo(&server, "countersign-commit-msg", &args).unwrap();
    assert!(ok, "a warning stopped the commit:\n{out}");
    assert!(out.contains("countersign: warning: \"Reviewed by: Carol Dev <carol@example.com>\""), "{out}");
}

#[test]
fn a_policy_file_on_the_server_is_used_through_the_copy_the_admin_documents() {
    // The server's hook reads a file on the server: nothing committed for a clone to find.
    let server = Server::new(POLICY);
    server.git_work(&["fetch", "-q", "origin"]);
    let output = countersign(&server, &["install", "--client"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("looked at refs/remotes/origin/main:.countersign/policy.toml"), "{stderr}");
    assert!(!server.work.join(".git/hooks/pre-push").exists());

    let copy = server.home.join("documented-policy.toml");
    std::fs::write(&copy, POLICY).unwrap();
    let out = succeeds(&countersign(&server, &["install", "--client", "--policy", copy.to_str().unwrap()]));
    assert!(out.contains(&format!("git config countersign.policy {}", copy.display())), "{out}");
    unreviewed_refused_then_reviewed_accepted(&server);
}

#[test]
fn every_ref_of_a_push_is_judged_and_a_protected_deletion_refused() {
    let server = server_and_clone(POLICY);
    server.write("app/x.rs", "x\n");
    server.commit(BOB, "Unreviewed change\n");
    // Fine on topic, not on main: one ref keeps the whole push out, as on the server.
    refused_both_ways(&server, &["origin", "HEAD:refs/heads/topic", "HEAD:refs/heads/main"]);
    assert_eq!(server.server_ref("refs/heads/topic"), None, "a refused push changed a ref");
    accepted_both_ways(&server, &["origin", "HEAD:refs/heads/topic"], "refs/heads/topic");

    server.git_work(&["reset", "-q", "--hard", "origin/main"]);
    accepted_both_ways(&server, &["origin", "HEAD:refs/heads/release/1"], "refs/heads/release/1");
    refused_both_ways(&server, &["origin", ":refs/heads/release/1"]);
    assert_eq!(server.server_ref("refs/heads/release/1"), Some(server.head()));
}

/// A commit the server has only under a protected tag (an admin tagged it) is not new to the
/// server; the view holds the clone's tags, so the clone does not judge it as new either.
#[test]
fn a_commit_under_a_protected_tag_is_already_on_the_server() {
    let server = server_and_clone(POLICY);
    server.git_work(&["checkout", "-q", "-b", "hotfix"]);
    server.write("app/hotfix.rs", "fix\n");
    let head = server.commit(BOB, "Hotfix, tagged by the release manager\n");
    let head = head.trim();
    assert!(server.push(&["--no-verify", "origin", "HEAD:refs/heads/topic"]).ok);
    server.git_server(&["update-ref", "refs/tags/v1", head]);
    server.git_server(&["update-ref", "-d", "refs/heads/topic"]);
    server.git_work(&["update-ref", "-d", "refs/remotes/origin/topic"]);
    server.git_work(&["fetch", "-q", "--tags", "origin"]);
    let push = server.push(&["origin", "HEAD:refs/heads/release/1.1"]);
    assert!(push.ok, "{}", push.stderr);
    assert!(
        push.stderr.contains("countersign: checked before the push: 0 new commit(s) pass"),
        "{}",
        push.stderr
    );
    assert_eq!(server.git_server(&["rev-parse", "refs/heads/release/1.1"]).trim(), head);
}

/// A single-branch clone (`git clone --depth` is one) cannot see the server's other protected
/// refs, so it cannot tell which commits the server already has: it shows its judgement and
/// lets the server decide, never refusing what the server accepts.
#[test]
fn a_single_branch_clone_leaves_refusals_to_the_server() {
    let server = server_and_clone(POLICY);
    server.git_work(&["checkout", "-q", "-b", "legacy"]);
    server.write("app/legacy.rs", "old\n");
    let legacy = server.commit(BOB, "Legacy change\n");
    let legacy = legacy.trim();
    // On the server's protected release/1, as an admin placed it; the clone fetches main only.
    assert!(server.push(&["--no-verify", "origin", "HEAD:refs/heads/topic"]).ok);
    server.git_server(&["update-ref", "refs/heads/release/1", legacy]);
    server.git_server(&["update-ref", "-d", "refs/heads/topic"]);
    server.git_work(&["config", "remote.origin.fetch", "+refs/heads/main:refs/remotes/origin/main"]);
    server.git_work(&["update-ref", "-d", "refs/remotes/origin/topic"]);

    let accepted = server.push(&["origin", "HEAD:refs/heads/release/2"]);
    assert!(accepted.ok, "{}", accepted.stderr);
    assert!(accepted.stderr.contains("not refused here: this clone does not fetch every protected ref"));
    assert!(accepted.stderr.contains("refs/heads/release/**"), "{}", accepted.stderr);
    assert_eq!(server.git_server(&["rev-parse", "refs/heads/release/2"]).trim(), legacy);

    // A commit that is new to the server: the clone says what it found, the server refuses.
    server.write("app/new.rs", "new\n");
    server.commit(BOB, "Unreviewed\n");
    let refused = server.push(&["origin", "HEAD:refs/heads/release/2"]);
    assert!(!refused.ok);
    assert!(refused.stderr.contains("countersign: not refused here"), "{}", refused.stderr);
    assert!(refused.stderr.contains("remote: countersign: push rejected"), "{}", refused.stderr);
    assert_eq!(server.git_server(&["rev-parse", "refs/heads/release/2"]).trim(), legacy);
}
