//! Signed approvals: the patch-id measured against git's, keys made by `ssh-keygen` at test
//! time, approvals signed by `countersign approve`, and real `git push`es through the hook.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use countersign::git::commit::CommitObject;
use countersign::git::patch_id::patch_id;
use git2::Repository;

use crate::util::*;

/// git's own `git patch-id --stable` of a commit, as `git show` prints it.
fn git_patch_id(server: &Server, commit: &str) -> String {
    let show = server.git_work(&["show", "--format=", commit]);
    let mut child = server
        .command(&server.work, &["patch-id", "--stable"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), show.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    String::from_utf8(output.stdout).unwrap().split(' ').next().unwrap().to_string()
}

fn ours(work: &Path, commit: &str) -> String {
    let repo = Repository::open(work).unwrap();
    let commit = repo.revparse_single(commit).unwrap().peel_to_commit().unwrap().id();
    patch_id(&repo, &CommitObject::read(&repo, commit).unwrap()).unwrap()
}

fn libgit2_patch_id(work: &Path, commit: &str) -> String {
    let repo = Repository::open(work).unwrap();
    let commit = repo.revparse_single(commit).unwrap().peel_to_commit().unwrap();
    let parent = commit.parent(0).unwrap().tree().unwrap();
    let diff = repo.diff_tree_to_tree(Some(&parent), Some(&commit.tree().unwrap()), None).unwrap();
    diff.patchid(None).unwrap().to_string()
}

/// Commits `path` = `content` on a new branch `name` from `main`.
fn variant(server: &Server, name: &str, path: &str, content: &[u8]) -> String {
    server.git_work(&["checkout", "-q", "-B", name, "main"]);
    std::fs::write(server.work.join(path), content).unwrap();
    server.commit(BOB, &format!("{name}\n"))
}

#[test]
fn patch_id_is_strict_where_gits_is_lenient() {
    let server = Server::new(POLICY);
    server.write("app/f.py", "def f():\n    if x:\n        a()\n    b()\n");
    server.write("app/img.bin", "\0\u{1}one");
    server.commit(BOB, "Base\n");
    let work = &server.work;

    // An indentation change that moves b() into the if: git and libgit2 ignore whitespace.
    let inside = variant(&server, "inside", "app/f.py", b"def f():\n    if x:\n        a()\n        b()\n");
    let shifted = variant(&server, "shifted", "app/f.py", b"def f():\n    if x:\n        a()\n      b()\n");
    assert_eq!(git_patch_id(&server, &inside), git_patch_id(&server, &shifted));
    assert_eq!(libgit2_patch_id(work, &inside), libgit2_patch_id(work, &shifted));
    assert_ne!(ours(work, &inside), ours(work, &shifted));

    // Two different new contents of a binary file: libgit2 hashes "Binary files ... differ".
    let one = variant(&server, "one", "app/img.bin", b"\0\x01two");
    let other = variant(&server, "other", "app/img.bin", b"\0\x01three");
    assert_eq!(libgit2_patch_id(work, &one), libgit2_patch_id(work, &other));
    assert_ne!(ours(work, &one), ours(work, &other));
}

#[test]
fn patch_id_survives_a_rebase_and_tracks_renames_and_modes() {
    let server = Server::new(POLICY);
    server.write("app/run.sh", "echo run\n");
    server.commit(BOB, "Base\n");
    let change = variant(&server, "change", "app/lib.rs", b"fn app() { changed() }\n");
    let before = ours(&server.work, &change);

    // main moves on in another file; the change is rebased cleanly and reworded.
    server.git_work(&["checkout", "-q", "main"]);
    server.write("README.md", "hello again\n");
    server.commit(BOB, "Unrelated\n");
    server.git_work(&["checkout", "-q", "change"]);
    server.git_work(&["rebase", "-q", "main"]);
    server.git_work(&["commit", "-q", "--amend", "-m", "Reworded"]);
    assert_ne!(server.head(), change);
    assert_eq!(ours(&server.work, "HEAD"), before);
    assert_eq!(git_patch_id(&server, "HEAD"), git_patch_id(&server, &change), "git agrees");

    // A rename, a mode change, and both: each its own id, as for git.
    server.git_work(&["checkout", "-q", "-B", "rename", "main"]);
    server.git_work(&["mv", "app/run.sh", "app/go.sh"]);
    let renamed = server.commit(BOB, "Rename\n");
    server.git_work(&["checkout", "-q", "-B", "mode", "main"]);
    let script = server.work.join("app/run.sh");
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mode = server.commit(BOB, "Mode\n");
    server.git_work(&["mv", "app/run.sh", "app/go.sh"]);
    server.git_work(&["reset", "-q", "--soft", "main"]);
    let squashed = server.commit(BOB, "Mode and rename\n");
    let ids = [&renamed, &mode, &squashed].map(|c| ours(&server.work, c));
    assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2], "{ids:?}");
    let git_ids = [&renamed, &mode, &squashed].map(|c| git_patch_id(&server, c));
    assert!(git_ids[0] != git_ids[1] && git_ids[1] != git_ids[2], "{git_ids:?}");
}

