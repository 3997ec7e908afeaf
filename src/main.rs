//! The `countersign` binary: parse arguments, run, map the outcome to an exit code
//! (SPEC: 0 pass, 1 fail, 2 error). The hook path turns every error, and any panic, into a
//! refused push.

use std::io::{IsTerminal as _, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, CommandFactory as _, Parser, Subcommand, ValueEnum};
use countersign::color::{self, Choice};
use countersign::gate::Keep;
use countersign::globs::{GlobKind, GlobList};
use countersign::hook::{self, HookOptions};
use countersign::install::{self, InstallOptions, Layout, Plan, PolicyChoice};
use countersign::install_client::{self, ClientOptions};
use countersign::policy::{Mode, Policy, render_findings};
use countersign::policy_source::{self, Flags, Location};
use countersign::report::{self, Audience, COMMITS_SHOWN, Decision};
use countersign::verdict::{CommitStatus, Engine};
use countersign::{
    approve, lint, policy_test, provenance_html, provenance_report, recorded, ref_updates, rollback,
};
use countersign::{check, client};
use git2::Repository;

/// `--version`: the release and the commit it was built from.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("COUNTERSIGN_COMMIT"), ")");

/// Refuses pushes that land commits without the sign-offs your policy demands.
///
/// Diagnostics: -v (debug) or -vv (trace) on stderr, or a filter in COUNTERSIGN_LOG or RUST_LOG
/// (e.g. countersign=debug). Colour only in a terminal (see --color); never in the hook.
#[derive(Parser)]
#[command(name = "countersign", version = VERSION, about, propagate_version = true)]
struct Cli {
    /// More diagnostics on stderr (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Colour the human reports of check, explain and policy: auto (a terminal, unless NO_COLOR
    /// is set or TERM=dumb), always, never. The hook never colours.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = Choice::Auto)]
    color: Choice,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone, Default)]
struct PolicyFlags {
    /// Policy file (else --policy-ref, $COUNTERSIGN_POLICY, git config countersign.policy or
    /// countersign.policyRef).
    #[arg(long, value_name = "FILE", conflicts_with = "policy_ref")]
    policy: Option<PathBuf>,
    /// Policy committed in the repository, as REF:PATH, e.g. refs/heads/main:policy.toml.
    #[arg(long, value_name = "REF:PATH")]
    policy_ref: Option<String>,
}

impl From<PolicyFlags> for Flags {
    fn from(flags: PolicyFlags) -> Flags {
        Flags { file: flags.policy, committed: flags.policy_ref }
    }
}

/// Which repository, and which ref its commits are judged as if pushed to.
#[derive(Args)]
struct Target {
    /// Repository (bare or not).
    #[arg(long, default_value = ".")]
    repo: PathBuf,
    /// The ref the commits would be pushed to (rules with `when.refs` depend on it).
    #[arg(long = "ref", value_name = "REFNAME", default_value = "refs/heads/main")]
    refname: String,
}

