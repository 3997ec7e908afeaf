//! The trailers of a commit message, exactly as `git log --format='%(trailers:only,unfold)'`
//! (git 2.47) reports them.
//!
//! Git decides in three steps, mirrored here one function each:
//! 1. `log_message`: where the message starts and ends (`pretty.c`, `commit.c`,
//!    `wt-status.c`). No `---` patch divider: `%(trailers)` sets `no_divider`.
//! 2. `trailer_block_start`: whether the last paragraph is a trailer block at all
//!    (`find_trailer_block_start` in `trailer.c`).
//! 3. `trailers_in_block`: which lines of the block are `key: value` trailers, with their
//!    continuation lines (`trailer_block_get`, `parse_trailers`, `unfold_value`).
//!
//! Invariants:
//! - Keys and values borrow from the input; only a value folded over several lines is
//!   allocated, to unfold it.
//! - Never fails, never panics, runs in linear time: every step is one pass over the lines.
//! - Every decision looks at ASCII bytes only (git's `ctype` knows nothing above 127), so a
//!   message decoded with `String::from_utf8_lossy` yields the same trailers as git finds in
//!   the raw bytes; only the invalid bytes inside values differ, as U+FFFD.
//! - Git's trailer configuration (`trailer.<key>.*`, `trailer.separators`,
//!   `core.commentChar`) is taken to be unset: the separator is `:`, comments start with `#`.

use alloc::string::String;
use alloc::vec::Vec;

use alloc::borrow::Cow;

/// One `key: value` line of the trailer block, as git parses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer<'a> {
    /// As written (case preserved), trimmed.
    pub key: &'a str,
    /// Trimmed; continuation lines unfolded into single spaces (owned only then).
    pub value: Cow<'a, str>,
}

/// The trailers of a commit message (the message as git log would see it, i.e. already
/// decoded to UTF-8; callers use `from_utf8_lossy` for undecodable bytes). Never fails,
/// never panics, linear time.
pub fn parse(message: &str) -> Vec<Trailer<'_>> {
    let log = log_message(message);
    trailers_in_block(&log[trailer_block_start(log)..])
}

/// Git's trailer prefixes that let a paragraph pass with only 25% trailer lines.
const GIT_GENERATED_PREFIXES: [&str; 2] = ["Signed-off-by: ", "(cherry picked from commit "];

/// The line `git commit -v` puts above the diff; everything from it on is not message.
const SCISSORS_AFTER_NEWLINE: &str = "\n# ------------------------ >8 ------------------------\n";

/// The part of `message` in which git looks for trailers.
///
/// Git reads the message as a C string, so it ends at the first NUL. It starts at the
/// subject, after blank lines (`pretty.c` skips them), and ends before the scissors line and
/// any trailing run of comment lines, empty lines and old-style `Conflicts:` blocks that
/// `git commit` would have left behind.
fn log_message(message: &str) -> &str {
    let message = message.split('\0').next().unwrap_or_default();
    let first_content = lines_with_starts(message)
        .find(|(_, line)| !is_blank_line(line))
        .map_or(message.len(), |(start, _)| start);
    let message = &message[first_content..];
    &message[..end_of_log_message(message)]
}

/// Where the log message ends: git's `find_end_of_log_message` minus
/// `ignored_log_message_bytes`.
fn end_of_log_message(message: &str) -> usize {
    let cutoff = scissors_line_start(message);
    // Git's `boc`: start of the current ignorable run, with 0 meaning "none". So a run
    // beginning at the subject is not recorded, and a `Conflicts:` subject keeps its block
    // open past later lines: in "Conflicts:\n \nA: b\n#c\n\tfoo\n" git ignores "\tfoo" too.
    let mut ignorable_run_start = 0;
    let mut in_conflicts_block = false;
    for (start, line) in lines_with_starts(&message[..cutoff]) {
        if line.starts_with('#') || line == "\n" {
            if ignorable_run_start == 0 {
                ignorable_run_start = start;
            }
        } else if line == "Conflicts:\n" {
            in_conflicts_block = true;
            if ignorable_run_start == 0 {
                ignorable_run_start = start;
            }
        } else if in_conflicts_block && line.starts_with('\t') {
            // A conflicted path: the run goes on.
        } else if ignorable_run_start != 0 {
            ignorable_run_start = 0;
            in_conflicts_block = false;
        }
    }
    if ignorable_run_start != 0 { ignorable_run_start } else { cutoff }
}

