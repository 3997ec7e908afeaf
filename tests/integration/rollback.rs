//! `countersign rollback` on a generated history: AI-assisted and human commits over three
//! months, a revert that conflicts (a human changed the AI's file afterwards), a merge of an
//! AI branch. The plan (newest first, provenance, clean or not), the filters, `--apply`'s
//! branch of reverts (what and why in each message, the resulting tree), and that nothing
//! else moved: not `main`, not the work tree, and the branch still has to pass the gate.

use std::process::{Command, Output};

use crate::util::*;

struct History {
    server: Server,
    ai_file: String,
    conflicted: String,
    cursor: String,
    crush: String,
    merge: String,
    late: String,
}

const TEN_LINES: &str = "l1\nl2\nl3\nl4\nl5\nl6\nl7\nl8\nl9\nl10\n";

fn commit_on(server: &Server, date: &str, message: &str) -> String {
    server.git_work(&["add", "-A"]);
    let date = format!("{date}T12:00:00Z");
    let output = server
        .command(&server.work, &["commit", "-q", "--allow-empty", "--cleanup=verbatim", "-m", message])
        .env("GIT_AUTHOR_DATE", &date)
        .env("GIT_COMMITTER_DATE", &date)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    server.head()
}

fn history() -> History {
    let server = Server::new(POLICY);
    server.write("app/a.txt", TEN_LINES);
    commit_on(&server, "2026-01-10", &format!("Add a\n\n{REVIEWED}\n"));
    server.write("app/b.txt", "b1\n");
    let ai_file =
        commit_on(&server, "2026-02-05", "Add b\n\nCo-Authored-By: Claude <noreply@anthropic.com>\n");
    server.write("app/b.txt", "b1\nb2 by hand\n");
    let conflicted = commit_on(&server, "2026-02-10", &format!("Extend b\n\n{REVIEWED}\n"));
    server.write("app/a.txt", &TEN_LINES.replace("l2\n", "L2 cursor\n"));
    let cursor = commit_on(&server, "2026-02-15", "Shout line 2\n\nMade-with: Cursor\n");
    server.git_work(&["checkout", "-q", "-b", "feature"]);
    server.write("app/c.txt", "c\n");
    let crush = commit_on(&server, "2026-02-20", "Add c\n\nAssisted-by: Crush:gpt-5\n");
    server.git_work(&["checkout", "-q", "main"]);
    server.write("README.md", "hello again\n");
    commit_on(&server, "2026-02-21", &format!("Readme\n\n{REVIEWED}\n"));
    server.git_work(&["merge", "-q", "--no-ff", "--no-edit", "feature"]);
    let date = "2026-02-22T12:00:00Z";
    let output = server
        .command(&server.work, &["commit", "-q", "--amend", "--no-edit", "--date", date])
        .env("GIT_COMMITTER_DATE", date)
        .output()
        .unwrap();
    assert!(output.status.success());
    let merge = server.head();
    server.write("app/a.txt", &TEN_LINES.replace("l2\n", "L2 cursor\n").replace("l9\n", "L9 late\n"));
    let late =
        commit_on(&server, "2026-03-05", "Late change\n\nCo-Authored-By: Claude <noreply@anthropic.com>\n");
    History { server, ai_file, conflicted, cursor, crush, merge, late }
}

fn rollback(server: &Server, args: &[&str]) -> Output {
    let policy = server.bare.join("policy.toml");
    Command::new(BIN)
        .arg("rollback")
        .args(["--policy", policy.to_str().unwrap()])
        .args(args)
        .current_dir(&server.work)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", &server.home)
        .env("GIT_AUTHOR_NAME", "Bob Dev")
        .env("GIT_AUTHOR_EMAIL", "bob@example.com")
        .env("GIT_COMMITTER_NAME", "Bob Dev")
        .env("GIT_COMMITTER_EMAIL", "bob@example.com")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

const WINDOW: &[&str] = &["--ai-only", "--since", "2026-02-01", "--until", "2026-02-28"];

#[test]
fn plan_lists_the_window_newest_first_with_provenance_and_outcome() {
    let h = history();
    let refs_before = h.server.git_work(&["for-each-ref"]);
    let output = rollback(&h.server, &[WINDOW, &["--format", "json", "main"]].concat());
    let plan: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let steps: Vec<(&str, &str)> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            (h.merge.as_str(), "merge"),
            (h.crush.as_str(), "clean"),
            (h.cursor.as_str(), "clean"),
            (h.ai_file.as_str(), "conflict"),
        ],
        "{plan}"
    );
    assert_eq!(plan["steps"][3]["conflicts"], serde_json::json!(["app/b.txt"]));
    assert_eq!(plan["steps"][1]["evidence"][0]["text"], "Assisted-by: Crush:gpt-5");
    assert_eq!(plan["base"], h.late.as_str());

    let human = stdout(&rollback(&h.server, &[WINDOW, &["main"]].concat()));
    assert!(
        human.contains("4 of 9 commit(s) selected (AI-assisted, committed 2026-02-01 to 2026-02-28)"),
        "{human}"
    );
    assert!(human.contains("merge: reported, not reverted"), "{human}");
    assert!(
        human.contains("  AI-assisted: Crush\n    trailer: Assisted-by: Crush:gpt-5\n  reverts cleanly"),
        "{human}"
    );
    assert!(human.contains("revert conflicts in app/b.txt"), "{human}");
    assert!(human.starts_with(&format!("rollback plan on {}: ", &h.late[..12])), "{human}");
    for skipped in [&h.conflicted, &h.late] {
        assert!(!human.contains(&format!("\n{} ", &skipped[..12])), "{human}");
    }
    // A plan writes nothing anyone can see.
    assert_eq!(h.server.git_work(&["for-each-ref"]), refs_before);
    assert_eq!(h.server.git_work(&["status", "--porcelain"]), "");
}

