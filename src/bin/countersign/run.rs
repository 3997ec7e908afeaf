//! Each verb at the binary's edge: its arguments handed to the library, its output written
//! (coloured for a person, plain for a pipe), and its outcome mapped to an exit code.

use std::io::{IsTerminal as _, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use countersign::gate::Keep;
use countersign::git::policy_source::{self, Flags, Location};
use countersign::git::{recorded, ref_updates};
use countersign::report::color::{self, Choice};
use countersign::report::{self, Audience, COMMITS_SHOWN, Decision};
use countersign::verbs::hook::{self, HookOptions};
use countersign::verbs::install::client::ClientOptions;
use countersign::verbs::install::{self, InstallOptions, Plan};
use countersign::verbs::{approve, lint, policy_test, provenance_report, rollback};
use countersign::verbs::{check, client};
use engine::policy::{Mode, Policy, render_findings};
use engine::verdict::{CommitStatus, Engine};
use git2::Repository;

use crate::cli::{Format, ReportFormat, RollbackFormat, Target};
use crate::{ERROR, FAIL, say};

/// `--color`, set once from the command line.
pub(crate) static COLOR: std::sync::OnceLock<Choice> = std::sync::OnceLock::new();

/// `text` for a person at `stream` (stdout or stderr): painted if `--color` says so.
pub(crate) fn for_person(text: &str, is_terminal: bool) -> String {
    let env = |name: &str| std::env::var(name).ok();
    match COLOR.get().copied().unwrap_or_default().paints(is_terminal, &env) {
        true => color::paint(text),
        false => text.to_string(),
    }
}

/// "checked N commit(s)" on stderr, redrawn at most every quarter second, only when stderr is
/// a terminal (never in CI logs or pipes; the hook has no progress at all).
pub(crate) struct Progress {
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

pub(crate) fn today() -> jiff::civil::Date {
    jiff::ZonedDateTime::now().date()
}

pub(crate) fn pre_receive(options: HookOptions) -> ExitCode {
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
pub(crate) fn refusal(message: &str, accept: bool) -> String {
    if !accept && std::env::var_os("GL_ID").is_some() {
        hook::for_gitlab(message)
    } else {
        message.to_string()
    }
}

/// `options.bin` is filled in here: the binary running install is the one the hooks run.
pub(crate) fn run_client_install(mut options: ClientOptions, dry_run: bool) -> anyhow::Result<ExitCode> {
    options.bin = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("finding this binary's path (the hooks run it)")?;
    let plan = install::client::plan_client_install(&options, today())?;
    carry_out(&plan, "install --client", dry_run)
}

/// The client's pre-push hook: a refusal only where the server would refuse; anything else,
/// an error or a panic included, lets the push through with a note (the server decides).
pub(crate) fn pre_push(flags: &Flags, remote: Option<String>) -> ExitCode {
    std::panic::set_hook(Box::new(|info| tracing::error!("panic: {info}")));
    let outcome = std::panic::catch_unwind(|| {
        let repo = match countersign::git::repo::open_for_hook() {
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
pub(crate) fn commit_msg(file: &Path) -> ExitCode {
    if let Ok(message) = std::fs::read_to_string(file) {
        say(&client::commit_msg_hook(&message, today()));
    }
    ExitCode::SUCCESS
}

/// `options.bin` is filled in here: the binary running install is the one the hook runs.
pub(crate) fn run_install(mut options: InstallOptions, dry_run: bool) -> anyhow::Result<ExitCode> {
    options.bin = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .context("finding this binary's path (the hook runs it)")?;
    let plan = install::plan_install(&options, today())?;
    carry_out(&plan, "install", dry_run)
}

/// Prints the plan's steps, then applies them unless `dry_run`.
pub(crate) fn carry_out(plan: &Plan, verb: &str, dry_run: bool) -> anyhow::Result<ExitCode> {
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
pub(crate) fn emit(text: &str) {
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush())
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        say(&format!("countersign: writing the output: {e}\n"));
    }
}

/// A writer whose reader may have gone: writes to a closed pipe succeed and go nowhere.
pub(crate) struct Unread<W>(W);

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

pub(crate) fn open(repo: &Path) -> anyhow::Result<Repository> {
    Ok(countersign::git::repo::open(repo)?)
}

/// The repository and its policy, for the verbs that read a repository.
pub(crate) fn prune_approvals(flags: &Flags, repo: &Path, dry_run: bool) -> anyhow::Result<ExitCode> {
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
pub(crate) fn open_with_policy(
    flags: &Flags,
    target: &Target,
) -> anyhow::Result<(Repository, Location, Policy)> {
    let repo = open(&target.repo)?;
    let location = policy_source::locate_in_clone(flags, &repo, None)?;
    let policy = policy_source::load(&location, &repo, today())?;
    Ok((repo, location, policy))
}

pub(crate) fn run_check(
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
pub(crate) fn judge_revisions(
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

pub(crate) fn run_explain(flags: Flags, target: &Target, commit: &str) -> anyhow::Result<ExitCode> {
    let (repo, _, policy) = open_with_policy(&flags, target)?;
    let engine = Engine::new(&policy, today());
    let verdict = check::explain(&repo, &engine, &target.refname, commit)?;
    let head = countersign::git::repo::resolve_ref(&repo, "HEAD").ok().flatten().map(|id| id.to_string());
    let text =
        report::explain(&verdict, &target.refname, &policy, head.as_deref() == Some(verdict.id.as_str()));
    emit(&for_person(&text, std::io::stdout().is_terminal()));
    Ok(if verdict.verdict == CommitStatus::Fail { ExitCode::from(FAIL) } else { ExitCode::SUCCESS })
}

pub(crate) fn run_report(
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
        ReportFormat::Html => emit(&provenance_report::html::render(&report)),
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run_rollback(
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

pub(crate) fn run_approve(options: approve::Options) -> anyhow::Result<ExitCode> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    // A closed pipe must not stop a signing half done: what is left to print goes nowhere.
    approve::run(&options, &mut stdin.lock(), &mut Unread(std::io::stdout()), interactive, today())?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn default_policy_file(file: Option<PathBuf>) -> PathBuf {
    file.or_else(|| std::env::var_os("COUNTERSIGN_POLICY").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("policy.toml"))
}

pub(crate) fn policy_check(file: Option<PathBuf>, repo: Option<&Path>) -> anyhow::Result<ExitCode> {
    let path = default_policy_file(file);
    let policy = match policy_source::load_file(&path, today()) {
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

pub(crate) fn run_policy_test(file: Option<PathBuf>, tests: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let path = default_policy_file(file);
    let policy = policy_source::load_file(&path, today())?;
    let tests = tests.unwrap_or_else(|| policy_test::default_path(&path));
    let suite = policy_test::Suite::load(&tests)?;
    let results = suite.run(&policy, today())?;
    emit(&for_person(&results.table(), std::io::stdout().is_terminal()));
    Ok(if results.all_pass() { ExitCode::SUCCESS } else { ExitCode::from(FAIL) })
}
