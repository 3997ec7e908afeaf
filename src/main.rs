//! The `countersign` binary: parse arguments, run, map the outcome to an exit code.
//! The hook path turns every error, and any panic, into a refused push.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use countersign::hook::{self, HookOptions};
use countersign::policy::Policy;

/// Refuses pushes that land commits without the sign-offs your policy demands.
#[derive(Parser)]
#[command(name = "countersign", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Git pre-receive hook: reads `<old> <new> <refname>` lines on stdin and refuses the push
    /// (exit 1) when a protected ref would get commits without the required approvals.
    PreReceive {
        /// Policy file (else $COUNTERSIGN_POLICY, else git config countersign.policy).
        #[arg(long)]
        policy: Option<PathBuf>,
        /// Report as usual but accept the push.
        #[arg(long)]
        dry_run: bool,
    },
    /// Policy tooling for admins.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Runs a sandbox: a temporary bare repository with the example policy and the hook, and
    /// real `git push`es that are refused and accepted.
    Demo,
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validates a policy file; every problem is reported with file:line:column (exit 2 if invalid).
    Check {
        /// Policy file (default: $COUNTERSIGN_POLICY, else ./policy.toml).
        file: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    countersign_tracing();
    let cli = Cli::parse();
    match cli.command {
        Command::PreReceive { policy, dry_run } => pre_receive(HookOptions { policy, dry_run }),
        Command::Policy { command: PolicyCommand::Check { file } } => policy_check(file),
        Command::Demo => match countersign::demo::run(&mut std::io::stdout()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("countersign demo: {e:#}");
                ExitCode::from(2)
            }
        },
    }
}

/// Diagnostics go to stderr, and only when asked: in the hook, stderr is the pusher's screen.
fn countersign_tracing() {
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .with_ansi(false)
            .init();
    }
}

fn today() -> jiff::civil::Date {
    jiff::ZonedDateTime::now().date()
}

fn pre_receive(options: HookOptions) -> ExitCode {
    // The default panic message would reach the pusher as noise; the refusal below says it.
    std::panic::set_hook(Box::new(|info| tracing::error!("panic: {info}")));
    let outcome =
        std::panic::catch_unwind(|| hook::pre_receive(&options, &mut std::io::stdin().lock(), today()));
    let mut stderr = std::io::stderr().lock();
    let accept = match outcome {
        Ok(Ok(outcome)) => {
            let _ = stderr.write_all(outcome.message.as_bytes());
            outcome.accept
        }
        Ok(Err(e)) => {
            let _ = writeln!(stderr, "countersign: push refused: {e}");
            false
        }
        Err(_) => {
            let _ = writeln!(
                stderr,
                "countersign: push refused: internal error (a bug in countersign; see the server log)"
            );
            false
        }
    };
    if accept { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn policy_check(file: Option<PathBuf>) -> ExitCode {
    let path = file
        .or_else(|| std::env::var_os("COUNTERSIGN_POLICY").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("policy.toml"));
    match Policy::load(&path, today()) {
        Ok(policy) => {
            for warning in &policy.warnings {
                eprintln!("{}", warning.display(&policy.source.path, &policy.source.text));
            }
            println!(
                "{}: valid ({} people, {} rules, {} warning(s))",
                path.display(),
                policy.people.len(),
                policy.rules.len(),
                policy.warnings.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
