//! A commit object, read once and parsed as git parses it.
//!
//! By hand rather than through libgit2's `git_commit`: a pushed commit was inflated twice, once
//! to walk the push (its parents) and once to judge it (its message), and libgit2's commit
//! cannot be built from bytes already read. Read here, the walk keeps the object for the judge
//! ([`crate::git::ancestry::History::take_commit`]). The frame (`tree`, `parent` lines, the
//! committer date) follows git's `parse_commit_buffer` and `parse_commit_date`; the people and
//! the encoding, [`crate::git::header`].

use git2::{ObjectType, Oid, Repository};

use crate::git::error::{Context, GitError};
use crate::git::header::is_git_space;
use crate::git::repo;

/// A commit's ids, date, header and message, owned: handed from the walk's thread to a judge's.
#[derive(Debug, Clone)]
pub struct CommitObject {
    pub id: Oid,
    pub tree: Oid,
    pub parents: Vec<Oid>,
    /// The committer date as git's walks order by it (0 where git finds none).
    pub date: i64,
    bytes: Vec<u8>,
    /// How many bytes the header's lines take, the newline of the last included.
    header_len: usize,
}

impl CommitObject {
    /// Reads and parses commit `id`; an object that is not a commit as git writes one is an
    /// error, as it is to git.
    pub fn read(repo: &Repository, id: Oid) -> Result<Self, GitError> {
        let odb = repo.odb().context(|| "opening the object database".to_string())?;
        let object = odb.read(id).context(|| format!("reading commit {id}"))?;
        if object.kind() != ObjectType::Commit {
            let why = format!("a {} where a commit was expected", object.kind());
            return Err(GitError::new(format!("reading commit {id}"), git2::Error::from_str(&why)));
        }
        Self::parse(id, object.data().to_vec())
            .map_err(|why| GitError::new(format!("reading commit {id}"), git2::Error::from_str(why)))
    }

    /// Parses the object's bytes, ids as long as `id`'s (SHA-1 or SHA-256).
    pub fn parse(id: Oid, bytes: Vec<u8>) -> Result<Self, &'static str> {
        let hex_len = 2 * id.as_bytes().len();
        let (tree, mut at) =
            id_line(&bytes, 0, b"tree ", hex_len).ok_or("a bogus commit object (no tree line)")?;
        let mut parents = Vec::new();
        while bytes[at..].starts_with(b"parent ") {
            let (parent, next) = id_line(&bytes, at, b"parent ", hex_len).ok_or("bad parents")?;
            parents.push(parent);
            at = next;
        }
        let date = commit_date(&bytes[at..]);
        let header_len = header_len(&bytes);
        Ok(CommitObject { id, tree, parents, date, bytes, header_len })
    }

    /// The header's lines (libgit2's `raw_header`), the last newline included.
    pub fn header(&self) -> &[u8] {
        &self.bytes[..self.header_len]
    }

    /// What follows the empty line that ends the header, up to its first NUL: git reads a
    /// message as a C string, and shows nothing past one.
    pub fn message(&self) -> &[u8] {
        let message = self.bytes.get(self.header_len + 1..).unwrap_or_default();
        message.split(|&b| b == 0).next().unwrap_or_default()
    }

    /// Bytes held, for a budget of kept objects.
    pub fn size(&self) -> usize {
        self.bytes.len() + self.parents.len() * std::mem::size_of::<Oid>() + std::mem::size_of::<Self>()
    }
}

/// `key`, an id in hex and a newline at `at`: the id, and where the next line starts.
fn id_line(bytes: &[u8], at: usize, key: &[u8], hex_len: usize) -> Option<(Oid, usize)> {
    let line = bytes.get(at..at + key.len() + hex_len + 1)?;
    let hex = line.strip_prefix(key)?.strip_suffix(b"\n")?;
    let id = repo::parse_id(std::str::from_utf8(hex).ok()?)?;
    Some((id, at + line.len()))
}

/// Where the header ends: the newline before the first empty line, or the end of the object.
fn header_len(bytes: &[u8]) -> usize {
    let mut at = 0;
    while at < bytes.len() && bytes[at] != b'\n' {
        at = bytes[at..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |newline| at + newline + 1);
    }
    at
}

