//! The command line: every verb, its arguments and their help text (which is also the man
//! page's). Parsing only; `main` runs what it parses.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use countersign::git::policy_source::Flags;
use countersign::report::color::Choice;
use countersign::verbs::install::Layout;

/// `--version`: the release and the commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("COUNTERSIGN_COMMIT"), ")");

/// Refuses pushes that land commits without the sign-offs your policy demands.
///
/// Diagnostics: -v (debug) or -vv (trace) on stderr, or a filter in COUNTERSIGN_LOG or RUST_LOG
/// (e.g. countersign=debug). Colour only in a terminal (see --color); never in the hook.
#[derive(Parser)]
#[command(name = "countersign", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    /// More diagnostics on stderr (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Colour the human reports of check, explain and policy: auto (a terminal, unless NO_COLOR
    /// is set or TERM=dumb), always, never. The hook never colours.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = Choice::Auto)]
    pub color: Choice,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Args, Clone, Default)]
pub struct PolicyFlags {
    /// Policy file (else --policy-ref, $COUNTERSIGN_POLICY, git config countersign.policy or
    /// countersign.policyRef).
    #[arg(long, value_name = "FILE", conflicts_with = "policy_ref")]
    pub policy: Option<PathBuf>,
    /// Policy committed in the repository, as REF:PATH, e.g. refs/heads/main:policy.toml.
    #[arg(long, value_name = "REF:PATH")]
    pub policy_ref: Option<String>,
}

impl From<PolicyFlags> for Flags {
    fn from(flags: PolicyFlags) -> Flags {
        Flags { file: flags.policy, committed: flags.policy_ref }
    }
}

/// Which repository, and which ref its commits are judged as if pushed to.
#[derive(Args)]
pub struct Target {
    /// Repository (bare or not).
    #[arg(long, default_value = ".")]
    pub repo: PathBuf,
    /// The ref the commits would be pushed to (rules with `when.refs` depend on it).
    #[arg(long = "ref", value_name = "REFNAME", default_value = "refs/heads/main")]
    pub refname: String,
}

