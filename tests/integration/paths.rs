//! Changed paths as SPEC defines them, each proven by the director rule on `infra/` and
//! `payments/` through a real push.

use crate::util::*;

fn server() -> (Server, String) {
    let server = Server::new(POLICY);
    let main = server.server_ref("refs/heads/main").unwrap();
    (server, main)
}

#[test]
fn rename_out_of_a_tier1_directory_counts_the_old_path() {
    let (server, main) = server();
    server.git_work(&["mv", "infra/main.tf", "app/main.tf"]);
    server.commit(BOB, &format!("Move the config\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["x director audit", "infra/main.tf matches infra/**"], &main);
}

#[test]
fn rename_into_a_tier1_directory_counts_the_new_path() {
    let (server, main) = server();
    server.git_work(&["mv", "app/lib.rs", "payments/lib.rs"]);
    server.commit(BOB, &format!("Move the lib\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["payments/lib.rs matches payments/**"], &main);
}

#[test]
fn deletion_of_a_tier1_file_counts() {
    let (server, main) = server();
    server.git_work(&["rm", "-q", "payments/api.rs"]);
    server.commit(BOB, &format!("Drop the API\n\n{REVIEWED}\n"));
    assert_refused(
        &server,
        &server.push(&["origin", "main"]),
        &["payments/api.rs matches payments/**"],
        &main,
    );
}

#[test]
fn change_outside_tier1_does_not_need_the_director() {
    let (server, _) = server();
    server.write("app/infra/notes.md", "not tier-1: the glob is anchored\n");
    server.commit(BOB, &format!("Notes\n\n{REVIEWED}\n"));
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
}

#[test]
fn root_commit_changes_every_path_of_its_tree() {
    let (server, main) = server();
    server.git_work(&["checkout", "-q", "--orphan", "fresh"]);
    server.git_work(&["rm", "-q", "-r", "--cached", "."]);
    std::fs::remove_dir_all(server.work.join("app")).unwrap();
    std::fs::remove_dir_all(server.work.join("payments")).unwrap();
    server.commit(BOB, &format!("New history\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "fresh:refs/heads/release/1.0"]);
    assert!(!push.ok, "{}", push.stderr);
    assert!(push.stderr.contains("infra/main.tf matches infra/**"), "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/release/1.0"), None);
    assert_eq!(server.server_ref("refs/heads/main").unwrap(), main);
}

#[test]
fn submodule_gitlink_counts_as_its_path() {
    let (server, main) = server();
    let head = server.head();
    server.git_work(&["update-index", "--add", "--cacheinfo", &format!("160000,{head},infra/vendored")]);
    // Committed as staged: `git add -A` would drop a gitlink with no checkout behind it.
    server.git_work(&["commit", "-q", "-m", &format!("Vendor a module\n\n{REVIEWED}")]);
    assert_refused(&server, &server.push(&["origin", "main"]), &["infra/vendored matches infra/**"], &main);
}

/// Two reviewed branches off main, one touching infra (director-approved): the merge of them.
fn two_branches(server: &Server) {
    server.git_work(&["checkout", "-q", "-b", "left"]);
    server.write("infra/main.tf", "left\n");
    server.commit(BOB, "Left\n\nApproved-by: Dana Director <dana@example.com>\n");
    server.git_work(&["checkout", "-q", "main"]);
    server.write("app/right.rs", "right\n");
    server.commit(BOB, &format!("Right\n\n{REVIEWED}\n"));
}

#[test]
fn clean_merge_is_exempt() {
    let (server, _) = server();
    two_branches(&server);
    // No approval on the merge itself: it introduces nothing of its own.
    server.git_work(&["merge", "-q", "--no-ff", "--no-edit", "left"]);
    let push = server.push(&["origin", "main"]);
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(push.stderr.contains("3 new commit(s) checked"), "{}", push.stderr);
}

#[test]
fn evil_merge_is_judged_on_what_it_introduces() {
    let (server, main) = server();
    two_branches(&server);
    server.git_work(&["merge", "-q", "--no-ff", "--no-commit", "left"]);
    // A change of its own, in a tier-1 file neither parent has in this form.
    server.write("payments/api.rs", "fn pay() { steal() }\n");
    server.commit(BOB, &format!("Merge branch 'left'\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &["\"Merge branch 'left'\"", "payments/api.rs matches payments/**"],
        &main,
    );
    // The merge's parents' paths are not its own.
    assert!(!push.stderr.contains("infra/main.tf matches"), "{}", push.stderr);
}

#[test]
fn merge_that_reverts_a_reviewed_change_is_judged() {
    let (server, _) = server();
    let initial = server.head();
    server.write("infra/main.tf", "hardened\n");
    server.commit(BOB, "Harden infra\n\nApproved-by: Dana Director <dana@example.com>\n");
    server.write("app/v2.rs", "v2\n");
    server.commit(BOB, &format!("App v2\n\n{REVIEWED}\n"));
    assert!(server.push(&["origin", "main"]).ok);
    let main = server.head();
    // A "merge" with the initial commit that takes its infra file back: no line of its own.
    server.git_work(&["checkout", &initial, "--", "infra/main.tf"]);
    let tree = server.git_work(&["write-tree"]);
    let merge = server.git_work(&[
        "commit-tree",
        tree.trim(),
        "-p",
        &main,
        "-p",
        &initial,
        "-m",
        &format!("Merge old\n\n{REVIEWED}"),
    ]);
    let push = server.push(&["origin", &format!("{}:refs/heads/main", merge.trim())]);
    assert_refused(&server, &push, &["\"Merge old\"", "infra/main.tf matches infra/**"], &main);
}

#[test]
fn merge_that_rolls_the_branch_back_is_judged() {
    let (server, _) = server();
    let initial = server.head();
    server.write("payments/api.rs", "fn pay() { audited() }\n");
    server.commit(BOB, "Audit payments\n\nApproved-by: Dana Director <dana@example.com>\n");
    assert!(server.push(&["origin", "main"]).ok);
    let main = server.head();
    let old_tree = server.git_work(&["rev-parse", &format!("{initial}^{{tree}}")]);
    let merge = server.git_work(&[
        "commit-tree",
        old_tree.trim(),
        "-p",
        &main,
        "-p",
        &initial,
        "-m",
        &format!("Merge\n\n{REVIEWED}"),
    ]);
    let push = server.push(&["origin", &format!("{}:refs/heads/main", merge.trim())]);
    assert_refused(&server, &push, &["payments/api.rs matches payments/**"], &main);
}
