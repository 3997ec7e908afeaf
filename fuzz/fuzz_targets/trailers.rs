//! Fuzzes `countersign_engine::trailers::parse`, git's trailer-block parser.
//!
//! Besides "never panics" (and, through libFuzzer's `-timeout`, "never runs super-linear"),
//! it checks what the module promises for any input:
//! - every key is non-empty, only ASCII letters, digits and `-`, and borrows from the input;
//! - every value is trimmed (no leading or trailing ' ', '\t', '\n', '\r') and has no '\n'
//!   left (continuation lines are unfolded); a borrowed value borrows from the input;
//! - keys, and borrowed values, lie before the first NUL (git reads a C string) and come in
//!   the order of the message;
//! - decisions look at ASCII bytes only: replacing every non-ASCII character by U+FFFD (what
//!   `from_utf8_lossy` does to invalid bytes) yields the same keys, and the same values up to
//!   that replacement;
//! - a NUL ends the message: the text after it changes nothing.

#![no_main]

use std::borrow::Cow;

use countersign_engine::trailers::{Trailer, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let message = String::from_utf8_lossy(data);
    let message: &str = &message;
    let trailers = parse(message);

    let input = message.as_ptr() as usize..message.as_ptr() as usize + message.len();
    let before_nul = message.find('\0').unwrap_or(message.len());
    let lines = message.split_inclusive('\n').count();
    assert!(trailers.len() <= lines, "{} trailers from {lines} lines", trailers.len());

    let mut previous_end = 0;
    for trailer in &trailers {
        let key = trailer.key;
        assert!(!key.is_empty(), "empty key in {trailer:?}");
        assert!(
            key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'),
            "key outside [A-Za-z0-9-]: {key:?}"
        );
        let key_start =
            offset_in(&input, key).unwrap_or_else(|| panic!("key {key:?} does not borrow from the input"));
        assert_eq!(&message[key_start..key_start + key.len()], key);
        assert!(key_start + key.len() <= before_nul, "key {key:?} past the first NUL");
        assert!(key_start >= previous_end, "trailers out of order at {key:?}");
        previous_end = key_start + key.len();

        let value: &str = &trailer.value;
        assert_eq!(value, value.trim_matches([' ', '\t', '\n', '\r']), "untrimmed value in {trailer:?}");
        assert!(!value.contains('\n'), "newline left in value of {trailer:?}");
        assert!(!value.contains('\0'), "NUL in value of {trailer:?}");
        if let Cow::Borrowed(value) = trailer.value {
            let start = offset_in(&input, value)
                .unwrap_or_else(|| panic!("borrowed value {value:?} does not borrow from the input"));
            assert!(start >= previous_end, "value of {key:?} before its key");
            assert!(start + value.len() <= before_nul, "value of {key:?} past the first NUL");
            previous_end = start + value.len();
        }
    }

    // Text after the first NUL is not message.
    if before_nul < message.len() {
        assert_eq!(parse(&message[..before_nul]), trailers, "text after NUL changed the trailers");
    }

    // Only ASCII bytes decide: any non-ASCII character behaves like any other.
    if !message.is_ascii() {
        let replaced = replace_non_ascii(message);
        let expected: Vec<(&str, String)> =
            trailers.iter().map(|t: &Trailer<'_>| (t.key, replace_non_ascii(&t.value))).collect();
        let actual: Vec<(&str, String)> =
            parse(&replaced).iter().map(|t| (t.key, t.value.to_string())).collect();
        assert_eq!(actual, expected, "a non-ASCII character changed a decision");
    }
});

/// Byte offset of `part` in the input, if `part` is a slice of it.
fn offset_in(input: &std::ops::Range<usize>, part: &str) -> Option<usize> {
    let start = part.as_ptr() as usize;
    (input.start <= start && start + part.len() <= input.end).then(|| start - input.start)
}

fn replace_non_ascii(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii() { c } else { '\u{fffd}' }).collect()
}
