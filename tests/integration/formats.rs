//! Every repository git creates: the core push scenarios against a server whose refs are files,
//! one whose refs are a reftable, and one whose objects are named by SHA-256; one migrated to
//! reftable after `install`; the verbs that read history on each; and what a format countersign
//! does not read is told.

use std::path::Path;
use std::process::{Command, Output};

use crate::util::*;

const FORMATS: [Format; 3] = [Format::Files, Format::Reftable, Format::Sha256];

/// A push through `refs/heads/master`, a symbolic ref to main, judged as main.
const ALIAS_REFUSED: &str =
    "refs/heads/master (symbolic ref to refs/heads/main): 1 of 1 new commit(s) lacks approval";

fn countersign(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN).args(args).current_dir(dir).env_remove("COUNTERSIGN_POLICY").output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The server is stored as `format` says, and its ids have the length of its hash.
#[track_caller]
fn assert_stored_as(server: &Server, format: Format) {
    let refs = if format == Format::Reftable { "reftable" } else { "files" };
    let objects = if format == Format::Sha256 { "sha256" } else { "sha1" };
    assert_eq!(server.git_server(&["rev-parse", "--show-ref-format"]).trim(), refs);
    assert_eq!(server.git_server(&["rev-parse", "--show-object-format"]).trim(), objects);
    let main = server.server_ref("refs/heads/main").unwrap();
    assert_eq!(main.len(), if format == Format::Sha256 { 64 } else { 40 }, "{main}");
}

/// Refuse unreviewed, accept reviewed, an unprotected branch, a push through a symbolic ref,
/// a force push, deletions: each through a real push, on a server in `format`.
fn core_scenarios(format: Format) {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("audit.jsonl");
    let server = Server::new_in(format, &format!("{POLICY}\n[audit]\npath = \"{}\"\n", log.display()));
    assert_stored_as(&server, format);
    let main = server.server_ref("refs/heads/main").unwrap();

    server.write("app/lib.rs", "unreviewed\n");
    let unreviewed = server.commit(BOB, "Unreviewed change\n");
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["refs/heads/main: 1 of 1 new commit(s) lacks approval"], &main);
    let record = &Server::audit_lines(&log)[0]["refs"][0];
    assert_eq!((record["old"].as_str(), record["new"].as_str()), (Some(&*main), Some(&*unreviewed)));
    assert_eq!(record["commits"][0]["id"].as_str(), Some(&*unreviewed));

    // An unprotected branch takes it.
    let push = server.push(&["origin", "main:refs/heads/topic"]);
    assert!(push.ok, "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/topic"), Some(unreviewed.clone()));

    // A symbolic ref to main is main: found through the ref store, whatever it is.
    server.git_server(&["symbolic-ref", "refs/heads/master", "refs/heads/main"]);
    let push = server.push(&["origin", "main:refs/heads/master"]);
    assert_refused(&server, &push, &[ALIAS_REFUSED], &main);

    // The same commit, reviewed, lands; and the gate hides what main already holds after.
    server.git_work(&["commit", "-q", "--amend", "-m", &format!("Reviewed change\n\n{REVIEWED}")]);
    let push = server.push(&["origin", "main"]);
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(push.stderr.contains("push accepted: 1 new commit(s) checked"), "{}", push.stderr);
    let push = server.push(&["origin", "main:refs/heads/release/1"]);
    assert!(push.stderr.contains("push accepted: 0 new commit(s) checked"), "{}", push.stderr);

    // A force push to main is refused, even of reviewed work.
    let main = server.head();
    server.git_work(&["commit", "-q", "--amend", "-m", &format!("Rewritten\n\n{REVIEWED}")]);
    let push = server.push(&["--force", "origin", "main"]);
    assert_refused(&server, &push, &["non-fast-forward update of a protected ref is not allowed"], &main);

    // Deleting main is refused; deleting the unprotected branch is not.
    let push = server.push(&["origin", ":refs/heads/main"]);
    assert_refused(&server, &push, &["refs/heads/main: deleting a protected ref is not allowed"], &main);
    assert!(server.push(&["origin", ":refs/heads/topic"]).ok);
    assert_eq!(server.server_ref("refs/heads/topic"), None);
}

#[test]
fn core_scenarios_with_files_refs() {
    core_scenarios(Format::Files);
}

