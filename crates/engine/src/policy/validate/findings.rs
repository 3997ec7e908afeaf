//! Warnings about a policy that loads but would not do what its admin meant: a glob that can
//! match no repository path or ref name, a role held by people but asked for by no rule (a typo
//! on one side or the other), and role rules whose approvals anyone could type. None needs the
//! repository; each points at the text with `file:line:column`.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use alloc::collections::BTreeSet;
use core::ops::Range;

use toml::Spanned;

use super::Validator;
use crate::diagnostic::Diagnostic;
use crate::policy::raw::RawPolicy;
use crate::policy::{Policy, Rule, Signatures};

/// What the findings need of the raw policy, taken before validation consumes it.
#[derive(Default)]
pub(super) struct Seen {
    /// `when.paths` globs, with their rule's name.
    paths: Vec<(String, Spanned<String>)>,
    /// `when.refs` and `[gate] protected` globs.
    refs: Vec<Spanned<String>>,
    /// Every role a `[[person]]` holds, where it is written.
    held: Vec<Spanned<String>>,
    /// Each rule with `from_role`: its name and where the role is written.
    role_rules: Vec<(String, Range<usize>)>,
}

impl Seen {
    pub(super) fn of(raw: &RawPolicy) -> Seen {
        let mut seen = Seen::default();
        for rule in &raw.rule {
            let name = rule.name.get_ref().trim().to_string();
            if let Some(when) = &rule.when {
                let paths = when.paths.iter().flatten();
                seen.paths.extend(paths.map(|glob| (name.clone(), glob.clone())));
                seen.refs.extend(when.refs.iter().flatten().cloned());
            }
            if let Some(role) = &rule.from_role {
                seen.role_rules.push((name, role.span()));
            }
        }
        seen.refs.extend(raw.gate.protected.iter().flatten().cloned());
        seen.held = raw.person.iter().flat_map(|p| p.roles.iter().cloned()).collect();
        seen
    }
}

impl Validator {
    pub(super) fn findings(&mut self, seen: &Seen, policy: &Policy) {
        for (rule, glob) in &seen.paths {
            if let Some(why) = unmatchable_path(glob.get_ref()) {
                self.warn(
                    "glob-never-matches",
                    format!("`{}` (rule `{rule}`) {why}", glob.get_ref()),
                    glob.span(),
                );
            }
        }
        for glob in &seen.refs {
            if let Some(why) = unmatchable_ref(glob.get_ref()) {
                self.warn("glob-never-matches", format!("`{}` {why}", glob.get_ref()), glob.span());
            }
        }
        let used: BTreeSet<&str> = policy
            .rules
            .iter()
            .filter_map(|r| r.from_role.as_deref())
            .chain(policy.break_glass.roles.iter().map(String::as_str))
            .collect();
        let mut told = BTreeSet::new();
        for role in &seen.held {
            let name = role.get_ref().as_str();
            if used.contains(name) || !told.insert(name) {
                continue;
            }
            let hint = did_you_mean(name, used.iter().copied());
            self.warn(
                "unused-role",
                format!("no rule (and no `[override] roles`) uses role `{name}`: holding it gives no approval right{hint}"),
                role.span(),
            );
        }
        let unsigned: Vec<&(String, Range<usize>)> = seen
            .role_rules
            .iter()
            .filter(|(name, _)| {
                // An expired rule counts nothing any more.
                let live = |r: &&Rule| r.until.is_none_or(|until| until >= self.today);
                policy
                    .rules
                    .iter()
                    .filter(live)
                    .any(|r| &r.name == name && r.signatures != Signatures::Required)
            })
            .collect();
        if let Some((_, span)) = unsigned.first() {
            let names: Vec<&str> = unsigned.iter().map(|(name, _)| name.as_str()).collect();
            self.warn(
                "unsigned-role-approvals",
                format!(
                    "role approvals are claims: anyone who can push can type an `Approved-by:` line \
                     naming a listed person, and rule(s) `{}` count it; to make them proof, set \
                     signatures = \"required\" and list the people's `keys`",
                    names.join("`, `")
                ),
                span.clone(),
            );
        }
    }

    fn warn(&mut self, code: &'static str, message: String, span: Range<usize>) {
        self.diagnostics.push(Diagnostic::warning(code, message, Some(span)));
    }
}

/// Why a `when.paths` glob can match no path git reports (relative, `/`-separated, no `.` or
/// `..` components), or `None` if it can.
fn unmatchable_path(glob: &str) -> Option<String> {
    let fixed = glob.trim_start_matches("./").trim_start_matches('/');
    let why = if glob.starts_with('/') {
        "is anchored with a leading `/`, but paths are relative to the repository's root"
    } else if glob.starts_with("./") {
        "starts with `./`, but paths are relative to the repository's root, without it"
    } else if glob.split('/').any(|part| part == ".." || part == ".") {
        return Some("has a `.` or `..` component: no repository path does".into());
    } else if glob.contains("//") {
        return Some("has an empty component (`//`): no repository path does".into());
    } else if glob.is_empty() {
        return Some("is empty".into());
    } else {
        return None;
    };
    Some(format!("{why}, so it matches nothing; did you mean `{fixed}`?"))
}

/// Why a ref glob can match no full ref name (`refs/...`), or `None` if it can.
fn unmatchable_ref(glob: &str) -> Option<String> {
    let wildcard_first = glob.starts_with(['*', '?', '[', '{']);
    if glob.starts_with("refs/") || wildcard_first {
        return None;
    }
    let fixed = glob.trim_start_matches('/');
    let fixed = if fixed.starts_with("refs/") { fixed.to_string() } else { format!("refs/heads/{fixed}") };
    Some(format!("matches no ref: refs are matched by their full name; did you mean `{fixed}`?"))
}

/// ", did you mean `senior`?" for the known name closest to `name`, if one is close enough.
pub(super) fn did_you_mean<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> String {
    known
        .map(|candidate| (strsim::jaro(name, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| format!("; did you mean `{candidate}`?"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codeowners_style_globs_are_told_how_to_write_them() {
        for (glob, fixed) in [("/infra/", "infra/"), ("/infra/**", "infra/**"), ("./infra/**", "infra/**")] {
            let why = unmatchable_path(glob).unwrap();
            assert!(why.ends_with(&format!("did you mean `{fixed}`?")), "{glob}: {why}");
        }
        assert!(unmatchable_path("infra/../x").is_some());
        assert!(unmatchable_path("infra//x").is_some());
        assert_eq!(unmatchable_path("infra/**"), None);
        assert_eq!(unmatchable_path("**/policy.toml"), None);
    }

    #[test]
    fn ref_globs_need_the_full_name() {
        assert!(unmatchable_ref("main").unwrap().ends_with("did you mean `refs/heads/main`?"));
        assert_eq!(unmatchable_ref("refs/heads/**"), None);
        assert_eq!(unmatchable_ref("**/main"), None);
    }

    #[test]
    fn did_you_mean_names_a_close_role_only() {
        let known = ["senior", "director"];
        assert_eq!(did_you_mean("senoir", known.into_iter()), "; did you mean `senior`?");
        assert_eq!(did_you_mean("directors", known.into_iter()), "; did you mean `director`?");
        assert_eq!(did_you_mean("auditor", known.into_iter()), "");
    }
}