/// Start of the first scissors line (a whole line, newline included), or the end.
fn scissors_line_start(message: &str) -> usize {
    if message.starts_with(&SCISSORS_AFTER_NEWLINE[1..]) {
        return 0;
    }
    message.find(SCISSORS_AFTER_NEWLINE).map_or(message.len(), |newline| newline + 1)
}

/// Where the trailer block of `log` starts, or `log.len()` if it has none.
///
/// The block is the last paragraph, unless that is the first paragraph (the title, which
/// ends at the first blank line) — so a message without a blank line has no trailers.
/// The paragraph is scanned from its end, as git does, because only the counts up to the
/// blank line above it matter.
fn trailer_block_start(log: &str) -> usize {
    let Some(title_end) =
        lines_with_starts(log).find(|(_, line)| is_blank_line(line)).map(|(start, _)| start)
    else {
        return log.len();
    };
    let mut paragraph = ParagraphTally::default();
    let mut seen_content = false;
    let mut line_start = log.len();
    for line in log[title_end..].split_inclusive('\n').rev() {
        line_start -= line.len();
        if line.starts_with('#') {
            paragraph.comment();
        } else if is_blank_line(line) {
            if seen_content {
                return if paragraph.is_trailer_block() { line_start + line.len() } else { log.len() };
            }
        } else {
            seen_content = true;
            paragraph.line(line);
        }
    }
    log.len()
}

/// What git counts, bottom-up, to decide whether a paragraph is a trailer block.
#[derive(Default)]
struct ParagraphTally {
    trailers: usize,
    non_trailers: usize,
    /// Indented lines seen since the last counted line: they belong to the line above
    /// them, so they only count (as non-trailers) once that line turns out not to be a
    /// trailer.
    pending_continuations: usize,
    has_git_generated_prefix: bool,
}

impl ParagraphTally {
    /// Count a line that is neither blank nor a comment.
    fn line(&mut self, line: &str) {
        if GIT_GENERATED_PREFIXES.iter().any(|prefix| line.starts_with(prefix)) {
            self.has_git_generated_prefix = true;
            self.trailer();
        } else if trailer_separator(line).is_some() {
            self.trailer();
        } else if starts_with_space(line) {
            self.pending_continuations += 1;
        } else {
            self.non_trailers += 1 + core::mem::take(&mut self.pending_continuations);
        }
    }

    fn trailer(&mut self) {
        self.trailers += 1;
        self.pending_continuations = 0;
    }

    /// Git skips comment lines, but they cut off the indented lines below them from any
    /// trailer above.
    fn comment(&mut self) {
        self.non_trailers += core::mem::take(&mut self.pending_continuations);
    }

    /// All trailers, or at least 25% trailers when git itself wrote one of them.
    fn is_trailer_block(&self) -> bool {
        let non_trailers = self.non_trailers + self.pending_continuations;
        (self.has_git_generated_prefix && self.trailers.saturating_mul(3) >= non_trailers)
            || (self.trailers > 0 && non_trailers == 0)
    }
}

/// The `key: value` trailers among the lines of a trailer block.
///
/// An indented line continues the trailer above it; after anything else (a comment, a
/// `(cherry picked from commit …)` line, prose let in by the 25% rule) it is dropped.
fn trailers_in_block(block: &str) -> Vec<Trailer<'_>> {
    let mut trailers = Vec::new();
    // Start and separator of the trailer being read; it ends where an unindented line
    // starts, or at the empty line appended to close the last one.
    let mut open: Option<(usize, usize)> = None;
    for (start, line) in lines_with_starts(block).chain([(block.len(), "")]) {
        if starts_with_space(line) {
            continue;
        }
        if let Some((open_start, separator)) = open {
            trailers.push(trailer(&block[open_start..start], separator));
        }
        open = trailer_separator(line).map(|separator| (start, separator));
    }
    trailers
}

/// Split a trailer (its line and any continuation lines) at its separator.
fn trailer(text: &str, separator: usize) -> Trailer<'_> {
    Trailer { key: trim(&text[..separator]), value: unfold(trim(&text[separator + 1..])) }
}

