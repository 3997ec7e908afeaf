//! The gate on the developer's machine: `countersign pre-push` and `countersign commit-msg`, the
//! hooks `countersign install --client` writes into a clone.
//!
//! The server decides; these hooks only say earlier what it will say. So the rule here is the
//! opposite of the server's fail-closed: whatever the clone cannot know for sure (no policy, a
//! server state it has not fetched, approvals recorded on the server, an error) lets the push
//! through with a one-line note, and only a refusal the server would give too stops it.
//!
//! A push is judged by the server's own code ([`gate::judge_push`]) on a *view* of the server
//! as this clone knows it: a temporary bare repository that borrows the clone's objects (git's
//! alternates) and holds, under the server's names, the refs the remote-tracking refs mirror
//! (reverse-mapped through the remote's fetch refspecs), with the values git's pre-push input
//! gives for the pushed refs themselves (git has just read them from the server). The committed
//! policy is read there, from the server's name of the remote-tracking ref it is on. So "already
//! on the server" means reachable from what this clone last fetched of the protected refs.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use git2::{Direction, Oid, Repository};
use jiff::civil::Date;

use crate::gate::{self, Keep};
use crate::git::error::GitError;
use crate::git::policy_source::{self, Flags, Location};
use crate::git::recorded;
use crate::git::ref_updates::RefUpdate;
use crate::git::repo;
use crate::report::{self, Audience, COMMITS_SHOWN, Decision, Problem};
use engine::approvals::{self, LookAlikeReason};
use engine::facts::{CommitFacts, Signature};
use engine::policy::{DEFAULT_APPROVAL_TRAILERS, Mode, Policy};
use engine::pusher::Pusher;
use engine::verdict::Engine;

/// What the pre-push hook decided, and what the pusher reads.
#[derive(Debug)]
pub struct Outcome {
    pub block: bool,
    pub message: String,
}

impl Outcome {
    /// The push goes on, unjudged: `why` is what the clone lacks.
    pub fn unchecked(why: impl std::fmt::Display) -> Outcome {
        Outcome {
            block: false,
            message: format!("countersign: not checked before the push: {why}; the server decides\n"),
        }
    }
}

/// Why a push is let through unjudged.
type Skip = String;

/// Judges what `git push` to `remote` is about to do (`input`: git's pre-push lines, `<local
/// ref> <local oid> <remote ref> <remote oid>`), as the server would.
pub fn pre_push(repo: &Repository, flags: &Flags, remote: &str, input: &[u8], today: Date) -> Outcome {
    match judge(repo, flags, remote, input, today) {
        Ok(outcome) => outcome,
        Err(why) => Outcome::unchecked(why),
    }
}