// Signed approvals through the hook.

/// Makes a key with `ssh-keygen -t <args>` in `dir`; returns its private key file and public line.
fn keygen(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, String) {
    let file = dir.join(name);
    let status = Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-C", name, "-f"])
        .arg(&file)
        .arg("-t")
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "ssh-keygen -t {args:?}");
    let public = std::fs::read_to_string(file.with_extension("pub")).unwrap();
    (file, public.trim().to_string())
}

/// The mission's policy, with Alice's and Dana's keys, and signed approvals required for the
/// senior and director rules (not for the two-person review).
fn signed_policy(alice_keys: &[&str], dana_key: &str) -> String {
    let quoted: Vec<String> = alice_keys.iter().map(|k| format!("\"{k}\"")).collect();
    POLICY
        .replace(
            "emails = [\"alice@example.com\"]\n",
            &format!("emails = [\"alice@example.com\"]\nkeys = [{}]\n", quoted.join(", ")),
        )
        .replace(
            "emails = [\"dana@example.com\"]\n",
            &format!("emails = [\"dana@example.com\"]\nkeys = [\"{dana_key}\"]\n"),
        )
        .replace("from_role = \"senior\"\n", "from_role = \"senior\"\nsignatures = \"required\"\n")
        .replace("from_role = \"director\"\n", "from_role = \"director\"\nsignatures = \"required\"\n")
}

struct Signed {
    server: Server,
    keys: tempfile::TempDir,
    alice: PathBuf,
    main: String,
}

/// A server whose policy requires signatures, Alice's ed25519 key and Dana's ECDSA key.
fn signed_server() -> Signed {
    signed_server_in(Format::Files)
}

fn signed_server_in(format: Format) -> Signed {
    let keys = tempfile::tempdir().unwrap();
    let (alice, alice_public) = keygen(keys.path(), "alice", &["ed25519"]);
    let (_, dana_public) = keygen(keys.path(), "dana", &["ecdsa"]);
    let server = Server::new_in(format, &signed_policy(&[&alice_public], &dana_public));
    let main = server.server_ref("refs/heads/main").unwrap();
    Signed { server, keys, alice, main }
}

