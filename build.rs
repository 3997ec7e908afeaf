//! Puts the git commit into `--version` (COUNTERSIGN_COMMIT); "unknown" outside a checkout,
//! e.g. when built from a crates.io tarball.

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=COUNTERSIGN_COMMIT={commit}");
    // HEAD names the branch; the branch's ref file (or packed-refs) moves with each commit.
    let git_dir = Command::new("git")
        .args(["rev-parse", "--git-dir", "--git-common-dir"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    let mut dirs = git_dir.lines();
    if let (Some(dir), Some(common)) = (dirs.next(), dirs.next()) {
        let mut watched = vec![format!("{dir}/HEAD"), format!("{common}/packed-refs")];
        if let Ok(head) = std::fs::read_to_string(format!("{dir}/HEAD"))
            && let Some(branch) = head.trim().strip_prefix("ref: ")
        {
            watched.push(format!("{common}/{branch}"));
        }
        // A missing file would rerun this script on every build.
        for path in watched.iter().filter(|p| std::path::Path::new(p).exists()) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
