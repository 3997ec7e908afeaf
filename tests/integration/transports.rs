//! Pushes over the transports servers use, each to a hook set up by `countersign install`:
//! smart HTTP (`git http-backend` behind lighttpd with basic auth) and SSH (a local sshd).
//! Each server runs on a free loopback port in the test's temporary directory, and stops with
//! the test. Without a server binary (or, for sshd, root) a test is skipped, and fails under
//! CI: `.ci/run` installs both.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

const UNAPPROVED: &str = "Retry calls\n\nCo-authored-by: Claude <noreply@anthropic.com>\n\
                          Reviewed-by: Carol Dev <carol@example.com>\n";
const APPROVED: &str = "Retry calls\n\nCo-authored-by: Claude <noreply@anthropic.com>\n\
                        Approved-by: Alice Senior <alice@example.com>\n";

/// A server process, killed when the test ends however it ends.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    /// Starts `command` (its output to `log`) and waits until `port` accepts connections.
    fn start(mut command: Command, log: PathBuf, port: u16) -> Daemon {
        let file = std::fs::File::create(&log).unwrap();
        let program = command.get_program().to_string_lossy().into_owned();
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {program}: {e}"));
        let mut daemon = Daemon { child, log };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = daemon.child.try_wait() {
                panic!("{program} exited ({status}):\n{}", daemon.log());
            }
            assert!(Instant::now() < deadline, "{program} did not listen on {port}:\n{}", daemon.log());
            std::thread::sleep(Duration::from_millis(20));
        }
        daemon
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server binary, if this machine has it (else the test is skipped, or fails under CI).
fn require(path: &str, package: &str) -> Option<PathBuf> {
    let present = Path::new(path).is_file();
    machine_has(&format!("needs {path}: apt-get install {package}"), present).then(|| PathBuf::from(path))
}

fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port()
}

/// A server with countersign installed (`policy` in a file beside the repository), and a hook
/// that was there before, chained by `install --force`, that logs the pusher's `REMOTE_USER`.
fn installed_server(policy: &str) -> Server {
    let server = Server::without_hook();
    let text = policy;
    let policy = server.home.join("policy.toml");
    std::fs::write(&policy, text).unwrap();
    let hook = server.bare.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\ncat > /dev/null\necho \"user=${REMOTE_USER:-}\" >> remote-user.log\n")
        .unwrap();
    let mut permissions = std::fs::metadata(&hook).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&hook, permissions).unwrap();
    let output = Command::new(BIN)
        .args(["install", "--force", "--repo", server.bare.to_str().unwrap()])
        .args(["--policy", policy.to_str().unwrap()])
        .env("HOME", &server.home)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    server
}

/// Pushes `message` as a new commit on main to `url`, with `env`.
fn push(server: &Server, url: &str, message: &str, env: &[(&str, String)]) -> Push {
    server.write("app/lib.rs", &format!("fn app() {{}} // {}\n", server.head()));
    server.commit(BOB, message);
    let output: Output = server
        .command(&server.work, &["push", url, "HEAD:refs/heads/main"])
        .env("GIT_TERMINAL_PROMPT", "0")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    Push { ok: output.status.success(), stderr: String::from_utf8_lossy(&output.stderr).into_owned() }
}

