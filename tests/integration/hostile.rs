//! Hostile and broken input, through real pushes where a push is involved: each is judged or
//! refused with a clear message, never a panic, and a refused push changes no ref.

use std::time::{Duration, Instant};

use crate::util::*;

fn server() -> (Server, String) {
    let server = Server::new(POLICY);
    let main = server.server_ref("refs/heads/main").unwrap();
    (server, main)
}

/// Writes a commit object with exactly `message` (any bytes) on top of HEAD, and checks it out.
fn raw_commit(server: &Server, headers: &str, message: &[u8]) -> String {
    raw_commit_by(server, BOB, headers, message)
}

/// [`raw_commit`], by an `author` line of any shape.
fn raw_commit_by(server: &Server, author: &str, headers: &str, message: &[u8]) -> String {
    let people = format!("author {author} 1700000000 +0000\ncommitter {BOB} 1700000000 +0000\n");
    raw_commit_headed(server, &format!("{people}{headers}"), message)
}

/// A commit object of exactly these header lines after its tree and parent (HEAD), and
/// `message`, checked out.
fn raw_commit_headed(server: &Server, headers: &str, message: &[u8]) -> String {
    let tree = server.git_work(&["write-tree"]);
    let parent = server.head();
    let mut object = format!("tree {}\nparent {parent}\n{headers}\n", tree.trim()).into_bytes();
    object.extend_from_slice(message);
    let id = server.git_stdin(
        &server.work,
        &["hash-object", "-t", "commit", "--literally", "-w", "--stdin"],
        &object,
    );
    server.git_work(&["reset", "-q", "--hard", id.trim()]);
    id.trim().to_string()
}

#[track_caller]
fn assert_quick(started: Instant, limit_secs: u64) {
    assert!(started.elapsed() < Duration::from_secs(limit_secs), "took {:?}", started.elapsed());
}

#[test]
fn malformed_input_lines_are_refused_with_their_line_number() {
    let (server, main) = server();
    for bad in [
        format!("{main} {main}"),
        format!("{main} {main} "),
        format!("{} {main} refs/heads/main", &main[..39]),
        format!("{main}  {main} refs/heads/main"),
        format!("{main}\t{main}\trefs/heads/main"),
        format!("zz{} {main} refs/heads/main", &main[2..]),
    ] {
        let output = server.run_hook(&[], &format!("{main} {main} refs/heads/main\n{bad}\n"));
        assert_eq!(output.status.code(), Some(1), "{bad:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("line 2 of the hook's input is not `<old> <new> <refname>`"), "{stderr}");
    }
}

#[test]
fn a_commit_whose_parent_is_missing_is_refused_not_judged_as_a_root() {
    let (server, main) = server();
    let tree = server.git(&server.bare, &["rev-parse", "main^{tree}"]);
    let object = format!(
        "tree {}\nparent {}\nauthor {BOB} 1700000000 +0000\ncommitter {BOB} 1700000000 +0000\n\nCut\n\n{REVIEWED}\n",
        tree.trim(),
        "cd".repeat(20)
    );
    let id = server.git_stdin(
        &server.bare,
        &["hash-object", "-t", "commit", "--literally", "-w", "--stdin"],
        object.as_bytes(),
    );
    let output = server.run_hook(&[], &format!("{main} {} refs/heads/main\n", id.trim()));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("push refused:") && stderr.contains(&"cd".repeat(20)), "{stderr}");
}

