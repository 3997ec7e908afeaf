//! Tools for the admins who edit the policy: `policy check`, `policy test`, and a policy
//! committed in the repository (`--policy-ref`, git config `countersign.policyRef`).

use std::path::Path;
use std::process::Command;

use crate::util::*;

fn run(dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output =
        Command::new(BIN).args(args).current_dir(dir).env_remove("COUNTERSIGN_POLICY").output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn policy_check_reports_every_lint_with_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    std::fs::write(
        &path,
        r#"version = 1
[gate]
protect = ["refs/heads/main"]
[[person]]
name = "Alice"
emails = ["alice@example.com"]
roles = ["senior"]
[[person]]
name = "Bob"
emails = ["ALICE@example.com"]
[[rule]]
name = "two seniors"
require = 2
from_role = "senior"
[[rule]]
name = "typo role"
from_role = "senoir"
when = { paths = ["infra/[x"] }
[[rule]]
name = "window"
since = 2030-01-02
until = 2030-01-01
[[rule]]
name = "old"
until = 2001-01-01
"#,
    )
    .unwrap();
    let (code, _, stderr) = run(dir.path(), &["policy", "check", "policy.toml"]);
    assert_eq!(code, Some(2));
    for expected in [
        "policy.toml:3:1: error[invalid-toml]: unknown field `protect`",
        "policy.toml:10:11: error[duplicate-email]: alice@example.com is claimed by both `Alice` and `Bob`",
        "policy.toml:14:13: error[unsatisfiable-rule]",
        "policy.toml:17:13: error[unknown-role]: no person holds role `senoir`",
        "policy.toml:18:19: error[bad-glob]",
        "policy.toml:21:9: error[empty-window]",
        "policy.toml:25:9: warning[rule-expired]",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in:\n{stderr}");
    }
    assert!(
        stderr.contains("18 | when = { paths = [\"infra/[x\"] }"),
        "the offending line is shown:\n{stderr}"
    );
}

#[test]
fn policy_check_syntax_error_has_its_position() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.toml"), "version = 1\n[gate\n").unwrap();
    let (code, _, stderr) = run(dir.path(), &["policy", "check"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("policy.toml:2:"), "{stderr}");
}

#[test]
fn policy_check_with_repo_warns_about_globs_matching_nothing() {
    let server = Server::new(POLICY);
    let policy =
        POLICY.replace("paths = [\"infra/**\", \"payments/**\"]", "paths = [\"infra/**\", \"paymnets/**\"]");
    std::fs::write(server.bare.join("typo.toml"), &policy).unwrap();
    let typo = server.bare.join("typo.toml");
    let (code, stdout, stderr) = run(
        &server.work,
        &["policy", "check", typo.to_str().unwrap(), "--repo", server.work.to_str().unwrap()],
    );
    assert_eq!(code, Some(0), "a warning does not make the policy invalid: {stderr}");
    assert!(
        stderr.contains(
            "warning[glob-matches-nothing]: `paymnets/**` (rule `director audit for tier-1 systems`)"
        ),
        "{stderr}"
    );
    let line = policy.lines().position(|l| l.contains("paymnets")).unwrap() + 1;
    assert!(stderr.contains(&format!("typo.toml:{line}:31:")), "{stderr}");
    assert!(!stderr.contains("`infra/**`"), "{stderr}");
    // The other: the role rules take unsigned approvals.
    assert!(
        stdout.contains("2 warning(s)") && stderr.contains("warning[unsigned-role-approvals]"),
        "{stdout}"
    );
}

#[test]
fn a_committed_policy_no_role_guards_is_a_warning() {
    let (server, _) = server_with_committed_policy();
    let repo = server.bare.to_str().unwrap();
    let check = |policy: &str| {
        std::fs::write(server.home.join("check.toml"), policy).unwrap();
        let file = server.home.join("check.toml");
        run(&server.work, &["policy", "check", file.to_str().unwrap(), "--repo", repo])
    };
    let (code, _, stderr) = check(POLICY);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("warning[policy-unguarded]: the policy is committed at refs/heads/main:policy.toml"),
        "{stderr}"
    );
    let guarded = format!(
        "{POLICY}[[rule]]\nname = \"policy change\"\nwhen = {{ paths = [\"policy.toml\"] }}\nfrom_role = \"director\"\n"
    );
    let (code, _, stderr) = check(&guarded);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!stderr.contains("policy-unguarded"), "{stderr}");
    // install says it too.
    let install = Command::new(BIN)
        .args(["install", "--repo", repo, "--policy-ref", "refs/heads/main:policy.toml", "--dry-run"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&install.stdout);
    assert!(
        stdout.contains("warning[policy-unguarded]"),
        "{stdout}{}",
        String::from_utf8_lossy(&install.stderr)
    );
}

