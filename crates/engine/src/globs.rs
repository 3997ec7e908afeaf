//! Glob lists from the policy, compiled once, that can say *which* pattern matched.
//!
//! Semantics are gitignore-like for `**` but anchored: a pattern matches a whole
//! repository-relative path (or ref name), `*` never crosses `/`, `**` does, matching is
//! case-sensitive. A pattern ending in `/` means everything below that directory. Email globs
//! are compiled case-insensitively because emails compare that way.

use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use core::ops::Range;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

#[derive(Debug, Clone)]
pub struct GlobList {
    patterns: Vec<String>,
    /// Where each pattern stands in the policy file, for findings that point at it.
    spans: Vec<Option<Range<usize>>>,
    set: GlobSet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobKind {
    /// Paths and ref names: case-sensitive, `*` stays within one `/` component.
    Path,
    /// Email addresses: case-insensitive.
    Email,
}

impl GlobList {
    /// Compiles `patterns`; on failure returns the index of the bad pattern and why.
    pub fn new(patterns: Vec<String>, kind: GlobKind) -> Result<Self, (usize, globset::Error)> {
        let mut builder = GlobSetBuilder::new();
        for (index, pattern) in patterns.iter().enumerate() {
            builder.add(compile(pattern, kind).map_err(|e| (index, e))?);
        }
        let set = builder.build().map_err(|e| (0, e))?;
        Ok(GlobList { spans: vec![None; patterns.len()], patterns, set })
    }

    /// Records where each pattern was written (same order as the patterns).
    pub fn with_spans(mut self, spans: Vec<Range<usize>>) -> Self {
        self.spans = spans.into_iter().map(Some).collect();
        self
    }

    pub fn empty() -> Self {
        GlobList { patterns: Vec::new(), spans: Vec::new(), set: GlobSet::empty() }
    }

    /// Each pattern with its span in the policy file, if it came from one.
    pub fn spanned_patterns(&self) -> impl Iterator<Item = (&str, Option<Range<usize>>)> {
        self.patterns.iter().map(String::as_str).zip(self.spans.iter().cloned())
    }

    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// For each pattern, the text before its first wildcard (or escape): every string the
    /// pattern matches starts with it, so a directory that neither lies on nor below it holds
    /// no match.
    pub fn literal_prefixes(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().map(|pattern| {
            let end = pattern.find(['*', '?', '[', '{', '\\']).unwrap_or(pattern.len());
            &pattern[..end]
        })
    }

    /// The directories a pattern takes whole (`infra/**`, `infra/`): it matches every path in
    /// and below them, and the directory's own name.
    pub fn whole_directories(&self) -> impl Iterator<Item = &str> {
        self.patterns.iter().filter_map(|pattern| {
            let dir = pattern.strip_suffix("/**").or_else(|| pattern.strip_suffix('/'))?;
            let literal = !dir.is_empty() && !dir.contains(['*', '?', '[', ']', '{', '}', '\\']);
            literal.then_some(dir)
        })
    }

    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    pub fn is_match(&self, candidate: &str) -> bool {
        self.set.is_match(candidate)
    }

