//! Differential test of commit selection: the commits judged for a range must be exactly those
//! reachable from its tips and from none of its exclusions, however history is read. The
//! oracle is the generated history itself (reachability over the parents it was built with).
//!
//! History is read from the commits where the repository has no commit-graph, and through the
//! graph where it has one; the graph may hold all of history, only its older part (newer
//! commits are then read from their objects, as pushed commits always are), or be a split chain.
//! Committer dates lie (they jump back by days), so a walk that trusted dates to know when
//! to stop would be caught out.

use std::collections::{BTreeSet, HashSet};
use std::fs;

use crate::util::{BIN, BOB, Server, XorShift};

/// Commits in the generated history.
const COMMITS: usize = 400;

/// Ranges checked per way of reading history.
const RANGES: usize = 20;

const POLICY: &str = r#"
version = 1
[gate]
protected = ["refs/heads/main", "refs/heads/release/**"]
[[person]]
name = "Bob Dev"
emails = ["bob@example.com"]
[[rule]]
name = "two-person review"
"#;

/// A random history: branches that grow, merge (octopus now and then) and start afresh.
struct Dag {
    parents: Vec<Vec<usize>>,
}

impl Dag {
    fn generate(rng: &mut XorShift) -> Dag {
        let mut parents: Vec<Vec<usize>> = Vec::new();
        let mut heads: Vec<usize> = Vec::new();
        for commit in 0..COMMITS {
            let roll = rng.below(100);
            let mine = if heads.is_empty() || roll < 3 {
                heads.push(commit);
                Vec::new()
            } else if roll < 25 && heads.len() >= 2 {
                let count = if rng.percent(20) { 3.min(heads.len()) } else { 2 };
                let mut merged = Vec::new();
                while merged.len() < count {
                    let head = heads[rng.below(heads.len())];
                    if !merged.contains(&head) {
                        merged.push(head);
                    }
                }
                // The merge continues its first parent's branch; the others end, or go on.
                heads.retain(|h| *h == merged[0] || !merged.contains(h) || rng.percent(30));
                merged
            } else if roll < 30 {
                // A new branch off any older commit.
                heads.push(commit);
                vec![rng.below(commit)]
            } else {
                vec![heads[rng.below(heads.len())]]
            };
            for parent in &mine {
                if let Some(head) = heads.iter_mut().find(|h| **h == *parent) {
                    *head = commit;
                }
            }
            heads.sort();
            heads.dedup();
            parents.push(mine);
        }
        Dag { parents }
    }

    /// Imports the history into the server's work clone; each commit's id.
    fn import(&self, server: &Server, rng: &mut XorShift) -> Vec<String> {
        let marks = server.home.join("marks");
        let export = format!("--export-marks={}", marks.display());
        server.git_stdin(&server.work, &["fast-import", "--quiet", &export], self.stream(rng).as_bytes());
        let mut ids = vec![String::new(); COMMITS];
        for line in fs::read_to_string(&marks).unwrap().lines() {
            let (mark, id) = line.split_once(' ').unwrap();
            ids[mark[1..].parse::<usize>().unwrap() - 1] = id.to_string();
        }
        ids
    }

    fn reachable(&self, from: &[usize]) -> HashSet<usize> {
        let mut seen: HashSet<usize> = HashSet::new();
        let mut stack = from.to_vec();
        while let Some(commit) = stack.pop() {
            if seen.insert(commit) {
                stack.extend(&self.parents[commit]);
            }
        }
        seen
    }