#[derive(Subcommand)]
enum Command {
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
enum ApprovalsCommand {
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
enum PolicyCommand {
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
enum Format {
    Human,
    Json,
    Markdown,
}

#[derive(Clone, Copy, ValueEnum)]
enum RollbackFormat {
    Human,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum ReportFormat {
    Human,
    Json,
    Csv,
    /// One self-contained page (inline SVG charts, no script, nothing fetched).
    Html,
}

/// `--color`, set once from the command line.
static COLOR: std::sync::OnceLock<Choice> = std::sync::OnceLock::new();

/// `text` for a person at `stream` (stdout or stderr): painted if `--color` says so.
fn for_person(text: &str, is_terminal: bool) -> String {
    let env = |name: &str| std::env::var(name).ok();
    match COLOR.get().copied().unwrap_or_default().paints(is_terminal, &env) {
        true => color::paint(text),
        false => text.to_string(),
    }
}

const FAIL: u8 = 1;
const ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
    let _ = COLOR.set(cli.color);
    let result = match cli.command {
        Command::PreReceive { policy, dry_run } => {
            return pre_receive(HookOptions { policy: policy.into(), dry_run });
        }
        Command::Check { policy, target, format, dry_run, revisions } => {
            run_check(policy.into(), &target, format, dry_run, &revisions)
        }
        Command::Explain { policy, target, commit } => run_explain(policy.into(), &target, &commit),
        Command::Report { policy, target, since, format, audit, revisions } => {
            run_report(policy.into(), &target, since, format, audit.as_deref(), &revisions)
        }
        Command::Rollback { policy, repo, since, until, ai_only, tool, paths, apply, format, revisions } => {
            let filters = (|| {
                let paths = match paths.is_empty() {
                    true => None,
                    false => Some(
                        GlobList::new(paths, GlobKind::Path)
                            .map_err(|(i, e)| anyhow::anyhow!("--path glob #{}: {e}", i + 1))?,
                    ),
                };
                Ok(rollback::Filters { since, until, ai_only, tool, paths })
            })();
            filters.and_then(|filters| {
                run_rollback(policy.into(), &repo, &filters, apply.as_deref(), format, &revisions)
            })
        }
        Command::Policy { command: PolicyCommand::Check { file, repo } } => {
            policy_check(file, repo.as_deref())
        }
        Command::Policy { command: PolicyCommand::Test { file, tests } } => run_policy_test(file, tests),
        Command::Approvals { command: ApprovalsCommand::Prune { policy, repo, dry_run } } => {
            prune_approvals(&policy.into(), &repo, dry_run)
        }
        Command::Approve { push: true, remote, login, repo, target, .. } => {
            let options = approve::RecordOptions { repo, remote, login, target };
            approve::record(&options, &mut std::io::stdout()).map(|()| ExitCode::SUCCESS).map_err(Into::into)
        }
        Command::Approve { key, yes, rewrite, repo, target, .. } => {
            run_approve(approve::Options { repo, key, yes, target, rewrite })
        }
        Command::Demo => countersign::demo::run(&mut std::io::stdout()).map(|()| ExitCode::SUCCESS),
        Command::Install { repo, client, policy, policy_ref, layout, force, dry_run, trial, enforce } => {
            let policy = match (policy, policy_ref) {
                (Some(file), _) => PolicyChoice::File(file),
                (None, Some(spec)) => PolicyChoice::Committed(spec),
                (None, None) => PolicyChoice::Keep,
            };
            let repo = repo.unwrap_or_else(|| PathBuf::from("."));
            if client {
                run_client_install(ClientOptions { repo, policy, force, bin: PathBuf::new() }, dry_run)
            } else {
                let trial = if trial { Some(true) } else { enforce.then_some(false) };
                let layout = layout.unwrap_or(Layout::Plain);
                run_install(
                    InstallOptions { repo, policy, layout, force, bin: PathBuf::new(), trial },
                    dry_run,
                )
            }
        }
        Command::PrePush { policy, remote, url: _ } => return pre_push(&policy.into(), remote),
        Command::CommitMsg { file } => return commit_msg(&file),
        Command::Uninstall { repo, dry_run } => install::plan_uninstall(&repo)
            .map_err(Into::into)
            .and_then(|plan| carry_out(&plan, "uninstall", dry_run)),
        Command::Completions { shell } => {
            // Into a buffer first: clap_complete panics on a write error (a closed pipe).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "countersign", &mut script);
            emit(&String::from_utf8_lossy(&script));
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            countersign::manpage::render(Cli::command()).map_err(anyhow::Error::from).map(|page| {
                emit(&page);
                ExitCode::SUCCESS
            })
        }
    };
    result.unwrap_or_else(|e| {
        // A closed pipe (`countersign demo | head -3`) is not an error: the reader has what it
        // wanted (ripgrep's rule).
        if e.chain().any(|cause| {
            cause.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
        }) {
            return ExitCode::SUCCESS;
        }
        say(&format!("countersign: {e:#}\n"));
        ExitCode::from(ERROR)
    })
}

/// Writes to stderr; a closed stderr is no reason to fail or panic (eprintln! would panic).
fn say(text: &str) {
    let _ = std::io::stderr().write_all(text.as_bytes());
}

/// Diagnostics go to stderr, and only when asked: in the hook, stderr is the pusher's screen.
/// A filter in COUNTERSIGN_LOG (else RUST_LOG) wins over -v.
fn init_tracing(verbose: u8) {
    let filter = ["COUNTERSIGN_LOG", "RUST_LOG"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .or(match verbose {
            0 => None,
            1 => Some("countersign=debug".into()),
            _ => Some("countersign=trace".into()),
        });
    if let Some(filter) = filter {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .init();
    }
}

/// "checked N commit(s)" on stderr, redrawn at most every quarter second, only when stderr is
/// a terminal (never in CI logs or pipes; the hook has no progress at all).
struct Progress {
    enabled: bool,
    last: Instant,
    shown: bool,
}

impl Progress {
    fn new() -> Self {
        Progress { enabled: std::io::stderr().is_terminal(), last: Instant::now(), shown: false }
    }

    /// A line every 250 ms; the first as soon as a thousand commits are done, so that a long
    /// check says at once that it is long.
    fn tick(&mut self, done: usize) {
        let due = self.last.elapsed() >= Duration::from_millis(250) || (!self.shown && done >= 1000);
        if self.enabled && due {
            say(&format!("\rcountersign: checked {done} commit(s)"));
            self.last = Instant::now();
            self.shown = true;
        }
    }

    /// Blanks the line again, so the report starts on a clean one.
    fn finish(&self) {
        if self.shown {
            say(&format!("\r{:60}\r", ""));
        }
    }
}

/// A date on the command line, with the format said once (as the policy says it).
fn parse_date(text: &str) -> Result<jiff::civil::Date, String> {
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

fn today() -> jiff::civil::Date {
    jiff::ZonedDateTime::now().date()
}

fn pre_receive(options: HookOptions) -> ExitCode {
    // The default panic message would reach the pusher as noise; the refusal below says it.
    std::panic::set_hook(Box::new(|info| tracing::error!("panic: {info}")));
    let outcome = std::panic::catch_unwind(|| {
        hook::pre_receive(&options, &mut std::io::stdin().lock(), &|name| std::env::var_os(name), today())
    });
    let mut stderr = std::io::stderr().lock();
    let accept = match outcome {
        Ok(Ok(outcome)) => {
            let _ = stderr.write_all(refusal(&outcome.message, outcome.accept).as_bytes());
            outcome.accept
        }
        Ok(Err(e)) => {
            let _ = stderr.write_all(refusal(&format!("countersign: push refused: {e}\n"), false).as_bytes());
            false
        }
        Err(_) => {
            let message =
                "countersign: push refused: internal error (a bug in countersign; see the server log)\n";
            let _ = stderr.write_all(refusal(message, false).as_bytes());
            false
        }
    };
    if accept { ExitCode::SUCCESS } else { ExitCode::from(FAIL) }
}

/// The hook's message as the server expects it: under GitLab (Gitaly sets GL_ID), a refusal's
/// key line carries the prefix that shows it in the web UI.
fn refusal(message: &str, accept: bool) -> String {
    if !accept && std::env::var_os("GL_ID").is_some() {
        hook::for_gitlab(message)
    } else {
        message.to_string()
    }
}

/// `options.bin` is filled in here: the binary running install is the one the hooks run.
fn run_client_install(mut options: ClientOptions, dry_run: bool) -> anyhow::Result<ExitCode> {
    options.bin = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("finding this binary's path (the hooks run it)")?;
    let plan = install_client::plan_client_install(&options, today())?;
    carry_out(&plan, "install --client", dry_run)
}

/// The client's pre-push hook: a refusal only where the server would refuse; anything else,
/// an error or a panic included, lets the push through with a note (the server decides).
fn pre_push(flags: &Flags, remote: Option<String>) -> ExitCode {
    std::panic::set_hook(Box::new(|info| tracing::error!("panic: {info}")));
    let outcome = std::panic::catch_unwind(|| {
        let repo = match countersign::repo::open_for_hook() {
            Ok(repo) => repo,
            Err(e) => return client::Outcome::unchecked(e),
        };
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let input = match remote {
            Some(_) => {
                let mut input = Vec::new();
                std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut input)
                    .map_err(|e| format!("reading git's pre-push input: {e}"))
                    .map(|_| input)
            }
            None if env("PRE_COMMIT_REMOTE_NAME").is_some() => {
                client::pre_commit_input(&repo, &env("PRE_COMMIT_REMOTE_NAME").unwrap_or_default(), &env)
            }
            None => {
                Err("no remote named (git passes it; so does pre-commit, as PRE_COMMIT_REMOTE_NAME)".into())
            }
        };
        let remote = remote.or_else(|| env("PRE_COMMIT_REMOTE_NAME")).unwrap_or_default();
        match input {
            Ok(input) => client::pre_push(&repo, flags, &remote, &input, today()),
            Err(why) => client::Outcome::unchecked(why),
        }
    })
    .unwrap_or_else(|_| client::Outcome::unchecked("internal error (a bug in countersign)"));
    say(&outcome.message);
    if outcome.block { ExitCode::from(FAIL) } else { ExitCode::SUCCESS }
}

/// The client's commit-msg hook: warnings only, exit 0 whatever happens.
fn commit_msg(file: &Path) -> ExitCode {
    if let Ok(message) = std::fs::read_to_string(file) {
        say(&client::commit_msg_hook(&message, today()));
    }
    ExitCode::SUCCESS
}

/// `options.bin` is filled in here: the binary running install is the one the hook runs.
fn run_install(mut options: InstallOptions, dry_run: bool) -> anyhow::Result<ExitCode> {
    options.bin = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("finding this binary's path (the hook runs it)")?;
    let plan = install::plan_install(&options, today())?;
    carry_out(&plan, "install", dry_run)
}

/// Prints the plan's steps, then applies them unless `dry_run`.
fn carry_out(plan: &Plan, verb: &str, dry_run: bool) -> anyhow::Result<ExitCode> {
    let mut out = format!("countersign {verb}: {}\n", plan.git_dir.display());
    for note in &plan.notes {
        out.push_str(&format!("  {note}\n"));
    }
    for step in &plan.steps {
        out.push_str(&format!("  {step}\n"));
    }
    out.push_str(match (plan.steps.is_empty(), dry_run) {
        (true, _) => "nothing to change\n",
        (false, true) => "dry run: nothing changed\n",
        (false, false) => "done\n",
    });
    if !dry_run {
        plan.apply()?;
    }
    emit(&out);
    Ok(ExitCode::SUCCESS)
}

/// Writes a command's output. A closed pipe (`countersign check ... | head`) is not an error:
/// the reader has what it wanted.
fn emit(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        say(&format!("countersign: writing the output: {e}\n"));
    }
}

/// A writer whose reader may have gone: writes to a closed pipe succeed and go nowhere.
struct Unread<W>(W);

impl<W: Write> Write for Unread<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self.0.write(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(buf.len()),
            other => other,
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self.0.flush() {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => other,
        }
    }
}

fn open(repo: &Path) -> anyhow::Result<Repository> {
    Ok(countersign::repo::open(repo)?)
}

/// The repository and its policy, for the verbs that read a repository.
fn prune_approvals(flags: &Flags, repo: &Path, dry_run: bool) -> anyhow::Result<ExitCode> {
    let repo = open(repo)?;
    let location = policy_source::locate(flags, &repo)?;
    let policy = policy_source::load(&location, &repo, today())?;
    let committed_at = match &location {
        Location::Committed { refname, .. } => Some(refname.as_str()),
        Location::File(_) => None,
    };
    let tips = ref_updates::resolve(&repo, &policy, committed_at, &[], None)?.protected_tips;
    let tips: Vec<git2::Oid> = tips.into_iter().map(|(_, tip)| tip).collect();
    let landed = recorded::landed(&repo, &tips)?;
    let mut out: String = landed.iter().map(|name| format!("{name}\n")).collect();
    out.push_str(&match dry_run {
        true => format!("dry run: {} approval(s) of landed changes would be deleted\n", landed.len()),
        false => format!("deleted {} approval(s) of landed changes\n", landed.len()),
    });
    if !dry_run && !landed.is_empty() {
        recorded::delete(&repo, &landed)?;
    }
    emit(&out);
    Ok(ExitCode::SUCCESS)
}

/// In a clone without a configured policy, the one committed on the remote's default branch.
fn open_with_policy(flags: &Flags, target: &Target) -> anyhow::Result<(Repository, Location, Policy)> {
    let repo = open(&target.repo)?;
    let location = policy_source::locate_in_clone(flags, &repo, None)?;
    let policy = policy_source::load(&location, &repo, today())?;
    Ok((repo, location, policy))
}

fn run_check(
    flags: Flags,
    target: &Target,
    format: Format,
    dry_run: bool,
    revisions: &[String],
) -> anyhow::Result<ExitCode> {
    let (repo, location, policy) = open_with_policy(&flags, target)?;
    let engine = Engine::new(&policy, today());
    // A person reads the human report: it shows a few failing commits and counts the rest.
    let keep = if matches!(format, Format::Human) { Keep::FirstFindings(COMMITS_SHOWN) } else { Keep::All };
    let report = judge_revisions(&repo, &engine, &location, target, revisions, keep)?;
    let enforced = !dry_run && policy.gate.mode == Mode::Enforce;
    match format {
        Format::Human => emit(&for_person(
            &report::human(&report, Audience::Ci, enforced),
            std::io::stdout().is_terminal(),
        )),
        Format::Json => emit(&format!("{}\n", report.to_json())),
        Format::Markdown => emit(&report::markdown(&report, enforced)),
    }
    let failed = report.decision() == Decision::Reject && enforced;
    // The process ends now: handing 100,000 verdicts and libgit2's caches back to the
    // allocator one by one would cost a fifth of a large check, for nothing.
    std::mem::forget((report, repo));
    Ok(if failed { ExitCode::from(FAIL) } else { ExitCode::SUCCESS })
}

/// The commits `git rev-list REVISIONS` lists, judged as if pushed to `--ref`, with a
/// progress line in a terminal (`check` and `report`).
fn judge_revisions(
    repo: &Repository,
    engine: &Engine<'_>,
    location: &Location,
    target: &Target,
    revisions: &[String],
    keep: Keep,
) -> anyhow::Result<report::Report> {
    let revisions = check::resolve(repo, revisions)?;
    let mut progress = Progress::new();
    let report =
        check::check(repo, engine, location, &target.refname, &revisions, keep, &mut |n| progress.tick(n))?;
    progress.finish();
    Ok(report)
}

fn run_explain(flags: Flags, target: &Target, commit: &str) -> anyhow::Result<ExitCode> {
    let (repo, _, policy) = open_with_policy(&flags, target)?;
    let engine = Engine::new(&policy, today());
    let verdict = check::explain(&repo, &engine, &target.refname, commit)?;
    let head = countersign::repo::resolve_ref(&repo, "HEAD").ok().flatten().map(|id| id.to_string());
    let text =
        report::explain(&verdict, &target.refname, &policy, head.as_deref() == Some(verdict.id.as_str()));
    emit(&for_person(&text, std::io::stdout().is_terminal()));
    Ok(if verdict.verdict == CommitStatus::Fail { ExitCode::from(FAIL) } else { ExitCode::SUCCESS })
}

fn run_report(
    flags: Flags,
    target: &Target,
    since: Option<jiff::civil::Date>,
    format: ReportFormat,
    audit: Option<&Path>,
    revisions: &[String],
) -> anyhow::Result<ExitCode> {
    let landings = match audit {
        Some(path) => {
            let log = std::fs::read_to_string(path)
                .with_context(|| format!("reading the audit log {}", path.display()))?;
            let landings = provenance_report::Landings::parse(&log);
            if landings.unreadable > 0 {
                eprintln!(
                    "countersign: {} line(s) of {} are not audit records",
                    landings.unreadable,
                    path.display()
                );
            }
            landings
        }
        None => provenance_report::Landings::default(),
    };
    let (repo, location, policy) = open_with_policy(&flags, target)?;
    let engine = Engine::new(&policy, today());
    let verdicts = judge_revisions(&repo, &engine, &location, target, revisions, Keep::All)?;
    let report = provenance_report::build(&verdicts, &policy, since, &landings);
    match format {
        ReportFormat::Human => emit(&report.human()),
        ReportFormat::Json => emit(&format!("{}\n", serde_json::to_string_pretty(&report)?)),
        ReportFormat::Csv => emit(&report.csv()),
        ReportFormat::Html => emit(&provenance_html::render(&report)),
    }
    Ok(ExitCode::SUCCESS)
}

fn run_rollback(
    flags: Flags,
    repo: &Path,
    filters: &rollback::Filters,
    apply: Option<&str>,
    format: RollbackFormat,
    revisions: &[String],
) -> anyhow::Result<ExitCode> {
    let repo = open(repo)?;
    let location = policy_source::locate(&flags, &repo)?;
    let policy = policy_source::load(&location, &repo, today())?;
    let plan = rollback::plan(&repo, &policy, revisions, filters, apply)?;
    match format {
        RollbackFormat::Human => emit(&plan.human()),
        RollbackFormat::Json => emit(&format!("{}\n", serde_json::to_string_pretty(&plan)?)),
    }
    Ok(ExitCode::SUCCESS)
}

fn run_approve(options: approve::Options) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    // A closed pipe must not stop a signing half done: what is left to print goes nowhere.
    approve::run(&options, &mut stdin.lock(), &mut Unread(std::io::stdout()), interactive, today())?;
    Ok(ExitCode::SUCCESS)
}

fn default_policy_file(file: Option<PathBuf>) -> PathBuf {
    file.or_else(|| std::env::var_os("COUNTERSIGN_POLICY").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("policy.toml"))
}

fn policy_check(file: Option<PathBuf>, repo: Option<&Path>) -> anyhow::Result<ExitCode> {
    let path = default_policy_file(file);
    let policy = match Policy::load(&path, today()) {
        Ok(policy) => policy,
        Err(e) => {
            say(&for_person(&format!("{e}\n"), std::io::stderr().is_terminal()));
            return Ok(ExitCode::from(ERROR));
        }
    };
    let mut warnings = policy.warnings.clone();
    if let Some(repo) = repo {
        let repo = open(repo)?;
        warnings.extend(lint::unmatched_path_globs(&policy, &repo)?);
        if let Some(location) = policy_source::configured(&repo)? {
            warnings.extend(lint::unguarded_committed_policy(&policy, &location, today()));
        }
    }
    if !warnings.is_empty() {
        let findings = format!("{}\n", render_findings(&policy.source, &warnings));
        say(&for_person(&findings, std::io::stderr().is_terminal()));
    }
    emit(&format!(
        "{}: valid ({} people, {} rules, {} warning(s))\n",
        path.display(),
        policy.people.len(),
        policy.rules.len(),
        warnings.len()
    ));
    Ok(ExitCode::SUCCESS)
}

fn run_policy_test(file: Option<PathBuf>, tests: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let path = default_policy_file(file);
    let policy = Policy::load(&path, today())?;
    let tests = tests.unwrap_or_else(|| policy_test::default_path(&path));
    let suite = policy_test::Suite::load(&tests)?;
    let results = suite.run(&policy, today())?;
    emit(&for_person(&results.table(), std::io::stdout().is_terminal()));
    Ok(if results.all_pass() { ExitCode::SUCCESS } else { ExitCode::from(FAIL) })
}
