//! Ways around the gate that a real server's refs open: symbolic-ref aliases (resolved as
//! git resolves them, dangling ones too), replace refs, and ref names as git sends them.

use crate::util::*;

fn server_with(policy: &str) -> (Server, String) {
    let server = Server::new(policy);
    let main = server.server_ref("refs/heads/main").unwrap();
    (server, main)
}

fn unreviewed(server: &Server) -> String {
    server.write("app/lib.rs", &format!("unreviewed {}\n", server.head()));
    server.commit(BOB, "Unreviewed\n")
}

#[test]
fn deleting_main_through_its_alias_is_refused() {
    let (server, main) = server_with(POLICY);
    server.git_server(&["symbolic-ref", "refs/heads/master", "refs/heads/main"]);
    let push = server.push(&["origin", ":refs/heads/master"]);
    let problem =
        "refs/heads/master (symbolic ref to refs/heads/main): deleting a protected ref is not allowed";
    assert_refused(&server, &push, &[problem], &main);
}

#[test]
fn a_push_to_a_dangling_alias_is_judged_as_the_ref_git_creates() {
    let (server, main) = server_with(POLICY);
    // The alias points at a release branch that does not exist yet; git creates it.
    server.git_server(&["symbolic-ref", "refs/heads/next", "refs/heads/release/2.0"]);
    unreviewed(&server);
    let push = server.push(&["origin", "main:refs/heads/next"]);
    assert_refused(
        &server,
        &push,
        &["refs/heads/next (symbolic ref to refs/heads/release/2.0): 1 of 1 new commit(s)", "\"Unreviewed\""],
        &main,
    );
    assert_eq!(server.server_ref("refs/heads/release/2.0"), None);

    server.write("app/lib.rs", "reviewed\n");
    server.commit(BOB, &format!("Reviewed\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "HEAD~:refs/heads/scratch"]);
    assert!(push.ok, "{}", push.stderr);
    // A reviewed tip on top of the unreviewed commit: that one is still refused.
    let push = server.push(&["origin", "main:refs/heads/next"]);
    assert!(!push.ok, "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/release/2.0"), None);
}

#[test]
fn a_ref_a_protected_alias_points_at_is_protected() {
    let (server, main) = server_with(POLICY);
    assert!(server.push(&["origin", "main:refs/heads/topic"]).ok);
    server.git_server(&["symbolic-ref", "refs/heads/release/current", "refs/heads/topic"]);
    let parked = unreviewed(&server);
    let push = server.push(&["origin", "main:refs/heads/topic"]);
    assert!(!push.ok, "{}", push.stderr);
    assert!(push.stderr.contains("refs/heads/topic: 1 of 1 new commit(s)"), "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/topic").as_deref(), Some(main.as_str()));
    // Nor is the parked commit "already judged" through the alias.
    let push = server.push(&["origin", &format!("{parked}:refs/heads/main")]);
    assert_refused(&server, &push, &["\"Unreviewed\""], &main);
}

#[test]
fn main_aliasing_an_unprotected_ref_guards_that_ref() {
    let (server, main) = server_with(POLICY);
    assert!(server.push(&["origin", "main:refs/heads/trunk"]).ok);
    server.git_server(&["update-ref", "-d", "refs/heads/main"]);
    server.git_server(&["symbolic-ref", "refs/heads/main", "refs/heads/trunk"]);
    unreviewed(&server);
    let push = server.push(&["origin", "main:refs/heads/trunk"]);
    assert_refused(&server, &push, &["refs/heads/trunk: 1 of 1 new commit(s)"], &main);
    assert_eq!(server.server_ref("refs/heads/trunk").as_deref(), Some(main.as_str()));
    let push = server.push(&["origin", ":refs/heads/trunk"]);
    assert!(!push.ok, "{}", push.stderr);
    assert!(push.stderr.contains("deleting a protected ref is not allowed"), "{}", push.stderr);
}

