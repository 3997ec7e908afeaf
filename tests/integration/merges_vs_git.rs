//! Differential test of the merge exemption on a merge-heavy history shaped like git's own: a
//! long-lived `maint` merged up into `main`, topics forked from `maint` or from old points of
//! `main` and merged much later (their merge base far back), topics merged more than once,
//! back-merges, octopus merges, and two branches merging each other back and forth, so that
//! their later merges have several best merge bases (criss-cross).
//!
//! A merge is exempt when it introduces nothing against its parents and its merge base (SPEC);
//! with several bases, the one with the newest committer date. Some committer dates lie. The oracle is git: `git
//! merge-base --all` gives the bases (checked against the generator's own ancestry), and the
//! generator's file maps, written by `git fast-import`, give what each side holds. Each merge is
//! resolved cleanly against the base the rule picks, or now and then against another base, or
//! with a change of its own, or dropping a parent's change, so a wrong base, or a base remembered
//! from another merge, changes verdicts. Judged without a commit-graph, with one of the older
//! half (newer commits read from their objects, as pushed ones are), with one of everything, and
//! with one of levels only (no corrected commit dates, as git wrote before 2.31).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use crate::util::{BIN, BOB, Server, XorShift};

const COMMITS: usize = 1_200;
const FILES: usize = 300;

const POLICY: &str = r#"
version = 1
[gate]
protected = ["refs/heads/main"]
[[person]]
name = "Bob Dev"
emails = ["bob@example.com"]
[[rule]]
name = "two-person review"
"#;

struct Commit {
    parents: Vec<usize>,
    files: Vec<u32>,
    /// For a merge: what the generator meant it to be.
    kind: &'static str,
}

struct History {
    commits: Vec<Commit>,
    /// Each commit's ancestors, itself included, as a bit set.
    ancestors: Vec<Vec<u64>>,
    next_content: u32,
}

impl History {
    fn is_ancestor(&self, ancestor: usize, of: usize) -> bool {
        self.ancestors[of][ancestor / 64] & (1 << (ancestor % 64)) != 0
    }

    /// The best common ancestors of `one` and any of `others` (`git merge-base --all`), oldest
    /// committer date first.
    fn bases(&self, one: usize, others: &[usize]) -> Vec<usize> {
        let common: Vec<usize> = (0..self.commits.len())
            .filter(|&c| self.is_ancestor(c, one) && others.iter().any(|&o| self.is_ancestor(c, o)))
            .collect();
        // Those below another common ancestor: reachable from one's parents.
        let mut below = vec![0u64; self.ancestors[0].len()];
        for &c in &common {
            for &parent in &self.commits[c].parents {
                for (word, theirs) in below.iter_mut().zip(&self.ancestors[parent]) {
                    *word |= theirs;
                }
            }
        }
        let mut best: Vec<usize> =
            common.into_iter().filter(|&c| below[c / 64] & (1 << (c % 64)) == 0).collect();
        best.sort_by_key(|&c| time(c));
        best
    }

    fn add(&mut self, parents: Vec<usize>, files: Vec<u32>, kind: &'static str) -> usize {
        let index = self.commits.len();
        let mut ancestors = vec![0u64; COMMITS.div_ceil(64) + 1];
        ancestors[index / 64] |= 1 << (index % 64);
        for &parent in &parents {
            for (word, theirs) in ancestors.iter_mut().zip(&self.ancestors[parent]) {
                *word |= theirs;
            }
        }
        self.ancestors.push(ancestors);
        self.commits.push(Commit { parents, files, kind });
        index
    }

    fn fresh(&mut self) -> u32 {
        self.next_content += 1;
        self.next_content
    }

    /// A commit on `head` that changes one file.
    fn edit(&mut self, head: usize, rng: &mut XorShift) -> usize {
        self.edit_among(head, FILES, rng)
    }

    /// A commit on `head` that changes one of the first `files` files.
    fn edit_among(&mut self, head: usize, files: usize, rng: &mut XorShift) -> usize {
        let mut new = self.commits[head].files.clone();
        new[rng.below(files)] = self.fresh();
        self.add(vec![head], new, "")
    }

