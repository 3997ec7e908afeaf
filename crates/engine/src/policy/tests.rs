use super::*;

fn today() -> Date {
    Date::new(2026, 6, 1).unwrap()
}

fn parse(text: &str) -> Result<Policy, PolicyError> {
    Policy::parse(PolicySource::new("policy.toml", text), today())
}

/// The rendered problems of an invalid policy, one string.
fn problems(text: &str) -> String {
    match parse(text) {
        Ok(_) => panic!("policy unexpectedly valid:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const MINIMAL: &str = "version = 1\n";

#[test]
fn the_shipped_example_policy_is_valid() {
    let policy = parse(include_str!("../../../../policy.toml")).unwrap();
    assert_eq!(policy.rules.len(), 3);
    // Its role rules take unsigned approvals (the demo types them): that is said once.
    let codes: Vec<&str> = policy.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, ["unsigned-role-approvals"]);
    assert!(policy.gate.protected.is_match("refs/heads/release/2.0"));
    assert_eq!(policy.person_by_email(" Carol@Users.Noreply.GitHub.com ").unwrap().name, "Carol Senior");
}

#[test]
fn defaults_guard_branches_and_enforce() {
    let policy = parse(MINIMAL).unwrap();
    assert_eq!(policy.gate.mode, Mode::Enforce);
    assert!(policy.gate.protected.is_match("refs/heads/topic"));
    assert!(!policy.gate.protected.is_match("refs/tags/v1"));
    assert!(!policy.gate.allow_delete && !policy.gate.allow_force_push);
    assert_eq!(policy.approvals.trailer_keys, ["Reviewed-by", "Approved-by"]);
}

#[test]
fn unknown_key_is_an_error_at_its_line_and_column() {
    let shown = problems("version = 1\n[[rule]]\nname = \"r\"\nrequir = 2\n");
    assert!(shown.contains("policy.toml:4:1: error[invalid-toml]: unknown field `requir`"), "{shown}");
}

#[test]
fn unknown_key_in_nested_table_is_an_error() {
    let shown = problems("version = 1\n[gate]\nprotect = [\"refs/heads/main\"]\n");
    assert!(shown.contains("policy.toml:3:1:") && shown.contains("unknown field `protect`"), "{shown}");
}

#[test]
fn bad_mode_value_is_an_error() {
    let shown = problems("version = 1\n[gate]\nmode = \"loud\"\n");
    assert!(shown.contains("policy.toml:3:8:"), "{shown}");
}

#[test]
fn wrong_version_is_an_error() {
    assert!(problems("version = 2\n").contains("policy.toml:1:11: error[unsupported-version]"));
}

#[test]
fn every_validation_problem_is_collected() {
    let text = r#"version = 1
[gate]
protected = ["refs/heads/[main"]
[[person]]
name = "A"
emails = ["a@example.com"]
[[person]]
name = "B"
emails = ["A@example.com ", "not-an-email"]
[[rule]]
name = "r"
from_role = "senior"
since = 2026-07-01
until = 2026-06-15
"#;
    let shown = problems(text);
    for expected in [
        "policy.toml:3:14: error[bad-glob]",
        "policy.toml:9:11: error[duplicate-email]: a@example.com is claimed by both `A` and `B`",
        "policy.toml:9:29: error[bad-email]",
        "policy.toml:12:13: error[unknown-role]",
        "policy.toml:13:9: error[empty-window]",
    ] {
        assert!(shown.contains(expected), "missing {expected} in:\n{shown}");
    }
}

#[test]
fn rule_needing_more_holders_than_exist_is_unsatisfiable() {
    let text = "version = 1\n[[person]]\nname = \"S\"\nemails = [\"s@x.io\"]\nroles = [\"senior\"]\n\
                [[rule]]\nname = \"r\"\nrequire = 2\nfrom_role = \"senior\"\n";
    assert!(problems(text).contains("error[unsatisfiable-rule]"));
}

#[test]
fn dates_must_be_plain_dates() {
    let text = "version = 1\n[[rule]]\nname = \"r\"\nsince = 2026-01-01T10:00:00Z\n";
    assert!(problems(text).contains("policy.toml:4:9: error[bad-date]"));
}

#[test]
fn duplicate_rule_names_are_errors() {
    let shown = problems("version = 1\n[[rule]]\nname = \"r\"\n[[rule]]\nname = \"r\"\n");
    assert!(shown.contains("policy.toml:5:8: error[duplicate-rule]"), "{shown}");
}

#[test]
fn approval_keys_must_be_trailer_keys() {
    let shown = problems("version = 1\n[approvals]\ntrailers = [\"Reviewed by\"]\n");
    assert!(shown.contains("policy.toml:3:13: error[bad-trailer-key]"), "{shown}");
}

#[test]
fn expired_and_future_rules_are_warnings_not_errors() {
    let text = "version = 1\n[[rule]]\nname = \"old\"\nuntil = 2026-05-31\n[[rule]]\nname = \"new\"\nsince = 2026-06-02\n";
    let policy = parse(text).unwrap();
    let codes: Vec<_> = policy.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, ["rule-expired", "rule-not-yet-active"]);
    assert!(!policy.rules[0].is_active(today()));
    assert!(!policy.rules[1].is_active(today()));
}

#[test]
fn an_expired_rule_no_one_can_meet_is_a_warning() {
    let text =
        "version = 1\n[[rule]]\nname = \"freeze\"\nfrom_role = \"release-manager\"\nuntil = 2026-05-31\n";
    let policy = parse(text).unwrap();
    let codes: Vec<_> = policy.warnings.iter().map(|w| w.code).collect();
    assert_eq!(codes, ["unknown-role", "rule-expired"]);
    // The same rule still in force refuses the policy.
    let shown = problems(&text.replace("until = 2026-05-31", "until = 2026-06-30"));
    assert!(shown.contains("error[unknown-role]"), "{shown}");
}

#[test]
fn window_bounds_are_inclusive() {
    let text = "version = 1\n[[rule]]\nname = \"r\"\nsince = 2026-06-01\nuntil = 2026-06-01\n";
    let policy = parse(text).unwrap();
    let rule = &policy.rules[0];
    assert!(rule.is_active(today()));
    assert!(!rule.is_active(Date::new(2026, 6, 2).unwrap()));
    assert!(!rule.is_active(Date::new(2026, 5, 31).unwrap()));
}

#[test]
fn gate_warn_mode_makes_every_rule_warn() {
    let policy =
        parse("version = 1\n[gate]\nmode = \"warn\"\n[[rule]]\nname = \"r\"\nmode = \"enforce\"\n").unwrap();
    assert_eq!(policy.rules[0].mode, Mode::Warn);
}

#[test]
fn policy_hash_is_sha256_of_the_bytes() {
    let source = PolicySource::new("p", "");
    assert_eq!(source.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

#[test]
fn schema_errors_in_different_sections_and_entries_are_all_reported() {
    let text = "version = 1\n[gate]\nprotect = []\n[[person]]\nname = 3\nemails = []\n\
                [[rule]]\nname = \"ok\"\n[[rule]]\nname = \"r\"\nrequir = 2\n[extra]\n";
    let shown = problems(text);
    for expected in [
        "policy.toml:3:1: error[invalid-toml]: unknown field `protect`",
        "policy.toml:5:8: error[invalid-toml]: invalid type: integer `3`, expected a string",
        "policy.toml:11:1: error[invalid-toml]: unknown field `requir`",
        "policy.toml:12:2: error[invalid-toml]: unknown field `extra`",
    ] {
        assert!(shown.contains(expected), "missing {expected} in:\n{shown}");
    }
}

#[test]
fn every_syntax_error_is_reported() {
    let shown = problems("version = 1\nname = \"unterminated\n[gate\nmode = = 1\n");
    assert!(shown.matches("error[invalid-toml]").count() >= 2, "{shown}");
    assert!(shown.contains("policy.toml:2:"), "{shown}");
}

#[test]
fn missing_version_is_an_error() {
    assert!(problems("[gate]\nmode = \"warn\"\n").contains("missing field `version`"));
}

#[test]
fn baseline_takes_full_commit_ids_only() {
    let full = "0123456789abcdef0123456789ABCDEF01234567";
    let policy = parse(&format!("version = 1\n[gate]\nbaseline = [\"{full}\"]\n")).unwrap();
    assert_eq!(policy.gate.baseline, [full.to_ascii_lowercase()]);
    let shown = problems("version = 1\n[gate]\nbaseline = [\"0123abc\"]\n");
    assert!(shown.contains("policy.toml:3:13: error[bad-commit-id]"), "{shown}");
}

#[test]
fn a_garbage_file_shows_a_bounded_list_of_findings() {
    let text = format!("version = 1\n{}", "= =\n".repeat(2_000));
    let shown = problems(&text);
    assert_eq!(shown.matches("error[invalid-toml]").count(), FINDINGS_SHOWN, "{}", &shown[..300]);
    assert!(shown.contains("more finding(s)"), "{}", &shown[shown.len() - 200..]);
}

#[test]
fn a_role_listed_twice_is_held_once() {
    let text = "version = 1\n[[person]]\nname = \"a\"\nemails = [\"a@x.io\"]\nroles = [\"senior\", \"senior\"]\n\
                [[rule]]\nname = \"r\"\nrequire = 2\nfrom_role = \"senior\"\n";
    assert!(problems(text).contains("error[unsatisfiable-rule]"));
}

const ED25519: &str =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c alice@laptop";

#[test]
fn keys_parse_and_signatures_default_off_with_rule_override() {
    let policy = parse(&format!(
        "version = 1\n[approvals]\nsignatures = \"optional\"\n[[person]]\nname = \"A\"\nemails = [\"a@x.io\"]\n\
         roles = [\"senior\"]\nkeys = [\"{ED25519}\"]\n[[rule]]\nname = \"any\"\n[[rule]]\nname = \"senior\"\n\
         from_role = \"senior\"\nsignatures = \"required\"\n"
    ))
    .unwrap();
    assert_eq!(policy.people[0].keys.len(), 1);
    assert_eq!(policy.rules[0].signatures, Signatures::Optional);
    assert_eq!(policy.rules[1].signatures, Signatures::Required);
    assert!(policy.needs_patch_ids(today()));
    assert!(!parse(MINIMAL).unwrap().needs_patch_ids(today()));
}

#[test]
fn bad_and_shared_keys_are_errors_at_their_position() {
    let shown = problems(&format!(
        "version = 1\n[[person]]\nname = \"A\"\nemails = [\"a@x.io\"]\nkeys = [\"ssh-ed25519 AAAAnope\", \"{ED25519}\"]\n\
         [[person]]\nname = \"B\"\nemails = [\"b@x.io\"]\nkeys = [\"{ED25519}\"]\n"
    ));
    assert!(shown.contains("policy.toml:5:9: error[bad-key]: not an OpenSSH public key"), "{shown}");
    assert!(
        shown.contains("policy.toml:9:9: error[duplicate-key]: this key is listed for both `A` and `B`"),
        "{shown}"
    );
}

#[test]
fn required_signatures_nobody_can_give_are_an_error() {
    let shown = problems(
        "version = 1\n[[person]]\nname = \"A\"\nemails = [\"a@x.io\"]\nroles = [\"senior\"]\n\
         [[rule]]\nname = \"senior\"\nfrom_role = \"senior\"\nsignatures = \"required\"\n",
    );
    assert!(
        shown.contains(
            "error[unsatisfiable-rule]: rule `senior` needs 1 signed approvals from role `senior`, but only 0"
        ),
        "{shown}"
    );
    let shown = problems("version = 1\n[approvals]\nsignatures = \"required\"\n[[rule]]\nname = \"any\"\n");
    assert!(shown.contains("policy.toml:5:8: error[unsatisfiable-rule]"), "{shown}");
    assert!(problems("version = 1\n[approvals]\nsignatures = \"maybe\"\n").contains("policy.toml:3:14:"));
}

#[test]
fn signed_commits_required_needs_someone_with_keys() {
    let shown = problems("version = 1\n[gate]\nsigned_commits = \"required\"\n");
    assert!(
        shown.contains("policy.toml:3:18: error[unsatisfiable-gate]: `signed_commits = \"required\"`"),
        "{shown}"
    );
    let policy = parse(&format!(
        "version = 1\n[gate]\nsigned_commits = \"required\"\n[[person]]\nname = \"A\"\nemails = [\"a@x.io\"]\n\
         keys = [\"{ED25519}\"]\n"
    ))
    .unwrap();
    assert!(policy.needs_git_signatures());
    assert!(!parse("version = 1\n").unwrap().needs_git_signatures(), "off by default");
    assert!(problems("version = 1\n[gate]\nsigned_commits = \"yes\"\n").contains("policy.toml:3:18:"));
}

const BREAK_GLASS: &str = r#"version = 1
[[person]]
name = "Dana Director"
emails = ["dana@example.com"]
logins = ["dana"]
roles = ["director"]
[[rule]]
name = "two-person review"
"#;

#[test]
fn audit_override_and_logins_are_read() {
    let text = format!(
        "{BREAK_GLASS}[audit]\npath = \"/var/log/countersign/audit.jsonl\"\nrequired = false\n\
         [override]\nroles = [\"director\"]\nrules = [\"two-person review\"]\nmin_reason = 4\n\
         pusher_env = [\"MY_FORGE_USER\"]\n"
    );
    let policy = parse(&text).unwrap();
    let audit = policy.audit.as_ref().unwrap();
    assert_eq!((audit.path.as_str(), audit.required), ("/var/log/countersign/audit.jsonl", false));
    let dana = policy.person_by_login("dana").unwrap();
    assert!(policy.break_glass.may_override(dana) && policy.wants_push_options());
    assert!(policy.break_glass.covers("two-person review") && !policy.break_glass.covers("other"));
    assert_eq!(
        (policy.break_glass.min_reason, policy.pusher_env.as_slice()),
        (4, &["MY_FORGE_USER".to_string()][..])
    );
}

#[test]
fn without_override_nobody_may_and_the_server_variables_are_the_defaults() {
    let policy = parse(BREAK_GLASS).unwrap();
    assert!(!policy.wants_push_options());
    assert!(!policy.break_glass.may_override(&policy.people[0]));
    assert_eq!(policy.pusher_env, DEFAULT_PUSHER_ENV);
    assert!(policy.audit.is_none());
}

#[test]
fn override_names_must_exist_each_at_its_line_and_column() {
    let shown = problems(&format!(
        "{BREAK_GLASS}[override]\npeople = [\"Dana Directr\"]\nroles = [\"cto\"]\nrules = [\"two person\"]\n\
         min_reason = 0\npusher_env = [\"GL-USER\"]\n"
    ));
    for expected in [
        "policy.toml:10:11: error[unknown-person]: no `[[person]]` is named `Dana Directr`",
        "policy.toml:11:10: error[unknown-role]: no person holds role `cto`",
        "policy.toml:12:10: error[unknown-rule]: no `[[rule]]` is named `two person`",
        "policy.toml:13:14: error[bad-min-reason]",
        "policy.toml:14:15: error[bad-env-name]: `GL-USER` is not an environment variable name",
    ] {
        assert!(shown.contains(expected), "missing {expected:?} in:\n{shown}");
    }
}

#[test]
fn a_login_listed_twice_or_a_relative_audit_path_is_an_error() {
    let shown = problems(&format!(
        "{BREAK_GLASS}[[person]]\nname = \"Eve\"\nemails = [\"eve@example.com\"]\nlogins = [\"dana\", \"a b\"]\n\
         [audit]\npath = \"audit.jsonl\"\nmaximum = 3\n"
    ));
    assert!(
        shown.contains("policy.toml:12:11: error[duplicate-login]: login `dana` is listed for both"),
        "{shown}"
    );
    assert!(shown.contains("policy.toml:12:19: error[bad-login]"), "{shown}");
    assert!(shown.contains("unknown field `maximum`"), "{shown}");
    let shown = problems(&format!("{BREAK_GLASS}[audit]\npath = \"audit.jsonl\"\n"));
    assert!(shown.contains("policy.toml:10:8: error[bad-audit-path]: `path` must be absolute"), "{shown}");
}

#[test]
fn limits_default_to_generous_and_take_whole_commits_and_fractional_seconds() {
    let policy = parse(MINIMAL).unwrap();
    assert_eq!((policy.gate.max_commits, policy.gate.max_seconds), (100_000, 60.0));
    let policy = parse("version = 1\n[gate]\nmax_commits = 500\nmax_seconds = 4.5\n").unwrap();
    assert_eq!((policy.gate.max_commits, policy.gate.max_seconds), (500, 4.5));
    assert_eq!(parse("version = 1\n[gate]\nmax_seconds = 4\n").unwrap().gate.max_seconds, 4.0);
}

#[test]
fn limits_below_one_commit_or_at_zero_seconds_are_errors_at_their_value() {
    let text = "version = 1\n[gate]\nmax_commits = 0\nmax_seconds = -1\n";
    let problems = problems(text);
    assert!(problems.contains("policy.toml:3:15"), "{problems}");
    assert!(problems.contains("`max_commits` must be a whole number of at least 1"), "{problems}");
    assert!(problems.contains("policy.toml:4:15"), "{problems}");
    assert!(problems.contains("`max_seconds` must be a number of seconds above 0"), "{problems}");
}

#[test]
fn gate_help_is_one_short_line() {
    let bad = "version = 1\n[gate]\nhelp = \"line one\\nline two\"\n";
    let shown = problems(bad);
    assert!(shown.contains("policy.toml:3:8: error[bad-help]"), "{shown}");
    let good = parse("version = 1\n[gate]\nhelp = \"ask #release-eng\"\n").unwrap();
    assert_eq!(good.gate.help.as_deref(), Some("ask #release-eng"));
}

#[test]
fn a_date_written_wrong_is_told_the_one_way_to_write_it() {
    for (written, found) in [
        ("\"2026/01/01\"", "found \"2026/01/01\""),
        ("\"2026-01-01\"", "found \"2026-01-01\""),
        ("2026-01-01T10:00:00", "found 2026-01-01T10:00:00"),
    ] {
        let shown = problems(&format!("version = 1\n[[rule]]\nname = \"r\"\nsince = {written}\n"));
        let expected = format!(
            "policy.toml:4:9: error[bad-date]: `since` must be a date written as since = 2026-03-10 \
             (year-month-day, no quotes, no time), {found}"
        );
        assert!(shown.contains(&expected), "{shown}");
    }
}

#[test]
fn notes_refs_default_to_git_ai_and_qwen_and_must_be_notes_refs() {
    let policy = parse("version = 1\n").unwrap();
    assert_eq!(policy.provenance.notes, ["refs/notes/ai", "refs/notes/ai-attribution"]);
    let policy = parse("version = 1\n[provenance]\nnotes = [\"refs/notes/whogitit\"]\n").unwrap();
    assert_eq!(policy.provenance.notes, ["refs/notes/whogitit"]);
    for bad in ["refs/heads/main", "refs/notes/", "refs/notes/a..b", "refs/notes/x y", "refs/notes/x.lock"] {
        let shown = problems(&format!("version = 1\n[provenance]\nnotes = [\"{bad}\"]\n"));
        assert!(shown.contains("policy.toml:3:10: error[bad-notes-ref]"), "{bad}: {shown}");
    }
}
