//! The three rules of the mission and every kind of approval, each through a real `git push`.

use crate::util::*;

fn server() -> (Server, String) {
    let server = Server::new(POLICY);
    let main = server.server_ref("refs/heads/main").unwrap();
    (server, main)
}

/// Commits a change to `app/` by Bob with `trailers` as the message's trailer block, pushes it.
fn push_app_change(server: &Server, trailers: &str) -> Push {
    server.write("app/lib.rs", &format!("fn app() {{}} // {}\n", server.head()));
    server.commit(BOB, &format!("Change the app\n\nSome explanation.\n\n{trailers}\n"));
    server.push(&["origin", "main"])
}

#[test]
fn unreviewed_commit_is_refused_with_the_fix() {
    let (server, main) = server();
    let push = push_app_change(&server, "Signed-off-by: Bob Dev <bob@example.com>");
    assert_refused(
        &server,
        &push,
        &[
            "refs/heads/main: 1 of 1 new commit(s) lacks approval",
            "\"Change the app\" by Bob Dev <bob@example.com>",
            "x two-person review [missing-approval]",
            "needs 1 approval from someone other than the author; found none",
            "can approve: Alice Senior, Carol Dev, Dana Director",
            "git commit --amend --no-edit --trailer \"Approved-by: Alice Senior <alice@example.com>\"",
            "[remote rejected] main -> main (pre-receive hook declined)",
        ],
        &main,
    );
}

#[test]
fn peer_reviewed_commit_is_accepted() {
    let (server, _) = server();
    let push = push_app_change(&server, REVIEWED);
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(
        push.stderr.contains("remote: countersign: push accepted: 1 new commit(s) checked"),
        "{}",
        push.stderr
    );
}

#[test]
fn ai_assisted_commit_with_only_peer_review_is_refused() {
    let (server, main) = server();
    let push =
        push_app_change(&server, &format!("Co-authored-by: Claude <noreply@anthropic.com>\n{REVIEWED}"));
    assert_refused(
        &server,
        &push,
        &[
            "AI-assisted: Co-authored-by: Claude <noreply@anthropic.com>",
            "x senior sign-off for AI-assisted changes [missing-approval]",
            "needs 1 approval from role senior; found none",
            "Reviewed-by: Carol Dev <carol@example.com> does not count: not role senior",
        ],
        &main,
    );
    assert!(!push.stderr.contains("x two-person review"), "the peer review counts for that rule");
}

#[test]
fn declared_help_from_an_address_the_policy_does_not_know_is_ai() {
    let (server, main) = server();
    let push = push_app_change(&server, &format!("Assisted-by: ChatGPT <chatgpt@openai.com>\n{REVIEWED}"));
    assert_refused(
        &server,
        &push,
        &[
            "AI-assisted: Assisted-by: ChatGPT <chatgpt@openai.com>",
            "x senior sign-off for AI-assisted changes [missing-approval]",
            "needs 1 approval from role senior",
        ],
        &main,
    );
    // Help from a person the policy lists is human help.
    server.git_work(&["reset", "-q", "--hard", &main]);
    let push =
        push_app_change(&server, &format!("Assisted-by: Alice Senior <alice@example.com>\n{REVIEWED}"));
    assert_accepted(&server, &push, "refs/heads/main");
}

#[test]
fn ai_assisted_commit_with_senior_approval_is_accepted() {
    let (server, _) = server();
    let push = push_app_change(
        &server,
        "Assisted-by: Claude:claude-opus-4-6\nApproved-by: Alice Senior <alice@example.com>",
    );
    assert_accepted(&server, &push, "refs/heads/main");
}

#[test]
fn ai_author_identity_needs_a_senior() {
    let (server, main) = server();
    server.write("app/lib.rs", "// copilot\n");
    server.commit(
        "copilot-swe-agent[bot] <198982749+Copilot@users.noreply.github.com>",
        &format!("Fix\n\n{REVIEWED}\n"),
    );
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["AI-assisted: author: copilot-swe-agent[bot]"], &main);
}

