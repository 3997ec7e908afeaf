//! Differential test: `trailers::parse` must report exactly the trailers that git itself
//! prints with `git log --format='%(trailers:only,unfold)'`, for hand-written tricky
//! messages and for seeded random ones (5,000 by default; set `COUNTERSIGN_DIFF_CASES` to
//! run more).
//!
//! All messages become commits of one temporary repository through a single
//! `git fast-import` stream (which stores message bytes verbatim, NULs and invalid UTF-8
//! included), and git's answer for all of them comes from a single `git log` call.

use std::{borrow::Cow, fs, path::Path, process::Command};

use engine::trailers::parse;

use crate::util::XorShift;

/// `(key, value)` pairs, in order.
type Pairs = Vec<(String, String)>;

struct Case {
    name: String,
    /// Raw message bytes, as stored in the commit.
    message: Vec<u8>,
    /// Whether the commit declares `encoding ISO-8859-1`. Git log re-encodes such a message
    /// to UTF-8 before parsing it, so callers must too; Latin-1 makes that trivial here.
    latin1: bool,
}

impl Case {
    fn new(name: impl Into<String>, message: impl AsRef<[u8]>) -> Self {
        Case { name: name.into(), message: message.as_ref().to_vec(), latin1: false }
    }

    /// The message as `git log` decodes it before looking for trailers.
    fn decoded(&self) -> Cow<'_, str> {
        if self.latin1 {
            Cow::Owned(self.message.iter().map(|&byte| char::from(byte)).collect())
        } else {
            String::from_utf8_lossy(&self.message)
        }
    }
}

#[test]
fn parse_matches_git() {
    let count = std::env::var("COUNTERSIGN_DIFF_CASES")
        .map(|n| n.parse().expect("COUNTERSIGN_DIFF_CASES must be a number"))
        .unwrap_or(5_000);
    let mut cases = hand_written();
    let mut rng = XorShift(0x5eed_c0ff_ee15_600d);
    cases.extend((0..count).map(|i| Case::new(format!("generated #{i}"), random_message(&mut rng))));

    let (_dir, expected) = git_trailers(&cases, &[]);
    let ours = cases.iter().map(|case| {
        parse(&case.decoded()).into_iter().map(|t| (t.key.to_owned(), t.value.into_owned())).collect()
    });
    assert_same(&cases, ours, &expected);
}

/// The same comparison in a SHA-256 repository (the hand-written cases and a few hundred
/// random ones), each message read as the hook reads it: the commit opened by its 64-digit id
/// and decoded by `repo::read_commit`.
#[test]
fn commits_read_from_a_sha256_repository_give_gits_trailers() {
    let mut cases = hand_written();
    let mut rng = XorShift(0x5a2_5600d);
    cases.extend((0..300).map(|i| Case::new(format!("generated #{i}"), random_message(&mut rng))));
    let (dir, expected) = git_trailers(&cases, &["--object-format=sha256"]);
    let repo = countersign::git::repo::open(&dir.path().join("repo.git")).unwrap();
    let ours: Vec<Pairs> = expected
        .iter()
        .map(|(id, _)| {
            assert_eq!(id.len(), 64, "{id}");
            let oid = countersign::git::repo::parse_id(id).unwrap();
            let commit = countersign::git::commit::CommitObject::read(&repo, oid).unwrap();
            let facts = countersign::git::repo::read_commit(
                &repo,
                &commit,
                countersign::git::repo::PatchIds::Never,
                false,
                false,
            )
            .unwrap();
            assert_eq!(facts.id, *id);
            facts.trailers.into_iter().map(|t| (t.key, t.value)).collect()
        })
        .collect();
    assert_same(&cases, ours.into_iter(), &expected);
}

