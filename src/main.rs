//! The `countersign` binary: parse arguments, run, map the outcome to an exit code
//! (SPEC: 0 pass, 1 fail, 2 error). The hook path turns every error, and any panic, into a
//! refused push.

use std::io::{IsTerminal as _, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, CommandFactory as _, Parser, Subcommand, ValueEnum};
use countersign::check;
use countersign::gate::Keep;
use countersign::globs::{GlobKind, GlobList};
use countersign::hook::{self, HookOptions};
use countersign::install::{self, InstallOptions, Layout, Plan, PolicyChoice};
use countersign::policy::{Mode, Policy, render_findings};
use countersign::policy_source::{self, Flags, Location};
use countersign::report::{self, Audience, COMMITS_SHOWN, Decision};
use countersign::verdict::{CommitStatus, Engine};
use countersign::{approve, lint, policy_test, provenance_html, provenance_report, rollback};
use git2::Repository;

/// `--version`: the release and the commit it was built from.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("COUNTERSIGN_COMMIT"), ")");

/// Refuses pushes that land commits without the sign-offs your policy demands.
///
/// Diagnostics: -v (debug) or -vv (trace) on stderr, or a filter in COUNTERSIGN_LOG or RUST_LOG
/// (e.g. countersign=debug). Output never carries colour or other terminal codes.
#[derive(Parser)]
#[command(name = "countersign", version = VERSION, about, propagate_version = true)]
struct Cli {
    /// More diagnostics on stderr (-v debug, -vv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone, Default)]
struct PolicyFlags {
    /// Policy file (else --policy-ref, $COUNTERSIGN_POLICY, git config countersign.policy or
    /// countersign.policyRef).
    #[arg(long, value_name = "FILE", conflicts_with = "policy_ref")]
    policy: Option<PathBuf>,
    /// Policy committed in the repository, e.g. refs/heads/main:policy.toml (read as of before
    /// the push).
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
    /// `[override]` names (the repository needs `receive.advertisePushOptions=true`).
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
        #[arg(long, value_name = "DATE")]
        since: Option<jiff::civil::Date>,
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
        /// Repository (default: the current directory).
        #[arg(long, default_value = ".")]
        repo: PathBuf,
        #[arg(value_name = "COMMIT|RANGE")]
        target: String,
    },
    /// Runs a sandbox: a temporary bare repository with the example policy and the hook, and
    /// real `git push`es that are refused and accepted.
    Demo,
    /// Installs the hook on a repository: the hook file where the server runs it, and git config
    /// countersign.bin (this binary) and countersign.policy or countersign.policyRef. Validates the
    /// policy first; a second run changes nothing.
    Install {
        /// The repository (bare, as on a server).
        #[arg(long)]
        repo: PathBuf,
        /// Policy file on the server, referenced by its absolute path (not copied).
        #[arg(long, value_name = "FILE", conflicts_with = "policy_ref")]
        policy: Option<PathBuf>,
        /// Policy committed in the repository, e.g. refs/heads/main:policy.toml; the ref must exist.
        #[arg(long, value_name = "REF:PATH")]
        policy_ref: Option<String>,
        /// Where the server runs hooks.
        #[arg(long, value_enum, default_value_t = Layout::Plain)]
        layout: Layout,
        /// Keep a hook that is already there by moving it aside; it runs after countersign accepts.
        #[arg(long)]
        force: bool,
        /// Print what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Removes what install did: the hook (a hook it moved aside comes back) and the git config.
    Uninstall {
        #[arg(long)]
        repo: PathBuf,
        /// Print what would change, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Prints shell completions, e.g. `countersign completions bash > /etc/bash_completion.d/countersign`.
    Completions { shell: clap_complete::Shell },
    /// Prints the man page (roff), e.g. `countersign man | man -l -`.
    Man,
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

const FAIL: u8 = 1;
const ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing(cli.verbose);
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
        Command::Approve { key, yes, rewrite, repo, target } => {
            run_approve(approve::Options { repo, key, yes, target, rewrite })
        }
        Command::Demo => countersign::demo::run(&mut std::io::stdout()).map(|()| ExitCode::SUCCESS),
        Command::Install { repo, policy, policy_ref, layout, force, dry_run } => {
            let policy = match (policy, policy_ref) {
                (Some(file), _) => PolicyChoice::File(file),
                (None, Some(spec)) => PolicyChoice::Committed(spec),
                (None, None) => PolicyChoice::Keep,
            };
            run_install(repo, policy, layout, force, dry_run)
        }
        Command::Uninstall { repo, dry_run } => install::plan_uninstall(&repo)
            .map_err(Into::into)
            .and_then(|plan| carry_out(&plan, "uninstall", dry_run)),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "countersign", &mut std::io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut page).map_err(anyhow::Error::from).map(|()| {
                emit(&String::from_utf8_lossy(&page));
                ExitCode::SUCCESS
            })
        }
    };
    result.unwrap_or_else(|e| {
        eprintln!("countersign: {e:#}");
        ExitCode::from(ERROR)
    })
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
            eprint!("\rcountersign: checked {done} commit(s)");
            self.last = Instant::now();
            self.shown = true;
        }
    }

    /// Blanks the line again, so the report starts on a clean one.
    fn finish(&self) {
        if self.shown {
            eprint!("\r{:60}\r", "");
        }
    }
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

fn run_install(
    repo: PathBuf,
    policy: PolicyChoice,
    layout: Layout,
    force: bool,
    dry_run: bool,
) -> anyhow::Result<ExitCode> {
    let bin = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("finding this binary's path (the hook runs it)")?;
    let plan = install::plan_install(&InstallOptions { repo, policy, layout, force, bin }, today())?;
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
        eprintln!("countersign: writing the output: {e}");
    }
}

fn open(repo: &Path) -> anyhow::Result<Repository> {
    Ok(countersign::repo::open(repo)?)
}

/// The repository and its policy, for the verbs that read a repository.
fn open_with_policy(flags: &Flags, target: &Target) -> anyhow::Result<(Repository, Location, Policy)> {
    let repo = open(&target.repo)?;
    let location = policy_source::locate(flags, &repo)?;
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
        Format::Human => emit(&report::human(&report, Audience::Ci, enforced)),
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
    emit(&report::explain(&verdict, &target.refname, &policy));
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
    approve::run(&options, &mut stdin.lock(), &mut std::io::stdout(), interactive, today())?;
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
            eprintln!("{e}");
            return Ok(ExitCode::from(ERROR));
        }
    };
    let mut warnings = policy.warnings.clone();
    if let Some(repo) = repo {
        warnings.extend(lint::unmatched_path_globs(&policy, &open(repo)?)?);
    }
    if !warnings.is_empty() {
        eprintln!("{}", render_findings(&policy.source, &warnings));
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
    emit(&results.table());
    Ok(if results.all_pass() { ExitCode::SUCCESS } else { ExitCode::from(FAIL) })
}
