//! The gate's invariant over seeded random servers: protected and unprotected refs, alias
//! chains (dangling, looping), and pushes that create, fast-forward, rewrite and delete through
//! any name. After every push, against the refs before and after and the audit line:
//! - a push the hook refused changed no ref;
//! - after an accepted push, every ref that changed and that a protected name reaches (itself,
//!   or an alias whose chain ends at it) was neither deleted nor rewritten, every commit it
//!   gained beyond the protected refs' old tips is reviewed, and the audit line judged it;
//! - the hook refuses exactly when this test's own reading of the refs says it must.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::util::*;

const DIRECT: [&str; 4] =
    ["refs/heads/main", "refs/heads/release/1", "refs/heads/topic", "refs/heads/feature"];
const NEW: [&str; 2] = ["refs/heads/release/2", "refs/heads/scratch"];
const ALIASES: [&str; 4] =
    ["refs/heads/alias-a", "refs/heads/release/alias-b", "refs/heads/release/alias-c", "refs/heads/alias-d"];

fn protected_name(name: &str) -> bool {
    name == "refs/heads/main" || name.starts_with("refs/heads/release/")
}

fn pool() -> Vec<&'static str> {
    DIRECT.iter().chain(&NEW).chain(&ALIASES).copied().collect()
}

/// Each name of the pool: its symbolic target if it is symbolic, else its value if it exists.
#[derive(Clone, PartialEq, Eq, Debug)]
struct Refs(BTreeMap<String, (Option<String>, Option<String>)>);

impl Refs {
    fn read(server: &Server) -> Refs {
        let mut refs = BTreeMap::new();
        for name in pool() {
            let symbolic =
                server.git_output(&server.bare, &["symbolic-ref", "--quiet", "--no-recurse", name]);
            let target = symbolic
                .status
                .success()
                .then(|| String::from_utf8(symbolic.stdout).unwrap().trim().to_string());
            let value = if target.is_some() { None } else { server.server_ref(name) };
            refs.insert(name.to_string(), (target, value));
        }
        Refs(refs)
    }

    /// The end of `name`'s chain, as git follows it (four links at most), `None` if broken.
    fn resolve<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        let mut current = name;
        for _ in 0..5 {
            match self.0.get(current).and_then(|(target, _)| target.as_deref()) {
                Some(target) => current = target,
                None => return Some(current),
            }
        }
        None
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|(_, value)| value.as_deref())
    }

    /// Whether a protected name reaches `target`.
    fn protects(&self, target: &str) -> bool {
        protected_name(target)
            || self.0.keys().any(|name| protected_name(name) && self.resolve(name) == Some(target))
    }

    fn protected_tips(&self) -> Vec<String> {
        let direct = self.0.iter().filter(|(_, (target, value))| target.is_none() && value.is_some());
        direct.filter(|(name, _)| self.protects(name)).map(|(_, (_, value))| value.clone().unwrap()).collect()
    }
}

struct World {
    server: Server,
    log: PathBuf,
    _logs: tempfile::TempDir,
    rng: XorShift,
    made: usize,
}

impl World {
    fn new(seed: u64) -> World {
        let logs = tempfile::tempdir().unwrap();
        let log = logs.path().join("audit.jsonl");
        // Trailer rules only: a rewrite is a root commit, which would touch the tier-1 paths.
        let tier1 = POLICY.find("[[rule]]\nname = \"director audit").unwrap();
        let policy = format!("{}\n[audit]\npath = \"{}\"\n", &POLICY[..tier1], log.display());
        let server = Server::new(&policy);
        let mut world = World { server, log, _logs: logs, rng: XorShift(seed), made: 0 };
        let main = world.server.server_ref("refs/heads/main").unwrap();
        let bare = world.server.bare.clone();
        for name in &DIRECT[1..] {
            let reviewed = world.rng.percent(50);
            let commit = world.commit_on(&bare, &main, reviewed);
            world.server.git_server(&["update-ref", name, &commit]);
        }
        for alias in ALIASES {
            let targets: Vec<&str> = pool().into_iter().filter(|name| *name != alias).collect();
            let target = targets[world.rng.below(targets.len())];
            world.server.git_server(&["symbolic-ref", alias, target]);
        }
        world.fetch();
        world
    }

    /// A new commit on `parent`, made in `dir`, reviewed or not.
    fn commit_on(&mut self, dir: &Path, parent: &str, reviewed: bool) -> String {
        self.made += 1;
        let message = match reviewed {
            true => format!("Change {}\n\n{REVIEWED}\n", self.made),
            false => format!("Unreviewed {}\n", self.made),
        };
        let tree = format!("{parent}^{{tree}}");
        self.server.git(dir, &["commit-tree", &tree, "-p", parent, "-m", &message]).trim().to_string()
    }

