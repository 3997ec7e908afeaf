//! `countersign demo`: the gate at work in a sandbox, through the real `git` and a real push.
//!
//! A temporary bare repository gets the example policy and the shipped hook script; a developer
//! pushes an AI-assisted commit with only a peer's review (refused), then the same commit with a
//! senior's approval (accepted). Everything lives in a temporary directory removed at the end.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context as _, bail, ensure};

use crate::verbs::install::{self, InstallOptions, Layout, PolicyChoice};

const EXAMPLE_POLICY: &str = include_str!("../../policy.toml");

pub fn run(out: &mut impl Write) -> anyhow::Result<()> {
    let sandbox = tempfile::Builder::new().prefix("countersign-demo-").tempdir()?;
    let root = sandbox.path();
    let exe = std::env::current_exe().context("finding the countersign binary")?;
    let git = Git { home: root.to_path_buf() };

    writeln!(out, "countersign demo, in {}\n", root.display())?;
    let server = root.join("server.git");
    git.run(root, &["init", "--quiet", "--bare", "-b", "main", path_str(&server)?])?;
    let policy = root.join("policy.toml");
    std::fs::write(&policy, EXAMPLE_POLICY)?;
    let options = InstallOptions {
        repo: server.clone(),
        policy: PolicyChoice::File(policy),
        layout: Layout::Plain,
        force: false,
        bin: exe,
        trial: None,
    };
    install::plan_install(&options, jiff::ZonedDateTime::now().date())?.apply()?;
    writeln!(out, "1. A bare repository with the example policy, and the hook installed:")?;
    writeln!(
        out,
        "   countersign install --repo {} --policy {}/policy.toml\n",
        server.display(),
        root.display()
    )?;

    let work = root.join("work");
    git.run(root, &["init", "--quiet", "-b", "main", path_str(&work)?])?;
    git.run(&work, &["remote", "add", "origin", path_str(&server)?])?;
    std::fs::create_dir_all(work.join("src"))?;
    std::fs::write(work.join("src/retry.rs"), "pub fn retry() { /* three attempts, backoff */ }\n")?;
    git.run(&work, &["add", "."])?;
    let message = "Retry payment calls\n\nThe provider drops one call in a thousand.\n\n\
                   Co-authored-by: Claude <noreply@anthropic.com>\n\
                   Reviewed-by: Erin Peer <erin@example.com>\n";
    git.run(&work, &["commit", "--quiet", "-m", message])?;
    writeln!(out, "2. Bob Dev commits an AI-assisted change that only a peer reviewed:\n")?;
    writeln!(out, "{}", indent(&git.run(&work, &["log", "-1", "--format=%h %s%n%n%(trailers)"])?))?;

    writeln!(out, "3. git push origin main -- refused:\n")?;
    let refused = git.output(&work, &["push", "origin", "main"])?;
    writeln!(out, "{}", indent(&String::from_utf8_lossy(&refused.stderr)))?;
    ensure!(!refused.status.success(), "the push without a senior's approval was accepted");
    ensure!(git.output(&server, &["rev-parse", "--verify", "--quiet", "refs/heads/main"])?.stdout.is_empty());

    writeln!(out, "4. Alice Senior reviews it; Bob records her approval and pushes again:\n")?;
    let trailer = "Approved-by: Alice Senior <alice@example.com>";
    writeln!(out, "   git commit --amend --no-edit --trailer \"{trailer}\"\n")?;
    git.run(&work, &["commit", "--quiet", "--amend", "--no-edit", "--trailer", trailer])?;
    let accepted = git.output(&work, &["push", "origin", "main"])?;
    writeln!(out, "{}", indent(&String::from_utf8_lossy(&accepted.stderr)))?;
    if !accepted.status.success() {
        bail!("the approved push was refused");
    }
    let landed = git.run(&server, &["rev-parse", "refs/heads/main"])?;
    let pushed = git.run(&work, &["rev-parse", "HEAD"])?;
    ensure!(landed == pushed, "main on the server is not the approved commit");
    writeln!(out, "5. main on the server is now {}: the approved commit.", &landed.trim()[..7])?;
    writeln!(out, "\nThe sandbox is removed. Next: README.md, \"Install on a server\".")?;
    Ok(())
}

/// The `git` CLI, isolated from the user's own configuration.
struct Git {
    home: PathBuf,
}

impl Git {
    fn output(&self, dir: &Path, args: &[&str]) -> anyhow::Result<Output> {
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Bob Dev")
            .env("GIT_AUTHOR_EMAIL", "bob@example.com")
            .env("GIT_COMMITTER_NAME", "Bob Dev")
            .env("GIT_COMMITTER_EMAIL", "bob@example.com")
            .env_remove("COUNTERSIGN_POLICY")
            .env_remove("COUNTERSIGN_BIN")
            .output()
            .context("running git (is it installed?)")
    }

    fn run(&self, dir: &Path, args: &[&str]) -> anyhow::Result<String> {
        let output = self.output(dir, args)?;
        ensure!(
            output.status.success(),
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

fn path_str(path: &Path) -> anyhow::Result<&str> {
    path.to_str().context("the temporary directory's path is not UTF-8")
}

fn indent(text: &str) -> String {
    // git pads `remote:` lines with spaces to clear the terminal line; drop them.
    text.trim_end().lines().map(|line| format!("   {}\n", line.trim_end())).collect()
}
