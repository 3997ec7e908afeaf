//! Policy findings that need the repository (`countersign policy check --repo`): a tier-1 glob
//! that matches no file is most likely a typo that leaves the tier-1 code unguarded.

use git2::{ObjectType, Repository, TreeWalkMode, TreeWalkResult};

use crate::diagnostic::Diagnostic;
use crate::globs::{self, GlobKind};
use crate::policy::Policy;
use crate::repo::{Context, GitError};

/// A warning for each `when.paths` glob that matches nothing in HEAD's tree.
pub fn unmatched_path_globs(policy: &Policy, repo: &Repository) -> Result<Vec<Diagnostic>, GitError> {
    let head = repo.head().and_then(|h| h.peel_to_commit()).context(|| "reading HEAD".into())?;
    let tree = head.tree().context(|| format!("reading the tree of {}", head.id()))?;
    let mut paths = Vec::new();
    tree.walk(TreeWalkMode::PreOrder, |dir, entry| {
        if entry.kind() != Some(ObjectType::Tree) {
            paths.push(format!("{dir}{}", String::from_utf8_lossy(entry.name_bytes())));
        }
        TreeWalkResult::Ok
    })
    .context(|| "listing HEAD's files".into())?;
    let mut findings = Vec::new();
    for rule in &policy.rules {
        let Some(globs) = &rule.when.paths else { continue };
        for (pattern, span) in globs.spanned_patterns() {
            let Ok(glob) = globs::compile(pattern, GlobKind::Path) else { continue };
            let matcher = glob.compile_matcher();
            if !paths.iter().any(|path| matcher.is_match(path)) {
                findings.push(Diagnostic::warning(
                    "glob-matches-nothing",
                    format!("`{pattern}` (rule `{}`) matches no file in HEAD ({})", rule.name, head.id()),
                    span,
                ));
            }
        }
    }
    Ok(findings)
}