#[test]
fn core_scenarios_with_reftable_refs() {
    core_scenarios(Format::Reftable);
}

#[test]
fn core_scenarios_with_sha256_objects() {
    core_scenarios(Format::Sha256);
}

/// `install --policy-ref` on a server in `format`, the policy committed on main: pushes are
/// judged by it, and one that breaks it is refused.
fn committed_policy(format: Format) {
    let server = Server::without_hook_in(format);
    server.write("policy.toml", POLICY);
    server.commit(BOB, "Add the policy\n");
    assert!(server.push(&["origin", "main"]).ok);
    let bare = server.bare.to_str().unwrap();
    let output = countersign(
        &server.home,
        &["install", "--repo", bare, "--policy-ref", "refs/heads/main:policy.toml"],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("policy refs/heads/main:policy.toml: valid"),
        "{}",
        text(&output.stdout)
    );
    let main = server.head();

    server.write("app/lib.rs", "unreviewed\n");
    server.commit(BOB, "Unreviewed\n");
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["x two-person review", "policy refs/heads/main:policy.toml"], &main);

    server.write("policy.toml", &format!("{POLICY}\ngarbage = [\n"));
    server.git_work(&["add", "-A"]);
    server.git_work(&["commit", "-q", "--amend", "-m", &format!("Break the policy\n\n{REVIEWED}")]);
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["refs/heads/main: the pushed policy is not valid"], &main);

    server.write("policy.toml", POLICY);
    server.git_work(&["add", "-A"]);
    server.git_work(&["commit", "-q", "--amend", "-m", &format!("Reviewed\n\n{REVIEWED}")]);
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
}

#[test]
fn committed_policy_with_every_format() {
    for format in FORMATS {
        committed_policy(format);
    }
}

/// check, explain, report and `policy check --repo` in a clone in `format`, reading the
/// committed policy through `--policy-ref` where CI would.
#[test]
fn the_verbs_that_read_history_work_in_every_format() {
    for format in FORMATS {
        let server = Server::new_in(format, POLICY);
        server.write("policy.toml", POLICY);
        server.commit(BOB, &format!("Add the policy\n\n{REVIEWED}\n"));
        assert!(server.push(&["origin", "main"]).ok);
        server.write("app/lib.rs", "unreviewed\n");
        let unreviewed = server.commit(BOB, "Unreviewed\n");
        server.git_work(&["fetch", "-q", "origin"]);
        let policy = ["--policy-ref", "refs/remotes/origin/main:policy.toml"];

        let output = countersign(&server.work, &[&["check"][..], &policy, &["origin/main..HEAD"]].concat());
        assert_eq!(output.status.code(), Some(1), "{format:?}: {}", text(&output.stderr));
        assert!(
            text(&output.stdout).contains("1 of 1 new commit(s) lacks approval"),
            "{}",
            text(&output.stdout)
        );
        let output = countersign(
            &server.work,
            &[&["check", "--format", "json"][..], &policy, &["HEAD~1..HEAD"]].concat(),
        );
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(report["refs"][0]["commits"][0]["id"].as_str(), Some(&*unreviewed), "{format:?}");

        let output = countersign(&server.work, &[&["explain"][..], &policy, &["HEAD"]].concat());
        assert!(
            text(&output.stdout).contains(&format!("commit {unreviewed}")),
            "{format:?}: {}",
            text(&output.stdout)
        );

        let output =
            countersign(&server.work, &[&["report", "--format", "csv"][..], &policy, &["HEAD"]].concat());
        assert!(output.status.success(), "{format:?}: {}", text(&output.stderr));
        assert!(text(&output.stdout).lines().count() > 1, "{}", text(&output.stdout));

        let work = server.work.to_str().unwrap();
        let missing = POLICY.replace("\"payments/**\"", "\"payment/**\"");
        std::fs::write(server.home.join("lint.toml"), missing).unwrap();
        let output = countersign(&server.home, &["policy", "check", "--repo", work, "lint.toml"]);
        let warning = format!(
            "`payment/**` (rule `director audit for tier-1 systems`) matches no file in HEAD ({})",
            server.head()
        );
        assert!(text(&output.stderr).contains(&warning), "{format:?}: {}", text(&output.stderr));
    }
}

