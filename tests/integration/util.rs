//! A server (bare repository with the hook installed) and a developer's clone, in a temp dir.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use tempfile::TempDir;

pub const BIN: &str = env!("CARGO_BIN_EXE_countersign");
/// The hook script admins install, as shipped.
pub const HOOK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/hooks/pre-receive");

/// The policy most tests use: the three rules of the mission, with tier-1 paths.
pub const POLICY: &str = r#"
version = 1
[gate]
protected = ["refs/heads/main", "refs/heads/release/**", "refs/tags/v*"]
[approvals]
trailers = ["Reviewed-by", "Approved-by"]
reviewers = ["*@example.com"]
[[person]]
name = "Alice Senior"
emails = ["alice@example.com"]
roles = ["senior"]
[[person]]
name = "Bob Dev"
emails = ["bob@example.com"]
[[person]]
name = "Carol Dev"
emails = ["carol@example.com"]
[[person]]
name = "Dana Director"
emails = ["dana@example.com"]
roles = ["senior", "director"]
[[rule]]
name = "two-person review"
[[rule]]
name = "senior sign-off for AI-assisted changes"
when = { ai_assisted = true }
from_role = "senior"
[[rule]]
name = "director audit for tier-1 systems"
when = { paths = ["infra/**", "payments/**"] }
from_role = "director"
"#;

pub const BOB: &str = "Bob Dev <bob@example.com>";
pub const REVIEWED: &str = "Reviewed-by: Carol Dev <carol@example.com>";

/// How a repository stores its refs and names its objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// git's default: loose and packed refs, SHA-1 ids.
    Files,
    /// `git init --ref-format=reftable`.
    Reftable,
    /// `git init --object-format=sha256` (refs in files).
    Sha256,
}

impl Format {
    pub fn init_flags(self) -> &'static [&'static str] {
        match self {
            Format::Files => &[],
            Format::Reftable => &["--ref-format=reftable"],
            Format::Sha256 => &["--object-format=sha256"],
        }
    }
}

pub struct Push {
    pub ok: bool,
    /// What the pusher saw (git's `remote:` lines included).
    pub stderr: String,
}

pub struct Server {
    _dir: TempDir,
    pub bare: PathBuf,
    pub work: PathBuf,
    /// The temporary directory holding everything; HOME of every git command.
    pub home: PathBuf,
}

impl Server {
    /// A server whose `main` already holds a small tree (pushed before the hook existed), with
    /// the hook and `policy` installed, and a clone to work in.
    pub fn new(policy: &str) -> Server {
        let server = Server::without_hook();
        server.set_policy(policy);
        server.install_hook();
        server
    }

    /// [`Server::new`], the server and its clone in `format`.
    pub fn new_in(format: Format, policy: &str) -> Server {
        let server = Server::without_hook_in(format);
        server.set_policy(policy);
        server.install_hook();
        server
    }

    /// The same server and clone, before any hook or policy (for `countersign install`).
    pub fn without_hook() -> Server {
        Server::without_hook_in(Format::Files)
    }