/// One refused push (main unchanged, the pusher sees why), then an approved one (main moves).
fn refused_then_accepted(server: &Server, url: &str, env: &[(&str, String)], daemon: &Daemon) {
    let main = server.server_ref("refs/heads/main").unwrap();
    let refused = push(server, url, UNAPPROVED, env);
    assert!(!refused.ok, "accepted:\n{}\nserver log:\n{}", refused.stderr, daemon.log());
    assert!(
        refused.stderr.contains("remote: countersign: push rejected"),
        "{}\n{}",
        refused.stderr,
        daemon.log()
    );
    assert!(
        refused.stderr.contains("x senior sign-off for AI-assisted changes [missing-approval]"),
        "{}",
        refused.stderr
    );
    assert_eq!(server.server_ref("refs/heads/main"), Some(main));
    // Plain text a terminal shows as it is: no escape codes, no line past 100 columns.
    assert!(!refused.stderr.contains('\x1b'), "{}", refused.stderr);
    let widest = refused.stderr.lines().map(|line| line.trim_end().chars().count()).max();
    assert!(widest <= Some(100), "a line of {widest:?} columns:\n{}", refused.stderr);
    server.git_work(&["reset", "-q", "--hard", "HEAD~"]);
    let accepted = push(server, url, APPROVED, env);
    assert!(accepted.ok, "refused:\n{}\nserver log:\n{}", accepted.stderr, daemon.log());
    assert!(accepted.stderr.contains("remote: countersign: push accepted"), "{}", accepted.stderr);
    assert_eq!(server.server_ref("refs/heads/main"), Some(server.head()));
}

/// lighttpd in front of `git http-backend` for `server`, with basic auth for `users`
/// (`name:password` lines); its port. `None` on a machine without lighttpd (the test is skipped).
fn serve_over_http(server: &Server, users: &str) -> Option<(Daemon, u16)> {
    let lighttpd = require("/usr/sbin/lighttpd", "lighttpd")?;
    let exec_path = server.git(&server.home, &["--exec-path"]);
    let backend = Path::new(exec_path.trim()).join("git-http-backend");
    let root = &server.home;
    std::fs::write(root.join("users"), users).unwrap();
    let port = free_port();
    // git-http-backend allows receive-pack only to an authenticated user (REMOTE_USER set).
    let config = format!(
        r#"server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{root}/lighttpd-error.log"
server.modules = ("mod_alias", "mod_setenv", "mod_auth", "mod_authn_file", "mod_cgi")
alias.url = ("/git/" => "{backend}/")
cgi.assign = ("" => "")
setenv.set-environment = ("GIT_PROJECT_ROOT" => "{root}", "GIT_HTTP_EXPORT_ALL" => "1")
auth.backend = "plain"
auth.backend.plain.userfile = "{root}/users"
auth.require = ("/git/" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
"#,
        root = root.display(),
        backend = backend.display(),
    );
    std::fs::write(root.join("lighttpd.conf"), config).unwrap();
    let mut command = Command::new(lighttpd);
    command.arg("-D").arg("-f").arg(root.join("lighttpd.conf"));
    Some((Daemon::start(command, root.join("lighttpd.log"), port), port))
}

#[test]
fn smart_http_push_through_lighttpd_with_basic_auth() {
    let server = installed_server(POLICY);
    let Some((daemon, port)) = serve_over_http(&server, "alice:s3cret\n") else { return };
    let denied = push(&server, &format!("http://alice:wrong@127.0.0.1:{port}/git/server.git"), APPROVED, &[]);
    assert!(!denied.ok && denied.stderr.contains("Authentication failed"), "{}", denied.stderr);
    server.git_work(&["reset", "-q", "--hard", "HEAD~"]);

    refused_then_accepted(
        &server,
        &format!("http://alice:s3cret@127.0.0.1:{port}/git/server.git"),
        &[],
        &daemon,
    );
    // The chained hook ran once, for the accepted push, and saw who pushed.
    let seen = std::fs::read_to_string(server.bare.join("remote-user.log")).unwrap();
    assert_eq!(seen, "user=alice\n");
}

#[test]
fn ssh_push_through_a_local_sshd() {
    let (Some(sshd), Some(ssh_keygen)) =
        (require("/usr/sbin/sshd", "openssh-server"), require("/usr/bin/ssh-keygen", "openssh-client"))
    else {
        return;
    };
    // sshd's privilege separation directory: made by the service's start-up (as root), not the
    // package.
    let run_sshd = Path::new("/run/sshd");
    if !machine_has("needs root, or /run/sshd made by root, to run sshd", run_sshd.exists() || is_root()) {
        return;
    }
    let server = installed_server(POLICY);
    let root = &server.home;
    for key in ["host_key", "client_key"] {
        let output = Command::new(&ssh_keygen)
            .args(["-q", "-t", "ed25519", "-N", "", "-f"])
            .arg(root.join(key))
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    std::fs::copy(root.join("client_key.pub"), root.join("authorized_keys")).unwrap();
    if !run_sshd.exists() {
        std::fs::create_dir_all(run_sshd).expect("creating /run/sshd for sshd");
    }
    let port = free_port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {root}/host_key\n\
         AuthorizedKeysFile {root}/authorized_keys\nStrictModes no\nPermitRootLogin yes\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nPidFile none\n",
        root = root.display()
    );
    std::fs::write(root.join("sshd_config"), config).unwrap();
    let mut command = Command::new(sshd);
    command.arg("-D").arg("-e").arg("-f").arg(root.join("sshd_config"));
    let daemon = Daemon::start(command, root.join("sshd.log"), port);

    let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout).unwrap();
    let url = format!("ssh://{}@127.0.0.1:{port}{}", user.trim(), server.bare.display());
    let ssh = format!(
        "ssh -F /dev/null -i {} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=no \
         -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
        root.join("client_key").display()
    );
    refused_then_accepted(&server, &url, &[("GIT_SSH_COMMAND", ssh)], &daemon);
}

