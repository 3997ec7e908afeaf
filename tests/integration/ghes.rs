//! The GitHub Enterprise Server hook environment that `contrib/ghes-hook-env.sh` builds: a chroot
//! holding countersign, libc and sh only, where the hook judges a push as GHES runs it.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use crate::util::*;

const UNAPPROVED: &str = "Retry calls\n\nCo-authored-by: Claude <noreply@anthropic.com>\n\
                          Reviewed-by: Carol Dev <carol@example.com>\n";
const APPROVED: &str = "Retry calls\n\nCo-authored-by: Claude <noreply@anthropic.com>\n\
                        Approved-by: Alice Senior <alice@example.com>\n";
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/ghes-hook-env.sh");

#[track_caller]
fn run(command: &mut Command) -> Output {
    let output = command.output().unwrap();
    assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
    output
}

/// The hook as GHES runs it: in the chroot, `GIT_DIR` set, the ref updates on stdin.
fn hook(root: &Path, input: &str) -> Output {
    let mut child = Command::new("/usr/sbin/chroot")
        .arg(root)
        .arg("/hook.sh")
        .env_clear()
        .env("GIT_DIR", "/data/repo.git")
        .env("GITHUB_USER_LOGIN", "bob")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running chroot");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn the_hook_environment_needs_nothing_but_what_it_ships() {
    if !machine_has("needs root (chroot)", is_root()) {
        return;
    }
    let server = Server::without_hook();
    let main = server.server_ref("refs/heads/main").unwrap();
    // The pushed commits, parked where the repository has them (GHES quarantines them likewise).
    server.write("app/lib.rs", "changed\n");
    let unapproved = server.commit(BOB, UNAPPROVED);
    server.git_work(&["reset", "-q", "--hard", &main]);
    server.write("app/lib.rs", "changed\n");
    let approved = server.commit(BOB, APPROVED);
    assert!(server.push(&["origin", &format!("{unapproved}:refs/heads/a"), "HEAD:refs/heads/b"]).ok);

    let policy = server.home.join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    let tarball = server.home.join("countersign-env.tar.gz");
    // Without its debug info the test build packs in a fraction of the time.
    let bin = server.home.join("countersign");
    run(Command::new("strip").arg("--strip-debug").arg("-o").arg(&bin).arg(BIN));
    run(Command::new("sh").arg(SCRIPT).arg(&bin).arg(&tarball).arg(&policy));
    let root = server.home.join("env");
    std::fs::create_dir(&root).unwrap();
    run(Command::new("tar").arg("-C").arg(&root).arg("-xzf").arg(&tarball));
    std::fs::create_dir(root.join("data")).unwrap();
    run(Command::new("cp").arg("-a").arg(&server.bare).arg(root.join("data/repo.git")));
    let script =
        "#!/bin/sh\nexec /usr/local/bin/countersign pre-receive --policy /etc/countersign/policy.toml\n";
    std::fs::write(root.join("hook.sh"), script).unwrap();
    run(Command::new("chmod").arg("755").arg(root.join("hook.sh")));

    let refused = hook(&root, &format!("{main} {unapproved} refs/heads/main\n"));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("countersign: push rejected"), "{stderr}");
    assert!(stderr.contains("x senior sign-off for AI-assisted changes"), "{stderr}");
    let accepted = hook(&root, &format!("{main} {approved} refs/heads/main\n"));
    let stderr = String::from_utf8_lossy(&accepted.stderr);
    assert_eq!(accepted.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("countersign: push accepted: 1 new commit(s) checked"), "{stderr}");
}