/// `countersign approve ARGS` in the work clone, as Alice (git config user.name/email).
fn approve(server: &Server, args: &[&str]) -> Output {
    server.git_work(&["config", "user.name", "Alice Senior"]);
    server.git_work(&["config", "user.email", "alice@example.com"]);
    let home = server.work.join(".git");
    Command::new(BIN)
        .arg("approve")
        .args(args)
        .current_dir(&server.work)
        .env("HOME", &home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_COMMITTER_NAME", "Bob Dev")
        .env("GIT_COMMITTER_EMAIL", "bob@example.com")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[track_caller]
fn approve_ok(server: &Server, key: &Path, commit: &str) -> String {
    let output = approve(server, &["--yes", "--key", key.to_str().unwrap(), commit]);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    stdout
}

/// An AI-assisted change to the app by Bob, its message ending in `trailers`.
fn ai_change(server: &Server, content: &str, trailers: &str) -> String {
    server.write("app/lib.rs", content);
    server.commit(BOB, &format!("Retry the app\n\nAssisted-by: Claude:claude-opus-4-6\n{trailers}"))
}

const ALICE_APPROVES: &str = "Approved-by: Alice Senior <alice@example.com>\n";

#[test]
fn every_key_type_signs_an_approval_the_hook_accepts() {
    let keys = tempfile::tempdir().unwrap();
    let algorithms: [(&str, &[&str]); 5] = [
        ("ed25519", &["ed25519"]),
        ("p256", &["ecdsa", "-b", "256"]),
        ("p384", &["ecdsa", "-b", "384"]),
        ("p521", &["ecdsa", "-b", "521"]),
        ("rsa", &["rsa", "-b", "2048"]),
    ];
    let made: Vec<(PathBuf, String)> =
        algorithms.iter().map(|(name, args)| keygen(keys.path(), name, args)).collect();
    let publics: Vec<&str> = made.iter().map(|(_, public)| public.as_str()).collect();
    let (_, dana) = keygen(keys.path(), "dana", &["ed25519"]);
    let server = Server::new(&signed_policy(&publics, &dana));
    for (i, (private, _)) in made.iter().enumerate() {
        ai_change(&server, &format!("fn app() {{ {i} }}\n"), "");
        let stdout = approve_ok(&server, private, "HEAD");
        assert!(stdout.contains("AI evidence (trailer): Assisted-by: Claude:claude-opus-4-6"), "{stdout}");
    }
    let push = server.push(&["origin", "main"]);
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(push.stderr.contains("push accepted: 5 new commit(s) checked"), "{}", push.stderr);
}

#[test]
fn forged_approvals_are_refused_with_the_reason() {
    let Signed { server, keys, main, .. } = signed_server();
    // Right name, no signature.
    ai_change(&server, "fn app() { 1 }\n", ALICE_APPROVES);
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &[
            "x senior sign-off for AI-assisted changes [missing-signed-approval]",
            "needs 1 signed approval from role senior; found none",
            "Approved-by: Alice Senior <alice@example.com> does not count: no signature",
            "must review this change and sign the approval, with",
            "countersign approve ",
        ],
        &main,
    );
    assert!(!push.stderr.contains("x two-person review"), "the unsigned approval counts there");

    // Signed by Bob's own key, in Alice's name.
    let (bob_key, _) = keygen(keys.path(), "bob", &["ed25519"]);
    server.git_work(&["reset", "-q", "--hard", "origin/main"]);
    ai_change(&server, "fn app() { 2 }\n", "");
    approve_ok(&server, &bob_key, "HEAD");
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["which the policy does not list for alice@example.com"], &main);

    // Garbage in the signature's place.
    server.git_work(&["reset", "-q", "--hard", "origin/main"]);
    ai_change(
        &server,
        "fn app() { 3 }\n",
        &format!("{ALICE_APPROVES}Approval-Signature: v1 {} AAAA\n", "0".repeat(64)),
    );
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["does not count: malformed Approval-Signature"], &main);
}

#[test]
fn signature_made_for_git_is_not_an_approval() {
    let Signed { server, alice, main, keys: _keys } = signed_server();
    let commit = ai_change(&server, "fn app() { 1 }\n", "");
    let repo = Repository::open(&server.work).unwrap();
    let patch =
        patch_id(&repo, &CommitObject::read(&repo, git2::Oid::from_str(&commit).unwrap()).unwrap()).unwrap();
    let statement = engine::signature::statement(&patch, "alice@example.com");
    let mut child = Command::new("ssh-keygen")
        .args(["-Y", "sign", "-n", "git", "-f"])
        .arg(&alice)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), statement.as_bytes()).unwrap();
    let armored = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    let blob: String = armored.lines().filter(|l| !l.starts_with("-----")).collect();
    server.git_work(&["reset", "-q", "--hard", "origin/main"]);
    ai_change(
        &server,
        "fn app() { 1 }\n",
        &format!("{ALICE_APPROVES}Approval-Signature: v1 {patch} {blob}\n"),
    );
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["signature made for namespace `git`, not `countersign`"], &main);
}