fn judge(repo: &Repository, flags: &Flags, remote: &str, input: &[u8], today: Date) -> Result<Outcome, Skip> {
    let updates = parse_input(input)?;
    if updates.is_empty() {
        return Ok(Outcome { block: false, message: String::new() });
    }
    let Ok(git_remote) = repo.find_remote(remote) else {
        return Err(format!("{remote} is a URL, not a remote whose refs this clone tracks"));
    };
    let location = policy_source::locate_in_clone(flags, repo, Some(remote)).map_err(|e| e.to_string())?;
    let refs = listed_refs(repo).map_err(|e| e.to_string())?;
    let mirrored = mirrored_refs(&refs, &git_remote);
    if mirrored.is_empty() {
        return Err(format!("this clone has no remote-tracking refs of {remote} (git fetch {remote} first)"));
    }
    let server_location = match &location {
        Location::File(_) => location.clone(),
        Location::Committed { refname, path } => match mirrored.iter().find(|m| &m.tracking == refname) {
            Some(m) => Location::Committed { refname: m.server.clone(), path: path.clone() },
            None => return Err(format!("the policy {location} is not on a remote-tracking ref of {remote}")),
        },
    };
    // A recorded approval is guarded by the pusher's login, which only the server knows.
    let updates: Vec<RefUpdate> =
        updates.into_iter().filter(|u| !u.refname.starts_with(recorded::NAMESPACE)).collect();
    if updates.is_empty() {
        return Ok(Outcome { block: false, message: String::new() });
    }
    let view = View::new(repo, &mirrored, &local_tags(&refs), &updates)?;
    let opened = repo::open(view.dir.path()).map_err(|e| e.to_string())?;
    let policy = policy_source::load(&server_location, &opened, today).map_err(|e| e.to_string())?;
    let engine = Engine::new(&policy, today);
    let path = view.dir.path().to_path_buf();
    let open = move || repo::open(&path);
    let pusher = Pusher::default();
    let keep = Keep::FirstFindings(COMMITS_SHOWN);
    let report = gate::judge_push(&opened, &open, &engine, &server_location, &updates, &pusher, keep)
        .map_err(|e| e.to_string())?;
    let enforced = policy.gate.mode == Mode::Enforce;
    let fetched = format!("policy {location}, {remote} as last fetched");
    if report.decision() == Decision::Accept {
        let commits: usize = report.refs.iter().map(|r| r.judged()).sum();
        return Ok(Outcome {
            block: false,
            message: format!(
                "countersign: checked before the push: {commits} new commit(s) pass ({fetched})\n"
            ),
        });
    }
    // This machine is not the server: what it cannot judge in the server's time, the server may.
    let timed_out =
        report.refs.iter().flat_map(|r| &r.problems).any(|p| matches!(p, Problem::OutOfTime { .. }));
    if timed_out {
        return Err(format!("judging took longer than the policy's max_seconds here ({fetched})"));
    }
    let mut message = report::human(&report, Audience::Pusher, enforced);
    if !enforced {
        return Ok(Outcome { block: false, message });
    }
    if policy.records_approvals() {
        message.push_str(
            "countersign: not refused here: the policy counts approvals recorded on the server, \
             which a clone does not see; the server decides\n",
        );
        return Ok(Outcome { block: false, message });
    }
    let unseen = unseen_protected(&policy, &git_remote);
    if !unseen.is_empty() {
        message.push_str(&format!(
            "countersign: not refused here: this clone does not fetch every protected ref of \
             {remote} ({}), so it cannot tell which of these commits the server already has; the \
             server decides\n",
            unseen.join(", ")
        ));
        return Ok(Outcome { block: false, message });
    }
    // As the server ends a refusal.
    if let Some(help) = &policy.gate.help {
        message.push_str(&format!("countersign: help: {help}\n"));
    }
    message.push_str(&refused_here(&policy, &fetched));
    Ok(Outcome { block: true, message })
}

/// The lines a local refusal ends with: where the verdict came from, and how to skip it.
fn refused_here(policy: &Policy, fetched: &str) -> String {
    let mut out = format!(
        "countersign: refused before the push by the pre-push hook ({fetched}); the server would \
         refuse it too. `git push --no-verify` skips this check (the server still decides)\n"
    );
    if policy.wants_push_options() {
        out.push_str(
            "countersign: a break-glass override (git push -o countersign.override=...) is not \
             visible to a pre-push hook: push it with --no-verify\n",
        );
    }
    out
}

/// git's pre-push lines as the updates the server's hook will see: `<remote oid> <local oid>
/// <remote ref>`. A line git would not send lets the push through unjudged.
fn parse_input(input: &[u8]) -> Result<Vec<RefUpdate>, Skip> {
    let text = std::str::from_utf8(input).map_err(|_| "git's pre-push input is not UTF-8".to_string())?;
    let mut updates = Vec::new();
    for line in text.lines().filter(|line| !line.is_empty()) {
        let fields: Vec<&str> = line.split(' ').collect();
        let [_local, new, refname, old] = fields[..] else {
            return Err(format!("unexpected pre-push input line {line:?}"));
        };
        let (Some(new), Some(old)) = (repo::parse_id(new), repo::parse_id(old)) else {
            return Err(format!("unexpected pre-push input line {line:?}"));
        };
        updates.push(RefUpdate { old, new, refname: refname.to_string() });
    }
    Ok(updates)
}