#[test]
fn tier1_change_without_director_is_refused() {
    let (server, main) = server();
    server.write("payments/api.rs", "fn pay() { retry() }\n");
    server.commit(BOB, "Retry payments\n\nApproved-by: Alice Senior <alice@example.com>\n");
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &[
            "x director audit for tier-1 systems [missing-approval]",
            "needs 1 approval from role director; found none",
            "applies: payments/api.rs matches payments/**",
            "can approve: Dana Director",
            "Approved-by: Alice Senior <alice@example.com> does not count: not role director",
        ],
        &main,
    );
}

#[test]
fn tier1_change_with_director_is_accepted() {
    let (server, _) = server();
    server.write("infra/main.tf", "resource { size = 2 }\n");
    server.commit(BOB, "Grow the cluster\n\nApproved-by: Dana Director <dana@example.com>\n");
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
}

// Approvals that must not count.

#[test]
fn self_approval_does_not_count() {
    let (server, main) = server();
    let push = push_app_change(&server, "Reviewed-by: Bob Dev <bob@example.com>");
    assert_refused(&server, &push, &["Reviewed-by: Bob Dev <bob@example.com> does not count: author"], &main);
}

#[test]
fn co_author_approval_does_not_count() {
    let (server, main) = server();
    let push =
        push_app_change(&server, &format!("Co-authored-by: Carol Dev <carol@example.com>\n{REVIEWED}"));
    assert_refused(
        &server,
        &push,
        &["Reviewed-by: Carol Dev <carol@example.com> does not count: co-author"],
        &main,
    );
}

#[test]
fn ai_identity_approval_does_not_count() {
    let (server, main) = server();
    let push = push_app_change(&server, "Reviewed-by: Claude <noreply@anthropic.com>");
    assert_refused(
        &server,
        &push,
        &["Reviewed-by: Claude <noreply@anthropic.com> does not count: AI identity"],
        &main,
    );
}

#[test]
fn unlisted_approver_does_not_count() {
    let (server, main) = server();
    let push = push_app_change(&server, "Reviewed-by: Mallory <mallory@evil.example>");
    assert_refused(
        &server,
        &push,
        &["Reviewed-by: Mallory <mallory@evil.example> does not count: not a person in the policy"],
        &main,
    );
}

#[test]
fn approval_outside_the_trailer_block_does_not_count() {
    let (server, main) = server();
    server.write("app/lib.rs", "// quoted\n");
    server.commit(
        BOB,
        "Change the app\n\nAs Carol wrote in the thread:\n> Reviewed-by: Carol Dev <carol@example.com>\n\n\
         Reviewed-by: Carol Dev <carol@example.com>\nwhich she said she would add.\n",
    );
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["x two-person review", "found none"], &main);
}

#[test]
fn approval_after_a_dashes_line_still_counts() {
    let (server, _) = server();
    // In a commit message `---` is not a patch divider: the trailer block is still the last paragraph.
    let push = push_app_change(&server, &format!("---\n\n{REVIEWED}"));
    assert_accepted(&server, &push, "refs/heads/main");
}

#[test]
fn case_different_email_counts() {
    let (server, _) = server();
    let push = push_app_change(&server, "Reviewed-by: carol <CAROL@Example.COM>");
    assert_accepted(&server, &push, "refs/heads/main");
}

#[test]
fn mailmap_cannot_turn_the_author_into_someone_else() {
    let (server, main) = server();
    // The pusher maps their own address to Carol's; identities come from the policy alone.
    server.write(".mailmap", "Carol Dev <carol@example.com> <bob@example.com>\n");
    let push = push_app_change(&server, "Reviewed-by: Bob Dev <bob@example.com>");
    assert_refused(&server, &push, &["does not count: author"], &main);
}

#[test]
fn every_commit_of_a_push_is_checked() {
    let (server, main) = server();
    server.write("app/a.rs", "a\n");
    server.commit(BOB, &format!("First\n\n{REVIEWED}\n"));
    server.write("app/b.rs", "b\n");
    server.commit(BOB, "Second, unreviewed\n");
    server.write("app/c.rs", "c\n");
    server.commit(BOB, &format!("Third\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["1 of 3 new commit(s) lacks approval", "\"Second, unreviewed\""], &main);
    assert!(!push.stderr.contains("\"First\"") && !push.stderr.contains("\"Third\""), "{}", push.stderr);
}

