//! Opening the repository and reading one commit into [`CommitFacts`]: the only place that
//! knows how git stores what the engine judges.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Once;

use git2::{ObjectFormat, Oid, Repository};

use crate::git::commit::CommitObject;
use crate::git::error::{Context, GitError};
use crate::git::header::{self, Ident};
use crate::git::patch_id;
use engine::facts::{CommitFacts, GitSignature, Signature};
use engine::signature;

/// Opens the repository a hook runs in. `open_from_env` honours GIT_DIR and, crucially, the
/// object quarantine git sets up during pre-receive (GIT_OBJECT_DIRECTORY and
/// GIT_ALTERNATE_OBJECT_DIRECTORIES): a plain `Repository::open` cannot see the pushed objects.
pub fn open_for_hook() -> Result<Repository, GitError> {
    read_like_git();
    checked(Repository::open_from_env(), || "opening the repository from the hook environment".into())
}

/// Opens the repository at `path` (bare or not), for the verbs that read history.
pub fn open(path: &Path) -> Result<Repository, GitError> {
    read_like_git();
    checked(Repository::open(path), || format!("opening repository {}", path.display()))
}

/// Opens the repository `path` is in, as git finds it from a working directory (`approve`).
pub fn discover(path: &Path) -> Result<Repository, GitError> {
    read_like_git();
    checked(Repository::discover(path), || format!("opening the repository at {}", path.display()))
}

/// The repository, if it is stored in a format countersign reads.
fn checked(
    opened: Result<Repository, git2::Error>,
    what: impl Fn() -> String,
) -> Result<Repository, GitError> {
    let repo = opened.map_err(|e| unreadable_format(what(), e))?;
    ref_storage(&repo).map_err(|e| GitError::new(what(), e))?;
    Ok(repo)
}

/// libgit2 refuses a repository whose `extensions.*` it does not know with its own words; the
/// admin is told it is the repository's format, and that nothing is accepted until it is read.
fn unreadable_format(what: String, cause: git2::Error) -> GitError {
    if cause.class() != git2::ErrorClass::Repository
        || !(cause.message().starts_with("unsupported extension")
            || cause.message().contains("object format"))
    {
        return GitError::new(what, cause);
    }
    GitError::new(
        what,
        git2::Error::from_str(&format!(
            "{}: a repository format countersign does not read (it reads SHA-1 and SHA-256 objects, \
             files and reftable refs), so every push is refused; `git config --get-regexp \
             '^extensions\\.'` shows what the repository uses",
            cause.message()
        )),
    )
}

/// How the repository stores its refs (`extensions.refStorage`).
///
/// libgit2 reads only the files backend, and in a reftable repository would find no ref at
/// all (HEAD there points at `refs/heads/.invalid`, a guard against readers that do not know
/// reftable). gitoxide does not read reftable either, so there refs are read by the server's
/// own git, which does ([`resolve_ref`]); objects are still read by libgit2, which is told to
/// accept the extension ([`read_like_git`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefStorage {
    Files,
    Reftable,
}

pub fn ref_storage(repo: &Repository) -> Result<RefStorage, git2::Error> {
    // Only the repository's own config says how it is stored (git reads extensions from it
    // alone), and a worktree's lives in the common directory.
    let config = git2::Config::open(&repo.commondir().join("config"))?;
    let value = match config.get_string("extensions.refstorage") {
        Ok(value) => value,
        Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(RefStorage::Files),
        Err(e) => return Err(e),
    };
    match value.to_ascii_lowercase().as_str() {
        "files" => Ok(RefStorage::Files),
        "reftable" => Ok(RefStorage::Reftable),
        _ => Err(git2::Error::from_str(&format!(
            "extensions.refStorage = {value}: a ref format countersign does not read (it reads \
             files and reftable), so every push is refused"
        ))),
    }
}