/// The pre-push line git would have given, rebuilt from what the pre-commit framework passes
/// its hooks (it reads git's input itself and hands on one ref: `PRE_COMMIT_LOCAL_BRANCH`,
/// `PRE_COMMIT_REMOTE_BRANCH`, `PRE_COMMIT_FROM_REF`, `PRE_COMMIT_TO_REF`). The server's value
/// of the ref is `FROM_REF` when this clone tracks the ref (pre-commit passes the server's value
/// then), else none: for a new branch pre-commit passes the commit below the first unpushed one.
pub fn pre_commit_input(
    repo: &Repository,
    remote: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<u8>, Skip> {
    let missing = |name: &str| format!("pre-commit passed no {name}");
    let local = env("PRE_COMMIT_LOCAL_BRANCH").ok_or_else(|| missing("PRE_COMMIT_LOCAL_BRANCH"))?;
    let remote_ref = env("PRE_COMMIT_REMOTE_BRANCH").ok_or_else(|| missing("PRE_COMMIT_REMOTE_BRANCH"))?;
    // Ids from git's hook; `pre-commit run --to-ref` takes any revision.
    let id = |rev: &str| {
        repo.revparse_single(rev).map(|object| object.id().to_string()).map_err(|e| format!("{rev}: {e}"))
    };
    // Pushing from a root commit, pre-commit passes no range.
    let to = id(&env("PRE_COMMIT_TO_REF").unwrap_or_else(|| local.clone()))?;
    let git_remote =
        repo.find_remote(remote).map_err(|_| format!("{remote} is not a remote of this clone"))?;
    let refs = listed_refs(repo).map_err(|e| e.to_string())?;
    let tracked = mirrored_refs(&refs, &git_remote).into_iter().find(|m| m.server == remote_ref);
    let old = match (tracked, env("PRE_COMMIT_FROM_REF")) {
        (Some(_), Some(from)) => id(&from)?,
        (Some(tracked), None) => tracked.id.to_string(),
        (None, _) => repo::zero_id(repo).to_string(),
    };
    Ok(format!("{local} {to} {remote_ref} {old}\n").into_bytes())
}

/// A ref of the server as this clone mirrors it.
#[derive(Debug)]
struct Mirrored {
    /// The server's name (`refs/heads/main`).
    server: String,
    /// The clone's (`refs/remotes/origin/main`).
    tracking: String,
    id: Oid,
}

/// The clone's refs that are not symbolic (`refs/remotes/origin/HEAD` mirrors no ref), as git
/// lists them: git reads every ref store (libgit2 reads no reftable).
fn listed_refs(repo: &Repository) -> Result<Vec<(Oid, String)>, GitError> {
    let failed = |why: String| GitError::new("listing the clone's refs".into(), git2::Error::from_str(&why));
    let output =
        repo::git(repo, &["for-each-ref", "--format=%(objectname) %(symref) %(refname)"]).map_err(failed)?;
    if !output.status.success() {
        return Err(failed(String::from_utf8_lossy(&output.stderr).trim().to_string()));
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            // `<id> <symref> <name>`, the symref empty for a plain ref.
            let (id, rest) = line.split_once(' ')?;
            let ("", name) = rest.split_once(' ')? else { return None };
            Some((repo::parse_id(id)?, name.to_string()))
        })
        .collect())
}

/// Every ref a fetch refspec of `remote` writes, with the server name it mirrors.
fn mirrored_refs(refs: &[(Oid, String)], remote: &git2::Remote<'_>) -> Vec<Mirrored> {
    let specs: Vec<git2::Refspec<'_>> =
        remote.refspecs().filter(|spec| spec.direction() == Direction::Fetch).collect();
    refs.iter()
        .filter_map(|(id, tracking)| {
            let server = specs
                .iter()
                .filter(|spec| spec.dst_matches(tracking))
                .find_map(|spec| spec.rtransform(tracking).ok()?.as_str().ok().map(str::to_string))?;
            Some(Mirrored { server, tracking: tracking.clone(), id: *id })
        })
        .collect()
}

/// The clone's tags, which the view holds under their own names: a tag is named alike on the
/// server, and git fetches the server's tags along with the commits they point at. A tag only
/// this clone has hides commits from the judgement, never adds any: the lenient side.
fn local_tags(refs: &[(Oid, String)]) -> Vec<(String, Oid)> {
    refs.iter()
        .filter(|(_, name)| name.starts_with("refs/tags/"))
        .map(|(id, name)| (name.clone(), *id))
        .collect()
}

/// The protected globs whose refs this clone may not see the server's value of: no fetch
/// refspec of `remote` covers every ref the glob can match (a single-branch clone mirrors one
/// branch, `git clone --depth` among them). Commits already on such a ref are judged here as
/// new, so a refusal here could be one the server would not give. Tags are seen: the view
/// holds the clone's own ([`local_tags`]).
fn unseen_protected(policy: &Policy, remote: &git2::Remote<'_>) -> Vec<String> {
    let sources: Vec<String> = remote
        .refspecs()
        .filter(|spec| spec.direction() == Direction::Fetch)
        .filter_map(|spec| spec.src().ok().map(str::to_string))
        .collect();
    // A negative refspec leaves some refs out: what it excludes is not worth working out.
    let excluding = sources.iter().any(|source| source.starts_with('^'));
    let protected = &policy.gate.protected;
    protected
        .patterns()
        .iter()
        .zip(protected.literal_prefixes())
        .filter(|(pattern, prefix)| {
            let covered = prefix.starts_with("refs/tags/")
                || sources.iter().any(|source| match source.strip_suffix('*') {
                    Some(stem) => prefix.starts_with(stem),
                    None => source == *pattern,
                });
            excluding || !covered
        })
        .map(|(pattern, _)| pattern.clone())
        .collect()
}