/// A recorded approval over smart HTTP: the login is the one the web server authenticated
/// (`REMOTE_USER`), never one the pusher chose.
#[test]
fn an_approval_recorded_over_smart_http_is_the_authenticated_users() {
    let policy = POLICY
        .replace("[approvals]\n", "[approvals]\nrecorded = \"required\"\n")
        .replace("emails = [\"alice@example.com\"]", "emails = [\"alice@example.com\"]\nlogins = [\"alice\"]")
        .replace("emails = [\"bob@example.com\"]", "emails = [\"bob@example.com\"]\nlogins = [\"bob\"]");
    let server = installed_server(&policy);
    let Some((daemon, port)) = serve_over_http(&server, "alice:s3cret\nbob:b0b\n") else { return };
    let url =
        |user: &str, password: &str| format!("http://{user}:{password}@127.0.0.1:{port}/git/server.git");
    server.write("app/lib.rs", "fn reviewed_by_recording() {}\n");
    let commit = server.commit(BOB, "Needs a recorded approval\n");
    let record = |user: &str, password: &str, login: &str| {
        let output = Command::new(BIN)
            .args(["approve", "--push", "--remote", &url(user, password), "--login", login, "HEAD"])
            .current_dir(&server.work)
            .env("HOME", &server.home)
            .env("GIT_TERMINAL_PROMPT", "0")
            .env_remove("REMOTE_USER")
            .output()
            .unwrap();
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    // Bob, authenticated as bob, cannot record in alice's name, whatever his client says.
    let (ok, stderr) = record("bob", "b0b", "alice");
    assert!(!ok, "{stderr}\n{}", daemon.log());
    assert!(stderr.contains("Bob Dev (login bob via REMOTE_USER)"), "{stderr}");
    assert!(stderr.contains("may not record an approval in the name of alice"), "{stderr}");
    let (ok, stderr) = record("alice", "s3cret", "alice");
    assert!(ok, "{stderr}\n{}", daemon.log());
    let listed =
        server.git_server(&["for-each-ref", "--format=%(refname) %(objectname)", "refs/countersign/"]);
    assert!(listed.trim().ends_with(&format!("/alice {commit}")), "{listed}");
    let push =
        server.command(&server.work, &["push", &url("bob", "b0b"), "HEAD:refs/heads/main"]).output().unwrap();
    assert!(push.status.success(), "{}", String::from_utf8_lossy(&push.stderr));
    assert_eq!(server.server_ref("refs/heads/main").as_deref(), Some(commit.as_str()));
}
