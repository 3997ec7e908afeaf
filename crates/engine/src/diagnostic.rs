//! Findings about a policy file, each pointing at `file:line:column` with the offending text.
//!
//! A diagnostic keeps the byte span the TOML parser gave; line and column are derived only
//! when rendering, so the same finding can be shown to an admin, a pusher, or in JSON.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use core::fmt;
use core::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One finding: a stable kebab-case `code`, a sentence, and where in the file it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub span: Option<Range<usize>>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Diagnostic { severity: Severity::Error, code, message: message.into(), span }
    }

    pub fn warning(code: &'static str, message: impl Into<String>, span: Option<Range<usize>>) -> Self {
        Diagnostic { severity: Severity::Warning, code, message: message.into(), span }
    }

    /// Renders against the file it was found in.
    pub fn display<'a>(&'a self, file: &'a str, source: &'a str) -> DisplayDiagnostic<'a> {
        DisplayDiagnostic { diagnostic: self, file, source }
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = floor_char_boundary(source, offset.min(source.len()));
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn floor_char_boundary(s: &str, mut index: usize) -> usize {
    while !s.is_char_boundary(index) {
        index -= 1;
    }
    index
}

pub struct DisplayDiagnostic<'a> {
    diagnostic: &'a Diagnostic,
    file: &'a str,
    source: &'a str,
}

impl fmt::Display for DisplayDiagnostic<'_> {
    /// `file:line:col: error[code]: message`, then the line with a caret under the span.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.diagnostic;
        let severity = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let Some(span) = &d.span else {
            return write!(f, "{}: {severity}[{}]: {}", self.file, d.code, d.message);
        };
        let (line, column) = line_column(self.source, span.start);
        write!(f, "{}:{line}:{column}: {severity}[{}]: {}", self.file, d.code, d.message)?;
        let text: Vec<char> = self.source.lines().nth(line - 1).unwrap_or("").chars().collect();
        let span_chars = self
            .source
            .get(span.clone())
            .map_or(1, |s| s.lines().next().unwrap_or("").chars().count().max(1));
        // A window of the line around the column: a finding on a 100 KB line shows a screenful.
        let start = (column - 1).saturating_sub(WINDOW_BEFORE).min(text.len());
        let end = (start + WINDOW).min(text.len());
        let shown: String = text[start..end].iter().collect();
        let (before, after) = (if start > 0 { "…" } else { "" }, if end < text.len() { "…" } else { "" });
        let pad = " ".repeat(column - 1 - start + before.chars().count());
        let carets = "^".repeat(span_chars.min(end.saturating_sub(column - 1)).max(1));
        let gutter = " ".repeat(line.to_string().len());
        write!(f, "\n{gutter} |\n{line} | {before}{shown}{after}\n{gutter} | {pad}{carets}")
    }
}

/// How much of a long line a finding shows: this many characters, from this many before it.
const WINDOW: usize = 100;
const WINDOW_BEFORE: usize = 40;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let source = "a = 1\nbé = 2\n";
        assert_eq!(line_column(source, 0), (1, 1));
        assert_eq!(line_column(source, 6), (2, 1));
        // 'é' is two bytes but one column.
        assert_eq!(line_column(source, source.find(" = 2").unwrap()), (2, 3));
    }

    #[test]
    fn a_finding_far_along_a_long_line_shows_a_window() {
        let source = format!("{}x = 1\n", " ".repeat(70_000));
        let d = Diagnostic::error("bad", "here", Some(70_000..70_001));
        let shown = d.display("p.toml", &source).to_string();
        assert!(shown.starts_with("p.toml:1:70001: error[bad]: here"), "{}", &shown[..60]);
        assert!(shown.len() < 400, "{shown}");
        let lines: Vec<&str> = shown.lines().collect();
        let caret = lines[3].find('^').unwrap();
        assert_eq!(lines[2].chars().nth(caret), Some('x'), "{shown}");
    }

    #[test]
    fn renders_file_line_column_and_caret() {
        let source = "version = 1\nmode = \"x\"\n";
        let d = Diagnostic::error("bad-value", "unknown mode", Some(7 + 12..10 + 12));
        let shown = d.display("policy.toml", source).to_string();
        assert!(shown.starts_with("policy.toml:2:8: error[bad-value]: unknown mode"), "{shown}");
        assert!(shown.contains("2 | mode = \"x\""), "{shown}");
        assert!(shown.ends_with("|        ^^^"), "{shown}");
    }
}
