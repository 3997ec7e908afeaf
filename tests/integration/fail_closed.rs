//! Anything wrong on the server refuses the push with a message that says what, and changes
//! no ref.

use crate::util::*;

fn refused_with(server: &Server, expected: &str) {
    let main = server.server_ref("refs/heads/main").unwrap();
    server.write("app/lib.rs", "reviewed\n");
    server.commit(BOB, &format!("Change\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert!(!push.ok, "push was accepted:\n{}", push.stderr);
    assert!(push.stderr.contains(expected), "missing {expected:?} in:\n{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/main").unwrap(), main);
}

#[test]
fn no_policy_configured_refuses() {
    let server = Server::new(POLICY);
    server.git_server(&["config", "--unset", "countersign.policy"]);
    refused_with(&server, "countersign: push refused: no policy configured");
}

#[test]
fn missing_policy_file_refuses() {
    let server = Server::new(POLICY);
    std::fs::remove_file(server.bare.join("policy.toml")).unwrap();
    refused_with(&server, "cannot read policy");
}

#[test]
fn invalid_policy_refuses_with_file_line_and_column() {
    let server = Server::new(POLICY);
    std::fs::write(server.bare.join("policy.toml"), "version = 1\n[gate]\nprotect = []\n").unwrap();
    refused_with(&server, "policy.toml:3:1: error[invalid-toml]: unknown field `protect`");
}

#[test]
fn policy_that_is_a_directory_refuses() {
    let server = Server::new(POLICY);
    std::fs::remove_file(server.bare.join("policy.toml")).unwrap();
    std::fs::create_dir(server.bare.join("policy.toml")).unwrap();
    refused_with(&server, "is not a regular file");
}

#[test]
fn empty_policy_refuses() {
    let server = Server::new(POLICY);
    std::fs::write(server.bare.join("policy.toml"), "").unwrap();
    refused_with(&server, "missing field `version`");
}

#[test]
fn missing_binary_refuses() {
    let server = Server::new(POLICY);
    server.git_server(&["config", "countersign.bin", "/nonexistent/countersign"]);
    refused_with(&server, "the countersign binary was not found on the server");
}

#[test]
fn malformed_input_line_refuses() {
    let server = Server::new(POLICY);
    let output = server.run_hook(&[], "not a ref update\n");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("push refused: line 1 of the hook's input is not `<old> <new> <refname>`"),
        "{stderr}"
    );
}

#[test]
fn empty_input_refuses() {
    let server = Server::new(POLICY);
    let output = server.run_hook(&[], "");
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("holds no ref update"));
}

#[test]
fn unknown_object_refuses() {
    let server = Server::new(POLICY);
    let main = server.server_ref("refs/heads/main").unwrap();
    let input = format!("{main} {} refs/heads/main\n", "ab".repeat(20));
    let output = server.run_hook(&[], &input);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("push refused: object {} is missing", "ab".repeat(20))), "{stderr}");
}

#[test]
fn dry_run_still_refuses_when_the_policy_is_broken() {
    let server = Server::new(POLICY);
    std::fs::write(server.bare.join("policy.toml"), "version = 1\nmode = 3\n").unwrap();
    let main = server.server_ref("refs/heads/main").unwrap();
    let output = server.run_hook(&["--dry-run"], &format!("{main} {main} refs/heads/main\n"));
    assert_eq!(output.status.code(), Some(1), "a dry run of a broken policy proves nothing");
}

#[test]
fn policy_flag_overrides_git_config() {
    let server = Server::new(POLICY);
    std::fs::write(
        server.bare.join("other.toml"),
        "version = 1\n[gate]\nmode = \"warn\"\n[[rule]]\nname = \"r\"\n",
    )
    .unwrap();
    let main = server.server_ref("refs/heads/main").unwrap();
    let output = server.run_hook(&["--policy", "other.toml"], &format!("{main} {main} refs/heads/main\n"));
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stderr).contains("policy other.toml"));
}
