//! The CI integrations' scripts, run as their runners run them: `ci/github-action.sh` (the
//! GitHub Action's logic) with the `GITHUB_*` variables and event payload of a pull request,
//! `ci/gitlab-ci.sh` (the GitLab CI template's) with a merge request's `CI_*` variables, each
//! in a fresh clone of a server whose main commits the policy.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A server whose main commits the policy, a pull request's branch `topic` pushed to it with
/// one commit made with `message`, and a CI checkout of that branch (as actions/checkout and
/// GitLab's runner leave one: every branch fetched, the head detached). Returns the checkout
/// and the head commit.
fn pull_request(message: &str) -> (Server, PathBuf, String) {
    let server = Server::without_hook();
    server.write("policy.toml", POLICY);
    server.commit(BOB, &format!("Add the policy\n\n{REVIEWED}\n"));
    assert!(server.push(&["origin", "main"]).ok);
    server.write("app/x.rs", "x\n");
    let head = server.commit(BOB, message);
    assert!(server.push(&["origin", "HEAD:refs/heads/topic"]).ok);
    let checkout = server.home.join("ci");
    server.git(&server.home, &["clone", "-q", server.bare.to_str().unwrap(), "ci"]);
    server.git(&checkout, &["checkout", "-q", "--detach", &head]);
    (server, checkout, head)
}

fn run(server: &Server, script: &str, checkout: &Path, env: &[(&str, String)]) -> Output {
    let mut command = server.command(checkout, &[]);
    let git = std::mem::replace(&mut command, Command::new("bash"));
    for (name, value) in git.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command
        .arg(Path::new(ROOT).join(script))
        .current_dir(&server.home)
        .env("COUNTERSIGN_BIN", BIN)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

fn github(server: &Server, checkout: &Path, head: &str) -> (Option<i32>, String, String) {
    let event = server.home.join("event.json");
    let base = server.git(checkout, &["rev-parse", "origin/main"]);
    let payload = serde_json::json!({
        "action": "synchronize",
        "pull_request": {"head": {"sha": head, "ref": "topic"}, "base": {"sha": base.trim(), "ref": "main"}},
    });
    std::fs::write(&event, payload.to_string()).unwrap();
    let summary = server.home.join("step_summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let env = [
        ("GITHUB_ACTIONS", "true".to_string()),
        ("GITHUB_EVENT_NAME", "pull_request".into()),
        ("GITHUB_EVENT_PATH", event.display().to_string()),
        ("GITHUB_BASE_REF", "main".into()),
        ("GITHUB_HEAD_REF", "topic".into()),
        ("GITHUB_REF", "refs/pull/1/merge".into()),
        ("GITHUB_SHA", head.into()),
        ("GITHUB_WORKSPACE", checkout.display().to_string()),
        ("GITHUB_STEP_SUMMARY", summary.display().to_string()),
    ];
    let output = run(server, "ci/github-action.sh", checkout, &env);
    let log =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code(), std::fs::read_to_string(&summary).unwrap(), log)
}

#[test]
fn the_github_action_fails_a_pull_request_lacking_approval_and_says_why_in_the_summary() {
    let (server, checkout, head) = pull_request("Unreviewed change\n");
    let (code, summary, log) = github(&server, &checkout, &head);
    assert_eq!(code, Some(1), "{log}");
    assert!(
        summary.starts_with("earlier step\n### :x: countersign: 1 of 1 commit(s) lack approval"),
        "{summary}"
    );
    assert!(summary.contains("| **fail** | two-person review"), "{summary}");
    assert!(log.contains("lack approval"), "the job log shows the report too:\n{log}");
}

#[test]
fn the_github_action_passes_an_approved_pull_request() {
    let (server, checkout, head) = pull_request(&format!("Reviewed change\n\n{REVIEWED}\n"));
    let (code, summary, log) = github(&server, &checkout, &head);
    assert_eq!(code, Some(0), "{log}");
    assert!(summary.contains("countersign"), "{summary}");
    assert!(!summary.contains("**fail**"), "{summary}");
}

