//! `check` and `explain` on real repositories: exit codes, every format, shallow clones, bad
//! ranges, bare and non-bare repositories.

use std::path::Path;
use std::process::{Command, Output};

use crate::util::*;

/// A work repository holding one reviewed and one unreviewed commit above `origin/main`.
fn work_with_two_commits() -> Server {
    let server = Server::new(POLICY);
    server.git_work(&["fetch", "-q", "origin"]);
    server.write("app/a.rs", "a\n");
    server.commit(BOB, &format!("Reviewed change\n\n{REVIEWED}\n"));
    server.write("app/b.rs", "b\n");
    server.commit(BOB, "Unreviewed change\n\nCo-authored-by: Claude <noreply@anthropic.com>\n");
    server
}

fn countersign(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN).args(args).current_dir(dir).env_remove("COUNTERSIGN_POLICY").output().unwrap()
}

fn policy_file(server: &Server) -> String {
    server.bare.join("policy.toml").to_str().unwrap().to_string()
}

fn check(server: &Server, extra: &[&str]) -> (Option<i32>, String, String) {
    let policy = policy_file(server);
    let mut args = vec!["check", "--policy", &policy];
    args.extend_from_slice(extra);
    let output = countersign(&server.work, &args);
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn failing_range_exits_1_with_the_report() {
    let server = work_with_two_commits();
    let (code, stdout, _) = check(&server, &["origin/main..HEAD"]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.starts_with("countersign: check failed"), "{stdout}");
    assert!(stdout.contains("refs/heads/main: 1 of 2 new commit(s) lacks approval"), "{stdout}");
    assert!(stdout.contains("\"Unreviewed change\""), "{stdout}");
}

#[test]
fn passing_range_exits_0() {
    let server = work_with_two_commits();
    let (code, stdout, _) = check(&server, &["origin/main..HEAD~1"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("countersign: check passed: 1 new commit(s) checked"), "{stdout}");
}

#[test]
fn caret_and_plain_revisions_mean_what_rev_list_means() {
    let server = work_with_two_commits();
    let (code, stdout, _) = check(&server, &["^origin/main", "HEAD~1"]);
    assert_eq!(code, Some(0), "{stdout}");
    assert!(stdout.contains("1 new commit(s) checked"), "{stdout}");
}

#[test]
fn dry_run_exits_0_with_the_same_findings() {
    let server = work_with_two_commits();
    let (code, stdout, _) = check(&server, &["--dry-run", "origin/main..HEAD"]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("x senior sign-off for AI-assisted changes"), "{stdout}");
}

#[test]
fn bad_range_exits_2() {
    let server = work_with_two_commits();
    let (code, _, stderr) = check(&server, &["origin/main..no-such-branch"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("`origin/main..no-such-branch` is not a revision here"), "{stderr}");
}

#[test]
fn missing_policy_exits_2() {
    let server = work_with_two_commits();
    let output = countersign(&server.work, &["check", "origin/main..HEAD"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no policy configured"));
}

#[test]
fn json_report_has_the_spec_fields() {
    let server = work_with_two_commits();
    let (code, stdout, _) =
        check(&server, &["--format", "json", "--ref", "refs/heads/release/1", "origin/main..HEAD"]);
    assert_eq!(code, Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["verdict"], "reject");
    assert_eq!(json["policy"]["sha256"].as_str().unwrap().len(), 64);
    assert!(json["policy"]["path"].as_str().unwrap().ends_with("policy.toml"));
    let r = &json["refs"][0];
    for key in ["ref", "old", "new", "verdict", "problems", "commits"] {
        assert!(r.get(key).is_some(), "ref lacks {key}: {r}");
    }
    assert_eq!(r["ref"], "refs/heads/release/1");
    assert_eq!(r["new"], server.head());
    let commits = r["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 2);
    let unreviewed = &commits[0];
    for key in [
        "id",
        "summary",
        "author",
        "trailers",
        "ai_assisted",
        "evidence",
        "paths_matched",
        "rules",
        "verdict",
    ] {
        assert!(unreviewed.get(key).is_some(), "commit lacks {key}: {unreviewed}");
    }
    assert_eq!(unreviewed["summary"], "Unreviewed change");
    assert_eq!(unreviewed["author"]["email"], "bob@example.com");
    assert_eq!(unreviewed["trailers"][0]["key"], "Co-authored-by");
    assert_eq!(unreviewed["trailers"][0]["value"], "Claude <noreply@anthropic.com>");
    assert_eq!(unreviewed["ai_assisted"], true);
    assert_eq!(unreviewed["evidence"][0]["kind"], "identity");
    assert_eq!(unreviewed["verdict"], "fail");
    let rule = &unreviewed["rules"][1];
    for key in ["name", "applies", "satisfied", "mode", "required", "from_role", "counted", "not_counted"] {
        assert!(rule.get(key).is_some(), "rule lacks {key}: {rule}");
    }
    assert_eq!(rule["from_role"], "senior");
    assert_eq!(rule["mode"], "enforce");
    let reviewed = &commits[1];
    let counted = &reviewed["rules"][0]["counted"][0];
    assert_eq!(counted["person"], "Carol Dev");
    assert_eq!(counted["email"], "carol@example.com");
    assert_eq!(counted["trailer"], REVIEWED);
}

#[test]
fn json_lists_exempt_commits_with_why() {
    let server = Server::new(POLICY);
    server.git_work(&["fetch", "-q", "origin"]);
    server.git_work(&["checkout", "-q", "-b", "side"]);
    server.write("app/side.rs", "side\n");
    server.commit(BOB, &format!("Side\n\n{REVIEWED}\n"));
    server.git_work(&["checkout", "-q", "main"]);
    server.git_work(&["merge", "-q", "--no-ff", "--no-edit", "side"]);
    let (code, stdout, _) = check(&server, &["--format", "json", "origin/main..HEAD"]);
    assert_eq!(code, Some(0), "{stdout}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let merge = &json["refs"][0]["commits"][0];
    assert_eq!(merge["exempt"], "merge that introduces no change of its own");
}

#[test]
fn markdown_summary_escapes_pusher_text() {
    let server = Server::new(POLICY);
    server.git_work(&["fetch", "-q", "origin"]);
    server.write("app/x.rs", "x\n");
    server.commit(BOB, "Fix <script> | [link](http://x)\n");
    let (code, stdout, _) = check(&server, &["--format", "markdown", "origin/main..HEAD"]);
    assert_eq!(code, Some(1));
    assert!(stdout.starts_with("### :x: countersign: 1 of 1 commit(s) lack approval"), "{stdout}");
    assert!(
        stdout.contains("| commit | subject | author | AI-assisted | verdict | what is missing |"),
        "{stdout}"
    );
    assert!(stdout.contains("Fix &lt;script&gt; \\| \\[link\\](http://x)"), "{stdout}");
    assert!(stdout.contains("two-person review: needs 1 approval"), "{stdout}");
}

#[test]
fn works_on_a_bare_repository() {
    let server = work_with_two_commits();
    server.push(&["origin", "HEAD:refs/heads/topic"]);
    let policy = policy_file(&server);
    let output = countersign(&server.bare, &["check", "--policy", &policy, "main..topic"]);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 of 2 new commit(s) lacks approval"));
}

#[test]
fn shallow_clone_that_cuts_the_range_is_a_clear_error() {
    let server = work_with_two_commits();
    server.push(&["origin", "HEAD:refs/heads/topic"]);
    let shallow = server.work.parent().unwrap().join("shallow");
    let url = format!("file://{}", server.bare.display());
    server.git(
        server.work.parent().unwrap(),
        &["clone", "-q", "--depth", "2", "--branch", "topic", &url, "shallow"],
    );
    let policy = policy_file(&server);
    // HEAD~1 is the cut: git shows it as a root commit, which would change every path.
    let output = countersign(&shallow, &["check", "--policy", &policy, "HEAD"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("(a shallow clone)") && stderr.contains("git fetch --unshallow"), "{stderr}");
    // A range inside the fetched history is judged as usual.
    let output = countersign(&shallow, &["check", "--policy", &policy, "HEAD~1..HEAD"]);
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 of 1 new commit(s) lacks approval"));
}

#[test]
fn baseline_exempts_imported_history() {
    let server = Server::new(POLICY);
    let imported = server.head();
    server.git_work(&["fetch", "-q", "origin"]);
    std::fs::write(
        server.bare.join("policy.toml"),
        POLICY.replace("[gate]\n", &format!("[gate]\nbaseline = [\"{imported}\"]\n")),
    )
    .unwrap();
    server.write("app/new.rs", "new\n");
    server.commit(BOB, "After adoption, unreviewed\n");
    let (code, stdout, _) = check(&server, &["--format", "json", "HEAD"]);
    assert_eq!(code, Some(1));
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let commits = json["refs"][0]["commits"].as_array().unwrap();
    assert_eq!(commits.len(), 2);
    assert_eq!(commits[0]["verdict"], "fail");
    assert_eq!(commits[1]["id"], imported);
    assert_eq!(commits[1]["exempt"], "reachable from a baseline commit ([gate] baseline)");
    assert_eq!(commits[1]["verdict"], "pass");
}

#[test]
fn explain_exempts_a_commit_below_the_baseline_and_no_commit_after_it() {
    let server = Server::new(POLICY);
    server.write("app/a.rs", "a\n");
    server.commit(BOB, "Imported, never reviewed\n");
    server.write("app/b.rs", "b\n");
    let baseline = server.commit(BOB, "Imported too\n");
    server.write("app/c.rs", "c\n");
    server.commit(BOB, "After adoption, unreviewed\n");
    std::fs::write(
        server.bare.join("policy.toml"),
        POLICY.replace("[gate]\n", &format!("[gate]\nbaseline = [\"{baseline}\"]\n")),
    )
    .unwrap();
    let policy = policy_file(&server);
    let explain = |rev: &str| {
        let output = countersign(&server.work, &["explain", "--policy", &policy, rev]);
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    let below = explain("HEAD~2");
    assert!(below.contains("exempt: reachable from a baseline commit"), "{below}");
    let after = explain("HEAD");
    assert!(!after.contains("exempt"), "{after}");
}

#[test]
fn baseline_lets_a_first_push_of_old_history_through() {
    let server = Server::new(POLICY);
    server.git_work(&["checkout", "-q", "--orphan", "imported"]);
    server.write("app/old.rs", "old\n");
    let old = server.commit(BOB, "Old history, never reviewed\n");
    server.set_policy(&POLICY.replace("[gate]\n", &format!("[gate]\nbaseline = [\"{old}\"]\n")));
    let push = server.push(&["origin", "imported:refs/heads/release/old"]);
    assert!(push.ok, "{}", push.stderr);
    server.write("app/old.rs", "new\n");
    server.commit(BOB, "New, unreviewed\n");
    let push = server.push(&["origin", "imported:refs/heads/release/old"]);
    assert!(!push.ok, "{}", push.stderr);
    assert!(
        push.stderr.contains("refs/heads/release/old: 1 of 1 new commit(s) lacks approval"),
        "{}",
        push.stderr
    );
}

#[test]
fn explain_shows_every_rule_and_how_to_pass() {
    let server = work_with_two_commits();
    let policy = policy_file(&server);
    let output = countersign(&server.work, &["explain", "--policy", &policy, "HEAD"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for expected in [
        "\"Unreviewed change\" by Bob Dev <bob@example.com>",
        "AI-assisted: yes",
        "  identity: Co-authored-by: Claude <noreply@anthropic.com>",
        "trailers (as git reads them):\n  Co-authored-by: Claude <noreply@anthropic.com>",
        "[FAIL] two-person review (enforce)",
        "[FAIL] senior sign-off for AI-assisted changes (enforce)",
        "applies: AI-assisted (Co-authored-by: Claude <noreply@anthropic.com>)",
        "[skip] director audit for tier-1 systems (enforce)",
        "does not apply: no changed path matches infra/**, payments/**",
        "verdict: FAIL",
        "git commit --amend --no-edit --trailer \"Approved-by: Alice Senior <alice@example.com>\"",
    ] {
        assert!(stdout.contains(expected), "missing {expected:?} in:\n{stdout}");
    }
    let output = countersign(&server.work, &["explain", "--policy", &policy, "HEAD~1"]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("counted: Carol Dev (Reviewed-by: Carol Dev <carol@example.com>)"), "{stdout}");
}

#[test]
fn explain_names_why_an_approval_did_not_count_and_the_matched_path() {
    let server = Server::new(POLICY);
    server.write("infra/main.tf", "x\n");
    server.commit(BOB, "Infra\n\nReviewed-by: Bob Dev <bob@example.com>\n");
    let policy = policy_file(&server);
    let stdout =
        String::from_utf8_lossy(&countersign(&server.work, &["explain", "--policy", &policy, "HEAD"]).stdout)
            .into_owned();
    assert!(stdout.contains("not counted: Reviewed-by: Bob Dev <bob@example.com>: author"), "{stdout}");
    assert!(stdout.contains("applies: infra/main.tf matches infra/**"), "{stdout}");
}

/// Three months of history: each month one reviewed human commit, one AI commit with a
/// senior's approval, one AI commit with only a peer's review.
fn history_for_report() -> Server {
    let server = Server::new(POLICY);
    for month in ["01", "02", "03"] {
        for (i, trailers) in [
            REVIEWED.to_string(),
            "Co-authored-by: Claude <noreply@anthropic.com>\nApproved-by: Alice Senior <alice@example.com>"
                .into(),
            format!("Assisted-by: Crush:gpt-5\n{REVIEWED}"),
        ]
        .iter()
        .enumerate()
        {
            server.write("app/n.txt", &format!("{month}{i}"));
            server.git_work(&["add", "-A"]);
            let date = format!("2026-{month}-1{i} 12:00:00 +0000");
            let output = server
                .command(&server.work, &["commit", "-q", "-m", &format!("Change {month}-{i}\n\n{trailers}")])
                .env("GIT_COMMITTER_DATE", &date)
                .env("GIT_AUTHOR_DATE", &date)
                .output()
                .unwrap();
            assert!(output.status.success());
        }
    }
    server
}

#[test]
fn report_counts_ai_share_and_sign_off_per_month_author_and_tool() {
    let server = history_for_report();
    let policy = policy_file(&server);
    let output =
        countersign(&server.work, &["report", "--policy", &policy, "--format", "json", "origin/main..HEAD"]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["total"]["commits"], 9);
    assert_eq!(json["total"]["ai_assisted"], 6);
    assert_eq!(json["total"]["signed_off"], 3);
    let months: Vec<&str> =
        json["by_month"].as_array().unwrap().iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(months, ["2026-01", "2026-02", "2026-03"]);
    assert_eq!(json["by_author"][0]["key"], BOB);
    let tools: Vec<(&str, u64)> = json["by_tool"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["key"].as_str().unwrap(), r["signed_off"].as_u64().unwrap()))
        .collect();
    assert_eq!(tools, [("Claude Code", 3), ("Crush", 0)]);
}

#[test]
fn report_since_and_csv() {
    let server = history_for_report();
    let policy = policy_file(&server);
    let output = countersign(
        &server.work,
        &["report", "--policy", &policy, "--format", "csv", "--since", "2026-03-01", "origin/main..HEAD"],
    );
    assert_eq!(output.status.code(), Some(0));
    let csv = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        csv,
        "breakdown,key,commits,ai_assisted,signed_off\ntotal,all,3,2,1\nmonth,2026-03,3,2,1\n\
         author,Bob Dev <bob@example.com>,3,2,1\ntool,Claude Code,1,1,1\ntool,Crush,1,1,0\n"
    );
}

#[test]
fn output_into_a_closed_pipe_is_not_an_error() {
    use std::io::Read;
    let server = Server::new(POLICY);
    server.git_work(&["fetch", "-q", "origin"]);
    for i in 0..40 {
        server.write("app/n.txt", &i.to_string());
        server.commit(BOB, &format!("Unreviewed {i}\n"));
    }
    let policy = policy_file(&server);
    // More JSON than a pipe holds, and a reader that stops after one byte (`| head -c 1`).
    let mut child = Command::new(BIN)
        .args(["check", "--policy", &policy, "--format", "json", "origin/main..HEAD"])
        .current_dir(&server.work)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 1];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(1), "the verdict's exit code stands: {stderr}");
}

#[test]
fn short_ref_names_are_refused() {
    let server = work_with_two_commits();
    let (code, _, stderr) = check(&server, &["--ref", "main", "origin/main..HEAD"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--ref takes a full ref name such as refs/heads/main, not `main`"), "{stderr}");
}

#[test]
fn an_unprotected_target_ref_passes_like_the_hook_would() {
    let server = work_with_two_commits();
    let (code, stdout, _) = check(&server, &["--ref", "refs/heads/scratch", "origin/main..HEAD"]);
    assert_eq!(code, Some(0), "{stdout}");
}

#[test]
fn symmetric_difference_excludes_every_merge_base() {
    // Criss-cross: x and y each merge the other's first commit, so they have two merge bases.
    let server = Server::new(POLICY);
    server.git_work(&["fetch", "-q", "origin"]);
    let base = server.head();
    server.git_work(&["checkout", "-q", "-b", "x"]);
    server.write("app/x1", "x1\n");
    let x1 = server.commit(BOB, &format!("x1\n\n{REVIEWED}\n"));
    server.git_work(&["checkout", "-q", "-b", "y", &base]);
    server.write("app/y1", "y1\n");
    let y1 = server.commit(BOB, &format!("y1\n\n{REVIEWED}\n"));
    server.git_work(&["merge", "-q", "--no-edit", &x1]);
    server.git_work(&["checkout", "-q", "x"]);
    server.git_work(&["merge", "-q", "--no-edit", &y1]);
    let expected = server.git_work(&["rev-list", "--count", "x...y"]).trim().parse::<usize>().unwrap();
    let (_, stdout, stderr) = check(&server, &["--format", "json", "x...y"]);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stderr}"));
    assert_eq!(json["refs"][0]["commits"].as_array().unwrap().len(), expected);
}

#[test]
fn markdown_in_a_dry_run_says_it_is_not_enforced() {
    let server = work_with_two_commits();
    let (code, stdout, _) = check(&server, &["--dry-run", "--format", "markdown", "origin/main..HEAD"]);
    assert_eq!(code, Some(0));
    assert!(
        stdout.starts_with("### :warning: countersign: 1 of 2 commit(s) lack approval (not enforced)"),
        "{stdout}"
    );
}

/// The progress line is for a person at a terminal: a long check shows it there (`script` gives
/// the check a terminal), and never in a pipe such as a CI log.
#[test]
fn progress_shows_in_a_terminal_and_never_in_a_pipe() {
    let server = Server::new(POLICY);
    server.reviewed_commits(5000);
    let (code, stdout, stderr) = check(&server, &["--dry-run", "main"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("5001 new commit(s)"), "{stdout}");
    assert!(!stderr.contains("checked") && !stderr.contains('\r'), "{stderr}");
    let command = format!("{BIN} check --policy {} --dry-run main", policy_file(&server));
    let terminal = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(&server.work)
        .env_remove("COUNTERSIGN_POLICY")
        .output()
        .expect("script (util-linux) runs a command in a terminal");
    let seen = String::from_utf8_lossy(&terminal.stdout);
    assert!(seen.contains("\rcountersign: checked "), "{seen}");
}

/// `countersign ARGS` in `dir` run inside a terminal (util-linux `script` gives it one), with
/// `env`: what a person at that terminal sees.
fn in_a_terminal(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let command = std::iter::once(BIN).chain(args.iter().copied()).collect::<Vec<_>>().join(" ");
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(dir)
        .env_remove("COUNTERSIGN_POLICY")
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn colour_in_a_terminal_unless_told_otherwise_never_in_a_pipe() {
    let server = work_with_two_commits();
    let policy = policy_file(&server);
    let args = ["check", "--policy", &policy, "origin/main..HEAD"];
    let painted = in_a_terminal(&server.work, &args, &[]);
    assert!(painted.contains("\x1b[31mx\x1b[0m two-person review"), "{painted:?}");
    assert!(!in_a_terminal(&server.work, &args, &[("NO_COLOR", "1")]).contains('\x1b'));
    let never = [&args[..], &["--color", "never"]].concat();
    assert!(!in_a_terminal(&server.work, &never, &[]).contains('\x1b'));
    // In a pipe: plain, unless asked for.
    let (_, piped, _) = check(&server, &["origin/main..HEAD"]);
    assert!(!piped.contains('\x1b') && piped.contains("x two-person review"), "{piped}");
    let (_, always, _) = check(&server, &["--color", "always", "origin/main..HEAD"]);
    assert!(always.contains("\x1b[31mx\x1b[0m"), "{always:?}");
    let explain = countersign(&server.work, &["explain", "--color", "always", "--policy", &policy, "HEAD"]);
    assert!(String::from_utf8_lossy(&explain.stdout).contains("\x1b[31m[FAIL]\x1b[0m"));
    // The hook: plain whatever it is told (git shows its stderr as `remote:` lines).
    let head = server.head();
    let main = server.server_ref("refs/heads/main").unwrap();
    server.push(&["origin", "HEAD:refs/heads/parked"]);
    let hook = server.run_hook(&["--color", "always"], &format!("{main} {head} refs/heads/main\n"));
    let stderr = String::from_utf8_lossy(&hook.stderr);
    assert!(stderr.contains("x two-person review") && !stderr.contains('\x1b'), "{stderr}");
}