    /// A merge of `parents`, resolved as `git merge` would against the newest best base, or
    /// made to differ from that in one of the ways SPEC counts.
    fn merge(&mut self, parents: Vec<usize>, rng: &mut XorShift) -> usize {
        let bases = self.bases(parents[0], &parents[1..]);
        let newest = *bases.last().expect("every generated commit descends from the root");
        let roll = rng.below(100);
        let (base, kind) = match roll {
            _ if bases.len() > 1 && roll < 60 => {
                (bases[rng.below(bases.len() - 1)], "resolved against another base")
            }
            _ if roll < 10 => (newest, "evil"),
            _ if roll < 18 => (newest, "dropping a parent's change"),
            _ => (newest, "clean"),
        };
        let base_files = &self.commits[base].files;
        let mut files = Vec::with_capacity(FILES);
        let mut changed_by_a_parent = Vec::new();
        for (path, &in_base) in base_files.iter().enumerate() {
            let sides: BTreeSet<u32> =
                parents.iter().map(|&p| self.commits[p].files[path]).filter(|&v| v != in_base).collect();
            // A conflict keeps the first parent's side.
            let value = match sides.len() {
                0 => in_base,
                1 => *sides.first().unwrap(),
                _ => self.commits[parents[0]].files[path],
            };
            if !sides.is_empty() {
                changed_by_a_parent.push(path);
            }
            files.push(value);
        }
        match kind {
            "evil" => files[rng.below(FILES)] = self.fresh(),
            "dropping a parent's change" if !changed_by_a_parent.is_empty() => {
                let path = changed_by_a_parent[rng.below(changed_by_a_parent.len())];
                files[path] = base_files[path];
            }
            _ => {}
        }
        self.add(parents, files, kind)
    }

    fn generate(rng: &mut XorShift) -> History {
        let mut history = History { commits: Vec::new(), ancestors: Vec::new(), next_content: 0 };
        let root = history.add(Vec::new(), vec![0; FILES], "");
        let (mut main, mut maint) = (root, root);
        let mut main_line = vec![root];
        let mut topics: Vec<usize> = Vec::new();
        let mut crossed: Option<(usize, usize)> = None;
        while history.commits.len() < COMMITS {
            let roll = rng.below(100);
            match roll {
                0..=9 => main = history.edit(main, rng),
                10..=19 => maint = history.edit(maint, rng),
                20..=44 if !topics.is_empty() => {
                    let i = rng.below(topics.len());
                    topics[i] = history.edit(topics[i], rng);
                }
                45..=54 => {
                    // A topic off maint, or off a point of main long ago.
                    let fork = if rng.percent(50) { maint } else { main_line[rng.below(main_line.len())] };
                    topics.push(history.edit(fork, rng));
                }
                55..=69 if !topics.is_empty() => {
                    let i = rng.below(topics.len());
                    main = history.merge(vec![main, topics[i]], rng);
                    // Most topics end; some go on and are merged again later.
                    if rng.percent(70) {
                        topics.swap_remove(i);
                    }
                }
                70..=74 => main = history.merge(vec![main, maint], rng),
                75..=77 if !topics.is_empty() => {
                    let i = rng.below(topics.len());
                    topics[i] = history.merge(vec![topics[i], main], rng);
                }
                78..=79 if topics.len() >= 2 => {
                    let (a, b) = (topics.pop().unwrap(), topics.pop().unwrap());
                    main = history.merge(vec![main, a, b], rng);
                }
                80..=89 => {
                    // Two branches that merge each other, each keeping its own side of a conflict
                    // (they change the same few files): their next merge has two bases, and
                    // which one it is resolved against tells which side it takes.
                    crossed = Some(match crossed {
                        None => (history.edit_among(main, 3, rng), history.edit_among(main, 3, rng)),
                        Some((x, y)) if rng.percent(50) => {
                            (history.merge(vec![x, y], rng), history.merge(vec![y, x], rng))
                        }
                        Some((x, y)) => (history.edit_among(x, 3, rng), history.edit_among(y, 3, rng)),
                    });
                }
                90..=94 if crossed.is_some() => {
                    let (x, y) = crossed.take().unwrap();
                    main = history.merge(vec![main, x, y], rng);
                }
                _ => continue,
            }
            main_line.push(main);
        }
        history
    }

