//! Who a commit names, and how its message is encoded, as git reads its header.
//!
//! The pusher writes every byte of a commit, and libgit2 reads some headers otherwise than
//! git: for an author line with two addresses (`Bob <bob@x> <eve@y>`) git shows the first (`%ae`,
//! `git log`'s `Author:`) and libgit2 the last; of two `author` lines libgit2 takes the first,
//! `%ae` the last, and `git log` shows both; of two `encoding` headers git decodes by the first
//! and libgit2 by the last. Judged by libgit2's reading, a commit that everyone sees as Bob's
//! could count Bob's own review. So these are read here, as git does, and a header that git's
//! own commands read in more than one way is refused: two `author` (or `committer`) lines, or a
//! NUL, past which git reads nothing; so is one in an encoding that moves `<` and `>` (git
//! decodes the header before it reads who it names).

/// The people a commit names, as git shows them (`%an <%ae>`, `%cn <%ce>`), and its `encoding`.
#[derive(Debug, PartialEq, Eq)]
pub struct Header<'a> {
    pub author: Ident<'a>,
    pub committer: Ident<'a>,
    pub encoding: Option<&'a [u8]>,
}

/// A name and an email, exactly as git splits an ident line.
#[derive(Debug, PartialEq, Eq)]
pub struct Ident<'a> {
    pub name: &'a [u8],
    pub email: &'a [u8],
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("it has {count} `{key}` lines: git shows them all, so whose commit it is cannot be told")]
    Several { key: &'static str, count: usize },
    #[error("it has no `{0}` line")]
    Missing(&'static str),
    #[error("its `{0}` line is not `Name <email> date zone` (git cannot read who it names)")]
    Unreadable(&'static str),
    #[error("its header holds a NUL byte, past which git reads nothing")]
    Nul,
    #[error(
        "its encoding `{0}` is not one whose text keeps `<`, `>` and line ends where its bytes \
         have them, and git decodes the whole header with it: commit it in UTF-8"
    )]
    Encoding(String),
}

/// Reads a commit's header: its lines before the first empty one
/// ([`crate::git::commit::CommitObject::header`]).
pub fn parse(header: &[u8]) -> Result<Header<'_>, HeaderError> {
    if header.contains(&0) {
        return Err(HeaderError::Nul);
    }
    let lines = header.split(|&b| b == b'\n').take_while(|line| !line.is_empty());
    let (mut authors, mut committers, mut encoding) = (Vec::new(), Vec::new(), None);
    for line in lines {
        if let Some(ident) = line.strip_prefix(b"author ") {
            authors.push(ident);
        } else if let Some(ident) = line.strip_prefix(b"committer ") {
            committers.push(ident);
        } else if let Some(value) = line.strip_prefix(b"encoding ") {
            // git's `get_header` takes the first.
            encoding.get_or_insert(value);
        }
    }
    // git decodes the whole commit, header included, before it splits an ident (`%ae`, `git
    // log`): in UTF-7, say, `+ADw-` is a `<`. Only where every ASCII byte is that character
    // and no other byte decodes to one do the raw bytes split as git's decoded text does.
    if let Some(label) = encoding
        && !encoding_rs::Encoding::for_label(label).is_some_and(|charset| charset.is_ascii_compatible())
    {
        return Err(HeaderError::Encoding(String::from_utf8_lossy(label).into_owned()));
    }
    Ok(Header { author: only("author", &authors)?, committer: only("committer", &committers)?, encoding })
}

/// The one line of `key`, split as git splits it.
fn only<'a>(key: &'static str, lines: &[&'a [u8]]) -> Result<Ident<'a>, HeaderError> {
    match lines {
        [] => Err(HeaderError::Missing(key)),
        [line] => split_ident(line).ok_or(HeaderError::Unreadable(key)),
        _ => Err(HeaderError::Several { key, count: lines.len() }),
    }
}

/// Splits an ident line as git's `split_ident_line` does: the email runs from the first `<` to
/// the first `>` after it, and the name is what comes before that `<`, without the blanks
/// just before it. `None` where git finds no email.
pub fn split_ident(line: &[u8]) -> Option<Ident<'_>> {
    let open = line.iter().position(|&b| b == b'<')?;
    let close = open + 1 + line[open + 1..].iter().position(|&b| b == b'>')?;
    let name_end = line[..open].iter().rposition(|&b| !is_git_space(b)).map_or(0, |last| last + 1);
    Some(Ident { name: &line[..name_end], email: &line[open + 1..close] })
}

/// git's `isspace`: its own table, without the vertical tab and form feed of C's.
pub(crate) fn is_git_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

#[cfg(test)]
mod tests {
    use super::{Header, HeaderError, Ident, parse, split_ident};

    fn ident<'a>(name: &'a str, email: &'a str) -> Ident<'a> {
        Ident { name: name.as_bytes(), email: email.as_bytes() }
    }