/// The server as the clone knows it: a temporary bare repository borrowing the clone's objects.
struct View {
    dir: tempfile::TempDir,
}

impl View {
    fn new(
        repo: &Repository,
        mirrored: &[Mirrored],
        tags: &[(String, Oid)],
        updates: &[RefUpdate],
    ) -> Result<View, Skip> {
        let dir = tempfile::Builder::new()
            .prefix("countersign-pre-push-")
            .tempdir()
            .map_err(|e| format!("creating a temporary directory: {e}"))?;
        let format = match repo.object_format() {
            git2::ObjectFormat::Sha256 => "sha256",
            _ => "sha1",
        };
        let path = dir.path().to_string_lossy().into_owned();
        run_git(None, &["init", "-q", "--bare", &format!("--object-format={format}"), &path], b"")?;
        let common = repo.commondir();
        let objects = std::path::absolute(common.join("objects")).map_err(|e| e.to_string())?;
        let alternates = dir.path().join("objects/info/alternates");
        std::fs::write(&alternates, format!("{}\n", objects.display())).map_err(|e| e.to_string())?;
        // A shallow clone's boundary, which the server's judgement refuses to read past.
        if let Ok(shallow) = std::fs::read(common.join("shallow")) {
            std::fs::write(dir.path().join("shallow"), shallow).map_err(|e| e.to_string())?;
        }
        // One value a ref (git refuses two updates of one ref in a transaction).
        let mut refs: BTreeMap<&str, Option<Oid>> =
            tags.iter().map(|(name, id)| (name.as_str(), Some(*id))).collect();
        refs.extend(mirrored.iter().map(|m| (m.server.as_str(), Some(m.id))));
        // git has just read these from the server: fresher than any remote-tracking ref.
        for update in updates {
            if update.old.is_zero() {
                refs.insert(&update.refname, None);
            } else if repo.odb().is_ok_and(|odb| odb.exists(update.old)) {
                refs.insert(&update.refname, Some(update.old));
            } else {
                return Err(format!(
                    "the server's {} is at {}, which this clone has not fetched",
                    update.refname,
                    repo::short(&update.old.to_string())
                ));
            }
        }
        let commands: String =
            refs.iter().filter_map(|(name, id)| id.map(|id| format!("update {name} {id}\n"))).collect();
        run_git(Some(dir.path()), &["update-ref", "--stdin"], commands.as_bytes())?;
        Ok(View { dir })
    }
}

/// git, on the view (`git_dir`) or outside any repository, deaf to the hook's `GIT_DIR` and
/// friends (they name the clone).
fn run_git(git_dir: Option<&Path>, args: &[&str], input: &[u8]) -> Result<(), Skip> {
    let mut command = Command::new("git");
    if let Some(git_dir) = git_dir {
        command.arg("--git-dir").arg(git_dir);
    }
    for name in ["GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"] {
        command.env_remove(name);
    }
    let mut child = command
        .args(args)
        .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running git: {e}"))?;
    // A git that exits early leaves the rest unread: its status says what went wrong.
    let _ = child.stdin.take().map(|mut stdin| stdin.write_all(input));
    let output = child.wait_with_output().map_err(|e| format!("running git: {e}"))?;
    match output.status.success() {
        true => Ok(()),
        false => Err(format!("git {}: {}", args[0], String::from_utf8_lossy(&output.stderr).trim())),
    }
}

