//! `countersign man`: one page, countersign(1), for the whole binary. clap_mangen renders the
//! title, synopsis, description and global options; every verb and its arguments follow here
//! in a COMMANDS section (clap_mangen would name a page per verb, `countersign-check(1)`, that
//! nobody installs), then what an admin looks for in a man page: EXIT STATUS, ENVIRONMENT,
//! FILES, EXAMPLES.

use clap::Command;
use roff::{Roff, bold, italic, roman};

/// The page, in roff.
pub fn render(cmd: Command) -> std::io::Result<String> {
    let mut cmd = cmd;
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    let mut roff = Roff::new();
    roff.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        command(&mut roff, sub, cmd.get_name());
    }
    for (title, paragraphs) in SECTIONS {
        roff.control("SH", [*title]);
        for paragraph in *paragraphs {
            paragraph_of(&mut roff, paragraph);
        }
    }
    roff.to_writer(&mut out)?;
    man.render_version_section(&mut out)?;
    String::from_utf8(out).map_err(std::io::Error::other)
}

/// A verb (or, for `policy`, each of its verbs): its name, what it does, each argument.
fn command(roff: &mut Roff, cmd: &Command, parent: &str) {
    let name = format!("{parent} {}", cmd.get_name());
    if cmd.has_subcommands() {
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            command(roff, sub, &name);
        }
        return;
    }
    roff.control("SS", [name.as_str()]);
    if let Some(about) = cmd.get_long_about().or_else(|| cmd.get_about()) {
        roff.text([roman(about.to_string())]);
    }
    for arg in cmd.get_arguments().filter(|a| !a.is_global_set() && !a.is_hide_set()) {
        let id = arg.get_id().as_str();
        if id == "help" || id == "version" {
            continue;
        }
        let values: Vec<String> =
            arg.get_value_names().unwrap_or_default().iter().map(|v| format!("<{v}>")).collect();
        let mut head = Vec::new();
        if let Some(long) = arg.get_long() {
            head.push(bold(format!("--{long}")));
            if arg.get_action().takes_values() && !values.is_empty() {
                head.push(roman(" "));
                head.push(italic(values.join(" ")));
            }
        } else {
            let shown = if values.is_empty() { format!("<{}>", id.to_uppercase()) } else { values.join(" ") };
            head.push(italic(shown));
        }
        roff.control("TP", []);
        roff.text(head);
        let mut help =
            arg.get_long_help().or_else(|| arg.get_help()).map(|h| h.to_string()).unwrap_or_default();
        let possible: Vec<String> = arg
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_string())
            .collect();
        if !possible.is_empty() && !arg.is_positional() {
            help.push_str(&format!(" One of: {}.", possible.join(", ")));
        }
        roff.text([roman(help)]);
    }
}

/// A paragraph of plain text; a line starting with `$ ` is an example command, shown as is.
fn paragraph_of(roff: &mut Roff, text: &str) {
    if let Some(example) = text.strip_prefix("$ ") {
        roff.control("PP", []).control("nf", []).text([roman(example)]).control("fi", []);
    } else if let Some((term, body)) = text.split_once(" :: ") {
        roff.control("TP", []).text([bold(term)]).text([roman(body)]);
    } else {
        roff.control("PP", []).text([roman(text)]);
    }
}

/// The sections after COMMANDS: `term :: text` is a tagged paragraph, `$ ` an example.
const SECTIONS: &[(&str, &[&str])] = &[
    (
        "EXIT STATUS",
        &[
            "0 :: Accepted or passed; for report, install, uninstall, approve, demo, completions and man: done. \
             A closed pipe on standard output stops a command quietly with 0.",
            "1 :: The hook refuses the push; check or explain: a commit fails; policy test: a case does not \
             give what it expects. Not with --dry-run, or a policy in mode \"warn\".",
            "2 :: An error of usage, policy or repository, said on standard error. The hook refuses the push \
             with exit 1 on any error instead.",
        ],
    ),
    (
        "ENVIRONMENT",
        &[
            "COUNTERSIGN_POLICY :: The policy file, when no --policy or --policy-ref is given (every verb but \
             the hook, which reads git config only).",
            "COUNTERSIGN_LOG, RUST_LOG :: A diagnostics filter such as countersign=debug, on standard error.",
            "NO_COLOR :: Set and not empty: no colour with --color auto.",
            "GL_USERNAME, GITEA_PUSHER_NAME, GITHUB_USER_LOGIN, GL_USER, REMOTE_USER :: In the hook, who \
             pushes (the first set, or the policy's [override] pusher_env).",
            "GL_ID :: Set by GitLab's Gitaly: a refusal's first line is prefixed GL-HOOK-ERR: for the web UI.",
            "GIT_DIR, GIT_OBJECT_DIRECTORY, GIT_ALTERNATE_OBJECT_DIRECTORIES :: Set by git for the hook: the \
             repository and the pushed objects in quarantine.",
        ],
    ),
    (
        "FILES",
        &[
            "policy.toml :: The policy (version 1); every key is in docs/reference.md of the source and in \
             the README. policy check validates it.",
            "policy.tests.toml :: Test cases beside the policy, for policy test.",
            "hooks/pre-receive :: The hook install writes in a bare repository (custom_hooks/pre-receive.d/\
             countersign with --layout gitlab, hooks/pre-receive.d/countersign with --layout gitea).",
            "git config countersign.bin, countersign.policy, countersign.policyRef :: Set by install in the \
             repository: the binary the hook runs and where its policy is.",
            "[audit] path :: The audit log, one JSON line per decision the hook makes.",
        ],
    ),
    (
        "EXAMPLES",
        &[
            "Validate a policy, then install the hook on a server's repository:",
            "$ countersign policy check /etc/countersign/policy.toml\n\
             countersign install --repo /srv/git/app.git --policy /etc/countersign/policy.toml",
            "In CI, judge a merge request's commits by the target branch's committed policy:",
            "$ countersign check --policy-ref refs/remotes/origin/main:policy.toml origin/main..HEAD",
            "Why does a commit fail, and what would make it pass?",
            "$ countersign explain --policy policy.toml HEAD~2",
            "A reviewer signs an approval of the change at HEAD:",
            "$ countersign approve --key ~/.ssh/id_ed25519 HEAD",
            "A sandbox with a refused and an accepted push:",
            "$ countersign demo",
        ],
    ),
    ("SEE ALSO", &["git-receive-pack(1), githooks(5), git-interpret-trailers(1), ssh-keygen(1)"]),
];