fn assert_same(cases: &[Case], ours: impl Iterator<Item = Pairs>, expected: &[(String, Pairs)]) {
    let failures: Vec<String> = cases
        .iter()
        .zip(ours)
        .zip(expected)
        .filter_map(|((case, ours), (_, git))| {
            (&ours != git).then(|| {
                format!(
                    "{}\n  message: \"{}\"\n  ours:    {ours:?}\n  git:     {git:?}",
                    case.name,
                    truncated(&case.message.escape_ascii().to_string()),
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} messages differ from git:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// Each case's commit id and what git prints for it, in order, from a repository made with
/// `init_flags` (kept in the returned directory, as `repo.git`).
fn git_trailers(cases: &[Case], init_flags: &[&str]) -> (tempfile::TempDir, Vec<(String, Pairs)>) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let repo = dir.path().join("repo.git");
    let git = |args: &[&str], stdin: &Path| {
        let output = Command::new("git")
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", dir.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_DIR", &repo)
            .stdin(fs::File::open(stdin).expect("stdin file"))
            .output()
            .expect("git runs");
        assert!(output.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        output.stdout
    };

    let empty = dir.path().join("empty");
    fs::write(&empty, "").unwrap();
    git(&[&["init", "--quiet", "--bare"][..], init_flags, &[repo.to_str().unwrap()]].concat(), &empty);

    // The stream fixes committer and dates, so nothing depends on the machine; distinct
    // dates keep equal messages distinct commits.
    let mut stream = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        stream.extend(
            format!(
                "commit refs/heads/main\nmark :{}\ncommitter C O Mitter <c@example.com> {i} +0000\n",
                i + 1
            )
            .bytes(),
        );
        if case.latin1 {
            stream.extend(b"encoding ISO-8859-1\n");
        }
        stream.extend(format!("data {}\n", case.message.len()).bytes());
        stream.extend(&case.message);
        stream.push(b'\n');
    }
    let stream_path = dir.path().join("stream");
    fs::write(&stream_path, stream).unwrap();
    let marks = dir.path().join("marks");
    git(&["fast-import", "--quiet", &format!("--export-marks={}", marks.display())], &stream_path);

    // Marks are `:<n> <hash>`; give git the hashes in case order.
    let mut hashes = vec![String::new(); cases.len()];
    for line in fs::read_to_string(&marks).unwrap().lines() {
        let (mark, hash) = line.split_once(' ').unwrap();
        let index: usize = mark[1..].parse().unwrap();
        hashes[index - 1] = hash.to_string();
    }
    let revs = dir.path().join("revs");
    fs::write(&revs, hashes.iter().map(|hash| format!("{hash}\n")).collect::<String>()).unwrap();
    let stdout =
        git(&["log", "--no-walk=unsorted", "--stdin", "--format=%x00%(trailers:only,unfold)"], &revs);

    // Each commit prints NUL, then `key: value\n` per trailer (unfolded values hold no
    // newline, and nothing holds a NUL), then the format's terminating newline.
    let records: Vec<Pairs> = stdout
        .split(|&byte| byte == 0)
        .skip(1)
        .map(|record| {
            let record = String::from_utf8_lossy(record);
            let lines = record.strip_suffix('\n').expect("record terminator");
            lines
                .lines()
                .map(|line| {
                    let (key, value) = line.split_once(": ").expect("git prints `key: value`");
                    (key.to_owned(), value.to_owned())
                })
                .collect()
        })
        .collect();
    assert_eq!(records.len(), cases.len(), "one git record per commit");
    (dir, hashes.into_iter().zip(records).collect())
}

fn truncated(text: &str) -> Cow<'_, str> {
    const LIMIT: usize = 2_000;
    match text.char_indices().nth(LIMIT) {
        Some((end, _)) => Cow::Owned(format!("{}… ({} bytes)", &text[..end], text.len())),
        None => Cow::Borrowed(text),
    }
}

const SCISSORS: &str = "# ------------------------ >8 ------------------------\n";

fn hand_written() -> Vec<Case> {
    let long = "x".repeat(200_000);
    let many: String = (0..10_000).map(|i| format!("Key-{i}: {i}\n  more\n")).collect();
    let mut cases = vec![
        // Shapes and paragraphs.
        Case::new("lone subject", "Key: value\n"),
        Case::new("lone subject without newline", "Key: value"),
        Case::new("only trailers, no blank line", "Key: value\nOther: value\n"),
        Case::new("trailer title, trailer body", "Key: value\n\nOther: value\n"),
        Case::new("empty message", ""),
        Case::new("blank message", "\n\n  \n"),
        Case::new("leading blank lines", "\n \t\r\nsubject\n\nKey: v\n"),
        Case::new("leading blank lines, then lone subject", "\n\nKey: v\n"),
        Case::new("simple", "subject\n\nbody\n\nAcked-by: A\nSigned-off-by: B <b@x>\n"),
        Case::new("mixed case key", "s\n\nsIgNeD-oFf-By: x\n"),
        Case::new("prose after block", "s\n\nA: 1\n\nprose\n"),
        Case::new("two blocks", "s\n\nA: 1\n\nB: 2\n"),
        Case::new("last line unterminated", "s\n\nA: b\nC: d"),
        // The `---` line is no patch divider here.
        Case::new("dashes inside block", "s\n\nA: b\n---\nB: c\n"),
        Case::new("dashes before block", "s\n\n---\n\nA: b\n"),
        Case::new("dashes then diff", "s\n\nA: b\n\n---\n file | 1 +\n"),
        // The 25% rule.
        Case::new("prose in block", "s\n\nA: b\nprose\n"),
        Case::new("sob exactly 25%", "s\n\nSigned-off-by: x\nfoo\nbar\nbaz\n"),
        Case::new("sob below 25%", "s\n\nSigned-off-by: x\nfoo\nbar\nbaz\nqux\n"),
        Case::new(
            "other trailers count toward 25%",
            "s\n\nA: 1\nfoo\nbar\nSigned-off-by: x\nbaz\nqux\nquux\n",
        ),
        Case::new("cherry pick 50%", "s\n\nprose\nmore\nKey: v\n(cherry picked from commit abc)\n"),
        Case::new("cherry pick exactly 25%", "s\n\n(cherry picked from commit 0123abc)\na\nb\nc\n"),
        Case::new("cherry pick below 25%", "s\n\n(cherry picked from commit 0123abc)\na\nb\nc\nd\n"),
        Case::new("cherry pick alone", "s\n\n(cherry picked from commit abc)\n"),
        Case::new("sob without space", "s\n\nSigned-off-by:x\nfoo\n"),
        Case::new("sob with space", "s\n\nSigned-off-by: x\nfoo\n"),
        Case::new("lowercase sob is no prefix", "s\n\nsigned-off-by: x\nfoo\n"),
        Case::new("sob with empty value", "s\n\nSigned-off-by: \nfoo\nbar\n"),
        // Continuations.
        Case::new("continuations with spaces and tabs", "s\n\nKey: first\n  second\n\tthird\nOther: v\n"),
        Case::new("continuation keeps inner whitespace", "s\n\nKey: a  \n   b\n"),
        Case::new("trailing whitespace lines fold", "s\n\nKey: a\n  b\n \t\n"),
        Case::new("whitespace line between continuations", "s\n\nKey: a\n \t\n  b\n"),
        Case::new("continuation after prose", "s\n\nSigned-off-by: x\nprose\n  indented\n"),
        Case::new("indented lines below prose count", "s\n\nSigned-off-by: x\nprose\n  a\n  b\n  c\n"),
        Case::new("folded and unfolded values", "s\n\nA: one\nB: two\n  lines\n"),
        Case::new("continuation fills empty value", "s\n\nKey:\n  value\n"),
        Case::new("continuation after cherry pick", "s\n\n(cherry picked from commit a)\n  x\nA: b\n"),
        Case::new("empty values", "s\n\nKey:\nOther:   \n"),
        Case::new("continuation only paragraph", "s\n\n  a: b\n  c\n"),
        // Keys and separators.
        Case::new("space before colon", "s\n\nAcked-by : x\nKey\t:\tv\n"),
        Case::new("space inside key", "s\n\nKey x: v\n"),
        Case::new("underscore key", "s\n\nKey_x: v\n"),
        Case::new("dot key", "s\n\nKey.x: v\n"),
        Case::new("non-ascii key", "s\n\nKéy: v\n"),
        Case::new("dash first", "s\n\n-Key: v\n"),
        Case::new("double colon", "s\n\nKey:: v\n"),
        Case::new("url", "s\n\nhttp://example.com/x\n"),
        Case::new("url among prose", "s\n\nSee\nhttps://example.com/x\n"),
        Case::new("leading colon", "s\n\n: v\n"),
        Case::new("equals is no separator", "s\n\nKey= v\nA: b\n"),
        Case::new("hash is no separator", "s\n\nBug #42\nA: b\n"),
        // Line endings and whitespace.
        Case::new("crlf", "s\r\n\r\nA: b\r\nC: d\r\n\r\n"),
        Case::new("crlf continuation", "s\r\n\r\nA: b\r\n c\r\n"),
        Case::new("whitespace line breaks paragraph", "s\n\nA: b\n \nC: d\n"),
        Case::new("form feed value", "s\n\nA: b\u{c}\n"),
        Case::new("form feed line", "s\n\nA: b\n\u{c}c\n"),
        Case::new("vertical tab value", "s\n\nA: \u{b}b\u{b}\n"),
        Case::new("nbsp value", "s\n\nA: b\u{a0}\n"),
        Case::new("carriage return first", "s\n\nA: b\n\rc\n\r d\n"),
        // What git commit would leave behind.
        Case::new("trailing blank lines", "s\n\nA: b\n\n\n"),
        Case::new("trailing whitespace lines", "s\n\nA: b\n  \n\t\n"),
        Case::new("trailing comments", "s\n\nA: b\n# comment\n#\n\n# more\n"),
        Case::new("comment inside block", "s\n\nA: b\n# Key: v\nC: d\n"),
        Case::new("comment cuts continuation", "s\n\nA: b\n# c\n  more\n"),
        Case::new("comment cuts continuation, sob", "s\n\nSigned-off-by: b\n# c\n  more\n"),
        Case::new("comment title", "# title\n\nA: b\n"),
        Case::new("comment title, no blank", "# title\nA: b\n"),
        Case::new("comment between paragraph and block", "s\n\nA: b\n#\nC: d\n\nE: f\n"),
        Case::new("conflicts block", "s\n\nA: b\n\nConflicts:\n\tsrc/x.c\n\tsrc/y.c\n"),
        Case::new("conflicts right after block", "s\n\nA: b\nConflicts:\n\tx\n"),
        Case::new("conflicts with space", "s\n\nA: b\n\nConflicts: \n\tx\n"),
        Case::new("conflicts then comments", "s\n\nA: b\n\nConflicts:\n\tx\n#c\n\n"),
        Case::new("conflicts block then text", "s\n\nA: b\nConflicts:\n\tx\nmore\n"),
        Case::new("conflicts subject", "Conflicts:\n \nA: b\n#c\n\tfoo\n"),
        Case::new("conflictz subject", "Conflictz:\n \nA: b\n#c\n\tfoo\n"),
        Case::new("scissors", format!("s\n\nA: b\n{SCISSORS}prose\n")),
        Case::new("scissors then trailers", format!("s\n\nA: b\n\n{SCISSORS}\nC: d\n")),
        Case::new("scissors with crlf", format!("s\n\nA: b\n{}\r\nprose\n", &SCISSORS[..SCISSORS.len() - 1])),
        Case::new("scissors unterminated", format!("s\n\nA: b\nx\n{}", &SCISSORS[..SCISSORS.len() - 1])),
        Case::new("scissors first", format!("{SCISSORS}s\n\nA: b\n")),
        Case::new("scissors indented", format!("s\n\nA: b\n {SCISSORS}C: d\n")),
        // Bytes.
        Case::new("nul in value", "s\n\nA: b\0c\nD: e\n"),
        Case::new("nul in key", "s\n\nA: b\nD\0: e\n"),
        Case::new("nul in subject", "s\0\n\nA: b\n"),
        Case::new("replacement characters", "s\n\nA: \u{fffd}b\u{fffd}\n"),
        Case::new("replacement character first", "s\n\n\u{fffd}A: b\n"),
        Case::new("invalid utf-8 in value", b"s\n\nA: \xffb\xc3\nC: \xe2\x82\n  \xac\n"),
        Case::new("invalid utf-8 in key", b"s\n\nA\xff: b\n"),
        Case::new("invalid utf-8 prose", b"s\n\nSigned-off-by: \xc0\xaf\n\xfe\xfe\n"),
        Case::new("long value", format!("s\n\nKey: {long}\n {long}\n")),
        Case::new("long key", format!("s\n\n{long}: v\n")),
        Case::new("long prose", format!("{long}\n\n{long}: {long}\n{long}\n  {long}\n")),
        Case::new("ten thousand trailers", format!("s\n\n{many}")),
    ];
    cases.push(Case {
        name: "latin-1 encoding header".into(),
        message: b"s\xe9\n\nReviewed-by: Ren\xe9 \xa0\nA: \xc0\n".to_vec(),
        latin1: true,
    });
    cases.push(Case {
        name: "latin-1 non-ascii key".into(),
        message: b"s\n\nK\xe9y: v\nA: b\n".to_vec(),
        latin1: true,
    });
    cases
}

const SUBJECTS: &[&str] = &[
    "Fix the frobnicator",
    "Key: value",
    "# comment subject",
    "Conflicts:",
    "(cherry picked from commit 0123456789abcdef)",
    "Signed-off-by: S <s@example.com>",
    "  indented subject",
    "---",
];

const TRAILERS: &[&str] = &[
    "Signed-off-by: A U Thor <author@example.com>",
    "Reviewed-by: R <r@example.com>",
    "Acked-by : x",
    "Key\t:\tv",
    "-Key: v",
    "Key::",
    "Key:",
    "Key:   ",
    "Co-authored-by: C <c@example.com>",
    "Change-Id: I0123456789",
    "http://example.com/x",
    "Fixes: 1234 (\"title\")",
    "a:b",
    "Closes:#12",
];

const GIT_GENERATED: &[&str] = &[
    "Signed-off-by: Someone <someone@example.com>",
    "Signed-off-by: ",
    "(cherry picked from commit 0123456789abcdef)",
];

const NON_TRAILERS: &[&str] = &[
    "Signed-off-by:x",
    "signed-off-by: lowercase",
    "(cherry picked from commit",
    "Key x: v",
    "Key_x: v",
    "Key.x: v",
    ": v",
    "Kéy: v",
    "\u{fffd}Key: v",
    "---",
    "-- ",
    "Conflicts: x",
    "prose line",
    "Some prose: with a colon",
    "Bug #42",
    "\u{c}form feed",
];

const CONTINUATIONS: &[&str] = &[" cont", "\tcont", "   more text", " ", "\t", "\r cont", " Key: v"];

const COMMENTS: &[&str] = &["# comment", "#", "# Key: v", "#Signed-off-by: x"];

const BLANKS: &[&str] = &["", "", "", " ", "\t", "\r", "  \t "];

/// A message of random ingredients that stress git's trailer rules.
fn random_message(rng: &mut XorShift) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for _ in 0..rng.below(3).saturating_sub(1) {
        lines.push(rng.pick(BLANKS).into());
    }
    lines.push(rng.pick(SUBJECTS).into());
    for _ in 0..rng.below(3) {
        lines.push(rng.pick(BLANKS).into());
        lines.extend(random_paragraph(rng));
    }
    if rng.percent(85) {
        lines.push(rng.pick(BLANKS).into());
        lines.extend(random_paragraph(rng));
    }
    for _ in 0..rng.below(4).saturating_sub(1) {
        lines.extend(random_tail(rng));
    }

    let mut message = Vec::new();
    let crlf = rng.percent(10);
    let mixed = rng.percent(10);
    for line in &lines {
        message.extend(line);
        message.extend(if crlf || (mixed && rng.percent(50)) { &b"\r\n"[..] } else { b"\n" });
    }
    if rng.percent(10) {
        message.pop();
    }
    if rng.percent(3) && !message.is_empty() {
        let at = rng.below(message.len());
        message[at] = 0;
    }
    message
}

/// A paragraph mixing trailers, git-generated lines, prose, continuations and comments, in
/// proportions around git's 25% threshold.
fn random_paragraph(rng: &mut XorShift) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = Vec::new();
    for _ in 0..rng.below(5) {
        lines.push(random_trailer(rng));
    }
    for _ in 0..rng.below(3).saturating_sub(1) {
        lines.push(rng.pick(GIT_GENERATED).into());
    }
    for _ in 0..rng.below(6).saturating_sub(2) {
        lines.push(rng.pick(NON_TRAILERS).into());
    }
    for _ in 0..rng.below(5).saturating_sub(2) {
        lines.push(rng.pick(COMMENTS).into());
    }
    for i in (1..lines.len()).rev() {
        lines.swap(i, rng.below(i + 1));
    }
    let mut with_continuations = Vec::new();
    for line in lines {
        with_continuations.push(line);
        while rng.percent(20) {
            let mut continuation: Vec<u8> = rng.pick(CONTINUATIONS).into();
            if rng.percent(30) {
                continuation.extend(random_text(rng));
            }
            with_continuations.push(continuation);
        }
    }
    if with_continuations.is_empty() || rng.percent(5) {
        with_continuations.insert(0, rng.pick(CONTINUATIONS).into());
    }
    with_continuations
}

