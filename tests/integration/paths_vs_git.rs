//! Differential test: the changed paths `countersign check` reports must be exactly those git's
//! own tree diff finds, for every commit of a seeded random history built to hit what the
//! pruned walk of `src/git/changes.rs` could get wrong: file/directory swaps at one name, names
//! that sort apart in git's tree order (`a-b`, `a.b`, `a/`, `a0`), renames across the tier-1
//! boundary, whole directories deleted, mode and type changes, symlinks, gitlinks, deep and
//! non-ASCII paths, root commits, and merges (clean, evil, keeping an old version, rolling back,
//! of unrelated histories, octopus).
//!
//! Each policy has one rule, on paths only, so `paths_matched` lists every matching changed
//! path and a merge that introduces nothing is reported `exempt`; several policies run (all the
//! globs, then subsets without a pattern that matches at any depth, since its empty literal
//! prefix turns pruning off). The oracle is git: one `git fast-import` builds the history, one
//! `git log` lists trees and parents, one `git merge-base --all` per merge finds bases, and one
//! `git diff-tree --stdin` diffs every pair of trees; its paths are filtered by the globs compiled
//! here with `globset` exactly as `crates/engine/src/globs.rs` compiles them (its `dir/` and `dir/**`
//! expansion written out).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::util::{BIN, XorShift, output_fed};

/// The rule's globs as the policy writes them, and as `crates/engine/src/globs.rs` expands them.
const GLOBS: &[(&str, &str)] = &[
    ("infra/", "{infra,infra/**}"),
    ("services/*/db/**", "{services/*/db,services/*/db/**}"),
    ("**/secrets/*", "**/secrets/*"),
    ("*.tf", "*.tf"),
    ("policy.toml", "policy.toml"),
    ("a/", "{a,a/**}"),
    ("inf*/x", "inf*/x"),
    ("deep/1/2/3/4/**", "{deep/1/2/3/4,deep/1/2/3/4/**}"),
    ("ü/**", "{ü,ü/**}"),
    ("docs/*.md", "docs/*.md"),
    ("a.b", "a.b"),
    ("vendor/lib?/x[0-9]", "vendor/lib?/x[0-9]"),
];

/// The policies run: the rule's globs all together, then without those that can match at any
/// depth (whose empty literal prefix turns pruning off), then alone or nearly, so each prefix
/// prunes on its own.
const POLICIES: &[&[(&str, &str)]] = &[
    GLOBS,
    &[GLOBS[0], GLOBS[1], GLOBS[4], GLOBS[5], GLOBS[6], GLOBS[7], GLOBS[8], GLOBS[9], GLOBS[10], GLOBS[11]],
    &[GLOBS[0]],
    &[GLOBS[1]],
    &[GLOBS[4], GLOBS[10]],
    &[GLOBS[5]],
    &[GLOBS[6]],
    &[GLOBS[7]],
    &[GLOBS[8], GLOBS[11]],
];

/// Commits in the generated history, about (merges finish the open branches at the end).
const COMMITS: usize = 320;

/// How the history is read: from the commits, then through commit-graphs of each kind.
const WAYS: [&str; 4] =
    ["without a commit-graph", "with a commit-graph", "with filters v1", "with filters v2"];

#[test]
fn changed_paths_match_git_on_a_random_history() {
    changed_paths_match_git("sha1", &WAYS, POLICIES);
}

/// The same history in a SHA-256 repository, read from the commits and through a graph with
/// filters (of 32-byte ids), under the policy of every glob and one of a single prefix.
#[test]
fn changed_paths_match_git_in_a_sha256_repository() {
    changed_paths_match_git("sha256", &[WAYS[0], WAYS[3]], &POLICIES[..3]);
}

