//! The binary's other verbs: `policy check`, `demo`, `--help`; a closed pipe on every verb.

use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::util::*;

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
    assert!(stdout.contains("valid (4 people, 3 rules, 1 warning(s))"), "{stdout}");
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
    // One page: every verb is in it, none is sent to a page of its own that nobody installs.
    assert!(!man.contains("countersign\\-"), "{man}");
    for expected in [
        ".SS \"countersign install\"",
        ".SS \"countersign policy check\"",
        "\\fB\\-\\-layout\\fR \\fI<LAYOUT>\\fR",
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
        ".SH FILES",
        ".SH EXAMPLES",
        "countersign demo",
    ] {
        assert!(man.contains(expected), "missing {expected:?} in:\n{man}");
    }
}

/// Every argument of every verb says what it is (no blank line in `--help` where its text goes).
#[test]
fn help_describes_every_argument() {
    let verbs: &[&[&str]] = &[
        &["pre-receive"],
        &["check"],
        &["explain"],
        &["report"],
        &["policy", "check"],
        &["policy", "test"],
        &["approve"],
        &["demo"],
        &["install"],
        &["uninstall"],
        &["completions"],
        &["man"],
        &["approvals", "prune"],
    ];
    for verb in verbs {
        let (code, help, _) = run(&[verb, &["--help"][..]].concat());
        assert_eq!(code, Some(0), "{verb:?}");
        let lines: Vec<&str> = help.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            // An entry starts within the first few columns (`  -v, --verbose`, `      --repo`).
            let entry = line.trim_start();
            if line.len() - entry.len() > 6 || !entry.starts_with(['-', '<']) {
                continue;
            }
            let inline = entry.split_once("  ").map_or("", |(_, text)| text.trim());
            let below = lines.get(i + 1).is_some_and(|next| {
                next.starts_with("          ") && !next.trim().is_empty() && !next.trim().starts_with('[')
            });
            assert!(
                !inline.is_empty() || below,
                "countersign {verb:?} --help: `{entry}` has no text:\n{help}"
            );
        }
        assert!(!help.contains("before the push") || verb[0] == "pre-receive", "{verb:?}:\n{help}");
    }
}

#[test]
fn verbose_flag_turns_on_diagnostics_on_stderr() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/policy.toml");
    let (_, _, quiet) = run(&["policy", "check", example]);
    assert!(!quiet.contains("DEBUG") && !quiet.contains("TRACE"), "{quiet}");
    let output = Command::new(BIN)
        .args(["-vv", "policy", "check", example])
        .env_remove("RUST_LOG")
        .env_remove("COUNTERSIGN_LOG")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("TRACE") || stderr.contains("DEBUG"), "{stderr}");
}

/// Runs the binary with stdout (and with `close_stderr`, stderr) a pipe whose reader is gone,
/// as in `countersign demo | head -3` once head has its lines.
pub fn run_into_closed_pipe(args: &[&str], stdin: &str, close_stderr: bool) -> (Option<i32>, String) {
    let closed = || {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        writer
    };
    let mut command = Command::new(BIN);
    command.args(args).env_remove("COUNTERSIGN_POLICY").stdin(Stdio::piped()).stdout(closed());
    command.stderr(if close_stderr { Stdio::from(closed()) } else { Stdio::piped() });
    let mut child = command.spawn().unwrap();
    // The hook may exit before reading all of its input: a write error here is not the test's.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let output = child.wait_with_output().unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_closed_pipe_is_not_an_error_on_any_verb() {
    let server = Server::new(POLICY);
    let old = server.head();
    server.write("app/lib.rs", "fn app() { 1 }\n");
    let new = server.commit(BOB, &format!("Change\n\n{REVIEWED}\n"));
    let policy = server.bare.join("policy.toml");
    let tests = server.home.join("policy.tests.toml");
    std::fs::write(
        &tests,
        "[[case]]\nname = \"reviewed\"\nauthor = \"Bob Dev <bob@example.com>\"\n\
         message = \"Change\\n\\nReviewed-by: Carol Dev <carol@example.com>\\n\"\nexpect = \"pass\"\n",
    )
    .unwrap();
    let (policy, tests) = (policy.to_str().unwrap(), tests.to_str().unwrap());
    let (work, bare) = (server.work.to_str().unwrap(), server.bare.to_str().unwrap());
    let range = format!("{old}..{new}");
    let verbs: &[&[&str]] = &[
        &["--help"],
        &["--version"],
        &["completions", "bash"],
        &["man"],
        &["demo"],
        &["policy", "check", policy],
        &["policy", "test", policy, "--tests", tests],
        &["check", "--policy", policy, "--repo", work, &range],
        &["check", "--policy", policy, "--repo", work, "--format", "json", &range],
        &["explain", "--policy", policy, "--repo", work, &new],
        &["report", "--policy", policy, "--repo", work, &range],
        &["install", "--dry-run", "--repo", bare, "--policy", policy],
        &["uninstall", "--dry-run", "--repo", bare],
        &["approvals", "prune", "--dry-run", "--repo", bare, "--policy", policy],
    ];
    for args in verbs {
        let (code, stderr) = run_into_closed_pipe(args, "", false);
        assert_eq!(code, Some(0), "countersign {args:?} into a closed pipe:\n{stderr}");
        assert!(!stderr.contains("panicked"), "countersign {args:?}:\n{stderr}");
    }
    // The hook writes to stderr, which git reads; the same holds if git stopped reading.
    server.push(&["origin", &format!("{new}:refs/heads/parked")]);
    let mut hook = Command::new(BIN);
    hook.args(["pre-receive", "--policy", policy]).current_dir(&server.bare).env("GIT_DIR", ".");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = hook
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(writer)
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(format!("{old} {new} refs/heads/main\n").as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "the hook refused a good push it could not report");
}