#[test]
fn approval_survives_a_clean_rebase_but_not_a_changed_line() {
    let Signed { server, alice, keys: _keys, .. } = signed_server();
    server.git_work(&["checkout", "-q", "-b", "topic"]);
    ai_change(&server, "fn app() {}\nfn retry() {}\n", "");
    approve_ok(&server, &alice, "HEAD");
    let approved = server.head();

    // main moves on meanwhile (another file, reviewed).
    server.git_work(&["checkout", "-q", "main"]);
    server.write("README.md", "hello, world\n");
    server.commit(BOB, &format!("Greet the world\n\n{REVIEWED}\n"));
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");

    // A clean rebase onto the moved main keeps the approval.
    server.git_work(&["checkout", "-q", "topic"]);
    server.git_work(&["rebase", "-q", "main"]);
    assert_ne!(server.head(), approved);
    assert_accepted(&server, &server.push(&["origin", "topic:main"]), "refs/heads/main");

    // Approved again, then one line changed: the approval is stale.
    server.git_work(&["checkout", "-q", "-b", "edited", "HEAD~1"]);
    ai_change(&server, "fn app() {}\nfn retry() {}\n", "");
    approve_ok(&server, &alice, "HEAD");
    server.write("app/lib.rs", "fn app() {}\nfn retry() { loop {} }\n");
    server.git_work(&["commit", "-q", "-a", "--amend", "--no-edit"]);
    let main = server.server_ref("refs/heads/main").unwrap();
    let push = server.push(&["origin", "edited:refs/heads/release/1"]);
    assert_refused(
        &server,
        &push,
        &["does not count: stale signature: it approves patch", "(the change moved after approval"],
        &main,
    );
    assert_eq!(server.server_ref("refs/heads/release/1"), None);
}

#[test]
fn a_valid_signature_copied_onto_another_commit_does_not_count() {
    let Signed { server, alice, main, keys: _keys } = signed_server();
    ai_change(&server, "fn app() { approved() }\n", "");
    approve_ok(&server, &alice, "HEAD");
    let trailers = server.git_work(&["log", "-1", "--format=%(trailers:only,unfold)"]);
    let signature_line =
        trailers.lines().find(|l| l.starts_with("Approval-Signature: ")).unwrap().to_string();

    server.git_work(&["reset", "-q", "--hard", "origin/main"]);
    ai_change(&server, "fn app() { something_else() }\n", &format!("{ALICE_APPROVES}{signature_line}\n"));
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["does not count: stale signature", "belongs to another commit"], &main);
}