#[test]
fn a_huge_push_prints_a_bounded_report() {
    let (server, main) = server();
    for i in 0..25 {
        server.write("app/n.txt", &i.to_string());
        server.commit(BOB, &format!("Unreviewed change {i}\n"));
    }
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &["25 of 25 new commit(s) lack approval", "... and 15 more commit(s) with findings"],
        &main,
    );
    assert_eq!(push.stderr.matches("x two-person review").count(), 10, "{}", push.stderr);
}

#[test]
fn pushed_objects_in_a_pack_are_seen_through_the_quarantine() {
    let (server, main) = server();
    // Keep every push as a pack in the quarantine, never exploded into loose objects.
    server.git_server(&["config", "receive.unpackLimit", "1"]);
    let push = push_app_change(&server, "Signed-off-by: Bob Dev <bob@example.com>");
    assert_refused(&server, &push, &["\"Change the app\""], &main);
    // The fix the report suggests, then the same push again.
    server.git_work(&[
        "commit",
        "-q",
        "--amend",
        "--no-edit",
        "--trailer",
        "Approved-by: Alice Senior <alice@example.com>",
    ]);
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
}

#[test]
fn warn_mode_reports_and_accepts() {
    let server = Server::new(&POLICY.replace("[gate]\n", "[gate]\nmode = \"warn\"\n"));
    let push = push_app_change(&server, "Signed-off-by: Bob Dev <bob@example.com>");
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(
        push.stderr.contains("push accepted: 1 new commit(s) checked, 1 with warnings"),
        "{}",
        push.stderr
    );
    assert!(push.stderr.contains("! (warn only) two-person review"), "{}", push.stderr);
}

#[test]
fn a_warn_rule_reports_but_does_not_refuse() {
    let policy =
        POLICY.replace("name = \"two-person review\"", "name = \"two-person review\"\nmode = \"warn\"");
    let server = Server::new(&policy);
    let push = push_app_change(&server, "Signed-off-by: Bob Dev <bob@example.com>");
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(push.stderr.contains("! (warn only) two-person review [missing-approval]"), "{}", push.stderr);
}

#[test]
fn dry_run_reports_and_accepts() {
    let (server, _) = server();
    std::fs::write(
        server.bare.join("hooks/pre-receive"),
        format!("#!/bin/sh\nexec '{BIN}' pre-receive --dry-run\n"),
    )
    .unwrap();
    let push = push_app_change(&server, "Signed-off-by: Bob Dev <bob@example.com>");
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(push.stderr.contains("x two-person review"), "{}", push.stderr);
}

#[test]
fn expired_rule_does_not_apply() {
    let policy = POLICY.replace(
        "name = \"director audit for tier-1 systems\"",
        "name = \"director audit for tier-1 systems\"\nsince = 2020-01-01\nuntil = 2020-03-31",
    );
    let server = Server::new(&policy);
    server.write("infra/main.tf", "changed\n");
    server.commit(BOB, &format!("Infra\n\n{REVIEWED}\n"));
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
}

#[test]
fn future_rule_does_not_apply_yet() {
    let policy = POLICY.replace(
        "name = \"director audit for tier-1 systems\"",
        "name = \"director audit for tier-1 systems\"\nsince = 2999-01-01",
    );
    let server = Server::new(&policy);
    server.write("infra/main.tf", "changed\n");
    server.commit(BOB, &format!("Infra\n\n{REVIEWED}\n"));
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
}

#[test]
fn rule_inside_its_window_applies() {
    let policy = POLICY.replace(
        "name = \"director audit for tier-1 systems\"",
        "name = \"director audit for tier-1 systems\"\nsince = 2020-01-01\nuntil = 2999-12-31",
    );
    let server = Server::new(&policy);
    let main = server.server_ref("refs/heads/main").unwrap();
    server.write("infra/main.tf", "changed\n");
    server.commit(BOB, &format!("Infra\n\n{REVIEWED}\n"));
    assert_refused(&server, &server.push(&["origin", "main"]), &["x director audit"], &main);
}