    fn fetch(&self) {
        self.server.git_work(&["fetch", "-q", "origin", "+refs/heads/*:refs/remotes/srv/*"]);
    }

    /// One random push's refspec.
    fn random_push(&mut self, before: &Refs) -> String {
        let names = pool();
        let name = names[self.rng.below(names.len())];
        let work = self.server.work.clone();
        let current = before.resolve(name).and_then(|target| before.value(target)).map(str::to_string);
        // main is protected: never deleted.
        let main = before.value("refs/heads/main").unwrap().to_string();
        match (self.rng.below(4), current) {
            (0, Some(_)) => format!(":{name}"),
            // Fast-forward (or create from main), reviewed or not.
            (1 | 2, current) => {
                let parent = current.unwrap_or(main);
                let reviewed = self.rng.percent(60);
                format!("{}:{name}", self.commit_on(&work, &parent, reviewed))
            }
            // A rewrite: a new root commit, which contains nothing the ref held.
            _ => {
                self.made += 1;
                let message = match self.rng.percent(70) {
                    true => format!("Rewrite {}\n\n{REVIEWED}\n", self.made),
                    false => format!("Unreviewed rewrite {}\n", self.made),
                };
                let tree = format!("{main}^{{tree}}");
                let root = self.server.git(&work, &["commit-tree", &tree, "-m", &message]);
                format!("{}:{name}", root.trim())
            }
        }
    }
}

/// What this test says the hook must do with `spec` on a server holding `before`.
fn must_refuse(server: &Server, before: &Refs, spec: &str) -> bool {
    let (new, name) = spec.split_once(':').unwrap();
    let Some(target) = before.resolve(name) else { return true };
    if !before.protects(target) {
        return false;
    }
    let old = before.value(target);
    if new.is_empty() {
        return old.is_some();
    }
    if let Some(old) = old {
        let contains = server.git_output(&server.work, &["merge-base", "--is-ancestor", old, new]);
        if !contains.status.success() {
            return true;
        }
    }
    let mut args = vec!["log".to_string(), "--format=%B%x00".into(), new.to_string(), "--not".into()];
    args.extend(before.protected_tips());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    server
        .git(&server.work, &args)
        .split('\0')
        .any(|message| !message.trim().is_empty() && !message.contains(REVIEWED))
}

#[test]
fn every_ref_a_protected_name_reaches_is_judged_and_a_refusal_changes_nothing() {
    let mut pushes = 0;
    let mut refused = 0;
    for seed in 1..=8u64 {
        let mut world = World::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        for _ in 0..12 {
            let before = Refs::read(&world.server);
            let spec = world.random_push(&before);
            let expected_refusal = must_refuse(&world.server, &before, &spec);
            let lines_before = Server::audit_lines(&world.log).len();
            let push = world.server.push(&["--force", "origin", &spec]);
            let after = Refs::read(&world.server);
            let lines = Server::audit_lines(&world.log);
            if lines.len() == lines_before {
                // git refused on the client's side (say, deleting a ref it cannot see).
                assert_eq!(before, after, "seed {seed}, {spec}: no hook ran, yet refs changed");
                continue;
            }
            pushes += 1;
            let line = &lines[lines_before];
            let accepted = line["decision"] == "accept";
            assert_eq!(!accepted, expected_refusal, "seed {seed}, {spec}:\n{before:?}\n{}", push.stderr);
            if !accepted {
                refused += 1;
                assert_eq!(before, after, "seed {seed}, {spec}: a refused push changed refs");
                continue;
            }
            for name in pool() {
                let (Some(was), now) = (before.resolve(name), after.resolve(name)) else { continue };
                let moved = before.value(was) != now.and_then(|now| after.value(now));
                if !moved || !before.protects(was) {
                    continue;
                }
                let judged = line["refs"].as_array().unwrap().iter().any(|r| {
                    let writes = r.get("writes").unwrap_or(&r["ref"]);
                    writes == was && r.get("note").is_none_or(|note| note != "not a protected ref")
                });
                assert!(judged, "seed {seed}, {spec}: {was} moved unjudged:\n{line}");
            }
            world.fetch();
        }
    }
    // The seeds exercise both outcomes.
    assert!(refused > 0 && refused < pushes, "{refused} of {pushes} refused");
}
