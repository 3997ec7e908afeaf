//! Pusher-controlled text made safe to show: control characters escaped, length bounded.

/// `text`'s lines, each after `margin`.
pub(super) fn indent(text: &str, margin: &str) -> String {
    text.lines().map(|line| format!("{margin}{line}\n")).collect()
}

/// Each line of `text` cleaned, newlines kept.
/// Long pusher text (a 10 MB one-line message, a 60,000-character override reason) is cut
/// where it is shown or logged: a report records, it does not archive.
pub const TEXT_LIMIT: usize = 200;

/// `text` cut to [`TEXT_LIMIT`] characters, `...` marking a cut.
pub fn cut(text: &str) -> String {
    match text.char_indices().nth(TEXT_LIMIT) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_string(),
    }
}

pub(super) fn clean_lines(text: &str) -> String {
    text.lines().map(|line| format!("{}\n", clean(line))).collect()
}

/// Pusher text with control characters escaped (no terminal escapes reach the pusher).
pub(super) fn clean(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_string();
    }
    text.chars()
        .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_on_a_character_boundary() {
        assert_eq!(cut(&"é".repeat(300)).chars().count(), TEXT_LIMIT + 3);
        assert_eq!(cut("short"), "short");
    }
}