#[derive(Subcommand)]
pub enum Command {
    /// Git pre-receive hook: reads `<old> <new> <refname>` lines on stdin and refuses the push
    /// (exit 1) when a protected ref would get commits without the required approvals.
    /// Break-glass: `git push -o countersign.override="reason"` by a person the policy's
    /// `[override]` names (the repository needs `receive.advertisePushOptions=true`). A policy
    /// given by --policy-ref is read at the ref's value before the push, so a push cannot change
    /// the policy that judges it.
    PreReceive {
        #[command(flatten)]
        policy: PolicyFlags,
        /// Report as usual but accept the push.
        #[arg(long)]
        dry_run: bool,
    },
    /// CI mode: judges the commits `git rev-list REVISION...` lists (e.g. origin/main..HEAD) as
    /// if pushed to --ref. Exit 0 all pass, 1 some fail, 2 error.
    Check {
        #[command(flatten)]
        policy: PolicyFlags,
        #[command(flatten)]
        target: Target,
        /// human (a person's report), json (every commit, every field), markdown (a CI summary).
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Report as usual but exit 0 unless something went wrong.
        #[arg(long)]
        dry_run: bool,
        /// Revisions as git rev-list takes them: A..B, A...B, ^A, A.
        #[arg(required = true, value_name = "REVISION")]
        revisions: Vec<String>,
    },
    /// One commit, every rule: which applied and why, each approval found and why it counted
    /// or not, the AI evidence, the paths that matched, and what would make it pass.
    Explain {
        #[command(flatten)]
        policy: PolicyFlags,
        #[command(flatten)]
        target: Target,
        /// The commit, as git names it (HEAD, HEAD~2, a commit id).
        commit: String,
    },
    /// Provenance report for audits: per month, author and tool, how many commits were
    /// AI-assisted and how many of those carried the sign-off the policy asks.
    Report {
        #[command(flatten)]
        policy: PolicyFlags,
        #[command(flatten)]
        target: Target,
        /// Only commits made on or after this date (committer date, UTC), e.g. 2026-01-01.
        #[arg(long, value_name = "DATE", value_parser = parse_date)]
        since: Option<jiff::civil::Date>,
        /// human (a table), json, csv (one row per month, author and tool).
        #[arg(long, value_enum, default_value_t = ReportFormat::Human)]
        format: ReportFormat,
        /// The hook's audit log (a copy of `[audit] path`): says which commits landed by whose
        /// override, or while the gate was not enforcing.
        #[arg(long, value_name = "FILE")]
        audit: Option<PathBuf>,
        /// Revisions as git rev-list takes them, e.g. main or v1.0..main.
        #[arg(required = true, value_name = "REVISION")]
        revisions: Vec<String>,
    },
    /// Plans the revert of what landed in a window (newest first, with each commit's AI
    /// provenance and whether it reverts cleanly after the ones before it); --apply writes the
    /// clean reverts to a new branch, to push for review. Merges are reported, not reverted.
    Rollback {
        #[command(flatten)]
        policy: PolicyFlags,
        /// Repository (a clone: --apply refuses a bare one).
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// Only commits made on or after this date (committer date, UTC).
        #[arg(long, value_name = "DATE")]
        since: Option<jiff::civil::Date>,
        /// Only commits made on or before this date (committer date, UTC).
        #[arg(long, value_name = "DATE")]
        until: Option<jiff::civil::Date>,
        /// Only AI-assisted commits.
        #[arg(long)]
        ai_only: bool,
        /// Only commits with evidence of this tool (as reports name it, e.g. "Claude Code", or
        /// part of that name, case-insensitive: "claude").
        #[arg(long, value_name = "NAME")]
        tool: Option<String>,
        /// Only commits changing a path this glob matches (repeatable).
        #[arg(long = "path", value_name = "GLOB")]
        paths: Vec<String>,
        /// Write the clean reverts as commits on this new branch (never an existing one).
        #[arg(long, value_name = "BRANCH")]
        apply: Option<String>,
        #[arg(long, value_enum, default_value_t = RollbackFormat::Human)]
        format: RollbackFormat,
        /// Revisions as git rev-list takes them, e.g. main or v1.0..main; the reverts go on top
        /// of the first.
        #[arg(value_name = "REVISION", default_value = "HEAD")]
        revisions: Vec<String>,
    },
    /// Policy tooling for admins.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Recorded approvals (refs/countersign/approvals/), for admins.
    Approvals {
        #[command(subcommand)]
        command: ApprovalsCommand,
    },
    /// For a reviewer: signs an approval of COMMIT (or of each commit of a RANGE such as
    /// main..topic) with your SSH key, through `ssh-keygen -Y sign`. Shows what you approve and
    /// asks first; amends HEAD, or prints the trailers to add to an older commit, or with
    /// --rewrite rewrites a range that ends at HEAD.
    Approve {
        /// SSH key to sign with (default: git config user.signingkey); a public key file works
        /// when its private half is in ssh-agent.
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// Sign without asking.
        #[arg(long)]
        yes: bool,
        /// Rewrite each commit of RANGE (it must end at HEAD, without merges, on a clean working
        /// tree) with its signed approval, as git rebase would, and move the branch to the result.
        #[arg(long)]
        rewrite: bool,
        /// Record the approval on the server instead of signing it: push
        /// refs/countersign/approvals/<patch-id>/<login> for each change, as your server login.
        #[arg(long, conflicts_with_all = ["key", "yes", "rewrite"])]
        push: bool,
        /// With --push: the remote to record on.
        #[arg(long, default_value = "origin", requires = "push")]
        remote: String,
        /// With --push: your login on the server (default: git config countersign.login).
        #[arg(long, requires = "push")]
        login: Option<String>,
        /// Repository (default: the current directory).
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// The commit to approve, or a range of them (`main..topic`).
        #[arg(value_name = "COMMIT|RANGE")]
        target: String,
    },
    /// Runs a sandbox: a temporary bare repository with the example policy and the hook, and
    /// real `git push`es that are refused and accepted.
    Demo,
    /// Installs the hook on a repository: the hook file where the server runs it, and git config
    /// countersign.bin (this binary) and countersign.policy or countersign.policyRef. Validates the
    /// policy first; a second run changes nothing. With --client, in a developer's clone: the
    /// pre-push and commit-msg hooks that tell a developer what the server will say, ahead of the push.
    Install {
        /// The repository (bare, as on a server; with --client, the clone, default: here).
        #[arg(long, required_unless_present = "client")]
        repo: Option<PathBuf>,
        /// In a clone: pre-push (refuses locally what the server would refuse, never more) and
        /// commit-msg (warns about approval look-alikes) hooks, where core.hooksPath says.
        /// Without --policy or --policy-ref, the policy committed on the remote's default branch.
        #[arg(long, conflicts_with_all = ["trial", "enforce", "layout"])]
        client: bool,
        /// Policy file on the server, referenced by its absolute path (not copied).
        #[arg(long, value_name = "FILE", conflicts_with = "policy_ref")]
        policy: Option<PathBuf>,
        /// Policy committed in the repository, e.g. refs/heads/main:policy.toml (in a clone, the
        /// remote-tracking ref: refs/remotes/origin/main:policy.toml); the ref must exist.
        #[arg(long, value_name = "REF:PATH")]
        policy_ref: Option<String>,
        /// Where the server runs hooks (default: plain).
        #[arg(long, value_enum)]
        layout: Option<Layout>,
        /// Keep a hook that is already there by moving it aside; it runs after countersign accepts.
        #[arg(long)]
        force: bool,
        /// Print what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Trial mode: the hook reports every push and refuses none (git config
        /// countersign.trial); re-running install keeps it until --enforce.
        #[arg(long, conflicts_with = "enforce")]
        trial: bool,
        /// End trial mode: the hook refuses what the policy refuses.
        #[arg(long)]
        enforce: bool,
    },
    /// Git pre-push hook of a clone (`install --client`): judges what is about to be pushed as the
    /// server would, with its policy as last fetched; exit 1 only where the server would refuse.
    PrePush {
        #[command(flatten)]
        policy: PolicyFlags,
        /// The remote's name, as git passes it (under the pre-commit framework: from
        /// PRE_COMMIT_REMOTE_NAME, the push from its other PRE_COMMIT_* variables).
        remote: Option<String>,
        /// The remote's URL, as git passes it.
        url: Option<String>,
    },
    /// Git commit-msg hook of a clone (`install --client`): warns about lines that look like
    /// approvals but are not counted. Never fails.
    CommitMsg {
        /// The message file git passes.
        file: PathBuf,
    },
    /// Removes what install did: the hook (a hook it moved aside comes back) and the git config.
    Uninstall {
        /// The repository countersign was installed on.
        #[arg(long)]
        repo: PathBuf,
        /// Print what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Prints shell completions, e.g. `countersign completions bash > /etc/bash_completion.d/countersign`.
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
    /// Prints the man page (roff), e.g. `countersign man | man -l -`.
    Man,
}

#[derive(Subcommand)]
pub enum ApprovalsCommand {
    /// Deletes the recorded approvals of changes that have landed (whose commit a protected ref
    /// reaches): they are needed no more.
    Prune {
        #[command(flatten)]
        policy: PolicyFlags,
        /// Repository (default: the current directory).
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        /// List what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Subcommand)]
pub enum PolicyCommand {
    /// Validates a policy: every problem with file:line:column (exit 2 if invalid).
    Check {
        /// Policy file (default: $COUNTERSIGN_POLICY, else ./policy.toml).
        file: Option<PathBuf>,
        /// Also warn about `when.paths` globs that match nothing in this repository's HEAD.
        #[arg(long)]
        repo: Option<PathBuf>,
    },
    /// Runs the policy's test cases through the real engine (exit 1 on any mismatch).
    Test {
        /// Policy file (default: $COUNTERSIGN_POLICY, else ./policy.toml).
        file: Option<PathBuf>,
        /// Test cases (default: the policy's name with .tests.toml, e.g. policy.tests.toml).
        #[arg(long)]
        tests: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RollbackFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ReportFormat {
    Human,
    Json,
    Csv,
    /// One self-contained page (inline SVG charts, no script, nothing fetched).
    Html,
}

/// A date on the command line, with the format said once (as the policy says it).
pub fn parse_date(text: &str) -> Result<jiff::civil::Date, String> {
    let wrong = || "expected a date written as 2026-03-10 (year-month-day)".to_string();
    let well_formed = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !well_formed {
        return Err(wrong());
    }
    text.parse().map_err(|_| wrong())
}