    /// The first pattern (in policy order) that matches, for reports that cite it.
    pub fn first_match(&self, candidate: &str) -> Option<&str> {
        self.set.matches(candidate).into_iter().min().map(|i| self.patterns[i].as_str())
    }
}

/// Compiles one pattern alone, so validation can report each bad pattern at its own span.
///
/// `dir/**` (and `dir/`) also match `dir` itself: a changed path is a file or a gitlink, and a
/// submodule that replaced a tier-1 directory is still that tier-1 directory.
pub fn compile(pattern: &str, kind: GlobKind) -> Result<globset::Glob, globset::Error> {
    let expanded;
    let directory = match kind {
        GlobKind::Path => pattern.strip_suffix('/').or_else(|| pattern.strip_suffix("/**")),
        GlobKind::Email => None,
    };
    let pattern = match directory {
        Some(dir) if !dir.is_empty() && !dir.contains(['{', '}']) => {
            // Inside braces a comma separates alternatives: one in the name is escaped.
            let dir = dir.replace(',', "\\,");
            expanded = format!("{{{dir},{dir}/**}}");
            &expanded
        }
        _ => pattern,
    };
    GlobBuilder::new(pattern)
        .literal_separator(kind == GlobKind::Path)
        .case_insensitive(kind == GlobKind::Email)
        .backslash_escape(true)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(patterns: &[&str]) -> GlobList {
        GlobList::new(patterns.iter().map(|p| p.to_string()).collect(), GlobKind::Path).unwrap()
    }

    #[test]
    fn double_star_crosses_directories_single_star_does_not() {
        let globs = paths(&["infra/**", "src/*.rs"]);
        assert!(globs.is_match("infra/a/b/c.tf"));
        assert!(globs.is_match("src/main.rs"));
        assert!(!globs.is_match("src/deep/main.rs"));
        assert!(!globs.is_match("other/infra/x"));
    }

    #[test]
    fn patterns_are_anchored_and_case_sensitive() {
        let globs = paths(&["policy.toml"]);
        assert!(globs.is_match("policy.toml"));
        assert!(!globs.is_match("sub/policy.toml"));
        assert!(!globs.is_match("Policy.toml"));
    }

    #[test]
    fn trailing_slash_means_everything_below() {
        let globs = paths(&["payments/"]);
        assert!(globs.is_match("payments/api/x.rs"));
        assert!(!globs.is_match("payments-old/x.rs"));
    }

    #[test]
    fn a_directory_glob_matches_a_gitlink_at_the_directory() {
        let globs = paths(&["infra/**", "vendor/"]);
        assert!(globs.is_match("infra") && globs.is_match("vendor"));
        assert!(!globs.is_match("infrastructure"));
    }

    #[test]
    fn ref_globs_do_not_cross_components_with_one_star() {
        let globs = paths(&["refs/heads/release/*", "refs/heads/main"]);
        assert!(globs.is_match("refs/heads/release/1.0"));
        assert!(!globs.is_match("refs/heads/release/1.0/hotfix"));
        assert!(!globs.is_match("refs/heads/main/x"));
    }

    #[test]
    fn literal_prefixes_stop_at_the_first_wildcard() {
        let globs = paths(&["infra/**", "services/*/db/", "policy.toml", "**/secrets", "a\\*b", "x{y,z}"]);
        let prefixes: Vec<&str> = globs.literal_prefixes().collect();
        assert_eq!(prefixes, ["infra/", "services/", "policy.toml", "", "a", "x"]);
    }

    #[test]
    fn whole_directories_are_the_literal_ones_a_pattern_ends_below() {
        let globs =
            paths(&["infra/**", "services/m3/", "services/*/db/**", "policy.toml", "a/**/b", "x{y}/**"]);
        assert_eq!(globs.whole_directories().collect::<Vec<_>>(), ["infra", "services/m3"]);
        for taken in ["infra", "infra/x", "infra/x/y", "services/m3", "services/m3/z"] {
            assert!(globs.is_match(taken), "{taken}");
        }
    }

    #[test]
    fn a_directory_named_with_a_comma_is_one_directory() {
        let globs = paths(&["a,b/**"]);
        for path in ["a,b", "a,b/x", "a,b/x/y"] {
            assert!(globs.is_match(path), "{path}");
        }
        for path in ["a", "b", "b/x", "a/x"] {
            assert!(!globs.is_match(path), "{path}");
        }
    }

    #[test]
    fn email_globs_ignore_case() {
        let globs = GlobList::new(vec!["*@Agents.Example.com".into()], GlobKind::Email).unwrap();
        assert!(globs.is_match("bot@agents.example.COM"));
        assert!(!globs.is_match("bot@example.com"));
    }

    #[test]
    fn first_match_cites_the_earliest_pattern() {
        let globs = paths(&["infra/db/**", "infra/**"]);
        assert_eq!(globs.first_match("infra/db/x"), Some("infra/db/**"));
        assert_eq!(globs.first_match("infra/y"), Some("infra/**"));
        assert_eq!(globs.first_match("app/y"), None);
    }
}