/// Position of the `:` that makes `line` a trailer, if it does: git's `find_separator`
/// returning at least 1.
///
/// The key is letters, digits and `-`, optionally followed by spaces or tabs (so
/// `Acked-by : x` is a trailer, but `Key x: v`, `Key_x: v` and `: v` are not).
fn trailer_separator(line: &str) -> Option<usize> {
    let mut after_key = false;
    for (position, byte) in line.bytes().enumerate() {
        match byte {
            b':' if position > 0 => return Some(position),
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'-' if !after_key => {}
            b' ' | b'\t' if position > 0 => after_key = true,
            _ => return None,
        }
    }
    None
}

/// Replace each newline, with the whitespace after it, by one space. `value` is trimmed,
/// so the result needs no further trimming.
fn unfold(value: &str) -> Cow<'_, str> {
    if !value.contains('\n') {
        return Cow::Borrowed(value);
    }
    let mut unfolded = String::with_capacity(value.len());
    let mut rest = value;
    while let Some((line, after)) = rest.split_once('\n') {
        unfolded.push_str(line);
        unfolded.push(' ');
        rest = after.trim_start_matches(is_git_space);
    }
    unfolded.push_str(rest);
    Cow::Owned(unfolded)
}

/// The lines of `text` with their terminating `\n` (the last may lack one), each with its
/// start offset, so that decisions on lines map back to slices of `text`.
fn lines_with_starts(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split_inclusive('\n').scan(0, |start, line| {
        let line_start = *start;
        *start += line.len();
        Some((line_start, line))
    })
}

/// Git's "blank": nothing but whitespace, which includes `\r` (CRLF blank lines count).
fn is_blank_line(line: &str) -> bool {
    line.chars().all(is_git_space)
}

/// Indented lines are continuations; a leading `\r` counts as indentation too.
fn starts_with_space(line: &str) -> bool {
    line.starts_with(is_git_space)
}

/// Git's `strbuf_trim`.
fn trim(text: &str) -> &str {
    text.trim_matches(is_git_space)
}