#[test]
fn approve_asks_first_and_prints_trailers_for_an_older_commit() {
    let Signed { server, alice, keys: _keys, .. } = signed_server();
    let older = ai_change(&server, "fn app() { 1 }\n", "");
    server.write("app/other.rs", "fn other() {}\n");
    server.commit(BOB, &format!("Other\n\n{REVIEWED}\n"));
    let head = server.head();

    let output = approve(&server, &["--key", alice.to_str().unwrap(), &older]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not a terminal to confirm on; pass --yes"));

    let stdout = approve_ok(&server, &alice, &older);
    assert_eq!(server.head(), head, "an older commit is not rewritten");
    assert!(stdout.contains("add these two trailers, in this order:\nApproved-by: Alice Senior <alice@example.com>\nApproval-Signature: v1 "), "{stdout}");
    assert!(stdout.contains("files (1):\n      app/lib.rs"), "{stdout}");
}

/// `git log --format=FORMAT RANGE` in the work clone, one line per commit, oldest first.
fn log(server: &Server, format: &str, range: &str) -> Vec<String> {
    let out = server.git_work(&["log", "--reverse", &format!("--format={format}"), range]);
    out.lines().map(str::to_string).collect()
}

/// The messages of RANGE, oldest first.
fn messages(server: &Server, range: &str) -> Vec<String> {
    let out = server.git_work(&["log", "--reverse", "--format=%B%x00", range]);
    out.split('\0').map(|m| m.trim_start_matches('\n').to_string()).filter(|m| !m.is_empty()).collect()
}

#[test]
fn rewrite_signs_each_commit_of_a_range_and_the_push_is_accepted() {
    let Signed { server, alice, keys: _keys, .. } = signed_server();
    ai_change(&server, "fn app() { 1 }\n", "");
    server.write("app/two.rs", "fn two() {}\n");
    // No trailer block yet, and a `---` line that a commit's trailers do not stop at.
    server.commit(BOB, "Second\n\nBody\n---\nmore body\n");
    server.write("app/three.rs", "fn three() {}\n");
    server
        .commit(BOB, "Third\n\nAssisted-by: Claude:claude-opus-4-6\nCc: Dana Director <dana@example.com>\n");
    let range = "origin/main..HEAD";
    let (trees, authors, originals) =
        (log(&server, "%T", range), log(&server, "%an <%ae> %ad", range), messages(&server, range));
    let main = server.server_ref("refs/heads/main").unwrap();
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["3 of 3 new commit(s) lack approval"], &main);

    let output = approve(&server, &["--yes", "--rewrite", "--key", alice.to_str().unwrap(), range]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        stdout.contains("Rewrote 3 commit(s) with your signed approvals; refs/heads/main is now"),
        "{stdout}"
    );

    assert_eq!(log(&server, "%T", range), trees, "same trees, so same diffs and patch-ids");
    assert_eq!(log(&server, "%an <%ae> %ad", range), authors, "authors unchanged");
    assert_eq!(log(&server, "%cn <%ce>", range), vec!["Bob Dev <bob@example.com>"; 3], "committer: the user");
    assert_eq!(log(&server, "%P", range)[0], main, "the first keeps its parent");
    for (before, after) in originals.iter().zip(messages(&server, range)) {
        assert!(after.starts_with(before.trim_end()), "message kept:\n{before}\n---\n{after}");
    }
    for trailers in log(&server, "%(trailers:only,unfold,separator=%x1f)", range) {
        let lines: Vec<&str> = trailers.split('\x1f').collect();
        assert_eq!(lines[lines.len() - 2], ALICE_APPROVES.trim_end(), "{trailers}");
        assert!(lines[lines.len() - 1].starts_with("Approval-Signature: v1 "), "{trailers}");
    }
    assert_eq!(server.git_work(&["status", "--porcelain"]), "", "the working tree is untouched");
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
}

#[test]
fn rewrite_refuses_a_dirty_tree_a_range_not_at_head_and_merges_changing_nothing() {
    let Signed { server, alice, keys: _keys, .. } = signed_server();
    ai_change(&server, "fn app() { 1 }\n", "");
    server.write("app/two.rs", "fn two() {}\n");
    server.commit(BOB, "Second\n");
    let head = server.head();
    let key = alice.to_str().unwrap();
    let refused = |range: &str, expected: &str| {
        let output = approve(&server, &["--yes", "--rewrite", "--key", key, range]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(expected), "missing {expected:?} in {stderr}");
        assert!(!String::from_utf8_lossy(&output.stdout).contains("Approving as"), "asked nothing");
        assert_eq!(server.head(), head, "HEAD did not move");
    };

    refused("origin/main..HEAD~1", "needs a range that ends at HEAD (e.g. main..HEAD)");
    server.write("app/two.rs", "fn two() { changed() }\n");
    refused("origin/main..HEAD", "the working tree has uncommitted changes; commit or stash them first");
    assert_eq!(std::fs::read_to_string(server.work.join("app/two.rs")).unwrap(), "fn two() { changed() }\n");
    server.git_work(&["checkout", "-q", "--", "app/two.rs"]);

    server.git_work(&["checkout", "-q", "-b", "side", "origin/main"]);
    server.write("app/side.rs", "fn side() {}\n");
    server.commit(BOB, "Side\n");
    server.git_work(&["checkout", "-q", "main"]);
    server.git_work(&["merge", "-q", "--no-ff", "--no-edit", "side"]);
    let merge = server.head();
    let output = approve(&server, &["--yes", "--rewrite", "--key", key, "origin/main..HEAD"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("nothing rewritten: {} is a merge", &merge[..7])), "{stderr}");
    assert_eq!(server.head(), merge);
}

// Signed commits ([gate] signed_commits): git's own SSH signature, checked by the hook.