/// A server installed with files refs, then migrated: the gate reads the reftable from then on.
#[test]
fn a_server_migrated_to_reftable_after_install_still_judges_pushes() {
    let server = Server::without_hook();
    std::fs::write(server.home.join("policy.toml"), POLICY).unwrap();
    let policy = server.home.join("policy.toml");
    let bare = server.bare.to_str().unwrap();
    let output =
        countersign(&server.home, &["install", "--repo", bare, "--policy", policy.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    server.git_server(&["symbolic-ref", "refs/heads/master", "refs/heads/main"]);
    server.git_server(&["refs", "migrate", "--ref-format=reftable"]);
    assert_eq!(server.git_server(&["rev-parse", "--show-ref-format"]).trim(), "reftable");
    let main = server.server_ref("refs/heads/main").unwrap();

    server.write("app/lib.rs", "unreviewed\n");
    server.commit(BOB, "Unreviewed\n");
    let push = server.push(&["origin", "main:refs/heads/master"]);
    assert_refused(&server, &push, &[ALIAS_REFUSED], &main);
    assert!(server.push(&["origin", "main:refs/heads/topic"]).ok);
    server.git_work(&["commit", "-q", "--amend", "-m", &format!("Reviewed\n\n{REVIEWED}")]);
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
    let push = server.push(&["origin", ":refs/heads/main"]);
    assert_refused(&server, &push, &["deleting a protected ref is not allowed"], &server.head());
}

/// A format countersign does not read refuses every push, saying which and why; git itself
/// reads it (a partial clone's promised objects), so the push reaches the hook.
#[test]
fn an_unknown_repository_format_refuses_the_push_and_names_it() {
    let server = Server::new(POLICY);
    let main = server.server_ref("refs/heads/main").unwrap();
    server.git_server(&["config", "core.repositoryFormatVersion", "1"]);
    server.git_server(&["config", "extensions.partialClone", "origin"]);
    server.write("app/lib.rs", "reviewed\n");
    server.commit(BOB, &format!("Reviewed\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert!(!push.ok, "{}", push.stderr);
    assert!(
        push.stderr.contains(
            "push refused: opening the repository from the hook environment: unsupported extension \
             name extensions.partialclone: a repository format countersign does not read"
        ),
        "{}",
        push.stderr
    );
    assert!(push.stderr.contains("so every push is refused"), "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/main"), Some(main));

    // A ref format git may one day write: install says so rather than reading no refs.
    server.git_server(&["config", "--unset", "extensions.partialClone"]);
    let mut config = std::fs::read_to_string(server.bare.join("config")).unwrap();
    config.push_str("[extensions]\n\trefStorage = mystery\n");
    std::fs::write(server.bare.join("config"), config).unwrap();
    let output = countersign(
        &server.home,
        &["install", "--repo", server.bare.to_str().unwrap(), "--policy", "/dev/null"],
    );
    assert_eq!(output.status.code(), Some(2));
    let expected = "extensions.refStorage = mystery: a ref format countersign does not read";
    assert!(text(&output.stderr).contains(expected), "{}", text(&output.stderr));
}

/// A hook environment without git (a chroot) cannot read a reftable: the push is refused, and
/// the message says what is missing.
#[test]
fn a_reftable_server_without_git_refuses_and_says_why() {
    let server = Server::new_in(Format::Reftable, POLICY);
    let main = server.server_ref("refs/heads/main").unwrap();
    server.write("app/lib.rs", "reviewed\n");
    let new = server.commit(BOB, &format!("Reviewed\n\n{REVIEWED}\n"));
    assert!(server.push(&["origin", "main:refs/heads/topic"]).ok);
    let output = Command::new(BIN)
        .arg("pre-receive")
        .current_dir(&server.bare)
        .env("GIT_DIR", ".")
        .env("PATH", server.home.join("no-git-here"))
        .env_remove("COUNTERSIGN_POLICY")
        .stdin(std::fs::File::open(write_input(&server, &format!("{main} {new} refs/heads/main\n"))).unwrap())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let expected = "no git binary here, and only git reads this repository's reftable refs";
    assert!(text(&output.stderr).contains(expected), "{}", text(&output.stderr));
}

fn write_input(server: &Server, input: &str) -> std::path::PathBuf {
    let path = server.home.join("hook-input");
    std::fs::write(&path, input).unwrap();
    path
}
