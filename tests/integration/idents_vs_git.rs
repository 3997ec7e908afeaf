//! Differential test: the author `countersign check` reports for a commit is the one git shows
//! (`%an`, `%ae`), for author lines of every shape a pusher can write (`git hash-object
//! --literally` stores them as given): two addresses, stray brackets, blanks of every kind.
//! libgit2 reads some of them otherwise, and the author is whose review never counts.

use std::collections::HashMap;

use crate::util::*;

const PIECES: &[&str] = &[
    "Bob",
    "bob@example.com",
    " ",
    "  ",
    "\t",
    "\r",
    "\x0b",
    "<",
    ">",
    "<<",
    ">>",
    "1700000000",
    "+0100",
    "-",
    "é",
];

/// A random name and email git can split (an `<` with a `>` after it), which libgit2 reads
/// too once a date follows (it ends in `>`, after its last `<`): libgit2 refuses the others
/// when it reads the commit, and the push with it (`an_author_line_only_git_can_read_is_refused`).
fn random_ident(rng: &mut XorShift) -> String {
    loop {
        let line: String = (0..1 + rng.below(9)).map(|_| PIECES[rng.below(PIECES.len())]).collect();
        let git_reads = line.find('<').is_some_and(|open| line[open..].contains('>'));
        let libgit2_reads = line.ends_with('>') && line.rfind('<').is_some_and(|open| open + 1 < line.len());
        if git_reads && libgit2_reads {
            return line;
        }
    }
}

#[test]
fn the_reported_author_is_the_one_git_shows() {
    let server = Server::new(POLICY);
    server.git_work(&["fetch", "-q", "origin"]);
    let tree = server.git_work(&["write-tree"]);
    let mut parent = server.head();
    let mut rng = XorShift(0x1de_475e_ed00_b0b5);
    let mut lines = vec!["Bob Dev <bob@example.com> <someone@elsewhere.org>".to_string()];
    lines.extend((0..150).map(|_| random_ident(&mut rng)));
    for (i, line) in lines.iter().enumerate() {
        let object = format!(
            "tree {}\nparent {parent}\nauthor {line} 1700000000 +0000\ncommitter {BOB} 1700000000 +0000\n\nChange {i}\n",
            tree.trim()
        );
        let id = server.git_stdin(
            &server.work,
            &["hash-object", "-t", "commit", "--literally", "-w", "--stdin"],
            object.as_bytes(),
        );
        parent = id.trim().to_string();
    }
    server.git_work(&["update-ref", "refs/heads/idents", &parent]);

    let git_log = server.git_work(&["log", "--format=%H%x00%an%x00%ae%x01", "origin/main..idents"]);
    let shown: HashMap<&str, (&str, &str)> = git_log
        .split('\x01')
        .filter_map(|record| {
            let mut fields = record.trim_start_matches('\n').split('\0');
            Some((fields.next()?, (fields.next()?, fields.next()?)))
        })
        .collect();
    assert_eq!(shown.len(), lines.len());

    let policy = server.bare.join("policy.toml");
    let output = std::process::Command::new(BIN)
        .args(["check", "--policy", policy.to_str().unwrap(), "--format", "json", "origin/main..idents"])
        .current_dir(&server.work)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let commits = report["refs"][0]["commits"].as_array().unwrap();
    assert_eq!(commits.len(), lines.len());
    for commit in commits {
        let id = commit["id"].as_str().unwrap();
        let reported =
            (commit["author"]["name"].as_str().unwrap(), commit["author"]["email"].as_str().unwrap());
        assert_eq!(
            reported,
            shown[id],
            "author line of {id}: {:?}",
            server.git_work(&["cat-file", "-p", id])
        );
    }
}