#[test]
fn an_expired_rule_no_one_can_meet_blocks_nothing() {
    let policy =
        format!("{POLICY}[[rule]]\nname = \"freeze\"\nfrom_role = \"release-manager\"\nuntil = 2020-01-31\n");
    let server = Server::new(&policy);
    server.write("app/lib.rs", "reviewed\n");
    server.commit(BOB, &format!("Reviewed\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert_accepted(&server, &push, "refs/heads/main");
    let file = server.bare.join("policy.toml");
    let (code, _, stderr) = run(&server.work, &["policy", "check", file.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("warning[unknown-role]"), "{stderr}");
}

#[test]
fn shipped_policy_tests_pass() {
    let (code, stdout, stderr) = run(Path::new(MANIFEST), &["policy", "test", "policy.toml"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains(": 24 ok, 0 mismatch(es)"), "{stdout}");
    for rule in
        ["two-person review", "senior sign-off for AI-assisted changes", "director audit for tier-1 systems"]
    {
        assert!(stdout.contains(rule), "the shipped tests cover `{rule}`:\n{stdout}");
    }
}

#[test]
fn policy_test_mismatch_exits_1_and_shows_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(Path::new(MANIFEST).join("policy.toml"), dir.path().join("policy.toml")).unwrap();
    std::fs::write(
        dir.path().join("policy.tests.toml"),
        "[[case]]\nname = \"wrong on purpose\"\nauthor = \"Bob Dev <bob@example.com>\"\n\
         message = \"Fix\\n\\nReviewed by: Carol Senior <carol@users.noreply.github.com>\\n\"\n\
         expect = \"pass\"\nrules.\"two-person review\" = \"pass\"\n",
    )
    .unwrap();
    let (code, stdout, _) = run(dir.path(), &["policy", "test"]);
    assert_eq!(code, Some(1));
    assert!(stdout.contains("wrong on purpose  verdict            pass      fail  MISMATCH"), "{stdout}");
    // Under the mismatch: which rule decided, what it needed, what counted, and the near miss.
    for expected in [
        "    decided by rule `two-person review` (enforce), unmet:\n      rule `two-person review` applies: \
         applies to every commit\n      needs 1 approval(s); 0 counted\n",
        "    looks like an approval, but is not one: Reviewed by: Carol Senior \
         <carol@users.noreply.github.com>: `Reviewed by:` is not a trailer key",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    assert!(stdout.contains("2 expectation(s) in 1 case(s): 0 ok, 2 mismatch(es)"), "{stdout}");
}

#[test]
fn policy_test_naming_an_unknown_rule_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(Path::new(MANIFEST).join("policy.toml"), dir.path().join("policy.toml")).unwrap();
    std::fs::write(
        dir.path().join("policy.tests.toml"),
        "[[case]]\nname = \"c\"\nauthor = \"B <b@x.io>\"\nmessage = \"F\\n\"\nrules.\"no such rule\" = \"pass\"\n",
    )
    .unwrap();
    let (code, _, stderr) = run(dir.path(), &["policy", "test"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("case `c`: the policy has no rule named `no such rule`"), "{stderr}");
}

/// A server whose policy is `policy.toml` committed on main, read through git config.
fn server_with_committed_policy() -> (Server, String) {
    let server = Server::new(POLICY);
    server.git_server(&["config", "--unset", "countersign.policy"]);
    // The policy lands on main before the gate reads it from there (bootstrap without the hook).
    std::fs::rename(server.bare.join("hooks/pre-receive"), server.bare.join("hooks/off")).unwrap();
    server.write("policy.toml", POLICY);
    server.commit(BOB, "Add the policy\n");
    assert!(server.push(&["origin", "main"]).ok);
    std::fs::rename(server.bare.join("hooks/off"), server.bare.join("hooks/pre-receive")).unwrap();
    server.git_server(&["config", "countersign.policyRef", "refs/heads/main:policy.toml"]);
    let main = server.head();
    (server, main)
}

#[test]
fn committed_policy_judges_pushes() {
    let (server, main) = server_with_committed_policy();
    server.write("app/lib.rs", "unreviewed\n");
    server.commit(BOB, "Unreviewed\n");
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["x two-person review", "policy refs/heads/main:policy.toml"], &main);
}

#[test]
fn a_push_that_drops_a_rule_is_judged_by_the_old_policy() {
    let (server, main) = server_with_committed_policy();
    let weaker = POLICY.replace("[[rule]]\nname = \"two-person review\"\n", "");
    server.write("policy.toml", &weaker);
    server.write("app/lib.rs", "unreviewed\n");
    server.commit(BOB, "Drop the review rule, unreviewed\n");
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["x two-person review"], &main);
}

#[test]
fn a_push_carrying_an_invalid_policy_is_refused_with_the_lint() {
    let (server, main) = server_with_committed_policy();
    server.write("policy.toml", &POLICY.replace("[gate]\n", "[gate]\nprotect = []\n"));
    server.commit(BOB, &format!("Edit the policy\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &[
            "refs/heads/main: the pushed policy is not valid",
            "refs/heads/main:policy.toml as pushed:4:1: error[invalid-toml]: unknown field `protect`",
        ],
        &main,
    );
}

#[test]
fn a_push_deleting_the_committed_policy_is_refused() {
    let (server, main) = server_with_committed_policy();
    server.git_work(&["rm", "-q", "policy.toml"]);
    server.commit(BOB, &format!("Remove the policy\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["the push removes the policy file refs/heads/main:policy.toml"], &main);
}

#[test]
fn a_valid_policy_edit_is_accepted() {
    let (server, _) = server_with_committed_policy();
    server.write("policy.toml", &POLICY.replace("[gate]\n", "[gate]\nallow_delete = false\n"));
    server.commit(BOB, &format!("Tidy the policy\n\n{REVIEWED}\n"));
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
}

#[test]
fn policy_ref_flag_reads_the_committed_file_in_check() {
    let (server, _) = server_with_committed_policy();
    server.git_work(&["fetch", "-q", "origin"]);
    server.write("app/x.rs", "x\n");
    server.commit(BOB, "Unreviewed\n");
    let (code, stdout, _) = run(
        &server.work,
        &["check", "--policy-ref", "refs/remotes/origin/main:policy.toml", "origin/main..HEAD"],
    );
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("policy refs/remotes/origin/main:policy.toml"), "{stdout}");
}

#[test]
fn committed_policy_on_a_missing_ref_refuses() {
    let server = Server::new(POLICY);
    server.git_server(&["config", "--unset", "countersign.policy"]);
    server.git_server(&["config", "countersign.policyRef", "refs/heads/policy:policy.toml"]);
    let main = server.server_ref("refs/heads/main").unwrap();
    server.write("app/x.rs", "x\n");
    server.commit(BOB, &format!("Reviewed\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert!(!push.ok);
    assert!(
        push.stderr.contains("push refused: policy ref refs/heads/policy does not exist"),
        "{}",
        push.stderr
    );
    assert_eq!(server.server_ref("refs/heads/main").unwrap(), main);
}

#[test]
fn both_policy_configs_set_is_an_error() {
    let server = Server::new(POLICY);
    server.git_server(&["config", "countersign.policyRef", "refs/heads/main:policy.toml"]);
    server.write("app/x.rs", "x\n");
    server.commit(BOB, &format!("Reviewed\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert!(!push.ok);
    assert!(
        push.stderr.contains("sets both countersign.policy and countersign.policyRef"),
        "{}",
        push.stderr
    );
}

/// Over file:// (and some SSH set-ups) the hook inherits the pusher's environment: none of it
/// may choose the binary or the policy.
#[test]
fn the_pushers_environment_chooses_neither_binary_nor_policy() {
    let server = Server::new(POLICY);
    let main = server.server_ref("refs/heads/main").unwrap();
    let warn = server.home.join("warn.toml");
    std::fs::write(&warn, "version = 1\n[gate]\nmode = \"warn\"\n[[rule]]\nname = \"r\"\n").unwrap();
    server.write("app/x.rs", "x\n");
    server.commit(BOB, "Unreviewed\n");
    let warn = warn.to_str().unwrap();
    let attempts: [&[(&str, &str)]; 5] = [
        &[("COUNTERSIGN_BIN", "/bin/true")],
        &[("COUNTERSIGN_POLICY", warn)],
        &[
            ("GIT_CONFIG_COUNT", "1"),
            ("GIT_CONFIG_KEY_0", "countersign.bin"),
            ("GIT_CONFIG_VALUE_0", "/bin/true"),
        ],
        &[
            ("GIT_CONFIG_COUNT", "1"),
            ("GIT_CONFIG_KEY_0", "countersign.policy"),
            ("GIT_CONFIG_VALUE_0", warn),
        ],
        &[("GIT_CONFIG_PARAMETERS", "'countersign.bin'='/bin/true'")],
    ];
    for env in attempts {
        let push = server.push_as(env, &["origin", "main"]);
        assert_refused(&server, &push, &["\"Unreviewed\""], &main);
        assert!(!push.stderr.contains("warn.toml"), "{env:?}: {}", push.stderr);
    }
}

#[test]
fn a_policy_ref_outside_the_protected_globs_is_still_protected() {
    let (server, _) = server_with_committed_policy();
    // The policy moves to its own ref, which `protected` does not name.
    server.git_server(&["update-ref", "refs/meta/policy", "refs/heads/main"]);
    server.git_server(&["config", "countersign.policyRef", "refs/meta/policy:policy.toml"]);
    server.write("policy.toml", "version = 1\n[gate]\nprotected = []\n");
    server.commit(BOB, "Switch the gate off\n");
    let push = server.push(&["origin", "HEAD:refs/meta/policy"]);
    assert!(!push.ok, "{}", push.stderr);
    assert!(push.stderr.contains("refs/meta/policy: 1 of 1 new commit(s) lacks approval"), "{}", push.stderr);
    let delete = server.push(&["origin", ":refs/meta/policy"]);
    assert!(!delete.ok, "{}", delete.stderr);
    assert!(server.server_ref("refs/meta/policy").is_some());
}

#[test]
fn a_policy_ref_named_through_an_alias_still_validates_pushed_policies() {
    let (server, main) = server_with_committed_policy();
    server.git_server(&["symbolic-ref", "refs/heads/trunk", "refs/heads/main"]);
    server.git_server(&["config", "countersign.policyRef", "refs/heads/trunk:policy.toml"]);
    server.write("policy.toml", &format!("{POLICY}\ngarbage = [\n"));
    server.commit(BOB, &format!("Break the policy\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["refs/heads/main: the pushed policy is not valid"], &main);
}

#[test]
fn check_in_ci_validates_a_changed_committed_policy() {
    let (server, _) = server_with_committed_policy();
    server.git_work(&["fetch", "-q", "origin"]);
    server.write("policy.toml", &POLICY.replace("[gate]\n", "[gate]\nprotect = []\n"));
    server.commit(BOB, &format!("Edit the policy\n\n{REVIEWED}\n"));
    let (code, stdout, _) = run(
        &server.work,
        &["check", "--policy-ref", "refs/remotes/origin/main:policy.toml", "origin/main..HEAD"],
    );
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("the pushed policy is not valid"), "{stdout}");
}