/// The object `name` (a full ref name, or `HEAD`) points at, symbolic refs followed; `None`
/// when there is no such ref (or HEAD is unborn).
///
/// A files-backed repository is read by libgit2, which needs no git binary (a hook in a chroot
/// may have none) and starts no process (a `git show-ref` took 6 ms on a loaded 2-core
/// machine); a reftable one by `git show-ref`.
pub fn resolve_ref(repo: &Repository, name: &str) -> Result<Option<Oid>, GitError> {
    match ref_storage(repo).context(|| format!("reading {name}"))? {
        RefStorage::Files => match repo.find_reference(name).and_then(|r| r.resolve()) {
            Ok(reference) => Ok(reference.target()),
            Err(e) if matches!(e.code(), git2::ErrorCode::NotFound | git2::ErrorCode::UnbornBranch) => {
                Ok(None)
            }
            Err(source) => Err(GitError::new(format!("reading {name}"), source)),
        },
        RefStorage::Reftable => {
            // `show-ref --verify` reads exactly this name (`rev-parse` would also try
            // `refs/tags/<name>` and the like, names a pusher may create), symbolic refs
            // followed. It fails alike for a missing ref and a broken one; `--exists` (git
            // 2.43, reftable came in 2.45) tells them apart, with 2 for "no such ref".
            let failed =
                |why: String| GitError::new(format!("reading {name} with git"), git2::Error::from_str(&why));
            let output = git(repo, &["show-ref", "--verify", "--hash", name]).map_err(failed)?;
            if !output.status.success() {
                let exists = git(repo, &["show-ref", "--exists", name]).map_err(failed)?;
                // No such ref; or a symbolic one to nothing (an unborn HEAD), as libgit2 says.
                let dangling = || git(repo, &["symbolic-ref", "--quiet", name]).map(|o| o.status.success());
                if exists.status.code() == Some(2) || dangling().map_err(failed)? {
                    return Ok(None);
                }
                return Err(failed(String::from_utf8_lossy(&output.stderr).trim().to_string()));
            }
            let text = String::from_utf8_lossy(&output.stdout);
            parse_id(text.trim()).map(Some).ok_or_else(|| {
                GitError::new(
                    format!("reading {name} with git"),
                    git2::Error::from_str(&format!("unexpected output {:?}", text.trim())),
                )
            })
        }
    }
}

/// The branch HEAD is on (`refs/heads/...`), `None` when it is detached.
pub fn head_branch(repo: &Repository) -> Result<Option<String>, GitError> {
    match ref_storage(repo).context(|| "reading HEAD".into())? {
        RefStorage::Files => {
            let head = repo.find_reference("HEAD").context(|| "reading HEAD".into())?;
            Ok(head.symbolic_target_bytes().map(|name| String::from_utf8_lossy(name).into_owned()))
        }
        RefStorage::Reftable => {
            let output = git(repo, &["symbolic-ref", "--quiet", "HEAD"])
                .map_err(|why| GitError::new("reading HEAD with git".into(), git2::Error::from_str(&why)))?;
            let name = String::from_utf8_lossy(&output.stdout).trim().to_string();
            Ok((output.status.success() && !name.is_empty()).then_some(name))
        }
    }
}

/// Runs the server's (or the developer's) git on `repo`; an error when there is none.
pub fn git(repo: &Repository, args: &[&str]) -> Result<Output, String> {
    let output =
        Command::new("git").arg("--git-dir").arg(repo.path()).args(args).stdin(Stdio::null()).output();
    output.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => {
            "no git on the PATH, and countersign reads revisions and reftable refs with it".to_string()
        }
        _ => format!("running git: {e}"),
    })
}

/// An object id as git prints it: 40 hex digits (SHA-1) or 64 (SHA-256).
pub fn parse_id(hex: &str) -> Option<Oid> {
    let format = match hex.len() {
        40 => ObjectFormat::Sha1,
        64 => ObjectFormat::Sha256,
        _ => return None,
    };
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Oid::from_str_ext(hex, format).ok()
}

/// The all-zero id of the repository's object format (git's "no object").
pub fn zero_id(repo: &Repository) -> Oid {
    match repo.object_format() {
        ObjectFormat::Sha256 => Oid::ZERO_SHA256,
        _ => Oid::ZERO_SHA1,
    }
}