    /// One `git fast-import` stream onto `main`; commit `i` is mark `i + 1`.
    fn stream(&self) -> String {
        let mut stream = String::new();
        for (index, commit) in self.commits.iter().enumerate() {
            let time = time(index);
            let message = format!("Commit {index}\n");
            stream.push_str(&format!(
                "commit refs/heads/scratch\nmark :{}\ncommitter {BOB} {time} +0000\ndata {}\n{message}",
                index + 1,
                message.len()
            ));
            for (i, parent) in commit.parents.iter().enumerate() {
                stream.push_str(&format!("{} :{}\n", if i == 0 { "from" } else { "merge" }, parent + 1));
            }
            let first_parent = commit.parents.first().map(|&p| &self.commits[p].files);
            for (path, &value) in commit.files.iter().enumerate() {
                if first_parent.is_none_or(|files| files[path] != value) {
                    stream.push_str(&format!(
                        "M 100644 inline f{path}\ndata {}\n{value}\n",
                        value.to_string().len() + 1
                    ));
                }
            }
            stream.push('\n');
        }
        stream.push_str(&format!("reset refs/heads/main\nfrom :{}\n\n", self.commits.len()));
        stream
    }
}

/// Commit `index`'s committer date: `index` minutes after the root, but a seventh of the
/// commits claim to be days older (no two alike), so a search that trusted dates to know when
/// it is done would be caught out.
fn time(index: usize) -> i64 {
    let skew = if index % 7 == 3 { (index % 5 + 1) * 86_400 } else { 0 };
    1_700_000_000 + (index * 60) as i64 - skew as i64
}