/// The commit-msg hook, in the repository git runs it in: [`commit_msg`] with the
/// approval keys of the policy found as `check` finds it (git's defaults without one), and
/// the author git will record. Nothing here is an error: a hook that only warns never fails.
pub fn commit_msg_hook(message: &str, today: Date) -> String {
    let repo = repo::open_for_hook().ok();
    let policy = repo.as_ref().and_then(|repo| {
        let location = policy_source::locate_in_clone(&Flags::default(), repo, None).ok()?;
        policy_source::load(&location, repo, today).ok()
    });
    let keys = match &policy {
        Some(policy) => policy.approvals.trailer_keys.clone(),
        None => DEFAULT_APPROVAL_TRAILERS.iter().map(|key| key.to_string()).collect(),
    };
    let author = author_ident().unwrap_or(Signature { name: String::new(), email: String::new() });
    commit_msg(message, &keys, &author)
}

/// Who git will record as the author (`git var GIT_AUTHOR_IDENT`: `Name <email> time zone`).
fn author_ident() -> Option<Signature> {
    let output = Command::new("git").args(["var", "GIT_AUTHOR_IDENT"]).output().ok()?;
    let ident = String::from_utf8_lossy(&output.stdout).into_owned();
    let (name, rest) = ident.split_once(" <")?;
    let (email, _) = rest.split_once('>')?;
    Some(Signature { name: name.to_string(), email: email.to_string() })
}

/// The commit-msg hook's warnings about `message` (the file git hands the hook, comments
/// included): lines a reviewer or author may take for an approval that the server will not
/// count, found by the engine's own look-alike check. `author` is who commits: their own
/// `Signed-off-by` is the usual `git commit -s`, not a look-alike.
pub fn commit_msg(message: &str, approval_keys: &[String], author: &Signature) -> String {
    let message = strip_comments(message);
    let facts = CommitFacts::of_message(String::new(), author.clone(), author.clone(), message);
    let mut out = String::new();
    for look_alike in approvals::look_alikes(&facts, approval_keys) {
        let own_sign_off = look_alike.reason == LookAlikeReason::SignOff
            && look_alike.line.to_ascii_lowercase().contains(&author.email.to_ascii_lowercase());
        if own_sign_off {
            continue;
        }
        out.push_str(&format!("countersign: warning: {:?}: {}\n", look_alike.line, look_alike.reason));
    }
    out
}

/// The message as git will store it with its default cleanup: without `#` lines, and nothing
/// from the scissors line on (`git commit -v`).
fn strip_comments(message: &str) -> String {
    let mut kept = String::new();
    for line in message.lines() {
        if line.starts_with("# ") && line.contains(">8") {
            break;
        }
        if !line.starts_with('#') {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bob() -> Signature {
        Signature { name: "Bob Dev".into(), email: "bob@example.com".into() }
    }

    fn keys() -> Vec<String> {
        vec!["Reviewed-by".into(), "Approved-by".into()]
    }

    #[test]
    fn an_approval_written_almost_right_is_warned_about() {
        let out = commit_msg("Change\n\nReviewed by: Carol <carol@example.com>\n", &keys(), &bob());
        assert!(out.contains("\"Reviewed by: Carol <carol@example.com>\""), "{out}");
        assert!(out.contains("write `Reviewed-by:`"), "{out}");
    }

    #[test]
    fn an_approval_outside_the_trailer_block_is_warned_about() {
        let out =
            commit_msg("Change\n\nReviewed-by: Carol <carol@example.com>\nmore prose\n", &keys(), &bob());
        assert!(out.contains("not in the trailer block"), "{out}");
    }

    #[test]
    fn own_sign_off_and_a_proper_approval_are_quiet() {
        let message = "Change\n\nSigned-off-by: Bob Dev <bob@example.com>\nReviewed-by: Carol <carol@example.com>\n\
                       # Please enter the commit message\n# Reviewed by: a comment\n";
        assert_eq!(commit_msg(message, &keys(), &bob()), "");
    }

    #[test]
    fn someone_elses_sign_off_is_taken_for_an_approval() {
        let out = commit_msg("Change\n\nSigned-off-by: Carol <carol@example.com>\n", &keys(), &bob());
        assert!(out.contains("certificate of origin"), "{out}");
    }

    #[test]
    fn pre_push_lines_become_the_servers_updates() {
        let line = format!("refs/heads/topic {} refs/heads/main {}\n", "2".repeat(40), "1".repeat(40));
        let updates = parse_input(line.as_bytes()).unwrap();
        assert_eq!(updates[0].refname, "refs/heads/main");
        assert_eq!(updates[0].old.to_string(), "1".repeat(40));
        assert_eq!(updates[0].new.to_string(), "2".repeat(40));
        assert!(parse_input(b"refs/heads/x abc refs/heads/x\n").is_err());
    }
}