/// How libgit2 reads, set once for the process before the first repository is opened (and so
/// before any thread that reads one).
///
/// libgit2 re-hashes every object it reads, with SHA-1 collision detection: a third of the
/// time spent reading history. git does not: an object is hashed once, when it enters the
/// repository (`index-pack` hashes every pushed one before the hook runs), and is trusted by
/// its name from then on. Reading as git does costs no safety git itself has.
///
/// Its object cache is off. Judging reads each commit once and keeps the trees it will read
/// again itself ([`crate::git::changes`]), so the cache would mostly hold objects never asked for
/// again; and once full it evicts by scanning its table from the start, a cost that grows with
/// every eviction (a quarter of a 100,000-commit check went there).
///
/// Packs are mapped 4 MiB at a time rather than 1 GiB, and 96 MiB at most rather than 8 GiB:
/// a pack holds its commits together at the front, so reading commits touches few windows;
/// trees lie all over it, and a walk through them comes back to windows it left, but remapping
/// one costs less than keeping the whole pack resident (a check of all of git's history with a
/// path rule peaks at 120 MB instead of 185 MB). Small windows keep just the parts of the pack a
/// walk comes back to: with 32 MiB ones, a tenth of a check of git's history went to unmapping
/// windows it needed again soon after (git `v2.40.0..v2.47.0`: 0.8 s, now 0.55 s). 96 MiB
/// rather than 48: each unmapping stops the other judging threads to flush their address
/// translations, and a push of 9,372 of git's commits spent a tenth of its time there (1.57 s
/// at 48 MiB, 1.31 s at 96, 5 MB more resident; 256 MiB saves little more for 60 MB).
fn read_like_git() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        git2::opts::strict_hash_verification(false);
        git2::opts::enable_caching(false);
        // SAFETY: libgit2 globals, written before any repository (hence any thread reading
        // one) exists: `Once` runs this on the first open.
        let sized = unsafe {
            git2::opts::set_mwindow_size(4 << 20)
                .and_then(|()| git2::opts::set_mwindow_mapped_limit(96 << 20))
        };
        if let Err(e) = sized {
            tracing::warn!("could not bound libgit2's mapped packs: {e}");
        }
        // SAFETY: as above. The extension only lets libgit2 open a reftable repository for its
        // objects; no ref of one is read through libgit2 ([`RefStorage`]).
        if let Err(e) = unsafe { git2::opts::set_extensions(&["refstorage"]) } {
            tracing::warn!("could not let libgit2 open reftable repositories: {e}");
        }
    });
}

/// When a commit's patch-id is worth hashing (it diffs the commit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchIds {
    Never,
    /// When the message carries an approval signature, which binds to it.
    WhenSigned,
    /// Always: the change's recorded approvals are found by it.
    Always,
}

/// Reads what the engine needs of one commit but what it changed: `changes` and `clean_merge`
/// are the caller's to fill in ([`crate::git::changes`]), as only the caller knows whether a rule
/// needs them. The patch-id is hashed as `patch_ids` says, and never for baseline commits,
/// which are exempt; the commit's own signature is read only if `needs_git_signature`, and
/// likewise never for them.
pub fn read_commit(
    repo: &Repository,
    commit: &CommitObject,
    patch_ids: PatchIds,
    needs_git_signature: bool,
    in_baseline: bool,
) -> Result<CommitFacts, GitError> {
    let oid = commit.id;
    let header = header::parse(commit.header())
        .map_err(|e| GitError::new(format!("reading commit {oid}"), git2::Error::from_str(&e.to_string())))?;
    let encoding = header.encoding.and_then(|e| std::str::from_utf8(e).ok());
    let message = decode_message(commit.message(), encoding);
    let trailers = CommitFacts::trailers_of(&message);
    // Only a signature is checked against the patch-id: without one, no diff is hashed.
    let signed = trailers.iter().any(|t| t.key_in(&[signature::TRAILER_KEY]));
    let hashed = match patch_ids {
        PatchIds::Never => false,
        PatchIds::WhenSigned => signed,
        PatchIds::Always => true,
    };
    let patch_id = if hashed && !in_baseline { Some(patch_id::patch_id(repo, commit)?) } else { None };
    let git_signature = if needs_git_signature && !in_baseline {
        // git signs a SHA-256 commit in a header of its own. A commit carrying both headers (a
        // repository kept in both hashes, which countersign refuses to open anyway) would keep
        // the other in what libgit2 calls the signed data, and fail to verify: closed.
        let field = match repo.object_format() {
            ObjectFormat::Sha256 => "gpgsig-sha256",
            _ => "gpgsig",
        };
        match repo.extract_signature(&oid, Some(field)) {
            Ok((armored, signed_data)) => {
                GitSignature::Signed { armored: armored.to_vec(), signed_data: signed_data.to_vec() }
            }
            Err(e) if e.code() == git2::ErrorCode::NotFound => GitSignature::Unsigned,
            Err(e) => return Err(GitError::new(format!("reading the signature of {oid}"), e)),
        }
    } else {
        GitSignature::NotRead
    };
    let people = (signature(&header.author, encoding), signature(&header.committer, encoding));
    Ok(CommitFacts {
        timestamp: commit.date,
        root: commit.parents.is_empty(),
        in_baseline,
        patch_id,
        git_signature,
        ..CommitFacts::of_message(oid.to_string(), people.0, people.1, message)
    })
}

