//! `countersign install` and `uninstall` on each layout, through real pushes: idempotence,
//! `--dry-run`, a foreign hook kept and chained with `--force`, and restored byte for byte.

use std::hash::{Hash as _, Hasher as _};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::*;

/// An AI-assisted change with only a peer's review: the policy wants a senior.
const UNAPPROVED: &str = "Retry calls\n\nCo-authored-by: Claude <noreply@anthropic.com>\n\
                          Reviewed-by: Carol Dev <carol@example.com>\n";
const APPROVED: &str = "Retry calls\n\nCo-authored-by: Claude <noreply@anthropic.com>\n\
                        Approved-by: Alice Senior <alice@example.com>\n";

/// Stands in for the dispatcher Gitea and Forgejo generate as `hooks/pre-receive` (and, with
/// `custom_hooks`, for Gitaly): every executable file of the `.d` directory gets the same input;
/// any refusal refuses the push.
fn dispatcher(dir: &str) -> String {
    format!(
        "#!/bin/sh\ninput=$(cat)\nstatus=0\nfor hook in \"$GIT_DIR\"/{dir}/*; do\n\
         \ttest -f \"$hook\" && test -x \"$hook\" || continue\n\
         \tprintf '%s\\n' \"$input\" | \"$hook\" || status=1\ndone\nexit $status\n"
    )
}

/// A server with no hook yet, and the policy in a file outside the repository.
fn setup() -> (Server, PathBuf) {
    let server = Server::without_hook();
    let policy = server.home.join("policy.toml");
    std::fs::write(&policy, POLICY).unwrap();
    (server, policy)
}

fn countersign(server: &Server, args: &[&str]) -> Output {
    countersign_env(server, args, &[])
}

fn countersign_env(server: &Server, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("HOME", &server.home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env_remove("COUNTERSIGN_POLICY")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn succeeds(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(0), "{}{}", text(&output.stdout), text(&output.stderr));
    text(&output.stdout)
}

fn install(server: &Server, policy: &Path, extra: &[&str]) -> Output {
    let mut args =
        vec!["install", "--repo", server.bare.to_str().unwrap(), "--policy", policy.to_str().unwrap()];
    args.extend_from_slice(extra);
    countersign(server, &args)
}

fn uninstall(server: &Server) -> Output {
    countersign(server, &["uninstall", "--repo", server.bare.to_str().unwrap()])
}

fn config(server: &Server, key: &str) -> Option<String> {
    let output = server.git_output(&server.bare, &["config", "--get", key]);
    output.status.success().then(|| text(&output.stdout).trim().to_string())
}

/// The repository's git config names nothing of countersign's.
#[track_caller]
fn no_countersign_config(server: &Server) {
    let output = server.git_output(&server.bare, &["config", "--get-regexp", "^countersign\\."]);
    assert_eq!(text(&output.stdout), "");
}

/// Every file under the repository with a hash of its bytes and its mode, except objects, refs
/// and the config (git, like libgit2, leaves an emptied `[section]` header behind).
fn snapshot(dir: &Path) -> Vec<(PathBuf, u64, u32)> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(dir) = todo.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::metadata(&path).unwrap();
            if meta.is_dir() {
                if !path.ends_with("objects") && !path.ends_with("refs") {
                    todo.push(path);
                }
            } else if !path.ends_with("config") {
                let mut hasher = std::hash::DefaultHasher::new();
                std::fs::read(&path).unwrap().hash(&mut hasher);
                files.push((path.clone(), hasher.finish(), meta.permissions().mode()));
            }
        }
    }
    files.sort();
    files
}

/// Commits `message` to `app/` and pushes it to `refname` on the server.
fn push_change(server: &Server, message: &str, refname: &str) -> Push {
    server.write("app/lib.rs", &format!("fn app() {{}} // {}\n", server.head()));
    server.commit(BOB, message);
    server.push(&["origin", &format!("HEAD:{refname}")])
}

