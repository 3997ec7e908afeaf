//! `[gate] max_commits` and `max_seconds`: past either, a push is refused with the reason, and
//! never accepted because judging it took too long.

use crate::util::*;

fn with_gate(lines: &str) -> String {
    POLICY.replacen("[gate]\n", &format!("[gate]\n{lines}\n"), 1)
}

#[test]
fn a_push_past_max_commits_is_refused_unread() {
    let server = Server::new(&with_gate("max_commits = 3"));
    let main = server.server_ref("refs/heads/main").unwrap();
    server.reviewed_commits(4);
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &["refs/heads/main: brings more than 3 new commits ([gate] max_commits)"],
        &main,
    );
    server.git_work(&["reset", "-q", "--hard", "HEAD~1"]);
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
}

/// Past one batch the hook judges on every core, each thread opening the repository from the
/// hook's environment: the pushed commits are still in quarantine, and must be found.
#[test]
fn a_push_judged_by_several_threads_sees_the_quarantined_commits_and_keeps_the_limit() {
    let server = Server::new(&with_gate("max_commits = 600"));
    let main = server.server_ref("refs/heads/main").unwrap();
    server.reviewed_commits(601);
    let refused = server.push(&["origin", "main"]);
    assert_refused(&server, &refused, &["brings more than 600 new commits"], &main);
    server.git_work(&["reset", "-q", "--hard", "HEAD~1"]);
    let accepted = server.push(&["origin", "main"]);
    assert_accepted(&server, &accepted, "refs/heads/main");
    assert!(accepted.stderr.contains("push accepted: 600 new commit(s) checked"), "{}", accepted.stderr);
}

#[test]
fn a_push_not_judged_within_max_seconds_is_refused() {
    let server = Server::new(&with_gate("max_seconds = 0.000001"));
    let main = server.server_ref("refs/heads/main").unwrap();
    server.reviewed_commits(1);
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &["refs/heads/main: could not be judged within 1µs ([gate] max_seconds), so nothing was accepted"],
        &main,
    );
}

/// The pusher chooses how many parents a commit has; the tree walk holds every parent's
/// listing at once, so a merge of very many is refused instead of judged.
#[test]
fn a_merge_of_more_than_128_parents_is_refused() {
    let server = Server::new(POLICY);
    let main = server.server_ref("refs/heads/main").unwrap();
    let head = server.head();
    let mut stream = String::new();
    for i in 1..=129 {
        let message = format!("Side {i}\n\n{REVIEWED}\n");
        stream.push_str(&format!(
            "commit refs/heads/side{i}\nmark :{i}\ncommitter {BOB} 1700000000 +0000\ndata {}\n{message}\
             from {head}\nM 100644 inline app/side{i}.rs\ndata 2\nx\n\n",
            message.len()
        ));
    }
    let message = format!("Merge everything\n\n{REVIEWED}\n");
    stream.push_str(&format!(
        "commit refs/heads/main\ncommitter {BOB} 1700000000 +0000\ndata {}\n{message}from :1\n",
        message.len()
    ));
    for i in 2..=129 {
        stream.push_str(&format!("merge :{i}\n"));
    }
    stream.push('\n');
    server.git_stdin(&server.work, &["fast-import", "--quiet", "--force"], stream.as_bytes());
    server.git_work(&["reset", "-q", "--hard", "main"]);
    let push = server.push(&["origin", "main"]);
    assert!(!push.ok, "{}", push.stderr);
    assert!(
        push.stderr.contains("merges 129 parents: countersign judges merges of at most 128"),
        "{}",
        push.stderr
    );
    assert_eq!(server.server_ref("refs/heads/main"), Some(main), "main moved");
}
