//! The main crate's layers depend one way: `verbs` → `gate` → `report` → `git` (the engine is a
//! crate of its own, whose boundary the compiler keeps). A `use crate::verbs` in `git/` would
//! compile, so this test reads every source file's `crate::` paths and refuses an upward one.

use std::path::Path;

/// Each layer, and the layers it may use.
const MAY_USE: &[(&str, &[&str])] = &[
    ("git", &["git"]),
    ("report", &["report", "git"]),
    ("gate", &["gate", "report", "git"]),
    ("verbs", &["verbs", "gate", "report", "git"]),
];

#[test]
fn layers_depend_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut upward = Vec::new();
    let mut files_read = 0;
    for (layer, allowed) in MAY_USE {
        let mut files = vec![src.join(layer)];
        while let Some(path) = files.pop() {
            if path.is_dir() {
                files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
                continue;
            }
            files_read += 1;
            for used in layers_used(&std::fs::read_to_string(&path).unwrap()) {
                if !allowed.contains(&used) {
                    upward.push(format!("{}: {layer} uses {used}", path.display()));
                }
            }
        }
    }
    assert!(files_read > 30, "the layers' folders hold the crate's code ({files_read} files read)");
    assert!(upward.is_empty(), "a layer uses one above it:\n{}", upward.join("\n"));
}

/// The layers a file's code names through `crate::` paths, braced lists included; comments
/// (doc links among them) name freely.
fn layers_used(source: &str) -> Vec<&str> {
    let code: Vec<&str> = source.lines().map(|line| line.split("//").next().unwrap_or("")).collect();
    let mut used = Vec::new();
    for line in &code {
        for rest in line.split("crate::").skip(1) {
            let names = match rest.strip_prefix('{') {
                Some(list) => list.split(',').collect(),
                None => vec![rest],
            };
            used.extend(names.into_iter().map(|name| {
                let name = name.trim_start();
                &name[..name.find(|c: char| !c.is_alphanumeric() && c != '_').unwrap_or(name.len())]
            }));
        }
    }
    // A braced list rustfmt broke over lines: its later lines name layers too.
    let mut in_list = false;
    for line in &code {
        if in_list {
            used.extend(line.split(',').map(|name| name.trim()).map(|name| {
                &name[..name.find(|c: char| !c.is_alphanumeric() && c != '_').unwrap_or(name.len())]
            }));
        }
        in_list = if in_list { !line.contains('}') } else { line.trim_end().ends_with("crate::{") };
    }
    used.retain(|name| MAY_USE.iter().any(|(layer, _)| layer == name));
    used
}

#[test]
fn every_form_of_a_layer_path_is_read() {
    assert_eq!(layers_used("use crate::verbs::hook;"), ["verbs"]);
    assert_eq!(
        layers_used("    crate::gate::judge_push(crate::report::Audience::Pusher)"),
        ["gate", "report"]
    );
    assert_eq!(layers_used("use crate::{git::repo, verbs::check};"), ["git", "verbs"]);
    assert_eq!(layers_used("use crate::{\n    git::repo, \n    verbs::check, \n};"), ["git", "verbs"]);
    assert!(layers_used("/// [`crate::verbs::hook`] explains it").is_empty(), "comments name freely");
    assert!(layers_used("use crate::cli::Target;").is_empty(), "only the layers count");
}