/// A server that requires signed commits, listing `bob_key` for Bob; the clone signs its commits
/// with `signing_key` (none: unsigned).
fn signed_commits_server(bob_key: &str, signing_key: Option<&Path>) -> Server {
    signed_commits_server_in(Format::Files, bob_key, signing_key)
}

fn signed_commits_server_in(format: Format, bob_key: &str, signing_key: Option<&Path>) -> Server {
    let policy = POLICY.replace("[gate]\n", "[gate]\nsigned_commits = \"required\"\n").replace(
        "emails = [\"bob@example.com\"]\n",
        &format!("emails = [\"bob@example.com\"]\nkeys = [\"{bob_key}\"]\n"),
    );
    let server = Server::new_in(format, &policy);
    if let Some(key) = signing_key {
        server.git_work(&["config", "gpg.format", "ssh"]);
        server.git_work(&["config", "user.signingkey", key.to_str().unwrap()]);
        server.git_work(&["config", "commit.gpgsign", "true"]);
    }
    server
}

fn reviewed_change(server: &Server) -> String {
    server.write("app/lib.rs", "fn app() { reviewed() }\n");
    server.commit(BOB, &format!("Reviewed change\n\n{REVIEWED}\n"))
}

#[test]
fn unsigned_commit_is_refused_when_the_policy_requires_signed_commits() {
    let keys = tempfile::tempdir().unwrap();
    let (_, bob_public) = keygen(keys.path(), "bob", &["ed25519"]);
    let server = signed_commits_server(&bob_public, None);
    let main = server.server_ref("refs/heads/main").unwrap();
    reviewed_change(&server);
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &[
            "1 of 1 new commit(s) lacks approval",
            "x signed commit ([gate] signed_commits): not signed",
            "fix: sign it with an SSH key the policy lists for you: git -c gpg.format=ssh",
            "commit --amend -S --no-edit",
        ],
        &main,
    );
    assert!(
        !push.stderr.contains("git commit --amend --no-edit --trailer"),
        "no rule is unmet:\n{}",
        push.stderr
    );

    // The CI check's JSON names the reason by code.
    let output = Command::new(BIN)
        .args(["check", "--format", "json", "--policy"])
        .arg(server.bare.join("policy.toml"))
        .arg("--repo")
        .arg(&server.work)
        .arg("origin/main..HEAD")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let signature = &report["refs"][0]["commits"][0]["signature"];
    assert_eq!(signature["valid"], false, "{signature}");
    assert_eq!(signature["code"], "not-signed", "{signature}");
}

#[test]
fn commit_signed_by_a_listed_key_is_accepted_and_by_an_unlisted_key_refused() {
    let keys = tempfile::tempdir().unwrap();
    let (bob, bob_public) = keygen(keys.path(), "bob", &["ed25519"]);
    let server = signed_commits_server(&bob_public, Some(&bob));
    reviewed_change(&server);
    let push = server.push(&["origin", "main"]);
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(push.stderr.contains("push accepted: 1 new commit(s) checked"), "{}", push.stderr);

    let (other, _) = keygen(keys.path(), "other", &["ed25519"]);
    server.git_work(&["config", "user.signingkey", other.to_str().unwrap()]);
    server.write("app/lib.rs", "fn app() { again() }\n");
    server.commit(BOB, &format!("Another change\n\n{REVIEWED}\n"));
    let main = server.server_ref("refs/heads/main").unwrap();
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &["x signed commit ([gate] signed_commits): signed by a key not listed for bob@example.com (SHA256:"],
        &main,
    );

    // Re-signed with Bob's key, as the fix line says, it lands.
    server.git_work(&["config", "user.signingkey", bob.to_str().unwrap()]);
    server.git_work(&["commit", "-q", "--amend", "-S", "--no-edit"]);
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
}

