//! Signed approvals: the patch-id measured against git's, keys made by `ssh-keygen` at test
//! time, approvals signed by `countersign approve`, and real `git push`es through the hook.

use std::path::Path;

use countersign::patch_id::patch_id;
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
    let commit = repo.revparse_single(commit).unwrap().peel_to_commit().unwrap();
    patch_id(&repo, &commit).unwrap()
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