    pub fn without_hook_in(format: Format) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let server =
            Server { bare: root.join("server.git"), work: root.join("work"), home: root.clone(), _dir: dir };
        let format = format.init_flags();
        server.git(&root, &[&["init", "-q", "--bare", "-b", "main"][..], format, &["server.git"]].concat());
        server.git(&root, &[&["init", "-q", "-b", "main"][..], format, &["work"]].concat());
        server.git_work(&["remote", "add", "origin", server.bare.to_str().unwrap()]);
        server.write("README.md", "hello\n");
        server.write("infra/main.tf", "resource {}\n");
        server.write("payments/api.rs", "fn pay() {}\n");
        server.write("app/lib.rs", "fn app() {}\n");
        server.commit(BOB, "Initial import\n");
        assert!(server.push(&["origin", "main"]).ok);
        server
    }

    pub fn install_hook(&self) {
        let hook = self.bare.join("hooks/pre-receive");
        std::fs::copy(HOOK, &hook).unwrap();
        self.git_server(&["config", "countersign.bin", BIN]);
    }

    pub fn set_policy(&self, policy: &str) {
        std::fs::write(self.bare.join("policy.toml"), policy).unwrap();
        self.git_server(&["config", "countersign.policy", "policy.toml"]);
    }

    pub fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut command = Command::new("git");
        command
            .args(args)
            .current_dir(dir)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Bob Dev")
            .env("GIT_AUTHOR_EMAIL", "bob@example.com")
            .env("GIT_COMMITTER_NAME", "Bob Dev")
            .env("GIT_COMMITTER_EMAIL", "bob@example.com")
            .env_remove("COUNTERSIGN_POLICY")
            .env_remove("COUNTERSIGN_BIN")
            .env_remove("COUNTERSIGN_DEBUG_PANIC");
        // The hook must not pick a pusher from whoever runs the tests.
        for name in ["GL_USERNAME", "GITEA_PUSHER_NAME", "GITHUB_USER_LOGIN", "GL_USER", "REMOTE_USER"] {
            command.env_remove(name);
        }
        command
    }

    /// `sh -c script` in the work clone as a developer without a terminal: no input, and any
    /// editor git might open fails (so a command that would wait for one fails instead).
    pub fn shell(&self, script: &str) -> Output {
        let mut command = self.command(&self.work, &[]);
        let git = std::mem::replace(&mut command, Command::new("sh"));
        command.args(["-c", script]).current_dir(&self.work).stdin(Stdio::null());
        for (name, value) in git.get_envs() {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        command.env("GIT_EDITOR", "false").env("EDITOR", "false").env("VISUAL", "false").env_remove("TERM");
        command.output().unwrap()
    }

    pub fn git_output(&self, dir: &Path, args: &[&str]) -> Output {
        self.command(dir, args).output().unwrap()
    }

    pub fn git(&self, dir: &Path, args: &[&str]) -> String {
        let output = self.git_output(dir, args);
        assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    }

    /// `count` reviewed commits on top of the work clone's HEAD, made with one `git fast-import`
    /// (a hundred new files to a directory, so no tree grows large).
    pub fn reviewed_commits(&self, count: usize) {
        let head = self.head();
        let mut stream = String::new();
        for i in 0..count {
            let message = format!("Change {i}\n\n{REVIEWED}\n");
            let from = if i == 0 { format!("from {head}\n") } else { String::new() };
            stream.push_str(&format!(
                "commit refs/heads/main\ncommitter {BOB} 1700000000 +0000\ndata {}\n{message}{from}\
                 M 100644 inline app/d{}/n{i}.rs\ndata 2\n{}\n\n",
                message.len(),
                i / 100,
                i % 10
            ));
        }
        self.git_stdin(&self.work, &["fast-import", "--quiet", "--force"], stream.as_bytes());
    }

    /// Runs git in `dir` with `input` on stdin; its stdout.
    pub fn git_stdin(&self, dir: &Path, args: &[&str], input: &[u8]) -> String {
        String::from_utf8(output_fed(self.command(dir, args), input)).unwrap()
    }

    pub fn git_work(&self, args: &[&str]) -> String {
        self.git(&self.work.clone(), args)
    }

    pub fn git_server(&self, args: &[&str]) -> String {
        self.git(&self.bare.clone(), args)
    }

    pub fn write(&self, path: &str, content: &str) {
        let path = self.work.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    /// Commits everything in the work tree as `author` ("Name <email>"), message verbatim.
    pub fn commit(&self, author: &str, message: &str) -> String {
        self.git_work(&["add", "-A"]);
        let mut child = self
            .command(
                &self.work,
                &["commit", "-q", "--allow-empty", "--cleanup=verbatim", "--author", author, "-F", "-"],
            )
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(message.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
        self.head()
    }

    pub fn head(&self) -> String {
        self.git_work(&["rev-parse", "HEAD"]).trim().to_string()
    }

    pub fn push(&self, args: &[&str]) -> Push {
        self.push_as(&[], args)
    }

    /// A push whose hook sees `env` (over file:// the hook inherits the pusher's environment,
    /// as it would inherit GL_USERNAME and the like from a forge).
    pub fn push_as(&self, env: &[(&str, &str)], args: &[&str]) -> Push {
        let mut full = vec!["push"];
        full.extend_from_slice(args);
        let output = self.command(&self.work, &full).envs(env.iter().copied()).output().unwrap();
        Push { ok: output.status.success(), stderr: String::from_utf8_lossy(&output.stderr).into_owned() }
    }

    /// The audit log's lines, parsed.
    pub fn audit_lines(path: &Path) -> Vec<serde_json::Value> {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        text.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
    }

    /// The server's value of a ref, `None` if it does not exist.
    pub fn server_ref(&self, name: &str) -> Option<String> {
        let output = self.git_output(&self.bare, &["rev-parse", "--verify", "--quiet", name]);
        output.status.success().then(|| String::from_utf8(output.stdout).unwrap().trim().to_string())
    }

    /// Runs the binary as git would run the hook, in the bare repository, with `input` on stdin.
    pub fn run_hook(&self, args: &[&str], input: &str) -> Output {
        self.run_hook_bytes(args, input.as_bytes())
    }

    /// [`Server::run_hook`] with input that need not be UTF-8, as git's need not be.
    pub fn run_hook_bytes(&self, args: &[&str], input: &[u8]) -> Output {
        let mut child = Command::new(BIN)
            .arg("pre-receive")
            .args(args)
            .current_dir(&self.bare)
            .env("GIT_DIR", ".")
            .env_remove("COUNTERSIGN_POLICY")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }
}

/// Asserts the push was refused, the pusher was told `expected`, and `main` did not move.
#[track_caller]
pub fn assert_refused(server: &Server, push: &Push, expected: &[&str], main_before: &str) {
    assert!(!push.ok, "push was accepted:\n{}", push.stderr);
    assert!(push.stderr.contains("remote: countersign: push rejected"), "{}", push.stderr);
    for text in expected {
        assert!(push.stderr.contains(text), "missing {text:?} in:\n{}", push.stderr);
    }
    assert_eq!(server.server_ref("refs/heads/main").as_deref(), Some(main_before), "main moved");
}

#[track_caller]
pub fn assert_accepted(server: &Server, push: &Push, refname: &str) {
    assert!(push.ok, "push was refused:\n{}", push.stderr);
    assert_eq!(server.server_ref(refname), Some(server.head()), "{refname} is not the pushed commit");
}

/// Whether a test can have what it needs from the machine (a daemon, root). The README's
/// `cargo test` must pass on a fresh machine: there a missing need skips the test with a line
/// on the terminal. Under CI (`CI` set and not `false`/`0`, as .ci/run and CI services set it)
/// every test is mandatory, so a CI that forgot to install a daemon fails instead of skipping.
#[must_use]
pub fn machine_has(what: &str, present: bool) -> bool {
    if present {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| !matches!(v.as_str(), "" | "false" | "0"));
    assert!(!ci, "{what} (CI runs every test; .ci/run installs it)");
    let test = std::thread::current().name().unwrap_or("a test").to_string();
    // Straight to the process's stderr: the harness hides eprintln! of a passing test.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {what}");
    false
}

/// Whether the tests run as root (chroot, sshd's privilege separation directory).
pub fn is_root() -> bool {
    // /proc/self belongs to the process's effective user.
    std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap()) == 0
}

/// Marsaglia's xorshift64: deterministic, dependency-free randomness.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn percent(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }
}

/// Stdout of `command`, which must succeed, fed `input` from a thread (so a large input cannot
/// deadlock against a full stdout pipe).
pub fn output_fed(mut command: Command, input: &[u8]) -> Vec<u8> {
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}
