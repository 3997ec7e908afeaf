//! Which commits a ref update brings, and how protected refs may move.

use crate::util::*;

fn server_with(policy: &str) -> (Server, String) {
    let server = Server::new(policy);
    let main = server.server_ref("refs/heads/main").unwrap();
    (server, main)
}

#[test]
fn commit_parked_on_an_unprotected_branch_is_checked_when_main_fast_forwards() {
    let (server, main) = server_with(POLICY);
    server.write("app/lib.rs", "parked\n");
    let parked = server.commit(BOB, "Parked, unreviewed\n");
    let push = server.push(&["origin", "main:refs/heads/topic"]);
    assert!(push.ok, "unprotected refs pass: {}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/topic").as_deref(), Some(parked.as_str()));
    // Now main fast-forwards to the parked commit, which is already on the server.
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["\"Parked, unreviewed\""], &main);
}

#[test]
fn deleting_a_protected_ref_is_refused() {
    let (server, main) = server_with(POLICY);
    let push = server.push(&["origin", ":refs/heads/main"]);
    assert_refused(&server, &push, &["refs/heads/main: deleting a protected ref is not allowed"], &main);
}

#[test]
fn deleting_is_allowed_when_the_policy_says_so() {
    let (server, _) = server_with(&POLICY.replace("[gate]\n", "[gate]\nallow_delete = true\n"));
    server.git_work(&["branch", "release/old"]);
    assert!(server.push(&["origin", "release/old"]).ok);
    let push = server.push(&["origin", ":refs/heads/release/old"]);
    assert!(push.ok, "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/release/old"), None);
}

#[test]
fn deleting_an_unprotected_ref_passes() {
    let (server, _) = server_with(POLICY);
    assert!(server.push(&["origin", "main:refs/heads/topic"]).ok);
    assert!(server.push(&["origin", ":refs/heads/topic"]).ok);
    assert_eq!(server.server_ref("refs/heads/topic"), None);
}

#[test]
fn force_push_to_a_protected_ref_is_refused() {
    let (server, main) = server_with(POLICY);
    server.write("app/lib.rs", "rewritten\n");
    server.git_work(&["add", "-A"]);
    server.git_work(&["commit", "-q", "--amend", "-m", &format!("Rewritten history\n\n{REVIEWED}")]);
    let push = server.push(&["--force", "origin", "main"]);
    assert_refused(&server, &push, &["non-fast-forward update of a protected ref is not allowed"], &main);
}

#[test]
fn force_push_is_allowed_when_the_policy_says_so_but_commits_are_still_checked() {
    let (server, _) = server_with(&POLICY.replace("[gate]\n", "[gate]\nallow_force_push = true\n"));
    server.write("app/lib.rs", "first\n");
    server.commit(BOB, &format!("First\n\n{REVIEWED}\n"));
    assert!(server.push(&["origin", "main"]).ok);
    let main = server.head();
    server.write("app/lib.rs", "rewritten\n");
    server.git_work(&["add", "-A"]);
    server.git_work(&["commit", "-q", "--amend", "-m", "Rewritten, unreviewed"]);
    let push = server.push(&["--force", "origin", "main"]);
    assert_refused(&server, &push, &["\"Rewritten, unreviewed\""], &main);
    server.git_work(&["commit", "-q", "--amend", "-m", &format!("Rewritten\n\n{REVIEWED}")]);
    assert_accepted(&server, &server.push(&["--force", "origin", "main"]), "refs/heads/main");
}

#[test]
fn new_protected_branch_at_checked_history_brings_no_new_commits() {
    let (server, _) = server_with(POLICY);
    let push = server.push(&["origin", "main:refs/heads/release/2.0"]);
    assert!(push.ok, "{}", push.stderr);
    assert!(push.stderr.contains("0 new commit(s) checked"), "{}", push.stderr);
}

#[test]
fn new_protected_branch_with_unreviewed_commit_is_refused() {
    let (server, main) = server_with(POLICY);
    server.git_work(&["checkout", "-q", "-b", "release/2.0"]);
    server.write("app/lib.rs", "release fix\n");
    server.commit(BOB, "Release fix, unreviewed\n");
    let push = server.push(&["origin", "release/2.0"]);
    assert!(!push.ok);
    assert!(
        push.stderr.contains("refs/heads/release/2.0: 1 of 1 new commit(s) lacks approval"),
        "{}",
        push.stderr
    );
    assert_eq!(server.server_ref("refs/heads/release/2.0"), None);
    assert_eq!(server.server_ref("refs/heads/main").unwrap(), main);
}