/// One refused and one accepted push to main through whatever is installed.
#[track_caller]
fn refuses_then_accepts(server: &Server) {
    let main = server.server_ref("refs/heads/main").unwrap();
    let push = push_change(server, UNAPPROVED, "refs/heads/main");
    assert_refused(server, &push, &["x senior sign-off for AI-assisted changes"], &main);
    server.git_work(&["reset", "-q", "--hard", "HEAD~"]);
    let push = push_change(server, APPROVED, "refs/heads/main");
    assert_accepted(server, &push, "refs/heads/main");
}

#[test]
fn plain_install_gates_pushes_and_a_second_run_changes_nothing() {
    let (server, policy) = setup();
    let stdout = succeeds(&install(&server, &policy, &[]));
    let hook = server.bare.join("hooks/pre-receive");
    assert!(stdout.contains(&format!("write hook {}", hook.display())), "{stdout}");
    assert!(stdout.contains("valid (4 people, 3 rules, 1 warning(s))"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), std::fs::read_to_string(HOOK).unwrap());
    assert_eq!(std::fs::metadata(&hook).unwrap().permissions().mode() & 0o777, 0o755);
    assert_eq!(config(&server, "countersign.policy").as_deref(), policy.to_str());
    let bin = std::fs::canonicalize(BIN).unwrap();
    assert_eq!(config(&server, "countersign.bin").as_deref(), bin.to_str());
    // The server had no commit-graph: install writes the one git's gc keeps from then on.
    assert!(stdout.contains("write a commit-graph"), "{stdout}");
    assert!(server.bare.join("objects/info/commit-graph").is_file());
    refuses_then_accepts(&server);

    let before = snapshot(&server.bare);
    let stdout = succeeds(&install(&server, &policy, &[]));
    assert!(stdout.ends_with("nothing to change\n"), "{stdout}");
    assert!(!stdout.contains("write hook"), "{stdout}");
    assert_eq!(snapshot(&server.bare), before);

    let stdout = succeeds(&uninstall(&server));
    assert!(stdout.contains(&format!("remove hook {}", hook.display())), "{stdout}");
    assert!(!hook.exists());
    no_countersign_config(&server);
    let push = push_change(&server, UNAPPROVED, "refs/heads/main");
    assert!(push.ok, "no hook, no gate: {}", push.stderr);
    assert!(succeeds(&uninstall(&server)).ends_with("nothing to change\n"));
}

#[test]
fn no_commit_graph_is_planned_where_git_would_not_write_one() {
    let (server, policy) = setup();
    server.git_server(&["config", "core.commitGraph", "false"]);
    let stdout = succeeds(&install(&server, &policy, &[]));
    assert!(!stdout.contains("commit-graph"), "{stdout}");
    assert!(!server.bare.join("objects/info/commit-graph").exists());
    assert!(succeeds(&install(&server, &policy, &[])).ends_with("nothing to change\n"));
}

#[test]
fn dry_run_prints_the_steps_and_changes_nothing() {
    let (server, policy) = setup();
    let before = snapshot(&server.bare);
    let stdout = succeeds(&install(&server, &policy, &["--dry-run"]));
    assert!(stdout.contains("write hook"), "{stdout}");
    assert!(stdout.contains(&format!("git config countersign.policy {}", policy.display())), "{stdout}");
    assert!(stdout.ends_with("dry run: nothing changed\n"), "{stdout}");
    assert_eq!(snapshot(&server.bare), before);

    succeeds(&install(&server, &policy, &[]));
    let installed = snapshot(&server.bare);
    let stdout =
        succeeds(&countersign(&server, &["uninstall", "--dry-run", "--repo", server.bare.to_str().unwrap()]));
    assert!(stdout.contains("remove hook"), "{stdout}");
    assert_eq!(snapshot(&server.bare), installed);
}

