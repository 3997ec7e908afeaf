//! `cargo install --locked --path .` from a clean checkout, as the README says to install.
//!
//! It builds every dependency again, in debug mode, in a target directory of its own: sharing
//! the suite's would rebuild and replace the very binary the other tests are running. That
//! takes minutes on two cores, so it runs under CI (`CI` set), where every test runs, and is
//! skipped with a line on the terminal elsewhere. `--offline`: the dependencies are in cargo's
//! cache once the suite is built.

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use crate::util::*;

#[test]
fn cargo_install_locked_from_a_clean_checkout() {
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"));
    if !ci {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED cargo_install: a full build of every dependency (CI runs it)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("src");
    let cloned = Command::new("git")
        .args(["clone", "-q", env!("CARGO_MANIFEST_DIR")])
        .arg(&source)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .status()
        .unwrap();
    assert!(cloned.success());
    let target = Path::new(BIN).parent().unwrap().parent().unwrap().join("install-check");
    let root = dir.path().join("root");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["install", "--locked", "--offline", "--debug", "--quiet", "--path", "."])
        .arg("--root")
        .arg(&root)
        .current_dir(&source)
        .env("CARGO_TARGET_DIR", &target)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let installed = root.join("bin/countersign");
    let version = Command::new(&installed).arg("--version").output().unwrap();
    let head =
        Command::new("git").args(["rev-parse", "--short=12", "HEAD"]).current_dir(&source).output().unwrap();
    let (version, head) = (String::from_utf8_lossy(&version.stdout), String::from_utf8_lossy(&head.stdout));
    assert!(version.contains(&format!("(commit {})", head.trim())), "{version}");
    let example = source.join("policy.toml");
    let checked = Command::new(&installed).args(["policy", "check"]).arg(&example).output().unwrap();
    assert!(checked.status.success(), "{}", String::from_utf8_lossy(&checked.stderr));
}