#[test]
fn filters_by_tool_and_path() {
    let h = history();
    let ids = |args: &[&str]| -> Vec<String> {
        let plan: serde_json::Value =
            serde_json::from_str(&stdout(&rollback(&h.server, &[args, &["--format", "json"]].concat())))
                .unwrap();
        plan["steps"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids(&["--tool", "cursor"]), [h.merge.clone(), h.cursor.clone()]);
    assert_eq!(ids(&["--tool", "claude", "--until", "2026-02-28"]), [h.merge.clone(), h.ai_file.clone()]);
    assert_eq!(ids(&["--ai-only", "--path", "app/c.txt"]), [h.merge.clone(), h.crush.clone()]);
    assert_eq!(ids(&["--ai-only", "--path", "app/a.*", "--since", "2026-03-01"]), [h.late.as_str()]);
}

#[test]
fn apply_writes_a_new_branch_of_reverts_and_the_gate_still_judges_it() {
    let h = history();
    let main_before = h.server.head();
    let server_main = h.server.server_ref("refs/heads/main").unwrap();
    let human = stdout(&rollback(&h.server, &[WINDOW, &["--apply", "rollback", "main"]].concat()));
    assert!(human.contains("wrote refs/heads/rollback at "), "{human}");
    assert_eq!(h.server.head(), main_before, "main did not move");
    assert_eq!(h.server.git_work(&["status", "--porcelain"]), "", "the work tree was not touched");

    let log = h.server.git_work(&["log", "--format=%H %P%n%B%x00", "main..rollback"]);
    let commits: Vec<&str> = log.split('\0').map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(commits.len(), 2, "{log}");
    // Newest revert on top: Cursor's change was reverted after Crush's.
    assert!(
        commits[0].contains("Revert \"Shout line 2\"")
            && commits[0].contains(&format!("This reverts commit {}.", h.cursor))
    );
    assert!(
        commits[1].contains("Revert \"Add c\"")
            && commits[1].contains(&format!("This reverts commit {}.", h.crush))
    );
    assert!(
        commits[1].split_once('\n').unwrap().0.ends_with(&main_before),
        "the first revert sits on main: {}",
        commits[1]
    );
    for commit in &commits {
        assert!(
            commit.contains(
                "Rolled back by countersign rollback: AI-assisted, committed 2026-02-01 to 2026-02-28."
            ),
            "{commit}"
        );
    }
    assert!(commits[1].contains("Its AI provenance:\n  trailer: Assisted-by: Crush:gpt-5"), "{}", commits[1]);

    // The tree: both reverts undone, the late change and the conflicting file kept.
    let a = h.server.git_work(&["show", "rollback:app/a.txt"]);
    assert_eq!(a, TEN_LINES.replace("l9\n", "L9 late\n"));
    assert!(!h.server.git_output(&h.server.work, &["cat-file", "-e", "rollback:app/c.txt"]).status.success());
    assert_eq!(h.server.git_work(&["show", "rollback:app/b.txt"]), "b1\nb2 by hand\n");

    // git agrees: each revert is `git merge-tree` of its parent and the reverted commit's
    // parent from that commit, and the conflicting one conflicts on top of them all.
    for (revert, reverted) in [("rollback~1", &h.crush), ("rollback", &h.cursor)] {
        let base = format!("--merge-base={reverted}");
        let parent = format!("{revert}~1");
        let theirs = format!("{reverted}~1");
        let merged = h.server.git_work(&["merge-tree", "--write-tree", &base, &parent, &theirs]);
        assert_eq!(merged.trim(), h.server.git_work(&["rev-parse", &format!("{revert}^{{tree}}")]).trim());
    }
    let base = format!("--merge-base={}", h.ai_file);
    let theirs = format!("{}~1", h.ai_file);
    let merged =
        h.server.git_output(&h.server.work, &["merge-tree", "--write-tree", &base, "rollback", &theirs]);
    assert_eq!(merged.status.code(), Some(1), "git finds the conflict too");
    assert!(String::from_utf8_lossy(&merged.stdout).contains("app/b.txt"));

    // A second run never moves the branch it wrote.
    let tip = h.server.git_work(&["rev-parse", "rollback"]);
    let again = rollback(&h.server, &[WINDOW, &["--apply", "rollback", "main"]].concat());
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("branch refs/heads/rollback already exists"));
    assert_eq!(h.server.git_work(&["rev-parse", "rollback"]), tip);

    // The reverts go through the gate like any change: unreviewed, they are refused.
    let push = h.server.push(&["origin", "rollback:main"]);
    assert_refused(
        &h.server,
        &push,
        &["\"Revert \"Shout line 2\"\" by Bob Dev", "two-person review"],
        &server_main,
    );
}

#[test]
fn apply_refuses_a_bare_repository() {
    let h = history();
    let output = Command::new(BIN)
        .args(["rollback", "--repo", h.server.bare.to_str().unwrap(), "--apply", "rollback", "main"])
        .args(["--policy", h.server.bare.join("policy.toml").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("bare repository"));
    assert_eq!(h.server.server_ref("refs/heads/rollback"), None);
}
