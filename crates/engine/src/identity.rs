//! Who a trailer value names: `Name <email>` or a bare `email`.
//!
//! The rule, kept deliberately strict because a pusher writes these values: exactly one email
//! address, either the only `<...>` group (which must hold an `@`) or, with no angle brackets,
//! the whole value as one word with an `@`. A value naming several addresses names nobody: one
//! trailer per approver, so that no single line can count for two people.

use alloc::string::String;

use core::fmt;

/// Normalises an email for comparison: SPEC says case-insensitive after trimming.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity<'a> {
    /// The display name before `<`, trimmed; empty for a bare address.
    pub name: &'a str,
    /// As written (not yet normalised).
    pub email: &'a str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityProblem {
    NoEmail,
    SeveralEmails,
}

impl fmt::Display for IdentityProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdentityProblem::NoEmail => "names no email address (write `Name <email>`)",
            IdentityProblem::SeveralEmails => "names several email addresses (one trailer per person)",
        })
    }
}

/// Every address in a value, however it is written (`A <a@x>, B <b@x>`, `a@x (A)`, ...).
/// For excluding co-authors and spotting AI identities, where missing an address is the
/// unsafe mistake; approvals use the strict [`parse`].
pub fn emails_in(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '(' | ')' | '"' | '\''))
        .map(|token| token.trim_end_matches('.'))
        .filter(|token| token.contains('@') && !token.contains(['/', ':']) && !token.starts_with('@'))
}

pub fn parse(value: &str) -> Result<Identity<'_>, IdentityProblem> {
    let value = value.trim();
    let Some(open) = value.find('<') else {
        // A URL such as `https://host/@user` is not an address.
        let bare = value.contains('@') && !value.contains(char::is_whitespace) && !value.contains(['/', ':']);
        return if bare { Ok(Identity { name: "", email: value }) } else { Err(IdentityProblem::NoEmail) };
    };
    let rest = &value[open + 1..];
    let Some(close) = rest.find('>') else {
        return Err(IdentityProblem::NoEmail);
    };
    if rest[close + 1..].contains('<') {
        return Err(IdentityProblem::SeveralEmails);
    }
    let email = rest[..close].trim();
    if !email.contains('@') || email.contains(char::is_whitespace) {
        return Err(IdentityProblem::NoEmail);
    }
    Ok(Identity { name: value[..open].trim(), email })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(value: &str) -> Result<&str, IdentityProblem> {
        parse(value).map(|i| i.email)
    }

    #[test]
    fn name_and_angle_address() {
        assert_eq!(
            parse("Alice Senior <alice@example.com>"),
            Ok(Identity { name: "Alice Senior", email: "alice@example.com" })
        );
    }

    #[test]
    fn bare_address() {
        assert_eq!(email("  alice@example.com "), Ok("alice@example.com"));
    }

    #[test]
    fn upper_case_is_kept_for_the_caller_to_normalise() {
        assert_eq!(email("A <Alice@EXAMPLE.com>"), Ok("Alice@EXAMPLE.com"));
    }

    #[test]
    fn unicode_names() {
        assert_eq!(parse("Zoë Ærøskøbing <zoe@example.dk>").unwrap().name, "Zoë Ærøskøbing");
    }

    #[test]
    fn a_name_without_email_names_nobody() {
        assert_eq!(email("Alice Senior"), Err(IdentityProblem::NoEmail));
        assert_eq!(email("Claude:claude-opus-4-6 coccinelle"), Err(IdentityProblem::NoEmail));
        assert_eq!(email("Alice <not an address>"), Err(IdentityProblem::NoEmail));
        assert_eq!(email("Alice <alice@example.com"), Err(IdentityProblem::NoEmail));
        assert_eq!(email(""), Err(IdentityProblem::NoEmail));
        assert_eq!(email("https://example.com/@alice"), Err(IdentityProblem::NoEmail));
    }

    #[test]
    fn several_addresses_name_nobody() {
        assert_eq!(email("A <a@x.io>, B <b@x.io>"), Err(IdentityProblem::SeveralEmails));
    }

    #[test]
    fn every_address_is_found_however_written() {
        let found: Vec<_> = emails_in("Carol <carol@x.io>, erin@x.io (Erin); \"D\" <d@x.io>.").collect();
        assert_eq!(found, ["carol@x.io", "erin@x.io", "d@x.io"]);
        assert_eq!(emails_in("https://ampcode.com/@x Claude:opus").count(), 0);
    }

    #[test]
    fn quotes_in_the_name_are_part_of_the_name() {
        assert_eq!(parse("\"Senior, Alice\" <alice@example.com>").unwrap().name, "\"Senior, Alice\"");
    }
}