/// A name and email as `git log` shows them: decoded from the commit's encoding, like its
/// message.
fn signature(ident: &Ident<'_>, encoding: Option<&str>) -> Signature {
    Signature { name: decode_message(ident.name, encoding), email: decode_message(ident.email, encoding) }
}

/// The message as `git log` shows it: converted to UTF-8 from the `encoding` header's charset
/// (git re-encodes before it looks for trailers). Without a header, or with one git would not
/// know either, bytes that are not UTF-8 become U+FFFD: trailer structure (newlines, colons,
/// spaces) is ASCII, so the parse is unchanged, and emails must be ASCII to match anyway.
pub fn decode_message(raw: &[u8], encoding: Option<&str>) -> String {
    let charset = encoding.and_then(|label| encoding_rs::Encoding::for_label(label.trim().as_bytes()));
    match charset {
        // encoding_rs maps a few labels (ISO-2022-KR, HZ) to a decoder that yields one U+FFFD;
        // git's iconv shows such text, so read it as UTF-8 instead.
        Some(charset) if charset != encoding_rs::UTF_8 && charset != encoding_rs::REPLACEMENT => {
            charset.decode_without_bom_handling(raw).0.into_owned()
        }
        _ => String::from_utf8_lossy(raw).into_owned(),
    }
}

/// An object id that keys a hash table.
///
/// git2's SHA-256 build (`unstable-sha256`) hashes all 32 bytes an `Oid` can hold, but libgit2
/// writes only the 20 of a SHA-1 id: an id copied out of its own arrays (a commit's parents, a
/// tree's entries) keeps whatever the other 12 held. Two equal ids could then hash apart, and a
/// walk take a commit it had hidden. A `Key` hashes the id's own bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key(pub Oid);

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.as_bytes().hash(state);
    }
}

/// An id's bytes, zero-padded to 32 (SHA-1 ids are 20): one fixed-size value for both formats,
/// compared and hashed without a call into libgit2.
pub fn padded(id: &[u8]) -> [u8; 32] {
    let mut bytes = [0; 32];
    let len = id.len().min(32);
    bytes[..len].copy_from_slice(&id[..len]);
    bytes
}

/// Short id for reports.
pub fn short(id: &str) -> &str {
    &id[..id.len().min(7)]
}

#[cfg(test)]
mod tests {
    use super::{decode_message, parse_id};
    use git2::ObjectFormat;

    #[test]
    fn ids_of_either_hash_are_parsed_by_their_length() {
        let sha1 = parse_id(&"ab".repeat(20)).unwrap();
        assert_eq!((sha1.object_format(), sha1.to_string()), (ObjectFormat::Sha1, "ab".repeat(20)));
        let sha256 = parse_id(&"0f".repeat(32)).unwrap();
        assert_eq!((sha256.object_format(), sha256.to_string()), (ObjectFormat::Sha256, "0f".repeat(32)));
        assert!(parse_id(&"0".repeat(64)).unwrap().is_zero());
        for bad in
            ["", "abc", &"a".repeat(39), &"a".repeat(41), &"a".repeat(63), &"g".repeat(40), &"+1".repeat(20)]
        {
            assert_eq!(parse_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn encoding_header_is_honoured_like_git_log() {
        assert_eq!(
            decode_message(b"S\n\nReviewed-by: Ren\xe9 <r@x.io>\n", Some("ISO-8859-1")),
            "S\n\nReviewed-by: René <r@x.io>\n"
        );
    }

    #[test]
    fn no_header_means_utf8_with_replacement() {
        assert_eq!(decode_message(b"caf\xc3\xa9 \xff", None), "café \u{fffd}");
        assert_eq!(decode_message(b"caf\xc3\xa9", Some("no-such-charset")), "café");
    }
}