    /// One `git fast-import` stream; commit `i` is mark `i + 1`.
    fn stream(&self, rng: &mut XorShift) -> String {
        let mut stream = String::new();
        for (commit, parents) in self.parents.iter().enumerate() {
            // Mostly forward in time, but a sixth of the commits claim to be days older.
            let skew = if rng.percent(16) { rng.below(10 * 86_400) as i64 } else { 0 };
            let time = 1_700_000_000 + commit as i64 * 600 - skew;
            let message = format!("Commit {commit}\n");
            stream.push_str(&format!(
                "reset refs/heads/scratch\ncommit refs/heads/scratch\nmark :{}\ncommitter {BOB} {time} +0000\n\
                 data {}\n{message}",
                commit + 1,
                message.len()
            ));
            for (index, parent) in parents.iter().enumerate() {
                let verb = if index == 0 { "from" } else { "merge" };
                stream.push_str(&format!("{verb} :{}\n", parent + 1));
            }
            stream.push_str(&format!("M 100644 inline f{}\ndata 3\n{}\n\n", commit % 40, commit % 97));
        }
        stream
    }
}

#[test]
fn ranges_select_the_reachable_commits_with_or_without_a_commit_graph() {
    let mut rng = XorShift(0x5e1e_c7ed_c0ff_ee11);
    let dag = Dag::generate(&mut rng);
    let merges = dag.parents.iter().filter(|p| p.len() > 1).count();
    let roots = dag.parents.iter().filter(|p| p.is_empty()).count();
    assert!(merges >= 40 && roots >= 5, "a history worth walking: {merges} merges, {roots} roots");

    let server = Server::without_hook();
    let ids = dag.import(&server, &mut rng);
    assert_parents(&server, &dag, &ids);
    let policy = server.home.join("policy.toml");
    fs::write(&policy, POLICY).unwrap();
    let graph_file = server.work.join(".git/objects/info/commit-graph");
    let graph_chain = server.work.join(".git/objects/info/commit-graphs");
    let older_half: String = ids[..COMMITS / 2].iter().map(|id| format!("{id}\n")).collect();
    let everything: String = ids.iter().map(|id| format!("{id}\n")).collect();

    let ways: [(&str, &dyn Fn()); 4] = [
        ("no commit-graph", &|| {}),
        ("a commit-graph of the older half", &|| {
            server.git_stdin(
                &server.work,
                &["commit-graph", "write", "--stdin-commits"],
                older_half.as_bytes(),
            );
        }),
        ("a commit-graph of everything", &|| {
            server.git_stdin(
                &server.work,
                &["commit-graph", "write", "--stdin-commits"],
                everything.as_bytes(),
            );
        }),
        ("a split commit-graph chain", &|| {
            let split = ["commit-graph", "write", "--split=no-merge", "--stdin-commits"];
            server.git_stdin(&server.work, &split, older_half.as_bytes());
            server.git_stdin(&server.work, &split, everything.as_bytes());
        }),
    ];
    let mut listed_too_much = 0;
    for (way, write_graph) in ways {
        let _ = fs::remove_file(&graph_file);
        let _ = fs::remove_dir_all(&graph_chain);
        write_graph();
        match way {
            "no commit-graph" => assert!(!graph_file.exists() && !graph_chain.exists()),
            "a split commit-graph chain" => assert!(graph_chain.join("commit-graph-chain").exists(), "{way}"),
            _ => assert!(graph_file.exists(), "{way}"),
        }
        for _ in 0..RANGES {
            let tips: Vec<usize> =
                (0..1 + rng.below(2)).map(|_| COMMITS / 3 + rng.below(COMMITS * 2 / 3)).collect();
            let hidden: Vec<usize> = (0..rng.below(4)).map(|_| rng.below(COMMITS)).collect();
            let expected: BTreeSet<&str> =
                dag.reachable(&tips).difference(&dag.reachable(&hidden)).map(|&c| ids[c].as_str()).collect();
            let mut args: Vec<String> = tips.iter().map(|&c| ids[c].clone()).collect();
            args.extend(hidden.iter().map(|&c| format!("^{}", ids[c])));
            let mut rev_list = vec!["rev-list"];
            rev_list.extend(args.iter().map(String::as_str));
            // git stops walking by dates, so dates that lie make it list too much, never too little.
            let git = server.git(&server.work, &rev_list);
            assert!(git.lines().collect::<BTreeSet<_>>().is_superset(&expected), "{way}: git {rev_list:?}");
            listed_too_much += usize::from(git.lines().count() > expected.len());
            let output = std::process::Command::new(BIN)
                .args([
                    "check",
                    "--repo",
                    server.work.to_str().unwrap(),
                    "--policy",
                    policy.to_str().unwrap(),
                ])
                .args(["--format", "json"])
                .args(&args)
                .output()
                .unwrap();
            let report: serde_json::Value = serde_json::from_slice(&output.stdout)
                .unwrap_or_else(|_| panic!("{way}: {}", String::from_utf8_lossy(&output.stderr)));
            let judged: Vec<&str> = report["refs"][0]["commits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap())
                .collect();
            let judged_set: BTreeSet<&str> = judged.iter().copied().collect();
            assert_eq!(judged_set.len(), judged.len(), "{way}: a commit judged twice");
            if way == "no commit-graph" {
                // libgit2 walks by dates as git does: it may judge more, never less.
                let reachable: BTreeSet<&str> =
                    dag.reachable(&tips).iter().map(|&c| ids[c].as_str()).collect();
                assert!(judged_set.is_superset(&expected), "{way}: check {args:?} judged too little");
                assert!(judged_set.is_subset(&reachable), "{way}: check {args:?} judged beyond its tips");
            } else {
                // Generation numbers do not lie: exactly the range.
                assert_eq!(judged_set, expected, "{way}: check {args:?}");
                // A commit before its parents, as `approve --rewrite` relies on.
                let position = |id: &str| judged.iter().position(|j| *j == id);
                for (index, id) in judged.iter().enumerate() {
                    let commit = ids.iter().position(|i| i == id).unwrap();
                    for &parent in &dag.parents[commit] {
                        assert!(
                            position(&ids[parent]).is_none_or(|p| p > index),
                            "{way}: {id} after a parent"
                        );
                    }
                }
            }
        }
    }
    assert!(listed_too_much > 0, "no date lied enough to mislead a walk by dates: the test proves less");
}

/// The hook reads the server's commit-graph, which holds the history already there, and the
/// pushed commits from the quarantine, which the graph cannot hold.
#[test]
fn the_hook_judges_exactly_the_pushed_commits_on_a_server_with_a_commit_graph() {
    let mut rng = XorShift(0xb0a7_f00d_0dd5_eed5);
    let dag = Dag::generate(&mut rng);
    let server = Server::without_hook();
    let ids = dag.import(&server, &mut rng);
    // Already on the server, before the hook: a commit half-way through history.
    let base = COMMITS / 2;
    assert!(server.push(&["origin", &format!("{}:refs/heads/release/base", ids[base])]).ok);
    server.git_server(&["commit-graph", "write", "--reachable"]);
    assert!(server.bare.join("objects/info/commit-graph").exists());
    server.set_policy(POLICY);
    server.install_hook();

    let tip = COMMITS - 1;
    let expected = dag.reachable(&[tip]).difference(&dag.reachable(&[base])).count();
    assert!(expected > 100, "only {expected} new commits");
    let push = server.push(&["origin", &format!("{}:refs/heads/release/next", ids[tip])]);
    assert!(!push.ok, "{}", push.stderr);
    let told = format!("{expected} of {expected} new commit(s) lack approval");
    assert!(push.stderr.contains(&told), "want {told:?} in:\n{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/release/next"), None);
}

/// git's parents are the generator's, or the oracle would be fiction.
fn assert_parents(server: &Server, dag: &Dag, ids: &[String]) {
    let all: String = ids.iter().map(|id| format!("{id}\n")).collect();
    let log = server.git_stdin(
        &server.work,
        &["log", "--no-walk=unsorted", "--stdin", "--format=%H %P"],
        all.as_bytes(),
    );
    for (line, (id, parents)) in log.lines().zip(ids.iter().zip(&dag.parents)) {
        let expected: Vec<&str> =
            std::iter::once(id.as_str()).chain(parents.iter().map(|&p| ids[p].as_str())).collect();
        assert_eq!(line.trim_end().split(" ").collect::<Vec<_>>(), expected);
    }
}