#[test]
fn multi_ref_push_with_one_bad_ref_changes_nothing() {
    let (server, main) = server_with(POLICY);
    server.git_work(&["checkout", "-q", "-b", "release/3.0"]);
    server.write("app/good.rs", "good\n");
    server.commit(BOB, &format!("Good\n\n{REVIEWED}\n"));
    server.git_work(&["checkout", "-q", "main"]);
    server.write("app/bad.rs", "bad\n");
    server.commit(BOB, "Bad, unreviewed\n");
    let push = server.push(&["origin", "main", "release/3.0", "main:refs/heads/topic"]);
    assert_refused(&server, &push, &["refs/heads/main: 1 of 1 new commit(s) lacks approval"], &main);
    assert_eq!(server.server_ref("refs/heads/release/3.0"), None, "the good ref did not land either");
    assert_eq!(server.server_ref("refs/heads/topic"), None, "nor the unprotected one");
}

#[test]
fn annotated_tag_under_a_protected_glob_peels_to_its_commit() {
    let (server, _) = server_with(POLICY);
    server.write("app/lib.rs", "tagged\n");
    server.commit(BOB, "Tagged, unreviewed\n");
    server.git_work(&["tag", "-a", "-m", "release", "v1.0"]);
    let push = server.push(&["origin", "refs/tags/v1.0"]);
    assert!(!push.ok);
    assert!(push.stderr.contains("refs/tags/v1.0: 1 of 1 new commit(s) lacks approval"), "{}", push.stderr);
    assert_eq!(server.server_ref("refs/tags/v1.0"), None);
}

#[test]
fn tag_outside_the_protected_globs_passes() {
    let (server, _) = server_with(POLICY);
    server.write("app/lib.rs", "tagged\n");
    server.commit(BOB, "Tagged, unreviewed\n");
    server.git_work(&["tag", "-a", "-m", "nightly", "nightly-1"]);
    assert!(server.push(&["origin", "refs/tags/nightly-1"]).ok);
}

#[test]
fn commits_already_on_another_protected_ref_are_not_checked_again() {
    let (server, _) = server_with(POLICY);
    server.write("app/lib.rs", "reviewed\n");
    server.commit(BOB, &format!("Reviewed\n\n{REVIEWED}\n"));
    assert!(server.push(&["origin", "main:refs/heads/release/4.0"]).ok);
    let push = server.push(&["origin", "main"]);
    assert!(push.ok, "{}", push.stderr);
    assert!(push.stderr.contains("0 new commit(s) checked"), "{}", push.stderr);
}

#[test]
fn push_through_a_symbolic_ref_is_judged_as_its_target() {
    let (server, main) = server_with(POLICY);
    // An alias kept after renaming master to main.
    server.git_server(&["symbolic-ref", "refs/heads/master", "refs/heads/main"]);
    server.write("infra/main.tf", "unreviewed\n");
    server.commit(BOB, "Unreviewed infra change\n");
    let push = server.push(&["origin", "main:refs/heads/master"]);
    assert_refused(
        &server,
        &push,
        &["refs/heads/master (symbolic ref to refs/heads/main): 1 of 1 new commit(s) lacks approval"],
        &main,
    );
}

#[test]
fn a_tree_on_a_protected_ref_is_refused() {
    let (server, _) = server_with(POLICY);
    server.write("infra/main.tf", "backdoor\n");
    server.git_work(&["add", "-A"]);
    let tree = server.git_work(&["write-tree"]);
    let push = server.push(&["origin", &format!("{}:refs/tags/v9", tree.trim())]);
    assert!(!push.ok, "{}", push.stderr);
    assert!(
        push.stderr.contains("refs/tags/v9: a protected ref may only point at a commit"),
        "{}",
        push.stderr
    );
    assert_eq!(server.server_ref("refs/tags/v9"), None);
}

#[test]
fn ref_scoped_rule_applies_only_on_its_ref() {
    let policy = format!(
        "{POLICY}\n[[rule]]\nname = \"main needs a senior\"\nwhen = {{ refs = [\"refs/heads/main\"] }}\nfrom_role = \"senior\"\n"
    );
    let (server, _) = server_with(&policy);
    server.write("app/lib.rs", "peer reviewed\n");
    server.commit(BOB, &format!("Peer reviewed\n\n{REVIEWED}\n"));
    assert!(
        server.push(&["origin", "main:refs/heads/release/5.0"]).ok,
        "the release branch only needs a peer"
    );
    let (server, _) = server_with(&policy);
    server.write("app/lib.rs", "peer reviewed\n");
    server.commit(BOB, &format!("Peer reviewed\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert!(!push.ok);
    assert!(push.stderr.contains("x main needs a senior"), "{}", push.stderr);
}

#[test]
fn a_commit_landed_on_a_ref_with_fewer_rules_is_judged_again_on_main() {
    let policy = POLICY.replace(
        "[[rule]]\nname = \"two-person review\"\n",
        "[[rule]]\nname = \"two-person review\"\nwhen = { refs = [\"refs/heads/main\"] }\n",
    );
    let (server, main) = server_with(&policy);
    server.write("app/lib.rs", "unreviewed\n");
    server.commit(BOB, "Unreviewed\n");
    // release/** is protected, but the two-person rule only applies on main.
    assert!(server.push(&["origin", "main:refs/heads/release/sandbox"]).ok);
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["x two-person review", "\"Unreviewed\""], &main);
}