#[test]
fn an_invalid_policy_installs_nothing() {
    let (server, policy) = setup();
    std::fs::write(&policy, "version = 1\n[[rule]]\nname = \"r\"\nfrom_role = \"senior\"\n").unwrap();
    let before = snapshot(&server.bare);
    let output = install(&server, &policy, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("policy.toml:4:13: error[unknown-role]"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(snapshot(&server.bare), before);
}

#[test]
fn a_foreign_hook_is_kept_only_with_force_chained_and_restored() {
    let (server, policy) = setup();
    let hook = server.bare.join("hooks/pre-receive");
    // Logs what it was given, and refuses anything to refs/heads/frozen.
    let foreign = "#!/bin/sh\ninput=$(cat)\nprintf '%s\\n' \"$input\" >> foreign.log\n\
                   case $input in *refs/heads/frozen*) echo 'foreign hook: frozen' >&2; exit 1 ;; esac\n";
    std::fs::write(&hook, foreign).unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o750)).unwrap();

    let output = install(&server, &policy, &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("is not countersign's hook; pass --force"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), foreign);
    assert_eq!(config(&server, "countersign.bin"), None);

    let stdout = succeeds(&install(&server, &policy, &["--force"]));
    let chained = server.bare.join("hooks/pre-receive.countersign-chained");
    assert!(stdout.contains(&format!("move the existing hook {} to {}", hook.display(), chained.display())));
    assert_eq!(std::fs::read_to_string(&chained).unwrap(), foreign);

    // countersign refuses first; the foreign hook never hears of a refused push.
    let log = server.bare.join("foreign.log");
    refuses_then_accepts(&server);
    let logged = std::fs::read_to_string(&log).unwrap();
    assert_eq!(logged.lines().count(), 1, "{logged}");
    assert!(logged.ends_with(&format!(" {} refs/heads/main\n", server.head())), "{logged}");
    // countersign accepts (frozen is not protected); the foreign hook refuses.
    let push = push_change(&server, "Unreviewed\n", "refs/heads/frozen");
    assert!(!push.ok);
    assert!(push.stderr.contains("remote: foreign hook: frozen"), "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/frozen"), None);
    assert!(succeeds(&install(&server, &policy, &["--force"])).ends_with("nothing to change\n"));

    let stdout = succeeds(&uninstall(&server));
    assert!(stdout.contains(&format!("restore hook {} from {}", hook.display(), chained.display())));
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), foreign);
    assert_eq!(std::fs::metadata(&hook).unwrap().permissions().mode() & 0o777, 0o750);
    assert!(!chained.exists());
    no_countersign_config(&server);
}

#[test]
fn a_hook_copied_by_hand_from_an_older_release_is_updated() {
    let (server, policy) = setup();
    let hook = server.bare.join("hooks/pre-receive");
    std::fs::write(&hook, "#!/bin/sh\n# countersign pre-receive hook: copy to <repo.git>/hooks/pre-receive\nexec countersign pre-receive\n").unwrap();
    let stdout = succeeds(&install(&server, &policy, &[]));
    assert!(stdout.contains("(an older countersign version)"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), std::fs::read_to_string(HOOK).unwrap());
}

