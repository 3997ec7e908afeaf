//! Concurrent pushes on loopback into one bare repository: every verdict right, no ref moved by
//! a refused push, every decision in the audit log exactly once.
//!
//! The suite runs 20 pushes at once. The soak runs more, on demand:
//! `COUNTERSIGN_SOAK=2000 cargo test --release --test integration soak -- --ignored --nocapture`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::util::*;

struct Figures {
    pushes: usize,
    elapsed: Duration,
    /// Wrong verdicts, refs that moved when they should not, audit lines missing or doubled.
    failures: Vec<String>,
}

/// `pushes` pushes, `concurrency` at a time, each of one new commit to its own protected ref;
/// every other one is unreviewed and must be refused.
fn run_load(pushes: usize, concurrency: usize) -> Figures {
    let logs = tempfile::tempdir().unwrap();
    let log = logs.path().join("audit.jsonl");
    let server = Server::new(&format!("{POLICY}\n[audit]\npath = \"{}\"\n", log.display()));
    let tree = format!("{}^{{tree}}", server.head());
    let commits: Vec<(String, bool)> = (0..pushes)
        .map(|i| {
            let good = i % 2 == 0;
            let message = if good { format!("Change {i}\n\n{REVIEWED}\n") } else { format!("Change {i}\n") };
            let id = server.git_stdin(
                &server.work,
                &["commit-tree", &tree, "-p", "HEAD", "-F", "-"],
                message.as_bytes(),
            );
            (id.trim().to_string(), good)
        })
        .collect();
    let url = format!("file://{}", server.bare.display());
    let next = AtomicUsize::new(0);
    let outcomes = Mutex::new(HashMap::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..concurrency {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some((id, _)) = commits.get(i) else { break };
                    let refspec = format!("{id}:refs/heads/release/load-{i}");
                    let output = server.git_output(&server.work, &["push", "-q", &url, &refspec]);
                    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
                    outcomes.lock().unwrap().insert(i, (output.status.success(), stderr));
                }
            });
        }
    });
    let elapsed = started.elapsed();
    let outcomes = outcomes.into_inner().unwrap();
    let mut failures = Vec::new();
    let mut logged: HashMap<String, Vec<String>> = HashMap::new();
    for line in Server::audit_lines(&log) {
        let refname = line["refs"][0]["ref"].as_str().unwrap_or("?").to_string();
        logged.entry(refname).or_default().push(line["decision"].as_str().unwrap_or("?").to_string());
    }
    for (i, (id, good)) in commits.iter().enumerate() {
        let refname = format!("refs/heads/release/load-{i}");
        let (ok, stderr) = &outcomes[&i];
        let expected_refusal = stderr.contains("1 of 1 new commit(s) lacks approval");
        if *ok != *good || (!good && !expected_refusal) {
            failures.push(format!("push {i} (good: {good}) got ok = {ok}:\n{stderr}"));
        }
        let landed = server.server_ref(&refname);
        if landed.as_deref() != good.then_some(id.as_str()) {
            failures.push(format!(
                "{refname} is {landed:?} after a push that was {}",
                if *good { "good" } else { "bad" }
            ));
        }
        let decision = if *good { "accept" } else { "reject" };
        if logged.get(&refname).map(Vec::as_slice) != Some(&[decision.to_string()][..]) {
            failures.push(format!(
                "{refname}: audit log holds {:?}, expected one {decision}",
                logged.get(&refname)
            ));
        }
    }
    if logged.values().map(Vec::len).sum::<usize>() != pushes {
        failures.push(format!(
            "the audit log has {} lines for {pushes} pushes",
            logged.values().map(Vec::len).sum::<usize>()
        ));
    }
    Figures { pushes, elapsed, failures }
}

#[test]
fn twenty_concurrent_pushes_get_their_own_verdicts_and_one_audit_line_each() {
    let figures = run_load(20, 20);
    assert!(figures.failures.is_empty(), "{}", figures.failures.join("\n"));
}

#[test]
#[ignore = "soak: set COUNTERSIGN_SOAK=N (pushes) and run with --ignored"]
fn soak() {
    let pushes = std::env::var("COUNTERSIGN_SOAK").ok().and_then(|n| n.parse().ok()).unwrap_or(1000);
    let figures = run_load(pushes, 20);
    println!(
        "soak: {} pushes, 20 at a time, in {:.1?} ({:.1} pushes/s), {} failure(s)",
        figures.pushes,
        figures.elapsed,
        figures.pushes as f64 / figures.elapsed.as_secs_f64(),
        figures.failures.len()
    );
    assert!(figures.failures.is_empty(), "{}", figures.failures.join("\n"));
}