/// git's `parse_commit_date`: the `author` line must follow the parents and the `committer`
/// line the author; the date is the number after the committer line's last `>`, read as
/// `strtoumax` reads it (a leading `-` wraps around, as in git). 0 where there is none.
fn commit_date(after_parents: &[u8]) -> i64 {
    let mut lines = after_parents.splitn(3, |&b| b == b'\n');
    let (Some(author), Some(committer), Some(_)) = (lines.next(), lines.next(), lines.next()) else {
        return 0;
    };
    if !author.starts_with(b"author") || !committer.starts_with(b"committer") {
        return 0;
    }
    let Some(close) = committer.iter().rposition(|&b| b == b'>') else { return 0 };
    let blanks = committer[close + 1..].iter().take_while(|&&b| is_git_space(b)).count();
    let date = &committer[close + 1 + blanks..];
    let (negative, digits) = match date.strip_prefix(b"-") {
        Some(rest) => (true, rest),
        None if date.first().is_some_and(u8::is_ascii_digit) => (false, date),
        None => return 0,
    };
    let mut value: u64 = 0;
    for &digit in digits.iter().take_while(|b| b.is_ascii_digit()) {
        match value.checked_mul(10).and_then(|v| v.checked_add(u64::from(digit - b'0'))) {
            Some(next) => value = next,
            // strtoumax's overflow: the largest value.
            None => return i64::MAX,
        }
    }
    if negative {
        value = value.wrapping_neg();
    }
    // git's dates are unsigned; those past an i64 are all "the far future" here.
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::{CommitObject, commit_date};
    use crate::git::repo::parse_id;

    const TREE: &str = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
    const PARENT: &str = "0123456789abcdef0123456789abcdef01234567";

    fn parse(text: &str) -> Result<CommitObject, &'static str> {
        CommitObject::parse(parse_id(PARENT).unwrap(), text.as_bytes().to_vec())
    }

    #[test]
    fn a_commit_s_tree_parents_header_and_message() {
        let text = format!(
            "tree {TREE}\nparent {PARENT}\nparent {}\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 1700000000 +0100\n\nSubject\n\nBody\n",
            PARENT.to_uppercase()
        );
        let commit = parse(&text).unwrap();
        assert_eq!(commit.tree, parse_id(TREE).unwrap());
        assert_eq!(commit.parents, [parse_id(PARENT).unwrap(); 2]);
        assert_eq!(commit.date, 1_700_000_000);
        assert!(commit.header().starts_with(b"tree ") && commit.header().ends_with(b"+0100\n"));
        assert_eq!(commit.message(), b"Subject\n\nBody\n");
    }

    #[test]
    fn a_commit_without_an_empty_line_has_no_message() {
        let commit =
            parse(&format!("tree {TREE}\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 2 +0000\n")).unwrap();
        assert_eq!((commit.message(), commit.header().len()), (&b""[..], commit.bytes.len()));
        let empty =
            parse(&format!("tree {TREE}\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 2 +0000\n\n")).unwrap();
        assert_eq!(empty.message(), b"");
    }

    #[test]
    fn a_message_ends_at_its_first_nul() {
        let text = format!(
            "tree {TREE}\nauthor A <a@x> 1 +0000\ncommitter C <c@x> 2 +0000\n\nShown\0\n\nReviewed-by: X <x@y>\n"
        );
        assert_eq!(parse(&text).unwrap().message(), b"Shown");
    }

    #[test]
    fn a_bad_tree_or_parent_line_is_an_error() {
        for text in [
            String::new(),
            format!("tree {}\n", &TREE[1..]),
            format!("tree {TREE} \n"),
            format!("tree  {TREE}\n"),
            format!("tree {}\n", TREE.replace('4', "g")),
            format!("parent {PARENT}\ntree {TREE}\n"),
        ] {
            assert_eq!(parse(&text).err(), Some("a bogus commit object (no tree line)"), "{text:?}");
        }
        for text in
            [format!("tree {TREE}\nparent {}\n", &PARENT[1..]), format!("tree {TREE}\nparent {PARENT}")]
        {
            assert_eq!(parse(&text).err(), Some("bad parents"), "{text:?}");
        }
    }

    /// Random commit objects, pieced together from lines of every kind: wherever libgit2 reads
    /// one, this parser reads the same tree, parents, header and message. (It reads some that
    /// libgit2 refuses: ident lines only git reads, `crate::git::header`.)
    #[test]
    fn the_frame_is_libgit2_s_wherever_libgit2_reads_the_commit() {
        let dir = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init_bare(dir.path()).unwrap();
        let odb = repo.odb().unwrap();
        let pieces = [
            format!("tree {TREE}\n"),
            format!("tree {}\n", TREE.to_uppercase()),
            format!("tree {}\n", &TREE[1..]),
            format!("parent {PARENT}\n"),
            format!("parent {TREE}\n"),
            format!("parent {PARENT} \n"),
            "author A <a@x> 1 +0000\n".to_string(),
            "author B <b@x> <c@y> 2 +0000\n".to_string(),
            "committer C <c@x> 3 +0100\n".to_string(),
            "committer D d@x 4\n".to_string(),
            "encoding ISO-8859-1\n".to_string(),
            "gpgsig -----BEGIN-----\n x\n -----END-----\n".to_string(),
            "\n".to_string(),
            "Subject\n".to_string(),
            "Reviewed-by: X <x@y>\n".to_string(),
            "\0".to_string(),
            "no newline".to_string(),
        ];
        let mut next = crate::git::random_below(0x5eed_0fc0_1117_u64);
        let mut compared = 0;
        for _ in 0..3000 {
            // Mostly the order git writes, so that libgit2 reads enough of them.
            let mut text = if next(4) > 0 { pieces[0].clone() } else { String::new() };
            for _ in 0..next(4) {
                text += &pieces[3 + next(3)];
            }
            if next(4) > 0 {
                text += &pieces[6];
                text += &pieces[8];
            }
            for _ in 0..next(7) {
                text += &pieces[next(pieces.len())];
            }
            let id = odb.write(git2::ObjectType::Commit, text.as_bytes()).unwrap();
            let Ok(theirs) = repo.find_commit(id) else { continue };
            let ours = CommitObject::read(&repo, id).unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(ours.tree, theirs.tree_id(), "{text:?}");
            assert_eq!(ours.parents, theirs.parent_ids().collect::<Vec<_>>(), "{text:?}");
            assert_eq!(ours.message(), theirs.message_raw_bytes(), "{text:?}");
            if !ours.header().contains(&0) {
                assert_eq!(ours.header(), theirs.raw_header_bytes(), "{text:?}");
            }
            compared += 1;
        }
        assert!(compared > 1000, "only {compared} read by libgit2");
    }

    /// `git commit-graph write` stores each commit's date as `parse_commit_date` reads it.
    #[test]
    fn the_date_is_the_one_git_writes_in_its_commit_graph() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str], input: &[u8]| {
            let mut child = std::process::Command::new("git")
                .args(args)
                .env("GIT_DIR", dir.path())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), input).unwrap();
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success(), "git {args:?}");
            String::from_utf8(output.stdout).unwrap().trim().to_string()
        };
        git(&["init", "-q", "--bare"], b"");
        let tree = git(&["hash-object", "-t", "tree", "-w", "--stdin"], b"");
        let committers = [
            "C <c@x> 1700000000 +0000",
            "C <c@x> <d@y> \t 42 +0000",
            "C <c@x>> 8 +0000",
            "C <c@x> 123456+0100",
            "C <c@x> 12abc",
            "C <c@x>  7",
            "C <c@x> x1 +0000",
            "C <c@x>\x0c1 +0000",
            "C c@x 1 +0000",
        ];
        let ids: Vec<String> = committers
            .iter()
            .map(|committer| {
                let object = format!("tree {tree}\nauthor A <a@x> 1 +0000\ncommitter {committer}\n\nm\n");
                git(&["hash-object", "-t", "commit", "--literally", "-w", "--stdin"], object.as_bytes())
            })
            .collect();
        git(&["commit-graph", "write", "--stdin-commits"], ids.join("\n").as_bytes());
        let repo = git2::Repository::open_bare(dir.path()).unwrap();
        let graph = crate::git::commit_graph::CommitGraph::open(&repo).expect("a graph");
        for (id, committer) in ids.iter().zip(committers) {
            let id = parse_id(id).unwrap();
            let written = graph.get(id).expect("in the graph").committer_time();
            assert_eq!(CommitObject::read(&repo, id).unwrap().date, written, "{committer:?}");
        }
    }

    #[test]
    fn the_date_is_read_as_git_s_parse_commit_date_reads_it() {
        for (lines, date) in [
            ("author A <a@x> 1 +0000\ncommitter C <c@x> 1700000000 +0000\n", 1_700_000_000),
            // After the committer line's last `>`, past git's blanks.
            ("author A <a@x> 1\ncommitter C <c@x> <d@y> \t 42 +0000\n", 42),
            ("author A\ncommitter C <c@x> 123456+0100\n", 123_456),
            ("author A\ncommitter C <c@x> 12abc\n", 12),
            // A dash wraps around, as strtoumax's does: a date past any other.
            ("author A\ncommitter C <c@x> -5 +0000\n", i64::MAX),
            ("author A\ncommitter C <c@x> - +0000\n", 0),
            ("author A\ncommitter C <c@x> 99999999999999999999999 +0000\n", i64::MAX),
            // Not a digit, or no `>`, or the lines not where git looks: no date.
            ("author A\ncommitter C <c@x> x1 +0000\n", 0),
            ("author A\ncommitter C <c@x> \x0c1 +0000\n", 0),
            ("author A\ncommitter C c@x 1 +0000\n", 0),
            ("author A\ncommitter C <c@x> 1 +0000", 0),
            ("encoding X\nauthor A\ncommitter C <c@x> 1 +0000\n", 0),
            ("author A\nencoding X\ncommitter C <c@x> 1 +0000\n", 0),
        ] {
            assert_eq!(commit_date(lines.as_bytes()), date, "{lines:?}");
        }
    }
}