#[test]
fn a_push_from_a_shallow_clone_is_judged_on_the_servers_full_history() {
    let (server, main) = server();
    let shallow = server.work.parent().unwrap().join("shallow");
    let url = format!("file://{}", server.bare.display());
    server.git(
        server.work.parent().unwrap(),
        &["clone", "-q", "--depth", "1", &url, shallow.to_str().unwrap()],
    );
    std::fs::write(shallow.join("app/lib.rs"), "shallow\n").unwrap();
    server.git(&shallow, &["commit", "-qam", "From a shallow clone"]);
    let output = server.git_output(&shallow, &["push", "origin", "main"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("1 of 1 new commit(s) lacks approval"), "{stderr}");
    server.git(&shallow, &["commit", "-q", "--amend", "-m", &format!("From a shallow clone\n\n{REVIEWED}")]);
    assert!(server.git_output(&shallow, &["push", "origin", "main"]).status.success());
    assert_ne!(server.server_ref("refs/heads/main").unwrap(), main);
}

#[test]
fn a_message_in_latin1_with_an_encoding_header_is_read_like_git_log() {
    let (server, _) = server();
    raw_commit(
        &server,
        "encoding ISO-8859-1\n",
        b"Caf\xe9\n\nReviewed-by: Carol D\xe9v <carol@example.com>\n",
    );
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
}

#[test]
fn a_message_that_is_not_utf8_is_judged_and_shown_escaped() {
    let (server, main) = server();
    raw_commit(&server, "", b"Broken \xff\xfe bytes \x1b[31mred\n\nReviewed-by: Bob Dev <bob@example.com>\n");
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &["\"Broken \u{fffd}\u{fffd} bytes \\u{1b}[31mred\"", "does not count: author"],
        &main,
    );
}

#[test]
fn an_author_line_with_a_second_email_is_read_as_git_reads_it() {
    let (server, main) = server();
    // git takes the first email (`git log --format=%ae` says bob@example.com); libgit2 the
    // last. Read libgit2's way, Bob's review of his own commit would count.
    raw_commit_by(
        &server,
        "Bob Dev <bob@example.com> <someone@elsewhere.org>",
        "",
        b"Looks reviewed\n\nReviewed-by: Bob Dev <bob@example.com>\n",
    );
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &["\"Looks reviewed\" by Bob Dev <bob@example.com>", "does not count: author"],
        &main,
    );
}

#[test]
fn a_message_is_decoded_by_its_first_encoding_header_as_git_decodes_it() {
    let (server, main) = server();
    // git decodes by the first header: UTF-8, and the UTF-16 message ends at its first NUL,
    // after "C". Decoded by the last, as libgit2 reads it, the subject was "\u{fffd}".
    let utf16: Vec<u8> =
        format!("Change\n\n{REVIEWED}\n").encode_utf16().flat_map(u16::to_le_bytes).collect();
    raw_commit(&server, "encoding UTF-8\nencoding UTF-16LE\n", &utf16);
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["\"C\"", "two-person review [missing-approval]"], &main);
}

#[test]
fn a_header_in_an_encoding_that_moves_brackets_is_refused() {
    let (server, main) = server();
    // git decodes the whole commit from UTF-7 before it reads who wrote it: `+ADw-` is a `<`,
    // so `git log` shows Carol (carol@example.com) as the author, while the raw bytes name Bob
    // and would have let Carol's own review count. (No `+` elsewhere: it starts a UTF-7 run.)
    raw_commit_headed(
        &server,
        &format!(
            "author Carol Dev +ADw-carol@example.com+AD4- <bob@example.com> 1700000000 -0000\n\
             committer {BOB} 1700000000 -0000\nencoding UTF-7\n"
        ),
        format!("Shifted\n\n{REVIEWED}\n").as_bytes(),
    );
    assert_eq!(server.git_work(&["log", "-1", "--format=%ae"]).trim(), "carol@example.com");
    refused_as_unreadable(&server, &main, "its encoding `UTF-7` is not one whose text keeps `<`, `>`");
}

#[test]
fn a_commit_naming_two_authors_is_refused() {
    let (server, main) = server();
    raw_commit(
        &server,
        "author Carol Dev <carol@example.com> 1700000000 +0000\n",
        format!("Two authors\n\n{REVIEWED}\n").as_bytes(),
    );
    refused_as_unreadable(&server, &main, "it has 2 `author` lines: git shows them all");
}

#[test]
fn an_author_line_only_git_can_read_is_refused() {
    let (server, main) = server();
    // git reads Bob here; libgit2, which walks a history without a commit-graph, finds its last
    // `<` after its last `>` and reads no one.
    raw_commit_by(
        &server,
        "Bob Dev <bob@example.com> <",
        "",
        format!("Odd author\n\n{REVIEWED}\n").as_bytes(),
    );
    refused_as_unreadable(&server, &main, "failed to parse signature - malformed e-mail");
}