fn changed_paths_match_git(object_format: &str, ways: &[&str], policies: &[&[(&str, &str)]]) {
    let tier1 = oracle_globs(GLOBS);
    let hex_digits = if object_format == "sha256" { 64 } else { 40 };
    let history = History::generate(0x0dd_ba11_5eed_1e55, &tier1, hex_digits);
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo.git");
    let git = Git { home: dir.path(), repo: &repo };
    git.run(
        &["init", "-q", "--bare", &format!("--object-format={object_format}"), repo.to_str().unwrap()],
        b"",
    );
    let empty_tree = String::from_utf8(git.run(&["hash-object", "-t", "tree", "--stdin"], b"")).unwrap();
    let empty_tree = empty_tree.trim();
    let marks = dir.path().join("marks");
    git.run(&["fast-import", "--quiet", &format!("--export-marks={}", marks.display())], &history.stream);
    let mut ids = vec![String::new(); history.commits.len()];
    for line in fs::read_to_string(&marks).unwrap().lines() {
        let (mark, id) = line.split_once(' ').unwrap();
        ids[mark[1..].parse::<usize>().unwrap() - 1] = id.to_string();
    }

    // Trees and parents, as git sees them.
    let log = git.run(&["log", "--format=%H %T %P", "refs/heads/main"], b"");
    let mut tree_of: HashMap<String, String> = HashMap::new();
    for line in String::from_utf8(log).unwrap().lines() {
        let mut fields = line.split_whitespace();
        let (commit, tree) = (fields.next().unwrap(), fields.next().unwrap());
        tree_of.insert(commit.to_string(), tree.to_string());
        let index = ids.iter().position(|id| id == commit).expect("a generated commit");
        let parents: Vec<String> = history.commits[index].parents.iter().map(|&p| ids[p].clone()).collect();
        assert_eq!(fields.map(str::to_string).collect::<Vec<_>>(), parents, "parents of {commit}");
    }
    assert_eq!(tree_of.len(), ids.len(), "every generated commit is reachable from main");
    let tree = |mark: Option<usize>| mark.map_or(empty_tree.to_string(), |m| tree_of[&ids[m]].clone());

    // Every merge's base, checked against the one the generator meant (and unique, so "the"
    // merge base is well defined).
    for commit in history.commits.iter().filter(|c| c.parents.len() > 1) {
        let mut args = vec!["merge-base", "--all"];
        args.extend(commit.parents.iter().map(|&p| ids[p].as_str()));
        let bases = git.output(&args);
        let expected = commit.base.map(|b| format!("{}\n", ids[b])).unwrap_or_default();
        assert_eq!(bases, expected, "merge base of {:?}", commit.parents);
    }

    // Every pair of trees the oracle needs, diffed by one git call.
    let mut pairs: BTreeSet<(Option<usize>, Option<usize>)> = BTreeSet::new();
    for (mark, commit) in history.commits.iter().enumerate() {
        match commit.parents[..] {
            [] => _ = pairs.insert((None, Some(mark))),
            [parent] => _ = pairs.insert((Some(parent), Some(mark))),
            ref parents => {
                for &parent in parents {
                    pairs.insert((Some(parent), Some(mark)));
                    pairs.insert((commit.base, Some(parent)));
                }
            }
        }
    }
    let input: String = pairs.iter().map(|&(old, new)| format!("{} {}\n", tree(old), tree(new))).collect();
    let diffs = parse_diff_tree(
        &git.run(&["diff-tree", "--stdin", "-r", "--no-renames", "--name-only", "-z"], input.as_bytes()),
    );
    let diff = |old: Option<usize>, new: Option<usize>| -> BTreeSet<String> {
        let git = diffs.get(&(tree(old), tree(new))).cloned().unwrap_or_default();
        // The generator's model of each tree must agree, or its counts below would be fiction.
        let model = model_diff(history.tree(old), history.tree(new));
        assert_eq!(git, model, "git and the generator's model differ between commits {old:?} and {new:?}");
        git
    };

    // What SPEC says each commit changes, per git.
    let mut expected: HashMap<&str, (BTreeSet<String>, bool)> = HashMap::new();
    let mut merges = BTreeMap::<&str, usize>::new();
    for (mark, commit) in history.commits.iter().enumerate() {
        let changed: BTreeSet<String> = match commit.parents[..] {
            [] => diff(None, Some(mark)),
            [parent] => diff(Some(parent), Some(mark)),
            ref parents => {
                let against: Vec<BTreeSet<String>> =
                    parents.iter().map(|&p| diff(Some(p), Some(mark))).collect();
                let everywhere: BTreeSet<String> = against[0]
                    .iter()
                    .filter(|path| against.iter().all(|d| d.contains(*path)))
                    .cloned()
                    .collect();
                let dropped: BTreeSet<String> = parents
                    .iter()
                    .zip(&against)
                    .flat_map(|(&p, to_merge)| {
                        diff(commit.base, Some(p)).intersection(to_merge).cloned().collect::<Vec<_>>()
                    })
                    .collect();
                *merges.entry(commit.kind).or_default() += 1;
                let shape = match (everywhere.is_empty(), dropped.is_subset(&everywhere)) {
                    (true, true) => "merges introducing nothing (exempt)",
                    (false, true) => "merges with a change of their own only",
                    (true, false) => "merges dropping a parent's change only",
                    (false, false) => "merges with both",
                };
                *merges.entry(shape).or_default() += 1;
                everywhere.union(&dropped).cloned().collect()
            }
        };
        let exempt = commit.parents.len() > 1 && changed.is_empty();
        expected.insert(&ids[mark], (changed, exempt));
    }

    let mut failures = Vec::new();
    let mut matching = Vec::new();
    // Parents' trees read from the commits; then from a commit-graph holding the older half of
    // history (the newer half is still read from the commits); then from one holding all of it
    // with changed-path filters, which rule directories out without reading trees (both hash
    // versions: version 1 hashed non-ASCII bytes wrongly, and `ü/**` is among the globs).
    let graph = repo.join("objects/info/commit-graph");
    for &how in ways {
        match how.strip_prefix("with filters v") {
            _ if how == "without a commit-graph" => {}
            None => {
                let older: String = ids[..ids.len() / 2].iter().map(|id| format!("{id}\n")).collect();
                git.run(&["commit-graph", "write", "--stdin-commits"], older.as_bytes());
                assert!(graph.exists());
            }
            Some(version) => {
                let version = format!("commitGraph.changedPathsVersion={version}");
                git.run(&["-c", &version, "commit-graph", "write", "--reachable", "--changed-paths"], b"");
                let bytes = fs::read(&graph).unwrap();
                assert!(bytes.windows(4).any(|w| w == b"BDAT"), "{how}: no filters written");
            }
        }
        // What countersign says, under each policy. Run side by side: each is one process.
        let runs: Vec<_> = policies
            .iter()
            .enumerate()
            .map(|(i, globs)| {
                let policy = dir.path().join(format!("policy{i}.toml"));
                fs::write(&policy, policy_text(globs)).unwrap();
                Command::new(BIN)
                    .args(["check", "--policy", policy.to_str().unwrap(), "--repo", repo.to_str().unwrap()])
                    .args(["--format", "json", "refs/heads/main"])
                    .env_remove("COUNTERSIGN_POLICY")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for (globs, run) in policies.iter().zip(runs) {
            let output = run.wait_with_output().unwrap();
            assert_eq!(
                output.status.code(),
                Some(1),
                "{globs:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            let commits = report["refs"][0]["commits"].as_array().unwrap();
            assert_eq!(commits.len(), ids.len(), "countersign judged every commit");
            let oracle = oracle_globs(globs);
            let mut with_match = 0;
            for commit in commits {
                let id = commit["id"].as_str().unwrap();
                let matched: Vec<&str> =
                    commit["paths_matched"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
                let ours = (matched, commit.get("exempt").is_some());
                let (changed, exempt) = &expected[id];
                let git: (Vec<&str>, bool) =
                    (changed.iter().map(String::as_str).filter(|p| oracle.is_match(p)).collect(), *exempt);
                with_match += usize::from(!git.0.is_empty());
                if ours != git {
                    let mark = ids.iter().position(|i| i == id).unwrap();
                    failures.push(format!(
                        "{how}, policy {globs:?}, commit :{} {id} ({}, parents {:?})\n  countersign: {ours:?}\n  git:         {git:?}",
                        mark + 1,
                        history.commits[mark].kind,
                        history.commits[mark].parents
                    ));
                }
            }
            if how == "without a commit-graph" {
                matching.push((globs, with_match));
            }
            // The human report reads only as far as a verdict needs (a directory the rule takes
            // whole, once its id changed): it must count the same failing commits.
            let policy = dir.path().join("policy.toml");
            fs::write(&policy, policy_text(globs)).unwrap();
            let human = Command::new(BIN)
                .args(["check", "--policy", policy.to_str().unwrap(), "--repo", repo.to_str().unwrap()])
                .arg("refs/heads/main")
                .env_remove("COUNTERSIGN_POLICY")
                .output()
                .unwrap();
            let failing = commits.iter().filter(|c| c["verdict"] == "fail").count();
            let line = format!("{failing} of {} new commit(s) lack approval", ids.len());
            let stdout = String::from_utf8_lossy(&human.stdout);
            if !stdout.contains(&line) {
                failures
                    .push(format!("{how}, policy {globs:?}: want {line:?} in the human report:\n{stdout}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} verdicts differ from git:\n{}", failures.len(), failures.join("\n"));
    // Each policy met paths it matches, or it proved nothing.
    for (globs, with_match) in matching {
        assert!(with_match >= 5, "only {with_match} commits change a path {globs:?} matches");
    }

    // The history holds every case it is meant to (the model agrees with git, checked above).
    let mut counts = history.counts.clone();
    counts.extend(merges);
    let tier1_commits = expected.values().filter(|(changed, _)| changed.iter().any(|p| tier1.is_match(p)));
    counts.insert("commits with a tier-1 path", tier1_commits.count());
    let minimum = |name: &str, at_least: usize| {
        let n = counts.get(name).copied().unwrap_or(0);
        assert!(
            n >= at_least,
            "only {n} of {name:?} (want {at_least}): the history degenerated\n{counts:#?}"
        );
    };
    for (name, at_least) in [
        ("root commits", 3),
        ("additions", 100),
        ("modifications", 50),
        ("deletions of a file", 30),
        ("deletions of a directory of 2+ files", 10),
        ("deletions of a tier-1 directory of 2+ files", 3),
        ("renames into tier-1", 5),
        ("renames out of tier-1", 5),
        ("renames of a directory", 5),
        ("file -> directory", 10),
        ("directory -> file", 10),
        ("file -> directory at a tier-1 path", 2),
        ("directory -> file at a tier-1 path", 2),
        ("mode changes 100644 <-> 100755", 10),
        ("symlinks changed", 10),
        ("file <-> symlink type changes", 3),
        ("gitlinks changed", 10),
        ("gitlinks at a tier-1 path", 3),
        ("directory -> gitlink", 3),
        ("changes beside a/ with a-b, a.b or a0 in the same tree", 20),
        ("changes 8+ levels deep", 10),
        ("non-ASCII paths changed", 20),
        ("commits with a tier-1 path", 100),
        ("clean merges", 10),
        ("evil merges", 5),
        ("merges keeping an old version", 5),
        ("rollback merges", 2),
        ("merges of unrelated histories", 2),
        ("octopus merges", 2),
        ("merges main into a branch", 3),
        ("merges introducing nothing (exempt)", 5),
        ("merges with a change of their own only", 3),
        ("merges dropping a parent's change only", 3),
    ] {
        minimum(name, at_least);
    }
    if std::env::var_os("COUNTERSIGN_SHOW_COUNTS").is_some() {
        eprintln!("{counts:#?}");
    }
}

fn oracle_globs(globs: &[(&str, &str)]) -> GlobSet {
    let mut builder = GlobSetBuilder::new();
    for (_, pattern) in globs {
        builder
            .add(GlobBuilder::new(pattern).literal_separator(true).backslash_escape(true).build().unwrap());
    }
    builder.build().unwrap()
}

fn policy_text(globs: &[(&str, &str)]) -> String {
    let globs: Vec<String> = globs.iter().map(|(pattern, _)| format!("{pattern:?}")).collect();
    format!(
        "version = 1\n[gate]\nprotected = [\"refs/heads/main\"]\n[approvals]\ntrailers = [\"Approved-by\"]\n\
         [[person]]\nname = \"Dana Director\"\nemails = [\"dana@example.com\"]\nroles = [\"director\"]\n\
         [[rule]]\nname = \"tier-1\"\nfrom_role = \"director\"\nwhen = {{ paths = [{}] }}\n",
        globs.join(", ")
    )
}

struct Git<'a> {
    home: &'a Path,
    repo: &'a Path,
}

impl Git<'_> {
    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_DIR", self.repo);
        command
    }

    /// Stdout of a git command that must succeed, fed `input`.
    fn run(&self, args: &[&str], input: &[u8]) -> Vec<u8> {
        output_fed(self.command(args), input)
    }

    /// Stdout of a git command that may exit 1 (`merge-base` of unrelated commits).
    fn output(&self, args: &[&str]) -> String {
        let output = self.command(args).output().unwrap();
        assert!(matches!(output.status.code(), Some(0 | 1)), "git {args:?}: {output:?}");
        String::from_utf8(output.stdout).unwrap()
    }
}

/// `diff-tree --stdin -z` prints `<old> <new>\n` before each non-empty diff, then each path
/// ending in NUL (no generated path holds a newline).
fn parse_diff_tree(out: &[u8]) -> HashMap<(String, String), BTreeSet<String>> {
    let mut diffs: HashMap<(String, String), BTreeSet<String>> = HashMap::new();
    let mut current = None;
    let mut rest = out;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n' || b == 0).expect("terminated record");
        let text = String::from_utf8(rest[..end].to_vec()).unwrap();
        if rest[end] == b'\n' {
            let (old, new) = text.split_once(' ').expect("a header of two trees");
            current = Some((old.to_string(), new.to_string()));
        } else {
            diffs.entry(current.clone().expect("a header first")).or_default().insert(text);
        }
        rest = &rest[end + 1..];
    }
    diffs
}

/// A tree as the generator models it: each file, symlink or gitlink path, its mode and
/// content (a gitlink's content is its commit id).
type Tree = BTreeMap<String, Entry>;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    mode: u32,
    data: String,
}

const FILE: u32 = 0o100644;
const EXECUTABLE: u32 = 0o100755;
const SYMLINK: u32 = 0o120000;
const GITLINK: u32 = 0o160000;

fn model_diff(old: &Tree, new: &Tree) -> BTreeSet<String> {
    old.keys().chain(new.keys()).filter(|path| old.get(*path) != new.get(*path)).cloned().collect()
}

fn is_under(path: &str, dir: &str) -> bool {
    path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
}

/// Removes `path` and all below it; what was there, by path.
fn remove(tree: &mut Tree, path: &str) -> Vec<(String, Entry)> {
    let gone: Vec<String> = tree
        .range(path.to_string()..)
        .map(|(p, _)| p)
        .take_while(|p| p.starts_with(path))
        .filter(|p| *p == path || is_under(p, path))
        .cloned()
        .collect();
    gone.into_iter().map(|p| (p.clone(), tree.remove(&p).unwrap())).collect()
}

/// Sets `path` as fast-import does: whatever was at it goes, and a file where a directory of
/// it must be becomes that directory.
fn set(tree: &mut Tree, path: &str, entry: Entry) {
    remove(tree, path);
    for (end, _) in path.match_indices('/') {
        tree.remove(&path[..end]);
    }
    tree.insert(path.to_string(), entry);
}

/// Every directory of the tree.
fn dirs(tree: &Tree) -> Vec<String> {
    let mut dirs = BTreeSet::new();
    for path in tree.keys() {
        for (end, _) in path.match_indices('/') {
            dirs.insert(path[..end].to_string());
        }
    }
    dirs.into_iter().collect()
}

fn quote(path: &str) -> String {
    format!("\"{}\"", path.replace('\\', "\\\\").replace('"', "\\\""))
}

struct Generated {
    parents: Vec<usize>,
    /// The merge base the generator means, for merges (`None`: unrelated histories).
    base: Option<usize>,
    kind: &'static str,
    tree: Tree,
}

struct Branch {
    name: String,
    tip: usize,
    /// The merge base of this branch and main, were they merged now.
    base: Option<usize>,
}

struct History<'g> {
    stream: Vec<u8>,
    commits: Vec<Generated>,
    counts: BTreeMap<&'static str, usize>,
    rng: XorShift,
    serial: usize,
    tier1: &'g GlobSet,
    /// How long an object id is: a gitlink names a commit of the repository's format.
    hex_digits: usize,
}

const TOP: &[&str] = &[
    "infra",
    "inferno",
    "inf",
    "services",
    "app",
    "docs",
    "a",
    "a.b",
    "a-b",
    "a0",
    "ü",
    "naïve dir",
    "vendor",
    "policy.toml",
    "main.tf",
    "secrets",
    "x.tf",
];
const MID: &[&str] = &["a", "a.b", "a-b", "a0", "db", "secrets", "x", "s1", "日本", "lib1", "libz", "sub"];
const LEAF: &[&str] = &[
    "a",
    "a.b",
    "a-b",
    "a0",
    "x",
    "x1",
    "x7",
    "main.tf",
    "policy.toml",
    "key",
    "README.md",
    "é.txt",
    "with space",
    "notes.md",
];
static EMPTY: Tree = BTreeMap::new();

impl<'g> History<'g> {
    fn generate(seed: u64, tier1: &'g GlobSet, hex_digits: usize) -> Self {
        let mut h = History {
            stream: Vec::new(),
            commits: Vec::new(),
            counts: BTreeMap::new(),
            rng: XorShift(seed),
            serial: 0,
            tier1,
            hex_digits,
        };
        let root = h.root("refs/heads/main", 30);
        let mut main = Branch { name: "refs/heads/main".into(), tip: root, base: None };
        let mut branches: Vec<Branch> = Vec::new();
        let (mut orphans, mut octopuses) = (0, 0);
        while h.commits.len() < COMMITS {
            match h.rng.below(100) {
                0..=29 => h.edit(&mut main),
                30..=39 if branches.len() < 3 => {
                    let name = format!("refs/heads/topic{}", h.commits.len());
                    branches.push(Branch { name, tip: main.tip, base: Some(main.tip) });
                }
                40..=64 if !branches.is_empty() => {
                    let i = h.rng.below(branches.len());
                    h.edit(&mut branches[i]);
                }
                65..=79 if !branches.is_empty() => {
                    let branch = branches.swap_remove(h.rng.below(branches.len()));
                    let kind = h.merge_kind();
                    h.merge(&mut main, &[&branch], kind);
                }
                80..=84 if !branches.is_empty() => {
                    let i = h.rng.below(branches.len());
                    h.merge_main_into(&mut branches[i], &main);
                }
                85..=87 if orphans < 4 => {
                    orphans += 1;
                    let name = format!("refs/heads/orphan{orphans}");
                    let tip = h.root(&name, 6);
                    branches.push(Branch { name, tip, base: None });
                }
                88..=90 if octopuses < 3 => {
                    octopuses += 1;
                    let mut arms: Vec<Branch> = (0..2 + h.rng.below(2))
                        .map(|i| Branch {
                            name: format!("refs/heads/arm{}-{i}", h.commits.len()),
                            tip: main.tip,
                            base: Some(main.tip),
                        })
                        .collect();
                    for arm in &mut arms {
                        h.edit(arm);
                    }
                    h.edit(&mut main);
                    let arms: Vec<&Branch> = arms.iter().collect();
                    let kind = h.merge_kind();
                    h.merge(&mut main, &arms, kind);
                }
                _ => h.edit(&mut main),
            }
        }
        for branch in std::mem::take(&mut branches) {
            h.merge(&mut main, &[&branch], "clean merges");
        }
        h
    }

    fn tree(&self, mark: Option<usize>) -> &Tree {
        mark.map_or(&EMPTY, |m| &self.commits[m].tree)
    }

    fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }

    fn merge_kind(&mut self) -> &'static str {
        match self.rng.below(10) {
            0..=3 => "clean merges",
            4..=6 => "evil merges",
            7..=8 => "merges keeping an old version",
            _ => "rollback merges",
        }
    }

    /// Writes a commit; `commands` build its tree from the first parent's (or from nothing).
    fn commit(
        &mut self,
        refname: &str,
        parents: &[usize],
        base: Option<usize>,
        kind: &'static str,
        tree: Tree,
        commands: &[u8],
    ) -> usize {
        let mark = self.commits.len();
        let mut header = format!(
            "commit {refname}\nmark :{}\ncommitter C O Mitter <c@example.com> {} +0000\ndata 3\nc{}\n",
            mark + 1,
            1_600_000_000 + mark,
            mark % 10
        );
        for (i, parent) in parents.iter().enumerate() {
            header.push_str(&format!("{} :{}\n", if i == 0 { "from" } else { "merge" }, parent + 1));
        }
        self.stream.extend(header.bytes());
        self.stream.extend(commands);
        self.stream.push(b'\n');
        if parents.is_empty() {
            self.count("root commits");
        } else if parents.len() == 1 {
            self.classify(&self.commits[parents[0]].tree.clone(), &tree);
        }
        self.commits.push(Generated { parents: parents.to_vec(), base, kind, tree });
        mark
    }

    fn root(&mut self, refname: &str, files: usize) -> usize {
        let mut tree = Tree::new();
        let mut commands = Vec::new();
        for _ in 0..files {
            self.add(&mut tree, &mut commands);
        }
        self.commit(refname, &[], None, "root commits", tree, &commands)
    }

    /// A commit of 1 to 4 random changes on `branch`.
    fn edit(&mut self, branch: &mut Branch) {
        let mut tree = self.commits[branch.tip].tree.clone();
        let mut commands = Vec::new();
        for _ in 0..1 + self.rng.below(4) {
            self.change(&mut tree, &mut commands);
        }
        let name = branch.name.clone();
        branch.tip = self.commit(&name, &[branch.tip], None, "edits", tree, &commands);
    }

    fn merge_main_into(&mut self, branch: &mut Branch, main: &Branch) {
        let tree = self.merged(&[branch.tip, main.tip], branch.base);
        let commands = listing(&tree);
        let name = branch.name.clone();
        branch.tip = self.commit(
            &name,
            &[branch.tip, main.tip],
            branch.base,
            "merges main into a branch",
            tree,
            &commands,
        );
        branch.base = Some(main.tip);
    }

    /// Merges `others` into `main`, all forked where `others[0].base` says.
    fn merge(&mut self, main: &mut Branch, others: &[&Branch], kind: &'static str) {
        let mut parents = vec![main.tip];
        parents.extend(others.iter().map(|b| b.tip));
        let base = others[0].base;
        if others.len() > 1 {
            self.count("octopus merges");
        }
        if base.is_none() {
            self.count("merges of unrelated histories");
        }
        let mut tree = self.merged(&parents, base);
        match kind {
            "evil merges" => {
                let mut ignored = Vec::new();
                self.change(&mut tree, &mut ignored);
            }
            "merges keeping an old version" => {
                // Takes back, for some path a parent changed since the base, the base's version.
                let base_tree = self.tree(base).clone();
                let changed: Vec<String> =
                    parents.iter().flat_map(|&p| model_diff(&base_tree, &self.commits[p].tree)).collect();
                if !changed.is_empty() {
                    let path = &changed[self.rng.below(changed.len())];
                    match base_tree.get(path) {
                        Some(entry) => set(&mut tree, path, entry.clone()),
                        None => _ = tree.remove(path),
                    }
                }
            }
            "rollback merges" => {
                // A "merge" with an old commit of main that takes its tree wholesale.
                let old = self.first_parent_ancestor(main.tip);
                if old == main.tip {
                    return self.merge(main, others, "clean merges");
                }
                let tree = self.commits[old].tree.clone();
                let commands = listing(&tree);
                main.tip = self.commit(&main.name, &[main.tip, old], Some(old), kind, tree, &commands);
                // The branch still gets merged, cleanly.
                return self.merge(main, others, "clean merges");
            }
            _ => {}
        }
        let commands = listing(&tree);
        main.tip = self.commit(&main.name.clone(), &parents, base, kind, tree, &commands);
    }

    fn first_parent_ancestor(&mut self, mut mark: usize) -> usize {
        for _ in 0..1 + self.rng.below(6) {
            match self.commits[mark].parents.first() {
                Some(&parent) => mark = parent,
                None => break,
            }
        }
        mark
    }

    /// A path-by-path merge: each path takes the first parent's version that changed it since
    /// the base (the first parent wins a conflict); where a file and a directory collide, the
    /// file stays.
    fn merged(&self, parents: &[usize], base: Option<usize>) -> Tree {
        let base = self.tree(base);
        let trees: Vec<&Tree> = parents.iter().map(|&p| &self.commits[p].tree).collect();
        let paths: BTreeSet<&String> = trees.iter().flat_map(|t| t.keys()).collect();
        let mut merged = Tree::new();
        for path in paths {
            let was = base.get(path);
            let version = trees.iter().map(|t| t.get(path)).find(|v| *v != was).unwrap_or(was);
            if let Some(entry) = version {
                merged.insert(path.clone(), entry.clone());
            }
        }
        let clashing: Vec<String> = merged
            .keys()
            .filter(|path| path.match_indices('/').any(|(end, _)| merged.contains_key(&path[..end])))
            .cloned()
            .collect();
        for path in clashing {
            merged.remove(&path);
        }
        merged
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.rng.below(items.len())]
    }

    fn random_path(&mut self) -> String {
        let mut parts: Vec<&str> = Vec::new();
        match self.rng.below(10) {
            0..=2 => {
                parts.push("services");
                parts.push(self.pick(&["s1", "s2", "s-3"]));
                if self.rng.percent(75) {
                    parts.push("db");
                }
            }
            3 => {
                parts.extend(["deep", "1", "2", "3"]);
                if self.rng.percent(60) {
                    parts.push("4");
                }
            }
            4 => parts.push("infra"),
            6 if self.rng.percent(50) => {
                return self.pick(&["policy.toml", "a.b", "main.tf", "a", "a0"]).into();
            }
            5 => {
                parts.push(self.pick(&["vendor/lib1", "vendor/libz", "vendor/lib", "vendor/lib12"]));
                if self.rng.percent(50) {
                    parts.push(self.pick(&["x1", "x7", "x", "x10"]));
                    return parts.join("/");
                }
            }
            _ => parts.push(self.pick(TOP)),
        }
        let extra = if self.rng.percent(5) { 6 + self.rng.below(5) } else { self.rng.below(3) };
        for _ in 0..extra {
            parts.push(self.pick(MID));
        }
        if self.rng.percent(85) {
            parts.push(self.pick(LEAF));
        }
        parts.join("/")
    }

    fn content(&mut self) -> String {
        self.serial += 1;
        format!("v{}\n", self.serial)
    }

    fn put(&mut self, tree: &mut Tree, commands: &mut Vec<u8>, path: &str, entry: Entry) {
        modify(commands, path, &entry);
        set(tree, path, entry);
    }

    fn add(&mut self, tree: &mut Tree, commands: &mut Vec<u8>) {
        let path = self.random_path();
        let mode = if self.rng.percent(15) { EXECUTABLE } else { FILE };
        let data = self.content();
        self.put(tree, commands, &path, Entry { mode, data });
    }

    fn gitlink(&mut self) -> Entry {
        self.serial += 1;
        let id = self.serial as u128 * 0x9e37_79b9_7f4a_7c15;
        Entry { mode: GITLINK, data: format!("{id:0width$x}", width = self.hex_digits) }
    }

    /// One random change, in fast-import commands and in the model.
    fn change(&mut self, tree: &mut Tree, commands: &mut Vec<u8>) {
        let files: Vec<String> = tree.keys().cloned().collect();
        let dirs = dirs(tree);
        let roll = self.rng.below(100);
        if files.is_empty() || dirs.is_empty() {
            return self.add(tree, commands);
        }
        let file = files[self.rng.below(files.len())].clone();
        let dir = dirs[self.rng.below(dirs.len())].clone();
        match roll {
            0..=17 => self.add(tree, commands),
            18..=31 => {
                let mut entry = tree[&file].clone();
                entry = if entry.mode == GITLINK {
                    self.gitlink()
                } else {
                    Entry { data: self.content(), ..entry }
                };
                self.put(tree, commands, &file, entry);
            }
            32..=38 => {
                let entry = tree[&file].clone();
                let mode = match entry.mode {
                    FILE => EXECUTABLE,
                    EXECUTABLE => FILE,
                    _ => return self.add(tree, commands),
                };
                self.put(tree, commands, &file, Entry { mode, ..entry });
            }
            39..=43 => {
                // A symlink: a new one, or a file turned into one (or back) with the same bytes.
                let entry = tree[&file].clone();
                let (path, entry) = match (self.rng.percent(50), entry.mode) {
                    (true, FILE | EXECUTABLE) => (file, Entry { mode: SYMLINK, ..entry }),
                    (true, SYMLINK) => (file, Entry { mode: FILE, ..entry }),
                    _ => (
                        self.random_path(),
                        Entry { mode: SYMLINK, data: format!("../target{}", self.serial) },
                    ),
                };
                self.put(tree, commands, &path, entry);
            }
            44..=49 => {
                // A gitlink: at a new path, or where a directory was.
                let path = if self.rng.percent(40) { dir } else { self.random_path() };
                let entry = self.gitlink();
                self.put(tree, commands, &path, entry);
            }
            50..=59 => {
                commands.extend(format!("D {}\n", quote(&file)).bytes());
                tree.remove(&file);
            }
            60..=65 => {
                // Mostly a directory of several files, so whole subtrees go.
                let mut dir = dir;
                for _ in 0..4 {
                    if tree.keys().filter(|p| is_under(p, &dir)).nth(1).is_some() {
                        break;
                    }
                    dir = dirs[self.rng.below(dirs.len())].clone();
                }
                commands.extend(format!("D {}\n", quote(&dir)).bytes());
                let gone = remove(tree, &dir);
                if gone.len() >= 2 {
                    self.count("deletions of a directory of 2+ files");
                    if gone.iter().any(|(p, _)| self.tier1.is_match(p)) {
                        self.count("deletions of a tier-1 directory of 2+ files");
                    }
                }
            }
            66..=77 => {
                // A rename of a file or a directory, often across the tier-1 boundary.
                let source = if self.rng.percent(35) { dir } else { file };
                let moved_tier1 =
                    remove(&mut tree.clone(), &source).iter().any(|(p, _)| self.tier1.is_match(p));
                let mut target = self.random_path();
                if self.rng.percent(50) {
                    let root = if moved_tier1 { "app/moved" } else { "infra/moved" };
                    target = format!("{root}/{}", self.pick(LEAF));
                }
                if target == source || is_under(&target, &source) {
                    return;
                }
                commands.extend(format!("R {} {}\n", quote(&source), quote(&target)).bytes());
                let gone = remove(tree, &source);
                remove(tree, &target);
                let arrived: Vec<String> = gone
                    .into_iter()
                    .map(|(path, entry)| {
                        let new = format!("{target}{}", &path[source.len()..]);
                        set(tree, &new, entry);
                        new
                    })
                    .collect();
                if arrived.len() > 1 || arrived.first() != Some(&target) {
                    self.count("renames of a directory");
                }
                let lands_tier1 = arrived.iter().any(|p| self.tier1.is_match(p));
                if lands_tier1 && !moved_tier1 {
                    self.count("renames into tier-1");
                }
                if moved_tier1 && !lands_tier1 {
                    self.count("renames out of tier-1");
                }
            }
            78..=84 => {
                let path = format!("{file}/{}", self.pick(LEAF));
                let data = self.content();
                self.put(tree, commands, &path, Entry { mode: FILE, data });
            }
            85..=90 => {
                let data = self.content();
                self.put(tree, commands, &dir, Entry { mode: FILE, data });
            }
            91..=94 => {
                let depth = 8 + self.rng.below(8);
                let mut path = self.random_path();
                for _ in 0..depth {
                    path = format!("{path}/{}", self.pick(MID));
                }
                let data = self.content();
                self.put(tree, commands, &path, Entry { mode: FILE, data });
            }
            _ => {
                // Names that sort differently as files and as directories, side by side.
                let at = self.pick(&["", "infra/", "services/s1/db/", "app/", "a/"]);
                let name = self.pick(&["a", "a.b", "a-b", "a0"]);
                let path = match self.rng.percent(50) {
                    true => format!("{at}{name}"),
                    false => format!("{at}{name}/{}", self.pick(LEAF)),
                };
                let data = self.content();
                self.put(tree, commands, &path, Entry { mode: FILE, data });
            }
        }
    }

    /// Counts what a one-parent commit changes, per kind.
    fn classify(&mut self, old: &Tree, new: &Tree) {
        let changed = model_diff(old, new);
        let is_dir = |tree: &Tree, path: &str| {
            tree.range(format!("{path}/")..).next().is_some_and(|(p, _)| is_under(p, path))
        };
        for path in &changed {
            let (before, after) = (old.get(path), new.get(path));
            let tier1 = self.tier1.is_match(path);
            match (before, after) {
                (None, Some(_)) => self.count("additions"),
                (Some(_), None) => self.count("deletions of a file"),
                (Some(a), Some(b)) if a.mode == b.mode => self.count("modifications"),
                (Some(a), Some(b)) if matches!((a.mode, b.mode), (FILE, EXECUTABLE) | (EXECUTABLE, FILE)) => {
                    self.count("mode changes 100644 <-> 100755")
                }
                (Some(a), Some(b))
                    if (a.mode == SYMLINK) != (b.mode == SYMLINK)
                        && a.mode != GITLINK
                        && b.mode != GITLINK =>
                {
                    self.count("file <-> symlink type changes")
                }
                _ => {}
            }
            if before.is_some_and(|e| e.mode == SYMLINK) || after.is_some_and(|e| e.mode == SYMLINK) {
                self.count("symlinks changed");
            }
            if before.is_some_and(|e| e.mode == GITLINK) || after.is_some_and(|e| e.mode == GITLINK) {
                self.count("gitlinks changed");
                if tier1 {
                    self.count("gitlinks at a tier-1 path");
                }
                if after.is_some_and(|e| e.mode == GITLINK) && is_dir(old, path) {
                    self.count("directory -> gitlink");
                }
            }
            if before.is_some() && after.is_none() && is_dir(new, path) {
                self.count("file -> directory");
                if tier1 {
                    self.count("file -> directory at a tier-1 path");
                }
            }
            if before.is_none() && after.is_some() && is_dir(old, path) {
                self.count("directory -> file");
                if tier1 {
                    self.count("directory -> file at a tier-1 path");
                }
            }
            if path.split('/').count() >= 8 {
                self.count("changes 8+ levels deep");
            }
            if !path.is_ascii() {
                self.count("non-ASCII paths changed");
            }
            let tricky = [old, new].iter().any(|tree| {
                path.match_indices('/').map(|(end, _)| &path[..end]).chain([""]).any(|parent| {
                    let dir = if parent.is_empty() { String::new() } else { format!("{parent}/") };
                    let here = |name: &str| {
                        tree.contains_key(&format!("{dir}{name}")) || is_dir(tree, &format!("{dir}{name}"))
                    };
                    is_dir(tree, &format!("{dir}a"))
                        && ["a-b", "a.b", "a0"].iter().any(|n| here(n))
                        && ["a", "a-b", "a.b", "a0"]
                            .iter()
                            .any(|n| path == &format!("{dir}{n}") || is_under(path, &format!("{dir}{n}")))
                })
            });
            if tricky {
                self.count("changes beside a/ with a-b, a.b or a0 in the same tree");
            }
        }
    }
}

/// The fast-import command that sets `path` to `entry`.
fn modify(commands: &mut Vec<u8>, path: &str, entry: &Entry) {
    if entry.mode == GITLINK {
        commands.extend(format!("M 160000 {} {}\n", entry.data, quote(path)).bytes());
    } else {
        commands.extend(
            format!("M {:o} inline {}\ndata {}\n", entry.mode, quote(path), entry.data.len()).bytes(),
        );
        commands.extend(entry.data.bytes());
        commands.push(b'\n');
    }
}

/// The commands that make a merge's tree: all of it, spelled out.
fn listing(tree: &Tree) -> Vec<u8> {
    let mut commands = b"deleteall\n".to_vec();
    for (path, entry) in tree {
        modify(&mut commands, path, entry);
    }
    commands
}