#[test]
fn gitea_layout_runs_under_giteas_dispatcher() {
    let (server, policy) = setup();
    let output = install(&server, &policy, &["--layout", "gitea"]);
    assert_eq!(output.status.code(), Some(2), "no dispatcher, no install");
    assert!(text(&output.stderr).contains("is not Gitea's hook dispatcher"), "{}", text(&output.stderr));

    let hooks = server.bare.join("hooks");
    std::fs::write(hooks.join("pre-receive"), dispatcher("hooks/pre-receive.d")).unwrap();
    std::fs::set_permissions(hooks.join("pre-receive"), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(hooks.join("pre-receive.d")).unwrap();
    std::fs::write(hooks.join("pre-receive.d/gitea"), "#!/bin/sh\ncat > /dev/null\n").unwrap();
    std::fs::set_permissions(hooks.join("pre-receive.d/gitea"), std::fs::Permissions::from_mode(0o755))
        .unwrap();
    let before = snapshot(&server.bare);

    succeeds(&install(&server, &policy, &["--layout", "gitea"]));
    assert!(hooks.join("pre-receive.d/countersign").is_file());
    refuses_then_accepts(&server);

    succeeds(&uninstall(&server));
    let after = snapshot(&server.bare);
    assert_eq!(
        after.iter().map(|f| &f.0).collect::<Vec<_>>(),
        before.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert_eq!(
        std::fs::read_to_string(hooks.join("pre-receive")).unwrap(),
        dispatcher("hooks/pre-receive.d")
    );
}

#[test]
fn gitlab_layout_marks_the_refusal_for_gitlabs_web_ui() {
    let (server, policy) = setup();
    let before = snapshot(&server.bare);
    let stdout = succeeds(&install(&server, &policy, &["--layout", "gitlab"]));
    let hook = server.bare.join("custom_hooks/pre-receive.d/countersign");
    assert!(stdout.contains(&format!("write hook {}", hook.display())), "{stdout}");
    assert!(std::fs::metadata(&hook).unwrap().permissions().mode() & 0o111 != 0);
    assert!(!server.bare.join("hooks/pre-receive").exists());

    // Gitaly runs custom_hooks/pre-receive.d/* with GL_ID set; GL_ID in the pusher's
    // environment reaches the hook of a file:// push.
    let gitaly = server.bare.join("hooks/pre-receive");
    std::fs::write(&gitaly, dispatcher("custom_hooks/pre-receive.d")).unwrap();
    std::fs::set_permissions(&gitaly, std::fs::Permissions::from_mode(0o755)).unwrap();
    let main = server.server_ref("refs/heads/main").unwrap();
    server.write("app/lib.rs", "changed\n");
    server.commit(BOB, UNAPPROVED);
    let output =
        server.command(&server.work, &["push", "origin", "main"]).env("GL_ID", "user-1").output().unwrap();
    let push = Push { ok: output.status.success(), stderr: text(&output.stderr) };
    assert!(push.stderr.contains("remote: GL-HOOK-ERR: countersign: push rejected "), "{}", push.stderr);
    assert_eq!(push.stderr.matches("GL-HOOK-ERR").count(), 1, "{}", push.stderr);
    assert_eq!(server.server_ref("refs/heads/main").as_deref(), Some(main.as_str()));
    // Without GL_ID, no prefix.
    let push = server.push(&["origin", "main"]);
    assert!(!push.ok);
    assert!(push.stderr.contains("remote: countersign: push rejected "), "{}", push.stderr);
    assert!(!push.stderr.contains("GL-HOOK-ERR"), "{}", push.stderr);

    std::fs::remove_file(&gitaly).unwrap();
    succeeds(&uninstall(&server));
    assert!(!server.bare.join("custom_hooks").exists());
    assert_eq!(snapshot(&server.bare), before);
    no_countersign_config(&server);
}

#[test]
fn policy_ref_must_exist_and_replaces_a_policy_file() {
    let (server, policy) = setup();
    let repo = server.bare.to_str().unwrap();
    let output =
        countersign(&server, &["install", "--repo", repo, "--policy-ref", "refs/heads/policy:policy.toml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("the policy ref refs/heads/policy does not exist"),
        "{}",
        text(&output.stderr)
    );
    assert!(!server.bare.join("hooks/pre-receive").exists());

    succeeds(&install(&server, &policy, &[]));
    // The policy lands on main (reviewed, so the gate lets it in), then the hook reads it there.
    server.write("policy.toml", POLICY);
    server.commit(BOB, &format!("Add the policy\n\n{REVIEWED}\n"));
    assert!(server.push(&["origin", "main"]).ok);
    let spec = "refs/heads/main:policy.toml";
    let stdout = succeeds(&countersign(&server, &["install", "--repo", repo, "--policy-ref", spec]));
    assert!(stdout.contains("git config --unset countersign.policy"), "{stdout}");
    assert_eq!(config(&server, "countersign.policyRef").as_deref(), Some(spec));
    assert_eq!(config(&server, "countersign.policy"), None);
    refuses_then_accepts(&server);
    // Without a policy flag, a reinstall keeps (and checks) the configured one.
    let stdout = succeeds(&countersign(&server, &["install", "--repo", repo]));
    assert!(stdout.contains("policy refs/heads/main:policy.toml: valid"), "{stdout}");
    assert!(stdout.ends_with("nothing to change\n"), "{stdout}");
}

#[test]
fn install_without_any_policy_is_refused() {
    let (server, _) = setup();
    let output = countersign(&server, &["install", "--repo", server.bare.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        text(&output.stderr).contains("no policy: pass --policy FILE or --policy-ref"),
        "{}",
        text(&output.stderr)
    );
    assert!(!server.bare.join("hooks/pre-receive").exists());
}

/// Break-glass needs git to advertise push options: install turns that on exactly when the
/// policy names someone who may override.
#[test]
fn a_policy_with_override_people_turns_on_push_options() {
    let (server, policy) = setup();
    succeeds(&install(&server, &policy, &[]));
    assert_eq!(config(&server, "receive.advertisePushOptions"), None);
    let with_override = server.home.join("override.toml");
    std::fs::write(&with_override, format!("{POLICY}\n[override]\npeople = [\"Dana Director\"]\n")).unwrap();
    succeeds(&install(&server, &with_override, &[]));
    assert_eq!(config(&server, "receive.advertisePushOptions").as_deref(), Some("true"));
}

#[test]
fn trial_mode_is_an_install_flag_that_a_second_install_keeps_until_enforce() {
    let (server, policy) = setup();
    let dry = succeeds(&install(&server, &policy, &["--trial", "--dry-run"]));
    assert!(dry.contains("git config countersign.trial true"), "{dry}");
    assert!(dry.contains("trial mode: on (git config countersign.trial)"), "{dry}");
    assert_eq!(config(&server, "countersign.trial"), None, "a dry run changes nothing");
    succeeds(&install(&server, &policy, &["--trial"]));
    assert_eq!(config(&server, "countersign.trial").as_deref(), Some("true"));

    // Reported, not refused; and the trial says so.
    let push = push_change(&server, UNAPPROVED, "refs/heads/main");
    assert_accepted(&server, &push, "refs/heads/main");
    assert!(push.stderr.contains("push accepted, but it breaks the policy (warn mode, trial or dry run)"));
    assert!(push.stderr.contains("x senior sign-off for AI-assisted changes"), "{}", push.stderr);

    // Installing again (say, a new binary) keeps the trial, and says so.
    let again = succeeds(&install(&server, &policy, &[]));
    assert!(again.contains("trial mode: on"), "{again}");
    assert!(again.contains("nothing to change") && !again.contains("countersign.trial true"), "{again}");
    assert_eq!(config(&server, "countersign.trial").as_deref(), Some("true"));

    let ended = succeeds(&install(&server, &policy, &["--enforce", "--dry-run"]));
    assert!(ended.contains("git config --unset countersign.trial"), "{ended}");
    succeeds(&install(&server, &policy, &["--enforce"]));
    assert_eq!(config(&server, "countersign.trial"), None);
    // A pusher's own git config (over file:// the hook sees the pusher's HOME) cannot start
    // a trial: only the repository's counts.
    server.git(&server.home, &["config", "--global", "countersign.trial", "true"]);
    let main = server.server_ref("refs/heads/main").unwrap();
    let push = push_change(&server, UNAPPROVED, "refs/heads/main");
    assert_refused(&server, &push, &["x senior sign-off for AI-assisted changes"], &main);
    server.git(&server.home, &["config", "--global", "--unset", "countersign.trial"]);

    succeeds(&install(&server, &policy, &["--trial"]));
    succeeds(&uninstall(&server));
    no_countersign_config(&server);
}