#[test]
fn an_author_line_only_git_can_read_is_judged_as_git_reads_it_on_a_server_with_a_graph() {
    let (server, main) = server();
    // With a commit-graph, the push is walked and judged by countersign's own reading of
    // each commit, as git reads it: Bob wrote it.
    server.git_server(&["commit-graph", "write", "--reachable"]);
    raw_commit_by(
        &server,
        "Bob Dev <bob@example.com> <",
        "",
        b"Odd author\n\nReviewed-by: Bob Dev <bob@example.com>\n",
    );
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &["\"Odd author\" by Bob Dev <bob@example.com>", "does not count: author"],
        &main,
    );
}

/// The push of HEAD is refused, naming the commit and why it cannot be read.
#[track_caller]
fn refused_as_unreadable(server: &Server, main: &str, why: &str) {
    let push = server.push(&["origin", "main"]);
    assert!(!push.ok, "push was accepted:\n{}", push.stderr);
    for expected in ["countersign: push refused: ", &server.head(), why] {
        assert!(push.stderr.contains(expected), "missing {expected:?} in:\n{}", push.stderr);
    }
    assert_eq!(server.server_ref("refs/heads/main").as_deref(), Some(main), "main moved");
}

#[test]
fn nul_bytes_in_a_message_do_not_hide_a_missing_approval() {
    let (server, main) = server();
    raw_commit(&server, "", b"Looks fine\0\n\nReviewed-by: Carol Dev <carol@example.com>\0\n");
    // Like git, countersign reads a message only up to its first NUL: the trailer behind it
    // is not an approval.
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &["\"Looks fine\"", "two-person review [missing-approval]", "needs 1 approval"],
        &main,
    );
}

#[test]
fn a_ten_megabyte_message_is_judged_quickly() {
    let (server, _) = server();
    let mut message = b"Big\n\n".to_vec();
    message.extend(std::iter::repeat_n(b"lorem ipsum dolor sit amet\n".as_slice(), 10 << 20 >> 5).flatten());
    message.extend_from_slice(format!("\n{REVIEWED}\n").as_bytes());
    raw_commit(&server, "", &message);
    let started = Instant::now();
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
    assert_quick(started, 30);
}

#[test]
fn a_hundred_thousand_trailer_lines_count_one_person_once() {
    let (server, main) = server();
    let mut message = String::from("Many trailers\n\nAssisted-by: Claude Code\n");
    for _ in 0..100_000 {
        message.push_str("Reviewed-by: Carol Dev <carol@example.com>\n");
    }
    raw_commit(&server, "", message.as_bytes());
    let started = Instant::now();
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["needs 1 approval from role senior; found none"], &main);
    assert_quick(started, 30);
    assert!(push.stderr.len() < 20_000, "the report stays bounded: {} bytes", push.stderr.len());
    assert!(push.stderr.contains("... and 99995 more approval(s) that do not count"), "{}", push.stderr);
}