#[test]
fn the_shipped_example_policy_guards_its_own_file() {
    let server = Server::new(include_str!("../../policy.toml"));
    let main = server.server_ref("refs/heads/main").unwrap();
    server.write("policy.toml", "version = 1\n");
    server.commit(BOB, "Relax the policy\n\nReviewed-by: Alice Senior <alice@example.com>\n");
    assert_refused(
        &server,
        &server.push(&["origin", "main"]),
        &["x director audit for tier-1 systems", "applies: policy.toml matches policy.toml"],
        &main,
    );
}

#[test]
fn warn_mode_report_is_bounded_too() {
    let server = Server::new(&POLICY.replace("[gate]\n", "[gate]\nmode = \"warn\"\n"));
    for i in 0..15 {
        server.write("app/n.txt", &i.to_string());
        server.commit(BOB, &format!("Unreviewed change {i}\n"));
    }
    let push = server.push(&["origin", "main"]);
    assert_accepted(&server, &push, "refs/heads/main");
    assert_eq!(push.stderr.matches("! (warn only) two-person review").count(), 10, "{}", push.stderr);
    assert!(push.stderr.contains("... and 5 more commit(s) with findings"), "{}", push.stderr);
}

#[test]
fn co_author_written_loosely_still_cannot_approve() {
    let (server, main) = server();
    let push = push_app_change(
        &server,
        &format!("Co-authored-by: Erin <erin@x.io>, Carol Dev <carol@example.com>\n{REVIEWED}"),
    );
    assert_refused(
        &server,
        &push,
        &["Reviewed-by: Carol Dev <carol@example.com> does not count: co-author"],
        &main,
    );
    let push =
        push_app_change(&server, &format!("Co-authored-by: carol@example.com (Carol Dev)\n{REVIEWED}"));
    assert_refused(&server, &push, &["does not count: co-author"], &main);
}

#[test]
fn ai_co_author_listed_beside_a_human_is_still_ai() {
    let (server, main) = server();
    let push = push_app_change(
        &server,
        &format!("Co-authored-by: Claude <noreply@anthropic.com>, Erin <erin@x.io>\n{REVIEWED}"),
    );
    assert_refused(&server, &push, &["x senior sign-off for AI-assisted changes"], &main);
}

/// The command of a refusal's fix line that contains `marker`, as the pusher copies it.
fn fix_command(push: &Push, marker: &str) -> String {
    let line = push.stderr.lines().find(|line| line.contains(marker));
    let line = line.unwrap_or_else(|| panic!("no fix line with {marker:?} in:\n{}", push.stderr));
    line.trim_start_matches("remote:").trim().to_string()
}

