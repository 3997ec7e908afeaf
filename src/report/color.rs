//! Colour for a person reading a terminal: `check`, `explain`, `policy check` and `policy test`
//! mark what failed in red, warnings in yellow, passes in green. The human text is rendered
//! plain first (the one renderer every audience shares) and painted here, line by line, only
//! when the output is a terminal that wants it. The hook never calls this: its stderr goes to
//! the pusher through git, and `remote:` lines carry no colour.
//!
//! Every piece of pusher text in the report has had its control characters escaped, so the
//! only escape codes in painted text are the ones added here.

use anstyle::{AnsiColor, Style};

/// `--color`: whether to paint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Choice {
    /// When the output is a terminal, `NO_COLOR` is unset or empty, and `TERM` is not `dumb`.
    #[default]
    Auto,
    /// Even into a pipe or a file.
    Always,
    Never,
}

impl Choice {
    /// Whether output to a stream that `is_terminal` (or not) gets colour; `env` reads the
    /// environment (`NO_COLOR`, `TERM`).
    pub fn paints(self, is_terminal: bool, env: &dyn Fn(&str) -> Option<String>) -> bool {
        match self {
            Choice::Always => true,
            Choice::Never => false,
            Choice::Auto => {
                is_terminal
                    && env("NO_COLOR").is_none_or(|v| v.is_empty())
                    && env("TERM").is_none_or(|term| term != "dumb")
            }
        }
    }
}

const FAIL: Style = AnsiColor::Red.on_default().bold();
const WARN: Style = AnsiColor::Yellow.on_default().bold();
const PASS: Style = AnsiColor::Green.on_default();
const DIM: Style = Style::new().dimmed();
const FIX: Style = AnsiColor::Cyan.on_default();

/// Markers the human renderers write at known places, and their colour: the first found on
/// a line paints that marker.
const MARKS: &[(&str, Style)] = &[
    ("x ", FAIL),
    ("! (warn only)", WARN),
    ("[FAIL]", FAIL),
    ("[WARN]", WARN),
    ("[pass]", PASS),
    ("[skip]", DIM),
    ("verdict: FAIL", FAIL),
    ("verdict: pass", PASS),
    ("countersign: check failed", FAIL),
    ("countersign: check passed", PASS),
    ("looks like an approval, but is not one:", WARN),
    ("fix:", FIX),
    ("MISMATCH", FAIL),
    ("error[", FAIL),
    ("warning[", WARN),
];

/// `text` with its markers painted.
pub fn paint(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start().len();
        let rest = &line[indent..];
        // The first marker where the line's own text begins, else one inside it (a finding's
        // `file:line:col: error[code]`, a table row's `MISMATCH`).
        let found = MARKS
            .iter()
            .find(|(mark, _)| rest.starts_with(mark))
            .map(|&(mark, style)| (indent, mark, style))
            .or_else(|| {
                MARKS
                    .iter()
                    .filter(|(mark, _)| mark.len() > 2)
                    .find_map(|&(mark, style)| line.find(mark).map(|at| (at, mark, style)))
            });
        match found {
            Some((at, mark, style)) => {
                let mark = mark.trim_end();
                out.push_str(&line[..at]);
                out.push_str(&format!("{style}{mark}{style:#}"));
                out.push_str(&line[at + mark.len()..]);
            }
            None => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_are_painted_and_the_rest_is_left_as_it_is() {
        let painted = paint("    x two-person review [missing-approval]\n      needs 1\n");
        assert_eq!(
            painted,
            "    \u{1b}[1m\u{1b}[31mx\u{1b}[0m two-person review [missing-approval]\n      needs 1\n"
        );
        let finding = paint("p.toml:3:1: warning[unused-role]: no rule\n");
        assert!(
            finding.starts_with("p.toml:3:1: \u{1b}[1m\u{1b}[33mwarning[\u{1b}[0munused-role]"),
            "{finding:?}"
        );
        assert_eq!(paint("  abc \"subject\" by Bob\n"), "  abc \"subject\" by Bob\n");
    }

    #[test]
    fn auto_paints_a_terminal_unless_no_color_or_a_dumb_terminal() {
        let none = |_: &str| None;
        assert!(Choice::Auto.paints(true, &none));
        assert!(!Choice::Auto.paints(false, &none));
        assert!(!Choice::Auto.paints(true, &|name| (name == "NO_COLOR").then(|| "1".into())));
        assert!(Choice::Auto.paints(true, &|name| (name == "NO_COLOR").then(String::new)));
        assert!(!Choice::Auto.paints(true, &|name| (name == "TERM").then(|| "dumb".into())));
        assert!(Choice::Always.paints(false, &|_| Some("1".into())));
        assert!(!Choice::Never.paints(true, &none));
    }
}