#[test]
fn merge_exemptions_match_git_on_a_merge_heavy_history() {
    let mut rng = XorShift(0x6d65_7267_6520_6261);
    let history = History::generate(&mut rng);
    let server = Server::without_hook();
    let marks = server.home.join("marks");
    let export = format!("--export-marks={}", marks.display());
    server.git_stdin(
        &server.work,
        &["fast-import", "--quiet", "--force", &export],
        history.stream().as_bytes(),
    );
    let mut ids = vec![String::new(); history.commits.len()];
    for line in fs::read_to_string(&marks).unwrap().lines() {
        let (mark, id) = line.split_once(' ').unwrap();
        ids[mark[1..].parse::<usize>().unwrap() - 1] = id.to_string();
    }
    let index_of: BTreeMap<&str, usize> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i)).collect();

    // What each merge should be, per git's merge bases.
    let mut expected: BTreeMap<&str, bool> = BTreeMap::new();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let reachable_from_main = {
        let main = history.commits.len() - 1;
        (0..history.commits.len()).filter(|&c| history.is_ancestor(c, main)).count()
    };
    // git's merge bases are exact, whatever the dates, with generation numbers.
    server.git_work(&["commit-graph", "write", "--reachable"]);
    for (index, commit) in history.commits.iter().enumerate().filter(|(_, c)| c.parents.len() > 1) {
        if !history.is_ancestor(index, history.commits.len() - 1) {
            continue;
        }
        let mut args = vec!["merge-base", "--all"];
        args.extend(commit.parents.iter().map(|&p| ids[p].as_str()));
        let git: BTreeSet<usize> = server.git_work(&args).lines().map(|id| index_of[id]).collect();
        let ours = history.bases(commit.parents[0], &commit.parents[1..]);
        assert_eq!(git, ours.iter().copied().collect(), "merge bases of commit {index}");
        let introduces = |base: usize| {
            let base = &history.commits[base].files;
            (0..FILES).any(|path| {
                let merge = commit.files[path];
                let sides = commit.parents.iter().map(|&p| history.commits[p].files[path]);
                sides.clone().all(|p| p != merge) || sides.clone().any(|p| p != merge && p != base[path])
            })
        };
        let exempt = !introduces(*ours.last().unwrap());
        expected.insert(&ids[index], exempt);
        *counts.entry(if exempt { "exempt merges" } else { "merges introducing a path" }).or_default() += 1;
        *counts.entry(commit.kind).or_default() += 1;
        if ours.len() > 1 {
            *counts.entry("merges with several bases").or_default() += 1;
            if ours.iter().any(|&b| introduces(b) == exempt) {
                *counts.entry("merges whose verdict depends on the base chosen").or_default() += 1;
            }
        }
        if commit.parents.iter().all(|&p| p > ours.last().unwrap() + 100) {
            *counts.entry("merges whose base is 100+ commits back").or_default() += 1;
        }
        if commit.parents.len() > 2 {
            *counts.entry("octopus merges").or_default() += 1;
        }
    }
    for (name, at_least) in [
        ("exempt merges", 100),
        ("merges introducing a path", 50),
        ("merges with several bases", 10),
        ("merges whose verdict depends on the base chosen", 5),
        ("merges whose base is 100+ commits back", 30),
        ("octopus merges", 10),
        ("evil", 10),
        ("dropping a parent's change", 10),
    ] {
        let n = counts.get(name).copied().unwrap_or(0);
        assert!(n >= at_least, "only {n} {name} (want {at_least}): the history degenerated\n{counts:#?}");
    }

    let policy = server.home.join("policy.toml");
    fs::write(&policy, POLICY).unwrap();
    let git_dir = server.work.join(".git");
    fs::remove_file(git_dir.join("objects/info/commit-graph")).unwrap();
    let older_half: String = ids[..ids.len() / 2].iter().map(|id| format!("{id}\n")).collect();
    let ways = [
        "no commit-graph",
        "a commit-graph of the older half",
        "a commit-graph of everything",
        "a commit-graph of levels only",
    ];
    for way in ways {
        match way {
            "no commit-graph" => {}
            "a commit-graph of the older half" => {
                server.git_stdin(
                    &server.work,
                    &["commit-graph", "write", "--stdin-commits"],
                    older_half.as_bytes(),
                );
            }
            "a commit-graph of everything" => _ = server.git_work(&["commit-graph", "write", "--reachable"]),
            _ => {
                // As git before 2.31 wrote it: no corrected commit dates, the search goes by level.
                let v1 = ["-c", "commitGraph.generationVersion=1", "commit-graph", "write", "--reachable"];
                server.git_work(&v1);
                let graph = fs::read(git_dir.join("objects/info/commit-graph")).unwrap();
                assert!(!graph.windows(4).any(|w| w == b"GDA2"), "{way}: corrected dates written");
            }
        }
        assert_eq!(git_dir.join("objects/info/commit-graph").exists(), way != "no commit-graph");
        let output = std::process::Command::new(BIN)
            .args(["check", "--repo", server.work.to_str().unwrap(), "--policy", policy.to_str().unwrap()])
            .args(["--format", "json", "refs/heads/main"])
            .env_remove("COUNTERSIGN_POLICY")
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("{way}: {}", String::from_utf8_lossy(&output.stderr)));
        let commits = report["refs"][0]["commits"].as_array().unwrap();
        assert_eq!(commits.len(), reachable_from_main, "{way}: every commit judged");
        let mut wrong = Vec::new();
        for commit in commits {
            let id = commit["id"].as_str().unwrap();
            let exempt = commit.get("exempt").is_some();
            let want = expected.get(id).copied().unwrap_or(false);
            if exempt != want {
                let index = index_of[id];
                wrong.push(format!(
                    "commit {index} ({}): exempt {exempt}, git says {want}",
                    history.commits[index].kind
                ));
            }
        }
        assert!(wrong.is_empty(), "{way}: {} verdicts differ from git:\n{}", wrong.len(), wrong.join("\n"));
    }
}