#[test]
fn the_github_action_judges_by_the_base_branchs_policy_not_the_pull_requests() {
    // The pull request rewrites the policy to ask nothing: still judged by main's.
    let (server, checkout, _) = pull_request("Unreviewed change\n");
    let lax = POLICY.split("[[rule]]").next().unwrap();
    server.write("policy.toml", lax);
    let head = server.commit(BOB, "Ask for nothing\n");
    assert!(server.push(&["origin", "HEAD:refs/heads/topic"]).ok);
    server.git(&checkout, &["fetch", "-q", "origin"]);
    server.git(&checkout, &["checkout", "-q", "--detach", &head]);
    let (code, summary, log) = github(&server, &checkout, &head);
    assert_eq!(code, Some(1), "{log}");
    assert!(summary.contains("2 of 2 commit(s) lack approval"), "{summary}");
}

fn gitlab(server: &Server, checkout: &Path, head: &str, merge_request: bool) -> (Option<i32>, String) {
    let base = server.git(checkout, &["merge-base", "origin/main", head]);
    let mut env = vec![
        ("CI", "true".to_string()),
        ("CI_PROJECT_DIR", checkout.display().to_string()),
        ("CI_COMMIT_SHA", head.to_string()),
    ];
    if merge_request {
        env.extend([
            ("CI_PIPELINE_SOURCE", "merge_request_event".to_string()),
            ("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "main".into()),
            ("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "topic".into()),
            ("CI_MERGE_REQUEST_DIFF_BASE_SHA", base.trim().into()),
        ]);
    }
    let output = run(server, "ci/gitlab-ci.sh", checkout, &env);
    let log =
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.code(), log)
}

#[test]
fn the_gitlab_template_keeps_the_exit_code_and_the_report() {
    let (server, checkout, head) = pull_request("Unreviewed change\n");
    let (code, log) = gitlab(&server, &checkout, &head, true);
    assert_eq!(code, Some(1), "{log}");
    let report = std::fs::read_to_string(checkout.join("countersign.md")).unwrap();
    assert!(report.starts_with("### :x: countersign: 1 of 1 commit(s) lack approval"), "{report}");
    assert!(log.contains(report.trim()), "the job log shows the report:\n{log}");

    server.git(&checkout, &["commit", "-q", "--amend", "--no-edit", "--trailer", REVIEWED]);
    let head = server.git(&checkout, &["rev-parse", "HEAD"]);
    let (code, log) = gitlab(&server, &checkout, head.trim(), true);
    assert_eq!(code, Some(0), "{log}");

    let (code, log) = gitlab(&server, &checkout, head.trim(), false);
    assert_eq!(code, Some(2), "outside a merge request pipeline it is an error: {log}");
    assert!(log.contains("not a merge request pipeline"), "{log}");
}

#[test]
fn the_action_and_the_template_run_the_scripts_tested_here() {
    let action = std::fs::read_to_string(Path::new(ROOT).join("action.yml")).unwrap();
    assert!(action.contains("using: composite"), "{action}");
    assert!(action.contains("run: bash \"$GITHUB_ACTION_PATH/ci/github-action.sh\""), "{action}");
    assert!(action.contains("cargo install --locked --quiet --path \"$GITHUB_ACTION_PATH\""), "{action}");
    let template = std::fs::read_to_string(Path::new(ROOT).join("ci/gitlab-ci.yml")).unwrap();
    let script = template.lines().skip_while(|line| line.trim() != "script:");
    let steps: Vec<&str> = script.skip(1).take_while(|line| line.trim_start().starts_with("- ")).collect();
    assert_eq!(
        steps.last().map(|s| s.trim()),
        Some("- bash \"$CI_BUILDS_DIR/countersign-src/ci/gitlab-ci.sh\"")
    );
    // A pipe would hand the job its last command's exit code (the job's sh has no pipefail).
    assert!(steps.iter().all(|step| !step.contains(" | ")), "{steps:?}");
}