#[test]
fn a_tree_of_a_hundred_thousand_entries_is_diffed_for_tier1_paths() {
    let (server, main) = server();
    let blob = server.git_stdin(&server.work, &["hash-object", "-w", "--stdin"], b"x\n");
    let mut listing = String::new();
    for i in 0..100_000 {
        listing.push_str(&format!("100644 blob {}\tf{i:06}\n", blob.trim()));
    }
    let many = server.git_stdin(&server.work, &["mktree"], listing.as_bytes());
    let root = server.git_work(&["write-tree"]);
    let root_listing =
        server.git_work(&["ls-tree", root.trim()]) + &format!("040000 tree {}\tpayments/many\n", many.trim());
    // payments/many is a tier-1 path: the director's rule must see it among 100,000 entries.
    let payments =
        server.git_work(&["ls-tree", "HEAD:payments"]) + &format!("040000 tree {}\tmany\n", many.trim());
    let payments = server.git_stdin(&server.work, &["mktree"], payments.as_bytes());
    let root_listing: String = root_listing
        .lines()
        .filter(|l| !l.ends_with("\tpayments") && !l.ends_with("\tpayments/many"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + &format!("040000 tree {}\tpayments\n", payments.trim());
    let tree = server.git_stdin(&server.work, &["mktree"], root_listing.as_bytes());
    let commit = server.git_stdin(
        &server.work,
        &["commit-tree", tree.trim(), "-p", "HEAD", "-F", "-"],
        format!("Vendor a huge tree\n\n{REVIEWED}\n").as_bytes(),
    );
    server.git_work(&["update-ref", "refs/heads/main", commit.trim()]);
    let started = Instant::now();
    let push = server.push(&["origin", "main"]);
    assert_refused(
        &server,
        &push,
        &["director audit for tier-1 systems [missing-approval]", "needs 1 approval from role director"],
        &main,
    );
    assert_quick(started, 60);
}

#[test]
fn unusual_ref_names_are_judged_and_shown_verbatim() {
    let (server, _) = server();
    server.write("app/lib.rs", "unreviewed\n");
    server.commit(BOB, "Unreviewed\n");
    for name in [
        "release/ünï€ødé",
        "release/$(touch${IFS}pwned);|&\"'`",
        "release/-dash/#hash/%41",
        "release/a.b_c+d=e@f",
    ] {
        let push = server.push(&["origin", &format!("HEAD:refs/heads/{name}")]);
        assert!(!push.ok, "{name}: {}", push.stderr);
        assert!(
            push.stderr
                .contains(&format!("countersign: refs/heads/{name}: 1 of 1 new commit(s) lacks approval")),
            "{}",
            push.stderr
        );
        assert_eq!(server.server_ref(&format!("refs/heads/{name}")), None);
    }
    assert!(!server.bare.join("pwned").exists() && !server.work.join("pwned").exists());
}

#[test]
fn a_policy_symlink_is_followed_to_a_file_and_refused_when_dangling_or_looping() {
    let (server, _) = server();
    let real = server.bare.join("real-policy.toml");
    std::fs::rename(server.bare.join("policy.toml"), &real).unwrap();
    std::os::unix::fs::symlink(&real, server.bare.join("policy.toml")).unwrap();
    server.write("app/lib.rs", "reviewed\n");
    server.commit(BOB, &format!("Change\n\n{REVIEWED}\n"));
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
    let main = server.server_ref("refs/heads/main").unwrap();
    std::fs::remove_file(&real).unwrap();
    server.commit(BOB, &format!("Again\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert!(!push.ok && push.stderr.contains("push refused: cannot read policy"), "{}", push.stderr);
    std::fs::remove_file(server.bare.join("policy.toml")).unwrap();
    std::os::unix::fs::symlink("policy.toml", server.bare.join("policy.toml")).unwrap();
    let push = server.push(&["origin", "main"]);
    assert!(!push.ok && push.stderr.contains("push refused: cannot read policy"), "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/main").unwrap(), main);
}

#[test]
fn a_huge_policy_is_refused_without_being_parsed() {
    let (server, main) = server();
    let mut policy = POLICY.to_string();
    policy.push_str(&format!("# {}\n", "x".repeat(5 << 20)));
    std::fs::write(server.bare.join("policy.toml"), policy).unwrap();
    server.write("app/lib.rs", "reviewed\n");
    server.commit(BOB, &format!("Change\n\n{REVIEWED}\n"));
    let push = server.push(&["origin", "main"]);
    assert!(!push.ok && push.stderr.contains("bytes a policy may have"), "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/main").unwrap(), main);
}

#[test]
fn pathological_globs_are_refused_or_matched_in_linear_time() {
    let (server, main) = server();
    let stars = "*a".repeat(2000) + "*b";
    let heavy: Vec<String> = (0..200).map(|i| format!("\"**/x{i}/**/*.rs\"")).collect();
    let with_paths = |paths: &str| {
        POLICY.replace(
            "when = { paths = [\"infra/**\", \"payments/**\"] }",
            &format!("when = {{ paths = [\"infra/**\", \"payments/**\", {paths}] }}"),
        )
    };
    std::fs::write(
        server.bare.join("policy.toml"),
        with_paths(&format!("\"{stars}\", {}", heavy.join(", "))),
    )
    .unwrap();
    server.write(&format!("{}/file", "a".repeat(200)), "deep\n");
    server.commit(BOB, "Unreviewed\n");
    let started = Instant::now();
    let push = server.push(&["origin", "main"]);
    assert_refused(&server, &push, &["lacks approval"], &main);
    assert_quick(started, 30);
    // More globs than a policy may hold: refused before compiling them (a pushed committed
    // policy is compiled too, so the pusher could otherwise stall the hook).
    let many: Vec<String> = (0..20_000).map(|i| format!("\"**/x{i}/**/*.rs\"")).collect();
    std::fs::write(server.bare.join("policy.toml"), with_paths(&many.join(", "))).unwrap();
    let started = Instant::now();
    let push = server.push(&["origin", "main"]);
    assert!(
        !push.ok && push.stderr.contains("error[too-many-globs]: more than 1000 globs"),
        "{}",
        push.stderr
    );
    assert_quick(started, 30);
    let nested = format!("\"{}a{}\"", "{a,".repeat(500), "}".repeat(500));
    std::fs::write(server.bare.join("policy.toml"), with_paths(&nested)).unwrap();
    let push = server.push(&["origin", "main"]);
    assert!(!push.ok && push.stderr.contains("error[bad-glob]"), "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/main").unwrap(), main);
}

#[test]
fn a_merge_of_a_huge_directory_taking_each_side_by_turns_is_judged_without_quadratic_work() {
    let (server, _) = server();
    let blob =
        |content: &str| server.git_stdin(&server.work, &["hash-object", "-w", "--stdin"], content.as_bytes());
    let (x, y, z) = (blob("x\n"), blob("y\n"), blob("z\n"));
    let root = server.git_work(&["write-tree"]);
    // 60,000 files; every other one as `even` has it, and one more, `zz`, as `last` has it.
    let tree = |even: &str, last: &str| {
        let mut listing = String::new();
        for i in 0..60_000 {
            let id = if i % 2 == 0 { even } else { x.as_str() };
            listing.push_str(&format!("100644 blob {}\tf{i:06}\n", id.trim()));
        }
        listing.push_str(&format!("100644 blob {}\tzz\n", last.trim()));
        let vendor = server.git_stdin(&server.work, &["mktree"], listing.as_bytes());
        let top =
            server.git_work(&["ls-tree", root.trim()]) + &format!("040000 tree {}\tvendor\n", vendor.trim());
        server.git_stdin(&server.work, &["mktree"], top.as_bytes())
    };
    let commit = |tree: String, parents: &[&str], message: &str| {
        let mut args = vec!["commit-tree", tree.trim()];
        parents.iter().for_each(|p| args.extend(["-p", p]));
        args.extend(["-F", "-"]);
        server.git_stdin(&server.work, &args, message.as_bytes()).trim().to_string()
    };
    let reviewed = format!("Change\n\n{REVIEWED}\n");
    let head = server.head();
    let base = commit(tree(&x, &x), &[&head], &reviewed);
    // Both sides change the even files alike; only the left changes `zz`. The merge takes
    // both: it introduces nothing, is exempt, and is walked whole to find that out, with the
    // merge and its left side alike throughout and the right side and the base differing at
    // every other name.
    let left = commit(tree(&y, &z), &[&base], &reviewed);
    let right = commit(tree(&y, &x), &[&base], &reviewed);
    let merge = commit(tree(&y, &z), &[&left, &right], "Merge\n");
    server.git_work(&["update-ref", "refs/heads/main", &merge]);
    let started = Instant::now();
    assert_accepted(&server, &server.push(&["origin", "main"]), "refs/heads/main");
    assert_quick(started, 30);
}
