//! The `countersign` binary: parse arguments, run, map the outcome to an exit code
//! (SPEC: 0 pass, 1 fail, 2 error). The hook path turns every error, and any panic, into a
//! refused push.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser};
use countersign::verbs::hook::HookOptions;
use countersign::verbs::install::client::ClientOptions;
use countersign::verbs::install::{self, InstallOptions, Layout, PolicyChoice};
use countersign::verbs::{approve, rollback};
use engine::globs::{GlobKind, GlobList};

mod cli;
mod run;

use cli::{ApprovalsCommand, Cli, Command, PolicyCommand};
use run::{
    COLOR, carry_out, commit_msg, emit, policy_check, pre_push, pre_receive, prune_approvals, run_approve,
    run_check, run_client_install, run_explain, run_install, run_policy_test, run_report, run_rollback,
};

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
        Command::Demo => countersign::verbs::demo::run(&mut std::io::stdout()).map(|()| ExitCode::SUCCESS),
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
            countersign::verbs::manpage::render(Cli::command()).map_err(anyhow::Error::from).map(|page| {
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