#[test]
fn a_dangling_alias_under_a_protected_name_protects_the_ref_it_names() {
    let (server, main) = server_with(POLICY);
    server.git_server(&["symbolic-ref", "refs/heads/release/current", "refs/heads/staging"]);
    unreviewed(&server);
    let push = server.push(&["origin", "main:refs/heads/staging"]);
    assert_refused(&server, &push, &["refs/heads/staging: 1 of 1 new commit(s)"], &main);
    assert_eq!(server.server_ref("refs/heads/staging"), None);
}

#[test]
fn a_reviewed_push_through_an_alias_moves_the_target() {
    let (server, _) = server_with(POLICY);
    server.git_server(&["symbolic-ref", "refs/heads/master", "refs/heads/main"]);
    server.write("app/lib.rs", "reviewed\n");
    server.commit(BOB, &format!("Reviewed\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main:refs/heads/master"]);
    assert_accepted(&server, &push, "refs/heads/main");
}

#[test]
fn a_chain_git_will_not_follow_is_refused() {
    let (server, main) = server_with(POLICY);
    server.git_server(&["symbolic-ref", "refs/heads/loop-a", "refs/heads/loop-b"]);
    server.git_server(&["symbolic-ref", "refs/heads/loop-b", "refs/heads/loop-a"]);
    let output = server.run_hook(&[], &format!("{} {main} refs/heads/loop-a\n", "0".repeat(40)));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refs/heads/loop-a: a symbolic ref that loops"), "{stderr}");
}

#[test]
fn a_replace_ref_is_refused_unless_the_policy_allows_it() {
    let (server, main) = server_with(POLICY);
    let other = unreviewed(&server);
    let replace = format!("{other}:refs/replace/{main}");
    let push = server.push(&["origin", &replace]);
    assert!(!push.ok, "{}", push.stderr);
    assert!(
        push.stderr.contains("replace refs (refs/replace/*) make git show other content"),
        "{}",
        push.stderr
    );
    assert!(push.stderr.contains("[gate] allow_replace_refs"), "{}", push.stderr);
    assert_eq!(server.server_ref(&format!("refs/replace/{main}")), None);
    // What the server shows for main is still main's own tree.
    assert!(server.git_server(&["ls-tree", "-r", "main"]).contains("infra/main.tf"));

    let (server, main) = server_with(&POLICY.replace("[gate]\n", "[gate]\nallow_replace_refs = true\n"));
    let other = unreviewed(&server);
    let push = server.push(&["origin", &format!("{other}:refs/replace/{main}")]);
    assert!(push.ok, "{}", push.stderr);
}

#[test]
fn an_unprotected_ref_whose_name_is_not_utf8_passes() {
    let (server, main) = server_with(POLICY);
    let input = {
        let mut line = format!("{} {main} refs/heads/caf", "0".repeat(40)).into_bytes();
        line.extend_from_slice(b"\xe9\n");
        line
    };
    let output = server.run_hook_bytes(&[], &input);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn a_ref_name_git_would_never_send_is_refused() {
    let (server, main) = server_with(POLICY);
    for name in ["refs/heads/with space", "refs/heads/a..b", "refs/heads/x.lock", "HEAD"] {
        let output = server.run_hook(&[], &format!("{} {main} {name}\n", "0".repeat(40)));
        assert_eq!(output.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("which git does not accept as a ref name"), "{name}: {stderr}");
    }
}

#[test]
fn a_namespaced_push_is_refused_until_namespaces_are_understood() {
    let (server, main) = server_with(POLICY);
    server.write("app/lib.rs", "reviewed\n");
    server.commit(BOB, &format!("Reviewed\n\n{REVIEWED}\n"));
    let push = server.push_as(&[("GIT_NAMESPACE", "team")], &["origin", "main"]);
    assert!(!push.ok, "{}", push.stderr);
    assert!(
        push.stderr.contains("push refused: the repository is served with GIT_NAMESPACE=\"team\""),
        "{}",
        push.stderr
    );
    assert_eq!(server.server_ref("refs/heads/main").as_deref(), Some(main.as_str()));
    assert_eq!(server.server_ref("refs/namespaces/team/refs/heads/main"), None);
}