/// `policy check FILE` on `text`: (exit code, stdout, stderr).
fn policy_check(text: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("policy.toml");
    std::fs::write(&path, text).unwrap();
    run(&["policy", "check", path.to_str().unwrap()])
}

#[test]
fn policy_check_finds_globs_and_roles_that_quietly_do_nothing() {
    let text = "version = 1\n[gate]\nprotected = [\"main\"]\n\
                [[person]]\nname = \"Sam\"\nemails = [\"sam@x.io\"]\nroles = [\"senoir\", \"senior\", \"director\"]\n\
                [[rule]]\nname = \"tier-1\"\nwhen = { paths = [\"/infra/\", \"./payments/**\", \"app/../x\"] }\n\
                [[rule]]\nname = \"senior\"\nfrom_role = \"senior\"\nsignatures = \"off\"\n";
    let (code, stdout, stderr) = policy_check(text);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("valid (1 people, 2 rules, 7 warning(s))"), "{stdout}\n{stderr}");
    for expected in [
        "policy.toml:3:14: warning[glob-never-matches]: `main` matches no ref: refs are matched by their full name; did you mean `refs/heads/main`?",
        "policy.toml:7:10: warning[unused-role]: no rule (and no `[override] roles`) uses role `senoir`: holding it gives no approval right; did you mean `senior`?",
        "policy.toml:7:30: warning[unused-role]: no rule (and no `[override] roles`) uses role `director`",
        "policy.toml:10:19: warning[glob-never-matches]: `/infra/` (rule `tier-1`) is anchored with a leading `/`, but paths are relative to the repository's root, so it matches nothing; did you mean `infra/`?",
        "policy.toml:10:30: warning[glob-never-matches]: `./payments/**` (rule `tier-1`) starts with `./`",
        "did you mean `payments/**`?",
        "policy.toml:10:47: warning[glob-never-matches]: `app/../x` (rule `tier-1`) has a `.` or `..` component",
        "policy.toml:13:13: warning[unsigned-role-approvals]: role approvals are claims",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?} in:\n{stderr}");
    }
}

#[test]
fn a_role_nobody_holds_names_the_roles_that_exist() {
    let text = "version = 1\n[[person]]\nname = \"Dana\"\nemails = [\"dana@x.io\"]\nroles = [\"director\"]\n\
                [[rule]]\nname = \"tier-1\"\nfrom_role = \"directors\"\n";
    let (code, _, stderr) = policy_check(text);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "policy.toml:8:13: error[unknown-role]: no person holds role `directors`; this rule could never be \
             satisfied; did you mean `director`? (roles held: director)"
        ),
        "{stderr}"
    );
}

#[test]
fn report_since_says_how_to_write_a_date() {
    let (code, _, stderr) = run(&["report", "--since", "2026/01/01", "HEAD"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("invalid value '2026/01/01' for '--since <DATE>': expected a date written as 2026-03-10 (year-month-day)"),
        "{stderr}"
    );
}