#[track_caller]
fn paste(server: &Server, command: &str) {
    let output = server.shell(command);
    assert!(
        output.status.success(),
        "{command}\nfailed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_fix_line_for_an_older_commit_works_pasted_as_it_is() {
    let (server, main) = server();
    server.write("app/lib.rs", "fn app() { retry() }\n");
    server.commit(BOB, &format!("Retry\n\nCo-authored-by: Claude <noreply@anthropic.com>\n{REVIEWED}\n"));
    server.write("app/other.rs", "fn other() {}\n");
    server.commit(BOB, &format!("Other\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["Alice Senior must review this change"], &main);
    let command = fix_command(&push, "git commit --fixup=reword:");
    assert!(command.contains("--trailer \"Approved-by: Alice Senior <alice@example.com>\""), "{command}");
    // Work in progress does not stop it, and is still there afterwards.
    server.write("README.md", "work in progress\n");
    paste(&server, &command);
    assert_eq!(std::fs::read_to_string(server.work.join("README.md")).unwrap(), "work in progress\n");
    assert_eq!(
        server.git_work(&["log", "-1", "--format=%s", "HEAD"]).trim(),
        "Other",
        "the tip stays the tip"
    );
    let push = server.push(&["origin", "main"]);
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(push.stderr.contains("push accepted: 2 new commit(s) checked"), "{}", push.stderr);
}

#[test]
fn the_fix_line_for_the_tip_works_pasted_as_it_is() {
    let (server, main) = server();
    server.write("app/lib.rs", "fn app() { 1 }\n");
    server.commit(BOB, "Unreviewed\n\nSome explanation.\n");
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["Alice Senior must review this change"], &main);
    assert!(!push.stderr.contains("--fixup"), "{}", push.stderr);
    paste(&server, &fix_command(&push, "git commit --amend --no-edit --trailer"));
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
}

#[test]
fn a_root_commit_gets_a_fix_line_that_rebases_from_the_root() {
    let (server, _) = server();
    server.git_work(&["checkout", "-q", "--orphan", "fresh"]);
    server.commit(BOB, "Unreviewed root\n");
    server.write("app/lib.rs", "fn app() { 2 }\n");
    server.commit(BOB, &format!("Reviewed\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "fresh:refs/heads/release/fresh"]);
    assert!(!push.ok, "{}", push.stderr);
    let command = fix_command(&push, "git commit --fixup=reword:");
    assert!(command.ends_with("--root"), "{command}");
    paste(&server, &command);
    let push = server.push(&["origin", "fresh:refs/heads/release/fresh"]);
    assert!(push.ok, "{}", push.stderr);
}

#[test]
fn approvals_that_only_look_right_are_pointed_at_and_explained() {
    let (server, main) = server();
    server.write("app/lib.rs", "fn app() { 3 }\n");
    server.commit(
        BOB,
        "Change\n\nApproved-by: Alice Senior <alice@example.com>\nas agreed on the call.\n\n\
         Reviewed by: Carol Dev <carol@example.com>\nSigned-off-by: Bob Dev <bob@example.com>\n",
    );
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &[
            "looks like an approval, but is not one: Approved-by: Alice Senior <alice@example.com>",
            "not in the trailer block: git reads trailers only from the message's last paragraph",
            "looks like an approval, but is not one: Reviewed by: Carol Dev <carol@example.com>",
            "`Reviewed by:` is not a trailer key (git reads no spaces in a key): write `Reviewed-by:`",
            "looks like an approval, but is not one: Signed-off-by: Bob Dev <bob@example.com>",
            "Signed-off-by is the author's certificate of origin (git commit -s), not a review",
        ],
        &main,
    );
    // A commit that passes is not lectured about its sign-off.
    server.git_work(&["commit", "-q", "--amend", "--no-edit", "--trailer", REVIEWED]);
    let push = server.push(&["origin", "main"]);
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(!push.stderr.contains("looks like an approval"), "{}", push.stderr);
}

#[test]
fn a_first_push_of_an_old_history_points_at_the_baseline() {
    let (server, _) = server();
    server.git_work(&["checkout", "-q", "--orphan", "old"]);
    for i in 0..3 {
        server.write("app/lib.rs", &format!("fn app() {{ {i} }}\n"));
        server.commit(BOB, &format!("Old change {i}\n"));
    }
    let push = server.push(&["origin", "old:refs/heads/release/old"]);
    assert!(!push.ok, "{}", push.stderr);
    assert!(push.stderr.contains("refs/heads/release/old is new here"), "{}", push.stderr);
    assert!(push.stderr.contains("[gate] baseline = [\"<commit id>\"]"), "{}", push.stderr);
    assert!(push.stderr.contains(&format!("this push's tip is {}", server.head())), "{}", push.stderr);
}

#[test]
fn the_admins_help_line_ends_every_refusal_and_no_acceptance() {
    let policy = POLICY.replace(
        "[gate]\n",
        "[gate]\nhelp = \"https://wiki.example.com/countersign, or ask #release-eng\"\n",
    );
    let server = Server::new(&policy);
    let main = server.server_ref("refs/heads/main").unwrap();
    let push = push_app_change(&server, "Signed-off-by: Bob Dev <bob@example.com>");
    assert_refused(&server, &push, &[], &main);
    let last = push.stderr.lines().rfind(|line| line.starts_with("remote: ")).unwrap();
    assert_eq!(
        last.trim_end(),
        "remote: countersign: help: https://wiki.example.com/countersign, or ask #release-eng"
    );
    // A refusal without a verdict (a deletion of a protected ref) says it too.
    let push = server.push(&["origin", ":main"]);
    assert!(!push.ok && push.stderr.contains("countersign: help: https://wiki"), "{}", push.stderr);
    server.git_work(&["reset", "-q", "--hard", &main]);
    let push = push_app_change(&server, REVIEWED);
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(!push.stderr.contains("countersign: help:"), "{}", push.stderr);
}