fn random_trailer(rng: &mut XorShift) -> Vec<u8> {
    if rng.percent(70) {
        let mut line: Vec<u8> = rng.pick(TRAILERS).into();
        if rng.percent(30) {
            line.extend(random_text(rng));
        }
        return line;
    }
    const KEY_BYTES: &[u8] = b"aZ9--- \t_.:#";
    let mut line: Vec<u8> = (0..1 + rng.below(6)).map(|_| KEY_BYTES[rng.below(KEY_BYTES.len())]).collect();
    line.extend(rng.pick(&[":", " :", "\t: ", ": ", "::"]).as_bytes());
    line.extend(random_text(rng));
    line
}

/// Value text, sometimes with whitespace at its edges, non-ASCII, invalid UTF-8 or length.
fn random_text(rng: &mut XorShift) -> Vec<u8> {
    let pieces: &[&[u8]] = &[
        b"word",
        b" ",
        b"\t",
        b"\r",
        b"\x0c",
        b"<x@example.com>",
        "é".as_bytes(),
        "\u{a0}".as_bytes(),
        "\u{fffd}".as_bytes(),
        b"\xff",
        b"\xc3",
        b"\xe2\x82",
        b":",
        b"#",
    ];
    let mut text = Vec::new();
    for _ in 0..rng.below(6) {
        text.extend(rng.pick(pieces));
    }
    if rng.percent(1) {
        text.extend("long ".repeat(2_000).bytes());
    }
    text
}

/// What `git commit` might leave after the message: comments, empty lines, an old
/// `Conflicts:` block, or a scissors line with the diff below it.
fn random_tail(rng: &mut XorShift) -> Vec<Vec<u8>> {
    let lines: &[&str] = match rng.below(5) {
        0 => &["", "# Please enter the commit message", "#"],
        1 => &["Conflicts:", "\tsrc/a.c", "\tsrc/b.c"],
        2 => &[SCISSORS.trim_end_matches('\n'), "diff --git a/x b/x", "A: b"],
        3 => &["", ""],
        _ => &["---", " x | 1 +", "Key: v"],
    };
    lines.iter().map(|&line| line.into()).collect()
}