#[test]
fn approve_into_a_closed_pipe_still_signs_and_exits_0() {
    let Signed { server, alice, keys: _keys, main } = signed_server();
    ai_change(&server, "fn app() { 1 }\n", "");
    server.git_work(&["config", "user.name", "Alice Senior"]);
    server.git_work(&["config", "user.email", "alice@example.com"]);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(BIN)
        .args(["approve", "--yes", "--key", alice.to_str().unwrap(), "HEAD"])
        .current_dir(&server.work)
        .env("HOME", server.work.join(".git"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::null())
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let push = server.push(&["origin", "main"]);
    assert_accepted(&server, &push, "refs/heads/main");
    assert_ne!(server.head(), main);
}

#[test]
fn approve_warns_about_your_own_change_and_a_pushed_commit() {
    let Signed { server, alice, keys: _keys, .. } = signed_server();
    ai_change(&server, "fn app() { 1 }\n", "");
    // Parked on an unprotected branch: the clone's origin/topic holds it.
    assert!(server.push(&["origin", "HEAD:refs/heads/topic"]).ok);
    let stdout = approve_ok(&server, &alice, "HEAD");
    assert!(!stdout.contains("warning:"), "{stdout}");
    assert!(stdout.contains("already on origin/topic: push with git push --force-with-lease"), "{stdout}");
    assert!(!stdout.contains("push it as usual"), "{stdout}");

    // Bob, signing with Alice's key file in his own clone's identity, approves his own change.
    ai_change(&server, "fn app() { 2 }\n", "");
    server.git_work(&["config", "user.name", "Bob Dev"]);
    server.git_work(&["config", "user.email", "bob@example.com"]);
    let output = Command::new(BIN)
        .args(["approve", "--yes", "--key", alice.to_str().unwrap(), "HEAD"])
        .current_dir(&server.work)
        .env("HOME", server.work.join(".git"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        stdout.contains("is your own change (Bob Dev <bob@example.com> wrote it): an approval by its author"),
        "{stdout}"
    );
    assert!(stdout.contains("push it as usual"), "a commit never pushed: {stdout}");
}

#[test]
fn approve_amends_and_rewrites_in_reftable_and_sha256_clones() {
    for format in [Format::Reftable, Format::Sha256] {
        let Signed { server, alice, main, keys: _keys } = signed_server_in(format);
        // HEAD amended: HEAD is read through the clone's ref store.
        ai_change(&server, "fn app() { 1 }\n", "");
        approve_ok(&server, &alice, "HEAD");
        // A range rewritten: the branch moves through git, compare-and-swap.
        server.write("app/two.rs", "fn two() {}\n");
        server.commit(BOB, "Second\n\nAssisted-by: Claude:claude-opus-4-6\n");
        server.write("app/three.rs", "fn three() {}\n");
        server.commit(BOB, "Third\n\nAssisted-by: Claude:claude-opus-4-6\n");
        let output =
            approve(&server, &["--yes", "--rewrite", "--key", alice.to_str().unwrap(), "HEAD~2..HEAD"]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{format:?}: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.contains("refs/heads/main is now"), "{format:?}: {stdout}");
        let signed = log(&server, "%(trailers:key=Approval-Signature,valueonly)", &format!("{main}..HEAD"));
        assert_eq!(signed.iter().filter(|line| line.starts_with("v1 ")).count(), 3, "{format:?}: {signed:?}");
        let push = server.push(&["origin", "main"]);
        assert_accepted(&server, &push, "refs/heads/main");
        assert!(
            push.stderr.contains("push accepted: 3 new commit(s) checked"),
            "{format:?}: {}",
            push.stderr
        );
    }
}

#[test]
fn a_sha256_commit_is_signed_in_gpgsig_sha256_and_checked_there() {
    let keys = tempfile::tempdir().unwrap();
    let (bob, bob_public) = keygen(keys.path(), "bob", &["ed25519"]);
    let (other, _) = keygen(keys.path(), "other", &["ed25519"]);
    let server = signed_commits_server_in(Format::Sha256, &bob_public, Some(&other));
    let main = server.server_ref("refs/heads/main").unwrap();
    let commit = reviewed_change(&server);
    let raw = server.git_work(&["cat-file", "commit", &commit]);
    assert!(raw.contains("\ngpgsig-sha256 -----BEGIN SSH SIGNATURE-----"), "{raw}");
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["signed by a key not listed for bob@example.com (SHA256:"], &main);

    server.git_work(&["config", "user.signingkey", bob.to_str().unwrap()]);
    server.git_work(&["commit", "-q", "--amend", "-S", "--no-edit"]);
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
}