    #[test]
    fn an_ident_is_split_at_its_first_email() {
        for (line, name, email) in [
            ("Bob Dev <bob@x.io> 1700000000 +0000", "Bob Dev", "bob@x.io"),
            ("Bob <bob@x.io> <eve@y.io> 1700000000 +0000", "Bob", "bob@x.io"),
            ("Bob <bob@x.io>> 1 +0000", "Bob", "bob@x.io"),
            ("Bob <<bob@x.io> 1 +0000", "Bob", "<bob@x.io"),
            ("Bob<bob@x.io>", "Bob", "bob@x.io"),
            ("Bob \t\r <bob@x.io>", "Bob", "bob@x.io"),
            ("  Bob  < bob@x.io > 1 +0000", "  Bob", " bob@x.io "),
            ("<bob@x.io> 1 +0000", "", "bob@x.io"),
            ("Bob <> 1 +0000", "Bob", ""),
            // Not a blank to git: kept in the name, as `%an` shows it.
            ("Bob\x0b <bob@x.io>", "Bob\x0b", "bob@x.io"),
        ] {
            assert_eq!(split_ident(line.as_bytes()), Some(ident(name, email)), "{line:?}");
        }
    }

    #[test]
    fn an_ident_without_an_email_is_not_split() {
        for line in ["Bob 1700000000 +0000", "Bob <bob@x.io 1 +0000", "Bob >bob@x.io< 1", ""] {
            assert_eq!(split_ident(line.as_bytes()), None, "{line:?}");
        }
    }

    const TREE: &str = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n";

    #[test]
    fn a_header_names_its_author_committer_and_first_encoding() {
        let header = format!(
            "{TREE}parent 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@x> 1 +0000\n\
             committer C <c@x> 2 +0100\nencoding ISO-8859-1\nencoding UTF-16\n"
        );
        assert_eq!(
            parse(header.as_bytes()),
            Ok(Header {
                author: ident("A", "a@x"),
                committer: ident("C", "c@x"),
                encoding: Some(b"ISO-8859-1")
            })
        );
        let plain = format!("{TREE}author A <a@x> 1 +0000\ncommitter C <c@x> 2 +0000\n");
        assert_eq!(parse(plain.as_bytes()).unwrap().encoding, None);
    }

    #[test]
    fn a_continued_header_line_is_not_an_ident() {
        let header = format!(
            "{TREE}author A <a@x> 1 +0000\ncommitter C <c@x> 2 +0000\ngpgsig -----BEGIN-----\n author E <e@x>\n -----END-----\n"
        );
        assert_eq!(parse(header.as_bytes()).unwrap().author, ident("A", "a@x"));
    }

    #[test]
    fn a_header_git_reads_several_ways_is_refused() {
        let twice =
            format!("{TREE}author A <a@x> 1 +0000\ncommitter C <c@x> 2 +0000\nauthor B <b@x> 1 +0000\n");
        assert_eq!(parse(twice.as_bytes()), Err(HeaderError::Several { key: "author", count: 2 }));
        let committers =
            format!("{TREE}author A <a@x> 1 +0000\ncommitter C <c@x> 2 +0000\ncommitter D <d@x> 2 +0000\n");
        assert_eq!(parse(committers.as_bytes()), Err(HeaderError::Several { key: "committer", count: 2 }));
        let nul = format!("{TREE}author A <a@x>\0 <b@x> 1 +0000\ncommitter C <c@x> 2 +0000\n");
        assert_eq!(parse(nul.as_bytes()), Err(HeaderError::Nul));
    }

    #[test]
    fn a_header_is_read_only_in_an_encoding_that_keeps_ascii_where_it_is() {
        let header = |encoding: &str| {
            format!("{TREE}author A <a@x> 1 +0000\ncommitter C <c@x> 2 +0000\nencoding {encoding}\n")
        };
        for kept in
            ["UTF-8", "utf8", "ISO-8859-1", "latin1", "windows-1252", "Shift_JIS", "EUC-JP", "GBK", "Big5"]
        {
            assert!(parse(header(kept).as_bytes()).is_ok(), "{kept}");
        }
        for moved in
            ["UTF-7", "UTF-16LE", "UTF-16", "ISO-2022-JP", "ISO-2022-KR", "IBM037", "UTF-32", "no-such"]
        {
            assert_eq!(
                parse(header(moved).as_bytes()),
                Err(HeaderError::Encoding(moved.to_string())),
                "{moved}"
            );
        }
    }

    #[test]
    fn a_header_without_a_readable_author_is_refused() {
        let missing = format!("{TREE}committer C <c@x> 2 +0000\n");
        assert_eq!(parse(missing.as_bytes()), Err(HeaderError::Missing("author")));
        let unreadable = format!("{TREE}author A a@x 1 +0000\ncommitter C <c@x> 2 +0000\n");
        assert_eq!(parse(unreadable.as_bytes()), Err(HeaderError::Unreadable("author")));
    }

    #[test]
    fn the_header_ends_at_its_first_empty_line() {
        let header =
            format!("{TREE}author A <a@x> 1 +0000\ncommitter C <c@x> 2 +0000\n\nauthor B <b@x> 1 +0000\n");
        assert_eq!(parse(header.as_bytes()).unwrap().author, ident("A", "a@x"));
    }
}