/// Git's `isspace`: only these four; unlike Rust's, not form feed or vertical tab, nor any
/// Unicode space.
fn is_git_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trailers of `message` as `(key, value)` pairs.
    fn pairs(message: &str) -> Vec<(&str, String)> {
        parse(message).into_iter().map(|t| (t.key, t.value.into_owned())).collect()
    }

    fn expect(message: &str, expected: &[(&str, &str)]) {
        let expected: Vec<_> = expected.iter().map(|&(k, v)| (k, v.to_owned())).collect();
        assert_eq!(pairs(message), expected, "message: {message:?}");
    }

    #[test]
    fn simple_block() {
        expect(
            "subject\n\nbody\n\nAcked-by: A\nSigned-off-by: B <b@x>\n",
            &[("Acked-by", "A"), ("Signed-off-by", "B <b@x>")],
        );
    }

    #[test]
    fn key_keeps_its_case() {
        let trailers = parse("s\n\nsIgNeD-oFf-By: x\n");
        assert_eq!(trailers[0].key, "sIgNeD-oFf-By");
    }

    #[test]
    fn values_borrow_unless_unfolded() {
        let trailers = parse("s\n\nA: one\nB: two\n  lines\n");
        assert!(matches!(trailers[0].value, Cow::Borrowed("one")));
        assert!(matches!(&trailers[1].value, Cow::Owned(v) if v == "two lines"));
    }

    #[test]
    fn subject_only_has_no_trailers() {
        expect("Key: value\n", &[]);
        expect("Key: value", &[]);
    }

    #[test]
    fn trailers_without_blank_line_above_are_the_title() {
        expect("Key: value\nOther: value\n", &[]);
    }

    #[test]
    fn second_paragraph_can_be_the_block() {
        expect("Key: value\n\nOther: value\n", &[("Other", "value")]);
    }

    #[test]
    fn leading_blank_lines_are_skipped_before_the_subject() {
        expect("\n \t\r\nsubject\n\nKey: v\n", &[("Key", "v")]);
        expect("\n\nKey: v\n", &[]);
    }

    #[test]
    fn empty_and_blank_messages() {
        expect("", &[]);
        expect("\n\n  \n", &[]);
    }

    #[test]
    fn only_the_last_paragraph_counts() {
        expect("s\n\nA: 1\n\nprose\n", &[]);
        expect("s\n\nA: 1\n\nB: 2\n", &[("B", "2")]);
    }

    #[test]
    fn dashes_line_is_not_a_divider() {
        expect("s\n\nA: b\n---\nB: c\n", &[]);
        expect("s\n\n---\n\nA: b\n", &[("A", "b")]);
    }

    #[test]
    fn all_trailers_needed_without_git_prefix() {
        expect("s\n\nA: b\nprose\n", &[]);
    }

    #[test]
    fn exactly_25_percent_is_enough() {
        expect("s\n\nSigned-off-by: x\nfoo\nbar\nbaz\n", &[("Signed-off-by", "x")]);
    }

    #[test]
    fn below_25_percent_is_not() {
        expect("s\n\nSigned-off-by: x\nfoo\nbar\nbaz\nqux\n", &[]);
    }

    #[test]
    fn other_trailers_count_toward_25_percent() {
        expect(
            "s\n\nA: 1\nfoo\nbar\nSigned-off-by: x\nbaz\nqux\nquux\n",
            &[("A", "1"), ("Signed-off-by", "x")],
        );
    }

    #[test]
    fn cherry_pick_prefix_allows_25_percent() {
        expect("s\n\nprose\nmore\nKey: v\n(cherry picked from commit abc)\n", &[("Key", "v")]);
    }

    #[test]
    fn cherry_pick_line_itself_is_not_reported() {
        expect("s\n\n(cherry picked from commit abc)\n", &[]);
    }

    #[test]
    fn signed_off_by_prefix_needs_the_space() {
        expect("s\n\nSigned-off-by:x\nfoo\n", &[]);
        expect("s\n\nSigned-off-by: x\nfoo\n", &[("Signed-off-by", "x")]);
    }

    #[test]
    fn continuation_folds_into_previous() {
        expect(
            "s\n\nKey: first\n  second\n\tthird\nOther: v\n",
            &[("Key", "first second third"), ("Other", "v")],
        );
    }

    #[test]
    fn carriage_return_indents_a_continuation() {
        expect("s\n\nA: b\n\rc\n\r d\n", &[("A", "b c d")]);
    }

    #[test]
    fn continuation_keeps_whitespace_before_newline() {
        expect("s\n\nKey: a  \n   b\n", &[("Key", "a   b")]);
    }

    #[test]
    fn trailing_whitespace_lines_fold_into_last_trailer() {
        expect("s\n\nKey: a\n  b\n \t\n", &[("Key", "a b")]);
    }

    #[test]
    fn continuation_after_non_trailer_is_dropped() {
        expect("s\n\nSigned-off-by: x\nprose\n  indented\n", &[("Signed-off-by", "x")]);
    }

    #[test]
    fn indented_lines_count_as_non_trailers_below_prose() {
        expect("s\n\nSigned-off-by: x\nprose\n  a\n  b\n  c\n", &[]);
    }

    #[test]
    fn continuation_can_fill_an_empty_value() {
        expect("s\n\nKey:\n  value\n", &[("Key", "value")]);
    }

    #[test]
    fn empty_value_is_a_trailer() {
        expect("s\n\nKey:\nOther:   \n", &[("Key", ""), ("Other", "")]);
    }

    #[test]
    fn space_before_colon_is_allowed() {
        expect("s\n\nAcked-by : x\nKey\t:\tv\n", &[("Acked-by", "x"), ("Key", "v")]);
    }

    #[test]
    fn key_with_space_inside_is_not_trailer() {
        expect("s\n\nKey x: v\n", &[]);
    }

    #[test]
    fn key_with_odd_chars_is_not_trailer() {
        expect("s\n\nKey_x: v\n", &[]);
        expect("s\n\nKey.x: v\n", &[]);
        expect("s\n\nKéy: v\n", &[]);
    }

    #[test]
    fn dash_may_start_a_key() {
        expect("s\n\n-Key: v\n", &[("-Key", "v")]);
    }

    #[test]
    fn first_colon_separates() {
        expect("s\n\nKey:: v\n", &[("Key", ": v")]);
    }

    #[test]
    fn url_line_is_a_trailer() {
        expect("s\n\nhttp://example.com/x\n", &[("http", "//example.com/x")]);
    }

    #[test]
    fn line_starting_with_colon_is_not_trailer() {
        expect("s\n\n: v\n", &[]);
    }

    #[test]
    fn crlf_line_endings() {
        expect("s\r\n\r\nA: b\r\nC: d\r\n\r\n", &[("A", "b"), ("C", "d")]);
    }

    #[test]
    fn crlf_continuation_keeps_carriage_return() {
        expect("s\r\n\r\nA: b\r\n c\r\n", &[("A", "b\r c")]);
    }

    #[test]
    fn whitespace_only_line_is_a_paragraph_break() {
        expect("s\n\nA: b\n \nC: d\n", &[("C", "d")]);
    }

    #[test]
    fn form_feed_is_not_whitespace() {
        expect("s\n\nA: b\u{c}\n", &[("A", "b\u{c}")]);
        expect("s\n\nA: b\n\u{c}c\n", &[]);
    }

    #[test]
    fn unicode_space_is_not_trimmed() {
        expect("s\n\nA: b\u{a0}\n", &[("A", "b\u{a0}")]);
    }

    #[test]
    fn trailing_blank_lines_ignored() {
        expect("s\n\nA: b\n\n\n", &[("A", "b")]);
        expect("s\n\nA: b\n  \n\t\n", &[("A", "b")]);
    }

    #[test]
    fn trailing_comment_lines_ignored() {
        expect("s\n\nA: b\n# comment\n#\n\n# more\n", &[("A", "b")]);
    }

    #[test]
    fn comment_lines_inside_block_are_skipped() {
        expect("s\n\nA: b\n# Key: v\nC: d\n", &[("A", "b"), ("C", "d")]);
    }

    #[test]
    fn comment_cuts_continuation() {
        expect("s\n\nA: b\n# c\n  more\n", &[]);
        expect("s\n\nSigned-off-by: b\n# c\n  more\n", &[("Signed-off-by", "b")]);
    }

    #[test]
    fn comment_line_title_still_needs_blank_line() {
        expect("# title\n\nA: b\n", &[("A", "b")]);
        expect("# title\nA: b\n", &[]);
    }

    #[test]
    fn conflicts_block_ignored() {
        expect("s\n\nA: b\n\nConflicts:\n\tsrc/x.c\n\tsrc/y.c\n", &[("A", "b")]);
        expect("s\n\nA: b\nConflicts:\n\tx\n", &[("A", "b")]);
    }

    #[test]
    fn conflicts_needs_exact_line() {
        expect("s\n\nA: b\n\nConflicts: \n\tx\n", &[("Conflicts", "x")]);
    }

    #[test]
    fn conflicts_subject_keeps_block_open() {
        expect("Conflicts:\n \nA: b\n#c\n\tfoo\n", &[("A", "b")]);
        expect("Conflictz:\n \nA: b\n#c\n\tfoo\n", &[]);
    }

    #[test]
    fn scissors_cuts() {
        expect("s\n\nA: b\n# ------------------------ >8 ------------------------\nprose\n", &[("A", "b")]);
    }

    #[test]
    fn scissors_needs_exact_line() {
        expect("s\n\nA: b\n# ------------------------ >8 ------------------------\r\nprose\n", &[]);
    }

    #[test]
    fn scissors_as_first_line_empties_message() {
        expect("# ------------------------ >8 ------------------------\ns\n\nA: b\n", &[]);
    }

    #[test]
    fn nul_ends_the_message() {
        expect("s\n\nA: b\0c\nD: e\n", &[("A", "b")]);
        expect("s\n\nA: b\nD\0: e\n", &[]);
    }

    #[test]
    fn replacement_characters_act_like_any_non_ascii() {
        expect("s\n\nA: \u{fffd}b\u{fffd}\n", &[("A", "\u{fffd}b\u{fffd}")]);
        expect("s\n\n\u{fffd}A: b\n", &[]);
    }

    #[test]
    fn last_line_without_newline() {
        expect("s\n\nA: b\nC: d", &[("A", "b"), ("C", "d")]);
    }

    #[test]
    fn hundred_thousand_trailers_stay_linear() {
        let mut message = String::from("subject\n\n");
        for i in 0..100_000 {
            message.push_str(&format!("Key-{i}: value {i}\n  continued\n"));
        }
        let trailers = parse(&message);
        assert_eq!(trailers.len(), 100_000);
        assert_eq!(trailers[99_999].value, "value 99999 continued");
    }

    #[test]
    fn ten_megabyte_line_stays_linear() {
        let long = "a".repeat(10_000_000);
        let message = format!("{long}\n\n{long}: {long}\n{long}\n  {long}\n");
        assert!(parse(&message).is_empty());
        let message = format!("s\n\nKey: {long}\n {long}\n");
        assert_eq!(parse(&message)[0].value.len(), 20_000_001);
    }
}
