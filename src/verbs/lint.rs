//! Policy findings that need the repository (`countersign policy check --repo`, `install`): a
//! tier-1 glob that matches no file is most likely a typo that leaves the tier-1 code
//! unguarded; a committed policy that no role guards can be talked out of itself.

use git2::{ObjectType, Repository, TreeWalkMode, TreeWalkResult};
use jiff::civil::Date;

use crate::git::error::{Context, GitError};
use crate::git::policy_source::Location;
use crate::git::repo;
use engine::diagnostic::Diagnostic;
use engine::globs::{self, GlobKind};
use engine::policy::{Mode, Policy};

/// A warning for each `when.paths` glob that matches nothing in HEAD's tree.
pub fn unmatched_path_globs(policy: &Policy, repo: &Repository) -> Result<Vec<Diagnostic>, GitError> {
    let head = repo::resolve_ref(repo, "HEAD")?.ok_or_else(|| {
        GitError::new("reading HEAD".into(), git2::Error::from_str("HEAD names no commit yet"))
    })?;
    let head = repo.find_commit(head).context(|| format!("reading HEAD's commit {head}"))?;
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

/// A warning when the policy is committed (`--policy-ref REF:PATH`) and no enforced rule with a
/// `from_role` applies to every change of PATH on REF: then one peer review, or a typed
/// trailer, is all it takes to rewrite the gate (`mode = "warn"`, say) for every push after.
pub fn unguarded_committed_policy(policy: &Policy, location: &Location, today: Date) -> Option<Diagnostic> {
    let Location::Committed { refname, path } = location else { return None };
    let guarded = policy.rules.iter().any(|rule| {
        rule.mode == Mode::Enforce
            && rule.from_role.is_some()
            && rule.is_active(today)
            && rule.when.ai_assisted.is_none()
            && rule.when.refs.as_ref().is_none_or(|refs| refs.is_match(refname))
            && rule.when.paths.as_ref().is_some_and(|paths| paths.is_match(path))
    });
    (!guarded).then(|| {
        Diagnostic::warning(
            "policy-unguarded",
            format!(
                "the policy is committed at {location}, but no enforced rule with a `from_role` covers \
                 `{path}` there: a push that edits it (say to mode = \"warn\") needs only what other \
                 changes need. Add a rule such as {{ name = \"policy change\", when = {{ paths = \
                 [\"{path}\"] }}, from_role = \"director\" }}"
            ),
            None,
        )
    })
}
