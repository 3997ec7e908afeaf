//! The binary's other verbs: `policy check`, `demo`, `--help`.

use std::process::Command;

use crate::util::BIN;

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(BIN).args(args).env_remove("COUNTERSIGN_POLICY").output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn policy_check_accepts_the_shipped_example() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/policy.toml");
    let (code, stdout, stderr) = run(&["policy", "check", example]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("valid (4 people, 3 rules, 0 warning(s))"), "{stdout}");
}

#[test]
fn policy_check_reports_every_problem_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "version = 1\n[[person]]\nname = \"A\"\nemails = [\"a@x.io\"]\n[[rule]]\nname = \"r\"\nfrom_role = \"senior\"\n\
         when = { paths = [\"infra/[\"] }\n",
    )
    .unwrap();
    let (code, _, stderr) = run(&["policy", "check", path.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("bad.toml:7:13: error[unknown-role]"), "{stderr}");
    assert!(stderr.contains("bad.toml:8:19: error[bad-glob]"), "{stderr}");
}

#[test]
fn policy_check_on_a_missing_file_is_an_error() {
    let (code, _, stderr) = run(&["policy", "check", "/nonexistent/policy.toml"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("cannot read policy /nonexistent/policy.toml"), "{stderr}");
}

#[test]
fn demo_shows_a_refusal_then_an_acceptance() {
    let (code, stdout, stderr) = run(&["demo"]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let refused = stdout.find("remote: countersign: push rejected").expect(&stdout);
    let accepted = stdout.find("remote: countersign: push accepted").expect(&stdout);
    assert!(refused < accepted);
    assert!(
        stdout.contains("Reviewed-by: Erin Peer <erin@example.com> does not count: not role senior"),
        "{stdout}"
    );
}

#[test]
fn help_documents_every_verb() {
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    for verb in [
        "pre-receive",
        "check",
        "explain",
        "report",
        "policy",
        "demo",
        "install",
        "uninstall",
        "completions",
        "man",
    ] {
        assert!(stdout.contains(verb), "{stdout}");
    }
}

#[test]
fn version_names_the_commit() {
    let (code, stdout, _) = run(&["--version"]);
    assert_eq!(code, Some(0));
    let expected = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(|| "unknown".into(), |o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    assert_eq!(stdout, format!("countersign {} (commit {expected})\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn completions_and_man_page_cover_the_verbs() {
    let (code, bash, _) = run(&["completions", "bash"]);
    assert_eq!(code, Some(0));
    assert!(bash.contains("complete -F _countersign") && bash.contains("--policy-ref"), "{bash}");
    let (code, zsh, _) = run(&["completions", "zsh"]);
    assert_eq!(code, Some(0));
    assert!(zsh.starts_with("#compdef countersign"), "{zsh}");
    let (code, man, _) = run(&["man"]);
    assert_eq!(code, Some(0));
    assert!(man.contains(".TH countersign 1"), "{man}");
    assert!(man.contains("countersign\\-install(1)"), "{man}");
}

#[test]
fn verbose_flag_turns_on_diagnostics_on_stderr() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/policy.toml");
    let (_, _, quiet) = run(&["policy", "check", example]);
    assert_eq!(quiet, "");
    let output = Command::new(BIN)
        .args(["-vv", "policy", "check", example])
        .env_remove("RUST_LOG")
        .env_remove("COUNTERSIGN_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TRACE") || stderr.contains("DEBUG"), "{stderr}");
}
